/* Writing into and reading from chosen places: index_fill, index_copy, scatter, scatter_value,
 * masked_scatter (ops/scatter.c); masked_select, take, nonzero, bincount, bucketize,
 * searchsorted (ops/select.c): values against loops, gradients, torch's edge rules, refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 13)

static nb_tensor *i32(int64_t n, const int32_t *v) { return nb_from_data(ctx, NB_I32, NB_SHAPE(n), v); }

START_TEST(writes) {
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(3, 4), 0, 1, &rng);
    const float *av = nb_data_f32(a);
    /* index_fill along dim 1 at {3, 0, 3} (a repeat fills twice: allowed) */
    nb_tensor *f = nb_index_fill(a, 1, i32(3, (const int32_t[]){3, 0, 3}), -7.0f);
    ck_assert_msg(f != NULL, "%s", nb_last_error());
    for (int i = 0; i < 12; i++)
        ck_assert(nb_data_f32(f)[i] == (i % 4 == 0 || i % 4 == 3 ? -7.0f : av[i]));
    /* index_copy: rows 2 and 0 of a from src's rows 0 and 1 */
    nb_tensor *src = nb_randn(ctx, NB_SHAPE(2, 4), 0, 1, &rng);
    nb_tensor *c = nb_index_copy(a, 0, i32(2, (const int32_t[]){2, 0}), src);
    ck_assert_msg(c != NULL, "%s", nb_last_error());
    for (int j = 0; j < 4; j++) {
        ck_assert(nb_data_f32(c)[8 + j] == nb_data_f32(src)[j] &&
                  nb_data_f32(c)[j] == nb_data_f32(src)[4 + j]);
        ck_assert(nb_data_f32(c)[4 + j] == av[4 + j]);
    }
    /* scatter along dim 1: out[i][idx[i][j]] = src[i][j] */
    const int32_t si[6] = {1, 3, 0, 2, 0, 1};
    nb_tensor *idx = nb_from_data(ctx, NB_I32, NB_SHAPE(3, 2), si);
    nb_tensor *s2 = nb_randn(ctx, NB_SHAPE(3, 2), 0, 1, &rng);
    nb_tensor *sc = nb_scatter(a, 1, idx, s2), *sv = nb_scatter_value(a, 1, idx, 9.0f);
    ck_assert(sc && sv);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            float want = av[i * 4 + j];
            bool hit = false;
            for (int k = 0; k < 2; k++)
                if (si[i * 2 + k] == j) want = nb_data_f32(s2)[i * 2 + k], hit = true;
            ck_assert(nb_data_f32(sc)[i * 4 + j] == want);
            ck_assert(nb_data_f32(sv)[i * 4 + j] == (hit ? 9.0f : av[i * 4 + j]));
        }
    /* masked_scatter: the source's first elements, in order, where the broadcast mask is set */
    nb_tensor *m = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){1, 0, 0, 1});
    nb_tensor *ms = nb_masked_scatter(a, m, nb_arange(ctx, NB_F32, 100, 110, 1));
    ck_assert_msg(ms != NULL, "%s", nb_last_error());
    for (int i = 0; i < 3; i++) {
        ck_assert(nb_data_f32(ms)[i * 4] == 100.0f + 2 * i && nb_data_f32(ms)[i * 4 + 3] == 101.0f + 2 * i);
        ck_assert(nb_data_f32(ms)[i * 4 + 1] == av[i * 4 + 1]);
    }
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *a = in[0], *s = in[1];
    switch (gc_case) {
    case 0: return nb_add(nb_index_fill(a, 0, i32(1, (const int32_t[]){1}), 2.0f), nb_sum_all(s));
    case 1:
        return nb_index_copy(a, 1, i32(2, (const int32_t[]){3, 1}),
                             nb_transpose(nb_reshape(s, NB_SHAPE(2, 3)), 0, 1));
    case 2:
        return nb_scatter(a, 1,
                          nb_from_data(ctx, NB_I32, NB_SHAPE(3, 2), (const int32_t[]){1, 3, 0, 2, 3, 1}),
                          nb_reshape(s, NB_SHAPE(3, 2)));
    case 3:
        return nb_masked_scatter(a, nb_from_data(ctx, NB_F32, NB_SHAPE(3, 1), (const float[]){1, 0, 1}), s);
    case 4:
        return nb_mul(
            nb_masked_select(a, nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){0, 1, 1, 0})),
            nb_narrow(nb_repeat(s, 1, (const int64_t[]){1}), 0, 0, 6));
    default: return nb_take(a, nb_from_data(ctx, NB_I32, NB_SHAPE(2, 2), (const int32_t[]){11, 0, 5, 5}));
    }
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case <= 5; gc_case++) {
        nb_tensor *in[2] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 4), 0, 1, &rng), true),
                            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(8), 0, 1, &rng), true)};
        if (gc_case == 1 || gc_case == 2)
            in[1] = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(6), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, NULL) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

