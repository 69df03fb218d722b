/* tests/test_xent_fused.c - the CPU backend's one-pass cross-entropy kernel (cross_entropy_fused,
 * used by nb_linear_cross_entropy): loss, lse and the in-place dlogits against a double-precision
 * reference and against the two kernels (cross_entropy + cross_entropy_backward), ignored rows,
 * extreme logits, bit-identical results across thread counts, and bad targets. */
#include "tests/nb_check.h"

#include <math.h>
#include <stdint.h>

#include "backends/backend.h"
#include "nabla.h"
#include "tests/nb_test_targets.h"

/* ---- the backend's one-pass cross-entropy (cross_entropy_fused) ------------------------------ */

/* f32 contents of t (malloc'd, caller frees). */
static float *host_f32(const nb_tensor *t) {
    int64_t n = nb_numel(t);
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(nb_to_array(t, NB_F32, p), 0);
    return p;
}

/* The results of one cross-entropy pass: loss (0-d), lse [N,2] (max, log-sum), dlogits [N,C]
 * (host copies). */
typedef struct {
    double loss;
    float *lse, *d;
} xent_out;

static void xent_out_free(xent_out *o) {
    free(o->lse);
    free(o->d);
}

/* The fused kernel on a copy of X [N,C] (the in-place result is dlogits). */
static xent_out run_fused(const nb_backend *be, nb_ctx *ctx, const nb_tensor *X, const nb_tensor *t,
                          int ignore, float k) {
    nb_tensor *d = nb_clone(ctx, X), *lse = nb_zeros(ctx, NB_F32, NB_SHAPE(X->shape[0], 2));
    nb_tensor *loss = nb_zeros(ctx, NB_F32, 0, NULL);
    ck_assert(d && lse && loss);
    ck_assert_msg(be->cross_entropy_fused(loss, lse, d, t, ignore, k) == 0, "%s", nb_last_error());
    return (xent_out){nb_item(loss), host_f32(lse), host_f32(d)};
}

/* The two kernels (cross_entropy, then cross_entropy_backward with g = k * count, so that both
 * scale the gradient by k); the loss is turned from the mean into k * sum. */
static xent_out run_two(const nb_backend *be, nb_ctx *ctx, const nb_tensor *X, const nb_tensor *t, int ignore,
                        float k, int64_t count) {
    nb_tensor *d = nb_zeros(ctx, NB_F32, 2, X->shape), *lse = nb_zeros(ctx, NB_F32, NB_SHAPE(X->shape[0], 2));
    nb_tensor *loss = nb_zeros(ctx, NB_F32, 0, NULL), *g = nb_scalar(ctx, k * (float)count);
    ck_assert(d && lse && loss && g);
    ck_assert_msg(be->cross_entropy(loss, lse, X, t, ignore) == 0, "%s", nb_last_error());
    ck_assert_msg(be->cross_entropy_backward(d, g, X, t, lse, ignore) == 0, "%s", nb_last_error());
    return (xent_out){nb_item(loss) * (double)count * (double)k, host_f32(lse), host_f32(d)};
}

/* Logits of N rows, C classes: row r is scale * U(-1, 1) + offset, and the last row (when
 * `extreme`) mixes huge, tiny and ordinary values. */
