/**
 * Run-folder bookkeeping (checkpoints.ts): the latest.json pointer, rotation, leftovers of
 * interrupted writes, and which checkpoint a resume picks (with and without fallback).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CheckpointError, writeCheckpointDir } from "../../src/training/checkpoint.js";
import {
  findResumeCheckpoint, folderKind, listCheckpoints, readLatest, removeLeftovers, rewriteMetricsLog, rotateCheckpoints, writeLatest,
} from "../../src/training/checkpoints.js";

const fresh = () => mkdtempSync(path.join(tmpdir(), "run-"));

/** A checkpoint with the files a trainer checkpoint must have (dummy contents). */
async function fakeCheckpoint(runDir: string, step: number): Promise<string> {
  const dir = path.join(runDir, `checkpoint-${step}`);
  await writeCheckpointDir(dir, async (tmp) => {
    mkdirSync(path.join(tmp, "model"));
    writeFileSync(path.join(tmp, "model", "config.json"), "{}");
    writeFileSync(path.join(tmp, "model", "model.safetensors"), `weights of step ${step}`);
    writeFileSync(path.join(tmp, "optimizer.safetensors"), `moments of step ${step}`);
    writeFileSync(path.join(tmp, "trainer_state.json"), JSON.stringify({ step }));
  });
  return dir;
}

async function runWith(steps: number[], latest?: number): Promise<string> {
  const runDir = fresh();
  for (const step of steps) await fakeCheckpoint(runDir, step);
  if (latest !== undefined) await writeLatest(runDir, latest);
  return runDir;
}

