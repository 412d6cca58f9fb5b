import { describe, expect, it } from "vitest";
import { runEpisode, runEpisodes } from "../../src/core/episode.js";
import { MultiTurnAgent, ToolAgent } from "../../src/core/agent.js";
import {
  ConversationEnvironment,
  Environment,
  EnvironmentState,
  EpisodeStatus,
  TaskEnvironment,
  type StepResult,
} from "../../src/core/environment.js";
import { ConversationTurn, MultiTurnTrajectory } from "../../src/core/trajectory.js";
import { calculatorTool, formatToolCall } from "../../src/core/tools.js";
import { rewardFunction } from "../../src/core/reward.js";
import { GrpoError } from "../../src/core/errors.js";
import type { ChatMessage, Generation, Policy, SamplingOptions } from "../../src/core/policy.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";
import { deriveSeed, SeedStream } from "../../src/core/rng.js";

async function scriptedAgent(replies: string[] | ((m: ChatMessage[], i: number) => string), systemPrompt = "SYS") {
  const policy = new ScriptedPolicy(replies);
  const agent = new MultiTurnAgent({ modelName: "scripted", systemPrompt }, { policy });
  await agent.initialize();
  return { agent, policy };
}

/** An environment that never says done and never counts turns. */
class EndlessEnvironment extends Environment {
  steps = 0;
  async reset(): Promise<EnvironmentState> {
    return new EnvironmentState({ context: { scenarioId: "endless" } });
  }
  async step(state: EnvironmentState): Promise<StepResult> {
    this.steps += 1;
    return { state: state.copy(), response: new ConversationTurn({ role: "user", content: "go on" }), reward: 0.5, done: false };
  }
  async getInitialPrompt(): Promise<string> {
    return "start";
  }
}

