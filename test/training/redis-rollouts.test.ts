/**
 * Multi-machine rollouts on BullMQ: a real Debian `redis-server` on loopback (a free port, a temp
 * dir), two `grpo worker --redis <url>` processes, and a trainer whose sampling goes through the
 * queue. One worker is SIGKILLed in the middle of a job: its job must be rerun by the other worker,
 * and the step must see exactly the trajectories of a local run (none lost, none twice). A second
 * step checks that workers sample with the new weights version.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Queue, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { sampleLocally, TfPolicy, type SampleRequest } from "../../src/model/policy.js";
import type { StepReport } from "../../src/training/events.js";
import { redisConnection, RedisRollouts, type SampleJobResult } from "../../src/training/distributed/redis-rollouts.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel } from "../helpers/tiny-model.js";

const REDIS = "/usr/bin/redis-server";
const REPO = path.resolve(import.meta.dirname, "../..");

let dir: string;
let tmp: string;
let redis: ChildProcess | undefined;
let redisUrl: string;
const workers: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the child once a line of its stdout matches. */
function waitForLine(child: ChildProcess, pattern: RegExp, output: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const hit = output.find((l) => pattern.test(l));
      if (hit) { child.stdout?.off("data", check); resolve(hit); }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => reject(new Error(`process exited (${code}) before printing ${pattern}: ${output.join("\n")}`)));
    check();
  });
}

function startWorker(): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO, "src/cli/main.ts"), "worker", "--redis", redisUrl, "--queue", "test", "--lock-ms", "1000"],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GRPO_BACKEND: "wasm" } });
  const lines: string[] = [];
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stderr?.on("data", (chunk: Buffer) => lines.push(`stderr: ${chunk.toString()}`));
  workers.push(child);
  return { child, lines };
}

