/**
 * Batched, seeded sampling from a {@link Transformer} with a KV cache.
 *
 * The prompts are left-padded and run through the model once (prefill); then every step feeds one
 * token per row and reads the last position's logits. Sampling happens in JavaScript on those
 * logits with the caller's {@link Rng}: temperature, then top-k, then top-p (nucleus), then one draw.
 * A group of `numGenerations` completions of one prompt is simply that many identical rows.
 *
 * Shapes: B rows, V vocabulary.
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { GrpoError, throwIfAborted } from "../core/errors.js";
import { withAmbientSignal } from "../core/interrupt.js";
import { Rng } from "../core/rng.js";
import { parseWith } from "../core/validation.js";
import { floatView } from "./decode-kernels.js";
import { KVCache, type ForwardOptions, type Transformer } from "./transformer.js";

/** How to pick each next token. */
export interface TokenSamplingOptions {
  /** Softmax temperature; 0 = greedy (argmax, ties to the lowest id). Range [0, ∞). */
  temperature: number;
  /** Keep only the topK most likely tokens before sampling (0 = off). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP (1 = off). Range (0, 1]. */
  topP: number;
}

/** Options of {@link generate}. */
export interface GenerateOptions extends TokenSamplingOptions {
  /**
   * The most tokens to generate per row (≥ 0). Capped at `nPositions − 1`; each prompt then keeps
   * at most its last `nPositions − maxNewTokens` tokens, so every row has room for all new tokens.
   */
  maxNewTokens: number;
  /** A row stops (finishReason "stop") right after sampling any of these ids; the id is kept. */
  eosTokenIds: number[];
  /**
   * The random source; one `rng.next()` per sampled token (none when greedy), rows in order. Or one
   * generator per row: then each row's samples depend only on its own generator, not on which other
   * rows share the batch (how the distributed trainer splits a batch across workers and still samples
   * exactly what one process would).
   */
  rng: Rng | Rng[];
  /**
   * Called after each new token with the row index and the row's generated ids so far (a copy);
   * return true to stop that row (finishReason "stop"). The caller decodes and checks stop strings.
   */
  stopCheck?: (row: number, tokenIds: number[]) => boolean;
  /** Aborts between steps with an `AbortedError`. */
  signal?: AbortSignal;
}

/** One row's completion. */
export interface GenerateResult {
  /** The generated ids (an EOS id that stopped the row is included). */
  tokenIds: number[];
  /**
   * Per generated token, `log softmax(logits / T)[token]` with T the temperature (T = 1 when
   * greedy). Top-k/top-p truncation is NOT applied: this is exactly what the GRPO loss recomputes
   * with {@link Transformer.tokenLogprobs} at the same temperature.
   */
  logprobs: number[];
  /** `stop`: an EOS id or `stopCheck`; `length`: the (capped) `maxNewTokens` was reached. */
  finishReason: "stop" | "length";
  /** The prompt ids the model actually saw (the prompt, left-truncated to fit the context window). */
  promptTokenIds: number[];
}

const samplingShape = {
  temperature: z.number().finite().nonnegative(),
  topK: z.number().int().nonnegative(),
  topP: z.number().gt(0).lte(1),
};
const samplingSchema = z.object(samplingShape);
const generateSchema = z.object({
  ...samplingShape,
  maxNewTokens: z.number().int().nonnegative(),
  eosTokenIds: z.array(z.number().int().nonnegative()),
  rng: z.custom<Rng | Rng[]>((v) => v instanceof Rng || (Array.isArray(v) && v.every((r) => r instanceof Rng)), {
    message: "an Rng (Rng.fromSeed(seed)) or one Rng per prompt",
  }),
  stopCheck: z.custom<(row: number, tokenIds: number[]) => boolean>((v) => typeof v === "function", {
    message: "a function (row, tokenIds) => boolean",
  }).optional(),
  signal: z.instanceof(AbortSignal).optional(),
});

/** log Σ exp(values / temperature), computed stably in float64. */
function logSumExp(values: ArrayLike<number>, temperature: number): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] / temperature);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] / temperature - max);
  return max + Math.log(sum);
}

/** Scratch for the exponentials of one row of logits (sampling is synchronous: one user at a time). */
let expScratch = new Float64Array(0);

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * Picks the next token from one row of logits (length V) and returns it with its log-prob
 * `log softmax(logits / T)[token]` (T = 1 when greedy; top-k/top-p not applied to the log-prob).
 * Consumes exactly one `rng.next()` unless greedy.
 */
export function sampleNextToken(
  logits: ArrayLike<number>,
  options: TokenSamplingOptions,
  rng: Rng,
): { tokenId: number; logprob: number } {
  const checked = parseWith(samplingSchema, options, { root: "sampling options", code: "invalid_argument" });
  return pickToken(logits, checked, rng);
}

