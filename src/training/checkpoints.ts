/**
 * The checkpoints of a run folder: naming, the `latest.json` pointer, rotation, and finding the
 * checkpoint to resume from (falling back past corrupt ones only when asked).
 *
 * A run folder (the trainer's `runDir`) looks like:
 * ```
 * <runDir>/metrics.jsonl        one JSON line per completed step
 * <runDir>/trajectories.jsonl   the logged trajectory groups (see runlog.ts)
 * <runDir>/checkpoint-<step>/   complete checkpoints (see checkpoint.ts), every `saveSteps` steps
 * <runDir>/latest.json          { "checkpoint": "checkpoint-<step>", "step": <step> }
 * ```
 * Order of a periodic save: the checkpoint folder is written atomically (temp dir, fsync, rename),
 * then `latest.json` is replaced atomically, then old checkpoints beyond `saveTotalLimit` are
 * removed. A crash at any point leaves `latest.json` naming a complete checkpoint; leftovers of an
 * interrupted save or removal (`*.tmp-<pid>-*`, `*.old-<pid>-*`, `*.deleting-<pid>-*`) are cleaned up
 * on the next resume or save once their process is gone.
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { GrpoError } from "../core/errors.js";
import { writeFileAtomic } from "../model/safetensors.js";
import { CheckpointError, CHECKSUMS_FILE, verifyCheckpointDir } from "./checkpoint.js";
import type { StepMetrics } from "./history.js";

/** The pointer file naming a run folder's newest complete checkpoint. */
export const LATEST_FILE = "latest.json";
/** The per-step metrics log of a run folder. */
export const METRICS_FILE = "metrics.jsonl";
/** The trainer state file every checkpoint holds. */
export const TRAINER_STATE_FILE = "trainer_state.json";
/** Files a trainer checkpoint must contain (beyond `checksums.json`). */
export const REQUIRED_CHECKPOINT_FILES = [
  TRAINER_STATE_FILE, "model/config.json", "model/model.safetensors", "optimizer.safetensors",
] as const;

const CHECKPOINT_NAME = /^checkpoint-(\d+)$/;
const LEFTOVER_NAME = /^(?:checkpoint-\d+|latest\.json|metrics\.jsonl|trajectories\.jsonl)\.(?:tmp|old|deleting)-(\d+)-[0-9a-f]+$/;

/** The folder name of the checkpoint after `step` steps: `checkpoint-<step>`. */
export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/** One checkpoint folder of a run. */
export interface CheckpointEntry {
  /** Steps completed when it was saved. */
  step: number;
  /** Its folder name, `checkpoint-<step>`. */
  name: string;
  /** Its path. */
  dir: string;
}

