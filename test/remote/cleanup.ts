/**
 * Removes a folder made by `makeTinyModel` (its `tiny-model-*` temp parent), refusing anything else
 * so a wrong path can never delete more than the test created.
 */
import { rmSync } from "node:fs";
import path from "node:path";

export function removeTinyModel(modelDir: string | undefined): void {
  if (modelDir === undefined) return;
  const parent = path.dirname(modelDir);
  if (!path.basename(parent).startsWith("tiny-model-")) throw new Error(`refusing to remove ${parent}: not a tiny-model temp folder`);
  rmSync(parent, { recursive: true, force: true });
}
