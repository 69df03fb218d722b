/* model.c - the Baby GPT model on nabla's nn modules, and its KV-cached
 * generation step. */
#include "examples/babygpt/model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bg_config configs[] = {
    /* name,      layers, heads, embd, block, vocab, dropout, batch, lr,    steps */
    {"tiny", 2, 2, 128, 64, 0, 0.0f, 16, 1e-3f, 600},
    {"small", 4, 4, 256, 128, 0, 0.1f, 16, 6e-4f, 2000},
    {"safe-pro", 6, 6, 384, 192, 0, 0.2f, 32, 3e-4f, 5000},
};

int bg_config_get(const char *name, int vocab_size, bg_config *out, char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++)
        if (name && strcmp(name, configs[i].name) == 0) {
            *out = configs[i];
            out->vocab_size = vocab_size;
            return 0;
        }
    snprintf(err, errlen, "unknown config '%s' (expected tiny, small or safe-pro)", name ? name : "(null)");
    return -1;
}

char *bg_config_to_json(const bg_config *c) {
    json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:f, s:i}", "name", c->name, "n_layer",
                          c->n_layer, "n_head", c->n_head, "n_embd", c->n_embd, "block_size", c->block_size,
                          "vocab_size", c->vocab_size, "dropout", (double)c->dropout, "batch", c->batch, "lr",
                          (double)c->lr, "steps", c->steps);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

int bg_config_from_json(const char *json, bg_config *out, char *err, size_t errlen) {
    json_error_t je;
    json_t *o = json_loads(json ? json : "", 0, &je);
    if (!o) {
        snprintf(err, errlen, "model config: invalid JSON: %s", je.text);
        return -1;
    }
    const char *name = NULL;
    double dropout = 0, lr = 0;
    memset(out, 0, sizeof *out);
    int rc = json_unpack_ex(o, &je, 0, "{s:s, s:i, s:i, s:i, s:i, s:i, s:F, s:i, s:F, s:i}", "name", &name,
                            "n_layer", &out->n_layer, "n_head", &out->n_head, "n_embd", &out->n_embd,
                            "block_size", &out->block_size, "vocab_size", &out->vocab_size, "dropout",
                            &dropout, "batch", &out->batch, "lr", &lr, "steps", &out->steps);
    if (rc == 0) {
        snprintf(out->name, sizeof out->name, "%s", name);
        out->dropout = (float)dropout;
        out->lr = (float)lr;
    }
    json_decref(o);
    if (rc) {
        snprintf(err, errlen, "model config: %s", je.text);
        return -1;
    }
    if (out->n_layer < 1 || out->n_head < 1 || out->n_embd < 1 || out->n_embd % out->n_head ||
        !(out->dropout >= 0 && out->dropout < 1) || out->block_size < 1 || out->vocab_size < 2 ||
        out->n_layer > 256 || out->n_embd > 65536 || out->block_size > 1 << 20 || out->batch < 1 ||
        out->batch > 4096 || out->steps < 1 || out->steps > 10000000 || !(out->lr > 0 && out->lr <= 10)) {
        /* the same ranges as babygpt train's --batch, --steps and --lr */
        snprintf(err, errlen, "model config: implausible sizes in %s", json);
        return -1;
    }
    return 0;
}

typedef struct {
    bg_model *model;
} gpt_impl;

/* The final hidden states [B,T,C] (after ln_f, before the lm_head) of the i32 ids [B,T]. */
static nb_tensor *gpt_hidden(nb_module *root, nb_tensor *idx) {
    bg_model *m = ((gpt_impl *)root->impl)->model;
    if (!idx) return NULL;
    if (idx->dtype != NB_I32 || idx->ndim != 2) {
        char b[64];
        return nb_set_error("gpt: input must be i32 [B,T], got %s %s", nb_dtype_name(idx->dtype),
                            nb_shape_str(idx, b, sizeof b));
    }
    int64_t T = idx->shape[1];
    if (T > m->cfg.block_size)
        return nb_set_error("gpt: sequence of %lld tokens is longer than the context (%d)", (long long)T,
                            m->cfg.block_size);
    nb_tensor *tok = nb_module_forward(nb_module_child(root, "wte"), idx);
    nb_tensor *pos = nb_module_forward(nb_module_child(root, "wpe"), nb_slice(m->pos, 0, 0, T, 1));
    nb_tensor *x = nb_module_forward(nb_module_child(root, "drop"), nb_add(tok, pos));
    nb_module *blocks = nb_module_child(root, "blocks");
    for (int i = 0; i < blocks->n_children; i++)
        x = nb_module_forward(blocks->children[i], x);
    return nb_module_forward(nb_module_child(root, "ln_f"), x);
}

static nb_tensor *gpt_forward(nb_module *root, nb_tensor *idx) {
    return nb_module_forward(nb_module_child(root, "lm_head"), gpt_hidden(root, idx));
}

