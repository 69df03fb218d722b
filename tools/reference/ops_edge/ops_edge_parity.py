#!/usr/bin/python3
"""ops_edge_parity.py - checks what nabla's ops give on edge-case inputs against PyTorch.

How it was run (PyTorch 1.13, Debian's python3-torch, CPU; see README.md in this folder):
    make BUILD=build/opsedge parity-ops
which builds the harness (ops_edge.c, ops_edge_cases.c) against the library and runs
    build/opsedge/ops_edge/ops_edge build/opsedge/ops_edge/out
    /usr/bin/python3 tools/reference/ops_edge/ops_edge_parity.py build/opsedge/ops_edge/out
By hand: ops_edge_parity.py OUT_DIR [-v] [NAME_SUBSTRING ...]   (-v also lists the accepted
differences; with substrings, only the cases whose name contains one are checked).

For every case recorded by ops_edge (inputs, nabla's output or error, the gradients of
sum(out * w)), the same op runs in PyTorch twice from the same float32 inputs: in float32 (the
reference) and in float64 (the referee: closer to the exact answer). Each element of the output
and of every gradient is compared with the float32 result, with a relative tolerance of 1e-5
(2e-5 for transcendental ops), an absolute one of 1e-6 (scaled by the typical magnitude for ops
that accumulate), and exact agreement on NaN, on infinities and on the sign of zero. A
disagreement is a difference of one kind: zsign, nan, inf, value, int, shape; or, for the whole
case, crash, refuses (nabla gives an error, PyTorch a result), torch-raises (the reverse),
backward-error (nabla's backward fails, PyTorch's does not), torch-backward-raises (the reverse;
both failing is agreement), no-grad, harness-error (an unreadable record). Dropout draws its own random mask,
so PyTorch's reference uses the mask read back from nabla's gradient, and the fraction kept is
checked for plausibility (keep-rate).

Differences that nabla makes on purpose are listed in ACCEPTED below, each with its reason and a
test narrow enough that a new difference in the same op still shows. One difference is one case,
one output or gradient, one kind. Exit status: 0 when every difference is accepted, 1 when one is
not (or a record is missing), 2 on bad usage. The last line is the summary:
    ops_edge: 397 cases, 0 unexpected differences (N accepted)
"""
import json
import math
import os
import sys
import warnings
from collections import Counter, namedtuple

import numpy as np
import torch
import torch.nn.functional as F

from ops_edge_torch import DTYPES, forward

warnings.filterwarnings("ignore")
np.seterr(all="ignore")
torch.set_num_threads(2)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


# ---- reading the records ------------------------------------------------------------------------

def decode(t):
    """A recorded tensor as a numpy array (f32 from its uint32 bits, or int32)."""
    if t is None:
        return None
    if t["dtype"] == "i32":
        return np.array(t["bits"], dtype=np.int64).astype(np.int32).reshape(t["shape"])
    return np.array(t["bits"], dtype=np.uint64).astype(np.uint32).view(np.float32).reshape(t["shape"])


def bits_to_float(b):
    return float(np.array([b], dtype=np.uint32).view(np.float32)[0])


# ---- the PyTorch reference ----------------------------------------------------------------------

class BackwardRaised(Exception):
    """PyTorch computed the output but refused its gradient (a complete QR with m > n): the
    output (out) is still compared, and nabla's backward must refuse as well."""

    def __init__(self, msg, out):
        super().__init__(msg)
        self.out = out


def run_torch(c, dt, variant=None):
    """(output, [gradient or None per input]) in PyTorch, from the recorded float32 inputs;
    BackwardRaised when only the gradient fails."""
    x = []
    for t, rg, alias in zip(c["inputs"], c["rg"], c["alias"]):
        if alias >= 0:  # the same tensor given twice: its gradients add up, as in nabla
            x.append(x[alias])
        elif t["dtype"] == "i32":
            x.append(torch.from_numpy(decode(t).astype(np.int64)))
        else:
            x.append(torch.from_numpy(decode(t).copy()).to(dt).requires_grad_(rg))
    out = forward(c, x, dt, variant)
    grads = None
    if out.is_floating_point() and out.requires_grad and c.get("w") is not None:
        leaves = [i for i, (rg, a) in enumerate(zip(c["rg"], c["alias"])) if rg and a < 0]
        w = torch.from_numpy(decode(c["w"]).copy()).to(dt)
        try:
            gs = torch.autograd.grad((out * w).sum(), [x[i] for i in leaves], allow_unused=True)
        except RuntimeError as e:
            raise BackwardRaised(f"{type(e).__name__}: {str(e).splitlines()[0][:150]}", out.detach()) from e
        by_leaf = dict(zip(leaves, gs))
        grads = [by_leaf.get(i if a < 0 else a) if rg else None
                 for i, (rg, a) in enumerate(zip(c["rg"], c["alias"]))]
    return out.detach(), grads


# ---- comparing ----------------------------------------------------------------------------------

ACCUMULATE = {"sum", "prod", "cumprod", "mean", "var", "matmul", "linear", "attention", "attention_qkv", "layer_norm",
              "sum_all", "mean_all", "cross_entropy", "linear_cross_entropy", "index_select",
              "embedding", "gather", "maximum", "minimum"}
TRANSCENDENTAL = {"elu", "selu", "mish", "gelu", "tanh", "sigmoid", "attention", "attention_qkv", "exp", "sin", "cos",
                  "log1p", "expm1", "erf", "gelu_erf", "silu", "softplus", "logsumexp", "std",
                  "layer_norm", "var", "pow", "pow_scalar", "tan", "asin", "acos", "atan", "sinh",
                  "cosh", "asinh", "acosh", "atanh", "log2", "log10", "exp2", "atan2",
                  "erfc", "erfinv", "lgamma", "digamma", "sinc", "logit", "tanhshrink", "celu",
                  "hypot", "logaddexp", "logaddexp2", "xlogy", "logcumsumexp", "cdist"}

# Deep compositions: whole recurrent sequences, where rounding builds up over the steps and
# layers (backpropagation through time), and MultiheadAttention (six matmuls and a softmax
# deep). Both float32 results stray from float64 by up to about 1e-5 of a gradient's typical
# size: in a 2-layer bidirectional tanh RNN, torch by 7e-6 and nabla by 2.6e-6 at one element,
# nabla by 2.4e-6 and torch by 3.5e-7 at another. The key bias of attention has a true gradient
# of 0 (softmax ignores a constant added to every score); both results hold noise of 1e-6
# there. So the tolerance is 10x the usual. A wrong gate, weight layout or head split differs
# by 1e-1.
RECURRENT = {"rnn_seq", "mha", "encoder_layer", "decoder_layer"}

# One disagreement: where is "status", "out" or "grad[k]"; idx the element; nab, ref, f64 the
# values (nabla, PyTorch float32, PyTorch float64).
Finding = namedtuple("Finding", "case where kind idx nab ref f64 note")


