/**
 * Hugging Face GPT-2 and GPT-NeoX checkpoints <-> our parameters, and model folders on disk.
 *
 * Our parameter names are GPT-2's own, without the `transformer.` prefix (legend: V vocabulary,
 * P positions, C embedding width, nInner MLP width):
 *
 *   wte.weight [V, C]                 wpe.weight [P, C]
 *   h.{i}.ln_1.weight|bias [C]        h.{i}.attn.c_attn.weight [C, 3C]   h.{i}.attn.c_attn.bias [3C]
 *   h.{i}.attn.c_proj.weight [C, C]   h.{i}.attn.c_proj.bias [C]         h.{i}.ln_2.weight|bias [C]
 *   h.{i}.mlp.c_fc.weight [C, nInner] h.{i}.mlp.c_fc.bias [nInner]
 *   h.{i}.mlp.c_proj.weight [nInner, C]                                  h.{i}.mlp.c_proj.bias [C]
 *   ln_f.weight|bias [C]              lm_head.weight [V, C] (only when the head is not tied to wte)
 *   wte_prev.weight [C, C] [in, out]  (only with previousTokenEmbedding, our extension; GPT-NeoX files
 *                                     name it gpt_neox.embed_prev.weight, same layout)
 *
 * No transposes anywhere: GPT-2's attention and MLP layers are `Conv1D` modules, which store their
 * weight as [in, out] and compute `x @ W + b` — exactly our layout. (A checkpoint of `nn.Linear`
 * layers, [out, in], would need transposing; GPT-2 has none besides the tied head, which is [V, C]
 * like `wte` because logits are `x @ wteᵀ`.)
 *
 * Rotary models (`positionEncoding: "rotary"`) are stored in Hugging Face's GPT-NeoX layout instead
 * (`gpt_neox.layers.{i}.attention.query_key_value.weight` and so on, `nn.Linear` [out, in] weights,
 * q/k/v interleaved per head); {@link canonicalizeNeoXTensors} and {@link toHFTensors} convert.
 *
 * A model folder is the Hugging Face layout: `config.json`, `model.safetensors` (or shards listed by
 * `model.safetensors.index.json`), optionally `generation_config.json`, tokenizer files and others.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { GrpoError } from "../core/errors.js";
import { modelConfigFromHF, modelConfigToHF, parameterShapes, positionEncodingOf, validateModelConfig, type ModelConfig } from "./config.js";
import {
  readSafetensorsFile,
  writeFileAtomic,
  writeSafetensorsFile,
  type SafetensorsInput,
  type SafetensorsWriteDtype,
} from "./safetensors.js";

/** One model parameter: its shape and float32 values (row-major). */
export interface ParameterTensor {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Values in row-major order; length = product of `shape`. */
  data: Float32Array;
}

/** Model parameters by canonical name (see the module comment for the names and shapes). */
export type ParameterMap = Record<string, ParameterTensor>;

/** A tensor as read from a file: floats or integers (only floats are valid parameters). */
export interface LoadedTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** What {@link loadModelFolder} returns. */
export interface ModelFolder {
  /** The architecture, from `config.json`. */
  config: ModelConfig;
  /** The parameters under canonical names, shapes checked against `config`. */
  tensors: ParameterMap;
  /** The contents of `generation_config.json`, when the folder has one. */
  generationConfig?: Record<string, unknown>;
}

/** Optional extras for {@link saveModelFolder}. */
export interface SaveModelFolderExtras {
  /** Written as `generation_config.json`; default: `{ bos_token_id, eos_token_id }` from the config. */
  generationConfig?: Record<string, unknown>;
  /**
   * More files to write into the folder (e.g. `tokenizer.json`): a string is written as is, an object
   * as indented JSON. Names are relative paths inside the folder and may not replace `config.json`,
   * `model.safetensors` or `generation_config.json`.
   */
  files?: Record<string, string | object>;
  /** How to store the weights: `F32` (default, exact) or `F16` (half the size, rounded). */
  dtype?: SafetensorsWriteDtype;
}

