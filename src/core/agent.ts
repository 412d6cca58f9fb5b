/**
 * Agents: turn a conversation into messages, ask a {@link Policy} for a reply, and keep what was
 * sampled (token ids, log-probs) on the turn for training.
 *
 * - {@link Agent}: the base class; config, policy resolution, sampling options.
 * - {@link MultiTurnAgent}: system prompt + a memory window of the history + the user input.
 * - {@link ToolAgent}: a MultiTurnAgent that calls tools (`<tool_call>` blocks) and reads the results
 *   before it answers.
 *
 * Agents keep no per-episode state, so one agent can play many episodes at once (the trainer runs a
 * group concurrently so that a batching policy can sample them as one batch).
 */
import { z } from "zod";
import { GrpoError, throwIfAborted } from "./errors.js";
import { parseWith } from "./validation.js";
import type { ChatMessage, Generation, Policy, SamplingOptions } from "./policy.js";
import type { SeedStream } from "./rng.js";
import { ConversationTurn, type ToolResult } from "./trajectory.js";
import { executeToolCall, parseToolCalls, toolSchema, validateTools, type ToolSpec } from "./tools.js";

// ---------------------------------------------------------------------------------------------
// Configuration

/** How an agent talks: its model, prompt, sampling and memory. */
export interface AgentConfig {
  /**
   * Which model to use, resolved by the registered policy resolver (see {@link setPolicyResolver}),
   * e.g. `"builtin:tiny-chat"` or a local Hugging Face-format folder.
   */
  modelName: string;
  /** Sent as the system message before every conversation (default "You are a helpful AI assistant."; "" = none). */
  systemPrompt: string;
  /** Softmax temperature, >= 0 (default 0.8; 0 = greedy). */
  temperature: number;
  /** Nucleus sampling threshold in (0, 1] (default 1 = off). */
  topP: number;
  /** Keep only the topK most likely tokens; integer >= 0 (default 0 = off). */
  topK: number;
  /** The most tokens per reply; integer >= 1 (default 256). */
  maxNewTokens: number;
  /**
   * How many earlier messages (user, assistant and tool turns) the agent sees besides the current
   * input; integer >= 0 (default 10; 0 = only the current input). See {@link MultiTurnAgent}.
   */
  memoryWindow: number;
  /** Seed for the policy's sampler (an integer; default: unseeded). Given to the policy resolver. */
  seed?: number;
  /** Stop strings: generation ends after any of them (kept in the text). */
  stop?: string[];
}

/** What {@link resolveAgentConfig} accepts: `modelName` plus any other fields to override. */
export type AgentConfigInput = Pick<AgentConfig, "modelName"> & Partial<AgentConfig>;

/** The defaults of every optional {@link AgentConfig} field. */
export const AGENT_CONFIG_DEFAULTS = Object.freeze({
  systemPrompt: "You are a helpful AI assistant.",
  temperature: 0.8,
  topP: 1,
  topK: 0,
  maxNewTokens: 256,
  memoryWindow: 10,
});

/** An integer ≥ `min`; every failure (not a number, fractional, too small) reports `message`. */
function integerAtLeast(min: number, message: string) {
  return z.number({ error: message }).int({ error: message }).min(min, { error: message });
}

const agentConfigSchema = z.strictObject({
  modelName: z
    .string({ error: 'a model name string, e.g. "builtin:tiny-chat"' })
    .min(1, { error: 'a non-empty model name, e.g. "builtin:tiny-chat"' }),
  systemPrompt: z.string({ error: "a string (\"\" for no system prompt)" }).default(AGENT_CONFIG_DEFAULTS.systemPrompt),
  temperature: z
    .number({ error: "a number >= 0 (0 = greedy)" })
    .min(0, { error: "a number >= 0 (0 = greedy)" })
    .refine(Number.isFinite, { error: "a finite number >= 0" })
    .default(AGENT_CONFIG_DEFAULTS.temperature),
  topP: z
    .number({ error: "a number in (0, 1]" })
    .gt(0, { error: "a number in (0, 1] (1 = off)" })
    .max(1, { error: "a number in (0, 1] (1 = off)" })
    .default(AGENT_CONFIG_DEFAULTS.topP),
  topK: integerAtLeast(0, "an integer >= 0 (0 = off)")
    .default(AGENT_CONFIG_DEFAULTS.topK),
  maxNewTokens: integerAtLeast(1, "an integer >= 1")
    .default(AGENT_CONFIG_DEFAULTS.maxNewTokens),
  memoryWindow: integerAtLeast(0, "an integer >= 0 (messages remembered; 0 = only the current input)")
    .default(AGENT_CONFIG_DEFAULTS.memoryWindow),
  seed: z.number({ error: "an integer" }).int({ error: "an integer" }).optional(),
  stop: z
    .array(z.string({ error: "a stop string" }).min(1, { error: "a non-empty stop string" }), {
      error: "an array of strings",
    })
    .optional(),
});

