/* argsort, sort and topk (ops/sort.c, backends/cpu/cpu_sort.c): every line sorted, a
 * permutation, stable on ties, NaN last (first descending) as torch.sort(stable=True); values
 * and gradients through gather; topk's k and errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"
#include <stdlib.h>

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 3);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

/* the order of ops/sort.c, independently: by value (NaN largest), then position */
static bool goes_before(float x, int i, float y, int j, bool desc) {
    if (isnan(x) || isnan(y)) return isnan(x) && isnan(y) ? i < j : desc ? isnan(x) : isnan(y);
    if (x != y) return desc ? x > y : x < y;
    return i < j;
}

/* along each dim of a transposed [5,4,37] view with many ties (values in eighths): each line of
 * the positions is a permutation whose values go in order, ties by position */
START_TEST(argsort_every_dim) {
    nb_tensor *base = nb_rand(ctx, NB_SHAPE(37, 4, 5), -1, 1, &rng);
    for (int64_t i = 0; i < nb_numel(base); i++)
        nb_data_f32(base)[i] = roundf(nb_data_f32(base)[i] * 8) / 8;
    nb_data_f32(base)[3] = NAN, nb_data_f32(base)[50] = NAN, nb_data_f32(base)[51] = INFINITY;
    nb_tensor *x = nb_permute(base, (const int[]){2, 1, 0}); /* [5,4,37] */
    for (int desc = 0; desc < 2; desc++)
        for (int d = 0; d < 3; d++) {
            nb_tensor *idx = nb_argsort(x, d, desc);
            ck_assert_msg(idx && idx->dtype == NB_I32, "%s", nb_last_error());
            const int64_t n = x->shape[d];
            for (int64_t a = 0; a < x->shape[(d + 1) % 3]; a++)
                for (int64_t b = 0; b < x->shape[(d + 2) % 3]; b++) {
                    bool seen[37] = {false};
                    float pv = 0;
                    int pi = -1;
                    for (int64_t j = 0; j < n; j++) {
                        int64_t at[3];
                        at[d] = j, at[(d + 1) % 3] = a, at[(d + 2) % 3] = b;
                        const int i = (int)nb_get(idx, at);
                        ck_assert(i >= 0 && i < n && !seen[i]);
                        seen[i] = true;
                        at[d] = i;
                        const float v = (float)nb_get(x, at);
                        if (pi >= 0)
                            ck_assert_msg(goes_before(pv, pi, v, i, desc),
                                          "dim %d desc %d: (%g @%d) then (%g @%d)", d, desc, (double)pv, pi,
                                          (double)v, i);
                        pv = v, pi = i;
                    }
                }
        }
}
END_TEST

