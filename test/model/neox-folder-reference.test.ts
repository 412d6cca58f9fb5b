/**
 * Rotary models live in Hugging Face's GPT-NeoX layout. Both directions against an independent
 * PyTorch GPT-NeoX forward pass: a folder laid out like `GPTNeoXForCausalLM.save_pretrained` loads
 * and reproduces PyTorch's logits; a folder our `saveModelFolder` writes gives PyTorch our logits.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { GrpoError } from "../../src/core/errors.js";
import { selectBackend } from "../../src/model/backend.js";
import { modelConfigFromHF, modelConfigToHF, validateModelConfig, type ModelConfig } from "../../src/model/config.js";
import { Transformer } from "../../src/model/transformer.js";
import { loadModelFolder, saveModelFolder, type ParameterMap } from "../../src/model/weights.js";
import { grpoErrorOf } from "../helpers/errors.js";

const SCRIPT = path.join(__dirname, "../reference/neox_folder_reference.py");
let dir: string;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function modelOf(folder: { config: ModelConfig; tensors: ParameterMap }): Transformer {
  const tensors = Object.fromEntries(Object.entries(folder.tensors).map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
  const model = Transformer.fromTensors(folder.config, tensors);
  tf.dispose(Object.values(tensors));
  return model;
}

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  dir = mkdtempSync(path.join(tmpdir(), "neox-folder-"));
  execFileSync("/usr/bin/python3", [SCRIPT, "write", dir], { stdio: "pipe" });
});

describe("GPT-NeoX folders vs PyTorch", () => {
  it("loads a GPTNeoXForCausalLM folder (untied head, inv_freq buffers) and matches the reference logits", async () => {
    const folder = await loadModelFolder(path.join(dir, "model"));
    expect(folder.config).toMatchObject({
      vocabSize: 90, nPositions: 40, nEmbd: 48, nLayer: 2, nHead: 4, nInner: 120,
      tieWordEmbeddings: false, positionEncoding: "rotary", rotaryBase: 500, eosTokenId: 1,
    });
    const model = modelOf(folder);
    const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as { inputIds: number[][]; logits: number[] };
    const ids = tf.tensor2d(ref.inputIds, undefined, "int32");
    const logits = model.forward(ids);
    expect(maxAbsDiff(logits.dataSync(), ref.logits)).toBeLessThan(1e-4);
    tf.dispose([ids, logits]);
    model.dispose();
  });

  it("a rotary model saved by saveModelFolder gives PyTorch's GPT-NeoX forward our logits, and reloads exactly", async () => {
    const config: ModelConfig = {
      vocabSize: 70, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2, nInner: 64, layerNormEpsilon: 1e-5,
      tieWordEmbeddings: true, positionEncoding: "rotary", rotaryBase: 300, eosTokenId: 3,
    };
    const init = Transformer.init(config, { seed: 5 });
    // Larger than init weights, so every layer and every rotation shows in the logits.
    const scaled = tf.tidy(() => Object.fromEntries(Object.entries(init.params).map(([n, v], k) =>
      [n, /ln_(1|2|f)\.weight$/.test(n) ? tf.clone(v) : tf.randomNormal(v.shape, 0, 0.3, "float32", 70 + k)])));
    const model = Transformer.fromTensors(config, scaled);
    init.dispose();
    const params: ParameterMap = Object.fromEntries(Object.entries(scaled).map(([n, t]) => [n, { shape: t.shape, data: t.dataSync() as Float32Array }]));
    tf.dispose(Object.values(scaled));
    const out = path.join(dir, "ours");
    await saveModelFolder(out, config, params);
    const hf = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")) as Record<string, unknown>;
    expect(hf).toMatchObject({ model_type: "gpt_neox", rotary_pct: 1, use_parallel_residual: false, hidden_act: "gelu_new", tie_word_embeddings: true });

    const inputIds = [[5, 9, 14, 2, 33, 7, 21, 40, 1, 0, 69, 12], [11, 3, 60, 8, 8, 8, 8, 50, 49, 48, 47, 46]];
    writeFileSync(path.join(dir, "ids.json"), JSON.stringify(inputIds));
    execFileSync("/usr/bin/python3", [SCRIPT, "logits", out, path.join(dir, "ids.json"), path.join(dir, "ours.json")], { stdio: "pipe" });
    const torchLogits = JSON.parse(readFileSync(path.join(dir, "ours.json"), "utf8")) as number[];
    const ids = tf.tensor2d(inputIds, undefined, "int32");
    const logits = model.forward(ids);
    expect(maxAbsDiff(logits.dataSync(), torchLogits)).toBeLessThan(1e-4);

    const reloaded = await loadModelFolder(out);
    expect(reloaded.config).toEqual(config);
    for (const [name, t] of Object.entries(params)) expect(reloaded.tensors[name].data, name).toEqual(t.data);
    tf.dispose([ids, logits]);
    model.dispose();
  });
});

describe("GPT-NeoX configs", () => {
  const base = {
    model_type: "gpt_neox", vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2,
    max_position_embeddings: 16, rotary_pct: 1, use_parallel_residual: false, hidden_act: "gelu_new",
  };
  const errorOf = (json: unknown): GrpoError => grpoErrorOf(() => modelConfigFromHF(json, "m/config.json"));

  it("round-trips a rotary config through config.json", () => {
    const config: ModelConfig = {
      vocabSize: 10, nPositions: 16, nEmbd: 8, nLayer: 1, nHead: 2, nInner: 32, layerNormEpsilon: 1e-5,
      tieWordEmbeddings: true, positionEncoding: "rotary", rotaryBase: 10000, eosTokenId: 2,
    };
    expect(modelConfigFromHF(modelConfigToHF(config))).toEqual(config);
  });

  it("round-trips the previous-token embedding (config key and weights), in both layouts", async () => {
    for (const positionEncoding of ["rotary", "learned"] as const) {
      const config: ModelConfig = {
        vocabSize: 10, nPositions: 16, nEmbd: 8, nLayer: 1, nHead: 2, nInner: 32, layerNormEpsilon: 1e-5,
        tieWordEmbeddings: true, positionEncoding, previousTokenEmbedding: true,
        ...(positionEncoding === "rotary" ? { rotaryBase: 10000 } : {}),
      };
      const hf = modelConfigToHF(config);
      expect(hf.previous_token_embedding).toBe(true);
      expect(modelConfigFromHF(hf)).toEqual(positionEncoding === "rotary" ? config : { ...config, positionEncoding: undefined });
      const model = Transformer.init(config, { seed: 3 });
      const dir = mkdtempSync(path.join(tmpdir(), "prev-token-"));
      await saveModelFolder(dir, config, await model.weightValues());
      const loaded = await loadModelFolder(dir);
      expect(loaded.tensors["wte_prev.weight"].data).toEqual((await model.weightValues())["wte_prev.weight"].data);
      expect(loaded.config.previousTokenEmbedding).toBe(true);
      model.dispose();
    }
    // Without the flag there is no such key and no such weight.
    const plain: ModelConfig = { vocabSize: 10, nPositions: 16, nEmbd: 8, nLayer: 1, nHead: 2, nInner: 32, layerNormEpsilon: 1e-5, tieWordEmbeddings: true, positionEncoding: "rotary" };
    expect("previous_token_embedding" in modelConfigToHF(plain)).toBe(false);
  });

  it("rejects a rotary config with odd heads, and rotaryBase without rotary positions, naming the field", () => {
    const config: ModelConfig = {
      vocabSize: 10, nPositions: 16, nEmbd: 12, nLayer: 1, nHead: 4, nInner: 48, layerNormEpsilon: 1e-5,
      tieWordEmbeddings: true, positionEncoding: "rotary",
    };
    const odd = grpoErrorOf(() => validateModelConfig(config, "cfg"));
    expect(odd.field).toBe("cfg.nHead");
    expect(odd.message).toContain("Rotary positions need an even head size");
    expect(() => validateModelConfig({ ...config, nHead: 2 }, "cfg")).not.toThrow(); // head size 6
    const stray = grpoErrorOf(() => validateModelConfig({ ...config, nHead: 2, positionEncoding: "learned", rotaryBase: 500 }, "cfg"));
    expect(stray.field).toBe("cfg.rotaryBase");
  });

  it("names the field of each unsupported variant (HF's own defaults included)", () => {
    const { rotary_pct: _pct, ...noPct } = base;
    expect(errorOf(noPct).field).toBe("m/config.json.rotary_pct");
    expect(errorOf({ ...base, rotary_pct: 0.25 }).expected).toContain("every channel of a head rotated");
    expect(errorOf({ ...base, use_parallel_residual: true }).field).toBe("m/config.json.use_parallel_residual");
    expect(errorOf({ ...base, hidden_act: "gelu" }).field).toBe("m/config.json.hidden_act");
    expect(errorOf({ ...base, model_type: "llama" }).message).toContain('model_type "llama" is not supported');
  });
});
