/**
 * KnowledgeAssessmentReward: does a tutor check understanding and guide rather than tell?
 */
import { RewardFunction, RewardType, parseRewardOptions, rewardFunctionOptionsSchema, type RewardFunctionOptions, type RewardResult } from "../reward.js";
import type { ConversationTurn } from "../trajectory.js";
import { assistantTurnViews, phraseMatches, turnMeanResult, weightedParts, wordCount } from "./text.js";

/** Options of {@link KnowledgeAssessmentReward} (the common ones only). */
export type KnowledgeAssessmentRewardOptions = RewardFunctionOptions;

const optionsSchema = rewardFunctionOptionsSchema.strict();

/** Weights of the parts of a turn's score (they sum to 1). */
const PART_WEIGHTS = { checksUnderstanding: 0.35, hints: 0.35, feedback: 0.3 } as const;

/** Phrases that, in a question, check the student's understanding. */
export const CHECK_PHRASES = [
  "can you", "could you", "what do you think", "do you understand", "does that make sense",
  "how would you", "why do you", "what would", "what happens", "try", "explain", "tell me",
];
/** Phrases that guide the student toward the answer. */
export const HINT_PHRASES = [
  "hint", "think about", "consider", "what happens if", "try", "remember that", "remember,", "notice",
  "look at", "start by", "what if",
];
/** Phrases that confirm or correct the student's previous answer. */
export const FEEDBACK_PHRASES = [
  "correct", "right", "exactly", "well done", "good job", "great job", "nice work", "not quite",
  "almost", "close", "mistake", "let's check", "that's it", "careful",
];
/** A bare answer: the tutor states the answer outright. */
const BARE_ANSWER = /\bthe\s+(?:correct\s+)?(?:answer|solution)\s+is\b/i;

/**
 * Rule-based tutoring quality, per assistant turn, averaged over turns (0 with none). A turn's
 * score is the weighted mean of the parts that apply:
 *
 * - `checks_understanding` (weight 0.35): 1 for a question (`?`) that uses a checking phrase
 *   ({@link CHECK_PHRASES}: can you, what do you think, does that make sense, …), 0.5 for any
 *   other question, 0 without a question.
 * - `hints` (0.35): 1 when the reply guides ({@link HINT_PHRASES}: hint, think about, consider, …),
 *   else 0; but 0 when it states the answer outright ("the answer is …") without asking anything.
 * - `feedback` (0.30): 1 when it confirms or corrects the student ({@link FEEDBACK_PHRASES}:
 *   correct, exactly, not quite, …), else 0. Applies only when a student (user) message precedes.
 *
 * An empty reply scores 0. Breakdown: `turn_<i>` and part means (`checks_understanding`, `hints`,
 * `feedback`), `bare_answers` (count).
 */
export class KnowledgeAssessmentReward extends RewardFunction {
  constructor(options: KnowledgeAssessmentRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "KnowledgeAssessmentReward", "{ weight: 0.4 }");
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.IMMEDIATE });
  }

  /** Scores every assistant turn by the rules above and averages. */
  async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
    const views = assistantTurnViews(turns);
    const checks: number[] = [];
    const hints: number[] = [];
    const feedback: Array<number | undefined> = [];
    let bareAnswers = 0;
    const scores = views.map((v, i) => {
      const reply = v.turn.content;
      const asks = reply.includes("?");
      checks[i] = !asks ? 0 : phraseMatches(reply, CHECK_PHRASES).length > 0 ? 1 : 0.5;
      const bare = BARE_ANSWER.test(reply) && !asks;
      if (bare) bareAnswers++;
      hints[i] = !bare && phraseMatches(reply, HINT_PHRASES).length > 0 ? 1 : 0;
      feedback[i] = v.userMessage === undefined ? undefined : phraseMatches(reply, FEEDBACK_PHRASES).length > 0 ? 1 : 0;
      if (wordCount(reply) === 0) return 0;
      return weightedParts([
        { weight: PART_WEIGHTS.checksUnderstanding, value: checks[i] },
        { weight: PART_WEIGHTS.hints, value: hints[i] },
        { weight: PART_WEIGHTS.feedback, value: feedback[i] },
      ]);
    });
    const result = turnMeanResult(
      scores,
      { checks_understanding: checks, hints, feedback },
      {},
      (score) => `knowledge assessment ${score.toFixed(3)} over ${scores.length} turn(s)`,
    );
    result.breakdown.bare_answers = bareAnswers;
    return result;
  }
}
