/* The special functions, shrink activations, tests and the binary functions of the op table
 * added after the basics (erfc, erfinv, lgamma, digamma, sinc, logit, frac, hardshrink,
 * softshrink, tanhshrink, threshold, celu, nan_to_num, isnan and the other tests, hypot,
 * logaddexp(2), xlogy, copysign, floor_divide, heaviside, the logical ops): forward against
 * double references on non-contiguous and broadcast inputs, gradients by finite differences,
 * PyTorch's values at the special points, and the refusals. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 77)

/* ---- double references ------------------------------------------------------------------- */

/* digamma as the derivative of lgamma by Richardson-extrapolated central differences: accurate
 * to about 1e-10 away from the poles, and independent of the series the library uses */
static double ref_digamma(double x) {
    double d1 = (lgamma(x + 1e-3) - lgamma(x - 1e-3)) / 2e-3;
    double d2 = (lgamma(x + 5e-4) - lgamma(x - 5e-4)) / 1e-3;
    return (4 * d2 - d1) / 3;
}
/* the inverse of erf by bisection in double */
static double ref_erfinv(double y) {
    double lo = -6, hi = 6;
    for (int i = 0; i < 200; i++) {
        double m = 0.5 * (lo + hi);
        if (erf(m) < y)
            lo = m;
        else
            hi = m;
    }
    return 0.5 * (lo + hi);
}
static double ref_sinc(double x) { return x == 0 ? 1 : sin(M_PI * x) / (M_PI * x); }
static double ref_frac(double x) { return x - trunc(x); }
static double ref_tanhshrink(double x) { return x - tanh(x); }
static double ref_logit(double x) { return log(x / (1 - x)); }
static double ref_logit_eps(double x) { return ref_logit(x < 0.2 ? 0.2 : x > 0.8 ? 0.8 : x); }
static double ref_hardshrink(double x) { return fabs(x) <= 0.5 ? 0 : x; }
static double ref_softshrink(double x) { return x > 0.5 ? x - 0.5 : x < -0.5 ? x + 0.5 : 0; }
static double ref_threshold(double x) { return x <= 0.3 ? -2 : x; }
static double ref_celu(double x) { return x > 0 ? x : 1.5 * expm1(x / 1.5); }

static nb_tensor *logit_eps(nb_tensor *a) { return nb_logit(a, 0.2f); }
static nb_tensor *logit_none(nb_tensor *a) { return nb_logit(a, -1.0f); }
static nb_tensor *hardshrink05(nb_tensor *a) { return nb_hardshrink(a, 0.5f); }
static nb_tensor *softshrink05(nb_tensor *a) { return nb_softshrink(a, 0.5f); }
static nb_tensor *threshold03(nb_tensor *a) { return nb_threshold(a, 0.3f, -2.0f); }
static nb_tensor *celu15(nb_tensor *a) { return nb_celu(a, 1.5f); }

typedef nb_tensor *(*un_fn)(nb_tensor *);
typedef struct {
    const char *name;
    un_fn f;
    double (*ref)(double);
    float lo, hi; /* input domain */
    float kink;   /* |x| kept this far from +-kink for the finite differences (0: none) */
    double rtol;  /* forward tolerance */
} un_case;

static const un_case un_cases[] = {
    {"erfc", nb_erfc, erfc, -3, 3, 0, 1e-5},
    {"erfinv", nb_erfinv, ref_erfinv, -0.95f, 0.95f, 0, 1e-5},
    {"lgamma", nb_lgamma, lgamma, 0.1f, 6, 0, 2e-5},
    {"lgamma(-)", nb_lgamma, lgamma, -2.9f, -2.1f, 0, 2e-5},
    {"digamma", nb_digamma, ref_digamma, 0.1f, 14, 0, 2e-5},
    {"digamma(-)", nb_digamma, ref_digamma, -1.9f, -1.1f, 0, 2e-5},
    {"sinc", nb_sinc, ref_sinc, -3, 3, 0, 1e-5},
    {"logit", logit_none, ref_logit, 0.05f, 0.95f, 0, 1e-5},
    {"logit(eps)", logit_eps, ref_logit_eps, 0.05f, 0.95f, 0, 1e-5},
    {"frac", nb_frac, ref_frac, -3, 3, 0, 1e-5},
    {"tanhshrink", nb_tanhshrink, ref_tanhshrink, -2, 2, 0, 1e-5},
    {"hardshrink", hardshrink05, ref_hardshrink, -2, 2, 0.5f, 1e-6},
    {"softshrink", softshrink05, ref_softshrink, -2, 2, 0.5f, 1e-6},
    {"threshold", threshold03, ref_threshold, -1, 1, 0.3f, 1e-6},
    {"celu", celu15, ref_celu, -3, 3, 0, 1e-5},
};
#define N_UN (int)(sizeof un_cases / sizeof *un_cases)

