import { describe, expect, it } from "vitest";
import { DiagnosticsMonitor, assessHealth } from "../../src/training/diagnostics.js";
import type { StepMetrics } from "../../src/training/history.js";

function healthySteps(n: number): StepMetrics[] {
  return Array.from({ length: n }, (_, i) => ({
    step: i + 1, loss: 0.01, reward: 0.5 + i * 0.01, reward_std: 0.15, grad_norm: 1 + 0.1 * Math.sin(i),
    kl: 0.01, entropy: 1.2, frac_reward_zero_std: 0.1,
  }));
}

describe("assessHealth", () => {
  it("is HEALTHY on steady metrics and reports diversity and stability by their definitions", () => {
    const steps = healthySteps(10);
    const h = assessHealth(steps);
    expect(h.status).toBe("HEALTHY");
    expect(h.issues).toEqual([]);
    expect(h.rewardDiversity).toBeCloseTo(0.15, 12);
    const norms = steps.map((s) => s.grad_norm);
    const m = norms.reduce((a, b) => a + b) / norms.length;
    const sd = Math.sqrt(norms.reduce((a, b) => a + (b - m) ** 2, 0) / (norms.length - 1));
    expect(h.gradientStability).toBeCloseTo(1 / (1 + sd / m), 12);
  });

  it("is CRITICAL on a NaN loss or reward", () => {
    const steps = healthySteps(5);
    steps[4].reward = Number.NaN;
    const h = assessHealth(steps);
    expect(h.status).toBe("CRITICAL");
    expect(h.issues.map((i) => i.code)).toContain("nan_reward");
    steps[4].reward = 0.5;
    steps[3].loss = Number.POSITIVE_INFINITY;
    expect(assessHealth(steps).issues.map((i) => i.code)).toContain("nan_loss");
  });

  it("warns on low diversity, zero-variance groups, entropy collapse, KL and gradient spikes", () => {
    const low = healthySteps(6).map((s) => ({ ...s, reward_std: 0, frac_reward_zero_std: 1 }));
    expect(assessHealth(low).issues.map((i) => i.code)).toEqual(["low_reward_diversity", "zero_variance_groups"]);
    const collapsed = healthySteps(6);
    collapsed[5].entropy = 0.01;
    expect(assessHealth(collapsed).issues.map((i) => i.code)).toEqual(["entropy_collapse"]);
    const kl = healthySteps(6).map((s) => ({ ...s, kl: 1 }));
    expect(assessHealth(kl).status).toBe("WARNING");
    const blown = healthySteps(6).map((s) => ({ ...s, kl: 50 }));
    expect(assessHealth(blown).issues.map((i) => i.code)).toContain("kl_blowup");
    const spike = healthySteps(8);
    spike[7].grad_norm = 100;
    expect(assessHealth(spike).issues.map((i) => i.code)).toContain("gradient_spike");
  });

  it("looks only at the window", () => {
    const steps = healthySteps(30);
    steps[0].loss = Number.NaN;
    expect(assessHealth(steps, { window: 20 }).status).toBe("HEALTHY");
    expect(assessHealth(steps, { window: 30 }).status).toBe("CRITICAL");
  });
});

describe("DiagnosticsMonitor", () => {
  it("collects step_end metrics and exposes getHealthStatus()", () => {
    const monitor = new DiagnosticsMonitor();
    for (const m of healthySteps(3)) {
      monitor.onStepEnd({ type: "step_end", step: m.step, report: { step: m.step, episodes: 0, groups: [], advantages: [], loss: 0, metrics: m } });
    }
    expect(monitor.metrics).toHaveLength(3);
    expect(monitor.getHealthStatus().status).toBe("HEALTHY");
    monitor.record({ step: 4, loss: Number.NaN });
    expect(monitor.getHealthStatus().status).toBe("CRITICAL");
  });
});
