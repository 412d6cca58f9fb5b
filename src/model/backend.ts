/**
 * Chooses the TensorFlow.js backend that runs the model, and says what it chose and why.
 *
 * `auto` tries, in order: `tensorflow-gpu` (`@tensorflow/tfjs-node-gpu`, CUDA), `tensorflow`
 * (`@tensorflow/tfjs-node`, native libtensorflow), `wasm` (`@tensorflow/tfjs-backend-wasm`, SIMD,
 * one thread in Node) and `cpu` (pure JavaScript, ~30× slower than wasm: a last resort). The two
 * native packages are optional peer dependencies, loaded with a dynamic import that fails cleanly
 * when they are not installed.
 *
 * Forcing a backend (the `backend` option, or the `GRPO_BACKEND` environment variable when the
 * option is not given) never falls back silently: a forced backend that cannot load throws a
 * {@link GrpoError} with code `backend_unavailable` naming the backend, the cause and how to install it.
 */
import * as tf from "@tensorflow/tfjs";
import { GrpoError } from "../core/errors.js";
import { installWasmKernels } from "./wasm-kernels.js";

/** A backend this library can run on. */
export type BackendName = "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu";

/** A backend request: one backend, or `auto` for the fastest that loads. */
export type BackendRequest = BackendName | "auto";

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * The backend to use. Default: the `GRPO_BACKEND` environment variable if set, else `auto`.
   * Anything but `auto` is forced: it loads or throws, never falling back.
   */
  backend?: BackendRequest;
}

/** What one backend candidate looked like when the selection ran. */
export interface BackendCandidate {
  name: BackendName;
  /** True when the backend loaded (or, for candidates after the chosen one, its package imports). */
  available: boolean;
  /** Why it is or is not available, or why it was not tried. */
  reason: string;
}

/** The outcome of {@link selectBackend}. */
export interface BackendReport {
  /** The active tfjs backend, as `tf.getBackend()` names it (`tensorflow`, `wasm` or `cpu`). */
  name: string;
  /** What was asked for (after reading `GRPO_BACKEND`). */
  requested: BackendRequest;
  /** One sentence: why this backend runs. */
  reason: string;
  /** Every candidate in the order `auto` tries them. */
  candidates: BackendCandidate[];
}

const BACKEND_ORDER: readonly BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];
const REQUESTS: readonly BackendRequest[] = [...BACKEND_ORDER, "auto"];

/** The tfjs backend name each of ours registers under. */
const TFJS_NAME: Record<BackendName, string> = {
  "tensorflow-gpu": "tensorflow",
  tensorflow: "tensorflow",
  wasm: "wasm",
  cpu: "cpu",
};

/** How to get each backend, for error messages. */
const INSTALL_HINT: Record<BackendName, string> = {
  "tensorflow-gpu":
    "install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (needs CUDA and downloads libtensorflow), " +
    "or choose `backend: \"wasm\"`.",
  tensorflow:
    "install it with `npm install @tensorflow/tfjs-node@4.22.0` (downloads libtensorflow at install time), " +
    "or choose `backend: \"wasm\"`.",
  wasm: "reinstall the dependency with `npm install @tensorflow/tfjs-backend-wasm@4.22.0`, or choose `backend: \"cpu\"`.",
  cpu: "reinstall `@tensorflow/tfjs` (the cpu backend ships with it).",
};

interface Attempt {
  available: boolean;
  reason: string;
}

let lastReport: BackendReport | undefined;
let pending: Promise<BackendReport> | undefined;

/** The report of the last successful {@link selectBackend}, or undefined before the first. */
export function backendReport(): BackendReport | undefined {
  return lastReport;
}

function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return "the package is not installed";
    return error.message.split("\n")[0];
  }
  return String(error);
}

/** Imports a package by a name TypeScript does not resolve (an optional dependency). */
async function importOptional(packageName: string): Promise<void> {
  await import(/* @vite-ignore */ packageName);
}

async function importPackage(name: BackendName): Promise<void> {
  if (name === "tensorflow-gpu") await importOptional("@tensorflow/tfjs-node-gpu");
  else if (name === "tensorflow") await importOptional("@tensorflow/tfjs-node");
  else if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  // cpu is part of the @tensorflow/tfjs bundle.
}

/** Imports the backend's package and makes it the active tfjs backend. */
async function activate(name: BackendName): Promise<Attempt> {
  try {
    await importPackage(name);
  } catch (error) {
    return { available: false, reason: `could not import its package: ${describeCause(error)}` };
  }
  const tfjsName = TFJS_NAME[name];
  if (tf.findBackendFactory(tfjsName) === null && tf.findBackend(tfjsName) === null) {
    return { available: false, reason: `its package loaded but registered no "${tfjsName}" backend` };
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfjsName);
    await tf.ready();
  } catch (error) {
    return { available: false, reason: `initialisation failed: ${describeCause(error)}` };
  }
  if (!ok) return { available: false, reason: "initialisation failed (tfjs could not start it)" };
  if (name === "wasm") installWasmKernels();
  return { available: true, reason: await describeActive(name) };
}