def compare(case, where, nab, ref, ref64):
    """The elements where nabla's array nab and PyTorch's ref disagree."""
    op = case["op"]
    nab, ref = np.asarray(nab), np.asarray(ref)
    if nab.shape != ref.shape:
        return [Finding(case, where, "shape", (), None, None, None, f"nabla {nab.shape}, torch {ref.shape}")]
    if nab.dtype.kind in "iu" or ref.dtype.kind in "iu":
        return [Finding(case, where, "int", tuple(i), int(nab[tuple(i)]), int(ref[tuple(i)]), None, "")
                for i in np.argwhere(nab.astype(np.int64) != ref.astype(np.int64))]
    a, b = nab.astype(np.float64), ref.astype(np.float64)
    r64 = np.asarray(ref64, dtype=np.float64) if ref64 is not None else None
    if r64 is not None and r64.shape != a.shape:
        r64 = None
    rtol, atol = (2e-5, 1e-6) if op in TRANSCENDENTAL else (1e-5, 1e-6)
    if op in RECURRENT:
        rtol, atol = 1e-4, 1e-5
    finite = np.abs(b[np.isfinite(b)])
    # sums and whole layers: the absolute tolerance grows with the array's typical magnitude
    scale = float(np.percentile(finite, 75)) if finite.size and (op in ACCUMULATE or op in RECURRENT) else 0.0
    found = []
    for idx in np.ndindex(a.shape):
        x, y = a[idx], b[idx]
        if np.isnan(x) != np.isnan(y):
            kind = "nan"
        elif np.isnan(x):
            continue
        elif np.isinf(x) or np.isinf(y):
            kind = "inf" if x != y else None
        elif abs(x - y) > atol * max(1.0, scale) + rtol * abs(y):
            kind = "value"
        elif x == 0 and y == 0 and math.copysign(1, x) != math.copysign(1, y):
            kind = "zsign"
        else:
            kind = None
        if kind:
            found.append(Finding(case, where, kind, idx, float(x), float(y),
                                 None if r64 is None else float(r64[idx]), ""))
    return found


def dropout_mask(c):
    """For dropout in training with 0 < p < 1: nabla's mask, read back from its gradient (w/(1-p)
    where kept, 0 where dropped; w is never 0), and a finding when the kept fraction is implausible."""
    p, train = c["fp_f"][0], c["ip"][0]
    if "error" in c or not train or not 0 < p < 1 or not c.get("grads"):
        return None
    keep = decode(c["grads"][0]) != 0
    n, k = keep.size, int(keep.sum())
    if abs(k - n * (1 - p)) > 4 * math.sqrt(n * p * (1 - p)) + 1:
        c["status_notes"].append(f"kept {k} of {n} with p={p}")
    return keep


def check_case(c):
    """All findings of one case."""
    fp = [bits_to_float(b) for b in c["fp"]]
    c["fp_f"], c["status_notes"] = fp, []
    c["x"] = [decode(t) for t in c["inputs"]]
    if c["op"] == "dropout":
        c["keep"] = dropout_mask(c)
    found = []

    def status(kind, note):
        found.append(Finding(c, "status", kind, (), None, None, None, note))

    tback = None  # PyTorch's error in the backward alone
    try:
        out32, g32 = run_torch(c, torch.float32)
        terr = None
    except BackwardRaised as e:
        out32, g32, terr, tback = e.out, None, None, str(e)
    except Exception as e:  # PyTorch refuses the input
        terr = f"{type(e).__name__}: {str(e).splitlines()[0][:150]}"
    try:
        out64, g64 = run_torch(c, torch.float64)
    except BackwardRaised as e:
        out64, g64 = e.out, None
    except Exception:
        out64, g64 = None, None
    for note in c["status_notes"]:
        status("keep-rate", note)
    if "crash" in c:
        status("crash", f"nabla: {c['crash']}; torch: {terr or 'ok'}")
        return found
    if "error" in c:
        if terr is None:
            status("refuses", f"nabla: {c['error'][:150]} | torch gives {out32.flatten()[:4].tolist()}")
        return found
    if terr is not None:
        status("torch-raises", f"torch: {terr} | nabla gives shape {c['out']['shape']}")
        return found
    c["nab_out"], c["ref_out"] = decode(c["out"]), out32.numpy()
    ref64 = out64.numpy() if out64 is not None and out64.is_floating_point() else None
    found += compare(c, "out", c["nab_out"], c["ref_out"], ref64)
    if c["op"] in ("maximum_scalar", "minimum_scalar"):
        c["clamp_grads"] = run_torch(c, torch.float32, "clamp")[1]
    if "backward_error" in c:
        if tback is None:  # both refusing the gradient is agreement
            status("backward-error", c["backward_error"])
    elif tback is not None:
        status("torch-backward-raises", f"torch: {tback} | nabla gives a gradient")
    elif g32 is not None:
        if c.get("grads") is None:
            status("no-grad", "nabla recorded no gradient, torch has one")
            return found
        for k, (gn, gt) in enumerate(zip(c["grads"], g32)):
            if not c["rg"][k] or (gn is None and gt is None):
                continue
            zeros = np.zeros(c["x"][k].shape, np.float32)
            gt64 = g64[k] if g64 is not None and g64[k] is not None else None
            found += compare(c, f"grad[{k}]", decode(gn) if gn is not None else zeros,
                             gt.numpy() if gt is not None else zeros,
                             gt64.numpy() if gt64 is not None else None)
    return found


# ---- the accepted differences -------------------------------------------------------------------

def input_at(f, k=0):
    """Input k's value at the finding's element (for elementwise ops), else None."""
    x = f.case["x"][k] if k < len(f.case["x"]) else None
    return float(x[f.idx]) if x is not None and x.shape != () and len(f.idx) == x.ndim else None


def closer(f):
    """nabla is at least as close to the float64 answer as PyTorch's float32 is."""
    n, t, z = f.nab, f.ref, f.f64
    if z is None or math.isnan(n) or math.isnan(z):
        return False
    if n == z:
        return True
    return math.isfinite(n) and math.isfinite(z) and abs(n - z) <= abs(t - z)


def grad_index(f):
    return int(f.where[5:-1]) if f.where.startswith("grad[") else None


def pow_c99(f):
    """nabla's pow_scalar at base -inf or -0 gives C99 powf's value (and derivative p * x^(p-1))."""
    x, p = input_at(f), np.float32(f.case["fp_f"][0])
    if x is None or not (x == -math.inf or (x == 0 and math.copysign(1, x) < 0)):
        return False
    x = np.float32(x)
    if f.where == "out":
        want = np.power(x, p)
    else:
        d = np.float32(0) if p == 0 else p * np.power(x, p - np.float32(1))
        want = d * decode(f.case["w"])[f.idx]
    return bool(want == np.float32(f.nab) or (np.isnan(want) and math.isnan(f.nab)))


def attention_masked_nan(f):
    """The NaN (or its absence) is in the gradient of a key/value that a query row whose output
    is NaN, in both nabla and PyTorch, does not see (it lies after that row)."""
    if grad_index(f) is None or len(f.idx) != 4:
        return False
    b, h, t = f.idx[:3]
    nab, ref = f.case["nab_out"][b, h], f.case["ref_out"][b, h]
    return any(np.isnan(nab[r]).any() and np.isnan(ref[r]).any() for r in range(t))


def cast_saturates(f):
    x = input_at(f)
    want = 0 if math.isnan(x) else INT_MAX if x >= 2.0**31 else INT_MIN if x < -2.0**31 else int(x)
    return f.nab == want and f.ref == INT_MIN


