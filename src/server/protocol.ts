/**
 * The OpenAI chat completions wire format, as far as `grpo serve` speaks it: the request schema
 * (validated with zod) and the response, chunk and error shapes. HF/OpenAI spelling (snake_case)
 * lives here only: this is the JSON boundary.
 */
import { z } from "zod";
import type { ChatMessage, ToolSchema } from "../core/policy.js";

/** The most completions one request may ask for (`n`). */
export const MAX_CHOICES = 16;

/** Error JSON as OpenAI sends it: `{ error: { message, type, param, code } }`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error answered with an HTTP status and OpenAI's error body. */
export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, options: { type?: string; param?: string | null; code?: string | null } = {}) {
    super(message);
    this.status = status;
    this.type = options.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.param = options.param ?? null;
    this.code = options.code ?? null;
  }

  /** The JSON body of this error. */
  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const textPart = z.object({ type: z.literal("text"), text: z.string() });

const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"], {
    error: 'one of "system", "developer", "user", "assistant", "tool"',
  }),
  content: z.union([z.string(), z.array(textPart), z.null()], {
    error: 'a string or an array of { type: "text", text } parts',
  }).optional(),
  name: z.string().optional(),
});

const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** The request fields `grpo serve` reads; other OpenAI fields are accepted and ignored. */
export const chatRequestSchema = z.object({
  model: z.string({ error: "a model id (GET /v1/models lists them)" }).min(1, { error: "a model id" }),
  messages: z.array(messageSchema, { error: "an array of messages" }).min(1, { error: "at least one message" }),
  temperature: z.number({ error: "a number in [0, 2]" }).min(0, { error: "a number in [0, 2]" })
    .max(2, { error: "a number in [0, 2]" }).nullish(),
  top_p: z.number({ error: "a number in (0, 1]" }).gt(0, { error: "a number in (0, 1]" })
    .max(1, { error: "a number in (0, 1]" }).nullish(),
  top_k: z.number({ error: "an integer >= 0" }).int({ error: "an integer >= 0" }).min(0, { error: "an integer >= 0" }).nullish(),
  max_tokens: z.number({ error: "an integer >= 1" }).int({ error: "an integer >= 1" }).min(1, { error: "an integer >= 1" }).nullish(),
  max_completion_tokens: z.number({ error: "an integer >= 1" }).int({ error: "an integer >= 1" })
    .min(1, { error: "an integer >= 1" }).nullish(),
  stop: z.union([
    z.string().min(1, { error: "a non-empty stop string" }),
    z.array(z.string().min(1, { error: "a non-empty stop string" })).max(4, { error: "at most 4 stop strings" }),
  ], { error: "a string or an array of up to 4 strings" }).nullish(),
  n: z.number({ error: `an integer in [1, ${MAX_CHOICES}]` }).int({ error: `an integer in [1, ${MAX_CHOICES}]` })
    .min(1, { error: `an integer in [1, ${MAX_CHOICES}]` }).max(MAX_CHOICES, { error: `an integer in [1, ${MAX_CHOICES}]` }).nullish(),
  seed: z.number({ error: "an integer" }).int({ error: "an integer" }).nullish(),
  stream: z.boolean({ error: "true or false" }).nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(toolSchema, { error: 'an array of { type: "function", function: { name, description, parameters } }' }).nullish(),
});

/** A parsed chat completions request. */
export type ChatRequest = z.output<typeof chatRequestSchema>;

/** Checks a request body; the first problem becomes a 400 naming the field. */
export function parseChatRequest(body: unknown): ChatRequest {
  const result = chatRequestSchema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue.path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
  const what = param === "" ? "The request body" : `\`${param}\``;
  throw new HttpError(400, `Invalid request: ${what} must be ${issue.message}.`, { param: param || null, code: "invalid_value" });
}

/** The request's messages as chat-template messages (`developer` is read as `system`; text parts are joined). */
export function toChatMessages(request: ChatRequest): ChatMessage[] {
  return request.messages.map((m) => {
    const content = typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join("");
    const message: ChatMessage = { role: m.role === "developer" ? "system" : m.role, content };
    if (m.role === "tool" && m.name !== undefined) message.name = m.name;
    return message;
  });
}

/** The request's tools as the chat template sees them. */
export function toToolSchemas(request: ChatRequest): ToolSchema[] | undefined {
  if (!request.tools || request.tools.length === 0) return undefined;
  return request.tools.map((t) => ({
    name: t.function.name,
    description: t.function.description ?? "",
    parameters: t.function.parameters ?? { type: "object", properties: {} },
  }));
}

/** The request's stop strings as a list. */
export function stopList(request: ChatRequest): string[] {
  if (request.stop === undefined || request.stop === null) return [];
  return typeof request.stop === "string" ? [request.stop] : request.stop;
}

/** OpenAI's convention: the completion ends before the first stop string, which is not returned. */
export function cutBeforeStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let end = -1;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0 && (end < 0 || at < end)) end = at;
  }
  return end < 0 ? { text, stopped: false } : { text: text.slice(0, end), stopped: true };
}

/**
 * How much of a growing completion can be sent now: everything before a stop string that has
 * appeared, else everything but a tail that could still become the start of a stop string.
 */
export function streamableLength(text: string, stops: readonly string[]): number {
  const cut = cutBeforeStop(text, stops);
  if (cut.stopped) return cut.text.length;
  let hold = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return text.length - hold;
}

/** Token counts of a request, as OpenAI reports them. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
