/**
 * The run folder's logs: a real run writes its trajectory groups and reward components, the reader
 * gets them back, a torn last line after a crash does not break reading or the next append, and a
 * used run folder is refused unless resumed (resume keeps appending consistently).
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { GrpoError } from "../../src/core/errors.js";
import { CompositeReward, rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import type { StepReport } from "../../src/training/events.js";
import {
  appendJsonLines, loggedGroupToTrajectoryGroup, readRunLog, TRAJECTORIES_FILE, truncateTrajectoryLog, type LoggedGroup,
} from "../../src/training/runlog.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

let modelDir: string;
const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 5 });
  temps.push(path.dirname(modelDir));
});
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

const scenarios = [
  { id: "hello", userResponses: ["Hi! Can you help me?", "Thanks!"] },
  { id: "python", userResponses: ["I need advice on learning Python."] },
];
const letterShare = (letters: string, name: string, weight: number) => rewardFunction({ name, weight }, (turns) => {
  const text = turns.filter((t) => t.role === "assistant").map((t) => t.content).join(" ");
  let n = 0;
  for (const ch of text) if (letters.includes(ch)) n++;
  return text.length ? n / text.length : 0;
});
const reward = () => new CompositeReward([letterShare("yes", "yes_share", 0.75), letterShare("aeiou", "vowels", 0.25)]);
const environment = () => new ConversationEnvironment({ scenarios, maxTurns: 2 });

async function newTrainer(runDir: string, overrides: Record<string, unknown> = {}): Promise<GRPOTrainer> {
  const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 6 });
  agent.policy = await TfPolicy.fromFolder(modelDir);
  return GRPOTrainer.create({
    agent, environment: environment(), reward: reward(), runDir,
    configOverrides: { numGenerations: 3, scenariosPerStep: 2, learningRate: 1e-3, seed: 3, ...overrides },
  });
}

function trajectoryLines(runDir: string): LoggedGroup[] {
  return readFileSync(path.join(runDir, TRAJECTORIES_FILE), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as LoggedGroup);
}

describe("a training run's logs", () => {
  it("logs every step's groups with turns, rewards, components and advantages, and reads them back", async () => {
    const runDir = path.join(tempDir("runlog-"), "run");
    const trainer = await newTrainer(runDir, { logTokenLogprobs: true });
    const reports: StepReport[] = [await trainer.step(), await trainer.step()];
    trainer.dispose();

    const log = await readRunLog(runDir);
    expect(log.notes).toEqual([]);
    expect(log.metrics.map((m) => m.step)).toEqual([1, 2]);
    // run.json: what the trainer was created with.
    expect(log.info).toMatchObject({ format: "grpo-agent-framework/run", version: 1, profile: "balanced", agent: { className: "MultiTurnAgent", modelName: modelDir } });
    expect(log.info?.config).toMatchObject({ numGenerations: 3, scenariosPerStep: 2, logTokenLogprobs: true, logTrajectorySteps: 1 });
    // Reward components per step (the CompositeReward's breakdown) are in the metrics lines.
    for (const [i, m] of log.metrics.entries()) {
      const trajectories = reports[i].groups.flatMap((g) => g.trajectories);
      const yes = trajectories.map((t) => t.rewardBreakdown.yes_share);
      expect(m["rewards/yes_share/mean"]).toBeCloseTo(yes.reduce((a, b) => a + b, 0) / yes.length, 12);
      expect(m).toHaveProperty("rewards/vowels/mean");
    }
    expect(log.groups.map((g) => [g.step, g.group, g.scenarioId])).toEqual(
      reports.flatMap((r) => r.groups.map((g, i) => [r.step, i, g.scenarioId])));
    for (const logged of log.groups) {
      const report = reports[logged.step - 1];
      const group = report.groups[logged.group];
      expect(logged.trajectories.map((t) => t.advantage)).toEqual(report.advantages[logged.group]);
      logged.trajectories.forEach((t, i) => {
        const original = group.trajectories[i];
        expect(t.totalReward).toBe(original.totalReward);
        expect(t.turnRewards).toEqual(original.turnRewards);
        expect(t.rewardBreakdown).toEqual(original.rewardBreakdown);
        expect(t.reward?.weights).toEqual({ yes_share: 0.75, vowels: 0.25 });
        expect(t.turns.map((turn) => [turn.role, turn.content])).toEqual(original.turns.map((turn) => [turn.role, turn.content]));
        const sampled = original.turns.filter((turn) => turn.generation);
        expect(sampled.length).toBeGreaterThan(0);
        const loggedSampled = t.turns.filter((turn) => turn.tokenIds);
        expect(loggedSampled.map((turn) => turn.tokenIds)).toEqual(sampled.map((turn) => turn.generation?.tokenIds));
        loggedSampled.forEach((turn, k) => turn.logprobs?.forEach((lp, j) => expect(lp).toBeCloseTo(sampled[k].generation?.logprobs[j] as number, 4)));
      });
      // Back to library objects for the kernel's views: same rewards and advantages, in the same order.
      const rebuilt = loggedGroupToTrajectoryGroup(logged);
      expect(rebuilt.group.rewards).toEqual(group.rewards);
      expect(rebuilt.advantages).toEqual(report.advantages[logged.group]);
      expect(rebuilt.group.trajectories[0].turns.some((turn) => (turn.generation?.tokenIds.length ?? 0) > 0)).toBe(true);
    }
  });

  it("logs trajectories only every logTrajectorySteps steps, without tokens by default, and not at all with 0", async () => {
    const runDir = path.join(tempDir("runlog-every-"), "run");
    const trainer = await newTrainer(runDir, { logTrajectorySteps: 2 });
    for (let i = 0; i < 3; i++) await trainer.step();
    trainer.dispose();
    const lines = trajectoryLines(runDir);
    expect([...new Set(lines.map((l) => l.step))]).toEqual([2]);
    const assistant = lines[0].trajectories[0].turns.find((t) => t.role === "assistant");
    expect(assistant?.numTokens).toBeGreaterThan(0);
    expect(assistant?.tokenIds).toBeUndefined();

    const quiet = path.join(tempDir("runlog-off-"), "run");
    const off = await newTrainer(quiet, { logTrajectorySteps: 0 });
    await off.step();
    off.dispose();
    const read = await readRunLog(quiet);
    expect(read.groups).toEqual([]);
    expect(read.notes.join(" ")).toContain("trajectories.jsonl is missing");
  });

  it("refuses a run folder that holds an earlier run; resume drops later lines and keeps appending", async () => {
    const runDir = path.join(tempDir("runlog-resume-"), "run");
    const trainer = await newTrainer(runDir, { saveSteps: 1 });
    await trainer.step();
    await trainer.step();
    trainer.dispose();
    // A folder whose trainer never stepped (only run.json) is not a run yet: it may be reused.
    const idle = path.join(tempDir("runlog-idle-"), "run");
    (await newTrainer(idle)).dispose();
    const second = await newTrainer(idle);
    // Once it logged a step without saving a checkpoint, there is nothing to resume: say so.
    await second.step();
    second.dispose();
    await expect(newTrainer(idle)).rejects.toThrow(/already holds an earlier run \(metrics\.jsonl, trajectories\.jsonl\)\..*Fix: that run saved no checkpoint to resume from: pass a new runDir/);

    const error = await newTrainer(runDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrpoError);
    expect((error as GrpoError).message).toContain(`The run folder ${runDir} already holds an earlier run (metrics.jsonl, trajectories.jsonl, latest.json, 2 checkpoint folders)`);
    expect((error as GrpoError).message).toContain("GRPOTrainer.resume");
    expect(readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);

    // Resume from checkpoint-1 into the same folder: step 2's lines go, the new step 2 is appended.
    const step2Before = trajectoryLines(runDir).filter((l) => l.step === 2);
    const resumed = await GRPOTrainer.resume(path.join(runDir, "checkpoint-1"), { environment: environment(), reward: reward(), runDir });
    expect(trajectoryLines(runDir).map((l) => l.step)).toEqual([1, 1]);
    await resumed.step();
    resumed.dispose();
    const log = await readRunLog(runDir);
    expect(log.metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(log.groups.map((g) => g.step)).toEqual([1, 1, 2, 2]);
    // Same seed, same checkpoint: the resumed step 2 is the step 2 of the first timeline.
    expect(log.groups.filter((g) => g.step === 2)).toEqual(step2Before);
  });
});

describe("crash safety of the JSON-lines logs", () => {
  const metric = (step: number) => JSON.stringify({ step, reward: step / 10, loss: null });

  it("skips a torn last line with a note, and the next append cuts it off", async () => {
    const runDir = tempDir("torn-");
    const file = path.join(runDir, "metrics.jsonl");
    writeFileSync(file, `${metric(1)}\n${metric(2)}\n{"step":3,"rew`);
    const log = await readRunLog(runDir);
    expect(log.metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(log.metrics[0].loss).toBeNaN();
    expect(log.notes[0]).toMatch(/metrics\.jsonl: skipped a torn last line \(14 bytes/);

    await appendJsonLines(file, [{ step: 3, reward: 0.3 }]);
    expect(readFileSync(file, "utf8")).toBe(`${metric(1)}\n${metric(2)}\n{"step":3,"reward":0.3}\n`);
    expect((await readRunLog(runDir)).notes.filter((n) => n.startsWith("metrics"))).toEqual([]);

    // A file that is only a torn line is cut to nothing before the append.
    writeFileSync(file, '{"step":1,"re');
    await appendJsonLines(file, [{ step: 1 }]);
    expect(readFileSync(file, "utf8")).toBe('{"step":1}\n');
  });

  it("a torn trajectory line is skipped too, and resume truncation drops it and later steps", async () => {
    const runDir = tempDir("torn-traj-");
    writeFileSync(path.join(runDir, "metrics.jsonl"), `${metric(1)}\n${metric(2)}\n`);
    const group = (step: number) => ({ step, group: 0, scenarioId: "s", trajectories: [] });
    const file = path.join(runDir, TRAJECTORIES_FILE);
    writeFileSync(file, `${JSON.stringify(group(1))}\n${JSON.stringify(group(2))}\n{"step":3,"gro`);
    const log = await readRunLog(runDir);
    expect(log.groups.map((g) => g.step)).toEqual([1, 2]);
    expect(log.notes).toEqual(["trajectories.jsonl: skipped a torn last line (14 bytes; the run stopped while writing it)."]);
    await truncateTrajectoryLog(runDir, 1);
    expect(readFileSync(file, "utf8")).toBe(`${JSON.stringify(group(1))}\n`);
  });

  it("names what is wrong with a missing, empty or damaged run folder", async () => {
    const base = tempDir("bad-run-");
    await expect(readRunLog(path.join(base, "nope"))).rejects.toThrow(`The run folder ${path.join(base, "nope")} does not exist.`);
    mkdirSync(path.join(base, "empty"));
    await expect(readRunLog(path.join(base, "empty"))).rejects.toThrow(/is not a run folder: it has no metrics\.jsonl/);
    writeFileSync(path.join(base, "empty", "metrics.jsonl"), "");
    await expect(readRunLog(path.join(base, "empty"))).rejects.toThrow(/has no completed step yet/);
    const damaged = path.join(base, "damaged");
    mkdirSync(damaged);
    writeFileSync(path.join(damaged, "metrics.jsonl"), `${metric(1)}\nnot json\n${metric(3)}\n`);
    await expect(readRunLog(damaged)).rejects.toThrow(`${path.join(damaged, "metrics.jsonl")} line 2 is not valid JSON.`);
    writeFileSync(path.join(damaged, "metrics.jsonl"), `${metric(1)}\n{"step":"two"}\n`);
    await expect(readRunLog(damaged)).rejects.toThrow(/Invalid metrics\.jsonl line 2\. Field: `metrics\.jsonl line 2\.step`/);
    writeFileSync(path.join(damaged, "metrics.jsonl"), `${metric(1)}\n`);
    appendFileSync(path.join(damaged, TRAJECTORIES_FILE), `${JSON.stringify({ step: 1, group: 0, scenarioId: "", trajectories: [] })}\n`);
    await expect(readRunLog(damaged)).rejects.toThrow(/Field: `trajectories\.jsonl line 1\.scenarioId`/);
  });
});
