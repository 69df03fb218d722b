/* The composed losses (ops/loss.c): values against double references, gradients through
 * gradcheck and against their closed forms, nll_loss against the fused cross-entropy, extreme
 * logits, and every error under the loss's own name. */
#include <math.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 77);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

typedef nb_tensor *(*pair_fn)(nb_tensor *, nb_tensor *, nb_reduction);
static nb_tensor *huber07(nb_tensor *p, nb_tensor *t, nb_reduction r) { return nb_huber_loss(p, t, 0.7f, r); }

static double r_mse(double d, double t) { return (d - t) * (d - t); }
static double r_l1(double d, double t) { return fabs(d - t); }
static double r_huber(double p, double t) {
    double a = fabs(p - t);
    return a < 0.7 ? 0.5 * a * a : 0.7 * (a - 0.35);
}
static double r_bce(double x, double t) {
    double s = 1 / (1 + exp(-x));
    return -(t * log(s) + (1 - t) * log(1 - s));
}

static const struct {
    const char *name;
    pair_fn f;
    double (*ref)(double, double);
    bool prob_target; /* targets in [0, 1] */
} cases[] = {
    {"mse_loss", nb_mse_loss, r_mse, false},
    {"l1_loss", nb_l1_loss, r_l1, false},
    {"huber_loss", huber07, r_huber, false},
    {"bce_with_logits", nb_bce_with_logits, r_bce, true},
};
#define N_CASES (int)(sizeof cases / sizeof *cases)

/* Keeps every pred - target difference off the kinks at 0 and +-0.7 (huber, l1), by at least
 * 0.05, so that the finite differences see a smooth function. */
static void off_kinks(nb_tensor *p, const nb_tensor *t) {
    float *a = nb_data_f32(p);
    const float *b = nb_data_f32((nb_tensor *)t);
    for (int64_t i = 0; i < nb_numel(p); i++) {
        float d = a[i] - b[i];
        for (int k = -1; k <= 1; k++) {
            float kink = 0.7f * (float)k;
            if (fabsf(d - kink) < 0.05f) d = kink + (d < kink ? -0.05f : 0.05f);
        }
        a[i] = b[i] + d;
    }
}

START_TEST(value_against_reference) {
    nb_tensor *base = nb_randn(ctx, NB_SHAPE(4, 6), 0, 1, &rng);
    nb_tensor *p = nb_transpose(base, 0, 1); /* a non-contiguous [6,4] */
    nb_tensor *t = cases[_i].prob_target ? nb_rand(ctx, NB_SHAPE(6, 4), 0, 1, &rng)
                                         : nb_randn(ctx, NB_SHAPE(6, 4), 0, 1, &rng);
    nb_tensor *y = cases[_i].f(p, t, NB_REDUCE_MEAN);
    ck_assert_msg(y != NULL, "%s: %s", cases[_i].name, nb_last_error());
    ck_assert_int_eq(y->ndim, 0);
    double want = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++)
            want += cases[_i].ref(nb_data_f32(base)[j * 6 + i], nb_data_f32(t)[i * 4 + j]);
    want /= 24;
    ck_assert_msg(nb_close(nb_item(y), want, 1e-5, 1e-6), "%s: %g, want %g", cases[_i].name, nb_item(y),
                  want);
    /* the sum, and each element (none) */
    nb_tensor *sum = cases[_i].f(p, t, NB_REDUCE_SUM), *each = cases[_i].f(p, t, NB_REDUCE_NONE);
    ck_assert_msg(sum && each && sum->ndim == 0 && nb_same_shape(each, p), "%s: %s", cases[_i].name,
                  nb_last_error());
    ck_assert_msg(nb_close(nb_item(sum), want * 24, 1e-5, 1e-5), "%s sum: %g", cases[_i].name, nb_item(sum));
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) {
            const double w = cases[_i].ref(nb_data_f32(base)[j * 6 + i], nb_data_f32(t)[i * 4 + j]);
            const double g = nb_get(each, (int64_t[]){i, j});
            ck_assert_msg(nb_close(g, w, 1e-5, 1e-6), "%s none (%d,%d): %g, want %g", cases[_i].name, i, j, g,
                          w);
        }
    ck_assert_ptr_null(cases[_i].f(p, t, (nb_reduction)7));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "unknown reduction 7"));
}
END_TEST

static pair_fn gc_f;
static nb_tensor *gc_pair(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return gc_f(in[0], in[1], NB_REDUCE_MEAN);
}