/**
 * Fills in the defaults of an agent config and checks every field; throws a GrpoError
 * "invalid_config" naming the field (e.g. `AgentConfig.topP`) and the valid range. Unknown keys are
 * errors too (snake_case names from the Python guide are reported with their camelCase spelling).
 */
export function resolveAgentConfig(input: AgentConfigInput): AgentConfig {
  if (input !== null && typeof input === "object") {
    const unknown = Object.keys(input).find((key) => !(key in agentConfigSchema.shape));
    if (unknown !== undefined) {
      const camel = unknown.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      const known = camel in agentConfigSchema.shape;
      throw new GrpoError("invalid_config", `Unknown AgentConfig option "${unknown}".`, {
        field: `AgentConfig.${unknown}`,
        value: (input as Record<string, unknown>)[unknown],
        expected: `one of ${Object.keys(agentConfigSchema.shape).join(", ")}`,
        fix: known ? `rename \`${unknown}\` to \`${camel}\` (options are camelCase).` : "remove it or check its spelling.",
      });
    }
  }
  return parseWith(agentConfigSchema, input ?? {}, {
    root: "AgentConfig",
    code: "invalid_config",
    fix: (field) => `set ${field} to a valid value or leave it out for the default.`,
  });
}

// ---------------------------------------------------------------------------------------------
// Resolving a model name into a policy

/**
 * Turns an agent config into a policy (loads the model `config.modelName`). Resolves to null or
 * undefined when it does not know the name.
 */
export type PolicyResolver = (config: AgentConfig) => Promise<Policy | null | undefined>;

let policyResolver: PolicyResolver | undefined;

/**
 * Registers how `Agent.initialize()` turns a model name into a policy (the model module registers
 * the TensorFlow.js one). Pass undefined to unregister. Returns the resolver it replaced.
 */
export function setPolicyResolver(resolver: PolicyResolver | undefined): PolicyResolver | undefined {
  if (resolver !== undefined && typeof resolver !== "function") {
    throw new GrpoError("invalid_argument", "A policy resolver must be a function.", {
      field: "setPolicyResolver(resolver)",
      value: resolver,
      expected: "async (config) => Policy | null",
    });
  }
  const previous = policyResolver;
  policyResolver = resolver;
  return previous;
}

/** The registered policy resolver, if any. */
export function getPolicyResolver(): PolicyResolver | undefined {
  return policyResolver;
}

function modelNotFound(modelName: string, reason: string, cause?: unknown): GrpoError {
  return new GrpoError("model_not_found", `Cannot load model "${modelName}": ${reason}`, {
    field: "AgentConfig.modelName",
    value: modelName,
    expected: 'a name the model registry resolves ("builtin:<name>" or a local Hugging Face-format model folder)',
    fix: "check the name, or pass a ready policy: `new MultiTurnAgent(config, { policy })`.",
    cause,
  });
}

// ---------------------------------------------------------------------------------------------
// Agent

/** Options of an {@link Agent} besides its config. */
export interface AgentOptions {
  /** Use this policy instead of resolving `config.modelName`. */
  policy?: Policy;
}