function pickToken(
  logits: ArrayLike<number>,
  { temperature, topK, topP }: TokenSamplingOptions,
  rng: Rng,
): { tokenId: number; logprob: number } {
  const vocab = logits.length;
  if (temperature === 0) {
    const tokenId = argmax(logits);
    return { tokenId, logprob: logits[tokenId] - logSumExp(logits, 1) };
  }
  const useTopK = topK > 0 && topK < vocab;
  if (!useTopK && topP >= 1) {
    // No truncation: one pass of exponentials, kept for the walk through the distribution (exp is
    // the sampler's cost: V of them per token, ~13 ns each in V8).
    if (expScratch.length < vocab) expScratch = new Float64Array(vocab);
    const weights = expScratch;
    let max = -Infinity;
    for (let id = 0; id < vocab; id++) max = Math.max(max, logits[id] / temperature);
    let sum = 0;
    for (let id = 0; id < vocab; id++) {
      const e = Math.exp(logits[id] / temperature - max);
      weights[id] = e;
      sum += e;
    }
    let u = rng.next() * sum;
    let choice = vocab - 1;
    for (let id = 0; id < vocab; id++) {
      u -= weights[id];
      if (u < 0) {
        choice = id;
        break;
      }
    }
    return { tokenId: choice, logprob: logits[choice] / temperature - (max + Math.log(sum)) };
  }
  const lse = logSumExp(logits, temperature);
  // Candidate ids, most likely first (ties to the lowest id), cut to the top k.
  const candidates = [...Array(vocab).keys()].sort((a, b) => logits[b] - logits[a] || a - b);
  if (useTopK) candidates.length = topK;
  // Probabilities of the candidates under the temperature (unnormalised over the kept set).
  const probs = candidates.map((id) => Math.exp(logits[id] / temperature - lse));
  let kept = candidates.length;
  if (topP < 1) {
    const total = probs.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    for (let i = 0; i < candidates.length; i++) {
      cumulative += probs[i] / total;
      if (cumulative >= topP) {
        kept = i + 1;
        break;
      }
    }
  }
  let mass = 0;
  for (let i = 0; i < kept; i++) mass += probs[i];
  let u = rng.next() * mass;
  let choice = candidates[kept - 1];
  for (let i = 0; i < kept; i++) {
    u -= probs[i];
    if (u < 0) {
      choice = candidates[i];
      break;
    }
  }
  return { tokenId: choice, logprob: logits[choice] / temperature - lse };
}

/** Generation yields to the event loop at least this often (milliseconds of work). */
const YIELD_EVERY_MS = 4;

/** Yields to the event loop so that timers and abort handlers can run between steps. */
function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Samples continuations of `promptIds` (one row each), batched with a KV cache.
 *
 * - Context window: `maxNewTokens` is capped at `nPositions − 1`, and each prompt is truncated from
 *   the left to its last `nPositions − maxNewTokens` tokens (the most recent context is kept);
 *   `promptTokenIds` of each result says what the model saw.
 * - Reproducible: the same seed gives the same samples, and restoring `rng.getState()` continues
 *   identically. Rows draw in order, one draw per sampled token.
 * - A row that finishes leaves the batch: later steps feed only the unfinished rows (the KV cache
 *   keeps every row; see {@link ForwardOptions.cacheRows}).
 * - Identical prompts are run through the model once; their rows then share that cache content.
 *
 * @throws GrpoError `invalid_argument` for bad options or ids (naming the row); `AbortedError`
 *   when `signal` aborts (checked every step; other event-loop work runs at least every 4 ms).
 */
