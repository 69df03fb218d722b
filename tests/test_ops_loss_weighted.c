/* The losses with torch's weights (ops/loss.c): class-weighted nll and cross-entropy (with label
 * smoothing) and bce with weight and pos_weight, against their formulas in double, with
 * ignored rows and every reduction; gradients through gradcheck; a NULL weight is the unweighted
 * loss; errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 71);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

enum { N = 6, C = 5, IGN = -100 };
static const int32_t T[N] = {0, 4, IGN, 2, 4, 1};
static const float W[C] = {0.5f, 2.0f, 1.0f, 0.0f, 3.0f};

static float F(const nb_tensor *t, int64_t i) { return nb_data_f32((nb_tensor *)t)[i]; }

/* torch's weighted, smoothed cross-entropy in double: per row, and the mean's denominator */
static void ce_ref(const nb_tensor *x, double e, double rows[N], double *den) {
    *den = 0;
    for (int i = 0; i < N; i++) {
        rows[i] = 0;
        if (T[i] == IGN) continue;
        double mx = -INFINITY, s = 0;
        for (int c = 0; c < C; c++)
            mx = fmax(mx, F(x, i * C + c));
        for (int c = 0; c < C; c++)
            s += exp(F(x, i * C + c) - mx);
        const double lse = mx + log(s);
        double spread = 0;
        for (int c = 0; c < C; c++)
            spread += W[c] * (lse - F(x, i * C + c));
        rows[i] = (1 - e) * W[T[i]] * (lse - F(x, i * C + T[i])) + e / C * spread;
        *den += W[T[i]];
    }
}

START_TEST(cross_entropy_and_nll_against_formula) {
    const double e = _i ? 0.2 : 0.0;
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(N, C), 0, 2, &rng), *t = nb_from_data(ctx, NB_I32, NB_SHAPE(N), T);
    nb_tensor *w = nb_from_data(ctx, NB_F32, NB_SHAPE(C), W);
    double rows[N], den, sum = 0;
    ce_ref(x, e, rows, &den);
    for (int i = 0; i < N; i++)
        sum += rows[i];
    nb_tensor *none = nb_cross_entropy_weighted(x, t, w, IGN, (float)e, NB_REDUCE_NONE);
    nb_tensor *s = nb_cross_entropy_weighted(x, t, w, IGN, (float)e, NB_REDUCE_SUM);
    nb_tensor *m = nb_cross_entropy_weighted(x, t, w, IGN, (float)e, NB_REDUCE_MEAN);
    ck_assert_msg(none && s && m && none->shape[0] == N, "%s", nb_last_error());
    for (int i = 0; i < N; i++)
        ck_assert_msg(fabs(F(none, i) - rows[i]) < 1e-5 * (1 + fabs(rows[i])), "row %d: %g, want %g", i,
                      (double)F(none, i), rows[i]);
    ck_assert(fabs(nb_item(s) - sum) < 1e-5 * (1 + fabs(sum)));
    ck_assert_msg(fabs(nb_item(m) - sum / den) < 1e-5, "mean %g, want %g", nb_item(m), sum / den);
    if (e == 0) { /* nll of log_softmax is the same */
        nb_tensor *nm = nb_nll_loss_weighted(nb_log_softmax(x, -1), t, w, IGN, NB_REDUCE_MEAN);
        ck_assert(nm && fabs(nb_item(nm) - sum / den) < 1e-5);
    }
    /* a NULL weight is the unweighted loss */
    nb_tensor *u = nb_cross_entropy_weighted(x, t, NULL, IGN, (float)e, NB_REDUCE_MEAN);
    nb_tensor *ref = nb_cross_entropy_smooth(x, t, IGN, (float)e, NB_REDUCE_MEAN);
    ck_assert(u && ref && fabs(nb_item(u) - nb_item(ref)) < 1e-6);
    /* every row ignored, or only zero weights counted: 0, as the unweighted losses */
    const int32_t none_t[N] = {IGN, IGN, IGN, IGN, IGN, IGN}, zero_t[N] = {3, 3, IGN, 3, 3, 3};
    nb_tensor *a = nb_cross_entropy_weighted(x, nb_from_data(ctx, NB_I32, NB_SHAPE(N), none_t), w, IGN, 0,
                                             NB_REDUCE_MEAN);
    nb_tensor *z =
        nb_nll_loss_weighted(x, nb_from_data(ctx, NB_I32, NB_SHAPE(N), zero_t), w, IGN, NB_REDUCE_MEAN);
    ck_assert(a && z && nb_item(a) == 0 && nb_item(z) == 0);
    /* an ignored row reads nothing of the weights: an inf weight of class 0 does not reach it */
    const float winf[C] = {INFINITY, 1, 1, 1, 1};
    const int32_t t1[N] = {1, IGN, 2, 3, 4, 1};
    nb_tensor *ni = nb_nll_loss_weighted(nb_log_softmax(x, -1), nb_from_data(ctx, NB_I32, NB_SHAPE(N), t1),
                                         nb_from_data(ctx, NB_F32, NB_SHAPE(C), winf), IGN, NB_REDUCE_MEAN);
    ck_assert_msg(ni && isfinite(nb_item(ni)), "%s", ni ? "not finite" : nb_last_error());
}
END_TEST

