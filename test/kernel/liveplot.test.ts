/**
 * The live plot's throttle, in-place updates, final update, interrupt handling and idle(); with
 * synthetic step events and fake timers (the real kernel path is covered by the protocol test).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StepReport } from "../../src/training/events.js";
import { TrainingHistory } from "../../src/training/history.js";
import type { GRPOTrainer } from "../../src/training/trainer.js";
import { LivePlot, liveplot, onSigint, setDisplaySink, withInterrupt, type DisplayMessage } from "../../kernel/index.js";
import { fixtureGroup, fixtureReport, stepMetrics, tinyTokenizer } from "./fixtures.js";

const tokenizer = tinyTokenizer();
const group = fixtureGroup(tokenizer);

function report(step: number): StepReport {
  return { ...fixtureReport(group, step), metrics: stepMetrics(step) };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const sent: Array<{ message: DisplayMessage; update: boolean; at: number }> = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
  setDisplaySink((message, update) => { sent.push({ message, update, at: performance.now() }); });
});
afterEach(() => {
  setDisplaySink(undefined);
  vi.useRealTimers();
  sent.length = 0;
});

/** Runs a synthetic training run: `steps` step_end events `every` ms apart. */
function simulateRun(live: LivePlot, steps: number, every: number): void {
  live.onTrainStart({ type: "train_start", step: 0, totalSteps: steps });
  for (let s = 1; s <= steps; s++) {
    vi.advanceTimersByTime(every);
    live.onStepEnd({ type: "step_end", step: s, report: report(s) });
  }
  vi.advanceTimersByTime(every);
  live.onTrainEnd({ type: "train_end", step: steps, reason: "completed" });
}

