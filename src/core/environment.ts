/**
 * Environments: the other side of the conversation.
 *
 * An {@link Environment} opens an episode (`reset` -> {@link EnvironmentState}, `getInitialPrompt`),
 * then answers each agent action (`step` -> {@link StepResult}: the new state, the user's reply, a
 * step reward and whether the episode is over). Two ready-made ones:
 *
 * - {@link ConversationEnvironment}: scripted users (plus an optional user simulator) for open-ended talk.
 * - {@link TaskEnvironment}: goal-oriented tasks whose required actions are detected by keywords.
 *
 * States are plain data: `step` never mutates the state it is given (it works on `state.copy()`), and
 * everything the environment needs to continue lives in `state.context`, so one environment object
 * can run many episodes at once.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { GrpoError } from "./errors.js";
import { parseWith } from "./validation.js";
import { ConversationTurn, EpisodeStatus, type Role } from "./trajectory.js";
import type { Policy } from "./policy.js";
import { policyUserSimulator } from "./user-simulator.js";

export { EpisodeStatus } from "./trajectory.js";

/** A scenario to play: an `id` plus whatever the environment reads (user script, task, ground truth, …). */
export type Scenario = { id: string; [key: string]: unknown };

/** The fields of a new {@link EnvironmentState}; omitted ones take the defaults of a fresh episode. */
export interface EnvironmentStateInit {
  /** Default: a random UUID. */
  episodeId?: string;
  /** Default 0. */
  turnCount?: number;
  /** Default `EpisodeStatus.ONGOING`. */
  status?: EpisodeStatus;
  /** Default `{}`. Must be structured-cloneable data (no functions). */
  context?: Record<string, unknown>;
}

/** Where an episode stands. */
export class EnvironmentState {
  /** Identifies the episode. */
  episodeId: string;
  /** Agent actions taken so far (incremented by `step`). */
  turnCount: number;
  /** Ongoing, or how the episode ended. */
  status: EpisodeStatus;
  /** The environment's episode data (scenario, progress, …); handed to the agent and the reward function. */
  context: Record<string, unknown>;

  constructor(init: EnvironmentStateInit = {}) {
    this.episodeId = init.episodeId ?? randomUUID();
    this.turnCount = init.turnCount ?? 0;
    this.status = init.status ?? EpisodeStatus.ONGOING;
    this.context = init.context ?? {};
  }

  /** A copy whose `context` is a deep copy: changing it never touches this state. */
  copy(): EnvironmentState {
    let context: Record<string, unknown>;
    try {
      context = structuredClone(this.context);
    } catch (error) {
      throw new GrpoError("invalid_argument", "The environment state's context cannot be copied.", {
        field: "EnvironmentState.context",
        expected: "plain data (objects, arrays, strings, numbers, booleans; no functions or class instances)",
        fix: "keep functions on the environment object and only data in `state.context`.",
        cause: error,
      });
    }
    return new EnvironmentState({ episodeId: this.episodeId, turnCount: this.turnCount, status: this.status, context });
  }
}

/** What `Environment.step` resolves to (the guide's `(state, response, reward, done)`). */
export interface StepResult {
  /** The state after the action. */
  state: EnvironmentState;
  /** The environment's reply (usually a `user` turn), or null when it has nothing to say. */
  response: ConversationTurn | null;
  /** The step reward for the action (0 when scoring is left to the reward function). */
  reward: number;
  /** True when the episode is over. */
  done: boolean;
}

/** Options every environment takes. */
export interface EnvironmentOptions {
  /** The most agent actions per episode (integer >= 1; default 10). The episode runner enforces it. */
  maxTurns?: number;
}

function checkMaxTurns(value: unknown, root: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new GrpoError("invalid_config", `Invalid ${root} option.`, {
      field: `${root}.maxTurns`,
      value,
      expected: "an integer >= 1 (the most agent actions per episode)",
      fix: `pass e.g. \`maxTurns: ${fallback}\`.`,
    });
  }
  return value;
}

/**
 * The base of every environment. Subclass it like the guide's `CustomEnvironment`: `reset` returns
 * `new EnvironmentState({ episodeId: randomUUID(), turnCount: 0, status: EpisodeStatus.ONGOING, context })`,
 * `step` returns `{ state, response, reward, done }` (work on `state.copy()`), `getInitialPrompt`
 * returns the user's first message.
 */
