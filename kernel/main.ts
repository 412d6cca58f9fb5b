#!/usr/bin/env node
/**
 * The kernel process Jupyter starts (kernel.json: `node <package>/dist/kernel/main.js {connection_file}`).
 * See `server.ts`.
 */
import { GrpoError } from "../src/core/errors.js";
import { loadTslab } from "./tslab.js";
import { KernelServer } from "./server.js";

const file = process.argv[2];
if (!file) {
  throw new GrpoError("invalid_argument", "The kernel needs the path of a Jupyter connection file.", {
    fix: "let Jupyter start it (`npx grpo kernel install`, then pick \"GRPO TypeScript\"), or run `node dist/kernel/main.js <connection.json>`.",
  });
}
loadTslab(); // first, so tslab's compiler loads with source maps on
KernelServer.fromConnectionFile(file).catch((error: unknown) => {
  process.stderr.write(`[grpo kernel] failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
