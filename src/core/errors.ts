/**
 * One error class for everything the user can get wrong.
 *
 * Errors are data first: a stable `code`, the offending `field` and `value`, what was `expected`,
 * and how to `fix` it. The readable message is built from those parts so that every error reads
 * the same way: what is wrong, where, and what to do about it.
 */

/** Stable machine-readable error codes. */
export type GrpoErrorCode =
  | "invalid_config"
  | "invalid_scenario"
  | "invalid_task"
  | "invalid_tool"
  | "invalid_reward"
  | "reward_failed"
  | "invalid_argument"
  | "invalid_json"
  | "model_not_found"
  | "invalid_model"
  | "invalid_tokenizer"
  | "invalid_weights"
  | "backend_unavailable"
  | "tool_failed"
  | "episode_failed"
  | "not_initialized"
  | "checkpoint_invalid"
  | "remote_failed"
  | "distributed_failed"
  | "aborted";

/** The parts a {@link GrpoError} is built from. */
export interface GrpoErrorDetails {
  /** Where the problem is, e.g. `AgentConfig.temperature` or `scenarios[2].userResponses`. */
  field?: string;
  /** The offending value (shown abbreviated in the message). */
  value?: unknown;
  /** What a valid value looks like. */
  expected?: string;
  /** What the user should do. */
  fix?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Renders any value compactly for an error message (at most ~80 characters). */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    text = String(value);
  } else if (typeof value === "function") text = `function ${value.name || "(anonymous)"}`;
  else if (typeof value === "bigint") text = `${value}n`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The error type of this library. `instanceof GrpoError` catches every user-facing failure. */
export class GrpoError extends Error {
  readonly code: GrpoErrorCode;
  readonly field?: string;
  readonly value?: unknown;
  readonly expected?: string;
  readonly fix?: string;

  constructor(code: GrpoErrorCode, summary: string, details: GrpoErrorDetails = {}) {
    const parts = [summary];
    if (details.field !== undefined) parts.push(`Field: \`${details.field}\`.`);
    if ("value" in details) parts.push(`Got: ${describeValue(details.value)}.`);
    if (details.expected !== undefined) parts.push(`Expected: ${details.expected}.`);
    if (details.fix !== undefined) parts.push(`Fix: ${details.fix}`);
    super(parts.join(" "), details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = "GrpoError";
    this.code = code;
    this.field = details.field;
    if ("value" in details) this.value = details.value;
    this.expected = details.expected;
    this.fix = details.fix;
  }
}

/** Thrown when an AbortSignal stops a long operation at a safe point. */
export class AbortedError extends GrpoError {
  constructor(what: string) {
    super("aborted", `${what} was aborted.`);
    this.name = "AbortedError";
  }
}

/** Throws {@link AbortedError} when `signal` is aborted. Call at safe points of long loops. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what);
}
