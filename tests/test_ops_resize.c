/* Padding modes, convolutions with 'same' or non-zero padding, pooling's ceil_mode and
 * exclude_pad, and interpolation: values against the definitions written out here in loops,
 * gradients through gradcheck, errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 24);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 31);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static float X(const nb_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w) {
    return nb_data_f32((nb_tensor *)t)[((n * t->shape[1] + c) * t->shape[2] + h) * t->shape[3] + w];
}

/* ---- padding modes ---------------------------------------------------------------------------- */

/* 1 2 3 padded by (2, 2): the three modes by their definitions */
START_TEST(pad_modes_1d) {
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){1, 2, 3});
    const float want[3][7] = {{3, 2, 1, 2, 3, 2, 1}, {1, 1, 1, 2, 3, 3, 3}, {2, 3, 1, 2, 3, 1, 2}};
    for (int m = 0; m < 3; m++) {
        nb_tensor *y = nb_pad_mode(x, 2, (const int64_t[]){2, 2}, (nb_pad_kind)(NB_PAD_REFLECT + m));
        ck_assert_msg(y && y->shape[0] == 7, "%s", nb_last_error());
        for (int i = 0; i < 7; i++)
            ck_assert_float_eq(nb_data_f32(y)[i], want[m][i]);
    }
    /* a negative size crops first, and the padding copies from what is left, as torch:
     * 0..5 cropped by 2 in front wraps around 2 3 4 5 */
    nb_tensor *six = nb_arange(ctx, NB_F32, 0, 6, 1);
    const int64_t crop[2][2] = {{-2, 3}, {3, -2}};
    const float cwant[2][7] = {{2, 3, 4, 5, 2, 3, 4}, {1, 2, 3, 0, 1, 2, 3}};
    for (int k = 0; k < 2; k++) {
        nb_tensor *c = nb_pad_mode(six, 2, crop[k], NB_PAD_CIRCULAR);
        ck_assert_msg(c && c->shape[0] == 7, "%s", nb_last_error());
        for (int i = 0; i < 7; i++)
            ck_assert_float_eq(nb_data_f32(c)[i], cwant[k][i]);
    }
    nb_tensor *z = nb_pad_mode(x, 2, (const int64_t[]){1, 0}, NB_PAD_ZEROS);
    ck_assert(z && z->shape[0] == 4 && nb_data_f32(z)[0] == 0 && nb_data_f32(z)[1] == 1);
}
END_TEST

/* where padded position q of a dim of size s reads from, by the definitions */
static int64_t src_of(int64_t q, int64_t s, nb_pad_kind m) {
    if (q >= 0 && q < s) return q;
    if (m == NB_PAD_REFLECT) return q < 0 ? -q : 2 * (s - 1) - q;
    if (m == NB_PAD_REPLICATE) return q < 0 ? 0 : s - 1;
    return q < 0 ? q + s : q - s;
}

START_TEST(pad_modes_2d_and_gradients) {
    const nb_pad_kind m = (nb_pad_kind)(NB_PAD_REFLECT + _i);
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3, 4, 5), 0, 1, &rng), true);
    const int64_t pads[4] = {3, 1, 2, 3}; /* width (3, 1), height (2, 3) */
    nb_tensor *y = nb_pad_mode(x, 4, pads, m);
    ck_assert_msg(y && y->shape[2] == 9 && y->shape[3] == 9, "%s", nb_last_error());
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t h = 0; h < 9; h++)
                for (int64_t w = 0; w < 9; w++)
                    ck_assert_float_eq(X(y, n, c, h, w),
                                       X(x, n, c, src_of(h - 2, 4, m), src_of(w - 3, 5, m)));
    /* the gradient of each input element counts the padded copies of it */
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    for (int64_t h = 0; h < 4; h++)
        for (int64_t w = 0; w < 5; w++) {
            int cnt = 0;
            for (int64_t ph = 0; ph < 9; ph++)
                for (int64_t pw = 0; pw < 9; pw++)
                    cnt += src_of(ph - 2, 4, m) == h && src_of(pw - 3, 5, m) == w;
            ck_assert_float_eq(X(x->grad, 1, 2, h, w), (float)cnt);
        }
}
END_TEST

