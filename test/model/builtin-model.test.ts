// The shipped built-in policy `builtin:tiny-chat` (models/tiny-chat, made by scripts/pretrain.ts):
// it loads through the registry, its files agree with each other and with the model card's record
// (training_log.json), inference renders chats exactly as pretraining did, greedy generation is
// deterministic and closes its turn, and the held-out perplexity recomputed here from the corpus
// generator matches the card.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage } from "../../src/core/policy.js";
import { builtinChatTemplate, BUILTIN_SPECIAL_TOKENS } from "../../src/model/bpe-trainer.js";
import type { TfPolicy } from "../../src/model/policy.js";
import { loadPolicy, resolveModelFolder } from "../../src/model/registry.js";
import { generateConversation, renderForPretraining, SYSTEM_PROMPTS } from "../../scripts/corpus/generate.js";
import { Rng } from "../../src/core/rng.js";
import { conversationTokens, heldOutIndices, HELD_OUT_EVERY, isHeldOut, makeBatch, RowPacker, windowsOf } from "../../scripts/pretrain/data.js";
import type { TrainingLog } from "../../scripts/pretrain/log.js";
import { copyProbe, copyProbeByPosition, inductionProbe, inductionRows } from "../../scripts/pretrain/copy-probe.js";
import { evaluate } from "../../scripts/pretrain/loop.js";
import { renderModelCard } from "../../scripts/pretrain/card.js";
import { Transformer } from "../../src/model/transformer.js";

const dir = resolveModelFolder("builtin:tiny-chat");
const readJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(dir, name), "utf8"));
const log = readJson("training_log.json") as unknown as TrainingLog;

let policy: TfPolicy;

beforeAll(async () => {
  policy = await loadPolicy("builtin:tiny-chat", { seed: 0 });
});

afterAll(() => {
  policy?.dispose();
});

describe("builtin:tiny-chat files", () => {
  it("is in the HF layout, with a weights file under 20 MB that holds exactly the F32 parameters", () => {
    for (const name of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "README.md"]) {
      expect(statSync(path.join(dir, name)).isFile(), name).toBe(true);
    }
    const bytes = statSync(path.join(dir, "model.safetensors")).size;
    expect(bytes).toBeLessThan(20e6);
    const parameters = policy.model.numParameters();
    expect(parameters).toBe(log.model.parameters);
    // F32 data plus a JSON header of a few kB.
    expect(bytes - 4 * parameters).toBeGreaterThan(0);
    expect(bytes - 4 * parameters).toBeLessThan(16_384);
    expect(bytes).toBe(log.model.fileBytes);
  });

  it("has a config, tokenizer and generation config that agree", () => {
    const config = policy.model.config;
    const tokenizer = policy.tokenizer;
    expect(config.vocabSize).toBe(tokenizer.vocabSize);
    // The built-in special tokens sit right after the 256 bytes, and <|im_end|> ends a turn.
    expect(BUILTIN_SPECIAL_TOKENS.map((t) => tokenizer.tokenToId(t))).toEqual([256, 257, 258]);
    expect(tokenizer.eosTokenId).toBe(tokenizer.tokenToId("<|im_end|>"));
    expect(tokenizer.padTokenId).toBe(tokenizer.tokenToId("<|endoftext|>"));
    expect(config.eosTokenId).toBe(tokenizer.eosTokenId);
    expect(readJson("generation_config.json").eos_token_id).toBe(tokenizer.eosTokenId);
    expect(policy.eosTokenIds).toEqual([tokenizer.eosTokenId]);
    const tokenizerConfig = readJson("tokenizer_config.json");
    expect(tokenizerConfig.chat_template).toBe(builtinChatTemplate);
    expect(tokenizerConfig.model_max_length).toBe(config.nPositions);
    // The card describes this model.
    expect({ nEmbd: config.nEmbd, nLayer: config.nLayer, nHead: config.nHead, nPositions: config.nPositions, vocabSize: config.vocabSize })
      .toEqual({ nEmbd: log.model.nEmbd, nLayer: log.model.nLayer, nHead: log.model.nHead, nPositions: log.model.nPositions, vocabSize: log.model.vocabSize });
    expect(log.quick).toBe(false);
    expect(readFileSync(path.join(dir, "README.md"), "utf8")).toContain(log.command);
  });

  it("splits numbers into digits, so a number is the same tokens in a question and in a calculator call", () => {
    const tok = policy.tokenizer;
    const question = tok.encodeChat([{ role: "user", content: "What is 407 * 38?" }]);
    const call = tok.encode('<tool_call>{"name": "calculator", "arguments": {"expression": "407 * 38"}}</tool_call>');
    const digits = [..."40738"].map((d) => tok.encode(d));
    for (const d of digits) expect(d).toHaveLength(1);
    const digitIds = (ids: number[]) => ids.filter((id) => digits.some((d) => d[0] === id));
    expect(digitIds(question)).toEqual(digits.map((d) => d[0]));
    expect(digitIds(call)).toEqual(digits.map((d) => d[0]));
    expect(tok.decode(call)).toContain('"407 * 38"');
  });

  it("renders a chat at inference exactly as the pretraining text was tokenized", () => {
    // Three held-out conversations of different domains, tool messages included; the toolCalls field
    // is dropped because the corpus already writes each call into the message text.
    const conversations = heldOutIndices(12).map((i) => generateConversation(log.seed, i));
    expect(new Set(conversations.map((c) => c.domain)).size).toBeGreaterThanOrEqual(3);
    for (const conversation of conversations) {
      const messages: ChatMessage[] = conversation.messages.map((m) => ({ role: m.role, content: m.content }));
      const atInference = policy.tokenizer.encodeChat(messages);
      const inPretraining = conversationTokens(policy.tokenizer, conversation, policy.tokenizer.padTokenId);
      expect(atInference).toEqual(inPretraining.slice(0, -1)); // pretraining appends <|endoftext|>
      expect(policy.tokenizer.decode(atInference)).toBe(renderForPretraining(conversation));
    }
  });
});

