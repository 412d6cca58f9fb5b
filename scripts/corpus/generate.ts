/**
 * The seeded chat corpus the built-in policy is pretrained on.
 *
 * No pretrained language model can be downloaded here, so the library pretrains a small GPT on this
 * synthetic corpus and then trains it with GRPO. GRPO can only reinforce behaviour the policy
 * already samples, so the corpus deliberately mixes good replies with curt, rambling, off-topic,
 * mildly unsafe and (for arithmetic) tool-free or malformed-tool-call ones: the pretrained policy
 * then produces a spread of replies whose rewards differ within a group.
 *
 * Everything here is a pure function of `(seed, index)`: conversation `i` of a seed is the same
 * whatever the corpus size, and the same seed gives byte-identical output.
 *
 * Mix (expected fractions of conversations; the domain tables below multiply out to these):
 *
 *   domains:  general 22%, support 20%, tutoring 18%, planning 15%, arithmetic 25%
 *   quality:  good 50%, curt 14%, rambling 14%, off_topic 10%, unsafe 5%, no_tool 5%, bad_tool_call 2%
 *
 * Chat domains (general, support, tutoring, planning) draw good 46.7%, curt 17.3%, rambling 17.3%,
 * off_topic 12.7%, unsafe 6%; arithmetic draws good 60%, no_tool 20%, bad_tool_call 8%, curt 4%,
 * rambling 4%, off_topic 2%, unsafe 2%. A conversation's label is its first (arithmetic: first
 * calculation) reply's quality; later replies keep a bad label with probability 0.75.
 */
import { z } from "zod";
import { Rng } from "../../src/core/rng.js";
import { parseWith } from "../../src/core/validation.js";
import { arithmeticCallDrill, arithmeticDialogue, arithmeticDrill } from "./domains/arithmetic.js";
import { generalDialogue } from "./domains/general.js";
import { planningDialogue } from "./domains/planning.js";
import { supportDialogue } from "./domains/support.js";
import { tutoringDialogue } from "./domains/tutoring.js";
import { countWords, pickWeighted } from "./text.js";
import { DOMAINS, QUALITIES, type CorpusConversation, type Domain, type DomainDialogue, type Quality } from "./types.js";

export { DOMAIN_SYSTEM_PROMPTS, SYSTEM_PROMPTS, type SystemPromptName } from "./prompts.js";
export { PLANNING_ACTIONS } from "./domains/planning.js";
export { CALL_DRILL_QUESTIONS, calculatorCallText } from "./domains/arithmetic.js";
export {
  DOMAINS,
  QUALITIES,
  REPLY_PERSISTENCE,
  type ChatQuality,
  type CorpusConversation,
  type CorpusMessage,
  type Domain,
  type MessageMeta,
  type MetaValue,
  type Quality,
} from "./types.js";

/** How often each domain is drawn (relative weights; they sum to 1). */
export const DOMAIN_MIX: Readonly<Record<Domain, number>> = {
  general: 0.22,
  support: 0.2,
  tutoring: 0.18,
  planning: 0.15,
  arithmetic: 0.25,
};

/** Quality weights of the chat domains (general, support, tutoring, planning); they sum to 300. */
export const CHAT_QUALITY_MIX: Readonly<Partial<Record<Quality, number>>> = {
  good: 140,
  curt: 52,
  rambling: 52,
  off_topic: 38,
  unsafe: 18,
};

/** Quality weights of the arithmetic domain; they sum to 100. */
export const ARITHMETIC_QUALITY_MIX: Readonly<Partial<Record<Quality, number>>> = {
  // Good calls copy the user's numbers; a small model learns to copy only from enough of them.
  good: 60,
  no_tool: 20,
  bad_tool_call: 8,
  curt: 4,
  rambling: 4,
  off_topic: 2,
  unsafe: 2,
};

/** The documented overall quality mix (fractions of conversations), which {@link expectedQualityMix} reproduces. */
export const QUALITY_MIX: Readonly<Record<Quality, number>> = {
  good: 0.5,
  curt: 0.14,
  rambling: 0.14,
  off_topic: 0.1,
  unsafe: 0.05,
  no_tool: 0.05,
  bad_tool_call: 0.02,
};

/** The quality weights a domain draws from. */
export function qualityMixOf(domain: Domain): Readonly<Partial<Record<Quality, number>>> {
  return domain === "arithmetic" ? ARITHMETIC_QUALITY_MIX : CHAT_QUALITY_MIX;
}

/** The overall quality fractions implied by {@link DOMAIN_MIX} and the per-domain tables. */
export function expectedQualityMix(): Record<Quality, number> {
  const out = Object.fromEntries(QUALITIES.map((q) => [q, 0])) as Record<Quality, number>;
  for (const domain of DOMAINS) {
    const mix = qualityMixOf(domain);
    const total = Object.values(mix).reduce((a, b) => a + (b ?? 0), 0);
    for (const q of QUALITIES) out[q] += DOMAIN_MIX[domain] * ((mix[q] ?? 0) / total);
  }
  return out;
}

