/**
 * LLMJudgeReward: another model reads the conversation and scores the assistant against a rubric.
 *
 * The judge is any {@link Policy} (a remote `openai:<model>` one, a local TfPolicy, a test double),
 * an initialized agent, or a model name resolved like an agent's. Its answer is parsed robustly
 * ({@link parseJudgeScore}); a request that fails, times out or answers something unreadable is
 * retried with exponential backoff, and after the last try the reward fails with a clear error
 * instead of inventing a score.
 */
import { z } from "zod";
import { Agent, getPolicyResolver, resolveAgentConfig } from "../agent.js";
import { AbortedError, GrpoError, describeValue } from "../errors.js";
import type { ChatMessage, Policy } from "../policy.js";
import {
  RewardFunction, RewardType, parseRewardOptions, rewardFunctionOptionsSchema,
  type RewardContext, type RewardFunctionOptions, type RewardResult,
} from "../reward.js";
import type { ConversationTurn } from "../trajectory.js";

/** Options of {@link LLMJudgeReward}. */
export interface LLMJudgeRewardOptions extends RewardFunctionOptions {
  /** What a good assistant does, in plain words; the judge scores against it. Non-empty. */
  rubric: string;
  /**
   * Who judges: a Policy, an initialized Agent (its policy), or a model name resolved like an agent's
   * (`"openai:gpt-4o-mini"`, `"builtin:tiny-chat"`, a folder), loaded on first use.
   */
  judge: Policy | Agent | string;
  /** The top of the score scale the judge is asked to use ("Score: N/scale"); integer >= 1 (default 10). */
  scale?: number;
  /** Further tries after a failed, timed-out or unreadable answer; integer >= 0 (default 3). */
  maxRetries?: number;
  /** The wait before the first retry in ms, doubled (× `backoffFactor`) before each next one; >= 0 (default 500). */
  backoffMs?: number;
  /** Growth of the wait between retries; >= 1 (default 2). */
  backoffFactor?: number;
  /** The longest wait between retries in ms (default 10000). */
  maxBackoffMs?: number;
  /** Milliseconds one judge request may take, > 0 (default 30000). */
  timeoutMs?: number;
  /** Sampling temperature of the judge, >= 0 (default 0: the most likely answer). */
  temperature?: number;
  /** The most tokens the judge may write per answer; integer >= 1 (default 256). */
  maxTokens?: number;
}

const optionsSchema = rewardFunctionOptionsSchema
  .extend({
    rubric: z.string({ error: "a rubric text" }).trim().min(1, { error: "a non-empty rubric" }),
    judge: z.custom<Policy | Agent | string>(
      (v) => (typeof v === "string" && v.length > 0) || v instanceof Agent || typeof (v as Policy | null)?.generate === "function",
      { error: 'a Policy, an Agent, or a model name such as "openai:gpt-4o-mini"' },
    ),
    scale: z.number().int().min(1).optional(),
    maxRetries: z.number().int().min(0).optional(),
    backoffMs: z.number().min(0).optional(),
    backoffFactor: z.number().min(1).optional(),
    maxBackoffMs: z.number().min(0).optional(),
    timeoutMs: z.number().positive().optional(),
    temperature: z.number().min(0).optional(),
    maxTokens: z.number().int().min(1).optional(),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Reading a score out of the judge's answer

/** What {@link parseJudgeScore} found: a score in [0, 1] and the text it was read from, or why there is none. */
export type JudgeScoreParse = { ok: true; score: number; matched: string } | { ok: false; reason: string };

const NUMBER = String.raw`[-+]?\d+(?:\.\d+)?`;
const RATIO = new RegExp(String.raw`(${NUMBER})\s*(?:\/|out\s+of)\s*(${NUMBER})`, "gi");
const PERCENT = new RegExp(String.raw`(${NUMBER})\s*%`, "g");
const LABELLED = new RegExp(
  String.raw`\b(?:score|rating|grade)\b[*_\s]*(?:is|of|[:=])?[*_\s:=]*(${NUMBER})\s*(?:(?:\/|out\s+of)\s*(${NUMBER})|(%))?`,
  "gi",
);
const SCORE_KEYS = ["score", "rating", "grade"];

/**
 * A bare number on the requested scale: an integer n means n/scale; a number written with a decimal
 * point in [0, 1] is already a fraction (0.7, 1.0); another decimal is on the scale (7.5 -> 0.75).
 */
function onScale(text: string, scale: number): number {
  const value = Number(text);
  if (text.includes(".") && value >= 0 && value <= 1) return value;
  return value / scale;
}

function checked(value: number, matched: string): JudgeScoreParse {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    return { ok: false, reason: `the score in "${matched}" is outside the scale` };
  }
  return { ok: true, score: value, matched };
}

function ratio(numerator: string, denominator: string, matched: string): JudgeScoreParse {
  const d = Number(denominator);
  if (!(d > 0)) return { ok: false, reason: `"${matched}" divides by ${denominator}` };
  return checked(Number(numerator) / d, matched);
}

function fromJson(text: string, scale: number): JudgeScoreParse | undefined {
  for (const candidate of text.match(/\{[^{}]*\}/g) ?? []) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    if (parsed === null || typeof parsed !== "object") continue;
    const entry = Object.entries(parsed as Record<string, unknown>).find(([k]) => SCORE_KEYS.includes(k.toLowerCase()));
    if (entry === undefined) continue;
    const raw = entry[1];
    if (typeof raw === "number") return checked(onScale(String(raw), scale), candidate);
    if (typeof raw === "string") return parseJudgeScore(raw, { scale });
    return { ok: false, reason: `"${entry[0]}" in ${candidate} is not a number` };
  }
  return undefined;
}

