/**
 * HelpfulnessReward: does each reply address the user, with substance and a way forward?
 */
import { z } from "zod";
import { RewardFunction, RewardType, parseRewardOptions, rewardFunctionOptionsSchema, type RewardFunctionOptions, type RewardResult } from "../reward.js";
import type { ConversationTurn } from "../trajectory.js";
import {
  assistantTurnViews,
  contentWords,
  overlapCount,
  phraseMatches,
  phraseRegex,
  turnMeanResult,
  weightedParts,
  wordCount,
} from "./text.js";

/** Options of {@link HelpfulnessReward}. */
export interface HelpfulnessRewardOptions extends RewardFunctionOptions {
  /** Fewest words for full substance credit (integer >= 1, default 5). */
  minWords?: number;
  /** Most words for full substance credit (integer >= minWords, default 150). */
  maxWords?: number;
  /** Factor applied to a refusal's turn score (in [0, 1], default 0.2). */
  refusalFactor?: number;
}

const optionsSchema = rewardFunctionOptionsSchema
  .extend({
    minWords: z.number().int().min(1).optional(),
    maxWords: z.number().int().min(1).optional(),
    refusalFactor: z.number().min(0).max(1).optional(),
  })
  .strict()
  .refine((o) => (o.maxWords ?? 150) >= (o.minWords ?? 5), { message: "maxWords >= minWords", path: ["maxWords"] });

/** Weights of the parts of a turn's helpfulness (they sum to 1). */
const PART_WEIGHTS = { relevance: 0.35, substance: 0.3, structure: 0.15, nextStep: 0.2 } as const;

/** Content words shared with the user message that earn full relevance. */
const RELEVANCE_TARGET = 3;

