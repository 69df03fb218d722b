/* The composed activations (ops/activation.c): values against their formulas in double, torch's
 * gradients at the kinks (hardtanh and hardsigmoid 0 on their bounds, hardswish the middle
 * slope, ELU's and PReLU's slope at 0), gradients through gradcheck away from the kinks, the
 * modules, and errors. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 81);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static double r_elu(double x) { return x > 0 ? x : 0.7 * expm1(x); }
static double r_selu(double x) { return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * expm1(x)); }
static double r_hardtanh(double x) { return fmin(fmax(x, -1.5), 2.0); }
static double r_relu6(double x) { return fmin(fmax(x, 0), 6); }
static double r_hsig(double x) { return fmin(fmax(x + 3, 0), 6) / 6; }
static double r_hswish(double x) { return x * r_hsig(x); }
static double r_mish(double x) { return x * tanh(log1p(exp(x))); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }

static nb_tensor *elu07(nb_tensor *x) { return nb_elu(x, 0.7f); }
static nb_tensor *hardtanh_b(nb_tensor *x) { return nb_hardtanh(x, -1.5f, 2.0f); }

static const struct {
    const char *name;
    nb_tensor *(*op)(nb_tensor *);
    double (*ref)(double);
} acts[] = {{"elu", elu07, r_elu},
            {"selu", nb_selu, r_selu},
            {"hardtanh", hardtanh_b, r_hardtanh},
            {"relu6", nb_relu6, r_relu6},
            {"hardsigmoid", nb_hardsigmoid, r_hsig},
            {"hardswish", nb_hardswish, r_hswish},
            {"mish", nb_mish, r_mish},
            {"softsign", nb_softsign, r_softsign}};

START_TEST(values_against_formulas) {
    float v[41];
    for (int i = 0; i < 41; i++)
        v[i] = -10.0f + 0.5f * (float)i;
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(41), v);
    nb_tensor *y = acts[_i].op(x);
    ck_assert_msg(y != NULL, "%s: %s", acts[_i].name, nb_last_error());
    for (int i = 0; i < 41; i++) {
        const double want = acts[_i].ref(v[i]);
        ck_assert_msg(fabs(nb_data_f32(y)[i] - want) < 1e-5 * (1 + fabs(want)), "%s(%g) = %g, want %g",
                      acts[_i].name, (double)v[i], (double)nb_data_f32(y)[i], want);
    }
}
END_TEST

static int gc_i;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return gc_i < 8 ? acts[gc_i].op(in[0]) : nb_prelu(in[0], in[1]);
}

/* away from the kinks (points within 0.05 of one are moved), by finite differences */
START_TEST(gradients) {
    gc_i = _i;
    nb_tensor *in[2] = {nb_randn(ctx, NB_SHAPE(3, 4, 5), 0, 4, &rng), nb_randn(ctx, NB_SHAPE(4), 0, 1, &rng)};
    float *d = nb_data_f32(in[0]);
    const float kinks[] = {-3, -1.5f, 0, 2, 3, 6};
    for (int i = 0; i < 60; i++)
        for (int k = 0; k < 6; k++)
            if (fabsf(d[i] - kinks[k]) < 0.05f) d[i] += 0.1f;
    for (int i = 0; i < 2; i++)
        nb_requires_grad_(in[i], true);
    ck_assert_msg(nb_gradcheck(gc_fn, in, _i < 8 ? 1 : 2, NULL, NULL) == 1, "%s: %s",
                  _i < 8 ? acts[_i].name : "prelu", nb_last_error());
}
END_TEST

/* the gradient on the kinks themselves, as torch 1.13 defines it */
START_TEST(gradients_at_the_kinks) {
    const float v[7] = {-3, -1.5f, 0, 2, 3, 6, 7};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(7), v), true);
    struct {
        nb_tensor *(*op)(nb_tensor *);
        float want[7];
    } k[] = {
        {hardtanh_b, {0, 0, 1, 0, 0, 0, 0}},                          /* 0 on the bounds -1.5 and 2 */
        {nb_relu6, {0, 0, 0, 1, 1, 0, 0}},                            /* 0 at 0 and 6 */
        {nb_hardsigmoid, {0, 1.0f / 6, 1.0f / 6, 1.0f / 6, 0, 0, 0}}, /* 0 at -3 and 3 */
        {nb_hardswish, {-0.5f, 0, 0.5f, 1.1666666f, 1, 1, 1}},        /* x/3 + 1/2 from -3 up to 3, then 1 */
        {elu07, {0.7f * expf(-3), 0.7f * expf(-1.5f), 0.7f, 1, 1, 1, 1}}, /* alpha at 0 */
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        nb_zero_grad(x);
        ck_assert_int_eq(nb_backward(nb_sum_all(k[i].op(x))), 0);
        for (int j = 0; j < 7; j++)
            ck_assert_msg(fabsf(nb_data_f32(x->grad)[j] - k[i].want[j]) < 1e-6, "case %zu at %g: %g, want %g",
                          i, (double)v[j], (double)nb_data_f32(x->grad)[j], (double)k[i].want[j]);
    }
    /* PReLU at 0: the slope, as torch; the slope's gradient is the sum of min(x, 0) */
    nb_tensor *z = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){0, -2, 5}), true);
    nb_tensor *w = nb_requires_grad_(nb_full(ctx, NB_F32, NB_SHAPE(1), 0.25), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_prelu(z, w))), 0);
    ck_assert(nb_data_f32(z->grad)[0] == 0.25f && nb_data_f32(z->grad)[1] == 0.25f &&
              nb_data_f32(z->grad)[2] == 1);
    ck_assert_float_eq(nb_data_f32(w->grad)[0], -2);
}
END_TEST

