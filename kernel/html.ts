/**
 * Self-contained HTML views of the library's objects: inline styles only (no `<style>` blocks, no
 * scripts, no CDN), so they render the same in JupyterLab, classic Notebook, VS Code, untrusted
 * notebooks, nbconvert's HTML export and plain files. Hover titles carry the details (per-token
 * log-probs, advantages, knob docs). Every view's root has a `grpo-<kind>` class.
 *
 * - {@link turnToHTML}, {@link trajectoryToHTML}: chat bubbles by role, per-turn rewards, tool calls
 *   and results, sampled tokens coloured by log-prob or by advantage.
 * - {@link groupToHTML}: a group's trajectories side by side, best reward first, with advantages.
 * - {@link rewardToHTML}: score, components (table + stacked bar of contributions), per-turn table.
 * - {@link stepReportToHTML}, {@link healthToHTML}, {@link configToHTML}.
 */
import type { ConversationTurn, MultiTurnTrajectory, TrajectoryGroup } from "../src/core/trajectory.js";
import type { RewardResult } from "../src/core/reward.js";
import { GRPO_CONFIG_DOCS, GRPO_CONFIG_KEYS, KNOB_GROUPS, describeConfigDiff, formatKnobValue, TRAINING_PROFILES, type GRPOConfig, type TrainingProfile } from "../src/training/config.js";
import type { HealthStatus } from "../src/training/diagnostics.js";
import type { StepReport } from "../src/training/events.js";
import { componentKeys, esc, fmt, signed, truncate, turnKeys } from "./format.js";
import { resolveTokenizer, tokenPieces, type TokenizerSource } from "./kinds.js";

// ---------------------------------------------------------------------------------------------
// Options and styles

/** How sampled tokens are coloured: by their sampling log-prob, by the trajectory's advantage, or not. */
export type TokenColoring = "logprob" | "advantage" | "none";

/** Options of the trajectory, turn, group and step views. */
export interface HtmlOptions {
  /**
   * Decodes sampled token ids into text pieces for the per-token view: a ChatTokenizer, a TfPolicy, or
   * an agent (its policy's tokenizer). Default: the one set with `useTokenizer()`, else token ids are shown.
   */
  tokenizer?: TokenizerSource;
  /** Token colouring (default `logprob`; `advantage` needs an advantage). */
  colorBy?: TokenColoring;
  /** The trajectory's GRPO advantage (group views pass it; shown in the header and used by `colorBy: "advantage"`). */
  advantage?: number;
  /** Longest text shown per turn before it is cut, in characters (default 4000). */
  maxChars?: number;
}

let defaultTokenizer: TokenizerSource | undefined;

/**
 * Sets the tokenizer every view uses when none is passed (e.g. `useTokenizer(agent)` once per notebook).
 * Pass undefined to clear it.
 */
export function useTokenizer(source: TokenizerSource | undefined): void {
  defaultTokenizer = source;
}

/** Inline CSS from a property map (`{ fontSize: "12px" }` → `font-size:12px`). */
function css(style: Record<string, string | number>): string {
  return Object.entries(style).map(([k, v]) => `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}:${v}`).join(";");
}

// Single quotes only: these go inside style="…" attributes.
const FONT = "-apple-system,'Segoe UI',Helvetica,Arial,'DejaVu Sans',sans-serif";
const MONO = "ui-monospace,'SFMono-Regular',Menlo,Consolas,'DejaVu Sans Mono',monospace";
const ROOT = css({ fontFamily: FONT, fontSize: "13px", lineHeight: 1.45, color: "#1f2328", background: "#ffffff", padding: "8px", borderRadius: "6px", boxSizing: "border-box" });
const MUTED = "#59636e";
/** Qualitative palette (Tableau 10) for reward components, in breakdown order (charts use the same). */
export const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

const ROLE_STYLE: Record<ConversationTurn["role"], { bg: string; border: string; label: string; margin: string }> = {
  system: { bg: "#f6f8fa", border: "#d0d7de", label: "system", margin: "0" },
  user: { bg: "#ddf4ff", border: "#54aeff", label: "user", margin: "0 12% 0 0" },
  assistant: { bg: "#dafbe1", border: "#4ac26b", label: "assistant", margin: "0 0 0 12%" },
  tool: { bg: "#fff8c5", border: "#d4a72c", label: "tool", margin: "0 12% 0 0" },
};

