/* Running extremes and log-sum-exps: nb_cummax, nb_cummin (values and indices, torch's rule for
 * ties and NaN), nb_logcumsumexp (against a double loop, without overflow, -inf skipped), their
 * gradients by finite differences, 0-d inputs and refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 5)

START_TEST(cummax_cummin_values) {
    /* along dim 1 of a transposed view, with ties and a NaN */
    const float v[12] = {1, 3, 3, 2, 0, NAN, 5, -1, 4, 4, 7, 2};
    nb_tensor *base = nb_from_data(ctx, NB_F32, NB_SHAPE(4, 3), v);
    nb_tensor *x = nb_transpose(base, 0, 1); /* [3,4]: rows {1,2,5,4}, {3,0,-1,7}, {3,NaN,4,2} */
    nb_tensor *imx = NULL, *imn = NULL;
    nb_tensor *mx = nb_cummax(x, 1, &imx), *mn = nb_cummin(x, -1, &imn);
    ck_assert(mx && mn && imx && imn);
    const float want_mx[12] = {1, 2, 5, 5, 3, 3, 3, 7, 3, NAN, NAN, NAN};
    const int32_t want_imx[12] = {0, 1, 2, 2, 0, 0, 0, 3, 0, 1, 1, 1};
    const float want_mn[12] = {1, 1, 1, 1, 3, 0, -1, -1, 3, NAN, NAN, NAN};
    const int32_t want_imn[12] = {0, 0, 0, 0, 0, 1, 2, 2, 0, 1, 1, 1};
    for (int i = 0; i < 12; i++) {
        const float a = nb_data_f32(mx)[i], b = nb_data_f32(mn)[i];
        ck_assert_msg(isnan(want_mx[i]) ? isnan(a) : a == want_mx[i], "cummax %d: %g", i, (double)a);
        ck_assert_msg(isnan(want_mn[i]) ? isnan(b) : b == want_mn[i], "cummin %d: %g", i, (double)b);
        ck_assert_int_eq(((int32_t *)nb_data(imx))[i], want_imx[i]);
        ck_assert_int_eq(((int32_t *)nb_data(imn))[i], want_imn[i]);
    }
    /* a tie takes over: torch's >= */
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){2, 2, 1, 2}), *it = NULL;
    ck_assert_ptr_nonnull(nb_cummax(t, 0, &it));
    ck_assert(((int32_t *)nb_data(it))[1] == 1 && ((int32_t *)nb_data(it))[2] == 1 &&
              ((int32_t *)nb_data(it))[3] == 3);
    /* 0-d: itself, index 0 */
    nb_tensor *s = nb_scalar(ctx, 4.0f), *is = NULL, *ms = nb_cummin(s, -1, &is);
    ck_assert(ms && ms->ndim == 0 && nb_item(ms) == 4.0f && is->ndim == 0 &&
              ((int32_t *)nb_data(is))[0] == 0);
}
END_TEST

