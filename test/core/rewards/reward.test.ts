import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GrpoError } from "../../../src/core/errors.js";
import {
  CompositeReward,
  RewardFunction,
  RewardType,
  aggregateScores,
  defaultRewardName,
  evaluateReward,
  rewardFunction,
  rewardResult,
  scoreTrajectory,
  snakeCase,
  type RewardContext,
  type RewardResult,
} from "../../../src/core/reward.js";
import { CorrectnessReward, HelpfulnessReward, SafetyReward, EngagementReward } from "../../../src/core/rewards/index.js";
import { ConversationTurn, MultiTurnTrajectory, type Role } from "../../../src/core/trajectory.js";

const turn = (role: Role, content: string) => new ConversationTurn({ role, content });

/** A conversation from alternating user/assistant texts (user first). */
function chat(...texts: string[]): ConversationTurn[] {
  return texts.map((content, i) => turn(i % 2 === 0 ? "user" : "assistant", content));
}

/** A reward with a fixed score and per-turn breakdown, for composite arithmetic. */
class FixedReward extends RewardFunction {
  constructor(
    private readonly fixed: number,
    options: { weight?: number; name?: string } = {},
    private readonly perTurn: number[] = [],
  ) {
    super(options);
  }
  async computeReward(): Promise<RewardResult> {
    const breakdown: Record<string, number> = { part: this.fixed * 2 };
    this.perTurn.forEach((s, i) => (breakdown[`turn_${i}`] = s));
    return rewardResult(this.fixed, breakdown, { fixed: this.fixed });
  }
}

/** The guide's CustomReward, in TypeScript: per assistant turn len(content)/100, averaged. */
class CustomReward extends RewardFunction {
  async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
    const assistantTurns = turns.filter((t) => t.role === "assistant");
    let totalScore = 0;
    const breakdown: Record<string, number> = {};
    assistantTurns.forEach((t, i) => {
      const score = this.evaluateTurn(t.content);
      totalScore += score;
      breakdown[`turn_${i}`] = score;
    });
    return { score: totalScore / Math.max(1, assistantTurns.length), breakdown, metadata: { num_turns: assistantTurns.length } };
  }
  // Python's len counts code points, so count them here too.
  evaluateTurn(content: string): number {
    return [...content].length / 100;
  }
}

/** The guide's `@reward_function(weight=0.5, reward_type=IMMEDIATE) creativity_reward`. */
const creativity = rewardFunction(
  { weight: 0.5, rewardType: RewardType.IMMEDIATE },
  async function creativityReward(turns: ConversationTurn[]): Promise<number> {
    const creativeWords = ["creative", "innovative", "unique", "original"];
    const assistantContent = turns.filter((t) => t.role === "assistant").map((t) => t.content).join(" ").toLowerCase();
    let creativityScore = 0;
    for (const word of creativeWords) if (assistantContent.includes(word)) creativityScore += 0.1;
    return Math.min(creativityScore, 1.0);
  },
);

const CONVERSATIONS: ConversationTurn[][] = [
  chat("Give me an idea.", "Here is a creative and original idea: a unique café."),
  chat("Hi", "Hello!", "Ideas?", "An innovative, creative, unique and ORIGINAL plan — naïve but fun."),
  chat("Nothing", ""),
  [turn("system", "be nice"), turn("user", "hm")],
];

function pythonReference(input: unknown): {
  custom: Array<{ score: number; breakdown: Record<string, number>; metadata: Record<string, unknown> }>;
  creativity: number[];
  weighted_mean: number;
} {
  const script = fileURLToPath(new URL("./guide_rewards_reference.py", import.meta.url));
  const out = execFileSync("/usr/bin/python3", [script], { input: JSON.stringify(input), encoding: "utf8" });
  return JSON.parse(out);
}

describe("names and options", () => {
  it("snake_cases class and function names", () => {
    expect(snakeCase("creativityReward")).toBe("creativity_reward");
    expect(snakeCase("HTTPCheck")).toBe("http_check");
    expect(defaultRewardName("HelpfulnessReward")).toBe("helpfulness");
    expect(defaultRewardName("TaskCompletionReward")).toBe("task_completion");
    expect(defaultRewardName("Reward")).toBe("reward");
  });

  it("defaults weight 1, IMMEDIATE and the class-derived name; keeps given options", () => {
    const r = new CustomReward();
    expect([r.weight, r.name, r.rewardType]).toEqual([1, "custom", RewardType.IMMEDIATE]);
    const s = new CustomReward({ weight: 0.25, name: "len", rewardType: RewardType.DENSE });
    expect([s.weight, s.name, s.rewardType]).toEqual([0.25, "len", RewardType.DENSE]);
    expect(String(s)).toBe("`len` (CustomReward)");
  });

  it("built-ins carry their documented reward types", () => {
    expect(new HelpfulnessReward().name).toBe("helpfulness");
    expect(new CorrectnessReward({ groundTruth: 1 }).rewardType).toBe(RewardType.SPARSE);
  });
});

