"""bench/pytorch_conv.py - PyTorch's side of bench/bench_conv.c: the same convolutions and
pooling, timed the same way (best of the repetitions after one warm-up; forward under no_grad,
then forward + backward of sum(y * r)), printed one line per shape: name, forward ms,
forward+backward ms. bench_conv runs it and prints the ratios.

usage: /usr/bin/python3 bench/pytorch_conv.py [repetitions] [threads]
(run with Debian's python3-torch 1.13 on the CPU for docs/performance.md)"""
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"no PyTorch ({e})")
    sys.exit(0)

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))

SHAPES = [  # name, x, w (None: 2x2 max pooling), keyword arguments, bias
    ("conv3x3", (16, 32, 32, 32), (64, 32, 3, 3), dict(padding=1), True),
    ("conv5x5s2", (16, 16, 64, 64), (32, 16, 5, 5), dict(stride=2, padding=2), False),
    ("depthwise", (16, 64, 32, 32), (64, 1, 3, 3), dict(padding=1, groups=64), True),
    ("conv1d", (32, 64, 256), (64, 64, 5), dict(padding=2), True),
    ("maxpool", (16, 64, 32, 32), None, {}, False),
]


def run(x, w, b, kw):
    if w is None:
        return F.max_pool2d(x, 2)
    return (F.conv1d if x.dim() == 3 else F.conv2d)(x, w, b, **kw)


torch.manual_seed(1)
for name, xs, ws, kw, bias in SHAPES:
    x = torch.randn(xs, requires_grad=True)
    w = (torch.randn(ws) * 0.1).requires_grad_() if ws else None
    b = (torch.randn(ws[0]) * 0.1).requires_grad_() if bias else None
    r = torch.randn(run(x, w, b, kw).shape)
    fwd = both = float("inf")
    for i in range(reps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            run(x, w, b, kw)
        t1 = time.perf_counter()
        for t in (x, w, b):
            if t is not None:
                t.grad = None
        t2 = time.perf_counter()
        (run(x, w, b, kw) * r).sum().backward()
        t3 = time.perf_counter()
        if i:
            fwd, both = min(fwd, (t1 - t0) * 1e3), min(both, (t3 - t2) * 1e3)
    print(f"{name} {fwd:.3f} {both:.3f}", flush=True)
