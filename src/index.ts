// The public API of grpo-agent-framework: grouped re-exports only.
import { registerTfPolicyResolver } from "./model/registry.js";

// Core vocabulary (no tensors): trajectories, rewards, environments, agents, tools, episodes
export * from "./core/errors.js";
export { ambientSignal, setAmbientSignal, withAmbientSignal } from "./core/interrupt.js";
export * from "./core/rng.js";
export * from "./core/stats.js";
export * from "./core/trajectory.js";
export * from "./core/policy.js";
export * from "./core/reward.js";
export * from "./core/rewards/index.js";
export * from "./core/environment.js";
export * from "./core/user-simulator.js";
export * from "./core/tools.js";
export * from "./core/agent.js";
export * from "./core/episode.js";
export * from "./core/display-registry.js";

// The policy: backend, tokenizer, transformer, generation, weights, model registry
export * from "./model/backend.js";
export * from "./model/config.js";
export {
  ChatTokenizer, type EncodeOptions, type DecodeOptions, type ChatTemplateOptions, type StreamDecoder, type TokenizerFiles,
  type HFTokenizerJSON, type HFTokenizerConfig, type HFAddedToken, type HFBPEModel, type HFNamedChatTemplate, type HFTokenValue,
} from "./model/tokenizer.js";
export {
  trainBPE, type TrainBPEOptions, builtinChatTemplate, builtinTokenizerConfig, type BuiltinTokenizerConfigOptions, BUILTIN_SPECIAL_TOKENS,
} from "./model/bpe-trainer.js";
export * from "./model/transformer.js";
export * from "./model/generate.js";
export * from "./model/safetensors.js";
export * from "./model/weights.js";
export * from "./model/policy.js";
export * from "./model/registry.js";

// Training: config, GRPO math, trainer, diagnostics, checkpoints
export * from "./training/config.js";
export * from "./training/grpo.js";
export * from "./training/history.js";
export * from "./training/events.js";
export * from "./training/diagnostics.js";
export * from "./training/optimizer.js";
export * from "./training/batch.js";
export * from "./training/sampler.js";
export * from "./training/checkpoint.js";
export * from "./training/checkpoints.js";
export * from "./training/runlog.js";
export * from "./training/trainer.js";
export * from "./training/train.js";
export * from "./training/auto.js";
export * from "./training/evaluate.js";
export * from "./training/distributed/trainer.js";
export { RedisRollouts, startRolloutWorker, redisConnection } from "./training/distributed/redis-rollouts.js";
export type { RedisQueueOptions, RedisRolloutOptions, RolloutWorkerOptions, RolloutWorker, SampleJobResult } from "./training/distributed/redis-rollouts.js";

// Remote models (OpenAI-compatible endpoints) and the OpenAI-compatible server
export * from "./remote/index.js";
export * from "./server/index.js";

// Importing the package lets `agent.initialize()` load TensorFlow.js models by name, and remote ones (`openai:<model>`).
registerTfPolicyResolver();
