/* nn/attention.c - attention modules: fused multi-head causal self-attention,
 * the per-Head form of the classic tutorial, and the pre-LN GPT block. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"

/* Checks x is [B,T,C] with C == dim. */
static int check_btc(const char *op, const nb_tensor *x, int64_t dim) {
    if (x->ndim != 3 || x->shape[2] != dim) {
        char b[96];
        return nb_set_error("%s: expected input [B,T,%lld], got %s", op, (long long)dim,
                            nb_shape_str(x, b, sizeof b)),
               -1;
    }
    return 0;
}

/* ---- Causal self-attention (fused) --------------------------------------- */

static nb_tensor *csa_fwd(nb_module *m, nb_tensor *x) {
    nb_attn_cfg *c = m->impl;
    if (check_btc("CausalSelfAttention", x, c->dim)) return NULL;
    nb_tensor *qkv = nb_module_forward(m->children[0], x); /* [B,T,3C] */
    nb_tensor *y = nb_attention_qkv(qkv, c->n_head);       /* [B,T,C], read from qkv in place */
    y = nb_module_forward(m->children[1], y);
    return nb_module_forward(m->children[2], y);
}

nb_module *nb_causal_self_attention_new(nb_ctx *ctx, int64_t dim, int n_head, float dropout, nb_rng *rng) {
    if (n_head <= 0 || dim <= 0 || dim % n_head || dim > INT64_MAX / 4)
        return nb_set_error("causal_self_attention_new: dim %lld is not a positive multiple of "
                            "n_head %d",
                            (long long)dim, n_head);
    nb_module *m = nb_module_new("CausalSelfAttention", ctx, csa_fwd, sizeof(nb_attn_cfg));
    if (!m) return NULL;
    nb_attn_cfg *c = m->impl;
    c->dim = dim;
    c->n_head = n_head;
    c->head_size = dim / n_head;
    nb_module *proj = NULL;
    if (nb_module_add(m, "qkv", nb_linear_new(ctx, dim, 3 * dim, true, rng)) ||
        nb_module_add(m, "proj", proj = nb_linear_new(ctx, dim, dim, true, rng)) ||
        nb_module_add(m, "drop", nb_dropout_new(dropout))) {
        nb_module_free(m);
        return NULL;
    }
    proj->residual = true;
    return m;
}

/* ---- One Head (the tutorial form) ------------------------------------------ */

/* A [T,T] f32 mask with ones strictly above the diagonal, on x's device. Masked scores
 * become -1e9 (not -inf, so that anomaly mode does not flag them). */
static nb_tensor *future_mask(const nb_tensor *x, int64_t T) {
    nb_ctx *ctx = nb_ctx_current() ? nb_ctx_current() : x->ctx;
    nb_tensor *mask = nb_empty(ctx, NB_F32, NB_SHAPE(T, T));
    if (!mask) return NULL;
    float *p = nb_data_f32(mask);
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++)
            p[i * T + j] = j > i ? 1.0f : 0.0f;
    return x->device == NB_CPU ? mask : nb_to_device(ctx, mask, x->device);
}

static nb_tensor *head_fwd(nb_module *m, nb_tensor *x) {
    nb_attn_cfg *c = m->impl;
    if (check_btc("Head", x, c->dim)) return NULL;
    int64_t T = x->shape[1];
    nb_tensor *k = nb_module_forward(m->children[0], x); /* [B,T,hs] */
    nb_tensor *q = nb_module_forward(m->children[1], x);
    nb_tensor *v = nb_module_forward(m->children[2], x);
    nb_tensor *wei = nb_matmul(q, nb_transpose(k, -2, -1)); /* [B,T,T] */
    wei = nb_mul_scalar(wei, 1.0f / sqrtf((float)c->head_size));
    nb_tensor *mask = wei ? future_mask(x, T) : NULL;
    wei = nb_softmax(nb_masked_fill(wei, mask, -1e9f), -1);
    wei = nb_module_forward(m->children[3], wei);
    return nb_matmul(wei, v);
}

