// A whole pretraining run, end to end, on the quick preset (~5 s each): corpus, tokenizer, model,
// the main schedule, the episode drill's stages, evaluation, the folder, the log and the card.
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { QUICK_PRESET, pretrain } from "../../scripts/pretrain.js";
import type { TrainingLog } from "../../scripts/pretrain/log.js";
import { renderModelCard } from "../../scripts/pretrain/card.js";
import { loadModelFolder } from "../../src/model/weights.js";

const quiet = async <T>(work: () => Promise<T>): Promise<T> => {
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    return await work();
  } finally {
    process.stdout.write = write;
  }
};

describe("pretrain --quick", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pretrain-run-"));
  let log: TrainingLog;
  let oneStage: TrainingLog;

  beforeAll(async () => {
    log = await quiet(() => pretrain({ seed: 2, out: path.join(dir, "a"), quick: true, backend: "wasm", reproCheck: false, progress: false }));
    oneStage = await quiet(() => pretrain({ seed: 2, out: path.join(dir, "b"), quick: true, backend: "wasm", reproCheck: false, progress: false, episodeDrillSteps: [0, 3] }));
  });

  it("runs each episode-drill stage in order, with its own steps and episode rows", () => {
    const stages = log.training.episodeDrills ?? [];
    expect(QUICK_PRESET.episodeDrills.length).toBeGreaterThan(1); // the smoke run exercises stages
    expect(stages.map((s) => [s.steps, s.learningRate, s.drillRows])).toEqual(QUICK_PRESET.episodeDrills.map((s) => [s.steps, s.learningRate, s.drillRows]));
    // One packed episode row per drill row and step; every stage trained on real targets.
    for (const stage of stages) {
      expect(stage.rows).toBe(stage.steps * stage.drillRows);
      expect(stage.tokens).toBeGreaterThan(0);
      expect(Number.isFinite(stage.meanLoss)).toBe(true);
    }
    // The phase timer adds the stages up.
    const seconds = stages.reduce((n, s) => n + s.seconds, 0);
    expect(log.timing.phases.episodeDrill).toBeGreaterThanOrEqual(seconds);
    expect(log.command).toBe("npm run pretrain -- --quick --seed 2");
  });

  it("takes --episode-drill-steps per stage, records it in the command, and drops stages of 0 steps", () => {
    expect(oneStage.training.episodeDrills?.map((s) => s.steps)).toEqual([3]);
    expect(oneStage.training.episodeDrills?.[0].drillRows).toBe(QUICK_PRESET.episodeDrills[1].drillRows);
    expect(oneStage.command).toBe("npm run pretrain -- --quick --seed 2 --episode-drill-steps 3");
    // The same main schedule from the same seed: only the drill differs.
    const curve = (l: TrainingLog) => l.lossCurve.map(({ seconds: _, ...point }) => point);
    expect(curve(oneStage)).toEqual(curve(log));
    expect(oneStage.model.sha256).not.toBe(log.model.sha256);
  });

  it("writes a folder that loads with the previous-token embedding, and a card of the log", async () => {
    const folder = await loadModelFolder(path.join(dir, "a"));
    expect(folder.config.previousTokenEmbedding).toBe(true);
    expect(log.model.previousTokenEmbedding).toBe(true);
    const card = readFileSync(path.join(dir, "a", "README.md"), "utf8");
    expect(card).toBe(renderModelCard(log));
    const [first, second] = QUICK_PRESET.episodeDrills;
    expect(card).toContain(`2 stages of ${first.steps} + ${second.steps} steps, each with a fresh AdamW`);
    expect(card).toContain(`then ${first.steps + second.steps} episode-drill steps`);
    const saved = JSON.parse(readFileSync(path.join(dir, "a", "training_log.json"), "utf8")) as TrainingLog;
    expect(saved.training.episodeDrills).toEqual(log.training.episodeDrills);
  });

  it("renders a log from before drills had stages (one `episodeDrill`) as one stage", () => {
    const stage = log.training.episodeDrills?.[0];
    if (stage === undefined) throw new Error("the quick run recorded no drill stage");
    const legacy: TrainingLog = { ...log, training: { ...log.training, episodeDrills: undefined, episodeDrill: stage } };
    const card = renderModelCard(legacy);
    expect(card).toContain(`Episode drill: after the main schedule, ${stage.steps} more steps with a fresh AdamW`);
    expect(card).toContain(`then ${stage.steps} episode-drill steps`);
  });
});
