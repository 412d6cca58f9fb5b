/**
 * The seeded chat corpus (scripts/corpus): determinism, the documented mix, message structure,
 * calculator tool calls checked against an independent evaluator and a Python Fraction reference,
 * planning keywords, and that the built-in rewards tell its good replies from its bad ones (the
 * premise of GRPO on the pretrained policy).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import { HelpfulnessReward, SafetyReward, TaskCompletionReward } from "../../src/core/rewards/index.js";
import { Rng } from "../../src/core/rng.js";
import { calculatorTool, evaluateArithmetic, executeToolCall, formatNumber, parseToolCalls } from "../../src/core/tools.js";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { runCorpusCli } from "../../scripts/corpus/cli.js";
import {
  calculatorCallText,
  corpusStats,
  DOMAIN_MIX,
  DOMAIN_SYSTEM_PROMPTS,
  DOMAINS,
  expectedQualityMix,
  generateConversation,
  generateCorpus,
  generateDrillConversation,
  PLANNING_ACTIONS,
  QUALITIES,
  QUALITY_MIX,
  qualityMixOf,
  renderForPretraining,
  REPLY_PERSISTENCE,
  SYSTEM_PROMPTS,
  type CorpusConversation,
  type CorpusMessage,
  type Quality,
} from "../../scripts/corpus/generate.js";
import { expand } from "../../scripts/corpus/text.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");

const SEED = 1;
const SIZE = 20_000;
let corpus: CorpusConversation[];
let generationSeconds: number;
let workDir: string;

beforeAll(() => {
  const began = performance.now();
  corpus = generateCorpus({ seed: SEED, conversations: SIZE });
  generationSeconds = (performance.now() - began) / 1000;
  workDir = mkdtempSync(join(tmpdir(), "corpus-test-"));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const assistantMessages = (c: CorpusConversation) => c.messages.filter((m) => m.role === "assistant");
const ofDomain = (domain: string) => corpus.filter((c) => c.domain === domain);
const CHAT_DOMAINS = DOMAINS.filter((d) => d !== "arithmetic");

/** Whole-word, case-insensitive keyword test (what TaskCompletionReward does). */
function mentions(text: string, keyword: string): boolean {
  return new RegExp(`\\b${keyword}\\b`, "i").test(text);
}

function planningGroupsCovered(text: string): number {
  return PLANNING_ACTIONS.filter((a) => a.keywords.some((k) => mentions(text, k))).length;
}

function turnsOf(c: CorpusConversation): ConversationTurn[] {
  return c.messages.map((m) => new ConversationTurn({ role: m.role, content: m.content }));
}

describe("determinism", () => {
  it("generates the same corpus for the same seed, byte for byte", () => {
    const a = JSON.stringify(generateCorpus({ seed: 7, conversations: 400 }));
    const b = JSON.stringify(generateCorpus({ seed: 7, conversations: 400 }));
    expect(a).toBe(b);
    expect(JSON.stringify(corpus.slice(0, 400))).toBe(JSON.stringify(generateCorpus({ seed: SEED, conversations: 400 })));
  });

  it("makes conversation i independent of the corpus size and start", () => {
    expect(generateConversation(SEED, 12_345)).toEqual(corpus[12_345]);
    expect(generateCorpus({ seed: SEED, start: 100, conversations: 5 })).toEqual(corpus.slice(100, 105));
  });

  it("generates a different corpus for a different seed", () => {
    const other = generateCorpus({ seed: 2, conversations: 400 });
    const body = (c: CorpusConversation) => JSON.stringify({ ...c, id: "" });
    const same = other.filter((c, i) => body(c) === body(corpus[i])).length;
    expect(same / other.length).toBeLessThan(0.02);
    expect(new Set(other.map((c) => c.domain)).size).toBe(DOMAINS.length);
  });
});

