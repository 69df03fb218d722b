/* tests/test_ops_nn.c - softmax, log_softmax and cross_entropy: forward against plain
 * double-precision loops written here, on contiguous and non-contiguous inputs; every backward
 * through nb_gradcheck; error messages. layer_norm, embedding and dropout are tested in
 * test_ops_nn_layers.c. */
#include "tests/nb_check.h"

#include <math.h>
#include <stdint.h>

#include "nabla.h"
#include "tests/ops_nn_check.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Reference softmax of a row-major [outer, n, inner] array along the middle axis, in double. */
static void ref_softmax(const float *x, double *y, int64_t outer, int64_t n, int64_t inner, int lg) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double m = -INFINITY, s = 0;
            for (int64_t j = 0; j < n; j++)
                m = fmax(m, x[(o * n + j) * inner + in]);
            for (int64_t j = 0; j < n; j++)
                s += exp(x[(o * n + j) * inner + in] - m);
            for (int64_t j = 0; j < n; j++) {
                double v = x[(o * n + j) * inner + in] - m;
                y[(o * n + j) * inner + in] = lg ? v - log(s) : exp(v) / s;
            }
        }
}

/* Checks softmax (or log_softmax) of a along dim against the reference. */
static void check_softmax(nb_ctx *ctx, nb_tensor *a, int dim, int lg) {
    nb_tensor *y = lg ? nb_log_softmax(a, dim) : nb_softmax(a, dim);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert(nb_same_shape(y, a));
    int d = dim < 0 ? dim + a->ndim : dim;
    int64_t outer = 1, inner = 1, n = a->shape[d];
    for (int i = 0; i < d; i++)
        outer *= a->shape[i];
    for (int i = d + 1; i < a->ndim; i++)
        inner *= a->shape[i];
    const float *x = host(ctx, a), *got = host(ctx, y);
    int64_t total = nb_numel(a);
    double *want = malloc(sizeof(double) * (size_t)total);
    ref_softmax(x, want, outer, n, inner, lg);
    expect_close(got, want, total, 1e-5, 1e-6);
    free(want);
}

/* ---- softmax ------------------------------------------------------------------------------- */

START_TEST(test_softmax_forward) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 1);
    nb_tensor *a = randn(ctx, &r, NB_SHAPE(3, 4, 5));
    for (int lg = 0; lg < 2; lg++) {
        for (int dim = -3; dim < 3; dim++)
            check_softmax(ctx, a, dim, lg);
        /* non-contiguous: permuted and sliced views */
        nb_tensor *b = randn(ctx, &r, NB_SHAPE(5, 3, 4));
        nb_tensor *p = nb_permute(b, (const int[]){1, 2, 0});
        ck_assert(!nb_is_contiguous(p));
        for (int dim = 0; dim < 3; dim++)
            check_softmax(ctx, p, dim, lg);
        nb_tensor *s = nb_slice(randn(ctx, &r, NB_SHAPE(6, 9)), 1, 1, 9, 2);
        ck_assert(!nb_is_contiguous(s));
        check_softmax(ctx, s, 1, lg);
        check_softmax(ctx, s, 0, lg);
        /* a long row (vectorised path with a tail) and a 1-D tensor */
        check_softmax(ctx, randn(ctx, &r, NB_SHAPE(3, 1037)), -1, lg);
        check_softmax(ctx, randn(ctx, &r, NB_SHAPE(7)), 0, lg);
        /* large rows with many threads' worth of work */
        check_softmax(ctx, randn(ctx, &r, NB_SHAPE(64, 1024)), 1, lg);
    }
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_softmax_stable) {
    nb_ctx *ctx = nb_ctx_new(0);
    float v[8] = {1000, 1001, 1002, -1000, -INFINITY, 0, 3, -INFINITY};
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 4), v);
    const float *y = host(ctx, nb_softmax(a, 1));
    double e = exp(1.0), s = 1 + e + e * e;
    ck_assert(nb_close(y[0], 1 / s, 1e-5, 1e-7) && nb_close(y[2], e * e / s, 1e-5, 1e-7));
    ck_assert(y[3] == 0.0f);
    ck_assert(y[4] == 0.0f && y[7] == 0.0f);
    ck_assert(nb_close(y[6], exp(3.0) / (1 + exp(3.0)), 1e-5, 1e-7));
    const float *l = host(ctx, nb_log_softmax(a, 1));
    ck_assert(nb_close(l[3], -2000 - log(s), 1e-5, 1e-3));
    ck_assert(isinf(l[4]) && l[4] < 0);
    for (int i = 0; i < 8; i++)
        ck_assert(!isnan(y[i]));
    nb_ctx_free(ctx);
}
END_TEST

