"""bench/pytorch_reduce.py - PyTorch's side of bench/bench_reduce.c: the same reductions, timed the
same way (best of the repetitions after one warm-up; forward under no_grad, then forward +
backward of sum(y * r)), printed one line per case: name, forward ms, forward+backward ms.
bench_reduce runs it and prints the ratios.

usage: /usr/bin/python3 bench/pytorch_reduce.py [repetitions] [threads]
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

CASES = [  # name, shape, op, dims (None: all)
    ("sum_all", (4194304,), "sum", None),
    ("cols2", (1048576, 2), "sum", (0,)),
    ("cols8", (262144, 8), "sum", (0,)),
    ("bias384", (6144, 384), "sum", (0,)),
    ("rows1024", (4096, 1024), "sum", (1,)),
    ("mid", (64, 512, 64), "sum", (1,)),
    ("bn_mean", (32, 64, 1024), "mean", (0, 2)),
    ("max_cols4", (1048576, 4), "max", (0,)),
    ("max_rows", (4096, 1024), "max", (1,)),
]


def run(x, op, dims):
    if dims is None:
        return x.sum()
    if op == "max":
        return x.amax(dim=dims)
    return (x.sum if op == "sum" else x.mean)(dim=dims)


torch.manual_seed(1)
for name, shape, op, dims in CASES:
    x = torch.randn(shape, requires_grad=True)
    r = torch.randn(run(x, op, dims).shape)
    fwd = both = float("inf")
    for i in range(reps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            run(x, op, dims)
        t1 = time.perf_counter()
        x.grad = None
        t2 = time.perf_counter()
        (run(x, op, dims) * r).sum().backward()
        t3 = time.perf_counter()
        if i:
            fwd, both = min(fwd, (t1 - t0) * 1e3), min(both, (t3 - t2) * 1e3)
    print(f"{name} {fwd:.3f} {both:.3f}", flush=True)
