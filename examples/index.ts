/** The examples by name (`npm run example -- <name>`, `npx grpo example <name>`, `npx grpo eval --example <name>`). */
import { customerServiceExample, customerServiceExampleSpec } from "./customer_service_agent.js";
import type { ExampleOptions, ExampleResult, ExampleSpec } from "./harness.js";
import { quickStart, quickStartSpec } from "./quick_start.js";
import { taskPlanningExample, taskPlanningExampleSpec } from "./task_planning.js";
import { toolAgentExample, toolAgentExampleSpec } from "./tool_agent.js";
import { tutoringExample, tutoringExampleSpec } from "./tutoring_agent.js";

/** An example: how to build its parts, and how to run it (evaluate, train, evaluate). */
export interface Example {
  spec: (options?: ExampleOptions) => ExampleSpec;
  run: (options?: ExampleOptions) => Promise<ExampleResult>;
}

export const EXAMPLES: Readonly<Record<string, Example>> = {
  quick_start: { spec: quickStartSpec, run: quickStart },
  customer_service_agent: { spec: customerServiceExampleSpec, run: customerServiceExample },
  tutoring_agent: { spec: tutoringExampleSpec, run: tutoringExample },
  tool_agent: { spec: toolAgentExampleSpec, run: toolAgentExample },
  task_planning: { spec: taskPlanningExampleSpec, run: taskPlanningExample },
};

export type { ExampleOptions, ExampleResult, ExampleSpec } from "./harness.js";
