/**
 * The gradient of one GRPO optimisation pass over a set of padded micro-batches, on one model.
 *
 * GRPOTrainer runs one {@link PassGradients} over all micro-batches of a step; each worker of the
 * DistributedTrainer runs one over its shard. The per-token weights of a batch already carry the
 * loss type's normalisation over the whole step (see `batch.ts`), so the sum of the shards'
 * gradients is the gradient of the whole step, whatever the split.
 *
 * Shapes: B rows, T positions, V vocabulary, S' sequences in a batch.
 */
import * as tf from "@tensorflow/tfjs";
import { throwIfAborted } from "../core/errors.js";
import { targetLogSoftmax } from "../model/ops.js";
import type { Transformer } from "../model/transformer.js";
import type { PaddedBatch } from "./batch.js";
import type { GRPOConfig } from "./config.js";
import { rowsPerTokenLoss, stopGradient } from "./grpo.js";

/** The loss knobs a pass needs (plain data: it is sent to workers). */
export type PassLossOptions = Pick<GRPOConfig, "epsilon" | "epsilonHigh" | "beta" | "importanceSamplingLevel" | "numIterations">;

/** Sums over the completion tokens of a pass (divide by `tokens` for means). */
export interface PassSums {
  /** Σ over batches of the weighted loss (the step's loss: the weights normalise it). */
  loss: number;
  kl: number;
  clipLow: number;
  clipHigh: number;
  entropy: number;
  /** Completion tokens that carry loss. */
  tokens: number;
}

/** Adds `b` into `a`, field by field. */
export function addSums(a: PassSums, b: PassSums): PassSums {
  return {
    loss: a.loss + b.loss, kl: a.kl + b.kl, clipLow: a.clipLow + b.clipLow, clipHigh: a.clipHigh + b.clipHigh,
    entropy: a.entropy + b.entropy, tokens: a.tokens + b.tokens,
  };
}

/** Zero sums. */
export function emptySums(): PassSums {
  return { loss: 0, kl: 0, clipLow: 0, clipHigh: 0, entropy: 0, tokens: 0 };
}

type BatchTensors = ReturnType<typeof batchTensors>;

function batchTensors(b: PaddedBatch) {
  return {
    inputIds: tf.tensor2d(b.inputIds, [b.B, b.T], "int32"),
    targetIds: tf.tensor2d(b.targetIds, [b.B, b.T], "int32"),
    attentionMask: tf.tensor2d(b.attentionMask, [b.B, b.T]),
    mask: tf.tensor2d(b.completionMask, [b.B, b.T]),
    weights: tf.tensor2d(b.weights, [b.B, b.T]),
    advantages: tf.tensor1d(b.advantages),
    // [S', B]: 1 where row b belongs to sequence s (sums rows into sequences for GSPO).
    rowsToSequences: tf.tensor2d(
      Float32Array.from({ length: b.numSequences * b.B }, (_, i) => (b.sequenceOfRow[i % b.B] === Math.floor(i / b.B) ? 1 : 0)),
      [b.numSequences, b.B]),
  };
}

/**
 * The gradients of one step's micro-batches on one model: `prepare()` computes the fixed inputs
 * (old log-probs when μ > 1, reference log-probs when β > 0), then each `pass()` returns the summed
 * gradient of every batch under the current weights. `release()` frees the fixed inputs.
 */
export class PassGradients {
  private oldLogprobs?: tf.Tensor2D[];
  private refLogprobs?: tf.Tensor2D[];

  constructor(
    private readonly model: Transformer,
    private readonly batches: PaddedBatch[],
    private readonly options: PassLossOptions,
    private readonly temperature: number,
    private readonly reference?: Record<string, tf.Tensor>,
  ) {}

  /** Computes the per-step fixed inputs. */
  prepare(): void {
    this.oldLogprobs = this.options.numIterations > 1
      ? this.batches.map((b) => tf.tidy(() => this.logprobs(b).logp))
      : undefined;
    const reference = this.reference;
    this.refLogprobs = reference
      ? this.batches.map((b) => tf.tidy(() => this.logprobsWith(reference, b)))
      : undefined;
  }

