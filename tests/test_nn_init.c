/* Tensor initialisers (nn/init.c) against torch.nn.init's rules: gains and fans as torch computes
 * them, the bounds and spread of the Xavier and Kaiming draws, the truncated normal's range and
 * moments, orthogonality, reproducibility from a seed, and the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static void setup(void) {
    ctx = nb_ctx_new(0);
    nb_clear_error();
}
static void teardown(void) { nb_ctx_free(ctx); }

static void moments(const nb_tensor *t, double *mean, double *std, double *lo, double *hi) {
    const float *v = nb_data_f32(t);
    const int64_t n = nb_numel(t);
    double s = 0, q = 0;
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        s += v[i], q += (double)v[i] * v[i];
        *lo = fmin(*lo, v[i]), *hi = fmax(*hi, v[i]);
    }
    *mean = s / (double)n;
    *std = sqrt(q / (double)n - *mean * *mean);
}

START_TEST(gains_and_fans) {
    ck_assert(nb_init_gain("linear", NAN) == 1.0 && nb_init_gain("conv2d", NAN) == 1.0);
    ck_assert(nb_init_gain("sigmoid", NAN) == 1.0);
    ck_assert(nb_init_gain("tanh", NAN) == 5.0 / 3.0);
    ck_assert(nb_init_gain("relu", NAN) == sqrt(2.0));
    ck_assert(nb_init_gain("selu", NAN) == 0.75);
    ck_assert(fabs(nb_init_gain("leaky_relu", NAN) - sqrt(2.0 / (1.0 + 1e-4))) < 1e-15);
    ck_assert(fabs(nb_init_gain("leaky_relu", 0.2) - sqrt(2.0 / 1.04)) < 1e-15);
    ck_assert(isnan(nb_init_gain("swish", NAN)));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_gain: unknown nonlinearity 'swish'"));
    int64_t fi, fo;
    ck_assert_int_eq(nb_init_fans(nb_zeros(ctx, NB_F32, NB_SHAPE(5, 3)), &fi, &fo), 0);
    ck_assert(fi == 3 && fo == 5); /* a Linear's [out, in] */
    ck_assert_int_eq(nb_init_fans(nb_zeros(ctx, NB_F32, NB_SHAPE(8, 4, 3, 3)), &fi, &fo), 0);
    ck_assert(fi == 36 && fo == 72); /* a Conv2d's [out, in, kh, kw] */
    ck_assert_int_eq(nb_init_fans(nb_zeros(ctx, NB_F32, NB_SHAPE(7)), &fi, &fo), -1);
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "init_fans: fan in and fan out need a weight of at least 2 dims"));
}
END_TEST