describe("liveplot", () => {
  it("updates one output in place, at most every minIntervalMs, and always shows the final state", () => {
    const live = liveplot({ minIntervalMs: 500 });
    simulateRun(live, 20, 100); // 20 steps in 2 s
    const ids = new Set(sent.map((s) => s.message.transient.display_id));
    expect(ids.size).toBe(1);
    expect(sent.map((s) => s.update)).toEqual([false, ...sent.slice(1).map(() => true)]);
    // ≤ 2 updates per second of training: display + ~4 throttled updates + the final one.
    expect(sent.length).toBeLessThanOrEqual(1 + Math.ceil(2100 / 500) + 1);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    const gaps = sent.slice(1, -1).map((s, i) => s.at - sent[i].at);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(500);
    const last = sent[sent.length - 1].message;
    expect(String(last.data["text/plain"])).toMatch(/^✔ finished at step 20 \(completed\)/);
    expect(String(last.data["text/plain"])).toContain("TrainingHistory: 20 steps");
    expect(live.history.length).toBe(20);
    expect(live.stats()).toMatchObject({ updates: sent.length, steps: 20 });
    expect(live.stats().skipped).toBeGreaterThan(0);
  });

  it("waits longer between updates when rendering is slow, keeping the plot under maxOverhead of the time", () => {
    setDisplaySink((message, update) => {
      sent.push({ message, update, at: performance.now() });
      vi.advanceTimersByTime(300); // every update "costs" 300 ms
    });
    const live = liveplot({ minIntervalMs: 100, maxOverhead: 0.2 });
    simulateRun(live, 30, 100);
    const starts = sent.map((s) => s.at);
    // After a 300 ms update the next one waits 300 · 0.8 / 0.2 = 1200 ms from its end.
    for (let i = 1; i < starts.length - 1; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(300 + 1200);
    expect(live.stats().meanMs).toBe(300);
    expect(() => liveplot({ maxOverhead: 0 })).toThrow(/maxOverhead/);
  });

  it("keeps the run's total plotting time within maxOverhead even when each update costs more than the last", () => {
    // Rising costs defeat a rule that only spaces updates by the last one's cost (each update then
    // pays twice what the gap was sized for); the run-wide budget keeps the total within the share.
    const paid: number[] = [];
    setDisplaySink((message, update) => {
      sent.push({ message, update, at: performance.now() });
      const cost = Math.min(256, 2 ** paid.length);
      paid.push(cost);
      vi.advanceTimersByTime(cost);
    });
    const live = liveplot({ minIntervalMs: 0, maxOverhead: 0.1 });
    const runStart = performance.now();
    simulateRun(live, 600, 10);
    expect(sent.length).toBeGreaterThanOrEqual(6);
    // Each update (the unconditional final one aside) starts only once the time spent so far plus one
    // more update at the last one's cost fits in 10 % of the run's time: the total overshoots the
    // share by at most how much an update's cost was underestimated.
    for (let k = 1; k < sent.length - 1; k++) {
      const spentBefore = paid.slice(0, k).reduce((a, b) => a + b, 0);
      expect(spentBefore + paid[k - 1]).toBeLessThanOrEqual(0.1 * (sent[k].at - runStart) + 1e-9);
    }
  });

  it("shows status, the history chart as an image and the latest groups in a <details> section", () => {
    const live = liveplot({ minIntervalMs: 0, tokenizer });
    simulateRun(live, 2, 10);
    const first = sent[0].message;
    expect(Object.keys(first.data)).toEqual(["text/html", "text/plain"]); // no steps yet: no chart
    const last = sent[sent.length - 1].message;
    expect(Object.keys(last.data).sort()).toEqual(["image/png", "text/html", "text/plain"]);
    const html = String(last.data["text/html"]);
    expect(html).toMatch(/class="grpo-live-status"[^>]*>✔ finished at step 2 \(completed\) · step 2 · reward 0\.200/);
    expect(html).toMatch(/<img class="grpo-chart" alt="training history" width="\d+" height="\d+" src="data:image\/png;base64,/);
    expect(html).toMatch(/<details class="grpo-live-trajectories"><summary[^>]*>latest step 2: 1 group of trajectories<\/summary><div class="grpo-group"/);
    expect(html).toContain('class="grpo-token"');
    expect(last.metadata["image/png"]).toMatchObject({ width: expect.any(Number), height: expect.any(Number) });
  });

  it("sends a step that arrived within the interval once the interval has passed (stepping by hand)", () => {
    const live = liveplot({ minIntervalMs: 500 });
    live.onStepEnd({ type: "step_end", step: 1, report: report(1) });
    vi.advanceTimersByTime(100);
    live.onStepEnd({ type: "step_end", step: 2, report: report(2) });
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(450);
    expect(sent).toHaveLength(2);
    expect(String(sent[1].message.data["text/plain"])).toContain("step 2 ·");
    expect(sent[1].update).toBe(true);
  });

  it("stops the trainer on SIGINT during a run, removes its handler after, and idle() says how it ended", async () => {
    const stop = vi.fn();
    const fakeTrainer = { history: new TrainingHistory(), stop, agent: undefined } as unknown as GRPOTrainer;
    const live = new LivePlot({ trainer: fakeTrainer, minIntervalMs: 0 });
    const listeners = process.listenerCount("SIGINT");
    await expect(live.idle()).resolves.toBeUndefined();
    live.onTrainStart({ type: "train_start", step: 0, totalSteps: 5 });
    // Attached on the next turn (not inside a tslab cell's synchronous part, see onSigint).
    expect(process.listenerCount("SIGINT")).toBe(listeners);
    await nextTurn();
    expect(process.listenerCount("SIGINT")).toBe(listeners + 1);
    const idle = live.idle();
    process.emit("SIGINT");
    expect(stop).toHaveBeenCalledTimes(1);
    live.onTrainEnd({ type: "train_end", step: 1, reason: "stopped" });
    await expect(idle).resolves.toBe("stopped");
    expect(process.listenerCount("SIGINT")).toBe(listeners);
    expect(String(sent[sent.length - 1].message.data["text/plain"])).toMatch(/finished at step 1 \(stopped\)/);
  });

  it("withInterrupt aborts its signal on SIGINT and cleans up", async () => {
    const listeners = process.listenerCount("SIGINT");
    const reason = await withInterrupt(async (signal) => {
      await nextTurn();
      expect(signal.aborted).toBe(false);
      process.emit("SIGINT");
      return signal.aborted;
    });
    expect(reason).toBe(true);
    expect(process.listenerCount("SIGINT")).toBe(listeners);
    // Detached before it was attached: never attaches.
    const detach = onSigint(() => undefined);
    detach();
    await nextTurn();
    expect(process.listenerCount("SIGINT")).toBe(listeners);
  });
});
