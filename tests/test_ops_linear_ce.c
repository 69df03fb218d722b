/* tests/test_ops_linear_ce.c - nb_linear_cross_entropy (fused lm_head + cross-entropy): loss and
 * gradients against the composition nb_cross_entropy(nb_linear(x, w, b)) on many shapes and
 * chunk sizes, finite differences, upstream gradients, tied weights, errors, and the memory it
 * leaves out (no gradient buffers without grad, no [N,V] logits). Also the op with either path:
 * the backend's one-pass cross_entropy_fused kernel (tested on its own in tests/test_xent_fused.c)
 * or the two kernels (NABLA_LCE_UNFUSED=1). */
#include "tests/nb_check.h"

#include <math.h>
#include <stdint.h>

#include "backends/backend.h"
#include "nabla.h"
#include "ops/linear_ce.h"
#include "tests/nb_test_targets.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static nb_tensor *randn(nb_ctx *ctx, nb_rng *r, int nd, const int64_t *shape, float std) {
    nb_tensor *t = nb_randn(ctx, nd, shape, 0.0f, std, r);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* A leaf copy of t that requires grad (or not). */
static nb_tensor *leaf(nb_ctx *ctx, const nb_tensor *t, bool grad) {
    nb_tensor *c = nb_clone(ctx, t);
    ck_assert_ptr_nonnull(c);
    return nb_requires_grad_(c, grad);
}

/* Largest |a - b| relative to the largest |b| (a norm-wise relative error); both same shape. */
static double rel_diff(const nb_tensor *a, const nb_tensor *b) {
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(nb_numel(a), nb_numel(b));
    int64_t n = nb_numel(a);
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1)), *y = malloc(sizeof(float) * (size_t)(n ? n : 1));
    ck_assert(x && y);
    ck_assert_int_eq(nb_to_array(a, NB_F32, x), 0);
    ck_assert_int_eq(nb_to_array(b, NB_F32, y), 0);
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (d > md || d != d) md = d;
        if (fabs((double)y[i]) > mb) mb = fabs((double)y[i]);
    }
    free(x);
    free(y);
    return mb > 0 ? md / mb : md;
}

/* Asserts t is NULL and the last error mentions the op and `what`. */
static void expect_error(const nb_tensor *t, const char *what) {
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(nb_last_error(), "linear_cross_entropy") != NULL, "error '%s' lacks the op",
                  nb_last_error());
    ck_assert_msg(strstr(nb_last_error(), what) != NULL, "error '%s' lacks '%s'", nb_last_error(), what);
}

typedef struct {
    int nd;           /* ndim of x */
    int64_t shape[4]; /* x's shape, last = C */
    int V;
    bool bias;
    int chunk; /* forced rows per chunk (0: default) */
    int ignore_first, ignore_every;
    float upstream; /* the loss is multiplied by this before backward (1: plain backward) */
} lce_case;

