/**
 * An OpenAI-compatible HTTP server for our policies (`grpo serve`), on node:http:
 *
 * - `GET /v1/models`, `GET /v1/models/{id}`: the served models;
 * - `POST /v1/chat/completions`: completions, with `stream: true` as server-sent events in OpenAI's
 *   chunk format (`data: {…}` lines, then `data: [DONE]`).
 *
 * `temperature`, `top_p`, `top_k` (extension), `max_tokens` / `max_completion_tokens`, `stop`, `n`
 * and `seed` are honoured (a seed reseeds a policy that has `reseed(seed)`, such as TfPolicy), and
 * `usage` counts the policy's tokens. Requests to one model run one at a time, in arrival order, so
 * a seeded request always gives the same completions. Bad requests get 4xx answers with OpenAI's
 * error JSON `{ error: { message, type, param, code } }`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { GrpoError } from "../core/errors.js";
import type { Generation, Policy, SamplingOptions } from "../core/policy.js";
import { parseWith } from "../core/validation.js";
import {
  cutBeforeStop, HttpError, parseChatRequest, stopList, streamableLength, toChatMessages, toToolSchemas,
  type ChatRequest, type Usage,
} from "./protocol.js";

/** A policy whose sampler can be restarted from a seed (TfPolicy is one). */
export interface SeedablePolicy extends Policy {
  reseed(seed: number): void;
}

function isSeedable(policy: Policy): policy is SeedablePolicy {
  return typeof (policy as Partial<SeedablePolicy>).reseed === "function";
}

/** Options of {@link startChatServer}. */
export interface ChatServerOptions {
  /** The served models: model id (what clients send as `model`) -> policy. At least one. */
  models: Record<string, Policy>;
  /** The interface to listen on (default `127.0.0.1`, this machine only). */
  host?: string;
  /** The port (default 8000; 0 = any free port, see {@link ChatServer.port}). */
  port?: number;
  /** `max_tokens` when a request gives none; integer >= 1 (default 256; a policy may cap it at its context). */
  defaultMaxTokens?: number;
  /** When set, requests must send `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** The largest request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Receives one line per request (default: none). */
  log?: (line: string) => void;
}

/** A running server. */
export interface ChatServer {
  /** The API root to give clients, e.g. `http://127.0.0.1:8000/v1`. */
  readonly url: string;
  /** The port it listens on (the one chosen when 0 was asked for). */
  readonly port: number;
  /** The interface it listens on. */
  readonly host: string;
  /** Stops listening, ends open connections and resolves when closed. */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  models: z.record(z.string().min(1), z.custom<Policy>((p) => typeof (p as Policy)?.generate === "function", {
    error: "a Policy (an object with generate())",
  }), { error: "an object of model id -> Policy" }).refine((m) => Object.keys(m).length > 0, { error: "at least one model" }),
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535, { error: "a port in [0, 65535] (0 = any free port)" }).default(8000),
  defaultMaxTokens: z.number().int().min(1).default(256),
  apiKey: z.string().min(1).optional(),
  maxBodyBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
  log: z.custom<(line: string) => void>((f) => typeof f === "function").optional(),
});

type ResolvedOptions = z.output<typeof optionsSchema>;

const CREATED = Math.floor(Date.now() / 1000);

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `The request body is larger than ${maxBytes} bytes.`, { code: "request_too_large" });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "The request body is not valid JSON.", { code: "invalid_json" });
  }
}

function modelObject(id: string) {
  return { id, object: "model", created: CREATED, owned_by: "grpo-agent-framework" };
}

/** One model's request queue: generations run one at a time, in arrival order. */
class ModelSlot {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(readonly id: string, readonly policy: Policy) {}

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

class ChatHandler {
  private readonly slots = new Map<string, ModelSlot>();

  constructor(private readonly options: ResolvedOptions) {
    for (const [id, policy] of Object.entries(options.models)) this.slots.set(id, new ModelSlot(id, policy));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = url.pathname.replace(/\/+$/, "");
    this.options.log?.(`${req.method} ${route}`);
    this.checkAuth(req);
    if (route === "/v1/models") {
      this.allow(req, "GET");
      sendJson(res, 200, { object: "list", data: [...this.slots.keys()].map(modelObject) });
      return;
    }
    if (route.startsWith("/v1/models/")) {
      this.allow(req, "GET");
      const id = decodeURIComponent(route.slice("/v1/models/".length));
      this.slot(id, null);
      sendJson(res, 200, modelObject(id));
      return;
    }
    if (route === "/v1/chat/completions") {
      this.allow(req, "POST");
      const request = parseChatRequest(await readJson(req, this.options.maxBodyBytes));
      await this.complete(request, req, res);
      return;
    }
    throw new HttpError(404, `Unknown route ${req.method} ${url.pathname}: this server offers GET /v1/models and POST /v1/chat/completions.`, {
      code: "unknown_url",
    });
  }

  private checkAuth(req: IncomingMessage): void {
    if (this.options.apiKey === undefined) return;
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      throw new HttpError(401, "Missing or wrong API key: send `Authorization: Bearer <key>`.", { type: "authentication_error", code: "invalid_api_key" });
    }
  }

  private allow(req: IncomingMessage, method: string): void {
    if (req.method !== method) throw new HttpError(405, `Use ${method} for this route.`, { code: "method_not_allowed" });
  }

  private slot(id: string, param: string | null): ModelSlot {
    const slot = this.slots.get(id);
    if (slot === undefined) {
      throw new HttpError(404, `The model \`${id}\` does not exist here; served: ${[...this.slots.keys()].join(", ")}.`, {
        param, code: "model_not_found",
      });
    }
    return slot;
  }

