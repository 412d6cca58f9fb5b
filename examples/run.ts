/** `npm run example -- <name> [--seed N] [--episodes N] [--eval-episodes N] [--save PATH] [--quiet]` */
import { parseExampleArgs } from "./harness.js";
import { EXAMPLES } from "./index.js";

const [name, ...rest] = process.argv.slice(2);
const run = name ? EXAMPLES[name] : undefined;
if (!run) {
  console.error(`Usage: npm run example -- <name> [--seed N] [--episodes N] [--eval-episodes N] [--save PATH] [--quiet]\n` +
    `Examples: ${Object.keys(EXAMPLES).join(", ")}${name ? `\nUnknown example: ${name}` : ""}`);
  process.exit(2);
}
run.run(parseExampleArgs(rest)).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
