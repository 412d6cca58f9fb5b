/**
 * The transformer's configuration: our camelCase form, and the Hugging Face GPT-2 `config.json`
 * form it is read from and written to (HF spelling only at this JSON boundary).
 */
import { z } from "zod";
import { GrpoError } from "../core/errors.js";
import { parseWith } from "../core/validation.js";

/** Architecture of a decoder-only GPT-2-style transformer. */
export interface ModelConfig {
  /** Number of tokens in the vocabulary (V). HF: `vocab_size`. */
  vocabSize: number;
  /** Context window: the most positions the model can attend over (P). HF: `n_positions`. */
  nPositions: number;
  /** Width of the residual stream (C). HF: `n_embd`. */
  nEmbd: number;
  /** Number of transformer blocks. HF: `n_layer`. */
  nLayer: number;
  /** Number of attention heads (nh); `nEmbd` must divide evenly (hs = C / nh). HF: `n_head`. */
  nHead: number;
  /** Width of the MLP's hidden layer; GPT-2 uses 4·nEmbd. HF: `n_inner` (null = 4·nEmbd). */
  nInner: number;
  /** LayerNorm epsilon. HF: `layer_norm_epsilon`. */
  layerNormEpsilon: number;
  /** True when the output head reuses the token embedding (`wte`), as GPT-2 does. HF: `tie_word_embeddings`. */
  tieWordEmbeddings: boolean;
  /** Id of the beginning-of-sequence token, if any. HF: `bos_token_id`. */
  bosTokenId?: number;
  /** Id of the end-of-sequence token, if any. HF: `eos_token_id`. */
  eosTokenId?: number;
  /**
   * How positions enter the model. `"learned"` (GPT-2, the default): a learned embedding `wpe`
   * [P, C] added to the tokens. `"rotary"` (RoPE, as in GPT-NeoX and Llama): no position embedding;
   * each head's queries and keys are rotated by their position, so attention sees relative offsets.
   * Saved in Hugging Face's GPT-NeoX layout. HF: `model_type` `gpt2` or `gpt_neox`.
   */
  positionEncoding?: "learned" | "rotary";
  /** RoPE's base wavelength (θ_j = base^(−2j/hs)); rotary only. Default 10000. HF: `rotary_emb_base`. */
  rotaryBase?: number;
  /**
   * Previous-token embedding: each position's input is `wte[id_t] + wte[id_{t−1}] · wte_prev`
   * (`wte_prev.weight` [C, C]; nothing is added at a row's first real token). It hands every layer
   * the previous token, the half of an induction circuit ("find the earlier place where the current
   * token came next, copy what followed") a small model otherwise learns last and slowly; see
   * docs/copying.md. Default false (plain GPT-2 / GPT-NeoX). Our own extension: Hugging Face's
   * classes ignore it, so such a folder computes the right function only here.
   * HF: `previous_token_embedding`.
   */
  previousTokenEmbedding?: boolean;
}

/** RoPE's base wavelength when the config does not set `rotaryBase`. */
export const DEFAULT_ROTARY_BASE = 10000;

/** The position encoding of a config, with its default. */
export function positionEncodingOf(config: ModelConfig): "learned" | "rotary" {
  return config.positionEncoding ?? "learned";
}

/** Whether a config adds the previous token's embedding to each input (default false). */
export function usesPreviousToken(config: ModelConfig): boolean {
  return config.previousTokenEmbedding === true;
}

/** The parameters of one transformer block, in order (GPT-2 names). */
const BLOCK_PARAMS = [
  "ln_1.weight", "ln_1.bias",
  "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
  "ln_2.weight", "ln_2.bias",
  "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
] as const;

/**
 * The name and shape of every parameter of the transformer for `config`, in model order: `wte`,
 * `wpe` (learned positions only), `wte_prev` (previous-token embedding only), the blocks `h.{i}.*`, `ln_f`, and `lm_head` when the head is untied.
 * Linear weights are Conv1D [in, out]; `c_attn` holds q|k|v side by side.
 */
