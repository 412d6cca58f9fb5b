import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Tokenizer } from "@huggingface/tokenizers";
import {
  BUILTIN_SPECIAL_TOKENS,
  builtinChatTemplate,
  builtinTokenizerConfig,
  countWords,
  learnMerges,
  trainBPE,
  type TrainBPEOptions,
} from "../../src/model/bpe-trainer.js";
import { BYTE_TO_CHAR, ChatTokenizer } from "../../src/model/tokenizer.js";
import { Rng } from "../../src/core/rng.js";
import { englishLikeCorpus } from "./tokenizer-fixtures.js";
import { grpoErrorOf as thrown } from "../helpers/errors.js";

const NAIVE_BPE = fileURLToPath(new URL("../reference/bpe_naive.py", import.meta.url));
const specials = [...BUILTIN_SPECIAL_TOKENS];

describe("trainBPE: hand-checked merges", () => {
  it("merges the most frequent pair first and stops below minFrequency", () => {
    // GPT-2 split: "ab" x1, " ab" x2, " abc" x1. Pairs: (a,b)=4, (Ġ,a)=3, (b,c)=1.
    // Merge 1: a+b. Then (Ġ,ab)=3, (ab,c)=1. Merge 2: Ġ+ab. Then (Ġab,c)=1 < 2: stop.
    const json = trainBPE(["ab ab ab abc"], { vocabSize: 300, specialTokens: [] });
    expect(json.model.merges).toEqual(["a b", "Ġ ab"]);
    expect(json.model.vocab.ab).toBe(256);
    expect(json.model.vocab["Ġab"]).toBe(257);
    expect(Object.keys(json.model.vocab)).toHaveLength(258);
    const all = trainBPE(["ab ab ab abc"], { vocabSize: 300, specialTokens: [], minFrequency: 1 });
    expect(all.model.merges).toEqual(["a b", "Ġ ab", "Ġab c"]);
  });

  it("breaks ties by the smaller left id, then the smaller right id", () => {
    // "xy" and " yx": (x,y), (Ġ,y), (y,x) all occur once. Ġ is byte 32 < x (120): "Ġ y" first,
    // then (x,y)=(120,121) before (Ġy,x)=(256,120).
    const json = trainBPE(["xy yx"], { vocabSize: 300, specialTokens: [], minFrequency: 1 });
    expect(json.model.merges).toEqual(["Ġ y", "x y", "Ġy x"]);
  });

  it("counts overlapping pairs and merges them left to right", () => {
    // "aaa" x1, " aaa" x2: (a,a) occurs twice per word -> 6, (Ġ,a) = 2. Merging left to right
    // turns "aaa" into [aa, a]: (aa,a) = 3, (Ġ,aa) = 2. Then [aaa]: (Ġ,aaa) = 2.
    const json = trainBPE(["aaa aaa aaa"], { vocabSize: 300, specialTokens: [] });
    expect(json.model.merges).toEqual(["a a", "aa a", "Ġ aaa"]);
    // "aaaa", " aaaa": (a,a) = 6 -> [aa, aa] twice: (aa,aa) = 2, (Ġ,aa) = 1 -> then (Ġ,aaaa) = 1 < 2.
    expect(trainBPE(["aaaa aaaa"], { vocabSize: 300, specialTokens: [] }).model.merges).toEqual(["a a", "aa aa"]);
  });

  it("stops exactly at vocabSize", () => {
    const json = trainBPE([englishLikeCorpus(3, 20_000)], { vocabSize: 300, specialTokens: specials });
    expect(json.model.merges).toHaveLength(300 - 259);
    expect(Object.keys(json.model.vocab)).toHaveLength(300);
  });
});

describe("trainBPE: against a naive reference (Python, recounting every step)", () => {
  it("learns the same merges in the same order", () => {
    const corpus = englishLikeCorpus(11, 40_000, 11, 800) + " aaaa bbbb aaaa €€€ 😀😀 日本語 日本";
    const words = countWords([corpus], specials);
    const numMerges = 400;
    const ours = learnMerges(words, numMerges, {
      firstMergeId: 259,
      minFrequency: 2,
      tokenText: [...BYTE_TO_CHAR, ...specials],
      forbidden: new Set(specials),
    });
    const encoder = new TextEncoder();
    const input = JSON.stringify({
      words: [...words].map(([w, c]) => [Array.from(encoder.encode(w)), c]),
      numMerges,
      minFrequency: 2,
      firstMergeId: 259,
    });
    const output = execFileSync("/usr/bin/python3", [NAIVE_BPE], { input, encoding: "utf8", maxBuffer: 1 << 26 });
    const reference = JSON.parse(output) as { merges: Array<[number, number]> };
    expect(ours.length).toBeGreaterThan(300);
    expect(ours).toEqual(reference.merges);
  });
});

