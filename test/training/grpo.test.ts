import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import type { LossType, ImportanceSamplingLevel } from "../../src/training/config.js";
import {
  LOSS_AGGREGATIONS,
  batchAdvantages,
  clippedSurrogate,
  entropyFromLogits,
  grpoLoss,
  grpoLossTensor,
  grpoMetrics,
  importanceRatios,
  klK3,
  perTokenLoss,
  stopGradient,
  type GRPOLossInputs,
  type GRPOLossOptions,
} from "../../src/training/grpo.js";

const REFERENCE_SCRIPT = fileURLToPath(new URL("../reference/grpo_reference.py", import.meta.url));

interface ReferenceCase {
  lossType: LossType;
  level: ImportanceSamplingLevel;
  beta: number;
  old: "given" | "detached";
  loss: number;
  grad: number[][];
}
interface ClipMetrics {
  low: number;
  high: number;
  region: number;
}
interface Reference {
  config: { groups: number; groupSize: number; epsilon: number; epsilonHigh: number; advantageEpsilon: number;
    maxCompletionLength: number; numItemsInBatch: number };
  inputs: { rewards: number[]; logprobs: number[][]; oldLogprobs: number[][]; refLogprobs: number[][];
    mask: number[][]; logits: number[][][] };
  advantages: Record<"group" | "batch" | "none", number[]>;
  ratios: Record<ImportanceSamplingLevel, number[][]>;
  surrogate: number[][];
  kl: number[][];
  metrics: { kl: number; token: ClipMetrics; sequence: ClipMetrics };
  entropy: number;
  cases: ReferenceCase[];
}

/** |actual − expected| ≤ tol · max(1, max|expected|) for every element: absolute, scaled to the data. */
function expectAllClose(actual: number[], expected: number[], tol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const scale = Math.max(1, ...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst, `${what}: worst abs error ${worst}`).toBeLessThanOrEqual(tol * scale);
}

/** Relative agreement with a small absolute floor (for values near 0). */
function expectRelClose(actual: number, expected: number, rel: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-7);
}

