/**
 * Trajectories: what happened in an episode, turn by turn.
 *
 * - {@link ConversationTurn}: one message (system, user, assistant or tool), with its reward,
 *   tool calls/results and, for sampled assistant turns, the token ids and log-probs the policy drew.
 * - {@link MultiTurnTrajectory}: a whole episode with its rewards and reward breakdown.
 * - {@link TrajectoryGroup}: the `numGenerations` episodes of one scenario that GRPO compares.
 *
 * Everything here round-trips losslessly through JSON (`toJSON()` / `fromJSON()`).
 */
import { inspect } from "node:util";
import { renderHTML, renderText } from "./display-registry.js";
import { GrpoError } from "./errors.js";
import { groupAdvantages, std, mean, type AdvantageOptions } from "./stats.js";

/** Who speaks a turn. */
export type Role = "system" | "user" | "assistant" | "tool";

const ROLES: readonly Role[] = ["system", "user", "assistant", "tool"];

/** How an episode ended (or that it has not). */
export enum EpisodeStatus {
  ONGOING = "ongoing",
  COMPLETED = "completed",
  TRUNCATED = "truncated",
  FAILED = "failed",
}

/** A tool invocation requested by the model (`<tool_call>{"name": …, "arguments": …}</tool_call>`). */
export interface ToolCall {
  /** Call id, unique within the turn (e.g. `call_0`). */
  id: string;
  /** The tool's name. */
  name: string;
  /** The parsed JSON arguments. */
  arguments: Record<string, unknown>;
}

/** The outcome of one {@link ToolCall}. */
export interface ToolResult {
  /** The id of the call this answers. */
  toolCallId: string;
  /** The tool's name. */
  name: string;
  /** The result as text, exactly what the model sees. */
  content: string;
  /** True when the tool failed (unknown tool, bad arguments, exception, timeout). */
  isError: boolean;
}

/**
 * The tokens a policy sampled for an assistant turn, kept for training: GRPO needs the exact ids
 * (re-tokenising the text can differ) and their log-probs under the sampling policy.
 */
export interface TurnGeneration {
  /** The prompt the policy saw, as token ids (chat template applied, generation prompt included). */
  promptTokenIds: number[];
  /** The sampled completion token ids (including a final stop/EOS token when one was sampled). */
  tokenIds: number[];
  /** `log softmax(logits / temperature)` of each sampled token (see `Generation.logprobs`). */
  logprobs: number[];
  /** `stop`: hit EOS or a stop string; `length`: hit `maxNewTokens` (truncated). */
  finishReason: "stop" | "length";
}


function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The rich forms every display-able core object offers (rendered by the kernel module when loaded). */
function textOr(value: object, fallback: () => string): string {
  return renderText(value) ?? fallback();
}
function htmlOr(value: object, text: string): string {
  return renderHTML(value) ?? `<pre>${escapeHTML(text)}</pre>`;
}

/** The fields of a turn; all but `role` and `content` are optional. */
export interface ConversationTurnInit {
  role: Role;
  content: string;
  reward?: number;
  timestamp?: number;
  metadata?: Record<string, unknown>;
  toolCalls?: ToolCall[];
  toolResults?: ToolResult[];
  generation?: TurnGeneration;
}

/** The JSON form of a {@link ConversationTurn}. */
export interface ConversationTurnJSON {
  role: Role;
  content: string;
  reward?: number;
  timestamp: number;
  metadata: Record<string, unknown>;
  toolCalls: ToolCall[];
  toolResults: ToolResult[];
  generation?: TurnGeneration;
}

/** One message of a conversation. */
export class ConversationTurn {
  /** Who speaks. */
  role: Role;
  /** The text of the message. */
  content: string;
  /** The reward attributed to this turn, if any (e.g. the environment's step reward). */
  reward?: number;
  /** Milliseconds since the epoch when the turn was created. */
  timestamp: number;
  /** Free-form data; agents and environments add to it (must be JSON-serialisable). */
  metadata: Record<string, unknown>;
  /** Tool calls the assistant requested in this turn. */
  toolCalls: ToolCall[];
  /** Results of tool calls (on `tool` turns, and echoed on the assistant turn that asked). */
  toolResults: ToolResult[];
  /** Sampled tokens and log-probs (assistant turns produced by a policy). */
  generation?: TurnGeneration;

  constructor(init: ConversationTurnInit) {
    if (init === null || typeof init !== "object") {
      throw new GrpoError("invalid_argument", "A ConversationTurn needs an object.", {
        value: init,
        expected: '{ role: "user", content: "..." }',
      });
    }
    if (!ROLES.includes(init.role)) {
      throw new GrpoError("invalid_argument", "Unknown turn role.", {
        field: "ConversationTurn.role",
        value: init.role,
        expected: ROLES.map((r) => `"${r}"`).join(" | "),
      });
    }
    if (typeof init.content !== "string") {
      throw new GrpoError("invalid_argument", "A turn's content must be a string.", {
        field: "ConversationTurn.content",
        value: init.content,
        expected: "a string (use an empty string for no text)",
      });
    }
    this.role = init.role;
    this.content = init.content;
    if (init.reward !== undefined) this.reward = init.reward;
    this.timestamp = init.timestamp ?? Date.now();
    this.metadata = init.metadata ?? {};
    this.toolCalls = init.toolCalls ?? [];
    this.toolResults = init.toolResults ?? [];
    if (init.generation !== undefined) this.generation = init.generation;
  }

