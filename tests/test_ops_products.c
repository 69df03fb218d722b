/* Products and distances (ops/products.c): outer, kron, tensordot, cross, cdist against loops,
 * their gradients by finite differences, and the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 17)

START_TEST(values) {
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng), *b = nb_randn(ctx, NB_SHAPE(4, 2), 0, 1, &rng);
    const float *av = nb_data_f32(a), *bv = nb_data_f32(b);
    /* kron [2,3] x [4,2] = [8,6]: out[i*4+k][j*2+l] = a[i][j] b[k][l] */
    nb_tensor *k = nb_kron(a, b);
    ck_assert(k && k->ndim == 2 && k->shape[0] == 8 && k->shape[1] == 6);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int p = 0; p < 4; p++)
                for (int l = 0; l < 2; l++)
                    ck_assert(nb_get(k, (int64_t[]){i * 4 + p, j * 2 + l}) == av[i * 3 + j] * bv[p * 2 + l]);
    /* kron of a 1-d with a 2-d: the 1-d as [1, n] */
    nb_tensor *k2 = nb_kron(nb_narrow(nb_flatten(a), 0, 0, 2), b);
    ck_assert(k2 && k2->shape[0] == 4 && k2->shape[1] == 4);
    /* outer */
    nb_tensor *o = nb_outer(nb_flatten(a), nb_narrow(nb_flatten(b), 0, 0, 3));
    ck_assert(o && o->shape[0] == 6 && o->shape[1] == 3 && nb_get(o, (int64_t[]){4, 2}) == av[4] * bv[2]);
    /* tensordot: a [2,3] with b [4,2] over a's dim 0 and b's dim 1: [3,4] */
    nb_tensor *t = nb_tensordot(a, b, 1, (const int[]){0}, (const int[]){1});
    ck_assert(t && t->shape[0] == 3 && t->shape[1] == 4);
    for (int j = 0; j < 3; j++)
        for (int p = 0; p < 4; p++) {
            double s = 0;
            for (int i = 0; i < 2; i++)
                s += (double)av[i * 3 + j] * bv[p * 2 + i];
            ck_assert(nb_close(nb_get(t, (int64_t[]){j, p}), s, 1e-5, 1e-6));
        }
    nb_tensor *t0 = nb_tensordot(a, b, 0, NULL, NULL); /* no dims: the outer product */
    ck_assert(t0 && t0->ndim == 4 && t0->shape[3] == 2);
    /* cross along dim 1 with a broadcast */
    nb_tensor *u = nb_randn(ctx, NB_SHAPE(5, 3), 0, 1, &rng), *v = nb_randn(ctx, NB_SHAPE(3), 0, 1, &rng);
    nb_tensor *c = nb_cross(u, v, 1);
    ck_assert(c && c->shape[0] == 5 && c->shape[1] == 3);
    const float *uv = nb_data_f32(u), *vv = nb_data_f32(v), *cv = nb_data_f32(c);
    for (int r = 0; r < 5; r++) {
        const float *x = uv + r * 3;
        ck_assert(cv[r * 3 + 0] == x[1] * vv[2] - x[2] * vv[1]);
        ck_assert(cv[r * 3 + 1] == x[2] * vv[0] - x[0] * vv[2]);
        ck_assert(cv[r * 3 + 2] == x[0] * vv[1] - x[1] * vv[0]);
    }
    /* cdist for p 1, 2 and inf, batched */
    nb_tensor *x1 = nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng),
              *x2 = nb_randn(ctx, NB_SHAPE(2, 5, 4), 0, 1, &rng);
    const float ps[3] = {1.0f, 2.0f, INFINITY};
    for (int q = 0; q < 3; q++) {
        nb_tensor *dd = nb_cdist(x1, x2, ps[q]);
        ck_assert(dd && dd->ndim == 3 && dd->shape[1] == 3 && dd->shape[2] == 5);
        for (int bb = 0; bb < 2; bb++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 5; j++) {
                    double s = 0;
                    for (int m = 0; m < 4; m++) {
                        const double e = fabs((double)nb_data_f32(x1)[(bb * 3 + i) * 4 + m] -
                                              nb_data_f32(x2)[(bb * 5 + j) * 4 + m]);
                        s = q == 2 ? fmax(s, e) : s + (q == 1 ? e * e : e);
                    }
                    ck_assert(nb_close(nb_get(dd, (int64_t[]){bb, i, j}), q == 1 ? sqrt(s) : s, 1e-5, 1e-6));
                }
    }
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *a = in[0], *b = in[1];
    switch (gc_case) {
    case 0: return nb_kron(a, nb_transpose(b, 0, 1));
    case 1: return nb_tensordot(a, b, 1, (const int[]){1}, (const int[]){0});
    case 2: return nb_cross(a, nb_narrow(nb_transpose(b, 0, 1), 0, 0, 2), -1);
    case 3: return nb_cdist(a, nb_transpose(b, 0, 1), 2.0f);
    default: return nb_outer(nb_flatten(a), nb_flatten(b));
    }
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case < 5; gc_case++) {
        nb_tensor *in[2] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng), true),
                            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 4), 0, 1, &rng), true)};
        if (gc_case == 3) in[1] = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 3), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, NULL) == 1, "case %d: %s", gc_case, nb_last_error());
    }
    /* cdist between equal rows: distance 0, gradient 0 (not NaN), as torch */
    nb_tensor *x = nb_requires_grad_(nb_ones(ctx, NB_F32, NB_SHAPE(1, 2)), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_cdist(x, nb_ones(ctx, NB_F32, NB_SHAPE(1, 2)), 2.0f))), 0);
    ck_assert(nb_data_f32(x->grad)[0] == 0.0f && nb_data_f32(x->grad)[1] == 0.0f);
}
END_TEST

