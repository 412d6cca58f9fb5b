/**
 * `grpo serve` as users run it: the real CLI from dist/ (built by the global setup) on a free
 * loopback port, queried with the `openai` client, stopped with SIGTERM; and `serveCommand` serving
 * a training checkpoint's trained weights.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction } from "../../src/core/reward.js";
import { loadServedPolicy, serveCommand } from "../../src/cli/serve-command.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel, removeTinyModel } from "../helpers/tiny-model.js";

const CLI = path.resolve("dist/src/cli/main.js");
let modelDir: string;
let work: string;

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 8 });
  work = mkdtempSync(path.join(tmpdir(), "serve-cli-"));
});

afterAll(() => {
  removeTinyModel(modelDir);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Starts `grpo serve` and resolves with the process and the URL it prints. */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { env: { ...process.env, GRPO_BACKEND: "wasm" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(output);
      if (match) resolve({ child, url: match[1], output: () => output });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`grpo serve exited with ${code}:\n${output}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on("exit", (code) => resolve(code));
  });
}

describe("grpo serve", () => {
  it("serves a model folder to the openai client (completion and stream) and stops on SIGTERM", async () => {
    const { child, url, output } = await startCli(["--model", modelDir, "--port", "0", "--served-model-name", "tiny", "--seed", "3"]);
    try {
      expect(output()).toContain('Serving "tiny"');
      const client = new OpenAI({ baseURL: url, apiKey: "unused", maxRetries: 0 });
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(["tiny"]);
      const request = { model: "tiny", messages: [{ role: "user" as const, content: "Hi! Can you help me?" }], max_tokens: 8, temperature: 0 };
      const completion = await client.chat.completions.create(request);
      const local = await TfPolicy.fromFolder(modelDir);
      const [expected] = await local.generate([request.messages], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 8 });
      local.dispose();
      expect(completion.choices[0].message.content).toBe(expected.text);
      expect(completion.usage?.completion_tokens).toBe(expected.tokenIds.length);
      let streamed = "";
      for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) streamed += chunk.choices[0]?.delta?.content ?? "";
      expect(streamed).toBe(expected.text);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exitCode(child)).toBe(0);
  });

  it("exits 1 with a clear message for a model it cannot load", async () => {
    const child = spawn(process.execPath, [CLI, "serve", "--model", "builtin:no-such-model", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    expect(await exitCode(child)).toBe(1);
    expect(stderr).toContain('grpo: There is no built-in model "no-such-model"');
  });

  it("refuses to serve a remote model name", async () => {
    await expect(loadServedPolicy("openai:gpt-4o-mini")).rejects.toMatchObject({
      code: "invalid_argument", message: expect.stringContaining("grpo serve serves local models, not remote ones."),
    });
  });

  it("serves a checkpoint's trained weights", async () => {
    const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "Be nice.", maxNewTokens: 6 }, { policy: await TfPolicy.fromFolder(modelDir) });
    const environment = new ConversationEnvironment({ scenarios: [{ id: "hi", userResponses: ["Hi!"] }], maxTurns: 1 });
    // A reward that differs between almost any two samples (a length reward ties when both replies fill
    // maxNewTokens), so the step's advantages, and with them the update, are not zero.
    const reward = rewardFunction({ name: "first-char" }, (turns) => ((turns[turns.length - 1].content.charCodeAt(0) || 0) % 97) / 96);
    const trainer = await GRPOTrainer.create({ agent, environment, reward, configOverrides: { numGenerations: 4, learningRate: 5e-2, beta: 0 } });
    await trainer.step();
    const checkpoint = path.join(work, "checkpoint-1");
    await trainer.save(checkpoint);

    // The checkpoint's weights are the trained ones, not the base model's.
    const firstParam = async (p: TfPolicy) => Array.from(await p.model.params[Object.keys(p.model.params)[0]].data());
    const served = (await loadServedPolicy(checkpoint)) as TfPolicy;
    const base = await TfPolicy.fromFolder(modelDir);
    expect(await firstParam(served)).toEqual(await firstParam(agent.policy as TfPolicy));
    expect(await firstParam(served)).not.toEqual(await firstParam(base));
    served.dispose();
    base.dispose();

    const log = vi.fn();
    const server = await serveCommand({ model: checkpoint, port: 0, host: "127.0.0.1", servedModelName: "trained" }, log);
    try {
      expect(log.mock.calls[0][0]).toContain(`Serving "trained" at ${server.url}`);
      const client = new OpenAI({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
      const messages = [{ role: "user" as const, content: "Hi! Can you help me?" }];
      const completion = await client.chat.completions.create({ model: "trained", messages, max_tokens: 12, temperature: 0 });
      const [trained] = await (agent.policy as TfPolicy).generate([messages], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 12 });
      expect(completion.choices[0].message.content).toBe(trained.text);
    } finally {
      await server.close();
      (agent.policy as TfPolicy).dispose();
    }
  });
});