  /** A deep copy. */
  clone(): ConversationTurn {
    return ConversationTurn.fromJSON(structuredClone(this.toJSON()));
  }

  toJSON(): ConversationTurnJSON {
    const out: ConversationTurnJSON = {
      role: this.role,
      content: this.content,
      timestamp: this.timestamp,
      metadata: this.metadata,
      toolCalls: this.toolCalls,
      toolResults: this.toolResults,
    };
    if (this.reward !== undefined) out.reward = this.reward;
    if (this.generation !== undefined) out.generation = this.generation;
    return out;
  }

  static fromJSON(json: ConversationTurnJSON): ConversationTurn {
    return new ConversationTurn(json);
  }

  /** A readable text form (the kernel's when `grpo-agent-framework/kernel` is loaded). */
  toText(): string {
    return textOr(this, () => `${this.role}${this.reward !== undefined ? ` [reward ${this.reward.toFixed(3)}]` : ""}: ${this.content}`);
  }

  /** A self-contained HTML form (chat bubble with token colouring when the kernel module is loaded). */
  toHTML(): string {
    return htmlOr(this, this.toText());
  }

  [inspect.custom](): string {
    return this.toText();
  }
}

/** The fields of a {@link MultiTurnTrajectory}. */
export interface MultiTurnTrajectoryInit {
  id?: string;
  scenarioId: string;
  turns: ConversationTurn[];
  totalReward?: number;
  turnRewards?: number[];
  rewardBreakdown?: Record<string, number>;
  metadata?: Record<string, unknown>;
  status?: EpisodeStatus;
}

/** The JSON form of a {@link MultiTurnTrajectory}. */
export interface MultiTurnTrajectoryJSON {
  id: string;
  scenarioId: string;
  turns: ConversationTurnJSON[];
  totalReward: number;
  turnRewards: number[];
  rewardBreakdown: Record<string, number>;
  metadata: Record<string, unknown>;
  status: EpisodeStatus;
}

let trajectoryCounter = 0;

/** A fresh trajectory id, unique within the process (`traj-<time>-<n>`). */
export function newTrajectoryId(): string {
  trajectoryCounter += 1;
  return `traj-${Date.now().toString(36)}-${trajectoryCounter}`;
}

/** One complete episode. */
export class MultiTurnTrajectory {
  /** Unique id. */
  id: string;
  /** The scenario (or task) this episode played. */
  scenarioId: string;
  /** All turns in order, including the system prompt when the agent has one. */
  turns: ConversationTurn[];
  /** The episode's reward (the reward function's score once scored). */
  totalReward: number;
  /** One reward per assistant turn, in order (the per-turn scores or environment step rewards). */
  turnRewards: number[];
  /** The reward broken into named components (e.g. `helpfulness`, `safety`, `turn_0`). */
  rewardBreakdown: Record<string, number>;
  /** Free-form data (scenario, environment context at the end, timing, …). */
  metadata: Record<string, unknown>;
  /** How the episode ended. */
  status: EpisodeStatus;

  constructor(init: MultiTurnTrajectoryInit) {
    if (typeof init?.scenarioId !== "string" || init.scenarioId.length === 0) {
      throw new GrpoError("invalid_argument", "A trajectory needs a scenario id.", {
        field: "MultiTurnTrajectory.scenarioId",
        value: init?.scenarioId,
        expected: "a non-empty string",
      });
    }
    if (!Array.isArray(init.turns) || !init.turns.every((t) => t instanceof ConversationTurn)) {
      throw new GrpoError("invalid_argument", "A trajectory's turns must be ConversationTurn objects.", {
        field: "MultiTurnTrajectory.turns",
        expected: "an array of `new ConversationTurn({...})`",
      });
    }
    this.id = init.id ?? newTrajectoryId();
    this.scenarioId = init.scenarioId;
    this.turns = init.turns;
    this.totalReward = init.totalReward ?? 0;
    this.turnRewards = init.turnRewards ?? [];
    this.rewardBreakdown = init.rewardBreakdown ?? {};
    this.metadata = init.metadata ?? {};
    this.status = init.status ?? EpisodeStatus.COMPLETED;
  }

  /** The number of assistant turns: how many times the agent acted. */
  get episodeLength(): number {
    return this.assistantTurns.length;
  }

  /** The assistant's turns, in order. */
  get assistantTurns(): ConversationTurn[] {
    return this.turns.filter((t) => t.role === "assistant");
  }

  /** True when the episode completed successfully (status COMPLETED and `metadata.success` not false). */
  get success(): boolean {
    if (typeof this.metadata.success === "boolean") return this.metadata.success;
    return this.status === EpisodeStatus.COMPLETED;
  }

