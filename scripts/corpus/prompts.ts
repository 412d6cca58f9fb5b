/**
 * The system prompts of the corpus. The examples and notebooks use these exact strings, so the
 * built-in policy has seen them during pretraining and behaves in-domain when an example sets one.
 */
import type { Rng } from "../../src/core/rng.js";
import { pick } from "./text.js";
import type { Domain } from "./types.js";

/** The tool-call line every calculator prompt shows (the exact syntax `parseToolCalls` reads). */
const CALL_EXAMPLE = '<tool_call>{"name": "calculator", "arguments": {"expression": "2 + 3"}}</tool_call>';

/**
 * Every system prompt of the corpus, by name. Use them in examples so that the pretrained policy
 * recognises its setting:
 *
 * - `assistant` ("You are a helpful AI assistant."): quick_start; also appears in every chat domain.
 * - `customerService`: customer_service_agent; `tutor`: tutoring_agent; `travelPlanner`: task planning;
 * - `calculator` / `toolAgent`: tool_agent (the calculator's call syntax is spelled out in the prompt).
 */
export const SYSTEM_PROMPTS = {
  assistant: "You are a helpful AI assistant.",
  assistantShort: "You are a helpful assistant.",
  friendlyAssistant: "You are a friendly and knowledgeable assistant. Answer clearly and ask follow-up questions.",
  customerService: "You are a customer service agent for Acme.",
  customerServiceDetailed:
    "You are a helpful customer service agent for Acme. Be polite and empathetic, solve the problem step by step, and never ask for passwords or card numbers.",
  technicalSupport: "You are a technical support assistant for Acme devices.",
  tutor: "You are a patient tutor.",
  tutorSocratic:
    "You are a patient tutor. Give hints instead of answers, and check the student's understanding with questions.",
  travelPlanner: "You are a travel planner.",
  travelPlannerDetailed:
    "You are a travel planning assistant. Help the user choose a destination, a budget, activities and dates.",
  calculator:
    `You are a helpful assistant with a calculator tool. To use it, reply with only ${CALL_EXAMPLE} and wait for the result. Then state the answer.`,
  toolAgent:
    "You are a helpful assistant that can use tools.\nAvailable tools:\n- calculator: evaluates an arithmetic expression. Arguments: {\"expression\": string}.\n" +
    `To call a tool, reply with ${CALL_EXAMPLE}`,
} as const;

/** The name of one of the {@link SYSTEM_PROMPTS}. */
export type SystemPromptName = keyof typeof SYSTEM_PROMPTS;

/**
 * The prompts each domain draws from (a name listed twice is drawn twice as often). The chat domains
 * also use the plain `assistant` prompt, so a general assistant knows support, tutoring and planning;
 * arithmetic always gets a prompt that advertises the calculator.
 */
export const DOMAIN_SYSTEM_PROMPTS: Readonly<Record<Domain, readonly SystemPromptName[]>> = {
  general: ["assistant", "assistant", "assistantShort", "friendlyAssistant"],
  support: ["customerService", "customerService", "customerServiceDetailed", "technicalSupport", "assistant"],
  tutoring: ["tutor", "tutor", "tutorSocratic", "assistant"],
  planning: ["travelPlanner", "travelPlanner", "travelPlannerDetailed", "assistant"],
  arithmetic: ["calculator", "toolAgent"],
};

/** Draws a system prompt for a domain: its name and text. */
export function pickSystemPrompt(rng: Rng, domain: Domain): { name: SystemPromptName; text: string } {
  const name = pick(rng, DOMAIN_SYSTEM_PROMPTS[domain]);
  return { name, text: SYSTEM_PROMPTS[name] };
}
