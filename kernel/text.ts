/**
 * Plain-text views: what `display()` prints outside a notebook, the `text/plain` part of every MIME
 * bundle, and what `util.inspect` can show in a REPL. Readable in an 80–100 column terminal.
 */
import type { ConversationTurn, MultiTurnTrajectory, TrajectoryGroup } from "../src/core/trajectory.js";
import type { RewardResult } from "../src/core/reward.js";
import { GRPO_CONFIG_KEYS, describeConfigDiff, formatKnobValue, type GRPOConfig, type TrainingProfile } from "../src/training/config.js";
import type { HealthStatus } from "../src/training/diagnostics.js";
import type { StepReport } from "../src/training/events.js";
import type { TrainingHistory } from "../src/training/history.js";
import { cell, componentKeys, fmt, signed, sparkline, truncate, turnKeys } from "./format.js";
import { closestProfile, STEP_METRICS, trajectoryReward } from "./html.js";

const INDENT = "  ";

function oneLine(text: string, max: number): string {
  return truncate(text.replace(/\s+/g, " ").trim(), max);
}

/** One turn on one line (plus tool calls/results on their own lines). */
export function turnToText(turn: ConversationTurn, maxChars = 160): string {
  const extras: string[] = [];
  if (turn.reward !== undefined) extras.push(`reward ${fmt(turn.reward)}`);
  const gen = turn.generation;
  if (gen && gen.tokenIds.length > 0) {
    const meanLp = gen.logprobs.reduce((a, b) => a + b, 0) / gen.logprobs.length;
    extras.push(`${gen.tokenIds.length} tokens, mean log-prob ${fmt(meanLp)}, ${gen.finishReason}`);
  }
  const lines = [`[${turn.role}] ${oneLine(turn.content, maxChars) || "(empty)"}${extras.length ? `  (${extras.join("; ")})` : ""}`];
  for (const call of turn.toolCalls) lines.push(`${INDENT}-> tool call ${call.name}(${oneLine(JSON.stringify(call.arguments), 80)})`);
  if (turn.role !== "tool") {
    for (const r of turn.toolResults) lines.push(`${INDENT}<- ${r.name}${r.isError ? " (error)" : ""}: ${oneLine(r.content, 80)}`);
  }
  return lines.join("\n");
}

/** A trajectory: one header line, one line per turn, the reward components. */
export function trajectoryToText(t: MultiTurnTrajectory, options: { advantage?: number } = {}): string {
  const head = `Trajectory ${t.id} · scenario ${t.scenarioId} · ${t.status} · reward ${fmt(t.totalReward)}` +
    (options.advantage !== undefined ? ` · advantage ${signed(options.advantage)}` : "") + ` · ${t.episodeLength} assistant turns`;
  const lines = [head, ...t.turns.map((turn) => INDENT + turnToText(turn).split("\n").join(`\n${INDENT}`))];
  const reward = trajectoryReward(t);
  const components = componentKeys(reward.breakdown);
  if (components.length > 0) lines.push(`${INDENT}reward components: ${components.map((c) => `${c} ${fmt(reward.breakdown[c])}`).join(", ")}`);
  return lines.join("\n");
}

/** A group: summary line, then each trajectory (best reward first) with its advantage. */
export function groupToText(group: TrajectoryGroup, options: { advantages?: number[] } = {}): string {
  const advantages = options.advantages ?? group.advantages();
  const order = group.trajectories.map((t, i) => ({ t, a: advantages[i] })).sort((x, y) => y.t.totalReward - x.t.totalReward);
  const lines = [`Group ${group.scenarioId} · ${group.trajectories.length} trajectories · mean reward ${fmt(group.meanReward)} · std ${fmt(group.rewardDiversity)}`];
  order.forEach(({ t, a }, rank) => {
    const firstReply = t.assistantTurns[0]?.content ?? "";
    lines.push(`${INDENT}#${rank + 1} reward ${fmt(t.totalReward)}${a !== undefined ? ` advantage ${signed(a)}` : ""} · ${oneLine(firstReply, 60) || "(no reply)"}`);
  });
  return lines.join("\n");
}