export abstract class Environment {
  /** The most agent actions per episode (default 10). */
  readonly maxTurns: number;

  constructor(options: EnvironmentOptions = {}) {
    this.maxTurns = checkMaxTurns(options?.maxTurns, new.target.name || "Environment", 10);
  }

  /** Starts an episode for `scenario` (or the environment's default). */
  abstract reset(scenario?: Scenario): Promise<EnvironmentState>;

  /** Answers one agent action. Must not mutate `state`. */
  abstract step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult>;

  /** The user's first message for `scenario`. */
  abstract getInitialPrompt(scenario?: Scenario): Promise<string>;

  /** The scenarios a trainer samples from (default: none, i.e. `reset()` without a scenario). */
  scenarios(): Scenario[] {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers of the built-in environments

/** One message of the environment's own record of the conversation (kept in `context.transcript`). */
export interface TranscriptEntry {
  role: Extract<Role, "user" | "assistant">;
  content: string;
}

function transcriptTurns(context: Record<string, unknown>): ConversationTurn[] {
  const entries = (context.transcript ?? []) as TranscriptEntry[];
  return entries.map((e) => new ConversationTurn({ role: e.role, content: e.content }));
}

function checkAction(action: unknown, where: string): ConversationTurn {
  if (action === null || typeof action !== "object" || typeof (action as ConversationTurn).content !== "string") {
    throw new GrpoError("invalid_argument", "An environment step needs the agent's turn.", {
      field: `${where}.step(action)`,
      value: action,
      expected: 'a ConversationTurn, e.g. new ConversationTurn({ role: "assistant", content: "..." })',
    });
  }
  return action as ConversationTurn;
}

function checkOngoing(state: EnvironmentState, where: string): void {
  if (!(state instanceof EnvironmentState)) {
    throw new GrpoError("invalid_argument", "An environment step needs the state from reset() or a previous step.", {
      field: `${where}.step(state)`,
      value: state,
      expected: "an EnvironmentState",
    });
  }
  if (state.status !== EpisodeStatus.ONGOING) {
    throw new GrpoError("episode_failed", "The episode is already over.", {
      field: `${where}.step(state).status`,
      value: state.status,
      expected: `"${EpisodeStatus.ONGOING}"`,
      fix: "call reset() to start a new episode.",
    });
  }
}

/** Keys of `scenario` other than `known`, for copying a scenario's extra fields (e.g. groundTruth) into the context. */
function extraFields(scenario: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(scenario).filter(([key]) => !known.includes(key)));
}

function checkDuplicateIds(ids: string[], root: string, code: "invalid_scenario" | "invalid_task"): void {
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    const first = seen.get(id);
    if (first !== undefined) {
      throw new GrpoError(code, `Two ${root} share an id.`, {
        field: `${root}[${i}].id`,
        value: id,
        expected: `an id not used by ${root}[${first}]`,
        fix: "give every entry its own id: trajectories and metrics are grouped by it.",
      });
    }
    seen.set(id, i);
  });
}

const nonEmptyString = (what: string) =>
  z.string({ error: `a non-empty string (${what})` }).min(1, { error: `a non-empty string (${what})` });

const responsesSchema = (what: string) =>
  z
    .array(nonEmptyString("one user message"), { error: `an array of strings (${what})` })
    .min(1, { error: `at least one message (${what})` });

function functionSchema<F>(description: string) {
  return z.custom<F>((v) => typeof v === "function", { error: description });
}

// ---------------------------------------------------------------------------------------------
// ConversationEnvironment

/** A scripted conversation (the guide's scenario dict in camelCase). Extra fields are kept. */
export interface ConversationScenario {
  /** Unique, non-empty. */
  id: string;
  /** What the conversation is about (copied to `context.topic`). */
  topic?: string;
  /** A description of the user's situation. */
  context?: string;
  /** The user's messages in order: the first opens the episode, each next one answers an agent turn. */
  userResponses: string[];
  /** Anything else (e.g. `groundTruth`) is copied into the episode context for rewards. */
  [key: string]: unknown;
}

/**
 * Supplies the user's next message once the script is used up: receives the conversation so far
 * (user and assistant turns), the scenario and the persona; resolves to the message, or null when the
 * user ends the conversation.
 */
export type UserSimulator = (
  turns: ConversationTurn[],
  scenario: ConversationScenario,
  persona: string | undefined,
) => Promise<string | null>;

