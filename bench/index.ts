// `npm run bench`: our tfjs model vs PyTorch on this machine, in one run, plus a GRPO step breakdown.
//
//   npm run bench                      # the ratio table (a few minutes)
//   npm run bench -- --reps 5          # more A/B alternations (default 3)
//   npm run bench -- --scaling         # the scaling grid (width, context, group size) instead
//   npm run bench -- --no-grpo         # skip the quick-start GRPO step
//   npm run bench -- --stock           # also time ours with tfjs's stock wasm kernels (before/after)
//
// Measures (a) train-step throughput (forward + backward + AdamW, tokens/s), (b) KV-cache sampling
// throughput (tokens/s, batch = numGenerations), for the built-in model's config and the table
// config; (c) the same in PyTorch (bench/torch_reference.py, BENCH threads 2 and, for reference, 1);
// (d) the sgemm ceiling (numpy, same OpenBLAS); (e) one quick-start GRPO step by phase.
// Fairness under load: every workload alternates ours / PyTorch blocks (order reversed every other
// repetition); ratios are the median of the per-repetition ratios, with their range.
// Writes bench/results/<timestamp>.json.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/model/backend.js";
import { setWasmKernelsEnabled } from "../src/model/wasm-kernels.js";
import { modelConfigFromHF, type ModelConfig } from "../src/model/config.js";
import { resolveGRPOConfig } from "../src/training/config.js";
import { measureGrpoStep, type GrpoStepResult } from "./lib/grpo-step.js";
import { profileSteps, type StepProfile } from "./lib/profile.js";
import { disposeModels, oursSample, oursSgemm, oursTrain, sampleFlops, trainFlops } from "./lib/ours.js";
import { missingSetup, TorchReference, type TorchInfo } from "./lib/torch.js";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------------------------------------
// Workloads

/** One model config with its train and sampling shapes. */
interface Workload {
  name: string;
  config: ModelConfig;
  train: { batch: number; steps: number };
  sample: { batch: number; prompt: number; newTokens: number };
}

/** The table: V=512, T=64, d=128, 4 heads, 2 layers, batch 8×64. */
const TABLE_CONFIG: ModelConfig = {
  vocabSize: 512, nPositions: 64, nEmbd: 128, nHead: 4, nLayer: 2, nInner: 512, layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};

async function workloads(): Promise<Workload[]> {
  const builtin = modelConfigFromHF(JSON.parse(await readFile(path.join(ROOT, "models/tiny-chat/config.json"), "utf8")));
  const groupSize = resolveGRPOConfig({ profile: "balanced" }).numGenerations;
  return [
    { name: "table", config: TABLE_CONFIG, train: { batch: 8, steps: 64 }, sample: { batch: 8, prompt: 1, newTokens: 63 } },
    // The quick start samples 40 new tokens per turn after a prompt of ~60–120 tokens.
    { name: "tiny-chat", config: builtin, train: { batch: 8, steps: 128 }, sample: { batch: groupSize, prompt: 64, newTokens: 40 } },
  ];
}

// ---------------------------------------------------------------------------------------------
// Statistics

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const median = (v: number[]) => quantile(v, 0.5);

/** Per side: every iteration's time; per repetition: that block's median. */
interface Side {
  label: string;
  times: number[];
  blocks: number[];
}

interface Measured {
  workload: string;
  kind: "train" | "sample";
  tokens: number;
  flops: number;
  sides: Side[];
}

interface Summary {
  workload: string;
  kind: "train" | "sample";
  shape: string;
  side: string;
  medianMs: number;
  p25Ms: number;
  p75Ms: number;
  tokensPerS: number;
  /** Model FLOPs / median time / the sgemm ceiling (best numpy rate). */
  mfu: number;
  /** Ours / this side, median over repetitions, and the range. */
  ratio?: { median: number; min: number; max: number };
}

