/* 3-d convolution and pooling (ops/conv3d.c) against direct loops over the windows (strides,
 * padding, dilation, groups, ceil_mode, exclude_pad, unbatched inputs), their gradients by finite
 * differences, and the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 24, 13)

static float at5(nb_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
    return nb_get(t, (int64_t[]){a, b, c, d, e});
}

/* the output size of one dim, floor or ceil (torch's rule: the last window starts inside the
 * input or its left padding) */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
    const int64_t span = d * (k - 1) + 1, room = in + 2 * p - span;
    int64_t o = (ceil ? (room + s - 1) / s : room / s) + 1;
    if (ceil && (o - 1) * s >= in + p) o--;
    return o;
}

START_TEST(conv3d_values) {
    const int64_t N = 2, C = 4, D = 5, H = 6, W = 5, O = 6, G = 2, K[3] = {3, 2, 3};
    const int s[3] = {2, 1, 2}, p[3] = {1, 0, 1}, dl[3] = {1, 2, 1};
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(N, C, D, H, W), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(O, C / G, K[0], K[1], K[2]), 0, 1, &rng);
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(O), 0, 1, &rng);
    nb_conv_opts o = {.stride = {s[0], s[1], s[2]},
                      .padding = {p[0], p[1], p[2]},
                      .dilation = {dl[0], dl[1], dl[2]},
                      .groups = (int)G};
    nb_tensor *y = nb_conv3d(x, w, b, &o);
    const int64_t in[3] = {D, H, W}, od[3] = {out_size(D, K[0], s[0], p[0], dl[0], false),
                                              out_size(H, K[1], s[1], p[1], dl[1], false),
                                              out_size(W, K[2], s[2], p[2], dl[2], false)};
    ck_assert_msg(y && y->ndim == 5 && y->shape[1] == O && y->shape[2] == od[0] && y->shape[3] == od[1] &&
                      y->shape[4] == od[2],
                  "%s", nb_last_error());
    for (int64_t n = 0; n < N; n++)
        for (int64_t oc = 0; oc < O; oc++)
            for (int64_t a = 0; a < od[0]; a++)
                for (int64_t bb = 0; bb < od[1]; bb++)
                    for (int64_t c = 0; c < od[2]; c++) {
                        double acc = nb_data_f32(b)[oc];
                        const int64_t g = oc / (O / G);
                        for (int64_t ic = 0; ic < C / G; ic++)
                            for (int64_t i = 0; i < K[0]; i++)
                                for (int64_t j = 0; j < K[1]; j++)
                                    for (int64_t k = 0; k < K[2]; k++) {
                                        const int64_t z[3] = {a * s[0] - p[0] + i * dl[0],
                                                              bb * s[1] - p[1] + j * dl[1],
                                                              c * s[2] - p[2] + k * dl[2]};
                                        if (z[0] < 0 || z[1] < 0 || z[2] < 0 || z[0] >= in[0] ||
                                            z[1] >= in[1] || z[2] >= in[2])
                                            continue;
                                        acc += (double)at5(x, n, g * (C / G) + ic, z[0], z[1], z[2]) *
                                               at5(w, oc, ic, i, j, k);
                                    }
                        ck_assert_msg(fabs(at5(y, n, oc, a, bb, c) - acc) < 1e-4, "%g vs %g",
                                      at5(y, n, oc, a, bb, c), acc);
                    }
    /* unbatched: the batch's first item */
    nb_tensor *y0 = nb_conv3d(nb_contiguous(nb_squeeze(nb_narrow(x, 0, 0, 1), 0)), w, b, &o);
    ck_assert(y0 && y0->ndim == 4 && y0->shape[0] == O);
    ck_assert(fabs(nb_get(y0, (int64_t[]){5, 1, 2, 1}) - at5(y, 0, 5, 1, 2, 1)) < 1e-5);
}
END_TEST

