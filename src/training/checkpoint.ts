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
 * <dir>/model/                 HF model folder: config.json, model.safetensors, tokenizer files
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

/** Options of {@link verifyCheckpointDir}. */
export interface VerifyCheckpointOptions {
  /** Files (relative, `/`-separated) that must be present and covered by `checksums.json`. Default none. */
  required?: readonly string[];
}

/** Siblings an interrupted {@link writeCheckpointDir} may have left next to `dir` (for error hints). */
async function interruptedSaves(dir: string): Promise<string[]> {
  const base = path.basename(dir);
  const names = await readdir(path.dirname(dir)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(`${base}.tmp-`) || n.startsWith(`${base}.old-`)).sort();
}

/**
 * A checkpoint that failed verification (code `checkpoint_invalid`). `summary` is the one-line
 * problem (e.g. "Checkpoint file corrupted (checksum mismatch): <path>.") and `file` the path of the
 * offending file, when one file is to blame.
 */
export class CheckpointError extends GrpoError {
  readonly summary: string;
  readonly file?: string;

  constructor(summary: string, details: ConstructorParameters<typeof GrpoError>[2] & { file?: string } = {}) {
    const { file, ...rest } = details;
    super("checkpoint_invalid", summary, rest);
    this.name = "CheckpointError";
    this.summary = summary;
    if (file !== undefined) this.file = file;
  }
}

function invalid(summary: string, details: ConstructorParameters<typeof CheckpointError>[1]): CheckpointError {
  return new CheckpointError(summary, details);
}

/** Reads and checks `checksums.json`: an object of relative path -> SHA-256 hex, no path leaving `dir`. */
async function readManifest(dir: string): Promise<Record<string, string>> {
  const manifestPath = path.join(dir, CHECKSUMS_FILE);
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8"));
  } catch (cause) {
    throw invalid(`${manifestPath} is missing or unreadable, so the checkpoint cannot be verified.`, {
      field: CHECKSUMS_FILE,
      file: manifestPath,
      cause,
      fix: "use a checkpoint written by `trainer.save()`; an interrupted save leaves no checksums.json.",
    });
  }
  if (manifest === null || typeof manifest !== "object" || Array.isArray(manifest)) {
    throw invalid(`${manifestPath} is not a JSON object of file checksums.`, {
      field: CHECKSUMS_FILE,
      file: manifestPath, value: manifest, expected: '{ "<relative path>": "<sha256 hex>" }',
    });
  }
  for (const [rel, hash] of Object.entries(manifest)) {
    if (rel.split(/[\\/]/).includes("..") || path.isAbsolute(rel) || rel === "") {
      throw invalid(`${manifestPath} names a path outside the checkpoint: ${JSON.stringify(rel)}.`, {
        field: rel,
        file: manifestPath,
        fix: "checkpoint files must lie inside the checkpoint folder; this manifest was edited or forged.",
      });
    }
    if (typeof hash !== "string") {
      throw invalid(`${manifestPath} has an invalid checksum for ${rel}.`, {
        field: rel,
        file: manifestPath, value: hash, expected: "a SHA-256 hex string",
      });
    }
  }
  return manifest as Record<string, string>;
}

/** Every entry under `root` (relative paths); symbolic links and other non-files are reported, not followed. */
async function listEntries(root: string, rel = ""): Promise<{ files: string[]; links: string[] }> {
  const out = { files: [] as string[], links: [] as string[] };
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      const inner = await listEntries(root, child);
      out.files.push(...inner.files);
      out.links.push(...inner.links);
    } else if (entry.isFile()) out.files.push(child);
    else out.links.push(child);
  }
  return out;
}

/**
 * Verifies a checkpoint before anything in it is loaded: `checksums.json` must list every file of
 * the folder, and each file's SHA-256 must match. Throws `checkpoint_invalid` naming the first
 * problem's file: missing, truncated or edited (checksum mismatch), added after saving (not listed),
 * a symbolic link (never followed, so nothing outside the folder is read), or a manifest path that
 * leaves the folder. Never lets garbage load silently.
 */
export async function verifyCheckpointDir(dir: string, options: VerifyCheckpointOptions = {}): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    const leftovers = await interruptedSaves(dir);
    throw invalid(`Checkpoint not found: ${dir}.`, {
      field: "dir",
      value: dir,
      fix: leftovers.length > 0
        ? `an interrupted save left ${leftovers.join(", ")} next to it; resume from the run folder (its latest.json names the newest complete checkpoint).`
        : "pass the directory a trainer saved (it holds trainer_state.json and checksums.json).",
    });
  }
  const manifest = await readManifest(dir);
  const { files, links } = await listEntries(dir);
  if (links.length > 0) {
    throw invalid(`Checkpoint entry is not a regular file: ${path.join(dir, links[0])}.`, {
      field: links[0],
      file: path.join(dir, links[0]),
      fix: "checkpoints hold plain files only (symbolic links are never followed); copy the real file in and re-save.",
    });
  }
  for (const required of options.required ?? []) {
    if (!(required in manifest)) {
      throw invalid(`Checkpoint file missing: ${path.join(dir, required)}.`, {
        field: required,
        file: path.join(dir, required),
        fix: "resume from another checkpoint; this one is incomplete.",
      });
    }
  }
  const unlisted = files.find((f) => f !== CHECKSUMS_FILE && !(f in manifest));
  if (unlisted !== undefined) {
    throw invalid(`Checkpoint file not covered by ${CHECKSUMS_FILE}: ${path.join(dir, unlisted)}.`, {
      field: unlisted,
      file: path.join(dir, unlisted),
      fix: "it was added after the checkpoint was saved; remove it (a checkpoint loads only the files it wrote).",
    });
  }
  for (const [rel, expected] of Object.entries(manifest)) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path.join(dir, rel));
    } catch (cause) {
      throw invalid(`Checkpoint file missing: ${path.join(dir, rel)}.`, {
        field: rel,
        file: path.join(dir, rel),
        cause,
        fix: "resume from an earlier checkpoint; this file was deleted after it was saved.",
      });
    }
    if (sha256(bytes) !== expected) {
      throw invalid(`Checkpoint file corrupted (checksum mismatch): ${path.join(dir, rel)}.`, {
        field: rel,
        file: path.join(dir, rel),
        fix: "resume from an earlier checkpoint; this file was truncated or edited after it was saved.",
      });
    }
  }
}
