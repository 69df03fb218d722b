/* Convolution and pooling (ops/conv.c): values against direct loops in double over strides,
 * padding, dilation and groups; gradients of input, weight and bias through gradcheck; errors. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "backends/cpu/cpu_math.h"
#include "backends/cpu/gemm.h"
#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 24);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 11);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static float X(const nb_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w) {
    return nb_data_f32((nb_tensor *)t)[((n * t->shape[1] + c) * t->shape[2] + h) * t->shape[3] + w];
}

/* direct conv2d at one output element, in double */
static double ref_conv(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b, nb_conv_opts o, int64_t n,
                       int64_t oc, int64_t oh, int64_t ow) {
    const int64_t G = o.groups ? o.groups : 1, Cg = w->shape[1], Og = w->shape[0] / G, g = oc / Og;
    double acc = b ? nb_data_f32((nb_tensor *)b)[oc] : 0;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t kh = 0; kh < w->shape[2]; kh++)
            for (int64_t kw = 0; kw < w->shape[3]; kw++) {
                const int64_t ih = oh * o.stride[0] - o.padding[0] + kh * o.dilation[0];
                const int64_t iw = ow * o.stride[1] - o.padding[1] + kw * o.dilation[1];
                if (ih < 0 || iw < 0 || ih >= x->shape[2] || iw >= x->shape[3]) continue;
                acc += (double)X(x, n, g * Cg + c, ih, iw) * X(w, oc, c, kh, kw);
            }
    return acc;
}

static const nb_conv_opts conv_cases[] = {
    {.stride = {1, 1}, .padding = {0, 0}, .dilation = {1, 1}, .groups = 1},
    {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2},
    {.stride = {1, 3}, .padding = {2, 0}, .dilation = {2, 1}, .groups = 4}, /* depthwise */
    /* rows as wide as the input (im2col's one-copy path), more padding rows than image rows read */
    {.stride = {1, 1}, .padding = {3, 1}, .dilation = {1, 2}, .groups = 1},
    /* the same path with a window row wholly below the image (kh dh = 10 > ph + H = 9) */
    {.stride = {1, 1}, .padding = {2, 1}, .dilation = {5, 2}, .groups = 2},
};

START_TEST(conv2d_against_loops) {
    const nb_conv_opts o = conv_cases[_i];
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, 7, 9), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(8, 4 / o.groups, 3, 2), 0, 1, &rng);
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(8), 0, 1, &rng);
    nb_tensor *y = nb_conv2d(x, w, b, &o);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    const int64_t OH = (7 + 2 * o.padding[0] - o.dilation[0] * 2 - 1) / o.stride[0] + 1;
    const int64_t OW = (9 + 2 * o.padding[1] - o.dilation[1] * 1 - 1) / o.stride[1] + 1;
    ck_assert(y->ndim == 4 && y->shape[0] == 2 && y->shape[1] == 8 && y->shape[2] == OH && y->shape[3] == OW);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 8; c++)
            for (int64_t h = 0; h < OH; h++)
                for (int64_t v = 0; v < OW; v++) {
                    const double want = ref_conv(x, w, b, o, n, c, h, v), got = X(y, n, c, h, v);
                    ck_assert_msg(fabs(got - want) < 1e-4 * (1 + fabs(want)),
                                  "(%lld,%lld,%lld,%lld): %g, want %g", (long long)n, (long long)c,
                                  (long long)h, (long long)v, got, want);
                }
    /* NULL options and no bias: stride 1, no padding */
    nb_tensor *y0 = nb_conv2d(x, nb_randn(ctx, NB_SHAPE(3, 4, 2, 2), 0, 1, &rng), NULL, NULL);
    ck_assert(y0 && y0->shape[1] == 3 && y0->shape[2] == 6 && y0->shape[3] == 8);
}
END_TEST

START_TEST(conv1d_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(3, 2, 11), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(5, 2, 4), 0, 1, &rng);
    nb_conv_opts o = {.stride = {2}, .padding = {3}, .dilation = {2}};
    nb_tensor *y = nb_conv1d(x, w, NULL, &o);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    const int64_t OL = (11 + 6 - 2 * 3 - 1) / 2 + 1;
    ck_assert(y->ndim == 3 && y->shape[1] == 5 && y->shape[2] == OL);
    for (int64_t n = 0; n < 3; n++)
        for (int64_t c = 0; c < 5; c++)
            for (int64_t l = 0; l < OL; l++) {
                double want = 0;
                for (int64_t ci = 0; ci < 2; ci++)
                    for (int64_t k = 0; k < 4; k++) {
                        const int64_t i = l * 2 - 3 + k * 2;
                        if (i >= 0 && i < 11)
                            want += (double)nb_data_f32(x)[(n * 2 + ci) * 11 + i] *
                                    nb_data_f32(w)[(c * 2 + ci) * 4 + k];
                    }
                const double got = nb_get(y, (int64_t[]){n, c, l});
                ck_assert_msg(fabs(got - want) < 1e-4 * (1 + fabs(want)), "(%lld,%lld,%lld): %g, want %g",
                              (long long)n, (long long)c, (long long)l, got, want);
            }
}
END_TEST

