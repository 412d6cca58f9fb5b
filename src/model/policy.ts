/**
 * The TensorFlow.js policy: a transformer, its chat tokenizer and a seeded sampler behind the
 * core's `Policy` interface.
 *
 * Concurrent `generate` calls are coalesced: every call that arrives in the same event-loop turn
 * (e.g. the `numGenerations` episodes of a group, each asking for its next turn) is sampled as one
 * batch through the KV cache. Agents stay simple (one call per turn) and rollouts still batch.
 *
 * Every row samples from its own generator: seeded from the call's `SamplingOptions.seed` when it
 * has one (the episode runner gives each call of an episode its own), else from the policy's RNG in
 * batch order. With a local model, batches run one after the other. With a pipelined
 * {@link Sampler} (the distributed trainer's workers), a batch is flushed without waiting for the
 * previous one and each caller is resolved as soon as its own rows are sampled, so an episode can
 * go on to its next turn while other rows of its batch are still being sampled; seeded calls still
 * sample exactly what they would alone.
 */
import path from "node:path";
import { GrpoError } from "../core/errors.js";
import type { ChatMessage, Generation, Policy, SamplingOptions, ToolSchema } from "../core/policy.js";
import { deriveSeed, Rng, type RngState } from "../core/rng.js";
import { selectBackend } from "./backend.js";
import { generate, type GenerateResult } from "./generate.js";
import { ChatTokenizer, type StreamDecoder } from "./tokenizer.js";
import { Transformer } from "./transformer.js";
import { loadModelFolder } from "./weights.js";
import * as tf from "@tensorflow/tfjs";

/**
 * One batch of completions to sample, as plain data (it crosses thread and process boundaries).
 * Row i samples from its own generator `Rng.fromSeed(rowSeeds[i])`.
 */
export interface SampleRequest {
  /** Per row, the prompt's token ids (empty when `chats` is given). */
  promptIds: number[][];
  /**
   * Per row, the conversation to encode instead (`encodeChat(messages, { addGenerationPrompt: true,
   * tools })` with the policy's tokenizer), for samplers that hold a replica of it: the distributed
   * trainer's workers encode their own rows, in parallel, rather than the coordinating thread all.
   */
  chats?: { messages: ChatMessage[][]; tools?: ToolSchema[] };
  rowSeeds: number[];
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  eosTokenIds: number[];
  /** Stop strings (checked on the decoded completion). */
  stop: string[];
}

/** Rows `from` … `to − 1` of a {@link SampleRequest} (prompts or chats, and their seeds), as a request of their own. */
export function sliceSampleRequest(request: SampleRequest, from: number, to: number): SampleRequest {
  const chats = request.chats;
  return {
    ...request,
    promptIds: request.promptIds.slice(from, to),
    ...(chats === undefined ? {} : { chats: { ...chats, messages: chats.messages.slice(from, to) } }),
    rowSeeds: request.rowSeeds.slice(from, to),
  };
}

/**
 * Samples a {@link SampleRequest} with a local model and its tokenizer. `onText(row, text)` streams
 * each row's decoded completion so far (stop strings cut off) as tokens arrive.
 */
export function sampleLocally(
  model: Transformer, tokenizer: ChatTokenizer, request: SampleRequest, signal?: AbortSignal,
  onText?: (row: number, text: string) => void,
): Promise<GenerateResult[]> {
  const stops = request.stop;
  const chats = request.chats;
  const promptIds = chats === undefined
    ? request.promptIds
    : chats.messages.map((messages) => tokenizer.encodeChat(messages, { addGenerationPrompt: true, tools: chats.tools }));
  // One stream decoder per row: each sampled token costs O(its bytes) to decode, and a stop string
  // can only newly appear in the tail that the token added (so the search looks there only).
  const decoders = new Map<number, { stream: StreamDecoder; seen: number }>();
  const longestStop = Math.max(0, ...stops.map((s) => s.length));
  return generate(model, promptIds, {
    maxNewTokens: request.maxNewTokens,
    temperature: request.temperature,
    topK: request.topK,
    topP: request.topP,
    eosTokenIds: request.eosTokenIds,
    rng: request.rowSeeds.map((seed) => Rng.fromSeed(seed)),
    signal,
    stopCheck: stops.length === 0 && onText === undefined ? undefined : (row, ids) => {
      let state = decoders.get(row);
      if (state === undefined) {
        state = { stream: tokenizer.createStreamDecoder({ skipSpecialTokens: true }), seen: 0 };
        decoders.set(row, state);
      }
      const before = state.stream.text.length;
      state.stream.push(ids.slice(state.seen));
      state.seen = ids.length;
      const text = state.stream.text;
      const tail = text.slice(Math.max(0, before - longestStop + 1));
      const stopped = stops.some((s) => tail.includes(s));
      onText?.(row, stopped ? cutAfterStop(text, stops) : text);
      return stopped;
    },
  });
}

