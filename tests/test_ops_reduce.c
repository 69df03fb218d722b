/* Reductions over any set of axes: forward against plain loops, backward
 * through gradcheck, argmax, errors. */
#include <math.h>
#include <string.h>

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

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_VAR, R_STD, R_LSE, R_PROD };

/* reference over x [2,3,4] (row-major copy) reducing axes in mask */
static double ref_reduce(const float *x, int op, const bool *mask, const int *keep_idx) {
    double acc = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1 : 0, n = 0, mean = 0;
    const bool var = op == R_VAR || op == R_STD;
    for (int pass = 0; pass < (var ? 2 : 1); pass++) {
        acc = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1 : 0;
        n = 0;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++) {
                    int idx[3] = {i, j, k};
                    bool ok = true;
                    for (int d = 0; d < 3; d++)
                        if (!mask[d] && idx[d] != keep_idx[d]) ok = false;
                    if (!ok) continue;
                    double v = x[(i * 3 + j) * 4 + k];
                    n++;
                    if (op == R_MAX) acc = fmax(acc, v);
                    else if (op == R_MIN) acc = fmin(acc, v);
                    else if (var && pass == 1)
                        acc += (v - mean) * (v - mean);
                    else if (op == R_LSE)
                        acc += exp(v);
                    else if (op == R_PROD)
                        acc *= v;
                    else acc += v;
                }
        if (var && pass == 0) mean = acc / n;
    }
    if (op == R_MEAN) return acc / n;
    if (op == R_VAR) return acc / (n - 1);
    if (op == R_STD) return sqrt(acc / (n - 1));
    if (op == R_LSE) return log(acc);
    return acc;
}

static nb_tensor *apply(int op, nb_tensor *x, int na, const int *axes, bool keep) {
    switch (op) {
    case R_SUM: return nb_sum(x, na, axes, keep);
    case R_MEAN: return nb_mean(x, na, axes, keep);
    case R_MAX: return nb_max(x, na, axes, keep);
    case R_MIN: return nb_min(x, na, axes, keep);
    case R_VAR: return nb_var(x, na, axes, 1, keep);
    case R_STD: return nb_std(x, na, axes, 1, keep);
    case R_PROD: return nb_prod(x, na, axes, keep);
    default: return nb_logsumexp(x, na, axes, keep);
    }
}

/* every op x every non-empty subset of axes x keepdim, on a permuted input */
START_TEST(forward_all_axis_sets) {
    int op = _i;
    nb_tensor *base = nb_randn(ctx, NB_SHAPE(4, 2, 3), 0, 1, &rng);
    nb_tensor *x = nb_permute(base, (int[]){1, 2, 0}); /* [2,3,4], non-contiguous */
    float xs[24];
    ck_assert_int_eq(nb_to_array(x, NB_F32, xs), 0);
    for (int pass = 0; pass < 2; pass++, x = nb_contiguous(x)) /* strided, then contiguous kernels */
    for (int m = 1; m < 8; m++)
        for (int keep = 0; keep < 2; keep++) {
            int axes[3], na = 0;
            bool mask[3];
            for (int d = 0; d < 3; d++) {
                mask[d] = m >> d & 1;
                if (mask[d]) axes[na++] = d - (d == 2 ? 3 : 0); /* use -1 for the last axis */
            }
            nb_tensor *y = apply(op, x, na, axes, keep);
            ck_assert_msg(y != NULL, "%s", nb_last_error());
            ck_assert_int_eq(y->ndim, keep ? 3 : 3 - na);
            int64_t sizes[3] = {2, 3, 4};
            for (int i = 0; i < (mask[0] ? 1 : 2); i++)
                for (int j = 0; j < (mask[1] ? 1 : 3); j++)
                    for (int k = 0; k < (mask[2] ? 1 : 4); k++) {
                        int ki[3] = {i, j, k};
                        int64_t yi[3];
                        int nd = 0;
                        for (int d = 0; d < 3; d++)
                            if (!mask[d] || keep) yi[nd++] = mask[d] ? 0 : ki[d];
                        (void)sizes;
                        double got = nb_get(y, yi), ref = ref_reduce(xs, op, mask, ki);
                        ck_assert_msg(nb_close(got, ref, 1e-5, 1e-5), "op %d mask %d: %g vs %g", op, m, got, ref);
                    }
        }
    /* all axes */
    nb_tensor *all = apply(op, x, 0, NULL, false);
    bool mall[3] = {true, true, true};
    int z[3] = {0, 0, 0};
    ck_assert(nb_close(nb_item(all), ref_reduce(xs, op, mall, z), 1e-5, 1e-5));
}
END_TEST

