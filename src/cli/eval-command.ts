/**
 * `grpo eval` and `grpo example`: evaluate a model or checkpoint on an example's held-out scenarios,
 * or run an example (evaluate, train, evaluate).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { EXAMPLES } from "../../examples/index.js";
import { parseExampleArgs } from "../../examples/harness.js";
import { GrpoError } from "../core/errors.js";
import { integerOption } from "./options.js";
import { evaluate } from "../training/evaluate.js";
import { loadAgentFromCheckpoint } from "../training/trainer.js";

function exampleOrFail(name: string) {
  const example = EXAMPLES[name];
  if (!example) {
    throw new GrpoError("invalid_argument", `Unknown example "${name}".`, {
      field: "--example", value: name, expected: Object.keys(EXAMPLES).join(" | "),
    });
  }
  return example;
}

/** Evaluates `model` (a model name, a model folder or a training checkpoint) on an example's held-out scenarios. */
export async function evalCommand(options: { model: string; example: string; episodes?: number; json?: boolean }): Promise<void> {
  const example = exampleOrFail(options.example);
  const isCheckpoint = existsSync(path.join(options.model, "trainer_state.json"));
  const spec = example.spec({ modelName: isCheckpoint ? path.join(options.model, "model") : options.model });
  if (isCheckpoint) await loadAgentFromCheckpoint(options.model, { agent: spec.agent });
  const report = await evaluate({ agent: spec.agent, environment: spec.evalEnvironment, reward: spec.reward, episodesPerScenario: options.episodes ?? spec.evalEpisodes ?? 4 });
  if (options.json) {
    const { groups: _groups, ...numbers } = report;
    console.log(JSON.stringify({ model: options.model, example: options.example, ...numbers }, null, 2));
    return;
  }
  console.log(`${options.example} held-out (${report.episodes} episodes) with ${options.model}:`);
  console.log(`  Mean reward:   ${report.meanReward.toFixed(3)} ± ${report.rewardStd.toFixed(3)}`);
  console.log(`  Success rate:  ${(100 * report.successRate).toFixed(1)}%`);
  console.log(`  Episode length ${report.averageEpisodeLength.toFixed(1)} turns`);
  for (const [name, value] of Object.entries(report.components)) console.log(`  ${name.padEnd(14)} ${value.toFixed(3)}`);
}

/** Adds `eval` and `example` to the `grpo` program. */
export function registerEvalCommands(program: Command): void {
  program
    .command("eval")
    .description("evaluate a model or checkpoint on an example's held-out scenarios")
    .requiredOption("--model <name|dir>", "builtin:<name>, a model folder, or a checkpoint folder (holds trainer_state.json)")
    .requiredOption("--example <name>", `one of: ${Object.keys(EXAMPLES).join(", ")}`)
    .option("--episodes <n>", "episodes per held-out scenario (default: the example's own, as `grpo example` evaluates)", integerOption("--episodes", 1, 10_000))
    .option("--json", "print the numbers as JSON")
    .action(async (opts: { model: string; example: string; episodes?: number; json?: boolean }) => {
      await evalCommand(opts);
    });
  program
    .command("example")
    .description("run an example: evaluate, train with GRPO, evaluate again")
    .argument("<name>", `one of: ${Object.keys(EXAMPLES).join(", ")}`)
    .allowUnknownOption(true)
    .argument("[flags...]", "--seed N --episodes N --eval-episodes N --save PATH --model NAME --quiet")
    .action(async (name: string, flags: string[]) => {
      await exampleOrFail(name).run(parseExampleArgs(flags));
    });
}
