/**
 * A GPT-2 decoder-only transformer on TensorFlow.js: forward pass, KV cache, token log-probs.
 *
 * Legend for the shape comments:
 *   B  batch rows              T  new tokens per row in this call
 *   L  positions already in the KV cache          Tk = L + T  keys each query may look at
 *   C  residual width (nEmbd)  nh heads (nHead)   hs head size (C / nh)
 *   V  vocabulary size         P  context window (nPositions)   N = B * T flattened rows
 *
 * Architecture (GPT-2): token + position embeddings; nLayer blocks of pre-LayerNorm causal
 * self-attention (fused `c_attn` [C, 3C], Conv1D layout `x @ W + b`) and a GELU-tanh MLP; a final
 * LayerNorm; an output head tied to `wte` (or an untied `lm_head` [V, C]). With
 * `positionEncoding: "rotary"` there is no `wpe`: each head's queries and keys are rotated by their
 * position (RoPE, GPT-NeoX's rotate-half layout), and everything else is the same. With
 * `previousTokenEmbedding`, each input also gets `wte[previous id] · wte_prev` (the row's previous
 * real token; nothing at its first), which the KV cache continues across calls.
 *
 * Padding, two kinds, both through `attentionMask` (1 = real token, 0 = padding):
 *   - Left padding, for batched generation of prompts of different lengths: pads come first, and
 *     the default position ids start at 0 at each row's first real token.
 *   - Right padding, for training log-probs: pads come last; real tokens never attend to them
 *     (causality) and {@link Transformer.tokenLogprobs} returns 0 at padded positions.
 * Pad positions themselves produce meaningless (finite) outputs; pad ids must still be valid ids.
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { GrpoError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { parseWith } from "../core/validation.js";
import { DEFAULT_ROTARY_BASE, parameterShapes, positionEncodingOf, usesPreviousToken, validateModelConfig, type ModelConfig } from "./config.js";
import { floatView, fusedAddLayerNorm, fusedGelu, fusedLayerNorm, hasDecodeKernels } from "./decode-kernels.js";
import { KVStore, MASKED_SCORE } from "./kv-store.js";
import { applyRotary, batchMatMul, embeddingLookup, geluTanh, linear, targetLogSoftmax } from "./ops.js";
import { rotaryTables } from "./rope.js";
import type { ParameterMap } from "./weights.js";

// ---------------------------------------------------------------------------------------------
// Parameter names and shapes

/** The initial value of each parameter kind (GPT-2's init). */
function initialStd(name: string, config: ModelConfig): number | "ones" | "zeros" {
  if (/\.bias$/.test(name)) return "zeros";
  if (/(^|\.)ln_(1|2|f)\.weight$/.test(name)) return "ones";
  // Residual projections are scaled down so the residual stream's variance does not grow with depth.
  if (/\.c_proj\.weight$/.test(name)) return 0.02 / Math.sqrt(2 * config.nLayer);
  return 0.02;
}