START_TEST(unary_forward) {
    const un_case *c = &un_cases[_i];
    nb_tensor *base = nb_rand(ctx, NB_SHAPE(6, 9), c->lo, c->hi, &rng);
    nb_tensor *x = nb_transpose(base, 0, 1); /* non-contiguous [9,6] */
    nb_tensor *y = c->f(x);
    ck_assert_msg(y != NULL, "%s: %s", c->name, nb_last_error());
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 6; j++) {
            double ref = c->ref(nb_data_f32(base)[j * 9 + i]);
            double got = nb_get(y, (int64_t[]){i, j});
            ck_assert_msg(nb_close(got, ref, c->rtol, 1e-6), "%s(%g): %.9g vs %.9g", c->name,
                          (double)nb_data_f32(base)[j * 9 + i], got, ref);
        }
}
END_TEST

static un_fn gc_fn;
static nb_tensor *gc_unary(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return gc_fn(nb_permute(in[0], (int[]){1, 0}));
}

START_TEST(unary_backward) {
    const un_case *c = &un_cases[_i];
    nb_tensor *x = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(3, 5), c->lo, c->hi, &rng), true);
    float *p = nb_data_f32(x);
    for (int64_t i = 0; i < nb_numel(x); i++) {
        if (c->kink > 0) /* off the kinks at +-kink (threshold: at kink only, sign included) */
            for (int s = -1; s <= 1; s += 2)
                if (fabsf(p[i] - (float)s * c->kink) < 0.05f)
                    p[i] = (float)s * c->kink + (p[i] < (float)s * c->kink ? -0.05f : 0.05f);
        if (c->f == nb_frac || c->f == logit_eps) /* off frac's jumps and logit's clamp edges */
            for (float e = -3.0f; e <= 3.0f; e += c->f == nb_frac ? 1.0f : 0.6f) {
                float edge = c->f == nb_frac ? e : e < 0 ? 0.2f : 0.8f;
                if (fabsf(p[i] - edge) < 0.05f) p[i] = edge + 0.05f;
            }
    }
    gc_fn = c->f;
    nb_tensor *in[1] = {x};
    ck_assert_msg(nb_gradcheck(gc_unary, in, 1, NULL, NULL) == 1, "%s: %s", c->name, nb_last_error());
}
END_TEST

/* one element's value and gradient */
static void val_grad(un_fn f, float x, float *y, float *g) {
    nb_tensor *t = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1), &x), true);
    nb_tensor *out = f(t);
    ck_assert_ptr_nonnull(out);
    *y = nb_data_f32(out)[0];
    ck_assert_int_eq(nb_backward(nb_sum_all(out)), 0);
    *g = nb_data_f32(t->grad)[0];
}

#define SAME(a, b) ((isnan(a) && isnan(b)) || (a) == (b))

