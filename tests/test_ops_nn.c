/* tests/test_ops_nn.c - softmax, log_softmax, layer_norm, embedding, cross_entropy and
 * dropout: forward against plain double-precision loops written here, on contiguous and
 * non-contiguous inputs; every backward through nb_gradcheck; error messages; determinism. */
#include "tests/nb_check.h"

#include <math.h>
#include <stdint.h>

#include "nabla.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* A row-major host copy of t's elements, owned by ctx (via a contiguous clone). */
static const float *host(nb_ctx *ctx, const nb_tensor *t) {
    ck_assert_ptr_nonnull(t);
    nb_tensor *c = nb_clone(ctx, t);
    ck_assert_ptr_nonnull(c);
    return nb_data_f32(c);
}

static nb_tensor *randn(nb_ctx *ctx, nb_rng *r, int nd, const int64_t *shape) {
    nb_tensor *t = nb_randn(ctx, nd, shape, 0.0f, 1.0f, r);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Asserts t is NULL and the last error mentions `what`. */
static void expect_error(const nb_tensor *t, const char *what) {
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(nb_last_error(), what) != NULL, "error '%s' lacks '%s'", nb_last_error(), what);
}

/* True when the last error says a kernel is still a stub ("not implemented"). */
static int stub_error(void) { return strstr(nb_last_error(), "not implemented") != NULL; }

/* Reference softmax of a row-major [outer, n, inner] array along the middle axis, in double. */
static void ref_softmax(const float *x, double *y, int64_t outer, int64_t n, int64_t inner, int lg) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double m = -INFINITY, s = 0;
            for (int64_t j = 0; j < n; j++)
                m = fmax(m, x[(o * n + j) * inner + in]);
            for (int64_t j = 0; j < n; j++)
                s += exp(x[(o * n + j) * inner + in] - m);
            for (int64_t j = 0; j < n; j++) {
                double v = x[(o * n + j) * inner + in] - m;
                y[(o * n + j) * inner + in] = lg ? v - log(s) : exp(v) / s;
            }
        }
}

/* Compares n floats against doubles. */
static void expect_close(const float *got, const double *want, int64_t n, double rtol, double atol) {
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(nb_close(got[i], want[i], rtol, atol), "element %lld: got %.8g want %.8g", (long long)i,
                      (double)got[i], want[i]);
}

/* Checks softmax (or log_softmax) of a along dim against the reference. */
static void check_softmax(nb_ctx *ctx, nb_tensor *a, int dim, int lg) {
    nb_tensor *y = lg ? nb_log_softmax(a, dim) : nb_softmax(a, dim);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert(nb_same_shape(y, a));
    int d = dim < 0 ? dim + a->ndim : dim;
    int64_t outer = 1, inner = 1, n = a->shape[d];
    for (int i = 0; i < d; i++)
        outer *= a->shape[i];
    for (int i = d + 1; i < a->ndim; i++)
        inner *= a->shape[i];
    const float *x = host(ctx, a), *got = host(ctx, y);
    int64_t total = nb_numel(a);
    double *want = malloc(sizeof(double) * (size_t)total);
    ref_softmax(x, want, outer, n, inner, lg);
    expect_close(got, want, total, 1e-5, 1e-6);
    free(want);
}

/* ---- softmax ------------------------------------------------------------------------------- */

