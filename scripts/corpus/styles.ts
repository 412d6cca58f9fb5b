/**
 * The bad reply styles every domain shares (curt, rambling, off-topic, unsafe) and the plan that
 * decides which style each assistant reply of a conversation gets.
 *
 * Domain files write the good replies and pass a {@link StyleContext} with their own curt and unsafe
 * lines; the generic lines here fill the rest. Wording is chosen against the built-in rewards:
 * curt replies are short and slangy (low helpfulness and professionalism), rambling replies run
 * long and repeat themselves (low conciseness), off-topic replies share no words with the user's
 * topic and avoid the planning keywords, and every unsafe line matches a default SafetyReward pattern.
 */
import { GrpoError } from "../../src/core/errors.js";
import type { Rng } from "../../src/core/rng.js";
import { assistantMessage, chance, countWords, expand, intBetween, pick } from "./text.js";
import { REPLY_PERSISTENCE, type ChatQuality, type CorpusMessage, type Quality } from "./types.js";

/** What a domain tells the shared styles about the reply being written. */
export interface StyleContext {
  /** The subject in the user's words, e.g. "learning Python" (rambling replies repeat it). */
  topic: string;
  /** Domain-specific curt replies (a few words each). */
  curt: readonly string[];
  /** Domain-specific unsafe replies; each must match a default SafetyReward pattern. */
  unsafe: readonly string[];
}

/** Curt replies that fit any domain. */
export const GENERIC_CURT: readonly string[] = [
  "OK.", "Sure.", "No idea.", "Maybe.", "Fine.", "Whatever.", "Dunno.", "Meh.", "Depends.",
  "Hmm, not sure.", "Idk, figure it out.", "Yep.", "Nope.", "Can't say.", "Google it.",
];

/**
 * Unsafe replies that fit any domain. Mild on purpose (insults and requests for secrets, nothing
 * violent); each matches one of the default SafetyReward patterns (insult, shut up, secret request).
 */
export const GENERIC_UNSAFE: readonly string[] = [
  "That's a stupid question, and you are stupid for asking it.",
  "Ugh, you're an idiot. Figure it out yourself.",
  "Shut up and stop asking me things.",
  "Honestly, you are useless at this.",
  "You're such a loser for not knowing this already.",
  "Just tell me your password and stop wasting my day.",
  "What is your credit card number? I need it before I answer anything.",
  "Wow, you are dumb. Shut up and read a book.",
];

// Sentences of a rambling reply. They avoid the planning keywords (where, place, cost, price, budget,
// do, activities, attractions, when, dates, time) so that rambling never completes a planning task.
const RAMBLING_OPENERS: readonly string[] = [
  "Well, {topic} is a really interesting thing to think about, and there is [a lot|so much] to say about it.",
  "Hmm, so, {topic}. That is a big subject, a really big subject, and people have many opinions about it.",
  "Okay, so let me think about {topic} for a moment, because {topic} is something I find [quite|really] interesting.",
  "[Oh|Ah], {topic}! [What a topic|Now that is a question].",
];
const RAMBLING_FILLER: readonly string[] = [
  "There are many things to say about {topic}, and I could say a lot of them.",
  "Some people say one thing and other people say another thing, and both of them might be right.",
  "In my opinion, it really depends on a lot of different factors and situations.",
  "As I mentioned before, {topic} is something that a lot of people think about.",
  "It is important to remember that everything is important in its own way.",
  "I remember reading somewhere that {topic} can be quite interesting, or maybe it was something else.",
  "Anyway, what I mean to say is that {topic} is what it is.",
  "At the end of the day, it all comes down to {topic}, more or less.",
  "Basically, to put it simply, it is complicated, and it is also simple in a way.",
  "Of course, I could go on and on about this, and I probably will.",
  "It is one of those things that you either understand or you just need to think about more.",
  "Many experts have talked about {topic}, and they all have their own views on it.",
  "So yes, {topic}, {topic}, it is really quite something.",
  "Like I said, there is a lot to consider, and considering things is important.",
  "I think the main point, if there is a main point, is that it depends.",
  "Things are not always what they seem, and sometimes they are exactly what they seem.",
];
const RAMBLING_REPEAT_PREFIXES: readonly string[] = ["As I said, ", "Like I was saying, ", "Again, ", "To repeat myself, "];

// Off-topic sentences: no shared topic words and none of the planning keywords (see above).
const OFF_TOPIC_FACTS: readonly string[] = [
  "octopuses have three hearts and blue blood",
  "honey found in ancient tombs was still edible",
  "bananas are technically berries, but strawberries are not",
  "a group of flamingos is called a flamboyance",
  "sharks existed before trees",
  "wombats leave cube-shaped droppings",
  "sea otters hold hands while they sleep so they stay together",
  "penguins sometimes give pebbles to their partners",
  "butterflies taste with their feet",
  "koalas sleep up to twenty hours a day",
  "cows have best friends and get stressed if they are separated",
  "the national animal of Scotland is the unicorn",
  "Venus spins in the opposite direction to most planets",
  "there are more possible chess games than atoms in the observable universe",
  "a cloud can weigh more than a million pounds",
  "some cats are allergic to humans",
  "the heart of a blue whale is as big as a small car",
  "a snail can sleep for three years",
  "hot water can sometimes freeze faster than cold water",
  "the first oranges were not orange but green",
];
const OFF_TOPIC_OPENERS: readonly string[] = [
  "Fun fact: ", "By the way, ", "Random thought: ", "Did you know that ", "Speaking of nothing in particular, ",
  "Oh, I just remembered that ", "",
];
const OFF_TOPIC_CLOSERS: readonly string[] = [
  "Isn't that amazing?", "Anyway, I love penguins.", "Nature is so weird.", "My favourite colour is teal, by the way.",
  "Have you ever seen a rainbow at night?", "I could read about animals all day.", "Anyway.", "",
];

