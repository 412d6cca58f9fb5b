/**
 * What a value is, for display: library classes by `instanceof`, the plain-object results
 * (StepReport, HealthStatus, RewardResult, GRPOConfig) by their shape.
 */
import { Agent } from "../src/core/agent.js";
import type { RewardResult } from "../src/core/reward.js";
import { ConversationTurn, MultiTurnTrajectory, TrajectoryGroup } from "../src/core/trajectory.js";
import type { StreamDecoder } from "../src/model/tokenizer.js";
import type { GRPOConfig } from "../src/training/config.js";
import type { HealthStatus } from "../src/training/diagnostics.js";
import type { StepReport } from "../src/training/events.js";
import { TrainingHistory } from "../src/training/history.js";

/** A value the kernel knows how to show, tagged with its kind. */
export type Known =
  | { kind: "turn"; value: ConversationTurn }
  | { kind: "trajectory"; value: MultiTurnTrajectory }
  | { kind: "group"; value: TrajectoryGroup }
  | { kind: "reward"; value: RewardResult }
  | { kind: "step"; value: StepReport }
  | { kind: "history"; value: TrainingHistory }
  | { kind: "health"; value: HealthStatus }
  | { kind: "config"; value: GRPOConfig };

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

const HEALTH_LEVELS = new Set(["HEALTHY", "WARNING", "CRITICAL"]);

/** True for a {@link StepReport} (the result of `trainer.step()`). */
export function isStepReport(x: unknown): x is StepReport {
  return isRecord(x) && typeof x.step === "number" && Array.isArray(x.groups) && x.groups.every((g) => g instanceof TrajectoryGroup) &&
    Array.isArray(x.advantages) && typeof x.loss === "number" && isRecord(x.metrics);
}

/** True for a {@link HealthStatus} (the result of `monitor.getHealthStatus()`). */
export function isHealthStatus(x: unknown): x is HealthStatus {
  return isRecord(x) && typeof x.status === "string" && HEALTH_LEVELS.has(x.status) && Array.isArray(x.issues) &&
    typeof x.rewardDiversity === "number" && typeof x.gradientStability === "number";
}

/** True for a {@link RewardResult} (`{ score, breakdown, metadata }`). */
export function isRewardResult(x: unknown): x is RewardResult {
  return isRecord(x) && typeof x.score === "number" && isRecord(x.breakdown) && isRecord(x.metadata) &&
    Object.values(x.breakdown).every((v) => typeof v === "number");
}

/** True for a resolved {@link GRPOConfig} (`trainer.config`, `resolveGRPOConfig()`). */
export function isGRPOConfig(x: unknown): x is GRPOConfig {
  return isRecord(x) && typeof x.numGenerations === "number" && typeof x.learningRate === "number" &&
    typeof x.lossType === "string" && typeof x.beta === "number" && typeof x.epsilon === "number";
}

/** Classifies `x`, or undefined when the kernel has no dedicated view for it. */
export function classify(x: unknown): Known | undefined {
  if (x instanceof ConversationTurn) return { kind: "turn", value: x };
  if (x instanceof MultiTurnTrajectory) return { kind: "trajectory", value: x };
  if (x instanceof TrajectoryGroup) return { kind: "group", value: x };
  if (x instanceof TrainingHistory) return { kind: "history", value: x };
  if (isStepReport(x)) return { kind: "step", value: x };
  if (isHealthStatus(x)) return { kind: "health", value: x };
  if (isRewardResult(x)) return { kind: "reward", value: x };
  if (isGRPOConfig(x)) return { kind: "config", value: x };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Tokenizers for per-token views

/** What per-token views need from a tokenizer: a streaming decoder (ChatTokenizer has one). */
export interface TokenDecoder {
  createStreamDecoder(options?: { skipSpecialTokens?: boolean }): StreamDecoder;
}

/**
 * Where a tokenizer can come from: a ChatTokenizer, a policy that has one (`TfPolicy`), or an agent
 * whose policy has one.
 */
export type TokenizerSource = TokenDecoder | { tokenizer: TokenDecoder } | Agent;

function isDecoder(x: unknown): x is TokenDecoder {
  return isRecord(x) && typeof (x as { createStreamDecoder?: unknown }).createStreamDecoder === "function";
}

/** The decoder behind `source`, or undefined (e.g. an agent with a remote policy). */
export function resolveTokenizer(source: TokenizerSource | undefined): TokenDecoder | undefined {
  if (source === undefined) return undefined;
  if (isDecoder(source)) return source;
  if (source instanceof Agent) return resolveTokenizer(source.policy as TokenizerSource | undefined);
  if (isRecord(source) && isDecoder(source.tokenizer)) return source.tokenizer;
  return undefined;
}

/**
 * The text of each token of `ids`, so that the pieces concatenate to the decoded text: a token that
 * ends inside a multi-byte character gets "" and the next one the whole character.
 */
export function tokenPieces(decoder: TokenDecoder, ids: readonly number[]): string[] {
  const stream = decoder.createStreamDecoder({ skipSpecialTokens: false });
  const pieces = ids.map((id) => stream.push(id));
  const rest = stream.end();
  if (pieces.length > 0) pieces[pieces.length - 1] += rest;
  return pieces;
}