describe("the usage guide's examples, against the Python reference", () => {
  it("creativity_reward twin: weight 0.5, IMMEDIATE, name from the function, same scores as Python", async () => {
    expect(creativity.weight).toBe(0.5);
    expect(creativity.rewardType).toBe(RewardType.IMMEDIATE);
    expect(creativity.name).toBe("creativity_reward");
    const ref = pythonReference({ conversations: CONVERSATIONS.map((c) => c.map((t) => t.toJSON())), composite: { scores: [1], weights: [1] } });
    const ours = await Promise.all(CONVERSATIONS.map((c) => evaluateReward(creativity, c, undefined)));
    expect(ours.map((r) => r.score)).toEqual(ref.creativity);
    // The fixture covers 0, a middle value and the float sum of four 0.1s.
    expect(new Set(ref.creativity).size).toBeGreaterThanOrEqual(3);
    expect(ours[0]).toEqual({ score: ref.creativity[0], breakdown: {}, metadata: {} });
  });

  it("CustomReward twin: per-turn breakdown turn_0.., metadata num_turns, same numbers as Python", async () => {
    const ref = pythonReference({ conversations: CONVERSATIONS.map((c) => c.map((t) => t.toJSON())), composite: { scores: [1], weights: [1] } });
    for (const [i, conv] of CONVERSATIONS.entries()) {
      const result = await evaluateReward(new CustomReward(), conv, undefined);
      expect(result.score).toBeCloseTo(ref.custom[i].score, 12);
      expect(result.breakdown).toEqual(ref.custom[i].breakdown);
      expect(result.metadata).toEqual(ref.custom[i].metadata);
    }
    expect(ref.custom[1].breakdown).toHaveProperty("turn_1");
  });

  it("the guide's composite (0.4/0.3/0.3) is the weighted mean of its components", async () => {
    const composite = new CompositeReward([
      new HelpfulnessReward({ weight: 0.4 }),
      new SafetyReward({ weight: 0.3 }),
      new EngagementReward({ weight: 0.3 }),
    ]);
    const conv = chat("How do I learn Python?", "Start with the official Python tutorial, then try small projects. What would you like to build?");
    const result = await evaluateReward(composite, conv, undefined);
    const parts = [result.breakdown.helpfulness, result.breakdown.safety, result.breakdown.engagement];
    const ref = pythonReference({ conversations: [], composite: { scores: parts, weights: [0.4, 0.3, 0.3] } });
    expect(result.score).toBeCloseTo(ref.weighted_mean, 12);
  });
});

