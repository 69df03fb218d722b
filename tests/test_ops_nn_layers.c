/* tests/test_ops_nn_layers.c - layer_norm, embedding and dropout: forward against plain
 * double-precision loops written here, on contiguous and non-contiguous inputs; every backward
 * through nb_gradcheck; error messages; determinism (layer_norm's weight gradients across runs
 * and thread counts, dropout's mask from its Philox stream). softmax and cross_entropy are in
 * test_ops_nn.c. */
#include "tests/nb_check.h"

#include <math.h>
#include <stdint.h>

#include "nabla.h"
#include "tests/ops_nn_check.h"

/* True when the last error says a kernel is still a stub ("not implemented"). */
static int stub_error(void) { return strstr(nb_last_error(), "not implemented") != NULL; }

/* ---- layer norm ---------------------------------------------------------------------------- */

static void ref_layer_norm(const float *x, const float *w, const float *b, double *y, int64_t rows, int64_t C,
                           double eps) {
    for (int64_t r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < C; j++)
            m += x[r * C + j];
        m /= (double)C;
        for (int64_t j = 0; j < C; j++)
            v += (x[r * C + j] - m) * (x[r * C + j] - m);
        v /= (double)C;
        for (int64_t j = 0; j < C; j++)
            y[r * C + j] = (x[r * C + j] - m) / sqrt(v + eps) * (w ? w[j] : 1.0) + (b ? b[j] : 0.0);
    }
}

START_TEST(test_layer_norm_forward) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 3);
    const int64_t C = 37;
    nb_tensor *x = randn(ctx, &r, NB_SHAPE(4, 6, C));
    nb_tensor *w = randn(ctx, &r, NB_SHAPE(C)), *b = randn(ctx, &r, NB_SHAPE(C));
    nb_tensor *xt = nb_transpose(randn(ctx, &r, NB_SHAPE(C, 5)), 0, 1); /* [5, C] view */
    nb_tensor *xs[2] = {x, xt};
    double *want = malloc(sizeof(double) * 4 * 6 * C);
    for (int k = 0; k < 2; k++) {
        int64_t rows = nb_numel(xs[k]) / C;
        const float *hx = host(ctx, xs[k]);
        for (int mode = 0; mode < 4; mode++) {
            nb_tensor *wm = mode & 1 ? w : NULL, *bm = mode & 2 ? b : NULL;
            nb_tensor *y = nb_layer_norm(xs[k], wm, bm, 1e-5f);
            ck_assert_msg(y != NULL, "%s", nb_last_error());
            ck_assert(nb_same_shape(y, xs[k]));
            ref_layer_norm(hx, wm ? host(ctx, w) : NULL, bm ? host(ctx, b) : NULL, want, rows, C, 1e-5);
            expect_close(host(ctx, y), want, rows * C, 1e-4, 1e-5);
        }
    }
    /* a constant row: variance 0, eps keeps it finite */
    nb_tensor *c = nb_full(ctx, NB_F32, NB_SHAPE(2, 8), 3.0);
    const float *yc = host(ctx, nb_layer_norm(c, NULL, NULL, 1e-5f));
    for (int i = 0; i < 16; i++)
        ck_assert(yc[i] == 0.0f);
    free(want);
    nb_ctx_free(ctx);
}
END_TEST

static nb_tensor *fn_ln(nb_tensor **in, int n, void *u) {
    (void)u;
    return nb_layer_norm(in[0], n > 1 ? in[1] : NULL, n > 2 ? in[2] : NULL, 1e-5f);
}
static nb_tensor *fn_ln_view_twice(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *xt = nb_transpose(in[0], 0, 1); /* [6,4] view of a [4,6] leaf */
    return nb_mul(nb_layer_norm(xt, in[1], in[2], 1e-5f), xt);
}