/* ReLU then max pooling: windows of zeros tie, and the whole gradient goes to the first element
 * of each window, as torch (not shared among the ties). */
START_TEST(max_pool_ties_give_the_gradient_to_the_first) {
    nb_tensor *x = nb_requires_grad_(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 1, 4, 4)), true);
    nb_data_f32(x)[10] = 5.0f; /* (2,2): the max of the bottom-right window */
    nb_tensor *y = nb_max_pool2d(x, (const int[]){2, 2}, NULL);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    const int first[4] = {0, 2, 8, 10}; /* each window's first element, or its max */
    for (int i = 0; i < 16; i++) {
        const float want = i == first[0] || i == first[1] || i == first[2] || i == first[3] ? 1.0f : 0.0f;
        ck_assert_msg(nb_data_f32(x->grad)[i] == want, "dx[%d] = %g, want %g", i,
                      (double)nb_data_f32(x->grad)[i], (double)want);
    }
}
END_TEST

/* a window whose values are all -inf ties with its -inf padding: the gradient goes to the
 * window's first element inside the input, as torch (printed by torch 1.13: 4 2 0 2 1 0 0 0 0) */
START_TEST(max_pool_all_minus_inf) {
    nb_tensor *x = nb_requires_grad_(nb_full(ctx, NB_F32, NB_SHAPE(1, 1, 3, 3), -INFINITY), true);
    nb_tensor *y =
        nb_max_pool2d(x, (const int[]){3, 3}, &(nb_conv_opts){.stride = {1, 1}, .padding = {1, 1}});
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    const float want[9] = {4, 2, 0, 2, 1, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++) {
        ck_assert(nb_data_f32(y)[i] == -INFINITY);
        ck_assert_msg(nb_data_f32(x->grad)[i] == want[i], "dx[%d] = %g, want %g", i,
                      (double)nb_data_f32(x->grad)[i], (double)want[i]);
    }
}
END_TEST

START_TEST(pools_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 7, 8), 0, 1, &rng);
    const int k[2] = {3, 2};
    nb_conv_opts o = {.stride = {2, 0}, .padding = {1, 1}};
    nb_tensor *mx = nb_max_pool2d(x, k, &o), *av = nb_avg_pool2d(x, k, &o);
    ck_assert_msg(mx && av, "%s", nb_last_error());
    const int64_t OH = (7 + 2 - 3) / 2 + 1, OW = (8 + 2 - 2) / 2 + 1; /* stride[1] 0: the window, 2 */
    ck_assert(mx->shape[2] == OH && mx->shape[3] == OW && av->shape[2] == OH && av->shape[3] == OW);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t h = 0; h < OH; h++)
                for (int64_t v = 0; v < OW; v++) {
                    double m = -INFINITY, s = 0;
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 2; kw++) {
                            const int64_t ih = h * 2 - 1 + kh, iw = v * 2 - 1 + kw;
                            if (ih < 0 || iw < 0 || ih >= 7 || iw >= 8) continue;
                            const double e = X(x, n, c, ih, iw);
                            m = e > m ? e : m;
                            s += e;
                        }
                    ck_assert_float_eq(X(mx, n, c, h, v), (float)m);
                    ck_assert_msg(fabs(X(av, n, c, h, v) - s / 6) < 1e-6, "avg (%lld,%lld): %g, want %g",
                                  (long long)h, (long long)v, (double)X(av, n, c, h, v), s / 6);
                }
}
END_TEST

/* unfold against the definition: entry (c*KH*KW + k, l) is x at window position k of output l */
START_TEST(unfold_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 6, 7), 0, 1, &rng);
    const nb_conv_opts o = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}};
    nb_tensor *u = nb_unfold(x, (const int[]){3, 2}, &o);
    ck_assert_msg(u != NULL, "%s", nb_last_error());
    const int64_t OH = (6 + 2 - 3) / 2 + 1, OW = (7 + 4 - 2 - 1) / 1 + 1;
    ck_assert(u->ndim == 3 && u->shape[0] == 2 && u->shape[1] == 18 && u->shape[2] == OH * OW);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t k = 0; k < 6; k++)
                for (int64_t l = 0; l < OH * OW; l++) {
                    const int64_t ih = (l / OW) * 2 - 1 + (k / 2), iw = (l % OW) - 2 + (k % 2) * 2;
                    const float want = ih >= 0 && ih < 6 && iw >= 0 && iw < 7 ? X(x, n, c, ih, iw) : 0.0f;
                    ck_assert_float_eq((float)nb_get(u, (int64_t[]){n, c * 6 + k, l}), want);
                }
    /* the gradient: each pixel gets as many g as windows read it */
    nb_tensor *xg = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 1, 4, 4), 0, 1, &rng), true);
    ck_assert_int_eq(
        nb_backward(nb_sum_all(nb_unfold(xg, (const int[]){3, 3}, &(nb_conv_opts){.padding = {1, 1}}))), 0);
    const float corner = 4, edge = 6, inner = 9;
    ck_assert_float_eq(nb_data_f32(xg->grad)[0], corner);
    ck_assert_float_eq(nb_data_f32(xg->grad)[1], edge);
    ck_assert_float_eq(nb_data_f32(xg->grad)[5], inner);
    ck_assert_ptr_null(nb_unfold(x, (const int[]){3, 3}, &(nb_conv_opts){.groups = 2}));
    ck_assert_ptr_null(nb_unfold(x, (const int[]){7, 1}, NULL));
    ERR_STARTS("unfold: the window 7x1");
}
END_TEST

