/**
 * parseJudgeScore: every answer form a judge model is known to produce, hand-computed expected
 * scores, and the answers that must be refused rather than guessed.
 */
import { describe, expect, it } from "vitest";
import { parseJudgeScore } from "../../src/core/rewards/llm-judge.js";

describe("parseJudgeScore", () => {
  const readable: Array<[string, number]> = [
    ["Score: 7/10", 0.7],
    ["The reply is polite but vague.\nScore: 6/10", 0.6],
    ["**Score:** 9 / 10", 0.9],
    ["Rating: 4 out of 5", 0.8],
    ["Final score is 8/10.", 0.8],
    ["score = 0.85", 0.85],
    ["Score: 70%", 0.7],
    ["Score: 7", 0.7],
    ["Score: 7.5", 0.75],
    ["First I thought Score: 3/10, but on reflection Score: 5/10", 0.5],
    ['{"score": 7}', 0.7],
    ['{"score": 0.7, "reason": "ok"}', 0.7],
    ['Here is my verdict: {"Rating": "3/4"}', 0.75],
    ['```json\n{"grade": 10}\n```', 1],
    ["I'd give it 3/5.", 0.6],
    ["It deserves 3 out of 5, i.e. 3/5.", 0.6],
    ["80%", 0.8],
    ["7", 0.7],
    ["0.4", 0.4],
    ["1.0", 1],
    ["0", 0],
    ["10.", 1],
  ];
  for (const [answer, score] of readable) {
    it(`reads ${JSON.stringify(answer)} as ${score}`, () => {
      const parsed = parseJudgeScore(answer);
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) expect(parsed.score).toBeCloseTo(score, 12);
    });
  }

  it("uses the requested scale for bare numbers", () => {
    expect(parseJudgeScore("4", { scale: 5 })).toMatchObject({ ok: true, score: 0.8 });
    expect(parseJudgeScore("Score: 3", { scale: 4 })).toMatchObject({ ok: true, score: 0.75 });
  });

  const garbage: Array<[string, string]> = [
    ["", "empty"],
    ["The assistant was helpful.", "no score"],
    ["Somewhere between 6/10 and 8/10.", "several different"],
    ["Score: 12/10", "outside"],
    ["Score: -2/10", "outside"],
    ["Score: 150%", "outside"],
    ["Score: 3/0", "divides"],
    ['{"score": "great"}', "no score"],
    ["11", "outside"],
  ];
  for (const [answer, reason] of garbage) {
    it(`refuses ${JSON.stringify(answer)}`, () => {
      const parsed = parseJudgeScore(answer);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toContain(reason);
    });
  }
});