/** A reward result: score, explanation, components with weights, per-turn scores. */
export function rewardToText(result: RewardResult): string {
  const lines = [`Reward ${fmt(result.score)}${result.explanation ? ` — ${result.explanation}` : ""}`];
  const weights = (result.metadata.weights ?? {}) as Record<string, number>;
  for (const c of componentKeys(result.breakdown)) {
    const w = typeof weights[c] === "number" ? ` (weight ${fmt(weights[c], 2)})` : "";
    lines.push(`${INDENT}${cell(c, 24)} ${fmt(result.breakdown[c]).padStart(7)}${w}`);
  }
  const turns = turnKeys(result.breakdown);
  if (turns.size > 0) lines.push(`${INDENT}per turn: ${[...turns].sort((a, b) => a[0] - b[0]).map(([i, v]) => `turn ${i} ${fmt(v)}`).join(", ")}`);
  return lines.join("\n");
}

/** A step report: headline metrics, then each group. */
export function stepReportToText(report: StepReport): string {
  const m = report.metrics;
  const metrics = STEP_METRICS.filter(([, k]) => k in m).map(([label, k]) => `${label} ${fmt(m[k])}`);
  const lines = [`GRPO step ${report.step} · ${report.episodes} episodes so far`, `${INDENT}${metrics.join(" · ")}`];
  report.groups.forEach((g, i) => lines.push(...groupToText(g, { advantages: report.advantages[i] }).split("\n").map((l) => INDENT + l)));
  return lines.join("\n");
}

/** The metrics the history chart shows, with their labels. */
export const HISTORY_METRICS: ReadonlyArray<readonly [string, string]> = [
  ["reward", "reward"], ["loss", "loss"], ["KL", "kl"], ["clip ratio", "clip_ratio/region_mean"],
  ["entropy", "entropy"], ["tokens / turn", "completions/mean_length"], ["grad norm", "grad_norm"],
];

/** Training history: one line per metric with a sparkline and the last value. */
export function historyToText(history: TrainingHistory): string {
  if (history.length === 0) return "TrainingHistory: no steps yet";
  const lines = [`TrainingHistory: ${history.length} step${history.length === 1 ? "" : "s"}`];
  const width = 40;
  for (const [label, key] of HISTORY_METRICS) {
    const series = history.series(key);
    if (!series.some(Number.isFinite)) continue;
    const shown = series.slice(-width);
    lines.push(`${INDENT}${cell(label, 14)} ${sparkline(shown).padEnd(Math.min(width, shown.length))}  last ${fmt(series[series.length - 1])}`);
  }
  return lines.join("\n");
}

/** Health: status, the two signals, issues with their recommendations. */
export function healthToText(health: HealthStatus): string {
  const lines = [`Training health: ${health.status}`,
    `${INDENT}reward diversity ${fmt(health.rewardDiversity)} · gradient stability ${fmt(health.gradientStability)} · ${health.windowSteps} steps`];
  if (health.issues.length === 0) lines.push(`${INDENT}No issues detected.`);
  for (const i of health.issues) lines.push(`${INDENT}${i.level} ${i.code}: ${i.message}`, `${INDENT}${INDENT}-> ${i.recommendation}`);
  return lines.join("\n");
}

/** A config: the profile it is closest to and every knob that differs from it. */
export function configToText(config: GRPOConfig, options: { profile?: TrainingProfile; all?: boolean } = {}): string {
  const profile = options.profile ?? closestProfile(config);
  const diffs = describeConfigDiff(config, profile);
  const lines = [`GRPOConfig: ${profile} profile${diffs.length ? `, except ${diffs.length} knob${diffs.length === 1 ? "" : "s"}:` : ", unchanged"}`];
  for (const d of diffs) lines.push(`${INDENT}${cell(d.key, 28)} ${formatKnobValue(d.value)}  (${profile}: ${formatKnobValue(d.profileValue)})`);
  if (options.all) {
    const changed = new Set(diffs.map((d) => d.key));
    for (const key of GRPO_CONFIG_KEYS) if (!changed.has(key)) lines.push(`${INDENT}${cell(key, 28)} ${formatKnobValue(config[key])}`);
  }
  return lines.join("\n");
}
