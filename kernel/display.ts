/**
 * `display(x)`: one MIME bundle per object, sent to the notebook through tslab's display writer.
 *
 * tslab's public `display` API sends one MIME type per message; Jupyter frontends pick the best
 * type *within* a message, so a rich object must go out as one message carrying every type (e.g.
 * vega-lite for JupyterLab + PNG for nbconvert/GitHub + text for terminals). tslab's kernel keeps
 * the writer of the running cell in `lastWriteDisplayData` of its `dist/jupyter.js` module; we find
 * that module in Node's module cache (whichever tslab copy runs the kernel) and call the writer
 * with the full bundle. Outside tslab, `display()` prints the text form.
 *
 * Views: see `html.ts` (tables, chat bubbles), `charts.ts` (vega-lite + PNG), `text.ts`.
 * Objects can opt in with `[Symbol.for("grpo.mimeBundle")]()` or IPython's `_repr_mimebundle_()`.
 */
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import { GrpoError } from "../src/core/errors.js";
import { MIME_BUNDLE_SYMBOL, type MimeBundle } from "../src/core/display-registry.js";
import type { TrainingProfile } from "../src/training/config.js";
import { Chart, historyChart, type PngImage } from "./charts.js";
import { esc } from "./format.js";
import {
  configToHTML, groupToHTML, healthToHTML, rewardToHTML, stepReportToHTML, trajectoryToHTML, turnToHTML, type HtmlOptions,
} from "./html.js";
import { classify, type Known } from "./kinds.js";
import { PlotlyFigure } from "./plotly.js";
import {
  configToText, groupToText, healthToText, historyToText, rewardToText, stepReportToText, trajectoryToText, turnToText,
} from "./text.js";

const require = createRequire(import.meta.url);

/** Options of {@link display}, {@link toHTML}, {@link toText} and {@link mimeBundle}. */
export interface DisplayOptions extends HtmlOptions {
  /** For a GRPOConfig: the profile to compare with (default: the closest one). */
  profile?: TrainingProfile;
  /** For a TrajectoryGroup: advantages in the group's order (default: computed from its rewards). */
  advantages?: number[];
}

/** A Jupyter `display_data` content: the bundle, its metadata, and the display id for in-place updates. */
export interface DisplayMessage {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

/**
 * Where display messages go: `(message, update)`; `update` true sends `update_display_data`
 * (replacing the output with the same display id). This is the signature of tslab's writer.
 */
export type DisplaySink = (message: DisplayMessage, update: boolean) => void;

// ---------------------------------------------------------------------------------------------
// Finding tslab's writer

type WriterModule = { lastWriteDisplayData?: unknown };
let writer: { file: string; module: WriterModule } | undefined;
let customSink: DisplaySink | undefined;

/** tslab's `dist/jupyter.js` module as loaded by the running kernel, if any (remembered once found). */
function findTslabJupyterModule(): WriterModule | undefined {
  if (writer && require.cache[writer.file]?.exports === writer.module) return writer.module;
  writer = undefined;
  for (const [file, mod] of Object.entries(require.cache)) {
    if (/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file) && mod && typeof (mod.exports as WriterModule).lastWriteDisplayData === "function") {
      writer = { file, module: mod.exports as WriterModule };
      return writer.module;
    }
  }
  return undefined;
}

/** The writer of the cell that is running (or ran last) in a tslab kernel; undefined outside tslab. */
export function tslabWriter(): DisplaySink | undefined {
  const writer = findTslabJupyterModule()?.lastWriteDisplayData;
  return typeof writer === "function" ? (writer as DisplaySink) : undefined;
}

/** True when running inside a tslab Jupyter kernel (a cell has executed). */
export function inNotebook(): boolean {
  return customSink !== undefined || tslabWriter() !== undefined;
}

/**
 * Routes display messages to `sink` instead of tslab (tests, other frontends); undefined restores
 * the default. Returns the previous custom sink.
 */
export function setDisplaySink(sink: DisplaySink | undefined): DisplaySink | undefined {
  const previous = customSink;
  customSink = sink;
  return previous;
}

/** The sink of this moment: the custom one, tslab's writer for the current cell, or undefined (print text). */
function currentSink(): DisplaySink | undefined {
  return customSink ?? tslabWriter();
}

// ---------------------------------------------------------------------------------------------
// Bundles

type ProtocolObject = { [MIME_BUNDLE_SYMBOL]?: () => MimeBundle; _repr_mimebundle_?: () => MimeBundle; _repr_html_?: () => string };

