/* ops/pool.c - max, average and adaptive average pooling over 2-D windows. Max pooling is the
 * backend's kernel (ops/window.c: each window's largest element and its position, where the
 * gradient goes); average pooling sums the windows by a depthwise convolution with ones (no copy
 * of the windows) and divides by the window's count. Adaptive pooling averages narrowed slices. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/window.h"
#include "tensor/internal.h"

/* max or average pooling: the windows as columns, reduced over the window axis */
static nb_tensor *pool2d(const char *op, bool max, nb_tensor *x, const int kernel[2],
                         const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED(op, x);
    if (nb_check_dtype(op, x, NB_F32, "input")) return NULL;
    char xs[64];
    if (x->ndim == 3) { /* unbatched [C,H,W], as torch */
        nb_tensor *y = pool2d(op, max, nb_unsqueeze(x, 0), kernel, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (x->ndim != 4) return nb_set_error("%s: want input [N,C,H,W] or [C,H,W], got %s", op, NB_SHP(x, xs));
    if (!kernel || kernel[0] < 1 || kernel[1] < 1)
        return nb_set_error("%s: the window must be at least 1x1, got %dx%d", op, kernel ? kernel[0] : 0,
                            kernel ? kernel[1] : 0);
    if (nb_win_opts_check(op, max ? NB_WIN_MAXPOOL : NB_WIN_AVGPOOL, opts, 2, kernel)) return NULL;
    int64_t s[2], p[2], d[2], G;
    nb_win_opts(opts, s, p, d, &G);
    for (int i = 0; i < 2; i++)
        if (!opts || !opts->stride[i]) s[i] = kernel[i]; /* torch's default stride is the window */
    const bool ceil = opts && opts->ceil_mode;
    nb_win_geom g;
    if (nb_win_geom_make(op, x->shape, kernel[0], kernel[1], s, p, d, ceil, &g)) return NULL;
    if (max) return nb_as_op(nb_win_max_pool(x, &g), op);
    /* the windows' sums: a depthwise convolution by ones (zeros outside x) */
    nb_ctx *ctx = nb_out_ctx(x);
    nb_tensor *ones = nb_full_on(ctx, NB_F32, x->device, NB_SHAPE(g.C, 1, g.KH, g.KW), 1.0);
    nb_tensor *sum = ones ? nb_win_dwconv(x, ones, &g) : NULL, *r = NULL;
    if (sum && !ceil && !(opts && opts->exclude_pad)) {
        r = nb_div_scalar(sum, (float)(g.KH * g.KW));
    } else if (sum) {
        /* divide by the count of each window's elements inside x (exclude_pad) or inside the
         * padded input (a ceil_mode window may reach past it): the window sums of a ones image.
         * Constant: no gradient flows through the count. */
        nb_win_geom g1 = g;
        g1.N = g1.C = 1;
        int64_t img[4] = {1, 1, g.H, g.W};
        if (!opts->exclude_pad) {
            img[2] = g.Hp, img[3] = g.Wp;
            g1.H = g.Hp, g1.W = g.Wp, g1.ph = g1.pw = 0;
        }
        nb_tensor *one = nb_full_on(ctx, NB_F32, x->device, 4, img, 1.0);
        nb_tensor *w1 = one ? nb_full_on(ctx, NB_F32, x->device, NB_SHAPE(1, 1, g.KH, g.KW), 1.0) : NULL;
        nb_tensor *count = w1 ? nb_win_dwconv(one, w1, &g1) : NULL;
        r = count ? nb_div(sum, count) : NULL;
    }
    return nb_as_op(r ? nb_reshape(r, NB_SHAPE(g.N, g.C, g.OH, g.OW)) : NULL, op);
}

nb_tensor *nb_max_pool2d(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts) {
    return pool2d("max_pool2d", true, x, kernel, opts);
}

nb_tensor *nb_avg_pool2d(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts) {
    return pool2d("avg_pool2d", false, x, kernel, opts);
}

/* 1-d pooling: the 2-d pool over [N,C,1,L] (or [C,1,L]) with a 1 x k window; the options' [0]
 * entries (stride, padding, dilation) apply to the length */
static nb_tensor *pool1d(const char *op, bool max, nb_tensor *x, int k, const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED(op, x);
    char xs[64];
    if (x->ndim != 2 && x->ndim != 3)
        return nb_set_error("%s: want input [N,C,L] or [C,L], got %s", op, NB_SHP(x, xs));
    if (k < 1) return nb_set_error("%s: the window must be at least 1, got %d", op, k);
    if (nb_win_opts_check(op, max ? NB_WIN_MAXPOOL : NB_WIN_AVGPOOL, opts, 1, (const int[]){k, k}))
        return NULL;
    nb_conv_opts o = opts ? *opts : (nb_conv_opts){.groups = 0};
    o.stride[1] = opts && opts->stride[0] ? opts->stride[0] : k, o.stride[0] = 1;
    o.padding[1] = o.padding[0], o.padding[0] = 0;
    o.dilation[1] = o.dilation[0], o.dilation[0] = 0;
    const int d = x->ndim - 1; /* [.., C, L] -> [.., C, 1, L] */
    nb_tensor *y = pool2d(op, max, nb_unsqueeze(x, d), (const int[]){1, k}, &o);
    return nb_as_op(y ? nb_squeeze(y, d) : NULL, op);
}

nb_tensor *nb_max_pool1d(nb_tensor *x, int k, const nb_conv_opts *opts) {
    return pool1d("max_pool1d", true, x, k, opts);
}

nb_tensor *nb_avg_pool1d(nb_tensor *x, int k, const nb_conv_opts *opts) {
    return pool1d("avg_pool1d", false, x, k, opts);
}

/* The mean of x over the adaptive windows of dim d (torch's: output o averages the inputs
 * floor(o I / O) .. ceil((o + 1) I / O) - 1): when O divides I one mean over a split dim, else
 * one narrow + mean per output, then a cat. Only window elements meet (an inf or NaN stays in
 * its windows), and the gradient is the composition's. */
static nb_tensor *adaptive_mean(nb_tensor *x, int d, int64_t O) {
    if (!x) return NULL;
    const int64_t I = x->shape[d];
    if (I % O == 0 && x->ndim < NB_MAX_DIMS) {
        int64_t s[NB_MAX_DIMS];
        for (int k = 0, j = 0; k < x->ndim; k++) {
            s[j++] = k == d ? O : x->shape[k];
            if (k == d) s[j++] = I / O;
        }
        return nb_mean(nb_reshape(x, x->ndim + 1, s), 1, (const int[]){d + 1}, false);
    }
    nb_tensor **parts = nb_ctx_alloc(nb_out_ctx(x), (size_t)O * sizeof *parts, sizeof *parts);
    if (!parts) return NULL;
    for (int64_t o = 0; o < O; o++) {
        const int64_t a = o * I / O, e = ((o + 1) * I + O - 1) / O;
        parts[o] = nb_mean(nb_narrow(x, d, a, e - a), 1, (const int[]){d}, true);
        if (!parts[o]) return NULL;
    }
    return nb_cat(parts, (int)O, d);
}

nb_tensor *nb_adaptive_avg_pool1d(nb_tensor *x, int64_t ol) {
    NB_NULL_GUARD_NAMED("adaptive_avg_pool1d", x);
    char xs[64];
    if (nb_check_dtype("adaptive_avg_pool1d", x, NB_F32, "input")) return NULL;
    if (x->ndim != 2 && x->ndim != 3)
        return nb_set_error("adaptive_avg_pool1d: want input [N,C,L] or [C,L], got %s", NB_SHP(x, xs));
    const int64_t L = x->shape[x->ndim - 1];
    if (ol < 1 || L < 1 || ol > INT32_MAX)
        return nb_set_error("adaptive_avg_pool1d: output %lld from input %s (want both sizes positive)",
                            (long long)ol, NB_SHP(x, xs));
    return nb_as_op(adaptive_mean(x, x->ndim - 1, ol), "adaptive_avg_pool1d");
}

/* rows, then columns: the windows are rectangles, so the mean of the row means is the window's */
nb_tensor *nb_adaptive_avg_pool2d(nb_tensor *x, int64_t oh, int64_t ow) {
    NB_NULL_GUARD_NAMED("adaptive_avg_pool2d", x);
    char xs[64];
    if (nb_check_dtype("adaptive_avg_pool2d", x, NB_F32, "input")) return NULL;
    if (x->ndim != 3 && x->ndim != 4)
        return nb_set_error("adaptive_avg_pool2d: want input [N,C,H,W] or [C,H,W], got %s", NB_SHP(x, xs));
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    if (oh < 1 || ow < 1 || H < 1 || W < 1 || oh > INT32_MAX || ow > INT32_MAX)
        return nb_set_error("adaptive_avg_pool2d: output %lldx%lld from input %s (want both sizes positive)",
                            (long long)oh, (long long)ow, NB_SHP(x, xs));
    return nb_as_op(adaptive_mean(adaptive_mean(x, x->ndim - 2, oh), x->ndim - 1, ow), "adaptive_avg_pool2d");
}

/* ---- adaptive max pooling ------------------------------------------------------------------ */

/* The largest element of each adaptive window of the last two dims of x [..., H, W] (torch's
 * windows, as adaptive_mean's), the first in row-major order on ties, and when idx is not NULL
 * its position h W + w (i32): one narrow, argmax and gather per output, then a cat. When the
 * output divides the input and no positions are asked for, the windows are max_pool2d's. */
static nb_tensor *adaptive_max(const char *op, nb_tensor *x, int64_t oh, int64_t ow, nb_tensor **idx) {
    const int nd = x->ndim;
    const int64_t H = x->shape[nd - 2], W = x->shape[nd - 1];
    if (!idx && H % oh == 0 && W % ow == 0 && (H / oh) <= INT32_MAX && (W / ow) <= INT32_MAX) {
        const int k[2] = {(int)(H / oh), (int)(W / ow)};
        return nb_max_pool2d(x, k, NULL);
    }
    /* the uneven case takes a few ops per output: kept to outputs of 2^16 positions */
    if (oh * ow > 65536)
        return nb_set_error("%s: %lld x %lld outputs over uneven windows (at most 65536 positions)", op,
                            (long long)oh, (long long)ow);
    if (idx && H * W > ((int64_t)1 << 24)) /* positions computed in float */
        return nb_set_error("%s: %lld x %lld input positions (at most 2^24 with indices)", op, (long long)H,
                            (long long)W);
    nb_ctx *c = nb_out_ctx(x);
    const int64_t P = oh * ow;
    nb_tensor **vals = nb_ctx_alloc(c, (size_t)P * sizeof *vals, sizeof *vals);
    nb_tensor **pos = idx ? nb_ctx_alloc(c, (size_t)P * sizeof *pos, sizeof *pos) : NULL;
    if (!vals || (idx && !pos)) return NULL;
    int64_t lead[NB_MAX_DIMS];
    for (int i = 0; i < nd - 2; i++)
        lead[i] = x->shape[i];
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            const int64_t h0 = i * H / oh, h1 = ((i + 1) * H + oh - 1) / oh;
            const int64_t w0 = j * W / ow, w1 = ((j + 1) * W + ow - 1) / ow;
            nb_tensor *win = nb_narrow(nb_narrow(x, nd - 2, h0, h1 - h0), nd - 1, w0, w1 - w0);
            lead[nd - 2] = (h1 - h0) * (w1 - w0);
            nb_tensor *flat = win ? nb_reshape(win, nd - 1, lead) : NULL; /* [..., window] */
            nb_tensor *k = flat ? nb_argmax(flat, nd - 2, true) : NULL;
            nb_tensor *v = k ? nb_gather(flat, nd - 2, k) : NULL;
            if (!v) return NULL;
            vals[i * ow + j] = v;
            if (idx) { /* the window position k as the input's h W + w, in float (exact below 2^24) */
                nb_tensor *kf = nb_cast(k, NB_F32), *wl = nb_scalar_like(x, (float)(w1 - w0));
                nb_tensor *r = kf ? nb_floor_divide(kf, wl) : NULL;
                nb_tensor *cpos = r ? nb_sub(kf, nb_mul(r, wl)) : NULL;
                nb_tensor *p = cpos ? nb_add(nb_mul_scalar(nb_add_scalar(r, (float)h0), (float)W),
                                             nb_add_scalar(cpos, (float)w0))
                                    : NULL;
                if (!p || !(pos[i * ow + j] = nb_cast(p, NB_I32))) return NULL;
            }
        }
    int64_t out[NB_MAX_DIMS];
    for (int i = 0; i < nd - 2; i++)
        out[i] = x->shape[i];
    out[nd - 2] = oh, out[nd - 1] = ow;
    nb_tensor *y = nb_reshape(nb_cat(vals, (int)P, nd - 2), nd, out);
    if (y && idx && !(*idx = nb_reshape(nb_cat(pos, (int)P, nd - 2), nd, out))) return NULL;
    return y;
}

nb_tensor *nb_adaptive_max_pool2d(nb_tensor *x, int64_t oh, int64_t ow, nb_tensor **indices) {
    const char *op = "adaptive_max_pool2d";
    if (indices) *indices = NULL;
    NB_NULL_GUARD_NAMED(op, x);
    char xs[64];
    if (nb_check_dtype(op, x, NB_F32, "input")) return NULL;
    if (x->ndim != 3 && x->ndim != 4)
        return nb_set_error("%s: want input [N,C,H,W] or [C,H,W], got %s", op, NB_SHP(x, xs));
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    if (oh < 1 || ow < 1 || H < 1 || W < 1 || oh > 4096 || ow > 4096)
        return nb_set_error("%s: output %lldx%lld from input %s (want sizes from 1, the output at most 4096)",
                            op, (long long)oh, (long long)ow, NB_SHP(x, xs));
    return nb_as_op(adaptive_max(op, x, oh, ow, indices), op);
}

nb_tensor *nb_adaptive_max_pool1d(nb_tensor *x, int64_t ol, nb_tensor **indices) {
    const char *op = "adaptive_max_pool1d";
    if (indices) *indices = NULL;
    NB_NULL_GUARD_NAMED(op, x);
    char xs[64];
    if (nb_check_dtype(op, x, NB_F32, "input")) return NULL;
    if (x->ndim != 2 && x->ndim != 3)
        return nb_set_error("%s: want input [N,C,L] or [C,L], got %s", op, NB_SHP(x, xs));
    const int64_t L = x->shape[x->ndim - 1];
    if (ol < 1 || L < 1 || ol > 4096)
        return nb_set_error("%s: output %lld from input %s (want sizes from 1, the output at most 4096)", op,
                            (long long)ol, NB_SHP(x, xs));
    /* as a 2-d pool over [..., 1, L] */
    nb_tensor *i2 = NULL, *y = adaptive_max(op, nb_unsqueeze(x, x->ndim - 1), 1, ol, indices ? &i2 : NULL);
    if (y && indices) *indices = nb_squeeze(i2, x->ndim - 1);
    return nb_as_op(y ? nb_squeeze(y, x->ndim - 1) : NULL, op);
}
