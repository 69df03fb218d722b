/* ops_edge.c - runs nabla ops on edge-case inputs (signed zeros, NaN, infinities, FLT_MAX,
 * subnormals, ties, empty and 0-d tensors, bad arguments, large offsets) and records what each
 * gives, for ops_edge_parity.py to check against PyTorch (see README.md in this folder).
 *
 * Usage: ops_edge OUT_DIR [NAME_SUBSTRING]
 *
 * Each case (listed in ops_edge_cases.c) runs in its own child process, so a crash or a hang
 * (30 s) is recorded instead of ending the run. For case i it writes OUT_DIR/NNNN.json (i in 4
 * digits): the op, its parameters and inputs, and then either nabla's error message or the
 * output and, when the output needs a gradient, the gradient of sum(out * w) with respect to
 * every differentiable input (w: N(0,1) values of the output's shape, recorded too). Floats are
 * written as their uint32 bit patterns, so NaN, infinities and signed zeros survive. At the end
 * it writes OUT_DIR/cases.json ({"count": N, "filter": ...}). With NAME_SUBSTRING, only the
 * cases whose name contains it run. Old NNNN.json files in OUT_DIR are removed first; the folder
 * is created if missing. Exit status 0 once every case has run (crashed or not), 1 otherwise. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops_edge.h"

static nb_ctx *CTX;
static int NCASE;
static const char *OUTDIR;
static const char *ONLY;

nb_tensor *oe_f32(int ndim, const int64_t *shape, const float *data) {
    return data ? nb_from_data(CTX, NB_F32, ndim, shape, data) : nb_zeros(CTX, NB_F32, ndim, shape);
}
nb_tensor *oe_i32(int ndim, const int64_t *shape, const int32_t *data) {
    return data ? nb_from_data(CTX, NB_I32, ndim, shape, data) : nb_zeros(CTX, NB_I32, ndim, shape);
}
nb_tensor *oe_randn(int ndim, const int64_t *shape, uint64_t seed) {
    nb_rng r;
    nb_rng_init(&r, seed);
    return nb_randn(CTX, ndim, shape, 0, 1, &r);
}
nb_tensor *oe_scalar(float v) { return nb_scalar(CTX, v); }

static int n_inputs(const oe_case *c) {
    int n = 0;
    while (n < OE_MAXIN && c->in[n])
        n++;
    return n;
}

/* Input i is differentiated: an f32 input not marked constant. */
static bool wants_grad(const oe_case *c, int i) { return !(c->nograd >> i & 1) && c->in[i]->dtype == NB_F32; }

/* The op table. Parameters: reductions ip[0] keepdim, ip[1] correction, ip[2] number of axes,
 * ip[3..] the axes; split ip[0] dim, ip[1] pieces, ip[2..] sizes (each piece i is scaled by
 * i + 1, then they are concatenated again); layer_norm ip[0]/ip[1] has weight/bias, fp[0] eps;
 * linear_cross_entropy ip[0] ignore index, ip[1] has bias; the others read ip[0] and fp[0..1]. */
/* An RNN / LSTM / GRU module over in[0] whose parameters are views of the flat in[1] (in torch's
 * order), from the states h0 and c0 when given (in[2], in[3]; after the lengths with ip[6]); ip:
 * kind (0 tanh, 1 relu, 2 LSTM, 3 GRU), layers, bidirectional, batch_first, bias, hidden, lengths
 * given (in[2], i32 [N]: nb_rnn_run_lengths), LSTM's proj_size. The outputs, h_n and c_n,
 * flattened and side by side. */
