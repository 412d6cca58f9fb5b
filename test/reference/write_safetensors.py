"""Independent safetensors reference for test/model/safetensors*.test.ts and weights*.test.ts.

PyTorch 1.13 on this machine has no `safetensors` package, so this script writes and reads the
format by hand (struct + json + numpy), sharing no code with the TypeScript implementation.

Usage (with /usr/bin/python3):
  write_safetensors.py gen OUT_DIR     write reference files and the values they hold (JSON)
  write_safetensors.py dump FILE       print FILE's header and raw element bits as JSON (reader check)
"""
import json
import os
import struct
import sys

import numpy as np
import torch

np.seterr(all="ignore")  # casts that overflow to infinity are intended here

# ----------------------------------------------------------------------------------------------
# Writing, by hand


def write_safetensors(path, tensors, metadata=None, pad_header=False):
    """tensors: list of (name, dtype string, shape, raw little-endian bytes), stored in list order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad_header:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, raw in tensors:
            f.write(raw)


def f32_bits(array):
    return np.ascontiguousarray(array, dtype="<f4").view("<u4").ravel().tolist()


def raw(array, dtype):
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def known_tensors():
    """Tensors of every decodable dtype with hand-picked values; returns (file entries, expected)."""
    entries, expected = [], {}

    def add(name, dtype, shape, data_bytes, values):
        entries.append((name, dtype, shape, data_bytes))
        expected[name] = {"dtype": dtype, "shape": list(shape), **values}

    f32 = np.array([0.0, -0.0, 1.0, -1.5, 3.4028235e38, 1.1754944e-38, 1e-45, np.inf, -np.inf, np.nan, np.pi],
                   dtype=np.float32)
    add("f32_special", "F32", [11], raw(f32, "<f4"), {"bits": f32_bits(f32)})

    # Half precision: zero, -0, smallest subnormal (2^-24), largest subnormal, smallest normal,
    # 1, largest finite (65504), infinities, NaN, and ordinary values.
    f16_bits = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0x7C00, 0xFC00, 0x7E00,
                         0xC500, 0x3555, 0x8001, 0x83FF, 0x4248, 0x1234], dtype="<u2")
    f16 = f16_bits.view("<f2").reshape(2, 8)
    add("f16_special", "F16", [2, 8], f16_bits.tobytes(), {"bits": f32_bits(f16.astype(np.float32))})

    every_half = np.arange(65536, dtype=np.uint32).astype("<u2")
    add("f16_every_pattern", "F16", [65536], every_half.tobytes(),
        {"bits": f32_bits(every_half.view("<f2").astype(np.float32))})

    bf16 = torch.tensor([1.0, -2.5, 3.14159, 1e-40, 6.5e4, float("inf"), -0.0, 1e38], dtype=torch.bfloat16)
    bf16_bits = bf16.view(torch.int16).numpy().astype("<i2")
    add("bf16", "BF16", [8], bf16_bits.tobytes(), {"bits": f32_bits(bf16.float().numpy())})

    f64 = np.array([[0.1, -1e300], [1e-310, 2.0 / 3.0]], dtype=np.float64)
    add("f64", "F64", [2, 2], raw(f64, "<f8"), {"bits": f32_bits(f64.astype(np.float32))})

    i32 = np.array([[-2147483648, -1, 0], [1, 123456, 2147483647]], dtype=np.int32)
    add("i32", "I32", [2, 3], raw(i32, "<i4"), {"ints": i32.ravel().tolist()})
    i64 = np.array([-2147483648, -7, 0, 50256, 2147483647], dtype=np.int64)
    add("i64", "I64", [5], raw(i64, "<i8"), {"ints": i64.tolist()})
    i16 = np.array([-32768, -1, 32767], dtype=np.int16)
    add("i16", "I16", [3], raw(i16, "<i2"), {"ints": i16.tolist()})
    i8 = np.array([-128, 5, 127], dtype=np.int8)
    add("i8", "I8", [3], raw(i8, "i1"), {"ints": i8.tolist()})
    u8 = np.array([0, 200, 255], dtype=np.uint8)
    add("u8", "U8", [3], raw(u8, "u1"), {"ints": u8.tolist()})
    flags = np.array([True, False, True], dtype=np.bool_)
    add("mask", "BOOL", [3], flags.tobytes(), {"ints": flags.astype(np.int32).tolist()})

    scalar = np.array(-42.25, dtype=np.float32)
    add("scalar", "F32", [], raw(scalar, "<f4"), {"bits": f32_bits(scalar)})
    add("empty", "F32", [0, 3], b"", {"bits": []})
    return entries, expected


def f16_encoding_cases(rng):
    """float32 inputs and numpy's float16 encodings: random bits, many magnitudes, and exact ties."""
    random_bits = rng.randint(0, 2**32, size=4000, dtype=np.uint64).astype(np.uint32)
    randoms = random_bits.view(np.float32)
    randoms = randoms[~np.isnan(randoms)]  # NaN payload rules are tested separately
    magnitudes = (rng.choice([-1.0, 1.0], size=8000) *
                  np.exp2(rng.uniform(-27.0, 17.0, size=8000))).astype(np.float32)
    # Exactly halfway between two neighbouring halves (normal and subnormal): round-to-even decides.
    halves = rng.randint(0, 0x7BFF, size=3000).astype(np.uint16)
    low = halves.view(np.float16).astype(np.float32)
    high = (halves + 1).astype(np.uint16).view(np.float16).astype(np.float32)
    ties = ((low.astype(np.float64) + high.astype(np.float64)) / 2).astype(np.float32)
    edges = np.array([65504, 65519.996, 65520, 65536, 1e9, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001,
                      2.0**-26, 6.1035156e-05, 6.0975552e-05, 0.0, -0.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    values = np.concatenate([randoms, magnitudes, ties, -ties, edges]).astype(np.float32)
    return {"f32_bits": f32_bits(values), "f16_bits": values.astype(np.float16).view(np.uint16).tolist()}


TINY = {"vocab_size": 11, "n_positions": 8, "n_embd": 8, "n_layer": 2, "n_head": 2}


def gpt2_state_dict(rng, tied):
    """A GPT-2 state dict for the tiny config in GPT2LMHeadModel's own key order and layout."""
    V, P, C, L = TINY["vocab_size"], TINY["n_positions"], TINY["n_embd"], TINY["n_layer"]
    shapes = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for i in range(L):
        shapes += [(f"h.{i}.ln_1.weight", (C,)), (f"h.{i}.ln_1.bias", (C,)),
                   (f"h.{i}.attn.c_attn.weight", (C, 3 * C)), (f"h.{i}.attn.c_attn.bias", (3 * C,)),
                   (f"h.{i}.attn.c_proj.weight", (C, C)), (f"h.{i}.attn.c_proj.bias", (C,)),
                   (f"h.{i}.ln_2.weight", (C,)), (f"h.{i}.ln_2.bias", (C,)),
                   (f"h.{i}.mlp.c_fc.weight", (C, 4 * C)), (f"h.{i}.mlp.c_fc.bias", (4 * C,)),
                   (f"h.{i}.mlp.c_proj.weight", (4 * C, C)), (f"h.{i}.mlp.c_proj.bias", (C,))]
    shapes += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    params = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes}
    params["lm_head.weight"] = params["wte.weight"].copy() if tied else rng.standard_normal((V, C)).astype(np.float32)
    return params


def write_gpt2_folder(folder, params, tied, prefix, dtype, with_buffers):
    os.makedirs(folder, exist_ok=True)
    P = TINY["n_positions"]
    np_dtype = "<f4" if dtype == "F32" else "<f2"
    entries = []
    for name, value in params.items():
        key = name if name == "lm_head.weight" else prefix + name
        entries.append((key, dtype, value.shape, raw(value, np_dtype)))
        if with_buffers and name.endswith("ln_1.weight"):  # mask buffers, as old HF files store them
            layer = name.split(".")[1]
            causal = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
            entries.append((f"{prefix}h.{layer}.attn.bias", "F32", causal.shape, raw(causal, "<f4")))
            entries.append((f"{prefix}h.{layer}.attn.masked_bias", "F32", (), raw(np.array(-1e4), "<f4")))
    write_safetensors(os.path.join(folder, "model.safetensors"), entries, {"format": "pt"}, pad_header=True)
    config = dict(TINY, model_type="gpt2", n_inner=None, tie_word_embeddings=tied, bos_token_id=10, eos_token_id=10,
                  architectures=["GPT2LMHeadModel"], activation_function="gelu_new")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 10, "eos_token_id": 10, "max_new_tokens": 5}, f)
    stored = {name: value.astype(np_dtype).astype(np.float32) for name, value in params.items()
              if not (tied and name == "lm_head.weight")}
    return {name: {"shape": list(v.shape), "bits": f32_bits(v)} for name, v in stored.items()}


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.RandomState(1234)
    entries, expected = known_tensors()
    # Unpadded header and the entries in list order: data offsets are unaligned, unlike our writer's.
    metadata = {"format": "pt", "note": "written by write_safetensors.py"}
    write_safetensors(os.path.join(out_dir, "known.safetensors"), entries, metadata)
    too_big = np.array([1, 2**40], dtype=np.int64)
    write_safetensors(os.path.join(out_dir, "i64_overflow.safetensors"), [("ids", "I64", [2], raw(too_big, "<i8"))])
    gpt2 = {
        # GPT2LMHeadModel naming with mask buffers and a tied head equal to wte, stored F32.
        "tied": write_gpt2_folder(os.path.join(out_dir, "gpt2_tied"), gpt2_state_dict(rng, True), True,
                                  "transformer.", "F32", True),
        # GPT2Model naming (no prefix), an untied head, stored F16.
        "untied": write_gpt2_folder(os.path.join(out_dir, "gpt2_untied"), gpt2_state_dict(rng, False), False,
                                    "", "F16", False),
    }
    result = {"known": {"metadata": metadata, "tensors": expected},
              "f16_encoding": f16_encoding_cases(rng), "gpt2": gpt2, "tiny_config": TINY}
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(result, f)


