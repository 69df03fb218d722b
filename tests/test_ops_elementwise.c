/* Elementwise ops: forward against plain double references (broadcast and
 * non-contiguous inputs), backward through gradcheck, errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 2024);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

typedef nb_tensor *(*un_fn)(nb_tensor *);
typedef struct {
    const char *name;
    un_fn f;
    double (*ref)(double);
    float lo, hi; /* input domain */
    bool step;    /* piecewise constant: the gradient check keeps off the jumps */
} un_case;

static double r_neg(double x) { return -x; }
static double r_rsqrt(double x) { return 1 / sqrt(x); }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_relu(double x) { return x > 0 ? x : 0; }
static double r_gelu(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double r_gelu_erf(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_silu(double x) { return x / (1 + exp(-x)); }
static double r_softplus(double x) { return log1p(exp(x)); }
static double r_leaky(double x) { return x > 0 ? x : 0.1 * x; }
static nb_tensor *leaky01(nb_tensor *a) { return nb_leaky_relu(a, 0.1f); }
static double r_sign(double x) { return (x > 0) - (x < 0); }
static double r_exp2(double x) { return exp2(x); }
static double r_recip(double x) { return 1 / x; }
static double r_square(double x) { return x * x; }

static const un_case un_cases[] = {
    {"neg", nb_neg, r_neg, -2, 2, false},
    {"exp", nb_exp, exp, -2, 2, false},
    {"log", nb_log, log, 0.2f, 3, false},
    {"sqrt", nb_sqrt, sqrt, 0.2f, 3, false},
    {"rsqrt", nb_rsqrt, r_rsqrt, 0.3f, 3, false},
    {"tanh", nb_tanh, tanh, -2, 2, false},
    {"sigmoid", nb_sigmoid, r_sigmoid, -3, 3, false},
    {"relu", nb_relu, r_relu, -2, 2, false},
    {"gelu", nb_gelu, r_gelu, -3, 3, false},
    {"abs", nb_abs, fabs, -2, 2, false},
    {"sin", nb_sin, sin, -3, 3, false},
    {"cos", nb_cos, cos, -3, 3, false},
    {"log1p", nb_log1p, log1p, -0.5f, 3, false},
    {"expm1", nb_expm1, expm1, -2, 2, false},
    {"erf", nb_erf, erf, -2.5f, 2.5f, false},
    {"gelu_erf", nb_gelu_erf, r_gelu_erf, -4, 4, false},
    {"silu", nb_silu, r_silu, -4, 4, false},
    {"softplus", nb_softplus, r_softplus, -4, 4, false},
    {"leaky_relu", leaky01, r_leaky, -2, 2, false},
    {"tan", nb_tan, tan, -1.2f, 1.2f, false},
    {"asin", nb_asin, asin, -0.9f, 0.9f, false},
    {"acos", nb_acos, acos, -0.9f, 0.9f, false},
    {"atan", nb_atan, atan, -3, 3, false},
    {"sinh", nb_sinh, sinh, -2, 2, false},
    {"cosh", nb_cosh, cosh, -2, 2, false},
    {"asinh", nb_asinh, asinh, -3, 3, false},
    {"acosh", nb_acosh, acosh, 1.2f, 3, false},
    {"atanh", nb_atanh, atanh, -0.9f, 0.9f, false},
    {"log2", nb_log2, log2, 0.2f, 3, false},
    {"log10", nb_log10, log10, 0.2f, 3, false},
    {"exp2", nb_exp2, r_exp2, -2, 2, false},
    {"reciprocal", nb_reciprocal, r_recip, 0.3f, 2, false},
    {"square", nb_square, r_square, -2, 2, false},
    {"sign", nb_sign, r_sign, -2, 2, true},
    {"floor", nb_floor, floor, -3, 3, true},
    {"ceil", nb_ceil, ceil, -3, 3, true},
    {"round", nb_round, nearbyint, -3, 3, true},
    {"trunc", nb_trunc, trunc, -3, 3, true},
};
#define N_UN (int)(sizeof un_cases / sizeof *un_cases)

/* keeps values at least 0.05 away from a kink at 0 for the finite differences */
static void away_from_zero(nb_tensor *t) {
    float *p = nb_data_f32(t);
    for (int64_t i = 0; i < nb_numel(t); i++)
        if (fabsf(p[i]) < 0.05f) p[i] = p[i] < 0 ? -0.05f - p[i] : 0.05f + p[i];
}

START_TEST(unary_forward) {
    const un_case *c = &un_cases[_i];
    nb_tensor *base = nb_rand(ctx, NB_SHAPE(5, 7), c->lo, c->hi, &rng);
    nb_tensor *x = nb_transpose(base, 0, 1); /* non-contiguous [7,5] */
    nb_tensor *y = c->f(x);
    ck_assert_msg(y != NULL, "%s: %s", c->name, nb_last_error());
    ck_assert(nb_is_contiguous(y));
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 5; j++) {
            double ref = c->ref(nb_data_f32(base)[j * 7 + i]);
            double got = nb_get(y, (int64_t[]){i, j});
            ck_assert_msg(nb_close(got, ref, 1e-5, 1e-6), "%s(%d,%d): %g vs %g", c->name, i, j, got, ref);
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
    nb_tensor *x = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(3, 4), c->lo, c->hi, &rng), true);
    away_from_zero(x);
    if (c->step) /* a quarter from every integer and every half: the steps are flat there */
        for (int64_t i = 0; i < nb_numel(x); i++)
            nb_data_f32(x)[i] = floorf(nb_data_f32(x)[i]) + 0.25f;
    gc_fn = c->f;
    nb_tensor *in[1] = {x};
    ck_assert_msg(nb_gradcheck(gc_unary, in, 1, NULL, NULL) == 1, "%s: %s", c->name, nb_last_error());
}
END_TEST

