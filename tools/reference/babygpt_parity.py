#!/usr/bin/python3
"""babygpt_parity.py - checks Baby GPT (nabla) against the same model in PyTorch.

How to run:
    make parity                       # builds tools/parity/parity.c, runs both
or by hand:
    build/parity/parity build/parity  # writes init/step1/adamw.safetensors
    /usr/bin/python3 tools/reference/babygpt_parity.py build/parity

Needs PyTorch (Debian's python3-torch) and numpy; reads safetensors by hand
(struct + json + numpy), so the `safetensors` module is not needed.

What it checks, with PyTorch computing in float64 from nabla's float32 initial
weights (so the reference is the exact answer and every difference is nabla's
float32 rounding or a bug):
  1. one forward/backward on batch 0: the logits, the loss and the gradient of
     every parameter (the tied wte/lm_head weight gets both contributions);
  2. 10 AdamW steps taken as examples/babygpt/train.c takes them: AdamW betas
     (0.9, 0.95), eps 1e-8, weight decay 0.1 on tensors with >= 2 dims and 0
     on the rest, clip_grad_norm_ at 1.0 (PyTorch adds 1e-6 to the norm; so
     does nabla), the warm-up + cosine schedule, a new batch each step. The
     10 losses, the learning rates and the grad norms before clipping are
     compared, and the final weights are reported.

Tolerance: for each tensor, the error of element i is
    |nabla_i - torch_i| / max(|torch_i|, floor),  floor = 1e-2 * max_j |torch_j|
(i.e. relative, but elements smaller than a hundredth of the tensor's largest
magnitude are measured against that floor instead of their own tiny size:
a weight gradient element is a sum over B*T positions of terms much larger
than itself, so float32 cancellation makes its own relative error
meaningless). Everything checked must have a max error <= 1e-4. As a
calibration, the table also shows the error of PyTorch itself in float32
(same weights, same batch) by the same measure: nabla's errors should be of
the same size. (With a floor of 1e-3 PyTorch's own float32 gradients miss
1e-4, at up to 1.9e-4, so that floor is too strict for any float32 code.) The final weights after 10 steps are
compared in absolute terms (<= 1e-4, against steps of up to 3e-3): AdamW's
update is nearly sign(grad) for tiny gradients, so it amplifies rounding there.

Prints one table and exits 0 when everything agrees, 1 on a mismatch, 2 when
the files are missing or malformed.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

RTOL = 1e-4
FLOOR = 1e-2
PARAM_ATOL = 1e-4
DTYPES = {"F32": np.float32, "I32": np.int32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata dict) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError(f"{path}: header length {hlen} runs past the end of the file")
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        shape = tuple(info["shape"])
        arr = np.frombuffer(raw[base + start:base + end], dtype=np.dtype(dt).newbyteorder("<"))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name}: {arr.size} values for shape {shape}")
        out[name] = arr.reshape(shape).copy()
    return out, meta


class Block(torch.nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln1 = torch.nn.LayerNorm(C, eps=1e-5)
        self.attn = torch.nn.Module()
        self.attn.qkv = torch.nn.Linear(C, 3 * C)
        self.attn.proj = torch.nn.Linear(C, C)
        self.ln2 = torch.nn.LayerNorm(C, eps=1e-5)
        self.mlp = torch.nn.Module()
        self.mlp.fc = torch.nn.Linear(C, 4 * C)
        self.mlp.proj = torch.nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        H, D = self.H, C // self.H
        q, k, v = self.attn.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # [B,H,T,D]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn.proj(y)
        return x + self.mlp.proj(F.gelu(self.mlp.fc(self.ln2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, V = cfg["n_embd"], cfg["vocab_size"]
        self.wte = torch.nn.Embedding(V, C)
        self.wpe = torch.nn.Embedding(cfg["block_size"], C)
        self.blocks = torch.nn.ModuleList(Block(C, cfg["n_head"]) for _ in range(cfg["n_layer"]))
        self.ln_f = torch.nn.LayerNorm(C, eps=1e-5)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.t()  # lm_head tied to wte, no bias

    def loss(self, idx, targets):
        logits = self.forward(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_model(cfg, init, dtype):
    """A GPT in `dtype` holding nabla's initial weights; ValueError on a name/shape mismatch."""
    model = GPT(cfg).to(dtype)
    params = dict(model.named_parameters())
    if set(params) != set(init):
        raise ValueError(f"parameter names differ: only in torch {sorted(set(params) - set(init))}, "
                         f"only in nabla {sorted(set(init) - set(params))}")
    with torch.no_grad():
        for name, p in params.items():
            if tuple(p.shape) != init[name].shape:
                raise ValueError(f"{name}: shape {init[name].shape} in nabla, {tuple(p.shape)} here")
            p.copy_(torch.from_numpy(init[name]).to(dtype))
    return model, params


def step_one(model, params, x, y):
    """Logits, loss and every gradient (float64 numpy) of one forward/backward."""
    with torch.no_grad():
        logits = model(x)
    loss = model.loss(x, y)
    loss.backward()
    out = {"logits": logits.double().numpy(), "loss": loss.detach().double().numpy().reshape(1)}
    for name, p in params.items():
        out[name] = p.grad.double().numpy()
    return out


