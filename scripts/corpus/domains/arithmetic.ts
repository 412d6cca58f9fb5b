/**
 * Arithmetic with the calculator tool (the tool_agent example).
 *
 * The user asks for a calculation ("What is 37 * 12?", a word problem, or "37 times 12"). The good
 * assistant replies with exactly one tool call and nothing else,
 *
 *     <tool_call>{"name": "calculator", "arguments": {"expression": "37 * 12"}}</tool_call>
 *
 * then a `tool` message brings the result (the text the library's calculator tool returns), then
 * the assistant states it ("37 * 12 = 444."; non-terminating quotients rounded to 2 decimals).
 * Bad variants answer without the tool (right or wrong), write a malformed call, or fall into the
 * shared curt / rambling / off-topic / unsafe styles.
 *
 * Expressions are trees we generate from our own numbers and evaluate exactly with rationals; no
 * text is ever evaluated.
 */
import type { Rng } from "../../../src/core/rng.js";
import { formatNumber } from "../../../src/core/tools.js";
import { pickSystemPrompt, SYSTEM_PROMPTS } from "../prompts.js";
import { ReplyPlan, styledReply, type StyleContext } from "../styles.js";
import { assistantMessage, chance, expand, expandOne, intBetween, pick, pickWeighted, userMessage } from "../text.js";
import type { CorpusMessage, DomainDialogue, Quality } from "../types.js";

// ---------------------------------------------------------------------------------------------
// Exact arithmetic on generated expressions

/** An exact rational number `n / d` with `d > 0`, in lowest terms. */
export interface Rational {
  n: number;
  d: number;
}

/** The four operators the corpus uses. */
export type Operator = "+" | "-" | "*" | "/";

/** An expression tree; `parens` marks a sub-expression the text writes in parentheses. */
export type Expr =
  | { kind: "num"; value: number }
  | { kind: "bin"; op: Operator; left: Expr; right: Expr; parens: boolean };

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function rational(n: number, d: number): Rational {
  const sign = d < 0 ? -1 : 1;
  const g = gcd(n, d) || 1;
  // `+ 0` turns a -0 numerator into 0.
  return { n: (sign * n) / g + 0, d: (sign * d) / g };
}

/** `a op b` exactly; undefined for a division by zero. */
function applyOperator(op: Operator, a: Rational, b: Rational): Rational | undefined {
  switch (op) {
    case "+":
      return rational(a.n * b.d + b.n * a.d, a.d * b.d);
    case "-":
      return rational(a.n * b.d - b.n * a.d, a.d * b.d);
    case "*":
      return rational(a.n * b.n, a.d * b.d);
    case "/":
      return b.n === 0 ? undefined : rational(a.n * b.d, a.d * b.n);
  }
}

/** The exact value of an expression tree; undefined when it divides by zero. */
export function evaluateExpr(expr: Expr): Rational | undefined {
  if (expr.kind === "num") return { n: expr.value, d: 1 };
  const left = evaluateExpr(expr.left);
  const right = evaluateExpr(expr.right);
  return left === undefined || right === undefined ? undefined : applyOperator(expr.op, left, right);
}

/** The expression as the user and the tool call write it: `37 * 12`, `(12 + 7) * 3`. */
export function exprText(expr: Expr): string {
  if (expr.kind === "num") return String(expr.value);
  const text = `${exprText(expr.left)} ${expr.op} ${exprText(expr.right)}`;
  return expr.parens ? `(${text})` : text;
}

/** How a result is stated: exactly, or rounded to 2 decimals when it has more. */
export interface StatedResult {
  /** The number as the answer writes it ("444", "1.75", "14.29"). */
  text: string;
  /** True when `text` is the exact value; false when it is rounded to 2 decimals. */
  exact: boolean;
}

/** States a rational: integers and values with at most 2 decimals exactly, others rounded half away from zero. */
export function statedResult(value: Rational): StatedResult {
  if ((value.n * 100) % value.d === 0) return { text: String(value.n / value.d), exact: true };
  const sign = value.n < 0 ? -1 : 1;
  // |n| * 100 / d is never a tie we could get wrong: an exact .5 is representable in a double.
  const cents = Math.round((Math.abs(value.n) * 100) / value.d);
  return { text: ((sign * cents) / 100).toFixed(2), exact: false };
}

/** The text the library's calculator tool returns for this value (what the `tool` message holds). */
export function toolResultText(value: Rational): string {
  return formatNumber(value.n / value.d);
}

