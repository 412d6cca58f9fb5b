/**
 * GRPOConfig: every knob of GRPO training in one typed, documented home.
 *
 * One table, {@link GRPO_KNOBS}, is the single source of truth: each knob's group, valid values,
 * default per training profile, meaning and provenance. Everything else is derived from it:
 * - the {@link GRPOConfig} interface below (its TSDoc is generated from the table and a test checks
 *   it is current: `GRPO_WRITE_CONFIG_DOCS=1 npx vitest run test/training/config-docs.test.ts`),
 * - {@link PROFILES} (the defaults of each profile) and {@link GRPO_CONFIG_DOCS} (for notebooks),
 * - the zod schema that validates a resolved config, and the snake_case aliases.
 *
 * {@link resolveGRPOConfig} is the one place a config is made: profile defaults → user overrides →
 * derived values (`epsilonHigh`) → invariant checks. It never overrides what the user set.
 */
import { z } from "zod";
import { GrpoError } from "../core/errors.js";
import type { ScaleRewards } from "../core/stats.js";
import { parseWith } from "../core/validation.js";

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

/** Preset trade-offs between stability and speed (the usage guide's `profile`). */
export type TrainingProfile = "conservative" | "balanced" | "aggressive";
/** Every {@link TrainingProfile}, from most to least cautious. */
export const TRAINING_PROFILES = ["conservative", "balanced", "aggressive"] as const satisfies readonly TrainingProfile[];

/** Learning-rate schedule after warmup (see {@link learningRateAt}). */
export type LrScheduler = "constant" | "linear" | "cosine";
/** Every {@link LrScheduler}. */
export const LR_SCHEDULERS = ["constant", "linear", "cosine"] as const satisfies readonly LrScheduler[];

/** How the per-token losses of a batch are reduced to one number (see `LOSS_AGGREGATIONS` in grpo.ts). */
export type LossType = "grpo" | "bnpo" | "dr_grpo" | "dapo";
/** Every {@link LossType}. */
export const LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo"] as const satisfies readonly LossType[];

/** Whether importance ratios are per token (PPO/GRPO) or per sequence (GSPO). */
export type ImportanceSamplingLevel = "token" | "sequence";
/** Every {@link ImportanceSamplingLevel}. */
export const IMPORTANCE_SAMPLING_LEVELS = ["token", "sequence"] as const satisfies readonly ImportanceSamplingLevel[];

/** Every {@link ScaleRewards} mode. */
export const SCALE_REWARDS = ["group", "batch", "none"] as const satisfies readonly ScaleRewards[];

/** The sections the knobs are grouped in (as TRL's GRPOConfig groups its parameters). */
export type KnobGroup = "generation" | "optimisation" | "loss" | "schedule";
/** Every {@link KnobGroup} with its heading, in display order. */
export const KNOB_GROUPS: Readonly<Record<KnobGroup, string>> = {
  generation: "Generation: how rollouts are sampled and scored",
  optimisation: "Optimisation: the AdamW update",
  loss: "GRPO loss: advantages, clipping, KL and normalisation",
  schedule: "Schedule, logging, checkpoints and early stopping",
};

// ---------------------------------------------------------------------------------------------
// The knob table: the single source of truth
// ---------------------------------------------------------------------------------------------

/** A value per training profile. */
export type PerProfile<T> = Readonly<Record<TrainingProfile, T>>;

/** The definition of one knob (one row of {@link GRPO_KNOBS}). */
export interface KnobSpec<S extends z.ZodType = z.ZodType> {
  /** The section the knob belongs to. */
  group: KnobGroup;
  /** Its TypeScript type, as written in {@link GRPOConfig}. */
  type: string;
  /** Its valid values in words; also the `expected` part of a validation error. */
  expected: string;
  /** Builds the zod schema that checks a value; `error` carries {@link KnobSpec.expected}. */
  schema: (error: { error: string }) => S;
  /** The default of each profile (`undefined`: see the doc for what unset means). */
  defaults: PerProfile<z.output<S>>;
  /** What the knob does, what 0 / undefined means, how it interacts with others. */
  doc: string;
  /** Where the value comes from (paper, TRL default), and why ours differs if it does. */
  source: string;
  /** Extra accepted spellings besides camelCase and snake_case (e.g. TRL's names). */
  aliases?: readonly string[];
}

/** Identity helper that lets TypeScript infer each knob's schema type. */
function knob<S extends z.ZodType>(spec: KnobSpec<S>): KnobSpec<S> {
  return spec;
}

/** The same default for every profile. */
function same<const T>(value: T): PerProfile<T> {
  return { conservative: value, balanced: value, aggressive: value };
}

const count = (e: { error: string }, min: number) => z.number(e).int().min(min);

/**
 * Every GRPO knob: group, type, valid values, default per profile, meaning and source.
 * Profiles: conservative = small steps and big groups (stability first); aggressive = big steps,
 * small groups and rollout reuse (speed first); balanced sits between.
 */
