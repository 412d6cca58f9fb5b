/**
 * Charts: vega-lite 5 specs of the training history and of reward breakdowns, rendered in Node to
 * SVG (vega 5, no canvas) and to PNG (@resvg/resvg-js at 2×, with the DejaVu font files passed
 * explicitly so text looks the same on every machine).
 *
 * A chart's MIME bundle is `{application/vnd.vegalite.v5+json, image/png, text/plain}`: JupyterLab
 * and VS Code draw the interactive vega-lite; classic Notebook, nbconvert's HTML and GitHub show the
 * PNG. No SVG in the bundle: nbconvert 6.5 blanks SVG outputs in its HTML export and prefers SVG over PNG.
 *
 * vega and vega-lite (~250 ms to load) are loaded on the first render, through `require`: vega 6
 * could not be (top-level await), so both stay on major version 5.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { inspect } from "node:util";
import { GrpoError } from "../src/core/errors.js";
import { MIME_BUNDLE_SYMBOL, type MimeBundle } from "../src/core/display-registry.js";
import type { RewardResult } from "../src/core/reward.js";
import { MultiTurnTrajectory, TrajectoryGroup } from "../src/core/trajectory.js";
import type { TrainingHistory } from "../src/training/history.js";
import { componentKeys, fmt, turnKeys } from "./format.js";
import { PALETTE, trajectoryReward } from "./html.js";
import { HISTORY_METRICS, historyToText, rewardToText } from "./text.js";

const require = createRequire(import.meta.url);

/** A vega-lite 5 specification as JSON (see https://vega.github.io/vega-lite/docs/). */
export type VegaLiteSpec = Record<string, unknown>;

/** The MIME type JupyterLab renders with vega-lite 5. */
export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";
const FONT_FAMILY = "DejaVu Sans";

// ---------------------------------------------------------------------------------------------
// Rendering

interface VegaView {
  run(): VegaView;
  padding(): { top: number; bottom: number; left: number; right: number };
  background(): string | undefined;
  loader(): unknown;
  scenegraph(): { root: unknown };
  finalize(): void;
  _viewWidth?: number;
  _viewHeight?: number;
  _origin?: [number, number];
}
interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: string; logLevel?: number }) => VegaView;
  SVGStringRenderer: new (loader: unknown) => {
    initialize(el: null, width: number, height: number, origin: [number, number], scaleFactor: number): {
      background(color: string | undefined): { render(scene: unknown): { svg(): string } };
    };
  };
}
interface VegaLiteModule {
  compile(spec: unknown, options?: { logger?: unknown }): { spec: unknown };
}
interface ResvgModule {
  Resvg: new (svg: string, options: Record<string, unknown>) => { render(): { asPng(): Uint8Array; width: number; height: number } };
}

/** A vega logger that drops every message (vega-lite's `compile` takes one). */
interface QuietLogger {
  level(): QuietLogger;
  error(): QuietLogger;
  warn(): QuietLogger;
  info(): QuietLogger;
  debug(): QuietLogger;
}
const QUIET_LOGGER: QuietLogger = {
  level: () => QUIET_LOGGER,
  error: () => QUIET_LOGGER,
  warn: () => QUIET_LOGGER,
  info: () => QUIET_LOGGER,
  debug: () => QUIET_LOGGER,
};

let modules: { vega: VegaModule; vegaLite: VegaLiteModule } | undefined;

function loadVega(): { vega: VegaModule; vegaLite: VegaLiteModule } {
  modules ??= { vega: require("vega") as VegaModule, vegaLite: require("vega-lite") as VegaLiteModule };
  return modules;
}

/** The DejaVu font files PNGs are drawn with (regular and bold: vega titles are bold). */
export function chartFontFiles(): string[] {
  const dir = path.join(path.dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf");
  return [path.join(dir, "DejaVuSans.ttf"), path.join(dir, "DejaVuSans-Bold.ttf")];
}

/**
 * Renders a vega-lite spec to an SVG string, synchronously: vega evaluates inline data without
 * awaiting anything, so the scene is complete after `run()` and the headless SVG renderer draws it
 * exactly as `view.toSVG()` would (a test checks they match).
 */
export function renderSVG(spec: VegaLiteSpec): string {
  const { vega, vegaLite } = loadVega();
  // vega tags data rows in place (a vega_id symbol): render a copy so the spec stays plain JSON.
  // Warnings (e.g. a dropped sort) would go to the notebook's stderr: keep renders quiet.
  const compiled = vegaLite.compile(structuredClone(spec), { logger: QUIET_LOGGER }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: 0 });
  try {
    view.run();
    const pad = view.padding();
    if (view._viewWidth === undefined || view._viewHeight === undefined || view._origin === undefined) {
      throw new GrpoError("invalid_argument", "This vega version does not expose the view size the chart renderer needs.", {
        expected: "vega 5.x (the version pinned in package.json)", fix: "install the pinned vega 5 version.",
      });
    }
    const width = Math.max(0, view._viewWidth + pad.left + pad.right);
    const height = Math.max(0, view._viewHeight + pad.top + pad.bottom);
    const origin: [number, number] = [pad.left + view._origin[0], pad.top + view._origin[1]];
    return new vega.SVGStringRenderer(view.loader()).initialize(null, width, height, origin, 1)
      .background(view.background()).render(view.scenegraph().root).svg();
  } finally {
    view.finalize();
  }
}

