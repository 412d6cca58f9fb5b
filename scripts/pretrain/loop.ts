/**
 * One pretraining step (next-token cross-entropy → gradients → clip → AdamW) and the held-out
 * evaluation, on the library's own {@link Transformer}, {@link AdamW} and {@link clipByGlobalNorm}.
 *
 * Legend: B rows, T positions per row (≤ P, the context window).
 */
import * as tf from "@tensorflow/tfjs";
import { DOMAINS, type Domain } from "../corpus/generate.js";
import type { Transformer } from "../../src/model/transformer.js";
import { clipByGlobalNorm, type AdamW } from "../../src/training/optimizer.js";
import { makeBatch, windowsOf, type EvalConversation, type TrainingBatch } from "./data.js";

/** What one optimizer step reports. */
export interface StepResult {
  /** Mean next-token cross-entropy over the batch's real targets (nats per token). */
  loss: number;
  /** Global L2 norm of the gradient before clipping. */
  gradNorm: number;
}

/**
 * Mean cross-entropy of the batch's real targets: −Σ log p(target) · lossMask / Σ lossMask.
 * A scalar tensor, differentiable with respect to the model's weights.
 *
 * `denominator` replaces Σ lossMask: a shard of a batch divides by the whole batch's target count,
 * so that the shards' losses (and gradients) add up to the batch's.
 */
export function batchLoss(model: Transformer, batch: TrainingBatch, denominator = batch.targetCount): tf.Scalar {
  return tf.tidy(() => {
    const shape: [number, number] = [batch.rows, batch.steps];
    const logprobs = model.tokenLogprobs(tf.tensor2d(batch.inputIds, shape, "int32"), tf.tensor2d(batch.targetIds, shape, "int32"), {
      attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
    }); // (B, T)
    const counted = tf.mul(logprobs, tf.tensor2d(batch.lossMask, shape, "float32"));
    return tf.div(tf.neg(tf.sum(counted)), Math.max(1, denominator)) as tf.Scalar;
  });
}

/**
 * `tf.variableGrads` keys gradients by the tf.Variable's own name; AdamW keys its moments by the
 * parameter's canonical name (`wte.weight`, …). Re-keys the former to the latter.
 */
export function byParameterName(model: Transformer, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  const parameterOf = new Map(Object.entries(model.params).map(([name, v]) => [v.name, name]));
  const out: Record<string, tf.Tensor> = {};
  for (const [variableName, g] of Object.entries(grads)) {
    const name = parameterOf.get(variableName);
    if (name === undefined) throw new Error(`A gradient for variable "${variableName}" belongs to no model parameter.`);
    out[name] = g;
  }
  const missing = Object.keys(model.params).find((name) => !(name in out));
  if (missing !== undefined) throw new Error(`No gradient reached parameter "${missing}".`);
  return out;
}

/**
 * The gradient of one shard's share of a batch's loss (see {@link batchLoss}'s `denominator`),
 * keyed by canonical parameter name, and that share's value. The caller disposes the gradients.
 */
export function shardGradients(model: Transformer, shard: TrainingBatch, denominator: number): { grads: Record<string, tf.Tensor>; lossSum: number } {
  const { value, grads } = tf.variableGrads(() => batchLoss(model, shard, denominator), Object.values(model.params));
  try {
    return { grads: byParameterName(model, grads), lossSum: value.dataSync()[0] };
  } finally {
    value.dispose();
  }
}

/**
 * Clips `grads` (keyed by parameter name) to global norm `maxGradNorm` and applies one AdamW step
 * at learning rate `lr`; resolves with the norm before clipping. The caller still owns `grads`.
 */
export async function applyGradients(optimizer: AdamW, grads: Record<string, tf.Tensor>, lr: number, maxGradNorm: number): Promise<number> {
  const clipped = clipByGlobalNorm(grads, maxGradNorm);
  try {
    optimizer.step(clipped.grads, lr);
    const [gradNorm] = await clipped.norm.data();
    return gradNorm;
  } finally {
    tf.dispose([clipped.norm, ...Object.values(clipped.grads)]);
  }
}

/** One AdamW step on `batch` at learning rate `lr`, gradients clipped to global norm `maxGradNorm`. */
export async function trainStep(model: Transformer, optimizer: AdamW, batch: TrainingBatch, lr: number, maxGradNorm: number): Promise<StepResult> {
  const { grads, lossSum } = shardGradients(model, batch, batch.targetCount);
  try {
    return { loss: lossSum, gradNorm: await applyGradients(optimizer, grads, lr, maxGradNorm) };
  } finally {
    tf.dispose(Object.values(grads));
  }
}

/** Held-out loss and perplexity, overall and per domain. */
export interface EvalResult {
  /** Mean next-token cross-entropy per token (nats), over every predicted token. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Number of predicted tokens. */
  tokens: number;
  /** Conversations evaluated. */
  conversations: number;
  /** The same per domain (domains absent from the sample are left out). */
  byDomain: Partial<Record<Domain, { loss: number; perplexity: number; tokens: number }>>;
}

/**
 * Evaluates each conversation on its own, in windows of at most P + 1 tokens (see
 * {@link windowsOf}), so a conversation's figure does not depend on which others are evaluated
 * with it; windows are batched `batchRows` at a time and padded to the longest in the batch.
 * Forward passes only (no gradient tape).
 */
export async function evaluate(model: Transformer, conversations: readonly EvalConversation[], batchRows = 8): Promise<EvalResult> {
  const rowTokens = model.config.nPositions + 1;
  const windows = conversations.flatMap((c) => windowsOf(c.tokens, rowTokens).map((tokens) => ({ tokens, domain: c.domain })));
  const sums = new Map<Domain, { nll: number; tokens: number }>();
  for (let start = 0; start < windows.length; start += batchRows) {
    const group = windows.slice(start, start + batchRows);
    const steps = Math.max(...group.map((w) => w.tokens.length)) - 1;
    const batch = makeBatch(group.map((w) => w.tokens), steps, 0);
    const perRow = tf.tidy(() => {
      const shape: [number, number] = [batch.rows, batch.steps];
      const logprobs = model.tokenLogprobs(tf.tensor2d(batch.inputIds, shape, "int32"), tf.tensor2d(batch.targetIds, shape, "int32"), {
        attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
      }); // (B, T)
      return tf.sum(tf.mul(logprobs, tf.tensor2d(batch.lossMask, shape, "float32")), 1); // (B)
    });
    const rowSums = await perRow.data();
    perRow.dispose();
    group.forEach((w, b) => {
      const entry = sums.get(w.domain) ?? { nll: 0, tokens: 0 };
      entry.nll -= rowSums[b];
      entry.tokens += w.tokens.length - 1;
      sums.set(w.domain, entry);
    });
  }
  let nll = 0;
  let tokens = 0;
  const byDomain: EvalResult["byDomain"] = {};
  for (const domain of DOMAINS) {
    const entry = sums.get(domain);
    if (entry === undefined) continue;
    nll += entry.nll;
    tokens += entry.tokens;
    const loss = entry.nll / entry.tokens;
    byDomain[domain] = { loss, perplexity: Math.exp(loss), tokens: entry.tokens };
  }
  const loss = nll / Math.max(1, tokens);
  return { loss, perplexity: Math.exp(loss), tokens, conversations: conversations.length, byDomain };
}