static int gc_which;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    const nb_conv_opts o = {.stride = {2, 1}, .padding = {1, 1}, .dilation = {1, 2}, .groups = 2};
    const int k[2] = {2, 3};
    switch (gc_which) {
    case 0: return nb_conv2d(in[0], in[1], in[2], &o);
    case 1:
        return nb_conv1d(nb_squeeze(in[0], 2), nb_squeeze(in[1], 2), in[2], &(nb_conv_opts){.padding = {1}});
    case 4:
        return nb_unfold(in[0], k, &(nb_conv_opts){.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}});
    case 2: return nb_max_pool2d(in[0], k, &(nb_conv_opts){.stride = {1, 2}, .padding = {1, 1}});
    default: return nb_avg_pool2d(in[0], k, &(nb_conv_opts){.stride = {1, 1}, .padding = {1, 1}});
    }
}

START_TEST(gradients) {
    for (gc_which = 0; gc_which < 5; gc_which++) {
        const bool one_d = gc_which == 1;
        nb_tensor *in[3] = {
            nb_requires_grad_(nb_randn(ctx, 4, (const int64_t[]){2, 4, one_d ? 1 : 5, 6}, 0, 1, &rng), true),
            nb_requires_grad_(
                nb_randn(ctx, 4, (const int64_t[]){4, one_d ? 4 : 2, one_d ? 1 : 2, 3}, 0, 1, &rng), true),
            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4), 0, 1, &rng), true)};
        ck_assert_msg(nb_gradcheck(gc_fn, in, gc_which < 2 ? 3 : 1, NULL, NULL) == 1, "case %d: %s", gc_which,
                      nb_last_error());
    }
}
END_TEST

/* A dilated 'same' convolution (DeepLab's ASPP: 3x3, dilation and padding 12) over 256 channels,
 * whose columns are made 3 output rows at a time: blocks near the bottom lie wholly below the
 * image for the last window row. Against the loops, with and without gradients (dw remakes the
 * columns by row ranges). A block below the image once wrote padding before its own row. */
START_TEST(dilated_same_against_loops) {
    const nb_conv_opts o = {.stride = {1, 1}, .padding = {12, 12}, .dilation = {12, 12}};
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 256, 33, 33), 0, 1, &rng), true);
    nb_tensor *w = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4, 256, 3, 3), 0, 0.1f, &rng), true);
    nb_tensor *y = nb_conv2d(x, w, NULL, &o);
    ck_assert_msg(y && y->shape[2] == 33 && y->shape[3] == 33, "%s", nb_last_error());
    for (int64_t c = 0; c < 4; c++)
        for (int64_t h = 0; h < 33; h++)
            for (int64_t v = 0; v < 33; v++) {
                const double want = ref_conv(x, w, NULL, o, 0, c, h, v), got = X(y, 0, c, h, v);
                ck_assert_msg(fabs(got - want) < 1e-4 * (1 + fabs(want)), "(%lld,%lld,%lld): %g, want %g",
                              (long long)c, (long long)h, (long long)v, got, want);
            }
    /* dw of sum(y): per weight the sum of the input pixels its window position reads */
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    for (int64_t c = 0; c < 256; c += 51)
        for (int64_t k = 0; k < 9; k++) {
            double want = 0;
            for (int64_t h = 0; h < 33; h++)
                for (int64_t v = 0; v < 33; v++) {
                    const int64_t ih = h - 12 + k / 3 * 12, iw = v - 12 + k % 3 * 12;
                    if (ih >= 0 && ih < 33 && iw >= 0 && iw < 33) want += X(x, 0, c, ih, iw);
                }
            const double got = nb_data_f32(w->grad)[(1 * 256 + c) * 9 + k];
            ck_assert_msg(fabs(got - want) < 1e-4 * (1 + fabs(want)), "dw (1,%lld,%lld): %g, want %g",
                          (long long)c, (long long)k, got, want);
        }
}
END_TEST

/* nb_conv2d's fused CPU kernel (columns made a block of output rows at a time) against the
 * composition it replaces, unfold then one batched matmul: the same output and input gradient,
 * bit for bit, a weight gradient within float rounding, and all three the same for 1 to 4
 * threads. Cases: groups, stride and dilation, a column block smaller than the image (64
 * channels of 64-wide rows), a strided input, and a batch smaller than the thread count. */
