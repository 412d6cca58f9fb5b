/**
 * Per-step metrics and the training history.
 *
 * Metric names follow TRL's GRPO trainer (slash-named families), so dashboards and habits carry over.
 * Every metric the trainer logs is listed in {@link METRIC_DOCS}.
 */
import { inspect } from "node:util";
import { renderHTML, renderText } from "../core/display-registry.js";

/** One step's metrics: name → value. The names are documented in {@link METRIC_DOCS}. */
export type StepMetrics = Record<string, number>;

/** What each logged metric means. Components of the reward add `rewards/<name>/mean` and `/std`. */
export const METRIC_DOCS: Readonly<Record<string, string>> = {
  step: "Optimizer steps taken so far (1-based after the first step).",
  episodes: "Episodes (trajectories) rolled out so far.",
  reward: "Mean total reward of this step's trajectories.",
  reward_std: "Mean over groups of the within-group reward std (unbiased): the reward diversity GRPO learns from.",
  "rewards/<name>/mean": "Mean of reward component <name> (from the reward breakdown) over this step's trajectories.",
  "rewards/<name>/std": "Std of reward component <name> over this step's trajectories.",
  frac_reward_zero_std: "Fraction of groups whose rewards are all equal (they carry no learning signal).",
  success_rate: "Fraction of this step's episodes that succeeded (trajectory.success).",
  episode_length: "Mean number of assistant turns per episode.",
  "completions/mean_length": "Mean number of sampled tokens per assistant turn.",
  "completions/clipped_ratio": "Fraction of assistant turns that hit maxNewTokens (truncated).",
  loss: "The GRPO loss of the last optimisation pass (mean over micro-batches).",
  kl: "Mean per-token k3 KL to the reference model (0 when beta = 0 and no reference is kept).",
  "clip_ratio/low_mean": "Fraction of tokens with ratio < 1 - epsilon and negative advantage (clipped low).",
  "clip_ratio/high_mean": "Fraction of tokens with ratio > 1 + epsilonHigh and positive advantage (clipped high).",
  "clip_ratio/region_mean": "Fraction of tokens clipped on either side.",
  entropy: "Mean per-token entropy (nats) of the policy on the completion tokens.",
  grad_norm: "Global L2 norm of the gradient before clipping.",
  learning_rate: "Learning rate used for this step (after warmup/schedule).",
  "time/rollout_s": "Seconds spent sampling episodes.",
  "time/reward_s": "Seconds spent scoring trajectories.",
  "time/optimize_s": "Seconds spent in log-prob recomputation, backward and optimizer.",
  "time/step_s": "Seconds for the whole step.",
};

/** The metrics of every step so far, in order. */
export class TrainingHistory {
  /** One entry per completed step. */
  readonly steps: StepMetrics[];

  constructor(steps: StepMetrics[] = []) {
    this.steps = steps;
  }

  /** Appends one step's metrics. */
  push(metrics: StepMetrics): void {
    this.steps.push(metrics);
  }

  /** Number of steps recorded. */
  get length(): number {
    return this.steps.length;
  }

  /** The last step's metrics, if any. */
  last(): StepMetrics | undefined {
    return this.steps[this.steps.length - 1];
  }

  /** The values of one metric over the steps (NaN where a step did not log it). */
  series(name: string): number[] {
    return this.steps.map((m) => (name in m ? m[name] : Number.NaN));
  }

  /** Every metric name logged at least once, in first-seen order. */
  metricNames(): string[] {
    const names = new Set<string>();
    for (const m of this.steps) for (const k of Object.keys(m)) names.add(k);
    return [...names];
  }

  toJSON(): StepMetrics[] {
    return this.steps;
  }

  static fromJSON(json: StepMetrics[]): TrainingHistory {
    return new TrainingHistory(json.map((m) => ({ ...m })));
  }

  /** A readable text form (a table with sparklines when the kernel module is loaded). */
  toText(): string {
    const last = this.last();
    return renderText(this) ?? `TrainingHistory(${this.length} steps${last ? `, last reward ${Number(last.reward).toFixed(3)}` : ""})`;
  }

  /** A self-contained HTML form (charts when the kernel module is loaded). */
  toHTML(): string {
    return renderHTML(this) ?? `<pre>${this.toText()}</pre>`;
  }

  [inspect.custom](): string {
    return this.toText();
  }
}
