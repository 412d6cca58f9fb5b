/**
 * The tokenizer: Hugging Face `tokenizer.json` files (byte-level BPE, as GPT-2, Qwen and Llama 3 use)
 * plus the chat template from `tokenizer_config.json`.
 *
 * Two libraries do the format work: `@huggingface/tokenizers` encodes and decodes (it matches the
 * Rust tokenizers' ids), `@huggingface/jinja` renders chat templates (byte-identical to Python's
 * jinja2 on ChatML and tool templates). This file adds what training needs on top of them:
 *
 * - exact round trips: `decode(encode(s)) === s` for every well-formed string (no normalizer, no
 *   "clean up tokenization spaces");
 * - safety: text never turns into a special token unless the caller allows it, so a user who types
 *   `<|im_end|>` cannot end the assistant's turn (see {@link ChatTokenizer.encode});
 * - streaming: {@link ChatTokenizer.decodeStable} gives the text that cannot change when more tokens
 *   arrive, for stop-string checks during generation;
 * - errors that name the file, the field and the fix.
 */
import { readFile, stat, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { z } from "zod";
import { GrpoError } from "../core/errors.js";
import { parseWith } from "../core/validation.js";
import type { ChatMessage, ToolSchema } from "../core/policy.js";

// ---------------------------------------------------------------------------------------------
// The Hugging Face JSON formats (HF spelling: this is the file boundary)

/** One entry of `tokenizer.json`'s `added_tokens` list. */
export interface HFAddedToken {
  /** The token id. */
  id: number;
  /** The token text, e.g. `<|im_end|>`. */
  content: string;
  /** Match only as a whole word (default false). */
  single_word?: boolean;
  /** Swallow whitespace to the token's left when matching (default false). */
  lstrip?: boolean;
  /** Swallow whitespace to the token's right when matching (default false). */
  rstrip?: boolean;
  /** Match against normalized text (default false for special tokens). */
  normalized?: boolean;
  /** A control token (EOS, turn markers): skippable when decoding, never produced from plain text. */
  special?: boolean;
}

/** The `model` section of a BPE `tokenizer.json`. */
export interface HFBPEModel {
  /** Always `"BPE"` (the only model type this library supports). */
  type: "BPE";
  /** Token string (byte-level alphabet) -> id. */
  vocab: Record<string, number>;
  /** Merge rules in priority order: `"a b"` strings (classic form) or `["a", "b"]` pairs. */
  merges: Array<string | [string, string]>;
  /** Other model fields (`dropout`, `unk_token`, `byte_fallback`, …) as HF writes them. */
  [key: string]: unknown;
}

/** A Hugging Face `tokenizer.json` (the "fast tokenizer" file). */
export interface HFTokenizerJSON {
  /** File format version (`"1.0"`). */
  version?: string;
  /** Tokens matched in text before BPE (special ones are never produced from untrusted text here). */
  added_tokens?: HFAddedToken[];
  /** Text normalisation before splitting (null for exact round trips). */
  normalizer?: Record<string, unknown> | null;
  /** How text is split into words before BPE (`{ type: "ByteLevel", … }` for GPT-2-style tokenizers). */
  pre_tokenizer?: Record<string, unknown> | null;
  /** Tokens added around an encoded sequence (applied only with `addSpecialTokens`). */
  post_processor?: Record<string, unknown> | null;
  /** How tokens become text again (`{ type: "ByteLevel" }` for byte-level BPE). */
  decoder?: Record<string, unknown> | null;
  /** The BPE vocabulary and merges. */
  model: HFBPEModel;
  /** Other sections (`truncation`, `padding`) are kept as they are. */
  [key: string]: unknown;
}

/** A named chat template, the list form of `tokenizer_config.json`'s `chat_template`. */
export interface HFNamedChatTemplate {
  /** `default`, or `tool_use` (chosen when tools are passed). */
  name: string;
  /** The Jinja source. */
  template: string;
}

/** A special token in `tokenizer_config.json`: a string, or HF's serialised AddedToken object. */
export type HFTokenValue = string | { content: string; [key: string]: unknown };

/** The fields of a Hugging Face `tokenizer_config.json` that this library reads. */
export interface HFTokenizerConfig {
  /** The chat template: one Jinja string, or a list of named templates (`default`, `tool_use`). */
  chat_template?: string | HFNamedChatTemplate[];
  /** The end-of-sequence token; generation stops when it is sampled. Required. */
  eos_token?: HFTokenValue | null;
  /** The padding token (defaults to the EOS token when absent). */
  pad_token?: HFTokenValue | null;
  /** The beginning-of-sequence token, if the model uses one. */
  bos_token?: HFTokenValue | null;
  /** The unknown token, if any (byte-level BPE needs none). */
  unk_token?: HFTokenValue | null;
  /** Ignored when decoding: this library always decodes exactly (see {@link ChatTokenizer.decode}). */
  clean_up_tokenization_spaces?: boolean;
  /** Extra tokens treated as special (skipped by `skipSpecialTokens`). */
  additional_special_tokens?: HFTokenValue[];
  /** The longest input the model accepts, in tokens. */
  model_max_length?: number;
  /** Other fields (`tokenizer_class`, `added_tokens_decoder`, …) are kept as they are. */
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Byte-level alphabet (GPT-2): every byte gets a printable character so that BPE works on strings

/**
 * GPT-2's byte -> character table (index = byte value). Printable Latin-1 bytes map to themselves;
 * the other 68 bytes (controls, space, …) map to U+0100 onwards in byte order, so that every
 * token string is printable and contains no whitespace (space becomes `Ġ`, newline `Ċ`).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const isPrintable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(isPrintable(b) ? b : next++);
  return table;
})();

/** The inverse of {@link BYTE_TO_CHAR}: byte-level character -> byte value. */
const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/**
 * GPT-2's pre-tokenizer split pattern (the one `@huggingface/tokenizers`' ByteLevel pre-tokenizer
 * applies, used with the `u` flag): English contractions, letter runs, digit runs and punctuation
 * runs each with one optional leading space, then whitespace runs. BPE merges never cross a split.
 */
export const GPT2_SPLIT_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// ---------------------------------------------------------------------------------------------
// Validation of the files

const addedTokenSchema = z
  .object({
    id: z.number().int().nonnegative(),
    content: z.string().min(1),
    single_word: z.boolean().optional(),
    lstrip: z.boolean().optional(),
    rstrip: z.boolean().optional(),
    normalized: z.boolean().optional(),
    special: z.boolean().optional(),
  })
  .loose();

const componentSchema = z.record(z.string(), z.unknown()).nullable().optional();

const tokenizerJsonSchema = z
  .object({
    added_tokens: z.array(addedTokenSchema).optional(),
    normalizer: componentSchema,
    pre_tokenizer: componentSchema,
    post_processor: componentSchema,
    decoder: componentSchema,
    model: z
      .object({
        type: z.string().optional(),
        vocab: z.record(z.string(), z.number().int().nonnegative()),
        merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])),
      })
      .loose(),
  })
  .loose();

