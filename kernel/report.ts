/**
 * The training report: one self-contained HTML file made from a run folder (`grpo report <runDir>`).
 *
 * - Interactive plotly charts of every logged metric (reward mean ± std band, loss, KL, clip ratio,
 *   entropy, lengths, grad norm, learning rate, times, …) and of the reward components over time.
 * - A browser of the logged trajectory groups: pick a step (or click a point of any chart) to see
 *   its groups side by side, best reward first, turn by turn with rewards and advantages: the
 *   kernel's own group view (html.ts), rendered here and shipped gzip-compressed per step.
 * - The run's GRPOConfig (from its newest checkpoint, else from `run.json`).
 *
 * Offline by construction: plotly.js (the pinned `plotly.js-basic-dist-min`) is inlined, the data sits in
 * a JSON script element, and a Content-Security-Policy forbids every fetch and every script but
 * ours (nonce). All logged text (model output, scenario ids, metric names) is escaped before it
 * reaches the page.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { GrpoError } from "../src/core/errors.js";
import { resolveModelFolder } from "../src/model/registry.js";
import { ChatTokenizer } from "../src/model/tokenizer.js";
import { listCheckpoints, readLatest, TRAINER_STATE_FILE } from "../src/training/checkpoints.js";
import { TRAINING_PROFILES, type GRPOConfig, type TrainingProfile } from "../src/training/config.js";
import { loggedGroupToTrajectoryGroup, readRunLog, type LoggedGroup, type RunLog } from "../src/training/runlog.js";
import { esc, fmt } from "./format.js";
import { configToHTML, groupToHTML } from "./html.js";
import { historyPanels, panelLayout, type HistoryPanel } from "./plotly.js";

const require = createRequire(import.meta.url);

/** Options of {@link buildReport} and {@link writeReport}. */
export interface ReportOptions {
  /** Page title (default: "GRPO training report: <folder name>"). */
  title?: string;
}

/** What a report holds, for the command's summary line. */
export interface ReportSummary {
  /** Steps with metrics. */
  steps: number;
  /** Steps whose trajectory groups were logged. */
  trajectorySteps: number;
  /** Trajectory groups in the browser. */
  groups: number;
  /** Charts drawn. */
  charts: number;
  /** What the reader skipped and why (torn last lines, missing logs, an unreadable config). */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Pieces

let plotlySource: string | undefined;

/** plotly.js (the pinned `plotly.js-basic-dist-min` bundle), made safe to sit inside a `<script>` element. */
function plotlyScript(): string {
  if (plotlySource === undefined) {
    const file = require.resolve("plotly.js-basic-dist-min");
    // `</script` would end the element and `<!--` could start HTML's escaped script state; in the
    // bundle they occur only inside string and regex literals, where `\x3C` means the same "<".
    plotlySource = readFileSync(file, "utf8").replace(/<(\/script|!--)/gi, "\\x3C$1");
  }
  return plotlySource;
}

/** JSON for a `<script type="application/json">` element (no `<`, so no tag can end it early). */
function scriptJSON(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))
    .replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The run's configuration and the model folder whose tokenizer decodes logged tokens: from the
 * newest checkpoint (its config includes knob changes made during training), else from `run.json`.
 */
async function runConfig(log: RunLog, notes: string[]): Promise<{ config: GRPOConfig; profile?: TrainingProfile; modelDir?: string } | undefined> {
  const profileOf = (p: unknown) => (TRAINING_PROFILES as readonly unknown[]).includes(p) ? p as TrainingProfile : undefined;
  try {
    const latest = (await readLatest(log.runDir)) ?? (await listCheckpoints(log.runDir)).pop();
    if (latest) {
      const state = JSON.parse(await readFile(path.join(latest.dir, TRAINER_STATE_FILE), "utf8")) as { config?: GRPOConfig; profile?: unknown };
      if (state.config && typeof state.config === "object") return { config: state.config, profile: profileOf(state.profile), modelDir: path.join(latest.dir, "model") };
    }
  } catch (error) {
    notes.push(`The newest checkpoint's configuration could not be read: ${(error as Error).message}`);
  }
  if (!log.info) return undefined;
  let modelDir: string | undefined;
  try {
    modelDir = resolveModelFolder(log.info.agent.modelName);
  } catch {
    modelDir = undefined; // the model moved or was a remote one: tokens are shown as ids
  }
  return { config: log.info.config as unknown as GRPOConfig, profile: profileOf(log.info.profile), modelDir };
}

