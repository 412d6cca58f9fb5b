import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import type { ModelConfig } from "../../src/model/config.js";
import { readSafetensorsFile, writeSafetensorsFile, type SafetensorsInput } from "../../src/model/safetensors.js";
import {
  canonicalizeGPT2Tensors,
  expectedParameterShapes,
  loadModelFolder,
  saveModelFolder,
  toHFTensors,
  type LoadedTensor,
  type ParameterMap,
} from "../../src/model/weights.js";
import { grpoErrorOf as errorOf } from "../helpers/errors.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.resolve("test/reference/write_safetensors.py");

interface ExpectedParams { [name: string]: { shape: number[]; bits: number[] } }
interface Expected { gpt2: { tied: ExpectedParams; untied: ExpectedParams } }
interface Dump { metadata: Record<string, string>; order: string[]; tensors: Record<string, { dtype: string; shape: number[]; bits: number[] }> }

let dir: string;
let expected: Expected;

const bitsOf = (data: Float32Array | Int32Array): number[] => Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));

function pythonDump(file: string): Dump {
  return JSON.parse(execFileSync(PYTHON, [SCRIPT, "dump", file], { encoding: "utf8" })) as Dump;
}

/** The tiny config the Python script uses. */
const tiny = (tied: boolean): ModelConfig => ({
  vocabSize: 11, nPositions: 8, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32, layerNormEpsilon: 1e-5,
  tieWordEmbeddings: tied, bosTokenId: 10, eosTokenId: 10,
});

/** Deterministic parameters of the right shapes for `config` (value = a function of name and index). */
function makeParams(config: ModelConfig): ParameterMap {
  const params: ParameterMap = {};
  let salt = 0;
  for (const [name, shape] of Object.entries(expectedParameterShapes(config))) {
    salt += 1;
    const n = shape.reduce((a, b) => a * b, 1);
    params[name] = { shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(salt * 7.1 + i * 0.37)) };
  }
  return params;
}

async function rejection(promise: Promise<unknown>): Promise<GrpoError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GrpoError);
    return error as GrpoError;
  }
  throw new Error("expected a GrpoError, but the promise resolved");
}

/** A fresh copy of one of the Python-written folders, safe to modify. */
function copyFolder(name: string): string {
  const target = mkdtempSync(path.join(dir, `${name}-`));
  cpSync(path.join(dir, name), target, { recursive: true });
  return target;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "weights-test-"));
  execFileSync(PYTHON, [SCRIPT, "gen", dir]);
  expected = JSON.parse(readFileSync(path.join(dir, "expected.json"), "utf8")) as Expected;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("expectedParameterShapes", () => {
  it("lists GPT-2's parameters with [in, out] Conv1D layouts", () => {
    const shapes = expectedParameterShapes({ ...tiny(true), nInner: 20 });
    expect(Object.keys(shapes)).toHaveLength(2 + 12 * 2 + 2);
    expect(shapes["wte.weight"]).toEqual([11, 8]);
    expect(shapes["wpe.weight"]).toEqual([8, 8]);
    expect(shapes["h.1.attn.c_attn.weight"]).toEqual([8, 24]);
    expect(shapes["h.1.attn.c_attn.bias"]).toEqual([24]);
    expect(shapes["h.0.attn.c_proj.weight"]).toEqual([8, 8]);
    expect(shapes["h.0.mlp.c_fc.weight"]).toEqual([8, 20]);
    expect(shapes["h.0.mlp.c_fc.bias"]).toEqual([20]);
    expect(shapes["h.0.mlp.c_proj.weight"]).toEqual([20, 8]);
    expect(shapes["ln_f.bias"]).toEqual([8]);
    expect(shapes["lm_head.weight"]).toBeUndefined();
    expect(expectedParameterShapes(tiny(false))["lm_head.weight"]).toEqual([11, 8]);
  });
});

