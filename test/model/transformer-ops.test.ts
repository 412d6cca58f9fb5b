// The custom-gradient ops against tfjs's stock ops and gradients (cpu backend), and on wasm.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/model/backend.js";
import { batchMatMul, embeddingLookup, geluTanh, linear, targetLogSoftmax } from "../../src/model/ops.js";

type Inputs = () => tf.Tensor[];

/** Values and gradients of sum(f(...) * weights) w.r.t. the float inputs, as plain arrays. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], floatCount: number) {
  return tf.tidy(() => {
    const out = f(...inputs);
    // A fixed, non-uniform upstream gradient so that every output element matters differently.
    const weights = tf.sin(tf.add(tf.range(0, out.size, 1), 0.5)).reshape(out.shape);
    const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs, ...inputs.slice(floatCount)), weights));
    // Under a gradient tape the ops take their custom-gradient path; outside it, the plain one.
    const { value: taped, grads } = tf.valueAndGrads(loss)(inputs.slice(0, floatCount));
    const untaped = tf.sum(tf.mul(out, weights));
    return {
      value: Array.from(out.dataSync()),
      loss: [taped.dataSync()[0], untaped.dataSync()[0]],
      grads: grads.map((g) => Array.from(g.dataSync())),
    };
  });
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, "float32", seed);
}

interface Case {
  name: string;
  inputs: Inputs;
  floatCount: number;
  custom: (...xs: tf.Tensor[]) => tf.Tensor;
  stock: (...xs: tf.Tensor[]) => tf.Tensor;
}

const ids = () => tf.tensor2d([[3, 1, 3], [0, 7, 3]], [2, 3], "int32"); // repeated ids: gradients must add up

const cases: Case[] = [
  {
    name: "linear with bias",
    inputs: () => [seeded([5, 4], 1), seeded([4, 6], 2), seeded([6], 3)],
    floatCount: 3,
    custom: (x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
    stock: (x, w, b) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b),
  },
  {
    name: "linear without bias",
    inputs: () => [seeded([5, 4], 4), seeded([4, 6], 5)],
    floatCount: 2,
    custom: (x, w) => linear(x as tf.Tensor2D, w as tf.Tensor2D),
    stock: (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
  },
  {
    name: "batchMatMul rank 4 (attention layout)",
    inputs: () => [seeded([2, 3, 5, 4], 6), seeded([2, 3, 4, 7], 7)],
    floatCount: 2,
    custom: (a, b) => batchMatMul(a, b),
    stock: (a, b) => tf.matMul(a as tf.Tensor4D, b as tf.Tensor4D),
  },
  {
    name: "batchMatMul rank 3",
    inputs: () => [seeded([3, 2, 5], 8), seeded([3, 5, 4], 9)],
    floatCount: 2,
    custom: (a, b) => batchMatMul(a, b),
    stock: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
  },
  {
    name: "embeddingLookup with repeated ids",
    inputs: () => [seeded([8, 5], 10), ids()],
    floatCount: 1,
    custom: (table, i) => embeddingLookup(table as tf.Tensor2D, i as tf.Tensor2D),
    stock: (table, i) => tf.gather(table, i),
  },
  {
    name: "targetLogSoftmax",
    inputs: () => [tf.mul(seeded([6, 9], 11), 3), tf.tensor1d([0, 8, 4, 4, 2, 7], "int32")],
    floatCount: 1,
    custom: (z, t) => targetLogSoftmax(z as tf.Tensor2D, t as tf.Tensor1D),
    stock: (z, t) => tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(t as tf.Tensor1D, 9)), 1),
  },
  {
    name: "geluTanh",
    inputs: () => [tf.mul(seeded([4, 10], 12), 2.5)],
    floatCount: 1,
    custom: (x) => geluTanh(x),
    stock: (x) =>
      tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))),
  },
];

describe("custom-gradient ops", () => {
  beforeAll(async () => {
    await selectBackend({ backend: "cpu" });
  });

  for (const c of cases) {
    it(`${c.name}: value and gradient equal tfjs's stock op on cpu`, () => {
      const inputs = c.inputs();
      const mine = valueAndGrads(c.custom, inputs, c.floatCount);
      const stock = valueAndGrads(c.stock, inputs, c.floatCount);
      expect(maxAbsDiff(mine.value, stock.value)).toBeLessThan(1e-5);
      expect(maxAbsDiff(mine.loss, stock.loss)).toBeLessThan(1e-4);
      mine.grads.forEach((g, i) => {
        const scale = Math.max(1, ...stock.grads[i].map(Math.abs));
        expect(maxAbsDiff(g, stock.grads[i]) / scale, `gradient of input ${i}`).toBeLessThan(1e-5);
      });
      tf.dispose(inputs);
    });
  }

  it("run on wasm with the same values and gradients as on cpu (wasm lacks UnsortedSegmentSum)", async () => {
    const onCpu = cases.map((c) => {
      const inputs = c.inputs();
      const r = valueAndGrads(c.custom, inputs, c.floatCount);
      tf.dispose(inputs);
      return r;
    });
    await selectBackend({ backend: "wasm" });
    try {
      cases.forEach((c, k) => {
        const inputs = c.inputs(); // seeded: the same values on both backends
        const r = valueAndGrads(c.custom, inputs, c.floatCount);
        expect(maxAbsDiff(r.value, onCpu[k].value), c.name).toBeLessThan(1e-4);
        r.grads.forEach((g, i) => expect(maxAbsDiff(g, onCpu[k].grads[i]), `${c.name} grad ${i}`).toBeLessThan(1e-4));
        tf.dispose(inputs);
      });
    } finally {
      await selectBackend({ backend: "cpu" });
    }
  });

  it("batchMatMul refuses shapes that do not multiply", () => {
    const a = tf.zeros([2, 3, 4]);
    const b = tf.zeros([2, 5, 4]);
    expect(() => batchMatMul(a, b)).toThrow(/do not multiply/);
    tf.dispose([a, b]);
  });
});
