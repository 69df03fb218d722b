/* Spatial transformers (ops/grid.c): affine_grid's identity and translations, grid_sample
 * reproducing the input on the identity grid, a bilinear value by hand, each padding outside
 * the input, gradients in the input and the grid by finite differences, refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 23)

static nb_tensor *identity_theta(int64_t n) {
    nb_tensor *t = nb_zeros(ctx, NB_F32, NB_SHAPE(n, 2, 3));
    for (int64_t i = 0; i < n; i++)
        nb_data_f32(t)[i * 6 + 0] = nb_data_f32(t)[i * 6 + 4] = 1.0f;
    return t;
}

START_TEST(identity_and_values) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 4, 5), 0, 1, &rng);
    for (int al = 0; al < 2; al++) {
        nb_tensor *g = nb_affine_grid(identity_theta(2), (const int64_t[]){2, 3, 4, 5}, al);
        ck_assert_msg(g && g->ndim == 4 && g->shape[1] == 4 && g->shape[2] == 5 && g->shape[3] == 2, "%s",
                      nb_last_error());
        for (int m = 0; m < 2; m++) {
            nb_tensor *y = nb_grid_sample(x, g, (nb_interp_mode)m, NB_GRID_ZEROS, al);
            ck_assert(y && nb_same_shape(y, x));
            for (int64_t i = 0; i < nb_numel(x); i++)
                ck_assert_msg(nb_close(nb_data_f32(y)[i], nb_data_f32(x)[i], 1e-5, 1e-6),
                              "align %d mode %d at %lld", al, m, (long long)i);
        }
    }
    /* one bilinear read by hand: x [1,1,2,2] = {1,2,3,4}, align_corners: (0, 0) is the centre,
     * 2.5; (0.5, -0.5) lies at pixel (0.75, 0.25) */
    nb_tensor *s = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 2, 2), (const float[]){1, 2, 3, 4});
    nb_tensor *g = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 2, 2), (const float[]){0, 0, 0.5f, -0.5f});
    nb_tensor *y = nb_grid_sample(s, g, NB_INTERP_LINEAR, NB_GRID_ZEROS, true);
    ck_assert(y && nb_close(nb_data_f32(y)[0], 2.5, 1e-6, 0));
    ck_assert(nb_close(nb_data_f32(y)[1], 1 + 0.75 * 1 + 0.25 * 2, 1e-6, 0));
    /* outside the input: zeros gives 0 (half a pixel out: half the edge); border the edge pixel;
     * reflection mirrors (x = 1.5 with align_corners is pixel 1.5 reflected to 0.5) */
    nb_tensor *go = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 2, 2), (const float[]){5, 5, 3, -1});
    const float *z = nb_data_f32(nb_grid_sample(s, go, NB_INTERP_LINEAR, NB_GRID_ZEROS, true));
    const float *bd = nb_data_f32(nb_grid_sample(s, go, NB_INTERP_LINEAR, NB_GRID_BORDER, true));
    const float *rf = nb_data_f32(nb_grid_sample(s, go, NB_INTERP_LINEAR, NB_GRID_REFLECTION, true));
    ck_assert(z[0] == 0.0f && bd[0] == 4.0f && bd[1] == 2.0f);
    ck_assert(nb_close(rf[1], 1.0, 1e-6, 0)); /* x = 3 -> pixel 2 -> reflected to 0 */
    /* translation by theta: x shifted by one pixel (align_corners, 5 columns: 0.5 per pixel) */
    nb_tensor *th = identity_theta(2);
    nb_data_f32(th)[2] = nb_data_f32(th)[8] = 0.5f;
    nb_tensor *sh = nb_grid_sample(x, nb_affine_grid(th, (const int64_t[]){2, 3, 4, 5}, true),
                                   NB_INTERP_LINEAR, NB_GRID_ZEROS, true);
    ck_assert(sh &&
              nb_close(nb_get(sh, (int64_t[]){1, 2, 3, 1}), nb_get(x, (int64_t[]){1, 2, 3, 2}), 1e-5, 1e-6));
    ck_assert(nb_get(sh, (int64_t[]){1, 2, 3, 4}) == 0.0f);
}
END_TEST

static int gc_pad;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_grid_sample(in[0], in[1], NB_INTERP_LINEAR, (nb_grid_padding)gc_pad, gc_pad == 1);
}

START_TEST(gradients) {
    for (gc_pad = 0; gc_pad < 3; gc_pad++) {
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 2, 3, 4), 0, 1, &rng), true);
        /* positions off the pixel lattice (where floor jumps), some outside the input */
        nb_tensor *g = nb_rand(ctx, NB_SHAPE(1, 2, 3, 2), -1.3f, 1.3f, &rng);
        float *gv = nb_data_f32(g);
        for (int i = 0; i < 12; i++) {
            const float n = i % 2 ? 3.0f : 4.0f, px = (gv[i] + 1.0f) * n / 2.0f - 0.5f;
            if (fabsf(px - roundf(px)) < 0.1f) gv[i] += 0.15f;
        }
        nb_tensor *in[2] = {x, nb_requires_grad_(g, true)};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, NULL) == 1, "padding %d: %s", gc_pad, nb_last_error());
    }
}
END_TEST

/* found by review: an inf pixel that is never sampled gives no NaN to the grid's gradient; a
 * grid size whose product overflows is refused before any allocation */
START_TEST(review_regressions) {
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 2, 2), (const float[]){1, 2, 3, INFINITY});
    nb_tensor *g =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 1, 2), (const float[]){1.5f, 1.5f}), true);
    nb_tensor *y = nb_grid_sample(x, g, NB_INTERP_LINEAR, NB_GRID_ZEROS, false);
    ck_assert(y && nb_item(y) == 0.0f);
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    ck_assert(nb_data_f32(g->grad)[0] == 0.0f && nb_data_f32(g->grad)[1] == 0.0f);
    ck_assert_ptr_null(
        nb_affine_grid(identity_theta(1), (const int64_t[]){1, 1, (int64_t)1 << 62, 4}, false));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "affine_grid: a 4611686018427387904 x 4 grid is too large"));
}
END_TEST

START_TEST(refusals) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 1, 2, 2));
    ck_assert_ptr_null(nb_grid_sample(x, nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2, 2, 3)), NB_INTERP_LINEAR,
                                      NB_GRID_ZEROS, false));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "grid_sample: want input [N, C, H, W] and grid [N, Ho, Wo, 2]"));
    ck_assert_ptr_null(nb_grid_sample(x, nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2, 2, 2)), NB_INTERP_LINEAR,
                                      (nb_grid_padding)7, false));
    ck_assert_ptr_null(
        nb_affine_grid(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 3, 3)), (const int64_t[]){1, 1, 2, 2}, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "affine_grid: want theta [N, 2, 3]"));
    ck_assert_ptr_null(nb_affine_grid(identity_theta(1), (const int64_t[]){2, 1, 2, 2}, false));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_grid");
    TCase *tc = tcase_create("grid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, identity_and_values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, review_regressions);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