static int gc_op;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = nb_transpose(in[0], 0, 2);
    int a1[1] = {1}, a2[2] = {0, 2};
    return nb_add(nb_sum_all(apply(gc_op, x, 1, a1, false)), nb_mul_scalar(nb_sum_all(apply(gc_op, x, 2, a2, true)), 0.5f));
}

START_TEST(backward) {
    gc_op = _i;
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4, 3, 2), 0, 1, &rng), true);
    /* distinct, well-separated values so max/min have no ties */
    for (int i = 0; i < 24; i++) nb_data_f32(x)[i] = (float)((i * 7) % 24) * 0.1f - 1.2f;
    nb_tensor *in[1] = {x};
    ck_assert_msg(nb_gradcheck(gc_fn, in, 1, NULL, NULL) == 1, "op %d: %s", _i, nb_last_error());
}
END_TEST

/* prod's gradient with zeros (torch's rule): a slice with one zero sends the product of the
 * others to the zero and 0 elsewhere; with two zeros, 0 everywhere; without, y / x. Checked
 * exactly, then by finite differences (the product is linear in each element, zeros included);
 * a long product on the blocked kernels against a double loop, on 1 and 2 threads. */
START_TEST(prod_with_zeros) {
    float d[12] = {2, 0, 3, 4, /* one zero */ 0, 5, 0, 6, /* two zeros */ 1, 2, -3, 0.5f};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3, 4), d), true);
    nb_tensor *y = nb_prod(x, 1, (int[]){1}, false);
    ck_assert_ptr_nonnull(y);
    ck_assert(nb_data_f32(y)[0] == 0 && nb_data_f32(y)[1] == 0 && nb_data_f32(y)[2] == -3);
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    const float want[12] = {0, 24, 0, 0, 0, 0, 0, 0, -3, -1.5f, 1, -6};
    for (int i = 0; i < 12; i++)
        ck_assert_msg(nb_data_f32(x->grad)[i] == want[i], "dx[%d] = %g, want %g", i,
                      (double)nb_data_f32(x->grad)[i], (double)want[i]);
    gc_op = R_PROD;
    nb_tensor *z = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4, 3, 2), 0, 1, &rng), true);
    nb_data_f32(z)[3] = 0.0f, nb_data_f32(z)[17] = 0.0f, nb_data_f32(z)[19] = 0.0f;
    nb_tensor *in[1] = {z};
    ck_assert_msg(nb_gradcheck(gc_fn, in, 1, NULL, NULL) == 1, "prod with zeros: %s", nb_last_error());
    /* empty product: 1 */
    nb_tensor *e = nb_prod(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 0)), 1, (int[]){1}, false);
    ck_assert(e && nb_data_f32(e)[0] == 1.0f && nb_data_f32(e)[2] == 1.0f);
    /* [3, 70000, 5] of values near 1 over dim 1, and all of it */
    nb_ctx *c = nb_ctx_new(0);
    nb_tensor *big = nb_add_scalar(nb_randn(c, NB_SHAPE(3, 70000, 5), 0, 1e-3f, &rng), 1.0f);
    nb_set_num_threads(1);
    nb_tensor *p1 = nb_prod(big, 1, (int[]){1}, false), *a1 = nb_prod(big, 0, NULL, false);
    nb_set_num_threads(2);
    nb_tensor *p2 = nb_prod(big, 1, (int[]){1}, false), *a2 = nb_prod(big, 0, NULL, false);
    nb_set_num_threads(0);
    ck_assert_mem_eq(nb_data(p1), nb_data(p2), 15 * 4);
    ck_assert_mem_eq(nb_data(a1), nb_data(a2), 4);
    const float *bv = nb_data_f32(big);
    double all = 1;
    for (int q = 0; q < 3; q++)
        for (int k = 0; k < 5; k++) {
            double want_p = 1;
            for (int r = 0; r < 70000; r++)
                want_p *= bv[(q * 70000 + r) * 5 + k];
            all *= want_p;
            ck_assert_msg(nb_close(nb_data_f32(p1)[q * 5 + k], want_p, 1e-6, 0), "prod[%d,%d] = %g, want %g",
                          q, k, (double)nb_data_f32(p1)[q * 5 + k], want_p);
        }
    ck_assert_msg(nb_close(nb_item(a1), all, 1e-5, 0), "prod all = %g, want %g", nb_item(a1), all);
    nb_ctx_free(c);
}
END_TEST