export const GRPO_KNOBS = {
  // ---- generation ----------------------------------------------------------------------------
  numGenerations: knob({
    group: "generation",
    type: "number",
    expected: "an integer >= 2",
    schema: (e) => count(e, 2),
    defaults: { conservative: 8, balanced: 6, aggressive: 4 },
    doc:
      "Group size G: how many episodes are rolled out per scenario and compared with each other. The advantage " +
      "of an episode is its reward relative to its group, so G = 1 would teach nothing; larger groups give " +
      "lower-variance advantages but cost G full multi-turn episodes per scenario.",
    source:
      "GRPO (Shao et al. 2024, DeepSeekMath) used 64; TRL defaults to 8. Ours are smaller because every episode " +
      "is sampled on CPU.",
  }),
  scenariosPerStep: knob({
    group: "generation",
    type: "number",
    expected: "an integer >= 1",
    schema: (e) => count(e, 1),
    defaults: same(2),
    doc:
      "Scenarios (prompts) sampled per optimisation step; each yields a group of `numGenerations` episodes, so " +
      "one micro-batch holds scenariosPerStep × numGenerations episodes.",
    source: "TRL sizes this through its per-device batch size; ours counts groups, as the usage guide thinks in scenarios.",
  }),
  temperature: knob({
    group: "generation",
    type: "number | undefined",
    expected: "a number >= 0, or undefined",
    schema: (e) => z.number(e).min(0).finite().optional(),
    defaults: same(undefined),
    doc:
      "Sampling temperature of rollouts; undefined takes the agent's own `temperature`. 0 is greedy: every episode " +
      "of a group is then identical, all advantages are 0 and nothing is learned. The loss recomputes log-probs " +
      "at this same temperature.",
    source: "TRL defaults to 1.0; the usage guide's agents use 0.7-0.8.",
  }),
  topP: knob({
    group: "generation",
    type: "number | undefined",
    expected: "a number in (0, 1], or undefined",
    schema: (e) => z.number(e).gt(0).max(1).optional(),
    defaults: same(undefined),
    doc:
      "Nucleus sampling for rollouts: keep the smallest set of tokens whose probability reaches topP. 1 = off; " +
      "undefined takes the agent's setting.",
    source: "TRL defaults to 1.0 (off).",
  }),
  topK: knob({
    group: "generation",
    type: "number | undefined",
    expected: "an integer >= 0, or undefined",
    schema: (e) => count(e, 0).optional(),
    defaults: same(undefined),
    doc:
      "Keep only the topK most likely tokens when sampling rollouts. 0 = off; undefined takes the agent's setting.",
    source: "TRL defaults to none (off).",
  }),
  maxNewTokens: knob({
    group: "generation",
    type: "number | undefined",
    expected: "an integer >= 1, or undefined",
    schema: (e) => count(e, 1).optional(),
    defaults: same(undefined),
    doc:
      "The most tokens the agent may generate in one assistant turn during rollouts; undefined takes the agent's " +
      "`maxNewTokens`. A turn that hits it is truncated (see `maskTruncatedCompletions`).",
    source: "TRL's max_completion_length (256) bounds a single completion; ours bounds one turn of an episode.",
  }),
  maskTruncatedCompletions: knob({
    group: "generation",
    type: "boolean",
    expected: "true or false",
    schema: (e) => z.boolean(e),
    defaults: same(false),
    doc:
      "When true, episodes with a turn cut off at `maxNewTokens` carry no loss (their mask is zeroed), so the model " +
      "is not pushed towards or away from text it never finished. Their rewards still count in the group statistics.",
    source: "DAPO (Yu et al. 2025), overlong filtering; TRL's mask_truncated_completions (default false).",
  }),
  rewardWeights: knob({
    group: "generation",
    type: "Record<string, number> | undefined",
    expected: "an object mapping reward names to finite numbers, or undefined",
    schema: (e) => z.record(z.string(e).min(1), z.number(e).finite(), e).optional(),
    defaults: same(undefined),
    doc:
      "Weight of each named reward function in the total reward, e.g. `{ helpfulness: 0.7, safety: 0.3 }`; " +
      "undefined uses each reward's own `weight`. Names must match the reward functions'.",
    source: "TRL's reward_weights (default: all 1).",
  }),
  rewardTimeoutMs: knob({
    group: "generation",
    type: "number",
    expected: "an integer >= 0 (milliseconds)",
    schema: (e) => count(e, 0),
    defaults: same(30_000),
    doc:
      "How long one reward function may take to score one episode, in milliseconds, before it counts as failed. " +
      "0 = no limit.",
    source: "Ours: rewards may call tools or remote judges.",
  }),

  // ---- optimisation --------------------------------------------------------------------------
  learningRate: knob({
    group: "optimisation",
    type: "number",
    expected: "a number > 0",
    schema: (e) => z.number(e).positive().finite(),
    defaults: { conservative: 3e-4, balanced: 1e-3, aggressive: 2e-3 },
    doc:
      "Peak learning rate of AdamW (reached after warmup, then shaped by `lrScheduler`). The step size of every update: " +
      "the first knob to lower when training is unstable.",
    source:
      "TRL's 1e-6 suits billion-parameter LLMs. Our built-in policy is a tiny GPT (0.89 M parameters). Tuned on the " +
      "quick start with builtin:tiny-chat (192 episodes, seeds 0 and 1): 1e-3 raised the held-out reward by " +
      "+0.20/+0.22, 3e-3 by only +0.04 (too large a step), so balanced is 1e-3, aggressive 2e-3, conservative 3e-4.",
  }),
  adamBeta1: knob({
    group: "optimisation",
    type: "number",
    expected: "a number in [0, 1)",
    schema: (e) => z.number(e).min(0).lt(1),
    defaults: same(0.9),
    doc: "AdamW's decay rate of the first-moment (mean gradient) estimate.",
    source: "Adam (Kingma & Ba 2015) and TRL default.",
  }),
  adamBeta2: knob({
    group: "optimisation",
    type: "number",
    expected: "a number in [0, 1)",
    schema: (e) => z.number(e).min(0).lt(1),
    defaults: same(0.999),
    doc: "AdamW's decay rate of the second-moment (squared gradient) estimate.",
    source: "Adam (Kingma & Ba 2015) and TRL default.",
  }),
  adamEpsilon: knob({
    group: "optimisation",
    type: "number",
    expected: "a number > 0",
    schema: (e) => z.number(e).positive().finite(),
    defaults: same(1e-8),
    doc: "Added to AdamW's denominator for numerical stability.",
    source: "Adam (Kingma & Ba 2015) and TRL default.",
  }),
  weightDecay: knob({
    group: "optimisation",
    type: "number",
    expected: "a number >= 0",
    schema: (e) => z.number(e).min(0).finite(),
    defaults: same(0),
    doc: "Decoupled (AdamW) weight decay applied to weight matrices each step. 0 = none.",
    source: "AdamW (Loshchilov & Hutter 2019); TRL default 0.",
  }),
  maxGradNorm: knob({
    group: "optimisation",
    type: "number",
    expected: "a number >= 0",
    schema: (e) => z.number(e).min(0).finite(),
    defaults: { conservative: 0.5, balanced: 1, aggressive: 2 },
    doc:
      "Gradients are rescaled so that their global L2 norm is at most this. 0 = no clipping. Smaller values " +
      "bound the damage of one bad batch.",
    source: "TRL default 1.0; the usage guide's custom configuration uses 0.5.",
  }),
  gradientAccumulationSteps: knob({
    group: "optimisation",
    type: "number",
    expected: "an integer >= 1",
    schema: (e) => count(e, 1),
    defaults: same(1),
    doc:
      "Micro-batches of rollouts whose gradients are summed before one optimiser step: a larger effective batch " +
      "at the same memory. With lossType `dapo` the loss is normalised by the tokens of all micro-batches.",
    source: "TRL/transformers' gradient_accumulation_steps (default 1 in TRL's GRPOConfig examples).",
  }),
  numIterations: knob({
    group: "optimisation",
    type: "number",
    expected: "an integer >= 1",
    schema: (e) => count(e, 1),
    defaults: { conservative: 1, balanced: 1, aggressive: 2 },
    doc:
      "μ: optimisation passes over each batch of rollouts. 1 = on-policy (the importance ratio is exactly 1 and " +
      "clipping never triggers); > 1 reuses expensive rollouts, and the clipped ratio keeps later passes close " +
      "to the sampling policy.",
    source: "μ in GRPO's Algorithm 1 (Shao et al. 2024); TRL's num_iterations (default 1).",
  }),
  seed: knob({
    group: "optimisation",
    type: "number",
    expected: "an integer",
    schema: (e) => z.number(e).int(),
    defaults: same(42),
    doc: "Seed of every random choice of training (scenario order, sampling), so a run is reproducible.",
    source: "TRL/transformers default 42.",
  }),

  // ---- GRPO loss -----------------------------------------------------------------------------
  beta: knob({
    group: "loss",
    type: "number",
    expected: "a number >= 0",
    schema: (e) => z.number(e).min(0).finite(),
    defaults: { conservative: 0.04, balanced: 0, aggressive: 0 },
    doc:
      "Weight of the KL penalty (k3 estimator) that keeps the policy near a frozen reference copy of the initial " +
      "model. 0 = no penalty and no reference model (saves memory and one forward pass per step).",
    source:
      "0.04 in DeepSeekMath/DeepSeek-R1; TRL now defaults to 0 (DAPO and Dr. GRPO found it unnecessary). The " +
      "conservative profile keeps the anchor.",
  }),
  epsilon: knob({
    group: "loss",
    type: "number",
    expected: "a number in (0, 1)",
    schema: (e) => z.number(e).gt(0).lt(1),
    defaults: { conservative: 0.1, balanced: 0.2, aggressive: 0.3 },
    doc:
      "Clip range of the importance ratio: the objective ignores ratio moves beyond [1 − epsilon, 1 + epsilonHigh]. " +
      "Only active when numIterations > 1 (otherwise every ratio is 1). With importanceSamplingLevel `sequence` " +
      "use a much smaller value (GSPO: 3e-4).",
    source: "PPO (Schulman et al. 2017) and GRPO use 0.2, also TRL's default.",
  }),
  epsilonHigh: knob({
    group: "loss",
    type: "number",
    expected: "a number > 0, or undefined (= epsilon)",
    schema: (e) => z.number(e).positive().finite().optional(),
    defaults: same(undefined),
    doc:
      "Upper clip range (ratio at most 1 + epsilonHigh). Undefined = `epsilon` (symmetric clipping). A larger " +
      "value (clip-higher) lets unlikely good tokens grow faster and counters entropy collapse.",
    source: "DAPO (Yu et al. 2025) uses 0.28 with epsilon 0.2; GSPO uses 4e-4 at sequence level.",
  }),
  lossType: knob({
    group: "loss",
    type: "LossType",
    expected: '"grpo" | "bnpo" | "dr_grpo" | "dapo"',
    schema: (e) => z.enum(LOSS_TYPES, e),
    defaults: same("dapo"),
    doc:
      "How per-token losses are averaged. `grpo`: mean per episode, then over episodes (short episodes weigh more " +
      "per token: a length bias). `bnpo`: mean over all loss tokens of the micro-batch. `dr_grpo`: sum divided by " +
      "episodes × maxCompletionLength, a constant (unbiased, but the scale depends on that constant). `dapo`: sum " +
      "divided by the loss tokens of the whole accumulated batch (equals bnpo without accumulation).",
    source:
      "grpo: Shao et al. 2024; dr_grpo: Liu et al. 2025 (Understanding R1-Zero-Like Training); dapo: Yu et al. " +
      "2025, TRL's current default.",
  }),
  importanceSamplingLevel: knob({
    group: "loss",
    type: "ImportanceSamplingLevel",
    expected: '"token" | "sequence"',
    schema: (e) => z.enum(IMPORTANCE_SAMPLING_LEVELS, e),
    defaults: same("token"),
    doc:
      "`token`: one importance ratio per token (PPO/GRPO). `sequence`: one ratio per episode, the geometric mean " +
      "of its token ratios (GSPO), which is less noisy for long episodes; pair it with a tiny epsilon.",
    source: "GSPO (Zheng et al. 2025, Group Sequence Policy Optimization); TRL default `token`.",
  }),
  scaleRewards: knob({
    group: "loss",
    type: "ScaleRewards",
    expected: '"group" | "batch" | "none"',
    schema: (e) => z.enum(SCALE_REWARDS, e),
    defaults: same("group"),
    doc:
      "How advantages are scaled after subtracting the group's mean reward. `group`: divide by the group's reward " +
      "std (GRPO; groups with tiny spread get amplified). `batch`: divide by the std of the whole batch (more " +
      "robust). `none`: no division (Dr. GRPO: avoids favouring too-easy/too-hard scenarios).",
    source: "group: Shao et al. 2024; none: Liu et al. 2025 (Dr. GRPO); TRL default `group`.",
  }),
  advantageEpsilon: knob({
    group: "loss",
    type: "number",
    expected: "a number > 0",
    schema: (e) => z.number(e).positive().finite(),
    defaults: same(1e-4),
    doc:
      "Added to the reward std before dividing, so a group whose rewards are all equal gets advantage 0 instead " +
      "of a division by zero.",
    source: "TRL uses 1e-4.",
  }),

  // ---- schedule, logging, checkpoints, early stopping -----------------------------------------
  lrScheduler: knob({
    group: "schedule",
    type: "LrScheduler",
    expected: '"constant" | "linear" | "cosine"',
    schema: (e) => z.enum(LR_SCHEDULERS, e),
    defaults: { conservative: "cosine", balanced: "linear", aggressive: "constant" },
    doc:
      "Learning rate after warmup: `constant` keeps the peak; `linear` decays to 0 at the last step; `cosine` " +
      "follows half a cosine to 0 (see learningRateAt).",
    source: "transformers' lr_scheduler_type (TRL default `linear`).",
    aliases: ["lr_scheduler_type", "lrSchedulerType"],
  }),
  warmupRatio: knob({
    group: "schedule",
    type: "number",
    expected: "a number in [0, 1)",
    schema: (e) => z.number(e).min(0).lt(1),
    defaults: { conservative: 0.1, balanced: 0.05, aggressive: 0 },
    doc:
      "Fraction of the training steps over which the learning rate ramps up linearly to its peak. 0 = start at " +
      "the peak.",
    source: "transformers' warmup_ratio (TRL default 0).",
  }),
  maxSteps: knob({
    group: "schedule",
    type: "number | undefined",
    expected: "an integer >= 1, or undefined",
    schema: (e) => count(e, 1).optional(),
    defaults: same(undefined),
    doc:
      "Optimiser steps to train for. Give either maxSteps or numEpisodes, not both: undefined derives it from " +
      "numEpisodes as ceil(numEpisodes / (scenariosPerStep × numGenerations × gradientAccumulationSteps)) " +
      "(see totalTrainingSteps).",
    source: "transformers' max_steps.",
  }),
  numEpisodes: knob({
    group: "schedule",
    type: "number | undefined",
    expected: "an integer >= 1, or undefined",
    schema: (e) => count(e, 1).optional(),
    defaults: same(undefined),
    doc:
      "Training budget in episodes (one episode = one multi-turn rollout), the usage guide's `num_episodes`. " +
      "Exclusive with maxSteps; when neither is set, DEFAULT_NUM_EPISODES (100) is used.",
    source: "The usage guide's train(num_episodes=...).",
  }),
  loggingSteps: knob({
    group: "schedule",
    type: "number",
    expected: "an integer >= 1",
    schema: (e) => count(e, 1),
    defaults: same(1),
    doc: "Metrics are logged (and callbacks told) every loggingSteps optimiser steps.",
    source: "TRL default 10; ours logs every step because steps are slow on CPU and notebooks plot live.",
  }),
  logTrajectorySteps: knob({
    group: "schedule",
    type: "number",
    expected: "an integer >= 0",
    schema: (e) => count(e, 0),
    defaults: same(1),
    doc:
      "With a runDir, append the step's trajectory groups (turns, per-turn rewards, reward breakdown, advantages) " +
      "to `trajectories.jsonl` every logTrajectorySteps steps, for `grpo report`'s trajectory browser. 0 = never. " +
      "Measured: 1.8 KB per quick-start trajectory (two assistant turns of up to 40 tokens) without token log-probs.",
    source: "Ours (TRL's log_completions logs a sample of completions to the experiment tracker).",
  }),
  logTokenLogprobs: knob({
    group: "schedule",
    type: "boolean",
    expected: "true or false",
    schema: (e) => z.boolean(e),
    defaults: same(false),
    doc:
      "Also log each sampled token's id and sampling log-prob in `trajectories.jsonl`, so the report colours tokens " +
      "by probability. Measured: 12.6 bytes more per sampled token (quick start). Only used when logTrajectorySteps > 0.",
    source: "Ours: off by default because token logs are several times larger than the text.",
  }),
  evalSteps: knob({
    group: "schedule",
    type: "number",
    expected: "an integer >= 0",
    schema: (e) => count(e, 0),
    defaults: same(0),
    doc: "Evaluate on held-out scenarios every evalSteps steps. 0 = no periodic evaluation.",
    source: "transformers' eval_steps.",
  }),
  saveSteps: knob({
    group: "schedule",
    type: "number",
    expected: "an integer >= 0",
    schema: (e) => count(e, 0),
    defaults: same(50),
    doc:
      "Write a checkpoint every saveSteps steps (when a save path is given). 0 = only the final checkpoint.",
    source: "transformers' save_steps (default 500; ours is smaller as runs are shorter).",
  }),
  saveTotalLimit: knob({
    group: "schedule",
    type: "number | undefined",
    expected: "an integer >= 1, or undefined",
    schema: (e) => count(e, 1).optional(),
    defaults: same(undefined),
    doc: "Keep at most this many periodic checkpoints, deleting the oldest. Undefined = keep all.",
    source: "transformers' save_total_limit (default none).",
  }),
  earlyStopping: knob({
    group: "schedule",
    type: "boolean",
    expected: "true or false",
    schema: (e) => z.boolean(e),
    defaults: same(false),
    doc:
      "Stop when the mean reward (the evaluation reward when evalSteps > 0) has not improved by more than " +
      "earlyStoppingMinDelta for `patience` consecutive checks.",
    source: "The usage guide's early_stopping.",
  }),
  patience: knob({
    group: "schedule",
    type: "number",
    expected: "an integer >= 1",
    schema: (e) => count(e, 1),
    defaults: same(30),
    doc: "Checks without improvement tolerated before early stopping. Only used when earlyStopping is true.",
    source: "The usage guide's custom configuration uses 30.",
  }),
  earlyStoppingMinDelta: knob({
    group: "schedule",
    type: "number",
    expected: "a number >= 0",
    schema: (e) => z.number(e).min(0).finite(),
    defaults: same(0),
    doc: "The smallest rise of the monitored reward that counts as an improvement. 0 = any rise.",
    source: "Keras/transformers' early-stopping threshold (default 0).",
  }),
} as const;

