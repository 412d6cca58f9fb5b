/**
 * AutoTrainer: measures a baseline, picks a profile from it, and (with `autoAdjust`) turns knobs
 * during training when the health signals call for it. Every decision is logged as an event.
 *
 * Profile rule (documented, deterministic), from the baseline's mean reward r̄ and reward diversity d
 * (mean within-group reward std):
 * - d < `lowDiversity` (0.02): the groups barely differ, so steps must be bold to move at all →
 *   `aggressive`, and the sampling temperature is raised by 25% (at most 1.5) for exploration;
 * - r̄ ≥ `easyReward` (0.8): the agent is already good; protect it → `conservative`;
 * - otherwise → `balanced`.
 *
 * Adjustment rules (checked after every step, each at most once per `cooldown` steps):
 * - `frac_reward_zero_std` > 0.5 for 3 steps in a row → temperature × 1.2 (≤ 1.5): more exploration;
 * - entropy below 0.1 nats/token → temperature × 1.2 (≤ 1.5): the policy is collapsing;
 * - KL above 0.3, or a grad-norm spike (> 5× the median of the last 10) → learning rate × 0.5.
 */
import type { Agent } from "../core/agent.js";
import type { Environment } from "../core/environment.js";
import { GrpoError } from "../core/errors.js";
import type { RewardFunction } from "../core/reward.js";
import { helpfulAgentReward } from "../core/rewards/index.js";
import type { TrainingProfile } from "./config.js";
import type { ConfigAdjustment, TrainerCallback, TrainerEvent } from "./events.js";
import { evaluate } from "./evaluate.js";
import type { StepMetrics } from "./history.js";
import { runTraining, type TrainingResult, type TrainOptions } from "./train.js";
import type { GRPOTrainer } from "./trainer.js";

/** Options of {@link AutoTrainer}. */
export interface AutoTrainerOptions {
  /** Adjust knobs during training from health signals (default true). */
  autoAdjust?: boolean;
  /** Stop when the smoothed reward stops improving (default true). */
  earlyStopping?: boolean;
  /** Steps without improvement before stopping (default 50). */
  patience?: number;
  /** Episodes per scenario in the baseline evaluation (default 4). */
  baselineEpisodes?: number;
  /** Scenarios in the baseline evaluation (default: up to 4). */
  baselineScenarios?: number;
  /** Steps between two adjustments of the same knob (default 5). */
  cooldown?: number;
}

/** What the baseline evaluation found and which profile it led to. */
export interface BaselineAssessment {
  meanReward: number;
  rewardStd: number;
  /** Mean within-group reward std. */
  rewardDiversity: number;
  successRate: number;
  profile: TrainingProfile;
  reason: string;
}

const LOW_DIVERSITY = 0.02;
const EASY_REWARD = 0.8;
const MAX_TEMPERATURE = 1.5;

/** Picks a profile from a baseline (see the module comment). Pure. */
export function chooseProfile(meanReward: number, rewardDiversity: number): { profile: TrainingProfile; reason: string } {
  if (rewardDiversity < LOW_DIVERSITY) {
    return { profile: "aggressive", reason: `reward diversity ${rewardDiversity.toFixed(3)} < ${LOW_DIVERSITY}: bolder steps and more exploration` };
  }
  if (meanReward >= EASY_REWARD) {
    return { profile: "conservative", reason: `baseline reward ${meanReward.toFixed(3)} ≥ ${EASY_REWARD}: already good, protect it` };
  }
  return { profile: "balanced", reason: `baseline reward ${meanReward.toFixed(3)}, diversity ${rewardDiversity.toFixed(3)}: a normal task` };
}

/** A proposed knob change. */
export interface ProposedAdjustment {
  knob: "temperature" | "learningRate";
  factor: number;
  reason: string;
}

/** The adjustments the rules call for after the latest step (see the module comment). Pure. */
export function proposeAdjustments(history: readonly StepMetrics[]): ProposedAdjustment[] {
  const out: ProposedAdjustment[] = [];
  const last = history[history.length - 1];
  if (!last) return out;
  const recent = history.slice(-3);
  if (recent.length === 3 && recent.every((m) => (m.frac_reward_zero_std ?? 0) > 0.5)) {
    out.push({ knob: "temperature", factor: 1.2, reason: "over half of the groups had identical rewards for 3 steps" });
  } else if (Number.isFinite(last.entropy) && last.entropy < 0.1) {
    out.push({ knob: "temperature", factor: 1.2, reason: `entropy ${last.entropy.toFixed(3)} < 0.1: the policy is collapsing` });
  }
  const norms = history.slice(-11, -1).map((m) => m.grad_norm).filter(Number.isFinite).sort((a, b) => a - b);
  const median = norms.length ? norms[norms.length >> 1] : Number.NaN;
  if (Number.isFinite(last.kl) && last.kl > 0.3) {
    out.push({ knob: "learningRate", factor: 0.5, reason: `KL ${last.kl.toFixed(3)} > 0.3` });
  } else if (norms.length >= 4 && median > 0 && last.grad_norm > 5 * median) {
    out.push({ knob: "learningRate", factor: 0.5, reason: `grad norm ${last.grad_norm.toFixed(3)} > 5× the recent median ${median.toFixed(3)}` });
  }
  return out;
}

