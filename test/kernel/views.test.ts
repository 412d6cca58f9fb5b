/**
 * The HTML and text views: structure, values and escaping, checked against values computed here.
 */
import { describe, expect, it } from "vitest";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { resolveGRPOConfig } from "../../src/training/config.js";
import { assessHealth, type HealthStatus } from "../../src/training/diagnostics.js";
import {
  advantageColor, closestProfile, configToHTML, configToText, groupToHTML, groupToText, healthToHTML, healthToText, historyToText,
  logprobColor, rewardToHTML, rewardToText, stepReportToHTML, stepReportToText, tokenPieces, trajectoryToHTML, trajectoryToText, turnToHTML, turnToText,
} from "../../kernel/index.js";
import { fixtureGroup, fixtureHistory, fixtureReport, sampledTurn, scoredTrajectory, tinyTokenizer } from "./fixtures.js";

const tokenizer = tinyTokenizer();

/** The text inside every element with class `cls`, in order. */
function textsOf(html: string, cls: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<span class="${cls}"[^>]*>([\\s\\S]*?)</span>`, "g");
  for (let m = re.exec(html); m; m = re.exec(html)) out.push(m[1]);
  return out;
}

function unescape(html: string): string {
  return html.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

describe("token pieces", () => {
  it("concatenate to the decoded text, multi-byte characters included", () => {
    const ids = tokenizer.encode("Café naïve 😀 ünïcödé");
    const pieces = tokenPieces(tokenizer, ids);
    expect(pieces).toHaveLength(ids.length);
    expect(pieces.join("")).toBe(tokenizer.decode(ids));
    expect(pieces.join("")).toBe("Café naïve 😀 ünïcödé");
  });
});

describe("turn view", () => {
  it("colours each sampled token by its log-prob, with the decoded piece and its log-prob in the title", () => {
    const logprobs = [-0.01, -3, -0.5, -8, -0.2, -1, -2, -0.05, -4, -0.3, -0.7, -6, -0.9, -1.5, -0.4];
    const turn = sampledTurn(tokenizer, "The answer is 42.", (i) => logprobs[i % logprobs.length]);
    const html = turnToHTML(turn, { tokenizer });
    const ids = turn.generation!.tokenIds;
    const spans = [...html.matchAll(/<span class="grpo-token" data-token-id="(\d+)" data-logprob="([-\d.]+)" title="([^"]*)" style="([^"]*)">/g)];
    expect(spans.map((m) => Number(m[1]))).toEqual(ids);
    spans.forEach((m, i) => {
      const lp = turn.generation!.logprobs[i];
      expect(Number(m[2])).toBeCloseTo(lp, 4);
      // p = exp(lp) maps to hue 120·p: green when likely, red when unlikely.
      expect(m[4]).toContain(`background:hsl(${Math.round(120 * Math.exp(lp))},`);
      expect(unescape(m[3])).toContain(`log-prob ${lp.toFixed(3)}`);
    });
    const pieces = textsOf(html, "grpo-token").map((p) => unescape(p).replace(/↵\n/g, "\n"));
    expect(pieces.join("")).toBe(tokenizer.decode(ids));
    expect(html).toContain("token colour: sampling probability");
  });

  it("colours by advantage when asked, and shows token ids without a tokenizer", () => {
    const turn = sampledTurn(tokenizer, "yes");
    const byAdvantage = turnToHTML(turn, { tokenizer, colorBy: "advantage", advantage: -1.5 });
    const backgrounds = [...byAdvantage.matchAll(/class="grpo-token"[^>]*style="background:([^;]+);/g)].map((m) => m[1]);
    expect(backgrounds.length).toBe(turn.generation!.tokenIds.length);
    expect(new Set(backgrounds)).toEqual(new Set([advantageColor(-1.5)]));
    expect(advantageColor(-1.5)).toMatch(/^rgba\(207,34,46,/);
    expect(advantageColor(2)).toMatch(/^rgba\(46,160,67,0\.72\)$/);

    const plain = turnToHTML(turn, { tokenizer: undefined });
    expect(textsOf(plain, "grpo-token")).toEqual(turn.generation!.tokenIds.map((id) => `#${id}`));
    expect(plain).toContain('class="grpo-content"');
  });

  it("maps probability 1 to green and probability ~0 to red", () => {
    expect(logprobColor(0)).toBe("hsl(120,75%,82%)");
    expect(logprobColor(-50)).toBe("hsl(0,75%,82%)");
    expect(logprobColor(Math.log(0.5))).toBe("hsl(60,75%,82%)");
  });

  it("escapes content and shows tool calls, results and tool errors", () => {
    const turn = new ConversationTurn({
      role: "assistant", content: "<script>alert('x')</script> & more",
      toolCalls: [{ id: "call_0", name: "calculator", arguments: { expression: "2 + 3" } }],
      toolResults: [{ toolCallId: "call_0", name: "calculator", content: "5", isError: false }],
    });
    const html = turnToHTML(turn);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more");
    expect(html).toMatch(/class="grpo-tool-call"[^>]*>🔧 calculator\(\{&quot;expression&quot;:&quot;2 \+ 3&quot;\}\)/);
    expect(html).toMatch(/class="grpo-tool-result"[^>]*>↳ calculator: 5</);
    const failed = new ConversationTurn({ role: "tool", content: "Error: unknown tool", metadata: { name: "nope" },
      toolResults: [{ toolCallId: "c", name: "nope", content: "Error: unknown tool", isError: true }] });
    const failedHtml = turnToHTML(failed);
    expect(failedHtml).toContain('data-role="tool"');
    expect(failedHtml).toContain("border:1px solid #cf222e");
    expect(turnToText(turn)).toBe(
      "[assistant] <script>alert('x')</script> & more\n  -> tool call calculator({\"expression\":\"2 + 3\"})\n  <- calculator: 5");
  });
});