/** The name of a GRPO knob. */
export type GRPOConfigKey = keyof typeof GRPO_KNOBS;

/** Every knob name, in table order (grouped). */
export const GRPO_CONFIG_KEYS = Object.keys(GRPO_KNOBS) as GRPOConfigKey[];

// ---------------------------------------------------------------------------------------------
// The resolved config. The block between the markers is generated from GRPO_KNOBS by
// test/training/config-docs.test.ts; edit the table, then run that test with GRPO_WRITE_CONFIG_DOCS=1.
// ---------------------------------------------------------------------------------------------

// BEGIN GENERATED GRPOConfig
/**
 * Every knob of GRPO training, resolved (see {@link resolveGRPOConfig}). Generated from {@link GRPO_KNOBS}.
 */
export interface GRPOConfig {
  // ---- Generation: how rollouts are sampled and scored ----

  /**
   * Group size G: how many episodes are rolled out per scenario and compared with each other. The advantage
   * of an episode is its reward relative to its group, so G = 1 would teach nothing; larger groups give
   * lower-variance advantages but cost G full multi-turn episodes per scenario.
   *
   * Valid: an integer >= 2. Default: 8 (conservative), 6 (balanced), 4 (aggressive).
   * Source: GRPO (Shao et al. 2024, DeepSeekMath) used 64; TRL defaults to 8. Ours are smaller because every
   * episode is sampled on CPU.
   * Also accepted as `num_generations`.
   */
  numGenerations: number;

