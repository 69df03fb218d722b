/* The convolutional layers (nn/conv.c): Conv2d / Conv1d with torch's layout and
 * initialisation, the pools and Flatten in a Sequential, ConvTranspose2d / 1d and Upsample
 * against their ops, and the errors of their constructors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 24);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 7);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

/* Conv2d / Conv1d: parameter names and shapes, torch's uniform init bound, the forward is the op
 * on the module's own tensors; the pools and Flatten in a Sequential; the errors. */
START_TEST(test_conv_layers) {
    const nb_conv_opts o = {.stride = {2, 1}, .padding = {1, 1}, .groups = 2};
    nb_module *c = nb_conv2d_new(ctx, 4, 6, 3, 2, &o, true, &rng);
    ck_assert_msg(c != NULL, "%s", nb_last_error());
    nb_tensor *w = nb_module_param(c, "weight"), *b = nb_module_param(c, "bias");
    ck_assert(w && b && w->ndim == 4 && w->shape[0] == 6 && w->shape[1] == 2 && w->shape[2] == 3 &&
              w->shape[3] == 2);
    const float bound = 1.0f / sqrtf(2 * 3 * 2);
    float lo = 1, hi = -1;
    for (int64_t i = 0; i < nb_numel(w); i++) {
        const float v = nb_data_f32(w)[i];
        lo = v < lo ? v : lo, hi = v > hi ? v : hi;
    }
    ck_assert_msg(lo >= -bound && hi <= bound && hi - lo > bound, "weights in [%g, %g], bound %g", (double)lo,
                  (double)hi, (double)bound);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, 7, 5), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(c, x), *want = nb_conv2d(x, w, b, &o);
    ck_assert(y && want && nb_same_shape(y, want));
    for (int64_t i = 0; i < nb_numel(y); i++)
        ck_assert_float_eq(nb_data_f32(y)[i], nb_data_f32(want)[i]);
    nb_module_free(c);

    nb_module *c1 = nb_conv1d_new(ctx, 3, 5, 4, &(nb_conv_opts){.padding = {2}}, false, &rng);
    ck_assert(c1 && c1->n_params == 1 && nb_module_param(c1, "weight")->ndim == 3);
    nb_tensor *y1 = nb_module_forward(c1, nb_randn(ctx, NB_SHAPE(2, 3, 10), 0, 1, &rng));
    ck_assert(y1 && y1->shape[1] == 5 && y1->shape[2] == 11);
    nb_module_free(c1);

    nb_module *s = nb_sequential_new();
    ck_assert_int_eq(nb_sequential_append(s, nb_max_pool2d_new(2, 2, NULL)), 0);
    ck_assert_int_eq(nb_sequential_append(s, nb_avg_pool2d_new(1, 2, &(nb_conv_opts){.stride = {1, 1}})), 0);
    ck_assert_int_eq(nb_sequential_append(s, nb_flatten_new()), 0);
    nb_tensor *f = nb_module_forward(s, x); /* [2,4,7,5] -> [2,4,3,2] -> [2,4,3,1] -> [2,12] */
    ck_assert_msg(f && f->ndim == 2 && f->shape[0] == 2 && f->shape[1] == 12, "%s", nb_last_error());
    nb_tensor *fe = nb_module_forward(nb_module_child(s, "2"), nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3, 4)));
    ck_assert_msg(fe && fe->shape[0] == 0 && fe->shape[1] == 12, "an empty batch flattens to [0,12]");
    nb_module_free(s);

    ck_assert_ptr_null(nb_conv2d_new(ctx, 3, 6, 3, 3, &(nb_conv_opts){.groups = 2}, true, &rng));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "conv2d_new: in 3, out 6"));
    ck_assert_ptr_null(nb_conv1d_new(ctx, 3, 6, 0, NULL, true, &rng));
    ck_assert_ptr_null(nb_adaptive_avg_pool2d_new(0, 1));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "adaptive_avg_pool2d_new: the output must be at least 1x1"));
    ck_assert_ptr_null(nb_max_pool2d_new(0, 2, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "max_pool2d_new: the window must be at least 1x1"));
    ck_assert_ptr_null(nb_conv2d_new(NULL, 3, 6, 3, 3, NULL, true, &rng));
}
END_TEST