static nb_tensor *composed_conv(nb_tensor *x, nb_tensor *w, const nb_conv_opts *o) {
    const int64_t G = o->groups ? o->groups : 1, O = w->shape[0],
                  CgK = w->shape[1] * w->shape[2] * w->shape[3];
    const int k[2] = {(int)w->shape[2], (int)w->shape[3]};
    nb_conv_opts uo = *o;
    uo.groups = 0;
    nb_tensor *cols = nb_unfold(x, k, &uo);
    ck_assert_msg(cols != NULL, "%s", nb_last_error());
    const int64_t N = x->shape[0], L = cols->shape[2];
    nb_tensor *y =
        nb_matmul(nb_reshape(w, NB_SHAPE(G, O / G, CgK)), nb_reshape(cols, NB_SHAPE(N, G, CgK, L)));
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    return nb_reshape(y, NB_SHAPE(N, O, L));
}

/* y, dx and dw of sum(conv(xin, w) * r), where xin is leaf x or a view of it */
static void conv_grads(nb_tensor *x, nb_tensor *xin, nb_tensor *w, nb_tensor *b, const nb_conv_opts *o,
                       bool composed, nb_tensor *r, nb_tensor **y, nb_tensor **dx, nb_tensor **dw,
                       nb_tensor **db) {
    nb_zero_grad(x);
    nb_zero_grad(w);
    nb_zero_grad(b);
    nb_tensor *out = composed ? nb_add(composed_conv(xin, w, o), nb_reshape(b, NB_SHAPE(b->shape[0], 1)))
                              : nb_conv2d(xin, w, b, o);
    ck_assert_msg(out != NULL, "%s", nb_last_error());
    out = nb_reshape(out, NB_SHAPE(nb_numel(out)));
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(out, r))), 0);
    *y = nb_clone(ctx, out);
    *dx = nb_clone(ctx, x->grad);
    *dw = nb_clone(ctx, w->grad);
    *db = nb_clone(ctx, b->grad);
}

static void same_bits(nb_tensor *a, nb_tensor *b, const char *what, int c, int t) {
    ck_assert_int_eq(nb_numel(a), nb_numel(b));
    ck_assert_msg(!memcmp(nb_data_f32(a), nb_data_f32(b), (size_t)nb_numel(a) * sizeof(float)),
                  "case %d, %d threads: %s differs", c, t, what);
}

START_TEST(fused_conv_matches_composed) {
    static const struct {
        int64_t x[4], w[4];
        nb_conv_opts o;
        bool strided;
    } cases[] = {
        {{3, 6, 19, 37}, {8, 6, 3, 3}, {.padding = {1, 1}}, false},
        {{5, 4, 16, 70},
         {6, 2, 3, 5},
         {.stride = {2, 1}, .padding = {2, 0}, .dilation = {2, 2}, .groups = 2},
         false},
        {{2, 64, 20, 64}, {4, 64, 3, 3}, {.padding = {1, 1}}, false},
        {{1, 3, 23, 11}, {5, 3, 5, 2}, {.stride = {3, 2}, .padding = {2, 1}}, true},
    };
    const int saved = nb_get_num_threads();
    for (int c = 0; c < 4; c++) {
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, 4, cases[c].x, 0, 1, &rng), true);
        nb_tensor *w = nb_requires_grad_(nb_randn(ctx, 4, cases[c].w, 0, 1, &rng), true);
        nb_tensor *xin = x;
        if (cases[c].strided) /* the same values, read through H and W swapped twice */
            xin = nb_transpose(nb_contiguous(nb_transpose(x, 2, 3)), 2, 3);
        ck_assert(!cases[c].strided || !nb_is_contiguous(xin));
        nb_tensor *ref_y, *ref_dx, *ref_dw, *y0 = NULL, *dx0 = NULL, *dw0 = NULL;
        nb_set_num_threads(2);
        nb_tensor *probe = nb_conv2d(x, w, NULL, &cases[c].o);
        ck_assert_msg(probe != NULL, "%s", nb_last_error());
        nb_tensor *r = nb_randn(ctx, NB_SHAPE(nb_numel(probe)), 0, 1, &rng);
        nb_tensor *b = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(cases[c].w[0]), 0, 1, &rng), true), *ref_db,
                  *db0 = NULL;
        conv_grads(x, xin, w, b, &cases[c].o, true, r, &ref_y, &ref_dx, &ref_dw, &ref_db);
        for (int t = 1; t <= 4; t++) {
            nb_set_num_threads(t);
            nb_tensor *y, *dx, *dw;
            nb_tensor *db;
            conv_grads(x, xin, w, b, &cases[c].o, false, r, &y, &dx, &dw, &db);
            same_bits(y, ref_y, "the output (against the composition)", c, t);
            same_bits(dx, ref_dx, "dx (against the composition)", c, t);
            same_bits(db, ref_db, "db (against the composition)", c, t);
            NB_ASSERT_CLOSE(dw, ref_dw, 1e-4, "dw (against the composition)");
            if (t == 1)
                y0 = y, dx0 = dx, dw0 = dw, db0 = db;
            else {
                same_bits(db, db0, "db", c, t);
                same_bits(y, y0, "the output", c, t);
                same_bits(dx, dx0, "dx", c, t);
                same_bits(dw, dw0, "dw", c, t);
            }
        }
    }
    nb_set_num_threads(saved);
}
END_TEST