export async function generate(model: Transformer, promptIds: number[][], options: GenerateOptions): Promise<GenerateResult[]> {
  const opts = parseWith(generateSchema, options, { root: "generate options", code: "invalid_argument" });
  const { vocabSize, nPositions } = model.config;
  for (const [i, id] of opts.eosTokenIds.entries()) {
    if (id >= vocabSize) {
      throw new GrpoError("invalid_argument", "An EOS id lies outside the vocabulary.", {
        field: `generate options.eosTokenIds[${i}]`,
        value: id,
        expected: `an id in [0, ${vocabSize})`,
      });
    }
  }
  const maxNew = Math.min(opts.maxNewTokens, nPositions - 1);
  const keep = nPositions - maxNew;
  const prompts = promptIds.map((ids, row) => {
    if (!Array.isArray(ids) || ids.length === 0) {
      throw new GrpoError("invalid_argument", "A prompt is empty.", {
        field: `promptIds[${row}]`,
        value: ids,
        expected: "at least one token id",
        fix: "start prompts with a BOS token or the chat template's first tokens.",
      });
    }
    const bad = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
    if (bad >= 0) {
      throw new GrpoError("invalid_argument", "A prompt token id lies outside the vocabulary.", {
        field: `promptIds[${row}][${bad}]`,
        value: ids[bad],
        expected: `an integer id in [0, ${vocabSize})`,
      });
    }
    return ids.slice(Math.max(0, ids.length - keep));
  });
  const rows = prompts.length;
  if (Array.isArray(opts.rng) && opts.rng.length !== rows) {
    throw new GrpoError("invalid_argument", "There must be one random generator per prompt.", {
      field: "generate options.rng", value: `${opts.rng.length} generators`, expected: `${rows} (one per prompt) or a single Rng`,
    });
  }
  const rngOf = (b: number): Rng => (Array.isArray(opts.rng) ? opts.rng[b] : opts.rng);
  const results: GenerateResult[] = prompts.map((p) => ({ tokenIds: [], logprobs: [], finishReason: "length", promptTokenIds: p }));
  if (rows === 0 || maxNew === 0) return results;

  const eos = new Set(opts.eosTokenIds);
  // Prefill each distinct prompt once (a GRPO group is numGenerations copies of one prompt), then
  // copy its cache row to the rows that share it.
  const distinct = new Map<string, number>(); // prompt -> its index in `unique`
  const unique: number[][] = [];
  const sourceOf = prompts.map((p) => {
    const key = p.join(",");
    let index = distinct.get(key);
    if (index === undefined) {
      index = unique.length;
      distinct.set(key, index);
      unique.push(p);
    }
    return index;
  });
  // Left-pad to the longest prompt; pads are masked and do not shift positions.
  const width = Math.max(...prompts.map((p) => p.length));
  const cache = new KVCache({ capacity: width + maxNew });
  /** The rows still sampling, in order; each step feeds only these (finished rows leave the batch). */
  let active = prompts.map((_, b) => b);
  /** Which row of the current logits each active row reads: its distinct prompt's after the prefill. */
  let logitRows = sourceOf;
  let logits: tf.Tensor | undefined;
  try {
    const ids = new Int32Array(unique.length * width);
    const mask = new Int32Array(unique.length * width);
    unique.forEach((p, b) => {
      ids.set(p, b * width + width - p.length);
      mask.fill(1, b * width + width - p.length, (b + 1) * width);
    });
    logits = tf.tidy(() =>
      model.forward(tf.tensor2d(ids, [unique.length, width], "int32"), {
        attentionMask: tf.tensor2d(mask, [unique.length, width], "int32"),
        kvCache: cache,
        lastPositionOnly: true,
      }),
    );
    if (unique.length < rows) cache.repeatRows(sourceOf);
    const signal = withAmbientSignal(opts.signal); // a kernel interrupt stops generation too
    let yielded = performance.now();
    for (let step = 0; step < maxNew; step++) {
      // Let timers and abort handlers run every few milliseconds (each yield costs ~0.1 ms of an
      // idle event-loop turn: yielding every step of a one-row decode was ~15 % of its time).
      if (step === 0 || performance.now() - yielded >= YIELD_EVERY_MS) {
        await nextTick();
        yielded = performance.now();
      }
      throwIfAborted(signal, "Generation");
      // (active rows, 1, V): read in place where the backend allows (no array per step), else copied;
      // copied too when a stopCheck runs between rows (it might allocate tensors and move the heap).
      const current: tf.Tensor = logits;
      const view = opts.stopCheck === undefined ? floatView(current) : undefined;
      const values = view ?? ((await current.data()) as Float32Array);
      const next: number[] = [];
      const nextIds: number[] = [];
      active.forEach((b, i) => {
        const row = values.subarray(logitRows[i] * vocabSize, (logitRows[i] + 1) * vocabSize);
        const { tokenId, logprob } = pickToken(row, opts, rngOf(b));
        const result = results[b];
        result.tokenIds.push(tokenId);
        result.logprobs.push(logprob);
        if (eos.has(tokenId) || (opts.stopCheck?.(b, result.tokenIds.slice()) ?? false)) {
          result.finishReason = "stop";
        } else {
          next.push(b);
          nextIds.push(tokenId);
        }
      });
      active = next;
      logitRows = next.map((_, i) => i);
      current.dispose(); // after sampling: the values above may view its memory
      logits = undefined;
      if (step === maxNew - 1 || active.length === 0) break;
      // One token per unfinished row; the cache gives finished rows a masked pad.
      logits = tf.tidy(() => model.forward(tf.tensor2d(nextIds, [nextIds.length, 1], "int32"), { kvCache: cache, cacheRows: active }));
    }
  } finally {
    logits?.dispose();
    cache.dispose();
  }
  return results;
}
