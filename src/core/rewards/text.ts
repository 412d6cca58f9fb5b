/**
 * Text helpers shared by the built-in rule-based rewards: word tokens, content words, phrase
 * matching, and the per-turn bookkeeping (which user message an assistant turn answers, per-turn
 * breakdowns, means). Deterministic and dependency-free.
 */
import type { ConversationTurn } from "../trajectory.js";
import type { RewardResult } from "../reward.js";

/** Lower-cased word tokens: runs of letters/digits, with inner apostrophes (`don't`, `user's`). */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? [];
}

/** Number of word tokens (see {@link wordsOf}). */
export function wordCount(text: string): number {
  return wordsOf(text).length;
}

// Function words that say nothing about a message's topic.
const STOPWORDS = new Set(
  (
    "a an the and or but if then so than that this these those there here of to in on at by for with from " +
    "about into over under as is am are was were be been being do does did doing have has had having " +
    "i me my mine we us our you your yours he him his she her it its they them their what which who whom " +
    "when where why how can could would should will shall may might must not no yes all any some just " +
    "very really too also only more most much many such own same other again once hi hello hey thanks " +
    "thank please okay ok sure well get got let let's i'm i've i'd i'll you're you've it's that's can't " +
    "don't doesn't didn't won't isn't aren't need want like know help"
  ).split(" "),
);

/**
 * A crude English suffix stripper, enough to match `learning`/`learned`/`learns` with `learn`:
 * drop a possessive `'s`, then the first of `ing`, `ed`, `es`, `s` (not after `s`) that leaves at
 * least 3 letters, then a final `e` if 3 letters remain.
 */
export function stem(word: string): string {
  let w = word.replace(/['’]s$/, "");
  for (const suffix of ["ing", "ed", "es", "s"]) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3 && !(suffix === "s" && w.endsWith("ss"))) {
      w = w.slice(0, -suffix.length);
      break;
    }
  }
  if (w.endsWith("e") && w.length - 1 >= 3) w = w.slice(0, -1);
  return w;
}

/** The stems of the words of `text` that carry topic: not stopwords, at least 3 characters. */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of wordsOf(text)) if (w.length >= 3 && !STOPWORDS.has(w)) out.add(stem(w));
  return out;
}

/** How many elements of `a` are in `b`. */
export function overlapCount(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let n = 0;
  for (const x of a) if (b.has(x)) n++;
  return n;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A case-insensitive regex matching any of `phrases` as whole words (`\b` on word edges; inner
 * spaces match any whitespace). Phrases are literal text, never patterns.
 */
export function phraseRegex(phrases: readonly string[]): RegExp {
  const alternatives = phrases.map((p) => {
    const body = escapeRegExp(p.trim()).replace(/\s+/g, "\\s+");
    const head = /^\w/.test(p.trim()) ? "\\b" : "";
    const tail = /\w$/.test(p.trim()) ? "\\b" : "";
    return `${head}${body}${tail}`;
  });
  return new RegExp(`(?:${alternatives.join("|")})`, "i");
}

/** All distinct matches of `phrases` in `text` (lower-cased, in order of first appearance). */
export function phraseMatches(text: string, phrases: readonly string[]): string[] {
  const found: string[] = [];
  for (const phrase of phrases) {
    if (phraseRegex([phrase]).test(text)) found.push(phrase.toLowerCase());
  }
  return found;
}

/** One assistant turn seen by a reward: its position and the user message it answers. */
export interface AssistantTurnView {
  /** The assistant turn. */
  turn: ConversationTurn;
  /** 0-based index among the assistant turns (the `i` of `turn_<i>`). */
  index: number;
  /** The content of the latest user turn before it, if any. */
  userMessage?: string;
  /** The contents of the earlier assistant turns, in order. */
  previousReplies: string[];
}

/** The assistant turns of `turns`, each with the user message it answers and the replies before it. */
export function assistantTurnViews(turns: readonly ConversationTurn[]): AssistantTurnView[] {
  const views: AssistantTurnView[] = [];
  let lastUser: string | undefined;
  const replies: string[] = [];
  for (const turn of turns) {
    if (turn.role === "user") lastUser = turn.content;
    else if (turn.role === "assistant") {
      const view: AssistantTurnView = { turn, index: views.length, previousReplies: [...replies] };
      if (lastUser !== undefined) view.userMessage = lastUser;
      views.push(view);
      replies.push(turn.content);
    }
  }
  return views;
}

/** One weighted part of a turn's score; `value` undefined means "does not apply to this turn". */
export interface TurnPart {
  /** The part's weight (> 0). */
  weight: number;
  /** The part's value in [0, 1], or undefined when it does not apply. */
  value: number | undefined;
}

/**
 * The weighted mean of the parts that apply: sum(w_k * v_k) / sum(w_k) over parts with a value, so
 * a part that does not apply to a turn (no user message to address, …) neither helps nor hurts.
 * 0 when no part applies.
 */
export function weightedParts(parts: readonly TurnPart[]): number {
  let num = 0;
  let den = 0;
  for (const p of parts) {
    if (p.value === undefined) continue;
    num += p.weight * p.value;
    den += p.weight;
  }
  return den > 0 ? num / den : 0;
}

/** Mean of the defined values; undefined when there are none. */
export function meanDefined(values: ReadonlyArray<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  if (defined.length === 0) return undefined;
  return defined.reduce((a, b) => a + b, 0) / defined.length;
}

/**
 * The usual result of a per-turn reward: score = mean of `turnScores` (0 with no assistant turn),
 * breakdown `turn_<i>` per turn plus, per named part, its mean over the turns it applied to.
 */
export function turnMeanResult(
  turnScores: readonly number[],
  parts: Record<string, ReadonlyArray<number | undefined>>,
  metadata: Record<string, unknown>,
  explain: (score: number) => string,
): RewardResult {
  const breakdown: Record<string, number> = {};
  turnScores.forEach((s, i) => (breakdown[`turn_${i}`] = s));
  for (const [name, values] of Object.entries(parts)) {
    const m = meanDefined(values);
    if (m !== undefined) breakdown[name] = m;
  }
  const score = turnScores.length > 0 ? turnScores.reduce((a, b) => a + b, 0) / turnScores.length : 0;
  const explanation = turnScores.length > 0 ? explain(score) : "no assistant turn to score";
  return { score, breakdown, metadata: { numTurns: turnScores.length, ...metadata }, explanation };
}