START_TEST(gradients_through_both_inputs) {
    nb_tensor *t = cases[_i].prob_target ? nb_rand(ctx, NB_SHAPE(3, 5), 0, 1, &rng)
                                         : nb_randn(ctx, NB_SHAPE(3, 5), 0, 1, &rng);
    nb_tensor *p = nb_randn(ctx, NB_SHAPE(3, 5), 0, 1, &rng);
    off_kinks(p, t);
    nb_tensor *in[2] = {nb_requires_grad_(p, true), nb_requires_grad_(t, true)};
    gc_f = cases[_i].f;
    ck_assert_msg(nb_gradcheck(gc_pair, in, 2, NULL, NULL) == 1, "%s: %s", cases[_i].name, nb_last_error());
}
END_TEST

/* The closed forms, exactly where the composition has kinks: mse 2d/N, l1 sign(d)/N (0 at 0),
 * huber d/N inside delta, delta sign(d)/N at and beyond it, bce (sigmoid(x) - t)/N. */
START_TEST(gradients_at_the_kinks) {
    const float pv[5] = {0.0f, 0.7f, -0.7f, 2.0f, 0.3f}, tv[5] = {0.0f, 0.0f, 0.0f, 0.5f, 1.0f};
    for (int c = 0; c < N_CASES; c++) {
        nb_tensor *p = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(5), pv), true);
        nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(5), tv);
        ck_assert_int_eq(nb_backward(cases[c].f(p, t, NB_REDUCE_MEAN)), 0);
        for (int i = 0; i < 5; i++) {
            double d = (double)pv[i] - tv[i], s = (d > 0) - (d < 0), want;
            if (c == 0)
                want = 2 * d;
            else if (c == 1)
                want = s;
            else if (c == 2)
                want = fabs(d) < 0.7 ? d : 0.7 * s;
            else
                want = 1 / (1 + exp(-(double)pv[i])) - tv[i];
            want /= 5;
            double got = nb_data_f32(p->grad)[i];
            ck_assert_msg(nb_close(got, want, 1e-5, 1e-7), "%s: d/dpred[%d] = %g, want %g", cases[c].name, i,
                          got, want);
        }
    }
}
END_TEST

/* Logits of +-100 and +-1e30: finite losses (a log of a rounded probability would be inf), and
 * the gradient sigmoid(x) - t. */
START_TEST(bce_with_logits_extreme) {
    const float xv[6] = {100.0f, -100.0f, 1e30f, -1e30f, 100.0f, -100.0f};
    const float tv[6] = {1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(6), xv), true);
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(6), tv);
    nb_tensor *y = nb_bce_with_logits(x, t, NB_REDUCE_MEAN);
    ck_assert_ptr_nonnull(y);
    /* the first four are right with certainty (loss ~0); the last two wrong by 100 each */
    ck_assert_msg(nb_close(nb_item(y), 200.0 / 6, 1e-6, 1e-6), "bce: %g", nb_item(y));
    ck_assert_int_eq(nb_backward(y), 0);
    const float want[6] = {0, 0, 0, 0, 1.0f / 6, -1.0f / 6};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(fabsf(nb_data_f32(x->grad)[i] - want[i]) < 1e-7f, "bce: dx[%d] = %g, want %g", i,
                      (double)nb_data_f32(x->grad)[i], (double)want[i]);
}
END_TEST

/* Confident negatives: the gradient s(x) - t keeps its digits where (1 - t) - s(-x) would cancel
 * (x = -18: 1.5e-8, not 0); for t = 1 the float sigmoid rounds to 1 above about 17, as torch. */
START_TEST(bce_with_logits_gradient_tails) {
    const float xv[4] = {-12.0f, -18.0f, -30.0f, 25.0f}, tv[4] = {0, 0, 0, 1};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), xv), true);
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(4), tv);
    ck_assert_int_eq(nb_backward(nb_bce_with_logits(x, t, NB_REDUCE_SUM)), 0);
    for (int i = 0; i < 4; i++) {
        const double want = 1.0 / (1.0 + exp(-(double)xv[i])) - tv[i];
        ck_assert_msg(nb_close(nb_data_f32(x->grad)[i], want, 1e-6, 1e-10), "dx(%g) = %g, want %g",
                      (double)xv[i], (double)nb_data_f32(x->grad)[i], want);
    }
}
END_TEST

/* Infinite logits as torch 1.13's (1 - t) x + softplus(-x): a +inf logit with target 0 costs inf
 * (softplus(x) - t x would give inf - 0 inf, NaN); the other three meet 0 inf or inf - inf and
 * are NaN in torch too. */
