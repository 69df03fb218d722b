/* nb_ctc_loss against a brute-force sum over every alignment (tiny sizes, double), its gradient
 * by finite differences, variable lengths, the reductions, zero_infinity, and the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 19)

enum { T = 5, N = 3, C = 4, S = 3 };

/* -log of the summed probability of every path of length tn over C classes whose collapse
 * (repeats merged, blanks 0 dropped) is the target */
static double brute(const float *lp, int n, int tn, const int32_t *tgt, int sn) {
    int path[T] = {0};
    double total = 0;
    for (;;) {
        int col[T], m = 0, prev = -1;
        for (int t = 0; t < tn; t++) {
            if (path[t] != prev && path[t] != 0) col[m++] = path[t];
            prev = path[t];
        }
        bool same = m == sn;
        for (int k = 0; same && k < m; k++)
            same = col[k] == tgt[k];
        if (same) {
            double lpsum = 0;
            for (int t = 0; t < tn; t++)
                lpsum += lp[(t * N + n) * C + path[t]];
            total += exp(lpsum);
        }
        int t = 0;
        while (t < tn && ++path[t] == C)
            path[t++] = 0;
        if (t == tn) break;
    }
    return -log(total);
}

static const int32_t TG[N * S] = {1, 2, 2, 3, 0, 0, 1, 1, 0};
static const int64_t TL[N] = {3, 1, 2}, IL[N] = {5, 3, 4};

static nb_tensor *logits_to_lp(nb_tensor *x) { return nb_log_softmax(x, -1); }

START_TEST(against_brute_force) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(T, N, C), 0, 1, &rng);
    nb_tensor *lp = logits_to_lp(x);
    nb_tensor *tg = nb_from_data(ctx, NB_I32, NB_SHAPE(N, S), TG);
    nb_tensor *each = nb_ctc_loss(lp, tg, IL, TL, 0, NB_REDUCE_NONE, false);
    ck_assert_msg(each != NULL, "%s", nb_last_error());
    double mean = 0, sum = 0;
    for (int n = 0; n < N; n++) {
        const double want = brute(nb_data_f32(lp), n, (int)IL[n], TG + n * S, (int)TL[n]);
        ck_assert_msg(nb_close(nb_data_f32(each)[n], want, 1e-5, 1e-5), "sample %d: %g vs %g", n,
                      (double)nb_data_f32(each)[n], want);
        sum += want, mean += want / (double)(TL[n] > 1 ? TL[n] : 1);
    }
    ck_assert(nb_close(nb_item(nb_ctc_loss(lp, tg, IL, TL, 0, NB_REDUCE_SUM, false)), sum, 1e-5, 1e-5));
    ck_assert(nb_close(nb_item(nb_ctc_loss(lp, tg, IL, TL, 0, NB_REDUCE_MEAN, false)), mean / N, 1e-5, 1e-5));
}
END_TEST

static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *tg = nb_from_data(ctx, NB_I32, NB_SHAPE(N, S), TG);
    return nb_ctc_loss(logits_to_lp(in[0]), tg, IL, TL, 0, NB_REDUCE_MEAN, false);
}

START_TEST(gradient) {
    nb_tensor *in[1] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(T, N, C), 0, 1, &rng), true)};
    ck_assert_msg(nb_gradcheck(gc_fn, in, 1, NULL, NULL) == 1, "%s", nb_last_error());
    /* an impossible alignment (3 labels, the last two equal, in 3 frames: needs 4): inf, with
     * a gradient free of NaN elsewhere; zero_infinity makes it 0 */
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(T, N, C), 0, 1, &rng), true);
    const int64_t il[N] = {3, 3, 5};
    nb_tensor *tg = nb_from_data(ctx, NB_I32, NB_SHAPE(N, S), TG);
    nb_tensor *each = nb_ctc_loss(logits_to_lp(x), tg, il, TL, 0, NB_REDUCE_NONE, false);
    ck_assert(each && isinf(nb_data_f32(each)[0]) && isfinite(nb_data_f32(each)[1]));
    nb_tensor *z = nb_ctc_loss(logits_to_lp(x), tg, il, TL, 0, NB_REDUCE_SUM, true);
    ck_assert(z && isfinite(nb_item(z)));
    ck_assert_int_eq(nb_backward(z), 0);
    for (int64_t i = 0; i < nb_numel(x); i++)
        ck_assert(isfinite(nb_data_f32(x->grad)[i]));
}
END_TEST

START_TEST(refusals) {
    nb_tensor *lp = nb_zeros(ctx, NB_F32, NB_SHAPE(T, N, C));
    nb_tensor *tg = nb_from_data(ctx, NB_I32, NB_SHAPE(N, S), TG);
    const int64_t bad_il[N] = {6, 3, 3}, bad_tl[N] = {4, 1, 1};
    ck_assert_ptr_null(nb_ctc_loss(lp, tg, bad_il, TL, 0, NB_REDUCE_MEAN, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "ctc_loss: sample 0 has input length 6 (want 1 to 5)"));
    ck_assert_ptr_null(nb_ctc_loss(lp, tg, IL, bad_tl, 0, NB_REDUCE_MEAN, false));
    ck_assert_ptr_null(nb_ctc_loss(lp, tg, IL, TL, 1, NB_REDUCE_MEAN, false)); /* label 1 is the blank */
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "is not a class other than the blank"));
    ck_assert_ptr_null(nb_ctc_loss(lp, tg, IL, TL, 4, NB_REDUCE_MEAN, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "ctc_loss: blank 4 is not a class of [0, 4)"));
    ck_assert_ptr_null(
        nb_ctc_loss(nb_zeros(ctx, NB_F32, NB_SHAPE(T, C)), tg, IL, TL, 0, NB_REDUCE_MEAN, false));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "ctc_loss: want log_probs [T, N, C] and targets [N, S]"));
    ck_assert_ptr_null(nb_ctc_loss(lp, tg, NULL, TL, 0, NB_REDUCE_MEAN, false));
    ck_assert_ptr_null(nb_ctc_loss(lp, tg, IL, TL, 0, NB_REDUCE_BATCHMEAN, false));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_ctc");
    TCase *tc = tcase_create("ctc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, against_brute_force);
    tcase_add_test(tc, gradient);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