START_TEST(test_softmax_forward) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 1);
    nb_tensor *a = randn(ctx, &r, NB_SHAPE(3, 4, 5));
    for (int lg = 0; lg < 2; lg++) {
        for (int dim = -3; dim < 3; dim++)
            check_softmax(ctx, a, dim, lg);
        /* non-contiguous: permuted and sliced views */
        nb_tensor *b = randn(ctx, &r, NB_SHAPE(5, 3, 4));
        nb_tensor *p = nb_permute(b, (const int[]){1, 2, 0});
        ck_assert(!nb_is_contiguous(p));
        for (int dim = 0; dim < 3; dim++)
            check_softmax(ctx, p, dim, lg);
        nb_tensor *s = nb_slice(randn(ctx, &r, NB_SHAPE(6, 9)), 1, 1, 9, 2);
        ck_assert(!nb_is_contiguous(s));
        check_softmax(ctx, s, 1, lg);
        check_softmax(ctx, s, 0, lg);
        /* a long row (vectorised path with a tail) and a 1-D tensor */
        check_softmax(ctx, randn(ctx, &r, NB_SHAPE(3, 1037)), -1, lg);
        check_softmax(ctx, randn(ctx, &r, NB_SHAPE(7)), 0, lg);
        /* large rows with many threads' worth of work */
        check_softmax(ctx, randn(ctx, &r, NB_SHAPE(64, 1024)), 1, lg);
    }
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_softmax_stable) {
    nb_ctx *ctx = nb_ctx_new(0);
    float v[8] = {1000, 1001, 1002, -1000, -INFINITY, 0, 3, -INFINITY};
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 4), v);
    const float *y = host(ctx, nb_softmax(a, 1));
    double e = exp(1.0), s = 1 + e + e * e;
    ck_assert(nb_close(y[0], 1 / s, 1e-5, 1e-7) && nb_close(y[2], e * e / s, 1e-5, 1e-7));
    ck_assert(y[3] == 0.0f);
    ck_assert(y[4] == 0.0f && y[7] == 0.0f);
    ck_assert(nb_close(y[6], exp(3.0) / (1 + exp(3.0)), 1e-5, 1e-7));
    const float *l = host(ctx, nb_log_softmax(a, 1));
    ck_assert(nb_close(l[3], -2000 - log(s), 1e-5, 1e-3));
    ck_assert(isinf(l[4]) && l[4] < 0);
    for (int i = 0; i < 8; i++)
        ck_assert(!isnan(y[i]));
    nb_ctx_free(ctx);
}
END_TEST

static nb_tensor *fn_softmax_last(nb_tensor **in, int n, void *u) {
    (void)n;
    return *(int *)u ? nb_log_softmax(in[0], -1) : nb_softmax(in[0], -1);
}
static nb_tensor *fn_softmax_dim0_view(nb_tensor **in, int n, void *u) {
    (void)n;
    nb_tensor *t = nb_transpose(in[0], 0, 2); /* [4,3,2] view of a [2,3,4] leaf */
    return *(int *)u ? nb_log_softmax(t, 0) : nb_softmax(t, 0);
}
static nb_tensor *fn_softmax_twice(nb_tensor **in, int n, void *u) {
    (void)n;
    nb_tensor *y = *(int *)u ? nb_log_softmax(in[0], 1) : nb_softmax(in[0], 1);
    return nb_mul(y, in[0]); /* x used twice */
}

START_TEST(test_softmax_grad) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 2);
    for (int lg = 0; lg < 2; lg++) {
        nb_tensor *x = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(3, 5)), true);
        ck_assert_int_eq(nb_gradcheck(fn_softmax_last, &x, 1, &lg, NULL), 1);
        nb_tensor *y = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(2, 3, 4)), true);
        ck_assert_msg(nb_gradcheck(fn_softmax_dim0_view, &y, 1, &lg, NULL) == 1, "%s", nb_last_error());
        ck_assert_msg(nb_gradcheck(fn_softmax_twice, &x, 1, &lg, NULL) == 1, "%s", nb_last_error());
    }
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_softmax_errors) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    expect_error(nb_softmax(a, 2), "softmax");
    expect_error(nb_log_softmax(a, -3), "log_softmax");
    expect_error(nb_softmax(nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3)), 0), "softmax");
    nb_clear_error();
    ck_assert_ptr_null(nb_softmax(NULL, 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "NULL input"));
    nb_ctx_free(ctx);
}
END_TEST

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

/* ---- cross-entropy ----------------------------------------------------------------------------- */