const flat = (rows: number[][]) => rows.flat();

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("GRPO math against the PyTorch reference", () => {
  let ref: Reference;
  let dir: string;
  let inputs: { logprobs: tf.Tensor2D; old: tf.Tensor2D; refLogprobs: tf.Tensor2D; mask: tf.Tensor2D; advantages: tf.Tensor1D };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "grpo-ref-"));
    const out = join(dir, "grpo.json");
    execFileSync("/usr/bin/python3", [REFERENCE_SCRIPT, out], { stdio: ["ignore", "inherit", "inherit"] });
    ref = JSON.parse(readFileSync(out, "utf8")) as Reference;
    inputs = {
      logprobs: tf.tensor2d(ref.inputs.logprobs),
      old: tf.tensor2d(ref.inputs.oldLogprobs),
      refLogprobs: tf.tensor2d(ref.inputs.refLogprobs),
      mask: tf.tensor2d(ref.inputs.mask),
      advantages: tf.tensor1d(ref.advantages.group),
    };
  });

  afterAll(() => {
    if (inputs) Object.values(inputs).forEach((t) => t.dispose());
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const optionsFor = (c: Pick<ReferenceCase, "lossType" | "level" | "beta">): GRPOLossOptions => ({
    lossType: c.lossType,
    importanceSamplingLevel: c.level,
    beta: c.beta,
    epsilon: ref.config.epsilon,
    epsilonHigh: ref.config.epsilonHigh,
    maxCompletionLength: ref.config.maxCompletionLength,
    numItemsInBatch: c.lossType === "dapo" ? ref.config.numItemsInBatch : undefined,
  });

  it("covers the edge cases it claims to", () => {
    const rowTokens = ref.inputs.mask.map((row) => row.reduce((a, b) => a + b, 0));
    expect(rowTokens).toContain(0); // a row with an all-zero mask
    expect(ref.advantages.group.filter((a) => a === 0).length).toBe(ref.config.groupSize); // zero-variance group
    const ratios = flat(ref.ratios.token).filter((_, i) => flat(ref.inputs.mask)[i] === 1);
    expect(Math.max(...ratios)).toBeGreaterThan(5); // far above 1 + epsHigh
    expect(Math.min(...ratios)).toBeLessThan(0.2); // far below 1 - eps
    expect(ref.metrics.token.low).toBeGreaterThan(0);
    expect(ref.metrics.token.high).toBeGreaterThan(0);
    expect(ref.cases.length).toBe(4 * 2 * 2 * 2);
  });

  it("advantages in every scale mode (group, batch, none)", () => {
    const { groups, groupSize, advantageEpsilon } = ref.config;
    const rewardsByGroup = Array.from({ length: groups }, (_, g) => ref.inputs.rewards.slice(g * groupSize, (g + 1) * groupSize));
    for (const scale of ["group", "batch", "none"] as const) {
      const ours = batchAdvantages(rewardsByGroup, { scale, epsilon: advantageEpsilon }).flat();
      expectAllClose(ours, ref.advantages[scale], 1e-12, `advantages/${scale}`);
    }
    // a zero-variance group gets advantages exactly 0, not tiny numbers
    expect(batchAdvantages([[0.5, 0.5, 0.5]])[0]).toEqual([0, 0, 0]);
  });

  it("token and sequence importance ratios", () => {
    for (const level of ["token", "sequence"] as const) {
      const ratio = importanceRatios(inputs.logprobs, inputs.old, inputs.mask, level);
      expectAllClose(Array.from(ratio.dataSync()), flat(ref.ratios[level]), 2e-6, `ratio/${level}`);
      ratio.dispose();
    }
  });

  it("clipped surrogate and k3 KL per token", () => {
    tf.tidy(() => {
      const ratio = importanceRatios(inputs.logprobs, inputs.old, inputs.mask, "token");
      const surrogate = clippedSurrogate(ratio, inputs.advantages, ref.config.epsilon, ref.config.epsilonHigh);
      expectAllClose(Array.from(surrogate.dataSync()), flat(ref.surrogate), 2e-6, "surrogate");
      const kl = klK3(inputs.logprobs, inputs.refLogprobs);
      expectAllClose(Array.from(kl.dataSync()), flat(ref.kl), 1e-6, "k3");
    });
  });

  it("loss and gradient w.r.t. logprobs of every lossType × level × beta × (given / detached old)", () => {
    const before = tf.memory().numTensors;
    for (const c of ref.cases) {
      const name = `${c.lossType}/${c.level}/beta=${c.beta}/old=${c.old}`;
      const options = optionsFor(c);
      const lossOf = (logprobs: tf.Tensor): tf.Scalar =>
        grpoLossTensor(
          {
            logprobs: logprobs as tf.Tensor2D,
            oldLogprobs: c.old === "given" ? inputs.old : undefined,
            refLogprobs: inputs.refLogprobs,
            advantages: inputs.advantages,
            completionMask: inputs.mask,
          },
          options,
        );
      const { value, grad } = tf.valueAndGrad(lossOf)(inputs.logprobs);
      expectRelClose(value.dataSync()[0], c.loss, 1e-5, `loss ${name}`);
      expectAllClose(Array.from(grad.dataSync()), flat(c.grad), 1e-6, `grad ${name}`);
      const gradRows = grad.arraySync() as number[][];
      const emptyRow = ref.inputs.mask.findIndex((row) => row.every((m) => m === 0));
      expect(gradRows[emptyRow].every((g) => g === 0), `${name}: an empty row gets no gradient`).toBe(true);
      value.dispose();
      grad.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("metrics: masked mean KL and TRL's clip ratios", () => {
    for (const level of ["token", "sequence"] as const) {
      const metrics = grpoMetrics(
        { logprobs: inputs.logprobs, oldLogprobs: inputs.old, refLogprobs: inputs.refLogprobs,
          advantages: inputs.advantages, completionMask: inputs.mask },
        optionsFor({ lossType: "grpo", level, beta: 0.04 }),
      );
      expectRelClose(metrics.kl ?? Number.NaN, ref.metrics.kl, 1e-5, "kl");
      expectRelClose(metrics.clipRatioLowMean, ref.metrics[level].low, 1e-6, `${level} low`);
      expectRelClose(metrics.clipRatioHighMean, ref.metrics[level].high, 1e-6, `${level} high`);
      expectRelClose(metrics.clipRatioRegionMean, ref.metrics[level].region, 1e-6, `${level} region`);
    }
  });

  it("entropy of the logits, masked mean", () => {
    const logits = tf.tensor3d(ref.inputs.logits);
    expectRelClose(entropyFromLogits(logits, inputs.mask), ref.entropy, 1e-5, "entropy");
    logits.dispose();
  });

  it("dapo without numItemsInBatch equals bnpo (no accumulation)", () => {
    const base = { logprobs: inputs.logprobs, oldLogprobs: inputs.old, advantages: inputs.advantages, completionMask: inputs.mask };
    const opts = { ...optionsFor({ lossType: "bnpo", level: "token", beta: 0 }), numItemsInBatch: undefined };
    const bnpo = grpoLossTensor(base, opts);
    const dapo = grpoLossTensor(base, { ...opts, lossType: "dapo" });
    const bnpoCase = ref.cases.find((c) => c.lossType === "bnpo" && c.level === "token" && c.beta === 0 && c.old === "given");
    expectRelClose(dapo.dataSync()[0], bnpoCase!.loss, 1e-5, "dapo = bnpo");
    expect(dapo.dataSync()[0]).toBe(bnpo.dataSync()[0]);
    tf.dispose([bnpo, dapo]);
  });
});

// A 2×3 batch worked out by hand.
//   logprobs L = [[-1, -2, -0.5], [-0.3, -1.2, -2]]; ratios r = [[1, 2, 0.5], [1, 0.5, 1.1]] (old = L − ln r);
//   mask [[1, 1, 1], [1, 1, 0]]; advantages A = [1, −2]; ε = ε_high = 0.2 (clip to [0.8, 1.2]).
//   per-token −min(r·A, clip(r)·A):
//     row 0 (A = 1):  r=1 → −1;   r=2 → −min(2, 1.2) = −1.2 (clipped);   r=0.5 → −min(0.5, 0.8) = −0.5
//     row 1 (A = −2): r=1 → 2;    r=0.5 → −min(−1, −1.6) = 1.6 (clipped); r=1.1 → masked out
//   row sums −2.7 (3 tokens) and 3.6 (2 tokens):
//     grpo   = mean(−2.7/3, 3.6/2) = mean(−0.9, 1.8) = 0.45
//     bnpo   = (−2.7 + 3.6) / 5 = 0.18
//     dr_grpo (maxCompletionLength 4) = 0.9 / (2·4) = 0.1125
//     dapo (numItemsInBatch 9) = 0.9 / 9 = 0.1
//   d loss / d logp: an unclipped term −r·A has derivative −r·A (dr/dlogp = r), a clipped one 0;
//     per token [[−1, 0, −0.5], [2, 0, 0]]; grpo weights 1/(B·|row|) = 1/6 and 1/4:
//     [[−1/6, 0, −1/12], [0.5, 0, 0]].
//   clip ratios: low (r < 0.8, A < 0): row 1 token 1 → 1/5; high (r > 1.2, A > 0): row 0 token 1 → 1/5.
//   sequence level: row 0 mean log r = (0 + ln2 − ln2)/3 = 0 → s = 1; row 1 = (0 − ln2)/2 → s = 1/√2.
//     row 0: −A·s = −1 per token, mean −1; row 1: s = 0.707 < 0.8 with A < 0 → −min(−1.414, −1.6) = 1.6.
//     grpo = mean(−1, 1.6) = 0.3; gradient row 0: −A·s/(2·3) = −1/6 per token, row 1 clipped → 0.
//   KL with ref = L except ref[0][1] = L[0][1] + ln2: k3 = 2 − ln2 − 1 = 0.306853 on that token;
//     masked mean 0.306853/5; grpo with beta 0.1 adds 0.1·mean(0.306853/3, 0) = 0.0051142;
//     d k3 / d logp = 1 − e^(ref − logp) = −1 there → extra gradient 0.1·(−1)/6.
describe("GRPO math on a 2×3 batch worked out by hand", () => {
  const LN2 = Math.log(2);
  const L = [[-1, -2, -0.5], [-0.3, -1.2, -2]];
  const r = [[1, 2, 0.5], [1, 0.5, 1.1]];
  const opts: GRPOLossOptions = { lossType: "grpo", epsilon: 0.2, epsilonHigh: 0.2, beta: 0, importanceSamplingLevel: "token",
    maxCompletionLength: 4 };
  let batch: GRPOLossInputs & { logprobs: tf.Tensor2D; oldLogprobs: tf.Tensor2D; completionMask: tf.Tensor2D };

  beforeAll(() => {
    batch = {
      logprobs: tf.tensor2d(L),
      oldLogprobs: tf.tensor2d(L.map((row, i) => row.map((l, j) => l - Math.log(r[i][j])))),
      completionMask: tf.tensor2d([[1, 1, 1], [1, 1, 0]]),
      advantages: [1, -2],
    };
  });
  afterAll(() => tf.dispose([batch.logprobs, batch.oldLogprobs, batch.completionMask]));

  const lossValue = (o: Partial<GRPOLossOptions>, b: GRPOLossInputs = batch) => {
    const t = grpoLossTensor(b, { ...opts, ...o });
    const v = t.dataSync()[0];
    t.dispose();
    return v;
  };
  const gradOf = (o: Partial<GRPOLossOptions>, b: GRPOLossInputs = batch) => {
    const g = tf.grad((lp: tf.Tensor) => grpoLossTensor({ ...b, logprobs: lp as tf.Tensor2D }, { ...opts, ...o }))(batch.logprobs);
    const rows = g.arraySync() as number[][];
    g.dispose();
    return rows;
  };

  it("loss of every lossType", () => {
    expect(lossValue({ lossType: "grpo" })).toBeCloseTo(0.45, 6);
    expect(lossValue({ lossType: "bnpo" })).toBeCloseTo(0.18, 6);
    expect(lossValue({ lossType: "dr_grpo" })).toBeCloseTo(0.1125, 6);
    expect(lossValue({ lossType: "dapo", numItemsInBatch: 9 })).toBeCloseTo(0.1, 6);
    expect(Object.keys(LOSS_AGGREGATIONS).sort()).toEqual(["bnpo", "dapo", "dr_grpo", "grpo"]);
  });

  it("gradient: unclipped tokens −r·A, clipped tokens 0, scaled by the normalisation", () => {
    const g = gradOf({ lossType: "grpo" });
    const expected = [[-1 / 6, 0, -1 / 12], [0.5, 0, 0]];
    g.flat().forEach((v, i) => expect(v).toBeCloseTo(expected.flat()[i], 6));
    const gb = gradOf({ lossType: "bnpo" });
    [[-0.2, 0, -0.1], [0.4, 0, 0]].flat().forEach((v, i) => expect(gb.flat()[i]).toBeCloseTo(v, 6));
  });

  it("clip-ratio metrics", () => {
    const m = grpoMetrics(batch, opts);
    expect(m.clipRatioLowMean).toBeCloseTo(0.2, 6);
    expect(m.clipRatioHighMean).toBeCloseTo(0.2, 6);
    expect(m.clipRatioRegionMean).toBeCloseTo(0.4, 6);
    expect(m.kl).toBeUndefined();
    // a wider upper clip range un-clips r = 2: no high clipping left
    expect(grpoMetrics(batch, { ...opts, epsilonHigh: 1.5 }).clipRatioHighMean).toBe(0);
  });

  it("sequence-level (GSPO) ratios, loss and gradient", () => {
    const s = importanceRatios(batch.logprobs, batch.oldLogprobs, batch.completionMask, "sequence");
    const rows = s.arraySync() as number[][];
    s.dispose();
    rows[0].forEach((v) => expect(v).toBeCloseTo(1, 6));
    rows[1].forEach((v) => expect(v).toBeCloseTo(Math.SQRT1_2, 6));
    expect(lossValue({ importanceSamplingLevel: "sequence" })).toBeCloseTo(0.3, 6);
    const g = gradOf({ importanceSamplingLevel: "sequence" });
    g[0].forEach((v) => expect(v).toBeCloseTo(-1 / 6, 6));
    g[1].forEach((v) => expect(v).toBeCloseTo(0, 7));
  });

  it("k3 KL term with beta", () => {
    const refLogprobs = tf.tensor2d([[-1, -2 + LN2, -0.5], [-0.3, -1.2, -2]]);
    const withRef = { ...batch, refLogprobs };
    const kl = klK3(batch.logprobs, refLogprobs);
    const klRows = kl.arraySync() as number[][];
    expect(klRows[0][1]).toBeCloseTo(1 - LN2, 6);
    expect(klRows[0][0]).toBeCloseTo(0, 7);
    expect(lossValue({ beta: 0.1 }, withRef)).toBeCloseTo(0.45 + (0.1 * (1 - LN2)) / 3 / 2, 6);
    const g = gradOf({ beta: 0.1 }, withRef);
    expect(g[0][1]).toBeCloseTo(-0.1 / 6, 6);
    expect(grpoMetrics(withRef, opts).kl).toBeCloseTo((1 - LN2) / 5, 6);
    const noKl = perTokenLoss(kl, undefined, 0);
    expect(Array.from(noKl.dataSync())).toEqual(Array.from(kl.dataSync()));
    tf.dispose([refLogprobs, kl, noKl]);
  });

  it("on-policy (old omitted): ratio 1, loss = −mean advantage per row, gradient −A/|row|/B", () => {
    const onPolicy = { ...batch, oldLogprobs: undefined };
    // grpo: mean(−1, 2) = 0.5
    expect(lossValue({}, onPolicy)).toBeCloseTo(0.5, 6);
    const g = gradOf({}, onPolicy);
    [[-1 / 6, -1 / 6, -1 / 6], [0.5, 0.5, 0]].flat().forEach((v, i) => expect(g.flat()[i]).toBeCloseTo(v, 6));
  });

  it("an all-zero mask gives loss 0 and zero gradients, never NaN", () => {
    const empty = { ...batch, completionMask: tf.zeros([2, 3]) as tf.Tensor2D };
    for (const lossType of ["grpo", "bnpo", "dr_grpo", "dapo"] as const) {
      expect(lossValue({ lossType, numItemsInBatch: lossType === "dapo" ? 0 : undefined }, empty)).toBe(0);
      expect(gradOf({ lossType }, empty).flat().every((v) => v === 0)).toBe(true);
    }
    const m = grpoMetrics(empty, opts);
    expect([m.clipRatioLowMean, m.clipRatioHighMean, m.clipRatioRegionMean]).toEqual([0, 0, 0]);
    empty.completionMask.dispose();
  });

  it("is usable inside tf.variableGrads and frees every intermediate tensor", () => {
    const logits = tf.variable(tf.tensor2d([[0.1, -0.2, 0.3], [0.5, 0.0, -0.4]]));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() =>
      grpoLossTensor({ ...batch, logprobs: tf.logSigmoid(logits) as tf.Tensor2D, oldLogprobs: undefined }, opts),
    );
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads)).toEqual([logits.name]);
    expect(Array.from(grads[logits.name].dataSync()).some((v) => v !== 0)).toBe(true);
    tf.dispose([value, ...Object.values(grads)]);
    const { loss, metrics } = grpoLoss(batch, opts);
    loss.dispose();
    expect(metrics.clipRatioRegionMean).toBeCloseTo(0.4, 6);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  it("stopGradient passes values and blocks gradients", () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(t, stopGradient(t))))(x);
    // d/dx Σ x·sg[x] = sg[x] = x (without the stop it would be 2x)
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([x, g]);
  });

  it("entropy: uniform logits give ln V, a near one-hot gives ~0, masked tokens are ignored", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const logits = tf.tensor3d([[[0, 0, 0, 0], [100, 0, 0, 0], [5, 1, 2, 3]]]);
      expect(entropyFromLogits(logits, tf.tensor2d([[1, 1, 0]]))).toBeCloseTo(Math.log(4) / 2, 5);
      expect(entropyFromLogits(logits, tf.tensor2d([[1, 0, 0]]))).toBeCloseTo(Math.log(4), 5);
      expect(entropyFromLogits(logits, tf.tensor2d([[0, 0, 0]]))).toBe(0);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects malformed inputs with GrpoError naming the input", () => {
    const expectInvalid = (fn: () => unknown, field: string) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(GrpoError);
        expect((e as GrpoError).field).toBe(field);
        expect((e as GrpoError).message).toContain(`\`${field}\``);
        return;
      }
      throw new Error(`expected a GrpoError on ${field}`);
    };
    const wrong = tf.zeros([2, 4]) as tf.Tensor2D;
    expectInvalid(() => grpoLossTensor({ ...batch, completionMask: wrong }, opts), "completionMask");
    expectInvalid(() => grpoLossTensor({ ...batch, oldLogprobs: wrong }, opts), "oldLogprobs");
    expectInvalid(() => grpoLossTensor({ ...batch, advantages: [1, 2, 3] }, opts), "advantages");
    expectInvalid(() => grpoLossTensor(batch, { ...opts, beta: 0.04 }), "refLogprobs");
    expectInvalid(() => grpoLossTensor(batch, { ...opts, lossType: "ppo" as LossType }), "lossType");
    expectInvalid(() => grpoLossTensor(batch, { ...opts, maxCompletionLength: 2 }), "maxCompletionLength");
    expectInvalid(() => grpoLossTensor(batch, { ...opts, epsilon: 0 }), "epsilon");
    expectInvalid(() => perTokenLoss(wrong, undefined, 0.1), "kl");
    wrong.dispose();
  });
});
