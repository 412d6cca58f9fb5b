"""Writes a replica state dict (`torch.save` of pretrain_sweep.GPT) as our parameter layout, for
`npm run sweep:import`: DIR/weights.json ({name: {shape, offset}}, offsets in floats) and DIR/weights.bin
(float32, little-endian). Names and orientations become the library's (GPT-2 Conv1D: [in, out]).

    /usr/bin/python3 bench/pretrain-sweep/export_weights.py model.pt DIR
"""
import json
import os
import sys

import numpy as np
import torch

RENAME = {"c_attn": "attn.c_attn", "c_proj": "attn.c_proj", "c_fc": "mlp.c_fc", "mlp_proj": "mlp.c_proj"}


def our_name(name):
    if name == "wte_prev":  # already [in, out]
        return "wte_prev.weight"
    parts = name.split(".")
    if parts[0] == "h" and parts[2] in RENAME:
        parts[2] = RENAME[parts[2]]
    return ".".join(parts)


def main(state_path, out_dir):
    state = torch.load(state_path, map_location="cpu")
    os.makedirs(out_dir, exist_ok=True)
    index, chunks, offset = {}, [], 0
    for name, tensor in state.items():
        array = tensor.detach().float().numpy()
        if name.endswith(".weight") and array.ndim == 2 and name != "wte.weight":
            array = array.T  # nn.Linear keeps [out, in]; the library keeps [in, out]
        array = np.ascontiguousarray(array, dtype="<f4")
        index[our_name(name)] = {"shape": list(array.shape), "offset": offset}
        chunks.append(array.reshape(-1))
        offset += array.size
    np.concatenate(chunks).tofile(os.path.join(out_dir, "weights.bin"))
    with open(os.path.join(out_dir, "weights.json"), "w") as fh:
        json.dump(index, fh)
    print(f"wrote {len(index)} tensors, {offset} floats, to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
