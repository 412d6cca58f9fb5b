import { describe, expect, it } from "vitest";
import {
  calculatorTool,
  DEFAULT_TOOL_PARAMETERS,
  evaluateArithmetic,
  executeToolCall,
  formatNumber,
  formatToolCall,
  parseToolCalls,
  stringifyToolOutput,
  toolSchema,
  validateTools,
  type ToolSpec,
} from "../../src/core/tools.js";
import { GrpoError } from "../../src/core/errors.js";

const call = (name: string, args: Record<string, unknown> = {}) => ({ id: "call_0", name, arguments: args });

describe("parseToolCalls", () => {
  it("reads every well-formed block in order and numbers them", () => {
    const text =
      'Let me compute. <tool_call>{"name": "calculator", "arguments": {"expression": "2+3"}}</tool_call>' +
      ' and <tool_call>\n{"name": "search", "arguments": {"query": "tfjs"}}\n</tool_call> done';
    const parsed = parseToolCalls(text);
    expect(parsed.calls).toEqual([
      { id: "call_0", name: "calculator", arguments: { expression: "2+3" } },
      { id: "call_1", name: "search", arguments: { query: "tfjs" } },
    ]);
    expect(parsed.errors).toEqual([]);
    expect(parsed.textWithoutCalls).toBe("Let me compute.  and  done");
  });

  it("returns no calls for plain text", () => {
    expect(parseToolCalls("The answer is 5.")).toEqual({ calls: [], errors: [], textWithoutCalls: "The answer is 5." });
  });

  it("turns malformed blocks into errors, never throws", () => {
    const text = [
      "<tool_call>{not json}</tool_call>",
      '<tool_call>{"arguments": {}}</tool_call>',
      '<tool_call>{"name": "calculator", "arguments": [1, 2]}</tool_call>',
      '<tool_call>["calculator"]</tool_call>',
      '<tool_call>{"name": "ok"}</tool_call>',
      '<tool_call>{"name": "calculator", "arguments": {"expression": "1+',
    ].join(" ");
    const parsed = parseToolCalls(text);
    expect(parsed.calls).toEqual([{ id: "call_0", name: "ok", arguments: {} }]);
    expect(parsed.errors.map((e) => e.message)).toEqual([
      expect.stringContaining("not valid JSON"),
      expect.stringContaining('no "name"'),
      expect.stringContaining('"arguments" of tool call "calculator" must be a JSON object'),
      expect.stringContaining("must be a JSON object"),
      expect.stringContaining("not closed"),
    ]);
    expect(parsed.errors[0].raw).toBe("<tool_call>{not json}</tool_call>");
    expect(parsed.errors[4].raw.startsWith('<tool_call>{"name": "calculator"')).toBe(true);
  });

  it("accepts arguments given as a JSON string (OpenAI style)", () => {
    const parsed = parseToolCalls('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>');
    expect(parsed.calls[0].arguments).toEqual({ x: 1 });
  });

  it("formats calls with the chat template's JSON spacing, as the corpus writes them", async () => {
    const call = { name: "calculator", arguments: { expression: "37 * 12" } };
    expect(formatToolCall(call)).toBe('<tool_call>{"name": "calculator", "arguments": {"expression": "37 * 12"}}</tool_call>');
    const { calculatorCallText } = await import("../../scripts/corpus/generate.js");
    expect(calculatorCallText("37 * 12")).toBe(formatToolCall(call));
  });

  it("round-trips formatToolCall", () => {
    const original = { name: "calculator", arguments: { expression: "(1+2)*3", nested: { a: [1, "b"] } } };
    const text = formatToolCall(original);
    expect(text.startsWith("<tool_call>{")).toBe(true);
    expect(text.endsWith("}</tool_call>")).toBe(true);
    expect(parseToolCalls(`before ${text} after`).calls).toEqual([{ id: "call_0", ...original }]);
  });
});

describe("executeToolCall", () => {
  const echo: ToolSpec = { name: "echo", description: "echo", function: (args) => args.input };

  it("runs sync and async tools and stringifies results", async () => {
    const tools: ToolSpec[] = [
      echo,
      { name: "obj", description: "", function: async () => ({ a: 1, b: [true, null] }) },
      { name: "num", description: "", function: () => 42 },
      { name: "nothing", description: "", function: () => undefined },
    ];
    expect(await executeToolCall({ id: "c7", name: "echo", arguments: { input: "hi" } }, tools)).toEqual({
      toolCallId: "c7",
      name: "echo",
      content: "hi",
      isError: false,
    });
    expect((await executeToolCall(call("obj"), tools)).content).toBe('{"a":1,"b":[true,null]}');
    expect((await executeToolCall(call("num"), tools)).content).toBe("42");
    expect((await executeToolCall(call("nothing"), tools)).content).toBe("");
  });

  it("reports an unknown tool with the available names", async () => {
    const result = await executeToolCall(call("weather"), [echo, calculatorTool]);
    expect(result.isError).toBe(true);
    expect(result.content).toBe('Error: unknown tool "weather". Available tools: "echo", "calculator".');
  });

  it("turns a throwing tool (sync or async) into an error result", async () => {
    const tools: ToolSpec[] = [
      { name: "boom", description: "", function: () => { throw new Error("disk on fire"); } },
      { name: "reject", description: "", function: async () => { throw new TypeError("bad type"); } },
    ];
    const sync = await executeToolCall(call("boom"), tools);
    expect(sync).toMatchObject({ isError: true, content: 'Error: tool "boom" failed: disk on fire' });
    const asyncResult = await executeToolCall(call("reject"), tools);
    expect(asyncResult).toMatchObject({ isError: true, content: 'Error: tool "reject" failed: bad type' });
  });

  it("times out a slow tool and aborts its signal", async () => {
    let sawAbort = false;
    const slow: ToolSpec = {
      name: "slow",
      description: "",
      function: (_args, { signal }) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            sawAbort = true;
          });
          setTimeout(() => resolve("late"), 2000);
        }),
    };
    const started = Date.now();
    const result = await executeToolCall(call("slow"), [slow], { timeoutMs: 50 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ isError: true, content: 'Error: tool "slow" timed out after 50 ms.' });
    expect(sawAbort).toBe(true);
  });

  it("truncates huge output with a marker", async () => {
    const big: ToolSpec = { name: "big", description: "", function: () => "x".repeat(10_000) };
    const result = await executeToolCall(call("big"), [big], { maxOutputChars: 100 });
    expect(result.isError).toBe(false);
    expect(result.content.startsWith("x".repeat(100) + "\n")).toBe(true);
    expect(result.content).toContain("[output truncated: showing 100 of 10000 characters]");
    expect(result.content.replace(/[^x]/g, "").length).toBe(100);
  });

  it("stringifies circular objects without throwing", () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(stringifyToolOutput(loop)).toBe("[object Object]");
  });
});

