/* Advanced indexing (ops/advindex.c): nb_index and nb_index_put against plain loops, with index
 * tensors broadcast together, adjacent and separated indexed dims (NumPy's placement rule),
 * negative and 0-d indices; gradients by finite differences; the errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 5)

static nb_tensor *ints(int nd, const int64_t *shape, const int32_t *v) {
    return nb_from_data(ctx, NB_I32, nd, shape, v);
}

static float at3(nb_tensor *a, int64_t i, int64_t j, int64_t k) { return nb_get(a, (int64_t[]){i, j, k}); }

START_TEST(index_values) {
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(3, 4, 5), 0, 1, &rng);
    const int32_t v0[2] = {2, -3}, v1[3] = {3, 0, -1}, v2[3] = {4, 1, 0};
    nb_tensor *i0 = ints(NB_SHAPE(2, 1), v0), *i1 = ints(NB_SHAPE(3), v1), *i2 = ints(NB_SHAPE(3), v2);
    /* adjacent dims 0, 1: S [2, 3] in their place, then dim 2 */
    nb_tensor *r = nb_index(a, 2, (nb_tensor *[]){i0, i1});
    ck_assert_msg(r && r->ndim == 3 && r->shape[0] == 2 && r->shape[1] == 3 && r->shape[2] == 5, "%s",
                  nb_last_error());
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 3; q++)
            for (int c = 0; c < 5; c++)
                ck_assert(nb_get(r, (int64_t[]){p, q, c}) == at3(a, (v0[p] + 3) % 3, (v1[q] + 4) % 4, c));
    /* separated dims 0 and 2: S [3] first, then dim 1 */
    nb_tensor *i0b = ints(NB_SHAPE(3), (const int32_t[]){0, 2, 1});
    nb_tensor *s = nb_index(a, 3, (nb_tensor *[]){i0b, NULL, i2});
    ck_assert(s && s->ndim == 2 && s->shape[0] == 3 && s->shape[1] == 4);
    for (int j = 0; j < 3; j++)
        for (int c = 0; c < 4; c++)
            ck_assert(nb_get(s, (int64_t[]){j, c}) == at3(a, (int64_t[]){0, 2, 1}[j], c, v2[j]));
    /* adjacent dims 1, 2 after a whole dim: [3, S] */
    nb_tensor *t = nb_index(a, 3, (nb_tensor *[]){NULL, i1, i2});
    ck_assert(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 3);
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 3; j++)
            ck_assert(nb_get(t, (int64_t[]){b, j}) == at3(a, b, (v1[j] + 4) % 4, v2[j]));
    /* one 2-d index on dim 0, the rest whole: [2, 2, 4, 5]; a 0-d index drops its dim */
    nb_tensor *q = nb_index(a, 1, (nb_tensor *[]){ints(NB_SHAPE(2, 2), (const int32_t[]){1, 1, 0, 2})});
    ck_assert(q && q->ndim == 4 && q->shape[1] == 2 && q->shape[2] == 4);
    ck_assert(nb_get(q, (int64_t[]){1, 1, 3, 4}) == at3(a, 2, 3, 4));
    nb_tensor *z = nb_index(a, 2, (nb_tensor *[]){NULL, ints(0, NULL, (const int32_t[]){-1})});
    ck_assert(z && z->ndim == 2 && z->shape[0] == 3 && z->shape[1] == 5);
    ck_assert(nb_get(z, (int64_t[]){2, 1}) == at3(a, 2, 3, 1));
    /* an empty index: an empty result of the right shape */
    nb_tensor *e = nb_index(a, 2, (nb_tensor *[]){NULL, ints(NB_SHAPE(0), (const int32_t[]){0})});
    ck_assert(e && e->ndim == 3 && e->shape[1] == 0 && e->shape[2] == 5);
}
END_TEST

