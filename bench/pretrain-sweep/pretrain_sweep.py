"""A PyTorch replica of `npm run pretrain` for sweeping recipes on a GPU machine.

Why: a full pretraining run takes ~25-50 minutes on 2 CPU cores, so comparing recipes there (model
size, steps, a tool drill mixed into the rows) is too slow. This script trains the same model
(GPT-2 block with rotary positions, tied head, GPT-2 init) with the same optimizer (AdamW 0.9/0.95,
weight decay 0.1 on matrices, warmup 5% + cosine, clip 1.0), the same two-phase rows (60% of the
steps 8 x 128, then 4 x 256) and the same conversation-aligned best-fit packing, on the token data
`npm run sweep:export` writes. It is a guide, not the recipe: the shipped model is always made by
`npm run pretrain`. Its baseline (the shipped recipe, three seeds) gives held-out perplexity 1.72
and 8 / 5 / 11 of 143 copy-probe digits, against 1.75 and 13 for the tfjs build.

Per run it reports: held-out perplexity (all and chat-only), the copy probe (teacher-forced later
digits of the expression, of 143), the probability of the whole right call at temperature 0.8, and
greedy and sampled (T = 0.8) rates of: the right call, a right answer after the right call and the
tool's result, and both (an episode of the tool_agent example).

    python3 pretrain_sweep.py DATA OUT.jsonl PROCESSES ['[{"steps": 2400, "f": 0.3}, ...]']

Environment: SWEEP_DEV=cuda (default cpu), SWEEP_SECONDS (start no new run after this many seconds),
SAMPLES (samples per problem, default 8), CHUNK=1 (re-tokenize digit runs into chunks of up to three
digits, one token each, as cl100k does). Each finished run is appended to OUT.jsonl.
"""
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEVICE = os.environ.get("SWEEP_DEV", "cpu")
DEADLINE = time.time() + float(os.environ.get("SWEEP_SECONDS", 1e9))
DEFAULTS = dict(C=128, L=3, H=4, lr=3e-3, steps=1600, f=0.0, f_early=0.0, early=0.0, drill="drillA", seed=0, probe_every=400)