/* Logits far from 0 (1e6 + a few, 1e8 + a few, -FLT_MAX): log_softmax, the cross-entropy loss
 * and its gradient as precise as near 0. max + log(sum) rounds to the max's ulp (0.06 at 1e6),
 * so x - (max + log sum) lost every digit; (x - max) - log sum does not. */
START_TEST(test_log_softmax_far_from_zero) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx_use(ctx);
    const float base[3] = {1e6f, -1e8f, -3.4028235e38f};
    for (int b = 0; b < 3; b++) {
        float v[6];
        for (int j = 0; j < 6; j++)
            v[j] = b == 2 ? base[b] : base[b] + (b == 0 ? 0.75f : 8.0f) * (float)j;
        double m = v[0], s = 0;
        for (int j = 0; j < 6; j++)
            m = fmax(m, v[j]);
        for (int j = 0; j < 6; j++)
            s += exp((double)v[j] - m);
        nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1, 6), v), true);
        const float *l = host(ctx, nb_log_softmax(x, 1));
        for (int j = 0; j < 6; j++) {
            double want = ((double)v[j] - m) - log(s);
            ck_assert_msg(fabs(l[j] - want) <= 1e-6 * (1 + fabs(want)), "base %g, j %d: %.9g vs %.9g",
                          (double)base[b], j, (double)l[j], want);
        }
        nb_tensor *t = nb_from_data(ctx, NB_I32, NB_SHAPE(1), (const int32_t[]){2});
        nb_tensor *loss = nb_cross_entropy(x, t, -1);
        double want = log(s) - ((double)v[2] - m);
        ck_assert_msg(fabs(nb_item(loss) - want) <= 1e-6 * (1 + want), "base %g: loss %.9g vs %.9g",
                      (double)base[b], nb_item(loss), want);
        ck_assert_int_eq(nb_backward(loss), 0);
        for (int j = 0; j < 6; j++) {
            double g = exp((double)v[j] - m) / s - (j == 2);
            ck_assert_msg(fabs(nb_data_f32(x->grad)[j] - g) <= 1e-6, "base %g: grad %d %.9g vs %.9g",
                          (double)base[b], j, (double)nb_data_f32(x->grad)[j], g);
        }
    }
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}
END_TEST

static nb_tensor *fn_softmax_last(nb_tensor **in, int n, void *u) {
    (void)n;
    return *(int *)u ? nb_log_softmax(in[0], -1) : nb_softmax(in[0], -1);
}
static nb_tensor *fn_softmax_dim0_view(nb_tensor **in, int n, void *u) {
    (void)n;
    nb_tensor *t = nb_transpose(in[0], 0, 2); /* [4,3,2] view of a [2,3,4] leaf */
    return *(int *)u ? nb_log_softmax(t, 0) : nb_softmax(t, 0);
}
static nb_tensor *fn_softmax_twice(nb_tensor **in, int n, void *u) {
    (void)n;
    nb_tensor *y = *(int *)u ? nb_log_softmax(in[0], 1) : nb_softmax(in[0], 1);
    return nb_mul(y, in[0]); /* x used twice */
}

START_TEST(test_softmax_grad) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 2);
    for (int lg = 0; lg < 2; lg++) {
        nb_tensor *x = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(3, 5)), true);
        ck_assert_int_eq(nb_gradcheck(fn_softmax_last, &x, 1, &lg, NULL), 1);
        nb_tensor *y = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(2, 3, 4)), true);
        ck_assert_msg(nb_gradcheck(fn_softmax_dim0_view, &y, 1, &lg, NULL) == 1, "%s", nb_last_error());
        ck_assert_msg(nb_gradcheck(fn_softmax_twice, &x, 1, &lg, NULL) == 1, "%s", nb_last_error());
    }
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_softmax_errors) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    expect_error(nb_softmax(a, 2), "softmax");
    expect_error(nb_log_softmax(a, -3), "log_softmax");
    expect_error(nb_softmax(nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3)), 0), "softmax");
    nb_clear_error();
    ck_assert_ptr_null(nb_softmax(NULL, 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "NULL input"));
    nb_ctx_free(ctx);
}
END_TEST