  /**
   * Scenarios (prompts) sampled per optimisation step; each yields a group of `numGenerations` episodes, so
   * one micro-batch holds scenariosPerStep × numGenerations episodes.
   *
   * Valid: an integer >= 1. Default: 2.
   * Source: TRL sizes this through its per-device batch size; ours counts groups, as the usage guide thinks
   * in scenarios.
   * Also accepted as `scenarios_per_step`.
   */
  scenariosPerStep: number;

  /**
   * Sampling temperature of rollouts; undefined takes the agent's own `temperature`. 0 is greedy: every
   * episode of a group is then identical, all advantages are 0 and nothing is learned. The loss recomputes
   * log-probs at this same temperature.
   *
   * Valid: a number >= 0, or undefined. Default: undefined.
   * Source: TRL defaults to 1.0; the usage guide's agents use 0.7-0.8.
   */
  temperature?: number;

  /**
   * Nucleus sampling for rollouts: keep the smallest set of tokens whose probability reaches topP. 1 = off;
   * undefined takes the agent's setting.
   *
   * Valid: a number in (0, 1], or undefined. Default: undefined.
   * Source: TRL defaults to 1.0 (off).
   * Also accepted as `top_p`.
   */
  topP?: number;

  /**
   * Keep only the topK most likely tokens when sampling rollouts. 0 = off; undefined takes the agent's
   * setting.
   *
   * Valid: an integer >= 0, or undefined. Default: undefined.
   * Source: TRL defaults to none (off).
   * Also accepted as `top_k`.
   */
  topK?: number;

  /**
   * The most tokens the agent may generate in one assistant turn during rollouts; undefined takes the
   * agent's `maxNewTokens`. A turn that hits it is truncated (see `maskTruncatedCompletions`).
   *
   * Valid: an integer >= 1, or undefined. Default: undefined.
   * Source: TRL's max_completion_length (256) bounds a single completion; ours bounds one turn of an
   * episode.
   * Also accepted as `max_new_tokens`.
   */
  maxNewTokens?: number;

  /**
   * When true, episodes with a turn cut off at `maxNewTokens` carry no loss (their mask is zeroed), so the
   * model is not pushed towards or away from text it never finished. Their rewards still count in the group
   * statistics.
   *
   * Valid: true or false. Default: false.
   * Source: DAPO (Yu et al. 2025), overlong filtering; TRL's mask_truncated_completions (default false).
   * Also accepted as `mask_truncated_completions`.
   */
  maskTruncatedCompletions: boolean;

  /**
   * Weight of each named reward function in the total reward, e.g. `{ helpfulness: 0.7, safety: 0.3 }`;
   * undefined uses each reward's own `weight`. Names must match the reward functions'.
   *
   * Valid: an object mapping reward names to finite numbers, or undefined. Default: undefined.
   * Source: TRL's reward_weights (default: all 1).
   * Also accepted as `reward_weights`.
   */
  rewardWeights?: Record<string, number>;

