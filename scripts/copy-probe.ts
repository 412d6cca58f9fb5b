/**
 * Does a model copy the user's numbers into a calculator call? (`npm run copy-probe -- [model]`)
 *
 * For each of the tool_agent example's 40 held-out-style problems (seed 2), the right call is
 * teacher-forced after the prompt (system prompt `calculator`, the user's question, the generation
 * prompt): `<tool_call>{"name": "calculator", "arguments": {"expression": "37 * 12"}}</tool_call>`.
 * Reported, from the greedy (argmax) prediction at each position of the expression:
 * - how often the first digit is right (and how often the model predicts the `2` of the system
 *   prompt's example call `2 + 3` there instead);
 * - how often each later digit is right given the correct digits before it (a model that copies
 *   gets nearly all; a uniform guess about 1 in 10).
 * The model card's Limitations section quotes these figures for builtin:tiny-chat.
 */
import * as tf from "@tensorflow/tfjs";
import { arithmeticProblems } from "../examples/tool_agent.js";
import { loadPolicy } from "../src/model/registry.js";
import { SYSTEM_PROMPTS } from "./corpus/prompts.js";

const CALL_PREFIX = '<tool_call>{"name": "calculator", "arguments": {"expression": "';

const modelName = process.argv[2] ?? "builtin:tiny-chat";
const policy = await loadPolicy(modelName).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
const tokenizer = policy.tokenizer;
const problems = arithmeticProblems(40, 2, "probe");
let firstRight = 0;
let firstIsExampleTwo = 0;
let laterRight = 0;
let laterDigits = 0;
for (const problem of problems) {
  const question = problem.userResponses[0];
  const expression = /(\d+ [-+*] \d+)/.exec(question)?.[1];
  if (expression === undefined) throw new Error(`no expression in ${JSON.stringify(question)}`);
  const promptIds = tokenizer.encodeChat(
    [{ role: "system", content: SYSTEM_PROMPTS.calculator }, { role: "user", content: question }],
    { addGenerationPrompt: true },
  );
  const callIds = tokenizer.encode(`${CALL_PREFIX}${expression}"}}</tool_call>`);
  const ids = [...promptIds, ...callIds];
  const logits = tf.tidy(() => policy.model.forward(tf.tensor2d([ids], [1, ids.length], "int32"))); // (1, T, V)
  const [rows] = (await logits.array()) as number[][][];
  logits.dispose();
  const expressionStart = promptIds.length + tokenizer.encode(CALL_PREFIX).length;
  tokenizer.encode(expression).forEach((target, j) => {
    const row = rows[expressionStart + j - 1]; // the prediction of expression token j
    const predicted = row.indexOf(Math.max(...row));
    if (j === 0) {
      if (predicted === target) firstRight++;
      if (tokenizer.decode([predicted]) === "2") firstIsExampleTwo++;
    } else if (/^\d$/.test(tokenizer.decode([target]))) {
      laterDigits++;
      if (predicted === target) laterRight++;
    }
  });
}
console.log(`${modelName}: first digit right ${firstRight}/${problems.length} (predicts the example call's "2": ${firstIsExampleTwo}); ` +
  `later digits right, teacher-forced: ${laterRight}/${laterDigits}`);
