/**
 * The bad-input table: every row is something a user (or the model) gets wrong, what the library
 * does with it, and the exact message it gets. `bad-input-table.test.ts` runs every row and checks
 * the code and the message word for word; `docs/errors.md` is rendered from this table (the test
 * fails when the doc is stale).
 *
 * Outcomes other than a thrown GrpoError:
 * - `tool_result`: the problem goes back to the model as a tool result (the episode continues);
 * - `handled`: the library enforces a limit and carries on (the message describes what it did).
 *
 * Temporary paths in messages are written `<tmp>`.
 */
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { registerEvalCommands } from "../../src/cli/eval-command.js";
import { MultiTurnAgent, resolveAgentConfig, ToolAgent } from "../../src/core/agent.js";
import { ConversationEnvironment, EnvironmentState, TaskEnvironment, Environment, type StepResult } from "../../src/core/environment.js";
import { runEpisode } from "../../src/core/episode.js";
import { GrpoError, type GrpoErrorCode } from "../../src/core/errors.js";
import { CompositeReward, evaluateReward, RewardFunction, rewardFunction, type RewardResult } from "../../src/core/reward.js";
import { Rng } from "../../src/core/rng.js";
import { calculatorTool, executeToolCall, parseToolCalls, validateTools, type ToolSpec } from "../../src/core/tools.js";
import { ConversationTurn, EpisodeStatus } from "../../src/core/trajectory.js";
import { selectBackend } from "../../src/model/backend.js";
import { modelConfigFromHF, modelConfigToHF } from "../../src/model/config.js";
import { generate } from "../../src/model/generate.js";
import { TfPolicy } from "../../src/model/policy.js";
import { resolveModelFolder } from "../../src/model/registry.js";
import { loadModelFolder } from "../../src/model/weights.js";
import { resolveGRPOConfig } from "../../src/training/config.js";
import { startRolloutWorker } from "../../src/training/distributed/redis-rollouts.js";
import { GRPOTrainer, loadAgentFromCheckpoint } from "../../src/training/trainer.js";
import { registerTrainCommand } from "../../src/cli/train-command.js";
import { LLMJudgeReward } from "../../src/core/rewards/llm-judge.js";
import { RemotePolicy } from "../../src/remote/policy.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

/** What a row produced: a GrpoError's code and message, or a non-error outcome and its text. */
export interface Outcome {
  code: GrpoErrorCode | "tool_result" | "handled" | "no_error" | "other_error";
  message: string;
}

/** Shared fixtures, made once by {@link makeContext}. */
export interface Context {
  /** Root of every temporary path (shown as `<tmp>`). */
  tmp: string;
  /** A tiny model folder. */
  modelDir: string;
  /** Its policy. */
  policy: TfPolicy;
  /** A complete checkpoint written by `trainer.save()` (never modified: copy it). */
  checkpoint: string;
}

/** One row of the table. */
export interface BadInput {
  /** Section of the docs page. */
  area: string;
  /** What was wrong, in words. */
  input: string;
  /** Does it; resolves to the outcome (use {@link thrown} for calls that must throw). */
  run: (ctx: Context) => Promise<Outcome>;
  /** The expected code. */
  code: Outcome["code"];
  /** The expected message, exactly (`<tmp>` for the temporary root). */
  message: string;
}

/** Runs `fn` and returns the GrpoError it throws (or says that it did not throw one). */
export async function thrown(fn: () => unknown): Promise<Outcome> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof GrpoError) return { code: error.code, message: error.message };
    return { code: "other_error", message: String(error) };
  }
  return { code: "no_error", message: "" };
}

/**
 * Makes a message comparable across machines: the temporary root becomes `<tmp>`, V8's optional
 * "(line L column C)" after JSON positions is dropped, and the list of built-in models (which
 * depends on what has been built) becomes `<built-in models>`.
 */
export function normalizeMessage(message: string, ctx: Pick<Context, "tmp">): string {
  return message
    .split(ctx.tmp).join("<tmp>")
    .replace(/ \(line \d+ column \d+\)/g, "")
    .replace(/\(available: [^)]*\)/g, "(available: <built-in models>)");
}

const toolResult = (content: string): Outcome => ({ code: "tool_result", message: content });
const handled = (message: string): Outcome => ({ code: "handled", message });

/** Makes the shared fixtures under a fresh temporary folder. */
export async function makeContext(): Promise<Context> {
  await selectBackend({ backend: "wasm" });
  const tmp = mkdtempSync(path.join(tmpdir(), "bad-input-"));
  const modelDir = path.join(tmp, "model");
  cpSync(await makeTinyModel({ seed: 6, nPositions: 64 }), modelDir, { recursive: true });
  const policy = await TfPolicy.fromFolder(modelDir);
  const agent = new MultiTurnAgent({ modelName: modelDir, maxNewTokens: 4 }, { policy });
  const trainer = await GRPOTrainer.create({
    agent, environment: quietEnvironment(), reward: constantReward(), configOverrides: { numGenerations: 2, maxSteps: 1 },
  });
  const checkpoint = path.join(tmp, "checkpoint");
  await trainer.save(checkpoint);
  trainer.dispose();
  return { tmp, modelDir, policy, checkpoint };
}

function quietEnvironment(): ConversationEnvironment {
  return new ConversationEnvironment({ scenarios: [{ id: "hi", userResponses: ["Hi!"] }], maxTurns: 1 });
}

function constantReward(): RewardFunction {
  return rewardFunction({ name: "constant" }, () => 0.5);
}

const turns = () => [new ConversationTurn({ role: "user", content: "Hi" }), new ConversationTurn({ role: "assistant", content: "Hello!" })];

/** A copy of the fixture checkpoint at `<tmp>/<name>`, for rows that damage it. */
function copyCheckpoint(ctx: Context, name: string): string {
  const dir = path.join(ctx.tmp, name);
  cpSync(ctx.checkpoint, dir, { recursive: true });
  return dir;
}

/** A copy of the fixture model at `<tmp>/<name>`. */
function copyModel(ctx: Context, name: string): string {
  const dir = path.join(ctx.tmp, name);
  cpSync(ctx.modelDir, dir, { recursive: true });
  return dir;
}

