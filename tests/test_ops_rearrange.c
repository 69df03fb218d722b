/* flip, roll, repeat and pad (ops/rearrange.c): values against index formulas on a
 * non-contiguous input, gradients through gradcheck, copies that never alias, and errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 5);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

/* x: a transposed [2,3,4] view of a [4,3,2] tensor whose value at (i,j,k) is 100i + 10j + k */
static nb_tensor *numbered(void) {
    nb_tensor *b = nb_empty(ctx, NB_F32, NB_SHAPE(4, 3, 2));
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++)
                nb_data_f32(b)[k * 6 + j * 2 + i] = (float)(100 * i + 10 * j + k);
    return nb_permute(b, (const int[]){2, 1, 0});
}
static float at(nb_tensor *t, int64_t i, int64_t j, int64_t k) {
    return (float)nb_get(t, (int64_t[]){i, j, k});
}

static int g_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = nb_transpose(in[0], 0, 1); /* [3,2,4] from [2,3,4] */
    switch (g_case) {
    case 0: return nb_flip(x, 2, (const int[]){0, -1});
    case 1: return nb_roll(x, -5, 2);
    case 2: return nb_repeat(x, 4, (const int64_t[]){2, 1, 3, 2});
    default: return nb_pad(x, 4, (const int64_t[]){1, -1, 2, 0}, 0.5);
    }
}

START_TEST(gradients) {
    for (g_case = 0; g_case < 4; g_case++) {
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, &x, 1, NULL, NULL) == 1, "case %d: %s", g_case, nb_last_error());
    }
}
END_TEST

START_TEST(flip) {
    nb_tensor *x = numbered();
    nb_tensor *y = nb_flip(x, 2, (const int[]){-1, 1});
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                ck_assert_float_eq(at(y, i, j, k), at(x, i, 2 - j, 3 - k));
    /* i32, an empty dim */
    nb_tensor *iv = nb_flip(nb_arange(ctx, NB_I32, 0, 5, 1), 1, (const int[]){0});
    ck_assert_int_eq(((int32_t *)nb_data(iv))[0], 4);
    ck_assert_ptr_nonnull(nb_flip(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 2)), 1, (const int[]){0}));
    ck_assert_ptr_null(nb_flip(x, 2, (const int[]){1, -2}));
    ERR_STARTS("flip: dim 1 is given twice");
    ck_assert_ptr_null(nb_flip(x, 0, NULL));
    ERR_STARTS("flip: no dims");
    ck_assert_ptr_null(nb_flip(x, 1, (const int[]){3}));
    ERR_STARTS("flip: dim 3 out of range");
}
END_TEST

START_TEST(roll) {
    nb_tensor *x = numbered();
    for (int64_t shift = -9; shift <= 9; shift++) {
        nb_tensor *y = nb_roll(x, shift, -1);
        ck_assert_msg(y != NULL, "%s", nb_last_error());
        ck_assert(nb_data(y) != nb_data(x));
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++)
                    ck_assert_msg(at(y, i, j, (k + shift % 4 + 4) % 4) == at(x, i, j, k), "shift %lld",
                                  (long long)shift);
    }
    ck_assert_ptr_nonnull(nb_roll(nb_zeros(ctx, NB_F32, NB_SHAPE(0)), 3, 0));
    ck_assert_ptr_null(nb_roll(x, 1, -4));
    ERR_STARTS("roll: dim -4 out of range");
}
END_TEST

START_TEST(repeat) {
    nb_tensor *x = numbered();
    nb_tensor *y = nb_repeat(x, 4, (const int64_t[]){2, 1, 2, 3});
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(y->ndim, 4);
    const int64_t want[4] = {2, 2, 6, 12};
    for (int d = 0; d < 4; d++)
        ck_assert_int_eq(y->shape[d], want[d]);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 6; j++)
                for (int k = 0; k < 12; k++)
                    ck_assert_float_eq(nb_get(y, (int64_t[]){r, i, j, k}), at(x, i, j % 3, k % 4));
    /* all ones: a copy, not a view of x; a zero count: an empty dim; a 0-d input */
    nb_tensor *same = nb_repeat(x, 3, (const int64_t[]){1, 1, 1});
    ck_assert(same && nb_data(same) != nb_data(x) && nb_is_contiguous(same));
    nb_tensor *none = nb_repeat(x, 3, (const int64_t[]){1, 0, 2});
    ck_assert(none && none->shape[1] == 0 && none->shape[2] == 8);
    nb_tensor *s = nb_repeat(nb_scalar(ctx, 7), 2, (const int64_t[]){2, 3});
    ck_assert(s && s->ndim == 2 && s->shape[0] == 2 && s->shape[1] == 3 && nb_get(s, (int64_t[]){1, 2}) == 7);
    ck_assert_ptr_null(nb_repeat(x, 2, (const int64_t[]){2, 2}));
    ERR_STARTS("repeat: 2 repeat counts for a 3-d tensor");
    ck_assert_ptr_null(nb_repeat(x, 3, (const int64_t[]){1, -1, 1}));
    ERR_STARTS("repeat: count -1 for dim 1 is negative");
    /* an empty input repeated 2^33 times is still empty (no array of 2^33 tiles), as torch */
    nb_tensor *big = nb_repeat(nb_zeros(ctx, NB_F32, NB_SHAPE(0)), 1, (const int64_t[]){1LL << 33});
    ck_assert_msg(big && big->ndim == 1 && big->shape[0] == 0, "%s", nb_last_error());
    ck_assert_ptr_null(nb_repeat(x, 3, (const int64_t[]){1LL << 40, 1LL << 40, 1}));
    ERR_STARTS("repeat: the result would have more than 2^60 elements");
}
END_TEST

