/**
 * Rewards: how an episode is scored.
 *
 * - {@link RewardFunction}: the base class; subclasses implement `computeReward(turns, context)`
 *   and resolve to a {@link RewardResult} `{ score, breakdown, metadata }`.
 * - {@link CompositeReward}: several rewards combined (weighted mean by default), every component's
 *   score and breakdown kept under its name.
 * - {@link rewardFunction}: a plain (async) function turned into a RewardFunction, the TypeScript
 *   twin of the usage guide's `@reward_function` decorator.
 * - {@link evaluateReward} / {@link scoreTrajectory}: the one safe entry point the library calls. A
 *   reward that throws, hangs or returns garbage becomes a `reward_failed` error that names the
 *   reward and the trajectory, instead of a NaN that silently poisons the advantages.
 *
 * The built-in rewards live in `./rewards/`.
 */
import { z } from "zod";
import { GrpoError, describeValue } from "./errors.js";
import { parseWith } from "./validation.js";
import { ConversationTurn, type MultiTurnTrajectory } from "./trajectory.js";

/** When a reward's signal arrives in an episode. Informational: scoring works the same for all. */
export enum RewardType {
  /** Scored per turn as it happens; the episode score summarises the turns (usually their mean). */
  IMMEDIATE = "immediate",
  /** Accumulated over turns: the episode score is the sum of the per-turn contributions. */
  CUMULATIVE = "cumulative",
  /** Only at the episode's end (e.g. a final answer checked against the ground truth). */
  SPARSE = "sparse",
  /** Every turn gets a signal (shaped reward), not only the turns where something happened. */
  DENSE = "dense",
}

/** What a reward function returns for one episode. */
export interface RewardResult {
  /** The episode's score. Any finite number; the built-in rewards stay in [0, 1]. */
  score: number;
  /**
   * Named parts of the score, e.g. `turn_0`, `turn_1` (per assistant turn, 0-based) or `relevance`.
   * Finite numbers only. {@link scoreTrajectory} reads the `turn_<i>` keys as per-turn rewards.
   */
  breakdown: Record<string, number>;
  /** Anything else worth keeping (matched patterns, counts); keep it JSON-serialisable. */
  metadata: Record<string, unknown>;
  /** A one-line human explanation of the score, shown in notebooks and reports. */
  explanation?: string;
}

/** Builds a {@link RewardResult}; `breakdown` and `metadata` default to `{}`. */
export function rewardResult(
  score: number,
  breakdown: Record<string, number> = {},
  metadata: Record<string, unknown> = {},
  explanation?: string,
): RewardResult {
  const result: RewardResult = { score, breakdown, metadata };
  if (explanation !== undefined) result.explanation = explanation;
  return result;
}

/**
 * What a reward sees besides the turns: the environment state's context merged with the scenario's
 * fields, e.g. `groundTruth`, `expectedAnswer`, `completedActions`, `requiredActions`.
 */
export type RewardContext = Record<string, unknown>;

/** Options every reward function accepts. */
export interface RewardFunctionOptions {
  /**
   * Relative importance when combined in a {@link CompositeReward}; finite and >= 0, default 1.
   * A reward used on its own is not scaled by its weight.
   */
  weight?: number;
  /**
   * Name used in breakdowns, metrics and error messages. Default: the class name without a trailing
   * `Reward`, in snake_case (`HelpfulnessReward` -> `helpfulness`). Must not contain `/` (the
   * composite's separator) nor look like a per-turn key (`turn_3`).
   */
  name?: string;
  /** When the signal arrives (see {@link RewardType}); default IMMEDIATE. */
  rewardType?: RewardType;
}

/** Per-turn breakdown keys: `turn_0`, `turn_1`, … (0-based over assistant turns). */
const TURN_KEY = /^turn_\d+$/;

/** Schema of {@link RewardFunctionOptions}; subclasses extend it for their own options. */
export const rewardFunctionOptionsSchema = z.object({
  weight: z.number().min(0).optional(),
  name: z
    .string()
    .min(1)
    .regex(/^[^/]+$/, "a name without `/` (the composite reward's separator)")
    .refine((n) => !TURN_KEY.test(n), "a name that is not a per-turn key like `turn_0`")
    .optional(),
  rewardType: z.enum(RewardType).optional(),
});