# ----------------------------------------------------------------------------------------------
# Reading, by hand (to check files our writer produced)

DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I32": "<i4", "I64": "<i8"}
BITS = {"F32": "<u4", "F16": "<u2", "F64": "<u8", "I32": "<i4", "I64": "<i8"}


def dump(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header_text = data[8:8 + header_len].decode("utf-8")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), "duplicate keys"
        return dict(pairs)

    header = json.loads(header_text, object_pairs_hook=no_duplicates)
    buffer = data[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    order = sorted(header, key=lambda n: header[n]["data_offsets"][0])
    cursor = 0
    tensors = {}
    for name in order:
        info = header[name]
        begin, end = info["data_offsets"]
        assert begin == cursor, f"hole or overlap at {name}"
        cursor = end
        itemsize = np.dtype(DTYPES[info["dtype"]]).itemsize
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        assert end - begin == count * itemsize, f"byte length of {name}"
        tensors[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [begin, end],
                         "aligned": (8 + header_len + begin) % itemsize == 0,
                         "bits": np.frombuffer(buffer[begin:end], dtype=BITS[info["dtype"]]).tolist()}
    assert cursor == len(buffer), "trailing bytes"
    print(json.dumps({"header_len": header_len, "header_text": header_text, "metadata": metadata,
                      "order": order, "tensors": tensors}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        generate(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        sys.exit(__doc__)