/* pooling against loops: max (padding -inf, the first maximum) and avg (torch's divisor) */
static void check_pool(bool max, const int k[3], const nb_conv_opts *o) {
    const int64_t N = 2, C = 3, in[3] = {6, 5, 7};
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(N, C, in[0], in[1], in[2]), 0, 1, &rng);
    nb_tensor *y = max ? nb_max_pool3d(x, k, o) : nb_avg_pool3d(x, k, o);
    ck_assert_msg(y, "%s", nb_last_error());
    int64_t s[3], p[3], dl[3], od[3];
    for (int i = 0; i < 3; i++) {
        s[i] = o->stride[i] ? o->stride[i] : k[i], p[i] = o->padding[i],
        dl[i] = o->dilation[i] ? o->dilation[i] : 1;
        od[i] = out_size(in[i], k[i], s[i], p[i], dl[i], o->ceil_mode);
        ck_assert_int_eq(y->shape[2 + i], od[i]);
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t a = 0; a < od[0]; a++)
                for (int64_t b = 0; b < od[1]; b++)
                    for (int64_t e = 0; e < od[2]; e++) {
                        const int64_t st[3] = {a * s[0] - p[0], b * s[1] - p[1], e * s[2] - p[2]};
                        double best = -INFINITY, sum = 0;
                        int64_t cnt_pad = 1, cnt_in = 1;
                        for (int i = 0; i < 3; i++) {
                            int64_t lo = st[i], hi = st[i] + k[i];
                            if (hi > in[i] + p[i]) hi = in[i] + p[i];
                            cnt_pad *= hi - lo;
                            lo = lo < 0 ? 0 : lo, hi = hi > in[i] ? in[i] : hi;
                            cnt_in *= hi - lo;
                        }
                        for (int i = 0; i < k[0]; i++)
                            for (int j = 0; j < k[1]; j++)
                                for (int q = 0; q < k[2]; q++) {
                                    const int64_t z[3] = {st[0] + i * dl[0], st[1] + j * dl[1],
                                                          st[2] + q * dl[2]};
                                    if (z[0] < 0 || z[1] < 0 || z[2] < 0 || z[0] >= in[0] || z[1] >= in[1] ||
                                        z[2] >= in[2])
                                        continue;
                                    const double v = at5(x, n, c, z[0], z[1], z[2]);
                                    best = v > best ? v : best, sum += v;
                                }
                        const double want = max ? best : sum / (double)(o->exclude_pad ? cnt_in : cnt_pad);
                        ck_assert_msg(fabs(at5(y, n, c, a, b, e) - want) < 1e-5,
                                      "%s (%lld,%lld,%lld): %g vs %g", max ? "max" : "avg", (long long)a,
                                      (long long)b, (long long)e, at5(y, n, c, a, b, e), want);
                    }
}

START_TEST(pool3d_values) {
    const int k[3] = {3, 2, 3}, k2[3] = {2, 2, 2};
    check_pool(true, k, &(nb_conv_opts){0});
    check_pool(true, k, &(nb_conv_opts){.stride = {2, 1, 2}, .padding = {1, 1, 1}, .dilation = {2, 1, 2}});
    check_pool(true, k2, &(nb_conv_opts){.stride = {2, 2, 3}, .padding = {1, 0, 1}, .ceil_mode = true});
    check_pool(false, k, &(nb_conv_opts){0});
    check_pool(false, k, &(nb_conv_opts){.stride = {2, 1, 2}, .padding = {1, 1, 1}});
    check_pool(false, k, &(nb_conv_opts){.stride = {2, 1, 2}, .padding = {1, 1, 1}, .exclude_pad = true});
    check_pool(false, k2, &(nb_conv_opts){.stride = {2, 2, 3}, .padding = {1, 0, 1}, .ceil_mode = true});
    check_pool(
        false, k2,
        &(nb_conv_opts){.stride = {2, 2, 3}, .padding = {1, 0, 1}, .ceil_mode = true, .exclude_pad = true});
    /* review: ceil_mode lets a depth window reach past the input (torch: [2]) */
    nb_tensor *c2 = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1, 2, 1, 1), (const float[]){1, 2});
    nb_tensor *cm = nb_max_pool3d(c2, (const int[]){3, 1, 1}, &(nb_conv_opts){.ceil_mode = true});
    ck_assert_msg(cm && nb_numel(cm) == 1 && nb_data_f32(cm)[0] == 2, "%s", nb_last_error());
    /* review: an all -inf window overlapping the depth padding gives its gradient to the input,
     * not to a padding plane (torch: [2, 0]) */
    nb_tensor *ninf = nb_contiguous(nb_full(ctx, NB_F32, NB_SHAPE(1, 1, 2, 1, 1), -INFINITY));
    nb_requires_grad_(ninf, true);
    nb_tensor *pm = nb_max_pool3d(ninf, (const int[]){3, 1, 1},
                                  &(nb_conv_opts){.stride = {1, 1, 1}, .padding = {1, 0, 0}});
    ck_assert(pm && nb_backward(nb_sum(pm, 0, NULL, false)) == 0);
    ck_assert_msg(nb_data_f32(ninf->grad)[0] == 2 && nb_data_f32(ninf->grad)[1] == 0, "%g %g",
                  nb_data_f32(ninf->grad)[0], nb_data_f32(ninf->grad)[1]);
    /* ties across planes: the gradient goes to the first (the shallower plane), as torch's */
    nb_tensor *t = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 1, 2, 1, 1)));
    nb_requires_grad_(t, true);
    nb_tensor *m = nb_max_pool3d(t, (const int[]){2, 1, 1}, NULL);
    ck_assert(m && nb_backward(nb_sum(m, 0, NULL, false)) == 0);
    ck_assert(nb_data_f32(t->grad)[0] == 1 && nb_data_f32(t->grad)[1] == 0);
}
END_TEST