START_TEST(xavier_and_kaiming_spread) {
    nb_rng rng;
    nb_rng_init(&rng, 5);
    nb_tensor *w = nb_empty(ctx, NB_F32, NB_SHAPE(300, 200));
    double m, s, lo, hi;
    /* xavier uniform, gain 2: +-2 sqrt(6/500), std bound/sqrt(3) */
    const double a = 2.0 * sqrt(6.0 / 500.0);
    ck_assert_int_eq(nb_init_xavier_uniform_(w, 2.0, &rng), 0);
    moments(w, &m, &s, &lo, &hi);
    ck_assert(lo >= -a && hi <= a && hi > 0.99 * a && lo < -0.99 * a);
    ck_assert_msg(fabs(s - a / sqrt(3.0)) < 0.02 * a, "xavier uniform std %g", s);
    ck_assert_int_eq(nb_init_xavier_normal_(w, 1.0, &rng), 0);
    moments(w, &m, &s, &lo, &hi);
    ck_assert_msg(fabs(s - sqrt(2.0 / 500.0)) < 0.02 * sqrt(2.0 / 500.0) && fabs(m) < 0.003,
                  "xavier normal %g %g", m, s);
    /* kaiming: relu, fan_in 200 -> std sqrt(2/200); fan_out 300; torch's defaults (leaky_relu, a 0) */
    ck_assert_int_eq(nb_init_kaiming_normal_(w, 0, "fan_in", "relu", &rng), 0);
    moments(w, &m, &s, &lo, &hi);
    ck_assert_msg(fabs(s - 0.1) < 0.002, "kaiming normal std %g", s);
    ck_assert_int_eq(nb_init_kaiming_uniform_(w, 0, "fan_out", "relu", &rng), 0);
    moments(w, &m, &s, &lo, &hi);
    const double b = sqrt(3.0) * sqrt(2.0 / 300.0);
    ck_assert(lo >= -b && hi <= b && fabs(s - sqrt(2.0 / 300.0)) < 0.02 * sqrt(2.0 / 300.0));
    ck_assert_int_eq(nb_init_kaiming_uniform_(w, sqrt(5.0), NULL, NULL, &rng), 0); /* nn.Linear's own */
    moments(w, &m, &s, &lo, &hi);
    ck_assert(hi <= 1.0 / sqrt(200.0) && hi > 0.99 / sqrt(200.0));
    /* the same seed, the same tensor */
    nb_tensor *w2 = nb_empty(ctx, NB_F32, NB_SHAPE(300, 200));
    nb_rng r1, r2;
    nb_rng_init(&r1, 9), nb_rng_init(&r2, 9);
    ck_assert_int_eq(nb_init_xavier_normal_(w, 1.0, &r1), 0);
    ck_assert_int_eq(nb_init_xavier_normal_(w2, 1.0, &r2), 0);
    ck_assert_mem_eq(nb_data(w), nb_data(w2), 300 * 200 * 4);
    /* refusals */
    ck_assert_int_eq(nb_init_kaiming_normal_(w, 0, "fan_mid", "relu", &rng), -1);
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "init_kaiming_normal_: mode 'fan_mid' is not fan_in or fan_out"));
    ck_assert_int_eq(nb_init_kaiming_normal_(w, 0, NULL, "swish", &rng), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_kaiming_normal_: unknown nonlinearity 'swish'"));
    ck_assert_int_eq(nb_init_xavier_uniform_(nb_zeros(ctx, NB_F32, NB_SHAPE(4)), 1.0, &rng), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_xavier_uniform_: fan in and fan out need"));
    ck_assert_int_eq(nb_init_kaiming_normal_(nb_empty(ctx, NB_F32, NB_SHAPE(0, 5)), 0, "fan_out", NULL, &rng),
                     0);
    ck_assert_int_eq(nb_init_xavier_uniform_(nb_zeros(ctx, NB_I32, NB_SHAPE(4, 4)), 1.0, &rng), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_xavier_uniform_: tensor must be f32"));
}
END_TEST

START_TEST(truncated_normal) {
    nb_rng rng;
    nb_rng_init(&rng, 6);
    nb_tensor *t = nb_empty(ctx, NB_F32, NB_SHAPE(100000));
    double m, s, lo, hi;
    /* N(0, 1) truncated to [-2, 2]: variance 1 - 2 * 2 phi(2) / (2 Phi(2) - 1) */
    ck_assert_int_eq(nb_init_trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, &rng), 0);
    moments(t, &m, &s, &lo, &hi);
    const double phi2 = exp(-2.0) / sqrt(2.0 * M_PI), Z = erf(2.0 / sqrt(2.0));
    const double want = sqrt(1.0 - 4.0 * phi2 / Z);
    ck_assert(lo >= -2.0 && hi <= 2.0 && hi > 1.99);
    ck_assert_msg(fabs(m) < 0.01 && fabs(s - want) < 0.01, "trunc normal %g %g (want std %g)", m, s, want);
    /* one-sided, far in a tail: every value in [3, 10], mean about 3.28 */
    ck_assert_int_eq(nb_init_trunc_normal_(t, 0.0, 1.0, 3.0, 10.0, &rng), 0);
    moments(t, &m, &s, &lo, &hi);
    const double mills = exp(-4.5) / sqrt(2.0 * M_PI) / (0.5 * erfc(3.0 / sqrt(2.0)));
    ck_assert_msg(lo >= 3.0 && hi <= 10.0 && fabs(m - mills) < 0.01, "tail mean %g, want %g", m, mills);
    ck_assert_int_eq(nb_init_trunc_normal_(t, 0.0, 1.0, 2.0, -2.0, &rng), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_trunc_normal_: want std > 0 and a < b"));
}
END_TEST

START_TEST(orthogonal) {
    nb_rng rng;
    nb_rng_init(&rng, 7);
    const int64_t shapes[3][4] = {{6, 4}, {3, 7}, {4, 2, 3, 3}};
    const int nds[3] = {2, 2, 4};
    for (int k = 0; k < 3; k++) {
        nb_tensor *q = nb_empty(ctx, NB_F32, nds[k], shapes[k]);
        ck_assert_int_eq(nb_init_orthogonal_(q, 1.5, &rng), 0);
        const int64_t R = q->shape[0], C = nb_numel(q) / R;
        const float *v = nb_data_f32(q);
        const bool by_cols = R >= C; /* the fewer of rows and columns are orthonormal (times 1.5) */
        const int64_t n = by_cols ? C : R, len = by_cols ? R : C;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double d = 0;
                for (int64_t e = 0; e < len; e++)
                    d += by_cols ? (double)v[e * C + i] * v[e * C + j] : (double)v[i * C + e] * v[j * C + e];
                ck_assert_msg(fabs(d - (i == j ? 2.25 : 0.0)) < 1e-5, "shape %d: <%lld,%lld> = %g", k,
                              (long long)i, (long long)j, d);
            }
    }
    ck_assert_int_eq(nb_init_orthogonal_(nb_zeros(ctx, NB_F32, NB_SHAPE(5)), 1.0, &rng), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_orthogonal_: needs at least 2 dims"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_init");
    TCase *tc = tcase_create("init");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, gains_and_fans);
    tcase_add_test(tc, xavier_and_kaiming_spread);
    tcase_add_test(tc, truncated_normal);
    tcase_add_test(tc, orthogonal);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
