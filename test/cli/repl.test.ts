/**
 * `grpo repl` starts a REPL with the library in scope and top-level await, driven through stdin.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const main = path.join(__dirname, "../../dist/src/cli/main.js");

describe("grpo repl", () => {
  it("evaluates library code with top-level await and text views", () => {
    const input = [
      "console.log('ADV', JSON.stringify((await Promise.resolve(groupAdvantages([1, 0, 0.5, 0.5], { epsilon: 0 }))).map((x) => +x.toFixed(4))))",
      "console.log('TXT', new ConversationTurn({ role: 'user', content: 'hi' }).toText())",
      ".exit",
    ].join("\n");
    const out = spawnSync(process.execPath, [main, "repl"], { input, encoding: "utf8", timeout: 60_000 });
    expect(out.status).toBe(0);
    expect(out.stdout).toContain("library exports in scope");
    expect(out.stdout).toContain("ADV [1.2247,-1.2247,0,0]");
    expect(out.stdout).toMatch(/TXT .*user.*hi/);
  });
});
