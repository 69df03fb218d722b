"""bench/pytorch_linalg.py - PyTorch's side of bench/bench_linalg.c: the same linear algebra, timed
the same way (best of the repetitions after one warm-up; forward under no_grad, then forward +
backward of sum(y * r)), printed one line per case: name, forward ms, forward+backward ms.
bench_linalg runs it and prints the ratios.

usage: /usr/bin/python3 bench/pytorch_linalg.py [repetitions] [threads]
(run with Debian's python3-torch 1.13 on the CPU for docs/performance.md)"""
import sys
import time

try:
    import torch
except ImportError as e:
    print(f"no PyTorch ({e})")
    sys.exit(0)

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))

CASES = [  # name, op, A's shape, right-hand-side columns
    ("solve_b256", "solve", (256, 8, 8), 4),
    ("solve_64", "solve", (64, 64), 16),
    ("solve_256", "solve", (256, 256), 16),
    ("inv_128", "inv", (128, 128), 0),
    ("det_b1024", "det", (1024, 4, 4), 0),
    ("chol_256", "chol", (256, 256), 0),
    ("eigh_b512", "eigh", (512, 6, 6), 0),
    ("eigh_64", "eigh", (64, 64), 0),
    ("eigh_v128", "eighv", (128, 128), 0),
    ("qr_128x64", "qr", (128, 64), 0),
    ("svd_64x32", "svd", (64, 32), 0),
    ("pinv_64x32", "pinv", (64, 32), 0),
]


def run(op, x, b):
    if op == "solve":
        return torch.linalg.solve(x, b)
    if op == "inv":
        return torch.linalg.inv(x)
    if op == "det":
        return torch.linalg.det(x)
    if op in ("chol", "eigh", "eighv"):
        n = x.shape[-1]
        s = x @ x.transpose(-1, -2) / n + torch.eye(n)
        if op == "eighv":
            w, v = torch.linalg.eigh(s)
            return v + w.unsqueeze(-2)
        return torch.linalg.cholesky(s) if op == "chol" else torch.linalg.eigvalsh(s)
    if op == "qr":
        return torch.linalg.qr(x)[0]
    if op == "svd":
        return torch.linalg.svdvals(x)
    return torch.linalg.pinv(x)


torch.manual_seed(1)
for name, op, shape, k in CASES:
    n = shape[-1]
    x = torch.randn(shape) / n**0.5
    if op in ("solve", "inv", "det"):
        x = x + 2 * torch.eye(n)
    x.requires_grad_(True)
    b = torch.randn(shape[:-1] + (k,), requires_grad=True) if k else None
    r = torch.randn(run(op, x, b).shape)
    fwd = both = float("inf")
    for i in range(reps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            run(op, x, b)
        t1 = time.perf_counter()
        x.grad = None
        if b is not None:
            b.grad = None
        t2 = time.perf_counter()
        (run(op, x, b) * r).sum().backward()
        t3 = time.perf_counter()
        if i:
            fwd, both = min(fwd, (t1 - t0) * 1e3), min(both, (t3 - t2) * 1e3)
    print(f"{name} {fwd:.3f} {both:.3f}", flush=True)
