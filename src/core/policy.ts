/**
 * The boundary between agents (core, no tensors) and language models (model/, tensors).
 *
 * An agent turns a conversation into messages and asks its {@link Policy} for completions. The real
 * policy is the TensorFlow.js transformer in `src/model/`; tests use scripted doubles. A policy takes a
 * batch of conversations so that a group of episodes can be sampled as one batch.
 */
import type { Role, ToolCall } from "./trajectory.js";

/** A chat message as a chat template sees it. */
export interface ChatMessage {
  role: Role;
  content: string;
  /** Tool calls of an assistant message (rendered by templates that support tools). */
  toolCalls?: ToolCall[];
  /** The tool name, on `tool` messages. */
  name?: string;
}

/** A tool as a chat template and a model see it (JSON-schema parameters, HF convention). */
export interface ToolSchema {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** How to sample. */
export interface SamplingOptions {
  /** Softmax temperature; 0 = greedy (argmax). */
  temperature: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches topP (1 = off). */
  topP: number;
  /** Keep only the topK most likely tokens (0 = off). */
  topK: number;
  /** The most tokens to generate per completion. */
  maxNewTokens: number;
  /** Generation stops after any of these strings appears (the string is kept in the text). */
  stop?: string[];
  /** Tools to advertise through the chat template. */
  tools?: ToolSchema[];
  /** Stops generation early (between tokens) when aborted. */
  signal?: AbortSignal;
  /**
   * Called as completion `index` (of this call's conversations) grows, with its text so far: text
   * that later tokens cannot change, so it only ever grows. For streaming (e.g. `grpo serve`).
   * Optional for policies: one that cannot stream may never call it.
   */
  onText?: (index: number, text: string) => void;
  /**
   * Seeds this call's sampling: conversation i samples from its own generator seeded with
   * `deriveSeed(seed, i)` (src/core/rng.ts), so its tokens depend on this seed and its prompt only,
   * not on which other calls share its batch, how a batch is split, or when the call was made. The
   * episode runner gives every generate call of an episode its own seed (`TurnOptions.seeds`).
   * Without it, a policy with an RNG draws the rows' seeds from that RNG in batch order. It does
   * not keep calls with different seeds out of one batch. Optional for policies (scripted doubles
   * and remote endpoints may ignore it).
   */
  seed?: number;
}

/** One sampled completion. */
export interface Generation {
  /** The decoded completion text (without the EOS token). */
  text: string;
  /** The prompt as token ids (chat template applied, generation prompt included). */
  promptTokenIds: number[];
  /** The sampled token ids (including the EOS token when one was sampled). */
  tokenIds: number[];
  /**
   * Per sampled token, `log softmax(logits / T)[token]` with T the temperature (T = 1 when greedy):
   * the quantity the GRPO loss recomputes for the importance ratio. Top-k/top-p truncation is not
   * applied to it (as in TRL), so it is comparable across sampling settings.
   */
  logprobs: number[];
  /** `stop`: EOS or a stop string; `length`: `maxNewTokens` reached. */
  finishReason: "stop" | "length";
}

/** Anything that can continue conversations. */
export interface Policy {
  /** A human-readable name (the model name). */
  readonly name: string;
  /**
   * One completion per conversation, sampled as one batch.
   * `conversations[i]` is the full message list (system prompt included) for completion i.
   */
  generate(conversations: ChatMessage[][], options: SamplingOptions): Promise<Generation[]>;
  /**
   * Draws a seed from the policy's own seeded RNG (advancing it by one draw). The episode runner
   * calls it once per episode, in the order episodes start, for that episode's sampling seeds
   * (`SamplingOptions.seed`), so a policy seed (and a checkpoint's saved RNG state) still fixes every
   * sample. Policies without an RNG omit it: their episodes' calls then carry no seed.
   */
  forkSeed?(): number;
  /** Frees resources (tensors, workers). */
  dispose?(): void;
}