START_TEST(bce_with_logits_infinite) {
    const float xv[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    const float tv[4] = {0.0f, 1.0f, 1.0f, 0.0f};
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(4), xv),
              *t = nb_from_data(ctx, NB_F32, NB_SHAPE(4), tv);
    nb_tensor *y = nb_bce_with_logits(x, t, NB_REDUCE_NONE);
    ck_assert_ptr_nonnull(y);
    const float *v = nb_data_f32(y);
    ck_assert_msg(v[0] == INFINITY, "bce(inf, 0) = %g, want inf", (double)v[0]);
    for (int i = 1; i < 4; i++)
        ck_assert_msg(isnan(v[i]), "bce(%g, %g) = %g, want NaN as torch", (double)xv[i], (double)tv[i],
                      (double)v[i]);
}
END_TEST

/* nll_loss(log_softmax(z)) is cross_entropy(z): value and gradient, with ignored targets, on a
 * [2,3,5] batch whose targets are [2,3]. */
START_TEST(nll_matches_cross_entropy) {
    const int tv[6] = {4, -100, 0, 2, 3, -100};
    nb_tensor *targets = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), tv);
    nb_tensor *z1 = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3, 5), 0, 1, &rng), true);
    nb_tensor *z2 = nb_requires_grad_(nb_clone(ctx, z1), true);
    nb_tensor *a = nb_nll_loss(nb_log_softmax(z1, -1), targets, -100, NB_REDUCE_MEAN);
    nb_tensor *b = nb_cross_entropy(z2, targets, -100);
    ck_assert_msg(a && b, "%s", nb_last_error());
    ck_assert_msg(nb_close(nb_item(a), nb_item(b), 1e-6, 1e-7), "nll %g, ce %g", nb_item(a), nb_item(b));
    ck_assert_int_eq(nb_backward(a), 0);
    ck_assert_int_eq(nb_backward(b), 0);
    for (int i = 0; i < 30; i++)
        ck_assert_msg(nb_close(nb_data_f32(z1->grad)[i], nb_data_f32(z2->grad)[i], 1e-5, 1e-7),
                      "grad[%d]: %g vs %g", i, (double)nb_data_f32(z1->grad)[i],
                      (double)nb_data_f32(z2->grad)[i]);
    /* none: each row's -logp[t], 0 for the ignored; sum: their sum */
    nb_tensor *lsm = nb_log_softmax(z1, -1);
    nb_tensor *each = nb_nll_loss(lsm, targets, -100, NB_REDUCE_NONE),
              *sum = nb_nll_loss(lsm, targets, -100, NB_REDUCE_SUM);
    ck_assert(each && sum && each->ndim == 2 && each->shape[1] == 3);
    for (int r = 0; r < 6; r++)
        ck_assert_float_eq(nb_data_f32(each)[r], tv[r] == -100 ? 0.0f : -nb_data_f32(lsm)[r * 5 + tv[r]]);
    ck_assert(nb_close(nb_item(sum), 4 * nb_item(a), 1e-6, 1e-6));
    /* the mean is over the 4 counted rows, and an ignored row gets no gradient */
    double want = 0;
    for (int r = 0; r < 6; r++)
        if (tv[r] != -100) want -= nb_data_f32(nb_log_softmax(z1, -1))[r * 5 + tv[r]];
    ck_assert(nb_close(nb_item(a), want / 4, 1e-6, 1e-7));
    for (int k = 0; k < 5; k++)
        ck_assert_float_eq(nb_data_f32(z1->grad)[1 * 5 + k], 0.0f);
}
END_TEST

static nb_tensor *targets_g;
static nb_tensor *gc_nll(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_nll_loss(in[0], targets_g, 1, NB_REDUCE_MEAN);
}