/* Fused vs composed on copies of the same random inputs: loss and every gradient. */
static void check_case(const lce_case *k, uint64_t seed) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    nb_rng r;
    nb_rng_init(&r, seed);
    int64_t C = k->shape[k->nd - 1];
    nb_tensor *x0 = randn(ctx, &r, k->nd, k->shape, 1.0f);
    nb_tensor *w0 = randn(ctx, &r, NB_SHAPE(k->V, C), 0.5f);
    nb_tensor *b0 = k->bias ? randn(ctx, &r, NB_SHAPE(k->V), 0.5f) : NULL;
    nb_tensor *t =
        nb_test_targets(ctx, &r, k->nd - 1, k->shape, k->V, -100, k->ignore_first, k->ignore_every);
    nb_tensor *xf = leaf(ctx, x0, true), *wf = leaf(ctx, w0, true), *bf = b0 ? leaf(ctx, b0, true) : NULL;
    nb_tensor *xc = leaf(ctx, x0, true), *wc = leaf(ctx, w0, true), *bc = b0 ? leaf(ctx, b0, true) : NULL;
    int old = nb_linear_ce_set_chunk_rows(k->chunk);
    nb_tensor *lf = nb_linear_cross_entropy(xf, wf, bf, t, -100);
    nb_linear_ce_set_chunk_rows(old);
    ck_assert_msg(lf != NULL, "%s", nb_last_error());
    ck_assert_int_eq(lf->ndim, 0);
    nb_tensor *lc = nb_cross_entropy(nb_linear(xc, wc, bc), t, -100);
    ck_assert_msg(lc != NULL, "%s", nb_last_error());
    ck_assert_msg(nb_close(nb_item(lf), nb_item(lc), 1e-5, 1e-7), "loss %.9g vs %.9g", nb_item(lf),
                  nb_item(lc));
    if (k->upstream != 1.0f) {
        lf = nb_mul_scalar(lf, k->upstream);
        lc = nb_mul_scalar(lc, k->upstream);
    }
    ck_assert_msg(nb_backward(lf) == 0, "%s", nb_last_error());
    ck_assert_msg(nb_backward(lc) == 0, "%s", nb_last_error());
    double dx = rel_diff(xf->grad, xc->grad), dw = rel_diff(wf->grad, wc->grad);
    ck_assert_msg(dx < 1e-5, "dx differs by %g (relative)", dx);
    ck_assert_msg(dw < 1e-5, "dw differs by %g (relative)", dw);
    if (bf) {
        double db = rel_diff(bf->grad, bc->grad);
        ck_assert_msg(db < 1e-5, "db differs by %g (relative)", db);
    }
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
}

/* ---- against the composition ---------------------------------------------------------------- */

