/**
 * Ready-made composite rewards for the usage guide's agent types. Each returns a fresh
 * {@link CompositeReward} (weighted mean of its components; weights below sum to 1).
 */
import { CompositeReward, type RewardFunctionOptions } from "../reward.js";
import { ConcisenessReward } from "./conciseness.js";
import { EngagementReward } from "./engagement.js";
import { HelpfulnessReward } from "./helpfulness.js";
import { KnowledgeAssessmentReward } from "./knowledge-assessment.js";
import { ProfessionalismReward } from "./professionalism.js";
import { SafetyReward } from "./safety.js";
import { TaskCompletionReward, type RequiredActionSpec } from "./task-completion.js";

/** Options of the presets: the composite's own name and weight (for nesting it in another composite). */
export type PresetOptions = Pick<RewardFunctionOptions, "name" | "weight">;

/**
 * A general helpful assistant, the usage guide's example composite:
 * helpfulness 0.4, safety 0.3, engagement 0.3. Name `helpful_agent`.
 */
export function helpfulAgentReward(options: PresetOptions = {}): CompositeReward {
  return new CompositeReward(
    [new HelpfulnessReward({ weight: 0.4 }), new SafetyReward({ weight: 0.3 }), new EngagementReward({ weight: 0.3 })],
    { name: options.name ?? "helpful_agent", weight: options.weight },
  );
}

/**
 * A customer-service agent: helpfulness 0.3, professionalism 0.3, safety 0.2, engagement 0.2.
 * Name `customer_service`.
 */
export function customerServiceReward(options: PresetOptions = {}): CompositeReward {
  return new CompositeReward(
    [
      new HelpfulnessReward({ weight: 0.3 }),
      new ProfessionalismReward({ weight: 0.3 }),
      new SafetyReward({ weight: 0.2 }),
      new EngagementReward({ weight: 0.2 }),
    ],
    { name: options.name ?? "customer_service", weight: options.weight },
  );
}

/**
 * A goal-oriented agent: task completion 0.6, helpfulness 0.2, conciseness 0.2. Name `task_agent`.
 * `requiredActions` goes to the {@link TaskCompletionReward} (default: read from the context).
 */
export function taskAgentReward(options: PresetOptions & { requiredActions?: RequiredActionSpec[] } = {}): CompositeReward {
  const task = options.requiredActions !== undefined
    ? new TaskCompletionReward({ weight: 0.6, requiredActions: options.requiredActions })
    : new TaskCompletionReward({ weight: 0.6 });
  return new CompositeReward(
    [task, new HelpfulnessReward({ weight: 0.2 }), new ConcisenessReward({ weight: 0.2 })],
    { name: options.name ?? "task_agent", weight: options.weight },
  );
}

/**
 * A tutor: knowledge assessment 0.4, helpfulness 0.3, engagement 0.2, safety 0.1. Name `tutoring`.
 */
export function tutoringReward(options: PresetOptions = {}): CompositeReward {
  return new CompositeReward(
    [
      new KnowledgeAssessmentReward({ weight: 0.4 }),
      new HelpfulnessReward({ weight: 0.3 }),
      new EngagementReward({ weight: 0.2 }),
      new SafetyReward({ weight: 0.1 }),
    ],
    { name: options.name ?? "tutoring", weight: options.weight },
  );
}
