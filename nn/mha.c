/* nn/mha.c - torch's nn.MultiheadAttention: query, key and value projected by one packed
 * in_proj_weight [3E, E] (or q/k/v_proj_weight when the key and value widths kdim, vdim differ
 * from E) and in_proj_bias, optionally extended by bias_k / bias_v and a zero key and value,
 * split into heads, attended with nb_scaled_dot_product_attention under an additive mask and a
 * key padding mask, and projected back by out_proj. Parameter names, layouts and initialisation are torch's,
 * so a torch state_dict loads as it is; self-attention, cross-attention and encoder-decoder use it alike. */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "ops/op_util.h"

typedef struct {
    int64_t dim, kdim, vdim;
    int heads;
    float dropout;
    bool batch_first, packed, bias_kv, zero_attn, bias, per_head;
} mha_cfg;

static nb_tensor *mha_fwd(nb_module *m, nb_tensor *x) {
    return nb_mha_run(m, x, x, x, NULL, NULL, false, NULL); /* self-attention */
}

nb_module *nb_multihead_attention_new(nb_ctx *ctx, int64_t dim, int heads, float dropout, bool bias,
                                      bool batch_first, nb_rng *rng) {
    return nb_multihead_attention_new_ex(ctx, dim, heads, dropout, bias, batch_first, NULL, rng);
}

/* xavier_uniform_ of a [rows, cols] weight: uniform in +-sqrt(6 / (rows + cols)) */
static nb_tensor *xavier(nb_ctx *ctx, int64_t rows, int64_t cols, nb_rng *rng) {
    const float b = sqrtf(6.0f / (float)(rows + cols));
    return nb_rand(ctx, NB_SHAPE(rows, cols), -b, b, rng);
}

