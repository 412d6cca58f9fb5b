/**
 * GRPO really trains: from a tiny randomly initialised model, a verifiable reward (does the reply
 * contain the word "yes"?) rises from near 0 to >= 0.8 within a test-sized run.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { DiagnosticsMonitor } from "../../src/training/diagnostics.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

let modelDir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 1 });
});

/** Half for containing "yes", half for the share of y/e/s characters (a dense signal to climb). */
const yesReward = rewardFunction({ name: "says_yes" }, (turns) => {
  const text = turns.filter((t) => t.role === "assistant").map((t) => t.content).join(" ");
  if (text.length === 0) return 0;
  let letters = 0;
  for (const ch of text) if ("yes".includes(ch)) letters++;
  return 0.5 * (text.includes("yes") ? 1 : 0) + 0.5 * (letters / text.length);
});

describe("GRPOTrainer learning", () => {
  it("raises the share of replies containing the target word from near 0 to >= 0.8", async () => {
    const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "You are helpful.", temperature: 1, maxNewTokens: 12 });
    agent.policy = await TfPolicy.fromFolder(modelDir);
    const environment = new ConversationEnvironment({
      scenarios: [{ id: "a", userResponses: ["Hi! Can you help me?"] }, { id: "b", userResponses: ["Say something nice."] }],
      maxTurns: 1,
    });
    const monitor = new DiagnosticsMonitor();
    const trainer = await GRPOTrainer.create({
      agent, environment, reward: yesReward, callbacks: [monitor],
      configOverrides: { learningRate: 2e-2, numGenerations: 8, scenariosPerStep: 2, maxSteps: 40, warmupRatio: 0, seed: 3 },
    });
    const share = (r: Awaited<ReturnType<GRPOTrainer["step"]>>) => {
      const all = r.groups.flatMap((g) => g.trajectories);
      return all.filter((t) => t.assistantTurns[0].content.includes("yes")).length / all.length;
    };
    const first = await trainer.step();
    const baseline = share(first);
    const tensorsAfterFirst = tf.memory().numTensors;
    const shares: number[] = [baseline];
    while (trainer.stepCount < 40) {
      const report = await trainer.step();
      shares.push(share(report));
      const recent = shares.slice(-3);
      if (recent.length === 3 && recent.every((s) => s >= 0.8)) break;
    }
    expect(baseline).toBeLessThan(0.2);
    expect(shares.slice(-3).every((s) => s >= 0.8)).toBe(true);
    expect(trainer.history.length).toBe(trainer.stepCount);
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    const last = trainer.history.last()!;
    for (const key of ["reward", "reward_std", "rewards/says_yes/mean", "frac_reward_zero_std", "kl", "clip_ratio/low_mean",
      "clip_ratio/high_mean", "entropy", "grad_norm", "learning_rate", "completions/mean_length", "episodes", "step"]) {
      expect(Number.isFinite(last[key]), key).toBe(true);
    }
    expect(monitor.metrics).toHaveLength(trainer.stepCount);
    trainer.dispose();
  });
});
