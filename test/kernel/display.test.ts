/**
 * Charts (vega-lite specs, SVG, PNG) and display(): one MIME bundle per object, the opt-in protocol,
 * in-place displays, the tslab writer, and the core display registry.
 */
import { createRequire } from "node:module";
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderHTML, renderText } from "../../src/core/display-registry.js";
import { GrpoError } from "../../src/core/errors.js";
import { TrainingHistory } from "../../src/training/history.js";
import {
  Chart, MIME_BUNDLE_SYMBOL, VEGALITE_MIME, chartFontFiles, display, historyChart, mimeBundle, newDisplay, renderSVG, rewardChart, setDisplaySink,
  toHTML, toPNG, toSVG, toText, trajectoryToText, type DisplayMessage,
} from "../../kernel/index.js";
import { fixtureGroup, fixtureHistory, fixtureReport, scoredTrajectory, stepMetrics, tinyTokenizer } from "./fixtures.js";

const require = createRequire(import.meta.url);
const tokenizer = tinyTokenizer();

/** Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian). */
function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg[^>]*width="(\d+)" height="(\d+)"/.exec(svg);
  return { width: Number(m![1]), height: Number(m![2]) };
}

type Panel = { title: unknown; transform?: unknown; layer?: Array<{ encoding: Record<string, { field?: string }> }>; encoding?: Record<string, { field?: string }> };

