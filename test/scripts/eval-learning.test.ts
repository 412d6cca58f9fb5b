// `npm run eval:learning` refuses bad options before any training, naming the option and what it takes,
// and `--merge` replaces only the rows it measured in an existing results file.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "../..");
const run = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "scripts/eval-learning.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });

describe("eval:learning options", () => {
  it.each([
    [["--examples", "nope"], /Unknown example nope; known: .*tool_agent/],
    [["--seeds", "0,x"], /--seeds must be comma-separated integers, got "0,x"/],
    [["--episodes", "0"], /--episodes must be a positive integer, got "0"/],
    [["--episodes", "12.5"], /--episodes must be a positive integer, got "12.5"/],
  ])("rejects %j", (args, message) => {
    const result = run(...args);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
  });
});

describe("eval:learning --merge", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "eval-learning-"));

  it("refuses a file that is not a results file before any training", () => {
    const out = path.join(dir, "notes.json");
    writeFileSync(out, "not json");
    const result = run("--examples", "quick_start", "--merge", "--out", out);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/--merge: .*notes\.json is not JSON .*drop --merge to overwrite it/);
    expect(readFileSync(out, "utf8")).toBe("not json");
  });

  it("replaces the rows of the examples and seeds it measured and keeps the others", () => {
    const out = path.join(dir, "learning.json");
    const row = (example: string, seed: number, after: number) => ({ example, metric: "m", seed, before: 0, after, seconds: 1 });
    writeFileSync(out, JSON.stringify({
      date: "2026-01-01T00:00:00.000Z", model: "each example's default", note: "kept as it was",
      rows: [row("tool_agent", 0, 0.5), row("quick_start", 5, -9), row("quick_start", 6, 0.25)],
    }));
    // One GRPO step of 12 episodes: enough to produce a real row, quick enough for a test.
    const result = run("--examples", "quick_start", "--seeds", "5", "--episodes", "12", "--merge", "--out", out);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/merged: 2 rows kept, 1 measured now/);
    const file = JSON.parse(readFileSync(out, "utf8")) as { note: string; runs: { args: string[] }[]; rows: ReturnType<typeof row>[] };
    expect(file.note).toBe("kept as it was");
    expect(file.runs).toHaveLength(1);
    expect(file.runs[0].args).toContain("--merge");
    expect(file.rows.map((r) => `${r.example}/${r.seed}`)).toEqual(["quick_start/5", "quick_start/6", "tool_agent/0"]);
    const fresh = file.rows[0];
    expect(fresh.after).not.toBe(-9); // measured now, not the old row
    expect(fresh.before).toBeGreaterThan(0);
    expect(fresh.metric).toBe("mean reward");
    expect(file.rows[1].after).toBe(0.25);
    expect(file.rows[2].after).toBe(0.5);
  });
});