/** Options of one agent turn. */
export interface TurnOptions {
  /** Stops generation (and the tool loop) when aborted. */
  signal?: AbortSignal;
  /** Overrides a {@link ToolAgent}'s `maxToolRounds` for this response (other agents ignore it). */
  maxToolRounds?: number;
  /**
   * The episode's sampling seeds (set by the episode runner): each generate call takes the next one
   * as `SamplingOptions.seed`, so the episode samples the same whatever it is batched with. An agent
   * that calls its policy itself should do the same (`seed: options.seeds?.next()`); a call without
   * a seed samples from the policy's own RNG in batch order.
   */
  seeds?: SeedStream;
}

/** A message as the guide's `generate_response` takes it. */
export interface MessageInput {
  role: ChatMessage["role"];
  content: string;
}

/** The base of every agent. Subclasses implement {@link Agent.processTurn}. */
export abstract class Agent {
  /** The resolved configuration. */
  readonly config: AgentConfig;
  /** The model the agent samples from (set by the options or by `initialize()`). */
  policy?: Policy;
  private initialized = false;

  constructor(config: AgentConfigInput, options: AgentOptions = {}) {
    this.config = resolveAgentConfig(config);
    if (options?.policy !== undefined) this.policy = checkPolicy(options.policy, "options.policy");
  }

  /**
   * Makes the agent ready: uses the policy given in the options (or assigned to `agent.policy`);
   * otherwise resolves `config.modelName` through the registered resolver. Fails with a GrpoError
   * "model_not_found" when no resolver is registered or it does not know the name.
   */
  async initialize(): Promise<void> {
    if (this.policy === undefined) {
      const resolver = policyResolver;
      if (resolver === undefined) {
        throw modelNotFound(this.config.modelName, "no model loader is registered.");
      }
      let policy: Policy | null | undefined;
      try {
        policy = await resolver(this.config);
      } catch (error) {
        if (error instanceof GrpoError) throw error;
        throw modelNotFound(this.config.modelName, (error as Error)?.message ?? String(error), error);
      }
      if (policy === null || policy === undefined) throw modelNotFound(this.config.modelName, "unknown model name.");
      this.policy = checkPolicy(policy, "the resolved policy");
    }
    this.initialized = true;
  }

  /** True once `initialize()` has succeeded. */
  get isInitialized(): boolean {
    return this.initialized && this.policy !== undefined;
  }

  /** The policy, or a "not_initialized" error when `initialize()` has not been awaited. */
  protected requirePolicy(): Policy {
    if (!this.isInitialized || this.policy === undefined) {
      throw new GrpoError("not_initialized", `${this.constructor.name} is not initialized.`, {
        fix: "call `await agent.initialize()` before using the agent.",
      });
    }
    return this.policy;
  }

  /**
   * Produces the agent's next turn. `history` is the conversation so far; `userInput` the user's
   * latest message (it may already be the last turn of `history`); `context` the environment's
   * state context.
   */
  abstract processTurn(
    history: ConversationTurn[],
    userInput?: string,
    context?: Record<string, unknown>,
    options?: TurnOptions,
  ): Promise<ConversationTurn>;

  /**
   * Everything the agent says in answer to `userInput`: by default one turn (`processTurn`); a
   * {@link ToolAgent} returns its tool rounds too. The last assistant turn is the agent's action.
   */
  async respond(
    history: ConversationTurn[],
    userInput?: string,
    context?: Record<string, unknown>,
    options: TurnOptions = {},
  ): Promise<ConversationTurn[]> {
    throwIfAborted(options.signal, "The agent turn");
    return [await this.processTurn(history, userInput, context, options)];
  }

  /** The sampling options of this agent's generate calls (from its config). */
  sampling(): SamplingOptions {
    const options: SamplingOptions = {
      temperature: this.config.temperature,
      topP: this.config.topP,
      topK: this.config.topK,
      maxNewTokens: this.config.maxNewTokens,
    };
    if (this.config.stop !== undefined) options.stop = [...this.config.stop];
    return options;
  }

  /** The system message, or none when the system prompt is empty. */
  protected systemMessages(): ChatMessage[] {
    return this.config.systemPrompt === "" ? [] : [{ role: "system", content: this.config.systemPrompt }];
  }

