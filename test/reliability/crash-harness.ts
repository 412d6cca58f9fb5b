/**
 * The crash test: real training processes (tiny model, a checkpoint every step) are killed with
 * SIGKILL at seeded random moments, resumed from their run folder in a fresh process and run to the
 * end; the result must be bit-identical to an uninterrupted run.
 *
 * Two kinds of kill moment, chosen per trial by the seeded RNG:
 * - `anywhere`: a random delay (up to one step's duration) after checkpoint k completed, so the
 *   kill lands in a rollout, the optimisation, or the next save.
 * - `mid-save`: a random delay (0–15 ms) after the temporary folder of checkpoint k+1 appears, so
 *   the kill lands inside the atomic write (files, fsyncs, rename) or the latest.json update.
 *
 * Used by `crash.test.ts` (3 trials, in `npm test`) and `crash-trials.ts` (`npm run test:crash`, 20).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../../src/core/rng.js";
import { crashRun } from "./fixtures/crash-run.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, "fixtures", "train-child.ts");
const LEFTOVER = /\.(tmp|old|deleting)-\d+-[0-9a-f]+$/;

/** Options of {@link runCrashTrials}. */
export interface CrashTrialOptions {
  /** Number of kill-and-resume trials. */
  trials: number;
  /** Seed of the kill moments. */
  seed: number;
  /** Steps of every run (≥ 3). */
  steps: number;
  /** The tiny model folder. */
  modelDir: string;
  /** Scratch folder for the run folders. */
  workDir: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What a finished run left behind, in the form the comparison uses. */
export interface RunArtifacts {
  /** SHA-256 of each weight file of the final checkpoint (from its checksums.json). */
  finalChecksums: Record<string, string>;
  /** metrics.jsonl, parsed, without the `time/…` entries (wall-clock times differ between runs). */
  metrics: Record<string, number>[];
  /** trajectories.jsonl as text (the logged groups of every step). */
  trajectories: string;
  /** latest.json's checkpoint name. */
  latest: string;
  /** checkpoint-<step> folders at the end. */
  checkpoints: string[];
  /** Leftovers of interrupted writes at the end (must be none). */
  leftovers: string[];
}

/** One kill-and-resume trial. */
export interface TrialResult {
  trial: number;
  mode: "anywhere" | "mid-save";
  /** The kill was armed after this checkpoint completed. */
  afterCheckpoint: number;
  delayMs: number;
  /** False when the run finished before the kill (the trial then proves nothing and fails). */
  killed: boolean;
  /** The run folder right after the kill. */
  atKill: { latest?: string; checkpoints: string[]; leftovers: string[] };
  /** Differences from the uninterrupted run (empty = identical). */
  differences: string[];
}

/** Starts a training child (one node process: tsx is loaded in-process, so a SIGKILL hits it). */
function startChild(modelDir: string, runDir: string, mode: "fresh" | "resume", steps: number): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", CHILD, modelDir, runDir, mode, String(steps)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Calls `onLine` for each stdout line; resolves with the exit code (null when killed) and stderr. */
function supervise(child: ChildProcess, onLine: (line: string) => void): Promise<{ code: number | null; stderr: string }> {
  let buffered = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

/** Runs a child to its end. */
async function runToEnd(modelDir: string, runDir: string, mode: "fresh" | "resume", steps: number): Promise<void> {
  const { code, stderr } = await supervise(startChild(modelDir, runDir, mode, steps), () => undefined);
  if (code !== 0) throw new Error(`${mode} run in ${runDir} exited with ${code}:\n${stderr}`);
}

async function folderState(runDir: string): Promise<TrialResult["atKill"]> {
  const names = await readdir(runDir).catch(() => [] as string[]);
  const latestText = await readFile(path.join(runDir, "latest.json"), "utf8").catch(() => undefined);
  return {
    latest: latestText === undefined ? undefined : (JSON.parse(latestText) as { checkpoint: string }).checkpoint,
    checkpoints: names.filter((n) => /^checkpoint-\d+$/.test(n)).sort(),
    leftovers: names.filter((n) => LEFTOVER.test(n)).sort(),
  };
}

/** Reads the artifacts of a finished run folder. */
export async function readArtifacts(runDir: string): Promise<RunArtifacts> {
  const state = await folderState(runDir);
  if (state.latest === undefined) throw new Error(`${runDir} has no latest.json`);
  const manifest = JSON.parse(await readFile(path.join(runDir, state.latest, "checksums.json"), "utf8")) as Record<string, string>;
  const finalChecksums = Object.fromEntries(Object.entries(manifest).filter(([f]) => f.endsWith(".safetensors")));
  const lines = (await readFile(path.join(runDir, "metrics.jsonl"), "utf8")).split("\n").filter(Boolean);
  const metrics = lines.map((line) => Object.fromEntries(
    Object.entries(JSON.parse(line) as Record<string, number>).filter(([k]) => !k.startsWith("time/"))));
  const trajectories = await readFile(path.join(runDir, "trajectories.jsonl"), "utf8");
  return { finalChecksums, metrics, trajectories, latest: state.latest, checkpoints: state.checkpoints, leftovers: state.leftovers };
}

/** What differs between an interrupted-and-resumed run and the uninterrupted one. */
export function compareArtifacts(reference: RunArtifacts, resumed: RunArtifacts): string[] {
  const out: string[] = [];
  for (const [file, hash] of Object.entries(reference.finalChecksums)) {
    if (resumed.finalChecksums[file] !== hash) out.push(`${file} differs`);
  }
  if (JSON.stringify(resumed.metrics) !== JSON.stringify(reference.metrics)) {
    out.push(`metrics.jsonl differs (${resumed.metrics.length} vs ${reference.metrics.length} lines)`);
  }
  if (resumed.trajectories !== reference.trajectories) {
    const lines = (text: string) => text.split("\n").filter(Boolean).length;
    out.push(`trajectories.jsonl differs (${lines(resumed.trajectories)} vs ${lines(reference.trajectories)} lines)`);
  }
  if (resumed.latest !== reference.latest) out.push(`latest.json names ${resumed.latest}, not ${reference.latest}`);
  if (JSON.stringify(resumed.checkpoints) !== JSON.stringify(reference.checkpoints)) {
    out.push(`checkpoint folders ${resumed.checkpoints.join(",")} instead of ${reference.checkpoints.join(",")}`);
  }
  if (resumed.leftovers.length > 0) out.push(`leftovers remain: ${resumed.leftovers.join(", ")}`);
  return out;
}

/** Runs one trial: start, kill at the chosen moment, inspect, resume to the end, compare. */
async function runTrial(
  options: CrashTrialOptions, trial: number, rng: Rng, stepMs: number, reference: RunArtifacts,
): Promise<TrialResult> {
  const { modelDir, steps } = options;
  const runDir = path.join(options.workDir, `trial-${trial}`);
  await mkdir(runDir, { recursive: true });
  const mode = trial % 2 === 1 ? "anywhere" : "mid-save"; // both kinds, alternating
  const afterCheckpoint = 1 + rng.int(steps - 2); // 1 … steps-2: the kill lands before the run ends
  const delayMs = Math.round(mode === "anywhere" ? rng.next() * stepMs : rng.next() * 15);

  const child = startChild(modelDir, runDir, "fresh", steps);
  let killed = false;
  let watcher: FSWatcher | undefined;
  const kill = () => {
    watcher?.close();
    setTimeout(() => { killed = child.kill("SIGKILL"); }, delayMs);
  };
  const nextTmp = `checkpoint-${afterCheckpoint + 1}.tmp-`;
  let armed = false;
  const { code } = await supervise(child, (line) => {
    if (line === `checkpoint ${afterCheckpoint}`) {
      if (mode === "anywhere") { armed = true; kill(); return; }
      watcher = watch(runDir, (_event, name) => {
        if (name?.startsWith(nextTmp) && !armed) { armed = true; kill(); }
      });
    } else if (line === `checkpoint ${afterCheckpoint + 1}` && !armed) {
      armed = true; // the watcher missed the temporary folder: kill right after the save instead
      kill();
    }
  });
  watcher?.close();
  killed = killed && code === null;
  const atKill = await folderState(runDir);

  await runToEnd(modelDir, runDir, "resume", steps);
  const differences = compareArtifacts(reference, await readArtifacts(runDir));
  if (!killed) differences.push("the run ended before the kill (no crash was tested)");
  return { trial, mode, afterCheckpoint, delayMs, killed, atKill, differences };
}

/**
 * Runs the uninterrupted reference (in this process: same code and backend as the children, one
 * process start saved), then `trials` kill-and-resume trials, sequentially. Returns the reference
 * artifacts and each trial's result.
 */
export async function runCrashTrials(options: CrashTrialOptions): Promise<{ reference: RunArtifacts; trials: TrialResult[]; stepMs: number }> {
  if (options.steps < 3) throw new Error("runCrashTrials needs steps >= 3");
  const log = options.log ?? (() => undefined);
  const referenceDir = path.join(options.workDir, "reference");
  await mkdir(referenceDir, { recursive: true });
  // One step's duration (median gap between checkpoints) bounds the "anywhere" delays.
  const times: number[] = [];
  await crashRun(options.modelDir, referenceDir, "fresh", options.steps, () => times.push(performance.now()));
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  const stepMs = Math.max(20, gaps[Math.floor(gaps.length / 2)] ?? 0);
  const reference = await readArtifacts(referenceDir);
  log(`reference: ${options.steps} steps, ~${stepMs.toFixed(0)} ms per step (checkpoint included)`);
  const rng = Rng.fromSeed(options.seed);
  const trials: TrialResult[] = [];
  for (let trial = 1; trial <= options.trials; trial++) {
    const result = await runTrial(options, trial, rng, stepMs, reference);
    trials.push(result);
    log(`trial ${trial}: ${result.mode} kill ${result.delayMs} ms after checkpoint ${result.afterCheckpoint}; ` +
      `on disk: latest=${result.atKill.latest ?? "none"} [${result.atKill.checkpoints.join(",")}]` +
      `${result.atKill.leftovers.length ? ` leftovers [${result.atKill.leftovers.join(",")}]` : ""} -> ` +
      `${result.differences.length === 0 ? "resumed bit-identically" : `DIFFERS: ${result.differences.join("; ")}`}`);
  }
  return { reference, trials, stepMs };
}
