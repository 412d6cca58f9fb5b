/**
 * Training health: a callback that watches step metrics and says whether training is healthy.
 *
 * Every signal and threshold is documented on {@link HealthThresholds}; {@link assessHealth} is a pure
 * function of a metrics window so it can be tested and reused (AutoTrainer, notebook displays).
 */
import { mean, std } from "../core/stats.js";
import type { TrainerCallback, TrainerEvent } from "./events.js";
import type { StepMetrics } from "./history.js";

/** Overall verdict. */
export type HealthLevel = "HEALTHY" | "WARNING" | "CRITICAL";

/** One problem found, with what to do about it. */
export interface HealthIssue {
  level: Exclude<HealthLevel, "HEALTHY">;
  /** Stable id, e.g. `nan_loss`, `low_reward_diversity`. */
  code: string;
  message: string;
  recommendation: string;
}

/** The health report returned by {@link DiagnosticsMonitor.getHealthStatus}. */
export interface HealthStatus {
  status: HealthLevel;
  /** Mean within-group reward std over the window (metric `reward_std`). 0 = nothing to learn from. */
  rewardDiversity: number;
  /**
   * Gradient stability in (0, 1]: `1 / (1 + cv)` where cv = std/mean of `grad_norm` over the window.
   * 1 = perfectly steady norms; below 0.5 means the norm varies by more than its own mean.
   */
  gradientStability: number;
  /** Steps the verdict is based on. */
  windowSteps: number;
  issues: HealthIssue[];
  recommendations: string[];
}

/** Thresholds of the health rules (defaults in brackets). */
export interface HealthThresholds {
  /** Steps of history the verdict looks at [20]. */
  window: number;
  /** rewardDiversity below this is a WARNING (`low_reward_diversity`) [0.01]. */
  minRewardDiversity: number;
  /** frac_reward_zero_std above this (window mean) is a WARNING (`zero_variance_groups`) [0.9]. */
  maxZeroStdFraction: number;
  /** gradientStability below this is a WARNING (`unstable_gradients`) [0.35]. */
  minGradientStability: number;
  /** Last grad_norm above this multiple of the window median is a WARNING (`gradient_spike`) [10]. */
  gradSpikeFactor: number;
  /** Mean KL above this is a WARNING (`kl_high`) [0.5 nats/token]. */
  klWarning: number;
  /** Mean KL above this is CRITICAL (`kl_blowup`) [5 nats/token]. */
  klCritical: number;
  /** Entropy below this (nats/token) is a WARNING (`entropy_collapse`) [0.05]. */
  minEntropy: number;
}

/** Default {@link HealthThresholds}. */
export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = {
  window: 20,
  minRewardDiversity: 0.01,
  maxZeroStdFraction: 0.9,
  minGradientStability: 0.35,
  gradSpikeFactor: 10,
  klWarning: 0.5,
  klCritical: 5,
  minEntropy: 0.05,
};

