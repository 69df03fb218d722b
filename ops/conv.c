/* ops/conv.c - 2-D and 1-D convolution and pooling: the windows of the input are copied into
 * columns by the backend's im2col (padding included; its gradient is col2im, which adds each
 * pixel's window entries back in a fixed order), and the columns meet the weights in one batched
 * nb_matmul; pooling picks from them with nb_argmax and nb_gather, or averages them with
 * nb_mean. Everything but im2col/col2im is composed, so the arithmetic runs at GEMM speed and
 * every other gradient is an existing op's. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

typedef struct {
    int64_t N, C, H, W; /* input */
    int64_t KH, KW;     /* window */
    int64_t sh, sw, ph, pw, dh, dw;
    int64_t Hp, Wp, OH, OW; /* padded input, output */
} geom;

/* The options with their defaults filled in (stride and dilation 1, padding 0, groups 1). */
static void opts_or_default(const nb_conv_opts *o, int64_t s[2], int64_t p[2], int64_t d[2],
                            int64_t *groups) {
    for (int i = 0; i < 2; i++) {
        s[i] = o && o->stride[i] ? o->stride[i] : 1;
        p[i] = o ? o->padding[i] : 0;
        d[i] = o && o->dilation[i] ? o->dilation[i] : 1;
    }
    *groups = o && o->groups ? o->groups : 1;
}

static int make_geom(const char *op, const nb_tensor *x, int64_t KH, int64_t KW, const int64_t s[2],
                     const int64_t p[2], const int64_t d[2], geom *g) {
    for (int i = 0; i < 2; i++)
        if (s[i] < 1 || p[i] < 0 || d[i] < 1 || s[i] > INT32_MAX || p[i] > INT32_MAX || d[i] > INT32_MAX)
            return nb_set_error(
                       "%s: stride %lld, padding %lld and dilation %lld (dim %d) must be >= 1, >= 0, >= 1",
                       op, (long long)s[i], (long long)p[i], (long long)d[i], i),
                   -1;
    *g = (geom){.N = x->shape[0],
                .C = x->shape[1],
                .H = x->shape[2],
                .W = x->shape[3],
                .KH = KH,
                .KW = KW,
                .sh = s[0],
                .sw = s[1],
                .ph = p[0],
                .pw = p[1],
                .dh = d[0],
                .dw = d[1]};
    g->Hp = g->H + 2 * g->ph;
    g->Wp = g->W + 2 * g->pw;
    const int64_t eh = g->dh * (KH - 1) + 1, ew = g->dw * (KW - 1) + 1; /* the dilated window */
    if (KH < 1 || KW < 1 || eh > g->Hp || ew > g->Wp) {
        char b[64];
        return nb_set_error("%s: the window %lldx%lld (dilated %lldx%lld) does not fit the padded input %s + "
                            "padding (%lld, %lld)",
                            op, (long long)KH, (long long)KW, (long long)eh, (long long)ew, NB_SHP(x, b),
                            (long long)g->ph, (long long)g->pw),
               -1;
    }
    g->OH = (g->Hp - eh) / g->sh + 1;
    g->OW = (g->Wp - ew) / g->sw + 1;
    return 0;
}

static nb_im2col_geom backend_geom(const geom *g, float pad) {
    return (nb_im2col_geom){g->N,  g->C,  g->H,  g->W,  g->KH, g->KW, g->sh, g->sw,
                            g->ph, g->pw, g->dh, g->dw, g->OH, g->OW, pad};
}

/* the gradient of the columns goes back to the pixels they were read from (col2im) */
static int im2col_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    const int64_t *v = n->i; /* KH, KW, sh, sw, ph, pw, dh, dw, OH, OW */
    const nb_im2col_geom bg = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], v[0], v[1], v[2], v[3],
                               v[4],        v[5],        v[6],        v[7],        v[8], v[9], 0.0f};
    nb_tensor *gc = nb_contiguous(gout);
    nb_tensor *dx = gc ? nb_new_like_shape(gc, NB_F32, 4, x->shape) : NULL;
    if (!dx || nb_be(x)->col2im(dx, gc, &bg)) return -1;
    gin[0] = dx;
    return 0;
}

