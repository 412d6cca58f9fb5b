/**
 * `npm run eval:learning`: measures how much GRPO improves each example on its held-out scenarios,
 * over several seeds, and prints a table (mean and spread of before, after and the gain).
 *
 *   npm run eval:learning                          # all examples, seeds 0 1 2
 *   npm run eval:learning -- --examples quick_start,tool_agent --seeds 0,1,2
 *   npm run eval:learning -- --model runs/tiny-chat-new   # another model folder (default: each example's)
 *   npm run eval:learning -- --examples tool_agent --episodes 3888   # another training length
 *
 * Writes the raw numbers to bench/results/learning.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { mean, std } from "../src/core/stats.js";
import { EXAMPLES } from "../examples/index.js";
import { resolveModelFolder } from "../src/model/registry.js";

const program = new Command()
  .option("--examples <names>", "comma-separated example names", Object.keys(EXAMPLES).join(","))
  .option("--seeds <seeds>", "comma-separated seeds", "0,1,2")
  .option("--out <file>", "where to write the JSON results", "bench/results/learning.json")
  .option("--model <name>", "model to train in every example (builtin:<name> or a folder); default: each example's own")
  .option("--episodes <n>", "training episodes in every example (default: each example's own)")
  .parse();
const opts = program.opts<{ examples: string; seeds: string; out: string; model?: string; episodes?: string }>();
const episodes = opts.episodes === undefined ? undefined : Number(opts.episodes);
const names = opts.examples.split(",").map((s) => s.trim()).filter(Boolean);
const seeds = opts.seeds.split(",").map((s) => Number(s.trim()));
function fail(message: string): never {
  console.error(message);
  process.exit(1);
}
for (const name of names) if (!EXAMPLES[name]) fail(`Unknown example ${name}; known: ${Object.keys(EXAMPLES).join(", ")}`);
if (episodes !== undefined && !(Number.isInteger(episodes) && episodes > 0)) fail(`--episodes must be a positive integer, got ${JSON.stringify(opts.episodes)}`);
if (seeds.some((s) => !Number.isInteger(s))) fail(`--seeds must be comma-separated integers, got ${JSON.stringify(opts.seeds)}`);
// Check the model before minutes of training: a wrong path fails here, with the accepted forms.
if (opts.model !== undefined) {
  try {
    resolveModelFolder(opts.model);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

const rows: { example: string; metric: string; seed: number; before: number; after: number; seconds: number }[] = [];
for (const name of names) {
  for (const seed of seeds) {
    const started = performance.now();
    const result = await EXAMPLES[name].run({ seed, verbose: false, savePath: "", modelName: opts.model, numEpisodes: episodes });
    const seconds = (performance.now() - started) / 1000;
    rows.push({ example: name, metric: result.headline.name, seed, before: result.headline.before, after: result.headline.after, seconds });
    console.log(`${name} seed ${seed}: ${result.headline.name} ${result.headline.before.toFixed(3)} → ${result.headline.after.toFixed(3)} (${seconds.toFixed(0)} s)`);
  }
}

const fmt = (xs: number[]) => `${mean(xs).toFixed(3)} ± ${std(xs).toFixed(3)}`;
console.log("\n| example | metric | before | after | gain | seeds |\n|---|---|---|---|---|---|");
for (const name of names) {
  const r = rows.filter((x) => x.example === name);
  console.log(`| ${name} | ${r[0].metric} | ${fmt(r.map((x) => x.before))} | ${fmt(r.map((x) => x.after))} | ${fmt(r.map((x) => x.after - x.before))} | ${r.map((x) => x.seed).join(", ")} |`);
}
mkdirSync("bench/results", { recursive: true });
writeFileSync(opts.out, `${JSON.stringify({ date: new Date().toISOString(), model: opts.model ?? "each example's default", ...(episodes !== undefined ? { episodes } : {}), rows }, null, 2)}\n`);