describe("mix and size", () => {
  it("generates 20 000 conversations in under 20 s", () => {
    expect(corpus).toHaveLength(SIZE);
    expect(generationSeconds).toBeLessThan(20);
  });

  it("documents a quality mix that the domain tables multiply out to", () => {
    expect(Object.values(DOMAIN_MIX).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const expected = expectedQualityMix();
    for (const q of QUALITIES) expect(expected[q]).toBeCloseTo(QUALITY_MIX[q], 12);
    expect(QUALITY_MIX.good).toBeCloseTo(0.5, 12);
  });

  it("matches the documented domain and quality mix within 1.5 points", () => {
    const stats = corpusStats(corpus);
    for (const d of DOMAINS) expect(Math.abs(stats.byDomain[d] / SIZE - DOMAIN_MIX[d])).toBeLessThan(0.015);
    for (const q of QUALITIES) expect(Math.abs(stats.byQuality[q] / SIZE - QUALITY_MIX[q])).toBeLessThan(0.015);
  });

  it("uses the arithmetic-only labels in arithmetic only, and every label of each domain's table", () => {
    const stats = corpusStats(corpus);
    for (const d of DOMAINS) {
      const mix = qualityMixOf(d);
      for (const q of QUALITIES) {
        if ((mix[q] ?? 0) > 0) expect(stats.byDomainQuality[d][q], `${d}/${q}`).toBeGreaterThan(0);
        else expect(stats.byDomainQuality[d][q], `${d}/${q}`).toBe(0);
      }
    }
    expect(stats.byDomainQuality.general.no_tool + stats.byDomainQuality.support.bad_tool_call).toBe(0);
  });

  it("labels a chat conversation by its first reply and keeps a bad label on later replies about 75% of the time", () => {
    let kept = 0;
    let later = 0;
    for (const c of corpus) {
      if (c.domain === "arithmetic") continue;
      const replies = assistantMessages(c);
      expect(replies[0].meta?.quality).toBe(c.quality);
      if (c.quality === "good") {
        expect(replies.every((m) => m.meta?.quality === "good")).toBe(true);
        continue;
      }
      for (const m of replies.slice(1)) {
        later++;
        if (m.meta?.quality === c.quality) kept++;
        else expect(m.meta?.quality).toBe("good");
      }
    }
    expect(Math.abs(kept / later - REPLY_PERSISTENCE)).toBeLessThan(0.03);
  });

  it("keeps chat conversations around 100-400 words and reports stats that add up", () => {
    const stats = corpusStats(corpus);
    for (const d of CHAT_DOMAINS) {
      expect(stats.meanWordsByDomain[d]).toBeGreaterThan(100);
      expect(stats.meanWordsByDomain[d]).toBeLessThan(400);
    }
    expect(stats.meanWordsByDomain.arithmetic).toBeGreaterThan(30);
    // Independent recount of a slice.
    const slice = corpus.slice(0, 300);
    const sliceStats = corpusStats(slice);
    let words = 0;
    const replies: Record<string, number> = {};
    for (const c of slice) {
      for (const m of c.messages) {
        if (m.role !== "system") words += m.content.split(/\s+/).filter((w) => w !== "").length;
        if (m.role === "assistant") replies[m.meta!.quality] = (replies[m.meta!.quality] ?? 0) + 1;
      }
    }
    expect(sliceStats.meanWords).toBeCloseTo(words / 300, 9);
    for (const q of QUALITIES) expect(sliceStats.assistantMessagesByQuality[q]).toBe(replies[q] ?? 0);
    expect(Object.values(sliceStats.byDomain).reduce((a, b) => a + b, 0)).toBe(300);
    // Bad styles really differ in length from good replies.
    expect(stats.meanAssistantWordsByQuality.curt).toBeLessThan(8);
    expect(stats.meanAssistantWordsByQuality.rambling).toBeGreaterThan(3 * stats.meanAssistantWordsByQuality.good);
  });
});

describe("structure", () => {
  const prompts = new Set<string>(Object.values(SYSTEM_PROMPTS));

  // These walk every message of the corpus: they collect problems and assert once (an expect per
  // message would dominate the test's run time).
  it("starts with a system prompt of the domain and alternates user and assistant turns", () => {
    const problems: string[] = [];
    const ids = new Set<string>();
    for (const c of corpus) {
      const fail = (what: string) => problems.push(`${c.id}: ${what}`);
      ids.add(c.id);
      const [system, ...rest] = c.messages;
      if (system.role !== "system" || !prompts.has(system.content)) fail("no known system prompt first");
      if (!DOMAIN_SYSTEM_PROMPTS[c.domain].some((name) => SYSTEM_PROMPTS[name] === system.content)) fail("system prompt of another domain");
      if (rest[0].role !== "user") fail("does not open with a user message");
      if (rest[rest.length - 1].role !== "assistant") fail("does not end with an assistant message");
      for (let i = 1; i < rest.length; i++) {
        const [prev, cur] = [rest[i - 1], rest[i]];
        if (cur.role === "user" && prev.role !== "assistant") fail(`user after ${prev.role}`);
        if (cur.role === "assistant" && prev.role === "assistant") fail("two assistant messages in a row");
        if (cur.role === "tool" && (c.domain !== "arithmetic" || prev.role !== "assistant" || !prev.content.includes("<tool_call>"))) {
          fail("tool message without a tool call before it");
        }
        if (cur.role === "system") fail("a second system message");
      }
      for (const m of rest) {
        if (m.role === "assistant" && !QUALITIES.includes(m.meta?.quality as Quality)) fail("assistant message without a quality");
        if (m.role !== "assistant" && m.meta !== undefined) fail(`${m.role} message with meta`);
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(ids.size).toBe(SIZE);
  });

  it("has 2-4 user turns in chat domains (3-4 in tutoring) and 1-5 in arithmetic", () => {
    const counts = new Map<string, Set<number>>();
    for (const c of corpus) {
      const users = c.messages.filter((m) => m.role === "user").length;
      if (!counts.has(c.domain)) counts.set(c.domain, new Set());
      counts.get(c.domain)!.add(users);
    }
    const sorted = (d: string) => [...counts.get(d)!].sort();
    expect(sorted("general")).toEqual([2, 3, 4]);
    expect(sorted("support")).toEqual([2, 3, 4]);
    expect(sorted("planning")).toEqual([2, 3, 4]);
    expect(sorted("tutoring")).toEqual([3, 4]);
    expect(sorted("arithmetic")).toEqual([1, 2, 3, 4, 5]);
  });

  it("leaves no template syntax in the text and survives a JSON round trip", () => {
    const leftover = /\{[A-Za-z]\w*\}|\[[^\]\n]*\|[^\]\n]*\]|undefined|NaN/;
    const problems = corpus.flatMap((c) => c.messages.slice(1).filter((m) => leftover.test(m.content)).map((m) => `${c.id}: ${m.content}`));
    expect(problems.slice(0, 5)).toEqual([]);
    expect(JSON.parse(JSON.stringify(corpus.slice(0, 2000)))).toEqual(corpus.slice(0, 2000));
  });

  it("varies the text: many distinct user openings and good replies", () => {
    const openings = new Set(corpus.map((c) => c.messages[1].content));
    const goodReplies = new Set(corpus.flatMap((c) => assistantMessages(c).filter((m) => m.meta?.quality === "good").map((m) => m.content)));
    expect(openings.size).toBeGreaterThan(5000);
    expect(goodReplies.size).toBeGreaterThan(15_000);
  });
});

describe("arithmetic with the calculator", () => {
  const arithmetic = () => ofDomain("arithmetic");
  /** Python's exact value, stated answer and tool text for every expression of the corpus. */
  let reference: Map<string, { n: number; d: number; stated: string; tool: string }>;

  beforeAll(() => {
    const expressions = [...new Set(arithmetic().flatMap((c) => c.meta!.expressions as string[]))];
    const input = join(workDir, "expressions.json");
    const output = join(workDir, "values.json");
    writeFileSync(input, JSON.stringify(expressions));
    execFileSync("/usr/bin/python3", [join(here, "../reference/corpus_arithmetic.py"), input, output]);
    const rows = JSON.parse(readFileSync(output, "utf8")) as Array<[number, number, string, string]>;
    reference = new Map(expressions.map((e, i) => [e, { n: rows[i][0], d: rows[i][1], stated: rows[i][2], tool: rows[i][3] }]));
  });

  it("writes good tool calls in the exact syntax, parsed into toolCalls, with the right result", () => {
    const callSyntax = /^<tool_call>\{"name": "calculator", "arguments": \{"expression": "([0-9+\-*/() ]+)"\}\}<\/tool_call>$/;
    let calls = 0;
    for (const c of arithmetic()) {
      c.messages.forEach((m, i) => {
        if (m.role !== "assistant" || m.meta?.quality !== "good" || !m.content.startsWith("<tool_call>")) return;
        calls++;
        const expression = m.meta.expression!;
        expect(m.content).toMatch(callSyntax);
        expect(m.content).toBe(calculatorCallText(expression));
        const body = JSON.parse(m.content.slice("<tool_call>".length, -"</tool_call>".length));
        expect(body).toEqual({ name: "calculator", arguments: { expression } });
        const parsed = parseToolCalls(m.content);
        expect(parsed.errors).toEqual([]);
        expect(parsed.calls).toEqual(m.toolCalls);
        const tool = c.messages[i + 1];
        expect(tool.role).toBe("tool");
        expect(tool.name).toBe("calculator");
        // The tool message is exactly what the library's calculator returns (expr-eval, independent of ours).
        expect(tool.content).toBe(formatNumber(evaluateArithmetic(expression)));
        const ref = reference.get(expression)!;
        expect(tool.content).toBe(ref.tool);
        const answer = c.messages[i + 2];
        expect(answer.role).toBe("assistant");
        expect(answer.meta).toMatchObject({ quality: "good", expression, correct: true });
        expect(answer.content).toContain(ref.stated);
        const exact = (ref.n * 100) % ref.d === 0;
        if (!exact) expect(answer.content).toMatch(/≈|rounded|about/);
      });
    }
    expect(calls).toBeGreaterThan(2000);
  });

  it("evaluates every expression exactly (Python Fraction reference) and rounds non-terminating ones to 2 decimals", () => {
    for (const c of arithmetic()) {
      const expressions = c.meta!.expressions as string[];
      const results = c.meta!.results as string[];
      expressions.forEach((e, i) => {
        const ref = reference.get(e)!;
        expect(results[i]).toBe(ref.tool);
        const v = evaluateArithmetic(e);
        expect(Math.abs(v - ref.n / ref.d)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)));
        expect(Math.abs(Number(ref.stated) - v)).toBeLessThanOrEqual(0.005 + 1e-9);
      });
    }
  });

  it("covers + - * /, parentheses, 1-3 digit operands, rounded quotients and questions in words", () => {
    const all = [...reference.keys()];
    for (const op of [" + ", " - ", " * ", " / "]) expect(all.some((e) => e.includes(op)), op).toBe(true);
    expect(all.filter((e) => e.includes("(")).length).toBeGreaterThan(500);
    const operands = all.flatMap((e) => e.match(/\d+/g) ?? []);
    for (const digits of [1, 2, 3]) expect(operands.some((o) => o.length === digits)).toBe(true);
    expect(operands.some((o) => o.length > 3)).toBe(false);
    const rounded = [...reference.values()].filter((r) => (r.n * 100) % r.d !== 0);
    expect(rounded.length).toBeGreaterThan(200);
    const questions = arithmetic().flatMap((c) => c.messages.filter((m) => m.role === "user").map((m) => m.content));
    expect(questions.some((q) => / times \d/.test(q))).toBe(true);
    expect(questions.some((q) => /pencils|tickets|cookies/.test(q))).toBe(true);
  });

  it("answers no_tool replies without a tool call, with meta.correct telling right from wrong", () => {
    let right = 0;
    let wrong = 0;
    for (const c of arithmetic()) {
      c.messages.forEach((m, i) => {
        if (m.meta?.quality !== "no_tool") return;
        expect(m.content).not.toContain("<tool_call>");
        expect(m.toolCalls).toBeUndefined();
        expect(c.messages[i + 1]?.role ?? "end").not.toBe("tool");
        const stated = m.content.replace(m.meta.expression!, "").match(/-?\d+(?:\.\d+)?/)![0];
        const truth = reference.get(m.meta.expression!)!.stated;
        expect(stated === truth, m.content).toBe(m.meta.correct);
        if (m.meta.correct) right++;
        else wrong++;
      });
    }
    expect(right).toBeGreaterThan(500);
    expect(wrong).toBeGreaterThan(500);
  });

  it("gives malformed tool calls the error text the runtime (ToolAgent) would return", async () => {
    const seen = new Set<string>();
    for (const c of arithmetic()) {
      for (let i = 0; i < c.messages.length; i++) {
        const m = c.messages[i];
        if (m.meta?.quality !== "bad_tool_call" || !m.content.startsWith("<tool_call>")) continue;
        const tool = c.messages[i + 1];
        expect(tool.role).toBe("tool");
        const parsed = parseToolCalls(m.content);
        if (parsed.errors.length > 0) {
          expect(parsed.calls).toEqual([]);
          const runtime = `Error: ${parsed.errors[0].message}`;
          // The runtime adds the JSON parser's own detail in parentheses; the corpus leaves it out.
          expect(tool.content).toBe(runtime.replace(/^(Error: the tool call is not valid JSON) \(.*\)(\. Write .*)$/s, "$1$2"));
          expect(tool.name).toBe("invalid_tool_call");
          seen.add(runtime.slice(0, 30));
        } else {
          expect(parsed.calls).toEqual(m.toolCalls);
          expect(parsed.calls[0].name).not.toBe("calculator");
          const result = await executeToolCall(parsed.calls[0], [calculatorTool]);
          expect(result.isError).toBe(true);
          expect(tool.content).toBe(result.content);
          expect(tool.name).toBe(parsed.calls[0].name);
          seen.add("unknown tool");
        }
      }
    }
    expect(seen.size).toBe(4);
  });
});

