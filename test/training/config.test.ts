import { describe, expect, it } from "vitest";
import {
  DEFAULT_NUM_EPISODES,
  GRPO_CONFIG_DOCS,
  GRPO_CONFIG_KEYS,
  PROFILES,
  TRAINING_PROFILES,
  describeConfigDiff,
  didYouMean,
  editDistance,
  learningRateAt,
  resolveGRPOConfig,
  toSnakeCase,
  totalTrainingSteps,
  type ResolveGRPOConfigOptions,
} from "../../src/training/config.js";
import { grpoErrorOf } from "../helpers/errors.js";

const resolveWith = (overrides: Record<string, unknown>) => () => resolveGRPOConfig({ overrides });

describe("profiles", () => {
  const [c, b, a] = TRAINING_PROFILES.map((p) => resolveGRPOConfig({ profile: p }));

  it("are ordered as the usage guide says: conservative is cautious, aggressive fast", () => {
    expect(c.learningRate).toBeLessThan(b.learningRate);
    expect(b.learningRate).toBeLessThan(a.learningRate);
    expect(c.numGenerations).toBeGreaterThanOrEqual(b.numGenerations);
    expect(b.numGenerations).toBeGreaterThanOrEqual(a.numGenerations);
    expect(c.numGenerations).toBeGreaterThan(a.numGenerations);
    expect(c.epsilon).toBeLessThan(b.epsilon);
    expect(b.epsilon).toBeLessThan(a.epsilon);
    expect(c.maxGradNorm).toBeLessThan(b.maxGradNorm);
    expect(b.maxGradNorm).toBeLessThan(a.maxGradNorm);
    expect(c.maxGradNorm).toBeGreaterThan(0); // every profile clips
    expect(c.beta).toBeGreaterThanOrEqual(b.beta);
    expect(c.numIterations).toBeLessThanOrEqual(a.numIterations);
  });

  it("default to balanced and derive epsilonHigh from epsilon", () => {
    const config = resolveGRPOConfig();
    expect(config).toEqual(b);
    expect(config.learningRate).toBe(PROFILES.balanced.learningRate);
    expect(PROFILES.balanced.epsilonHigh).toBeUndefined();
    expect(config.epsilonHigh).toBe(config.epsilon);
    expect(a.epsilonHigh).toBe(a.epsilon);
  });

  it("every profile resolves to a complete config with every knob", () => {
    for (const profile of TRAINING_PROFILES) {
      const config = resolveGRPOConfig({ profile });
      for (const key of GRPO_CONFIG_KEYS) {
        const optional = GRPO_CONFIG_DOCS[key].type.endsWith("| undefined");
        if (!optional) expect(config[key], `${profile}.${key}`).not.toBeUndefined();
      }
    }
  });

  it("GRPO_CONFIG_DOCS shows the same defaults as PROFILES (one source)", () => {
    for (const key of GRPO_CONFIG_KEYS) {
      for (const profile of TRAINING_PROFILES) {
        expect(GRPO_CONFIG_DOCS[key].defaults[profile], `${profile}.${key}`).toEqual(PROFILES[profile][key]);
      }
    }
  });
});