START_TEST(pad_mode_errors) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert_ptr_null(nb_pad_mode(x, 2, (const int64_t[]){3, 0}, NB_PAD_REFLECT));
    ERR_STARTS("pad_mode: reflect padding (3, 0) on dim 1 of size 3 (want each below the size)");
    ck_assert_ptr_null(nb_pad_mode(x, 2, (const int64_t[]){0, 4}, NB_PAD_CIRCULAR));
    ERR_STARTS("pad_mode: circular padding (0, 4) on dim 1 of size 3 (want each at most the size)");
    ck_assert_ptr_null(
        nb_pad_mode(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0)), 2, (const int64_t[]){1, 1}, NB_PAD_REPLICATE));
    ERR_STARTS("pad_mode: replicate padding (1, 1) of dim 1, which is empty");
    ck_assert_ptr_null(nb_pad_mode(x, 2, (const int64_t[]){-7, 0}, NB_PAD_REPLICATE));
    ERR_STARTS("pad_mode: cropping (-7, 0) from dim 1 of size 3 leaves a negative size");
    ck_assert_ptr_null(nb_pad_mode(x, 2, (const int64_t[]){-3, 1}, NB_PAD_REPLICATE));
    ERR_STARTS("pad_mode: replicate padding (-3, 1) of dim 1, which is empty once cropped");
    ck_assert_ptr_null(nb_pad_mode(x, 2, (const int64_t[]){(int64_t)1 << 40, 0}, NB_PAD_REPLICATE));
    ERR_STARTS(
        "pad_mode: replicate padding (1099511627776, 0) of dim 1 of size 3: more than 2^31 - 1 positions");
    ck_assert_ptr_null(nb_pad_mode(x, 3, (const int64_t[]){1, 1, 1}, NB_PAD_REFLECT));
    ERR_STARTS("pad_mode: 3 pad sizes for a 2-d tensor");
    ck_assert_ptr_null(nb_pad_mode(x, 2, (const int64_t[]){1, 1}, (nb_pad_kind)7));
    ERR_STARTS("pad_mode: unknown padding mode 7");
    /* replicate reaches any distance */
    nb_tensor *r = nb_pad_mode(x, 2, (const int64_t[]){10, 10}, NB_PAD_REPLICATE);
    ck_assert(r && r->shape[1] == 23);
}
END_TEST

/* ---- convolutions with 'same' and padding modes ------------------------------------------------ */