START_TEST(test_matches_composition) {
    const lce_case cases[] = {
        /* N smaller than one chunk (default chunk size), with and without bias */
        {2, {7, 5}, 11, true, 0, 2, 3, 1.0f},
        {2, {7, 5}, 11, false, 0, 0, 0, 1.0f},
        /* 3-D x, N = 30 not a multiple of the chunk (4), ignored rows */
        {3, {3, 10, 8}, 13, false, 4, 1, 5, 1.0f},
        {3, {3, 10, 8}, 13, true, 4, 1, 5, 1.0f},
        /* one row per chunk (many chunks), and a chunk of rows that are all ignored */
        {2, {9, 6}, 17, true, 1, 0, 2, 1.0f},
        {2, {12, 6}, 17, true, 4, 4, 1, 1.0f}, /* rows 4.. all ignored: chunks 2 and 3 empty */
        /* chunk bigger than N, chunk equal to N */
        {2, {10, 4}, 9, true, 64, 0, 0, 1.0f},
        {2, {10, 4}, 9, true, 10, 0, 0, 1.0f},
        /* an upstream gradient != 1 scales every gradient */
        {3, {2, 5, 6}, 10, true, 3, 0, 4, 3.0f},
        {2, {6, 6}, 10, false, 0, 0, 0, -0.25f},
        /* a Baby GPT vocabulary: the default chunk (64 rows here) splits N = 100 in two */
        {2, {100, 16}, 50257, false, 0, 3, 7, 1.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_case(&cases[i], 100 + i);
}
END_TEST

/* NABLA_LCE_CHUNK, read at each call, also sets the chunk size. */
START_TEST(test_env_chunk) {
    setenv("NABLA_LCE_CHUNK", "3", 1);
    lce_case k = {2, {11, 5}, 7, true, 0, 1, 4, 1.0f};
    check_case(&k, 5);
    unsetenv("NABLA_LCE_CHUNK");
}
END_TEST

/* w given as a transposed view of a [C,V] leaf; only some inputs requiring grad. */
START_TEST(test_views_and_partial_grads) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    nb_rng r;
    nb_rng_init(&r, 3);
    nb_tensor *x0 = randn(ctx, &r, NB_SHAPE(10, 6), 1.0f), *wt0 = randn(ctx, &r, NB_SHAPE(6, 15), 0.5f);
    nb_tensor *b0 = randn(ctx, &r, NB_SHAPE(15), 0.5f);
    nb_tensor *t = nb_test_targets(ctx, &r, NB_SHAPE(10), 15, -1, 2, 3);
    for (int mode = 0; mode < 3; mode++) { /* 0: all, 1: only w, 2: only b (x, w frozen) */
        nb_tensor *xf = leaf(ctx, x0, mode == 0), *xc = leaf(ctx, x0, mode == 0);
        nb_tensor *Wf = leaf(ctx, wt0, mode < 2), *Wc = leaf(ctx, wt0, mode < 2);
        nb_tensor *bf = leaf(ctx, b0, mode != 1), *bc = leaf(ctx, b0, mode != 1);
        nb_linear_ce_set_chunk_rows(3);
        nb_tensor *lf = nb_linear_cross_entropy(xf, nb_transpose(Wf, 0, 1), bf, t, -1);
        nb_linear_ce_set_chunk_rows(0);
        nb_tensor *lc = nb_cross_entropy(nb_linear(xc, nb_transpose(Wc, 0, 1), bc), t, -1);
        ck_assert_msg(lf && lc, "%s", nb_last_error());
        ck_assert(nb_close(nb_item(lf), nb_item(lc), 1e-5, 1e-7));
        ck_assert_int_eq(nb_backward(lf), 0);
        ck_assert_int_eq(nb_backward(lc), 0);
        if (mode == 0)
            ck_assert(rel_diff(xf->grad, xc->grad) < 1e-5);
        else
            ck_assert_ptr_null(xf->grad);
        if (mode < 2)
            ck_assert(rel_diff(Wf->grad, Wc->grad) < 1e-5);
        else
            ck_assert_ptr_null(Wf->grad);
        if (mode != 1)
            ck_assert(rel_diff(bf->grad, bc->grad) < 1e-5);
        else
            ck_assert_ptr_null(bf->grad);
    }
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
}
END_TEST

/* Tied weights: w is both the embedding table that makes x and the output projection, so its
 * gradient is the sum of both uses. */
START_TEST(test_tied_weights) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    nb_rng r;
    nb_rng_init(&r, 4);
    const int V = 19, C = 8;
    nb_tensor *w0 = randn(ctx, &r, NB_SHAPE(V, C), 0.5f);
    nb_tensor *ids = nb_test_targets(ctx, &r, NB_SHAPE(2, 7), V, -1, 0, 0);
    nb_tensor *t = nb_test_targets(ctx, &r, NB_SHAPE(2, 7), V, -1, 5, 6);
    nb_tensor *wf = leaf(ctx, w0, true), *wc = leaf(ctx, w0, true);
    nb_linear_ce_set_chunk_rows(4);
    nb_tensor *xf = nb_tanh(nb_embedding(wf, ids));
    nb_tensor *lf = nb_linear_cross_entropy(xf, wf, NULL, t, -1);
    nb_linear_ce_set_chunk_rows(0);
    nb_tensor *lc = nb_cross_entropy(nb_linear(nb_tanh(nb_embedding(wc, ids)), wc, NULL), t, -1);
    ck_assert_msg(lf && lc, "%s", nb_last_error());
    ck_assert(nb_close(nb_item(lf), nb_item(lc), 1e-5, 1e-7));
    ck_assert_int_eq(nb_backward(lf), 0);
    ck_assert_int_eq(nb_backward(lc), 0);
    double d = rel_diff(wf->grad, wc->grad);
    ck_assert_msg(d < 1e-5, "tied dw differs by %g", d);
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
}
END_TEST