static nb_tensor *rnn_seq(oe_case *c) {
    const int *ip = c->ip, kind = ip[0];
    nb_tensor **in = c->in;
    const nb_rnn_opts o = {.num_layers = ip[1],
                           .bidirectional = ip[2] != 0,
                           .batch_first = ip[3] != 0,
                           .no_bias = !ip[4],
                           .relu = kind == 1,
                           .proj_size = ip[7]};
    const int64_t I = in[0]->shape[2];
    nb_module *m = kind == 2   ? nb_lstm_new(CTX, I, ip[5], &o, NULL)
                   : kind == 3 ? nb_gru_new(CTX, I, ip[5], &o, NULL)
                               : nb_rnn_new(CTX, I, ip[5], &o, NULL);
    if (!m) return NULL;
    int64_t at = 0;
    for (int i = 0; i < m->n_params; i++) { /* the harness's views stand in for the parameters */
        nb_tensor *t = m->params[i].t;
        const int64_t n = nb_numel(t);
        if (at + n > nb_numel(in[1])) return nb_module_free(m), nb_set_error("rnn_seq: too few parameters");
        m->params[i].t = nb_reshape(nb_narrow(in[1], 0, at, n), t->ndim, t->shape);
        at += n;
    }
    nb_tensor *hn = NULL, *cn = NULL, *len = ip[6] ? in[2] : NULL, *h0 = in[ip[6] ? 3 : 2];
    nb_tensor *y =
        nb_rnn_run_lengths(m, in[0], len, h0, kind == 2 && h0 ? in[ip[6] ? 4 : 3] : NULL, &hn, &cn);
    nb_module_free(m);
    if (!y) return NULL;
    nb_tensor *parts[3] = {nb_reshape(y, NB_SHAPE(-1)), nb_reshape(hn, NB_SHAPE(-1)),
                           cn ? nb_reshape(cn, NB_SHAPE(-1)) : NULL};
    return nb_cat(parts, cn ? 3 : 2, 0);
}

/* Replaces m's parameters, depth first in torch's order, by views of flat from *at. 0 or -1. */
static int take_params(nb_module *m, nb_tensor *flat, int64_t *at) {
    for (int i = 0; i < m->n_params; i++) {
        nb_tensor *t = m->params[i].t;
        if (*at + nb_numel(t) > nb_numel(flat)) return nb_set_error("take_params: too few parameters"), -1;
        m->params[i].t = nb_reshape(nb_narrow(flat, 0, *at, nb_numel(t)), t->ndim, t->shape);
        *at += nb_numel(t);
    }
    for (int i = 0; i < m->n_children; i++)
        if (take_params(m->children[i], flat, at)) return -1;
    return 0;
}

/* MultiheadAttention over in[0..2] with parameters from the flat in[3] in torch's order; ip:
 * heads, batch_first, causal, has attn_mask (in[4]), has key_padding_mask (next), bias, kdim,
 * vdim, add_bias_kv, add_zero_attn, per-head weights. The output and the weights (head-averaged
 * unless per head), flattened, side by side. */
static nb_tensor *mha(oe_case *c) {
    const int *ip = c->ip;
    nb_tensor **in = c->in;
    const int64_t E = in[0]->shape[2];
    const nb_mha_opts o = {.kdim = ip[6],
                           .vdim = ip[7],
                           .add_bias_kv = ip[8] != 0,
                           .add_zero_attn = ip[9] != 0,
                           .per_head_weights = ip[10] != 0};
    nb_module *m = nb_multihead_attention_new_ex(CTX, E, ip[0], 0.0f, ip[5] != 0, ip[1] != 0, &o, NULL);
    int64_t at = 0;
    if (!m || take_params(m, in[3], &at)) return m ? (nb_module_free(m), NULL) : NULL;
    nb_tensor *w = NULL;
    nb_tensor *y = nb_mha_run(m, in[0], in[1], in[2], ip[3] ? in[4] : NULL, ip[4] ? in[ip[3] ? 5 : 4] : NULL,
                              ip[2] != 0, &w);
    nb_module_free(m);
    return y ? nb_cat((nb_tensor *[]){nb_reshape(y, NB_SHAPE(-1)), nb_reshape(w, NB_SHAPE(-1))}, 2, 0) : NULL;
}

/* A TransformerEncoderLayer over in[0] (ip[0] 0), or a TransformerDecoderLayer over in[0] and the
 * memory in[1] (ip[0] 1), with parameters from the flat in[1 + decoder]; ip: decoder, heads,
 * dim_feedforward, norm_first, gelu, batch_first, causal (the target's), a key padding mask
 * (encoder: the source's; decoder: the memory's) as the last input. */