describe("CompositeReward", () => {
  const make = (aggregation?: "weighted_sum" | "average" | "min" | "max") =>
    new CompositeReward(
      [new FixedReward(0.2, { weight: 1, name: "a" }), new FixedReward(0.8, { weight: 3, name: "b" }), new FixedReward(0.5, { weight: 0, name: "c" })],
      aggregation === undefined ? {} : { aggregation },
    );

  it("aggregates by hand-computed numbers", async () => {
    // weighted_sum: (1*0.2 + 3*0.8 + 0*0.5) / (1 + 3 + 0) = 2.6 / 4 = 0.65
    expect((await make().computeReward([])).score).toBeCloseTo(0.65, 12);
    expect((await make("average").computeReward([])).score).toBeCloseTo(0.5, 12);
    expect((await make("min").computeReward([])).score).toBe(0.2);
    expect((await make("max").computeReward([])).score).toBe(0.8);
    expect(aggregateScores([1, 0], [1, 1], "weighted_sum")).toBe(0.5);
  });

  it("weights are relative: scaling every weight leaves the score unchanged", async () => {
    const small = new CompositeReward([new FixedReward(0.1, { weight: 0.4, name: "x" }), new FixedReward(0.9, { weight: 0.6, name: "y" })]);
    const big = new CompositeReward([new FixedReward(0.1, { weight: 4, name: "x" }), new FixedReward(0.9, { weight: 6, name: "y" })]);
    expect((await small.computeReward([])).score).toBeCloseTo((await big.computeReward([])).score, 12);
    expect((await big.computeReward([])).score).toBeCloseTo(0.58, 12);
  });

  it("names every component's score and breakdown, and records weights and aggregation", async () => {
    const result = await make("average").computeReward([]);
    expect(result.breakdown).toEqual({ a: 0.2, "a/part": 0.4, b: 0.8, "b/part": 1.6, c: 0.5, "c/part": 1 });
    expect(result.metadata.aggregation).toBe("average");
    expect(result.metadata.weights).toEqual({ a: 1, b: 3, c: 0 });
    expect(result.metadata.components).toEqual({ a: { fixed: 0.2 }, b: { fixed: 0.8 }, c: { fixed: 0.5 } });
    expect(result.explanation).toContain("a 0.200");
  });

  it("nests: an inner composite's breakdown appears under its name", async () => {
    const inner = new CompositeReward([new FixedReward(1, { name: "p" }), new FixedReward(0, { name: "q" })], { name: "inner" });
    const outer = new CompositeReward([inner, new FixedReward(0.5, { name: "r" })]);
    const result = await outer.computeReward([]);
    expect(result.score).toBeCloseTo(0.5, 12);
    expect(result.breakdown["inner/p"]).toBe(1);
    expect(result.breakdown["inner/q/part"]).toBe(0);
  });
});

describe("scoreTrajectory", () => {
  it("writes totalReward, breakdown, turnRewards, turn.reward and metadata.reward", async () => {
    const turns = [turn("system", "s"), ...chat("u0", "abcd", "u1", "abcdefghij")];
    const traj = new MultiTurnTrajectory({ id: "t-1", scenarioId: "sc", turns, turnRewards: [9, 9] });
    const result = await scoreTrajectory(new CustomReward(), traj);
    expect(traj.totalReward).toBeCloseTo(0.07, 12);
    expect(traj.turnRewards).toEqual([0.04, 0.1]);
    expect(traj.rewardBreakdown).toEqual({ turn_0: 0.04, turn_1: 0.1 });
    expect(traj.assistantTurns.map((t) => t.reward)).toEqual([0.04, 0.1]);
    expect(traj.turns[0].reward).toBeUndefined();
    expect(traj.metadata.reward).toEqual({ score: result.score, breakdown: result.breakdown, metadata: { num_turns: 2 } });
    // The stored breakdown is a copy, not the result's object.
    traj.rewardBreakdown.turn_0 = 5;
    expect(result.breakdown.turn_0).toBe(0.04);
  });

  it("for a composite, combines the components' per-turn scores with its aggregation", async () => {
    const composite = new CompositeReward([
      new FixedReward(0.5, { weight: 1, name: "a" }, [0.2, 0.8]),
      new FixedReward(0.5, { weight: 3, name: "b" }, [1, 0]),
      new FixedReward(0.5, { weight: 2, name: "c" }), // reports no per-turn score: left out
    ]);
    const traj = new MultiTurnTrajectory({ scenarioId: "sc", turns: chat("u", "a", "u", "b") });
    await scoreTrajectory(composite, traj);
    // turn 0: (1*0.2 + 3*1) / 4 = 0.8; turn 1: (1*0.8 + 3*0) / 4 = 0.2
    expect(traj.turnRewards[0]).toBeCloseTo(0.8, 12);
    expect(traj.turnRewards[1]).toBeCloseTo(0.2, 12);
    const min = new CompositeReward([new FixedReward(0, { name: "a" }, [0.2, 0.8]), new FixedReward(0, { name: "b" }, [1, 0])], { aggregation: "min" });
    await scoreTrajectory(min, traj);
    expect(traj.turnRewards).toEqual([0.2, 0]);
  });

  it("keeps existing turnRewards when the reward has no per-turn scores", async () => {
    const traj = new MultiTurnTrajectory({ scenarioId: "sc", turns: chat("u", "a"), turnRewards: [0.3] });
    await scoreTrajectory(creativity, traj);
    expect(traj.totalReward).toBe(0);
    expect(traj.turnRewards).toEqual([0.3]);
  });

  it("with per-turn scores for only some turns: sets those turns' reward, keeps turnRewards", async () => {
    const partial = rewardFunction({ name: "partial" }, () => ({ score: 1, breakdown: { turn_1: 0.25 }, metadata: {} }));
    const traj = new MultiTurnTrajectory({ scenarioId: "sc", turns: chat("u", "a", "u", "b"), turnRewards: [0.5, 0.5] });
    await scoreTrajectory(partial, traj);
    expect(traj.turnRewards).toEqual([0.5, 0.5]);
    expect(traj.assistantTurns.map((t) => t.reward)).toEqual([undefined, 0.25]);
  });

  it("feeds the context to the reward", async () => {
    const traj = new MultiTurnTrajectory({ scenarioId: "math", turns: chat("2+2?", "The answer is 4.") });
    await scoreTrajectory(new CorrectnessReward(), traj, { groundTruth: 4 });
    expect(traj.totalReward).toBe(1);
    expect(traj.turnRewards).toEqual([1]);
  });
});