/**
 * `HelpfulnessReward` -> `helpfulness_reward`, `creativityReward` -> `creativity_reward`,
 * `HTTPCheck` -> `http_check`. Non-alphanumeric runs become one `_`.
 */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toLowerCase();
}

/** The default reward name of a class: without a trailing `Reward`, snake_case; `reward` if empty. */
export function defaultRewardName(className: string): string {
  const base = snakeCase(className.replace(/Reward$/, ""));
  return base.length > 0 ? base : "reward";
}

/**
 * Parses the options object of reward class `className` with `schema` (undefined means `{}`);
 * on failure throws an `invalid_reward` {@link GrpoError} naming the field (`className.field`) and
 * showing `new className(example)` as the fix. For subclasses with their own options.
 */
export function parseRewardOptions<S extends z.ZodType>(
  schema: S,
  options: unknown,
  className: string,
  example = "{ weight: 0.5 }",
): z.output<S> {
  return parseWith(schema, options ?? {}, {
    root: className,
    code: "invalid_reward",
    fix: `pass one options object with camelCase keys, e.g. \`new ${className}(${example})\`; weight is a finite number >= 0.`,
  });
}

/**
 * The base class of every reward. Subclasses implement {@link RewardFunction.computeReward}:
 *
 * ```ts
 * class CustomReward extends RewardFunction {
 *   async computeReward(turns: ConversationTurn[]): Promise<RewardResult> {
 *     const replies = turns.filter((t) => t.role === "assistant");
 *     const breakdown: Record<string, number> = {};
 *     replies.forEach((t, i) => (breakdown[`turn_${i}`] = t.content.length / 100));
 *     const score = Object.values(breakdown).reduce((a, b) => a + b, 0) / Math.max(1, replies.length);
 *     return { score, breakdown, metadata: { numTurns: replies.length } };
 *   }
 * }
 * ```
 */
export abstract class RewardFunction {
  /** Relative importance inside a {@link CompositeReward} (finite, >= 0; default 1). */
  readonly weight: number;
  /** The name used in breakdowns, metrics and errors (see {@link RewardFunctionOptions.name}). */
  readonly name: string;
  /** When the signal arrives (default IMMEDIATE). */
  readonly rewardType: RewardType;

  constructor(options: RewardFunctionOptions = {}) {
    const className = new.target.name || "RewardFunction";
    const parsed = parseRewardOptions(rewardFunctionOptionsSchema, options, className);
    this.weight = parsed.weight ?? 1;
    this.name = parsed.name ?? defaultRewardName(className);
    this.rewardType = parsed.rewardType ?? RewardType.IMMEDIATE;
  }

  /**
   * Scores one episode. `turns` are all its turns in order (system, user, assistant, tool);
   * `context` is the environment/scenario context when the caller has one. Call it through
   * {@link evaluateReward} (or {@link scoreTrajectory}) to get validation and clear errors.
   */
  abstract computeReward(turns: ConversationTurn[], context?: RewardContext): Promise<RewardResult>;

  /**
   * The per-assistant-turn scores in `result`, one entry per assistant turn (`undefined` where not
   * known). The default reads the breakdown's `turn_<i>` keys; {@link CompositeReward} combines
   * its components'. Override it when your reward stores per-turn scores differently.
   */
  turnScores(result: RewardResult, numAssistantTurns: number): Array<number | undefined> {
    const out: Array<number | undefined> = [];
    for (let i = 0; i < numAssistantTurns; i++) {
      const value = result.breakdown[`turn_${i}`];
      out.push(typeof value === "number" && Number.isFinite(value) ? value : undefined);
    }
    return out;
  }

