/* nb_embedding_bag (ops/embedding_bag.c) against loops over the bags: sum, mean and max, bags
 * from offsets (empty ones, include_last_offset) and from a 2-d index, per-sample weights,
 * padding_idx; gradients by finite differences; the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 17)

static nb_tensor *ints(int nd, const int64_t *shape, const int32_t *v) {
    return nb_from_data(ctx, NB_I32, nd, shape, v);
}

/* bag b of idx (positions start[b] .. start[b + 1] - 1) reduced by mode, loops */
static void check_bags(nb_tensor *w, const int32_t *idx, const int64_t *start, int64_t B, nb_bag_mode mode,
                       const float *psw, int64_t pad, nb_tensor *y) {
    const int64_t D = w->shape[1];
    ck_assert_msg(y && y->ndim == 2 && y->shape[0] == B && y->shape[1] == D, "%s", nb_last_error());
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            double acc = mode == NB_BAG_MAX ? -INFINITY : 0, mag = 1; /* mag: float32's sum scale */
            int64_t n = 0;
            for (int64_t j = start[b]; j < start[b + 1]; j++) {
                if (idx[j] == pad) continue;
                const double v = nb_get(w, (int64_t[]){idx[j], d}) * (psw ? psw[j] : 1.0f);
                acc = mode == NB_BAG_MAX ? fmax(acc, v) : acc + v;
                mag += fabs(v), n++;
            }
            if (mode == NB_BAG_MEAN && n) acc /= (double)n, mag /= (double)n;
            if (!n) acc = 0;
            ck_assert_msg(fabs(nb_get(y, (int64_t[]){b, d}) - acc) < 1e-5 * (mode == NB_BAG_MAX ? 1 : mag),
                          "bag %lld dim %lld: %g vs %g", (long long)b, (long long)d,
                          nb_get(y, (int64_t[]){b, d}), acc);
        }
}