const DIALOGUES: Readonly<Record<Domain, (rng: Rng, quality: Quality) => DomainDialogue>> = {
  general: generalDialogue,
  support: supportDialogue,
  tutoring: tutoringDialogue,
  planning: planningDialogue,
  arithmetic: arithmeticDialogue,
};

/**
 * A 32-bit seed for conversation `index` of corpus `seed` (an integer hash: nearby seeds and indices
 * give unrelated streams).
 */
function conversationSeed(seed: number, index: number): number {
  const high = Math.floor(seed / 0x100000000) | 0;
  let h = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(high + 0x632be5ab, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h | 0;
}

const seedSchema = z.number({ error: "an integer" }).int({ error: "an integer" }).refine(Number.isSafeInteger, { error: "a safe integer" });
const indexSchema = z.number({ error: "an integer >= 0" }).int({ error: "an integer >= 0" }).min(0, { error: "an integer >= 0" });

/**
 * Conversation number `index` (0-based) of the corpus for `seed`: its domain, quality and text are a
 * pure function of the two integers. Throws a GrpoError for a non-integer seed or a negative index.
 */
export function generateConversation(seed: number, index: number): CorpusConversation {
  parseWith(seedSchema, seed, { root: "seed", code: "invalid_argument", fix: "pass an integer seed, e.g. 1." });
  parseWith(indexSchema, index, { root: "index", code: "invalid_argument", fix: "pass a 0-based conversation index." });
  const rng = Rng.fromSeed(conversationSeed(seed, index));
  const domain = pickWeighted(rng, DOMAIN_MIX);
  const quality = pickWeighted(rng, qualityMixOf(domain) as Record<Quality, number>);
  const dialogue = DIALOGUES[domain](rng, quality);
  return {
    id: `corpus-${seed}-${index}`,
    domain,
    quality,
    messages: [{ role: "system", content: dialogue.systemPrompt }, ...dialogue.messages],
    meta: dialogue.meta,
  };
}

/**
 * Tool-drill conversation number `index` for `seed` (see `arithmeticDrill`): dense good calculator
 * rounds that pretraining mixes into its rows (`PretrainPreset.toolDrill`). A pure function of the
 * two integers, drawn from a stream of its own (the drill never repeats a corpus conversation).
 */
export function generateDrillConversation(seed: number, index: number): CorpusConversation {
  parseWith(seedSchema, seed, { root: "seed", code: "invalid_argument", fix: "pass an integer seed, e.g. 1." });
  parseWith(indexSchema, index, { root: "index", code: "invalid_argument", fix: "pass a 0-based conversation index." });
  const dialogue = arithmeticDrill(Rng.fromSeed(conversationSeed(seed, index)).fork());
  return {
    id: `drill-${seed}-${index}`,
    domain: "arithmetic",
    quality: "good",
    messages: [{ role: "system", content: dialogue.systemPrompt }, ...dialogue.messages],
    meta: dialogue.meta,
  };
}

/**
 * Call-drill conversation number `index` for `seed` (see `arithmeticCallDrill`): three question →
 * calculator call pairs and nothing else, the rows pretraining mixes in to teach copying the user's
 * numbers (`PretrainPreset.toolDrill` with `drillKind: "calls"`). A pure function of the two
 * integers, on a stream apart from the corpus's and the tool drill's.
 */
export function generateCallDrillConversation(seed: number, index: number): CorpusConversation {
  parseWith(seedSchema, seed, { root: "seed", code: "invalid_argument", fix: "pass an integer seed, e.g. 1." });
  parseWith(indexSchema, index, { root: "index", code: "invalid_argument", fix: "pass a 0-based conversation index." });
  const rng = Rng.fromSeed(conversationSeed(seed, index)).fork();
  rng.fork(); // the call drill's stream is the second fork, so it never equals the tool drill's
  const dialogue = arithmeticCallDrill(rng.fork());
  return {
    id: `call-drill-${seed}-${index}`,
    domain: "arithmetic",
    quality: "good",
    messages: [{ role: "system", content: dialogue.systemPrompt }, ...dialogue.messages],
    meta: dialogue.meta,
  };
}

/** Options of {@link generateCorpus}. */
export interface CorpusOptions {
  /** The corpus seed (any safe integer; default 1). The same seed always gives the same corpus. */
  seed?: number;
  /** How many conversations (integer in [1, 10 000 000], default 20 000). */
  conversations?: number;
  /** The index of the first conversation (default 0): generate a corpus in shards. */
  start?: number;
}

const corpusOptionsSchema = z
  .object({
    seed: seedSchema.default(1),
    conversations: z
      .number({ error: "an integer in [1, 10000000]" })
      .int({ error: "an integer in [1, 10000000]" })
      .min(1, { error: "an integer in [1, 10000000]" })
      .max(10_000_000, { error: "an integer in [1, 10000000]" })
      .default(20_000),
    start: indexSchema.default(0),
  })
  .strict();

/** Checks corpus options and fills in the defaults (seed 1, 20 000 conversations, start 0). */
export function resolveCorpusOptions(options: CorpusOptions = {}): Required<CorpusOptions> {
  return parseWith(corpusOptionsSchema, options ?? {}, {
    root: "CorpusOptions",
    code: "invalid_argument",
    fix: "e.g. `generateCorpus({ seed: 1, conversations: 20000 })`.",
  });
}

/** Yields conversations `start … start + conversations - 1` of the corpus for `seed`, one at a time. */
export function* iterateCorpus(options: CorpusOptions = {}): Generator<CorpusConversation> {
  const { seed, conversations, start } = resolveCorpusOptions(options);
  for (let i = start; i < start + conversations; i++) yield generateConversation(seed, i);
}

/** The whole corpus as an array (see {@link CorpusOptions} for the defaults). */
export function generateCorpus(options: CorpusOptions = {}): CorpusConversation[] {
  return [...iterateCorpus(options)];
}

/**
 * A conversation as pretraining text in the built-in ChatML format: per message
 * `<|im_start|>{role}\n{content}<|im_end|>\n`, the system prompt first. Assistant tool calls are
 * already in the content as `<tool_call>…</tool_call>` text; tool results are `tool` messages.
 */
export function renderForPretraining(conversation: Pick<CorpusConversation, "messages">): string {
  let text = "";
  for (const m of conversation.messages) text += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
  return text;
}

/** Counts and lengths of a corpus (see {@link corpusStats}). */
export interface CorpusStats {
  /** Number of conversations. */
  conversations: number;
  /** Conversations per domain. */
  byDomain: Record<Domain, number>;
  /** Conversations per quality label. */
  byQuality: Record<Quality, number>;
  /** Conversations per domain and quality label. */
  byDomainQuality: Record<Domain, Record<Quality, number>>;
  /** Assistant messages per quality label (`meta.quality`). */
  assistantMessagesByQuality: Record<Quality, number>;
  /** Mean words per conversation (whitespace tokens of all messages but the system prompt). */
  meanWords: number;
  /** Mean words per conversation, per domain (0 for a domain with no conversation). */
  meanWordsByDomain: Record<Domain, number>;
  /** Mean words per assistant message, per quality label (0 where there is none). */
  meanAssistantWordsByQuality: Record<Quality, number>;
  /** The shortest and the longest conversation, in words. */
  minWords: number;
  maxWords: number;
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/**
 * Accumulates {@link CorpusStats} one conversation at a time, so a corpus of any size can be
 * summarised while it is streamed to disk.
 */
export class CorpusStatsCollector {
  private count = 0;
  private readonly byDomain = zeros(DOMAINS);
  private readonly byQuality = zeros(QUALITIES);
  private readonly byDomainQuality = Object.fromEntries(DOMAINS.map((d) => [d, zeros(QUALITIES)])) as Record<Domain, Record<Quality, number>>;
  private readonly assistantMessages = zeros(QUALITIES);
  private readonly assistantWords = zeros(QUALITIES);
  private readonly domainWords = zeros(DOMAINS);
  private totalWords = 0;
  private minWords = Infinity;
  private maxWords = 0;

  /** Counts one conversation. */
  add(conv: CorpusConversation): void {
    this.count++;
    this.byDomain[conv.domain]++;
    this.byQuality[conv.quality]++;
    this.byDomainQuality[conv.domain][conv.quality]++;
    let words = 0;
    for (const m of conv.messages) {
      if (m.role === "system") continue;
      const n = countWords(m.content);
      words += n;
      if (m.role === "assistant" && m.meta !== undefined) {
        this.assistantMessages[m.meta.quality]++;
        this.assistantWords[m.meta.quality] += n;
      }
    }
    this.totalWords += words;
    this.domainWords[conv.domain] += words;
    this.minWords = Math.min(this.minWords, words);
    this.maxWords = Math.max(this.maxWords, words);
  }

  /** The stats of the conversations added so far (a fresh object each call). */
  result(): CorpusStats {
    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
    return {
      conversations: this.count,
      byDomain: { ...this.byDomain },
      byQuality: { ...this.byQuality },
      byDomainQuality: Object.fromEntries(DOMAINS.map((d) => [d, { ...this.byDomainQuality[d] }])) as Record<Domain, Record<Quality, number>>,
      assistantMessagesByQuality: { ...this.assistantMessages },
      meanWords: ratio(this.totalWords, this.count),
      meanWordsByDomain: Object.fromEntries(DOMAINS.map((d) => [d, ratio(this.domainWords[d], this.byDomain[d])])) as Record<Domain, number>,
      meanAssistantWordsByQuality: Object.fromEntries(
        QUALITIES.map((q) => [q, ratio(this.assistantWords[q], this.assistantMessages[q])]),
      ) as Record<Quality, number>,
      minWords: this.count > 0 ? this.minWords : 0,
      maxWords: this.maxWords,
    };
  }
}

/**
 * Counts per domain and quality label (conversations and assistant messages) and mean lengths in
 * words (whitespace-separated tokens, system prompts excluded).
 */
export function corpusStats(conversations: Iterable<CorpusConversation>): CorpusStats {
  const collector = new CorpusStatsCollector();
  for (const conv of conversations) collector.add(conv);
  return collector.result();
}
