/**
 * `npm run copy-drill -- [model] [options]`: the copy-drill pilots the model card quotes. Continues
 * training a model (in memory; nothing is saved) on a dense drill of calculator calls, optionally
 * mixed with or followed by ordinary corpus rows, and prints the copy probe and the perplexity of 48
 * held-out conversations every `--every` steps.
 *
 * A drill conversation: a calculator system prompt, then three times a question ("What is 412 * 37?")
 * answered by the call alone (`<tool_call>{"name": "calculator", "arguments": {"expression": "412 * 37"}}</tool_call>`),
 * packed into rows of 256 positions. About 15% of the targets are digits copied from the question.
 *
 * Options (defaults in brackets):
 *   --steps N          drill-phase steps [200]          --lr X         its learning rate [2e-3]
 *   --drill-rows K     drill rows of the 4 per step [4]; the others are corpus rows
 *   --prompts P        `calculator` (that system prompt only) or `both` (calculator or toolAgent) [calculator]
 *   --then-steps N     then N steps of corpus rows only [0]   --then-lr X   their learning rate [3e-4]
 *   --every N          report every N steps [50]
 *   --drill D          `calls` (the question → call pairs above) or `episodes` (pretraining's tool drill,
 *                      `generateDrillConversation`: question, call, tool result, answer) [calls]
 *   --induction-rows K rows of the 4 per step made of random token runs, each followed by its exact repeat,
 *                      the loss on the repeats only (half the runs number-like) [0]; with drill rows first,
 *                      corpus rows last. Every report (with or without them) prints the greedy accuracy on the repeats
 *                      of 4 fixed such rows: does the model copy in context at all?
 *   --cosine           decay the drill phase's learning rate to 0 along a cosine [constant]
 *   --save DIR         write the trained model folder to DIR at the end (tokenizer files copied)
 * The card's figures: `npm run copy-drill -- --steps 150` (drill alone), `--drill-rows 2 --prompts both
 * --steps 350 --lr 1.5e-3` (half and half), `--prompts both --then-steps 200` (drill, then corpus).
 */
import { Command, InvalidArgumentError } from "commander";
import { Rng } from "../src/core/rng.js";
import { loadPolicy } from "../src/model/registry.js";
import { learningRateAt } from "../src/training/config.js";
import { AdamW } from "../src/training/optimizer.js";
import { CALL_DRILL_QUESTIONS, generateCorpus, generateDrillConversation, SYSTEM_PROMPTS } from "./corpus/generate.js";
import { copyProbe, describeCopyProbe, inductionProbe, inductionRows, type InductionRow } from "./pretrain/copy-probe.js";
import { conversationTokens, isHeldOut, makeBatch, RowPacker } from "./pretrain/data.js";
import { evaluate, trainStep } from "./pretrain/loop.js";
import { saveDerivedModel } from "./pretrain/save-derived.js";

const ROW = 256;
const ROWS = 4;
const QUESTIONS: readonly string[] = CALL_DRILL_QUESTIONS;

