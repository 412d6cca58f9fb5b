/**
 * The GRPO TypeScript kernel at the Jupyter protocol level, through Debian's jupyter_kernel_test
 * (its stock tests plus ours in kernel_suite.py: source-mapped tracebacks, a request right after an
 * error, execution counts, library objects as last values, comm_info, interrupt_reply), and the
 * interrupt acceptance test (interrupt_protocol.py): `trainer.run({ steps: 1000 })` interrupted
 * after ~2 s stops within one step, nothing is printed afterwards, and the next cell steps again;
 * and a notebook with failing cells run by `nbconvert --execute --allow-errors`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { KERNEL_DISPLAY_NAME, KERNEL_NAME } from "../../kernel/install.js";
import { ARTIFACTS, PYTHON, REPO, ensureDist, kernelEnv, nbconvertArgv, requireJupyter, run } from "./setup.js";

let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  requireJupyter();
  ensureDist();
  env = await kernelEnv();
}, 120_000);

/** The stock tests jupyter_kernel_test 0.4.5 runs for a kernel that fills in every sample. */
const STOCK = ["test_kernel_info", "test_execute_stdout", "test_execute_stderr", "test_completion", "test_is_complete", "test_error",
  "test_execute_result", "test_display_data", "test_history", "test_inspect", "test_clear_output"];

describe("the GRPO TypeScript kernel", () => {
  it("passes every test jupyter_kernel_test runs, and ours", () => {
    const result = spawnSync(PYTHON, [path.join(REPO, "test", "kernel", "kernel_suite.py"), "-v"], {
      cwd: path.join(REPO, "notebooks"), env, encoding: "utf8", timeout: 240_000,
    });
    const log = `${result.stdout}\n${result.stderr}`;
    expect(result.status, log).toBe(0);
    const outcome = new Map([...log.matchAll(/^(test_\w+) \([^)]*\) \.\.\. (\w+)/gm)].map((m) => [m[1], m[2]]));
    for (const name of STOCK) expect(outcome.get(name), `${name}\n${log}`).toBe("ok");
    const ours = [...outcome.keys()].filter((name) => !STOCK.includes(name) && name !== "test_pager");
    expect(ours.length).toBeGreaterThanOrEqual(9);
    for (const name of ours) expect(outcome.get(name), `${name}\n${log}`).toBe("ok");
    expect(log).toMatch(/\nOK( \(skipped=\d+\))?\n/);
  }, 300_000);

  it("an interrupt stops trainer.run() within one step, nothing runs on, and the next cell steps", () => {
    const out = run(PYTHON, [path.join(REPO, "test", "kernel", "interrupt_protocol.py")], { cwd: path.join(REPO, "notebooks"), env, timeoutMs: 280_000 });
    type Interrupted = {
      status: string; ename: string; via: string; stepAtInterrupt: number; stepsBefore: number; secondsToReply: number;
      messagesAfterIdle: number; stoppedAt: number; stillAt: number; steppedTo: number; stepStatus: string;
    };
    const summary = JSON.parse(out.trim().split("\n").pop()!) as { setup: { status: string }; runs: Interrupted[] };
    expect(summary.setup.status).toBe("ok");
    expect(summary.runs.map((r) => r.via)).toEqual(["signal", "message"]);
    for (const r of summary.runs) {
      console.log(`interrupt via ${r.via}: reply after ${r.secondsToReply.toFixed(2)} s, step ${r.stepAtInterrupt} when interrupted, stopped at ${r.stoppedAt}`);
      expect(r.stepsBefore).toBeGreaterThan(0); // it was training when interrupted
      expect(r.status).toBe("error");
      expect(r.ename).toBe("KernelInterrupt");
      expect(r.stoppedAt - r.stepAtInterrupt).toBeLessThanOrEqual(1); // within one step
      expect(r.messagesAfterIdle).toBe(0); // no output after the cell ended
      expect(r.stillAt).toBe(r.stoppedAt); // nothing trains on in the background
      expect(r.stepStatus).toBe("ok");
      expect(r.steppedTo).toBe(r.stoppedAt + 1);
    }
  }, 300_000);
});

describe("nbconvert --execute --allow-errors on the kernel", () => {
  it("saves execution counts, results, a proper error output for a failing cell, and runs the cells after it", () => {
    const cells = [
      'const greeting: string = "hello";\ngreeting.length',
      '// fails on purpose\nthrow new Error("intentional failure");',
      'const n: number = "text";',
      'console.log(greeting + " again");',
      '({ [Symbol.for("grpo.mimeBundle")]: () => ({ "text/html": "<b>rich</b>", "text/plain": "rich" }) })',
    ];
    const notebook = {
      cells: cells.map((source, i) => ({ cell_type: "code", id: `cell-${i}`, metadata: {}, execution_count: null, outputs: [], source })),
      metadata: { kernelspec: { name: KERNEL_NAME, display_name: KERNEL_DISPLAY_NAME, language: "typescript" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const dir = path.join(ARTIFACTS, "notebooks");
    mkdirSync(dir, { recursive: true });
    const input = path.join(dir, "failing-cell.ipynb");
    writeFileSync(input, JSON.stringify(notebook));
    const [command, args] = nbconvertArgv(["--to", "notebook", "--execute", "--allow-errors", "--ExecutePreprocessor.timeout=60", "--output", "failing-cell.executed", input]);
    run(command, args, { cwd: dir, env });
    type Out = { output_type: string; execution_count?: number; data?: Record<string, unknown>; ename?: string; evalue?: string; traceback?: string[]; text?: string | string[] };
    const executed = JSON.parse(readFileSync(path.join(dir, "failing-cell.executed.ipynb"), "utf8")) as { cells: Array<{ execution_count: number; outputs: Out[] }> };
    expect(executed.cells.map((c) => c.execution_count)).toEqual([1, 2, 3, 4, 5]);
    // nbformat stores multi-line strings as lists of lines: join them back.
    const joined = (v: unknown): unknown => (Array.isArray(v) ? v.join("") : v);
    const normal = (o: Out): Out => ({ ...o, ...(o.text !== undefined ? { text: joined(o.text) as string } : {}),
      ...(o.data ? { data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, joined(v)])) } : {}) });
    const [length, failing, typeError, after, rich] = executed.cells.map((c) => c.outputs.map(normal));
    expect(length).toEqual([{ output_type: "execute_result", execution_count: 1, data: { "text/plain": "5" }, metadata: {} }]);
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatchObject({ output_type: "error", ename: "Error", evalue: "intentional failure" });
    expect(failing[0].traceback!.join("\n")).toContain("Cell [2], line 2");
    expect(typeError).toHaveLength(1);
    expect(typeError[0]).toMatchObject({ output_type: "error", ename: "TypeScriptError" });
    expect(typeError[0].traceback!.join("\n")).toContain("Cell [3], line 1, column 7: TS2322");
    expect(after).toEqual([{ output_type: "stream", name: "stdout", text: "hello again\n" }]);
    expect(rich[0]).toMatchObject({ output_type: "execute_result", execution_count: 5, data: { "text/html": "<b>rich</b>", "text/plain": "rich" } });
  }, 120_000);
});
