/**
 * CorrectnessReward: does the final answer match the ground truth?
 */
import { z } from "zod";
import { GrpoError } from "../errors.js";
import {
  RewardFunction,
  RewardType,
  parseRewardOptions,
  rewardFunctionOptionsSchema,
  type RewardContext,
  type RewardFunctionOptions,
  type RewardResult,
} from "../reward.js";
import type { ConversationTurn } from "../trajectory.js";
import { assistantTurnViews } from "./text.js";

/** What a correct answer is: a number, a text, a pattern, or several items that must all appear. */
export type GroundTruth = string | number | RegExp | Array<string | number>;

/** Options of {@link CorrectnessReward}. */
export interface CorrectnessRewardOptions extends RewardFunctionOptions {
  /** The expected answer; default: read from the context (see {@link CorrectnessReward}). */
  groundTruth?: GroundTruth;
  /** Absolute tolerance for numeric answers: |found - expected| <= tolerance (>= 0, default 1e-6). */
  tolerance?: number;
  /** Compare text answers case-sensitively (default false). */
  caseSensitive?: boolean;
}

const groundTruthSchema = z.union([
  z.string().min(1),
  z.number(),
  z.instanceof(RegExp),
  z.array(z.union([z.string().min(1), z.number()])).min(1),
]);

const optionsSchema = rewardFunctionOptionsSchema
  .extend({
    groundTruth: groundTruthSchema.optional(),
    tolerance: z.number().min(0).optional(),
    caseSensitive: z.boolean().optional(),
  })
  .strict();

/** Context keys searched for the ground truth, in order (camelCase first; snake_case from Python scenarios). */
export const GROUND_TRUTH_KEYS = ["groundTruth", "expectedAnswer", "ground_truth", "expected_answer"] as const;

