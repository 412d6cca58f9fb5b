/**
 * `train()`: the usage guide's one-call training, with a progress bar and the guide's summary block.
 */
import cliProgress from "cli-progress";
import type { Agent } from "../core/agent.js";
import { TaskEnvironment, type Environment } from "../core/environment.js";
import { GrpoError } from "../core/errors.js";
import type { RewardFunction } from "../core/reward.js";
import { helpfulAgentReward, taskAgentReward } from "../core/rewards/index.js";
import { mean, std } from "../core/stats.js";
import { backendReport } from "../model/backend.js";
import type { GRPOConfigOverrides, TrainingProfile } from "./config.js";
import { DiagnosticsMonitor, type HealthStatus } from "./diagnostics.js";
import type { StepReport, TrainEndReason, TrainerCallback } from "./events.js";
import { GRPOTrainer } from "./trainer.js";

/** Options of {@link train}: the guide's keyword arguments in camelCase. */
export interface TrainOptions {
  agent: Agent;
  environment: Environment;
  /**
   * How trajectories are scored. Default: `taskAgentReward()` for a TaskEnvironment,
   * `helpfulAgentReward()` otherwise.
   */
  reward?: RewardFunction;
  /** Episodes to roll out in total (default 100; rounded up to whole steps). */
  numEpisodes?: number;
  /** `conservative` | `balanced` (default) | `aggressive`. */
  profile?: TrainingProfile;
  /** Knob overrides, camelCase or snake_case (`learning_rate`, `num_generations`, …). */
  configOverrides?: GRPOConfigOverrides;
  /** Training callbacks (e.g. a DiagnosticsMonitor). */
  callbacks?: TrainerCallback[];
  /** Where to save the trained agent (a checkpoint folder `loadAgentFromCheckpoint` reads). */
  savePath?: string;
  /** Folder for metrics.jsonl and periodic checkpoints (default: none). */
  runDir?: string;
  /** Print a progress bar and the summary (default true). */
  verbose?: boolean;
  /** Stops training at the next safe point; the agent keeps what it learned so far. */
  signal?: AbortSignal;
  /** Called with the trainer before training starts (for tools built on `train`, e.g. live plots). */
  onTrainerCreated?: (trainer: GRPOTrainer) => void;
}

/** What a training run produced. */
export interface TrainingResult {
  agent: Agent;
  trainer: GRPOTrainer;
  reason: TrainEndReason;
  summary: TrainingSummary;
}

/** The numbers of the guide's summary block. */
export interface TrainingSummary {
  episodes: number;
  steps: number;
  /** Mean and std of the total reward over the final window's trajectories. */
  finalRewardMean: number;
  finalRewardStd: number;
  /** Share of the final window's episodes that succeeded. */
  successRate: number;
  /** Mean number of assistant turns per episode over the final window. */
  averageEpisodeLength: number;
  health: HealthStatus;
  backend: string;
  savedTo?: string;
  reason: TrainEndReason;
  seconds: number;
}

/** Summarises the last `window` step reports (the "final" numbers of the summary). */
export function summarize(
  reports: readonly StepReport[],
  health: HealthStatus,
  extra: { episodes: number; steps: number; reason: TrainEndReason; seconds: number; savedTo?: string },
): TrainingSummary {
  const trajectories = reports.flatMap((r) => r.groups.flatMap((g) => g.trajectories));
  const rewards = trajectories.map((t) => t.totalReward);
  return {
    episodes: extra.episodes,
    steps: extra.steps,
    finalRewardMean: mean(rewards),
    finalRewardStd: std(rewards),
    successRate: mean(trajectories.map((t) => (t.success ? 1 : 0))),
    averageEpisodeLength: mean(trajectories.map((t) => t.episodeLength)),
    health,
    backend: backendReport()?.name ?? "unknown",
    savedTo: extra.savedTo,
    reason: extra.reason,
    seconds: extra.seconds,
  };
}

const qualifier = {
  diversity: (v: number) => (v >= 0.05 ? "good" : v >= 0.01 ? "low" : "too low"),
  stability: (v: number) => (v >= 0.6 ? "stable" : v >= 0.35 ? "variable" : "unstable"),
};

