/* eye and linspace, and the host-drawn random integers (tensor/sampling.c): randint's range and
 * spread, randperm is a permutation, multinomial's frequencies follow the weights (zero weights
 * never drawn, no repeats without replacement), every draw repeats with its seed and moves the
 * generator on, and bad arguments are refused with a message naming them. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

START_TEST(eye_and_linspace) {
    nb_tensor *e = nb_eye(ctx, 3, 4);
    ck_assert(e && e->shape[0] == 3 && e->shape[1] == 4);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(nb_data_f32(e)[i], i / 4 == i % 4 ? 1.0f : 0.0f);
    ck_assert(nb_eye(ctx, 2, -1)->shape[1] == 2);
    nb_tensor *l = nb_linspace(ctx, -1.0, 0.3, 7);
    ck_assert(l && l->shape[0] == 7);
    ck_assert_float_eq(nb_data_f32(l)[0], -1.0f);
    ck_assert_float_eq(nb_data_f32(l)[6], 0.3f); /* both ends exact, as torch */
    for (int i = 0; i < 7; i++)
        ck_assert(fabs(nb_data_f32(l)[i] - (-1.0 + 1.3 * i / 6)) < 1e-6);
    ck_assert_int_eq(nb_linspace(ctx, 2.0, 5.0, 1)->shape[0], 1);
    ck_assert_float_eq(nb_data_f32(nb_linspace(ctx, 2.0, 5.0, 1))[0], 2.0f);
    ck_assert_ptr_null(nb_linspace(ctx, 0.0, INFINITY, 3));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "linspace: start 0 and end inf must be finite"));
    ck_assert_ptr_null(nb_eye(ctx, -1, 2));
}
END_TEST

START_TEST(randint_range_spread_and_seed) {
    nb_rng r, r2;
    nb_rng_init(&r, 5);
    nb_rng_init(&r2, 5);
    nb_tensor *a = nb_randint(ctx, NB_SHAPE(100, 100), -3, 7, &r),
              *b = nb_randint(ctx, NB_SHAPE(100, 100), -3, 7, &r2);
    ck_assert(a && b && a->dtype == NB_I32);
    ck_assert(memcmp(nb_data(a), nb_data(b), 4 * 10000) == 0); /* the seed repeats it */
    ck_assert(r.offset > 0 && r.offset == r2.offset);
    int count[10] = {0};
    for (int i = 0; i < 10000; i++) {
        const int32_t v = ((int32_t *)nb_data(a))[i];
        ck_assert(v >= -3 && v < 7);
        count[v + 3]++;
    }
    for (int k = 0; k < 10; k++) /* 1000 expected each; 5 sigma is 150 */
        ck_assert_msg(count[k] > 850 && count[k] < 1150, "value %d drawn %d times", k - 3, count[k]);
    nb_tensor *c = nb_randint(ctx, NB_SHAPE(100, 100), -3, 7, &r); /* the generator moved on */
    ck_assert(memcmp(nb_data(a), nb_data(c), 4 * 10000) != 0);
    nb_tensor *wide = nb_randint(ctx, NB_SHAPE(1000), INT32_MIN, (int64_t)INT32_MAX + 1, &r);
    ck_assert_ptr_nonnull(wide);
    ck_assert_ptr_null(nb_randint(ctx, NB_SHAPE(3), 4, 4, &r));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "randint: want lo < hi within the i32 range, got [4, 4)"));
}
END_TEST

START_TEST(randperm_is_a_permutation) {
    nb_rng r;
    nb_rng_init(&r, 9);
    for (int64_t n = 0; n <= 1000; n += n < 3 ? 1 : 499) {
        nb_tensor *p = nb_randperm(ctx, n, &r);
        ck_assert(p && p->shape[0] == n);
        char *seen = calloc((size_t)n + 1, 1);
        int64_t moved = 0;
        for (int64_t i = 0; i < n; i++) {
            const int32_t v = ((int32_t *)nb_data(p))[i];
            ck_assert(v >= 0 && v < n && !seen[v]);
            seen[v] = 1;
            moved += v != i;
        }
        free(seen);
        if (n >= 500) ck_assert(moved > n / 2); /* shuffled, not the identity */
    }
    ck_assert_ptr_null(nb_randperm(ctx, -1, &r));
}
END_TEST

START_TEST(multinomial_frequencies) {
    nb_rng r;
    nb_rng_init(&r, 13);
    const float w[5] = {1, 0, 2, 3, 4}; /* sums to 10, need not be normalised */
    nb_tensor *p = nb_from_data(ctx, NB_F32, NB_SHAPE(5), w);
    nb_tensor *d = nb_multinomial(p, 100000, true, &r);
    ck_assert(d && d->ndim == 1 && d->shape[0] == 100000 && d->dtype == NB_I32);
    int count[5] = {0};
    for (int i = 0; i < 100000; i++)
        count[((int32_t *)nb_data(d))[i]]++;
    ck_assert_int_eq(count[1], 0);
    for (int k = 0; k < 5; k++) /* within 5 standard deviations */
        ck_assert_msg(fabs(count[k] - 1e4 * w[k]) < 5 * sqrt(1e4 * w[k] * (1 - w[k] / 10)) + 1,
                      "category %d: %d", k, count[k]);
    /* without replacement: distinct, zero weights never; all four non-zero ones drawn */
    nb_tensor *rows =
        nb_from_data(ctx, NB_F32, NB_SHAPE(2, 5), (const float[]){1, 0, 2, 3, 4, 0, 0, 0, 5, 1});
    nb_tensor *u = nb_multinomial(rows, 2, false, &r);
    ck_assert(u && u->ndim == 2 && u->shape[0] == 2 && u->shape[1] == 2);
    const int32_t *ud = nb_data(u);
    ck_assert(ud[0] != ud[1] && ud[0] != 1 && ud[1] != 1);
    ck_assert((ud[2] == 3 && ud[3] == 4) || (ud[2] == 4 && ud[3] == 3));
    nb_tensor *all = nb_multinomial(p, 4, false, &r);
    int sum = 0;
    for (int i = 0; i < 4; i++)
        sum += ((int32_t *)nb_data(all))[i];
    ck_assert_int_eq(sum, 0 + 2 + 3 + 4);
    /* the seed repeats the draws */
    nb_rng a, b;
    nb_rng_init(&a, 77), nb_rng_init(&b, 77);
    ck_assert(
        memcmp(nb_data(nb_multinomial(p, 50, true, &a)), nb_data(nb_multinomial(p, 50, true, &b)), 200) == 0);
    /* errors */
    ck_assert_ptr_null(nb_multinomial(p, 5, false, &r));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "multinomial: row 0: 5 draws without replacement from 4 categories"));
    nb_tensor *neg = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){1, 1, 0.5f, -1});
    ck_assert_ptr_null(nb_multinomial(neg, 1, true, &r));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "multinomial: row 1: weight -1 of category 1"));
    ck_assert_ptr_null(nb_multinomial(nb_zeros(ctx, NB_F32, NB_SHAPE(3)), 1, true, &r));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "the weights sum to 0"));
    ck_assert_ptr_null(nb_multinomial(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 2, 2)), 1, true, &r));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "want f32 weights [C] or [N,C], got f32 [2,2,2]"));
    ck_assert_ptr_null(nb_multinomial(p, 0, true, &r));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("sampling");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, eye_and_linspace);
    tcase_add_test(tc, randint_range_spread_and_seed);
    tcase_add_test(tc, randperm_is_a_permutation);
    tcase_add_test(tc, multinomial_frequencies);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