/* Changing the op's input or output in place before the backward: the gradient is either the
 * one without the change (the derivative does not read what changed) or an error naming the
 * change, never a gradient computed from the changed values. */
START_TEST(unary_in_place_after_op) {
    const un_case *c = &un_cases[_i];
    nb_tensor *x = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(2, 5), c->lo, c->hi, &rng), true);
    away_from_zero(x);
    nb_tensor *w = nb_rand(ctx, NB_SHAPE(2, 5), 0.5f, 1.5f, &rng);
    float want[10], got[10];
    for (int change = -1; change < 2; change++) { /* none, the input, the output */
        nb_zero_grad(x);
        nb_tensor *xi = nb_mul_scalar(x, 1.0f), *y = c->f(xi);
        ck_assert_ptr_nonnull(y);
        if (change >= 0) ck_assert_int_eq(nb_scale_(change ? y : xi, 1.5f), 0);
        const int rc = nb_backward_with(y, w);
        if (change < 0) {
            ck_assert_int_eq(rc, 0);
            memcpy(want, nb_data_f32(x->grad), sizeof want);
            continue;
        }
        if (rc) {
            ck_assert_msg(strstr(nb_last_error(), "changed in place"), "%s: %s", c->name, nb_last_error());
            continue;
        }
        memcpy(got, nb_data_f32(x->grad), sizeof got);
        for (int i = 0; i < 10; i++)
            ck_assert_msg(got[i] == want[i] || (isnan(got[i]) && isnan(want[i])),
                          "%s: changing its %s in place gave dx[%d] = %g, not %g and no error", c->name,
                          change ? "output" : "input", i, (double)got[i], (double)want[i]);
    }
}
END_TEST

typedef nb_tensor *(*bin_fn)(nb_tensor *, nb_tensor *);
typedef struct {
    const char *name;
    bin_fn f;
    double (*ref)(double, double);
    bool diff;
    float lo, hi;   /* inputs' domain */
    float blo, bhi; /* b's, when not the same */
} bin_case;

static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_max(double a, double b) { return a >= b ? a : b; }
static double r_min(double a, double b) { return a <= b ? a : b; }
static double r_eq(double a, double b) { return a == b; }
static double r_lt(double a, double b) { return a < b; }
static double r_le(double a, double b) { return a <= b; }
static double r_gt(double a, double b) { return a > b; }
static double r_ge(double a, double b) { return a >= b; }
static double r_ne(double a, double b) { return a != b; }
static double r_remainder(double a, double b) { return a - b * floor(a / b); }

