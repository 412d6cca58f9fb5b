// `grpo eval` plays as many episodes per held-out scenario as the example's own evaluation
// (`ExampleSpec.evalEpisodes`), unless `--episodes` says otherwise.
import { afterEach, describe, expect, it, vi } from "vitest";
import { evalCommand } from "../../src/cli/eval-command.js";
import { HELDOUT_PROBLEMS } from "../../examples/tool_agent.js";

/** Runs `grpo eval --json` and returns the episodes it played. */
async function episodesPlayed(episodes?: number): Promise<number> {
  const printed: string[] = [];
  vi.spyOn(console, "log").mockImplementation((text: unknown) => { printed.push(String(text)); });
  await evalCommand({ model: "builtin:tiny-chat", example: "tool_agent", episodes, json: true });
  return (JSON.parse(printed.join("\n")) as { episodes: number }).episodes;
}

describe("grpo eval", () => {
  afterEach(() => vi.restoreAllMocks());

  it("defaults to the example's own episodes per scenario (tool_agent: 2)", async () => {
    expect(await episodesPlayed()).toBe(HELDOUT_PROBLEMS * 2);
  });

  it("plays --episodes per scenario when given", async () => {
    expect(await episodesPlayed(1)).toBe(HELDOUT_PROBLEMS);
  });
});