/** Some rows of a {@link SampleRequest}, sampled: `results[j]` is row `rows[j]`'s. */
export interface SampledRows {
  rows: number[];
  results: GenerateResult[];
}

/**
 * Samples {@link SampleRequest}s somewhere else than the policy's own model (see {@link TfPolicy.sampler}).
 * Resolves to every row's result, in row order.
 *
 * - `encodesChats: true`: it encodes the conversations itself; requests then carry `chats` instead
 *   of `promptIds` (the distributed trainer's workers hold a replica of the tokenizer).
 * - `pipelined: true`: it may be called again before earlier calls resolve (several batches in
 *   flight), and it reports rows as they are done through `onRows` (each row at most once, before
 *   the returned promise resolves). The policy then flushes each batch without waiting for the
 *   previous one, and resolves each `generate` call as soon as all of its rows were reported.
 */
export type Sampler = ((request: SampleRequest, signal?: AbortSignal, onRows?: (part: SampledRows) => void) => Promise<GenerateResult[]>) & {
  encodesChats?: boolean;
  pipelined?: boolean;
};

interface PendingRequest {
  conversations: ChatMessage[][];
  options: SamplingOptions;
  resolve: (generations: Generation[]) => void;
  reject: (error: unknown) => void;
}

/** Options of {@link TfPolicy.fromFolder}. */
export interface TfPolicyLoadOptions {
  /** The name the policy reports (default: the folder path). */
  name?: string;
  /** Seed of the sampling RNG (default 0). */
  seed?: number;
}

function optionsKey(o: SamplingOptions): string {
  return JSON.stringify([o.temperature, o.topP, o.topK, o.maxNewTokens, o.stop ?? [], o.tools ?? []]);
}

/** The non-empty stop strings of a call. */
function stopStrings(options: SamplingOptions): string[] {
  return (options.stop ?? []).filter((s) => s.length > 0);
}

/** The listener of completion `index` of a request, if it streams. */
function textListener(options: SamplingOptions, index: number): ((text: string) => void) | undefined {
  const onText = options.onText;
  return onText === undefined ? undefined : (text) => onText(index, text);
}

/** `text` cut right after the first occurrence of each stop string (the stop string is kept). */
function cutAfterStop(text: string, stops: readonly string[]): string {
  let out = text;
  for (const s of stops) {
    const at = out.indexOf(s);
    if (at >= 0) out = out.slice(0, at + s.length);
  }
  return out;
}

/** A trainable TensorFlow.js language model that agents can sample from. */
export class TfPolicy implements Policy {
  readonly name: string;
  readonly model: Transformer;
  readonly tokenizer: ChatTokenizer;
  /** Token ids that end a completion: the tokenizer's EOS plus the generation config's. */
  readonly eosTokenIds: number[];
  private rng: Rng;
  /**
   * Where {@link SampleRequest}s are sampled: unset = this process's model. The distributed trainer
   * sets it to split each batch across its workers (each with a replica of the same weights).
   */
  sampler?: Sampler;
  private queue: PendingRequest[] = [];
  private flushScheduled = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(options: { name: string; model: Transformer; tokenizer: ChatTokenizer; seed?: number; eosTokenIds?: number[] }) {
    if (options.tokenizer.vocabSize > options.model.config.vocabSize) {
      throw new GrpoError("invalid_model", "The tokenizer has more tokens than the model's vocabulary.", {
        field: "vocab_size",
        value: options.model.config.vocabSize,
        expected: `at least the tokenizer's ${options.tokenizer.vocabSize} tokens`,
        fix: "use the tokenizer the model was trained with.",
      });
    }
    this.name = options.name;
    this.model = options.model;
    this.tokenizer = options.tokenizer;
    this.eosTokenIds = [...new Set([options.tokenizer.eosTokenId, ...(options.eosTokenIds ?? [])])];
    this.rng = Rng.fromSeed(options.seed ?? 0);
  }

