/* Transposed convolutions and fold (ops/conv.c): values against direct loops in double, the
 * adjoint identities that define them (<conv_transpose(x), u> = <x, conv(u)>, <fold(c), x> =
 * <c, unfold(x)>), gradients through gradcheck, unbatched inputs and errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 24);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 21);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static float X(const nb_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w) {
    return nb_data_f32((nb_tensor *)t)[((n * t->shape[1] + c) * t->shape[2] + h) * t->shape[3] + w];
}

/* the sum of a * b over every element, in double */
static double dot(nb_tensor *a, nb_tensor *b) {
    a = nb_contiguous(a), b = nb_contiguous(b);
    ck_assert(a && b && nb_numel(a) == nb_numel(b));
    double s = 0;
    for (int64_t i = 0; i < nb_numel(a); i++)
        s += (double)nb_data_f32(a)[i] * nb_data_f32(b)[i];
    return s;
}

static const nb_conv_opts tcases[] = {
    {.stride = {1, 1}},
    {.stride = {2, 3}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2, .output_padding = {1, 2}},
    {.stride = {2, 2}, .groups = 4}, /* depthwise, 2x upsampling */
    {.stride = {1, 1}, .padding = {1, 0}, .dilation = {3, 1}, .output_padding = {2, 0}}, /* outpad < dil */
};

/* every input pixel adds w times itself to the output window it spreads to */
START_TEST(conv_transpose2d_against_loops) {
    const nb_conv_opts o = tcases[_i];
    const int64_t G = o.groups ? o.groups : 1, C = 4, O = 2 * G, H = 5, W = 4, KH = 3, KW = 2;
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, C, H, W), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(C, O / G, KH, KW), 0, 1, &rng);
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(O), 0, 1, &rng);
    nb_tensor *y = nb_conv_transpose2d(x, w, b, &o);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    const int64_t s[2] = {o.stride[0], o.stride[1]}, p[2] = {o.padding[0], o.padding[1]},
                  d[2] = {o.dilation[0] ? o.dilation[0] : 1, o.dilation[1] ? o.dilation[1] : 1};
    const int64_t OH = (H - 1) * s[0] - 2 * p[0] + d[0] * (KH - 1) + o.output_padding[0] + 1;
    const int64_t OW = (W - 1) * s[1] - 2 * p[1] + d[1] * (KW - 1) + o.output_padding[1] + 1;
    ck_assert(y->ndim == 4 && y->shape[0] == 2 && y->shape[1] == O && y->shape[2] == OH && y->shape[3] == OW);
    const int64_t len = 2 * O * OH * OW;
    double *want = calloc((size_t)len, sizeof *want);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++)
                    for (int64_t oc = 0; oc < O / G; oc++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < KW; kw++) {
                                const int64_t oh = ih * s[0] - p[0] + kh * d[0],
                                              ow = iw * s[1] - p[1] + kw * d[1];
                                if (oh < 0 || ow < 0 || oh >= OH || ow >= OW) continue;
                                const int64_t o_ = c / (C / G) * (O / G) + oc;
                                want[((n * O + o_) * OH + oh) * OW + ow] +=
                                    (double)X(x, n, c, ih, iw) * X(w, c, oc, kh, kw);
                            }
    for (int64_t i = 0; i < len; i++) {
        const double e = want[i] + nb_data_f32(b)[(i / (OH * OW)) % O], got = nb_data_f32(y)[i];
        ck_assert_msg(fabs(got - e) < 1e-4 * (1 + fabs(e)), "case %d, element %lld: %g, want %g", _i,
                      (long long)i, got, e);
    }
    free(want);
    /* the adjoint of conv2d with the same options: <conv_transpose2d(x), u> = <x, conv2d(u)> */
    nb_tensor *u = nb_randn(ctx, 4, y->shape, 0, 1, &rng);
    nb_conv_opts co = o;
    co.output_padding[0] = co.output_padding[1] = 0;
    nb_tensor *yt = nb_conv_transpose2d(x, w, NULL, &o), *cu = nb_conv2d(u, w, NULL, &co);
    ck_assert_msg(yt && cu, "%s", nb_last_error());
    /* an output padding of the dilation's size or more adds windows that no input pixel made */
    ck_assert(cu->shape[2] >= H && cu->shape[3] >= W);
    const double l = dot(yt, u), r = dot(x, nb_narrow(nb_narrow(cu, 2, 0, H), 3, 0, W));
    ck_assert_msg(fabs(l - r) < 1e-4 * (1 + fabs(l)), "case %d: <ct(x), u> = %g, <x, conv(u)> = %g", _i, l,
                  r);
}
END_TEST

