/**
 * The GRPO loss as pure math, in the order it is computed:
 * completion log-probs → advantages → importance ratio → KL → per-token loss → mask → normalisation → metrics.
 *
 * Shapes: B = completions in the batch (one row per episode; a row holds all assistant tokens of a
 * multi-turn episode), T = completion tokens per row (padded), V = vocabulary size.
 *
 * The loss ({@link grpoLossTensor}) is a pure function of tensors, so it can run inside
 * `tf.variableGrads` / `tf.grad`; the metrics ({@link grpoMetrics}) are computed separately and read
 * back as plain numbers. Every function frees its intermediates (`tf.tidy`); the caller owns the
 * returned tensors.
 */
import * as tf from "@tensorflow/tfjs";
import { GrpoError } from "../core/errors.js";
import { groupAdvantages, std, type ScaleRewards } from "../core/stats.js";
import { IMPORTANCE_SAMPLING_LEVELS, LOSS_TYPES, type ImportanceSamplingLevel, type LossType } from "./config.js";

// Advantages on plain numbers live with the other statistics; re-exported here so the GRPO math reads in one place.
export { groupAdvantages, mean, std } from "../core/stats.js";

// ---------------------------------------------------------------------------------------------
// Advantages (plain numbers)
// ---------------------------------------------------------------------------------------------

/** Options of {@link batchAdvantages}. */
export interface BatchAdvantageOptions {
  /** `group` (default), `batch` or `none`; see {@link groupAdvantages}. */
  scale?: ScaleRewards;
  /** Added to the std before dividing. Default 1e-4. */
  epsilon?: number;
}

/**
 * Group-relative advantages of a whole batch: one array of rewards per scenario group in, one array
 * of advantages per group out. Each reward minus its group's mean, divided by the group's std
 * (`group`), by the std of every reward of the batch (`batch`), or not divided (`none`).
 */
export function batchAdvantages(groupRewards: readonly (readonly number[])[], options: BatchAdvantageOptions = {}): number[][] {
  const scale = options.scale ?? "group";
  const batchStd = scale === "batch" ? std(groupRewards.flat()) : undefined;
  return groupRewards.map((rewards) => groupAdvantages(rewards, { scale, epsilon: options.epsilon, batchStd }));
}

// ---------------------------------------------------------------------------------------------
// Masked reductions
// ---------------------------------------------------------------------------------------------

/**
 * The identity whose gradient is zero: `sg[x]` in the papers (`x.detach()` in PyTorch). tfjs has no
 * such op, so it is a custom gradient.
 */
export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc) => ({
  value: (x as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

/** Σ x·mask over every element → scalar. */
function maskedSum(x: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.sum(tf.mul(x, mask));
}

/** Per row, Σ x·mask / max(Σ mask, 1) → [B]; a row with no tokens gives 0, never NaN. */
export function maskedRowMean(x: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(x, mask), 1), tf.maximum(tf.sum(mask, 1), 1)) as tf.Tensor1D);
}

/** Σ x·mask / max(Σ mask, 1) over the whole batch → scalar (0 for an empty mask). */
export function maskedMean(x: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.div(maskedSum(x, mask), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

// ---------------------------------------------------------------------------------------------
// Ratio, surrogate, KL, per-token loss
// ---------------------------------------------------------------------------------------------

/**
 * Importance ratios π_θ / π_old per token, [B, T].
 *
 * - `token`: r_t = exp(logp_t − old_t).
 * - `sequence` (GSPO, Zheng et al. 2025, "Group Sequence Policy Optimization", eq. for GSPO-token):
 *   s = exp(mean over the row's masked tokens of (logp − old)), the length-normalised sequence ratio,
 *   and every token gets s_t = sg[s] · exp(logp_t − sg[logp_t]). Its value is s on every token; its
 *   gradient w.r.t. logp_t is s (only through token t). Summed over a row with row-constant weights,
 *   as every loss type here does, this gives exactly the gradient of broadcasting s itself (TRL's
 *   form), while keeping the per-token structure.
 *
 * `oldLogprobs` must carry no gradient (pass `stopGradient(logprobs)` when numIterations = 1).
 */
export function importanceRatios(
  logprobs: tf.Tensor2D,
  oldLogprobs: tf.Tensor2D,
  mask: tf.Tensor2D,
  level: ImportanceSamplingLevel,
): tf.Tensor2D {
  return tf.tidy(() => {
    const logRatio = tf.sub(logprobs, oldLogprobs) as tf.Tensor2D; // [B, T]
    if (level === "token") return tf.exp(logRatio);
    const sequenceLogRatio = tf.expandDims(maskedRowMean(logRatio, mask), 1); // [B] -> [B, 1]
    const tokenPath = tf.sub(logprobs, stopGradient(logprobs)); // value 0, gradient 1 per token
    return tf.exp(tf.add(stopGradient(sequenceLogRatio), tokenPath)) as tf.Tensor2D;
  });
}

/**
 * The clipped surrogate per token (to minimise), [B, T]:
 * `−min(r·A, clip(r, 1 − ε, 1 + ε_high)·A)` with A the row's advantage broadcast over its tokens.
 */
export function clippedSurrogate(
  ratio: tf.Tensor2D,
  advantages: tf.Tensor1D,
  epsilon: number,
  epsilonHigh: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const advantage = tf.expandDims(advantages, 1); // [B] -> [B, 1]
    const unclipped = tf.mul(ratio, advantage);
    const clipped = tf.mul(tf.clipByValue(ratio, 1 - epsilon, 1 + epsilonHigh), advantage);
    return tf.neg(tf.minimum(unclipped, clipped)) as tf.Tensor2D;
  });
}