START_TEST(reads_and_counts) {
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), (const float[]){0, 1.5f, 0, NAN, 0, -2});
    /* masked_select with a mask broadcast over the rows */
    nb_tensor *sel = nb_masked_select(a, nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){1, 1, 0}));
    ck_assert(sel && sel->ndim == 1 && sel->shape[0] == 4);
    ck_assert(nb_data_f32(sel)[1] == 1.5f && isnan(nb_data_f32(sel)[2]) && nb_data_f32(sel)[3] == 0.0f);
    /* nonzero: NaN counts as nonzero */
    nb_tensor *nz = nb_nonzero(a);
    ck_assert(nz && nz->shape[0] == 3 && nz->shape[1] == 2);
    const int32_t want[6] = {0, 1, 1, 0, 1, 2};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(((int32_t *)nb_data(nz))[i], want[i]);
    nb_tensor *none = nb_nonzero(nb_zeros(ctx, NB_F32, NB_SHAPE(4)));
    ck_assert(none && none->shape[0] == 0 && none->shape[1] == 1);
    /* take */
    nb_tensor *t = nb_take(a, nb_from_data(ctx, NB_I32, NB_SHAPE(2), (const int32_t[]){5, 1}));
    ck_assert(t && nb_data_f32(t)[0] == -2.0f && nb_data_f32(t)[1] == 1.5f);
    /* bincount, plain and weighted, with minlength */
    nb_tensor *b = nb_bincount(i32(5, (const int32_t[]){1, 3, 1, 0, 1}), NULL, 0);
    ck_assert(b && b->dtype == NB_I32 && b->shape[0] == 4 && ((int32_t *)nb_data(b))[1] == 3 &&
              ((int32_t *)nb_data(b))[2] == 0);
    nb_tensor *bw = nb_bincount(i32(2, (const int32_t[]){2, 2}),
                                nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){0.5f, 2}), 6);
    ck_assert(bw && bw->shape[0] == 6 && nb_data_f32(bw)[2] == 2.5f);
    /* bucketize / searchsorted: left and right on ties, NaN at the end */
    nb_tensor *bd = nb_from_data(ctx, NB_F32, NB_SHAPE(4), (const float[]){1, 3, 3, 5});
    nb_tensor *v = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), (const float[]){0, 3, 4, 5, 9, NAN});
    nb_tensor *lo = nb_bucketize(v, bd, false), *hi = nb_bucketize(v, bd, true);
    ck_assert(lo && hi && lo->dtype == NB_I32 && lo->ndim == 2);
    const int32_t wl[6] = {0, 1, 3, 3, 4, 4}, wh[6] = {0, 3, 3, 4, 4, 4};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(((int32_t *)nb_data(lo))[i], wl[i]);
        ck_assert_int_eq(((int32_t *)nb_data(hi))[i], wh[i]);
    }
    /* batched searchsorted: each row its own sequence */
    nb_tensor *seq = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), (const float[]){1, 2, 3, 10, 20, 30});
    nb_tensor *q = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){2.5f, 0, 20, 31});
    nb_tensor *ss = nb_searchsorted(seq, q, false);
    ck_assert(ss && ss->shape[0] == 2 && ss->shape[1] == 2);
    ck_assert(((int32_t *)nb_data(ss))[0] == 2 && ((int32_t *)nb_data(ss))[1] == 0 &&
              ((int32_t *)nb_data(ss))[2] == 1 && ((int32_t *)nb_data(ss))[3] == 3);
}
END_TEST

