/* The composed ops: diagonals (diagonal, diag_embed, diag, trace), views (movedim, chunk,
 * unbind, meshgrid), copies (tile, repeat_interleave), NaN-ignoring and logical reductions
 * (nansum, nanmean, count_nonzero, any, all) and lerp/addcmul/addcdiv: values against loops,
 * gradients by finite differences, torch's edge rules, refusals. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 31)

static float at3(nb_tensor *t, int64_t i, int64_t j, int64_t k) {
    return (float)nb_get(t, (int64_t[]){i, j, k});
}

START_TEST(diagonal_values) {
    /* x [2,3,4]: the diagonal of dims (1, 2) with offsets -2..4, and of dims (2, 0) */
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng);
    for (int64_t off = -3; off <= 4; off++) {
        nb_tensor *d = nb_diagonal(x, off, 1, 2);
        ck_assert_msg(d != NULL, "offset %lld: %s", (long long)off, nb_last_error());
        const int64_t r0 = off < 0 ? -off : 0, c0 = off > 0 ? off : 0;
        int64_t L = 3 - r0 < 4 - c0 ? 3 - r0 : 4 - c0;
        if (L < 0) L = 0;
        ck_assert_int_eq(d->ndim, 2);
        ck_assert_int_eq(d->shape[0], 2);
        ck_assert_int_eq(d->shape[1], L);
        for (int64_t b = 0; b < 2; b++)
            for (int64_t i = 0; i < L; i++)
                ck_assert(nb_get(d, (int64_t[]){b, i}) == at3(x, b, r0 + i, c0 + i));
    }
    /* dims (2, 0), offset 1: element i is x[i + 1... ] read as rows of dim 2, columns of dim 0 */
    nb_tensor *d = nb_diagonal(x, 1, 2, 0); /* [3, L], L = min(4, 2 - 1) = 1 */
    ck_assert(d && d->ndim == 2 && d->shape[0] == 3 && d->shape[1] == 1);
    for (int64_t j = 0; j < 3; j++)
        ck_assert(nb_get(d, (int64_t[]){j, 0}) == at3(x, 1, j, 0));
    /* trace and diag */
    nb_tensor *m = nb_randn(ctx, NB_SHAPE(3, 5), 0, 1, &rng);
    double tr = 0;
    for (int i = 0; i < 3; i++)
        tr += nb_get(m, (int64_t[]){i, i});
    ck_assert(nb_close(nb_item(nb_trace(m)), tr, 1e-6, 1e-6));
    nb_tensor *dm = nb_diag(m, -1);
    ck_assert(dm && dm->ndim == 1 && dm->shape[0] == 2);
    ck_assert(nb_data_f32(dm)[1] == (float)nb_get(m, (int64_t[]){2, 1}));
}
END_TEST

START_TEST(diag_embed_values) {
    nb_tensor *v = nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng);
    /* offset 1 between dims 0 and 2 of the result: [4, 2, 4] (torch's shape) */
    nb_tensor *e = nb_diag_embed(v, 1, 0, 2);
    ck_assert_msg(e != NULL, "%s", nb_last_error());
    ck_assert(e->ndim == 3 && e->shape[0] == 4 && e->shape[1] == 2 && e->shape[2] == 4);
    for (int64_t i = 0; i < 4; i++)
        for (int64_t b = 0; b < 2; b++)
            for (int64_t j = 0; j < 4; j++) {
                const float want = j == i + 1 ? nb_data_f32(v)[b * 3 + i] : 0.0f;
                ck_assert_msg(at3(e, i, b, j) == want, "(%lld,%lld,%lld)", (long long)i, (long long)b,
                              (long long)j);
            }
    /* the default placement (-2, -1) and a negative offset; diag of a vector */
    nb_tensor *e2 = nb_diag_embed(v, -2, -2, -1);
    ck_assert(e2 && e2->shape[0] == 2 && e2->shape[1] == 5 && e2->shape[2] == 5);
    ck_assert(at3(e2, 1, 4, 2) == nb_data_f32(v)[5] && at3(e2, 1, 2, 4) == 0.0f);
    nb_tensor *dv = nb_diag(nb_narrow(nb_flatten(v), 0, 0, 3), 0);
    ck_assert(dv && dv->ndim == 2 && dv->shape[0] == 3 && nb_get(dv, (int64_t[]){2, 2}) == nb_data_f32(v)[2]);
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = in[0];
    switch (gc_case) {
    case 0: return nb_diagonal(x, 1, 0, 2);
    case 1: return nb_diagonal(nb_transpose(x, 0, 1), -1, 2, 1);
    case 2: return nb_diag_embed(x, -1, 1, 0);
    case 3: return nb_trace(nb_reshape(x, NB_SHAPE(6, 4)));
    case 4: return nb_repeat_interleave(x, 3, (const int64_t[]){2, 0, 3}, 1);
    case 5: return nb_repeat_interleave(x, 1, (const int64_t[]){2}, -1);
    case 6: return nb_tile(x, 2, (const int64_t[]){2, 1});
    case 7: return nb_movedim(x, 2, (const int[]){0, 2}, (const int[]){2, 0});
    case 8: return nb_nansum(x, 1, (const int[]){1}, false);
    case 9: return nb_nanmean(x, 2, (const int[]){0, 2}, true);
    case 10: {
        nb_tensor *parts[3];
        ck_assert_int_eq(nb_unbind(x, 1, 3, parts), 0);
        return nb_add(nb_mul(parts[0], parts[2]), parts[1]);
    }
    default: {
        nb_tensor *g[2];
        nb_tensor *r = nb_reshape(nb_narrow(nb_flatten(x), 0, 0, 5), NB_SHAPE(5));
        nb_tensor *c = nb_narrow(nb_flatten(x), 0, 5, 3);
        ck_assert_int_eq(nb_meshgrid(2, (nb_tensor *const[]){r, c}, true, g), 0);
        return nb_mul(g[0], g[1]);
    }
    }
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case <= 11; gc_case++) {
        nb_tensor *in[1] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng), true)};
        if (gc_case == 2) in[0] = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, in, 1, NULL, NULL) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

