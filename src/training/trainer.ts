/**
 * GRPOTrainer: real GRPO on the agent's TensorFlow.js policy, one inspectable step at a time.
 *
 * One `step()` reads top to bottom:
 *   scenarios → rollouts (numGenerations episodes each, sampled as batches) → rewards
 *   → groups → group-relative advantages → training rows (assistant tokens only)
 *   → for each of numIterations passes: per-token log-probs → ratio → clipped surrogate (+ β·KL)
 *     → weighted sum (the loss type's normalisation) → gradients → clip → AdamW
 *   → metrics → callbacks (→ checkpoint).
 *
 * A step that fails or is aborted before the optimizer update leaves weights, optimizer state, RNGs
 * and counters exactly as they were (everything is committed at the end of the step).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Agent, MultiTurnAgent, type AgentConfig } from "../core/agent.js";
import type { Environment, Scenario } from "../core/environment.js";
import { runEpisodes } from "../core/episode.js";
import { AbortedError, GrpoError, throwIfAborted } from "../core/errors.js";
import { withAmbientSignal } from "../core/interrupt.js";
import type { RewardFunction } from "../core/reward.js";
import { mean, std } from "../core/stats.js";
import { TrajectoryGroup, type MultiTurnTrajectory } from "../core/trajectory.js";
import { TfPolicy } from "../model/policy.js";
import { saveModelFolder } from "../model/weights.js";
import { readSafetensorsFile, writeSafetensorsFile } from "../model/safetensors.js";
import { buildRows, microBatches, padRows, tokenWeights, type PaddedBatch, type TrainingRow } from "./batch.js";
import { writeCheckpointDir } from "./checkpoint.js";
import {
  checkpointName, findResumeCheckpoint, folderKind, removeLeftovers, rewriteMetricsLog, rotateCheckpoints,
  TRAINER_STATE_FILE, writeLatest, type ResumeSource,
} from "./checkpoints.js";
import {
  learningRateAt,
  resolveGRPOConfig,
  totalTrainingSteps,
  type GRPOConfig,
  type GRPOConfigOverrides,
  type TrainingProfile,
} from "./config.js";
import { dispatchEvent, type ConfigAdjustment, type StepReport, type TrainEndReason, type TrainerCallback, type TrainerEvent } from "./events.js";
import { TrainingHistory, type StepMetrics } from "./history.js";
import { AdamW, clipByGlobalNorm, type AdamWState } from "./optimizer.js";
import { ScenarioSampler, type SamplerState } from "./sampler.js";
import { appendStepLogs, assertFreshRunDir, truncateTrajectoryLog, writeRunInfo } from "./runlog.js";
import { PassGradients, type PassSums } from "./gradients.js";

/** Options of {@link GRPOTrainer.create}. */
export interface GRPOTrainerOptions {
  /** The agent to train; its policy must be a TensorFlow.js policy (`builtin:…` or a local model folder). */
  agent: Agent;
  /** Where episodes are played; its `scenarios()` are the training scenarios. */
  environment: Environment;
  /** Scores each trajectory. */
  reward: RewardFunction;
  /** Base settings (default `balanced`). */
  profile?: TrainingProfile;
  /** Knob overrides (camelCase or the guide's snake_case). */
  configOverrides?: GRPOConfigOverrides;
  /** Callbacks receiving training events (e.g. a DiagnosticsMonitor). */
  callbacks?: TrainerCallback[];
  /**
   * Folder for `metrics.jsonl`, `trajectories.jsonl` (see `logTrajectorySteps`) and `checkpoint-<step>`
   * folders (every `saveSteps`); `grpo report <runDir>` turns it into an HTML report. Optional. A folder
   * that holds an earlier run is refused: continue that run with {@link GRPOTrainer.resume}.
   */
  runDir?: string;
}

/** Options of {@link GRPOTrainer.run}. */
export interface RunOptions {
  /** Steps to run from now (default: until the configured total is reached). */
  steps?: number;
  /** Or: episodes to roll out from now (rounded up to whole steps). */
  episodes?: number;
  /** Stops at the next safe point (between steps, or aborting an unfinished rollout, which changes nothing). */
  signal?: AbortSignal;
}

/** Options of {@link GRPOTrainer.resume}. */
export interface ResumeOptions {
  environment: Environment;
  reward: RewardFunction;
  callbacks?: TrainerCallback[];
  /** An agent (not yet initialized, e.g. a ToolAgent with its tools) to receive the trained policy. */
  agent?: Agent;
  /**
   * Continue logging/checkpointing into this folder. Default: the run folder when `resume` was given
   * one; none when it was given a checkpoint folder. Its `metrics.jsonl` is rewritten to the
   * checkpoint's history, so steps logged after that checkpoint (before a crash) are not duplicated.
   */
  runDir?: string;
  /**
   * When the newest checkpoint of a run folder fails verification, resume from the newest intact
   * one instead (default false: fail with an error naming the corrupt file and the intact checkpoint).
   * What was skipped is in `trainer.resumedFrom.skipped`.
   */
  fallback?: boolean;
}