/* found by review: cdist (and norm) with p < 1 give 0, not NaN, where a difference is 0; with
 * p = inf every tied coordinate gets the whole slope (torch's cdist); tensordot refuses a result
 * past 8 dims before writing its shape */
START_TEST(review_regressions) {
    nb_tensor *x1 = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1, 2), (const float[]){0, 0}), true);
    nb_tensor *x2 = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 2), (const float[]){0, 1});
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_cdist(x1, x2, 0.5f))), 0);
    ck_assert(nb_data_f32(x1->grad)[0] == 0.0f && nb_data_f32(x1->grad)[1] == -1.0f);
    nb_tensor *v = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){0, 1, 2}), true);
    ck_assert_int_eq(nb_backward(nb_norm(v, 0.5f, 0, NULL, false)), 0);
    ck_assert(nb_data_f32(v->grad)[0] == 0.0f && isfinite(nb_data_f32(v->grad)[1]));
    nb_tensor *y1 = nb_requires_grad_(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2)), true);
    nb_tensor *y2 = nb_ones(ctx, NB_F32, NB_SHAPE(1, 2));
    nb_tensor *di = nb_cdist(y1, y2, INFINITY);
    ck_assert(di && nb_item(di) == 1.0f);
    ck_assert_int_eq(nb_backward(nb_sum_all(di)), 0);
    ck_assert(nb_data_f32(y1->grad)[0] == -1.0f && nb_data_f32(y1->grad)[1] == -1.0f);
    nb_tensor *big = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 1, 1, 1, 1));
    ck_assert_ptr_null(nb_tensordot(big, big, 0, NULL, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "tensordot: the result would have 10 dims (at most 8)"));
}
END_TEST

/* pdist is cdist's upper triangle, row by row; bilinear is x1 W x2 + b per output */
START_TEST(pdist_and_bilinear) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(4, 3), 0, 1, &rng);
    nb_tensor *pd = nb_pdist(x, 2.0f), *cd = nb_cdist(x, x, 2.0f);
    ck_assert(pd && pd->ndim == 1 && pd->shape[0] == 6);
    int k = 0;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            ck_assert(nb_data_f32(pd)[k++] == (float)nb_get(cd, (int64_t[]){i, j}));
    ck_assert(nb_pdist(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 3)), 2.0f)->shape[0] == 0);
    nb_tensor *x1 = nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng),
              *x2 = nb_randn(ctx, NB_SHAPE(2, 4), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(5, 3, 4), 0, 1, &rng), *b = nb_randn(ctx, NB_SHAPE(5), 0, 1, &rng);
    nb_tensor *y = nb_bilinear(x1, x2, w, b);
    ck_assert_msg(y && y->shape[0] == 2 && y->shape[1] == 5, "%s", nb_last_error());
    for (int n = 0; n < 2; n++)
        for (int o = 0; o < 5; o++) {
            double s = nb_data_f32(b)[o];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                    s += (double)nb_data_f32(x1)[n * 3 + i] * nb_data_f32(w)[(o * 3 + i) * 4 + j] *
                         nb_data_f32(x2)[n * 4 + j];
            ck_assert(nb_close(nb_get(y, (int64_t[]){n, o}), s, 1e-5, 1e-5));
        }
    ck_assert_ptr_null(nb_bilinear(x2, x1, w, b));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "bilinear: want x1 [..., in1]"));
}
END_TEST

START_TEST(refusals) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert_ptr_null(nb_outer(a, a));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "outer: want two 1-d tensors, got [2,3] and [2,3]"));
    ck_assert_ptr_null(nb_tensordot(a, a, 1, (const int[]){0}, (const int[]){1}));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "tensordot: contracted dims differ in size"));
    ck_assert_ptr_null(nb_tensordot(a, a, 3, (const int[]){0, 1, 0}, (const int[]){0, 1, 0}));
    ck_assert_ptr_null(nb_cross(a, a, 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cross: dim 0 has size 2 (want 3)"));
    ck_assert_ptr_null(nb_cdist(a, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 4)), 2.0f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cdist: want x1 [..., P, M] and x2 [..., R, M]"));
    ck_assert_ptr_null(nb_cdist(a, a, -1.0f));
    ck_assert_ptr_null(nb_kron(NULL, a));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_products");
    TCase *tc = tcase_create("products");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, review_regressions);
    tcase_add_test(tc, pdist_and_bilinear);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