START_TEST(max_ties_share_gradient) {
    float d[4] = {1, 3, 3, 2};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), d), true);
    ck_assert_int_eq(nb_backward(nb_max(x, 0, NULL, false)), 0);
    ck_assert_float_eq(nb_data_f32(x->grad)[1], 0.5f);
    ck_assert_float_eq(nb_data_f32(x->grad)[2], 0.5f);
    ck_assert_float_eq(nb_data_f32(x->grad)[0], 0.0f);
}
END_TEST

START_TEST(argmax) {
    float d[12] = {0, 5, 2, 5, /**/ 9, 1, 1, 0, /**/ -1, -2, -0.5f, -3};
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 4), d);
    nb_tensor *a = nb_argmax(x, 1, false);
    ck_assert_int_eq(a->dtype, NB_I32);
    ck_assert_int_eq(a->ndim, 1);
    ck_assert_int_eq((int)nb_get(a, (int64_t[]){0}), 1); /* first of the ties */
    ck_assert_int_eq((int)nb_get(a, (int64_t[]){1}), 0);
    ck_assert_int_eq((int)nb_get(a, (int64_t[]){2}), 2);
    nb_tensor *b = nb_argmax(nb_transpose(x, 0, 1), -1, true);
    ck_assert_int_eq(b->ndim, 2);
    ck_assert_int_eq((int)nb_get(b, (int64_t[]){0, 0}), 1);
    ck_assert_int_eq((int)nb_get(b, (int64_t[]){3, 0}), 0);
}
END_TEST

/* logsumexp where the naive form fails (large values, -inf and +inf slices, NaN), argmin (ties,
 * NaN as torch), stack (values, gradient, errors). */
