import { describe, expect, it } from "vitest";
import {
  containsKeyword,
  ConversationEnvironment,
  EnvironmentState,
  EpisodeStatus,
  TaskEnvironment,
  taskRequest,
  type TaskContext,
} from "../../src/core/environment.js";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { GrpoError } from "../../src/core/errors.js";

const say = (content: string) => new ConversationTurn({ role: "assistant", content });

describe("EnvironmentState", () => {
  it("defaults to a fresh ongoing episode", () => {
    const s = new EnvironmentState();
    expect(s.turnCount).toBe(0);
    expect(s.status).toBe(EpisodeStatus.ONGOING);
    expect(s.context).toEqual({});
    expect(s.episodeId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new EnvironmentState().episodeId).not.toBe(s.episodeId);
  });

  it("copy() deep-copies the context", () => {
    const s = new EnvironmentState({ episodeId: "e1", turnCount: 2, context: { list: [1, 2], nested: { a: 1 } } });
    const c = s.copy();
    (c.context.list as number[]).push(3);
    (c.context.nested as { a: number }).a = 9;
    c.turnCount += 1;
    expect(s.context).toEqual({ list: [1, 2], nested: { a: 1 } });
    expect(s.turnCount).toBe(2);
    expect(c.episodeId).toBe("e1");
  });

  it("copy() explains a context holding functions", () => {
    const s = new EnvironmentState({ context: { fn: () => 1 } });
    expect(() => s.copy()).toThrow(/EnvironmentState\.context/);
  });
});

describe("ConversationEnvironment", () => {
  const scenarios = [
    { id: "s1", topic: "python", context: "a learner", userResponses: ["Hi!", "Tell me more.", "Thanks!"], groundTruth: 42 },
    { id: "s2", userResponses: ["Only one message."] },
  ];

  it("plays the script and completes when it runs out", async () => {
    const env = new ConversationEnvironment({ scenarios, persona: "a curious learner" });
    expect(env.maxTurns).toBe(12);
    expect(await env.getInitialPrompt(scenarios[0])).toBe("Hi!");
    const s0 = await env.reset(scenarios[0]);
    expect(s0.context).toMatchObject({
      scenarioId: "s1",
      topic: "python",
      persona: "a curious learner",
      userTurnIndex: 0,
      groundTruth: 42,
    });
    expect((s0.context.scenario as { id: string }).id).toBe("s1");

    const r1 = await env.step(s0, say("Hello! How can I help?"));
    expect(r1).toMatchObject({ reward: 0, done: false });
    expect(r1.response?.role).toBe("user");
    expect(r1.response?.content).toBe("Tell me more.");
    expect(r1.state.turnCount).toBe(1);
    expect(s0.turnCount).toBe(0); // step never mutates its input

    const r2 = await env.step(r1.state, say("Sure."));
    expect(r2.response?.content).toBe("Thanks!");
    expect(r2.state.context.userTurnIndex).toBe(2);

    const r3 = await env.step(r2.state, say("You're welcome."));
    expect(r3).toMatchObject({ response: null, done: true });
    expect(r3.state.status).toBe(EpisodeStatus.COMPLETED);
    expect(r3.state.context.transcript).toEqual([
      { role: "user", content: "Hi!" },
      { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "Tell me more." },
      { role: "assistant", content: "Sure." },
      { role: "user", content: "Thanks!" },
      { role: "assistant", content: "You're welcome." },
    ]);
    await expect(env.step(r3.state, say("more"))).rejects.toThrow(/already over/);
  });

  it("defaults to the first scenario and lists copies of the scenarios", async () => {
    const env = new ConversationEnvironment({ scenarios });
    expect(await env.getInitialPrompt()).toBe("Hi!");
    expect((await env.reset()).context.scenarioId).toBe("s1");
    const listed = env.scenarios();
    expect(listed.map((s) => s.id)).toEqual(["s1", "s2"]);
    (listed[0].userResponses as string[]).push("mutated");
    expect(env.scenarios()[0].userResponses).toEqual(["Hi!", "Tell me more.", "Thanks!"]);
  });

  it("truncates at maxTurns while the user still has lines", async () => {
    const env = new ConversationEnvironment({ scenarios, maxTurns: 2 });
    let state = await env.reset(scenarios[0]);
    state = (await env.step(state, say("a"))).state;
    const r = await env.step(state, say("b"));
    expect(r).toMatchObject({ done: true, response: null });
    expect(r.state.status).toBe(EpisodeStatus.TRUNCATED);
  });

  it("completes (not truncates) when the script ends exactly at maxTurns", async () => {
    const env = new ConversationEnvironment({ scenarios, maxTurns: 1 });
    const r = await env.step(await env.reset(scenarios[1]), say("ok"));
    expect(r.state.status).toBe(EpisodeStatus.COMPLETED);
  });

  it("asks the user simulator once the script is used up", async () => {
    const seen: Array<{ turns: string[]; id: string; persona?: string }> = [];
    const env = new ConversationEnvironment({
      scenarios: [scenarios[1]],
      persona: "impatient",
      userSimulator: async (turns, scenario, persona) => {
        seen.push({ turns: turns.map((t) => `${t.role}:${t.content}`), id: scenario.id, persona });
        return turns.length < 5 ? `follow-up ${turns.length}` : null;
      },
    });
    let state = await env.reset();
    const r1 = await env.step(state, say("first"));
    expect(r1.response?.content).toBe("follow-up 2");
    expect(r1.response?.metadata.source).toBe("simulator");
    state = r1.state;
    const r2 = await env.step(state, say("second"));
    expect(r2.response?.content).toBe("follow-up 4");
    const r3 = await env.step(r2.state, say("third"));
    expect(r3).toMatchObject({ done: true, response: null });
    expect(r3.state.status).toBe(EpisodeStatus.COMPLETED);
    expect(seen[1]).toEqual({
      turns: ["user:Only one message.", "assistant:first", "user:follow-up 2", "assistant:second"],
      id: "s2",
      persona: "impatient",
    });
  });

  it("uses an optional step reward", async () => {
    const env = new ConversationEnvironment({
      scenarios,
      stepReward: (state, action) => action.content.length / 10 + state.turnCount,
    });
    const r = await env.step(await env.reset(), say("12345"));
    expect(r.reward).toBeCloseTo(1.5);
  });
});

