/**
 * The episode runner: plays an agent against an environment and records the trajectory.
 *
 *   reset(scenario) -> [system, user: initial prompt]
 *   loop: agent.respond(history, user text, context) -> env.step(state, action) -> user reply
 *   until the environment says done or `maxTurns` actions were taken
 *   -> MultiTurnTrajectory (-> reward function, when given)
 *
 * Seeds follow the episode, not the batch: each episode has its own seed (given, or drawn from the
 * agent's policy with `policy.forkSeed()` when the episode starts), and the k-th generate call of
 * the episode samples with `deriveSeed(episodeSeed, k)` (a {@link SeedStream} passed to the agent).
 * So an episode's samples do not depend on which episodes its turns are batched with, on how a
 * batch is split across workers, or on timing.
 */
import { GrpoError, throwIfAborted } from "./errors.js";
import type { Agent, TurnOptions } from "./agent.js";
import type { Environment, EnvironmentState, Scenario } from "./environment.js";
import { ConversationTurn, EpisodeStatus, MultiTurnTrajectory } from "./trajectory.js";
import { scoreTrajectory, type RewardFunction } from "./reward.js";
import { deriveSeed, SeedStream } from "./rng.js";

/** Options of {@link runEpisode}. */
export interface EpisodeOptions {
  /** The scenario to play (default: the environment's own default, `reset()` without one). */
  scenario?: Scenario;
  /** Scores the finished trajectory (`totalReward`, `rewardBreakdown`, per-turn rewards). */
  reward?: RewardFunction;
  /** Stops the episode between turns (and generation between tokens) with an "aborted" error. */
  signal?: AbortSignal;
  /** Overrides a ToolAgent's `maxToolRounds` for every response of the episode. */
  maxToolRounds?: number;
  /** Milliseconds the reward function may take (default: no limit). */
  rewardTimeoutMs?: number;
  /**
   * The episode's sampling seed: its k-th generate call samples with `deriveSeed(seed, k)`. Default:
   * drawn from the agent's policy (`policy.forkSeed()`, one draw of its RNG) as the episode starts;
   * none when the policy has no `forkSeed` (each call then samples from the policy's own RNG).
   */
  seed?: number;
}

/** The episode's seed: the given one, else one drawn from the agent's policy, else none. */
function episodeSeed(agent: Agent, seed: number | undefined): number | undefined {
  if (seed !== undefined) return seed;
  const policy = agent.policy;
  return typeof policy?.forkSeed === "function" ? policy.forkSeed() : undefined;
}

function lastAssistantTurn(turns: ConversationTurn[]): ConversationTurn | undefined {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === "assistant") return turns[i];
  return undefined;
}

function stepFailed(what: string, scenarioId: string, turn: number, error: unknown): GrpoError {
  const message = error instanceof Error ? error.message : String(error);
  return new GrpoError("episode_failed", `${what} failed in scenario "${scenarioId}" at agent turn ${turn}: ${message}`, {
    fix: "see the attached `cause` for the original error.",
    cause: error,
  });
}

/** Checks what a custom environment's `step` returned, so a wrong shape fails with a clear message. */
function checkStepResult(result: unknown, envName: string): asserts result is {
  state: EnvironmentState;
  response: ConversationTurn | null;
  reward: number;
  done: boolean;
} {
  const r = result as Record<string, unknown> | null;
  const fail = (field: string, expected: string, value: unknown) => {
    throw new GrpoError("invalid_argument", `${envName}.step returned an invalid result.`, {
      field: `${envName}.step() -> ${field}`,
      value,
      expected,
      fix: "return `{ state, response, reward, done }` from step().",
    });
  };
  if (r === null || typeof r !== "object" || Array.isArray(r)) return fail("result", "{ state, response, reward, done }", r);
  if (r.state === null || typeof r.state !== "object") fail("state", "an EnvironmentState", r.state);
  if (r.response !== null && r.response !== undefined && !(r.response instanceof ConversationTurn)) {
    fail("response", "a ConversationTurn or null", r.response);
  }
  if (typeof r.reward !== "number" || !Number.isFinite(r.reward)) fail("reward", "a finite number", r.reward);
  if (typeof r.done !== "boolean") fail("done", "true or false", r.done);
}

/**
 * Plays one episode and returns its trajectory.
 *
 * The turns are: a system turn (the agent's system prompt, when non-empty), the user's initial
 * prompt, then for each step the agent's turns (`agent.respond`, tool rounds included), and the
 * environment's reply when it gives one. The final assistant turn of each response is the action
 * passed to `env.step`; its `reward` is set to the step reward. The episode ends when `step` says
 * done, or after `environment.maxTurns` actions (status TRUNCATED, enforced even when a custom
 * environment never says done). A done episode whose state is still ONGOING is marked COMPLETED.
 *
 * The trajectory has `scenarioId` (the scenario's id, else `context.scenarioId`, else "default"),
 * `turnRewards` = the step rewards, `totalReward` = their sum, the state's status, and metadata
 * `{ scenario, context (final state context), episodeId, success (when context.success is boolean) }`.
 * With `reward`, `scoreTrajectory(reward, trajectory, context)` runs last and overwrites
 * `totalReward`/`rewardBreakdown` (and the per-turn rewards when it gives them).
 */