def ce_targets(case):
    """(targets, ignore_index) of a cross-entropy case: the last input, or the second of the
    weighted ones (logits, targets, weight)."""
    t = case["x"][1] if case["op"].endswith("_weighted") else case["x"][-1]
    return t.astype(np.int64), case["ip"][0]


def ce_nothing_to_average(f):
    t, ign = ce_targets(f.case)
    return f.nab == 0 and (t.size == 0 or bool((t == ign).all()))


def ce_ignored_rows(f):
    """The NaN comes from an ignored row with non-finite logits: nabla gives that row 0 (and
    leaves it out of the weight and bias gradients of the fused linear cross-entropy)."""
    t, ign = ce_targets(f.case)
    k = grad_index(f)
    if k == 0:  # the logits' (or x's) row of the element
        return f.nab == 0 and t.ndim == len(f.idx) - 1 and t[f.idx[:-1]] == ign
    if f.case["op"] != "linear_cross_entropy" or not math.isfinite(f.nab):
        return False
    x, w = f.case["x"][0].astype(np.float64), f.case["x"][1].astype(np.float64)
    logits = x @ w.T + (f.case["x"][2] if f.case["ip"][1] else 0)
    finite = np.isfinite(logits).all(axis=1)
    return bool(finite[t != ign].all() and not finite[t == ign].all())


def as_clamp(f):
    """maximum_scalar/minimum_scalar's gradient is torch.clamp_min/clamp_max's."""
    g = f.case["clamp_grads"][grad_index(f)].numpy()[f.idx]
    return f.nab == float(g)


REFUSED = {  # case name -> why nabla gives an error where PyTorch gives NaN, inf or an empty result
    "hardtanh(min above max)": "an empty interval (torch clamps everything to max)",
    "mean(empty[0], axes[1]=00, keep=0, corr=0)": "the mean of nothing",
    "mean(empty[0,3] ax0, axes[1]=00, keep=0, corr=0)": "the mean of nothing",
    "mean_all(empty)": "the mean of nothing",
    "max(empty[0,3] ax1, axes[1]=10, keep=0, corr=0)": "the max of nothing (torch: an empty result)",
    "min(empty[0,3] ax1, axes[1]=10, keep=0, corr=0)": "the min of nothing (torch: an empty result)",
    "var(empty[0], axes[1]=00, keep=0, corr=0)": "the variance of nothing",
    "var(empty[0,3] ax0, axes[1]=00, keep=0, corr=0)": "the variance of nothing",
    "var([1], axes[1]=00, keep=0, corr=1)": "correction >= n",
    "var([2,2], axes[1]=10, keep=0, corr=2)": "correction >= n",
    "var([2,2], axes[1]=10, keep=0, corr=3)": "correction >= n",
    "var([2,2], axes[1]=10, keep=0, corr=-1)": "correction < 0",
    "clamp(SV, 1, -1)": "lo > hi",
    "logit(eps 0.7, refused)": "eps above 0.5: the clamp's bounds cross (torch clamps to 1 - eps)",
    "clamp(SV, nan, 1)": "a NaN bound",
    "clamp(SV, 0, nan)": "a NaN bound",
    "layer_norm(eps<0)": "eps < 0",
    "layer_norm(eps NaN)": "eps NaN",
    "dropout(p=1, train=1)": "p = 1 (torch: all zeros, NaN where x is NaN)",
    "argmax(0-d)": "argmax of a 0-d tensor (no axis to reduce)",
    "argmin(0-d)": "argmin of a 0-d tensor (no axis to reduce)",
    "std([1], axes[1]=00, keep=0, corr=1)": "std with correction >= n (as var)",
    "std(empty[0], axes[1]=00, keep=0, corr=0)": "std of nothing (as var)",
    "std(empty[0,3] ax0, axes[1]=00, keep=0, corr=0)": "std of nothing (as var)",
    "cat(A, empty1d)": "cat with a legacy 1-D empty tensor of another rank",
    "mse_loss(broadcast [3] to [2,3])": "pred and target of different shapes (torch broadcasts, warning "
                                        "that the result is probably wrong)",
}

def logsumexp_huge_ties(f):
    """logsumexp over k tied maxima m of 1e30 or FLT_MAX: the true gradient is the softmax, 1/k at
    each, which nabla gives (exp(a - m) / sum). torch computes exp(a - result), and result = m +
    log(k) rounds to m at that magnitude (in float64 too), so it gives 1 at each, k times too
    much: its value is an integer multiple (k >= 2) of nabla's."""
    x = input_at(f)
    if x is None or abs(x) < 1e20 or not f.nab or f.ref is None:
        return False
    r = f.ref / f.nab
    return round(r) >= 2 and abs(r - round(r)) < 1e-3


def std_overflow(f):
    """std of a row whose variance passes FLT_MAX (values near FLT_MAX): nabla's sqrt(var) is inf;
    torch's std kernel keeps the variance in a wider type and returns the finite root."""
    return f.case["name"].startswith("std(RED") and f.nab is not None and math.isinf(f.nab) and \
        f.f64 is not None and math.isfinite(f.f64) and abs(f.f64) > 1e38


def bce_target_outside(f):
    """bce_with_logits with a target outside [0, 1] (not a probability): nabla computes torch's
    arrangement (1 - t) x + softplus(-x), but torch writes softplus(-x) as m + log(e^-m + e^(-x-m)),
    m = max(-x, 0), which is NaN at x = -inf where nabla's softplus gives inf. The gradient is
    composed: at
    logits beyond 1e30 (products near FLT_MAX) or such targets, nabla's inf and torch's fused
    NaN both miss float64's finite value."""
    if f.case["op"] not in ("bce_with_logits", "bce_with_logits_weighted") or not f.idx:
        return False
    t, x = float(f.case["x"][1][f.idx]), float(f.case["x"][0][f.idx])
    if f.where == "out":
        return not (0.0 <= t <= 1.0)
    return f.case["op"] == "bce_with_logits_weighted" and (not (0.0 <= t <= 1.0) or abs(x) > 1e30)


def attention_score_offset(f):
    """At huge score offsets the scores themselves are rounded: q.k near 9e4 has an ulp of
    0.0078 in float32, so each probability carries an error of a few 1e-3 relative in nabla and
    in torch alike. They round differently (nabla's GEMM sums in its own order and applies the
    scale once to the sum; torch divides q @ k^T by sqrt(D)), so neither is always the closer.
    The backward recomputes the probabilities from each row's saved (max, log-sum) pair and adds
    no error of its own (test_ops_attention's far-from-zero test: exact scores near 65536 give
    gradients within 1e-4 of float64 relative to their scale; dq 4e-5, the others below 1e-6). Accepted only in the score-offset cases, and while nabla
    stays within 5e-3 of float64 (relative, or absolute below 1)."""
    if "score offset" not in f.case["name"] or f.f64 is None:
        return False
    if not math.isfinite(f.nab) or not math.isfinite(f.f64):
        return False
    return abs(f.nab - f.f64) <= 5e-3 * max(abs(f.f64), 1.0)


