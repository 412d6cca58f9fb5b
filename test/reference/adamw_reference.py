"""Reference for src/training/optimizer.ts: PyTorch AdamW + clip_grad_norm_ on fixed inputs.

Usage: /usr/bin/python3 adamw_reference.py OUT.json
Writes initial params, per-step gradients, and the params after each step.
"""
import json
import sys

import torch

torch.manual_seed(0)
shapes = {"h.0.mlp.c_fc.weight": (3, 4), "h.0.mlp.c_fc.bias": (4,), "ln_f.weight": (4,)}
params = {k: torch.randn(*s, dtype=torch.float64) for k, s in shapes.items()}
# Only 2-D ".weight" tensors decay (HF convention), as in our optimizer.
groups = [
    {"params": [], "weight_decay": 0.1},
    {"params": [], "weight_decay": 0.0},
]
tensors = {}
for k, v in params.items():
    p = torch.nn.Parameter(v.clone())
    tensors[k] = p
    (groups[0] if (v.dim() >= 2 and k.endswith(".weight")) else groups[1])["params"].append(p)
opt = torch.optim.AdamW(groups, lr=0.01, betas=(0.9, 0.95), eps=1e-8)

steps = []
for step in range(4):
    grads = {k: torch.randn(*s, dtype=torch.float64) * (5.0 if step == 2 else 1.0) for k, s in shapes.items()}
    for k, p in tensors.items():
        p.grad = grads[k].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm=1.0)
    opt.step()
    steps.append({
        "grads": {k: g.flatten().tolist() for k, g in grads.items()},
        "norm": float(norm),
        "params": {k: p.detach().flatten().tolist() for k, p in tensors.items()},
    })

json.dump({
    "shapes": {k: list(s) for k, s in shapes.items()},
    "init": {k: v.flatten().tolist() for k, v in params.items()},
    "steps": steps,
}, open(sys.argv[1], "w"))