/* the decoder side: ConvTranspose2d doubles the size, Upsample too, and they compose */
START_TEST(test_upsampling_layers) {
    const nb_conv_opts o = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}, .groups = 2};
    nb_module *t = nb_conv_transpose2d_new(ctx, 4, 6, 3, 3, &o, true, &rng);
    ck_assert_msg(t != NULL, "%s", nb_last_error());
    ck_assert_str_eq(t->type, "ConvTranspose2d");
    nb_tensor *w = nb_module_param(t, "weight"), *b = nb_module_param(t, "bias");
    /* torch's layout [in, out/groups, kh, kw] and bound 1/sqrt(out/groups * kh * kw) */
    ck_assert(w && b && w->shape[0] == 4 && w->shape[1] == 3 && w->shape[2] == 3 && b->shape[0] == 6);
    const float bound = 1.0f / sqrtf(3 * 3 * 3);
    for (int64_t i = 0; i < nb_numel(w); i++)
        ck_assert(fabsf(nb_data_f32(w)[i]) <= bound);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, 5, 7), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(t, x), *want = nb_conv_transpose2d(x, w, b, &o);
    ck_assert_msg(y && want && y->shape[2] == 10 && y->shape[3] == 14, "%s", nb_last_error());
    for (int64_t i = 0; i < nb_numel(y); i++)
        ck_assert_float_eq(nb_data_f32(y)[i], nb_data_f32(want)[i]);
    nb_module_free(t);

    nb_module *t1 = nb_conv_transpose1d_new(ctx, 3, 2, 4, &(nb_conv_opts){.stride = {2}}, false, &rng);
    ck_assert(t1 && t1->n_params == 1 && nb_module_param(t1, "weight")->shape[0] == 3);
    nb_tensor *y1 = nb_module_forward(t1, nb_randn(ctx, NB_SHAPE(2, 3, 6), 0, 1, &rng));
    ck_assert(y1 && y1->shape[1] == 2 && y1->shape[2] == (6 - 1) * 2 + 4);
    nb_module_free(t1);

    nb_module *u = nb_upsample_new(2, 3, NB_INTERP_LINEAR, false);
    ck_assert(u != NULL);
    nb_tensor *up = nb_module_forward(u, x);
    ck_assert(up && up->shape[2] == 10 && up->shape[3] == 21);
    nb_tensor *ref = nb_interpolate(x, (const int64_t[]){10, 21}, NB_INTERP_LINEAR, false);
    for (int64_t i = 0; i < nb_numel(up); i++)
        ck_assert_float_eq(nb_data_f32(up)[i], nb_data_f32(ref)[i]);
    nb_tensor *u1 = nb_module_forward(u, nb_randn(ctx, NB_SHAPE(1, 2, 4), 0, 1, &rng));
    ck_assert(u1 && u1->shape[2] == 8);
    ck_assert_ptr_null(nb_module_forward(u, nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "want input [N,C,L] or [N,C,H,W], got [3,4]"));
    nb_module_free(u);

    ck_assert_ptr_null(nb_upsample_new(0, 2, NB_INTERP_NEAREST, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "upsample_new: scale 0x2"));
    ck_assert_ptr_null(
        nb_conv_transpose2d_new(ctx, 4, 6, 3, 3, &(nb_conv_opts){.pad_mode = NB_PAD_REFLECT}, true, &rng));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "conv_transpose2d_new: pad_mode (plain convolutions only) does not apply"));
    ck_assert_ptr_null(nb_conv_transpose2d_new(ctx, 4, 6, 3, 3, &(nb_conv_opts){.groups = 4}, true, &rng));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "conv_transpose2d_new: in 4, out 6"));
}
END_TEST