START_TEST(views_and_copies) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng);
    /* movedim: dim 0 to the end, the others in order: [3, 4, 2] */
    nb_tensor *m = nb_movedim(x, 1, (const int[]){0}, (const int[]){-1});
    ck_assert(m && m->shape[0] == 3 && m->shape[1] == 4 && m->shape[2] == 2);
    ck_assert(at3(m, 2, 1, 1) == at3(x, 1, 2, 1));
    /* chunk: 4 along dim 2 in 3 chunks of 2 is 2 chunks (torch's count) */
    nb_tensor *ch[3];
    ck_assert_int_eq(nb_chunk(x, 3, 2, ch), 2);
    ck_assert(ch[0]->shape[2] == 2 && ch[1]->shape[2] == 2 && ch[2] == NULL);
    ck_assert_int_eq(nb_chunk(x, 2, 1, ch), 2);
    ck_assert(ch[0]->shape[1] == 2 && ch[1]->shape[1] == 1);
    ck_assert_int_eq(nb_chunk(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0)), 3, 1, ch), 3);
    ck_assert(ch[2] && ch[2]->shape[1] == 0);
    /* unbind */
    nb_tensor *u[4];
    ck_assert_int_eq(nb_unbind(x, -1, 4, u), 0);
    ck_assert(u[3]->ndim == 2 && nb_get(u[3], (int64_t[]){1, 2}) == at3(x, 1, 2, 3));
    ck_assert_int_eq(nb_unbind(x, 0, 3, u), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "unbind: dim 0 of [2,3,4] has 2 slices, not 3"));
    /* meshgrid ij and xy */
    nb_tensor *a = nb_arange(ctx, NB_F32, 0, 2, 1), *b = nb_arange(ctx, NB_F32, 10, 13, 1), *g[2];
    ck_assert_int_eq(nb_meshgrid(2, (nb_tensor *const[]){a, b}, false, g), 0);
    ck_assert(g[0]->shape[0] == 2 && g[0]->shape[1] == 3 && nb_get(g[0], (int64_t[]){1, 2}) == 1.0 &&
              nb_get(g[1], (int64_t[]){1, 2}) == 12.0);
    ck_assert_int_eq(nb_meshgrid(2, (nb_tensor *const[]){a, b}, true, g), 0);
    ck_assert(g[0]->shape[0] == 3 && g[0]->shape[1] == 2 && nb_get(g[0], (int64_t[]){2, 1}) == 1.0 &&
              nb_get(g[1], (int64_t[]){2, 1}) == 12.0);
    /* tile: [1,3] by (2,) is [1,6] (counts padded on the left) */
    nb_tensor *t = nb_tile(nb_reshape(b, NB_SHAPE(1, 3)), 1, (const int64_t[]){2});
    ck_assert(t && t->ndim == 2 && t->shape[1] == 6 && nb_data_f32(t)[4] == 11.0f);
    /* repeat_interleave: [0, 2, 2] for counts 1, 0, 2 */
    nb_tensor *r = nb_repeat_interleave(nb_arange(ctx, NB_F32, 0, 3, 1), 3, (const int64_t[]){1, 0, 2}, 0);
    ck_assert(r && r->shape[0] == 3 && nb_data_f32(r)[0] == 0.0f && nb_data_f32(r)[1] == 2.0f &&
              nb_data_f32(r)[2] == 2.0f);
    ck_assert_ptr_null(nb_repeat_interleave(x, 2, (const int64_t[]){1, 1}, 0 + 1));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "repeat_interleave: 2 counts for dim 1 of [2,3,4] (want 1 or 3)"));
    ck_assert_ptr_null(nb_repeat_interleave(x, 1, (const int64_t[]){-1}, 0));
}
END_TEST

