/**
 * Tools an agent can call: their specs, the tool-call syntax a model writes, running a call safely,
 * and a safe calculator.
 *
 * Tool-call syntax (the Hugging Face chat-template convention used by Qwen, Hermes and others): the
 * model writes one block per call anywhere in its reply,
 *
 *     <tool_call>{"name": "calculator", "arguments": {"expression": "2+3"}}</tool_call>
 *
 * {@link parseToolCalls} reads those blocks and never throws: a malformed block becomes an error
 * entry the agent can show the model. {@link executeToolCall} never throws either: an unknown tool, an
 * exception, a timeout or a huge output all come back as a {@link ToolResult} with `isError` and a
 * text the model can read, so one bad call cannot crash an episode.
 */
import { z } from "zod";
import { Parser } from "expr-eval-fork";
import { GrpoError } from "./errors.js";
import { parseWith } from "./validation.js";
import type { ToolSchema } from "./policy.js";
import type { ToolCall, ToolResult } from "./trajectory.js";

export type { ToolCall, ToolResult } from "./trajectory.js";

/** What a tool function receives besides its arguments. */
export interface ToolInvocation {
  /** Aborted when the call times out: long-running async tools should stop when it fires. */
  signal: AbortSignal;
}

/**
 * A tool's implementation. It receives the call's parsed JSON `arguments` object (the Python guide's
 * `**kwargs`, so `({ expression }) => …`) and returns any value: strings are passed to the model as
 * they are, other values as JSON.
 */
export type ToolFunction = (args: Record<string, unknown>, invocation: ToolInvocation) => unknown;

/** A tool the agent may call: the guide's `{name, description, function}`, plus an optional JSON schema. */
export interface ToolSpec {
  /** The name the model writes in its call: letters, digits, `_` or `-`, starting with a letter or `_`, at most 64 characters. Unique per agent. */
  name: string;
  /** What the tool does, shown to the model. */
  description: string;
  /** The implementation (see {@link ToolFunction}). */
  function: ToolFunction;
  /**
   * JSON schema of the arguments object, shown to the model. Default ({@link DEFAULT_TOOL_PARAMETERS}):
   * one string argument named `input`. Give a schema whenever the function reads other names
   * (e.g. `expression`), so that the model is told to use them. Arguments are not validated against it.
   */
  parameters?: Record<string, unknown>;
}

/** The arguments schema of a tool that declares none: a single string argument named `input`. */
export const DEFAULT_TOOL_PARAMETERS: Readonly<Record<string, unknown>> = Object.freeze({
  type: "object",
  properties: { input: { type: "string", description: "The input for the tool." } },
  required: ["input"],
});

const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

const toolSpecSchema = z.object({
  name: z
    .string({ error: "a tool name string, e.g. \"calculator\"" })
    .regex(TOOL_NAME, { error: "letters, digits, `_` or `-`, starting with a letter or `_`, at most 64 characters" }),
  description: z.string({ error: "a string describing what the tool does" }),
  function: z.custom<ToolFunction>((v) => typeof v === "function", { error: "a function (args) => result" }),
  parameters: z
    .custom<Record<string, unknown>>((v) => v !== null && typeof v === "object" && !Array.isArray(v), {
      error: "a JSON-schema object, e.g. { type: \"object\", properties: {...} }",
    })
    .optional(),
});

/**
 * Checks a list of tool specs (names identifier-like and unique, description a string, function
 * callable) and returns copies with `parameters` filled in. Throws a GrpoError "invalid_tool" naming
 * the tool's index and field.
 */
