/* ops/conv.c - convolutions (2-D and 1-D, plain and transposed), unfold and fold. The windows
 * of the input are copied into columns by im2col (ops/window.c, padding included; its gradient
 * is col2im), and the columns meet the weights in one batched nb_matmul. A transposed
 * convolution runs the other way: one matmul makes each input pixel's contribution to its
 * window, and col2im adds the windows up. Everything but im2col/col2im is composed, so the
 * arithmetic runs at GEMM speed and every other gradient is an existing op's. */
#include <stdint.h>
#include <string.h>

#include "ops/window.h"
#include "tensor/internal.h"

static int check_kernel(const char *op, const int kernel[2]) {
    if (kernel && kernel[0] >= 1 && kernel[1] >= 1) return 0;
    return nb_set_error("%s: the window must be at least 1x1, got %dx%d", op, kernel ? kernel[0] : 0,
                        kernel ? kernel[1] : 0),
           -1;
}

nb_tensor *nb_unfold(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED("unfold", x);
    if (nb_check_dtype("unfold", x, NB_F32, "input")) return NULL;
    char xs[64];
    if (x->ndim == 3) { /* unbatched [C,H,W], as torch */
        nb_tensor *u = nb_unfold(nb_unsqueeze(x, 0), kernel, opts);
        return u ? nb_squeeze(u, 0) : NULL;
    }
    if (x->ndim != 4) return nb_set_error("unfold: want input [N,C,H,W] or [C,H,W], got %s", NB_SHP(x, xs));
    if (check_kernel("unfold", kernel)) return NULL;
    if (nb_win_opts_check("unfold", NB_WIN_UNFOLD, opts, 2, kernel)) return NULL;
    int64_t s[2], p[2], d[2], G;
    nb_win_opts(opts, s, p, d, &G);
    nb_win_geom g;
    if (nb_win_geom_make("unfold", x->shape, kernel[0], kernel[1], s, p, d, false, &g)) return NULL;
    nb_tensor *cols = nb_win_im2col(x, &g, 0.0f);
    return nb_as_op(cols ? nb_reshape(cols, NB_SHAPE(g.N, g.C * g.KH * g.KW, g.OH * g.OW)) : NULL, "unfold");
}

