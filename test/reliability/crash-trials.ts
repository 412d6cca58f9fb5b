/**
 * `npm run test:crash`: 20 seeded SIGKILL-and-resume trials (see crash-harness.ts).
 *
 *   tsx test/reliability/crash-trials.ts [--trials 20] [--seed 2024] [--steps 8]
 *
 * Exits 1 unless every trial was killed mid-run and resumed bit-identically.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { selectBackend } from "../../src/model/backend.js";
import { makeTinyModel } from "../helpers/tiny-model.js";
import { runCrashTrials } from "./crash-harness.js";

const { values } = parseArgs({
  options: { trials: { type: "string", default: "20" }, seed: { type: "string", default: "2024" }, steps: { type: "string", default: "8" } },
});

async function main(): Promise<void> {
  await selectBackend({ backend: "wasm" });
  const modelDir = await makeTinyModel({ seed: 3 });
  const workDir = mkdtempSync(path.join(tmpdir(), "crash-trials-"));
  const started = performance.now();
  const { trials } = await runCrashTrials({
    trials: Number(values.trials), seed: Number(values.seed), steps: Number(values.steps), modelDir, workDir,
    log: (line) => console.log(line),
  });
  const passed = trials.filter((t) => t.killed && t.differences.length === 0).length;
  const count = (test: (t: (typeof trials)[number]) => boolean) => trials.filter(test).length;
  const inWrite = count((t) => t.atKill.leftovers.some((n) => n.includes(".tmp-") || n.includes(".old-")));
  const inRotation = count((t) => t.atKill.leftovers.some((n) => n.includes(".deleting-")));
  const beforePointer = count((t) => t.atKill.checkpoints.some((c) => Number(c.slice(11)) > Number(t.atKill.latest?.slice(11) ?? 0)));
  console.log(`\n${passed}/${trials.length} trials resumed bit-identically in ${((performance.now() - started) / 1000).toFixed(0)} s. ` +
    `Kills that hit a save: ${inWrite} inside a checkpoint write, ${beforePointer} between the rename and latest.json, ` +
    `${inRotation} inside the rotation.`);
  if (passed === trials.length) rmSync(workDir, { recursive: true, force: true });
  else console.log(`Run folders kept in ${workDir}.`);
  process.exitCode = passed === trials.length ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