START_TEST(conv_same_and_pad_modes) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, 6, 7), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(4, 2, 4, 3), 0, 1, &rng),
              *b = nb_randn(ctx, NB_SHAPE(4), 0, 1, &rng);
    for (int m = 0; m < 4; m++) {
        /* 'same' with an even window and dilation: (d (K - 1)) = 6 rows (3 + 3) and 2 columns (1 + 1) */
        const nb_conv_opts o = {.dilation = {2, 1}, .groups = 2, .same = true, .pad_mode = (nb_pad_kind)m};
        nb_tensor *y = nb_conv2d(x, w, b, &o);
        ck_assert_msg(y && y->shape[2] == 6 && y->shape[3] == 7, "mode %d: %s", m, nb_last_error());
        nb_tensor *xp = nb_pad_mode(x, 4, (const int64_t[]){1, 1, 3, 3}, (nb_pad_kind)m);
        NB_ASSERT_CLOSE(y, nb_conv2d(xp, w, b, &(nb_conv_opts){.dilation = {2, 1}, .groups = 2}), 1e-5,
                        "same");
        /* an uneven 'same': a 2x2 window puts its odd row and column after */
        nb_tensor *w2 = nb_randn(ctx, NB_SHAPE(3, 4, 2, 2), 0, 1, &rng);
        nb_tensor *y2 = nb_conv2d(x, w2, NULL, &(nb_conv_opts){.same = true, .pad_mode = (nb_pad_kind)m});
        nb_tensor *xp2 = nb_pad_mode(x, 4, (const int64_t[]){0, 1, 0, 1}, (nb_pad_kind)m);
        NB_ASSERT_CLOSE(y2, nb_conv2d(xp2, w2, NULL, NULL), 1e-5, "uneven same");
        /* explicit padding with a mode, and a stride */
        nb_tensor *y3 = nb_conv2d(
            x, w, NULL,
            &(nb_conv_opts){.stride = {2, 1}, .padding = {1, 2}, .groups = 2, .pad_mode = (nb_pad_kind)m});
        nb_tensor *xp3 = nb_pad_mode(x, 4, (const int64_t[]){2, 2, 1, 1}, (nb_pad_kind)m);
        NB_ASSERT_CLOSE(y3, nb_conv2d(xp3, w, NULL, &(nb_conv_opts){.stride = {2, 1}, .groups = 2}), 1e-5,
                        "pad mode");
    }
    /* conv1d 'same' keeps the length */
    nb_tensor *y1 =
        nb_conv1d(nb_randn(ctx, NB_SHAPE(2, 3, 9), 0, 1, &rng), nb_randn(ctx, NB_SHAPE(5, 3, 4), 0, 1, &rng),
                  NULL, &(nb_conv_opts){.same = true, .pad_mode = NB_PAD_CIRCULAR});
    ck_assert_msg(y1 && y1->shape[2] == 9, "%s", nb_last_error());
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.stride = {1, 2}, .groups = 2, .same = true}));
    ERR_STARTS("conv2d: 'same' padding needs stride 1, got 2 (the width)");
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.padding = {6, 0}, .groups = 2, .pad_mode = 1}));
    ERR_STARTS("conv2d: reflect padding 6 on the height of size 6 (want below the size)");
    ck_assert_ptr_null(
        nb_conv2d(x, w, NULL, &(nb_conv_opts){.padding = {-1, 0}, .groups = 2, .pad_mode = 2}));
    ERR_STARTS("conv2d: stride 0, padding -1 and dilation 0 (the height) must be");
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.groups = 2, .pad_mode = 9}));
    ERR_STARTS("conv2d: unknown padding mode 9");
}
END_TEST

/* ---- pooling's ceil_mode and exclude_pad --------------------------------------------------------- */

/* torch's rule for the output size */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil) {
    int64_t o = (in + 2 * p - k + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (o - 1) * s >= in + p) o--;
    return o;
}

START_TEST(pool_options_against_loops) {
    const bool ceil = _i & 1, excl = _i & 2;
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 8, 8), 0, 1, &rng);
    const int k[2] = {3, 3};
    const int64_t s[2] = {2, 3}, p[2] = {1, 1};
    const nb_conv_opts o = {.stride = {2, 3}, .padding = {1, 1}, .ceil_mode = ceil, .exclude_pad = excl};
    nb_tensor *av = nb_avg_pool2d(x, k, &o),
              *mx = nb_max_pool2d(x, k,
                                  &(nb_conv_opts){.stride = {2, 3}, .padding = {1, 1}, .ceil_mode = ceil});
    ck_assert_msg(av && mx, "%s", nb_last_error());
    const int64_t OH = pool_out(8, 3, 2, 1, ceil), OW = pool_out(8, 3, 3, 1, ceil);
    ck_assert(av->shape[2] == OH && av->shape[3] == OW && mx->shape[2] == OH && mx->shape[3] == OW);
    /* ceil adds a row of windows; a fourth column would start in the right padding: dropped */
    if (ceil) ck_assert(OH == 5 && OW == 3);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t h = 0; h < OH; h++)
                for (int64_t v = 0; v < OW; v++) {
                    const int64_t h0 = h * s[0] - p[0], w0 = v * s[1] - p[1];
                    /* torch's divisor: the window clipped to the padded input, or to the input */
                    const int64_t h1 = h0 + 3 < 8 + p[0] ? h0 + 3 : 8 + p[0],
                                  w1 = w0 + 3 < 8 + p[1] ? w0 + 3 : 8 + p[1];
                    int64_t div = (h1 - h0) * (w1 - w0), inside = 0;
                    double sum = 0, m = -INFINITY;
                    for (int64_t ih = h0; ih < h0 + 3; ih++)
                        for (int64_t iw = w0; iw < w0 + 3; iw++)
                            if (ih >= 0 && iw >= 0 && ih < 8 && iw < 8) {
                                sum += X(x, n, c, ih, iw);
                                m = fmax(m, X(x, n, c, ih, iw));
                                inside++;
                            }
                    if (excl) div = inside;
                    ck_assert_msg(fabs(X(av, n, c, h, v) - sum / (double)div) < 1e-6,
                                  "avg (%lld,%lld): %g, want %g", (long long)h, (long long)v,
                                  (double)X(av, n, c, h, v), sum / (double)div);
                    ck_assert_float_eq(X(mx, n, c, h, v), (float)m);
                }
}
END_TEST