export async function runEpisode(
  agent: Agent,
  environment: Environment,
  options: EpisodeOptions = {},
): Promise<MultiTurnTrajectory> {
  const { scenario, reward, signal } = options;
  const envName = environment?.constructor?.name ?? "Environment";
  throwIfAborted(signal, "The episode");
  // Drawn before the first await, so concurrent episodes draw in the order they were started.
  const seed = episodeSeed(agent, options.seed);

  let state = await environment.reset(scenario);
  const scenarioId =
    scenario?.id ?? (typeof state.context?.scenarioId === "string" ? state.context.scenarioId : "default");
  const initialPrompt = await environment.getInitialPrompt(scenario);
  const turns: ConversationTurn[] = [];
  if (agent.config.systemPrompt !== "") {
    turns.push(new ConversationTurn({ role: "system", content: agent.config.systemPrompt }));
  }
  turns.push(new ConversationTurn({ role: "user", content: initialPrompt }));

  const turnOptions: TurnOptions = {};
  if (signal !== undefined) turnOptions.signal = signal;
  if (options.maxToolRounds !== undefined) turnOptions.maxToolRounds = options.maxToolRounds;
  if (seed !== undefined) turnOptions.seeds = new SeedStream(seed);
  let userText: string | undefined = initialPrompt;
  const turnRewards: number[] = [];
  let finished = false;
  while (!finished) {
    throwIfAborted(signal, "The episode");
    const turnNumber = state.turnCount + 1;
    let produced: ConversationTurn[];
    try {
      produced = await agent.respond([...turns], userText, state.context, turnOptions);
    } catch (error) {
      if (error instanceof GrpoError) throw error;
      throw stepFailed(`${agent.constructor.name}.respond`, scenarioId, turnNumber, error);
    }
    const action = Array.isArray(produced) ? lastAssistantTurn(produced) : undefined;
    if (action === undefined) {
      throw new GrpoError("episode_failed", `${agent.constructor.name}.respond returned no assistant turn.`, {
        field: "respond()",
        value: produced,
        expected: "an array of turns ending with the agent's assistant turn",
      });
    }
    turns.push(...produced);
    throwIfAborted(signal, "The episode");

    let result: unknown;
    try {
      result = await environment.step(state, action);
    } catch (error) {
      if (error instanceof GrpoError) throw error;
      throw stepFailed(`${envName}.step`, scenarioId, turnNumber, error);
    }
    checkStepResult(result, envName);
    state = result.state;
    action.reward = result.reward;
    turnRewards.push(result.reward);
    userText = undefined;
    if (result.response) {
      turns.push(result.response);
      if (result.response.role === "user") userText = result.response.content;
    }
    if (result.done) {
      if (state.status === EpisodeStatus.ONGOING) state.status = EpisodeStatus.COMPLETED;
      finished = true;
    } else if (state.turnCount >= environment.maxTurns) {
      state.status = EpisodeStatus.TRUNCATED;
      finished = true;
    } else if (turnRewards.length >= environment.maxTurns) {
      // An environment that never counts turns still cannot run forever.
      state.status = EpisodeStatus.TRUNCATED;
      finished = true;
    }
  }

  const context = state.context ?? {};
  const metadata: Record<string, unknown> = { scenario, context, episodeId: state.episodeId };
  if (typeof context.success === "boolean") metadata.success = context.success;
  const trajectory = new MultiTurnTrajectory({
    scenarioId,
    turns,
    turnRewards,
    totalReward: turnRewards.reduce((a, b) => a + b, 0),
    metadata,
    status: state.status,
  });
  if (reward !== undefined) {
    await scoreTrajectory(reward, trajectory, context, { timeoutMs: options.rewardTimeoutMs });
  }
  return trajectory;
}

/**
 * Plays one episode per scenario, all at once (Promise.all), so that a batching policy can sample
 * their turns together. Resolves to the trajectories in scenario order; rejects on the first failure.
 *
 * Episode i's seed is `deriveSeed(options.seed, i)` when `seed` is given, else drawn from the
 * agent's policy (`policy.forkSeed()`) in scenario order before any episode runs.
 */
export async function runEpisodes(
  agent: Agent,
  environment: Environment,
  scenarios: readonly Scenario[],
  options: Omit<EpisodeOptions, "scenario"> = {},
): Promise<MultiTurnTrajectory[]> {
  const base = options.seed;
  const seeds = scenarios.map((_, i) => (base === undefined ? episodeSeed(agent, undefined) : deriveSeed(base, i)));
  return Promise.all(scenarios.map((scenario, i) => {
    const episode: EpisodeOptions = { ...options, scenario };
    delete episode.seed;
    if (seeds[i] !== undefined) episode.seed = seeds[i];
    return runEpisode(agent, environment, episode);
  }));
}