nb_tensor *nb_fold(nb_tensor *cols, const int64_t out[2], const int kernel[2], const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED("fold", cols);
    if (nb_check_dtype("fold", cols, NB_F32, "input")) return NULL;
    char cs[64];
    if (cols->ndim == 2) { /* unbatched [C*KH*KW, L], as torch */
        nb_tensor *y = nb_fold(nb_unsqueeze(cols, 0), out, kernel, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (cols->ndim != 3)
        return nb_set_error("fold: want columns [N, C*KH*KW, L] or [C*KH*KW, L], got %s", NB_SHP(cols, cs));
    if (check_kernel("fold", kernel)) return NULL;
    if (!out || out[0] < 1 || out[1] < 1)
        return nb_set_error("fold: the output must be at least 1x1, got %lldx%lld",
                            out ? (long long)out[0] : 0, out ? (long long)out[1] : 0);
    if (nb_win_opts_check("fold", NB_WIN_UNFOLD, opts, 2, kernel)) return NULL;
    int64_t s[2], p[2], d[2], G;
    nb_win_opts(opts, s, p, d, &G);
    const int64_t K = (int64_t)kernel[0] * kernel[1];
    if (cols->shape[1] % K)
        return nb_set_error("fold: columns %s: dim 1 is not a multiple of the %dx%d window", NB_SHP(cols, cs),
                            kernel[0], kernel[1]);
    nb_win_geom g;
    const int64_t img[4] = {cols->shape[0], cols->shape[1] / K, out[0], out[1]};
    if (nb_win_geom_make("fold", img, kernel[0], kernel[1], s, p, d, false, &g)) return NULL;
    if (cols->shape[2] != g.OH * g.OW)
        return nb_set_error("fold: columns %s hold %lld windows, but a %lldx%lld output has %lld (%lldx%lld)",
                            NB_SHP(cols, cs), (long long)cols->shape[2], (long long)out[0], (long long)out[1],
                            (long long)(g.OH * g.OW), (long long)g.OH, (long long)g.OW);
    nb_tensor *c4 = nb_reshape(cols, NB_SHAPE(g.N, g.C, K, g.OH * g.OW));
    return nb_as_op(c4 ? nb_win_col2im(c4, &g) : NULL, "fold");
}

/* the dtypes and devices of x, w and b; 0 or -1 */
static int check_operands(const char *op, nb_tensor *x, nb_tensor *w, nb_tensor *b) {
    return nb_check_dtype(op, x, NB_F32, "input") || nb_check_dtype(op, w, NB_F32, "weight") ||
                   nb_same_device(op, x, w) ||
                   (b && (nb_check_dtype(op, b, NB_F32, "bias") || nb_same_device(op, x, b)))
               ? -1
               : 0;
}

/* the name of spatial dim i (0 height, 1 width) of an op over nd spatial dims */
static const char *dim_name(int nd, int i) { return nd == 1 ? "the length" : i ? "the width" : "the height"; }

/* conv2d, or conv1d (nd 1) as a conv2d over [N,C,1,L]: its messages name the length */
static nb_tensor *conv_nd(const char *op, int nd, nb_tensor *x, nb_tensor *w, nb_tensor *b,
                          const nb_conv_opts *opts) {
    char xs[64], ws[64], bs[64];
    if (x->ndim != 4 || w->ndim != 4)
        return nb_set_error(
            "conv2d: want input [N,C,H,W] (or [C,H,W]) and weight [O,C/groups,KH,KW], got %s and %s",
            NB_SHP(x, xs), NB_SHP(w, ws));
    if (nd == 2 && nb_win_opts_check(op, NB_WIN_CONV, opts, 2, NULL)) return NULL;
    int64_t s[2], p[2], d[2], G;
    nb_win_opts(opts, s, p, d, &G);
    const int64_t C = x->shape[1], O = w->shape[0];
    if (G < 1 || C % G || O % G || w->shape[1] * G != C)
        return nb_set_error(
            "%s: input %s and weight %s do not match for %lld groups (want weight dim 1 = C / "
            "groups, C and O divisible by groups)",
            op, NB_SHP(x, xs), NB_SHP(w, ws), (long long)G);
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return nb_set_error("%s: bias %s does not match %lld output channels", op, NB_SHP(b, bs),
                            (long long)O);
    const nb_pad_kind mode = opts ? opts->pad_mode : NB_PAD_ZEROS;
    static const char *modes[] = {"zeros", "reflect", "replicate", "circular"};
    /* the padding before and after each dim: 'same' spreads d (K - 1) with the odd one after */
    int64_t lo[2] = {p[0], p[1]}, hi[2] = {p[0], p[1]};
    for (int i = 0; i < 2; i++) {
        if (opts && opts->same) {
            const int64_t total = d[i] * (w->shape[2 + i] - 1);
            lo[i] = total / 2, hi[i] = total - lo[i];
        }
        const int64_t n = x->shape[2 + i], most = mode == NB_PAD_REFLECT ? n - 1 : n;
        if (mode != NB_PAD_ZEROS && mode != NB_PAD_REPLICATE && hi[i] > most)
            return nb_set_error("%s: %s padding %lld on %s of size %lld (want %s the size)", op, modes[mode],
                                (long long)hi[i], dim_name(nd, nd == 1 ? 0 : i), (long long)n,
                                mode == NB_PAD_REFLECT ? "below" : "at most");
    }
    nb_tensor *xp = x;
    if (mode != NB_PAD_ZEROS || lo[0] != hi[0] || lo[1] != hi[1]) { /* padded here, not by im2col */
        if (nb_win_check(op, s, lo, d) || nb_win_check(op, s, hi, d)) return NULL;
        xp = nb_pad_mode(x, 4, (const int64_t[]){lo[1], hi[1], lo[0], hi[0]}, mode);
        if (!xp) return NULL;
        lo[0] = lo[1] = 0;
    }
    nb_win_geom g;
    if (nb_win_geom_make(op, xp->shape, w->shape[2], w->shape[3], s, lo, d, false, &g)) return NULL;
    if (C / G == 1) { /* depthwise: one input channel per group, straight over the image */
        nb_tensor *y = nb_win_dwconv(xp, w, &g);
        return y && b ? nb_add(y, nb_reshape(b, NB_SHAPE(O, 1, 1))) : y;
    }
    return nb_win_conv(xp, w, b, &g, G);
}

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED("conv2d", x, w);
    if (check_operands("conv2d", x, w, b)) return NULL;
    if (x->ndim == 3 && w->ndim == 4) { /* unbatched [C,H,W], as torch */
        nb_tensor *y = nb_conv2d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    return nb_as_op(conv_nd("conv2d", 2, x, w, b, opts), "conv2d");
}

/* The 2-D options of a 1-D op over [N,C,1,L]: the length's entries ([0]) go to the width. */
static nb_conv_opts opts_1d(const nb_conv_opts *o) {
    nb_conv_opts r = {.stride = {1, 1}, .dilation = {1, 1}};
    if (!o) return r;
    r = *o;
    r.stride[0] = r.dilation[0] = 1;
    r.padding[0] = r.output_padding[0] = 0;
    r.stride[1] = o->stride[0] ? o->stride[0] : 1;
    r.padding[1] = o->padding[0];
    r.dilation[1] = o->dilation[0] ? o->dilation[0] : 1;
    r.output_padding[1] = o->output_padding[0];
    return r;
}

nb_tensor *nb_conv1d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED("conv1d", x, w);
    if (check_operands("conv1d", x, w, b)) return NULL;
    char xs[64], ws[64];
    if (x->ndim == 2 && w->ndim == 3) { /* unbatched [C,L], as torch */
        nb_tensor *y = nb_conv1d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (x->ndim != 3 || w->ndim != 3)
        return nb_set_error("conv1d: want input [N,C,L] (or [C,L]) and weight [O,C/groups,K], got %s and %s",
                            NB_SHP(x, xs), NB_SHP(w, ws));
    if (nb_win_opts_check("conv1d", NB_WIN_CONV, opts, 1, NULL)) return NULL;
    const nb_conv_opts o = opts_1d(opts); /* a conv2d over [N,C,1,L] with a 1 x K window */
    nb_tensor *y = conv_nd("conv1d", 1, nb_unsqueeze(x, 2), nb_unsqueeze(w, 2), b, &o);
    return nb_as_op(y ? nb_squeeze(y, 2) : NULL, "conv1d");
}

/* conv_transpose2d, or conv_transpose1d (nd 1) over [N,C,1,L] */
static nb_tensor *conv_transpose_nd(const char *op, int nd, nb_tensor *x, nb_tensor *w, nb_tensor *b,
                                    const nb_conv_opts *opts) {
    char xs[64], ws[64], bs[64];
    if (nd == 2 && nb_win_opts_check(op, NB_WIN_CONV_T, opts, 2, NULL)) return NULL;
    int64_t s[2], p[2], d[2], G;
    nb_win_opts(opts, s, p, d, &G);
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (G < 1 || C % G || w->shape[0] != C)
        return nb_set_error("%s: input %s and weight %s do not match for %lld groups (want weight dim 0 = C, "
                            "divisible by groups)",
                            op, NB_SHP(x, xs), NB_SHP(w, ws), (long long)G);
    const int64_t O = w->shape[1] * G, KH = w->shape[2], KW = w->shape[3];
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return nb_set_error("%s: bias %s does not match %lld output channels", op, NB_SHP(b, bs),
                            (long long)O);
    if (KH < 1 || KW < 1 || H < 1 || W < 1)
        return nb_set_error("%s: input %s and weight %s: the window and the input must not be empty", op,
                            NB_SHP(x, xs), NB_SHP(w, ws));
    if (nb_win_check(op, s, p, d)) return NULL;
    int64_t out[2];
    for (int i = nd == 1 ? 1 : 0; i < 2; i++) {
        const int64_t in = x->shape[2 + i], k = w->shape[2 + i], op_ = opts ? opts->output_padding[i] : 0;
        if (in > INT32_MAX || k > INT32_MAX) /* then every product below fits in 64 bits */
            return nb_set_error("%s: input %s and weight %s: sizes past 2^31 - 1", op, NB_SHP(x, xs),
                                NB_SHP(w, ws));
        out[i] = (in - 1) * s[i] - 2 * p[i] + d[i] * (k - 1) + op_ + 1;
        if (out[i] < 1)
            return nb_set_error("%s: input %s, weight %s and padding %lld give an empty output (%s %lld)", op,
                                NB_SHP(x, xs), NB_SHP(w, ws), (long long)p[i], dim_name(nd, nd == 1 ? 0 : i),
                                (long long)out[i]);
    }
    if (nd == 1) out[0] = 1;
    /* the output image's windows, one per input pixel: col2im adds them up. The padded output
     * always holds the dilated window; the windows are the input's pixels, not all that fit
     * (an output padding of the dilation's size or more leaves room for more) */
    nb_win_geom g;
    if (nb_win_geom_make(op, (const int64_t[]){N, O, out[0], out[1]}, KH, KW, s, p, d, false, &g)) return NULL;
    g.OH = H, g.OW = W;
    nb_tensor *y = nb_win_conv_transpose(x, w, &g, G);
    if (y && b) y = nb_add(y, nb_reshape(b, NB_SHAPE(O, 1, 1)));
    return y;
}

nb_tensor *nb_conv_transpose2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    const char *op = "conv_transpose2d";
    NB_NULL_GUARD_NAMED(op, x, w);
    if (check_operands(op, x, w, b)) return NULL;
    char xs[64], ws[64];
    if (x->ndim == 3 && w->ndim == 4) { /* unbatched [C,H,W], as torch */
        nb_tensor *y = nb_conv_transpose2d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (x->ndim != 4 || w->ndim != 4)
        return nb_set_error(
            "%s: want input [N,C,H,W] (or [C,H,W]) and weight [C,O/groups,KH,KW], got %s and %s", op,
            NB_SHP(x, xs), NB_SHP(w, ws));
    return nb_as_op(conv_transpose_nd(op, 2, x, w, b, opts), op);
}

nb_tensor *nb_conv_transpose1d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    const char *op = "conv_transpose1d";
    NB_NULL_GUARD_NAMED(op, x, w);
    if (check_operands(op, x, w, b)) return NULL;
    char xs[64], ws[64];
    if (x->ndim == 2 && w->ndim == 3) { /* unbatched [C,L], as torch */
        nb_tensor *y = nb_conv_transpose1d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (x->ndim != 3 || w->ndim != 3)
        return nb_set_error("%s: want input [N,C,L] (or [C,L]) and weight [C,O/groups,K], got %s and %s", op,
                            NB_SHP(x, xs), NB_SHP(w, ws));
    if (nb_win_opts_check(op, NB_WIN_CONV_T, opts, 1, NULL)) return NULL;
    const nb_conv_opts o = opts_1d(opts);
    nb_tensor *y = conv_transpose_nd(op, 1, nb_unsqueeze(x, 2), nb_unsqueeze(w, 2), b, &o);
    return nb_as_op(y ? nb_squeeze(y, 2) : NULL, op);
}