/* Every target ignored: loss 0 (as nb_cross_entropy), every gradient 0. */
START_TEST(test_all_ignored) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 6);
    nb_tensor *x = leaf(ctx, randn(ctx, &r, NB_SHAPE(5, 4), 1.0f), true);
    nb_tensor *w = leaf(ctx, randn(ctx, &r, NB_SHAPE(7, 4), 1.0f), true);
    nb_tensor *b = leaf(ctx, randn(ctx, &r, NB_SHAPE(7), 1.0f), true);
    nb_tensor *t = nb_test_targets(ctx, &r, NB_SHAPE(5), 7, 3, 0, 1);
    nb_linear_ce_set_chunk_rows(2);
    nb_tensor *l = nb_linear_cross_entropy(x, w, b, t, 3);
    nb_linear_ce_set_chunk_rows(0);
    ck_assert_msg(l != NULL, "%s", nb_last_error());
    ck_assert(nb_item(l) == 0.0);
    ck_assert(nb_item(nb_cross_entropy(nb_linear(x, w, b), t, 3)) == 0.0);
    ck_assert_int_eq(nb_backward(l), 0);
    nb_tensor *gs[3] = {x->grad, w->grad, b->grad};
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(gs[i]);
        ck_assert(nb_sumsq(gs[i]) == 0.0);
    }
    /* no rows at all: the same */
    nb_tensor *x0 = nb_requires_grad_(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 4)), true);
    nb_tensor *w0 = leaf(ctx, w, true);
    nb_tensor *l0 = nb_linear_cross_entropy(x0, w0, NULL, nb_zeros(ctx, NB_I32, NB_SHAPE(0)), 3);
    ck_assert_msg(l0 != NULL, "%s", nb_last_error());
    ck_assert(nb_item(l0) == 0.0);
    ck_assert_int_eq(nb_backward(l0), 0);
    ck_assert_ptr_nonnull(w0->grad);
    ck_assert(nb_sumsq(w0->grad) == 0.0);
    nb_ctx_free(ctx);
}
END_TEST

/* ---- finite differences ------------------------------------------------------------------------ */

typedef struct {
    nb_tensor *t;
    int ignore, chunk;
    bool bias;
} fn_args;

static nb_tensor *fn_lce(nb_tensor **in, int n, void *u) {
    (void)n;
    const fn_args *a = u;
    int old = nb_linear_ce_set_chunk_rows(a->chunk);
    nb_tensor *l = nb_linear_cross_entropy(in[0], in[1], a->bias ? in[2] : NULL, a->t, a->ignore);
    nb_linear_ce_set_chunk_rows(old);
    return l;
}

START_TEST(test_gradcheck) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    nb_rng r;
    nb_rng_init(&r, 9);
    nb_gradcheck_opts o = {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-2};
    for (int chunk = 0; chunk <= 2; chunk += 2) {
        nb_tensor *in[3] = {leaf(ctx, randn(ctx, &r, NB_SHAPE(2, 3, 4), 1.0f), true),
                            leaf(ctx, randn(ctx, &r, NB_SHAPE(6, 4), 1.0f), true),
                            leaf(ctx, randn(ctx, &r, NB_SHAPE(6), 1.0f), true)};
        fn_args a = {nb_test_targets(ctx, &r, NB_SHAPE(2, 3), 6, -1, 1, 4), -1, chunk, true};
        ck_assert_msg(nb_gradcheck(fn_lce, in, 3, &a, &o) == 1, "%s", nb_last_error());
        a.bias = false;
        ck_assert_msg(nb_gradcheck(fn_lce, in, 2, &a, &o) == 1, "%s", nb_last_error());
    }
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------------- */