  /** `` `helpfulness` (HelpfulnessReward) ``: how errors and reports name this reward. */
  toString(): string {
    return `\`${this.name}\` (${this.constructor.name || "anonymous RewardFunction subclass"})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Validating what a reward returned
// ---------------------------------------------------------------------------------------------

/** Where a reward is being evaluated, for error messages. */
export interface RewardWhere {
  /** The trajectory being scored. */
  trajectoryId?: string;
  /** The scenario (or task) it played. */
  scenarioId?: string;
  /**
   * Give up after this many milliseconds (finite, > 0; default: no limit). Only asynchronous waits
   * can be interrupted: a synchronous infinite loop blocks the whole process.
   */
  timeoutMs?: number;
}

function whereText(where: RewardWhere): string {
  const parts: string[] = [];
  if (where.trajectoryId !== undefined) parts.push(`trajectory \`${where.trajectoryId}\``);
  if (where.scenarioId !== undefined) parts.push(`scenario \`${where.scenarioId}\``);
  return parts.length > 0 ? ` while scoring ${parts.join(" of ")}` : "";
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const RESULT_FIX =
  "make computeReward resolve to `{ score: <finite number>, breakdown: { name: number }, metadata: {} }` " +
  "(a function given to rewardFunction() may also return a finite number).";

/**
 * Checks a raw value against the {@link RewardResult} contract and returns a fresh, normalised copy
 * (missing `breakdown`/`metadata` become `{}`). Throws `reward_failed` naming `label` otherwise.
 */
function checkResult(raw: unknown, label: string, where: RewardWhere): RewardResult {
  const fail = (problem: string, field: string, value: unknown, expected: string): never => {
    throw new GrpoError("reward_failed", `Reward function ${label} returned ${problem}${whereText(where)}.`, {
      field,
      value,
      expected,
      fix: RESULT_FIX,
    });
  };
  if (!isPlainRecord(raw)) {
    fail(`${raw === null ? "null" : Array.isArray(raw) ? "an array" : `a ${typeof raw}`} instead of a RewardResult`,
      "result", raw, "an object `{ score, breakdown, metadata }`");
  }
  const obj = raw as Record<string, unknown>;
  if (!("score" in obj)) fail("an object without `score`", "result.score", obj, "a finite number");
  const score = obj.score;
  if (typeof score !== "number") fail("a non-number score", "result.score", score, "a finite number");
  if (!Number.isFinite(score)) fail(`a ${Number.isNaN(score) ? "NaN" : "non-finite"} score`, "result.score", score, "a finite number");

  const breakdown: Record<string, number> = {};
  if (obj.breakdown !== undefined) {
    if (!isPlainRecord(obj.breakdown)) {
      fail("a breakdown that is not an object", "result.breakdown", obj.breakdown, "an object of name -> finite number");
    }
    for (const [key, value] of Object.entries(obj.breakdown as Record<string, unknown>)) {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        fail(`a non-finite breakdown entry \`${key}\``, `result.breakdown.${key}`, value, "a finite number");
      }
      breakdown[key] = value as number;
    }
  }
  let metadata: Record<string, unknown> = {};
  if (obj.metadata !== undefined) {
    if (!isPlainRecord(obj.metadata)) fail("metadata that is not an object", "result.metadata", obj.metadata, "an object");
    metadata = obj.metadata as Record<string, unknown>;
  }
  const result: RewardResult = { score: score as number, breakdown, metadata };
  if (obj.explanation !== undefined) {
    if (typeof obj.explanation !== "string") {
      fail("an explanation that is not a string", "result.explanation", obj.explanation, "a string or nothing");
    }
    result.explanation = obj.explanation as string;
  }
  return result;
}

/** Rejects after `ms` milliseconds unless `promise` settles first; always clears its timer. */
async function withTimeout<T>(promise: Promise<T>, ms: number | undefined, onTimeout: () => Error): Promise<T> {
  if (ms === undefined) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return describeValue(error);
}

/**
 * Runs `reward.computeReward(turns, context)` safely: the one entry point the trainer, rollouts and
 * evaluation use. Throws, rejections, a timeout, non-object results and NaN/Infinity/non-number
 * scores all become a {@link GrpoError} with code `reward_failed` whose message names the reward
 * (its name and class) and, when given, the trajectory and scenario ids; the original error is kept
 * as `cause`. Resolves to a normalised copy of the result.
 */
