/**
 * `demoModel()`: a tiny chat model the tutorial notebooks build for themselves, so they run offline
 * in seconds: a byte-level BPE tokenizer trained on a small built-in chat corpus, the built-in
 * ChatML template, and a small GPT-2 briefly pretrained on that corpus (so replies are words, not
 * random bytes; a few hundred steps cannot make it smart, which is what GRPO is for).
 *
 * The folder is cached (`~/.cache/grpo-agent-framework/demo-models/…`, or `GRPO_CACHE_DIR`), keyed
 * by the options, and written atomically, so notebooks that share a seed share one build. The same
 * seed gives the same weights on every machine (seeded init, deterministic data order).
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import type { ChatMessage } from "../src/core/policy.js";
import { Rng } from "../src/core/rng.js";
import { parseWith } from "../src/core/validation.js";
import { selectBackend } from "../src/model/backend.js";
import { BUILTIN_SPECIAL_TOKENS, builtinTokenizerConfig, trainBPE } from "../src/model/bpe-trainer.js";
import type { ModelConfig } from "../src/model/config.js";
import { ChatTokenizer } from "../src/model/tokenizer.js";
import { Transformer } from "../src/model/transformer.js";
import { saveModelFolder, type ParameterMap } from "../src/model/weights.js";

/** Options of {@link demoModel}. */
export interface DemoModelOptions {
  /** Seed of the weight init and the data order (default 0). */
  seed?: number;
  /** Pretraining steps on the demo corpus (default 200; 0 = random weights), ~0.1 s each. */
  pretrainSteps?: number;
  /** Where built models are cached (default `$GRPO_CACHE_DIR` or `~/.cache/grpo-agent-framework`). */
  cacheDir?: string;
}

const optionsSchema = z.strictObject({
  seed: z.number().int().min(0).optional(),
  pretrainSteps: z.number().int().min(0).max(5000).optional(),
  cacheDir: z.string().min(1).optional(),
});

/** The tool-call text the demo corpus teaches (the syntax `parseToolCalls` reads). */
function calc(expression: string): string {
  return `<tool_call>{"name": "calculator", "arguments": {"expression": "${expression}"}}</tool_call>`;
}

const SYSTEM = "You are a helpful AI assistant.";
const TOOL_SYSTEM = "You are a helpful assistant. Use the calculator for arithmetic.";

/**
 * The demo corpus: short conversations in the guide's themes (learning Python, a broken device,
 * thanks, arithmetic with a calculator tool). Replies vary in quality on purpose, so sampled groups
 * differ and GRPO has something to prefer.
 */
export const DEMO_CONVERSATIONS: readonly ChatMessage[][] = [
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Hi! Can you help me?" }, { role: "assistant", content: "Yes, I can help you. What do you need?" },
    { role: "user", content: "I need advice on learning Python." }, { role: "assistant", content: "Start with small programs and practice every day." },
    { role: "user", content: "Thank you for the suggestions!" }, { role: "assistant", content: "You are welcome, good luck!" }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Hi! Can you help me?" }, { role: "assistant", content: "Sure. Tell me more." },
    { role: "user", content: "I need advice on learning Python." }, { role: "assistant", content: "Read the Python tutorial, then write a small project." },
    { role: "user", content: "Thank you for the suggestions!" }, { role: "assistant", content: "Happy to help." }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Hello! How are you?" }, { role: "assistant", content: "I am well, thank you. How can I help you today?" }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Hi! Can you help me?" }, { role: "assistant", content: "no" },
    { role: "user", content: "I need advice on learning Python." }, { role: "assistant", content: "maybe later" }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "My device isn't working properly." }, { role: "assistant", content: "I am sorry to hear that. Have you tried restarting it?" },
    { role: "user", content: "I've tried restarting it." }, { role: "assistant", content: "Then check the cable and the power supply." },
    { role: "user", content: "That didn't help either." }, { role: "assistant", content: "Please contact support, they can replace it." }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "My device isn't working properly." }, { role: "assistant", content: "Restart it." },
    { role: "user", content: "I've tried restarting it." }, { role: "assistant", content: "ok" }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Can you explain what a function is?" }, { role: "assistant", content: "A function is a named block of code that you can call with arguments." },
    { role: "user", content: "Thank you!" }, { role: "assistant", content: "You are welcome!" }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "I need advice on learning Python." }, { role: "assistant", content: "Python is great. Practice with small exercises and read other people's code." }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Thank you for the suggestions!" }, { role: "assistant", content: "Glad I could help. Good luck with your project!" }],
  [{ role: "system", content: SYSTEM }, { role: "user", content: "Hi! Can you help me?" }, { role: "assistant", content: "Of course! I am happy to help you learn." }],
  [{ role: "system", content: TOOL_SYSTEM }, { role: "user", content: "What is 2 + 3?" }, { role: "assistant", content: calc("2 + 3") },
    { role: "tool", content: "5", name: "calculator" }, { role: "assistant", content: "The answer is 5." }],
  [{ role: "system", content: TOOL_SYSTEM }, { role: "user", content: "What is 12 * 4?" }, { role: "assistant", content: calc("12 * 4") },
    { role: "tool", content: "48", name: "calculator" }, { role: "assistant", content: "12 * 4 = 48." }],
  [{ role: "system", content: TOOL_SYSTEM }, { role: "user", content: "What is 7 + 8?" }, { role: "assistant", content: "The answer is 14." }],
  [{ role: "system", content: TOOL_SYSTEM }, { role: "user", content: "What is 9 - 4?" }, { role: "assistant", content: calc("9 - 4") },
    { role: "tool", content: "5", name: "calculator" }, { role: "assistant", content: "9 - 4 is 5." }],
  [{ role: "system", content: TOOL_SYSTEM }, { role: "user", content: "What is 6 * 7?" }, { role: "assistant", content: "Let me use the calculator. " + calc("6 * 7") },
    { role: "tool", content: "42", name: "calculator" }, { role: "assistant", content: "The answer is 42." }],
  [{ role: "system", content: TOOL_SYSTEM }, { role: "user", content: "What is 3 + 3?" }, { role: "assistant", content: "6" }],
  ...arithmeticConversations(),
];