/* mish's gradient at a near -FLT_MAX with |g| > 1 is 0 (the composed mish multiplied g by a first,
 * overflowed and gave NaN; torch gives 0) */
START_TEST(mish_extreme) {
    const float v[3] = {-FLT_MAX, -1e30f, FLT_MAX};
    nb_tensor *x = nb_from_data(ctx, NB_F32, 1, (const int64_t[]){3}, v);
    nb_requires_grad_(x, true);
    nb_tensor *w = nb_from_data(ctx, NB_F32, 1, (const int64_t[]){3}, (const float[]){2.5f, -3.0f, 2.0f});
    ck_assert(nb_backward(nb_sum(nb_mul(nb_mish(x), w), 0, NULL, false)) == 0);
    ck_assert_msg(nb_data_f32(x->grad)[0] == 0 && nb_data_f32(x->grad)[1] == 0, "%g %g",
                  nb_data_f32(x->grad)[0], nb_data_f32(x->grad)[1]);
    ck_assert(nb_data_f32(x->grad)[2] == 2.0f); /* t = 1, sigmoid 1, 1 - t^2 = 0: g */
}
END_TEST

/* gelu (tanh form) and gelu_erf, value and derivative, within 5e-5 relative of the formulas in
 * double over [-9, 9], the negative tail included: 0.5 x (1 + tanh u) in float32 cancels there
 * (at x = -5 its derivative was 0 instead of -7e-6) */
static double gelu_tanh_d(double x, double *df) {
    const double z = 2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x), s = 1.0 / (1.0 + exp(-z));
    *df = s * (1.0 + x * (1.0 - s) * 2.0 * sqrt(2.0 / M_PI) * (1.0 + 3.0 * 0.044715 * x * x));
    return x * s;
}

static double gelu_erf_d(double x, double *df) {
    *df = 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    return 0.5 * x * erfc(-x / sqrt(2.0));
}

START_TEST(gelu_tails) {
    enum { N = 1801 };
    float v[N];
    for (int i = 0; i < N; i++)
        v[i] = -9.0f + 0.01f * (float)i;
    nb_tensor *(*const op[2])(nb_tensor *) = {nb_gelu, nb_gelu_erf};
    double (*const ref[2])(double, double *) = {gelu_tanh_d, gelu_erf_d};
    for (int k = 0; k < 2; k++) {
        nb_tensor *x = nb_from_data(ctx, NB_F32, 1, (const int64_t[]){N}, v);
        nb_requires_grad_(x, true);
        nb_tensor *y = op[k](x);
        ck_assert(y && nb_backward(nb_sum(y, 0, NULL, false)) == 0);
        for (int i = 0; i < N; i++) {
            double df;
            const double f = ref[k](v[i], &df);
            const double gy = nb_data_f32(y)[i], gd = nb_data_f32(x->grad)[i];
            /* relative, except near the derivative's zero (x about -0.75) and 0 itself */
            ck_assert_msg(fabs(gy - f) <= 5e-5 * fabs(f) + 1e-30, "%d: y(%g) = %.9g, want %.9g", k, v[i], gy,
                          f);
            ck_assert_msg(fabs(gd - df) <= 5e-5 * fabs(df) + 1e-7 * (fabs(df) < 1e-3) + 1e-30,
                          "%d: y'(%g) = %.9g, want %.9g", k, v[i], gd, df);
        }
    }
    /* far out the derivative is 0 or 1, not NaN (x u' overflowed below -1.2e13); NaN at +-inf */
    const float far[6] = {-1e15f, -1.2e13f, 1e13f, 3e19f, -INFINITY, INFINITY};
    const float want[6] = {0.0f, 0.0f, 1.0f, 1.0f, NAN, NAN};
    nb_tensor *x = nb_from_data(ctx, NB_F32, 1, (const int64_t[]){6}, far);
    nb_requires_grad_(x, true);
    ck_assert(nb_backward(nb_sum(nb_gelu(x), 0, NULL, false)) == 0);
    for (int i = 0; i < 6; i++) {
        const float g = nb_data_f32(x->grad)[i];
        ck_assert_msg(isnan(want[i]) ? isnan(g) : g == want[i], "gelu'(%g) = %g, want %g", far[i], g,
                      want[i]);
    }
}
END_TEST

