/**
 * Saving a model derived from another one (a drill fine-tune, replica weights brought in): the
 * weights of `model`, the tokenizer files of `tokenizer`, and the generation config of the folder
 * that `base` (a model name or folder) resolves to, when it has one.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { resolveModelFolder } from "../../src/model/registry.js";
import type { ChatTokenizer } from "../../src/model/tokenizer.js";
import type { Transformer } from "../../src/model/transformer.js";
import { saveModelFolder } from "../../src/model/weights.js";

/** Writes `model` to the folder `out` with `tokenizer`'s files and `base`'s generation config. */
export async function saveDerivedModel(out: string, model: Transformer, tokenizer: ChatTokenizer, base: string): Promise<void> {
  const generationFile = path.join(resolveModelFolder(base), "generation_config.json");
  await saveModelFolder(out, model.config, await model.weightValues(), {
    files: { ...tokenizer.toFiles() },
    ...(existsSync(generationFile) ? { generationConfig: JSON.parse(readFileSync(generationFile, "utf8")) as Record<string, unknown> } : {}),
  });
}
