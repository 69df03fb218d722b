/* Vector norms, normalize, cosine similarity, RMS norm (ops/vector_norm.c, ops/norm.c), KL
 * divergence, binary cross-entropy on probabilities, pairwise distance and the margin losses
 * (ops/loss.c), log-sigmoid and GLU
 * (ops/activation.c), triu (ops/index.c) and the RMSNorm module: values against their
 * definitions computed here in double, gradients through gradcheck, torch's gradient at the
 * points where the composition's would differ (a zero vector, the tie of log-sigmoid, p at 0 and
 * 1 in bce), and errors. (make parity-ops compares them with PyTorch on edge cases.) */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 31);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static nb_tensor *randn(int nd, const int64_t *shape) { return nb_randn(ctx, nd, shape, 0, 1, &rng); }
static float at(nb_tensor *t, int64_t i) { return nb_data_f32(nb_contiguous(t))[i]; }

START_TEST(norms_against_definitions) {
    nb_tensor *x = randn(NB_SHAPE(3, 7));
    const float ps[] = {1.0f, 2.0f, 3.0f, 0.5f, -1.0f, INFINITY, -INFINITY, 0.0f};
    for (int k = 0; k < 8; k++) {
        nb_tensor *n = nb_norm(x, ps[k], 1, (const int[]){1}, false);
        ck_assert_msg(n && n->ndim == 1 && n->shape[0] == 3, "p %g: %s", (double)ps[k], nb_last_error());
        for (int r = 0; r < 3; r++) {
            double s = 0, mx = 0, mn = INFINITY;
            for (int c = 0; c < 7; c++) {
                const double v = fabs(at(x, r * 7 + c));
                s += ps[k] == 0.0f ? (v != 0) : pow(v, ps[k]);
                mx = v > mx ? v : mx, mn = v < mn ? v : mn;
            }
            const double want = ps[k] == INFINITY    ? mx
                                : ps[k] == -INFINITY ? mn
                                : ps[k] == 0.0f      ? s
                                                     : pow(s, 1.0 / ps[k]);
            ck_assert_msg(fabs(at(n, r) - want) <= 1e-5 * (1 + fabs(want)), "p %g row %d: %g, want %g",
                          (double)ps[k], r, (double)at(n, r), want);
        }
    }
    nb_tensor *all = nb_norm(x, 2.0f, 0, NULL, true); /* every axis, kept */
    ck_assert(all && all->ndim == 2 && all->shape[0] == 1 && all->shape[1] == 1);
    ck_assert_ptr_null(nb_norm(x, NAN, 0, NULL, false));
    ERR_STARTS("norm: order p is NaN");
}
END_TEST

/* the gradient of a norm at a zero vector is 0 (torch's), not the composition's NaN */
START_TEST(norm_gradient_at_zero) {
    for (int k = 0; k < 3; k++) {
        const float p = k == 0 ? 2.0f : k == 1 ? 3.0f : INFINITY;
        nb_tensor *x = nb_requires_grad_(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3)), true);
        nb_data_f32(x)[3] = 1.0f, nb_data_f32(x)[4] = -2.0f; /* row 1 is not zero */
        ck_assert_int_eq(nb_backward(nb_sum_all(nb_norm(x, p, 1, (const int[]){1}, false))), 0);
        for (int i = 0; i < 3; i++)
            ck_assert_msg(nb_data_f32(x->grad)[i] == 0.0f, "p %g: grad[%d] = %g", (double)p, i,
                          (double)nb_data_f32(x->grad)[i]);
        ck_assert(isfinite(nb_data_f32(x->grad)[4]) && nb_data_f32(x->grad)[4] < 0);
    }
}
END_TEST

