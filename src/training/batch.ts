/**
 * From scored trajectory groups to training rows and per-token loss weights.
 *
 * A multi-turn episode has several assistant turns, each sampled from its own prompt (the agent's
 * memory window, tool results, …). We train on exactly what was sampled: one row per assistant turn,
 * `promptTokenIds ++ tokenIds`, with loss on the sampled tokens only (system, user and tool tokens
 * never carry loss). Rows of one trajectory share that trajectory's advantage.
 *
 * Every loss type's normalisation is linear in the per-token losses, so it becomes a weight per token
 * computed once for the whole step ({@link tokenWeights}). The loss of any micro-batch is then
 * `Σ weight · perTokenLoss`, and summing micro-batches gives exactly the full-batch loss.
 */
import { GrpoError } from "../core/errors.js";
import type { TrajectoryGroup } from "../core/trajectory.js";
import type { LossType } from "./config.js";

/** One assistant turn ready for the loss. */
export interface TrainingRow {
  /** Index of the trajectory (sequence) this row belongs to, across the whole step. */
  sequence: number;
  /** The prompt the sampler saw. */
  promptIds: number[];
  /** The sampled completion tokens. */
  completionIds: number[];
  /** Sampling-time log-probs of `completionIds`. */
  samplingLogprobs: number[];
  /** The trajectory's advantage. */
  advantage: number;
  /** True when the completion hit maxNewTokens. */
  truncated: boolean;
}


/**
 * Builds one row per sampled assistant turn. `advantages[g][i]` belongs to trajectory i of group g.
 * Turns without sampled tokens (e.g. scripted or remote) are skipped.
 */
export function buildRows(groups: readonly TrajectoryGroup[], advantages: readonly number[][]): TrainingRow[] {
  const rows: TrainingRow[] = [];
  let sequence = 0;
  groups.forEach((group, g) => {
    group.trajectories.forEach((trajectory, i) => {
      for (const turn of trajectory.turns) {
        const gen = turn.role === "assistant" ? turn.generation : undefined;
        if (!gen || gen.tokenIds.length === 0) continue;
        if (gen.logprobs.length !== gen.tokenIds.length) {
          throw new GrpoError("invalid_argument", "A sampled turn has a different number of log-probs than tokens.", {
            field: `trajectory ${trajectory.id} turn.generation.logprobs`,
            value: gen.logprobs.length,
            expected: `${gen.tokenIds.length} (one per token)`,
          });
        }
        rows.push({
          sequence,
          promptIds: gen.promptTokenIds,
          completionIds: gen.tokenIds,
          samplingLogprobs: gen.logprobs,
          advantage: advantages[g][i],
          truncated: gen.finishReason === "length",
        });
      }
      sequence += 1;
    });
  });
  return rows;
}

/** Options of {@link tokenWeights}. */
export interface TokenWeightOptions {
  lossType: LossType;
  /** Number of sequences (trajectories) in the step, including those without rows. */
  numSequences: number;
  /** dr_grpo's constant denominator per sequence (maxNewTokens × max assistant turns). */
  maxCompletionLength: number;
  /** Rows whose completion was truncated carry no loss (TRL's `mask_truncated_completions`). */
  maskTruncated: boolean;
}

/**
 * The weight of each completion token of each row, such that the step's loss is
 * `Σ_rows Σ_tokens weight · perTokenLoss`:
 * - grpo: `1 / (numSequences · tokens(sequence))` — a mean over sequences of per-sequence token means;
 * - bnpo, dapo: `1 / tokens(step)` — a token mean over the whole (accumulated) batch;
 * - dr_grpo: `1 / (numSequences · maxCompletionLength)` — a constant, free of length bias.
 * Sequences with no active tokens contribute nothing (never NaN).
 */
export function tokenWeights(rows: readonly TrainingRow[], options: TokenWeightOptions): number[][] {
  const active = rows.map((r) => (options.maskTruncated && r.truncated ? 0 : r.completionIds.length));
  const perSequence = new Map<number, number>();
  rows.forEach((r, i) => perSequence.set(r.sequence, (perSequence.get(r.sequence) ?? 0) + active[i]));
  const total = active.reduce((a, b) => a + b, 0);
  const S = Math.max(1, options.numSequences);
  return rows.map((r, i) => {
    let w = 0;
    if (active[i] > 0) {
      switch (options.lossType) {
        case "grpo":
          w = 1 / (S * (perSequence.get(r.sequence) as number));
          break;
        case "bnpo":
        case "dapo":
          w = 1 / total;
          break;
        case "dr_grpo":
          w = 1 / (S * options.maxCompletionLength);
          break;
      }
    }
    return new Array<number>(r.completionIds.length).fill(w);
  });
}