  /**
   * One completion for a plain message list (the guide's `generate_response`): the system prompt is
   * prepended unless the list starts with its own system message. Resolves to the reply text.
   */
  async generateResponse(messages: MessageInput[], options: TurnOptions = {}): Promise<string> {
    const policy = this.requirePolicy();
    if (!Array.isArray(messages) || messages.some((m) => typeof m?.content !== "string" || typeof m?.role !== "string")) {
      throw new GrpoError("invalid_argument", "generateResponse needs a list of messages.", {
        field: "messages",
        value: messages,
        expected: '[{ role: "user", content: "Hello!" }]',
      });
    }
    const own: ChatMessage[] = messages.map((m) => ({ role: m.role, content: m.content }));
    const full = own[0]?.role === "system" ? own : [...this.systemMessages(), ...own];
    const [generation] = await generateOne(policy, full, this.sampling(), options);
    return generation.text;
  }
}

function checkPolicy(policy: Policy, where: string): Policy {
  if (policy === null || typeof policy !== "object" || typeof policy.generate !== "function") {
    throw new GrpoError("invalid_argument", "Not a policy.", {
      field: where,
      value: policy,
      expected: "an object with `generate(conversations, options)` (see the Policy interface)",
    });
  }
  return policy;
}

/** One completion for `messages`, with the turn's signal and the episode's next seed (when given). */
async function generateOne(policy: Policy, messages: ChatMessage[], sampling: SamplingOptions, turn: TurnOptions): Promise<Generation[]> {
  const options: SamplingOptions = { ...sampling };
  if (turn.signal !== undefined) options.signal = turn.signal;
  if (turn.seeds !== undefined) options.seed = turn.seeds.next();
  const generations = await policy.generate([messages], options);
  if (!Array.isArray(generations) || generations.length !== 1 || typeof generations[0]?.text !== "string") {
    throw new GrpoError("invalid_model", `Policy "${policy.name}" returned no completion.`, {
      value: generations,
      expected: "one Generation per conversation",
    });
  }
  return generations;
}

// ---------------------------------------------------------------------------------------------
// MultiTurnAgent

/** A history turn as a chat message. Assistant turns keep their raw text (tool-call blocks included). */
export function turnToMessage(turn: ConversationTurn): ChatMessage {
  const message: ChatMessage = { role: turn.role, content: turn.content };
  if (turn.role === "tool") {
    const name = (turn.metadata.name as string | undefined) ?? turn.toolResults[0]?.name;
    if (name !== undefined) message.name = name;
  }
  return message;
}

/**
 * The messages the policy sees for one turn:
 *
 * 1. the system prompt (history's own system turns are dropped: the agent's prompt is used);
 * 2. the last `memoryWindow` earlier messages (user, assistant and tool turns);
 * 3. the current input, always kept: with `userInput` given, that user message (taken from the end of
 *    `history` when the last turn is a user turn with exactly this text, else appended); without it,
 *    the last user turn of `history` and the agent's own turns after it (its tool rounds).
 */
export function buildMessages(
  systemMessages: ChatMessage[],
  history: ConversationTurn[],
  userInput: string | undefined,
  memoryWindow: number,
): ChatMessage[] {
  const turns = history.filter((t) => t.role !== "system");
  let earlier: ConversationTurn[];
  let current: ChatMessage[];
  if (userInput !== undefined) {
    const last = turns[turns.length - 1];
    const alreadyThere = last?.role === "user" && last.content === userInput;
    earlier = alreadyThere ? turns.slice(0, -1) : turns;
    current = [{ role: "user", content: userInput }];
  } else {
    let lastUser = -1;
    for (let i = turns.length - 1; i >= 0; i--) {
      if (turns[i].role === "user") {
        lastUser = i;
        break;
      }
    }
    earlier = lastUser >= 0 ? turns.slice(0, lastUser) : [];
    current = (lastUser >= 0 ? turns.slice(lastUser) : turns).map(turnToMessage);
  }
  const remembered = memoryWindow > 0 ? earlier.slice(-memoryWindow) : [];
  return [...systemMessages, ...remembered.map(turnToMessage), ...current];
}