START_TEST(conv_transpose1d_against_2d) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(3, 4, 7), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(4, 3, 3), 0, 1, &rng), *b = nb_randn(ctx, NB_SHAPE(6), 0, 1, &rng);
    const nb_conv_opts o = {
        .stride = {3}, .padding = {2}, .dilation = {2}, .groups = 2, .output_padding = {1}};
    nb_tensor *y = nb_conv_transpose1d(x, w, b, &o);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert(y->ndim == 3 && y->shape[1] == 6 && y->shape[2] == (7 - 1) * 3 - 4 + 2 * 2 + 1 + 1);
    /* the same numbers as a 2-D transposed convolution over a 1-row image */
    nb_tensor *y2 = nb_conv_transpose2d(
        nb_unsqueeze(x, 2), nb_unsqueeze(w, 2), b,
        &(nb_conv_opts){
            .stride = {1, 3}, .padding = {0, 2}, .dilation = {1, 2}, .groups = 2, .output_padding = {0, 1}});
    ck_assert(y2 && nb_numel(y2) == nb_numel(y));
    for (int64_t i = 0; i < nb_numel(y); i++)
        ck_assert_float_eq(nb_data_f32(y)[i], nb_data_f32(y2)[i]);
    /* unbatched inputs, as torch */
    nb_tensor *u = nb_conv_transpose1d(nb_squeeze(nb_narrow(x, 0, 1, 1), 0), w, b, &o);
    ck_assert(u && u->ndim == 2 && u->shape[1] == y->shape[2]);
    for (int64_t i = 0; i < nb_numel(u); i++)
        ck_assert_float_eq(nb_data_f32(u)[i], nb_data_f32(y)[nb_numel(u) + i]);
}
END_TEST

/* fold is unfold's adjoint; overlapping windows add up */
START_TEST(fold_is_unfolds_adjoint) {
    const nb_conv_opts o = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}};
    const int k[2] = {3, 2};
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 6, 7), 0, 1, &rng);
    nb_tensor *cols = nb_unfold(x, k, &o);
    ck_assert_msg(cols != NULL, "%s", nb_last_error());
    nb_tensor *c = nb_randn(ctx, 3, cols->shape, 0, 1, &rng);
    nb_tensor *f = nb_fold(c, (const int64_t[]){6, 7}, k, &o);
    ck_assert_msg(f && f->ndim == 4 && f->shape[1] == 3 && f->shape[2] == 6 && f->shape[3] == 7, "%s",
                  nb_last_error());
    const double l = dot(f, x), r = dot(c, cols);
    ck_assert_msg(fabs(l - r) < 1e-4 * (1 + fabs(l)), "<fold(c), x> = %g, <c, unfold(x)> = %g", l, r);
    /* fold(unfold(ones)) counts the windows over each pixel: 3x3 windows, padding 1, on 4x4 */
    nb_tensor *ones = nb_ones(ctx, NB_F32, NB_SHAPE(1, 1, 4, 4));
    const nb_conv_opts p1 = {.padding = {1, 1}};
    nb_tensor *cnt =
        nb_fold(nb_unfold(ones, (const int[]){3, 3}, &p1), (const int64_t[]){4, 4}, (const int[]){3, 3}, &p1);
    ck_assert(cnt != NULL);
    ck_assert_float_eq(nb_data_f32(cnt)[0], 4);
    ck_assert_float_eq(nb_data_f32(cnt)[1], 6);
    ck_assert_float_eq(nb_data_f32(cnt)[5], 9);
    /* unbatched columns */
    nb_tensor *f1 = nb_fold(nb_squeeze(nb_narrow(c, 0, 1, 1), 0), (const int64_t[]){6, 7}, k, &o);
    ck_assert(f1 && f1->ndim == 3);
    for (int64_t i = 0; i < nb_numel(f1); i++)
        ck_assert_float_eq(nb_data_f32(f1)[i], nb_data_f32(f)[nb_numel(f1) + i]);
}
END_TEST