/** A 32-bit FNV-1a hash, to give every parameter its own seed stream. */
function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed | 0);
  const text = `${seed}/${name}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

// ---------------------------------------------------------------------------------------------
// KV cache

/** Options of {@link KVCache}. */
export interface KVCacheOptions {
  /**
   * Positions to reserve up front (prompt + new tokens, when known). The cache grows by doubling
   * when it is exceeded, so this only saves copies. Default: what the first call needs.
   */
  capacity?: number;
}

/**
 * Keys and values of the positions a model has already processed, so that generation feeds only
 * the new token each step. Pass the same cache to successive {@link Transformer.forward} calls:
 * each call appends its positions. With a cache, `attentionMask` and `positionIds` describe only
 * the new tokens; the cache remembers the earlier ones. A call may continue only some of the cache's
 * rows ({@link ForwardOptions.cacheRows}); the others get a masked pad at those positions.
 *
 * The keys and values live outside TensorFlow.js, in memory the cache owns (see `kv-store.ts`), and
 * a new position is written in place. A cache belongs to one model and one batch; it is invalid once
 * the weights change, and it is for inference only (gradients do not flow through cached positions).
 * Call {@link KVCache.dispose} when done (it frees the few tensors it keeps). Discard a cache after a
 * forward call that threw.
 */
export class KVCache {
  private store: KVStore | undefined;
  /** Per row, the position id the next real token gets. */
  private nextPositions: number[] = [];
  /** Per row, the id of its last real token (−1: none), for a previous-token embedding. */
  private lastTokens: number[] = [];
  /** Tensors derived from the weights once per cache (the transposed head, 3-D weight views). */
  private prepared = new Map<string, tf.Tensor>();
  private readonly capacityHint: number;

  constructor(options: KVCacheOptions = {}) {
    const capacity = options.capacity ?? 0;
    if (!(Number.isInteger(capacity) && capacity >= 0)) {
      throw new GrpoError("invalid_argument", "The KV cache capacity must be a whole number of positions.", {
        field: "KVCache options.capacity", value: capacity, expected: "an integer ≥ 0 (prompt length + new tokens)",
      });
    }
    this.capacityHint = capacity;
  }

  /** Number of cached positions (L), pads included. */
  get length(): number {
    return this.store?.length ?? 0;
  }

  /** Rows in the cache, or undefined while empty. */
  get batchSize(): number | undefined {
    return this.store?.rows;
  }

  /** Per row, the position id its next real token will get by default. */
  get nextPositionIds(): readonly number[] {
    return this.nextPositions;
  }

  /** Per row, the id of the last real token cached (−1 when the row has none yet). */
  get lastTokenIds(): readonly number[] {
    return this.lastTokens;
  }

  /** Per row, the key mask of the cached positions (1 real, 0 pad). */
  get attentionMask(): readonly (readonly number[])[] {
    const store = this.store;
    if (store === undefined) return [];
    return Array.from({ length: store.rows }, (_, r) => Array.from({ length: store.length }, (_, k) => store.maskAt(r, k)));
  }

  /** Frees the cached memory and tensors; the cache is then empty and reusable. */
  dispose(): void {
    for (const t of this.prepared.values()) t.dispose();
    this.prepared.clear();
    this.store?.release();
    this.store = undefined;
    this.nextPositions = [];
    this.lastTokens = [];
  }

  /** @internal The memory of keys and values, created for `rows` rows on first use. */
  storeFor(config: ModelConfig, rows: number, positions: number): KVStore {
    this.store ??= new KVStore(config.nLayer, rows, config.nHead, config.nEmbd / config.nHead, Math.max(this.capacityHint, positions));
    this.store.reserve(positions);
    return this.store;
  }

  /**
   * @internal Records the new positions' mask, the rows' next positions and their last real tokens
   * after a forward pass.
   */
  commit(rows: readonly number[], steps: number, nextPositions: readonly number[], lastTokens: readonly number[]): void {
    const store = this.store;
    if (store === undefined) return;
    store.length += steps;
    if (this.nextPositions.length === 0) this.nextPositions = new Array<number>(store.rows).fill(0);
    if (this.lastTokens.length === 0) this.lastTokens = new Array<number>(store.rows).fill(-1);
    rows.forEach((row, i) => {
      this.nextPositions[row] = nextPositions[i];
      this.lastTokens[row] = lastTokens[i];
    });
  }

  /**
   * @internal Makes row r of the cache a copy of row `sources[r]` (any row may be copied several
   * times): e.g. a batch whose identical prompts were filled once. The rows' next position ids and
   * last tokens move with them.
   */
  repeatRows(sources: readonly number[]): void {
    const store = this.store;
    if (store === undefined) throw new GrpoError("invalid_argument", "An empty KV cache has no rows to repeat.", { fix: "fill the cache with a forward call first." });
    if (!sources.every((r) => Number.isInteger(r) && r >= 0 && r < store.rows)) {
      throw new GrpoError("invalid_argument", "A row to repeat is not in the KV cache.", {
        field: "sources", value: sources, expected: `row indices in [0, ${store.rows})`,
      });
    }
    this.store = store.gatherRows(sources);
    store.release();
    this.nextPositions = sources.map((r) => this.nextPositions[r]);
    this.lastTokens = sources.map((r) => this.lastTokens[r]);
  }

  /** @internal A tensor derived from the weights, computed on first use and kept until dispose. */
  prepare<T extends tf.Tensor>(key: string, compute: () => T): T {
    let t = this.prepared.get(key);
    if (t === undefined) {
      t = tf.keep(compute());
      this.prepared.set(key, t);
    }
    return t as T;
  }
}

// ---------------------------------------------------------------------------------------------
// Forward pass

/** Options of {@link Transformer.forward} / {@link transformerForward}. */
export interface ForwardOptions {
  /**
   * [B, T], 1 = real token, 0 = padding (any numeric dtype). Default: all real. With a `kvCache`,
   * it covers only the new tokens. Left padding (generation) and right padding (training) both work.
   */
  attentionMask?: tf.Tensor2D;
  /**
   * int32 [B, T] position ids in [0, nPositions). Default: the count of real tokens before each
   * token in its row (so a row's first real token has position 0, whatever padding precedes it),
   * continuing from the cache's positions when a `kvCache` is given.
   */
  positionIds?: tf.Tensor2D;
  /** A KV cache to read earlier positions from and append these ones to (see {@link KVCache}). */
  kvCache?: KVCache;
  /**
   * With a filled `kvCache`: the cache row each input row continues, distinct, in [0, cache rows).
   * Default: all of them in order (then inputIds has one row per cache row). Cache rows not listed
   * get a masked pad at the new positions, and their next position ids stay. Generation uses this
   * to feed only its unfinished rows.
   */
  cacheRows?: readonly number[];
  /**
   * Compute logits for the last position only: output [B, 1, V]. Default false. Meant for
   * generation's prefill with left padding, where every row's last position is a real token.
   */
  lastPositionOnly?: boolean;
}

/** What the JS side works out from the (small) id and mask tensors before any float math. */
interface InputPlan {
  batch: number;
  steps: number;
  /** int32 (B, T) position ids. */
  positions: Int32Array;
  /** (B, T) mask of the new tokens. */
  newMask: number[][];
  /** With a cache: the cache row of each input row (B); without: 0..B-1. */
  rows: number[];
  /** Positions already cached (L). */
  cached: number;
  /** Per input row, the position id its next real token gets. */
  nextPositions: number[];
  /** int32 (B, T): the id of the real token before each token in its row (0 where there is none). */
  previousIds: Int32Array;
  /** float32 (B, T): 1 where a token has a real token before it (cached ones included), else 0. */
  hasPrevious: Float32Array;
  /** Per input row, the id of its last real token so far (−1: none yet). */
  lastTokens: number[];
}

function readMatrix(t: tf.Tensor, batch: number, steps: number, field: string): Float32Array | Int32Array | Uint8Array {
  if (t.rank !== 2 || t.shape[0] !== batch || t.shape[1] !== steps) {
    throw new GrpoError("invalid_argument", "A tensor has the wrong shape.", {
      field,
      value: t.shape,
      expected: `shape [${batch}, ${steps}] (the shape of inputIds)`,
    });
  }
  return t.dataSync() as Float32Array | Int32Array | Uint8Array;
}

/** The cache row of each input row: `cacheRows` checked, or all rows in order. */
function cacheRowsOf(cache: KVCache | undefined, batch: number, given: readonly number[] | undefined): number[] {
  const cacheBatch = cache?.batchSize;
  if (given === undefined) {
    if (cacheBatch !== undefined && cacheBatch !== batch) {
      throw new GrpoError("invalid_argument", "The KV cache holds a different number of rows than inputIds.", {
        field: "kvCache",
        value: cacheBatch,
        expected: `${batch} rows`,
        fix: "use one KVCache per batch, or say which cache rows these inputs continue with `cacheRows`.",
      });
    }
    return Array.from({ length: batch }, (_, i) => i);
  }
  const rows = [...given];
  const limit = cacheBatch ?? batch;
  const ok = cache !== undefined && rows.length === batch && new Set(rows).size === batch &&
    rows.every((r) => Number.isInteger(r) && r >= 0 && r < limit) && (cacheBatch !== undefined || rows.every((r, i) => r === i));
  if (!ok) {
    throw new GrpoError("invalid_argument", "`cacheRows` must name one distinct cache row per input row.", {
      field: "cacheRows",
      value: rows,
      expected: cache === undefined
        ? "no cacheRows without a kvCache"
        : `${batch} distinct integers in [0, ${limit})${cacheBatch === undefined ? " in order (the cache is still empty)" : ""}`,
    });
  }
  return rows;
}

function planInputs(config: ModelConfig, inputIds: tf.Tensor2D, options: ForwardOptions): InputPlan {
  if (!(inputIds instanceof tf.Tensor) || inputIds.rank !== 2 || inputIds.dtype !== "int32" || inputIds.size === 0) {
    throw new GrpoError("invalid_argument", "inputIds must be a non-empty int32 tensor of shape [B, T].", {
      field: "inputIds",
      value: inputIds instanceof tf.Tensor ? { shape: inputIds.shape, dtype: inputIds.dtype } : inputIds,
      expected: "tf.tensor2d(ids, [B, T], \"int32\")",
    });
  }
  const [batch, steps] = inputIds.shape;
  const ids = inputIds.dataSync();
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < config.vocabSize)) {
      throw new GrpoError("invalid_argument", "A token id lies outside the vocabulary.", {
        field: `inputIds[${Math.floor(i / steps)}][${i % steps}]`,
        value: ids[i],
        expected: `an id in [0, ${config.vocabSize})`,
        fix: "pad with a valid id (e.g. 0) and mark pads with attentionMask = 0.",
      });
    }
  }
  const cache = options.kvCache;
  const cached = cache?.length ?? 0;
  const rows = cacheRowsOf(cache, batch, options.cacheRows);

  const maskValues = options.attentionMask ? readMatrix(options.attentionMask, batch, steps, "attentionMask") : undefined;
  const newMask: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const row: number[] = [];
    for (let t = 0; t < steps; t++) row.push(maskValues === undefined || maskValues[b * steps + t] !== 0 ? 1 : 0);
    newMask.push(row);
  }

  // Each token's previous real token in its row, from the cache before the first new one: only for
  // a previous-token embedding (other models skip this loop on every decoding step).
  const tracked = usesPreviousToken(config);
  const previousIds = new Int32Array(tracked ? batch * steps : 0);
  const hasPrevious = new Float32Array(tracked ? batch * steps : 0);
  const lastTokens: number[] = tracked ? [] : new Array<number>(batch).fill(-1);
  for (let b = 0; tracked && b < batch; b++) {
    let last = cache?.lastTokenIds[rows[b]] ?? -1;
    for (let t = 0; t < steps; t++) {
      if (newMask[b][t] !== 1) continue;
      if (last >= 0) {
        previousIds[b * steps + t] = last;
        hasPrevious[b * steps + t] = 1;
      }
      last = ids[b * steps + t];
    }
    lastTokens.push(last);
  }

  // Position ids: given, or counted from the real tokens before each token (per row).
  const positions = new Int32Array(batch * steps);
  const nextPositions: number[] = [];
  const given = options.positionIds ? readMatrix(options.positionIds, batch, steps, "positionIds") : undefined;
  for (let b = 0; b < batch; b++) {
    let next = cache?.nextPositionIds[rows[b]] ?? 0;
    for (let t = 0; t < steps; t++) {
      const real = newMask[b][t] === 1;
      const pos = given !== undefined ? given[b * steps + t] : Math.max(0, real ? next : next - 1);
      if (!(Number.isInteger(pos) && pos >= 0 && pos < config.nPositions)) {
        throw new GrpoError("invalid_argument", "A position lies outside the model's context window.", {
          field: given !== undefined ? `positionIds[${b}][${t}]` : `inputIds[${b}]`,
          value: pos,
          expected: `positions in [0, ${config.nPositions}) (nPositions)`,
          fix: `keep each row within ${config.nPositions} real tokens (generate() truncates prompts from the left).`,
        });
      }
      positions[b * steps + t] = pos;
      if (real) next = pos + 1;
    }
    nextPositions.push(next);
  }
  return { batch, steps, positions, newMask, rows, cached, nextPositions, previousIds, hasPrevious, lastTokens };
}

/**
 * Additive attention bias of the composed attention, (Bb, 1, T, Tk) with Bb = B or 1, or null when
 * nothing is masked: causal (query t sits at cache index L + t) plus key padding (cached and new).
 */
function attentionBias(plan: InputPlan, store: KVStore | undefined): { values: Float32Array; shape: [number, 1, number, number] } | null {
  const { batch, steps, cached, rows, newMask } = plan;
  const keys = cached + steps;
  const real = (b: number, k: number) => (k < cached ? store?.maskAt(rows[b], k) ?? 1 : newMask[b][k - cached]);
  let anyPad = false;
  for (let b = 0; b < batch && !anyPad; b++) for (let k = 0; k < keys && !anyPad; k++) anyPad = real(b, k) === 0;
  if (!anyPad && steps === 1) return null;
  const bRows = anyPad ? batch : 1;
  const values = new Float32Array(bRows * steps * keys);
  for (let b = 0; b < bRows; b++) {
    for (let t = 0; t < steps; t++) {
      const base = (b * steps + t) * keys;
      for (let k = 0; k < keys; k++) {
        const visible = k <= cached + t && (!anyPad || real(b, k) === 1);
        if (!visible) values[base + k] = MASKED_SCORE;
      }
    }
  }
  return { values, shape: [bRows, 1, steps, keys] };
}

function layerNorm(x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor, epsilon: number): tf.Tensor2D {
  const mean = tf.mean(x, 1, true); // (N, 1)
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), 1, true); // (N, 1), biased like GPT-2
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), weight), bias) as tf.Tensor2D;
}

function causalSelfAttention(
  x: tf.Tensor2D,
  p: (name: string) => tf.Tensor,
  config: ModelConfig,
  layer: number,
  plan: InputPlan,
  bias: tf.Tensor4D | null,
  rotary: Rotary | null,
  store: KVStore | undefined,
  splitWeights?: Array<[tf.Tensor2D, tf.Tensor1D]>,
): tf.Tensor2D {
  const { batch: B, steps: T } = plan;
  const C = config.nEmbd;
  const nh = config.nHead;
  const hs = C / nh;
  let q: tf.Tensor;
  let k: tf.Tensor;
  let v: tf.Tensor;
  if (splitWeights !== undefined) {
    // Three products with column blocks of c_attn (prepared once): cheaper than splitting (B, T, 3C),
    // whose strided copy cost wasm more than the products (prefill of 32 × 95: 25 -> 16 ms per layer).
    [q, k, v] = splitWeights.map(([w, b]) => tf.reshape(linear(x, w, b), [B, T, C])); // 3 × (B, T, C)
  } else {
    const qkv = linear(x, p("attn.c_attn.weight") as tf.Tensor2D, p("attn.c_attn.bias") as tf.Tensor1D); // (N, 3C)
    [q, k, v] = tf.split(tf.reshape(qkv, [B, T, 3 * C]), 3, 2); // 3 × (B, T, C)
  }
  let query = tf.transpose(tf.reshape(q, [B, T, nh, hs]), [0, 2, 1, 3]) as tf.Tensor4D; // (B, nh, T, hs)
  if (rotary !== null) query = applyRotary(query, rotary.cos, rotary.sin);
  let value = tf.transpose(tf.reshape(v, [B, T, nh, hs]), [0, 2, 1, 3]) as tf.Tensor4D; // (B, nh, T, hs)
  let rawScores: tf.Tensor4D; // (B, nh, T, Tk)
  if (store === undefined) {
    const keyT = rotary === null
      ? tf.transpose(tf.reshape(k, [B, T, nh, hs]), [0, 2, 3, 1]) as tf.Tensor4D // (B, nh, hs, T)
      : tf.transpose(applyRotary(tf.transpose(tf.reshape(k, [B, T, nh, hs]), [0, 2, 1, 3]) as tf.Tensor4D, rotary.cos, rotary.sin), [0, 1, 3, 2]) as tf.Tensor4D;
    rawScores = batchMatMul(query, keyT);
  } else {
    // The cached positions come from the store as constants; the new ones are written to it.
    let key = tf.transpose(tf.reshape(k, [B, T, nh, hs]), [0, 2, 1, 3]) as tf.Tensor4D; // (B, nh, T, hs)
    if (rotary !== null) key = applyRotary(key, rotary.cos, rotary.sin); // cached keys are stored rotated
    let allKeys = key; // (B, nh, Tk, hs)
    const L = plan.cached;
    if (L > 0) {
      const past = store.read(layer, plan.rows, L);
      allKeys = tf.concat([tf.tensor4d(past.keys, [B, nh, L, hs]), key], 2) as tf.Tensor4D;
      value = tf.concat([tf.tensor4d(past.values, [B, nh, L, hs]), value], 2) as tf.Tensor4D;
    }
    const newValue = L > 0 ? tf.slice(value, [0, 0, L, 0], [B, nh, T, hs]) : value; // (B, nh, T, hs)
    store.write(layer, plan.rows, L, T, floatView(key) ?? (key.dataSync() as Float32Array), floatView(newValue) ?? (newValue.dataSync() as Float32Array));
    // One query row: multiply by the keys with transposeB (wasm runs the same loop either way) rather
    // than copying them transposed; longer inputs take the explicit transpose, the fast plain product.
    rawScores = T === 1
      ? (tf.matMul(query, allKeys, false, true) as tf.Tensor4D)
      : batchMatMul(query, tf.transpose(allKeys, [0, 1, 3, 2]) as tf.Tensor4D); // (B, nh, hs, Tk)
  }
  let scores = tf.mul(rawScores, 1 / Math.sqrt(hs)) as tf.Tensor4D; // (B, nh, T, Tk)
  if (bias !== null) scores = tf.add(scores, bias); // bias (B or 1, 1, T, Tk) broadcasts over heads
  const weights = tf.softmax(scores) as tf.Tensor4D; // (B, nh, T, Tk), over keys
  const heads = batchMatMul(weights, value); // (B, nh, T, hs)
  const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D; // (B, T, nh, hs) -> (N, C)
  return linear(merged, p("attn.c_proj.weight") as tf.Tensor2D, p("attn.c_proj.bias") as tf.Tensor1D); // (N, C)
}

/** RoPE's cos and sin at this call's positions, (B, 1, T, hs/2) each; see {@link applyRotary}. */
interface Rotary {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

function mlp(x: tf.Tensor2D, p: (name: string) => tf.Tensor, gelu: (h: tf.Tensor2D) => tf.Tensor2D = geluTanh): tf.Tensor2D {
  const hidden = gelu(linear(x, p("mlp.c_fc.weight") as tf.Tensor2D, p("mlp.c_fc.bias") as tf.Tensor1D)); // (N, nInner)
  return linear(hidden, p("mlp.c_proj.weight") as tf.Tensor2D, p("mlp.c_proj.bias") as tf.Tensor1D); // (N, C)
}

/**
 * Parameter shapes per config object, with the sizes they came from (a forward pass checks them every
 * call, decoding steps included; a config edited in place gets its shapes recomputed).
 */
const shapesByConfig = new WeakMap<ModelConfig, { sizes: string; entries: [string, number[]][] }>();

function requireParams(config: ModelConfig, params: Record<string, tf.Tensor>): void {
  const sizes = `${config.vocabSize},${config.nPositions},${config.nEmbd},${config.nLayer},${config.nInner},${config.tieWordEmbeddings},${positionEncodingOf(config)},${usesPreviousToken(config)}`;
  let known = shapesByConfig.get(config);
  if (known === undefined || known.sizes !== sizes) {
    known = { sizes, entries: Object.entries(parameterShapes(config)) };
    shapesByConfig.set(config, known);
  }
  for (const [name, shape] of known.entries) {
    const t = params[name];
    const ok = t instanceof tf.Tensor && !t.isDisposed && t.rank === shape.length && t.shape.every((d, i) => d === shape[i]);
    if (!ok) {
      throw new GrpoError("invalid_weights", "A parameter is missing, disposed or of the wrong shape.", {
        field: `params["${name}"]`,
        value: t instanceof tf.Tensor ? (t.isDisposed ? "a disposed tensor" : t.shape) : t,
        expected: `a float32 tensor of shape ${shapeText(shape)}`,
        fix: "pass the full parameter record of a model of this config (model.params); do not use a disposed model.",
      });
    }
  }
}

/**
 * The pure forward pass: logits for every position (or only the last) from a parameter record.
 * Differentiable with respect to `params` (use inside `tf.variableGrads`/`tf.grads`). Reads the
 * small id/mask tensors synchronously to validate them and build positions and masks.
 *
 * @param config - the architecture
 * @param params - tensors keyed by canonical GPT-2 names (see {@link Transformer.parameterNames})
 * @param inputIds - int32 [B, T], ids in [0, vocabSize)
 * @returns float32 logits [B, T, V] ([B, 1, V] with `lastPositionOnly`)
 */
export function transformerForward(
  config: ModelConfig,
  params: Record<string, tf.Tensor>,
  inputIds: tf.Tensor2D,
  options: ForwardOptions = {},
): tf.Tensor3D {
  requireParams(config, params);
  const plan = planInputs(config, inputIds, options);
  const { batch: B, steps: T } = plan;
  const cache = options.kvCache;
  let store: KVStore | undefined;
  if (cache !== undefined) {
    store = cache.storeFor(config, B, plan.cached + T);
    // The new positions' key mask: the listed rows' tokens, a masked pad for every other row.
    for (let r = 0; r < store.rows; r++) for (let t = 0; t < T; t++) store.setMask(r, plan.cached + t, 0);
    plan.rows.forEach((row, b) => plan.newMask[b].forEach((real, t) => store?.setMask(row, plan.cached + t, real)));
    if (plan.rows.length < store.rows) {
      const listed = new Set(plan.rows);
      store.clear(Array.from({ length: store.rows }, (_, r) => r).filter((r) => !listed.has(r)), plan.cached, T);
    }
  }
  const decoding = T === 1 && !tf.engine().isTapeOn() && hasDecodeKernels();
  const logits = cache !== undefined && store !== undefined && decoding
    ? decodeStep(config, params, inputIds, plan, cache, store)
    : composedForward(config, params, inputIds, plan, options, store);
  cache?.commit(plan.rows, T, plan.nextPositions, plan.lastTokens);
  return logits;
}

/**
 * The token embeddings (B, T, C) plus, with a previous-token embedding, `wte[previous] · wte_prev`
 * where a token has a real token before it (differentiable in both weights).
 */
function withPreviousToken(config: ModelConfig, params: Record<string, tf.Tensor>, tokens: tf.Tensor3D, plan: InputPlan): tf.Tensor3D {
  if (!usesPreviousToken(config)) return tokens;
  const { batch: B, steps: T } = plan;
  const C = config.nEmbd;
  return tf.tidy(() => {
    const previous = embeddingLookup(params["wte.weight"] as tf.Tensor2D, tf.tensor2d(plan.previousIds, [B, T], "int32")); // (B, T, C)
    const mixed = linear(tf.reshape(previous, [B * T, C]) as tf.Tensor2D, params["wte_prev.weight"] as tf.Tensor2D); // (N, C)
    const gated = tf.mul(mixed, tf.tensor2d(plan.hasPrevious, [B * T, 1])); // 0 at a row's first token and at pads
    return tf.add(tokens, tf.reshape(gated, [B, T, C])) as tf.Tensor3D;
  });
}

/** The differentiable forward pass, composed of tfjs ops (see {@link transformerForward}). */
function composedForward(
  config: ModelConfig,
  params: Record<string, tf.Tensor>,
  inputIds: tf.Tensor2D,
  plan: InputPlan,
  options: ForwardOptions,
  store: KVStore | undefined,
): tf.Tensor3D {
  const { batch: B, steps: T } = plan;
  const C = config.nEmbd;
  const eps = config.layerNormEpsilon;
  const cache = options.kvCache;
  const biasValues = attentionBias(plan, store);
  // Filling a KV cache (prefill) is inference: where the fused kernels run, LayerNorm and GELU use
  // them (one pass each instead of 9 and 7 kernels over B·T rows). Without a cache, or with a tape,
  // every op is the differentiable composition (training and its log-probs stay as they were).
  const fused = store !== undefined && !tf.engine().isTapeOn() && hasDecodeKernels();
  const norm = fused ? (h: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, e: number) => fusedLayerNorm(h, w, b, e) : layerNorm;
  const gelu = fused ? (h: tf.Tensor2D) => fusedGelu(h) : geluTanh;
  return tf.tidy(() => {
    const bias = biasValues === null ? null : tf.tensor4d(biasValues.values, biasValues.shape);
    const tokens = withPreviousToken(config, params, embeddingLookup(params["wte.weight"] as tf.Tensor2D, inputIds), plan); // (B, T, C)
    let rotary: Rotary | null = null;
    let x: tf.Tensor2D;
    if (positionEncodingOf(config) === "rotary") {
      const hs = C / config.nHead;
      const tables = rotaryTables(plan.positions, hs, config.rotaryBase ?? DEFAULT_ROTARY_BASE);
      rotary = { cos: tf.tensor4d(tables.cos, [B, 1, T, hs / 2]), sin: tf.tensor4d(tables.sin, [B, 1, T, hs / 2]) };
      x = tf.reshape(tokens, [B * T, C]) as tf.Tensor2D; // (N, C)
    } else {
      const positions = tf.tensor2d(plan.positions, [B, T], "int32");
      const where = embeddingLookup(params["wpe.weight"] as tf.Tensor2D, positions); // (B, T, C)
      x = tf.reshape(tf.add(tokens, where), [B * T, C]) as tf.Tensor2D; // (N, C)
    }
    for (let i = 0; i < config.nLayer; i++) {
      const p = (name: string): tf.Tensor => params[`h.${i}.${name}`];
      // With the fused kernels (prefill): q, k and v from column blocks of c_attn, sliced once per cache.
      const split = fused && cache !== undefined
        ? [0, 1, 2].map((part) => [
          cache.prepare(`qkv${part}:${i}:w`, () => tf.slice(p("attn.c_attn.weight"), [0, part * C], [C, C]) as tf.Tensor2D),
          cache.prepare(`qkv${part}:${i}:b`, () => tf.slice(p("attn.c_attn.bias"), [part * C], [C]) as tf.Tensor1D),
        ] as [tf.Tensor2D, tf.Tensor1D])
        : undefined;
      x = tf.add(x, causalSelfAttention(norm(x, p("ln_1.weight"), p("ln_1.bias"), eps), p, config, i, plan, bias, rotary, store, split));
      x = tf.add(x, mlp(norm(x, p("ln_2.weight"), p("ln_2.bias"), eps), p, gelu));
    }
    let rows = T;
    if (options.lastPositionOnly && T > 1) {
      x = tf.reshape(tf.slice(tf.reshape(x, [B, T, C]), [0, T - 1, 0], [B, 1, C]), [B, C]); // (B, T, C) -> (B, C)
      rows = 1;
    }
    x = norm(x, params["ln_f.weight"], params["ln_f.bias"], eps);
    // The head is used as (C, V) so the matMul needs no transpose flag (slow on wasm).
    const headWeight = (config.tieWordEmbeddings ? params["wte.weight"] : params["lm_head.weight"]) as tf.Tensor2D;
    const head = cache !== undefined ? cache.prepare("head", () => tf.transpose(headWeight) as tf.Tensor2D) : (tf.transpose(headWeight) as tf.Tensor2D);
    return tf.reshape(linear(x, head), [B, rows, config.vocabSize]) as tf.Tensor3D; // (N, V) -> (B, T, V)
  });
}

/**
 * `x @ w (+ b)` as one fused kernel on 3-D operands: x (1, N, Cin), w (1, Cin, Cout) -> (1, N, Cout).
 * Inference only (the fused kernel's bias is added inside the product: no gradient wrapper here).
 */
function fusedLinear(x: tf.Tensor3D, w: tf.Tensor3D, b?: tf.Tensor1D): tf.Tensor3D {
  const inputs: tf.NamedTensorMap = b === undefined ? { a: x, b: w } : { a: x, b: w, bias: b };
  return tf.engine().runKernel(tf._FusedMatMul, inputs, { transposeA: false, transposeB: false, activation: "linear", leakyreluAlpha: 0 }) as tf.Tensor3D;
}

/**
 * One decoding step (T = 1, a KV cache, no gradient recorded) with the fused kernels: LayerNorm and
 * GELU in one kernel each, each linear map one product with its bias, and attention over the cache's memory
 * (`KVStore.attend`, which also stores the new keys and values) instead of ~14 composed kernels per
 * layer. Activations stay (1, B, C) so no product needs a reshape. Same math as the composed pass.
 */
function decodeStep(
  config: ModelConfig,
  params: Record<string, tf.Tensor>,
  inputIds: tf.Tensor2D,
  plan: InputPlan,
  cache: KVCache,
  store: KVStore,
): tf.Tensor3D {
  const B = plan.batch;
  const C = config.nEmbd;
  const eps = config.layerNormEpsilon;
  // Weights as (1, Cin, Cout) views, made once per cache.
  const weight3d = (name: string) => cache.prepare(`3d:${name}`, () => tf.expandDims(params[name], 0) as tf.Tensor3D);
  const rotary = positionEncodingOf(config) === "rotary"
    ? { positions: plan.positions, base: config.rotaryBase ?? DEFAULT_ROTARY_BASE }
    : undefined;
  return tf.tidy(() => {
    const tokens = withPreviousToken(config, params, embeddingLookup(params["wte.weight"] as tf.Tensor2D, inputIds), plan); // (B, 1, C)
    let x: tf.Tensor3D;
    if (rotary !== undefined) {
      x = tf.reshape(tokens, [1, B, C]) as tf.Tensor3D; // (1, B, C)
    } else {
      const positions = tf.tensor2d(plan.positions, [B, 1], "int32");
      const where = embeddingLookup(params["wpe.weight"] as tf.Tensor2D, positions); // (B, 1, C)
      x = tf.reshape(tf.add(tokens, where), [1, B, C]) as tf.Tensor3D; // (B, 1, C) -> (1, B, C)
    }
    const merged = new Float32Array(B * C);
    let normed = fusedLayerNorm(x, params["h.0.ln_1.weight"], params["h.0.ln_1.bias"], eps); // (1, B, C)
    for (let i = 0; i < config.nLayer; i++) {
      const p = (name: string): tf.Tensor => params[`h.${i}.${name}`];
      const w = (name: string) => weight3d(`h.${i}.${name}`);
      const qkv = fusedLinear(normed, w("attn.c_attn.weight"), p("attn.c_attn.bias") as tf.Tensor1D); // (1, B, 3C)
      // q, k, v side by side (B, 3C); a rotary model's q and k are rotated in the store's copy of them.
      store.attend(i, floatView(qkv) ?? (qkv.dataSync() as Float32Array), plan.rows, plan.cached, merged, rotary); // (B, C)
      const attention = tf.tensor3d(merged, [1, B, C]);
      // Each residual add comes with the LayerNorm that reads the sum (the next block's, or ln_f).
      [x, normed] = fusedAddLayerNorm(x, fusedLinear(attention, w("attn.c_proj.weight"), p("attn.c_proj.bias") as tf.Tensor1D), p("ln_2.weight"), p("ln_2.bias"), eps);
      const hidden = fusedGelu(fusedLinear(normed, w("mlp.c_fc.weight"), p("mlp.c_fc.bias") as tf.Tensor1D)); // (1, B, nInner)
      const next = i + 1 < config.nLayer ? `h.${i + 1}.ln_1` : "ln_f";
      [x, normed] = fusedAddLayerNorm(x, fusedLinear(hidden, w("mlp.c_proj.weight"), p("mlp.c_proj.bias") as tf.Tensor1D), params[`${next}.weight`], params[`${next}.bias`], eps);
    }
    x = normed;
    const headWeight = (config.tieWordEmbeddings ? params["wte.weight"] : params["lm_head.weight"]) as tf.Tensor2D;
    const head = cache.prepare("head3d", () => tf.expandDims(tf.transpose(headWeight), 0) as tf.Tensor3D); // (1, C, V)
    return tf.reshape(fusedLinear(x, head), [B, 1, config.vocabSize]) as tf.Tensor3D; // (1, B, V) -> (B, 1, V)
  });
}

/** Options of {@link Transformer.tokenLogprobs}. */
export interface TokenLogprobOptions {
  /** [B, T], 1 = real, 0 = padding (right padding for training); padded positions return 0. */
  attentionMask?: tf.Tensor2D;
  /** Softmax temperature (> 0) the logits are divided by. Default 1. */
  temperature?: number;
}

/**
 * `log softmax(logits / temperature)[targetIds]` at every position: the per-token log-probs of the
 * GRPO loss. Differentiable with respect to `params`.
 *
 * @param inputIds - int32 [B, T]
 * @param targetIds - int32 [B, T], the token each position predicts (usually inputIds shifted left)
 * @returns float32 [B, T]; 0 where `attentionMask` is 0
 */
export function transformerTokenLogprobs(
  config: ModelConfig,
  params: Record<string, tf.Tensor>,
  inputIds: tf.Tensor2D,
  targetIds: tf.Tensor2D,
  options: TokenLogprobOptions = {},
): tf.Tensor2D {
  const temperature = options.temperature ?? 1;
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new GrpoError("invalid_argument", "The temperature of token log-probs must be positive.", {
      field: "temperature",
      value: temperature,
      expected: "a number > 0 (1 = plain log-softmax)",
    });
  }
  if (!(inputIds instanceof tf.Tensor) || inputIds.rank !== 2) {
    throw new GrpoError("invalid_argument", "inputIds must be an int32 tensor of shape [B, T].", {
      field: "inputIds",
      value: inputIds instanceof tf.Tensor ? inputIds.shape : inputIds,
      expected: "tf.tensor2d(ids, [B, T], \"int32\")",
    });
  }
  const [B, T] = inputIds.shape;
  if (!(targetIds instanceof tf.Tensor) || targetIds.dtype !== "int32") {
    throw new GrpoError("invalid_argument", "targetIds must be an int32 tensor.", {
      field: "targetIds",
      value: targetIds instanceof tf.Tensor ? targetIds.dtype : targetIds,
      expected: `int32 [${B}, ${T}]`,
    });
  }
  const targets = readMatrix(targetIds, B, T, "targetIds");
  for (let i = 0; i < targets.length; i++) {
    if (!(targets[i] >= 0 && targets[i] < config.vocabSize)) {
      throw new GrpoError("invalid_argument", "A target id lies outside the vocabulary.", {
        field: `targetIds[${Math.floor(i / T)}][${i % T}]`,
        value: targets[i],
        expected: `an id in [0, ${config.vocabSize})`,
        fix: "use any valid id (e.g. 0) at padded positions; they are masked.",
      });
    }
  }
  return tf.tidy(() => {
    const logits = transformerForward(config, params, inputIds, { attentionMask: options.attentionMask });
    let flat = tf.reshape(logits, [B * T, config.vocabSize]) as tf.Tensor2D; // (B, T, V) -> (N, V)
    if (temperature !== 1) flat = tf.div(flat, temperature);
    const picked = tf.reshape(targetLogSoftmax(flat, tf.reshape(targetIds, [B * T]) as tf.Tensor1D), [B, T]); // (N) -> (B, T)
    if (options.attentionMask === undefined) return picked as tf.Tensor2D;
    const real = tf.cast(tf.notEqual(options.attentionMask, 0), "float32");
    return tf.mul(picked, real) as tf.Tensor2D;
  });
}

// ---------------------------------------------------------------------------------------------
// The model object

const initOptionsSchema = z.object({ seed: z.number().int() }).strict();

/** A GPT-2 transformer whose weights are tf.Variables keyed by canonical GPT-2 names. */
export class Transformer {
  /** The architecture. */
  readonly config: ModelConfig;
  /**
   * Trainable weights keyed by GPT-2 names without a `transformer.` prefix (`wte.weight`,
   * `h.0.attn.c_attn.weight`, …). Conv1D layout: linear weights are [in, out].
   */
  readonly params: Record<string, tf.Variable>;
  private disposed = false;

  private constructor(config: ModelConfig, params: Record<string, tf.Variable>) {
    this.config = config;
    this.params = params;
  }

  /** Canonical parameter names in a fixed order (embeddings, blocks, final norm, untied head). */
  static parameterNames(config: ModelConfig): string[] {
    return Object.keys(parameterShapes(validateModelConfig(config)));
  }

  /** The shape of every parameter, keyed by canonical name. */
  static expectedShapes(config: ModelConfig): Record<string, number[]> {
    return parameterShapes(validateModelConfig(config));
  }

  /**
   * A freshly initialised model (GPT-2 init): linear and embedding weights ~ normal(0, 0.02),
   * residual projections (`c_proj`) ~ normal(0, 0.02 / sqrt(2 · nLayer)), biases 0, LayerNorm
   * weights 1. Drawn in JavaScript from a seeded {@link Rng} per parameter (seeded by `seed` and the
   * parameter's name), so the same seed gives bit-identical weights on every backend.
   */
  static init(config: ModelConfig, options: { seed: number }): Transformer {
    const checked = validateModelConfig(config);
    const { seed } = parseWith(initOptionsSchema, options, { root: "Transformer.init options", code: "invalid_argument" });
    const params: Record<string, tf.Variable> = {};
    for (const [name, shape] of Object.entries(parameterShapes(checked))) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(size);
      const init = initialStd(name, checked);
      if (init === "ones") values.fill(1);
      else if (init !== "zeros") {
        const rng = Rng.fromSeed(hashSeed(seed, name));
        for (let i = 0; i < size; i++) values[i] = init * rng.normal();
      }
      const initial = tf.tensor(values, shape, "float32");
      params[name] = tf.variable(initial, true);
      initial.dispose();
    }
    return new Transformer(checked, params);
  }

  /**
   * A model from existing tensors keyed by canonical names (the caller keeps ownership of
   * `tensors` and may dispose them afterwards: the variables hold their own reference).
   *
   * @throws GrpoError `invalid_weights` naming the tensor, the expected and the actual shape, or a
   *   missing / unexpected name.
   */
  static fromTensors(config: ModelConfig, tensors: Record<string, tf.Tensor>): Transformer {
    const checked = validateModelConfig(config);
    checkTensors(checked, tensors);
    const params: Record<string, tf.Variable> = {};
    for (const name of Object.keys(parameterShapes(checked))) params[name] = tf.variable(tensors[name], true);
    return new Transformer(checked, params);
  }

  private ensureLive(): void {
    if (this.disposed) {
      throw new GrpoError("not_initialized", "This model was disposed.", {
        fix: "create or load a new Transformer; do not use a model after dispose().",
      });
    }
  }

  /**
   * Logits for every position: float32 [B, T, V] ([B, 1, V] with `lastPositionOnly`). The caller
   * owns (and disposes) the result. See {@link ForwardOptions} for masks, positions and the cache.
   */
  forward(inputIds: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    this.ensureLive();
    return transformerForward(this.config, this.params, inputIds, options);
  }

  /** {@link Transformer.forward} with another parameter record of this architecture. */
  forwardWith(params: Record<string, tf.Tensor>, inputIds: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    return transformerForward(this.config, params, inputIds, options);
  }

  /**
   * Per-token log-probs `log softmax(logits / temperature)[targetIds]`, float32 [B, T], 0 at
   * padded positions. Differentiable: `tf.variableGrads(() => tf.sum(model.tokenLogprobs(...)))`.
   */
  tokenLogprobs(inputIds: tf.Tensor2D, targetIds: tf.Tensor2D, options: TokenLogprobOptions = {}): tf.Tensor2D {
    this.ensureLive();
    return transformerTokenLogprobs(this.config, this.params, inputIds, targetIds, options);
  }

  /** {@link Transformer.tokenLogprobs} with another parameter record of this architecture. */
  tokenLogprobsWith(
    params: Record<string, tf.Tensor>,
    inputIds: tf.Tensor2D,
    targetIds: tf.Tensor2D,
    options: TokenLogprobOptions = {},
  ): tf.Tensor2D {
    return transformerTokenLogprobs(this.config, params, inputIds, targetIds, options);
  }

  /** Total number of weights (a tied head is counted once). */
  numParameters(): number {
    return Object.values(this.params).reduce((n, v) => n + v.size, 0);
  }

  /**
   * Snapshots of the weights keyed by canonical name: independent clones (cheap: they share memory
   * with the variable until the variable is next assigned). The caller owns and disposes them.
   */
  getWeights(): Record<string, tf.Tensor> {
    this.ensureLive();
    const out: Record<string, tf.Tensor> = {};
    for (const [name, v] of Object.entries(this.params)) out[name] = tf.clone(v);
    return out;
  }

  /** The weights as host arrays keyed by canonical name (what `saveModelFolder` and checkpoints write). */
  async weightValues(): Promise<ParameterMap> {
    this.ensureLive();
    const out: ParameterMap = {};
    for (const [name, v] of Object.entries(this.params)) out[name] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
    return out;
  }

  /**
   * Replaces every weight (the full set of canonical names, checked like {@link Transformer.fromTensors}).
   * The caller keeps ownership of `tensors` and may dispose them afterwards.
   */
  setWeights(tensors: Record<string, tf.Tensor>): void {
    this.ensureLive();
    checkTensors(this.config, tensors);
    for (const [name, v] of Object.entries(this.params)) v.assign(tensors[name]);
  }

  /** Frees every weight; the model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of Object.values(this.params)) v.dispose();
    this.disposed = true;
  }
}

function checkTensors(config: ModelConfig, tensors: Record<string, tf.Tensor>): void {
  const expected = parameterShapes(config);
  for (const name of Object.keys(tensors)) {
    if (!(name in expected)) {
      const bare = name.replace(/^transformer\./, "");
      const fix =
        bare !== name && bare in expected
          ? `rename it to "${bare}" (names carry no "transformer." prefix).`
          : name === "lm_head.weight"
            ? "the config ties the head to wte (tieWordEmbeddings: true): drop lm_head.weight, or set tieWordEmbeddings: false."
            : `use only the canonical GPT-2 names (Transformer.parameterNames(config)), e.g. "h.0.attn.c_attn.weight".`;
      throw new GrpoError("invalid_weights", "A weight tensor has an unexpected name.", { field: `tensors["${name}"]`, fix });
    }
  }
  for (const [name, shape] of Object.entries(expected)) {
    const t = tensors[name];
    if (t === undefined) {
      throw new GrpoError("invalid_weights", "A weight tensor is missing.", {
        field: `tensors["${name}"]`,
        expected: `a float32 tensor of shape ${shapeText(shape)}`,
        fix: "provide every name of Transformer.parameterNames(config).",
      });
    }
    if (!(t instanceof tf.Tensor) || t.isDisposed || t.dtype !== "float32") {
      throw new GrpoError("invalid_weights", "A weight tensor is not a live float32 tensor.", {
        field: `tensors["${name}"]`,
        value: t instanceof tf.Tensor ? (t.isDisposed ? "a disposed tensor" : t.dtype) : t,
        expected: "float32",
        fix: "convert the weights to float32 before loading (tfjs has no float16).",
      });
    }
    const sameShape = t.rank === shape.length && t.shape.every((d, i) => d === shape[i]);
    if (!sameShape) {
      const transposed = t.rank === 2 && shape.length === 2 && t.shape[0] === shape[1] && t.shape[1] === shape[0];
      throw new GrpoError("invalid_weights", "A weight tensor has the wrong shape.", {
        field: `tensors["${name}"]`,
        value: t.shape,
        expected: `shape ${shapeText(shape)}`,
        fix: transposed
          ? "this tensor is transposed: GPT-2 Conv1D weights are stored [in, out]; transpose it before loading."
          : "check that the config (vocabSize, nPositions, nEmbd, nInner) matches the weights.",
      });
    }
  }
}