static int which;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    switch (which) {
    case 0: return nb_norm(in[0], 2.0f, 1, (const int[]){1}, false);
    case 1: return nb_norm(in[0], 3.0f, 1, (const int[]){0}, true);
    case 2: return nb_norm(in[0], 1.5f, 0, NULL, false);
    case 3: return nb_normalize(in[0], 2.0f, 1, 1e-12f);
    case 4: return nb_cosine_similarity(in[0], in[1], 1, 1e-8f);
    case 5: return nb_rms_norm(in[0], in[2], 1e-6f);
    case 6: return nb_kl_div(nb_log_softmax(in[0], 1), nb_softmax(in[1], 1), NB_REDUCE_BATCHMEAN, false);
    case 7: return nb_kl_div(nb_log_softmax(in[0], 1), nb_log_softmax(in[1], 1), NB_REDUCE_SUM, true);
    case 8: return nb_bce(nb_sigmoid(in[0]), nb_sigmoid(in[1]), NULL, NB_REDUCE_MEAN);
    case 9: return nb_log_sigmoid(in[0]);
    case 13: return nb_pairwise_distance(in[0], in[1], 2.0f, 1e-6f, false);
    case 14:
        return nb_triplet_margin_loss(in[0], in[1], nb_mul_scalar(in[0], -0.5f), 3.0f, 2.0f, 1e-6f, true,
                                      NB_REDUCE_MEAN);
    case 15:
        return nb_margin_ranking_loss(in[0], in[1], nb_sign(nb_sub_scalar(nb_detach(in[1]), 0.1f)), 0.3f,
                                      NB_REDUCE_SUM);
    case 16:
        return nb_cosine_embedding_loss(in[0], in[1],
                                        nb_sign(nb_sub_scalar(nb_detach(nb_narrow(in[2], 0, 0, 4)), 0.1f)),
                                        0.1f, NB_REDUCE_MEAN);
    case 12:
        return nb_instance_norm(nb_reshape(in[0], NB_SHAPE(2, 2, 5)), nb_narrow(in[2], 0, 0, 2),
                                nb_narrow(in[2], 0, 2, 2), 1e-5f);
    case 10: return nb_glu(in[0], 0);
    default: return nb_triu(in[0], 1);
    }
}

START_TEST(gradients) {
    for (which = 0; which < 17; which++) {
        nb_tensor *in[3] = {nb_requires_grad_(randn(NB_SHAPE(4, 5)), true),
                            nb_requires_grad_(randn(NB_SHAPE(4, 5)), true),
                            nb_requires_grad_(randn(NB_SHAPE(5)), true)};
        const int n = which == 5 || which == 12                                 ? 3
                      : which == 4 || (which >= 6 && which <= 8) || which >= 13 ? 2
                                                                                : 1;
        if (which == 5 || which == 12) in[1] = in[2];
        ck_assert_msg(nb_gradcheck(gc_fn, in, n, NULL, NULL) == 1, "case %d: %s", which, nb_last_error());
    }
}
END_TEST

START_TEST(normalize_and_cosine) {
    nb_tensor *a = randn(NB_SHAPE(3, 4)), *b = randn(NB_SHAPE(1, 4));
    nb_tensor *u = nb_normalize(a, 2.0f, 1, 1e-12f), *cs = nb_cosine_similarity(a, b, 1, 1e-8f);
    ck_assert_msg(u && cs && cs->ndim == 1 && cs->shape[0] == 3, "%s", nb_last_error());
    for (int r = 0; r < 3; r++) {
        double na = 0, nb = 0, dot = 0, nu = 0;
        for (int c = 0; c < 4; c++) {
            const double x = at(a, r * 4 + c), y = at(b, c);
            na += x * x, nb += y * y, dot += x * y, nu += (double)at(u, r * 4 + c) * at(u, r * 4 + c);
        }
        ck_assert(fabs(nu - 1.0) < 1e-6);
        ck_assert(fabs(at(cs, r) - dot / sqrt(na * nb)) < 1e-6);
    }
    /* a zero vector: normalize gives zeros, cosine similarity 0 (the norm is clamped at eps) */
    nb_tensor *z = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 4));
    ck_assert_float_eq(at(nb_normalize(z, 2.0f, 1, 1e-12f), 2), 0.0f);
    ck_assert_float_eq(at(nb_cosine_similarity(z, b, 1, 1e-8f), 0), 0.0f);
    ck_assert_ptr_null(nb_cosine_similarity(a, randn(NB_SHAPE(2, 4)), 1, 1e-8f));
    ERR_STARTS("cosine_similarity: x1 [3,4] and x2 [2,4] do not broadcast");
    ck_assert_ptr_null(nb_cosine_similarity(a, b, 2, 1e-8f));
    ERR_STARTS("cosine_similarity: dim 2 out of range");
}
END_TEST