/** Options of {@link toHFTensors}. */
export interface ToHFTensorsOptions {
  /**
   * Prefix of the transformer's parameters: `"transformer."` (default) is `GPT2LMHeadModel`'s own
   * state-dict naming; `""` is `GPT2Model`'s. HF's loader accepts either for both classes.
   */
  prefix?: "transformer." | "";
  /** Stored dtype of every tensor (default `F32`). */
  dtype?: SafetensorsWriteDtype;
  /**
   * With a tied head, also write `lm_head.weight` (a copy of `wte.weight`). Default false: HF's own
   * `save_pretrained` omits it, and `from_pretrained` re-ties the head to `wte` after loading.
   */
  includeTiedHead?: boolean;
}

const HF_PREFIX = "transformer.";
const LM_HEAD = "lm_head.weight";
/** Attention-mask buffers older HF GPT-2 checkpoints save alongside the parameters. */
const MASK_BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/** The name and shape of every parameter the transformer for `config` has, in model order. */
export function expectedParameterShapes(config: ModelConfig): Record<string, number[]> {
  return parameterShapes(config);
}

const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function weightsError(source: string, summary: string, details: ConstructorParameters<typeof GrpoError>[2]): GrpoError {
  return new GrpoError("invalid_weights", `${source}: ${summary}`, details);
}

const MATCH_CONFIG_FIX =
  "make config.json describe the same architecture as the weights (vocab_size, n_positions, n_embd, n_layer, n_inner, tie_word_embeddings).";

/** Checks one tensor against its expected shape; `fileName` is the name the file uses. */
function checkTensor(fileName: string, tensor: LoadedTensor, expected: number[], source: string): ParameterTensor {
  if (!(tensor.data instanceof Float32Array)) {
    throw weightsError(source, `tensor "${fileName}" holds integers, but model parameters are floats.`, {
      field: `tensor "${fileName}"`,
      expected: "a floating-point dtype (F32, F16, BF16 or F64)",
      fix: "save the parameters as floating-point tensors.",
    });
  }
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (!sameShape(tensor.shape, expected) || tensor.data.length !== count) {
    throw weightsError(source, `tensor "${fileName}" has shape ${formatShape(tensor.shape)} but the config expects ${formatShape(expected)}.`, {
      field: `tensor "${fileName}"`,
      value: tensor.shape,
      expected: formatShape(expected),
      fix: MATCH_CONFIG_FIX,
    });
  }
  return { shape: [...tensor.shape], data: tensor.data };
}