/* Empty convolutions: no images, no input channels, no output channels. The output is all
 * zeros (a sum of nothing) and so are the gradients, never uninitialised memory. */
START_TEST(empty_convolutions) {
    static const int64_t dims[][3] = {{0, 4, 3}, {2, 0, 3}, {2, 4, 0}};
    for (int c = 0; c < 3; c++) {
        const int64_t N = dims[c][0], C = dims[c][1], O = dims[c][2];
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(N, C, 5, 6), 0, 1, &rng), true);
        nb_tensor *w = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(O, C, 3, 3), 0, 1, &rng), true);
        nb_tensor *y = nb_conv2d(x, w, NULL, &(nb_conv_opts){.padding = {1, 1}});
        ck_assert_msg(y != NULL, "case %d: %s", c, nb_last_error());
        ck_assert(y->ndim == 4 && y->shape[0] == N && y->shape[1] == O && y->shape[2] == 5 &&
                  y->shape[3] == 6);
        for (int64_t i = 0; i < nb_numel(y); i++)
            ck_assert_float_eq(nb_data_f32(y)[i], 0.0f);
        ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, nb_randn(ctx, 4, y->shape, 0, 1, &rng)))), 0);
        nb_tensor *g[2] = {x->grad, w->grad};
        for (int k = 0; k < 2; k++)
            for (int64_t i = 0; g[k] && i < nb_numel(g[k]); i++)
                ck_assert_msg(nb_data_f32(nb_contiguous(g[k]))[i] == 0.0f, "case %d, %s", c, k ? "dw" : "dx");
    }
}
END_TEST

/* A small convolutional network's training steps (conv2d, relu, a grouped strided conv2d,
 * conv_transpose2d, a loss) allocate nothing from the system after the first, with 1 to 4
 * threads: not the step context, not the GEMM's packing buffers, not the convolutions' column
 * buffers. (Serial GEMMs run by several threads at once once took whichever shared buffer was
 * free, so a later step could grow a smaller one: each thread now has its own.) */
START_TEST(cnn_steps_allocate_nothing_new) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(3, 3, 40, 36), 0, 1, &rng);
    nb_tensor *w1 = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(16, 3, 3, 3), 0, 0.3f, &rng), true);
    nb_tensor *b1 = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(16), 0, 0.1f, &rng), true);
    nb_tensor *w2 = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(32, 8, 3, 3), 0, 0.2f, &rng), true);
    nb_tensor *w3 = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(32, 2, 4, 4), 0, 0.2f, &rng), true);
    nb_tensor *r = nb_randn(ctx, NB_SHAPE(3, 2, 40, 36), 0, 1, &rng);
    const int saved = nb_get_num_threads();
    for (int threads = 1; threads <= 4; threads++) {
        nb_set_num_threads(threads);
        nb_ctx *step = nb_ctx_new(0);
        uint64_t first[3] = {0, 0, 0};
        for (int i = 0; i < 12; i++) {
            nb_zero_grad(w1), nb_zero_grad(b1), nb_zero_grad(w2), nb_zero_grad(w3);
            nb_ctx_use(step);
            nb_tensor *h = nb_relu(nb_conv2d(x, w1, b1, &(nb_conv_opts){.padding = {1, 1}}));
            h = nb_relu(
                nb_conv2d(h, w2, NULL, &(nb_conv_opts){.padding = {1, 1}, .groups = 2, .stride = {2, 2}}));
            nb_tensor *y =
                nb_conv_transpose2d(h, w3, NULL, &(nb_conv_opts){.stride = {2, 2}, .padding = {1, 1}});
            ck_assert_msg(y != NULL, "%s", nb_last_error());
            ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, r))), 0);
            nb_ctx_use(ctx);
            nb_ctx_reset(step);
            const uint64_t now[3] = {nb_ctx_os_allocs(step) + nb_ctx_os_allocs(ctx),
                                     nb_cpu_gemm_cache_allocs(), nb_cpu_scratch_allocs()};
            if (i == 0) memcpy(first, now, sizeof now);
            for (int k = 0; k < 3; k++)
                ck_assert_msg(now[k] == first[k],
                              "%d threads, step %d: %s allocations %llu, after the first step %llu", threads,
                              i, (const char *[]){"context", "GEMM buffer", "scratch"}[k],
                              (unsigned long long)now[k], (unsigned long long)first[k]);
        }
        nb_ctx_free(step);
    }
    nb_set_num_threads(saved);
    ck_assert(nb_cpu_scratch_allocs() > 0); /* the convolutions did use their column buffers */
}
END_TEST

