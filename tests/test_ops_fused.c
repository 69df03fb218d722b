/* test_ops_fused.c - the speed-oriented kernels keep their contracts:
 *   - GELU's vectorised tanh: forward and derivative against a double-precision reference over
 *     the whole line (contiguous, strided and broadcast-bias inputs), gradcheck through x + b;
 *   - dropout's vectorised Philox: bit-identical to the definition (lane i%4 of
 *     nb_philox(seed, offset + i/4)), for sizes around the vector widths and an offset that
 *     wraps the low 32-bit word of the counter;
 *   - the vectorised AdamW: bit-identical to the scalar update written out here;
 *   - the thread setting bounds OpenMP's default too (the GEMM's team). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static double r_gelu(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

static double r_gelu_df(double x) {
    double k = sqrt(2 / M_PI), t = tanh(k * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
}

START_TEST(gelu_forward_backward_whole_line) {
    nb_ctx *c = nb_ctx_new(0);
    int64_t n = 200001;
    nb_tensor *x = nb_arange(c, NB_F32, -20.0, 20.0, 40.0 / (double)n);
    ck_assert_ptr_nonnull(x);
    n = nb_numel(x);
    nb_requires_grad_(x, true);
    nb_tensor *y = nb_gelu(x);
    ck_assert_ptr_nonnull(y);
    nb_tensor *g = nb_randn(c, 1, &n, 0, 1, NULL);
    ck_assert_int_eq(nb_backward_with(y, g), 0);
    const float *X = nb_data_f32(x), *Y = nb_data_f32(y), *G = nb_data_f32(g), *GX = nb_data_f32(x->grad);
    for (int64_t i = 0; i < n; i++) {
        double xr = X[i], ry = r_gelu(xr), rd = G[i] * r_gelu_df(xr);
        ck_assert_msg(fabs(Y[i] - ry) <= 1e-6 + 1e-6 * fabs(ry), "gelu(%g) = %.9g, expected %.9g", xr,
                      (double)Y[i], ry);
        /* in the tails 1 +- tanh is resolved only to float's spacing near 1 (6e-8): an absolute
         * error of ~1e-5 of the incoming gradient there, as with libm's tanhf */
        ck_assert_msg(fabs(GX[i] - rd) <= 1e-5 * fabs(G[i]) + 1e-5 * fabs(rd),
                      "gelu'(%g) * g = %.9g, expected %.9g", xr, (double)GX[i], rd);
    }
    ck_assert(fabsf(Y[0]) < 1e-30f); /* far left: 0 */
    nb_ctx_free(c);
}
END_TEST

START_TEST(gelu_strided_matches_contiguous) {
    nb_ctx *c = nb_ctx_new(0);
    nb_tensor *x = nb_randn(c, NB_SHAPE(64, 48), 0, 2, NULL);
    nb_tensor *xt = nb_transpose(x, 0, 1); /* [48,64], strided */
    nb_tensor *a = nb_gelu(xt), *b = nb_gelu(nb_contiguous(xt));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (int64_t i = 0; i < 48; i++)
        for (int64_t j = 0; j < 64; j++) {
            double u = nb_get(a, (int64_t[]){i, j}), v = nb_get(b, (int64_t[]){i, j});
            ck_assert_msg(u == v, "strided gelu differs at (%lld,%lld): %g vs %g", (long long)i, (long long)j,
                          u, v);
            ck_assert(fabs(u - r_gelu(nb_get(x, (int64_t[]){j, i}))) < 1e-5);
        }
    nb_ctx_free(c);
}
END_TEST

static nb_tensor *bias_gelu(nb_tensor **in, int n, void *user) {
    (void)n, (void)user;
    return nb_gelu(nb_add(in[0], in[1]));
}

START_TEST(gelu_bias_gradcheck) {
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(c);
    nb_tensor *in[2] = {nb_requires_grad_(nb_randn(c, NB_SHAPE(6, 5), 0, 1.5f, NULL), true),
                        nb_requires_grad_(nb_randn(c, NB_SHAPE(5), 0, 0.5f, NULL), true)};
    nb_gradcheck_opts o = {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-2, .seed = 3};
    ck_assert_msg(nb_gradcheck(bias_gelu, in, 2, NULL, &o) == 1, "%s", nb_last_error());
    nb_ctx_use(prev);
    nb_ctx_free(c);
}
END_TEST

