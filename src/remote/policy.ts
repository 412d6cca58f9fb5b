/**
 * Remote models: a {@link Policy} backed by any OpenAI-compatible chat completions endpoint (OpenAI,
 * vLLM, llama.cpp's server, `grpo serve`, …), through the official `openai` client.
 *
 * Naming: `modelName: "openai:<model>"` (e.g. `"openai:gpt-4o-mini"`, or `"openai:openai/gpt-oss-120b"`
 * for a server that hosts the usage guide's model). The endpoint comes from options, else from the
 * environment: `OPENAI_BASE_URL` (default `https://api.openai.com/v1`) and `OPENAI_API_KEY`.
 *
 * A remote policy samples text only: its generations carry no token ids or log-probs, so it can
 * play episodes, be evaluated, judge and simulate users, but not be trained.
 */
import OpenAI from "openai";
import { z } from "zod";
import { AbortedError, GrpoError } from "../core/errors.js";
import type { ChatMessage, Generation, Policy, SamplingOptions } from "../core/policy.js";
import { parseWith } from "../core/validation.js";

/** The prefix of remote model names: `openai:<model>`. */
export const REMOTE_MODEL_PREFIX = "openai:";

/** The endpoint used when neither options nor `OPENAI_BASE_URL` name one. */
export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";

/** Where a remote model is served and how to call it. */
export interface RemoteEndpointOptions {
  /** The API root, e.g. `http://127.0.0.1:8000/v1` (default: `OPENAI_BASE_URL`, else OpenAI's). */
  baseURL?: string;
  /**
   * The API key (default: `OPENAI_API_KEY`). A server that checks no key (a local `grpo serve`,
   * vLLM without `--api-key`) needs none once `baseURL` points at it. Never stored in configs or checkpoints.
   */
  apiKey?: string;
  /** Milliseconds one request may take, > 0 (default 60000). */
  timeoutMs?: number;
  /** Retries of failed requests (connection errors, 408/409/429/5xx) by the client, with backoff; integer >= 0 (default 2). */
  maxRetries?: number;
}

/** Options of {@link RemotePolicy}. */
export interface RemotePolicyOptions extends RemoteEndpointOptions {
  /** The model id the endpoint knows, e.g. `gpt-4o-mini` (without the `openai:` prefix). */
  model: string;
  /** The name the policy reports (default `openai:<model>`). */
  name?: string;
  /**
   * Seeds the requests: request k (0-based, in the order they are made) sends `seed: seed + k`, so a
   * run is repeatable on servers that honour seeds while repeated prompts still get different samples.
   */
  seed?: number;
}

const optionsSchema = z.strictObject({
  model: z.string({ error: "a model id string, e.g. \"gpt-4o-mini\"" }).min(1, { error: "a non-empty model id" }),
  name: z.string().min(1).optional(),
  seed: z.number({ error: "an integer" }).int({ error: "an integer" }).optional(),
  baseURL: z.url({ error: "an http(s) URL such as http://127.0.0.1:8000/v1" }).optional(),
  apiKey: z.string({ error: "a string" }).optional(),
  timeoutMs: z.number({ error: "a number of milliseconds > 0" }).positive({ error: "a number of milliseconds > 0" }).optional(),
  maxRetries: z.number({ error: "an integer >= 0" }).int({ error: "an integer >= 0" }).min(0, { error: "an integer >= 0" }).optional(),
});

/** The model id of a remote model name (`"openai:gpt-4o-mini"` -> `"gpt-4o-mini"`), or undefined for other names. */
export function parseRemoteModelName(modelName: string): string | undefined {
  if (typeof modelName !== "string" || !modelName.startsWith(REMOTE_MODEL_PREFIX)) return undefined;
  return modelName.slice(REMOTE_MODEL_PREFIX.length);
}

/** True for names of the form `openai:<model>`. */
export function isRemoteModelName(modelName: string): boolean {
  return parseRemoteModelName(modelName) !== undefined;
}

