// A sampling thread of `bench/cores.ts`: its own tfjs wasm backend and builtin:tiny-chat; on each
// "run" it replays the given sampling requests `repeat` times and answers its CPU ms per token.
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { selectBackend } from "../../src/model/backend.js";
import { sampleLocally, type SampleRequest } from "../../src/model/policy.js";
import { loadPolicy } from "../../src/model/registry.js";

const { requests, repeat } = workerData as { requests: SampleRequest[]; repeat: number };
await selectBackend({ backend: "wasm" });
const policy = await loadPolicy("builtin:tiny-chat");

/** CPU seconds of this thread (Linux /proc/thread-self; utime + stime in 1/100 s). */
function threadCpu(): number {
  const stat = readFileSync("/proc/thread-self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

parentPort?.on("message", async () => {
  const before = threadCpu();
  let tokens = 0;
  for (let k = 0; k < repeat; k++) {
    for (const request of requests) {
      const results = await sampleLocally(policy.model, policy.tokenizer, request);
      tokens += results.reduce((n, r) => n + r.tokenIds.length, 0);
    }
  }
  parentPort?.postMessage({ msPerToken: (1000 * (threadCpu() - before)) / tokens });
});
parentPort?.postMessage({ ready: true });
