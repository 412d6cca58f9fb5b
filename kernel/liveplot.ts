/**
 * Live training plots: a TrainerCallback that keeps ONE notebook output up to date while
 * `trainer.run()` is going, with the history charts and the latest group's trajectories.
 *
 * ```ts
 * const live = liveplot(trainer);          // or liveplot({ trainer, minIntervalMs: 1000 })
 * trainer.callbacks.push(live);
 * await trainer.run({ steps: 50 });
 * ```
 *
 * Each run gets its own output (a Jupyter display id, created on `train_start` in the cell that
 * runs): `display_data` once, then `update_display_data` in place, at most one update per
 * `minIntervalMs` (default 500 ms: ≤ 2 updates/s; longer when rendering is slow, so the plot takes at
 * most `maxOverhead` of the time), and always the final state at `train_end`.
 * Steps that arrive faster are folded into the next update (a trailing timer sends the last one
 * when you step by hand).
 *
 * Kernel interrupts: in the GRPO TypeScript kernel an interrupt aborts the run through the ambient
 * signal (`src/core/interrupt.ts`; the step in flight is dropped). Under plain tslab, which returns
 * from the cell on an interrupt but cannot stop async work, the trainer must stop itself. With a trainer, the live plot calls `trainer.stop()` on SIGINT while a
 * run is going: training ends after the current step and the trainer stays consistent and
 * steppable. To also abort an unfinished rollout, run with {@link withInterrupt}. After an
 * interrupt, `await live.idle()` in the next cell before stepping again.
 */
import type { StepReport, TrainEndReason, TrainerCallback, TrainerEvent } from "../src/training/events.js";
import { TrainingHistory } from "../src/training/history.js";
import { GRPOTrainer } from "../src/training/trainer.js";
import { GrpoError } from "../src/core/errors.js";
import { historyChart } from "./charts.js";
import { newDisplay, type DisplayMessage, type UpdatableDisplay } from "./display.js";
import { esc, fmt } from "./format.js";
import { groupToHTML, type HtmlOptions } from "./html.js";
import type { TokenizerSource } from "./kinds.js";
import { historyToText } from "./text.js";

/** Options of {@link liveplot}. */
export interface LivePlotOptions {
  /**
   * The trainer being watched: its full history is plotted (steps from before this run or a
   * resumed checkpoint included), its agent's tokenizer decodes tokens, and SIGINT stops it.
   */
  trainer?: GRPOTrainer;
  /** Decodes sampled tokens in the trajectory view (default: the trainer's agent, if given). */
  tokenizer?: TokenizerSource;
  /** Least time between two updates in milliseconds (default 500, i.e. ≤ 2 updates/s; 0 = every step). */
  minIntervalMs?: number;
  /**
   * Largest share of the wall time the plot may take, in (0, 1] (default 0.02): when one update costs
   * c ms, the next waits at least c · (1 − share) / share ms (49c by default: a 40 ms render allows one
   * update every ~2 s), so plotting never slows training by more than 2 %, however slow rendering is.
   */
  maxOverhead?: number;
  /** Show the latest step's groups under the charts (default true). */
  showTrajectories?: boolean;
  /** Call `trainer.stop()` on a kernel interrupt (SIGINT) during a run (default true; needs `trainer`). */
  stopOnInterrupt?: boolean;
}

/** What the live plot measured about itself. */
export interface LivePlotStats {
  /** Outputs sent (the first display plus its updates, over all runs). */
  updates: number;
  /** Steps seen. */
  steps: number;
  /** Steps folded into a later update by the throttle. */
  skipped: number;
  /** Mean milliseconds to build and send one update (chart + PNG + HTML). */
  meanMs: number;
  /** Slowest update in milliseconds. */
  maxMs: number;
}

/** The live plot callback returned by {@link liveplot}. */
export class LivePlot implements TrainerCallback {
  private readonly options: Required<Pick<LivePlotOptions, "minIntervalMs" | "maxOverhead" | "showTrajectories" | "stopOnInterrupt">> & LivePlotOptions;
  private readonly ownHistory = new TrainingHistory();
  private output?: UpdatableDisplay;
  private lastReport?: StepReport;
  private lastSent = Number.NEGATIVE_INFINITY;
  /** When the current run started, and the milliseconds its updates have cost so far (the overhead budget). */
  private runStarted = Number.NaN;
  private runSpentMs = 0;
  private pending = false;
  private timer?: ReturnType<typeof setTimeout>;
  private status = "waiting for the first step";
  private running = false;
  private finished: Promise<TrainEndReason | undefined> = Promise.resolve(undefined);
  private resolveFinished?: (reason: TrainEndReason | undefined) => void;
  private detachSigint?: () => void;
  private readonly times: number[] = [];
  private stepsSeen = 0;
  private skippedSteps = 0;