/** An optional per-step reward: state after the step, the agent's action -> reward. */
export type StepRewardFunction = (state: EnvironmentState, action: ConversationTurn) => number | Promise<number>;

/** Options of {@link ConversationEnvironment}. */
export interface ConversationEnvironmentOptions {
  /** The scenarios (at least one; unique ids). */
  scenarios: ConversationScenario[];
  /** The most agent turns per episode (integer >= 1; default 12). */
  maxTurns?: number;
  /** Who the simulated user is (passed to the user simulator, kept in `context.persona`). */
  persona?: string;
  /**
   * Continues the conversation after the script ends (default: none, the episode completes): a
   * function, or a Policy (local or remote) that plays the user from the persona and scenario
   * (wrapped with `policyUserSimulator({ policy })`; call that yourself for other settings).
   */
  userSimulator?: UserSimulator | Policy;
  /** Per-step reward (default: every step earns 0; scoring is the reward function's job). */
  stepReward?: StepRewardFunction;
}

const CONVERSATION_KNOWN_KEYS = ["id", "topic", "context", "userResponses"] as const;

const conversationScenarioSchema = z
  .object({
    id: nonEmptyString("the scenario id"),
    topic: z.string({ error: "a string" }).optional(),
    context: z.string({ error: "a string describing the user's situation" }).optional(),
    userResponses: responsesSchema("the user's scripted messages"),
  })
  .loose();

const conversationOptionsSchema = z.object({
  scenarios: z.array(z.unknown(), { error: "an array of scenarios" }).min(1, { error: "at least one scenario" }),
  maxTurns: z.unknown().optional(),
  persona: z.string({ error: "a string describing the simulated user" }).optional(),
  userSimulator: z.custom<UserSimulator | Policy>(
    (v) => typeof v === "function" || typeof (v as Policy | null)?.generate === "function",
    { error: "a function (turns, scenario, persona) => Promise<string | null>, or a Policy" },
  ).optional(),
  stepReward: functionSchema<StepRewardFunction>("a function (state, action) => number").optional(),
});

function parseConversationScenario(input: unknown, root: string): ConversationScenario {
  const id = input !== null && typeof input === "object" ? (input as { id?: unknown }).id : undefined;
  const named = typeof id === "string" && id !== "" ? ` of scenario "${id}"` : "";
  return parseWith(conversationScenarioSchema, input, {
    root,
    code: "invalid_scenario",
    fix: (field) => `fix ${field}${named}; a scenario is { id: "...", userResponses: ["first message", ...] }.`,
  }) as ConversationScenario;
}

/**
 * Open-ended conversations with a scripted user.
 *
 * - `getInitialPrompt(scenario)` = `userResponses[0]`.
 * - `step` counts the action, then the user answers with the next scripted message. When the script
 *   is used up the episode COMPLETES, unless a `userSimulator` supplies more (null from it = the
 *   user ends, COMPLETED). When `maxTurns` actions have been taken and the user would still speak
 *   (script left or a simulator set) the episode is TRUNCATED (the simulator is not called).
 * - Step reward 0 unless `stepReward` is given.
 * - `state.context` holds `scenario`, `scenarioId`, `persona`, `topic`, `userTurnIndex` (index of
 *   the user's latest message in the script; later simulator messages keep counting), `transcript`
 *   (the user/assistant messages so far) and the scenario's extra fields (e.g. `groundTruth`).
 */
export class ConversationEnvironment extends Environment {
  /** The user persona, if any. */
  readonly persona?: string;
  private readonly scenarioList: ConversationScenario[];
  private readonly userSimulator?: UserSimulator;
  private readonly stepReward?: StepRewardFunction;

  constructor(options: ConversationEnvironmentOptions) {
    const opts = parseWith(conversationOptionsSchema, options ?? {}, {
      root: "ConversationEnvironment",
      code: "invalid_config",
      fix: 'pass { scenarios: [{ id: "...", userResponses: ["..."] }], maxTurns: 12 }.',
    });
    super({ maxTurns: checkMaxTurns(opts.maxTurns, "ConversationEnvironment", 12) });
    this.scenarioList = opts.scenarios.map((s, i) => parseConversationScenario(s, `scenarios[${i}]`));
    checkDuplicateIds(this.scenarioList.map((s) => s.id), "scenarios", "invalid_scenario");
    if (opts.persona !== undefined) this.persona = opts.persona;
    if (typeof opts.userSimulator === "function") this.userSimulator = opts.userSimulator;
    else if (opts.userSimulator) this.userSimulator = policyUserSimulator({ policy: opts.userSimulator });
    if (opts.stepReward) this.stepReward = opts.stepReward;
  }