START_TEST(pad) {
    nb_tensor *x = numbered();
    /* last dim: 1 before, 2 after; dim 1: crop 1 before, 1 after */
    nb_tensor *y = nb_pad(x, 4, (const int64_t[]){1, 2, -1, 1}, -3.5);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert(y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 7);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 7; k++) {
                const int sj = j + 1, sk = k - 1; /* the source element */
                const float w = sj < 3 && sk >= 0 && sk < 4 ? at(x, i, sj, sk) : -3.5f;
                ck_assert_msg(at(y, i, j, k) == w, "(%d,%d,%d): %g, want %g", i, j, k, (double)at(y, i, j, k),
                              (double)w);
            }
    /* no padding, or only a crop: a copy of its own */
    nb_tensor *c = nb_pad(x, 2, (const int64_t[]){-1, 0}, 0);
    ck_assert(c && nb_data(c) != nb_data(x) && c->shape[2] == 3 && at(c, 1, 2, 0) == at(x, 1, 2, 1));
    nb_tensor *z = nb_pad(x, 0, NULL, 0);
    ck_assert(z && nb_data(z) != nb_data(x));
    nb_tensor *iv = nb_pad(nb_arange(ctx, NB_I32, 0, 3, 1), 2, (const int64_t[]){1, 1}, 9);
    ck_assert(iv && ((int32_t *)nb_data(iv))[0] == 9 && ((int32_t *)nb_data(iv))[1] == 0);
    ck_assert_ptr_null(nb_pad(x, 3, (const int64_t[]){1, 1, 1}, 0));
    ERR_STARTS("pad: 3 pad sizes for a 3-d tensor");
    ck_assert_ptr_null(nb_pad(x, 8, (const int64_t[]){0, 0, 0, 0, 0, 0, 0, 0}, 0));
    nb_tensor *nz = nb_pad(x, 2, (const int64_t[]){1, 0}, -0.0);
    ck_assert(nz && nb_data_f32(nz)[0] == 0 && signbit(nb_data_f32(nz)[0])); /* -0 fills -0, as torch */
    ck_assert_ptr_null(nb_pad(x, 2, (const int64_t[]){INT64_MAX, INT64_MAX}, 0));
    ERR_STARTS("pad: (9223372036854775807, 9223372036854775807) on dim 2 is too large");
    ck_assert_ptr_null(nb_pad(x, 2, (const int64_t[]){-3, -2}, 0));
    ERR_STARTS("pad: (-3, -2) on dim 2 of size 4 leaves a negative size");
    nb_clear_error();
    ck_assert_ptr_null(nb_pad(NULL, 0, NULL, 0));
    ERR_STARTS("pad: NULL input 0");
}
END_TEST

static nb_tensor *gc_shuffle(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_pixel_unshuffle(nb_mul(nb_pixel_shuffle(in[0], 2), nb_pixel_shuffle(in[0], 2)), 2);
}

/* out[n, c, h r + i, w r + j] = x[n, c r^2 + i r + j, h, w], and unshuffle undoes it */
START_TEST(pixel_shuffle) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 12, 3, 4), 0, 1, &rng);
    nb_tensor *y = nb_pixel_shuffle(x, 2);
    ck_assert_msg(y && y->ndim == 4 && y->shape[1] == 3 && y->shape[2] == 6 && y->shape[3] == 8, "%s",
                  nb_last_error());
    const float *X = nb_data_f32(x), *Y = nb_data_f32(y);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 6; h++)
                for (int w = 0; w < 8; w++)
                    ck_assert_float_eq(Y[((n * 3 + c) * 6 + h) * 8 + w],
                                       X[((n * 12 + c * 4 + (h % 2) * 2 + w % 2) * 3 + h / 2) * 4 + w / 2]);
    nb_tensor *back = nb_pixel_unshuffle(y, 2);
    ck_assert(back && nb_same_shape(back, x));
    for (int64_t i = 0; i < nb_numel(x); i++)
        ck_assert_float_eq(nb_data_f32(back)[i], X[i]);
    nb_tensor *g = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 4, 2, 3), 0, 1, &rng), true);
    ck_assert_msg(nb_gradcheck(gc_shuffle, &g, 1, NULL, NULL) == 1, "%s", nb_last_error());
    nb_module *m = nb_pixel_shuffle_new(2);
    nb_tensor *ym = nb_module_forward(m, x);
    ck_assert(ym && nb_same_shape(ym, y));
    nb_module_free(m);
    ck_assert_ptr_null(nb_pixel_shuffle(nb_randn(ctx, NB_SHAPE(2, 6, 3, 4), 0, 1, &rng), 2));
    ERR_STARTS("pixel_shuffle: [2,6,3,4]: the channel count is not a multiple of 4");
    ck_assert_ptr_null(nb_pixel_unshuffle(x, 2));
    ERR_STARTS("pixel_unshuffle: [2,12,3,4]: the height or width is not a multiple of 2");
    ck_assert_ptr_null(nb_pixel_shuffle(x, 0));
    ERR_STARTS("pixel_shuffle: want [*, C, H, W] and a factor >= 1");
    ck_assert_ptr_null(nb_pixel_shuffle_new(0));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_rearrange");
    TCase *tc = tcase_create("rearrange");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, flip);
    tcase_add_test(tc, roll);
    tcase_add_test(tc, repeat);
    tcase_add_test(tc, pad);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, pixel_shuffle);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
