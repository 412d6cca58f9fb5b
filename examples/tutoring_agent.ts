/**
 * Tutoring agent (the guide's third example): educational scenarios, a knowledge-assessment reward
 * (hints, checks of understanding), and student progress tracked in the environment's context.
 *
 *   npm run example -- tutoring_agent --seed 1
 */
import { pathToFileURL } from "node:url";
import { MultiTurnAgent } from "../src/core/agent.js";
import { ConversationEnvironment, type EnvironmentState, type StepResult } from "../src/core/environment.js";
import { tutoringReward } from "../src/core/rewards/index.js";
import type { ConversationTurn } from "../src/core/trajectory.js";
import { registerTfPolicyResolver } from "../src/model/registry.js";
import { SYSTEM_PROMPTS } from "../scripts/corpus/prompts.js";
import { parseExampleArgs, runExample, type ExampleOptions, type ExampleResult, type ExampleSpec } from "./harness.js";

/** Student progress, kept in `state.context.progress` and updated after every tutor turn. */
export interface StudentProgress {
  questionsAsked: number;
  hintsGiven: number;
  checksOfUnderstanding: number;
}

/** A conversation environment that also tracks the student's progress. */
export class TutoringEnvironment extends ConversationEnvironment {
  override async step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult> {
    const result = await super.step(state, action);
    const progress = { ...((state.context.progress as StudentProgress | undefined) ?? { questionsAsked: 0, hintsGiven: 0, checksOfUnderstanding: 0 }) };
    const text = action.content.toLowerCase();
    if (text.includes("?")) progress.questionsAsked += 1;
    if (/\b(hint|try|think about|what happens if)\b/.test(text)) progress.hintsGiven += 1;
    if (/\b(can you (tell|explain|show)|why do you think|does that make sense|what do you get)\b/.test(text)) progress.checksOfUnderstanding += 1;
    result.state.context.progress = progress;
    return result;
  }
}

const LESSONS = [
  { id: "fractions", userResponses: ["Can you help me with adding fractions?", "I don't get it.", "Is it 2/5?"] },
  { id: "equations", userResponses: ["I need help solving equations.", "What do I do first?"] },
  { id: "percentages", userResponses: ["Can you help me with percentages?", "I don't get it."] },
  { id: "photosynthesis", userResponses: ["Can you explain photosynthesis?", "Why do plants need light?"] },
  { id: "primes", userResponses: ["I need help with prime numbers.", "Is 9 a prime number?"] },
  { id: "verbs", userResponses: ["Can you help me with irregular verbs?", "I don't get it."] },
];
const HELD_OUT = [
  { id: "water_cycle", userResponses: ["Can you explain the water cycle?", "I don't get it."] },
  { id: "triangle", userResponses: ["I need help with the area of a triangle.", "What do I do first?"] },
  { id: "area", userResponses: ["Can you help me with area?", "Is it 12?"] },
  { id: "fractions_2", userResponses: ["I need help with adding fractions.", "Why do we need a common denominator?"] },
];

/** The example's agent, environments and reward (used by `grpo eval` too). */
export function tutoringExampleSpec(options: ExampleOptions = {}): ExampleSpec {
  registerTfPolicyResolver();
  const agent = new MultiTurnAgent({
    modelName: options.modelName ?? "builtin:tiny-chat", systemPrompt: SYSTEM_PROMPTS.tutorSocratic,
    temperature: 0.8, maxNewTokens: 64, memoryWindow: 4, seed: options.seed ?? 0,
  });
  return {
    name: "tutoring_agent", agent,
    environment: new TutoringEnvironment({ scenarios: LESSONS, maxTurns: 3 }),
    evalEnvironment: new TutoringEnvironment({ scenarios: HELD_OUT, maxTurns: 3 }),
    reward: tutoringReward(), profile: "balanced", numEpisodes: 144,
  };
}

/** Evaluates, trains and evaluates again. */
export async function tutoringExample(options: ExampleOptions = {}): Promise<ExampleResult> {
  return runExample(tutoringExampleSpec(options), options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  tutoringExample(parseExampleArgs(process.argv.slice(2))).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
