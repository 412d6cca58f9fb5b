/**
 * `grpo train`: trains one of the examples' setups (agent, environment, reward) with knobs from
 * flags or a JSON file, checkpointing into a run folder, and saves the trained agent.
 *
 *   grpo train --example quick_start --episodes 200 --set learningRate=1e-4 --run-dir runs/qs
 *   grpo train --example quick_start --run-dir runs/qs --resume          # after a crash or Ctrl-C
 *
 * Ctrl-C is safe at any time:
 * 1. the first SIGINT lets the running step finish (a step boundary is the safe point), saves to
 *    `--save`, prints the summary and exits with code 130;
 * 2. a second SIGINT abandons the running step at its next safe point (an unfinished step changes
 *    nothing), saves what the completed steps learned, and exits at once;
 * 3. a third exits immediately without saving; the checkpoints already written stay intact (they are
 *    written atomically).
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { EXAMPLES } from "../../examples/index.js";
import type { ExampleSpec } from "../../examples/harness.js";
import { GrpoError } from "../core/errors.js";
import { selectBackend, type BackendRequest } from "../model/backend.js";
import { didYouMean, TRAINING_PROFILES, type TrainingProfile } from "../training/config.js";
import { DiagnosticsMonitor } from "../training/diagnostics.js";
import type { StepReport, TrainEndReason, TrainerCallback } from "../training/events.js";
import { formatSummary, summarize } from "../training/train.js";
import { listCheckpoints } from "../training/checkpoints.js";
import { GRPOTrainer } from "../training/trainer.js";

/** Where the command writes (replaced in tests). */
export interface TrainCommandIO {
  out(line: string): void;
  err(line: string): void;
}

const consoleIO: TrainCommandIO = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** The exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/** The flags of `grpo train`, as commander parses them. */
export interface TrainCommandOptions {
  example: string;
  config?: string;
  set: string[];
  profile?: string;
  episodes?: number;
  steps?: number;
  model?: string;
  seed?: number;
  runDir?: string;
  /** A folder, `false` (--no-save) or `true` (neither flag: the default folder). */
  save: string | boolean;
  resume?: boolean;
  fallback?: boolean;
  backend?: string;
  quiet?: boolean;
}

function parseCount(flag: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) {
      throw new GrpoError("invalid_argument", `Invalid ${flag}.`, { field: flag, value, expected: `an integer >= ${min}` });
    }
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `knob=value` → [knob, value]; the value is read as JSON when it parses (numbers, booleans, null), else as text. */
export function parseAssignment(text: string): [string, unknown] {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new GrpoError("invalid_argument", "Invalid --set.", {
      field: "--set", value: text, expected: "knob=value, e.g. --set learningRate=1e-4",
    });
  }
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* not JSON: keep the text (e.g. --set lrScheduler=cosine) */
  }
  return [text.slice(0, eq).trim(), value];
}

/** Reads `--config`: a JSON object of GRPOConfig knobs (camelCase or snake_case), as `configOverrides` takes. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new GrpoError("invalid_argument", `Cannot read the config file ${file}.`, { field: "--config", value: file, cause, fix: "check the path." });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new GrpoError("invalid_json", `${file} is not valid JSON (${(cause as Error).message}).`, {
      field: "--config", cause, fix: 'write a JSON object of knobs, e.g. { "learningRate": 1e-4, "numGenerations": 8 }.',
    });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new GrpoError("invalid_config", `${file} must hold a JSON object of GRPOConfig knobs.`, {
      field: "--config", value: json, expected: '{ "learningRate": 1e-4, "numGenerations": 8, ... }',
    });
  }
  return json as Record<string, unknown>;
}

/** The example's parts, or an error listing the examples (with a did-you-mean). */
export function exampleSpec(name: string, options: { seed?: number; modelName?: string }): ExampleSpec {
  const example = Object.hasOwn(EXAMPLES, name) ? EXAMPLES[name] : undefined;
  if (example === undefined) {
    const names = Object.keys(EXAMPLES);
    const near = didYouMean(name, names);
    throw new GrpoError("invalid_argument", "Unknown example.", {
      field: "--example", value: name, expected: names.map((n) => `"${n}"`).join(" | "),
      fix: near ? `did you mean \`${near}\`?` : "pick one of the examples above.",
    });
  }
  return example.spec(options);
}

