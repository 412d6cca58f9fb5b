/**
 * What the trainer tells the outside world: the step report and typed callback events.
 */
import type { MultiTurnTrajectory, TrajectoryGroup } from "../core/trajectory.js";
import type { StepMetrics } from "./history.js";

/** Everything one GRPO step did, for inspection in a notebook or a log. */
export interface StepReport {
  /** The optimizer step this report is for (1-based). */
  step: number;
  /** Episodes rolled out so far, this step's included. */
  episodes: number;
  /** The groups of trajectories, one per scenario, each already scored. */
  groups: TrajectoryGroup[];
  /** Group-relative advantages, `advantages[g][i]` for trajectory i of group g. */
  advantages: number[][];
  /** The GRPO loss (mean over the optimisation passes of this step). */
  loss: number;
  /** All metrics of the step (see `METRIC_DOCS`). */
  metrics: StepMetrics;
}

/** Why training ended. */
export type TrainEndReason = "completed" | "stopped" | "early_stopping" | "aborted" | "error";

/** A change the AutoTrainer (or a user) made to a knob during training. */
export interface ConfigAdjustment {
  step: number;
  knob: string;
  from: number;
  to: number;
  reason: string;
}

/** Typed events, in the order they happen. */
export type TrainerEvent =
  | { type: "train_start"; step: number; totalSteps: number }
  | { type: "episode_end"; step: number; trajectory: MultiTurnTrajectory }
  | { type: "step_end"; step: number; report: StepReport }
  | { type: "checkpoint"; step: number; dir: string }
  | { type: "adjustment"; adjustment: ConfigAdjustment }
  | { type: "train_end"; step: number; reason: TrainEndReason; error?: unknown };

/**
 * A training callback. Implement any subset; each hook may be async (the trainer awaits it).
 * `onEvent` receives every event, the specific hooks only theirs.
 */
export interface TrainerCallback {
  onTrainStart?(event: Extract<TrainerEvent, { type: "train_start" }>): void | Promise<void>;
  onEpisodeEnd?(event: Extract<TrainerEvent, { type: "episode_end" }>): void | Promise<void>;
  onStepEnd?(event: Extract<TrainerEvent, { type: "step_end" }>): void | Promise<void>;
  onCheckpoint?(event: Extract<TrainerEvent, { type: "checkpoint" }>): void | Promise<void>;
  onAdjustment?(event: Extract<TrainerEvent, { type: "adjustment" }>): void | Promise<void>;
  onTrainEnd?(event: Extract<TrainerEvent, { type: "train_end" }>): void | Promise<void>;
  onEvent?(event: TrainerEvent): void | Promise<void>;
}

const HOOKS = {
  train_start: "onTrainStart",
  episode_end: "onEpisodeEnd",
  step_end: "onStepEnd",
  checkpoint: "onCheckpoint",
  adjustment: "onAdjustment",
  train_end: "onTrainEnd",
} as const;

/** Delivers `event` to every callback's specific hook and its `onEvent`, in order. */
export async function dispatchEvent(callbacks: readonly TrainerCallback[], event: TrainerEvent): Promise<void> {
  const hook = HOOKS[event.type];
  for (const cb of callbacks) {
    const specific = cb[hook] as ((e: TrainerEvent) => void | Promise<void>) | undefined;
    if (specific) await specific.call(cb, event);
    if (cb.onEvent) await cb.onEvent(event);
  }
}
