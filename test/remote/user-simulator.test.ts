/**
 * The policy-backed user simulator: what the simulating model is sent (persona, scenario, the
 * conversation with roles flipped), how its reply becomes the user's message or the end of the
 * conversation, and ConversationEnvironment taking a Policy as `userSimulator`.
 */
import { describe, expect, it } from "vitest";
import { MultiTurnAgent } from "../../src/core/agent.js";
import { ConversationEnvironment } from "../../src/core/environment.js";
import { runEpisode } from "../../src/core/episode.js";
import { EpisodeStatus } from "../../src/core/trajectory.js";
import { policyUserSimulator, userMessageFrom } from "../../src/core/user-simulator.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";

async function scriptedAgent(replies: string[]): Promise<MultiTurnAgent> {
  const agent = new MultiTurnAgent({ modelName: "scripted", systemPrompt: "" }, { policy: new ScriptedPolicy(replies) });
  await agent.initialize();
  return agent;
}

const scenario = { id: "device", topic: "technical_help", context: "User has a technical problem", userResponses: ["My device isn't working."] };

describe("policyUserSimulator", () => {
  it("sends the persona and scenario, then the conversation with user and assistant swapped", async () => {
    const model = new ScriptedPolicy(["User: I tried restarting it."]);
    const simulate = policyUserSimulator({ policy: model, temperature: 0.5, maxNewTokens: 40 });
    const environment = new ConversationEnvironment({ scenarios: [scenario], persona: "You are a user seeking technical support." });
    const state = await environment.reset();
    const agent = await scriptedAgent(["Have you tried restarting it?"]);
    const turns = (await runEpisode(agent, new ConversationEnvironment({ scenarios: [scenario], maxTurns: 1 }))).turns;
    const reply = await simulate(turns, scenario, state.context.persona as string);
    expect(reply).toBe("I tried restarting it.");
    const [sent] = model.conversations;
    expect(sent[0].role).toBe("system");
    expect(sent[0].content).toContain("role-playing the USER");
    expect(sent[0].content).toContain("Persona: You are a user seeking technical support.");
    expect(sent[0].content).toContain("Topic: technical_help");
    expect(sent[0].content).toContain("Situation: User has a technical problem");
    expect(sent.slice(1)).toEqual([
      { role: "assistant", content: "My device isn't working." },
      { role: "user", content: "Have you tried restarting it?" },
    ]);
    expect(model.calls[0].options).toMatchObject({ temperature: 0.5, maxNewTokens: 40 });
  });

  it("ends the conversation on the end marker or an empty reply", () => {
    expect(userMessageFrom("[END]", "[END]")).toBeNull();
    expect(userMessageFrom("   ", "[END]")).toBeNull();
    expect(userMessageFrom("Thanks, that fixed it! [END]", "[END]")).toBe("Thanks, that fixed it!");
    expect(userMessageFrom("  [user]: Still broken. ", "[END]")).toBe("Still broken.");
  });

  it("plays the user in a ConversationEnvironment given a Policy, until it ends the conversation", async () => {
    const userModel = new ScriptedPolicy(["Still broken.", "It works now. [END]", "[END]"]);
    const environment = new ConversationEnvironment({ scenarios: [scenario], userSimulator: userModel, maxTurns: 5, persona: "Impatient." });
    const agent = await scriptedAgent(["Try again."]);
    const trajectory = await runEpisode(agent, environment);
    expect(trajectory.turns.map((t) => `${t.role}:${t.content}`)).toEqual([
      "user:My device isn't working.", "assistant:Try again.",
      "user:Still broken.", "assistant:Try again.",
      "user:It works now.", "assistant:Try again.",
    ]);
    expect(trajectory.turns.filter((t) => t.metadata.source === "simulator")).toHaveLength(2);
    expect(trajectory.status).toBe(EpisodeStatus.COMPLETED);
    expect(userModel.conversations[0][0].content).toContain("Persona: Impatient.");
  });

  it("rejects a userSimulator that is neither a function nor a Policy", () => {
    expect(() => new ConversationEnvironment({ scenarios: [scenario], userSimulator: { name: "x" } as never }))
      .toThrow(/ConversationEnvironment\.userSimulator/);
  });
});
