/**
 * Does a model copy the user's numbers into a calculator call? The figure the model card quotes,
 * measured by pretraining at the end of a run and by `npm run copy-probe` for any model folder.
 *
 * For each of the tool_agent example's 40 held-out-style problems (seed 2), the right call is
 * teacher-forced after the prompt (system prompt `calculator`, the user's question, the generation
 * prompt): `<tool_call>{"name": "calculator", "arguments": {"expression": "37 * 12"}}</tool_call>`.
 * Counted, from the greedy (argmax) prediction at each position of the expression:
 * - how often the first digit is right (and how often the model predicts the `2` of the system
 *   prompt's example call `2 + 3` there instead, right or not);
 * - how often each later digit is right given the correct tokens before it (a model that copies
 *   gets nearly all; a uniform guess about 1 in 10).
 */
import * as tf from "@tensorflow/tfjs";
import { arithmeticProblems } from "../../examples/tool_agent.js";
import { Rng } from "../../src/core/rng.js";
import type { ChatTokenizer } from "../../src/model/tokenizer.js";
import type { Transformer } from "../../src/model/transformer.js";
import { SYSTEM_PROMPTS } from "../corpus/prompts.js";

const CALL_PREFIX = '<tool_call>{"name": "calculator", "arguments": {"expression": "';

/** What {@link copyProbe} counts. */
export interface CopyProbeResult {
  problems: number;
  /** Problems whose first expression digit is predicted right. */
  firstRight: number;
  /** Problems where the model predicts the example call's `2` as the first digit. */
  firstIsExampleTwo: number;
  /** Later digits (after the first token of the expression) predicted right, teacher-forced. */
  laterRight: number;
  laterDigits: number;
}

/** One probe problem: the expression's tokens and the greedy prediction at each of them, teacher-forced. */
interface ProbedExpression {
  question: string;
  targets: number[];
  predicted: number[];
}

/** The greedy predictions of each probe problem's expression tokens (see the module comment). */
async function probeExpressions(model: Transformer, tokenizer: ChatTokenizer): Promise<ProbedExpression[]> {
  const problems = arithmeticProblems(40, 2, "probe");
  const prefixLength = tokenizer.encode(CALL_PREFIX).length;
  const out: ProbedExpression[] = [];
  for (const problem of problems) {
    const question = problem.userResponses[0];
    const expression = problem.expression;
    const promptIds = tokenizer.encodeChat(
      [{ role: "system", content: SYSTEM_PROMPTS.calculator }, { role: "user", content: question }],
      { addGenerationPrompt: true },
    );
    const full = [...promptIds, ...tokenizer.encode(`${CALL_PREFIX}${expression}"}}</tool_call>`)];
    // A model with a short context (the quick preset's) reads the last nPositions tokens, as generate() would.
    const cut = Math.max(0, full.length - model.config.nPositions);
    const ids = full.slice(cut);
    const logits = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], "int32"))); // (1, T, V)
    const [rows] = (await logits.array()) as number[][][];
    logits.dispose();
    const expressionStart = promptIds.length + prefixLength - cut;
    const targets = tokenizer.encode(expression);
    const predicted = targets.map((_, j) => {
      const row = rows[expressionStart + j - 1]; // the prediction of expression token j
      return row.indexOf(Math.max(...row));
    });
    out.push({ question, targets, predicted });
  }
  return out;
}

/** Teacher-forced digit accuracy of the calculator call on 40 tool_agent problems (see the module comment). */
export async function copyProbe(model: Transformer, tokenizer: ChatTokenizer): Promise<CopyProbeResult> {
  const probed = await probeExpressions(model, tokenizer);
  const result: CopyProbeResult = { problems: probed.length, firstRight: 0, firstIsExampleTwo: 0, laterRight: 0, laterDigits: 0 };
  for (const { targets, predicted } of probed) {
    targets.forEach((target, j) => {
      if (j === 0) {
        if (predicted[j] === target) result.firstRight++;
        if (tokenizer.decode([predicted[j]]) === "2") result.firstIsExampleTwo++;
      } else if (/^\d$/.test(tokenizer.decode([target]))) {
        result.laterDigits++;
        if (predicted[j] === target) result.laterRight++;
      }
    });
  }
  return result;
}

/**
 * The probe by position: right/total for each digit place of each operand (`operand 1, digit 2`, …)
 * and for the operator, plus one line per problem showing the misses as `[predicted≠expected]`.
 */