describe("loading HF GPT-2 folders written by Python", () => {
  it("maps a GPT2LMHeadModel checkpoint (transformer. prefix, mask buffers, tied head) exactly", async () => {
    const folder = await loadModelFolder(path.join(dir, "gpt2_tied"));
    expect(folder.config).toEqual(tiny(true));
    expect(folder.generationConfig).toEqual({ bos_token_id: 10, eos_token_id: 10, max_new_tokens: 5 });
    const want = expected.gpt2.tied;
    expect(Object.keys(folder.tensors).sort()).toEqual(Object.keys(want).sort());
    expect(Object.keys(folder.tensors).sort()).toEqual(Object.keys(expectedParameterShapes(folder.config)).sort());
    for (const [name, { shape, bits }] of Object.entries(want)) {
      expect(folder.tensors[name].shape, name).toEqual(shape);
      expect(bitsOf(folder.tensors[name].data), name).toEqual(bits);
    }
  });

  it("maps a GPT2Model-named F16 checkpoint with an untied head", async () => {
    const folder = await loadModelFolder(path.join(dir, "gpt2_untied"));
    expect(folder.config.tieWordEmbeddings).toBe(false);
    const want = expected.gpt2.untied;
    expect(Object.keys(want)).toContain("lm_head.weight");
    expect(Object.keys(folder.tensors).sort()).toEqual(Object.keys(want).sort());
    for (const [name, { bits }] of Object.entries(want)) expect(bitsOf(folder.tensors[name].data), name).toEqual(bits);
  });
});

describe("toHFTensors", () => {
  it("writes GPT2LMHeadModel names, omitting a tied head unless asked", () => {
    const config = tiny(true);
    const params = makeParams(config);
    const hf = toHFTensors(params, config);
    expect(Object.keys(hf)).toContain("transformer.h.1.mlp.c_proj.weight");
    expect(Object.keys(hf).every((name) => name.startsWith("transformer."))).toBe(true);
    expect(Object.keys(hf)).toHaveLength(Object.keys(params).length);
    expect(hf["transformer.h.0.attn.c_attn.weight"].data).toBe(params["h.0.attn.c_attn.weight"].data); // no transpose, no copy
    const withHead = toHFTensors(params, config, { includeTiedHead: true, prefix: "", dtype: "F16" });
    expect(withHead["lm_head.weight"].data).toBe(params["wte.weight"].data);
    expect(withHead["h.0.ln_1.weight"].dtype).toBe("F16");
  });

  it("keeps an untied lm_head.weight unprefixed, and is inverted by canonicalizeGPT2Tensors", () => {
    const config = tiny(false);
    const params = makeParams(config);
    const hf = toHFTensors(params, config);
    expect(hf["lm_head.weight"].data).toBe(params["lm_head.weight"].data);
    expect(hf["transformer.lm_head.weight"]).toBeUndefined();
    const back = canonicalizeGPT2Tensors(hf, config, "round trip");
    expect(back).toEqual(params);
  });

  it("rejects parameters that do not match the config", () => {
    const config = tiny(true);
    const params = makeParams(config);
    delete params["ln_f.bias"];
    expect(() => toHFTensors(params, config)).toThrow('parameters: tensor "ln_f.bias" is missing');
  });
});

