/**
 * What every example shares: evaluate on held-out scenarios, train, evaluate again, report.
 * Each example file builds its agent, environments and reward the way the usage guide shows, then
 * hands them to {@link runExample}.
 */
import type { Agent } from "../src/core/agent.js";
import type { Environment } from "../src/core/environment.js";
import type { RewardFunction } from "../src/core/reward.js";
import type { GRPOConfigOverrides, TrainingProfile } from "../src/training/config.js";
import { evaluate, formatEvaluation, type EvaluationReport } from "../src/training/evaluate.js";
import { runTraining, type TrainingSummary } from "../src/training/train.js";

/** Options every example accepts (command-line flags of `npm run example`). */
export interface ExampleOptions {
  /** Seed of the run (sampling and scenario order). Default 0. */
  seed?: number;
  /** Training episodes (default: the example's own). */
  numEpisodes?: number;
  /** Episodes per held-out scenario in the before/after evaluations (default: the example's own, else 4). */
  evalEpisodes?: number;
  /** Where to save the trained agent (default: `checkpoints/<example>`; "" = do not save). */
  savePath?: string;
  /** Print progress and the summary (default true). */
  verbose?: boolean;
  /** The model (default `builtin:tiny-chat`). */
  modelName?: string;
}

/** What an example measured. */
export interface ExampleResult {
  name: string;
  before: EvaluationReport;
  after: EvaluationReport;
  summary: TrainingSummary;
  /** The example's headline metric before and after (e.g. accuracy for the tool agent). */
  headline: { name: string; before: number; after: number };
}

/** The parts of an example. */
export interface ExampleSpec {
  name: string;
  agent: Agent;
  environment: Environment;
  /** Held-out scenarios for the before/after evaluation (never trained on). */
  evalEnvironment: Environment;
  reward: RewardFunction;
  profile: TrainingProfile;
  numEpisodes: number;
  /** Episodes per held-out scenario in the before/after evaluations (default 4). */
  evalEpisodes?: number;
  configOverrides?: GRPOConfigOverrides;
  /** The headline metric of an evaluation (default: mean reward). */
  headline?: { name: string; of: (report: EvaluationReport) => number };
}

/** Evaluates, trains, evaluates again, and prints before → after. */
export async function runExample(spec: ExampleSpec, options: ExampleOptions = {}): Promise<ExampleResult> {
  const verbose = options.verbose ?? true;
  const log = (text: string) => { if (verbose) console.log(text); };
  const headline = spec.headline ?? { name: "mean reward", of: (r: EvaluationReport) => r.meanReward };
  await spec.agent.initialize();
  const evalOptions = { agent: spec.agent, environment: spec.evalEnvironment, reward: spec.reward, episodesPerScenario: options.evalEpisodes ?? spec.evalEpisodes ?? 4 };

  log(`[${spec.name}] evaluating the untrained agent on ${spec.evalEnvironment.scenarios().length} held-out scenarios…`);
  const before = await evaluate(evalOptions);
  log(`[${spec.name}] before: ${formatEvaluation(before)}`);

  const savePath = options.savePath ?? `checkpoints/${spec.name}`;
  const result = await runTraining({
    agent: spec.agent,
    environment: spec.environment,
    reward: spec.reward,
    numEpisodes: options.numEpisodes ?? spec.numEpisodes,
    profile: spec.profile,
    configOverrides: { ...(spec.configOverrides ?? {}), seed: options.seed ?? 0 },
    savePath: savePath === "" ? undefined : savePath,
    verbose,
  });

  const after = await evaluate(evalOptions);
  log(`[${spec.name}] after:  ${formatEvaluation(after)}`);
  const h = { name: headline.name, before: headline.of(before), after: headline.of(after) };
  log(`[${spec.name}] ${h.name}: ${h.before.toFixed(3)} → ${h.after.toFixed(3)} (${h.after - h.before >= 0 ? "+" : ""}${(h.after - h.before).toFixed(3)})`);
  return { name: spec.name, before, after, summary: result.summary, headline: h };
}

/** Parses `--seed N --episodes N --eval-episodes N --save PATH --quiet --model NAME` for an example's main. */
export function parseExampleArgs(argv: readonly string[]): ExampleOptions {
  const options: ExampleOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const num = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${JSON.stringify(value)}`);
      i += 1;
      return n;
    };
    if (flag === "--seed") options.seed = num();
    else if (flag === "--episodes") options.numEpisodes = num();
    else if (flag === "--eval-episodes") options.evalEpisodes = num();
    else if (flag === "--save") { options.savePath = value ?? ""; i += 1; }
    else if (flag === "--model") { options.modelName = value; i += 1; }
    else if (flag === "--quiet") options.verbose = false;
    else throw new Error(`Unknown option ${flag}. Options: --seed N --episodes N --eval-episodes N --save PATH --model NAME --quiet`);
  }
  return options;
}
