// Do this machine's cores slow each other? (`npm run bench:cores`)
//
// One worker thread samples one round of the `bench:distributed` workload (the 32-episode quick-start
// round's sampling requests, captured once) alone; then two worker threads sample it at the same time,
// each with its own tfjs wasm backend, as a DistributedTrainer's workers do. Alternates the two, and
// reports the CPU ms per sampled token of each sampling thread (from /proc/thread-self, Linux), and
// `uptime`. Equal figures mean two busy cores run as fast as one; on a VM whose vCPUs share physical
// cores (or memory bandwidth) the pair pays more CPU per token, which bounds any 2-worker speed-up.
// Options: --reps N (alternations, default 5), --repeat N (rounds replayed per measurement, default 2).
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { captureRolloutRequests } from "./lib/rollout-requests.js";
import { intArgument, median } from "./lib/args.js";


const reps = intArgument("--reps", 5);
const repeat = intArgument("--repeat", 2);
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();

// The workload: one round of the distributed bench, sampled locally, recording each sampling request.
const { requests } = await captureRolloutRequests();

/** A sampling thread: loads the model once, then answers each "run" with its CPU ms per token. */
class Sampler {
  private readonly worker: Worker;
  private waiting?: (msPerToken: number) => void;
  readonly ready: Promise<void>;

  constructor() {
    this.worker = new Worker(new URL("../src/training/distributed/tsx-worker.mjs", import.meta.url), {
      workerData: { tsWorker: new URL("./lib/cores-worker.ts", import.meta.url).href, requests, repeat },
    });
    this.ready = new Promise((resolve) => this.worker.once("message", () => resolve()));
    this.worker.on("message", (m: { msPerToken?: number }) => {
      if (m.msPerToken !== undefined) this.waiting?.(m.msPerToken);
    });
  }

  run(): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.worker.postMessage("run");
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

const samplers = [new Sampler(), new Sampler()];
await Promise.all(samplers.map((s) => s.ready));
await Promise.all(samplers.map((s) => s.run())); // warm-up
const alone: number[] = [];
const together: number[] = [];
const loadBefore = uptime();
for (let r = 0; r < reps; r++) {
  const aloneFirst = r % 2 === 0;
  if (aloneFirst) alone.push(await samplers[r % 2].run());
  together.push(...(await Promise.all(samplers.map((s) => s.run()))));
  if (!aloneFirst) alone.push(await samplers[r % 2].run());
  console.log(`rep ${r + 1}/${reps}: alone ${alone[alone.length - 1].toFixed(3)}, together ${together.slice(-2).map((x) => x.toFixed(3)).join(" and ")} CPU ms per token`);
}
const loadAfter = uptime();
await Promise.all(samplers.map((s) => s.close()));
const summary = {
  what: "CPU ms per sampled token of one sampling thread alone vs two at once (bench:distributed's round, replayed)",
  reps, repeat, medianAlone: median(alone), medianTogether: median(together), ratio: median(together) / median(alone),
  uptimeBefore: loadBefore, uptimeAfter: loadAfter, alone, together,
};
console.log(`uptime before: ${loadBefore}`);
console.log(`uptime after:  ${loadAfter}`);
console.log(`median CPU ms per token: alone ${summary.medianAlone.toFixed(3)}, two at once ${summary.medianTogether.toFixed(3)} (x${summary.ratio.toFixed(2)})`);
const out = path.join("bench", "results", "cores.json");
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}`);