describe("TaskEnvironment", () => {
  const tasks = [
    {
      description: "Help user plan a vacation",
      goal: "Create a complete vacation plan",
      requiredActions: [
        { name: "destination", keywords: ["where", "destination", "place"] },
        { name: "budget", keywords: ["cost", "budget", "price"] },
        { name: "schedule", keywords: ["when", "travel dates"] },
      ],
      difficulty: "easy",
    },
    {
      id: "custom",
      description: "I need a new laptop.",
      goal: "Recommend a laptop",
      requiredActions: [{ name: "budget", keywords: ["budget"] }],
      userResponses: ["Under 1000.", "Something light."],
    },
  ];

  it("turns the description into a user request", async () => {
    expect(taskRequest("Help user plan a vacation")).toBe("Can you help me plan a vacation?");
    expect(taskRequest("help the user to fix a bug.")).toBe("Can you help me fix a bug?");
    expect(taskRequest("I need a new laptop.")).toBe("I need a new laptop.");
    const env = new TaskEnvironment({ tasks });
    expect(await env.getInitialPrompt(env.scenarios()[0])).toBe("Can you help me plan a vacation?");
  });

  it("defaults ids to task_<i> and keeps extra fields", async () => {
    const env = new TaskEnvironment({ tasks });
    expect(env.maxTurns).toBe(15);
    expect(env.scenarios().map((t) => t.id)).toEqual(["task_0", "custom"]);
    const state = await env.reset(env.scenarios()[0]);
    const ctx = state.context as TaskContext;
    expect(ctx.requiredActions).toEqual(["destination", "budget", "schedule"]);
    expect(ctx.completedActions).toEqual([]);
    expect(ctx.success).toBe(false);
    expect(ctx.difficulty).toBe("easy");
    expect(ctx.scenarioId).toBe("task_0");
  });

  it("matches keywords case-insensitively as whole words", () => {
    expect(containsKeyword("WHERE would you like to go?", "where")).toBe(true);
    expect(containsKeyword("Nowhere is perfect.", "where")).toBe(false);
    expect(containsKeyword("What do you like?", "do")).toBe(true);
    expect(containsKeyword("It is done. Nice condo.", "do")).toBe(false);
    expect(containsKeyword("Pick your travel  dates", "travel dates")).toBe(false);
    expect(containsKeyword("Pick your Travel Dates.", "travel dates")).toBe(true);
    expect(containsKeyword("price?", "price")).toBe(true);
    expect(containsKeyword("costs", "cost")).toBe(false);
    expect(containsKeyword("a (c++) question", "c++")).toBe(true);
  });

  it("records completed actions, rewards the fraction and completes", async () => {
    const env = new TaskEnvironment({ tasks });
    const s0 = await env.reset(env.scenarios()[0]);
    const r1 = await env.step(s0, say("Great! Where do you want to go, and what's your budget?"));
    expect(r1.reward).toBeCloseTo(2 / 3);
    expect(r1.done).toBe(false);
    expect(r1.response?.content).toBe("What else do I need to decide?");
    expect((r1.state.context as TaskContext).completedActions).toEqual(["destination", "budget"]);

    const r2 = await env.step(r1.state, say("The budget again, and where?"));
    expect(r2.reward).toBe(0); // nothing new
    expect(r2.response?.content).toBe("Okay. What should we cover next?");

    const r3 = await env.step(r2.state, say("When do you travel?"));
    expect(r3.reward).toBeCloseTo(1 / 3);
    expect(r3).toMatchObject({ done: true, response: null });
    expect(r3.state.status).toBe(EpisodeStatus.COMPLETED);
    expect(r3.state.context.success).toBe(true);
    expect((r3.state.context as TaskContext).completedActions).toEqual(["destination", "budget", "schedule"]);
  });

  it("cycles the scripted follow-ups and truncates at maxTurns", async () => {
    const env = new TaskEnvironment({ tasks, maxTurns: 3 });
    let state = await env.reset(env.scenarios()[1]);
    const replies: Array<string | undefined> = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await env.step(state, say("Here is a laptop."));
      replies.push(last.response?.content);
      state = last.state;
    }
    expect(replies).toEqual(["Under 1000.", "Something light.", undefined]);
    expect(last?.done).toBe(true);
    expect(state.status).toBe(EpisodeStatus.TRUNCATED);
    expect(state.context.success).toBe(false);
  });

  it("uses custom success criteria with the turns so far", async () => {
    const env = new TaskEnvironment({
      tasks,
      successCriteria: (turns, context) => turns.length >= 4 && context.completedActions.includes("budget"),
    });
    const s0 = await env.reset();
    const r1 = await env.step(s0, say("What budget?"));
    expect(r1.done).toBe(false); // 2 turns so far
    const r2 = await env.step(r1.state, say("ok"));
    expect(r2.done).toBe(true);
    expect(r2.state.context.success).toBe(true);
  });

  it("rejects success criteria that return a non-boolean", async () => {
    const env = new TaskEnvironment({ tasks, successCriteria: (() => "yes") as never });
    const err = await env.step(await env.reset(), say("hi")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpoError);
    expect((err as GrpoError).field).toBe("TaskEnvironment.successCriteria");
  });
});