START_TEST(rms_norm_and_module) {
    nb_tensor *x = randn(NB_SHAPE(2, 3, 6));
    nb_module *m = nb_rmsnorm_new(ctx, 6, 1e-6f, true);
    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < 6; i++)
        nb_data_f32(m->params[0].t)[i] = 0.5f + 0.25f * (float)i;
    nb_tensor *y = nb_module_forward(m, x);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    for (int r = 0; r < 6; r++) {
        double ms = 0;
        for (int c = 0; c < 6; c++)
            ms += (double)at(x, r * 6 + c) * at(x, r * 6 + c) / 6;
        for (int c = 0; c < 6; c++) {
            const double want = at(x, r * 6 + c) / sqrt(ms + 1e-6) * (0.5 + 0.25 * c);
            ck_assert_msg(fabs(at(y, r * 6 + c) - want) < 1e-5 * (1 + fabs(want)), "(%d,%d)", r, c);
        }
    }
    ck_assert_str_eq(m->params[0].name, "weight");
    nb_module_free(m);
    ck_assert_ptr_null(nb_rmsnorm_new(ctx, 0, 1e-6f, true));
    ERR_STARTS("rmsnorm_new: invalid dim=0");
    ck_assert_ptr_null(nb_rms_norm(x, randn(NB_SHAPE(5)), 1e-6f));
    ERR_STARTS("rms_norm: weight [5] does not match the last dim of input [2,3,6]");
}
END_TEST

/* instance norm: each (sample, channel) to mean 0, variance 1; the module's affine parameters */
START_TEST(instance_norm_and_module) {
    nb_tensor *x = randn(NB_SHAPE(2, 3, 4, 5));
    nb_module *m = nb_instancenorm_new(ctx, 3, 1e-5f, true);
    ck_assert_msg(m && m->n_params == 2, "%s", nb_last_error());
    nb_tensor *y = nb_module_forward(m, x);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    for (int p = 0; p < 6; p++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < 20; i++)
            s += at(y, p * 20 + i), s2 += (double)at(y, p * 20 + i) * at(y, p * 20 + i);
        ck_assert(fabs(s / 20) < 1e-5 && fabs(s2 / 20 - 1) < 1e-3);
    }
    nb_module_free(m);
    nb_module *plain = nb_instancenorm_new(ctx, 3, 1e-5f, false);
    ck_assert(plain && plain->n_params == 0);
    ck_assert_ptr_nonnull(nb_module_forward(plain, x));
    nb_module_free(plain);
    ck_assert_ptr_null(nb_instance_norm(randn(NB_SHAPE(3, 4)), NULL, NULL, 1e-5f));
    ERR_STARTS("instance_norm: want input [N, C, L, ...]");
    ck_assert_ptr_null(nb_instance_norm(x, randn(NB_SHAPE(4)), NULL, 1e-5f));
    ERR_STARTS("instance_norm: weight [4] does not match the 3 channels");
}
END_TEST

/* channel dropout: whole channels zeroed at about the rate p, the rest scaled by 1 / (1 - p),
 * the gradient the same mask; identity in eval; the module follows its train flag */