  /** See {@link LivePlotOptions}; throws `invalid_argument` for a negative interval or a share outside (0, 1]. */
  constructor(options: LivePlotOptions = {}) {
    this.options = { minIntervalMs: 500, maxOverhead: 0.02, showTrajectories: true, stopOnInterrupt: true, ...options };
    const share = this.options.maxOverhead;
    if (!(share > 0 && share <= 1) || !(this.options.minIntervalMs >= 0)) {
      throw new GrpoError("invalid_argument", "Invalid liveplot options.", {
        field: share > 0 && share <= 1 ? "minIntervalMs" : "maxOverhead",
        value: share > 0 && share <= 1 ? this.options.minIntervalMs : share,
        expected: "minIntervalMs >= 0 and maxOverhead in (0, 1]",
      });
    }
  }

  /** The history being plotted: the trainer's, or the steps this callback has seen. */
  get history(): TrainingHistory {
    return this.options.trainer?.history ?? this.ownHistory;
  }

  /** Cost and counts of the updates so far. */
  stats(): LivePlotStats {
    const total = this.times.reduce((a, b) => a + b, 0);
    return { updates: this.times.length, steps: this.stepsSeen, skipped: this.skippedSteps, meanMs: this.times.length ? total / this.times.length : 0, maxMs: Math.max(0, ...this.times) };
  }

  /**
   * Resolves when no run is going (at once if none is) with how the last run ended. Await it after
   * a kernel interrupt before stepping the trainer again.
   */
  idle(): Promise<TrainEndReason | undefined> {
    return this.finished;
  }

  /** A run starts: opens this run's output (in the running cell) and watches for interrupts. */
  onTrainStart(event: Extract<TrainerEvent, { type: "train_start" }>): void {
    this.running = true;
    this.finished = new Promise((resolve) => { this.resolveFinished = resolve; });
    this.status = `training to step ${event.totalSteps}`;
    this.output = newDisplay();
    this.runStarted = performance.now();
    this.runSpentMs = 0;
    const trainer = this.options.trainer;
    if (trainer && this.options.stopOnInterrupt) {
      this.detachSigint = onSigint(() => {
        this.status = "interrupt received: stopping after this step";
        trainer.stop();
      });
    }
    this.send();
  }

  /** A step ended: updates the output now, or once the throttle allows. */
  onStepEnd(event: Extract<TrainerEvent, { type: "step_end" }>): void {
    this.stepsSeen += 1;
    this.lastReport = event.report;
    if (!this.options.trainer) this.ownHistory.push(event.report.metrics);
    if (!this.output) this.output = newDisplay(); // stepping by hand, without run()
    const now = performance.now();
    const wait = Math.max(this.lastSent + this.interval() - now, this.budgetWait(now));
    if (wait <= 0) {
      this.send();
    } else {
      if (this.pending) this.skippedSteps += 1;
      this.pending = true;
      // The last step of a burst still shows up even if no further event comes.
      this.timer ??= setTimeout(() => { this.timer = undefined; if (this.pending) this.send(); }, wait);
      this.timer.unref?.();
    }
  }

  /** The run ended: always sends the final state, stops watching for interrupts, resolves {@link idle}. */
  onTrainEnd(event: Extract<TrainerEvent, { type: "train_end" }>): void {
    this.detachSigint?.();
    this.detachSigint = undefined;
    this.running = false;
    const error = event.error instanceof Error ? `: ${event.error.message}` : "";
    this.status = `finished at step ${event.step} (${event.reason}${error})`;
    this.send(); // always the final state, whatever the throttle says
    this.output = undefined;
    this.runStarted = Number.NaN;
    this.resolveFinished?.(event.reason);
  }

  /** The current least gap between updates: minIntervalMs, stretched when updates are slow (maxOverhead). */
  private interval(): number {
    const lastCost = this.times[this.times.length - 1] ?? 0;
    const share = this.options.maxOverhead;
    return Math.max(this.options.minIntervalMs, (lastCost * (1 - share)) / share);
  }