/* Convolutions from the user's own threads: each thread's results are the single-threaded run's,
 * bit for bit, while they run at once; and a thread that exits leaves its column and packing
 * buffers to the next one, so short-lived threads (a thread per request) take nothing new from
 * the system after the first. */
#define WORK_MAX 4096
typedef struct {
    int which;
    float out[WORK_MAX];
    int64_t n;
} conv_work;

static void *conv_thread(void *arg) {
    conv_work *cw = arg;
    nb_ctx *c = nb_ctx_new(1 << 22);
    nb_ctx_use(c);
    nb_rng r;
    nb_rng_init(&r, 7 + (uint64_t)cw->which);
    const int64_t G = cw->which + 1;
    nb_tensor *x = nb_requires_grad_(nb_randn(c, NB_SHAPE(1 + cw->which, 24, 12, 12), 0, 1, &r), true);
    nb_tensor *w = nb_requires_grad_(nb_randn(c, NB_SHAPE(12, 24 / G, 3, 3), 0, 1, &r), true);
    nb_tensor *wt = nb_requires_grad_(nb_randn(c, NB_SHAPE(12, 4, 4, 4), 0, 1, &r), true);
    nb_tensor *y = nb_conv2d(x, w, NULL, &(nb_conv_opts){.padding = {1, 1}, .groups = (int)G});
    nb_tensor *z =
        y ? nb_conv_transpose2d(y, wt, NULL, &(nb_conv_opts){.stride = {2, 2}, .padding = {1, 1}}) : NULL;
    cw->n = -1;
    if (z && nb_backward(nb_sum_all(nb_mul(z, z))) == 0) {
        int64_t k = 0;
        nb_tensor *g[3] = {w->grad, wt->grad, x->grad};
        for (int t = 0; t < 3; t++)
            for (int64_t i = 0; i < nb_numel(g[t]) && k < WORK_MAX; i++)
                cw->out[k++] = nb_data_f32(g[t])[i];
        cw->n = k;
    }
    nb_ctx_use(NULL);
    nb_ctx_free(c);
    return NULL;
}

START_TEST(user_threads) {
    static conv_work ref[3], work[6];
    for (int i = 0; i < 3; i++) {
        ref[i].which = i;
        conv_thread(&ref[i]);
        ck_assert_int_gt(ref[i].n, 0);
    }
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        work[i].which = i % 3;
        ck_assert_int_eq(pthread_create(&t[i], NULL, conv_thread, &work[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        const conv_work *want = &ref[i % 3];
        ck_assert_msg(work[i].n == want->n &&
                          !memcmp(work[i].out, want->out, (size_t)want->n * sizeof(float)),
                      "thread %d differs from the single-threaded run", i);
    }
    uint64_t s0 = 0, g0 = 0;
    for (int r = 0; r < 8; r++) { /* short-lived threads, one after another */
        ck_assert_int_eq(pthread_create(&t[0], NULL, conv_thread, &work[0]), 0);
        ck_assert_int_eq(pthread_join(t[0], NULL), 0);
        if (r == 0) s0 = nb_cpu_scratch_allocs(), g0 = nb_cpu_gemm_cache_allocs();
    }
    ck_assert_msg(nb_cpu_scratch_allocs() == s0 && nb_cpu_gemm_cache_allocs() == g0,
                  "7 more short-lived threads took %llu scratch and %llu GEMM buffers",
                  (unsigned long long)(nb_cpu_scratch_allocs() - s0),
                  (unsigned long long)(nb_cpu_gemm_cache_allocs() - g0));
}
END_TEST

/* unbatched inputs ([C,H,W], [C,L]) give the batched result without its batch dim, as torch */
START_TEST(unbatched_inputs) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(3, 6, 5), 0, 1, &rng),
              *w = nb_randn(ctx, NB_SHAPE(2, 3, 3, 3), 0, 1, &rng);
    const nb_conv_opts o = {.padding = {1, 1}};
    nb_tensor *pairs[4][2] = {
        {nb_conv2d(x, w, NULL, &o), nb_conv2d(nb_unsqueeze(x, 0), w, NULL, &o)},
        {nb_max_pool2d(x, (const int[]){2, 2}, NULL),
         nb_max_pool2d(nb_unsqueeze(x, 0), (const int[]){2, 2}, NULL)},
        {nb_unfold(x, (const int[]){2, 3}, NULL), nb_unfold(nb_unsqueeze(x, 0), (const int[]){2, 3}, NULL)},
        {NULL, NULL}};
    nb_tensor *x1 = nb_reshape(x, NB_SHAPE(3, 30)), *w1 = nb_randn(ctx, NB_SHAPE(4, 3, 5), 0, 1, &rng);
    pairs[3][0] = nb_conv1d(x1, w1, NULL, NULL);
    pairs[3][1] = nb_conv1d(nb_unsqueeze(x1, 0), w1, NULL, NULL);
    for (int k = 0; k < 4; k++) {
        ck_assert_msg(pairs[k][0] && pairs[k][1], "case %d: %s", k, nb_last_error());
        ck_assert_int_eq(pairs[k][0]->ndim + 1, pairs[k][1]->ndim);
        for (int64_t i = 0; i < nb_numel(pairs[k][0]); i++)
            ck_assert_float_eq(nb_data_f32(pairs[k][0])[i], nb_data_f32(nb_contiguous(pairs[k][1]))[i]);
    }
}
END_TEST