START_TEST(dropout_matches_philox_definition) {
    nb_ctx *c = nb_ctx_new(0);
    const int64_t sizes[] = {1, 3, 4, 5, 63, 64, 65, 127, 4103, 100003};
    const float ps[] = {0.1f, 0.5f, 0.9f, 1e-7f};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++) {
            int64_t n = sizes[si];
            float p = ps[pi], scale = 1.0f / (1.0f - p);
            nb_rng r = {0x1234567890abcdefULL + si, 0xfffffff0ULL - 5}; /* wraps the low word */
            nb_rng r0 = r;
            nb_tensor *x = nb_randn(c, 1, &n, 0, 1, NULL);
            nb_tensor *y = nb_dropout(x, p, true, &r);
            ck_assert_ptr_nonnull(y);
            ck_assert_uint_eq(r.offset, r0.offset + (uint64_t)(n + 3) / 4);
            const float *X = nb_data_f32(x), *Y = nb_data_f32(y);
            for (int64_t i = 0; i < n; i++) {
                uint32_t w[4];
                nb_philox(r0.seed, r0.offset + (uint64_t)(i / 4), w);
                float u = (float)(w[i % 4] >> 8) * (1.0f / 16777216.0f);
                float e = u >= p ? X[i] * scale : 0.0f;
                ck_assert_msg(memcmp(&e, &Y[i], sizeof e) == 0,
                              "n=%lld p=%g element %lld: %.9g, expected %.9g", (long long)n, (double)p,
                              (long long)i, (double)Y[i], (double)e);
            }
        }
    nb_ctx_free(c);
}
END_TEST

START_TEST(adamw_bit_identical_to_scalar) {
    nb_ctx *c = nb_ctx_new(0);
    const int64_t sizes[] = {1, 15, 16, 17, 1000, 70001};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int64_t n = sizes[si];
        nb_tensor *p = nb_randn(c, 1, &n, 0, 0.02f, NULL), *g = nb_randn(c, 1, &n, 0, 1e-2f, NULL);
        nb_tensor *m = nb_randn(c, 1, &n, 0, 1e-3f, NULL), *v = nb_rand(c, 1, &n, 0, 1e-4f, NULL);
        ck_assert_ptr_nonnull(v);
        float *rp = malloc(sizeof(float) * (size_t)n * 3), *rm = rp + n, *rv = rp + 2 * n;
        memcpy(rp, nb_data_f32(p), sizeof(float) * (size_t)n);
        memcpy(rm, nb_data_f32(m), sizeof(float) * (size_t)n);
        memcpy(rv, nb_data_f32(v), sizeof(float) * (size_t)n);
        const float lr = 3e-4f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
        for (int64_t step = 1; step <= 3; step++) {
            ck_assert_int_eq(nb_adamw_update_(p, g, m, v, lr, b1, b2, eps, wd, step), 0);
            float bc1 = 1.0f - powf(b1, (float)step), bc2 = 1.0f - powf(b2, (float)step);
            const float *G = nb_data_f32(g);
            float st = lr / bc1, sbc2 = sqrtf(bc2), decay = 1.0f - lr * wd;
            for (int64_t i = 0; i < n; i++) { /* the update as nabla defines it, scalar */
                volatile float mi = b1 * rm[i] + (1.0f - b1) * G[i];
                volatile float vi = b2 * rv[i] + (1.0f - b2) * G[i] * G[i];
                rm[i] = mi;
                rv[i] = vi;
                volatile float den = sqrtf(vi) / sbc2 + eps;
                volatile float num = st * mi;
                volatile float a = rp[i] * decay;
                rp[i] = a - num / den;
            }
            ck_assert(memcmp(rp, nb_data_f32(p), sizeof(float) * (size_t)n) == 0);
            ck_assert(memcmp(rm, nb_data_f32(m), sizeof(float) * (size_t)n) == 0);
            ck_assert(memcmp(rv, nb_data_f32(v), sizeof(float) * (size_t)n) == 0);
        }
        free(rp);
    }
    nb_ctx_free(c);
}
END_TEST

START_TEST(threads_bound_openmp_default) {
    int before = nb_get_num_threads();
    nb_set_num_threads(1);
    ck_assert_int_eq(nb_get_num_threads(), 1);
    ck_assert_int_eq(omp_get_max_threads(), 1);
    nb_set_num_threads(before);
    ck_assert_int_eq(omp_get_max_threads(), before);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_fused");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, gelu_forward_backward_whole_line);
    tcase_add_test(t, gelu_strided_matches_contiguous);
    tcase_add_test(t, gelu_bias_gradcheck);
    tcase_add_test(t, dropout_matches_philox_definition);
    tcase_add_test(t, adamw_bit_identical_to_scalar);
    tcase_add_test(t, threads_bound_openmp_default);
    suite_add_tcase(s, t);
    return s;
}

NB_CHECK_MAIN()
