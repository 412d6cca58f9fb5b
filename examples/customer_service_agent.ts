/**
 * Customer service agent (the guide's second example): a specialised agent class, a custom
 * environment that tracks whether the ticket got troubleshooting steps, and domain rewards
 * (helpfulness, professionalism, safety, engagement).
 *
 *   npm run example -- customer_service_agent --seed 1
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { MultiTurnAgent, type AgentConfigInput } from "../src/core/agent.js";
import { Environment, EnvironmentState, EpisodeStatus, type Scenario, type StepResult } from "../src/core/environment.js";
import { customerServiceReward } from "../src/core/rewards/index.js";
import { ConversationTurn } from "../src/core/trajectory.js";
import { registerTfPolicyResolver } from "../src/model/registry.js";
import { SYSTEM_PROMPTS } from "../scripts/corpus/prompts.js";
import { parseExampleArgs, runExample, type ExampleOptions, type ExampleResult, type ExampleSpec } from "./harness.js";

/** A support ticket: the customer's messages in order. */
export interface Ticket extends Scenario {
  product: string;
  userResponses: string[];
}

/** An agent that numbers its replies per ticket and flags apologies (kept in turn metadata). */
export class CustomerServiceAgent extends MultiTurnAgent {
  constructor(config: Omit<AgentConfigInput, "systemPrompt">) {
    super({ ...config, systemPrompt: SYSTEM_PROMPTS.customerService });
  }

  override async processTurn(history: ConversationTurn[], userInput?: string, context?: Record<string, unknown>) {
    const turn = await super.processTurn(history, userInput, context);
    turn.metadata.replyNumber = history.filter((t) => t.role === "assistant").length + 1;
    turn.metadata.apologized = /\b(sorry|apologi[sz]e)\b/i.test(turn.content);
    return turn;
  }
}

const TROUBLESHOOTING = /\b(restart|reset|update|unplug|charge|reinstall|settings|safe mode|firmware|cable)\b/i;

/** Plays a ticket's script; records in the context whether troubleshooting steps were offered. */
export class SupportTicketEnvironment extends Environment {
  readonly tickets: Ticket[];

  constructor(tickets: Ticket[], maxTurns = 4) {
    super({ maxTurns });
    this.tickets = tickets;
  }

  override scenarios(): Scenario[] {
    return this.tickets;
  }

  override async reset(scenario?: Scenario): Promise<EnvironmentState> {
    const ticket = (scenario as Ticket | undefined) ?? this.tickets[0];
    return new EnvironmentState({
      episodeId: randomUUID(), turnCount: 0, status: EpisodeStatus.ONGOING,
      context: { scenario: ticket, scenarioId: ticket.id, product: ticket.product, next: 1, troubleshooting: false },
    });
  }

  override async getInitialPrompt(scenario?: Scenario): Promise<string> {
    return ((scenario as Ticket | undefined) ?? this.tickets[0]).userResponses[0];
  }

  override async step(state: EnvironmentState, action: ConversationTurn): Promise<StepResult> {
    const next = state.copy();
    next.turnCount += 1;
    const ticket = next.context.scenario as Ticket;
    if (TROUBLESHOOTING.test(action.content)) next.context.troubleshooting = true;
    const index = next.context.next as number;
    const done = index >= ticket.userResponses.length || next.turnCount >= this.maxTurns;
    if (done) {
      next.status = EpisodeStatus.COMPLETED;
      next.context.success = next.context.troubleshooting === true;
      return { state: next, response: null, reward: 0, done: true };
    }
    next.context.next = index + 1;
    return { state: next, response: new ConversationTurn({ role: "user", content: ticket.userResponses[index] }), reward: 0, done: false };
  }
}

const TICKETS: Ticket[] = [
  { id: "phone", product: "phone", userResponses: ["My phone isn't working properly.", "I've tried restarting it.", "That didn't help either."] },
  { id: "laptop", product: "laptop", userResponses: ["My laptop won't turn on.", "It is plugged in.", "Okay, I'll try that solution."] },
  { id: "router", product: "router", userResponses: ["My router keeps dropping the connection.", "I've tried restarting it."] },
  { id: "headphones", product: "headphones", userResponses: ["My headphones won't connect.", "That didn't help either."] },
  { id: "printer", product: "printer", userResponses: ["My printer isn't working properly.", "I've tried restarting it.", "Okay, I'll try that solution."] },
  { id: "watch", product: "watch", userResponses: ["My watch won't charge.", "I've tried a different cable."] },
];
const HELD_OUT: Ticket[] = [
  { id: "tablet", product: "tablet", userResponses: ["My tablet isn't working properly.", "I've tried restarting it."] },
  { id: "camera", product: "camera", userResponses: ["My camera won't turn on.", "That didn't help either."] },
  { id: "speaker", product: "speaker", userResponses: ["My speaker keeps dropping the connection.", "Okay, I'll try that solution."] },
  { id: "keyboard", product: "keyboard", userResponses: ["My keyboard isn't working properly.", "I've tried restarting it."] },
];

/** The example's agent, environments and reward (used by `grpo eval` too). */
export function customerServiceExampleSpec(options: ExampleOptions = {}): ExampleSpec {
  registerTfPolicyResolver();
  const agent = new CustomerServiceAgent({
    modelName: options.modelName ?? "builtin:tiny-chat", temperature: 0.8, maxNewTokens: 64, memoryWindow: 4, seed: options.seed ?? 0,
  });
  return {
    name: "customer_service_agent", agent,
    environment: new SupportTicketEnvironment(TICKETS), evalEnvironment: new SupportTicketEnvironment(HELD_OUT),
    reward: customerServiceReward(), profile: "balanced", numEpisodes: 144,
  };
}

/** Evaluates, trains and evaluates again. */
export async function customerServiceExample(options: ExampleOptions = {}): Promise<ExampleResult> {
  return runExample(customerServiceExampleSpec(options), options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  customerServiceExample(parseExampleArgs(process.argv.slice(2))).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