/* found by review: empty writes, negative and 0-d indices, 0-d inputs, -0 kept, repeated
 * indices with one value, NaN boundaries sorted last */
START_TEST(review_regressions) {
    nb_tensor *e = nb_index_copy(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0)), 0, i32(1, (const int32_t[]){1}),
                                 nb_zeros(ctx, NB_F32, NB_SHAPE(1, 0)));
    ck_assert_msg(e && e->shape[0] == 2 && e->shape[1] == 0, "%s", nb_last_error());
    nb_tensor *es = nb_scatter(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3)), 0,
                               nb_zeros(ctx, NB_I32, NB_SHAPE(0, 3)), nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3)));
    ck_assert(es && es->shape[0] == 0);
    nb_tensor *a = nb_arange(ctx, NB_F32, 1, 7, 1);
    const float *f =
        nb_data_f32(nb_index_fill(nb_reshape(a, NB_SHAPE(2, 3)), 1, i32(1, (const int32_t[]){-1}), 9.0f));
    ck_assert(f[2] == 9.0f && f[5] == 9.0f && f[1] == 2.0f);
    nb_tensor *i0 = nb_from_data(ctx, NB_I32, 0, NULL, (const int32_t[]){1});
    ck_assert(nb_data_f32(nb_index_fill(a, 0, i0, 9.0f))[1] == 9.0f);
    const float *t = nb_data_f32(nb_take(a, i32(2, (const int32_t[]){-1, 0})));
    ck_assert(t[0] == 6.0f && t[1] == 1.0f);
    nb_tensor *s0 = nb_scatter_value(nb_scalar(ctx, 2.0f), 0,
                                     i0 = nb_from_data(ctx, NB_I32, 0, NULL, (const int32_t[]){0}), 5.0f);
    ck_assert(s0 && s0->ndim == 0 && nb_item(s0) == 5.0f);
    nb_tensor *c0 = nb_index_copy(nb_scalar(ctx, 2.0f), 0, i0, nb_scalar(ctx, 5.0f));
    ck_assert(c0 && c0->ndim == 0 && nb_item(c0) == 5.0f);
    /* -0 written stays -0; one value at a repeated index (the one-hot idiom) */
    nb_tensor *neg = nb_scatter(nb_ones(ctx, NB_F32, NB_SHAPE(1, 2)), 1,
                                nb_from_data(ctx, NB_I32, NB_SHAPE(1, 1), (const int32_t[]){1}),
                                nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1), (const float[]){-0.0f}));
    ck_assert(nb_data_f32(neg)[1] == 0.0f && signbit(nb_data_f32(neg)[1]));
    nb_tensor *oh =
        nb_scatter_value(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 4)), 1,
                         nb_from_data(ctx, NB_I32, NB_SHAPE(1, 3), (const int32_t[]){2, 0, 2}), 1.0f);
    ck_assert(oh && nb_data_f32(oh)[0] == 1.0f && nb_data_f32(oh)[1] == 0.0f && nb_data_f32(oh)[2] == 1.0f);
    /* a NaN boundary, sorted last: torch's binary search */
    nb_tensor *bd = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){1, 3, NAN});
    nb_tensor *v = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){0, 2, 5});
    const int32_t *b0 = (const int32_t *)nb_data(nb_bucketize(v, bd, false));
    const int32_t *b1 = (const int32_t *)nb_data(nb_bucketize(v, bd, true));
    ck_assert(b0[0] == 0 && b0[1] == 1 && b0[2] == 3 && b1[0] == 0 && b1[1] == 1 && b1[2] == 3);
}
END_TEST