describe("saveModelFolder", () => {
  it("writes a folder that loads back identically and that Python reads as an HF checkpoint", async () => {
    const config = tiny(true);
    const params = makeParams(config);
    const out = path.join(dir, "saved", "nested");
    await saveModelFolder(out, config, params, {
      files: { "tokenizer_config.json": { model_max_length: 8 }, "README.md": "# tiny\n" },
    });
    expect(readdirSync(out).sort()).toEqual(["README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json"]);
    const hfConfig = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")) as Record<string, unknown>;
    expect(hfConfig).toMatchObject({ model_type: "gpt2", n_embd: 8, n_layer: 2, vocab_size: 11, tie_word_embeddings: true });
    expect(JSON.parse(readFileSync(path.join(out, "generation_config.json"), "utf8"))).toEqual({ bos_token_id: 10, eos_token_id: 10 });
    expect(JSON.parse(readFileSync(path.join(out, "tokenizer_config.json"), "utf8"))).toEqual({ model_max_length: 8 });
    expect(readFileSync(path.join(out, "README.md"), "utf8")).toBe("# tiny\n");

    const dump = pythonDump(path.join(out, "model.safetensors"));
    expect(dump.metadata).toEqual({ format: "pt" }); // from_pretrained refuses files without it
    expect(Object.keys(dump.tensors).sort()).toEqual(Object.keys(params).map((n) => `transformer.${n}`).sort());
    expect(dump.tensors["transformer.h.1.mlp.c_fc.weight"].bits).toEqual(bitsOf(params["h.1.mlp.c_fc.weight"].data));

    const loaded = await loadModelFolder(out);
    expect(loaded.config).toEqual(config);
    expect(loaded.tensors).toEqual(params);
    expect(loaded.generationConfig).toEqual({ bos_token_id: 10, eos_token_id: 10 });
  });

  it("stores F16 on request and refuses extra files that escape the folder or replace its own", async () => {
    const config = tiny(false);
    const out = path.join(dir, "saved_f16");
    await saveModelFolder(out, config, makeParams(config), { dtype: "F16", generationConfig: { do_sample: true } });
    expect((await readSafetensorsFile(path.join(out, "model.safetensors"))).tensors["lm_head.weight"].dtype).toBe("F16");
    expect(JSON.parse(readFileSync(path.join(out, "generation_config.json"), "utf8"))).toEqual({ do_sample: true });
    const escape = await rejection(saveModelFolder(out, config, makeParams(config), { files: { "../evil.json": {} } }));
    expect(escape.message).toContain('The path "../evil.json" escapes the model folder');
    expect(escape.message).toContain('extras.files["../evil.json"]');
    const reserved = await rejection(saveModelFolder(out, config, makeParams(config), { files: { "config.json": {} } }));
    expect(reserved.message).toContain("saveModelFolder writes config.json itself");
    expect(readdirSync(dir)).not.toContain("evil.json");
  });
});