/** `trainer_state.json`. */
interface TrainerStateJSON {
  format: "grpo-agent-framework/trainer-state";
  version: 1;
  step: number;
  episodes: number;
  profile: TrainingProfile;
  config: GRPOConfig;
  totalSteps: number;
  agent: { className: string; config: AgentConfig };
  policyRng: ReturnType<TfPolicy["getRngState"]>;
  sampler: SamplerState;
  history: StepMetrics[];
  earlyStopping: { best: number; badSteps: number };
  hasReference: boolean;
  optimizerStep: number;
}

const EARLY_STOPPING_WINDOW = 5;

/** What a trainer is built from (after `create`'s checks, or read from a checkpoint). */
export interface TrainerInit {
  agent: Agent; environment: Environment; reward: RewardFunction; profile: TrainingProfile; config: GRPOConfig;
  callbacks: TrainerCallback[]; runDir?: string; history?: TrainingHistory;
}

/** One step's gradient source: a pass returns the summed gradient of every micro-batch (caller disposes). */
export interface StepPasses {
  pass(signal?: AbortSignal): Promise<{ grads: Record<string, tf.Tensor>; sums: PassSums }>;
  release(): void | Promise<void>;
}

/**
 * Largest [tokens × vocabulary] logits tensor one micro-batch may create (512K floats = 2 MiB: one
 * full 256-token row of the built-in model's 2048-token vocabulary; the backward pass holds several
 * tensors of that size). Larger steps are split into more micro-batches (at least one row each).
 *
 * Why so small: the wasm heap grows to the largest working set a step ever needs and never shrinks.
 * Measured with `npm start` (quick start, 22 steps, seed 0, `/usr/bin/time -v`, quiet machine):
 * budget 4M → peak RSS 1.94 GB, training 64.6 s; 1M → 0.90 GB, 59.7 s; 512K → 0.68 GB, 56.5 s (smaller
 * passes are no slower: they stay in cache). A task-planning step of 36 rows × up to 256 tokens
 * (~75 MB per logits tensor) in one pass also crashed the wasm backend inside LogSoftmax's gradient
 * ("table index is out of bounds"); under a budget the same step runs.
 */
const MAX_LOGIT_ELEMENTS = 512 * 1024;

/** Knobs {@link GRPOTrainer.adjust} may change between steps. */
export const ADJUSTABLE_KNOBS = ["learningRate", "temperature", "maxGradNorm", "epsilon", "epsilonHigh"] as const;
/** One of {@link ADJUSTABLE_KNOBS}. */
export type AdjustableKnob = (typeof ADJUSTABLE_KNOBS)[number];


function trainablePolicy(agent: Agent): TfPolicy {
  if (!(agent.policy instanceof TfPolicy)) {
    throw new GrpoError("invalid_argument", "This agent's model cannot be trained here.", {
      field: "agent.policy",
      value: agent.policy?.name ?? agent.policy,
      expected: "a TensorFlow.js policy: modelName `builtin:tiny-chat` (or another `builtin:<name>`), a local HF GPT-2 folder, or a checkpoint (`loadAgentFromCheckpoint(dir)`)",
      fix: "train one of those; remote models (`openai:<model>`) only sample text (no token log-probs or weights here), " +
        "so they can play episodes, be evaluated, judge (LLMJudgeReward) and simulate users, but not be trained.",
    });
  }
  return agent.policy;
}

/** GRPO training of an agent against an environment. Create with {@link GRPOTrainer.create}. */
export class GRPOTrainer {
  readonly agent: Agent;
  readonly environment: Environment;
  readonly reward: RewardFunction;
  readonly profile: TrainingProfile;
  /** The resolved configuration (profile + overrides). Knobs may be adjusted between steps. */
  readonly config: GRPOConfig;
  /** Metrics of every step so far. */
  readonly history: TrainingHistory;
  readonly callbacks: TrainerCallback[];
  runDir?: string;

  /** Steps completed. */
  stepCount = 0;
  /** Episodes rolled out in completed steps. */
  episodes = 0;
  /** The step count `run()` aims for when given no explicit length. */
  totalSteps: number;
  /** The last step's report. */
  lastReport?: StepReport;
  /** The checkpoint this trainer was resumed from (and any corrupt ones skipped), when resumed. */
  resumedFrom?: ResumeSource;

