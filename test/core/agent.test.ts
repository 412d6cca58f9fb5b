import { afterEach, describe, expect, it } from "vitest";
import {
  AGENT_CONFIG_DEFAULTS,
  buildMessages,
  getPolicyResolver,
  MultiTurnAgent,
  resolveAgentConfig,
  setPolicyResolver,
  ToolAgent,
} from "../../src/core/agent.js";
import { calculatorTool, formatToolCall, type ToolSpec } from "../../src/core/tools.js";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { GrpoError } from "../../src/core/errors.js";
import type { ChatMessage } from "../../src/core/policy.js";
import { renderPrompt, ScriptedPolicy } from "../helpers/scripted-policy.js";

const turn = (role: ConversationTurn["role"], content: string) => new ConversationTurn({ role, content });
const brief = (messages: ChatMessage[]) => messages.map((m) => `${m.role}:${m.content}`);

afterEach(() => {
  setPolicyResolver(undefined);
});

describe("resolveAgentConfig", () => {
  it("fills the documented defaults", () => {
    expect(resolveAgentConfig({ modelName: "m" })).toEqual({ modelName: "m", ...AGENT_CONFIG_DEFAULTS });
    expect(AGENT_CONFIG_DEFAULTS).toEqual({
      systemPrompt: "You are a helpful AI assistant.",
      temperature: 0.8,
      topP: 1,
      topK: 0,
      maxNewTokens: 256,
      memoryWindow: 10,
    });
  });

  it("keeps given values and is idempotent", () => {
    const config = resolveAgentConfig({ modelName: "m", temperature: 0, topP: 0.9, topK: 5, seed: 3, stop: ["\n"] });
    expect(config).toMatchObject({ temperature: 0, topP: 0.9, topK: 5, seed: 3, stop: ["\n"] });
    expect(resolveAgentConfig(config)).toEqual(config);
  });
});

describe("initialize and policy resolution", () => {
  it("fails with model_not_found when no resolver is registered", async () => {
    const agent = new MultiTurnAgent({ modelName: "builtin:missing" });
    const err = await agent.initialize().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpoError);
    expect((err as GrpoError).code).toBe("model_not_found");
    expect((err as GrpoError).message).toContain("builtin:missing");
    expect((err as GrpoError).field).toBe("AgentConfig.modelName");
    expect(agent.isInitialized).toBe(false);
  });

  it("resolves names through the registered resolver", async () => {
    const policy = new ScriptedPolicy(["hi"]);
    const seen: string[] = [];
    const previous = setPolicyResolver(async (config) => {
      seen.push(`${config.modelName}/${config.seed}`);
      return config.modelName === "scripted:ok" ? policy : null;
    });
    expect(previous).toBeUndefined();
    expect(getPolicyResolver()).toBeTypeOf("function");

    const ok = new MultiTurnAgent({ modelName: "scripted:ok", seed: 5 });
    await ok.initialize();
    expect(ok.isInitialized).toBe(true);
    expect(ok.policy).toBe(policy);

    const unknown = new MultiTurnAgent({ modelName: "scripted:nope" });
    await expect(unknown.initialize()).rejects.toMatchObject({ code: "model_not_found" });
    expect(seen).toEqual(["scripted:ok/5", "scripted:nope/undefined"]);
  });

  it("wraps a resolver crash as model_not_found with the cause", async () => {
    const boom = new Error("file not found: weights.safetensors");
    setPolicyResolver(async () => {
      throw boom;
    });
    const err = (await new MultiTurnAgent({ modelName: "./my-model" }).initialize().catch((e) => e)) as GrpoError;
    expect(err.code).toBe("model_not_found");
    expect(err.message).toContain("weights.safetensors");
    expect(err.cause).toBe(boom);
  });

  it("prefers a policy passed in the options", async () => {
    setPolicyResolver(async () => {
      throw new Error("must not be called");
    });
    const policy = new ScriptedPolicy(["x"]);
    const agent = new MultiTurnAgent({ modelName: "anything" }, { policy });
    expect(agent.isInitialized).toBe(false);
    await agent.initialize();
    expect(agent.policy).toBe(policy);
  });

  it("refuses to generate before initialize()", async () => {
    const agent = new MultiTurnAgent({ modelName: "m" }, { policy: new ScriptedPolicy(["x"]) });
    await expect(agent.processTurn([], "hi")).rejects.toMatchObject({ code: "not_initialized" });
    await expect(agent.generateResponse([{ role: "user", content: "hi" }])).rejects.toMatchObject({
      code: "not_initialized",
    });
  });
});