export async function evaluateReward(
  reward: RewardFunction,
  turns: ConversationTurn[],
  context: RewardContext | undefined,
  where: RewardWhere = {},
): Promise<RewardResult> {
  if (!(reward instanceof RewardFunction)) {
    throw new GrpoError("invalid_reward", "Not a RewardFunction.", {
      field: "reward",
      value: reward,
      expected: "an instance of a RewardFunction subclass",
      fix: "wrap a plain function with `rewardFunction({ weight: 1 }, async (turns, context) => score)`.",
    });
  }
  if (!Array.isArray(turns) || !turns.every((t) => t instanceof ConversationTurn)) {
    throw new GrpoError("invalid_argument", `Reward function ${reward} needs the episode's turns.`, {
      field: "turns",
      expected: "an array of `new ConversationTurn({ role, content })`",
    });
  }
  if (context !== undefined && !isPlainRecord(context)) {
    throw new GrpoError("invalid_argument", `Reward function ${reward} got a context that is not an object.`, {
      field: "context",
      value: context,
      expected: "an object such as `{ groundTruth: 42 }`, or undefined",
    });
  }
  const timeoutMs = where.timeoutMs;
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new GrpoError("invalid_argument", "Invalid reward timeout.", {
      field: "timeoutMs",
      value: timeoutMs,
      expected: "a finite number of milliseconds > 0, or undefined for no limit",
    });
  }
  const label = String(reward);
  let timeoutError: GrpoError | undefined;
  const onTimeout = (): GrpoError =>
    (timeoutError = new GrpoError("reward_failed", `Reward function ${label} did not finish within ${timeoutMs} ms${whereText(where)}.`, {
      field: "timeoutMs",
      value: timeoutMs,
      fix: "make the reward faster (or make sure its promise settles), or raise `timeoutMs`.",
    }));
  let raw: unknown;
  try {
    // Promise.resolve().then(...) also turns a synchronous throw into a rejection.
    const running = Promise.resolve().then(() => reward.computeReward(turns, context));
    raw = await withTimeout(running, timeoutMs, onTimeout);
  } catch (error) {
    if (timeoutError !== undefined && error === timeoutError) throw error;
    // A GrpoError from inside (a built-in's missing ground truth, a composite's component) already
    // carries its own fix; anything else gets a generic one.
    const ownFix = error instanceof GrpoError && error.fix !== undefined;
    throw new GrpoError("reward_failed", `Reward function ${label} threw${whereText(where)}: ${errorText(error)}`, {
      ...(ownFix ? {} : { fix: "fix the reward function (the original error is attached as `cause`)." }),
      cause: error,
    });
  }
  return checkResult(raw, label, where);
}

// ---------------------------------------------------------------------------------------------
// Combining rewards
// ---------------------------------------------------------------------------------------------

/** How a {@link CompositeReward} combines its components' scores. */
export type Aggregation = "weighted_sum" | "average" | "min" | "max";

const AGGREGATIONS = ["weighted_sum", "average", "min", "max"] as const;

/**
 * One small function per aggregation, on parallel arrays of scores and weights (non-empty).
 * `weighted_sum` is a weighted *mean*, sum(w_i * s_i) / sum(w_i), so the result stays in the
 * components' range; the others ignore the weights.
 */
const AGGREGATORS: Record<Aggregation, (scores: readonly number[], weights: readonly number[]) => number> = {
  weighted_sum: (scores, weights) => {
    let num = 0;
    let den = 0;
    scores.forEach((s, i) => {
      num += weights[i] * s;
      den += weights[i];
    });
    return num / den;
  },
  average: (scores) => scores.reduce((a, b) => a + b, 0) / scores.length,
  min: (scores) => Math.min(...scores),
  max: (scores) => Math.max(...scores),
};

/**
 * Combines component scores: `weighted_sum` = sum(w_i * s_i) / sum(w_i) (a weighted mean; the sum of
 * weights must be > 0), `average` = mean(s_i), `min` / `max` of s_i. Throws `invalid_argument` on
 * empty or mismatched inputs.
 */
