/**
 * The tool agent's problem sets: seeded, of the stated sizes, and no held-out problem is a training one
 * (the held-out accuracy measures copying numbers, not recall of trained answers).
 */
import { describe, expect, it } from "vitest";
import { evaluateArithmetic } from "../../src/core/tools.js";
import {
  arithmeticProblems, HELDOUT_PROBLEMS, toolAgentExampleSpec, TRAIN_PROBLEMS, type ArithmeticProblem,
} from "../../examples/tool_agent.js";

describe("tool agent problems", () => {
  it("are a pure function of count, seed and prefix, with the ground truth of their expression", () => {
    const a = arithmeticProblems(50, 7, "p");
    expect(arithmeticProblems(50, 7, "p")).toEqual(a);
    expect(arithmeticProblems(50, 8, "p")).not.toEqual(a);
    expect(a.map((p) => p.id)).toEqual(Array.from({ length: 50 }, (_, i) => `p_${i}`));
    for (const p of a) {
      expect(p.userResponses[0]).toContain(p.expression);
      expect(p.groundTruth).toBe(evaluateArithmetic(p.expression));
    }
  });

  it("leave out excluded expressions and still return `count` problems from the same stream", () => {
    const all = arithmeticProblems(40, 3, "p");
    const excluded = new Set(all.slice(0, 10).map((p) => p.expression));
    const rest = arithmeticProblems(40, 3, "p", excluded);
    expect(rest).toHaveLength(40);
    expect(rest.some((p) => excluded.has(p.expression))).toBe(false);
    // The problems kept are the stream's next ones, in order (duplicates of an excluded one dropped too).
    const kept = all.filter((p) => !excluded.has(p.expression)).map((p) => p.userResponses[0]);
    expect(rest.slice(0, kept.length).map((p) => p.userResponses[0])).toEqual(kept);
  });

  it("the example trains on 480 problems and evaluates on 64 others, twice each", () => {
    const spec = toolAgentExampleSpec();
    const train = spec.environment.scenarios() as unknown as ArithmeticProblem[];
    const heldOut = spec.evalEnvironment.scenarios() as unknown as ArithmeticProblem[];
    expect(train).toHaveLength(TRAIN_PROBLEMS);
    expect(heldOut).toHaveLength(HELDOUT_PROBLEMS);
    expect(spec.evalEpisodes).toBe(2);
    const trained = new Set(train.map((p) => p.expression));
    expect(heldOut.filter((p) => trained.has(p.expression))).toEqual([]);
    // Without the exclusion some held-out problems would be training problems: the check above is not vacuous.
    const unfiltered = arithmeticProblems(HELDOUT_PROBLEMS, 2, "heldout");
    expect(unfiltered.some((p) => trained.has(p.expression))).toBe(true);
  });
});