/** More calculator dialogues (question, call, result, answer), so the tiny model picks up the call syntax. */
function arithmeticConversations(): ChatMessage[][] {
  const problems: Array<[number, string, number, number]> = [
    [3, "+", 4, 7], [8, "*", 3, 24], [15, "-", 6, 9], [2, "*", 9, 18], [10, "+", 11, 21], [7, "*", 5, 35], [20, "-", 8, 12], [6, "+", 9, 15],
  ];
  return problems.map(([a, op, b, answer]) => [
    { role: "system", content: TOOL_SYSTEM },
    { role: "user", content: `What is ${a} ${op} ${b}?` },
    { role: "assistant", content: calc(`${a} ${op} ${b}`) },
    { role: "tool", content: String(answer), name: "calculator" },
    { role: "assistant", content: `The answer is ${answer}.` },
  ]);
}

/** The model size of the demo (0.1 M parameters; 256 positions fit a tool prompt and a few turns). */
function demoConfig(tokenizer: ChatTokenizer): ModelConfig {
  return {
    vocabSize: tokenizer.vocabSize,
    nPositions: 256,
    nEmbd: 48,
    nLayer: 2,
    nHead: 4,
    nInner: 192,
    layerNormEpsilon: 1e-5,
    tieWordEmbeddings: true,
    eosTokenId: tokenizer.eosTokenId,
  };
}

function defaultCacheDir(): string {
  const fromEnv = process.env.GRPO_CACHE_DIR;
  if (fromEnv) return fromEnv;
  const home = homedir();
  return home ? path.join(home, ".cache", "grpo-agent-framework") : path.join(tmpdir(), "grpo-agent-framework");
}

/** Renders a corpus conversation as the model will see it (tools advertised where it uses them). */
function render(tokenizer: ChatTokenizer, conversation: ChatMessage[]): string {
  return tokenizer.applyChatTemplate(conversation, conversation[0].content === TOOL_SYSTEM ? { tools: [CALCULATOR_SCHEMA] } : {});
}

/**
 * Trains the demo tokenizer on the rendered corpus (so template markup and the tool header become
 * few tokens). Rendering needs a tokenizer with the template: a byte-level one serves.
 */
function demoTokenizer(): ChatTokenizer {
  const config = builtinTokenizerConfig({ modelMaxLength: 256 });
  const bytesOnly = ChatTokenizer.fromJSON(trainBPE([""], { vocabSize: 260, specialTokens: [...BUILTIN_SPECIAL_TOKENS] }), config);
  const texts = DEMO_CONVERSATIONS.map((c) => render(bytesOnly, c));
  const json = trainBPE([...texts, ...texts.map((t) => t.toLowerCase())], { vocabSize: 700, specialTokens: [...BUILTIN_SPECIAL_TOKENS] });
  return ChatTokenizer.fromJSON(json, config);
}

/** The calculator as the chat template advertises it (so pretraining sees the prompt ToolAgent builds). */
const CALCULATOR_SCHEMA = {
  name: "calculator",
  description: "Evaluate an arithmetic expression",
  parameters: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] },
};

/** Tokens per pretraining window and windows per step (nanoGPT's block size and batch size). */
const WINDOW = 64;
const WINDOWS_PER_STEP = 8;

/**
 * The corpus as one token stream, and a loss mask that is 1 on assistant replies (their text and
 * closing EOS): the model should learn to answer, not to recite system prompts. Reply tokens are
 * found by rendering each prefix with the generation prompt (ChatML prefixes are stable).
 */
