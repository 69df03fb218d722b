#!/usr/bin/python3
"""pytorch_train.py - the Baby GPT training step in PyTorch, for `make bench` to compare with
nabla's bench/bench_train.c on the same machine in the same run.

The model is the one of examples/babygpt/model.c (and tools/reference/babygpt_parity.py):
token + learned position embeddings, dropout, pre-LayerNorm blocks of causal self-attention
(qkv Linear, causal softmax(q k^T / sqrt(D)) v, proj Linear, dropout) and a 4x GELU (tanh) MLP
(fc, gelu, proj, dropout), a final LayerNorm and an lm_head tied to the token embedding; GPT-2
initialisation. The step is the one of examples/babygpt/train.c: cross-entropy on a batch of
synthetic random tokens, backward, clip_grad_norm_(1.0), AdamW (betas 0.9/0.95, eps 1e-8,
weight decay 0.1 on tensors with >= 2 dims, 0 on the rest), zero_grad. A few warm-up steps are
taken first, then the timed ones.

Each (mode, config) runs in its own child process, so that each peak RSS is its own:
  tuned    as a strong user would run it: the child is started with
           `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=passive
            LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4` (OpenBLAS free to pick
           its AVX-512 kernels, no spinning OpenMP threads, tcmalloc), and AdamW with foreach=True;
  untuned  the environment as it is, default AdamW.

usage: bench/pytorch_train.py [--configs tiny,small,safe-pro] [--batch 8] [--steps 5]
                              [--warmup 2] [--threads 0] [--vocab 50257] [--modes tuned,untuned]
       --no-tune is the same as --modes untuned.
Prints one machine-readable line per run (bench/run.sh reads them):
  RESULT torch-<mode> <config> batch=<B> threads=<n> tokens_per_s=<x> step_s=<x> peak_rss_mb=<x>
Exit status: 0 when every run worked, 1 when one failed, 2 when PyTorch cannot be imported.
"""
import argparse
import math
import os
import subprocess
import sys
import time

CONFIGS = {  # name: (layers, heads, n_embd, context, dropout, lr), as examples/babygpt/model.c
    "tiny": (2, 2, 128, 64, 0.0, 1e-3),
    "small": (4, 4, 256, 128, 0.1, 6e-4),
    "safe-pro": (6, 6, 384, 192, 0.2, 3e-4),
}
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args):
    """One config in this process; prints the RESULT line. Returns the exit status."""
    import torch
    import torch.nn.functional as F

    n_layer, n_head, C, T, p_drop, lr = CONFIGS[args.config]
    V, B = args.vocab, args.batch
    threads = args.threads if args.threads > 0 else os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(1234)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = torch.nn.LayerNorm(C, eps=1e-5)
            self.qkv = torch.nn.Linear(C, 3 * C)
            self.proj = torch.nn.Linear(C, C)
            self.ln2 = torch.nn.LayerNorm(C, eps=1e-5)
            self.fc = torch.nn.Linear(C, 4 * C)
            self.mlp_proj = torch.nn.Linear(4 * C, C)
            self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1), persistent=False)

        def forward(self, x):
            b, t, _ = x.shape
            D = C // n_head
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (z.view(b, t, n_head, D).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
            att = F.softmax(att.masked_fill(self.mask[:t, :t], float("-inf")), dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, C)
            x = x + F.dropout(self.proj(y), p_drop, self.training)
            h = F.gelu(self.fc(self.ln2(x)), approximate="tanh")
            return x + F.dropout(self.mlp_proj(h), p_drop, self.training)

    class GPT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = torch.nn.Embedding(V, C)
            self.wpe = torch.nn.Embedding(T, C)
            self.blocks = torch.nn.ModuleList(Block() for _ in range(n_layer))
            self.ln_f = torch.nn.LayerNorm(C, eps=1e-5)
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    torch.nn.init.zeros_(p)
                elif p.dim() >= 2:
                    std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("proj.weight") else 0.02
                    torch.nn.init.normal_(p, 0.0, std)

        def forward(self, idx, targets):
            t = idx.shape[1]
            x = F.dropout(self.wte(idx) + self.wpe(torch.arange(t)), p_drop, self.training)
            for blk in self.blocks:
                x = blk(x)
            logits = self.ln_f(x) @ self.wte.weight.t()  # lm_head tied to wte
            return F.cross_entropy(logits.view(-1, V), targets.view(-1))

    model = GPT()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    kw = {"foreach": True} if args.mode == "tuned" else {}
    try:
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, **kw)
    except TypeError:  # an old PyTorch without foreach
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8)
    gen = torch.Generator().manual_seed(42)
    times, losses = [], []
    for s in range(args.warmup + args.steps):
        x = torch.randint(0, V, (B, T), generator=gen)
        y = torch.randint(0, V, (B, T), generator=gen)
        t0 = time.perf_counter()
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        lv = loss.item()
        dt = time.perf_counter() - t0
        losses.append(lv)
        if s >= args.warmup:
            times.append(dt)
    mean = sum(times) / len(times)
    tps = B * T / mean
    rss = peak_rss_mb()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"pytorch_train: {args.mode} {args.config} batch {B}: torch {torch.__version__}, "
          f"{threads} threads, {n_params} parameters: {tps:.0f} tokens/s, {mean:.4f} s/step "
          f"(best {min(times):.4f} s), peak RSS {rss:.0f} MB; loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(f"RESULT torch-{args.mode} {args.config} batch={B} threads={threads} tokens_per_s={tps:.1f} "
          f"step_s={mean:.4f} peak_rss_mb={rss:.0f}", flush=True)
    return 0


def child_env(mode):
    env = dict(os.environ)
    if mode == "tuned":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        env["OMP_WAIT_POLICY"] = "passive"
        if os.path.exists(TCMALLOC):
            pre = env.get("LD_PRELOAD", "")
            env["LD_PRELOAD"] = TCMALLOC + (" " + pre if pre else "")
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="tiny,small,safe-pro")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--modes", default="tuned,untuned")
    ap.add_argument("--no-tune", action="store_true", help="only the untuned run")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.vocab < 2:
        ap.error("--batch and --steps must be >= 1, --warmup >= 0, --vocab >= 2")
    if args.worker:
        return worker(args)
    try:
        import torch  # noqa: F401  (only to fail early with a clear line)
    except ImportError as e:
        print(f"pytorch_train: SKIP: cannot import torch ({e}); install python3-torch")
        return 2
    modes = ["untuned"] if args.no_tune else [m for m in args.modes.split(",") if m]
    configs = [c for c in args.configs.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config '{c}' (expected {', '.join(CONFIGS)})")
    for m in modes:
        if m not in ("tuned", "untuned"):
            ap.error(f"unknown mode '{m}' (expected tuned or untuned)")
    status = 0
    for mode in modes:
        if mode == "tuned" and not os.path.exists(TCMALLOC):
            print(f"pytorch_train: note: {TCMALLOC} is missing (libtcmalloc-minimal4): tuned runs "
                  "without tcmalloc")
        for c in configs:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode, "--config", c,
                   "--batch", str(args.batch), "--steps", str(args.steps), "--warmup",
                   str(args.warmup), "--threads", str(args.threads), "--vocab", str(args.vocab)]
            r = subprocess.run(cmd, env=child_env(mode))
            if r.returncode != 0:
                print(f"pytorch_train: {mode} {c} failed (exit {r.returncode})", flush=True)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
