/**
 * `npm run sweep:import -- <dir> <out> [base]`: turns weights written by `export_weights.py` (a model
 * trained by the PyTorch replica, pretrain_sweep.py or induction.py) into a model folder of the
 * library's own layout (GPT-NeoX safetensors), with the tokenizer, chat template and generation config
 * of `base` (default builtin:tiny-chat, whose tokenizer made the replica's data). The folder then works
 * wherever a model name does: `npm run copy-probe -- <out>`, `npm run eval:learning -- --model <out>`.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadPolicy } from "../../src/model/registry.js";
import { Transformer } from "../../src/model/transformer.js";
import { saveDerivedModel } from "../../scripts/pretrain/save-derived.js";

const [dir, out, base = "builtin:tiny-chat"] = process.argv.slice(2);
if (dir === undefined || out === undefined) {
  console.error("usage: npm run sweep:import -- <dir with weights.json and weights.bin> <output folder> [base model]");
  process.exit(1);
}
for (const file of ["weights.json", "weights.bin"]) {
  if (!existsSync(path.join(dir, file))) {
    console.error(`${path.join(dir, file)} does not exist: write ${dir} with \`/usr/bin/python3 bench/pretrain-sweep/export_weights.py <model.pt> ${dir}\` first.`);
    process.exit(1);
  }
}
const index = JSON.parse(readFileSync(path.join(dir, "weights.json"), "utf8")) as Record<string, { shape: number[]; offset: number }>;
const raw = readFileSync(path.join(dir, "weights.bin"));
const floats = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const policy = await loadPolicy(base);
const tensors = Object.fromEntries(Object.entries(index).map(([name, { shape, offset }]) =>
  [name, tf.tensor(floats.subarray(offset, offset + shape.reduce((a, b) => a * b, 1)), shape, "float32")]));
// fromTensors checks every name and shape against the base model's config, with the previous-token
// embedding exactly when the replica had one (`prev_emb`), whatever the base model has.
const config = { ...policy.model.config, previousTokenEmbedding: "wte_prev.weight" in tensors };
const model = Transformer.fromTensors(config, tensors);
tf.dispose(Object.values(tensors));
await saveDerivedModel(out, model, policy.tokenizer, base);
model.dispose();
policy.dispose();
console.log(`wrote ${out}`);