START_TEST(logsumexp_argmin_stack) {
    float d[12] = {1000,   1000,     999, -1e30f, /**/ -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                   /**/ 1, INFINITY, 2,   3};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3, 4), d), true);
    nb_tensor *l = nb_logsumexp(x, 1, (int[]){1}, false);
    ck_assert(l && l->ndim == 1);
    ck_assert_float_eq_tol(nb_data_f32(l)[0], 1000.0f + (float)log(2 + exp(-1.0)), 1e-3f);
    ck_assert(isinf(nb_data_f32(l)[1]) && nb_data_f32(l)[1] < 0);
    ck_assert(isinf(nb_data_f32(l)[2]) && nb_data_f32(l)[2] > 0);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_narrow(l, 0, 0, 1))), 0); /* the softmax of row 0 */
    const double e1 = exp(-1.0), z = 2 + e1;
    ck_assert_float_eq_tol(nb_data_f32(x->grad)[0], (float)(1 / z), 1e-6f);
    ck_assert_float_eq_tol(nb_data_f32(x->grad)[2], (float)(e1 / z), 1e-6f);
    ck_assert_float_eq(nb_data_f32(x->grad)[3], 0.0f);
    nb_tensor *k = nb_logsumexp(nb_detach(x), 1, (int[]){-1}, true);
    ck_assert(k->ndim == 2 && k->shape[1] == 1);
    float dn[4] = {NAN, 0, 1, 2};
    ck_assert(isnan(nb_item(nb_logsumexp(nb_from_data(ctx, NB_F32, NB_SHAPE(4), dn), 0, NULL, false))));
    nb_tensor *le = nb_logsumexp(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0)), 1, (int[]){1}, false);
    ck_assert(le && le->shape[0] == 2 && isinf(nb_data_f32(le)[1]) && nb_data_f32(le)[1] < 0); /* log 0 */
    /* std of a constant slice: 0, with gradient 0 (not 0 * inf = NaN), as torch */
    nb_tensor *cs =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){2, 2, 1, 3}), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_std(cs, 1, (int[]){1}, 1, false))), 0);
    ck_assert(nb_data_f32(cs->grad)[0] == 0.0f && nb_data_f32(cs->grad)[1] == 0.0f);
    ck_assert_float_eq_tol(nb_data_f32(cs->grad)[3], (float)(1 / sqrt(2.0)), 1e-6f);

    float m[8] = {3, 1, 1, 2, /**/ 5, NAN, -7, NAN};
    nb_tensor *am = nb_argmin(nb_from_data(ctx, NB_F32, NB_SHAPE(2, 4), m), 1, false);
    ck_assert(am && am->dtype == NB_I32 && am->ndim == 1);
    ck_assert_int_eq((int)nb_get(am, (int64_t[]){0}), 1); /* the first of the tied minima */
    ck_assert_int_eq((int)nb_get(am, (int64_t[]){1}), 1); /* the first NaN */
    ck_assert_ptr_null(nb_argmin(nb_scalar(ctx, 1.0f), 0, false));
    ck_assert_str_eq(nb_last_error(), "argmin: empty or 0-d input"); /* argmax's check, under its name */

    nb_tensor *a = nb_requires_grad_(nb_arange(ctx, NB_F32, 0, 6, 1), true);
    nb_tensor *b = nb_requires_grad_(nb_arange(ctx, NB_F32, 10, 16, 1), true);
    nb_tensor *ar = nb_reshape(a, NB_SHAPE(2, 3)), *br = nb_reshape(b, NB_SHAPE(2, 3));
    nb_tensor *s0 = nb_stack((nb_tensor *[]){ar, br}, 2, 0), *s2 = nb_stack((nb_tensor *[]){ar, br}, 2, -1);
    ck_assert(s0 && s0->ndim == 3 && s0->shape[0] == 2 && s0->shape[1] == 2 && s0->shape[2] == 3);
    ck_assert(s2 && s2->shape[0] == 2 && s2->shape[1] == 3 && s2->shape[2] == 2);
    ck_assert_double_eq(nb_get(s0, (int64_t[]){1, 1, 2}), 15.0);
    ck_assert_double_eq(nb_get(s2, (int64_t[]){1, 2, 0}), 5.0);
    ck_assert_double_eq(nb_get(s2, (int64_t[]){0, 1, 1}), 11.0);
    nb_tensor *w = nb_arange(ctx, NB_F32, 0, 12, 1);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(nb_flatten(s2), w))), 0);
    ck_assert_float_eq(nb_data_f32(a->grad)[5], 10.0f); /* s2[1,2,0] is element 10 */
    ck_assert_float_eq(nb_data_f32(b->grad)[1], 3.0f);  /* s2[0,1,1] is element 3 */
    ck_assert_ptr_null(nb_stack((nb_tensor *[]){ar, a}, 2, 0));
    ck_assert_str_eq(nb_last_error(),
                     "stack: tensor 1 has shape [6] but tensor 0 has [2,3] (all must match)");
    ck_assert_ptr_null(nb_stack((nb_tensor *[]){ar, br}, 2, 3));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "stack: dim 3 out of range"));
    ck_assert_ptr_null(nb_stack((nb_tensor *[]){ar, nb_cast(br, NB_I32)}, 2, 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "stack: tensor 1 is i32"));
    ck_assert_ptr_null(nb_stack(NULL, 0, 0));
}
END_TEST