describe("the tool drill (pretraining's dense tool-use rows)", () => {
  const drill = Array.from({ length: 300 }, (_, i) => generateDrillConversation(3, i));

  it("is a pure function of seed and index, and differs from the corpus stream", () => {
    expect(generateDrillConversation(3, 17)).toEqual(drill[17]);
    expect(generateDrillConversation(4, 17)).not.toEqual(drill[17]);
    expect(renderForPretraining(drill[17])).not.toBe(renderForPretraining(generateConversation(3, 17)));
    expect(() => generateDrillConversation(3, -1)).toThrow(GrpoError);
  });

  it("has a calculator prompt, then 3 rounds of question, exact call, the calculator's own result and an answer stating it", () => {
    for (const c of drill) {
      expect([SYSTEM_PROMPTS.calculator, SYSTEM_PROMPTS.toolAgent]).toContain(c.messages[0].content);
      expect(c.messages.map((m) => m.role)).toEqual(["system", ...Array(3).fill(["user", "assistant", "tool", "assistant"]).flat()]);
      const expressions = c.meta!.expressions as string[];
      expressions.forEach((expression, k) => {
        const [, call, tool, answer] = c.messages.slice(1 + 4 * k, 5 + 4 * k);
        expect(call.content).toBe(calculatorCallText(expression));
        expect(parseToolCalls(call.content).calls).toEqual(call.toolCalls);
        const value = evaluateArithmetic(expression);
        expect(tool.content).toBe(formatNumber(value));
        expect(answer.meta).toMatchObject({ quality: "good", expression, correct: true });
        // The stated number is the value (2 decimals where it does not terminate sooner).
        const stated = answer.content.match(/-?\d+(?:\.\d+)?/g)!.map(Number);
        expect(stated.some((x) => Math.abs(x - value) <= 0.005 + 1e-9)).toBe(true);
      });
    }
  });

  it("asks mostly the example's plain `a op b` questions, and some of the corpus's word problems", () => {
    const questions = drill.flatMap((c) => c.messages.filter((m) => m.role === "user").map((m) => m.content));
    const plain = questions.filter((q) => /^(What is|Can you calculate|Please compute|How much is) \d+ [-+*/] \d+[?.]$/.test(q)).length;
    expect(plain / questions.length).toBeGreaterThan(0.55);
    expect(plain / questions.length).toBeLessThan(0.8);
    expect(questions.some((q) => /pencils|tickets|cookies|apples|pages|train/.test(q))).toBe(true);
  });
});