/* x [N,C,H,W] -> columns [N, C, KH*KW, OH*OW]: column (k, l) of channel c is the element at
 * window position k of output position l, `pad` outside x (0 for conv, -inf for max pooling). */
static nb_tensor *im2col(nb_tensor *x, const geom *g, float pad) {
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->im2col || !be->col2im) return nb_unsupported("im2col", be);
    nb_tensor *cols =
        nb_new_like_shape(x, NB_F32, 4, (const int64_t[]){g->N, g->C, g->KH * g->KW, g->OH * g->OW});
    const nb_im2col_geom bg = backend_geom(g, pad);
    if (!cols || be->im2col(cols, x, &bg)) return NULL;
    nb_node *n;
    if (!nb_op_finish(cols, "im2col", im2col_backward, 1, &x, &n)) return NULL;
    if (n) {
        n->unread = NB_UNREAD_ALL; /* the rule reads only shapes */
        const int64_t v[10] = {g->KH, g->KW, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->OH, g->OW};
        memcpy(n->i, v, sizeof v);
    }
    return cols;
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
    if (!kernel || kernel[0] < 1 || kernel[1] < 1)
        return nb_set_error("unfold: the window must be at least 1x1, got %dx%d", kernel ? kernel[0] : 0,
                            kernel ? kernel[1] : 0);
    int64_t s[2], p[2], d[2], G;
    opts_or_default(opts, s, p, d, &G);
    if (G != 1) return nb_set_error("unfold: groups do not apply");
    geom g;
    if (make_geom("unfold", x, kernel[0], kernel[1], s, p, d, &g)) return NULL;
    nb_tensor *cols = im2col(x, &g, 0.0f);
    return nb_as_op(cols ? nb_reshape(cols, NB_SHAPE(g.N, g.C * g.KH * g.KW, g.OH * g.OW)) : NULL, "unfold");
}

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED("conv2d", x, w);
    if (nb_check_dtype("conv2d", x, NB_F32, "input") || nb_check_dtype("conv2d", w, NB_F32, "weight") ||
        nb_same_device("conv2d", x, w) ||
        (b && (nb_check_dtype("conv2d", b, NB_F32, "bias") || nb_same_device("conv2d", x, b))))
        return NULL;
    int64_t s[2], p[2], d[2], G;
    opts_or_default(opts, s, p, d, &G);
    char xs[64], ws[64], bs[64];
    if (x->ndim == 3 && w->ndim == 4) { /* unbatched [C,H,W], as torch */
        nb_tensor *y = nb_conv2d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (x->ndim != 4 || w->ndim != 4)
        return nb_set_error(
            "conv2d: want input [N,C,H,W] (or [C,H,W]) and weight [O,C/groups,KH,KW], got %s and %s",
            NB_SHP(x, xs), NB_SHP(w, ws));
    const int64_t C = x->shape[1], O = w->shape[0];
    if (G < 1 || C % G || O % G || w->shape[1] * G != C)
        return nb_set_error(
            "conv2d: input %s and weight %s do not match for %lld groups (want weight dim 1 = C / "
            "groups, C and O divisible by groups)",
            NB_SHP(x, xs), NB_SHP(w, ws), (long long)G);
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return nb_set_error("conv2d: bias %s does not match %lld output channels", NB_SHP(b, bs),
                            (long long)O);
    geom g;
    if (make_geom("conv2d", x, w->shape[2], w->shape[3], s, p, d, &g)) return NULL;
    const int64_t K = g.KH * g.KW, L = g.OH * g.OW, Cg = C / G;
    nb_tensor *cols = im2col(x, &g, 0.0);
    /* [G, O/G, Cg*K] @ [N, G, Cg*K, L] -> [N, G, O/G, L] */
    cols = cols ? nb_reshape(cols, NB_SHAPE(g.N, G, Cg * K, L)) : NULL;
    nb_tensor *wm = nb_reshape(w, NB_SHAPE(G, O / G, Cg * K));
    nb_tensor *y = cols && wm ? nb_matmul(wm, cols) : NULL;
    y = y ? nb_reshape(y, NB_SHAPE(g.N, O, g.OH, g.OW)) : NULL;
    if (y && b) y = nb_add(y, nb_reshape(b, NB_SHAPE(O, 1, 1)));
    return nb_as_op(y, "conv2d");
}

