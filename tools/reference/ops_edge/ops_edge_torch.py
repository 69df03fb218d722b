"""ops_edge_torch.py - the PyTorch side of tools/reference/ops_edge: forward(c, x, dt, variant)
computes case c's op in PyTorch on the torch inputs x, in dtype dt (float32, or float64 for the
exact reference). ops_edge_parity.py imports it; the op names and the meaning of a case's ip
and fp slots are those of ops_edge.c's apply()."""
import math

import torch
import torch.nn.functional as F

DTYPES = {0: "f32", 1: "i32", 2: "f16", 3: "bf16"}  # nb_dtype's values


def causal_attention(q, k, v):
    T, D = q.shape[-2], q.shape[-1]
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(s, -1) @ v


def forward(c, x, dt, variant):
    """The op in PyTorch on the torch inputs x, in dtype dt."""
    op, ip, fp = c["op"], c["ip"], c["fp_f"]
    if op in ("neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "abs", "sin", "cos",
              "log1p", "expm1", "erf", "sign", "floor", "ceil", "round", "trunc", "tan", "asin",
              "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log2", "log10", "exp2",
              "reciprocal", "square"):
        return getattr(torch, op)(x[0])
    if op in ("silu", "softplus", "selu", "relu6", "hardsigmoid", "hardswish", "mish", "softsign"):
        return getattr(F, op)(x[0])
    if op == "max_pool1d":  # ip: window, stride, padding, dilation, ceil, exclude_pad
        return F.max_pool1d(x[0], ip[0], stride=ip[1] or ip[0], padding=ip[2], dilation=ip[3] or 1,
                            ceil_mode=bool(ip[4]))
    if op == "avg_pool1d":
        return F.avg_pool1d(x[0], ip[0], stride=ip[1] or ip[0], padding=ip[2], ceil_mode=bool(ip[4]),
                            count_include_pad=not ip[5])
    if op == "adaptive_avg_pool1d":
        return F.adaptive_avg_pool1d(x[0], ip[0])
    if op in ("pixel_shuffle", "pixel_unshuffle"):
        return getattr(F, op)(x[0], ip[0])
    if op == "elu":
        return F.elu(x[0], fp[0])
    if op == "hardtanh":
        return F.hardtanh(x[0], fp[0], fp[1])
    if op == "prelu":
        return F.prelu(x[0], x[1])
    if op == "gelu_erf":
        if dt == torch.float64:  # the referee, in a form that does not cancel (see gelu)
            return 0.5 * x[0] * torch.special.erfc(-x[0] * 0.7071067811865476)
        return F.gelu(x[0])
    if op == "leaky_relu":
        return F.leaky_relu(x[0], fp[0])
    if op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul", "atan2", "fmod",
              "remainder"):
        return getattr(torch, op)(x[0], x[1])
    if op in ("eq", "ne", "lt", "le", "gt", "ge"):
        return getattr(torch, op)(x[0], x[1]).to(dt)
    if op in ("erfc", "erfinv", "lgamma", "digamma", "sinc", "frac", "hypot", "logaddexp",
              "logaddexp2", "xlogy", "copysign", "floor_divide", "heaviside"):
        return getattr(torch, op)(*x)
    if op in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not", "logical_and",
              "logical_or", "logical_xor"):
        return getattr(torch, op)(*x).to(dt)
    if op in ("cummax", "cummax_idx", "cummin", "cummin_idx"):
        r = getattr(torch, op[:6])(x[0], ip[0])
        return r.values if not op.endswith("_idx") else r.indices.to(torch.int32)
    if op == "logcumsumexp":
        return torch.logcumsumexp(x[0], ip[0])
    red = ("mean", "sum", "none", "batchmean")[ip[7]] if len(ip) > 7 else "mean"
    if op == "smooth_l1_loss":
        return F.smooth_l1_loss(x[0], x[1], reduction=red, beta=fp[0])
    if op == "soft_margin_loss":
        return F.soft_margin_loss(x[0], x[1], reduction=red)
    if op == "multilabel_soft_margin_loss":
        return F.multilabel_soft_margin_loss(x[0], x[1], weight=x[2] if ip[0] else None, reduction=red)
    if op == "hinge_embedding_loss":
        return F.hinge_embedding_loss(x[0], x[1], margin=fp[0], reduction=red)
    if op == "poisson_nll_loss":
        return F.poisson_nll_loss(x[0], x[1], log_input=bool(ip[0]), full=bool(ip[1]), eps=fp[0], reduction=red)
    if op == "gaussian_nll_loss":
        return F.gaussian_nll_loss(x[0], x[1], x[2], full=bool(ip[0]), eps=fp[0], reduction=red)
    if op == "multi_margin_loss":
        return F.multi_margin_loss(x[0], x[1], p=ip[0], margin=fp[0], weight=x[2] if ip[1] else None, reduction=red)
    if op == "index_fill":
        return torch.index_fill(x[0], ip[0], x[1], fp[0])
    if op == "index_copy":
        return torch.index_copy(x[0], ip[0], x[1], x[2])
    if op == "scatter":
        return torch.scatter(x[0], ip[0], x[1], x[2])
    if op == "scatter_value":
        return torch.scatter(x[0], ip[0], x[1], fp[0])
    if op == "masked_scatter":
        return x[0].masked_scatter(x[1] != 0, x[2])
    if op == "masked_select":
        return torch.masked_select(x[0], x[1] != 0)
    if op == "take":
        return torch.take(x[0], x[1])
    if op == "embedding_bag":  # ip: mode, include_last_offset, padding_idx (< 0: none), offsets, weights
        k = 2 + ip[3]
        return F.embedding_bag(x[1].long(), x[0], x[2].long() if ip[3] else None, mode=("sum", "mean", "max")[ip[0]],
                               per_sample_weights=x[k] if ip[4] else None, include_last_offset=bool(ip[1]),
                               padding_idx=ip[2] if ip[2] >= 0 else None)
    if op == "conv_transpose3d":
        return F.conv_transpose3d(x[0], x[1], x[2] if ip[10] else None, stride=[v or 1 for v in ip[0:3]],
                                  padding=ip[3:6], output_padding=ip[11:14], groups=ip[9] or 1,
                                  dilation=[v or 1 for v in ip[6:9]])
    if op in ("conv3d", "max_pool3d", "avg_pool3d"):
        s, p, d = ip[0:3], ip[3:6], [v or 1 for v in ip[6:9]]
        if op == "conv3d":
            return F.conv3d(x[0], x[1], x[2] if ip[10] else None, stride=[v or 1 for v in s], padding=p,
                            dilation=d, groups=ip[9] or 1)
        k = ip[10:13]
        s = [v or kk for v, kk in zip(s, k)]
        if op == "max_pool3d":
            return F.max_pool3d(x[0], k, stride=s, padding=p, dilation=d, ceil_mode=bool(ip[13]))
        return F.avg_pool3d(x[0], k, stride=s, padding=p, ceil_mode=bool(ip[13]), count_include_pad=not ip[14])
    if op == "index_adv":  # ip[0]: the indexed dims (bits) of the first ip[1]; ip[2]: 0 read, 1 write, 2 add
        key, k = [], 1
        for d in range(ip[1]):
            if ip[0] >> d & 1:
                key.append(x[k].long())
                k += 1
            else:
                key.append(None)
        if not ip[2]:
            return x[0][tuple(slice(None) if t is None else t for t in key)]
        return torch.ops.aten.index_put(x[0], key, x[k], ip[2] == 2)
    if op == "nonzero":
        return torch.nonzero(x[0]).to(torch.int32)
    if op == "bincount":
        r = torch.bincount(x[0], weights=x[1] if ip[0] else None, minlength=ip[1])
        return r.to(dt) if ip[0] else r.to(torch.int32)
    if op == "bucketize":
        return torch.bucketize(x[0], x[1], right=bool(ip[0])).to(torch.int32)
    if op == "searchsorted":
        return torch.searchsorted(x[0], x[1], right=bool(ip[0])).to(torch.int32)
    if op in ("ctc_loss", "ctc_loss_logits"):
        n = x[0].shape[1]
        lp = F.log_softmax(x[0], -1) if op == "ctc_loss_logits" else x[0]
        return F.ctc_loss(lp, x[1], list(ip[8:8 + n]), list(ip[11:11 + n]), blank=ip[0], reduction=red,
                          zero_infinity=bool(ip[1]))
    if op == "affine_grid":
        return F.affine_grid(x[0], list(ip[0:4]), align_corners=bool(ip[4]))
    if op == "grid_sample":
        return F.grid_sample(x[0], x[1], mode=("nearest", "bilinear")[ip[0]],
                             padding_mode=("zeros", "border", "reflection")[ip[1]], align_corners=bool(ip[2]))
    if op.startswith("adaptive_max_pool"):
        size = (ip[0], ip[1]) if op[17] == "2" else ip[0]
        fn = F.adaptive_max_pool2d if op[17] == "2" else F.adaptive_max_pool1d
        v, i = fn(x[0], size, return_indices=True)
        return i.to(torch.int32) if op.endswith("_idx") else v
    if op == "pdist":
        return torch.pdist(x[0], p=fp[0])
    if op == "bilinear":
        return F.bilinear(x[0], x[1], x[2], x[3] if ip[0] else None)
    if op in ("unique", "unique_inverse", "unique_counts"):
        u, inv, cnt = torch.unique(x[0], sorted=True, return_inverse=True, return_counts=True)
        return u if op == "unique" else inv.to(torch.int32) if op == "unique_inverse" else cnt.to(torch.int32)
    if op in ("outer", "kron"):
        return getattr(torch, op)(x[0], x[1])
    if op == "tensordot":
        n = ip[0]
        return torch.tensordot(x[0], x[1], dims=(list(ip[1:1 + n]), list(ip[1 + n:1 + 2 * n])))
    if op == "cross":
        return torch.cross(*torch.broadcast_tensors(x[0], x[1]), dim=ip[0])
    if op == "cdist":
        return torch.cdist(x[0], x[1], p=fp[0])
    if op == "diagonal":
        return torch.diagonal(x[0], ip[0], ip[1], ip[2])
    if op == "diag_embed":
        return torch.diag_embed(x[0], ip[0], ip[1], ip[2])
    if op == "trace":
        return torch.trace(x[0])
    if op in ("nansum", "nanmean", "count_nonzero", "any", "all"):  # ip: keepdim, count, axes
        dims = list(ip[2:2 + ip[1]])
        if op in ("any", "all"):
            return getattr(torch, op)(x[0], dims[0], keepdim=bool(ip[0])).to(dt)
        if op == "count_nonzero":
            r = torch.count_nonzero(x[0], dims or None)
            return (r.reshape([1 if i in dims else n for i, n in enumerate(x[0].shape)]) if ip[0] else r).to(dt)
        return getattr(torch, op)(x[0], dims or None, keepdim=bool(ip[0])) if dims else getattr(torch, op)(x[0])
    if op == "lerp":
        return torch.lerp(x[0], x[1], x[2])
    if op in ("addcmul", "addcdiv"):
        return getattr(torch, op)(x[0], x[1], x[2], value=fp[0])
    if op == "repeat_interleave":
        n = ip[1]
        reps = ip[2] if n == 1 else torch.tensor(list(ip[2:2 + n]))
        return torch.repeat_interleave(x[0], reps, dim=ip[0])
    if op == "tile":
        return torch.tile(x[0], tuple(ip[1:1 + ip[0]]))
    if op == "movedim":
        n = ip[0]
        return torch.movedim(x[0], tuple(ip[1:1 + n]), tuple(ip[1 + n:1 + 2 * n]))
    if op == "tanhshrink":
        return F.tanhshrink(x[0])
    if op == "logit":
        return torch.logit(x[0], eps=None if fp[0] < 0 else fp[0])
    if op in ("hardshrink", "softshrink", "celu"):
        return getattr(F, op)(x[0], fp[0])
    if op == "threshold":
        return F.threshold(x[0], fp[0], fp[1])
    if op == "nan_to_num":
        return torch.nan_to_num(x[0], fp[0], fp[1], fp[2])
    scalar = {"add_scalar": lambda a, s: a + s, "sub_scalar": lambda a, s: a - s,
              "mul_scalar": lambda a, s: a * s, "div_scalar": lambda a, s: a / s,
              "rsub_scalar": lambda a, s: s - a, "pow_scalar": torch.pow}
    if op in scalar:
        return scalar[op](x[0], fp[0])
    if op in ("maximum_scalar", "minimum_scalar"):
        if variant == "clamp":  # the convention nabla follows (see ACCEPTED)
            return (torch.clamp_min if op == "maximum_scalar" else torch.clamp_max)(x[0], fp[0])
        return getattr(torch, op[:7])(x[0], torch.tensor(fp[0], dtype=dt))
    if op == "gelu":
        if dt == torch.float64:  # the referee: the same function as x sigmoid(2u), which does not
            # cancel; torch's 0.5 x (1 + tanh u) loses every digit below x = -7 even in float64
            u = 0.7978845608028654 * (x[0] + 0.044715 * x[0] ** 3)
            return x[0] * torch.sigmoid(2.0 * u)
        return F.gelu(x[0], approximate="tanh")
    if op == "clamp":
        return torch.clamp(x[0], fp[0], fp[1])
    if op == "where":
        return torch.where(x[0] != 0, x[1], x[2])
    if op == "masked_fill":
        return x[0].masked_fill(x[1] != 0, fp[0])
    if op in ("sum", "mean", "max", "min", "var"):
        keep, axes = bool(ip[0]), ip[3:3 + ip[2]]
        if op == "sum":
            return x[0].sum(dim=axes, keepdim=keep) if axes else x[0].sum()
        if op == "mean":
            return x[0].mean(dim=axes, keepdim=keep) if axes else x[0].mean()
        if op in ("max", "min"):
            return getattr(torch, "a" + op)(x[0], dim=axes, keepdim=keep)
        return torch.var(x[0], dim=axes or None, correction=ip[1], keepdim=keep)
    if op == "einsum":  # the equation is the case name's, in brackets
        return torch.einsum(c["name"].split("[", 1)[1].rsplit("]", 1)[0], *x)
    if op == "prod":  # torch.prod takes one dim: several are taken one after the other
        keep, axes = bool(ip[0]), ip[3:3 + ip[2]]
        if not axes:
            return x[0].prod()
        y = x[0]
        for a in sorted((a % max(y.dim(), 1) for a in axes), reverse=True):
            y = y.prod(dim=a, keepdim=True)
        return y if keep else y.reshape([n for i, n in enumerate(x[0].shape) if i not in
                                         [a % max(x[0].dim(), 1) for a in axes]])
    if op == "std":
        keep, axes = bool(ip[0]), ip[3:3 + ip[2]]
        return torch.std(x[0], dim=axes or None, correction=ip[1], keepdim=keep)
    if op == "logsumexp":
        keep, axes = bool(ip[0]), ip[3:3 + ip[2]]
        return torch.logsumexp(x[0], dim=axes or tuple(range(x[0].dim())), keepdim=keep)
    if op == "batch_norm":
        rm, rv = (x[1].clone(), x[2].clone()) if ip[1] else (None, None)
        w, b = (x[3], x[4]) if ip[2] else (None, None)
        return F.batch_norm(x[0], rm, rv, w, b, training=bool(ip[0]), momentum=fp[0], eps=fp[1])
    if op == "group_norm":
        return F.group_norm(x[0], ip[0], x[1] if ip[1] else None, x[2] if ip[1] else None, fp[0])
    if op == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(x[0], (ip[0], ip[1]))
    if op == "one_hot":
        return F.one_hot(x[0].long(), ip[0]).to(dt)
    if op == "argsort":
        return torch.sort(x[0], dim=ip[0], descending=bool(ip[1]), stable=True).indices.to(torch.int32)
    if op == "sort":
        return torch.sort(x[0], dim=ip[0], descending=bool(ip[1]), stable=True).values
    if op in ("kthvalue", "kthvalue_idx"):
        r = torch.kthvalue(x[0], ip[0], ip[1], keepdim=bool(ip[2]))
        return r.values if op == "kthvalue" else r.indices.to(torch.int32)
    if op in ("median", "median_idx"):
        r = torch.median(x[0], ip[0], keepdim=bool(ip[1]))
        return r.values if op == "median" else r.indices.to(torch.int32)
    if op == "quantile":
        return torch.quantile(x[0], fp[0], dim=ip[0], keepdim=bool(ip[1]),
                              interpolation=("linear", "lower", "higher", "nearest", "midpoint")[ip[2]])
    if op in ("topk", "topk_idx"):
        r = torch.topk(x[0], ip[0], ip[1], largest=bool(ip[2]))
        return r.values if op == "topk" else r.indices.to(torch.int32)
    if op in ("argmax", "argmin"):
        return getattr(torch, op)(x[0], dim=ip[0], keepdim=bool(ip[1]))
    if op in ("sum_all", "mean_all"):
        return getattr(x[0], op[:-4])()
    if op == "linear":
        return F.linear(x[0], x[1], x[2] if len(x) > 2 else None)
    if op == "cat":
        return torch.cat(x, ip[0])
    if op == "split":
        pieces = torch.split(x[0], ip[2:2 + ip[1]], ip[0])
        if len(pieces) != ip[1]:
            raise RuntimeError("split: sizes do not add up")
        return torch.cat([p * float(i + 1) for i, p in enumerate(pieces)], ip[0])
    if op == "index_select":
        return torch.index_select(x[0], ip[0], x[1])
    if op == "gather":
        return torch.gather(x[0], ip[0], x[1])
    if op == "index_add":
        return torch.index_add(x[0], ip[0], x[1], x[2], alpha=fp[0])
    if op == "scatter_add":
        return torch.scatter_add(x[0], ip[0], x[1], x[2])
    if op == "embedding":
        return F.embedding(x[1], x[0])
    if op == "tril":
        return torch.tril(x[0], ip[0])
    if op in ("softmax", "log_softmax"):
        return getattr(torch, op)(x[0], ip[0])
    if op == "layer_norm":
        w = x[1] if ip[0] else None
        b = x[1 + ip[0]] if ip[1] else None
        return F.layer_norm(x[0], (x[0].shape[-1],), w, b, fp[0])
    if op == "cross_entropy":
        lg, t = x[0], x[1]
        if t.is_floating_point():
            raise TypeError("targets must be integers")
        if lg.dim() > 2:
            lg, t = lg.reshape(-1, lg.shape[-1]), t.reshape(-1)
        return F.cross_entropy(lg, t, ignore_index=ip[0])
    if op == "flip":
        return torch.flip(x[0], ip[1:1 + ip[0]])
    if op == "roll":
        return torch.roll(x[0], ip[0], ip[1])
    if op == "repeat":
        return x[0].repeat(*ip[1:1 + ip[0]])
    if op == "pad":
        return F.pad(x[0], ip[1:1 + ip[0]], value=fp[0])
    # conv and pools, ip: stride h w, padding h w, dilation h w, groups, bias (conv) or kernel h w,
    # output padding h w (fold: the output size), same, pad_mode, ceil_mode, exclude_pad
    if op in ("conv2d", "conv1d"):
        n = 2 if op == "conv2d" else 1
        s, p, d = ip[0:n], ip[2:2 + n], ip[4:4 + n]
        mode = ("zeros", "reflect", "replicate", "circular")[ip[12]]
        layer = (torch.nn.Conv2d if n == 2 else torch.nn.Conv1d)(
            x[0].shape[1], x[1].shape[0], tuple(x[1].shape[2:]), stride=[v or 1 for v in s],
            padding="same" if ip[11] else p, dilation=[v or 1 for v in d], groups=ip[6] or 1,
            bias=bool(ip[7]), padding_mode=mode)
        # the module pads as padding_mode says, then calls the functional conv with x's weight
        return layer._conv_forward(x[0], x[1], x[2] if ip[7] else None)
    if op in ("conv_transpose2d", "conv_transpose1d"):
        n = 2 if op == "conv_transpose2d" else 1
        fn = F.conv_transpose2d if n == 2 else F.conv_transpose1d
        return fn(x[0], x[1], x[2] if ip[7] else None, stride=[v or 1 for v in ip[0:n]],
                  padding=ip[2:2 + n], output_padding=ip[9:9 + n], groups=ip[6] or 1,
                  dilation=[v or 1 for v in ip[4:4 + n]])
    if op == "max_pool2d":
        k = ip[7:9]
        return F.max_pool2d(x[0], k, stride=[s or kk for s, kk in zip(ip[0:2], k)], padding=ip[2:4],
                            dilation=[v or 1 for v in ip[4:6]], ceil_mode=bool(ip[13]))
    if op == "unfold":
        return F.unfold(x[0], ip[7:9], stride=[v or 1 for v in ip[0:2]], padding=ip[2:4],
                        dilation=[v or 1 for v in ip[4:6]])
    if op == "fold":
        return F.fold(x[0], ip[9:11], ip[7:9], stride=[v or 1 for v in ip[0:2]], padding=ip[2:4],
                      dilation=[v or 1 for v in ip[4:6]])
    if op == "avg_pool2d":
        k = ip[7:9]
        return F.avg_pool2d(x[0], k, stride=[s or kk for s, kk in zip(ip[0:2], k)], padding=ip[2:4],
                            ceil_mode=bool(ip[13]), count_include_pad=not ip[14])
    if op == "pad_mode":
        mode = ("constant", "reflect", "replicate", "circular")[ip[0]]
        return F.pad(x[0], ip[2:2 + ip[1]], mode=mode)
    if op == "lstm_cell":
        return torch.cat(torch.lstm_cell(x[0], (x[1], x[2]), x[3], x[4], x[5], x[6]), -1)
    if op == "gru_cell":
        return torch.gru_cell(x[0], x[1], x[2], x[3], x[4], x[5])
    if op == "rnn_cell":
        return (torch.rnn_relu_cell if ip[0] else torch.rnn_tanh_cell)(x[0], x[1], x[2], x[3], x[4], x[5])
    if op == "rnn_seq":  # ip: kind (0 tanh, 1 relu, 2 lstm, 3 gru), layers, bidir, batch_first, bias, hidden
        kind, layers, bidir, bf, bias, H = ip[0], ip[1] or 1, bool(ip[2]), bool(ip[3]), bool(ip[4]), ip[5]
        G, D, I = (1, 1, 4, 3)[kind], 2 if bidir else 1, x[0].shape[2]
        P = ip[7] or H  # LSTM's proj_size (ip[7]): weight_hr [P, H] after the biases
        params, at = [], 0
        for layer in range(layers):
            for d in range(D):
                lin = I if layer == 0 else P * D
                shapes = [(G * H, lin), (G * H, P)] + ([(G * H,), (G * H,)] if bias else []) + \
                    ([(P, H)] if ip[7] else [])
                for sh in shapes:
                    n = math.prod(sh)
                    params.append(x[1][at:at + n].reshape(sh))
                    at += n
        lengths = x[2].long() if ip[6] else None  # ip[6]: x[2] holds the lengths (then h0, c0)
        st = x[3:] if ip[6] else x[2:]
        N, T = x[0].shape[0 if bf else 1], x[0].shape[1 if bf else 0]
        h0 = st[0] if len(st) > 0 else torch.zeros(layers * D, N, P, dtype=dt)
        c0 = st[1] if len(st) > 1 else torch.zeros(layers * D, N, H, dtype=dt)
        if lengths is not None:  # packed (torch's packed overloads of lstm/gru/rnn), padded back
            pk = torch.nn.utils.rnn.pack_padded_sequence(x[0], lengths, batch_first=bf, enforce_sorted=False)
            si, ui = pk.sorted_indices, pk.unsorted_indices
            fn = (torch.rnn_tanh, torch.rnn_relu, torch.lstm, torch.gru)[kind]
            hx = (h0.index_select(1, si), c0.index_select(1, si)) if kind == 2 else h0.index_select(1, si)
            res = fn(pk.data, pk.batch_sizes, hx, params, bias, layers, 0.0, False, bidir)
            out = torch.nn.utils.rnn.PackedSequence(res[0], pk.batch_sizes, si, ui)
            y = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=bf, total_length=T)[0]
            return torch.cat([t.reshape(-1) for t in [y] + [s.index_select(1, ui) for s in res[1:]]])
        if kind == 2:
            y, hn, cn = torch.lstm(x[0], (h0, c0), params, bias, layers, 0.0, False, bidir, bf)
            return torch.cat([y.reshape(-1), hn.reshape(-1), cn.reshape(-1)])
        fn = (torch.rnn_tanh, torch.rnn_relu, None, torch.gru)[kind]
        y, hn = fn(x[0], h0, params, bias, layers, 0.0, False, bidir, bf)
        return torch.cat([y.reshape(-1), hn.reshape(-1)])
    if op == "sdpa":  # ip: causal, has mask (x[3]), probabilities too; fp: scale (0: 1/sqrt(D))
        q, k, v = x[0], x[1], x[2]
        s = q @ k.transpose(-1, -2) * (fp[0] or 1.0 / math.sqrt(q.shape[-1]))
        if ip[0]:
            s = s.masked_fill(~torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool).tril(), float("-inf"))
        if ip[1]:
            s = s + x[3]
        p = torch.softmax(s, -1)
        y = p @ v
        return torch.cat([y.reshape(-1), p.reshape(-1)]) if ip[2] else y
    if op == "mha":  # ip: heads, batch_first, causal, has attn_mask, has key_padding_mask, bias,
        # kdim, vdim, add_bias_kv, add_zero_attn, per-head weights
        H, bf, causal, bias = ip[0], bool(ip[1]), bool(ip[2]), bool(ip[5])
        q, k, v = (t.transpose(0, 1) if bf else t for t in x[:3])  # torch's [L, N, E]
        E, L, S = q.shape[2], q.shape[0], k.shape[0]
        kd, vd = ip[6] or E, ip[7] or E
        packed = kd == E and vd == E
        sizes = ([3 * E * E] if packed else [E * E, E * kd, E * vd]) + ([3 * E] if bias else []) + \
            ([E, E] if ip[8] else []) + [E * E] + ([E] if bias else [])
        parts = list(torch.split(x[3], sizes))
        if packed:
            w_in, wq, wk, wv = parts.pop(0).reshape(3 * E, E), None, None, None
        else:
            w_in = None
            wq, wk, wv = parts.pop(0).reshape(E, E), parts.pop(0).reshape(E, kd), parts.pop(0).reshape(E, vd)
        b_in = parts.pop(0) if bias else None
        bk, bv = (parts.pop(0).reshape(1, 1, E), parts.pop(0).reshape(1, 1, E)) if ip[8] else (None, None)
        w_out = parts.pop(0).reshape(E, E)
        b_out = parts.pop(0) if bias else None
        mask = x[4] if ip[3] else None
        if causal:
            cm = torch.zeros(L, S, dtype=dt).masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
            mask = cm if mask is None else mask + cm
        kpm = x[5 if ip[3] else 4] if ip[4] else None
        if kpm is not None and not kpm.is_floating_point():  # an i32 mask stands for torch's bool
            kpm = kpm != 0
        y, w = F.multi_head_attention_forward(q, k, v, E, H, w_in, b_in, bk, bv, bool(ip[9]), 0.0, w_out, b_out,
                                              training=False, key_padding_mask=kpm, need_weights=True,
                                              attn_mask=mask, use_separate_proj_weight=not packed,
                                              q_proj_weight=wq, k_proj_weight=wk, v_proj_weight=wv,
                                              average_attn_weights=not ip[10])
        if bf:
            y = y.transpose(0, 1)
        return torch.cat([y.reshape(-1), w.reshape(-1)])
    if op in ("encoder_layer", "decoder_layer"):
        # ip: decoder, heads, dim_feedforward, norm_first, gelu, batch_first, causal, key padding mask
        dec, H, ff, nf, gelu, bf, causal, haskpm = ip[0], ip[1], ip[2], bool(ip[3]), bool(ip[4]), bool(ip[5]), \
            bool(ip[6]), bool(ip[7])
        E = x[0].shape[2]
        cls = torch.nn.TransformerDecoderLayer if dec else torch.nn.TransformerEncoderLayer
        layer = cls(E, H, ff, dropout=0.0, activation="gelu" if gelu else "relu", batch_first=bf,
                    norm_first=nf).to(dt)
        flat, at, params = x[1 + dec], 0, {}
        for name, p in layer.named_parameters():
            params[name] = flat[at:at + p.numel()].reshape(p.shape)
            at += p.numel()
        kpm = (x[2 + dec] != 0) if haskpm else None
        L = x[0].shape[1 if bf else 0]
        cm = torch.zeros(L, L, dtype=dt).masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(),
                                                     float("-inf")) if causal else None
        if dec:
            args = (x[0], x[1])
            kw = {"tgt_mask": cm, "memory_key_padding_mask": kpm}
        else:
            args = (x[0],)
            kw = {"src_mask": cm, "src_key_padding_mask": kpm}
        return torch.nn.utils.stateless.functional_call(layer, params, args, kw)
    if op == "interpolate":
        nd = x[0].dim() - 2
        mode = "nearest" if ip[0] == 0 else ("linear", "bilinear")[nd - 1]
        return F.interpolate(x[0], size=ip[2:2 + nd], mode=mode,
                             align_corners=None if ip[0] == 0 else bool(ip[1]))
    if op == "cumsum":
        return torch.cumsum(x[0], ip[0])
    if op == "cumprod":
        return torch.cumprod(x[0], ip[0])
    red = ("mean", "sum", "none")[ip[7]] if op.endswith("loss") or op in (
        "bce_with_logits", "cross_entropy_smooth", "nll_loss_weighted", "cross_entropy_weighted",
        "bce_with_logits_weighted") else "mean"  # ip[7]: nabla's nb_reduction
    if op == "nll_loss_weighted":
        return F.nll_loss(x[0], x[1].long(), weight=x[2], ignore_index=ip[0], reduction=red)
    if op == "cross_entropy_weighted":
        return F.cross_entropy(x[0], x[1].long(), weight=x[2], ignore_index=ip[0], reduction=red,
                               label_smoothing=fp[0])
    if op == "bce_with_logits_weighted":
        w = x[2] if ip[1] else None
        pw = x[3 if ip[1] else 2] if ip[2] else None
        return F.binary_cross_entropy_with_logits(x[0], x[1], weight=w, pos_weight=pw, reduction=red)
    if op == "cross_entropy_smooth":
        lg, t = x[0], x[1]
        if lg.dim() > 2:
            shape = t.shape
            r = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), t.reshape(-1), ignore_index=ip[0],
                                label_smoothing=fp[0], reduction=red)
            return r.reshape(shape) if red == "none" else r
        return F.cross_entropy(lg, t, ignore_index=ip[0], label_smoothing=fp[0], reduction=red)
    if op == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(x[0], x[1], reduction=red)
    if op == "norm":  # ip as the reductions; fp[0] p
        keep, axes = bool(ip[0]), ip[3:3 + ip[2]]
        return torch.linalg.vector_norm(x[0], fp[0], dim=axes or None, keepdim=keep)
    if op == "normalize":
        return F.normalize(x[0], p=fp[0], dim=ip[0], eps=fp[1])
    if op == "cosine_similarity":
        return F.cosine_similarity(x[0], x[1], dim=ip[0], eps=fp[0])
    if op == "rms_norm":  # LLaMA's RMSNorm (torch 1.13 has none)
        if ip[0] and x[1].shape != x[0].shape[-1:]:
            raise RuntimeError("rms_norm: weight does not match")
        y = x[0] * torch.rsqrt(x[0].pow(2).mean(-1, keepdim=True) + fp[0])
        return y * x[1] if ip[0] else y
    if op == "instance_norm":
        if x[0].dim() < 3:
            raise RuntimeError("instance_norm: want [N, C, ...]")
        return F.instance_norm(x[0], weight=x[1] if ip[0] else None, bias=x[2] if ip[0] else None, eps=fp[0])
    if op == "kl_div":
        kl_red = ("mean", "sum", "none", "batchmean")[ip[7]]
        return F.kl_div(x[0], x[1], reduction=kl_red, log_target=bool(ip[0]))
    if op == "bce":
        bce_red = ("mean", "sum", "none")[ip[7]]
        return F.binary_cross_entropy(x[0], x[1], weight=x[2] if ip[1] else None, reduction=bce_red)
    if op == "pairwise_distance":
        return F.pairwise_distance(x[0], x[1], p=fp[0], eps=fp[1])
    mred = ("mean", "sum", "none")[ip[7]] if op.endswith("margin_loss") or op.endswith("embedding_loss") else None
    if op == "triplet_margin_loss":
        return F.triplet_margin_loss(x[0], x[1], x[2], margin=fp[2], p=fp[0], eps=fp[1], swap=bool(ip[0]),
                                     reduction=mred)
    if op == "margin_ranking_loss":
        return F.margin_ranking_loss(x[0], x[1], x[2], margin=fp[2], reduction=("mean", "sum", "none")[ip[7]])
    if op == "cosine_embedding_loss":
        return F.cosine_embedding_loss(x[0], x[1], x[2], margin=fp[2], reduction=mred)
    if op == "log_sigmoid":
        return F.logsigmoid(x[0])
    if op == "glu":
        return F.glu(x[0], ip[0])
    if op == "triu":
        return torch.triu(x[0], ip[0])
    if op in ("mse_loss", "l1_loss"):
        return getattr(F, op)(x[0], x[1], reduction=red)
    if op == "huber_loss":
        return F.huber_loss(x[0], x[1], delta=fp[0], reduction=red)
    if op == "nll_loss":
        lp, t = x[0], x[1]
        if t.is_floating_point():
            raise TypeError("targets must be integers")
        if lp.dim() > 2:
            shape = t.shape
            r = F.nll_loss(lp.reshape(-1, lp.shape[-1]), t.reshape(-1), ignore_index=ip[0], reduction=red)
            return r.reshape(shape) if red == "none" else r
        return F.nll_loss(lp, t, ignore_index=ip[0], reduction=red)
    if op == "linear_cross_entropy":
        b, t = (x[2], x[3]) if ip[1] else (None, x[2])
        return F.cross_entropy(F.linear(x[0], x[1], b), t, ignore_index=ip[0])
    if op == "dropout":
        p, train = fp[0], bool(ip[0])
        if train and 0 < p < 1 and c.get("keep") is not None:  # nabla's mask, PyTorch's formula
            return x[0] * (torch.from_numpy(c["keep"]).to(dt) / (1 - p))
        return F.dropout(x[0], p, train)
    if op == "attention":
        if not (x[0].shape == x[1].shape == x[2].shape) or x[0].dim() != 4:
            raise RuntimeError("attention: q, k, v must be [B,H,T,D] alike")
        return causal_attention(x[0], x[1], x[2])
    if op == "attention_qkv":
        qkv, H = x[0], ip[0]
        B, T, C3 = qkv.shape
        C = C3 // 3
        if H <= 0 or C % H:
            raise RuntimeError("attention_qkv: bad n_head")
        heads = [t.reshape(B, T, H, C // H).transpose(1, 2) for t in qkv.split(C, 2)]
        return causal_attention(*heads).transpose(1, 2).reshape(B, T, C)
    if op == "cast":
        target = {"f32": dt, "i32": torch.int32, "f16": torch.float16, "bf16": torch.bfloat16}[DTYPES[ip[0]]]
        out = x[0].to(target)
        return out.to(dt) if target in (torch.float16, torch.bfloat16) else out
    if op in LINALG:
        return linalg(op, ip, fp, x, dt)
    raise NotImplementedError(op)


LINALG = {"solve", "inverse", "det", "slogdet", "slogdet_sign", "logdet", "cholesky", "cholesky_gram",
          "solve_triangular", "cholesky_solve", "matrix_power", "lu_factor", "lu_factor_piv", "lu_solve",
          "eigvalsh", "eigh", "eigh_vecs", "eigh_fn", "qr", "qr_r", "qr_qr",
          "svdvals", "svd", "svd_u", "svd_vh", "svd_fn", "svd_orth", "svd_full", "pinv", "lstsq", "matrix_rank",
          "matrix_norm", "cond"}

# matrix_norm's ord by ip[0], as ops_edge_linalg.c's OE_MATRIX_ORDS (the last one unknown to both)
MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf, 3)
FLT_EPSILON = 1.1920928955078125e-07


def lead_sign(v):
    """The sign (+-1, shape [..., 1, n]) that makes the leading entry of each column of v positive,
    as ops/decomp_math.h's nb_lead_sign: the leading entry is the first whose magnitude is within
    1e-5 of the column's largest, so that rounding does not choose between entries of equal size."""
    d = v.detach()
    a = d.abs()
    n = a.shape[-2]
    pos = torch.arange(n).reshape(n, 1).expand(a.shape)
    first = torch.where(a >= a.amax(-2, keepdim=True) * (1 - 1e-5), pos, torch.full_like(pos, n))
    idx = first.amin(-2, keepdim=True).clamp(max=n - 1)  # (n: a NaN column, NaN whatever the sign)
    s = torch.sign(torch.gather(d, -2, idx))
    return torch.where(s == 0, torch.ones_like(s), s)


def lead_positive(v):
    """The eigenvectors (columns of v) each scaled so that its leading entry is positive, as
    nb_eigh gives them (ops/decomp_math.h's nb_lead_sign): the leading entry is the first whose
    magnitude is within 1e-5 of the column's largest, so that rounding does not choose between
    entries of equal size. LAPACK's signs are its own, so this is the same decomposition written
    with nabla's convention; the scale is a constant (+-1) for autograd, so the gradient is the
    eigenvectors' own."""
    return v if v.numel() == 0 else v * lead_sign(v)


def svd_signed(a):
    """torch.linalg.svd(a, full_matrices=False) written with nabla's sign rule (nb_svd): each
    right singular vector (row of Vh) scaled to have its leading entry positive, and U's column
    scaled alike, so that U diag(S) Vh stays A; the scale is a constant +-1 for autograd."""
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    if vh.numel() == 0:
        return u, s, vh
    sg = lead_sign(vh.mT)  # [..., 1, k]
    return u * sg, s, vh * sg.mT


def default_rtol(a, rtol):
    """The rtol nabla uses: the given one, or torch's float32 default max(m, n) eps (given
    explicitly so that the float64 referee computes the same function, not float64's default)."""
    return rtol if not rtol < 0 else max(a.shape[-2], a.shape[-1]) * FLT_EPSILON  # (NaN stays)


def linalg(op, ip, fp, x, dt):
    """The linear-algebra ops of ops_edge_linalg.c (ip and fp as its oe_linalg_apply reads them)."""
    if op == "solve":
        return torch.linalg.solve(x[0], x[1], left=bool(ip[0]))
    if op == "inverse":
        return torch.linalg.inv(x[0])
    if op == "det":
        return torch.linalg.det(x[0])
    if op in ("slogdet", "slogdet_sign"):
        sign, logabsdet = torch.linalg.slogdet(x[0])
        return logabsdet if op == "slogdet" else sign
    if op == "logdet":
        return torch.logdet(x[0])
    if op == "cholesky":
        return torch.linalg.cholesky(x[0], upper=bool(ip[0]))
    if op == "cholesky_gram":
        n = x[0].shape[-2]
        return torch.linalg.cholesky(x[0] @ x[0].mT + torch.eye(n, dtype=dt), upper=bool(ip[0]))
    if op == "solve_triangular":
        return torch.linalg.solve_triangular(x[0], x[1], upper=bool(ip[0]), left=bool(ip[1]),
                                             unitriangular=bool(ip[2]))
    if op == "cholesky_solve":
        return torch.cholesky_solve(x[0], x[1], upper=bool(ip[0]))
    if op == "matrix_power":
        return torch.linalg.matrix_power(x[0], ip[0])
    if op in ("lu_factor", "lu_factor_piv"):
        # lu_factor_ex: torch.linalg.lu_factor without its check for a zero pivot, which nabla's
        # nb_lu_factor leaves to the solves (a singular A is no error there, as LAPACK's getrf)
        lu, piv, _ = torch.linalg.lu_factor_ex(x[0])
        return lu if op == "lu_factor" else (piv - 1).to(torch.int32)  # nabla's pivots count from 0
    if op == "lu_solve":  # nabla's pivots (x[1]) count from 0, torch's from 1
        return torch.linalg.lu_solve(x[0], (x[1] + 1).to(torch.int32), x[2], adjoint=bool(ip[0]))
    if op == "eigvalsh":
        return torch.linalg.eigvalsh(x[0])
    if op in ("eigh", "eigh_vecs", "eigh_fn"):  # torch.linalg.eigh reads the lower triangle (UPLO 'L')
        w, v = torch.linalg.eigh(x[0])
        if op == "eigh":
            return w
        if op == "eigh_vecs":
            return lead_positive(v)
        return (v * torch.exp(w).unsqueeze(-2)) @ v.mT  # V diag(exp(w)) V^T, whatever the signs
    if op in ("qr", "qr_r", "qr_qr"):
        q, r = torch.linalg.qr(x[0], mode="complete" if ip[0] else "reduced")
        return q if op == "qr" else r if op == "qr_r" else torch.cat([q.reshape(-1), r.reshape(-1)])
    if op == "svdvals":
        return torch.linalg.svdvals(x[0])
    if op in ("svd", "svd_u", "svd_vh", "svd_fn", "svd_orth"):
        u, s, vh = svd_signed(x[0])
        if op in ("svd", "svd_u", "svd_vh"):
            return s if op == "svd" else u if op == "svd_u" else vh
        if op == "svd_fn":  # U diag(f(s)) Vh: f = exp (ip[0] 0) or the identity (1)
            return (u * (s if ip[0] else torch.exp(s)).unsqueeze(-2)) @ vh
        return torch.cat([(u.mT @ u).reshape(-1), (vh @ vh.mT).reshape(-1)])
    if op == "svd_full":  # U^T U, Vh Vh^T, and the projectors on the completed columns (any basis)
        u, s, vh = torch.linalg.svd(x[0], full_matrices=True)
        k = s.shape[-1]
        uc, vc = u[..., k:], vh[..., k:, :]
        return torch.cat([(u.mT @ u).reshape(-1), (vh @ vh.mT).reshape(-1), (uc @ uc.mT).reshape(-1),
                          (vc.mT @ vc).reshape(-1)])
    if op == "pinv":
        return torch.linalg.pinv(x[0], rtol=default_rtol(x[0], fp[0]))
    if op == "lstsq":  # ip[0]: 0 the CPU default driver (gelsy), 1 gelsd
        # torch 1.13's gelsy passes LAPACK an uninitialised JPVT array, whose stray nonzero entries
        # pin columns in place, so that on a rank-deficient A its answer changes from run to run,
        # often with rank 0 (pytorch/pytorch#71222, #187411; fixed by zeroing JPVT in #187436).
        # Where gelsy finds A rank-deficient, the answer is gelsd's: both give the minimum-norm
        # solution. (gelsd refuses an empty B and a NaN in A, which gelsy takes: gelsy's answer stands.)
        a, rcond = x[0], default_rtol(x[0], -1)
        if not ip[0]:
            r = torch.linalg.lstsq(a, x[1], rcond=rcond, driver="gelsy")
            if r.rank.numel() == 0 or bool((r.rank >= min(a.shape[-2], a.shape[-1])).all()):
                return r.solution
            try:
                return torch.linalg.lstsq(a, x[1], rcond=rcond, driver="gelsd").solution
            except RuntimeError:
                return r.solution
        return torch.linalg.lstsq(a, x[1], rcond=rcond, driver="gelsd").solution
    if op == "matrix_rank":
        rtol = fp[0]
        if rtol < 0 and dt == torch.float32:  # torch's own default
            return torch.linalg.matrix_rank(x[0]).to(torch.int32)
        return torch.linalg.matrix_rank(x[0], rtol=default_rtol(x[0], rtol)).to(torch.int32)
    if op == "matrix_norm":
        return torch.linalg.matrix_norm(x[0], MATRIX_ORDS[ip[0]])
    if op == "cond":
        return torch.linalg.cond(x[0])
    raise NotImplementedError(op)