/**
 * The standard conversational agent. `processTurn` sends {@link buildMessages}(system prompt,
 * last `memoryWindow` messages, current input) to the policy and returns an assistant turn with the
 * sampled tokens in `generation` and `{ modelName, finishReason, turnIndex }` in `metadata`
 * (`turnIndex` = how many assistant turns came before it). Subclass it and extend `turn.metadata`
 * to add your own state (the guide's CustomAgent).
 */
export class MultiTurnAgent extends Agent {
  /** One assistant turn for the current input (see the class description for what the policy sees). */
  override async processTurn(
    history: ConversationTurn[],
    userInput?: string,
    context?: Record<string, unknown>,
    options: TurnOptions = {},
  ): Promise<ConversationTurn> {
    const policy = this.requirePolicy();
    if (!Array.isArray(history) || !history.every((t) => t instanceof ConversationTurn)) {
      throw new GrpoError("invalid_argument", "The history must be a list of ConversationTurn objects.", {
        field: "history",
        expected: 'an array of `new ConversationTurn({ role: "user", content: "..." })` ([] for none)',
      });
    }
    if (userInput !== undefined && typeof userInput !== "string") {
      throw new GrpoError("invalid_argument", "The user input must be text.", {
        field: "userInput",
        value: userInput,
        expected: "a string, or undefined",
      });
    }
    throwIfAborted(options.signal, "The agent turn");
    const messages = buildMessages(this.systemMessages(), history, userInput, this.config.memoryWindow);
    const [generation] = await generateOne(policy, messages, this.sampling(), options);
    const turnIndex = history.filter((t) => t.role === "assistant").length;
    return new ConversationTurn({
      role: "assistant",
      content: generation.text,
      generation: {
        promptTokenIds: generation.promptTokenIds,
        tokenIds: generation.tokenIds,
        logprobs: generation.logprobs,
        finishReason: generation.finishReason,
      },
      metadata: { modelName: this.config.modelName, finishReason: generation.finishReason, turnIndex },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// ToolAgent

/** Options of a {@link ToolAgent}. */
export interface ToolAgentOptions extends AgentOptions {
  /** The tools the agent may call (names unique). */
  tools: ToolSpec[];
  /** The most rounds of tool execution per response; integer >= 0 (default 3). */
  maxToolRounds?: number;
  /** Milliseconds one tool call may take (default 5000). */
  toolTimeoutMs?: number;
  /** The longest tool output shown to the model, in characters (default 2000). */
  maxToolOutputChars?: number;
  /**
   * Pass the tools' schemas to the chat template (default true), which lists them in the system
   * block. Set false when the system prompt already describes the tools in the words the model was
   * trained on (the built-in model saw tool use only through its system prompts).
   */
  advertiseTools?: boolean;
}

const toolAgentOptionsSchema = z.object({
  tools: z.array(z.unknown(), { error: "an array of { name, description, function }" }),
  maxToolRounds: integerAtLeast(0, "an integer >= 0").default(3),
  toolTimeoutMs: z.number({ error: "a number of milliseconds > 0" }).positive({ error: "a number of milliseconds > 0" }).default(5000),
  maxToolOutputChars: integerAtLeast(1, "an integer >= 1").default(2000),
  advertiseTools: z.boolean({ error: "true or false" }).default(true),
  policy: z.unknown().optional(),
});

/** The text a model reads when its tool-call block could not be parsed. */
function parseErrorResult(message: string, index: number): ToolResult {
  return { toolCallId: `invalid_${index}`, name: "invalid_tool_call", content: `Error: ${message}`, isError: true };
}

function toolTurn(result: ToolResult): ConversationTurn {
  return new ConversationTurn({
    role: "tool",
    content: result.content,
    toolResults: [result],
    metadata: { name: result.name, toolCallId: result.toolCallId, isError: result.isError },
  });
}

/**
 * An agent that can call tools. Its sampling advertises the tools (`SamplingOptions.tools`);
 * `processTurn` returns one assistant turn whose `toolCalls` are parsed from the reply (the content
 * keeps the raw text; malformed blocks are listed in `metadata.toolCallErrors`). `respond` loops:
 * reply -> execute its calls (results on the assistant turn's `toolResults` and one `tool` turn per
 * result; a malformed block gets a tool turn with an error text) -> reply again with the results in
 * view -> … until a reply makes no calls or `maxToolRounds` rounds ran (a last reply that still asks
 * for tools is returned unexecuted, with `metadata.toolRoundsExhausted = true`).
 */
export class ToolAgent extends MultiTurnAgent {
  /** The validated tools. */
  readonly tools: ToolSpec[];
  /** The most rounds of tool execution per response. */
  readonly maxToolRounds: number;
  /** Milliseconds one tool call may take. */
  readonly toolTimeoutMs: number;
  /** The longest tool output shown to the model. */
  readonly maxToolOutputChars: number;
  /** Whether the chat template lists the tools (see {@link ToolAgentOptions.advertiseTools}). */
  readonly advertiseTools: boolean;

  constructor(config: AgentConfigInput, options: ToolAgentOptions) {
    const opts = parseWith(toolAgentOptionsSchema, options ?? {}, {
      root: "ToolAgent options",
      code: "invalid_config",
      fix: "pass `new ToolAgent(config, { tools: [{ name, description, function }] })`.",
    });
    super(config, options?.policy !== undefined ? { policy: options.policy } : {});
    this.tools = validateTools(opts.tools as ToolSpec[]);
    this.maxToolRounds = opts.maxToolRounds;
    this.toolTimeoutMs = opts.toolTimeoutMs;
    this.maxToolOutputChars = opts.maxToolOutputChars;
    this.advertiseTools = opts.advertiseTools;
  }

  /** The config's sampling options plus the tools' schemas (`SamplingOptions.tools`) when advertised. */
  override sampling(): SamplingOptions {
    return this.advertiseTools ? { ...super.sampling(), tools: this.tools.map(toolSchema) } : super.sampling();
  }

  /** One assistant turn with its `toolCalls` parsed (nothing is executed here; see `respond`). */
  override async processTurn(
    history: ConversationTurn[],
    userInput?: string,
    context?: Record<string, unknown>,
    options: TurnOptions = {},
  ): Promise<ConversationTurn> {
    const turn = await super.processTurn(history, userInput, context, options);
    const parsed = parseToolCalls(turn.content);
    turn.toolCalls = parsed.calls;
    if (parsed.errors.length > 0) turn.metadata.toolCallErrors = parsed.errors;
    return turn;
  }

  /** The reply plus its tool rounds: assistant, tool…, assistant, … (the last assistant turn is the action). */
  override async respond(
    history: ConversationTurn[],
    userInput?: string,
    context?: Record<string, unknown>,
    options: TurnOptions = {},
  ): Promise<ConversationTurn[]> {
    const produced: ConversationTurn[] = [];
    const working = [...history];
    // Later rounds pass no userInput, so the user's message must be in the working history.
    const last = working[working.length - 1];
    const inputIsLast = last?.role === "user" && last.content === userInput;
    if (userInput !== undefined && !inputIsLast) working.push(new ConversationTurn({ role: "user", content: userInput }));

    const maxToolRounds = options.maxToolRounds ?? this.maxToolRounds;
    for (let round = 0; ; round++) {
      throwIfAborted(options.signal, "The agent turn");
      const turn = await this.processTurn(working, round === 0 ? userInput : undefined, context, options);
      produced.push(turn);
      working.push(turn);
      const errors = (turn.metadata.toolCallErrors ?? []) as { message: string }[];
      if (turn.toolCalls.length === 0 && errors.length === 0) break;
      if (round >= maxToolRounds) {
        turn.metadata.toolRoundsExhausted = true;
        break;
      }
      throwIfAborted(options.signal, "The agent turn");
      const results = await Promise.all(
        turn.toolCalls.map((call) =>
          executeToolCall(call, this.tools, { timeoutMs: this.toolTimeoutMs, maxOutputChars: this.maxToolOutputChars }),
        ),
      );
      const errorResults = errors.map((e, i) => parseErrorResult(e.message, i));
      turn.toolResults = [...results, ...errorResults];
      const toolTurns = turn.toolResults.map(toolTurn);
      produced.push(...toolTurns);
      working.push(...toolTurns);
    }
    return produced;
  }
}
