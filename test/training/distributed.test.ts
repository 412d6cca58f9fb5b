/**
 * DistributedTrainer (DDP over worker threads) against the single-process GRPOTrainer: same seed and
 * total batch → the same rollouts (token for token) and the same update up to float summation order.
 * A large Adam epsilon makes each update ≈ lr·g/ε, linear in the gradient, so a wrong gradient scale
 * (e.g. averaging instead of summing the shards) would show instead of being hidden by Adam.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment, type ConversationEnvironmentOptions, type EnvironmentState, type StepResult } from "../../src/core/environment.js";
import { runEpisodes } from "../../src/core/episode.js";
import type { ConversationTurn, MultiTurnTrajectory } from "../../src/core/trajectory.js";
import { GrpoError } from "../../src/core/errors.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy, type SampledRows, type SampleRequest } from "../../src/model/policy.js";
import { DistributedTrainer, shareByLoad } from "../../src/training/distributed/trainer.js";
import type { StepReport } from "../../src/training/events.js";
import { GRPOTrainer } from "../../src/training/trainer.js";
import { makeTinyModel } from "../helpers/tiny-model.js";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** Documented tolerance (docs/distributed.md): worst |Δw| / largest |update| after two steps. */
const RELATIVE_TOLERANCE = 1e-4;

let dir: string;
beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  dir = await makeTinyModel({ seed: 6 });
});
afterAll(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

const reward = rewardFunction({ name: "len" }, (turns) => Math.min(1, turns.filter((t) => t.role === "assistant").map((t) => t.content).join("").length / 30));
const environment = new ConversationEnvironment({
  scenarios: [{ id: "a", userResponses: ["Hi!", "More?"] }, { id: "b", userResponses: ["Hello there."] }], maxTurns: 2,
});
const configOverrides = {
  numGenerations: 4, scenariosPerStep: 2, learningRate: 1e-2, adamEpsilon: 10, weightDecay: 0, maxGradNorm: 0,
  beta: 0.04, numIterations: 2, seed: 3, warmupRatio: 0,
};

async function newAgent(): Promise<MultiTurnAgent> {
  const agent = new MultiTurnAgent({ modelName: dir, systemPrompt: "Be nice.", temperature: 1, maxNewTokens: 8 });
  agent.policy = await TfPolicy.fromFolder(dir);
  return agent;
}

function weights(agent: MultiTurnAgent): number[] {
  const params = (agent.policy as TfPolicy).model.params;
  return Object.keys(params).sort().flatMap((n) => Array.from(params[n].dataSync()));
}

const tokens = (r: StepReport) => r.groups.flatMap((g) => g.trajectories.flatMap((t) => t.assistantTurns.map((turn) => turn.generation?.tokenIds)));

/** A conversation environment whose steps take a while: `delayMs(episode turn, reply)` ms, so episodes drift apart. */
class SlowEnvironment extends ConversationEnvironment {
  constructor(options: ConversationEnvironmentOptions, private readonly delayMs: (turn: number, reply: string) => number) {
    super(options);
  }

  override async step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs(state.turnCount, action.content)));
    return super.step(state, action);
  }
}

/** Everything an episode sampled: per turn, the role and text, and for assistant turns the prompt ids and tokens. */
const sampled = (trajectories: MultiTurnTrajectory[]) => trajectories.map((t) => t.turns.map((turn) =>
  [turn.role, turn.content, turn.generation?.promptTokenIds, turn.generation?.tokenIds]));

/**
 * The largest log-prob difference between two runs' assistant turns. A row's log-probs are computed
 * in whatever batch it was sampled in, so they agree to float32 rounding, not bit for bit (as in
 * test/model/generate.test.ts).
 */
function logprobGap(a: MultiTurnTrajectory[], b: MultiTurnTrajectory[]): number {
  const flat = (ts: MultiTurnTrajectory[]) => ts.flatMap((t) => t.assistantTurns.flatMap((turn) => turn.generation?.logprobs ?? []));
  const [x, y] = [flat(a), flat(b)];
  expect(x.length).toBe(y.length);
  return Math.max(0, ...x.map((v, i) => Math.abs(v - y[i])));
}

