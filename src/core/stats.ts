/**
 * Small statistics on plain numbers, shared by trajectories, diagnostics and the GRPO math.
 */

/** Arithmetic mean; 0 for an empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Standard deviation. `unbiased` (default true) divides by n-1 (Bessel's correction, the
 * estimator of `torch.std` and TRL's GRPO); a list of fewer than two values has std 0.
 */
export function std(values: readonly number[], unbiased = true): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (unbiased ? n - 1 : n));
}

/** How group rewards are scaled into advantages (TRL's `scale_rewards`). */
export type ScaleRewards = "group" | "batch" | "none";

/** Options of {@link groupAdvantages}. */
export interface AdvantageOptions {
  /**
   * `group` (default, GRPO paper): divide by the group's std; `batch`: divide by the std of all
   * rewards of the batch (pass `batchStd`); `none` (Dr. GRPO): only subtract the group mean.
   */
  scale?: ScaleRewards;
  /** Added to the std before dividing, so zero-variance groups get advantage 0. Default 1e-4 (TRL). */
  epsilon?: number;
  /** The batch-wide reward std used when `scale` is `batch`. */
  batchStd?: number;
}

/**
 * Group-relative advantages: `A_i = (r_i - mean(r)) / (std(r) + epsilon)`, std unbiased (n-1).
 * A group whose rewards are all equal gets all-zero advantages.
 */
export function groupAdvantages(rewards: readonly number[], options: AdvantageOptions = {}): number[] {
  const scale = options.scale ?? "group";
  const epsilon = options.epsilon ?? 1e-4;
  const m = mean(rewards);
  let denom = 1;
  if (scale === "group") denom = std(rewards) + epsilon;
  else if (scale === "batch") denom = (options.batchStd ?? std(rewards)) + epsilon;
  return rewards.map((r) => (r - m) / denom);
}
