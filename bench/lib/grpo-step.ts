// (e) One GRPO step of the quick start (examples/quick_start.ts: builtin:tiny-chat, balanced profile),
// broken down by phase. The trainer is not changed for this: the benchmark wraps a few methods it
// calls (the model's forward pass, tfjs's gradient entry point and AdamW.step) with
// timers, and reads the rollout time the trainer already reports (`time/rollout_s`).
import * as tf from "@tensorflow/tfjs";
import { quickStartSpec } from "../../examples/quick_start.js";
import { Transformer } from "../../src/model/transformer.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { AdamW } from "../../src/training/optimizer.js";

/** Seconds per phase of one step. */
export interface StepBreakdown {
  /** Episodes (generation + environment + agent bookkeeping), reward excluded. */
  rollout: number;
  /** Of `rollout`: the model's forward passes while sampling (prefill and KV-cache steps). */
  rolloutModel: number;
  reward: number;
  /** Forward passes of the loss (per-token log-probs, ratio, loss) inside the gradient tape. */
  logprob: number;
  /** tfjs's backward pass (gradient of the loss). */
  backward: number;
  /** AdamW updates. */
  optimizer: number;
  /** Everything else: batching rows, clipping, gradient accumulation, metrics, callbacks. */
  bookkeeping: number;
  total: number;
}

/** What the quick-start measurement returns. */
export interface GrpoStepResult {
  episodesPerStep: number;
  steps: StepBreakdown[];
  median: StepBreakdown;
  /** Share of the step spent outside model math (rollout forward, log-prob, backward, optimizer). */
  outsideModelShare: number;
  /** Tensors alive after each measured step minus before it (0 = no leak). */
  tensorDeltaPerStep: number[];
  /** Peak resident set size of this process so far, MiB. */
  peakRssMiB: number;
  /** Size of the wasm backend's heap (it grows, never shrinks), MiB; 0 on other backends. */
  wasmHeapMiB: number;
  /** V8's JavaScript heap in use, MiB. */
  jsHeapMiB: number;
}

function wasmHeapBytes(): number {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap?.length ?? 0;
}

interface Clock {
  forward: number;
  tapeForward: number;
  gradients: number;
  optimizer: number;
  inGradients: boolean;
}

function timed<A extends unknown[], R>(fn: (...args: A) => R, add: (ms: number) => void): (...args: A) => R {
  return (...args: A): R => {
    const t0 = performance.now();
    try {
      return fn(...args);
    } finally {
      add(performance.now() - t0);
    }
  };
}

function medianOf(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `warmup + steps` quick-start GRPO steps and returns the breakdown of the measured ones. */
export async function measureGrpoStep(steps: number, warmup = 1): Promise<GrpoStepResult> {
  const spec = quickStartSpec({ seed: 0 });
  await spec.agent.initialize();
  const clock: Clock = { forward: 0, tapeForward: 0, gradients: 0, optimizer: 0, inGradients: false };

  const engine = tf.engine();
  const originalForward = Transformer.prototype.forward;
  const originalGradients = engine.gradients;
  const originalStep = AdamW.prototype.step;
  Transformer.prototype.forward = function (this: Transformer, ...args: Parameters<Transformer["forward"]>) {
    if (clock.inGradients) return originalForward.apply(this, args);
    return timed(originalForward.bind(this), (ms) => (clock.forward += ms))(...args);
  };
  engine.gradients = function <T extends tf.Tensor>(this: typeof engine, f: () => T, ...rest: unknown[]) {
    const tapeF = (): T => {
      clock.inGradients = true;
      try {
        return timed(f, (ms) => (clock.tapeForward += ms))();
      } finally {
        clock.inGradients = false;
      }
    };
    const call = originalGradients.bind(engine) as (f: () => T, ...r: unknown[]) => { value: T; grads: tf.Tensor[] };
    return timed(call, (ms) => (clock.gradients += ms))(tapeF, ...rest);
  } as typeof engine.gradients;
  AdamW.prototype.step = function (this: AdamW, ...args: Parameters<AdamW["step"]>) {
    return timed(originalStep.bind(this), (ms) => (clock.optimizer += ms))(...args);
  };

  const trainer = await GRPOTrainer.create({
    agent: spec.agent, environment: spec.environment, reward: spec.reward, profile: spec.profile,
    configOverrides: { ...(spec.configOverrides ?? {}), seed: 0 },
  });
  const breakdowns: StepBreakdown[] = [];
  const tensorDeltaPerStep: number[] = [];
  let episodesPerStep = 0;
  try {
    for (let i = 0; i < warmup + steps; i++) {
      Object.assign(clock, { forward: 0, tapeForward: 0, gradients: 0, optimizer: 0 });
      const before = tf.memory().numTensors;
      const t0 = performance.now();
      const report = await trainer.step();
      const total = (performance.now() - t0) / 1000;
      const after = tf.memory().numTensors;
      if (i < warmup) continue;
      const rolloutS = report.metrics["time/rollout_s"] as number;
      // The reward runs inside the rollout, interleaved with other episodes' sampling, so its wall time
      // there is not its cost: score the step's trajectories again, one after another, and time that.
      const r0 = performance.now();
      for (const g of report.groups) for (const t of g.trajectories) {
        await spec.reward.computeReward(t.turns, (t.metadata.context ?? {}) as Record<string, unknown>);
      }
      const rewardS = (performance.now() - r0) / 1000;
      const logprob = clock.tapeForward / 1000;
      const backward = (clock.gradients - clock.tapeForward) / 1000;
      const optimizer = clock.optimizer / 1000;
      const rollout = rolloutS - rewardS;
      episodesPerStep = report.groups.reduce((n, g) => n + g.trajectories.length, 0);
      breakdowns.push({
        rollout, rolloutModel: clock.forward / 1000, reward: rewardS, logprob, backward, optimizer,
        bookkeeping: total - rolloutS - logprob - backward - optimizer, total,
      });
      tensorDeltaPerStep.push(after - before);
    }
  } finally {
    Transformer.prototype.forward = originalForward;
    engine.gradients = originalGradients;
    AdamW.prototype.step = originalStep;
    trainer.dispose();
  }
  const keys = Object.keys(breakdowns[0]) as (keyof StepBreakdown)[];
  const median = Object.fromEntries(keys.map((k) => [k, medianOf(breakdowns.map((b) => b[k]))])) as unknown as StepBreakdown;
  // Per step, then the median (a sum of per-phase medians need not match the median total).
  const outside = breakdowns.map((b) => 1 - (b.rolloutModel + b.logprob + b.backward + b.optimizer) / b.total);
  return {
    episodesPerStep, steps: breakdowns, median, outsideModelShare: medianOf(outside), tensorDeltaPerStep,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    wasmHeapMiB: wasmHeapBytes() / 2 ** 20,
    jsHeapMiB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}
