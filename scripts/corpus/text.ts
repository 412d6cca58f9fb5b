/**
 * Small building blocks of the corpus generator: seeded choices and a tiny template language.
 *
 * Templates keep the domain files readable: `"[Sure|Of course]! Here are {n} tips for {topic}."`
 * picks one alternative of every `[a|b|c]` group (groups nest; an empty alternative makes a part
 * optional: `[really |]`) and fills every `{slot}` from a table. All randomness comes from the
 * {@link Rng} passed in, so a conversation is a pure function of its seed.
 */
import { GrpoError } from "../../src/core/errors.js";
import type { Rng } from "../../src/core/rng.js";
import type { CorpusMessage, Quality } from "./types.js";

/** One uniformly chosen element of a non-empty list. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

/** `k` distinct elements (in random order) of a list with at least `k` elements. */
export function pickDistinct<T>(rng: Rng, items: readonly T[], k: number): T[] {
  // Partial Fisher-Yates on a copy: only the first k positions are shuffled.
  const pool = items.slice();
  const n = Math.min(k, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}

/** True with probability `p`. */
export function chance(rng: Rng, p: number): boolean {
  return rng.next() < p;
}

/** A uniform integer in [lo, hi] (both included). */
export function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/**
 * A key drawn with probability proportional to its weight. Keys are tried in the table's insertion
 * order, so the draw is deterministic for a given random number.
 */
export function pickWeighted<K extends string>(rng: Rng, weights: Readonly<Record<K, number>>): K {
  const keys = Object.keys(weights) as K[];
  let total = 0;
  for (const k of keys) total += weights[k];
  let u = rng.next() * total;
  for (const k of keys) {
    u -= weights[k];
    if (u < 0) return k;
  }
  return keys[keys.length - 1];
}

/** The text with its first letter upper-cased. */
export function capitalize(text: string): string {
  return text.length === 0 ? text : text[0].toUpperCase() + text.slice(1);
}

/** Whitespace-separated tokens of a text (the corpus's notion of "words"). */
export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

// ---------------------------------------------------------------------------------------------
// Templates

/** A parsed template: literal text, a choice among alternatives, or a slot to fill. */
type TemplateNode = string | { choices: TemplateNode[][] } | { slot: string };

const parsedTemplates = new Map<string, TemplateNode[]>();

function templateError(template: string, reason: string): GrpoError {
  return new GrpoError("invalid_argument", `Corpus template error: ${reason}.`, {
    field: "template",
    value: template,
    expected: "text with balanced `[a|b]` choices and `{slot}` names",
  });
}

/** Parses `template` from `start` until an unmatched `]` or `|` (inside a choice) or the end. */
function parseSequence(template: string, start: number, inChoice: boolean): { nodes: TemplateNode[]; end: number } {
  const nodes: TemplateNode[] = [];
  let literal = "";
  let i = start;
  const flush = () => {
    if (literal !== "") nodes.push(literal);
    literal = "";
  };
  while (i < template.length) {
    const ch = template[i];
    if (ch === "[") {
      flush();
      const choices: TemplateNode[][] = [];
      i++;
      for (;;) {
        const alt = parseSequence(template, i, true);
        choices.push(alt.nodes);
        i = alt.end;
        if (template[i] === "|") i++;
        else if (template[i] === "]") break;
        else throw templateError(template, "a `[` is never closed");
      }
      nodes.push({ choices });
      i++;
    } else if (ch === "{") {
      flush();
      const close = template.indexOf("}", i);
      if (close < 0) throw templateError(template, "a `{` is never closed");
      nodes.push({ slot: template.slice(i + 1, close) });
      i = close + 1;
    } else if (inChoice && (ch === "|" || ch === "]")) {
      break;
    } else if (ch === "]" || ch === "}") {
      throw templateError(template, `an unmatched \`${ch}\``);
    } else {
      literal += ch;
      i++;
    }
  }
  flush();
  return { nodes, end: i };
}

function parseTemplate(template: string): TemplateNode[] {
  let nodes = parsedTemplates.get(template);
  if (nodes === undefined) {
    const parsed = parseSequence(template, 0, false);
    nodes = parsed.nodes;
    parsedTemplates.set(template, nodes);
  }
  return nodes;
}

/** Values that fill `{slot}`s. */
export type Slots = Readonly<Record<string, string | number>>;

function render(rng: Rng, nodes: readonly TemplateNode[], slots: Slots, template: string): string {
  let out = "";
  for (const node of nodes) {
    if (typeof node === "string") out += node;
    else if ("slot" in node) {
      const value = slots[node.slot];
      if (value === undefined) throw templateError(template, `no value for the slot \`{${node.slot}}\``);
      out += String(value);
    } else out += render(rng, pick(rng, node.choices), slots, template);
  }
  return out;
}

/**
 * Expands a template: every `[a|b|c]` becomes one uniformly chosen alternative (recursively),
 * every `{name}` becomes `slots[name]`. Throws a GrpoError for unbalanced brackets or a slot
 * without a value (a bug in a domain file).
 */
export function expand(rng: Rng, template: string, slots: Slots = {}): string {
  return render(rng, parseTemplate(template), slots, template);
}

/** Expands one uniformly chosen template of a list. */
export function expandOne(rng: Rng, templates: readonly string[], slots: Slots = {}): string {
  return expand(rng, pick(rng, templates), slots);
}

/** A numbered list (`1. a\n2. b`), the structure the helpfulness reward recognises. */
export function numberedList(items: readonly string[]): string {
  return items.map((item, i) => `${i + 1}. ${item}`).join("\n");
}

/** A bulleted list (`- a\n- b`). */
export function bulletList(items: readonly string[]): string {
  return items.map((item) => `- ${item}`).join("\n");
}

// ---------------------------------------------------------------------------------------------
// Messages

/** A user message. */
export function userMessage(content: string): CorpusMessage {
  return { role: "user", content };
}

/** An assistant message labelled with its quality. */
export function assistantMessage(content: string, quality: Quality): CorpusMessage {
  return { role: "assistant", content, meta: { quality } };
}
