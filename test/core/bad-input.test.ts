// Every way a user can misconfigure agents, environments and tools fails early with a GrpoError whose
// message names the offending field (and scenario/task) and says what is expected.
import { describe, expect, it } from "vitest";
import { MultiTurnAgent, resolveAgentConfig, setPolicyResolver, ToolAgent } from "../../src/core/agent.js";
import { ConversationEnvironment, TaskEnvironment } from "../../src/core/environment.js";
import { validateTools, calculatorTool, type ToolSpec } from "../../src/core/tools.js";
import { GrpoError, type GrpoErrorCode } from "../../src/core/errors.js";
import { ScriptedPolicy } from "../helpers/scripted-policy.js";
import { grpoErrorOf as caught } from "../helpers/errors.js";

const okScenario = { id: "ok", userResponses: ["hi"] };
const okTask = { description: "d", goal: "g", requiredActions: [{ name: "a", keywords: ["k"] }] };
const noop = () => 1;

interface Case {
  name: string;
  run: () => unknown;
  code: GrpoErrorCode;
  field: string;
  /** More text the message must contain (e.g. the scenario id or the rule). */
  mentions?: string[];
}

const cases: Case[] = [
  // Agent configs
  { name: "missing modelName", run: () => resolveAgentConfig({} as never), code: "invalid_config", field: "AgentConfig.modelName" },
  { name: "empty modelName", run: () => new MultiTurnAgent({ modelName: "" }), code: "invalid_config", field: "AgentConfig.modelName" },
  { name: "negative temperature", run: () => resolveAgentConfig({ modelName: "m", temperature: -0.1 }), code: "invalid_config", field: "AgentConfig.temperature", mentions: [">= 0"] },
  { name: "topP of 0", run: () => resolveAgentConfig({ modelName: "m", topP: 0 }), code: "invalid_config", field: "AgentConfig.topP", mentions: ["(0, 1]"] },
  { name: "topP above 1", run: () => resolveAgentConfig({ modelName: "m", topP: 1.5 }), code: "invalid_config", field: "AgentConfig.topP" },
  { name: "fractional topK", run: () => resolveAgentConfig({ modelName: "m", topK: 2.5 }), code: "invalid_config", field: "AgentConfig.topK" },
  { name: "maxNewTokens 0", run: () => resolveAgentConfig({ modelName: "m", maxNewTokens: 0 }), code: "invalid_config", field: "AgentConfig.maxNewTokens", mentions: [">= 1"] },
  { name: "negative memoryWindow", run: () => resolveAgentConfig({ modelName: "m", memoryWindow: -1 }), code: "invalid_config", field: "AgentConfig.memoryWindow" },
  { name: "string temperature", run: () => resolveAgentConfig({ modelName: "m", temperature: "hot" as never }), code: "invalid_config", field: "AgentConfig.temperature", mentions: ['"hot"'] },
  { name: "snake_case key from the Python guide", run: () => resolveAgentConfig({ modelName: "m", max_new_tokens: 5 } as never), code: "invalid_config", field: "AgentConfig.max_new_tokens", mentions: ["rename `max_new_tokens` to `maxNewTokens`"] },
  { name: "misspelt key", run: () => resolveAgentConfig({ modelName: "m", temprature: 0.5 } as never), code: "invalid_config", field: "AgentConfig.temprature", mentions: ["temperature", "check its spelling"] },
  { name: "non-integer seed", run: () => resolveAgentConfig({ modelName: "m", seed: 1.5 }), code: "invalid_config", field: "AgentConfig.seed" },
  { name: "empty stop string", run: () => resolveAgentConfig({ modelName: "m", stop: [""] }), code: "invalid_config", field: "AgentConfig.stop[0]" },

  // Conversation scenarios
  { name: "no scenarios", run: () => new ConversationEnvironment({ scenarios: [] }), code: "invalid_config", field: "ConversationEnvironment.scenarios", mentions: ["at least one scenario"] },
  { name: "scenario without id", run: () => new ConversationEnvironment({ scenarios: [okScenario, { userResponses: ["x"] } as never] }), code: "invalid_scenario", field: "scenarios[1].id" },
  { name: "scenario with empty id", run: () => new ConversationEnvironment({ scenarios: [{ id: "", userResponses: ["x"] }] }), code: "invalid_scenario", field: "scenarios[0].id" },
  { name: "empty userResponses", run: () => new ConversationEnvironment({ scenarios: [{ id: "billing", userResponses: [] }] }), code: "invalid_scenario", field: "scenarios[0].userResponses", mentions: ['"billing"', "at least one message"] },
  { name: "non-string user response", run: () => new ConversationEnvironment({ scenarios: [{ id: "s", userResponses: ["ok", 42 as never] }] }), code: "invalid_scenario", field: "scenarios[0].userResponses[1]" },
  { name: "snake_case user_responses", run: () => new ConversationEnvironment({ scenarios: [{ id: "s", user_responses: ["x"] } as never] }), code: "invalid_scenario", field: "scenarios[0].userResponses" },
  { name: "duplicate scenario ids", run: () => new ConversationEnvironment({ scenarios: [okScenario, { ...okScenario }] }), code: "invalid_scenario", field: "scenarios[1].id", mentions: ['"ok"', "scenarios[0]"] },
  { name: "maxTurns 0", run: () => new ConversationEnvironment({ scenarios: [okScenario], maxTurns: 0 }), code: "invalid_config", field: "ConversationEnvironment.maxTurns", mentions: ["integer >= 1"] },
  { name: "fractional maxTurns", run: () => new TaskEnvironment({ tasks: [okTask], maxTurns: 2.5 }), code: "invalid_config", field: "TaskEnvironment.maxTurns" },
  { name: "non-function userSimulator", run: () => new ConversationEnvironment({ scenarios: [okScenario], userSimulator: "gpt" as never }), code: "invalid_config", field: "ConversationEnvironment.userSimulator" },
  { name: "non-string persona", run: () => new ConversationEnvironment({ scenarios: [okScenario], persona: 7 as never }), code: "invalid_config", field: "ConversationEnvironment.persona" },

  // Tasks
  { name: "no tasks", run: () => new TaskEnvironment({ tasks: [] }), code: "invalid_config", field: "TaskEnvironment.tasks" },
  { name: "empty requiredActions", run: () => new TaskEnvironment({ tasks: [{ ...okTask, id: "trip", requiredActions: [] }] }), code: "invalid_task", field: "tasks[0].requiredActions", mentions: ['"trip"', "at least one required action"] },
  { name: "action without keywords", run: () => new TaskEnvironment({ tasks: [okTask, { ...okTask, requiredActions: [{ name: "budget", keywords: [] }] }] }), code: "invalid_task", field: "tasks[1].requiredActions[0].keywords" },
  { name: "action keywords not an array", run: () => new TaskEnvironment({ tasks: [{ ...okTask, requiredActions: [{ name: "budget", keywords: "cost" as never }] }] }), code: "invalid_task", field: "tasks[0].requiredActions[0].keywords" },
  { name: "task without description", run: () => new TaskEnvironment({ tasks: [{ goal: "g", requiredActions: okTask.requiredActions } as never] }), code: "invalid_task", field: "tasks[0].description" },
  { name: "non-function successCriteria", run: () => new TaskEnvironment({ tasks: [okTask], successCriteria: true as never }), code: "invalid_config", field: "TaskEnvironment.successCriteria", mentions: ["(turns, context) => boolean"] },
  { name: "duplicate task ids", run: () => new TaskEnvironment({ tasks: [{ ...okTask, id: "t" }, { ...okTask, id: "t" }] }), code: "invalid_task", field: "tasks[1].id" },
  { name: "duplicate action names", run: () => new TaskEnvironment({ tasks: [{ ...okTask, requiredActions: [{ name: "a", keywords: ["x"] }, { name: "a", keywords: ["y"] }] }] }), code: "invalid_task", field: "tasks[0].requiredActions[1].name" },

  // Tools
  { name: "tool name with spaces", run: () => validateTools([{ name: "my tool", description: "", function: noop }]), code: "invalid_tool", field: "tools[0].name" },
  { name: "tool without function", run: () => validateTools([calculatorTool, { name: "f", description: "d" } as never]), code: "invalid_tool", field: "tools[1].function", mentions: ["a function"] },
  { name: "tool function not callable", run: () => validateTools([{ name: "f", description: "d", function: "eval" as never }]), code: "invalid_tool", field: "tools[0].function" },
  { name: "tool without description", run: () => validateTools([{ name: "f", function: noop } as never]), code: "invalid_tool", field: "tools[0].description" },
  { name: "duplicate tool names", run: () => validateTools([calculatorTool, { ...calculatorTool }]), code: "invalid_tool", field: "tools[1].name", mentions: ['"calculator"'] },
  { name: "tool parameters not an object", run: () => validateTools([{ name: "f", description: "d", function: noop, parameters: "x" as never }]), code: "invalid_tool", field: "tools[0].parameters" },
  { name: "ToolAgent without tools", run: () => new ToolAgent({ modelName: "m" }, {} as never), code: "invalid_config", field: "ToolAgent options.tools" },
  { name: "ToolAgent with bad tool", run: () => new ToolAgent({ modelName: "m" }, { tools: [{ name: "1st", description: "", function: noop }] }), code: "invalid_tool", field: "tools[0].name" },
  { name: "negative maxToolRounds", run: () => new ToolAgent({ modelName: "m" }, { tools: [], maxToolRounds: -1 }), code: "invalid_config", field: "ToolAgent options.maxToolRounds" },
  { name: "policy without generate()", run: () => new MultiTurnAgent({ modelName: "m" }, { policy: {} as never }), code: "invalid_argument", field: "options.policy" },
];