export function validateTools(tools: readonly ToolSpec[], root = "tools"): ToolSpec[] {
  if (!Array.isArray(tools)) {
    throw new GrpoError("invalid_tool", "Tools must be given as an array.", {
      field: root,
      value: tools,
      expected: "an array of { name, description, function }",
    });
  }
  const seen = new Set<string>();
  return tools.map((tool, i) => {
    const spec = parseWith(toolSpecSchema, tool, {
      root: `${root}[${i}]`,
      code: "invalid_tool",
      fix: "each tool is { name: \"calculator\", description: \"...\", function: (args) => ... }.",
    });
    if (seen.has(spec.name)) {
      throw new GrpoError("invalid_tool", "Two tools share a name.", {
        field: `${root}[${i}].name`,
        value: spec.name,
        expected: "a name used by no other tool",
        fix: "rename one of the tools; the model picks a tool by its name.",
      });
    }
    seen.add(spec.name);
    return {
      name: spec.name,
      description: spec.description,
      function: spec.function,
      parameters: spec.parameters ?? structuredClone(DEFAULT_TOOL_PARAMETERS),
    };
  });
}

/** The schema a chat template advertises for a tool. */
export function toolSchema(tool: ToolSpec): ToolSchema {
  return {
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters ?? structuredClone(DEFAULT_TOOL_PARAMETERS),
  };
}

// ---------------------------------------------------------------------------------------------
// Tool-call syntax

/** A tool-call block that could not be read. */
export interface ToolCallParseError {
  /** The block's text as the model wrote it (tags included). */
  raw: string;
  /** What is wrong with it, phrased for the model. */
  message: string;
}

/** What {@link parseToolCalls} found in a reply. */
export interface ParsedToolCalls {
  /** The well-formed calls, in order, with ids `call_0`, `call_1`, … */
  calls: ToolCall[];
  /** One entry per malformed block. */
  errors: ToolCallParseError[];
  /** The reply with every tool-call block removed, trimmed. */
  textWithoutCalls: string;
}

const OPEN_TAG = "<tool_call>";
const CLOSE_TAG = "</tool_call>";
const CALL_EXAMPLE = '<tool_call>{"name": "tool_name", "arguments": {...}}</tool_call>';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Reads one block's JSON body into a call, or says what is wrong with it. */
function readCallBody(body: string): { name: string; arguments: Record<string, unknown> } | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return `the tool call is not valid JSON (${(error as Error).message}). Write ${CALL_EXAMPLE}`;
  }
  if (!isPlainObject(json)) return `the tool call must be a JSON object. Write ${CALL_EXAMPLE}`;
  if (typeof json.name !== "string" || json.name.trim() === "") {
    return `the tool call has no "name" string. Write ${CALL_EXAMPLE}`;
  }
  let args: unknown = json.arguments ?? {};
  // OpenAI-style clients send arguments as a JSON string; accept it when it holds an object.
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch {
      // fall through to the object check below
    }
  }
  if (!isPlainObject(args)) {
    return `the "arguments" of tool call "${json.name}" must be a JSON object, e.g. {"expression": "2+3"}`;
  }
  return { name: json.name.trim(), arguments: args };
}

/**
 * Finds every `<tool_call>{…}</tool_call>` block in `text`. Never throws: malformed JSON, a missing
 * name, non-object arguments or a block left unclosed (e.g. cut off by `maxNewTokens`) become entries
 * of `errors`. `arguments` may be omitted (= `{}`) or be a JSON string holding an object.
 */
export function parseToolCalls(text: string): ParsedToolCalls {
  const calls: ToolCall[] = [];
  const errors: ToolCallParseError[] = [];
  const kept: string[] = [];
  let cursor = 0;
  while (cursor < text.length) {
    const open = text.indexOf(OPEN_TAG, cursor);
    if (open < 0) break;
    kept.push(text.slice(cursor, open));
    const close = text.indexOf(CLOSE_TAG, open + OPEN_TAG.length);
    if (close < 0) {
      errors.push({
        raw: text.slice(open),
        message: `the tool call was not closed with ${CLOSE_TAG}. Write ${CALL_EXAMPLE}`,
      });
      cursor = text.length;
      break;
    }
    const raw = text.slice(open, close + CLOSE_TAG.length);
    const parsed = readCallBody(text.slice(open + OPEN_TAG.length, close).trim());
    if (typeof parsed === "string") errors.push({ raw, message: parsed });
    else calls.push({ id: `call_${calls.length}`, ...parsed });
    cursor = close + CLOSE_TAG.length;
  }
  kept.push(text.slice(cursor));
  return { calls, errors, textWithoutCalls: kept.join("").trim() };
}