  /**
   * How long one reward function may take to score one episode, in milliseconds, before it counts as failed.
   * 0 = no limit.
   *
   * Valid: an integer >= 0 (milliseconds). Default: 30000.
   * Source: Ours: rewards may call tools or remote judges.
   * Also accepted as `reward_timeout_ms`.
   */
  rewardTimeoutMs: number;

  // ---- Optimisation: the AdamW update ----

  /**
   * Peak learning rate of AdamW (reached after warmup, then shaped by `lrScheduler`). The step size of every
   * update: the first knob to lower when training is unstable.
   *
   * Valid: a number > 0. Default: 3e-4 (conservative), 0.001 (balanced), 0.002 (aggressive).
   * Source: TRL's 1e-6 suits billion-parameter LLMs. Our built-in policy is a tiny GPT (0.89 M parameters).
   * Tuned on the quick start with builtin:tiny-chat (192 episodes, seeds 0 and 1): 1e-3 raised the held-out
   * reward by +0.20/+0.22, 3e-3 by only +0.04 (too large a step), so balanced is 1e-3, aggressive 2e-3,
   * conservative 3e-4.
   * Also accepted as `learning_rate`.
   */
  learningRate: number;

  /**
   * AdamW's decay rate of the first-moment (mean gradient) estimate.
   *
   * Valid: a number in [0, 1). Default: 0.9.
   * Source: Adam (Kingma & Ba 2015) and TRL default.
   * Also accepted as `adam_beta1`.
   */
  adamBeta1: number;

  /**
   * AdamW's decay rate of the second-moment (squared gradient) estimate.
   *
   * Valid: a number in [0, 1). Default: 0.999.
   * Source: Adam (Kingma & Ba 2015) and TRL default.
   * Also accepted as `adam_beta2`.
   */
  adamBeta2: number;

  /**
   * Added to AdamW's denominator for numerical stability.
   *
   * Valid: a number > 0. Default: 1e-8.
   * Source: Adam (Kingma & Ba 2015) and TRL default.
   * Also accepted as `adam_epsilon`.
   */
  adamEpsilon: number;

  /**
   * Decoupled (AdamW) weight decay applied to weight matrices each step. 0 = none.
   *
   * Valid: a number >= 0. Default: 0.
   * Source: AdamW (Loshchilov & Hutter 2019); TRL default 0.
   * Also accepted as `weight_decay`.
   */
  weightDecay: number;

  /**
   * Gradients are rescaled so that their global L2 norm is at most this. 0 = no clipping. Smaller values
   * bound the damage of one bad batch.
   *
   * Valid: a number >= 0. Default: 0.5 (conservative), 1 (balanced), 2 (aggressive).
   * Source: TRL default 1.0; the usage guide's custom configuration uses 0.5.
   * Also accepted as `max_grad_norm`.
   */
  maxGradNorm: number;

  /**
   * Micro-batches of rollouts whose gradients are summed before one optimiser step: a larger effective batch
   * at the same memory. With lossType `dapo` the loss is normalised by the tokens of all micro-batches.
   *
   * Valid: an integer >= 1. Default: 1.
   * Source: TRL/transformers' gradient_accumulation_steps (default 1 in TRL's GRPOConfig examples).
   * Also accepted as `gradient_accumulation_steps`.
   */
  gradientAccumulationSteps: number;

  /**
   * μ: optimisation passes over each batch of rollouts. 1 = on-policy (the importance ratio is exactly 1 and
   * clipping never triggers); > 1 reuses expensive rollouts, and the clipped ratio keeps later passes close
   * to the sampling policy.
   *
   * Valid: an integer >= 1. Default: 1 (conservative), 1 (balanced), 2 (aggressive).
   * Source: μ in GRPO's Algorithm 1 (Shao et al. 2024); TRL's num_iterations (default 1).
   * Also accepted as `num_iterations`.
   */
  numIterations: number;

  /**
   * Seed of every random choice of training (scenario order, sampling), so a run is reproducible.
   *
   * Valid: an integer. Default: 42.
   * Source: TRL/transformers default 42.
   */
  seed: number;

  // ---- GRPO loss: advantages, clipping, KL and normalisation ----

  /**
   * Weight of the KL penalty (k3 estimator) that keeps the policy near a frozen reference copy of the
   * initial model. 0 = no penalty and no reference model (saves memory and one forward pass per step).
   *
   * Valid: a number >= 0. Default: 0.04 (conservative), 0 (balanced), 0 (aggressive).
   * Source: 0.04 in DeepSeekMath/DeepSeek-R1; TRL now defaults to 0 (DAPO and Dr. GRPO found it
   * unnecessary). The conservative profile keeps the anchor.
   */
  beta: number;

  /**
   * Clip range of the importance ratio: the objective ignores ratio moves beyond [1 − epsilon, 1 +
   * epsilonHigh]. Only active when numIterations > 1 (otherwise every ratio is 1). With
   * importanceSamplingLevel `sequence` use a much smaller value (GSPO: 3e-4).
   *
   * Valid: a number in (0, 1). Default: 0.1 (conservative), 0.2 (balanced), 0.3 (aggressive).
   * Source: PPO (Schulman et al. 2017) and GRPO use 0.2, also TRL's default.
   */
  epsilon: number;

  /**
   * Upper clip range (ratio at most 1 + epsilonHigh). Undefined = `epsilon` (symmetric clipping). A larger
   * value (clip-higher) lets unlikely good tokens grow faster and counters entropy collapse.
   *
   * Valid: a number > 0, or undefined (= epsilon). Default: undefined.
   * Source: DAPO (Yu et al. 2025) uses 0.28 with epsilon 0.2; GSPO uses 4e-4 at sequence level.
   * Also accepted as `epsilon_high`.
   */
  epsilonHigh: number;

  /**
   * How per-token losses are averaged. `grpo`: mean per episode, then over episodes (short episodes weigh
   * more per token: a length bias). `bnpo`: mean over all loss tokens of the micro-batch. `dr_grpo`: sum
   * divided by episodes × maxCompletionLength, a constant (unbiased, but the scale depends on that
   * constant). `dapo`: sum divided by the loss tokens of the whole accumulated batch (equals bnpo without
   * accumulation).
   *
   * Valid: "grpo" | "bnpo" | "dr_grpo" | "dapo". Default: "dapo".
   * Source: grpo: Shao et al. 2024; dr_grpo: Liu et al. 2025 (Understanding R1-Zero-Like Training); dapo: Yu
   * et al. 2025, TRL's current default.
   * Also accepted as `loss_type`.
   */
  lossType: LossType;

  /**
   * `token`: one importance ratio per token (PPO/GRPO). `sequence`: one ratio per episode, the geometric
   * mean of its token ratios (GSPO), which is less noisy for long episodes; pair it with a tiny epsilon.
   *
   * Valid: "token" | "sequence". Default: "token".
   * Source: GSPO (Zheng et al. 2025, Group Sequence Policy Optimization); TRL default `token`.
   * Also accepted as `importance_sampling_level`.
   */
  importanceSamplingLevel: ImportanceSamplingLevel;