static const bin_case bin_cases[] = {
    {"add", nb_add, r_add, true, -2, 2, 0, 0},
    {"sub", nb_sub, r_sub, true, -2, 2, 0, 0},
    {"mul", nb_mul, r_mul, true, -2, 2, 0, 0},
    {"div", nb_div, r_div, true, 0.5f, 2, 0, 0},
    {"pow", nb_pow, pow, true, 0.5f, 2, 0, 0},
    {"maximum", nb_maximum, r_max, true, -2, 2, 0, 0},
    {"minimum", nb_minimum, r_min, true, -2, 2, 0, 0},
    {"eq", nb_eq, r_eq, false, -2, 2, 0, 0},
    {"ne", nb_ne, r_ne, false, -2, 2, 0, 0},
    {"lt", nb_lt, r_lt, false, -2, 2, 0, 0},
    {"le", nb_le, r_le, false, -2, 2, 0, 0},
    {"gt", nb_gt, r_gt, false, -2, 2, 0, 0},
    {"ge", nb_ge, r_ge, false, -2, 2, 0, 0},
    {"atan2", nb_atan2, atan2, true, -2, 2, 0, 0},
    {"fmod", nb_fmod, fmod, true, -3, 3, 0.4f, 1.3f},
    {"remainder", nb_remainder, r_remainder, true, -3, 3, 0.4f, 1.3f},
};
#define N_BIN (int)(sizeof bin_cases / sizeof *bin_cases)

START_TEST(binary_forward_broadcast) {
    const bin_case *c = &bin_cases[_i];
    /* a: [3,1,4] from a sliced tensor; b: [2,4] transposed view */
    nb_tensor *abase = nb_rand(ctx, NB_SHAPE(3, 1, 8), c->lo, c->hi, &rng);
    nb_tensor *a = nb_slice(abase, 2, 0, 8, 2);
    const bool own_b = c->blo != c->bhi;
    nb_tensor *bbase = nb_rand(ctx, NB_SHAPE(4, 2), own_b ? c->blo : c->lo, own_b ? c->bhi : c->hi, &rng);
    nb_tensor *b = nb_transpose(bbase, 0, 1);
    /* make a few elements equal so comparisons see ties */
    nb_data_f32(bbase)[0] = nb_data_f32(abase)[0];
    nb_tensor *y = c->f(a, b);
    ck_assert_msg(y != NULL, "%s: %s", c->name, nb_last_error());
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[0], 3);
    ck_assert_int_eq(y->shape[1], 2);
    ck_assert_int_eq(y->shape[2], 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 4; k++) {
                double av = nb_data_f32(abase)[i * 8 + 2 * k], bv = nb_data_f32(bbase)[k * 2 + j];
                double ref = c->ref(av, bv), got = nb_get(y, (int64_t[]){i, j, k});
                ck_assert_msg(nb_close(got, ref, 1e-5, 1e-6), "%s: %g vs %g", c->name, got, ref);
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
    if (!c->diff) return;
    nb_tensor *a = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(3, 1, 4), c->lo, c->hi, &rng), true);
    nb_tensor *b = nb_requires_grad_(nb_rand(ctx, NB_SHAPE(4, 2), c->lo, c->hi, &rng), true);
    /* keep max/min away from ties */
    if (c->f == nb_maximum || c->f == nb_minimum) {
        for (int i = 0; i < 12; i++) nb_data_f32(a)[i] = (float)(i % 5) * 0.7f - 1.3f;
        for (int i = 0; i < 8; i++) nb_data_f32(b)[i] = (float)i * 0.45f - 1.6f;
    }
    /* keep fmod/remainder's quotients away from the integers where they jump: a at k + 1/2 and
     * b within 5% above 1, so that trunc and floor differ for the negative a */
    if (c->f == nb_fmod || c->f == nb_remainder) {
        for (int i = 0; i < 12; i++)
            nb_data_f32(a)[i] = (float)(i % 7 - 3) + 0.5f;
        for (int i = 0; i < 8; i++)
            nb_data_f32(b)[i] = 1.0f + 0.006f * (float)i;
    }
    gc_bfn = c->f;
    nb_tensor *in[2] = {a, b};
    ck_assert_msg(nb_gradcheck(gc_binary, in, 2, NULL, NULL) == 1, "%s: %s", c->name, nb_last_error());
}
END_TEST