  protected readonly policy: TfPolicy;
  protected readonly optimizer: AdamW;
  private readonly sampler: ScenarioSampler<Scenario>;
  protected reference?: Record<string, tf.Tensor>;
  private stopRequested = false;
  /** Tests only: force the number of micro-batches a step is split into. */
  private splitOverride?: number;
  private stepping = false;
  private running = false;
  /** Every knob change made during training, in order. */
  readonly adjustments: ConfigAdjustment[] = [];
  private best = Number.NEGATIVE_INFINITY;
  private badSteps = 0;

  protected constructor(init: TrainerInit) {
    this.agent = init.agent;
    this.environment = init.environment;
    this.reward = init.reward;
    this.profile = init.profile;
    this.config = init.config;
    this.callbacks = init.callbacks;
    this.runDir = init.runDir;
    this.history = init.history ?? new TrainingHistory();
    this.policy = trainablePolicy(init.agent);
    this.totalSteps = totalTrainingSteps(this.config);
    this.optimizer = new AdamW(this.policy.model.params, {
      beta1: this.config.adamBeta1,
      beta2: this.config.adamBeta2,
      epsilon: this.config.adamEpsilon,
      weightDecay: this.config.weightDecay,
    });
    this.sampler = new ScenarioSampler(init.environment.scenarios(), this.config.seed);
    if (this.config.beta > 0) this.reference = this.snapshotWeights();
    this.applySamplingOverrides();
  }

  /**
   * Builds a trainer. The agent is initialized if it is not yet; the policy's sampling RNG is
   * re-seeded from `config.seed` so runs are reproducible.
   */
  static async create(options: GRPOTrainerOptions): Promise<GRPOTrainer> {
    return new GRPOTrainer(await GRPOTrainer.prepare(options, "GRPOTrainer.create"));
  }

  /** Checks the options of a `create`, resolves the config and initializes the agent. */
  protected static async prepare(options: GRPOTrainerOptions, caller: string): Promise<TrainerInit> {
    if (!(options?.agent instanceof Agent)) {
      throw new GrpoError("invalid_argument", `${caller} needs an agent.`, {
        field: "agent", value: options?.agent, expected: "an Agent (e.g. `new MultiTurnAgent({ modelName })`)",
      });
    }
    if (typeof options.environment?.scenarios !== "function") {
      throw new GrpoError("invalid_argument", `${caller} needs an environment.`, {
        field: "environment", value: options.environment, expected: "an Environment (ConversationEnvironment, TaskEnvironment or a subclass)",
      });
    }
    if (typeof options.reward?.computeReward !== "function") {
      throw new GrpoError("invalid_argument", `${caller} needs a reward function.`, {
        field: "reward", value: options.reward, expected: "a RewardFunction (a built-in, a CompositeReward or `rewardFunction(...)`)",
      });
    }
    const profile = options.profile ?? "balanced";
    const config = resolveGRPOConfig({ profile, overrides: options.configOverrides });
    if (options.runDir !== undefined) await assertFreshRunDir(options.runDir);
    if (!options.agent.isInitialized) await options.agent.initialize();
    trainablePolicy(options.agent).reseed(config.seed);
    if (options.runDir !== undefined) {
      await writeRunInfo(options.runDir, { profile, config: { ...config }, agent: { className: options.agent.constructor.name, modelName: options.agent.config.modelName } });
    }
    return {
      agent: options.agent, environment: options.environment, reward: options.reward, profile, config,
      callbacks: options.callbacks ?? [], runDir: options.runDir,
    };
  }

  /** Rollout sampling knobs set in the config override the agent's own. */
  private applySamplingOverrides(): void {
    const c = this.config;
    const o: Partial<AgentConfig> = {};
    if (c.temperature !== undefined) o.temperature = c.temperature;
    if (c.topP !== undefined) o.topP = c.topP;
    if (c.topK !== undefined) o.topK = c.topK;
    if (c.maxNewTokens !== undefined) o.maxNewTokens = c.maxNewTokens;
    Object.assign(this.agent.config, o);
  }

  /** The sampling temperature the loss recomputes log-probs at (the rollout's; 1 when greedy). */
  private get lossTemperature(): number {
    const t = this.agent.config.temperature;
    return t > 0 ? t : 1;
  }

  /**
   * Changes a knob between steps (the AutoTrainer does this; so can a user in a notebook) and
   * emits an `adjustment` event. `temperature` changes the rollout sampling (and the temperature the
   * loss recomputes log-probs at); the others change `config`.
   */
  async adjust(knob: AdjustableKnob, value: number, reason: string): Promise<ConfigAdjustment> {
    if (!ADJUSTABLE_KNOBS.includes(knob)) {
      throw new GrpoError("invalid_argument", "This knob cannot be changed during training.", {
        field: "knob", value: knob, expected: ADJUSTABLE_KNOBS.map((k) => `"${k}"`).join(" | "),
      });
    }
    const valid = knob === "temperature" ? value >= 0 : knob === "maxGradNorm" ? value >= 0 : value > 0;
    if (!Number.isFinite(value) || !valid) {
      throw new GrpoError("invalid_argument", `Invalid new value for \`${knob}\`.`, {
        field: knob, value, expected: knob === "temperature" || knob === "maxGradNorm" ? "a finite number >= 0" : "a finite number > 0",
      });
    }
    const from = knob === "temperature" ? this.agent.config.temperature : this.config[knob];
    if (knob === "temperature") {
      this.agent.config.temperature = value;
      this.config.temperature = value;
    } else {
      this.config[knob] = value;
    }
    const adjustment: ConfigAdjustment = { step: this.stepCount, knob, from, to: value, reason };
    this.adjustments.push(adjustment);
    await this.emit({ type: "adjustment", adjustment });
    return adjustment;
  }

