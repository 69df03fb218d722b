/* General attention: nb_scaled_dot_product_attention against its definition in double (masks,
 * causal, queries and keys of different lengths), the fused path, gradients; and
 * MultiheadAttention (nn/mha.c) against the same definition per head, its masks' meaning
 * (padded or future keys change nothing), layouts, torch's names, gradients and errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 24);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 51);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static nb_tensor *rn(int ndim, const int64_t *shape) { return nb_randn(ctx, ndim, shape, 0, 1, &rng); }
static float F(const nb_tensor *t, int64_t i) { return nb_data_f32(nb_contiguous((nb_tensor *)t))[i]; }

/* attention of one head in double: q [Tq,D], k [Tk,D], v [Tk,Dv] at the given offsets (rows of
 * a contiguous tensor), mask [Tq,Tk] or NULL, into out [Tq,Dv] and p [Tq,Tk] */
static void attend(const float *q, const float *k, const float *v, const float *mask, bool causal,
                   double scale, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, double *out, double *p) {
    for (int64_t i = 0; i < Tq; i++) {
        double mx = -INFINITY, sum = 0, s[64];
        for (int64_t j = 0; j < Tk; j++) {
            double d = 0;
            for (int64_t e = 0; e < D; e++)
                d += (double)q[i * D + e] * k[j * D + e];
            s[j] = d * scale + (mask ? mask[i * Tk + j] : 0) + (causal && j > i ? -INFINITY : 0);
            mx = fmax(mx, s[j]);
        }
        for (int64_t j = 0; j < Tk; j++)
            sum += (s[j] = exp(s[j] - mx));
        for (int64_t e = 0; e < Dv; e++)
            out[i * Dv + e] = 0;
        for (int64_t j = 0; j < Tk; j++) {
            p[i * Tk + j] = s[j] / sum;
            for (int64_t e = 0; e < Dv; e++)
                out[i * Dv + e] += p[i * Tk + j] * v[j * Dv + e];
        }
    }
}

START_TEST(sdpa_against_definition) {
    const bool causal = _i & 1, masked = _i & 2;
    const int64_t B = 2, Tq = 5, Tk = 7, D = 4, Dv = 3;
    nb_tensor *q = rn(NB_SHAPE(B, Tq, D)), *k = rn(NB_SHAPE(B, Tk, D)), *v = rn(NB_SHAPE(B, Tk, Dv));
    nb_tensor *mask = rn(NB_SHAPE(Tq, Tk));
    nb_data_f32(mask)[3] = -INFINITY; /* a dropped key */
    nb_tensor *p = NULL;
    const nb_sdpa_opts o = {.mask = masked ? mask : NULL, .causal = causal, .scale = 0.3f};
    nb_tensor *y = nb_scaled_dot_product_attention(q, k, v, &o, &p);
    ck_assert_msg(y && p && y->shape[1] == Tq && y->shape[2] == Dv && p->shape[2] == Tk, "%s",
                  nb_last_error());
    double out[5 * 3], pr[5 * 7];
    for (int64_t b = 0; b < B; b++) {
        attend(nb_data_f32(q) + b * Tq * D, nb_data_f32(k) + b * Tk * D, nb_data_f32(v) + b * Tk * Dv,
               masked ? nb_data_f32(mask) : NULL, causal, 0.3, Tq, Tk, D, Dv, out, pr);
        for (int64_t i = 0; i < Tq * Dv; i++)
            ck_assert_msg(fabs(F(y, b * Tq * Dv + i) - out[i]) < 1e-5, "out %lld: %g, want %g", (long long)i,
                          (double)F(y, b * Tq * Dv + i), out[i]);
        for (int64_t i = 0; i < Tq * Tk; i++)
            ck_assert(fabs(F(p, b * Tq * Tk + i) - pr[i]) < 1e-6);
    }
    if (masked) ck_assert(F(p, 3) == 0); /* -inf in the mask: probability 0 */
}
END_TEST

