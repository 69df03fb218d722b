/* nn/transformer.c - torch's nn.TransformerEncoderLayer and nn.TransformerDecoderLayer: multi-head
 * attention and a feed-forward block, each with a residual connection and a LayerNorm, after
 * (torch's default) or before (norm_first) the block. Children, parameter names and
 * initialisation are torch's, so a torch state_dict loads as it is. A stack of layers is a
 * loop over nb_encoder_layer_run (or a Sequential of encoder layers, unmasked). */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"

typedef struct {
    nb_transformer_opts o;
    bool decoder;
} tf_cfg;

static nb_tensor *encoder_fwd(nb_module *m, nb_tensor *x) {
    return nb_encoder_layer_run(m, x, NULL, NULL, false);
}

static nb_tensor *decoder_fwd(nb_module *m, nb_tensor *x) {
    (void)m, (void)x;
    return nb_set_error(
        "TransformerDecoderLayer: a decoder layer needs the memory: use nb_decoder_layer_run");
}

/* a Linear with torch's default initialisation: weight and bias uniform in +-1/sqrt(in) */
static nb_module *torch_linear(nb_ctx *ctx, int64_t in, int64_t out, nb_rng *rng) {
    nb_module *l = nb_linear_new(ctx, in, out, true, rng);
    const float b = 1.0f / sqrtf((float)in);
    if (l && (nb_rand_(l->params[0].t, -b, b, rng) || nb_rand_(l->params[1].t, -b, b, rng))) {
        nb_module_free(l);
        return NULL;
    }
    return l;
}