/**
 * The k3 estimator of KL(π_θ ‖ π_ref) per token (Schulman 2020, used by GRPO), [B, T]:
 * `exp(ref − logp) − (ref − logp) − 1`, which is ≥ 0 and unbiased under samples from π_θ.
 */
export function klK3(logprobs: tf.Tensor2D, refLogprobs: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const delta = tf.sub(refLogprobs, logprobs);
    return tf.sub(tf.sub(tf.exp(delta), delta), 1) as tf.Tensor2D;
  });
}

/** The per-token loss `surrogate + beta · kl`, [B, T]; `kl` may be omitted when beta is 0. */
export function perTokenLoss(surrogate: tf.Tensor2D, kl: tf.Tensor2D | undefined, beta: number): tf.Tensor2D {
  if (beta === 0) return surrogate.clone();
  if (kl === undefined) {
    throw new GrpoError("invalid_argument", "beta > 0 needs the per-token KL.", {
      field: "kl",
      expected: "klK3(logprobs, refLogprobs)",
      fix: "pass refLogprobs (from the frozen reference model), or set beta to 0.",
    });
  }
  return tf.tidy(() => tf.add(surrogate, tf.mul(kl, beta)) as tf.Tensor2D);
}

/** Inputs of {@link rowsPerTokenLoss}: rows that may split one sequence (trajectory) into several. */
export interface RowLossInputs {
  /** [B, T] current log-probs (carries the gradient). */
  logprobs: tf.Tensor2D;
  /** [B, T] old log-probs (no gradient). */
  oldLogprobs: tf.Tensor2D;
  /** [B, T] reference log-probs, used when beta > 0. */
  refLogprobs?: tf.Tensor2D;
  /** [B] advantage of each row (its sequence's). */
  advantages: tf.Tensor1D;
  /** [B, T] 1 on loss tokens. */
  mask: tf.Tensor2D;
  /** [S, B] 1 where row b belongs to sequence s (the identity when each row is a sequence). */
  rowsToSequences: tf.Tensor2D;
}

/**
 * The unnormalised per-token loss of rows grouped into sequences: a multi-turn trajectory has one row
 * per sampled assistant turn, all sharing its advantage. Token level: r_t = exp(logp_t − old_t).
 * Sequence level (GSPO): one ratio per sequence, exp(mean of log r over all the sequence's tokens
 * across its rows), broadcast to its tokens (TRL's form; same gradient as {@link importanceRatios}'
 * per-token form under row-constant weights). Then `clippedSurrogate` + beta · `klK3`. The caller
 * normalises with per-token weights (see `tokenWeights` in batch.ts). Also returns the clip flags.
 */
