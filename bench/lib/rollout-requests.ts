// One round of the `bench:distributed` workload (quick-start episodes on builtin:tiny-chat), sampled
// locally once while every sampling request is recorded: bench:decode and bench:cores replay them.
import { EXAMPLES } from "../../examples/index.js";
import { runEpisodes } from "../../src/core/episode.js";
import { sampleLocally, type SampleRequest, type TfPolicy } from "../../src/model/policy.js";

/** The quick-start agent's policy and the sampling requests of one round of `episodes` episodes. */
export async function captureRolloutRequests(episodes = 32, maxNewTokens = 48): Promise<{ policy: TfPolicy; requests: SampleRequest[] }> {
  const spec = EXAMPLES.quick_start.spec({ modelName: "builtin:tiny-chat" });
  spec.agent.config.maxNewTokens = maxNewTokens;
  await spec.agent.initialize();
  const policy = (spec.agent as unknown as { policy: TfPolicy }).policy;
  const requests: SampleRequest[] = [];
  policy.sampler = async (request) => {
    requests.push(structuredClone(request));
    return sampleLocally(policy.model, policy.tokenizer, request);
  };
  const scenarios = spec.environment.scenarios();
  try {
    await runEpisodes(spec.agent, spec.environment, Array.from({ length: episodes }, (_, i) => scenarios[i % scenarios.length]), { reward: spec.reward });
  } finally {
    policy.sampler = undefined;
  }
  return { policy, requests };
}