export function parameterShapes(config: ModelConfig): Record<string, number[]> {
  const { vocabSize: V, nPositions: P, nEmbd: C, nInner } = config;
  const block: Record<(typeof BLOCK_PARAMS)[number], number[]> = {
    "ln_1.weight": [C], "ln_1.bias": [C],
    "attn.c_attn.weight": [C, 3 * C], "attn.c_attn.bias": [3 * C],
    "attn.c_proj.weight": [C, C], "attn.c_proj.bias": [C],
    "ln_2.weight": [C], "ln_2.bias": [C],
    "mlp.c_fc.weight": [C, nInner], "mlp.c_fc.bias": [nInner],
    "mlp.c_proj.weight": [nInner, C], "mlp.c_proj.bias": [C],
  };
  const shapes: Record<string, number[]> = { "wte.weight": [V, C] };
  if (positionEncodingOf(config) === "learned") shapes["wpe.weight"] = [P, C];
  if (usesPreviousToken(config)) shapes["wte_prev.weight"] = [C, C];
  for (let i = 0; i < config.nLayer; i++) {
    for (const name of BLOCK_PARAMS) shapes[`h.${i}.${name}`] = [...block[name]];
  }
  shapes["ln_f.weight"] = [C];
  shapes["ln_f.bias"] = [C];
  if (!config.tieWordEmbeddings) shapes["lm_head.weight"] = [V, C];
  return shapes;
}

const positiveInt = z.number().int().positive();

const hfConfigSchema = z
  .object({
    model_type: z.string().optional(),
    vocab_size: positiveInt,
    n_positions: positiveInt,
    n_embd: positiveInt,
    n_layer: positiveInt,
    n_head: positiveInt,
    n_inner: positiveInt.nullable().optional(),
    layer_norm_epsilon: z.number().positive().optional(),
    tie_word_embeddings: z.boolean().optional(),
    activation_function: z.string().optional(),
    previous_token_embedding: z.boolean().optional(),
    bos_token_id: z.number().int().nonnegative().nullable().optional(),
    eos_token_id: z.number().int().nonnegative().nullable().optional(),
  })
  .loose();

/** The subset of a Hugging Face GPT-2 `config.json` that we read and write. */
export type HFGPT2Config = z.input<typeof hfConfigSchema>;

/** Checks the invariants of a {@link ModelConfig}; throws a clear error naming the field. */
export function validateModelConfig(config: ModelConfig, root = "ModelConfig"): ModelConfig {
  const schema = z.object({
    vocabSize: positiveInt,
    nPositions: positiveInt,
    nEmbd: positiveInt,
    nLayer: positiveInt,
    nHead: positiveInt,
    nInner: positiveInt,
    layerNormEpsilon: z.number().positive(),
    tieWordEmbeddings: z.boolean(),
    bosTokenId: z.number().int().nonnegative().optional(),
    eosTokenId: z.number().int().nonnegative().optional(),
    positionEncoding: z.enum(["learned", "rotary"]).optional(),
    rotaryBase: z.number().positive().optional(),
    previousTokenEmbedding: z.boolean().optional(),
  });
  const parsed = parseWith(schema, config, { root, code: "invalid_model" });
  if (parsed.nEmbd % parsed.nHead !== 0) {
    throw new GrpoError("invalid_model", "The attention heads must split the embedding evenly.", {
      field: `${root}.nHead`,
      value: parsed.nHead,
      expected: `a divisor of nEmbd (${parsed.nEmbd})`,
      fix: "choose nHead so that nEmbd / nHead is an integer (e.g. nEmbd 128, nHead 4).",
    });
  }
  if (parsed.positionEncoding === "rotary" && (parsed.nEmbd / parsed.nHead) % 2 !== 0) {
    throw new GrpoError("invalid_model", "Rotary positions need an even head size.", {
      field: `${root}.nHead`,
      value: parsed.nHead,
      expected: `nEmbd / nHead even (now ${parsed.nEmbd} / ${parsed.nHead})`,
      fix: "choose nHead so that each head has an even number of channels, or use positionEncoding \"learned\".",
    });
  }
  if (parsed.rotaryBase !== undefined && parsed.positionEncoding !== "rotary") {
    throw new GrpoError("invalid_model", "rotaryBase is set but the model does not use rotary positions.", {
      field: `${root}.rotaryBase`,
      value: parsed.rotaryBase,
      fix: "set positionEncoding: \"rotary\", or drop rotaryBase.",
    });
  }
  for (const key of ["bosTokenId", "eosTokenId"] as const) {
    const id = parsed[key];
    if (id !== undefined && id >= parsed.vocabSize) {
      throw new GrpoError("invalid_model", "A special token id lies outside the vocabulary.", {
        field: `${root}.${key}`,
        value: id,
        expected: `a token id below vocabSize (${parsed.vocabSize})`,
      });
    }
  }
  return parsed;
}