START_TEST(nan_and_logical_reductions) {
    const float v[6] = {1, NAN, 3, 0, NAN, NAN};
    nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), v), true);
    nb_tensor *s = nb_nansum(x, 1, (const int[]){1}, false), *m = nb_nanmean(x, 1, (const int[]){1}, false);
    ck_assert(nb_data_f32(s)[0] == 4.0f && nb_data_f32(s)[1] == 0.0f);
    ck_assert(nb_data_f32(m)[0] == 2.0f && nb_data_f32(m)[1] == 0.0f);
    nb_tensor *all_nan = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){NAN, NAN});
    ck_assert(isnan(nb_item(nb_nanmean(all_nan, 0, NULL, false)))); /* 0 / 0, as torch */
    ck_assert_int_eq(nb_backward(nb_sum_all(s)), 0);
    const float gw[6] = {1, 0, 1, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        ck_assert(nb_data_f32(x->grad)[i] == gw[i]);
    nb_tensor *c = nb_count_nonzero(x, 0, NULL, false);
    ck_assert(nb_item(c) == 5.0f && !c->requires_grad);
    nb_tensor *an = nb_any(x, 1, (const int[]){0}, false), *al = nb_all(x, 1, (const int[]){0}, true);
    ck_assert(an && al && !an->requires_grad && al->ndim == 2);
    ck_assert(nb_data_f32(an)[0] == 1.0f && nb_data_f32(an)[1] == 1.0f && nb_data_f32(an)[2] == 1.0f);
    ck_assert(nb_data_f32(al)[0] == 0.0f && nb_data_f32(al)[1] == 1.0f && nb_data_f32(al)[2] == 1.0f);
    nb_tensor *e = nb_zeros(ctx, NB_F32, NB_SHAPE(0, 2));
    ck_assert(nb_item(nb_any(e, 0, NULL, false)) == 0.0f && nb_item(nb_all(e, 0, NULL, false)) == 1.0f);
    ck_assert(nb_item(nb_nansum(e, 0, NULL, false)) == 0.0f && isnan(nb_item(nb_nanmean(e, 0, NULL, false))));
}
END_TEST

static nb_tensor *gc_lerp(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_add(nb_lerp(in[0], in[1], in[2]),
                  nb_addcdiv(nb_addcmul(in[0], in[1], in[2], 0.5f), in[0], in[2], -2.0f));
}

START_TEST(lerp_addcmul_addcdiv) {
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){1, -2, 5});
    nb_tensor *b = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){3, 4, 1e20f});
    nb_tensor *w = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){0.25f, 0.75f, 1.0f});
    const float *l = nb_data_f32(nb_lerp(a, b, w));
    ck_assert(l[0] == 1.5f && l[1] == 2.5f && l[2] == 1e20f); /* w = 1 gives b exactly */
    ck_assert(nb_data_f32(nb_lerp_scalar(a, b, 1.0f))[2] == 1e20f);
    ck_assert(nb_data_f32(nb_lerp_scalar(a, b, 0.25f))[1] == -0.5f);
    ck_assert(nb_data_f32(nb_addcmul(a, b, w, 2.0f))[0] == 2.5f);
    ck_assert(nb_data_f32(nb_addcdiv(a, b, w, 1.0f))[1] == -2.0f + 4.0f / 0.75f);
    /* broadcast gradients, w on both sides of 1/2 */
    nb_tensor *in[3] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng), true),
                        nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3), 0, 1, &rng), true),
                        nb_requires_grad_(nb_rand(ctx, NB_SHAPE(2, 1), 0.6f, 0.9f, &rng), true)};
    nb_data_f32(in[2])[0] = 0.3f;
    ck_assert_msg(nb_gradcheck(gc_lerp, in, 3, NULL, NULL) == 1, "%s", nb_last_error());
    ck_assert_ptr_null(nb_lerp(a, nb_zeros(ctx, NB_F32, NB_SHAPE(2)), w));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "lerp: shapes [2] and [3] do not broadcast"));
}
END_TEST