bg_model *bg_model_new(const bg_config *cfg, uint64_t seed, char *err, size_t errlen) {
    bg_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->ctx = nb_ctx_new(0);
    nb_rng rng;
    nb_rng_init(&rng, seed);
    nb_ctx *c = m->ctx;
    int64_t C = cfg->n_embd;
    m->root = c ? nb_module_new("GPT", c, gpt_forward, sizeof(gpt_impl)) : NULL;
    if (!m->root) goto fail;
    ((gpt_impl *)m->root->impl)->model = m;
    if (nb_module_add(m->root, "wte", nb_embedding_new(c, cfg->vocab_size, C, &rng)) ||
        nb_module_add(m->root, "wpe", nb_embedding_new(c, cfg->block_size, C, &rng)) ||
        nb_module_add(m->root, "drop", nb_dropout_new(cfg->dropout)) ||
        nb_module_add(m->root, "blocks", nb_module_list_new())) /* takes ownership, even on error */
        goto fail;
    nb_module *blocks = nb_module_child(m->root, "blocks");
    for (int i = 0; i < cfg->n_layer; i++)
        if (nb_sequential_append(blocks, nb_transformer_block_new(c, C, cfg->n_head, cfg->dropout, &rng)))
            goto fail;
    /* weight tying: lm_head shares the token embedding. Its own [V,C] weight and gradient are
     * made in a scratch context and dropped with it, so the model holds the matrix only once. */
    nb_ctx *scratch = nb_ctx_new(0);
    int tied = scratch && !nb_module_add(m->root, "ln_f", nb_layernorm_new(c, C, 1e-5f, true)) &&
               !nb_module_add(m->root, "lm_head", nb_linear_new(scratch, C, cfg->vocab_size, false, &rng)) &&
               !nb_module_set_param(nb_module_child(m->root, "lm_head"), "weight",
                                    nb_module_param(m->root, "wte.weight"));
    nb_ctx_free(scratch);
    if (!tied) goto fail;
    nb_module_child(m->root, "lm_head")->ctx = c; /* its only parameter now lives in c */
    if (nb_init_gpt2(m->root, &rng, cfg->n_layer)) goto fail;
    nb_module_seed(m->root, seed ^ 0x5eed5eed5eedULL);
    m->pos = nb_arange(c, NB_I32, 0, cfg->block_size, 1);
    if (!m->pos) goto fail;
    return m;
fail:
    snprintf(err, errlen, "building the model: %s", nb_last_error());
    bg_model_free(m);
    return NULL;
}

int bg_model_to(bg_model *m, nb_device dev) {
    if (!m) return nb_set_error("gpt: NULL model"), -1;
    if (nb_module_to(m->root, dev)) return -1;
    nb_tensor *pos = m->pos->device == dev ? m->pos : nb_to_device(m->ctx, m->pos, dev);
    if (!pos) return -1;
    m->pos = pos;
    return 0;
}

void bg_model_free(bg_model *m) {
    if (!m) return;
    nb_module_free(m->root);
    nb_ctx_free(m->ctx);
    free(m);
}

nb_tensor *bg_model_forward(bg_model *m, nb_tensor *idx) { return nb_module_forward(m->root, idx); }

/* The loss never makes the [B*T,V] logits: the tied lm_head (no bias) and the cross-entropy
 * are fused, in row chunks (nb_linear_cross_entropy). */
nb_tensor *bg_model_loss(bg_model *m, nb_tensor *x, nb_tensor *y) {
    nb_tensor *h = gpt_hidden(m->root, x);
    if (!h || !y) return NULL;
    nb_tensor *w = nb_module_param(m->root, "lm_head.weight");
    if (!w) return nb_set_error("gpt: the model has no lm_head.weight");
    return nb_linear_cross_entropy(h, w, NULL, nb_reshape(y, NB_SHAPE(-1)), -1);
}

/* ---- KV cache ---------------------------------------------------------- */

/* t (made on the CPU) on the model's device, in the current context. */
static nb_tensor *on_model_device(const bg_model *m, nb_tensor *t) {
    nb_device dev = m->pos->device;
    return !t || t->device == dev ? t : nb_to_device(nb_ctx_current(), t, dev);
}

bg_kv *bg_kv_new(const bg_model *m) {
    const bg_config *c = &m->cfg;
    bg_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return nb_set_error("kv cache: out of memory");
    int64_t D = c->n_embd / c->n_head;
    size_t bytes = (size_t)c->n_layer * 2 * (size_t)(c->n_head * c->block_size * D) * 4 + (1 << 16);
    kv->ctx = nb_ctx_new(bytes);
    kv->k = calloc((size_t)c->n_layer, sizeof *kv->k);
    kv->v = calloc((size_t)c->n_layer, sizeof *kv->v);
    if (!kv->ctx || !kv->k || !kv->v) goto fail;
    for (int l = 0; l < c->n_layer; l++) { /* on the model's device */
        kv->k[l] = nb_zeros_on(kv->ctx, NB_F32, m->pos->device, NB_SHAPE(1, c->n_head, c->block_size, D));
        kv->v[l] = nb_zeros_on(kv->ctx, NB_F32, m->pos->device, NB_SHAPE(1, c->n_head, c->block_size, D));
        if (!kv->k[l] || !kv->v[l]) goto fail;
    }
    return kv;
fail:
    bg_kv_free(kv);
    return NULL;
}

