// Model benchmark (`npm run bench:model`): forward, train step (forward + backward + Adam) and
// KV-cache sampling of a tiny GPT on the selected backend, then on cpu for comparison.
// Options: --backend <name> (default: auto / GRPO_BACKEND), --no-cpu (skip the cpu comparison).
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../src/core/rng.js";
import type { ModelConfig } from "../src/model/config.js";
import { selectBackend, type BackendRequest } from "../src/model/backend.js";
import { generate } from "../src/model/generate.js";
import { Transformer } from "../src/model/transformer.js";
import { stringArgument } from "./lib/args.js";

const CONFIG: ModelConfig = {
  vocabSize: 512,
  nPositions: 64,
  nEmbd: 128,
  nHead: 4,
  nLayer: 2,
  nInner: 512,
  layerNormEpsilon: 1e-5,
  tieWordEmbeddings: true,
};
const BATCH = 8;
const STEPS = 64;


/** Median wall time of `run` in ms, after `warmup` untimed runs. */
async function timeMs(run: () => Promise<void> | void, reps: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface Row {
  backend: string;
  forwardMs: number;
  trainStepMs: number;
  trainTokensPerS: number;
  sampleTokensPerS: number;
}

async function benchOn(reps: number): Promise<Row> {
  const model = Transformer.init(CONFIG, { seed: 0 });
  const rng = Rng.fromSeed(0);
  const ids = Array.from({ length: BATCH }, () => Array.from({ length: STEPS + 1 }, () => rng.int(CONFIG.vocabSize)));
  const inputIds = tf.tensor2d(ids.map((r) => r.slice(0, -1)), [BATCH, STEPS], "int32");
  const targetIds = tf.tensor2d(ids.map((r) => r.slice(1)), [BATCH, STEPS], "int32");
  const optimizer = tf.train.adam(1e-4);

  const forwardMs = await timeMs(async () => {
    const logits = model.forward(inputIds);
    await logits.data();
    logits.dispose();
  }, reps);

  const trainStepMs = await timeMs(async () => {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogprobs(inputIds, targetIds))) as tf.Scalar);
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      return value;
    });
    await loss.data();
    loss.dispose();
  }, reps);

  // Sampling: 8 one-token prompts, as many new tokens as the 64-position window allows (63).
  const maxNewTokens = CONFIG.nPositions - 1;
  let sampled = 0;
  const sampleMs = await timeMs(async () => {
    const out = await generate(model, ids.map((r) => [r[0]]), {
      temperature: 1,
      topK: 0,
      topP: 1,
      maxNewTokens,
      eosTokenIds: [],
      rng,
    });
    sampled = out.reduce((n, r) => n + r.tokenIds.length, 0);
  }, Math.max(1, Math.ceil(reps / 4)), 1);

  tf.dispose([inputIds, targetIds]);
  optimizer.dispose();
  model.dispose();
  return {
    backend: tf.getBackend(),
    forwardMs,
    trainStepMs,
    trainTokensPerS: (BATCH * STEPS) / (trainStepMs / 1000),
    sampleTokensPerS: sampled / (sampleMs / 1000),
  };
}

function print(row: Row): void {
  console.log(
    `${row.backend.padEnd(10)} forward ${row.forwardMs.toFixed(1).padStart(8)} ms   ` +
      `train step ${row.trainStepMs.toFixed(1).padStart(8)} ms (${row.trainTokensPerS.toFixed(0).padStart(6)} tok/s)   ` +
      `KV-cache sampling ${row.sampleTokensPerS.toFixed(0).padStart(6)} tok/s`,
  );
}

async function main(): Promise<void> {
  const report = await selectBackend({ backend: stringArgument("--backend") as BackendRequest | undefined });
  const params = Transformer.expectedShapes(CONFIG);
  const count = Object.values(params).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  console.log(`backend: ${report.name} (${report.reason})`);
  console.log(
    `model: V=${CONFIG.vocabSize} P=${CONFIG.nPositions} C=${CONFIG.nEmbd} nh=${CONFIG.nHead} layers=${CONFIG.nLayer} ` +
      `(${(count / 1e6).toFixed(2)} M params); batch ${BATCH}×${STEPS}; sampling batch ${BATCH}, 63 new tokens; medians`,
  );
  print(await benchOn(10));
  if (!process.argv.includes("--no-cpu") && report.name !== "cpu") {
    await selectBackend({ backend: "cpu" });
    print(await benchOn(2));
  }
}

await main();