/* found by review: no NaN gradient from lerp's branch not taken; torch's order in addcmul and
 * addcdiv (value first, so no overflow where torch has none); nanmean's gradient in an all-NaN
 * slice is NaN, as torch's g * ~isnan(a); huge diagonal offsets refused */
START_TEST(review_regressions) {
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){-INFINITY, 1});
    nb_tensor *b = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){1, INFINITY});
    nb_tensor *w =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){0.7f, 0.3f}), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_lerp(a, b, w))), 0);
    ck_assert(nb_data_f32(w->grad)[0] == INFINITY && nb_data_f32(w->grad)[1] == INFINITY);
    nb_tensor *z = nb_zeros(ctx, NB_F32, NB_SHAPE(1));
    nb_tensor *big = nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){3.4e38f});
    nb_tensor *two = nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){2});
    ck_assert(nb_data_f32(nb_addcmul(z, big, two, 0.5f))[0] == 3.4e38f);
    nb_tensor *t1 = nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){1e30f});
    nb_tensor *t2 = nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){1e-10f});
    ck_assert(nb_close(nb_data_f32(nb_addcdiv(z, t1, t2, 1e-10f))[0], 1e30, 1e-6, 0));
    nb_tensor *x = nb_requires_grad_(
        nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), (const float[]){NAN, NAN, NAN, 1, 2, 3}), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_nanmean(x, 1, (const int[]){1}, false))), 0);
    ck_assert(isnan(nb_data_f32(x->grad)[0]) && nb_close(nb_data_f32(x->grad)[4], 1.0 / 3, 1e-6, 0));
    nb_tensor *m = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 3));
    ck_assert_ptr_null(nb_diagonal(m, INT64_MIN, 0, 1));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "diagonal: offset"));
    ck_assert_ptr_null(nb_diag_embed(nb_zeros(ctx, NB_F32, NB_SHAPE(2)), (int64_t)1 << 32, -2, -1));
    ck_assert_ptr_null(nb_diag_embed(nb_zeros(ctx, NB_F32, NB_SHAPE(2)), 50000, -2, -1));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "diag_embed: a diagonal of 50002"));
}
END_TEST

START_TEST(refusals) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert_ptr_null(nb_diagonal(x, 0, 1, -1));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "diagonal: dim1 and dim2 are both 1"));
    ck_assert_ptr_null(nb_diagonal(nb_zeros(ctx, NB_F32, NB_SHAPE(3)), 0, 0, 1));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "diagonal: [3] has fewer than 2 dims"));
    ck_assert_ptr_null(nb_diagonal(x, 0, 0, 2));
    ck_assert_ptr_null(nb_trace(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 2, 2))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "trace: [2,2,2] is not 2-D"));
    ck_assert_ptr_null(nb_diag(nb_scalar(ctx, 1.0f), 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "diag: [] is neither 1-D nor 2-D"));
    ck_assert_ptr_null(nb_diag_embed(nb_scalar(ctx, 1.0f), 0, -2, -1));
    ck_assert_ptr_null(nb_movedim(x, 2, (const int[]){0, 0}, (const int[]){1, 0}));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "movedim: dim 0 given twice as a source"));
    nb_tensor *o[2];
    ck_assert_int_eq(nb_chunk(x, 0, 0, o), -1);
    ck_assert_int_eq(nb_meshgrid(2, (nb_tensor *const[]){x, x}, false, o), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "meshgrid: input 0 is [2,3], not 0-d or 1-d"));
    ck_assert_ptr_null(nb_nansum(nb_zeros(ctx, NB_I32, NB_SHAPE(2)), 0, NULL, false));
    ck_assert_ptr_null(nb_any(x, 1, (const int[]){2}, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "any:"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_compose");
    TCase *tc = tcase_create("compose");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, diagonal_values);
    tcase_add_test(tc, diag_embed_values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, views_and_copies);
    tcase_add_test(tc, nan_and_logical_reductions);
    tcase_add_test(tc, lerp_addcmul_addcdiv);
    tcase_add_test(tc, review_regressions);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