  /**
   * How long the next update must wait so that this run's updates, the next one included (estimated
   * at the last one's cost), stay within maxOverhead of the run's wall time so far. The per-update
   * interval alone lets a run drift over the share when costs vary; this keeps the total in budget.
   */
  private budgetWait(now: number): number {
    if (Number.isNaN(this.runStarted)) return 0; // stepping by hand: only the interval applies
    const nextCost = this.times[this.times.length - 1] ?? 0;
    return this.runStarted + (this.runSpentMs + nextCost) / this.options.maxOverhead - now;
  }

  /** Builds the bundle now and sends it to this run's output. */
  private send(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    this.pending = false;
    const started = performance.now();
    (this.output ??= newDisplay()).send(this.message());
    this.lastSent = performance.now();
    this.times.push(this.lastSent - started);
    this.runSpentMs += this.lastSent - started;
  }

  /** The current live view: `{text/html (status, chart image, trajectories), image/png, text/plain}`. */
  message(): Omit<DisplayMessage, "transient"> {
    const history = this.history;
    const last = history.last();
    const headline = last
      ? `step ${fmt(last.step, 0)} · reward ${fmt(last.reward)} · loss ${fmt(last.loss)} · ${fmt(last["time/step_s"], 2)} s/step`
      : "no steps yet";
    const status = `${this.running ? "⏳" : "✔"} ${this.status} · ${headline}`;
    const parts = [`<div class="grpo-live-status" style="font-family:sans-serif;font-size:13px;margin-bottom:4px">${esc(status)}</div>`];
    const data: Record<string, unknown> = {};
    const metadata: Record<string, unknown> = {};
    if (history.length > 0) {
      const png = historyChart(history).toPNG({ scale: 2 });
      const base64 = Buffer.from(png.data).toString("base64");
      const width = Math.round(png.width / 2);
      const height = Math.round(png.height / 2);
      parts.push(`<img class="grpo-chart" alt="training history" width="${width}" height="${height}" src="data:image/png;base64,${base64}">`);
      data["image/png"] = base64;
      metadata["image/png"] = { width, height };
    }
    const report = this.lastReport;
    if (this.options.showTrajectories && report) {
      const options: HtmlOptions = { tokenizer: this.options.tokenizer ?? this.options.trainer?.agent };
      const groups = report.groups.map((g, i) => groupToHTML(g, { ...options, advantages: report.advantages[i] })).join("");
      parts.push(`<details class="grpo-live-trajectories"><summary style="cursor:pointer;font-family:sans-serif;font-size:13px">latest step ${report.step}: ${report.groups.length} group${report.groups.length === 1 ? "" : "s"} of trajectories</summary>${groups}</details>`);
    }
    return {
      data: { "text/html": `<div class="grpo-live">${parts.join("")}</div>`, ...data, "text/plain": `${status}\n${historyToText(history)}` },
      metadata,
    };
  }
}

/**
 * A live plot callback (see the module documentation). Pass the trainer (or options with it) to plot
 * its whole history and stop it cleanly on a kernel interrupt.
 */
export function liveplot(trainerOrOptions?: GRPOTrainer | LivePlotOptions): LivePlot {
  const options = trainerOrOptions instanceof GRPOTrainer ? { trainer: trainerOrOptions } : (trainerOrOptions ?? {});
  return new LivePlot(options);
}

/**
 * Runs `fn` with an AbortSignal that aborts on the next SIGINT (a Jupyter kernel interrupt, or
 * Ctrl-C in a terminal), and removes the handler afterwards:
 *
 * ```ts
 * await withInterrupt((signal) => trainer.run({ steps: 200, signal }));
 * ```
 *
 * The trainer stops at the next safe point (between tokens of a rollout, or between steps) and
 * stays resumable: an aborted step changes nothing.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const detach = onSigint(() => controller.abort(new Error("kernel interrupt")));
  try {
    return await fn(controller.signal);
  } finally {
    detach();
  }
}

/**
 * Calls `handler` on SIGINT until the returned function is called. The listener is attached on the
 * next turn of the event loop, not at once: a tslab cell's synchronous part runs in `vm` with
 * `breakOnSigint`, and a SIGINT listener added there loses its OS-level handler when the cell's
 * code returns, so the next interrupt would kill the kernel (measured with tslab 1.0.22, Node 20).
 */
export function onSigint(handler: () => void): () => void {
  let attached = false;
  let detached = false;
  const attach = setImmediate(() => {
    if (detached) return;
    process.on("SIGINT", handler);
    attached = true;
  });
  return () => {
    detached = true;
    clearImmediate(attach);
    if (attached) process.off("SIGINT", handler);
  };
}