/* ceil_mode counts a window that overshoots the padded input by less than the stride, as torch:
 * a 3x3 window with stride 2 over a 2x2 input gives one output, the mean of the 4 elements */
START_TEST(pool_ceil_small_input) {
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 2, 2), (const float[]){1, 2, 3, 6});
    const nb_conv_opts o = {.stride = {2, 2}, .ceil_mode = true};
    nb_tensor *mx = nb_max_pool2d(x, (const int[]){3, 3}, &o),
              *av = nb_avg_pool2d(x, (const int[]){3, 3}, &o);
    ck_assert_msg(mx && av && mx->shape[2] == 1 && mx->shape[3] == 1 && av->shape[2] == 1, "%s",
                  nb_last_error());
    ck_assert_float_eq(nb_data_f32(mx)[0], 6);
    ck_assert_float_eq(nb_data_f32(av)[0], 3);
    ck_assert_ptr_null(nb_max_pool2d(x, (const int[]){3, 3}, &(nb_conv_opts){.stride = {2, 2}}));
    ERR_STARTS("max_pool2d: the window 3x3 (dilated 3x3) does not fit the input 2x2");
}
END_TEST

/* options that an op does not use are errors, not silently ignored */
START_TEST(options_that_do_not_apply) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(1, 2, 6, 6), 0, 1, &rng),
              *w = nb_randn(ctx, NB_SHAPE(2, 2, 3, 3), 0, 1, &rng);
    const int k[2] = {2, 2};
    ck_assert_ptr_null(nb_max_pool2d(x, k, &(nb_conv_opts){.pad_mode = NB_PAD_REFLECT}));
    ERR_STARTS("max_pool2d: pad_mode (plain convolutions only) does not apply");
    ck_assert_ptr_null(nb_avg_pool2d(x, k, &(nb_conv_opts){.dilation = {2, 1}}));
    ERR_STARTS("avg_pool2d: dilation (max pooling and convolutions only) does not apply");
    ck_assert_ptr_null(nb_max_pool2d(x, k, &(nb_conv_opts){.exclude_pad = true}));
    ERR_STARTS("max_pool2d: exclude_pad (average pooling only) does not apply");
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.output_padding = {1, 0}}));
    ERR_STARTS("conv2d: output_padding (transposed convolutions only) does not apply");
    ck_assert_ptr_null(nb_conv2d(x, w, NULL, &(nb_conv_opts){.ceil_mode = true}));
    ERR_STARTS("conv2d: ceil_mode (pooling only) does not apply");
    ck_assert_ptr_null(nb_unfold(x, k, &(nb_conv_opts){.same = true}));
    ERR_STARTS("unfold: 'same' padding (plain convolutions only) does not apply");
    ck_assert_ptr_null(nb_max_pool2d(x, k, &(nb_conv_opts){.groups = 2}));
    ERR_STARTS("max_pool2d: groups (convolutions only) does not apply");
    /* 1-d ops name the length */
    nb_tensor *x1 = nb_randn(ctx, NB_SHAPE(1, 2, 5), 0, 1, &rng),
              *w1 = nb_randn(ctx, NB_SHAPE(2, 2, 3), 0, 1, &rng);
    ck_assert_ptr_null(nb_conv1d(x1, w1, NULL, &(nb_conv_opts){.stride = {2}, .same = true}));
    ERR_STARTS("conv1d: 'same' padding needs stride 1, got 2 (the length)");
    ck_assert_ptr_null(nb_conv1d(x1, w1, NULL, &(nb_conv_opts){.padding = {5}, .pad_mode = NB_PAD_REFLECT}));
    ERR_STARTS("conv1d: reflect padding 5 on the length of size 5 (want below the size)");
    /* the layers check their options when they are made */
    ck_assert_ptr_null(
        nb_conv2d_new(ctx, 2, 2, 3, 3, &(nb_conv_opts){.stride = {2, 1}, .same = true}, true, &rng));
    ERR_STARTS("conv2d_new: 'same' padding needs stride 1, got 2 (the height)");
    ck_assert_ptr_null(nb_max_pool2d_new(2, 2, &(nb_conv_opts){.padding = {3, 0}}));
    ERR_STARTS("max_pool2d_new: padding 3 is more than half the window 2 (the height)");
    ck_assert_ptr_null(nb_conv_transpose2d_new(
        ctx, 2, 2, 3, 3, &(nb_conv_opts){.stride = {2, 2}, .output_padding = {3, 0}}, true, &rng));
    ERR_STARTS("conv_transpose2d_new: output padding 3 (the height) must be >= 0 and below the stride 2");
}
END_TEST