START_TEST(logcumsumexp_values) {
    /* along dim 0 of [5,3]: ordinary values, one huge, -inf at the start and in the middle */
    const float v[15] = {-INFINITY, 1, 100,   0.5f,      -INFINITY, 100,   -INFINITY, 2,
                         -3,        2, 88.8f, -INFINITY, -1,        89.5f, 7};
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(5, 3), v);
    nb_tensor *y = nb_logcumsumexp(x, 0);
    ck_assert(y);
    for (int c = 0; c < 3; c++) {
        double acc = -INFINITY;
        for (int r = 0; r < 5; r++) {
            const double xi = v[r * 3 + c], m = acc > xi ? acc : xi;
            acc = isinf(m) && m < 0 ? m : m + log(exp(acc - m) + exp(xi - m));
            const float got = nb_data_f32(y)[r * 3 + c];
            ck_assert_msg(isinf(acc) ? got == (float)acc : nb_close(got, acc, 1e-6, 1e-6),
                          "(%d,%d): %g vs %g", r, c, (double)got, acc);
        }
    }
    /* all -inf stays -inf; +inf and NaN propagate */
    nb_tensor *sp = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){-INFINITY, INFINITY, 1, NAN});
    const float *o = nb_data_f32(nb_logcumsumexp(sp, 0));
    ck_assert(o[0] == -INFINITY && o[1] == INFINITY && o[2] == INFINITY && isnan(o[3]));
    ck_assert(nb_item(nb_logcumsumexp(nb_scalar(ctx, 3.0f), 0)) == 3.0f);
    /* 0-d: g passes through, as torch's (the formula would give exp(-inf + inf) = NaN); the same
     * for a 0-d product */
    for (int k = 0; k < 2; k++) {
        nb_tensor *s0 = nb_requires_grad_(nb_scalar(ctx, k ? -INFINITY : INFINITY), true);
        nb_tensor *l = nb_logcumsumexp(s0, -1), *p = nb_prod(s0, 0, NULL, false);
        ck_assert(l && p && nb_item(l) == nb_item(s0));
        ck_assert_int_eq(nb_backward(nb_add(nb_mul_scalar(l, 3.0f), p)), 0);
        ck_assert(nb_item(s0->grad) == 4.0f);
    }
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = nb_permute(in[0], (const int[]){1, 0, 2});
    if (gc_case == 0) return nb_cummax(x, 1, NULL);
    if (gc_case == 1) return nb_cummin(x, 0, NULL);
    return nb_logcumsumexp(x, gc_case == 2 ? 1 : 2);
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case < 4; gc_case++) {
        /* distinct values a step apart, so no finite difference crosses a tie */
        nb_tensor *p = nb_cast(nb_randperm(ctx, 24, &rng), NB_F32);
        nb_tensor *in[1] = {
            nb_requires_grad_(nb_detach(nb_mul_scalar(nb_reshape(p, NB_SHAPE(3, 2, 4)), 0.37f)), true)};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 1, NULL, NULL) == 1, "case %d: %s", gc_case, nb_last_error());
    }
    /* logcumsumexp's gradient with large inputs and a negative g: finite, as torch's */
    nb_tensor *x =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){80, 85, 89}), true);
    nb_tensor *w = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){1, -2, 0.5f});
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(nb_logcumsumexp(x, 0), w))), 0);
    for (int i = 0; i < 3; i++)
        ck_assert(isfinite(nb_data_f32(x->grad)[i]));
    /* the gradient of the last element: sum over j >= 2 of w_j e^(x_2 - y_j) = 0.5 * e^(89 - y_2) */
    const double y2 = 89 + log1p(exp(85 - 89.0) + exp(80 - 89.0));
    ck_assert(nb_close(nb_data_f32(x->grad)[2], 0.5 * exp(89 - y2), 1e-5, 1e-7));
}
END_TEST

START_TEST(refusals) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert_ptr_null(nb_cummax(x, 2, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cummax: dim 2 out of range"));
    ck_assert_ptr_null(nb_logcumsumexp(nb_zeros(ctx, NB_I32, NB_SHAPE(2)), 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "logcumsumexp: input must be f32"));
    nb_clear_error();
    nb_tensor *i = (nb_tensor *)1;
    ck_assert_ptr_null(nb_cummin(NULL, 0, &i));
    ck_assert_ptr_null(i);
    ck_assert_str_eq(nb_last_error(), "cummin: NULL input 0");
    /* empty dims: empty results */
    nb_tensor *e = nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3)), *ie = NULL;
    nb_tensor *me = nb_cummax(e, 0, &ie);
    ck_assert(me && me->shape[0] == 0 && ie && ie->shape[0] == 0);
    ck_assert_ptr_nonnull(nb_logcumsumexp(e, 1));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_scan");
    TCase *tc = tcase_create("scan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cummax_cummin_values);
    tcase_add_test(tc, logcumsumexp_values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