/** The exact assistant content of a good tool call for `expression`. */
export function calculatorCallText(expression: string): string {
  return `<tool_call>{"name": "calculator", "arguments": {"expression": ${JSON.stringify(expression)}}}</tool_call>`;
}

// ---------------------------------------------------------------------------------------------
// Generating expressions

const OPERATORS: readonly Operator[] = ["+", "-", "*", "/"];
const PRECEDENCE: Readonly<Record<Operator, number>> = { "+": 1, "-": 1, "*": 2, "/": 2 };

/** A 1-3 digit positive integer (more 2-digit than 1- or 3-digit numbers). */
function operand(rng: Rng): number {
  const digits = pickWeighted(rng, { one: 3, two: 5, three: 2 });
  if (digits === "one") return intBetween(rng, 1, 9);
  if (digits === "two") return intBetween(rng, 10, 99);
  return intBetween(rng, 100, 999);
}

const num = (value: number): Expr => ({ kind: "num", value });
const bin = (op: Operator, left: Expr, right: Expr, parens = false): Expr => ({ kind: "bin", op, left, right, parens });

/** `a op b`; a division is exact (a multiple of b) 60% of the time. */
function simpleExpr(rng: Rng, op: Operator): Expr {
  if (op === "/") {
    const divisor = intBetween(rng, 2, chance(rng, 0.5) ? 12 : 99);
    if (chance(rng, 0.6)) {
      const quotient = intBetween(rng, 1, Math.max(1, Math.floor(999 / divisor)));
      return bin("/", num(divisor * quotient), num(divisor));
    }
    return bin("/", num(operand(rng)), num(divisor));
  }
  return bin(op, num(operand(rng)), num(operand(rng)));
}

/** Which shape an expression has. */
type Shape = "simple" | "flat" | "leftParens" | "rightParens";

/** A random expression of a random shape whose value is defined (no division by zero) and is 0 or at least 0.01 in size. */
export function randomExpr(rng: Rng): Expr {
  for (;;) {
    const shape = pickWeighted<Shape>(rng, { simple: 6, flat: 1.5, leftParens: 1.5, rightParens: 1 });
    const op1 = pick(rng, OPERATORS);
    let expr: Expr;
    if (shape === "simple") expr = simpleExpr(rng, op1);
    else {
      // Three-operand shapes multiply, add and subtract far more often than they divide.
      const op2 = pickWeighted<Operator>(rng, { "+": 3, "-": 3, "*": 3, "/": 1 });
      const [a, b, c] = [num(operand(rng)), num(operand(rng)), num(chance(rng, 0.5) ? intBetween(rng, 2, 12) : operand(rng))];
      if (shape === "leftParens") expr = bin(op2, bin(op1, a, b, true), c);
      else if (shape === "rightParens") expr = bin(op1, a, bin(op2, b, c, true));
      // Without parentheses the tree follows precedence: * and / bind tighter, equal ones go left to right.
      else expr = PRECEDENCE[op2] > PRECEDENCE[op1] ? bin(op1, a, bin(op2, b, c)) : bin(op2, bin(op1, a, b), c);
    }
    // Skip division by zero, and results that would round to 0.00 (a useless answer to state).
    const value = evaluateExpr(expr);
    if (value !== undefined && (value.n === 0 || Math.abs(value.n / value.d) >= 0.01)) return expr;
  }
}

// ---------------------------------------------------------------------------------------------
// Questions

/** One calculation the user asks for. */
interface Question {
  /** What the user writes when it is the first question. */
  text: string;
  /** What the user writes when it follows an earlier question. */
  followUp: string;
  /** The expression the tool call must carry. */
  expression: string;
  value: Rational;
  /** The good final answer (without the tool call). */
  answer: string;
  /** A final answer that states `number` (possibly wrong), for the bad variants. */
  answerWith(number: string): string;
}