export async function copyProbeByPosition(model: Transformer, tokenizer: ChatTokenizer): Promise<{ positions: Map<string, [number, number]>; lines: string[] }> {
  const positions = new Map<string, [number, number]>();
  const count = (key: string, right: boolean) => {
    const entry = positions.get(key) ?? [0, 0];
    positions.set(key, [entry[0] + (right ? 1 : 0), entry[1] + 1]);
  };
  const lines: string[] = [];
  for (const { question, targets, predicted } of await probeExpressions(model, tokenizer)) {
    let operand = 1;
    let digit = 1;
    let line = "";
    targets.forEach((target, j) => {
      const text = tokenizer.decode([target]);
      const right = predicted[j] === target;
      if (/^\d$/.test(text)) count(`operand ${operand}, digit ${digit++}`, right);
      else if (text.trim() !== "") {
        count("operator", right);
        operand++;
        digit = 1;
      }
      line += right ? text : `[${tokenizer.decode([predicted[j]])}≠${text}]`;
    });
    lines.push(`${question.padEnd(32)} ${line}`);
  }
  return { positions: new Map([...positions].sort(([a], [b]) => a.localeCompare(b))), lines };
}

/** One line: `first digit right a/40 (…); later digits right, teacher-forced: b/c`. */
export function describeCopyProbe(r: CopyProbeResult): string {
  return `first digit right ${r.firstRight}/${r.problems} (predicts the example call's "2": ${r.firstIsExampleTwo}); ` +
    `later digits right, teacher-forced: ${r.laterRight}/${r.laterDigits}`;
}

// ---------------------------------------------------------------------------------------------
// In-context copying in general: induction rows

/** A row of random token runs, each followed by its exact repeat, and which targets are repeats. */
export interface InductionRow {
  /** `rowTokens` token ids. */
  row: number[];
  /** `copied[t]`: token t is a repeat that the tokens before it determine (a run's first repeated token is not). */
  copied: boolean[];
}

/**
 * Builds induction rows for `tokenizer`: runs of 6–25 random tokens, each followed by its exact
 * repeat, until the row holds `rowTokens` tokens. Half the runs are number-like (digits, spaces and
 * operators, so each digit recurs and one previous token is not enough to know where a copy is),
 * half any non-special tokens. A model that copies in context predicts the repeats; one that does not
 * gets about 1 in 15 (number-like) or 1 in 2000 (others).
 */
export function inductionRows(tokenizer: ChatTokenizer): (random: Rng, rowTokens: number) => InductionRow {
  const special = new Set(tokenizer.specialTokenIds);
  const ordinary = Array.from({ length: tokenizer.vocabSize }, (_, id) => id).filter((id) => !special.has(id));
  // Digits must be single tokens (the built-in tokenizers split them); the spaced operators are used
  // where the vocabulary has them as one token (the shipped 2048-token vocabulary has all five).
  const numberish = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " ", " +", " -", " *", " ="].flatMap((s) => {
    const ids = tokenizer.encode(s);
    if (ids.length === 1) return ids;
    if (/^\d$/.test(s)) throw new Error(`The induction rows need the digit ${s} to be one token of this tokenizer; it is ${ids.length}. Train it with individualDigits.`);
    return [];
  });
  return (random, rowTokens) => {
    const row: number[] = [];
    const copied: boolean[] = [];
    while (row.length < rowTokens) {
      const alphabet = random.int(2) === 0 ? numberish : ordinary;
      const run = Array.from({ length: 6 + random.int(20) }, () => alphabet[random.int(alphabet.length)]);
      row.push(...run, ...run);
      copied.push(...run.map(() => false), false, ...run.slice(1).map(() => true));
    }
    return { row: row.slice(0, rowTokens), copied: copied.slice(0, rowTokens) };
  };
}

/** What {@link inductionProbe} counts. */
export interface InductionProbeResult {
  /** Repeated tokens predicted right (greedy). */
  right: number;
  /** Repeated tokens counted. */
  counted: number;
}

/**
 * Does the model copy in context? Greedy accuracy on the repeats of 4 fixed induction rows (seed
 * 12345) of nPositions + 1 tokens, the figure `npm run copy-drill` prints as "induction rows copied".
 * Answering with a tool's result needs this kind of copying; the copy probe's call digits alone do not.
 */
export async function inductionProbe(model: Transformer, tokenizer: ChatTokenizer): Promise<InductionProbeResult> {
  const T = model.config.nPositions;
  const make = inductionRows(tokenizer);
  const random = Rng.fromSeed(12345);
  const rows = Array.from({ length: 4 }, () => make(random, T + 1));
  let right = 0;
  let counted = 0;
  for (const { row, copied } of rows) {
    const predicted = tf.tidy(() => model.forward(tf.tensor2d([row.slice(0, T)], [1, T], "int32")).argMax(-1));
    const ids = (await predicted.data()) as Int32Array;
    predicted.dispose();
    for (let t = 0; t < T; t++) {
      if (!copied[t + 1]) continue;
      counted++;
      if (ids[t] === row[t + 1]) right++;
    }
  }
  return { right, counted };
}
