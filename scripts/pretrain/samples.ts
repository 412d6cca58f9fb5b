/**
 * What the pretrained model says to the examples' prompts: greedy and sampled completions, and
 * counts of the behaviours GRPO later works with (replies that end with `<|im_end|>`, calculator
 * tool calls in the library's syntax, the spread of replies across samples).
 */
import { Rng } from "../../src/core/rng.js";
import { evaluateArithmetic, parseToolCalls } from "../../src/core/tools.js";
import type { ChatMessage } from "../../src/core/policy.js";
import { generate } from "../../src/model/generate.js";
import type { ChatTokenizer } from "../../src/model/tokenizer.js";
import type { Transformer } from "../../src/model/transformer.js";
import { SYSTEM_PROMPTS } from "../corpus/generate.js";
import type { CopyProbeResult, InductionProbeResult } from "./copy-probe.js";

/** A prompt of one of the examples: a system prompt and the user's first message. */
export interface ExamplePrompt {
  /** The example (and what it tests). */
  name: string;
  system: string;
  user: string;
}

/** The first turn of each example's scenario (quick start, customer service, tutoring, planning, tool agent). */
export const EXAMPLE_PROMPTS: readonly ExamplePrompt[] = [
  { name: "quick_start", system: SYSTEM_PROMPTS.assistant, user: "Hi! Can you help me?" },
  { name: "quick_start (advice)", system: SYSTEM_PROMPTS.assistant, user: "I need advice on learning Python." },
  { name: "customer_service_agent", system: SYSTEM_PROMPTS.customerService, user: "My device isn't working properly." },
  { name: "tutoring_agent", system: SYSTEM_PROMPTS.tutor, user: "How do I solve 3x + 5 = 20?" },
  { name: "task planning", system: SYSTEM_PROMPTS.travelPlanner, user: "Help me plan a vacation." },
  { name: "tool_agent", system: SYSTEM_PROMPTS.calculator, user: "What is 37 * 12?" },
];

/**
 * Arithmetic questions (not copied from the corpus) asked with the two tool-using system prompts,
 * to count how often the model calls the calculator, and with the right expression.
 */
export const ARITHMETIC_QUESTIONS: readonly { user: string; expression: string }[] = [
  { user: "What is 37 * 12?", expression: "37 * 12" },
  { user: "What's 845 - 296?", expression: "845 - 296" },
  { user: "Could you work out (18 + 7) * 3?", expression: "(18 + 7) * 3" },
  { user: "Please compute 924 divided by 28.", expression: "924 / 28" },
];

/** A prompt as chat messages (system, then user). */
export function promptMessages(prompt: Pick<ExamplePrompt, "system" | "user">): ChatMessage[] {
  return [
    { role: "system", content: prompt.system },
    { role: "user", content: prompt.user },
  ];
}

/** One completion and how it ended. */
export interface Completion {
  /** The text, special tokens dropped. */
  text: string;
  /** Whether the model closed its turn with `<|im_end|>` within the token budget. */
  endedWithEos: boolean;
  /** Tokens generated (EOS included). */
  tokens: number;
}

/** Samples `count` completions of each prompt (one batch); temperature 0 is greedy. */
export async function complete(
  model: Transformer,
  tokenizer: ChatTokenizer,
  prompts: readonly ChatMessage[][],
  options: { count: number; temperature: number; maxNewTokens: number; seed: number },
): Promise<Completion[][]> {
  const promptIds = prompts.flatMap((messages) => {
    const ids = tokenizer.encodeChat(messages, { addGenerationPrompt: true });
    return Array.from({ length: options.count }, () => ids);
  });
  const results = await generate(model, promptIds, {
    maxNewTokens: options.maxNewTokens,
    temperature: options.temperature,
    topK: 0,
    topP: 1,
    eosTokenIds: [tokenizer.eosTokenId],
    rng: Rng.fromSeed(options.seed),
  });
  const completions = results.map((r) => {
    const ended = r.finishReason === "stop" && r.tokenIds[r.tokenIds.length - 1] === tokenizer.eosTokenId;
    return { text: tokenizer.decode(r.tokenIds, { skipSpecialTokens: true }), endedWithEos: ended, tokens: r.tokenIds.length };
  });
  return prompts.map((_, i) => completions.slice(i * options.count, (i + 1) * options.count));
}

