// The built-in rule-based rewards and composite presets: re-exports only.
export * from "./helpfulness.js";
export * from "./safety.js";
export * from "./correctness.js";
export * from "./conciseness.js";
export * from "./engagement.js";
export * from "./task-completion.js";
export * from "./professionalism.js";
export * from "./knowledge-assessment.js";
export * from "./presets.js";
export * from "./llm-judge.js";
