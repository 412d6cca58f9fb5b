"""A Hugging Face GPT-NeoX model folder (the layout of our rotary models) and its logits, in PyTorch.

Usage:
  neox_folder_reference.py write OUT_DIR
      OUT_DIR/model/{config.json, model.safetensors} laid out as `GPTNeoXForCausalLM.save_pretrained`
      does (nn.Linear [out, in] weights, q|k|v interleaved per head, an untied `embed_out`, and the
      `rotary_emb.inv_freq` buffers older checkpoints carry), plus OUT_DIR/reference.json {inputIds, logits}.
  neox_folder_reference.py logits MODEL_DIR IDS_JSON OUT_JSON
      Reads any such folder (e.g. one our saveModelFolder wrote) and writes the logits for IDS_JSON.

The forward pass follows GPT-NeoX's own definition (float64, causal, rotate-half RoPE on whole heads,
sequential residual, tanh GELU); it is written from the NeoX layout, independently of the TypeScript code.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from gpt2_folder_reference import write_safetensors  # noqa: E402

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2)}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, _ = DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(body[start:end]), dtype=dtype).reshape(info["shape"]).double()
    return out


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(cfg, p, ids):
    B, T = ids.shape
    C, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hs = C // nh
    eps = cfg["layer_norm_eps"]
    inv_freq = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    angles = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = p["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        w = lambda n: p[f"gpt_neox.layers.{i}.{n}"]
        h = F.layer_norm(x, (C,), w("input_layernorm.weight"), w("input_layernorm.bias"), eps)
        qkv = F.linear(h, w("attention.query_key_value.weight"), w("attention.query_key_value.bias"))
        qkv = qkv.view(B, T, nh, 3 * hs).transpose(1, 2)  # (B, nh, T, 3hs): per head q | k | v
        q, k, v = qkv[..., :hs], qkv[..., hs:2 * hs], qkv[..., 2 * hs:]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        att = torch.softmax(((q @ k.transpose(-1, -2)) / math.sqrt(hs)).masked_fill(~causal, float("-inf")), -1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, w("attention.dense.weight"), w("attention.dense.bias"))
        h = F.layer_norm(x, (C,), w("post_attention_layernorm.weight"), w("post_attention_layernorm.bias"), eps)
        h = F.gelu(F.linear(h, w("mlp.dense_h_to_4h.weight"), w("mlp.dense_h_to_4h.bias")), approximate="tanh")
        x = x + F.linear(h, w("mlp.dense_4h_to_h.weight"), w("mlp.dense_4h_to_h.bias"))
    x = F.layer_norm(x, (C,), p["gpt_neox.final_layer_norm.weight"], p["gpt_neox.final_layer_norm.bias"], eps)
    head = p["gpt_neox.embed_in.weight"] if cfg["tie_word_embeddings"] else p["embed_out.weight"]
    return x @ head.T


def write(out):
    cfg = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": 90, "hidden_size": 48,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 120, "hidden_act": "gelu_new",
           "rotary_pct": 1.0, "rotary_emb_base": 500, "max_position_embeddings": 40, "layer_norm_eps": 1e-5,
           "use_parallel_residual": False, "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1}
    C, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    shapes = {"gpt_neox.embed_in.weight": [V, C], "gpt_neox.final_layer_norm.weight": [C],
              "gpt_neox.final_layer_norm.bias": [C], "embed_out.weight": [V, C]}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"gpt_neox.layers.{i}."
        shapes.update({pre + "input_layernorm.weight": [C], pre + "input_layernorm.bias": [C],
                       pre + "attention.query_key_value.weight": [3 * C, C], pre + "attention.query_key_value.bias": [3 * C],
                       pre + "attention.dense.weight": [C, C], pre + "attention.dense.bias": [C],
                       pre + "post_attention_layernorm.weight": [C], pre + "post_attention_layernorm.bias": [C],
                       pre + "mlp.dense_h_to_4h.weight": [I, C], pre + "mlp.dense_h_to_4h.bias": [I],
                       pre + "mlp.dense_4h_to_h.weight": [C, I], pre + "mlp.dense_4h_to_h.bias": [C]})
    gen = torch.Generator().manual_seed(11)
    weights = {}
    for name, shape in shapes.items():
        noise = torch.randn(shape, generator=gen, dtype=torch.float32)
        if "layernorm.weight" in name or "layer_norm.weight" in name:
            weights[name] = 1.0 + 0.1 * noise
        elif name.endswith(".bias"):
            weights[name] = 0.05 * noise
        elif name in ("gpt_neox.embed_in.weight", "embed_out.weight"):
            weights[name] = 0.3 * noise
        else:
            weights[name] = 0.15 * noise
    ids = torch.randint(0, V, (2, 24), generator=gen)
    logits = forward(cfg, {n: t.double() for n, t in weights.items()}, ids)
    model_dir = os.path.join(out, "model")
    os.makedirs(model_dir, exist_ok=True)
    hs = C // cfg["num_attention_heads"]
    state = dict(weights)
    for i in range(cfg["num_hidden_layers"]):
        state[f"gpt_neox.layers.{i}.attention.rotary_emb.inv_freq"] = 1.0 / (500 ** (torch.arange(0, hs, 2).float() / hs))
    write_safetensors(os.path.join(model_dir, "model.safetensors"), state)
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"inputIds": ids.tolist(), "logits": logits.reshape(-1).tolist()}, f)


def logits_of(model_dir, ids_json, out_json):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    p = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    with open(ids_json) as f:
        ids = torch.tensor(json.load(f))
    with open(out_json, "w") as f:
        json.dump(forward(cfg, p, ids).reshape(-1).tolist(), f)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        logits_of(sys.argv[2], sys.argv[3], sys.argv[4])
