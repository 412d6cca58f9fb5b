/**
 * The TensorFlow.js policy behind agents: resolution by model name, an episode end to end,
 * coalescing of concurrent calls into one batch, determinism, stop strings, registry errors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent, setPolicyResolver } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { runEpisode } from "../../src/core/episode.js";
import type { ChatMessage, SamplingOptions } from "../../src/core/policy.js";
import { selectBackend } from "../../src/model/backend.js";
import { sampleLocally, TfPolicy, type SampledRows, type SampleRequest } from "../../src/model/policy.js";
import { deriveSeed } from "../../src/core/rng.js";
import { loadPolicy, registerTfPolicyResolver, resolveModelFolder } from "../../src/model/registry.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

let dir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  dir = await makeTinyModel({ seed: 9 });
});

const sampling: SamplingOptions = { temperature: 1, topP: 1, topK: 0, maxNewTokens: 10 };
const conv = (text: string): ChatMessage[] => [{ role: "system", content: "Be brief." }, { role: "user", content: text }];

describe("TfPolicy", () => {
  it("is what agent.initialize() resolves a model folder to, and plays an episode end to end", async () => {
    registerTfPolicyResolver();
    try {
      const agent = new MultiTurnAgent({ modelName: dir, systemPrompt: "You are helpful.", maxNewTokens: 8, seed: 1 });
      await agent.initialize();
      expect(agent.policy).toBeInstanceOf(TfPolicy);
      const policy = agent.policy as TfPolicy;
      const env = new ConversationEnvironment({ scenarios: [{ id: "s", userResponses: ["Hi! Can you help me?", "Thanks!"] }], maxTurns: 2 });
      const trajectory = await runEpisode(agent, env);
      expect(trajectory.turns.map((t) => t.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
      for (const turn of trajectory.assistantTurns) {
        const gen = turn.generation!;
        expect(gen.logprobs).toHaveLength(gen.tokenIds.length);
        expect(gen.logprobs.every((lp) => lp <= 0 && Number.isFinite(lp))).toBe(true);
        const prompt = policy.tokenizer.decode(gen.promptTokenIds);
        expect(prompt.startsWith("<|im_start|>system\nYou are helpful.<|im_end|>\n")).toBe(true);
        expect(prompt.endsWith("<|im_start|>assistant\n")).toBe(true);
        const body = gen.finishReason === "stop" ? gen.tokenIds.slice(0, -1) : gen.tokenIds;
        expect(policy.tokenizer.decode(body, { skipSpecialTokens: true })).toBe(turn.content);
      }
      // The second turn's prompt holds the first exchange.
      const secondPrompt = policy.tokenizer.decode(trajectory.assistantTurns[1].generation!.promptTokenIds);
      expect(secondPrompt).toContain("Hi! Can you help me?");
      expect(secondPrompt).toContain("Thanks!");
    } finally {
      setPolicyResolver(undefined);
    }
  });

  it("samples concurrent calls as one batch in arrival order (same as one batched call)", async () => {
    const a = await TfPolicy.fromFolder(dir, { seed: 5 });
    const b = await TfPolicy.fromFolder(dir, { seed: 5 });
    const prompts = ["one", "two", "three", "four"].map(conv);
    const batched = await a.generate(prompts, sampling);
    const batchSizes: number[] = [];
    b.sampler = (request, signal) => {
      batchSizes.push(request.promptIds.length);
      return sampleLocally(b.model, b.tokenizer, request, signal);
    };
    const concurrent = (await Promise.all(prompts.map((p) => b.generate([p], sampling)))).flat();
    expect(batchSizes).toEqual([4]); // one batch of four rows
    expect(concurrent.map((g) => g.tokenIds)).toEqual(batched.map((g) => g.tokenIds));
  });

  it("hands a sampler that encodes the conversations (encodesChats) instead of token ids: same samples", async () => {
    const a = await TfPolicy.fromFolder(dir, { seed: 5 });
    const b = await TfPolicy.fromFolder(dir, { seed: 5 });
    const prompts = ["one", "two", "three", "four"].map(conv);
    const local = await a.generate(prompts, sampling);
    const seen: Array<{ promptIds: number; chats?: number }> = [];
    b.sampler = Object.assign((request: SampleRequest, signal?: AbortSignal) => {
      seen.push({ promptIds: request.promptIds.length, chats: request.chats?.messages.length });
      return sampleLocally(b.model, b.tokenizer, request, signal);
    }, { encodesChats: true });
    const remote = await b.generate(prompts, sampling);
    expect(seen).toEqual([{ promptIds: 0, chats: 4 }]);
    expect(remote.map((g) => [g.tokenIds, g.promptTokenIds, g.text])).toEqual(local.map((g) => [g.tokenIds, g.promptTokenIds, g.text]));
  });

  it("samples each row from its own generator: how rows are batched does not change the samples", async () => {
    const a = await TfPolicy.fromFolder(dir, { seed: 5 });
    const prompts = ["one", "two", "three", "four"].map(conv);
    const batched = await a.generate(prompts, sampling);
    const c = await TfPolicy.fromFolder(dir, { seed: 5 });
    const sequential: number[][] = [];
    for (const p of prompts) sequential.push((await c.generate([p], sampling))[0].tokenIds);
    expect(sequential).toEqual(batched.map((g) => g.tokenIds));
    const d = await TfPolicy.fromFolder(dir, { seed: 6 });
    expect((await d.generate(prompts, sampling)).map((g) => g.tokenIds)).not.toEqual(sequential);
  });

  it("is deterministic for a seed and continues exactly from a saved RNG state", async () => {
    const a = await TfPolicy.fromFolder(dir, { seed: 3 });
    const b = await TfPolicy.fromFolder(dir, { seed: 3 });
    expect((await a.generate([conv("hi")], sampling))[0].tokenIds).toEqual((await b.generate([conv("hi")], sampling))[0].tokenIds);
    const state = a.getRngState();
    const next = (await a.generate([conv("again")], sampling))[0].tokenIds;
    b.setRngState(state);
    expect((await b.generate([conv("again")], sampling))[0].tokenIds).toEqual(next);
  });

  it("keeps requests with different sampling options apart", async () => {
    const policy = await TfPolicy.fromFolder(dir, { seed: 1 });
    const [greedy, sampled] = await Promise.all([
      policy.generate([conv("x")], { ...sampling, temperature: 0 }),
      policy.generate([conv("x")], { ...sampling, maxNewTokens: 3 }),
    ]);
    expect(sampled[0].tokenIds.length).toBeLessThanOrEqual(3);
    const again = await (await TfPolicy.fromFolder(dir)).generate([conv("x")], { ...sampling, temperature: 0 });
    expect(greedy[0].tokenIds).toEqual(again[0].tokenIds);
  });

  it("stops at a stop string and keeps it in the text", async () => {
    const policy = await TfPolicy.fromFolder(dir, { seed: 2 });
    const free = (await policy.generate([conv("x")], { ...sampling, temperature: 0, maxNewTokens: 12 }))[0];
    const text = free.text;
    expect(text.length).toBeGreaterThanOrEqual(2); // the fixed seed gives a reply long enough to cut
    const stop = text.slice(1, 2);
    const cut = (await (await TfPolicy.fromFolder(dir)).generate([conv("x")], { ...sampling, temperature: 0, maxNewTokens: 12, stop: [stop] }))[0];
    expect(cut.finishReason).toBe("stop");
    expect(cut.text.endsWith(stop)).toBe(true);
    expect(cut.text.length).toBeLessThanOrEqual(text.indexOf(stop) + stop.length);
  });

  it("finds a stop string that spans several tokens, and streams prefixes of the final text", async () => {
    const free = (await (await TfPolicy.fromFolder(dir, { seed: 2 })).generate([conv("x")], { ...sampling, temperature: 0, maxNewTokens: 24 }))[0];
    expect(free.tokenIds.length).toBeGreaterThanOrEqual(6);
    // A stop string made of the text of tokens 3..5: it completes only when the 5th token arrives.
    const head = (await (await TfPolicy.fromFolder(dir)).generate([conv("x")], { ...sampling, temperature: 0, maxNewTokens: 2 }))[0].text;
    const stop = free.text.slice(head.length, head.length + 6);
    expect(stop.length).toBeGreaterThan(1);
    const streamed: string[] = [];
    const cut = (await (await TfPolicy.fromFolder(dir)).generate([conv("x")], {
      ...sampling, temperature: 0, maxNewTokens: 24, stop: [stop], onText: (_, t) => streamed.push(t),
    }))[0];
    expect(cut.finishReason).toBe("stop");
    expect(cut.text).toBe(free.text.slice(0, free.text.indexOf(stop) + stop.length));
    expect(streamed.length).toBe(cut.tokenIds.length);
    streamed.forEach((t, i) => {
      expect(cut.text.startsWith(t)).toBe(true);
      if (i > 0) expect(t.startsWith(streamed[i - 1])).toBe(true);
    });
    expect(streamed.at(-1)).toBe(cut.text);
  });
});

describe("TfPolicy seeds and pipelined samplers", () => {
  const prompts = ["one", "two", "three", "four"].map(conv);
  const tokensOf = (gs: Array<{ tokenIds: number[] }>) => gs.map((g) => g.tokenIds);

  it("samples a seeded call the same alone or batched with other calls in any order, without touching the policy's RNG", async () => {
    const a = await TfPolicy.fromFolder(dir, { seed: 5 });
    const alone: number[][] = [];
    for (const [i, p] of prompts.entries()) alone.push((await a.generate([p], { ...sampling, seed: 100 + i }))[0].tokenIds);
    const b = await TfPolicy.fromFolder(dir, { seed: 99 });
    const batchSizes: number[] = [];
    b.sampler = (request, signal) => {
      batchSizes.push(request.rowSeeds.length);
      return sampleLocally(b.model, b.tokenizer, request, signal);
    };
    const state = b.getRngState();
    const reversed = await Promise.all([...prompts.entries()].reverse().map(([i, p]) => b.generate([p], { ...sampling, seed: 100 + i })));
    expect(batchSizes).toEqual([4]); // different seeds still share one batch
    expect(tokensOf(reversed.reverse().flat())).toEqual(alone);
    expect(b.getRngState()).toEqual(state); // seeded rows draw nothing from the policy's RNG
    // A seeded call with several conversations: conversation i samples with deriveSeed(seed, i).
    const many = await b.generate(prompts.slice(0, 2), { ...sampling, seed: 7 });
    const direct = await sampleLocally(a.model, a.tokenizer, {
      promptIds: prompts.slice(0, 2).map((m) => a.tokenizer.encodeChat(m, { addGenerationPrompt: true })),
      rowSeeds: [deriveSeed(7, 0), deriveSeed(7, 1)], maxNewTokens: sampling.maxNewTokens, temperature: 1, topK: 0, topP: 1,
      eosTokenIds: a.eosTokenIds, stop: [],
    });
    expect(tokensOf(many)).toEqual(tokensOf(direct));
    // forkSeed draws from the RNG, so it is part of the state checkpoints save.
    const s0 = b.getRngState();
    const drawn = b.forkSeed();
    b.setRngState(s0);
    expect(b.forkSeed()).toBe(drawn);
  });

  it("with a pipelined sampler, resolves a caller as soon as its rows are in, before a slower part of the same batch, and flushes the next batch without waiting", async () => {
    const reference = await TfPolicy.fromFolder(dir, { seed: 5 });
    const expected = await Promise.all(prompts.slice(0, 3).map((p, i) => reference.generate([p], { ...sampling, seed: 10 + i })));
    const policy = await TfPolicy.fromFolder(dir, { seed: 5 });
    let release = (): void => undefined;
    const slowPart = new Promise<void>((resolve) => { release = resolve; });
    const batchSizes: number[] = [];
    // Row 0 of every batch comes back at once; the other rows only when `release()` is called.
    policy.sampler = Object.assign(async (request: SampleRequest, signal?: AbortSignal, onRows?: (part: SampledRows) => void) => {
      batchSizes.push(request.rowSeeds.length);
      const results = await sampleLocally(policy.model, policy.tokenizer, request, signal);
      onRows?.({ rows: [0], results: [results[0]] });
      await slowPart;
      onRows?.({ rows: results.slice(1).map((_, j) => j + 1), results: results.slice(1) });
      return results;
    }, { pipelined: true });
    const fast = policy.generate([prompts[0]], { ...sampling, seed: 10 });
    let slowDone = false;
    const slow = policy.generate([prompts[1]], { ...sampling, seed: 11 }).then((g) => { slowDone = true; return g; });
    const fastResult = await fast;
    expect(slowDone).toBe(false); // the batch's other row is still being sampled
    // A next call is sampled while the first batch is still in flight.
    const next = await policy.generate([prompts[2]], { ...sampling, seed: 12 });
    expect(batchSizes).toEqual([2, 1]);
    expect(slowDone).toBe(false);
    release();
    const slowResult = await slow;
    expect(tokensOf([fastResult[0], slowResult[0], next[0]])).toEqual(tokensOf(expected.flat()));
  });

  it("with a pipelined sampler that fails after reporting some rows, keeps the callers it resolved and rejects the others", async () => {
    const policy = await TfPolicy.fromFolder(dir, { seed: 5 });
    policy.sampler = Object.assign(async (request: SampleRequest, signal?: AbortSignal, onRows?: (part: SampledRows) => void) => {
      const results = await sampleLocally(policy.model, policy.tokenizer, request, signal);
      onRows?.({ rows: [0], results: [results[0]] });
      throw new Error("worker lost");
    }, { pipelined: true });
    const [done, failed] = await Promise.allSettled([
      policy.generate([prompts[0]], { ...sampling, seed: 1 }),
      policy.generate([prompts[1]], { ...sampling, seed: 2 }),
    ]);
    expect(done.status).toBe("fulfilled");
    expect(failed.status).toBe("rejected");
    expect(String((failed as PromiseRejectedResult).reason)).toContain("worker lost");
  });
});

describe("model registry", () => {
  it("resolves folders and rejects what it cannot load, listing what is accepted", async () => {
    expect(resolveModelFolder(dir)).toBe(dir);
    expect(() => resolveModelFolder("builtin:no-such-model")).toThrow(/no built-in model "no-such-model".*builtin:<name>/s);
    expect(() => resolveModelFolder("builtin:../etc")).toThrow(/Not a valid built-in model name/);
    expect(() => resolveModelFolder("/nonexistent/model")).toThrow(/Cannot resolve the model.*local Hugging Face GPT-2 or GPT-NeoX folder/s);
    expect(() => resolveModelFolder("openai/gpt-oss-120b")).toThrow(/Cannot resolve the model "openai\/gpt-oss-120b"/);
    expect(() => resolveModelFolder("")).toThrow(/No model name/);
    await expect(loadPolicy("/nonexistent")).rejects.toThrow(/Cannot resolve/);
  });
});