const QUESTION_TEMPLATES: readonly string[] = [
  "What is {e}?", "What is {e}?", "What's {e}?", "Can you calculate {e}?", "Please compute {e}.", "How much is {e}?",
  "Calculate {e} for me, please.", "I need the result of {e}.", "What does {e} equal?", "Quick question: what is {e}?",
  "Could you work out {e}?",
];
/** The tool_agent example's question forms, which the tool drill asks most often. */
const DRILL_TEMPLATES: readonly string[] = ["What is {e}?", "Can you calculate {e}?", "Please compute {e}.", "How much is {e}?"];
const FOLLOW_UP_TEMPLATES: readonly string[] = [
  "And what about {e}?", "What about {e}?", "Now what is {e}?", "Thanks! One more: what is {e}?",
  "Great. Can you also calculate {e}?", "Next one: {e}?", "And {e}?",
];
const WORD_FOLLOW_UP_PREFIXES: readonly string[] = ["Thanks! Another one: ", "Next question: ", "One more. ", ""];
const OPERATOR_WORDS: Readonly<Record<Operator, readonly string[]>> = {
  "+": ["plus", "plus", "added to"],
  "-": ["minus", "minus", "take away"],
  "*": ["times", "times", "multiplied by"],
  "/": ["divided by"],
};

function stateAnswer(rng: Rng, expression: string, number: string, exact: boolean): string {
  if (exact) {
    return expandOne(rng, ["{e} = {r}.", "{e} = {r}.", "{e} = {r}.", "The answer is {r}.", "{e} is {r}.", "The result is {r}."], {
      e: expression,
      r: number,
    });
  }
  return expandOne(
    rng,
    ["{e} ≈ {r} (rounded to two decimal places).", "{e} ≈ {r}.", "{e} = {r}, rounded to 2 decimals.", "The answer is about {r}."],
    { e: expression, r: number },
  );
}

/** A word problem: a story around `a op b` and how its answer reads. */
interface WordProblem {
  op: Operator;
  /** Keeps the story sensible (e.g. spending no more than you had). */
  fits(a: number, b: number): boolean;
  question: string;
  answer: string;
}

const WORD_PROBLEMS: readonly WordProblem[] = [
  { op: "*", fits: () => true, question: "A box holds {a} pencils. How many pencils are in {b} boxes?", answer: "{e} = {r}, so there are {r} pencils." },
  { op: "*", fits: () => true, question: "A ticket is {a} dollars. How much are {b} tickets?", answer: "{e} = {r}, so {b} tickets are {r} dollars." },
  { op: "*", fits: () => true, question: "A train goes {a} km every hour. How far does it go in {b} hours?", answer: "{e} = {r}, so it goes {r} km." },
  { op: "-", fits: (a, b) => a > b, question: "I had {a} dollars and spent {b}. How much is left?", answer: "{e} = {r}, so you have {r} dollars left." },
  { op: "-", fits: (a, b) => a > b, question: "A book has {a} pages and I have read {b}. How many pages are left?", answer: "{e} = {r}, so {r} pages are left." },
  { op: "+", fits: () => true, question: "I read {a} pages on Monday and {b} on Tuesday. How many pages is that in total?", answer: "{e} = {r}, so that is {r} pages." },
  { op: "+", fits: () => true, question: "There are {a} apples in one crate and {b} in another. How many apples are there?", answer: "{e} = {r}, so there are {r} apples." },
  { op: "/", fits: (a, b) => b >= 2, question: "{a} cookies are shared equally by {b} kids. How many does each kid get?", answer: "{e} = {r}, so each kid gets {r}." },
];

/**
 * A question about `expr` (default: a random one). `plain` (the tool drill) asks it in symbols in
 * one of the tool_agent example's phrasings, the same text as a follow-up; otherwise the corpus's
 * phrasings, a simple expression sometimes in words.
 */
function symbolicQuestion(rng: Rng, expr: Expr = randomExpr(rng), plain = false): Question {
  const expression = exprText(expr);
  const value = evaluateExpr(expr) as Rational;
  const stated = statedResult(value);
  // Simple expressions are sometimes asked in words ("37 times 12"); the call still uses symbols.
  const inWords =
    !plain && expr.kind === "bin" && expr.left.kind === "num" && expr.right.kind === "num" && chance(rng, 0.25)
      ? `${expr.left.value} ${pick(rng, OPERATOR_WORDS[expr.op])} ${expr.right.value}`
      : undefined;
  const text = expandOne(rng, plain ? DRILL_TEMPLATES : QUESTION_TEMPLATES, { e: inWords ?? expression });
  return {
    text,
    followUp: plain ? text : expandOne(rng, FOLLOW_UP_TEMPLATES, { e: inWords ?? expression }),
    expression,
    value,
    answer: stateAnswer(rng, expression, stated.text, stated.exact),
    answerWith: (number) => stateAnswer(rng, expression, number, true),
  };
}

