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

/** Teacher-forced digit accuracy of the calculator call on 40 tool_agent problems (see the module comment). */
export async function copyProbe(model: Transformer, tokenizer: ChatTokenizer): Promise<CopyProbeResult> {
  const problems = arithmeticProblems(40, 2, "probe");
  const result: CopyProbeResult = { problems: problems.length, firstRight: 0, firstIsExampleTwo: 0, laterRight: 0, laterDigits: 0 };
  const prefixLength = tokenizer.encode(CALL_PREFIX).length;
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
    tokenizer.encode(expression).forEach((target, j) => {
      const row = rows[expressionStart + j - 1]; // the prediction of expression token j
      const predicted = row.indexOf(Math.max(...row));
      if (j === 0) {
        if (predicted === target) result.firstRight++;
        if (tokenizer.decode([predicted]) === "2") result.firstIsExampleTwo++;
      } else if (/^\d$/.test(tokenizer.decode([target]))) {
        result.laterDigits++;
        if (predicted === target) result.laterRight++;
      }
    });
  }
  return result;
}

/** One line: `first digit right a/40 (…); later digits right, teacher-forced: b/c`. */
export function describeCopyProbe(r: CopyProbeResult): string {
  return `first digit right ${r.firstRight}/${r.problems} (predicts the example call's "2": ${r.firstIsExampleTwo}); ` +
    `later digits right, teacher-forced: ${r.laterRight}/${r.laterDigits}`;
}