static nb_tensor *transformer_layer(oe_case *c) {
    const int *ip = c->ip, dec = ip[0];
    nb_tensor **in = c->in;
    const nb_transformer_opts o = {.norm_first = ip[3] != 0, .gelu = ip[4] != 0, .batch_first = ip[5] != 0};
    nb_module *m = (dec ? nb_transformer_decoder_layer_new : nb_transformer_encoder_layer_new)(
        CTX, in[0]->shape[2], ip[1], ip[2], 0.0f, &o, NULL);
    int64_t at = 0;
    if (!m || take_params(m, in[1 + dec], &at)) return m ? (nb_module_free(m), NULL) : NULL;
    nb_tensor *kpm = ip[7] ? in[2 + dec] : NULL;
    nb_tensor *y = dec ? nb_decoder_layer_run(m, in[0], in[1], NULL, NULL, NULL, kpm, ip[6] != 0)
                       : nb_encoder_layer_run(m, in[0], NULL, kpm, ip[6] != 0);
    nb_module_free(m);
    return y;
}

#define IS(name) (strcmp(c->op, name) == 0)
static nb_tensor *apply(oe_case *c) {
    nb_tensor **in = c->in;
    const int *ip = c->ip;
    const float *fp = c->fp;
    static const struct {
        const char *name;
        nb_tensor *(*fn)(nb_tensor *);
    } un[] = {{"neg", nb_neg},
              {"exp", nb_exp},
              {"log", nb_log},
              {"sqrt", nb_sqrt},
              {"rsqrt", nb_rsqrt},
              {"tanh", nb_tanh},
              {"sigmoid", nb_sigmoid},
              {"relu", nb_relu},
              {"gelu", nb_gelu},
              {"abs", nb_abs},
              {"sin", nb_sin},
              {"cos", nb_cos},
              {"log1p", nb_log1p},
              {"expm1", nb_expm1},
              {"erf", nb_erf},
              {"gelu_erf", nb_gelu_erf},
              {"silu", nb_silu},
              {"softplus", nb_softplus},
              {"sign", nb_sign},
              {"floor", nb_floor},
              {"ceil", nb_ceil},
              {"round", nb_round},
              {"trunc", nb_trunc},
              {"selu", nb_selu},
              {"relu6", nb_relu6},
              {"hardsigmoid", nb_hardsigmoid},
              {"hardswish", nb_hardswish},
              {"mish", nb_mish},
              {"softsign", nb_softsign},
              {"tan", nb_tan},
              {"asin", nb_asin},
              {"acos", nb_acos},
              {"atan", nb_atan},
              {"sinh", nb_sinh},
              {"cosh", nb_cosh},
              {"asinh", nb_asinh},
              {"acosh", nb_acosh},
              {"atanh", nb_atanh},
              {"log2", nb_log2},
              {"log10", nb_log10},
              {"exp2", nb_exp2},
              {"reciprocal", nb_reciprocal},
              {"square", nb_square}};
    static const struct {
        const char *name;
        nb_tensor *(*fn)(nb_tensor *, float);
    } sc[] = {{"add_scalar", nb_add_scalar},         {"sub_scalar", nb_sub_scalar},
              {"mul_scalar", nb_mul_scalar},         {"div_scalar", nb_div_scalar},
              {"pow_scalar", nb_pow_scalar},         {"maximum_scalar", nb_maximum_scalar},
              {"minimum_scalar", nb_minimum_scalar}, {"rsub_scalar", nb_rsub_scalar},
              {"leaky_relu", nb_leaky_relu}};
    static const struct {
        const char *name;
        nb_tensor *(*fn)(nb_tensor *, nb_tensor *);
    } bin[] = {{"add", nb_add},         {"sub", nb_sub},       {"mul", nb_mul},
               {"div", nb_div},         {"pow", nb_pow},       {"maximum", nb_maximum},
               {"minimum", nb_minimum}, {"eq", nb_eq},         {"ne", nb_ne},
               {"lt", nb_lt},           {"le", nb_le},         {"gt", nb_gt},
               {"ge", nb_ge},           {"matmul", nb_matmul}, {"embedding", nb_embedding},
               {"atan2", nb_atan2},     {"fmod", nb_fmod},     {"remainder", nb_remainder}};
    for (int i = 0; i < COUNT(un); i++)
        if (IS(un[i].name)) return un[i].fn(in[0]);
    for (int i = 0; i < COUNT(sc); i++)
        if (IS(sc[i].name)) return sc[i].fn(in[0], fp[0]);
    for (int i = 0; i < COUNT(bin); i++)
        if (IS(bin[i].name)) return bin[i].fn(in[0], in[1]);
    if (IS("clamp")) return nb_clamp(in[0], fp[0], fp[1]);
    if (IS("where")) return nb_where(in[0], in[1], in[2]);
    if (IS("masked_fill")) return nb_masked_fill(in[0], in[1], fp[0]);
    if (IS("sum")) return nb_sum(in[0], ip[2], ip + 3, ip[0]);
    if (IS("mean")) return nb_mean(in[0], ip[2], ip + 3, ip[0]);
    if (IS("max")) return nb_max(in[0], ip[2], ip + 3, ip[0]);
    if (IS("min")) return nb_min(in[0], ip[2], ip + 3, ip[0]);
    if (IS("prod")) return nb_prod(in[0], ip[2], ip + 3, ip[0]);
    if (IS("einsum")) {
        int n = 0;
        while (n < OE_MAXIN && in[n])
            n++;
        return nb_einsum(ip[0] >= 0 && ip[0] < OE_NEINSUM ? oe_einsum_eqs[ip[0]] : NULL, n, in);
    }
    if (IS("var")) return nb_var(in[0], ip[2], ip + 3, ip[1], ip[0]);
    if (IS("std")) return nb_std(in[0], ip[2], ip + 3, ip[1], ip[0]);
    if (IS("logsumexp")) return nb_logsumexp(in[0], ip[2], ip + 3, ip[0]);
    if (IS("argmax")) return nb_argmax(in[0], ip[0], ip[1]);
    if (IS("argmin")) return nb_argmin(in[0], ip[0], ip[1]);
    if (IS("argsort")) return nb_argsort(in[0], ip[0], ip[1]);
    if (IS("one_hot")) return nb_one_hot(in[0], ip[0]);
    if (IS("group_norm"))
        return nb_group_norm(in[0], ip[0], ip[1] ? in[1] : NULL, ip[1] ? in[2] : NULL, fp[0]);
    if (IS("adaptive_avg_pool2d")) return nb_adaptive_avg_pool2d(in[0], ip[0], ip[1]);
    if (IS("batch_norm")) /* ip[0] training, ip[1] has running stats, ip[2] has weight and bias */
        return nb_batch_norm(in[0], ip[1] ? in[1] : NULL, ip[1] ? in[2] : NULL, ip[2] ? in[3] : NULL,
                             ip[2] ? in[4] : NULL, ip[0], fp[0], fp[1]);
    if (IS("sort")) return nb_sort(in[0], ip[0], ip[1], NULL);
    if (IS("topk") || IS("topk_idx")) { /* ip: k, dim, largest */
        nb_tensor *idx = NULL, *v = nb_topk(in[0], ip[0], ip[1], ip[2], &idx);
        return IS("topk") ? v : idx;
    }
    if (IS("kthvalue") || IS("kthvalue_idx")) { /* ip: k, dim, keepdim */
        nb_tensor *idx = NULL, *v = nb_kthvalue(in[0], ip[0], ip[1], ip[2], &idx);
        return IS("kthvalue") ? v : idx;
    }
    if (IS("median") || IS("median_idx")) { /* ip: dim, keepdim */
        nb_tensor *idx = NULL, *v = nb_median(in[0], ip[0], ip[1], &idx);
        return IS("median") ? v : idx;
    }
    if (IS("quantile")) /* fp[0] q; ip: dim, keepdim, interpolation */
        return nb_quantile(in[0], fp[0], ip[0], ip[1], (nb_quantile_interp)ip[2]);
    if (IS("sum_all")) return nb_sum_all(in[0]);
    if (IS("mean_all")) return nb_mean_all(in[0]);
    if (IS("linear")) return nb_linear(in[0], in[1], in[2]);
    if (IS("cat")) return nb_cat(in, n_inputs(c), ip[0]);
    if (IS("split")) {
        nb_tensor *out[OE_MAXIN];
        int64_t sz[OE_MAXIN];
        for (int i = 0; i < ip[1]; i++)
            sz[i] = ip[2 + i];
        if (nb_split(in[0], ip[0], ip[1], sz, out)) return NULL;
        for (int i = 0; i < ip[1]; i++)
            out[i] = nb_mul_scalar(out[i], (float)(i + 1));
        return nb_cat(out, ip[1], ip[0]);
    }
    if (IS("index_select")) return nb_index_select(in[0], ip[0], in[1]);
    if (IS("gather")) return nb_gather(in[0], ip[0], in[1]);
    if (IS("index_add")) return nb_index_add(in[0], ip[0], in[1], in[2], fp[0]);
    if (IS("scatter_add")) return nb_scatter_add(in[0], ip[0], in[1], in[2]);
    if (IS("tril")) return nb_tril(in[0], ip[0]);
    if (IS("softmax")) return nb_softmax(in[0], ip[0]);
    if (IS("log_softmax")) return nb_log_softmax(in[0], ip[0]);
    if (IS("layer_norm"))
        return nb_layer_norm(in[0], ip[0] ? in[1] : NULL, ip[1] ? in[1 + ip[0]] : NULL, fp[0]);
    if (IS("cross_entropy")) return nb_cross_entropy(in[0], in[1], ip[0]);
    if (IS("cross_entropy_smooth"))
        return nb_cross_entropy_smooth(in[0], in[1], ip[0], fp[0], (nb_reduction)ip[7]);
    if (IS("cumsum")) return nb_cumsum(in[0], ip[0]);
    if (IS("cumprod")) return nb_cumprod(in[0], ip[0]);
    if (IS("conv2d") || IS("conv1d") || IS("max_pool2d") || IS("avg_pool2d") || IS("unfold") || IS("fold") ||
        IS("conv_transpose2d") || IS("conv_transpose1d")) {
        /* ip: stride h w, padding h w, dilation h w, groups, has bias (conv) or kernel h w (pools),
         * output padding h w (fold: the output size), same, pad_mode, ceil_mode, exclude_pad */
        nb_conv_opts o = {{ip[0], ip[1]}, {ip[2], ip[3]},      {ip[4], ip[5]}, ip[6],      {ip[9], ip[10]},
                          ip[11] != 0,    (nb_pad_kind)ip[12], ip[13] != 0,    ip[14] != 0};
        if (IS("conv2d")) return nb_conv2d(in[0], in[1], ip[7] ? in[2] : NULL, &o);
        if (IS("conv1d")) return nb_conv1d(in[0], in[1], ip[7] ? in[2] : NULL, &o);
        if (IS("conv_transpose2d")) return nb_conv_transpose2d(in[0], in[1], ip[7] ? in[2] : NULL, &o);
        if (IS("conv_transpose1d")) return nb_conv_transpose1d(in[0], in[1], ip[7] ? in[2] : NULL, &o);
        const int k[2] = {ip[7], ip[8]};
        if (IS("unfold")) return nb_unfold(in[0], k, &o);
        if (IS("fold")) {
            o.output_padding[0] = o.output_padding[1] = 0;
            return nb_fold(in[0], (const int64_t[]){ip[9], ip[10]}, k, &o);
        }
        return IS("max_pool2d") ? nb_max_pool2d(in[0], k, &o) : nb_avg_pool2d(in[0], k, &o);
    }
    if (IS("flip")) return nb_flip(in[0], ip[0], ip + 1);
    if (IS("roll")) return nb_roll(in[0], ip[0], ip[1]);
    if (IS("repeat")) {
        int64_t r[NB_MAX_DIMS];
        for (int i = 0; i < ip[0] && i < NB_MAX_DIMS; i++)
            r[i] = ip[1 + i];
        return nb_repeat(in[0], ip[0], r);
    }
    if (IS("pad")) {
        int64_t p[2 * NB_MAX_DIMS];
        for (int i = 0; i < ip[0] && i < 2 * NB_MAX_DIMS; i++)
            p[i] = ip[1 + i];
        return nb_pad(in[0], ip[0], p, fp[0]);
    }
    if (IS("pad_mode")) { /* ip: the mode, the count, the sizes */
        int64_t p[2 * NB_MAX_DIMS];
        for (int i = 0; i < ip[1] && i < 2 * NB_MAX_DIMS; i++)
            p[i] = ip[2 + i];
        return nb_pad_mode(in[0], ip[1], p, (nb_pad_kind)ip[0]);
    }
    if (IS("elu")) return nb_elu(in[0], fp[0]);
    if (IS("pixel_shuffle")) return nb_pixel_shuffle(in[0], ip[0]);
    if (IS("max_pool1d") || IS("avg_pool1d")) { /* ip: window, stride, padding, dilation, ceil, exclude_pad */
        const nb_conv_opts o = {.stride = {ip[1]},
                                .padding = {ip[2]},
                                .dilation = {ip[3]},
                                .ceil_mode = ip[4] != 0,
                                .exclude_pad = ip[5] != 0};
        return IS("max_pool1d") ? nb_max_pool1d(in[0], ip[0], &o) : nb_avg_pool1d(in[0], ip[0], &o);
    }
    if (IS("adaptive_avg_pool1d")) return nb_adaptive_avg_pool1d(in[0], ip[0]);
    if (IS("pixel_unshuffle")) return nb_pixel_unshuffle(in[0], ip[0]);
    if (IS("hardtanh")) return nb_hardtanh(in[0], fp[0], fp[1]);
    if (IS("prelu")) return nb_prelu(in[0], in[1]);
    if (IS("lstm_cell")) { /* the new h and c side by side */
        nb_tensor *c2 = NULL, *h2 = nb_lstm_cell(in[0], in[1], in[2], in[3], in[4], in[5], in[6], &c2);
        return h2 ? nb_cat((nb_tensor *[]){h2, c2}, 2, -1) : NULL;
    }
    if (IS("gru_cell")) return nb_gru_cell(in[0], in[1], in[2], in[3], in[4], in[5]);
    if (IS("rnn_cell")) return nb_rnn_cell(in[0], in[1], in[2], in[3], in[4], in[5], ip[0] != 0);
    if (IS("rnn_seq")) return rnn_seq(c);
    if (IS("sdpa")) { /* ip: causal, has mask (in[3]), return the probabilities too; fp: scale */
        const nb_sdpa_opts o = {.mask = ip[1] ? in[3] : NULL, .causal = ip[0] != 0, .scale = fp[0]};
        nb_tensor *p = NULL, *y = nb_scaled_dot_product_attention(in[0], in[1], in[2], &o, ip[2] ? &p : NULL);
        return y && ip[2]
                   ? nb_cat((nb_tensor *[]){nb_reshape(y, NB_SHAPE(-1)), nb_reshape(p, NB_SHAPE(-1))}, 2, 0)
                   : y;
    }
    if (IS("mha")) return mha(c);
    if (IS("encoder_layer") || IS("decoder_layer")) return transformer_layer(c);
    if (IS("interpolate")) /* ip: the mode, align_corners, the sizes */
        return nb_interpolate(in[0], (const int64_t[]){ip[2], ip[3]}, (nb_interp_mode)ip[0], ip[1] != 0);
    if (IS("nll_loss_weighted")) return nb_nll_loss_weighted(in[0], in[1], in[2], ip[0], (nb_reduction)ip[7]);
    if (IS("cross_entropy_weighted"))
        return nb_cross_entropy_weighted(in[0], in[1], in[2], ip[0], fp[0], (nb_reduction)ip[7]);
    if (IS("bce_with_logits_weighted")) /* ip[1], ip[2]: weight, pos_weight given (in[2], then in[3]) */
        return nb_bce_with_logits_weighted(in[0], in[1], ip[1] ? in[2] : NULL,
                                           ip[2] ? in[ip[1] ? 3 : 2] : NULL, (nb_reduction)ip[7]);
    if (IS("mse_loss")) return nb_mse_loss(in[0], in[1], (nb_reduction)ip[7]);
    if (IS("l1_loss")) return nb_l1_loss(in[0], in[1], (nb_reduction)ip[7]);
    if (IS("huber_loss")) return nb_huber_loss(in[0], in[1], fp[0], (nb_reduction)ip[7]);
    if (IS("bce_with_logits")) return nb_bce_with_logits(in[0], in[1], (nb_reduction)ip[7]);
    if (IS("norm")) return nb_norm(in[0], fp[0], ip[2], ip + 3, ip[0] != 0);
    if (IS("normalize")) return nb_normalize(in[0], fp[0], ip[0], fp[1]);
    if (IS("cosine_similarity")) return nb_cosine_similarity(in[0], in[1], ip[0], fp[0]);
    if (IS("rms_norm")) return nb_rms_norm(in[0], ip[0] ? in[1] : NULL, fp[0]);
    if (IS("instance_norm"))
        return nb_instance_norm(in[0], ip[0] ? in[1] : NULL, ip[0] ? in[2] : NULL, fp[0]);
    if (IS("kl_div")) return nb_kl_div(in[0], in[1], (nb_reduction)ip[7], ip[0] != 0);
    if (IS("bce")) return nb_bce(in[0], in[1], ip[1] ? in[2] : NULL, (nb_reduction)ip[7]);
    if (IS("log_sigmoid")) return nb_log_sigmoid(in[0]);
    if (IS("pairwise_distance")) return nb_pairwise_distance(in[0], in[1], fp[0], fp[1], false);
    if (IS("triplet_margin_loss"))
        return nb_triplet_margin_loss(in[0], in[1], in[2], fp[2], fp[0], fp[1], ip[0] != 0,
                                      (nb_reduction)ip[7]);
    if (IS("margin_ranking_loss"))
        return nb_margin_ranking_loss(in[0], in[1], in[2], fp[2], (nb_reduction)ip[7]);
    if (IS("cosine_embedding_loss"))
        return nb_cosine_embedding_loss(in[0], in[1], in[2], fp[2], (nb_reduction)ip[7]);
    if (IS("glu")) return nb_glu(in[0], ip[0]);
    if (IS("triu")) return nb_triu(in[0], ip[0]);
    if (IS("nll_loss")) return nb_nll_loss(in[0], in[1], ip[0], (nb_reduction)ip[7]);
    if (IS("linear_cross_entropy"))
        return nb_linear_cross_entropy(in[0], in[1], ip[1] ? in[2] : NULL, in[ip[1] ? 3 : 2], ip[0]);
    if (IS("dropout")) {
        nb_rng r;
        nb_rng_init(&r, 1234);
        return nb_dropout(in[0], fp[0], ip[0], &r);
    }
    if (IS("attention")) return nb_attention(in[0], in[1], in[2]);
    if (IS("attention_qkv")) return nb_attention_qkv(in[0], ip[0]);
    if (IS("cast")) return nb_cast(in[0], (nb_dtype)ip[0]);
    bool known = false;
    nb_tensor *special = oe_special_apply(c, &known);
    if (known) return special;
    nb_tensor *linalg = oe_linalg_apply(c, &known);
    if (known) return linalg;
    return nb_set_error("ops_edge: unknown op %s", c->op);
}