/* transposed: each input voxel's window scattered to the output, against loops */
START_TEST(conv_transpose3d_values) {
    const int64_t N = 2, C = 4, D = 3, H = 4, W = 3, Og = 3, G = 2, K[3] = {3, 2, 2};
    const int s[3] = {2, 1, 2}, p[3] = {1, 0, 1}, dl[3] = {1, 2, 1}, op[3] = {1, 0, 1};
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(N, C, D, H, W), 0, 1, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(C, Og, K[0], K[1], K[2]), 0, 1, &rng);
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(Og * G), 0, 1, &rng);
    nb_conv_opts o = {.stride = {s[0], s[1], s[2]},
                      .padding = {p[0], p[1], p[2]},
                      .dilation = {dl[0], dl[1], dl[2]},
                      .output_padding = {op[0], op[1], op[2]},
                      .groups = (int)G};
    nb_tensor *y = nb_conv_transpose3d(x, w, b, &o);
    const int64_t in[3] = {D, H, W};
    int64_t od[3];
    for (int i = 0; i < 3; i++)
        od[i] = (in[i] - 1) * s[i] - 2 * p[i] + dl[i] * (K[i] - 1) + op[i] + 1;
    ck_assert_msg(y && y->ndim == 5 && y->shape[1] == Og * G && y->shape[2] == od[0] &&
                      y->shape[3] == od[1] && y->shape[4] == od[2],
                  "%s", nb_last_error());
    nb_tensor *want = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(N, Og * G, od[0], od[1], od[2])));
    float *wv = nb_data_f32(want);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t a = 0; a < D; a++)
                for (int64_t bb = 0; bb < H; bb++)
                    for (int64_t e = 0; e < W; e++)
                        for (int64_t oc = 0; oc < Og; oc++)
                            for (int64_t i = 0; i < K[0]; i++)
                                for (int64_t j = 0; j < K[1]; j++)
                                    for (int64_t k = 0; k < K[2]; k++) {
                                        const int64_t z[3] = {a * s[0] - p[0] + i * dl[0],
                                                              bb * s[1] - p[1] + j * dl[1],
                                                              e * s[2] - p[2] + k * dl[2]};
                                        if (z[0] < 0 || z[1] < 0 || z[2] < 0 || z[0] >= od[0] ||
                                            z[1] >= od[1] || z[2] >= od[2])
                                            continue;
                                        const int64_t o_all = (c / (C / G)) * Og + oc;
                                        wv[(((n * Og * G + o_all) * od[0] + z[0]) * od[1] + z[1]) * od[2] +
                                           z[2]] += at5(x, n, c, a, bb, e) * at5(w, c, oc, i, j, k);
                                    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t oc = 0; oc < Og * G; oc++)
            for (int64_t a = 0; a < od[0]; a++)
                for (int64_t bb = 0; bb < od[1]; bb++)
                    for (int64_t e = 0; e < od[2]; e++)
                        ck_assert_msg(fabs(at5(y, n, oc, a, bb, e) - at5(want, n, oc, a, bb, e) -
                                           nb_data_f32(b)[oc]) < 1e-4,
                                      "(%lld,%lld,%lld,%lld,%lld): %g vs %g", (long long)n, (long long)oc,
                                      (long long)a, (long long)bb, (long long)e, at5(y, n, oc, a, bb, e),
                                      at5(want, n, oc, a, bb, e) + nb_data_f32(b)[oc]);
    ck_assert(!nb_conv_transpose3d(x, w, b, &(nb_conv_opts){.output_padding = {2, 0, 0}, .groups = 2}) &&
              strstr(nb_last_error(), "output padding 2 (the depth)"));
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    const nb_conv_opts o = {.stride = {2, 1, 1}, .padding = {1, 1, 0}, .groups = 2};
    const nb_conv_opts po = {.stride = {1, 2, 1}, .padding = {1, 0, 1}, .ceil_mode = true};
    switch (gc_case) {
    case 0: return nb_conv3d(in[0], in[1], in[2], &o);
    case 1: return nb_max_pool3d(in[0], (const int[]){3, 2, 2}, &po);
    case 2: return nb_avg_pool3d(in[0], (const int[]){3, 2, 2}, &po);
    default: {
        const nb_conv_opts t = {
            .stride = {2, 1, 2}, .padding = {1, 0, 1}, .output_padding = {1, 0, 0}, .groups = 2};
        return nb_conv_transpose3d(in[0], nb_reshape(in[1], NB_SHAPE(4, 2, 2, 3, 2)), in[2], &t);
    }
    }
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case < 4; gc_case++) {
        nb_tensor *x = nb_contiguous(nb_randn(ctx, NB_SHAPE(2, 4, 4, 3, 4), 0, 1, &rng));
        if (gc_case == 1) /* max: values 0.01 apart, so that eps moves no maximum */
            for (int i = 0; i < 384; i++)
                nb_data_f32(x)[i] = (float)((i * 97) % 384) * 0.01f - 1.9f;
        nb_tensor *w = nb_randn(ctx, NB_SHAPE(4, 2, 2, 3, 2), 0, 1, &rng),
                  *b = nb_randn(ctx, NB_SHAPE(4), 0, 1, &rng);
        nb_requires_grad_(x, true), nb_requires_grad_(w, true), nb_requires_grad_(b, true);
        nb_gradcheck_opts go = {.eps = 1e-3, .atol = 2e-3, .rtol = 2e-2, .seed = 9};
        nb_tensor *in[3] = {x, w, b};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 3, NULL, &go) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