const count = (flag: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer ≥ ${min}.`);
  return n;
};
const rate = (flag: string) => (v: string) => {
  const x = Number(v);
  if (!(x > 0 && x < 1)) throw new InvalidArgumentError(`${flag} must be a learning rate in (0, 1), e.g. 2e-3.`);
  return x;
};
const program = new Command()
  .name("copy-drill")
  .argument("[model]", "builtin:<name> or a model folder", "builtin:tiny-chat")
  .option("--steps <n>", "drill-phase steps", count("--steps", 0), 200)
  .option("--lr <x>", "drill-phase learning rate", rate("--lr"), 2e-3)
  .option("--drill-rows <k>", "drill rows of the 4 per step", count("--drill-rows", 0), ROWS)
  .option("--prompts <p>", "calculator | both", (v: string) => {
    if (v !== "calculator" && v !== "both") throw new InvalidArgumentError("--prompts must be calculator or both.");
    return v;
  }, "calculator")
  .option("--then-steps <n>", "corpus-only steps afterwards", count("--then-steps", 0), 0)
  .option("--then-lr <x>", "their learning rate", rate("--then-lr"), 3e-4)
  .option("--every <n>", "report every n steps", count("--every", 1), 50)
  .option("--drill <kind>", "calls (question → call pairs) | episodes (question, call, tool result, answer: generateDrillConversation)", (v: string) => {
    if (v !== "calls" && v !== "episodes") throw new InvalidArgumentError("--drill must be calls or episodes.");
    return v;
  }, "calls")
  .option("--induction-rows <k>", "rows of the 4 per step that repeat random token runs (loss on the repeats only)", count("--induction-rows", 0), 0)
  .option("--cosine", "decay the drill phase's learning rate to 0 along a cosine (default: constant)", false)
  .option("--save <dir>", "write the trained model folder here at the end (tokenizer and chat template unchanged)")
  .parse();
const opts = program.opts<{ steps: number; lr: number; drillRows: number; prompts: "calculator" | "both"; thenSteps: number; thenLr: number; every: number; drill: "calls" | "episodes"; inductionRows: number; cosine: boolean; save?: string }>();
if (opts.drillRows + opts.inductionRows > ROWS) program.error(`--drill-rows plus --induction-rows must be at most ${ROWS}.`);
const modelName = program.args[0] ?? "builtin:tiny-chat";

const policy = await loadPolicy(modelName);
const { model, tokenizer } = policy;
const pad = tokenizer.padTokenId;
const corpus = generateCorpus({ seed: 1, conversations: 20_000 });
const train = corpus.filter((_, i) => !isHeldOut(i));
const heldOut = corpus.filter((_, i) => isHeldOut(i)).slice(0, 48).map((c) => ({ domain: c.domain, tokens: conversationTokens(tokenizer, c, pad) }));
const corpusRows = new RowPacker(train.length, (i) => conversationTokens(tokenizer, train[i], pad), Rng.fromSeed(6));

const rng = Rng.fromSeed(11);
let drillIndex = 0;
function drillConversation(): number[] {
  if (opts.drill === "episodes") return conversationTokens(tokenizer, generateDrillConversation(11, drillIndex++), pad);
  const system = opts.prompts === "calculator" || rng.int(2) === 0 ? SYSTEM_PROMPTS.calculator : SYSTEM_PROMPTS.toolAgent;
  const messages: { role: "system" | "user" | "assistant"; content: string }[] = [{ role: "system", content: system }];
  for (let k = 0; k < 3; k++) {
    const op = ["+", "-", "*", "/"][rng.int(4)];
    const expression = `${1 + rng.int(999)} ${op} ${1 + rng.int(99)}`;
    messages.push({ role: "user", content: QUESTIONS[rng.int(QUESTIONS.length)].replace("{e}", expression) });
    messages.push({ role: "assistant", content: `<tool_call>{"name": "calculator", "arguments": {"expression": "${expression}"}}</tool_call>` });
  }
  return [...tokenizer.encodeChat(messages), pad];
}
let pending: number[] = [];
function drillRow(): number[] {
  while (pending.length < ROW + 1) pending.push(...drillConversation());
  const row = pending.slice(0, ROW + 1);
  pending = pending.slice(ROW + 1);
  return row;
}

/** An induction row (see `inductionRows`): random token runs, each followed by its exact repeat, the loss on the repeats only. */
const makeInductionRow = inductionRows(tokenizer);
function inductionRow(random: Rng = rng): InductionRow {
  return makeInductionRow(random, ROW + 1);
}
function stepBatch() {
  const rows: number[][] = [];
  const masks: (boolean[] | undefined)[] = [];
  for (let r = 0; r < ROWS; r++) {
    if (r < opts.drillRows) { rows.push(drillRow()); masks.push(undefined); }
    else if (r < opts.drillRows + opts.inductionRows) { const { row, copied } = inductionRow(); rows.push(row); masks.push(copied); }
    else { rows.push(corpusRows.nextRow(ROW + 1)); masks.push(undefined); }
  }
  const batch = makeBatch(rows, ROW, pad);
  let targets = batch.targetCount;
  masks.forEach((copied, b) => {
    if (copied === undefined) return;
    // Target t of row b is token t + 1.
    for (let t = 0; t < ROW; t++) if (batch.lossMask[b * ROW + t] === 1 && !copied[t + 1]) { batch.lossMask[b * ROW + t] = 0; targets--; }
  });
  return { ...batch, targetCount: targets };
}

const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
async function inductionAccuracy(): Promise<string> {
  const { right, counted } = await inductionProbe(model, tokenizer);
  return `induction rows copied ${right}/${counted}`;
}
async function report(what: string): Promise<void> {
  const perplexity = (await evaluate(model, heldOut)).perplexity;
  console.log(`${what}: held-out perplexity (48 conversations) ${perplexity.toFixed(3)} | ${describeCopyProbe(await copyProbe(model, tokenizer))} | ${await inductionAccuracy()}`);
}
await report("start");
for (let step = 1; step <= opts.steps; step++) {
  const lr = learningRateAt(step - 1, opts.steps, { learningRate: opts.lr, lrScheduler: opts.cosine ? "cosine" : "constant", warmupRatio: 0 });
  await trainStep(model, optimizer, stepBatch(), lr, 1);
  if (step % opts.every === 0) await report(`drill step ${step}`);
}
for (let step = 1; step <= opts.thenSteps; step++) {
  await trainStep(model, optimizer, makeBatch(Array.from({ length: ROWS }, () => corpusRows.nextRow(ROW + 1)), ROW, pad), opts.thenLr, 1);
  if (step % opts.every === 0) await report(`corpus step ${step}`);
}
if (opts.save !== undefined) {
  await saveDerivedModel(opts.save, model, tokenizer, modelName);
  console.log(`saved ${opts.save}`);
}
policy.dispose();
