// Decoding benchmark (`npm run bench:decode`): the KV-cache inference path of builtin:tiny-chat, and
// optionally the same measurements on an older version of this code in the same process, interleaved
// rep by rep, so load from other processes hits both alike.
//
//   npm run bench:decode                                   # this version only
//   mkdir -p scratch/base && git archive a8d106c src | tar -x -C scratch/base   # an older commit's src/
//   npm run bench:decode -- --baseline scratch/base        # ... measured beside this one
// (the copy must sit inside the repository, so that its imports find node_modules; scratch/ is ignored)
//
// What it measures (medians over --reps interleaved repetitions, default 7):
//   step B      one decoding step (one token per row) after a 100-token prefill, B rows: wall ms
//   prefill     32 rows × 95 tokens into an empty cache (the bench's second-turn shape): wall ms
//   rollout     the sampling requests of one round of `npm run bench:distributed` (32 quick-start
//               episodes, maxNewTokens 48; captured once with this version, then replayed by each
//               version) sampled whole and split in two halves one after the other, as two workers
//               would: CPU ms per sampled token of this thread and of the process's other threads
//               (V8's garbage collector and compiler helpers), from /proc on Linux.
// Prints `uptime` before and after; writes bench/results/decode.json.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { captureRolloutRequests } from "./lib/rollout-requests.js";
import { sampleLocally, type SampleRequest } from "../src/model/policy.js";
import { KVCache, Transformer } from "../src/model/transformer.js";
import { intArgument, median, stringArgument } from "./lib/args.js";


const reps = intArgument("--reps", 7);
const baselineDir = stringArgument("--baseline");
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();

/** The parts of a version of the code this benchmark drives. */
interface Version {
  name: string;
  model: Pick<Transformer, "forward">;
  Cache: new () => { dispose(): void };
  sample: (request: SampleRequest) => Promise<Array<{ tokenIds: number[] }>>;
}

/** CPU seconds of this thread and of all other threads of the process (Linux /proc; zeros elsewhere). */
function threadCpu(): { self: number; others: number } {
  if (!existsSync("/proc/self/task")) return { self: 0, others: 0 };
  let self = 0;
  let others = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ = 100
      if (Number(tid) === process.pid) self += seconds;
      else others += seconds;
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return { self, others };
}

// The workload: one round of the distributed bench, sampled locally, recording each sampling request.
const { policy, requests } = await captureRolloutRequests();

const versions: Version[] = [{
  name: "this version",
  model: policy.model,
  Cache: KVCache,
  sample: (request) => sampleLocally(policy.model, policy.tokenizer, request),
}];
if (baselineDir !== undefined) {
  const from = (file: string) => import(pathToFileURL(path.resolve(baselineDir, "src/model", file)).href);
  const base = { transformer: await from("transformer.ts"), policy: await from("policy.ts") };
  const weights = policy.model.getWeights();
  const model = base.transformer.Transformer.fromTensors(policy.model.config, weights) as Transformer;
  tf.dispose(Object.values(weights));
  versions.unshift({
    name: `baseline (${baselineDir})`,
    model,
    Cache: base.transformer.KVCache,
    sample: (request) => base.policy.sampleLocally(model, policy.tokenizer, request),
  });
}

/** Wall ms of one decoding step with B rows after a 100-token prefill (median of 10 steps). */
function stepMs(v: Version, rows: number): number {
  const cache = new v.Cache();
  const times: number[] = [];
  try {
    const ids = Int32Array.from({ length: rows * 100 }, (_, i) => (i * 7919) % 2000);
    tf.tidy(() => v.model.forward(tf.tensor2d(ids, [rows, 100], "int32"), { kvCache: cache as KVCache, lastPositionOnly: true })).dispose();
    for (let s = 0; s < 12; s++) {
      const t0 = performance.now();
      const logits = tf.tidy(() => v.model.forward(tf.tensor2d(new Int32Array(rows).fill(5 + s), [rows, 1], "int32"), { kvCache: cache as KVCache }));
      logits.dataSync();
      logits.dispose();
      if (s >= 2) times.push(performance.now() - t0);
    }
  } finally {
    cache.dispose();
  }
  return median(times);
}