START_TEST(dropout_channels) {
    nb_rng r;
    nb_rng_init(&r, 3);
    nb_tensor *x = nb_requires_grad_(nb_ones(ctx, NB_F32, NB_SHAPE(40, 50, 2, 3)), true);
    nb_tensor *y = nb_dropout_channels(x, 0.3f, true, &r);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    int dropped = 0;
    for (int c = 0; c < 2000; c++) {
        const float v = at(y, c * 6);
        for (int i = 0; i < 6; i++) { /* one value across the whole channel, the gradient the same */
            ck_assert_float_eq(at(y, c * 6 + i), v);
            ck_assert_float_eq(nb_data_f32(x->grad)[c * 6 + i], v);
        }
        ck_assert(v == 0.0f || fabsf(v - 1.0f / 0.7f) < 1e-6f);
        dropped += v == 0.0f;
    }
    ck_assert_msg(dropped > 520 && dropped < 680, "%d of 2000 channels dropped, want about 600",
                  dropped); /* 5 sigma */
    ck_assert_ptr_eq(nb_dropout_channels(x, 0.3f, false, &r), x);
    ck_assert_ptr_null(nb_dropout_channels(randn(NB_SHAPE(4, 5)), 0.3f, true, &r));
    ERR_STARTS("dropout_channels: want input [N, C, ...]");
    ck_assert_ptr_null(nb_dropout_channels(x, 1.0f, true, &r));
    ERR_STARTS("dropout_channels: p must be in [0, 1), got 1");
    nb_module *m = nb_dropout_channels_new(0.5f);
    ck_assert_ptr_nonnull(m);
    nb_module_train(m, false);
    ck_assert_ptr_eq(nb_module_forward(m, x), x);
    nb_module_free(m);
}
END_TEST

START_TEST(losses) {
    /* kl_div: sum of t (log t - x), 0 where t is 0; batchmean divides by dim 0 */
    nb_tensor *lp = nb_log_softmax(randn(NB_SHAPE(2, 3)), 1);
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), (const float[]){0, 0.25f, 0.75f, 1, 0, 0});
    double want = 0;
    for (int i = 0; i < 6; i++) {
        const double ti = at(t, i);
        want += ti > 0 ? ti * (log(ti) - at(lp, i)) : 0;
    }
    ck_assert(fabs(nb_item(nb_kl_div(lp, t, NB_REDUCE_BATCHMEAN, false)) - want / 2) < 1e-6);
    ck_assert(fabs(nb_item(nb_kl_div(lp, t, NB_REDUCE_SUM, false)) - want) < 1e-6);
    ck_assert(fabs(nb_item(nb_kl_div(lp, t, NB_REDUCE_MEAN, false)) - want / 6) < 1e-6);
    /* a zero target gives a zero gradient in t, not 0 * log 0 */
    nb_requires_grad_(t, true);
    ck_assert_int_eq(nb_backward(nb_kl_div(lp, t, NB_REDUCE_SUM, false)), 0);
    ck_assert(isfinite(nb_data_f32(t->grad)[0]));
    ck_assert_ptr_null(nb_mse_loss(lp, lp, NB_REDUCE_BATCHMEAN));
    ERR_STARTS("mse_loss: reduction batchmean is kl_div's only");

    /* bce: -(t log p + (1 - t) log(1 - p)), the logs clamped at -100; torch's gradient at p = 0, 1 */
    nb_tensor *p =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){0, 1, 0.25f, 0.5f}), true);
    nb_tensor *y = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){1, 0, 1, 0});
    nb_tensor *l = nb_bce(p, y, NULL, NB_REDUCE_NONE);
    ck_assert_msg(l != NULL, "%s", nb_last_error());
    ck_assert_float_eq(at(l, 0), 100.0f);
    ck_assert_float_eq(at(l, 1), 100.0f);
    ck_assert(fabs(at(l, 2) - (-log(0.25))) < 1e-6 && fabs(at(l, 3) - (-log(0.5))) < 1e-6);
    ck_assert_int_eq(nb_backward(nb_sum_all(l)), 0);
    ck_assert_float_eq(nb_data_f32(p->grad)[0], -1e12f); /* (p - t) / max(p (1 - p), 1e-12) */
    ck_assert_float_eq(nb_data_f32(p->grad)[1], 1e12f);
    ck_assert(fabs(nb_data_f32(p->grad)[2] - (0.25 - 1) / (0.25 * 0.75)) < 1e-4);
    nb_tensor *w = nb_requires_grad_(nb_ones(ctx, NB_F32, NB_SHAPE(4)), true);
    ck_assert_ptr_null(nb_bce(p, y, w, NB_REDUCE_MEAN));
    ERR_STARTS("bce: the weight must not require grad");
    nb_requires_grad_(w, false);
    nb_data_f32(w)[2] = 3.0f;
    ck_assert(fabs(nb_item(nb_bce(p, y, w, NB_REDUCE_SUM)) - (200 - 3 * log(0.25) - log(0.5))) < 1e-4);
    /* p outside [0, 1], or NaN, is refused as torch refuses it */
    const float bad[3] = {1.5f, -0.01f, NAN};
    for (int i = 0; i < 3; i++) {
        nb_tensor *q = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){0.5f, 0.5f, 0.5f, 0.5f});
        nb_data_f32(q)[i + 1] = bad[i];
        ck_assert_ptr_null(nb_bce(q, y, NULL, NB_REDUCE_MEAN));
        ERR_STARTS("bce: input [4] holds a value outside [0, 1]");
    }
}
END_TEST

