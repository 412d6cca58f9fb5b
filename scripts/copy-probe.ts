/**
 * `npm run copy-probe -- [model] [--record]`: does a model copy the user's numbers into a calculator
 * call? Prints the teacher-forced digit accuracy of `scripts/pretrain/copy-probe.ts` (the figure the
 * model card quotes) for a model name or folder (default builtin:tiny-chat).
 *
 * `--by-position` also prints right/total for each digit place of each operand and one line per
 * problem with the misses marked `[predicted≠expected]` (where copying breaks down).
 *
 * It also prints the induction probe (in-context copying of repeated random token runs, which
 * answering with a tool's result needs).
 *
 * `--record` also writes the figures into the folder's `training_log.json` (`behaviour.copyProbe`,
 * `behaviour.inductionProbe`) and re-renders its card, for a folder built before pretraining
 * measured them itself.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadPolicy, resolveModelFolder } from "../src/model/registry.js";
import { renderModelCard } from "./pretrain/card.js";
import { copyProbe, copyProbeByPosition, describeCopyProbe, inductionProbe } from "./pretrain/copy-probe.js";
import type { TrainingLog } from "./pretrain/log.js";

const args = process.argv.slice(2);
const record = args.includes("--record");
const byPosition = args.includes("--by-position");
const modelName = args.find((a) => !a.startsWith("--")) ?? "builtin:tiny-chat";
const policy = await loadPolicy(modelName).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
const result = await copyProbe(policy.model, policy.tokenizer);
console.log(`${modelName}: ${describeCopyProbe(result)}`);
const induction = await inductionProbe(policy.model, policy.tokenizer);
console.log(`${modelName}: repeats of random token runs copied ${induction.right}/${induction.counted} (induction probe)`);
if (byPosition) {
  const { positions, lines } = await copyProbeByPosition(policy.model, policy.tokenizer);
  for (const line of lines) console.log(line);
  for (const [place, [right, total]] of positions) console.log(`${place.padEnd(22)} ${right}/${total}`);
}
if (record) {
  const dir = resolveModelFolder(modelName);
  const logFile = path.join(dir, "training_log.json");
  const log = JSON.parse(readFileSync(logFile, "utf8")) as TrainingLog;
  log.behaviour.copyProbe = result;
  log.behaviour.inductionProbe = induction;
  writeFileSync(logFile, `${JSON.stringify(log, null, 2)}\n`);
  writeFileSync(path.join(dir, "README.md"), renderModelCard(log));
  console.log(`recorded in ${logFile} and re-rendered ${path.join(dir, "README.md")}`);
}
