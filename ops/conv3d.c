/* ops/conv3d.c - 3-d convolution, transposed convolution and pooling over [N,C,D,H,W], composed of
 * the 2-d ops: the depth is folded into the batch. A 3-d window is KD planes of a 2-d one, so for each plane
 * kd the input's depth slices kd*dil, kd*dil + stride, ... (one per output depth) go through the 2-d op as a
 * batch of N*OD images, and the KD results are summed (convolution), stacked and maxed (max pooling, the
 * first maximum in (d, h, w) order as torch's) or summed and divided (average pooling). Every gradient is the
 * 2-d ops' and the slices'. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/window.h"

/* the options' [1] and [2] entries (height, width) as a 2-d op's */
static nb_conv_opts opts_2d(const nb_conv_opts *o) {
    nb_conv_opts o2 = *o;
    for (int i = 0; i < 2; i++) {
        o2.stride[i] = o->stride[i + 1], o2.padding[i] = o->padding[i + 1];
        o2.dilation[i] = o->dilation[i + 1], o2.output_padding[i] = o->output_padding[i + 1];
    }
    o2.stride[2] = o2.padding[2] = o2.dilation[2] = o2.output_padding[2] = 0;
    return o2;
}

/* the depth's geometry from the options' [0] entries; 2-d options from the [1], [2] ones */
typedef struct {
    int64_t k, s, p, d, in, out, extra; /* extra: padding after the input for ceil_mode's last window */
    nb_conv_opts o2;
} depth_geom;

static int make_depth(const char *op, const nb_tensor *x, const int kernel[3], const nb_conv_opts *o,
                      bool pool, bool max, depth_geom *g) {
    const int64_t k = kernel[0];
    memset(g, 0, sizeof *g);
    const nb_conv_opts z = {0};
    if (!o) o = &z;
    if (nb_win3d_opts_check(op, pool ? (max ? NB_WIN_MAXPOOL : NB_WIN_AVGPOOL) : NB_WIN_CONV, o, kernel))
        return -1;
    g->k = k, g->s = o->stride[0] ? o->stride[0] : pool ? k : 1, g->p = o->padding[0];
    g->d = o->dilation[0] ? o->dilation[0] : 1, g->in = x->shape[2];
    /* ceil_mode: a last partial window, if it starts inside the input or its left padding (as
     * torch and the 2-d pools); it may reach past the padded input, which is then padded more */
    const bool ceil = pool && o->ceil_mode;
    const int64_t span = g->d * (k - 1) + 1, room = g->in + 2 * g->p - span + (ceil ? g->s - 1 : 0);
    if (k >= 1 && room >= 0) {
        g->out = room / g->s + 1;
        if (ceil && (g->out - 1) * g->s >= g->in + g->p) g->out--;
    }
    if (k < 1 || room < 0 || g->out < 1) {
        char sh[64];
        return nb_set_error("%s: the window's depth %lld (dilation %lld) does not fit the input %s padded by "
                            "%lld",
                            op, (long long)k, (long long)g->d, NB_SHP(x, sh), (long long)g->p),
               -1;
    }
    if (ceil) {
        const int64_t need = (g->out - 1) * g->s + span - (g->in + 2 * g->p);
        g->extra = need > 0 ? need : 0;
    }
    g->o2 = opts_2d(o);
    return 0;
}

