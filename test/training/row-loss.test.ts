/**
 * The trainer normalises the loss with per-token weights (batch.ts) over rows that may split one
 * trajectory into several turns. These tests tie that to grpoLossTensor (checked against PyTorch):
 * for one row per sequence both must agree for every loss type, level and beta, values and gradients.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { tokenWeights, type TrainingRow } from "../../src/training/batch.js";
import { grpoLossTensor, rowsPerTokenLoss } from "../../src/training/grpo.js";
import type { LossType } from "../../src/training/config.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const B = 5;
const T = 6;
const rng = Rng.fromSeed(11);
const logp = Array.from({ length: B * T }, () => -Math.abs(rng.normal()) - 0.1);
const old = logp.map((v) => v + 0.3 * rng.normal());
const ref = logp.map((v) => v + 0.2 * rng.normal());
const adv = [1.2, -0.7, 0.3, -1.1, 0];
// Row lengths of completion tokens (right-aligned mask like padRows makes; row 4 has none).
const lengths = [6, 3, 1, 4, 0];
const maskArr = lengths.flatMap((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)));

function rowsFor(lengthsOf: number[], sequences: number[]): TrainingRow[] {
  return lengthsOf.map((n, i) => ({
    sequence: sequences[i], promptIds: [1], completionIds: Array(n).fill(3), samplingLogprobs: Array(n).fill(0),
    advantage: adv[i], truncated: false,
  }));
}

function weightsTensor(lossType: LossType, sequences: number[], numSequences: number, maxLen: number): tf.Tensor2D {
  const w = tokenWeights(rowsFor(lengths, sequences), { lossType, numSequences, maxCompletionLength: maxLen, maskTruncated: false });
  return tf.tensor2d(w.flatMap((row) => Array.from({ length: T }, (_, t) => row[t] ?? 0)), [B, T]);
}

describe("rowsPerTokenLoss + tokenWeights", () => {
  for (const lossType of ["grpo", "bnpo", "dr_grpo", "dapo"] as const) {
    for (const level of ["token", "sequence"] as const) {
      for (const beta of [0, 0.04]) {
        it(`equals grpoLossTensor for ${lossType}/${level}/beta=${beta} (value and gradient)`, () => {
          const options = { lossType, epsilon: 0.2, epsilonHigh: 0.28, beta, importanceSamplingLevel: level, maxCompletionLength: 8 };
          const mask = tf.tensor2d(maskArr, [B, T]);
          const oldT = tf.tensor2d(old, [B, T]);
          const refT = tf.tensor2d(ref, [B, T]);
          const advT = tf.tensor1d(adv);
          const x = tf.tensor2d(logp, [B, T]);
          const identity = tf.eye(B);
          const weights = weightsTensor(lossType, [0, 1, 2, 3, 4], B, 8);
          const ours = tf.valueAndGrad((lp: tf.Tensor) => {
            const out = rowsPerTokenLoss({ logprobs: lp as tf.Tensor2D, oldLogprobs: oldT, refLogprobs: refT, advantages: advT, mask, rowsToSequences: identity }, options);
            return tf.sum(tf.mul(out.perToken, weights)) as tf.Scalar;
          })(x);
          const reference = tf.valueAndGrad((lp: tf.Tensor) =>
            grpoLossTensor({ logprobs: lp as tf.Tensor2D, oldLogprobs: oldT, refLogprobs: refT, advantages: advT, completionMask: mask }, options))(x);
          expect(ours.value.dataSync()[0]).toBeCloseTo(reference.value.dataSync()[0], 6);
          const g1 = ours.grad.dataSync();
          const g2 = reference.grad.dataSync();
          for (let i = 0; i < g1.length; i++) expect(Math.abs(g1[i] - g2[i])).toBeLessThan(1e-6);
        });
      }
    }
  }

  it("treats two rows of one sequence like one row holding both (sequence-level ratio, grpo weights)", () => {
    // Rows 0 and 1 form sequence 0 (same advantage); compare with a single row holding their tokens.
    const advSame = [0.9, 0.9];
    const lp = tf.tensor2d([-1, -2, 0, -0.5, -0.25, -3], [2, 3]);
    const od = tf.tensor2d([-1.2, -1.5, 0, -0.4, -0.5, -2], [2, 3]);
    const mask = tf.tensor2d([1, 1, 0, 1, 1, 1], [2, 3]);
    const seq = tf.tensor2d([1, 1], [1, 2]);
    const opts = { epsilon: 0.2, epsilonHigh: 0.2, beta: 0, importanceSamplingLevel: "sequence" as const };
    const split = rowsPerTokenLoss({ logprobs: lp, oldLogprobs: od, advantages: tf.tensor1d(advSame), mask, rowsToSequences: seq }, opts);
    const splitLoss = tf.sum(tf.mul(split.perToken, mask)).dataSync()[0] / 5;
    const joined = rowsPerTokenLoss({
      logprobs: tf.tensor2d([-1, -2, -0.5, -0.25, -3], [1, 5]), oldLogprobs: tf.tensor2d([-1.2, -1.5, -0.4, -0.5, -2], [1, 5]),
      advantages: tf.tensor1d([0.9]), mask: tf.ones([1, 5]), rowsToSequences: tf.ones([1, 1]),
    }, opts);
    expect(splitLoss).toBeCloseTo(tf.mean(joined.perToken).dataSync()[0], 6);
  });
});
