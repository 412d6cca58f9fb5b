/** The examples by name (`npm run example -- <name>`, `npx grpo example <name>`). */
import { customerServiceExample } from "./customer_service_agent.js";
import type { ExampleOptions, ExampleResult } from "./harness.js";
import { quickStart } from "./quick_start.js";
import { taskPlanningExample } from "./task_planning.js";
import { toolAgentExample } from "./tool_agent.js";
import { tutoringExample } from "./tutoring_agent.js";

export const EXAMPLES: Readonly<Record<string, (options?: ExampleOptions) => Promise<ExampleResult>>> = {
  quick_start: quickStart,
  customer_service_agent: customerServiceExample,
  tutoring_agent: tutoringExample,
  tool_agent: toolAgentExample,
  task_planning: taskPlanningExample,
};

export type { ExampleOptions, ExampleResult } from "./harness.js";