describe("builtin:tiny-chat model card", () => {
  it("is exactly what renderModelCard makes of the shipped training_log.json", () => {
    expect(renderModelCard(log)).toBe(readFileSync(path.join(dir, "README.md"), "utf8"));
  });
});

describe("builtin:tiny-chat behaviour", () => {
  it("generates greedily the same reply twice, ending with <|im_end|> within maxNewTokens", async () => {
    const conversation: ChatMessage[] = [
      { role: "system", content: SYSTEM_PROMPTS.assistant },
      { role: "user", content: "Hi! Can you help me?" },
    ];
    const options = { temperature: 0, topP: 1, topK: 0, maxNewTokens: 96 };
    const before = tf.memory().numTensors;
    const [first] = await policy.generate([conversation], options);
    policy.reseed(123); // greedy decoding must not depend on the sampling RNG
    const [second] = await policy.generate([conversation], options);
    expect(tf.memory().numTensors).toBe(before);
    expect(second.tokenIds).toEqual(first.tokenIds);
    expect(second.text).toBe(first.text);
    expect(first.finishReason).toBe("stop");
    expect(first.tokenIds.length).toBeLessThanOrEqual(options.maxNewTokens);
    expect(first.tokenIds[first.tokenIds.length - 1]).toBe(policy.tokenizer.eosTokenId);
    expect(first.text.trim().length).toBeGreaterThan(0);
    expect(first.text).not.toMatch(/<\|im_(start|end)\|>/);
  });

  it("reproduces the card's held-out perplexity on the fixed held-out sample, regenerated from the corpus seed", async () => {
    const indices = log.heldOutSample.indices;
    expect(log.corpus.heldOutEvery).toBe(HELD_OUT_EVERY);
    expect(indices).toEqual(heldOutIndices(indices.length));
    expect(indices.every((i) => isHeldOut(i) && i < log.corpus.conversations)).toBe(true);
    const sample = indices.map((i) => {
      const conversation = generateConversation(log.corpus.seed, i);
      return { domain: conversation.domain, tokens: conversationTokens(policy.tokenizer, conversation, policy.tokenizer.padTokenId) };
    });
    const before = tf.memory().numTensors;
    const result = await evaluate(policy.model, sample);
    expect(tf.memory().numTensors).toBe(before);
    expect(result.tokens).toBe(log.heldOutSample.tokens);
    // The sample's own figure, recorded by the run: equal up to float rounding across backends.
    expect(Math.abs(result.perplexity / log.heldOutSample.perplexity - 1)).toBeLessThan(0.01);
    // (The card's headline figure covers 200 held-out conversations; a 24-conversation sample is not
    // expected to match it closely, so the sample is checked against its own recorded figure above.)
    expect(log.heldOut.conversations).toBeGreaterThan(indices.length);
  });

  it("reproduces the card's copy probe: it copies the user's digits into a calculator call", async () => {
    const recorded = log.behaviour.copyProbe;
    expect(recorded, "training_log.json behaviour.copyProbe").toBeDefined();
    const result = await copyProbe(policy.model, policy.tokenizer);
    expect(result.problems).toBe(recorded?.problems);
    expect(result.laterDigits).toBe(recorded?.laterDigits);
    // Greedy argmax counts: equal on the backend that trained it; another backend may flip a near tie.
    expect(Math.abs(result.firstRight - (recorded?.firstRight ?? NaN))).toBeLessThanOrEqual(1);
    expect(Math.abs(result.laterRight - (recorded?.laterRight ?? NaN))).toBeLessThanOrEqual(2);
    // It copies: nearly all later digits right (a uniform guess gets ~1 in 10).
    expect(result.laterRight / result.laterDigits).toBeGreaterThan(0.85);
  });

  it("reproduces the card's induction probe: it copies repeated random token runs in context, far above chance", async () => {
    const recorded = log.behaviour.inductionProbe;
    expect(recorded, "training_log.json behaviour.inductionProbe").toBeDefined();
    const result = await inductionProbe(policy.model, policy.tokenizer);
    expect(result.counted).toBe(recorded?.counted);
    expect(Math.abs(result.right - (recorded?.right ?? NaN))).toBeLessThanOrEqual(2);
    // What the card and docs/copying.md say: about 4 in 10 (a model without the skill gets ~12 of 451).
    expect(result.right / result.counted).toBeGreaterThan(0.3);
  });


  it("builds induction rows whose flagged tokens are exact repeats the tokens before them determine", () => {
    const make = inductionRows(policy.tokenizer);
    const random = Rng.fromSeed(5);
    for (let k = 0; k < 20; k++) {
      const { row, copied } = make(random, 257);
      expect(row).toHaveLength(257);
      expect(copied).toHaveLength(257);
      expect(row.every((id) => !policy.tokenizer.specialTokenIds.includes(id))).toBe(true);
      // A flagged token is the repeat of an unflagged one a run length (6–25) back, and so is the
      // token before it: the context determines it.
      let flagged = 0;
      for (let t = 1; t < row.length; t++) {
        if (!copied[t]) continue;
        flagged++;
        const lengths = Array.from({ length: 20 }, (_, i) => 6 + i).filter((L) => t - 1 - L >= 0);
        expect(lengths.some((L) => row[t - L] === row[t] && row[t - 1 - L] === row[t - 1] && !copied[t - L])).toBe(true);
      }
      expect(flagged / row.length).toBeGreaterThan(0.35); // about half the row is repeats
    }
  });

  it("runs the copy probe on a model whose context is shorter than a probe prompt (the quick preset's), reading the last positions", async () => {
    const short = Transformer.init({ ...policy.model.config, nPositions: 64 }, { seed: 1 });
    try {
      const result = await copyProbe(short, policy.tokenizer);
      expect(result.problems).toBe(40);
      expect(result.laterDigits).toBe(log.behaviour.copyProbe?.laterDigits);
    } finally {
      short.dispose();
    }
  });

  it("breaks the copy probe down by digit place, with the same counts as the probe", async () => {
    const result = await copyProbe(policy.model, policy.tokenizer);
    const { positions, lines } = await copyProbeByPosition(policy.model, policy.tokenizer);
    expect(lines).toHaveLength(40);
    const digitPlaces = [...positions].filter(([place]) => place.startsWith("operand"));
    // Every expression has two operands and one operator; the first digit of operand 1 is the probe's "first digit".
    expect(positions.get("operator")?.[1]).toBe(40);
    expect(positions.get("operand 1, digit 1")).toEqual([result.firstRight, 40]);
    const later = digitPlaces.filter(([place]) => place !== "operand 1, digit 1");
    expect(later.reduce((n, [, [, total]]) => n + total, 0)).toBe(result.laterDigits);
    expect(later.reduce((n, [, [right]]) => n + right, 0)).toBe(result.laterRight);
    // A miss is shown as [predicted≠expected]; a line without misses is the expression itself.
    const misses = lines.join("\n").match(/\[[^\]]*≠[^\]]*\]/g) ?? [];
    const wrong = [...positions.values()].reduce((n, [right, total]) => n + total - right, 0);
    expect(misses.length).toBeGreaterThanOrEqual(wrong);
  });

  it("is a rotary (GPT-NeoX layout) model with a previous-token embedding, as its card says", () => {
    expect(policy.model.config.positionEncoding).toBe("rotary");
    expect(log.model.positionEncoding).toBe("rotary");
    expect(readJson("config.json").model_type).toBe("gpt_neox");
    expect(policy.model.config.previousTokenEmbedding).toBe(true);
    expect(log.model.previousTokenEmbedding).toBe(true);
    expect(readJson("config.json").previous_token_embedding).toBe(true);
  });
});

