// The transformer against an independent PyTorch reference, plus padding, KV cache, weights and memory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import type { ModelConfig } from "../../src/model/config.js";
import { selectBackend } from "../../src/model/backend.js";
import { KVCache, Transformer } from "../../src/model/transformer.js";

interface RefCase {
  config: ModelConfig;
  weights: Record<string, { shape: number[]; data: number[] }>;
  inputIds: number[][];
  targetIds: number[][];
  temperature: number;
  logits: number[];
  logprobs: number[][];
  grads: Record<string, number[]>;
}

const here = dirname(fileURLToPath(import.meta.url));
const TINY: ModelConfig = {
  vocabSize: 64,
  nPositions: 32,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  nInner: 128,
  layerNormEpsilon: 1e-5,
  tieWordEmbeddings: true,
};

let reference: Record<string, RefCase>;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function ids2d(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], "int32");
}

function loadReference(ref: RefCase): Transformer {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, w] of Object.entries(ref.weights)) tensors[name] = tf.tensor(w.data, w.shape, "float32");
  const model = Transformer.fromTensors(ref.config, tensors);
  tf.dispose(tensors); // the model keeps its own references
  return model;
}

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  const dir = mkdtempSync(join(tmpdir(), "gpt2-ref-"));
  try {
    const out = join(dir, "ref.json");
    execFileSync("/usr/bin/python3", [join(here, "../reference/gpt2_reference.py"), out], { stdio: "pipe" });
    reference = JSON.parse(readFileSync(out, "utf8")) as Record<string, RefCase>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("Transformer vs the PyTorch reference", () => {
  const labels: Record<string, string> = {
    tied: "tied head", untied: "untied head", rotary: "rotary positions", previous: "rotary, previous-token embedding",
  };
  for (const name of ["tied", "untied", "rotary", "previous"]) {
    it(`matches logits, log-probs and gradients (${labels[name]})`, () => {
      const ref = reference[name];
      const model = loadReference(ref);
      const ids = ids2d(ref.inputIds);
      const targets = ids2d(ref.targetIds);

      const logits = model.forward(ids);
      expect(logits.shape).toEqual([ref.inputIds.length, ref.inputIds[0].length, ref.config.vocabSize]);
      expect(maxAbsDiff(logits.dataSync(), ref.logits)).toBeLessThan(1e-4);

      const logprobs = model.tokenLogprobs(ids, targets, { temperature: ref.temperature });
      expect(maxAbsDiff(logprobs.dataSync(), ref.logprobs.flat())).toBeLessThan(1e-4);

      const { value, grads } = tf.variableGrads(
        () => tf.sum(model.tokenLogprobs(ids, targets, { temperature: ref.temperature })) as tf.Scalar,
      );
      expect(Object.keys(ref.grads).sort()).toEqual(Object.keys(model.params).sort());
      for (const [paramName, refGrad] of Object.entries(ref.grads)) {
        const grad = grads[model.params[paramName].name];
        expect(grad, paramName).toBeDefined();
        const rel = maxAbsDiff(grad.dataSync(), refGrad) / maxAbs(refGrad);
        expect(rel, paramName).toBeLessThan(1e-3);
      }
      tf.dispose([logits, logprobs, value, ids, targets]);
      tf.dispose(grads);
      model.dispose();
    });
  }
});

describe("cpu spot-check", () => {
  it("the cpu backend agrees with the reference too (tied head)", async () => {
    await selectBackend({ backend: "cpu" });
    try {
      const ref = reference.tied;
      const model = loadReference(ref);
      const ids = ids2d(ref.inputIds);
      const targets = ids2d(ref.targetIds);
      const logits = model.forward(ids);
      expect(maxAbsDiff(logits.dataSync(), ref.logits)).toBeLessThan(1e-4);
      const { value, grads } = tf.variableGrads(() => tf.sum(model.tokenLogprobs(ids, targets)) as tf.Scalar);
      for (const name of ["wte.weight", "h.0.attn.c_attn.weight", "h.1.mlp.c_fc.bias"]) {
        const refGrad = ref.grads[name];
        expect(maxAbsDiff(grads[model.params[name].name].dataSync(), refGrad) / maxAbs(refGrad), name).toBeLessThan(1e-3);
      }
      tf.dispose([logits, value, ids, targets]);
      tf.dispose(grads);
      model.dispose();
    } finally {
      await selectBackend({ backend: "wasm" });
    }
  });
});

for (const encoding of ["learned", "rotary", "rotary+previous"] as const) {
  const CONFIG: ModelConfig = encoding === "rotary+previous"
    ? { ...TINY, positionEncoding: "rotary", previousTokenEmbedding: true }
    : { ...TINY, positionEncoding: encoding };

  describe(`padding (${encoding} positions)`, () => {
    it("left padding leaves the real tokens' logits unchanged (generation layout)", () => {
      const model = Transformer.init(CONFIG, { seed: 3 });
      const rows = [
        [5, 9, 14, 2, 33, 7, 21, 40],
        [11, 3, 60],
      ];
      const width = 8;
      const padded = rows.map((r) => [...Array(width - r.length).fill(0), ...r]);
      const mask = rows.map((r) => [...Array(width - r.length).fill(0), ...r.map(() => 1)]);
      const ids = ids2d(padded);
      const maskT = ids2d(mask);
      const batched = model.forward(ids, { attentionMask: maskT }).arraySync();
      rows.forEach((r, b) => {
        const alone = model.forward(ids2d([r]));
        const real = batched[b].slice(width - r.length).flat();
        expect(maxAbsDiff(real, (alone.arraySync()[0] as number[][]).flat())).toBeLessThan(1e-5);
        alone.dispose();
      });
      tf.dispose([ids, maskT]);
      model.dispose();
    });

    it("right padding gives the unpadded log-probs and 0 at pads (training layout)", () => {
      const model = Transformer.init(CONFIG, { seed: 4 });
      const rows = [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9],
      ];
      const targets = [
        [2, 3, 4, 5, 6, 7],
        [8, 9, 10],
      ];
      const width = 6;
      const pad = (r: number[]) => [...r, ...Array(width - r.length).fill(0)];
      const ids = ids2d(rows.map(pad));
      const tgt = ids2d(targets.map(pad));
      const mask = ids2d(rows.map((r) => pad(r.map(() => 1))));
      const batched = model.tokenLogprobs(ids, tgt, { attentionMask: mask, temperature: 0.8 }).arraySync();
      rows.forEach((r, b) => {
        const aloneT = model.tokenLogprobs(ids2d([r]), ids2d([targets[b]]), { temperature: 0.8 });
        const alone = aloneT.arraySync()[0];
        expect(maxAbsDiff(batched[b].slice(0, r.length), alone)).toBeLessThan(1e-5);
        expect(batched[b].slice(r.length).every((v) => v === 0)).toBe(true);
        aloneT.dispose();
      });
      tf.dispose([ids, tgt, mask]);
      model.dispose();
    });

    it("explicit position ids equal the default ones", () => {
      const model = Transformer.init(CONFIG, { seed: 5 });
      const ids = ids2d([[0, 0, 4, 5, 6]]);
      const mask = ids2d([[0, 0, 1, 1, 1]]);
      const positions = ids2d([[0, 0, 0, 1, 2]]);
      const a = model.forward(ids, { attentionMask: mask });
      const b = model.forward(ids, { attentionMask: mask, positionIds: positions });
      const shifted = model.forward(ids, { attentionMask: mask, positionIds: ids2d([[0, 0, 2, 3, 4]]) });
      expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
      if (encoding === "learned") {
        expect(maxAbsDiff(a.dataSync(), shifted.dataSync())).toBeGreaterThan(1e-3);
      } else {
        // Rotary attention sees only offsets between positions: a shift of every position changes nothing.
        expect(maxAbsDiff(a.dataSync(), shifted.dataSync())).toBeLessThan(1e-4);
      }
      tf.dispose([ids, mask, positions, a, b, shifted]);
      model.dispose();
    });
  });

  describe(`KV cache (${encoding} positions)`, () => {
    it("prefill + one token at a time reproduces the full forward pass, with left padding", () => {
      const model = Transformer.init(CONFIG, { seed: 6 });
      const full = [
        [0, 0, 3, 17, 25, 40, 2, 9],
        [12, 8, 5, 1, 50, 22, 31, 7],
      ];
      const fullMask = [
        [0, 0, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1, 1, 1],
      ];
      const expected = model.forward(ids2d(full), { attentionMask: ids2d(fullMask) }).arraySync();
      const cache = new KVCache();
      const prefill = model.forward(ids2d(full.map((r) => r.slice(0, 5))), {
        attentionMask: ids2d(fullMask.map((r) => r.slice(0, 5))),
        kvCache: cache,
        lastPositionOnly: true,
      });
      expect(prefill.shape).toEqual([2, 1, CONFIG.vocabSize]);
      expect(cache.length).toBe(5);
      expect(cache.nextPositionIds).toEqual([3, 5]);
      const prefillRows = prefill.arraySync();
      for (let b = 0; b < 2; b++) expect(maxAbsDiff(prefillRows[b][0], expected[b][4])).toBeLessThan(1e-5);
      for (let t = 5; t < 8; t++) {
        const step = model.forward(ids2d(full.map((r) => [r[t]])), { kvCache: cache });
        const rows = step.arraySync();
        for (let b = 0; b < 2; b++) expect(maxAbsDiff(rows[b][0], expected[b][t])).toBeLessThan(1e-5);
        step.dispose();
      }
      expect(cache.length).toBe(8);
      prefill.dispose();
      cache.dispose();
      model.dispose();
    });
  });
}