/**
 * Splits rows into at most `parts` micro-batches of similar token counts, never splitting a sequence
 * (GSPO's sequence-level ratio needs all of a sequence's tokens together). Returns row indices.
 */
export function microBatches(rows: readonly TrainingRow[], parts: number): number[][] {
  const bySequence = new Map<number, number[]>();
  rows.forEach((r, i) => {
    const list = bySequence.get(r.sequence) ?? [];
    list.push(i);
    bySequence.set(r.sequence, list);
  });
  const sequences = [...bySequence.values()];
  const n = Math.max(1, Math.min(parts, sequences.length));
  const tokens = (idx: number[]) => idx.reduce((a, i) => a + rows[i].promptIds.length + rows[i].completionIds.length, 0);
  const total = sequences.reduce((a, s) => a + tokens(s), 0);
  const target = total / n;
  const batches: number[][] = [[]];
  let filled = 0;
  for (const seq of sequences) {
    const current = batches[batches.length - 1];
    if (current.length > 0 && filled >= target && batches.length < n) {
      batches.push([...seq]);
      filled = tokens(seq);
    } else {
      current.push(...seq);
      filled += tokens(seq);
    }
  }
  return batches.filter((b) => b.length > 0);
}

/** A padded micro-batch as flat arrays, ready to become tensors. */
export interface PaddedBatch {
  /** Rows in the batch (B) and padded length (T = longest prompt+completion − 1). */
  B: number;
  T: number;
  /** [B·T] input ids (right-padded with 0). */
  inputIds: Int32Array;
  /** [B·T] next-token targets. */
  targetIds: Int32Array;
  /** [B·T] 1 on real (non-padding) input positions. */
  attentionMask: Float32Array;
  /** [B·T] 1 where the target is a completion token that carries loss. */
  completionMask: Float32Array;
  /** [B·T] the loss weight of each target position (0 off the completion). */
  weights: Float32Array;
  /** [B·T] sampling log-probs at completion positions (0 elsewhere). */
  samplingLogprobs: Float32Array;
  /** [B] advantages. */
  advantages: Float32Array;
  /** [B] the sequence index of each row, renumbered 0..S'-1 within the batch. */
  sequenceOfRow: Int32Array;
  /** Number of distinct sequences in the batch (S'). */
  numSequences: number;
}

/**
 * Right-pads the chosen rows into flat arrays. Position t predicts token t+1: a completion token at
 * position p of the full sequence is the target of input position p−1.
 */
export function padRows(rows: readonly TrainingRow[], weights: readonly number[][], indices: readonly number[]): PaddedBatch {
  const B = indices.length;
  const T = Math.max(1, ...indices.map((i) => rows[i].promptIds.length + rows[i].completionIds.length - 1));
  const inputIds = new Int32Array(B * T);
  const targetIds = new Int32Array(B * T);
  const attentionMask = new Float32Array(B * T);
  const completionMask = new Float32Array(B * T);
  const w = new Float32Array(B * T);
  const samplingLogprobs = new Float32Array(B * T);
  const advantages = new Float32Array(B);
  const sequenceOfRow = new Int32Array(B);
  const renumber = new Map<number, number>();
  indices.forEach((rowIndex, b) => {
    const row = rows[rowIndex];
    const full = [...row.promptIds, ...row.completionIds];
    for (let t = 0; t < full.length - 1; t++) {
      inputIds[b * T + t] = full[t];
      targetIds[b * T + t] = full[t + 1];
      attentionMask[b * T + t] = 1;
    }
    const start = row.promptIds.length - 1; // input position whose target is the first completion token
    row.completionIds.forEach((_, k) => {
      const pos = b * T + start + k;
      const weight = weights[rowIndex][k];
      completionMask[pos] = weight > 0 ? 1 : 0;
      w[pos] = weight;
      samplingLogprobs[pos] = row.samplingLogprobs[k];
    });
    advantages[b] = row.advantage;
    if (!renumber.has(row.sequence)) renumber.set(row.sequence, renumber.size);
    sequenceOfRow[b] = renumber.get(row.sequence) as number;
  });
  return { B, T, inputIds, targetIds, attentionMask, completionMask, weights: w, samplingLogprobs, advantages, sequenceOfRow, numSequences: renumber.size };
}