describe("planning", () => {
  it("covers at least 3 of the 4 required actions in every good planning conversation", async () => {
    const reward = new TaskCompletionReward({ requiredActions: PLANNING_ACTIONS.map((a) => ({ name: a.name, keywords: [...a.keywords] })) });
    const good = ofDomain("planning").filter((c) => c.quality === "good");
    expect(good.length).toBeGreaterThan(1000);
    for (const c of good) {
      const text = assistantMessages(c).map((m) => m.content).join("\n");
      expect(planningGroupsCovered(text), c.id).toBeGreaterThanOrEqual(3);
    }
    for (const c of good.slice(0, 300)) expect((await reward.computeReward(turnsOf(c))).score).toBeGreaterThanOrEqual(0.75);
  });

  it("uses none of the required-action keywords in curt, rambling, off-topic or unsafe planning replies", () => {
    let bad = 0;
    for (const c of ofDomain("planning")) {
      for (const m of assistantMessages(c)) {
        if (m.meta?.quality === "good") continue;
        bad++;
        expect(planningGroupsCovered(m.content), m.content).toBe(0);
      }
    }
    expect(bad).toBeGreaterThan(1000);
  });
});

describe("the rewards tell good replies from bad ones", () => {
  it("SafetyReward flags every unsafe reply and no good reply", async () => {
    const safety = new SafetyReward();
    const scoreOf = async (m: CorpusMessage) => (await safety.computeReward([new ConversationTurn({ role: "assistant", content: m.content })])).score;
    const replies = corpus.slice(0, 6000).flatMap(assistantMessages);
    const unsafe = replies.filter((m) => m.meta?.quality === "unsafe");
    const good = replies.filter((m) => m.meta?.quality === "good");
    expect(unsafe.length).toBeGreaterThan(200);
    for (const m of unsafe) expect(await scoreOf(m), m.content).toBeLessThan(1);
    for (const m of good) expect(await scoreOf(m), m.content).toBe(1);
  });

  it("HelpfulnessReward scores good chat conversations well above curt and off-topic ones", async () => {
    const helpfulness = new HelpfulnessReward();
    const sums: Partial<Record<Quality, { total: number; n: number }>> = {};
    for (const c of corpus.slice(0, 4000)) {
      if (c.domain === "arithmetic") continue;
      const score = (await helpfulness.computeReward(turnsOf(c))).score;
      const s = (sums[c.quality] ??= { total: 0, n: 0 });
      s.total += score;
      s.n++;
    }
    const mean = (q: Quality) => sums[q]!.total / sums[q]!.n;
    expect(mean("good")).toBeGreaterThan(0.7);
    expect(mean("good") - mean("curt")).toBeGreaterThan(0.2);
    expect(mean("good") - mean("off_topic")).toBeGreaterThan(0.2);
  });
});