int nb_win3d_opts_check(const char *op, nb_win_kind kind, const nb_conv_opts *o, const int kernel[3]) {
    if (!o) return 0;
    const bool convt = kind == NB_WIN_CONV_T;
    for (int i = 0; i < 3; i++)
        if (o->stride[i] < 0 || o->padding[i] < 0 || o->dilation[i] < 0 || (o->output_padding[i] && !convt))
            return nb_set_error("%s: stride %d, padding %d and dilation %d (dim %d) must be >= 1, >= 0, >= 1 "
                                "(and output padding is for transposed convolutions)",
                                op, o->stride[i], o->padding[i], o->dilation[i], i),
                   -1;
    if (convt) {
        const int s = o->stride[0] ? o->stride[0] : 1, d = o->dilation[0] ? o->dilation[0] : 1;
        if (o->output_padding[0] < 0 || (o->output_padding[0] >= s && o->output_padding[0] >= d))
            return nb_set_error(
                       "%s: output padding %d (the depth) must be >= 0 and below the stride %d or the "
                       "dilation %d",
                       op, o->output_padding[0], s, d),
                   -1;
    }
    if (o->same || o->pad_mode != NB_PAD_ZEROS)
        return nb_set_error("%s: 'same' padding and padding modes are 2-d only (give the padding)", op), -1;
    const bool pool = kind >= NB_WIN_MAXPOOL;
    if (pool && kernel && o->padding[0] > kernel[0] / 2)
        return nb_set_error("%s: padding %d is more than half the window %d (the depth)", op, o->padding[0],
                            kernel[0]),
               -1;
    if (kind == NB_WIN_AVGPOOL && o->dilation[0] > 1)
        return nb_set_error("%s: dilation (max pooling and convolutions only) does not apply", op), -1;
    const nb_conv_opts o2 = opts_2d(o);
    return nb_win_opts_check(op, kind, &o2, 2, kernel ? kernel + 1 : NULL);
}

/* x [N,C,D,H,W] padded in depth (value v; extra more after), plane kd's slices as a batch
 * [N*OD, C, H, W] */
static nb_tensor *plane(nb_tensor *xp, const depth_geom *g, int64_t kd) {
    const int64_t start = kd * g->d;
    nb_tensor *sl = nb_slice(xp, 2, start, start + (g->out - 1) * g->s + 1, g->s); /* [N,C,OD,H,W] */
    nb_tensor *t = sl ? nb_permute(sl, (const int[]){0, 2, 1, 3, 4}) : NULL;
    const int64_t shape[4] = {xp->shape[0] * g->out, xp->shape[1], xp->shape[3], xp->shape[4]};
    return t ? nb_reshape(t, 4, shape) : NULL;
}

static nb_tensor *pad_depth(nb_tensor *x, const depth_geom *g, double v) {
    if (!g->p && !g->extra) return x;
    const int64_t pad[6] = {0, 0, 0, 0, g->p, g->p + g->extra};
    return nb_pad(x, 6, pad, v);
}

/* [N*OD, O, OH, OW] -> [N, O, OD, OH, OW] */
static nb_tensor *unfold_depth(nb_tensor *y, int64_t n, int64_t od) {
    if (!y) return NULL;
    const int64_t shape[5] = {n, od, y->shape[1], y->shape[2], y->shape[3]};
    nb_tensor *r = nb_reshape(y, 5, shape);
    return r ? nb_contiguous(nb_permute(r, (const int[]){0, 2, 1, 3, 4})) : NULL;
}

static int check_5d(const char *op, nb_tensor *x, const char *want) {
    char sh[64];
    if (nb_check_dtype(op, x, NB_F32, "input")) return -1;
    if (x->ndim != 5) return nb_set_error("%s: want input %s, got %s", op, want, NB_SHP(x, sh)), -1;
    return 0;
}

/* a convolution's x [N,C,D,H,W], w 5-d (`want` names its layout) and b (may be NULL): f32 on one
 * device; 0, or -1 with an error naming op */
static int conv_operands(const char *op, nb_tensor *x, nb_tensor *w, nb_tensor *b, const char *want) {
    char xs[64], ws[64];
    if (nb_check_dtype(op, w, NB_F32, "weight") || nb_same_device(op, x, w) ||
        (b && (nb_check_dtype(op, b, NB_F32, "bias") || nb_same_device(op, x, b))))
        return -1;
    if (x->ndim != 5 || w->ndim != 5)
        return nb_set_error("%s: want input [N,C,D,H,W] (or [C,D,H,W]) and weight %s, got %s and %s", op,
                            want, NB_SHP(x, xs), NB_SHP(w, ws)),
               -1;
    return check_5d(op, x, "[N,C,D,H,W]");
}