KNOWN_CASES = {  # case name prefix -> why the remaining non-finite differences are accepted
    "var(RED": "var of rows holding inf or FLT_MAX: the mean-and-sum composition's backward "
    "meets inf - inf (NaN, or an inf of the other sign), where torch's fused rule gives inf",
    "cross_entropy(LG": "a kept row with a +inf logit: NaN only where inf - inf arises (the inf "
    "position), finite elsewhere; torch makes the whole row NaN",
    "linear_cross_entropy(inf/1e20 rows": "as cross_entropy: rows with inf (or logits past "
    "float range) are NaN only where inf - inf arises; torch spreads the NaN to the row, W and b",
    "interpolate(bilinear, special values": "each dim mixes its two neighbours as w0 x0 + w1 x1 "
    "(torch's 1-d linear form), so an inf meets a 0 weight as NaN only there; torch's 2-d kernel "
    "places its NaN and inf differently (its own 1-d and 2-d results disagree on inf too)",
    "dropout(": "a dropped element is written as 0, so a dropped NaN or inf gives 0; torch "
    "multiplies by the 0 mask (NaN)",
}


def known_case(f):
    name = f.case["name"]
    for prefix in KNOWN_CASES:
        if name.startswith(prefix):
            if prefix == "dropout(":  # only where the input itself is not finite
                x = input_at(f)
                return x is not None and not math.isfinite(x)
            return True
    return False


# ---- the linear-algebra ops (ops_edge_linalg.c) -------------------------------------------------

LINALG_REFUSED = {  # case name -> the part of nabla's contract (include/nabla/ops.h) torch goes beyond
    "lu_factor(not square, refused)": "nabla's linear algebra takes square matrices; torch factors rectangular ones",
    "lu_factor_piv(not square, refused)": "as lu_factor",
    "lu_factor(A requires grad, refused)": "nb_lu_factor is not differentiable and says so (torch's is)",
    "lu_solve(LU requires grad, refused)": "nb_lu_solve is differentiable in B only and says so",
    "lu_solve(pivot below its step, refused)": "nabla takes only pivots a factorisation can give, k <= p[k] < n "
                                               "(torch checks 1 <= p[k] <= n)",
    "lu_solve(B without LU's batch dims, refused)": "nb_lu_solve wants B with LU's batch dims (torch broadcasts)",
    "pinv(rtol NaN, refused)": "a NaN rtol is refused (ops/svd.c; torch keeps no singular value and gives zeros)",
    "matrix_rank(rtol NaN, refused)": "as pinv (torch: rank 0)",
    "lstsq(vector b, refused)": "nb_lstsq takes B [..., m, k] (ops.h); torch also takes a vector b [m]",
    "cond([0,0], refused)": "the condition number of a matrix without singular values is an error (ops/svd.c); "
                            "torch gives 0",
    "cond([2,3,0], refused)": "as cond([0,0])",
}



def holds_inf(case):
    return any(x is not None and x.dtype.kind == "f" and np.isinf(x).any() for x in case["x"])


def lu_route(case, skip_zeros=True):
    """solve (left, B a matrix), inverse or matrix_power(A, -1) computed from A's own factors
    (torch's lu_factor; torch.linalg.solve and inv factor A^T instead: LAPACK reads their row-major
    A as its transpose), or None. skip_zeros: torch's lu_solve, whose reference-BLAS trsm skips a
    right-hand side entry that is 0 (no inf * 0 there); else the substitutions as nabla's solves do
    them, every term added (in double, each solved row rounded to float32)."""
    op, x = case["op"], case["x"]
    a = torch.from_numpy(x[0].copy())
    lu, piv, _ = torch.linalg.lu_factor_ex(a)
    if op == "solve":
        if not case["ip"][0] or x[1].ndim < 2:
            return None
        b = torch.from_numpy(x[1].copy())
    elif op == "inverse" or (op == "matrix_power" and case["ip"][0] == -1):
        b = torch.eye(a.shape[-1]).expand(a.shape)
    else:
        return None
    if skip_zeros:
        return torch.linalg.lu_solve(lu, piv, b).numpy()
    lu, piv, b = lu.numpy(), piv.numpy(), b.numpy()
    batch = np.broadcast_shapes(lu.shape[:-2], b.shape[:-2])
    n, k = lu.shape[-1], b.shape[-1]
    lu = np.broadcast_to(lu, batch + (n, n)).reshape(-1, n, n)
    piv = np.broadcast_to(piv, batch + (n,)).reshape(-1, n)
    out = np.broadcast_to(b, batch + (n, k)).reshape(-1, n, k).astype(np.float32)
    with np.errstate(all="ignore"):
        for m in range(out.shape[0]):
            y = out[m]
            for i in range(n):  # P b
                r = int(piv[m, i]) - 1
                if r != i:
                    y[[i, r]] = y[[r, i]]
            f = lu[m].astype(np.float64)
            for i in range(n):  # L (unit diagonal)
                acc = y[i].astype(np.float64)
                for q in range(i):
                    acc = acc - f[i, q] * y[q].astype(np.float64)
                y[i] = acc.astype(np.float32)
            for i in range(n - 1, -1, -1):  # U
                acc = y[i].astype(np.float64)
                for q in range(i + 1, n):
                    acc = acc - f[i, q] * y[q].astype(np.float64)
                y[i] = (acc / f[i, i]).astype(np.float32)
    return out.reshape(batch + (n, k))


def inf_entries(f):
    """An input holds an infinity, so inf * 0 and inf - inf arise, in places that depend on the
    elimination: nabla eliminates A; torch.linalg.solve / inv eliminate A^T. Where the output
    differs, nabla's is what torch's own lu_factor + lu_solve give from A (NaN and inf alike), or,
    where torch's BLAS skips zero right-hand side entries in its triangular solves (the reference
    BLAS does; nabla's solves do not), what the same factors give with every term added."""
    if not holds_inf(f.case):
        return False
    if f.where == "out" or f.kind == "torch-raises":
        nab = decode(f.case["out"])
        for skip in (True, False):
            r = lu_route(f.case, skip)
            if r is not None and r.shape == nab.shape and bool(np.allclose(nab, r, 1e-5, 1e-6, equal_nan=True)):
                return True
        return False
    return f.where != "status"


def solve_row_vector(f):
    """nb_solve with left = false and a vector b solves x A = b for the row vector x (ops.h: a
    vector B with either side); torch 1.13 makes the vector a column whatever the side, and
    refuses. Accepted where nabla's x is torch's solve(A^T, b)."""
    c = f.case
    if c["ip"][0] or "Incompatible shapes" not in f.note:
        return False
    a, b = (torch.from_numpy(x.copy()) for x in c["x"][:2])
    want, nab = torch.linalg.solve(a.mT, b).numpy(), decode(c["out"])
    return want.shape == nab.shape and bool(np.allclose(nab, want, 1e-5, 1e-6))


def det_singular_grad(f):
    """The backward of slogdet / logdet at an exactly singular matrix (an exact 0 pivot, so
    log|det| -inf) is an error: their gradient A^-T is infinite there (ops.h)."""
    out = f.case.get("nab_out")
    return "is singular" in f.note and out is not None and bool(((out == 0) | (out == -math.inf)).any())


def cofactors(a):
    """The cofactor matrix of a (float64): (-1)^(i+j) det of a without row i and column j."""
    n = a.shape[0]
    c = np.zeros_like(a)
    for i in range(n):
        for j in range(n):
            m = np.delete(np.delete(a, i, 0), j, 1)
            c[i, j] = (-1) ** (i + j) * (np.linalg.det(m) if n > 1 else 1.0)
    return c