describe("KV cache", () => {
  it("refuses a cache of another batch size", () => {
    const model = Transformer.init(TINY, { seed: 6 });
    const cache = new KVCache();
    tf.tidy(() => model.forward(ids2d([[1, 2]]), { kvCache: cache }));
    expect(() => model.forward(ids2d([[1], [2]]), { kvCache: cache })).toThrow(/different number of rows/);
    cache.dispose();
    model.dispose();
  });
});

describe("init and weights", () => {
  it("the same seed gives the same weights, on wasm and on cpu; GPT-2 init statistics", async () => {
    const config = { ...TINY, nLayer: 3, vocabSize: 256 };
    const a = Transformer.init(config, { seed: 11 });
    const wasmWeights = Object.fromEntries(Object.entries(a.params).map(([n, v]) => [n, v.dataSync().slice()]));
    const b = Transformer.init(config, { seed: 12 });
    expect(maxAbsDiff(a.params["wte.weight"].dataSync(), b.params["wte.weight"].dataSync())).toBeGreaterThan(0.01);
    const std = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0) / x.length);
    expect(std(wasmWeights["wte.weight"])).toBeCloseTo(0.02, 3);
    expect(std(wasmWeights["h.0.attn.c_attn.weight"])).toBeCloseTo(0.02, 3);
    expect(std(wasmWeights["h.1.mlp.c_proj.weight"])).toBeCloseTo(0.02 / Math.sqrt(6), 3);
    expect(Array.from(wasmWeights["h.2.ln_1.weight"]).every((v) => v === 1)).toBe(true);
    expect(Array.from(wasmWeights["h.2.mlp.c_fc.bias"]).every((v) => v === 0)).toBe(true);
    a.dispose();
    b.dispose();

    await selectBackend({ backend: "cpu" });
    try {
      const c = Transformer.init(config, { seed: 11 });
      for (const [name, values] of Object.entries(wasmWeights)) {
        expect(maxAbsDiff(c.params[name].dataSync(), values), name).toBe(0);
      }
      c.dispose();
    } finally {
      await selectBackend({ backend: "wasm" });
    }
  });

  it("names and shapes follow GPT-2 (no transformer. prefix; lm_head only when untied)", () => {
    const names = Transformer.parameterNames(TINY);
    expect(names.slice(0, 4)).toEqual(["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias"]);
    expect(names).toHaveLength(2 + 12 * TINY.nLayer + 2);
    expect(names).not.toContain("lm_head.weight");
    const shapes = Transformer.expectedShapes({ ...TINY, tieWordEmbeddings: false, nInner: 48 });
    expect(shapes["lm_head.weight"]).toEqual([64, 32]);
    expect(shapes["h.1.attn.c_attn.weight"]).toEqual([32, 96]);
    expect(shapes["h.1.mlp.c_fc.weight"]).toEqual([32, 48]);
    expect(shapes["h.1.mlp.c_proj.weight"]).toEqual([48, 32]);
    const model = Transformer.init(TINY, { seed: 1 });
    const expectedCount = Object.values(Transformer.expectedShapes(TINY)).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    expect(model.numParameters()).toBe(expectedCount);
    model.dispose();
  });

  it("fromTensors names the offending tensor, the expected and the actual shape", () => {
    const base = Transformer.init(TINY, { seed: 1 });
    const good = base.getWeights();
    const attempt = (edit: (t: Record<string, tf.Tensor>) => void): GrpoError => {
      const tensors = { ...good };
      edit(tensors);
      try {
        Transformer.fromTensors(TINY, tensors).dispose();
      } catch (error) {
        expect(error).toBeInstanceOf(GrpoError);
        expect((error as GrpoError).code).toBe("invalid_weights");
        return error as GrpoError;
      }
      throw new Error("fromTensors accepted bad weights");
    };
    const transposed = tf.zeros([96, 32]);
    let e = attempt((t) => (t["h.1.attn.c_attn.weight"] = transposed));
    expect(e.message).toContain('tensors["h.1.attn.c_attn.weight"]');
    expect(e.message).toContain("[32, 96]");
    expect(e.message).toContain("[96,32]");
    expect(e.fix).toMatch(/transpose/);
    e = attempt((t) => delete t["ln_f.bias"]);
    expect(e.message).toContain('tensors["ln_f.bias"]');
    expect(e.message).toMatch(/missing/);
    e = attempt((t) => {
      t["transformer.wte.weight"] = t["wte.weight"];
      delete t["wte.weight"];
    });
    expect(e.fix).toContain('"wte.weight"');
    e = attempt((t) => (t["lm_head.weight"] = t["wte.weight"]));
    expect(e.fix).toMatch(/tieWordEmbeddings/);
    const ints = tf.zeros([32], "int32");
    e = attempt((t) => (t["ln_f.weight"] = ints));
    expect(e.message).toContain("float32");
    tf.dispose([transposed, ints]);
    tf.dispose(good);
    base.dispose();
  });

  it("getWeights/setWeights round-trip; the caller may dispose what it passed", () => {
    const a = Transformer.init(TINY, { seed: 21 });
    const b = Transformer.init(TINY, { seed: 22 });
    const ids = ids2d([[3, 1, 4, 1, 5]]);
    const la = a.forward(ids);
    const lb = b.forward(ids);
    expect(maxAbsDiff(la.dataSync(), lb.dataSync())).toBeGreaterThan(1e-3);
    const weights = a.getWeights();
    b.setWeights(weights);
    tf.dispose(weights);
    a.dispose(); // b must not share a's memory
    const lb2 = b.forward(ids);
    expect(maxAbsDiff(la.dataSync(), lb2.dataSync())).toBe(0);
    expect(() => a.forward(ids)).toThrow(/disposed/);
    tf.dispose([ids, la, lb, lb2]);
    b.dispose();
  });

  it("rejects out-of-vocabulary ids and over-long rows with the position named", () => {
    const model = Transformer.init(TINY, { seed: 1 });
    const bad = ids2d([[1, 64]]);
    expect(() => model.forward(bad)).toThrow(/inputIds\[0\]\[1\]/);
    const long = tf.zeros([1, 33], "int32") as tf.Tensor2D;
    expect(() => model.forward(long)).toThrow(/context window/);
    tf.dispose([bad, long]);
    model.dispose();
  });
});

describe("memory", () => {
  it("repeated forward, tokenLogprobs, gradients and cached steps leave no tensors behind", () => {
    const model = Transformer.init(TINY, { seed: 8 });
    const ids = ids2d([
      [1, 2, 3, 4],
      [5, 6, 7, 0],
    ]);
    const mask = ids2d([
      [1, 1, 1, 1],
      [1, 1, 1, 0],
    ]);
    const round = () => {
      model.forward(ids, { attentionMask: mask }).dispose();
      model.tokenLogprobs(ids, ids, { attentionMask: mask, temperature: 0.7 }).dispose();
      const { value, grads } = tf.variableGrads(() => tf.sum(model.tokenLogprobs(ids, ids, { attentionMask: mask })) as tf.Scalar);
      value.dispose();
      tf.dispose(grads);
      const cache = new KVCache();
      model.forward(ids, { attentionMask: mask, kvCache: cache, lastPositionOnly: true }).dispose();
      const next = ids2d([[1], [2]]);
      model.forward(next, { kvCache: cache }).dispose();
      next.dispose();
      cache.dispose();
    };
    round(); // warm-up (tfjs may allocate lazily once)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) round();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
    model.dispose();
  });
});