/** Decodes logged token ids with the run's own tokenizer (from its checkpoint), when tokens were logged. */
async function runTokenizer(groups: readonly LoggedGroup[], modelDir: string | undefined, notes: string[]): Promise<ChatTokenizer | undefined> {
  const hasTokens = groups.some((g) => g.trajectories.some((t) => t.turns.some((turn) => turn.tokenIds !== undefined)));
  if (!hasTokens || modelDir === undefined) return undefined;
  try {
    return await ChatTokenizer.fromFolder(modelDir);
  } catch (error) {
    notes.push(`Token ids are shown as numbers: the run's tokenizer could not be loaded (${(error as Error).message}).`);
    return undefined;
  }
}

/** One step of the trajectory browser: its label and its groups' HTML, gzip-compressed, base64. */
interface BrowserStep {
  step: number;
  label: string;
  html: string;
}

function browserSteps(log: RunLog, tokenizer: ChatTokenizer | undefined): BrowserStep[] {
  const byStep = new Map<number, LoggedGroup[]>();
  for (const g of log.groups) byStep.set(g.step, [...(byStep.get(g.step) ?? []), g]);
  const metricsOf = new Map(log.metrics.map((m) => [m.step, m]));
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, groups]) => {
    const m = metricsOf.get(step);
    const parts = groups.sort((a, b) => a.group - b.group).map((logged) => {
      const { group, advantages } = loggedGroupToTrajectoryGroup(logged);
      return `<details open class="grpo-report-group" data-group="${logged.group}"><summary>group ${logged.group + 1} of ${groups.length}</summary>` +
        groupToHTML(group, { advantages, tokenizer, colorBy: "logprob" }) + "</details>";
    });
    const head = `<div class="grpo-report-step-head"><b>Step ${step}</b>` +
      (m ? ` · reward ${fmt(m.reward)} ± ${fmt(m.reward_std)} · loss ${fmt(m.loss)} · ${groups.length} group${groups.length === 1 ? "" : "s"}` : "") + "</div>";
    const label = `step ${step}${m ? ` · reward ${fmt(m.reward)}` : ""}`;
    return { step, label, html: gzipSync(head + parts.join(""), { level: 9 }).toString("base64") };
  });
}

