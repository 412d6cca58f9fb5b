/**
 * Evaluation: play scenarios with an agent, score them, and summarise (mean reward ± std, success
 * rate, per-component means). Used by examples, the `grpo eval` command and the AutoTrainer baseline.
 */
import type { Agent } from "../core/agent.js";
import type { Environment, Scenario } from "../core/environment.js";
import { runEpisodes } from "../core/episode.js";
import type { RewardFunction } from "../core/reward.js";
import { mean, std } from "../core/stats.js";
import { TrajectoryGroup } from "../core/trajectory.js";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  agent: Agent;
  environment: Environment;
  reward: RewardFunction;
  /** Scenarios to play (default: all of the environment's). */
  scenarios?: readonly Scenario[];
  /** Episodes per scenario (default 4). */
  episodesPerScenario?: number;
  /** Aborts between turns. */
  signal?: AbortSignal;
}

/** What {@link evaluate} measured. */
export interface EvaluationReport {
  /** Mean total reward over all episodes. */
  meanReward: number;
  /** Std (unbiased) of the total reward over all episodes. */
  rewardStd: number;
  /** Mean within-scenario reward std (what GRPO would learn from). */
  rewardDiversity: number;
  /** Share of episodes that succeeded. */
  successRate: number;
  /** Mean assistant turns per episode. */
  averageEpisodeLength: number;
  /** Mean of each named reward component (top-level breakdown keys). */
  components: Record<string, number>;
  /** Number of episodes played. */
  episodes: number;
  /** The trajectories, grouped by scenario. */
  groups: TrajectoryGroup[];
}

/** Plays `episodesPerScenario` episodes of every scenario concurrently (batched sampling) and scores them. */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationReport> {
  const { agent, environment, reward } = options;
  if (!agent.isInitialized) await agent.initialize();
  const perScenario = options.episodesPerScenario ?? 4;
  const scenarios = options.scenarios ?? environment.scenarios();
  const plays = scenarios.flatMap((s) => Array.from({ length: perScenario }, () => s));
  const trajectories = await runEpisodes(agent, environment, plays, { reward, signal: options.signal });
  const groups = scenarios.map((s, i) => new TrajectoryGroup(s.id, trajectories.slice(i * perScenario, (i + 1) * perScenario)));
  const rewards = trajectories.map((t) => t.totalReward);
  const components: Record<string, number> = {};
  const names = new Set(trajectories.flatMap((t) => Object.keys(t.rewardBreakdown).filter((k) => !k.includes("/") && !/^turn_\d+$/.test(k))));
  for (const name of names) {
    components[name] = mean(trajectories.map((t) => t.rewardBreakdown[name]).filter((v): v is number => typeof v === "number"));
  }
  return {
    meanReward: mean(rewards),
    rewardStd: std(rewards),
    rewardDiversity: mean(groups.map((g) => g.rewardDiversity)),
    successRate: mean(trajectories.map((t) => (t.success ? 1 : 0))),
    averageEpisodeLength: mean(trajectories.map((t) => t.episodeLength)),
    components,
    episodes: trajectories.length,
    groups,
  };
}

/** One line per figure, for terminals: `reward 0.512 ± 0.103 | success 75.0% | helpfulness 0.61 …`. */
export function formatEvaluation(report: EvaluationReport): string {
  const parts = [
    `reward ${report.meanReward.toFixed(3)} ± ${report.rewardStd.toFixed(3)}`,
    `success ${(100 * report.successRate).toFixed(1)}%`,
    `length ${report.averageEpisodeLength.toFixed(1)} turns`,
    ...Object.entries(report.components).map(([k, v]) => `${k} ${v.toFixed(3)}`),
  ];
  return parts.join(" | ");
}