  override scenarios(): Scenario[] {
    return this.scenarioList.map((s) => structuredClone(s));
  }

  /** The scenario to play: the one given (validated) or, when none, the first of the list. */
  private pick(scenario?: Scenario): ConversationScenario {
    if (scenario === undefined) return this.scenarioList[0];
    return parseConversationScenario(scenario, "scenario");
  }

  override async getInitialPrompt(scenario?: Scenario): Promise<string> {
    return this.pick(scenario).userResponses[0];
  }

  override async reset(scenario?: Scenario): Promise<EnvironmentState> {
    const picked = this.pick(scenario);
    const context: Record<string, unknown> = {
      ...extraFields(picked, CONVERSATION_KNOWN_KEYS),
      scenario: structuredClone(picked),
      scenarioId: picked.id,
      persona: this.persona,
      topic: picked.topic,
      userTurnIndex: 0,
      transcript: [{ role: "user", content: picked.userResponses[0] }] satisfies TranscriptEntry[],
    };
    return new EnvironmentState({ episodeId: randomUUID(), turnCount: 0, status: EpisodeStatus.ONGOING, context });
  }

  override async step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult> {
    checkOngoing(state, "ConversationEnvironment");
    checkAction(action, "ConversationEnvironment");
    const next = state.copy();
    next.turnCount += 1;
    const transcript = next.context.transcript as TranscriptEntry[];
    transcript.push({ role: "assistant", content: action.content });
    const reward = this.stepReward ? await this.stepReward(next, action) : 0;

    const scenario = next.context.scenario as ConversationScenario;
    const nextIndex = (next.context.userTurnIndex as number) + 1;
    const scripted = nextIndex < scenario.userResponses.length;
    const userWouldSpeak = scripted || this.userSimulator !== undefined;

    if (next.turnCount >= this.maxTurns) {
      next.status = userWouldSpeak ? EpisodeStatus.TRUNCATED : EpisodeStatus.COMPLETED;
      return { state: next, response: null, reward, done: true };
    }
    let reply: string | null = null;
    let source: "script" | "simulator" = "script";
    if (scripted) reply = scenario.userResponses[nextIndex];
    else if (this.userSimulator) {
      source = "simulator";
      reply = await this.userSimulator(transcriptTurns(next.context), scenario, this.persona);
      if (reply !== null && typeof reply !== "string") {
        throw new GrpoError("invalid_config", "The user simulator returned something other than text.", {
          field: "ConversationEnvironment.userSimulator",
          value: reply,
          expected: "a Promise of a string, or of null to end the conversation",
        });
      }
    }
    if (reply === null) {
      next.status = EpisodeStatus.COMPLETED;
      return { state: next, response: null, reward, done: true };
    }
    next.context.userTurnIndex = nextIndex;
    transcript.push({ role: "user", content: reply });
    const response = new ConversationTurn({ role: "user", content: reply, metadata: { source, userTurnIndex: nextIndex } });
    return { state: next, response, reward, done: false };
  }
}

// ---------------------------------------------------------------------------------------------
// TaskEnvironment

/** An action the agent must take for a task, detected when any keyword appears in its reply. */
export interface RequiredAction {
  /** The action's name (recorded in `context.completedActions`). */
  name: string;
  /** Words or phrases; matched case-insensitively as whole words. At least one. */
  keywords: string[];
}

/** A goal-oriented task (the guide's task dict in camelCase). Extra fields are kept. */
export interface TaskSpec {
  /** Unique id; default `task_<index>`. */
  id?: string;
  /** What the user needs, e.g. "Help user plan a vacation" (see {@link TaskEnvironment} for how it becomes the first message). */
  description: string;
  /** What a complete outcome is. */
  goal: string;
  /** The actions that complete the task (at least one). */
  requiredActions: RequiredAction[];
  /** Scripted user follow-ups, used in order and then cycled (default {@link DEFAULT_TASK_USER_RESPONSES}). */
  userResponses?: string[];
  [key: string]: unknown;
}