static nb_module *layer_new(const char *op, bool decoder, nb_ctx *ctx, int64_t dim, int heads, int64_t ff,
                            float dropout, const nb_transformer_opts *opts, nb_rng *rng) {
    if (!ctx) return nb_set_error("%s: NULL context", op);
    const nb_transformer_opts o = opts ? *opts : (nb_transformer_opts){.eps = 0};
    if (heads < 1) return nb_set_error("%s: %d heads (want at least 1)", op, heads);
    if (dim < 1 || dim % heads)
        return nb_set_error("%s: d_model %lld must be a positive multiple of the %d heads", op,
                            (long long)dim, heads);
    if (ff < 1) return nb_set_error("%s: dim_feedforward %lld must be positive", op, (long long)ff);
    if (!(dropout >= 0.0f && dropout < 1.0f))
        return nb_set_error("%s: dropout %g must be in [0, 1)", op, (double)dropout);
    if (!(o.eps >= 0.0f) || !isfinite(o.eps))
        return nb_set_error("%s: eps %g must be finite and >= 0 (0: 1e-5)", op, (double)o.eps);
    nb_module *m = nb_module_new(decoder ? "TransformerDecoderLayer" : "TransformerEncoderLayer", ctx,
                                 decoder ? decoder_fwd : encoder_fwd, sizeof(tf_cfg));
    if (!m) return NULL;
    *(tf_cfg *)m->impl = (tf_cfg){o, decoder};
    const float eps = o.eps > 0 ? o.eps : 1e-5f;
    /* torch's order: attention(s), the feed-forward block, the norms, the dropouts */
    int bad = nb_module_add(m, "self_attn",
                            nb_multihead_attention_new(ctx, dim, heads, dropout, true, o.batch_first, rng));
    if (!bad && decoder)
        bad = nb_module_add(m, "multihead_attn",
                            nb_multihead_attention_new(ctx, dim, heads, dropout, true, o.batch_first, rng));
    bad = bad || nb_module_add(m, "linear1", torch_linear(ctx, dim, ff, rng)) ||
          nb_module_add(m, "dropout", nb_dropout_new(dropout)) ||
          nb_module_add(m, "linear2", torch_linear(ctx, ff, dim, rng));
    const char *norms[3] = {"norm1", "norm2", "norm3"}, *drops[3] = {"dropout1", "dropout2", "dropout3"};
    for (int i = 0; i < (decoder ? 3 : 2) && !bad; i++)
        bad = nb_module_add(m, norms[i], nb_layernorm_new(ctx, dim, eps, true));
    for (int i = 0; i < (decoder ? 3 : 2) && !bad; i++)
        bad = nb_module_add(m, drops[i], nb_dropout_new(dropout));
    if (bad) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_transformer_encoder_layer_new(nb_ctx *ctx, int64_t dim, int heads, int64_t ff, float dropout,
                                            const nb_transformer_opts *opts, nb_rng *rng) {
    return layer_new("transformer_encoder_layer_new", false, ctx, dim, heads, ff, dropout, opts, rng);
}

nb_module *nb_transformer_decoder_layer_new(nb_ctx *ctx, int64_t dim, int heads, int64_t ff, float dropout,
                                            const nb_transformer_opts *opts, nb_rng *rng) {
    return layer_new("transformer_decoder_layer_new", true, ctx, dim, heads, ff, dropout, opts, rng);
}

static nb_tensor *child(nb_module *m, const char *name, nb_tensor *x) {
    return x ? nb_module_forward(nb_module_child(m, name), x) : NULL;
}

/* dropout2(linear2(dropout(act(linear1(x))))) (the decoder's last dropout is dropout3) */
static nb_tensor *feed_forward(nb_module *m, nb_tensor *x) {
    const tf_cfg *c = m->impl;
    nb_tensor *h = child(m, "linear1", x);
    h = h ? (c->o.gelu ? nb_gelu_erf(h) : nb_relu(h)) : NULL;
    return child(m, c->decoder ? "dropout3" : "dropout2", child(m, "linear2", child(m, "dropout", h)));
}

/* dropout_k(attn(q, kv, kv)) */
static nb_tensor *attend(nb_module *m, const char *attn, const char *drop, nb_tensor *q, nb_tensor *kv,
                         nb_tensor *mask, nb_tensor *kpm, bool causal) {
    if (!q || !kv) return NULL;
    return child(m, drop, nb_mha_run(nb_module_child(m, attn), q, kv, kv, mask, kpm, causal, NULL));
}

static bool is_layer(const nb_module *m, bool decoder) {
    return m && m->forward == (decoder ? decoder_fwd : encoder_fwd);
}

nb_tensor *nb_encoder_layer_run(nb_module *m, nb_tensor *src, nb_tensor *mask, nb_tensor *key_padding_mask,
                                bool causal) {
    if (!is_layer(m, false)) return nb_set_error("encoder_layer_run: not a TransformerEncoderLayer");
    if (!src) return nb_last_error()[0] ? NULL : nb_set_error("TransformerEncoderLayer: NULL input");
    const tf_cfg *c = m->impl;
    nb_tensor *x = src;
    if (c->o.norm_first) {
        nb_tensor *n1 = child(m, "norm1", x);
        x = nb_add(x, attend(m, "self_attn", "dropout1", n1, n1, mask, key_padding_mask, causal));
        x = x ? nb_add(x, feed_forward(m, child(m, "norm2", x))) : NULL;
    } else {
        x = child(m, "norm1",
                  nb_add(x, attend(m, "self_attn", "dropout1", x, x, mask, key_padding_mask, causal)));
        x = x ? child(m, "norm2", nb_add(x, feed_forward(m, x))) : NULL;
    }
    return x;
}

nb_tensor *nb_decoder_layer_run(nb_module *m, nb_tensor *tgt, nb_tensor *memory, nb_tensor *tgt_mask,
                                nb_tensor *memory_mask, nb_tensor *tgt_key_padding_mask,
                                nb_tensor *memory_key_padding_mask, bool tgt_causal) {
    if (!is_layer(m, true)) return nb_set_error("decoder_layer_run: not a TransformerDecoderLayer");
    if (!tgt || !memory)
        return nb_last_error()[0] ? NULL : nb_set_error("TransformerDecoderLayer: NULL target or memory");
    const tf_cfg *c = m->impl;
    nb_tensor *x = tgt;
    if (c->o.norm_first) {
        nb_tensor *n1 = child(m, "norm1", x);
        x = nb_add(x, attend(m, "self_attn", "dropout1", n1, n1, tgt_mask, tgt_key_padding_mask, tgt_causal));
        x = x ? nb_add(x, attend(m, "multihead_attn", "dropout2", child(m, "norm2", x), memory, memory_mask,
                                 memory_key_padding_mask, false))
              : NULL;
        x = x ? nb_add(x, feed_forward(m, child(m, "norm3", x))) : NULL;
    } else {
        x = child(
            m, "norm1",
            nb_add(x, attend(m, "self_attn", "dropout1", x, x, tgt_mask, tgt_key_padding_mask, tgt_causal)));
        x = x ? child(m, "norm2",
                      nb_add(x, attend(m, "multihead_attn", "dropout2", x, memory, memory_mask,
                                       memory_key_padding_mask, false)))
              : NULL;
        x = x ? child(m, "norm3", nb_add(x, feed_forward(m, x))) : NULL;
    }
    return x;
}
