/**
 * Hand-built trajectories with sampled tokens, a real (tiny) tokenizer and synthetic step metrics, so
 * the view tests need no model.
 */
import { ConversationTurn, MultiTurnTrajectory, TrajectoryGroup } from "../../src/core/trajectory.js";
import { BUILTIN_SPECIAL_TOKENS, builtinTokenizerConfig, trainBPE } from "../../src/model/bpe-trainer.js";
import { ChatTokenizer } from "../../src/model/tokenizer.js";
import type { StepReport } from "../../src/training/events.js";
import { TrainingHistory, type StepMetrics } from "../../src/training/history.js";

/** A byte-level BPE tokenizer trained on a few sentences (multi-byte characters included). */
export function tinyTokenizer(): ChatTokenizer {
  const corpus = ["Python is great. Practice every day!", "The answer is 42.", "Café naïve — ünïcödé 😀 text", "yes no maybe"];
  return ChatTokenizer.fromJSON(trainBPE([...corpus, ...corpus], { vocabSize: 300, specialTokens: [...BUILTIN_SPECIAL_TOKENS] }), builtinTokenizerConfig());
}

/** An assistant turn whose generation is `text` tokenized (+ EOS), with the given per-token log-probs pattern. */
export function sampledTurn(tokenizer: ChatTokenizer, text: string, logprobOf: (i: number) => number = (i) => -0.1 * (i + 1)): ConversationTurn {
  const ids = [...tokenizer.encode(text), tokenizer.eosTokenId];
  return new ConversationTurn({
    role: "assistant",
    content: text,
    generation: { promptTokenIds: [1, 2, 3], tokenIds: ids, logprobs: ids.map((_, i) => logprobOf(i)), finishReason: "stop" },
  });
}

/**
 * A scored trajectory with `replies.length` assistant turns, a composite-style breakdown
 * (components `a` (weight 2) and `b` (weight 1), per-turn entries) and `total` as its reward.
 */
export function scoredTrajectory(tokenizer: ChatTokenizer, id: string, replies: string[], scores: { a: number; b: number }): MultiTurnTrajectory {
  const turns: ConversationTurn[] = [new ConversationTurn({ role: "system", content: "You are helpful." })];
  replies.forEach((reply, i) => {
    turns.push(new ConversationTurn({ role: "user", content: `Question ${i}?` }));
    const turn = sampledTurn(tokenizer, reply);
    turn.reward = (2 * scores.a + scores.b) / 3;
    turns.push(turn);
  });
  const total = (2 * scores.a + scores.b) / 3;
  const breakdown: Record<string, number> = { a: scores.a, b: scores.b };
  replies.forEach((_, i) => { breakdown[`a/turn_${i}`] = scores.a; breakdown[`b/turn_${i}`] = scores.b; });
  return new MultiTurnTrajectory({
    id, scenarioId: "s1", turns, totalReward: total, turnRewards: replies.map(() => total), rewardBreakdown: breakdown,
    metadata: { reward: { score: total, breakdown, metadata: { aggregation: "weighted_sum", weights: { a: 2, b: 1 } }, explanation: "weighted_sum of a and b" } },
  });
}

/** A group of three trajectories with distinct rewards (not in reward order). */
export function fixtureGroup(tokenizer: ChatTokenizer): TrajectoryGroup {
  return new TrajectoryGroup("s1", [
    scoredTrajectory(tokenizer, "t-mid", ["Python is great."], { a: 0.5, b: 0.5 }),
    scoredTrajectory(tokenizer, "t-best", ["The answer is 42."], { a: 1, b: 0.8 }),
    scoredTrajectory(tokenizer, "t-worst", ["no"], { a: 0, b: 0.1 }),
  ]);
}

/** Metrics of step `step` shaped like the trainer's (a few families omitted when `sparse`). */
export function stepMetrics(step: number, sparse = false): StepMetrics {
  const m: StepMetrics = {
    step, episodes: 4 * step, reward: 0.1 * step, reward_std: 0.05, loss: 1 / step, kl: 0.01 * step,
    "clip_ratio/region_mean": 0.02, entropy: 2 - 0.1 * step, grad_norm: 1 + 0.1 * step, "completions/mean_length": 10 + step,
    episode_length: 2, success_rate: 1, learning_rate: 1e-3, "time/step_s": 0.5, "rewards/a/mean": 0.4, "rewards/a/std": 0.1,
  };
  if (sparse) delete m.kl;
  return m;
}

/** A history of `n` steps. */
export function fixtureHistory(n: number): TrainingHistory {
  return new TrainingHistory(Array.from({ length: n }, (_, i) => stepMetrics(i + 1)));
}

/** A step report holding `group`. */
export function fixtureReport(group: TrajectoryGroup, step = 3): StepReport {
  return { step, episodes: 12, groups: [group], advantages: [group.advantages()], loss: 0.25, metrics: stepMetrics(step) };
}