static nb_tensor *gc_scalars(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = in[0];
    nb_tensor *y = nb_add(nb_add_scalar(x, 1.5f), nb_sub_scalar(x, 0.5f));
    y = nb_add(y, nb_mul_scalar(nb_div_scalar(x, 3.0f), 2.0f));
    y = nb_add(y, nb_rsub_scalar(nb_pow_scalar(x, 3.0f), 2.0f));
    y = nb_add(y, nb_maximum_scalar(x, 0.1f));
    y = nb_add(y, nb_minimum_scalar(x, -0.1f));
    return nb_add(y, nb_clamp(x, -0.6f, 0.6f));
}

START_TEST(scalar_forms) {
    float d[5] = {-1.f, -0.3f, 0.35f, 0.9f, 1.7f};
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(5), d);
    nb_tensor *y = gc_scalars(&x, 1, NULL);
    for (int i = 0; i < 5; i++) {
        double v = d[i];
        double ref = (v + 1.5) + (v - 0.5) + v / 3 * 2 + (2 - v * v * v) + fmax(v, 0.1) + fmin(v, -0.1) +
                     fmin(fmax(v, -0.6), 0.6);
        ck_assert(nb_close(nb_get(y, (int64_t[]){i}), ref, 1e-5, 1e-6));
    }
    nb_requires_grad_(x, true);
    ck_assert_int_eq(nb_gradcheck(gc_scalars, &x, 1, NULL, NULL), 1);
    ck_assert_ptr_null(nb_clamp(x, 1, -1));
}
END_TEST

static nb_tensor *gc_where(nb_tensor **in, int n, void *u) {
    (void)n;
    nb_tensor *mask = u;
    return nb_add(nb_where(mask, in[0], in[1]), nb_masked_fill(in[0], mask, 3.0f));
}

START_TEST(where_and_masked_fill) {
    float m[4] = {1, 0, 0, 1};
    nb_tensor *mask = nb_from_data(ctx, NB_F32, NB_SHAPE(4), m);
    nb_tensor *a = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 4), 0, 1, &rng), true);
    nb_tensor *b = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 1), 0, 1, &rng), true);
    nb_tensor *w = nb_where(mask, a, b);
    nb_tensor *f = nb_masked_fill(a, mask, -7.0f);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            float av = nb_data_f32(a)[i * 4 + j];
            ck_assert_float_eq(nb_get(w, (int64_t[]){i, j}), m[j] ? av : nb_data_f32(b)[i]);
            ck_assert_float_eq(nb_get(f, (int64_t[]){i, j}), m[j] ? -7.0f : av);
        }
    nb_tensor *in[2] = {a, b};
    ck_assert_int_eq(nb_gradcheck(gc_where, in, 2, mask, NULL), 1);
    ck_assert_ptr_null(nb_masked_fill(a, nb_ones(ctx, NB_F32, NB_SHAPE(5)), 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "masked_fill"));
}
END_TEST

/* NaN goes through relu, clamp and every max/min, on either side (as in PyTorch); ties split the
 * gradient of maximum/minimum between the two inputs. */
START_TEST(nan_and_ties_as_pytorch) {
    const float av[4] = {NAN, 1.0f, 2.0f, -3.0f}, bv[4] = {1.0f, NAN, 2.0f, -3.0f};
    nb_tensor *a = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), av), true);
    nb_tensor *b = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), bv), true);
    nb_tensor *mx = nb_maximum(a, b), *mn = nb_minimum(a, b);
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(isnan(nb_data_f32(mx)[i]), "maximum, NaN on side %d: %g", i,
                      (double)nb_data_f32(mx)[i]);
        ck_assert_msg(isnan(nb_data_f32(mn)[i]), "minimum, NaN on side %d: %g", i,
                      (double)nb_data_f32(mn)[i]);
    }
    nb_tensor *un[4] = {nb_relu(a), nb_clamp(a, 0.0f, 1.0f), nb_maximum_scalar(a, 0.0f),
                        nb_minimum_scalar(a, 0.0f)};
    const char *names[4] = {"relu", "clamp", "maximum_scalar", "minimum_scalar"};
    for (int k = 0; k < 4; k++) {
        ck_assert_msg(un[k] != NULL, "%s: %s", names[k], nb_last_error());
        ck_assert_msg(isnan(nb_data_f32(un[k])[0]), "%s(NaN) is not NaN", names[k]);
        ck_assert_float_eq(nb_data_f32(un[k])[1], k == 3 ? 0.0f : 1.0f); /* and numbers as before */
    }
    /* ties (c and d's element 0): g/2 to each side; elsewhere all to the chosen one */
    const float cv[3] = {2.0f, 5.0f, -1.0f}, dv[3] = {2.0f, 4.0f, 0.0f};
    nb_tensor *c = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3), cv), true);
    nb_tensor *d = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3), dv), true);
    ck_assert_int_eq(
        nb_backward(nb_sum_all(nb_add(nb_maximum(c, d), nb_mul_scalar(nb_minimum(c, d), 10.0f)))), 0);
    const float gc[3] = {5.5f, 1.0f, 10.0f}, gd[3] = {5.5f, 10.0f, 1.0f};
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(nb_data_f32(c->grad)[i], gc[i]);
        ck_assert_float_eq(nb_data_f32(d->grad)[i], gd[i]);
    }
}
END_TEST

