import { describe, expect, it } from "vitest";
import { ScenarioSampler } from "../../src/training/sampler.js";

const scenarios = ["a", "b", "c", "d", "e"].map((id) => ({ id }));

describe("ScenarioSampler", () => {
  it("visits every scenario once per epoch in a seeded order", () => {
    const s = new ScenarioSampler(scenarios, 1);
    const epoch1 = s.next(5).map((x) => x.id);
    expect([...epoch1].sort()).toEqual(["a", "b", "c", "d", "e"]);
    const epoch2 = s.next(5).map((x) => x.id);
    expect([...epoch2].sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(new ScenarioSampler(scenarios, 1).next(5).map((x) => x.id)).toEqual(epoch1);
  });

  it("continues exactly after a save/restore", () => {
    const a = new ScenarioSampler(scenarios, 7);
    a.next(3);
    const state = JSON.parse(JSON.stringify(a.getState()));
    const expected = a.next(12).map((x) => x.id);
    const b = new ScenarioSampler(scenarios, 999);
    b.setState(state);
    expect(b.next(12).map((x) => x.id)).toEqual(expected);
  });

  it("rejects empty scenario lists and mismatched restores", () => {
    expect(() => new ScenarioSampler([], 1)).toThrow(/no scenarios/);
    const state = new ScenarioSampler(scenarios, 1).getState();
    const other = new ScenarioSampler([{ id: "a" }, { id: "z" }], 1);
    expect(() => other.setState(state)).toThrow(/scenarios differ.*"z"/s);
  });
});