describe("trainBPE: the tokenizer.json it returns", () => {
  const corpus = englishLikeCorpus(5, 300_000);
  const json = trainBPE([corpus], { vocabSize: 1024, specialTokens: specials });

  it("has bytes at ids 0-255, special tokens at 256-258 and dense merge ids", () => {
    BYTE_TO_CHAR.forEach((symbol, byte) => expect(json.model.vocab[symbol]).toBe(byte));
    expect(json.model.vocab[" "]).toBeUndefined(); // space is the byte symbol "Ġ"
    expect(json.added_tokens).toEqual(
      specials.map((content, i) => expect.objectContaining({ id: 256 + i, content, special: true })),
    );
    const ids = Object.values(json.model.vocab).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 1024 }, (_, i) => i));
    expect(json.model.merges).toHaveLength(1024 - 259);
    expect(json.model.type).toBe("BPE");
    expect(json.pre_tokenizer).toMatchObject({ type: "ByteLevel", use_regex: true, add_prefix_space: false });
    expect(json.decoder).toMatchObject({ type: "ByteLevel" });
    expect(json.normalizer).toBeNull();
  });

  it("each merge's result is the next vocabulary id", () => {
    json.model.merges.forEach((merge, i) => {
      const [left, right] = (merge as string).split(" ");
      expect(json.model.vocab[left + right]).toBe(259 + i);
    });
  });

  it("loads in @huggingface/tokenizers directly and round-trips", () => {
    const lib = new Tokenizer(json, { clean_up_tokenization_spaces: false });
    const text = "Hello, world!  Tabs\tand\nnewlines, émoji 😀 and <|im_end|> too.";
    const { ids } = lib.encode(text);
    expect(lib.decode(ids)).toBe(text);
    expect(ids).toContain(258);
  });

  it("compresses in-distribution text (tokens per byte < 0.6)", () => {
    const tok = ChatTokenizer.fromJSON(json, builtinTokenizerConfig());
    const heldOut = englishLikeCorpus(6, 50_000, 5); // same lexicon, other sentences
    const ids = tok.encode(heldOut);
    const tokensPerByte = ids.length / new TextEncoder().encode(heldOut).length;
    expect(tokensPerByte).toBeLessThan(0.6);
    expect(tok.decode(ids)).toBe(heldOut);
  });

  it("is deterministic: same corpus, same JSON byte for byte, whatever the document order", () => {
    const again = trainBPE([corpus], { vocabSize: 1024, specialTokens: specials });
    expect(JSON.stringify(again)).toBe(JSON.stringify(json));
    // Each text is split on its own, so word counts (and the result) ignore the order of texts.
    const documents = corpus.split("\n\n");
    const inOrder = trainBPE(documents, { vocabSize: 1024, specialTokens: specials });
    const shuffled = trainBPE(Rng.fromSeed(9).shuffle(documents), { vocabSize: 1024, specialTokens: specials });
    expect(JSON.stringify(shuffled)).toBe(JSON.stringify(inOrder));
  });

  it("never merges across special tokens in the corpus", () => {
    const chat = Array.from({ length: 200 }, (_, i) => `<|im_start|>user\nhello ${i % 7}<|im_end|>\n`).join("");
    const trained = trainBPE([chat], { vocabSize: 400, specialTokens: specials });
    for (const token of Object.keys(trained.model.vocab).slice(259)) {
      expect(token).not.toContain("|>");
      expect(token).not.toContain("<|");
    }
    const tok = ChatTokenizer.fromJSON(trained, builtinTokenizerConfig());
    const ids = tok.encode(chat, { allowSpecialTokens: true });
    expect(ids.filter((id) => id === 258)).toHaveLength(200);
    expect(tok.decode(ids)).toBe(chat);
  });
});

