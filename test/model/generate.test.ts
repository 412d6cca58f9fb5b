// KV-cache generation against a no-cache full recompute; sampling rules; seeds; limits; memory.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortedError, GrpoError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import type { ModelConfig } from "../../src/model/config.js";
import { selectBackend } from "../../src/model/backend.js";
import { generate, sampleNextToken, type TokenSamplingOptions } from "../../src/model/generate.js";
import { Transformer } from "../../src/model/transformer.js";

const CONFIG: ModelConfig = {
  vocabSize: 64,
  nPositions: 32,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  nInner: 128,
  layerNormEpsilon: 1e-5,
  tieWordEmbeddings: true,
};

let model: Transformer;

/** Larger-than-init weights so the next-token distributions are far from uniform. */
function peakedModel(config: ModelConfig = CONFIG): Transformer {
  const m = Transformer.init(config, { seed: 41 });
  const scaled = tf.tidy(() => {
    const out: Record<string, tf.Tensor> = {};
    let k = 0;
    for (const [name, v] of Object.entries(m.params)) {
      out[name] = /ln_(1|2|f)\.weight$/.test(name) ? tf.clone(v) : tf.randomNormal(v.shape, 0, 0.4, "float32", 500 + k++);
    }
    return out;
  });
  m.setWeights(scaled);
  tf.dispose(scaled);
  return m;
}

/**
 * The same sampling without a cache or padding: every step recomputes each row's full sequence and
 * takes the last position's logits. Rows draw from the rng in the same order as `generate`.
 */
function referenceGenerate(prompts: number[][], steps: number, sampling: TokenSamplingOptions, rng: Rng, eos: number[]) {
  const out = prompts.map(() => ({ tokenIds: [] as number[], logprobs: [] as number[], done: false }));
  for (let s = 0; s < steps; s++) {
    prompts.forEach((prompt, b) => {
      const row = out[b];
      if (row.done) return;
      const seq = [...prompt, ...row.tokenIds];
      const logits = tf.tidy(() => {
        const all = model.forward(tf.tensor2d([seq], [1, seq.length], "int32"));
        return all.slice([0, seq.length - 1, 0], [1, 1, CONFIG.vocabSize]).dataSync();
      });
      const { tokenId, logprob } = sampleNextToken(logits, sampling, rng);
      row.tokenIds.push(tokenId);
      row.logprobs.push(logprob);
      if (eos.includes(tokenId)) row.done = true;
    });
  }
  return out;
}

const PROMPTS = [
  [1, 2, 3, 4, 5, 6, 7],
  [9, 10],
  [20, 21, 22, 23],
];

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  model = peakedModel();
});

afterAll(() => model.dispose());

