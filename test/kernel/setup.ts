/**
 * Shared setup of the kernel tests that run real notebooks: an up-to-date dist/ (the kernel runs from
 * it and cells load the package through `require`, i.e. the built JavaScript), the project-local
 * GRPO TypeScript kernel registered
 * under test/artifacts/, and the Debian Jupyter tools. Missing tools fail loudly (never skip).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { ensureSelfLink, installKernel } from "../../kernel/install.js";

/** The repository root. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Where executed notebooks, HTML exports, screenshots and the demo-model cache go (gitignored). */
export const ARTIFACTS = path.join(REPO, "test", "artifacts");
/** The interpreter that has Debian's Jupyter packages (the PATH python3 may not). */
export const PYTHON = "/usr/bin/python3";
/** Debian's Chromium, driven by playwright-core. */
export const CHROMIUM = "/usr/bin/chromium";

/** Debian's Chromium, headless and offline-friendly (no background networking, updates or sync). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}
/** The Debian packages these tests need (installed by `npm test`'s pretest and `.ci/run`). */
export const DEBIAN_PACKAGES = ["jupyter-notebook", "python3-nbconvert", "python3-nbclient", "python3-jupyter-client", "python3-jupyter-kernel-test", "chromium"];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** True when dist/ is older than some source file of src/ or kernel/. */
export function distIsStale(): boolean {
  const outputs = ["dist/src/index.js", "dist/kernel/index.js", "dist/src/cli/main.js"].map((f) => path.join(REPO, f));
  if (!outputs.every(existsSync)) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return Math.max(newestMtime(path.join(REPO, "src")), newestMtime(path.join(REPO, "kernel"))) > built;
}

/**
 * Builds dist/ with tsc when stale. tsc emits even when it reports type errors; those are the
 * typecheck's business, so they are printed, and the notebooks then fail on their own if the
 * emitted code is broken.
 */
export function ensureDist(): void {
  if (!distIsStale()) return;
  const tsc = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: REPO, encoding: "utf8" });
  if (result.status !== 0) console.warn(`tsc reported errors while building dist/ for the kernel tests:\n${result.stdout}${result.stderr}`);
  if (distIsStale()) throw new Error(`tsc did not produce an up-to-date dist/:\n${result.stdout}${result.stderr}`);
}

/** Fails with the package list when Debian's Jupyter (nbconvert, nbclient, jupyter_client) is missing. */
export function requireJupyter(): void {
  const check = spawnSync(PYTHON, ["-c", "import nbconvert, nbclient, jupyter_client, nbformat"], { encoding: "utf8" });
  if (check.error || check.status !== 0) {
    throw new Error(`Jupyter is missing for ${PYTHON} (${check.error?.message ?? check.stderr.trim()}). ` +
      `Install the Debian packages: apt-get install ${DEBIAN_PACKAGES.join(" ")}`);
  }
}

/** Fails with the package list when Debian's Chromium is missing. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing. Install the Debian packages: apt-get install ${DEBIAN_PACKAGES.join(" ")}`);
}

/** Registers the GRPO TypeScript kernel under test/artifacts/jupyter; returns the env the Jupyter tools need. */
export async function kernelEnv(): Promise<NodeJS.ProcessEnv> {
  const prefix = path.join(ARTIFACTS, "jupyter");
  const result = await installKernel({ prefix, projectDir: REPO });
  ensureSelfLink(REPO);
  const cache = path.join(ARTIFACTS, "cache");
  mkdirSync(cache, { recursive: true });
  return { ...process.env, JUPYTER_PATH: result.jupyterPath, GRPO_CACHE_DIR: cache, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
}

/** `jupyter nbconvert …` when Debian's `jupyter-nbconvert` script is installed, else `python3 -m nbconvert …`. */
export function nbconvertArgv(args: string[]): [string, string[]] {
  if (existsSync("/usr/bin/jupyter-nbconvert")) return ["/usr/bin/jupyter", ["nbconvert", ...args]];
  return [PYTHON, ["-m", "nbconvert", ...args]];
}

/** Runs a command, returning stdout; throws with its output when it fails. */
export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(command, args, { cwd: options.cwd ?? REPO, env: options.env, encoding: "utf8", timeout: options.timeoutMs ?? 180_000, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}