/* The gradient of one element of op(in...) for each input, by backward of the sum. */
static void grads_of(nb_tensor *y, nb_tensor **in, int n, float *g) {
    for (int i = 0; i < n; i++)
        nb_zero_grad(in[i]);
    ck_assert_msg(nb_backward(nb_sum_all(y)) == 0, "%s", nb_last_error());
    for (int i = 0; i < n; i++)
        g[i] = in[i]->grad ? nb_data_f32(in[i]->grad)[0] : 0.0f;
}

/* Special points where PyTorch's derivative conventions decide (checked against torch 1.13). */
START_TEST(special_gradients_as_pytorch) {
    float g[2];
    nb_tensor *in[2];
#define ONE(v) nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){v}), true)
    /* maximum/minimum with a NaN operand: g to both; relu at NaN: g */
    in[0] = ONE(NAN), in[1] = ONE(1.0f);
    grads_of(nb_maximum(in[0], in[1]), in, 2, g);
    ck_assert(g[0] == 1.0f && g[1] == 1.0f);
    grads_of(nb_minimum(in[1], in[0]), in, 2, g);
    ck_assert(g[0] == 1.0f && g[1] == 1.0f);
    grads_of(nb_relu(in[0]), in, 1, g);
    ck_assert_float_eq(g[0], 1.0f);
    ck_assert(isnan(nb_data_f32(nb_maximum_scalar(in[1], NAN))[0])); /* a NaN bound too */
    ck_assert(isnan(nb_data_f32(nb_minimum_scalar(in[1], NAN))[0]));
    /* pow: 0 where torch masks (exponent 0; base 0 with exponent >= 0), not NaN */
    in[0] = ONE(0.0f), in[1] = ONE(2.0f);
    grads_of(nb_pow(in[0], in[1]), in, 2, g);
    ck_assert(g[0] == 0.0f && g[1] == 0.0f);
    in[1] = ONE(0.0f);
    grads_of(nb_pow(in[0], in[1]), in, 2, g);
    ck_assert(g[0] == 0.0f && g[1] == 0.0f);
    grads_of(nb_pow_scalar(in[0], 0.0f), in, 1, g);
    ck_assert_float_eq(g[0], 0.0f);
    in[0] = ONE(4.0f), in[1] = ONE(0.5f); /* and the usual values elsewhere */
    grads_of(nb_pow(in[0], in[1]), in, 2, g);
    ck_assert_float_eq_tol(g[0], 0.25f, 1e-7);
    ck_assert_float_eq_tol(g[1], 2.0f * logf(4.0f), 1e-6);
    /* div: d/db = -(a/b)/b stays finite where -a/(b*b) overflowed */
    in[0] = ONE(3e-20f), in[1] = ONE(1e-25f);
    grads_of(nb_div(in[0], in[1]), in, 2, g);
    ck_assert_msg(isfinite(g[1]) && fabsf(g[1] / -3e30f - 1.0f) < 1e-5f, "d/db %g", (double)g[1]);
#undef ONE
}
END_TEST

