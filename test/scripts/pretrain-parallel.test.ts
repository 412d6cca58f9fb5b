// Data-parallel pretraining (scripts/pretrain/parallel.ts): a step whose gradient is computed in
// shards across worker threads is the single-thread step up to float summation order, a run with
// the same thread count is bit-reproducible, and the call drill that pretraining mixes in has the
// shape the copy recipe needs.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { calculatorCallText, generateCallDrillConversation, generateDrillConversation, SYSTEM_PROMPTS } from "../../scripts/corpus/generate.js";
import { makeBatch, splitBatch } from "../../scripts/pretrain/data.js";
import { batchLoss, shardGradients, trainStep } from "../../scripts/pretrain/loop.js";
import { DataParallelSteps } from "../../scripts/pretrain/parallel.js";
import { selectBackend } from "../../src/model/backend.js";
import type { ModelConfig } from "../../src/model/config.js";
import { Transformer } from "../../src/model/transformer.js";
import { AdamW } from "../../src/training/optimizer.js";
import { GrpoError } from "../../src/core/errors.js";
import { COPY_PRESET, DEFAULT_PRESET, INDUCTION_PRESET, PLAIN_PRESET, PRESETS, runPretrainCli, withDrillSteps } from "../../scripts/pretrain.js";

const config: ModelConfig = { vocabSize: 97, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, nInner: 64, layerNormEpsilon: 1e-5, tieWordEmbeddings: true, eosTokenId: 1, positionEncoding: "rotary" };

/** Rows of random lengths (some shorter than T + 1, so the shards' target counts differ). */
function randomBatch(seed: number, rows: number, T: number) {
  const rng = Rng.fromSeed(seed);
  const data = Array.from({ length: rows }, () => Array.from({ length: 4 + rng.int(T - 3) }, () => 2 + rng.int(95)));
  return makeBatch(data, T, 0);
}

async function values(model: Transformer): Promise<Record<string, Float32Array>> {
  return Object.fromEntries(Object.entries(await model.weightValues()).map(([n, w]) => [n, w.data]));
}

function maxRelativeDifference(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let worst = 0;
  for (const name of Object.keys(a)) {
    let diff = 0;
    let scale = 0;
    a[name].forEach((x, i) => {
      diff = Math.max(diff, Math.abs(x - b[name][i]));
      scale = Math.max(scale, Math.abs(x));
    });
    worst = Math.max(worst, diff / Math.max(scale, 1e-6));
  }
  return worst;
}

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
});

describe("makeBatch with loss flags", () => {
  it("counts only the flagged targets of a row, and every target of a row without flags", () => {
    const batch = makeBatch([[5, 6, 7, 8], [9, 10, 11]], 4, 0, [[false, false, true, true], undefined]);
    // Row 0: targets 6, 7, 8 at positions 0-2 flagged false, true, true; row 1: targets 10, 11.
    expect(Array.from(batch.lossMask)).toEqual([0, 1, 1, 0, 1, 1, 0, 0]);
    expect(batch.targetCount).toBe(4);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 0, 1, 1, 0, 0]); // inputs stay real either way
    expect(() => makeBatch([[5, 6, 7]], 4, 0, [[true, true]])).toThrow(/3 tokens but 2 loss flags/);
  });
});

describe("splitBatch", () => {
  it("splits rows into contiguous shards whose rows and target counts add up to the batch's", () => {
    const batch = randomBatch(1, 7, 12);
    const shards = splitBatch(batch, 3);
    expect(shards.map((s) => s.rows)).toEqual([3, 2, 2]);
    expect(shards.reduce((n, s) => n + s.targetCount, 0)).toBe(batch.targetCount);
    expect(Array.from(shards.flatMap((s) => Array.from(s.inputIds)))).toEqual(Array.from(batch.inputIds));
    expect(Array.from(shards.flatMap((s) => Array.from(s.lossMask)))).toEqual(Array.from(batch.lossMask));
    expect(splitBatch(batch, 20)).toHaveLength(7); // never an empty shard
    expect(() => splitBatch(batch, 0)).toThrow(/positive integer/);
  });
});

