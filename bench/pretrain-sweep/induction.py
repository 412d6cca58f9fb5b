"""Does the tiny-chat model learn in-context copying (an induction circuit) from induction rows?

The copy probe says the built-in model copies the user's numbers badly; `npm run copy-drill -- --steps 0
--drill-rows 0 --induction-rows 1` says it does not copy *anything* in context: on rows of random token
runs followed by their exact repeat it predicts 12 of 451 repeated tokens (chance). This script trains
the pretrain_sweep.py replica of `npm run pretrain` (same model, optimizer, schedule, rows) from scratch
with a fraction `fi` of such induction rows (loss on the repeats only; half the runs number-like, from
digits, a space and the operators, half from the first ALPHABET ordinary tokens) and reports, every
`every` steps, the greedy accuracy on the repeats of 4 fixed induction rows (`ind`) and the copy probe.

`prev` hand-sets head 0 of layer 0 (`heads` heads) to a previous-token head at init: its query and key
weights are zeroed and their biases chosen so that the rotary score peaks at offset 1 (key_i = a e^{j
theta_i}, query_i = a); a = 12 puts all the attention on the previous position (checked at init). An
induction circuit is a previous-token head composed with a head that matches it, so this removes half of
what has to be found.

    ALPHABET=64 /usr/bin/python3 bench/pretrain-sweep/induction.py '{"fi": 1.0, "steps": 1500, "prev": 12}'

Runs on a CPU (one thread, ~0.3-0.5 s a step here) on the data of `npm run sweep:export` in ./sweepdata.
Config keys and defaults: the replica's C, L, H, lr, steps, plus f (drillA rows), fi, fi_early, early,
seed, every, prev, heads, tool (also run the tool_agent episode evaluation), save (a state-dict path),
prev_emb (the library's previous-token embedding, ModelConfig.previousTokenEmbedding) and smear (smeared
keys: each head's key a learned mix of its own and the previous position's, Olsson et al. 2022).
"""
import json
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pretrain_sweep as ps  # noqa: E402

# tiny-chat token ids: the digits 0-9, " ", " +", " -", " *", " =" (number-like runs); 256-258 are its special tokens.
NUMBERISH = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 32, 411, 492, 529, 466]
ORDINARY = [i for i in range(2048) if i not in (256, 257, 258)][: int(os.environ.get("ALPHABET", 2045))]

def induction_row(rng, n):
    row, copied = [], []
    while len(row) < n:
        alphabet = NUMBERISH if rng.random() < 0.5 else ORDINARY
        run = [rng.choice(alphabet) for _ in range(6 + rng.randrange(20))]
        row += run + run
        copied += [False] * len(run) + [False] + [True] * (len(run) - 1)
    return row[:n], copied[:n]

@torch.no_grad()
def induction_acc(model, rows):
    right = total = 0
    for row, copied in rows:
        pred = model(torch.tensor([row[:-1]]))[0].argmax(-1).tolist()
        for t in range(len(row) - 1):
            if copied[t + 1]:
                total += 1; right += int(pred[t] == row[t + 1])
    return right / total

@torch.no_grad()
def prev_token_init(model, a, heads):
    """Head h < heads of layer 0 attends to the previous position: q, k weights zero, biases set so
    that the rotary score peaks at offset 1 (k_i = a e^{j theta_i}, q_i = a)."""
    block = model.h[0]
    C = block.c_attn.weight.shape[1]; hs = C // block.n_head; half = hs // 2
    theta = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    for h in range(heads):
        q0, k0 = h * hs, C + h * hs
        block.c_attn.weight[q0:q0 + hs].zero_(); block.c_attn.weight[k0:k0 + hs].zero_()
        qb = torch.zeros(hs, dtype=torch.float64); kb = torch.zeros(hs, dtype=torch.float64)
        qb[:half] = a
        kb[:half] = a * torch.cos(theta); kb[half:] = a * torch.sin(theta)
        block.c_attn.bias[q0:q0 + hs] = qb.float(); block.c_attn.bias[k0:k0 + hs] = kb.float()

def run(cfg, data):
    torch.manual_seed(cfg["seed"]); torch.set_num_threads(1)
    rng, ev = random.Random(cfg["seed"]), data["eval"]
    pad = ev["pad"]
    model = ps.GPT(ev["vocabSize"], cfg["C"], cfg["L"], cfg["H"], prev=cfg.get("prev_emb", False), smear=cfg.get("smear", False))
    if cfg.get("prev"):
        prev_token_init(model, cfg["prev"], cfg.get("heads", 1))
    matrices = [p for p in model.parameters() if p.dim() == 2]; others = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}], lr=cfg["lr"], betas=(0.9, 0.95), eps=1e-8)
    corpus = ps.Packer(data["train"], random.Random(cfg["seed"] + 100))
    drill = ps.Packer(data["drillA"], random.Random(cfg["seed"] + 200))
    probe_rows = [induction_row(random.Random(999 + i), 257) for i in range(4)]
    steps, t0 = cfg["steps"], time.time()
    for step in range(steps):
        T, B = (128, 8) if step < round(0.6 * steps) else (256, 4)
        fi = cfg["fi_early"] if step / steps < cfg["early"] else cfg["fi"]
        rows, masks = [], []
        for _ in range(B):
            u = rng.random()
            if u < fi:
                r, c = induction_row(rng, T + 1); rows.append(r); masks.append(c)
            elif u < fi + cfg["f"]:
                rows.append(drill.row(T + 1)); masks.append(None)
            else:
                rows.append(corpus.row(T + 1)); masks.append(None)
        inputs, targets, mask = ps.make_batch(rows, T, pad)
        for b, c in enumerate(masks):
            if c is not None:
                mask[b, :T] = torch.tensor([1.0 if c[t + 1] else 0.0 for t in range(T)])
        for g in opt.param_groups: g["lr"] = ps.learning_rate(step, steps, cfg["lr"])
        logprobs = torch.log_softmax(model(inputs).float(), -1).gather(-1, targets[..., None])[..., 0]
        loss = -(logprobs * mask).sum() / mask.sum()
        opt.zero_grad(set_to_none=True); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        if (step + 1) % cfg["every"] == 0:
            f, l, n = ps.copy_probe(model, ev)
            print(json.dumps(dict(tag=cfg["tag"], step=step + 1, s=round(time.time() - t0), ind=round(induction_acc(model, probe_rows), 3), first=f, later=l)), flush=True)
    out = dict(tag=cfg["tag"], cfg=cfg, ppl=ps.perplexity(model, data["heldout"], pad), ppl_chat=ps.perplexity(model, data["heldout_chat"], pad), probe=ps.copy_probe(model, ev), ind=induction_acc(model, probe_rows))
    if cfg.get("tool"): out.update(ps.tool_eval(model, ev, 4))
    print(json.dumps(out), flush=True)
    if cfg.get("save"): torch.save(model.state_dict(), cfg["save"])

if __name__ == "__main__":
    d = os.environ.get("SWEEP_DATA", "sweepdata")
    data = {n: ps.load(d, n) for n in ("train", "heldout", "heldout_chat", "drillA")}
    data["eval"] = json.load(open(f"{d}/eval.json"))
    cfg = dict(C=128, L=3, H=4, lr=3e-3, steps=1600, f=0.0, fi=0.0, fi_early=0.0, early=0.0, seed=0, every=100, tag="x")
    cfg.update(json.loads(sys.argv[1]))
    run(cfg, data)
