// The wasm BatchMatMul kernel (one XNNPACK product per batch entry) against a float64 reference,
// the backend's own fallback, and the cpu backend; and its bookkeeping (no tensors or heap left over).
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { selectBackend } from "../../src/model/backend.js";
import { batchMatMul } from "../../src/model/ops.js";
import { Transformer } from "../../src/model/transformer.js";
import { setWasmKernelsEnabled } from "../../src/model/wasm-kernels.js";

function randomValues(size: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: size }, () => rng.normal());
}

/** a @ b over the leading axes, in float64 (a: [..., M, K], b: [..., K, N]). */
function referenceProduct(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number): number[] {
  const out = new Array<number>(batch * m * n).fill(0);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += a[p * m * k + i * k + q] * b[p * k * n + q * n + j];
        out[p * m * n + i * n + j] = sum;
      }
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function heapBytes(): number {
  return (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
}

describe("wasm BatchMatMul kernel", () => {
  beforeAll(async () => {
    await selectBackend({ backend: "wasm" });
  });
  afterAll(() => setWasmKernelsEnabled(true));

  // [lead axes, M, K, N]: batched products with enough rows take the per-slice XNNPACK path; the
  // others (one row, one batch entry) take the backend's own kernel. All must be right.
  const shapes: [number[], number, number, number][] = [
    [[5], 20, 7, 9],
    [[2, 3], 17, 8, 5], // rank 4, the attention layout
    [[4], 64, 32, 64],
    [[6], 1, 16, 24], // one row (KV-cache decoding): fallback
    [[1], 30, 6, 4], // batch 1: the backend's XNNPACK path
  ];
  for (const [lead, m, k, n] of shapes) {
    it(`multiplies [${[...lead, m, k]}] @ [${[...lead, k, n]}] like a float64 reference`, () => {
      const rng = Rng.fromSeed(m * 31 + n);
      const batch = lead.reduce((p, d) => p * d, 1);
      const a = randomValues(batch * m * k, rng);
      const b = randomValues(batch * k * n, rng);
      const before = tf.memory().numTensors;
      const product = tf.tidy(() => tf.matMul(tf.tensor(a, [...lead, m, k]), tf.tensor(b, [...lead, k, n])));
      expect(product.shape).toEqual([...lead, m, n]);
      expect(maxAbsDiff(product.dataSync(), referenceProduct(a, b, batch, m, k, n))).toBeLessThan(1e-4);
      product.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("agrees with the backend's own kernel, and transposed or broadcast products still work", () => {
    const rng = Rng.fromSeed(7);
    const a = tf.tensor(randomValues(3 * 24 * 10, rng), [3, 24, 10]) as tf.Tensor3D;
    const b = tf.tensor(randomValues(3 * 10 * 12, rng), [3, 10, 12]) as tf.Tensor3D;
    const shared = tf.tensor(randomValues(10 * 12, rng), [1, 10, 12]) as tf.Tensor3D;
    const run = () => [tf.matMul(a, b), tf.matMul(tf.transpose(a, [0, 2, 1]), b, true, false), tf.matMul(a, shared)].map((t) => t.dataSync());
    const fast = run();
    setWasmKernelsEnabled(false);
    const own = run();
    setWasmKernelsEnabled(true);
    fast.forEach((values, i) => expect(maxAbsDiff(values, own[i])).toBeLessThan(1e-4));
    tf.dispose([a, b, shared]);
  });

  it("gives the same attention gradients as the backend's own kernel", () => {
    const rng = Rng.fromSeed(11);
    const q = tf.tensor(randomValues(2 * 2 * 18 * 4, rng), [2, 2, 18, 4]) as tf.Tensor4D;
    const kT = tf.tensor(randomValues(2 * 2 * 4 * 18, rng), [2, 2, 4, 18]) as tf.Tensor4D;
    const grads = () => tf.tidy(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(batchMatMul(x as tf.Tensor4D, y as tf.Tensor4D))))([q, kT]).map((g) => g.dataSync()));
    const fast = grads();
    setWasmKernelsEnabled(false);
    const own = grads();
    setWasmKernelsEnabled(true);
    fast.forEach((values, i) => expect(maxAbsDiff(values, own[i])).toBeLessThan(1e-4));
    tf.dispose([q, kT]);
  });

  it("frees everything: repeated products leave no tensors and do not grow the heap", () => {
    const rng = Rng.fromSeed(3);
    const a = tf.tensor(randomValues(8 * 32 * 16, rng), [8, 32, 16]) as tf.Tensor3D;
    const b = tf.tensor(randomValues(8 * 16 * 32, rng), [8, 16, 32]) as tf.Tensor3D;
    tf.matMul(a, b).dispose();
    const tensors = tf.memory().numTensors;
    const heap = heapBytes();
    for (let i = 0; i < 500; i++) tf.matMul(a, b).dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(heapBytes()).toBe(heap);
    tf.dispose([a, b]);
  });

  it("gives a transformer the same logits on wasm as on cpu for sequences past the fast-path threshold", async () => {
    const config = { vocabSize: 40, nPositions: 32, nEmbd: 16, nHead: 2, nLayer: 2, nInner: 32, layerNormEpsilon: 1e-5, tieWordEmbeddings: true };
    const rng = Rng.fromSeed(5);
    const ids = Array.from({ length: 3 }, () => Array.from({ length: 24 }, () => rng.int(config.vocabSize)));
    const logits = () => {
      const model = Transformer.init(config, { seed: 1 });
      const out = tf.tidy(() => model.forward(tf.tensor2d(ids, [3, 24], "int32")).dataSync());
      model.dispose();
      return out;
    };
    const onWasm = logits();
    await selectBackend({ backend: "cpu" });
    const onCpu = logits();
    await selectBackend({ backend: "wasm" });
    expect(maxAbsDiff(onWasm, onCpu)).toBeLessThan(1e-4);
  });
});
