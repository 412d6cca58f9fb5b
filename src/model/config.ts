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

/** Reads a Hugging Face GPT-2 `config.json` object into a {@link ModelConfig}. */
export function modelConfigFromHF(json: unknown, source = "config.json"): ModelConfig {
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
  if (hf.bos_token_id !== undefined && hf.bos_token_id !== null) config.bosTokenId = hf.bos_token_id;
  if (hf.eos_token_id !== undefined && hf.eos_token_id !== null) config.eosTokenId = hf.eos_token_id;
  return validateModelConfig(config, source);
}

/** Writes a {@link ModelConfig} as a Hugging Face GPT-2 `config.json` object. */
export function modelConfigToHF(config: ModelConfig): Record<string, unknown> {
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
  };
}