describe("trajectory and group views", () => {
  it("renders every turn as a bubble in order, with rewards and the reward breakdown", () => {
    const t = scoredTrajectory(tokenizer, "t1", ["Python is great.", "The answer is 42."], { a: 0.9, b: 0.3 });
    const html = trajectoryToHTML(t, { tokenizer });
    const roles = [...html.matchAll(/class="grpo-turn" data-role="(\w+)"/g)].map((m) => m[1]);
    expect(roles).toEqual(t.turns.map((turn) => turn.role));
    expect(html).toContain('data-trajectory-id="t1"');
    const total = (2 * 0.9 + 0.3) / 3;
    expect(html).toContain(`reward ${total.toFixed(3)}`);
    // contribution = weight · score / Σ weights
    expect(html).toMatch(new RegExp(`data-component="a".*?${((2 * 0.9) / 3).toFixed(3)}`));
    expect(html).toMatch(new RegExp(`data-component="b".*?${((1 * 0.3) / 3).toFixed(3)}`));
    expect([...html.matchAll(/class="grpo-turn-reward" data-turn="(\d+)"/g)].map((m) => m[1])).toEqual(["0", "1"]);

    const text = trajectoryToText(t, { advantage: 0.5 });
    expect(text.split("\n")[0]).toBe(`Trajectory t1 · scenario s1 · completed · reward ${total.toFixed(3)} · advantage +0.500 · 2 assistant turns`);
    expect(text).toContain("[user] Question 1?");
    expect(text).toContain("reward components: a 0.900, b 0.300");
  });

  it("shows a group best-first with each trajectory's own advantage", () => {
    const group = fixtureGroup(tokenizer);
    const rewards = group.trajectories.map((t) => t.totalReward);
    const m = rewards.reduce((x, y) => x + y, 0) / rewards.length;
    const s = Math.sqrt(rewards.reduce((acc, r) => acc + (r - m) ** 2, 0) / (rewards.length - 1));
    const expected = new Map(group.trajectories.map((t, i) => [t.id, (rewards[i] - m) / (s + 1e-4)]));

    const html = groupToHTML(group, { tokenizer });
    const order = [...html.matchAll(/data-trajectory-id="([^"]+)"/g)].map((x) => x[1]);
    expect(order).toEqual(["t-best", "t-mid", "t-worst"]);
    const shown = [...html.matchAll(/data-trajectory-id="([^"]+)"[\s\S]*?A ([+−]?[\d.]+)</g)].map((x) => [x[1], Number(x[2].replace("−", "-"))]);
    expect(shown).toHaveLength(3);
    for (const [id, a] of shown) expect(a).toBeCloseTo(expected.get(id as string)!, 2);
    expect((html.match(/class="grpo-group-column"/g) ?? []).length).toBe(3);

    const text = groupToText(group);
    expect(text.split("\n").slice(1).map((l) => l.trim().slice(0, 2))).toEqual(["#1", "#2", "#3"]);
    expect(text).toContain(`advantage +${expected.get("t-best")!.toFixed(3)}`);
  });

  it("uses the advantages it is given (a step's), not recomputed ones", () => {
    const group = fixtureGroup(tokenizer);
    const html = groupToHTML(group, { advantages: [0.25, -0.5, 0.75] });
    expect(html).toMatch(/data-trajectory-id="t-best"[\s\S]*?A −0\.50/);
    expect(html).toMatch(/data-trajectory-id="t-worst"[\s\S]*?A \+0\.75/);
  });
});

