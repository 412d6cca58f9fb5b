// Report benchmark (`npm run bench:report -- <run-dir>`): how big the run's logs and its HTML report
// are, how long `buildReport` takes (median of 5, after one warm-up), and how long the report takes
// to open in headless Chromium (Debian's /usr/bin/chromium) until every chart is drawn and the
// trajectory browser shows its last step (median of 3). The numbers of docs/report.md come from here.
import { statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { buildReport } from "../kernel/report.js";
import { readRunLog } from "../src/training/runlog.js";
import { median } from "./lib/args.js";


const runDir = process.argv[2];
if (!runDir) {
  console.error("usage: npx tsx bench/report.ts <run-dir>");
  process.exit(2);
}

const log = await readRunLog(runDir);
const trajectories = log.groups.reduce((n, g) => n + g.trajectories.length, 0);
const tokens = log.groups.reduce((n, g) => n + g.trajectories.reduce((m, t) => m + t.turns.reduce((k, turn) => k + (turn.numTokens ?? 0), 0), 0), 0);
const size = (file: string) => { try { return statSync(path.join(runDir, file)).size; } catch { return 0; } };
console.log(`run: ${log.metrics.length} steps, ${log.groups.length} groups, ${trajectories} trajectories, ${tokens} sampled tokens`);
console.log(`metrics.jsonl ${size("metrics.jsonl")} B; trajectories.jsonl ${size("trajectories.jsonl")} B ` +
  `(${(size("trajectories.jsonl") / Math.max(1, trajectories)).toFixed(0)} B per trajectory)`);

await buildReport(runDir); // warm-up: module loading, plotly read
const times: number[] = [];
let html = "";
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  html = (await buildReport(runDir)).html;
  times.push(performance.now() - t0);
}
console.log(`buildReport: median ${median(times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(", ")})`);
console.log(`report: ${Buffer.byteLength(html)} B`);

const work = await mkdtemp(path.join(tmpdir(), "bench-report-"));
const file = path.join(work, "report.html");
await writeFile(file, html);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
try {
  const charts = (await readFile(file, "utf8")).match(/class="plot( wide)?"/g)?.length ?? 0;
  const opens: number[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const t0 = performance.now();
    await page.goto(`file://${file}`);
    // A string: the page's DOM is not in this file's types.
    await page.waitForFunction(`[...document.querySelectorAll(".plot")].filter((p) => p.querySelector(".main-svg")).length === ${charts} && document.querySelector("#grpo-groups").hasAttribute("data-step")`, undefined, { timeout: 60_000 });
    opens.push(performance.now() - t0);
    await page.close();
  }
  console.log(`open in Chromium until ${charts} charts and the browser are drawn: median ${median(opens).toFixed(0)} ms (${opens.map((t) => t.toFixed(0)).join(", ")})`);
} finally {
  await browser.close();
  await rm(work, { recursive: true, force: true });
}
