/**
 * `npm run test:soak`: 1000 GRPO steps on a tiny model, with a run folder (metrics.jsonl, a rotated
 * checkpoint every 100 steps). After a 100-step warm-up the live tensor count must not change at
 * all, and the resident set size must grow by less than 10 %.
 *
 *   node --expose-gc --import tsx test/reliability/soak.ts [--steps 1000] [--warmup 100]
 *
 * Prints the figures (tensors, tfjs bytes, RSS, heap at warm-up and at the end, step time) and exits
 * 1 when a limit is broken.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { yesShareReward, yesTaskEnvironment } from "../helpers/yes-task.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

const { values } = parseArgs({ options: { steps: { type: "string", default: "1000" }, warmup: { type: "string", default: "100" } } });
const STEPS = Number(values.steps);
const WARMUP = Number(values.warmup);
const MAX_RSS_GROWTH = 0.1;

interface Sample {
  step: number;
  tensors: number;
  tfBytes: number;
  rssMiB: number;
  heapMiB: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function sample(step: number): Sample {
  gc?.();
  const memory = tf.memory();
  const usage = process.memoryUsage();
  return { step, tensors: memory.numTensors, tfBytes: memory.numBytes, rssMiB: usage.rss / 2 ** 20, heapMiB: usage.heapUsed / 2 ** 20 };
}

async function main(): Promise<void> {
  await selectBackend({ backend: "wasm" });
  const modelDir = await makeTinyModel({ seed: 5 });
  const runDir = mkdtempSync(path.join(tmpdir(), "soak-"));
  const environment = yesTaskEnvironment();
  const reward = yesShareReward();
  const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 6 });
  agent.policy = await TfPolicy.fromFolder(modelDir);
  const samples: Sample[] = [];
  const started = performance.now();
  let warmedAt = 0;
  const trainer = await GRPOTrainer.create({
    agent, environment, reward, runDir,
    configOverrides: {
      learningRate: 1e-3, numGenerations: 2, scenariosPerStep: 1, maxSteps: STEPS, beta: 0.04, seed: 1,
      saveSteps: 100, saveTotalLimit: 2,
    },
    callbacks: [{
      onStepEnd: (e) => {
        if (e.step === WARMUP) warmedAt = performance.now();
        if (e.step >= WARMUP && (e.step - WARMUP) % 50 === 0) {
          const s = sample(e.step);
          samples.push(s);
          console.log(`step ${s.step}: ${s.tensors} tensors, ${(s.tfBytes / 1024).toFixed(0)} KiB in tfjs, ` +
            `RSS ${s.rssMiB.toFixed(1)} MiB, JS heap ${s.heapMiB.toFixed(1)} MiB`);
        }
      },
    }],
  });
  await trainer.run();
  const end = sample(trainer.stepCount);
  if (samples.at(-1)?.step !== end.step) samples.push(end);
  const first = samples[0];
  const msPerStep = (performance.now() - warmedAt) / Math.max(1, STEPS - WARMUP);
  const tensorCounts = [...new Set(samples.map((s) => s.tensors))];
  const rssGrowth = end.rssMiB / first.rssMiB - 1;
  const peakRss = Math.max(...samples.map((s) => s.rssMiB));
  console.log(`\n${trainer.stepCount} steps in ${((performance.now() - started) / 1000).toFixed(0)} s (${msPerStep.toFixed(0)} ms/step after warm-up).`);
  console.log(`Live tensors after warm-up: ${tensorCounts.join(" → ")} (${tensorCounts.length === 1 ? "constant" : "CHANGED"}).`);
  console.log(`RSS: ${first.rssMiB.toFixed(1)} MiB at step ${first.step} → ${end.rssMiB.toFixed(1)} MiB at step ${end.step} ` +
    `(${(100 * rssGrowth).toFixed(1)} %, peak ${peakRss.toFixed(1)} MiB; limit +${100 * MAX_RSS_GROWTH} %).`);
  console.log(`JS heap: ${first.heapMiB.toFixed(1)} → ${end.heapMiB.toFixed(1)} MiB; tfjs bytes ${first.tfBytes} → ${end.tfBytes}.`);
  trainer.dispose();
  rmSync(runDir, { recursive: true, force: true });
  const ok = tensorCounts.length === 1 && rssGrowth < MAX_RSS_GROWTH && trainer.stepCount === STEPS;
  console.log(ok ? "SOAK PASSED" : "SOAK FAILED");
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
