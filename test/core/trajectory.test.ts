import { describe, expect, it } from "vitest";
import {
  ConversationTurn,
  EpisodeStatus,
  MultiTurnTrajectory,
  TrajectoryGroup,
} from "../../src/core/trajectory.js";
import { groupAdvantages, mean, std } from "../../src/core/stats.js";
import { Rng } from "../../src/core/rng.js";
import { GrpoError, describeValue } from "../../src/core/errors.js";

function sampleTrajectory(reward: number, id?: string): MultiTurnTrajectory {
  return new MultiTurnTrajectory({
    id,
    scenarioId: "help",
    turns: [
      new ConversationTurn({ role: "system", content: "You are helpful." }),
      new ConversationTurn({ role: "user", content: "Hi!" }),
      new ConversationTurn({
        role: "assistant",
        content: '<tool_call>{"name":"calculator","arguments":{"expression":"2+3"}}</tool_call>',
        toolCalls: [{ id: "call_0", name: "calculator", arguments: { expression: "2+3" } }],
        reward: 0.25,
        generation: { promptTokenIds: [1, 2, 3], tokenIds: [7, 8, 2], logprobs: [-0.5, -1.25, -0.125], finishReason: "stop" },
      }),
      new ConversationTurn({
        role: "tool",
        content: "5",
        toolResults: [{ toolCallId: "call_0", name: "calculator", content: "5", isError: false }],
      }),
      new ConversationTurn({ role: "assistant", content: "It is 5.", metadata: { custom: { n: 1 } } }),
    ],
    totalReward: reward,
    turnRewards: [0.25, 0.75],
    rewardBreakdown: { helpfulness: 0.5, "helpfulness/turn_0": 0.25 },
    metadata: { scenario: { id: "help" } },
    status: EpisodeStatus.TRUNCATED,
  });
}

describe("ConversationTurn", () => {
  it("keeps every field through a JSON round trip", () => {
    const turn = sampleTrajectory(1).turns[2];
    const back = ConversationTurn.fromJSON(JSON.parse(JSON.stringify(turn)));
    expect(back).toEqual(turn);
    expect(back.generation?.logprobs).toEqual([-0.5, -1.25, -0.125]);
  });

  it("defaults timestamp, metadata and tool lists", () => {
    const before = Date.now();
    const turn = new ConversationTurn({ role: "user", content: "hello" });
    expect(turn.timestamp).toBeGreaterThanOrEqual(before);
    expect(turn.metadata).toEqual({});
    expect(turn.toolCalls).toEqual([]);
    expect(turn.reward).toBeUndefined();
    expect("reward" in turn.toJSON()).toBe(false);
  });

  it("rejects unknown roles and non-string content with the field named", () => {
    expect(() => new ConversationTurn({ role: "bot" as never, content: "x" })).toThrow(/ConversationTurn\.role.*"bot"/s);
    expect(() => new ConversationTurn({ role: "user", content: 42 as never })).toThrow(/ConversationTurn\.content/);
  });

  it("clone() is deep", () => {
    const turn = sampleTrajectory(1).turns[4];
    const copy = turn.clone();
    (copy.metadata.custom as { n: number }).n = 2;
    expect((turn.metadata.custom as { n: number }).n).toBe(1);
  });
});

describe("MultiTurnTrajectory", () => {
  it("round-trips losslessly through JSON", () => {
    const traj = sampleTrajectory(0.75, "t1");
    const json = JSON.stringify(traj);
    const back = MultiTurnTrajectory.fromJSON(JSON.parse(json));
    expect(JSON.stringify(back)).toBe(json);
    expect(back.status).toBe(EpisodeStatus.TRUNCATED);
    expect(back.turns[3].toolResults[0].content).toBe("5");
  });

  it("counts assistant turns as the episode length", () => {
    const traj = sampleTrajectory(1);
    expect(traj.episodeLength).toBe(2);
    expect(traj.assistantTurns.map((t) => t.content)).toEqual([traj.turns[2].content, "It is 5."]);
  });

  it("derives success from metadata.success, else from the status", () => {
    const traj = sampleTrajectory(1);
    expect(traj.success).toBe(false);
    traj.status = EpisodeStatus.COMPLETED;
    expect(traj.success).toBe(true);
    traj.metadata.success = false;
    expect(traj.success).toBe(false);
  });

  it("rejects a missing scenario id and non-turn entries", () => {
    expect(() => new MultiTurnTrajectory({ scenarioId: "", turns: [] })).toThrow(/scenarioId/);
    expect(() => new MultiTurnTrajectory({ scenarioId: "a", turns: [{ role: "user", content: "x" } as never] })).toThrow(
      /MultiTurnTrajectory\.turns/,
    );
    expect(() => MultiTurnTrajectory.fromJSON(null as never)).toThrow(GrpoError);
  });

  it("gives unique ids", () => {
    const ids = new Set(Array.from({ length: 100 }, () => new MultiTurnTrajectory({ scenarioId: "s", turns: [] }).id));
    expect(ids.size).toBe(100);
  });
});