/** The one value all `matches` agree on, or undefined when there are none or they disagree. */
function agreed(values: JudgeScoreParse[]): JudgeScoreParse | undefined {
  const good = values.filter((v): v is Extract<JudgeScoreParse, { ok: true }> => v.ok);
  if (good.length === 0) return values[values.length - 1];
  return good.every((v) => v.score === good[0].score) ? good[good.length - 1] : undefined;
}

/**
 * Reads a judge's answer as a score in [0, 1], trying in order:
 *
 * 1. a JSON object with a `score` (or `rating`, `grade`) field: `{"score": 7}`, `{"score": 0.7}`;
 * 2. a labelled score, the last one if several (the final verdict after reasoning): `Score: 7/10`,
 *    `**Rating:** 8 out of 10`, `score = 0.85`, `Score: 70%`;
 * 3. a ratio (`7/10`, `3 out of 5`) or a percentage, if every one in the text agrees;
 * 4. the whole answer being one number (`7`, `0.7`, `7.5`).
 *
 * Bare numbers are on `scale` (default 10): integers and decimals above 1 are divided by it, a
 * decimal in [0, 1] is taken as the fraction itself. Anything else (no number, several different
 * ratios, a score outside its scale) is `{ ok: false, reason }`.
 */
export function parseJudgeScore(answer: string, options: { scale?: number } = {}): JudgeScoreParse {
  const scale = options.scale ?? 10;
  const text = answer.trim();
  if (text === "") return { ok: false, reason: "the answer is empty" };
  const json = fromJson(text, scale);
  if (json !== undefined) return json;

  const labelled = [...text.matchAll(LABELLED)];
  if (labelled.length > 0) {
    const m = labelled[labelled.length - 1];
    if (m[2] !== undefined) return ratio(m[1], m[2], m[0].trim());
    if (m[3] !== undefined) return checked(Number(m[1]) / 100, m[0].trim());
    return checked(onScale(m[1], scale), m[0].trim());
  }
  const ratios = [...text.matchAll(RATIO)].map((m) => ratio(m[1], m[2], m[0]));
  const percents = [...text.matchAll(PERCENT)].map((m) => checked(Number(m[1]) / 100, m[0]));
  if (ratios.length + percents.length > 0) {
    return agreed([...ratios, ...percents]) ?? { ok: false, reason: "it gives several different scores" };
  }
  const bare = /^([-+]?\d+(?:\.\d+)?)\s*\.?$/.exec(text);
  if (bare) return checked(onScale(bare[1], scale), bare[1]);
  return { ok: false, reason: "it contains no score" };
}