function checkProfile(profile: string | undefined): TrainingProfile | undefined {
  if (profile === undefined || (TRAINING_PROFILES as readonly string[]).includes(profile)) return profile as TrainingProfile | undefined;
  const near = didYouMean(profile, TRAINING_PROFILES);
  throw new GrpoError("invalid_config", "Unknown training profile.", {
    field: "--profile", value: profile, expected: TRAINING_PROFILES.map((p) => `"${p}"`).join(" | "),
    fix: near ? `did you mean \`${near}\`?` : 'use "balanced" to start.',
  });
}

/**
 * Tracks Ctrl-C presses for one training run (see the module comment for what each one does).
 * `install()` replaces Node's default SIGINT behaviour (exit at once) until `uninstall()`.
 */
class InterruptHandler {
  presses = 0;
  readonly controller = new AbortController();
  private trainer?: GRPOTrainer;
  private readonly listener = () => this.onSigint();

  constructor(private readonly io: TrainCommandIO) {}

  install(): void {
    process.on("SIGINT", this.listener);
  }

  uninstall(): void {
    process.off("SIGINT", this.listener);
  }

  /** The trainer to stop; presses that came before it existed apply now. */
  attach(trainer: GRPOTrainer): void {
    this.trainer = trainer;
    if (this.presses >= 1) trainer.stop();
    if (this.presses >= 2) this.controller.abort();
  }

  private onSigint(): void {
    this.presses += 1;
    if (this.presses === 1) {
      this.io.err("Interrupted: finishing the current step, then saving. Press Ctrl-C again to stop now (after saving).");
      this.trainer?.stop();
    } else if (this.presses === 2) {
      this.io.err("Stopping now: the unfinished step is discarded; saving, then exiting.");
      this.controller.abort();
    } else {
      this.io.err("Exiting without saving; checkpoints already written are intact.");
      process.exit(INTERRUPTED_EXIT_CODE);
    }
  }
}

function stepLine(report: StepReport, total: number): string {
  const m = report.metrics;
  return `step ${report.step}/${total}  reward ${m.reward.toFixed(3)}  loss ${report.loss.toFixed(4)}  ` +
    `episodes ${report.episodes}  ${(m["time/step_s"] ?? 0).toFixed(1)} s`;
}

