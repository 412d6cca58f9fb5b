/**
 * `grpo report`: a real (tiny) run's folder becomes one HTML file that opens in headless Chromium
 * with the network cut off, draws a plotly chart per metric family, browses the logged trajectory
 * groups, and shows logged text (scenario ids, user turns, component names: untrusted) as text,
 * never as markup. The screenshot is kept in test/artifacts/screenshots/report.png.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { Command } from "commander";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildReport, writeReport } from "../../kernel/report.js";
import { registerReportCommand } from "../../src/cli/report-command.js";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { CompositeReward, rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel, removeTinyModel } from "../helpers/tiny-model.js";
import { ARTIFACTS, launchChromium, requireChromium } from "./setup.js";

const SCREENSHOTS = path.join(ARTIFACTS, "screenshots");
const EVIL_ID = `<img src=x onerror="window.__pwned='id'">`;
const EVIL_USER = "<script>window.__pwned='user'</script> hello";
const EVIL_COMPONENT = "<img src=x onerror=window.__pwned=1>";

let work: string;
let runDir: string;
let modelDir: string;
let browser: Browser;

beforeAll(async () => {
  requireChromium();
  await selectBackend({ backend: "wasm" });
  modelDir = await makeTinyModel({ seed: 6 });
  work = mkdtempSync(path.join(tmpdir(), "report-"));
  runDir = path.join(work, "run");
  const share = (letters: string, name: string) => rewardFunction({ name, weight: 1 }, (turns) => {
    const text = turns.filter((t) => t.role === "assistant").map((t) => t.content).join("");
    return text.length ? [...text].filter((c) => letters.includes(c)).length / text.length : 0;
  });
  const agent = new MultiTurnAgent({ modelName: modelDir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 6 });
  agent.policy = await TfPolicy.fromFolder(modelDir);
  const trainer = await GRPOTrainer.create({
    agent, runDir,
    environment: new ConversationEnvironment({ scenarios: [{ id: EVIL_ID, userResponses: [EVIL_USER, "Thanks!"] }, { id: "plain", userResponses: ["Hi!"] }], maxTurns: 2 }),
    reward: new CompositeReward([share("yes", "yes_share"), share("aeiou", EVIL_COMPONENT)]),
    configOverrides: { numGenerations: 3, scenariosPerStep: 2, learningRate: 1e-3, seed: 2, saveSteps: 3, logTokenLogprobs: true },
  });
  await trainer.run({ steps: 3 });
  trainer.dispose();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  removeTinyModel(modelDir);
});

describe("grpo report", () => {
  it("renders every chart and the trajectory browser offline in Chromium, with logged text escaped", async () => {
    const out = path.join(work, "out", "report.html");
    const { file, bytes, summary } = await writeReport(runDir, out);
    expect(file).toBe(out);
    expect(bytes).toBe(readFileSync(out).length);
    expect(summary).toMatchObject({ steps: 3, trajectorySteps: 3, groups: 6, notes: [] });

    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    try {
      const page = await context.newPage();
      const requests: string[] = [];
      const problems: string[] = [];
      page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(m.text()); });
      page.on("pageerror", (e) => problems.push(String(e)));
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await page.goto(`file://${out}`, { waitUntil: "load", timeout: 60_000 });
      await page.waitForSelector("body[data-ready='true'] #grpo-groups .grpo-trajectory", { timeout: 30_000 });
      // Callbacks run in the page; the test's TypeScript has no DOM types, hence the structural casts.
      type El = { querySelectorAll(s: string): { length: number }; getAttribute(n: string): string | null; offsetHeight: number };
      const plots = await page.$$eval(".plot", (els) => els.map((e) => {
        const el = e as unknown as El;
        return { svgs: el.querySelectorAll(".main-svg").length, traces: el.querySelectorAll(".scatterlayer .trace").length, height: el.offsetHeight, title: el.getAttribute("data-title") };
      }));
      expect(plots).toHaveLength(summary.charts);
      expect(plots.length).toBeGreaterThanOrEqual(12);
      for (const plot of plots) {
        expect(plot.svgs, String(plot.title)).toBeGreaterThan(0);
        expect(plot.traces, String(plot.title)).toBeGreaterThan(0);
        expect(plot.height).toBeGreaterThan(200);
      }
      const titles = plots.map((p) => p.title);
      for (const t of ["reward components (mean ± std)", "reward (mean ± std within groups)", "loss", "KL to the reference", "clip ratio",
        "entropy (nats / token)", "grad norm (before clipping)", "learning rate", "tokens per assistant turn"]) expect(titles).toContain(t);
      // The reward components chart has a legend entry per component, the evil name shown as text.
      const legend = await page.$$eval("#grpo-plot-0 .legendtext", (els) => els.map((e) => (e as unknown as { textContent: string }).textContent));
      expect(legend).toEqual(["yes_share", EVIL_COMPONENT]);

      // The browser opens on the last logged step: 2 groups of 3 trajectories, best first.
      const groups = async () => page.$$eval("#grpo-groups .grpo-group", (els) => els.map((e) => (e as unknown as El).querySelectorAll(".grpo-trajectory").length));
      expect(await page.getAttribute("#grpo-groups", "data-step")).toBe("3");
      expect(await groups()).toEqual([3, 3]);
      expect(await page.$$eval("#grpo-groups .grpo-turn[data-role='assistant']", (els) => els.length)).toBeGreaterThanOrEqual(6);
      expect(await page.$$eval("#grpo-groups .grpo-badge", (els) => els.map((e) => (e as unknown as { textContent: string }).textContent)
        .filter((t) => t.startsWith("A "))).then((a) => a.length)).toBe(6);
      // Logged tokens are decoded with the run's own tokenizer (from its checkpoint), not shown as ids.
      const tokens = await page.$$eval("#grpo-groups .grpo-token", (els) => els.map((e) => (e as unknown as { textContent: string }).textContent));
      expect(tokens.length).toBeGreaterThan(0);
      expect(tokens.filter((t) => /^#\d+$/.test(t))).toEqual([]);
      // Choosing a step swaps the groups.
      await page.selectOption("#grpo-step", "0");
      await page.waitForSelector("#grpo-groups[data-step='1']");
      expect(await groups()).toEqual([3, 3]);
      await page.click("#grpo-next");
      await page.waitForSelector("#grpo-groups[data-step='2']");

      // Untrusted text arrives as text: nothing ran, no element was injected, the text is readable.
      expect(await page.evaluate("window.__pwned")).toBeUndefined();
      expect(await page.$$eval("img[src='x']", (els) => els.length)).toBe(0);
      expect(await page.$$eval("script", (els) => els.length)).toBe(3);
      const text = await page.evaluate("document.body.innerText") as string;
      expect(text).toContain(EVIL_ID);
      expect(text).toContain(EVIL_USER);
      expect(await page.$$eval("#config .grpo-knob", (els) => els.length)).toBeGreaterThan(30);

      expect(requests).toEqual([]);
      expect(problems).toEqual([]);
      await page.selectOption("#grpo-step", "2");
      await page.waitForSelector("#grpo-groups[data-step='3']");
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, "report.png"), fullPage: true });
    } finally {
      await context.close();
    }
  }, 120_000);

  it("`grpo report` writes <run-dir>/report.html by default, survives a torn log line, and explains a bad run folder or output name", async () => {
    const lines: string[] = [];
    const program = () => {
      const p = new Command("grpo").exitOverride();
      registerReportCommand(p, { out: (l) => lines.push(l) });
      return p;
    };
    // As after a crash mid-append: the report is still made, from the complete lines, and says what it skipped.
    const torn = '{"step":4,"group":0,"scen';
    appendFileSync(path.join(runDir, "trajectories.jsonl"), torn);
    await program().parseAsync(["node", "grpo", "report", runDir]);
    expect(readFileSync(path.join(runDir, "report.html"), "utf8")).toMatch(/^<!doctype html>/);
    expect(lines[0]).toBe(`note: trajectories.jsonl: skipped a torn last line (${torn.length} bytes; the run stopped while writing it).`);
    expect(lines.at(-1)).toMatch(new RegExp(`^Wrote ${path.join(runDir, "report.html").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(\\d+\\.\\d MiB: \\d+ charts of 3 steps, 6 trajectory groups from 3 steps\\) in \\d+\\.\\d s\\.`));

    // Without checkpoints the configuration comes from run.json, and logged tokens are decoded with
    // the tokenizer of the model it names.
    rmSync(path.join(runDir, "checkpoint-3"), { recursive: true });
    rmSync(path.join(runDir, "latest.json"));
    const { html, summary } = await buildReport(runDir);
    expect(summary.notes).toEqual([`trajectories.jsonl: skipped a torn last line (${torn.length} bytes; the run stopped while writing it).`]);
    expect(html).toContain('<section id="config">');
    expect(html).toContain('data-knob="logTokenLogprobs"');
    const data = JSON.parse(/<script type="application\/json" id="grpo-report-data">(.*?)<\/script>/s.exec(html)![1]) as { steps: Array<{ html: string }> };
    const stepHTML = gunzipSync(Buffer.from(data.steps[2].html, "base64")).toString("utf8");
    expect(stepHTML).toContain('class="grpo-token"');
    expect(stepHTML).not.toMatch(/class="grpo-token"[^>]*>#\d+</);

    await expect(program().parseAsync(["node", "grpo", "report", path.join(work, "missing")])).rejects.toThrow(`The run folder ${path.join(work, "missing")} does not exist.`);
    await expect(program().parseAsync(["node", "grpo", "report", work])).rejects.toThrow(`${work} is not a run folder: it has no metrics.jsonl.`);
    await expect(program().parseAsync(["node", "grpo", "report", runDir, "--out", path.join(work, "r.txt")])).rejects.toThrow(/The report is an HTML file/);
  });
});