/** The usage guide's AutoTrainer. */
export class AutoTrainer {
  readonly options: Required<AutoTrainerOptions>;
  /** The baseline of the last `train()` call. */
  baseline?: BaselineAssessment;
  /** Every adjustment made during the last `train()` call. */
  readonly adjustments: ConfigAdjustment[] = [];

  constructor(options: AutoTrainerOptions = {}) {
    this.options = {
      autoAdjust: options.autoAdjust ?? true,
      earlyStopping: options.earlyStopping ?? true,
      patience: options.patience ?? 50,
      baselineEpisodes: options.baselineEpisodes ?? 4,
      baselineScenarios: options.baselineScenarios ?? 4,
      cooldown: options.cooldown ?? 5,
    };
    if (!Number.isInteger(this.options.patience) || this.options.patience < 1) {
      throw new GrpoError("invalid_config", "AutoTrainer patience must be a positive integer.", {
        field: "AutoTrainer.patience", value: options.patience, expected: "an integer >= 1 (steps)",
      });
    }
  }

  /** Plays the baseline episodes with the untrained agent and picks a profile. */
  async assess(agent: Agent, environment: Environment, reward: RewardFunction): Promise<BaselineAssessment> {
    const report = await evaluate({
      agent, environment, reward,
      scenarios: environment.scenarios().slice(0, this.options.baselineScenarios),
      episodesPerScenario: this.options.baselineEpisodes,
    });
    return {
      meanReward: report.meanReward, rewardStd: report.rewardStd, rewardDiversity: report.rewardDiversity,
      successRate: report.successRate, ...chooseProfile(report.meanReward, report.rewardDiversity),
    };
  }

  /** A callback applying {@link proposeAdjustments} to a trainer after each step. */
  private adjuster(trainerRef: { current?: GRPOTrainer }): TrainerCallback {
    const lastChange = new Map<string, number>();
    return {
      onStepEnd: async (e: Extract<TrainerEvent, { type: "step_end" }>) => {
        const trainer = trainerRef.current;
        if (!trainer || !this.options.autoAdjust) return;
        for (const p of proposeAdjustments(trainer.history.steps)) {
          if (e.step - (lastChange.get(p.knob) ?? -Infinity) < this.options.cooldown) continue;
          const current = p.knob === "temperature" ? trainer.agent.config.temperature : trainer.config.learningRate;
          const next = p.knob === "temperature" ? Math.min(MAX_TEMPERATURE, current * p.factor) : current * p.factor;
          if (next === current) continue;
          this.adjustments.push(await trainer.adjust(p.knob, next, p.reason));
          lastChange.set(p.knob, e.step);
        }
      },
    };
  }

  /**
   * Trains like {@link runTraining} after the baseline has chosen the profile; `configOverrides`
   * still win over the profile. Returns the trained agent (see {@link trainWithReport} for more).
   */
  async train(options: Omit<TrainOptions, "profile">): Promise<Agent> {
    return (await this.trainWithReport(options)).agent;
  }

  /** Like {@link train}, returning the full result, with the baseline and adjustments on `this`. */
  async trainWithReport(options: Omit<TrainOptions, "profile">): Promise<TrainingResult & { baseline: BaselineAssessment }> {
    this.adjustments.length = 0;
    const reward = options.reward ?? helpfulAgentReward();
    const baseline = await this.assess(options.agent, options.environment, reward);
    this.baseline = baseline;
    const overrides: Record<string, unknown> = {
      earlyStopping: this.options.earlyStopping, patience: this.options.patience, ...(options.configOverrides ?? {}),
    };
    if (baseline.profile === "aggressive" && overrides.temperature === undefined) {
      overrides.temperature = Math.min(MAX_TEMPERATURE, Math.max(0.1, options.agent.config.temperature) * 1.25);
    }
    if (options.verbose ?? true) console.log(`AutoTrainer: baseline reward ${baseline.meanReward.toFixed(3)}, profile ${baseline.profile} (${baseline.reason})`);
    const trainerRef: { current?: GRPOTrainer } = {};
    const result = await runTraining({
      ...options, reward, profile: baseline.profile, configOverrides: overrides,
      callbacks: [...(options.callbacks ?? []), this.adjuster(trainerRef)],
      onTrainerCreated: (trainer) => { trainerRef.current = trainer; },
    });
    return { ...result, baseline };
  }
}