  /** The learning rate of the next optimizer update (the schedule runs over totalSteps × numIterations updates). */
  private nextLearningRate(): number {
    const updates = Math.max(1, this.totalSteps * this.config.numIterations);
    return learningRateAt(Math.min(this.optimizer.stepCount, updates - 1), updates, this.config);
  }

  /** Asks a running `run()` to stop after the current step. */
  stop(): void {
    this.stopRequested = true;
  }

  private async emit(event: TrainerEvent): Promise<void> {
    await dispatchEvent(this.callbacks, event);
  }

  /** The model's current weights, copied (for the reference model). */
  private snapshotWeights(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, v] of Object.entries(this.policy.model.params)) out[name] = tf.clone(v);
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // One step

  /**
   * Runs exactly one GRPO step and returns its report. Aborting (signal) during the rollout throws
   * an `aborted` GrpoError and changes nothing.
   */
  async step(options: { signal?: AbortSignal } = {}): Promise<StepReport> {
    if (this.stepping) {
      throw new GrpoError("invalid_argument", "A training step is already running on this trainer.", {
        fix: "await the running `step()`/`run()` first (or call `trainer.stop()` and await `run()`).",
      });
    }
    this.stepping = true;
    try {
      // A kernel interrupt (the ambient signal) stops the step like `signal` does.
      return await this.stepOnce({ ...options, signal: withAmbientSignal(options.signal) });
    } finally {
      this.stepping = false;
    }
  }

  private async stepOnce(options: { signal?: AbortSignal }): Promise<StepReport> {
    const { signal } = options;
    const c = this.config;
    const t0 = performance.now();
    throwIfAborted(signal, "The training step");

    // Everything that a failed step must not change is saved first and restored on failure.
    const samplerBefore = this.sampler.getState();
    const rngBefore = this.policy.getRngState();
    let committed = false;
    try {
      // 1. Scenarios and rollouts: every episode of the step runs concurrently, so the policy
      //    samples each turn of all of them as one batch.
      const scenarios = this.sampler.next(c.scenariosPerStep * c.gradientAccumulationSteps);
      const plays = scenarios.flatMap((s) => Array.from({ length: c.numGenerations }, () => s));
      const trajectories = await runEpisodes(this.agent, this.environment, plays, {
        reward: this.reward, signal, rewardTimeoutMs: c.rewardTimeoutMs,
      });
      const tRollout = performance.now();
      throwIfAborted(signal, "The training step");

      // 2. Groups and group-relative advantages.
      const groups = scenarios.map((s, g) =>
        new TrajectoryGroup(s.id, trajectories.slice(g * c.numGenerations, (g + 1) * c.numGenerations)));
      if (c.rewardWeights) for (const t of trajectories) this.reweight(t);
      const allRewards = trajectories.map((t) => t.totalReward);
      const bad = trajectories.find((t) => !Number.isFinite(t.totalReward));
      const batchStd = std(allRewards);
      const advantages = groups.map((g) =>
        g.advantages({ scale: c.scaleRewards, epsilon: c.advantageEpsilon, batchStd }));

      // 3. Optimisation (skipped only when a reward is not finite: that step is reported, not applied).
      let loss = 0;
      let lossMetrics: { kl: number; clipLow: number; clipHigh: number; entropy: number; gradNorm: number } = {
        kl: 0, clipLow: 0, clipHigh: 0, entropy: 0, gradNorm: 0,
      };
      const lr = this.nextLearningRate(); // the step's first update (reported in the metrics)
      if (!bad) {
        const rows = buildRows(groups, advantages);
        ({ loss, ...lossMetrics } = await this.optimize(rows, trajectories.length, signal));
      }
      const tOptimize = performance.now();

      // 4. Commit counters and metrics.
      committed = true;
      this.stepCount += 1;
      this.episodes += trajectories.length;
      const metrics = this.stepMetrics(groups, trajectories, {
        loss, lr, ...lossMetrics,
        rolloutS: (tRollout - t0) / 1000, optimizeS: (tOptimize - tRollout) / 1000, stepS: (performance.now() - t0) / 1000,
      });
      const report: StepReport = { step: this.stepCount, episodes: this.episodes, groups, advantages, loss, metrics };
      this.lastReport = report;
      this.history.push(metrics);
      this.updateEarlyStopping();
      if (this.runDir) {
        await mkdir(this.runDir, { recursive: true });
        await appendStepLogs(this.runDir, report, c);
      }
      for (const trajectory of trajectories) await this.emit({ type: "episode_end", step: this.stepCount, trajectory });
      await this.emit({ type: "step_end", step: this.stepCount, report });
      if (this.runDir && c.saveSteps > 0 && this.stepCount % c.saveSteps === 0) await this.saveToRunDir(this.runDir);
      return report;
    } catch (error) {
      if (!committed) {
        this.sampler.setState(samplerBefore);
        this.policy.setRngState(rngBefore);
      }
      throw error;
    }
  }

  /** Applies `config.rewardWeights` to a trajectory's breakdown: total = Σ w·component / Σ w. */
  private reweight(trajectory: MultiTurnTrajectory): void {
    const weights = this.config.rewardWeights ?? {};
    let num = 0;
    let den = 0;
    for (const [name, w] of Object.entries(weights)) {
      const v = trajectory.rewardBreakdown[name];
      if (v === undefined) {
        throw new GrpoError("invalid_config", `rewardWeights names a component the reward does not produce.`, {
          field: `rewardWeights.${name}`,
          expected: `one of ${Object.keys(trajectory.rewardBreakdown).filter((k) => !k.includes("/")).join(", ")}`,
        });
      }
      num += w * v;
      den += w;
    }
    if (den > 0) trajectory.totalReward = num / den;
  }

  /**
   * The optimisation passes of one step: `numIterations` AdamW updates, each applying the summed
   * gradient of every micro-batch (see {@link openPasses}). The update is applied only after every
   * micro-batch succeeded, so an abort mid-way changes nothing.
   */
  private async optimize(rows: TrainingRow[], numSequences: number, signal?: AbortSignal) {
    const c = this.config;
    const model = this.policy.model;
    const maxTurns = Math.max(1, this.environment.maxTurns);
    const weights = tokenWeights(rows, {
      lossType: c.lossType, numSequences, maxCompletionLength: this.agent.config.maxNewTokens * maxTurns,
      maskTruncated: c.maskTruncatedCompletions,
    });
    // At least gradientAccumulationSteps micro-batches, more when the logits of one would exceed the
    // memory budget (the per-token weights are global, so any split gives the same loss and gradient).
    const tokens = rows.reduce((sum, r) => sum + r.promptIds.length + r.completionIds.length, 0);
    const parts = this.splitOverride ?? this.microBatchCount(
      Math.max(c.gradientAccumulationSteps, Math.ceil((tokens * model.config.vocabSize) / MAX_LOGIT_ELEMENTS)));
    const batches: PaddedBatch[] = microBatches(rows, parts).map((idx) => padRows(rows, weights, idx));

    let lossSum = 0;
    let kl = 0;
    let clipLow = 0;
    let clipHigh = 0;
    let entropy = 0;
    let gradNorm = 0;
    const passes = await this.openPasses(batches, this.lossTemperature);
    try {
      for (let iteration = 0; iteration < c.numIterations; iteration++) {
        const { grads: acc, sums } = await passes.pass(signal);
        try {
          throwIfAborted(signal, "The optimisation pass");
        } catch (error) {
          tf.dispose(Object.values(acc));
          throw error;
        }
        const clipped = clipByGlobalNorm(acc, c.maxGradNorm);
        gradNorm = (await clipped.norm.data())[0];
        const lr = this.nextLearningRate();
        if (Number.isFinite(gradNorm)) {
          this.optimizer.step(clipped.grads, lr);
          await this.afterUpdate(clipped.grads, lr);
        }
        tf.dispose([...Object.values(acc), ...Object.values(clipped.grads), clipped.norm]);
        lossSum += sums.loss;
        const n = Math.max(1, sums.tokens);
        kl = sums.kl / n; clipLow = sums.clipLow / n; clipHigh = sums.clipHigh / n; entropy = sums.entropy / n;
      }
    } finally {
      await passes.release();
    }
    return { loss: lossSum / c.numIterations, kl, clipLow, clipHigh, entropy, gradNorm };
  }

  /** How many micro-batches a step is split into, given what this process needs (subclasses may raise it). */
  protected microBatchCount(needed: number): number {
    return needed;
  }

  /**
   * The gradient source of one step: this process's model over every micro-batch. The
   * DistributedTrainer shards the batches over its workers instead.
   */
  protected async openPasses(batches: PaddedBatch[], temperature: number): Promise<StepPasses> {
    const passes = new PassGradients(this.policy.model, batches, this.config, temperature, this.reference);
    passes.prepare();
    return passes;
  }

  /** Called after each optimizer update with the (clipped) gradient it applied (replicas apply it too). */
  protected async afterUpdate(_grads: Record<string, tf.Tensor>, _lr: number): Promise<void> {}

  private stepMetrics(
    groups: TrajectoryGroup[], trajectories: MultiTurnTrajectory[],
    m: { loss: number; lr: number; kl: number; clipLow: number; clipHigh: number; entropy: number; gradNorm: number; rolloutS: number; optimizeS: number; stepS: number },
  ): StepMetrics {
    const rewards = trajectories.map((t) => t.totalReward);
    const assistantTurns = trajectories.flatMap((t) => t.assistantTurns);
    const lengths = assistantTurns.map((t) => t.generation?.tokenIds.length ?? 0);
    const metrics: StepMetrics = {
      step: this.stepCount,
      episodes: this.episodes,
      reward: mean(rewards),
      reward_std: mean(groups.map((g) => g.rewardDiversity)),
      frac_reward_zero_std: mean(groups.map((g) => (g.rewardDiversity === 0 ? 1 : 0))),
      success_rate: mean(trajectories.map((t) => (t.success ? 1 : 0))),
      episode_length: mean(trajectories.map((t) => t.episodeLength)),
      "completions/mean_length": mean(lengths),
      "completions/clipped_ratio": mean(assistantTurns.map((t) => (t.generation?.finishReason === "length" ? 1 : 0))),
      loss: m.loss,
      kl: m.kl,
      "clip_ratio/low_mean": m.clipLow,
      "clip_ratio/high_mean": m.clipHigh,
      "clip_ratio/region_mean": m.clipLow + m.clipHigh,
      entropy: m.entropy,
      grad_norm: m.gradNorm,
      learning_rate: m.lr,
      "time/rollout_s": m.rolloutS,
      "time/optimize_s": m.optimizeS,
      "time/step_s": m.stepS,
    };
    const components = new Set(trajectories.flatMap((t) => Object.keys(t.rewardBreakdown).filter((k) => !k.includes("/") && !/^turn_\d+$/.test(k))));
    // A single (non-composite) reward has no named components: log it under its own name.
    const fromBreakdown = components.size > 0;
    if (!fromBreakdown) components.add(this.reward.name);
    for (const name of components) {
      const values = trajectories.map((t) => (fromBreakdown ? t.rewardBreakdown[name] : t.totalReward))
        .filter((v): v is number => typeof v === "number");
      metrics[`rewards/${name}/mean`] = mean(values);
      metrics[`rewards/${name}/std`] = std(values);
    }
    return metrics;
  }

  /** Early stopping watches the reward smoothed over the last few steps (less noisy than one step). */
  private updateEarlyStopping(): void {
    const recent = this.history.series("reward").slice(-EARLY_STOPPING_WINDOW);
    const smoothed = mean(recent.filter(Number.isFinite));
    if (smoothed > this.best + this.config.earlyStoppingMinDelta) {
      this.best = smoothed;
      this.badSteps = 0;
    } else {
      this.badSteps += 1;
    }
  }

  /** True when early stopping is on and the smoothed reward has not improved for `patience` steps. */
  get shouldStopEarly(): boolean {
    return this.config.earlyStopping && this.badSteps >= this.config.patience;
  }

  // ---------------------------------------------------------------------------------------------
  // Running

  /**
   * Runs steps until the requested number (or the configured total) is reached, `stop()` is called,
   * early stopping triggers, or `signal` aborts. Returns why it ended.
   */
  async run(runOptions: RunOptions = {}): Promise<TrainEndReason> {
    const options = { ...runOptions, signal: withAmbientSignal(runOptions.signal) }; // a kernel interrupt stops the run too
    if (this.running) {
      throw new GrpoError("invalid_argument", "This trainer is already running.", { fix: "await the running `run()` or call `trainer.stop()`." });
    }
    const perStep = this.config.scenariosPerStep * this.config.gradientAccumulationSteps * this.config.numGenerations;
    const steps = options.steps ?? (options.episodes !== undefined ? Math.ceil(options.episodes / perStep) : Math.max(0, this.totalSteps - this.stepCount));
    const target = this.stepCount + steps;
    this.running = true;
    this.stopRequested = false;
    let reason: TrainEndReason = "completed";
    let failure: unknown;
    await this.emit({ type: "train_start", step: this.stepCount, totalSteps: target });
    try {
      while (this.stepCount < target) {
        if (options.signal?.aborted) { reason = "aborted"; break; }
        if (this.stopRequested) { reason = "stopped"; break; }
        await this.step({ signal: options.signal });
        if (this.shouldStopEarly) { reason = "early_stopping"; break; }
      }
    } catch (error) {
      if (error instanceof AbortedError) reason = "aborted";
      else { reason = "error"; failure = error; }
    } finally {
      this.running = false;
    }
    await this.emit({ type: "train_end", step: this.stepCount, reason, ...(failure !== undefined ? { error: failure } : {}) });
    if (failure !== undefined) throw failure;
    return reason;
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoints

  /** Writes a checkpoint directory atomically (see `checkpoint.ts` for the layout). */
  async save(dir: string): Promise<void> {
    await this.writeCheckpoint(dir);
    await this.emit({ type: "checkpoint", step: this.stepCount, dir });
  }

  /**
   * A periodic checkpoint: `checkpoint-<step>` written atomically, then `latest.json` pointed at it,
   * then the oldest checkpoints beyond `saveTotalLimit` removed (see `checkpoints.ts`). A crash at
   * any moment leaves `latest.json` naming a complete checkpoint.
   */
  private async saveToRunDir(runDir: string): Promise<void> {
    const name = checkpointName(this.stepCount);
    const dir = path.join(runDir, name);
    await this.writeCheckpoint(dir);
    await writeLatest(runDir, this.stepCount);
    if (this.config.saveTotalLimit !== undefined) {
      await rotateCheckpoints(runDir, { limit: this.config.saveTotalLimit, currentStep: this.stepCount, keep: name });
    }
    await this.emit({ type: "checkpoint", step: this.stepCount, dir });
  }

  private async writeCheckpoint(dir: string): Promise<void> {
    const model = this.policy.model;
    const params = await model.weightValues();
    const optimizerState = await this.optimizer.getState();
    const reference = this.reference
      ? Object.fromEntries(await Promise.all(Object.entries(this.reference).map(async ([n, t]) =>
        [n, { dtype: "F32" as const, shape: [...t.shape], data: (await t.data()) as Float32Array }])))
      : undefined;
    const state: TrainerStateJSON = {
      format: "grpo-agent-framework/trainer-state",
      version: 1,
      step: this.stepCount,
      episodes: this.episodes,
      profile: this.profile,
      config: this.config,
      totalSteps: this.totalSteps,
      agent: { className: this.agent.constructor.name, config: { ...this.agent.config } },
      policyRng: this.policy.getRngState(),
      sampler: this.sampler.getState(),
      history: this.history.toJSON(),
      earlyStopping: { best: this.best, badSteps: this.badSteps },
      hasReference: reference !== undefined,
      optimizerStep: optimizerState.step,
    };
    await writeCheckpointDir(dir, async (tmp) => {
      await saveModelFolder(path.join(tmp, "model"), model.config, params, { files: { ...this.policy.tokenizer.toFiles() } });
      const moments: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
      for (const [name, p] of Object.entries(params)) {
        moments[`m/${name}`] = { dtype: "F32", shape: p.shape, data: optimizerState.m[name] };
        moments[`v/${name}`] = { dtype: "F32", shape: p.shape, data: optimizerState.v[name] };
      }
      await writeSafetensorsFile(path.join(tmp, "optimizer.safetensors"), moments, { step: String(optimizerState.step) });
      if (reference) await writeSafetensorsFile(path.join(tmp, "reference.safetensors"), reference);
      await writeFile(path.join(tmp, TRAINER_STATE_FILE), `${JSON.stringify(state, (_k, v) => (v === Number.NEGATIVE_INFINITY ? "-Infinity" : v), 2)}\n`);
    });
  }

  /**
   * Continues a run from a checkpoint exactly: weights, optimizer moments, RNG states, sampler
   * position, history and early-stopping counters come from the checkpoint; code objects
   * (environment, reward, callbacks, a custom agent) are passed again.
   *
   * `target` is a checkpoint folder, or a run folder: then the checkpoint its `latest.json` names is
   * used (see {@link ResumeOptions.fallback} for corrupt ones), and training continues logging and
   * checkpointing into that run folder. Every file is verified against `checksums.json` first.
   */
  static async resume(target: string, options: ResumeOptions): Promise<GRPOTrainer> {
    return GRPOTrainer.restore(target, options, (init) => new GRPOTrainer(init));
  }

  /** `resume` for this class and subclasses: `build` makes the trainer, then its state is restored. */
  protected static async restore<T extends GRPOTrainer>(target: string, options: ResumeOptions, build: (init: TrainerInit) => T): Promise<T> {
    const source = await findResumeCheckpoint(target, { fallback: options?.fallback });
    const dir = source.dir;
    const runDir = options.runDir ?? source.runDir;
    let state: TrainerStateJSON;
    try {
      state = JSON.parse(await readFile(path.join(dir, TRAINER_STATE_FILE), "utf8"),
        (_k, v) => (v === "-Infinity" ? Number.NEGATIVE_INFINITY : v)) as TrainerStateJSON;
    } catch (cause) {
      throw new GrpoError("checkpoint_invalid", `${path.join(dir, TRAINER_STATE_FILE)} is not valid JSON.`, { field: TRAINER_STATE_FILE, cause });
    }
    if (state.format !== "grpo-agent-framework/trainer-state" || state.version !== 1) {
      throw new GrpoError("checkpoint_invalid", `${path.join(dir, "trainer_state.json")} is not a trainer state this version can read.`, {
        field: "format", value: state.format, expected: "grpo-agent-framework/trainer-state, version 1",
      });
    }
    const policy = await TfPolicy.fromFolder(path.join(dir, "model"), { name: state.agent.config.modelName });
    policy.setRngState(state.policyRng);
    const agent = options.agent ?? new MultiTurnAgent(state.agent.config);
    Object.assign(agent.config, state.agent.config);
    agent.policy = policy;
    await agent.initialize();
    const trainer = build({
      agent, environment: options.environment, reward: options.reward, profile: state.profile, config: state.config,
      callbacks: options.callbacks ?? [], runDir, history: TrainingHistory.fromJSON(state.history),
    });
    trainer.resumedFrom = source;
    trainer.stepCount = state.step;
    trainer.episodes = state.episodes;
    trainer.totalSteps = state.totalSteps;
    trainer.best = state.earlyStopping.best;
    trainer.badSteps = state.earlyStopping.badSteps;
    trainer.sampler.setState(state.sampler);
    const moments = (await readSafetensorsFile(path.join(dir, "optimizer.safetensors"))).tensors;
    const optState: AdamWState = { step: state.optimizerStep, m: {}, v: {} };
    for (const name of Object.keys(policy.model.params)) {
      optState.m[name] = moments[`m/${name}`]?.data as Float32Array;
      optState.v[name] = moments[`v/${name}`]?.data as Float32Array;
    }
    trainer.optimizer.setState(optState);
    if (state.hasReference) {
      const ref = (await readSafetensorsFile(path.join(dir, "reference.safetensors"))).tensors;
      tf.dispose(Object.values(trainer.reference ?? {}));
      trainer.reference = Object.fromEntries(Object.entries(ref).map(([n, t]) => [n, tf.tensor(t.data as Float32Array, t.shape)]));
    }
    if (runDir) {
      // The log continues from the checkpoint: drop lines of steps the checkpoint does not contain.
      await mkdir(runDir, { recursive: true });
      await removeLeftovers(runDir);
      await rewriteMetricsLog(runDir, trainer.history.steps);
      await truncateTrajectoryLog(runDir, state.step);
      // A crash between a save and its rotation leaves one checkpoint too many: finish the rotation.
      if (state.config.saveTotalLimit !== undefined) {
        await rotateCheckpoints(runDir, { limit: state.config.saveTotalLimit, currentStep: state.step, keep: path.basename(dir) });
      }
    }
    return trainer;
  }

  /** Frees the optimizer and reference tensors (the agent's policy stays usable). */
  dispose(): void {
    this.optimizer.dispose();
    tf.dispose(Object.values(this.reference ?? {}));
  }
}

