/* nn/conv.c - the layers of convolutional networks (Conv2d, Conv1d, Conv3d, ConvTranspose2d/3d,
 * ConvTranspose1d, MaxPool2d, AvgPool2d, MaxPool3d, AvgPool3d, AdaptiveAvgPool2d, Upsample, GroupNorm) and
 * Flatten, each a module around the ops of ops/conv.c, ops/pool.c and ops/resize.c. Weights and biases start
 * as torch's: uniform in +-1/sqrt(fan_in), fan_in = the weight's dim 1 times the window (in/groups;
 * out/groups for the transposed ones). */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "ops/window.h"

typedef struct {
    int64_t in, out;
    int k[2];
    nb_conv_opts o;
    bool one_d;      /* Conv1d: k[1] and o's [0] entries are the length's */
    bool transposed; /* ConvTranspose: weight [in, out/groups, ...] */
} conv_cfg;

static nb_tensor *conv_fwd(nb_module *m, nb_tensor *x) {
    const conv_cfg *c = m->impl;
    nb_tensor *w = m->params[0].t, *b = m->n_params > 1 ? m->params[1].t : NULL;
    if (c->transposed)
        return c->one_d ? nb_conv_transpose1d(x, w, b, &c->o) : nb_conv_transpose2d(x, w, b, &c->o);
    return c->one_d ? nb_conv1d(x, w, b, &c->o) : nb_conv2d(x, w, b, &c->o);
}