/** Throws when any expected parameter is absent from `found`, naming the first and counting the rest. */
function checkNoneMissing(found: ParameterMap, expected: Record<string, number[]>, source: string): void {
  const missing = Object.keys(expected).filter((name) => !Object.hasOwn(found, name));
  if (missing.length === 0) return;
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1, 4).join(", ")}${missing.length > 4 ? ", ..." : ""})` : "";
  throw weightsError(source, `tensor "${missing[0]}" is missing${more}.`, {
    field: `tensor "${missing[0]}"`,
    expected: `shape ${formatShape(expected[missing[0]])}`,
    fix: MATCH_CONFIG_FIX,
  });
}

function unexpectedTensor(fileName: string, name: string, config: ModelConfig, source: string): GrpoError {
  const layer = /^h\.(\d+)\./.exec(name);
  const hint = layer && Number(layer[1]) >= config.nLayer
    ? ` The config has n_layer ${config.nLayer}, so blocks h.0 to h.${config.nLayer - 1} only.`
    : name === LM_HEAD ? "" : " It is not a GPT-2 parameter.";
  return weightsError(source, `unexpected tensor "${fileName}".${hint}`, {
    field: `tensor "${fileName}"`,
    fix: name.startsWith("h.") ? MATCH_CONFIG_FIX : "load only GPT-2 (GPT2LMHeadModel) checkpoints, or remove the extra tensor.",
  });
}

/**
 * Maps the tensors of a Hugging Face GPT-2 checkpoint to our canonical parameters, checking them
 * against `config`.
 *
 * Rules: a leading `transformer.` is stripped (GPT2LMHeadModel names) or absent (GPT2Model names);
 * the attention-mask buffers `h.{i}.attn.bias` and `h.{i}.attn.masked_bias` are dropped (they are
 * not parameters); with a tied head, an `lm_head.weight` in the file is dropped after checking that
 * it equals `wte.weight` (it is the same matrix; a different one means the config is wrong). Every
 * expected parameter must be present with its expected shape and nothing else may remain; each
 * failure is a {@link GrpoError} `invalid_weights` naming the tensor, both shapes and `source`.
 * The returned tensors share their data arrays with the input (no copy).
 *
 * @param source how to name the file in error messages.
 */
export function canonicalizeGPT2Tensors(
  tensors: Record<string, LoadedTensor>,
  config: ModelConfig,
  source = "weights",
): ParameterMap {
  const expected = expectedParameterShapes(config);
  const out: ParameterMap = {};
  const fileNameOf: Record<string, string> = {};
  let tiedHead: { fileName: string; tensor: LoadedTensor } | undefined;

  for (const [fileName, tensor] of Object.entries(tensors)) {
    const name = fileName.startsWith(HF_PREFIX) ? fileName.slice(HF_PREFIX.length) : fileName;
    if (MASK_BUFFER.test(name)) continue;
    if (Object.hasOwn(fileNameOf, name) || (name === LM_HEAD && tiedHead)) {
      throw weightsError(source, `tensors "${fileNameOf[name] ?? tiedHead?.fileName}" and "${fileName}" are the same parameter.`, {
        field: `tensor "${fileName}"`,
        fix: "keep one of them (with or without the `transformer.` prefix), not both.",
      });
    }
    if (name === LM_HEAD && config.tieWordEmbeddings) {
      tiedHead = { fileName, tensor };
      continue;
    }
    if (!Object.hasOwn(expected, name)) throw unexpectedTensor(fileName, name, config, source);
    out[name] = checkTensor(fileName, tensor, expected[name], source);
    fileNameOf[name] = fileName;
  }
  checkNoneMissing(out, expected, source);

  if (tiedHead) {
    const wte = out["wte.weight"];
    const head = checkTensor(tiedHead.fileName, tiedHead.tensor, wte.shape, source);
    const differsAt = head.data.findIndex((v, i) => v !== wte.data[i] && !(Number.isNaN(v) && Number.isNaN(wte.data[i])));
    if (differsAt >= 0) {
      throw weightsError(source, `tensor "${tiedHead.fileName}" differs from "${fileNameOf["wte.weight"]}" (first at element ${differsAt}), but the config ties them.`, {
        field: `tensor "${tiedHead.fileName}"`,
        expected: "an output head equal to wte.weight when tie_word_embeddings is true",
        fix: "set `tie_word_embeddings: false` in config.json to keep a separate output head.",
      });
    }
  }
  return out;
}

/**
 * Checks that `params` are exactly the canonical parameters of `config` (names and shapes) and throws
 * a {@link GrpoError} `invalid_weights` naming the first offending tensor otherwise.
 */
export function checkParameters(params: ParameterMap, config: ModelConfig, source = "parameters"): void {
  const expected = expectedParameterShapes(config);
  for (const [name, tensor] of Object.entries(params)) {
    if (!Object.hasOwn(expected, name)) throw unexpectedTensor(name, name, config, source);
    checkTensor(name, tensor, expected[name], source);
  }
  checkNoneMissing(params, expected, source);
}

/**
 * Our parameters as a Hugging Face GPT-2 state dict, ready for {@link writeSafetensorsFile}
 * (a rotary model's as a GPT-NeoX state dict: see the module comment; `prefix` does not apply).
 *
 * What is written, and why HF's `GPT2LMHeadModel.from_pretrained` loads it: every transformer
 * parameter under `prefix` + its name (default `transformer.`, the model's own state-dict keys), with
 * unchanged [in, out] layouts (HF's Conv1D layers use them too); `lm_head.weight` (no prefix: the head
 * sits on the LM model, not on the transformer) when the head is untied, or when tied and
 * `includeTiedHead` is set; no attention-mask buffers, which HF rebuilds and does not expect. A tied
 * head is omitted by default, exactly as HF's `save_pretrained` does: loading re-ties it to `wte`.
 * The data arrays are shared with `params`, not copied.
 */
export function toHFTensors(
  params: ParameterMap,
  config: ModelConfig,
  options: ToHFTensorsOptions = {},
): Record<string, SafetensorsInput> {
  const prefix = options.prefix ?? HF_PREFIX;
  const dtype = options.dtype ?? "F32";
  checkParameters(params, config);
  if (positionEncodingOf(config) === "rotary") return toNeoXTensors(params, config, dtype, options.includeTiedHead ?? false);
  const out: Record<string, SafetensorsInput> = {};
  for (const [name, { shape, data }] of Object.entries(params)) {
    out[name === LM_HEAD ? LM_HEAD : prefix + name] = { dtype, shape: [...shape], data };
  }
  if (config.tieWordEmbeddings && options.includeTiedHead) {
    const wte = params["wte.weight"];
    out[LM_HEAD] = { dtype, shape: [...wte.shape], data: wte.data };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Model folders

/** `relative` resolved inside `dir`; a path that is absolute or leaves `dir` is an error. */
function resolveInside(dir: string, relative: string, field: string, code: "invalid_weights" | "invalid_argument"): string {
  const root = path.resolve(dir);
  const target = path.resolve(root, relative);
  const rel = path.relative(root, target);
  if (path.isAbsolute(relative) || rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    throw new GrpoError(code, `The path "${relative}" escapes the model folder ${dir}.`, {
      field,
      value: relative,
      expected: "a relative file name inside the folder, e.g. model-00001-of-00002.safetensors",
      fix: "use a file name inside the model folder; `..` and absolute paths are not allowed.",
    });
  }
  return target;
}

async function exists(filePath: string): Promise<boolean> {
  return stat(filePath).then(() => true, () => false);
}

/** Parses a JSON file; `undefined` when it does not exist. */
async function readJson(filePath: string, code: "invalid_model" | "invalid_weights"): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(filePath, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new GrpoError(code, `Cannot read ${filePath}.`, { field: "path", value: filePath, cause, fix: "check the file's permissions." });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new GrpoError(code, `${filePath} is not valid JSON (${(cause as Error).message}).`, {
      field: path.basename(filePath),
      cause,
      fix: "repair or re-save the file.",
    });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads `model.safetensors.index.json` and every shard it lists; checks shards match the index. */
async function readShardedWeights(dir: string, indexPath: string): Promise<Record<string, LoadedTensor>> {
  const index = await readJson(indexPath, "invalid_weights");
  const weightMap = isRecord(index) ? index.weight_map : undefined;
  if (!isRecord(weightMap) || !Object.values(weightMap).every((f) => typeof f === "string")) {
    throw new GrpoError("invalid_weights", `${indexPath}: weight_map is missing or malformed.`, {
      field: "weight_map",
      value: weightMap,
      expected: '{ "<tensor name>": "<shard file name>", ... }',
    });
  }
  const shardOf = weightMap as Record<string, string>;
  const tensors = new Map<string, LoadedTensor>();
  for (const shard of [...new Set(Object.values(shardOf))].sort()) {
    const shardPath = resolveInside(dir, shard, `weight_map (${indexPath})`, "invalid_weights");
    const { tensors: shardTensors } = await readSafetensorsFile(shardPath);
    for (const [name, tensor] of Object.entries(shardTensors)) {
      if (!Object.hasOwn(shardOf, name) || shardOf[name] !== shard) {
        throw new GrpoError("invalid_weights", `${shardPath}: tensor "${name}" is not assigned to this shard by the index.`, {
          field: `tensor "${name}"`,
          value: Object.hasOwn(shardOf, name) ? shardOf[name] : null,
          expected: `weight_map["${name}"] = "${shard}"`,
          fix: "regenerate model.safetensors.index.json together with its shards.",
        });
      }
      tensors.set(name, tensor);
    }
  }
  const absent = Object.keys(shardOf).find((name) => !tensors.has(name));
  if (absent !== undefined) {
    throw new GrpoError("invalid_weights", `${indexPath}: tensor "${absent}" is listed in ${shardOf[absent]} but that shard lacks it.`, {
      field: `tensor "${absent}"`,
      fix: "regenerate model.safetensors.index.json together with its shards.",
    });
  }
  return Object.fromEntries(tensors);
}

/**
 * Loads a Hugging Face GPT-2 or GPT-NeoX (rotary) model folder: `config.json`, the weights
 * (`model.safetensors`, or the shards listed in `model.safetensors.index.json`) mapped to canonical
 * names by {@link canonicalizeGPT2Tensors} or {@link canonicalizeNeoXTensors}, and
 * `generation_config.json` when present.
 *
 * Errors: `model_not_found` when the folder is missing; `invalid_model` for a missing or invalid
 * config.json or a `model_type` other than `gpt2` and `gpt_neox`; `invalid_weights` for missing weights (PyTorch
 * `pytorch_model.bin` files are not supported: re-save with safetensors), shard paths that escape
 * the folder, and any problem with the tensors themselves.
 */
export async function loadModelFolder(dir: string): Promise<ModelFolder> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new GrpoError("model_not_found", info ? `${dir} is a file, not a model folder.` : `Model folder not found: ${dir}.`, {
      field: "dir",
      value: dir,
      expected: "a folder with config.json and model.safetensors",
      fix: "check the path; save a model with `saveModelFolder` or HF `save_pretrained`.",
    });
  }

  const configPath = path.join(dir, "config.json");
  const configJson = await readJson(configPath, "invalid_model");
  if (configJson === undefined) {
    throw new GrpoError("invalid_model", `The model folder ${dir} has no config.json.`, {
      field: "config.json",
      fix: "add the model's Hugging Face config.json (written by `save_pretrained` or `saveModelFolder`).",
    });
  }
  const config = modelConfigFromHF(configJson, configPath);

  const singlePath = path.join(dir, "model.safetensors");
  const indexPath = path.join(dir, "model.safetensors.index.json");
  let raw: Record<string, LoadedTensor>;
  let source: string;
  if (await exists(singlePath)) {
    raw = (await readSafetensorsFile(singlePath)).tensors;
    source = singlePath;
  } else if (await exists(indexPath)) {
    raw = await readShardedWeights(dir, indexPath);
    source = indexPath;
  } else {
    const hasPickle = (await exists(path.join(dir, "pytorch_model.bin"))) ||
      (await exists(path.join(dir, "pytorch_model.bin.index.json")));
    throw new GrpoError("invalid_weights", hasPickle
      ? `The model folder ${dir} has pytorch_model.bin weights, which are not supported (PyTorch pickle files can run code).`
      : `The model folder ${dir} has no model.safetensors.`, {
      field: "model.safetensors",
      fix: "in Python, load the model and re-save it with `model.save_pretrained(dir, safe_serialization=True)`.",
    });
  }
  const tensors = positionEncodingOf(config) === "rotary" ? canonicalizeNeoXTensors(raw, config, source) : canonicalizeGPT2Tensors(raw, config, source);

  const generationPath = path.join(dir, "generation_config.json");
  const generationJson = await readJson(generationPath, "invalid_model");
  const folder: ModelFolder = { config, tensors };
  if (generationJson !== undefined) {
    if (!isRecord(generationJson)) {
      throw new GrpoError("invalid_model", `${generationPath} is not a JSON object.`, {
        field: "generation_config.json", value: generationJson, expected: "a JSON object",
      });
    }
    folder.generationConfig = generationJson;
  }
  return folder;
}

const RESERVED_FILES = new Set(["config.json", "model.safetensors", "model.safetensors.index.json", "generation_config.json"]);

const toJsonText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Saves a model as a Hugging Face folder that both {@link loadModelFolder} and HF
 * `GPT2LMHeadModel.from_pretrained` (rotary models: `GPTNeoXForCausalLM`) read: `config.json` (from {@link modelConfigToHF}),
 * `model.safetensors` (from {@link toHFTensors}, with the `{ format: "pt" }` metadata HF requires),
 * `generation_config.json`, and any extra files. Each file is written atomically; `config.json`
 * is written last. The folder is created if needed; existing files of the same names are replaced.
 */
export async function saveModelFolder(
  dir: string,
  config: ModelConfig,
  tensors: ParameterMap,
  extras: SaveModelFolderExtras = {},
): Promise<void> {
  validateModelConfig(config);
  const hfTensors = toHFTensors(tensors, config, { dtype: extras.dtype ?? "F32" });
  const extraFiles = Object.entries(extras.files ?? {}).map(([name, contents]) => {
    const target = resolveInside(dir, name, `extras.files["${name}"]`, "invalid_argument");
    if (RESERVED_FILES.has(path.relative(path.resolve(dir), target))) {
      throw new GrpoError("invalid_argument", `saveModelFolder writes ${name} itself.`, {
        field: `extras.files["${name}"]`,
        fix: name === "generation_config.json" ? "pass it as `extras.generationConfig`." : "remove it from `extras.files`.",
      });
    }
    return { target, text: typeof contents === "string" ? contents : toJsonText(contents) };
  });

  await mkdir(dir, { recursive: true });
  for (const { target, text } of extraFiles) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, text);
  }
  await writeSafetensorsFile(path.join(dir, "model.safetensors"), hfTensors, { format: "pt" });
  const generationConfig = extras.generationConfig ?? {
    ...(config.bosTokenId !== undefined ? { bos_token_id: config.bosTokenId } : {}),
    ...(config.eosTokenId !== undefined ? { eos_token_id: config.eosTokenId } : {}),
  };
  await writeFileAtomic(path.join(dir, "generation_config.json"), toJsonText(generationConfig));
  await writeFileAtomic(path.join(dir, "config.json"), toJsonText(modelConfigToHF(config)));
}

// ---------------------------------------------------------------------------------------------
// GPT-NeoX (rotary models)

const NEOX_BUFFER = /^gpt_neox\.layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/;

/** How a canonical parameter is laid out in a GPT-NeoX file. */
type NeoXLayout = "same" | "transpose" | "qkvWeight" | "qkvBias";

/** The GPT-NeoX file name and layout of a canonical parameter name. */
function neoxNameOf(name: string): { file: string; layout: NeoXLayout } {
  const block = /^h\.(\d+)\.(.+)$/.exec(name);
  if (block === null) {
    const top: Record<string, string> = {
      "wte.weight": "gpt_neox.embed_in.weight",
      "wte_prev.weight": "gpt_neox.embed_prev.weight", // our extension (ModelConfig.previousTokenEmbedding)
      "ln_f.weight": "gpt_neox.final_layer_norm.weight",
      "ln_f.bias": "gpt_neox.final_layer_norm.bias",
      [LM_HEAD]: "embed_out.weight",
    };
    return { file: top[name], layout: "same" };
  }
  const [, layer, rest] = block;
  const map: Record<string, [string, NeoXLayout]> = {
    "ln_1.weight": ["input_layernorm.weight", "same"],
    "ln_1.bias": ["input_layernorm.bias", "same"],
    "attn.c_attn.weight": ["attention.query_key_value.weight", "qkvWeight"],
    "attn.c_attn.bias": ["attention.query_key_value.bias", "qkvBias"],
    "attn.c_proj.weight": ["attention.dense.weight", "transpose"],
    "attn.c_proj.bias": ["attention.dense.bias", "same"],
    "ln_2.weight": ["post_attention_layernorm.weight", "same"],
    "ln_2.bias": ["post_attention_layernorm.bias", "same"],
    "mlp.c_fc.weight": ["mlp.dense_h_to_4h.weight", "transpose"],
    "mlp.c_fc.bias": ["mlp.dense_h_to_4h.bias", "same"],
    "mlp.c_proj.weight": ["mlp.dense_4h_to_h.weight", "transpose"],
    "mlp.c_proj.bias": ["mlp.dense_4h_to_h.bias", "same"],
  };
  const [file, layout] = map[rest];
  return { file: `gpt_neox.layers.${layer}.${file}`, layout };
}

/** The stored shape of a parameter of canonical shape `shape` in `layout`. */
function neoxShape(shape: readonly number[], layout: NeoXLayout): number[] {
  return layout === "transpose" || layout === "qkvWeight" ? [shape[1], shape[0]] : [...shape];
}

/**
 * Where each element of a canonical parameter (row-major, canonical shape) sits in its GPT-NeoX
 * tensor: `neoxIndex[i]` for canonical flat index i, or undefined when the layouts agree. Linear
 * weights are transposed ([in, out] -> [out, in]); the fused q|k|v outputs are regrouped from ours
 * (part · C + head · hs + d) to GPT-NeoX's per-head (head · 3hs + part · hs + d).
 */
function neoxIndexOf(shape: readonly number[], layout: NeoXLayout, config: ModelConfig): Int32Array | undefined {
  if (layout === "same") return undefined;
  const C = config.nEmbd;
  const hs = C / config.nHead;
  const column = (j: number) => { // our output column j -> GPT-NeoX's output row
    const part = Math.floor(j / C);
    const head = Math.floor((j % C) / hs);
    return head * 3 * hs + part * hs + (j % hs);
  };
  if (layout === "qkvBias") return Int32Array.from({ length: shape[0] }, (_, j) => column(j));
  const [cin, cout] = shape;
  const index = new Int32Array(cin * cout);
  const outRow = layout === "qkvWeight" ? column : (j: number) => j;
  for (let c = 0; c < cin; c++) for (let j = 0; j < cout; j++) index[c * cout + j] = outRow(j) * cin + c;
  return index;
}

/** A canonical parameter (canonical shape) in its GPT-NeoX layout. */
function toNeoXData(data: Float32Array, shape: readonly number[], layout: NeoXLayout, config: ModelConfig): Float32Array {
  const index = neoxIndexOf(shape, layout, config);
  if (index === undefined) return data;
  const out = new Float32Array(data.length);
  index.forEach((n, i) => { out[n] = data[i]; });
  return out;
}

/** The inverse of {@link toNeoXData}: a GPT-NeoX tensor in our layout (`shape` is ours). */
function fromNeoXData(data: Float32Array, shape: readonly number[], layout: NeoXLayout, config: ModelConfig): Float32Array {
  const index = neoxIndexOf(shape, layout, config);
  return index === undefined ? data : Float32Array.from(index, (n) => data[n]);
}

/**
 * Maps the tensors of a Hugging Face GPT-NeoX checkpoint (`GPTNeoXForCausalLM`) to our canonical
 * parameters, checking names and shapes against `config` (a rotary config). Linear weights are
 * transposed to [in, out] and the per-head q|k|v rows regrouped into our q|k|v columns; the
 * attention buffers older checkpoints carry (`attention.bias`, `masked_bias`, `rotary_emb.inv_freq`)
 * are dropped; with a tied head, an `embed_out.weight` in the file must equal `embed_in.weight`.
 * Errors are {@link GrpoError} `invalid_weights` naming the tensor as the file names it.
 */
export function canonicalizeNeoXTensors(tensors: Record<string, LoadedTensor>, config: ModelConfig, source = "weights"): ParameterMap {
  const expected = expectedParameterShapes(config);
  const canonicalOf = new Map<string, string>();
  for (const name of [...Object.keys(expected), LM_HEAD]) canonicalOf.set(neoxNameOf(name).file, name);
  const out: ParameterMap = {};
  let tiedHead: { fileName: string; tensor: LoadedTensor } | undefined;
  for (const [fileName, tensor] of Object.entries(tensors)) {
    if (NEOX_BUFFER.test(fileName)) continue;
    const name = canonicalOf.get(fileName);
    if (name === LM_HEAD && config.tieWordEmbeddings) {
      tiedHead = { fileName, tensor };
      continue;
    }
    if (name === undefined || !Object.hasOwn(expected, name)) {
      const layer = /^gpt_neox\.layers\.(\d+)\./.exec(fileName);
      const hint = layer && Number(layer[1]) >= config.nLayer
        ? ` The config has num_hidden_layers ${config.nLayer}, so layers 0 to ${config.nLayer - 1} only.`
        : name === LM_HEAD ? "" : " It is not a GPT-NeoX parameter this transformer has.";
      throw weightsError(source, `unexpected tensor "${fileName}".${hint}`, {
        field: `tensor "${fileName}"`,
        fix: "load only GPT-NeoX (GPTNeoXForCausalLM) checkpoints whose config.json matches the weights.",
      });
    }
    const { layout } = neoxNameOf(name);
    const checked = checkTensor(fileName, tensor, neoxShape(expected[name], layout), source);
    out[name] = { shape: [...expected[name]], data: fromNeoXData(checked.data, expected[name], layout, config) };
  }
  const missing = Object.keys(expected).filter((name) => !Object.hasOwn(out, name));
  if (missing.length > 0) {
    const files = missing.map((name) => neoxNameOf(name).file);
    const more = files.length > 1 ? ` (and ${files.length - 1} more: ${files.slice(1, 4).join(", ")}${files.length > 4 ? ", ..." : ""})` : "";
    throw weightsError(source, `tensor "${files[0]}" is missing${more}.`, {
      field: `tensor "${files[0]}"`,
      expected: `shape ${formatShape(neoxShape(expected[missing[0]], neoxNameOf(missing[0]).layout))}`,
      fix: "make config.json describe the same architecture as the weights (vocab_size, hidden_size, num_hidden_layers, intermediate_size, tie_word_embeddings).",
    });
  }
  if (tiedHead) {
    const wte = out["wte.weight"];
    const head = checkTensor(tiedHead.fileName, tiedHead.tensor, wte.shape, source);
    const differsAt = head.data.findIndex((v, i) => v !== wte.data[i] && !(Number.isNaN(v) && Number.isNaN(wte.data[i])));
    if (differsAt >= 0) {
      throw weightsError(source, `tensor "${tiedHead.fileName}" differs from "gpt_neox.embed_in.weight" (first at element ${differsAt}), but the config ties them.`, {
        field: `tensor "${tiedHead.fileName}"`,
        expected: "an output head equal to embed_in.weight when tie_word_embeddings is true",
        fix: "set `tie_word_embeddings: false` in config.json to keep a separate output head.",
      });
    }
  }
  return out;
}

/** Our parameters of a rotary model as a GPT-NeoX state dict (see {@link toHFTensors}). */
function toNeoXTensors(params: ParameterMap, config: ModelConfig, dtype: SafetensorsWriteDtype, includeTiedHead: boolean): Record<string, SafetensorsInput> {
  const out: Record<string, SafetensorsInput> = {};
  for (const [name, { shape, data }] of Object.entries(params)) {
    const { file, layout } = neoxNameOf(name);
    out[file] = { dtype, shape: neoxShape(shape, layout), data: toNeoXData(data, shape, layout, config) };
  }
  if (config.tieWordEmbeddings && includeTiedHead) {
    const wte = params["wte.weight"];
    out["embed_out.weight"] = { dtype, shape: [...wte.shape], data: wte.data };
  }
  return out;
}