static json_t *bits_json(uint32_t u) { return json_integer((json_int_t)u); }

/* {"shape": [...], "dtype": "f32"|"i32"|"f16"|"bf16", "bits": [...]}: f32 values as uint32 bits,
 * i32 values as integers (f16/bf16 are read back as f32). */
static json_t *tensor_json(const nb_tensor *t) {
    if (!t) return json_null();
    json_t *o = json_object(), *sh = json_array(), *b = json_array();
    for (int i = 0; i < t->ndim; i++)
        json_array_append_new(sh, json_integer(t->shape[i]));
    json_object_set_new(o, "shape", sh);
    int64_t n = nb_numel(t);
    void *d = malloc(4 * (size_t)(n ? n : 1));
    bool i32 = t->dtype == NB_I32;
    if (!d || nb_to_array(t, i32 ? NB_I32 : NB_F32, d)) {
        json_object_set_new(o, "to_array_error", json_string(d ? nb_last_error() : "out of memory"));
        n = 0;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, (char *)d + 4 * i, 4);
        json_array_append_new(b, i32 ? json_integer(((int32_t *)d)[i]) : bits_json(u));
    }
    free(d);
    json_object_set_new(o, "dtype", json_string(nb_dtype_name(t->dtype)));
    json_object_set_new(o, "bits", b);
    return o;
}