START_TEST(test_errors) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    nb_rng r;
    nb_rng_init(&r, 10);
    nb_tensor *x = randn(ctx, &r, NB_SHAPE(4, 3), 1.0f), *w = randn(ctx, &r, NB_SHAPE(5, 3), 1.0f);
    nb_tensor *t = nb_test_targets(ctx, &r, NB_SHAPE(4), 5, -1, 0, 0);
    ck_assert_ptr_nonnull(nb_linear_cross_entropy(x, w, NULL, t, -1));
    /* shapes */
    expect_error(nb_linear_cross_entropy(x, randn(ctx, &r, NB_SHAPE(15), 1.0f), NULL, t, -1), "2-D");
    expect_error(nb_linear_cross_entropy(x, randn(ctx, &r, NB_SHAPE(5, 4), 1.0f), NULL, t, -1), "[4,3]");
    expect_error(nb_linear_cross_entropy(x, w, randn(ctx, &r, NB_SHAPE(4), 1.0f), t, -1), "bias [4]");
    expect_error(nb_linear_cross_entropy(x, w, NULL, nb_test_targets(ctx, &r, NB_SHAPE(3), 5, -1, 0, 0), -1),
                 "targets [3]");
    expect_error(
        nb_linear_cross_entropy(x, w, NULL, nb_test_targets(ctx, &r, NB_SHAPE(2, 2), 5, -1, 0, 0), -1),
        "targets [2,2]");
    /* dtypes */
    expect_error(nb_linear_cross_entropy(x, w, NULL, nb_cast(t, NB_F32), -1), "i32");
    expect_error(nb_linear_cross_entropy(nb_cast(x, NB_I32), w, NULL, t, -1), "f32");
    /* targets out of range, unless ignored */
    int32_t bad[4] = {0, 5, 1, 2}, neg[4] = {0, 1, -3, 2};
    expect_error(nb_linear_cross_entropy(x, w, NULL, nb_from_data(ctx, NB_I32, NB_SHAPE(4), bad), -1),
                 "target 5 at row 1");
    expect_error(nb_linear_cross_entropy(x, w, NULL, nb_from_data(ctx, NB_I32, NB_SHAPE(4), neg), -1),
                 "target -3 at row 2");
    ck_assert_ptr_nonnull(
        nb_linear_cross_entropy(x, w, NULL, nb_from_data(ctx, NB_I32, NB_SHAPE(4), neg), -3));
    /* NULL inputs propagate */
    ck_assert_ptr_null(nb_linear_cross_entropy(NULL, w, NULL, t, -1));
    ck_assert_ptr_null(nb_linear_cross_entropy(x, NULL, NULL, t, -1));
    ck_assert_ptr_null(nb_linear_cross_entropy(x, w, NULL, NULL, -1));
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
}
END_TEST

/* ---- memory ------------------------------------------------------------------------------------ */

/* Without grad (grad mode off, or nothing requiring grad) only the chunk buffer (given back to the
 * context at the end) and a few small tensors are made; with grad, dw and dx are added but never
 * the [N,V] logits. */
START_TEST(test_memory) {
    nb_ctx *keep = nb_ctx_new(0), *step = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 11);
    const int64_t N = 256, C = 16, V = 4000, R = 64;
    nb_tensor *x = leaf(keep, randn(keep, &r, NB_SHAPE(N, C), 1.0f), true);
    nb_tensor *w = leaf(keep, randn(keep, &r, NB_SHAPE(V, C), 0.1f), true);
    nb_tensor *t = nb_test_targets(keep, &r, NB_SHAPE(N), (int)V, -1, 0, 9);
    nb_ctx *prev = nb_ctx_use(step);
    nb_linear_ce_set_chunk_rows((int)R);
    size_t chunk = (size_t)(R * V) * sizeof(float), small = 64 * 1024;
    bool g = nb_no_grad_begin();
    nb_tensor *l0 = nb_linear_cross_entropy(x, w, NULL, t, -1);
    nb_no_grad_end(g);
    ck_assert_msg(l0 != NULL, "%s", nb_last_error());
    ck_assert_ptr_null(l0->node);
    size_t used_nograd = nb_ctx_used(step);
    ck_assert_msg(used_nograd <= chunk + small, "no-grad used %zu bytes (chunk %zu)", used_nograd, chunk);
    /* the chunk buffer was there at the peak, and is given back to the context afterwards */
    ck_assert_msg(nb_ctx_peak(step) >= chunk, "peak %zu < chunk %zu", nb_ctx_peak(step), chunk);
    ck_assert_msg(used_nograd < small, "no-grad keeps %zu bytes", used_nograd);
    /* nothing requires grad: the same */
    nb_ctx_reset(step);
    nb_tensor *xd = nb_detach(x), *wd = nb_detach(w);
    ck_assert_ptr_nonnull(nb_linear_cross_entropy(xd, wd, NULL, t, -1));
    ck_assert_msg(nb_ctx_used(step) <= chunk + small, "detached used %zu", nb_ctx_used(step));
    /* with grad: dx and dw on top, still far below the [N,V] logits plus their gradient */
    nb_ctx_reset(step);
    nb_tensor *l1 = nb_linear_cross_entropy(x, w, NULL, t, -1);
    ck_assert_ptr_nonnull(l1);
    size_t used_grad = nb_ctx_used(step), dxw = (size_t)((N + V) * C) * sizeof(float);
    ck_assert_msg(used_grad >= used_nograd + dxw, "grad used %zu, no-grad %zu", used_grad, used_nograd);
    ck_assert_msg(used_grad <= chunk + dxw + small, "grad used %zu", used_grad);
    ck_assert_msg(used_grad < (size_t)(N * V) * sizeof(float), "grad used %zu", used_grad);
    ck_assert(nb_close(nb_item(l0), nb_item(l1), 1e-6, 0));
    nb_linear_ce_set_chunk_rows(0);
    nb_ctx_use(prev);
    nb_ctx_free(step);
    nb_ctx_free(keep);
}
END_TEST

