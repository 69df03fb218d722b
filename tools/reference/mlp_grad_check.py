#!/usr/bin/env python3
"""Checks nabla's gradients for a two-layer MLP against PyTorch.

Run:  build/examples/mlp_grad /tmp/mlp.safetensors && /usr/bin/python3 tools/reference/mlp_grad_check.py /tmp/mlp.safetensors
(tools/install_check.sh does both, with the program built from an installed nabla.)
Reads the inputs and weights nabla used, recomputes loss and gradients with
torch (float64), and fails when any relative error exceeds 1e-4.
Needs PyTorch (Debian's python3-torch) and numpy; the safetensors file is
parsed by hand (8-byte header length, JSON header, raw little-endian data)."""
import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "I32": np.int32}[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(info["shape"])
    return out


def main():
    t = read_safetensors(sys.argv[1])
    d = torch.float64
    x = torch.tensor(t["x"], dtype=d)
    y = torch.tensor(t["y"].astype(np.int64))
    p = {k: torch.tensor(t[k], dtype=d, requires_grad=True) for k in ("w1", "b1", "w2", "b2")}
    h = torch.tanh(x @ p["w1"] + p["b1"])
    loss = torch.nn.functional.cross_entropy(h @ p["w2"] + p["b2"], y)
    loss.backward()
    worst = abs(loss.item() - float(t["loss"])) / max(abs(loss.item()), 1e-12)
    print(f"loss      nabla {float(t['loss']):.8f}  torch {loss.item():.8f}  rel {worst:.2e}")
    for k in ("w1", "b1", "w2", "b2"):
        ref = p[k].grad.numpy()
        got = t[k + ".grad"].astype(np.float64)
        rel = np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-6))
        worst = max(worst, rel)
        print(f"{k + '.grad':9s} max relative error {rel:.2e}")
    ok = worst <= 1e-4
    print("PASS" if ok else "FAIL", f"(worst {worst:.2e}, tolerance 1e-4)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