def lr_at(step, lr, min_lr, warmup, total):
    """The schedule documented in include/nabla/nn.h (nb_lr_warmup_cosine)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    ratio = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def rel_err(got, ref):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return math.inf, math.inf
    diff = np.abs(got - ref)
    floor = max(FLOOR * float(np.max(np.abs(ref))), 1e-30)
    return float(np.max(diff / np.maximum(np.abs(ref), floor))), float(np.max(diff))


class Table:
    def __init__(self):
        self.rows, self.failed = [], 0

    def add(self, what, got, ref, tol=RTOL, absolute=False, ref32=None):
        rel, ab = rel_err(got, ref)
        err = ab if absolute else rel
        ok = err <= tol
        self.failed += not ok
        t32 = rel_err(ref32, ref)[0] if ref32 is not None else None
        self.rows.append((what, rel, ab, float(np.max(np.abs(ref))), t32, tol, ok, absolute))

    def print(self):
        print(f"{'quantity':50s} {'max rel err':>11s} {'torch f32':>10s} {'max abs err':>11s}"
              f" {'max |ref|':>10s} {'tol':>8s}  result")
        for what, rel, ab, mx, t32, tol, ok, absolute in self.rows:
            tag = "abs" if absolute else "rel"
            t32s = f"{t32:10.3e}" if t32 is not None else f"{'-':>10s}"
            print(f"{what:50s} {rel:11.3e} {t32s} {ab:11.3e} {mx:10.3e} {tag}{tol:5.0e}  "
                  f"{'ok' if ok else 'MISMATCH'}")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "build/parity"
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    try:
        init, meta = read_safetensors(os.path.join(folder, "init.safetensors"))
        step1, _ = read_safetensors(os.path.join(folder, "step1.safetensors"))
        adamw, _ = read_safetensors(os.path.join(folder, "adamw.safetensors"))
        cfg = json.loads(meta["config"])
    except (OSError, ValueError, KeyError) as e:
        print(f"babygpt_parity: cannot read the nabla files in {folder}: {e}", file=sys.stderr)
        return 2
    if cfg.get("dropout", 0) != 0:
        print("babygpt_parity: the model must have dropout 0", file=sys.stderr)
        return 2
    try:
        model, params = make_model(cfg, init, torch.float64)
    except ValueError as e:
        print(f"babygpt_parity: {e}", file=sys.stderr)
        return 2
    xs = torch.from_numpy(step1["x"].astype(np.int64))
    ys = torch.from_numpy(step1["y"].astype(np.int64))
    n_steps = xs.shape[0]
    print(f"babygpt_parity: torch {torch.__version__} (float64 reference); model {cfg['n_layer']} layers, "
          f"{cfg['n_head']} heads, n_embd {cfg['n_embd']}, context {cfg['block_size']}, vocab "
          f"{cfg['vocab_size']}; batch {tuple(xs.shape[1:])}, {n_steps} AdamW steps")

    # 1. one forward/backward on batch 0, in float64 (the reference) and float32 (calibration)
    ref = step_one(model, params, xs[0], ys[0])
    r32 = step_one(*make_model(cfg, init, torch.float32), xs[0], ys[0])
    tab = Table()
    tab.add("logits [B,T,V]", step1["logits"], ref["logits"], ref32=r32["logits"])
    tab.add("loss (step 1)", step1["loss"], ref["loss"], ref32=r32["loss"])
    for name in params:
        tab.add(f"grad {name}", step1[f"grad.{name}"], ref[name], ref32=r32[name])

    # 2. AdamW steps as train.c: a fresh model from the same weights
    model, params = make_model(cfg, init, torch.float64)
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    lr_peak = cfg["lr"]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr_peak, betas=(0.9, 0.95), eps=1e-8)
    warmup = min(n_steps // 10, 100)
    losses, norms, lrs = [], [], []
    for s in range(n_steps):
        lr = lr_at(s, lr_peak, lr_peak / 10, warmup, n_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model.loss(xs[s], ys[s])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
        lrs.append(lr)
    tab.add(f"learning rates ({n_steps} steps)", adamw["lrs"], np.array(lrs))
    tab.add(f"grad norms before clipping ({n_steps} steps)", adamw["grad_norms"], np.array(norms))
    for s in range(n_steps):
        tab.add(f"AdamW step {s} loss", adamw["losses"][s:s + 1], np.array(losses[s:s + 1]))
    for name, p in params.items():
        tab.add(f"weights {name} after {n_steps} steps", adamw[f"final.{name}"],
                p.detach().numpy(), tol=PARAM_ATOL, absolute=True)
    tab.print()
    print()
    print(f"{'step':>4s} {'lr':>10s} {'loss nabla':>12s} {'loss torch':>12s} {'rel err':>10s}"
          f" {'norm nabla':>11s} {'norm torch':>11s}")
    for s in range(n_steps):
        n_loss = float(adamw["losses"][s])
        print(f"{s:4d} {lrs[s]:10.3e} {n_loss:12.6f} {losses[s]:12.6f} "
              f"{abs(n_loss - losses[s]) / abs(losses[s]):10.2e} {float(adamw['grad_norms'][s]):11.5f}"
              f" {norms[s]:11.5f}{'  clipped' if norms[s] > 1.0 else ''}")
    print()
    if tab.failed:
        print(f"babygpt_parity: FAILED: {tab.failed} of {len(tab.rows)} quantities differ from PyTorch")
        return 1
    print(f"babygpt_parity: OK: all {len(tab.rows)} quantities agree with PyTorch "
          f"(relative tolerance {RTOL:g}, floor {FLOOR:g} x max|ref|; final weights abs {PARAM_ATOL:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
