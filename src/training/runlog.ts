/**
 * The logs of a run folder, written append-only while training and read back by `grpo report`.
 *
 * ```
 * <runDir>/metrics.jsonl        one line per completed step: the step's metrics (see METRIC_DOCS),
 *                               reward components included (`rewards/<name>/mean`, `/std`)
 * <runDir>/trajectories.jsonl   one line per logged trajectory group (every `logTrajectorySteps`
 *                               steps): turns, per-turn rewards, reward breakdown, advantages, and
 *                               per-token ids and log-probs with `logTokenLogprobs`
 * <runDir>/run.json             the profile, config and model the trainer was created with
 * ```
 *
 * Crash safety: each line is written with one append, so a crash can only leave the last line torn
 * (no newline at its end). Readers skip such a tail and say so; the next append first cuts it off,
 * so a torn line never glues itself to the next record. Resuming from a checkpoint rewrites
 * metrics.jsonl to the checkpoint's history and drops the trajectory lines of later steps, so a
 * resumed run's logs read as if it had never stopped.
 */
import { mkdir, open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { GrpoError } from "../core/errors.js";
import { parseWith } from "../core/validation.js";
import {
  ConversationTurn, EpisodeStatus, MultiTurnTrajectory, TrajectoryGroup, type Role, type ToolCall, type ToolResult,
} from "../core/trajectory.js";
import { writeFileAtomic } from "../model/safetensors.js";
import { LATEST_FILE, listCheckpoints, METRICS_FILE } from "./checkpoints.js";
import type { StepReport } from "./events.js";
import type { StepMetrics } from "./history.js";

/** The trajectory log of a run folder. */
export const TRAJECTORIES_FILE = "trajectories.jsonl";
/** What a run folder's trainer was created with (written by GRPOTrainer.create). */
export const RUN_INFO_FILE = "run.json";

/** `run.json`: the settings a run started with, for the report (checkpoints hold the later ones). */
export interface RunInfo {
  format: "grpo-agent-framework/run";
  version: 1;
  /** When the trainer was created (ISO 8601). */
  createdAt: string;
  /** The training profile. */
  profile: string;
  /** The resolved GRPOConfig at the start. */
  config: Record<string, unknown>;
  /** The agent's class and model name (the report decodes logged tokens with that model's tokenizer). */
  agent: { className: string; modelName: string };
}

/** Writes `run.json` (atomically) into a run folder, creating the folder. */
export async function writeRunInfo(runDir: string, info: Omit<RunInfo, "format" | "version" | "createdAt">): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const record: RunInfo = { format: "grpo-agent-framework/run", version: 1, createdAt: new Date().toISOString(), ...info };
  await writeFileAtomic(path.join(runDir, RUN_INFO_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

const runInfoSchema = z.object({
  format: z.literal("grpo-agent-framework/run"),
  version: z.literal(1),
  createdAt: z.string(),
  profile: z.string(),
  config: z.record(z.string(), z.unknown()),
  agent: z.object({ className: z.string(), modelName: z.string() }),
});

/** The run folder's `run.json`, or undefined when it has none (runs from before it existed); damaged: a note. */
async function readRunInfo(runDir: string, notes: string[]): Promise<RunInfo | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(runDir, RUN_INFO_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    return parseWith(runInfoSchema, JSON.parse(text), { root: RUN_INFO_FILE, code: "invalid_json" }) as RunInfo;
  } catch (error) {
    notes.push(`${RUN_INFO_FILE} was skipped: ${(error as Error).message}`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The logged forms (compact: no prompt token ids, timestamps or per-episode metadata)

/** One turn as logged. */
export interface LoggedTurn {
  role: Role;
  content: string;
  /** The turn's reward (per-turn score or environment step reward), when it has one. */
  reward?: number;
  toolCalls?: ToolCall[];
  toolResults?: ToolResult[];
  /** The turn's metadata (tool names, tool-call parse errors), without the model name; absent when empty. */
  metadata?: Record<string, unknown>;
  /** Sampled assistant turns: `stop` (EOS or a stop string) or `length` (hit maxNewTokens). */
  finishReason?: "stop" | "length";
  /** Sampled assistant turns: how many tokens were sampled. */
  numTokens?: number;
  /** With `logTokenLogprobs`: the sampled token ids. */
  tokenIds?: number[];
  /** With `logTokenLogprobs`: each sampled token's sampling log-prob. */
  logprobs?: number[];
}

/** One trajectory as logged. */
export interface LoggedTrajectory {
  /** The reward GRPO used (after `rewardWeights`, when set). */
  totalReward: number;
  /** Its group-relative advantage in this step. */
  advantage: number;
  /** One reward per assistant turn. */
  turnRewards: number[];
  /** The reward's components (`helpfulness`, `helpfulness/turn_0`, …). */
  rewardBreakdown: Record<string, number>;
  /** The reward function's own score, weights, aggregation and explanation, when it gave them. */
  reward?: { score: number; weights?: Record<string, number>; aggregation?: string; explanation?: string };
  status: EpisodeStatus;
  success: boolean;
  turns: LoggedTurn[];
}

/** One line of `trajectories.jsonl`: a trajectory group of one step. */
export interface LoggedGroup {
  /** The optimizer step (1-based) the group was trained in. */
  step: number;
  /** Its index among the step's groups. */
  group: number;
  scenarioId: string;
  trajectories: LoggedTrajectory[];
}

function numberRecord(x: unknown): Record<string, number> | undefined {
  if (x === null || typeof x !== "object") return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(x)) if (typeof v === "number") out[k] = v;
  return out;
}

function logTurn(turn: ConversationTurn, tokens: boolean): LoggedTurn {
  const out: LoggedTurn = { role: turn.role, content: turn.content };
  if (turn.reward !== undefined) out.reward = turn.reward;
  if (turn.toolCalls.length > 0) out.toolCalls = turn.toolCalls;
  if (turn.toolResults.length > 0) out.toolResults = turn.toolResults;
  const { modelName: _model, finishReason: _finish, ...metadata } = turn.metadata;
  if (Object.keys(metadata).length > 0) out.metadata = metadata;
  if (turn.generation) {
    out.finishReason = turn.generation.finishReason;
    out.numTokens = turn.generation.tokenIds.length;
    if (tokens) {
      out.tokenIds = turn.generation.tokenIds;
      out.logprobs = turn.generation.logprobs.map((v) => Math.round(v * 1e4) / 1e4);
    }
  }
  return out;
}

function logTrajectory(t: MultiTurnTrajectory, advantage: number, tokens: boolean): LoggedTrajectory {
  const out: LoggedTrajectory = {
    totalReward: t.totalReward, advantage, turnRewards: t.turnRewards, rewardBreakdown: t.rewardBreakdown,
    status: t.status, success: t.success, turns: t.turns.map((turn) => logTurn(turn, tokens)),
  };
  const stored = t.metadata.reward as { score?: unknown; metadata?: Record<string, unknown>; explanation?: unknown } | undefined;
  if (stored && typeof stored.score === "number") {
    const reward: NonNullable<LoggedTrajectory["reward"]> = { score: stored.score };
    const weights = numberRecord(stored.metadata?.weights);
    if (weights && Object.keys(weights).length > 0) reward.weights = weights;
    if (typeof stored.metadata?.aggregation === "string") reward.aggregation = stored.metadata.aggregation;
    if (typeof stored.explanation === "string") reward.explanation = stored.explanation;
    out.reward = reward;
  }
  return out;
}

/** The logged form of a step's group `index` (advantages in the group's order). */
export function logGroup(step: number, index: number, group: TrajectoryGroup, advantages: readonly number[], options: { tokens?: boolean } = {}): LoggedGroup {
  return {
    step, group: index, scenarioId: group.scenarioId,
    trajectories: group.trajectories.map((t, i) => logTrajectory(t, advantages[i] ?? Number.NaN, options.tokens ?? false)),
  };
}

/**
 * A logged group as library objects again, for the kernel's views: the trajectories (each with
 * `metadata.reward` so breakdown tables show weights) and their advantages in the group's order.
 * Logged token ids and log-probs come back as the turns' `generation` (without the prompt ids).
 */
export function loggedGroupToTrajectoryGroup(logged: LoggedGroup): { group: TrajectoryGroup; advantages: number[] } {
  const trajectories = logged.trajectories.map((t, i) => {
    const turns = t.turns.map((turn) => {
      const generation = turn.tokenIds && turn.logprobs && turn.finishReason
        ? { promptTokenIds: [], tokenIds: turn.tokenIds, logprobs: turn.logprobs, finishReason: turn.finishReason }
        : undefined;
      return new ConversationTurn({
        role: turn.role, content: turn.content, reward: turn.reward, toolCalls: turn.toolCalls, toolResults: turn.toolResults,
        metadata: { ...(turn.metadata ?? {}), ...(turn.finishReason ? { finishReason: turn.finishReason } : {}) }, generation,
      });
    });
    const metadata: Record<string, unknown> = { success: t.success };
    if (t.reward) {
      metadata.reward = {
        score: t.reward.score, breakdown: t.rewardBreakdown,
        metadata: { ...(t.reward.weights ? { weights: t.reward.weights } : {}), ...(t.reward.aggregation ? { aggregation: t.reward.aggregation } : {}) },
        ...(t.reward.explanation !== undefined ? { explanation: t.reward.explanation } : {}),
      };
    }
    return new MultiTurnTrajectory({
      id: `step ${logged.step} · group ${logged.group + 1} · #${i + 1}`, scenarioId: logged.scenarioId, turns,
      totalReward: t.totalReward, turnRewards: t.turnRewards, rewardBreakdown: t.rewardBreakdown, metadata, status: t.status,
    });
  });
  return { group: new TrajectoryGroup(logged.scenarioId, trajectories), advantages: logged.trajectories.map((t) => t.advantage) };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** JSON has no NaN or Infinity: they are written as null (read back as NaN). */
function jsonLine(record: unknown): string {
  return `${JSON.stringify(record, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))}\n`;
}

/** Bytes read per look back for the last newline when cutting off a torn tail. */
const TAIL_CHUNK = 64 * 1024;

/**
 * Appends `records` to a JSON-lines file as one write. A torn last line (left by a crash during an
 * earlier append) is cut off first, so it cannot merge with the new records.
 */
export async function appendJsonLines(file: string, records: readonly unknown[]): Promise<void> {
  if (records.length === 0) return;
  const handle = await open(file, "a+");
  try {
    const { size } = await handle.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await handle.truncate(await lastLineEnd(handle, size));
    }
    await handle.appendFile(records.map(jsonLine).join(""));
  } finally {
    await handle.close();
  }
}

/** The offset just after the last newline before `size` (0 when there is none). */
async function lastLineEnd(handle: Awaited<ReturnType<typeof open>>, size: number): Promise<number> {
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - TAIL_CHUNK);
    const chunk = Buffer.alloc(end - start);
    await handle.read(chunk, 0, chunk.length, start);
    const at = chunk.lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}

/** What {@link appendStepLogs} logs (the run-log knobs of GRPOConfig). */
export interface StepLogOptions {
  /** Log the trajectory groups every this many steps (0 = never; undefined = every step). */
  logTrajectorySteps?: number;
  /** Log per-token ids and log-probs too. */
  logTokenLogprobs?: boolean;
}

/** Appends a finished step to its run folder: its metrics line, and its trajectory groups when due. */
export async function appendStepLogs(runDir: string, report: StepReport, options: StepLogOptions): Promise<void> {
  await appendJsonLines(path.join(runDir, METRICS_FILE), [report.metrics]);
  const every = options.logTrajectorySteps ?? 1;
  if (every > 0 && report.step % every === 0) {
    const groups = report.groups.map((g, i) => logGroup(report.step, i, g, report.advantages[i] ?? [], { tokens: options.logTokenLogprobs }));
    await appendJsonLines(path.join(runDir, TRAJECTORIES_FILE), groups);
  }
}

/**
 * Refuses a run folder that already holds an earlier run's logs or checkpoints: a new trainer
 * would mix its steps into that run's `metrics.jsonl`. An absent or empty folder (or one with other
 * files only) is fine.
 */
export async function assertFreshRunDir(runDir: string): Promise<void> {
  const found: string[] = [];
  for (const name of [METRICS_FILE, TRAJECTORIES_FILE]) {
    const size = await stat(path.join(runDir, name)).then((s) => s.size, () => 0);
    if (size > 0) found.push(name);
  }
  if (await stat(path.join(runDir, LATEST_FILE)).then(() => true, () => false)) found.push(LATEST_FILE);
  const checkpoints = await listCheckpoints(runDir);
  if (checkpoints.length > 0) found.push(`${checkpoints.length} checkpoint folder${checkpoints.length === 1 ? "" : "s"}`);
  if (found.length === 0) return;
  const fix = checkpoints.length > 0
    ? `continue that run with \`GRPOTrainer.resume(${JSON.stringify(runDir)}, { environment, reward })\` ` +
      "(`grpo train --run-dir <dir> --resume`), or pass a new runDir; nothing was overwritten."
    : "that run saved no checkpoint to resume from: pass a new runDir, or delete its files to start over in this folder; nothing was overwritten.";
  throw new GrpoError("invalid_argument", `The run folder ${runDir} already holds an earlier run (${found.join(", ")}).`, {
    field: "runDir", value: runDir, expected: "a new or empty folder", fix,
  });
}

/** The step a trajectories.jsonl line belongs to (lines start with `{"step":N,`), or undefined. */
function lineStep(line: string): number | undefined {
  const match = /^\{"step":(\d+),/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/**
 * Keeps only the trajectory lines of steps up to `step` (resuming from a checkpoint of that step),
 * dropping a torn tail too; rewritten atomically, and only when something changes.
 */
export async function truncateTrajectoryLog(runDir: string, step: number): Promise<void> {
  const file = path.join(runDir, TRAJECTORIES_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw cause;
  }
  const lines = text.split("\n");
  const tail = lines.pop(); // "" when the file ends with a newline, else a torn line
  const kept = lines.filter((line) => (lineStep(line) ?? Number.POSITIVE_INFINITY) <= step);
  if (kept.length === lines.length && tail === "") return;
  await writeFileAtomic(file, kept.map((l) => `${l}\n`).join(""));
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A run folder's logs, as `grpo report` reads them. */
export interface RunLog {
  /** The folder. */
  runDir: string;
  /** One entry per completed step (null values in the file read as NaN). */
  metrics: StepMetrics[];
  /** The logged trajectory groups, in file order. */
  groups: LoggedGroup[];
  /** `run.json`, when the folder has it. */
  info?: RunInfo;
  /** What was skipped and why (a torn last line after a crash, a missing trajectory log). */
  notes: string[];
}

/** The complete lines of a JSON-lines file; a torn (unparseable, unterminated) last line is dropped with a note. */
export async function readJsonLines(file: string, notes: string[]): Promise<Array<{ line: number; value: unknown }>> {
  const text = await readFile(file, "utf8");
  const lines = text.split("\n");
  const tail = lines.pop() as string;
  const out: Array<{ line: number; value: unknown }> = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push({ line: i + 1, value: JSON.parse(line) as unknown });
    } catch (cause) {
      throw new GrpoError("invalid_json", `${file} line ${i + 1} is not valid JSON.`, {
        value: line, expected: "one JSON object per line, as the trainer writes",
        fix: "the file was edited or damaged; restore it, or delete that line to read the rest.", cause,
      });
    }
  });
  if (tail.trim() !== "") {
    try {
      out.push({ line: lines.length + 1, value: JSON.parse(tail) as unknown });
    } catch {
      notes.push(`${path.basename(file)}: skipped a torn last line (${Buffer.byteLength(tail)} bytes; the run stopped while writing it).`);
    }
  }
  return out;
}

/** A number written by jsonLine: null stands for NaN / Infinity. */
const nullableNumber = z.number().nullable().transform((v) => v ?? Number.NaN);
const metricLineSchema = z.record(z.string(), z.union([z.number(), z.null()]));
const loggedTurnSchema = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
  reward: z.number().optional(),
  toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.record(z.string(), z.unknown()) })).optional(),
  toolResults: z.array(z.object({ toolCallId: z.string(), name: z.string(), content: z.string(), isError: z.boolean() })).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  finishReason: z.enum(["stop", "length"]).optional(),
  numTokens: z.number().int().min(0).optional(),
  tokenIds: z.array(z.number().int()).optional(),
  logprobs: z.array(nullableNumber).optional(),
});
const loggedGroupSchema = z.object({
  step: z.number().int().min(1),
  group: z.number().int().min(0),
  scenarioId: z.string().min(1),
  trajectories: z.array(z.object({
    totalReward: nullableNumber,
    advantage: nullableNumber,
    turnRewards: z.array(nullableNumber),
    rewardBreakdown: z.record(z.string(), nullableNumber),
    reward: z.object({
      score: nullableNumber, weights: z.record(z.string(), z.number()).optional(), aggregation: z.string().optional(), explanation: z.string().optional(),
    }).optional(),
    status: z.enum(EpisodeStatus),
    success: z.boolean(),
    turns: z.array(loggedTurnSchema),
  })),
});

