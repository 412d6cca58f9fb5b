/**
 * The shapes of the synthetic chat corpus: conversations, messages and their quality labels.
 *
 * A conversation is a list of {@link ChatMessage}s (the shape every chat template and policy in this
 * library reads) plus labels that say what kind of assistant behaviour it shows. The labels exist so
 * that the pretrained policy learns *both* good and bad behaviour: GRPO can only move a policy toward
 * the better of the replies it already samples.
 */
import type { ChatMessage } from "../../src/core/policy.js";

/** The scenario families of the corpus, one file each under `scripts/corpus/domains/`. */
export type Domain = "general" | "support" | "tutoring" | "planning" | "arithmetic";

/** Every domain, in a fixed order (the order of stats tables and of weighted draws). */
export const DOMAINS: readonly Domain[] = ["general", "support", "tutoring", "planning", "arithmetic"];

/**
 * What kind of assistant behaviour a reply (or a whole conversation) shows.
 *
 * - `good`: helpful and structured: addresses the user's words, lists or steps, a follow-up question;
 *   for arithmetic, a well-formed calculator tool call, then the result stated exactly.
 * - `curt`: a few words, often dismissive or slangy.
 * - `rambling`: long and repetitive, on topic but with no structure or next step.
 * - `off_topic`: talks about something unrelated to the user's message.
 * - `unsafe`: mild insults ("that's a stupid question", "you're an idiot") or asking for secrets
 *   (passwords, card numbers); every such reply matches a default SafetyReward pattern.
 * - `no_tool` (arithmetic only): answers directly without the calculator, right or wrong.
 * - `bad_tool_call` (arithmetic only): a malformed tool call (unclosed tag, bad JSON, no name,
 *   unknown tool), the error the runtime would return, then a guess.
 */
export type Quality = "good" | "curt" | "rambling" | "off_topic" | "unsafe" | "no_tool" | "bad_tool_call";

/** Every quality label, in a fixed order. */
export const QUALITIES: readonly Quality[] = ["good", "curt", "rambling", "off_topic", "unsafe", "no_tool", "bad_tool_call"];

/** The labels of a reply that every domain can produce (the arithmetic-only ones excluded). */
export type ChatQuality = Exclude<Quality, "no_tool" | "bad_tool_call">;

/** Labels on one assistant message. */
export interface MessageMeta {
  /** The behaviour this reply shows. */
  quality: Quality;
  /** Arithmetic only: the expression the user asked about (on every assistant message of that exchange). */
  expression?: string;
  /** Arithmetic answers only: whether the number the reply states is the right result. */
  correct?: boolean;
}

/** A corpus message: a {@link ChatMessage} plus, on assistant messages, its labels. */
export interface CorpusMessage extends ChatMessage {
  /** Labels of an assistant message (absent on system, user and tool messages). */
  meta?: MessageMeta;
}

/** A value of conversation metadata (JSON-friendly). */
export type MetaValue = string | number | boolean | string[] | number[];

/** One generated conversation, one line of the corpus JSONL file. */
export interface CorpusConversation {
  /** `corpus-<seed>-<index>`: unique within a corpus, stable for a seed. */
  id: string;
  /** The scenario family. */
  domain: Domain;
  /**
   * The conversation's label: the quality of its first assistant reply (in arithmetic `no_tool` and
   * `bad_tool_call` conversations, of the first calculation: a greeting before it is answered well).
   * Later replies of a non-good conversation keep it with probability {@link REPLY_PERSISTENCE} and
   * are good otherwise (see each message's `meta.quality`).
   */
  quality: Quality;
  /** The system prompt first, then user / assistant / tool messages. */
  messages: CorpusMessage[];
  /** Facts about the scenario (topic, product, destination, expressions, …) for inspection and tests. */
  meta?: Record<string, MetaValue>;
}

/** What a domain generator returns: everything of a conversation but its id and labels. */
export interface DomainDialogue {
  /** The system prompt text. */
  systemPrompt: string;
  /** The messages after the system prompt. */
  messages: CorpusMessage[];
  /** Scenario facts (become {@link CorpusConversation.meta}). */
  meta: Record<string, MetaValue>;
}

/**
 * The probability that a later assistant reply of a non-good conversation keeps the conversation's
 * quality (otherwise it is good). Below 1 so that the corpus also shows recoveries, and the policy
 * can sample a good reply after a bad one.
 */
export const REPLY_PERSISTENCE = 0.75;