/* ---- cross-entropy ----------------------------------------------------------------------------- */

/* Mean cross-entropy over non-ignored rows in double (0 when none). */
static double ref_xent(const float *x, const int32_t *t, int64_t N, int64_t C, int ignore) {
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t r = 0; r < N; r++) {
        if (t[r] == ignore) continue;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            m = fmax(m, x[r * C + j]);
        for (int64_t j = 0; j < C; j++)
            s += exp(x[r * C + j] - m);
        sum += m + log(s) - x[r * C + t[r]];
        cnt++;
    }
    return cnt ? sum / (double)cnt : 0.0;
}

START_TEST(test_cross_entropy_forward) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 7);
    int32_t t[12] = {2, 0, -100, 4, 1, 1, -100, 3, 0, 4, 2, 2};
    nb_tensor *x = nb_mul_scalar(randn(ctx, &r, NB_SHAPE(12, 5)), 3.0f);
    const float *hx = host(ctx, x);
    nb_tensor *tt = nb_from_data(ctx, NB_I32, NB_SHAPE(12), t);
    nb_tensor *l = nb_cross_entropy(x, tt, -100);
    ck_assert_msg(l != NULL, "%s", nb_last_error());
    ck_assert_int_eq(l->ndim, 0);
    ck_assert(nb_close(nb_item(l), ref_xent(hx, t, 12, 5, -100), 1e-5, 1e-6));
    /* no ignored rows when ignore_index matches nothing (-100 is then a bad target) */
    t[2] = t[6] = 1;
    tt = nb_from_data(ctx, NB_I32, NB_SHAPE(12), t);
    ck_assert(nb_close(nb_item(nb_cross_entropy(x, tt, -1)), ref_xent(hx, t, 12, 5, -1), 1e-5, 1e-6));
    /* [B,T,C] logits with [B,T] targets and with flat [N] targets; non-contiguous logits */
    nb_tensor *x3 = nb_reshape(x, NB_SHAPE(3, 4, 5));
    nb_tensor *t2 = nb_from_data(ctx, NB_I32, NB_SHAPE(3, 4), t);
    double want = ref_xent(hx, t, 12, 5, 0);
    ck_assert(nb_close(nb_item(nb_cross_entropy(x3, t2, 0)), want, 1e-5, 1e-6));
    ck_assert(nb_close(nb_item(nb_cross_entropy(x3, tt, 0)), want, 1e-5, 1e-6));
    nb_tensor *xt = nb_transpose(randn(ctx, &r, NB_SHAPE(5, 12)), 0, 1);
    ck_assert(
        nb_close(nb_item(nb_cross_entropy(xt, tt, 4)), ref_xent(host(ctx, xt), t, 12, 5, 4), 1e-5, 1e-6));
    /* every target ignored: loss 0, gradient 0 */
    int32_t all[3] = {-1, -1, -1};
    nb_tensor *xa = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(3, 4)), true);
    nb_tensor *la = nb_cross_entropy(xa, nb_from_data(ctx, NB_I32, NB_SHAPE(3), all), -1);
    ck_assert(nb_item(la) == 0.0);
    ck_assert_int_eq(nb_backward(la), 0);
    const float *ga = host(ctx, xa->grad);
    for (int i = 0; i < 12; i++)
        ck_assert(ga[i] == 0.0f);
    nb_ctx_free(ctx);
}
END_TEST