describe("reward, step, health and config views", () => {
  it("reward: components with weights and contributions, a stacked bar, per-turn scores", () => {
    const result = { score: 0.7, breakdown: { helpful: 0.9, safe: 0.3, turn_0: 0.8, turn_1: 0.6 }, metadata: { aggregation: "weighted_sum", weights: { helpful: 2, safe: 1 } }, explanation: "because" };
    const html = rewardToHTML(result);
    expect(html).toContain("score 0.700");
    expect(html).toContain("because");
    const segments = [...html.matchAll(/class="grpo-segment" title="([^"]+)" style="width:([\d.]+)%/g)];
    expect(segments.map((m) => m[1])).toEqual([`helpful: ${(1.8 / 3).toFixed(3)}`, `safe: ${(0.3 / 3).toFixed(3)}`]);
    // Widths are contributions over max(1, Σ contributions): 0.6 and 0.1 of a 0–1 scale.
    expect(Number(segments[0][2])).toBeCloseTo(60, 1);
    expect(Number(segments[1][2])).toBeCloseTo(10, 1);
    expect([...html.matchAll(/data-turn="(\d)"/g)].map((m) => m[1])).toEqual(["0", "1"]);
    expect(rewardToText(result)).toBe(
      "Reward 0.700 — because\n  helpful                    0.900 (weight 2.00)\n  safe                       0.300 (weight 1.00)\n  per turn: turn 0 0.800, turn 1 0.600");
  });

  it("step report: headline metrics, component means, one open section per group", () => {
    const report = fixtureReport(fixtureGroup(tokenizer));
    const html = stepReportToHTML(report, { tokenizer });
    expect(html).toContain("GRPO step 3");
    const cards = [...html.matchAll(/class="grpo-metric"[\s\S]*?<div[^>]*>([^<]+)<\/div><div[^>]*>([^<]+)<\/div>/g)].map((m) => [m[1], m[2]]);
    expect(cards).toContainEqual(["reward", (0.3).toFixed(3)]);
    expect(cards).toContainEqual(["loss", (1 / 3).toFixed(3)]);
    expect(cards).toContainEqual(["grad norm", (1.3).toFixed(3)]);
    expect(html).toMatch(/<details open[^>]*><summary[^>]*>group 1: <b>s1<\/b>/);
    expect(html).toMatch(/<td[^>]*>a<\/td><td[^>]*>0\.400<\/td><td[^>]*>0\.100<\/td>/);
    const text = stepReportToText(report);
    expect(text.split("\n")[0]).toBe("GRPO step 3 · 12 episodes so far");
    expect(text).toContain("reward 0.300 · reward std (in group) 0.050 · loss 0.333");
  });

  it("health: badge colour by level, issues with recommendations", () => {
    const bad: HealthStatus = assessHealth([{ loss: Number.NaN, reward: 0.1, reward_std: 0, grad_norm: 1 }]);
    expect(bad.status).toBe("CRITICAL");
    const html = healthToHTML(bad);
    expect(html).toContain('data-status="CRITICAL"');
    expect(html).toMatch(/class="grpo-health-badge" style="[^"]*background:#cf222e[^"]*">CRITICAL</);
    const codes = [...html.matchAll(/class="grpo-issue" data-code="([^"]+)"/g)].map((m) => m[1]);
    expect(codes).toEqual(bad.issues.map((i) => i.code));
    expect(codes).toContain("nan_loss");
    expect(healthToText(bad)).toContain(`CRITICAL nan_loss: ${bad.issues.find((i) => i.code === "nan_loss")!.message}`);

    const good = assessHealth([{ loss: 1, reward: 0.5, reward_std: 0.2, grad_norm: 1 }]);
    expect(healthToHTML(good)).toContain("No issues detected.");
    expect(healthToHTML(good)).toContain("background:#1a7f37");
  });

  it("config: every knob, the changed ones highlighted against the closest profile", () => {
    const config = resolveGRPOConfig({ profile: "conservative", overrides: { learningRate: 5e-5, numGenerations: 3 } });
    expect(closestProfile(config)).toBe("conservative");
    const html = configToHTML(config);
    const changed = [...html.matchAll(/class="grpo-knob grpo-changed" data-knob="(\w+)"/g)].map((m) => m[1]);
    expect(changed.sort()).toEqual(["learningRate", "numGenerations"]);
    const all = [...html.matchAll(/class="grpo-knob[^"]*" data-knob="(\w+)"/g)].map((m) => m[1]);
    expect(all.length).toBe(Object.keys(config).length);
    expect(html).toContain("the <b>conservative</b> profile, except");
    const versusBalanced = configToHTML(config, { profile: "balanced" });
    expect((versusBalanced.match(/grpo-changed/g) ?? []).length).toBeGreaterThan(2);
    expect(configToText(config).split("\n")).toEqual([
      "GRPOConfig: conservative profile, except 2 knobs:",
      expect.stringMatching(/^ {2}numGenerations +3 {2}\(conservative: 8\)$/),
      expect.stringMatching(/^ {2}learningRate +5e-5 {2}\(conservative: 3e-4\)$/),
    ]);
  });

  it("history text: one sparkline per logged metric with the last value", () => {
    const text = historyToText(fixtureHistory(8));
    const lines = text.split("\n");
    expect(lines[0]).toBe("TrainingHistory: 8 steps");
    expect(lines.find((l) => l.trim().startsWith("reward"))).toMatch(/▁▂▃▄▅▆▇█ +last 0\.800$/);
    // loss = 1/s: bar index round(7 · (1/s − 1/8) / (1 − 1/8)) for s = 1..8
    expect(lines.find((l) => l.trim().startsWith("loss"))).toMatch(/█▄▃▂▂▁▁▁ +last 0\.125$/);
  });
});
