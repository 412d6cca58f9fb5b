// The inference-only decoding path against its references: the fused LayerNorm kernel against the
// composed tfjs ops, the SIMD attention loops against float64 and their JavaScript twin, the KV store's
// attention against the composed attention (padding, all-masked rows, rows sitting a step out), and a
// whole decoding step (fused) against the composed forward pass, on the wasm and the cpu backends.
import * as tf from "@tensorflow/tfjs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { selectBackend } from "../../src/model/backend.js";
import type { ModelConfig } from "../../src/model/config.js";
import { attentionLoops, setAttentionSimdDisabled, wasmApi } from "../../src/model/simd.js";
import { fusedAddLayerNorm, fusedGelu, fusedLayerNorm, hasDecodeKernels, setDecodeKernelsDisabled } from "../../src/model/decode-kernels.js";
import { geluTanh } from "../../src/model/ops.js";
import { KVStore, MASKED_SCORE } from "../../src/model/kv-store.js";
import { KVCache, Transformer } from "../../src/model/transformer.js";

const CONFIG: ModelConfig = {
  vocabSize: 50,
  nPositions: 40,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  nInner: 64,
  layerNormEpsilon: 1e-5,
  tieWordEmbeddings: false,
};

function randomValues(size: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: size }, () => scale * rng.normal());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** GPT-2 LayerNorm composed of tfjs ops (the transformer's training path). */
function composedLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** The same LayerNorm in float64. */
function float64LayerNorm(x: Float32Array, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): number[] {
  const channels = gamma.length;
  const out: number[] = [];
  for (let start = 0; start < x.length; start += channels) {
    const row = Array.from(x.subarray(start, start + channels));
    const mean = row.reduce((a, b) => a + b, 0) / channels;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / channels;
    row.forEach((v, c) => out.push(((v - mean) / Math.sqrt(variance + eps)) * gamma[c] + beta[c]));
  }
  return out;
}

/** A model with weights large enough that logits differ clearly between positions and rows. */
function randomModel(seed: number): Transformer {
  const model = Transformer.init(CONFIG, { seed });
  const rng = Rng.fromSeed(seed + 1);
  const scaled: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(model.params)) scaled[name] = tf.tensor(randomValues(v.size, rng, 0.3), v.shape);
  model.setWeights(scaled);
  tf.dispose(Object.values(scaled));
  return model;
}

