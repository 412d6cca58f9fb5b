/**
 * Plotly figures of the training history, for JupyterLab users who prefer plotly and for the HTML
 * report (`grpo report`, see report.ts).
 *
 * `display(plotlyFigure(trainer.history))` sends one bundle `{application/vnd.plotly.v1+json,
 * image/png, text/plain}`: JupyterLab with plotly's renderer extension draws the interactive
 * figure; every other frontend (classic Notebook, nbconvert HTML, GitHub, VS Code without the
 * extension) shows the PNG, which is the vega-lite chart of the same data (charts.ts), so no
 * browser is needed to rasterise plotly. Figures are plain JSON: `{ data, layout, config }`.
 *
 * The panels (one metric family each, x = step) are defined once in {@link historyPanels}; the
 * notebook figure lays them out as subplots, the report draws each in its own plot.
 */
import { inspect } from "node:util";
import { MIME_BUNDLE_SYMBOL, type MimeBundle } from "../src/core/display-registry.js";
import { GrpoError } from "../src/core/errors.js";
import type { StepMetrics } from "../src/training/history.js";
import { TrainingHistory } from "../src/training/history.js";
import { Chart, historyChart } from "./charts.js";
import { PALETTE } from "./html.js";
import { historyToText, HISTORY_METRICS } from "./text.js";

/** The MIME type JupyterLab's plotly renderer (and plotly.py) use. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** A plotly trace or layout object, as JSON (see https://plotly.com/javascript/reference/). */
export type PlotlyObject = Record<string, unknown>;

/** A plotly figure as JSON: what `Plotly.newPlot(div, data, layout, config)` takes. */
export interface PlotlyFigureJSON {
  data: PlotlyObject[];
  layout: PlotlyObject;
  config?: PlotlyObject;
}

/** Options of {@link PlotlyFigure}. */
export interface PlotlyFigureOptions {
  /** What `text/plain` shows (default: the figure's title and trace count). */
  text?: string;
  /** A chart of the same data whose PNG is the bundle's `image/png` fallback (none: no image in the bundle). */
  fallback?: Chart;
}

/**
 * A plotly figure with a text form and an optional PNG fallback. `display(figure)` sends its MIME
 * bundle; `figure.toJSON()` is the figure for `Plotly.newPlot` or plotly.py's `go.Figure(...)`.
 */
export class PlotlyFigure {
  /** The traces. */
  readonly data: PlotlyObject[];
  /** The layout. */
  readonly layout: PlotlyObject;
  /** Plotly's config (mode bar, responsiveness). */
  readonly config: PlotlyObject;
  /** What `text/plain` shows. */
  readonly text: string;
  /** The chart whose PNG stands in where plotly cannot be drawn. */
  readonly fallback?: Chart;

  constructor(figure: PlotlyFigureJSON, options: PlotlyFigureOptions = {}) {
    if (figure === null || typeof figure !== "object" || !Array.isArray(figure.data) || figure.layout === null || typeof figure.layout !== "object") {
      throw new GrpoError("invalid_argument", "A PlotlyFigure needs `data` (an array of traces) and a `layout` object.", {
        value: figure, expected: '{ data: [{ type: "scatter", x: [1, 2], y: [3, 4] }], layout: { title: { text: "…" } } }',
      });
    }
    this.data = figure.data;
    this.layout = figure.layout;
    this.config = figure.config ?? { responsive: true, displaylogo: false };
    const title = (figure.layout.title as { text?: unknown } | undefined)?.text;
    this.text = options.text ?? `PlotlyFigure(${typeof title === "string" ? `${title}, ` : ""}${figure.data.length} traces)`;
    this.fallback = options.fallback;
  }

  /** `{ data, layout, config }`: the `application/vnd.plotly.v1+json` payload. */
  toJSON(): Required<PlotlyFigureJSON> {
    return { data: this.data, layout: this.layout, config: this.config };
  }