/** The `checkpoint-<step>` folders of `runDir`, oldest first (an absent folder has none). */
export async function listCheckpoints(runDir: string): Promise<CheckpointEntry[]> {
  const entries = await readdir(runDir, { withFileTypes: true }).catch(() => []);
  const out: CheckpointEntry[] = [];
  for (const entry of entries) {
    const match = CHECKPOINT_NAME.exec(entry.name);
    if (match && entry.isDirectory()) out.push({ step: Number(match[1]), name: entry.name, dir: path.join(runDir, entry.name) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** `latest.json`. */
interface LatestJSON {
  format: "grpo-agent-framework/latest";
  version: 1;
  checkpoint: string;
  step: number;
}

/** Points `runDir/latest.json` at `checkpoint-<step>` (atomic replace: readers see the old or the new pointer). */
export async function writeLatest(runDir: string, step: number): Promise<void> {
  const latest: LatestJSON = { format: "grpo-agent-framework/latest", version: 1, checkpoint: checkpointName(step), step };
  await writeFileAtomic(path.join(runDir, LATEST_FILE), `${JSON.stringify(latest, null, 2)}\n`);
}

/**
 * The checkpoint `runDir/latest.json` names, or undefined when there is no pointer. A pointer that
 * is not valid JSON, or names anything but a `checkpoint-<step>` folder of this run (e.g. a path
 * with `..`), is a `checkpoint_invalid` error: it is never followed.
 */
export async function readLatest(runDir: string): Promise<CheckpointEntry | undefined> {
  const file = path.join(runDir, LATEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CheckpointError(`Cannot read ${file}.`, { field: LATEST_FILE, file, cause, fix: "check the file's permissions." });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`${file} is not valid JSON.`, {
      field: LATEST_FILE,
      file,
      cause,
      fix: "delete it (resume then uses the newest intact checkpoint folder) or pass a checkpoint folder directly.",
    });
  }
  const name = (json as { checkpoint?: unknown } | null)?.checkpoint;
  const match = typeof name === "string" ? CHECKPOINT_NAME.exec(name) : null;
  if (!match) {
    throw new CheckpointError(`${file} does not name a checkpoint folder of this run.`, {
      field: `${LATEST_FILE}.checkpoint`,
      file,
      value: name,
      expected: '"checkpoint-<step>" (a folder inside the run folder)',
      fix: "delete latest.json (resume then uses the newest intact checkpoint folder) or pass a checkpoint folder directly.",
    });
  }
  return { step: Number(match[1]), name: match[0], dir: path.join(runDir, match[0]) };
}

/** True while a process with this id exists (a leftover of a live process is still in use). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what interrupted saves and removals left in `runDir` (`checkpoint-N.tmp-<pid>-…`,
 * `.old-…`, `.deleting-…`, `latest.json.tmp-…`, and the temp files of rewritten logs) whose process has exited. Returns the removed names.
 */
export async function removeLeftovers(runDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(runDir).catch(() => [] as string[])) {
    const match = LEFTOVER_NAME.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    await rm(path.join(runDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed.sort();
}

/** Options of {@link rotateCheckpoints}. */
export interface RotateOptions {
  /** Keep at most this many checkpoints (≥ 1). */
  limit: number;
  /** The trainer's current step: checkpoints of later steps (an abandoned timeline) are left alone. */
  currentStep: number;
  /** Never removed, whatever the limit (the one `latest.json` names). */
  keep?: string;
}

/**
 * Deletes the checkpoints of `runDir` at or before `currentStep` except the newest `limit` of them
 * and `keep` (which therefore may make one more). Each is first renamed to
 * `<name>.deleting-<pid>-<random>` (atomic), so a crash mid-delete never leaves a half-deleted
 * `checkpoint-N`. Returns the removed folder names, oldest first.
 */
export async function rotateCheckpoints(runDir: string, options: RotateOptions): Promise<string[]> {
  const candidates = (await listCheckpoints(runDir)).filter((c) => c.step <= options.currentStep);
  const kept = new Set(candidates.slice(Math.max(0, candidates.length - options.limit)).map((c) => c.name));
  if (options.keep !== undefined) kept.add(options.keep);
  const removed: string[] = [];
  for (const c of candidates) {
    if (kept.has(c.name)) continue;
    const doomed = `${c.dir}.deleting-${process.pid}-${randomBytes(4).toString("hex")}`;
    await rename(c.dir, doomed);
    await rm(doomed, { recursive: true, force: true });
    removed.push(c.name);
  }
  return removed;
}

/** Rewrites `runDir/metrics.jsonl` (atomically) to hold exactly these steps, one JSON line each. */
export async function rewriteMetricsLog(runDir: string, steps: readonly StepMetrics[]): Promise<void> {
  await writeFileAtomic(path.join(runDir, METRICS_FILE), steps.map((m) => `${JSON.stringify(m)}\n`).join(""));
}

/** A checkpoint resume passed over. */
export interface SkippedCheckpoint {
  /** Its folder. */
  dir: string;
  /** Why (the verification error's message). */
  reason: string;
}

/** Where {@link findResumeCheckpoint} decided to resume from. */
export interface ResumeSource {
  /** The verified checkpoint folder. */
  dir: string;
  /** The run folder, when a run folder was given. */
  runDir?: string;
  /** Newer checkpoints that were corrupt and skipped (only with `fallback`). */
  skipped: SkippedCheckpoint[];
}

/** Options of {@link findResumeCheckpoint}. */
export interface FindResumeOptions {
  /**
   * When the newest checkpoint of a run folder is corrupt, resume from the newest intact one
   * instead of failing (default false: fail with an error naming the corrupt file and the intact
   * checkpoint that exists).
   */
  fallback?: boolean;
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function hasEntry(dir: string, name: string): Promise<boolean> {
  return stat(path.join(dir, name)).then(() => true, () => false);
}

/**
 * What a folder holds: `"checkpoint"` (it has trainer_state.json or checksums.json), `"run"` (a
 * run folder: latest.json, metrics.jsonl or checkpoint-<step> folders), or `"other"` (e.g. a model
 * folder, or nothing at all).
 */
export async function folderKind(dir: string): Promise<"checkpoint" | "run" | "other"> {
  if (!(await isDirectory(dir))) return "other";
  if ((await hasEntry(dir, TRAINER_STATE_FILE)) || (await hasEntry(dir, CHECKSUMS_FILE))) return "checkpoint";
  if ((await hasEntry(dir, LATEST_FILE)) || (await hasEntry(dir, METRICS_FILE)) || (await listCheckpoints(dir)).length > 0) return "run";
  return "other";
}

function reasonOf(error: unknown): string {
  if (error instanceof CheckpointError) return error.summary;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Finds the checkpoint to resume from. `target` is either a checkpoint folder (verified and used
 * as is) or a run folder: then the checkpoint `latest.json` names (or, without a pointer, the
 * newest `checkpoint-<step>`) is verified. If it is corrupt, `fallback: true` moves on to the next
 * older intact checkpoint (recording what it skipped); without it, the error names the corrupt
 * file and the newest intact checkpoint, and how to use it. Checkpoints newer than the pointer
 * (a save that crashed before updating it) are not considered.
 *
 * @throws GrpoError `checkpoint_invalid` when nothing is found or nothing intact is allowed.
 */
export async function findResumeCheckpoint(target: string, options: FindResumeOptions = {}): Promise<ResumeSource> {
  if ((await folderKind(target)) === "checkpoint" || !(await isDirectory(target))) {
    await verifyCheckpointDir(target, { required: REQUIRED_CHECKPOINT_FILES });
    return { dir: target, skipped: [] };
  }
  const runDir = target;
  const all = await listCheckpoints(runDir);
  const skipped: SkippedCheckpoint[] = [];
  let latest: CheckpointEntry | undefined;
  try {
    latest = await readLatest(runDir);
  } catch (error) {
    if (!options.fallback) throw error;
    skipped.push({ dir: path.join(runDir, LATEST_FILE), reason: reasonOf(error) });
  }
  const newest = latest?.step ?? Number.POSITIVE_INFINITY;
  const candidates = all.filter((c) => c.step < newest);
  if (latest) candidates.push(latest);
  candidates.sort((a, b) => b.step - a.step);
  if (candidates.length === 0) {
    throw new GrpoError("checkpoint_invalid", `No checkpoint in the run folder ${runDir}.`, {
      field: "dir",
      value: runDir,
      expected: "a run folder with checkpoint-<step> folders, or a checkpoint folder",
      fix: "train with `runDir` and `saveSteps` > 0 to write periodic checkpoints, or pass the folder `trainer.save()` wrote.",
    });
  }
  for (const candidate of candidates) {
    try {
      await verifyCheckpointDir(candidate.dir, { required: REQUIRED_CHECKPOINT_FILES });
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      skipped.push({ dir: candidate.dir, reason: reasonOf(error) });
      continue;
    }
    if (skipped.length > 0 && !options.fallback) throw corruptNewest(runDir, skipped, candidate);
    return { dir: candidate.dir, runDir, skipped };
  }
  throw corruptNewest(runDir, skipped, undefined);
}

function corruptNewest(runDir: string, skipped: SkippedCheckpoint[], intact: CheckpointEntry | undefined): CheckpointError {
  const first = skipped[0];
  if (intact === undefined) {
    return new CheckpointError(`No intact checkpoint in the run folder ${runDir}. ${skipped.map((s) => s.reason).join(" ")}`, {
      field: "dir",
      value: runDir,
      fix: "every checkpoint failed verification; start a new run (weights can still be loaded from a model folder).",
    });
  }
  return new CheckpointError(`The newest checkpoint of ${runDir} is corrupt: ${first.reason}`, {
    field: "fallback",
    fix: `the newest intact checkpoint is ${intact.dir} (step ${intact.step}): resume with ` +
      "`GRPOTrainer.resume(runDir, { ..., fallback: true })` (CLI: `--fallback`) to continue from it, or pass that folder directly.",
  });
}