describe("overrides", () => {
  it("accept the usage guide's snake_case keys and map them to camelCase", () => {
    const config = resolveGRPOConfig({
      profile: "balanced",
      overrides: { learning_rate: 1e-5, num_generations: 16, max_grad_norm: 0.5, early_stopping: true, patience: 30 },
    });
    expect(config).toMatchObject({ learningRate: 1e-5, numGenerations: 16, maxGradNorm: 0.5, earlyStopping: true, patience: 30 });
    expect(Object.keys(config)).not.toContain("learning_rate");
  });

  it("accept camelCase, the snake_case of every knob, and TRL's lr_scheduler_type", () => {
    expect(toSnakeCase("adamBeta1")).toBe("adam_beta1");
    expect(toSnakeCase("topP")).toBe("top_p");
    const pickValue = (key: string) => (GRPO_CONFIG_DOCS[key as keyof typeof GRPO_CONFIG_DOCS].type === "boolean" ? true : undefined);
    for (const key of GRPO_CONFIG_KEYS) {
      const value = pickValue(key);
      if (value === undefined) continue;
      expect(resolveGRPOConfig({ overrides: { [GRPO_CONFIG_DOCS[key].snakeCase]: value } })[key]).toBe(true);
    }
    expect(resolveGRPOConfig({ overrides: { adam_beta1: 0.8, top_p: 0.9, reward_timeout_ms: 5 } })).toMatchObject({
      adamBeta1: 0.8, topP: 0.9, rewardTimeoutMs: 5,
    });
    expect(resolveGRPOConfig({ overrides: { lr_scheduler_type: "cosine" } }).lrScheduler).toBe("cosine");
  });

  it("never override what the user set (explicit epsilonHigh, values equal to another profile's)", () => {
    const config = resolveGRPOConfig({ profile: "aggressive", overrides: { epsilon: 0.2, epsilonHigh: 0.28, numGenerations: 16 } });
    expect(config.epsilon).toBe(0.2);
    expect(config.epsilonHigh).toBe(0.28);
    expect(config.numGenerations).toBe(16);
    expect(config.learningRate).toBe(PROFILES.aggressive.learningRate);
  });

  it("null unsets an optional knob; undefined values are ignored", () => {
    expect(resolveGRPOConfig({ overrides: { temperature: null, topK: 5 } })).toMatchObject({ temperature: undefined, topK: 5 });
    expect(resolveGRPOConfig({ overrides: { learningRate: undefined } }).learningRate).toBe(PROFILES.balanced.learningRate);
    const err = grpoErrorOf(resolveWith({ learningRate: null }));
    expect(err.field).toBe("GRPOConfig.learningRate");
  });

  it("reject the same knob given in both spellings", () => {
    const err = grpoErrorOf(resolveWith({ learningRate: 1e-4, learning_rate: 1e-4 }));
    expect(err.code).toBe("invalid_config");
    expect(err.field).toBe("GRPOConfig.learning_rate");
    expect(err.message).toContain("keep only one of `learningRate` and `learning_rate`");
  });

  it("reject unknown keys with a did-you-mean suggestion", () => {
    const err = grpoErrorOf(resolveWith({ learning_rat: 1e-4 }));
    expect(err.code).toBe("invalid_config");
    expect(err.field).toBe("GRPOConfig.learning_rat");
    expect(err.message).toContain("did you mean `learningRate`?");
    expect(grpoErrorOf(resolveWith({ numGeneration: 4 })).message).toContain("did you mean `numGenerations`?");
    expect(grpoErrorOf(resolveWith({ max_gradnorm: 1 })).message).toContain("did you mean `maxGradNorm`?");
    expect(grpoErrorOf(resolveWith({ epsilon_hihg: 0.3 })).message).toContain("did you mean `epsilonHigh`?");
    const far = grpoErrorOf(resolveWith({ banana: 1 }));
    expect(far.message).not.toContain("did you mean");
    expect(far.message).toContain("GRPO_CONFIG_DOCS");
  });

  it("reject knobs passed beside profile instead of under overrides", () => {
    const err = grpoErrorOf(() => resolveGRPOConfig({ learningRate: 1e-4 } as ResolveGRPOConfigOptions));
    expect(err.message).toContain("put knobs under `overrides`");
  });
});

