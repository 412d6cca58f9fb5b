// Remote models behind OpenAI-compatible endpoints: re-exports only.
export * from "./policy.js";
export * from "./resolver.js";