describe("generate with a KV cache", () => {
  for (const [label, sampling] of [
    ["greedy", { temperature: 0, topK: 0, topP: 1 }],
    ["sampled (T=0.9, top-k 20, top-p 0.9)", { temperature: 0.9, topK: 20, topP: 0.9 }],
    ["sampled (T=1.3, no truncation)", { temperature: 1.3, topK: 0, topP: 1 }],
  ] as const) {
    it(`gives exactly the no-cache tokens and log-probs: ${label}`, async () => {
      const eos = [63];
      const got = await generate(model, PROMPTS, { ...sampling, maxNewTokens: 10, eosTokenIds: eos, rng: Rng.fromSeed(7) });
      const want = referenceGenerate(PROMPTS, 10, sampling, Rng.fromSeed(7), eos);
      got.forEach((row, b) => {
        expect(row.tokenIds).toEqual(want[b].tokenIds);
        row.logprobs.forEach((lp, i) => expect(Math.abs(lp - want[b].logprobs[i])).toBeLessThan(1e-5));
        expect(row.promptTokenIds).toEqual(PROMPTS[b]);
        expect(row.finishReason).toBe(want[b].done ? "stop" : "length");
      });
    });
  }

  it("samples repeated prompts (filled once, then copied) exactly as the no-cache recompute, and as each row alone", async () => {
    const prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[0], PROMPTS[2], PROMPTS[1]];
    const sampling = { temperature: 1.1, topK: 0, topP: 1 };
    const got = await generate(model, prompts, { ...sampling, maxNewTokens: 8, eosTokenIds: [63], rng: Rng.fromSeed(17) });
    const want = referenceGenerate(prompts, 8, sampling, Rng.fromSeed(17), [63]);
    got.forEach((row, b) => {
      expect(row.tokenIds).toEqual(want[b].tokenIds);
      row.logprobs.forEach((lp, i) => expect(Math.abs(lp - want[b].logprobs[i])).toBeLessThan(1e-5));
    });
    expect(new Set(got.filter((_, b) => prompts[b] === PROMPTS[0]).map((r) => r.tokenIds.join(","))).size).toBeGreaterThan(1);
    // Per-row generators: a row samples the same alone as in a batch with copies of its prompt.
    const seeds = prompts.map((_, b) => 100 + b);
    const batched = await generate(model, prompts, { ...sampling, maxNewTokens: 8, eosTokenIds: [], rng: seeds.map((s) => Rng.fromSeed(s)) });
    for (const b of [0, 2, 5]) {
      const [alone] = await generate(model, [prompts[b]], { ...sampling, maxNewTokens: 8, eosTokenIds: [], rng: [Rng.fromSeed(seeds[b])] });
      expect(batched[b].tokenIds).toEqual(alone.tokenIds);
      batched[b].logprobs.forEach((lp, i) => expect(Math.abs(lp - alone.logprobs[i])).toBeLessThan(1e-5));
    }
  });

  it("returns log-probs that tokenLogprobs recomputes on the right-padded sequences (the GRPO ratio)", async () => {
    const temperature = 0.8;
    const got = await generate(model, PROMPTS, { temperature, topK: 5, topP: 0.95, maxNewTokens: 6, eosTokenIds: [], rng: Rng.fromSeed(3) });
    const seqs = got.map((r, b) => [...PROMPTS[b], ...r.tokenIds]);
    const width = Math.max(...seqs.map((s) => s.length)) - 1;
    const pad = (s: number[]) => [...s, ...Array(width - s.length).fill(0)];
    const recomputed = tf.tidy(() =>
      model
        .tokenLogprobs(
          tf.tensor2d(seqs.map((s) => pad(s.slice(0, -1))), [3, width], "int32"),
          tf.tensor2d(seqs.map((s) => pad(s.slice(1))), [3, width], "int32"),
          { attentionMask: tf.tensor2d(seqs.map((s) => pad(s.slice(1).map(() => 1))), [3, width], "int32"), temperature },
        )
        .arraySync(),
    );
    got.forEach((r, b) => {
      const start = PROMPTS[b].length - 1; // the position that predicts the first new token
      r.logprobs.forEach((lp, i) => expect(Math.abs(lp - recomputed[b][start + i])).toBeLessThan(1e-5));
    });
  });

  it("greedy picks the argmax and reports the T=1 log-prob", async () => {
    const [row] = await generate(model, [PROMPTS[0]], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 1, eosTokenIds: [], rng: Rng.fromSeed(1) });
    const logits = tf.tidy(() => {
      const all = model.forward(tf.tensor2d([PROMPTS[0]], [1, 7], "int32"));
      return Array.from(all.slice([0, 6, 0], [1, 1, CONFIG.vocabSize]).dataSync());
    });
    const best = logits.indexOf(Math.max(...logits));
    const lse = Math.log(logits.reduce((s, v) => s + Math.exp(v), 0));
    expect(row.tokenIds).toEqual([best]);
    expect(row.logprobs[0]).toBeCloseTo(logits[best] - lse, 5);
  });
});

describe.each([
  ["rotary positions", { positionEncoding: "rotary" }],
  ["rotary positions and the previous-token embedding", { positionEncoding: "rotary", previousTokenEmbedding: true }],
] as const)("generate with a KV cache, %s", (_label, variant) => {
  it("gives exactly the no-cache tokens and log-probs, with repeated prompts and finished rows leaving", async () => {
    const learned = model;
    model = peakedModel({ ...CONFIG, ...variant });
    try {
      const prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[2]];
      const sampling = { temperature: 1.1, topK: 0, topP: 1 };
      const got = await generate(model, prompts, { ...sampling, maxNewTokens: 12, eosTokenIds: [63, 5], rng: Rng.fromSeed(29) });
      const want = referenceGenerate(prompts, 12, sampling, Rng.fromSeed(29), [63, 5]);
      expect(want.some((row) => row.done)).toBe(true); // some rows stop early and leave the batch
      got.forEach((row, b) => {
        expect(row.tokenIds).toEqual(want[b].tokenIds);
        row.logprobs.forEach((lp, i) => expect(Math.abs(lp - want[b].logprobs[i])).toBeLessThan(1e-5));
      });
    } finally {
      model.dispose();
      model = learned;
    }
  });
});