describe("invalid configs are rejected with the field, the value, the rule and a fix", () => {
  const cases: Array<{ overrides: Record<string, unknown>; field: string; expected: string }> = [
    { overrides: { learningRate: -1e-4 }, field: "learningRate", expected: "a number > 0" },
    { overrides: { learningRate: 0 }, field: "learningRate", expected: "a number > 0" },
    { overrides: { learning_rate: "fast" }, field: "learningRate", expected: "a number > 0" },
    { overrides: { numGenerations: 1 }, field: "numGenerations", expected: "an integer >= 2" },
    { overrides: { num_generations: 4.5 }, field: "numGenerations", expected: "an integer >= 2" },
    { overrides: { beta: -0.01 }, field: "beta", expected: "a number >= 0" },
    { overrides: { epsilon: 0 }, field: "epsilon", expected: "a number in (0, 1)" },
    { overrides: { epsilon: 1.5 }, field: "epsilon", expected: "a number in (0, 1)" },
    { overrides: { epsilonHigh: 0 }, field: "epsilonHigh", expected: "a number > 0" },
    { overrides: { lossType: "ppo" }, field: "lossType", expected: '"grpo" | "bnpo" | "dr_grpo" | "dapo"' },
    { overrides: { importanceSamplingLevel: "episode" }, field: "importanceSamplingLevel", expected: '"token" | "sequence"' },
    { overrides: { scaleRewards: "std" }, field: "scaleRewards", expected: '"group" | "batch" | "none"' },
    { overrides: { warmupRatio: 1 }, field: "warmupRatio", expected: "a number in [0, 1)" },
    { overrides: { warmupRatio: -0.1 }, field: "warmupRatio", expected: "a number in [0, 1)" },
    { overrides: { topP: 0 }, field: "topP", expected: "a number in (0, 1]" },
    { overrides: { top_p: 1.2 }, field: "topP", expected: "a number in (0, 1]" },
    { overrides: { topK: -1 }, field: "topK", expected: "an integer >= 0" },
    { overrides: { maxGradNorm: -1 }, field: "maxGradNorm", expected: "a number >= 0" },
    { overrides: { adamBeta2: 1 }, field: "adamBeta2", expected: "a number in [0, 1)" },
    { overrides: { lrScheduler: "step" }, field: "lrScheduler", expected: '"constant" | "linear" | "cosine"' },
    { overrides: { earlyStopping: "yes" }, field: "earlyStopping", expected: "true or false" },
    { overrides: { patience: 0 }, field: "patience", expected: "an integer >= 1" },
    { overrides: { rewardWeights: { helpfulness: "high" } }, field: "rewardWeights", expected: "reward names to finite numbers" },
    { overrides: { gradientAccumulationSteps: 0 }, field: "gradientAccumulationSteps", expected: "an integer >= 1" },
    { overrides: { seed: 1.5 }, field: "seed", expected: "an integer" },
  ];

  it.each(cases)("$field = $overrides", ({ overrides, field, expected }) => {
    const err = grpoErrorOf(resolveWith(overrides));
    expect(err.code).toBe("invalid_config");
    expect(err.field?.startsWith(`GRPOConfig.${field}`)).toBe(true);
    expect(err.message).toContain(`\`GRPOConfig.${field}`);
    expect(err.expected).toContain(expected);
    expect(err.message).toContain(`Expected: ${err.expected}`);
    expect(err.fix).toContain(`set \`${field}\``);
    expect(err.fix).toContain("leave it out for the profile's default");
    expect(err.message).toContain(`Got: `);
    const given = Object.values(overrides)[0];
    if (typeof given !== "object") expect(err.value).toBe(given);
  });

  it("an unknown profile, with a did-you-mean", () => {
    const err = grpoErrorOf(() => resolveGRPOConfig({ profile: "balancd" as "balanced" }));
    expect(err.code).toBe("invalid_config");
    expect(err.field).toBe("profile");
    expect(err.value).toBe("balancd");
    expect(err.message).toContain('"conservative" | "balanced" | "aggressive"');
    expect(err.message).toContain('did you mean `"balanced"`?');
    expect(grpoErrorOf(() => describeConfigDiff(resolveGRPOConfig(), "fast" as "balanced")).field).toBe("profile");
  });

  it("overrides that are not an object", () => {
    const err = grpoErrorOf(() => resolveGRPOConfig({ overrides: [1, 2] as unknown as Record<string, unknown> }));
    expect(err.field).toBe("overrides");
  });

  it("maxSteps and numEpisodes together", () => {
    const err = grpoErrorOf(resolveWith({ maxSteps: 10, num_episodes: 100 }));
    expect(err.code).toBe("invalid_config");
    expect(err.field).toBe("GRPOConfig.maxSteps");
    expect(err.message).toContain("remove one of them");
  });
});

describe("describeConfigDiff", () => {
  it("lists exactly the knobs that differ from the profile, in table order", () => {
    const config = resolveGRPOConfig({ profile: "balanced", overrides: { patience: 10, learningRate: 1e-4, epsilon: 0.25 } });
    const diff = describeConfigDiff(config, "balanced");
    expect(diff.map((d) => d.key)).toEqual(["learningRate", "epsilon", "patience"]);
    expect(diff[0]).toEqual({ key: "learningRate", group: "optimisation", value: 1e-4, profileValue: 1e-3 });
    expect(describeConfigDiff(resolveGRPOConfig({ profile: "conservative" }), "conservative")).toEqual([]);
  });

  it("counts epsilonHigh only when it departs from its derivation", () => {
    const config = resolveGRPOConfig({ overrides: { epsilonHigh: 0.28 } });
    expect(describeConfigDiff(config).map((d) => d.key)).toEqual(["epsilonHigh"]);
    const byProfile = describeConfigDiff(resolveGRPOConfig({ profile: "aggressive" }), "balanced").map((d) => d.key);
    expect(byProfile).toContain("learningRate");
    expect(byProfile).toContain("epsilon");
    expect(byProfile).not.toContain("epsilonHigh");
  });

  it("compares reward weights by content", () => {
    const config = resolveGRPOConfig({ overrides: { rewardWeights: { a: 1, b: 2 } } });
    expect(describeConfigDiff(config).map((d) => d.key)).toEqual(["rewardWeights"]);
  });
});