START_TEST(special_points_as_pytorch) {
    const float inf = INFINITY, nan = NAN;
    float y, g;
    /* torch.digamma: -inf at +0, +inf at -0, NaN at the negative integers; its gradient is
     * polygamma(1) */
    val_grad(nb_digamma, 0.0f, &y, &g);
    ck_assert(y == -inf);
    val_grad(nb_digamma, -0.0f, &y, &g);
    ck_assert(y == inf);
    val_grad(nb_digamma, -2.0f, &y, &g);
    ck_assert(isnan(y));
    val_grad(nb_digamma, 1.0f, &y, &g);
    ck_assert_float_eq_tol(y, -0.5772156649f, 1e-6f);
    ck_assert_float_eq_tol(g, 1.6449340668f, 1e-5f); /* pi^2 / 6 */
    val_grad(nb_digamma, 10.0f, &y, &g);
    ck_assert_float_eq_tol(y, 2.2517525890667f, 1e-6f);
    val_grad(nb_digamma, -0.5f, &y, &g);
    ck_assert_float_eq_tol(y, 0.03648997397857652f, 1e-5f);
    ck_assert_float_eq_tol(g, 8.934802200544704f, 1e-4f);
    /* lgamma: 0 at 1 and 2, inf at the poles; gradient digamma */
    val_grad(nb_lgamma, 1.0f, &y, &g);
    ck_assert(y == 0.0f);
    ck_assert_float_eq_tol(g, -0.5772156649f, 1e-6f);
    val_grad(nb_lgamma, 0.0f, &y, &g);
    ck_assert(y == inf);
    /* erfinv: +-inf at +-1, NaN beyond; erfc(inf) = 0 */
    val_grad(nb_erfinv, 1.0f, &y, &g);
    ck_assert(y == inf);
    val_grad(nb_erfinv, -1.0f, &y, &g);
    ck_assert(y == -inf);
    val_grad(nb_erfinv, 1.5f, &y, &g);
    ck_assert(isnan(y));
    val_grad(nb_erfinv, 0.0f, &y, &g);
    ck_assert(y == 0.0f);
    ck_assert_float_eq_tol(g, 0.886226925f, 1e-6f);
    val_grad(nb_erfc, inf, &y, &g);
    ck_assert(y == 0.0f);
    /* sinc: 1 at 0 with gradient 0; 0 at the integers */
    val_grad(nb_sinc, 0.0f, &y, &g);
    ck_assert(y == 1.0f && g == 0.0f);
    val_grad(nb_sinc, 1e-30f, &y, &g);
    ck_assert(y == 1.0f && g == 0.0f); /* pi x^2 underflows: torch's where gives 0 */
    val_grad(nb_sinc, 2.0f, &y, &g);
    ck_assert_float_eq_tol(y, 0.0f, 1e-7f);
    ck_assert_float_eq_tol(g, 0.5f, 1e-6f);
    /* logit without eps: NaN gradient outside [0, 1], inf at the ends */
    val_grad(logit_none, 1.5f, &y, &g);
    ck_assert(isnan(y) && isnan(g));
    val_grad(logit_none, 1.0f, &y, &g);
    ck_assert(y == inf && g == inf);
    val_grad(logit_eps, 0.9f, &y, &g); /* clamped: the value at 0.8, gradient 0 */
    ck_assert_float_eq_tol(y, logf(0.8f / 0.2f), 1e-6f);
    ck_assert(g == 0.0f);
    /* frac keeps the sign; frac(inf) is NaN */
    val_grad(nb_frac, -2.75f, &y, &g);
    ck_assert(y == -0.75f && g == 1.0f);
    val_grad(nb_frac, inf, &y, &g);
    ck_assert(isnan(y));
    /* the shrinks at their edges: inside (0, gradient 0) */
    val_grad(hardshrink05, 0.5f, &y, &g);
    ck_assert(y == 0.0f && g == 0.0f);
    val_grad(hardshrink05, -0.6f, &y, &g);
    ck_assert(y == -0.6f && g == 1.0f);
    val_grad(softshrink05, -0.5f, &y, &g);
    ck_assert(y == 0.0f && g == 0.0f);
    val_grad(softshrink05, nan, &y, &g); /* torch's: 0 for NaN, gradient 0 */
    ck_assert(y == 0.0f && g == 0.0f);
    val_grad(hardshrink05, nan, &y, &g); /* NaN passes, gradient 0 */
    ck_assert(isnan(y) && g == 0.0f);
    val_grad(logit_eps, nan, &y, &g); /* with eps: gradient 0 at NaN, as torch */
    ck_assert(isnan(y) && g == 0.0f);
    val_grad(threshold03, 0.3f, &y, &g); /* <= threshold: replaced */
    ck_assert(y == -2.0f && g == 0.0f);
    val_grad(threshold03, nan, &y, &g);
    ck_assert(isnan(y));
    val_grad(celu15, -1e30f, &y, &g);
    ck_assert(y == -1.5f && g == 0.0f);
}
END_TEST

