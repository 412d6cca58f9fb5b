// `npm run eval:learning` refuses bad options before any training, naming the option and what it takes.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "../..");
const run = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "scripts/eval-learning.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });

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
