/**
 * Crash safety in `npm test`: 3 seeded SIGKILL trials (the 20-trial version is `npm run test:crash`).
 * Each killed run must resume from its run folder in a fresh process and end bit-identical to the
 * uninterrupted run: final weights, optimizer and reference files, metrics.jsonl, trajectories.jsonl, latest.json and the
 * rotated checkpoint folders (saveTotalLimit 2).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/model/backend.js";
import { makeTinyModel } from "../helpers/tiny-model.js";
import { runCrashTrials } from "./crash-harness.js";

let modelDir: string;

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 3 });
});

describe("crash safety (SIGKILL at seeded random moments)", () => {
  it("3 killed runs resume bit-identically to the uninterrupted run", async () => {
    const lines: string[] = [];
    const { reference, trials } = await runCrashTrials({
      trials: 3, seed: 11, steps: 4, modelDir, workDir: mkdtempSync(path.join(tmpdir(), "crash-")), log: (l) => lines.push(l),
    });
    // The reference itself is what a good run leaves: 4 metric lines, the last 2 checkpoints, a pointer.
    expect(reference.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(reference.checkpoints).toEqual(["checkpoint-3", "checkpoint-4"]);
    expect(reference.latest).toBe("checkpoint-4");
    expect(Object.keys(reference.finalChecksums).sort()).toEqual(["model/model.safetensors", "optimizer.safetensors", "reference.safetensors"]);
    for (const trial of trials) {
      expect(trial.killed, lines.join("\n")).toBe(true);
      expect(trial.differences, lines.join("\n")).toEqual([]);
    }
  });
});
