/**
 * Quick start (the usage guide's first example): a MultiTurnAgent on the built-in model learns to be
 * more helpful, safe and engaging in general-help conversations, trained with the balanced profile.
 *
 *   npm start                        # = npm run example -- quick_start
 *   npm run example -- quick_start --seed 1 --episodes 240
 *
 * 384 episodes (32 steps of 2 scenarios × 6 generations) finish in under 3 minutes on 2 cores. At
 * 256 the built-in model learned on seeds 1 and 2 (+0.28, +0.25) but not on seed 0 (+0.03); at
 * 384, seed 0 gained +0.19 (README, "Examples").
 */
import { pathToFileURL } from "node:url";
import { MultiTurnAgent } from "../src/core/agent.js";
import { ConversationEnvironment } from "../src/core/environment.js";
import { helpfulAgentReward } from "../src/core/rewards/index.js";
import { registerTfPolicyResolver } from "../src/model/registry.js";
import { parseExampleArgs, runExample, type ExampleOptions, type ExampleResult, type ExampleSpec } from "./harness.js";

/** Training scenarios: general help, as in the guide. */
export const QUICK_START_SCENARIOS = [
  { id: "help_conversation", userResponses: ["Hi! Can you help me?", "I need advice on learning Python.", "Thank you for the suggestions!"] },
  { id: "study", userResponses: ["Hi! Can you help me?", "I need advice on studying for exams."] },
  { id: "cooking", userResponses: ["I need advice on cooking healthy meals.", "How much time should I spend on it?"] },
  { id: "running", userResponses: ["Hi! Can you help me?", "I need advice on starting to run.", "Thank you for the suggestions!"] },
  { id: "money", userResponses: ["I need advice on saving money.", "What should I do first?"] },
  { id: "time", userResponses: ["Hi! Can you help me?", "I need advice on managing my time."] },
];

/** Held-out scenarios: topics never trained on, for the before/after evaluation. */
export const QUICK_START_HELD_OUT = [
  { id: "spanish", userResponses: ["Hi! Can you help me?", "I need advice on learning Spanish."] },
  { id: "speaking", userResponses: ["I need advice on public speaking.", "Thank you for the suggestions!"] },
  { id: "bread", userResponses: ["Hi! Can you help me?", "I need advice on baking bread."] },
  { id: "sleep", userResponses: ["I need advice on sleeping better.", "What should I do first?"] },
];

/** The example's agent, environments and reward (used by `grpo eval` too). */
export function quickStartSpec(options: ExampleOptions = {}): ExampleSpec {
  registerTfPolicyResolver();
  // 1. Create an agent
  const agent = new MultiTurnAgent({
    modelName: options.modelName ?? "builtin:tiny-chat",
    systemPrompt: "You are a helpful AI assistant.",
    temperature: 0.8,
    maxNewTokens: 40,
    memoryWindow: 4,
    seed: options.seed ?? 0,
  });
  // 2. Create environments with scenarios
  const environment = new ConversationEnvironment({ scenarios: QUICK_START_SCENARIOS, maxTurns: 3 });
  const evalEnvironment = new ConversationEnvironment({ scenarios: QUICK_START_HELD_OUT, maxTurns: 3 });
  // 3. Train (helpfulness 0.4, safety 0.3, engagement 0.3, as in the guide) and 4. measure
  return {
    name: "quick_start", agent, environment, evalEnvironment, reward: helpfulAgentReward(),
    profile: "balanced", numEpisodes: 384,
  };
}

/** Evaluates, trains and evaluates again. */
export async function quickStart(options: ExampleOptions = {}): Promise<ExampleResult> {
  return runExample(quickStartSpec(options), options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  quickStart(parseExampleArgs(process.argv.slice(2))).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