START_TEST(test_layer_norm_grad) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 4);
    nb_tensor *in[3] = {randn(ctx, &r, NB_SHAPE(2, 3, 6)), randn(ctx, &r, NB_SHAPE(6)),
                        randn(ctx, &r, NB_SHAPE(6))};
    for (int i = 0; i < 3; i++)
        nb_requires_grad_(in[i], true);
    nb_gradcheck_opts o = {.eps = 1e-3, .atol = 2e-3, .rtol = 2e-2};
    ck_assert_msg(nb_gradcheck(fn_ln, in, 3, NULL, &o) == 1, "%s", nb_last_error());
    ck_assert_msg(nb_gradcheck(fn_ln, in, 1, NULL, &o) == 1, "%s", nb_last_error());
    /* only w and b require grad */
    nb_requires_grad_(in[0], false);
    ck_assert_msg(nb_gradcheck(fn_ln, in, 3, NULL, &o) == 1, "%s", nb_last_error());
    nb_tensor *v[3] = {nb_requires_grad_(randn(ctx, &r, NB_SHAPE(4, 6)), true),
                       nb_requires_grad_(randn(ctx, &r, NB_SHAPE(4)), true),
                       nb_requires_grad_(randn(ctx, &r, NB_SHAPE(4)), true)};
    ck_assert_msg(nb_gradcheck(fn_ln_view_twice, v, 3, NULL, &o) == 1, "%s", nb_last_error());
    nb_ctx_free(ctx);
}
END_TEST

/* dw and db over many rows (more than the kernel's chunks) against double sums, and
 * bit-identical from run to run and across thread counts. */
START_TEST(test_layer_norm_backward_many_rows) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 5);
    const int64_t R = 300, C = 48;
    nb_tensor *x = randn(ctx, &r, NB_SHAPE(R, C)), *g = randn(ctx, &r, NB_SHAPE(R, C));
    nb_tensor *w = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(C)), true);
    nb_tensor *b = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(C)), true);
    nb_requires_grad_(x, true);
    float dw[3][48], db[3][48];
    int threads0 = nb_get_num_threads();
    for (int run = 0; run < 3; run++) {
        nb_set_num_threads(run == 2 ? 1 : threads0);
        nb_zero_grad(w), nb_zero_grad(b), nb_zero_grad(x);
        ck_assert_int_eq(nb_backward_with(nb_layer_norm(x, w, b, 1e-5f), g), 0);
        memcpy(dw[run], host(ctx, w->grad), sizeof dw[run]);
        memcpy(db[run], host(ctx, b->grad), sizeof db[run]);
    }
    nb_set_num_threads(threads0);
    ck_assert(memcmp(dw[0], dw[1], sizeof dw[0]) == 0 && memcmp(db[0], db[1], sizeof db[0]) == 0);
    ck_assert(memcmp(dw[0], dw[2], sizeof dw[0]) == 0 && memcmp(db[0], db[2], sizeof db[0]) == 0);
    const float *hx = host(ctx, x), *hg = host(ctx, g), *hw = host(ctx, w), *dx = host(ctx, x->grad);
    double rdw[48] = {0}, rdb[48] = {0};
    for (int64_t i = 0; i < R; i++) {
        double m = 0, v = 0, a = 0, c = 0;
        for (int64_t j = 0; j < C; j++)
            m += hx[i * C + j];
        m /= C;
        for (int64_t j = 0; j < C; j++)
            v += (hx[i * C + j] - m) * (hx[i * C + j] - m);
        double rs = 1 / sqrt(v / C + 1e-5);
        for (int64_t j = 0; j < C; j++) {
            double xh = (hx[i * C + j] - m) * rs, gw = hg[i * C + j] * hw[j];
            rdw[j] += hg[i * C + j] * xh;
            rdb[j] += hg[i * C + j];
            a += gw, c += gw * xh;
        }
        for (int64_t j = 0; j < C; j++) {
            double xh = (hx[i * C + j] - m) * rs;
            double want = rs * (hg[i * C + j] * hw[j] - a / C - xh * c / C);
            ck_assert_msg(nb_close(dx[i * C + j], want, 1e-3, 1e-4), "dx[%lld]", (long long)(i * C + j));
        }
    }
    for (int j = 0; j < C; j++) {
        ck_assert_msg(nb_close(dw[0][j], rdw[j], 1e-4, 1e-4), "dw[%d] %g vs %g", j, dw[0][j], rdw[j]);
        ck_assert(nb_close(db[0][j], rdb[j], 1e-4, 1e-4));
    }
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_layer_norm_errors) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 4));
    expect_error(nb_layer_norm(x, nb_zeros(ctx, NB_F32, NB_SHAPE(5)), NULL, 1e-5f), "layer_norm: weight [5]");
    expect_error(nb_layer_norm(x, NULL, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 4)), 1e-5f), "bias");
    expect_error(nb_layer_norm(x, nb_zeros(ctx, NB_I32, NB_SHAPE(4)), NULL, 1e-5f), "layer_norm");
    expect_error(nb_layer_norm(nb_zeros(ctx, NB_I32, NB_SHAPE(2, 4)), NULL, NULL, 1e-5f), "layer_norm");
    expect_error(nb_layer_norm(nb_scalar(ctx, 1.0f), NULL, NULL, 1e-5f), "layer_norm");
    expect_error(nb_layer_norm(x, NULL, NULL, -1.0f), "eps");
    expect_error(nb_layer_norm(x, NULL, NULL, NAN), "eps");
    nb_ctx_free(ctx);
}
END_TEST

