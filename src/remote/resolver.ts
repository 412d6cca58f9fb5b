/**
 * How `modelName: "openai:<model>"` becomes a {@link RemotePolicy}: the model registry's resolver
 * (src/model/registry.ts) asks {@link resolveRemotePolicy} first, with the endpoint defaults set by
 * {@link configureRemoteModels} (else OPENAI_BASE_URL / OPENAI_API_KEY).
 */
import type { AgentConfig } from "../core/agent.js";
import { parseRemoteModelName, RemotePolicy, type RemoteEndpointOptions } from "./policy.js";

let defaults: RemoteEndpointOptions = {};

/**
 * Sets the endpoint of every `openai:<model>` agent resolved from now on (`baseURL`, `apiKey`,
 * `timeoutMs`, `maxRetries`); what is left unset comes from OPENAI_BASE_URL and OPENAI_API_KEY.
 * Call with no argument to go back to the environment alone.
 */
export function configureRemoteModels(endpoint: RemoteEndpointOptions = {}): void {
  defaults = { ...endpoint };
}

/** A RemotePolicy for an `openai:<model>` config (its `seed` is sent with each request), or undefined for other names. */
export function resolveRemotePolicy(config: Pick<AgentConfig, "modelName" | "seed">): RemotePolicy | undefined {
  const model = parseRemoteModelName(config.modelName);
  if (model === undefined) return undefined;
  return new RemotePolicy({ ...defaults, model, ...(config.seed !== undefined ? { seed: config.seed } : {}) });
}