function protocolBundle(x: unknown): MimeBundle | undefined {
  if (x === null || (typeof x !== "object" && typeof x !== "function")) return undefined;
  const o = x as ProtocolObject;
  let bundle: MimeBundle | undefined;
  if (typeof o[MIME_BUNDLE_SYMBOL] === "function") bundle = o[MIME_BUNDLE_SYMBOL]();
  else if (typeof o._repr_mimebundle_ === "function") bundle = o._repr_mimebundle_();
  else if (typeof o._repr_html_ === "function") bundle = { "text/html": o._repr_html_() };
  if (bundle === undefined) return undefined;
  if (bundle === null || typeof bundle !== "object" || Array.isArray(bundle)) {
    throw new GrpoError("invalid_argument", "A display protocol method returned something that is not a MIME bundle.", {
      value: bundle, expected: '{ "text/html": "<b>hi</b>", "text/plain": "hi" }',
      fix: "return an object mapping MIME types to data from `[Symbol.for(\"grpo.mimeBundle\")]()` / `_repr_mimebundle_()`.",
    });
  }
  return bundle;
}

function knownHTML(k: Known, options: DisplayOptions): string | undefined {
  switch (k.kind) {
    case "turn": return turnToHTML(k.value, options);
    case "trajectory": return trajectoryToHTML(k.value, options);
    case "group": return groupToHTML(k.value, options);
    case "reward": return rewardToHTML(k.value);
    case "step": return stepReportToHTML(k.value, options);
    case "health": return healthToHTML(k.value);
    case "config": return configToHTML(k.value, { profile: options.profile });
    case "history": return undefined; // a chart
  }
}

function knownText(k: Known, options: DisplayOptions): string {
  switch (k.kind) {
    case "turn": return turnToText(k.value);
    case "trajectory": return trajectoryToText(k.value, { advantage: options.advantage });
    case "group": return groupToText(k.value, { advantages: options.advantages });
    case "reward": return rewardToText(k.value);
    case "step": return stepReportToText(k.value);
    case "health": return healthToText(k.value);
    case "config": return configToText(k.value, { profile: options.profile });
    case "history": return historyToText(k.value);
  }
}

/** The chart behind `x`, when `x` is drawn as a chart (a Chart, or a TrainingHistory). */
function chartOf(x: unknown): Chart | undefined {
  if (x instanceof Chart) return x;
  const k = classify(x);
  return k?.kind === "history" ? historyChart(k.value) : undefined;
}

/**
 * The display message for `x`: charts give `{vega-lite, image/png, text/plain}`, plotly figures
 * `{application/vnd.plotly.v1+json, image/png, text/plain}`; trajectories,
 * groups, rewards, step reports, health and configs give `{text/html, text/plain}`; objects with
 * the display protocol give their own bundle; anything else `{text/plain}` (util.inspect).
 */
export function displayMessage(x: unknown, options: DisplayOptions = {}): Omit<DisplayMessage, "transient"> {
  if (x instanceof PlotlyFigure) return x.mimeBundle(); // plotly + PNG fallback, with the PNG's display size
  const own = protocolBundle(x);
  if (own) return { data: "text/plain" in own ? own : { ...own, "text/plain": inspect(x, { depth: 1 }) }, metadata: {} };
  const chart = chartOf(x);
  if (chart) return chart.mimeBundle();
  const k = classify(x);
  if (k) return { data: { "text/html": knownHTML(k, options) as string, "text/plain": knownText(k, options) }, metadata: {} };
  return { data: { "text/plain": typeof x === "string" ? x : inspect(x, { depth: 2, colors: false }) }, metadata: {} };
}

/** The MIME bundle `display(x)` sends (see {@link displayMessage}). */
export function mimeBundle(x: unknown, options: DisplayOptions = {}): MimeBundle {
  return displayMessage(x, options).data;
}

// ---------------------------------------------------------------------------------------------
// display() and in-place displays

/**
 * Shows `x` in the notebook as ONE MIME bundle (see {@link displayMessage}); outside a notebook
 * prints its text form. Synchronous: charts are rendered before it returns.
 *
 * ```ts
 * import { display } from "grpo-agent-framework/kernel";
 * const report = await trainer.step();
 * display(report);                 // metrics + the groups, trajectories side by side
 * display(trainer.history);        // small-multiple charts
 * display(report.groups[0].trajectories[0], { tokenizer: agent, colorBy: "logprob" });
 * ```
 */
export function display(x: unknown, options: DisplayOptions = {}): void {
  const sink = currentSink();
  if (!sink) {
    console.log(toText(x, options));
    return;
  }
  sink({ ...displayMessage(x, options), transient: {} }, false);
}

/** One output that later calls replace in place (a Jupyter display id). */
export interface UpdatableDisplay {
  /** The Jupyter display id. */
  readonly id: string;
  /** Shows `x` here: the first call creates the output, later calls replace it. */
  update(x: unknown, options?: DisplayOptions): void;
  /** Sends an already built message (e.g. a live plot's bundle). */
  send(message: Omit<DisplayMessage, "transient">): void;
}

/**
 * A display that updates in place (`display_data` with a display id, then `update_display_data`).
 * Outside a notebook each update prints the text form.
 */