describe("seeds", () => {
  const sampling = { temperature: 1, topK: 0, topP: 1, maxNewTokens: 8, eosTokenIds: [] };

  it("the same seed gives the same samples; another seed other samples", async () => {
    const a = await generate(model, PROMPTS, { ...sampling, rng: Rng.fromSeed(5) });
    const b = await generate(model, PROMPTS, { ...sampling, rng: Rng.fromSeed(5) });
    const c = await generate(model, PROMPTS, { ...sampling, rng: Rng.fromSeed(6) });
    expect(b.map((r) => r.tokenIds)).toEqual(a.map((r) => r.tokenIds));
    expect(c.map((r) => r.tokenIds)).not.toEqual(a.map((r) => r.tokenIds));
  });

  it("restoring a saved RNG state continues identically", async () => {
    const rng = Rng.fromSeed(9);
    await generate(model, PROMPTS, { ...sampling, rng });
    const saved = rng.getState();
    const next = await generate(model, PROMPTS, { ...sampling, rng });
    const replay = await generate(model, PROMPTS, { ...sampling, rng: Rng.fromState(saved) });
    expect(replay).toEqual(next);
  });

  it("a group of identical rows gets different samples from one rng", async () => {
    const group = await generate(model, Array(4).fill(PROMPTS[1]), { ...sampling, rng: Rng.fromSeed(2) });
    expect(new Set(group.map((r) => r.tokenIds.join(","))).size).toBeGreaterThan(1);
  });
});

describe("stopping and limits", () => {
  it("stops a row at an EOS id (kept) and when stopCheck says so", async () => {
    const greedy = { temperature: 0, topK: 0, topP: 1, rng: Rng.fromSeed(1) };
    const free = await generate(model, PROMPTS, { ...greedy, maxNewTokens: 5, eosTokenIds: [] });
    const eos = free[0].tokenIds[2];
    const stopped = await generate(model, PROMPTS, { ...greedy, maxNewTokens: 5, eosTokenIds: [eos] });
    const firstEos = free[0].tokenIds.indexOf(eos);
    expect(stopped[0].tokenIds).toEqual(free[0].tokenIds.slice(0, firstEos + 1));
    expect(stopped[0].finishReason).toBe("stop");
    // Row 0 left the batch early; the rows that went on are unchanged (tokens and log-probs).
    for (const b of [1, 2]) {
      if (stopped[b].finishReason === "stop") continue; // the EOS id ended it too
      expect(stopped[b].tokenIds).toEqual(free[b].tokenIds);
      stopped[b].logprobs.forEach((lp, i) => expect(Math.abs(lp - free[b].logprobs[i])).toBeLessThan(1e-5));
    }
    const seen: number[][] = [];
    const checked = await generate(model, PROMPTS, {
      ...greedy,
      maxNewTokens: 5,
      eosTokenIds: [],
      stopCheck: (row, ids) => {
        if (row === 1) seen.push(ids);
        return row === 1 && ids.length === 2;
      },
    });
    expect(checked[1].tokenIds).toEqual(free[1].tokenIds.slice(0, 2));
    expect(checked[1].finishReason).toBe("stop");
    expect(seen).toEqual([free[1].tokenIds.slice(0, 1), free[1].tokenIds.slice(0, 2)]);
    expect(checked[0]).toEqual(free[0]); // other rows unaffected
    expect(checked[0].finishReason).toBe("length");
  });

  it("truncates long prompts from the left and caps maxNewTokens to the context window", async () => {
    const long = Array.from({ length: 40 }, (_, i) => (i * 7) % 64);
    const [row] = await generate(model, [long], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 10, eosTokenIds: [], rng: Rng.fromSeed(1) });
    expect(row.promptTokenIds).toEqual(long.slice(40 - 22)); // 32 positions - 10 new tokens
    expect(row.tokenIds).toHaveLength(10);
    const [capped] = await generate(model, [[1, 2, 3]], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 100, eosTokenIds: [], rng: Rng.fromSeed(1) });
    expect(capped.tokenIds).toHaveLength(31);
    expect(capped.promptTokenIds).toEqual([3]);
    expect(capped.finishReason).toBe("length");
  });

  it("validates options and prompts, naming the field", async () => {
    const ok = { temperature: 1, topK: 0, topP: 1, maxNewTokens: 2, eosTokenIds: [], rng: Rng.fromSeed(1) };
    await expect(generate(model, [[1]], { ...ok, temperature: -1 })).rejects.toThrow(/generate options\.temperature/);
    await expect(generate(model, [[1]], { ...ok, topP: 0 })).rejects.toThrow(/generate options\.topP/);
    await expect(generate(model, [[1], []], ok)).rejects.toThrow(/promptIds\[1\]/);
    await expect(generate(model, [[1, 64]], ok)).rejects.toThrow(/promptIds\[0\]\[1\]/);
    await expect(generate(model, [[1]], { ...ok, eosTokenIds: [99] })).rejects.toBeInstanceOf(GrpoError);
  });
});

