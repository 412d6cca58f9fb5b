/**
 * LLMJudgeReward against a fake OpenAI-compatible endpoint (a local HTTP server with scripted
 * answers, reached through RemotePolicy and the real `openai` client): what the judge is sent,
 * parsing, retries after garbage, HTTP errors and timeouts, and the error after the last try.
 */
import { afterEach, describe, expect, it } from "vitest";
import { getPolicyResolver, setPolicyResolver } from "../../src/core/agent.js";
import { GrpoError } from "../../src/core/errors.js";
import { evaluateReward } from "../../src/core/reward.js";
import { LLMJudgeReward } from "../../src/core/rewards/llm-judge.js";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { RemotePolicy } from "../../src/remote/policy.js";
import { configureRemoteModels } from "../../src/remote/resolver.js";
import { registerTfPolicyResolver } from "../../src/model/registry.js";
import { startFakeEndpoint, type FakeEndpoint, type ScriptedAnswer } from "./fake-endpoint.js";

const turns = [
  new ConversationTurn({ role: "system", content: "Be helpful." }),
  new ConversationTurn({ role: "user", content: "How do I learn Python?" }),
  new ConversationTurn({ role: "assistant", content: "Write small programs every day." }),
];
const RUBRIC = "Helpful, specific and polite.";

let endpoint: FakeEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

async function judgeWith(script: ScriptedAnswer[], options: { maxRetries?: number; timeoutMs?: number } = {}) {
  endpoint = await startFakeEndpoint(script);
  const policy = new RemotePolicy({ model: "judge-model", baseURL: endpoint.url, apiKey: "unused", maxRetries: 0 });
  return new LLMJudgeReward({ rubric: RUBRIC, judge: policy, backoffMs: 1, ...options });
}

describe("LLMJudgeReward", () => {
  it("sends the rubric and the transcript, and reads the final score line", async () => {
    const judge = await judgeWith([{ content: "Concrete and kind advice.\nScore: 8/10" }]);
    const result = await judge.computeReward(turns, { groundTruth: "practice" });
    expect(result.score).toBeCloseTo(0.8, 12);
    expect(result.breakdown).toEqual({ judge: result.score });
    expect(result.metadata).toMatchObject({ attempts: 1, matched: "Score: 8/10" });
    expect(endpoint!.requests).toHaveLength(1);
    const [request] = endpoint!.requests;
    expect(request.model).toBe("judge-model");
    expect(request.temperature).toBe(0);
    expect(request.messages[0].role).toBe("system");
    expect(request.messages[0].content).toContain(RUBRIC);
    expect(request.messages[0].content).toContain("Score: N/10");
    expect(request.messages[1].content).toContain("[user] How do I learn Python?\n\n[assistant] Write small programs every day.");
    expect(request.messages[1].content).toContain("Reference answer: practice");
    expect(request.messages[1].content).not.toContain("Be helpful.");
  });

  it("retries after unreadable answers, showing the judge its answer, until one has a score", async () => {
    const judge = await judgeWith([{ content: "Looks fine to me." }, { content: "between 6/10 and 8/10" }, { content: '{"score": 6}' }]);
    const result = await judge.computeReward(turns);
    expect(result.score).toBeCloseTo(0.6, 12);
    expect(result.metadata.attempts).toBe(3);
    expect(endpoint!.requests).toHaveLength(3);
    const retry = endpoint!.requests[1].messages;
    expect(retry.slice(-2)).toEqual([
      { role: "assistant", content: "Looks fine to me." },
      { role: "user", content: 'That answer has no readable score. Reply with only "Score: N/10".' },
    ]);
  });

  it("retries after HTTP errors and timeouts", async () => {
    const judge = await judgeWith([{ status: 500 }, { delayMs: 1500, content: "Score: 1/10" }, { content: "Score: 9/10" }], { timeoutMs: 300 });
    const result = await judge.computeReward(turns);
    expect(result.score).toBeCloseTo(0.9, 12);
    expect(result.metadata.attempts).toBe(3);
    expect(endpoint!.requests).toHaveLength(3);
  });

  it("fails with a clear reward_failed error when the judge answers garbage every time", async () => {
    const judge = await judgeWith([{ content: "I like it." }, { content: "Great job!" }], { maxRetries: 2 });
    const error = await judge.computeReward(turns).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GrpoError);
    expect(error).toMatchObject({ code: "reward_failed", field: "LLMJudgeReward.judge" });
    const message = (error as GrpoError).message;
    expect(message).toContain("gave no readable score in 3 tries");
    expect(message).toContain('try 1: unreadable answer "I like it."');
    expect(message).toContain('try 3: unreadable answer "Great job!" (it contains no score)');
    expect(message).toContain("Score: 7/10");
    expect(endpoint!.requests).toHaveLength(3);

    // Through the library's entry point the error keeps its own fix and names the reward.
    const wrapped = await evaluateReward(judge, turns, undefined, { trajectoryId: "t1" }).then(() => undefined, (e: unknown) => e);
    expect(wrapped).toMatchObject({ code: "reward_failed" });
    expect((wrapped as GrpoError).message).toContain("`llm_judge` (LLMJudgeReward)");
    expect((wrapped as GrpoError).message).toContain("use a judge model that follows instructions");
  });

  it("fails naming the timeout when the judge never answers in time", async () => {
    const judge = await judgeWith([{ delayMs: 1000, content: "Score: 5/10" }], { timeoutMs: 100, maxRetries: 1 });
    const error = await judge.computeReward(turns).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: "reward_failed" });
    expect((error as GrpoError).message).toContain("failed in 2 tries");
    expect((error as GrpoError).message).toContain("no answer within 100 ms");
    expect((error as GrpoError).message).toContain("raise `timeoutMs`");
  });

  it("waits exponentially longer between tries, up to maxBackoffMs", () => {
    const judge = new LLMJudgeReward({ rubric: RUBRIC, judge: "openai:any", backoffMs: 100, backoffFactor: 2, maxBackoffMs: 300 });
    expect([1, 2, 3, 4].map((k) => judge.backoffAfter(k))).toEqual([100, 200, 300, 300]);
    expect(new LLMJudgeReward({ rubric: RUBRIC, judge: "openai:any" }).backoffAfter(3)).toBe(2000);
  });

  it("resolves a judge given by model name (openai:<model>) through the registered resolvers", async () => {
    endpoint = await startFakeEndpoint([{ content: "Score: 3/10" }]);
    const previous = getPolicyResolver();
    registerTfPolicyResolver();
    configureRemoteModels({ baseURL: endpoint.url, apiKey: "unused", maxRetries: 0 });
    try {
      const judge = new LLMJudgeReward({ rubric: RUBRIC, judge: "openai:named-judge" });
      expect((await judge.computeReward(turns)).score).toBeCloseTo(0.3, 12);
      expect(endpoint.requests[0].model).toBe("named-judge");
    } finally {
      configureRemoteModels();
      setPolicyResolver(previous);
    }
  });

  it("rejects bad options with the field and an example", () => {
    expect(() => new LLMJudgeReward({ rubric: " ", judge: "openai:x" })).toThrow(/LLMJudgeReward\.rubric/);
    expect(() => new LLMJudgeReward({ rubric: RUBRIC, judge: 42 as never })).toThrow(/LLMJudgeReward\.judge/);
    expect(() => new LLMJudgeReward({ rubric: RUBRIC, judge: "openai:x", backoffFactor: 0.5 })).toThrow(/backoffFactor/);
  });
});

