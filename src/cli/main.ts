#!/usr/bin/env node
/**
 * The `grpo` command. Subcommands register themselves from their own modules.
 */
import { Command } from "commander";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GrpoError } from "../core/errors.js";
import { registerEvalCommands } from "./eval-command.js";
import { registerKernelCommands, registerNotebookCommand, type CliIO } from "./notebook-commands.js";
import { registerReplCommand } from "./repl-command.js";
import { registerServeCommand } from "./serve-command.js";
import { registerReportCommand } from "./report-command.js";
import { registerTrainCommand } from "./train-command.js";
import { registerWorkerCommand } from "./worker-command.js";

/** Builds the `grpo` program (exported for tests and for embedding). */
export function buildProgram(io?: CliIO): Command {
  const program = new Command("grpo")
    .description("Train and debug multi-turn LLM agents with GRPO")
    .showHelpAfterError();
  registerTrainCommand(program, io);
  registerEvalCommands(program);
  registerKernelCommands(program, io);
  registerNotebookCommand(program, io);
  registerReplCommand(program);
  registerServeCommand(program);
  registerReportCommand(program);
  registerWorkerCommand(program);
  return program;
}

/** Runs the program on `argv`; user errors print their message (no stack) and exit 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof GrpoError) {
      console.error(`grpo: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}

// Run when executed directly (bin `grpo` or `node dist/src/cli/main.js`), not when imported.
const entry = process.argv[1] ? realpathSync(process.argv[1]) : "";
if (entry === realpathSync(fileURLToPath(import.meta.url))) void main();
