"""Independent PyTorch reference for the GRPO math (src/training/grpo.ts).

Written from the formulas (GRPO/DeepSeekMath, DAPO, Dr. GRPO, GSPO, k3 KL), not from the TypeScript.
It draws seeded random inputs, rounds them to float32 (what tfjs sees), computes every quantity in
float64 and writes inputs and outputs to the JSON file named on the command line:

    /usr/bin/python3 test/reference/grpo_reference.py out.json

Edge cases built into the inputs: a row with an all-zero mask, a row whose mask has gaps (a multi-turn
episode: assistant tokens between user turns), a group whose rewards are all equal (advantages
exactly 0), and ratios far outside the clip range in both directions.
"""
import json
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

SEED = 20240611
GROUPS, G, T, V = 3, 4, 7, 11
B = GROUPS * G
EPSILON, EPSILON_HIGH = 0.2, 0.28
ADVANTAGE_EPSILON = 1e-4
MAX_COMPLETION_LENGTH = 10
LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo"]
LEVELS = ["token", "sequence"]
BETAS = [0.0, 0.04]


def f32(a):
    """Round to float32 (the precision tfjs works in), then compute in float64."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def make_inputs(rng):
    rewards = f32(np.concatenate([
        rng.normal(0.0, 1.0, G),          # group 0: spread-out rewards
        rng.uniform(0.0, 1.0, G),         # group 1
        np.full(G, 0.5),                  # group 2: zero variance -> advantages exactly 0
    ]))
    adv = advantages(rewards, "group").numpy()
    pos = [i for i in range(2 * G) if adv[i] > 0]
    neg = [i for i in range(2 * G) if adv[i] < 0]
    logprobs = -(np.abs(rng.normal(0.0, 1.5, (B, T))) + 0.05)
    old = logprobs + rng.normal(0.0, 0.15, (B, T))
    # Ratios far outside the clip range, on rows of both advantage signs: clipped when the move is in the
    # advantage's direction (no gradient), unclipped (gradient flows) when it is against it.
    old[pos[0], 0:3] = logprobs[pos[0], 0:3] - 2.0   # ratio e^2 ≈ 7.4 > 1 + eps_high, A > 0: clipped
    old[neg[0], 1:3] = logprobs[neg[0], 1:3] - 2.0   # ratio ≈ 7.4, A < 0: the unclipped term wins
    old[neg[1], 0:2] = logprobs[neg[1], 0:2] + 2.5   # ratio e^-2.5 ≈ 0.08 < 1 - eps, A < 0: clipped
    old[pos[1], 1:3] = logprobs[pos[1], 1:3] + 2.5   # ratio ≈ 0.08, A > 0: the unclipped term wins
    old[2 * G + 1, 1] = logprobs[2 * G + 1, 1] - 1.0  # zero-advantage rows: ratios outside the range
    old[2 * G + 2, 0] = logprobs[2 * G + 2, 0] + 1.0  # are not "clipped" (TRL counts A < 0 / A > 0 only)
    ref = logprobs + rng.normal(0.0, 0.3, (B, T))
    lengths = rng.integers(3, T + 1, B)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float64)
    empty_row = [i for i in range(2 * G) if i not in pos[:2] + neg[:2]][0]
    mask[empty_row] = 0.0                               # a row with no loss tokens
    mask[2 * G] = np.array([1, 1, 0, 0, 1, 1, 0], float)  # assistant tokens around a user turn
    logits = rng.normal(0.0, 2.0, (B, T, V))
    return {
        "rewards": rewards, "logprobs": f32(logprobs), "oldLogprobs": f32(old),
        "refLogprobs": f32(ref), "mask": mask, "logits": f32(logits),
    }


def advantages(rewards, scale):
    """A_i = (r_i - mean of its group) / (std + eps), std unbiased; `none` skips the division."""
    r = torch.tensor(rewards).view(GROUPS, G)
    centred = r - r.mean(dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (r.std(dim=1, keepdim=True) + ADVANTAGE_EPSILON)
    elif scale == "batch":
        centred = centred / (r.flatten().std() + ADVANTAGE_EPSILON)
    return centred.flatten()


def ratio(logp, old, mask, level):
    """token: exp(logp - old); sequence (GSPO): exp(masked mean of logp - old over the row), broadcast."""
    log_ratio = logp - old
    if level == "token":
        return torch.exp(log_ratio)
    seq = (log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return torch.exp(seq).unsqueeze(-1).expand_as(log_ratio)


def gspo_token_ratio(logp, old, mask):
    """GSPO-token: sg[s_i] * pi(y_t) / sg[pi(y_t)]; same value as `ratio(..., "sequence")`."""
    seq = ((logp - old) * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return torch.exp(seq.detach().unsqueeze(-1) + logp - logp.detach())


def k3(logp, ref):
    d = ref - logp
    return torch.exp(d) - d - 1.0


def surrogate(r, adv):
    a = adv.unsqueeze(-1)
    return -torch.min(r * a, torch.clamp(r, 1.0 - EPSILON, 1.0 + EPSILON_HIGH) * a)


def aggregate(per_token, mask, loss_type, num_items):
    masked = per_token * mask
    if loss_type == "grpo":
        return (masked.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        return masked.sum() / (per_token.shape[0] * MAX_COMPLETION_LENGTH)
    return masked.sum() / max(num_items, 1.0)  # dapo


def loss_and_grad(inp, adv, loss_type, level, beta, old_mode, num_items, ratio_fn=None):
    logp = torch.tensor(inp["logprobs"], requires_grad=True)
    old = torch.tensor(inp["oldLogprobs"]) if old_mode == "given" else logp.detach()
    mask = torch.tensor(inp["mask"])
    r = ratio_fn(logp, old, mask) if ratio_fn else ratio(logp, old, mask, level)
    per_token = surrogate(r, adv)
    if beta > 0:
        per_token = per_token + beta * k3(logp, torch.tensor(inp["refLogprobs"]))
    loss = aggregate(per_token, mask, loss_type, num_items)
    loss.backward()
    return loss.item(), logp.grad.clone()


def masked_mean(x, mask):
    return ((x * mask).sum() / mask.sum().clamp(min=1.0)).item()


def clip_metrics(r, adv, mask):
    a = adv.unsqueeze(-1)
    low = ((r < 1.0 - EPSILON) & (a < 0)).double()
    high = ((r > 1.0 + EPSILON_HIGH) & (a > 0)).double()
    region = ((low + high) > 0).double()
    return {"low": masked_mean(low, mask), "high": masked_mean(high, mask), "region": masked_mean(region, mask)}


def main(out_path):
    inp = make_inputs(np.random.default_rng(SEED))
    mask = torch.tensor(inp["mask"])
    logp, old, ref = (torch.tensor(inp[k]) for k in ("logprobs", "oldLogprobs", "refLogprobs"))
    adv_by_scale = {s: advantages(inp["rewards"], s) for s in ("group", "batch", "none")}
    adv = adv_by_scale["group"]
    assert torch.all(adv[2 * G:] == 0.0), "zero-variance group must give advantages exactly 0"
    num_items = float(mask.sum().item()) + 17.0  # an accumulated batch: more tokens than this micro-batch

    cases = []
    for loss_type in LOSS_TYPES:
        for level in LEVELS:
            for beta in BETAS:
                for old_mode in ("given", "detached"):
                    loss, grad = loss_and_grad(inp, adv, loss_type, level, beta, old_mode, num_items)
                    if level == "sequence":
                        # GSPO-token gives the same loss value and the same gradient as the broadcast ratio.
                        loss2, grad2 = loss_and_grad(inp, adv, loss_type, level, beta, old_mode, num_items,
                                                     ratio_fn=gspo_token_ratio)
                        assert abs(loss - loss2) < 1e-12 and torch.allclose(grad, grad2, atol=1e-12)
                    cases.append({"lossType": loss_type, "level": level, "beta": beta, "old": old_mode,
                                  "loss": loss, "grad": grad.tolist()})

    r_token = ratio(logp, old, mask, "token")
    r_seq = ratio(logp, old, mask, "sequence")
    logits = torch.tensor(inp["logits"])
    log_probs = torch.log_softmax(logits, dim=-1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)

    out = {
        "config": {"groups": GROUPS, "groupSize": G, "epsilon": EPSILON, "epsilonHigh": EPSILON_HIGH,
                   "advantageEpsilon": ADVANTAGE_EPSILON, "maxCompletionLength": MAX_COMPLETION_LENGTH,
                   "numItemsInBatch": num_items},
        "inputs": {k: np.asarray(v).tolist() for k, v in inp.items()},
        "advantages": {s: a.tolist() for s, a in adv_by_scale.items()},
        "ratios": {"token": r_token.tolist(), "sequence": r_seq.tolist()},
        "surrogate": surrogate(r_token, adv).tolist(),
        "kl": k3(logp, ref).tolist(),
        "metrics": {
            "kl": masked_mean(k3(logp, ref), mask),
            "token": clip_metrics(r_token, adv, mask),
            "sequence": clip_metrics(r_seq, adv, mask),
        },
        "entropy": masked_mean(entropy, mask),
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1])