  /**
   * How advantages are scaled after subtracting the group's mean reward. `group`: divide by the group's
   * reward std (GRPO; groups with tiny spread get amplified). `batch`: divide by the std of the whole batch
   * (more robust). `none`: no division (Dr. GRPO: avoids favouring too-easy/too-hard scenarios).
   *
   * Valid: "group" | "batch" | "none". Default: "group".
   * Source: group: Shao et al. 2024; none: Liu et al. 2025 (Dr. GRPO); TRL default `group`.
   * Also accepted as `scale_rewards`.
   */
  scaleRewards: ScaleRewards;

  /**
   * Added to the reward std before dividing, so a group whose rewards are all equal gets advantage 0 instead
   * of a division by zero.
   *
   * Valid: a number > 0. Default: 1e-4.
   * Source: TRL uses 1e-4.
   * Also accepted as `advantage_epsilon`.
   */
  advantageEpsilon: number;

  // ---- Schedule, logging, checkpoints and early stopping ----

  /**
   * Learning rate after warmup: `constant` keeps the peak; `linear` decays to 0 at the last step; `cosine`
   * follows half a cosine to 0 (see learningRateAt).
   *
   * Valid: "constant" | "linear" | "cosine". Default: "cosine" (conservative), "linear" (balanced),
   * "constant" (aggressive).
   * Source: transformers' lr_scheduler_type (TRL default `linear`).
   * Also accepted as `lr_scheduler`, `lr_scheduler_type`, `lrSchedulerType`.
   */
  lrScheduler: LrScheduler;

  /**
   * Fraction of the training steps over which the learning rate ramps up linearly to its peak. 0 = start at
   * the peak.
   *
   * Valid: a number in [0, 1). Default: 0.1 (conservative), 0.05 (balanced), 0 (aggressive).
   * Source: transformers' warmup_ratio (TRL default 0).
   * Also accepted as `warmup_ratio`.
   */
  warmupRatio: number;

  /**
   * Optimiser steps to train for. Give either maxSteps or numEpisodes, not both: undefined derives it from
   * numEpisodes as ceil(numEpisodes / (scenariosPerStep × numGenerations × gradientAccumulationSteps)) (see
   * totalTrainingSteps).
   *
   * Valid: an integer >= 1, or undefined. Default: undefined.
   * Source: transformers' max_steps.
   * Also accepted as `max_steps`.
   */
  maxSteps?: number;

  /**
   * Training budget in episodes (one episode = one multi-turn rollout), the usage guide's `num_episodes`.
   * Exclusive with maxSteps; when neither is set, DEFAULT_NUM_EPISODES (100) is used.
   *
   * Valid: an integer >= 1, or undefined. Default: undefined.
   * Source: The usage guide's train(num_episodes=...).
   * Also accepted as `num_episodes`.
   */
  numEpisodes?: number;

  /**
   * Metrics are logged (and callbacks told) every loggingSteps optimiser steps.
   *
   * Valid: an integer >= 1. Default: 1.
   * Source: TRL default 10; ours logs every step because steps are slow on CPU and notebooks plot live.
   * Also accepted as `logging_steps`.
   */
  loggingSteps: number;

  /**
   * With a runDir, append the step's trajectory groups (turns, per-turn rewards, reward breakdown,
   * advantages) to `trajectories.jsonl` every logTrajectorySteps steps, for `grpo report`'s trajectory
   * browser. 0 = never. Measured: 1.8 KB per quick-start trajectory (two assistant turns of up to 40 tokens)
   * without token log-probs.
   *
   * Valid: an integer >= 0. Default: 1.
   * Source: Ours (TRL's log_completions logs a sample of completions to the experiment tracker).
   * Also accepted as `log_trajectory_steps`.
   */
  logTrajectorySteps: number;

  /**
   * Also log each sampled token's id and sampling log-prob in `trajectories.jsonl`, so the report colours
   * tokens by probability. Measured: 12.6 bytes more per sampled token (quick start). Only used when
   * logTrajectorySteps > 0.
   *
   * Valid: true or false. Default: false.
   * Source: Ours: off by default because token logs are several times larger than the text.
   * Also accepted as `log_token_logprobs`.
   */
  logTokenLogprobs: boolean;

  /**
   * Evaluate on held-out scenarios every evalSteps steps. 0 = no periodic evaluation.
   *
   * Valid: an integer >= 0. Default: 0.
   * Source: transformers' eval_steps.
   * Also accepted as `eval_steps`.
   */
  evalSteps: number;

  /**
   * Write a checkpoint every saveSteps steps (when a save path is given). 0 = only the final checkpoint.
   *
   * Valid: an integer >= 0. Default: 50.
   * Source: transformers' save_steps (default 500; ours is smaller as runs are shorter).
   * Also accepted as `save_steps`.
   */
  saveSteps: number;

  /**
   * Keep at most this many periodic checkpoints, deleting the oldest. Undefined = keep all.
   *
   * Valid: an integer >= 1, or undefined. Default: undefined.
   * Source: transformers' save_total_limit (default none).
   * Also accepted as `save_total_limit`.
   */
  saveTotalLimit?: number;

  /**
   * Stop when the mean reward (the evaluation reward when evalSteps > 0) has not improved by more than
   * earlyStoppingMinDelta for `patience` consecutive checks.
   *
   * Valid: true or false. Default: false.
   * Source: The usage guide's early_stopping.
   * Also accepted as `early_stopping`.
   */
  earlyStopping: boolean;

  /**
   * Checks without improvement tolerated before early stopping. Only used when earlyStopping is true.
   *
   * Valid: an integer >= 1. Default: 30.
   * Source: The usage guide's custom configuration uses 30.
   */
  patience: number;

  /**
   * The smallest rise of the monitored reward that counts as an improvement. 0 = any rise.
   *
   * Valid: a number >= 0. Default: 0.
   * Source: Keras/transformers' early-stopping threshold (default 0).
   * Also accepted as `early_stopping_min_delta`.
   */
  earlyStoppingMinDelta: number;
}
// END GENERATED GRPOConfig

// The generated interface and the table's schemas must describe the same object (compile-time check).
type SchemaShape = { [K in GRPOConfigKey]: ReturnType<(typeof GRPO_KNOBS)[K]["schema"]> };
type SchemaOutput = z.output<z.ZodObject<SchemaShape>>;
/** A config before derivation, as a profile defines it (`epsilonHigh` may still be undefined). */
export type GRPOConfigDefaults = SchemaOutput;
type ResolvedSchemaOutput = Omit<SchemaOutput, "epsilonHigh"> & { epsilonHigh: number };
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertTrue<T extends true> = T;
type GRPOConfigMatchesTable = AssertTrue<MutuallyAssignable<GRPOConfig, ResolvedSchemaOutput>>;

// ---------------------------------------------------------------------------------------------
// Profiles, docs and snake_case names, all derived from the table
// ---------------------------------------------------------------------------------------------

function mapKnobs<T>(fn: <K extends GRPOConfigKey>(key: K, spec: (typeof GRPO_KNOBS)[K]) => T): Record<GRPOConfigKey, T> {
  const out = {} as Record<GRPOConfigKey, T>;
  for (const key of GRPO_CONFIG_KEYS) out[key] = fn(key, GRPO_KNOBS[key]);
  return out;
}

function profileDefaults(profile: TrainingProfile): SchemaOutput {
  return Object.freeze(mapKnobs((_, spec) => spec.defaults[profile])) as SchemaOutput;
}