const LIST_LINE = /^\s*(?:[-*•]|\d+[.)])\s+\S/m;
const STEP_WORDS = ["first", "second", "then", "next", "finally", "step"];
const EXAMPLE_PHRASES = ["for example", "for instance", "e.g.", "such as", "```"];
const NEXT_STEP_PHRASES = [
  "let me know", "would you like", "do you want", "feel free", "you can", "you could", "try",
  "next step", "i can also", "happy to", "if you need",
];
/** Refusals: a reply that declines to help. */
export const REFUSAL_PATTERN =
  /\bi(?:\s+can(?:no|['’]?)t|\s+won['’]?t|\s+am\s+(?:not\s+able|unable)|['’]m\s+(?:not\s+able|unable))\s+(?:to\s+)?(?:help|assist|answer|do\s+that|provide)\b|\bi\s+(?:must|have\s+to)\s+decline\b/i;

/** How well one reply does on each part (see {@link HelpfulnessReward}). */
interface TurnParts {
  relevance: number | undefined;
  substance: number;
  structure: number;
  nextStep: number;
  refusal: boolean;
  empty: boolean;
}

function substanceOf(words: number, minWords: number, maxWords: number): number {
  if (words < minWords) return words / minWords;
  if (words <= maxWords) return 1;
  return Math.max(0, 1 - (words - maxWords) / maxWords);
}

function structureOf(text: string): number {
  const kinds = [LIST_LINE.test(text), phraseRegex(STEP_WORDS).test(text), phraseMatches(text, EXAMPLE_PHRASES).length > 0];
  return Math.min(1, 0.5 * kinds.filter(Boolean).length);
}

/**
 * Rule-based helpfulness, per assistant turn, averaged over the episode's assistant turns (0 when
 * there are none). A turn's score is the weighted mean of the parts that apply to it:
 *
 * - `relevance` (weight 0.35): `min(1, shared / min(3, |U|))`, where U is the set of content-word
 *   stems of the preceding user message and `shared` how many of them the reply uses. Does not apply
 *   when there is no preceding user message or it has no content words ("Hi!").
 * - `substance` (0.30), with n the reply's word count: `n / minWords` below minWords, 1 within
 *   [minWords, maxWords], then `max(0, 1 - (n - maxWords) / maxWords)` (0 at twice maxWords).
 * - `structure` (0.15): 0.5 per kind of structure present, at most 1. Kinds: a list (a line
 *   starting with `-`, `*`, `•`, `1.` or `1)`), step words (first, second, then, next, finally,
 *   step), an example (for example, for instance, e.g., such as, a code fence).
 * - `nextStep` (0.20): 1 when the reply asks a question (`?`) or offers a way forward (let me know,
 *   would you like, do you want, feel free, you can, you could, try, next step, I can also,
 *   happy to, if you need), else 0.
 *
 * Penalties: an empty reply (no words) scores 0; a refusal ("I can't help", "I'm unable to assist",
 * "I must decline", …) has its score multiplied by `refusalFactor` (default 0.2).
 *
 * Breakdown: `turn_<i>`, the mean of each part over the turns it applied to (`relevance`,
 * `substance`, `structure`, `next_step`), and `refusals` (a count). Metadata: `refusalTurns`,
 * `emptyTurns` (assistant-turn indices).
 */
export class HelpfulnessReward extends RewardFunction {
  /** Fewest words for full substance credit. */
  readonly minWords: number;
  /** Most words for full substance credit. */
  readonly maxWords: number;
  /** Factor applied to a refusal's turn score. */
  readonly refusalFactor: number;

  constructor(options: HelpfulnessRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "HelpfulnessReward", "{ weight: 0.4, minWords: 5, maxWords: 150 }");
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.IMMEDIATE });
    this.minWords = parsed.minWords ?? 5;
    this.maxWords = parsed.maxWords ?? 150;
    this.refusalFactor = parsed.refusalFactor ?? 0.2;
  }

  /** The parts of one reply given the user message it answers. */
  private partsOf(reply: string, userMessage: string | undefined): TurnParts {
    const words = wordCount(reply);
    const userWords = contentWords(userMessage ?? "");
    const relevance =
      userWords.size === 0
        ? undefined
        : Math.min(1, overlapCount(userWords, contentWords(reply)) / Math.min(RELEVANCE_TARGET, userWords.size));
    return {
      relevance,
      substance: substanceOf(words, this.minWords, this.maxWords),
      structure: structureOf(reply),
      nextStep: reply.includes("?") || phraseMatches(reply, NEXT_STEP_PHRASES).length > 0 ? 1 : 0,
      refusal: REFUSAL_PATTERN.test(reply),
      empty: words === 0,
    };
  }

  /** Scores every assistant turn by the rules above and averages. */
  async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
    const views = assistantTurnViews(turns);
    const parts = views.map((v) => this.partsOf(v.turn.content, v.userMessage));
    const scores = parts.map((p) => {
      if (p.empty) return 0;
      const base = weightedParts([
        { weight: PART_WEIGHTS.relevance, value: p.relevance },
        { weight: PART_WEIGHTS.substance, value: p.substance },
        { weight: PART_WEIGHTS.structure, value: p.structure },
        { weight: PART_WEIGHTS.nextStep, value: p.nextStep },
      ]);
      return p.refusal ? base * this.refusalFactor : base;
    });
    const refusalTurns = views.filter((_, i) => parts[i].refusal).map((v) => v.index);
    const emptyTurns = views.filter((_, i) => parts[i].empty).map((v) => v.index);
    const result = turnMeanResult(
      scores,
      {
        relevance: parts.map((p) => p.relevance),
        substance: parts.map((p) => p.substance),
        structure: parts.map((p) => p.structure),
        next_step: parts.map((p) => p.nextStep),
      },
      { refusalTurns, emptyTurns },
      (score) => `helpfulness ${score.toFixed(3)} over ${scores.length} turn(s)` +
        (refusalTurns.length > 0 ? `, ${refusalTurns.length} refusal(s)` : ""),
    );
    result.breakdown.refusals = refusalTurns.length;
    return result;
  }
}