describe("history chart", () => {
  it("is a vega-lite 5 spec with one panel per logged metric and a reward ± std band", () => {
    const history = fixtureHistory(5);
    const spec = historyChart(history).spec as { $schema: string; concat: Panel[]; data: { values: Array<Record<string, number | null>> } };
    expect(spec.$schema).toBe("https://vega.github.io/schema/vega-lite/v5.json");
    expect(spec.concat.map((p) => (typeof p.title === "string" ? p.title : ""))).toEqual(
      ["reward (mean ± std in group)", "loss", "KL", "clip ratio", "entropy", "tokens / turn", "grad norm"]);
    const rows = spec.data.values;
    expect(rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    rows.forEach((r, i) => {
      const m = stepMetrics(i + 1);
      expect(r.reward_lo).toBeCloseTo(m.reward - m.reward_std, 12);
      expect(r.reward_hi).toBeCloseTo(m.reward + m.reward_std, 12);
      expect(r.grad_norm).toBe(m.grad_norm);
      expect(r.clip_ratio_region_mean).toBe(m["clip_ratio/region_mean"]);
    });
    const band = spec.concat[0].layer![0].encoding;
    expect([band.y.field, band.y2.field]).toEqual(["reward_lo", "reward_hi"]);
  });

  it("writes null for NaN and drops panels of metrics never logged", () => {
    const history = new TrainingHistory([stepMetrics(1, true), { ...stepMetrics(2, true), loss: Number.NaN }]);
    const spec = historyChart(history).spec as { concat: Panel[]; data: { values: Array<Record<string, number | null>> } };
    expect(spec.concat.map((p) => p.title)).not.toContain("KL");
    expect(spec.data.values[1].loss).toBeNull();
    expect(JSON.stringify(spec)).not.toContain("NaN");
  });

  it("renders SVG synchronously exactly as vega's own async toSVG, and a 2× PNG", async () => {
    const chart = historyChart(fixtureHistory(4));
    const svg = chart.toSVG();
    const vega = require("vega");
    const vegaLite = require("vega-lite");
    const view = new vega.View(vega.parse(vegaLite.compile(chart.spec).spec), { renderer: "none" });
    expect(svg).toBe(await view.toSVG());
    view.finalize();
    expect(svg).toContain("<text"); // titles and axis labels

    const png = chart.toPNG();
    expect([...png.data.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const { width, height } = svgSize(svg);
    expect(pngSize(png.data)).toEqual({ width: 2 * width, height: 2 * height });
    expect([png.width, png.height]).toEqual([2 * width, 2 * height]);
    expect(pngSize(chart.toPNG({ scale: 1 }).data)).toEqual({ width, height });
    expect(chartFontFiles().every((f) => /DejaVuSans(-Bold)?\.ttf$/.test(f))).toBe(true);
    expect(() => chart.toPNG({ scale: 0 })).toThrow(GrpoError);
  });
});

describe("reward chart", () => {
  it("stacks each trajectory's weighted contributions, best first, with matching component colours", () => {
    const group = fixtureGroup(tokenizer);
    const spec = rewardChart(group).spec as { layer: Array<{ data: { values: Array<Record<string, unknown>> }; encoding: { color?: { scale: { domain: string[] } } } }> };
    const bars = spec.layer[0].data.values;
    const best = bars.filter((b) => b.order === 0);
    expect(best.map((b) => b.component)).toEqual(["a", "b"]);
    expect(best.map((b) => b.value as number)).toEqual([(2 * 1) / 3, (1 * 0.8) / 3].map((v) => expect.closeTo(v, 12)));
    expect(String(best[0].trajectory)).toMatch(/^#1 \(A \+/);
    expect(spec.layer[1].data.values.map((t) => t.total)).toEqual(group.ranked().map((t) => t.totalReward));
    expect(spec.layer[0].encoding.color!.scale.domain).toEqual(["a", "b"]);
  });

  it("shows components and per-turn scores of one trajectory", () => {
    const t = scoredTrajectory(tokenizer, "t", ["yes", "no"], { a: 0.2, b: 0.6 });
    const spec = rewardChart(t).spec as { hconcat: Array<{ data: { values: Array<Record<string, unknown>> } }> };
    expect(spec.hconcat).toHaveLength(2);
    expect(spec.hconcat[0].data.values.map((v) => [v.component, v.score])).toEqual([["a", 0.2], ["b", 0.6]]);
    expect(spec.hconcat[1].data.values).toEqual([
      { turn: 0, component: "a", value: 0.2 }, { turn: 1, component: "a", value: 0.2 },
      { turn: 0, component: "b", value: 0.6 }, { turn: 1, component: "b", value: 0.6 },
    ]);
    expect(rewardChart(t).toSVG()).toMatch(/^<svg/);
  });
});

describe("display(): one MIME bundle per object", () => {
  const sent: Array<{ message: DisplayMessage; update: boolean }> = [];
  const sink = (message: DisplayMessage, update: boolean) => { sent.push({ message, update }); };
  afterEach(() => { setDisplaySink(undefined); sent.length = 0; });

  it("sends a chart as vega-lite + PNG + text in one message", () => {
    setDisplaySink(sink);
    const history = fixtureHistory(3);
    display(history);
    expect(sent).toHaveLength(1);
    const { message, update } = sent[0];
    expect(update).toBe(false);
    expect(Object.keys(message.data).sort()).toEqual([VEGALITE_MIME, "image/png", "text/plain"].sort());
    expect(message.data[VEGALITE_MIME]).toEqual(historyChart(history).spec);
    const png = Buffer.from(message.data["image/png"] as string, "base64");
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    const size = pngSize(png);
    expect(message.metadata["image/png"]).toEqual({ width: size.width / 2, height: size.height / 2 });
    expect(message.data["text/plain"]).toBe(toText(history));
    expect(message.transient).toEqual({});
  });

  it("sends views as HTML + text in one message; plain values as text", () => {
    setDisplaySink(sink);
    const group = fixtureGroup(tokenizer);
    const report = fixtureReport(group);
    for (const x of [group, group.trajectories[0], group.trajectories[0].turns[2], report, group.trajectories[0].metadata.reward]) display(x, { tokenizer });
    expect(sent).toHaveLength(5);
    for (const { message } of sent) expect(Object.keys(message.data).sort()).toEqual(["text/html", "text/plain"]);
    expect(sent[1].message.data["text/plain"]).toBe(trajectoryToText(group.trajectories[0]));
    expect(sent[0].message.data["text/html"]).toContain('class="grpo-group"');
    expect(sent[3].message.data["text/html"]).toContain('class="grpo-step"');
    expect(sent[4].message.data["text/html"]).toContain('class="grpo-reward"');
    display({ any: "thing" });
    expect(sent[5].message.data).toEqual({ "text/plain": "{ any: 'thing' }" });
  });

  it("honours the opt-in protocol and rejects a protocol result that is not a bundle", () => {
    setDisplaySink(sink);
    display({ [MIME_BUNDLE_SYMBOL]: () => ({ "text/html": "<b>mine</b>", "text/plain": "mine" }) });
    display({ _repr_mimebundle_: () => ({ "text/markdown": "**md**" }) });
    expect(sent[0].message.data).toEqual({ "text/html": "<b>mine</b>", "text/plain": "mine" });
    expect(sent[1].message.data["text/markdown"]).toBe("**md**");
    expect(typeof sent[1].message.data["text/plain"]).toBe("string");
    expect(() => display({ _repr_mimebundle_: () => "nope" })).toThrow(/not a MIME bundle/);
    const chart = new Chart({ mark: "point", data: { values: [{ x: 1 }] }, encoding: { x: { field: "x", type: "quantitative" } } }, "one point");
    expect(Object.keys(mimeBundle(chart)).sort()).toEqual([VEGALITE_MIME, "image/png", "text/plain"].sort());
    expect(inspect(chart)).toBe("one point"); // what tslab prints for a chart as a cell's last expression
  });

  it("newDisplay(): display_data with an id, then update_display_data with the same id", () => {
    setDisplaySink(sink);
    const out = newDisplay();
    out.update(fixtureHistory(1));
    out.update(fixtureHistory(2));
    out.update("done");
    expect(sent.map((s) => [s.update, s.message.transient.display_id])).toEqual([[false, out.id], [true, out.id], [true, out.id]]);
    expect(out.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("prints the text form outside a notebook", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const history = fixtureHistory(2);
      display(history);
      expect(log).toHaveBeenCalledWith(toText(history));
    } finally {
      log.mockRestore();
    }
  });

  it("finds tslab's display writer in the module cache and sends through it", () => {
    const writes: unknown[][] = [];
    const file = "/somewhere/node_modules/tslab/dist/jupyter.js";
    const fake = { exports: { lastWriteDisplayData: (...args: unknown[]) => writes.push(args) } };
    (require.cache as Record<string, unknown>)[file] = fake;
    try {
      display(fixtureGroup(tokenizer));
      expect(writes).toHaveLength(1);
      const [message, update] = writes[0] as [DisplayMessage, boolean];
      expect(update).toBe(false);
      expect(Object.keys(message.data).sort()).toEqual(["text/html", "text/plain"]);
    } finally {
      delete (require.cache as Record<string, unknown>)[file];
    }
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    display("after the kernel is gone");
    expect(log).toHaveBeenCalledWith("after the kernel is gone");
    log.mockRestore();
    expect(writes).toHaveLength(1);
  });
});

describe("forms for files and terminals", () => {
  it("toHTML gives views, charts as inline PNG images, and escaped text otherwise", () => {
    const img = toHTML(fixtureHistory(2));
    expect(img).toMatch(/^<img class="grpo-chart" alt="chart" width="\d+" height="\d+" src="data:image\/png;base64,iVBORw0KGgo/);
    expect(toHTML(fixtureGroup(tokenizer))).toContain('class="grpo-group"');
    expect(toHTML("<b>")).toBe("<pre>&lt;b&gt;</pre>");
  });

  it("toSVG/toPNG draw charts and explain what to use for anything else", () => {
    expect(toSVG(fixtureHistory(2))).toMatch(/^<svg/);
    expect(pngSize(toPNG(fixtureHistory(2), { scale: 1 }).data).width).toBe(svgSize(toSVG(fixtureHistory(2))).width);
    expect(() => toSVG(fixtureGroup(tokenizer))).toThrow(/draws charts only[\s\S]*rewardChart/);
  });

  it("registers the renderers core objects delegate to", () => {
    const t = fixtureGroup(tokenizer).trajectories[0];
    expect(renderText(t)).toBe(trajectoryToText(t));
    expect(renderHTML(t)).toContain('class="grpo-trajectory"');
    expect(renderText({ unknown: true })).toBeUndefined();
  });
});
