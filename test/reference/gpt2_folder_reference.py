"""Writes a Hugging Face GPT-2 model folder the way `GPT2LMHeadModel.save_pretrained` lays it out, with
reference logits, to check that our loader + transformer reproduce PyTorch from the files alone.

Usage: gpt2_folder_reference.py OUT_DIR
OUT_DIR/model/{config.json, model.safetensors} (safetensors written by hand: struct + json, F32,
`transformer.` prefix, the causal-mask buffers `h.{i}.attn.bias` included as HF's older checkpoints do)
and OUT_DIR/reference.json {inputIds, logits}.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from gpt2_reference import draw, forward, shapes  # noqa: E402


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    out = sys.argv[1]
    cfg = dict(vocabSize=96, nPositions=40, nEmbd=48, nLayer=3, nHead=6, layerNormEpsilon=1e-5, nInner=192, tieWordEmbeddings=True)
    gen = torch.Generator().manual_seed(7)
    weights = {n: draw(n, s, gen) for n, s in shapes(cfg).items()}
    ids = torch.randint(0, cfg["vocabSize"], (2, 20), generator=gen)
    logits = forward(cfg, {n: t.double() for n, t in weights.items()}, ids)

    model_dir = os.path.join(out, "model")
    os.makedirs(model_dir, exist_ok=True)
    state = {f"transformer.{n}": t for n, t in weights.items()}
    P = cfg["nPositions"]
    for i in range(cfg["nLayer"]):
        state[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
    write_safetensors(os.path.join(model_dir, "model.safetensors"), state)
    hf = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": cfg["vocabSize"], "n_positions": P,
          "n_ctx": P, "n_embd": cfg["nEmbd"], "n_layer": cfg["nLayer"], "n_head": cfg["nHead"], "n_inner": None,
          "activation_function": "gelu_new", "layer_norm_epsilon": cfg["layerNormEpsilon"], "tie_word_embeddings": True,
          "bos_token_id": 0, "eos_token_id": 1}
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(hf, f)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"inputIds": ids.tolist(), "logits": logits.detach().reshape(-1).tolist()}, f)


if __name__ == "__main__":
    main()
