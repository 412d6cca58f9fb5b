// Live-plot cost (`npm run bench:liveplot`): trains the quick start (builtin:tiny-chat) with
// `liveplot(trainer)` attached at its default settings and reports the share of the run's wall time
// spent building and sending plot updates (the plot's own timing of each update: vega-lite spec, SVG,
// PNG through resvg, HTML, and serialising the message as the kernel would). Target: ≤ 2 %.
// Options: --steps N (default 12).
import { setDisplaySink } from "../kernel/display.js";
import { liveplot } from "../kernel/liveplot.js";
import { EXAMPLES } from "../examples/index.js";
import { GRPOTrainer } from "../src/training/trainer.js";

const at = process.argv.indexOf("--steps");
const steps = at >= 0 ? Number.parseInt(process.argv[at + 1], 10) : 12;

let bytes = 0;
let messages = 0;
// A kernel serialises every message to JSON before it goes on the wire: do the same.
setDisplaySink((message) => { bytes += JSON.stringify(message).length; messages += 1; });

const spec = EXAMPLES.quick_start.spec({});
const trainer = await GRPOTrainer.create({
  agent: spec.agent, environment: spec.environment, reward: spec.reward, profile: spec.profile, configOverrides: { seed: 0 },
});
const live = liveplot({ trainer });
trainer.callbacks.push(live);
const started = performance.now();
await trainer.run({ steps });
const wallMs = performance.now() - started;
const stats = live.stats();
const plotMs = stats.meanMs * stats.updates;
console.log(`${steps} quick-start steps in ${(wallMs / 1000).toFixed(1)} s with liveplot(trainer) at its defaults`);
console.log(`plot updates: ${stats.updates} (${stats.skipped} steps folded by the throttle), mean ${stats.meanMs.toFixed(1)} ms, max ${stats.maxMs.toFixed(1)} ms, ${(bytes / messages / 1024).toFixed(0)} KiB per message`);
console.log(`plotting share of the run's wall time: ${((100 * plotMs) / wallMs).toFixed(2)} % (target ≤ 2 %)`);