/* Mean cross-entropy over non-ignored rows in double (0 when none). */
static double ref_xent(const float *x, const int32_t *t, int64_t N, int64_t C, int ignore) {
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t r = 0; r < N; r++) {
        if (t[r] == ignore) continue;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            m = fmax(m, x[r * C + j]);
        for (int64_t j = 0; j < C; j++)
            s += exp(x[r * C + j] - m);
        sum += m + log(s) - x[r * C + t[r]];
        cnt++;
    }
    return cnt ? sum / (double)cnt : 0.0;
}

START_TEST(test_cross_entropy_forward) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 7);
    int32_t t[12] = {2, 0, -100, 4, 1, 1, -100, 3, 0, 4, 2, 2};
    nb_tensor *x = nb_mul_scalar(randn(ctx, &r, NB_SHAPE(12, 5)), 3.0f);
    const float *hx = host(ctx, x);
    nb_tensor *tt = nb_from_data(ctx, NB_I32, NB_SHAPE(12), t);
    nb_tensor *l = nb_cross_entropy(x, tt, -100);
    ck_assert_msg(l != NULL, "%s", nb_last_error());
    ck_assert_int_eq(l->ndim, 0);
    ck_assert(nb_close(nb_item(l), ref_xent(hx, t, 12, 5, -100), 1e-5, 1e-6));
    /* no ignored rows when ignore_index matches nothing (-100 is then a bad target) */
    t[2] = t[6] = 1;
    tt = nb_from_data(ctx, NB_I32, NB_SHAPE(12), t);
    ck_assert(nb_close(nb_item(nb_cross_entropy(x, tt, -1)), ref_xent(hx, t, 12, 5, -1), 1e-5, 1e-6));
    /* [B,T,C] logits with [B,T] targets and with flat [N] targets; non-contiguous logits */
    nb_tensor *x3 = nb_reshape(x, NB_SHAPE(3, 4, 5));
    nb_tensor *t2 = nb_from_data(ctx, NB_I32, NB_SHAPE(3, 4), t);
    double want = ref_xent(hx, t, 12, 5, 0);
    ck_assert(nb_close(nb_item(nb_cross_entropy(x3, t2, 0)), want, 1e-5, 1e-6));
    ck_assert(nb_close(nb_item(nb_cross_entropy(x3, tt, 0)), want, 1e-5, 1e-6));
    nb_tensor *xt = nb_transpose(randn(ctx, &r, NB_SHAPE(5, 12)), 0, 1);
    ck_assert(
        nb_close(nb_item(nb_cross_entropy(xt, tt, 4)), ref_xent(host(ctx, xt), t, 12, 5, 4), 1e-5, 1e-6));
    /* every target ignored: loss 0, gradient 0 */
    int32_t all[3] = {-1, -1, -1};
    nb_tensor *xa = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(3, 4)), true);
    nb_tensor *la = nb_cross_entropy(xa, nb_from_data(ctx, NB_I32, NB_SHAPE(3), all), -1);
    ck_assert(nb_item(la) == 0.0);
    ck_assert_int_eq(nb_backward(la), 0);
    const float *ga = host(ctx, xa->grad);
    for (int i = 0; i < 12; i++)
        ck_assert(ga[i] == 0.0f);
    nb_ctx_free(ctx);
}
END_TEST

/* A Baby GPT-sized vocabulary: loss and dlogits against double references. */
START_TEST(test_cross_entropy_large) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 8);
    const int64_t N = 12, C = 50257;
    nb_tensor *x = nb_requires_grad_(nb_detach(nb_mul_scalar(randn(ctx, &r, NB_SHAPE(N, C)), 2.0f)), true);
    int32_t t[12];
    for (int i = 0; i < N; i++)
        t[i] = (int32_t)((i * 7919 + 13) % C);
    t[5] = -100;
    nb_tensor *l = nb_cross_entropy(x, nb_from_data(ctx, NB_I32, NB_SHAPE(N), t), -100);
    const float *hx = nb_data_f32(x);
    ck_assert(nb_close(nb_item(l), ref_xent(hx, t, N, C, -100), 1e-5, 1e-6));
    ck_assert_int_eq(nb_backward(l), 0);
    const float *g = nb_data_f32(x->grad);
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            m = fmax(m, hx[i * C + j]);
        for (int64_t j = 0; j < C; j++)
            s += exp(hx[i * C + j] - m);
        for (int64_t j = 0; j < C; j++) {
            double want = t[i] == -100 ? 0 : (exp(hx[i * C + j] - m) / s - (j == t[i])) / (N - 1);
            ck_assert_msg(nb_close(g[i * C + j], want, 1e-4, 1e-9), "row %lld col %lld: %g vs %g",
                          (long long)i, (long long)j, (double)g[i * C + j], want);
        }
    }
    nb_ctx_free(ctx);
}
END_TEST