beforeAll(async () => {
  if (!existsSync(REDIS)) throw new Error(`${REDIS} is missing: apt-get install redis-server (scripts/setup-test-env.mjs installs it)`);
  await selectBackend({ backend: "wasm" });
  dir = await makeTinyModel({ seed: 4 });
  tmp = mkdtempSync(path.join(tmpdir(), "redis-test-"));
  const port = await freePort();
  redisUrl = `redis://127.0.0.1:${port}`;
  redis = spawn(REDIS, ["--port", String(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [];
  redis.stdout?.on("data", (c: Buffer) => out.push(c.toString()));
  await waitForLine(redis, /Ready to accept connections/, out);
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
  if (redis && redis.exitCode === null) {
    const exited = new Promise((resolve) => redis?.once("exit", resolve));
    redis.kill("SIGTERM");
    await exited;
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
  if (dir) await rm(path.dirname(dir), { recursive: true, force: true });
});

const reward = rewardFunction({ name: "len" }, (turns) => Math.min(1, turns.filter((t) => t.role === "assistant").map((t) => t.content).join("").length / 60));
const environment = new ConversationEnvironment({
  scenarios: [{ id: "a", userResponses: ["Hi!", "More?"] }, { id: "b", userResponses: ["Hello there."] }], maxTurns: 2,
});
const configOverrides = { numGenerations: 4, scenariosPerStep: 2, learningRate: 1e-2, seed: 5, warmupRatio: 0, maxNewTokens: 48 };

async function newTrainer(): Promise<{ trainer: GRPOTrainer; policy: TfPolicy }> {
  const agent = new MultiTurnAgent({ modelName: dir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 48 });
  const policy = await TfPolicy.fromFolder(dir);
  agent.policy = policy;
  return { trainer: await GRPOTrainer.create({ agent, environment, reward, configOverrides }), policy };
}

const turnsOf = (r: StepReport) => r.groups.flatMap((g) => g.trajectories.flatMap((t) => t.assistantTurns.map((turn) => turn.generation)));

describe("Redis (BullMQ) rollouts", () => {
  it("survives a worker killed mid-job: every trajectory exactly once, as a local run samples it", async () => {
    const local = await newTrainer();
    const localReports = [await local.trainer.step(), await local.trainer.step()];

    const a = startWorker();
    const b = startWorker();
    await Promise.all([waitForLine(a.child, /ready/, a.lines), waitForLine(b.child, /ready/, b.lines)]);
    const remote = await newTrainer();
    const rollouts = await RedisRollouts.connect({ redisUrl, queueName: "test", rowsPerJob: 2 });
    try {
      await rollouts.attach(remote.policy);
      // Kill whichever worker starts a job first, as soon as it says so.
      const first = Promise.race([a, b].map((w) => waitForLine(w.child, /^grpo worker: start /, w.lines).then((line) => ({ w, line }))));
      const stepped = remote.trainer.step();
      const { w: victim, line } = await first;
      victim.child.kill("SIGKILL");
      const killedJob = /start (\S+)/.exec(line)?.[1] as string;
      const reports = [await stepped, await remote.trainer.step()];

      // The killed worker never finished its job; the survivor ran it.
      expect(victim.lines.some((l) => l.includes(`done ${killedJob}`))).toBe(false);
      const queue = new Queue("test", { connection: redisConnection(redisUrl) });
      const job = await queue.getJob(killedJob);
      await queue.close();
      const survivor = victim === a ? b : a;
      expect((job?.returnvalue as SampleJobResult).worker).toMatch(new RegExp(`:${survivor.child.pid}$`));
      expect(survivor.lines.some((l) => l.includes(`done ${killedJob}`))).toBe(true);

      // Same trajectories as the local run, token for token, none lost or repeated; step 2 sampled
      // with the updated weights (version 2), so its log-probs match the local step 2's.
      for (const [k, r] of reports.entries()) {
        const mine = turnsOf(r);
        const theirs = turnsOf(localReports[k]);
        expect(mine.length).toBe(theirs.length);
        expect(mine.map((g) => g?.tokenIds)).toEqual(theirs.map((g) => g?.tokenIds));
        const worst = Math.max(...mine.flatMap((g, i) => (g?.logprobs ?? []).map((lp, j) => Math.abs(lp - (theirs[i]?.logprobs[j] ?? 0)))));
        expect(worst).toBeLessThan(1e-4);
      }
      expect(rollouts.version).toBe(2);
      expect(rollouts.stats.rejected).toBe(0);
      expect(rollouts.stats.accepted).toBe(rollouts.stats.jobs);
    } finally {
      await rollouts.close();
      local.trainer.dispose();
      remote.trainer.dispose();
    }
  });

  it("rejects a result sampled with other weights and has the rows sampled again", async () => {
    const { policy } = await newTrainer();
    const rollouts = await RedisRollouts.connect({ redisUrl, queueName: "stale", rowsPerJob: 8 });
    let answered = 0;
    // A worker that answers its first job as if it still had version 0 weights.
    const worker = new Worker<{ version: number; request: SampleRequest }, SampleJobResult>("stale", async (job) => {
      answered += 1;
      const results = await sampleLocally(policy.model, policy.tokenizer, job.data.request);
      return { version: answered === 1 ? job.data.version - 1 : job.data.version, results, worker: "in-test" };
    }, { connection: redisConnection(redisUrl) });
    try {
      await rollouts.attach(policy);
      const conversations = [[{ role: "user" as const, content: "Hi!" }], [{ role: "user" as const, content: "More?" }]];
      const generations = await policy.generate(conversations, { temperature: 1, topK: 0, topP: 1, maxNewTokens: 8 });
      expect(generations).toHaveLength(2);
      expect(rollouts.stats).toEqual({ jobs: 2, accepted: 1, rejected: 1 });
      expect(answered).toBe(2);
    } finally {
      await worker.close();
      await rollouts.close();
      policy.dispose();
    }
  });
});
