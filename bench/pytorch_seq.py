"""bench/pytorch_seq.py - PyTorch's side of bench/bench_seq.c: the same layers and shapes, timed
the same way (best of the repetitions after one warm-up; forward under no_grad, then forward +
backward of sum(y * r)), printed one line per case: name, forward ms, forward+backward ms.
bench_seq runs it and prints the ratios.

usage: /usr/bin/python3 bench/pytorch_seq.py [repetitions] [threads]
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
torch.manual_seed(1)


class SelfAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(256, 8)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class Upsample(torch.nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def first(m):
    return lambda x: (lambda y: y[0] if isinstance(y, tuple) else y)(m(x))


CASES = [
    ("lstm", first(torch.nn.LSTM(128, 256, 2)), (50, 32, 128)),
    ("gru_bi", first(torch.nn.GRU(128, 256, bidirectional=True)), (50, 32, 128)),
    ("mha", SelfAttention(), (128, 16, 256)),
    ("encoder", torch.nn.TransformerEncoderLayer(256, 8, 1024, dropout=0.0), (128, 16, 256)),
    ("convT", torch.nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), (16, 64, 16, 16)),
    ("bilinear", Upsample(), (16, 64, 32, 32)),
]

for name, m, xs in CASES:
    x = torch.randn(xs, requires_grad=True)
    r = torch.randn(m(x).shape)
    fwd = both = float("inf")
    for i in range(reps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            m(x)
        t1 = time.perf_counter()
        x.grad = None
        if isinstance(m, torch.nn.Module):
            m.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        (m(x) * r).sum().backward()
        t3 = time.perf_counter()
        if i:
            fwd, both = min(fwd, (t1 - t0) * 1e3), min(both, (t3 - t2) * 1e3)
    print(f"{name} {fwd:.3f} {both:.3f}", flush=True)
