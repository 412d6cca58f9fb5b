/**
 * Lets `agent.initialize()` resolve `modelName: "openai:<model>"` to a {@link RemotePolicy}; every
 * other name goes to the resolver that was registered before (the TensorFlow.js one).
 */
import { getPolicyResolver, setPolicyResolver, type AgentConfig, type PolicyResolver } from "../core/agent.js";
import { parseRemoteModelName, RemotePolicy, type RemoteEndpointOptions } from "./policy.js";

let defaults: RemoteEndpointOptions = {};
let fallback: PolicyResolver | undefined;

const remoteResolver: PolicyResolver = async (config: AgentConfig) => {
  const model = parseRemoteModelName(config.modelName);
  if (model !== undefined) {
    return new RemotePolicy({ ...defaults, model, ...(config.seed !== undefined ? { seed: config.seed } : {}) });
  }
  return fallback?.(config);
};

/**
 * Registers remote models (`openai:<model>`) in front of the current policy resolver (done when the
 * package is imported). `endpoint` sets the defaults of every remote agent resolved afterwards
 * (`baseURL`, `apiKey`, `timeoutMs`, `maxRetries`; unset ones come from OPENAI_BASE_URL and
 * OPENAI_API_KEY). Calling it again only replaces those defaults.
 */
export function registerRemotePolicyResolver(endpoint: RemoteEndpointOptions = {}): void {
  defaults = { ...endpoint };
  const current = getPolicyResolver();
  if (current === remoteResolver) return;
  fallback = current;
  setPolicyResolver(remoteResolver);
}