describe("validateTools", () => {
  it("fills in the default parameters and keeps given ones", () => {
    const [a, b] = validateTools([
      { name: "a", description: "A", function: () => 1 },
      calculatorTool,
    ]);
    expect(a.parameters).toEqual(DEFAULT_TOOL_PARAMETERS);
    expect(b.parameters).toEqual(calculatorTool.parameters);
    expect(toolSchema(b)).toEqual({ name: "calculator", description: calculatorTool.description, parameters: calculatorTool.parameters });
  });
});

describe("calculator", () => {
  const cases: Array<[string, string]> = [
    ["2+3", "5"],
    ["0.1+0.2", "0.3"],
    ["2 + 3 * 4", "14"],
    ["(2 + 3) * 4", "20"],
    ["2^10", "1024"],
    ["7 % 3", "1"],
    ["-3 + 1", "-2"],
    ["-(2.5 * 2)", "-5"],
    ["10 / 4", "2.5"],
    ["1/3", "0.333333333333"],
    ["sqrt(16) + abs(-2)", "6"],
    ["round(2.5) + floor(2.7) + ceil(2.1)", "8"],
    ["min(4, 2, 8) + max(1, 9)", "11"],
    ["log(exp(2))", "2"],
    ["1e3 + 1", "1001"],
    ["2 * PI", "6.28318530718"],
    ["1.1 * 3", "3.3"],
    ["0 * -1", "0"],
  ];
  it.each(cases)("%s = %s", async (expression, expected) => {
    const result = await executeToolCall(call("calculator", { expression }), [calculatorTool]);
    expect(result).toMatchObject({ isError: false, content: expected });
  });

  it("matches JavaScript arithmetic on random expressions", () => {
    // Independent reference: JS's own operators on the same numbers.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 50; i++) {
      const a = Math.round(rand() * 2000 - 1000) / 10;
      const b = Math.round(rand() * 2000 - 1000) / 10 || 1;
      const c = Math.round(rand() * 100) / 10;
      const expected = (a * b - c) / b + (a % 7);
      const got = evaluateArithmetic(`(${a} * ${b} - ${c}) / ${b} + (${a} % 7)`);
      expect(got).toBeCloseTo(expected, 9);
    }
  });

  it("formats numbers without float noise", () => {
    expect(formatNumber(0.1 + 0.2)).toBe("0.3");
    expect(formatNumber(-0)).toBe("0");
    expect(formatNumber(123456789012345)).toBe("123456789012000");
    expect(formatNumber(1e-7)).toBe("1e-7");
  });

  const hostile = [
    "process.exit()",
    "constructor",
    "a=1",
    "toString",
    "this",
    "__proto__",
    "x => x",
    "f(x) = x",
    "require('fs')",
    "'abc'",
    "[1, 2]",
    "1; 2",
    "sin(1)",
    "random()",
    "3!",
    "1 == 1 ? 2 : 3",
    "x",
    "Math.PI",
    "globalThis",
    "`1`",
    "",
    "1/0",
    "2 ^ 5000",
  ];
  it.each(hostile)("rejects %j", async (expression) => {
    expect(() => evaluateArithmetic(expression)).toThrow(GrpoError);
    const result = await executeToolCall(call("calculator", { expression }), [calculatorTool]);
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/^Error: tool "calculator" failed: Cannot calculate: /);
  });

  it("rejects a non-string expression with a usable hint", async () => {
    const result = await executeToolCall(call("calculator", { expression: 5 }), [calculatorTool]);
    expect(result.isError).toBe(true);
    expect(result.content).toContain('{"expression": "2+3"}');
  });

  it("does not execute code hidden in an expression", async () => {
    const marker = globalThis as { pwned?: boolean };
    delete marker.pwned;
    for (const expression of ["constructor.constructor('globalThis.pwned=true')()", "(1).constructor"]) {
      await executeToolCall(call("calculator", { expression }), [calculatorTool]);
    }
    expect(marker.pwned).toBeUndefined();
  });
});