describe("sharded checkpoints", () => {
  async function writeShards(folder: string, weightMap: Record<string, string>, shards: Record<string, Record<string, SafetensorsInput>>) {
    for (const [file, tensors] of Object.entries(shards)) await writeSafetensorsFile(path.join(folder, file), tensors, { format: "pt" });
    writeFileSync(path.join(folder, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  function split(config: ModelConfig) {
    const params = makeParams(config);
    const hf = toHFTensors(params, config);
    const names = Object.keys(hf);
    const first = Object.fromEntries(names.slice(0, 10).map((n) => [n, hf[n]]));
    const second = Object.fromEntries(names.slice(10).map((n) => [n, hf[n]]));
    const weightMap = Object.fromEntries(names.map((n, i) => [n, i < 10 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"]));
    return { params, first, second, weightMap };
  }

  it("loads a model split over two shards", async () => {
    const config = tiny(true);
    const folder = copyFolder("gpt2_tied");
    rmSync(path.join(folder, "model.safetensors"));
    const { params, first, second, weightMap } = split(config);
    await writeShards(folder, weightMap, { "model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second });
    expect((await loadModelFolder(folder)).tensors).toEqual(params);
  });

  it("rejects a shard path that escapes the folder", async () => {
    const config = tiny(true);
    const folder = copyFolder("gpt2_tied");
    rmSync(path.join(folder, "model.safetensors"));
    const { first, weightMap } = split(config);
    const evil = Object.fromEntries(Object.keys(weightMap).map((n) => [n, "../outside.safetensors"]));
    await writeSafetensorsFile(path.join(folder, "..", "outside.safetensors"), first);
    await writeShards(folder, evil, {});
    const error = await rejection(loadModelFolder(folder));
    expect(error.code).toBe("invalid_weights");
    expect(error.message).toContain('The path "../outside.safetensors" escapes the model folder');
  });

  it("rejects a shard whose tensors disagree with the index", async () => {
    const config = tiny(true);
    const folder = copyFolder("gpt2_tied");
    rmSync(path.join(folder, "model.safetensors"));
    const { first, second, weightMap } = split(config);
    const moved = Object.keys(first)[0];
    await writeShards(folder, { ...weightMap, [moved]: "model-00002-of-00002.safetensors" },
      { "model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second });
    const error = await rejection(loadModelFolder(folder));
    expect(error.message).toContain(`tensor "${moved}" is not assigned to this shard by the index`);
  });
});

describe("malformed folders and checkpoints", () => {
  it("missing folder", async () => {
    const error = await rejection(loadModelFolder(path.join(dir, "no-such-model")));
    expect(error.code).toBe("model_not_found");
    expect(error.message).toContain("Model folder not found:");
  });

  it("missing config.json", async () => {
    const folder = copyFolder("gpt2_tied");
    rmSync(path.join(folder, "config.json"));
    const error = await rejection(loadModelFolder(folder));
    expect(error.code).toBe("invalid_model");
    expect(error.message).toContain(`The model folder ${folder} has no config.json`);
  });

  it("config.json that is not JSON", async () => {
    const folder = copyFolder("gpt2_tied");
    writeFileSync(path.join(folder, "config.json"), "{ n_embd: 8 ");
    expect((await rejection(loadModelFolder(folder))).message).toContain("config.json is not valid JSON");
  });

  it("config.json with a bad field names the field", async () => {
    const folder = copyFolder("gpt2_tied");
    const config = JSON.parse(readFileSync(path.join(folder, "config.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(path.join(folder, "config.json"), JSON.stringify({ ...config, n_head: "two" }));
    const error = await rejection(loadModelFolder(folder));
    expect(error.code).toBe("invalid_model");
    expect(error.message).toContain("config.json.n_head`");
    expect(error.message).toContain('Got: "two"');
  });

  it("config.json of another architecture", async () => {
    const folder = copyFolder("gpt2_tied");
    writeFileSync(path.join(folder, "config.json"), JSON.stringify({ model_type: "llama", vocab_size: 11 }));
    expect((await rejection(loadModelFolder(folder))).message).toContain('model_type "llama" is not supported. Field: `' + path.join(folder, "config.json") + '.model_type`. Got: "llama". Expected: "gpt2" or "gpt_neox"');
  });

  it("weights missing, and pytorch_model.bin explained", async () => {
    const folder = copyFolder("gpt2_tied");
    rmSync(path.join(folder, "model.safetensors"));
    expect((await rejection(loadModelFolder(folder))).message).toContain(`The model folder ${folder} has no model.safetensors.`);
    writeFileSync(path.join(folder, "pytorch_model.bin"), "pickle");
    const error = await rejection(loadModelFolder(folder));
    expect(error.code).toBe("invalid_weights");
    expect(error.message).toContain("pytorch_model.bin weights, which are not supported");
    expect(error.message).toContain("save_pretrained(dir, safe_serialization=True)");
  });

  it("config that disagrees with the weights: wrong shape names tensor, both shapes and file", async () => {
    const folder = copyFolder("gpt2_tied");
    const config = JSON.parse(readFileSync(path.join(folder, "config.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(path.join(folder, "config.json"), JSON.stringify({ ...config, vocab_size: 12 }));
    const error = await rejection(loadModelFolder(folder));
    expect(error.message).toContain(`${path.join(folder, "model.safetensors")}: tensor "transformer.wte.weight" has shape [11, 8] but the config expects [12, 8]`);
    expect(error.message).toContain("vocab_size");
  });

  const config = tiny(true);
  const loaded = (): Record<string, LoadedTensor> => toHFTensors(makeParams(config), config);

  it("missing tensor", () => {
    const tensors = loaded();
    delete tensors["transformer.h.1.ln_2.bias"];
    delete tensors["transformer.wpe.weight"];
    const error = errorOf(() => canonicalizeGPT2Tensors(tensors, config, "m.safetensors"));
    expect(error.message).toContain('m.safetensors: tensor "wpe.weight" is missing (and 1 more: h.1.ln_2.bias).');
    expect(error.message).toContain("Expected: shape [8, 8]");
  });

  it("unexpected tensor, with a hint when the file has more layers than the config", () => {
    const extraLayer = { ...loaded(), "transformer.h.2.ln_1.weight": { shape: [8], data: new Float32Array(8) } };
    expect(() => canonicalizeGPT2Tensors(extraLayer, config, "m.safetensors")).toThrow(
      'm.safetensors: unexpected tensor "transformer.h.2.ln_1.weight". The config has n_layer 2, so blocks h.0 to h.1 only.');
    const foreign = { ...loaded(), "score.weight": { shape: [2, 8], data: new Float32Array(16) } };
    expect(() => canonicalizeGPT2Tensors(foreign, config, "m.safetensors")).toThrow('unexpected tensor "score.weight". It is not a GPT-2 parameter.');
    const proto = { ...loaded(), ["constructor"]: { shape: [1], data: new Float32Array(1) } };
    expect(() => canonicalizeGPT2Tensors(proto, config, "m.safetensors")).toThrow('unexpected tensor "constructor"');
  });

  it("a tied head that differs from wte, a parameter given twice, integer parameters", () => {
    const params = makeParams(config);
    const head = { shape: [11, 8], data: params["wte.weight"].data.map((v, i) => (i === 5 ? v + 1 : v)) };
    const differs = errorOf(() => canonicalizeGPT2Tensors({ ...loaded(), "lm_head.weight": head }, config, "m.safetensors"));
    expect(differs.message).toContain('tensor "lm_head.weight" differs from "transformer.wte.weight" (first at element 5), but the config ties them');
    expect(differs.message).toContain("tie_word_embeddings: false");
    const same = canonicalizeGPT2Tensors({ ...loaded(), "lm_head.weight": { shape: [11, 8], data: params["wte.weight"].data.slice() } }, config);
    expect(same["lm_head.weight"]).toBeUndefined();

    const twice = { ...loaded(), "wte.weight": params["wte.weight"] };
    expect(() => canonicalizeGPT2Tensors(twice, config, "m.safetensors")).toThrow('tensors "transformer.wte.weight" and "wte.weight" are the same parameter');
    const ints = { ...loaded(), "transformer.ln_f.bias": { shape: [8], data: new Int32Array(8) } };
    expect(() => canonicalizeGPT2Tensors(ints, config, "m.safetensors")).toThrow('tensor "transformer.ln_f.bias" holds integers');
  });

  it("drops only the mask buffers, not c_attn.bias", () => {
    const tensors = loaded();
    const buffers = { "transformer.h.0.attn.bias": { shape: [1, 1, 8, 8], data: new Float32Array(64) },
      "h.1.attn.masked_bias": { shape: [], data: Float32Array.of(-1e4) } };
    const out = canonicalizeGPT2Tensors({ ...tensors, ...buffers }, config);
    expect(Object.keys(out).sort()).toEqual(Object.keys(expectedParameterShapes(config)).sort());
    delete tensors["transformer.h.0.attn.c_attn.bias"];
    expect(() => canonicalizeGPT2Tensors({ ...tensors, ...buffers }, config)).toThrow('tensor "h.0.attn.c_attn.bias" is missing');
  });

  it("a corrupt weights file inside a folder names the file", async () => {
    const folder = copyFolder("gpt2_tied");
    const file = path.join(folder, "model.safetensors");
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    expect((await rejection(loadModelFolder(folder))).message).toContain(`${file}: header length is larger than the file`);
  });

  it("generation_config.json that is not an object", async () => {
    const folder = copyFolder("gpt2_tied");
    writeFileSync(path.join(folder, "generation_config.json"), "[1]");
    expect((await rejection(loadModelFolder(folder))).message).toContain("generation_config.json is not a JSON object");
  });
});