START_TEST(index_put_values) {
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(3, 4, 2), 0, 1, &rng);
    const int32_t v0[3] = {0, 2, 0}, v1[3] = {1, 3, 1};
    nb_tensor *i0 = ints(NB_SHAPE(3), v0), *i1 = ints(NB_SHAPE(3), v1);
    /* accumulate: the repeated place (0, 1) gets both rows */
    nb_tensor *val = nb_randn(ctx, NB_SHAPE(3, 2), 0, 1, &rng);
    nb_tensor *acc = nb_index_put(a, 2, (nb_tensor *[]){i0, i1}, val, true);
    ck_assert_msg(acc && acc->ndim == 3 && acc->shape[1] == 4, "%s", nb_last_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int c = 0; c < 2; c++) {
                double want = at3(a, i, j, c);
                for (int k = 0; k < 3; k++)
                    if (v0[k] == i && v1[k] == j) want += nb_get(val, (int64_t[]){k, c});
                ck_assert(fabs(nb_get(acc, (int64_t[]){i, j, c}) - want) < 1e-6);
            }
    /* without accumulate: a broadcast value written at distinct places; a repeat is an error */
    nb_tensor *ones = nb_full(ctx, NB_F32, NB_SHAPE(1), 7.0);
    nb_tensor *i1d = ints(NB_SHAPE(2), (const int32_t[]){0, 3}),
              *i0d = ints(NB_SHAPE(2, 1), (const int32_t[]){1, 2});
    nb_tensor *put = nb_index_put(a, 2, (nb_tensor *[]){i0d, i1d}, ones, false);
    ck_assert_msg(put, "%s", nb_last_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int c = 0; c < 2; c++) {
                const bool hit = i > 0 && (j == 0 || j == 3);
                ck_assert(nb_get(put, (int64_t[]){i, j, c}) == (hit ? 7.0f : at3(a, i, j, c)));
            }
    ck_assert(!nb_index_put(a, 2, (nb_tensor *[]){i0, i1}, val, false) &&
              strstr(nb_last_error(), "index_put: ") && strstr(nb_last_error(), "repeats"));
    /* review: values with extra leading 1s broadcast as torch's a[i] = v */
    nb_tensor *lead =
        nb_index_put(a, 2, (nb_tensor *[]){i0d, i1d}, nb_full(ctx, NB_F32, NB_SHAPE(1, 1, 1, 2), 7.0), false);
    ck_assert_msg(lead && nb_get(lead, (int64_t[]){2, 3, 1}) == 7.0f, "%s", nb_last_error());
    /* review: one value written with a repeated index (torch's a[[1, 1]] = 0) is no error */
    nb_tensor *rep = ints(NB_SHAPE(2), (const int32_t[]){1, 1}),
              *zero = nb_full(ctx, NB_F32, NB_SHAPE(1), 0.0);
    nb_tensor *z1 = nb_index_put(a, 1, (nb_tensor *[]){rep}, zero, false);
    ck_assert_msg(z1, "%s", nb_last_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert(nb_get(z1, (int64_t[]){i, j, 1}) == (i == 1 ? 0.0f : at3(a, i, j, 1)));
    /* separated dims: values laid out as nb_index gives them, [S, 4] */
    nb_tensor *sv = nb_randn(ctx, NB_SHAPE(2, 4), 0, 1, &rng),
              *ia = ints(NB_SHAPE(2), (const int32_t[]){2, 0}),
              *ic = ints(NB_SHAPE(2), (const int32_t[]){1, 0});
    nb_tensor *sp = nb_index_put(a, 3, (nb_tensor *[]){ia, NULL, ic}, sv, false);
    ck_assert(sp && nb_get(sp, (int64_t[]){2, 3, 1}) == nb_get(sv, (int64_t[]){0, 3}) &&
              nb_get(sp, (int64_t[]){0, 1, 0}) == nb_get(sv, (int64_t[]){1, 1}) &&
              nb_get(sp, (int64_t[]){1, 1, 0}) == at3(a, 1, 1, 0));
    nb_tensor *back = nb_index(sp, 3, (nb_tensor *[]){ia, NULL, ic});
    ck_assert(back && back->shape[0] == 2 && back->shape[1] == 4);
    for (int j = 0; j < 2; j++)
        for (int c = 0; c < 4; c++)
            ck_assert(nb_get(back, (int64_t[]){j, c}) == nb_get(sv, (int64_t[]){j, c}));
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *i0 = ints(NB_SHAPE(4), (const int32_t[]){0, 2, 0, -1});
    nb_tensor *i2 = ints(NB_SHAPE(2, 1), (const int32_t[]){1, 3});
    switch (gc_case) {
    case 0: return nb_index(in[0], 2, (nb_tensor *[]){i0, ints(NB_SHAPE(4), (const int32_t[]){1, 1, 1, 0})});
    case 1: return nb_index(in[0], 3, (nb_tensor *[]){i0, NULL, i2});
    case 2: return nb_index_put(in[0], 3, (nb_tensor *[]){i0, NULL, i2}, in[1], true);
    case 4: /* one value at a repeated index: its gradient sums g over the places, each once */
        return nb_index_put(in[0], 1, (nb_tensor *[]){ints(NB_SHAPE(3), (const int32_t[]){0, 0, 2})},
                            nb_narrow(nb_flatten(in[1]), 0, 0, 1), false);
    default: /* dim 2 at 3 and 0, a broadcast value: a's gradient 0 there */
        return nb_index_put(in[0], 3, (nb_tensor *[]){NULL, NULL, ints(NB_SHAPE(2), (const int32_t[]){3, 0})},
                            in[1], false);
    }
}