/**
 * Reads a run folder's logs. Errors (GrpoError) for a missing folder, a folder without
 * `metrics.jsonl`, one with no completed step, and a damaged line that is not the last one.
 */
export async function readRunLog(runDir: string): Promise<RunLog> {
  const info = await stat(runDir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new GrpoError("invalid_argument", `The run folder ${runDir} does not exist${info ? " (it is a file)" : ""}.`, {
      field: "runDir", value: runDir, expected: "the folder given as `runDir` to GRPOTrainer.create (or `grpo train --run-dir`)",
    });
  }
  const metricsFile = path.join(runDir, METRICS_FILE);
  if (!(await stat(metricsFile).then((s) => s.isFile(), () => false))) {
    throw new GrpoError("invalid_argument", `${runDir} is not a run folder: it has no ${METRICS_FILE}.`, {
      field: "runDir", value: runDir,
      fix: "pass the folder a trainer logged to (`runDir` of GRPOTrainer.create / train(), `grpo train --run-dir`).",
    });
  }
  const notes: string[] = [];
  const metrics = (await readJsonLines(metricsFile, notes)).map(({ line, value }) => {
    const parsed = parseWith(metricLineSchema, value, { root: `${METRICS_FILE} line ${line}`, code: "invalid_json", fix: "each line must map metric names to numbers." });
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v ?? Number.NaN])) as StepMetrics;
  });
  if (metrics.length === 0) {
    throw new GrpoError("invalid_argument", `The run in ${runDir} has no completed step yet (${METRICS_FILE} is empty).`, {
      field: "runDir", value: runDir, fix: "train at least one step, then make the report.",
    });
  }
  const trajectoriesFile = path.join(runDir, TRAJECTORIES_FILE);
  let groups: LoggedGroup[] = [];
  if (await stat(trajectoriesFile).then((s) => s.isFile(), () => false)) {
    groups = (await readJsonLines(trajectoriesFile, notes)).map(({ line, value }) =>
      parseWith(loggedGroupSchema, value, { root: `${TRAJECTORIES_FILE} line ${line}`, code: "invalid_json", fix: "the line was edited or damaged; delete it to read the rest." }) as LoggedGroup);
  } else {
    notes.push(`${TRAJECTORIES_FILE} is missing: the run logged no trajectories (logTrajectorySteps = 0, or a version before trajectory logging).`);
  }
  const runInfo = await readRunInfo(runDir, notes);
  return { runDir, metrics, groups, notes, ...(runInfo ? { info: runInfo } : {}) };
}