function badge(text: string, bg: string, color = "#ffffff", title?: string): string {
  const t = title ? ` title="${esc(title)}"` : "";
  return `<span class="grpo-badge"${t} style="${css({ display: "inline-block", padding: "0 6px", borderRadius: "10px", background: bg, color, fontSize: "11px", fontWeight: 600, marginLeft: "4px", whiteSpace: "nowrap" })}">${esc(text)}</span>`;
}

function rewardBadge(value: number, label = "reward"): string {
  const bg = value > 0 ? "#1a7f37" : value < 0 ? "#cf222e" : "#6e7781";
  return badge(`${label} ${fmt(value)}`, bg);
}

function advantageBadge(value: number): string {
  const bg = value > 0 ? "#1a7f37" : value < 0 ? "#cf222e" : "#6e7781";
  return badge(`A ${signed(value, 2)}`, bg, "#ffffff", "GRPO advantage: (reward − group mean) / (group std + ε)");
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** Background colour of a token sampled with log-prob `logprob`: red (unlikely) → green (likely). */
export function logprobColor(logprob: number): string {
  const p = Math.min(1, Math.max(0, Math.exp(logprob)));
  return `hsl(${Math.round(120 * p)},75%,82%)`;
}

/** Background colour for advantage `a`: green when positive, red when negative, stronger when larger. */
export function advantageColor(a: number): string {
  const alpha = (0.12 + 0.6 * Math.min(1, Math.abs(a) / 2)).toFixed(2);
  return a >= 0 ? `rgba(46,160,67,${alpha})` : `rgba(207,34,46,${alpha})`;
}

/** Shows whitespace that would otherwise vanish inside a coloured token. */
function visible(piece: string): string {
  return esc(piece).replace(/\n/g, "↵\n").replace(/\t/g, "→\t");
}

function tokensHTML(turn: ConversationTurn, options: HtmlOptions): string {
  const gen = turn.generation;
  if (!gen || gen.tokenIds.length === 0) return "";
  const decoder = resolveTokenizer(options.tokenizer ?? defaultTokenizer);
  const pieces = decoder ? tokenPieces(decoder, gen.tokenIds) : gen.tokenIds.map((id) => `#${id}`);
  const colorBy = options.colorBy === "advantage" && options.advantage === undefined ? "logprob" : (options.colorBy ?? "logprob");
  const spans = gen.tokenIds.map((id, i) => {
    const lp = gen.logprobs[i];
    const title = `token ${id}${decoder ? ` ${JSON.stringify(pieces[i])}` : ""} · log-prob ${fmt(lp)} (p ${fmt(Math.exp(lp))})` +
      (options.advantage !== undefined ? ` · advantage ${signed(options.advantage)}` : "");
    const bg = colorBy === "logprob" ? logprobColor(lp) : colorBy === "advantage" ? advantageColor(options.advantage as number) : "transparent";
    const special = decoder !== undefined && /^<\|[^|]*\|>$/.test(pieces[i]);
    const style = css({ background: bg, borderRadius: "2px", padding: decoder ? "0" : "0 2px", margin: decoder ? "0" : "0 1px", outline: "1px solid rgba(0,0,0,0.06)",
      ...(special ? { color: MUTED, fontSize: "10px" } : {}) });
    return `<span class="grpo-token" data-token-id="${id}" data-logprob="${Number.isFinite(lp) ? lp.toFixed(4) : "NaN"}" title="${esc(title)}" style="${style}">${visible(pieces[i])}</span>`;
  });
  const meanLp = gen.logprobs.reduce((a, b) => a + b, 0) / gen.logprobs.length;
  const summary = `${gen.tokenIds.length} sampled tokens · mean log-prob ${fmt(meanLp)} · finish: ${gen.finishReason}`;
  return `<div class="grpo-tokens" style="${css({ marginTop: "4px", fontFamily: decoder ? "inherit" : MONO, fontSize: decoder ? "inherit" : "11px", whiteSpace: "pre-wrap", wordBreak: "break-word" })}">${spans.join("")}</div>` +
    `<div style="${css({ color: MUTED, fontSize: "11px", marginTop: "2px" })}">${esc(summary)}</div>`;
}

/** The colour key of the token view (shown once per trajectory or turn). */
function tokenLegend(options: HtmlOptions): string {
  const byAdvantage = options.colorBy === "advantage" && options.advantage !== undefined;
  const text = options.colorBy === "none" ? "" : byAdvantage
    ? "token colour: the trajectory's advantage (green = reinforced, red = discouraged)"
    : "token colour: sampling probability (red = unlikely → green = likely)";
  return text ? `<div class="grpo-legend" style="${css({ color: MUTED, fontSize: "11px", marginBottom: "4px" })}">${esc(text)}; hover a token for its id and log-prob</div>` : "";
}

function hasSampledTokens(turns: readonly ConversationTurn[]): boolean {
  return turns.some((t) => t.role === "assistant" && (t.generation?.tokenIds.length ?? 0) > 0);
}

// ---------------------------------------------------------------------------------------------
// Turns and trajectories

function toolCallsHTML(turn: ConversationTurn): string {
  if (turn.toolCalls.length === 0) return "";
  const items = turn.toolCalls.map((call) =>
    `<div class="grpo-tool-call" style="${css({ fontFamily: MONO, fontSize: "12px", background: "#ffffff", border: "1px dashed #d4a72c", borderRadius: "4px", padding: "2px 6px", marginTop: "4px" })}">🔧 ${esc(call.name)}(${esc(JSON.stringify(call.arguments))})</div>`);
  return items.join("");
}

function toolResultsHTML(turn: ConversationTurn): string {
  if (turn.role === "tool" || turn.toolResults.length === 0) return "";
  return turn.toolResults.map((r) =>
    `<div class="grpo-tool-result" style="${css({ fontFamily: MONO, fontSize: "12px", color: r.isError ? "#cf222e" : MUTED, marginTop: "2px" })}">↳ ${esc(r.name)}: ${esc(truncate(r.content, 300))}</div>`).join("");
}

/** One turn as a chat bubble (role colour, reward badge, tool calls/results, sampled tokens). */
export function turnToHTML(turn: ConversationTurn, options: HtmlOptions = {}): string {
  return `<div class="grpo-turn-view" style="${ROOT}">${hasSampledTokens([turn]) ? tokenLegend(options) : ""}${bubble(turn, options)}</div>`;
}

function bubble(turn: ConversationTurn, options: HtmlOptions): string {
  const role = ROLE_STYLE[turn.role];
  const isError = turn.role === "tool" && turn.toolResults.some((r) => r.isError);
  const header = `<div style="${css({ fontSize: "11px", color: MUTED, marginBottom: "2px" })}"><b>${role.label}</b>` +
    (turn.role === "tool" && typeof turn.metadata.name === "string" ? ` · ${esc(turn.metadata.name)}` : "") +
    (turn.reward !== undefined ? rewardBadge(turn.reward) : "") +
    (isError ? badge("error", "#cf222e") : "") + "</div>";
  const maxChars = options.maxChars ?? 4000;
  const decoder = resolveTokenizer(options.tokenizer ?? defaultTokenizer);
  const tokens = turn.role === "assistant" ? tokensHTML(turn, options) : "";
  // With a tokenizer the coloured tokens are the text; otherwise show the text, then the token ids.
  const text = tokens && decoder ? "" : `<div class="grpo-content" style="${css({ whiteSpace: "pre-wrap", wordBreak: "break-word", fontFamily: turn.role === "tool" ? MONO : "inherit" })}">${esc(truncate(turn.content, maxChars)) || `<i style="color:${MUTED}">(empty)</i>`}</div>`;
  const style = css({ background: role.bg, border: `1px solid ${isError ? "#cf222e" : role.border}`, borderRadius: "8px", padding: "4px 8px", margin: role.margin, marginBottom: "6px" });
  return `<div class="grpo-turn" data-role="${turn.role}" style="${style}">${header}${text}${tokens}${toolCallsHTML(turn)}${toolResultsHTML(turn)}</div>`;
}

/** The RewardResult stored on a scored trajectory (or one built from its totals). */
export function trajectoryReward(t: MultiTurnTrajectory): RewardResult {
  const stored = t.metadata.reward as Partial<RewardResult> | undefined;
  if (stored && typeof stored.score === "number" && stored.breakdown && typeof stored.breakdown === "object") {
    const out: RewardResult = { score: stored.score, breakdown: stored.breakdown, metadata: (stored.metadata ?? {}) as Record<string, unknown> };
    if (typeof stored.explanation === "string") out.explanation = stored.explanation;
    return out;
  }
  return { score: t.totalReward, breakdown: t.rewardBreakdown, metadata: {} };
}

function trajectoryHeader(t: MultiTurnTrajectory, options: HtmlOptions): string {
  return `<div style="${css({ marginBottom: "6px" })}"><b>${esc(t.scenarioId)}</b>` +
    `<span style="color:${MUTED}"> · ${esc(t.id)} · ${esc(t.status)} · ${t.episodeLength} assistant turn${t.episodeLength === 1 ? "" : "s"}</span>` +
    rewardBadge(t.totalReward) + (options.advantage !== undefined ? advantageBadge(options.advantage) : "") + "</div>";
}

/** A whole episode: header (scenario, status, reward, advantage), chat bubbles, reward breakdown. */
export function trajectoryToHTML(t: MultiTurnTrajectory, options: HtmlOptions = {}): string {
  const bubbles = t.turns.map((turn) => bubble(turn, options)).join("");
  const reward = trajectoryReward(t);
  const breakdown = componentKeys(reward.breakdown).length > 0 || turnKeys(reward.breakdown).size > 0
    ? `<details style="margin-top:4px"><summary style="cursor:pointer;color:${MUTED}">reward breakdown</summary>${rewardBody(reward)}</details>`
    : "";
  return `<div class="grpo-trajectory" data-trajectory-id="${esc(t.id)}" style="${ROOT}">${trajectoryHeader(t, options)}${hasSampledTokens(t.turns) ? tokenLegend(options) : ""}${bubbles}${breakdown}</div>`;
}

/**
 * A group side by side, sorted by reward (best first), each with its advantage. `advantages` are in
 * the group's own order (as in a StepReport); default: `group.advantages()`.
 */
export function groupToHTML(group: TrajectoryGroup, options: HtmlOptions & { advantages?: number[] } = {}): string {
  const advantages = options.advantages ?? group.advantages();
  const order = group.trajectories.map((t, i) => ({ t, a: advantages[i] ?? Number.NaN })).sort((x, y) => y.t.totalReward - x.t.totalReward);
  const colorBy = options.colorBy ?? "logprob";
  const columns = order.map(({ t, a }, rank) =>
    `<div class="grpo-group-column" style="${css({ flex: "0 0 320px", maxWidth: "420px", border: "1px solid #d0d7de", borderRadius: "6px" })}">` +
    `<div style="${css({ padding: "2px 8px", background: "#f6f8fa", borderBottom: "1px solid #d0d7de", fontSize: "11px", color: MUTED })}">#${rank + 1} of ${order.length}</div>` +
    trajectoryToHTML(t, { ...options, colorBy, advantage: Number.isFinite(a) ? a : undefined }) + "</div>").join("");
  const header = `<div style="${css({ marginBottom: "6px" })}"><b>Group ${esc(group.scenarioId)}</b><span style="color:${MUTED}"> · ${group.trajectories.length} trajectories · mean reward ${fmt(group.meanReward)} · reward std ${fmt(group.rewardDiversity)}` +
    (group.rewardDiversity === 0 ? " · all rewards equal: this group teaches nothing" : "") + "</span></div>";
  return `<div class="grpo-group" style="${ROOT}">${header}<div style="${css({ display: "flex", gap: "8px", overflowX: "auto", alignItems: "flex-start" })}">${columns}</div></div>`;
}

// ---------------------------------------------------------------------------------------------
// Rewards

/** A horizontal bar `px` wide filled to |value| / scale (red when negative). */
function bar(value: number, scale: number, color: string, title: string, px = 100): string {
  const width = scale > 0 ? Math.min(100, (Math.abs(value) / scale) * 100) : 0;
  return `<div title="${esc(title)}" style="${css({ width: `${px}px`, height: "10px", background: "#eaeef2", borderRadius: "2px", display: "inline-block", verticalAlign: "middle" })}">` +
    `<div class="grpo-bar" style="${css({ width: `${width.toFixed(1)}%`, height: "100%", background: value < 0 ? "#cf222e" : color, borderRadius: "2px" })}"></div></div>`;
}

const TABLE = css({ borderCollapse: "collapse", fontSize: "12px", margin: "4px 0" });
const TH = css({ textAlign: "left", padding: "2px 8px", borderBottom: "1px solid #d0d7de", color: MUTED, fontWeight: 600 });
const TD = css({ padding: "2px 8px", borderBottom: "1px solid #eaeef2", verticalAlign: "middle" });
const TDN = css({ padding: "2px 8px", borderBottom: "1px solid #eaeef2", textAlign: "right", fontVariantNumeric: "tabular-nums" });

function numberRecord(x: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (x && typeof x === "object") for (const [k, v] of Object.entries(x)) if (typeof v === "number") out[k] = v;
  return out;
}

function rewardBody(result: RewardResult): string {
  const components = componentKeys(result.breakdown);
  const weights = numberRecord(result.metadata.weights);
  const aggregation = typeof result.metadata.aggregation === "string" ? result.metadata.aggregation : undefined;
  const parts: string[] = [];
  if (components.length > 0) {
    const values = components.map((c) => result.breakdown[c]);
    const scale = Math.max(1, ...values.map(Math.abs));
    const weightSum = components.reduce((s, c) => s + (weights[c] ?? 0), 0);
    const rows = components.map((c, i) => {
      const w = weights[c];
      const share = aggregation === "weighted_sum" && w !== undefined && weightSum > 0 ? (w * result.breakdown[c]) / weightSum : undefined;
      return `<tr class="grpo-component" data-component="${esc(c)}"><td style="${TD};white-space:nowrap"><span style="color:${PALETTE[i % PALETTE.length]}">■</span> ${esc(c)}</td>` +
        `<td style="${TDN}">${w === undefined ? "–" : fmt(w, 2)}</td><td style="${TDN}">${fmt(result.breakdown[c])}</td>` +
        `<td style="${TDN}">${share === undefined ? "–" : fmt(share)}</td>` +
        `<td style="${TD}">${bar(result.breakdown[c], scale, PALETTE[i % PALETTE.length], `${c}: ${fmt(result.breakdown[c])}`)}</td></tr>`;
    });
    parts.push(`<table style="${TABLE}"><thead><tr><th style="${TH}">component</th><th style="${TH}">weight</th><th style="${TH}">score</th><th style="${TH}" title="weight × score / Σ weights: its part of the total">contribution</th><th style="${TH}"></th></tr></thead><tbody>${rows.join("")}</tbody></table>`);
    if (aggregation === "weighted_sum" && weightSum > 0) parts.push(stackedBar(components, result, weights, weightSum));
  }
  const turnTable = perTurnTable(result, components);
  if (turnTable) parts.push(turnTable);
  return parts.join("");
}

/** One bar split into each component's contribution to a weighted-mean score. */
function stackedBar(components: string[], result: RewardResult, weights: Record<string, number>, weightSum: number): string {
  const shares = components.map((c) => ((weights[c] ?? 0) * result.breakdown[c]) / weightSum);
  const total = Math.max(1, shares.reduce((s, v) => s + Math.max(0, v), 0));
  const segments = shares.map((s, i) => s <= 0 ? "" :
    `<div class="grpo-segment" title="${esc(`${components[i]}: ${fmt(s)}`)}" style="${css({ width: `${((s / total) * 100).toFixed(2)}%`, background: PALETTE[i % PALETTE.length], height: "100%" })}"></div>`).join("");
  return `<div style="${css({ fontSize: "11px", color: MUTED })}">contributions to the score (scale 0–${fmt(total, 1)})</div>` +
    `<div class="grpo-stacked-bar" style="${css({ display: "flex", width: "320px", height: "14px", background: "#eaeef2", borderRadius: "2px", overflow: "hidden" })}">${segments}</div>`;
}

function perTurnTable(result: RewardResult, components: string[]): string {
  const overall = turnKeys(result.breakdown);
  const byComponent = components.map((c) => turnKeys(result.breakdown, `${c}/`));
  const used = components.filter((_, i) => byComponent[i].size > 0);
  const turns = new Set<number>([...overall.keys(), ...byComponent.flatMap((m) => [...m.keys()])]);
  if (turns.size === 0) return "";
  const sorted = [...turns].sort((a, b) => a - b);
  const all = [...overall.values(), ...byComponent.flatMap((m) => [...m.values()])];
  const scale = Math.max(1, ...all.map(Math.abs));
  const head = `<tr><th style="${TH}">assistant turn</th>${overall.size ? `<th style="${TH}">turn score</th>` : ""}${used.map((c) => `<th style="${TH}">${esc(c)}</th>`).join("")}</tr>`;
  const rows = sorted.map((t) => {
    const cells = used.map((c) => {
      const v = byComponent[components.indexOf(c)].get(t);
      return `<td style="${TD}">${v === undefined ? "–" : `${fmt(v)} ${bar(v, scale, PALETTE[components.indexOf(c) % PALETTE.length], `${c} turn ${t}: ${fmt(v)}`, 56)}`}</td>`;
    }).join("");
    const own = overall.get(t);
    return `<tr class="grpo-turn-reward" data-turn="${t}"><td style="${TD}">${t}</td>${overall.size ? `<td style="${TD}">${own === undefined ? "–" : `${fmt(own)} ${bar(own, scale, "#4e79a7", `turn ${t}: ${fmt(own)}`, 56)}`}</td>` : ""}${cells}</tr>`;
  });
  return `<table style="${TABLE}"><thead>${head}</thead><tbody>${rows.join("")}</tbody></table>`;
}

/** A reward result: the score, the explanation, components (table + stacked contributions) and per-turn scores. */
export function rewardToHTML(result: RewardResult): string {
  const head = `<div><b>Reward</b>${rewardBadge(result.score, "score")}` +
    (result.explanation ? `<div style="${css({ color: MUTED, fontSize: "12px" })}">${esc(result.explanation)}</div>` : "") + "</div>";
  const body = rewardBody(result);
  return `<div class="grpo-reward" style="${ROOT}">${head}${body || `<div style="color:${MUTED}">no breakdown</div>`}</div>`;
}

// ---------------------------------------------------------------------------------------------
// Training: step reports, health, config

/** The headline metrics of a step, in display order: [label, metric name, help]. */
export const STEP_METRICS: ReadonlyArray<readonly [string, string]> = [
  ["reward", "reward"], ["reward std (in group)", "reward_std"], ["loss", "loss"], ["KL", "kl"],
  ["clip ratio", "clip_ratio/region_mean"], ["entropy", "entropy"], ["grad norm", "grad_norm"],
  ["tokens / turn", "completions/mean_length"], ["episode length", "episode_length"], ["success rate", "success_rate"],
  ["learning rate", "learning_rate"], ["step time (s)", "time/step_s"],
];

function metricCard(label: string, value: number | undefined): string {
  return `<div class="grpo-metric" style="${css({ border: "1px solid #d0d7de", borderRadius: "6px", padding: "2px 8px", minWidth: "92px" })}">` +
    `<div style="${css({ fontSize: "11px", color: MUTED })}">${esc(label)}</div><div style="${css({ fontSize: "15px", fontVariantNumeric: "tabular-nums" })}">${fmt(value)}</div></div>`;
}

/** A step report: headline metrics, reward components, and each group (the first open) with its advantages. */
export function stepReportToHTML(report: StepReport, options: HtmlOptions = {}): string {
  const m = report.metrics;
  const cards = STEP_METRICS.filter(([, key]) => key in m).map(([label, key]) => metricCard(label, m[key])).join("");
  const componentRows = Object.keys(m).filter((k) => /^rewards\/.+\/mean$/.test(k)).map((k) => {
    const name = k.slice("rewards/".length, -"/mean".length);
    return `<tr><td style="${TD}">${esc(name)}</td><td style="${TDN}">${fmt(m[k])}</td><td style="${TDN}">${fmt(m[`rewards/${name}/std`])}</td></tr>`;
  }).join("");
  const components = componentRows
    ? `<table style="${TABLE}"><thead><tr><th style="${TH}">reward component</th><th style="${TH}">mean</th><th style="${TH}">std</th></tr></thead><tbody>${componentRows}</tbody></table>`
    : "";
  const groups = report.groups.map((g, i) =>
    `<details${i === 0 ? " open" : ""} style="margin-top:6px"><summary style="cursor:pointer">group ${i + 1}: <b>${esc(g.scenarioId)}</b> · mean reward ${fmt(g.meanReward)} · std ${fmt(g.rewardDiversity)}</summary>` +
    groupToHTML(g, { ...options, advantages: report.advantages[i] }) + "</details>").join("");
  const head = `<div style="margin-bottom:6px"><b>GRPO step ${report.step}</b><span style="color:${MUTED}"> · ${report.episodes} episodes so far · ${report.groups.length} group${report.groups.length === 1 ? "" : "s"}</span></div>`;
  return `<div class="grpo-step" style="${ROOT}">${head}<div style="${css({ display: "flex", flexWrap: "wrap", gap: "6px" })}">${cards}</div>${components}${groups}</div>`;
}

const LEVEL_COLOR: Record<string, string> = { HEALTHY: "#1a7f37", WARNING: "#9a6700", CRITICAL: "#cf222e" };

/** Training health: a coloured badge, the two headline signals, and each issue with its recommendation. */
export function healthToHTML(health: HealthStatus): string {
  const issues = health.issues.map((i) =>
    `<li class="grpo-issue" data-code="${esc(i.code)}" style="margin-bottom:4px">${badge(i.level, LEVEL_COLOR[i.level] ?? MUTED)} <code>${esc(i.code)}</code> ${esc(i.message)}` +
    `<div style="${css({ color: MUTED, fontSize: "12px" })}">→ ${esc(i.recommendation)}</div></li>`).join("");
  const body = issues ? `<ul style="${css({ margin: "6px 0", paddingLeft: "18px" })}">${issues}</ul>` : `<div style="${css({ color: MUTED, marginTop: "4px" })}">No issues detected.</div>`;
  return `<div class="grpo-health" data-status="${esc(health.status)}" style="${ROOT}"><b>Training health</b>` +
    `<span class="grpo-health-badge" style="${css({ display: "inline-block", marginLeft: "6px", padding: "1px 10px", borderRadius: "12px", background: LEVEL_COLOR[health.status] ?? MUTED, color: "#ffffff", fontWeight: 700 })}">${esc(health.status)}</span>` +
    `<div style="${css({ color: MUTED, fontSize: "12px", marginTop: "4px" })}">reward diversity ${fmt(health.rewardDiversity)} · gradient stability ${fmt(health.gradientStability)} · over ${health.windowSteps} step${health.windowSteps === 1 ? "" : "s"}</div>${body}</div>`;
}

/** The training profile whose defaults differ from `config` in the fewest knobs. */
export function closestProfile(config: GRPOConfig): TrainingProfile {
  let best: TrainingProfile = "balanced";
  let fewest = Number.POSITIVE_INFINITY;
  for (const profile of TRAINING_PROFILES) {
    const n = describeConfigDiff(config, profile).length;
    if (n < fewest) { fewest = n; best = profile; }
  }
  return best;
}

/** First sentence of a knob's documentation. */
function firstSentence(doc: string): string {
  const m = /^.*?[.!?](\s|$)/s.exec(doc);
  return (m ? m[0] : doc).trim();
}

/**
 * Every knob of a config in a table grouped by section, the ones that differ from `profile`
 * highlighted with the profile's value beside them. `profile` defaults to the closest one.
 */
export function configToHTML(config: GRPOConfig, options: { profile?: TrainingProfile } = {}): string {
  const profile = options.profile ?? closestProfile(config);
  const diffs = new Map(describeConfigDiff(config, profile).map((d) => [d.key, d]));
  const sections = Object.keys(KNOB_GROUPS).map((group) => {
    const keys = GRPO_CONFIG_KEYS.filter((k) => GRPO_CONFIG_DOCS[k].group === group);
    const rows = keys.map((key) => {
      const diff = diffs.get(key);
      const doc = GRPO_CONFIG_DOCS[key];
      const style = diff ? css({ background: "#fff8c5" }) : "";
      return `<tr class="grpo-knob${diff ? " grpo-changed" : ""}" data-knob="${key}" style="${style}" title="${esc(`${doc.doc}\nValid: ${doc.expected}`)}">` +
        `<td style="${TD}"><code>${key}</code></td><td style="${TDN}">${diff ? "<b>" : ""}${esc(formatKnobValue(config[key]))}${diff ? "</b>" : ""}</td>` +
        `<td style="${TD};color:${MUTED}">${diff ? `${esc(profile)}: ${esc(formatKnobValue(diff.profileValue))}` : ""}</td>` +
        `<td style="${TD};color:${MUTED};font-size:11px">${esc(truncate(firstSentence(doc.doc), 110))}</td></tr>`;
    }).join("");
    return `<tr><th colspan="4" style="${TH};padding-top:8px">${esc(KNOB_GROUPS[group as keyof typeof KNOB_GROUPS])}</th></tr>${rows}`;
  }).join("");
  const summary = diffs.size === 0 ? `the <b>${esc(profile)}</b> profile, unchanged`
    : `the <b>${esc(profile)}</b> profile, except ${[...diffs.keys()].map((k) => `<code>${k}</code>`).join(", ")}`;
  return `<div class="grpo-config" style="${ROOT}"><div><b>GRPOConfig</b>: ${summary}</div><table style="${TABLE}"><tbody>${sections}</tbody></table></div>`;
}