function finiteValues(window: readonly StepMetrics[], name: string): number[] {
  return window.map((m) => m[name]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Assesses a window of step metrics (most recent last). Pure. */
export function assessHealth(history: readonly StepMetrics[], thresholds: Partial<HealthThresholds> = {}): HealthStatus {
  const t = { ...DEFAULT_HEALTH_THRESHOLDS, ...thresholds };
  const window = history.slice(-t.window);
  const issues: HealthIssue[] = [];
  const add = (level: HealthIssue["level"], code: string, message: string, recommendation: string) =>
    issues.push({ level, code, message, recommendation });

  const nonFinite = (name: string) => window.some((m) => name in m && !Number.isFinite(m[name]));
  for (const name of ["loss", "reward", "grad_norm"]) {
    if (nonFinite(name)) {
      add("CRITICAL", `nan_${name}`, `Non-finite ${name} (NaN or Infinity) in the last ${window.length} steps.`,
        name === "reward"
          ? "Check the reward functions: one returned NaN/Infinity or failed."
          : "Lower the learning rate, tighten maxGradNorm, or resume from the last good checkpoint.");
    }
  }

  const rewardStds = finiteValues(window, "reward_std");
  const rewardDiversity = mean(rewardStds);
  const gradNorms = finiteValues(window, "grad_norm");
  const gradMean = mean(gradNorms);
  const gradientStability = gradNorms.length < 2 || gradMean === 0 ? 1 : 1 / (1 + std(gradNorms) / gradMean);

  if (window.length > 0 && rewardStds.length > 0 && rewardDiversity < t.minRewardDiversity) {
    add("WARNING", "low_reward_diversity",
      `Reward diversity ${rewardDiversity.toFixed(4)} is below ${t.minRewardDiversity}: groups barely differ, so GRPO has little to learn from.`,
      "Raise the sampling temperature, use more diverse scenarios, or make the reward more graded.");
  }
  const zeroStd = finiteValues(window, "frac_reward_zero_std");
  if (zeroStd.length > 0 && mean(zeroStd) > t.maxZeroStdFraction) {
    add("WARNING", "zero_variance_groups",
      `${(mean(zeroStd) * 100).toFixed(0)}% of groups have identical rewards (zero advantage).`,
      "Increase numGenerations or temperature; check that the reward can tell completions apart.");
  }
  if (gradNorms.length >= 3 && gradientStability < t.minGradientStability) {
    add("WARNING", "unstable_gradients", `Gradient stability ${gradientStability.toFixed(3)} is low: grad norms swing widely.`,
      "Use the conservative profile, lower the learning rate, or tighten maxGradNorm.");
  }
  if (gradNorms.length >= 4) {
    const last = gradNorms[gradNorms.length - 1];
    const med = median(gradNorms.slice(0, -1));
    if (med > 0 && last > t.gradSpikeFactor * med) {
      add("WARNING", "gradient_spike", `The last grad norm ${last.toFixed(3)} is ${(last / med).toFixed(1)}× the median.`,
        "A spike often precedes divergence: lower the learning rate or tighten maxGradNorm.");
    }
  }
  const kls = finiteValues(window, "kl");
  if (kls.length > 0) {
    const kl = mean(kls.slice(-5));
    if (kl > t.klCritical) {
      add("CRITICAL", "kl_blowup", `KL to the reference is ${kl.toFixed(3)} nats/token: the policy has drifted far.`,
        "Raise beta, lower the learning rate, or resume from an earlier checkpoint.");
    } else if (kl > t.klWarning) {
      add("WARNING", "kl_high", `KL to the reference is ${kl.toFixed(3)} nats/token.`, "Consider raising beta or lowering the learning rate.");
    }
  }
  const entropies = finiteValues(window, "entropy");
  if (entropies.length > 0 && entropies[entropies.length - 1] < t.minEntropy) {
    add("WARNING", "entropy_collapse", `Entropy ${entropies[entropies.length - 1].toFixed(4)} nats/token: the policy has become nearly deterministic.`,
      "Raise the temperature or lower the learning rate; rewards may be hacked.");
  }

  const status: HealthLevel = issues.some((i) => i.level === "CRITICAL")
    ? "CRITICAL"
    : issues.length > 0 ? "WARNING" : "HEALTHY";
  return {
    status,
    rewardDiversity,
    gradientStability,
    windowSteps: window.length,
    issues,
    recommendations: [...new Set(issues.map((i) => i.recommendation))],
  };
}

/**
 * A callback that records step metrics and reports training health (the guide's `DiagnosticsMonitor`).
 * Pass it in `callbacks`, then call {@link getHealthStatus}.
 */
export class DiagnosticsMonitor implements TrainerCallback {
  readonly thresholds: HealthThresholds;
  /** Every step's metrics seen so far. */
  readonly metrics: StepMetrics[] = [];

  constructor(thresholds: Partial<HealthThresholds> = {}) {
    this.thresholds = { ...DEFAULT_HEALTH_THRESHOLDS, ...thresholds };
  }

  onStepEnd(event: Extract<TrainerEvent, { type: "step_end" }>): void {
    this.metrics.push(event.report.metrics);
  }

  /** Records metrics directly (for use outside a trainer). */
  record(metrics: StepMetrics): void {
    this.metrics.push(metrics);
  }

  /** The current verdict over the last `thresholds.window` steps. */
  getHealthStatus(): HealthStatus {
    return assessHealth(this.metrics, this.thresholds);
  }
}