describe("DistributedTrainer", () => {
  it("agrees with the single-process trainer on a fixed seed (same rollouts, same updates up to float order) and checks replica hashes", async () => {
    const singleAgent = await newAgent();
    const before = weights(singleAgent);
    const single = await GRPOTrainer.create({ agent: singleAgent, environment, reward, configOverrides });
    const singleReports = [await single.step(), await single.step()];

    const ddpAgent = await newAgent();
    const ddp = await DistributedTrainer.create({ agent: ddpAgent, environment, reward, configOverrides, numWorkers: 2 });
    try {
      const ddpReports = [await ddp.step(), await ddp.step()];
      for (const [k, r] of ddpReports.entries()) {
        expect(tokens(r)).toEqual(tokens(singleReports[k]));
        expect(r.advantages).toEqual(singleReports[k].advantages);
        expect(Math.abs(r.loss - singleReports[k].loss)).toBeLessThan(1e-6);
      }
      const a = weights(singleAgent).map((v, i) => v - before[i]);
      const b = weights(ddpAgent).map((v, i) => v - before[i]);
      const scale = Math.max(...a.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-4);
      const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
      expect(worst / scale).toBeLessThan(RELATIVE_TOLERANCE);
      // The replicas were checked after each step and agree with the coordinator; a drifted one is caught.
      const hash = ddp.lastWeightsHash;
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      const p = (ddpAgent.policy as TfPolicy).model.params["ln_f.bias"];
      p.assign(p.add(1e-6));
      const err = await ddp.checkReplicas().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrpoError);
      expect((err as GrpoError).code).toBe("distributed_failed");
      expect((err as GrpoError).message).toMatch(/worker\(s\) 0, 1 differ/);
      expect(ddp.lastWeightsHash).toBe(hash);
    } finally {
      await ddp.close();
      single.dispose();
    }
  });

  it("resumes from a checkpoint exactly (replicas restart from its weights, moments and reference)", async () => {
    const checkpoint = mkdtempSync(path.join(tmpdir(), "ddp-resume-"));
    const first = await DistributedTrainer.create({ agent: await newAgent(), environment, reward, configOverrides, numWorkers: 2 });
    let uninterrupted: string;
    try {
      await first.step();
      await first.save(checkpoint);
      await first.step();
      uninterrupted = first.lastWeightsHash as string;
    } finally {
      await first.close();
    }
    const resumed = await DistributedTrainer.resume(checkpoint, { environment, reward, numWorkers: 2 });
    try {
      expect(resumed.stepCount).toBe(1);
      await resumed.step();
      expect(resumed.lastWeightsHash).toBe(uninterrupted);
    } finally {
      await resumed.close();
      await rm(checkpoint, { recursive: true, force: true });
    }
  });

  it("rejects strategy \"deepspeed\" (and bad worker counts) with what is supported", async () => {
    const agent = await newAgent();
    const err = await DistributedTrainer.create({ agent, environment, reward, strategy: "deepspeed" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpoError);
    expect((err as GrpoError).code).toBe("invalid_config");
    expect((err as GrpoError).message).toContain("`deepspeed` is not supported");
    expect(String((err as GrpoError).expected)).toContain('"ddp"');
    await expect(DistributedTrainer.create({ agent, environment, reward, numWorkers: 0 })).rejects.toThrow(/numWorkers/);
    await expect(DistributedTrainer.create({ agent, environment, reward, numGpus: 1 })).rejects.toThrow(/tfjs-node-gpu/);
  });

  it("pipelined rollouts: 2 workers sample exactly the single-process trajectories for a seed, whatever the timing", async () => {
    const options: ConversationEnvironmentOptions = {
      scenarios: [{ id: "a", userResponses: ["Hi!", "More?", "Why?"] }, { id: "b", userResponses: ["Hello there."] }, { id: "c", userResponses: ["Yes", "No"] }],
      maxTurns: 3,
    };
    const plays = Array.from({ length: 12 }, (_, i) => new ConversationEnvironment(options).scenarios()[i % 3]);
    const local = await newAgent();
    await local.initialize();
    const expected = await runEpisodes(local, new ConversationEnvironment(options), plays, { seed: 21 });
    (local.policy as TfPolicy).reseed(4);
    const expectedFromPolicySeed = await runEpisodes(local, new ConversationEnvironment(options), plays);

    const agent = await newAgent();
    const ddp = await DistributedTrainer.create({ agent, environment, reward, configOverrides, numWorkers: 2 });
    try {
      // Count the batches in flight at once (> 1 means a batch started before the previous one ended).
      const policy = agent.policy as TfPolicy;
      const inner = policy.sampler!;
      let inFlight = 0;
      let maxInFlight = 0;
      policy.sampler = Object.assign(async (request: SampleRequest, signal?: AbortSignal, onRows?: (part: SampledRows) => void) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await inner(request, signal, onRows);
        } finally {
          inFlight -= 1;
        }
      }, { encodesChats: inner.encodesChats, pipelined: inner.pipelined });
      expect(inner.pipelined).toBe(true);
      // Two different timings: step delays that depend on the turn, and on the reply's length.
      const first = await runEpisodes(agent, new SlowEnvironment(options, (turn) => [0, 25, 5][turn % 3]), plays, { seed: 21 });
      const second = await runEpisodes(agent, new SlowEnvironment(options, (_, reply) => (reply.length * 7) % 30), plays, { seed: 21 });
      expect(sampled(first)).toEqual(sampled(expected));
      expect(sampled(second)).toEqual(sampled(expected));
      expect(logprobGap(first, expected)).toBeLessThan(1e-5);
      expect(logprobGap(second, expected)).toBeLessThan(1e-5);
      expect(maxInFlight).toBeGreaterThan(1);
      // Seeds drawn from the policy's RNG (no seed given) agree too.
      policy.reseed(4);
      const fromPolicySeed = await runEpisodes(agent, new SlowEnvironment(options, (turn) => [15, 0, 5][turn % 3]), plays);
      expect(sampled(fromPolicySeed)).toEqual(sampled(expectedFromPolicySeed));
      expect(logprobGap(fromPolicySeed, expectedFromPolicySeed)).toBeLessThan(1e-5);
    } finally {
      await ddp.close();
    }
  });

  it("gives a batch's rows to the workers with the fewest rows pending", () => {
    expect(shareByLoad(16, [0, 0])).toEqual([8, 8]);
    expect(shareByLoad(16, [16, 0])).toEqual([0, 16]);
    expect(shareByLoad(16, [10, 0])).toEqual([3, 13]);
    expect(shareByLoad(5, [0, 0, 0])).toEqual([2, 2, 1]);
    expect(shareByLoad(0, [3, 1])).toEqual([0, 0]);
  });
});
