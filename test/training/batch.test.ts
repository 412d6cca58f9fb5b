import { describe, expect, it } from "vitest";
import { ConversationTurn, MultiTurnTrajectory, TrajectoryGroup } from "../../src/core/trajectory.js";
import { buildRows, microBatches, padRows, tokenWeights, type TrainingRow } from "../../src/training/batch.js";

function traj(scenarioId: string, turns: { prompt: number[]; tokens: number[]; finish?: "stop" | "length" }[]): MultiTurnTrajectory {
  const out: ConversationTurn[] = [new ConversationTurn({ role: "user", content: "hi" })];
  for (const t of turns) {
    out.push(new ConversationTurn({
      role: "assistant", content: "x",
      generation: { promptTokenIds: t.prompt, tokenIds: t.tokens, logprobs: t.tokens.map((v) => -v / 10), finishReason: t.finish ?? "stop" },
    }));
    out.push(new ConversationTurn({ role: "user", content: "more" }));
  }
  return new MultiTurnTrajectory({ scenarioId, turns: out });
}

const rowsFixture = (): TrainingRow[] => {
  const g1 = new TrajectoryGroup("a", [
    traj("a", [{ prompt: [1, 2], tokens: [5, 6, 7] }, { prompt: [1, 2, 5, 6, 7, 3], tokens: [8] }]),
    traj("a", [{ prompt: [1, 2], tokens: [9] }]),
  ]);
  const g2 = new TrajectoryGroup("b", [traj("b", [{ prompt: [4], tokens: [5, 5, 5, 5], finish: "length" }]), traj("b", [])]);
  return buildRows([g1, g2], [[1, -1], [0.5, -0.5]]);
};

describe("buildRows", () => {
  it("makes one row per sampled assistant turn with the trajectory's advantage", () => {
    const rows = rowsFixture();
    expect(rows.map((r) => r.sequence)).toEqual([0, 0, 1, 2]);
    expect(rows.map((r) => r.advantage)).toEqual([1, 1, -1, 0.5]);
    expect(rows[1].promptIds).toEqual([1, 2, 5, 6, 7, 3]);
    expect(rows[3].truncated).toBe(true);
    expect(rows[0].samplingLogprobs).toEqual([-0.5, -0.6, -0.7]);
  });
});

describe("tokenWeights", () => {
  // tokens per sequence: seq0 = 3 + 1 = 4, seq1 = 1, seq2 = 4 (truncated), seq3 = 0; 4 sequences.
  it("grpo: mean over sequences of per-sequence token means", () => {
    const w = tokenWeights(rowsFixture(), { lossType: "grpo", numSequences: 4, maxCompletionLength: 10, maskTruncated: false });
    expect(w[0]).toEqual([1 / 16, 1 / 16, 1 / 16]);
    expect(w[1]).toEqual([1 / 16]);
    expect(w[2]).toEqual([1 / 4]);
    expect(w[3]).toEqual([1 / 16, 1 / 16, 1 / 16, 1 / 16]);
    // a per-token loss of 1 everywhere gives (1 + 1 + 1 + 0) / 4 sequences
    const total = w.flat().reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(3 / 4, 12);
  });

  it("bnpo/dapo: token mean over the batch; dr_grpo: constant denominator", () => {
    const bnpo = tokenWeights(rowsFixture(), { lossType: "bnpo", numSequences: 4, maxCompletionLength: 10, maskTruncated: false });
    expect(new Set(bnpo.flat())).toEqual(new Set([1 / 9]));
    const dapo = tokenWeights(rowsFixture(), { lossType: "dapo", numSequences: 4, maxCompletionLength: 10, maskTruncated: false });
    expect(dapo).toEqual(bnpo);
    const dr = tokenWeights(rowsFixture(), { lossType: "dr_grpo", numSequences: 4, maxCompletionLength: 10, maskTruncated: false });
    expect(new Set(dr.flat())).toEqual(new Set([1 / 40]));
  });

  it("masks truncated completions when asked", () => {
    const w = tokenWeights(rowsFixture(), { lossType: "bnpo", numSequences: 4, maxCompletionLength: 10, maskTruncated: true });
    expect(w[3]).toEqual([0, 0, 0, 0]);
    expect(w[0][0]).toBe(1 / 5);
  });
});

describe("microBatches and padRows", () => {
  it("never splits a sequence and covers every row once", () => {
    const rows = rowsFixture();
    const parts = microBatches(rows, 3);
    expect(parts.flat().sort()).toEqual([0, 1, 2, 3]);
    for (const s of new Set(rows.map((r) => r.sequence))) {
      const holding = parts.filter((p) => p.some((i) => rows[i].sequence === s));
      expect(holding).toHaveLength(1);
    }
    const seq0 = parts.find((p) => p.includes(0));
    expect(seq0).toContain(1);
    expect(microBatches(rows, 1)).toEqual([[0, 1, 2, 3]]);
  });

  it("aligns targets so completion tokens are predicted from the position before", () => {
    const rows = rowsFixture();
    const w = tokenWeights(rows, { lossType: "bnpo", numSequences: 4, maxCompletionLength: 10, maskTruncated: false });
    const b = padRows(rows, w, [0, 2]);
    expect(b.B).toBe(2);
    expect(b.T).toBe(4); // row 0: [1,2,5,6,7] -> 4 input positions
    expect(Array.from(b.inputIds.slice(0, 4))).toEqual([1, 2, 5, 6]);
    expect(Array.from(b.targetIds.slice(0, 4))).toEqual([2, 5, 6, 7]);
    expect(Array.from(b.completionMask.slice(0, 4))).toEqual([0, 1, 1, 1]);
    expect(Array.from(b.samplingLogprobs.slice(0, 4)).map((v) => +v.toFixed(4))).toEqual([0, -0.5, -0.6, -0.7]);
    // row 2: [1,2,9] -> inputs [1,2], target 9 at position 1, padding after
    expect(Array.from(b.inputIds.slice(4, 8))).toEqual([1, 2, 0, 0]);
    expect(Array.from(b.attentionMask.slice(4, 8))).toEqual([1, 1, 0, 0]);
    expect(Array.from(b.completionMask.slice(4, 8))).toEqual([0, 1, 0, 0]);
    expect(Array.from(b.advantages)).toEqual([1, -1]);
    expect(Array.from(b.sequenceOfRow)).toEqual([0, 1]);
  });
});
