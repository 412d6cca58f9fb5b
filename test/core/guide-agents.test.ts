// Twins of the usage guide's "Creating Agents" section, in camelCase TypeScript, run for real.
// The guide's model names resolve to scripted policies through a test resolver.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  MultiTurnAgent,
  setPolicyResolver,
  ToolAgent,
  type AgentConfigInput,
} from "../../src/core/agent.js";
import { ConversationTurn } from "../../src/core/trajectory.js";
import { evaluateArithmetic, formatToolCall, type ToolSpec } from "../../src/core/tools.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";

let policies: Map<string, ScriptedPolicy>;

beforeEach(() => {
  policies = new Map();
  setPolicyResolver(async (config) => {
    const policy = new ScriptedPolicy((messages, i) => {
      const last = messages[messages.length - 1];
      if (last.role === "user" && /what is 12 \* 7/i.test(last.content)) {
        return `I'll use the calculator. ${formatToolCall({ name: "calculator", arguments: { expression: "12 * 7" } })}`;
      }
      if (last.role === "tool") return `The result is ${last.content}.`;
      return `reply ${i}`;
    }, { name: config.modelName });
    policies.set(config.modelName, policy);
    return policy;
  });
});

afterEach(() => {
  setPolicyResolver(undefined);
});

describe("Basic Agent Configuration", () => {
  it("creates and initializes a MultiTurnAgent from a config", async () => {
    const config: AgentConfigInput = {
      modelName: "openai/gpt-oss-120b",
      systemPrompt: "You are a helpful assistant.",
      temperature: 0.8,
      maxNewTokens: 256,
      memoryWindow: 10, // Remember last 10 turns
    };

    const agent = new MultiTurnAgent(config);
    await agent.initialize();

    expect(agent.isInitialized).toBe(true);
    expect(agent.config).toMatchObject({ ...config, topP: 1, topK: 0 });
    // The memory window really is 10 messages: a 30-turn history reaches the policy as 10 + the input.
    const history = Array.from({ length: 30 }, (_, i) =>
      new ConversationTurn({ role: i % 2 === 0 ? "user" : "assistant", content: `m${i}` }));
    await agent.processTurn(history, "latest");
    const sent = policies.get("openai/gpt-oss-120b")!.conversations[0];
    expect(sent.map((m) => m.content)).toEqual([
      "You are a helpful assistant.",
      ...Array.from({ length: 10 }, (_, i) => `m${20 + i}`),
      "latest",
    ]);
  });
});

describe("Custom Agent Classes", () => {
  class CustomAgent extends MultiTurnAgent {
    customState: Record<string, unknown>;

    constructor(modelName: string) {
      const config: AgentConfigInput = {
        modelName,
        systemPrompt: "Custom system prompt...",
        temperature: 0.7,
      };
      super(config);
      this.customState = {};
    }

    override async processTurn(history: ConversationTurn[], userInput?: string, context?: Record<string, unknown>) {
      // Custom logic before generating response
      this.customState.turnCount = ((this.customState.turnCount as number | undefined) ?? 0) + 1;

      // Generate response using parent method
      const turn = await super.processTurn(history, userInput, context);

      // Add custom metadata
      turn.metadata.customState = { ...this.customState };

      return turn;
    }
  }

  it("keeps custom state across turns and adds it to each turn's metadata", async () => {
    const agent = new CustomAgent("my-model");
    await agent.initialize();
    expect(agent.config.temperature).toBe(0.7);

    const history: ConversationTurn[] = [];
    const turns: ConversationTurn[] = [];
    for (const text of ["Hi", "How are you?", "Bye"]) {
      history.push(new ConversationTurn({ role: "user", content: text }));
      const turn = await agent.processTurn(history, text);
      history.push(turn);
      turns.push(turn);
    }
    expect(turns.map((t) => t.metadata.customState)).toEqual([{ turnCount: 1 }, { turnCount: 2 }, { turnCount: 3 }]);
    // The metadata is a copy: later turns do not change earlier ones.
    expect(agent.customState).toEqual({ turnCount: 3 });
    // The parent's metadata is still there, and the policy saw the custom system prompt.
    expect(turns[2].metadata).toMatchObject({ modelName: "my-model", turnIndex: 2 });
    expect(policies.get("my-model")!.conversations[0][0]).toEqual({ role: "system", content: "Custom system prompt..." });
  });
});

describe("Tool-Using Agents", () => {
  it("executes the calculator call the model emits (safe arithmetic instead of eval)", async () => {
    const config: AgentConfigInput = { modelName: "openai/gpt-oss-120b", systemPrompt: "You are a helpful assistant." };

    // Define tools
    function calculatorTool({ expression }: Record<string, unknown>) {
      try {
        return evaluateArithmetic(String(expression)); // safe: arithmetic only, never eval
      } catch {
        return "Error in calculation";
      }
    }

    const tools: ToolSpec[] = [{
      name: "calculator",
      description: "Perform mathematical calculations",
      function: calculatorTool,
    }];

    // Create tool agent
    const toolAgent = new ToolAgent(config, { tools });
    await toolAgent.initialize();

    const produced = await toolAgent.respond([], "What is 12 * 7?");
    expect(produced.map((t) => t.role)).toEqual(["assistant", "tool", "assistant"]);
    expect(produced[0].toolCalls).toEqual([{ id: "call_0", name: "calculator", arguments: { expression: "12 * 7" } }]);
    expect(produced[1].content).toBe("84");
    expect(produced[2].content).toBe("The result is 84.");
    expect(calculatorTool({ expression: "require('fs')" })).toBe("Error in calculation");
    // The tool was advertised to the model, with the default one-string schema.
    expect(policies.get("openai/gpt-oss-120b")!.calls[0].options.tools?.[0]).toMatchObject({
      name: "calculator",
      description: "Perform mathematical calculations",
      parameters: { type: "object" },
    });
  });
});