export function rowsPerTokenLoss(
  inputs: RowLossInputs,
  options: Pick<GRPOLossOptions, "epsilon" | "epsilonHigh" | "beta" | "importanceSamplingLevel">,
): { perToken: tf.Tensor2D; kl: tf.Tensor2D; clippedLow: tf.Tensor2D; clippedHigh: tf.Tensor2D } {
  const { logprobs, oldLogprobs, mask, rowsToSequences: seq } = inputs;
  let ratio: tf.Tensor2D;
  if (options.importanceSamplingLevel === "sequence") {
    const logRatio = tf.sub(logprobs, oldLogprobs); // [B, T]
    const rowSum = tf.sum(tf.mul(logRatio, mask), 1, true); // [B, 1]
    const rowCount = tf.sum(mask, 1, true); // [B, 1]
    const seqMean = tf.div(tf.matMul(seq, rowSum), tf.maximum(tf.matMul(seq, rowCount), 1)); // [S, 1]
    const rowMean = tf.matMul(tf.transpose(seq), seqMean); // [B, 1]: each row gets its sequence's mean
    ratio = tf.mul(tf.exp(rowMean), tf.onesLike(logprobs)) as tf.Tensor2D; // broadcast over T
  } else {
    ratio = importanceRatios(logprobs, oldLogprobs, mask, "token");
  }
  const surrogate = clippedSurrogate(ratio, inputs.advantages, options.epsilon, options.epsilonHigh);
  const kl = options.beta > 0 && inputs.refLogprobs ? klK3(logprobs, inputs.refLogprobs) : undefined;
  const perToken = perTokenLoss(surrogate, kl, kl ? options.beta : 0);
  const advantage = tf.mul(tf.expandDims(inputs.advantages, 1), tf.onesLike(logprobs)); // [B, T]
  const clippedLow = tf.cast(tf.logicalAnd(tf.less(ratio, 1 - options.epsilon), tf.less(advantage, 0)), "float32") as tf.Tensor2D;
  const clippedHigh = tf.cast(tf.logicalAnd(tf.greater(ratio, 1 + options.epsilonHigh), tf.greater(advantage, 0)), "float32") as tf.Tensor2D;
  return { perToken, kl: kl ? stopGradient(kl) : tf.zerosLike(logprobs), clippedLow, clippedHigh };
}

// ---------------------------------------------------------------------------------------------
// Normalisation: one small function per loss type
// ---------------------------------------------------------------------------------------------

/** What an aggregation may need besides the per-token loss. */
export interface AggregationContext {
  /** [B, T], 1 on tokens that carry loss. */
  mask: tf.Tensor2D;
  /** The largest possible completion length (dr_grpo's constant denominator), ≥ T. */
  maxCompletionLength: number;
  /** Loss tokens in the whole accumulated batch (dapo); undefined = this batch's (then dapo = bnpo). */
  numItemsInBatch?: number;
}

/** Reduces a [B, T] per-token loss to the scalar loss. */
export type LossAggregation = (loss: tf.Tensor2D, context: AggregationContext) => tf.Scalar;

const bnpo: LossAggregation = (loss, { mask }) => maskedMean(loss, mask);

/**
 * Loss type → normalisation of the masked per-token loss (TRL's definitions):
 * - `grpo`: mean over rows of (row's masked sum / row's token count): each episode weighs the same.
 * - `bnpo`: masked sum / masked tokens of the batch: each token weighs the same.
 * - `dr_grpo`: masked sum / (B × maxCompletionLength): a constant, so no length bias.
 * - `dapo`: masked sum / loss tokens of the whole accumulated batch (`numItemsInBatch`).
 * With gradient accumulation, the trainer divides grpo, bnpo and dr_grpo by the number of
 * micro-batches; dapo needs no division when numItemsInBatch counts all of them.
 */
export const LOSS_AGGREGATIONS: Readonly<Record<LossType, LossAggregation>> = {
  grpo: (loss, { mask }) => tf.tidy(() => tf.mean(maskedRowMean(loss, mask))),
  bnpo,
  dr_grpo: (loss, { mask, maxCompletionLength }) =>
    tf.tidy(() => tf.div(maskedSum(loss, mask), loss.shape[0] * maxCompletionLength)),
  dapo: (loss, context) =>
    context.numItemsInBatch === undefined
      ? bnpo(loss, context)
      : tf.tidy(() => tf.div(maskedSum(loss, context.mask), Math.max(context.numItemsInBatch ?? 1, 1))),
};

// ---------------------------------------------------------------------------------------------
// The loss and its metrics
// ---------------------------------------------------------------------------------------------

/** The tensors of one (micro-)batch. */
export interface GRPOLossInputs {
  /** [B, T] log-probs of the completion tokens under the current policy (carries the gradient). */
  logprobs: tf.Tensor2D;
  /** [B, T] log-probs under the sampling policy; omitted = `stopGradient(logprobs)` (numIterations = 1). */
  oldLogprobs?: tf.Tensor2D;
  /** [B, T] log-probs under the frozen reference model; needed when beta > 0. */
  refLogprobs?: tf.Tensor2D;
  /** [B] one advantage per row (see {@link batchAdvantages}). */
  advantages: tf.Tensor1D | readonly number[];
  /** [B, T] 1 on tokens that carry loss (assistant tokens), 0 elsewhere (prompt, user/tool turns, padding). */
  completionMask: tf.Tensor2D;
}