static int gc_which;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    switch (gc_which) {
    case 0:
        return nb_conv_transpose2d(in[0], in[1], in[2],
                                   &(nb_conv_opts){.stride = {2, 1},
                                                   .padding = {1, 0},
                                                   .dilation = {1, 2},
                                                   .groups = 2,
                                                   .output_padding = {1, 0}});
    case 1:
        return nb_conv_transpose1d(nb_squeeze(in[0], 2), nb_squeeze(in[1], 2), in[2],
                                   &(nb_conv_opts){.stride = {2}, .padding = {1}});
    default:
        return nb_fold(nb_reshape(in[0], NB_SHAPE(2, 4, 12)), (const int64_t[]){4, 6}, (const int[]){2, 2},
                       &(nb_conv_opts){.stride = {1, 1}, .padding = {0, 1}, .dilation = {2, 2}});
    }
}

START_TEST(gradients) {
    for (gc_which = 0; gc_which < 3; gc_which++) {
        const bool one_d = gc_which == 1;
        nb_tensor *in[3] = {
            nb_requires_grad_(nb_randn(ctx, 4, (const int64_t[]){2, 4, one_d ? 1 : 3, 4}, 0, 1, &rng), true),
            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4, 3, one_d ? 1 : 2, 3), 0, 1, &rng), true),
            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(one_d ? 3 : 6), 0, 1, &rng), true)};
        if (gc_which == 2) in[0] = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 4, 1, 12), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, in, gc_which < 2 ? 3 : 1, NULL, NULL) == 1, "case %d: %s", gc_which,
                      nb_last_error());
    }
}
END_TEST

/* nb_conv_transpose2d's fused CPU path (the convolution's input gradient, image by image, with
 * its own backward) against the composition it replaces, one matmul then nb_fold (col2im): the
 * same output and input gradient bit for bit, a weight gradient within float rounding, and all
 * three the same for 1 to 4 threads. Cases: stride with output padding, groups and dilation, an
 * output wide enough that the weight gradient's column blocks split its rows, a strided input. */
static nb_tensor *composed_convt(nb_tensor *x, nb_tensor *w, const nb_conv_opts *o, const int64_t out[2]) {
    const int64_t G = o->groups ? o->groups : 1, N = x->shape[0], C = x->shape[1],
                  HW = x->shape[2] * x->shape[3];
    const int64_t OgK = w->shape[1] * w->shape[2] * w->shape[3];
    nb_tensor *wm = nb_transpose(nb_reshape(w, NB_SHAPE(G, C / G, OgK)), 1, 2);
    nb_tensor *cols = nb_matmul(wm, nb_reshape(x, NB_SHAPE(N, G, C / G, HW)));
    ck_assert_msg(cols != NULL, "%s", nb_last_error());
    nb_conv_opts fo = {.stride = {o->stride[0], o->stride[1]},
                       .padding = {o->padding[0], o->padding[1]},
                       .dilation = {o->dilation[0], o->dilation[1]}};
    nb_tensor *y = nb_fold(nb_reshape(cols, NB_SHAPE(N, G * OgK, HW)), out,
                           (const int[]){(int)w->shape[2], (int)w->shape[3]}, &fo);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    return y;
}

static void convt_grads(nb_tensor *x, nb_tensor *xin, nb_tensor *w, const nb_conv_opts *o, const int64_t *out,
                        nb_tensor *r, nb_tensor **y, nb_tensor **dx, nb_tensor **dw) {
    nb_zero_grad(x);
    nb_zero_grad(w);
    nb_tensor *t = out ? composed_convt(xin, w, o, out) : nb_conv_transpose2d(xin, w, NULL, o);
    ck_assert_msg(t != NULL, "%s", nb_last_error());
    t = nb_reshape(t, NB_SHAPE(nb_numel(t)));
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(t, r))), 0);
    *y = nb_clone(ctx, t);
    *dx = nb_clone(ctx, x->grad);
    *dw = nb_clone(ctx, w->grad);
}

