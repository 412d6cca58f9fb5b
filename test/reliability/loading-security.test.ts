/**
 * Loading a model or a checkpoint reads only JSON and safetensors files inside the folder, and
 * paths that try to leave the folder (shard index, checksums.json, latest.json, symbolic links,
 * `builtin:../…`) are refused before anything outside is read. Every file read is recorded by
 * wrapping node:fs / node:fs/promises.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";

const reads: string[] = [];
let recording = false;
const record = (p: unknown) => {
  if (recording && (typeof p === "string" || p instanceof URL)) reads.push(path.resolve(String(p instanceof URL ? p.pathname : p)));
};

vi.mock("node:fs/promises", async (importOriginal) => {
  const fsp = await importOriginal<typeof import("node:fs/promises")>();
  const readFile = ((p: Parameters<typeof fsp.readFile>[0], ...rest: unknown[]) => { record(p); return (fsp.readFile as (...a: unknown[]) => unknown)(p, ...rest); }) as typeof fsp.readFile;
  const open = ((p: Parameters<typeof fsp.open>[0], flags?: string | number, ...rest: unknown[]) => {
    if (flags === undefined || flags === "r") record(p);
    return (fsp.open as (...a: unknown[]) => unknown)(p, flags, ...rest);
  }) as typeof fsp.open;
  return { ...fsp, readFile, open, default: { ...fsp, readFile, open } };
});
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const readFileSync = ((p: Parameters<typeof fs.readFileSync>[0], ...rest: unknown[]) => { record(p); return (fs.readFileSync as (...a: unknown[]) => unknown)(p, ...rest); }) as typeof fs.readFileSync;
  const createReadStream = ((p: Parameters<typeof fs.createReadStream>[0], ...rest: unknown[]) => { record(p); return (fs.createReadStream as (...a: unknown[]) => unknown)(p, ...rest); }) as typeof fs.createReadStream;
  return { ...fs, readFileSync, createReadStream, default: { ...fs, readFileSync, createReadStream } };
});

const { selectBackend } = await import("../../src/model/backend.js");
const { TfPolicy } = await import("../../src/model/policy.js");
const { loadModelFolder } = await import("../../src/model/weights.js");
const { resolveModelFolder } = await import("../../src/model/registry.js");
const { writeSafetensorsFile } = await import("../../src/model/safetensors.js");
const { MultiTurnAgent } = await import("../../src/core/agent.js");
const { ConversationEnvironment } = await import("../../src/core/environment.js");
const { rewardFunction } = await import("../../src/core/reward.js");
const { GRPOTrainer, loadAgentFromCheckpoint } = await import("../../src/training/trainer.js");
const { GrpoError } = await import("../../src/core/errors.js");
const { makeTinyModel } = await import("../helpers/tiny-model.js");

let root: string;
let modelDir: string;
let checkpoint: string;
let runDir: string;
/** A valid safetensors file outside every folder under test: reading it would be the leak. */
let outside: string;

const environment = () => new ConversationEnvironment({ scenarios: [{ id: "hi", userResponses: ["Hi!"] }], maxTurns: 1 });
const reward = () => rewardFunction({ name: "constant" }, () => 0.5);

async function readsDuring(fn: () => Promise<unknown>): Promise<{ reads: string[]; error?: unknown }> {
  reads.length = 0;
  recording = true;
  try {
    await fn();
    return { reads: [...reads] };
  } catch (error) {
    return { reads: [...reads], error };
  } finally {
    recording = false;
  }
}

/**
 * Files read that are not JSON or safetensors, or lie outside `dir` (folders opened only to fsync
 * them after a write, e.g. the run folder after metrics.jsonl is rewritten, are not reads).
 */
function offending(files: string[], dir: string): string[] {
  const inside = path.resolve(dir) + path.sep;
  return files.filter((f) => !isDirectory(f) && (!f.startsWith(inside) || !/\.(json|safetensors)$/.test(f)));
}