static nb_tensor *gc_t, *gc_w;
static int gc_which;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    switch (gc_which) {
    case 0: return nb_cross_entropy_weighted(in[0], gc_t, gc_w, IGN, 0.1f, NB_REDUCE_MEAN);
    case 1: return nb_nll_loss_weighted(in[0], gc_t, gc_w, IGN, NB_REDUCE_NONE);
    default: return nb_bce_with_logits_weighted(in[0], in[1], in[2], in[3], NB_REDUCE_MEAN);
    }
}

START_TEST(gradients) {
    gc_t = nb_from_data(ctx, NB_I32, NB_SHAPE(N), T);
    gc_w = nb_from_data(ctx, NB_F32, NB_SHAPE(C), W);
    for (gc_which = 0; gc_which < 2; gc_which++) {
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(N, C), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, &x, 1, NULL, NULL) == 1, "case %d: %s", gc_which, nb_last_error());
    }
    gc_which = 2; /* logits, soft targets, weight and pos_weight all differentiated */
    nb_tensor *in[4] = {nb_randn(ctx, NB_SHAPE(4, 3), 0, 1, &rng), nb_rand(ctx, NB_SHAPE(4, 3), 0, 1, &rng),
                        nb_rand(ctx, NB_SHAPE(4, 1), 0.5f, 2, &rng),
                        nb_rand(ctx, NB_SHAPE(3), 0.5f, 4, &rng)};
    for (int i = 0; i < 4; i++)
        nb_requires_grad_(in[i], true);
    ck_assert_msg(nb_gradcheck(gc_fn, in, 4, NULL, NULL) == 1, "bce: %s", nb_last_error());
}
END_TEST

START_TEST(bce_against_formula) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(4, 3), 0, 3, &rng), *t = nb_rand(ctx, NB_SHAPE(4, 3), 0, 1, &rng);
    nb_tensor *w = nb_rand(ctx, NB_SHAPE(4, 1), 0, 2, &rng);
    const float pwv[3] = {0.5f, 1.0f, 4.0f};
    nb_tensor *pw = nb_from_data(ctx, NB_F32, NB_SHAPE(3), pwv);
    nb_tensor *y = nb_bce_with_logits_weighted(x, t, w, pw, NB_REDUCE_NONE);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    for (int i = 0; i < 12; i++) {
        const double xv = F(x, i), tv = F(t, i), s = 1 / (1 + exp(-xv));
        const double want = -F(w, i / 3) * (pwv[i % 3] * tv * log(s) + (1 - tv) * log(1 - s));
        ck_assert_msg(fabs(F(y, i) - want) < 1e-5 * (1 + fabs(want)), "%d: %g, want %g", i, (double)F(y, i),
                      want);
    }
    /* without weights it is the unweighted loss */
    nb_tensor *u = nb_bce_with_logits_weighted(x, t, NULL, NULL, NB_REDUCE_SUM),
              *ref = nb_bce_with_logits(x, t, NB_REDUCE_SUM);
    ck_assert(u && ref && nb_item(u) == nb_item(ref));
}
END_TEST

START_TEST(errors) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(N, C), 0, 1, &rng), *t = nb_from_data(ctx, NB_I32, NB_SHAPE(N), T);
    ck_assert_ptr_null(
        nb_cross_entropy_weighted(x, t, nb_ones(ctx, NB_F32, NB_SHAPE(4)), IGN, 0, NB_REDUCE_MEAN));
    ERR_STARTS("cross_entropy: class weight [4] does not match 5 classes (want [C])");
    ck_assert_ptr_null(nb_nll_loss_weighted(x, t, nb_ones(ctx, NB_I32, NB_SHAPE(5)), IGN, NB_REDUCE_MEAN));
    ERR_STARTS("nll_loss: class weight must be f32");
    ck_assert_ptr_null(
        nb_cross_entropy_weighted(x, t, nb_ones(ctx, NB_F32, NB_SHAPE(5)), IGN, 1.5f, NB_REDUCE_MEAN));
    ERR_STARTS("cross_entropy: label smoothing 1.5 is outside [0, 1]");
    const int32_t bad[N] = {0, 9, 1, 1, 1, 1};
    ck_assert_ptr_null(nb_cross_entropy_weighted(x, nb_from_data(ctx, NB_I32, NB_SHAPE(N), bad),
                                                 nb_ones(ctx, NB_F32, NB_SHAPE(5)), IGN, 0, NB_REDUCE_MEAN));
    ERR_STARTS("cross_entropy:");
    ck_assert_ptr_null(
        nb_cross_entropy_weighted(x, t, nb_ones(ctx, NB_F32, NB_SHAPE(5)), IGN, 0, (nb_reduction)7));
    ERR_STARTS("cross_entropy: unknown reduction 7");
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(4, 3), 0, 1, &rng);
    ck_assert_ptr_null(
        nb_bce_with_logits_weighted(b, b, NULL, nb_ones(ctx, NB_F32, NB_SHAPE(4)), NB_REDUCE_MEAN));
    ERR_STARTS("bce_with_logits:");
    ck_assert_ptr_null(
        nb_bce_with_logits_weighted(b, b, nb_ones(ctx, NB_F32, NB_SHAPE(4, 3, 2)), NULL, NB_REDUCE_MEAN));
    ERR_STARTS("bce_with_logits:");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_loss_weighted");
    TCase *tc = tcase_create("weighted");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, cross_entropy_and_nll_against_formula, 0, 2);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, bce_against_formula);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