/* Unflatten, Pad, Unfold and Fold: each module's forward is its op, and their refusals */
START_TEST(test_reshape_layers) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 12, 5), 0, 1, &rng);
    nb_module *u = nb_unflatten_new(1, 3, (const int64_t[]){2, -1, 3});
    ck_assert_ptr_nonnull(u);
    nb_tensor *y = nb_module_forward(u, x);
    ck_assert(y && y->ndim == 5 && y->shape[1] == 2 && y->shape[2] == 2 && y->shape[3] == 3 &&
              y->shape[4] == 5);
    ck_assert(nb_data_f32(y)[37] == nb_data_f32(x)[37]);
    nb_module *bad = nb_unflatten_new(-1, 2, (const int64_t[]){2, 2});
    ck_assert_ptr_null(nb_module_forward(bad, x));
    ck_assert_ptr_nonnull(strstr(
        nb_last_error(), "Unflatten: the sizes given do not multiply to the size of dim 2 of [2,12,5] (5)"));
    /* an empty batch does not hide a wrong split (found by review) */
    nb_module *u24 = nb_unflatten_new(1, 2, (const int64_t[]){2, 4});
    ck_assert_ptr_null(nb_module_forward(u24, nb_zeros(ctx, NB_F32, NB_SHAPE(0, 6))));
    nb_tensor *e = nb_module_forward(u24, nb_zeros(ctx, NB_F32, NB_SHAPE(0, 8)));
    ck_assert(e && e->ndim == 3 && e->shape[2] == 4);
    nb_module_free(u24);
    nb_module_free(u);
    nb_module_free(bad);
    ck_assert_ptr_null(nb_unflatten_new(0, 0, NULL));

    nb_tensor *img = nb_randn(ctx, NB_SHAPE(1, 2, 4, 5), 0, 1, &rng);
    const int64_t pads[4] = {1, 2, 2, 0};
    const nb_pad_kind modes[4] = {NB_PAD_ZEROS, NB_PAD_REFLECT, NB_PAD_REPLICATE, NB_PAD_CIRCULAR};
    for (int k = 0; k < 4; k++) {
        nb_module *p = nb_pad_new(4, pads, modes[k], k == 0 ? 1.5 : 0.0);
        ck_assert_ptr_nonnull(p);
        nb_tensor *a = nb_module_forward(p, img);
        nb_tensor *b = k == 0 ? nb_pad(img, 4, pads, 1.5) : nb_pad_mode(img, 4, pads, modes[k]);
        ck_assert(a && b && nb_same_shape(a, b) && a->shape[2] == 6 && a->shape[3] == 8);
        for (int64_t i = 0; i < nb_numel(a); i++)
            ck_assert(nb_data_f32(a)[i] == nb_data_f32(b)[i]);
        nb_module_free(p);
    }
    ck_assert_ptr_null(nb_pad_new(3, pads, NB_PAD_ZEROS, 0));
    ck_assert_ptr_null(nb_pad_new(2, pads, NB_PAD_REFLECT, 2.0));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "pad_new: a fill value (2) goes with constant padding only"));

    /* Unfold then Fold with non-overlapping 2x2 windows gives the image back */
    nb_conv_opts o = {.stride = {2, 2}};
    nb_module *uf = nb_unfold_new((const int[]){2, 2}, &o);
    nb_module *fo = nb_fold_new((const int64_t[]){4, 4}, (const int[]){2, 2}, &o);
    nb_tensor *sq = nb_randn(ctx, NB_SHAPE(2, 3, 4, 4), 0, 1, &rng);
    nb_tensor *cols = nb_module_forward(uf, sq);
    ck_assert(cols && cols->ndim == 3 && cols->shape[1] == 12 && cols->shape[2] == 4);
    nb_tensor *back = nb_module_forward(fo, cols);
    ck_assert(back && nb_same_shape(back, sq));
    for (int64_t i = 0; i < nb_numel(sq); i++)
        ck_assert(nb_data_f32(back)[i] == nb_data_f32(sq)[i]);
    nb_module_free(uf);
    nb_module_free(fo);
    ck_assert_ptr_null(nb_fold_new((const int64_t[]){0, 4}, (const int[]){2, 2}, NULL));
    /* AdaptiveMaxPool2d / 1d: their op */
    nb_module *am = nb_adaptive_max_pool2d_new(2, 3), *am1 = nb_adaptive_max_pool1d_new(2);
    nb_tensor *ay = nb_module_forward(am, img), *aw = nb_adaptive_max_pool2d(img, 2, 3, NULL);
    ck_assert(ay && aw && nb_same_shape(ay, aw) && ay->shape[2] == 2 && ay->shape[3] == 3);
    for (int64_t i = 0; i < nb_numel(ay); i++)
        ck_assert(nb_data_f32(ay)[i] == nb_data_f32(aw)[i]);
    nb_tensor *a1 = nb_module_forward(am1, nb_reshape(img, NB_SHAPE(2, 4, 5)));
    ck_assert(a1 && a1->shape[2] == 2);
    nb_module_free(am);
    nb_module_free(am1);
    ck_assert_ptr_null(nb_adaptive_max_pool2d_new(0, 1));
    ck_assert_ptr_null(nb_unfold_new((const int[]){0, 2}, NULL));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_conv_layers");
    TCase *tc = tcase_create("conv_layers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_conv_layers);
    tcase_add_test(tc, test_upsampling_layers);
    tcase_add_test(tc, test_reshape_layers);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