for (const backend of ["wasm", "cpu"] as const) {
  describe(`fused decoding on the ${backend} backend`, () => {
    beforeAll(async () => {
      await selectBackend({ backend });
    });
    afterEach(() => setDecodeKernelsDisabled(false));
    afterAll(async () => {
      await selectBackend({ backend: "wasm" });
    });

    it("registers the fused kernels for this backend", () => {
      expect(hasDecodeKernels()).toBe(true);
      setDecodeKernelsDisabled(true);
      expect(hasDecodeKernels()).toBe(false);
    });

    it("GrpoLayerNorm equals the composed LayerNorm on random rows (2-D and 3-D)", () => {
      const rng = Rng.fromSeed(3);
      for (const shape of [[7, 32], [1, 5, 48], [1, 1, 8]]) {
        const channels = shape[shape.length - 1];
        const size = shape.reduce((a, b) => a * b, 1);
        // Rows of different scales and offsets, one nearly constant (variance ~ epsilon).
        const values = randomValues(size, rng).map((v, i) => (Math.floor(i / channels) === 0 ? 3 + 1e-3 * v : v * (1 + (i % 5)) + (i % 3)));
        const before = tf.memory().numTensors;
        const [x, gamma, beta] = [tf.tensor(values, shape), tf.tensor(randomValues(channels, rng)), tf.tensor(randomValues(channels, rng))];
        const fused = fusedLayerNorm(x, gamma, beta, 1e-5);
        const composed = composedLayerNorm(x, gamma, beta, 1e-5);
        expect(fused.shape).toEqual(shape);
        // Within float32 rounding of the composition, except on the nearly constant first row, where
        // the composition loses digits centring in float32 (1e-4 off on wasm); there, and everywhere,
        // the fused kernel is within 2e-6 of a float64 reference.
        expect(maxAbsDiff(fused.dataSync().slice(channels), composed.dataSync().slice(channels))).toBeLessThan(2e-5);
        expect(maxAbsDiff(fused.dataSync(), float64LayerNorm(values, gamma.dataSync(), beta.dataSync(), 1e-5))).toBeLessThan(2e-6);
        tf.dispose([x, gamma, beta, fused, composed]);
        expect(tf.memory().numTensors).toBe(before);
      }
    });

    it("GrpoAddLayerNorm returns exactly tf.add's sum and the composed LayerNorm of it", () => {
      const rng = Rng.fromSeed(6);
      for (const shape of [[4, 32], [1, 3, 48]]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const channels = shape[shape.length - 1];
        const before = tf.memory().numTensors;
        const [x, y] = [tf.tensor(randomValues(size, rng, 2), shape), tf.tensor(randomValues(size, rng), shape)];
        const [gamma, beta] = [tf.tensor(randomValues(channels, rng)), tf.tensor(randomValues(channels, rng))];
        const [sum, normed] = fusedAddLayerNorm(x, y, gamma, beta, 1e-5);
        const wantSum = tf.add(x, y);
        const wantNormed = composedLayerNorm(wantSum, gamma, beta, 1e-5);
        expect(Array.from(sum.dataSync())).toEqual(Array.from(wantSum.dataSync()));
        expect(normed.shape).toEqual(shape);
        expect(maxAbsDiff(normed.dataSync(), wantNormed.dataSync())).toBeLessThan(2e-5);
        tf.dispose([x, y, gamma, beta, sum, normed, wantSum, wantNormed]);
        expect(tf.memory().numTensors).toBe(before);
      }
    });

    it("GrpoGeluTanh equals the composed GELU and a float64 reference, tails and extremes included", () => {
      const rng = Rng.fromSeed(4);
      for (const shape of [[3, 37], [1, 2, 64], [5]]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const values = randomValues(size, rng, 3);
        values[0] = -30; // the exponential's argument is clamped: the result is 0 to float32 precision
        if (size > 2) [values[1], values[2]] = [25, 0];
        const before = tf.memory().numTensors;
        const x = tf.tensor(values, shape);
        const fused = fusedGelu(x);
        const composed = geluTanh(x);
        expect(fused.shape).toEqual(shape);
        expect(maxAbsDiff(fused.dataSync(), composed.dataSync())).toBeLessThan(2e-6 * 25);
        const exact = Array.from(values, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
        fused.dataSync().forEach((y, i) => expect(Math.abs(y - exact[i]), `x = ${values[i]}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(exact[i]))));
        tf.dispose([x, fused, composed]);
        expect(tf.memory().numTensors).toBe(before);
      }
    });

    it("a cached decoding step equals the composed pass, with left padding and rows sitting steps out", () => {
      const model = randomModel(11);
      const rng = Rng.fromSeed(5);
      const rows = 3;
      const prompt = [8, 5, 6]; // row lengths; left-padded to 8
      const width = 8;
      const ids = Array.from({ length: rows * width }, () => rng.int(CONFIG.vocabSize));
      const mask = Array.from({ length: rows * width }, (_, i) => (i % width >= width - prompt[Math.floor(i / width)] ? 1 : 0));
      // Steps: which cache rows continue, and the token each feeds.
      const steps: number[][] = [[0, 1, 2], [0, 2], [2], [0, 1, 2], [1]];
      const run = (fused: boolean) => {
        setDecodeKernelsDisabled(!fused);
        const cache = new KVCache({ capacity: 2 }); // tiny: the store must grow while decoding
        const out: number[][] = [];
        tf.tidy(() => {
          out.push(Array.from(model.forward(tf.tensor2d(ids, [rows, width], "int32"), {
            attentionMask: tf.tensor2d(mask, [rows, width], "int32"), kvCache: cache, lastPositionOnly: true,
          }).dataSync()));
        });
        steps.forEach((active, s) => {
          const tokens = active.map((r) => (7 * s + 3 * r) % CONFIG.vocabSize);
          tf.tidy(() => {
            out.push(Array.from(model.forward(tf.tensor2d(tokens, [active.length, 1], "int32"), { kvCache: cache, cacheRows: active }).dataSync()));
          });
        });
        const positions = cache.nextPositionIds.slice();
        const keyMask = cache.attentionMask.map((r) => r.slice());
        cache.dispose();
        return { out, positions, keyMask };
      };
      const before = tf.memory().numTensors;
      const composed = run(false);
      const fused = run(true);
      expect(tf.memory().numTensors).toBe(before);
      fused.out.forEach((logits, s) => expect(maxAbsDiff(logits, composed.out[s]), `call ${s}`).toBeLessThan(2e-5));
      expect(fused.positions).toEqual(composed.positions);
      expect(fused.positions).toEqual([8 + 3, 5 + 3, 6 + 4]); // rows 0, 1, 2 took 3, 3 and 4 steps
      expect(fused.keyMask).toEqual(composed.keyMask);
      expect(fused.keyMask[1].slice(width)).toEqual([1, 0, 0, 1, 1]); // row 1 sat steps 2 and 3 out

      // And both equal a full recompute without a cache: each row's real tokens in order.
      const history = Array.from({ length: rows }, (_, r) => ids.slice(r * width + width - prompt[r], (r + 1) * width));
      steps.forEach((active, s) => active.forEach((r) => history[r].push((7 * s + 3 * r) % CONFIG.vocabSize)));
      let call = 1;
      steps.forEach((active, s) => {
        active.forEach((r, i) => {
          const seen = history[r].slice(0, prompt[r] + steps.slice(0, s + 1).filter((a) => a.includes(r)).length);
          const want = tf.tidy(() => {
            const all = model.forward(tf.tensor2d(seen, [1, seen.length], "int32"));
            return Array.from(all.slice([0, seen.length - 1, 0], [1, 1, CONFIG.vocabSize]).dataSync());
          });
          expect(maxAbsDiff(fused.out[call].slice(i * CONFIG.vocabSize, (i + 1) * CONFIG.vocabSize), want), `step ${s} row ${r}`).toBeLessThan(2e-5);
        });
        call++;
      });
      model.dispose();
    });

    it("decodes heads whose size is not a multiple of 4 (the JavaScript loops) like the composed pass", () => {
      const config: ModelConfig = { ...CONFIG, nEmbd: 12, nHead: 2, nInner: 24 }; // head size 6
      const model = Transformer.init(config, { seed: 2 });
      const run = (fused: boolean) => {
        setDecodeKernelsDisabled(!fused);
        const cache = new KVCache();
        const out: number[] = [];
        tf.tidy(() => {
          model.forward(tf.tensor2d([[1, 2, 3], [0, 4, 5]], [2, 3], "int32"), { attentionMask: tf.tensor2d([[1, 1, 1], [0, 1, 1]], [2, 3], "int32"), kvCache: cache });
          for (let s = 0; s < 3; s++) out.push(...model.forward(tf.tensor2d([[6 + s], [9 + s]], [2, 1], "int32"), { kvCache: cache }).dataSync());
        });
        cache.dispose();
        return out;
      };
      expect(maxAbsDiff(run(true), run(false))).toBeLessThan(2e-5);
      model.dispose();
    });

    it("repeatRows copies cache rows: decoding after it equals decoding a cache filled with those rows", () => {
      const model = randomModel(13);
      const rows = [[3, 4, 5, 6], [0, 0, 9, 8]]; // row 1 left-padded
      const masks = [[1, 1, 1, 1], [0, 0, 1, 1]];
      const order = [1, 0, 1]; // the repeated cache's rows
      const fill = (cache: KVCache, which: number[]) => tf.tidy(() => {
        model.forward(tf.tensor2d(which.map((r) => rows[r]), [which.length, 4], "int32"), {
          attentionMask: tf.tensor2d(which.map((r) => masks[r]), [which.length, 4], "int32"), kvCache: cache, lastPositionOnly: true,
        });
      });
      const step = (cache: KVCache) => tf.tidy(() => Array.from(model.forward(tf.tensor2d([[7], [11], [13]], [3, 1], "int32"), { kvCache: cache }).dataSync()));
      const before = tf.memory().numTensors;
      const repeated = new KVCache();
      fill(repeated, [0, 1]);
      repeated.repeatRows(order);
      const direct = new KVCache();
      fill(direct, order);
      expect(repeated.nextPositionIds).toEqual(direct.nextPositionIds);
      expect(repeated.attentionMask).toEqual(direct.attentionMask);
      expect(maxAbsDiff(step(repeated), step(direct))).toBeLessThan(1e-5);
      expect(() => repeated.repeatRows([3])).toThrow(/not in the KV cache/);
      repeated.dispose();
      direct.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  });
}

describe("the SIMD attention loops", () => {
  afterEach(() => setAttentionSimdDisabled(false));

  it("assemble to a valid module on this runtime", () => {
    expect(wasmApi).toBeDefined();
    expect(attentionLoops(new wasmApi!.Memory({ initial: 1 })).simd).toBe(true);
  });

  for (const simd of [true, false]) {
    it(`${simd ? "SIMD" : "JavaScript"} dots, mix and exps equal a float64 reference`, () => {
      setAttentionSimdDisabled(!simd);
      const memory = new wasmApi!.Memory({ initial: 4 });
      const loops = attentionLoops(memory);
      expect(loops.simd).toBe(simd);
      const heap = new Float32Array(memory.buffer);
      const rng = Rng.fromSeed(9);
      for (const [n, hs] of [[1, 4], [37, 32], [5, 12], [64, 64]]) {
        const q = 0;
        const k = 64;
        const scores = k + n * hs;
        const bias = scores + n + 4;
        const out = bias + n;
        heap.set(randomValues(out + hs, rng));
        loops.dots(4 * q, 4 * k, n, 4 * hs, 4 * scores, 0.25, 4 * bias);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let d = 0; d < hs; d++) s += heap[q + d] * heap[k + j * hs + d];
          expect(Math.abs(heap[scores + j] - (0.25 * s + heap[bias + j]))).toBeLessThan(1e-5);
        }
        loops.mix(4 * scores, 4 * k, n, 4 * hs, 4 * out);
        for (let d = 0; d < hs; d++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += heap[scores + j] * heap[k + j * hs + d];
          expect(Math.abs(heap[out + d] - s)).toBeLessThan(1e-4);
        }
      }
      // exps: a softmax's numerators over whole lanes, −∞ padding and underflow included.
      const n = 2048;
      const x = randomValues(n, rng, 12);
      x[5] = -Infinity;
      x[6] = -500;
      x[7] = 60;
      heap.set(x, 8);
      const sum = loops.exps(4 * 8, n, 1.25, 0);
      const max = Math.max(...Array.from(x, (v) => Math.fround(v * 1.25)));
      expect(heap[0]).toBe(max);
      let want = 0;
      for (let j = 0; j < n; j++) {
        const argument = Math.fround(x[j] * 1.25) - max;
        const e = Math.exp(argument);
        want += e;
        // The float32 argument x·scale − max is rounded (half an ulp: |argument|·2^-24 relative error
        // in the result) and the polynomial adds < 3e-7; results below e^-87 flush to 0.
        const tolerance = e === 0 ? 0 : (Math.abs(argument) * 6e-8 + 5e-7) * e + 1e-37;
        expect(Math.abs(heap[8 + j] - e), `exp at ${j}`).toBeLessThanOrEqual(tolerance);
      }
      expect(heap[8 + 5]).toBe(0);
      expect(Math.abs(sum - want) / want).toBeLessThan(1e-5);
      // gelu: x · sigmoid(2u) against 0.5·x·(1 + tanh u), u = sqrt(2/π)(x + 0.044715 x³).
      const g = randomValues(64, rng, 4);
      g[0] = -40;
      g[1] = 40;
      heap.set(g, 0);
      loops.gelu(0, 4 * 64, 64);
      g.forEach((v, j) => {
        const exact = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
        expect(Math.abs(heap[64 + j] - exact), `gelu(${v})`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(exact)));
      });
    });
  }
});

describe("KVStore.attend", () => {
  beforeAll(async () => {
    await selectBackend({ backend: "wasm" });
  });
  afterEach(() => setAttentionSimdDisabled(false));

  /** softmax(q·k / sqrt(hs) + bias) · v for one row, composed of tfjs ops (the transformer's path). */
  function composedAttention(q: Float32Array, keys: Float32Array, values: Float32Array, bias: Float32Array, nh: number, n: number, hs: number): Float32Array {
    return tf.tidy(() => {
      const query = tf.tensor4d(q, [1, nh, 1, hs]);
      const scores = tf.add(tf.mul(tf.matMul(query, tf.tensor4d(keys, [1, nh, n, hs]), false, true), 1 / Math.sqrt(hs)), tf.tensor4d(bias, [1, 1, 1, n]));
      const heads = tf.matMul(tf.softmax(scores), tf.tensor4d(values, [1, nh, n, hs])); // (1, nh, 1, hs)
      return tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [nh * hs]).dataSync() as Float32Array;
    });
  }

  for (const simd of [true, false]) {
    it(`equals the composed attention (${simd ? "SIMD" : "JavaScript"} loops), pads and an all-masked row included`, () => {
      setAttentionSimdDisabled(!simd);
      const [rows, nh, hs, layers] = [4, 2, 8, 2];
      const C = nh * hs;
      const store = new KVStore(layers, rows, nh, hs, 3);
      const rng = Rng.fromSeed(21);
      const cached = 6;
      store.reserve(cached + 1);
      // Row 0: all real; row 1: two leading pads; row 2: every key masked (attends uniformly); row 3 sits out.
      const real = (r: number, k: number) => (r === 0 ? 1 : r === 1 ? (k >= 2 ? 1 : 0) : r === 2 ? 0 : 1);
      for (let r = 0; r < rows; r++) for (let k = 0; k <= cached; k++) store.setMask(r, k, real(r, k));
      const past = Array.from({ length: layers }, () => ({ keys: randomValues(rows * nh * cached * hs, rng), values: randomValues(rows * nh * cached * hs, rng) }));
      past.forEach((p, layer) => store.write(layer, [0, 1, 2, 3], 0, cached, p.keys, p.values));
      store.length = cached;
      const active = [2, 0, 1]; // input row i continues cache row active[i]
      const qkv = randomValues(active.length * 3 * C, rng);
      const out = new Float32Array(active.length * C);
      store.attend(1, qkv, active, cached, out);
      active.forEach((r, i) => {
        // The reference: the row's cached keys/values plus its new ones, per head.
        const n = cached + 1;
        const keys = new Float32Array(nh * n * hs);
        const values = new Float32Array(nh * n * hs);
        for (let h = 0; h < nh; h++) {
          const from = (r * nh + h) * cached * hs;
          keys.set(past[1].keys.subarray(from, from + cached * hs), h * n * hs);
          values.set(past[1].values.subarray(from, from + cached * hs), h * n * hs);
          keys.set(qkv.subarray(i * 3 * C + C + h * hs, i * 3 * C + C + (h + 1) * hs), (h * n + cached) * hs);
          values.set(qkv.subarray(i * 3 * C + 2 * C + h * hs, i * 3 * C + 2 * C + (h + 1) * hs), (h * n + cached) * hs);
        }
        const q = new Float32Array(C);
        for (let h = 0; h < nh; h++) q.set(qkv.subarray(i * 3 * C + h * hs, i * 3 * C + (h + 1) * hs), h * hs);
        const bias = Float32Array.from({ length: n }, (_, k) => (real(r, k) ? 0 : MASKED_SCORE));
        const want = composedAttention(q, keys, values, bias, nh, n, hs);
        expect(maxAbsDiff(out.subarray(i * C, (i + 1) * C), want), `row ${r}`).toBeLessThan(1e-5);
        // The new key and value were stored at position `cached`.
        expect(Array.from(store.read(1, [r], n).keys.subarray(cached * hs, n * hs))).toEqual(Array.from(keys.subarray(cached * hs, n * hs)));
      });
      // Row 3 sat out: the transformer clears its new position (a reused memory holds old values there).
      store.clear([3], cached, 1);
      expect(Array.from(store.read(1, [3], cached + 1).values.subarray(cached * hs, (cached + 1) * hs))).toEqual(new Array(hs).fill(0));
    });
  }

  it("keeps every row's keys, values and mask when it grows", () => {
    const store = new KVStore(1, 2, 1, 4, 4);
    const rng = Rng.fromSeed(2);
    const keys = randomValues(2 * 3 * 4, rng);
    const values = randomValues(2 * 3 * 4, rng);
    store.write(0, [0, 1], 0, 3, keys, values);
    store.setMask(1, 2, 1);
    store.length = 3;
    store.reserve(9);
    expect(store.capacity).toBe(9);
    store.reserve(10);
    expect(store.capacity).toBe(18); // doubling
    const read = store.read(0, [0, 1], 3);
    expect(Array.from(read.keys)).toEqual(Array.from(keys));
    expect(Array.from(read.values)).toEqual(Array.from(values));
    expect([store.maskAt(1, 2), store.maskAt(0, 2)]).toEqual([1, 0]);
  });
});