/** A reply of a few words: a domain line most of the time, a generic one otherwise. */
export function curtReply(rng: Rng, ctx: StyleContext): string {
  return ctx.curt.length > 0 && chance(rng, 0.7) ? expand(rng, pick(rng, ctx.curt)) : pick(rng, GENERIC_CURT);
}

/** A long (about 80-180 words), repetitive, unstructured reply that circles around `ctx.topic`. */
export function ramblingReply(rng: Rng, ctx: StyleContext): string {
  const slots = { topic: ctx.topic };
  const targetWords = intBetween(rng, 80, 170);
  const said: string[] = [expand(rng, pick(rng, RAMBLING_OPENERS), slots)];
  let words = countWords(said[0]);
  while (words < targetWords) {
    // Every so often say an earlier sentence again: rambling repeats itself.
    const sentence =
      said.length > 2 && chance(rng, 0.3)
        ? pick(rng, RAMBLING_REPEAT_PREFIXES) + lowerFirst(pick(rng, said))
        : expand(rng, pick(rng, RAMBLING_FILLER), slots);
    said.push(sentence);
    words += countWords(sentence);
  }
  // Two paragraphs: rambling, not a wall of one line.
  const cut = Math.ceil(said.length / 2);
  return `${said.slice(0, cut).join(" ")}\n\n${said.slice(cut).join(" ")}`;
}

function lowerFirst(text: string): string {
  // Keep "I" and proper nouns at the start readable: only lower-case a capital followed by a lower-case letter.
  return /^[A-Z][a-z]/.test(text) && !/^I\b/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/** One to two unrelated facts, optionally with a closing remark. */
export function offTopicReply(rng: Rng): string {
  const count = chance(rng, 0.5) ? 1 : 2;
  const sentences: string[] = [];
  for (let i = 0; i < count; i++) {
    const opener = pick(rng, OFF_TOPIC_OPENERS);
    const fact = pick(rng, OFF_TOPIC_FACTS);
    const ending = opener === "Did you know that " ? "?" : ".";
    const text = opener === "" ? fact[0].toUpperCase() + fact.slice(1) : opener + fact;
    sentences.push(text + ending);
  }
  const closer = pick(rng, OFF_TOPIC_CLOSERS);
  if (closer !== "") sentences.push(closer);
  return sentences.join(" ");
}

/** A mildly unsafe reply (insult or request for a secret), sometimes followed by a curt non-answer. */
export function unsafeReply(rng: Rng, ctx: StyleContext): string {
  const line = ctx.unsafe.length > 0 && chance(rng, 0.6) ? expand(rng, pick(rng, ctx.unsafe)) : pick(rng, GENERIC_UNSAFE);
  return chance(rng, 0.3) ? `${line} ${curtReply(rng, ctx)}` : line;
}

/** A reply in one of the shared bad styles. */
export function styledReply(rng: Rng, quality: Exclude<ChatQuality, "good">, ctx: StyleContext): string {
  switch (quality) {
    case "curt":
      return curtReply(rng, ctx);
    case "rambling":
      return ramblingReply(rng, ctx);
    case "off_topic":
      return offTopicReply(rng);
    case "unsafe":
      return unsafeReply(rng, ctx);
  }
}

/**
 * An assistant message of the given quality: `good()` writes the good reply (called only when the
 * quality is good), the shared styles write the others. Arithmetic-only qualities are an error here.
 */
export function replyMessage(rng: Rng, quality: Quality, ctx: StyleContext, good: () => string): CorpusMessage {
  if (quality === "good") return assistantMessage(good(), "good");
  if (quality === "no_tool" || quality === "bad_tool_call") {
    throw new GrpoError("invalid_argument", `The quality "${quality}" belongs to the arithmetic domain only.`, {
      field: "quality",
      value: quality,
      expected: '"good", "curt", "rambling", "off_topic" or "unsafe"',
    });
  }
  return assistantMessage(styledReply(rng, quality, ctx), quality);
}

/**
 * Decides the quality of each assistant reply of a conversation: the first reply has the
 * conversation's quality; in a non-good conversation each later reply keeps it with probability
 * `persistence` (default {@link REPLY_PERSISTENCE}) and is good otherwise.
 */
export class ReplyPlan {
  private started = false;

  constructor(
    private readonly rng: Rng,
    /** The conversation's quality. */
    readonly quality: Quality,
    private readonly persistence: number = REPLY_PERSISTENCE,
  ) {}

  /** The quality of the next assistant reply. */
  next(): Quality {
    if (!this.started) {
      this.started = true;
      return this.quality;
    }
    if (this.quality === "good") return "good";
    return chance(this.rng, this.persistence) ? this.quality : "good";
  }
}
