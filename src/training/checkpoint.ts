/**
 * Atomic checkpoint directories.
 *
 * A checkpoint is written into a temporary sibling directory, every file fsynced, a `checksums.json`
 * (SHA-256 of each file) added, and only then renamed into place. Readers therefore see either the
 * previous complete checkpoint or the new complete one; a crash mid-write leaves at most a
 * `*.tmp-*` directory behind, never a half-written checkpoint. Loading verifies every checksum and
 * names the file that does not match.
 *
 * Layout:
 * ```
 * <dir>/model/                 HF GPT-2 folder: config.json, model.safetensors, tokenizer files
 * <dir>/optimizer.safetensors  AdamW moments (`m/<param>`, `v/<param>`)
 * <dir>/reference.safetensors  reference-model weights (only when beta > 0)
 * <dir>/trainer_state.json     step, episodes, config, RNG states, sampler position, history, …
 * <dir>/checksums.json         { "<relative path>": "<sha256 hex>" }
 * ```
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { GrpoError } from "../core/errors.js";

/** The checksum manifest file name. */
export const CHECKSUMS_FILE = "checksums.json";

async function listFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out.sort();
}

async function fsyncPath(p: string): Promise<void> {
  try {
    const handle = await open(p, "r");
    await handle.sync().finally(() => handle.close());
  } catch {
    /* some platforms cannot open directories for fsync: best effort */
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Writes a checkpoint directory atomically. `fill(tmpDir)` writes the files into a fresh temporary
 * directory; then checksums are recorded, everything is fsynced and the directory is renamed to
 * `dir` (replacing an existing checkpoint there only after the new one is complete).
 */
export async function writeCheckpointDir(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    const files = (await listFiles(tmp)).filter((f) => f !== CHECKSUMS_FILE);
    const checksums: Record<string, string> = {};
    for (const f of files) {
      checksums[f] = sha256(await readFile(path.join(tmp, f)));
      await fsyncPath(path.join(tmp, f));
    }
    await writeFile(path.join(tmp, CHECKSUMS_FILE), `${JSON.stringify(checksums, null, 2)}\n`);
    await fsyncPath(path.join(tmp, CHECKSUMS_FILE));
    for (const d of new Set(files.map((f) => path.dirname(f)))) await fsyncPath(path.join(tmp, d));
    await fsyncPath(tmp);

    const existing = await stat(target).catch(() => undefined);
    if (existing) {
      const old = `${target}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
    await fsyncPath(path.dirname(target));
  } catch (cause) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw cause;
  }
}

/**
 * Checks every file listed in `checksums.json` against its SHA-256. Throws `checkpoint_invalid`
 * naming the first missing or corrupted file; never lets garbage load silently.
 */
export async function verifyCheckpointDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new GrpoError("checkpoint_invalid", `Checkpoint not found: ${dir}.`, {
      field: "dir",
      value: dir,
      fix: "pass the directory a trainer saved (it holds trainer_state.json and checksums.json).",
    });
  }
  let manifest: Record<string, string>;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, CHECKSUMS_FILE), "utf8"));
  } catch (cause) {
    throw new GrpoError("checkpoint_invalid", `${path.join(dir, CHECKSUMS_FILE)} is missing or unreadable, so the checkpoint cannot be verified.`, {
      field: CHECKSUMS_FILE,
      cause,
      fix: "use a checkpoint written by `trainer.save()`; an interrupted save leaves no checksums.json.",
    });
  }
  for (const [rel, expected] of Object.entries(manifest)) {
    if (rel.split("/").includes("..") || path.isAbsolute(rel)) {
      throw new GrpoError("checkpoint_invalid", `${CHECKSUMS_FILE} names a path outside the checkpoint.`, { field: rel });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path.join(dir, rel));
    } catch (cause) {
      throw new GrpoError("checkpoint_invalid", `Checkpoint file missing: ${path.join(dir, rel)}.`, { field: rel, cause });
    }
    if (sha256(bytes) !== expected) {
      throw new GrpoError("checkpoint_invalid", `Checkpoint file corrupted (checksum mismatch): ${path.join(dir, rel)}.`, {
        field: rel,
        fix: "resume from an earlier checkpoint; this file was truncated or edited after it was saved.",
      });
    }
  }
}
