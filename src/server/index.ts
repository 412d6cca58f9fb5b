// The OpenAI-compatible server (`grpo serve`): re-exports only.
export * from "./openai-server.js";
export { HttpError, MAX_CHOICES, type OpenAIErrorBody, type ChatRequest, type Usage } from "./protocol.js";