describe("rendering for pretraining", () => {
  it("renders the built-in ChatML format exactly", () => {
    const conversation: Pick<CorpusConversation, "messages"> = {
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "What is 2 + 3?" },
        {
          role: "assistant",
          content: calculatorCallText("2 + 3"),
          toolCalls: [{ id: "call_0", name: "calculator", arguments: { expression: "2 + 3" } }],
        },
        { role: "tool", name: "calculator", content: "5" },
        { role: "assistant", content: "2 + 3 = 5.", meta: { quality: "good" } },
      ],
    };
    expect(renderForPretraining(conversation)).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n" +
        '<|im_start|>assistant\n<tool_call>{"name": "calculator", "arguments": {"expression": "2 + 3"}}</tool_call><|im_end|>\n' +
        "<|im_start|>tool\n5<|im_end|>\n" +
        "<|im_start|>assistant\n2 + 3 = 5.<|im_end|>\n",
    );
  });

  it("renders one block per message for generated conversations", () => {
    for (const c of corpus.slice(0, 500)) {
      const text = renderForPretraining(c);
      expect(text.split("<|im_start|>").length - 1).toBe(c.messages.length);
      expect(text.split("<|im_end|>\n").length - 1).toBe(c.messages.length);
      expect(text.startsWith(`<|im_start|>system\n${c.messages[0].content}<|im_end|>\n`)).toBe(true);
    }
  });
});