nb_module *nb_multihead_attention_new_ex(nb_ctx *ctx, int64_t dim, int heads, float dropout, bool bias,
                                         bool batch_first, const nb_mha_opts *opts, nb_rng *rng) {
    if (!ctx) return nb_set_error("multihead_attention_new: NULL context");
    if (heads < 1) return nb_set_error("multihead_attention_new: %d heads (want at least 1)", heads);
    if (dim < 1 || dim > INT32_MAX / 3 || dim % heads)
        return nb_set_error("multihead_attention_new: dim %lld must be a multiple of the %d heads in [1, %d]",
                            (long long)dim, heads, INT32_MAX / 3);
    if (!(dropout >= 0.0f && dropout < 1.0f))
        return nb_set_error("multihead_attention_new: dropout %g must be in [0, 1)", (double)dropout);
    const int64_t kdim = opts && opts->kdim ? opts->kdim : dim, vdim = opts && opts->vdim ? opts->vdim : dim;
    if (kdim < 1 || vdim < 1 || kdim > INT32_MAX || vdim > INT32_MAX)
        return nb_set_error("multihead_attention_new: kdim %lld and vdim %lld must be positive",
                            (long long)kdim, (long long)vdim);
    nb_module *m = nb_module_new("MultiheadAttention", ctx, mha_fwd, sizeof(mha_cfg));
    if (!m) return NULL;
    const bool packed = kdim == dim && vdim == dim;
    *(mha_cfg *)m->impl = (mha_cfg){dim,
                                    kdim,
                                    vdim,
                                    heads,
                                    dropout,
                                    batch_first,
                                    packed,
                                    opts && opts->add_bias_kv,
                                    opts && opts->add_zero_attn,
                                    bias,
                                    opts && opts->per_head_weights};
    /* torch: xavier_uniform_ on in_proj_weight (or on each of q/k/v_proj_weight when the key or
     * value width differs), zero biases, out_proj.weight as a Linear's default (uniform in
     * +-1/sqrt(dim)), bias_k and bias_v xavier_normal_ (std sqrt(1/dim) for [1, 1, dim]) */
    const float lb = 1.0f / sqrtf((float)dim);
    nb_module *out = nb_linear_new(ctx, dim, dim, bias, rng);
    bool ok = packed ? nb_module_add_param(m, "in_proj_weight", xavier(ctx, 3 * dim, dim, rng)) != NULL
                     : nb_module_add_param(m, "q_proj_weight", xavier(ctx, dim, dim, rng)) &&
                           nb_module_add_param(m, "k_proj_weight", xavier(ctx, dim, kdim, rng)) &&
                           nb_module_add_param(m, "v_proj_weight", xavier(ctx, dim, vdim, rng));
    ok = ok && (!bias || nb_module_add_param(m, "in_proj_bias", nb_zeros(ctx, NB_F32, NB_SHAPE(3 * dim))));
    if (ok && opts && opts->add_bias_kv) {
        const float sd = sqrtf(1.0f / (float)dim);
        ok = nb_module_add_param(m, "bias_k", nb_randn(ctx, NB_SHAPE(1, 1, dim), 0.0f, sd, rng)) &&
             nb_module_add_param(m, "bias_v", nb_randn(ctx, NB_SHAPE(1, 1, dim), 0.0f, sd, rng));
    }
    ok = ok && out && !nb_rand_(out->params[0].t, -lb, lb, rng);
    if (nb_module_add(m, "out_proj", out) || !ok) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* [N, T, E] -> [N, H, T, E/H] */
static nb_tensor *heads_of(nb_tensor *t, int H) {
    return t ? nb_transpose(nb_reshape(t, NB_SHAPE(t->shape[0], t->shape[1], H, t->shape[2] / H)), 1, 2)
             : NULL;
}

/* checks [*, *, E] (or unbatched [*, E]) f32 on query's device */
static int check_seq(const char *what, nb_tensor *t, const nb_tensor *q, int64_t E, int nd) {
    const char *op = "MultiheadAttention";
    if (nb_check_dtype(op, t, NB_F32, what) || nb_same_device(op, q, t)) return -1;
    if (t->ndim == nd && t->shape[nd - 1] == E) return 0;
    char ts[64];
    return nb_set_error(
               "%s: want %s [L, N, %lld] (batch_first: [N, L, %lld]; unbatched [L, %lld]) like the query, "
               "got %s",
               op, what, (long long)E, (long long)E, (long long)E, NB_SHP(t, ts)),
           -1;
}

nb_tensor *nb_mha_run(nb_module *m, nb_tensor *query, nb_tensor *key, nb_tensor *value, nb_tensor *attn_mask,
                      nb_tensor *key_padding_mask, bool causal, nb_tensor **weights) {
    const char *op = "MultiheadAttention";
    if (!m || m->forward != mha_fwd) return nb_set_error("mha_run: not a MultiheadAttention module");
    NB_NULL_GUARD_NAMED(op, query, key, value);
    const mha_cfg *c = m->impl;
    const int64_t E = c->dim;
    const int H = c->heads, nd = query->ndim == 2 ? 2 : 3;
    if (check_seq("query", query, query, E, nd) || check_seq("key", key, query, c->kdim, nd) ||
        check_seq("value", value, query, c->vdim, nd))
        return NULL;
    if (nd == 2) { /* unbatched [L, E]: a batch of one; masks without their batch dim */
        char ks[64];
        if (key_padding_mask && (key_padding_mask->ndim != 1 || key_padding_mask->shape[0] != key->shape[0]))
            return nb_set_error("%s: key_padding_mask %s: an unbatched key [%lld, %lld] wants [S] = [%lld]",
                                op, NB_SHP(key_padding_mask, ks), (long long)key->shape[0],
                                (long long)c->kdim, (long long)key->shape[0]);
        nb_tensor *w = NULL, *kpm = key_padding_mask ? nb_unsqueeze(key_padding_mask, 0) : NULL;
        const int b = c->batch_first ? 0 : 1;
        nb_tensor *y = nb_mha_run(m, nb_unsqueeze(query, b), nb_unsqueeze(key, b), nb_unsqueeze(value, b),
                                  attn_mask, kpm, causal, weights ? &w : NULL);
        if (y && weights) *weights = nb_squeeze(w, 0);
        return y ? nb_squeeze(y, b) : NULL;
    }
    nb_tensor *q = c->batch_first ? query : nb_transpose(query, 0, 1); /* [N, L, E] */
    nb_tensor *k = c->batch_first ? key : nb_transpose(key, 0, 1);     /* [N, S, E] */
    nb_tensor *v = c->batch_first ? value : nb_transpose(value, 0, 1);
    char s1[64], s2[64], s3[64];
    if (!q || !k || !v) return NULL;
    const int64_t N = q->shape[0], L = q->shape[1], S = k->shape[1];
    if (k->shape[0] != N || v->shape[0] != N || v->shape[1] != S)
        return nb_set_error("%s: query %s, key %s and value %s: batch and key lengths differ", op,
                            NB_SHP(query, s1), NB_SHP(key, s2), NB_SHP(value, s3));
    /* the additive mask [N, H, L, S] (broadcast): attn_mask [L, S] or [N*H, L, S], plus -inf at
     * the padded keys */
    nb_tensor *mask = NULL;
    if (attn_mask) {
        if (nb_check_dtype(op, attn_mask, NB_F32, "attn_mask") || nb_same_device(op, query, attn_mask))
            return NULL;
        const bool two = attn_mask->ndim == 2 && attn_mask->shape[0] == L && attn_mask->shape[1] == S;
        const bool three = attn_mask->ndim == 3 && attn_mask->shape[0] == N * H && attn_mask->shape[1] == L &&
                           attn_mask->shape[2] == S;
        if (!two && !three)
            return nb_set_error("%s: attn_mask %s: want [L, S] = [%lld, %lld] or [N*heads, L, S]", op,
                                NB_SHP(attn_mask, s1), (long long)L, (long long)S);
        mask = three ? nb_reshape(attn_mask, NB_SHAPE(N, H, L, S)) : attn_mask;
    }
    if (key_padding_mask) {
        if (nb_same_device(op, query, key_padding_mask)) return NULL;
        if (key_padding_mask->ndim != 2 || key_padding_mask->shape[0] != N || key_padding_mask->shape[1] != S)
            return nb_set_error("%s: key_padding_mask %s: want [N, S] = [%lld, %lld]", op,
                                NB_SHP(key_padding_mask, s1), (long long)N, (long long)S);
        /* as torch 1.13: an f32 mask is added to the scores; another dtype (torch's bool) drops
         * the keys where it is non-zero */
        nb_tensor *pad;
        if (key_padding_mask->dtype == NB_F32) {
            pad = nb_reshape(key_padding_mask, NB_SHAPE(N, 1, 1, S));
        } else {
            nb_tensor *z = nb_zeros_on(nb_out_ctx(query), NB_F32, query->device, NB_SHAPE(N, 1, 1, S));
            nb_tensor *kpm = nb_cast(key_padding_mask, NB_F32);
            pad = z && kpm ? nb_masked_fill(z, nb_reshape(kpm, NB_SHAPE(N, 1, 1, S)), -INFINITY) : NULL;
        }
        mask = !pad ? NULL : mask ? nb_add(mask, pad) : pad;
        if (!mask) return nb_as_op(NULL, op);
    }
    if (causal && (c->bias_kv || c->zero_attn)) { /* causal over the S keys given; the extra keys stay */
        nb_ctx *cx = nb_out_ctx(query);
        nb_tensor *ones = nb_full_on(cx, NB_F32, query->device, NB_SHAPE(L, S), 1.0);
        nb_tensor *z = nb_zeros_on(cx, NB_F32, query->device, NB_SHAPE(L, S));
        nb_tensor *cm = ones && z ? nb_masked_fill(z, nb_triu(ones, 1), -INFINITY) : NULL;
        mask = !cm ? NULL : mask ? nb_add(mask, cm) : cm;
        if (!mask) return nb_as_op(NULL, op);
        causal = false;
    }
    /* the projections: one packed [3E, E] weight, or q/k/v_proj_weight for other key and value
     * widths; then torch's extra keys: bias_k / bias_v appended to every sequence, and a zero key
     * and value (add_zero_attn), each with a 0 (kept) column appended to the masks */
    const int np = c->packed ? 1 : 3;
    nb_tensor *Wq = c->packed ? nb_narrow(m->params[0].t, 0, 0, E) : m->params[0].t;
    nb_tensor *Wk = c->packed ? nb_narrow(m->params[0].t, 0, E, E) : m->params[1].t;
    nb_tensor *Wv = c->packed ? nb_narrow(m->params[0].t, 0, 2 * E, E) : m->params[2].t;
    nb_tensor *B = c->bias ? m->params[np].t : NULL;
    nb_tensor *qp = nb_linear(q, Wq, B ? nb_narrow(B, 0, 0, E) : NULL);
    nb_tensor *kp = nb_linear(k, Wk, B ? nb_narrow(B, 0, E, E) : NULL);
    nb_tensor *vp = nb_linear(v, Wv, B ? nb_narrow(B, 0, 2 * E, E) : NULL);
    for (int extra = 0; extra < 2 && kp && vp; extra++) {
        if (extra == 0 ? !c->bias_kv : !c->zero_attn) continue;
        nb_tensor *ek, *ev;
        if (extra == 0) {
            const int at = np + (c->bias ? 1 : 0);
            ek = nb_expand(m->params[at].t, NB_SHAPE(N, 1, E)),
            ev = nb_expand(m->params[at + 1].t, NB_SHAPE(N, 1, E));
        } else {
            ek = ev = nb_zeros_on(nb_out_ctx(query), NB_F32, query->device, NB_SHAPE(N, 1, E));
        }
        kp = nb_cat((nb_tensor *[]){kp, ek}, 2, 1);
        vp = nb_cat((nb_tensor *[]){vp, ev}, 2, 1);
        if (mask) mask = nb_pad(mask, 2, (const int64_t[]){0, 1}, 0.0f);
    }
    const nb_sdpa_opts so = {
        .mask = mask, .causal = causal, .dropout = m->training ? c->dropout : 0.0f, .rng = nb_module_rng(m)};
    nb_tensor *p = NULL;
    nb_tensor *a = nb_scaled_dot_product_attention(heads_of(qp, H), heads_of(kp, H), heads_of(vp, H), &so,
                                                   weights ? &p : NULL); /* [N, H, L, D] */
    a = a ? nb_reshape(nb_transpose(a, 1, 2), NB_SHAPE(N, L, E)) : NULL;
    nb_tensor *y = a ? nb_module_forward(m->children[0], a) : NULL;
    if (y && !c->batch_first) y = nb_transpose(y, 0, 1);
    if (y && weights && !(*weights = c->per_head ? p : nb_mean(p, 1, (const int[]){1}, false)))
        y = NULL; /* averaged over the heads, unless asked per head */
    if (y) { /* the output shape, for nb_module_summary (run directly, not through nb_module_forward) */
        m->out_ndim = y->ndim;
        memcpy(m->out_shape, y->shape, sizeof y->shape);
    }
    return nb_as_op(y, op);
}