function card(label: string, value: string): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div></div>`;
}

function summaryCards(log: RunLog, groups: number): string {
  const rewards = log.metrics.map((m) => m.reward).filter(Number.isFinite);
  const last = log.metrics[log.metrics.length - 1];
  const seconds = log.metrics.reduce((s, m) => s + (Number.isFinite(m["time/step_s"]) ? m["time/step_s"] : 0), 0);
  return [
    card("steps", String(log.metrics.length)),
    card("episodes", Number.isFinite(last.episodes) ? String(last.episodes) : "–"),
    card("reward, first → last step", `${fmt(rewards[0])} → ${fmt(rewards[rewards.length - 1])}`),
    card("best step reward", rewards.length ? fmt(Math.max(...rewards)) : "–"),
    card("trajectory groups logged", String(groups)),
    card("training time", seconds > 0 ? `${(seconds / 60).toFixed(1)} min` : "–"),
  ].join("");
}

// ---------------------------------------------------------------------------------------------
// The page

const STYLE = `
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,'DejaVu Sans',sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
header{background:#fff;border-bottom:1px solid #d0d7de;padding:12px 20px}
header h1{font-size:20px;margin:0 0 4px}
header .sub{color:#59636e;font-size:13px;word-break:break-all}
nav a{margin-right:14px;color:#0969da;text-decoration:none;font-size:13px}
main{padding:8px 20px 40px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:14px 0;padding:10px 14px}
section h2{font-size:16px;margin:4px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:4px 10px;min-width:120px;background:#fff}
.card .label{font-size:11px;color:#59636e}.card .value{font-size:16px;font-variant-numeric:tabular-nums}
.notes{color:#9a6700;font-size:13px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:10px}
.plot{min-height:260px;border:1px solid #eaeef2;border-radius:4px}
.wide{min-height:340px}
.controls{display:flex;gap:8px;align-items:center;margin-bottom:8px;font-size:13px}
.controls select,.controls button{font-size:13px;padding:2px 6px}
.help{color:#59636e;font-size:12px}
details.grpo-report-group>summary{cursor:pointer;margin:6px 0}
`;

/** The browser side: draws the charts, fills the trajectory browser, links chart clicks to steps. */
const APP = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("grpo-report-data").textContent);
  var select = document.getElementById("grpo-step");
  var target = document.getElementById("grpo-groups");
  var cache = {};
  function inflate(base64) {
    var bytes = Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); });
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  function show(index) {
    if (!data.steps.length) return;
    index = Math.max(0, Math.min(data.steps.length - 1, index));
    select.value = String(index);
    cache[index] = cache[index] || inflate(data.steps[index].html);
    cache[index].then(function (html) {
      if (select.value === String(index)) { target.innerHTML = html; target.setAttribute("data-step", String(data.steps[index].step)); }
    }, function (error) { target.textContent = "This browser cannot unpack the trajectories (" + error + ")."; });
  }
  function nearest(step) {
    var best = 0;
    data.steps.forEach(function (s, i) { if (Math.abs(s.step - step) < Math.abs(data.steps[best].step - step)) best = i; });
    return best;
  }
  data.steps.forEach(function (s, i) {
    var option = document.createElement("option");
    option.value = String(i);
    option.textContent = s.label;
    select.appendChild(option);
  });
  select.addEventListener("change", function () { show(Number(select.value)); });
  document.getElementById("grpo-prev").addEventListener("click", function () { show(Number(select.value) - 1); });
  document.getElementById("grpo-next").addEventListener("click", function () { show(Number(select.value) + 1); });
  data.panels.forEach(function (panel, i) {
    var div = document.getElementById("grpo-plot-" + i);
    Plotly.newPlot(div, panel.traces, panel.layout, { responsive: true, displaylogo: false }).then(function () {
      div.on("plotly_click", function (event) {
        if (!data.steps.length || !event.points.length) return;
        show(nearest(event.points[0].x));
        document.getElementById("trajectories").scrollIntoView({ behavior: "smooth" });
      });
    });
  });
  show(data.steps.length - 1);
  document.body.setAttribute("data-ready", "true");
})();
`;

function plotDiv(index: number, panel: HistoryPanel, wide = false): string {
  return `<div class="plot${wide ? " wide" : ""}" id="grpo-plot-${index}" data-title="${esc(panel.title)}"></div>`;
}

/**
 * The report of a run folder as one HTML string, with a summary. Errors (GrpoError) for a missing,
 * empty or damaged run folder (see `readRunLog`).
 */
export async function buildReport(runDir: string, options: ReportOptions = {}): Promise<{ html: string; summary: ReportSummary }> {
  const log = await readRunLog(runDir);
  const notes = [...log.notes];
  const run = await runConfig(log, notes);
  const tokenizer = await runTokenizer(log.groups, run?.modelDir, notes);
  const panels = historyPanels(log.metrics);
  const components = panels.filter((p) => p.metrics.some((k) => k.startsWith("rewards/")));
  const metricPanels = panels.filter((p) => !components.includes(p));
  const ordered = [...components, ...metricPanels];
  const steps = browserSteps(log, tokenizer);
  const nonce = randomBytes(16).toString("base64");
  const title = options.title ?? `GRPO training report: ${path.basename(path.resolve(runDir))}`;
  let configHTML = "";
  if (run) {
    try {
      configHTML = configToHTML(run.config, { profile: run.profile });
    } catch (error) {
      notes.push(`The run's configuration could not be shown: ${(error as Error).message}`);
    }
  }
  const data = {
    panels: ordered.map((p) => ({ title: p.title, traces: p.traces, layout: p === components[0] ? { ...panelLayout(p), height: 340 } : panelLayout(p) })),
    steps,
  };
  const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head><body>
<header><h1>${esc(title)}</h1>
<div class="sub">${esc(path.resolve(runDir))} · generated ${esc(new Date().toISOString())} by grpo-agent-framework</div>
<nav><a href="#metrics">metrics</a><a href="#rewards">reward breakdown</a><a href="#trajectories">trajectories</a>${configHTML ? '<a href="#config">config</a>' : ""}</nav>
<div class="cards">${summaryCards(log, log.groups.length)}</div>
${notes.length ? `<ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}
</header>
<main>
<section id="rewards"><h2>Reward breakdown over time</h2>
${components.length ? components.map((p, i) => plotDiv(i, p, true)).join("") : '<p class="help">The reward has no named components (a single reward function): see the reward chart below.</p>'}
</section>
<section id="metrics"><h2>Metrics</h2><p class="help">Drag to zoom, double-click to reset; click a point to open that step's trajectories.</p>
<div class="plots">${metricPanels.map((p, i) => plotDiv(components.length + i, p)).join("")}</div>
</section>
<section id="trajectories"><h2>Trajectory groups</h2>
${steps.length ? `<div class="controls"><button id="grpo-prev" type="button">◀</button><select id="grpo-step" aria-label="step"></select><button id="grpo-next" type="button">▶</button>
<span class="help">${steps.length} logged step${steps.length === 1 ? "" : "s"}; each group best reward first, with its advantages; hover tokens for log-probs</span></div>
<div id="grpo-groups"></div>` : `<p class="help">No trajectories were logged in this run (logTrajectorySteps = 0, or a run from before trajectory logging).</p><select id="grpo-step" hidden></select><button id="grpo-prev" hidden></button><button id="grpo-next" hidden></button><div id="grpo-groups"></div>`}
</section>
${configHTML ? `<section id="config"><h2>Configuration</h2>${configHTML}</section>` : ""}
</main>
<script nonce="${nonce}">${plotlyScript()}</script>
<script type="application/json" id="grpo-report-data">${scriptJSON(data)}</script>
<script nonce="${nonce}">${APP}</script>
</body></html>
`;
  return {
    html,
    summary: { steps: log.metrics.length, trajectorySteps: steps.length, groups: log.groups.length, charts: ordered.length, notes },
  };
}

/** Where `grpo report` writes by default: `<runDir>/report.html`. */
export function defaultReportPath(runDir: string): string {
  return path.join(runDir, "report.html");
}

/** Builds the report of `runDir` and writes it to `out` (default `<runDir>/report.html`). */
export async function writeReport(runDir: string, out?: string, options: ReportOptions = {}): Promise<{ file: string; bytes: number; summary: ReportSummary }> {
  const file = out ?? defaultReportPath(runDir);
  if (![".html", ".htm"].includes(path.extname(file).toLowerCase())) {
    throw new GrpoError("invalid_argument", "The report is an HTML file.", {
      field: "--out", value: file, expected: "a path ending in .html", fix: `write it as ${JSON.stringify(`${file}.html`)}.`,
    });
  }
  const { html, summary } = await buildReport(runDir, options);
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, html);
  return { file, bytes: Buffer.byteLength(html), summary };
}