/* the fused causal kernel and the composed path agree; broadcast leading dims */
START_TEST(sdpa_fused_and_broadcast) {
    nb_tensor *q = rn(NB_SHAPE(2, 3, 6, 8)), *k = rn(NB_SHAPE(2, 3, 6, 8)), *v = rn(NB_SHAPE(2, 3, 6, 8)), *p;
    nb_tensor *fused = nb_scaled_dot_product_attention(q, k, v, &(nb_sdpa_opts){.causal = true}, NULL);
    nb_tensor *comp = nb_scaled_dot_product_attention(q, k, v, &(nb_sdpa_opts){.causal = true}, &p);
    NB_ASSERT_CLOSE(fused, comp, 1e-5, "fused vs composed");
    /* one key/value set for every head: [2,1,T,D] broadcasts against [2,3,T,D] */
    nb_tensor *k1 = nb_narrow(k, 1, 0, 1), *v1 = nb_narrow(v, 1, 0, 1);
    nb_tensor *bc = nb_scaled_dot_product_attention(q, k1, v1, NULL, NULL);
    nb_tensor *ex = nb_scaled_dot_product_attention(q, nb_expand(k1, 4, k->shape), nb_expand(v1, 4, v->shape),
                                                    NULL, NULL);
    NB_ASSERT_CLOSE(bc, ex, 1e-6, "broadcast");
}
END_TEST

static nb_tensor *gc_sdpa(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_scaled_dot_product_attention(in[0], in[1], in[2],
                                           &(nb_sdpa_opts){.mask = in[3], .causal = true}, NULL);
}

START_TEST(sdpa_gradients) {
    nb_tensor *in[4] = {rn(NB_SHAPE(2, 4, 3)), rn(NB_SHAPE(2, 5, 3)), rn(NB_SHAPE(2, 5, 2)),
                        rn(NB_SHAPE(4, 5))};
    for (int i = 0; i < 4; i++)
        nb_requires_grad_(in[i], true);
    ck_assert_msg(nb_gradcheck(gc_sdpa, in, 4, NULL, NULL) == 1, "%s", nb_last_error());
}
END_TEST

START_TEST(sdpa_errors) {
    nb_tensor *q = rn(NB_SHAPE(2, 4, 3)), *k = rn(NB_SHAPE(2, 5, 3)), *v = rn(NB_SHAPE(2, 5, 2));
    ck_assert_ptr_null(nb_scaled_dot_product_attention(q, rn(NB_SHAPE(2, 5, 4)), v, NULL, NULL));
    ERR_STARTS("scaled_dot_product_attention: want query [..., Tq, D], key [..., Tk, D] and value [..., Tk, "
               "Dv], got "
               "[2,4,3], [2,5,4] and [2,5,2]");
    ck_assert_ptr_null(nb_scaled_dot_product_attention(q, k, rn(NB_SHAPE(2, 4, 2)), NULL, NULL));
    ERR_STARTS("scaled_dot_product_attention: want query");
    ck_assert_ptr_null(
        nb_scaled_dot_product_attention(q, k, v, &(nb_sdpa_opts){.mask = rn(NB_SHAPE(3, 5))}, NULL));
    ERR_STARTS("scaled_dot_product_attention:");
    ck_assert_ptr_null(
        nb_scaled_dot_product_attention(q, k, v, &(nb_sdpa_opts){.mask = rn(NB_SHAPE(4, 2, 4, 5))}, NULL));
    ERR_STARTS("scaled_dot_product_attention: mask [4,2,4,5] does not broadcast to the scores [2,4,5]");
    ck_assert_ptr_null(nb_scaled_dot_product_attention(q, k, v, &(nb_sdpa_opts){.dropout = 1.0f}, NULL));
    ERR_STARTS("scaled_dot_product_attention: dropout 1 must be in [0, 1)");
    ck_assert_ptr_null(nb_scaled_dot_product_attention(q, k, v, &(nb_sdpa_opts){.scale = -1.0f}, NULL));
    ERR_STARTS("scaled_dot_product_attention: dropout 0 must be in [0, 1) and scale -1");
}
END_TEST