export function newDisplay(): UpdatableDisplay {
  const id = randomBytes(8).toString("hex");
  let shown = false;
  // The writer of the cell that created the display: updates from a running training loop must
  // go to that cell's output even while later cells run.
  const sink = currentSink();
  const send = (message: Omit<DisplayMessage, "transient">) => {
    const target = sink ?? currentSink();
    if (!target) {
      console.log(String(message.data["text/plain"] ?? ""));
      return;
    }
    target({ ...message, transient: { display_id: id } }, shown);
    shown = true;
  };
  return { id, send, update: (x, options = {}) => send(displayMessage(x, options)) };
}

/** Where the GRPO TypeScript kernel puts its clear_output hook (a `Symbol.for` key: one per process). */
export const CLEAR_OUTPUT_HOOK: unique symbol = Symbol.for("grpo.kernel.clearOutput") as never;

/**
 * Clears the running cell's output (Jupyter's `clear_output`); with `wait`, the frontend clears it
 * only when the next output arrives (no flicker). Works in the GRPO TypeScript kernel; elsewhere
 * (tslab, a terminal) it does nothing.
 */
export function clearOutput(options: { wait?: boolean } = {}): void {
  const hook = (globalThis as { [CLEAR_OUTPUT_HOOK]?: (wait: boolean) => void })[CLEAR_OUTPUT_HOOK];
  hook?.(Boolean(options.wait));
}

/** Where the GRPO TypeScript kernel puts its input hook (a `Symbol.for` key: one per process). */
export const INPUT_HOOK: unique symbol = Symbol.for("grpo.kernel.input") as never;

/**
 * Asks the notebook user for a line of text (Jupyter's stdin channel: an input box under the cell)
 * and resolves with it. `password` hides what is typed. Needs the GRPO TypeScript kernel and a
 * frontend that allows input (nbconvert does not: it rejects); a kernel interrupt rejects it.
 *
 * ```ts
 * const name = await input("Run name: ");
 * ```
 */
export function input(prompt = "", options: { password?: boolean } = {}): Promise<string> {
  const hook = (globalThis as { [INPUT_HOOK]?: (prompt: string, password: boolean) => Promise<string> })[INPUT_HOOK];
  if (!hook) {
    return Promise.reject(new GrpoError("not_initialized", "input() needs the GRPO TypeScript kernel.", {
      fix: "run the notebook on the \"GRPO TypeScript\" kernel (`npx grpo kernel install`), or read stdin yourself outside notebooks.",
    }));
  }
  return hook(prompt, Boolean(options.password));
}

// ---------------------------------------------------------------------------------------------
// Outside notebooks

/** The text form of `x` (what `display` prints in a terminal). */
export function toText(x: unknown, options: DisplayOptions = {}): string {
  const chart = x instanceof Chart ? x : undefined;
  if (chart) return chart.text;
  const k = classify(x);
  if (k) return knownText(k, options);
  const own = protocolBundle(x);
  if (own && typeof own["text/plain"] === "string") return own["text/plain"];
  return typeof x === "string" ? x : inspect(x, { depth: 2, colors: false });
}

/**
 * A self-contained HTML fragment for `x`: the view's HTML, a chart as an inline PNG `<img>`, or
 * escaped text in a `<pre>`. Write it into a file or a report.
 */
export function toHTML(x: unknown, options: DisplayOptions = {}): string {
  const chart = chartOf(x);
  if (chart) return chartImageHTML(chart);
  const k = classify(x);
  if (k) return knownHTML(k, options) as string;
  const own = protocolBundle(x);
  if (own && typeof own["text/html"] === "string") return own["text/html"];
  return `<pre>${esc(toText(x, options))}</pre>`;
}

/** A chart as an `<img>` with an inline PNG (2×, shown at 1× size). */
export function chartImageHTML(chart: Chart, alt = "chart"): string {
  const png = chart.toPNG({ scale: 2 });
  return `<img class="grpo-chart" alt="${esc(alt)}" width="${Math.round(png.width / 2)}" height="${Math.round(png.height / 2)}" ` +
    `src="data:image/png;base64,${Buffer.from(png.data).toString("base64")}">`;
}

function requireChart(x: unknown, what: string): Chart {
  const chart = chartOf(x);
  if (!chart) {
    throw new GrpoError("invalid_argument", `${what} draws charts only.`, {
      value: x, expected: "a Chart (historyChart(), rewardChart()) or a TrainingHistory",
      fix: "use toHTML(x) or toText(x) for tables and trajectories, or build a chart with rewardChart(x).",
    });
  }
  return chart;
}

/** The SVG of a chart or a TrainingHistory. */
export function toSVG(x: unknown): string {
  return requireChart(x, "toSVG").toSVG();
}

/** The PNG of a chart or a TrainingHistory (2× by default). */
export function toPNG(x: unknown, options: { scale?: number } = {}): PngImage {
  return requireChart(x, "toPNG").toPNG(options);
}