describe("memory and abort", () => {
  it("leaves no tensors behind, also when aborted", async () => {
    const opts = { temperature: 0.7, topK: 10, topP: 0.9, maxNewTokens: 6, eosTokenIds: [], rng: Rng.fromSeed(4) };
    await generate(model, PROMPTS, opts); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await generate(model, PROMPTS, opts);
    expect(tf.memory().numTensors).toBe(before);
    const controller = new AbortController();
    controller.abort();
    await expect(generate(model, PROMPTS, { ...opts, signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("sampleNextToken", () => {
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
  const frequencies = (options: TokenSamplingOptions, n = 20000) => {
    const rng = Rng.fromSeed(123);
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampleNextToken(logits, options, rng).tokenId]++;
    return counts.map((c) => c / n);
  };

  it("samples the softmax, then applies top-k and top-p before the draw", () => {
    const plain = frequencies({ temperature: 1, topK: 0, topP: 1 });
    [0.5, 0.3, 0.2].forEach((p, i) => expect(Math.abs(plain[i] - p)).toBeLessThan(0.015));
    const topK = frequencies({ temperature: 1, topK: 2, topP: 1 });
    [0.625, 0.375, 0].forEach((p, i) => expect(Math.abs(topK[i] - p)).toBeLessThan(0.015));
    const topP = frequencies({ temperature: 1, topK: 0, topP: 0.75 }); // keeps {0.5, 0.3}
    [0.625, 0.375, 0].forEach((p, i) => expect(Math.abs(topP[i] - p)).toBeLessThan(0.015));
    // T = 2 flattens: p ∝ sqrt(p).
    const z = [0.5, 0.3, 0.2].map(Math.sqrt);
    const hot = frequencies({ temperature: 2, topK: 0, topP: 1 });
    z.forEach((w, i) => expect(Math.abs(hot[i] - w / (z[0] + z[1] + z[2]))).toBeLessThan(0.015));
  });

  it("reports the untruncated log softmax(logits / T) and uses one draw per token (none when greedy)", () => {
    const rng = Rng.fromSeed(1);
    const state = rng.getState();
    const greedy = sampleNextToken(logits, { temperature: 0, topK: 0, topP: 1 }, rng);
    expect(greedy).toEqual({ tokenId: 0, logprob: expect.closeTo(Math.log(0.5), 12) });
    expect(rng.getState()).toEqual(state);
    const { tokenId, logprob } = sampleNextToken(logits, { temperature: 1, topK: 1, topP: 1 }, rng);
    expect(tokenId).toBe(0);
    expect(logprob).toBeCloseTo(Math.log(0.5), 12); // not log(1) after top-k
    const twin = Rng.fromState(state);
    twin.next();
    expect(rng.getState()).toEqual(twin.getState());
    const t2 = sampleNextToken(logits, { temperature: 2, topK: 0, topP: 1 }, Rng.fromSeed(2));
    const z = logits.map((v) => v / 2);
    const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
    expect(t2.logprob).toBeCloseTo(z[t2.tokenId] - lse, 12);
  });

  it("breaks greedy ties towards the lowest id", () => {
    expect(sampleNextToken([1, 3, 3, 2], { temperature: 0, topK: 0, topP: 1 }, Rng.fromSeed(1)).tokenId).toBe(1);
  });
});
