"""PyTorch side of `npm run bench`: the same GPT-2 workloads as ours, timed in this process.

Run by bench/index.ts as a long-lived child (one JSON request per stdin line, one JSON reply per
stdout line), so that our measurements and these can alternate (A/B/A/B) without paying PyTorch's
import time again. Standalone check: `echo '{"cmd": "hello"}' | /usr/bin/python3 bench/torch_reference.py`.

The model is what a PyTorch user would write for GPT-2 (nanoGPT style, float32, eager mode):
token + position embeddings, pre-LayerNorm blocks with causal self-attention (fused c_attn,
Conv1D layout x @ W + b) and a GELU-tanh MLP, a final LayerNorm and a head tied to wte. Same
initialisation scheme as ours (Transformer.init): normal(0, 0.02), residual projections c_proj
normal(0, 0.02 / sqrt(2 * nLayer)), biases 0, LayerNorm gains 1. Threads: BENCH_THREADS (default 2)
for both OpenBLAS (numpy) and PyTorch's intra-op pool.

Shapes: B rows, T tokens, C width, nh heads, hs = C / nh, V vocabulary, L cached positions.
"""
import json
import math
import os
import sys
import time

THREADS = os.environ.get("BENCH_THREADS", "2")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS

import numpy as np  # noqa: E402 (after the thread variables, which BLAS reads at load time)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(int(THREADS))