START_TEST(large_sum_is_deterministic_and_accurate) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(1536, 384), 0, 1, &rng);
    int ax0[1] = {0};
    nb_tensor *s1 = nb_sum(x, 1, ax0, false);
    nb_tensor *s2 = nb_sum(x, 1, ax0, false);
    ck_assert_mem_eq(nb_data(s1), nb_data(s2), 384 * 4);
    for (int j = 0; j < 384; j += 37) {
        double r = 0;
        for (int i = 0; i < 1536; i++) r += nb_data_f32(x)[i * 384 + j];
        ck_assert(nb_close(nb_data_f32(s1)[j], r, 1e-6, 1e-5));
    }
}
END_TEST

/* The blocked reductions (cpu_reduce.c's reduce_rows): x viewed as [Q, R, K] reduced over R,
 * with K from 1 to 300 (the lane path up to 32 columns, the column chunks beyond), R long enough
 * for several row blocks, against a double loop; NaNs in one column must give NaN for max and
 * min there only; the result must not depend on the thread count. */
START_TEST(blocked_reductions_match_loops) {
    const int64_t Ks[] = {1, 2, 3, 7, 31, 32, 33, 300}, Qs[] = {1, 3};
    for (int qi = 0; qi < 2; qi++)
        for (int ki = 0; ki < (int)(sizeof Ks / sizeof *Ks); ki++) {
            const int64_t Q = Qs[qi], K = Ks[ki], R = 200000 / K + 3;
            nb_ctx *c = nb_ctx_new(0);
            nb_tensor *x = nb_randn(c, NB_SHAPE(Q, R, K), 0, 1, &rng);
            float *xv = nb_data_f32(x);
            if (K > 1) xv[(Q - 1) * R * K + (R / 2) * K + 1] = NAN; /* column 1 of the last slice */
            const int ax[1] = {1};
            for (int op = R_SUM; op <= R_MIN; op++) {
                if (op == R_MEAN) continue;
                nb_set_num_threads(1);
                nb_tensor *y1 = apply(op, x, 1, ax, false);
                nb_set_num_threads(2);
                nb_tensor *y2 = apply(op, x, 1, ax, false);
                nb_set_num_threads(0);
                ck_assert_ptr_nonnull(y1);
                ck_assert_ptr_nonnull(y2);
                ck_assert_mem_eq(nb_data(y1), nb_data(y2), (size_t)(Q * K) * 4);
                for (int64_t q = 0; q < Q; q++)
                    for (int64_t k = 0; k < K; k++) {
                        double want = op == R_SUM ? 0 : op == R_MAX ? -INFINITY : INFINITY;
                        bool nan = false;
                        for (int64_t r = 0; r < R; r++) {
                            double v = xv[(q * R + r) * K + k];
                            nan |= v != v;
                            want = op == R_SUM ? want + v : op == R_MAX ? fmax(want, v) : fmin(want, v);
                        }
                        const float got = nb_data_f32(y1)[q * K + k];
                        if (nan)
                            ck_assert_msg(isnan(got), "op %d Q %lld K %lld: [%lld,%lld] = %g, want NaN", op,
                                          (long long)Q, (long long)K, (long long)q, (long long)k,
                                          (double)got);
                        else
                            ck_assert_msg(op == R_SUM ? nb_close(got, want, 1e-6, 1e-4) : got == (float)want,
                                          "op %d Q %lld K %lld: [%lld,%lld] = %.9g, want %.9g", op,
                                          (long long)Q, (long long)K, (long long)q, (long long)k, (double)got,
                                          want);
                    }
            }
            nb_ctx_free(c);
        }
}
END_TEST

