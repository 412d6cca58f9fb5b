/**
 * `npm run bench:serve`: what a client sees from `grpo serve` on this machine. Serves
 * builtin:tiny-chat in-process on a loopback port and measures, with the official `openai` client:
 * the latency of a whole completion, the time to the first streamed text, and completion tokens per
 * second; then the overhead of the HTTP path against calling the policy directly.
 *
 *   npm run bench:serve [-- --tokens 64 --runs 5]
 */
import OpenAI from "openai";
import { performance } from "node:perf_hooks";
import { loadPolicy } from "../src/model/registry.js";
import { startChatServer } from "../src/server/openai-server.js";
import { median } from "./lib/args.js";

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}


const tokens = flag("tokens", 64);
const runs = flag("runs", 5);
const policy = await loadPolicy("builtin:tiny-chat");
const server = await startChatServer({ models: { "tiny-chat": policy }, port: 0 });
const client = new OpenAI({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
const messages = [{ role: "system" as const, content: "You are a helpful AI assistant." }, { role: "user" as const, content: "I need advice on learning Python." }];
// min_tokens is not in the API: ask for a long reply at temperature 1 and count what comes back.
const request = { model: "tiny-chat", messages, max_tokens: tokens, temperature: 1 };

await client.chat.completions.create({ ...request, seed: 0 }); // warm-up (backend init, first compile)
const whole: number[] = [];
const direct: number[] = [];
const firstText: number[] = [];
const rates: number[] = [];
const counts: number[] = [];
for (let i = 0; i < runs; i++) {
  let t = performance.now();
  const completion = await client.chat.completions.create({ ...request, seed: i + 1 });
  const ms = performance.now() - t;
  whole.push(ms);
  rates.push((completion.usage?.completion_tokens ?? 0) / (ms / 1000));

  policy.reseed(i + 1);
  t = performance.now();
  const [same] = await policy.generate([messages], { temperature: 1, topP: 1, topK: 0, maxNewTokens: tokens });
  direct.push(performance.now() - t);
  if (same.tokenIds.length !== completion.usage?.completion_tokens) throw new Error("the direct call sampled other tokens");
  counts.push(same.tokenIds.length);

  t = performance.now();
  let first: number | undefined;
  for await (const chunk of await client.chat.completions.create({ ...request, seed: i + 1, stream: true })) {
    if (first === undefined && chunk.choices[0]?.delta?.content) first = performance.now() - t;
  }
  firstText.push(first ?? Number.NaN);
}
await server.close();
policy.dispose();

console.log(`grpo serve, builtin:tiny-chat, max_tokens ${tokens}, ${runs} runs (medians; completions of ${counts.join(", ")} tokens):`);
console.log(`  whole completion over HTTP   ${median(whole).toFixed(0)} ms  (${median(rates).toFixed(0)} completion tokens/s)`);
console.log(`  same sampling, no HTTP       ${median(direct).toFixed(0)} ms`);
console.log(`  first streamed text          ${median(firstText).toFixed(0)} ms`);
