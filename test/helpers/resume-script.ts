/**
 * Child-process driver for the exact-resume test. Usage (via tsx):
 *   resume-script.ts <modelDir> straight <steps> <out.json>
 *   resume-script.ts <modelDir> partial <steps> <checkpointDir> <out.json>
 *   resume-script.ts <modelDir> resume <steps> <checkpointDir> <out.json>
 * Writes { hash, metrics } where hash is SHA-256 over all parameter bytes in name order.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { yesShareReward, yesTaskEnvironment } from "./yes-task.js";

const [modelDir, mode, stepsArg, a, b] = process.argv.slice(2);
const steps = Number(stepsArg);

const environment = yesTaskEnvironment();
const reward = yesShareReward();
// beta > 0 and numIterations 2 exercise the reference model and the old-log-prob pass across resume.
const overrides = { learningRate: 1e-2, numGenerations: 4, scenariosPerStep: 1, gradientAccumulationSteps: 2, maxSteps: 6, beta: 0.04, numIterations: 2, seed: 5, lrScheduler: "cosine", warmupRatio: 0.2 };

async function main() {
  await selectBackend({ backend: "wasm" });
  let trainer: GRPOTrainer;
  if (mode === "resume") {
    trainer = await GRPOTrainer.resume(a, { environment, reward });
  } else {
    const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 6 });
    agent.policy = await TfPolicy.fromFolder(modelDir);
    trainer = await GRPOTrainer.create({ agent, environment, reward, configOverrides: overrides });
  }
  for (let i = 0; i < steps; i++) await trainer.step();
  if (mode === "partial") await trainer.save(a);
  const out = mode === "straight" ? a : b;
  const hash = createHash("sha256");
  const policy = trainer.agent.policy as TfPolicy;
  for (const name of Object.keys(policy.model.params).sort()) hash.update(Buffer.from((await policy.model.params[name].data()).buffer));
  const metrics = trainer.history.steps.map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith("time/"))));
  writeFileSync(out, JSON.stringify({ hash: hash.digest("hex"), metrics }));
}
main().catch((e) => { console.error(e); process.exit(1); });