const NUMBER = /[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?|[-−]?\.\d+/gi;
const MARKED_NUMBER = new RegExp(
  `(?:answer|result|total|solution)\\s*(?:is|was|:|=)\\s*\\**\\s*(${NUMBER.source})|=\\s*(${NUMBER.source})`,
  "gi",
);

function parseNumber(text: string): number {
  return Number(text.replace(/,/g, "").replace("−", "-"));
}

/** Every number written in `text` (`1,234.5`, `-3`, `2e3`), in order. */
export function extractNumbers(text: string): number[] {
  return (text.match(NUMBER) ?? []).map(parseNumber).filter(Number.isFinite);
}

/**
 * The number `text` gives as its answer: the last number after an answer marker (`answer is`,
 * `result:`, `total =`, `solution is`, or a bare `=`), else the last number in the text; undefined
 * when there is none.
 */
export function extractFinalNumber(text: string): number | undefined {
  let marked: number | undefined;
  for (const m of text.matchAll(MARKED_NUMBER)) {
    const value = parseNumber(m[1] ?? m[2]);
    if (Number.isFinite(value)) marked = value;
  }
  if (marked !== undefined) return marked;
  const all = extractNumbers(text);
  return all.length > 0 ? all[all.length - 1] : undefined;
}

/** Lower-cases (unless `caseSensitive`), NFKC-normalises, turns punctuation into spaces, collapses spaces. */
export function normaliseText(text: string, caseSensitive = false): string {
  const t = text.normalize("NFKC");
  return (caseSensitive ? t : t.toLowerCase()).replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** True when `text` (normalised) contains `expected` (normalised) as whole words. */
function containsText(text: string, expected: string, caseSensitive: boolean): boolean {
  const needle = normaliseText(expected, caseSensitive);
  if (needle.length === 0) return false;
  return ` ${normaliseText(text, caseSensitive)} `.includes(` ${needle} `);
}

/** A string that is exactly one number (`"42"`, `" -3.5 "`, `"1,000"`) is compared numerically. */
function asNumber(value: string | number): number | undefined {
  if (typeof value === "number") return value;
  const trimmed = value.trim();
  if (!/^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?$/i.test(trimmed)) return undefined;
  const n = parseNumber(trimmed);
  return Number.isFinite(n) ? n : undefined;
}

/** Where the ground truth came from, for the metadata. */
type TruthSource = "options" | `context.${(typeof GROUND_TRUTH_KEYS)[number]}`;

/**
 * Checks the final answer against a ground truth; 1 (correct) or 0, partial for a list.
 *
 * Ground truth: `options.groundTruth`, else the first of `context.groundTruth`,
 * `context.expectedAnswer` (or snake_case `ground_truth`, `expected_answer`); neither -> an
 * `invalid_reward` error naming both places. The answer is the content of the last assistant turn
 * with text (tool results the agent echoed into its reply count as part of it).
 *
 * - number (or a string that is just a number, e.g. `"42"`): the answer's final number
 *   ({@link extractFinalNumber}: the last number after "answer is" / "result:" / "=", else the last
 *   number) must be within `tolerance` (absolute, default 1e-6). Score 1 or 0.
 * - text: normalised containment ({@link normaliseText}: case-folded unless `caseSensitive`,
 *   punctuation ignored) on whole words. Score 1 or 0.
 * - RegExp: tested on the raw answer text. Score 1 or 0.
 * - list: the fraction of items found; a numeric item is found when *any* number in the answer is
 *   within tolerance, a text item by containment.
 *
 * A SPARSE reward: breakdown `turn_<i>` is 0 for every assistant turn but the answering one, which
 * holds the score; plus `correct` (the score) and `answer_found` (1 when the answer has a number,
 * for numeric truths, or any text). Metadata: `expected`, `source`, `answer` (the number or text
 * compared), `found` (per item, for lists).
 */
export class CorrectnessReward extends RewardFunction {
  /** The ground truth given in the options, if any. */
  readonly groundTruth?: GroundTruth;
  /** Absolute tolerance for numbers. */
  readonly tolerance: number;
  /** Case-sensitive text comparison. */
  readonly caseSensitive: boolean;

  constructor(options: CorrectnessRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "CorrectnessReward", "{ groundTruth: 42, tolerance: 0.01 }");
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.SPARSE });
    if (parsed.groundTruth !== undefined) this.groundTruth = parsed.groundTruth;
    this.tolerance = parsed.tolerance ?? 1e-6;
    this.caseSensitive = parsed.caseSensitive ?? false;
  }

  /** The ground truth from the options or the context; throws `invalid_reward` naming both places. */
  private resolveTruth(context: RewardContext | undefined): { truth: GroundTruth; source: TruthSource } {
    if (this.groundTruth !== undefined) return { truth: this.groundTruth, source: "options" };
    for (const key of GROUND_TRUTH_KEYS) {
      const value = context?.[key];
      if (value === undefined || value === null) continue;
      const checked = groundTruthSchema.safeParse(value);
      if (!checked.success) {
        throw new GrpoError("invalid_reward", `CorrectnessReward found an unusable ground truth in \`context.${key}\`.`, {
          field: `context.${key}`,
          value,
          expected: "a string, number, RegExp or non-empty array of strings/numbers",
          fix: `fix the scenario's \`${key}\`, or pass \`new CorrectnessReward({ groundTruth })\`.`,
        });
      }
      return { truth: checked.data, source: `context.${key}` };
    }
    throw new GrpoError("invalid_reward", "CorrectnessReward has no ground truth to compare the answer with.", {
      field: "CorrectnessReward.groundTruth",
      value: context,
      expected: "`groundTruth` in the options, or `groundTruth` / `expectedAnswer` in the scenario context",
      fix: "pass `new CorrectnessReward({ groundTruth: 42 })`, or add `groundTruth` (or `expectedAnswer`) to each scenario.",
    });
  }

  private numberMatches(found: number | undefined, expected: number): boolean {
    return found !== undefined && Math.abs(found - expected) <= this.tolerance;
  }

  /** Compares the final answer with the ground truth by the rules above. */
  async computeReward(turns: ConversationTurn[], context?: RewardContext): Promise<RewardResult> {
    const { truth, source } = this.resolveTruth(context);
    const views = assistantTurnViews(turns);
    const answering = [...views].reverse().find((v) => v.turn.content.trim().length > 0);
    const answer = answering?.turn.content ?? "";
    const metadata: Record<string, unknown> = { expected: truth instanceof RegExp ? String(truth) : truth, source };
    let score: number;
    let answerFound: boolean;

    if (Array.isArray(truth)) {
      const numbers = extractNumbers(answer);
      const found = truth.map((item) => {
        const n = asNumber(item);
        return n !== undefined
          ? numbers.some((x) => this.numberMatches(x, n))
          : containsText(answer, String(item), this.caseSensitive);
      });
      score = found.filter(Boolean).length / truth.length;
      answerFound = answer.trim().length > 0;
      metadata.found = found;
      metadata.answer = answer;
    } else if (truth instanceof RegExp) {
      score = new RegExp(truth.source, truth.flags.replace(/[gy]/g, "")).test(answer) ? 1 : 0;
      answerFound = answer.trim().length > 0;
      metadata.answer = answer;
    } else {
      const expectedNumber = asNumber(truth);
      if (expectedNumber !== undefined) {
        const finalNumber = extractFinalNumber(answer);
        score = this.numberMatches(finalNumber, expectedNumber) ? 1 : 0;
        answerFound = finalNumber !== undefined;
        metadata.answer = finalNumber ?? null;
      } else {
        score = containsText(answer, String(truth), this.caseSensitive) ? 1 : 0;
        answerFound = answer.trim().length > 0;
        metadata.answer = answer;
      }
    }

    const breakdown: Record<string, number> = {};
    for (const v of views) breakdown[`turn_${v.index}`] = v === answering ? score : 0;
    breakdown.correct = score;
    breakdown.answer_found = answerFound ? 1 : 0;
    const explanation = answering === undefined
      ? "no assistant answer"
      : `answer ${JSON.stringify(metadata.answer).slice(0, 60)} vs expected ${JSON.stringify(metadata.expected).slice(0, 60)}: ${score}`;
    return { score, breakdown, metadata, explanation };
  }
}