  /**
   * `{application/vnd.plotly.v1+json, image/png (base64, when there is a fallback chart), text/plain}`
   * plus the PNG's display size in the metadata (it is drawn at 2×).
   */
  mimeBundle(): { data: MimeBundle; metadata: Record<string, unknown> } {
    // JSON has no NaN: missing values go out as null, which plotly draws as gaps.
    const figure = JSON.parse(JSON.stringify(this.toJSON(), (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))) as PlotlyFigureJSON;
    if (!this.fallback) return { data: { [PLOTLY_MIME]: figure, "text/plain": this.text }, metadata: {} };
    const png = this.fallback.mimeBundle();
    return {
      data: { [PLOTLY_MIME]: figure, "image/png": png.data["image/png"], "text/plain": this.text },
      metadata: png.metadata,
    };
  }

  /** The display protocol (see `MIME_BUNDLE_SYMBOL`). */
  [MIME_BUNDLE_SYMBOL](): MimeBundle {
    return this.mimeBundle().data;
  }

  /** What a REPL or a notebook's last-expression printout shows. */
  [inspect.custom](): string {
    return this.text;
  }
}

// ---------------------------------------------------------------------------------------------
// Panels: one metric family each

/** One panel of the history: a title, the metric names it draws, and its traces (x = step). */
export interface HistoryPanel {
  /** Shown above the panel. */
  title: string;
  /** The metric names drawn (for "every metric is drawn somewhere" and for tests). */
  metrics: string[];
  /** Plotly traces with `x` = step. */
  traces: PlotlyObject[];
}

/** A metric family: a panel title and the metric names (or a name pattern) it draws. */
interface PanelSpec {
  title: string;
  keys: readonly string[];
}

/**
 * The panels in display order. The reward panel (with its ± std band) and the reward components
 * come first; metrics not listed here get a panel each after these, so every logged metric is drawn.
 */
const PANELS: readonly PanelSpec[] = [
  { title: "loss", keys: ["loss"] },
  { title: "KL to the reference", keys: ["kl"] },
  { title: "clip ratio", keys: ["clip_ratio/region_mean", "clip_ratio/low_mean", "clip_ratio/high_mean"] },
  { title: "entropy (nats / token)", keys: ["entropy"] },
  { title: "tokens per assistant turn", keys: ["completions/mean_length"] },
  { title: "truncated turns (hit maxNewTokens)", keys: ["completions/clipped_ratio"] },
  { title: "assistant turns per episode", keys: ["episode_length"] },
  { title: "grad norm (before clipping)", keys: ["grad_norm"] },
  { title: "learning rate", keys: ["learning_rate"] },
  { title: "success rate", keys: ["success_rate"] },
  { title: "groups with equal rewards", keys: ["frac_reward_zero_std"] },
  { title: "seconds per step", keys: ["time/step_s", "time/rollout_s", "time/reward_s", "time/optimize_s"] },
  { title: "episodes so far", keys: ["episodes"] },
];

/** The values of `key` per step (NaN where not logged). */
function series(steps: readonly StepMetrics[], key: string): number[] {
  return steps.map((m) => (key in m ? m[key] : Number.NaN));
}

function logged(steps: readonly StepMetrics[], key: string): boolean {
  return steps.some((m) => Number.isFinite(m[key]));
}

/**
 * Text for plotly labels. Plotly renders a subset of HTML in titles, names and hover text (and
 * decodes entities), and metric or component names come from logs: escape the markup characters.
 */
export function plotlyText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function line(x: number[], y: number[], label: string, color: string, extra: PlotlyObject = {}): PlotlyObject {
  const name = plotlyText(label);
  return { type: "scatter", mode: x.length <= 60 ? "lines+markers" : "lines", x, y, name, line: { color, width: 1.8 }, marker: { size: 4 }, ...extra };
}

