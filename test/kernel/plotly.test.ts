/**
 * Plotly output: `plotlyFigure(history)` and the MIME bundle `display()` sends for it
 * (`application/vnd.plotly.v1+json` + the vega-lite chart's PNG + text), and the history panels
 * the report draws (every logged metric somewhere, reward ± std bands, escaped labels).
 */
import { describe, expect, it } from "vitest";
import { display, mimeBundle, setDisplaySink, type DisplayMessage } from "../../kernel/index.js";
import { historyPanels, PLOTLY_MIME, PlotlyFigure, plotlyFigure, plotlyText, type PlotlyFigureJSON } from "../../kernel/plotly.js";
import { TrainingHistory } from "../../src/training/history.js";
import { fixtureHistory, stepMetrics } from "./fixtures.js";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

type Trace = { name?: string; x: number[]; y: (number | null)[]; xaxis?: string; yaxis?: string; fill?: string };

describe("plotlyFigure(history) and its MIME bundle", () => {
  it("display() sends one bundle: plotly JSON, the PNG fallback with its display size, and text", () => {
    const history = fixtureHistory(5);
    const messages: Array<{ message: DisplayMessage; update: boolean }> = [];
    const previous = setDisplaySink((message, update) => messages.push({ message, update }));
    try {
      display(plotlyFigure(history));
    } finally {
      setDisplaySink(previous);
    }
    expect(messages).toHaveLength(1);
    const { data, metadata } = messages[0].message;
    expect(Object.keys(data).sort()).toEqual([PLOTLY_MIME, "image/png", "text/plain"].sort());
    const png = Buffer.from(data["image/png"] as string, "base64");
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const width = png.readUInt32BE(16);
    expect(metadata["image/png"]).toEqual({ width: Math.round(width / 2), height: Math.round(png.readUInt32BE(20) / 2) });
    expect(data["text/plain"]).toContain("TrainingHistory: 5 steps");

    const figure = data[PLOTLY_MIME] as Required<PlotlyFigureJSON>;
    expect(Object.keys(figure).sort()).toEqual(["config", "data", "layout"]);
    // Plain JSON that survives a round trip unchanged (what the kernel sends over the wire).
    expect(JSON.parse(JSON.stringify(figure))).toEqual(figure);
    const traces = figure.data as Trace[];
    // Every trace sits on its own panel's axes, and each panel has an axis pair and a title.
    const axes = new Set(traces.map((t) => t.xaxis));
    for (const x of axes) {
      const suffix = (x as string).slice(1);
      expect(figure.layout[`xaxis${suffix}`]).toBeDefined();
      expect(figure.layout[`yaxis${suffix}`]).toBeDefined();
    }
    const titles = (figure.layout.annotations as Array<{ text: string }>).map((a) => a.text);
    expect(titles).toEqual(["reward (mean ± std within groups)", "reward components (mean ± std)", "loss", "KL to the reference",
      "clip ratio", "entropy (nats / token)", "tokens per assistant turn", "grad norm (before clipping)"]);
    expect(axes.size).toBe(titles.length);
    // The reward band: lower and upper bounds are mean ∓ reward_std, the upper filled to the lower.
    const [lo, hi, mean] = traces.filter((t) => t.xaxis === "x");
    expect(mean.y).toEqual(history.series("reward"));
    expect(lo.y).toEqual(history.steps.map((m) => m.reward - m.reward_std));
    expect(hi.y).toEqual(history.steps.map((m) => m.reward + m.reward_std));
    expect(hi.fill).toBe("tonexty");
    expect(mean.x).toEqual([1, 2, 3, 4, 5]);
  });

  it("sends missing values as null (JSON has no NaN) and draws every logged metric with panels: all", () => {
    const steps = [stepMetrics(1), stepMetrics(2, true), { ...stepMetrics(3), "custom/score": 0.5 }];
    const figure = plotlyFigure(steps, { panels: "all" });
    const bundle = mimeBundle(figure);
    const kl = ((bundle[PLOTLY_MIME] as PlotlyFigureJSON).data as Trace[]).find((t) => t.name === "kl");
    expect(kl?.y).toEqual([0.01, null, 0.03]);
    const drawn = new Set(historyPanels(steps).flatMap((p) => p.metrics));
    const loggedNames = new Set(steps.flatMap((m) => Object.keys(m)));
    loggedNames.delete("step");
    expect([...loggedNames].filter((k) => !drawn.has(k))).toEqual([]);
    expect(historyPanels(steps).map((p) => p.title)).toContain("custom/score");
  });

  it("escapes markup in metric and component names (they come from logs)", () => {
    const evil = "<img src=x onerror=alert(1)>";
    const steps = [{ step: 1, reward: 0.5, [`rewards/${evil}/mean`]: 0.5, [evil]: 1 }];
    const panels = historyPanels(steps);
    // What plotly renders: panel titles, trace names, hover templates, legend groups.
    const shown = panels.flatMap((p) => [p.title, ...p.traces.flatMap((t) => [t.name, t.hovertemplate, t.legendgroup])]).filter((v) => typeof v === "string");
    expect(shown.filter((v) => /<img/.test(v as string))).toEqual([]);
    expect(shown).toContain(plotlyText(evil));
    expect(plotlyText(evil)).toBe("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("a hand-made PlotlyFigure works too: no fallback means no image in the bundle; bad input is refused", () => {
    const figure = new PlotlyFigure({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: { title: { text: "mine" } } });
    expect(mimeBundle(figure)).toEqual({
      [PLOTLY_MIME]: { data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: { title: { text: "mine" } }, config: { responsive: true, displaylogo: false } },
      "text/plain": "PlotlyFigure(mine, 1 traces)",
    });
    expect(() => new PlotlyFigure({ layout: {} } as never)).toThrow(/needs `data` \(an array of traces\) and a `layout` object/);
    expect(() => plotlyFigure({} as never)).toThrow(/plotlyFigure draws a training history/);
    expect(plotlyFigure(new TrainingHistory()).data).toEqual([]);
  });
});
