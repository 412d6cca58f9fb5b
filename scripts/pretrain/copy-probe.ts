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
    const expression = /(\d+ [-+*] \d+)/.exec(question)?.[1];
    if (expression === undefined) throw new Error(`no expression in ${JSON.stringify(question)}`);
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
