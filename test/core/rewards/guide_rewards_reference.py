"""Reference for the usage guide's reward examples, run by reward.test.ts through /usr/bin/python3.

Implements, in the guide's own Python form, the `CustomReward` class (per-turn len(content)/100,
averaged) and the `@reward_function` `creativity_reward` (0.1 per creative word present, capped
at 1), plus the guide's composite as a weighted mean. Input on stdin:
  {"conversations": [[{"role": ..., "content": ...}, ...], ...],
   "composite": {"scores": [...], "weights": [...]}}
Output on stdout: {"custom": [{"score", "breakdown", "metadata"}], "creativity": [score], "weighted_mean": x}
"""
import asyncio
import json
import sys
from dataclasses import dataclass, field


@dataclass
class Turn:
    role: str
    content: str


@dataclass
class RewardResult:
    score: float
    breakdown: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


class CustomReward:
    async def compute_reward(self, turns, context=None):
        assistant_turns = [t for t in turns if t.role == "assistant"]
        total_score = 0.0
        breakdown = {}
        for i, turn in enumerate(assistant_turns):
            score = self.evaluate_turn(turn.content)
            total_score += score
            breakdown[f"turn_{i}"] = score
        avg_score = total_score / max(1, len(assistant_turns))
        return RewardResult(score=avg_score, breakdown=breakdown, metadata={"num_turns": len(assistant_turns)})

    def evaluate_turn(self, content):
        return len(content) / 100.0


async def creativity_reward(turns, context=None):
    creative_words = ["creative", "innovative", "unique", "original"]
    assistant_content = " ".join(turn.content for turn in turns if turn.role == "assistant").lower()
    creativity_score = sum(0.1 for word in creative_words if word in assistant_content)
    return min(creativity_score, 1.0)


async def main():
    data = json.load(sys.stdin)
    conversations = [[Turn(t["role"], t["content"]) for t in conv] for conv in data["conversations"]]
    custom = []
    creativity = []
    for turns in conversations:
        r = await CustomReward().compute_reward(turns)
        custom.append({"score": r.score, "breakdown": r.breakdown, "metadata": r.metadata})
        creativity.append(await creativity_reward(turns))
    scores, weights = data["composite"]["scores"], data["composite"]["weights"]
    weighted_mean = sum(w * s for w, s in zip(weights, scores)) / sum(weights)
    json.dump({"custom": custom, "creativity": creativity, "weighted_mean": weighted_mean}, sys.stdout)


asyncio.run(main())