/** A mean line with a shaded ± std band (two invisible bound traces, the upper one filled to the lower). */
function band(x: number[], mean: number[], spread: number[], label: string, color: string, legendgroup: string): PlotlyObject[] {
  const name = plotlyText(label);
  const lo = mean.map((m, i) => m - (Number.isFinite(spread[i]) ? spread[i] : 0));
  const hi = mean.map((m, i) => m + (Number.isFinite(spread[i]) ? spread[i] : 0));
  const bound = { type: "scatter", mode: "lines", x, line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup };
  return [
    { ...bound, y: lo, name: `${name} − std` },
    { ...bound, y: hi, name: `${name} + std`, fill: "tonexty", fillcolor: hexToRgba(color, 0.18) },
    line(x, mean, label, color, { legendgroup, customdata: spread, hovertemplate: `${name}: %{y:.4f} ± %{customdata:.4f}<extra></extra>` }),
  ];
}

function hexToRgba(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** The reward components a run logged (`rewards/<name>/mean`), in first-seen order. */
export function rewardComponents(steps: readonly StepMetrics[]): string[] {
  const names = new Set<string>();
  for (const m of steps) for (const k of Object.keys(m)) {
    const match = /^rewards\/(.+)\/mean$/.exec(k);
    if (match) names.add(match[1]);
  }
  return [...names];
}

/**
 * Every panel of a history, each only when its metrics were logged: the reward mean ± the mean
 * within-group std, the reward components (mean ± std each), then {@link PANELS}, then one panel per
 * metric no panel claims.
 */
export function historyPanels(steps: readonly StepMetrics[]): HistoryPanel[] {
  const x = steps.map((m, i) => (Number.isFinite(m.step) ? m.step : i + 1));
  const panels: HistoryPanel[] = [];
  const claimed = new Set<string>(["step"]);
  if (logged(steps, "reward")) {
    panels.push({
      title: "reward (mean ± std within groups)", metrics: ["reward", "reward_std"],
      traces: band(x, series(steps, "reward"), series(steps, "reward_std"), "reward", "#1a7f37", "reward"),
    });
  }
  claimed.add("reward").add("reward_std");
  const components = rewardComponents(steps);
  if (components.length > 0) {
    const metrics = components.flatMap((c) => [`rewards/${c}/mean`, `rewards/${c}/std`]);
    panels.push({
      title: "reward components (mean ± std)", metrics,
      traces: components.flatMap((c, i) =>
        band(x, series(steps, `rewards/${c}/mean`), series(steps, `rewards/${c}/std`), c, PALETTE[i % PALETTE.length], `component-${i}`)),
    });
    for (const k of metrics) claimed.add(k);
  }
  const specs: PanelSpec[] = [...PANELS];
  const listed = new Set(PANELS.flatMap((p) => p.keys));
  const names = new Set<string>();
  for (const m of steps) for (const k of Object.keys(m)) names.add(k);
  for (const k of names) if (!listed.has(k) && !claimed.has(k)) specs.push({ title: plotlyText(k), keys: [k] });
  for (const spec of specs) {
    const keys = spec.keys.filter((k) => logged(steps, k));
    if (keys.length === 0) continue;
    panels.push({
      title: spec.title, metrics: keys,
      traces: keys.map((k, i) => line(x, series(steps, k), k, i === 0 ? "#4e79a7" : PALETTE[(i + 1) % PALETTE.length])),
    });
  }
  return panels;
}

/** Whole-step ticks: one per step for short runs (plotly would put ticks at half steps), automatic beyond. */
function stepTicks(panel: HistoryPanel): PlotlyObject {
  const steps = Math.max(0, ...panel.traces.map((t) => (Array.isArray(t.x) ? t.x.length : 0)));
  return steps <= 12 ? { tickmode: "linear", dtick: 1 } : { tickformat: "d" };
}

/** The layout of one panel drawn on its own (the report). */
export function panelLayout(panel: HistoryPanel): PlotlyObject {
  return {
    title: { text: panel.title, x: 0.02, xanchor: "left", font: { size: 13 } },
    height: 260,
    margin: { l: 56, r: 12, t: 36, b: 40 },
    xaxis: { title: { text: "step" }, ...stepTicks(panel), zeroline: false },
    yaxis: { zeroline: false, automargin: true },
    showlegend: panel.traces.filter((t) => t.showlegend !== false).length > 1,
    legend: { orientation: "h", y: -0.25, font: { size: 10 } },
    hovermode: "x unified",
    font: { family: "DejaVu Sans, Helvetica, Arial, sans-serif", size: 11 },
    paper_bgcolor: "white",
    plot_bgcolor: "white",
  };
}

// ---------------------------------------------------------------------------------------------
// The notebook figure

/** Options of {@link plotlyFigure}. */
export interface PlotlyHistoryOptions {
  /**
   * `main` (default): the panels of `display(history)`'s chart (reward ± std, loss, KL, clip ratio,
   * entropy, tokens per turn, grad norm) plus the reward components, so the PNG fallback shows the
   * same metrics; `all`: every logged metric.
   */
  panels?: "main" | "all";
  /** Panels per row (default 3). */
  columns?: number;
  /** Figure title (default "Training history"). */
  title?: string;
}

/**
 * The training history as one plotly figure of subplots (x = step), with the vega-lite chart of the
 * same history as its PNG fallback. Accepts a TrainingHistory (`trainer.history`) or its steps.
 *
 * ```ts
 * import { display, plotlyFigure } from "grpo-agent-framework/kernel";
 * display(plotlyFigure(trainer.history));   // interactive in JupyterLab with plotly's extension, PNG elsewhere
 * ```
 */
export function plotlyFigure(history: TrainingHistory | readonly StepMetrics[], options: PlotlyHistoryOptions = {}): PlotlyFigure {
  const steps = history instanceof TrainingHistory ? history.steps : history;
  if (!Array.isArray(steps)) {
    throw new GrpoError("invalid_argument", "plotlyFigure draws a training history.", {
      value: history, expected: "a TrainingHistory (`trainer.history`) or an array of step metrics",
    });
  }
  const main = new Set(HISTORY_METRICS.map(([, key]) => key));
  const all = historyPanels(steps);
  const panels = options.panels === "all" ? all
    : all.filter((p) => p.metrics.some((k) => main.has(k) || k.startsWith("rewards/")));
  const columns = Math.max(1, Math.min(options.columns ?? 3, panels.length || 1));
  const rows = Math.max(1, Math.ceil(panels.length / columns));
  const gapX = 0.06;
  const gapY = 0.1;
  const layout: PlotlyObject = {
    title: { text: options.title ?? "Training history", x: 0.01, xanchor: "left" },
    height: 90 + 230 * rows,
    margin: { l: 50, r: 20, t: 70, b: 40 },
    showlegend: false,
    hovermode: "x unified",
    font: { family: "DejaVu Sans, Helvetica, Arial, sans-serif", size: 11 },
    paper_bgcolor: "white",
    plot_bgcolor: "white",
  };
  const annotations: PlotlyObject[] = [];
  const data: PlotlyObject[] = [];
  panels.forEach((panel, i) => {
    const r = Math.floor(i / columns);
    const c = i % columns;
    const suffix = i === 0 ? "" : String(i + 1);
    const x0 = c / columns + (c > 0 ? gapX / 2 : 0);
    const x1 = (c + 1) / columns - (c < columns - 1 ? gapX / 2 : 0);
    const y1 = 1 - r / rows - (r > 0 ? gapY / 2 : 0);
    const y0 = 1 - (r + 1) / rows + (r < rows - 1 ? gapY / 2 : 0);
    layout[`xaxis${suffix}`] = { domain: [x0, x1], anchor: `y${suffix}`, ...stepTicks(panel), zeroline: false };
    layout[`yaxis${suffix}`] = { domain: [y0, y1], anchor: `x${suffix}`, zeroline: false };
    annotations.push({ text: panel.title, xref: "paper", yref: "paper", x: x0, y: y1, xanchor: "left", yanchor: "bottom", showarrow: false, font: { size: 12 } });
    for (const trace of panel.traces) data.push({ ...trace, xaxis: `x${suffix}`, yaxis: `y${suffix}` });
  });
  layout.annotations = annotations;
  const whole = history instanceof TrainingHistory ? history : new TrainingHistory([...steps]);
  return new PlotlyFigure({ data, layout }, { text: historyToText(whole), fallback: historyChart(whole) });
}