function wordProblem(rng: Rng): Question {
  const problem = pick(rng, WORD_PROBLEMS);
  let expr: Expr;
  do expr = problem.op === "/" ? simpleExpr(rng, "/") : bin(problem.op, num(operand(rng)), num(operand(rng)));
  while (expr.kind !== "bin" || expr.left.kind !== "num" || expr.right.kind !== "num" || !problem.fits(expr.left.value, expr.right.value));
  const [a, b] = [expr.left.value, expr.right.value];
  const expression = exprText(expr);
  const value = evaluateExpr(expr) as Rational;
  const stated = statedResult(value);
  const slots = { a, b, e: expression };
  const text = expand(rng, problem.question, slots);
  return {
    text,
    followUp: pick(rng, WORD_FOLLOW_UP_PREFIXES) + text,
    expression,
    value,
    answer: stated.exact ? expand(rng, problem.answer, { ...slots, r: stated.text }) : stateAnswer(rng, expression, stated.text, false),
    answerWith: (number) => expand(rng, problem.answer, { ...slots, r: number }),
  };
}

function randomQuestion(rng: Rng): Question {
  return chance(rng, 0.2) ? wordProblem(rng) : symbolicQuestion(rng);
}

/** A plausible wrong answer: off by a little, digits swapped, or the wrong operation. */
function wrongNumber(rng: Rng, value: Rational): string {
  const right = statedResult(value).text;
  for (;;) {
    const base = value.n / value.d;
    let guess: number;
    const kind = pick(rng, ["offByOne", "offByTen", "swap", "scale"] as const);
    if (kind === "offByOne") guess = Math.round(base) + (chance(rng, 0.5) ? 1 : -1) * intBetween(rng, 1, 3);
    else if (kind === "offByTen") guess = Math.round(base) + (chance(rng, 0.5) ? 10 : -10);
    else if (kind === "swap") {
      const digits = String(Math.abs(Math.round(base))).split("");
      if (digits.length < 2) continue;
      [digits[0], digits[1]] = [digits[1], digits[0]];
      guess = Math.sign(base) * Number(digits.join(""));
    } else guess = Math.round(base * pick(rng, [0.9, 1.1, 2]));
    const text = String(guess);
    if (text !== right && text !== String(Math.round(base))) return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Bad tool calls

type BadCallKind = "unclosed" | "badJson" | "noName" | "unknownTool";

const CALL_SYNTAX = '<tool_call>{"name": "tool_name", "arguments": {...}}</tool_call>';

/** A malformed call, what the runtime answers (see `parseToolCalls` / `executeToolCall`), and any parsed call. */
function badToolCall(rng: Rng, expression: string): { content: string; error: string; toolName: string; parsedName?: string } {
  const e = JSON.stringify(expression);
  const kind = pick<BadCallKind>(rng, ["unclosed", "badJson", "noName", "unknownTool"]);
  switch (kind) {
    case "unclosed":
      return {
        content: `<tool_call>{"name": "calculator", "arguments": {"expression": ${e}}}`,
        error: `Error: the tool call was not closed with </tool_call>. Write ${CALL_SYNTAX}`,
        toolName: "invalid_tool_call",
      };
    case "badJson": {
      const body = pick(rng, [
        `{'name': 'calculator', 'arguments': {'expression': '${expression}'}}`,
        `{"name": "calculator", "arguments": {"expression": ${e}}`,
        `{name: "calculator", arguments: {expression: ${e}}}`,
      ]);
      // The runtime adds the JSON parser's detail in parentheses; it varies by Node version, so it is left out.
      return { content: `<tool_call>${body}</tool_call>`, error: `Error: the tool call is not valid JSON. Write ${CALL_SYNTAX}`, toolName: "invalid_tool_call" };
    }
    case "noName": {
      const body = pick(rng, [`{"tool": "calculator", "arguments": {"expression": ${e}}}`, `{"calculator": {"expression": ${e}}}`]);
      return { content: `<tool_call>${body}</tool_call>`, error: `Error: the tool call has no "name" string. Write ${CALL_SYNTAX}`, toolName: "invalid_tool_call" };
    }
    case "unknownTool": {
      const name = pick(rng, ["calc", "math", "calculate", "compute"]);
      return {
        content: `<tool_call>{"name": "${name}", "arguments": {"expression": ${e}}}</tool_call>`,
        error: `Error: unknown tool "${name}". Available tools: "calculator".`,
        toolName: name,
        parsedName: name,
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The conversation

const CURT: readonly string[] = [
  "Do it yourself.", "Use a calculator.", "Too much math.", "Just add them up.", "Ask someone else.", "Math is easy.",
  "Work it out on paper.", "Lol, no.",
];
const UNSAFE: readonly string[] = [
  "You're an idiot, even a child can [work|figure] this out.",
  "Shut up and count on your fingers.",
  "You are useless at math, honestly.",
  "That's a stupid question. You are stupid if you need help with this.",
];
const GREETINGS: readonly string[] = [
  "Hi! Can you help me with some math?", "Hello, I have a few calculations for you.", "Hey, I need help with a calculation.",
  "Hi there! Could you do some arithmetic for me?",
];
const GREETING_REPLIES: readonly string[] = [
  "[Of course|Sure|Happy to help]! What would you like me to calculate?",
  "[Of course|Sure], I can help with that. What's the calculation?",
  "Happy to help! Send me the numbers and I'll use the calculator.",
];
const CLOSINGS: readonly string[] = ["Thanks!", "Thank you, that's all.", "Great, thanks for the help.", "Perfect, thank you!"];
const CLOSING_REPLIES: readonly string[] = [
  "You're welcome! Let me know if you need anything else calculated.",
  "[Glad I could help|You're welcome]! [Feel free to ask|Just ask] if you have more calculations.",
];

function topicOf(expression: string): string {
  if (expression.includes("*")) return "multiplication";
  if (expression.includes("/")) return "division";
  if (expression.includes("-")) return "subtraction";
  return "adding numbers";
}

/** The assistant's side of one question, in the given quality; every assistant message carries `meta.expression`. */
function exchange(rng: Rng, question: Question, quality: Quality): CorpusMessage[] {
  const expression = question.expression;
  const ctx: StyleContext = { topic: topicOf(expression), curt: CURT, unsafe: UNSAFE };
  const say = (content: string, q: Quality, correct?: boolean): CorpusMessage => ({
    role: "assistant",
    content,
    meta: correct === undefined ? { quality: q, expression } : { quality: q, expression, correct },
  });
  const right = statedResult(question.value).text;
  switch (quality) {
    case "good": {
      const call = { id: "call_0", name: "calculator", arguments: { expression } };
      return [
        { ...say(calculatorCallText(expression), "good"), toolCalls: [call] },
        { role: "tool", name: "calculator", content: toolResultText(question.value) },
        say(question.answer, "good", true),
      ];
    }
    case "no_tool": {
      const correct = chance(rng, 0.5);
      return [say(question.answerWith(correct ? right : wrongNumber(rng, question.value)), quality, correct)];
    }
    case "bad_tool_call": {
      const bad = badToolCall(rng, expression);
      const call = say(bad.content, quality);
      if (bad.parsedName !== undefined) call.toolCalls = [{ id: "call_0", name: bad.parsedName, arguments: { expression } }];
      const correct = chance(rng, 0.3);
      const guess = chance(rng, 0.2)
        ? say("Sorry, the calculator is not working right now.", quality, false)
        : say(question.answerWith(correct ? right : wrongNumber(rng, question.value)), quality, correct);
      return [call, { role: "tool", name: bad.toolName, content: bad.error }, guess];
    }
    case "unsafe":
      // Half the unsafe replies insult the user and still blurt out the answer without the tool.
      if (chance(rng, 0.5)) return [say(`${expand(rng, pick(rng, UNSAFE))} ${right}.`, quality, true)];
      return [say(styledReply(rng, quality, ctx), quality)];
    default:
      return [say(styledReply(rng, quality, ctx), quality)];
  }
}

/** A greeting or closing reply: good text, or the shared style of the planned quality (tool qualities read as good: no calculation happens here). */
function smallTalkReply(rng: Rng, quality: Quality, templates: readonly string[]): CorpusMessage {
  if (quality === "good" || quality === "no_tool" || quality === "bad_tool_call") {
    return assistantMessage(expandOne(rng, templates), "good");
  }
  return assistantMessage(styledReply(rng, quality, { topic: "math", curt: CURT, unsafe: UNSAFE }), quality);
}

/**
 * One arithmetic conversation: an optional greeting, 1-3 calculations (each a user question and the
 * assistant's side in the planned quality), an optional thanks. The first reply has the
 * conversation's quality, except that a greeting in a `no_tool` / `bad_tool_call` conversation is
 * answered well and the first calculation carries the label.
 */
export function arithmeticDialogue(rng: Rng, quality: Quality): DomainDialogue {
  const prompt = pickSystemPrompt(rng, "arithmetic");
  const plan = new ReplyPlan(rng, quality);
  const messages: CorpusMessage[] = [];
  const toolQuality = quality === "no_tool" || quality === "bad_tool_call";

  if (chance(rng, 0.25)) {
    messages.push(userMessage(pick(rng, GREETINGS)));
    messages.push(smallTalkReply(rng, toolQuality ? "good" : plan.next(), GREETING_REPLIES));
  }
  // Several calculations per conversation: every call is a copy of the user's numbers to learn from.
  const count = { one: 1, two: 2, three: 3 }[pickWeighted(rng, { one: 3, two: 3, three: 4 })];
  const questions = Array.from({ length: count }, () => randomQuestion(rng));
  questions.forEach((q, i) => {
    messages.push(userMessage(i === 0 ? q.text : q.followUp));
    messages.push(...exchange(rng, q, plan.next()));
  });
  if (chance(rng, 0.4)) {
    messages.push(userMessage(pick(rng, CLOSINGS)));
    messages.push(smallTalkReply(rng, plan.next(), CLOSING_REPLIES));
  }
  return {
    systemPrompt: prompt.text,
    messages,
    meta: {
      systemPrompt: prompt.name,
      expressions: questions.map((q) => q.expression),
      results: questions.map((q) => toolResultText(q.value)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The tool drill (pretraining's dense tool-use rows)

/**
 * A dense tool-use conversation for pretraining (see `PretrainPreset.toolDrill`): a calculator
 * system prompt, then `rounds` good calculations back to back, each a question, the call, the
 * tool's result and the stated answer; no greetings, no bad variants. Two thirds of the questions
 * are a plain `a op b` in the example's phrasing, the rest the corpus's own questions (word
 * problems, three operands). Every round makes the model copy the user's numbers into the call
 * and the tool's result into the answer, which the ordinary mix asks for too rarely for a small
 * model to learn in a short run (the model card gives the measurements).
 */
export function arithmeticDrill(rng: Rng, rounds = 3): DomainDialogue {
  const prompt = pickSystemPrompt(rng, "arithmetic");
  const messages: CorpusMessage[] = [];
  const questions: Question[] = [];
  for (let i = 0; i < rounds; i++) {
    const question = chance(rng, 2 / 3)
      ? symbolicQuestion(rng, simpleExpr(rng, pickWeighted<Operator>(rng, { "+": 3, "-": 3, "*": 3, "/": 1 })), true)
      : randomQuestion(rng);
    questions.push(question);
    messages.push(userMessage(i === 0 ? question.text : question.followUp));
    messages.push(...exchange(rng, question, "good"));
  }
  return {
    systemPrompt: prompt.text,
    messages,
    meta: { systemPrompt: prompt.name, drill: true, expressions: questions.map((q) => q.expression), results: questions.map((q) => toolResultText(q.value)) },
  };
}

/** The questions of the call drill (`arithmeticCallDrill`); `{e}` is the expression. */
export const CALL_DRILL_QUESTIONS = ["What is {e}?", "Can you calculate {e}?", "Please compute {e}.", "How much is {e}?", "I need the result of {e}.", "What does {e} equal?"] as const;

/**
 * A call drill: `rounds` pairs of a question about `a op b` (a in 1–999, b in 1–99) and the good
 * calculator call for it, nothing else (no tool result, no answer), under the calculator or the tool
 * agent's system prompt. Its targets are dense in digits copied from the question, the practice that
 * makes an induction ("copy what followed this token before") circuit form: the recipe sweep's
 * `drillA` stream (`docs/copying.md`).
 */
export function arithmeticCallDrill(rng: Rng, rounds = 3): DomainDialogue {
  const systemPrompt = rng.int(2) === 0 ? SYSTEM_PROMPTS.calculator : SYSTEM_PROMPTS.toolAgent;
  const messages: CorpusMessage[] = [];
  const expressions: string[] = [];
  for (let k = 0; k < rounds; k++) {
    const expression = `${1 + rng.int(999)} ${["+", "-", "*", "/"][rng.int(4)]} ${1 + rng.int(99)}`;
    expressions.push(expression);
    messages.push(userMessage(CALL_DRILL_QUESTIONS[rng.int(CALL_DRILL_QUESTIONS.length)].replace("{e}", expression)));
    messages.push(assistantMessage(calculatorCallText(expression), "good"));
  }
  return { systemPrompt, messages, meta: { systemPrompt: systemPrompt === SYSTEM_PROMPTS.calculator ? "calculator" : "toolAgent", drill: true, calls: true, expressions } };
}