nb_tensor *nb_conv1d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    NB_NULL_GUARD_NAMED("conv1d", x, w);
    char xs[64], ws[64];
    if (x->ndim == 2 && w->ndim == 3) { /* unbatched [C,L], as torch */
        nb_tensor *y = nb_conv1d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (x->ndim != 3 || w->ndim != 3)
        return nb_set_error("conv1d: want input [N,C,L] (or [C,L]) and weight [O,C/groups,K], got %s and %s",
                            NB_SHP(x, xs), NB_SHP(w, ws));
    /* a conv2d over [N,C,1,L] with a 1 x K window: the options' first entries apply to L */
    nb_conv_opts o = {.stride = {1, 1}, .dilation = {1, 1}, .groups = opts ? opts->groups : 1};
    if (opts) {
        o.stride[1] = opts->stride[0] ? opts->stride[0] : 1;
        o.padding[1] = opts->padding[0];
        o.dilation[1] = opts->dilation[0] ? opts->dilation[0] : 1;
    }
    nb_tensor *y = nb_conv2d(nb_unsqueeze(x, 2), nb_unsqueeze(w, 2), b, &o);
    if (!y) return nb_as_op(NULL, "conv1d");
    return nb_as_op(nb_squeeze(y, 2), "conv1d");
}

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
    int64_t s[2], p[2], d[2], G;
    opts_or_default(opts, s, p, d, &G);
    for (int i = 0; i < 2; i++) {
        if (!opts || !opts->stride[i]) s[i] = kernel[i]; /* torch's default stride is the window */
        if (p[i] > kernel[i] / 2) /* as torch: so no window lies wholly in the padding */
            return nb_set_error("%s: padding %lld is more than half the window %d (dim %d)", op,
                                (long long)p[i], kernel[i], i);
    }
    if (G != 1) return nb_set_error("%s: groups do not apply to pooling", op);
    geom g;
    if (make_geom(op, x, kernel[0], kernel[1], s, p, d, &g)) return NULL;
    nb_tensor *cols = im2col(x, &g, max ? -INFINITY : 0.0), *r = NULL;
    if (cols && max) { /* the window's first largest element (a NaN first), which alone gets the gradient */
        nb_tensor *at = nb_argmax(cols, 2, true);
        if (at && (g.ph || g.pw)) {
            /* a window whose values are all -inf ties with its -inf padding, and the padding may come
             * first: take the window's first element inside x then, as torch (which never looks at
             * padding). valid [1,1,K,L] is 1 inside x, 0 on padding. */
            geom g1 = g;
            g1.N = g1.C = 1;
            nb_tensor *ones = nb_full_on(NULL, NB_F32, x->device, NB_SHAPE(1, 1, g.H, g.W), 1.0);
            nb_tensor *valid = ones ? im2col(ones, &g1, 0.0f) : NULL;
            nb_tensor *first = valid ? nb_argmax(valid, 2, true) : NULL;
            nb_tensor *inside = first ? nb_gather(nb_expand(valid, 4, cols->shape), 2, at) : NULL;
            at = inside ? nb_cast(nb_where(inside, nb_cast(at, NB_F32), nb_cast(first, NB_F32)), NB_I32)
                        : NULL;
        }
        r = at ? nb_gather(cols, 2, at) : NULL;
    } else if (cols) {
        r = nb_mean(cols, 1, (const int[]){2}, false);
    }
    return nb_as_op(r ? nb_reshape(r, NB_SHAPE(g.N, g.C, g.OH, g.OW)) : NULL, op);
}

nb_tensor *nb_max_pool2d(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts) {
    return pool2d("max_pool2d", true, x, kernel, opts);
}

nb_tensor *nb_avg_pool2d(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts) {
    return pool2d("avg_pool2d", false, x, kernel, opts);
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