/** The endpoint options filled in from the environment; throws when no API key can be found for OpenAI's own API. */
export function resolveEndpoint(options: RemoteEndpointOptions, what: string): Required<RemoteEndpointOptions> {
  const envBase = process.env.OPENAI_BASE_URL?.trim();
  const baseURL = options.baseURL ?? (envBase ? envBase : undefined);
  const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
  if (apiKey === undefined && baseURL === undefined) {
    throw new GrpoError("invalid_config", `No API key for ${what}.`, {
      field: "apiKey",
      expected: "an API key, or the URL of an OpenAI-compatible server",
      fix: "set OPENAI_API_KEY (and OPENAI_BASE_URL for another server), or pass `{ baseURL, apiKey }`; " +
        "for a local model run `npx grpo serve --model builtin:tiny-chat` and set OPENAI_BASE_URL=http://127.0.0.1:8000/v1.",
    });
  }
  return {
    baseURL: baseURL ?? DEFAULT_OPENAI_BASE_URL,
    // Servers without authentication ignore the key, but the client insists on one.
    apiKey: apiKey ?? "no-key",
    timeoutMs: options.timeoutMs ?? 60_000,
    maxRetries: options.maxRetries ?? 2,
  };
}

type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/**
 * Our messages in OpenAI's shape. Tool results become user messages wrapped in
 * `<tool_response>…</tool_response>` (the text convention our tool agents use: OpenAI's `tool`
 * role needs ids of structured calls, which text-based tool calls do not have).
 */
export function toOpenAIMessages(messages: ChatMessage[]): OpenAIMessage[] {
  return messages.map((m): OpenAIMessage => {
    if (m.role === "tool") return { role: "user", content: `<tool_response>\n${m.content}\n</tool_response>` };
    return { role: m.role, content: m.content };
  });
}

/** Structured tool calls of a reply as the `<tool_call>{…}</tool_call>` text our tool agents parse. */
function toolCallText(calls: OpenAI.Chat.Completions.ChatCompletionMessageToolCall[] | undefined): string {
  if (!calls || calls.length === 0) return "";
  return calls
    .filter((c): c is OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall => c.type === "function")
    .map((c) => {
      let args: unknown = c.function.arguments;
      try {
        args = JSON.parse(c.function.arguments);
      } catch {
        /* keep the raw string: the tool agent reports it as malformed */
      }
      return `<tool_call>${JSON.stringify({ name: c.function.name, arguments: args })}</tool_call>`;
    })
    .join("\n");
}

function joinText(content: string, tools: string): string {
  if (tools === "") return content;
  return content === "" ? tools : `${content}\n${tools}`;
}

/** A policy that asks an OpenAI-compatible endpoint for each completion. */
export class RemotePolicy implements Policy {
  readonly name: string;
  /** The model id sent to the endpoint. */
  readonly model: string;
  /** The endpoint's API root. */
  readonly baseURL: string;
  private readonly seed?: number;
  private requests = 0;
  private readonly client: OpenAI;

  constructor(options: RemotePolicyOptions) {
    const opts = parseWith(optionsSchema, options ?? {}, {
      root: "RemotePolicy",
      code: "invalid_config",
      fix: 'pass e.g. `new RemotePolicy({ model: "gpt-4o-mini", baseURL: "http://127.0.0.1:8000/v1" })`.',
    });
    const endpoint = resolveEndpoint(opts, `the remote model "${opts.model}"`);
    this.model = opts.model;
    this.name = opts.name ?? `${REMOTE_MODEL_PREFIX}${opts.model}`;
    this.baseURL = endpoint.baseURL;
    if (opts.seed !== undefined) this.seed = opts.seed;
    this.client = new OpenAI({
      baseURL: endpoint.baseURL,
      apiKey: endpoint.apiKey,
      timeout: endpoint.timeoutMs,
      maxRetries: endpoint.maxRetries,
    });
  }