const tokenValueSchema = z.union([z.string(), z.object({ content: z.string() }).loose()]);

const tokenizerConfigSchema = z
  .object({
    chat_template: z
      .union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }).loose())])
      .nullable()
      .optional(),
    eos_token: tokenValueSchema.nullable().optional(),
    pad_token: tokenValueSchema.nullable().optional(),
    bos_token: tokenValueSchema.nullable().optional(),
    unk_token: tokenValueSchema.nullable().optional(),
    additional_special_tokens: z.array(tokenValueSchema).optional(),
  })
  .loose();

const chatMessagesSchema = z.array(
  z
    .object({
      role: z.enum(["system", "user", "assistant", "tool"]),
      content: z.string(),
      toolCalls: z
        .array(z.object({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()) }).loose())
        .optional(),
      name: z.string().optional(),
    })
    .loose(),
);

const toolSchemasSchema = z
  .array(
    z
      .object({ name: z.string().min(1), description: z.string(), parameters: z.record(z.string(), z.unknown()) })
      .loose(),
  )
  .optional();

function invalid(summary: string, details: ConstructorParameters<typeof GrpoError>[2]): GrpoError {
  return new GrpoError("invalid_tokenizer", summary, details);
}

/** The token text of a config entry (`"<|im_end|>"` or `{ content: "<|im_end|>", … }`). */
function tokenText(value: HFTokenValue | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.content;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Where the files came from, for error messages. */
interface Sources {
  tokenizerFile: string;
  configFile: string;
  /** The file the chat template came from (`…/chat_template.jinja` or the config file). */
  templateFile: string;
}

/** Rejects non-BPE models up front (their vocab has another shape, so schema errors would mislead). */
function checkModelType(tokenizerJson: unknown, file: string): void {
  const model = (tokenizerJson as { model?: unknown } | null)?.model;
  const modelType = (model as { type?: unknown } | null | undefined)?.type;
  if (modelType !== undefined && modelType !== "BPE") {
    throw invalid(`${file} uses an unsupported tokenizer model: only BPE is supported.`, {
      field: `${file}.model.type`,
      value: modelType,
      expected: '"BPE" (byte-level BPE as in GPT-2, Qwen, Llama 3; WordPiece and Unigram are not supported)',
      fix: "use a byte-level BPE tokenizer, or train one with `trainBPE()`.",
    });
  }
}

/**
 * Checks what `@huggingface/tokenizers` does not: the model is BPE, merges only use tokens in the
 * vocab, ids are unique and dense, byte-level vocabularies hold all 256 bytes. Returns vocabSize.
 */
function checkConsistency(json: z.output<typeof tokenizerJsonSchema>, file: string): number {
  const vocab = json.model.vocab;
  const tokenOfId = new Map<number, string>();
  for (const [token, id] of Object.entries(vocab)) {
    const other = tokenOfId.get(id);
    if (other !== undefined) {
      throw invalid(`${file} gives two vocabulary entries the same id.`, {
        field: `${file}.model.vocab`,
        value: { [other]: id, [token]: id },
        expected: "one token per id",
        fix: "regenerate the tokenizer; ids in model.vocab must be unique.",
      });
    }
    tokenOfId.set(id, token);
  }
  for (const [i, added] of (json.added_tokens ?? []).entries()) {
    const inVocab = tokenOfId.get(added.id);
    if (inVocab !== undefined && inVocab !== added.content) {
      throw invalid(`${file}: an added token reuses the id of a different vocabulary token.`, {
        field: `${file}.added_tokens[${i}]`,
        value: { id: added.id, content: added.content, vocabToken: inVocab },
        expected: "an id that is unused in model.vocab or maps to the same text",
        fix: "give the added token a new id (the next free one after the vocabulary).",
      });
    }
    const vocabId = vocab[added.content];
    if (Object.hasOwn(vocab, added.content) && vocabId !== added.id) {
      throw invalid(`${file}: an added token has a different id in model.vocab.`, {
        field: `${file}.added_tokens[${i}].id`,
        value: added.id,
        expected: `the id model.vocab gives ${JSON.stringify(added.content)} (${vocabId})`,
      });
    }
    tokenOfId.set(added.id, added.content);
  }
  let vocabSize = 0;
  for (const id of tokenOfId.keys()) vocabSize = Math.max(vocabSize, id + 1);
  if (vocabSize === 0) {
    throw invalid(`${file} has an empty vocabulary.`, { field: `${file}.model.vocab`, value: {} });
  }
  if (tokenOfId.size !== vocabSize) {
    let missing = 0;
    while (tokenOfId.has(missing)) missing++;
    throw invalid(`${file}: the token ids have a gap, so some ids decode to nothing.`, {
      field: `${file}.model.vocab`,
      value: `no token has id ${missing} (ids run up to ${vocabSize - 1})`,
      expected: "every id from 0 to vocabSize-1 used by model.vocab or added_tokens",
      fix: "regenerate the tokenizer so that its ids are dense.",
    });
  }
  for (const [i, merge] of json.model.merges.entries()) {
    const parts = typeof merge === "string" ? merge.split(" ") : merge;
    const merged = parts.join("");
    const unknown = parts.length !== 2 ? undefined : [parts[0], parts[1], merged].find((t) => !Object.hasOwn(vocab, t));
    if (parts.length !== 2 || unknown !== undefined) {
      throw invalid(`${file}: model.merges and model.vocab do not match.`, {
        field: `${file}.model.merges[${i}]`,
        value: merge,
        expected:
          parts.length !== 2
            ? 'a pair of tokens, "a b" or ["a", "b"]'
            : `a merge whose parts and result are in model.vocab (${JSON.stringify(unknown)} is not)`,
        fix: "use the vocab and merges of the same training run (regenerate tokenizer.json).",
      });
    }
  }
  if (isByteLevel(json.pre_tokenizer)) {
    for (let b = 0; b < 256; b++) {
      if (!Object.hasOwn(vocab, BYTE_TO_CHAR[b])) {
        throw invalid(`${file}: a byte-level vocabulary lacks a byte, so some texts cannot be encoded.`, {
          field: `${file}.model.vocab`,
          value: `no entry for ${JSON.stringify(BYTE_TO_CHAR[b])} (byte 0x${b.toString(16).padStart(2, "0")})`,
          expected: "all 256 byte symbols in model.vocab",
          fix: "regenerate the tokenizer with `trainBPE()`, which always includes every byte.",
        });
      }
    }
  }
  return vocabSize;
}

function isByteLevel(component: Record<string, unknown> | null | undefined): boolean {
  if (!component) return false;
  if (component.type === "ByteLevel") return true;
  const children = component.pretokenizers ?? component.decoders;
  return Array.isArray(children) && children.some((c) => isByteLevel(c as Record<string, unknown>));
}

// ---------------------------------------------------------------------------------------------
// Streaming decode

/**
 * Decodes tokens as they are sampled. `push` returns only text that later tokens cannot change:
 * when a token ends inside a multi-byte UTF-8 character, those bytes wait for the next token.
 */
export interface StreamDecoder {
  /** Adds sampled token ids; returns the newly stable text (possibly empty). */
  push(ids: number | readonly number[]): string;
  /** Ends the stream: returns the held-back text (an incomplete character becomes U+FFFD). */
  end(): string;
  /** All stable text so far (the concatenation of what `push` returned). */
  readonly text: string;
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

/** Options of {@link ChatTokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Apply the tokenizer's post-processor (e.g. a BOS token for Llama-style tokenizers; a no-op for
   * byte-level GPT-2/ChatML tokenizers). Default false: chat templates add their own markers.
   */
  addSpecialTokens?: boolean;
  /**
   * Let literal special-token text (e.g. `"<|im_end|>"`) become the special token. Default false:
   * such text is encoded as ordinary bytes, so user content can never inject control tokens.
   * Set true for text that you built yourself (a rendered template, a pretraining document).
   */
  allowSpecialTokens?: boolean;
}

/** Options of {@link ChatTokenizer.decode} and {@link ChatTokenizer.decodeStable}. */
export interface DecodeOptions {
  /** Drop special tokens (EOS, `<|im_start|>`, …) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** Text sections whose ids a tokenizer keeps (see `sectionCache`): a few long conversations' worth. */
const SECTION_CACHE_SIZE = 4096;

/** Options of {@link ChatTokenizer.applyChatTemplate} and {@link ChatTokenizer.encodeChat}. */
export interface ChatTemplateOptions {
  /** Append the assistant turn opener (`<|im_start|>assistant\n` in ChatML). Default false. */
  addGenerationPrompt?: boolean;
  /** Tools to advertise; passed to the template as HF's `[{type: "function", function: …}]`. */
  tools?: ToolSchema[];
}

/** The two files of a saved tokenizer, as JSON objects. */
export interface TokenizerFiles {
  "tokenizer.json": HFTokenizerJSON;
  "tokenizer_config.json": HFTokenizerConfig;
}

interface Section {
  text: string;
  /** The id when this section is one special token. */
  specialId?: number;
}

/**
 * A byte-level BPE tokenizer with a chat template, loaded from Hugging Face files.
 *
 * ```ts
 * const tok = await ChatTokenizer.fromFolder("models/tiny-chat");
 * const ids = tok.encodeChat([{ role: "user", content: "Hi!" }], { addGenerationPrompt: true });
 * tok.decode(ids); // "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
 * ```
 */
export class ChatTokenizer {
  /** Number of token ids (largest id + 1, added tokens included): the model's `vocab_size`. */
  readonly vocabSize: number;
  /** Id of the end-of-sequence token (`eos_token` of tokenizer_config.json). */
  readonly eosTokenId: number;
  /** Id of the padding token (`pad_token`; the EOS id when the config has none). */
  readonly padTokenId: number;
  /** Id of the beginning-of-sequence token (`bos_token`), undefined when the model uses none. */
  readonly bosTokenId: number | undefined;
  /** Ids of the special tokens (added tokens marked special, plus `additional_special_tokens`), ascending. */
  readonly specialTokenIds: readonly number[];
  /** The Jinja chat template in use for messages without tools, undefined when the files have none. */
  readonly chatTemplate: string | undefined;

  private readonly tokenizerJson: HFTokenizerJSON;
  private readonly tokenizerConfig: HFTokenizerConfig;
  private readonly sources: Sources;
  /** Knows every added token: decodes, maps ids, applies the post-processor. */
  private readonly full: Tokenizer;
  /** The same tokenizer without the special added tokens: encodes text in which nothing is special. */
  private readonly plain: Tokenizer;
  /** Special added tokens, for splitting text in which they are allowed. */
  private readonly splitTokens: ReadonlyMap<string, HFAddedToken>;
  private readonly splitPattern: RegExp | null;
  private readonly specialIdSet: ReadonlySet<number>;
  /** Every added token's text by id (ByteLevel decoding emits them verbatim). */
  private readonly addedTextById: ReadonlyMap<number, string>;
  private readonly byteLevelDecoder: boolean;
  private readonly templates: ReadonlyMap<string, Template>;
  private readonly templateSources: readonly string[];
  private readonly tokenBytesCache = new Map<number, Uint8Array>();
  /**
   * Ids of recently encoded text sections (least recently used dropped past SECTION_CACHE_SIZE). A
   * conversation is re-encoded every turn, and its earlier messages (and the system prompt of every
   * episode) are the same sections again: BPE was ~40 % of `encodeChat` (measured: 0.22 of 0.74 ms
   * per 4-message chat), which runs on the coordinating thread between sampling batches.
   */
  private readonly sectionCache = new Map<string, number[]>();

  private constructor(tokenizerJson: unknown, tokenizerConfig: unknown, sources: Sources) {
    const file = sources.tokenizerFile;
    checkModelType(tokenizerJson, file);
    const json = parseWith(tokenizerJsonSchema, tokenizerJson, {
      root: file,
      code: "invalid_tokenizer",
      fix: `${file} must be a Hugging Face tokenizer.json with a BPE model (model.vocab and model.merges).`,
    });
    const config = parseWith(tokenizerConfigSchema, tokenizerConfig, {
      root: sources.configFile,
      code: "invalid_tokenizer",
      fix: `${sources.configFile} must be a Hugging Face tokenizer_config.json object (eos_token, chat_template, …).`,
    });
    this.vocabSize = checkConsistency(json, file);
    this.sources = sources;
    this.tokenizerJson = structuredClone(tokenizerJson as HFTokenizerJSON);
    this.tokenizerConfig = structuredClone(tokenizerConfig as HFTokenizerConfig);

    // @huggingface/tokenizers wants every component key present (null when unused) and decodes
    // exactly only without the "clean up spaces" pass.
    const libJson = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...json,
      model: { ...json.model, type: "BPE" },
      added_tokens: json.added_tokens ?? [],
    };
    const libConfig = { ...config, clean_up_tokenization_spaces: false };
    const specialAdded = libJson.added_tokens.filter((t) => t.special === true);
    try {
      this.full = new Tokenizer(libJson, libConfig);
      const nonSpecial = libJson.added_tokens.filter((t) => t.special !== true);
      this.plain = new Tokenizer({ ...libJson, added_tokens: nonSpecial }, libConfig);
    } catch (error) {
      throw invalid(`${file} could not be loaded.`, {
        field: file,
        expected: "a tokenizer.json that @huggingface/tokenizers understands",
        fix: `check the named component of ${file}: ${(error as Error).message}`,
        cause: error,
      });
    }

    this.splitTokens = new Map(specialAdded.map((t) => [t.content, t]));
    const byLength = [...this.splitTokens.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    // Longest first: at one position the regex takes the first alternative that matches.
    this.splitPattern = byLength.length > 0 ? new RegExp(byLength.map(escapeRegExp).join("|"), "g") : null;
    this.addedTextById = new Map(libJson.added_tokens.map((t) => [t.id, t.content]));
    this.byteLevelDecoder = json.decoder?.type === "ByteLevel";

    const specialIds = new Set(specialAdded.map((t) => t.id));
    for (const extra of config.additional_special_tokens ?? []) {
      const id = this.full.token_to_id(tokenText(extra) ?? "");
      if (id !== undefined) specialIds.add(id);
    }
    this.specialIdSet = specialIds;
    this.specialTokenIds = [...specialIds].sort((a, b) => a - b);

    const eos = tokenText(config.eos_token);
    if (eos === undefined) {
      throw invalid(`${sources.configFile} names no end-of-sequence token.`, {
        field: `${sources.configFile}.eos_token`,
        value: config.eos_token,
        expected: 'the text of a token in the vocabulary, e.g. "<|im_end|>"',
        fix: `add "eos_token" to ${sources.configFile}; generation stops when the model samples it.`,
      });
    }
    this.eosTokenId = this.requireTokenId(eos, "eos_token");
    const pad = tokenText(config.pad_token);
    this.padTokenId = pad === undefined ? this.eosTokenId : this.requireTokenId(pad, "pad_token");
    const bos = tokenText(config.bos_token);
    this.bosTokenId = bos === undefined ? undefined : this.requireTokenId(bos, "bos_token");

    const templates = new Map<string, Template>();
    const source = config.chat_template;
    const named: HFNamedChatTemplate[] =
      source === undefined || source === null
        ? []
        : typeof source === "string"
          ? [{ name: "default", template: source }]
          : source;
    for (const [i, entry] of named.entries()) {
      try {
        templates.set(entry.name, new Template(entry.template));
      } catch (error) {
        const where = typeof source === "string" ? sources.templateFile : `${sources.configFile}.chat_template[${i}]`;
        throw invalid(`The chat template in ${where} has a syntax error.`, {
          field: where,
          value: entry.template,
          expected: "a Jinja template",
          fix: `fix the template: ${(error as Error).message}`,
          cause: error,
        });
      }
    }
    this.templates = templates;
    this.templateSources = named.map((t) => t.template);
    this.chatTemplate = named.find((t) => t.name === "default")?.template;
  }

  private requireTokenId(token: string, key: string): number {
    const id = this.full.token_to_id(token);
    if (id === undefined) {
      throw invalid(`The ${key} of ${this.sources.configFile} is not in the vocabulary.`, {
        field: `${this.sources.configFile}.${key}`,
        value: token,
        expected: `a token of ${this.sources.tokenizerFile} (model.vocab or added_tokens)`,
        fix: `set ${key} to an existing token, or add ${JSON.stringify(token)} to added_tokens with "special": true.`,
      });
    }
    return id;
  }

  /**
   * Builds a tokenizer from the parsed contents of `tokenizer.json` and `tokenizer_config.json`.
   * Throws a `GrpoError` ("invalid_tokenizer") naming the field when either is malformed.
   */
  static fromJSON(tokenizerJson: object, tokenizerConfig: object): ChatTokenizer {
    return new ChatTokenizer(tokenizerJson, tokenizerConfig, {
      tokenizerFile: "tokenizer.json",
      configFile: "tokenizer_config.json",
      templateFile: "tokenizer_config.json.chat_template",
    });
  }

  /**
   * Loads a Hugging Face tokenizer folder: `tokenizer.json` and `tokenizer_config.json` (both
   * required), and `chat_template.jinja` when present (newer HF folders keep the template there; it
   * takes precedence over `chat_template` in the config, as in transformers).
   */
  static async fromFolder(dir: string): Promise<ChatTokenizer> {
    const info = await stat(dir).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) {
      throw invalid(info === undefined ? "The tokenizer folder does not exist." : "The path is not a folder.", {
        field: "dir",
        value: dir,
        expected: "a folder holding tokenizer.json and tokenizer_config.json",
        fix: "pass the folder of a Hugging Face model (or one written by `tokenizer.save(dir)`).",
      });
    }
    const tokenizerFile = join(dir, "tokenizer.json");
    const configFile = join(dir, "tokenizer_config.json");
    const templatePath = join(dir, "chat_template.jinja");
    const hasSlowFiles = (await stat(join(dir, "vocab.json")).catch(() => undefined)) !== undefined;
    const tokenizerJson = await readJsonFile(
      tokenizerFile,
      hasSlowFiles
        ? "only the fast-tokenizer file is supported (vocab.json + merges.txt alone are not): save the " +
            "tokenizer with a recent `transformers` (`tokenizer.save_pretrained`), which writes tokenizer.json."
        : "add the model's tokenizer.json (the Hugging Face fast-tokenizer file) to the folder.",
    );
    const tokenizerConfig = await readJsonFile(
      configFile,
      'add a tokenizer_config.json, at least {"eos_token": "<eos text>"} (see `builtinTokenizerConfig()`).',
    );
    const template = await readFile(templatePath, "utf8").catch(() => undefined);
    if (template !== undefined && tokenizerConfig !== null && typeof tokenizerConfig === "object") {
      (tokenizerConfig as Record<string, unknown>).chat_template = template;
    }
    return new ChatTokenizer(tokenizerJson, tokenizerConfig, {
      tokenizerFile,
      configFile,
      templateFile: template !== undefined ? templatePath : `${configFile}.chat_template`,
    });
  }

  /** Token text (byte-level alphabet, e.g. `Ġhello`) -> id; undefined when not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.full.token_to_id(token);
  }

  /** Id -> token text (byte-level alphabet); undefined outside `[0, vocabSize)`. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.full.id_to_token(id) : undefined;
  }

  /** The special tokens' texts, in id order (`<|endoftext|>`, `<|im_start|>`, `<|im_end|>` for the built-in model). */
  get specialTokens(): string[] {
    return this.specialTokenIds.map((id) => this.full.id_to_token(id) ?? "");
  }

  /**
   * Text -> token ids. `decode(encode(s)) === s` for every string without unpaired surrogates
   * (those are not Unicode text; UTF-8 has no bytes for them and they come back as U+FFFD).
   *
   * Literal special-token text such as `"<|im_end|>"` inside `text` is encoded as ordinary bytes
   * (`<|`, `im`, `_`, …) unless `allowSpecialTokens` is true: untrusted text can never end a
   * turn or open a new one.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") {
      throw new GrpoError("invalid_argument", "Only strings can be encoded.", {
        field: "text",
        value: text,
        expected: "a string",
      });
    }
    const sections = options.allowSpecialTokens ? this.splitOnSpecialTokens(text) : [{ text }];
    return this.encodeSections(sections, options.addSpecialTokens ?? false, (s) => s);
  }

  /** Splits text at special-token texts (longest match first), honouring their lstrip/rstrip flags. */
  private splitOnSpecialTokens(text: string): Section[] {
    if (this.splitPattern === null) return [{ text }];
    const sections: Section[] = [];
    let start = 0;
    for (const match of text.matchAll(this.splitPattern)) {
      const token = this.splitTokens.get(match[0]);
      if (token === undefined) continue;
      const at = match.index as number; // always set for matchAll results
      sections.push({ text: text.slice(start, at) }, { text: match[0], specialId: token.id });
      start = at + match[0].length;
    }
    sections.push({ text: text.slice(start) });
    sections.forEach((section, i) => {
      const token = section.specialId === undefined ? undefined : this.splitTokens.get(section.text);
      if (token?.lstrip && i > 0) sections[i - 1].text = sections[i - 1].text.trimEnd();
      if (token?.rstrip && i + 1 < sections.length) sections[i + 1].text = sections[i + 1].text.trimStart();
    });
    return sections;
  }

  private encodeSections(sections: Section[], addSpecialTokens: boolean, unmask: (text: string) => string): number[] {
    const ids: number[] = [];
    for (const section of sections) {
      if (section.specialId !== undefined) {
        ids.push(section.specialId);
        continue;
      }
      if (section.text.length === 0) continue;
      const text = unmask(section.text);
      const cached = this.sectionCache.get(text);
      if (cached !== undefined) {
        this.sectionCache.delete(text); // refresh its recency
        this.sectionCache.set(text, cached);
        for (const id of cached) ids.push(id);
        continue;
      }
      const encoded = this.plain.encode(text, { add_special_tokens: false }).ids;
      for (const [i, id] of encoded.entries()) {
        if (id === undefined) {
          throw new GrpoError("invalid_argument", "The tokenizer cannot represent part of this text.", {
            field: "text",
            value: this.plain.encode(text, { add_special_tokens: false }).tokens[i],
            expected: "text made of characters in the vocabulary",
            fix: "use a byte-level BPE tokenizer (every byte is in its vocabulary), or remove the character.",
          });
        }
        ids.push(id);
      }
      this.sectionCache.set(text, encoded as number[]);
      if (this.sectionCache.size > SECTION_CACHE_SIZE) this.sectionCache.delete(this.sectionCache.keys().next().value as string);
    }
    const post = this.full.post_processor;
    if (!addSpecialTokens || post === null) return ids;
    const tokens = post(ids.map((id) => this.full.id_to_token(id) ?? ""), null, true).tokens;
    return tokens.map((token) => {
      const id = this.full.token_to_id(token);
      if (id === undefined) {
        const summary = `The post-processor of ${this.sources.tokenizerFile} adds a token outside the vocabulary.`;
        throw invalid(summary, {
          field: `${this.sources.tokenizerFile}.post_processor`,
          value: token,
          fix: "add the token to added_tokens, or encode with addSpecialTokens: false.",
        });
      }
      return id;
    });
  }

  private checkIds(ids: readonly number[]): void {
    if (!Array.isArray(ids)) {
      throw new GrpoError("invalid_argument", "Token ids must be an array.", {
        field: "ids",
        value: ids,
        expected: "number[]",
      });
    }
    for (const [i, id] of ids.entries()) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new GrpoError("invalid_argument", "A token id lies outside the vocabulary.", {
          field: `ids[${i}]`,
          value: id,
          expected: `an integer in [0, ${this.vocabSize})`,
          fix: "decode ids produced by this tokenizer (a model with a larger vocabulary needs its own tokenizer).",
        });
      }
    }
  }

  /**
   * Token ids -> text, exactly: no whitespace clean-up (the config's `clean_up_tokenization_spaces`
   * is ignored, because it breaks round trips). Special tokens appear as their text unless
   * `skipSpecialTokens`. Bytes that do not form UTF-8 (a prefix ending mid-character) become U+FFFD.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    this.checkIds(ids);
    if (ids.length === 0) return "";
    return this.full.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** The UTF-8 bytes a token contributes to the decoded text (byte-level decoders only). */
  private tokenBytes(id: number): Uint8Array {
    let bytes = this.tokenBytesCache.get(id);
    if (bytes === undefined) {
      const added = this.addedTextById.get(id);
      if (added !== undefined) bytes = new TextEncoder().encode(added);
      else bytes = Uint8Array.from(this.full.id_to_token(id) ?? "", (c) => CHAR_TO_BYTE.get(c) ?? 0);
      this.tokenBytesCache.set(id, bytes);
    }
    return bytes;
  }

  /**
   * The longest prefix of `decode(ids)` that no further token can change: a trailing incomplete
   * UTF-8 character (which `decode` shows as U+FFFD) is left out until the tokens completing it
   * arrive. So `decodeStable(ids)` is always a prefix of `decode([...ids, ...more])`, and equals
   * `decode(ids)` whenever the ids end on a character boundary. Use it to look for stop strings.
   * Exact for byte-level tokenizers; for others it is `decode(ids)` minus trailing U+FFFD.
   */
  decodeStable(ids: readonly number[], options: DecodeOptions = {}): string {
    const stream = this.createStreamDecoder(options);
    stream.push(ids);
    return stream.text;
  }

  /**
   * A {@link StreamDecoder}: pushes cost O(new bytes), so a generator can check stop strings after
   * every sampled token without re-decoding the whole completion.
   */
  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const skip = options.skipSpecialTokens ?? false;
    if (!this.byteLevelDecoder) return this.fallbackStreamDecoder(skip);
    const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    let text = "";
    return {
      push: (ids) => {
        const list = typeof ids === "number" ? [ids] : ids;
        this.checkIds(list);
        let delta = "";
        for (const id of list) {
          if (skip && this.specialIdSet.has(id)) continue;
          delta += utf8.decode(this.tokenBytes(id), { stream: true });
        }
        text += delta;
        return delta;
      },
      end: () => {
        const rest = utf8.decode();
        text += rest;
        return rest;
      },
      get text() {
        return text;
      },
    };
  }

  private fallbackStreamDecoder(skipSpecialTokens: boolean): StreamDecoder {
    const ids: number[] = [];
    let text = "";
    return {
      push: (more) => {
        const list = typeof more === "number" ? [more] : more;
        this.checkIds(list);
        ids.push(...list);
        const stable = this.decode(ids, { skipSpecialTokens }).replace(/\uFFFD+$/u, "");
        const delta = stable.slice(text.length);
        text = stable;
        return delta;
      },
      end: () => {
        const all = this.decode(ids, { skipSpecialTokens });
        const delta = all.slice(text.length);
        text = all;
        return delta;
      },
      get text() {
        return text;
      },
    };
  }

  private pickTemplate(withTools: boolean): Template {
    const template = (withTools ? this.templates.get("tool_use") : undefined) ?? this.templates.get("default");
    if (template === undefined) {
      const names = [...this.templates.keys()];
      throw invalid(
        names.length === 0 ? "This tokenizer has no chat template." : 'This tokenizer has no "default" chat template.',
        {
          field: this.sources.templateFile,
          value: names.length === 0 ? undefined : names,
          expected: "a Jinja chat template string",
          fix:
            `add "chat_template" to ${this.sources.configFile} (or a chat_template.jinja file next to it), ` +
            "e.g. the ChatML template `builtinChatTemplate`.",
        },
      );
    }
    return template;
  }

  /** The template context: HF's message keys (role, content, tool_calls, name) and special tokens. */
  private templateContext(messages: ChatMessage[], options: ChatTemplateOptions): Record<string, unknown> {
    parseWith(chatMessagesSchema, messages, { root: "messages", code: "invalid_argument" });
    parseWith(toolSchemasSchema, options.tools, { root: "tools", code: "invalid_argument" });
    const hfMessages = messages.map((m) => {
      const message: Record<string, unknown> = { role: m.role, content: m.content };
      if (m.toolCalls !== undefined && m.toolCalls.length > 0) {
        message.tool_calls = m.toolCalls.map((call) => ({
          id: call.id,
          type: "function",
          function: { name: call.name, arguments: call.arguments },
        }));
      }
      if (m.name !== undefined) message.name = m.name;
      return message;
    });
    const context: Record<string, unknown> = {
      messages: hfMessages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    if (options.tools !== undefined && options.tools.length > 0) {
      context.tools = options.tools.map((t) => ({
        type: "function",
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
    }
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const text = tokenText(this.tokenizerConfig[key]);
      if (text !== undefined) context[key] = text;
    }
    return context;
  }

  private render(context: Record<string, unknown>, withTools: boolean): string {
    const template = this.pickTemplate(withTools);
    try {
      return template.render(context);
    } catch (error) {
      throw new GrpoError("invalid_argument", "The chat template could not render these messages.", {
        field: "messages",
        expected: `messages that ${this.sources.templateFile} accepts`,
        fix: `the template said: ${(error as Error).message}`,
        cause: error,
      });
    }
  }

  /**
   * Renders messages with the chat template into one string (what the model reads). Message text
   * is inserted verbatim: if it contains special-token text, the returned string cannot tell it
   * from the template's own markers, so tokenize conversations with
   * {@link ChatTokenizer.encodeChat}, not `encode(applyChatTemplate(...), { allowSpecialTokens: true })`.
   */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    return this.render(this.templateContext(messages, options), (options.tools?.length ?? 0) > 0);
  }

  /**
   * Renders and tokenizes a conversation. Special tokens become their ids only where the template
   * wrote them; special-token text inside message contents, tool-call arguments or tool schemas
   * is encoded as ordinary bytes. When no message contains special-token text the result equals
   * `encode(applyChatTemplate(messages, options), { allowSpecialTokens: true })`.
   */
  encodeChat(messages: ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    const context = this.templateContext(messages, options);
    const withTools = (options.tools?.length ?? 0) > 0;
    const { masked, unmask } = this.maskSpecialText(context);
    const rendered = this.render(masked, withTools);
    return this.encodeSections(this.splitOnSpecialTokens(rendered), false, unmask);
  }

  /**
   * Replaces special-token text inside every string of the template context with a private-use
   * character that occurs nowhere in the context, so that after rendering the only special-token
   * texts left are the template's own; `unmask` puts the original text back before encoding.
   */
  private maskSpecialText(context: Record<string, unknown>): {
    masked: Record<string, unknown>;
    unmask: (text: string) => string;
  } {
    const pattern = this.splitPattern;
    const identity = { masked: context, unmask: (text: string) => text };
    if (pattern === null) return identity;
    const strings: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === "string") strings.push(value);
      else if (Array.isArray(value)) value.forEach(collect);
      else if (value !== null && typeof value === "object") Object.values(value).forEach(collect);
    };
    collect(context.messages);
    collect(context.tools);
    const found = new Set<string>();
    for (const s of strings) for (const m of s.matchAll(pattern)) found.add(m[0]);
    if (found.size === 0) return identity;

    // Markers: private-use characters (BMP, then plane 15) absent from the messages and templates.
    const used = new Set<number>();
    for (const s of [...strings, ...this.templateSources]) for (const ch of s) used.add(ch.codePointAt(0) ?? 0);
    const markerOf = new Map<string, string>();
    const textOf = new Map<string, string>();
    let code = 0xe000;
    for (const special of found) {
      while (used.has(code)) code = code === 0xf8ff ? 0xf0000 : code + 1;
      const marker = String.fromCodePoint(code);
      used.add(code);
      markerOf.set(special, marker);
      textOf.set(marker, special);
    }
    const maskValue = (value: unknown): unknown => {
      if (typeof value === "string") return value.replace(pattern, (m) => markerOf.get(m) ?? m);
      if (Array.isArray(value)) return value.map(maskValue);
      if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v)]));
      }
      return value;
    };
    const markers = new RegExp([...textOf.keys()].join("|"), "g");
    return {
      masked: { ...context, messages: maskValue(context.messages), tools: maskValue(context.tools) },
      unmask: (text) => text.replace(markers, (m) => textOf.get(m) ?? m),
    };
  }

  /**
   * The two files as JSON objects, ready to write. A template read from `chat_template.jinja` is
   * stored in the config's `chat_template`, so the pair is self-contained.
   */
  toFiles(): TokenizerFiles {
    return {
      "tokenizer.json": structuredClone(this.tokenizerJson),
      "tokenizer_config.json": structuredClone(this.tokenizerConfig),
    };
  }

  /** Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing). */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const files = this.toFiles();
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(dir, name), `${JSON.stringify(content, null, 2)}\n`, "utf8");
    }
  }
}

async function readJsonFile(path: string, fixWhenMissing: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw invalid(`The tokenizer file ${path} is missing or unreadable.`, {
      field: path,
      fix: fixWhenMissing,
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(`${path} is not valid JSON.`, {
      field: path,
      expected: "a JSON object",
      fix: `repair or regenerate the file (${(error as Error).message}).`,
      cause: error,
    });
  }
}