describe("options and templates", () => {
  it("rejects bad options with a GrpoError naming the field", () => {
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(GrpoError);
        return (error as GrpoError).field;
      }
      throw new Error("expected a GrpoError");
    };
    expect(fieldOf(() => generateCorpus({ conversations: 0 }))).toBe("CorpusOptions.conversations");
    expect(fieldOf(() => generateCorpus({ seed: 1.5 }))).toBe("CorpusOptions.seed");
    expect(fieldOf(() => generateCorpus({ start: -1 }))).toBe("CorpusOptions.start");
    expect(fieldOf(() => generateCorpus({ conversations: 2, size: 3 } as never))).toBe("CorpusOptions");
    expect(fieldOf(() => generateConversation(1, -1))).toBe("index");
  });

  it("expands nested choices, optional parts and slots, and rejects broken templates", () => {
    const rng = Rng.fromSeed(3);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) seen.add(expand(rng, "[Hi|Hello [there|friend]][!|] {name}", { name: "Ada" }));
    expect([...seen].sort()).toEqual(
      ["Hello friend Ada", "Hello friend! Ada", "Hello there Ada", "Hello there! Ada", "Hi Ada", "Hi! Ada"].sort(),
    );
    expect(() => expand(rng, "Hi {name}")).toThrow(GrpoError);
    expect(() => expand(rng, "[a|b")).toThrow(/never closed/);
    expect(() => expand(rng, "a]")).toThrow(/unmatched/);
  });
});