START_TEST(refusals) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(1, 2, 3, 4, 4)),
              *w = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 2, 4, 1, 1));
    ck_assert(!nb_conv3d(x, w, NULL, NULL) && strstr(nb_last_error(), "conv3d: the window's depth 4"));
    ck_assert(!nb_conv3d(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 4, 4)), w, NULL, NULL) &&
              strstr(nb_last_error(), "conv3d: want input [N,C,D,H,W]"));
    ck_assert(!nb_conv3d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 2, 1, 1, 1)),
                         nb_zeros(ctx, NB_F32, NB_SHAPE(3)), NULL) &&
              strstr(nb_last_error(), "conv3d: bias [3] does not match 2 output channels"));
    ck_assert(!nb_conv3d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3, 1, 1, 1)), NULL, NULL) &&
              strstr(nb_last_error(), "conv3d"));
    ck_assert(
        !nb_conv3d(x, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 2, 1, 1, 1)), NULL, &(nb_conv_opts){.same = true}) &&
        strstr(nb_last_error(), "'same' padding"));
    ck_assert(!nb_max_pool3d(x, (const int[]){2, 2, 2}, &(nb_conv_opts){.padding = {2, 0, 0}}) &&
              strstr(nb_last_error(), "max_pool3d: padding 2 is more than half the window 2 (the depth)"));
    ck_assert(
        !nb_avg_pool3d(x, (const int[]){2, 2, 2}, &(nb_conv_opts){.dilation = {2, 1, 1}}) &&
        strstr(nb_last_error(), "avg_pool3d: dilation (max pooling and convolutions only) does not apply"));
    ck_assert(!nb_max_pool3d(x, NULL, NULL) && strstr(nb_last_error(), "the kernel is NULL"));
    ck_assert(!nb_max_pool3d(x, (const int[]){2, 5, 2}, NULL) && strstr(nb_last_error(), "max_pool3d"));
    nb_clear_error();
    ck_assert(!nb_avg_pool3d(NULL, (const int[]){1, 1, 1}, NULL) && strstr(nb_last_error(), "NULL"));
}
END_TEST

