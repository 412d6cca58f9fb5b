/**
 * `grpo repl`: a Node REPL with the library (and the kernel's text views) loaded, for terminal users.
 * Top-level `await` works (Node's REPL supports it), so the stepping API reads as in a notebook:
 *
 *   grpo> const agent = new MultiTurnAgent({ modelName: "builtin:tiny-chat" })
 *   grpo> const trainer = await GRPOTrainer.create({ agent, environment, reward: helpfulAgentReward() })
 *   grpo> await trainer.step()          // prints the step report as text
 *   grpo> trainer.history               // a table with sparklines
 */
import repl from "node:repl";
import type { Command } from "commander";

/** Starts the REPL; resolves when the user leaves it. */
export async function startRepl(options: { prompt?: string } = {}): Promise<void> {
  const library = await import("../index.js");
  const kernel = await import("../../kernel/index.js");
  const server = repl.start({ prompt: options.prompt ?? "grpo> ", useGlobal: false, preview: true });
  const context = server.context as Record<string, unknown>;
  for (const [name, value] of Object.entries(library)) context[name] = value;
  for (const name of ["toText", "toHTML", "display", "demoModel"] as const) context[name] = kernel[name];
  console.log(`grpo-agent-framework REPL: ${Object.keys(library).length} library exports in scope (e.g. MultiTurnAgent, ` +
    "GRPOTrainer, train); top-level await works; .exit to leave.");
  await new Promise<void>((resolve) => server.on("exit", () => resolve()));
}

/** Adds `repl` to the `grpo` program. */
export function registerReplCommand(program: Command): void {
  program
    .command("repl")
    .description("a Node REPL with the library loaded (top-level await, text views of trajectories and steps)")
    .action(async () => {
      await startRepl();
    });
}
