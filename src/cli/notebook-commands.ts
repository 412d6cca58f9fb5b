/**
 * `grpo kernel install` and `grpo notebook`: notebook setup from the command line.
 */
import type { Command } from "commander";
import { INSTALL_JUPYTER_HINT, KERNEL_NAME, findProjectDir, installKernel, planNotebook, projectJupyterPath, runNotebook } from "../../kernel/install.js";
import { existsSync } from "node:fs";
import path from "node:path";
import { GrpoError } from "../core/errors.js";

/** Where command output goes (replaced in tests). */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

const consoleIO: CliIO = { out: (l) => console.log(l), err: (l) => console.error(l) };

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new GrpoError("invalid_argument", "Invalid port.", { field: "--port", value, expected: "an integer from 1 to 65535" });
  }
  return port;
}

/** Adds `kernel install` to `program`. */
export function registerKernelCommands(program: Command, io: CliIO = consoleIO): void {
  const kernel = program.command("kernel").description("Manage the Jupyter kernel (GRPO TypeScript) for notebooks");
  kernel
    .command("install")
    .description("Register the GRPO TypeScript kernel: for this project (default), --user, or under --prefix")
    .option("--user", "install for the current user (every Jupyter and VS Code sees it)")
    .option("--prefix <dir>", "install under DIR/share/jupyter (then set JUPYTER_PATH=DIR/share/jupyter)")
    .option("--project <dir>", "the project folder (default: nearest package.json from here)")
    .action(async (opts: { user?: boolean; prefix?: string; project?: string }) => {
      const result = await installKernel({ user: opts.user, prefix: opts.prefix, projectDir: opts.project });
      for (const line of result.message) io.out(line);
    });
}

/** Adds `notebook` to `program`. */
export function registerNotebookCommand(program: Command, io: CliIO = consoleIO): void {
  program
    .command("notebook")
    .description("Start Jupyter on the tutorial notebooks with the project's TypeScript kernel")
    .argument("[dir]", "folder to open (default: <project>/notebooks)")
    .option("--port <port>", "port of the Jupyter server", parsePort)
    .option("--no-browser", "do not open a browser")
    .option("--dry-run", "print the command instead of running it")
    .option("--project <dir>", "the project folder (default: nearest package.json from here)")
    .action(async (dir: string | undefined, opts: { port?: number; browser: boolean; dryRun?: boolean; project?: string }) => {
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const plan = planNotebook({ projectDir, notebookDir: dir, port: opts.port, noBrowser: !opts.browser });
      if (!plan) {
        for (const line of INSTALL_JUPYTER_HINT) io.err(line);
        process.exitCode = 1;
        return;
      }
      if (!existsSync(path.join(projectJupyterPath(projectDir), "kernels", KERNEL_NAME, "kernel.json"))) {
        const installed = await installKernel({ projectDir });
        io.out(installed.message[0]);
      }
      io.out(`JUPYTER_PATH=${plan.env.JUPYTER_PATH} ${plan.command} ${plan.args.join(" ")}`);
      if (opts.dryRun) return;
      process.exitCode = await runNotebook(plan);
    });
}