def load(data_dir, name):
    flat = np.fromfile(f"{data_dir}/{name}.bin", dtype=np.int16).astype(np.int64)
    offsets = np.fromfile(f"{data_dir}/{name}.off", dtype=np.uint32).astype(np.int64)
    return [flat[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


class Packer:
    """scripts/pretrain/data.ts RowPacker: rows start at a conversation start, then best fit from a pool of 64."""

    def __init__(self, sequences, rng, pool_size=64):
        self.sequences, self.rng, self.pool_size = sequences, rng, pool_size
        self.pool, self.order, self.cursor = [], [], 0

    def _next_sequence(self):
        if self.cursor >= len(self.order):
            self.order = list(range(len(self.sequences)))
            self.rng.shuffle(self.order)
            self.cursor = 0
        self.cursor += 1
        return self.sequences[self.order[self.cursor - 1]]

    def row(self, row_tokens):
        while len(self.pool) < self.pool_size:
            s = self._next_sequence()
            stride, start, k = row_tokens - 1, 0, 0
            if len(s) <= row_tokens:
                self.pool.append((s, False))
                continue
            while start + 1 < len(s):  # windows sharing one token; continuations only start a row
                self.pool.append((s[start:start + row_tokens], k > 0))
                start, k = start + stride, k + 1
        row = list(self.pool.pop(0)[0])
        while True:
            room, best = row_tokens - len(row), -1
            for i, (tokens, starts_row) in enumerate(self.pool):
                if not starts_row and len(tokens) <= room and (best < 0 or len(tokens) > len(self.pool[best][0])):
                    best = i
            if best < 0:
                return row
            row += self.pool.pop(best)[0]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


class Block(nn.Module):
    def __init__(self, C, n_head, smear=False):
        super().__init__()
        self.n_head = n_head
        # Smeared keys (Olsson et al. 2022): each head's key is a learned mix of its own and the previous position's.
        self.smear = nn.Parameter(torch.zeros(n_head)) if smear else None
        self.ln_1, self.ln_2 = nn.LayerNorm(C, eps=1e-5), nn.LayerNorm(C, eps=1e-5)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, 2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if self.smear is not None:
            mix = torch.sigmoid(self.smear)[None, :, None, None]
            k = mix * k + (1 - mix) * F.pad(k, (0, 0, 1, 0))[:, :, :T]
        q = q * cos[:T] + rotate_half(q) * sin[:T]
        k = k * cos[:T] + rotate_half(k) * sin[:T]
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # PyTorch < 2.0 (Debian's python3-torch)
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(C // self.n_head)).masked_fill(~causal, float("-inf")), -1) @ v
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab_size, C, L, n_head, n_positions=256, base=10000.0, prev=False, smear=False):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, C)
        # The library's ModelConfig.previousTokenEmbedding: x_t = wte[id_t] + wte[id_{t-1}] @ wte_prev ([in, out]).
        self.wte_prev = nn.Parameter(torch.empty(C, C)) if prev else None
        self.h = nn.ModuleList([Block(C, n_head, smear) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        hs = C // n_head
        inv_freq = 1.0 / (base ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
        angles = torch.outer(torch.arange(n_positions, dtype=torch.float64), inv_freq)
        emb = torch.cat((angles, angles), -1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        for name, p in self.named_parameters():  # GPT-2 init, as Transformer.init
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or name.startswith("ln_f"):
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight"):
                nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * L))
            elif name.endswith(".smear") or name == "wte_prev":
                nn.init.zeros_(p)  # wte_prev: zero here (the runs in docs/copying.md); the library draws it ~N(0, 0.02)
            else:
                nn.init.normal_(p, 0, 0.02)

    def forward(self, ids):
        x = self.wte(ids)
        if self.wte_prev is not None:
            x = x + F.pad(x @ self.wte_prev, (0, 0, 1, 0))[:, : ids.shape[1]]
        for block in self.h:
            x = block(x, self.cos, self.sin)
        return self.ln_f(x) @ self.wte.weight.T  # (B, T, V)


def learning_rate(step, steps, peak, warmup_ratio=0.05):
    warmup = math.ceil(warmup_ratio * steps)
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    progress = min(1, (step - warmup) / max(1, steps - warmup))
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def make_batch(rows, T, pad):
    inputs = torch.full((len(rows), T), pad, dtype=torch.long)
    targets = torch.full((len(rows), T), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), T)
    for b, row in enumerate(rows):
        n = len(row) - 1
        inputs[b, :n], targets[b, :n], mask[b, :n] = torch.tensor(row[:n]), torch.tensor(row[1:]), 1
    return inputs.to(DEVICE), targets.to(DEVICE), mask.to(DEVICE)


@torch.no_grad()
def perplexity(model, sequences, pad):
    windows = []
    for s in sequences:
        start = 0
        while True:
            windows.append(s[start:start + 257])
            start += 256
            if start + 1 >= len(s):
                break
    nll, count = 0.0, 0.0
    for i in range(0, len(windows), 32):
        group = windows[i:i + 32]
        inputs, targets, mask = make_batch(group, max(len(w) for w in group) - 1, pad)
        logprobs = torch.log_softmax(model(inputs).float(), -1).gather(-1, targets[..., None])[..., 0]
        nll -= (logprobs * mask).sum().item()
        count += mask.sum().item()
    return math.exp(nll / count)


@torch.no_grad()
def copy_probe(model, ev):
    """Teacher-forced greedy accuracy of the expression's later digits (scripts/pretrain/copy-probe.ts)."""
    digits, first, later, later_n = set(ev["digitIds"]), 0, 0, 0
    for it in ev["items"]:
        ids = it["promptIds"] + it["callIds"]
        predicted = model(torch.tensor([ids], device=DEVICE))[0].argmax(-1).tolist()
        start = len(it["promptIds"]) + it["exprStart"]
        for j in range(it["exprLen"]):
            target, guess = ids[start + j], predicted[start + j - 1]
            if j == 0:
                first += int(guess == target)
            elif target in digits:
                later_n, later = later_n + 1, later + int(guess == target)
    return first, later, later_n


@torch.no_grad()
def generate(model, prompts, max_new, greedy, temperature, im_end, generator):
    rows, done, outputs = [list(p) for p in prompts], [False] * len(prompts), [[] for _ in prompts]
    for _ in range(max_new):
        T = max(len(r) for r in rows)
        logits = model(torch.tensor([r + [0] * (T - len(r)) for r in rows], device=DEVICE)).float()
        last = logits[torch.arange(len(rows)), torch.tensor([len(r) - 1 for r in rows], device=DEVICE)]
        chosen = last.argmax(-1) if greedy else torch.multinomial(torch.softmax(last / temperature, -1), 1, generator=generator)[:, 0]
        for i, token in enumerate(chosen.tolist()):
            if done[i]:
                continue
            if token == im_end:
                done[i] = True
            else:
                outputs[i].append(token)
                rows[i].append(token)
        if all(done):
            break
    return outputs


@torch.no_grad()
def tool_eval(model, ev, samples, temperature=0.8):
    items, im_end, digits = ev["items"], ev["imEnd"], set(ev["digitIds"])
    call_probability = []
    for it in items:
        ids = it["promptIds"] + it["callIds"]
        logprobs = torch.log_softmax(model(torch.tensor([ids], device=DEVICE))[0].float() / temperature, -1)
        P, n = len(it["promptIds"]), len(it["callIds"])
        targets = torch.tensor(it["callIds"], device=DEVICE)[:, None]
        call_probability.append(math.exp(logprobs[P - 1:P - 1 + n].gather(-1, targets).sum().item()))

    def last_number(tokens):
        runs, current = [], []
        for t in tokens + [None]:
            if t in digits:
                current.append(t)
            elif current:
                runs, current = runs + [current], []
        return runs[-1] if runs else None

    generator = torch.Generator(device=DEVICE)
    generator.manual_seed(0)
    out = dict(pcall=sum(call_probability) / len(items))
    for mode, reps in (("greedy", 1), ("sampled", samples)):
        which = [k for k in range(len(items)) for _ in range(reps)]
        calls = generate(model, [items[k]["promptIds"] for k in which], max(len(it["callIds"]) for it in items) + 2, mode == "greedy", temperature, im_end, generator)
        answers = generate(model, [items[k]["afterTool"] for k in which], 20, mode == "greedy", temperature, im_end, generator)
        call_ok = [c == items[k]["callIds"] for c, k in zip(calls, which)]
        answer_ok = [last_number(a) == [t for t in items[k]["resultIds"] if t in digits] for a, k in zip(answers, which)]
        out[mode] = dict(call=sum(call_ok) / len(which), answer=sum(answer_ok) / len(which),
                         episode=sum(c and a for c, a in zip(call_ok, answer_ok)) / len(which))
    return out


def run(cfg, data):
    torch.manual_seed(cfg["seed"])
    rng, ev = random.Random(cfg["seed"]), data["eval"]
    pad = ev["pad"]
    model = GPT(ev["vocabSize"], cfg["C"], cfg["L"], cfg["H"], prev=cfg.get("prev_emb", False), smear=cfg.get("smear", False)).to(DEVICE)
    matrices = [p for p in model.parameters() if p.dim() == 2]
    others = [p for p in model.parameters() if p.dim() != 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}],
                                  lr=cfg["lr"], betas=(0.9, 0.95), eps=1e-8)
    corpus = Packer(data["train"], random.Random(cfg["seed"] + 100))
    drills = {name: Packer(data[name], random.Random(cfg["seed"] + 200 + i)) for i, name in enumerate(("drillA", "drillB"))}
    steps, started, history = cfg["steps"], time.time(), []
    for step in range(steps):
        T, B = (128, 8) if step < round(0.6 * steps) else (256, 4)
        f = cfg["f_early"] if step / steps < cfg["early"] else cfg["f"]
        rows = []
        for _ in range(B):
            if rng.random() < f:
                rows.append(drills[cfg["drill"] if cfg["drill"] != "AB" else rng.choice(("drillA", "drillB"))].row(T + 1))
            else:
                rows.append(corpus.row(T + 1))
        inputs, targets, mask = make_batch(rows, T, pad)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, cfg["lr"])
        logprobs = torch.log_softmax(model(inputs).float(), -1).gather(-1, targets[..., None])[..., 0]
        loss = -(logprobs * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % cfg["probe_every"] == 0:
            history.append((step + 1, copy_probe(model, ev)[1]))
    first, later, later_n = copy_probe(model, ev)
    result = dict(cfg=cfg, params=sum(p.numel() for p in model.parameters()), seconds=time.time() - started,
                  ppl=perplexity(model, data["heldout"], pad), ppl_chat=perplexity(model, data["heldout_chat"], pad),
                  first=first, later=later, laterN=later_n, hist=history)
    result.update(tool_eval(model, ev, int(os.environ.get("SAMPLES", 8))))
    return result


def chunk_numbers(data):
    """Re-tokenizes every run of digit tokens into chunks of up to three digits from the left, one new token each."""
    ev = data["eval"]
    V, digit_of, table = ev["vocabSize"], {t: str(i) for i, t in enumerate(ev["digitIds"])}, {}

    def chunk_id(text):
        return ev["digitIds"][int(text)] if len(text) == 1 else table.setdefault(text, V + len(table))

    def remap(sequence):
        out, run = [], ""
        for t in list(sequence) + [None]:
            if t in digit_of:
                run += digit_of[t]
                continue
            out += [chunk_id(run[k:k + 3]) for k in range(0, len(run), 3)]
            run = ""
            if t is not None:
                out.append(t)
        return out

    for name in ("train", "heldout", "heldout_chat", "drillA", "drillB"):
        data[name] = [remap(s) for s in data[name]]
    for it in ev["items"]:
        it["exprLen"] = len(remap(it["callIds"][it["exprStart"]:it["exprStart"] + it["exprLen"]]))
        for key in ("promptIds", "callIds", "afterTool", "resultIds"):
            it[key] = remap(it[key])
    ev["vocabSize"] = V + 1100
    ev["digitIds"] = ev["digitIds"] + list(range(V, V + 1100))


def default_grid():
    """The grid the model card quotes (97 of these 99 ran in the 7-minute budget: the last two seed-2 runs did not start)."""
    grid = []
    drills = [dict(drill="drillA", f=0.0), dict(drill="AB", f=0.3), dict(drill="drillB", f=0.3), dict(drill="drillA", f=0.15),
              dict(drill="drillA", f=0.3), dict(drill="drillB", f=0.15), dict(drill="AB", f=0.15, f_early=0.5, early=0.3)]
    for seed in (0, 1, 2):
        for d in drills:
            for shape in (dict(), dict(steps=2400), dict(L=4), dict(C=192)):
                grid.append(dict(DEFAULTS, seed=seed, **d, **shape))
        for extra in (dict(H=8, drill="AB", f=0.3), dict(lr=2e-3, drill="AB", f=0.3), dict(lr=5e-3, drill="AB", f=0.3),
                      dict(drill="AB", f=0.5), dict(L=4, steps=2400, drill="AB", f=0.3)):
            grid.append(dict(DEFAULTS, seed=seed, **extra))
    return grid


DATA = None


def worker(job):
    cfg, path = job
    torch.set_num_threads(1)
    if time.time() > DEADLINE:
        return
    try:
        result = run(cfg, DATA)
    except Exception as error:  # one failed run (e.g. out of memory) must not stop the sweep
        result = dict(cfg=cfg, error=repr(error))
    with open(path, "a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "hist"}), flush=True)


if __name__ == "__main__":
    data_dir, out_path, processes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    DATA = {name: load(data_dir, name) for name in ("train", "heldout", "heldout_chat", "drillA", "drillB")}
    with open(f"{data_dir}/eval.json") as fh:
        DATA["eval"] = json.load(fh)
    if os.environ.get("CHUNK") == "1":
        chunk_numbers(DATA)
    configs = [dict(DEFAULTS, **c) for c in json.loads(sys.argv[4])] if len(sys.argv) > 4 else default_grid()
    print(f"{len(configs)} runs on {DEVICE}", flush=True)
    with mp.get_context("fork").Pool(processes) as pool:  # the parent never touches CUDA, so forking is safe
        list(pool.imap_unordered(worker, [(c, out_path) for c in configs]))
