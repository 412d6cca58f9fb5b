/**
 * From files alone: a GPT-2 folder written like HF's save_pretrained (config.json + model.safetensors
 * with the `transformer.` prefix and mask buffers) loads through loadModelFolder and reproduces the
 * PyTorch logits within 1e-4.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/model/backend.js";
import { Transformer } from "../../src/model/transformer.js";
import { loadModelFolder } from "../../src/model/weights.js";

let dir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  dir = mkdtempSync(path.join(tmpdir(), "hf-folder-"));
  execFileSync("/usr/bin/python3", [path.join(__dirname, "../reference/gpt2_folder_reference.py"), dir], { stdio: "pipe" });
});

describe("HF GPT-2 folder vs PyTorch", () => {
  it("loads config.json + model.safetensors and matches the reference logits", async () => {
    const folder = await loadModelFolder(path.join(dir, "model"));
    expect(folder.config).toMatchObject({ vocabSize: 96, nPositions: 40, nEmbd: 48, nLayer: 3, nHead: 6, nInner: 192, tieWordEmbeddings: true });
    const tensors = Object.fromEntries(Object.entries(folder.tensors).map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
    const model = Transformer.fromTensors(folder.config, tensors);
    tf.dispose(Object.values(tensors));
    const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as { inputIds: number[][]; logits: number[] };
    const ids = tf.tensor2d(ref.inputIds, undefined, "int32");
    const logits = model.forward(ids).dataSync();
    let worst = 0;
    for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - ref.logits[i]));
    expect(logits.length).toBe(ref.logits.length);
    expect(worst).toBeLessThan(1e-4);
    ids.dispose();
    model.dispose();
  });
});