static nb_module *conv_new(const char *op, bool one_d, bool transposed, nb_ctx *ctx, int64_t in, int64_t out,
                           int kh, int kw, const nb_conv_opts *opts, bool bias, nb_rng *rng) {
    if (!ctx) return nb_set_error("%s: NULL context", op);
    const int64_t groups = opts && opts->groups ? opts->groups : 1;
    if (in <= 0 || out <= 0 || kh <= 0 || kw <= 0 || groups < 1 || in % groups || out % groups)
        return nb_set_error(
            "%s: in %lld, out %lld and the window %dx%d must be positive, in and out divisible by "
            "groups %lld",
            op, (long long)in, (long long)out, kh, kw, (long long)groups);
    /* the options are checked now, not at the first forward */
    if (nb_win_opts_check(op, transposed ? NB_WIN_CONV_T : NB_WIN_CONV, opts, one_d ? 1 : 2, NULL))
        return NULL;
    static const char *types[2][2] = {{"Conv2d", "Conv1d"}, {"ConvTranspose2d", "ConvTranspose1d"}};
    nb_module *m = nb_module_new(types[transposed][one_d], ctx, conv_fwd, sizeof(conv_cfg));
    if (!m) return NULL;
    conv_cfg *c = m->impl;
    *c = (conv_cfg){.in = in,
                    .out = out,
                    .k = {kh, kw},
                    .o = opts ? *opts : (nb_conv_opts){.groups = 0},
                    .one_d = one_d,
                    .transposed = transposed};
    /* torch's fan_in is the weight's dim 1 times the window: in/groups, or out/groups transposed */
    const int64_t d0 = transposed ? in : out, d1 = transposed ? out / groups : in / groups;
    const float bound = 1.0f / sqrtf((float)(d1 * kh * kw));
    nb_tensor *w = one_d ? nb_rand(ctx, NB_SHAPE(d0, d1, kw), -bound, bound, rng)
                         : nb_rand(ctx, NB_SHAPE(d0, d1, kh, kw), -bound, bound, rng);
    w = nb_module_add_param(m, "weight", w);
    nb_tensor *b =
        bias && w ? nb_module_add_param(m, "bias", nb_rand(ctx, NB_SHAPE(out), -bound, bound, rng)) : w;
    if (!w || !b) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_conv2d_new(nb_ctx *ctx, int64_t in, int64_t out, int kh, int kw, const nb_conv_opts *opts,
                         bool bias, nb_rng *rng) {
    return conv_new("conv2d_new", false, false, ctx, in, out, kh, kw, opts, bias, rng);
}

nb_module *nb_conv1d_new(nb_ctx *ctx, int64_t in, int64_t out, int k, const nb_conv_opts *opts, bool bias,
                         nb_rng *rng) {
    return conv_new("conv1d_new", true, false, ctx, in, out, 1, k, opts, bias, rng);
}

nb_module *nb_conv_transpose2d_new(nb_ctx *ctx, int64_t in, int64_t out, int kh, int kw,
                                   const nb_conv_opts *opts, bool bias, nb_rng *rng) {
    return conv_new("conv_transpose2d_new", false, true, ctx, in, out, kh, kw, opts, bias, rng);
}

nb_module *nb_conv_transpose1d_new(nb_ctx *ctx, int64_t in, int64_t out, int k, const nb_conv_opts *opts,
                                   bool bias, nb_rng *rng) {
    return conv_new("conv_transpose1d_new", true, true, ctx, in, out, 1, k, opts, bias, rng);
}

/* ---- 3-d: Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d
 * --------------------------------------------------------- */

typedef struct {
    int k[3];
    nb_conv_opts o;
} cfg3d;

static nb_tensor *conv3d_fwd(nb_module *m, nb_tensor *x) {
    const cfg3d *c = m->impl;
    return nb_conv3d(x, m->params[0].t, m->n_params > 1 ? m->params[1].t : NULL, &c->o);
}

static nb_tensor *conv_transpose3d_fwd(nb_module *m, nb_tensor *x) {
    const cfg3d *c = m->impl;
    return nb_conv_transpose3d(x, m->params[0].t, m->n_params > 1 ? m->params[1].t : NULL, &c->o);
}

static nb_module *conv3d_any_new(const char *op, bool transposed, nb_ctx *ctx, int64_t in, int64_t out,
                                 const int k[3], const nb_conv_opts *opts, bool bias, nb_rng *rng) {
    if (!ctx || !k) return nb_set_error("%s: NULL %s", op, ctx ? "window" : "context");
    const int64_t groups = opts && opts->groups ? opts->groups : 1;
    if (in <= 0 || out <= 0 || k[0] <= 0 || k[1] <= 0 || k[2] <= 0 || groups < 1 || in % groups ||
        out % groups)
        return nb_set_error(
            "%s: in %lld, out %lld and the window %dx%dx%d must be positive, in and out divisible "
            "by groups %lld",
            op, (long long)in, (long long)out, k[0], k[1], k[2], (long long)groups);
    if (nb_win3d_opts_check(op, transposed ? NB_WIN_CONV_T : NB_WIN_CONV, opts, NULL)) return NULL;
    nb_module *m = nb_module_new(transposed ? "ConvTranspose3d" : "Conv3d", ctx,
                                 transposed ? conv_transpose3d_fwd : conv3d_fwd, sizeof(cfg3d));
    if (!m) return NULL;
    *(cfg3d *)m->impl = (cfg3d){.k = {k[0], k[1], k[2]}, .o = opts ? *opts : (nb_conv_opts){.groups = 0}};
    /* torch's fan_in: the weight's dim 1 times the window (in/groups; out/groups transposed) */
    const int64_t d0 = transposed ? in : out, d1 = transposed ? out / groups : in / groups;
    const float bound = 1.0f / sqrtf((float)(d1 * k[0] * k[1] * k[2]));
    nb_tensor *w = nb_module_add_param(m, "weight",
                                       nb_rand(ctx, NB_SHAPE(d0, d1, k[0], k[1], k[2]), -bound, bound, rng));
    nb_tensor *b =
        bias && w ? nb_module_add_param(m, "bias", nb_rand(ctx, NB_SHAPE(out), -bound, bound, rng)) : w;
    if (!w || !b) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_conv3d_new(nb_ctx *ctx, int64_t in, int64_t out, const int k[3], const nb_conv_opts *opts,
                         bool bias, nb_rng *rng) {
    return conv3d_any_new("conv3d_new", false, ctx, in, out, k, opts, bias, rng);
}

nb_module *nb_conv_transpose3d_new(nb_ctx *ctx, int64_t in, int64_t out, const int k[3],
                                   const nb_conv_opts *opts, bool bias, nb_rng *rng) {
    return conv3d_any_new("conv_transpose3d_new", true, ctx, in, out, k, opts, bias, rng);
}

static nb_tensor *max_pool3d_fwd(nb_module *m, nb_tensor *x) {
    const cfg3d *c = m->impl;
    return nb_max_pool3d(x, c->k, &c->o);
}

static nb_tensor *avg_pool3d_fwd(nb_module *m, nb_tensor *x) {
    const cfg3d *c = m->impl;
    return nb_avg_pool3d(x, c->k, &c->o);
}

static nb_module *pool3d_new(const char *op, const char *type, bool max, const int k[3],
                             const nb_conv_opts *opts) {
    if (!k || k[0] <= 0 || k[1] <= 0 || k[2] <= 0)
        return nb_set_error("%s: the window must be at least 1x1x1", op);
    if (nb_win3d_opts_check(op, max ? NB_WIN_MAXPOOL : NB_WIN_AVGPOOL, opts, k)) return NULL;
    nb_module *m = nb_module_new(type, NULL, max ? max_pool3d_fwd : avg_pool3d_fwd, sizeof(cfg3d));
    if (m)
        *(cfg3d *)m->impl = (cfg3d){.k = {k[0], k[1], k[2]}, .o = opts ? *opts : (nb_conv_opts){.groups = 0}};
    return m;
}

nb_module *nb_max_pool3d_new(const int k[3], const nb_conv_opts *opts) {
    return pool3d_new("max_pool3d_new", "MaxPool3d", true, k, opts);
}

nb_module *nb_avg_pool3d_new(const int k[3], const nb_conv_opts *opts) {
    return pool3d_new("avg_pool3d_new", "AvgPool3d", false, k, opts);
}

/* ---- pooling and Flatten --------------------------------------------------------------------- */

typedef struct {
    int k[2];
    nb_conv_opts o;
} pool_cfg;

static nb_tensor *max_pool_fwd(nb_module *m, nb_tensor *x) {
    const pool_cfg *c = m->impl;
    return nb_max_pool2d(x, c->k, &c->o);
}

static nb_tensor *avg_pool_fwd(nb_module *m, nb_tensor *x) {
    const pool_cfg *c = m->impl;
    return nb_avg_pool2d(x, c->k, &c->o);
}

static nb_module *pool_new(const char *op, const char *type, nb_forward_fn fwd, int kh, int kw,
                           const nb_conv_opts *opts) {
    if (kh <= 0 || kw <= 0) return nb_set_error("%s: the window must be at least 1x1, got %dx%d", op, kh, kw);
    if (nb_win_opts_check(op, fwd == max_pool_fwd ? NB_WIN_MAXPOOL : NB_WIN_AVGPOOL, opts, 2,
                          (const int[]){kh, kw}))
        return NULL;
    nb_module *m = nb_module_new(type, NULL, fwd, sizeof(pool_cfg));
    if (!m) return NULL;
    pool_cfg *c = m->impl;
    *c = (pool_cfg){.k = {kh, kw}, .o = opts ? *opts : (nb_conv_opts){.groups = 0}};
    return m;
}

nb_module *nb_max_pool2d_new(int kh, int kw, const nb_conv_opts *opts) {
    return pool_new("max_pool2d_new", "MaxPool2d", max_pool_fwd, kh, kw, opts);
}

nb_module *nb_avg_pool2d_new(int kh, int kw, const nb_conv_opts *opts) {
    return pool_new("avg_pool2d_new", "AvgPool2d", avg_pool_fwd, kh, kw, opts);
}

static nb_tensor *max_pool1d_fwd(nb_module *m, nb_tensor *x) {
    const pool_cfg *c = m->impl;
    return nb_max_pool1d(x, c->k[0], &c->o);
}

static nb_tensor *avg_pool1d_fwd(nb_module *m, nb_tensor *x) {
    const pool_cfg *c = m->impl;
    return nb_avg_pool1d(x, c->k[0], &c->o);
}

static nb_tensor *adaptive1d_fwd(nb_module *m, nb_tensor *x) {
    return nb_adaptive_avg_pool1d(x, ((const pool_cfg *)m->impl)->k[0]);
}

/* a 1-d pooling layer: the options are checked now, with the length's names */
static nb_module *pool1d_new(const char *op, const char *type, nb_forward_fn fwd, int k,
                             const nb_conv_opts *opts, bool max) {
    if (k <= 0) return nb_set_error("%s: the window must be at least 1, got %d", op, k);
    if (opts && nb_win_opts_check(op, max ? NB_WIN_MAXPOOL : NB_WIN_AVGPOOL, opts, 1, (const int[]){k, k}))
        return NULL;
    nb_module *m = nb_module_new(type, NULL, fwd, sizeof(pool_cfg));
    if (m) *(pool_cfg *)m->impl = (pool_cfg){.k = {k, 1}, .o = opts ? *opts : (nb_conv_opts){.groups = 0}};
    return m;
}

nb_module *nb_max_pool1d_new(int k, const nb_conv_opts *opts) {
    return pool1d_new("max_pool1d_new", "MaxPool1d", max_pool1d_fwd, k, opts, true);
}

nb_module *nb_avg_pool1d_new(int k, const nb_conv_opts *opts) {
    return pool1d_new("avg_pool1d_new", "AvgPool1d", avg_pool1d_fwd, k, opts, false);
}

nb_module *nb_adaptive_avg_pool1d_new(int ol) {
    return pool1d_new("adaptive_avg_pool1d_new", "AdaptiveAvgPool1d", adaptive1d_fwd, ol, NULL, false);
}

static nb_tensor *adaptive_fwd(nb_module *m, nb_tensor *x) {
    const pool_cfg *c = m->impl;
    return nb_adaptive_avg_pool2d(x, c->k[0], c->k[1]);
}

nb_module *nb_adaptive_avg_pool2d_new(int oh, int ow) {
    if (oh <= 0 || ow <= 0)
        return nb_set_error("adaptive_avg_pool2d_new: the output must be at least 1x1, got %dx%d", oh, ow);
    return pool_new("adaptive_avg_pool2d_new", "AdaptiveAvgPool2d", adaptive_fwd, oh, ow, NULL);
}

static nb_tensor *adaptive_max_fwd(nb_module *m, nb_tensor *x) {
    const pool_cfg *c = m->impl;
    return nb_adaptive_max_pool2d(x, c->k[0], c->k[1], NULL);
}

nb_module *nb_adaptive_max_pool2d_new(int oh, int ow) {
    if (oh <= 0 || ow <= 0)
        return nb_set_error("adaptive_max_pool2d_new: the output must be at least 1x1, got %dx%d", oh, ow);
    return pool_new("adaptive_max_pool2d_new", "AdaptiveMaxPool2d", adaptive_max_fwd, oh, ow, NULL);
}

static nb_tensor *adaptive_max1d_fwd(nb_module *m, nb_tensor *x) {
    return nb_adaptive_max_pool1d(x, ((const pool_cfg *)m->impl)->k[0], NULL);
}

nb_module *nb_adaptive_max_pool1d_new(int ol) {
    return pool1d_new("adaptive_max_pool1d_new", "AdaptiveMaxPool1d", adaptive_max1d_fwd, ol, NULL, true);
}

/* ---- Upsample ------------------------------------------------------------------------------------ */

typedef struct {
    int scale[2];
    nb_interp_mode mode;
    bool align_corners;
} upsample_cfg;

static nb_tensor *upsample_fwd(nb_module *m, nb_tensor *x) {
    const upsample_cfg *c = m->impl;
    if (!x) return NULL;
    if (x->ndim != 3 && x->ndim != 4) {
        char xs[64];
        return nb_set_error("Upsample: want input [N,C,L] or [N,C,H,W], got %s",
                            nb_shape_str(x, xs, sizeof xs));
    }
    int64_t size[2];
    for (int i = 0; i < x->ndim - 2; i++)
        size[i] = x->shape[2 + i] * c->scale[i];
    return nb_interpolate(x, size, c->mode, c->align_corners);
}

nb_module *nb_upsample_new(int sh, int sw, nb_interp_mode mode, bool align_corners) {
    if (sh < 1 || sw < 1 || (unsigned)mode > NB_INTERP_LINEAR)
        return nb_set_error("upsample_new: scale %dx%d (want both >= 1) and mode %d", sh, sw, (int)mode);
    nb_module *m = nb_module_new("Upsample", NULL, upsample_fwd, sizeof(upsample_cfg));
    if (!m) return NULL;
    *(upsample_cfg *)m->impl = (upsample_cfg){{sh, sw}, mode, align_corners};
    return m;
}

/* ---- PixelShuffle / PixelUnshuffle -------------------------------------------------------------- */

static nb_tensor *pixel_shuffle_fwd(nb_module *m, nb_tensor *x) {
    return nb_pixel_shuffle(x, *(int *)m->impl);
}

static nb_tensor *pixel_unshuffle_fwd(nb_module *m, nb_tensor *x) {
    return nb_pixel_unshuffle(x, *(int *)m->impl);
}

static nb_module *shuffle_new(const char *op, const char *type, nb_forward_fn fwd, int r) {
    if (r < 1) return nb_set_error("%s: the factor must be at least 1, got %d", op, r);
    nb_module *m = nb_module_new(type, NULL, fwd, sizeof(int));
    if (m) *(int *)m->impl = r;
    return m;
}

nb_module *nb_pixel_shuffle_new(int r) {
    return shuffle_new("pixel_shuffle_new", "PixelShuffle", pixel_shuffle_fwd, r);
}

nb_module *nb_pixel_unshuffle_new(int r) {
    return shuffle_new("pixel_unshuffle_new", "PixelUnshuffle", pixel_unshuffle_fwd, r);
}

/* ---- GroupNorm ---------------------------------------------------------------------------------- */

typedef struct {
    int64_t groups;
    float eps;
} groupnorm_cfg;

static nb_tensor *groupnorm_fwd(nb_module *m, nb_tensor *x) {
    const groupnorm_cfg *c = m->impl;
    return nb_group_norm(x, c->groups, m->params[0].t, m->params[1].t, c->eps);
}

nb_module *nb_groupnorm_new(nb_ctx *ctx, int64_t groups, int64_t channels, float eps) {
    if (!ctx) return nb_set_error("groupnorm_new: NULL context");
    if (groups < 1 || channels < 1 || channels % groups || !(eps >= 0.0f))
        return nb_set_error("groupnorm_new: %lld groups must divide %lld channels (eps %g >= 0)",
                            (long long)groups, (long long)channels, (double)eps);
    nb_module *m = nb_module_new("GroupNorm", ctx, groupnorm_fwd, sizeof(groupnorm_cfg));
    if (!m) return NULL;
    *(groupnorm_cfg *)m->impl = (groupnorm_cfg){groups, eps};
    nb_tensor *w = nb_module_add_param(m, "weight", nb_ones(ctx, NB_F32, NB_SHAPE(channels)));
    nb_tensor *b = w ? nb_module_add_param(m, "bias", nb_zeros(ctx, NB_F32, NB_SHAPE(channels))) : NULL;
    if (!b) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

static nb_tensor *instancenorm_fwd(nb_module *m, nb_tensor *x) {
    const groupnorm_cfg *c = m->impl;
    return nb_instance_norm(x, m->n_params ? m->params[0].t : NULL, m->n_params ? m->params[1].t : NULL,
                            c->eps);
}

nb_module *nb_instancenorm_new(nb_ctx *ctx, int64_t channels, float eps, bool affine) {
    if (!ctx) return nb_set_error("instancenorm_new: NULL context");
    if (channels < 1 || !(eps >= 0.0f))
        return nb_set_error("instancenorm_new: %lld channels (want at least 1), eps %g (want >= 0)",
                            (long long)channels, (double)eps);
    nb_module *m = nb_module_new("InstanceNorm", ctx, instancenorm_fwd, sizeof(groupnorm_cfg));
    if (!m) return NULL;
    *(groupnorm_cfg *)m->impl = (groupnorm_cfg){channels, eps};
    if (affine && !(nb_module_add_param(m, "weight", nb_ones(ctx, NB_F32, NB_SHAPE(channels))) &&
                    nb_module_add_param(m, "bias", nb_zeros(ctx, NB_F32, NB_SHAPE(channels))))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* [N, ...] -> [N, the product of the rest] (torch.nn.Flatten's default start_dim 1) */
static nb_tensor *flatten_fwd(nb_module *m, nb_tensor *x) {
    (void)m;
    if (!x) return NULL;
    if (x->ndim < 1) return nb_set_error("Flatten: a 0-d input has no batch dim");
    int64_t rest = 1;
    for (int i = 1; i < x->ndim; i++)
        rest *= x->shape[i];
    return nb_reshape(x, NB_SHAPE(x->shape[0], rest));
}

nb_module *nb_flatten_new(void) { return nb_module_new("Flatten", NULL, flatten_fwd, 0); }