/** A PNG image with its pixel size. */
export interface PngImage {
  /** The PNG file bytes. */
  data: Uint8Array;
  /** Width in pixels (scale × the SVG's width). */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Rasterises an SVG at `scale`× (default 2, crisp on high-DPI screens) with the bundled DejaVu fonts. */
export function svgToPNG(svg: string, scale = 2): PngImage {
  if (!(scale > 0 && scale <= 8)) {
    throw new GrpoError("invalid_argument", "Invalid PNG scale.", { field: "scale", value: scale, expected: "a number in (0, 8]" });
  }
  const { Resvg } = require("@resvg/resvg-js") as ResvgModule;
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { fontFiles: chartFontFiles(), loadSystemFonts: false, defaultFontFamily: FONT_FAMILY },
  });
  const image = resvg.render();
  return { data: image.asPng(), width: image.width, height: image.height };
}

// ---------------------------------------------------------------------------------------------
// The Chart object

/** Options of {@link Chart.toPNG}. */
export interface PngOptions {
  /** Pixel density: 2 (default) draws at twice the SVG's size. */
  scale?: number;
}

/**
 * A vega-lite chart with a text fallback. `display(chart)` sends its MIME bundle; outside notebooks
 * use {@link Chart.toSVG} / {@link Chart.toPNG} to write files.
 */
export class Chart {
  /** The vega-lite 5 spec (data inline). */
  readonly spec: VegaLiteSpec;
  /** What `text/plain` shows. */
  readonly text: string;

  /** A chart from a vega-lite 5 spec (keep its data inline) and the text shown where charts cannot be. */
  constructor(spec: VegaLiteSpec, text: string) {
    this.spec = spec;
    this.text = text;
  }

  /** The chart as an SVG string. */
  toSVG(): string {
    return renderSVG(this.spec);
  }

  /** The chart as a PNG (2× by default). */
  toPNG(options: PngOptions = {}): PngImage {
    return svgToPNG(this.toSVG(), options.scale ?? 2);
  }

  /** `{vega-lite, image/png (base64), text/plain}` plus the PNG's display size in the metadata. */
  mimeBundle(): { data: MimeBundle; metadata: Record<string, unknown> } {
    const scale = 2;
    const png = this.toPNG({ scale });
    return {
      data: {
        [VEGALITE_MIME]: this.spec,
        "image/png": Buffer.from(png.data).toString("base64"),
        "text/plain": this.text,
      },
      metadata: { "image/png": { width: Math.round(png.width / scale), height: Math.round(png.height / scale) } },
    };
  }

  /** The display protocol (see `MIME_BUNDLE_SYMBOL`). */
  [MIME_BUNDLE_SYMBOL](): MimeBundle {
    return this.mimeBundle().data;
  }

  /** What a REPL or a notebook's last-expression printout shows: the text form, not the spec. */
  [inspect.custom](): string {
    return this.text;
  }
}

// ---------------------------------------------------------------------------------------------
// Specs

/** JSON has no NaN: missing or non-finite values become null (vega-lite skips them). */
function finite(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}

function baseConfig(): Record<string, unknown> {
  return {
    font: FONT_FAMILY,
    title: { fontSize: 12, anchor: "start" },
    axis: { labelFontSize: 10, titleFontSize: 10, grid: true, gridColor: "#eaeef2" },
    view: { stroke: "#d0d7de" },
  };
}

/** Options of {@link historyChart}. */
export interface HistoryChartOptions {
  /** Panel width in pixels (default 190). */
  panelWidth?: number;
  /** Panel height in pixels (default 100). */
  panelHeight?: number;
  /** Panels per row (default 4). */
  columns?: number;
  /** Chart title (default "Training history"). */
  title?: string;
}

