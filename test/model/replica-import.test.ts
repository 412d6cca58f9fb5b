/**
 * `npm run sweep:import` brings weights trained by the PyTorch replica of `npm run pretrain`
 * (bench/pretrain-sweep) into the library. Checked end to end: a replica model with every parameter
 * randomised (so a transposed matrix, a swapped bias or a misnamed LayerNorm shows), written by
 * `export_weights.py` and imported, gives the replica's own logits.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/model/backend.js";
import { loadPolicy } from "../../src/model/registry.js";

const ROOT = path.join(__dirname, "../..");
const SWEEP = path.join(ROOT, "bench/pretrain-sweep");
// The replica's model at the built-in model's size, every parameter drawn at random, and its logits for one row.
const REPLICA = `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(SWEEP)})
import pretrain_sweep as ps
torch.manual_seed(0)
model = ps.GPT(2048, 128, 3, 4)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.randn_like(p) * 0.05 + (1.0 if p.dim() == 1 and p.shape[0] == 128 else 0.0) * torch.rand(()))
ids = [[5, 300, 17, 48, 49, 50, 1000, 7, 258, 12, 1999, 64]]
with torch.no_grad():
    logits = model(torch.tensor(ids))
torch.save(model.state_dict(), sys.argv[1] + "/model.pt")
json.dump({"ids": ids, "logits": logits.reshape(-1).tolist()}, open(sys.argv[1] + "/reference.json", "w"))
`;

let dir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  dir = mkdtempSync(path.join(tmpdir(), "replica-import-"));
  execFileSync("/usr/bin/python3", ["-c", REPLICA, dir], { stdio: "pipe" });
  execFileSync("/usr/bin/python3", [path.join(SWEEP, "export_weights.py"), path.join(dir, "model.pt"), path.join(dir, "weights")], { stdio: "pipe" });
  execFileSync(process.execPath, ["--import", "tsx", path.join(SWEEP, "import.ts"), path.join(dir, "weights"), path.join(dir, "model")], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

describe("replica weights in the library (npm run sweep:import)", () => {
  it("give the replica's logits, with the built-in model's tokenizer", async () => {
    const reference = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as { ids: number[][]; logits: number[] };
    const policy = await loadPolicy(path.join(dir, "model"));
    try {
      expect(policy.tokenizer.vocabSize).toBe(2048);
      const ids = tf.tensor2d(reference.ids, undefined, "int32");
      const logits = policy.model.forward(ids);
      const ours = logits.dataSync();
      tf.dispose([ids, logits]);
      expect(ours.length).toBe(reference.logits.length);
      let worst = 0;
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - reference.logits[i]));
      expect(worst).toBeLessThan(1e-3);
      // Not a vacuous match: the logits spread widely.
      expect(Math.max(...reference.logits) - Math.min(...reference.logits)).toBeGreaterThan(1);
    } finally {
      policy.dispose();
    }
  });
});