async function describeActive(name: BackendName): Promise<string> {
  if (name === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    return `WebAssembly ${simd ? "with" : "WITHOUT"} SIMD, ${threads ? "multi-threaded" : "one thread"}`;
  }
  if (name === "cpu") {
    // The cpu backend prints an install advert on first use in Node; our reason already says it.
    const backend = tf.backend() as unknown as { firstUse?: boolean };
    if (typeof backend.firstUse === "boolean") backend.firstUse = false;
    return "pure JavaScript (slow; a last resort)";
  }
  return name === "tensorflow-gpu" ? "native libtensorflow with CUDA" : "native libtensorflow";
}

/** Checks only that a candidate's package imports (used for candidates after the chosen one). */
async function probe(name: BackendName): Promise<Attempt> {
  try {
    await importPackage(name);
    return { available: true, reason: "its package imports; not tried because an earlier candidate was chosen" };
  } catch (error) {
    return { available: false, reason: `could not import its package: ${describeCause(error)}` };
  }
}

function resolveRequest(options: SelectBackendOptions): { requested: BackendRequest; source: string } {
  if (options.backend !== undefined) {
    if (!REQUESTS.includes(options.backend)) {
      throw new GrpoError("invalid_argument", "Unknown backend.", {
        field: "backend",
        value: options.backend,
        expected: REQUESTS.map((r) => `"${r}"`).join(", "),
      });
    }
    return { requested: options.backend, source: "the `backend` option" };
  }
  const fromEnv = process.env.GRPO_BACKEND?.trim();
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!(REQUESTS as readonly string[]).includes(fromEnv)) {
      throw new GrpoError("invalid_argument", "Unknown backend in the GRPO_BACKEND environment variable.", {
        field: "GRPO_BACKEND",
        value: fromEnv,
        expected: REQUESTS.map((r) => `"${r}"`).join(", "),
        fix: "set GRPO_BACKEND to one of those names, or unset it for `auto`.",
      });
    }
    return { requested: fromEnv as BackendRequest, source: "GRPO_BACKEND" };
  }
  return { requested: "auto", source: "the default" };
}

async function runSelection(requested: BackendRequest, source: string): Promise<BackendReport> {
  if (requested !== "auto") {
    const attempt = await activate(requested);
    if (!attempt.available) {
      throw new GrpoError("backend_unavailable", `The "${requested}" backend could not be loaded: ${attempt.reason}.`, {
        field: source === "GRPO_BACKEND" ? "GRPO_BACKEND" : "backend",
        value: requested,
        fix: INSTALL_HINT[requested],
      });
    }
    return {
      name: tf.getBackend(),
      requested,
      reason: `forced by ${source}: ${attempt.reason}`,
      candidates: [{ name: requested, ...attempt }],
    };
  }
  const candidates: BackendCandidate[] = [];
  let chosen: { name: BackendName; attempt: Attempt } | undefined;
  for (const name of BACKEND_ORDER) {
    const attempt = chosen === undefined ? await activate(name) : await probe(name);
    candidates.push({ name, ...attempt });
    if (chosen === undefined && attempt.available) chosen = { name, attempt };
  }
  if (chosen === undefined) {
    throw new GrpoError("backend_unavailable", "No TensorFlow.js backend could be loaded.", {
      field: "backend",
      value: requested,
      fix: candidates.map((c) => `${c.name}: ${c.reason}`).join("; "),
    });
  }
  const winner = chosen;
  const skipped = candidates.filter((c) => !c.available && BACKEND_ORDER.indexOf(c.name) < BACKEND_ORDER.indexOf(winner.name));
  const why = skipped.length > 0 ? ` (${skipped.map((c) => `${c.name}: ${c.reason}`).join("; ")})` : "";
  return {
    name: tf.getBackend(),
    requested,
    reason: `auto: ${winner.name} is the fastest backend that loaded${why}; ${winner.attempt.reason}`,
    candidates,
  };
}

/**
 * Selects and initialises the tfjs backend (see the module comment for the order and rules).
 *
 * Idempotent: a call without a `backend` option returns the cached report once a backend is chosen
 * (`GRPO_BACKEND` is read by the first selection only); a call that forces a different backend, or
 * asks for `auto` after a forced one, selects again. Concurrent calls wait for each other.
 *
 * @throws GrpoError `backend_unavailable` when a forced backend cannot load; `invalid_argument` for
 *   an unknown name in `backend` or `GRPO_BACKEND`.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendReport> {
  const { requested, source } = resolveRequest(options);
  if (pending !== undefined) await pending.catch(() => undefined);
  const cached = lastReport;
  if (cached !== undefined && tf.getBackend() === cached.name) {
    // No explicit wish keeps whatever was chosen (GRPO_BACKEND is read by the first selection only).
    if (options.backend === undefined) return cached;
    if (requested === "auto" ? cached.requested === "auto" : TFJS_NAME[requested] === cached.name) return cached;
  }
  pending = runSelection(requested, source);
  try {
    lastReport = await pending;
    return lastReport;
  } finally {
    pending = undefined;
  }
}