/** The loss settings, usually taken from a resolved GRPOConfig. */
export interface GRPOLossOptions {
  /** Normalisation (see {@link LOSS_AGGREGATIONS}). */
  lossType: LossType;
  /** Lower clip range: ratios below 1 − epsilon are clipped. In (0, 1). */
  epsilon: number;
  /** Upper clip range: ratios above 1 + epsilonHigh are clipped. > 0. */
  epsilonHigh: number;
  /** KL coefficient, ≥ 0 (0 = no KL term; refLogprobs then optional). */
  beta: number;
  /** `token` ratios or `sequence` ratios (GSPO). */
  importanceSamplingLevel: ImportanceSamplingLevel;
  /** dr_grpo's constant: the most completion tokens a row can hold (≥ T). */
  maxCompletionLength: number;
  /** dapo's denominator: loss tokens in the whole accumulated batch. Undefined = this batch's. */
  numItemsInBatch?: number;
}

/** Training-health metrics of one batch (plain numbers; TRL's names in camelCase). */
export interface GRPOMetrics {
  /** Masked mean of the k3 KL to the reference model; undefined without refLogprobs. */
  kl: number | undefined;
  /** Fraction of loss tokens whose ratio is below 1 − ε while A < 0 (clipped from below). */
  clipRatioLowMean: number;
  /** Fraction of loss tokens whose ratio is above 1 + ε_high while A > 0 (clipped from above). */
  clipRatioHighMean: number;
  /** Fraction of loss tokens clipped either way. */
  clipRatioRegionMean: number;
}

function fail(field: string, value: unknown, expected: string, fix?: string): never {
  throw new GrpoError("invalid_argument", "Invalid input to the GRPO loss.", { field, value, expected, fix });
}

/** Checks shapes and options before any math; throws GrpoError naming the offending input. */
function checkLossInputs(inputs: GRPOLossInputs, options: GRPOLossOptions): void {
  const { logprobs, completionMask } = inputs;
  if (logprobs.rank !== 2) fail("logprobs", logprobs.shape, "a [B, T] tensor");
  const [batch, tokens] = logprobs.shape;
  const sameShape = (name: string, t: tf.Tensor | undefined) => {
    if (t !== undefined && (t.rank !== 2 || t.shape[0] !== batch || t.shape[1] !== tokens)) {
      fail(name, t.shape, `shape [${batch}, ${tokens}] like logprobs`);
    }
  };
  sameShape("completionMask", completionMask);
  sameShape("oldLogprobs", inputs.oldLogprobs);
  sameShape("refLogprobs", inputs.refLogprobs);
  const advantageCount = Array.isArray(inputs.advantages)
    ? inputs.advantages.length
    : (inputs.advantages as tf.Tensor1D).rank === 1 ? (inputs.advantages as tf.Tensor1D).shape[0] : -1;
  if (advantageCount !== batch) fail("advantages", advantageCount, `${batch} advantages (one per row), shape [B]`);
  if (!(LOSS_TYPES as readonly string[]).includes(options.lossType)) fail("lossType", options.lossType, LOSS_TYPES.join(" | "));
  if (!(IMPORTANCE_SAMPLING_LEVELS as readonly string[]).includes(options.importanceSamplingLevel)) {
    fail("importanceSamplingLevel", options.importanceSamplingLevel, IMPORTANCE_SAMPLING_LEVELS.join(" | "));
  }
  if (!(options.epsilon > 0 && options.epsilon < 1)) fail("epsilon", options.epsilon, "a number in (0, 1)");
  if (!(options.epsilonHigh > 0)) fail("epsilonHigh", options.epsilonHigh, "a number > 0");
  if (!(options.beta >= 0)) fail("beta", options.beta, "a number >= 0");
  if (options.beta > 0 && inputs.refLogprobs === undefined) {
    fail("refLogprobs", undefined, "[B, T] reference log-probs when beta > 0", "pass refLogprobs or set beta to 0.");
  }
  if (!(Number.isFinite(options.maxCompletionLength) && options.maxCompletionLength >= tokens)) {
    fail("maxCompletionLength", options.maxCompletionLength, `a number >= T (${tokens})`);
  }
  if (options.numItemsInBatch !== undefined && !(options.numItemsInBatch >= 0)) {
    fail("numItemsInBatch", options.numItemsInBatch, "a count >= 0 of loss tokens in the accumulated batch");
  }
}