/* nb_linear_cross_entropy gives the same loss and gradients with the one-pass kernel as with the
 * two kernels (NABLA_LCE_UNFUSED=1), and both match the composition. */
START_TEST(test_fused_vs_two_kernel_op) {
    const lce_case cases[] = {
        {3, {3, 10, 8}, 13, true, 4, 1, 5, 1.0f},
        {2, {12, 6}, 17, true, 4, 4, 1, 1.0f},
        {2, {100, 16}, 50257, false, 0, 3, 7, 2.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        setenv("NABLA_LCE_UNFUSED", "1", 1);
        check_case(&cases[i], 300 + i);
        unsetenv("NABLA_LCE_UNFUSED");
        check_case(&cases[i], 300 + i);
    }
    /* fused vs unfused directly */
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    nb_rng r;
    nb_rng_init(&r, 31);
    nb_tensor *x0 = randn(ctx, &r, NB_SHAPE(40, 12), 1.0f), *w0 = randn(ctx, &r, NB_SHAPE(3001, 12), 0.5f);
    nb_tensor *t = nb_test_targets(ctx, &r, NB_SHAPE(40), 3001, -1, 0, 6);
    nb_tensor *g[2][2], *l[2];
    for (int u = 0; u < 2; u++) {
        if (u) setenv("NABLA_LCE_UNFUSED", "1", 1);
        nb_tensor *x = leaf(ctx, x0, true), *w = leaf(ctx, w0, true);
        nb_linear_ce_set_chunk_rows(16);
        l[u] = nb_linear_cross_entropy(x, w, NULL, t, -1);
        nb_linear_ce_set_chunk_rows(0);
        unsetenv("NABLA_LCE_UNFUSED");
        ck_assert_msg(l[u] && nb_backward(l[u]) == 0, "%s", nb_last_error());
        g[u][0] = x->grad, g[u][1] = w->grad;
    }
    ck_assert_msg(nb_close(nb_item(l[0]), nb_item(l[1]), 1e-6, 0), "loss %.9g vs %.9g", nb_item(l[0]),
                  nb_item(l[1]));
    ck_assert_msg(rel_diff(g[0][0], g[1][0]) < 2e-6, "dx %g", rel_diff(g[0][0], g[1][0]));
    ck_assert_msg(rel_diff(g[0][1], g[1][1]) < 2e-6, "dw %g", rel_diff(g[0][1], g[1][1]));
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_linear_ce");
    TCase *tc = tcase_create("linear_ce");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matches_composition);
    tcase_add_test(tc, test_env_chunk);
    tcase_add_test(tc, test_views_and_partial_grads);
    tcase_add_test(tc, test_tied_weights);
    tcase_add_test(tc, test_all_ignored);
    tcase_add_test(tc, test_gradcheck);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_fused_vs_two_kernel_op);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