def det_singular_cofactor(f):
    """det's gradient at an exactly singular matrix: nabla gives the cofactor matrix, the true
    derivative (through the SVD, the rule of later torch versions); torch 1.13's rule gives 0
    there. Accepted where the matrix is singular and nabla's value is w times the cofactor,
    computed in float64 from the minors."""
    k = grad_index(f)
    if k != 0 or f.ref != 0 or not math.isfinite(f.nab):
        return False
    x = f.case["x"][0].astype(np.float64)
    b = tuple(f.idx[:x.ndim - 2])
    a = x[b]
    if not np.isfinite(a).all() or abs(np.linalg.det(a)) > 1e-6 * max(1.0, np.abs(a).max() ** a.shape[0]):
        return False
    want = float(decode(f.case["w"])[b]) * cofactors(a)[f.idx[-2:]]
    return abs(f.nab - want) <= 1e-4 * max(1.0, abs(want))


def float32_products(f):
    """A decomposition's gradient (eigh, QR, the SVD): the backward rule is products of the
    float32 factors and g in nabla and torch alike, and its error is rounding of those products
    (sums over n terms, some scaled by 1 / (w_j - w_i) or 1 / (s_j^2 - s_k^2), large where two
    eigenvalues are close). Accepted where nabla's error is within 10 times torch's (the same
    order, as float32_backward's rule) or within 64 float32 ulps of the gradient's largest entry."""
    k = grad_index(f)
    if k is None or f.f64 is None or not math.isfinite(f.nab) or not math.isfinite(f.f64):
        return False
    if not all(x is None or x.dtype.kind != "f" or np.isfinite(x).all() for x in f.case["x"]):
        return False
    g = f.case.get("grads")
    big = float(np.abs(decode(g[k])).max()) if g is not None and g[k] is not None else abs(f.f64)
    return abs(f.nab - f.f64) <= max(10 * abs(f.ref - f.f64), 64 * 1.2e-7 * big)


def cholesky_nan(f):
    """A NaN in the triangle Cholesky reads: nabla stops (its d > 0 test fails, as reference
    LAPACK's spotrf stops at a NaN); torch's OpenBLAS potrf carries the NaN on."""
    return "not positive-definite" in f.case.get("error", "") and bool(np.isnan(np.tril(f.case["x"][0])).any())


def off_factor_triangle(f):
    """cholesky_solve's gradient in the factor off its triangle: 0 in nabla (never read); torch's rule
    differentiates L L^T for the full matrix L (its solve_triangular's gradient keeps to the triangle)."""
    if grad_index(f) != 1 or f.nab != 0 or len(f.idx) < 2:
        return False
    i, j = f.idx[-2], f.idx[-1]
    return j < i if f.case["ip"][0] else j > i


# ---- the decompositions (ops_edge_linalg.c's eigh and QR cases) ---------------------------------

EIGH = {"eigvalsh", "eigh", "eigh_vecs", "eigh_fn"}
QR = {"qr", "qr_r", "qr_qr"}


def eigh_nonfinite(f):
    """A NaN or an infinity in the lower triangle of the finding's matrix: nabla's eigh gives NaN
    for all its eigenvalues and eigenvectors (ops/decomp_math.h); torch's LAPACK keeps some
    finite (the eigenvalue of a block the NaN does not reach, the identity's eigenvectors next to
    an infinite diagonal) or even gives finite eigenvalues for a NaN diagonal, or fails to converge."""
    x = f.case["x"][0]
    if x.ndim < 2:
        return False
    bad = (~np.isfinite(np.tril(x))).reshape(-1, *x.shape[-2:]).any(axis=(-1, -2))
    if f.kind == "torch-raises":
        return bool(bad.all()) and bool(np.isnan(decode(f.case["out"])).all())
    if f.where != "out" or not math.isnan(f.nab):
        return False
    nbatch = bad.size
    b = int(np.ravel_multi_index(f.idx[:-2 if f.case["op"] in ("eigh_vecs", "eigh_fn") else -1], x.shape[:-2])) \
        if nbatch > 1 else 0
    return bool(bad[b])


def holds_nonfinite(case):
    return any(x is not None and x.dtype.kind == "f" and not np.isfinite(x).all() for x in case["x"])


# ---- the SVD and what rests on it (ops_edge_linalg.c's svd_cases and after) -----------------------

SVD = {"svdvals", "svd", "svd_u", "svd_vh", "svd_fn", "svd_orth", "svd_full", "pinv", "lstsq", "matrix_rank", "matrix_norm",
       "cond"}


def svd_batch_bad(case):
    """For A (the first input, [..., m, n]): whether each matrix of the batch holds a NaN or an
    infinity, shape A's batch dims."""
    x = case["x"][0]
    return (~np.isfinite(x)).reshape(-1, *x.shape[-2:]).any(axis=(-1, -2)).reshape(x.shape[:-2])


def svd_nonfinite(f):
    """A NaN or an infinity in A gives NaN in every output of its matrix (ops/decomp_math.h's rule,
    documented in ops.h for nb_eigh and kept by nb_svd; matrix_rank then counts no singular value
    above NaN: 0), the batch's other matrices untouched. torch's LAPACK raises for a NaN ("failed to
    converge because the input matrix contained non-finite values"), or gives finite garbage for an
    infinity (pinv of [[1, 2], [3, 4], [5, inf]] has zeros where float64 has NaN)."""
    c, x = f.case, f.case["x"][0]
    if x.ndim < 2 or not holds_nonfinite({"x": [x]}):
        return False
    bad, op = svd_batch_bad(c), c["op"]
    nab = decode(c["out"])
    if f.kind == "torch-raises":
        if "non-finite values" not in f.note:
            return False
        if op == "matrix_rank":
            return nab.shape == bad.shape and bool((nab[bad] == 0).all())
        if op == "svd_orth":  # U^T U and Vh Vh^T, each [..., k, k], flattened side by side
            halves = nab.reshape(2, *bad.shape, -1)
            return bool(np.isnan(halves[:, bad]).all() and np.isfinite(halves[:, ~bad]).all())
        if op == "lstsq" and nab.shape[:bad.ndim] != bad.shape:
            return False
        per = nab.reshape(*bad.shape, -1)
        return bool(np.isnan(per[bad]).all() and np.isfinite(per[~bad]).all())
    if f.kind != "nan" or f.where != "out" or not math.isnan(f.nab):
        return False
    if op == "svd_orth":
        return bool(bad.all())
    return bool(bad[tuple(f.idx[:bad.ndim])])