function advantagesTensor(advantages: tf.Tensor1D | readonly number[]): tf.Tensor1D {
  return Array.isArray(advantages) ? tf.tensor1d(advantages as number[]) : (advantages as tf.Tensor1D);
}

/**
 * The GRPO loss as a scalar tensor, pure and differentiable w.r.t. `inputs.logprobs` (use it inside
 * `tf.variableGrads` or `tf.grad`). Steps: ratio (token or sequence level) → clipped surrogate with the
 * advantages → + beta · k3 KL → masked normalisation by `lossType`. Rows with an empty mask add 0.
 */
export function grpoLossTensor(inputs: GRPOLossInputs, options: GRPOLossOptions): tf.Scalar {
  checkLossInputs(inputs, options);
  return tf.tidy(() => {
    const { logprobs, completionMask: mask } = inputs;
    const advantages = advantagesTensor(inputs.advantages);
    const oldLogprobs = inputs.oldLogprobs ?? stopGradient(logprobs);
    const ratio = importanceRatios(logprobs, oldLogprobs, mask, options.importanceSamplingLevel);
    const kl = options.beta > 0 && inputs.refLogprobs ? klK3(logprobs, inputs.refLogprobs) : undefined;
    const surrogate = clippedSurrogate(ratio, advantages, options.epsilon, options.epsilonHigh);
    const loss = perTokenLoss(surrogate, kl, options.beta);
    return LOSS_AGGREGATIONS[options.lossType](loss, {
      mask,
      maxCompletionLength: options.maxCompletionLength,
      numItemsInBatch: options.numItemsInBatch,
    });
  });
}

/**
 * The batch's metrics as plain numbers (TRL's definitions, masked means over loss tokens; an empty
 * mask gives 0): `kl` (when refLogprobs is given), and the clip ratios low / high / region.
 */
export function grpoMetrics(inputs: GRPOLossInputs, options: GRPOLossOptions): GRPOMetrics {
  checkLossInputs(inputs, { ...options, beta: 0 });
  const values = tf.tidy(() => {
    const { logprobs, completionMask: mask } = inputs;
    const advantage = tf.expandDims(advantagesTensor(inputs.advantages), 1); // [B] -> [B, 1]
    const oldLogprobs = inputs.oldLogprobs ?? logprobs;
    const ratio = importanceRatios(logprobs, oldLogprobs, mask, options.importanceSamplingLevel);
    const low = tf.logicalAnd(tf.less(ratio, 1 - options.epsilon), tf.less(advantage, 0));
    const high = tf.logicalAnd(tf.greater(ratio, 1 + options.epsilonHigh), tf.greater(advantage, 0));
    const region = tf.logicalOr(low, high);
    const rate = (flags: tf.Tensor) => maskedMean(tf.cast(flags, "float32") as tf.Tensor2D, mask);
    const kl = inputs.refLogprobs ? maskedMean(klK3(logprobs, inputs.refLogprobs), mask) : tf.scalar(Number.NaN);
    return tf.stack([kl, rate(low), rate(high), rate(region)]);
  });
  const [kl, clipRatioLowMean, clipRatioHighMean, clipRatioRegionMean] = values.dataSync();
  values.dispose();
  return { kl: inputs.refLogprobs ? kl : undefined, clipRatioLowMean, clipRatioHighMean, clipRatioRegionMean };
}

/**
 * The loss (a scalar tensor the caller disposes) and the batch's metrics. For gradients, call
 * {@link grpoLossTensor} inside `tf.variableGrads` and {@link grpoMetrics} outside it.
 */
export function grpoLoss(inputs: GRPOLossInputs, options: GRPOLossOptions): { loss: tf.Scalar; metrics: GRPOMetrics } {
  const metrics = grpoMetrics(inputs, options);
  return { loss: grpoLossTensor(inputs, options), metrics };
}

/**
 * Masked mean entropy (nats) of the policy's next-token distributions: logits [B, T, V] (already divided
 * by the sampling temperature), mask [B, T]. A metric: falling towards 0 means the policy collapses
 * onto few tokens. 0 for an empty mask.
 */
export function entropyFromLogits(logits: tf.Tensor3D, mask: tf.Tensor2D): number {
  if (logits.rank !== 3 || logits.shape[0] !== mask.shape[0] || logits.shape[1] !== mask.shape[1]) {
    fail("logits", logits.shape, `shape [${mask.shape[0]}, ${mask.shape[1]}, V] matching the mask`);
  }
  const value = tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [B, T, V]
    const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor2D; // [B, T]
    return maskedMean(entropy, mask);
  });
  const [entropy] = value.dataSync();
  value.dispose();
  return entropy;
}
