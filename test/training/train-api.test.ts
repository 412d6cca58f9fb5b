/**
 * The guide's training surface end to end on a tiny model: train() with the quick-start shape,
 * savePath + loadAgentFromCheckpoint, health status, AutoTrainer, stepping/abort semantics.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { DiagnosticsMonitor } from "../../src/training/diagnostics.js";
import { AutoTrainer, chooseProfile, proposeAdjustments } from "../../src/training/auto.js";
import { runTraining, train } from "../../src/training/train.js";
import { GRPOTrainer, loadAgentFromCheckpoint } from "../../src/training/trainer.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

let modelDir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 4 });
});

const scenarios = [{
  id: "help_conversation",
  userResponses: ["Hi! Can you help me?", "I need advice on learning Python.", "Thank you for the suggestions!"],
}];
const yesReward = rewardFunction({ name: "yes_share" }, (turns) => {
  const text = turns.filter((t) => t.role === "assistant").map((t) => t.content).join(" ");
  let n = 0;
  for (const ch of text) if ("yes".includes(ch)) n++;
  return text.length ? n / text.length : 0;
});

async function newAgent(): Promise<MultiTurnAgent> {
  const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "You are a helpful AI assistant.", temperature: 0.8, maxNewTokens: 8 });
  agent.policy = await TfPolicy.fromFolder(modelDir);
  await agent.initialize();
  return agent;
}

async function weightHash(policy: TfPolicy): Promise<number[]> {
  const out: number[] = [];
  for (const name of Object.keys(policy.model.params).sort()) out.push(...(await policy.model.params[name].data()).slice(0, 16));
  return out;
}

describe("train()", () => {
  it("runs the quick-start shape, prints the summary, saves where savePath says, and reloads", async () => {
    const agent = await newAgent();
    const environment = new ConversationEnvironment({ scenarios, maxTurns: 12 });
    const savePath = path.join(mkdtempSync(path.join(tmpdir(), "train-")), "my_agent");
    const monitor = new DiagnosticsMonitor();
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    let result;
    let printed = "";
    try {
      result = await runTraining({
        agent, environment, reward: yesReward, numEpisodes: 16, profile: "balanced", callbacks: [monitor], savePath,
        configOverrides: { learning_rate: 1e-2, num_generations: 4, max_grad_norm: 0.5, early_stopping: true, patience: 30 },
        verbose: true,
      });
      printed = log.mock.calls.map((c) => String(c[0])).join("\n");
    } finally {
      log.mockRestore();
    }
    expect(printed).toContain("GRPO Agent Framework - Training Complete");
    expect(printed).toMatch(/Episodes: 16\n/);
    expect(printed).toMatch(/Final Reward: \d\.\d{3} ± \d\.\d{3}/);
    expect(printed).toMatch(/Average Episode Length: 3\.0 turns/);
    expect(printed).toContain(`Agent saved to: ${savePath}`);
    expect(result.trainer.config.learningRate).toBe(1e-2);
    expect(result.trainer.config.numGenerations).toBe(4);
    expect(result.trainer.stepCount).toBe(2); // 16 episodes / (2 scenarios per step × 4 generations)
    expect(result.summary.health.status).toBe("HEALTHY");
    expect(monitor.getHealthStatus().status).toBe("HEALTHY");
    expect(existsSync(path.join(savePath, "model", "model.safetensors"))).toBe(true);

    const loaded = await loadAgentFromCheckpoint(savePath);
    expect(await weightHash(loaded.policy as TfPolicy)).toEqual(await weightHash(agent.policy as TfPolicy));
    expect(await weightHash(loaded.policy as TfPolicy)).not.toEqual(await weightHash(await TfPolicy.fromFolder(modelDir)));
    const reply = await loaded.generateResponse([{ role: "user", content: "Hello! How are you?" }]);
    expect(typeof reply).toBe("string");
    expect(loaded.config.systemPrompt).toBe("You are a helpful AI assistant.");
  });

  it("returns the agent (guide shape) and stays quiet with verbose: false", async () => {
    const agent = await newAgent();
    const log = vi.spyOn(console, "log");
    const trained = await train({ agent, environment: new ConversationEnvironment({ scenarios }), reward: yesReward, numEpisodes: 8,
      configOverrides: { numGenerations: 4, scenariosPerStep: 1 }, verbose: false });
    expect(trained).toBe(agent);
    expect(log).not.toHaveBeenCalled();
    log.mockRestore();
  });
});

describe("GRPOTrainer stepping", () => {
  it("a failing reward aborts the step with a clear error and changes nothing", async () => {
    const agent = await newAgent();
    let calls = 0;
    const flaky = rewardFunction({ name: "flaky" }, () => (++calls > 4 ? Number.NaN : 0.5));
    const trainer = await GRPOTrainer.create({ agent, environment: new ConversationEnvironment({ scenarios }), reward: flaky,
      configOverrides: { numGenerations: 4, scenariosPerStep: 1 } });
    await trainer.step();
    const before = await weightHash(agent.policy as TfPolicy);
    const rngBefore = (agent.policy as TfPolicy).getRngState();
    await expect(trainer.step()).rejects.toThrow(/flaky/);
    expect(await weightHash(agent.policy as TfPolicy)).toEqual(before);
    expect((agent.policy as TfPolicy).getRngState()).toEqual(rngBefore);
    expect(trainer.stepCount).toBe(1);
    expect(trainer.history.length).toBe(1);
  });

  it("an aborted run stops at a safe point, the trainer stays steppable, and nothing leaks", async () => {
    const agent = await newAgent();
    const trainer = await GRPOTrainer.create({ agent, environment: new ConversationEnvironment({ scenarios }), reward: yesReward,
      configOverrides: { numGenerations: 4, scenariosPerStep: 1, maxSteps: 100 } });
    await trainer.step();
    const tensors = tf.memory().numTensors;
    const controller = new AbortController();
    let seen = 0;
    trainer.callbacks.push({ onStepEnd: () => { if (++seen === 2) controller.abort(); } });
    const reason = await trainer.run({ signal: controller.signal });
    expect(reason).toBe("aborted");
    expect(trainer.stepCount).toBeGreaterThanOrEqual(3);
    expect(trainer.stepCount).toBeLessThanOrEqual(4);
    const count = trainer.stepCount;
    await trainer.step();
    expect(trainer.stepCount).toBe(count + 1);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("refuses a second step while one is running", async () => {
    const agent = await newAgent();
    const trainer = await GRPOTrainer.create({ agent, environment: new ConversationEnvironment({ scenarios }), reward: yesReward,
      configOverrides: { numGenerations: 4, scenariosPerStep: 1 } });
    const first = trainer.step();
    await expect(trainer.step()).rejects.toThrow(/already running/);
    await first;
    expect(trainer.stepCount).toBe(1);
  });

  it("rejects an untrainable policy and bad arguments clearly", async () => {
    const environment = new ConversationEnvironment({ scenarios });
    const remote = new MultiTurnAgent({ modelName: "remote" }, { policy: { name: "remote", generate: async () => [] } });
    await expect(GRPOTrainer.create({ agent: remote, environment, reward: yesReward })).rejects.toThrow(/cannot be trained/);
    await expect(GRPOTrainer.create({ agent: undefined as never, environment, reward: yesReward })).rejects.toThrow(/needs an agent/);
    const agent = await newAgent();
    await expect(GRPOTrainer.create({ agent, environment, reward: yesReward, configOverrides: { learning_rat: 1 } }))
      .rejects.toThrow(/learningRate/);
  });
});

describe("health and run logs", () => {
  it("turns CRITICAL when a NaN reward is injected into a real run, and logs metrics.jsonl per step", async () => {
    const agent = await newAgent();
    const runDir = mkdtempSync(path.join(tmpdir(), "run-"));
    const monitor = new DiagnosticsMonitor();
    let step = 0;
    // Corrupts the third step's reward before the monitor sees it (callbacks run in order).
    const inject = { onStepEnd: (e: { report: { metrics: Record<string, number> } }) => { if (++step === 3) e.report.metrics.reward = Number.NaN; } };
    const trainer = await GRPOTrainer.create({ agent, environment: new ConversationEnvironment({ scenarios }), reward: yesReward,
      callbacks: [inject, monitor], runDir, configOverrides: { numGenerations: 4, scenariosPerStep: 1, learningRate: 1e-3 } });
    await trainer.step();
    await trainer.step();
    expect(monitor.getHealthStatus().status).toBe("HEALTHY");
    await trainer.step();
    const health = monitor.getHealthStatus();
    expect(health.status).toBe("CRITICAL");
    expect(health.issues.map((i) => i.code)).toContain("nan_reward");
    const lines = readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    expect(lines[0]).toHaveProperty("rewards/yes_share/mean");
  });
});

describe("AutoTrainer", () => {
  it("chooses a profile by the documented rule", () => {
    expect(chooseProfile(0.3, 0.001).profile).toBe("aggressive");
    expect(chooseProfile(0.9, 0.1).profile).toBe("conservative");
    expect(chooseProfile(0.4, 0.1).profile).toBe("balanced");
  });

  it("proposes adjustments from health signals", () => {
    const base = { grad_norm: 1, kl: 0, entropy: 2, frac_reward_zero_std: 0 };
    expect(proposeAdjustments([base, base, base])).toEqual([]);
    const zero = { ...base, frac_reward_zero_std: 1 };
    expect(proposeAdjustments([zero, zero, zero]).map((p) => p.knob)).toEqual(["temperature"]);
    expect(proposeAdjustments([base, { ...base, kl: 1 }]).map((p) => p.knob)).toEqual(["learningRate"]);
    const spike = [base, base, base, base, base, { ...base, grad_norm: 50 }];
    expect(proposeAdjustments(spike)[0]).toMatchObject({ knob: "learningRate", factor: 0.5 });
  });

  it("assesses a baseline, trains, and logs every adjustment as an event", async () => {
    const agent = await newAgent();
    const auto = new AutoTrainer({ autoAdjust: true, earlyStopping: true, patience: 50, cooldown: 1 });
    const events: string[] = [];
    // A reward with no diversity forces the zero-variance rule to raise the temperature.
    const flat = rewardFunction({ name: "flat" }, () => 0.5);
    const result = await auto.trainWithReport({ agent, environment: new ConversationEnvironment({ scenarios }), reward: flat,
      numEpisodes: 16, configOverrides: { numGenerations: 4, scenariosPerStep: 1 }, verbose: false,
      callbacks: [{ onAdjustment: (e) => { events.push(`${e.adjustment.knob}:${e.adjustment.from}->${e.adjustment.to}`); } }] });
    expect(result.baseline.profile).toBe("aggressive");
    expect(result.trainer.profile).toBe("aggressive");
    expect(auto.adjustments.length).toBeGreaterThan(0);
    expect(events.length).toBe(auto.adjustments.length);
    expect(auto.adjustments[0].knob).toBe("temperature");
    expect(auto.adjustments[0].to).toBeGreaterThan(auto.adjustments[0].from);
  });
});