describe("RemotePolicy requests", () => {
  it("send OpenAI's parameters, and a seed sequence (seed + k) when seeded", async () => {
    endpoint = await startFakeEndpoint([{ content: "ok" }]);
    const policy = new RemotePolicy({ model: "m", baseURL: endpoint.url, apiKey: "unused", seed: 5, maxRetries: 0 });
    const options = { temperature: 0.7, topP: 0.9, topK: 0, maxNewTokens: 33, stop: ["\n\n"] };
    await policy.generate([[{ role: "user", content: "a" }], [{ role: "user", content: "b" }]], options);
    await policy.generate([[{ role: "user", content: "c" }]], { ...options, topK: 3 });
    expect(endpoint.requests.map((r) => [r.messages[0].content, r.seed])).toEqual([["a", 5], ["b", 6], ["c", 7]]);
    expect(endpoint.requests[0]).toMatchObject({ model: "m", temperature: 0.7, top_p: 0.9, max_tokens: 33, stop: ["\n\n"] });
    expect(endpoint.requests[0]).not.toHaveProperty("top_k");
    expect(endpoint.requests[2].top_k).toBe(3);
  });

  it("needs a key or a server: a clear error when neither is set", () => {
    const saved = { key: process.env.OPENAI_API_KEY, base: process.env.OPENAI_BASE_URL };
    delete process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_BASE_URL;
    try {
      expect(() => new RemotePolicy({ model: "gpt-4o-mini" })).toThrow(/No API key for the remote model "gpt-4o-mini"\..*OPENAI_API_KEY/);
      process.env.OPENAI_BASE_URL = "http://127.0.0.1:8000/v1";
      expect(new RemotePolicy({ model: "gpt-4o-mini" }).baseURL).toBe("http://127.0.0.1:8000/v1");
    } finally {
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved.key;
      if (saved.base === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved.base;
    }
  });
});