START_TEST(activations_and_triu) {
    /* log_sigmoid: finite at both ends, its slope 1/2 at 0 (torch's), not the pieces' 1 */
    nb_tensor *x =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(5), (const float[]){-200, -1, 0, 1, 200}), true);
    nb_tensor *ls = nb_log_sigmoid(x);
    ck_assert_msg(ls != NULL, "%s", nb_last_error());
    ck_assert_float_eq(at(ls, 0), -200.0f);
    ck_assert(fabs(at(ls, 1) - log(1 / (1 + exp(1.0)))) < 1e-6 && fabs(at(ls, 2) + log(2.0)) < 1e-6);
    ck_assert_float_eq(at(ls, 4), 0.0f);
    ck_assert_int_eq(nb_backward(nb_sum_all(ls)), 0);
    ck_assert_float_eq(nb_data_f32(x->grad)[2], 0.5f);
    ck_assert_float_eq(nb_data_f32(x->grad)[0], 1.0f);

    nb_tensor *a = randn(NB_SHAPE(2, 6)), *g = nb_glu(a, 1);
    ck_assert(g && g->shape[1] == 3);
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++)
            ck_assert(fabs(at(g, r * 3 + c) - at(a, r * 6 + c) / (1 + exp(-(double)at(a, r * 6 + c + 3)))) <
                      1e-6);
    ck_assert_ptr_null(nb_glu(randn(NB_SHAPE(2, 5)), -1));
    ERR_STARTS("glu: dim 1 of input [2,5] has an odd size");

    nb_tensor *m = randn(NB_SHAPE(2, 3, 4));
    for (int k = -1; k <= 2; k++) {
        nb_tensor *u = nb_triu(m, k);
        for (int i = 0; i < 24; i++) {
            const int r = (i / 4) % 3, c = i % 4;
            ck_assert_float_eq(at(u, i), c - r >= k ? at(m, i) : 0.0f);
        }
    }
    ck_assert_ptr_null(nb_triu(randn(NB_SHAPE(3)), 0));
    ERR_STARTS("triu: want at least 2 dims");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_norms");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, norms_against_definitions);
    tcase_add_test(tc, norm_gradient_at_zero);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, normalize_and_cosine);
    tcase_add_test(tc, rms_norm_and_module);
    tcase_add_test(tc, instance_norm_and_module);
    tcase_add_test(tc, dropout_channels);
    tcase_add_test(tc, losses);
    tcase_add_test(tc, activations_and_triu);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
