/**
 * EngagementReward: does the assistant talk *with* the user rather than at them?
 */
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
  wordsOf,
} from "./text.js";

/** Options of {@link EngagementReward} (the common ones only). */
export type EngagementRewardOptions = RewardFunctionOptions;

const optionsSchema = rewardFunctionOptionsSchema.strict();

/** Weights of the parts of a turn's engagement (they sum to 1). */
const PART_WEIGHTS = { question: 0.3, secondPerson: 0.2, acknowledgement: 0.3, variety: 0.2 } as const;

const SECOND_PERSON = phraseRegex(["you", "your", "yours", "yourself", "you're", "you've", "you'll", "you'd"]);
const ACKNOWLEDGEMENTS = [
  "great question", "good question", "good point", "thanks for", "thank you for", "i understand",
  "i see", "that makes sense", "sounds like", "you mentioned", "you said", "i hear you",
];
/** Words of a reply's opening compared across turns. */
const OPENING_WORDS = 3;

function opening(text: string): string {
  return wordsOf(text).slice(0, OPENING_WORDS).join(" ");
}

function normalisedReply(text: string): string {
  return wordsOf(text).join(" ");
}

/**
 * Rule-based engagement, per assistant turn, averaged over turns (0 with none). A turn's score is
 * the weighted mean of the parts that apply:
 *
 * - `question` (weight 0.3): 1 when the reply asks something back (`?`), else 0.
 * - `second_person` (0.2): 1 when it addresses the user (you, your, you're, …), else 0.
 * - `acknowledgement` (0.3): `max(phrase, min(1, shared / 2))`: phrase = 1 for an acknowledgement
 *   (great/good question, good point, thanks for, I understand, I see, that makes sense, sounds
 *   like, you mentioned, you said, I hear you), shared = content-word stems shared with the
 *   preceding user message. Does not apply when there is no preceding user message.
 * - `variety` (0.2): 1 when the reply's first 3 words differ from the opening of every earlier
 *   assistant turn, else 0. Does not apply to the first assistant turn.
 *
 * Penalties: an empty reply scores 0; a reply identical (same words) to an earlier one scores 0.
 * Breakdown: `turn_<i>`, part means (`question`, `second_person`, `acknowledgement`, `variety`),
 * `repeats` (count). Metadata: `repeatedTurns`.
 */
export class EngagementReward extends RewardFunction {
  constructor(options: EngagementRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "EngagementReward", "{ weight: 0.3 }");
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.IMMEDIATE });
  }

  /** Scores every assistant turn by the rules above and averages. */
  async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
    const views = assistantTurnViews(turns);
    const question: number[] = [];
    const secondPerson: number[] = [];
    const acknowledgement: Array<number | undefined> = [];
    const variety: Array<number | undefined> = [];
    const repeatedTurns: number[] = [];
    const scores = views.map((v, i) => {
      const reply = v.turn.content;
      question[i] = reply.includes("?") ? 1 : 0;
      secondPerson[i] = SECOND_PERSON.test(reply) ? 1 : 0;
      if (v.userMessage === undefined) acknowledgement[i] = undefined;
      else {
        const phrase = phraseMatches(reply, ACKNOWLEDGEMENTS).length > 0 ? 1 : 0;
        const shared = overlapCount(contentWords(v.userMessage), contentWords(reply));
        acknowledgement[i] = Math.max(phrase, Math.min(1, shared / 2));
      }
      const open = opening(reply);
      variety[i] = v.previousReplies.length === 0 ? undefined : v.previousReplies.every((p) => opening(p) !== open) ? 1 : 0;

      const words = normalisedReply(reply);
      if (words.length === 0) return 0;
      if (v.previousReplies.some((p) => normalisedReply(p) === words)) {
        repeatedTurns.push(v.index);
        return 0;
      }
      return weightedParts([
        { weight: PART_WEIGHTS.question, value: question[i] },
        { weight: PART_WEIGHTS.secondPerson, value: secondPerson[i] },
        { weight: PART_WEIGHTS.acknowledgement, value: acknowledgement[i] },
        { weight: PART_WEIGHTS.variety, value: variety[i] },
      ]);
    });
    const result = turnMeanResult(
      scores,
      { question, second_person: secondPerson, acknowledgement, variety },
      { repeatedTurns },
      (score) => `engagement ${score.toFixed(3)} over ${scores.length} turn(s)` +
        (repeatedTurns.length > 0 ? `, ${repeatedTurns.length} repeated repl(ies)` : ""),
    );
    result.breakdown.repeats = repeatedTurns.length;
    return result;
  }
}