def blas_name():
    """The BLAS libraries loaded in this process (Debian picks them through update-alternatives)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(os.path.realpath(p) for p in paths)


# ---------------------------------------------------------------------------------------------
# The model


class GPT:
    """GPT-2 with its parameters in a dict keyed by our canonical names (rotary configs: no `wpe`,
    queries and keys rotated by position, GPT-NeoX's rotate-half layout)."""

    def __init__(self, cfg, seed=0):
        self.cfg = cfg
        V, P, C, I, L = cfg["vocabSize"], cfg["nPositions"], cfg["nEmbd"], cfg["nInner"], cfg["nLayer"]
        gen = torch.Generator().manual_seed(seed)
        self.rotary = cfg.get("positionEncoding", "learned") == "rotary"
        shapes = {"wte.weight": (V, C)} if self.rotary else {"wte.weight": (V, C), "wpe.weight": (P, C)}
        for i in range(L):
            shapes.update({
                f"h.{i}.ln_1.weight": (C,), f"h.{i}.ln_1.bias": (C,),
                f"h.{i}.attn.c_attn.weight": (C, 3 * C), f"h.{i}.attn.c_attn.bias": (3 * C,),
                f"h.{i}.attn.c_proj.weight": (C, C), f"h.{i}.attn.c_proj.bias": (C,),
                f"h.{i}.ln_2.weight": (C,), f"h.{i}.ln_2.bias": (C,),
                f"h.{i}.mlp.c_fc.weight": (C, I), f"h.{i}.mlp.c_fc.bias": (I,),
                f"h.{i}.mlp.c_proj.weight": (I, C), f"h.{i}.mlp.c_proj.bias": (C,),
            })
        shapes.update({"ln_f.weight": (C,), "ln_f.bias": (C,)})
        self.p = {}
        for name, shape in shapes.items():
            if name.endswith(".bias"):
                t = torch.zeros(shape)
            elif ".ln_" in name or name.startswith("ln_f"):
                t = torch.ones(shape)
            else:
                std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02
                t = torch.randn(shape, generator=gen) * std
            self.p[name] = t.requires_grad_(True)

    def forward(self, ids, cache=None):
        """Logits (B, T, V); with `cache` (a list per layer), appends keys/values and attends over them."""
        cfg, p = self.cfg, self.p
        B, T = ids.shape
        C, nh = cfg["nEmbd"], cfg["nHead"]
        hs = C // nh
        eps = cfg["layerNormEpsilon"]
        past = 0 if cache is None or cache[0] is None else cache[0][0].shape[2]
        if self.rotary:
            x = p["wte.weight"][ids]  # (B, T, C)
            inv_freq = 1.0 / (cfg.get("rotaryBase", 10000) ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
            angles = torch.outer(torch.arange(past, past + T, dtype=torch.float32), inv_freq)  # (T, hs/2)
            cos, sin = angles.cos(), angles.sin()

            def rope(t):  # (B, nh, T, hs)
                t1, t2 = t[..., :hs // 2], t[..., hs // 2:]
                return torch.cat((t1 * cos - t2 * sin, t2 * cos + t1 * sin), dim=-1)
        else:
            x = p["wte.weight"][ids] + p["wpe.weight"][past:past + T]  # (B, T, C)
        for i in range(cfg["nLayer"]):
            w = lambda n: p[f"h.{i}.{n}"]  # noqa: E731
            h = F.layer_norm(x, (C,), w("ln_1.weight"), w("ln_1.bias"), eps)
            q, k, v = torch.addmm(w("attn.c_attn.bias"), h.reshape(B * T, C), w("attn.c_attn.weight")).reshape(B, T, 3 * C).split(C, dim=2)
            q, k, v = (t.reshape(B, T, nh, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
            if self.rotary:
                q, k = rope(q), rope(k)
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat([cache[i][0], k], dim=2)  # (B, nh, L + T, hs)
                    v = torch.cat([cache[i][1], v], dim=2)
                cache[i] = (k, v)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, L + T)
            if T > 1:
                causal = torch.ones(T, past + T, dtype=torch.bool).tril(diagonal=past)
                att = att.masked_fill(~causal, float("-inf"))
            y = (torch.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B * T, C)  # (B*T, C)
            x = x + torch.addmm(w("attn.c_proj.bias"), y, w("attn.c_proj.weight")).reshape(B, T, C)
            h = F.layer_norm(x, (C,), w("ln_2.weight"), w("ln_2.bias"), eps).reshape(B * T, C)
            h = F.gelu(torch.addmm(w("mlp.c_fc.bias"), h, w("mlp.c_fc.weight")), approximate="tanh")
            x = x + torch.addmm(w("mlp.c_proj.bias"), h, w("mlp.c_proj.weight")).reshape(B, T, C)
        x = F.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], eps)
        return x @ p["wte.weight"].t()  # (B, T, V)


MODELS = {}


def model_for(cfg):
    key = json.dumps(cfg, sort_keys=True)
    if key not in MODELS:
        model = GPT(cfg)
        decay = [t for n, t in model.p.items() if t.dim() >= 2]
        no_decay = [t for n, t in model.p.items() if t.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
        MODELS[key] = (model, opt)
    return MODELS[key]


# ---------------------------------------------------------------------------------------------
# Workloads (each returns per-iteration wall times in ms)


def train_times(cfg, batch, steps, iters, warmup):
    model, opt = model_for(cfg)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg["vocabSize"], (batch, steps + 1), generator=gen)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    times = []
    for it in range(warmup + iters):
        t0 = time.perf_counter()
        logits = model.forward(inputs)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]  # (B, T)
        loss = -logp.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        if it >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return times


@torch.no_grad()
def sample_times(cfg, batch, prompt, new_tokens, iters, warmup):
    model, _ = model_for(cfg)
    gen = torch.Generator().manual_seed(2)
    prompt_ids = torch.randint(0, cfg["vocabSize"], (batch, prompt), generator=gen)
    times = []
    for it in range(warmup + iters):
        t0 = time.perf_counter()
        cache = [None] * cfg["nLayer"]
        logits = model.forward(prompt_ids, cache)[:, -1]  # (B, V)
        tokens, logprobs = [], []
        for step in range(new_tokens):
            logp = torch.log_softmax(logits, dim=-1)  # temperature 1, no truncation
            nxt = torch.multinomial(logp.exp(), 1, generator=gen)  # (B, 1)
            tokens.append(nxt)
            logprobs.append(logp.gather(-1, nxt))
            if step < new_tokens - 1:
                logits = model.forward(nxt, cache)[:, -1]
        out = torch.cat(tokens, dim=1).tolist(), torch.cat(logprobs, dim=1).tolist()
        assert len(out[0]) == batch
        if it >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def sgemm(n, iters):
    """Best-of-iters GFLOP/s of an n×n float32 matrix product, numpy (its BLAS) and torch."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(iters))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ta @ tb
    best_t = min(_timed(lambda: ta @ tb) for _ in range(iters))
    flops = 2.0 * n ** 3
    return {"numpyGflops": flops / best / 1e9, "torchGflops": flops / best_t / 1e9}


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def hello():
    config = np.__config__
    return {
        "python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
        "threads": torch.get_num_threads(), "blas": blas_name(),
        "cpuCapability": torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None,
        "numpyConfig": str(getattr(config, "blas_opt_info", ""))[:200],
    }


HANDLERS = {
    "hello": lambda r: hello(),
    "sgemm": lambda r: sgemm(r["n"], r.get("iters", 5)),
    "train": lambda r: {"times": train_times(r["config"], r["batch"], r["steps"], r["iters"], r.get("warmup", 0))},
    "sample": lambda r: {"times": sample_times(r["config"], r["batch"], r["prompt"], r["newTokens"], r["iters"], r.get("warmup", 0))},
}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            reply = {"ok": True, **HANDLERS[request["cmd"]](request)}
        except Exception as error:  # reported to the caller, which prints it
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
