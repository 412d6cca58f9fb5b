/**
 * A user simulator backed by a model: any {@link Policy} (a remote `openai:<model>` one, a local
 * TfPolicy) plays the user of a {@link ConversationEnvironment} once its script is used up, in the
 * persona and scenario of the episode.
 */
import { z } from "zod";
import type { ConversationScenario, UserSimulator } from "./environment.js";
import { GrpoError } from "./errors.js";
import type { ChatMessage, Policy } from "./policy.js";
import type { ConversationTurn } from "./trajectory.js";
import { parseWith } from "./validation.js";

/** Options of {@link policyUserSimulator}. */
export interface PolicyUserSimulatorOptions {
  /** The model that writes the user's messages. */
  policy: Policy;
  /** Sampling temperature, >= 0 (default 0.8). */
  temperature?: number;
  /** Nucleus sampling threshold in (0, 1] (default 1 = off). */
  topP?: number;
  /** The most tokens per user message; integer >= 1 (default 64). */
  maxNewTokens?: number;
  /** The text by which the simulated user ends the conversation (default `[END]`). */
  endMarker?: string;
  /** Milliseconds one message may take, > 0 (default 60000). */
  timeoutMs?: number;
}

const optionsSchema = z.strictObject({
  policy: z.custom<Policy>((p) => typeof (p as Policy | null)?.generate === "function", {
    error: "a Policy (an object with generate())",
  }),
  temperature: z.number().min(0).optional(),
  topP: z.number().gt(0).max(1).optional(),
  maxNewTokens: z.number().int().min(1).optional(),
  endMarker: z.string().min(1).optional(),
  timeoutMs: z.number().positive().optional(),
});

/** The simulator's instructions for a scenario and persona. */
export function userSimulatorPrompt(scenario: ConversationScenario, persona: string | undefined, endMarker: string): string {
  const lines = [
    "You are role-playing the USER in a conversation with an AI assistant. Never act as the assistant.",
    `Persona: ${persona ?? "an ordinary user looking for help."}`,
  ];
  if (scenario.topic !== undefined) lines.push(`Topic: ${scenario.topic}`);
  if (scenario.context !== undefined) lines.push(`Situation: ${scenario.context}`);
  lines.push(
    "Write only the user's next message: one or two short sentences, in the user's voice.",
    `When the user has what they need and would end the conversation, reply with exactly ${endMarker}.`,
  );
  return lines.join("\n");
}

/**
 * The conversation from the simulated user's side: its system prompt, then the assistant's turns as
 * `user` messages and the user's own turns as `assistant` messages (what "it" said before).
 */
export function userSimulatorMessages(turns: ConversationTurn[], instructions: string): ChatMessage[] {
  const flipped = turns
    .filter((t) => t.role === "user" || t.role === "assistant")
    .map((t): ChatMessage => ({ role: t.role === "user" ? "assistant" : "user", content: t.content }));
  return [{ role: "system", content: instructions }, ...flipped];
}

/** The user's message from the simulator's raw text, or null when it ends the conversation. */
export function userMessageFrom(text: string, endMarker: string): string | null {
  const at = text.indexOf(endMarker);
  const message = (at >= 0 ? text.slice(0, at) : text).trim().replace(/^(?:user|\[user\])\s*:\s*/i, "").trim();
  return message === "" ? null : message;
}

/**
 * A {@link UserSimulator} whose messages a model writes (pass it as `userSimulator` to a
 * ConversationEnvironment, or pass the Policy itself there). Each call sends
 * {@link userSimulatorMessages}: instructions from the persona, topic and situation, then the
 * conversation with roles flipped, and returns the reply trimmed (a leading `User:` dropped). A reply
 * that is empty or contains the end marker (text before the marker is kept, if any) ends the conversation: null.
 */
export function policyUserSimulator(options: PolicyUserSimulatorOptions): UserSimulator {
  const opts = parseWith(optionsSchema, options ?? {}, {
    root: "policyUserSimulator",
    code: "invalid_config",
    fix: "pass `{ policy }`, e.g. `policyUserSimulator({ policy: new RemotePolicy({ model: \"gpt-4o-mini\" }) })`.",
  });
  const endMarker = opts.endMarker ?? "[END]";
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return async (turns, scenario, persona) => {
    const messages = userSimulatorMessages(turns, userSimulatorPrompt(scenario, persona, endMarker));
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string | undefined;
    try {
      const generations = await opts.policy.generate([messages], {
        temperature: opts.temperature ?? 0.8,
        topP: opts.topP ?? 1,
        topK: 0,
        maxNewTokens: opts.maxNewTokens ?? 64,
        signal,
      });
      text = generations?.[0]?.text;
    } catch (error) {
      if (signal.aborted) {
        throw new GrpoError("episode_failed", `The user simulator "${opts.policy.name}" gave no message within ${timeoutMs} ms.`, {
          fix: "check the simulator's model or endpoint, or raise `timeoutMs`.",
          cause: error,
        });
      }
      throw error;
    }
    if (typeof text !== "string") {
      throw new GrpoError("episode_failed", `The user simulator "${opts.policy.name}" returned no text.`, {
        expected: "one Generation with text",
      });
    }
    return userMessageFrom(text, endMarker);
  };
}