START_TEST(unique) {
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 4), (const float[]){3, 1, 3, NAN, 2, 1, NAN, 0});
    nb_tensor *inv = NULL, *cnt = NULL, *u = nb_unique(a, &inv, &cnt);
    ck_assert_msg(u && inv && cnt, "%s", nb_last_error());
    ck_assert_int_eq(u->shape[0], 6); /* 0 1 2 3 NaN NaN */
    const float *uv = nb_data_f32(u);
    const int32_t *cv = (const int32_t *)nb_data(cnt);
    ck_assert(cnt->dtype == NB_I32);
    ck_assert(uv[0] == 0 && uv[1] == 1 && uv[2] == 2 && uv[3] == 3 && isnan(uv[4]) && isnan(uv[5]));
    ck_assert(cv[1] == 2 && cv[3] == 2 && cv[4] == 1 && cv[5] == 1);
    const int32_t want[8] = {3, 1, 3, 4, 2, 1, 5, 0};
    ck_assert(inv->ndim == 2);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(((int32_t *)nb_data(inv))[i], want[i]);
    /* counts past 2^24 stay exact (found by review: f32 counts stopped at 16777216) */
    nb_ctx *big = nb_ctx_new(0);
    const int64_t n = ((int64_t)1 << 24) + 3;
    nb_tensor *z = nb_zeros(big, NB_F32, NB_SHAPE(n)), *zc = NULL;
    nb_ctx_use(big);
    ck_assert(nb_unique(z, NULL, &zc) && ((int32_t *)nb_data(zc))[0] == (int32_t)n);
    nb_tensor *bc = nb_bincount(nb_zeros(big, NB_I32, NB_SHAPE(n)), NULL, 0);
    ck_assert(bc && ((int32_t *)nb_data(bc))[0] == (int32_t)n);
    nb_ctx_use(ctx);
    nb_ctx_free(big);
    nb_tensor *e = nb_unique(nb_zeros(ctx, NB_F32, NB_SHAPE(0)), NULL, NULL);
    ck_assert(e && e->shape[0] == 0);
    ck_assert_ptr_null(nb_unique(nb_zeros(ctx, NB_I32, NB_SHAPE(2)), NULL, NULL));
}
END_TEST

START_TEST(refusals) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4));
    ck_assert_ptr_null(
        nb_index_copy(a, 0, i32(2, (const int32_t[]){1, 1}), nb_zeros(ctx, NB_F32, NB_SHAPE(2, 4))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "index_copy: an index repeats, writing one place 2 times"));
    ck_assert_ptr_null(nb_scatter(a, 1, nb_from_data(ctx, NB_I32, NB_SHAPE(1, 2), (const int32_t[]){2, 2}),
                                  nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "scatter: an index repeats"));
    ck_assert_ptr_null(nb_index_fill(a, 1, i32(1, (const int32_t[]){4}), 0.0f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "index_fill:"));
    ck_assert_ptr_null(
        nb_masked_scatter(a, nb_ones(ctx, NB_F32, NB_SHAPE(4)), nb_zeros(ctx, NB_F32, NB_SHAPE(5))));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "masked_scatter: the mask selects 12 places but the source has 5"));
    ck_assert_ptr_null(nb_masked_select(a, nb_ones(ctx, NB_F32, NB_SHAPE(5))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "masked_select: shapes [3,4] and [5] do not broadcast"));
    ck_assert_ptr_null(nb_bincount(i32(2, (const int32_t[]){1, -1}), NULL, 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "bincount: input holds a negative value (-1 at 1)"));
    ck_assert_ptr_null(nb_take(a, i32(1, (const int32_t[]){12})));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "take:"));
    ck_assert_ptr_null(nb_bucketize(a, a, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "bucketize: boundaries [3,4] are not 1-d"));
    ck_assert_ptr_null(nb_searchsorted(a, nb_zeros(ctx, NB_F32, NB_SHAPE(3)), false));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "searchsorted: a sorted sequence [3,4] needs values with its leading dims"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_scatter");
    TCase *tc = tcase_create("scatter");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300); /* the 2^24-element cases take a while under the sanitizers */
    tcase_add_test(tc, writes);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, reads_and_counts);
    tcase_add_test(tc, review_regressions);
    tcase_add_test(tc, unique);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