typedef struct {
    nb_tensor *t;
    int ignore;
} xent_args;
static nb_tensor *fn_xent(nb_tensor **in, int n, void *u) {
    (void)n;
    const xent_args *a = u;
    return nb_cross_entropy(in[0], a->t, a->ignore);
}
static nb_tensor *fn_xent_view_twice(nb_tensor **in, int n, void *u) {
    (void)n;
    const xent_args *a = u;
    nb_tensor *xt = nb_transpose(in[0], 0, 1); /* [6,4] view of a [4,6] leaf */
    return nb_add(nb_cross_entropy(xt, a->t, a->ignore), nb_mul_scalar(nb_sum_all(xt), 0.1f));
}

START_TEST(test_cross_entropy_grad) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 9);
    int32_t t[6] = {1, 3, -1, 0, 3, 2};
    xent_args a = {nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), t), -1};
    nb_tensor *x = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(2, 3, 4)), true);
    ck_assert_msg(nb_gradcheck(fn_xent, &x, 1, &a, NULL) == 1, "%s", nb_last_error());
    a.t = nb_from_data(ctx, NB_I32, NB_SHAPE(6), t);
    nb_tensor *y = nb_requires_grad_(randn(ctx, &r, NB_SHAPE(4, 6)), true);
    ck_assert_msg(nb_gradcheck(fn_xent_view_twice, &y, 1, &a, NULL) == 1, "%s", nb_last_error());
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_cross_entropy_errors) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 5));
    int32_t t[4] = {0, 4, 5, 1};
    expect_error(nb_cross_entropy(x, nb_from_data(ctx, NB_I32, NB_SHAPE(4), t), -100), "target 5 at row 2");
    t[2] = -3;
    expect_error(nb_cross_entropy(x, nb_from_data(ctx, NB_I32, NB_SHAPE(4), t), -100), "row 2");
    expect_error(nb_cross_entropy(x, nb_zeros(ctx, NB_I32, NB_SHAPE(3)), -100), "cross_entropy: targets [3]");
    expect_error(nb_cross_entropy(x, nb_zeros(ctx, NB_F32, NB_SHAPE(4)), -100), "cross_entropy");
    expect_error(
        nb_cross_entropy(nb_zeros(ctx, NB_I32, NB_SHAPE(4, 5)), nb_zeros(ctx, NB_I32, NB_SHAPE(4)), 0),
        "cross_entropy");
    expect_error(
        nb_cross_entropy(nb_zeros(ctx, NB_F32, NB_SHAPE(4, 0)), nb_zeros(ctx, NB_I32, NB_SHAPE(4)), 0),
        "cross_entropy");
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
    Suite *s = suite_create("ops_nn");
    TCase *tc = tcase_create("nn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_softmax_forward);
    tcase_add_test(tc, test_softmax_stable);
    tcase_add_test(tc, test_softmax_grad);
    tcase_add_test(tc, test_softmax_errors);
    tcase_add_test(tc, test_layer_norm_forward);
    tcase_add_test(tc, test_layer_norm_grad);
    tcase_add_test(tc, test_layer_norm_backward_many_rows);
    tcase_add_test(tc, test_layer_norm_errors);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_cross_entropy_forward);
    tcase_add_test(tc, test_cross_entropy_large);
    tcase_add_test(tc, test_cross_entropy_grad);
    tcase_add_test(tc, test_cross_entropy_errors);
    tcase_add_test(tc, test_dropout_mask);
    tcase_add_test(tc, test_dropout_grad);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
