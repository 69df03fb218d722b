/* The losses of ops/loss_extra.c (smooth L1, soft margin, multi-label soft margin, hinge
 * embedding, Poisson and Gaussian NLL, multi-class margin): values against double loops,
 * gradients by finite differences, the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 22, 11)

enum { N = 3, C = 5 };
static float X[N * C], T[N * C], PM[N * C], B01[N * C], V[N * C], W[C];
static const int32_t Y[N] = {4, 0, 2};

static void fill(void) {
    for (int i = 0; i < N * C; i++) {
        X[i] = (float)sin(1.7 * i + 0.3) * 2.0f;
        T[i] = (float)cos(0.9 * i) * 1.5f;
        PM[i] = i % 3 ? 1.0f : -1.0f;
        B01[i] = i % 2 ? 1.0f : 0.0f;
        V[i] = 0.2f + (float)(i % 4) * 0.4f;
    }
    for (int c = 0; c < C; c++)
        W[c] = 0.5f + 0.25f * (float)c;
}

static double ref_loss(int which) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        double row = 0;
        for (int c = 0; c < C; c++) {
            const int i = n * C + c;
            const double x = X[i], t = T[i], d = x - t, ad = fabs(d);
            switch (which) {
            case 0: total += ad < 0.5 ? 0.5 * d * d / 0.5 : ad - 0.25; break; /* smooth_l1, beta 0.5 */
            case 1: total += log1p(exp(-PM[i] * x)); break;
            case 2: {
                const double ls = -log1p(exp(-x)), lsn = -log1p(exp(x));
                row += -(B01[i] * ls + (1 - B01[i]) * lsn) * W[c];
                break;
            }
            case 3: total += (PM[i] != 1 ? fmax(0, 0.7 - x) : 0) + (PM[i] != -1 ? x : 0); break;
            case 4: total += exp(x) - fabs(t) * x; break;
            case 5: total += 0.5 * (log(V[i]) + d * d / V[i]); break;
            default:
                if (c != Y[n]) {
                    const double z = 0.8 - X[n * C + Y[n]] + x;
                    row += z > 0 ? z * z * W[Y[n]] : 0;
                }
            }
        }
        total += row / C;
    }
    return which == 2 || which == 6 ? total / N : total / (N * C);
}

static int loss_case;
static nb_tensor *loss_of(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = in[0];
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), T),
              *pm = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), PM);
    nb_tensor *w = nb_from_data(ctx, NB_F32, NB_SHAPE(C), W);
    switch (loss_case) {
    case 0: return nb_smooth_l1_loss(x, t, 0.5f, NB_REDUCE_MEAN);
    case 1: return nb_soft_margin_loss(x, pm, NB_REDUCE_MEAN);
    case 2:
        return nb_multilabel_soft_margin_loss(x, nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), B01), w,
                                              NB_REDUCE_MEAN);
    case 3: return nb_hinge_embedding_loss(x, pm, 0.7f, NB_REDUCE_MEAN);
    case 4: return nb_poisson_nll_loss(x, nb_abs(t), true, false, 1e-8f, NB_REDUCE_MEAN);
    case 5:
        return nb_gaussian_nll_loss(x, t, nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), V), false, 1e-6f,
                                    NB_REDUCE_MEAN);
    default:
        return nb_multi_margin_loss(x, nb_from_data(ctx, NB_I32, NB_SHAPE(N), Y), 2, 0.8f, w, NB_REDUCE_MEAN);
    }
}

START_TEST(values_and_gradients) {
    fill();
    for (loss_case = 0; loss_case < 7; loss_case++) {
        nb_tensor *x = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), X), true);
        nb_tensor *l = loss_of(&x, 1, NULL);
        ck_assert_msg(l != NULL, "case %d: %s", loss_case, nb_last_error());
        ck_assert_int_eq(l->ndim, 0);
        const double want = ref_loss(loss_case);
        ck_assert_msg(nb_close(nb_item(l), want, 1e-5, 1e-6), "case %d: %.8g vs %.8g", loss_case,
                      (double)nb_item(l), want);
        nb_tensor *in[1] = {x};
        ck_assert_msg(nb_gradcheck(loss_of, in, 1, NULL, NULL) == 1, "case %d: %s", loss_case,
                      nb_last_error());
    }
}
END_TEST