/* The case as given: name, op, parameters, inputs; "alias"[i] is the index of an earlier input
 * that is the very same tensor (cat(a, a)), or -1. */
static json_t *case_json(const oe_case *c, const char *name, int idx) {
    json_t *o = json_object(), *ins = json_array(), *rg = json_array(), *alias = json_array();
    json_t *ipj = json_array(), *fpj = json_array();
    json_object_set_new(o, "index", json_integer(idx));
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "op", json_string(c->op));
    for (int i = 0; i < n_inputs(c); i++) {
        int a = -1;
        for (int j = 0; j < i && a < 0; j++)
            if (c->in[j] == c->in[i]) a = j;
        json_array_append_new(ins, tensor_json(c->in[i]));
        json_array_append_new(rg, json_boolean(wants_grad(c, i)));
        json_array_append_new(alias, json_integer(a));
    }
    for (int i = 0; i < OE_NIP; i++)
        json_array_append_new(ipj, json_integer(c->ip[i]));
    for (int i = 0; i < OE_NFP; i++) {
        uint32_t u;
        memcpy(&u, c->fp + i, 4);
        json_array_append_new(fpj, bits_json(u));
    }
    json_object_set_new(o, "inputs", ins);
    json_object_set_new(o, "rg", rg);
    json_object_set_new(o, "alias", alias);
    json_object_set_new(o, "ip", ipj);
    json_object_set_new(o, "fp", fpj);
    return o;
}