static nb_tensor *xent_logits(nb_ctx *ctx, nb_rng *r, int64_t N, int64_t C, float scale, float offset,
                              bool extreme) {
    float *x = malloc(sizeof(float) * (size_t)(N * C));
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < N * C; i++)
        x[i] = scale * (2.0f * nb_rng_uniform(r) - 1.0f) + offset;
    if (extreme && N > 0 && C >= 4) {
        float *row = x + (N - 1) * C;
        row[0] = 1e30f, row[1] = -1e30f, row[2] = 0.0f, row[C - 1] = 1e30f; /* two equal maxima */
    }
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), x);
    free(x);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Asserts a result against a double-precision reference: the row's max exactly, its log-sum and
 * the loss to ~1e-6 relative (of log-sum and x[target] - max, whatever the logits' offset),
 * every dlogit to 4e-6 of itself plus 2e-6 k (the target's k * (p - 1) cancels). */
static void check_vs_reference(const xent_out *f, const float *X, const int32_t *T, int64_t N, int64_t C,
                               int ignore, float k) {
    double loss = 0.0, lse_abs = 0.0;
    for (int64_t r = 0; r < N; r++) {
        const float *x = X + r * C;
        const float *d = f->d + r * C;
        if (T[r] == ignore) {
            ck_assert(f->lse[2 * r] == 0.0f && f->lse[2 * r + 1] == 0.0f);
            for (int64_t j = 0; j < C; j++)
                ck_assert_msg(d[j] == 0.0f, "ignored row %lld col %lld: %g", (long long)r, (long long)j,
                              (double)d[j]);
            continue;
        }
        double m = -INFINITY, s = 0.0;
        for (int64_t j = 0; j < C; j++)
            m = x[j] > m ? x[j] : m;
        for (int64_t j = 0; j < C; j++)
            s += exp((double)x[j] - m);
        ck_assert_msg(f->lse[2 * r] == (float)m, "row %lld: max %.9g vs %.9g", (long long)r,
                      (double)f->lse[2 * r], m);
        ck_assert_msg(isfinite(f->lse[2 * r + 1]) && nb_close(f->lse[2 * r + 1], log(s), 1e-6, 1e-6),
                      "row %lld: log-sum %.9g vs %.9g", (long long)r, (double)f->lse[2 * r + 1], log(s));
        loss += log(s) - ((double)x[T[r]] - m);
        lse_abs += fabs(log(s)) + fabs((double)x[T[r]] - m);
        for (int64_t j = 0; j < C; j++) {
            double want = (double)k * (exp((double)x[j] - m) / s - (j == T[r] ? 1.0 : 0.0));
            ck_assert_msg(isfinite(d[j]) && fabs(d[j] - want) <= 4e-6 * fabs(want) + 2e-6 * fabs((double)k),
                          "row %lld col %lld: dlogit %.9g vs %.9g", (long long)r, (long long)j, (double)d[j],
                          want);
        }
    }
    /* each row's log-sum - (x[target] - max): up to an ulp of each part */
    loss *= k;
    double atol = 1e-6 + fabs((double)k) * lse_abs * 2.4e-7;
    ck_assert_msg(isfinite(f->loss) && nb_close(f->loss, loss, 2e-6, atol), "loss %.9g vs %.9g", f->loss,
                  loss);
}

typedef struct {
    int64_t N, C;
    float scale, offset;
    bool extreme;
    int ignore_first, ignore_every; /* every <= 0: none ignored; every 1 from 0: all */
    float k;
} xent_case;

/* One case: fused vs the double reference, and vs the two kernels (loss, lse, dlogits). */
static void check_xent_case(const xent_case *c, uint64_t seed) {
    const nb_backend *be = nb_backend_get(NB_CPU);
    ck_assert_ptr_nonnull(be);
    ck_assert(be->cross_entropy_fused != NULL);
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, seed);
    nb_tensor *X = xent_logits(ctx, &r, c->N, c->C, c->scale, c->offset, c->extreme);
    nb_tensor *t =
        nb_test_targets(ctx, &r, NB_SHAPE(c->N), (int)c->C, -100, c->ignore_first, c->ignore_every);
    int32_t *T = malloc(sizeof(int32_t) * (size_t)(c->N ? c->N : 1));
    ck_assert_ptr_nonnull(T);
    ck_assert_int_eq(nb_to_array(t, NB_I32, T), 0);
    if (c->extreme && c->N > 0) T[c->N - 1] = 0; /* the target on one of the two maxima */
    t = nb_from_data(ctx, NB_I32, NB_SHAPE(c->N), T);
    int64_t count = 0;
    for (int64_t i = 0; i < c->N; i++)
        count += T[i] != -100;
    float *X_h = host_f32(X);
    xent_out f = run_fused(be, ctx, X, t, -100, c->k);
    check_vs_reference(&f, X_h, T, c->N, c->C, -100, c->k);
    /* the logits given to the two kernels are unchanged (run_fused worked on a copy) */
    xent_out two = run_two(be, ctx, X, t, -100, c->k, count);
    if (!c->extreme) check_vs_reference(&two, X_h, T, c->N, c->C, -100, c->k);
    if (!c->extreme && fabsf(c->offset) < 100.0f) { /* both paths are accurate to ~1e-6 here */
        ck_assert_msg(nb_close(f.loss, two.loss, 1e-6, 1e-7), "loss fused %.9g, two kernels %.9g", f.loss,
                      two.loss);
        double md = 0.0, mb = 0.0;
        for (int64_t i = 0; i < c->N * c->C; i++) {
            md = fmax(md, fabs((double)f.d[i] - (double)two.d[i]));
            mb = fmax(mb, fabs((double)two.d[i]));
        }
        ck_assert_msg(md <= 1e-6 * mb, "dlogits differ by %g (largest %g)", md, mb);
        for (int64_t i = 0; i < 2 * c->N; i++)
            ck_assert_msg(nb_close(f.lse[i], two.lse[i], 1e-6, 1e-6), "lse %lld: %.9g vs %.9g", (long long)i,
                          (double)f.lse[i], (double)two.lse[i]);
    }
    xent_out_free(&f);
    xent_out_free(&two);
    free(X_h);
    free(T);
    nb_ctx_free(ctx);
}

START_TEST(test_fused_kernel) {
    const xent_case cases[] = {
        /* C not a multiple of any vector width, some rows ignored */
        {7, 13, 3.0f, 0.0f, false, 1, 3, 0.25f},
        {9, 1, 3.0f, 0.0f, false, 0, 4, 1.0f},            /* one class: softmax 1, gradient 0 */
        {5, 37, 3.0f, 0.0f, false, 0, 0, 0.1f},           /* nothing ignored */
        {6, 37, 3.0f, 0.0f, false, 0, 1, 0.5f},           /* everything ignored: loss 0, dlogits 0 */
        {0, 11, 3.0f, 0.0f, false, 0, 0, 1.0f},           /* no rows */
        {3, 50257, 4.0f, 0.0f, false, 1, 5, 1.0f / 3.0f}, /* a GPT-2 vocabulary */
        /* huge and tiny logits: max subtracted, nothing overflows */
        {4, 1001, 30.0f, 1e4f, true, 0, 0, 1.0f},
        {4, 1001, 30.0f, -1e4f, true, 2, 9, 1.0f},
        {4, 1001, 80.0f, 0.0f, true, 0, 0, 2.0f},
        /* logits far from 0: the loss and gradients as precise as at 0 (max + log-sum would
         * round to the offset's ulp, 0.06 at 1e6) */
        {5, 301, 3.0f, 1e6f, false, 1, 4, 1.0f},
        {5, 301, 200.0f, -1e8f, false, 0, 0, 0.5f}, /* floats 8 apart there: a scale of 200 */
        /* enough rows * columns for the rows to run in parallel */
        {64, 1031, 5.0f, 0.0f, false, 3, 7, 1.0f / 64.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_xent_case(&cases[i], 200 + i);
}
END_TEST

/* Bit-identical run to run and for any thread count; a bad target fails before anything is
 * written, with a message naming the target and row. */
START_TEST(test_fused_kernel_deterministic_and_errors) {
    const nb_backend *be = nb_backend_get(NB_CPU);
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng r;
    nb_rng_init(&r, 21);
    const int64_t N = 48, C = 5003;
    nb_tensor *X = xent_logits(ctx, &r, N, C, 6.0f, 0.0f, false);
    nb_tensor *t = nb_test_targets(ctx, &r, NB_SHAPE(N), (int)C, -1, 2, 5);
    int old = nb_get_num_threads();
    xent_out a = run_fused(be, ctx, X, t, -1, 0.01f);
    nb_set_num_threads(1);
    xent_out b = run_fused(be, ctx, X, t, -1, 0.01f);
    nb_set_num_threads(old);
    xent_out c = run_fused(be, ctx, X, t, -1, 0.01f);
    ck_assert(a.loss == b.loss && a.loss == c.loss);
    ck_assert(memcmp(a.lse, b.lse, sizeof(float) * 2 * N) == 0 &&
              memcmp(a.lse, c.lse, sizeof(float) * 2 * N) == 0);
    ck_assert(memcmp(a.d, b.d, sizeof(float) * N * C) == 0 && memcmp(a.d, c.d, sizeof(float) * N * C) == 0);
    xent_out_free(&a);
    xent_out_free(&b);
    xent_out_free(&c);
    /* target 11 at row 2 is out of [0, 10): error, logits untouched */
    int32_t tb[4] = {0, 9, 11, -1};
    nb_tensor *Xs = xent_logits(ctx, &r, 4, 10, 1.0f, 0.0f, false), *Xc = nb_clone(ctx, Xs);
    nb_tensor *lse = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 2)), *loss = nb_zeros(ctx, NB_F32, 0, NULL);
    nb_tensor *tt = nb_from_data(ctx, NB_I32, NB_SHAPE(4), tb);
    ck_assert_int_eq(be->cross_entropy_fused(loss, lse, Xc, tt, -1, 1.0f), -1);
    ck_assert_msg(strstr(nb_last_error(), "target 11 at row 2") != NULL, "%s", nb_last_error());
    float *x0 = host_f32(Xs), *x1 = host_f32(Xc);
    ck_assert(memcmp(x0, x1, sizeof(float) * 40) == 0);
    free(x0);
    free(x1);
    tb[2] = -5;
    tt = nb_from_data(ctx, NB_I32, NB_SHAPE(4), tb);
    ck_assert_int_eq(be->cross_entropy_fused(loss, lse, Xc, tt, -1, 1.0f), -1);
    ck_assert_msg(strstr(nb_last_error(), "target -5 at row 2") != NULL, "%s", nb_last_error());
    nb_ctx_free(ctx);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("xent_fused");
    TCase *tc = tcase_create("xent_fused");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fused_kernel);
    tcase_add_test(tc, test_fused_kernel_deterministic_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