/* adaptive average pooling against torch's windows: rows floor(i H / oh) .. ceil((i + 1) H / oh) - 1 */
START_TEST(adaptive_avg_pool) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 7, 5), 0, 1, &rng);
    const int64_t sizes[3][2] = {{3, 2}, {1, 1}, {7, 5}};
    for (int k = 0; k < 3; k++) {
        const int64_t oh = sizes[k][0], ow = sizes[k][1];
        nb_tensor *y = nb_adaptive_avg_pool2d(x, oh, ow);
        ck_assert_msg(y && y->shape[2] == oh && y->shape[3] == ow, "%s", nb_last_error());
        for (int64_t n = 0; n < 2; n++)
            for (int64_t c = 0; c < 3; c++)
                for (int64_t i = 0; i < oh; i++)
                    for (int64_t j = 0; j < ow; j++) {
                        const int64_t h0 = i * 7 / oh, h1 = ((i + 1) * 7 + oh - 1) / oh;
                        const int64_t w0 = j * 5 / ow, w1 = ((j + 1) * 5 + ow - 1) / ow;
                        double s = 0;
                        for (int64_t h = h0; h < h1; h++)
                            for (int64_t w = w0; w < w1; w++)
                                s += X(x, n, c, h, w);
                        s /= (double)((h1 - h0) * (w1 - w0));
                        ck_assert_msg(fabs(X(y, n, c, i, j) - s) < 1e-6, "%lldx%lld (%lld,%lld): %g, want %g",
                                      (long long)oh, (long long)ow, (long long)i, (long long)j,
                                      (double)X(y, n, c, i, j), s);
                    }
    }
    gc_which = 5;
    nb_tensor *xg = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 2, 5, 4), 0, 1, &rng), true);
    ck_assert_msg(nb_gradcheck(gc_fn, &xg, 1, NULL, NULL) == 1, "%s", nb_last_error());
    nb_tensor *u = nb_adaptive_avg_pool2d(nb_randn(ctx, NB_SHAPE(3, 4, 4), 0, 1, &rng), 2, 2);
    ck_assert(u && u->ndim == 3 && u->shape[1] == 2);
    /* an inf stays in its windows (7 rows to 3: rows 0-2, 2-4, 4-6; row 0 only in the first) */
    nb_data_f32(x)[0] = INFINITY;
    nb_tensor *yi = nb_adaptive_avg_pool2d(x, 3, 1);
    ck_assert(X(yi, 0, 0, 0, 0) == INFINITY && isfinite(X(yi, 0, 0, 1, 0)) && isfinite(X(yi, 0, 1, 0, 0)));
    ck_assert_ptr_null(nb_adaptive_avg_pool2d(x, 0, 2));
    ERR_STARTS("adaptive_avg_pool2d: output 0x2");
}
END_TEST

START_TEST(errors) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 4, 5, 5));
    nb_tensor *w = nb_zeros(ctx, NB_F32, NB_SHAPE(6, 4, 3, 3));
    ck_assert_ptr_null(nb_conv2d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(6, 3, 3, 3)), NULL, NULL));
    ERR_STARTS("conv2d: input [1,4,5,5] and weight [6,3,3,3] do not match for 1 groups");
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.groups = 3}));
    ck_assert_ptr_null(nb_conv2d(x, w, nb_zeros(ctx, NB_F32, NB_SHAPE(5)), NULL));
    ERR_STARTS("conv2d: bias [5] does not match 6 output channels");
    ck_assert_ptr_null(nb_conv2d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(6, 4, 7, 3)), NULL, NULL));
    ERR_STARTS("conv2d: the window 7x3");
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.stride = {-1, 1}}));
    ERR_STARTS("conv2d: stride -1");
    ck_assert_ptr_null(nb_conv2d(nb_zeros(ctx, NB_F32, NB_SHAPE(5, 5)), w, NULL, NULL));
    ERR_STARTS("conv2d: want input [N,C,H,W] (or [C,H,W])");
    ck_assert_ptr_null(nb_conv1d(x, w, NULL, NULL));
    ERR_STARTS("conv1d: want input [N,C,L] (or [C,L])");
    ck_assert_ptr_null(nb_conv1d(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 4, 2)),
                                 nb_zeros(ctx, NB_F32, NB_SHAPE(2, 4, 3)), NULL, NULL));
    ERR_STARTS("conv1d: the window");
    ck_assert_ptr_null(nb_max_pool2d(x, (const int[]){2, 2}, &(nb_conv_opts){.padding = {2, 0}}));
    ERR_STARTS("max_pool2d: padding 2 is more than half the window 2");
    /* half the window, not the dilated window, as torch */
    ck_assert_ptr_null(
        nb_max_pool2d(x, (const int[]){3, 3}, &(nb_conv_opts){.padding = {2, 0}, .dilation = {2, 1}}));
    ERR_STARTS("max_pool2d: padding 2 is more than half the window 3");
    ck_assert_ptr_null(nb_avg_pool2d(x, (const int[]){0, 2}, NULL));
    ERR_STARTS("avg_pool2d: the window must be at least 1x1");
    ck_assert_ptr_null(nb_conv2d(x, nb_zeros(ctx, NB_I32, NB_SHAPE(6, 4, 3, 3)), NULL, NULL));
    ERR_STARTS("conv2d: weight must be f32");
}
END_TEST