describe("runEpisode", () => {
  const scenario = { id: "help", userResponses: ["Hi!", "Python advice?", "Thanks!"], groundTruth: "x" };

  it("plays a conversation to completion and records everything", async () => {
    const { agent, policy } = await scriptedAgent(["Hello!", "Start with the basics.", "Welcome!"]);
    const env = new ConversationEnvironment({ scenarios: [scenario] });
    const traj = await runEpisode(agent, env, { scenario });
    expect(traj).toBeInstanceOf(MultiTurnTrajectory);
    expect(traj.turns.map((t) => `${t.role}:${t.content}`)).toEqual([
      "system:SYS",
      "user:Hi!",
      "assistant:Hello!",
      "user:Python advice?",
      "assistant:Start with the basics.",
      "user:Thanks!",
      "assistant:Welcome!",
    ]);
    expect(traj.scenarioId).toBe("help");
    expect(traj.status).toBe(EpisodeStatus.COMPLETED);
    expect(traj.turnRewards).toEqual([0, 0, 0]);
    expect(traj.assistantTurns.map((t) => t.reward)).toEqual([0, 0, 0]);
    expect(traj.metadata.scenario).toEqual(scenario);
    expect((traj.metadata.context as Record<string, unknown>).groundTruth).toBe("x");
    expect(traj.assistantTurns.every((t) => t.generation !== undefined)).toBe(true);
    // The user input is not duplicated: the last message the policy saw is the latest user turn, once.
    const third = policy.conversations[2].map((m) => m.content);
    expect(third).toEqual(["SYS", "Hi!", "Hello!", "Python advice?", "Start with the basics.", "Thanks!"]);
    // The result survives a JSON round trip.
    expect(MultiTurnTrajectory.fromJSON(JSON.parse(JSON.stringify(traj))).turns).toHaveLength(7);
  });

  it("omits the system turn when the prompt is empty", async () => {
    const { agent } = await scriptedAgent(["a"], "");
    const traj = await runEpisode(agent, new ConversationEnvironment({ scenarios: [scenario] }));
    expect(traj.turns[0].role).toBe("user");
  });

  it("sums step rewards and copies success from a task context", async () => {
    const { agent } = await scriptedAgent(["Where to?", "Fine.", "What budget?"]);
    const env = new TaskEnvironment({
      tasks: [{
        id: "trip",
        description: "Help user plan a trip",
        goal: "plan",
        requiredActions: [{ name: "destination", keywords: ["where"] }, { name: "budget", keywords: ["budget"] }],
      }],
    });
    const traj = await runEpisode(agent, env, { scenario: env.scenarios()[0] });
    expect(traj.turnRewards).toEqual([0.5, 0, 0.5]);
    expect(traj.totalReward).toBe(1);
    expect(traj.metadata.success).toBe(true);
    expect(traj.success).toBe(true);
    expect(traj.turns[1].content).toBe("Can you help me plan a trip?");
  });

  it("enforces maxTurns on an environment that never ends", async () => {
    const { agent, policy } = await scriptedAgent(["more"]);
    const env = new EndlessEnvironment({ maxTurns: 4 });
    const traj = await runEpisode(agent, env);
    expect(env.steps).toBe(4);
    expect(policy.calls).toHaveLength(4);
    expect(traj.status).toBe(EpisodeStatus.TRUNCATED);
    expect(traj.episodeLength).toBe(4);
    expect(traj.totalReward).toBe(2);
    expect(traj.scenarioId).toBe("endless");
  });

  it("stops between turns when aborted", async () => {
    const controller = new AbortController();
    const { agent, policy } = await scriptedAgent((_m, i) => {
      if (i === 1) controller.abort();
      return `reply ${i}`;
    });
    const env = new EndlessEnvironment({ maxTurns: 10 });
    const err = await runEpisode(agent, env, { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpoError);
    expect((err as GrpoError).code).toBe("aborted");
    expect(policy.calls).toHaveLength(2);
    expect(env.steps).toBe(1);
  });

  it("checks the signal between the environment's step and the next agent turn", async () => {
    const controller = new AbortController();
    class AbortingEnv extends EndlessEnvironment {
      override async step(state: EnvironmentState): Promise<StepResult> {
        if (this.steps === 1) controller.abort();
        return super.step(state);
      }
    }
    const { agent, policy } = await scriptedAgent(["x"]);
    const env = new AbortingEnv({ maxTurns: 10 });
    await expect(runEpisode(agent, env, { signal: controller.signal })).rejects.toMatchObject({ code: "aborted" });
    expect(env.steps).toBe(2);
    expect(policy.calls).toHaveLength(2);
  });

  it("refuses to start with an already aborted signal", async () => {
    const { agent, policy } = await scriptedAgent(["x"]);
    await expect(
      runEpisode(agent, new EndlessEnvironment(), { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: "aborted" });
    expect(policy.calls).toHaveLength(0);
  });

  it("scores the trajectory with the reward function last", async () => {
    const { agent } = await scriptedAgent(["short", "a much longer reply", "ok"]);
    const seen: Array<Record<string, unknown> | undefined> = [];
    const reward = rewardFunction({ name: "length" }, (turns, context) => {
      seen.push(context);
      const lengths = turns.filter((t) => t.role === "assistant").map((t) => t.content.length);
      return {
        score: lengths.reduce((a, b) => a + b, 0) / 100,
        breakdown: Object.fromEntries(lengths.map((n, i) => [`turn_${i}`, n / 100])),
        metadata: {},
      };
    });
    const traj = await runEpisode(agent, new ConversationEnvironment({ scenarios: [scenario] }), { scenario, reward });
    expect(traj.totalReward).toBeCloseTo(0.26);
    expect(traj.turnRewards).toEqual([0.05, 0.19, 0.02]);
    expect(seen[0]?.groundTruth).toBe("x");
  });

  it("runs tool rounds inside a step and steps with the final answer", async () => {
    const policy = new ScriptedPolicy([formatToolCall({ name: "calculator", arguments: { expression: "6*7" } }), "It is 42."]);
    const agent = new ToolAgent({ modelName: "m", systemPrompt: "S" }, { tools: [calculatorTool], policy });
    await agent.initialize();
    const actions: string[] = [];
    const env = new ConversationEnvironment({
      scenarios: [{ id: "math", userResponses: ["What is 6*7?"] }],
      stepReward: (_s, action) => {
        actions.push(action.content);
        return 1;
      },
    });
    const traj = await runEpisode(agent, env);
    expect(traj.turns.map((t) => t.role)).toEqual(["system", "user", "assistant", "tool", "assistant"]);
    expect(traj.turns[3].content).toBe("42");
    expect(actions).toEqual(["It is 42."]);
    expect(traj.turns[4].reward).toBe(1);
    expect(traj.turns[2].reward).toBeUndefined();
  });

  it("names the scenario and turn when an environment step crashes", async () => {
    class Crashing extends EndlessEnvironment {
      override async step(): Promise<StepResult> {
        throw new RangeError("index out of range");
      }
    }
    const { agent } = await scriptedAgent(["x"]);
    const err = (await runEpisode(agent, new Crashing()).catch((e) => e)) as GrpoError;
    expect(err.code).toBe("episode_failed");
    expect(err.message).toContain('Crashing.step failed in scenario "endless" at agent turn 1: index out of range');
    expect(err.cause).toBeInstanceOf(RangeError);
  });

  it("rejects a step result of the wrong shape", async () => {
    class Tuple extends EndlessEnvironment {
      override async step(state: EnvironmentState): Promise<StepResult> {
        return [state, null, 0, true] as unknown as StepResult;
      }
    }
    const { agent } = await scriptedAgent(["x"]);
    await expect(runEpisode(agent, new Tuple())).rejects.toThrow(/\{ state, response, reward, done \}/);
  });
});

describe("runEpisodes", () => {
  it("runs episodes concurrently so a policy can batch their turns", async () => {
    // A policy that holds calls briefly and records how many were in flight together.
    let inFlight = 0;
    let maxInFlight = 0;
    const policy: Policy = {
      name: "batching",
      async generate(conversations: ChatMessage[][], options: SamplingOptions): Promise<Generation[]> {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        return conversations.map((m) => ({
          text: `re: ${m[m.length - 1].content}`.slice(0, options.maxNewTokens),
          promptTokenIds: [1],
          tokenIds: [2],
          logprobs: [-1],
          finishReason: "stop" as const,
        }));
      },
    };
    const agent = new MultiTurnAgent({ modelName: "batching" }, { policy });
    await agent.initialize();
    const scenarios = ["a", "b", "c"].map((id) => ({ id, userResponses: [`hello ${id}`, `bye ${id}`] }));
    const env = new ConversationEnvironment({ scenarios });
    const trajectories = await runEpisodes(agent, env, scenarios);
    expect(trajectories.map((t) => t.scenarioId)).toEqual(["a", "b", "c"]);
    expect(trajectories.map((t) => t.turns[t.turns.length - 1].content)).toEqual(["re: bye a", "re: bye b", "re: bye c"]);
    expect(maxInFlight).toBe(3);
  });

  it("gives each episode its own seed stream: drawn from the policy in scenario order, or derived from a given seed", async () => {
    // A scripted policy with a forkSeed hook that hands out 100, 101, …; generate records the seeds.
    const policy = new ScriptedPolicy((m) => `re: ${m[m.length - 1].content}`, { delayMs: 1 });
    let draws = 0;
    const withHook = Object.assign(policy, { forkSeed: () => 100 + draws++ });
    const agent = new MultiTurnAgent({ modelName: "scripted" }, { policy: withHook });
    await agent.initialize();
    const scenarios = ["a", "b", "c"].map((id) => ({ id, userResponses: [`hello ${id}`, `more ${id}`, `bye ${id}`] }));
    const env = new ConversationEnvironment({ scenarios, maxTurns: 2 });
    const seedsOf = (id: string) => policy.calls
      .filter((c) => c.conversations[0].some((m) => m.content === `hello ${id}`))
      .map((c) => c.options.seed);
    await runEpisodes(agent, env, scenarios);
    expect(draws).toBe(3);
    // Episode i (scenario order) got seed 100 + i; its call k samples with deriveSeed(100 + i, k).
    scenarios.forEach(({ id }, i) => expect(seedsOf(id)).toEqual([deriveSeed(100 + i, 0), deriveSeed(100 + i, 1)]));

    policy.calls.length = 0;
    await runEpisodes(agent, env, scenarios, { seed: 7 });
    expect(draws).toBe(3); // a given seed draws nothing from the policy
    scenarios.forEach(({ id }, i) => {
      const stream = new SeedStream(deriveSeed(7, i));
      expect(seedsOf(id)).toEqual([stream.next(), stream.next()]);
    });

    policy.calls.length = 0;
    await runEpisode(agent, env, { scenario: scenarios[0], seed: 7 });
    expect(policy.calls.map((c) => c.options.seed)).toEqual([deriveSeed(7, 0), deriveSeed(7, 1)]);
  });

  it("passes no seed to a policy without forkSeed (its calls keep the policy's own sampling)", async () => {
    const { agent, policy } = await scriptedAgent(["ok"]);
    await runEpisodes(agent, new ConversationEnvironment({ scenarios: [{ id: "a", userResponses: ["hi"] }] }), [{ id: "a", userResponses: ["hi"] }]);
    expect(policy.calls.length).toBeGreaterThan(0);
    expect(policy.calls.every((c) => !("seed" in c.options))).toBe(true);
  });
});

describe("deriveSeed", () => {
  it("is a fixed function of (seed, index) into [0, 2^31), with no collisions over a small grid", () => {
    expect(deriveSeed(42, 3)).toBe(deriveSeed(42, 3));
    const seen = new Set<number>();
    for (let seed = -50; seed < 50; seed++) {
      for (let index = 0; index < 50; index++) {
        const s = deriveSeed(seed, index);
        expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
        seen.add(s);
      }
    }
    expect(seen.size).toBe(100 * 50);
    expect(() => deriveSeed(1.5, 0)).toThrow(GrpoError);
    expect(() => deriveSeed(1, -1)).toThrow(GrpoError);
  });
});