describe("bad input is reported with the field", () => {
  it.each(cases)("$name", ({ run, code, field, mentions }) => {
    const error = caught(run);
    expect(error.code).toBe(code);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`\`${field}\``);
    for (const text of mentions ?? []) expect(error.message).toContain(text);
  });

  it("has at least 15 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });
});

describe("bad input at run time", () => {
  it("a scenario passed to reset() is validated too", async () => {
    const env = new ConversationEnvironment({ scenarios: [okScenario] });
    const error = await env.reset({ id: "x", userResponses: "hello" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrpoError);
    expect((error as GrpoError).field).toBe("scenario.userResponses");
    expect((error as GrpoError).message).toContain('"x"');
  });

  it("a non-string user input is refused", async () => {
    const agent = new MultiTurnAgent({ modelName: "m" }, { policy: new ScriptedPolicy(["x"]) });
    await agent.initialize();
    await expect(agent.processTurn([], 5 as never)).rejects.toMatchObject({ code: "invalid_argument", field: "userInput" });
  });

  it("a non-function policy resolver is refused", () => {
    const error = caught(() => setPolicyResolver("builtin" as never));
    expect(error.field).toBe("setPolicyResolver(resolver)");
  });

  it("a step with a plain string instead of a turn is refused", async () => {
    const env = new TaskEnvironment({ tasks: [okTask] });
    const state = await env.reset();
    await expect(env.step(state, "hello" as never)).rejects.toMatchObject({ field: "TaskEnvironment.step(action)" });
  });
});

// Make sure the tool list type accepts the guide's shape without casts.
const _guideShape: ToolSpec[] = [{ name: "calculator", description: "Perform mathematical calculations", function: noop }];
void _guideShape;
