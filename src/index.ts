// The public API of grpo-agent-framework: grouped re-exports only.

// Core vocabulary (no tensors)
export * from "./core/errors.js";
export * from "./core/rng.js";
export * from "./core/stats.js";
export * from "./core/trajectory.js";
export * from "./core/policy.js";