  toJSON(): MultiTurnTrajectoryJSON {
    return {
      id: this.id,
      scenarioId: this.scenarioId,
      turns: this.turns.map((t) => t.toJSON()),
      totalReward: this.totalReward,
      turnRewards: this.turnRewards,
      rewardBreakdown: this.rewardBreakdown,
      metadata: this.metadata,
      status: this.status,
    };
  }

  static fromJSON(json: MultiTurnTrajectoryJSON): MultiTurnTrajectory {
    if (json === null || typeof json !== "object" || !Array.isArray(json.turns)) {
      throw new GrpoError("invalid_json", "Not a serialised MultiTurnTrajectory.", {
        value: json,
        expected: "the output of `trajectory.toJSON()`",
      });
    }
    return new MultiTurnTrajectory({ ...json, turns: json.turns.map((t) => ConversationTurn.fromJSON(t)) });
  }

  /** A deep copy (same id). */
  clone(): MultiTurnTrajectory {
    return MultiTurnTrajectory.fromJSON(structuredClone(this.toJSON()));
  }

  /** A readable text form: header, then one line per turn. */
  toText(): string {
    return textOr(this, () => [
      `Trajectory ${this.id} (scenario ${this.scenarioId}, ${this.status}, reward ${this.totalReward.toFixed(3)}, ${this.episodeLength} assistant turns)`,
      ...this.turns.map((t) => `  ${t.toText()}`),
    ].join("\n"));
  }

  /** A self-contained HTML form (turn-by-turn view when the kernel module is loaded). */
  toHTML(): string {
    return htmlOr(this, this.toText());
  }

  [inspect.custom](): string {
    return this.toText();
  }
}

/** The JSON form of a {@link TrajectoryGroup}. */
export interface TrajectoryGroupJSON {
  scenarioId: string;
  trajectories: MultiTurnTrajectoryJSON[];
}

/** The `numGenerations` trajectories of one scenario, compared with each other by GRPO. */
export class TrajectoryGroup {
  /** The scenario every trajectory of the group played. */
  scenarioId: string;
  /** The episodes. */
  trajectories: MultiTurnTrajectory[];

  constructor(scenarioId: string, trajectories: MultiTurnTrajectory[]) {
    const stray = trajectories.find((t) => t.scenarioId !== scenarioId);
    if (stray) {
      throw new GrpoError("invalid_argument", "Every trajectory of a group must play the group's scenario.", {
        field: `TrajectoryGroup(${scenarioId}).trajectories`,
        value: stray.scenarioId,
        expected: `scenarioId "${scenarioId}"`,
      });
    }
    this.scenarioId = scenarioId;
    this.trajectories = trajectories;
  }

  /** The total reward of each trajectory. */
  get rewards(): number[] {
    return this.trajectories.map((t) => t.totalReward);
  }

  /** Mean reward of the group. */
  get meanReward(): number {
    return mean(this.rewards);
  }

  /**
   * Reward diversity: the std (unbiased) of the group's rewards. 0 means GRPO learns nothing from
   * this group (every advantage is 0).
   */
  get rewardDiversity(): number {
    return std(this.rewards);
  }

  /** Group-relative advantages of the trajectories (see {@link groupAdvantages}). */
  advantages(options: AdvantageOptions = {}): number[] {
    return groupAdvantages(this.rewards, options);
  }

  /** The trajectories sorted by reward, best first. */
  ranked(): MultiTurnTrajectory[] {
    return [...this.trajectories].sort((a, b) => b.totalReward - a.totalReward);
  }

  toJSON(): TrajectoryGroupJSON {
    return { scenarioId: this.scenarioId, trajectories: this.trajectories.map((t) => t.toJSON()) };
  }

  static fromJSON(json: TrajectoryGroupJSON): TrajectoryGroup {
    return new TrajectoryGroup(json.scenarioId, json.trajectories.map((t) => MultiTurnTrajectory.fromJSON(t)));
  }

  /** A readable text form: rewards and advantages, best first. */
  toText(): string {
    return textOr(this, () => {
      const adv = this.advantages();
      const lines = this.trajectories
        .map((t, i) => ({ t, a: adv[i] }))
        .sort((x, y) => y.t.totalReward - x.t.totalReward)
        .map(({ t, a }) => `  ${t.id}: reward ${t.totalReward.toFixed(3)}, advantage ${a >= 0 ? "+" : ""}${a.toFixed(3)}`);
      return [`TrajectoryGroup ${this.scenarioId}: ${this.trajectories.length} trajectories, mean ${this.meanReward.toFixed(3)}, diversity ${this.rewardDiversity.toFixed(3)}`, ...lines].join("\n");
    });
  }

  /** A self-contained HTML form (side-by-side view when the kernel module is loaded). */
  toHTML(): string {
    return htmlOr(this, this.toText());
  }

  [inspect.custom](): string {
    return this.toText();
  }
}