  /**
   * The summed gradient (by parameter name) of all batches and their sums. The caller owns (and
   * disposes) the returned tensors. Yields to the event loop between batches.
   */
  async pass(signal?: AbortSignal): Promise<{ grads: Record<string, tf.Tensor>; sums: PassSums }> {
    let accumulated: Record<string, tf.Tensor> | undefined;
    let sums = emptySums();
    try {
      for (const [k, batch] of this.batches.entries()) {
        throwIfAborted(signal, "The optimisation pass");
        const tensors = batchTensors(batch);
        const kept: tf.Tensor[] = [];
        const { value, grads } = tf.variableGrads(() => {
          const { logp, entropy: ent } = this.logprobs(batch, tensors);
          const old = this.oldLogprobs ? this.oldLogprobs[k] : stopGradient(logp);
          const out = rowsPerTokenLoss(
            { logprobs: logp, oldLogprobs: old, refLogprobs: this.refLogprobs?.[k], advantages: tensors.advantages, mask: tensors.mask, rowsToSequences: tensors.rowsToSequences },
            this.options,
          );
          kept.push(tf.keep(tf.sum(tf.mul(out.kl, tensors.mask))), tf.keep(tf.sum(tf.mul(out.clippedLow, tensors.mask))),
            tf.keep(tf.sum(tf.mul(out.clippedHigh, tensors.mask))), tf.keep(tf.sum(tf.mul(ent, tensors.mask))));
          return tf.sum(tf.mul(out.perToken, tensors.weights)) as tf.Scalar;
        }, Object.values(this.model.params));
        const loss = (await value.data())[0];
        const [kl, clipLow, clipHigh, entropy] = await Promise.all(kept.map(async (t) => (await t.data())[0]));
        const tokens = batch.completionMask.reduce((a, b) => a + b, 0);
        sums = addSums(sums, { loss, kl, clipLow, clipHigh, entropy, tokens });
        tf.dispose([value, ...kept, ...Object.values(tensors)]);
        const named = this.nameGrads(grads);
        if (!accumulated) accumulated = named;
        else {
          const sum = tf.tidy(() => Object.fromEntries(Object.entries(accumulated as Record<string, tf.Tensor>)
            .map(([n, g]) => [n, tf.add(g, named[n])])));
          tf.dispose([...Object.values(accumulated), ...Object.values(named)]);
          accumulated = sum;
        }
        await new Promise<void>((resolve) => setImmediate(resolve)); // let interrupts and I/O through
      }
    } catch (error) {
      tf.dispose(Object.values(accumulated ?? {}));
      throw error;
    }
    // A shard with no batch contributes a zero gradient.
    const grads = accumulated ?? tf.tidy(() => Object.fromEntries(Object.entries(this.model.params).map(([n, v]) => [n, tf.zerosLike(v)])));
    return { grads, sums };
  }

  /** Frees the fixed inputs. */
  release(): void {
    tf.dispose([...(this.oldLogprobs ?? []), ...(this.refLogprobs ?? [])]);
    this.oldLogprobs = undefined;
    this.refLogprobs = undefined;
  }

  private nameGrads(grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
    const byVar = new Map(Object.entries(this.model.params).map(([name, v]) => [v.name, name]));
    const out: Record<string, tf.Tensor> = {};
    for (const [varName, g] of Object.entries(grads)) out[byVar.get(varName) ?? varName] = g;
    return out;
  }

  /** Per-token log-probs [B,T] of the targets at the loss temperature, and per-token entropy [B,T]. */
  private logprobs(b: PaddedBatch, given?: BatchTensors) {
    return tf.tidy(() => {
      const t = given ?? batchTensors(b);
      const logits = this.model.forward(t.inputIds, { attentionMask: t.attentionMask }); // [B,T,V]
      const V = logits.shape[2];
      const scaled = tf.div(tf.reshape(logits, [b.B * b.T, V]), this.temperature) as tf.Tensor2D; // [B·T, V]
      const logp = tf.reshape(targetLogSoftmax(scaled, tf.reshape(t.targetIds, [b.B * b.T]) as tf.Tensor1D), [b.B, b.T]) as tf.Tensor2D;
      const logSoftmax = tf.logSoftmax(stopGradient(scaled)); // entropy is a metric: no gradient
      const entropy = tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(logSoftmax), logSoftmax), 1)), [b.B, b.T]);
      if (!given) tf.dispose(Object.values(t));
      return { logp, entropy };
    });
  }

  /** Log-probs under other weights (the frozen reference model). */
  private logprobsWith(weights: Record<string, tf.Tensor>, b: PaddedBatch): tf.Tensor2D {
    return tf.tidy(() => {
      const t = batchTensors(b);
      const logits = this.model.forwardWith(weights, t.inputIds, { attentionMask: t.attentionMask });
      const V = logits.shape[2];
      const scaled = tf.div(tf.reshape(logits, [b.B * b.T, V]), this.temperature) as tf.Tensor2D;
      return tf.reshape(targetLogSoftmax(scaled, tf.reshape(t.targetIds, [b.B * b.T]) as tf.Tensor1D), [b.B, b.T]) as tf.Tensor2D;
    });
  }
}