/* with no current context, the results go to the input's context (core.h), for every op here */
START_TEST(no_current_context) {
    nb_ctx_use(NULL);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(1, 2, 6, 7), 0, 1, &rng),
              *w = nb_randn(ctx, NB_SHAPE(2, 2, 2, 2), 0, 1, &rng);
    nb_tensor *r[7] = {
        nb_pad_mode(x, 2, (const int64_t[]){1, 1}, NB_PAD_REFLECT),
        nb_interpolate(x, (const int64_t[]){9, 9}, NB_INTERP_LINEAR, false),
        nb_conv2d(x, w, NULL, &(nb_conv_opts){.same = true}),
        nb_avg_pool2d(x, (const int[]){2, 2}, &(nb_conv_opts){.ceil_mode = true, .exclude_pad = true}),
        nb_max_pool2d(x, (const int[]){3, 3}, &(nb_conv_opts){.padding = {1, 1}}),
        nb_flip(x, 1, (const int[]){3}),
        nb_scaled_dot_product_attention(x, x, x, &(nb_sdpa_opts){.causal = true, .scale = 0.5f}, NULL)};
    for (int i = 0; i < 7; i++)
        ck_assert_msg(r[i] && r[i]->ctx == ctx, "op %d: %s", i, nb_last_error());
    nb_ctx_use(ctx);
}
END_TEST

/* ---- interpolate ----------------------------------------------------------------------------------- */

/* torch's source coordinate of output o (a float scale, then double, as its CPU kernels) */
static void linear_src(int64_t o, int64_t in, int64_t out, bool ac, int64_t *i0, int64_t *i1, double *l) {
    const float scale = ac ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f) : (float)in / (float)out;
    double src = ac ? (double)scale * (double)o : fmax((double)scale * ((double)o + 0.5) - 0.5, 0.0);
    *i0 = (int64_t)src < in - 1 ? (int64_t)src : in - 1;
    *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
    *l = src - (double)*i0;
}

