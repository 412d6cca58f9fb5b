/**
 * The pretraining data path: the corpus split, conversations as token sequences, and the packed
 * rows the model trains on.
 *
 * Rows are conversation-aligned (see {@link RowPacker}): a row starts where a conversation starts
 * (or where a long conversation's previous window stopped), so position 0 of a row looks like
 * position 0 of every prompt the policy will see at inference (`<|im_start|>system…`). The rest of
 * the row is filled with whole conversations that fit, separated by `<|endoftext|>`, then padded.
 *
 * Legend: T positions per row (at most the model's nPositions; see the sequence-length schedule in
 * scripts/pretrain.ts), B rows per batch.
 */
import type { Rng } from "../../src/core/rng.js";
import type { ChatTokenizer } from "../../src/model/tokenizer.js";
import { renderForPretraining, type CorpusConversation, type Domain } from "../corpus/generate.js";

/** Conversation `i` is held out when `i % HELD_OUT_EVERY === HELD_OUT_EVERY - 1`: 2% of the corpus. */
export const HELD_OUT_EVERY = 50;

/** Whether conversation `index` of the corpus belongs to the held-out split (never trained on). */
export function isHeldOut(index: number, every: number = HELD_OUT_EVERY): boolean {
  return index % every === every - 1;
}

/** The first `count` held-out conversation indices (49, 99, 149, … for the default split). */
export function heldOutIndices(count: number, every: number = HELD_OUT_EVERY): number[] {
  return Array.from({ length: count }, (_, k) => (k + 1) * every - 1);
}

/**
 * One conversation as the token ids the model reads: its ChatML text (special tokens as their ids)
 * followed by `<|endoftext|>`, the document separator the model learns to emit after a conversation.
 */
export function conversationTokens(tokenizer: ChatTokenizer, conversation: Pick<CorpusConversation, "messages">, endOfTextId: number): number[] {
  const ids = tokenizer.encode(renderForPretraining(conversation), { allowSpecialTokens: true });
  ids.push(endOfTextId);
  return ids;
}

/**
 * Cuts a token sequence into windows of at most `rowTokens` (= T + 1) tokens. Consecutive windows
 * share one token (window k starts at k·T), so every token but the very first is a prediction
 * target exactly once, and each window after the first starts mid-conversation at position 0 —
 * as a long history does at inference, where the prompt is truncated from the left.
 */
export function windowsOf(sequence: readonly number[], rowTokens: number): number[][] {
  const stride = rowTokens - 1;
  if (sequence.length <= rowTokens) return [sequence.slice()];
  const out: number[][] = [];
  for (let start = 0; start + 1 < sequence.length; start += stride) out.push(sequence.slice(start, start + rowTokens));
  return out;
}

/** A piece of a row: a whole short conversation, or one window of a long one. */
interface Piece {
  tokens: number[];
  /** A continuation window: only placed at the start of a row (position 0). */
  startsRow: boolean;
}

/** Counts of what a {@link RowPacker} produced. */
export interface PackingStats {
  /** Rows produced. */
  rows: number;
  /** Real tokens in those rows (pads excluded). */
  tokens: number;
  /** Padding slots (Σ over rows of rowTokens − tokens). */
  padding: number;
  /** Conversations consumed. */
  conversations: number;
  /** Completed passes over the training conversations. */
  epochs: number;
}

/**
 * Streams rows of at most `rowTokens` tokens from the training conversations, in a seeded shuffled
 * order (reshuffled after each pass). Best-fit filling: a row starts with the oldest pending piece,
 * then takes the largest pending piece that still fits (ties to the oldest) until none fits; a
 * window of `poolSize` pending pieces keeps padding low (a few percent) while the order stays close
 * to the shuffle. Deterministic for a given rng state.
 */
export class RowPacker {
  private readonly pool: Piece[] = [];
  private order: number[] = [];
  private cursor = 0;
  private longestRow = 0;
  private readonly counts: PackingStats = { rows: 0, tokens: 0, padding: 0, conversations: 0, epochs: 0 };

  /**
   * @param trainCount - number of training conversations (indices 0 … trainCount − 1 of `tokensOf`)
   * @param tokensOf - the token sequence of training conversation `i` (called once per use)
   * @param rng - shuffles the conversation order
   * @param poolSize - pending pieces considered when filling a row (default 64)
   */
  constructor(
    private readonly trainCount: number,
    private readonly tokensOf: (i: number) => number[],
    private readonly rng: Rng,
    private readonly poolSize = 64,
  ) {
    if (trainCount < 1) throw new Error("RowPacker needs at least one training conversation.");
  }

  /** What has been produced so far. */
  get stats(): PackingStats {
    return { ...this.counts };
  }

  private nextConversation(): number {
    if (this.cursor >= this.order.length) {
      if (this.order.length > 0) this.counts.epochs++;
      this.order = this.rng.shuffle([...Array(this.trainCount).keys()]);
      this.cursor = 0;
    }
    this.counts.conversations++;
    return this.order[this.cursor++];
  }