/**
 * Loads an agent with the trained weights of a checkpoint, of a run folder's latest checkpoint, or
 * of a plain model folder. Checkpoints are verified against their checksums before anything is
 * read from them; `fallback` is as in {@link ResumeOptions.fallback}.
 */
export async function loadAgentFromCheckpoint<A extends Agent = MultiTurnAgent>(
  dir: string,
  options: { agentClass?: new (config: AgentConfig) => A; agent?: A; fallback?: boolean } = {},
): Promise<A> {
  let agentConfig: AgentConfig | undefined;
  let modelDir = dir;
  if ((await folderKind(dir)) !== "other") {
    const source = await findResumeCheckpoint(dir, { fallback: options.fallback });
    const statePath = path.join(source.dir, TRAINER_STATE_FILE);
    try {
      agentConfig = (JSON.parse(await readFile(statePath, "utf8")) as TrainerStateJSON).agent.config;
    } catch (cause) {
      throw new GrpoError("checkpoint_invalid", `${statePath} is not a trainer state.`, { field: TRAINER_STATE_FILE, cause });
    }
    modelDir = path.join(source.dir, "model");
  }
  const policy = await TfPolicy.fromFolder(modelDir, { name: agentConfig?.modelName ?? modelDir });
  const config = agentConfig ?? { ...(await readAgentJson(modelDir)), modelName: modelDir };
  const AgentClass = options.agentClass ?? (MultiTurnAgent as unknown as new (config: AgentConfig) => A);
  const agent = options.agent ?? new AgentClass(config);
  agent.policy = policy;
  await agent.initialize();
  return agent;
}

async function readAgentJson(dir: string): Promise<AgentConfig> {
  try {
    return JSON.parse(await readFile(path.join(dir, "agent_config.json"), "utf8")) as AgentConfig;
  } catch {
    return { modelName: dir } as AgentConfig;
  }
}

