/**
 * The OpenAI-compatible server, end to end on loopback: the official `openai` client against
 * `startChatServer` serving a tiny TfPolicy (completions, streaming, n, seed, stop, usage, errors),
 * and our remote policy (`openai:<id>`) running episodes and evaluations against it.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent, getPolicyResolver, setPolicyResolver } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { runEpisode } from "../../src/core/episode.js";
import { GrpoError } from "../../src/core/errors.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { registerTfPolicyResolver } from "../../src/model/registry.js";
import { RemotePolicy } from "../../src/remote/policy.js";
import { configureRemoteModels } from "../../src/remote/resolver.js";
import { startChatServer, type ChatServer } from "../../src/server/openai-server.js";
import { evaluate } from "../../src/training/evaluate.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel, removeTinyModel } from "../helpers/tiny-model.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";

let modelDir: string;
let policy: TfPolicy;
let server: ChatServer;
let client: OpenAI;
const scripted = new ScriptedPolicy((messages) => `echo: ${messages[messages.length - 1].content} STOP tail`);

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 3 });
  policy = await TfPolicy.fromFolder(modelDir, { name: "tiny" });
  server = await startChatServer({ models: { tiny: policy, echo: scripted }, port: 0, defaultMaxTokens: 12 });
  client = new OpenAI({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  policy?.dispose();
  removeTinyModel(modelDir);
});

const hello = [{ role: "user" as const, content: "Hi! Can you help me?" }];

describe("startChatServer with the openai client", () => {
  it("listens on loopback and lists its models", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["tiny", "echo"]);
    expect((await client.models.retrieve("tiny")).id).toBe("tiny");
    await expect(client.models.retrieve("nope")).rejects.toMatchObject({ status: 404 });
  });

  it("answers a completion with the policy's text and token usage", async () => {
    const completion = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 6, temperature: 0 });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("tiny");
    expect(completion.choices).toHaveLength(1);
    const direct = await policy.generate([hello], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 6 });
    expect(completion.choices[0].message.content).toBe(direct[0].text);
    expect(completion.choices[0].finish_reason).toBe(direct[0].finishReason);
    expect(completion.usage).toEqual({
      prompt_tokens: direct[0].promptTokenIds.length,
      completion_tokens: direct[0].tokenIds.length,
      total_tokens: direct[0].promptTokenIds.length + direct[0].tokenIds.length,
    });
    expect(completion.usage?.completion_tokens).toBeLessThanOrEqual(6);
  });

  it("streams chunks that add up to the same completion as without streaming (same seed)", async () => {
    const request = { model: "tiny", messages: hello, max_tokens: 10, temperature: 1, seed: 7 };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let finish: string | null = null;
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice?.delta?.content) text += choice.delta.content;
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(text).toBe(whole.choices[0].message.content);
    expect(finish).toBe(whole.choices[0].finish_reason);
    expect(usage).toEqual(whole.usage);
    // One chunk per new piece of text (not one blob at the end), plus the role chunk, the finish chunk and usage.
    expect(chunks).toBeGreaterThan(3);
  });

  it("honours seed (same seed, same completions) and n (n choices)", async () => {
    const request = { model: "tiny", messages: hello, max_tokens: 8, temperature: 1.5, n: 3, seed: 11 };
    const a = await client.chat.completions.create(request);
    const b = await client.chat.completions.create(request);
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(b.choices.map((c) => c.message.content)).toEqual(a.choices.map((c) => c.message.content));
    const c = await client.chat.completions.create({ ...request, seed: 12 });
    expect(c.choices.map((x) => x.message.content)).not.toEqual(a.choices.map((x) => x.message.content));
  });

  it("ends at a stop string and leaves it out (OpenAI's convention), streaming or not", async () => {
    const whole = await client.chat.completions.create({ model: "echo", messages: hello, stop: ["STOP"], max_tokens: 200 });
    expect(whole.choices[0].message.content).toBe("echo: Hi! Can you help me? ");
    expect(whole.choices[0].finish_reason).toBe("stop");
    const stream = await client.chat.completions.create({ model: "echo", messages: hello, stop: "STOP", max_tokens: 200, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("echo: Hi! Can you help me? ");
    expect(scripted.calls.at(-1)?.options.stop).toEqual(["STOP"]);
  });

  it("streams a TfPolicy completion that hits a stop string without ever sending the stop string", async () => {
    const request = { model: "tiny", messages: hello, max_tokens: 12, temperature: 0 };
    const plain = (await client.chat.completions.create(request)).choices[0].message.content ?? "";
    expect(plain.length).toBeGreaterThan(4);
    const stop = plain.slice(2, 4);
    const expected = plain.slice(0, plain.indexOf(stop));
    const deltas: string[] = [];
    let finish: string | null = null;
    for await (const chunk of await client.chat.completions.create({ ...request, stop, stream: true })) {
      const choice = chunk.choices[0];
      if (choice?.delta?.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(deltas.join("")).toBe(expected);
    expect(finish).toBe("stop");
    const whole = await client.chat.completions.create({ ...request, stop });
    expect(whole.choices[0].message.content).toBe(expected);
  });

  it("passes temperature, top_p, top_k and max_tokens to the policy, and reports length cut-offs", async () => {
    const completion = await client.chat.completions.create({
      model: "echo", messages: hello, temperature: 0.3, top_p: 0.9, max_tokens: 5, top_k: 4,
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
    expect(completion.choices[0]).toMatchObject({ message: { content: "echo:" }, finish_reason: "length" });
    expect(scripted.calls.at(-1)?.options).toMatchObject({ temperature: 0.3, topP: 0.9, topK: 4, maxNewTokens: 5 });
  });

  it("answers bad requests with 4xx and OpenAI's error JSON", async () => {
    const cases: Array<[Record<string, unknown>, number, string | null]> = [
      [{ model: "tiny", messages: [] }, 400, "messages"],
      [{ model: "tiny", messages: hello, temperature: 3 }, 400, "temperature"],
      [{ model: "tiny", messages: hello, n: 0 }, 400, "n"],
      [{ model: "tiny", messages: hello, max_tokens: 1.5 }, 400, "max_tokens"],
      [{ model: "tiny", messages: [{ role: "robot", content: "hi" }] }, 400, "messages[0].role"],
      [{ model: "nope", messages: hello }, 404, "model"],
    ];
    for (const [body, status, param] of cases) {
      const error = await client.chat.completions.create(body as never).then(() => undefined, (e: unknown) => e);
      expect(error, JSON.stringify(body)).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
      expect((error as InstanceType<typeof OpenAI.APIError>).param).toBe(param);
    }
    const raw = async (init: RequestInit, route = "/chat/completions") => {
      const res = await fetch(`${server.url}${route}`, init);
      return { status: res.status, body: (await res.json()) as { error: { message: string; type: string; code: string | null } } };
    };
    const notJson = await raw({ method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
    expect((await raw({ method: "GET" })).status).toBe(405);
    const unknown = await raw({ method: "GET" }, "/embeddings");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain("/v1/chat/completions");
  });

  it("checks the API key when one is set", async () => {
    const locked = await startChatServer({ models: { echo: scripted }, port: 0, apiKey: "secret" });
    try {
      const wrong = new OpenAI({ baseURL: locked.url, apiKey: "wrong", maxRetries: 0 });
      await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
      const right = new OpenAI({ baseURL: locked.url, apiKey: "secret", maxRetries: 0 });
      expect((await right.models.list()).data[0].id).toBe("echo");
    } finally {
      await locked.close();
    }
  });
});

describe("remote models against the server", () => {
  const environment = new ConversationEnvironment({
    scenarios: [{ id: "hello", userResponses: ["Hi! Can you help me?", "Thanks!"] }, { id: "python", userResponses: ["I need advice on learning Python."] }],
    maxTurns: 3,
  });
  const length = rewardFunction({ name: "length" }, (turns) => Math.min(1, turns.map((t) => t.content).join("").length / 100));

  it("an `openai:<id>` agent plays episodes and evaluations, and cannot be trained", async () => {
    const previous = getPolicyResolver();
    registerTfPolicyResolver();
    configureRemoteModels({ baseURL: server.url, apiKey: "unused" });
    try {
      const agent = new MultiTurnAgent({ modelName: "openai:tiny", systemPrompt: "Be nice.", maxNewTokens: 6, temperature: 0 });
      await agent.initialize();
      expect(agent.policy).toBeInstanceOf(RemotePolicy);
      const trajectory = await runEpisode(agent, environment, { scenario: environment.scenarios()[0], reward: length });
      const replies = trajectory.turns.filter((t) => t.role === "assistant");
      expect(replies).toHaveLength(2);
      const expected = await policy.generate([[{ role: "system", content: "Be nice." }, hello[0]]], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 6 });
      expect(replies[0].content).toBe(expected[0].text);

      const report = await evaluate({ agent, environment, reward: length, episodesPerScenario: 2 });
      expect(report.episodes).toBe(4);
      expect(report.groups.map((g) => g.scenarioId)).toEqual(["hello", "python"]);

      const error = await GRPOTrainer.create({ agent, environment, reward: length }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(GrpoError);
      expect((error as GrpoError).message).toContain("builtin:tiny-chat");
      expect((error as GrpoError).message).toContain("loadAgentFromCheckpoint");
      expect((error as GrpoError).message).toContain("openai:<model>");
    } finally {
      configureRemoteModels();
      setPolicyResolver(previous);
    }
  });

  it("a remote policy streams through onText and maps tool turns to user messages", async () => {
    const remote = new RemotePolicy({ model: "echo", baseURL: server.url, apiKey: "unused", maxRetries: 0 });
    const seen: string[] = [];
    const [generation] = await remote.generate(
      [[{ role: "user", content: "2+3?" }, { role: "assistant", content: "<tool_call>{}</tool_call>" }, { role: "tool", content: "5", name: "calculator" }]],
      { temperature: 0, topP: 1, topK: 0, maxNewTokens: 200, onText: (_i, text) => seen.push(text) },
    );
    expect(generation.text).toBe("echo: <tool_response>\n5\n</tool_response> STOP tail");
    expect(seen.at(-1)).toBe(generation.text);
    expect(generation.tokenIds).toEqual([]);
  });

  it("reports an unreachable endpoint and an unknown model as clear errors", async () => {
    const wrongModel = new RemotePolicy({ model: "gpt-x", baseURL: server.url, apiKey: "unused", maxRetries: 0 });
    const notFound = await wrongModel.generate([hello], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 2 }).catch((e: unknown) => e);
    expect(notFound).toMatchObject({ code: "remote_failed" });
    expect((notFound as GrpoError).message).toContain("HTTP 404");
    expect((notFound as GrpoError).message).toContain("/models");

    const closed = await startChatServer({ models: { echo: scripted }, port: 0 });
    const url = closed.url;
    await closed.close();
    const down = new RemotePolicy({ model: "echo", baseURL: url, apiKey: "unused", maxRetries: 0 });
    const unreachable = await down.generate([hello], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 2 }).catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ code: "remote_failed" });
    expect((unreachable as GrpoError).message).toContain("cannot be reached");
  });
});
