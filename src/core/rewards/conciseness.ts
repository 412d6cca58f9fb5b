/**
 * ConcisenessReward: replies close to an optimal length score best.
 */
import { z } from "zod";
import { RewardFunction, RewardType, parseRewardOptions, rewardFunctionOptionsSchema, type RewardFunctionOptions, type RewardResult } from "../reward.js";
import type { ConversationTurn } from "../trajectory.js";
import { assistantTurnViews, turnMeanResult, wordCount } from "./text.js";

/** Options of {@link ConcisenessReward}. */
export interface ConcisenessRewardOptions extends RewardFunctionOptions {
  /** The ideal reply length in words (> 0, default 50). */
  optimalLength?: number;
  /**
   * Width of the bell as a fraction of `optimalLength` (> 0, default 0.5): a reply
   * `tolerance * optimalLength` words off scores exp(-1) ≈ 0.37.
   */
  tolerance?: number;
}

const optionsSchema = rewardFunctionOptionsSchema
  .extend({ optimalLength: z.number().positive().optional(), tolerance: z.number().positive().optional() })
  .strict();

/**
 * Gaussian length score per assistant turn, averaged over turns (0 with no assistant turn):
 *
 * `turn_<i> = exp(-((n - L) / (tolerance * L))^2)`, n = the reply's word count, L = `optimalLength`;
 * an empty reply (n = 0) scores 0. With the defaults (L = 50, tolerance 0.5): 50 words -> 1,
 * 25 or 75 -> exp(-1) ≈ 0.368, 100 -> exp(-4) ≈ 0.018.
 *
 * Breakdown: `turn_<i>` and `mean_words`. Metadata: `wordCounts`.
 */
export class ConcisenessReward extends RewardFunction {
  /** The ideal reply length in words. */
  readonly optimalLength: number;
  /** Width of the bell as a fraction of `optimalLength`. */
  readonly tolerance: number;

  constructor(options: ConcisenessRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "ConcisenessReward", "{ optimalLength: 50, tolerance: 0.5 }");
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.IMMEDIATE });
    this.optimalLength = parsed.optimalLength ?? 50;
    this.tolerance = parsed.tolerance ?? 0.5;
  }

  /** The length score of a reply of `words` words. */
  lengthScore(words: number): number {
    if (words === 0) return 0;
    const z = (words - this.optimalLength) / (this.tolerance * this.optimalLength);
    return Math.exp(-z * z);
  }

  /** Scores every assistant turn's length and averages. */
  async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
    const wordCounts = assistantTurnViews(turns).map((v) => wordCount(v.turn.content));
    const scores = wordCounts.map((n) => this.lengthScore(n));
    const result = turnMeanResult(scores, {}, { wordCounts }, (score) =>
      `conciseness ${score.toFixed(3)} (optimal ${this.optimalLength} words)`,
    );
    if (wordCounts.length > 0) result.breakdown.mean_words = wordCounts.reduce((a, b) => a + b, 0) / wordCounts.length;
    return result;
  }
}