  /** Loads a Hugging Face GPT-2 or GPT-NeoX folder (config.json, model.safetensors, tokenizer files). */
  static async fromFolder(dir: string, options: TfPolicyLoadOptions = {}): Promise<TfPolicy> {
    await selectBackend();
    const folder = await loadModelFolder(dir);
    const tokenizer = await ChatTokenizer.fromFolder(dir);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(folder.tensors)) tensors[name] = tf.tensor(t.data, t.shape, "float32");
    let model: Transformer;
    try {
      model = Transformer.fromTensors(folder.config, tensors);
    } finally {
      tf.dispose(Object.values(tensors));
    }
    const genEos = folder.generationConfig?.eos_token_id;
    const extraEos = (Array.isArray(genEos) ? genEos : genEos === undefined || genEos === null ? [] : [genEos])
      .filter((id): id is number => Number.isInteger(id) && (id as number) < folder.config.vocabSize);
    return new TfPolicy({ name: options.name ?? path.resolve(dir), model, tokenizer, seed: options.seed, eosTokenIds: extraEos });
  }

  /** Restarts the sampling RNG from a seed. */
  reseed(seed: number): void {
    this.rng = Rng.fromSeed(seed);
  }

  /** The sampling RNG's state (saved in checkpoints). */
  getRngState(): RngState {
    return this.rng.getState();
  }

  /** Continues sampling exactly from a saved RNG state. */
  setRngState(state: RngState): void {
    this.rng = Rng.fromState(state);
  }

  /**
   * A seed drawn from the policy's RNG (one draw): the episode runner calls it once per episode, in
   * the order episodes start, and seeds the episode's calls from it (`SamplingOptions.seed`). Part of
   * the RNG state that checkpoints save, so a resumed run draws the same episode seeds.
   */
  forkSeed(): number {
    return this.rng.int(0x7fffffff);
  }

  /** Samples one completion per conversation; concurrent calls share one batch. */
  generate(conversations: ChatMessage[][], options: SamplingOptions): Promise<Generation[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ conversations, options, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Let every caller of this turn enqueue before sampling. A local model (or a sampler that is
        // not pipelined) takes one batch at a time, so wait for the previous batch first.
        const flushSoon = () => new Promise<void>((done) => setImmediate(() => {
          this.flushScheduled = false;
          this.flush().then(done, done);
        }));
        if (this.sampler?.pipelined === true) void flushSoon();
        else this.busy = this.busy.then(flushSoon);
      }
    });
  }

  /**
   * Samples the queued requests: one batch per set of sampling options (the seed is not part of
   * them). A pipelined sampler gets the batches at once, others one after the other.
   */
  private async flush(): Promise<void> {
    const requests = this.queue;
    this.queue = [];
    const byOptions = new Map<string, PendingRequest[]>();
    for (const r of requests) {
      const key = optionsKey(r.options);
      byOptions.set(key, [...(byOptions.get(key) ?? []), r]);
    }
    if (this.sampler?.pipelined === true) {
      await Promise.all([...byOptions.values()].map((group) => this.sampleGroup(group)));
    } else {
      for (const group of byOptions.values()) await this.sampleGroup(group);
    }
  }

  /**
   * Samples requests that share their sampling options as one batch and settles each: as soon as
   * its rows are in when the sampler reports rows early (pipelined), else when the batch is done.
   */
  private async sampleGroup(group: PendingRequest[]): Promise<void> {
    const options = group[0].options;
    const conversations = group.flatMap((r) => r.conversations);
    const owner = group.flatMap((r, k) => r.conversations.map(() => k)); // row -> index in group
    const first: number[] = []; // index in group -> its first row
    let rows = 0;
    for (const r of group) {
      first.push(rows);
      rows += r.conversations.length;
    }
    const missing = group.map((r) => r.conversations.length);
    const results: Array<Generation | undefined> = new Array(conversations.length).fill(undefined);
    const settled = group.map(() => false);
    const settle = (k: number) => {
      if (settled[k]) return;
      settled[k] = true;
      const n = group[k].conversations.length;
      group[k].resolve(n === 0 ? [] : results.slice(first[k], first[k] + n) as Generation[]);
    };
    const receive = (part: SampledRows) => {
      part.rows.forEach((row, j) => {
        if (results[row] !== undefined) return;
        results[row] = this.toGeneration(part.results[j], options);
        if (--missing[owner[row]] === 0) settle(owner[row]);
      });
    };
    try {
      const all = await this.sampleBatch(group, receive);
      receive({ rows: all.map((_, row) => row), results: all });
      group.forEach((_, k) => settle(k));
    } catch (error) {
      group.forEach((r, k) => {
        if (settled[k]) return;
        settled[k] = true;
        r.reject(error);
      });
    }
  }

  /**
   * Every row's seed: from its call's `seed` (`deriveSeed(seed, i)` for the call's conversation i),
   * else drawn from the policy's RNG, in row order.
   */
  private rowSeeds(group: PendingRequest[]): number[] {
    return group.flatMap((r) => {
      const seed = r.options.seed;
      return r.conversations.map((_, i) => (seed === undefined ? this.rng.int(0x7fffffff) : deriveSeed(seed, i)));
    });
  }

  /** Builds the batch's {@link SampleRequest} and samples it (locally or with the sampler). */
  private async sampleBatch(group: PendingRequest[], onRows: (part: SampledRows) => void): Promise<GenerateResult[]> {
    const options = group[0].options;
    const conversations = group.flatMap((r) => r.conversations);
    const signals = group.map((r) => r.options.signal).filter((s): s is AbortSignal => s !== undefined);
    const listeners = group.flatMap((r) => r.conversations.map((_, i) => textListener(r.options, i)));
    const remoteEncoding = this.sampler?.encodesChats === true;
    const prompts = remoteEncoding ? [] : conversations.map((messages) =>
      this.tokenizer.encodeChat(messages, { addGenerationPrompt: true, tools: options.tools }));
    // One generator per row: a row's samples then do not depend on which rows share its batch, so a
    // batch split across workers samples the same tokens.
    const request: SampleRequest = {
      promptIds: prompts,
      ...(remoteEncoding ? { chats: { messages: conversations, ...(options.tools === undefined ? {} : { tools: options.tools }) } } : {}),
      rowSeeds: this.rowSeeds(group),
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      topK: options.topK,
      topP: options.topP,
      eosTokenIds: this.eosTokenIds,
      stop: stopStrings(options),
    };
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const streaming = listeners.some((l) => l !== undefined);
    if (this.sampler) return this.sampler(request, signal, onRows);
    return sampleLocally(this.model, this.tokenizer, request, signal, streaming ? (row, text) => listeners[row]?.(text) : undefined);
  }

  /** A sampled row as the caller sees it: decoded text (stop strings cut after), tokens, log-probs. */
  private toGeneration(r: GenerateResult, options: SamplingOptions): Generation {
    const last = r.tokenIds[r.tokenIds.length - 1];
    const body = r.finishReason === "stop" && this.eosTokenIds.includes(last) ? r.tokenIds.slice(0, -1) : r.tokenIds;
    return {
      text: cutAfterStop(this.tokenizer.decode(body, { skipSpecialTokens: true }), stopStrings(options)),
      promptTokenIds: r.promptTokenIds,
      tokenIds: r.tokenIds,
      logprobs: r.logprobs,
      finishReason: r.finishReason,
    };
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.model.dispose();
  }
}