/* A Baby GPT-sized vocabulary: loss and dlogits against double references. */
START_TEST(test_cross_entropy_large) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 8);
    const int64_t N = 12, C = 50257;
    nb_tensor *x = nb_requires_grad_(nb_detach(nb_mul_scalar(randn(ctx, &r, NB_SHAPE(N, C)), 2.0f)), true);
    int32_t t[12];
    for (int i = 0; i < N; i++)
        t[i] = (int32_t)((i * 7919 + 13) % C);
    t[5] = -100;
    nb_tensor *l = nb_cross_entropy(x, nb_from_data(ctx, NB_I32, NB_SHAPE(N), t), -100);
    const float *hx = nb_data_f32(x);
    ck_assert(nb_close(nb_item(l), ref_xent(hx, t, N, C, -100), 1e-5, 1e-6));
    ck_assert_int_eq(nb_backward(l), 0);
    const float *g = nb_data_f32(x->grad);
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            m = fmax(m, hx[i * C + j]);
        for (int64_t j = 0; j < C; j++)
            s += exp(hx[i * C + j] - m);
        for (int64_t j = 0; j < C; j++) {
            double want = t[i] == -100 ? 0 : (exp(hx[i * C + j] - m) / s - (j == t[i])) / (N - 1);
            ck_assert_msg(nb_close(g[i * C + j], want, 1e-4, 1e-9), "row %lld col %lld: %g vs %g",
                          (long long)i, (long long)j, (double)g[i * C + j], want);
        }
    }
    nb_ctx_free(ctx);
}
END_TEST

typedef struct {
    nb_tensor *t;
    int ignore;
} xent_args;
static nb_tensor *fn_xent(nb_tensor **in, int n, void *u) {
    (void)n;
    const xent_args *a = u;
    return nb_cross_entropy(in[0], a->t, a->ignore);
}
static nb_tensor *fn_xent_view_twice(nb_tensor **in, int n, void *u) {
    (void)n;
    const xent_args *a = u;
    nb_tensor *xt = nb_transpose(in[0], 0, 1); /* [6,4] view of a [4,6] leaf */
    return nb_add(nb_cross_entropy(xt, a->t, a->ignore), nb_mul_scalar(nb_sum_all(xt), 0.1f));
}

START_TEST(test_cross_entropy_grad) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 9);
    int32_t t[6] = {1, 3, -1, 0, 3, 2};
    xent_args a = {nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), t), -1};
    nb_tensor *x = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(2, 3, 4)), true);
    ck_assert_msg(nb_gradcheck(fn_xent, &x, 1, &a, NULL) == 1, "%s", nb_last_error());
    a.t = nb_from_data(ctx, NB_I32, NB_SHAPE(6), t);
    nb_tensor *y = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(4, 6)), true);
    ck_assert_msg(nb_gradcheck(fn_xent_view_twice, &y, 1, &a, NULL) == 1, "%s", nb_last_error());
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_cross_entropy_errors) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 5));
    int32_t t[4] = {0, 4, 5, 1};
    expect_error(nb_cross_entropy(x, nb_from_data(ctx, NB_I32, NB_SHAPE(4), t), -100), "target 5 at row 2");
    t[2] = -3;
    expect_error(nb_cross_entropy(x, nb_from_data(ctx, NB_I32, NB_SHAPE(4), t), -100), "row 2");
    expect_error(nb_cross_entropy(x, nb_zeros(ctx, NB_I32, NB_SHAPE(3)), -100), "cross_entropy: targets [3]");
    expect_error(nb_cross_entropy(x, nb_zeros(ctx, NB_F32, NB_SHAPE(4)), -100), "cross_entropy");
    expect_error(
        nb_cross_entropy(nb_zeros(ctx, NB_I32, NB_SHAPE(4, 5)), nb_zeros(ctx, NB_I32, NB_SHAPE(4)), 0),
        "cross_entropy");
    expect_error(
        nb_cross_entropy(nb_zeros(ctx, NB_F32, NB_SHAPE(4, 0)), nb_zeros(ctx, NB_I32, NB_SHAPE(4)), 0),
        "cross_entropy");
    nb_ctx_free(ctx);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_nn");
    TCase *tc = tcase_create("nn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_softmax_forward);
    tcase_add_test(tc, test_softmax_stable);
    tcase_add_test(tc, test_log_softmax_far_from_zero);
    tcase_add_test(tc, test_softmax_grad);
    tcase_add_test(tc, test_softmax_errors);
    tcase_add_test(tc, test_cross_entropy_forward);
    tcase_add_test(tc, test_cross_entropy_large);
    tcase_add_test(tc, test_cross_entropy_grad);
    tcase_add_test(tc, test_cross_entropy_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
