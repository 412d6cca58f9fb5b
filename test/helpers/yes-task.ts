/**
 * The small task the training tests and the reliability harnesses share: three short scenarios and a
 * reward for the share of "y", "e" and "s" characters in the agent's replies (a tiny random model can
 * learn it in a few steps, so learning, resume and crash tests see the weights move).
 */
import { ConversationEnvironment } from "../../src/core/environment.js";
import { rewardFunction, type RewardFunction } from "../../src/core/reward.js";

/** Three scenarios, up to two user turns each. */
export function yesTaskEnvironment(): ConversationEnvironment {
  return new ConversationEnvironment({
    scenarios: [
      { id: "hello", userResponses: ["Hi! Can you help me?", "Thanks!"] },
      { id: "python", userResponses: ["I need advice on learning Python."] },
      { id: "device", userResponses: ["My device is not working.", "I tried restarting it."] },
    ],
    maxTurns: 2,
  });
}

/** `yes_share`: the fraction of the assistant's characters that are "y", "e" or "s". */
export function yesShareReward(): RewardFunction {
  return rewardFunction({ name: "yes_share" }, (turns) => {
    const text = turns.filter((t) => t.role === "assistant").map((t) => t.content).join(" ");
    let n = 0;
    for (const ch of text) if ("yes".includes(ch)) n++;
    return text.length ? n / text.length : 0;
  });
}