/* The seed of a case's gradient weights w: FNV-1a of its name, so that adding or removing a
 * case leaves every other case's w unchanged. */
static uint64_t name_seed(const char *name) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static void child(oe_case *c, const char *name, int idx, const char *path) {
    alarm(30);
    nb_ctx_use(CTX);
    for (int i = 0; i < n_inputs(c); i++)
        if (wants_grad(c, i)) nb_requires_grad_(c->in[i], true);
    json_t *o = case_json(c, name, idx);
    nb_clear_error();
    nb_tensor *out = apply(c);
    if (!out) {
        json_object_set_new(o, "error", json_string(nb_last_error()));
    } else {
        json_object_set_new(o, "out", tensor_json(out));
        if (out->dtype == NB_F32 && out->requires_grad) {
            nb_tensor *w = oe_randn(out->ndim, out->shape, name_seed(name));
            json_object_set_new(o, "w", tensor_json(w));
            nb_tensor *loss = nb_sum_all(nb_mul(out, w));
            if (!loss || nb_backward(loss)) {
                json_object_set_new(o, "backward_error", json_string(nb_last_error()));
            } else {
                json_t *g = json_array();
                for (int i = 0; i < n_inputs(c); i++)
                    json_array_append_new(g, wants_grad(c, i) ? tensor_json(c->in[i]->grad) : json_null());
                json_object_set_new(o, "grads", g);
            }
        }
    }
    int rc = json_dump_file(o, path, JSON_COMPACT) ? 1 : 0;
    fflush(NULL);
    _exit(rc);
}

