// Our side of the model workloads: a train step (forward, -mean token log-prob, backward, AdamW) and
// KV-cache sampling, on the active tfjs backend, with the library's own code paths
// (Transformer.tokenLogprobs, AdamW, generate). Returns per-iteration wall times in ms.
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/core/rng.js";
import type { ModelConfig } from "../../src/model/config.js";
import { generate } from "../../src/model/generate.js";
import { Transformer } from "../../src/model/transformer.js";
import { AdamW } from "../../src/training/optimizer.js";

interface Held {
  model: Transformer;
  optimizer: AdamW;
  byVariable: Map<string, string>;
}

const held = new Map<string, Held>();

function modelFor(config: ModelConfig): Held {
  const key = JSON.stringify(config);
  let h = held.get(key);
  if (h === undefined) {
    const model = Transformer.init(config, { seed: 0 });
    const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 });
    const byVariable = new Map(Object.entries(model.params).map(([name, v]) => [v.name, name]));
    h = { model, optimizer, byVariable };
    held.set(key, h);
  }
  return h;
}

/** Frees every model the workloads created. */
export function disposeModels(): void {
  for (const h of held.values()) {
    h.optimizer.dispose();
    h.model.dispose();
  }
  held.clear();
}

function randomIds(rng: Rng, rows: number, cols: number, vocab: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.int(vocab)));
}

/** Train steps on random ids: B×T tokens per step. */
export async function oursTrain(config: ModelConfig, batch: number, steps: number, iters: number, warmup = 0): Promise<number[]> {
  const { model, optimizer, byVariable } = modelFor(config);
  const ids = randomIds(Rng.fromSeed(1), batch, steps + 1, config.vocabSize);
  const inputIds = tf.tensor2d(ids.map((r) => r.slice(0, -1)), [batch, steps], "int32");
  const targetIds = tf.tensor2d(ids.map((r) => r.slice(1)), [batch, steps], "int32");
  const times: number[] = [];
  try {
    for (let it = 0; it < warmup + iters; it++) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogprobs(inputIds, targetIds))) as tf.Scalar);
      const named: Record<string, tf.Tensor> = {};
      for (const [v, g] of Object.entries(grads)) named[byVariable.get(v) ?? v] = g;
      optimizer.step(named, 1e-4);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      if (it >= warmup) times.push(performance.now() - t0);
    }
  } finally {
    tf.dispose([inputIds, targetIds]);
  }
  return times;
}

/** KV-cache sampling runs: `batch` rows, a `prompt`-token prompt, `newTokens` sampled at temperature 1. */
export async function oursSample(
  config: ModelConfig, batch: number, prompt: number, newTokens: number, iters: number, warmup = 0,
): Promise<number[]> {
  const { model } = modelFor(config);
  const rng = Rng.fromSeed(2);
  const prompts = randomIds(rng, batch, prompt, config.vocabSize);
  const times: number[] = [];
  for (let it = 0; it < warmup + iters; it++) {
    const t0 = performance.now();
    const out = await generate(model, prompts, { temperature: 1, topK: 0, topP: 1, maxNewTokens: newTokens, eosTokenIds: [], rng });
    if (out.some((r) => r.tokenIds.length !== newTokens)) throw new Error("sampling stopped early: the benchmark expects full rows");
    if (it >= warmup) times.push(performance.now() - t0);
  }
  return times;
}

/** Best GFLOP/s of an n×n float32 product on the active tfjs backend. */
export async function oursSgemm(n: number, iters: number): Promise<number> {
  const rng = Rng.fromSeed(3);
  const values = () => Float32Array.from({ length: n * n }, () => rng.normal());
  const a = tf.tensor2d(values(), [n, n]);
  const b = tf.tensor2d(values(), [n, n]);
  let best = Infinity;
  try {
    for (let i = 0; i < iters + 1; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
      if (i > 0) best = Math.min(best, performance.now() - t0);
    }
  } finally {
    tf.dispose([a, b]);
  }
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/**
 * Model FLOPs of one forward pass over `tokens` new tokens per row attending to `keys` positions
 * (matmuls only: 2 per multiply-add; embeddings, norms and softmax are not counted, as in MFU).
 */
export function forwardFlops(config: ModelConfig, rows: number, tokens: number, keys: number): number {
  const { nEmbd: C, nInner: I, nLayer: L, vocabSize: V } = config;
  const perToken = 2 * (L * (3 * C * C + C * C + 2 * C * I) + C * V);
  const attention = 2 * 2 * L * C * tokens * keys; // scores q·k and the weighted sum of values, every head
  return rows * (tokens * perToken + attention);
}

/** FLOPs of a train step (forward + backward ≈ 3 × forward). */
export function trainFlops(config: ModelConfig, batch: number, steps: number): number {
  return 3 * forwardFlops(config, batch, steps, steps);
}

/** FLOPs of sampling `newTokens` after a `prompt`-token prefill (the cache grows by one per token). */
export function sampleFlops(config: ModelConfig, batch: number, prompt: number, newTokens: number): number {
  let total = forwardFlops(config, batch, prompt, prompt);
  for (let s = 1; s < newTokens; s++) total += forwardFlops(config, batch, 1, prompt + s);
  return total;
}