/** Wall ms of a prefill of 32 left-padded rows of up to 95 tokens (the second turn's shape). */
function prefillMs(v: Version): number {
  const [rows, width] = [32, 95];
  const ids = Int32Array.from({ length: rows * width }, (_, i) => (i * 7919) % 2000);
  const mask = Int32Array.from({ length: rows * width }, (_, i) => (i % width < ((i / width) | 0) % 40 ? 0 : 1));
  const cache = new v.Cache();
  try {
    const t0 = performance.now();
    const logits = tf.tidy(() => v.model.forward(tf.tensor2d(ids, [rows, width], "int32"), {
      attentionMask: tf.tensor2d(mask, [rows, width], "int32"), kvCache: cache as KVCache, lastPositionOnly: true,
    }));
    logits.dataSync();
    logits.dispose();
    return performance.now() - t0;
  } finally {
    cache.dispose();
  }
}

/** CPU ms per sampled token (this thread, other threads) replaying the round's requests in `parts` pieces each. */
async function rolloutCpu(v: Version, parts: number): Promise<{ self: number; others: number; tokens: number }> {
  const before = threadCpu();
  let tokens = 0;
  for (const request of requests) {
    const size = Math.ceil(request.promptIds.length / parts);
    for (let a = 0; a < request.promptIds.length; a += size) {
      const results = await v.sample({ ...request, promptIds: request.promptIds.slice(a, a + size), rowSeeds: request.rowSeeds.slice(a, a + size) });
      tokens += results.reduce((n, r) => n + r.tokenIds.length, 0);
    }
  }
  const after = threadCpu();
  return { self: (1000 * (after.self - before.self)) / tokens, others: (1000 * (after.others - before.others)) / tokens, tokens };
}

const ROWS = [1, 8, 16, 32];
type Figures = Record<string, number[]>;
const figures = versions.map(() => ({} as Figures));
const record = (k: number, key: string, value: number) => (figures[k][key] ??= []).push(value);

const loadBefore = uptime();
for (const v of versions) await rolloutCpu(v, 1); // warm-up
for (let r = 0; r < reps; r++) {
  const order = r % 2 === 0 ? versions.map((_, k) => k) : versions.map((_, k) => k).reverse();
  for (const k of order) {
    const v = versions[k];
    for (const rows of ROWS) record(k, `step B=${rows} (ms)`, stepMs(v, rows));
    record(k, "prefill 32x95 (ms)", prefillMs(v));
    for (const parts of [1, 2]) {
      const cpu = await rolloutCpu(v, parts);
      record(k, `rollout ${parts === 1 ? "whole" : "halves"}: this thread (CPU ms/token)`, cpu.self);
      record(k, `rollout ${parts === 1 ? "whole" : "halves"}: other threads (CPU ms/token)`, cpu.others);
    }
  }
  console.log(`rep ${r + 1}/${reps} done`);
}
const loadAfter = uptime();

const summary = versions.map((v, k) => ({ version: v.name, medians: Object.fromEntries(Object.entries(figures[k]).map(([key, xs]) => [key, median(xs)])) }));
const keys = Object.keys(figures[0]);
const width = Math.max(...keys.map((key) => key.length));
console.log(`\n${"".padEnd(width)}  ${versions.map((v) => v.name.slice(0, 24).padStart(24)).join("  ")}`);
for (const key of keys) console.log(`${key.padEnd(width)}  ${summary.map((s) => s.medians[key].toFixed(3).padStart(24)).join("  ")}`);
console.log(`rollout requests: ${requests.map((r) => `${r.promptIds.length} rows`).join(", ")}; ${reps} interleaved reps; medians`);
console.log(`uptime before: ${loadBefore}`);
console.log(`uptime after:  ${loadAfter}`);
const out = path.join("bench", "results", "decode.json");
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify({ reps, uptimeBefore: loadBefore, uptimeAfter: loadAfter, requests: requests.map((r) => r.promptIds.length), summary, figures: versions.map((v, k) => ({ version: v.name, ...figures[k] })) }, null, 2)}\n`);
console.log(`wrote ${out}`);
