/* The window kernels that work straight over the image (backends/cpu/cpu_window.c): depthwise
 * convolution (conv2d with one input channel per group, and average pooling) and max pooling.
 * Depthwise results and both gradients are checked against the same convolution as a dense one
 * through im2col and a GEMM (its weight zero off each output channel's own input channel), over
 * strides 1, 2 and 3, padding, dilation, channel multipliers, odd widths (vector loops and their
 * tails) and a non-contiguous input; gradcheck on small cases; max pooling against loops with
 * NaN, ties, ceil_mode and dilation. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 24);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 23);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

typedef struct {
    int64_t C, m, H, W, KH, KW;
    nb_conv_opts o;
    bool transposed; /* x given as a transposed (non-contiguous) view */
} dw_case;

static const dw_case dw_cases[] = {
    {3, 1, 9, 37, 3, 3, {.stride = {1, 1}, .padding = {1, 1}}, false},
    {4, 2, 8, 35, 3, 3, {.stride = {2, 2}, .padding = {1, 1}}, false},
    {2, 3, 11, 29, 2, 5, {.stride = {3, 3}, .padding = {0, 2}, .dilation = {2, 1}}, false},
    {5, 1, 7, 33, 5, 3, {.stride = {1, 2}, .padding = {2, 0}, .dilation = {1, 3}}, true},
    {1, 4, 6, 40, 3, 3, {.stride = {1, 1}}, false}, /* C = 1: a plain conv of one input channel */
};

/* the dense weight [C*m, C, KH, KW] of a depthwise one [C*m, 1, KH, KW]: zero off the diagonal */
static nb_tensor *dense_weight(nb_tensor *w, int64_t C, int64_t m) {
    const int64_t O = C * m;
    nb_tensor *mask = nb_zeros(ctx, NB_F32, NB_SHAPE(O, C, 1, 1));
    for (int64_t o = 0; o < O; o++)
        nb_data_f32(mask)[o * C + o / m] = 1.0f;
    return nb_mul(nb_expand(w, 4, (const int64_t[]){O, C, w->shape[2], w->shape[3]}), mask);
}

static void assert_close_all(const nb_tensor *a, const nb_tensor *b, double tol, const char *what, int k) {
    ck_assert_msg(a && b && nb_numel(a) == nb_numel(b), "case %d %s: %s", k, what, nb_last_error());
    nb_tensor *ac = nb_contiguous((nb_tensor *)a), *bc = nb_contiguous((nb_tensor *)b);
    for (int64_t i = 0; i < nb_numel(a); i++) {
        const double u = nb_data_f32(ac)[i], v = nb_data_f32(bc)[i];
        ck_assert_msg(fabs(u - v) <= tol * (1 + fabs(v)), "case %d %s[%lld]: %.9g, want %.9g", k, what,
                      (long long)i, u, v);
    }
}

START_TEST(depthwise_against_dense) {
    const dw_case *c = &dw_cases[_i];
    const int64_t O = c->C * c->m, N = 2;
    nb_tensor *x0 = c->transposed ? nb_randn(ctx, NB_SHAPE(N, c->C, c->W, c->H), 0, 1, &rng)
                                  : nb_randn(ctx, NB_SHAPE(N, c->C, c->H, c->W), 0, 1, &rng);
    nb_tensor *x = nb_requires_grad_(x0, true);
    nb_tensor *xin = c->transposed ? nb_transpose(x, 2, 3) : x;
    nb_tensor *w = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(O, 1, c->KH, c->KW), 0, 1, &rng), true);
    nb_tensor *b = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(O), 0, 1, &rng), true);
    nb_conv_opts o = c->o;
    o.groups = (int)c->C;
    nb_tensor *y = nb_conv2d(xin, w, b, &o);
    ck_assert_msg(y != NULL, "case %d: %s", _i, nb_last_error());
    nb_tensor *r = nb_randn(ctx, y->ndim, y->shape, 0, 1, &rng);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, r))), 0);
    nb_tensor *dx = nb_clone(ctx, x->grad), *dw = nb_clone(ctx, w->grad), *db = nb_clone(ctx, b->grad);
    nb_zero_grad(x), nb_zero_grad(w), nb_zero_grad(b);

    nb_conv_opts od = c->o; /* the same convolution, dense: im2col and one GEMM */
    nb_tensor *yd = nb_conv2d(xin, dense_weight(w, c->C, c->m), b, &od);
    ck_assert_msg(yd != NULL, "case %d dense: %s", _i, nb_last_error());
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(yd, r))), 0);
    assert_close_all(y, yd, 1e-5, "y", _i);
    assert_close_all(dx, x->grad, 1e-5, "dx", _i);
    assert_close_all(dw, w->grad, 1e-4, "dw", _i);
    assert_close_all(db, b->grad, 1e-5, "db", _i);
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    const dw_case *c = &dw_cases[gc_case];
    nb_conv_opts o = c->o;
    o.groups = (int)c->C;
    return nb_conv2d(in[0], in[1], NULL, &o);
}