/** A run folder with checkpoint-1 and checkpoint-2 (latest), for the resume rows. */
function runFolder(ctx: Context, name: string): string {
  const runDir = path.join(ctx.tmp, name);
  mkdirSync(runDir);
  for (const step of [1, 2]) cpSync(ctx.checkpoint, path.join(runDir, `checkpoint-${step}`), { recursive: true });
  writeFileSync(path.join(runDir, "latest.json"), JSON.stringify({ format: "grpo-agent-framework/latest", version: 1, checkpoint: "checkpoint-2", step: 2 }));
  return runDir;
}

/** Runs `grpo train <args>` in-process (commander throws instead of exiting). */
async function cli(args: string[]): Promise<Outcome> {
  const program = new Command("grpo").exitOverride();
  registerTrainCommand(program, { out: () => undefined, err: () => undefined });
  return thrown(() => program.parseAsync(["node", "grpo", "train", ...args]));
}

/** An environment that never says done. */
class EndlessEnvironment extends Environment {
  async reset(): Promise<EnvironmentState> {
    return new EnvironmentState();
  }
  async step(state: EnvironmentState): Promise<StepResult> {
    // Never increments turnCount and never says done: only the runner's own count can stop it.
    return { state: state.copy(), response: new ConversationTurn({ role: "user", content: "And?" }), reward: 0, done: false };
  }
  async getInitialPrompt(): Promise<string> {
    return "Go on.";
  }
}

/** A custom RewardFunction whose result lacks a score. */
class ScorelessReward extends RewardFunction {
  async computeReward(): Promise<RewardResult> {
    return { breakdown: {}, metadata: {} } as unknown as RewardResult;
  }
}

const tool = (fn: ToolSpec["function"], name = "lookup"): ToolSpec => ({ name, description: "Looks things up.", function: fn });

/** An initialized agent whose model replies from a script. */
async function scriptedAgent(replies: string[]): Promise<MultiTurnAgent> {
  const agent = new MultiTurnAgent({ modelName: "scripted", systemPrompt: "" }, { policy: new ScriptedPolicy(replies) });
  await agent.initialize();
  return agent;
}

