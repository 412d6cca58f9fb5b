/**
 * The acceptance run: a short GRPO training of a tiny local model in a ConversationEnvironment whose
 * reward is an LLMJudgeReward and whose user simulator is a remote model, both reached with the
 * `openai` client through our own OpenAI-compatible server on loopback. The simulated user is a
 * tiny TfPolicy served by `startChatServer`; the judge model is a scripted policy behind the same
 * server (a tiny random model cannot follow a scoring instruction), scoring replies by length so
 * that groups differ and GRPO gets a signal.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import type { ChatMessage, Generation, Policy, SamplingOptions } from "../../src/core/policy.js";
import { LLMJudgeReward } from "../../src/core/rewards/llm-judge.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { RemotePolicy } from "../../src/remote/policy.js";
import { startChatServer, type ChatServer } from "../../src/server/openai-server.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";
import { makeTinyModel, removeTinyModel } from "../helpers/tiny-model.js";

/** Records what reaches a policy, then delegates. */
class Recording implements Policy {
  readonly requests: ChatMessage[][] = [];
  constructor(private readonly inner: TfPolicy) {}
  get name(): string {
    return this.inner.name;
  }
  generate(conversations: ChatMessage[][], options: SamplingOptions): Promise<Generation[]> {
    this.requests.push(...conversations);
    return this.inner.generate(conversations, options);
  }
}

/** The judge's verdict: the last assistant reply's length, in tenths, capped at 10. */
function verdict(messages: ChatMessage[]): string {
  const transcript = messages[messages.length - 1].content;
  const replies = [...transcript.matchAll(/\[assistant\] ([^\n]*)/g)].map((m) => m[1]);
  const last = replies[replies.length - 1] ?? "";
  return `Judged.\nScore: ${Math.min(10, last.length)}/10`;
}

let agentDir: string;
let userDir: string;
let agentPolicy: TfPolicy;
let userPolicy: Recording;
let server: ChatServer;
const judgeModel = new ScriptedPolicy(verdict);

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  agentDir = await makeTinyModel({ seed: 21 });
  userDir = await makeTinyModel({ seed: 22 });
  agentPolicy = await TfPolicy.fromFolder(agentDir, { seed: 1 });
  userPolicy = new Recording(await TfPolicy.fromFolder(userDir, { seed: 2 }));
  server = await startChatServer({ models: { "tiny-user": userPolicy, judge: judgeModel }, port: 0 });
});

afterAll(async () => {
  await server?.close();
  agentPolicy?.dispose();
  removeTinyModel(agentDir);
  removeTinyModel(userDir);
});

describe("GRPO with a remote judge and a remote user simulator", () => {
  it("trains a few steps: every trajectory judged over HTTP, simulated user turns in the episodes", async () => {
    const remote = (model: string) => new RemotePolicy({ model, baseURL: server.url, apiKey: "unused", maxRetries: 0 });
    const environment = new ConversationEnvironment({
      scenarios: [{ id: "python", topic: "learning Python", context: "A beginner with an hour a day.", userResponses: ["I need advice on learning Python."] }],
      persona: "You are a curious beginner.",
      userSimulator: remote("tiny-user"),
      maxTurns: 2,
    });
    const reward = new LLMJudgeReward({ rubric: "Long, helpful replies.", judge: remote("judge"), backoffMs: 1 });
    const agent = new MultiTurnAgent({ modelName: agentDir, systemPrompt: "Be helpful.", maxNewTokens: 8, temperature: 1 }, { policy: agentPolicy });
    const trainer = await GRPOTrainer.create({
      agent, environment, reward,
      configOverrides: { numGenerations: 4, maxSteps: 2, learningRate: 1e-2, beta: 0 },
    });
    const before = await agentPolicy.model.params[Object.keys(agentPolicy.model.params)[0]].data();
    const reports = [await trainer.step(), await trainer.step()];

    for (const report of reports) {
      expect(Number.isFinite(report.loss)).toBe(true);
      for (const trajectory of report.groups.flatMap((g) => g.trajectories)) {
        const replies = trajectory.turns.filter((t) => t.role === "assistant");
        // The scripted judge reads the transcript line by line: it sees the reply up to its first newline.
        const expected = Math.min(10, replies[replies.length - 1].content.split("\n")[0].length) / 10;
        expect(trajectory.totalReward).toBeCloseTo(expected, 12);
        expect(trajectory.rewardBreakdown.judge).toBeCloseTo(expected, 12);
      }
    }
    // Each episode asked the simulated user once (after the agent's first reply, the script being used up).
    const episodes = reports.flatMap((r) => r.groups.flatMap((g) => g.trajectories));
    expect(userPolicy.requests).toHaveLength(episodes.length);
    const asked = userPolicy.requests[0];
    expect(asked[0].content).toContain("Persona: You are a curious beginner.");
    expect(asked[0].content).toContain("Topic: learning Python");
    expect(asked.slice(1).map((m) => m.role)).toEqual(["assistant", "user"]);
    const simulated = episodes.flatMap((t) => t.turns.filter((turn) => turn.metadata.source === "simulator"));
    const ended = episodes.filter((t) => !t.turns.some((turn) => turn.metadata.source === "simulator"));
    expect(simulated.length + ended.length).toBe(episodes.length);
    for (const turn of simulated) expect(turn.content.trim()).not.toBe("");
    // The judge saw every trajectory, and the update moved the weights.
    expect(judgeModel.calls.length).toBe(episodes.length);
    const after = await agentPolicy.model.params[Object.keys(agentPolicy.model.params)[0]].data();
    expect(tf.util.arraysEqual(Array.from(before), Array.from(after))).toBe(false);
  });
});