/* the layers: Conv3d's parameters (torch's shapes and init bound) and forward; the pools */
START_TEST(modules) {
    nb_conv_opts o = {.stride = {1, 2, 2}, .padding = {1, 1, 1}, .groups = 2};
    nb_module *c = nb_conv3d_new(ctx, 4, 6, (const int[]){3, 3, 2}, &o, true, &rng);
    ck_assert_msg(c, "%s", nb_last_error());
    nb_tensor *w = nb_module_param(c, "weight"), *b = nb_module_param(c, "bias");
    ck_assert(w && w->ndim == 5 && w->shape[0] == 6 && w->shape[1] == 2 && w->shape[4] == 2 && b &&
              b->shape[0] == 6);
    const float bound = 1.0f / sqrtf(2 * 3 * 3 * 2);
    for (int64_t i = 0; i < nb_numel(w); i++)
        ck_assert(fabsf(nb_data_f32(w)[i]) <= bound);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, 5, 6, 6), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(c, x), *want = nb_conv3d(x, w, b, &o);
    ck_assert(y && want && y->shape[2] == 5 && y->shape[3] == 3);
    for (int64_t i = 0; i < nb_numel(y); i++)
        ck_assert(nb_data_f32(y)[i] == nb_data_f32(want)[i]);
    nb_module_free(c);
    nb_module *t = nb_conv_transpose3d_new(
        ctx, 4, 6, (const int[]){2, 3, 2},
        &(nb_conv_opts){.stride = {2, 1, 1}, .output_padding = {1, 0, 0}, .groups = 2}, true, &rng);
    ck_assert_msg(t, "%s", nb_last_error());
    nb_tensor *tw = nb_module_param(t, "weight"), *ty = nb_module_forward(t, x);
    ck_assert(tw && tw->shape[0] == 4 && tw->shape[1] == 3 && ty && ty->shape[1] == 6 && ty->shape[2] == 11);
    nb_module_free(t);
    const int k[3] = {2, 3, 3};
    nb_conv_opts po = {.padding = {1, 1, 1}};
    nb_module *mp = nb_max_pool3d_new(k, &po), *ap = nb_avg_pool3d_new(k, &po);
    ck_assert(mp && ap);
    nb_tensor *m1 = nb_module_forward(mp, x), *m2 = nb_max_pool3d(x, k, &po);
    nb_tensor *a1 = nb_module_forward(ap, x), *a2 = nb_avg_pool3d(x, k, &po);
    ck_assert(m1 && m2 && a1 && a2 && nb_numel(m1) == nb_numel(m2) && nb_numel(a1) == nb_numel(a2));
    for (int64_t i = 0; i < nb_numel(m1); i++)
        ck_assert(nb_data_f32(m1)[i] == nb_data_f32(m2)[i] && nb_data_f32(a1)[i] == nb_data_f32(a2)[i]);
    nb_module_free(mp);
    nb_module_free(ap);
    /* refused at construction */
    ck_assert(!nb_conv3d_new(ctx, 3, 6, k, &(nb_conv_opts){.groups = 2}, true, &rng) &&
              strstr(nb_last_error(), "conv3d_new: in 3, out 6"));
    ck_assert(!nb_max_pool3d_new((const int[]){2, 0, 2}, NULL) && strstr(nb_last_error(), "at least 1x1x1"));
    ck_assert(!nb_avg_pool3d_new(k, &(nb_conv_opts){.padding = {0, 2, 0}}) &&
              strstr(nb_last_error(), "avg_pool3d_new: padding 2 is more than half the window"));
}
END_TEST

static Suite *make_suite(void) {
    Suite *s = suite_create("ops_conv3d");
    TCase *tc = tcase_create("conv3d");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv3d_values);
    tcase_add_test(tc, conv_transpose3d_values);
    tcase_add_test(tc, pool3d_values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, modules);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