function summarise(m: Measured, shape: string, ceilingGflops: number): Summary[] {
  const ours = m.sides[0];
  return m.sides.map((side) => {
    const med = median(side.times);
    const ratios = side === ours ? undefined : side.blocks.map((b, i) => b / ours.blocks[i]); // time theirs / time ours
    return {
      workload: m.workload, kind: m.kind, shape, side: side.label,
      medianMs: med, p25Ms: quantile(side.times, 0.25), p75Ms: quantile(side.times, 0.75),
      tokensPerS: m.tokens / (med / 1000),
      mfu: m.flops / (med / 1000) / (ceilingGflops * 1e9),
      ratio: ratios && { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Alternating measurement

type Runner = (iters: number, warmup: number) => Promise<number[]>;

/** Warms every side up once, then runs `reps` rounds of one block per side, alternating the order. */
async function alternate(sides: { label: string; run: Runner }[], reps: number, iters: number, warmup: number): Promise<Side[]> {
  const out = sides.map((s) => ({ label: s.label, times: [] as number[], blocks: [] as number[] }));
  for (const s of sides) await s.run(0, warmup);
  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? sides.map((_, i) => i) : sides.map((_, i) => sides.length - 1 - i);
    for (const i of order) {
      const times = await sides[i].run(iters, 0);
      out[i].times.push(...times);
      out[i].blocks.push(median(times));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Machine

interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  tfjsBackend: string;
  backendReason: string;
  torch?: TorchInfo;
  loadBefore: number[];
  loadAfter?: number[];
}

function load(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

// ---------------------------------------------------------------------------------------------
// Printing

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(headers), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

function ratioTable(summaries: Summary[]): string {
  return table(
    ["workload", "what", "shape", "impl", "median ms (p25–p75)", "tokens/s", "MFU", "ours ÷ it (range)"],
    summaries.map((s) => [
      s.workload, s.kind === "train" ? "train step" : "KV sampling", s.shape, s.side,
      `${f1(s.medianMs)} (${f1(s.p25Ms)}–${f1(s.p75Ms)})`, f0(s.tokensPerS), pct(s.mfu),
      s.ratio ? `${f2(s.ratio.median)}× (${f2(s.ratio.min)}–${f2(s.ratio.max)})` : "—",
    ]),
  );
}

function grpoTable(g: GrpoStepResult): string {
  const m = g.median;
  const rows: [string, number][] = [
    ["rollout (sampling, env, agent)", m.rollout], ["  of which model forward", m.rolloutModel], ["reward", m.reward],
    ["log-prob (loss forward)", m.logprob], ["backward", m.backward], ["optimizer (AdamW)", m.optimizer],
    ["bookkeeping (batching, clip, metrics)", m.bookkeeping], ["total", m.total],
  ];
  return table(["phase", "seconds", "share"], rows.map(([name, s]) => [name, s.toFixed(3), pct(s / m.total)]));
}

function profileTable(p: StepProfile): string {
  const rows = p.byKernel.slice(0, 8).map((k) => [k.name, String(k.calls), f1(k.ms), pct(k.ms / p.kernelMs)]);
  const head = `${p.what}: wall ${f1(p.wallMs)} ms (median), kernels ${f1(p.kernelMs)} ms in ${p.kernels} calls ` +
    `(${pct(Math.min(1, p.kernelMs / p.wallMs))} of the wall time; the rest is JavaScript: tfjs's engine and ours)`;
  const shapes = p.byShape.slice(0, 5).map((s) => `    ${f1(s.ms).padStart(7)} ms  ${s.calls}×  ${s.key}`).join("\n");
  return `${head}\n${table(["kernel", "calls", "ms", "share"], rows)}\n  largest by shape:\n${shapes}`;
}

// ---------------------------------------------------------------------------------------------
// Main

interface Args {
  /** Also measure ours with the stock wasm kernels (before/after of src/model/wasm-kernels.ts). */
  stock: boolean;
  reps: number;
  scaling: boolean;
  grpo: boolean;
  grpoSteps: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { stock: false, reps: 3, scaling: false, grpo: true, grpoSteps: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--reps") args.reps = Math.max(1, Number(argv[++i]));
    else if (a === "--grpo-steps") args.grpoSteps = Math.max(1, Number(argv[++i]));
    else if (a === "--scaling") args.scaling = true;
    else if (a === "--no-grpo") args.grpo = false;
    else if (a === "--stock") args.stock = true;
    else throw new Error(`Unknown option ${a}. Options: --reps N, --grpo-steps N, --scaling, --no-grpo, --stock`);
  }
  return args;
}

/** Runs `run` with our faster wasm kernels switched off (the stock tfjs-backend-wasm kernels). */
async function withStockKernels<T>(run: () => Promise<T>): Promise<T> {
  setWasmKernelsEnabled(false);
  try {
    return await run();
  } finally {
    setWasmKernelsEnabled(true);
  }
}

async function measureWorkload(
  w: Workload, torch: TorchReference[], reps: number, iters: { train: number; sample: number }, stock = false,
): Promise<{ train: Measured; sample: Measured }> {
  const { batch, steps } = w.train;
  const s = w.sample;
  const stockTrain: { label: string; run: Runner }[] = stock
    ? [{ label: "ours, stock kernels", run: (n, wu) => withStockKernels(() => oursTrain(w.config, batch, steps, n, wu)) }]
    : [];
  const stockSample: { label: string; run: Runner }[] = stock
    ? [{ label: "ours, stock kernels", run: (n, wu) => withStockKernels(() => oursSample(w.config, s.batch, s.prompt, s.newTokens, n, wu)) }]
    : [];
  const trainSides = alternate([
    { label: "ours (tfjs)", run: (n, wu) => oursTrain(w.config, batch, steps, n, wu) },
    ...stockTrain,
    ...torch.map((t) => ({ label: `PyTorch ${t.threads}T`, run: (n: number, wu: number) => t.train(w.config, batch, steps, n, wu) })),
  ], reps, iters.train, 2);
  const train: Measured = { workload: w.name, kind: "train", tokens: batch * steps, flops: trainFlops(w.config, batch, steps), sides: await trainSides };
  const sampleSides = await alternate([
    { label: "ours (tfjs)", run: (n, wu) => oursSample(w.config, s.batch, s.prompt, s.newTokens, n, wu) },
    ...stockSample,
    ...torch.map((t) => ({ label: `PyTorch ${t.threads}T`, run: (n: number, wu: number) => t.sample(w.config, s.batch, s.prompt, s.newTokens, n, wu) })),
  ], reps, iters.sample, 1);
  const sample: Measured = {
    workload: w.name, kind: "sample", tokens: s.batch * s.newTokens, flops: sampleFlops(w.config, s.batch, s.prompt, s.newTokens), sides: sampleSides,
  };
  return { train, sample };
}

function describe(c: ModelConfig): string {
  return `V=${c.vocabSize} ctx=${c.nPositions} d=${c.nEmbd} heads=${c.nHead} layers=${c.nLayer}`;
}

/** The scaling grid: width, context and group size, each varied alone from the table config. */
function scalingPoints(): Workload[] {
  const base = TABLE_CONFIG;
  const points: Workload[] = [];
  for (const d of [64, 128, 256, 512]) {
    const config = { ...base, nEmbd: d, nHead: Math.max(1, d / 32), nInner: 4 * d };
    points.push({ name: `width d=${d}`, config, train: { batch: 8, steps: 64 }, sample: { batch: 8, prompt: 1, newTokens: 63 } });
  }
  for (const ctx of [64, 128, 256, 512]) {
    const config = { ...base, nPositions: ctx };
    // Sampling: 32 new tokens after a prompt that fills the rest of the window (decoding at long context).
    points.push({ name: `context ${ctx}`, config, train: { batch: 8, steps: ctx }, sample: { batch: 8, prompt: ctx - 32, newTokens: 32 } });
  }
  for (const g of [4, 8, 16, 32]) {
    points.push({ name: `group ${g}`, config: base, train: { batch: g, steps: 64 }, sample: { batch: g, prompt: 1, newTokens: 63 } });
  }
  return points;
}

/** Measured workloads and how to label their shapes, summarised once the ceiling is known. */
type Pending = { m: Measured; shape: string }[];

async function measureAll(points: Workload[], torch: TorchReference[], reps: number, iters: { train: number; sample: number }, stock: boolean, long: boolean): Promise<Pending> {
  const pending: Pending = [];
  for (const p of points) {
    console.log(`${p.name}: ${describe(p.config)}; ${reps} alternation(s)…`);
    const m = await measureWorkload(p, torch, reps, iters, stock);
    const prefix = long ? `${describe(p.config)}, ` : "";
    pending.push(
      { m: m.train, shape: `${prefix}${p.train.batch}×${p.train.steps}` },
      { m: m.sample, shape: `${prefix}batch ${p.sample.batch}, ${p.sample.prompt}+${p.sample.newTokens}` },
    );
    disposeModels();
  }
  return pending;
}

/** sgemm rates (GFLOP/s) of ours and of numpy/torch at each thread count. */
async function measureGemm(torch: TorchReference[]): Promise<Record<string, number>> {
  const gemm: Record<string, number> = { oursTfjs: await oursSgemm(1024, 5) };
  for (const t of torch) {
    const g = await t.sgemm(1024, 5);
    gemm[`numpy${t.threads}T`] = g.numpyGflops;
    gemm[`torch${t.threads}T`] = g.torchGflops;
  }
  return gemm;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const machine: Machine = {
    cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, tfjsBackend: "", backendReason: "", loadBefore: load(),
  };
  const backend = await selectBackend();
  machine.tfjsBackend = backend.name;
  machine.backendReason = backend.reason;
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}`);
  console.log(`load average before (1/5/15 min): ${machine.loadBefore.join(" / ")}`);
  console.log(`ours: tfjs ${tf.version.tfjs} on ${backend.name} (${backend.reason})`);

  const setup = missingSetup();
  let torch: TorchReference[] = [];
  if (setup.packages.length > 0) {
    console.log(`\nPyTorch side skipped: missing Debian packages ${setup.packages.join(", ")}.\nInstall them with:\n  ${setup.command}\n`);
  } else {
    torch = [new TorchReference(2), new TorchReference(1)];
    machine.torch = await torch[0].hello();
    console.log(`PyTorch ${machine.torch.torch} (python ${machine.torch.python}, numpy ${machine.torch.numpy}), BLAS: ${machine.torch.blas.join(", ")}`);
  }

  // (d) the sgemm ceiling, measured before and after the workloads: the load changes during a run.
  const gemmBefore = await measureGemm(torch);
  const gemmText = (g: Record<string, number>) => Object.entries(g).map(([k, v]) => `${k} ${f1(v)}`).join(", ");
  console.log(`sgemm 1024³ (best of 5), GFLOP/s: ${gemmText(gemmBefore)}`);

  const results: Record<string, unknown> = { date: new Date().toISOString(), machine, args };
  let pending: Pending = [];
  try {
    if (args.scaling) {
      console.log("\nScaling grid (1 alternation per point; train 2 iterations, sampling 1):");
      pending = await measureAll(scalingPoints(), torch, 1, { train: 2, sample: 1 }, false, true);
    } else {
      // (e) first, so that the peak RSS is the quick start's (plus this harness).
      if (args.grpo) {
        console.log(`\nQuick-start GRPO step (builtin:tiny-chat, balanced; 1 warm-up + ${args.grpoSteps} measured, medians):`);
        const grpo = await measureGrpoStep(args.grpoSteps);
        console.log(grpoTable(grpo));
        console.log(
          `episodes per step ${grpo.episodesPerStep}; outside model math ${pct(grpo.outsideModelShare)} of the step; ` +
            `tensors leaked per step ${grpo.tensorDeltaPerStep.join(", ")}; peak RSS ${f0(grpo.peakRssMiB)} MiB ` +
            `(wasm heap ${f0(grpo.wasmHeapMiB)} MiB, JS heap ${f0(grpo.jsHeapMiB)} MiB)`,
        );
        results.grpoStep = grpo;
      }
      console.log("");
      pending = await measureAll(await workloads(), torch, args.reps, { train: 3, sample: 1 }, args.stock, false);
      console.log("\nProfile of our side (table config; tf.profile kernel times):");
      const profiles = await profileSteps(TABLE_CONFIG, 8, 64, 32);
      for (const p of profiles) console.log(profileTable(p));
      results.profiles = profiles;
    }
    const gemmAfter = await measureGemm(torch);
    console.log(`\nsgemm 1024³ again, GFLOP/s: ${gemmText(gemmAfter)}`);
    // The machine's dense-math ceiling: the best numpy (OpenBLAS) rate seen, whichever thread count and
    // moment won (under load, 2 threads can lose to 1).
    const numpy = [gemmBefore, gemmAfter].flatMap((g) => Object.entries(g).filter(([k]) => k.startsWith("numpy")).map(([, v]) => v));
    const ceiling = numpy.length > 0 ? Math.max(...numpy) : Math.max(gemmBefore.oursTfjs, gemmAfter.oursTfjs);
    const summaries = pending.flatMap((p) => summarise(p.m, p.shape, ceiling));
    console.log(`\n${ratioTable(summaries)}`);
    console.log(
      `ours ÷ it = its time / our time (> 1: we are faster), median over alternations (min–max). ` +
        `MFU = model FLOPs / median time / ${f1(ceiling)} GFLOP/s (best numpy sgemm of the run).`,
    );
    Object.assign(results, { gemm: { before: gemmBefore, after: gemmAfter }, ceilingGflops: ceiling, [args.scaling ? "scaling" : "summaries"]: summaries });
  } finally {
    for (const t of torch) t.close();
  }
  machine.loadAfter = load();
  console.log(`load average after (1/5/15 min): ${machine.loadAfter.join(" / ")}`);
  const dir = path.join(ROOT, "bench", "results");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${args.scaling ? "scaling" : "bench"}-${(results.date as string).replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exit(1);
});
