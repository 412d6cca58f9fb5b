// Distributed rollout benchmark (`npm run bench:distributed`): rollout throughput (sampled tokens/s)
// of the quick-start agent (builtin:tiny-chat) through a DistributedTrainer with 1 and with 2 worker
// threads, measured in the same run, interleaved round by round (the order alternates), so load from
// other processes hits both alike. Prints `uptime` before and after, the per-round figures, the
// medians and the 2-vs-1 speed-up; writes bench/results/distributed.json. "coordinating thread busy"
// is the main thread's event-loop active time (tokenizing, environments, rewards, joining results):
// the part of a rollout that more workers do not shorten. CPU seconds (all threads of the process)
// per round show whether 2 workers do extra work, and how many cores the machine actually gave.
// On Linux it also splits each round's CPU by thread (from /proc): the coordinating thread, each pool's
// worker threads (the threads that appeared while that pool started) and the rest (V8's GC and
// compiler helpers, libuv), so "cores obtained" can be read as who used them.
// Both pools play the same episodes with the same seed each round, so a round samples the same tokens
// with 1 and with 2 workers: the headline speed-up is the median over rounds of the two times' ratio
// (the ratio of the two median throughputs is printed too). Each pool first plays --warmup rounds
// that are not measured (JIT and wasm compilation in fresh worker threads made the first rounds of
// 2 workers 15-20% slower).
// The host's speed swings within seconds (per-round ratios of one run span 1.0-2.4×), so one run's
// median carries noise: the 90% interval of that median, from resampling the per-round ratios
// (bootstrap, 2000 resamples, seeded), is printed beside it.
// Options: --rounds N (default 20), --warmup N (default 2), --episodes N per round (default 32),
// --max-new-tokens N (default 48).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { EXAMPLES } from "../examples/index.js";
import { runEpisodes } from "../src/core/episode.js";
import { Rng } from "../src/core/rng.js";
import { DistributedTrainer } from "../src/training/distributed/trainer.js";
import { intArgument, median } from "./lib/args.js";


const rounds = intArgument("--rounds", 20);
const warmup = intArgument("--warmup", 2);
const episodes = intArgument("--episodes", 32);
const maxNewTokens = intArgument("--max-new-tokens", 48);
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();

/** CPU seconds (user + system) of every thread of this process, by thread id; empty off Linux. */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>();
  if (!existsSync("/proc/self/task")) return out;
  const tick = 100; // USER_HZ: /proc reports CPU times in 1/100 s on Linux
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / tick); // utime, stime
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}
/** Thread ids of the worker threads of each pool (by worker count), found as the threads its setup added. */
const poolThreads = new Map<number, number[]>();

async function setup(numWorkers: number) {
  const threadsBefore = new Set(threadCpu().keys());
  const spec = EXAMPLES.quick_start.spec({ modelName: "builtin:tiny-chat" });
  spec.agent.config.maxNewTokens = maxNewTokens;
  const trainer = await DistributedTrainer.create({
    agent: spec.agent, environment: spec.environment, reward: spec.reward, numWorkers, configOverrides: { seed: 0, maxNewTokens },
  });
  poolThreads.set(numWorkers, [...threadCpu().keys()].filter((tid) => !threadsBefore.has(tid)));
  const scenarios = spec.environment.scenarios();
  const plays = Array.from({ length: episodes }, (_, i) => scenarios[i % scenarios.length]);
  return {
    numWorkers, trainer,
    /** One round: all episodes concurrently (their turns batch), returns sampled tokens per second. */
    async round(): Promise<{ tokens: number; seconds: number; mainBusyS: number; cpuS: number; threads: ThreadSplit }> {
      const threads0 = threadCpu();
      const cpu = process.cpuUsage();
      const elu = performance.eventLoopUtilization();
      const t0 = performance.now();
      const trajectories = await runEpisodes(spec.agent, spec.environment, plays, { reward: spec.reward });
      const seconds = (performance.now() - t0) / 1000;
      const mainBusyS = performance.eventLoopUtilization(elu).active / 1000;
      const used = process.cpuUsage(cpu);
      const cpuS = (used.user + used.system) / 1e6; // all threads of this process
      const tokens = trajectories.flatMap((t) => t.assistantTurns).reduce((n, turn) => n + (turn.generation?.tokenIds.length ?? 0), 0);
      return { tokens, seconds, mainBusyS, cpuS, threads: splitByThread(threads0, threadCpu(), numWorkers) };
    },
  };
}

/** A round's CPU seconds by thread: coordinating thread, this pool's workers, everything else. */
interface ThreadSplit { mainS: number; workersS: number[]; otherS: number }

function splitByThread(before: Map<number, number>, after: Map<number, number>, numWorkers: number): ThreadSplit {
  const used = (tid: number) => (after.get(tid) ?? 0) - (before.get(tid) ?? 0);
  const workers = poolThreads.get(numWorkers) ?? [];
  const others = [...poolThreads.values()].flat();
  let otherS = 0;
  for (const tid of after.keys()) if (tid !== process.pid && !others.includes(tid)) otherS += used(tid);
  return { mainS: used(process.pid), workersS: workers.map(used), otherS };
}

