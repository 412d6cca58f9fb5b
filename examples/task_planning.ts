/**
 * Task planning (the guide's TaskEnvironment): help a user plan a vacation; the task succeeds when
 * the agent has covered the four required actions (destination, budget, activities, schedule),
 * detected by keywords. Reward: taskAgentReward() (task completion 0.6, helpfulness 0.2,
 * conciseness 0.2); headline metric: success rate on held-out trips.
 *
 *   npm run example -- task_planning --seed 1
 */
import { pathToFileURL } from "node:url";
import { MultiTurnAgent } from "../src/core/agent.js";
import { TaskEnvironment, type SuccessCriteria } from "../src/core/environment.js";
import { taskAgentReward } from "../src/core/rewards/index.js";
import { registerTfPolicyResolver } from "../src/model/registry.js";
import { PLANNING_ACTIONS } from "../scripts/corpus/domains/planning.js";
import { SYSTEM_PROMPTS } from "../scripts/corpus/prompts.js";
import { parseExampleArgs, runExample, type ExampleOptions, type ExampleResult, type ExampleSpec } from "./harness.js";

const requiredActions = PLANNING_ACTIONS.map((a) => ({ name: a.name, keywords: [...a.keywords] }));
const trip = (id: string, description: string, userResponses: string[]) => ({
  id, description, goal: "Create a complete vacation plan", requiredActions, userResponses,
});

const TRIPS = [
  trip("vacation", "Help user plan a vacation", ["I'm not sure yet.", "What else do I need to decide?"]),
  trip("weekend", "Can you help me plan a weekend trip?", ["Something relaxing.", "What else?"]),
  trip("family", "I want to plan a family holiday, but I don't know how to start.", ["We have two kids.", "What else do I need to decide?"]),
  trip("lisbon", "I'd like to plan a trip to Lisbon.", ["I like good food.", "What else?"]),
  trip("rome", "Can you help me plan a trip to Rome for 5 days?", ["I love history.", "What else do I need to decide?"]),
  trip("summer", "I need help planning a summer trip this year.", ["Maybe somewhere warm.", "What else?"]),
];
const HELD_OUT = [
  trip("honeymoon", "Help user plan a honeymoon", ["Somewhere romantic.", "What else do I need to decide?"]),
  trip("kyoto", "I'd like to plan a trip to Kyoto.", ["I like temples and gardens.", "What else?"]),
  trip("road_trip", "Can you help me plan a road trip?", ["I have a week off.", "What else do I need to decide?"]),
  trip("city_break", "I need help planning a city break this year.", ["Not too expensive.", "What else?"]),
];

/** The guide's success criteria, in TypeScript. */
const successCriteria: SuccessCriteria = (_turns, context) =>
  (context.completedActions?.length ?? 0) >= (context.requiredActions?.length ?? 0);

/** The example's agent, environments and reward (used by `grpo eval` too). */
export function taskPlanningExampleSpec(options: ExampleOptions = {}): ExampleSpec {
  registerTfPolicyResolver();
  const agent = new MultiTurnAgent({
    modelName: options.modelName ?? "builtin:tiny-chat", systemPrompt: SYSTEM_PROMPTS.travelPlannerDetailed,
    temperature: 0.8, maxNewTokens: 64, memoryWindow: 4, seed: options.seed ?? 0,
  });
  return {
    name: "task_planning", agent,
    environment: new TaskEnvironment({ tasks: TRIPS, successCriteria, maxTurns: 3 }),
    evalEnvironment: new TaskEnvironment({ tasks: HELD_OUT, successCriteria, maxTurns: 3 }),
    reward: taskAgentReward(), profile: "balanced", numEpisodes: 288,
    // 4 held-out trips × 12 = 48 episodes: a success rate to 1/48 (with 4 per trip one success is 6%).
    evalEpisodes: 12,
    headline: { name: "success rate", of: (r) => r.successRate },
  };
}

/** Evaluates, trains and evaluates again. */
export async function taskPlanningExample(options: ExampleOptions = {}): Promise<ExampleResult> {
  return runExample(taskPlanningExampleSpec(options), options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  taskPlanningExample(parseExampleArgs(process.argv.slice(2))).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