/**
 * Small multiples of the training history: reward mean with a ± std band (the mean within-group
 * std, `reward_std`), loss, KL, clip ratio, entropy, completion length and grad norm, one panel each
 * against the step. Metrics a run did not log are left out.
 */
export function historyChart(history: TrainingHistory, options: HistoryChartOptions = {}): Chart {
  const width = options.panelWidth ?? 190;
  const height = options.panelHeight ?? 100;
  const fieldOf = (key: string) => key.replace(/[^A-Za-z0-9]+/g, "_");
  const rows = history.steps.map((m, i) => {
    const row: Record<string, number | null> = { step: finite(m.step) ?? i + 1 };
    for (const [, key] of HISTORY_METRICS) row[fieldOf(key)] = finite(m[key]);
    const reward = finite(m.reward);
    const spread = finite(m.reward_std) ?? 0;
    row.reward_lo = reward === null ? null : reward - spread;
    row.reward_hi = reward === null ? null : reward + spread;
    return row;
  });
  const showPoints = rows.length <= 40;
  const x = { field: "step", type: "quantitative", title: "step", axis: { tickMinStep: 1, format: "d" } };
  const panels = HISTORY_METRICS.filter(([, key]) => rows.some((r) => r[fieldOf(key)] !== null)).map(([label, key]) => {
    const field = fieldOf(key);
    const line = {
      mark: { type: "line", point: showPoints, color: key === "reward" ? "#1a7f37" : "#4e79a7", strokeWidth: 1.5 },
      encoding: { x, y: { field, type: "quantitative", title: null, scale: { zero: false } }, tooltip: [{ field: "step" }, { field, title: label, format: ".4f" }] },
    };
    const filter = [{ filter: `isValid(datum['${field}'])` }];
    if (key !== "reward") return { title: label, width, height, transform: filter, ...line };
    const band = { mark: { type: "area", opacity: 0.2, color: "#1a7f37" }, encoding: { x, y: { field: "reward_lo", type: "quantitative", title: null, scale: { zero: false } }, y2: { field: "reward_hi" } } };
    return { title: "reward (mean ± std in group)", width, height, transform: filter, layer: [band, line] };
  });
  const spec: VegaLiteSpec = {
    $schema: SCHEMA,
    title: { text: options.title ?? "Training history", subtitle: `${history.length} step${history.length === 1 ? "" : "s"}` },
    background: "white",
    data: { values: rows },
    columns: options.columns ?? 4,
    concat: panels.length > 0 ? panels : [{ width, height, mark: "text", encoding: { text: { value: "no steps yet" } } }],
    config: baseConfig(),
  };
  return new Chart(spec, historyToText(history));
}

/** Component colours matching the HTML views (palette in breakdown order). */
function colorScale(domain: string[]): Record<string, unknown> {
  return { domain, range: domain.map((_, i) => PALETTE[i % PALETTE.length]) };
}

/** What {@link rewardChart} accepts. */
export type RewardChartInput = RewardResult | MultiTurnTrajectory | TrajectoryGroup | MultiTurnTrajectory[];

function weightsOf(result: RewardResult): Record<string, number> {
  const w = result.metadata.weights;
  const out: Record<string, number> = {};
  if (w && typeof w === "object") for (const [k, v] of Object.entries(w)) if (typeof v === "number") out[k] = v;
  return out;
}

/** Each component's part of the score: w·s/Σw for a weighted-sum composite, else the component's score. */
function contributions(result: RewardResult): Array<{ component: string; value: number; score: number }> {
  const components = componentKeys(result.breakdown);
  const weights = weightsOf(result);
  const weightSum = components.reduce((s, c) => s + (weights[c] ?? 0), 0);
  const weighted = result.metadata.aggregation === "weighted_sum" && weightSum > 0;
  return components.map((c) => ({
    component: c,
    score: result.breakdown[c],
    value: weighted ? ((weights[c] ?? 0) * result.breakdown[c]) / weightSum : result.breakdown[c],
  }));
}

/**
 * Reward breakdown as stacked bars. For several trajectories (a group, best first): one bar per
 * trajectory, stacked by each component's contribution, with the total marked. For one reward
 * result or trajectory: component scores, and per-turn scores stacked by component when the reward
 * reports them (`turn_<i>` / `<component>/turn_<i>` breakdown keys).
 */