export const BAD_INPUTS: BadInput[] = [
  // ---------------------------------------------------------------------------------------------
  { area: "Training configuration", input: "negative learning rate",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { learningRate: -1e-4 } })),
    code: "invalid_config",
    message: "Invalid GRPOConfig. Field: `GRPOConfig.learningRate`. Got: -0.0001. Expected: a number > 0. Fix: set `learningRate` to a number > 0, or leave it out for the profile's default (conservative 3e-4, balanced 0.001, aggressive 0.002)." },
  { area: "Training configuration", input: "`numGenerations: 1` (GRPO compares at least 2 completions)",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { numGenerations: 1 } })),
    code: "invalid_config",
    message: "Invalid GRPOConfig. Field: `GRPOConfig.numGenerations`. Got: 1. Expected: an integer >= 2. Fix: set `numGenerations` to an integer >= 2, or leave it out for the profile's default (conservative 8, balanced 6, aggressive 4)." },
  { area: "Training configuration", input: "misspelt profile `balancd`",
    run: () => thrown(() => resolveGRPOConfig({ profile: "balancd" as never })),
    code: "invalid_config",
    message: "Unknown training profile. Field: `profile`. Got: \"balancd\". Expected: \"conservative\" | \"balanced\" | \"aggressive\". Fix: did you mean `\"balanced\"`?" },
  { area: "Training configuration", input: "unknown profile `turbo`",
    run: () => thrown(() => resolveGRPOConfig({ profile: "turbo" as never })),
    code: "invalid_config",
    message: "Unknown training profile. Field: `profile`. Got: \"turbo\". Expected: \"conservative\" | \"balanced\" | \"aggressive\". Fix: use \"balanced\" to start, \"conservative\" for maximum stability." },
  { area: "Training configuration", input: "unknown override key `learning_rat` (did-you-mean)",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { learning_rat: 1e-4 } as never })),
    code: "invalid_config",
    message: "Unknown GRPOConfig knob. Field: `GRPOConfig.learning_rat`. Got: 0.0001. Expected: a knob of GRPOConfig (camelCase or snake_case). Fix: did you mean `learningRate`?" },
  { area: "Training configuration", input: "unknown override key `numGeneration` (did-you-mean)",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { numGeneration: 8 } as never })),
    code: "invalid_config",
    message: "Unknown GRPOConfig knob. Field: `GRPOConfig.numGeneration`. Got: 8. Expected: a knob of GRPOConfig (camelCase or snake_case). Fix: did you mean `numGenerations`?" },
  { area: "Training configuration", input: "the same knob in two spellings",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { learningRate: 1e-4, learning_rate: 1e-5 } as never })),
    code: "invalid_config",
    message: "The same knob is given twice under different spellings. Field: `GRPOConfig.learning_rate`. Got: {\"learningRate\":0.0001,\"learning_rate\":0.00001}. Expected: one spelling of `learningRate`. Fix: keep only one of `learningRate` and `learning_rate`." },
  { area: "Training configuration", input: "both `maxSteps` and `numEpisodes`",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { maxSteps: 10, numEpisodes: 100 } })),
    code: "invalid_config",
    message: "Both maxSteps and numEpisodes are set; they are two ways to say how long to train. Field: `GRPOConfig.maxSteps`. Got: {\"maxSteps\":10,\"numEpisodes\":100}. Expected: at most one of maxSteps and numEpisodes. Fix: remove one of them (numEpisodes counts rollouts; maxSteps counts optimiser steps)." },
  { area: "Training configuration", input: "a string where a number belongs",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { learningRate: "fast" as never } })),
    code: "invalid_config",
    message: "Invalid GRPOConfig. Field: `GRPOConfig.learningRate`. Got: \"fast\". Expected: a number > 0. Fix: set `learningRate` to a number > 0, or leave it out for the profile's default (conservative 3e-4, balanced 0.001, aggressive 0.002)." },
  { area: "Training configuration", input: "`saveTotalLimit: 0`",
    run: () => thrown(() => resolveGRPOConfig({ overrides: { saveTotalLimit: 0 } })),
    code: "invalid_config",
    message: "Invalid GRPOConfig. Field: `GRPOConfig.saveTotalLimit`. Got: 0. Expected: an integer >= 1, or undefined. Fix: set `saveTotalLimit` to an integer >= 1, or undefined, or leave it out for the profile's default (default undefined)." },
  { area: "Training configuration", input: "overrides that are not an object",
    run: () => thrown(() => resolveGRPOConfig({ overrides: "fast" as never })),
    code: "invalid_config",
    message: "Config overrides must be an object of knob values. Field: `overrides`. Got: \"fast\". Expected: an object such as { learningRate: 1e-4, numGenerations: 8 }." },
  { area: "Training configuration", input: "an agent option from the Python guide in snake_case",
    run: () => thrown(() => resolveAgentConfig({ modelName: "m", max_new_tokens: 5 } as never)),
    code: "invalid_config",
    message: "Unknown AgentConfig option \"max_new_tokens\". Field: `AgentConfig.max_new_tokens`. Got: 5. Expected: one of modelName, systemPrompt, temperature, topP, topK, maxNewTokens, memoryWindow, seed, stop. Fix: rename `max_new_tokens` to `maxNewTokens` (options are camelCase)." },
  { area: "Training configuration", input: "negative temperature",
    run: () => thrown(() => resolveAgentConfig({ modelName: "m", temperature: -1 })),
    code: "invalid_config",
    message: "Invalid AgentConfig. Field: `AgentConfig.temperature`. Got: -1. Expected: a number >= 0 (0 = greedy). Fix: set AgentConfig.temperature to a valid value or leave it out for the default." },

  // ---------------------------------------------------------------------------------------------
  { area: "Scenarios and tasks", input: "no scenarios",
    run: () => thrown(() => new ConversationEnvironment({ scenarios: [] })),
    code: "invalid_config",
    message: "Invalid ConversationEnvironment. Field: `ConversationEnvironment.scenarios`. Got: []. Expected: at least one scenario. Fix: pass { scenarios: [{ id: \"...\", userResponses: [\"...\"] }], maxTurns: 12 }." },
  { area: "Scenarios and tasks", input: "a scenario with no user responses",
    run: () => thrown(() => new ConversationEnvironment({ scenarios: [{ id: "billing", userResponses: [] }] })),
    code: "invalid_scenario",
    message: "Invalid scenarios[0]. Field: `scenarios[0].userResponses`. Got: []. Expected: at least one message (the user's scripted messages). Fix: fix scenarios[0].userResponses of scenario \"billing\"; a scenario is { id: \"...\", userResponses: [\"first message\", ...] }." },
  { area: "Scenarios and tasks", input: "two scenarios with the same id",
    run: () => thrown(() => new ConversationEnvironment({ scenarios: [{ id: "a", userResponses: ["x"] }, { id: "a", userResponses: ["y"] }] })),
    code: "invalid_scenario",
    message: "Two scenarios share an id. Field: `scenarios[1].id`. Got: \"a\". Expected: an id not used by scenarios[0]. Fix: give every entry its own id: trajectories and metrics are grouped by it." },
  { area: "Scenarios and tasks", input: "the guide's snake_case `user_responses`",
    run: () => thrown(() => new ConversationEnvironment({ scenarios: [{ id: "s", user_responses: ["x"] } as never] })),
    code: "invalid_scenario",
    message: "Invalid scenarios[0]. Field: `scenarios[0].userResponses`. Got: undefined. Expected: an array of strings (the user's scripted messages). Fix: fix scenarios[0].userResponses of scenario \"s\"; a scenario is { id: \"...\", userResponses: [\"first message\", ...] }." },
  { area: "Scenarios and tasks", input: "a task without a goal",
    run: () => thrown(() => new TaskEnvironment({ tasks: [{ description: "Plan a trip", requiredActions: [{ name: "budget", keywords: ["cost"] }] } as never] })),
    code: "invalid_task",
    message: "Invalid tasks[0]. Field: `tasks[0].goal`. Got: undefined. Expected: a non-empty string (what a complete outcome is). Fix: fix tasks[0].goal; a task is { description, goal, requiredActions: [{ name, keywords: [...] }] }." },
  { area: "Scenarios and tasks", input: "a required action with no keywords",
    run: () => thrown(() => new TaskEnvironment({ tasks: [{ description: "Plan a trip", goal: "A plan", requiredActions: [{ name: "budget", keywords: [] }] }] })),
    code: "invalid_task",
    message: "Invalid tasks[0]. Field: `tasks[0].requiredActions[0].keywords`. Got: []. Expected: at least one keyword that shows the action was taken. Fix: fix tasks[0].requiredActions[0].keywords; a task is { description, goal, requiredActions: [{ name, keywords: [...] }] }." },
  { area: "Scenarios and tasks", input: "`maxTurns: 0`",
    run: () => thrown(() => new ConversationEnvironment({ scenarios: [{ id: "s", userResponses: ["x"] }], maxTurns: 0 })),
    code: "invalid_config",
    message: "Invalid ConversationEnvironment option. Field: `ConversationEnvironment.maxTurns`. Got: 0. Expected: an integer >= 1 (the most agent actions per episode). Fix: pass e.g. `maxTurns: 12`." },

  // ---------------------------------------------------------------------------------------------
  { area: "Reward functions", input: "a reward function that throws",
    run: () => thrown(() => evaluateReward(rewardFunction({ name: "picky" }, () => { throw new Error("no assistant turn"); }), turns(), {}, { scenarioId: "s1" })),
    code: "reward_failed",
    message: "Reward function `picky` (FunctionReward) threw while scoring scenario `s1`: no assistant turn Fix: fix the reward function (the original error is attached as `cause`)." },
  { area: "Reward functions", input: "a reward function that returns NaN",
    run: () => thrown(() => evaluateReward(rewardFunction({ name: "ratio" }, () => 0 / 0), turns(), {}, { scenarioId: "s1" })),
    code: "reward_failed",
    message: "Reward function `ratio` (FunctionReward) returned a NaN score while scoring scenario `s1`. Field: `result.score`. Got: NaN. Expected: a finite number. Fix: make computeReward resolve to `{ score: <finite number>, breakdown: { name: number }, metadata: {} }` (a function given to rewardFunction() may also return a finite number)." },
  { area: "Reward functions", input: "a reward function that returns a string",
    run: () => thrown(() => evaluateReward(rewardFunction({ name: "grader" }, () => "good" as never), turns(), {})),
    code: "reward_failed",
    message: "Reward function `grader` (FunctionReward) returned a string instead of a RewardResult. Field: `result`. Got: \"good\". Expected: an object `{ score, breakdown, metadata }`. Fix: make computeReward resolve to `{ score: <finite number>, breakdown: { name: number }, metadata: {} }` (a function given to rewardFunction() may also return a finite number)." },
  { area: "Reward functions", input: "a reward function that never settles (timeout)",
    run: () => thrown(() => evaluateReward(rewardFunction({ name: "remote_judge" }, () => new Promise<number>(() => undefined)), turns(), {}, { scenarioId: "s1", timeoutMs: 50 })),
    code: "reward_failed",
    message: "Reward function `remote_judge` (FunctionReward) did not finish within 50 ms while scoring scenario `s1`. Field: `timeoutMs`. Got: 50. Fix: make the reward faster (or make sure its promise settles), or raise `timeoutMs`." },
  { area: "Reward functions", input: "a custom RewardFunction whose result has no `score`",
    run: () => thrown(() => evaluateReward(new ScorelessReward(), turns(), {})),
    code: "reward_failed",
    message: "Reward function `scoreless` (ScorelessReward) returned an object without `score`. Field: `result.score`. Got: {\"breakdown\":{},\"metadata\":{}}. Expected: a finite number. Fix: make computeReward resolve to `{ score: <finite number>, breakdown: { name: number }, metadata: {} }` (a function given to rewardFunction() may also return a finite number)." },
  { area: "Reward functions", input: "`rewardFunction` given something that is not a function",
    run: () => thrown(() => rewardFunction({ name: "x" }, 42 as never)),
    code: "invalid_reward",
    message: "rewardFunction needs a function. Field: `rewardFunction(options, fn).fn`. Got: 42. Expected: (turns, context) => number | RewardResult (may be async)." },
  { area: "Reward functions", input: "an empty CompositeReward",
    run: () => thrown(() => new CompositeReward([])),
    code: "invalid_reward",
    message: "A CompositeReward needs at least one reward. Field: `CompositeReward.rewards`. Got: []. Expected: a non-empty array of RewardFunction instances. Fix: e.g. `new CompositeReward([new HelpfulnessReward({ weight: 0.6 }), new SafetyReward({ weight: 0.4 })])`." },

  // ---------------------------------------------------------------------------------------------
  { area: "Environments", input: "an environment that never ends",
    run: async () => {
      const environment = new EndlessEnvironment({ maxTurns: 3 });
      const t = await runEpisode(await scriptedAgent(["ok"]), environment);
      return handled(`episode ended after ${t.turnRewards.length} actions with status ${t.status === EpisodeStatus.TRUNCATED ? "TRUNCATED" : t.status} (maxTurns 3)`);
    },
    code: "handled", message: "episode ended after 3 actions with status TRUNCATED (maxTurns 3)" },
  { area: "Environments", input: "`step()` that returns the wrong shape",
    run: async () => {
      class Sloppy extends EndlessEnvironment {
        override async step(): Promise<StepResult> { return { done: "yes" } as never; }
      }
      const agent = await scriptedAgent(["ok"]);
      return thrown(() => runEpisode(agent, new Sloppy()));
    },
    code: "invalid_argument",
    message: "Sloppy.step returned an invalid result. Field: `Sloppy.step() -> state`. Got: undefined. Expected: an EnvironmentState. Fix: return `{ state, response, reward, done }` from step()." },
  { area: "Environments", input: "`step()` that throws",
    run: async () => {
      class Broken extends EndlessEnvironment {
        override async step(): Promise<StepResult> { throw new Error("database offline"); }
      }
      const agent = await scriptedAgent(["ok"]);
      return thrown(() => runEpisode(agent, new Broken(), { scenario: { id: "lookup" } }));
    },
    code: "episode_failed",
    message: "Broken.step failed in scenario \"lookup\" at agent turn 1: database offline Fix: see the attached `cause` for the original error." },

  // ---------------------------------------------------------------------------------------------
  { area: "Tools", input: "a tool that throws",
    run: async () => toolResult((await executeToolCall({ id: "c0", name: "lookup", arguments: {} }, [tool(() => { throw new Error("index offline"); })])).content),
    code: "tool_result",
    message: "Error: tool \"lookup\" failed: index offline" },
  { area: "Tools", input: "a tool that hangs (per-call timeout)",
    run: async () => toolResult((await executeToolCall({ id: "c0", name: "lookup", arguments: {} }, [tool(() => new Promise(() => undefined))], { timeoutMs: 30 })).content),
    code: "tool_result",
    message: "Error: tool \"lookup\" timed out after 30 ms." },
  { area: "Tools", input: "a tool that returns huge output (output cap)",
    run: async () => toolResult((await executeToolCall({ id: "c0", name: "lookup", arguments: {} }, [tool(() => "x".repeat(100_000))], { maxOutputChars: 20 })).content),
    code: "tool_result",
    message: "xxxxxxxxxxxxxxxxxxxx\n[output truncated: showing 20 of 100000 characters]" },
  { area: "Tools", input: "two tools with the same name",
    run: () => thrown(() => validateTools([tool(() => 1), tool(() => 2)])),
    code: "invalid_tool",
    message: "Two tools share a name. Field: `tools[1].name`. Got: \"lookup\". Expected: a name used by no other tool. Fix: rename one of the tools; the model picks a tool by its name." },
  { area: "Tools", input: "a tool without a function",
    run: () => thrown(() => validateTools([{ name: "lookup", description: "d" } as never])),
    code: "invalid_tool",
    message: "Invalid tools[0]. Field: `tools[0].function`. Got: undefined. Expected: a function (args) => result. Fix: each tool is { name: \"calculator\", description: \"...\", function: (args) => ... }." },

  // ---------------------------------------------------------------------------------------------
  { area: "Tool calls written by the model", input: "a tool call that is not JSON",
    run: async () => toolResult(parseToolCalls('<tool_call>{"name": "calculator", arguments: 2+3}</tool_call>').errors[0].message),
    code: "tool_result",
    message: "the tool call is not valid JSON (Expected double-quoted property name in JSON at position 23). Write <tool_call>{\"name\": \"tool_name\", \"arguments\": {...}}</tool_call>" },
  { area: "Tool calls written by the model", input: "a tool call without a name",
    run: async () => toolResult(parseToolCalls('<tool_call>{"arguments": {"expression": "2+3"}}</tool_call>').errors[0].message),
    code: "tool_result",
    message: "the tool call has no \"name\" string. Write <tool_call>{\"name\": \"tool_name\", \"arguments\": {...}}</tool_call>" },
  { area: "Tool calls written by the model", input: "arguments that are not an object",
    run: async () => toolResult(parseToolCalls('<tool_call>{"name": "calculator", "arguments": [2, 3]}</tool_call>').errors[0].message),
    code: "tool_result",
    message: "the \"arguments\" of tool call \"calculator\" must be a JSON object, e.g. {\"expression\": \"2+3\"}" },
  { area: "Tool calls written by the model", input: "a tool call cut off before `</tool_call>`",
    run: async () => toolResult(parseToolCalls('Let me compute. <tool_call>{"name": "calcul').errors[0].message),
    code: "tool_result",
    message: "the tool call was not closed with </tool_call>. Write <tool_call>{\"name\": \"tool_name\", \"arguments\": {...}}</tool_call>" },
  { area: "Tool calls written by the model", input: "an unknown tool",
    run: async () => toolResult((await executeToolCall({ id: "c0", name: "browser", arguments: {} }, [calculatorTool])).content),
    code: "tool_result",
    message: "Error: unknown tool \"browser\". Available tools: \"calculator\"." },
  { area: "Tool calls written by the model", input: "wrong arguments for a tool",
    run: async () => toolResult((await executeToolCall({ id: "c0", name: "calculator", arguments: { expr: "2+3" } }, [calculatorTool])).content),
    code: "tool_result",
    message: "Error: tool \"calculator\" failed: Cannot calculate: pass the expression as a string: {\"expression\": \"2+3\"}. Field: `expression`. Got: undefined. Expected: arithmetic with numbers, + - * / ^ %, parentheses and sqrt, abs, round, floor, ceil, min, max, log, exp." },
  { area: "Tool calls written by the model", input: "code instead of arithmetic (no eval anywhere)",
    run: async () => toolResult((await executeToolCall({ id: "c0", name: "calculator", arguments: { expression: "process.exit(1)" } }, [calculatorTool])).content),
    code: "tool_result",
    message: "Error: tool \"calculator\" failed: Cannot calculate: unknown name \"process\". Field: `expression`. Got: \"process.exit(1)\". Expected: arithmetic with numbers, + - * / ^ %, parentheses and sqrt, abs, round, floor, ceil, min, max, log, exp." },
  { area: "Tool calls written by the model", input: "a ToolAgent episode whose model writes broken JSON: the error is the next tool turn",
    run: async () => {
      const policy = new ScriptedPolicy(['<tool_call>{"name": "calculator", "arguments": {"expression": 2+3}}</tool_call>', "It is 5."]);
      const agent = new ToolAgent({ modelName: "scripted", systemPrompt: "" }, { tools: [calculatorTool], policy });
      await agent.initialize();
      const environment = new ConversationEnvironment({ scenarios: [{ id: "math", userResponses: ["What is 2+3?"] }], maxTurns: 1 });
      const t = await runEpisode(agent, environment);
      const toolTurn = t.turns.find((turn) => turn.role === "tool");
      return toolResult(toolTurn?.content ?? "(no tool turn)");
    },
    code: "tool_result",
    message: "Error: the tool call is not valid JSON (Expected ',' or '}' after property value in JSON at position 52). Write <tool_call>{\"name\": \"tool_name\", \"arguments\": {...}}</tool_call>" },

  // ---------------------------------------------------------------------------------------------
  { area: "Models", input: "a model folder that does not exist",
    run: (ctx) => thrown(() => loadModelFolder(path.join(ctx.tmp, "no-such-model"))),
    code: "model_not_found",
    message: "Model folder not found: <tmp>/no-such-model. Field: `dir`. Got: \"<tmp>/no-such-model\". Expected: a folder with config.json and model.safetensors. Fix: check the path; save a model with `saveModelFolder` or HF `save_pretrained`." },
  { area: "Models", input: "a model folder without config.json",
    run: (ctx) => {
      const dir = path.join(ctx.tmp, "empty-model");
      mkdirSync(dir);
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_model",
    message: "The model folder <tmp>/empty-model has no config.json. Field: `config.json`. Fix: add the model's Hugging Face config.json (written by `save_pretrained` or `saveModelFolder`)." },
  { area: "Models", input: "config.json that is not JSON",
    run: (ctx) => {
      const dir = copyModel(ctx, "model-bad-config");
      writeFileSync(path.join(dir, "config.json"), "{ n_embd: 32 ");
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_model",
    message: "<tmp>/model-bad-config/config.json is not valid JSON (Expected property name or '}' in JSON at position 2). Field: `config.json`. Fix: repair or re-save the file." },
  { area: "Models", input: "an architecture other than GPT-2 and GPT-NeoX",
    run: async (ctx) => {
      const dir = copyModel(ctx, "model-llama");
      const config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
      writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, model_type: "llama" }));
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_model",
    message: "<tmp>/model-llama/config.json: model_type \"llama\" is not supported. Field: `<tmp>/model-llama/config.json.model_type`. Got: \"llama\". Expected: \"gpt2\" or \"gpt_neox\". Fix: use a GPT-2 or GPT-NeoX (rotary, sequential residual) checkpoint." },
  { area: "Models", input: "a GPT-NeoX variant this transformer does not compute (parallel residuals)",
    run: async (ctx) => {
      const dir = copyModel(ctx, "model-parallel");
      // The tiny model's config as a rotary (GPT-NeoX) one, then with HF's default parallel residuals.
      const config = modelConfigFromHF(JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")));
      writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...modelConfigToHF({ ...config, positionEncoding: "rotary" }), use_parallel_residual: true }));
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_model",
    message: "<tmp>/model-parallel/config.json: this GPT-NeoX variant is not supported. Field: `<tmp>/model-parallel/config.json.use_parallel_residual`. Got: true. Expected: false. Fix: supported GPT-NeoX models rotate whole heads, add attention then MLP in sequence, and use the tanh GELU (as saveModelFolder writes them)." },
  { area: "Models", input: "PyTorch pickle weights only (`pytorch_model.bin`)",
    run: async (ctx) => {
      const dir = path.join(ctx.tmp, "model-pickle");
      mkdirSync(dir);
      cpSync(path.join(ctx.modelDir, "config.json"), path.join(dir, "config.json"));
      writeFileSync(path.join(dir, "pytorch_model.bin"), "not loaded");
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_weights",
    message: "The model folder <tmp>/model-pickle has pytorch_model.bin weights, which are not supported (PyTorch pickle files can run code). Field: `model.safetensors`. Fix: in Python, load the model and re-save it with `model.save_pretrained(dir, safe_serialization=True)`." },
  { area: "Models", input: "a truncated model.safetensors",
    run: (ctx) => {
      const dir = copyModel(ctx, "model-truncated");
      truncateSync(path.join(dir, "model.safetensors"), 100);
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_weights",
    message: "<tmp>/model-truncated/model.safetensors: header length is larger than the file. Got: 2592. Expected: at most 92 bytes for a 100-byte file. Fix: the file is truncated or not a safetensors file; re-download or re-save it." },
  { area: "Models", input: "a shard index naming a file outside the folder",
    run: async (ctx) => {
      const dir = path.join(ctx.tmp, "model-escape");
      mkdirSync(dir);
      cpSync(path.join(ctx.modelDir, "config.json"), path.join(dir, "config.json"));
      writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "wte.weight": "../secrets.safetensors" } }));
      return thrown(() => loadModelFolder(dir));
    },
    code: "invalid_weights",
    message: "The path \"../secrets.safetensors\" escapes the model folder <tmp>/model-escape. Field: `weight_map (<tmp>/model-escape/model.safetensors.index.json)`. Got: \"../secrets.safetensors\". Expected: a relative file name inside the folder, e.g. model-00001-of-00002.safetensors. Fix: use a file name inside the model folder; `..` and absolute paths are not allowed." },
  { area: "Models", input: "an unknown built-in model",
    run: () => thrown(() => resolveModelFolder("builtin:gpt-5")),
    code: "model_not_found",
    message: "There is no built-in model \"gpt-5\". Field: `modelName`. Got: \"builtin:gpt-5\". Expected: `builtin:<name>` (available: <built-in models>) or a path to a local Hugging Face GPT-2 or GPT-NeoX folder with config.json, model.safetensors and tokenizer.json. Fix: build the built-in models with `npm run pretrain`, or pick one of those listed." },
  { area: "Models", input: "a built-in model name that tries to leave the models folder",
    run: () => thrown(() => resolveModelFolder("builtin:../../etc")),
    code: "model_not_found",
    message: "Not a valid built-in model name. Field: `modelName`. Got: \"builtin:../../etc\". Expected: `builtin:<name>` (available: <built-in models>) or a path to a local Hugging Face GPT-2 or GPT-NeoX folder with config.json, model.safetensors and tokenizer.json." },

  // ---------------------------------------------------------------------------------------------
  { area: "Checkpoints", input: "a checkpoint folder that does not exist",
    run: (ctx) => thrown(() => GRPOTrainer.resume(path.join(ctx.tmp, "no-such-checkpoint"), { environment: quietEnvironment(), reward: constantReward() })),
    code: "checkpoint_invalid",
    message: "Checkpoint not found: <tmp>/no-such-checkpoint. Field: `dir`. Got: \"<tmp>/no-such-checkpoint\". Fix: pass the directory a trainer saved (it holds trainer_state.json and checksums.json)." },
  { area: "Checkpoints", input: "an edited trainer_state.json",
    run: async (ctx) => {
      const dir = copyCheckpoint(ctx, "ckpt-edited");
      const file = path.join(dir, "trainer_state.json");
      writeFileSync(file, (await readFile(file, "utf8")).replace('"step": 0', '"step": 9'));
      return thrown(() => GRPOTrainer.resume(dir, { environment: quietEnvironment(), reward: constantReward() }));
    },
    code: "checkpoint_invalid",
    message: "Checkpoint file corrupted (checksum mismatch): <tmp>/ckpt-edited/trainer_state.json. Field: `trainer_state.json`. Fix: resume from an earlier checkpoint; this file was truncated or edited after it was saved." },
  { area: "Checkpoints", input: "a truncated optimizer.safetensors",
    run: (ctx) => {
      const dir = copyCheckpoint(ctx, "ckpt-truncated");
      truncateSync(path.join(dir, "optimizer.safetensors"), 64);
      return thrown(() => GRPOTrainer.resume(dir, { environment: quietEnvironment(), reward: constantReward() }));
    },
    code: "checkpoint_invalid",
    message: "Checkpoint file corrupted (checksum mismatch): <tmp>/ckpt-truncated/optimizer.safetensors. Field: `optimizer.safetensors`. Fix: resume from an earlier checkpoint; this file was truncated or edited after it was saved." },
  { area: "Checkpoints", input: "a file planted in a checkpoint after it was saved",
    run: (ctx) => {
      const dir = copyCheckpoint(ctx, "ckpt-planted");
      writeFileSync(path.join(dir, "model", "chat_template.jinja"), "{{ messages }}");
      return thrown(() => loadAgentFromCheckpoint(dir));
    },
    code: "checkpoint_invalid",
    message: "Checkpoint file not covered by checksums.json: <tmp>/ckpt-planted/model/chat_template.jinja. Field: `model/chat_template.jinja`. Fix: it was added after the checkpoint was saved; remove it (a checkpoint loads only the files it wrote)." },
  { area: "Checkpoints", input: "a symbolic link inside a checkpoint",
    run: (ctx) => {
      const dir = copyCheckpoint(ctx, "ckpt-symlink");
      symlinkSync("/etc/hostname", path.join(dir, "model", "notes.json"));
      return thrown(() => loadAgentFromCheckpoint(dir));
    },
    code: "checkpoint_invalid",
    message: "Checkpoint entry is not a regular file: <tmp>/ckpt-symlink/model/notes.json. Field: `model/notes.json`. Fix: checkpoints hold plain files only (symbolic links are never followed); copy the real file in and re-save." },
  { area: "Checkpoints", input: "checksums.json naming a path outside the checkpoint",
    run: async (ctx) => {
      const dir = copyCheckpoint(ctx, "ckpt-escape");
      const manifest = JSON.parse(await readFile(path.join(dir, "checksums.json"), "utf8")) as Record<string, string>;
      manifest["../../etc/passwd"] = "0".repeat(64);
      writeFileSync(path.join(dir, "checksums.json"), JSON.stringify(manifest));
      return thrown(() => loadAgentFromCheckpoint(dir));
    },
    code: "checkpoint_invalid",
    message: "<tmp>/ckpt-escape/checksums.json names a path outside the checkpoint: \"../../etc/passwd\". Field: `../../etc/passwd`. Fix: checkpoint files must lie inside the checkpoint folder; this manifest was edited or forged." },
  { area: "Checkpoints", input: "a run folder without checkpoints",
    run: (ctx) => {
      const dir = path.join(ctx.tmp, "run-empty");
      mkdirSync(dir);
      writeFileSync(path.join(dir, "metrics.jsonl"), "");
      return thrown(() => GRPOTrainer.resume(dir, { environment: quietEnvironment(), reward: constantReward() }));
    },
    code: "checkpoint_invalid",
    message: "No checkpoint in the run folder <tmp>/run-empty. Field: `dir`. Got: \"<tmp>/run-empty\". Expected: a run folder with checkpoint-<step> folders, or a checkpoint folder. Fix: train with `runDir` and `saveSteps` > 0 to write periodic checkpoints, or pass the folder `trainer.save()` wrote." },
  { area: "Checkpoints", input: "resuming a run folder whose newest checkpoint is corrupt (without `fallback`)",
    run: (ctx) => {
      const runDir = runFolder(ctx, "run-corrupt");
      truncateSync(path.join(runDir, "checkpoint-2", "model", "model.safetensors"), 10);
      return thrown(() => GRPOTrainer.resume(runDir, { environment: quietEnvironment(), reward: constantReward() }));
    },
    code: "checkpoint_invalid",
    message: "The newest checkpoint of <tmp>/run-corrupt is corrupt: Checkpoint file corrupted (checksum mismatch): <tmp>/run-corrupt/checkpoint-2/model/model.safetensors. Field: `fallback`. Fix: the newest intact checkpoint is <tmp>/run-corrupt/checkpoint-1 (step 1): resume with `GRPOTrainer.resume(runDir, { ..., fallback: true })` (CLI: `--fallback`) to continue from it, or pass that folder directly." },
  { area: "Checkpoints", input: "the same with `fallback: true`: resumes from the newest intact checkpoint",
    run: async (ctx) => {
      const runDir = runFolder(ctx, "run-fallback");
      truncateSync(path.join(runDir, "checkpoint-2", "model", "model.safetensors"), 10);
      const trainer = await GRPOTrainer.resume(runDir, { environment: quietEnvironment(), reward: constantReward(), fallback: true });
      trainer.dispose();
      const from = trainer.resumedFrom;
      return handled(`resumed from ${from?.dir}; skipped ${from?.skipped.map((s) => s.reason).join(" ")}`);
    },
    code: "handled", message: "resumed from <tmp>/run-fallback/checkpoint-1; skipped Checkpoint file corrupted (checksum mismatch): <tmp>/run-fallback/checkpoint-2/model/model.safetensors." },
  { area: "Checkpoints", input: "latest.json pointing outside the run folder",
    run: (ctx) => {
      const runDir = runFolder(ctx, "run-escape");
      writeFileSync(path.join(runDir, "latest.json"), JSON.stringify({ checkpoint: "../../etc" }));
      return thrown(() => GRPOTrainer.resume(runDir, { environment: quietEnvironment(), reward: constantReward() }));
    },
    code: "checkpoint_invalid",
    message: "<tmp>/run-escape/latest.json does not name a checkpoint folder of this run. Field: `latest.json.checkpoint`. Got: \"../../etc\". Expected: \"checkpoint-<step>\" (a folder inside the run folder). Fix: delete latest.json (resume then uses the newest intact checkpoint folder) or pass a checkpoint folder directly." },

  // ---------------------------------------------------------------------------------------------
  { area: "Backends", input: "an unknown backend name",
    run: () => thrown(() => selectBackend({ backend: "gpu" as never })),
    code: "invalid_argument",
    message: "Unknown backend. Field: `backend`. Got: \"gpu\". Expected: \"tensorflow-gpu\", \"tensorflow\", \"wasm\", \"cpu\", \"auto\"." },
  { area: "Backends", input: "an unknown name in GRPO_BACKEND",
    run: async () => {
      const saved = process.env.GRPO_BACKEND;
      process.env.GRPO_BACKEND = "cuda";
      try {
        return await thrown(() => selectBackend());
      } finally {
        if (saved === undefined) delete process.env.GRPO_BACKEND;
        else process.env.GRPO_BACKEND = saved;
      }
    },
    code: "invalid_argument",
    message: "Unknown backend in the GRPO_BACKEND environment variable. Field: `GRPO_BACKEND`. Got: \"cuda\". Expected: \"tensorflow-gpu\", \"tensorflow\", \"wasm\", \"cpu\", \"auto\". Fix: set GRPO_BACKEND to one of those names, or unset it for `auto`." },

  // ---------------------------------------------------------------------------------------------
  { area: "Prompts", input: "a prompt longer than the context window (truncation policy)",
    run: async (ctx) => {
      const ids = Array.from({ length: 300 }, (_, i) => i % ctx.policy.model.config.vocabSize);
      const [result] = await generate(ctx.policy.model, [ids], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 8, eosTokenIds: [], rng: Rng.fromSeed(0) });
      const keptTail = result.promptTokenIds.every((id, i) => id === ids[ids.length - result.promptTokenIds.length + i]);
      return handled(`kept the ${keptTail ? "last" : "WRONG"} ${result.promptTokenIds.length} of ${ids.length} prompt tokens ` +
        `(nPositions ${ctx.policy.model.config.nPositions} − maxNewTokens 8); generated ${result.tokenIds.length} tokens`);
    },
    code: "handled", message: "kept the last 56 of 300 prompt tokens (nPositions 64 − maxNewTokens 8); generated 8 tokens" },
  { area: "Prompts", input: "a prompt token id outside the vocabulary",
    run: (ctx) => thrown(() => generate(ctx.policy.model, [[1, 2, 99_999]], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 2, eosTokenIds: [], rng: Rng.fromSeed(0) })),
    code: "invalid_argument",
    message: "A prompt token id lies outside the vocabulary. Field: `promptIds[0][2]`. Got: 99999. Expected: an integer id in [0, 300)." },
  { area: "Prompts", input: "an empty prompt",
    run: (ctx) => thrown(() => generate(ctx.policy.model, [[]], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 2, eosTokenIds: [], rng: Rng.fromSeed(0) })),
    code: "invalid_argument",
    message: "A prompt is empty. Field: `promptIds[0]`. Got: []. Expected: at least one token id. Fix: start prompts with a BOS token or the chat template's first tokens." },

  // ---------------------------------------------------------------------------------------------
  { area: "Command line (`grpo train`)", input: "misspelt example name",
    run: () => cli(["--example", "quick_strat", "--no-save"]),
    code: "invalid_argument",
    message: "Unknown example. Field: `--example`. Got: \"quick_strat\". Expected: \"quick_start\" | \"customer_service_agent\" | \"tutoring_agent\" | \"tool_agent\" | \"task_planning\". Fix: did you mean `quick_start`?" },
  { area: "Command line (`grpo train`)", input: "misspelt knob in `--set`",
    run: (ctx) => cli(["--model", ctx.modelDir, "--set", "lerning_rate=1e-4", "--no-save"]),
    code: "invalid_config",
    message: "Unknown GRPOConfig knob. Field: `GRPOConfig.lerning_rate`. Got: 0.0001. Expected: a knob of GRPOConfig (camelCase or snake_case). Fix: did you mean `learningRate`?" },
  { area: "Command line (`grpo train`)", input: "`--config` file that is not JSON",
    run: (ctx) => {
      const file = path.join(ctx.tmp, "train.json");
      writeFileSync(file, "{ learningRate: 1e-4 }");
      return cli(["--config", file, "--no-save"]);
    },
    code: "invalid_json",
    message: "<tmp>/train.json is not valid JSON (Expected property name or '}' in JSON at position 2). Field: `--config`. Fix: write a JSON object of knobs, e.g. { \"learningRate\": 1e-4, \"numGenerations\": 8 }." },
  { area: "Command line (`grpo train`)", input: "`--resume` without `--run-dir`",
    run: (ctx) => cli(["--model", ctx.modelDir, "--resume", "--no-save"]),
    code: "invalid_argument",
    message: "--resume needs --run-dir. Field: `--resume`. Fix: pass the run folder of the run to continue: --run-dir <dir> --resume." },
  { area: "Command line (`grpo train`)", input: "a new run into a run folder that already has checkpoints",
    run: (ctx) => cli(["--model", ctx.modelDir, "--run-dir", runFolder(ctx, "run-taken"), "--no-save"]),
    code: "invalid_argument",
    message: "The run folder <tmp>/run-taken already holds checkpoints of an earlier run. Field: `--run-dir`. Got: \"<tmp>/run-taken\". Fix: add --resume to continue that run, or choose a new --run-dir (nothing is overwritten)." },
  { area: "Command line (`grpo train`)", input: "`--steps 0`",
    run: () => cli(["--steps", "0"]),
    code: "invalid_argument",
    message: "Invalid --steps. Field: `--steps`. Got: \"0\". Expected: an integer >= 1." },

  { area: "Command line (`grpo eval`)", input: "`--episodes 0`",
    run: () => {
      const program = new Command("grpo").exitOverride();
      registerEvalCommands(program);
      return thrown(() => program.parseAsync(["node", "grpo", "eval", "--model", "builtin:tiny-chat", "--example", "tool_agent", "--episodes", "0"]));
    },
    code: "invalid_argument",
    message: "Invalid --episodes. Field: `--episodes`. Got: \"0\". Expected: an integer in [1, 10000]." },

  // ---------------------------------------------------------------------------------------------
  { area: "Remote models and the LLM judge", input: "training an agent whose model is remote (`openai:<model>`)",
    run: () => thrown(async () => {
      const policy = new RemotePolicy({ model: "gpt-4o-mini", baseURL: "http://127.0.0.1:9/v1", apiKey: "unused" });
      const agent = new MultiTurnAgent({ modelName: "openai:gpt-4o-mini" }, { policy });
      await agent.initialize();
      await GRPOTrainer.create({ agent, environment: quietEnvironment(), reward: constantReward() });
    }),
    code: "invalid_argument",
    message: "This agent's model cannot be trained here. Field: `agent.policy`. Got: \"openai:gpt-4o-mini\". Expected: a TensorFlow.js policy: modelName `builtin:tiny-chat` (or another `builtin:<name>`), a local HF GPT-2 folder, or a checkpoint (`loadAgentFromCheckpoint(dir)`). Fix: train one of those; remote models (`openai:<model>`) only sample text (no token log-probs or weights here), so they can play episodes, be evaluated, judge (LLMJudgeReward) and simulate users, but not be trained." },
  { area: "Remote models and the LLM judge", input: "a remote endpoint that is not running",
    run: () => thrown(() => new RemotePolicy({ model: "m", baseURL: "http://127.0.0.1:9/v1", apiKey: "unused", maxRetries: 0 })
      .generate([[{ role: "user", content: "Hi" }]], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 2 })),
    code: "remote_failed",
    message: "The remote model \"openai:m\" at http://127.0.0.1:9/v1 cannot be reached: Connection error. Fix: check `baseURL` / OPENAI_BASE_URL and that the server is running (e.g. `npx grpo serve --model builtin:tiny-chat`)." },
  { area: "Remote models and the LLM judge", input: "a judge that never gives a readable score",
    run: () => thrown(() => new LLMJudgeReward({ rubric: "Polite.", judge: new ScriptedPolicy(["Nice reply!"]), maxRetries: 1, backoffMs: 0 })
      .computeReward(turns())),
    code: "reward_failed",
    message: "The judge gave no readable score in 2 tries: try 1: unreadable answer \"Nice reply!\" (it contains no score); try 2: unreadable answer \"Nice reply!\" (it contains no score). Field: `LLMJudgeReward.judge`. Expected: an answer with a score, e.g. \"Score: 7/10\" or {\"score\": 7}. Fix: use a judge model that follows instructions (a small local model rarely does), or make the rubric ask for the score format." },
  { area: "Remote models and the LLM judge", input: "an LLM judge without a rubric",
    run: () => thrown(() => new LLMJudgeReward({ rubric: "", judge: new ScriptedPolicy(["Score: 1/10"]) })),
    code: "invalid_reward",
    message: "Invalid LLMJudgeReward. Field: `LLMJudgeReward.rubric`. Got: \"\". Expected: a non-empty rubric. Fix: pass one options object with camelCase keys, e.g. `new LLMJudgeReward({ rubric: \"Helpful, correct and polite.\", judge: \"openai:gpt-4o-mini\" })`; weight is a finite number >= 0." },

  // ---------------------------------------------------------------------------------------------
  { area: "Distributed training", input: "a rollout worker pointed at a Redis server that is not running",
    run: () => thrown(() => startRolloutWorker({ redisUrl: "redis://127.0.0.1:9" })),
    code: "distributed_failed",
    message: "Cannot reach Redis at redis://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9. Field: `redis`. Got: \"redis://127.0.0.1:9\". Expected: a running Redis server at that URL. Fix: start one (`redis-server --port 6379`, Debian package redis-server) or pass the right URL (redis://host:port)." },
];
