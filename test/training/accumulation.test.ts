/**
 * Gradient accumulation is exact: the same rollout trained as 1 micro-batch or split into several
 * gives the same update (per-token weights are global to the step), up to float summation order.
 * A large Adam epsilon makes the first update ≈ lr·g/ε, linear in the gradient, so a wrong scale
 * (e.g. normalising each micro-batch on its own) would show instead of being hidden by Adam.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

let dir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  dir = await makeTinyModel({ seed: 6 });
});

const reward = rewardFunction({ name: "len" }, (turns) => Math.min(1, turns.filter((t) => t.role === "assistant").map((t) => t.content).join("").length / 30));
const environment = new ConversationEnvironment({
  scenarios: [{ id: "a", userResponses: ["Hi!", "More?"] }, { id: "b", userResponses: ["Hello there."] }], maxTurns: 2,
});

async function updateOfOneStep(lossType: string, parts: number): Promise<number[]> {
  const agent = new MultiTurnAgent({ modelName: dir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 8 });
  agent.policy = await TfPolicy.fromFolder(dir);
  const trainer = await GRPOTrainer.create({ agent, environment, reward,
    configOverrides: { numGenerations: 4, scenariosPerStep: 2, learningRate: 1e-2, adamEpsilon: 10, weightDecay: 0, maxGradNorm: 0, lossType, seed: 1, warmupRatio: 0 } });
  const policy = agent.policy as TfPolicy;
  const names = Object.keys(policy.model.params).sort();
  const before = names.flatMap((n) => Array.from(policy.model.params[n].dataSync()));
  // Same rollout either way: only the optimisation split differs.
  (trainer as unknown as { config: { gradientAccumulationSteps: number } }).config.gradientAccumulationSteps = 1;
  const split = trainer as unknown as { splitOverride?: number };
  split.splitOverride = parts;
  await trainer.step();
  const after = names.flatMap((n) => Array.from(policy.model.params[n].dataSync()));
  return after.map((v, i) => v - before[i]);
}

describe("micro-batch splitting", () => {
  for (const lossType of ["grpo", "dr_grpo", "dapo"]) {
    it(`gives the same update for 1 and 4 micro-batches (${lossType})`, async () => {
      const one = await updateOfOneStep(lossType, 1);
      const four = await updateOfOneStep(lossType, 4);
      const scale = Math.max(...one.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      const worst = Math.max(...one.map((v, i) => Math.abs(v - four[i])));
      expect(worst / scale).toBeLessThan(1e-3);
    });
  }
});