/**
 * Reads a Hugging Face `config.json` object into a {@link ModelConfig}: GPT-2 (`model_type` `gpt2`
 * or absent) or GPT-NeoX (`gpt_neox`, the layout of rotary models; see {@link neoxConfigFromHF}).
 */
export function modelConfigFromHF(json: unknown, source = "config.json"): ModelConfig {
  const modelType = typeof json === "object" && json !== null ? (json as { model_type?: unknown }).model_type : undefined;
  if (modelType === "gpt_neox") return neoxConfigFromHF(json, source);
  if (modelType !== undefined && modelType !== "gpt2") {
    throw new GrpoError("invalid_model", `${source}: model_type ${JSON.stringify(modelType)} is not supported.`, {
      field: `${source}.model_type`,
      value: modelType,
      expected: '"gpt2" or "gpt_neox"',
      fix: "use a GPT-2 or GPT-NeoX (rotary, sequential residual) checkpoint.",
    });
  }
  const hf = parseWith(hfConfigSchema, json, {
    root: source,
    code: "invalid_model",
    fix: "config.json must be a Hugging Face GPT-2 config with vocab_size, n_positions, n_embd, n_layer, n_head.",
  });
  const config: ModelConfig = {
    vocabSize: hf.vocab_size,
    nPositions: hf.n_positions,
    nEmbd: hf.n_embd,
    nLayer: hf.n_layer,
    nHead: hf.n_head,
    nInner: hf.n_inner ?? 4 * hf.n_embd,
    layerNormEpsilon: hf.layer_norm_epsilon ?? 1e-5,
    tieWordEmbeddings: hf.tie_word_embeddings ?? true,
  };
  if (hf.previous_token_embedding === true) config.previousTokenEmbedding = true;
  if (hf.bos_token_id !== undefined && hf.bos_token_id !== null) config.bosTokenId = hf.bos_token_id;
  if (hf.eos_token_id !== undefined && hf.eos_token_id !== null) config.eosTokenId = hf.eos_token_id;
  return validateModelConfig(config, source);
}

/**
 * Writes a {@link ModelConfig} as a Hugging Face `config.json` object: GPT-2's for learned
 * positions, GPT-NeoX's for rotary ones (HF's `GPTNeoXForCausalLM` then loads the folder).
 */