START_TEST(nll_gradcheck_and_all_ignored) {
    targets_g = nb_from_data(ctx, NB_I32, NB_SHAPE(4), (const int[]){0, 1, 3, 2});
    nb_tensor *logp = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4, 4), 0, 1, &rng), true);
    ck_assert_msg(nb_gradcheck(gc_nll, &logp, 1, NULL, NULL) == 1, "%s", nb_last_error());
    /* every target ignored: 0 and zero gradients, as nb_cross_entropy */
    nb_tensor *all = nb_from_data(ctx, NB_I32, NB_SHAPE(4), (const int[]){7, 7, 7, 7});
    nb_zero_grad(logp);
    nb_tensor *y = nb_nll_loss(logp, all, 7, NB_REDUCE_MEAN);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(nb_item(y) == 0.0f && !signbit(nb_item(y)), "all ignored: %g", nb_item(y));
    ck_assert_int_eq(nb_backward(y), 0);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(nb_data_f32(logp->grad)[i], 0.0f);
    /* an ignored row adds nothing even when it holds -inf and NaN (the product 0 * -inf would) */
    nb_tensor *bad = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){-INFINITY, NAN, -0.5f, -1.0f});
    nb_requires_grad_(bad, true);
    y = nb_nll_loss(bad, nb_from_data(ctx, NB_I32, NB_SHAPE(2), (const int[]){-100, 1}), -100,
                    NB_REDUCE_MEAN);
    ck_assert_ptr_nonnull(y);
    ck_assert_float_eq(nb_item(y), 1.0f);
    ck_assert_int_eq(nb_backward(y), 0);
    const float wantg[4] = {0, 0, 0, -1};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(nb_data_f32(bad->grad)[i] == wantg[i], "grad[%d] = %g", i,
                      (double)nb_data_f32(bad->grad)[i]);
}
END_TEST

static void want_error(nb_tensor *r, const char *prefix, const char *what);

/* label smoothing against -sum q log softmax in double, q = (1 - s) onehot + s / C, over the
 * counted rows of a [2,3,5] batch; its gradient by finite differences; s = 0 and the errors */
static nb_tensor *ls_targets;
static int gc_ls_r;
static nb_tensor *gc_ls(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_cross_entropy_smooth(in[0], ls_targets, -100, 0.3f, (nb_reduction)gc_ls_r);
}

START_TEST(label_smoothing) {
    const int tv[6] = {4, -100, 0, 2, 3, 1};
    ls_targets = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), tv);
    nb_tensor *z = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3, 5), 0, 2, &rng), true);
    for (int k = 0; k < 3; k++) {
        const float s = k == 0 ? 0.0f : k == 1 ? 0.1f : 1.0f;
        nb_tensor *y = nb_cross_entropy_smooth(z, ls_targets, -100, s, NB_REDUCE_MEAN);
        nb_tensor *ysum = nb_cross_entropy_smooth(z, ls_targets, -100, s, NB_REDUCE_SUM);
        nb_tensor *rows = nb_cross_entropy_smooth(z, ls_targets, -100, s, NB_REDUCE_NONE);
        ck_assert_msg(y && ysum && rows && rows->ndim == 2 && rows->shape[1] == 3, "%s", nb_last_error());
        double want = 0;
        for (int r = 0; r < 6; r++) {
            if (tv[r] == -100) {
                ck_assert_float_eq(nb_data_f32(rows)[r], 0.0f);
                continue;
            }
            const double before = want;
            const float *x = nb_data_f32(z) + r * 5;
            double m = -INFINITY, se = 0;
            for (int j = 0; j < 5; j++)
                m = x[j] > m ? x[j] : m;
            for (int j = 0; j < 5; j++)
                se += exp(x[j] - m);
            const double lse = m + log(se);
            for (int j = 0; j < 5; j++)
                want += ((j == tv[r] ? 1 - s : 0) + s / 5) * (lse - x[j]);
            ck_assert_msg(nb_close(nb_data_f32(rows)[r], want - before, 1e-5, 1e-6),
                          "s %g row %d: %g, want %g", (double)s, r, (double)nb_data_f32(rows)[r],
                          want - before);
        }
        ck_assert_msg(nb_close(nb_item(ysum), want, 1e-5, 1e-5), "s %g sum: %g, want %g", (double)s,
                      nb_item(ysum), want);
        want /= 5;
        ck_assert_msg(nb_close(nb_item(y), want, 1e-5, 1e-6), "s %g: %g, want %g", (double)s, nb_item(y),
                      want);
    }
    /* a step of 1e-2: the sum is 5 times the mean, and so is the rounding noise of a difference */
    const nb_gradcheck_opts go = {.eps = 1e-2, .atol = 1e-3, .rtol = 1e-2};
    for (gc_ls_r = 0; gc_ls_r < 3; gc_ls_r++)
        ck_assert_msg(nb_gradcheck(gc_ls, &z, 1, NULL, &go) == 1, "reduction %d: %s", gc_ls_r,
                      nb_last_error());
    nb_tensor *all =
        nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), (const int[]){-100, -100, -100, -100, -100, -100});
    nb_tensor *y0 = nb_cross_entropy_smooth(z, all, -100, 0.2f, NB_REDUCE_MEAN);
    ck_assert(y0 && nb_item(y0) == 0);
    want_error(nb_cross_entropy_smooth(z, ls_targets, -100, 1.5f, NB_REDUCE_MEAN),
               "cross_entropy_smooth: label smoothing 1.5 is outside [0, 1]", "s 1.5");
    want_error(
        nb_cross_entropy_smooth(z, nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), (const int[]){0, 0, 9, 0, 0, 0}),
                                -100, 0.1f, NB_REDUCE_MEAN),
        "cross_entropy_smooth: target 9", "target out of range");
}
END_TEST

