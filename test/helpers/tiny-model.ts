/**
 * Builds a tiny, randomly initialised model folder for end-to-end tests: a byte-level BPE tokenizer
 * trained on a small fixed corpus, the built-in chat template, and a GPT-2 with random weights.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BUILTIN_SPECIAL_TOKENS, builtinTokenizerConfig, trainBPE } from "../../src/model/bpe-trainer.js";
import { ChatTokenizer } from "../../src/model/tokenizer.js";
import { Transformer } from "../../src/model/transformer.js";
import { saveModelFolder, type ParameterMap } from "../../src/model/weights.js";
import type { ModelConfig } from "../../src/model/config.js";

const CORPUS = [
  "Hi! Can you help me? Yes, I can help you learn Python.",
  "My device is not working. Have you tried restarting it? Yes, that did not help.",
  "Thank you for the suggestions! You are welcome, good luck.",
  "What is 2 + 3? The answer is 5. Let me use the calculator.",
  "yes yes yes no maybe okay sure thanks hello world",
];

export interface TinyModelOptions {
  seed?: number;
  vocabSize?: number;
  nEmbd?: number;
  nLayer?: number;
  nHead?: number;
  nPositions?: number;
}

/** Writes a tiny model folder and returns its path. */
export async function makeTinyModel(options: TinyModelOptions = {}): Promise<string> {
  const tokenizerJson = trainBPE(CORPUS.flatMap((s) => [s, s.toLowerCase()]), {
    vocabSize: options.vocabSize ?? 300,
    specialTokens: [...BUILTIN_SPECIAL_TOKENS],
  });
  const tokenizerConfig = builtinTokenizerConfig();
  const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
  const config: ModelConfig = {
    vocabSize: tokenizer.vocabSize,
    nPositions: options.nPositions ?? 128,
    nEmbd: options.nEmbd ?? 32,
    nLayer: options.nLayer ?? 2,
    nHead: options.nHead ?? 4,
    nInner: 4 * (options.nEmbd ?? 32),
    layerNormEpsilon: 1e-5,
    tieWordEmbeddings: true,
    eosTokenId: tokenizer.eosTokenId,
  };
  const model = Transformer.init(config, { seed: options.seed ?? 0 });
  const params: ParameterMap = {};
  for (const [name, v] of Object.entries(model.params)) params[name] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
  model.dispose();
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "tiny-model-")), "model");
  await saveModelFolder(dir, config, params, { files: { ...tokenizer.toFiles() } });
  return dir;
}

/**
 * Removes a folder made by {@link makeTinyModel} (its `tiny-model-*` temp parent), refusing anything
 * else so a wrong path can never delete more than the test created.
 */
export function removeTinyModel(modelDir: string | undefined): void {
  if (modelDir === undefined) return;
  const parent = path.dirname(modelDir);
  if (!path.basename(parent).startsWith("tiny-model-")) throw new Error(`refusing to remove ${parent}: not a tiny-model temp folder`);
  rmSync(parent, { recursive: true, force: true });
}