def svd_repeated_basis(f):
    """svdvals' gradient U diag(w) Vh where A has repeated (or zero) singular values: their
    singular vectors are any orthonormal basis of their space, chosen differently by nabla's
    Jacobi and torch's LAPACK, so the gradient differs element by element. Accepted when nabla's
    gradient G is finite and is U' diag(w) Vh' for some SVD of A: its singular values are |w|
    sorted (torch's are too), and u_i^T G v_i = w_i for every singular value that is neither
    repeated nor 0 (whose singular vectors are unique up to a common sign)."""
    c = f.case
    if grad_index(f) != 0 or c["op"] != "svdvals":
        return False
    if "_rep_basis" not in c:
        c["_rep_basis"] = False
        a = torch.from_numpy(c["x"][0].astype(np.float64))
        g = decode(c["grads"][0]).astype(np.float64)
        w = decode(c["w"]).astype(np.float64)
        if a.ndim == 2 and np.isfinite(g).all():
            u, s, vh = (t.numpy() for t in torch.linalg.svd(a, full_matrices=False))
            smax = s[0] if s.size else 0.0
            gap = np.abs(s[:, None] - s[None, :]) + np.eye(s.size) * 2 * smax
            repeated = (gap.min(axis=1) <= 1e-5 * smax) | (s <= 1e-6 * smax)
            sv = np.linalg.svd(g, compute_uv=False)
            ok = repeated.any() and np.allclose(sv, np.sort(np.abs(w))[::-1], rtol=1e-5, atol=1e-6)
            for i in np.flatnonzero(~repeated):
                ok = ok and abs(u[:, i] @ g @ vh[i] - w[i]) <= 1e-5 * max(1.0, abs(w[i]))
            c["_rep_basis"] = bool(ok)
    return c["_rep_basis"]


def float32_backward(f):
    """pinv's gradient (torch's rule, products of P = pinv(A), A and g in float32 in nabla as in
    torch; lstsq's goes through it): where A is ill-conditioned the products cancel, and both
    float32 results stray from float64 by about eps cond(A) times the gradient's largest entry.
    Accepted where nabla's error is within 8 eps32 cond(A) max|G| (a few roundings, each amplified
    by the cancellation) and torch's is of the same order (at least a tenth of nabla's)."""
    k = grad_index(f)
    if k != 0 or f.f64 is None or not math.isfinite(f.nab) or not math.isfinite(f.f64):
        return False
    x = f.case["x"][0].astype(np.float64)
    b = tuple(f.idx[:x.ndim - 2])
    a = x[b]
    if not np.isfinite(a).all() or min(a.shape) == 0:
        return False
    sv = np.linalg.svd(a, compute_uv=False)
    if not sv[-1] > 0:
        return False
    g = decode(f.case["grads"][0]).astype(np.float64)[b]
    err, terr = abs(f.nab - f.f64), abs(f.ref - f.f64)
    return err <= 8 * 1.1920929e-07 * (sv[0] / sv[-1]) * np.abs(g).max() and 10 * terr >= err


def svd_tiny_squares(f):
    """U's and V's gradient at singular values near 1e-20: their squares (1e-40, in s_k^2 - s_j^2)
    are subnormal in float32, with about 5 digits. torch's float32 gradient overflows to inf or NaN
    there; nabla's stays within 2e-4 of float64's (its own float32 rounding)."""
    if grad_index(f) is None or f.f64 is None or not math.isfinite(f.nab) or not math.isfinite(f.f64):
        return False
    x = np.abs(f.case["x"][0])
    if not (1e-22 < x.max() < 1e-18):
        return False
    return (f.kind != "value" or not closer(f)) and abs(f.nab - f.f64) <= 2e-4 * abs(f.f64)