/** What a reply to an arithmetic question does with the calculator. */
export type ToolUse = "correct_call" | "wrong_expression" | "malformed_call" | "no_call";

/** Classifies a reply: a well-formed calculator call for the asked expression, another call, a broken block, or none. */
export function classifyToolUse(text: string, expression: string): ToolUse {
  const parsed = parseToolCalls(text);
  if (parsed.calls.length === 0) return parsed.errors.length > 0 ? "malformed_call" : "no_call";
  const call = parsed.calls[0];
  const asked = call.arguments.expression;
  if (call.name !== "calculator" || typeof asked !== "string") return "wrong_expression";
  try {
    return evaluateArithmetic(asked) === evaluateArithmetic(expression) ? "correct_call" : "wrong_expression";
  } catch {
    return "wrong_expression";
  }
}

/** Summary of the model's behaviour on the example prompts. */
export interface BehaviourReport {
  /** Per example prompt: the greedy reply and a few samples. */
  examples: { name: string; system: string; user: string; greedy: Completion; samples: Completion[] }[];
  /** Sampling temperature of `samples` and of the rates below. */
  temperature: number;
  /** Fraction of sampled replies to the example prompts that ended with `<|im_end|>`. */
  eosRate: number;
  /** Distinct sampled replies per example prompt, averaged (out of `samplesPerPrompt`). */
  distinctPerPrompt: number;
  samplesPerPrompt: number;
  /** Arithmetic questions × tool prompts, sampled: how often each kind of tool use occurred. */
  toolUse: Record<ToolUse, number> & { samples: number };
  /** Teacher-forced digit accuracy of the calculator call (absent in logs written before the probe). */
  copyProbe?: CopyProbeResult;
  /**
   * In-context copying in general (`inductionProbe`): repeats of random token runs predicted right
   * (absent in logs from before it was measured).
   */
  inductionProbe?: InductionProbeResult;
}

/**
 * Greedy and sampled replies to {@link EXAMPLE_PROMPTS}, and tool-use counts over
 * {@link ARITHMETIC_QUESTIONS} × the `calculator` and `toolAgent` system prompts.
 */
export async function describeBehaviour(
  model: Transformer,
  tokenizer: ChatTokenizer,
  options: { seed: number; samplesPerPrompt: number; toolSamples: number; temperature: number; maxNewTokens: number },
): Promise<BehaviourReport> {
  const chats = EXAMPLE_PROMPTS.map(promptMessages);
  const greedy = await complete(model, tokenizer, chats, { count: 1, temperature: 0, maxNewTokens: options.maxNewTokens, seed: options.seed });
  const sampled = await complete(model, tokenizer, chats, {
    count: options.samplesPerPrompt,
    temperature: options.temperature,
    maxNewTokens: options.maxNewTokens,
    seed: options.seed + 1,
  });
  const toolPrompts = [SYSTEM_PROMPTS.calculator, SYSTEM_PROMPTS.toolAgent].flatMap((system) =>
    ARITHMETIC_QUESTIONS.map((q) => ({ system, ...q })));
  const toolReplies = await complete(model, tokenizer, toolPrompts.map(promptMessages), {
    count: options.toolSamples,
    temperature: options.temperature,
    maxNewTokens: options.maxNewTokens,
    seed: options.seed + 2,
  });
  const toolUse = { correct_call: 0, wrong_expression: 0, malformed_call: 0, no_call: 0, samples: 0 };
  toolReplies.forEach((replies, i) => {
    for (const reply of replies) {
      toolUse[classifyToolUse(reply.text, toolPrompts[i].expression)]++;
      toolUse.samples++;
    }
  });
  const allSamples = sampled.flat();
  return {
    examples: EXAMPLE_PROMPTS.map((p, i) => ({ ...p, greedy: greedy[i][0], samples: sampled[i] })),
    temperature: options.temperature,
    eosRate: allSamples.filter((c) => c.endedWithEos).length / Math.max(1, allSamples.length),
    distinctPerPrompt: sampled.reduce((n, s) => n + new Set(s.map((c) => c.text)).size, 0) / sampled.length,
    samplesPerPrompt: options.samplesPerPrompt,
    toolUse,
  };
}
