"""Reference GPT-2 forward pass, token log-probs and gradients in PyTorch (float64).

Usage: gpt2_reference.py OUT.json

Builds tiny GPT-2-layout models from weights drawn with a fixed seed (float32 values, computed in
float64), and writes, per case: the config, the weights (canonical names, Conv1D [in, out] layout),
fixed input/target ids, the logits, the token log-probs at a temperature, and the gradient of the
sum of those log-probs with respect to every weight. Written independently of the TypeScript code:
plain tensor ops, no torch.nn modules.
"""
import json
import math
import sys

import torch

BLOCK = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
         "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
         "mlp.c_proj.weight", "mlp.c_proj.bias"]


def shapes(cfg):
    V, P, C, I = cfg["vocabSize"], cfg["nPositions"], cfg["nEmbd"], cfg["nInner"]
    out = {"wte.weight": [V, C]}
    if cfg.get("positionEncoding", "learned") == "learned":
        out["wpe.weight"] = [P, C]
    per = {"ln_1.weight": [C], "ln_1.bias": [C], "attn.c_attn.weight": [C, 3 * C], "attn.c_attn.bias": [3 * C],
           "attn.c_proj.weight": [C, C], "attn.c_proj.bias": [C], "ln_2.weight": [C], "ln_2.bias": [C],
           "mlp.c_fc.weight": [C, I], "mlp.c_fc.bias": [I], "mlp.c_proj.weight": [I, C], "mlp.c_proj.bias": [C]}
    for i in range(cfg["nLayer"]):
        for name in BLOCK:
            out[f"h.{i}.{name}"] = per[name]
    out["ln_f.weight"] = [C]
    out["ln_f.bias"] = [C]
    if not cfg["tieWordEmbeddings"]:
        out["lm_head.weight"] = [V, C]
    if cfg.get("previousTokenEmbedding", False):
        out["wte_prev.weight"] = [C, C]
    return out


def draw(name, shape, gen):
    """Random weights large enough that every part of the network matters."""
    noise = torch.randn(shape, generator=gen, dtype=torch.float32)
    if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
        return 1.0 + 0.1 * noise
    if name.endswith(".bias"):
        return 0.05 * noise
    if name in ("wte.weight", "wpe.weight", "lm_head.weight"):
        return 0.3 * noise
    return 0.15 * noise


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(x, base):
    """GPT-NeoX / Llama rotary embedding of x (B, nh, T, hs) at positions 0..T-1."""
    T, hs = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    angles = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)  # (T, hs/2)
    emb = torch.cat((angles, angles), dim=-1)  # (T, hs)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def forward(cfg, p, ids):
    B, T = ids.shape
    C, nh = cfg["nEmbd"], cfg["nHead"]
    hs = C // nh
    eps = cfg["layerNormEpsilon"]
    rotary = cfg.get("positionEncoding", "learned") == "rotary"
    x = p["wte.weight"][ids]
    if cfg.get("previousTokenEmbedding", False):
        # The previous token's embedding times wte_prev; nothing at the first position.
        previous = p["wte.weight"][ids[:, :-1]] @ p["wte_prev.weight"]  # (B, T-1, C)
        x = x + torch.cat((torch.zeros(B, 1, C, dtype=x.dtype), previous), dim=1)
    if not rotary:
        x = x + p["wpe.weight"][torch.arange(T)][None]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["nLayer"]):
        w = lambda n: p[f"h.{i}.{n}"]
        h = layer_norm(x, w("ln_1.weight"), w("ln_1.bias"), eps)
        q, k, v = (h @ w("attn.c_attn.weight") + w("attn.c_attn.bias")).split(C, dim=2)
        q, k, v = (t.reshape(B, T, nh, hs).transpose(1, 2) for t in (q, k, v))
        if rotary:
            q, k = rope(q, cfg.get("rotaryBase", 10000)), rope(k, cfg.get("rotaryBase", 10000))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = torch.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ w("attn.c_proj.weight") + w("attn.c_proj.bias")
        h = layer_norm(x, w("ln_2.weight"), w("ln_2.bias"), eps)
        x = x + gelu_tanh(h @ w("mlp.c_fc.weight") + w("mlp.c_fc.bias")) @ w("mlp.c_proj.weight") + w("mlp.c_proj.bias")
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], eps)
    head = p["wte.weight"] if cfg["tieWordEmbeddings"] else p["lm_head.weight"]
    return x @ head.T


def case(cfg, seed, batch, steps, temperature):
    gen = torch.Generator().manual_seed(seed)
    weights32 = {n: draw(n, s, gen) for n, s in shapes(cfg).items()}
    params = {n: t.double().requires_grad_(True) for n, t in weights32.items()}
    ids = torch.randint(0, cfg["vocabSize"], (batch, steps), generator=gen)
    targets = torch.randint(0, cfg["vocabSize"], (batch, steps), generator=gen)
    logits = forward(cfg, params, ids)
    logprobs = torch.log_softmax(logits / temperature, dim=-1).gather(-1, targets[..., None])[..., 0]
    logprobs.sum().backward()
    return {
        "config": cfg,
        "weights": {n: {"shape": list(t.shape), "data": t.reshape(-1).tolist()} for n, t in weights32.items()},
        "inputIds": ids.tolist(),
        "targetIds": targets.tolist(),
        "temperature": temperature,
        "logits": logits.detach().reshape(-1).tolist(),
        "logprobs": logprobs.detach().tolist(),
        "grads": {n: t.grad.reshape(-1).tolist() for n, t in params.items()},
    }


def main():
    out = sys.argv[1]
    base = dict(vocabSize=64, nPositions=32, nEmbd=32, nLayer=2, nHead=4, layerNormEpsilon=1e-5)
    cases = {
        "tied": case(dict(base, nInner=128, tieWordEmbeddings=True), seed=1234, batch=3, steps=12, temperature=1.0),
        "untied": case(dict(base, nInner=48, tieWordEmbeddings=False), seed=99, batch=2, steps=16, temperature=0.7),
        # Rotary positions; a small base so that every frequency turns noticeably within 20 positions.
        "rotary": case(dict(base, nInner=128, tieWordEmbeddings=True, positionEncoding="rotary", rotaryBase=100),
                       seed=7, batch=2, steps=20, temperature=1.0),
        # Rotary positions with the previous-token embedding (ModelConfig.previousTokenEmbedding).
        "previous": case(dict(base, nInner=64, tieWordEmbeddings=False, positionEncoding="rotary", rotaryBase=100,
                              previousTokenEmbedding=True), seed=11, batch=2, steps=14, temperature=0.9),
    }
    with open(out, "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