Accept = namedtuple("Accept", "label ops kinds test why")
ACCEPTED = [
    # nabla does not reproduce which zero PyTorch returns (relu(-0), 0 * negative gradients, ...).
    Accept("zero-sign", None, {"zsign"}, lambda f: True, "signs of zero"),
    # Bases -inf and -0 follow C99 powf (pow(-inf, 0.5) = inf, pow(-0, -0.5) = inf); torch's
    # scalar-exponent path gives NaN / -inf there.
    # ctc_loss's gradient in log_probs: torch's CTC backward returns e^lp - (the alignments'
    # share), the gradient of the logits under a log_softmax rather than of log_probs themselves
    # (the two differ by e^lp per frame, which log_softmax's backward cancels), and NaN for an
    # impossible alignment. nabla's is the exact derivative in log_probs (0 where impossible);
    # the "ctc_loss_logits" cases, with the log_softmax inside, match torch's element for element.
    Accept("ctc-logprob-grad", {"ctc_loss"}, {"nan", "value"}, lambda f: f.where != "out",
           "ctc_loss's gradient in log_probs is the exact one (torch's is the logits')"),
    Accept("pow-c99", {"pow_scalar"}, {"nan", "inf", "value"}, pow_c99,
           "pow_scalar with -inf/-0 bases follows C99 powf"),
    # A query row whose output is NaN: PyTorch's softmax makes its masked entries NaN too, so
    # the NaN reaches the gradients of keys/values that row never sees; nabla's masked entries
    # are exactly 0 (and the reverse where its own NaN row reaches a masked key).
    Accept("attention-masked-nan", {"attention"}, {"nan"}, attention_masked_nan,
           "NaN in masked attention keys when a row's output is already NaN"),
    # nabla refuses (NULL + message) what PyTorch answers with NaN, inf or an empty tensor.
    Accept("refuses", None, {"refuses"}, lambda f: f.case["name"] in REFUSED,
           "nabla refuses what torch answers with NaN/empty"),
    # float -> i32 saturates (NaN -> 0); PyTorch (C's undefined conversion on x86) gives INT_MIN.
    Accept("cast-saturates", {"cast"}, {"int"}, cast_saturates, "float->i32 saturates, NaN -> 0"),
    # No row left to average (all ignored, or N = 0): loss 0 and zero gradients (PyTorch 0/0).
    Accept("ce-nothing-to-average", {"cross_entropy", "linear_cross_entropy", "nll_loss", "cross_entropy_smooth",
                                     "nll_loss_weighted", "cross_entropy_weighted"}, {"nan"},
           ce_nothing_to_average, "cross-entropy over no rows is 0 with zero gradients"),
    # An ignored row contributes nothing, even when its logits are inf/NaN (PyTorch: 0 * NaN).
    Accept("ce-ignored-rows", {"cross_entropy", "linear_cross_entropy", "nll_loss", "cross_entropy_smooth",
                               "nll_loss_weighted", "cross_entropy_weighted"}, {"nan"}, ce_ignored_rows,
           "ignored rows with non-finite logits get 0 gradient"),
    # sum and mean accumulate in double: FLT_MAX + FLT_MAX - FLT_MAX is FLT_MAX, not inf.
    Accept("double-accumulation", {"sum", "mean", "sum_all", "mean_all"}, {"value", "inf"}, closer,
           "sum/mean accumulate in double (closer to float64 than torch float32)"),
    Accept("logsumexp-huge-ties", {"logsumexp"}, {"value"}, logsumexp_huge_ties,
           "logsumexp's gradient over tied maxima near FLT_MAX is the exact softmax (torch: k times it)"),
    Accept("std-overflow", {"std"}, {"inf"}, std_overflow,
           "std of a row whose variance overflows float32 is inf (torch: finite)"),
    # log1p(FLT_MAX): C's log1pf gives 88.72 (the float64 answer); torch's float32 kernel overflows
    # forming 1 + x and gives inf.
    Accept("log1p-huge", {"log1p"}, {"inf"}, closer, "log1p of FLT_MAX finite, as float64 (torch: inf)"),
    # torch's vectorised fmod (and remainder, built on it) computes a - trunc(a / b) b, which is
    # NaN once a / b overflows (a divisor near 0, a dividend near FLT_MAX); nabla's fmodf is
    # exact: float64's value. remainder's gradient in b, -g floor(a / b), holds the quotient,
    # which overflows float there: +-inf of the right sign.
    # gelu's derivative far out: torch's float32 formula computes x^3 and multiplies 0 by the
    # overflowed inf (NaN from |x| ~ 1.8e19); nabla's clamps x at +-16, where the derivative is
    # already exactly 0 or 1, so it gives the float64 value.
    Accept("gelu-far", {"gelu"}, {"nan"},
           lambda f: f.where != "out" and f.f64 is not None and math.isnan(f.ref) and not math.isnan(f.nab) and
           abs(f.nab - f.f64) <= 1e-6 * abs(f.f64) and abs(input_at(f) or 0.0) > 1e13,
           "gelu's derivative at |x| > 1e13: 0 or 1 (torch: NaN)"),
    Accept("fmod-exact", {"fmod", "remainder"}, {"nan"},
           lambda f: f.f64 is not None and not math.isnan(f.nab) and math.isnan(f.ref) and
           (f.nab == f.f64 or (f.where != "out" and math.isinf(f.nab) and (f.nab > 0) == (f.f64 > 0))),
           "fmod / remainder exact where a / b overflows (torch: NaN)"),
    # prod's gradient: nabla's is y / x in a slice without zeros, as torch's while the tensor has
    # no zero anywhere; once it has one, torch switches every slice to exclusive cumulative
    # products, which stay finite where y / x meets NaN, infinity or a product past FLT_MAX.
    Accept("prod-zeros-elsewhere", {"prod"}, {"nan", "inf"},
           lambda f: f.where != "out" and math.isfinite(f.ref) and not math.isfinite(f.nab) and
           bool((np.asarray(f.case["x"][0]) == 0).any()),
           "prod's gradient y / x in a zero-free slice of a tensor with zeros (torch: exclusive products)"),
    # floor_divide by a divisor so small that a / b overflows float: torch's floor division
    # starts from its vectorised fmod (a - trunc(a / b) b, NaN there); nabla's from fmodf, exact,
    # so it gives float's answer: +-inf of float64's sign.
    Accept("floor-divide-overflow", {"floor_divide"}, {"nan"},
           lambda f: f.f64 is not None and math.isnan(f.ref) and math.isinf(f.nab) and
           abs(f.f64) > 3.4028234663852886e38 and (f.nab > 0) == (f.f64 > 0),
           "floor_divide is +-inf where a / b overflows float (torch: NaN)"),
    # mse_loss near FLT_MAX summed (not averaged): torch's 2 d g overflows to inf; nabla's
    # gradient, d g + g d per operand of the product, is the float64 value.
    Accept("loss-overflow", {"mse_loss"}, {"inf"}, closer, "mse_loss's gradient near FLT_MAX, as float64"),
    Accept("bce-target-outside-01", {"bce_with_logits", "bce_with_logits_weighted"}, {"nan", "value", "inf"},
           bce_target_outside,
           "bce_with_logits with a target outside [0, 1]: softplus(x) - t x exactly"),
    # var and layer_norm around a large offset (1e4, 1e7): nabla is closer to float64.
    Accept("offset-precision", {"var", "layer_norm", "batch_norm"}, {"value"}, closer,
           "var, layer_norm and batch_norm near large offsets more accurate than torch float32"),
    # The scalar forms are clamp_min/clamp_max: the full g on a tie, 0 at a NaN x, and 0
    # everywhere for a NaN bound (torch.maximum with a NaN tensor splits / passes g instead).
    # Float32 scores at huge offsets, rounded differently by nabla and torch.
    Accept("attention-score-offset", {"attention"}, {"value"}, attention_score_offset,
           "scores near 6e4 are rounded (ulp 0.004) differently by nabla and torch"),
    # Non-finite rows where nabla and torch produce NaN/inf in different places (KNOWN_CASES).
    Accept("known-nonfinite", {"var", "cross_entropy", "linear_cross_entropy", "dropout", "interpolate"},
           {"nan", "inf", "value"}, known_case, "non-finite inputs: NaN/inf placed differently"),
    # A gradient that is exactly 0 in float64 (attention's key bias: softmax ignores a constant
    # added to every score of a row): float32 leaves rounding noise there, different in nabla
    # and torch (both below 1e-4, against gradients of order 0.1).
    # QR's gradient is exactly 0 in places too (Q of a square matrix does not depend on its last
    # column); nabla's float32 backward leaves noise of ~1e-6 there, as torch's does.
    Accept("zero-gradient-noise", {"mha", "encoder_layer", "decoder_layer"} | QR, {"value"},
           lambda f: f.where != "out" and f.f64 is not None and abs(f.f64) < 1e-9 and abs(f.nab) < 1e-4
           and abs(f.ref) < 1e-4, "rounding noise where the exact gradient is 0"),
    # torch 1.13's hardswish backward disagrees with itself at x = 3 and at NaN: its vectorized loop
    # gives the slope 1 (and g at NaN), its scalar tail loop (x <= 3) 1.5 (and NaN). nabla takes the
    # vectorized loop's answer everywhere.
    Accept("hardswish-kink", {"hardswish"}, {"value", "nan"},
           lambda f: f.where != "out" and (lambda v: v is not None and (v == 3.0 or math.isnan(v)))(input_at(f)),
           "hardswish's slope at exactly 3 and at NaN (torch's two loops differ)"),
    # torch checks that binary_cross_entropy's probabilities lie in [0, 1] and refuses others;
    # nabla does not read them back to check (a GPU sync every call) and gives the formula's value.
    Accept("scalar-max-min-as-clamp", {"maximum_scalar", "minimum_scalar"}, {"value", "nan"},
           lambda f: grad_index(f) is not None and as_clamp(f),
           "maximum_scalar/minimum_scalar follow torch.clamp_min/clamp_max"),
    # The linear-algebra ops (ops_edge_linalg.c).
    # LU, Cholesky and the triangular solves sum every entry in double (LAPACK in float32): on an
    # ill-conditioned matrix torch's float32 rounding shows, nabla's stays at float64's answer.
    # eigh (Jacobi) and QR (Householder) run in double too.
    # svdvals' gradient at repeated or zero singular values (before linalg-double-sums, which an
    # element of another basis may happen to pass).
    Accept("svd-repeated-basis", {"svdvals"}, {"value"}, svd_repeated_basis,
           "svdvals' gradient U diag(w) Vh at repeated or zero singular values: another basis of their space"),
    Accept("linalg-double-sums", {"solve", "inverse", "det", "slogdet", "logdet", "cholesky", "cholesky_gram",
                                  "solve_triangular", "cholesky_solve", "matrix_power", "lu_factor", "lu_solve"}
           | EIGH | QR | SVD,
           {"value"}, lambda f: closer(f) and all(x is None or x.dtype.kind != "f" or np.isfinite(x).all()
                                                  for x in f.case["x"]),
           "linear algebra summed in double: closer to float64 than torch's float32"),
    Accept("linalg-float32-products", EIGH | QR | SVD, {"value"}, float32_products,
           "a decomposition's gradient: float32 products of the factors in both, nabla's error of torch's order"),
    Accept("solve-row-vector", {"solve"}, {"torch-raises"}, solve_row_vector,
           "solve(left=False) with a vector b solves x A = b (torch 1.13 refuses a vector there)"),
    Accept("det-singular-grad", {"slogdet", "logdet"}, {"backward-error"}, det_singular_grad,
           "slogdet/logdet's gradient at an exactly singular matrix is an error (torch: inf)"),
    Accept("det-singular-cofactor", {"det"}, {"value"}, det_singular_cofactor,
           "det's gradient at a singular matrix is the cofactor matrix (torch 1.13: 0)"),
    Accept("det-overflow", {"det"}, {"nan"},
           lambda f: f.where != "out" and math.isnan(f.ref) and math.isinf(f.nab) and f.f64 is not None and
           math.isfinite(f.f64) and (f.nab > 0) == (f.f64 > 0) and bool(np.isinf(f.case["nab_out"]).any()),
           "det past FLT_MAX is inf, its gradient det A^-T +-inf with float64's sign (torch: NaN)"),
    Accept("linalg-inf-entries", {"solve", "inverse", "matrix_power", "det", "slogdet", "logdet"},
           {"nan", "inf", "torch-raises"}, inf_entries,
           "infinite entries: NaN/inf as torch's own lu_factor + lu_solve place them (linalg.solve/inv factor A^T)"),
    Accept("cholesky-nan", {"cholesky"}, {"refuses"}, cholesky_nan,
           "cholesky stops at a NaN it reads, as reference LAPACK (torch's OpenBLAS carries it on)"),
    Accept("factor-off-triangle", {"cholesky_solve"}, {"value", "nan"}, off_factor_triangle,
           "cholesky_solve's gradient off the factor's triangle is 0 (torch's treats L as full)"),
    Accept("nan-pivot", {"lu_factor", "lu_factor_piv"}, {"value", "nan", "int"},
           lambda f: bool(np.isnan(f.case["x"][0]).any()),
           "a NaN is the pivot only when it comes first, as reference BLAS's isamax (torch's float32 and float64 pick differently from each other)"),
    Accept("linalg-refuses", {"lu_factor", "lu_factor_piv", "lu_solve", "pinv", "matrix_rank", "lstsq", "cond"},
           {"refuses"}, lambda f: f.case["name"] in LINALG_REFUSED,
           "lu_factor/lu_solve, pinv/matrix_rank (NaN rtol), lstsq (vector b) and cond (no singular values) "
           "refuse what their contract excludes"),
    Accept("eigh-nonfinite", EIGH, {"nan", "torch-raises"}, eigh_nonfinite,
           "eigh of a matrix holding NaN or inf is NaN throughout (torch's LAPACK: finite parts, garbage, or no convergence)"),
    Accept("svd-nonfinite", SVD, {"nan", "torch-raises"}, svd_nonfinite,
           "the SVD of a matrix holding NaN or inf is NaN throughout (torch raises for NaN, garbage for inf)"),
    Accept("linalg-float32-backward", {"pinv", "lstsq"}, {"value"}, float32_backward,
           "pinv's gradient at an ill-conditioned A: float32 products cancel in nabla and torch alike"),
    Accept("svd-tiny-squares", {"svd_u", "svd_vh", "svd_fn"}, {"nan", "inf", "value"}, svd_tiny_squares,
           "U's and V's gradient at singular values near 1e-20 (squares subnormal in float32): torch inf/NaN, "
           "nabla within 2e-4 of float64"),
    Accept("svd-exact-zero", {"cond"}, {"inf"},
           lambda f: f.nab == math.inf and f.f64 is not None and math.isfinite(f.f64) and f.f64 > 1e15 and
           math.isfinite(f.ref) and f.ref > 1e6,
           "cond of an exactly rank-deficient A is inf (Jacobi leaves an exact 0; LAPACK leaves noise, 1/noise)"),
    Accept("qr-nonfinite", QR, {"nan"}, lambda f: holds_nonfinite(f.case) and math.isnan(f.nab),
           "QR of a matrix holding NaN/inf: NaN wherever a NaN or inf meets nabla's reflections (columns a reflection leaves alone stay finite, as LAPACK's)"),
]