nb_tensor *nb_conv3d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    const char *op = "conv3d";
    NB_NULL_GUARD_NAMED(op, x, w);
    char bs[64];
    if (x->ndim == 4 && w->ndim == 5) { /* unbatched [C,D,H,W], as torch */
        nb_tensor *y = nb_conv3d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (conv_operands(op, x, w, b, "[O,C/groups,KD,KH,KW]")) return NULL;
    const int64_t O = w->shape[0];
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return nb_set_error("%s: bias %s does not match %lld output channels", op, NB_SHP(b, bs),
                            (long long)O);
    depth_geom g;
    const int kw[3] = {(int)w->shape[2], (int)w->shape[3], (int)w->shape[4]};
    if (make_depth(op, x, kw, opts, false, false, &g)) return NULL;
    nb_tensor *xp = pad_depth(x, &g, 0.0), *y = NULL;
    for (int64_t kd = 0; xp && kd < g.k; kd++) {
        nb_tensor *wk = nb_squeeze(nb_narrow(w, 2, kd, 1), 2); /* [O, C/groups, KH, KW] */
        nb_tensor *yk = wk ? nb_conv2d(plane(xp, &g, kd), wk, NULL, &g.o2) : NULL;
        if (!yk) return nb_as_op(NULL, op);
        y = y ? nb_add(y, yk) : yk;
    }
    nb_tensor *r = unfold_depth(y, x->shape[0], g.out);
    if (r && b) r = nb_add(r, nb_reshape(b, 4, (const int64_t[]){O, 1, 1, 1}));
    return nb_as_op(r, op);
}