static void want_error(nb_tensor *r, const char *prefix, const char *what) {
    ck_assert_msg(r == NULL, "%s: no error", what);
    ck_assert_msg(strncmp(nb_last_error(), prefix, strlen(prefix)) == 0,
                  "%s: error \"%s\", want it to start \"%s\"", what, nb_last_error(), prefix);
    nb_clear_error();
}

START_TEST(errors_name_the_loss) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3)), *b = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 2));
    nb_tensor *i3 = nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3));
    want_error(nb_mse_loss(a, b, NB_REDUCE_MEAN), "mse_loss: pred [2,3] and target [3,2] differ in shape",
               "mse shapes");
    want_error(nb_l1_loss(a, nb_zeros(ctx, NB_F32, NB_SHAPE(3)), NB_REDUCE_MEAN), "l1_loss: pred",
               "l1 broadcast refused");
    want_error(nb_bce_with_logits(a, i3, NB_REDUCE_MEAN), "bce_with_logits:", "bce i32 target");
    want_error(nb_huber_loss(a, a, 0.0f, NB_REDUCE_MEAN), "huber_loss: delta 0", "huber delta 0");
    want_error(nb_huber_loss(a, a, NAN, NB_REDUCE_MEAN), "huber_loss: delta", "huber delta NaN");
    want_error(nb_mse_loss(NULL, a, NB_REDUCE_MEAN), "mse_loss: NULL input 0", "NULL pred");
    nb_tensor *t = nb_from_data(ctx, NB_I32, NB_SHAPE(2), (const int[]){1, 3});
    want_error(nb_nll_loss(a, t, -100, NB_REDUCE_MEAN), "nll_loss: target 3 at position 1 is out of range",
               "nll target 3 of 3 classes");
    want_error(
        nb_nll_loss(a, nb_from_data(ctx, NB_I32, NB_SHAPE(2), (const int[]){-1, 0}), -100, NB_REDUCE_MEAN),
        "nll_loss:", "nll target -1");
    want_error(nb_nll_loss(a, i3, -100, NB_REDUCE_MEAN),
               "nll_loss: log-probabilities [2,3] do not match targets [2,3]", "nll shapes");
    want_error(nb_nll_loss(a, nb_zeros(ctx, NB_F32, NB_SHAPE(2)), -100, NB_REDUCE_MEAN),
               "nll_loss:", "nll f32 targets");
    /* more classes than f32 counts exactly (a broadcast view: no memory) */
    nb_tensor *wide =
        nb_expand(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 1)), 2, (const int64_t[]){1, (1 << 24) + 2});
    want_error(nb_nll_loss(wide, nb_zeros(ctx, NB_I32, NB_SHAPE(1)), -100, NB_REDUCE_MEAN),
               "nll_loss: 16777218 classes is more than f32 can index exactly", "nll 2^24 + 2 classes");
    /* an earlier failure passes through with its own message */
    nb_set_error("earlier");
    ck_assert_ptr_null(nb_mse_loss(NULL, a, NB_REDUCE_MEAN));
    ck_assert_str_eq(nb_last_error(), "earlier");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_loss");
    TCase *tc = tcase_create("loss");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, value_against_reference, 0, N_CASES);
    tcase_add_loop_test(tc, gradients_through_both_inputs, 0, N_CASES);
    tcase_add_test(tc, gradients_at_the_kinks);
    tcase_add_test(tc, bce_with_logits_extreme);
    tcase_add_test(tc, bce_with_logits_infinite);
    tcase_add_test(tc, bce_with_logits_gradient_tails);
    tcase_add_test(tc, nll_matches_cross_entropy);
    tcase_add_test(tc, nll_gradcheck_and_all_ignored);
    tcase_add_test(tc, errors_name_the_loss);
    tcase_add_test(tc, label_smoothing);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