/** The guide's summary block as text. */
export function formatSummary(s: TrainingSummary): string {
  const lines = [
    "GRPO Agent Framework - Training Complete",
    "======================================",
    `Episodes: ${s.episodes}`,
    `Final Reward: ${s.finalRewardMean.toFixed(3)} ± ${s.finalRewardStd.toFixed(3)}`,
    `Success Rate: ${(100 * s.successRate).toFixed(1)}%`,
    `Average Episode Length: ${s.averageEpisodeLength.toFixed(1)} turns`,
    "",
    `Training Health: ${s.health.status}`,
    `- Reward diversity: ${s.health.rewardDiversity.toFixed(3)} (${qualifier.diversity(s.health.rewardDiversity)})`,
    `- Gradient stability: ${s.health.gradientStability.toFixed(3)} (${qualifier.stability(s.health.gradientStability)})`,
    ...(s.health.issues.length === 0 ? ["- No major issues detected"] : s.health.issues.map((i) => `- ${i.level}: ${i.message}`)),
    "",
    `Steps: ${s.steps} (${s.reason}) in ${s.seconds.toFixed(1)} s on the ${s.backend} backend`,
  ];
  if (s.savedTo) lines.push(`Agent saved to: ${s.savedTo}`);
  return lines.join("\n");
}

/** Final-window size: the last 10% of steps, at least 1 and at most 10. */
function finalWindow(steps: number): number {
  return Math.max(1, Math.min(10, Math.ceil(steps / 10)));
}

/**
 * Trains the agent with GRPO and returns everything: the agent, the trainer, why it stopped and
 * the summary. {@link train} is the guide's shorthand returning only the agent.
 */
export async function runTraining(options: TrainOptions): Promise<TrainingResult> {
  if (options === null || typeof options !== "object") {
    throw new GrpoError("invalid_argument", "train() takes one options object.", {
      expected: "{ agent, environment, numEpisodes?, profile?, configOverrides?, callbacks?, savePath? }",
    });
  }
  const started = performance.now();
  const verbose = options.verbose ?? true;
  const reward = options.reward ?? (options.environment instanceof TaskEnvironment ? taskAgentReward() : helpfulAgentReward());
  const monitor = options.callbacks?.find((c): c is DiagnosticsMonitor => c instanceof DiagnosticsMonitor) ?? new DiagnosticsMonitor();
  const reports: StepReport[] = [];
  const collector: TrainerCallback = { onStepEnd: (e) => { reports.push(e.report); } };
  const callbacks = [...(options.callbacks ?? []), ...(options.callbacks?.includes(monitor) ? [] : [monitor]), collector];
  const overrides = { ...(options.configOverrides ?? {}) } as Record<string, unknown>;
  if (options.numEpisodes !== undefined && overrides.numEpisodes === undefined && overrides.num_episodes === undefined) {
    overrides.numEpisodes = options.numEpisodes;
  }
  const trainer = await GRPOTrainer.create({
    agent: options.agent, environment: options.environment, reward, profile: options.profile,
    configOverrides: overrides, callbacks, runDir: options.runDir,
  });

  options.onTrainerCreated?.(trainer);
  let bar: cliProgress.SingleBar | undefined;
  if (verbose) {
    bar = new cliProgress.SingleBar({
      format: "GRPO |{bar}| {value}/{total} steps | episodes {episodes} | reward {reward} | ETA {eta_formatted}",
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic);
    bar.start(trainer.totalSteps, 0, { episodes: 0, reward: "-" });
    trainer.callbacks.push({
      onStepEnd: (e) => bar?.update(e.step, { episodes: e.report.episodes, reward: e.report.metrics.reward.toFixed(3) }),
    });
  }
  let reason: TrainEndReason;
  try {
    reason = await trainer.run({ signal: options.signal });
  } finally {
    bar?.stop();
  }
  if (options.savePath) await trainer.save(options.savePath);
  const window = finalWindow(reports.length);
  const summary = summarize(reports.slice(-window), monitor.getHealthStatus(), {
    episodes: trainer.episodes, steps: trainer.stepCount, reason, savedTo: options.savePath,
    seconds: (performance.now() - started) / 1000,
  });
  if (verbose) console.log(`\n${formatSummary(summary)}`);
  return { agent: options.agent, trainer, reason, summary };
}

/**
 * Trains the agent with GRPO (the usage guide's `train`): `await train({ agent, environment,
 * numEpisodes: 100, profile: "balanced" })` returns the trained agent and prints the summary.
 */
export async function train(options: TrainOptions): Promise<Agent> {
  return (await runTraining(options)).agent;
}