/* The piecewise ops pass g or 0 (a select, as PyTorch's where) rather than multiplying g by a
 * 0/1 derivative: an infinite or NaN g stays 0 where the op is flat. The everyday case is
 * sqrt(relu(x)): sqrt's gradient at 0 is inf, and relu must stop it (it was NaN, and NaN
 * reached every weight through the matmul before). Log and div divide g by the divisor, so a
 * subnormal divisor gives a finite gradient where g * (1/x) overflowed. */
START_TEST(nonfinite_gradients_masked_as_pytorch) {
    const float xs[4] = {-1.0f, 0.5f, 2.0f, 3.0f};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), xs), true);
    nb_tensor *other = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){0.0f, 1.0f, 1.0f, 5.0f});
    struct {
        const char *name;
        nb_tensor *y;
        float want[4]; /* the gradient for g = {inf, 1, NaN, -inf}: 0 where the op is flat */
    } cases[] = {
        {"relu", nb_relu(nb_sub_scalar(x, 1.0f)), {0, 0, NAN, -INFINITY}},
        {"clamp", nb_clamp(x, 0.0f, 2.5f), {0, 1, NAN, 0}},
        {"maximum_scalar", nb_maximum_scalar(x, 1.0f), {0, 0, NAN, -INFINITY}},
        {"minimum_scalar", nb_minimum_scalar(x, 1.0f), {INFINITY, 1, 0, 0}},
        {"maximum", nb_maximum(x, other), {0, 0, NAN, 0}},
        {"minimum", nb_minimum(x, other), {INFINITY, 1, 0, -INFINITY}},
        {"pow_scalar 0", nb_pow_scalar(x, 0.0f), {0, 0, 0, 0}},
    };
    const float seed[4] = {INFINITY, 1.0f, NAN, -INFINITY};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ck_assert_ptr_nonnull(cases[c].y);
        nb_zero_grad(x);
        nb_tensor *g = nb_from_data(ctx, NB_F32, NB_SHAPE(4), seed);
        ck_assert_msg(nb_backward_with(cases[c].y, g) == 0, "%s: %s", cases[c].name, nb_last_error());
        const float *got = nb_data_f32(x->grad);
        for (int i = 0; i < 4; i++) {
            const float w = cases[c].want[i];
            ck_assert_msg(isnan(w) ? isnan(got[i]) : got[i] == w, "%s: dx[%d] = %g, want %g", cases[c].name,
                          i, (double)got[i], (double)w);
        }
    }
    /* sqrt(relu(x)) @ w: finite gradients for w, 0 for the x < 0 entries */
    nb_tensor *w = nb_requires_grad_(nb_ones(ctx, NB_F32, NB_SHAPE(4, 2)), true);
    nb_zero_grad(x);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_matmul(nb_unsqueeze(nb_sqrt(nb_relu(x)), 0), w))), 0);
    ck_assert_float_eq(nb_data_f32(x->grad)[0], 0.0f);
    for (int i = 0; i < 8; i++)
        ck_assert(isfinite(nb_data_f32(w->grad)[i]));
    /* a subnormal divisor */
    nb_tensor *tiny =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){1e-39f}), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul_scalar(nb_log(tiny), 1e-3f))), 0);
    ck_assert_msg(isfinite(nb_data_f32(tiny->grad)[0]), "log: d/dx %g", (double)nb_data_f32(tiny->grad)[0]);
    ck_assert_float_eq_tol(nb_data_f32(tiny->grad)[0], 1e36f, 1e31f);
}
END_TEST

/* The steps at their special points, as torch 1.13 prints them: sign(NaN) is 0 and sign(-0) is
 * +0; round takes halves to even; the others keep NaN, infinities and the sign of zero. Their
 * gradient is 0 everywhere, even for an infinite or NaN g (not g * 0). */