START_TEST(nan_to_num_and_tests) {
    const float v[7] = {1.5f, NAN, INFINITY, -INFINITY, -0.0f, 0.0f, -3.0f};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(7), v), true);
    nb_tensor *y = nb_nan_to_num(x, 7.0f, 100.0f, -200.0f);
    ck_assert_ptr_nonnull(y);
    const float want[7] = {1.5f, 7.0f, 100.0f, -200.0f, -0.0f, 0.0f, -3.0f};
    for (int i = 0; i < 7; i++)
        ck_assert(nb_data_f32(y)[i] == want[i] && signbit(nb_data_f32(y)[i]) == signbit(want[i]));
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul_scalar(y, 2.0f))), 0);
    const float gw[7] = {2, 0, 0, 0, 2, 2, 2};
    for (int i = 0; i < 7; i++)
        ck_assert(nb_data_f32(x->grad)[i] == gw[i]);
    /* the defaults as torch's: FLT_MAX and -FLT_MAX */
    nb_tensor *d = nb_nan_to_num(x, 0.0f, FLT_MAX, -FLT_MAX);
    ck_assert(nb_data_f32(d)[2] == FLT_MAX && nb_data_f32(d)[3] == -FLT_MAX && nb_data_f32(d)[1] == 0.0f);

    /* the tests: masks with no graph */
    static const struct {
        nb_tensor *(*f)(nb_tensor *);
        float want[7];
    } tests[] = {{nb_isnan, {0, 1, 0, 0, 0, 0, 0}},    {nb_isinf, {0, 0, 1, 1, 0, 0, 0}},
                 {nb_isfinite, {1, 0, 0, 0, 1, 1, 1}}, {nb_isposinf, {0, 0, 1, 0, 0, 0, 0}},
                 {nb_isneginf, {0, 0, 0, 1, 0, 0, 0}}, {nb_logical_not, {0, 0, 0, 0, 1, 1, 0}}};
    for (size_t k = 0; k < sizeof tests / sizeof *tests; k++) {
        nb_tensor *m = tests[k].f(x);
        ck_assert_ptr_nonnull(m);
        ck_assert(!m->requires_grad);
        for (int i = 0; i < 7; i++)
            ck_assert_msg(nb_data_f32(m)[i] == tests[k].want[i], "test %zu at %d", k, i);
    }
    /* a NaN made +-inf is not replaced again, nor an infinity made NaN (found by review) */
    const float *d2 = nb_data_f32(nb_nan_to_num(x, INFINITY, 5.0f, -5.0f));
    ck_assert(d2[1] == INFINITY && d2[2] == 5.0f && d2[3] == -5.0f);
    const float *d3 = nb_data_f32(nb_nan_to_num(x, -1.0f, NAN, 2.0f));
    ck_assert(d3[1] == -1.0f && isnan(d3[2]) && d3[3] == 2.0f);
    /* FLT_MAX itself is finite */
    nb_tensor *big = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){FLT_MAX, -FLT_MAX});
    ck_assert(nb_data_f32(nb_isinf(big))[0] == 0.0f && nb_data_f32(nb_isfinite(big))[1] == 1.0f);
}
END_TEST

/* ---- binary -------------------------------------------------------------------------------- */

typedef nb_tensor *(*bin_fn)(nb_tensor *, nb_tensor *);
static double r_logaddexp(double a, double b) { return log(exp(a) + exp(b)); }
static double r_logaddexp2(double a, double b) { return log2(exp2(a) + exp2(b)); }
static double r_xlogy(double a, double b) { return a == 0 ? 0 : a * log(b); }
static double r_floordiv(double a, double b) { return floor(a / b); }
static double r_heaviside(double a, double b) { return a == 0 ? b : a > 0; }
static double r_and(double a, double b) { return a != 0 && b != 0; }
static double r_or(double a, double b) { return a != 0 || b != 0; }
static double r_xor(double a, double b) { return (a != 0) != (b != 0); }

typedef struct {
    const char *name;
    bin_fn f;
    double (*ref)(double, double);
    bool diff;
    float alo, ahi, blo, bhi;
} bin_case;