describe("did-you-mean", () => {
  it("edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });
  it("ignores case and underscores, and stays silent when nothing is close", () => {
    expect(didYouMean("LEARNING_RATE", ["learningRate", "beta"])).toBe("learningRate");
    expect(didYouMean("zzz", ["learningRate", "beta"])).toBeUndefined();
  });
});

describe("training length", () => {
  const balanced = resolveGRPOConfig();
  it("derives steps from numEpisodes, or takes maxSteps", () => {
    // balanced: 2 scenarios × 6 generations × 1 accumulation = 12 episodes per step
    expect(totalTrainingSteps({ ...balanced, numEpisodes: 100 })).toBe(9);
    expect(totalTrainingSteps({ ...balanced, numEpisodes: 12 })).toBe(1);
    expect(totalTrainingSteps({ ...balanced, numEpisodes: 13, gradientAccumulationSteps: 2 })).toBe(1);
    expect(totalTrainingSteps({ ...balanced, maxSteps: 5 })).toBe(5);
    expect(totalTrainingSteps(balanced)).toBe(Math.ceil(DEFAULT_NUM_EPISODES / 12));
  });
});

describe("learningRateAt", () => {
  const peak = 1e-3;
  const at = (lrScheduler: "constant" | "linear" | "cosine", warmupRatio: number, step: number, total = 10) =>
    learningRateAt(step, total, { learningRate: peak, lrScheduler, warmupRatio });

  it("warms up linearly over ceil(warmupRatio × total) steps, never 0", () => {
    // 10 steps, warmupRatio 0.2 -> W = 2: steps 0, 1 get peak·1/3, peak·2/3; step 2 reaches peak
    for (const s of ["constant", "linear", "cosine"] as const) {
      expect(at(s, 0.2, 0)).toBeCloseTo(peak / 3, 12);
      expect(at(s, 0.2, 1)).toBeCloseTo((2 * peak) / 3, 12);
      expect(at(s, 0.2, 2)).toBeCloseTo(peak, 12);
    }
    expect(at("linear", 0.15, 1)).toBeCloseTo((2 * peak) / 3, 12); // ceil(1.5) = 2 warmup steps
  });

  it("constant stays at the peak", () => {
    expect(at("constant", 0.2, 9)).toBe(peak);
    expect(at("constant", 0, 0)).toBe(peak);
  });

  it("linear decays to 0 at the end: peak·(1 − (step − W)/(total − W))", () => {
    expect(at("linear", 0, 0)).toBe(peak);
    expect(at("linear", 0.2, 6)).toBeCloseTo(peak * 0.5, 12); // (6 − 2)/8
    expect(at("linear", 0.2, 9)).toBeCloseTo(peak / 8, 12); // last step still learns
    expect(at("linear", 0.2, 10)).toBe(0);
    expect(at("linear", 0.2, 50)).toBe(0);
  });

  it("cosine follows half a cosine: peak·½(1 + cos(π p))", () => {
    expect(at("cosine", 0.2, 4)).toBeCloseTo(peak * 0.5 * (1 + Math.cos(Math.PI / 4)), 12); // p = 2/8
    expect(at("cosine", 0.2, 6)).toBeCloseTo(peak * 0.5, 12); // p = 1/2
    expect(at("cosine", 0, 0)).toBe(peak);
    expect(at("cosine", 0.2, 10)).toBeCloseTo(0, 15);
  });

  it("is monotone where it should be", () => {
    const lrs = Array.from({ length: 20 }, (_, s) => at("cosine", 0.1, s, 20));
    // W = 2: rising through steps 0, 1 to the peak at step 2, then strictly decaying
    expect(lrs[0]).toBeLessThan(lrs[1]);
    expect(lrs[1]).toBeLessThan(lrs[2]);
    expect(lrs[2]).toBe(peak);
    for (let s = 3; s < 20; s++) expect(lrs[s]).toBeLessThan(lrs[s - 1]);
  });

  it("rejects a negative or fractional step and a non-positive total", () => {
    expect(grpoErrorOf(() => at("linear", 0, -1)).field).toBe("step");
    expect(grpoErrorOf(() => at("linear", 0, 1.5)).field).toBe("step");
    expect(grpoErrorOf(() => at("linear", 0, 0, 0)).field).toBe("totalSteps");
  });
});