static int gc_axis;
static nb_tensor *gc_cumprod(nb_tensor **in, int n, void *u);

/* cumprod along each dim of a [4,5] with zeros (none, one, two in a line, at either end), against
 * loops in double; its gradient against the definition (d y_j / d x_i is the product of x_0..x_j
 * without x_i), and by finite differences through a transposed view. */
START_TEST(cumprod_values_and_gradient) {
    const float xv[20] = {1.5f,  -0.5f, 2.0f, 0.8f, 1.2f,  /* no zero */
                          0.7f,  0.0f,  1.3f, 2.0f, -1.1f, /* one */
                          0.0f,  1.4f,  0.0f, 0.9f, 1.1f,  /* two, one first */
                          -1.2f, 0.6f,  1.7f, 0.5f, 0.0f}; /* one, last */
    for (int dim = 0; dim < 2; dim++) {
        nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4, 5), xv), true);
        nb_tensor *g = nb_randn(ctx, NB_SHAPE(4, 5), 0, 1, &rng);
        nb_tensor *y = nb_cumprod(x, dim);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, g))), 0);
        const int L = dim ? 5 : 4, lines = dim ? 4 : 5;
        for (int l = 0; l < lines; l++) {
#define AT(i) (dim ? l * 5 + (i) : (i)*5 + l)
            double run = 1;
            for (int i = 0; i < L; i++) {
                run *= xv[AT(i)];
                ck_assert_msg(nb_data_f32(y)[AT(i)] == (float)run, "dim %d line %d: y[%d] = %g, want %g", dim,
                              l, i, (double)nb_data_f32(y)[AT(i)], run);
            }
            for (int i = 0; i < L; i++) {
                double want = 0;
                for (int j = i; j < L; j++) {
                    double p = 1;
                    for (int k = 0; k <= j; k++)
                        if (k != i) p *= xv[AT(k)];
                    want += nb_data_f32(g)[AT(j)] * p;
                }
                ck_assert_msg(nb_close(nb_data_f32(x->grad)[AT(i)], want, 1e-5, 1e-6),
                              "dim %d line %d: dx[%d] = %g, want %g", dim, l, i,
                              (double)nb_data_f32(x->grad)[AT(i)], want);
            }
#undef AT
        }
    }
    gc_axis = 1;
    nb_tensor *z = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(5, 3, 4), 0, 1, &rng), true);
    nb_data_f32(z)[7] = 0.0f, nb_data_f32(z)[30] = 0.0f, nb_data_f32(z)[42] = 0.0f;
    nb_tensor *in[1] = {z};
    ck_assert_msg(nb_gradcheck(gc_cumprod, in, 1, NULL, NULL) == 1, "%s", nb_last_error());
    ck_assert_ptr_null(nb_cumprod(z, 3));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cumprod: dim 3 out of range"));
}
END_TEST

static nb_tensor *gc_cumsum(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_cumsum(nb_transpose(in[0], 0, 2), gc_axis);
}
static nb_tensor *gc_cumprod(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_cumprod(nb_transpose(in[0], 0, 2), gc_axis);
}

/* cumsum along every axis of a transposed (non-contiguous) [4,3,5] view, against a double loop;
 * its gradient (the reversed running sum) through gradcheck, along each axis and through a
 * broadcast input; 0-d, empty and the errors. */