START_TEST(steps_as_pytorch) {
    const float xs[11] = {NAN, -0.0f, 0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, INFINITY, -INFINITY, -1.7f};
    const float want[5][11] = {
        {0, 0, 0, 1, 1, 1, -1, -1, 1, -1, -1},
        {NAN, -0.0f, 0, 0, 1, 2, -1, -3, INFINITY, -INFINITY, -2},
        {NAN, -0.0f, 0, 1, 2, 3, -0.0f, -2, INFINITY, -INFINITY, -1},
        {NAN, -0.0f, 0, 0, 2, 2, -0.0f, -2, INFINITY, -INFINITY, -2},
        {NAN, -0.0f, 0, 0, 1, 2, -0.0f, -2, INFINITY, -INFINITY, -1},
    };
    un_fn fns[5] = {nb_sign, nb_floor, nb_ceil, nb_round, nb_trunc};
    const char *names[5] = {"sign", "floor", "ceil", "round", "trunc"};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(11), xs), true);
    float seed[11];
    for (int i = 0; i < 11; i++)
        seed[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : 1.0f;
    for (int k = 0; k < 5; k++) {
        nb_tensor *y = fns[k](x);
        ck_assert_msg(y != NULL, "%s: %s", names[k], nb_last_error());
        const float *got = nb_data_f32(y);
        for (int i = 0; i < 11; i++) {
            const float w = want[k][i];
            ck_assert_msg(isnan(w) ? isnan(got[i]) : got[i] == w && signbit(got[i]) == signbit(w),
                          "%s(%g) = %g, want %g", names[k], (double)xs[i], (double)got[i], (double)w);
        }
        nb_zero_grad(x);
        ck_assert_int_eq(nb_backward_with(y, nb_from_data(ctx, NB_F32, NB_SHAPE(11), seed)), 0);
        for (int i = 0; i < 11; i++)
            ck_assert_msg(nb_data_f32(x->grad)[i] == 0.0f, "%s: dx[%d] = %g, want 0", names[k], i,
                          (double)nb_data_f32(x->grad)[i]);
    }
}
END_TEST

/* The newer unary ops at their special points, as torch: softplus is x itself above 20 (gradient
 * g) and never overflows below; log1p and expm1 keep the digits near 0 that log(1 + x) and
 * exp(x) - 1 lose; erf and the exact GELU saturate; leaky_relu takes its slope (and refuses NaN). */
START_TEST(special_points_of_newer_ops) {
    nb_tensor *x = nb_requires_grad_(
        nb_from_data(ctx, NB_F32, NB_SHAPE(5), (const float[]){25.0f, -100.0f, 1e-7f, -8.0f, 8.0f}), true);
    const float *sp = nb_data_f32(nb_softplus(x));
    ck_assert_float_eq(sp[0], 25.0f);
    ck_assert(sp[1] >= 0.0f && sp[1] < 1e-40f);
    ck_assert_float_eq_tol(nb_data_f32(nb_log1p(x))[2], 1e-7f, 1e-13f);
    ck_assert_float_eq_tol(nb_data_f32(nb_expm1(x))[2], 1e-7f, 1e-13f);
    const float *e = nb_data_f32(nb_erf(x)), *ge = nb_data_f32(nb_gelu_erf(x));
    ck_assert(e[3] == -1.0f && e[4] == 1.0f && ge[4] == 8.0f && fabsf(ge[3]) < 1e-12f);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_softplus(x))), 0);
    ck_assert_float_eq(nb_data_f32(x->grad)[0], 1.0f); /* the x branch above the threshold */
    ck_assert_float_eq_tol(nb_data_f32(x->grad)[2], 0.5f, 1e-6f);
    nb_zero_grad(x);
    nb_tensor *lr = nb_leaky_relu(x, 0.25f);
    ck_assert_float_eq(nb_data_f32(lr)[3], -2.0f);
    ck_assert_int_eq(nb_backward(nb_sum_all(lr)), 0);
    ck_assert(nb_data_f32(x->grad)[3] == 0.25f && nb_data_f32(x->grad)[4] == 1.0f);
    ck_assert_ptr_null(nb_leaky_relu(x, NAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "leaky_relu"));
}
END_TEST

START_TEST(errors) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    nb_tensor *b = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3));
    ck_assert_ptr_null(nb_add(a, b));
    ck_assert_str_eq(nb_last_error(), "add: shapes [2,3] and [4,3] do not broadcast (dim 0: 2 vs 4)");
    nb_clear_error(); /* a NULL input with no earlier message: the op and the input are named */
    ck_assert_ptr_null(nb_sub(a, NULL));
    ck_assert_str_eq(nb_last_error(), "sub: NULL input 1");
    nb_clear_error();
    ck_assert_ptr_null(nb_tanh(NULL));
    ck_assert_str_eq(nb_last_error(), "tanh: NULL input 0");
    nb_tensor *i = nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3));
    ck_assert_ptr_null(nb_mul(a, i));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "mul: right operand must be f32, got i32"));
    ck_assert_ptr_null(nb_exp(i));
    ck_assert_ptr_null(nb_add(NULL, a));
}
END_TEST