def accept(f):
    for a in ACCEPTED:
        if (a.ops is None or f.case["op"] in a.ops) and f.kind in a.kinds:
            try:
                if a.test(f):
                    return a
            except (IndexError, KeyError, TypeError, ValueError):
                pass  # the test does not apply to this element
    return None


# ---- main ---------------------------------------------------------------------------------------

def fmt(v):
    return "-" if v is None else f"{v:.7g}" if isinstance(v, float) else str(v)


def describe(f):
    if f.where == "status":
        return f"{f.kind}: {f.note}"
    ins = [fmt(float(x[f.idx])) for x in f.case["x"] if x is not None and x.shape != () and x.ndim == len(f.idx)
           and all(i < n for i, n in zip(f.idx, x.shape))]  # the inputs that have that element
    return (f"{f.where} {f.kind:5s} at {f.idx} in={ins}: nabla={fmt(f.nab)} torch={fmt(f.ref)} "
            f"f64={fmt(f.f64)}{' ' + f.note if f.note else ''}")


def main(argv):
    args = [a for a in argv if a != "-v"]
    verbose = "-v" in argv
    if not args or not os.path.isdir(args[0]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    outdir, filters = args[0], args[1:]
    with open(os.path.join(outdir, "cases.json")) as fh:
        meta = json.load(fh)
    n_cases, missing = meta["count"], []
    unexpected, accepted, n_checked = 0, Counter(), 0
    for i in range(n_cases):
        path = os.path.join(outdir, f"{i:04d}.json")
        if not os.path.exists(path):
            if not meta.get("filter"):
                missing.append(i)
            continue
        with open(path) as fh:
            c = json.load(fh)
        if filters and not any(s in c["name"] for s in filters):
            continue
        n_checked += 1
        try:
            found = check_case(c)
        except Exception as e:  # an unreadable record (e.g. "to_array_error") or a harness bug
            found = [Finding(c, "status", "harness-error", (), None, None, None, repr(e)[:200])]
        groups = {}  # (where, kind, accepted label) -> findings: one difference each
        for f in found:
            a = accept(f)
            groups.setdefault((f.where, f.kind, a.label if a else None), []).append(f)
        bad = {k: v for k, v in groups.items() if k[2] is None}
        unexpected += len(bad)
        accepted.update(k[2] for k in groups if k[2] is not None)
        shown = groups if verbose else bad
        if shown:
            print(f"== {i:04d} {c['name']}")
            for (where, kind, label), fs in shown.items():
                tag = f"accepted ({label})" if label else "UNEXPECTED"
                for f in fs[:6]:
                    print(f"   {tag}: {describe(f)}")
                if len(fs) > 6:
                    print(f"   {tag}: ... {len(fs) - 6} more {where} {kind}")
    if missing:
        print(f"ops_edge: no record for cases {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    if verbose or unexpected:
        print("accepted: " + ", ".join(f"{label} {n}" for label, n in sorted(accepted.items())))
    n_acc = sum(accepted.values())
    print(f"ops_edge: {n_checked} cases, {unexpected} unexpected differences ({n_acc} accepted)")
    return 1 if unexpected or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