/* torch.sort(x, stable=True) and its descending form on special values (printed by torch 1.13) */
START_TEST(sort_as_torch) {
    const float xv[7] = {3, NAN, 1, NAN, -INFINITY, INFINITY, 1};
    nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(7), xv);
    const int want_up[7] = {4, 2, 6, 0, 5, 1, 3}, want_down[7] = {1, 3, 5, 0, 2, 6, 4};
    for (int desc = 0; desc < 2; desc++) {
        nb_tensor *idx = NULL, *v = nb_sort(x, 0, desc, &idx);
        ck_assert_msg(v && idx, "%s", nb_last_error());
        for (int i = 0; i < 7; i++) {
            const int w = (desc ? want_down : want_up)[i];
            ck_assert_int_eq(((int32_t *)nb_data(idx))[i], w);
            const float got = nb_data_f32(v)[i];
            ck_assert(isnan(xv[w]) ? isnan(got) : got == xv[w]);
        }
    }
    /* 0-d, empty, a long line */
    nb_tensor *z = nb_sort(nb_scalar(ctx, 2), -1, false, NULL);
    ck_assert(z && z->ndim == 0 && nb_item(z) == 2);
    ck_assert_ptr_nonnull(nb_sort(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 0)), 1, true, NULL));
    nb_tensor *l = nb_randn(ctx, NB_SHAPE(5000), 0, 1, &rng), *ls = nb_sort(l, 0, false, NULL);
    for (int i = 1; i < 5000; i++)
        ck_assert(nb_data_f32(ls)[i - 1] <= nb_data_f32(ls)[i]);
    ck_assert_ptr_null(nb_argsort(x, 1, false));
    ERR_STARTS("argsort: dim 1 out of range");
    ck_assert_ptr_null(nb_argsort(nb_zeros(ctx, NB_I32, NB_SHAPE(3)), 0, false));
    ERR_STARTS("argsort: input must be f32");
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = nb_transpose(in[0], 0, 1);
    return gc_case ? nb_topk(x, 3, -1, gc_case == 1, NULL) : nb_sort(x, 0, true, NULL);
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case < 3; gc_case++) {
        nb_tensor *x = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(6, 4), 0, 1, &rng), true);
        ck_assert_msg(nb_gradcheck(gc_fn, &x, 1, NULL, NULL) == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

START_TEST(topk) {
    nb_tensor *x =
        nb_from_data(ctx, NB_F32, NB_SHAPE(2, 5), (const float[]){1, 5, 2, 5, 0, -1, -3, 4, NAN, 2});
    nb_tensor *idx = NULL, *v = nb_topk(x, 3, 1, true, &idx);
    ck_assert_msg(v && idx && v->shape[1] == 3 && nb_is_contiguous(idx), "%s", nb_last_error());
    const int want[2][3] = {{1, 3, 2}, {3, 2, 4}}; /* ties by position; NaN the largest */
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++)
            ck_assert_int_eq(((int32_t *)nb_data(idx))[r * 3 + j], want[r][j]);
    nb_tensor *s = nb_topk(x, 2, -1, false, &idx);
    ck_assert(s && nb_data_f32(s)[0] == 0 && nb_data_f32(s)[1] == 1 && nb_data_f32(s)[2] == -3 &&
              nb_data_f32(s)[3] == -1);
    ck_assert_ptr_nonnull(nb_topk(x, 0, 1, true, NULL));
    ck_assert_ptr_nonnull(nb_topk(x, 5, 1, true, NULL));
    ck_assert_ptr_null(nb_topk(x, 6, 1, true, NULL));
    ERR_STARTS("topk: k = 6 is outside [0, 5], the size of dim 1");
    ck_assert_ptr_null(nb_topk(x, -1, 0, true, NULL));
    ck_assert_ptr_null(nb_topk(x, 1, 2, true, NULL));
    ERR_STARTS("topk: dim 2 out of range");
    for (int k = 0; k < 2; k++) { /* a 0-d tensor: itself for k 0 or 1, as torch */
        nb_tensor *z = nb_topk(nb_scalar(ctx, 3), k, 0, true, &idx);
        ck_assert_msg(z && z->ndim == 0 && nb_item(z) == 3 && nb_item(idx) == 0, "k %d: %s", k,
                      nb_last_error());
    }
    ck_assert_ptr_null(nb_topk(nb_scalar(ctx, 3), 2, 0, true, NULL));
}
END_TEST

/* kthvalue, median and quantile against a sorted copy computed here, on each row of a [5,7] and
 * a [4,6]; their gradients by finite differences (distinct values: the picked elements do not
 * change under the step); NaN rows; the refusals. */
static int os_case;
static nb_tensor *os_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = nb_transpose(in[0], 0, 1); /* [7,5], rows along dim 0 */
    if (os_case == 0) return nb_kthvalue(x, 3, 0, false, NULL);
    if (os_case == 1) return nb_median(x, 0, true, NULL);
    return nb_quantile(x, 0.35, 0, false, (nb_quantile_interp)(os_case - 2));
}

static int cmp_f(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

START_TEST(order_statistics) {
    for (int L = 6; L <= 7; L++) {
        nb_tensor *x = nb_randn(ctx, NB_SHAPE(4, L), 0, 1, &rng), *idx;
        const float *v = nb_data_f32(x);
        nb_tensor *k2 = nb_kthvalue(x, 2, 1, false, &idx), *med = nb_median(x, -1, false, NULL);
        nb_tensor *q = nb_quantile(x, 0.7, 1, false, NB_QUANTILE_LINEAR);
        nb_tensor *qm = nb_quantile(x, 0.7, 1, false, NB_QUANTILE_MIDPOINT);
        ck_assert(k2 && med && q && qm);
        for (int r = 0; r < 4; r++) {
            float srt[7];
            memcpy(srt, v + r * L, (size_t)L * sizeof *srt);
            qsort(srt, (size_t)L, sizeof *srt, cmp_f);
            ck_assert(nb_data_f32(k2)[r] == srt[1] && v[r * L + ((int32_t *)nb_data(idx))[r]] == srt[1]);
            ck_assert(nb_data_f32(med)[r] == srt[(L - 1) / 2]);
            const double rank = 0.7 * (L - 1), w = rank - floor(rank);
            const float lo = srt[(int)floor(rank)], hi = srt[(int)ceil(rank)];
            ck_assert(nb_close(nb_data_f32(q)[r], lo + w * (hi - lo), 1e-6, 1e-6));
            ck_assert(nb_close(nb_data_f32(qm)[r], 0.5 * (lo + hi), 1e-6, 1e-6));
        }
    }
    float nv[4] = {1, NAN, 3, 2};
    nb_tensor *xn = nb_from_data(ctx, NB_F32, NB_SHAPE(4), nv), *mi;
    nb_tensor *mn = nb_median(xn, 0, false, &mi);
    ck_assert(mn && isnan(nb_item(mn)) && ((int32_t *)nb_data(mi))[0] == 1);
    ck_assert(isnan(nb_item(nb_quantile(xn, 0.1, 0, false, NB_QUANTILE_LOWER))));
    for (os_case = 0; os_case < 7; os_case++) {
        nb_tensor *in[1] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(5, 7), 0, 1, &rng), true)};
        ck_assert_msg(nb_gradcheck(os_fn, in, 1, NULL, NULL) == 1, "case %d: %s", os_case, nb_last_error());
    }
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng);
    ck_assert_ptr_null(nb_kthvalue(x, 4, 1, false, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "kthvalue: k = 4 is outside [1, 3], the size of dim 1"));
    ck_assert_ptr_null(nb_quantile(x, 1.5, 1, false, NB_QUANTILE_LINEAR));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "quantile: q = 1.5 is outside [0, 1]"));
    ck_assert_ptr_null(nb_median(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0)), 1, false, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "median: dim 1 of [2,0] is empty"));
    ck_assert_ptr_null(nb_median(x, 2, false, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "median: dim 2 out of range"));
}
END_TEST