START_TEST(large_parallel_matches_serial) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(300, 1000), 0, 1, &rng);
    nb_tensor *bias = nb_randn(ctx, NB_SHAPE(1000), 0, 1, &rng);
    nb_set_num_threads(1);
    nb_tensor *y1 = nb_gelu(nb_add(x, bias));
    nb_set_num_threads(2);
    nb_tensor *y2 = nb_gelu(nb_add(x, bias));
    nb_set_num_threads(0);
    ck_assert_mem_eq(nb_data(y1), nb_data(y2), 300 * 1000 * 4);
}
END_TEST

/* Short innermost runs (cpu_loop.c walks them a tile of rows at a time, column by column):
 * a [5, 2000, K] operand with K from 1 to 15 plus a broadcast [K] and a transposed operand,
 * against a plain loop, serial and parallel alike, and an in-place axpy onto the same shape. */
START_TEST(short_rows_match_loops) {
    for (int64_t K = 1; K < 16; K++) {
        nb_ctx *c = nb_ctx_new(0);
        nb_tensor *a = nb_randn(c, NB_SHAPE(5, 2000, K), 0, 1, &rng),
                  *b = nb_randn(c, NB_SHAPE(K), 0, 1, &rng);
        nb_tensor *t = nb_randn(c, NB_SHAPE(5, K, 2000), 0, 1, &rng), *tt = nb_transpose(t, 1, 2);
        const float *av = nb_data_f32(a), *bv = nb_data_f32(b), *tv = nb_data_f32(t);
        nb_set_num_threads(1);
        nb_tensor *y1 = nb_mul(nb_add(a, b), tt);
        nb_set_num_threads(2);
        nb_tensor *y2 = nb_mul(nb_add(a, b), tt);
        nb_set_num_threads(0);
        ck_assert_ptr_nonnull(y1);
        ck_assert_ptr_nonnull(y2);
        ck_assert_mem_eq(nb_data(y1), nb_data(y2), (size_t)(5 * 2000 * K) * 4);
        for (int64_t i = 0; i < 5; i++)
            for (int64_t r = 0; r < 2000; r++)
                for (int64_t k = 0; k < K; k++) {
                    const int64_t at = (i * 2000 + r) * K + k;
                    const float want = (av[at] + bv[k]) * tv[(i * K + k) * 2000 + r];
                    ck_assert_msg(nb_data_f32(y1)[at] == want, "K %lld: [%lld,%lld,%lld] = %g, want %g",
                                  (long long)K, (long long)i, (long long)r, (long long)k,
                                  (double)nb_data_f32(y1)[at], (double)want);
                }
        nb_tensor *acc = nb_clone(c, a);
        ck_assert_int_eq(nb_axpy_(acc, 0.5f, nb_expand(b, 3, a->shape)), 0);
        for (int64_t at = 0; at < 5 * 2000 * K; at++)
            ck_assert(nb_data_f32(acc)[at] == av[at] + 0.5f * bv[at % K]);
        nb_ctx_free(c);
    }
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, unary_forward, 0, N_UN);
    tcase_add_loop_test(tc, unary_backward, 0, N_UN);
    tcase_add_loop_test(tc, unary_in_place_after_op, 0, N_UN);
    tcase_add_loop_test(tc, binary_forward_broadcast, 0, N_BIN);
    tcase_add_loop_test(tc, binary_backward_broadcast, 0, N_BIN);
    tcase_add_test(tc, scalar_forms);
    tcase_add_test(tc, where_and_masked_fill);
    tcase_add_test(tc, nan_and_ties_as_pytorch);
    tcase_add_test(tc, special_gradients_as_pytorch);
    tcase_add_test(tc, nonfinite_gradients_masked_as_pytorch);
    tcase_add_test(tc, special_points_of_newer_ops);
    tcase_add_test(tc, steps_as_pytorch);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, large_parallel_matches_serial);
    tcase_add_test(tc, short_rows_match_loops);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
