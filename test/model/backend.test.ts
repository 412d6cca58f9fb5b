// Backend selection: the auto order, forcing, GRPO_BACKEND, idempotence and the clear error.
import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import { backendReport, selectBackend } from "../../src/model/backend.js";

const savedEnv = process.env.GRPO_BACKEND;

afterEach(() => {
  if (savedEnv === undefined) delete process.env.GRPO_BACKEND;
  else process.env.GRPO_BACKEND = savedEnv;
});

async function rejection(promise: Promise<unknown>): Promise<GrpoError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GrpoError);
    return error as GrpoError;
  }
  throw new Error("expected a GrpoError");
}

// Tests run in order and share the module's cached selection.
describe("selectBackend", () => {
  it("GRPO_BACKEND forces a backend: an unavailable one is a clear error, an unknown one too", async () => {
    expect(backendReport()).toBeUndefined();
    process.env.GRPO_BACKEND = "tensorflow-gpu";
    const e = await rejection(selectBackend());
    expect(e.code).toBe("backend_unavailable");
    expect(e.field).toBe("GRPO_BACKEND");
    expect(e.message).toContain('"tensorflow-gpu"');
    expect(e.message).toContain("not installed");
    expect(e.fix).toContain("npm install @tensorflow/tfjs-node-gpu");
    process.env.GRPO_BACKEND = "tpu";
    const unknown = await rejection(selectBackend());
    expect(unknown.code).toBe("invalid_argument");
    expect(unknown.field).toBe("GRPO_BACKEND");
    expect(backendReport()).toBeUndefined(); // nothing was selected
    process.env.GRPO_BACKEND = "cpu";
    const report = await selectBackend();
    expect(report).toMatchObject({ name: "cpu", requested: "cpu" });
    expect(report.reason).toContain("GRPO_BACKEND");
  });

  it("auto tries tensorflow-gpu, tensorflow, wasm, cpu and picks wasm here", async () => {
    const report = await selectBackend({ backend: "auto" });
    expect(report.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(report.requested).toBe("auto");
    expect(report.candidates.map((c) => c.name)).toEqual(["tensorflow-gpu", "tensorflow", "wasm", "cpu"]);
    expect(report.candidates.map((c) => c.available)).toEqual([false, false, true, true]);
    expect(report.candidates[0].reason).toContain("not installed");
    expect(report.candidates[2].reason).toMatch(/SIMD/);
    expect(report.reason).toMatch(/^auto: wasm/);
    expect(backendReport()).toBe(report);
  });

  it("is idempotent: a call without a wish, or with the same backend, returns the cached report", async () => {
    const first = backendReport();
    process.env.GRPO_BACKEND = "cpu"; // read by the first selection only
    expect(await selectBackend()).toBe(first);
    expect(await selectBackend({ backend: "auto" })).toBe(first);
    const [a, b] = await Promise.all([selectBackend(), selectBackend()]);
    expect(a).toBe(first);
    expect(b).toBe(first);
  });

  it("forcing tensorflow, which is not installed, names the backend, the cause and the fix, and keeps the backend", async () => {
    const e = await rejection(selectBackend({ backend: "tensorflow" }));
    expect(e.code).toBe("backend_unavailable");
    expect(e.field).toBe("backend");
    expect(e.message).toMatch(/The "tensorflow" backend could not be loaded: could not import its package: the package is not installed/);
    expect(e.fix).toContain("npm install @tensorflow/tfjs-node@4.22.0");
    expect(e.fix).toContain('backend: "wasm"');
    expect(tf.getBackend()).toBe("wasm");
    expect(backendReport()?.name).toBe("wasm");
  });

  it("switches when a different backend is forced, and back", async () => {
    const cpu = await selectBackend({ backend: "cpu" });
    expect(cpu.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    const wasm = await selectBackend({ backend: "wasm" });
    expect(wasm.name).toBe("wasm");
    expect(wasm.reason).toContain("forced by the `backend` option");
    // A tensor op runs on the selected backend.
    const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]);
    expect(sum).toBe(6);
  });

  it("rejects an unknown backend option", async () => {
    const e = await rejection(selectBackend({ backend: "webgpu" as never }));
    expect(e.code).toBe("invalid_argument");
    expect(e.message).toContain('"webgpu"');
  });
});