/**
 * The defaults of each {@link TrainingProfile}, before derivation (`epsilonHigh` is undefined here and
 * becomes `epsilon` when resolved). Ordered as the usage guide says: conservative has the lowest
 * learning rate, the largest groups, the tightest clipping and the smallest maxGradNorm; aggressive the
 * opposite; balanced sits between.
 */
export const PROFILES: Readonly<Record<TrainingProfile, Readonly<GRPOConfigDefaults>>> = {
  conservative: profileDefaults("conservative"),
  balanced: profileDefaults("balanced"),
  aggressive: profileDefaults("aggressive"),
};

/** The documentation of one knob (see {@link GRPO_CONFIG_DOCS}). */
export interface KnobDoc {
  /** The section the knob belongs to (see {@link KNOB_GROUPS}). */
  group: KnobGroup;
  /** Its TypeScript type. */
  type: string;
  /** Its valid values in words. */
  expected: string;
  /** The default per profile (`undefined` where the doc says what unset means). */
  defaults: PerProfile<unknown>;
  /** What it does. */
  doc: string;
  /** Where the value comes from. */
  source: string;
  /** The snake_case spelling accepted in overrides (the usage guide's). */
  snakeCase: string;
  /** Other accepted spellings. */
  aliases: readonly string[];
}

/** camelCase → snake_case (`adamBeta1` → `adam_beta1`, `topP` → `top_p`). */
export function toSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Every knob's documentation, generated from {@link GRPO_KNOBS} (for notebook displays and the CLI). */
export const GRPO_CONFIG_DOCS: Readonly<Record<GRPOConfigKey, KnobDoc>> = mapKnobs((key, spec) => ({
  group: spec.group,
  type: spec.type,
  expected: spec.expected,
  defaults: spec.defaults,
  doc: spec.doc,
  source: spec.source,
  snakeCase: toSnakeCase(key),
  aliases: spec.aliases ?? [],
}));

/** Every accepted spelling → its knob. */
const SPELLINGS: ReadonlyMap<string, GRPOConfigKey> = new Map(
  GRPO_CONFIG_KEYS.flatMap((key) => {
    const doc = GRPO_CONFIG_DOCS[key];
    return [key, doc.snakeCase, ...doc.aliases].map((spelling) => [spelling, key] as const);
  }),
);

/** The zod schema of a config before derivation (strict: unknown keys are rejected earlier, with hints). */
const CONFIG_SCHEMA = z.strictObject(
  mapKnobs((_, spec): z.ZodType => spec.schema({ error: spec.expected })),
) as unknown as z.ZodType<SchemaOutput>;

/** Renders a value as the docs show it: `3e-4`, `"dapo"`, `undefined`. */
export function formatKnobValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "number" && value !== 0 && Math.abs(value) < 1e-3) return value.toExponential();
  if (typeof value === "number") return String(value);
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Resolution: profile → overrides → derived values → invariants
// ---------------------------------------------------------------------------------------------

/** User overrides: camelCase or snake_case knob names (the usage guide's `config_overrides`). */
export type GRPOConfigOverrides = Partial<GRPOConfig> | Record<string, unknown>;

/** Options of {@link resolveGRPOConfig}. */
export interface ResolveGRPOConfigOptions {
  /** The profile whose defaults start the config. Default `"balanced"`. */
  profile?: TrainingProfile;
  /**
   * Knobs to change, in camelCase or the usage guide's snake_case (`learning_rate`). `null` unsets an
   * optional knob (e.g. `temperature: null` = take the agent's); `undefined` values are ignored.
   */
  overrides?: GRPOConfigOverrides;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The closest name to `input` among `candidates`, ignoring case and underscores (so `learning_rat`
 * finds `learningRate`), or undefined when nothing is close (more than a third of the name differs).
 */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const canonical = (s: string) => s.toLowerCase().replace(/_/g, "");
  const target = canonical(input);
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(target, canonical(name));
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(1, Math.floor(target.length / 3)) ? best.name : undefined;
}

function suggestionFor(input: string): string {
  const spellings = [...SPELLINGS.keys()];
  const near = didYouMean(input, spellings);
  if (near === undefined) return "see GRPO_CONFIG_DOCS for every knob and its meaning.";
  return `did you mean \`${SPELLINGS.get(near)}\`?`;
}

function checkProfile(profile: unknown): TrainingProfile {
  if ((TRAINING_PROFILES as readonly unknown[]).includes(profile)) return profile as TrainingProfile;
  const near = typeof profile === "string" ? didYouMean(profile, TRAINING_PROFILES) : undefined;
  throw new GrpoError("invalid_config", "Unknown training profile.", {
    field: "profile",
    value: profile,
    expected: TRAINING_PROFILES.map((p) => `"${p}"`).join(" | "),
    fix: near ? `did you mean \`"${near}"\`?` : 'use "balanced" to start, "conservative" for maximum stability.',
  });
}

/** Maps every override key to its knob; rejects unknown keys and knobs given twice. */
function normaliseOverrides(overrides: unknown): Partial<Record<GRPOConfigKey, unknown>> {
  if (overrides === null || typeof overrides !== "object" || Array.isArray(overrides)) {
    throw new GrpoError("invalid_config", "Config overrides must be an object of knob values.", {
      field: "overrides",
      value: overrides,
      expected: "an object such as { learningRate: 1e-4, numGenerations: 8 }",
    });
  }
  const out: Partial<Record<GRPOConfigKey, unknown>> = {};
  const spelledAs: Partial<Record<GRPOConfigKey, string>> = {};
  for (const [spelling, value] of Object.entries(overrides)) {
    const key = SPELLINGS.get(spelling);
    if (key === undefined) {
      throw new GrpoError("invalid_config", "Unknown GRPOConfig knob.", {
        field: `GRPOConfig.${spelling}`,
        value,
        expected: "a knob of GRPOConfig (camelCase or snake_case)",
        fix: suggestionFor(spelling),
      });
    }
    const earlier = spelledAs[key];
    if (earlier !== undefined) {
      throw new GrpoError("invalid_config", "The same knob is given twice under different spellings.", {
        field: `GRPOConfig.${spelling}`,
        value: { [earlier]: out[key], [spelling]: value },
        expected: `one spelling of \`${key}\``,
        fix: `keep only one of \`${earlier}\` and \`${spelling}\`.`,
      });
    }
    spelledAs[key] = spelling;
    if (value === undefined) continue;
    // null is how Python users write None: it unsets an optional knob (and fails validation otherwise).
    const spec: KnobSpec = GRPO_KNOBS[key];
    const optional = spec.schema({ error: spec.expected }).safeParse(undefined).success;
    out[key] = value === null && optional ? undefined : value;
  }
  return out;
}

function fixFor(field: string): string {
  const key = field.split(".").at(1) as GRPOConfigKey | undefined;
  if (key === undefined || !(key in GRPO_KNOBS)) return "see GRPO_CONFIG_DOCS.";
  const values = TRAINING_PROFILES.map((p) => formatKnobValue(GRPO_KNOBS[key].defaults[p]));
  const defaults = values.every((v) => v === values[0])
    ? `default ${values[0]}`
    : TRAINING_PROFILES.map((p, i) => `${p} ${values[i]}`).join(", ");
  return `set \`${key}\` to ${GRPO_KNOBS[key].expected}, or leave it out for the profile's default (${defaults}).`;
}