/** The context a task episode keeps (what `successCriteria` receives). */
export interface TaskContext extends Record<string, unknown> {
  task: TaskSpec & { id: string };
  taskId: string;
  scenarioId: string;
  description: string;
  goal: string;
  /** Names of the required actions, in task order. */
  requiredActions: string[];
  /** Names of the actions completed so far, in the order they were completed. */
  completedActions: string[];
  /** True once the success criteria hold. */
  success: boolean;
  /** How many scripted follow-ups the user has sent. */
  userTurnIndex: number;
  transcript: TranscriptEntry[];
}

/** Decides whether a task is done: the conversation so far (user/assistant turns) and the context. */
export type SuccessCriteria = (turns: ConversationTurn[], context: TaskContext) => boolean | Promise<boolean>;

/** Options of {@link TaskEnvironment}. */
export interface TaskEnvironmentOptions {
  /** The tasks (at least one). */
  tasks: TaskSpec[];
  /** When the task counts as done (default: every required action completed). */
  successCriteria?: SuccessCriteria;
  /** The most agent turns per episode (integer >= 1; default 15). */
  maxTurns?: number;
}

/** The user's follow-ups when a task scripts none. */
export const DEFAULT_TASK_USER_RESPONSES: readonly string[] = Object.freeze([
  "What else do I need to decide?",
  "Okay. What should we cover next?",
  "Is there anything we haven't settled yet?",
]);

const TASK_KNOWN_KEYS = ["id", "description", "goal", "requiredActions", "userResponses"] as const;

const requiredActionSchema = z.object({
  name: nonEmptyString("the action's name"),
  keywords: z
    .array(nonEmptyString("one keyword"), { error: "an array of keyword strings" })
    .min(1, { error: "at least one keyword that shows the action was taken" }),
});

const taskSchema = z
  .object({
    id: nonEmptyString("the task id").optional(),
    description: nonEmptyString("what the user needs"),
    goal: nonEmptyString("what a complete outcome is"),
    requiredActions: z
      .array(requiredActionSchema, { error: "an array of { name, keywords }" })
      .min(1, { error: "at least one required action" }),
    userResponses: responsesSchema("the user's follow-ups").optional(),
  })
  .loose();

const taskOptionsSchema = z.object({
  tasks: z.array(z.unknown(), { error: "an array of tasks" }).min(1, { error: "at least one task" }),
  successCriteria: functionSchema<SuccessCriteria>("a function (turns, context) => boolean").optional(),
  maxTurns: z.unknown().optional(),
});