describe("evaluateReward normalises results", () => {
  it("fills a missing breakdown/metadata and accepts a number from rewardFunction", async () => {
    const r = rewardFunction({ name: "bare" }, () => ({ score: 0.5 }) as RewardResult);
    expect(await evaluateReward(r, [], undefined)).toEqual({ score: 0.5, breakdown: {}, metadata: {} });
    const n = rewardFunction({}, function constantHalf() {
      return 0.5;
    });
    expect(n.name).toBe("constant_half");
    expect((await evaluateReward(n, [], {})).score).toBe(0.5);
  });
});

/** Runs `fn`, expecting a GrpoError; returns it. */
async function failure(fn: () => unknown): Promise<GrpoError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GrpoError);
    return error as GrpoError;
  }
  throw new Error("expected a GrpoError, got none");
}

describe("bad inputs get clear errors", () => {
  const where = { trajectoryId: "traj-7", scenarioId: "scn-3" };
  const conv = chat("hi", "hello");
  const named = (fn: () => unknown) => rewardFunction({ name: "bad_one" }, fn as () => number);

  it("a negative weight", async () => {
    const e = await failure(() => new CustomReward({ weight: -1 }));
    expect(e.code).toBe("invalid_reward");
    expect(e.message).toContain("CustomReward.weight");
    expect(e.message).toContain("Got: -1");
  });

  it("a NaN weight", async () => {
    const e = await failure(() => new HelpfulnessReward({ weight: NaN }));
    expect(e.message).toContain("HelpfulnessReward.weight");
    expect(e.message).toContain("NaN");
  });

  it("a Python-style positional weight or snake_case option", async () => {
    const e = await failure(() => new SafetyReward(0.3 as never));
    expect(e.message).toContain("Invalid SafetyReward");
    expect(e.message).toContain("new SafetyReward");
    const f = await failure(() => rewardFunction({ reward_type: "immediate" } as never, () => 1));
    expect(f.message).toContain("reward_type");
    expect(f.message).toContain("rewardType");
  });

  it("a reward that throws", async () => {
    const e = await failure(() => evaluateReward(named(() => { throw new Error("boom"); }), conv, undefined, where));
    expect(e.code).toBe("reward_failed");
    expect(e.message).toContain("`bad_one` (FunctionReward) threw while scoring trajectory `traj-7` of scenario `scn-3`: boom");
    expect((e as Error).cause).toBeInstanceOf(Error);
  });

  it("a NaN score", async () => {
    const e = await failure(() => evaluateReward(named(() => NaN), conv, undefined, where));
    expect(e.code).toBe("reward_failed");
    expect(e.message).toMatch(/`bad_one` \(FunctionReward\) returned a NaN score while scoring trajectory `traj-7` of scenario `scn-3`/);
    expect(e.message).toContain("result.score");
  });

  it("an Infinity score", async () => {
    const e = await failure(() => evaluateReward(named(() => Infinity), conv, undefined, where));
    expect(e.message).toContain("returned a non-finite score");
    expect(e.message).toContain("Got: Infinity");
  });

  it("a string instead of a result", async () => {
    const e = await failure(() => evaluateReward(named(() => "0.9"), conv, undefined, where));
    expect(e.message).toContain("returned a string instead of a RewardResult");
    expect(e.message).toContain('Got: "0.9"');
  });

  it("an object without score", async () => {
    const e = await failure(() => evaluateReward(named(() => ({ value: 1 })), conv, undefined, where));
    expect(e.message).toContain("returned an object without `score`");
    expect(e.message).toContain("traj-7");
  });

  it("a non-number score and a NaN breakdown entry", async () => {
    const e = await failure(() => evaluateReward(named(() => ({ score: "1", breakdown: {} })), conv, undefined, where));
    expect(e.message).toContain("returned a non-number score");
    const f = await failure(() => evaluateReward(named(() => ({ score: 1, breakdown: { turn_0: NaN } })), conv, undefined, where));
    expect(f.message).toContain("non-finite breakdown entry `turn_0`");
  });

  it("a reward that hangs past timeoutMs", async () => {
    const start = Date.now();
    const hang = rewardFunction({ name: "slow" }, () => new Promise<number>(() => {}));
    const e = await failure(() => evaluateReward(hang, conv, undefined, { ...where, timeoutMs: 30 }));
    expect(e.code).toBe("reward_failed");
    expect(e.message).toContain("`slow` (FunctionReward) did not finish within 30 ms while scoring trajectory `traj-7`");
    expect(Date.now() - start).toBeLessThan(2000);
    const bad = await failure(() => evaluateReward(creativity, conv, undefined, { timeoutMs: -5 }));
    expect(bad.message).toContain("timeoutMs");
  });

  it("an empty composite", async () => {
    const e = await failure(() => new CompositeReward([]));
    expect(e.code).toBe("invalid_reward");
    expect(e.message).toContain("at least one reward");
    expect(e.message).toContain("CompositeReward.rewards");
  });

  it("duplicate component names", async () => {
    const e = await failure(() => new CompositeReward([new HelpfulnessReward(), new SafetyReward(), new HelpfulnessReward({ weight: 2 })]));
    expect(e.message).toContain("both named `helpfulness`");
    expect(e.message).toContain("CompositeReward.rewards[2].name");
    expect(e.message).toContain("rewards[0] already uses it");
  });

  it("an unknown aggregation", async () => {
    const e = await failure(() => new CompositeReward([new SafetyReward()], { aggregation: "median" as never }));
    expect(e.message).toContain("CompositeReward.aggregation");
    expect(e.message).toContain('"median"');
    expect(e.message).toContain("weighted_sum");
  });

  it("all-zero weights in a weighted_sum composite", async () => {
    const e = await failure(() => new CompositeReward([new SafetyReward({ weight: 0 }), new HelpfulnessReward({ weight: 0 })]));
    expect(e.message).toContain("at least one component with weight > 0");
    expect(new CompositeReward([new SafetyReward({ weight: 0 })], { aggregation: "average" }).aggregation).toBe("average");
  });

  it("a non-RewardFunction component or reward", async () => {
    const e = await failure(() => new CompositeReward([new SafetyReward(), (() => 1) as never]));
    expect(e.message).toContain("CompositeReward.rewards[1]");
    const f = await failure(() => evaluateReward((async () => 1) as never, conv, undefined));
    expect(f.message).toContain("rewardFunction(");
  });

  it("CorrectnessReward without ground truth names both places it looks", async () => {
    const e = await failure(() => evaluateReward(new CorrectnessReward(), chat("2+2?", "4"), { topic: "math" }, where));
    expect(e.code).toBe("reward_failed");
    expect(e.message).toContain("`correctness` (CorrectnessReward) threw while scoring trajectory `traj-7`");
    expect(e.message).toContain("CorrectnessReward({ groundTruth");
    expect(e.message).toContain("`groundTruth` / `expectedAnswer` in the scenario context");
  });

  it("a composite names the failing component", async () => {
    const composite = new CompositeReward([new SafetyReward(), named(() => NaN)], { name: "mix" });
    const e = await failure(() => evaluateReward(composite, conv, undefined, where));
    expect(e.message).toContain("`mix` (CompositeReward) threw while scoring trajectory `traj-7`");
    expect(e.message).toContain("`bad_one` (FunctionReward) returned a NaN score");
  });

  it("anonymous functions and reserved names", async () => {
    const e = await failure(() => rewardFunction({}, (() => () => 1)()));
    expect(e.message).toContain("anonymous function");
    const f = await failure(() => new CustomReward({ name: "a/b" }));
    expect(f.message).toContain("without `/`");
    const g = await failure(() => new CustomReward({ name: "turn_0" }));
    expect(g.message).toContain("per-turn key");
  });

  it("a context that is not an object", async () => {
    const e = await failure(() => evaluateReward(creativity, conv, "ctx" as unknown as RewardContext));
    expect(e.message).toContain("context that is not an object");
  });
});