static nb_tensor *gc_pool1d(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    const nb_conv_opts o = {.stride = {2}, .padding = {1}, .ceil_mode = true, .exclude_pad = true};
    return nb_add(nb_avg_pool1d(in[0], 3, &o), nb_adaptive_avg_pool1d(in[0], 5));
}

/* the 1-d pools are the 2-d pools over [N,C,1,L] with a 1 x k window */
START_TEST(pools_1d) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 11), 0, 1, &rng), *x4 = nb_unsqueeze(x, 2);
    const nb_conv_opts o1 = {.stride = {2}, .padding = {1}, .dilation = {2}, .ceil_mode = true};
    const nb_conv_opts o2 = {.stride = {1, 2}, .padding = {0, 1}, .dilation = {1, 2}, .ceil_mode = true};
    nb_tensor *pairs[3][2] = {{nb_max_pool1d(x, 3, &o1), nb_max_pool2d(x4, (const int[]){1, 3}, &o2)},
                              {nb_avg_pool1d(x, 2, NULL), nb_avg_pool2d(x4, (const int[]){1, 2}, NULL)},
                              {nb_adaptive_avg_pool1d(x, 4), nb_adaptive_avg_pool2d(x4, 1, 4)}};
    for (int k = 0; k < 3; k++) {
        ck_assert_msg(pairs[k][0] && pairs[k][1] && pairs[k][0]->ndim == 3, "case %d: %s", k,
                      nb_last_error());
        for (int64_t i = 0; i < nb_numel(pairs[k][0]); i++)
            ck_assert_float_eq(nb_data_f32(pairs[k][0])[i], nb_data_f32(nb_contiguous(pairs[k][1]))[i]);
    }
    nb_tensor *g = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 2, 9), 0, 1, &rng), true);
    ck_assert_msg(nb_gradcheck(gc_pool1d, &g, 1, NULL, NULL) == 1, "%s", nb_last_error());
    nb_module *m = nb_max_pool1d_new(3, &o1);
    nb_tensor *ym = nb_module_forward(m, x);
    ck_assert(ym && nb_same_shape(ym, pairs[0][0]));
    nb_module_free(m);
    ck_assert_ptr_null(nb_max_pool1d(x, 2, &(nb_conv_opts){.padding = {2}}));
    ERR_STARTS("max_pool1d: padding 2 is more than half the window 2 (the length)");
    ck_assert_ptr_null(nb_avg_pool1d(nb_randn(ctx, NB_SHAPE(11), 0, 1, &rng), 2, NULL));
    ERR_STARTS("avg_pool1d: want input [N,C,L] or [C,L], got [11]");
    ck_assert_ptr_null(nb_avg_pool1d_new(2, &(nb_conv_opts){.dilation = {2}}));
    ERR_STARTS("avg_pool1d_new: dilation (max pooling and convolutions only) does not apply");
    ck_assert_ptr_null(nb_adaptive_avg_pool1d(x, 0));
    ERR_STARTS("adaptive_avg_pool1d: output 0 from input [2,3,11]");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_conv");
    TCase *tc = tcase_create("conv");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, conv2d_against_loops, 0, 5);
    tcase_add_test(tc, conv1d_against_loops);
    tcase_add_test(tc, unfold_against_loops);
    tcase_add_test(tc, pools_against_loops);
    tcase_add_test(tc, max_pool_ties_give_the_gradient_to_the_first);
    tcase_add_test(tc, max_pool_all_minus_inf);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, fused_conv_matches_composed);
    tcase_add_test(tc, dilated_same_against_loops);
    tcase_add_test(tc, user_threads);
    tcase_add_test(tc, empty_convolutions);
    tcase_add_test(tc, cnn_steps_allocate_nothing_new);
    tcase_add_test(tc, unbatched_inputs);
    tcase_add_test(tc, adaptive_avg_pool);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, pools_1d);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