START_TEST(cumsum) {
    nb_tensor *base = nb_randn(ctx, NB_SHAPE(5, 3, 4), 0, 1, &rng);
    nb_tensor *x = nb_permute(base, (const int[]){2, 1, 0}); /* [4,3,5] */
    for (int d = -3; d < 3; d++) {
        nb_tensor *y = nb_cumsum(x, d);
        ck_assert_msg(y != NULL, "dim %d: %s", d, nb_last_error());
        const int ax = d < 0 ? d + 3 : d;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 5; k++) {
                    const int idx[3] = {i, j, k};
                    double want = 0;
                    for (int t = 0; t <= idx[ax]; t++) {
                        int s[3] = {i, j, k};
                        s[ax] = t;
                        want += nb_data_f32(base)[s[2] * 12 + s[1] * 4 + s[0]];
                    }
                    const double got = nb_get(y, (int64_t[]){i, j, k});
                    ck_assert_msg(fabs(got - want) <= 1e-6 * (1 + fabs(want)),
                                  "dim %d (%d,%d,%d): %g, want %g", d, i, j, k, got, want);
                }
    }
    for (int d = 0; d < 3; d++) {
        nb_tensor *p = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 4, 2), 0, 1, &rng), true);
        gc_axis = d;
        ck_assert_msg(nb_gradcheck(gc_cumsum, &p, 1, NULL, NULL) == 1, "dim %d: %s", d, nb_last_error());
    }
    /* the gradient of sum(cumsum(x)) along n is n - i at position i: the engine hands the rule an
     * expanded (stride 0) gradient */
    nb_tensor *v = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(6), 0, 1, &rng), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_cumsum(v, 0))), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(nb_data_f32(v->grad)[i], (float)(6 - i));
    /* accumulated in double: 1e8 + 1 + ... stays exact where a float running sum would not */
    nb_tensor *big = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){1e8f, 1.0f, 1.0f, -1e8f});
    ck_assert_float_eq(nb_data_f32(nb_cumsum(big, 0))[3], 2.0f);
    nb_tensor *z = nb_scalar(ctx, 2.5f);
    nb_tensor *zc = nb_cumsum(z, -1);
    ck_assert_msg(zc && zc->ndim == 0 && nb_item(zc) == 2.5, "0-d: %s", nb_last_error());
    nb_tensor *e = nb_cumsum(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3)), 0);
    ck_assert_msg(e && e->shape[0] == 0 && e->shape[1] == 3, "empty: %s", nb_last_error());
    ck_assert_ptr_null(nb_cumsum(x, 3));
    ck_assert_str_eq(nb_last_error(), "cumsum: dim 3 out of range for a 3-d tensor");
    ck_assert_ptr_null(nb_cumsum(z, 1));
    ck_assert_ptr_null(nb_cumsum(nb_zeros(ctx, NB_I32, NB_SHAPE(2)), 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cumsum"));
}
END_TEST

START_TEST(errors) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert_ptr_null(nb_sum(x, 1, (int[]){2}, false));
    ck_assert_str_eq(nb_last_error(), "sum: axis 2 out of range for [2,3]");
    ck_assert_ptr_null(nb_mean(x, 2, (int[]){0, -2}, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "repeated"));
    ck_assert_ptr_null(nb_var(x, 1, (int[]){0}, 2, false));
    ck_assert_ptr_null(nb_std(x, 1, (int[]){0}, 2, false)); /* composed of var, reported as std */
    ck_assert_str_eq(nb_last_error(), "std: 2 elements with correction 2");
    ck_assert_ptr_null(nb_argmax(x, 3, false));
    ck_assert_ptr_null(nb_max(nb_zeros(ctx, NB_F32, NB_SHAPE(0)), 0, NULL, false));
    ck_assert_str_eq(nb_last_error(), "max: cannot reduce over axis 0 of [0]: it is empty");
    /* an empty tensor reduced over an axis that is not: an empty result, as sum (and torch's amax),
     * and its backward */
    nb_tensor *e = nb_requires_grad_(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3)), true);
    nb_tensor *m = nb_max(e, 1, (int[]){1}, false), *mn = nb_min(e, 1, (int[]){-1}, true);
    ck_assert_msg(m && mn, "%s", nb_last_error());
    ck_assert(m->ndim == 1 && m->shape[0] == 0 && mn->ndim == 2 && mn->shape[0] == 0 && mn->shape[1] == 1);
    ck_assert_int_eq(nb_backward(nb_add(nb_sum_all(m), nb_sum_all(mn))), 0);
    ck_assert(e->grad && nb_numel(e->grad) == 0);
    ck_assert_ptr_null(nb_min(e, 1, (int[]){0}, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "axis 0 of [0,3]"));
    ck_assert_ptr_null(nb_sum(nb_zeros(ctx, NB_I32, NB_SHAPE(2)), 0, NULL, false));
}
END_TEST