const loadBefore = uptime();
const pools = [await setup(1), await setup(2)];
for (const p of pools) await p.round(); // warm-up (wasm compile, first batches)
for (let r = 0; r < warmup; r++) for (const p of pools) await p.round();
const perRound: Array<{ round: number; numWorkers: number; tokens: number; seconds: number; tokensPerS: number; mainBusyS: number; cpuS: number; coresUsed: number; threads: ThreadSplit }> = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? pools : [...pools].reverse();
  for (const p of order) {
    const { tokens, seconds, mainBusyS, cpuS, threads } = await p.round();
    perRound.push({ round: r, numWorkers: p.numWorkers, tokens, seconds, tokensPerS: tokens / seconds, mainBusyS, cpuS, coresUsed: cpuS / seconds, threads });
    console.log(`round ${r} workers=${p.numWorkers}: ${tokens} tokens in ${seconds.toFixed(2)} s = ${(tokens / seconds).toFixed(0)} tok/s` +
      ` (coordinating thread busy ${mainBusyS.toFixed(2)} s; CPU ${cpuS.toFixed(1)} s = ${(cpuS / seconds).toFixed(2)} cores:` +
      ` main ${threads.mainS.toFixed(2)}, workers ${threads.workersS.map((w) => w.toFixed(2)).join("+")}, other threads ${threads.otherS.toFixed(2)} s)`);
  }
}
const loadAfter = uptime();
for (const p of pools) await p.trainer.close();
const tps = (n: number) => median(perRound.filter((x) => x.numWorkers === n).map((x) => x.tokensPerS));
const ratioOfMedians = tps(2) / tps(1);
// Per round, 1 worker's time over 2 workers' (the same episodes and tokens in both).
const roundRatios = [...new Set(perRound.map((x) => x.round))].map((r) => {
  const time = (n: number) => perRound.find((x) => x.round === r && x.numWorkers === n)?.seconds ?? NaN;
  return time(1) / time(2);
});
const speedup = median(roundRatios);
/** 90% bootstrap interval of the median of `xs` (seeded resampling, so a run's printout is reproducible from its rounds). */
function medianInterval(xs: number[], resamples = 2000): [number, number] {
  const rng = Rng.fromSeed(12345);
  const medians = Array.from({ length: resamples }, () => median(xs.map(() => xs[rng.int(xs.length)]))).sort((a, b) => a - b);
  return [medians[Math.floor(0.05 * resamples)], medians[Math.floor(0.95 * resamples)]];
}
const speedupInterval = medianInterval(roundRatios);
// Work per token (CPU-seconds, all threads): equal for 1 and 2 workers means splitting costs nothing
// extra, and the wall-clock speed-up is then the number of cores the machine gave the run.
const cpuPerToken = (n: number) => median(perRound.filter((x) => x.numWorkers === n).map((x) => x.cpuS / x.tokens));
const cores = (n: number) => median(perRound.filter((x) => x.numWorkers === n).map((x) => x.coresUsed));
// Where the CPU went, per token (ms): coordinating thread, worker threads (all), other threads.
const threadMsPerToken = (n: number) => {
  const rounds = perRound.filter((x) => x.numWorkers === n);
  const per = (f: (x: (typeof rounds)[number]) => number) => 1000 * median(rounds.map((x) => f(x) / x.tokens));
  return { main: per((x) => x.threads.mainS), workers: per((x) => x.threads.workersS.reduce((a, b) => a + b, 0)), other: per((x) => x.threads.otherS) };
};
const summary = {
  what: "rollout throughput, quick_start agent on builtin:tiny-chat, DistributedTrainer worker threads",
  episodesPerRound: episodes, maxNewTokens, rounds, warmupRounds: warmup,
  medianTokensPerS: { workers1: tps(1), workers2: tps(2) }, speedup, speedupInterval90: speedupInterval, ratioOfMedians, roundRatios,
  medianCpuMsPerToken: { workers1: 1000 * cpuPerToken(1), workers2: 1000 * cpuPerToken(2) },
  medianCoresUsed: { workers1: cores(1), workers2: cores(2) },
  medianThreadCpuMsPerToken: { workers1: threadMsPerToken(1), workers2: threadMsPerToken(2) },
  uptimeBefore: loadBefore, uptimeAfter: loadAfter, perRound,
};
console.log(`uptime before: ${loadBefore}`);
console.log(`uptime after:  ${loadAfter}`);
console.log(`CPU per token: 1 worker ${(1000 * cpuPerToken(1)).toFixed(2)} ms, 2 workers ${(1000 * cpuPerToken(2)).toFixed(2)} ms; ` +
  `cores obtained: ${cores(1).toFixed(2)} vs ${cores(2).toFixed(2)}`);
const threadText = (n: number) => { const t = threadMsPerToken(n); return `main ${t.main.toFixed(2)} + workers ${t.workers.toFixed(2)} + other ${t.other.toFixed(2)}`; };
console.log(`CPU ms per token by thread: 1 worker ${threadText(1)}; 2 workers ${threadText(2)}`);
console.log(`per-round speed-ups: ${roundRatios.map((x) => x.toFixed(2)).join(" ")}`);
console.log(`median: 1 worker ${tps(1).toFixed(0)} tok/s, 2 workers ${tps(2).toFixed(0)} tok/s (ratio ${ratioOfMedians.toFixed(2)}x); ` +
  `median per-round speed-up ${speedup.toFixed(2)}x, 90% interval ${speedupInterval.map((x) => x.toFixed(2)).join("-")}x (target >= 1.6x)`);
const out = path.join("bench", "results", "distributed.json");
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}`);