describe("MultiTurnAgent.processTurn", () => {
  async function agentWith(memoryWindow: number, replies: string[] = ["ok"]) {
    const policy = new ScriptedPolicy(replies);
    const agent = new MultiTurnAgent(
      { modelName: "scripted", systemPrompt: "SYS", memoryWindow, temperature: 0.5, topK: 3, maxNewTokens: 40 },
      { policy },
    );
    await agent.initialize();
    return { agent, policy };
  }

  const history = [
    turn("system", "old system prompt"),
    turn("user", "u1"),
    turn("assistant", "a1"),
    turn("user", "u2"),
    turn("assistant", "a2"),
    turn("user", "u3"),
  ];

  it("sends system prompt + last memoryWindow messages + the current input", async () => {
    const { agent, policy } = await agentWith(2);
    await agent.processTurn(history, "u3");
    expect(brief(policy.conversations[0])).toEqual(["system:SYS", "user:u2", "assistant:a2", "user:u3"]);
  });

  it("memoryWindow 0 sends only the current input", async () => {
    const { agent, policy } = await agentWith(0);
    await agent.processTurn(history, "u3");
    expect(brief(policy.conversations[0])).toEqual(["system:SYS", "user:u3"]);
  });

  it("a large window sends everything but the history's own system turn", async () => {
    const { agent, policy } = await agentWith(100);
    await agent.processTurn(history, "u3");
    expect(brief(policy.conversations[0])).toEqual([
      "system:SYS", "user:u1", "assistant:a1", "user:u2", "assistant:a2", "user:u3",
    ]);
  });

  it("appends a user input that is not yet in the history", async () => {
    const { agent, policy } = await agentWith(10);
    await agent.processTurn(history.slice(0, 5), "new question");
    expect(brief(policy.conversations[0]).slice(-2)).toEqual(["assistant:a2", "user:new question"]);
    await agent.processTurn([], "hello");
    expect(brief(policy.conversations[1])).toEqual(["system:SYS", "user:hello"]);
  });

  it("passes the sampling options from the config", async () => {
    const { agent, policy } = await agentWith(10);
    await agent.processTurn([], "hello");
    expect(policy.calls[0].options).toEqual({ temperature: 0.5, topP: 1, topK: 3, maxNewTokens: 40 });
  });

  it("records the generation and metadata on the turn", async () => {
    const { agent } = await agentWith(10, ["Sure thing."]);
    const result = await agent.processTurn(history, "u3");
    expect(result.role).toBe("assistant");
    expect(result.content).toBe("Sure thing.");
    expect(result.generation?.tokenIds).toEqual(Array.from("Sure thing.", (c) => c.charCodeAt(0)));
    expect(result.generation?.logprobs).toHaveLength(11);
    expect(result.generation?.promptTokenIds).toEqual(
      Array.from(renderPrompt([
        { role: "system", content: "SYS" }, { role: "user", content: "u1" }, { role: "assistant", content: "a1" },
        { role: "user", content: "u2" }, { role: "assistant", content: "a2" }, { role: "user", content: "u3" },
      ]), (c) => c.charCodeAt(0)),
    );
    expect(result.metadata).toEqual({ modelName: "scripted", finishReason: "stop", turnIndex: 2 });
  });

  it("reports a length finish when maxNewTokens cuts the reply", async () => {
    const { agent } = await agentWith(10, ["x".repeat(100)]);
    const result = await agent.processTurn([], "hi");
    expect(result.content).toHaveLength(40);
    expect(result.metadata.finishReason).toBe("length");
  });

  it("omits the system message when the system prompt is empty", async () => {
    const policy = new ScriptedPolicy(["ok"]);
    const agent = new MultiTurnAgent({ modelName: "m", systemPrompt: "" }, { policy });
    await agent.initialize();
    await agent.processTurn([], "hi");
    expect(brief(policy.conversations[0])).toEqual(["user:hi"]);
  });

  it("generateResponse prepends the system prompt unless one is given", async () => {
    const { agent, policy } = await agentWith(10, ["Hello there!"]);
    expect(await agent.generateResponse([{ role: "user", content: "Hello! How are you?" }])).toBe("Hello there!");
    expect(brief(policy.conversations[0])).toEqual(["system:SYS", "user:Hello! How are you?"]);
    await agent.generateResponse([{ role: "system", content: "other" }, { role: "user", content: "x" }]);
    expect(brief(policy.conversations[1])).toEqual(["system:other", "user:x"]);
  });

  it("stops before generating when the signal is aborted", async () => {
    const { agent, policy } = await agentWith(10);
    const controller = new AbortController();
    controller.abort();
    await expect(agent.respond([], "hi", {}, { signal: controller.signal })).rejects.toMatchObject({ code: "aborted" });
    expect(policy.calls).toHaveLength(0);
  });
});