START_TEST(values) {
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(7, 3), 0, 1, &rng);
    const int32_t idx[9] = {1, 4, 4, 0, 6, 2, 2, 5, 3};
    nb_tensor *i1 = ints(NB_SHAPE(9), idx);
    /* offsets 0, 3, 3 (an empty bag), 5: bags [0,3) [3,3) [3,5) [5,9) */
    nb_tensor *off = ints(NB_SHAPE(4), (const int32_t[]){0, 3, 3, 5});
    const int64_t start[5] = {0, 3, 3, 5, 9};
    for (int m = 0; m < 3; m++)
        check_bags(w, idx, start, 4, (nb_bag_mode)m, NULL, -1,
                   nb_embedding_bag(w, i1, off, m, NULL, false, -1));
    /* include_last_offset: the last offset ends the last bag (entries past it unread) */
    nb_tensor *offl = ints(NB_SHAPE(3), (const int32_t[]){0, 4, 7});
    const int64_t startl[3] = {0, 4, 7};
    check_bags(w, idx, startl, 2, NB_BAG_MEAN, NULL, -1,
               nb_embedding_bag(w, i1, offl, NB_BAG_MEAN, NULL, true, -1));
    /* per-sample weights (sum) and padding_idx (skipped, not counted by mean) */
    nb_tensor *ps = nb_randn(ctx, NB_SHAPE(9), 0, 1, &rng);
    check_bags(w, idx, start, 4, NB_BAG_SUM, nb_data_f32(ps), -1,
               nb_embedding_bag(w, i1, off, NB_BAG_SUM, ps, false, -1));
    for (int m = 0; m < 3; m++)
        check_bags(w, idx, start, 4, (nb_bag_mode)m, NULL, 4,
                   nb_embedding_bag(w, i1, off, m, NULL, false, 4));
    /* a 2-d index: fixed bags of its rows */
    nb_tensor *i2 = ints(NB_SHAPE(3, 3), idx);
    const int64_t start2[4] = {0, 3, 6, 9};
    for (int m = 0; m < 3; m++)
        check_bags(w, idx, start2, 3, (nb_bag_mode)m, NULL, -1,
                   nb_embedding_bag(w, i2, NULL, m, NULL, false, -1));
    /* review: very uneven bags (one of 4000 entries, 3999 of one) stay within the entries' memory
     * (the first layout padded every bag to the longest: 4000 x 4000 rows) */
    enum { NB = 4000, NL = 7999 };
    static int32_t uidx[NL], uoff[NB];
    for (int i = 0; i < NL; i++)
        uidx[i] = (i * 5 + i / 3) % 7;
    for (int b = 0; b < NB; b++)
        uoff[b] = b == 0 ? 0 : 4000 + (b - 1);
    nb_tensor *ui = ints(NB_SHAPE(NL), uidx), *uo = ints(NB_SHAPE(NB), uoff);
    static int64_t ustart[NB + 1];
    for (int b = 0; b < NB; b++)
        ustart[b] = uoff[b];
    ustart[NB] = NL;
    for (int m = 0; m < 3; m++)
        check_bags(w, uidx, ustart, NB, (nb_bag_mode)m, NULL, -1,
                   nb_embedding_bag(w, ui, uo, m, NULL, false, -1));
    /* max ties: the gradient goes to the first row of the bag holding the maximum */
    nb_tensor *tw = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 1)));
    nb_requires_grad_(tw, true);
    nb_tensor *t = nb_embedding_bag(tw, ints(NB_SHAPE(1, 2), (const int32_t[]){1, 0}), NULL, NB_BAG_MAX, NULL,
                                    false, -1);
    ck_assert(t && nb_backward(nb_sum(t, 0, NULL, false)) == 0);
    ck_assert(nb_data_f32(tw->grad)[1] == 1 && nb_data_f32(tw->grad)[0] == 0);
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *idx = ints(NB_SHAPE(8), (const int32_t[]){3, 0, 0, 5, 2, 1, 4, 2});
    nb_tensor *off = ints(NB_SHAPE(4), (const int32_t[]){0, 2, 2, 5});
    return nb_embedding_bag(in[0], idx, off, (nb_bag_mode)(gc_case % 3), gc_case == 3 ? in[1] : NULL, false,
                            gc_case == 1 ? 2 : -1);
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case < 4; gc_case++) {
        nb_tensor *w = nb_contiguous(nb_randn(ctx, NB_SHAPE(6, 3), 0, 1, &rng));
        if (gc_case == 2) /* max: values 0.05 apart, so that eps moves no maximum */
            for (int i = 0; i < 18; i++)
                nb_data_f32(w)[i] = (float)((i * 7) % 18) * 0.05f - 0.4f;
        nb_tensor *ps = nb_randn(ctx, NB_SHAPE(8), 0, 1, &rng);
        nb_requires_grad_(w, true), nb_requires_grad_(ps, gc_case == 3);
        nb_gradcheck_opts o = {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-2, .seed = 4};
        nb_tensor *in[2] = {w, ps};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, &o) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