/* g = 1 through f on the values v: the gradient, written to gout */
static void grad_of(nb_tensor *(*f)(nb_tensor *), int n, const float *v, float *gout) {
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(n), v), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(f(x))), 0);
    memcpy(gout, nb_data_f32(x->grad), sizeof(float) * (size_t)n);
}
static nb_tensor *cumprod0(nb_tensor *x) { return nb_cumprod(x, 0); }
static nb_tensor *prod_all(nb_tensor *x) { return nb_prod(x, 0, NULL, false); }

/* torch's gradients where a zero meets an infinity or NaN: what comes after a line's zero (or
 * its second zero) does not reach the elements before it; a one-element line passes g; a full
 * product with two zeros has gradient 0 */
START_TEST(scan_and_prod_gradients_beside_zeros) {
    const float inf = INFINITY;
    float g[5];
    grad_of(cumprod0, 3, (const float[]){2, 0, inf}, g);
    ck_assert(g[0] == 1.0f && g[1] == inf && g[2] == 0.0f);
    grad_of(cumprod0, 5, (const float[]){2, 0, 3, 0, inf}, g);
    ck_assert(g[0] == 1.0f && g[1] == 8.0f && g[2] == 0.0f && g[3] == 0.0f && g[4] == 0.0f);
    grad_of(cumprod0, 1, (const float[]){inf}, g);
    ck_assert(g[0] == 1.0f);
    grad_of(prod_all, 3, (const float[]){0, inf, 2}, g);
    ck_assert(g[0] == inf && g[1] == 0.0f && isnan(g[2]));
    grad_of(prod_all, 4, (const float[]){0, inf, 2, 0}, g);
    ck_assert(g[0] == 0.0f && g[1] == 0.0f && g[2] == 0.0f && g[3] == 0.0f);
    grad_of(prod_all, 4, (const float[]){3, 0, 2, 5}, g); /* one zero: the others' product there */
    ck_assert(g[0] == 0.0f && g[1] == 30.0f && g[2] == 0.0f && g[3] == 0.0f);
    /* over two of three axes, one slice with a zero and one without */
    nb_tensor *x = nb_requires_grad_(
        nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2, 2), (const float[]){0, 3, 2, 5, 1, 2, 4, 0.5f}), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_prod(x, 2, (const int[]){0, 2}, false))), 0);
    /* slice [.,0,.]: {0, 3, 1, 2}: the zero gets 6; slice [.,1,.]: {2, 5, 4, 0.5}: y / x */
    const float want[8] = {6, 0, 10, 4, 0, 0, 5, 40};
    for (int i = 0; i < 8; i++)
        ck_assert_msg(nb_data_f32(x->grad)[i] == want[i], "%d: %g", i, (double)nb_data_f32(x->grad)[i]);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, forward_all_axis_sets, R_SUM, R_PROD + 1);
    tcase_add_loop_test(tc, backward, R_SUM, R_PROD + 1);
    tcase_add_test(tc, prod_with_zeros);
    tcase_add_test(tc, max_ties_share_gradient);
    tcase_add_test(tc, argmax);
    tcase_add_test(tc, logsumexp_argmin_stack);
    tcase_add_test(tc, large_sum_is_deterministic_and_accurate);
    tcase_add_test(tc, blocked_reductions_match_loops);
    tcase_add_test(tc, cumsum);
    tcase_add_test(tc, cumprod_values_and_gradient);
    tcase_add_test(tc, scan_and_prod_gradients_beside_zeros);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
