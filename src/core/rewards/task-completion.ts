/**
 * TaskCompletionReward: the fraction of a task's required actions the episode completed.
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
import { assistantTurnViews, phraseRegex } from "./text.js";

/** A required action: a name, or a name with the keywords that show it was done (as in the guide's tasks). */
export type RequiredActionSpec = string | { name: string; keywords?: string[] };

/** Options of {@link TaskCompletionReward}. */
export interface TaskCompletionRewardOptions extends RewardFunctionOptions {
  /** The actions to complete; default: `context.requiredActions` (or `required_actions`). */
  requiredActions?: RequiredActionSpec[];
}

const actionSchema = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), keywords: z.array(z.string().min(1)).optional() }).loose(),
]);

const optionsSchema = rewardFunctionOptionsSchema
  .extend({ requiredActions: z.array(actionSchema).min(1).optional() })
  .strict();

/** An action ready to check. */
interface Action {
  name: string;
  keywords: RegExp;
}

function toAction(action: RequiredActionSpec): Action {
  const name = typeof action === "string" ? action : action.name;
  const keywords = typeof action === "string" || action.keywords === undefined || action.keywords.length === 0
    ? [name.replace(/[_-]+/g, " ")]
    : action.keywords;
  return { name, keywords: phraseRegex(keywords) };
}

/**
 * Keywords of the actions of `context.task.requiredActions` (a TaskEnvironment keeps the task
 * there while `context.requiredActions` holds only names), by action name.
 */
function keywordsFromTask(context: RewardContext | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const task = context?.task;
  if (task === null || typeof task !== "object") return out;
  const listed = (task as Record<string, unknown>).requiredActions ?? (task as Record<string, unknown>).required_actions;
  const parsed = z.array(z.object({ name: z.string(), keywords: z.array(z.string().min(1)).min(1) }).loose()).safeParse(listed);
  if (parsed.success) for (const a of parsed.data) out.set(a.name, a.keywords);
  return out;
}

function firstOf(context: RewardContext | undefined, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    const value = context?.[key];
    if (value !== undefined && value !== null) return { key, value };
  }
  return undefined;
}

/**
 * Fraction of required actions completed, with credit per turn (a CUMULATIVE reward: the
 * `turn_<i>` entries sum to the score).
 *
 * - Required actions: `options.requiredActions`, else `context.requiredActions` (or
 *   `required_actions`): names, or `{ name, keywords }`. Missing in both -> `invalid_reward` error.
 *   A bare name takes its keywords from `context.task.requiredActions` when listed there (as a
 *   TaskEnvironment's context does).
 * - Completed: when the context has `completedActions` (or `completed_actions`: names or
 *   `{ name }`), exactly those (the environment's record is authoritative); otherwise an action is
 *   completed when an assistant turn contains one of its keywords (whole words, case-insensitive;
 *   an action without keywords uses its name, `_`/`-` read as spaces).
 * - score = completed required actions / required actions.
 * - `turn_<i>` = (completed actions credited to assistant turn i) / (required actions); an action
 *   is credited to the first assistant turn containing one of its keywords, or to the last
 *   assistant turn when no turn mentions it (completed per the context only).
 *
 * Breakdown: `turn_<i>` and `action/<name>` (1 completed, 0 not). Metadata: `required`,
 * `completed` (names), `source` (`context` or `keywords`), `creditedTurn` (name -> turn index).
 */
export class TaskCompletionReward extends RewardFunction {
  /** The required actions given in the options, if any. */
  readonly requiredActions?: readonly RequiredActionSpec[];

  constructor(options: TaskCompletionRewardOptions = {}) {
    const parsed = parseRewardOptions(optionsSchema, options, "TaskCompletionReward", '{ requiredActions: [{ name: "budget", keywords: ["cost", "budget"] }] }');
    super({ weight: parsed.weight, name: parsed.name, rewardType: parsed.rewardType ?? RewardType.CUMULATIVE });
    if (parsed.requiredActions !== undefined) this.requiredActions = parsed.requiredActions;
  }

