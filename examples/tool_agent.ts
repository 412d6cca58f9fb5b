/**
 * Tool agent: a ToolAgent with the safe calculator learns to call it and report the right number.
 * Reward: CorrectnessReward against each problem's ground truth (scenario field `groundTruth`), so the
 * headline metric is arithmetic accuracy on held-out problems.
 *
 *   npm run example -- tool_agent --seed 1
 */
import { pathToFileURL } from "node:url";
import { ToolAgent } from "../src/core/agent.js";
import { ConversationEnvironment } from "../src/core/environment.js";
import { Rng } from "../src/core/rng.js";
import { CorrectnessReward } from "../src/core/rewards/index.js";
import { calculatorTool, evaluateArithmetic } from "../src/core/tools.js";
import { registerTfPolicyResolver } from "../src/model/registry.js";
import { SYSTEM_PROMPTS } from "../scripts/corpus/prompts.js";
import { parseExampleArgs, runExample, type ExampleOptions, type ExampleResult, type ExampleSpec } from "./harness.js";

const OPERATORS = ["+", "-", "*"] as const;
const QUESTIONS = ["What is {e}?", "Can you calculate {e}?", "Please compute {e}.", "How much is {e}?"];

/** Seeded arithmetic problems `{ id, userResponses: [question], groundTruth }` (integer results). */
export function arithmeticProblems(count: number, seed: number, prefix: string) {
  const rng = Rng.fromSeed(seed);
  return Array.from({ length: count }, (_, i) => {
    const op = OPERATORS[rng.int(OPERATORS.length)];
    const a = 2 + rng.int(op === "*" ? 30 : 400);
    const b = 2 + rng.int(op === "*" ? 30 : 400);
    const expression = `${a} ${op} ${b}`;
    return {
      id: `${prefix}_${i}`,
      userResponses: [QUESTIONS[rng.int(QUESTIONS.length)].replace("{e}", expression)],
      groundTruth: evaluateArithmetic(expression),
    };
  });
}

/** The example's agent, environments and reward (used by `grpo eval` too). */
export function toolAgentExampleSpec(options: ExampleOptions = {}): ExampleSpec {
  registerTfPolicyResolver();
  const agent = new ToolAgent({
    modelName: options.modelName ?? "builtin:tiny-chat",
    systemPrompt: SYSTEM_PROMPTS.calculator,
    // Digits must be copied exactly; at 0.5 and 0.8 GRPO reached the same mean accuracy (0.557 and
    // 0.552 over seeds 0–2, docs/copying.md); the README's figures are at 0.5.
    temperature: 0.5,
    maxNewTokens: 48,
    seed: options.seed ?? 0,
  }, { tools: [calculatorTool], maxToolRounds: 2, advertiseTools: false });
  const environment = new ConversationEnvironment({ scenarios: arithmeticProblems(48, 1, "train"), maxTurns: 1 });
  const evalEnvironment = new ConversationEnvironment({ scenarios: arithmeticProblems(16, 2, "heldout"), maxTurns: 1 });
  return {
    name: "tool_agent", agent, environment, evalEnvironment,
    reward: new CorrectnessReward({ tolerance: 1e-6 }),
    // Copying the tool's result into the answer is a skill the built-in model has only in part
    // before GRPO (accuracy ~0.07): it climbs slowly, to 0.48–0.59 after 2592 episodes (~9 min on 2
    // cores; README, "Examples"). `--episodes` shortens a run.
    profile: "balanced", numEpisodes: 2592,
    // The balanced profile's 1e-3 is too large for a skill as brittle as copying digits: on a model
    // that copies (docs/copying.md, "A model that copies"), accuracy 0.891 fell to 0.000 in 12 steps
    // at 1e-3, and rose to 0.922 at 1e-4. On the shipped model 2e-4 learns faster than 1e-4 (seed 0:
    // 0.609 against 0.438 at 2592 episodes) and stays stable.
    configOverrides: { learningRate: 2e-4 },
    headline: { name: "arithmetic accuracy", of: (r) => r.meanReward },
  };
}

/** Evaluates, trains and evaluates again. */
export async function toolAgentExample(options: ExampleOptions = {}): Promise<ExampleResult> {
  return runExample(toolAgentExampleSpec(options), options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  toolAgentExample(parseExampleArgs(process.argv.slice(2))).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