nb_tensor *nb_max_pool3d(nb_tensor *x, const int kernel[3], const nb_conv_opts *opts) {
    const char *op = "max_pool3d";
    NB_NULL_GUARD_NAMED(op, x);
    if (!kernel) return nb_set_error("%s: the kernel is NULL", op);
    if (x->ndim == 4) { /* unbatched */
        nb_tensor *y = nb_max_pool3d(nb_unsqueeze(x, 0), kernel, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (check_5d(op, x, "[N,C,D,H,W] (or [C,D,H,W])")) return NULL;
    depth_geom g;
    if (make_depth(op, x, kernel, opts, true, true, &g)) return NULL;
    nb_tensor *xp = pad_depth(x, &g, -INFINITY);
    const int64_t K = g.k, NO = x->shape[0] * g.out;
    nb_tensor **planes = malloc((size_t)K * sizeof *planes);
    const int64_t cells = K * NO > 0 ? K * NO : 1;
    float *valid = planes ? malloc((size_t)cells * sizeof *valid) : NULL;
    if (!valid) return free(planes), nb_set_error("%s: out of memory for %lld planes", op, (long long)K);
    const int k2[2] = {kernel[1], kernel[2]};
    nb_tensor *m = NULL;
    for (int64_t kd = 0; kd < K; kd++) {
        nb_tensor *pk = xp ? plane(xp, &g, kd) : NULL;
        planes[kd] = pk ? nb_unsqueeze(nb_max_pool2d(pk, k2, &g.o2), 0) : NULL;
        if (!planes[kd]) goto done;
        for (int64_t r = 0; r < NO; r++) { /* plane kd of output depth od reads padded depth od s + kd d */
            const int64_t at = (r % g.out) * g.s + kd * g.d;
            valid[kd * NO + r] = at >= g.p && at < g.p + g.in ? 1.0f : 0.0f;
        }
    }
    {
        /* the first plane holding the maximum (or a NaN), among those inside the input: a padding
         * plane's -inf never takes the gradient from an input's -inf (torch reads no padding) */
        nb_tensor *st = K > 1 ? nb_cat(planes, (int)K, 0) : planes[0];
        const int64_t vs[5] = {K, NO, 1, 1, 1};
        nb_tensor *vt = st ? nb_host_like(x, NB_F32, 5, vs, valid) : NULL;
        const bool prev = nb_no_grad_begin();
        nb_tensor *sd = vt ? nb_detach(st) : NULL, *mx = sd ? nb_max(sd, 1, (const int[]){0}, true) : NULL;
        nb_tensor *cand = mx ? nb_mul(nb_logical_or(nb_eq(sd, mx), nb_isnan(sd)), vt) : NULL;
        nb_tensor *first = cand ? nb_argmax(cand, 0, true) : NULL;
        nb_no_grad_end(prev);
        m = first ? nb_squeeze(nb_gather(st, 0, first), 0) : NULL;
    }
done:
    free(planes), free(valid);
    return nb_as_op(unfold_depth(m, x->shape[0], g.out), op);
}

nb_tensor *nb_avg_pool3d(nb_tensor *x, const int kernel[3], const nb_conv_opts *opts) {
    const char *op = "avg_pool3d";
    NB_NULL_GUARD_NAMED(op, x);
    if (!kernel) return nb_set_error("%s: the kernel is NULL", op);
    if (x->ndim == 4) {
        nb_tensor *y = nb_avg_pool3d(nb_unsqueeze(x, 0), kernel, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (check_5d(op, x, "[N,C,D,H,W] (or [C,D,H,W])")) return NULL;
    depth_geom g;
    if (make_depth(op, x, kernel, opts, true, false, &g)) return NULL;
    nb_tensor *xp = pad_depth(x, &g, 0.0), *sum = NULL;
    const int k2[2] = {kernel[1], kernel[2]};
    for (int64_t kd = 0; xp && kd < g.k; kd++) {
        nb_tensor *pk = plane(xp, &g, kd), *ak = pk ? nb_avg_pool2d(pk, k2, &g.o2) : NULL;
        if (!ak) return nb_as_op(NULL, op);
        sum = sum ? nb_add(sum, ak) : ak;
    }
    /* each 2-d average divided its own (h, w) count; the depth's count per output depth: the
     * window's planes inside the padded input (inside the input alone with exclude_pad), as
     * torch's divisor (d_end - d_start) (h ...) (w ...) */
    float *cnt = malloc((size_t)g.out * sizeof *cnt);
    if (!cnt) return nb_set_error("%s: out of memory for %lld depths", op, (long long)g.out);
    const bool excl = opts && opts->exclude_pad;
    for (int64_t od = 0; od < g.out; od++) {
        int64_t d0 = od * g.s - g.p, d1 = d0 + g.k;
        if (d1 > g.in + g.p) d1 = g.in + g.p;
        if (excl) d0 = d0 < 0 ? 0 : d0, d1 = d1 > g.in ? g.in : d1;
        cnt[od] = (float)(1.0 / (double)(d1 - d0));
    }
    nb_tensor *r = unfold_depth(sum, x->shape[0], g.out);
    nb_tensor *c = r ? nb_host_like(x, NB_F32, 4, (const int64_t[]){1, g.out, 1, 1}, cnt) : NULL;
    free(cnt);
    return nb_as_op(c ? nb_mul(r, c) : NULL, op);
}

/* Transposed: each input depth d and window plane kd reach output depth d s - p + kd dil. Plane
 * kd's conv_transpose2d of all depths as one batch, spread along the depth (s - 1 zero planes
 * between inputs), shifted by kd dil, the KD of them summed, then the padding cropped. */
nb_tensor *nb_conv_transpose3d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts) {
    const char *op = "conv_transpose3d";
    NB_NULL_GUARD_NAMED(op, x, w);
    char xs[64], ws[64], bs[64];
    if (x->ndim == 4 && w->ndim == 5) {
        nb_tensor *y = nb_conv_transpose3d(nb_unsqueeze(x, 0), w, b, opts);
        return y ? nb_squeeze(y, 0) : NULL;
    }
    if (conv_operands(op, x, w, b, "[C,O/groups,KD,KH,KW]")) return NULL;
    const int kw[3] = {(int)w->shape[2], (int)w->shape[3], (int)w->shape[4]};
    const nb_conv_opts z = {0}, *o = opts ? opts : &z;
    if (nb_win3d_opts_check(op, NB_WIN_CONV_T, o, kw)) return NULL;
    const int64_t N = x->shape[0], C = x->shape[1], D = x->shape[2], KD = kw[0];
    const int64_t s = o->stride[0] ? o->stride[0] : 1, p = o->padding[0],
                  d = o->dilation[0] ? o->dilation[0] : 1;
    const int64_t full = (D - 1) * s + d * (KD - 1) + 1 + o->output_padding[0], OD = full - 2 * p;
    const int64_t G = o->groups ? o->groups : 1, O = w->shape[1] * G;
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return nb_set_error("%s: bias %s does not match %lld output channels", op, NB_SHP(b, bs),
                            (long long)O);
    if (KD < 1 || D < 1 || OD < 1)
        return nb_set_error("%s: input %s and weight %s give no output depth (%lld)", op, NB_SHP(x, xs),
                            NB_SHP(w, ws), (long long)OD);
    const nb_conv_opts o2 = opts_2d(o);
    nb_tensor *xt = nb_permute(x, (const int[]){0, 2, 1, 3, 4}); /* [N, D, C, H, W] */
    nb_tensor *xb = xt ? nb_reshape(xt, 4, (const int64_t[]){N * D, C, x->shape[3], x->shape[4]}) : NULL;
    nb_tensor *sum = NULL;
    for (int64_t kd = 0; xb && kd < KD; kd++) {
        nb_tensor *wk = nb_squeeze(nb_narrow(w, 2, kd, 1), 2);
        nb_tensor *yk = wk ? nb_conv_transpose2d(xb, wk, NULL, &o2) : NULL; /* [N*D, O, OH, OW] */
        if (!yk) return nb_as_op(NULL, op);
        const int64_t OH = yk->shape[2], OW = yk->shape[3];
        nb_tensor *y = nb_reshape(yk, 5, (const int64_t[]){N, D, 1, O * OH, OW});
        if (y && s > 1) /* s - 1 zero planes after each input depth, the last ones dropped */
            y = nb_narrow(nb_reshape(nb_pad(y, 6, (const int64_t[]){0, 0, 0, 0, 0, s - 1}, 0.0), 4,
                                     (const int64_t[]){N, D * s, O * OH, OW}),
                          1, 0, (D - 1) * s + 1);
        else if (y)
            y = nb_reshape(y, 4, (const int64_t[]){N, D, O * OH, OW});
        /* shifted to start at kd d, then to the full depth */
        y = y ? nb_pad(y, 6, (const int64_t[]){0, 0, 0, 0, kd * d, full - kd * d - ((D - 1) * s + 1)}, 0.0)
              : NULL;
        if (!y) return nb_as_op(NULL, op);
        sum = sum ? nb_add(sum, y) : y;
    }
    nb_tensor *c = sum ? nb_narrow(sum, 1, p, OD) : NULL; /* [N, OD, O*OH, OW] */
    const int64_t OHW = c ? c->shape[2] / O : 0;
    nb_tensor *r = c ? nb_reshape(c, 5, (const int64_t[]){N, OD, O, OHW, c->shape[3]}) : NULL;
    r = r ? nb_contiguous(nb_permute(r, (const int[]){0, 2, 1, 3, 4})) : NULL;
    if (r && b) r = nb_add(r, nb_reshape(b, 4, (const int64_t[]){O, 1, 1, 1}));
    return nb_as_op(r, op);
}