describe("buildMessages", () => {
  it("keeps the agent's tool rounds after the last user turn when there is no user input", () => {
    const toolTurn = new ConversationTurn({ role: "tool", content: "5", metadata: { name: "calculator" } });
    const messages = buildMessages(
      [{ role: "system", content: "S" }],
      [turn("user", "u1"), turn("assistant", "a1"), turn("user", "u2"), turn("assistant", "<tool_call>…"), toolTurn],
      undefined,
      0,
    );
    expect(messages).toEqual([
      { role: "system", content: "S" },
      { role: "user", content: "u2" },
      { role: "assistant", content: "<tool_call>…" },
      { role: "tool", content: "5", name: "calculator" },
    ]);
  });
});

describe("ToolAgent", () => {
  const addCall = formatToolCall({ name: "calculator", arguments: { expression: "2+3" } });

  async function toolAgent(replies: string[] | ((m: ChatMessage[], i: number) => string), extra: Partial<ConstructorParameters<typeof ToolAgent>[1]> = {}) {
    const policy = new ScriptedPolicy(replies);
    const agent = new ToolAgent({ modelName: "scripted", systemPrompt: "SYS" }, { tools: [calculatorTool], policy, ...extra });
    await agent.initialize();
    return { agent, policy };
  }

  it("advertises its tools in the sampling options", async () => {
    const { agent, policy } = await toolAgent(["no tools needed"]);
    await agent.respond([], "hi");
    expect(policy.calls[0].options.tools).toEqual([
      { name: "calculator", description: calculatorTool.description, parameters: calculatorTool.parameters },
    ]);
  });

  it("does not advertise tools to the template with advertiseTools: false, but still runs them", async () => {
    const { agent, policy } = await toolAgent([`Let me calculate. ${addCall}`, "5."], { advertiseTools: false });
    const produced = await agent.respond([turn("user", "What is 2+3?")], "What is 2+3?");
    expect(policy.calls[0].options.tools).toBeUndefined();
    expect(produced[1].content).toBe("5");
  });

  it("executes calls, shows the results, and answers", async () => {
    const { agent, policy } = await toolAgent([`Let me calculate. ${addCall}`, "2 + 3 = 5."]);
    const produced = await agent.respond([turn("user", "What is 2+3?")], "What is 2+3?");
    expect(produced.map((t) => t.role)).toEqual(["assistant", "tool", "assistant"]);
    const [ask, tool, answer] = produced;
    expect(ask.content).toBe(`Let me calculate. ${addCall}`);
    expect(ask.toolCalls).toEqual([{ id: "call_0", name: "calculator", arguments: { expression: "2+3" } }]);
    expect(ask.toolResults).toEqual([{ toolCallId: "call_0", name: "calculator", content: "5", isError: false }]);
    expect(tool.content).toBe("5");
    expect(tool.metadata).toEqual({ name: "calculator", toolCallId: "call_0", isError: false });
    expect(tool.toolResults).toEqual(ask.toolResults);
    expect(answer.content).toBe("2 + 3 = 5.");
    expect(answer.toolCalls).toEqual([]);
    expect(answer.metadata.turnIndex).toBe(1);
    // The second generation saw the call and its result.
    expect(policy.conversations[1]).toEqual([
      { role: "system", content: "SYS" },
      { role: "user", content: "What is 2+3?" },
      { role: "assistant", content: `Let me calculate. ${addCall}` },
      { role: "tool", content: "5", name: "calculator" },
    ]);
  });

  it("keeps a user input that was not in the history for later rounds", async () => {
    const { agent, policy } = await toolAgent([addCall, "done"]);
    await agent.respond([], "compute please");
    expect(brief(policy.conversations[1])).toEqual([
      "system:SYS", "user:compute please", `assistant:${addCall}`, "tool:5",
    ]);
  });

  it("stops after maxToolRounds and marks the last turn", async () => {
    const { agent, policy } = await toolAgent([addCall], { maxToolRounds: 2 });
    const produced = await agent.respond([], "loop forever");
    expect(produced.map((t) => t.role)).toEqual(["assistant", "tool", "assistant", "tool", "assistant"]);
    expect(policy.calls).toHaveLength(3);
    expect(produced[4].metadata.toolRoundsExhausted).toBe(true);
    expect(produced[4].toolResults).toEqual([]);
    // A per-call override wins.
    const once = await agent.respond([], "again", undefined, { maxToolRounds: 0 });
    expect(once.map((t) => t.role)).toEqual(["assistant"]);
  });

  it("shows parse errors and tool failures to the model", async () => {
    const broken: ToolSpec = { name: "broken", description: "fails", function: () => { throw new Error("kaput"); } };
    const policy = new ScriptedPolicy([
      '<tool_call>{"name": "calculator", "arguments": {"expression": "2+</tool_call> ' +
        formatToolCall({ name: "broken", arguments: {} }) + formatToolCall({ name: "nope", arguments: {} }),
      "Sorry.",
    ]);
    const agent = new ToolAgent({ modelName: "m" }, { tools: [calculatorTool, broken], policy });
    await agent.initialize();
    const produced = await agent.respond([], "go");
    const toolTurns = produced.filter((t) => t.role === "tool");
    expect(toolTurns.map((t) => t.content)).toEqual([
      'Error: tool "broken" failed: kaput',
      'Error: unknown tool "nope". Available tools: "calculator", "broken".',
      expect.stringMatching(/^Error: the tool call is not valid JSON/),
    ]);
    expect(toolTurns.every((t) => t.toolResults[0].isError)).toBe(true);
    expect(produced[0].metadata.toolCallErrors).toHaveLength(1);
    expect(produced[produced.length - 1].content).toBe("Sorry.");
  });

  it("times out a hanging tool and continues", async () => {
    const hang: ToolSpec = { name: "hang", description: "", function: () => new Promise(() => undefined) };
    const policy = new ScriptedPolicy([formatToolCall({ name: "hang", arguments: {} }), "gave up"]);
    const agent = new ToolAgent({ modelName: "m" }, { tools: [hang], policy, toolTimeoutMs: 30 });
    await agent.initialize();
    const produced = await agent.respond([], "go");
    expect(produced[1].content).toBe('Error: tool "hang" timed out after 30 ms.');
    expect(produced[2].content).toBe("gave up");
  });
});