START_TEST(index_gradients) {
    for (gc_case = 0; gc_case < 5; gc_case++) {
        nb_tensor *a = nb_randn(ctx, NB_SHAPE(3, 2, 4), 0, 1, &rng);
        nb_tensor *v =
            nb_randn(ctx, gc_case == 2 ? 2 : 3,
                     gc_case == 2 ? (const int64_t[]){4, 1} : (const int64_t[]){1, 2, 1}, 0, 1, &rng);
        nb_requires_grad_(a, true), nb_requires_grad_(v, true);
        nb_gradcheck_opts o = {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-2, .seed = 3};
        nb_tensor *in[2] = {a, v};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, &o) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

START_TEST(index_errors) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4));
    nb_tensor *ok = ints(NB_SHAPE(2), (const int32_t[]){0, 1});
    ck_assert(
        !nb_index(a, 2, (nb_tensor *[]){ok, ints(NB_SHAPE(2), (const int32_t[]){0, 4})}) &&
        strstr(nb_last_error(), "index: index 1 holds 4 at position 1, outside [-4, 4) for dim 1 of [3,4]"));
    ck_assert(!nb_index(a, 1, (nb_tensor *[]){ints(NB_SHAPE(1), (const int32_t[]){-4})}) &&
              strstr(nb_last_error(), "holds -4"));
    ck_assert(
        !nb_index(a, 2, (nb_tensor *[]){ok, ints(NB_SHAPE(3), (const int32_t[]){0, 1, 2})}) &&
        strstr(nb_last_error(), "index: index 1 [3] does not broadcast with the indices before it [2]"));
    ck_assert(!nb_index(a, 3, (nb_tensor *[]){ok, ok, ok}) &&
              strstr(nb_last_error(), "index: 3 indices for a [3,4] (want 1 to 2)"));
    ck_assert(!nb_index(a, 2, (nb_tensor *[]){NULL, NULL}) && strstr(nb_last_error(), "every index is NULL"));
    ck_assert(!nb_index(a, 1, (nb_tensor *[]){nb_cast(ok, NB_F32)}) && strstr(nb_last_error(), "index"));
    ck_assert(!nb_index(a, 1, NULL) && strstr(nb_last_error(), "index list is NULL"));
    ck_assert(!nb_index_put(a, 1, (nb_tensor *[]){ok}, nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4)), false) &&
              strstr(nb_last_error(), "index_put: values [3,4] do not broadcast to the indexed shape [2,4]"));
    nb_clear_error();
    ck_assert(!nb_index(NULL, 1, (nb_tensor *[]){ok}) && strstr(nb_last_error(), "index: NULL input"));
}
END_TEST

static Suite *make_suite(void) {
    Suite *s = suite_create("ops_advindex");
    TCase *tc = tcase_create("advindex");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, index_values);
    tcase_add_test(tc, index_put_values);
    tcase_add_test(tc, index_gradients);
    tcase_add_test(tc, index_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
