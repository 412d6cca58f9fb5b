import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { registerDisplayRenderer } from "../../src/core/display-registry.js";
import { ConversationTurn, MultiTurnTrajectory, TrajectoryGroup } from "../../src/core/trajectory.js";
import { TrainingHistory } from "../../src/training/history.js";

const traj = (r: number) => new MultiTurnTrajectory({ id: `t${r}`, scenarioId: "s", totalReward: r,
  turns: [new ConversationTurn({ role: "user", content: "Hi <b>" }), new ConversationTurn({ role: "assistant", content: "Hello", reward: 0.5 })] });

describe("core display hooks", () => {
  it("fall back to plain text and escaped HTML without the kernel", () => {
    const previous = registerDisplayRenderer(undefined);
    try {
      expect(inspect(traj(1).turns[1])).toBe("assistant [reward 0.500]: Hello");
      expect(traj(1).toText()).toContain("Trajectory t1 (scenario s, completed, reward 1.000, 1 assistant turns)");
      expect(traj(1).toHTML()).toContain("Hi &#60;b&#62;");
      const group = new TrajectoryGroup("s", [traj(0), traj(1)]);
      expect(group.toText().split("\n")[1]).toMatch(/t1: reward 1\.000, advantage \+/);
      expect(new TrainingHistory([{ reward: 0.25 }]).toText()).toBe("TrainingHistory(1 steps, last reward 0.250)");
    } finally {
      registerDisplayRenderer(previous);
    }
  });

  it("delegate to a registered renderer", () => {
    const previous = registerDisplayRenderer({ toText: (v) => (v instanceof MultiTurnTrajectory ? "RICH" : undefined), toHTML: () => "<div>rich</div>" });
    try {
      expect(inspect(traj(1))).toBe("RICH");
      expect(traj(1).turns[0].toText()).toBe("user: Hi <b>");
      expect(new TrainingHistory().toHTML()).toBe("<div>rich</div>");
    } finally {
      registerDisplayRenderer(previous);
    }
  });

  it("clone() of a trajectory is deep", () => {
    const a = traj(1);
    const b = a.clone();
    b.turns[0].content = "changed";
    expect(a.turns[0].content).toBe("Hi <b>");
    expect(b.id).toBe(a.id);
  });
});