nb_module *nb_head_new(nb_ctx *ctx, int64_t dim, int64_t head_size, float dropout, nb_rng *rng) {
    if (dim <= 0 || head_size <= 0)
        return nb_set_error("head_new: sizes must be positive, got dim=%lld head_size=%lld", (long long)dim,
                            (long long)head_size);
    nb_module *m = nb_module_new("Head", ctx, head_fwd, sizeof(nb_attn_cfg));
    if (!m) return NULL;
    nb_attn_cfg *c = m->impl;
    c->dim = dim;
    c->head_size = head_size;
    c->n_head = 1;
    if (nb_module_add(m, "key", nb_linear_new(ctx, dim, head_size, false, rng)) ||
        nb_module_add(m, "query", nb_linear_new(ctx, dim, head_size, false, rng)) ||
        nb_module_add(m, "value", nb_linear_new(ctx, dim, head_size, false, rng)) ||
        nb_module_add(m, "drop", nb_dropout_new(dropout))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- Multi-head attention from separate Heads ---------------------------------- */

static nb_tensor *multi_head_fwd(nb_module *m, nb_tensor *x) {
    nb_attn_cfg *c = m->impl;
    if (check_btc("MultiHeadAttention", x, c->dim)) return NULL;
    nb_module *heads = m->children[0];
    nb_tensor *outs[64];
    for (int i = 0; i < heads->n_children; i++) {
        outs[i] = nb_module_forward(heads->children[i], x);
        if (!outs[i]) return NULL;
    }
    nb_tensor *y = nb_cat(outs, heads->n_children, -1);
    y = nb_module_forward(m->children[1], y);
    return nb_module_forward(m->children[2], y);
}

nb_module *nb_multi_head_new(nb_ctx *ctx, int64_t dim, int n_head, float dropout, nb_rng *rng) {
    if (n_head <= 0 || n_head > 64 || dim <= 0 || dim % n_head)
        return nb_set_error("multi_head_new: dim %lld is not a positive multiple of n_head %d "
                            "(1..64)",
                            (long long)dim, n_head);
    nb_module *m = nb_module_new("MultiHeadAttention", ctx, multi_head_fwd, sizeof(nb_attn_cfg));
    nb_module *heads = nb_module_list_new(), *proj = NULL;
    if (!m || nb_module_add(m, "heads", heads)) {
        nb_module_free(m);
        return NULL;
    }
    nb_attn_cfg *c = m->impl;
    c->dim = dim;
    c->n_head = n_head;
    c->head_size = dim / n_head;
    for (int i = 0; i < n_head; i++)
        if (nb_sequential_append(heads, nb_head_new(ctx, dim, c->head_size, dropout, rng))) {
            nb_module_free(m);
            return NULL;
        }
    if (nb_module_add(m, "proj", proj = nb_linear_new(ctx, dim, dim, true, rng)) ||
        nb_module_add(m, "drop", nb_dropout_new(dropout))) {
        nb_module_free(m);
        return NULL;
    }
    proj->residual = true;
    return m;
}

/* ---- The pre-LN transformer block ---------------------------------------------- */

static nb_tensor *block_fwd(nb_module *m, nb_tensor *x) {
    nb_attn_cfg *c = m->impl;
    if (check_btc("TransformerBlock", x, c->dim)) return NULL;
    nb_tensor *a = nb_module_forward(m->children[1], nb_module_forward(m->children[0], x));
    x = nb_add(x, a);
    nb_tensor *f = nb_module_forward(m->children[3], nb_module_forward(m->children[2], x));
    return nb_add(x, f);
}

nb_module *nb_transformer_block_new(nb_ctx *ctx, int64_t dim, int n_head, float dropout, nb_rng *rng) {
    nb_module *m = nb_module_new("TransformerBlock", ctx, block_fwd, sizeof(nb_attn_cfg));
    if (!m) return NULL;
    nb_attn_cfg *c = m->impl;
    c->dim = dim;
    c->n_head = n_head;
    c->head_size = n_head > 0 ? dim / n_head : 0;
    if (nb_module_add(m, "ln1", nb_layernorm_new(ctx, dim, 1e-5f, true)) ||
        nb_module_add(m, "attn", nb_causal_self_attention_new(ctx, dim, n_head, dropout, rng)) ||
        nb_module_add(m, "ln2", nb_layernorm_new(ctx, dim, 1e-5f, true)) ||
        nb_module_add(m, "mlp", nb_mlp_new(ctx, dim, 4 * dim, dropout, rng))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