void bg_kv_free(bg_kv *kv) {
    if (!kv) return;
    nb_ctx_free(kv->ctx);
    free(kv->k);
    free(kv->v);
    free(kv);
}

/* One block on n new positions, attending to the cached ones. x: [1,n,C]. */
static nb_tensor *block_step(nb_module *blk, nb_tensor *x, nb_tensor *kc, nb_tensor *vc, int len, int H,
                             nb_tensor *mask) {
    int64_t n = x->shape[1], C = x->shape[2], D = C / H;
    nb_module *attn = nb_module_child(blk, "attn");
    nb_tensor *h = nb_module_forward(nb_module_child(blk, "ln1"), x);
    nb_tensor *qkv = nb_linear(h, nb_module_param(attn, "qkv.weight"), nb_module_param(attn, "qkv.bias"));
    nb_tensor *parts[3];
    if (!qkv || nb_split(qkv, 2, 3, (int64_t[]){C, C, C}, parts)) return NULL;
    nb_tensor *q = nb_transpose(nb_reshape(parts[0], NB_SHAPE(1, n, H, D)), 1, 2);
    nb_tensor *k = nb_transpose(nb_reshape(parts[1], NB_SHAPE(1, n, H, D)), 1, 2);
    nb_tensor *v = nb_transpose(nb_reshape(parts[2], NB_SHAPE(1, n, H, D)), 1, 2);
    if (!q || !k || !v) return NULL;
    if (nb_copy_(nb_narrow(kc, 2, len, n), k) || nb_copy_(nb_narrow(vc, 2, len, n), v)) return NULL;
    nb_tensor *K = nb_narrow(kc, 2, 0, len + n), *V = nb_narrow(vc, 2, 0, len + n);
    nb_tensor *att = nb_mul_scalar(nb_matmul(q, nb_transpose(K, -1, -2)), 1.0f / sqrtf((float)D));
    if (mask) att = nb_masked_fill(att, mask, -INFINITY);
    nb_tensor *y = nb_matmul(nb_softmax(att, -1), V); /* [1,H,n,D] */
    y = nb_reshape(nb_transpose(y, 1, 2), NB_SHAPE(1, n, C));
    y = nb_linear(y, nb_module_param(attn, "proj.weight"), nb_module_param(attn, "proj.bias"));
    x = nb_add(x, y);
    nb_tensor *m =
        nb_module_forward(nb_module_child(blk, "mlp"), nb_module_forward(nb_module_child(blk, "ln2"), x));
    return nb_add(x, m);
}

nb_tensor *bg_model_step(bg_model *m, bg_kv *kv, const int32_t *tokens, int n) {
    const bg_config *c = &m->cfg;
    if (n < 1 || kv->len + n > c->block_size)
        return nb_set_error("kv step: %d new tokens after %d exceed the context of %d", n, kv->len,
                            c->block_size);
    nb_ctx *cur = nb_ctx_current();
    nb_tensor *idx = on_model_device(m, nb_from_data(cur, NB_I32, NB_SHAPE(1, n), tokens));
    nb_tensor *tok = nb_module_forward(nb_module_child(m->root, "wte"), idx);
    nb_tensor *pos = nb_module_forward(nb_module_child(m->root, "wpe"), nb_narrow(m->pos, 0, kv->len, n));
    nb_tensor *x = nb_add(tok, pos);
    /* new position i may not see cached-or-new position j > len + i */
    nb_tensor *mask = NULL;
    if (n > 1) {
        mask = nb_zeros(cur, NB_F32, NB_SHAPE(n, kv->len + n));
        if (!mask) return NULL;
        float *mp = nb_data_f32(mask);
        for (int i = 0; i < n; i++)
            for (int j = kv->len + i + 1; j < kv->len + n; j++)
                mp[(int64_t)i * (kv->len + n) + j] = 1.0f;
        if (!(mask = on_model_device(m, mask))) return NULL;
    }
    nb_module *blocks = nb_module_child(m->root, "blocks");
    for (int l = 0; l < blocks->n_children && x; l++)
        x = block_step(blocks->children[l], x, kv->k[l], kv->v[l], kv->len, c->n_head, mask);
    if (!x) return NULL;
    kv->len += n;
    x = nb_module_forward(nb_module_child(m->root, "ln_f"), nb_narrow(x, 1, n - 1, 1));
    nb_tensor *logits = nb_module_forward(nb_module_child(m->root, "lm_head"), x);
    return nb_reshape(logits, NB_SHAPE(-1));
}
