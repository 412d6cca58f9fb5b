"""What the protocol scripts share: a cell that builds a trainer on the tiny demo model, and running
a script body against a fresh GRPO TypeScript kernel (found through JUPYTER_PATH)."""
import json

from jupyter_client.manager import start_new_kernel

# Defines `trainer` (4 episodes of up to 8 tokens per step: a step takes a fraction of a second).
TRAINER_SETUP = """
import { MultiTurnAgent, ConversationEnvironment, GRPOTrainer, rewardFunction } from "grpo-agent-framework";
import { demoModel } from "grpo-agent-framework/kernel";
const agent = new MultiTurnAgent({ modelName: await demoModel({ seed: 0 }), systemPrompt: "You are a helpful AI assistant.", temperature: 0.9, maxNewTokens: 8 });
const environment = new ConversationEnvironment({ scenarios: [{ id: "hi", userResponses: ["Hi! Can you help me?"] }] });
const reward = rewardFunction({ name: "length" }, (turns) => Math.min(1, turns.filter((t) => t.role === "assistant").map((t) => t.content.length).reduce((a, b) => a + b, 0) / 40));
const trainer = await GRPOTrainer.create({ agent: agent, environment: environment, reward: reward, configOverrides: { numGenerations: 4, scenariosPerStep: 1, learningRate: 3e-3 } });
"""


def with_kernel(body):
    """Starts the kernel, calls body(km, kc) -> summary dict, shuts it down, prints the summary as JSON."""
    km, kc = start_new_kernel(kernel_name="grpo-typescript", startup_timeout=60)
    try:
        summary = body(km, kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps(summary))
