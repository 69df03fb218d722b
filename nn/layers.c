/* nn/layers.c - the basic modules (Linear, Embedding, LayerNorm, Dropout,
 * activations, Sequential/ModuleList, MLP) and GPT-2 initialisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"

/* ---- Linear ----------------------------------------------------------- */

static nb_tensor *linear_fwd(nb_module *m, nb_tensor *x) {
    nb_tensor *w = m->params[0].t, *b = m->n_params > 1 ? m->params[1].t : NULL;
    return nb_linear(x, w, b);
}

nb_module *nb_linear_new(nb_ctx *ctx, int64_t in, int64_t out, bool bias, nb_rng *rng) {
    if (!ctx) return nb_set_error("linear_new: NULL context");
    if (in <= 0 || out <= 0)
        return nb_set_error("linear_new: sizes must be positive, got in=%lld out=%lld", (long long)in,
                            (long long)out);
    nb_module *m = nb_module_new("Linear", ctx, linear_fwd, sizeof(nb_linear_cfg));
    if (!m) return NULL;
    nb_linear_cfg *c = m->impl;
    c->in = in;
    c->out = out;
    nb_tensor *w = nb_module_add_param(m, "weight", nb_randn(ctx, NB_SHAPE(out, in), 0.0f, 0.02f, rng));
    nb_tensor *b = bias && w ? nb_module_add_param(m, "bias", nb_zeros(ctx, NB_F32, NB_SHAPE(out))) : w;
    if (!w || !b) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- Embedding -------------------------------------------------------- */

static nb_tensor *embedding_fwd(nb_module *m, nb_tensor *idx) {
    const nb_embedding_cfg *c = m->impl;
    nb_tensor *w = m->params[0].t, *e = nb_embedding(w, idx);
    if (!c->padded || !e) return e;
    /* torch's padding_idx: the padding row comes in as a constant, so no gradient reaches it */
    const bool g = nb_no_grad_begin();
    nb_ctx *ctx = nb_ctx_current() ? nb_ctx_current() : idx->ctx;
    nb_tensor *row =
        nb_reshape(nb_clone(ctx, nb_narrow(w, 0, c->padding_idx, 1)), NB_SHAPE(c->dim)); /* [dim] */
    nb_tensor *pad = nb_full_on(ctx, NB_F32, idx->device, 0, NULL, (double)c->padding_idx);
    nb_tensor *is_pad = pad ? nb_unsqueeze(nb_eq(nb_cast(idx, NB_F32), pad), -1) : NULL;
    nb_no_grad_end(g);
    return row && is_pad ? nb_where(is_pad, row, e) : NULL;
}

int nb_embedding_padding(nb_module *m, int64_t padding_idx) {
    if (!m || m->forward != embedding_fwd)
        return nb_set_error("embedding_padding: not an Embedding module"), -1;
    nb_embedding_cfg *c = m->impl;
    const int64_t i = padding_idx < 0 ? padding_idx + c->num : padding_idx;
    if (i < 0 || i >= c->num || c->num > (1 << 24)) /* the indices are compared as f32 */
        return nb_set_error(
                   "embedding_padding: padding_idx %lld outside [-%lld, %lld) (or more than 2^24 rows)",
                   (long long)padding_idx, (long long)c->num, (long long)c->num),
               -1;
    if (nb_fill_(nb_narrow(m->params[0].t, 0, i, 1), 0.0)) return -1;
    c->padding_idx = i;
    c->padded = true;
    return 0;
}

nb_module *nb_embedding_new(nb_ctx *ctx, int64_t num, int64_t dim, nb_rng *rng) {
    if (!ctx) return nb_set_error("embedding_new: NULL context");
    if (num <= 0 || dim <= 0)
        return nb_set_error("embedding_new: sizes must be positive, got num=%lld dim=%lld", (long long)num,
                            (long long)dim);
    nb_module *m = nb_module_new("Embedding", ctx, embedding_fwd, sizeof(nb_embedding_cfg));
    if (!m) return NULL;
    nb_embedding_cfg *c = m->impl;
    c->num = num;
    c->dim = dim;
    if (!nb_module_add_param(m, "weight", nb_randn(ctx, NB_SHAPE(num, dim), 0.0f, 0.02f, rng))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- EmbeddingBag ----------------------------------------------------- */

typedef struct {
    nb_bag_mode mode;
    int64_t padding_idx;
} bag_cfg;

static nb_tensor *embedding_bag_fwd(nb_module *m, nb_tensor *idx) {
    const bag_cfg *c = m->impl;
    return nb_embedding_bag(m->params[0].t, idx, NULL, c->mode, NULL, false, c->padding_idx);
}

nb_module *nb_embedding_bag_new(nb_ctx *ctx, int64_t num, int64_t dim, nb_bag_mode mode, int64_t padding_idx,
                                nb_rng *rng) {
    const char *op = "embedding_bag_new";
    if (!ctx) return nb_set_error("%s: NULL context", op);
    if (num <= 0 || dim <= 0 || (unsigned)mode > NB_BAG_MAX || padding_idx >= num)
        return nb_set_error(
            "%s: num %lld and dim %lld must be positive, mode %d known, padding_idx %lld below num", op,
            (long long)num, (long long)dim, (int)mode, (long long)padding_idx);
    nb_module *m = nb_module_new("EmbeddingBag", ctx, embedding_bag_fwd, sizeof(bag_cfg));
    if (!m) return NULL;
    *(bag_cfg *)m->impl = (bag_cfg){mode, padding_idx};
    nb_tensor *w = nb_module_add_param(m, "weight", nb_randn(ctx, NB_SHAPE(num, dim), 0.0f, 1.0f, rng));
    if (!w) {
        nb_module_free(m);
        return NULL;
    }
    if (padding_idx >= 0) /* torch zeroes the padding row (never read: the forward skips it) */
        memset(nb_data_f32(w) + padding_idx * dim, 0, (size_t)dim * sizeof(float));
    return m;
}

/* ---- LayerNorm -------------------------------------------------------- */

static nb_tensor *layernorm_fwd(nb_module *m, nb_tensor *x) {
    nb_layernorm_cfg *c = m->impl;
    return nb_layer_norm(x, m->params[0].t, m->n_params > 1 ? m->params[1].t : NULL, c->eps);
}

nb_module *nb_layernorm_new(nb_ctx *ctx, int64_t dim, float eps, bool bias) {
    if (!ctx) return nb_set_error("layernorm_new: NULL context");
    if (dim <= 0 || !(eps >= 0))
        return nb_set_error("layernorm_new: invalid dim=%lld eps=%g", (long long)dim, (double)eps);
    nb_module *m = nb_module_new("LayerNorm", ctx, layernorm_fwd, sizeof(nb_layernorm_cfg));
    if (!m) return NULL;
    nb_layernorm_cfg *c = m->impl;
    c->dim = dim;
    c->eps = eps;
    nb_tensor *w = nb_module_add_param(m, "weight", nb_ones(ctx, NB_F32, NB_SHAPE(dim)));
    nb_tensor *b = bias ? nb_module_add_param(m, "bias", nb_zeros(ctx, NB_F32, NB_SHAPE(dim))) : w;
    if (!w || !b) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

static nb_tensor *rmsnorm_fwd(nb_module *m, nb_tensor *x) {
    nb_layernorm_cfg *c = m->impl;
    return nb_rms_norm(x, m->n_params ? m->params[0].t : NULL, c->eps);
}

nb_module *nb_rmsnorm_new(nb_ctx *ctx, int64_t dim, float eps, bool affine) {
    if (!ctx) return nb_set_error("rmsnorm_new: NULL context");
    if (dim <= 0 || !(eps >= 0))
        return nb_set_error("rmsnorm_new: invalid dim=%lld eps=%g", (long long)dim, (double)eps);
    nb_module *m = nb_module_new("RMSNorm", ctx, rmsnorm_fwd, sizeof(nb_layernorm_cfg));
    if (!m) return NULL;
    nb_layernorm_cfg *c = m->impl;
    c->dim = dim;
    c->eps = eps;
    if (affine && !nb_module_add_param(m, "weight", nb_ones(ctx, NB_F32, NB_SHAPE(dim)))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- Dropout and activations --------------------------------------------- */

static nb_tensor *dropout_fwd(nb_module *m, nb_tensor *x) {
    nb_dropout_cfg *c = m->impl;
    if (!m->training || c->p == 0.0f) return x;
    return nb_dropout(x, c->p, true, nb_module_rng(m));
}

nb_module *nb_dropout_new(float p) {
    if (!(p >= 0.0f && p < 1.0f)) return nb_set_error("dropout_new: p must be in [0, 1), got %g", (double)p);
    nb_module *m = nb_module_new("Dropout", NULL, dropout_fwd, sizeof(nb_dropout_cfg));
    if (m) ((nb_dropout_cfg *)m->impl)->p = p;
    return m;
}

static nb_tensor *dropout_channels_fwd(nb_module *m, nb_tensor *x) {
    nb_dropout_cfg *c = m->impl;
    if (!m->training || c->p == 0.0f) return x;
    return nb_dropout_channels(x, c->p, true, nb_module_rng(m));
}

nb_module *nb_dropout_channels_new(float p) {
    if (!(p >= 0.0f && p < 1.0f))
        return nb_set_error("dropout_channels_new: p must be in [0, 1), got %g", (double)p);
    nb_module *m = nb_module_new("Dropout2d", NULL, dropout_channels_fwd, sizeof(nb_dropout_cfg));
    if (m) ((nb_dropout_cfg *)m->impl)->p = p;
    return m;
}

static nb_tensor *gelu_fwd(nb_module *m, nb_tensor *x) {
    (void)m;
    return nb_gelu(x);
}

static nb_tensor *relu_fwd(nb_module *m, nb_tensor *x) {
    (void)m;
    return nb_relu(x);
}

nb_module *nb_gelu_new(void) { return nb_module_new("GELU", NULL, gelu_fwd, 0); }

nb_module *nb_relu_new(void) { return nb_module_new("ReLU", NULL, relu_fwd, 0); }

/* the other activations, each its op */
#define NB_ACTIVATION(fn, type, op)                                                                          \
    static nb_tensor *fn##_fwd(nb_module *m, nb_tensor *x) {                                                 \
        (void)m;                                                                                             \
        return op(x);                                                                                        \
    }                                                                                                        \
    nb_module *nb_##fn##_new(void) { return nb_module_new(type, NULL, fn##_fwd, 0); }
NB_ACTIVATION(gelu_erf, "GELU(erf)", nb_gelu_erf)
NB_ACTIVATION(silu, "SiLU", nb_silu)
NB_ACTIVATION(sigmoid, "Sigmoid", nb_sigmoid)
NB_ACTIVATION(tanh, "Tanh", nb_tanh)
NB_ACTIVATION(selu, "SELU", nb_selu)
NB_ACTIVATION(relu6, "ReLU6", nb_relu6)
NB_ACTIVATION(hardsigmoid, "Hardsigmoid", nb_hardsigmoid)
NB_ACTIVATION(hardswish, "Hardswish", nb_hardswish)
NB_ACTIVATION(mish, "Mish", nb_mish)
NB_ACTIVATION(softsign, "Softsign", nb_softsign)
NB_ACTIVATION(tanhshrink, "Tanhshrink", nb_tanhshrink)
NB_ACTIVATION(log_sigmoid, "LogSigmoid", nb_log_sigmoid)
#undef NB_ACTIVATION

/* activations with two float settings (ELU's alpha; hardtanh's bounds), and softmax's dim */
typedef struct {
    float a, b;
    int dim;
} act2_cfg;

static nb_tensor *elu_fwd(nb_module *m, nb_tensor *x) { return nb_elu(x, ((act2_cfg *)m->impl)->a); }

static nb_tensor *hardtanh_fwd(nb_module *m, nb_tensor *x) {
    const act2_cfg *c = m->impl;
    return nb_hardtanh(x, c->a, c->b);
}

static nb_tensor *softmax_fwd(nb_module *m, nb_tensor *x) {
    return nb_softmax(x, ((act2_cfg *)m->impl)->dim);
}

static nb_tensor *log_softmax_fwd(nb_module *m, nb_tensor *x) {
    return nb_log_softmax(x, ((act2_cfg *)m->impl)->dim);
}

static nb_module *act2_new(const char *type, nb_forward_fn fwd, float a, float b, int dim) {
    nb_module *m = nb_module_new(type, NULL, fwd, sizeof(act2_cfg));
    if (m) *(act2_cfg *)m->impl = (act2_cfg){a, b, dim};
    return m;
}

nb_module *nb_elu_new(float alpha) {
    if (!isfinite(alpha)) return nb_set_error("elu_new: alpha %g must be finite", (double)alpha);
    return act2_new("ELU", elu_fwd, alpha, 0, 0);
}

nb_module *nb_hardtanh_new(float lo, float hi) {
    if (!(lo <= hi))
        return nb_set_error("hardtanh_new: min %g must not exceed max %g", (double)lo, (double)hi);
    return act2_new("Hardtanh", hardtanh_fwd, lo, hi, 0);
}

static nb_tensor *celu_fwd(nb_module *m, nb_tensor *x) { return nb_celu(x, ((act2_cfg *)m->impl)->a); }
static nb_tensor *hardshrink_fwd(nb_module *m, nb_tensor *x) {
    return nb_hardshrink(x, ((act2_cfg *)m->impl)->a);
}
static nb_tensor *softshrink_fwd(nb_module *m, nb_tensor *x) {
    return nb_softshrink(x, ((act2_cfg *)m->impl)->a);
}
static nb_tensor *threshold_fwd(nb_module *m, nb_tensor *x) {
    const act2_cfg *c = m->impl;
    return nb_threshold(x, c->a, c->b);
}

nb_module *nb_celu_new(float alpha) {
    if (!isfinite(alpha) || alpha == 0.0f)
        return nb_set_error("celu_new: alpha %g must be finite and nonzero", (double)alpha);
    return act2_new("CELU", celu_fwd, alpha, 0, 0);
}

nb_module *nb_hardshrink_new(float lambd) {
    if (lambd != lambd) return nb_set_error("hardshrink_new: lambda is NaN");
    return act2_new("Hardshrink", hardshrink_fwd, lambd, 0, 0);
}

nb_module *nb_softshrink_new(float lambd) {
    if (!(lambd >= 0.0f)) return nb_set_error("softshrink_new: lambda %g must be >= 0", (double)lambd);
    return act2_new("Softshrink", softshrink_fwd, lambd, 0, 0);
}

nb_module *nb_threshold_new(float threshold, float value) {
    if (threshold != threshold) return nb_set_error("threshold_new: the threshold is NaN");
    return act2_new("Threshold", threshold_fwd, threshold, value, 0);
}

nb_module *nb_softmax_new(int dim) { return act2_new("Softmax", softmax_fwd, 0, 0, dim); }

nb_module *nb_log_softmax_new(int dim) { return act2_new("LogSoftmax", log_softmax_fwd, 0, 0, dim); }

static nb_tensor *prelu_fwd(nb_module *m, nb_tensor *x) { return nb_prelu(x, m->params[0].t); }

nb_module *nb_prelu_new(nb_ctx *ctx, int64_t n, float init) {
    if (!ctx) return nb_set_error("prelu_new: NULL context");
    if (n < 1 || !isfinite(init))
        return nb_set_error("prelu_new: %lld slopes (want at least 1), init %g (want finite)", (long long)n,
                            (double)init);
    nb_module *m = nb_module_new("PReLU", ctx, prelu_fwd, 0);
    if (m && !nb_module_add_param(m, "weight", nb_full(ctx, NB_F32, NB_SHAPE(n), init))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

static nb_tensor *identity_fwd(nb_module *m, nb_tensor *x) {
    (void)m;
    return x;
}

nb_module *nb_identity_new(void) { return nb_module_new("Identity", NULL, identity_fwd, 0); }

typedef struct {
    float slope;
} leaky_cfg;

static nb_tensor *leaky_relu_fwd(nb_module *m, nb_tensor *x) {
    return nb_leaky_relu(x, ((leaky_cfg *)m->impl)->slope);
}

nb_module *nb_leaky_relu_new(float slope) {
    if (slope != slope) return nb_set_error("leaky_relu_new: the slope is NaN");
    nb_module *m = nb_module_new("LeakyReLU", NULL, leaky_relu_fwd, sizeof(leaky_cfg));
    if (m) ((leaky_cfg *)m->impl)->slope = slope;
    return m;
}

/* ---- BatchNorm ----------------------------------------------------------- */

typedef struct {
    float eps, momentum;
} batchnorm_cfg;

static nb_tensor *batchnorm_fwd(nb_module *m, nb_tensor *x) {
    const batchnorm_cfg *c = m->impl;
    return nb_batch_norm(x, m->params[2].t, m->params[3].t, m->params[0].t, m->params[1].t, m->training,
                         c->momentum, c->eps);
}

nb_module *nb_batchnorm_new(nb_ctx *ctx, int64_t channels, float eps, float momentum) {
    if (!ctx) return nb_set_error("batchnorm_new: NULL context");
    if (channels <= 0 || !(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return nb_set_error(
            "batchnorm_new: channels %lld must be positive, eps %g >= 0, momentum %g in [0, 1]",
            (long long)channels, (double)eps, (double)momentum);
    nb_module *m = nb_module_new("BatchNorm", ctx, batchnorm_fwd, sizeof(batchnorm_cfg));
    if (!m) return NULL;
    *(batchnorm_cfg *)m->impl = (batchnorm_cfg){eps, momentum};
    nb_tensor *w = nb_module_add_param(m, "weight", nb_ones(ctx, NB_F32, NB_SHAPE(channels)));
    nb_tensor *b = w ? nb_module_add_param(m, "bias", nb_zeros(ctx, NB_F32, NB_SHAPE(channels))) : NULL;
    /* the running statistics: saved, loaded and moved with the module, never trained */
    nb_tensor *rm =
        b ? nb_module_add_param(m, "running_mean", nb_zeros(ctx, NB_F32, NB_SHAPE(channels))) : NULL;
    nb_tensor *rv =
        rm ? nb_module_add_param(m, "running_var", nb_ones(ctx, NB_F32, NB_SHAPE(channels))) : NULL;
    if (!rv) {
        nb_module_free(m);
        return NULL;
    }
    nb_requires_grad_(rm, false);
    nb_requires_grad_(rv, false);
    return m;
}

/* ---- Sequential / ModuleList -------------------------------------------- */

static nb_tensor *sequential_fwd(nb_module *m, nb_tensor *x) {
    for (int i = 0; i < m->n_children && x; i++)
        x = nb_module_forward(m->children[i], x);
    return x;
}

nb_module *nb_sequential_new(void) { return nb_module_new("Sequential", NULL, sequential_fwd, 0); }

nb_module *nb_module_list_new(void) { return nb_module_new("ModuleList", NULL, NULL, 0); }

int nb_sequential_append(nb_module *seq, nb_module *child) {
    if (!child) { /* the constructor that failed set the message; else say so */
        if (!nb_last_error()[0]) nb_set_error("sequential_append: NULL child");
        return -1;
    }
    if (!seq) {
        nb_module_free(child);
        return nb_set_error("sequential_append: NULL container"), -1;
    }
    if (strcmp(seq->type, "Sequential") != 0 && strcmp(seq->type, "ModuleList") != 0) {
        nb_set_error(
            "sequential_append: %s is not a Sequential or ModuleList (use nb_module_add with a name)",
            seq->type);
        nb_module_free(child);
        return -1;
    }
    char name[24];
    snprintf(name, sizeof name, "%d", seq->n_children);
    return nb_module_add(seq, name, child);
}

/* ---- MLP ---------------------------------------------------------------- */

static nb_tensor *mlp_fwd(nb_module *m, nb_tensor *x) {
    for (int i = 0; i < m->n_children && x; i++)
        x = nb_module_forward(m->children[i], x);
    return x;
}

nb_module *nb_mlp_new(nb_ctx *ctx, int64_t dim, int64_t hidden, float dropout, nb_rng *rng) {
    nb_module *m = nb_module_new("MLP", ctx, mlp_fwd, 0);
    if (!m) return NULL;
    nb_module *proj = NULL;
    if (nb_module_add(m, "fc", nb_linear_new(ctx, dim, hidden, true, rng)) ||
        nb_module_add(m, "act", nb_gelu_new()) ||
        nb_module_add(m, "proj", proj = nb_linear_new(ctx, hidden, dim, true, rng)) ||
        nb_module_add(m, "drop", nb_dropout_new(dropout))) {
        nb_module_free(m);
        return NULL;
    }
    proj->residual = true;
    return m;
}

/* ---- GPT-2 initialisation ------------------------------------------------ */

typedef struct {
    nb_tensor **done;
    int n, cap;
} seen_set;

/* 1 when t was initialised already (tied), else records it and returns 0; -1 on OOM. */
static int seen(seen_set *s, nb_tensor *t) {
    for (int i = 0; i < s->n; i++)
        if (s->done[i] == t) return 1;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 32;
        nb_tensor **d = realloc(s->done, sizeof *d * (size_t)cap);
        if (!d) return nb_set_error("init: out of memory"), -1;
        s->done = d;
        s->cap = cap;
    }
    s->done[s->n++] = t;
    return 0;
}

/* The two schemes: GPT-2's (n_layer scales residual projections) and Kaiming's. */
typedef enum { INIT_GPT2, INIT_KAIMING } init_kind;

/* One non-bias, non-LayerNorm parameter t of module m under scheme `kind`. */
static int init_weight(const nb_module *m, nb_tensor *t, init_kind kind, int n_layer, nb_rng *rng) {
    if (kind == INIT_GPT2) {
        float std = 0.02f;
        if (m->residual && n_layer > 0) std = 0.02f / sqrtf(2.0f * (float)n_layer);
        return nb_randn_(t, 0.0f, std, rng);
    }
    if (strcmp(m->type, "Embedding") == 0 || strcmp(m->type, "EmbeddingBag") == 0)
        return nb_randn_(t, 0.0f, 1.0f, rng);
    if (t->ndim < 2) return 0;                                     /* no fan-in: left as it is */
    return nb_init_kaiming_normal_(t, 0.0, "fan_in", "relu", rng); /* N(0, sqrt(2 / fan_in)) */
}

static int init_tree(nb_module *m, init_kind kind, nb_rng *rng, int n_layer, seen_set *s) {
    bool is_ln = strcmp(m->type, "LayerNorm") == 0;
    for (int i = 0; i < m->n_params; i++) {
        nb_tensor *t = m->params[i].t;
        int k = seen(s, t);
        if (k < 0) return -1;
        if (k) continue;
        int rc;
        if (strcmp(m->params[i].name, "bias") == 0)
            rc = nb_fill_(t, 0.0);
        else if (is_ln)
            rc = nb_fill_(t, 1.0);
        else
            rc = init_weight(m, t, kind, n_layer, rng);
        if (rc) return -1;
    }
    for (int i = 0; i < m->n_children; i++)
        if (init_tree(m->children[i], kind, rng, n_layer, s)) return -1;
    return 0;
}

static int init_all(const char *op, nb_module *m, init_kind kind, nb_rng *rng, int n_layer) {
    if (!m) return nb_set_error("%s: NULL module", op), -1;
    seen_set s = {0};
    int rc = init_tree(m, kind, rng, n_layer, &s);
    free(s.done);
    return rc;
}

int nb_init_gpt2(nb_module *m, nb_rng *rng, int n_layer) {
    return init_all("init_gpt2", m, INIT_GPT2, rng, n_layer);
}

int nb_init_kaiming(nb_module *m, nb_rng *rng) { return init_all("init_kaiming", m, INIT_KAIMING, rng, 0); }