  /** One request per conversation, all in flight at once; resolves in order. */
  generate(conversations: ChatMessage[][], options: SamplingOptions): Promise<Generation[]> {
    return Promise.all(conversations.map((messages, i) => this.complete(messages, options, i)));
  }

  private request(messages: ChatMessage[], options: SamplingOptions) {
    // top_k is not part of OpenAI's API; servers that know it (vLLM, ours) read it as an extension.
    const body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming & { top_k?: number } = {
      model: this.model,
      messages: toOpenAIMessages(messages),
      temperature: options.temperature,
      top_p: options.topP,
      max_tokens: options.maxNewTokens,
    };
    if (options.topK > 0) body.top_k = options.topK;
    if (options.stop !== undefined && options.stop.length > 0) body.stop = options.stop.slice(0, 4);
    if (this.seed !== undefined) body.seed = this.seed + this.requests;
    this.requests += 1;
    if (options.tools !== undefined && options.tools.length > 0) {
      body.tools = options.tools.map((t) => ({
        type: "function" as const,
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
    }
    return body;
  }

  private async complete(messages: ChatMessage[], options: SamplingOptions, index: number): Promise<Generation> {
    const body = this.request(messages, options);
    const requestOptions = options.signal !== undefined ? { signal: options.signal } : {};
    try {
      if (options.onText !== undefined) {
        const stream = await this.client.chat.completions.create({ ...body, stream: true }, requestOptions);
        let text = "";
        let finish: string | null = null;
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          if (choice === undefined) continue;
          if (typeof choice.delta?.content === "string" && choice.delta.content !== "") {
            text += choice.delta.content;
            options.onText(index, text);
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
        return generation(text, finish);
      }
      const completion = await this.client.chat.completions.create(body, requestOptions);
      const choice = completion.choices[0];
      if (choice === undefined) {
        throw new GrpoError("remote_failed", `The remote model "${this.name}" at ${this.baseURL} returned no choice.`, {
          value: completion,
          expected: "a chat completion with one choice",
        });
      }
      const text = joinText(choice.message.content ?? "", toolCallText(choice.message.tool_calls));
      return generation(text, choice.finish_reason);
    } catch (error) {
      throw this.failure(error, options.signal);
    }
  }

  private failure(error: unknown, signal: AbortSignal | undefined): Error {
    if (error instanceof GrpoError) return error;
    if (signal?.aborted) return new AbortedError(`The request to the remote model "${this.name}"`);
    const where = `The remote model "${this.name}" at ${this.baseURL}`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      return new GrpoError("remote_failed", `${where} did not answer in time.`, {
        fix: "check that the server is up and not overloaded, or raise `timeoutMs`.",
        cause: error,
      });
    }
    if (error instanceof OpenAI.APIConnectionError) {
      return new GrpoError("remote_failed", `${where} cannot be reached: ${error.message}`, {
        fix: "check `baseURL` / OPENAI_BASE_URL and that the server is running (e.g. `npx grpo serve --model builtin:tiny-chat`).",
        cause: error,
      });
    }
    if (error instanceof OpenAI.APIError) {
      const fix = error.status === 401 || error.status === 403
        ? "set OPENAI_API_KEY or pass `apiKey` (the key is never written to configs or checkpoints)."
        : error.status === 404
          ? `check the model id: GET ${this.baseURL}/models lists what the server hosts.`
          : "see the server's message above.";
      return new GrpoError("remote_failed", `${where} refused the request (HTTP ${error.status ?? "error"}): ${error.message}`, {
        fix,
        cause: error,
      });
    }
    return new GrpoError("remote_failed", `${where} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function generation(text: string, finishReason: string | null | undefined): Generation {
  return { text, promptTokenIds: [], tokenIds: [], logprobs: [], finishReason: finishReason === "length" ? "length" : "stop" };
}