/* ---- MultiheadAttention ------------------------------------------------------------------------ */

/* the module's output in double for batch n, from its parameters: [L, E] into out */
static void mha_by_hand(nb_module *m, const nb_tensor *q, const nb_tensor *k, const nb_tensor *v, int64_t n,
                        int H, const float *mask, bool causal, double *out) {
    const int64_t L = q->shape[0], S = k->shape[0], N = q->shape[1], E = q->shape[2], D = E / H;
    const float *W = nb_data_f32(m->params[0].t), *B = nb_data_f32(m->params[1].t);
    nb_module *op = nb_module_child(m, "out_proj");
    const float *Wo = nb_data_f32(op->params[0].t), *Bo = nb_data_f32(op->params[1].t);
    float qp[8 * 16], kp[8 * 16], vp[8 * 16];
    const nb_tensor *src[3] = {q, k, v};
    float *dst[3] = {qp, kp, vp};
    for (int w = 0; w < 3; w++) /* the projections [T, E] */
        for (int64_t t = 0; t < (w ? S : L); t++)
            for (int64_t e = 0; e < E; e++) {
                double s = B[w * E + e];
                for (int64_t i = 0; i < E; i++)
                    s += (double)nb_data_f32((nb_tensor *)src[w])[(t * N + n) * E + i] *
                         W[(w * E + e) * E + i];
                dst[w][t * E + e] = (float)s;
            }
    double heads[8 * 16];
    for (int h = 0; h < H; h++) {
        float qh[8 * 16], kh[8 * 16], vh[8 * 16];
        for (int64_t t = 0; t < 8; t++)
            for (int64_t d = 0; d < D; d++) {
                if (t < L) qh[t * D + d] = qp[t * E + h * D + d];
                if (t < S) kh[t * D + d] = kp[t * E + h * D + d], vh[t * D + d] = vp[t * E + h * D + d];
            }
        double o[8 * 16], p[8 * 8];
        attend(qh, kh, vh, mask, causal, 1 / sqrt((double)D), L, S, D, D, o, p);
        for (int64_t t = 0; t < L; t++)
            for (int64_t d = 0; d < D; d++)
                heads[t * E + h * D + d] = o[t * D + d];
    }
    for (int64_t t = 0; t < L; t++)
        for (int64_t e = 0; e < E; e++) {
            double s = Bo[e];
            for (int64_t i = 0; i < E; i++)
                s += heads[t * E + i] * Wo[e * E + i];
            out[t * E + e] = s;
        }
}

START_TEST(mha_against_definition) {
    const int64_t L = 5, S = 7, N = 2, E = 8;
    const int H = 2;
    nb_module *m = nb_multihead_attention_new(ctx, E, H, 0.0f, true, false, &rng);
    ck_assert_msg(m != NULL, "%s", nb_last_error());
    for (int i = 0; i < 2; i++) /* non-zero biases, so that they are checked */
        ck_assert_int_eq(
            nb_randn_(i ? nb_module_child(m, "out_proj")->params[1].t : m->params[1].t, 0, 1, &rng), 0);
    nb_tensor *q = rn(NB_SHAPE(L, N, E)), *k = rn(NB_SHAPE(S, N, E)), *v = rn(NB_SHAPE(S, N, E));
    nb_tensor *mask = rn(NB_SHAPE(L, S)), *w = NULL;
    nb_tensor *y = nb_mha_run(m, q, k, v, mask, NULL, true, &w);
    ck_assert_msg(y && y->shape[0] == L && y->shape[1] == N && y->shape[2] == E, "%s", nb_last_error());
    ck_assert(w && w->ndim == 3 && w->shape[0] == N && w->shape[1] == L && w->shape[2] == S);
    double want[5 * 8];
    for (int64_t n = 0; n < N; n++) {
        mha_by_hand(m, q, k, v, n, H, nb_data_f32(mask), true, want);
        for (int64_t t = 0; t < L; t++)
            for (int64_t e = 0; e < E; e++)
                ck_assert_msg(fabs(F(y, (t * N + n) * E + e) - want[t * E + e]) < 1e-4,
                              "(%lld,%lld,%lld): %g, want %g", (long long)t, (long long)n, (long long)e,
                              (double)F(y, (t * N + n) * E + e), want[t * E + e]);
    }
    for (int64_t r = 0; r < N * L; r++) { /* head-averaged probabilities: rows of 1 */
        double s = 0;
        for (int64_t j = 0; j < S; j++)
            s += F(w, r * S + j);
        ck_assert(fabs(s - 1) < 1e-5);
    }
    nb_module_free(m);
}
END_TEST