START_TEST(interpolate_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 5, 6), 0, 1, &rng);
    const int64_t sizes[4][2] = {{10, 12}, {3, 4}, {7, 6}, {1, 1}};
    for (int k = 0; k < 4; k++) {
        const int64_t OH = sizes[k][0], OW = sizes[k][1];
        nb_tensor *ne = nb_interpolate(x, sizes[k], NB_INTERP_NEAREST, false);
        ck_assert_msg(ne && ne->shape[2] == OH && ne->shape[3] == OW, "%s", nb_last_error());
        for (int64_t h = 0; h < OH; h++)
            for (int64_t w = 0; w < OW; w++) {
                const int64_t sh = (int64_t)floorf((float)h * (5.0f / (float)OH)),
                              sw = (int64_t)floorf((float)w * (6.0f / (float)OW));
                ck_assert_float_eq(X(ne, 1, 2, h, w), X(x, 1, 2, sh < 4 ? sh : 4, sw < 5 ? sw : 5));
            }
        for (int ac = 0; ac < 2; ac++) {
            nb_tensor *bl = nb_interpolate(x, sizes[k], NB_INTERP_LINEAR, ac);
            ck_assert_msg(bl && bl->shape[2] == OH && bl->shape[3] == OW, "%s", nb_last_error());
            for (int64_t h = 0; h < OH; h++)
                for (int64_t w = 0; w < OW; w++) {
                    int64_t h0, h1, w0, w1;
                    double lh, lw;
                    linear_src(h, 5, OH, ac, &h0, &h1, &lh);
                    linear_src(w, 6, OW, ac, &w0, &w1, &lw);
                    const double want = (1 - lh) * ((1 - lw) * X(x, 1, 2, h0, w0) + lw * X(x, 1, 2, h0, w1)) +
                                        lh * ((1 - lw) * X(x, 1, 2, h1, w0) + lw * X(x, 1, 2, h1, w1));
                    ck_assert_msg(fabs(X(bl, 1, 2, h, w) - want) < 1e-5,
                                  "%lldx%lld ac %d (%lld,%lld): %g, want %g", (long long)OH, (long long)OW,
                                  ac, (long long)h, (long long)w, (double)X(bl, 1, 2, h, w), want);
                }
        }
    }
    /* align_corners keeps the corners; 2x nearest repeats each pixel */
    nb_tensor *ac = nb_interpolate(x, (const int64_t[]){9, 11}, NB_INTERP_LINEAR, true);
    ck_assert_float_eq(X(ac, 0, 0, 8, 10), X(x, 0, 0, 4, 5));
    ck_assert_float_eq(X(ac, 0, 1, 0, 0), X(x, 0, 1, 0, 0));
    nb_tensor *n2 = nb_interpolate(x, (const int64_t[]){10, 12}, NB_INTERP_NEAREST, false);
    NB_ASSERT_CLOSE(n2,
                    nb_reshape(nb_expand(nb_reshape(x, NB_SHAPE(2, 3, 5, 1, 6, 1)), 6,
                                         (const int64_t[]){2, 3, 5, 2, 6, 2}),
                               NB_SHAPE(2, 3, 10, 12)),
                    0, "2x nearest");
    /* 1-d: [N,C,L] */
    nb_tensor *l = nb_interpolate(nb_randn(ctx, NB_SHAPE(2, 3, 5), 0, 1, &rng), (const int64_t[]){9},
                                  NB_INTERP_LINEAR, false);
    ck_assert(l && l->ndim == 3 && l->shape[2] == 9);
}
END_TEST

/* each output's weights add up to 1, so the gradient of the sum adds up to the output count */
START_TEST(interpolate_gradient_mass) {
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 2, 4, 5), 0, 1, &rng), true);
    ck_assert_int_eq(
        nb_backward(nb_sum_all(nb_interpolate(x, (const int64_t[]){7, 3}, NB_INTERP_LINEAR, false))), 0);
    double s = 0;
    for (int64_t i = 0; i < nb_numel(x); i++)
        s += nb_data_f32(x->grad)[i];
    ck_assert_msg(fabs(s - 2 * 7 * 3) < 1e-4, "gradient mass %g, want 42", s);
}
END_TEST

