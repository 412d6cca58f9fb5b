/**
 * A test double for {@link Policy}: replies from a script, fakes tokens, records every call.
 *
 * Fake tokens are characters: `tokenIds` are the reply's char codes, `promptTokenIds` the char codes
 * of a plain rendering of the messages (`<|role|>content\n…<|assistant|>`), each log-prob is
 * `-0.01 * (position + 1)`. `maxNewTokens` cuts the reply (finishReason "length") and `stop`
 * strings end it after the first match (finishReason "stop"), as a real policy would.
 */
import type { ChatMessage, Generation, Policy, SamplingOptions } from "../../src/core/policy.js";
import { AbortedError } from "../../src/core/errors.js";

/** Produces a reply for one conversation: its messages and the index of the call (0-based, per conversation). */
export type ReplyFn = (messages: ChatMessage[], callIndex: number) => string | Promise<string>;

/** One recorded generate() call. */
export interface RecordedCall {
  conversations: ChatMessage[][];
  options: SamplingOptions;
}

export interface ScriptedPolicyOptions {
  name?: string;
  /** Milliseconds each generate() call waits before replying (default 0). */
  delayMs?: number;
}

/** Renders messages the way the fake prompt tokens are computed. */
export function renderPrompt(messages: ChatMessage[]): string {
  return messages.map((m) => `<|${m.role}|>${m.content}\n`).join("") + "<|assistant|>";
}

function charCodes(text: string): number[] {
  return Array.from(text, (c) => c.codePointAt(0) ?? 0);
}

/** Applies maxNewTokens and stop strings to a reply, counting characters as tokens. */
function finish(text: string, options: SamplingOptions): { text: string; finishReason: "stop" | "length" } {
  let out = text;
  let finishReason: "stop" | "length" = "stop";
  for (const stop of options.stop ?? []) {
    const at = out.indexOf(stop);
    if (at >= 0) out = out.slice(0, at + stop.length);
  }
  const chars = Array.from(out);
  if (chars.length > options.maxNewTokens) {
    out = chars.slice(0, options.maxNewTokens).join("");
    finishReason = "length";
  }
  return { text: out, finishReason };
}

/** A policy whose replies come from a list (cycled) or a function of the messages. */
export class ScriptedPolicy implements Policy {
  readonly name: string;
  /** Every generate() call, in order. */
  readonly calls: RecordedCall[] = [];
  private readonly reply: ReplyFn;
  private readonly delayMs: number;
  private count = 0;

  constructor(replies: readonly string[] | ReplyFn, options: ScriptedPolicyOptions = {}) {
    this.name = options.name ?? "scripted";
    this.delayMs = options.delayMs ?? 0;
    if (typeof replies === "function") this.reply = replies;
    else {
      if (replies.length === 0) throw new Error("ScriptedPolicy needs at least one reply");
      this.reply = (_messages, i) => replies[i % replies.length];
    }
  }

  /** The messages of every conversation generated so far, in order. */
  get conversations(): ChatMessage[][] {
    return this.calls.flatMap((c) => c.conversations);
  }

  async generate(conversations: ChatMessage[][], options: SamplingOptions): Promise<Generation[]> {
    this.calls.push({ conversations: structuredClone(conversations), options: { ...options } });
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (options.signal?.aborted) throw new AbortedError("Generation");
    const out: Generation[] = [];
    for (const messages of conversations) {
      const raw = await this.reply(messages, this.count++);
      const { text, finishReason } = finish(raw, options);
      const tokenIds = charCodes(text);
      out.push({
        text,
        promptTokenIds: charCodes(renderPrompt(messages)),
        tokenIds,
        logprobs: tokenIds.map((_, i) => -0.01 * (i + 1)),
        finishReason,
      });
    }
    return out;
  }
}
