// Twins of the usage guide's "Designing Environments" section, in camelCase TypeScript, run for real.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ConversationEnvironment,
  Environment,
  EnvironmentState,
  EpisodeStatus,
  TaskEnvironment,
  type Scenario,
  type StepResult,
  type TaskContext,
} from "../../src/core/environment.js";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { runEpisode } from "../../src/core/episode.js";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { ScriptedPolicy, type ReplyFn } from "../helpers/scripted-policy.js";

async function agentSaying(replies: string[] | ReplyFn) {
  const policy = new ScriptedPolicy(replies);
  const agent = new MultiTurnAgent({ modelName: "scripted" }, { policy });
  await agent.initialize();
  return { agent, policy };
}

describe("Conversation Environment", () => {
  const scenarios = [
    {
      id: "customer_support",
      topic: "technical_help",
      context: "User has a technical problem",
      userResponses: [
        "My device isn't working properly.",
        "I've tried restarting it.",
        "That didn't help either.",
        "Okay, I'll try that solution.",
      ],
    },
  ];

  const env = new ConversationEnvironment({
    scenarios,
    maxTurns: 12,
    persona: "You are a user seeking technical support.",
  });

  it("plays the customer support script to completion", async () => {
    const { agent } = await agentSaying([
      "Sorry to hear that. What happens?",
      "Did a restart change anything?",
      "Try a factory reset.",
      "Great, let me know how it goes.",
    ]);
    const trajectory = await runEpisode(agent, env, { scenario: env.scenarios()[0] });
    expect(trajectory.status).toBe(EpisodeStatus.COMPLETED);
    expect(trajectory.episodeLength).toBe(4);
    expect(trajectory.turns.filter((t) => t.role === "user").map((t) => t.content)).toEqual(scenarios[0].userResponses);
    expect(trajectory.turns[trajectory.turns.length - 1].content).toBe("Great, let me know how it goes.");
    expect(trajectory.metadata.context).toMatchObject({
      scenarioId: "customer_support",
      topic: "technical_help",
      persona: "You are a user seeking technical support.",
      userTurnIndex: 3,
    });
  });
});

describe("Task Environment", () => {
  const tasks = [{
    description: "Help user plan a vacation",
    goal: "Create a complete vacation plan",
    requiredActions: [
      { name: "destination", keywords: ["where", "destination", "place"] },
      { name: "budget", keywords: ["cost", "budget", "price"] },
      { name: "activities", keywords: ["do", "activities", "attractions"] },
      { name: "schedule", keywords: ["when", "dates", "time"] },
    ],
  }];

  function successCriteria(turns: ConversationTurn[], context: TaskContext) {
    const completed = (context.completedActions ?? []).length;
    const required = (context.requiredActions ?? []).length;
    return completed >= required;
  }

  const env = new TaskEnvironment({
    tasks,
    successCriteria,
    maxTurns: 15,
  });

  it("completes once every required action is mentioned", async () => {
    const { agent, policy } = await agentSaying([
      "Where would you like to go?",
      "What is your budget?",
      "What would you like to do there, and when are your dates?",
    ]);
    const trajectory = await runEpisode(agent, env, { scenario: env.scenarios()[0] });
    expect(trajectory.status).toBe(EpisodeStatus.COMPLETED);
    expect(trajectory.success).toBe(true);
    expect(trajectory.episodeLength).toBe(3);
    expect(trajectory.turnRewards).toEqual([0.25, 0.25, 0.5]);
    expect((trajectory.metadata.context as TaskContext).completedActions).toEqual([
      "destination", "budget", "activities", "schedule",
    ]);
    expect(policy.conversations[0].at(-1)).toEqual({ role: "user", content: "Can you help me plan a vacation?" });
  });

  it("truncates when required actions are missing", async () => {
    const { agent } = await agentSaying(["Where would you like to go?", "Sounds lovely!"]);
    const trajectory = await runEpisode(agent, env, { scenario: env.scenarios()[0] });
    expect(trajectory.status).toBe(EpisodeStatus.TRUNCATED);
    expect(trajectory.success).toBe(false);
    expect(trajectory.episodeLength).toBe(15);
    expect((trajectory.metadata.context as TaskContext).completedActions).toEqual(["destination"]);
    expect(trajectory.totalReward).toBe(0.25);
  });
});

describe("Custom Environment", () => {
  class CustomEnvironment extends Environment {
    async reset(scenario?: Scenario): Promise<EnvironmentState> {
      // Initialize episode state
      const state = new EnvironmentState({
        episodeId: randomUUID(),
        turnCount: 0,
        status: EpisodeStatus.ONGOING,
        context: { customData: scenario },
      });
      return state;
    }

    async step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult> {
      // Process agent action
      const newState = state.copy();
      newState.turnCount += 1;

      // Generate environment response
      const response = new ConversationTurn({
        role: "user",
        content: "Custom response based on action",
      });

      // Calculate reward
      const reward = this.calculateCustomReward(action);

      // Check if done
      const done = newState.turnCount >= this.maxTurns;

      return { state: newState, response, reward, done };
    }

    async getInitialPrompt(_scenario?: Scenario): Promise<string> {
      return "Custom initial prompt";
    }

    calculateCustomReward(action: ConversationTurn): number {
      return action.content.includes("please") ? 1 : 0;
    }
  }

  it("runs through runEpisode with its own rewards and turn limit", async () => {
    const env = new CustomEnvironment({ maxTurns: 3 });
    const { agent } = await agentSaying(["yes please", "no", "please do"]);
    const trajectory = await runEpisode(agent, env, { scenario: { id: "custom_1", level: 2 } });
    expect(trajectory.scenarioId).toBe("custom_1");
    expect(trajectory.turnRewards).toEqual([1, 0, 1]);
    expect(trajectory.totalReward).toBe(2);
    expect(trajectory.status).toBe(EpisodeStatus.COMPLETED); // the environment said done
    expect(trajectory.turns[1].content).toBe("Custom initial prompt");
    expect(trajectory.turns.filter((t) => t.content === "Custom response based on action")).toHaveLength(3);
    expect((trajectory.metadata.context as Record<string, unknown>).customData).toEqual({ id: "custom_1", level: 2 });
    expect(new CustomEnvironment().maxTurns).toBe(10);
  });
});