static const bin_case bin_cases[] = {
    {"hypot", nb_hypot, hypot, true, -3, 3, -3, 3},
    {"logaddexp", nb_logaddexp, r_logaddexp, true, -4, 4, -4, 4},
    {"logaddexp2", nb_logaddexp2, r_logaddexp2, true, -4, 4, -4, 4},
    {"xlogy", nb_xlogy, r_xlogy, true, -2, 2, 0.2f, 3},
    {"copysign", nb_copysign, copysign, true, -2, 2, -1, 1},
    {"floor_divide", nb_floor_divide, r_floordiv, false, -5, 5, 0.3f, 2},
    {"heaviside", nb_heaviside, r_heaviside, false, -1, 1, 0, 1},
    {"logical_and", nb_logical_and, r_and, false, -1, 1, -1, 1},
    {"logical_or", nb_logical_or, r_or, false, -1, 1, -1, 1},
    {"logical_xor", nb_logical_xor, r_xor, false, -1, 1, -1, 1},
};
#define N_BIN (int)(sizeof bin_cases / sizeof *bin_cases)

START_TEST(binary_forward_broadcast) {
    const bin_case *c = &bin_cases[_i];
    /* a: [3,1,4] from a sliced tensor; b: [2,4] as a transposed view; a few exact zeros */
    nb_tensor *abase = nb_rand(ctx, NB_SHAPE(3, 1, 8), c->alo, c->ahi, &rng);
    nb_tensor *a = nb_slice(abase, 2, 0, 8, 2);
    nb_tensor *bbase = nb_rand(ctx, NB_SHAPE(4, 2), c->blo, c->bhi, &rng);
    nb_tensor *b = nb_transpose(bbase, 0, 1);
    nb_data_f32(abase)[0] = 0.0f;
    if (c->blo <= 0) nb_data_f32(bbase)[1] = 0.0f;
    nb_tensor *y = c->f(a, b);
    ck_assert_msg(y != NULL, "%s: %s", c->name, nb_last_error());
    ck_assert_int_eq(y->ndim, 3);
    ck_assert(y->requires_grad == false);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 4; k++) {
                double av = nb_data_f32(abase)[i * 8 + 2 * k], bv = nb_data_f32(bbase)[k * 2 + j];
                double ref = c->ref((float)av, (float)bv);
                double got = nb_get(y, (int64_t[]){i, j, k});
                ck_assert_msg(nb_close(got, ref, 1e-5, 1e-6), "%s(%g, %g): %.9g vs %.9g", c->name, av, bv,
                              got, ref);
            }
}
END_TEST

static bin_fn gc_bfn;
static nb_tensor *gc_binary(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return gc_bfn(in[0], nb_transpose(in[1], 0, 1));
}

START_TEST(binary_backward_broadcast) {
    const bin_case *c = &bin_cases[_i];
    nb_tensor *a = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(3, 1, 4), c->alo, c->ahi, &rng), true);
    nb_tensor *b = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(4, 2), c->blo, c->bhi, &rng), true);
    if (!c->diff) { /* no graph: the output does not require a gradient */
        nb_tensor *y = c->f(a, nb_transpose(b, 0, 1));
        ck_assert_ptr_nonnull(y);
        ck_assert(!y->requires_grad);
        return;
    }
    for (int i = 0; i < 12; i++) /* copysign: a off 0, where its sign flips */
        if (c->f == nb_copysign && fabsf(nb_data_f32(a)[i]) < 0.05f) nb_data_f32(a)[i] = 0.3f;
    gc_bfn = c->f;
    nb_tensor *in[2] = {a, b};
    ck_assert_msg(nb_gradcheck(gc_binary, in, 2, NULL, NULL) == 1, "%s: %s", c->name, nb_last_error());
}
END_TEST

/* both gradients at one pair */
static void bin_val_grad(bin_fn f, float a, float b, float *y, float *ga, float *gb) {
    nb_tensor *ta = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1), &a), true);
    nb_tensor *tb = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1), &b), true);
    nb_tensor *out = f(ta, tb);
    ck_assert_ptr_nonnull(out);
    *y = nb_data_f32(out)[0];
    ck_assert_int_eq(nb_backward(nb_sum_all(out)), 0);
    *ga = nb_data_f32(ta->grad)[0];
    *gb = nb_data_f32(tb->grad)[0];
}