  private refill(rowTokens: number): void {
    while (this.pool.length < this.poolSize) {
      const windows = windowsOf(this.tokensOf(this.nextConversation()), rowTokens);
      windows.forEach((tokens, k) => this.pool.push({ tokens, startsRow: k > 0 }));
    }
  }

  /**
   * The next row: between 2 and `rowTokens` (= T + 1) token ids. The row length may grow from one
   * call to the next (a sequence-length schedule): pieces already pending were cut for a shorter
   * row and still fit. It may not shrink.
   */
  nextRow(rowTokens: number): number[] {
    if (rowTokens < this.longestRow) throw new Error(`Rows may not shrink (from ${this.longestRow} to ${rowTokens} tokens).`);
    this.longestRow = rowTokens;
    this.refill(rowTokens);
    const row = (this.pool.shift() as Piece).tokens.slice();
    for (;;) {
      const room = rowTokens - row.length;
      let best = -1;
      for (let i = 0; i < this.pool.length; i++) {
        const piece = this.pool[i];
        if (piece.startsRow || piece.tokens.length > room) continue;
        if (best < 0 || piece.tokens.length > this.pool[best].tokens.length) best = i;
      }
      if (best < 0) break;
      row.push(...this.pool.splice(best, 1)[0].tokens);
    }
    this.counts.rows++;
    this.counts.tokens += row.length;
    this.counts.padding += rowTokens - row.length;
    return row;
  }
}

/** A batch ready for the model: B rows of T positions, right-padded. */
export interface TrainingBatch {
  /** Rows (B). */
  rows: number;
  /** Positions per row (T). */
  steps: number;
  /** int32 (B, T): the row's tokens 0 … T − 1, pads = `padId`. */
  inputIds: Int32Array;
  /** int32 (B, T): the row's tokens 1 … T (the next token at each position), pads = `padId`. */
  targetIds: Int32Array;
  /** int32 (B, T): 1 where the input is a real token. */
  attentionMask: Int32Array;
  /** float32 (B, T): 1 where the target is a real token (the positions the loss counts). */
  lossMask: Float32Array;
  /** Number of real targets (the sum of `lossMask`). */
  targetCount: number;
}

/**
 * Lays rows (each at most T + 1 tokens) out as one right-padded batch of T = `steps` positions.
 * `counted[b]`, when given, says which of row b's tokens the loss counts as targets (e.g. only the
 * repeats of an induction row); by default every real target counts.
 */
export function makeBatch(rows: readonly (readonly number[])[], steps: number, padId: number, counted?: readonly (readonly boolean[] | undefined)[]): TrainingBatch {
  const B = rows.length;
  const inputIds = new Int32Array(B * steps).fill(padId);
  const targetIds = new Int32Array(B * steps).fill(padId);
  const attentionMask = new Int32Array(B * steps);
  const lossMask = new Float32Array(B * steps);
  let targetCount = 0;
  rows.forEach((row, b) => {
    if (row.length > steps + 1) throw new Error(`Row ${b} has ${row.length} tokens; at most ${steps + 1} fit.`);
    const base = b * steps;
    const rowCounted = counted?.[b];
    if (rowCounted !== undefined && rowCounted.length !== row.length) throw new Error(`Row ${b} has ${row.length} tokens but ${rowCounted.length} loss flags.`);
    for (let t = 0; t + 1 < row.length; t++) {
      inputIds[base + t] = row[t];
      targetIds[base + t] = row[t + 1];
      attentionMask[base + t] = 1;
      if (rowCounted === undefined || rowCounted[t + 1]) {
        lossMask[base + t] = 1;
        targetCount++;
      }
    }
  });
  return { rows: B, steps, inputIds, targetIds, attentionMask, lossMask, targetCount };
}

/** A held-out conversation prepared for evaluation. */
export interface EvalConversation {
  domain: Domain;
  /** Its token sequence ({@link conversationTokens}). */
  tokens: number[];
}

/**
 * Splits a batch by rows into `parts` contiguous shards (the first ones one row longer when B is
 * not a multiple; never an empty shard, so fewer than `parts` when B < parts). Each shard keeps
 * its own target count; the shards' rows, in order, are the batch's.
 */
export function splitBatch(batch: TrainingBatch, parts: number): TrainingBatch[] {
  if (!Number.isInteger(parts) || parts < 1) throw new Error(`splitBatch needs a positive integer number of parts, got ${parts}.`);
  const count = Math.min(parts, batch.rows);
  const T = batch.steps;
  const shards: TrainingBatch[] = [];
  let row = 0;
  for (let k = 0; k < count; k++) {
    const rows = Math.floor(batch.rows / count) + (k < batch.rows % count ? 1 : 0);
    const [from, to] = [row * T, (row + rows) * T];
    const lossMask = batch.lossMask.slice(from, to);
    shards.push({
      rows,
      steps: T,
      inputIds: batch.inputIds.slice(from, to),
      targetIds: batch.targetIds.slice(from, to),
      attentionMask: batch.attentionMask.slice(from, to),
      lossMask,
      targetCount: lossMask.reduce((n, m) => n + m, 0),
    });
    row += rows;
  }
  return shards;
}
