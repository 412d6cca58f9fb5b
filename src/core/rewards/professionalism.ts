/**
 * ProfessionalismReward: polite, empathetic, free of slang (customer-service tone).
 */
import { RewardFunction, RewardType, parseRewardOptions, rewardFunctionOptionsSchema, type RewardFunctionOptions, type RewardResult } from "../reward.js";
import type { ConversationTurn } from "../trajectory.js";
import { assistantTurnViews, phraseMatches, turnMeanResult, weightedParts, wordCount } from "./text.js";

/** Options of {@link ProfessionalismReward} (the common ones only). */
export type ProfessionalismRewardOptions = RewardFunctionOptions;

const optionsSchema = rewardFunctionOptionsSchema.strict();

/** Weights of the parts of a turn's professionalism (they sum to 1). */
const PART_WEIGHTS = { politeness: 0.4, empathy: 0.3, noSlang: 0.3 } as const;

/** Polite forms that earn the politeness part. */
export const POLITE_PHRASES = [
  "please", "thank you", "thanks", "you're welcome", "you are welcome", "happy to help", "glad to help",
  "i'd be happy", "i would be happy", "certainly", "of course", "my pleasure",
];
/** Apology and empathy phrases that earn the empathy part. */
export const EMPATHY_PHRASES = [
  "sorry", "apologize", "apologise", "apologies", "i understand", "understandable", "frustrating",
  "frustration", "i appreciate", "that must be", "i can see why",
];
/** Slang and chat-speak; each distinct one found costs 0.5 of the no-slang part. */
export const SLANG_WORDS = [
  "lol", "lmao", "omg", "wtf", "gonna", "wanna", "gotta", "dunno", "kinda", "sorta", "ya", "u", "ur",
  "dude", "bro", "yep", "nope", "whatever", "meh", "btw", "idk",
];

/** Shouting: a run of 3+ exclamation marks, or 2+ all-caps words of 4+ letters. Costs like one slang word. */
function shouts(text: string): boolean {
  const capsWords = text.match(/\b[A-Z]{4,}\b/g) ?? [];
  return /!{3,}/.test(text) || capsWords.length >= 2;
}

/**
 * Rule-based professionalism, per assistant turn, averaged over turns (0 with none). A turn's
 * score is `0.4 * politeness + 0.3 * empathy + 0.3 * noSlang`:
 *
 * - `politeness`: 1 when the reply uses a polite form ({@link POLITE_PHRASES}), else 0.
 * - `empathy`: 1 when it apologises or shows empathy ({@link EMPATHY_PHRASES}), else 0.
 * - `no_slang`: `max(0, 1 - 0.5 * k)`, k = distinct slang words ({@link SLANG_WORDS}, whole words,
 *   case-insensitive) plus 1 if the reply shouts (`!!!`, or two or more ALL-CAPS words of 4+ letters).
 *
 * An empty reply scores 0. Breakdown: `turn_<i>` and part means (`politeness`, `empathy`,
 * `no_slang`). Metadata: `slang` (per turn, the slang found).
 */
export class ProfessionalismReward extends RewardFunction {
  constructor(options: ProfessionalismRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "ProfessionalismReward", "{ weight: 0.3 }");
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.IMMEDIATE });
  }

  /** Scores every assistant turn by the rules above and averages. */
  async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
    const views = assistantTurnViews(turns);
    const politeness: number[] = [];
    const empathy: number[] = [];
    const noSlang: number[] = [];
    const slang: string[][] = [];
    const scores = views.map((v, i) => {
      const reply = v.turn.content;
      politeness[i] = phraseMatches(reply, POLITE_PHRASES).length > 0 ? 1 : 0;
      empathy[i] = phraseMatches(reply, EMPATHY_PHRASES).length > 0 ? 1 : 0;
      slang[i] = phraseMatches(reply, SLANG_WORDS);
      if (shouts(reply)) slang[i].push("(shouting)");
      noSlang[i] = Math.max(0, 1 - 0.5 * slang[i].length);
      if (wordCount(reply) === 0) return 0;
      return weightedParts([
        { weight: PART_WEIGHTS.politeness, value: politeness[i] },
        { weight: PART_WEIGHTS.empathy, value: empathy[i] },
        { weight: PART_WEIGHTS.noSlang, value: noSlang[i] },
      ]);
    });
    return turnMeanResult(scores, { politeness, empathy, no_slang: noSlang }, { slang }, (score) =>
      `professionalism ${score.toFixed(3)} over ${scores.length} turn(s)`,
    );
  }
}
