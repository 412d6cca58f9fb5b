/**
 * DistributedTrainer (DDP over worker threads) against the single-process GRPOTrainer: same seed and
 * total batch → the same rollouts (token for token) and the same update up to float summation order.
 * A large Adam epsilon makes each update ≈ lr·g/ε, linear in the gradient, so a wrong gradient scale
 * (e.g. averaging instead of summing the shards) would show instead of being hidden by Adam.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { GrpoError } from "../../src/core/errors.js";
import { rewardFunction } from "../../src/core/reward.js";
import { selectBackend } from "../../src/model/backend.js";
import { TfPolicy } from "../../src/model/policy.js";
import { DistributedTrainer } from "../../src/training/distributed/trainer.js";
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
});