function corpusStream(tokenizer: ChatTokenizer): { stream: number[]; lossMask: number[] } {
  const stream: number[] = [];
  const lossMask: number[] = [];
  for (const conversation of DEMO_CONVERSATIONS) {
    const tools = conversation[0].content === TOOL_SYSTEM ? { tools: [CALCULATOR_SCHEMA] } : {};
    const ids = tokenizer.encodeChat(conversation, tools);
    const mask = new Array<number>(ids.length).fill(0);
    conversation.forEach((m, i) => {
      if (m.role !== "assistant") return;
      const start = tokenizer.encodeChat(conversation.slice(0, i), { ...tools, addGenerationPrompt: true }).length;
      const end = tokenizer.encodeChat(conversation.slice(0, i + 1), tools).length;
      for (let t = start; t < end - 1; t++) mask[t] = 1; // the reply and its EOS, not the trailing newline
    });
    stream.push(...ids);
    lossMask.push(...mask);
  }
  return { stream, lossMask };
}

/**
 * Next-token pretraining, nanoGPT style: the corpus (each conversation as the chat template renders
 * it, tools advertised where the conversation uses them) is one token stream; each step trains on
 * WINDOWS_PER_STEP random windows of WINDOW tokens with Adam. Short windows keep a step ~0.1 s.
 */
async function pretrain(model: Transformer, tokenizer: ChatTokenizer, steps: number, seed: number): Promise<void> {
  const { stream, lossMask } = corpusStream(tokenizer);
  const rng = Rng.fromSeed(seed);
  const optimizer = tf.train.adam(3e-3);
  try {
    for (let step = 0; step < steps; step++) {
      const inputs = new Int32Array(WINDOWS_PER_STEP * WINDOW);
      const targets = new Int32Array(WINDOWS_PER_STEP * WINDOW);
      const mask = new Float32Array(WINDOWS_PER_STEP * WINDOW);
      for (let b = 0; b < WINDOWS_PER_STEP; b++) {
        const start = rng.int(stream.length - WINDOW - 1);
        for (let t = 0; t < WINDOW; t++) {
          inputs[b * WINDOW + t] = stream[start + t];
          targets[b * WINDOW + t] = stream[start + t + 1]; // the next token
          mask[b * WINDOW + t] = lossMask[start + t + 1];
        }
      }
      tf.tidy(() => {
        const inputIds = tf.tensor2d(inputs, [WINDOWS_PER_STEP, WINDOW], "int32"); // [B, T]
        const targetIds = tf.tensor2d(targets, [WINDOWS_PER_STEP, WINDOW], "int32"); // [B, T]
        const lossMaskT = tf.tensor2d(mask, [WINDOWS_PER_STEP, WINDOW]); // [B, T]
        const count = Math.max(1, mask.reduce((a, v) => a + v, 0));
        optimizer.minimize(() => tf.div(tf.neg(tf.sum(tf.mul(model.tokenLogprobs(inputIds, targetIds), lossMaskT))), count) as tf.Scalar,
          false, Object.values(model.params));
      });
      if (step % 20 === 19) await new Promise((resolve) => setImmediate(resolve)); // let I/O through
    }
  } finally {
    optimizer.dispose();
  }
}

/**
 * Builds (or reuses from the cache) the tiny demo chat model and returns its folder, ready for
 * `new MultiTurnAgent({ modelName: await demoModel() })`. The tutorials call it in their first
 * cell; swap it for `"builtin:tiny-chat"` to use the shipped pretrained model instead.
 */
export async function demoModel(options: DemoModelOptions = {}): Promise<string> {
  const o = parseWith(optionsSchema, options, { root: "demoModel options", code: "invalid_argument", fix: "pass `{ seed?, pretrainSteps?, cacheDir? }`." });
  const seed = o.seed ?? 0;
  const steps = o.pretrainSteps ?? 200;
  const dir = path.join(o.cacheDir ?? defaultCacheDir(), "demo-models", `demo-v1-seed${seed}-steps${steps}`);
  if (existsSync(path.join(dir, "config.json"))) return dir;

  await selectBackend();
  const tokenizer = demoTokenizer();
  const model = Transformer.init(demoConfig(tokenizer), { seed });
  let tmp: string | undefined;
  try {
    if (steps > 0) await pretrain(model, tokenizer, steps, seed);
    const params: ParameterMap = {};
    for (const [name, v] of Object.entries(model.params)) params[name] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
    tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await mkdir(path.dirname(dir), { recursive: true });
    await saveModelFolder(tmp, model.config, params, { files: { ...tokenizer.toFiles() } });
    try {
      await rename(tmp, dir);
      tmp = undefined;
    } catch (error) {
      // Another process finished the same build first: theirs is identical, keep it.
      if (!existsSync(path.join(dir, "config.json"))) throw error;
    }
  } finally {
    model.dispose();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}