// ---------------------------------------------------------------------------------------------
// The reward

/** The conversation as the judge reads it: one `[role] text` block per turn (system turns left out). */
export function renderTranscript(turns: ConversationTurn[]): string {
  return turns
    .filter((t) => t.role !== "system")
    .map((t) => `[${t.role}] ${t.content}`)
    .join("\n\n");
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** One failed try, for the final error. */
interface FailedTry {
  attempt: number;
  problem: string;
}

/**
 * Scores an episode with a judge model and a rubric: the judge gets the rubric (system message) and
 * the transcript (user message), and is asked for brief reasoning and a final `Score: N/10` line.
 * The answer is read with {@link parseJudgeScore}.
 *
 * Tries: `1 + maxRetries`, each limited to `timeoutMs`. After try k fails (error, timeout or no
 * readable score) it waits `min(backoffMs · backoffFactor^(k−1), maxBackoffMs)` ms; a retry after
 * an unreadable answer shows the judge its answer and asks again for the score line. When every try
 * fails the reward throws a GrpoError `reward_failed` listing what each try got.
 *
 * Score: the judge's score in [0, 1]. Breakdown: `{ judge: score }`. Metadata: `answer` (the judge's
 * text), `attempts`, `matched` (the part the score was read from).
 */
export class LLMJudgeReward extends RewardFunction {
  /** The rubric the judge scores against. */
  readonly rubric: string;
  /** The top of the score scale asked for. */
  readonly scale: number;
  /** Further tries after a failure. */
  readonly maxRetries: number;
  /** The first wait between tries, in ms. */
  readonly backoffMs: number;
  /** Growth of the wait between tries. */
  readonly backoffFactor: number;
  /** The longest wait between tries, in ms. */
  readonly maxBackoffMs: number;
  /** Milliseconds one judge request may take. */
  readonly timeoutMs: number;
  /** The judge's sampling temperature. */
  readonly temperature: number;
  /** The most tokens per judge answer. */
  readonly maxTokens: number;
  private readonly judgeSource: Policy | Agent | string;
  private judgePolicy?: Promise<Policy>;

  constructor(options: LLMJudgeRewardOptions) {
    const parsed = parseRewardOptions(optionsSchema, options, "LLMJudgeReward",
      '{ rubric: "Helpful, correct and polite.", judge: "openai:gpt-4o-mini" }');
    super({ weight: parsed.weight, name: parsed.name ?? "llm_judge", rewardType: parsed.rewardType ?? RewardType.SPARSE });
    this.rubric = parsed.rubric;
    this.judgeSource = parsed.judge;
    this.scale = parsed.scale ?? 10;
    this.maxRetries = parsed.maxRetries ?? 3;
    this.backoffMs = parsed.backoffMs ?? 500;
    this.backoffFactor = parsed.backoffFactor ?? 2;
    this.maxBackoffMs = parsed.maxBackoffMs ?? 10_000;
    this.timeoutMs = parsed.timeoutMs ?? 30_000;
    this.temperature = parsed.temperature ?? 0;
    this.maxTokens = parsed.maxTokens ?? 256;
  }

  /** The wait in ms after failed try `attempt` (1-based). */
  backoffAfter(attempt: number): number {
    return Math.min(this.backoffMs * this.backoffFactor ** (attempt - 1), this.maxBackoffMs);
  }

  /** The messages the judge reads for `turns`. */
  judgeMessages(turns: ConversationTurn[], context?: RewardContext): ChatMessage[] {
    const system =
      "You are an impartial judge of a conversation between a user and an AI assistant. " +
      `Score the assistant's replies against this rubric:\n\n${this.rubric}\n\n` +
      "Give at most two sentences of reasoning, then a final line of the form " +
      `"Score: N/${this.scale}", where N is a whole number from 0 (worst) to ${this.scale} (best).`;
    const reference = context?.groundTruth ?? context?.expectedAnswer;
    const refText = typeof reference === "string" || typeof reference === "number" ? `\n\nReference answer: ${reference}` : "";
    return [
      { role: "system", content: system },
      { role: "user", content: `The conversation:\n\n${renderTranscript(turns)}${refText}\n\nYour verdict:` },
    ];
  }

  private policy(): Promise<Policy> {
    this.judgePolicy ??= (async () => {
      const source = this.judgeSource;
      if (typeof source !== "string") {
        if (!(source instanceof Agent)) return source;
        if (!source.isInitialized) await source.initialize();
        return source.policy as Policy;
      }
      const resolver = getPolicyResolver();
      const policy = resolver === undefined ? undefined : await resolver(resolveAgentConfig({ modelName: source }));
      if (policy === null || policy === undefined) {
        throw new GrpoError("model_not_found", `Cannot load the judge model "${source}".`, {
          field: "LLMJudgeReward.judge",
          value: source,
          expected: '"openai:<model>", "builtin:<name>" or a local model folder',
          fix: "import the package (it registers the model loaders) or pass a Policy.",
        });
      }
      return policy;
    })();
    this.judgePolicy.catch(() => { this.judgePolicy = undefined; });
    return this.judgePolicy;
  }

  /** One judge request, limited to `timeoutMs` (the policy gets an AbortSignal too). */
  private async ask(policy: Policy, messages: ChatMessage[]): Promise<string> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      const running = policy.generate([messages], {
        temperature: this.temperature, topP: 1, topK: 0, maxNewTokens: this.maxTokens, signal: controller.signal,
      });
      const generations = await Promise.race([running, timeout]);
      const text = generations?.[0]?.text;
      if (typeof text !== "string") throw new Error(`the judge policy returned ${describeValue(generations)}`);
      return text;
    } catch (error) {
      if (controller.signal.aborted) throw new Error(`no answer within ${this.timeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the judge (with retries) and returns its score in [0, 1]. */
  override async computeReward(turns: ConversationTurn[], context?: RewardContext): Promise<RewardResult> {
    const policy = await this.policy();
    const base = this.judgeMessages(turns, context);
    let messages = base;
    const failures: FailedTry[] = [];
    const attempts = this.maxRetries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let answer: string;
      try {
        answer = await this.ask(policy, messages);
      } catch (error) {
        if (error instanceof AbortedError) throw error;
        failures.push({ attempt, problem: `request failed: ${error instanceof Error ? error.message : String(error)}` });
        if (attempt < attempts) await sleep(this.backoffAfter(attempt));
        continue;
      }
      const parsed = parseJudgeScore(answer, { scale: this.scale });
      if (parsed.ok) {
        return {
          score: parsed.score,
          breakdown: { judge: parsed.score },
          metadata: { answer, attempts: attempt, matched: parsed.matched },
          explanation: `judge ${parsed.score.toFixed(3)} ("${parsed.matched}")`,
        };
      }
      failures.push({ attempt, problem: `unreadable answer ${describeValue(answer)} (${parsed.reason})` });
      messages = [
        ...base,
        { role: "assistant", content: answer },
        { role: "user", content: `That answer has no readable score. Reply with only "Score: N/${this.scale}".` },
      ];
      if (attempt < attempts) await sleep(this.backoffAfter(attempt));
    }
    const garbage = failures.every((f) => f.problem.startsWith("unreadable"));
    throw new GrpoError(
      "reward_failed",
      `The judge ${garbage ? "gave no readable score" : "failed"} in ${attempts} tries: ` +
        failures.map((f) => `try ${f.attempt}: ${f.problem}`).join("; ") + ".",
      {
        field: "LLMJudgeReward.judge",
        expected: `an answer with a score, e.g. "Score: 7/${this.scale}" or {"score": 7}`,
        fix: garbage
          ? "use a judge model that follows instructions (a small local model rarely does), or make the rubric ask for the score format."
          : "check that the judge's endpoint is up (OPENAI_BASE_URL, OPENAI_API_KEY), or raise `timeoutMs` / `maxRetries`.",
      },
    );
  }
}