/** The id of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid as number;
}

describe("latest.json", () => {
  it("round-trips and is replaced atomically (no temporary file left)", async () => {
    const runDir = await runWith([3, 5]);
    expect(await readLatest(runDir)).toBeUndefined();
    await writeLatest(runDir, 3);
    await writeLatest(runDir, 5);
    expect(await readLatest(runDir)).toEqual({ step: 5, name: "checkpoint-5", dir: path.join(runDir, "checkpoint-5") });
    expect(readdirSync(runDir).sort()).toEqual(["checkpoint-3", "checkpoint-5", "latest.json"]);
  });

  it("is never followed outside the run folder, and garbage is an error naming the file", async () => {
    const runDir = await runWith([1]);
    for (const name of ["../checkpoint-1", "/etc", "checkpoint-1/../../x", 7]) {
      writeFileSync(path.join(runDir, "latest.json"), JSON.stringify({ checkpoint: name }));
      await expect(readLatest(runDir)).rejects.toThrow(`${path.join(runDir, "latest.json")} does not name a checkpoint folder of this run.`);
    }
    writeFileSync(path.join(runDir, "latest.json"), "{ checkpoint");
    await expect(readLatest(runDir)).rejects.toThrow(`${path.join(runDir, "latest.json")} is not valid JSON.`);
  });
});

describe("rotation", () => {
  it("keeps the newest `limit` checkpoints up to the current step and leaves later ones alone", async () => {
    const runDir = await runWith([1, 2, 3, 4, 9]);
    expect(await rotateCheckpoints(runDir, { limit: 2, currentStep: 4, keep: "checkpoint-4" })).toEqual(["checkpoint-1", "checkpoint-2"]);
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([3, 4, 9]);
  });

  it("never removes the checkpoint it is told to keep", async () => {
    const runDir = await runWith([1, 2, 3]);
    expect(await rotateCheckpoints(runDir, { limit: 1, currentStep: 3, keep: "checkpoint-1" })).toEqual(["checkpoint-2"]);
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([1, 3]);
  });
});

describe("leftovers of interrupted writes", () => {
  it("are removed when their process is gone, kept while it lives", async () => {
    const runDir = await runWith([1]);
    const dead = deadPid();
    const names = [`checkpoint-2.tmp-${dead}-ab12cd34`, `checkpoint-1.old-${dead}-00ff00ff`, `checkpoint-0.deleting-${dead}-12345678`,
      `latest.json.tmp-${dead}-abcdef012345`, `checkpoint-3.tmp-${process.pid}-ab12cd34`];
    for (const name of names) mkdirSync(path.join(runDir, name));
    writeFileSync(path.join(runDir, "notes.txt"), "mine");
    expect(await removeLeftovers(runDir)).toEqual(names.slice(0, 4).sort());
    expect(readdirSync(runDir).sort()).toEqual(["checkpoint-1", `checkpoint-3.tmp-${process.pid}-ab12cd34`, "notes.txt"]);
  });
});

describe("which checkpoint a resume uses", () => {
  it("the one latest.json names, even when a newer folder exists (a save that crashed before the pointer)", async () => {
    const runDir = await runWith([1, 2, 3], 2);
    expect(await findResumeCheckpoint(runDir)).toEqual({ dir: path.join(runDir, "checkpoint-2"), runDir, skipped: [] });
  });

  it("the newest checkpoint when there is no pointer; the folder itself when given a checkpoint", async () => {
    const runDir = await runWith([4, 10]);
    expect((await findResumeCheckpoint(runDir)).dir).toBe(path.join(runDir, "checkpoint-10"));
    expect(await findResumeCheckpoint(path.join(runDir, "checkpoint-4"))).toEqual({ dir: path.join(runDir, "checkpoint-4"), skipped: [] });
    expect(await folderKind(runDir)).toBe("run");
    expect(await folderKind(path.join(runDir, "checkpoint-4"))).toBe("checkpoint");
    expect(await folderKind(path.join(runDir, "nothing"))).toBe("other");
  });

  it("a corrupt newest checkpoint: an error naming the file and the intact one, or with fallback the intact one", async () => {
    const runDir = await runWith([1, 2, 3], 3);
    truncateSync(path.join(runDir, "checkpoint-3", "optimizer.safetensors"), 4);
    const error = await findResumeCheckpoint(runDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(`is corrupt: Checkpoint file corrupted (checksum mismatch): ${path.join(runDir, "checkpoint-3", "optimizer.safetensors")}.`);
    expect((error as Error).message).toContain(`the newest intact checkpoint is ${path.join(runDir, "checkpoint-2")} (step 2)`);
    expect((error as Error).message).toContain("fallback: true");
    const source = await findResumeCheckpoint(runDir, { fallback: true });
    expect(source.dir).toBe(path.join(runDir, "checkpoint-2"));
    expect(source.skipped).toEqual([{ dir: path.join(runDir, "checkpoint-3"),
      reason: `Checkpoint file corrupted (checksum mismatch): ${path.join(runDir, "checkpoint-3", "optimizer.safetensors")}.` }]);
  });

  it("a missing pointed-to checkpoint or a garbage pointer falls back only when asked", async () => {
    const runDir = await runWith([1, 2], 5);
    await expect(findResumeCheckpoint(runDir)).rejects.toThrow(`Checkpoint not found: ${path.join(runDir, "checkpoint-5")}.`);
    expect((await findResumeCheckpoint(runDir, { fallback: true })).dir).toBe(path.join(runDir, "checkpoint-2"));
    writeFileSync(path.join(runDir, "latest.json"), "garbage");
    await expect(findResumeCheckpoint(runDir)).rejects.toThrow("latest.json is not valid JSON.");
    expect((await findResumeCheckpoint(runDir, { fallback: true })).dir).toBe(path.join(runDir, "checkpoint-2"));
  });

  it("nothing intact at all is an error listing every problem", async () => {
    const runDir = await runWith([1, 2], 2);
    for (const step of [1, 2]) writeFileSync(path.join(runDir, `checkpoint-${step}`, "trainer_state.json"), "{}");
    await expect(findResumeCheckpoint(runDir, { fallback: true })).rejects.toThrow(
      new RegExp(`No intact checkpoint in the run folder .*checkpoint-2/trainer_state\\.json\\..*checkpoint-1/trainer_state\\.json\\.`));
  });

  it("an incomplete checkpoint (a required file never saved) is not resumable", async () => {
    const runDir = fresh();
    const dir = path.join(runDir, "checkpoint-1");
    await writeCheckpointDir(dir, async (tmp) => writeFileSync(path.join(tmp, "trainer_state.json"), "{}"));
    await expect(findResumeCheckpoint(dir)).rejects.toThrow(`Checkpoint file missing: ${path.join(dir, "model/config.json")}.`);
  });
});

describe("metrics.jsonl", () => {
  it("is rewritten to exactly the given steps", async () => {
    const runDir = fresh();
    writeFileSync(path.join(runDir, "metrics.jsonl"), '{"step":1}\n{"step":2}\n{"step":3}\n');
    await rewriteMetricsLog(runDir, [{ step: 1, reward: 0.5 }, { step: 2, reward: 0.25 }]);
    expect(readFileSync(path.join(runDir, "metrics.jsonl"), "utf8")).toBe('{"step":1,"reward":0.5}\n{"step":2,"reward":0.25}\n');
    expect(existsSync(path.join(runDir, "metrics.jsonl"))).toBe(true);
    expect(readdirSync(runDir)).toEqual(["metrics.jsonl"]);
  });
});