void oe_run(oe_case c, const char *fmt, ...) {
    char name[200], path[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int idx = NCASE++;
    if (ONLY && !strstr(name, ONLY)) return;
    snprintf(path, sizeof path, "%s/%04d.json", OUTDIR, idx);
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) {
        perror("ops_edge: fork");
        exit(1);
    }
    if (p == 0) child(&c, name, idx, path);
    int st = 0;
    waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return;
    char msg[64];
    if (WIFSIGNALED(st))
        snprintf(msg, sizeof msg, "signal %d", WTERMSIG(st));
    else
        snprintf(msg, sizeof msg, "exit %d", WEXITSTATUS(st));
    json_t *o = case_json(&c, name, idx);
    json_object_set_new(o, "crash", json_string(msg));
    json_dump_file(o, path, JSON_COMPACT);
    json_decref(o);
    fprintf(stderr, "ops_edge: case %d %s: %s\n", idx, name, msg);
}

/* Creates OUT_DIR if missing and removes the NNNN.json files of an earlier run. */
static int prepare_outdir(const char *dir) {
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "ops_edge: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "ops_edge: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (strlen(s) == 9 && strspn(s, "0123456789") == 4 && strcmp(s + 4, ".json") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, s);
            unlink(path);
        }
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s OUT_DIR [NAME_SUBSTRING]\n", argv[0]);
        return 1;
    }
    OUTDIR = argv[1];
    ONLY = argc > 2 ? argv[2] : NULL;
    if (prepare_outdir(OUTDIR)) return 1;
    nb_set_num_threads(2);
    CTX = nb_ctx_new(0);
    if (!CTX) return fprintf(stderr, "ops_edge: no context\n"), 1;
    nb_ctx_use(CTX);
    oe_unary_cases();
    oe_binary_cases();
    oe_reduce_cases();
    oe_nn_cases();
    oe_index_cases();
    oe_offset_cases();
    oe_newer_cases();
    oe_layer_cases();
    oe_more_cases();
    oe_special_cases();
    oe_linalg_cases();
    json_t *o = json_pack("{s:i, s:s?}", "count", NCASE, "filter", ONLY);
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.json", OUTDIR);
    int rc = json_dump_file(o, path, 0);
    json_decref(o);
    fprintf(stderr, "ops_edge: %d cases written to %s\n", NCASE, OUTDIR);
    return rc ? 1 : 0;
}