START_TEST(depthwise_gradcheck) {
    for (gc_case = 0; gc_case < 3; gc_case++) {
        const dw_case *c = &dw_cases[gc_case];
        nb_tensor *in[2] = {
            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, c->C, c->H - 2, 9), 0, 1, &rng), true),
            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(c->C * c->m, 1, c->KH, c->KW), 0, 1, &rng), true)};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, NULL) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

/* got against a float sum in double, want: equal when want is infinite, else within 1e-5 relative;
 * `what` and the index (a, b, c) name the element */
static void check_sum(double got, double want, const char *what, int64_t a, int64_t b, int64_t c) {
    if (isinf(want))
        ck_assert_msg(got == want, "%s (%lld,%lld,%lld): %g, want %g", what, (long long)a, (long long)b,
                      (long long)c, got, want);
    else
        ck_assert_msg(fabs(got - want) <= 1e-5 * (1 + fabs(want)), "%s (%lld,%lld,%lld): %g, want %g", what,
                      (long long)a, (long long)b, (long long)c, got, want);
}

/* A window position outside x adds nothing, not w times a zero: with an infinite weight the
 * outputs whose window puts it in the padding stay finite, and so do the pixels no output reads
 * through it (the register paths, which read zero-padded copies of x and of dy, are taken only
 * for finite weights). Rows of 20 outputs, stride 1. */
START_TEST(depthwise_skips_the_padding) {
    nb_tensor *x = nb_requires_grad_(nb_full(ctx, NB_F32, NB_SHAPE(1, 2, 6, 20), 1.0), true);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(2, 1, 3, 3), 0, 1, &rng);
    nb_data_f32(w)[0] = INFINITY; /* channel 0, top-left */
    nb_tensor *y = nb_conv2d(x, w, NULL, &(nb_conv_opts){.padding = {1, 1}, .groups = 2});
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    const float *Y = nb_data_f32(y), *Wt = nb_data_f32(w);
    for (int64_t c = 0; c < 2; c++)
        for (int64_t oh = 0; oh < 6; oh++)
            for (int64_t ow = 0; ow < 20; ow++) {
                double want = 0;
                for (int64_t k = 0; k < 9; k++) {
                    const int64_t ih = oh - 1 + k / 3, iw = ow - 1 + k % 3;
                    if (ih >= 0 && ih < 6 && iw >= 0 && iw < 20) want += Wt[c * 9 + k];
                }
                check_sum(Y[(c * 6 + oh) * 20 + ow], want, "y", c, oh, ow);
            }
    /* the input gradient of sum(y): per pixel the weights of the outputs that read it */
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    const float *DX = nb_data_f32(x->grad);
    for (int64_t c = 0; c < 2; c++)
        for (int64_t ih = 0; ih < 6; ih++)
            for (int64_t iw = 0; iw < 20; iw++) {
                double want = 0;
                for (int64_t k = 0; k < 9; k++) {
                    const int64_t oh = ih + 1 - k / 3, ow = iw + 1 - k % 3;
                    if (oh >= 0 && oh < 6 && ow >= 0 && ow < 20) want += Wt[c * 9 + k];
                }
                check_sum(DX[(c * 6 + ih) * 20 + iw], want, "dx", c, ih, iw);
            }
}
END_TEST

/* The same for the weight gradient: an infinite output gradient at a corner reaches the weights
 * whose window position there reads x, not those that fall in the padding (the register path,
 * which multiplies dy by a zero-padded copy of x, is taken only for a finite dy). */
START_TEST(depthwise_dw_skips_the_padding) {
    nb_tensor *x = nb_full(ctx, NB_F32, NB_SHAPE(2, 2, 5, 18), 1.0);
    nb_tensor *w = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 1, 3, 3), 0, 1, &rng), true);
    nb_tensor *y = nb_conv2d(x, w, NULL, &(nb_conv_opts){.padding = {1, 1}, .groups = 2});
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    nb_tensor *seed = nb_full(ctx, NB_F32, 4, y->shape, 1.0);
    nb_data_f32(seed)[0] = INFINITY; /* image 0, channel 0, output (0, 0) */
    ck_assert_int_eq(nb_backward_with(y, seed), 0);
    const float *DW = nb_data_f32(w->grad);
    for (int64_t c = 0; c < 2; c++)
        for (int64_t k = 0; k < 9; k++) {
            double want = 0; /* the outputs whose window position k reads x, times their seed */
            for (int64_t n = 0; n < 2; n++)
                for (int64_t oh = 0; oh < 5; oh++)
                    for (int64_t ow = 0; ow < 18; ow++) {
                        const int64_t ih = oh - 1 + k / 3, iw = ow - 1 + k % 3;
                        if (ih >= 0 && ih < 5 && iw >= 0 && iw < 18)
                            want += nb_data_f32(seed)[((n * 2 + c) * 5 + oh) * 18 + ow];
                    }
            check_sum(DW[c * 9 + k], want, "dw", c, k, 0);
        }
}
END_TEST

