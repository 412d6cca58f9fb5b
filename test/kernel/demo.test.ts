/**
 * demoModel(): a loadable, cached, reproducible model folder whose pretraining makes the corpus's
 * replies more likely.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { DEMO_CONVERSATIONS, demoModel } from "../../kernel/index.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
});

/** Mean log-prob per token of every assistant reply of the corpus under the model in `dir`. */
async function replyLogLikelihood(dir: string): Promise<number> {
  const policy = await TfPolicy.fromFolder(dir);
  let total = 0;
  let count = 0;
  for (const conversation of DEMO_CONVERSATIONS.slice(0, 6)) {
    conversation.forEach((m, i) => {
      if (m.role !== "assistant") return;
      const prompt = policy.tokenizer.encodeChat(conversation.slice(0, i), { addGenerationPrompt: true });
      const reply = [...policy.tokenizer.encode(m.content), policy.tokenizer.eosTokenId];
      const ids = [...prompt, ...reply];
      const logp = tf.tidy(() => policy.model.tokenLogprobs(
        tf.tensor2d([ids.slice(0, -1)], [1, ids.length - 1], "int32"), tf.tensor2d([ids.slice(1)], [1, ids.length - 1], "int32")));
      const values = Array.from(logp.dataSync()).slice(-reply.length);
      logp.dispose();
      total += values.reduce((a, b) => a + b, 0);
      count += values.length;
    });
  }
  policy.dispose?.();
  return total / count;
}

describe("demoModel", () => {
  it("builds a loadable folder once, reuses the cache, and is reproducible from the seed", async () => {
    const cacheA = mkdtempSync(path.join(tmpdir(), "demo-a-"));
    const cacheB = mkdtempSync(path.join(tmpdir(), "demo-b-"));
    const dir = await demoModel({ cacheDir: cacheA, seed: 3, pretrainSteps: 2 });
    expect(dir).toBe(path.join(cacheA, "demo-models", "demo-v1-seed3-steps2"));
    const started = performance.now();
    expect(await demoModel({ cacheDir: cacheA, seed: 3, pretrainSteps: 2 })).toBe(dir);
    expect(performance.now() - started).toBeLessThan(200); // cached: no rebuild
    const again = await demoModel({ cacheDir: cacheB, seed: 3, pretrainSteps: 2 });
    expect(readFileSync(path.join(again, "model.safetensors")).equals(readFileSync(path.join(dir, "model.safetensors")))).toBe(true);
    const policy = await TfPolicy.fromFolder(dir);
    const [reply] = await policy.generate([[{ role: "user", content: "Hi! Can you help me?" }]], { temperature: 0, topP: 1, topK: 0, maxNewTokens: 4 });
    expect(reply.tokenIds.length).toBeGreaterThan(0);
    policy.dispose?.();
  });

  it("pretraining makes the corpus's replies more likely than random weights", async () => {
    const cache = mkdtempSync(path.join(tmpdir(), "demo-c-"));
    const random = await replyLogLikelihood(await demoModel({ cacheDir: cache, seed: 1, pretrainSteps: 0 }));
    const trained = await replyLogLikelihood(await demoModel({ cacheDir: cache, seed: 1, pretrainSteps: 25 }));
    expect(random).toBeLessThan(-5); // ≈ −log(vocab) for random weights
    expect(trained).toBeGreaterThan(random + 1);
  });

  it("rejects bad options with the field named", async () => {
    await expect(demoModel({ seed: -1 })).rejects.toThrow(/demoModel options\.seed/);
    await expect(demoModel({ steps: 3 } as never)).rejects.toThrow(/demoModel options/);
  });
});