/* ---- embedding ------------------------------------------------------------------------------ */

static nb_tensor *g_emb_idx;
static nb_tensor *fn_emb(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_embedding(in[0], g_emb_idx);
}

START_TEST(test_embedding) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 6);
    nb_tensor *w = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(7, 5)), true);
    int32_t ids[6] = {3, 0, 6, 3, 3, 1};
    nb_tensor *idx = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), ids);
    nb_tensor *y = nb_embedding(w, idx);
    if (!y && stub_error()) {
        nb_test_skip("test_embedding", "index_select/index_add kernels not written yet");
        nb_ctx_free(ctx);
        return;
    }
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(y->ndim, 3);
    ck_assert(y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 5);
    const float *hw = host(ctx, w), *hy = host(ctx, y);
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 5; c++)
            ck_assert(hy[i * 5 + c] == hw[ids[i] * 5 + c]);
    /* backward: rows used several times accumulate */
    nb_tensor *g = randn(ctx, &r, NB_SHAPE(2, 3, 5));
    ck_assert_int_eq(nb_backward_with(y, g), 0);
    const float *hg = host(ctx, g), *gw = host(ctx, w->grad);
    for (int v = 0; v < 7; v++)
        for (int c = 0; c < 5; c++) {
            double want = 0;
            for (int i = 0; i < 6; i++)
                if (ids[i] == v) want += hg[i * 5 + c];
            ck_assert(nb_close(gw[v * 5 + c], want, 1e-6, 1e-6));
        }
    /* non-contiguous ids (a transposed view), and gradcheck */
    g_emb_idx = nb_transpose(idx, 0, 1);
    ck_assert_msg(nb_gradcheck(fn_emb, &w, 1, NULL, NULL) == 1, "%s", nb_last_error());
    /* errors: bounds name the id and V */
    int32_t bad[3] = {1, 7, 0};
    expect_error(nb_embedding(w, nb_from_data(ctx, NB_I32, NB_SHAPE(3), bad)), "id 7 at position 1");
    bad[1] = -2;
    expect_error(nb_embedding(w, nb_from_data(ctx, NB_I32, NB_SHAPE(3), bad)), "[0, 7)");
    expect_error(nb_embedding(w, nb_zeros(ctx, NB_F32, NB_SHAPE(3))), "embedding");
    expect_error(nb_embedding(nb_zeros(ctx, NB_F32, NB_SHAPE(7)), idx), "embedding");
    nb_ctx_free(ctx);
}
END_TEST

/* ---- dropout ---------------------------------------------------------------------------------- */