function parseTask(input: unknown, root: string, defaultId: string): TaskSpec & { id: string } {
  const id = input !== null && typeof input === "object" ? (input as { id?: unknown }).id : undefined;
  const named = typeof id === "string" && id !== "" ? ` of task "${id}"` : "";
  const task = parseWith(taskSchema, input, {
    root,
    code: "invalid_task",
    fix: (field) =>
      `fix ${field}${named}; a task is { description, goal, requiredActions: [{ name, keywords: [...] }] }.`,
  }) as TaskSpec;
  const names = task.requiredActions.map((a) => a.name);
  const dup = names.findIndex((n, i) => names.indexOf(n) !== i);
  if (dup >= 0) {
    throw new GrpoError("invalid_task", "Two required actions share a name.", {
      field: `${root}.requiredActions[${dup}].name`,
      value: names[dup],
      expected: "a name used by no other action of the task",
    });
  }
  return { ...task, id: task.id ?? defaultId };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * True when `keyword` occurs in `text` as a whole word or phrase, ignoring case: "do" matches
 * "What do you like?" but not "done" or "condo".
 */
export function containsKeyword(text: string, keyword: string): boolean {
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(keyword.trim())}(?![\\p{L}\\p{N}_])`, "iu");
  return pattern.test(text);
}

/**
 * The user's opening message for a task: a description written for the agent, "Help user X" or
 * "Help the user X", becomes the request "Can you help me X?"; any other description is sent as it is.
 */
export function taskRequest(description: string): string {
  const match = /^help (?:the )?user (?:to )?(.+?)[.!?]*$/i.exec(description.trim());
  return match ? `Can you help me ${match[1]}?` : description.trim();
}

/** The default success criteria: every required action completed. */
export const allRequiredActionsCompleted: SuccessCriteria = (_turns, context) =>
  context.requiredActions.every((name) => context.completedActions.includes(name));

/**
 * Goal-oriented tasks.
 *
 * - `getInitialPrompt(task)` = {@link taskRequest}(description), e.g. "Help user plan a vacation" ->
 *   "Can you help me plan a vacation?".
 * - `step` counts the action, finds the required actions not yet completed whose keywords appear in
 *   the assistant's reply (case-insensitive, whole words; see {@link containsKeyword}) and appends
 *   their names to `context.completedActions` in task order. Step reward = (newly completed) /
 *   (required). Then: `successCriteria(turns, context)` true -> COMPLETED with `context.success =
 *   true`; else `maxTurns` reached -> TRUNCATED (`success` false); else the user replies with the
 *   next follow-up (scripted ones in order, cycling).
 * - `state.context` is a {@link TaskContext}; the task's extra fields are copied into it too.
 */
export class TaskEnvironment extends Environment {
  private readonly tasks: Array<TaskSpec & { id: string }>;
  private readonly successCriteria: SuccessCriteria;

  constructor(options: TaskEnvironmentOptions) {
    const opts = parseWith(taskOptionsSchema, options ?? {}, {
      root: "TaskEnvironment",
      code: "invalid_config",
      fix: "pass { tasks: [{ description, goal, requiredActions }], successCriteria?, maxTurns: 15 }.",
    });
    super({ maxTurns: checkMaxTurns(opts.maxTurns, "TaskEnvironment", 15) });
    this.tasks = opts.tasks.map((t, i) => parseTask(t, `tasks[${i}]`, `task_${i}`));
    checkDuplicateIds(this.tasks.map((t) => t.id), "tasks", "invalid_task");
    this.successCriteria = opts.successCriteria ?? allRequiredActionsCompleted;
  }

  override scenarios(): Scenario[] {
    return this.tasks.map((t) => structuredClone(t));
  }

  /** The task to play: the one given (validated) or, when none, the first of the list. */
  private pick(scenario?: Scenario): TaskSpec & { id: string } {
    if (scenario === undefined) return this.tasks[0];
    return parseTask(scenario, "scenario", typeof scenario?.id === "string" ? scenario.id : "task");
  }

  override async getInitialPrompt(scenario?: Scenario): Promise<string> {
    return taskRequest(this.pick(scenario).description);
  }

  override async reset(scenario?: Scenario): Promise<EnvironmentState> {
    const task = this.pick(scenario);
    const context: TaskContext = {
      ...extraFields(task, TASK_KNOWN_KEYS),
      task: structuredClone(task),
      taskId: task.id,
      scenarioId: task.id,
      description: task.description,
      goal: task.goal,
      requiredActions: task.requiredActions.map((a) => a.name),
      completedActions: [],
      success: false,
      userTurnIndex: 0,
      transcript: [{ role: "user", content: taskRequest(task.description) }],
    };
    return new EnvironmentState({ episodeId: randomUUID(), turnCount: 0, status: EpisodeStatus.ONGOING, context });
  }

  override async step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult> {
    checkOngoing(state, "TaskEnvironment");
    checkAction(action, "TaskEnvironment");
    const next = state.copy();
    next.turnCount += 1;
    const context = next.context as TaskContext;
    context.transcript.push({ role: "assistant", content: action.content });

    const newlyCompleted = context.task.requiredActions
      .filter((a) => !context.completedActions.includes(a.name))
      .filter((a) => a.keywords.some((k) => containsKeyword(action.content, k)))
      .map((a) => a.name);
    context.completedActions.push(...newlyCompleted);
    const reward = newlyCompleted.length / context.requiredActions.length;

    const success = await this.successCriteria(transcriptTurns(context), context);
    if (typeof success !== "boolean") {
      throw new GrpoError("invalid_config", "The success criteria must return true or false.", {
        field: "TaskEnvironment.successCriteria",
        value: success,
        expected: "a boolean (or a Promise of one)",
      });
    }
    if (success) {
      context.success = true;
      next.status = EpisodeStatus.COMPLETED;
      return { state: next, response: null, reward, done: true };
    }
    if (next.turnCount >= this.maxTurns) {
      next.status = EpisodeStatus.TRUNCATED;
      return { state: next, response: null, reward, done: true };
    }
    const followUps = context.task.userResponses ?? DEFAULT_TASK_USER_RESPONSES;
    const reply = followUps[context.userTurnIndex % followUps.length];
    context.userTurnIndex += 1;
    context.transcript.push({ role: "user", content: reply });
    const response = new ConversationTurn({ role: "user", content: reply, metadata: { source: "script" } });
    return { state: next, response, reward, done: false };
  }
}