describe("shard gradients", () => {
  it("sum to the whole batch's mean-loss gradient when each shard divides by the batch's target count", () => {
    const model = Transformer.init(config, { seed: 2 });
    const batch = randomBatch(3, 4, 16);
    const whole = tf.variableGrads(() => batchLoss(model, batch), Object.values(model.params));
    const parts = splitBatch(batch, 2).map((s) => shardGradients(model, s, batch.targetCount));
    expect(parts[0].lossSum + parts[1].lossSum).toBeCloseTo(whole.value.dataSync()[0], 5);
    const names = Object.keys(model.params);
    Object.values(model.params).forEach((v, k) => {
      const expected = whole.grads[v.name].dataSync();
      const summed = tf.add(parts[0].grads[names[k]], parts[1].grads[names[k]]).dataSync();
      let worst = 0;
      expected.forEach((x, i) => { worst = Math.max(worst, Math.abs(x - summed[i])); });
      expect(worst, names[k]).toBeLessThan(1e-6);
    });
    tf.dispose([whole.value, ...Object.values(whole.grads), ...parts.flatMap((p) => Object.values(p.grads))]);
    model.dispose();
  });
});

describe("DataParallelSteps", () => {
  let parallel: DataParallelSteps;
  beforeAll(async () => {
    parallel = await DataParallelSteps.start(1, config, "wasm");
  });
  afterAll(async () => {
    await parallel?.close();
  });

  async function run(steps: (model: Transformer, optimizer: AdamW, batch: ReturnType<typeof randomBatch>, lr: number) => Promise<{ loss: number; gradNorm: number }>) {
    const model = Transformer.init(config, { seed: 4 });
    const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const results = [];
    for (let step = 0; step < 3; step++) results.push(await steps(model, optimizer, randomBatch(10 + step, 6, 16), 3e-3));
    const weights = await values(model);
    model.dispose();
    optimizer.dispose();
    return { results, weights };
  }

  it("takes the same steps as the single-thread trainStep, up to float summation order", async () => {
    expect(parallel.threads).toBe(2);
    const single = await run((m, o, b, lr) => trainStep(m, o, b, lr, 1.0));
    const sharded = await run((m, o, b, lr) => parallel.trainStep(m, o, b, lr, 1.0));
    sharded.results.forEach((r, k) => {
      expect(r.loss).toBeCloseTo(single.results[k].loss, 5);
      expect(r.gradNorm).toBeCloseTo(single.results[k].gradNorm, 4);
    });
    // AdamW divides by sqrt(v): a 1e-7 gradient difference can move a weight by ~lr · 1e-3 at most.
    expect(maxRelativeDifference(sharded.weights, single.weights)).toBeLessThan(1e-3);
    // And the worker really computed half of it: a single-thread model stepped on only the
    // coordinator's shard ends elsewhere.
    const half = await run((m, o, b, lr) => trainStep(m, o, splitBatch(b, 2)[0], lr, 1.0));
    expect(maxRelativeDifference(half.weights, single.weights)).toBeGreaterThan(1e-2);
  });

  it("is bit-reproducible with the same number of threads", async () => {
    const a = await run((m, o, b, lr) => parallel.trainStep(m, o, b, lr, 1.0));
    const b = await run((m, o, b2, lr) => parallel.trainStep(m, o, b2, lr, 1.0));
    expect(maxRelativeDifference(a.weights, b.weights)).toBe(0);
  });

  it("refuses a negative or fractional thread count with a clear error", async () => {
    await expect(DataParallelSteps.start(-1, config, "wasm")).rejects.toThrow(/integer >= 0, got -1/);
    await expect(DataParallelSteps.start(0.5, config, "wasm")).rejects.toThrow(/integer >= 0, got 0.5/);
  });
});