function isDirectory(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  root = mkdtempSync(path.join(tmpdir(), "loading-"));
  modelDir = path.join(root, "model");
  cpSync(await makeTinyModel({ seed: 8 }), modelDir, { recursive: true });
  outside = path.join(root, "outside.safetensors");
  await writeSafetensorsFile(outside, { "wte.weight": { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
  const agent = new MultiTurnAgent({ modelName: modelDir, maxNewTokens: 4 }, { policy: await TfPolicy.fromFolder(modelDir) });
  const trainer = await GRPOTrainer.create({ agent, environment: environment(), reward: reward(), runDir: path.join(root, "run"),
    configOverrides: { numGenerations: 2, maxSteps: 1, saveSteps: 1, beta: 0.04 } });
  await trainer.run();
  checkpoint = path.join(root, "checkpoint");
  await trainer.save(checkpoint);
  trainer.dispose();
  runDir = path.join(root, "run");
});

describe("loading reads only JSON and safetensors inside the folder", () => {
  it("a model folder", async () => {
    const { reads: files, error } = await readsDuring(() => TfPolicy.fromFolder(modelDir));
    expect(error).toBeUndefined();
    expect(files).toContain(path.join(modelDir, "model.safetensors"));
    expect(files).toContain(path.join(modelDir, "tokenizer.json"));
    // chat_template.jinja is tried (absent here): a Jinja template for the sandboxed template engine.
    expect(offending(files, modelDir).filter((f) => f !== path.join(modelDir, "chat_template.jinja"))).toEqual([]);
  });

  it("a checkpoint (resume and loadAgentFromCheckpoint), and a run folder's latest checkpoint", async () => {
    for (const load of [
      () => GRPOTrainer.resume(checkpoint, { environment: environment(), reward: reward() }),
      () => loadAgentFromCheckpoint(checkpoint),
    ]) {
      const { reads: files, error } = await readsDuring(load);
      expect(error).toBeUndefined();
      expect(files).toContain(path.join(checkpoint, "optimizer.safetensors"));
      // The template file is probed, but a checkpoint cannot contain one that checksums.json does not list.
      expect(offending(files, checkpoint).filter((f) => f !== path.join(checkpoint, "model", "chat_template.jinja"))).toEqual([]);
    }
    const { reads: files, error } = await readsDuring(() => GRPOTrainer.resume(runDir, { environment: environment(), reward: reward() }));
    expect(error).toBeUndefined();
    expect(files).toContain(path.join(runDir, "latest.json"));
    // The run's own trajectory log is read too, to drop the lines of steps after the checkpoint
    // (only each line's leading step number is looked at).
    expect(files).toContain(path.join(runDir, "trajectories.jsonl"));
    expect(offending(files, runDir).filter((f) => !f.endsWith("chat_template.jinja") && f !== path.join(runDir, "trajectories.jsonl"))).toEqual([]);
  });
});

describe("paths that leave the folder are refused before anything outside is read", () => {
  async function refused(fn: () => Promise<unknown>, message: RegExp): Promise<string[]> {
    const { reads: files, error } = await readsDuring(fn);
    expect(error).toBeInstanceOf(GrpoError);
    expect((error as Error).message).toMatch(message);
    expect(files).not.toContain(outside);
    return files;
  }

  it("a shard index naming ../outside.safetensors", async () => {
    const dir = path.join(root, "model-escape");
    mkdirSync(dir);
    cpSync(path.join(modelDir, "config.json"), path.join(dir, "config.json"));
    writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "wte.weight": "../outside.safetensors" } }));
    await refused(() => loadModelFolder(dir), /escapes the model folder/);
  });

  it("an absolute shard path", async () => {
    const dir = path.join(root, "model-absolute");
    mkdirSync(dir);
    cpSync(path.join(modelDir, "config.json"), path.join(dir, "config.json"));
    writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "wte.weight": outside } }));
    await refused(() => loadModelFolder(dir), /escapes the model folder/);
  });

  it("checksums.json listing ../outside.safetensors", async () => {
    const dir = path.join(root, "ckpt-manifest-escape");
    cpSync(checkpoint, dir, { recursive: true });
    writeFileSync(path.join(dir, "checksums.json"), JSON.stringify({ "../outside.safetensors": "0".repeat(64) }));
    await refused(() => loadAgentFromCheckpoint(dir), /names a path outside the checkpoint/);
  });

  it("a checkpoint file replaced by a symbolic link to a file outside", async () => {
    const dir = path.join(root, "ckpt-symlink");
    cpSync(checkpoint, dir, { recursive: true });
    const target = path.join(dir, "reference.safetensors");
    rmSync(target);
    symlinkSync(outside, target);
    await refused(() => GRPOTrainer.resume(dir, { environment: environment(), reward: reward() }), /not a regular file/);
  });

  it("latest.json naming a folder outside the run", async () => {
    const dir = path.join(root, "run-escape");
    cpSync(runDir, dir, { recursive: true });
    writeFileSync(path.join(dir, "latest.json"), JSON.stringify({ checkpoint: "../checkpoint" }));
    const files = await refused(() => GRPOTrainer.resume(dir, { environment: environment(), reward: reward() }), /does not name a checkpoint folder/);
    expect(offending(files, dir)).toEqual([]);
  });

  it("a built-in model name with ../", () => {
    expect(() => resolveModelFolder("builtin:../model")).toThrow(/Not a valid built-in model name/);
  });
});