/** Checks that involve several knobs; runs after derivation. */
function checkInvariants(config: GRPOConfig): void {
  if (config.maxSteps !== undefined && config.numEpisodes !== undefined) {
    throw new GrpoError("invalid_config", "Both maxSteps and numEpisodes are set; they are two ways to say how long to train.", {
      field: "GRPOConfig.maxSteps",
      value: { maxSteps: config.maxSteps, numEpisodes: config.numEpisodes },
      expected: "at most one of maxSteps and numEpisodes",
      fix: "remove one of them (numEpisodes counts rollouts; maxSteps counts optimiser steps).",
    });
  }
}

/**
 * Makes a complete, validated {@link GRPOConfig}: the profile's defaults (default `"balanced"`), then
 * the user's overrides (camelCase or snake_case), then derived values (`epsilonHigh` = `epsilon` when
 * unset), then checks across knobs. What the user set is never changed.
 *
 * @throws GrpoError `invalid_config` naming the knob, the value, the valid range and a fix, for an
 *   unknown profile, an unknown knob (with a did-you-mean hint), a knob given in two spellings, an
 *   invalid value, or conflicting knobs.
 */
export function resolveGRPOConfig(options: ResolveGRPOConfigOptions = {}): GRPOConfig {
  if (options === null || typeof options !== "object") {
    throw new GrpoError("invalid_config", "resolveGRPOConfig takes an options object.", {
      value: options,
      expected: '{ profile?: "balanced", overrides?: { ... } }',
    });
  }
  const stray = Object.keys(options).find((k) => k !== "profile" && k !== "overrides");
  if (stray !== undefined) {
    throw new GrpoError("invalid_config", "Unknown option of resolveGRPOConfig.", {
      field: stray,
      value: (options as Record<string, unknown>)[stray],
      expected: "profile and overrides only",
      fix: SPELLINGS.has(stray) ? `put knobs under \`overrides\`: { overrides: { ${stray}: ... } }.` : "remove it.",
    });
  }
  const profile = checkProfile(options.profile ?? "balanced");
  const overrides = normaliseOverrides(options.overrides ?? {});
  const merged = { ...PROFILES[profile], ...overrides };
  const parsed = parseWith(CONFIG_SCHEMA, merged, { root: "GRPOConfig", code: "invalid_config", fix: fixFor });
  const config: GRPOConfig = { ...parsed, epsilonHigh: parsed.epsilonHigh ?? parsed.epsilon };
  checkInvariants(config);
  return config;
}

/** One knob whose value differs from a profile's (see {@link describeConfigDiff}). */
export interface ConfigDifference {
  /** The knob. */
  key: GRPOConfigKey;
  /** Its section. */
  group: KnobGroup;
  /** The value in the config. */
  value: unknown;
  /** The profile's value (after derivation). */
  profileValue: unknown;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const canonical = (v: unknown) =>
    v !== null && typeof v === "object" ? JSON.stringify(Object.entries(v).sort(([x], [y]) => x.localeCompare(y))) : v;
  return canonical(a) === canonical(b);
}

/**
 * The knobs of `config` that differ from `profile`'s defaults, in table order (for notebook displays:
 * "balanced, except learningRate 1e-4"). A derived knob counts as different only when it departs
 * from its derivation (`epsilonHigh` ≠ `epsilon` when the profile leaves it unset).
 */
export function describeConfigDiff(config: GRPOConfig, profile: TrainingProfile = "balanced"): ConfigDifference[] {
  const defaults = PROFILES[checkProfile(profile)];
  const differences: ConfigDifference[] = [];
  for (const key of GRPO_CONFIG_KEYS) {
    let profileValue: unknown = defaults[key];
    if (key === "epsilonHigh" && profileValue === undefined) profileValue = config.epsilon;
    if (!sameValue(config[key], profileValue)) {
      differences.push({ key, group: GRPO_KNOBS[key].group, value: config[key], profileValue });
    }
  }
  return differences;
}

// ---------------------------------------------------------------------------------------------
// Derived quantities: training length and the learning-rate schedule
// ---------------------------------------------------------------------------------------------

/** The training budget when neither maxSteps nor numEpisodes is set. */
export const DEFAULT_NUM_EPISODES = 100;

/** Episodes consumed by one optimiser step: scenariosPerStep × numGenerations × gradientAccumulationSteps. */
export function episodesPerStep(
  config: Pick<GRPOConfig, "scenariosPerStep" | "numGenerations" | "gradientAccumulationSteps">,
): number {
  return config.scenariosPerStep * config.numGenerations * config.gradientAccumulationSteps;
}

/**
 * Optimiser steps of a run: `maxSteps` when set, else ceil(numEpisodes / episodesPerStep) with
 * numEpisodes defaulting to {@link DEFAULT_NUM_EPISODES}. Always >= 1.
 */
export function totalTrainingSteps(
  config: Pick<GRPOConfig, "maxSteps" | "numEpisodes" | "scenariosPerStep" | "numGenerations" | "gradientAccumulationSteps">,
): number {
  if (config.maxSteps !== undefined) return config.maxSteps;
  const episodes = config.numEpisodes ?? DEFAULT_NUM_EPISODES;
  return Math.max(1, Math.ceil(episodes / episodesPerStep(config)));
}

/** Steps of linear warmup: ceil(warmupRatio × totalSteps). */
export function warmupSteps(warmupRatio: number, totalSteps: number): number {
  return Math.ceil(warmupRatio * totalSteps);
}

/**
 * The learning rate of optimiser update `step` (0-based) out of `totalSteps`.
 *
 * With W = ceil(warmupRatio × totalSteps) warmup steps and peak η = learningRate:
 * - warmup, step < W: η · (step + 1) / (W + 1), rising linearly and never 0 (no wasted update);
 * - after, with progress p = (step − W) / (totalSteps − W) in [0, 1) (clamped to 1 past the end):
 *   `constant` η; `linear` η · (1 − p); `cosine` η · ½ (1 + cos(π p)).
 * The schedule reaches η at step W; linear and cosine end above 0 at the last step and are 0 after it.
 */
export function learningRateAt(
  step: number,
  totalSteps: number,
  config: Pick<GRPOConfig, "learningRate" | "lrScheduler" | "warmupRatio">,
): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new GrpoError("invalid_argument", "The step must be a non-negative integer.", {
      field: "step",
      value: step,
      expected: "an integer >= 0 (0 = the first update)",
    });
  }
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new GrpoError("invalid_argument", "totalSteps must be a positive integer.", {
      field: "totalSteps",
      value: totalSteps,
      expected: "an integer >= 1",
      fix: "compute it with totalTrainingSteps(config).",
    });
  }
  const peak = config.learningRate;
  const warmup = warmupSteps(config.warmupRatio, totalSteps);
  if (step < warmup) return (peak * (step + 1)) / (warmup + 1);
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  switch (config.lrScheduler) {
    case "constant":
      return peak;
    case "linear":
      return peak * (1 - progress);
    case "cosine":
      return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}