  /** The required actions from the options or the context; throws naming both places. */
  private resolveRequired(context: RewardContext | undefined): Action[] {
    let raw: unknown = this.requiredActions;
    let field = "TaskCompletionReward.requiredActions";
    if (raw === undefined) {
      const found = firstOf(context, ["requiredActions", "required_actions"]);
      if (found === undefined) {
        throw new GrpoError("invalid_reward", "TaskCompletionReward does not know which actions are required.", {
          field: "TaskCompletionReward.requiredActions",
          expected: "`requiredActions` in the options, or `requiredActions` in the task/scenario context",
          fix: 'pass `new TaskCompletionReward({ requiredActions: ["destination", "budget"] })`, or give each task `requiredActions`.',
        });
      }
      raw = found.value;
      field = `context.${found.key}`;
    }
    const checked = z.array(actionSchema).min(1).safeParse(raw);
    if (!checked.success) {
      throw new GrpoError("invalid_reward", `TaskCompletionReward found unusable required actions in \`${field}\`.`, {
        field,
        value: raw,
        expected: "a non-empty array of names or `{ name, keywords? }` objects",
      });
    }
    const known = keywordsFromTask(context);
    const actions = checked.data.map((a) => toAction(typeof a === "string" && known.has(a) ? { name: a, keywords: known.get(a) } : a));
    const names = new Set<string>();
    for (const a of actions) {
      if (names.has(a.name)) {
        throw new GrpoError("invalid_reward", `Required action \`${a.name}\` is listed twice.`, {
          field,
          value: a.name,
          fix: "list each required action once.",
        });
      }
      names.add(a.name);
    }
    return actions;
  }

  /** Names completed per the context, or undefined when the context does not track them. */
  private completedFromContext(context: RewardContext | undefined): Set<string> | undefined {
    const found = firstOf(context, ["completedActions", "completed_actions"]);
    if (found === undefined) return undefined;
    const checked = z.array(z.union([z.string(), z.object({ name: z.string() }).loose()])).safeParse(found.value);
    if (!checked.success) {
      throw new GrpoError("invalid_reward", `TaskCompletionReward found unusable completed actions in \`context.${found.key}\`.`, {
        field: `context.${found.key}`,
        value: found.value,
        expected: "an array of action names or `{ name }` objects",
      });
    }
    return new Set(checked.data.map((a) => (typeof a === "string" ? a : a.name)));
  }

  /** Computes completion and per-turn credit by the rules above. */
  async computeReward(turns: ConversationTurn[], context?: RewardContext): Promise<RewardResult> {
    const actions = this.resolveRequired(context);
    const fromContext = this.completedFromContext(context);
    const views = assistantTurnViews(turns);
    const breakdown: Record<string, number> = {};
    for (const v of views) breakdown[`turn_${v.index}`] = 0;

    const completed: string[] = [];
    const creditedTurn: Record<string, number> = {};
    for (const action of actions) {
      const mention = views.find((v) => action.keywords.test(v.turn.content));
      const done = fromContext !== undefined ? fromContext.has(action.name) : mention !== undefined;
      breakdown[`action/${action.name}`] = done ? 1 : 0;
      if (!done) continue;
      completed.push(action.name);
      const credited = mention ?? views[views.length - 1];
      if (credited !== undefined) {
        breakdown[`turn_${credited.index}`] += 1 / actions.length;
        creditedTurn[action.name] = credited.index;
      }
    }
    const score = completed.length / actions.length;
    return {
      score,
      breakdown,
      metadata: {
        required: actions.map((a) => a.name),
        completed,
        source: fromContext !== undefined ? "context" : "keywords",
        creditedTurn,
      },
      explanation: `${completed.length}/${actions.length} required actions completed` +
        (completed.length > 0 ? ` (${completed.join(", ")})` : ""),
    };
  }
}