export function modelConfigToHF(config: ModelConfig): Record<string, unknown> {
  if (positionEncodingOf(config) === "rotary") return neoxConfigToHF(config);
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.nInner === 4 * config.nEmbd ? null : config.nInner,
    activation_function: "gelu_new",
    layer_norm_epsilon: config.layerNormEpsilon,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenId ?? null,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    ...(usesPreviousToken(config) ? { previous_token_embedding: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// GPT-NeoX: the Hugging Face layout of rotary models

/** GELU names HF uses for the tanh approximation (ours); `gelu` (erf) is a different function. */
const TANH_GELU = ["gelu_new", "gelu_pytorch_tanh"];

const neoxConfigSchema = z
  .object({
    model_type: z.literal("gpt_neox"),
    vocab_size: positiveInt,
    hidden_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    intermediate_size: positiveInt.optional(),
    max_position_embeddings: positiveInt,
    layer_norm_eps: z.number().positive().optional(),
    // HF's defaults differ from what this transformer computes; absent means HF's default.
    rotary_pct: z.number().optional(),
    rotary_emb_base: z.number().positive().optional(),
    rope_theta: z.number().positive().optional(),
    use_parallel_residual: z.boolean().optional(),
    hidden_act: z.string().optional(),
    attention_bias: z.boolean().optional(),
    previous_token_embedding: z.boolean().optional(),
    tie_word_embeddings: z.boolean().optional(),
    bos_token_id: z.number().int().nonnegative().nullable().optional(),
    eos_token_id: z.number().int().nonnegative().nullable().optional(),
  })
  .loose();

/**
 * Reads a Hugging Face GPT-NeoX `config.json`. Supported: full rotary heads (`rotary_pct` 1),
 * sequential residuals (`use_parallel_residual` false), tanh GELU, biased attention. Anything
 * else (HF's defaults for the first three included) is a clear error naming the field.
 */
export function neoxConfigFromHF(json: unknown, source = "config.json"): ModelConfig {
  const hf = parseWith(neoxConfigSchema, json, {
    root: source,
    code: "invalid_model",
    fix: "config.json must be a Hugging Face GPT-NeoX config with vocab_size, hidden_size, num_hidden_layers, num_attention_heads, max_position_embeddings.",
  });
  const unsupported = (field: string, value: unknown, expected: string) =>
    new GrpoError("invalid_model", `${source}: this GPT-NeoX variant is not supported.`, {
      field: `${source}.${field}`,
      value,
      expected,
      fix: "supported GPT-NeoX models rotate whole heads, add attention then MLP in sequence, and use the tanh GELU (as saveModelFolder writes them).",
    });
  const rotaryPct = hf.rotary_pct ?? 0.25;
  if (rotaryPct !== 1) throw unsupported("rotary_pct", rotaryPct, "1 (every channel of a head rotated)");
  const parallel = hf.use_parallel_residual ?? true;
  if (parallel) throw unsupported("use_parallel_residual", parallel, "false");
  const act = hf.hidden_act ?? "gelu";
  if (!TANH_GELU.includes(act)) throw unsupported("hidden_act", act, TANH_GELU.map((a) => `"${a}"`).join(" or "));
  if (hf.attention_bias === false) throw unsupported("attention_bias", false, "true");
  const config: ModelConfig = {
    vocabSize: hf.vocab_size,
    nPositions: hf.max_position_embeddings,
    nEmbd: hf.hidden_size,
    nLayer: hf.num_hidden_layers,
    nHead: hf.num_attention_heads,
    nInner: hf.intermediate_size ?? 4 * hf.hidden_size,
    layerNormEpsilon: hf.layer_norm_eps ?? 1e-5,
    tieWordEmbeddings: hf.tie_word_embeddings ?? false,
    positionEncoding: "rotary",
    rotaryBase: hf.rotary_emb_base ?? hf.rope_theta ?? DEFAULT_ROTARY_BASE,
  };
  if (hf.previous_token_embedding === true) config.previousTokenEmbedding = true;
  if (hf.bos_token_id !== undefined && hf.bos_token_id !== null) config.bosTokenId = hf.bos_token_id;
  if (hf.eos_token_id !== undefined && hf.eos_token_id !== null) config.eosTokenId = hf.eos_token_id;
  return validateModelConfig(config, source);
}

/** Writes a rotary {@link ModelConfig} as a Hugging Face GPT-NeoX `config.json` object. */
export function neoxConfigToHF(config: ModelConfig): Record<string, unknown> {
  const base = config.rotaryBase ?? DEFAULT_ROTARY_BASE;
  return {
    architectures: ["GPTNeoXForCausalLM"],
    model_type: "gpt_neox",
    vocab_size: config.vocabSize,
    hidden_size: config.nEmbd,
    num_hidden_layers: config.nLayer,
    num_attention_heads: config.nHead,
    intermediate_size: config.nInner,
    hidden_act: "gelu_new",
    rotary_pct: 1.0,
    rotary_emb_base: base,
    rope_theta: base,
    max_position_embeddings: config.nPositions,
    layer_norm_eps: config.layerNormEpsilon,
    use_parallel_residual: false,
    attention_bias: true,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenId ?? null,
    attention_dropout: 0,
    hidden_dropout: 0,
    ...(usesPreviousToken(config) ? { previous_token_embedding: true } : {}),
  };
}