describe("trainBPE: individualDigits", () => {
  // Numbers everywhere, with and without a leading space, so that GPT-2's pattern would merge them.
  const rng = Rng.fromSeed(3);
  const texts = Array.from({ length: 400 }, () => {
    const [a, b] = [10 + rng.int(990), 10 + rng.int(990)];
    return `What is ${a} + ${b}? <tool_call>{"expression": "${a} + ${b}"}</tool_call> ${a + b}.`;
  });
  const digits = trainBPE(texts, { vocabSize: 600, specialTokens: specials, individualDigits: true });
  const gpt2 = trainBPE(texts, { vocabSize: 600, specialTokens: specials });

  it("writes HF's Digits pre-tokenizer before ByteLevel, and no merge contains a digit next to anything", () => {
    expect(digits.pre_tokenizer).toEqual({
      type: "Sequence",
      pretokenizers: [{ type: "Digits", individual_digits: true }, expect.objectContaining({ type: "ByteLevel", use_regex: true })],
    });
    const merged = Object.keys(digits.model.vocab).slice(259);
    expect(merged.filter((t) => /\d/.test(t))).toEqual([]);
    // Without the option the same corpus does merge digits (the test would be vacuous otherwise).
    expect(Object.keys(gpt2.model.vocab).slice(259).some((t) => /\d\d|Ġ\d/.test(t))).toBe(true);
  });

  it("gives a number the same token ids in prose and inside a tool call, and round-trips", () => {
    const tok = ChatTokenizer.fromJSON(digits, builtinTokenizerConfig());
    const prose = tok.encode("What is 407 + 38?");
    const call = tok.encode('{"expression": "407 + 38"}');
    const digitIds = (text: string) => [...text].map((c) => tok.encode(c)[0]);
    const sub = (ids: number[], part: number[]) => ids.some((_, i) => part.every((id, j) => ids[i + j] === id));
    for (const ids of [prose, call]) {
      expect(sub(ids, digitIds("407"))).toBe(true);
      expect(sub(ids, digitIds("38"))).toBe(true);
    }
    for (const text of ["What is 407 + 38?", "x1 2.50 3,000 ٣ 10x", texts[7]]) expect(tok.decode(tok.encode(text))).toBe(text);
    // The words our trainer counts are the pieces the library's pre-tokenizer produces (its
    // `pre_tokenizer` is internal, hence the narrow cast; a change there fails here, loudly).
    const lib = new Tokenizer(digits, { clean_up_tokenization_spaces: false }) as unknown as { pre_tokenizer: { pre_tokenize(text: string): string[] } };
    const libCounts = new Map<string, number>();
    for (const text of texts) for (const piece of lib.pre_tokenizer.pre_tokenize(text)) libCounts.set(piece, (libCounts.get(piece) ?? 0) + 1);
    const toSymbols = (word: string) => [...new TextEncoder().encode(word)].map((b) => BYTE_TO_CHAR[b]).join("");
    const ours = new Map([...countWords(texts, specials, { individualDigits: true })].map(([w, n]) => [toSymbols(w), n]));
    expect(ours).toEqual(libCounts);
  });
});

describe("trainBPE: option errors", () => {
  it("rejects a vocabulary smaller than bytes + specials", () => {
    const error = thrown(() => trainBPE(["abc"], { vocabSize: 257, specialTokens: specials }));
    expect(error.field).toBe("trainBPE options.vocabSize");
    expect(error.message).toContain("at least 256 + 3 special tokens = 259");
  });

  it("rejects duplicate special tokens and single byte symbols", () => {
    expect(thrown(() => trainBPE(["x"], { vocabSize: 300, specialTokens: ["<a>", "<a>"] })).field).toBe(
      "trainBPE options.specialTokens[1]",
    );
    expect(thrown(() => trainBPE(["x"], { vocabSize: 300, specialTokens: ["a"] })).message).toContain(
      "must not be single byte symbols",
    );
  });

  it("rejects non-string texts and unknown options, naming them", () => {
    const error = thrown(() => trainBPE(["ok", 42 as unknown as string], { vocabSize: 300, specialTokens: [] }));
    expect(error.field).toBe("texts[1]");
    const unknown = thrown(() =>
      trainBPE(["x"], { vocabSize: 300, specialTokens: [], vocab_size: 3 } as unknown as TrainBPEOptions),
    );
    expect(unknown.message).toContain("vocab_size");
  });
});

describe("builtinTokenizerConfig", () => {
  it("uses <|im_end|> as EOS, <|endoftext|> as padding, exact decoding and the ChatML template", () => {
    const config = builtinTokenizerConfig({ modelMaxLength: 256 });
    expect(config).toMatchObject({
      eos_token: "<|im_end|>",
      pad_token: "<|endoftext|>",
      bos_token: null,
      clean_up_tokenization_spaces: false,
      chat_template: builtinChatTemplate,
      model_max_length: 256,
    });
    const json = trainBPE(["hello there"], { vocabSize: 270, specialTokens: specials });
    const tok = ChatTokenizer.fromJSON(json, config);
    expect([tok.eosTokenId, tok.padTokenId, tok.bosTokenId]).toEqual([258, 256, undefined]);
  });
});
