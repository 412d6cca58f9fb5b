// Shared fixtures for the tokenizer tests: a seeded English-like corpus and random unicode strings.
import { Rng } from "../../src/core/rng.js";

const ONSETS = ["", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "w", "th", "st", "ch", "pl", "gr"];
const VOWELS = ["a", "e", "i", "o", "u", "ea", "ou", "ai"];
const CODAS = ["", "", "n", "r", "s", "t", "nd", "ng", "ll", "st"];
const FUNCTION_WORDS = "the a of to and in is it you that for on with as I be".split(" ");

/** A lexicon of pseudo-words (1–3 syllables), deterministic for a seed. */
function lexicon(rng: Rng, size: number): string[] {
  const words = new Set<string>(FUNCTION_WORDS);
  while (words.size < size) {
    let word = "";
    const syllables = 1 + rng.int(3);
    for (let s = 0; s < syllables; s++) {
      word += ONSETS[rng.int(ONSETS.length)] + VOWELS[rng.int(VOWELS.length)] + CODAS[rng.int(CODAS.length)];
    }
    words.add(word);
  }
  return [...words];
}

/**
 * English-like text of about `bytes` bytes: Zipf-distributed pseudo-words in sentences with
 * capitals, commas, numbers, questions and paragraph breaks. The same seeds give the same text;
 * texts with the same `lexiconSeed` share their words (in-distribution for each other).
 */
export function englishLikeCorpus(seed: number, bytes: number, lexiconSeed = seed, lexiconSize = 3000): string {
  const words = lexicon(Rng.fromSeed(lexiconSeed), lexiconSize);
  const rng = Rng.fromSeed(seed);
  // Zipf: rank r has weight 1/(r+1); sample by inverting the cumulative sum.
  const cumulative: number[] = [];
  let total = 0;
  for (let r = 0; r < words.length; r++) cumulative.push((total += 1 / (r + 1)));
  const pick = () => {
    const u = rng.next() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const n = 4 + rng.int(12);
    const sentence: string[] = [];
    for (let i = 0; i < n; i++) {
      let word = rng.next() < 0.03 ? String(rng.int(2000)) : pick();
      if (i === 0) word = word[0].toUpperCase() + word.slice(1);
      sentence.push(word + (i < n - 1 && rng.next() < 0.08 ? "," : ""));
    }
    const end = rng.next() < 0.15 ? "?" : ".";
    const separator = rng.next() < 0.1 ? "\n\n" : " ";
    const text = sentence.join(" ") + end + separator;
    parts.push(text);
    length += text.length;
  }
  return parts.join("");
}

/** Characters the random strings draw from, by class. */
const CHAR_CLASSES: Array<(rng: Rng) => string> = [
  (rng) => String.fromCharCode(0x20 + rng.int(0x5f)), // printable ASCII
  (rng) => [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n "][rng.int(8)], // whitespace runs
  (rng) => String.fromCharCode(0xa0 + rng.int(0x160)), // Latin-1 and Latin Extended
  (rng) => String.fromCharCode(0x300 + rng.int(0x70)), // combining marks
  (rng) => String.fromCharCode(0x4e00 + rng.int(0x5000)), // CJK
  (rng) => String.fromCodePoint(0x1f300 + rng.int(0x300)), // emoji (astral plane)
  (rng) => String.fromCodePoint(0x10000 + rng.int(0x10000)), // other astral characters
  (rng) => String.fromCharCode(rng.int(0x20)), // control characters, NUL included
  (rng) => ["<|im_end|>", "<|im_start|>", "<|endoftext|>", "<tool_call>", "'s", "'ll"][rng.int(6)],
  (rng) => String.fromCharCode(0x600 + rng.int(0x100)), // Arabic
];

/** A random well-formed (no lone surrogates) string of up to `maxParts` pieces. */
export function randomUnicodeString(rng: Rng, maxParts = 24): string {
  let text = "";
  const parts = rng.int(maxParts + 1);
  for (let i = 0; i < parts; i++) text += CHAR_CLASSES[rng.int(CHAR_CLASSES.length)](rng);
  // Code points in 0xD800–0xDFFF would be lone surrogates; the classes above never produce them.
  return text;
}