/* positions held exactly past 2^24 (an f32 position would round); 0-d results for 0-d inputs
 * with keepdim; quantile's rank rounded in float, as torch's */
START_TEST(order_statistics_exact) {
    nb_ctx *big = nb_ctx_new(0);
    const int64_t n = ((int64_t)1 << 24) + 3;
    nb_tensor *x = nb_zeros(big, NB_F32, NB_SHAPE(n));
    ck_assert_ptr_nonnull(x);
    float *v = nb_data_f32(x);
    v[n - 3] = 1.0f, v[n - 2] = 2.0f, v[n - 1] = 3.0f;
    nb_ctx_use(big);
    nb_tensor *idx = NULL, *k = nb_kthvalue(x, n - 1, 0, false, &idx);
    ck_assert_msg(k != NULL, "%s", nb_last_error());
    ck_assert_float_eq(nb_item(k), 2.0f);
    ck_assert_int_eq(((int32_t *)nb_data(idx))[0], (int32_t)(n - 2));
    /* quantile's float rank reaches only 2^24 elements: refused past that, as torch */
    ck_assert_ptr_null(nb_quantile(x, 1.0, 0, false, NB_QUANTILE_LINEAR));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "quantile: dim 0 has 16777219 elements"));
    v[5] = NAN; /* a NaN: the median is it, at its own index */
    nb_tensor *mi = NULL, *m = nb_median(x, 0, false, &mi);
    ck_assert(m && isnan(nb_item(m)) && ((int32_t *)nb_data(mi))[0] == 5);
    nb_ctx_use(ctx);
    nb_ctx_free(big);

    nb_tensor *s = nb_scalar(ctx, 7.0f);
    nb_tensor *ki = NULL, *kv = nb_kthvalue(s, 1, 0, true, &ki);
    ck_assert(kv && kv->ndim == 0 && ki->ndim == 0 && nb_item(kv) == 7.0f);
    nb_tensor *md = nb_median(s, 0, true, NULL), *qd = nb_quantile(s, 0.5, -1, true, NB_QUANTILE_LINEAR);
    ck_assert(md && md->ndim == 0 && qd && qd->ndim == 0);

    /* 0.6 * 25 is 15 in double but 15.000001 in float: torch's higher is sorted[16], its
     * midpoint halfway to it */
    nb_tensor *r = nb_arange(ctx, NB_F32, -7, 19, 1);
    ck_assert_float_eq(nb_item(nb_quantile(r, 0.6, 0, false, NB_QUANTILE_HIGHER)), 9.0f);
    ck_assert_float_eq(nb_item(nb_quantile(r, 0.6, 0, false, NB_QUANTILE_MIDPOINT)), 8.5f);
    ck_assert_float_eq(nb_item(nb_quantile(r, 0.28, 0, false, NB_QUANTILE_HIGHER)), 0.0f);
    /* linear and midpoint interpolate even at weight 0, as torch: lerp(inf, inf, 0) is NaN */
    nb_tensor *fi = nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){1, INFINITY});
    ck_assert(isnan(nb_item(nb_quantile(fi, 1.0, 0, false, NB_QUANTILE_LINEAR))));
    ck_assert(isnan(nb_item(nb_quantile(fi, 1.0, 0, false, NB_QUANTILE_MIDPOINT))));
    ck_assert(nb_item(nb_quantile(fi, 1.0, 0, false, NB_QUANTILE_HIGHER)) == INFINITY);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_sort");
    TCase *tc = tcase_create("sort");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300); /* the 2^24-element cases take a while under the sanitizers */
    tcase_add_test(tc, argsort_every_dim);
    tcase_add_test(tc, sort_as_torch);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, topk);
    tcase_add_test(tc, order_statistics);
    tcase_add_test(tc, order_statistics_exact);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