describe("TrajectoryGroup", () => {
  it("computes rewards, diversity (unbiased std) and group-relative advantages", () => {
    const group = new TrajectoryGroup("help", [1, 0, 0.5, 0.5].map((r) => sampleTrajectory(r)));
    expect(group.rewards).toEqual([1, 0, 0.5, 0.5]);
    expect(group.meanReward).toBe(0.5);
    // by hand: deviations .5,-.5,0,0 -> sum of squares .5 -> /3 -> sqrt = 0.408248...
    expect(group.rewardDiversity).toBeCloseTo(Math.sqrt(0.5 / 3), 12);
    const adv = group.advantages();
    expect(adv[0]).toBeCloseTo(0.5 / (Math.sqrt(0.5 / 3) + 1e-4), 10);
    expect(adv[2]).toBe(0);
    expect(group.ranked()[0].totalReward).toBe(1);
  });

  it("gives zero advantages to a zero-variance group", () => {
    const group = new TrajectoryGroup("help", [0.3, 0.3, 0.3].map((r) => sampleTrajectory(r)));
    expect(group.advantages()).toEqual([0, 0, 0]);
    expect(group.rewardDiversity).toBe(0);
  });

  it("rejects trajectories of another scenario", () => {
    expect(() => new TrajectoryGroup("other", [sampleTrajectory(1)])).toThrow(/scenarioId "other"/);
  });

  it("round-trips through JSON", () => {
    const group = new TrajectoryGroup("help", [sampleTrajectory(1, "a"), sampleTrajectory(0, "b")]);
    expect(JSON.stringify(TrajectoryGroup.fromJSON(JSON.parse(JSON.stringify(group))))).toBe(JSON.stringify(group));
  });
});

describe("stats", () => {
  it("mean and std match hand values", () => {
    expect(mean([])).toBe(0);
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(std([1, 2, 3, 6])).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(std([1, 2, 3, 6], false)).toBeCloseTo(Math.sqrt(14 / 4), 12);
    expect(std([5])).toBe(0);
  });

  it("advantage scale modes", () => {
    const r = [1, 2, 3];
    expect(groupAdvantages(r, { scale: "none" })).toEqual([-1, 0, 1]);
    expect(groupAdvantages(r, { scale: "batch", batchStd: 2, epsilon: 0 })).toEqual([-0.5, 0, 0.5]);
    expect(groupAdvantages(r, { epsilon: 0 })).toEqual([-1, 0, 1]);
  });
});

describe("Rng", () => {
  it("is deterministic for a seed and continues exactly from a saved state", () => {
    const a = Rng.fromSeed(7);
    const b = Rng.fromSeed(7);
    const first = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(first);
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const continued = Array.from({ length: 10 }, () => a.next());
    const restored = Rng.fromState(saved);
    expect(Array.from({ length: 10 }, () => restored.next())).toEqual(continued);
    expect(Rng.fromSeed(8).next()).not.toBe(first[0]);
  });

  it("draws uniform values in [0, 1) with the right mean", () => {
    const rng = Rng.fromSeed(1);
    const xs = Array.from({ length: 20000 }, () => rng.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(mean(xs)).toBeCloseTo(0.5, 1);
    const ns = Array.from({ length: 20000 }, () => rng.normal());
    expect(mean(ns)).toBeCloseTo(0, 1);
    expect(std(ns)).toBeCloseTo(1, 1);
  });

  it("shuffles into a permutation", () => {
    const out = Rng.fromSeed(3).shuffle([1, 2, 3, 4, 5, 6]);
    expect([...out].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("rejects bad seeds and states", () => {
    expect(() => Rng.fromSeed(1.5)).toThrow(/seed.*integer/s);
    expect(() => Rng.fromState({ algorithm: "xoroshiro128plus", state: [1, 2] })).toThrow(/rngState/);
  });
});

describe("GrpoError", () => {
  it("builds its message from the parts", () => {
    const err = new GrpoError("invalid_config", "Bad learning rate.", {
      field: "learningRate",
      value: -1,
      expected: "a positive number",
      fix: "use e.g. `3e-4`.",
    });
    expect(err.message).toBe("Bad learning rate. Field: `learningRate`. Got: -1. Expected: a positive number. Fix: use e.g. `3e-4`.");
    expect(err.code).toBe("invalid_config");
    expect(err).toBeInstanceOf(Error);
  });

  it("abbreviates long values", () => {
    expect(describeValue("x".repeat(200)).length).toBe(80);
    expect(describeValue(() => 1)).toMatch(/function/);
  });
});