START_TEST(test_dropout_mask) {
    nb_ctx *ctx = nb_ctx_new(0);
    const int64_t n = 1000003; /* not a multiple of 4 */
    nb_tensor *x = nb_full(ctx, NB_F32, NB_SHAPE(n), 2.0);
    nb_rng r1, r2;
    nb_rng_init(&r1, 42);
    nb_rng_init(&r2, 42);
    r1.offset = r2.offset = 17;
    const float p = 0.3f;
    nb_tensor *y1 = nb_dropout(x, p, true, &r1), *y2 = nb_dropout(x, p, true, &r2);
    ck_assert_msg(y1 && y2, "%s", nb_last_error());
    ck_assert(r1.offset == 17 + (uint64_t)(n + 3) / 4);
    const float *a = nb_data_f32(y1), *b = nb_data_f32(y2);
    ck_assert(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        nb_philox(42, 17 + (uint64_t)i / 4, w);
        int keep = (double)(w[i % 4] >> 8) / 16777216.0 >= p;
        ck_assert(a[i] == (keep ? 2.0f / (1.0f - p) : 0.0f));
        kept += keep;
    }
    double frac = (double)kept / (double)n;
    ck_assert_msg(fabs(frac - (1 - p)) < 0.003, "kept fraction %g", frac);
    /* the next draw continues the stream: a different mask */
    nb_tensor *y3 = nb_dropout(x, p, true, &r1);
    ck_assert(memcmp(a, nb_data_f32(y3), sizeof(float) * (size_t)n) != 0);
    /* eval mode and p = 0: x itself, rng untouched */
    uint64_t off = r1.offset;
    ck_assert_ptr_eq(nb_dropout(x, p, false, &r1), x);
    ck_assert_ptr_eq(nb_dropout(x, 0.0f, true, &r1), x);
    ck_assert(r1.offset == off);
    /* the global generator by default */
    nb_manual_seed(5);
    ck_assert_ptr_nonnull(nb_dropout(x, 0.5f, true, NULL));
    ck_assert(nb_rng_global()->offset == (uint64_t)(n + 3) / 4);
    expect_error(nb_dropout(x, 1.0f, true, &r1), "dropout: p must be in [0, 1)");
    expect_error(nb_dropout(x, -0.1f, true, &r1), "dropout");
    expect_error(nb_dropout(x, NAN, true, &r1), "dropout");
    expect_error(nb_dropout(nb_zeros(ctx, NB_I32, NB_SHAPE(3)), 0.5f, true, &r1), "dropout");
    nb_ctx_free(ctx);
}
END_TEST

static nb_tensor *fn_dropout(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_rng r;
    nb_rng_init(&r, 1234); /* the same mask on every call */
    nb_tensor *xt = nb_transpose(in[0], 0, 1);
    return nb_mul(nb_dropout(xt, 0.4f, true, &r), xt);
}

START_TEST(test_dropout_grad) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 10);
    nb_tensor *x = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(5, 7)), true);
    ck_assert_msg(nb_gradcheck(fn_dropout, &x, 1, NULL, NULL) == 1, "%s", nb_last_error());
    /* the gradient is exactly the mask times 1/(1-p) */
    nb_rng_init(&r, 99);
    nb_tensor *y = nb_dropout(x, 0.5f, true, &r);
    nb_zero_grad(x);
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
    const float *hy = host(ctx, y), *hx = host(ctx, x), *g = host(ctx, x->grad);
    for (int i = 0; i < 35; i++)
        ck_assert(g[i] == (hy[i] == 0.0f && hx[i] != 0.0f ? 0.0f : 2.0f));
    nb_ctx_free(ctx);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_nn_layers");
    TCase *tc = tcase_create("nn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_layer_norm_forward);
    tcase_add_test(tc, test_layer_norm_grad);
    tcase_add_test(tc, test_layer_norm_backward_many_rows);
    tcase_add_test(tc, test_layer_norm_errors);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_dropout_mask);
    tcase_add_test(tc, test_dropout_grad);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