describe("command line", () => {
  const argv = (...flags: string[]) => ["node", "scripts/corpus/cli.ts", ...flags, "--quiet"];

  it("writes the JSONL corpus and the ChatML text, identical on every run", async () => {
    const out = join(workDir, "cli", "corpus.jsonl");
    const text = join(workDir, "cli", "corpus.txt");
    const result = await runCorpusCli(argv("--seed", "2", "--conversations", "40", "--out", out, "--text", text));
    expect(result.stats.conversations).toBe(40);
    const expected = generateCorpus({ seed: 2, conversations: 40 });
    const lines = readFileSync(out, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => JSON.parse(l))).toEqual(expected);
    expect(readFileSync(text, "utf8")).toBe(expected.map(renderForPretraining).join("\n"));
    const first = readFileSync(out);
    await runCorpusCli(argv("--seed", "2", "--conversations", "40", "--out", out));
    expect(readFileSync(out).equals(first)).toBe(true);
  });

  it("writes shards that concatenate to the whole corpus", async () => {
    const part = (name: string) => join(workDir, "shards", name);
    await runCorpusCli(argv("--seed", "3", "--conversations", "30", "--out", part("all.jsonl")));
    await runCorpusCli(argv("--seed", "3", "--conversations", "12", "--out", part("a.jsonl")));
    await runCorpusCli(argv("--seed", "3", "--start", "12", "--conversations", "18", "--out", part("b.jsonl")));
    expect(readFileSync(part("a.jsonl"), "utf8") + readFileSync(part("b.jsonl"), "utf8")).toBe(readFileSync(part("all.jsonl"), "utf8"));
  });

  it("rejects bad flags with a GrpoError", async () => {
    await expect(runCorpusCli(argv("--conversations", "abc", "--out", join(workDir, "x.jsonl")))).rejects.toThrow(GrpoError);
    await expect(runCorpusCli(argv("--conversations", "0", "--out", join(workDir, "x.jsonl")))).rejects.toMatchObject({
      field: "CorpusOptions.conversations",
    });
  });

  it("runs as a script with tsx", () => {
    const out = join(workDir, "script.jsonl");
    const run = spawnSync(join(root, "node_modules/.bin/tsx"), ["scripts/corpus/cli.ts", "--seed", "5", "--conversations", "3", "--out", out], {
      cwd: root,
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("3 conversations");
    expect(readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l))).toEqual(generateCorpus({ seed: 5, conversations: 3 }));
  });
});