START_TEST(options_and_shapes) {
    fill();
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), X),
              *t = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), T);
    /* smooth_l1 with beta 0 is l1; none keeps the shape; sum adds */
    ck_assert(nb_item(nb_smooth_l1_loss(x, t, 0.0f, NB_REDUCE_SUM)) ==
              nb_item(nb_l1_loss(x, t, NB_REDUCE_SUM)));
    nb_tensor *each = nb_smooth_l1_loss(x, t, 1.0f, NB_REDUCE_NONE);
    ck_assert(each && each->ndim == 2 && each->shape[1] == C);
    /* poisson without log input, with Stirling's term where t > 1 */
    nb_tensor *p = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){0.5f, 2.0f});
    nb_tensor *pt = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){3.0f, 0.5f});
    const float *pe = nb_data_f32(nb_poisson_nll_loss(p, pt, false, true, 1e-8f, NB_REDUCE_NONE));
    ck_assert(
        nb_close(pe[0], 0.5 - 3 * log(0.5 + 1e-8) + 3 * log(3.0) - 3 + 0.5 * log(2 * M_PI * 3), 1e-6, 1e-6));
    ck_assert(nb_close(pe[1], 2.0 - 0.5 * log(2.0 + 1e-8), 1e-6, 1e-6)); /* t <= 1: no Stirling term */
    /* gaussian: var per row ([N] or [N,1]) gives the same; full adds log(2 pi) / 2 to each */
    nb_tensor *vr = nb_from_data(ctx, NB_F32, NB_SHAPE(N), (const float[]){0.5f, 1.5f, 2.5f});
    nb_tensor *g1 = nb_gaussian_nll_loss(x, t, vr, false, 1e-6f, NB_REDUCE_MEAN);
    nb_tensor *g2 = nb_gaussian_nll_loss(x, t, nb_reshape(vr, NB_SHAPE(N, 1)), true, 1e-6f, NB_REDUCE_MEAN);
    ck_assert(g1 && g2 && nb_close(nb_item(g2) - nb_item(g1), 0.5 * log(2 * M_PI), 1e-5, 1e-6));
    /* a variance below eps is clamped (value) but passes its gradient (torch) */
    nb_tensor *vz = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){0.0f}), true);
    nb_tensor *one = nb_from_data(ctx, NB_F32, NB_SHAPE(1), (const float[]){1.0f});
    nb_tensor *gz =
        nb_gaussian_nll_loss(one, nb_zeros(ctx, NB_F32, NB_SHAPE(1)), vz, false, 0.25f, NB_REDUCE_SUM);
    ck_assert(nb_close(nb_item(gz), 0.5 * (log(0.25) + 4), 1e-6, 1e-6));
    ck_assert_int_eq(nb_backward(gz), 0);
    ck_assert(nb_close(nb_data_f32(vz->grad)[0], 0.5 * (1 / 0.25 - 1 / (0.25 * 0.25)), 1e-5, 1e-6));
    /* found by review: Stirling's term is differentiated in the target, as torch's; an infinite
     * variance gives an infinite loss, not NaN */
    nb_tensor *px = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){0.5f, 1});
    nb_tensor *ptt = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){3, 3}), true);
    ck_assert_int_eq(nb_backward(nb_poisson_nll_loss(px, ptt, true, true, 1e-8f, NB_REDUCE_SUM)), 0);
    ck_assert(nb_close(nb_data_f32(ptt->grad)[0], -0.5 + log(3.0) + 1.0 / 6 + 0 - 0, 1e-5, 1e-6));
    nb_tensor *vinf =
        nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){INFINITY, 1}), true);
    nb_tensor *gi = nb_gaussian_nll_loss(nb_ones(ctx, NB_F32, NB_SHAPE(2)),
                                         nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){0, -1}), vinf,
                                         false, 1e-6f, NB_REDUCE_NONE);
    ck_assert(gi && nb_data_f32(gi)[0] == INFINITY && nb_data_f32(gi)[1] == 2.0f);
    /* multi_margin with p 1 on a single row and a 0-d target */
    nb_tensor *mr = nb_multi_margin_loss(nb_from_data(ctx, NB_F32, NB_SHAPE(3), (const float[]){1, 0.5f, 2}),
                                         nb_from_data(ctx, NB_I32, 0, NULL, (const int32_t[]){0}), 1, 1.0f,
                                         NULL, NB_REDUCE_MEAN);
    ck_assert(mr && mr->ndim == 0 && nb_close(nb_item(mr), (0.5 + 2.0) / 3, 1e-6, 1e-6));
}
END_TEST

START_TEST(refusals) {
    fill();
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), X),
              *t = nb_from_data(ctx, NB_F32, NB_SHAPE(N, C), T);
    ck_assert_ptr_null(nb_smooth_l1_loss(x, t, -1.0f, NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "smooth_l1_loss: beta -1"));
    ck_assert_ptr_null(nb_soft_margin_loss(x, nb_zeros(ctx, NB_F32, NB_SHAPE(C)), NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "soft_margin_loss: pred [3,5] and target [5] differ in shape"));
    ck_assert_ptr_null(
        nb_gaussian_nll_loss(x, t, nb_full(ctx, NB_F32, NB_SHAPE(N, 1), -1.0), false, 1e-6f, NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "gaussian_nll_loss: var has a negative entry"));
    ck_assert_ptr_null(
        nb_gaussian_nll_loss(x, t, nb_ones(ctx, NB_F32, NB_SHAPE(2, C)), false, 1e-6f, NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "gaussian_nll_loss: var [2,5] does not fit input [3,5]"));
    nb_tensor *y = nb_from_data(ctx, NB_I32, NB_SHAPE(N), (const int32_t[]){0, 5, 1});
    ck_assert_ptr_null(nb_multi_margin_loss(x, y, 1, 1.0f, NULL, NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "multi_margin_loss:"));
    ck_assert_ptr_null(
        nb_multi_margin_loss(x, nb_zeros(ctx, NB_I32, NB_SHAPE(N)), 3, 1.0f, NULL, NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "multi_margin_loss: p = 3"));
    ck_assert_ptr_null(nb_multi_margin_loss(x, nb_zeros(ctx, NB_I32, NB_SHAPE(N)), 1, 1.0f,
                                            nb_ones(ctx, NB_F32, NB_SHAPE(C + 1)), NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "multi_margin_loss: weight [6] is not [5]"));
    ck_assert_ptr_null(nb_hinge_embedding_loss(x, t, 1.0f, NB_REDUCE_BATCHMEAN));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "hinge_embedding_loss: reduction batchmean"));
    ck_assert_ptr_null(
        nb_multilabel_soft_margin_loss(x, t, nb_ones(ctx, NB_F32, NB_SHAPE(2, N, C)), NB_REDUCE_MEAN));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "multilabel_soft_margin_loss: weight [2,3,5] does not broadcast"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_loss_more");
    TCase *tc = tcase_create("loss_more");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, values_and_gradients);
    tcase_add_test(tc, options_and_shapes);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