static void same_bits(nb_tensor *a, nb_tensor *b, const char *what, int c, int t) {
    ck_assert_int_eq(nb_numel(a), nb_numel(b));
    ck_assert_msg(!memcmp(nb_data_f32(a), nb_data_f32(b), (size_t)nb_numel(a) * sizeof(float)),
                  "case %d, %d threads: %s differs", c, t, what);
}

START_TEST(fused_matches_composed) {
    static const struct {
        int64_t x[4], w[4];
        nb_conv_opts o;
        bool strided;
    } cases[] = {
        {{3, 6, 9, 11}, {6, 4, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 0}}, false},
        {{2, 4, 7, 5}, {4, 3, 2, 3}, {.stride = {1, 2}, .dilation = {2, 1}, .groups = 2}, false},
        {{2, 8, 20, 64}, {8, 64, 3, 3}, {.padding = {1, 1}}, false},
        {{1, 3, 6, 5}, {3, 2, 4, 2}, {.stride = {3, 1}, .padding = {1, 0}}, true},
    };
    const int saved = nb_get_num_threads();
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, 4, cases[c].x, 0, 1, &rng), true);
        nb_tensor *w = nb_requires_grad_(nb_randn(ctx, 4, cases[c].w, 0, 1, &rng), true);
        nb_tensor *xin = x;
        if (cases[c].strided) xin = nb_transpose(nb_contiguous(nb_transpose(x, 2, 3)), 2, 3);
        ck_assert(!cases[c].strided || !nb_is_contiguous(xin));
        nb_set_num_threads(2);
        nb_tensor *probe = nb_conv_transpose2d(x, w, NULL, &cases[c].o);
        ck_assert_msg(probe != NULL, "%s", nb_last_error());
        const int64_t out[2] = {probe->shape[2], probe->shape[3]};
        nb_tensor *r = nb_randn(ctx, NB_SHAPE(nb_numel(probe)), 0, 1, &rng);
        nb_tensor *ref_y, *ref_dx, *ref_dw, *y0 = NULL, *dx0 = NULL, *dw0 = NULL;
        convt_grads(x, xin, w, &cases[c].o, out, r, &ref_y, &ref_dx, &ref_dw);
        for (int t = 1; t <= 4; t++) {
            nb_set_num_threads(t);
            nb_tensor *y, *dx, *dw;
            convt_grads(x, xin, w, &cases[c].o, NULL, r, &y, &dx, &dw);
            same_bits(y, ref_y, "the output (against the composition)", c, t);
            same_bits(dx, ref_dx, "dx (against the composition)", c, t);
            NB_ASSERT_CLOSE(dw, ref_dw, 1e-4, "dw (against the composition)");
            if (t == 1)
                y0 = y, dx0 = dx, dw0 = dw;
            else {
                same_bits(y, y0, "the output", c, t);
                same_bits(dx, dx0, "dx", c, t);
                same_bits(dw, dw0, "dw", c, t);
            }
        }
    }
    nb_set_num_threads(saved);
}
END_TEST