/* a padded key's value changes nothing, nor does a future query position under causal */
START_TEST(mha_masks_mean_what_they_say) {
    const int64_t L = 6, N = 2, E = 8;
    nb_module *m = nb_multihead_attention_new(ctx, E, 4, 0.0f, true, true, &rng); /* batch_first */
    nb_tensor *x = rn(NB_SHAPE(N, L, E));
    int32_t pad[12] = {0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1};
    nb_tensor *kpm = nb_from_data(ctx, NB_I32, NB_SHAPE(N, L), pad);
    nb_tensor *y = nb_mha_run(m, x, x, x, NULL, kpm, false, NULL);
    nb_tensor *x2 = nb_clone(ctx, x);
    for (int64_t e = 0; e < E; e++) /* change the padded keys of batch 0 (positions 4, 5) in key/value only */
        nb_data_f32(x2)[4 * E + e] += 5, nb_data_f32(x2)[5 * E + e] -= 3;
    nb_tensor *y2 = nb_mha_run(m, x, x2, x2, NULL, kpm, false, NULL);
    NB_ASSERT_CLOSE(y2, y, 1e-5, "padded keys ignored");
    /* an f32 key_padding_mask is added to the scores, as torch 1.13: 0 / -inf drops as the i32
     * mask does, and other values shift the scores */
    float padf[12];
    for (int i = 0; i < 12; i++)
        padf[i] = pad[i] ? -INFINITY : 0.0f;
    nb_tensor *yf =
        nb_mha_run(m, x, x, x, NULL, nb_from_data(ctx, NB_F32, NB_SHAPE(N, L), padf), false, NULL);
    NB_ASSERT_CLOSE(yf, y, 1e-6, "f32 0/-inf padding mask");
    nb_tensor *half = nb_full(ctx, NB_F32, NB_SHAPE(N, L), 0.5);
    nb_tensor *shifted =
        nb_mha_run(m, x, x, x, NULL, half, false, NULL); /* the same shift on every key: no change */
    NB_ASSERT_CLOSE(shifted, nb_mha_run(m, x, x, x, NULL, NULL, false, NULL), 1e-5,
                    "uniform f32 padding mask");
    /* causal: changing the last position leaves the earlier outputs as they were */
    nb_tensor *c1 = nb_mha_run(m, x, x, x, NULL, NULL, true, NULL);
    nb_tensor *x3 = nb_clone(ctx, x);
    for (int64_t e = 0; e < E; e++)
        nb_data_f32(x3)[(L - 1) * E + e] += 2;
    nb_tensor *c2 = nb_mha_run(m, x3, x3, x3, NULL, NULL, true, NULL);
    NB_ASSERT_CLOSE(nb_narrow(c2, 1, 0, L - 1), nb_narrow(c1, 1, 0, L - 1), 1e-5, "causal");
    ck_assert(fabs(F(nb_contiguous(c2), (L - 1) * E) - F(nb_contiguous(c1), (L - 1) * E)) > 1e-4);
    /* nb_module_forward is unmasked self-attention; unbatched [L, E] is a batch of one */
    NB_ASSERT_CLOSE(nb_module_forward(m, x), nb_mha_run(m, x, x, x, NULL, NULL, false, NULL), 0, "forward");
    nb_tensor *x0 = nb_squeeze(nb_narrow(x, 0, 1, 1), 0), *w0 = NULL;
    nb_tensor *u = nb_mha_run(m, x0, x0, x0, NULL, NULL, true, &w0);
    ck_assert_msg(u && u->ndim == 2 && w0 && w0->ndim == 2, "%s", nb_last_error());
    NB_ASSERT_CLOSE(u, nb_narrow(c1, 0, 1, 1), 1e-6, "unbatched");
    nb_module_free(m);
}
END_TEST