/** Renders a call in the syntax {@link parseToolCalls} reads: `<tool_call>{"name":…,"arguments":…}</tool_call>`. */
export function formatToolCall(call: Pick<ToolCall, "name" | "arguments">): string {
  return `${OPEN_TAG}${spacedJson({ name: call.name, arguments: call.arguments })}${CLOSE_TAG}`;
}

/**
 * JSON with Python's default separators (`", "` and `": "`), the spelling chat templates' `tojson`
 * produce, so formatted calls match what the model saw in its training data.
 */
export function spacedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(spacedJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${spacedJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

// ---------------------------------------------------------------------------------------------
// Running a call

/** Options of {@link executeToolCall}. */
export interface ExecuteToolOptions {
  /** Milliseconds a call may take before it counts as failed (default 5000). Cannot stop a synchronous busy loop. */
  timeoutMs?: number;
  /** The longest result text given to the model; longer output is cut with a marker (default 2000 characters). */
  maxOutputChars?: number;
}

/** Turns any tool return value into the text the model sees (objects as JSON). */
export function stringifyToolOutput(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" || value === null) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Cuts `text` to `maxChars` characters and says how much was cut, so the model knows it saw a part. */
function truncateOutput(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}\n[output truncated: showing ${maxChars} of ${text.length} characters]`;
}

class ToolTimeout extends Error {}

/**
 * Runs one call against `tools` and returns what the model should see. Never throws: an unknown
 * tool, an exception, a timeout (`timeoutMs`, default 5000) or output over `maxOutputChars`
 * (default 2000; cut with a marker) come back as a ToolResult whose `content` explains what happened
 * (`isError` true except for truncation).
 */
export async function executeToolCall(
  call: ToolCall,
  tools: readonly ToolSpec[],
  options: ExecuteToolOptions = {},
): Promise<ToolResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxOutputChars = options.maxOutputChars ?? 2000;
  const result = (content: string, isError: boolean): ToolResult => ({
    toolCallId: call.id,
    name: call.name,
    content: truncateOutput(content, maxOutputChars),
    isError,
  });

  const tool = tools.find((t) => t.name === call.name);
  if (!tool) {
    const names = tools.map((t) => `"${t.name}"`).join(", ") || "none";
    return result(`Error: unknown tool "${call.name}". Available tools: ${names}.`, true);
  }

  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ToolTimeout());
    }, timeoutMs);
  });
  try {
    // Promise.resolve().then(...) turns a synchronous throw into a rejection we can catch below;
    // the tool gets a copy of the arguments so it cannot change the recorded call.
    const run = Promise.resolve().then(() => tool.function(structuredClone(call.arguments ?? {}), { signal: controller.signal }));
    const value = await Promise.race([run, timeout]);
    return result(stringifyToolOutput(value), false);
  } catch (error) {
    if (error instanceof ToolTimeout) {
      return result(`Error: tool "${call.name}" timed out after ${timeoutMs} ms.`, true);
    }
    const message = error instanceof Error ? error.message : stringifyToolOutput(error);
    return result(`Error: tool "${call.name}" failed: ${message}`, true);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The safe calculator

/** Function names the calculator accepts (`log` is the natural logarithm). */
export const CALCULATOR_FUNCTIONS = ["sqrt", "abs", "round", "floor", "ceil", "min", "max", "log", "exp"] as const;
/** Constants the calculator accepts. */
export const CALCULATOR_CONSTANTS = ["PI", "E"] as const;

const ALLOWED_NAMES = new Set<string>([...CALCULATOR_FUNCTIONS, ...CALCULATOR_CONSTANTS]);
// Digits, operators, parentheses, commas, dots, spaces and letters (names are checked separately).
const ALLOWED_CHARS = /^[0-9A-Za-z_+\-*/^%()., \t\n]*$/;
// A name is a run of letters/digits/_ not preceded by a digit or dot (so the `e3` of `1e3` is no name).
const NAME = /(?<![0-9.A-Za-z_])[A-Za-z_][A-Za-z0-9_]*/g;

function makeArithmeticParser(): Parser {
  const parser = new Parser({
    allowMemberAccess: false,
    operators: {
      assignment: false,
      fndef: false,
      comparison: false,
      concatenate: false,
      conditional: false,
      factorial: false,
      in: false,
      length: false,
      logical: false,
      random: false,
    },
  });
  // Defence in depth behind the name check: the parser knows only what we allow.
  const keep = <T>(table: Record<string, T>, names: readonly string[]): Record<string, T> =>
    Object.fromEntries(names.filter((n) => n in table).map((n) => [n, table[n]]));
  parser.functions = keep(parser.functions as Record<string, unknown>, ["min", "max"]);
  parser.unaryOps = keep(parser.unaryOps as Record<string, unknown>, [
    "-", "+", "sqrt", "abs", "round", "floor", "ceil", "log", "exp",
  ]);
  parser.consts = keep(parser.consts as Record<string, unknown>, ["PI", "E"]);
  return parser;
}

const arithmeticParser = makeArithmeticParser();

function calculatorError(expression: unknown, reason: string): GrpoError {
  return new GrpoError("invalid_argument", `Cannot calculate: ${reason}`, {
    field: "expression",
    value: expression,
    expected:
      "arithmetic with numbers, + - * / ^ %, parentheses and " + [...CALCULATOR_FUNCTIONS].join(", "),
  });
}

/**
 * Evaluates an arithmetic expression safely (no variables, assignments, member access, strings or
 * user functions; never `eval`). Allowed: numbers (decimals, `1e3`), `+ - * / ^ %`, parentheses,
 * unary minus, the functions sqrt, abs, round, floor, ceil, min, max, log (natural), exp and the
 * constants PI, E. Throws a GrpoError "invalid_argument" for anything else or a non-finite result.
 */
export function evaluateArithmetic(expression: string): number {
  if (typeof expression !== "string" || expression.trim() === "") {
    throw calculatorError(expression, "the expression must be a non-empty string.");
  }
  if (expression.length > 500) throw calculatorError(expression, "the expression is longer than 500 characters.");
  if (!ALLOWED_CHARS.test(expression)) {
    throw calculatorError(expression, "it contains characters that are not arithmetic.");
  }
  for (const name of expression.match(NAME) ?? []) {
    if (!ALLOWED_NAMES.has(name)) throw calculatorError(expression, `unknown name "${name}".`);
  }
  let value: unknown;
  try {
    const parsed = arithmeticParser.parse(expression);
    if (parsed.variables().length > 0) throw new Error(`unknown name "${parsed.variables()[0]}".`);
    value = parsed.evaluate({});
  } catch (error) {
    if (error instanceof GrpoError) throw error;
    throw calculatorError(expression, (error as Error).message);
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw calculatorError(expression, "the result is not a finite number (e.g. division by zero).");
  }
  return value;
}

/**
 * Formats a number without floating-point noise: rounded to 12 significant digits, then printed in
 * JavaScript's shortest form (0.1 + 0.2 -> "0.3", 1/3 -> "0.333333333333", -0 -> "0").
 */
export function formatNumber(value: number): string {
  const rounded = Number(value.toPrecision(12));
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/**
 * A safe calculator tool: `{"expression": "2 + 3 * 4"}` -> `"14"`. See {@link evaluateArithmetic}
 * for what it accepts; anything else (e.g. `process.exit()`, `constructor`, `a=1`) is an error
 * result the model can read.
 */
export const calculatorTool: ToolSpec = {
  name: "calculator",
  description:
    "Evaluate an arithmetic expression. Supports + - * / ^ %, parentheses and sqrt, abs, round, floor, ceil, min, max, log, exp.",
  parameters: {
    type: "object",
    properties: { expression: { type: "string", description: "The expression, e.g. \"(2 + 3) * 4\"." } },
    required: ["expression"],
  },
  function: (args) => {
    const expression = args.expression ?? args.input;
    if (typeof expression !== "string") {
      throw calculatorError(expression, 'pass the expression as a string: {"expression": "2+3"}.');
    }
    return formatNumber(evaluateArithmetic(expression));
  },
};
