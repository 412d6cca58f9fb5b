/**
 * Secrets from the environment never reach an artifact: API keys are planted in process.env, then a
 * short training runs three ways (GRPOTrainer with a run folder and periodic checkpoints, `train()`
 * with a save path and its printed summary, `grpo train` with its output), the notebook displays are
 * rendered (kernel toText/toHTML), and every byte written or shown is searched for the keys.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { DiagnosticsMonitor } from "../../src/training/diagnostics.js";
import { runTraining } from "../../src/training/train.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { runTrainCommand } from "../../src/cli/train-command.js";
import { toHTML, toText } from "../../kernel/index.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

const PLANTED: Record<string, string> = {
  OPENAI_API_KEY: "sk-test-PLANTED123",
  ANTHROPIC_API_KEY: "sk-ant-PLANTED456",
  HF_TOKEN: "hf_PLANTED789",
  WANDB_API_KEY: "wandb-PLANTED000",
  AWS_SECRET_ACCESS_KEY: "aws/PLANTED+secret",
};
const saved: Record<string, string | undefined> = {};
let work: string;
let modelDir: string;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

const environment = () => new ConversationEnvironment({
  scenarios: [{ id: "hello", userResponses: ["Hi! Can you help me?", "Thanks!"] }, { id: "python", userResponses: ["I need advice on learning Python."] }],
  maxTurns: 2,
});
const reward = () => rewardFunction({ name: "length" }, (turns) => Math.min(1, turns.map((t) => t.content).join("").length / 50));

async function tinyAgent(): Promise<MultiTurnAgent> {
  return new MultiTurnAgent({ modelName: modelDir, systemPrompt: "Be nice.", maxNewTokens: 6 }, { policy: await TfPolicy.fromFolder(modelDir) });
}

beforeAll(async () => {
  for (const [name, value] of Object.entries(PLANTED)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  await selectBackend({ backend: "wasm" });
  work = mkdtempSync(path.join(tmpdir(), "secrets-"));
  modelDir = await makeTinyModel({ seed: 9 });
});

afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("secrets from the environment", () => {
  it("appear in no checkpoint, metrics file, printed output or display", async () => {
    const shown: string[] = [];
    const logSpy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => { shown.push(args.map(String).join(" ")); });
    const errSpy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => { shown.push(String(chunk)); return true; });
    try {
      // 1. The trainer, with periodic checkpoints and a final save.
      const monitor = new DiagnosticsMonitor();
      const trainer = await GRPOTrainer.create({
        agent: await tinyAgent(), environment: environment(), reward: reward(), callbacks: [monitor], runDir: path.join(work, "run"),
        configOverrides: { numGenerations: 2, maxSteps: 2, saveSteps: 1, beta: 0.04 },
      });
      await trainer.run();
      await trainer.save(path.join(work, "saved"));
      // 2. train() with a save path and its printed summary.
      await runTraining({
        agent: await tinyAgent(), environment: environment(), reward: reward(), savePath: path.join(work, "train-saved"),
        runDir: path.join(work, "train-run"), configOverrides: { numGenerations: 2, maxSteps: 1 }, verbose: true,
      });
      // 3. The notebook displays of everything a notebook shows.
      const report = trainer.lastReport;
      const displayed = [report, trainer.history, trainer.config, monitor.getHealthStatus(), ...(report?.groups ?? []),
        ...(report?.groups.flatMap((g) => g.trajectories) ?? [])];
      for (const value of displayed) shown.push(toText(value), toHTML(value));
      trainer.dispose();
    } finally {
      logSpy.mockRestore();
      errSpy.mockRestore();
    }
    // 4. `grpo train`, its output collected.
    const code = await runTrainCommand({
      example: "quick_start", model: modelDir, set: ["numGenerations=2", "maxNewTokens=4", "saveSteps=1"], steps: 1,
      runDir: path.join(work, "cli-run"), save: path.join(work, "cli-saved"), backend: "wasm",
    }, { out: (l) => shown.push(l), err: (l) => shown.push(l) });
    expect(code).toBe(0);

    const artifacts = filesUnder(work);
    const names = artifacts.map((f) => path.relative(work, f));
    // The search covers what it should: checkpoints, metrics, summaries, displays.
    for (const expected of ["run/metrics.jsonl", "run/checkpoint-2/trainer_state.json", "saved/optimizer.safetensors",
      "train-saved/model/model.safetensors", "cli-run/metrics.jsonl", "cli-saved/trainer_state.json"]) {
      expect(names).toContain(expected);
    }
    const text = [...artifacts.map((f) => readFileSync(f).toString("latin1")), ...shown].join("\n");
    expect(text).toContain("Be nice."); // the agent's own settings are saved: the search sees real content
    expect(text).toContain("Training Complete");
    expect(shown.some((s) => s.includes("<"))).toBe(true); // HTML displays were rendered
    for (const [name, value] of Object.entries(PLANTED)) {
      expect(text.includes(value), `${name} leaked`).toBe(false);
    }
    expect(text).not.toContain("PLANTED");
  });
});