START_TEST(binary_special_points_as_pytorch) {
    const float inf = INFINITY, nan = NAN;
    float y, ga, gb;
    /* logaddexp of equal infinities is that infinity (not NaN); of huge values no overflow */
    bin_val_grad(nb_logaddexp, inf, inf, &y, &ga, &gb);
    ck_assert(y == inf);
    bin_val_grad(nb_logaddexp, -inf, -inf, &y, &ga, &gb);
    ck_assert(y == -inf);
    bin_val_grad(nb_logaddexp, 100.0f, 100.0f, &y, &ga, &gb);
    ck_assert_float_eq_tol(y, 100.0f + logf(2.0f), 1e-5f);
    ck_assert(ga == 0.5f && gb == 0.5f);
    bin_val_grad(nb_logaddexp2, 3.0f, 3.0f, &y, &ga, &gb);
    ck_assert(y == 4.0f && ga == 0.5f && gb == 0.5f);
    bin_val_grad(nb_logaddexp, 1e30f, -1e30f, &y, &ga, &gb);
    ck_assert(y == 1e30f && ga == 1.0f && gb == 0.0f);
    /* xlogy: 0 at a = 0 (gradient in a 0 where b <= 0), NaN where b is */
    bin_val_grad(nb_xlogy, 0.0f, 0.0f, &y, &ga, &gb);
    ck_assert(y == 0.0f && ga == 0.0f);
    bin_val_grad(nb_xlogy, 0.0f, nan, &y, &ga, &gb);
    ck_assert(isnan(y));
    bin_val_grad(nb_xlogy, 2.0f, 1.0f, &y, &ga, &gb);
    ck_assert(y == 0.0f && ga == 0.0f && gb == 2.0f);
    /* hypot without overflow; copysign with -0 */
    bin_val_grad(nb_hypot, 3e30f, 4e30f, &y, &ga, &gb);
    ck_assert_float_eq_tol(y, 5e30f, 1e25f);
    ck_assert_float_eq_tol(ga, 0.6f, 1e-6f);
    bin_val_grad(nb_copysign, 2.0f, -0.0f, &y, &ga, &gb);
    ck_assert(y == -2.0f && ga == -1.0f && gb == 0.0f);
    bin_val_grad(nb_copysign, 0.0f, -1.0f, &y, &ga, &gb);
    ck_assert(y == 0.0f && signbit(y) && ga == 0.0f);
    /* floor_divide rounds down, as torch 1.13's; heaviside's NaN gives 0; NaN is true */
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){-7.0f, 7.0f, -0.5f, nan});
    nb_tensor *b = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){2.0f, -2.0f, 3.0f, 0.5f});
    const float *fd = nb_data_f32(nb_floor_divide(a, b));
    ck_assert(fd[0] == -4.0f && fd[1] == -4.0f && fd[2] == -1.0f && isnan(fd[3]));
    ck_assert(nb_data_f32(nb_heaviside(a, b))[3] == 0.0f);
    ck_assert(nb_data_f32(nb_logical_and(a, b))[3] == 1.0f);
}
END_TEST

START_TEST(refusals) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(3));
    ck_assert_ptr_null(nb_logit(x, 0.7f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "logit: eps"));
    ck_assert_ptr_null(nb_logit(x, NAN));
    ck_assert_ptr_null(nb_softshrink(x, -0.5f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "softshrink"));
    ck_assert_ptr_null(nb_hardshrink(x, NAN));
    ck_assert_ptr_null(nb_threshold(x, NAN, 0.0f));
    ck_assert_ptr_null(nb_celu(x, 0.0f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "celu"));
    nb_clear_error();
    ck_assert_ptr_null(nb_isnan(NULL));
    ck_assert_str_eq(nb_last_error(), "isnan: NULL input 0");
    ck_assert_ptr_null(nb_nan_to_num(NULL, 0, 1, -1));
    nb_tensor *i = nb_zeros(ctx, NB_I32, NB_SHAPE(3));
    ck_assert_ptr_null(nb_hypot(x, i));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "hypot: right operand must be f32"));
    ck_assert_ptr_null(nb_logaddexp(x, nb_zeros(ctx, NB_F32, NB_SHAPE(2))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "logaddexp: shapes [3] and [2] do not broadcast"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_special");
    TCase *tc = tcase_create("special");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, unary_forward, 0, N_UN);
    tcase_add_loop_test(tc, unary_backward, 0, N_UN);
    tcase_add_test(tc, special_points_as_pytorch);
    tcase_add_test(tc, nan_to_num_and_tests);
    tcase_add_loop_test(tc, binary_forward_broadcast, 0, N_BIN);
    tcase_add_loop_test(tc, binary_backward_broadcast, 0, N_BIN);
    tcase_add_test(tc, binary_special_points_as_pytorch);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