static int gc_which;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    switch (gc_which) {
    case 0: return nb_pad_mode(in[0], 4, (const int64_t[]){2, 1, 1, 2}, NB_PAD_REFLECT);
    case 1: return nb_pad_mode(in[0], 4, (const int64_t[]){3, 0, 1, 4}, NB_PAD_CIRCULAR);
    case 2: return nb_pad_mode(in[0], 2, (const int64_t[]){3, 2}, NB_PAD_REPLICATE);
    case 3: return nb_conv2d(in[0], in[1], NULL, &(nb_conv_opts){.same = true, .pad_mode = NB_PAD_REFLECT});
    case 4:
        return nb_avg_pool2d(
            in[0], (const int[]){3, 2},
            &(nb_conv_opts){.stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .exclude_pad = true});
    case 5:
        return nb_max_pool2d(in[0], (const int[]){2, 2},
                             &(nb_conv_opts){.stride = {2, 2}, .ceil_mode = true});
    case 6: return nb_interpolate(in[0], (const int64_t[]){7, 3}, NB_INTERP_LINEAR, false);
    case 7: return nb_interpolate(in[0], (const int64_t[]){6, 9}, NB_INTERP_LINEAR, true);
    default: return nb_interpolate(in[0], (const int64_t[]){7, 11}, NB_INTERP_NEAREST, false);
    }
}

START_TEST(gradients) {
    for (gc_which = 0; gc_which < 9; gc_which++) {
        nb_tensor *in[2] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 2, 4, 5), 0, 1, &rng), true),
                            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3, 2, 2, 3), 0, 1, &rng), true)};
        ck_assert_msg(nb_gradcheck(gc_fn, in, gc_which == 3 ? 2 : 1, NULL, NULL) == 1, "case %d: %s",
                      gc_which, nb_last_error());
    }
}
END_TEST

START_TEST(interpolate_errors) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2, 3, 4));
    ck_assert_ptr_null(nb_interpolate(x, (const int64_t[]){0, 4}, NB_INTERP_LINEAR, false));
    ERR_STARTS("interpolate: size 0 (dim 2) for input [1,2,3,4]");
    ck_assert_ptr_null(nb_interpolate(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4)), (const int64_t[]){2}, 0, false));
    ERR_STARTS("interpolate: want input [N,C,L] or [N,C,H,W], got [3,4]");
    ck_assert_ptr_null(nb_interpolate(x, (const int64_t[]){2, 2}, (nb_interp_mode)5, false));
    ERR_STARTS("interpolate: unknown mode 5");
    ck_assert_ptr_null(nb_interpolate(x, NULL, NB_INTERP_NEAREST, false));
    ERR_STARTS("interpolate: NULL size");
    ck_assert_ptr_null(nb_interpolate(x, (const int64_t[]){2, 2}, NB_INTERP_NEAREST, true));
    ERR_STARTS("interpolate: align_corners applies to the linear modes only");
    ck_assert_ptr_null(
        nb_interpolate(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2, 0, 4)), (const int64_t[]){2, 2}, 0, false));
    ERR_STARTS("interpolate: size 2 (dim 2) for input [1,2,0,4]");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_resize");
    TCase *tc = tcase_create("resize");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pad_modes_1d);
    tcase_add_loop_test(tc, pad_modes_2d_and_gradients, 0, 3);
    tcase_add_test(tc, pad_mode_errors);
    tcase_add_test(tc, conv_same_and_pad_modes);
    tcase_add_loop_test(tc, pool_options_against_loops, 0, 4);
    tcase_add_test(tc, pool_ceil_small_input);
    tcase_add_test(tc, options_that_do_not_apply);
    tcase_add_test(tc, no_current_context);
    tcase_add_test(tc, interpolate_against_loops);
    tcase_add_test(tc, interpolate_gradient_mass);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, interpolate_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