START_TEST(errors) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 4, 5, 5)),
              *w = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3, 3, 3));
    ck_assert_ptr_null(nb_conv_transpose2d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(3, 3, 3, 3)), NULL, NULL));
    ERR_STARTS("conv_transpose2d: input [1,4,5,5] and weight [3,3,3,3] do not match for 1 groups");
    ck_assert_ptr_null(nb_conv_transpose2d(x, w, NULL, &(nb_conv_opts){.groups = 3}));
    ERR_STARTS("conv_transpose2d: input [1,4,5,5] and weight [4,3,3,3] do not match for 3 groups");
    ck_assert_ptr_null(nb_conv_transpose2d(x, w, nb_zeros(ctx, NB_F32, NB_SHAPE(4)), NULL));
    ERR_STARTS("conv_transpose2d: bias [4] does not match 3 output channels");
    ck_assert_ptr_null(
        nb_conv_transpose2d(x, w, NULL, &(nb_conv_opts){.stride = {2, 2}, .output_padding = {2, 0}}));
    ERR_STARTS("conv_transpose2d: output padding 2 (the height) must be >= 0 and below the stride 2");
    ck_assert_ptr_null(nb_conv_transpose2d(x, w, NULL, &(nb_conv_opts){.padding = {4, 0}}));
    ERR_STARTS("conv_transpose2d: input [1,4,5,5], weight [4,3,3,3] and padding 4 give an empty output (the "
               "height -1)");
    ck_assert_ptr_null(nb_conv_transpose2d(x, w, NULL, &(nb_conv_opts){.same = true}));
    ERR_STARTS("conv_transpose2d: 'same' padding (plain convolutions only) does not apply");
    ck_assert_ptr_null(nb_conv_transpose2d(x, w, NULL, &(nb_conv_opts){.stride = {0, -2}}));
    ERR_STARTS("conv_transpose2d: stride -2, padding 0 and dilation 0 (the width) must be");
    ck_assert_ptr_null(nb_conv_transpose2d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3, 0, 3)), NULL, NULL));
    ERR_STARTS(
        "conv_transpose2d: input [1,4,5,5] and weight [4,3,0,3]: the window and the input must not be empty");
    ck_assert_ptr_null(nb_conv_transpose2d(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 4, 0, 5)), w, NULL, NULL));
    ERR_STARTS(
        "conv_transpose2d: input [1,4,0,5] and weight [4,3,3,3]: the window and the input must not be empty");
    ck_assert_ptr_null(nb_conv_transpose2d(x, w, NULL, &(nb_conv_opts){.ceil_mode = true}));
    ERR_STARTS("conv_transpose2d: ceil_mode (pooling only) does not apply");
    /* a 1-d op names the length, not the internal 2-d view */
    nb_tensor *x1 = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2, 5)), *w1 = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3, 3));
    ck_assert_ptr_null(nb_conv_transpose1d(x1, w1, NULL, &(nb_conv_opts){.padding = {9}}));
    ERR_STARTS("conv_transpose1d: input [1,2,1,5], weight [2,3,1,3] and padding 9 give an empty output (the "
               "length -11)");
    ck_assert_ptr_null(
        nb_conv_transpose1d(x1, w1, NULL, &(nb_conv_opts){.stride = {2}, .output_padding = {2}}));
    ERR_STARTS("conv_transpose1d: output padding 2 (the length) must be >= 0");
    ck_assert_ptr_null(nb_conv_transpose1d(x, w, NULL, NULL));
    ERR_STARTS("conv_transpose1d: want input [N,C,L] (or [C,L])");
    ck_assert_ptr_null(nb_conv_transpose2d(x, nb_zeros(ctx, NB_I32, NB_SHAPE(4, 3, 3, 3)), NULL, NULL));
    ERR_STARTS("conv_transpose2d: weight must be f32");
    nb_tensor *c = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 8, 9));
    ck_assert_ptr_null(nb_fold(c, (const int64_t[]){4, 5}, (const int[]){2, 2}, NULL));
    ERR_STARTS("fold: columns [1,8,9] hold 9 windows, but a 4x5 output has 12 (3x4)");
    ck_assert_ptr_null(nb_fold(c, (const int64_t[]){4, 4}, (const int[]){3, 3}, NULL));
    ERR_STARTS("fold: columns [1,8,9]: dim 1 is not a multiple of the 3x3 window");
    ck_assert_ptr_null(nb_fold(c, (const int64_t[]){0, 4}, (const int[]){2, 2}, NULL));
    ERR_STARTS("fold: the output must be at least 1x1");
    ck_assert_ptr_null(nb_fold(c, (const int64_t[]){1, 4}, (const int[]){2, 2}, NULL));
    ERR_STARTS("fold: the window 2x2 (dilated 2x2) does not fit the input 1x4");
    ck_assert_ptr_null(nb_fold(x, (const int64_t[]){4, 4}, (const int[]){2, 2}, NULL));
    ERR_STARTS("fold: want columns [N, C*KH*KW, L]");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_conv_transpose");
    TCase *tc = tcase_create("conv_transpose");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, conv_transpose2d_against_loops, 0, sizeof tcases / sizeof *tcases);
    tcase_add_test(tc, conv_transpose1d_against_2d);
    tcase_add_test(tc, fold_is_unfolds_adjoint);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, fused_matches_composed);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