  private async complete(request: ChatRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const slot = this.slot(request.model, "model");
    const n = request.n ?? 1;
    const messages = toChatMessages(request);
    const stops = stopList(request);
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const sampling: SamplingOptions = {
      temperature: request.temperature ?? 1,
      topP: request.top_p ?? 1,
      topK: request.top_k ?? 0,
      maxNewTokens: request.max_completion_tokens ?? request.max_tokens ?? this.options.defaultMaxTokens,
      signal: abort.signal,
    };
    if (stops.length > 0) sampling.stop = stops;
    const tools = toToolSchemas(request);
    if (tools !== undefined) sampling.tools = tools;

    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const stream = request.stream === true ? new ChunkStream(res, { id, created, model: slot.id }, n, stops) : undefined;
    if (stream !== undefined) sampling.onText = (index, text) => stream.text(index, text);

    const generations = await slot.run(async () => {
      if (abort.signal.aborted) return undefined;
      if (request.seed !== undefined && request.seed !== null && isSeedable(slot.policy)) slot.policy.reseed(request.seed);
      return slot.policy.generate(Array.from({ length: n }, () => messages), sampling);
    }).catch((error: unknown) => {
      if (abort.signal.aborted) return undefined;
      throw error;
    });
    if (generations === undefined) return; // the client went away
    const choices = generations.map((g) => finishedChoice(g, stops));
    const usage = usageOf(generations);
    if (stream !== undefined) {
      stream.finish(choices, request.stream_options?.include_usage === true ? usage : undefined);
      return;
    }
    sendJson(res, 200, {
      id, object: "chat.completion", created, model: slot.id,
      choices: choices.map((c, index) => ({
        index, message: { role: "assistant", content: c.text }, logprobs: null, finish_reason: c.finishReason,
      })),
      usage,
    });
  }
}

interface FinishedChoice {
  text: string;
  finishReason: "stop" | "length";
}

function finishedChoice(generation: Generation, stops: readonly string[]): FinishedChoice {
  const cut = cutBeforeStop(generation.text, stops);
  return { text: cut.text, finishReason: cut.stopped ? "stop" : generation.finishReason };
}

function usageOf(generations: Generation[]): Usage {
  const prompt = generations[0]?.promptTokenIds.length ?? 0;
  const completion = generations.reduce((sum, g) => sum + g.tokenIds.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Server-sent events in OpenAI's `chat.completion.chunk` format, one growing text per choice. */
class ChunkStream {
  private readonly sent: number[];
  private started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly head: { id: string; created: number; model: string },
    n: number,
    private readonly stops: readonly string[],
  ) {
    this.sent = new Array<number>(n).fill(0);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    this.sent.forEach((_, index) => this.chunk([{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]));
  }

  private chunk(choices: unknown[], usage?: Usage): void {
    const body: Record<string, unknown> = { ...this.head, object: "chat.completion.chunk", choices };
    if (usage !== undefined) body.usage = usage;
    this.res.write(`data: ${JSON.stringify(body)}\n\n`);
  }

  /** Choice `index` has grown to `text` (the policy's text so far, stop strings included). */
  text(index: number, text: string): void {
    this.start();
    this.send(index, text, streamableLength(text, this.stops));
  }

  private send(index: number, text: string, upTo: number): void {
    if (upTo <= this.sent[index]) return;
    const delta = text.slice(this.sent[index], upTo);
    this.sent[index] = upTo;
    this.chunk([{ index, delta: { content: delta }, logprobs: null, finish_reason: null }]);
  }

  /** Sends what is left of each choice, the finish reasons, the usage when asked for, and `[DONE]`. */
  finish(choices: FinishedChoice[], usage: Usage | undefined): void {
    this.start();
    choices.forEach((c, index) => {
      this.send(index, c.text, c.text.length);
      this.chunk([{ index, delta: {}, logprobs: null, finish_reason: c.finishReason }]);
    });
    if (usage !== undefined) this.chunk([], usage);
    this.res.end("data: [DONE]\n\n");
  }
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof GrpoError && (error.code === "invalid_argument" || error.code === "invalid_config")) {
    return new HttpError(400, error.message, { code: error.code });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError(500, `The model failed: ${message}`, { code: "internal_error" });
}

/**
 * Starts an OpenAI-compatible server for `options.models` and resolves once it listens. Point any
 * OpenAI client at `server.url` (`new OpenAI({ baseURL: server.url, apiKey: "unused" })`).
 */
export async function startChatServer(options: ChatServerOptions): Promise<ChatServer> {
  const opts = parseWith(optionsSchema, options ?? {}, {
    root: "startChatServer",
    code: "invalid_config",
    fix: 'pass e.g. `{ models: { "tiny-chat": policy }, port: 8000 }`.',
  });
  const handler = new ChatHandler(opts);
  const server: Server = createServer((req, res) => {
    handler.handle(req, res).catch((error: unknown) => {
      const http = toHttpError(error);
      if (http.status >= 500) opts.log?.(`error: ${http.message}`);
      if (res.headersSent) {
        // Mid-stream: OpenAI's clients read an `error` event and raise it.
        if (!res.writableEnded) res.end(`data: ${JSON.stringify(http.body())}\n\n`);
        return;
      }
      sendJson(res, http.status, http.body());
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new GrpoError("invalid_argument", `Cannot listen on ${opts.host}:${opts.port}: ${error.message}`, {
        field: "port",
        value: opts.port,
        fix: error.code === "EADDRINUSE" ? "pick another port (`--port 8001`), or 0 for any free port." : "check the host and port.",
        cause: error,
      }));
    };
    server.once("error", onError);
    server.listen(opts.port, opts.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostForUrl}:${address.port}/v1`,
    port: address.port,
    host: address.address,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    }),
  };
}