export function aggregateScores(scores: readonly number[], weights: readonly number[], aggregation: Aggregation): number {
  if (scores.length === 0 || scores.length !== weights.length) {
    throw new GrpoError("invalid_argument", "aggregateScores needs one weight per score and at least one score.", {
      value: { scores: scores.length, weights: weights.length },
    });
  }
  if (aggregation === "weighted_sum" && weights.reduce((a, b) => a + b, 0) <= 0) {
    throw new GrpoError("invalid_argument", "A weighted_sum needs weights that sum to more than 0.", {
      field: "weights",
      value: weights,
      fix: "give at least one component a positive weight.",
    });
  }
  return AGGREGATORS[aggregation](scores, weights);
}

/** Options of {@link CompositeReward}. */
export interface CompositeRewardOptions extends RewardFunctionOptions {
  /** How component scores combine (default `weighted_sum`, a weighted mean; see {@link aggregateScores}). */
  aggregation?: Aggregation;
}

const compositeOptionsSchema = rewardFunctionOptionsSchema
  .extend({ aggregation: z.enum(AGGREGATIONS).optional() })
  .strict();

/** The breakdown entries of `breakdown` under `prefix/`, with the prefix removed. */
function subBreakdown(breakdown: Record<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  const head = `${prefix}/`;
  for (const [key, value] of Object.entries(breakdown)) {
    if (key.startsWith(head)) out[key.slice(head.length)] = value;
  }
  return out;
}

/**
 * Several rewards combined into one. The usage guide's
 * `CompositeReward([HelpfulnessReward(weight=0.4), SafetyReward(weight=0.3), EngagementReward(weight=0.3)])`
 * is `new CompositeReward([new HelpfulnessReward({ weight: 0.4 }), ...])`.
 *
 * - score: the components' scores combined by `aggregation` (default `weighted_sum`:
 *   sum(w_i * s_i) / sum(w_i), a weighted mean, so 0.4/0.3/0.3 and 4/3/3 give the same score).
 * - breakdown: each component's score under its name (`helpfulness`) and each entry of its own
 *   breakdown under `<name>/<key>` (`helpfulness/turn_0`).
 * - metadata: `aggregation`, `weights` (name -> weight), `scores` (name -> score) and `components`
 *   (name -> that component's metadata).
 * - per-turn scores ({@link CompositeReward.turnScores}): for each assistant turn, the same
 *   aggregation applied to the components that report a score for that turn.
 *
 * Components run concurrently; names must be unique (give a duplicate a `name` option).
 */
export class CompositeReward extends RewardFunction {
  /** The combined rewards, in order. */
  readonly rewards: readonly RewardFunction[];
  /** How scores are combined. */
  readonly aggregation: Aggregation;