describe("the call drill (pretraining's copy practice)", () => {
  const drill = Array.from({ length: 200 }, (_, i) => generateCallDrillConversation(5, i));

  it("is a pure function of seed and index, apart from the episode drill's stream", () => {
    expect(generateCallDrillConversation(5, 17)).toEqual(drill[17]);
    expect(generateCallDrillConversation(6, 17)).not.toEqual(drill[17]);
    expect(generateCallDrillConversation(5, 17).messages[1]).not.toEqual(generateDrillConversation(5, 17).messages[1]);
    expect(() => generateCallDrillConversation(5, -1)).toThrow(GrpoError);
  });

  it("holds three questions about `a op b`, each answered by exactly its calculator call and nothing else", () => {
    for (const c of drill) {
      expect([SYSTEM_PROMPTS.calculator, SYSTEM_PROMPTS.toolAgent]).toContain(c.messages[0].content);
      expect(c.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant", "user", "assistant"]);
      const expressions = c.meta!.expressions as string[];
      expressions.forEach((expression, k) => {
        expect(expression).toMatch(/^[1-9]\d{0,2} [-+*/] [1-9]\d?$/);
        expect(c.messages[1 + 2 * k].content).toContain(expression);
        expect(c.messages[2 + 2 * k].content).toBe(calculatorCallText(expression));
      });
    }
    const prompts = new Set(drill.map((c) => c.messages[0].content));
    expect(prompts.size).toBe(2); // both calculator prompts occur
  });
});

describe("pretraining presets", () => {
  it("makes the induction recipe the default, and keeps plain and copy apart from it", () => {
    expect(DEFAULT_PRESET).toBe("induction");
    expect(PRESETS[DEFAULT_PRESET]).toBe(INDUCTION_PRESET);
    expect(PLAIN_PRESET).toMatchObject({ steps: 1600, toolDrill: 0, threads: 1, episodeDrills: [] });
    expect(COPY_PRESET).toMatchObject({ steps: 5000, toolDrill: 0.3, drillKind: "calls", threads: 2, episodeDrills: [{ steps: 40, learningRate: 1e-3, drillRows: 2 }] });
    // Same model and corpus: only the schedule, the drills and the threads differ.
    for (const key of ["vocabSize", "nEmbd", "nLayer", "nHead", "nPositions", "learningRate", "conversations"] as const) expect(COPY_PRESET[key]).toEqual(PLAIN_PRESET[key]);
    // Neither adds the previous-token embedding or induction rows; the induction recipe adds both to
    // the copy recipe, runs 2400 steps, and drills episodes in two stages (40 then 120 steps).
    for (const preset of [PLAIN_PRESET, COPY_PRESET]) expect(preset).toMatchObject({ previousTokenEmbedding: false, inductionRows: 0 });
    expect(INDUCTION_PRESET).toEqual({
      ...COPY_PRESET,
      previousTokenEmbedding: true,
      inductionRows: 0.1,
      steps: 2400,
      episodeDrills: [{ steps: 40, learningRate: 1e-3, drillRows: 2 }, { steps: 120, learningRate: 1e-3, drillRows: 2 }],
    });
  });

  it("overrides the drill stages' steps, keeping each stage's settings and dropping stages of 0 steps", () => {
    const stages = [{ steps: 40, learningRate: 1e-3, drillRows: 2 }, { steps: 120, learningRate: 5e-4, drillRows: 3 }];
    expect(withDrillSteps(stages, [10, 20])).toEqual([{ steps: 10, learningRate: 1e-3, drillRows: 2 }, { steps: 20, learningRate: 5e-4, drillRows: 3 }]);
    expect(withDrillSteps(stages, [0, 20])).toEqual([{ steps: 20, learningRate: 5e-4, drillRows: 3 }]);
    // A third stage takes the last stage's settings; a preset without stages, 1e-3 and 2 episode rows.
    expect(withDrillSteps(stages, [1, 2, 3])[2]).toEqual({ steps: 3, learningRate: 5e-4, drillRows: 3 });
    expect(withDrillSteps([], [7])).toEqual([{ steps: 7, learningRate: 1e-3, drillRows: 2 }]);
    expect(withDrillSteps(stages, [0])).toEqual([]);
  });

  it("rejects an unknown preset or thread count with the accepted values", async () => {
    const stderr = process.stderr.write;
    process.stderr.write = () => true;
    try {
      await expect(runPretrainCli(["node", "pretrain", "--preset", "huge"])).rejects.toThrow(/--preset must be one of induction, plain, copy/);
      await expect(runPretrainCli(["node", "pretrain", "--threads", "0"])).rejects.toThrow(/--threads needs an integer >= 1, got "0"/);
      await expect(runPretrainCli(["node", "pretrain", "--episode-drill-steps", "-1"])).rejects.toThrow(/--episode-drill-steps needs integers >= 0 separated by commas \(e\.g\. 40,120; 0 for none\), got "-1"/);
      await expect(runPretrainCli(["node", "pretrain", "--episode-drill-steps", "40,,120"])).rejects.toThrow(/--episode-drill-steps needs integers >= 0 .*got "40,,120"/);
      await expect(runPretrainCli(["node", "pretrain", "--episode-drill-steps", "40,1.5"])).rejects.toThrow(/--episode-drill-steps needs integers >= 0 .*got "40,1.5"/);
    } finally {
      process.stderr.write = stderr;
    }
  });
});