START_TEST(modules_and_errors) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 3, &rng);
    nb_module *m[16] = {
        nb_selu_new(),      nb_relu6_new(),          nb_hardsigmoid_new(),    nb_hardswish_new(),
        nb_mish_new(),      nb_softsign_new(),       nb_elu_new(0.7f),        nb_hardtanh_new(-1.5f, 2.0f),
        nb_softmax_new(-1), nb_log_softmax_new(1),   nb_tanhshrink_new(),     nb_log_sigmoid_new(),
        nb_celu_new(1.5f),  nb_hardshrink_new(0.5f), nb_softshrink_new(1.0f), nb_threshold_new(0.1f, 20.0f)};
    nb_tensor *want[16] = {nb_selu(x),
                           nb_relu6(x),
                           nb_hardsigmoid(x),
                           nb_hardswish(x),
                           nb_mish(x),
                           nb_softsign(x),
                           nb_elu(x, 0.7f),
                           nb_hardtanh(x, -1.5f, 2.0f),
                           nb_softmax(x, -1),
                           nb_log_softmax(x, 1),
                           nb_tanhshrink(x),
                           nb_log_sigmoid(x),
                           nb_celu(x, 1.5f),
                           nb_hardshrink(x, 0.5f),
                           nb_softshrink(x, 1.0f),
                           nb_threshold(x, 0.1f, 20.0f)};
    for (int i = 0; i < 16; i++) {
        ck_assert_msg(m[i] != NULL, "%d: %s", i, nb_last_error());
        nb_tensor *y = nb_module_forward(m[i], x);
        ck_assert(y && want[i] && nb_same_shape(y, want[i]));
        for (int64_t j = 0; j < nb_numel(y); j++)
            ck_assert_float_eq(nb_data_f32(y)[j], nb_data_f32(want[i])[j]);
        nb_module_free(m[i]);
    }
    nb_module *p = nb_prelu_new(ctx, 3, 0.25f);
    ck_assert(p && p->n_params == 1 && nb_data_f32(p->params[0].t)[2] == 0.25f);
    nb_tensor *py = nb_module_forward(p, x);
    ck_assert(py && nb_same_shape(py, x));
    nb_module_free(p);
    ck_assert_ptr_null(nb_hardtanh(x, 2, 1));
    ERR_STARTS("hardtanh: min 2 must not exceed max 1");
    ck_assert_ptr_null(nb_prelu(x, nb_ones(ctx, NB_F32, NB_SHAPE(4))));
    ERR_STARTS("prelu: weight [4] does not match the channels (dim 1) of input [2,3,4]");
    ck_assert_ptr_null(nb_prelu(x, nb_ones(ctx, NB_F32, NB_SHAPE(1, 3))));
    ERR_STARTS("prelu: weight [1,3] must be [1] or [C]");
    ck_assert_ptr_null(nb_elu(x, NAN));
    ERR_STARTS("elu: alpha nan must be finite");
    ck_assert_ptr_null(nb_prelu_new(ctx, 0, 0.25f));
    ERR_STARTS("prelu_new: 0 slopes");
    ck_assert_ptr_null(nb_hardtanh_new(1, -1));
    ERR_STARTS("hardtanh_new: min 1 must not exceed max -1");
    ck_assert_ptr_null(nb_celu_new(0.0f));
    ERR_STARTS("celu_new: alpha 0 must be finite and nonzero");
    ck_assert_ptr_null(nb_softshrink_new(-1.0f));
    ERR_STARTS("softshrink_new: lambda -1 must be >= 0");
    ck_assert_ptr_null(nb_threshold_new(NAN, 0.0f));
    ERR_STARTS("threshold_new: the threshold is NaN");
    ck_assert_ptr_null(nb_mish(nb_zeros(ctx, NB_I32, NB_SHAPE(2))));
    ERR_STARTS("mish: input must be f32");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_activation");
    TCase *tc = tcase_create("activation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, values_against_formulas, 0, 8);
    tcase_add_loop_test(tc, gradients, 0, 9);
    tcase_add_test(tc, gradients_at_the_kinks);
    tcase_add_test(tc, modules_and_errors);
    tcase_add_test(tc, mish_extreme);
    tcase_add_test(tc, gelu_tails);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