  constructor(rewards: RewardFunction[], options: CompositeRewardOptions = {}) {
    const parsed = parseRewardOptions(compositeOptionsSchema, options, "CompositeReward", '{ aggregation: "weighted_sum" }');
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType });
    if (!Array.isArray(rewards) || rewards.length === 0) {
      throw new GrpoError("invalid_reward", "A CompositeReward needs at least one reward.", {
        field: "CompositeReward.rewards",
        value: rewards,
        expected: "a non-empty array of RewardFunction instances",
        fix: "e.g. `new CompositeReward([new HelpfulnessReward({ weight: 0.6 }), new SafetyReward({ weight: 0.4 })])`.",
      });
    }
    const seen = new Map<string, number>();
    rewards.forEach((reward, i) => {
      if (!(reward instanceof RewardFunction)) {
        throw new GrpoError("invalid_reward", "Every component of a CompositeReward must be a RewardFunction.", {
          field: `CompositeReward.rewards[${i}]`,
          value: reward,
          expected: "a RewardFunction instance",
          fix: "wrap a plain function with `rewardFunction({ weight }, fn)`; instantiate classes with `new`.",
        });
      }
      const first = seen.get(reward.name);
      if (first !== undefined) {
        throw new GrpoError("invalid_reward", `Two components of a CompositeReward are both named \`${reward.name}\`.`, {
          field: `CompositeReward.rewards[${i}].name`,
          value: reward.name,
          expected: `a name unique in the composite (rewards[${first}] already uses it)`,
          fix: `give one of them its own name, e.g. \`{ name: "${reward.name}_2" }\`.`,
        });
      }
      seen.set(reward.name, i);
    });
    this.aggregation = parsed.aggregation ?? "weighted_sum";
    if (this.aggregation === "weighted_sum" && rewards.every((r) => r.weight === 0)) {
      throw new GrpoError("invalid_reward", "A weighted_sum CompositeReward needs at least one component with weight > 0.", {
        field: "CompositeReward.rewards[].weight",
        value: rewards.map((r) => r.weight),
        fix: 'give a component a positive weight, or use `aggregation: "average"`.',
      });
    }
    this.rewards = [...rewards];
  }

  /** Scores every component (concurrently) and combines them; see the class documentation. */
  async computeReward(turns: ConversationTurn[], context?: RewardContext): Promise<RewardResult> {
    // Each component goes through the same validation as a top-level reward, so a failure names it.
    const results = await Promise.all(this.rewards.map((r) => evaluateReward(r, turns, context)));
    const scores = results.map((r) => r.score);
    const weights = this.rewards.map((r) => r.weight);
    const breakdown: Record<string, number> = {};
    const metadata = {
      aggregation: this.aggregation,
      weights: {} as Record<string, number>,
      scores: {} as Record<string, number>,
      components: {} as Record<string, Record<string, unknown>>,
    };
    const explained: string[] = [];
    this.rewards.forEach((reward, i) => {
      const result = results[i];
      breakdown[reward.name] = result.score;
      for (const [key, value] of Object.entries(result.breakdown)) breakdown[`${reward.name}/${key}`] = value;
      metadata.weights[reward.name] = reward.weight;
      metadata.scores[reward.name] = result.score;
      metadata.components[reward.name] = result.metadata;
      explained.push(`${reward.name} ${result.score.toFixed(3)} (w ${reward.weight})`);
    });
    const score = aggregateScores(scores, weights, this.aggregation);
    return rewardResult(score, breakdown, metadata, `${this.aggregation} of ${explained.join(", ")} = ${score.toFixed(3)}`);
  }

  /**
   * Per-turn scores of a composite: for turn i, each component's own per-turn score (read from its
   * `<name>/…` breakdown by its own `turnScores`), combined with this composite's aggregation over
   * the components that report turn i (`weighted_sum` renormalises over their weights; turn i is
   * `undefined` when none reports it or their weights sum to 0).
   */
  override turnScores(result: RewardResult, numAssistantTurns: number): Array<number | undefined> {
    const components = isPlainRecord(result.metadata.components) ? result.metadata.components : {};
    const perComponent = this.rewards.map((reward) => {
      const own = components[reward.name];
      const sub: RewardResult = {
        score: result.breakdown[reward.name] ?? 0,
        breakdown: subBreakdown(result.breakdown, reward.name),
        metadata: isPlainRecord(own) ? own : {},
      };
      return reward.turnScores(sub, numAssistantTurns);
    });
    const out: Array<number | undefined> = [];
    for (let t = 0; t < numAssistantTurns; t++) {
      const scores: number[] = [];
      const weights: number[] = [];
      perComponent.forEach((turnScores, i) => {
        const s = turnScores[t];
        if (s !== undefined) {
          scores.push(s);
          weights.push(this.rewards[i].weight);
        }
      });
      const usable = scores.length > 0 && (this.aggregation !== "weighted_sum" || weights.some((w) => w > 0));
      out.push(usable ? AGGREGATORS[this.aggregation](scores, weights) : undefined);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Functions as rewards (the guide's @reward_function decorator)
// ---------------------------------------------------------------------------------------------

/** A reward written as a function: resolve to a score, or to a full {@link RewardResult}. */
export type RewardFn = (
  turns: ConversationTurn[],
  context?: RewardContext,
) => number | RewardResult | Promise<number | RewardResult>;

/** A {@link RewardFunction} that calls a function; made by {@link rewardFunction}. */
export class FunctionReward extends RewardFunction {
  /** The wrapped function. */
  readonly fn: RewardFn;

  constructor(options: RewardFunctionOptions, fn: RewardFn) {
    if (typeof fn !== "function") {
      throw new GrpoError("invalid_reward", "rewardFunction needs a function.", {
        field: "rewardFunction(options, fn).fn",
        value: fn,
        expected: "(turns, context) => number | RewardResult (may be async)",
      });
    }
    const parsed = parseWith(rewardFunctionOptionsSchema.strict(), options ?? {}, {
      root: "rewardFunction(options)",
      code: "invalid_reward",
      fix: "pass `{ weight?, name?, rewardType? }` (camelCase: `rewardType`, not `reward_type`).",
    });
    const fallback = fn.name ? snakeCase(fn.name) : "";
    if (parsed.name === undefined && fallback.length === 0) {
      throw new GrpoError("invalid_reward", "rewardFunction got an anonymous function and no name.", {
        field: "rewardFunction(options).name",
        expected: "a name for breakdowns and error messages",
        fix: 'pass `{ name: "my_reward" }` or a named function (`async function myReward(turns) {…}`).',
      });
    }
    super({ ...parsed, name: parsed.name ?? fallback });
    this.fn = fn;
  }

  /** Calls the function; a bare number becomes `{ score, breakdown: {}, metadata: {} }`. */
  async computeReward(turns: ConversationTurn[], context?: RewardContext): Promise<RewardResult> {
    const out = await this.fn(turns, context);
    // Other shapes pass through unchanged so evaluateReward reports exactly what came back.
    return typeof out === "number" ? rewardResult(out) : out;
  }
}

/**
 * Turns a function into a {@link RewardFunction}: the TypeScript form of the usage guide's
 * `@reward_function(weight=0.5, reward_type=RewardType.IMMEDIATE)` decorator.
 *
 * ```ts
 * const creativity = rewardFunction({ weight: 0.5, rewardType: RewardType.IMMEDIATE },
 *   async function creativityReward(turns) { … return Math.min(score, 1); });
 * creativity.name; // "creativity_reward"
 * ```
 *
 * `name` defaults to the function's name in snake_case; an anonymous function needs `name`.
 */
export function rewardFunction(options: RewardFunctionOptions, fn: RewardFn): RewardFunction {
  return new FunctionReward(options, fn);
}

// ---------------------------------------------------------------------------------------------
// Writing scores into trajectories
// ---------------------------------------------------------------------------------------------

/**
 * Scores `trajectory` with `reward` (through {@link evaluateReward}, so failures name the reward,
 * the trajectory and its scenario) and writes the result into it:
 *
 * - `totalReward` = score; `rewardBreakdown` = a copy of the breakdown;
 * - `metadata.reward` = `{ score, breakdown, metadata, explanation }`;
 * - per-turn scores from `reward.turnScores(...)` (the `turn_<i>` breakdown keys; for a composite,
 *   its components' per-turn scores combined by its aggregation): each known score is written to
 *   the i-th assistant turn's `reward`, and `turnRewards` is replaced only when every assistant turn
 *   has one (otherwise it keeps what it had, e.g. the environment's step rewards).
 */
export async function scoreTrajectory(
  reward: RewardFunction,
  trajectory: MultiTurnTrajectory,
  context?: RewardContext,
  options: { timeoutMs?: number } = {},
): Promise<RewardResult> {
  const result = await evaluateReward(reward, trajectory.turns, context, {
    trajectoryId: trajectory.id,
    scenarioId: trajectory.scenarioId,
    timeoutMs: options.timeoutMs,
  });
  trajectory.totalReward = result.score;
  trajectory.rewardBreakdown = { ...result.breakdown };
  const record: Record<string, unknown> = { score: result.score, breakdown: { ...result.breakdown }, metadata: result.metadata };
  if (result.explanation !== undefined) record.explanation = result.explanation;
  trajectory.metadata.reward = record;

  const assistantTurns = trajectory.assistantTurns;
  const perTurn = reward.turnScores(result, assistantTurns.length);
  perTurn.forEach((score, i) => {
    if (score !== undefined) assistantTurns[i].reward = score;
  });
  if (perTurn.every((s) => s !== undefined)) trajectory.turnRewards = perTurn as number[];
  return result;
}
