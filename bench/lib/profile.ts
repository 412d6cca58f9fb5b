// Where the time of one train step and one KV-cache decoding step goes on our side: tfjs's kernel
// profiler (kernel wall times, summed by kernel and by input shape) against the step's wall time.
// The difference is JavaScript: tfjs's engine (op dispatch, tape, tidy) and our code around it.
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/core/rng.js";
import type { ModelConfig } from "../../src/model/config.js";
import { KVCache, Transformer } from "../../src/model/transformer.js";

/** One profiled step. */
export interface StepProfile {
  what: string;
  /** Median wall time of the step, unprofiled. */
  wallMs: number;
  /** Sum of kernel times while profiled (the profiler adds a little overhead of its own). */
  kernelMs: number;
  kernels: number;
  /** Kernel time by kernel name, largest first. */
  byKernel: { name: string; ms: number; calls: number }[];
  /** Kernel time by kernel name and input shapes, largest first (top 8). */
  byShape: { key: string; ms: number; calls: number }[];
}

function medianMs(run: () => void, reps: number): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

/** Profiles `run` `profiles` times and keeps the run with the median kernel total (one run can catch a stall). */
async function profileOf(what: string, run: () => void, reps: number, profiles = 5): Promise<StepProfile> {
  run();
  const wallMs = medianMs(run, reps);
  const all: StepProfile[] = [];
  for (let i = 0; i < profiles; i++) all.push(summariseProfile(what, wallMs, await tf.profile(run)));
  return all.sort((a, b) => a.kernelMs - b.kernelMs)[Math.floor(profiles / 2)];
}

function summariseProfile(what: string, wallMs: number, info: Awaited<ReturnType<typeof tf.profile>>): StepProfile {
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const byShape = new Map<string, { ms: number; calls: number }>();
  let kernelMs = 0;
  let kernels = 0;
  for (const k of info.kernels) {
    // customGrad scopes are reported as "unnamed scope" around kernels already counted.
    if (k.name === "unnamed scope") continue;
    const ms = k.kernelTimeMs as number;
    kernelMs += ms;
    kernels += 1;
    const add = (map: Map<string, { ms: number; calls: number }>, key: string) => {
      const e = map.get(key) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls += 1;
      map.set(key, e);
    };
    add(byKernel, k.name);
    add(byShape, `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(" ")}`);
  }
  const sorted = <T extends { ms: number }>(entries: T[]) => entries.sort((a, b) => b.ms - a.ms);
  return {
    what, wallMs, kernelMs, kernels,
    byKernel: sorted([...byKernel].map(([name, e]) => ({ name, ...e }))),
    byShape: sorted([...byShape].map(([key, e]) => ({ key, ...e }))).slice(0, 8),
  };
}

/** Profiles a train step (batch×steps) and a decoding step (batch rows, `cached` positions in the cache). */
export async function profileSteps(config: ModelConfig, batch: number, steps: number, cached: number): Promise<StepProfile[]> {
  const model = Transformer.init(config, { seed: 0 });
  const rng = Rng.fromSeed(4);
  const ids = Array.from({ length: batch }, () => Array.from({ length: steps + 1 }, () => rng.int(config.vocabSize)));
  const inputIds = tf.tensor2d(ids.map((r) => r.slice(0, -1)), [batch, steps], "int32");
  const targetIds = tf.tensor2d(ids.map((r) => r.slice(1)), [batch, steps], "int32");
  const cache = new KVCache();
  try {
    const train = await profileOf(`train step ${batch}×${steps} (forward + backward)`, () => {
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogprobs(inputIds, targetIds))) as tf.Scalar);
        tf.dispose(grads);
        return value;
      });
      loss.dataSync();
      loss.dispose();
    }, 5);
    tf.tidy(() => model.forward(tf.slice(inputIds, [0, 0], [batch, cached]) as tf.Tensor2D, { kvCache: cache, lastPositionOnly: true }));
    const one = tf.tensor2d(new Int32Array(batch), [batch, 1], "int32");
    // Every decoding call appends one position: the cache grows by ~15 positions during the measurement.
    const decode = await profileOf(`decode step, batch ${batch}, ${cached}–${cached + 16} cached positions`, () => {
      const logits = tf.tidy(() => model.forward(one, { kvCache: cache }));
      logits.dataSync();
      logits.dispose();
    }, 9);
    one.dispose();
    return [train, decode];
  } finally {
    cache.dispose();
    tf.dispose([inputIds, targetIds]);
    model.dispose();
  }
}
