// Data-parallel pretraining steps (`npm run bench:pretrain-threads`): seconds per optimizer step of the
// shipped architecture (width 128 × 3 layers × 4 heads, 2048-token vocabulary, rotary, 256 positions)
// on the wasm backend, with 1 thread (plain `trainStep`) and with 2 (`DataParallelSteps`: the rows
// split between this thread and a worker, gradients summed, one AdamW update), for both row shapes of
// the pretraining schedule (8 × 128 and 4 × 256). Both are measured in the same run, alternating
// blocks of steps (1, 2, 1, 2, …) so that load from other processes hits both alike; the headline is
// the median over blocks of the ratio of the two times.
// Options: --blocks N (default 5), --steps N per block (default 6).
import { selectBackend } from "../src/model/backend.js";
import type { ModelConfig } from "../src/model/config.js";
import { Rng } from "../src/core/rng.js";
import { Transformer } from "../src/model/transformer.js";
import { AdamW } from "../src/training/optimizer.js";
import { makeBatch } from "../scripts/pretrain/data.js";
import { trainStep } from "../scripts/pretrain/loop.js";
import { DataParallelSteps } from "../scripts/pretrain/parallel.js";
import { intArgument, median } from "./lib/args.js";

const blocks = intArgument("--blocks", 5);
const stepsPerBlock = intArgument("--steps", 6);

await selectBackend({ backend: "wasm" });
const config: ModelConfig = { vocabSize: 2048, nPositions: 256, nEmbd: 128, nLayer: 3, nHead: 4, nInner: 512, layerNormEpsilon: 1e-5, tieWordEmbeddings: true, eosTokenId: 258, positionEncoding: "rotary" };
const parallel = await DataParallelSteps.start(1, config, "wasm");
const rng = Rng.fromSeed(7);
const batchOf = (B: number, T: number) => makeBatch(Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => rng.int(config.vocabSize))), T, 256);

console.log(`pretraining step, shipped architecture, wasm; ${blocks} blocks × ${stepsPerBlock} steps per thread count and row shape`);
for (const [B, T] of [[8, 128], [4, 256]]) {
  const replicas = [1, 2].map(() => {
    const model = Transformer.init(config, { seed: 1 });
    return { model, optimizer: new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 }) };
  });
  const step = (threads: number) => {
    const { model, optimizer } = replicas[threads - 1];
    const batch = batchOf(B, T);
    return threads === 1 ? trainStep(model, optimizer, batch, 1e-3, 1) : parallel.trainStep(model, optimizer, batch, 1e-3, 1);
  };
  await step(1); // warm-up (kernel compilation)
  await step(2);
  const seconds: Record<number, number[]> = { 1: [], 2: [] };
  for (let block = 0; block < blocks; block++) {
    for (const threads of block % 2 === 0 ? [1, 2] : [2, 1]) {
      const started = performance.now();
      for (let s = 0; s < stepsPerBlock; s++) await step(threads);
      seconds[threads].push((performance.now() - started) / 1000 / stepsPerBlock);
    }
  }
  const ratios = seconds[1].map((one, k) => one / seconds[2][k]);
  console.log(`rows ${B} × ${T}: 1 thread ${median(seconds[1]).toFixed(3)} s/step, 2 threads ${median(seconds[2]).toFixed(3)} s/step; speed-up (median of per-block ratios) ${median(ratios).toFixed(2)}× [${ratios.map((r) => r.toFixed(2)).join(", ")}]`);
  for (const r of replicas) {
    r.model.dispose();
    r.optimizer.dispose();
  }
}
await parallel.close();
