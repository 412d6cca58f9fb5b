/**
 * `grpo serve`: serves a model at an OpenAI-compatible endpoint, so any OpenAI client (and our own
 * remote models, `openai:<id>`) can talk to it.
 *
 *   grpo serve --model builtin:tiny-chat                     # http://127.0.0.1:8000/v1
 *   grpo serve --model runs/a --port 8001                     # the newest checkpoint of a run
 *   grpo serve --model ./my-gpt2-folder --served-model-name my-model --host 0.0.0.0
 *
 * Ctrl-C (SIGINT) or SIGTERM closes the server.
 */
import type { Command } from "commander";
import { GrpoError } from "../core/errors.js";
import { integerOption } from "./options.js";
import type { Policy } from "../core/policy.js";
import { loadPolicy } from "../model/registry.js";
import { isRemoteModelName } from "../remote/policy.js";
import { startChatServer, type ChatServer } from "../server/openai-server.js";
import { folderKind } from "../training/checkpoints.js";
import { loadAgentFromCheckpoint } from "../training/trainer.js";

/** The flags of `grpo serve`. */
export interface ServeCommandOptions {
  model: string;
  port: number;
  host: string;
  servedModelName?: string;
  seed?: number;
  maxTokens?: number;
}

/** Loads `model`: a training checkpoint or run folder (its trained weights), `builtin:<name>`, or a model folder. */
export async function loadServedPolicy(model: string, seed?: number): Promise<Policy> {
  if (isRemoteModelName(model)) {
    throw new GrpoError("invalid_argument", "grpo serve serves local models, not remote ones.", {
      field: "--model",
      value: model,
      expected: "builtin:<name>, a local HF GPT-2 folder, or a checkpoint / run folder",
      fix: "point your client at the remote endpoint itself.",
    });
  }
  if ((await folderKind(model)) !== "other") {
    const agent = await loadAgentFromCheckpoint(model);
    if (agent.policy === undefined) throw new GrpoError("checkpoint_invalid", `The checkpoint ${model} has no model.`);
    if (seed !== undefined && "reseed" in agent.policy && typeof agent.policy.reseed === "function") agent.policy.reseed(seed);
    return agent.policy;
  }
  return loadPolicy(model, seed !== undefined ? { seed } : {});
}

/** Loads the model and starts the server; resolves to the running server. */
export async function serveCommand(options: ServeCommandOptions, log: (line: string) => void = console.log): Promise<ChatServer> {
  const policy = await loadServedPolicy(options.model, options.seed);
  const id = options.servedModelName ?? options.model;
  const server = await startChatServer({
    models: { [id]: policy },
    host: options.host,
    port: options.port,
    ...(options.maxTokens !== undefined ? { defaultMaxTokens: options.maxTokens } : {}),
  });
  log(`Serving "${id}" at ${server.url} (POST /chat/completions, GET /models). Ctrl-C stops.`);
  log(`  OPENAI_BASE_URL=${server.url} and modelName "openai:${id}" use it from this library.`);
  return server;
}

/** Adds `serve` to the `grpo` program. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve a model at an OpenAI-compatible endpoint (/v1/chat/completions with streaming, /v1/models)")
    .requiredOption("--model <name|dir>", "builtin:<name>, a local HF GPT-2 folder, or a checkpoint / run folder")
    .option("--port <n>", "port (0 = any free port)", integerOption("--port", 0, 65535), 8000)
    .option("--host <address>", "interface to listen on (0.0.0.0 = every interface)", "127.0.0.1")
    .option("--served-model-name <id>", "the model id clients send (default: the --model value)")
    .option("--seed <n>", "seed of the sampler", integerOption("--seed", 0, Number.MAX_SAFE_INTEGER))
    .option("--max-tokens <n>", "max_tokens when a request gives none (default 256)", integerOption("--max-tokens", 1, 1_000_000))
    .action(async (opts: ServeCommandOptions) => {
      const server = await serveCommand(opts);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          server.close().then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
