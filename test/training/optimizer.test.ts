import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { AdamW, clipByGlobalNorm, decays } from "../../src/training/optimizer.js";

interface Reference {
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  steps: { grads: Record<string, number[]>; norm: number; params: Record<string, number[]> }[];
}

let ref: Reference;
beforeAll(async () => {
  await tf.setBackend("cpu");
  const dir = mkdtempSync(join(tmpdir(), "adamw-"));
  const out = join(dir, "ref.json");
  execFileSync("/usr/bin/python3", [join(__dirname, "../reference/adamw_reference.py"), out]);
  ref = JSON.parse(readFileSync(out, "utf8"));
});

describe("AdamW + clipByGlobalNorm", () => {
  it("matches PyTorch AdamW with clip_grad_norm_ step by step", async () => {
    const params: Record<string, tf.Variable> = {};
    for (const [k, shape] of Object.entries(ref.shapes)) params[k] = tf.variable(tf.tensor(ref.init[k], shape));
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const before = tf.memory().numTensors;
    for (const step of ref.steps) {
      const grads: Record<string, tf.Tensor> = {};
      for (const [k, shape] of Object.entries(ref.shapes)) grads[k] = tf.tensor(step.grads[k], shape);
      const clipped = clipByGlobalNorm(grads, 1.0);
      expect(clipped.norm.dataSync()[0]).toBeCloseTo(step.norm, 4);
      opt.step(clipped.grads, 0.01);
      tf.dispose([...Object.values(grads), ...Object.values(clipped.grads), clipped.norm]);
      for (const k of Object.keys(ref.shapes)) {
        const ours = params[k].dataSync();
        step.params[k].forEach((v, i) => expect(Math.abs(ours[i] - v)).toBeLessThan(2e-5));
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("saves and restores its state exactly", async () => {
    const mk = () => ({ w: tf.variable(tf.tensor([[1, 2], [3, 4]])) }) as Record<string, tf.Variable>;
    const g = { w: tf.tensor([[0.1, -0.2], [0.3, 0.05]]) };
    const a = mk();
    const optA = new AdamW(a, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 });
    optA.step(g, 0.1);
    const state = await optA.getState();
    const b = mk();
    b.w.assign(a.w);
    const optB = new AdamW(b, optA.options);
    optB.setState(state);
    optA.step(g, 0.1);
    optB.step(g, 0.1);
    expect(Array.from(b.w.dataSync())).toEqual(Array.from(a.w.dataSync()));
    expect(optB.stepCount).toBe(2);
  });

  it("does not clip when maxNorm is 0 and decays only weight matrices", () => {
    const { grads, norm } = clipByGlobalNorm({ a: tf.tensor([3, 4]) }, 0);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 6);
    expect(Array.from(grads.a.dataSync())).toEqual([3, 4]);
    expect(decays("h.0.attn.c_attn.weight", [4, 12])).toBe(true);
    expect(decays("h.0.attn.c_attn.bias", [12])).toBe(false);
    expect(decays("ln_f.weight", [4])).toBe(false);
  });
});

describe("AdamW memory", () => {
  it("owns exactly its two moment tensors per parameter and frees them on dispose", () => {
    const params = { a: tf.variable(tf.ones([2, 2])), b: tf.variable(tf.ones([3])) } as Record<string, tf.Variable>;
    const before = tf.memory().numTensors;
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    expect(tf.memory().numTensors).toBe(before + 4);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