/** Runs `grpo train` with parsed flags. Resolves to the process exit code (0, or 130 when interrupted). */
export async function runTrainCommand(opts: TrainCommandOptions, io: TrainCommandIO = consoleIO): Promise<number> {
  const interrupts = new InterruptHandler(io);
  interrupts.install();
  try {
    if (opts.backend !== undefined) await selectBackend({ backend: opts.backend as BackendRequest });
    const profile = checkProfile(opts.profile);
    const spec = exampleSpec(opts.example, { seed: opts.seed, modelName: opts.model });
    const overrides: Record<string, unknown> = {
      ...(spec.configOverrides ?? {}),
      ...(opts.config !== undefined ? await readConfigFile(opts.config) : {}),
      ...Object.fromEntries(opts.set.map(parseAssignment)),
    };
    if (opts.seed !== undefined) overrides.seed = opts.seed;
    const monitor = new DiagnosticsMonitor();
    const reports: StepReport[] = [];
    let trainer: GRPOTrainer | undefined;
    const progress: TrainerCallback = {
      onStepEnd: (e) => {
        reports.push(e.report);
        if (!opts.quiet) io.out(stepLine(e.report, trainer?.totalSteps ?? e.step));
      },
    };
    const callbacks = [monitor, progress];
    if (opts.resume) {
      if (opts.runDir === undefined) {
        throw new GrpoError("invalid_argument", "--resume needs --run-dir.", {
          field: "--resume", fix: "pass the run folder of the run to continue: --run-dir <dir> --resume.",
        });
      }
      trainer = await GRPOTrainer.resume(opts.runDir, {
        environment: spec.environment, reward: spec.reward, callbacks, agent: spec.agent, fallback: opts.fallback,
      });
      for (const skipped of trainer.resumedFrom?.skipped ?? []) io.err(`Skipped ${skipped.dir}: ${skipped.reason}`);
      io.out(`Resumed from ${trainer.resumedFrom?.dir} at step ${trainer.stepCount}/${trainer.totalSteps}.`);
    } else {
      if (opts.runDir !== undefined && (await listCheckpoints(opts.runDir)).length > 0) {
        throw new GrpoError("invalid_argument", `The run folder ${opts.runDir} already holds checkpoints of an earlier run.`, {
          field: "--run-dir", value: opts.runDir,
          fix: "add --resume to continue that run, or choose a new --run-dir (nothing is overwritten).",
        });
      }
      if (opts.episodes !== undefined && overrides.numEpisodes === undefined && overrides.num_episodes === undefined) {
        overrides.numEpisodes = opts.episodes;
      } else if (overrides.numEpisodes === undefined && overrides.num_episodes === undefined && overrides.maxSteps === undefined && overrides.max_steps === undefined) {
        overrides.numEpisodes = spec.numEpisodes;
      }
      trainer = await GRPOTrainer.create({
        agent: spec.agent, environment: spec.environment, reward: spec.reward, profile: profile ?? spec.profile,
        configOverrides: overrides, callbacks, runDir: opts.runDir,
      });
    }
    interrupts.attach(trainer);

    const started = performance.now();
    const reason: TrainEndReason = await trainer.run({ steps: opts.steps, signal: interrupts.controller.signal });
    if (reason === "aborted") io.out(`Step ${trainer.stepCount + 1} did not finish and was discarded.`);
    const savePath = typeof opts.save === "string" ? opts.save : opts.save === false ? undefined : `checkpoints/${spec.name}`;
    if (savePath !== undefined) {
      await trainer.save(savePath);
      io.out(`Saved step ${trainer.stepCount} to ${savePath}.`);
    }
    const interrupted = interrupts.presses > 0;
    if (interrupted && opts.runDir !== undefined) {
      io.out(`Continue with: grpo train --example ${spec.name} --run-dir ${opts.runDir} --resume`);
    }
    if (interrupts.presses >= 2) return INTERRUPTED_EXIT_CODE; // asked to stop now: no summary
    if (!opts.quiet) {
      const window = Math.max(1, Math.min(10, Math.ceil(reports.length / 10)));
      io.out(formatSummary(summarize(reports.slice(-window), monitor.getHealthStatus(), {
        episodes: trainer.episodes, steps: trainer.stepCount, reason, savedTo: savePath,
        seconds: (performance.now() - started) / 1000,
      })));
    }
    return interrupted ? INTERRUPTED_EXIT_CODE : 0;
  } finally {
    interrupts.uninstall();
  }
}

/** Adds `grpo train` to `program`. Errors are thrown as GrpoError (the `grpo` entry point prints them). */
export function registerTrainCommand(program: Command, io: TrainCommandIO = consoleIO): void {
  program
    .command("train")
    .description("Train an example's agent with GRPO; Ctrl-C stops safely and saves (twice: stop now, after saving)")
    .option("--example <name>", `the setup to train: ${Object.keys(EXAMPLES).join(", ")}`, "quick_start")
    .option("--config <file>", "JSON object of GRPOConfig knobs (camelCase or snake_case), as configOverrides")
    .option("--set <knob=value>", "one knob override, e.g. --set learningRate=1e-4 (repeatable; wins over --config)", collect, [])
    .option("--profile <name>", "conservative | balanced | aggressive (default: the example's)")
    .option("--episodes <n>", "episodes to train (default: the example's)", parseCount("--episodes", 1))
    .option("--steps <n>", "run at most this many steps now (default: to the configured total)", parseCount("--steps", 1))
    .option("--model <name>", "model to train: builtin:<name> or a local model folder (default: the example's)")
    .option("--seed <n>", "seed of sampling and scenario order", parseCount("--seed", 0))
    .option("--run-dir <dir>", "folder for metrics.jsonl and checkpoint-<step> folders (every saveSteps steps)")
    .option("--resume", "continue the run in --run-dir from its latest checkpoint")
    .option("--fallback", "with --resume: if the latest checkpoint is corrupt, use the newest intact one")
    .option("--save <dir>", "where to save the trained agent (default: checkpoints/<example>)")
    .option("--no-save", "do not save the trained agent")
    .option("--backend <name>", "auto | wasm | cpu | tensorflow | tensorflow-gpu (default: auto, or GRPO_BACKEND)")
    .option("--quiet", "print no per-step progress or summary")
    .action(async (opts: TrainCommandOptions) => {
      const code = await runTrainCommand(opts, io);
      if (code !== 0) process.exitCode = code;
    });
}
