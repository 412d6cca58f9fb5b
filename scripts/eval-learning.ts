/**
 * `npm run eval:learning`: measures how much GRPO improves each example on its held-out scenarios,
 * over several seeds, and prints a table (mean and spread of before, after and the gain).
 *
 *   npm run eval:learning                          # all examples, seeds 0 1 2
 *   npm run eval:learning -- --examples quick_start,tool_agent --seeds 0,1,2
 *   npm run eval:learning -- --model runs/tiny-chat-new   # another model folder (default: each example's)
 *   npm run eval:learning -- --examples tool_agent --episodes 3888   # another training length
 *   npm run eval:learning -- --examples tool_agent --seeds 2 --merge  # add to / replace in the file
 *
 * Writes the raw numbers to bench/results/learning.json (`--out`). With `--merge` the rows measured now
 * replace those of the same example and seed in that file, the others stay, and the invocation is
 * added to its `runs` list, so seeds run as separate processes (two cores: two at a time) end in one file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
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
  .option("--merge", "keep the other rows of --out: replace only this run's examples and seeds")
  .parse();
const opts = program.opts<{ examples: string; seeds: string; out: string; model?: string; episodes?: string; merge?: boolean }>();
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

/** One measurement: an example's headline metric before and after training, for one seed. */
interface Row { example: string; metric: string; seed: number; before: number; after: number; seconds: number; measuredAt?: string; episodes?: number }
/** One invocation that wrote rows into the file. */
interface Run { date: string; args: string[] }
interface ResultsFile { date: string; model: string; episodes?: number; note?: string; runs?: Run[]; rows: Row[] }

// With --merge, an existing file that cannot be read is an error now, not after minutes of training.
if (opts.merge && existsSync(opts.out)) readResults(opts.out);

function readResults(file: string): ResultsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    fail(`--merge: ${file} is not JSON (${error instanceof Error ? error.message : String(error)}); give another --out or drop --merge to overwrite it`);
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as ResultsFile).rows)) {
    fail(`--merge: ${file} holds no "rows" list, so it is not an eval:learning result; give another --out or drop --merge to overwrite it`);
  }
  return parsed as ResultsFile;
}

const rows: Row[] = [];
for (const name of names) {
  for (const seed of seeds) {
    const started = performance.now();
    const result = await EXAMPLES[name].run({ seed, verbose: false, savePath: "", modelName: opts.model, numEpisodes: episodes });
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      example: name, metric: result.headline.name, seed, before: result.headline.before, after: result.headline.after, seconds,
      measuredAt: new Date().toISOString(), ...(episodes !== undefined ? { episodes } : {}),
    });
    console.log(`${name} seed ${seed}: ${result.headline.name} ${result.headline.before.toFixed(3)} → ${result.headline.after.toFixed(3)} (${seconds.toFixed(0)} s)`);
  }
}

const fmt = (xs: number[]) => `${mean(xs).toFixed(3)} ± ${std(xs).toFixed(3)}`;
const run: Run = { date: new Date().toISOString(), args: process.argv.slice(2) };
// Read again now, not at the start: another eval:learning --merge may have written the file meanwhile.
const previous = opts.merge && existsSync(opts.out) ? readResults(opts.out) : undefined;
const measured = new Set(rows.map((r) => `${r.example}/${r.seed}`));
const kept = (previous?.rows ?? []).filter((r) => !measured.has(`${r.example}/${r.seed}`));
// Rows in the examples' own order (as `npm run example` lists them), then by seed.
const order = Object.keys(EXAMPLES);
const rank = (example: string) => (order.includes(example) ? order.indexOf(example) : order.length);
const allRows = [...kept, ...rows].sort((a, b) => rank(a.example) - rank(b.example) || a.example.localeCompare(b.example) || a.seed - b.seed);
const file: ResultsFile = previous === undefined
  ? { date: run.date, model: opts.model ?? "each example's default", ...(episodes !== undefined ? { episodes } : {}), runs: [run], rows: allRows }
  : { ...previous, date: run.date, runs: [...(previous.runs ?? []), run], rows: allRows };

// The table covers every example in the file (merged rows included), one line per example.
const examples = [...new Set(allRows.map((r) => r.example))];
console.log("\n| example | metric | before | after | gain | seeds |\n|---|---|---|---|---|---|");
for (const name of examples) {
  const r = allRows.filter((x) => x.example === name);
  console.log(`| ${name} | ${r[0].metric} | ${fmt(r.map((x) => x.before))} | ${fmt(r.map((x) => x.after))} | ${fmt(r.map((x) => x.after - x.before))} | ${r.map((x) => x.seed).join(", ")} |`);
}
mkdirSync(path.dirname(opts.out) || ".", { recursive: true });
// Written to a temporary file and renamed, so a crash never leaves half a file (and merged rows are not lost).
const tmp = `${opts.out}.${process.pid}.tmp`;
writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
renameSync(tmp, opts.out);
console.log(`wrote ${opts.out}${previous ? ` (merged: ${kept.length} rows kept, ${rows.length} measured now)` : ""}`);