/* max pooling against loops over the window (positions inside x only): the value, and the
 * gradient of sum(y * r) going to the first NaN, else the first largest element */
static void max_pool_check(nb_tensor *x, const int k[2], const nb_conv_opts *o) {
    nb_requires_grad_(x, true);
    nb_zero_grad(x);
    nb_tensor *y = nb_max_pool2d(x, k, o);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    nb_tensor *r = nb_randn(ctx, y->ndim, y->shape, 0, 1, &rng);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, r))), 0);
    const int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
    const int64_t sh = o->stride[0] ? o->stride[0] : k[0], sw = o->stride[1] ? o->stride[1] : k[1];
    const int64_t dh = o->dilation[0] ? o->dilation[0] : 1, dwl = o->dilation[1] ? o->dilation[1] : 1;
    nb_tensor *want = nb_zeros(ctx, NB_F32, 4, x->shape);
    const float *X = nb_data_f32(x), *R = nb_data_f32(r);
    for (int64_t p = 0; p < x->shape[0] * C; p++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t best = -1;
                for (int64_t kh = 0; kh < k[0]; kh++)
                    for (int64_t kw = 0; kw < k[1]; kw++) {
                        const int64_t ih = oh * sh - o->padding[0] + kh * dh,
                                      iw = ow * sw - o->padding[1] + kw * dwl;
                        if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                        const float v = X[p * H * W + ih * W + iw], bv = best < 0 ? 0 : X[p * H * W + best];
                        if (best < 0 || (isnan(v) && !isnan(bv)) || v > bv) best = ih * W + iw;
                    }
                const float got = nb_data_f32(y)[(p * OH + oh) * OW + ow], wv = X[p * H * W + best];
                ck_assert_msg(got == wv || (isnan(got) && isnan(wv)), "y[%lld,%lld,%lld] = %g, want %g",
                              (long long)p, (long long)oh, (long long)ow, (double)got, (double)wv);
                nb_data_f32(want)[p * H * W + best] += R[(p * OH + oh) * OW + ow];
            }
    for (int64_t i = 0; i < nb_numel(x); i++)
        ck_assert_msg(fabsf(nb_data_f32(x->grad)[i] - nb_data_f32(want)[i]) <= 1e-6f,
                      "dx[%lld] = %g, want %g", (long long)i, (double)nb_data_f32(x->grad)[i],
                      (double)nb_data_f32(want)[i]);
}

START_TEST(max_pool_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 13, 37), 0, 1, &rng);
    float *X = nb_data_f32(x);
    for (int i = 0; i < 40; i++) /* ties (rounded values) and a few NaNs */
        X[(i * 97) % nb_numel(x)] = i % 5 == 0 ? NAN : roundf(X[(i * 89) % nb_numel(x)]);
    for (int64_t i = 0; i < nb_numel(x); i += 7)
        X[i] = roundf(X[i]);
    max_pool_check(x, (const int[]){2, 2}, &(nb_conv_opts){.groups = 0});
    max_pool_check(x, (const int[]){3, 3}, &(nb_conv_opts){.stride = {2, 2}, .padding = {1, 1}});
    max_pool_check(x, (const int[]){3, 2},
                   &(nb_conv_opts){.stride = {1, 3}, .padding = {1, 1}, .dilation = {2, 2}});
    max_pool_check(x, (const int[]){2, 3}, &(nb_conv_opts){.stride = {2, 2}, .ceil_mode = true});
    max_pool_check(x, (const int[]){1, 1}, &(nb_conv_opts){.groups = 0});
}
END_TEST

/* average pooling is a depthwise convolution by ones: against a mean of loops, with padding
 * counted, excluded, and ceil_mode windows reaching past the padded input */
