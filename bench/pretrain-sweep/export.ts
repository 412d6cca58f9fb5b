/**
 * `npm run sweep:export -- [dir]`: writes the token data that `pretrain_sweep.py` trains on (default
 * dir `sweepdata/`, ~32 MB, git-ignored): the corpus's training and held-out conversations, two drill
 * pools and the tool_agent evaluation items, all tokenized with the shipped tokenizer.
 *
 * Files: `<name>.bin` (int16 token ids, concatenated) + `<name>.off` (uint32 offsets, one more than
 * sequences) for train, heldout, heldout_chat (held out, arithmetic left out), drillA (three
 * question → call pairs, calls only) and drillB (the good arithmetic conversations of corpus seed 7);
 * `eval.json` with, per tool_agent probe problem, the prompt, the right call, where its expression
 * starts, the conversation after the tool's result and the result's ids.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { arithmeticProblems } from "../../examples/tool_agent.js";
import { Rng } from "../../src/core/rng.js";
import { evaluateArithmetic, formatNumber } from "../../src/core/tools.js";
import { loadPolicy } from "../../src/model/registry.js";
import { arithmeticCallDrill } from "../../scripts/corpus/domains/arithmetic.js";
import { calculatorCallText, generateCorpus, SYSTEM_PROMPTS } from "../../scripts/corpus/generate.js";
import { conversationTokens, isHeldOut } from "../../scripts/pretrain/data.js";

const out = process.argv[2] ?? "sweepdata";
mkdirSync(out, { recursive: true });
const policy = await loadPolicy("builtin:tiny-chat");
const tokenizer = policy.tokenizer;
const pad = tokenizer.padTokenId;

function dump(name: string, sequences: number[][]): void {
  const flat = new Int16Array(sequences.reduce((n, s) => n + s.length, 0));
  const offsets = new Uint32Array(sequences.length + 1);
  let at = 0;
  sequences.forEach((s, i) => {
    flat.set(s, at);
    at += s.length;
    offsets[i + 1] = at;
  });
  writeFileSync(`${out}/${name}.bin`, Buffer.from(flat.buffer));
  writeFileSync(`${out}/${name}.off`, Buffer.from(offsets.buffer));
  console.log(`${name}: ${sequences.length} sequences, ${at} tokens`);
}

const corpus = generateCorpus({ seed: 1, conversations: 20_000 });
const heldOut = corpus.filter((_, i) => isHeldOut(i));
dump("train", corpus.filter((_, i) => !isHeldOut(i)).map((c) => conversationTokens(tokenizer, c, pad)));
dump("heldout", heldOut.map((c) => conversationTokens(tokenizer, c, pad)));
dump("heldout_chat", heldOut.filter((c) => c.domain !== "arithmetic").map((c) => conversationTokens(tokenizer, c, pad)));

// drillA: three question → call pairs per conversation (`arithmeticCallDrill`, what `npm run pretrain --
// --preset copy` mixes in), drawn one after another from one stream seeded 11.
const rng = Rng.fromSeed(11);
dump("drillA", Array.from({ length: 30_000 }, () => {
  const drill = arithmeticCallDrill(rng);
  return conversationTokens(tokenizer, { messages: [{ role: "system", content: drill.systemPrompt }, ...drill.messages] }, pad);
}));
// drillB: full good arithmetic conversations (call, tool result, answer) of another corpus seed.
dump("drillB", generateCorpus({ seed: 7, conversations: 100_000 })
  .filter((c) => c.domain === "arithmetic" && c.quality === "good")
  .map((c) => conversationTokens(tokenizer, c, pad)));

// The copy probe's 40 problems (scripts/pretrain/copy-probe.ts), whose first 16 are tool_agent's held-out set.
const prefixLength = tokenizer.encode('<tool_call>{"name": "calculator", "arguments": {"expression": "').length;
const items = arithmeticProblems(40, 2, "probe").map((problem) => {
  const question = problem.userResponses[0];
  const expression = problem.expression;
  const result = formatNumber(evaluateArithmetic(expression));
  const system = { role: "system" as const, content: SYSTEM_PROMPTS.calculator };
  const user = { role: "user" as const, content: question };
  return {
    promptIds: tokenizer.encodeChat([system, user], { addGenerationPrompt: true }),
    callIds: tokenizer.encode(calculatorCallText(expression)),
    exprStart: prefixLength,
    exprLen: tokenizer.encode(expression).length,
    afterTool: tokenizer.encodeChat([system, user, { role: "assistant", content: calculatorCallText(expression) }, { role: "tool", content: result }], { addGenerationPrompt: true }),
    resultIds: tokenizer.encode(result),
    result,
  };
});
const digitIds = Array.from({ length: 10 }, (_, d) => tokenizer.tokenToId(String(d)));
writeFileSync(`${out}/eval.json`, JSON.stringify({ vocabSize: tokenizer.vocabSize, pad, imEnd: tokenizer.tokenToId("<|im_end|>"), digitIds, items }));
console.log(`eval.json: ${items.length} problems`);
policy.dispose();