describe("pretraining data path (scripts/pretrain/data.ts)", () => {
  it("cuts a long sequence into windows that predict every token but the first exactly once", () => {
    const sequence = Array.from({ length: 23 }, (_, i) => 100 + i);
    const windows = windowsOf(sequence, 9); // rows of T = 8 positions
    expect(windows.map((w) => w[0])).toEqual([100, 108, 116]);
    expect(windows.every((w) => w.length <= 9)).toBe(true);
    const targets = windows.flatMap((w) => w.slice(1));
    expect(targets).toEqual(sequence.slice(1));
    expect(windowsOf([1, 2, 3], 9)).toEqual([[1, 2, 3]]);
  });

  it("packs whole conversations into rows that start at a conversation start, deterministically", () => {
    // Conversation i: a start marker (1000 + i) then i % 7 + 2 filler ids; rows of at most 12 tokens.
    const conversations = Array.from({ length: 40 }, (_, i) => [1000 + i, ...Array.from({ length: (i % 7) + 2 }, () => 5)]);
    const pack = (seed: number) => {
      const packer = new RowPacker(conversations.length, (i) => conversations[i], Rng.fromSeed(seed), 8);
      return { rows: Array.from({ length: 30 }, () => packer.nextRow(12)), stats: packer.stats };
    };
    const { rows, stats } = pack(3);
    expect(pack(3).rows).toEqual(rows);
    expect(pack(4).rows).not.toEqual(rows);
    for (const row of rows) {
      expect(row.length).toBeLessThanOrEqual(12);
      expect(row[0]).toBeGreaterThanOrEqual(1000); // every row begins with a conversation
    }
    // Rows hold whole conversations: each start marker is followed by its own full length.
    for (const row of rows) {
      for (let t = 0; t < row.length; t++) {
        if (row[t] < 1000) continue;
        const i = row[t] - 1000;
        expect(row.slice(t, t + conversations[i].length)).toEqual(conversations[i]);
      }
    }
    expect(stats.tokens).toBe(rows.reduce((n, r) => n + r.length, 0));
    expect(stats.padding).toBe(30 * 12 - stats.tokens);
    expect(stats.padding / (30 * 12)).toBeLessThan(0.1); // best-fit filling keeps padding low
  });

  it("lays rows out as shifted inputs and targets with the padding masked out", () => {
    const batch = makeBatch([[7, 8, 9], [4, 5, 6, 7, 8]], 4, 0);
    expect(Array.from(batch.inputIds)).toEqual([7, 8, 0, 0, 4, 5, 6, 7]);
    expect(Array.from(batch.targetIds)).toEqual([8, 9, 0, 0, 5, 6, 7, 8]);
    expect(Array.from(batch.lossMask)).toEqual([1, 1, 0, 0, 1, 1, 1, 1]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 0, 0, 1, 1, 1, 1]);
    expect(batch.targetCount).toBe(6);
  });
});
