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

/** One arithmetic problem: a scenario of the tool agent's environments (a type, so it is a ConversationScenario). */
export type ArithmeticProblem = {
  id: string;
  /** The one user turn: the question. */
  userResponses: string[];
  /** The expression the question asks about, `"12 * 22"`. */
  expression: string;
  /** Its value (an integer). */
  groundTruth: number;
};

/**
 * Seeded arithmetic problems. `exclude` holds expressions (`"12 * 22"`) to leave out, so that a
 * held-out set shares no problem with a training set; the problems drawn are otherwise the same stream
 * for a seed.
 */
export function arithmeticProblems(count: number, seed: number, prefix: string, exclude: ReadonlySet<string> = new Set()): ArithmeticProblem[] {
  const rng = Rng.fromSeed(seed);
  const problems: ArithmeticProblem[] = [];
  while (problems.length < count) {
    const op = OPERATORS[rng.int(OPERATORS.length)];
    const a = 2 + rng.int(op === "*" ? 30 : 400);
    const b = 2 + rng.int(op === "*" ? 30 : 400);
    const expression = `${a} ${op} ${b}`;
    const question = QUESTIONS[rng.int(QUESTIONS.length)].replace("{e}", expression);
    if (exclude.has(expression)) continue;
    problems.push({ id: `${prefix}_${problems.length}`, userResponses: [question], expression, groundTruth: evaluateArithmetic(expression) });
  }
  return problems;
}

/**
 * Training problems of the example: 480 (with 48 GRPO learnt less that carries over to new problems:
 * docs/copying.md, "More training problems").
 */
export const TRAIN_PROBLEMS = 480;
/** Held-out problems of the example (none of them a training problem), each played twice per evaluation. */
export const HELDOUT_PROBLEMS = 64;

/** The example's agent, environments and reward (used by `grpo eval` too). */
export function toolAgentExampleSpec(options: ExampleOptions = {}): ExampleSpec {
  registerTfPolicyResolver();
  const agent = new ToolAgent({
    modelName: options.modelName ?? "builtin:tiny-chat",
    systemPrompt: SYSTEM_PROMPTS.calculator,
    // Digits must be copied exactly; at 0.5 and 0.8 GRPO reached the same mean accuracy (0.557 and
    // 0.552 over seeds 0–2 with the 48 training problems used then, docs/copying.md); the README's
    // figures are at 0.5.
    temperature: 0.5,
    maxNewTokens: 48,
    seed: options.seed ?? 0,
  }, { tools: [calculatorTool], maxToolRounds: 2, advertiseTools: false });
  const train = arithmeticProblems(TRAIN_PROBLEMS, 1, "train");
  const heldOut = arithmeticProblems(HELDOUT_PROBLEMS, 2, "heldout", new Set(train.map((p) => p.expression)));
  const environment = new ConversationEnvironment({ scenarios: train, maxTurns: 1 });
  const evalEnvironment = new ConversationEnvironment({ scenarios: heldOut, maxTurns: 1 });
  return {
    name: "tool_agent", agent, environment, evalEnvironment,
    reward: new CorrectnessReward({ tolerance: 1e-6 }),
    // Copying the user's numbers into the call and the tool's result into the answer are skills the
    // built-in model has only in part before GRPO (accuracy ~0.11): 3888 episodes (17 min a seed with
    // three runs sharing 2 cores) take it to 0.56–0.68, mean 0.625 over seeds 0–2 (README, "Examples";
    // 2592 episodes gave 0.591). `--episodes` shortens a run. Trained on 48 problems instead of 480 it
    // learnt less (seed 0 at 2592 episodes: 0.563 against 0.648 on these held-out problems).
    profile: "balanced", numEpisodes: 3888, evalEpisodes: 2,
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
