/**
 * Ctrl-C in `grpo train` (a real child process, process.kill(pid, "SIGINT")):
 * - one SIGINT finishes the running step, saves, prints how to continue, exits 130; the run resumes;
 * - two SIGINTs abandon the running step (it changes nothing: the saved weights are those of the
 *   last completed step's checkpoint), save and exit 130 at once, without the summary.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/model/backend.js";
import { verifyCheckpointDir } from "../../src/training/checkpoint.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "fixtures", "cli-entry.ts");
let modelDir: string;

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 4 });
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const FIRST_PRESS_ACK = "Interrupted: finishing the current step";

/**
 * Runs `grpo train …`; `delayMs` after the `step <afterStep>/` line sends SIGINT, and with
 * `presses: 2` a second one as soon as the CLI acknowledged the first (two signals sent back to
 * back could reach a busy child as one).
 */
function trainWithInterrupts(args: string[], afterStep: number, presses: number, delayMs = 0): Promise<CliRun> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "train", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let armed = false;
  let sent = 0;
  const press = () => { sent += 1; process.kill(child.pid as number, "SIGINT"); };
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    if (presses > 0 && !armed && stdout.includes(`step ${afterStep}/`)) {
      armed = true;
      setTimeout(press, delayMs);
    }
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
    if (presses > 1 && sent === 1 && stderr.includes(FIRST_PRESS_ACK)) press();
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const stepLines = (stdout: string) => stdout.split("\n").filter((l) => /^step \d+\//.test(l));
const stateStep = (dir: string) => (JSON.parse(readFileSync(path.join(dir, "trainer_state.json"), "utf8")) as { step: number }).step;
const modelHash = (dir: string) => (JSON.parse(readFileSync(path.join(dir, "checksums.json"), "utf8")) as Record<string, string>)["model/model.safetensors"];

function baseArgs(work: string, maxNewTokens: number, steps = 60): string[] {
  return [
    "--example", "quick_start", "--model", modelDir, "--backend", "wasm", "--steps", String(steps),
    "--set", "numGenerations=2", "--set", `maxNewTokens=${maxNewTokens}`, "--set", "saveSteps=1",
    "--run-dir", path.join(work, "run"), "--save", path.join(work, "saved"),
  ];
}

describe("grpo train and Ctrl-C", () => {
  it("one SIGINT: finishes the step, saves, exits 130; --resume continues from the latest checkpoint", async () => {
    const work = mkdtempSync(path.join(tmpdir(), "sigint-1-"));
    const run = await trainWithInterrupts(baseArgs(work, 8), 1, 1);
    expect(run.stderr).toContain(`${FIRST_PRESS_ACK}, then saving.`);
    expect(run.code).toBe(130);
    const done = stepLines(run.stdout).length;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(60);
    expect(run.stdout).not.toContain("discarded"); // a running step is finished, never dropped
    await verifyCheckpointDir(path.join(work, "saved"));
    expect(stateStep(path.join(work, "saved"))).toBe(done);
    expect(run.stdout).toContain(`Saved step ${done} to ${path.join(work, "saved")}.`);
    expect(run.stdout).toContain(`Continue with: grpo train --example quick_start --run-dir ${path.join(work, "run")} --resume`);
    expect(run.stdout).toMatch(/Steps: \d+ \(stopped\)/);
    expect(readFileSync(path.join(work, "run", "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(done);

    const resumed = await trainWithInterrupts([...baseArgs(work, 8, 1), "--resume", "--quiet"], 1e9, 0);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`Resumed from ${path.join(work, "run", `checkpoint-${done}`)} at step ${done}/`);
    expect(stateStep(path.join(work, "saved"))).toBe(done + 1);
  });

  it("two SIGINTs: the unfinished step is discarded, the last completed step is saved, exit 130 without summary", async () => {
    const work = mkdtempSync(path.join(tmpdir(), "sigint-2-"));
    // Soon after step 1 ends (during step 2, or a later one on a fast machine), then a second press.
    const run = await trainWithInterrupts(baseArgs(work, 24), 1, 2, 100);
    expect(run.stderr).toContain("Stopping now: the unfinished step is discarded; saving, then exiting.");
    const done = stepLines(run.stdout).length;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(run.stdout).toContain(`Step ${done + 1} did not finish and was discarded.`);
    expect(run.code).toBe(130);
    expect(run.stdout).not.toContain("Training Complete");
    const saved = path.join(work, "saved");
    await verifyCheckpointDir(saved);
    expect(stateStep(saved)).toBe(done);
    // Nothing of the abandoned step reached the weights: they equal the last periodic checkpoint's.
    expect(modelHash(saved)).toBe(modelHash(path.join(work, "run", `checkpoint-${done}`)));
    expect(readFileSync(path.join(work, "run", "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(done);
  });
});