START_TEST(avg_pool_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 9, 21), 0, 1, &rng);
    /* the last: a ceil_mode window that ends past the padded input, over rows of 21 outputs (the
     * depthwise register path must not take it: it read past its padded copy) */
    const nb_conv_opts opts[4] = {{.stride = {2, 2}, .padding = {1, 1}},
                                  {.stride = {2, 2}, .padding = {1, 1}, .exclude_pad = true},
                                  {.stride = {2, 2}, .padding = {1, 0}, .ceil_mode = true},
                                  {.stride = {4, 1}, .padding = {0, 1}, .ceil_mode = true}};
    for (int c = 0; c < 4; c++) {
        const nb_conv_opts *o = &opts[c];
        nb_tensor *y = nb_avg_pool2d(x, (const int[]){3, 3}, o);
        ck_assert_msg(y != NULL, "%s", nb_last_error());
        for (int64_t p = 0; p < 6; p++)
            for (int64_t oh = 0; oh < y->shape[2]; oh++)
                for (int64_t ow = 0; ow < y->shape[3]; ow++) {
                    double s = 0;
                    int inside = 0, padded = 0;
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 3; kw++) {
                            const int64_t ih = oh * o->stride[0] - o->padding[0] + kh,
                                          iw = ow * o->stride[1] - o->padding[1] + kw;
                            if (ih < 9 + o->padding[0] && iw < 21 + o->padding[1]) padded++;
                            if (ih < 0 || iw < 0 || ih >= 9 || iw >= 21) continue;
                            s += nb_data_f32(x)[p * 189 + ih * 21 + iw];
                            inside++;
                        }
                    const double want = s / (o->exclude_pad ? inside : padded);
                    const double got = nb_data_f32(y)[(p * y->shape[2] + oh) * y->shape[3] + ow];
                    ck_assert_msg(fabs(got - want) < 1e-5, "case %d (%lld,%lld,%lld): %g, want %g", c,
                                  (long long)p, (long long)oh, (long long)ow, got, want);
                }
    }
}
END_TEST

/* adaptive max pooling against loops over torch's windows (first maximum in row-major order),
 * with the positions; the even case through max_pool2d gives the same; the gradient */
static nb_tensor *amp_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_adaptive_max_pool2d(nb_transpose(in[0], 2, 3), 2, 3, NULL);
}

START_TEST(adaptive_max_pool_against_loops) {
    const int64_t H = 5, W = 7;
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, H, W), 0, 1, &rng);
    for (int64_t i = 0; i < nb_numel(x); i += 5)
        nb_data_f32(x)[i] = 1.5f; /* ties */
    const int64_t outs[3][2] = {{3, 4}, {5, 7}, {1, 1}};
    for (int o = 0; o < 3; o++) {
        const int64_t oh = outs[o][0], ow = outs[o][1];
        nb_tensor *idx = NULL, *y = nb_adaptive_max_pool2d(x, oh, ow, &idx);
        ck_assert_msg(y && idx && y->shape[2] == oh && y->shape[3] == ow, "%s", nb_last_error());
        nb_tensor *y2 = nb_adaptive_max_pool2d(x, oh, ow, NULL);
        for (int64_t nc = 0; nc < 6; nc++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    const int64_t h0 = i * H / oh, h1 = ((i + 1) * H + oh - 1) / oh;
                    const int64_t w0 = j * W / ow, w1 = ((j + 1) * W + ow - 1) / ow;
                    float best = -INFINITY;
                    int64_t at = -1;
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) {
                            const float v = nb_data_f32(x)[(nc * H + h) * W + w];
                            if (at < 0 || v > best) best = v, at = h * W + w;
                        }
                    const int64_t k = (nc * oh + i) * ow + j;
                    ck_assert(nb_data_f32(y)[k] == best && nb_data_f32(y2)[k] == best);
                    ck_assert_int_eq(((int32_t *)nb_data(idx))[k], at);
                }
    }
    nb_tensor *in[1] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 2, 7, 4), 0, 1, &rng), true)};
    ck_assert_msg(nb_gradcheck(amp_fn, in, 1, NULL, NULL) == 1, "%s", nb_last_error());
    nb_tensor *i1 = NULL, *y1 = nb_adaptive_max_pool1d(nb_randn(ctx, NB_SHAPE(2, 7), 0, 1, &rng), 3, &i1);
    ck_assert(y1 && i1 && y1->ndim == 2 && y1->shape[1] == 3 && i1->shape[1] == 3);
    ck_assert_ptr_null(nb_adaptive_max_pool2d(x, 0, 2, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "adaptive_max_pool2d: output 0x2"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_window");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, depthwise_against_dense, 0, (int)(sizeof dw_cases / sizeof *dw_cases));
    tcase_add_test(tc, depthwise_gradcheck);
    tcase_add_test(tc, depthwise_skips_the_padding);
    tcase_add_test(tc, depthwise_dw_skips_the_padding);
    tcase_add_test(tc, max_pool_against_loops);
    tcase_add_test(tc, avg_pool_against_loops);
    tcase_add_test(tc, adaptive_max_pool_against_loops);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