START_TEST(refusals) {
    nb_tensor *w = nb_zeros(ctx, NB_F32, NB_SHAPE(5, 2)), *i1 = ints(NB_SHAPE(3), (const int32_t[]){0, 5, 1});
    nb_tensor *off = ints(NB_SHAPE(2), (const int32_t[]){0, 1});
    ck_assert(!nb_embedding_bag(w, i1, off, NB_BAG_SUM, NULL, false, -1) &&
              strstr(nb_last_error(),
                     "embedding_bag: index 5 at position 1 is outside the 5 rows of weight [5,2]"));
    nb_tensor *ok = ints(NB_SHAPE(3), (const int32_t[]){0, 4, 1});
    ck_assert(
        !nb_embedding_bag(w, ok, ints(NB_SHAPE(2), (const int32_t[]){1, 2}), NB_BAG_SUM, NULL, false, -1) &&
        strstr(nb_last_error(), "offsets [2] must start at 0"));
    ck_assert(
        !nb_embedding_bag(w, ok, ints(NB_SHAPE(2), (const int32_t[]){0, 4}), NB_BAG_SUM, NULL, false, -1) &&
        strstr(nb_last_error(), "offset 1 is 4"));
    ck_assert(!nb_embedding_bag(w, ok, NULL, NB_BAG_SUM, NULL, false, -1) &&
              strstr(nb_last_error(), "want indices [B, L] without offsets, or [L] with offsets"));
    ck_assert(!nb_embedding_bag(w, ok, off, NB_BAG_MEAN, nb_zeros(ctx, NB_F32, NB_SHAPE(3)), false, -1) &&
              strstr(nb_last_error(), "per_sample_weights need the sum mode"));
    ck_assert(!nb_embedding_bag(w, ok, off, NB_BAG_SUM, nb_zeros(ctx, NB_F32, NB_SHAPE(2)), false, -1) &&
              strstr(nb_last_error(), "per_sample_weights [2] do not have the indices' shape [3]"));
    ck_assert(!nb_embedding_bag(w, ok, off, NB_BAG_SUM, NULL, false, 5) &&
              strstr(nb_last_error(), "padding_idx 5 is not below the 5 rows"));
    ck_assert(!nb_embedding_bag(w, ok, off, (nb_bag_mode)7, NULL, false, -1) &&
              strstr(nb_last_error(), "unknown mode 7"));
    ck_assert(!nb_embedding_bag(w, ok, nb_zeros(ctx, NB_I32, NB_SHAPE(0)), NB_BAG_SUM, NULL, true, -1) &&
              strstr(nb_last_error(), "include_last_offset needs at least one offset"));
    nb_clear_error();
    ck_assert(!nb_embedding_bag(NULL, ok, off, NB_BAG_SUM, NULL, false, -1) &&
              strstr(nb_last_error(), "NULL"));
    /* no bags at all: an empty [0, D] result */
    nb_tensor *e = nb_embedding_bag(w, ok, nb_zeros(ctx, NB_I32, NB_SHAPE(1)), NB_BAG_SUM, NULL, true, -1);
    ck_assert_msg(e && e->shape[0] == 0 && e->shape[1] == 2, "%s", nb_last_error());
}
END_TEST

/* the layer: its weight, and forward over a 2-d index as the function's */
START_TEST(module) {
    nb_module *m = nb_embedding_bag_new(ctx, 6, 4, NB_BAG_MEAN, 2, &rng);
    ck_assert_msg(m, "%s", nb_last_error());
    nb_tensor *w = nb_module_param(m, "weight"),
              *idx = ints(NB_SHAPE(2, 3), (const int32_t[]){0, 2, 5, 2, 2, 1});
    ck_assert(w && w->shape[0] == 6 && w->shape[1] == 4);
    nb_tensor *y = nb_module_forward(m, idx),
              *want = nb_embedding_bag(w, idx, NULL, NB_BAG_MEAN, NULL, false, 2);
    ck_assert(y && want && nb_numel(y) == 8);
    for (int i = 0; i < 8; i++)
        ck_assert(nb_data_f32(y)[i] == nb_data_f32(want)[i]);
    /* the second bag holds padding and row 1: its mean is row 1 */
    ck_assert(nb_get(y, (int64_t[]){1, 3}) == nb_get(w, (int64_t[]){1, 3}));
    ck_assert(nb_get(w, (int64_t[]){2, 0}) == 0 && nb_get(w, (int64_t[]){2, 3}) == 0); /* torch zeroes it */
    nb_module_free(m);
    ck_assert(!nb_embedding_bag_new(ctx, 6, 4, NB_BAG_SUM, 6, &rng) &&
              strstr(nb_last_error(), "padding_idx 6"));
}
END_TEST

static Suite *make_suite(void) {
    Suite *s = suite_create("ops_embedding_bag");
    TCase *tc = tcase_create("embedding_bag");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, module);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