export function rewardChart(input: RewardChartInput): Chart {
  if (input instanceof TrajectoryGroup) return groupRewardChart(input.ranked(), input);
  if (Array.isArray(input)) return groupRewardChart([...input].sort((a, b) => b.totalReward - a.totalReward), undefined);
  const result: RewardResult = input instanceof MultiTurnTrajectory ? trajectoryReward(input) : input;
  const parts = contributions(result);
  const component = { field: "component", type: "nominal", title: "component" };
  const color = { ...component, scale: colorScale(componentKeys(result.breakdown)) };
  const panels: Record<string, unknown>[] = [];
  if (parts.length > 0) {
    panels.push({
      title: `components (score ${fmt(result.score)})`, width: 220, height: 140, data: { values: parts },
      mark: "bar", encoding: { y: { ...component, sort: null }, x: { field: "score", type: "quantitative", title: "score" }, color: { ...color, legend: null }, tooltip: [component, { field: "score", format: ".3f" }, { field: "value", title: "contribution", format: ".3f" }] },
    });
  }
  const perTurn: Array<{ turn: number; component: string; value: number }> = [];
  for (const c of componentKeys(result.breakdown)) for (const [turn, value] of turnKeys(result.breakdown, `${c}/`)) perTurn.push({ turn, component: c, value });
  if (perTurn.length === 0) for (const [turn, value] of turnKeys(result.breakdown)) perTurn.push({ turn, component: "turn score", value });
  if (perTurn.length > 0) {
    panels.push({
      title: "per assistant turn", width: 220, height: 140, data: { values: perTurn },
      mark: "bar", encoding: { x: { field: "turn", type: "ordinal", title: "assistant turn" }, y: { field: "value", type: "quantitative", title: "score", stack: "zero" },
        color: perTurn[0].component === "turn score" ? component : color, tooltip: [{ field: "turn" }, component, { field: "value", format: ".3f" }] },
    });
  }
  if (panels.length === 0) panels.push({ width: 220, height: 60, data: { values: [{ score: result.score }] }, mark: "bar", encoding: { x: { field: "score", type: "quantitative" } } });
  const spec: VegaLiteSpec = { $schema: SCHEMA, title: "Reward breakdown", background: "white", hconcat: panels, config: baseConfig() };
  return new Chart(spec, rewardToText(result));
}

function groupRewardChart(trajectories: MultiTurnTrajectory[], group: TrajectoryGroup | undefined): Chart {
  const advantages = group ? new Map(group.trajectories.map((t, i) => [t, group.advantages()[i]])) : undefined;
  const label = (t: MultiTurnTrajectory, rank: number) => {
    const a = advantages?.get(t);
    return `#${rank + 1}${a !== undefined ? ` (A ${a >= 0 ? "+" : ""}${a.toFixed(2)})` : ""}`;
  };
  const bars: Array<{ trajectory: string; order: number; component: string; value: number }> = [];
  const totals: Array<{ trajectory: string; order: number; total: number }> = [];
  trajectories.forEach((t, rank) => {
    const name = label(t, rank);
    const parts = contributions(trajectoryReward(t));
    for (const p of parts) bars.push({ trajectory: name, order: rank, component: p.component, value: p.value });
    if (parts.length === 0) bars.push({ trajectory: name, order: rank, component: "reward", value: t.totalReward });
    totals.push({ trajectory: name, order: rank, total: t.totalReward });
  });
  const components = [...new Set(bars.map((b) => b.component))];
  const xField = { field: "trajectory", type: "nominal", title: "trajectory (best first)", sort: { field: "order", op: "min" }, axis: { labelAngle: 0 } };
  const spec: VegaLiteSpec = {
    $schema: SCHEMA,
    title: group ? `Rewards of group ${group.scenarioId}` : "Rewards",
    background: "white",
    width: Math.max(200, 60 * trajectories.length),
    height: 160,
    layer: [
      { data: { values: bars }, mark: "bar", encoding: { x: xField, y: { field: "value", type: "quantitative", title: "reward", stack: "zero" }, color: { field: "component", type: "nominal", scale: colorScale(components) }, tooltip: [{ field: "trajectory" }, { field: "component" }, { field: "value", format: ".3f" }] } },
      { data: { values: totals }, mark: { type: "tick", color: "#1f2328", thickness: 2 }, encoding: { x: xField, y: { field: "total", type: "quantitative" }, tooltip: [{ field: "trajectory" }, { field: "total", format: ".3f" }] } },
    ],
    config: baseConfig(),
  };
  const text = [`Rewards${group ? ` of group ${group.scenarioId}` : ""} (best first):`,
    ...totals.map((t) => `  ${t.trajectory} ${fmt(t.total)}`)].join("\n");
  return new Chart(spec, text);
}
