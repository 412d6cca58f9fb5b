/**
 * Vitest setup file: each test file gets its own scratch directory as `os.tmpdir()` (through
 * `TMPDIR`, which child processes inherit too), removed when the file's tests end. Tests create
 * their temporary folders with `mkdtemp(os.tmpdir(), …)` as usual; nothing is left in /tmp.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

const ORIGINAL_TMP = Symbol.for("grpo-agent-framework.test.originalTmpdir");
type WithOriginal = typeof globalThis & { [ORIGINAL_TMP]?: string | undefined };
const g = globalThis as WithOriginal;
// A worker process may run several files: remember the real TMPDIR once, before the first override.
if (!(ORIGINAL_TMP in g)) g[ORIGINAL_TMP] = process.env.TMPDIR;
const systemTmp = g[ORIGINAL_TMP] ?? os.tmpdir();

const scratch = mkdtempSync(path.join(systemTmp, "grpo-test-"));
process.env.TMPDIR = scratch;

afterAll(() => {
  if (g[ORIGINAL_TMP] === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = g[ORIGINAL_TMP];
  rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
});