START_TEST(mha_names_and_init) {
    nb_module *m = nb_multihead_attention_new(ctx, 16, 4, 0.1f, true, false, &rng);
    ck_assert(m != NULL);
    nb_param_list pl;
    ck_assert_int_eq(nb_module_parameters(m, &pl), 0);
    const char *want[4] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    ck_assert_int_eq(pl.n, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(pl.names[i], want[i]);
    const float xb = sqrtf(6.0f / 64.0f);
    for (int64_t i = 0; i < nb_numel(pl.tensors[0]); i++)
        ck_assert(fabsf(F(pl.tensors[0], i)) <= xb);
    for (int64_t i = 0; i < nb_numel(pl.tensors[2]); i++)
        ck_assert(fabsf(F(pl.tensors[2], i)) <= 0.25f);
    ck_assert(F(pl.tensors[1], 5) == 0 && F(pl.tensors[3], 5) == 0);
    nb_param_list_free(&pl);
    nb_module_free(m);
    nb_module *nb = nb_multihead_attention_new(ctx, 16, 4, 0.0f, false, false, &rng);
    ck_assert(nb && nb->n_params == 1 && nb_module_child(nb, "out_proj")->n_params == 1);
    nb_module_free(nb);
}
END_TEST

static nb_module *gc_m;
static nb_tensor *gc_mha(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *w = NULL, *y = nb_mha_run(gc_m, in[0], in[1], in[2], in[3], NULL, false, &w);
    return y ? nb_cat((nb_tensor *[]){nb_reshape(y, NB_SHAPE(-1)), nb_reshape(w, NB_SHAPE(-1))}, 2, 0) : NULL;
}

START_TEST(mha_gradients) {
    gc_m = nb_multihead_attention_new(ctx, 4, 2, 0.0f, true, false, &rng);
    nb_tensor *in[4] = {rn(NB_SHAPE(3, 2, 4)), rn(NB_SHAPE(5, 2, 4)), rn(NB_SHAPE(5, 2, 4)),
                        rn(NB_SHAPE(4, 3, 5))};
    for (int i = 0; i < 4; i++)
        nb_requires_grad_(in[i], true);
    ck_assert_msg(nb_gradcheck(gc_mha, in, 4, NULL, NULL) == 1, "%s", nb_last_error());
    nb_module_free(gc_m);
    /* other key and value widths, bias_k / bias_v and a zero key: through every parameter too */
    const nb_mha_opts o = {.kdim = 3, .vdim = 5, .add_bias_kv = true, .add_zero_attn = true};
    gc_m = nb_multihead_attention_new_ex(ctx, 4, 2, 0.0f, true, false, &o, &rng);
    ck_assert_msg(gc_m != NULL, "%s", nb_last_error());
    nb_tensor *kv[4] = {rn(NB_SHAPE(3, 2, 4)), rn(NB_SHAPE(5, 2, 3)), rn(NB_SHAPE(5, 2, 5)),
                        rn(NB_SHAPE(3, 5))};
    for (int i = 0; i < 3; i++)
        nb_requires_grad_(kv[i], true);
    ck_assert_msg(nb_gradcheck(gc_mha, kv, 4, NULL, NULL) == 1, "%s", nb_last_error());
    nb_module_free(gc_m);
}
END_TEST

/* kdim / vdim: torch's separate q/k/v_proj_weight, in its order, then bias_k / bias_v; the
 * appended keys are in the weights (S + 2 columns) and stay visible to a causal query */
START_TEST(mha_kdim_vdim_bias_kv) {
    const nb_mha_opts o = {.kdim = 6, .vdim = 3, .add_bias_kv = true, .add_zero_attn = true};
    nb_module *m = nb_multihead_attention_new_ex(ctx, 8, 2, 0.0f, true, true, &o, &rng);
    ck_assert_msg(m != NULL, "%s", nb_last_error());
    nb_param_list pl;
    ck_assert_int_eq(nb_module_parameters(m, &pl), 0);
    const char *want[] = {"q_proj_weight", "k_proj_weight", "v_proj_weight",   "in_proj_bias",
                          "bias_k",        "bias_v",        "out_proj.weight", "out_proj.bias"};
    const int64_t cols[] = {8, 6, 3};
    ck_assert_int_eq(pl.n, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_str_eq(pl.names[i], want[i]);
    for (int i = 0; i < 3; i++)
        ck_assert(pl.tensors[i]->shape[0] == 8 && pl.tensors[i]->shape[1] == cols[i]);
    ck_assert(pl.tensors[4]->ndim == 3 && pl.tensors[4]->shape[2] == 8);
    nb_param_list_free(&pl);
    nb_tensor *q = rn(NB_SHAPE(2, 4, 8)), *k = rn(NB_SHAPE(2, 5, 6)), *v = rn(NB_SHAPE(2, 5, 3)), *w = NULL;
    nb_tensor *y = nb_mha_run(m, q, k, v, NULL, NULL, true, &w);
    ck_assert_msg(y && w, "%s", nb_last_error());
    ck_assert(y->shape[0] == 2 && y->shape[1] == 4 && y->shape[2] == 8);
    ck_assert(w->shape[0] == 2 && w->shape[1] == 4 && w->shape[2] == 7); /* 5 keys + bias_k + zero */
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 4; i++) {
            const float *row = nb_data_f32(nb_contiguous(w)) + (b * 4 + i) * 7;
            for (int j = 0; j < 5; j++) /* causal over the given keys */
                ck_assert(j <= i ? row[j] > 0 : row[j] == 0);
            ck_assert(row[5] > 0 && row[6] > 0); /* the appended keys stay */
        }
    ck_assert_ptr_null(nb_mha_run(m, q, v, v, NULL, NULL, false, NULL));
    ERR_STARTS("MultiheadAttention: want key [L, N, 6]");
    nb_module_free(m);
    /* per-head weights: [N, heads, L, S], whose mean over the heads is the usual weights */
    nb_rng r1, r2;
    nb_rng_init(&r1, 5), nb_rng_init(&r2, 5);
    nb_module *avg = nb_multihead_attention_new_ex(ctx, 8, 2, 0.0f, true, true, &o, &r1);
    nb_module *per = nb_multihead_attention_new_ex(
        ctx, 8, 2, 0.0f, true, true,
        &(nb_mha_opts){
            .kdim = 6, .vdim = 3, .add_bias_kv = true, .add_zero_attn = true, .per_head_weights = true},
        &r2);
    nb_tensor *wa = NULL, *wp = NULL;
    ck_assert_ptr_nonnull(nb_mha_run(avg, q, k, v, NULL, NULL, false, &wa));
    ck_assert_ptr_nonnull(nb_mha_run(per, q, k, v, NULL, NULL, false, &wp));
    ck_assert(wp->ndim == 4 && wp->shape[1] == 2 && wp->shape[2] == 4 && wp->shape[3] == 7);
    NB_ASSERT_CLOSE(nb_mean(wp, 1, (const int[]){1}, false), wa, 1e-6, "per-head weights averaged");
    nb_module_free(avg);
    nb_module_free(per);
    ck_assert_ptr_null(
        nb_multihead_attention_new_ex(ctx, 8, 2, 0.0f, true, false, &(nb_mha_opts){.kdim = -1}, &rng));
    ERR_STARTS("multihead_attention_new: kdim -1 and vdim 8 must be positive");
}
END_TEST

START_TEST(mha_errors) {
    nb_module *m = nb_multihead_attention_new(ctx, 8, 2, 0.0f, true, false, &rng);
    nb_tensor *q = rn(NB_SHAPE(5, 2, 8)), *k = rn(NB_SHAPE(7, 2, 8));
    ck_assert_ptr_null(nb_mha_run(m, q, rn(NB_SHAPE(7, 2, 6)), k, NULL, NULL, false, NULL));
    ERR_STARTS("MultiheadAttention: want key [L, N, 8]");
    ck_assert_ptr_null(nb_mha_run(m, q, k, rn(NB_SHAPE(6, 2, 8)), NULL, NULL, false, NULL));
    ERR_STARTS(
        "MultiheadAttention: query [5,2,8], key [7,2,8] and value [6,2,8]: batch and key lengths differ");
    ck_assert_ptr_null(nb_mha_run(m, q, k, k, rn(NB_SHAPE(5, 5)), NULL, false, NULL));
    ERR_STARTS("MultiheadAttention: attn_mask [5,5]: want [L, S] = [5, 7] or [N*heads, L, S]");
    ck_assert_ptr_null(nb_mha_run(m, q, k, k, NULL, rn(NB_SHAPE(2, 5)), false, NULL));
    ERR_STARTS("MultiheadAttention: key_padding_mask [2,5]: want [N, S] = [2, 7]");
    nb_module *lin = nb_linear_new(ctx, 2, 2, true, &rng);
    ck_assert_ptr_null(nb_mha_run(lin, q, k, k, NULL, NULL, false, NULL));
    ERR_STARTS("mha_run: not a MultiheadAttention module");
    ck_assert_ptr_null(nb_multihead_attention_new(ctx, 8, 3, 0.0f, true, false, &rng));
    ERR_STARTS("multihead_attention_new: dim 8 must be a multiple of the 3 heads in [1, 715827882]");
    ck_assert_ptr_null(nb_multihead_attention_new(ctx, 8, 0, 0.0f, true, false, &rng));
    ERR_STARTS("multihead_attention_new: 0 heads (want at least 1)");
    ck_assert_ptr_null(nb_multihead_attention_new(ctx, (int64_t)1 << 31, 2, 0.0f, true, false, &rng));
    ERR_STARTS("multihead_attention_new: dim 2147483648 must be a multiple of the 2 heads in [1, 715827882]");
    /* an unbatched key wants a key_padding_mask [S] */
    nb_tensor *q1 = rn(NB_SHAPE(5, 8)), *k1 = rn(NB_SHAPE(7, 8));
    ck_assert_ptr_null(nb_mha_run(m, q1, k1, k1, NULL, rn(NB_SHAPE(1, 7)), false, NULL));
    ERR_STARTS("MultiheadAttention: key_padding_mask [1,7]: an unbatched key [7, 8] wants [S] = [7]");
    nb_module_free(lin);
    nb_module_free(m);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_mha");
    TCase *tc = tcase_create("mha");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, sdpa_against_definition, 0, 4);
    tcase_add_test(tc, sdpa_fused_and_broadcast);
    tcase_add_test(tc, sdpa_gradients);
    tcase_add_test(tc, sdpa_errors);
    tcase_add_test(tc, mha_against_definition);
    tcase_add_test(tc, mha_masks_mean_what_they_say);
    tcase_add_test(tc, mha_names_and_init);
    tcase_add_test(tc, mha_gradients);
    tcase_add_test(tc, mha_kdim_vdim_bias_kv);
    tcase_add_test(tc, mha_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
