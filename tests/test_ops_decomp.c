/* Decompositions (ops/decomp.c): eigh / eigvalsh and QR checked by what defines them (A V = V
 * diag(w), orthonormal columns, A = Q R with R upper triangular), on known spectra, the sign
 * conventions, their gradients by finite differences, and the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 24, 31)

static double maxdiff(nb_tensor *a, nb_tensor *b) {
    ck_assert_msg(a && b, "%s", nb_last_error());
    ck_assert_int_eq(nb_numel(a), nb_numel(b));
    nb_tensor *ac = nb_contiguous(a), *bc = nb_contiguous(b);
    double m = 0;
    for (int64_t i = 0; i < nb_numel(a); i++) {
        const double d = fabs((double)nb_data_f32(ac)[i] - nb_data_f32(bc)[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static nb_tensor *eye_like(int64_t n, int nd, const int64_t *shape) {
    return nb_contiguous(nb_expand(nb_eye(ctx, n, n), nd, shape));
}

/* a random symmetric batch */
static nb_tensor *sym(int nd, const int64_t *shape) {
    nb_tensor *m = nb_randn(ctx, nd, shape, 0, 1, &rng);
    return nb_mul_scalar(nb_add(m, nb_transpose(m, -1, -2)), 0.5f);
}

START_TEST(eigh_values) {
    const int n = 6;
    nb_tensor *a = sym(NB_SHAPE(3, n, n)), *v = NULL, *w = nb_eigh(a, &v);
    ck_assert_msg(w && v && w->ndim == 2 && w->shape[1] == n && v->ndim == 3, "%s", nb_last_error());
    /* A V = V diag(w), V^T V = I, ascending, each vector's largest entry positive */
    ck_assert(maxdiff(nb_matmul(a, v), nb_mul(v, nb_unsqueeze(w, -2))) < 1e-5);
    ck_assert(maxdiff(nb_matmul(nb_transpose(v, -1, -2), v), eye_like(n, NB_SHAPE(3, n, n))) < 1e-6);
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < n; i++) {
            if (i) ck_assert(nb_get(w, (int64_t[]){b, i - 1}) <= nb_get(w, (int64_t[]){b, i}));
            double big = 0;
            for (int k = 0; k < n; k++) {
                const double x = nb_get(v, (int64_t[]){b, k, i});
                if (fabs(x) > fabs(big)) big = x;
            }
            ck_assert(big > 0);
        }
    /* the trace and the determinant are the sum and product of the eigenvalues */
    nb_tensor *tr = nb_sum(w, 1, (const int[]){-1}, false), *pr = nb_prod(w, 1, (const int[]){-1}, false);
    for (int b = 0; b < 3; b++) {
        double t = 0;
        for (int i = 0; i < n; i++)
            t += nb_get(a, (int64_t[]){b, i, i});
        ck_assert(nb_close(nb_data_f32(tr)[b], t, 1e-5, 1e-5));
    }
    ck_assert(maxdiff(pr, nb_det(a)) < 1e-4);
    /* a known spectrum: [[2, 1], [1, 2]] has 1 and 3, vectors (1, -1) / sqrt 2 and (1, 1) / sqrt 2 */
    nb_tensor *k2 = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){2, 1, 1, 2}), *v2 = NULL;
    nb_tensor *w2 = nb_eigh(k2, &v2);
    ck_assert(nb_close(nb_data_f32(w2)[0], 1, 1e-6, 1e-6) && nb_close(nb_data_f32(w2)[1], 3, 1e-6, 1e-6));
    ck_assert(nb_close(fabs(nb_get(v2, (int64_t[]){0, 0})), sqrt(0.5), 1e-6, 1e-6));
    /* only the lower triangle is read; a diagonal matrix sorts its diagonal */
    nb_tensor *junk = nb_add(a, nb_triu(nb_randn(ctx, NB_SHAPE(3, n, n), 0, 3, &rng), 1));
    ck_assert(maxdiff(nb_eigvalsh(junk), w) == 0);
    nb_tensor *d = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){5, 0, 0, 0, -2, 0, 0, 0, 1});
    nb_tensor *dv = NULL, *dw = nb_eigh(d, &dv);
    ck_assert(nb_data_f32(dw)[0] == -2 && nb_data_f32(dw)[1] == 1 && nb_data_f32(dw)[2] == 5);
    ck_assert(nb_get(dv, (int64_t[]){1, 0}) == 1 && nb_get(dv, (int64_t[]){2, 1}) == 1);
    /* larger: n = 40 */
    nb_tensor *big = sym(NB_SHAPE(40, 40)), *bv = NULL, *bw = nb_eigh(big, &bv);
    ck_assert(maxdiff(nb_matmul(big, bv), nb_mul(bv, nb_unsqueeze(bw, -2))) < 1e-4);
    /* empty: 0 x 0 and an empty batch */
    ck_assert(nb_eigvalsh(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0, 0)))->shape[1] == 0);
    ck_assert(nb_numel(nb_eigvalsh(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3, 3)))) == 0);
}
END_TEST

START_TEST(qr_values) {
    const int64_t shapes[4][2] = {{6, 4}, {4, 4}, {3, 5}, {1, 3}};
    for (int s = 0; s < 4; s++) {
        for (int complete = 0; complete < 2; complete++) {
            const int64_t m = shapes[s][0], n = shapes[s][1], k = complete ? m : (m < n ? m : n);
            nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, m, n), 0, 1, &rng), *r = NULL,
                      *q = nb_qr(a, complete, &r);
            ck_assert_msg(q && r, "%s", nb_last_error());
            ck_assert(q->shape[1] == m && q->shape[2] == k && r->shape[1] == k && r->shape[2] == n);
            ck_assert_msg(maxdiff(nb_matmul(q, r), a) < 1e-5, "%lldx%lld complete %d", (long long)m,
                          (long long)n, complete);
            ck_assert(maxdiff(nb_matmul(nb_transpose(q, -1, -2), q), eye_like(k, NB_SHAPE(2, k, k))) < 1e-5);
            for (int b = 0; b < 2; b++)
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < i && j < n; j++)
                        ck_assert(nb_get(r, (int64_t[]){b, i, j}) == 0);
        }
    }
    /* LAPACK's signs: R's diagonal is minus the sign of the column's leading entry when a
     * reflection happens; a column already in place (x = 0 below) is left as it is */
    nb_tensor *u = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){3, 1, 4, 2}), *ru = NULL;
    nb_tensor *qu = nb_qr(u, false, &ru);
    ck_assert(nb_close(nb_get(ru, (int64_t[]){0, 0}), -5, 1e-6, 1e-6) &&
              nb_close(nb_get(qu, (int64_t[]){0, 0}), -0.6, 1e-6, 1e-6));
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){-2, 1, 0, 3}), *rt = NULL;
    nb_tensor *qt = nb_qr(t, false, &rt);
    ck_assert(nb_get(rt, (int64_t[]){0, 0}) == -2 && nb_get(qt, (int64_t[]){0, 0}) == 1);
    /* empty shapes */
    nb_tensor *r0 = NULL, *q0 = nb_qr(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 0)), false, &r0);
    ck_assert(q0 && q0->shape[0] == 3 && q0->shape[1] == 0 && r0->shape[0] == 0 && r0->shape[1] == 0);
    nb_tensor *qc = nb_qr(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 0)), true, NULL);
    ck_assert(qc && maxdiff(qc, nb_eye(ctx, 3, 3)) == 0);
    ck_assert(nb_numel(nb_qr(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 4, 2)), false, NULL)) == 0);
}
END_TEST

START_TEST(svd_values) {
    const int64_t shapes[4][2] = {{6, 4}, {4, 4}, {3, 5}, {1, 3}};
    for (int sh = 0; sh < 4; sh++) {
        const int64_t m = shapes[sh][0], n = shapes[sh][1], k = m < n ? m : n;
        nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, m, n), 0, 1, &rng), *u = NULL, *vh = NULL,
                  *s = nb_svd(a, &u, &vh);
        ck_assert_msg(s && u && vh && s->shape[1] == k && u->shape[2] == k && vh->shape[1] == k, "%s",
                      nb_last_error());
        ck_assert(maxdiff(nb_matmul(nb_mul(u, nb_unsqueeze(s, -2)), vh), a) < 1e-5);
        ck_assert(maxdiff(nb_matmul(nb_transpose(u, -1, -2), u), eye_like(k, NB_SHAPE(2, k, k))) < 1e-5);
        ck_assert(maxdiff(nb_matmul(vh, nb_transpose(vh, -1, -2)), eye_like(k, NB_SHAPE(2, k, k))) < 1e-5);
        ck_assert(maxdiff(nb_svdvals(a), s) == 0);
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < k; j++) {
                if (j) ck_assert(nb_get(s, (int64_t[]){b, j - 1}) >= nb_get(s, (int64_t[]){b, j}));
                double big = 0;
                for (int i = 0; i < n; i++) {
                    const double x = nb_get(vh, (int64_t[]){b, j, i});
                    if (fabs(x) > fabs(big)) big = x;
                }
                ck_assert(big > 0);
            }
    }
    /* rank-deficient: zero singular values, U still orthonormal (completed); a zero matrix */
    nb_tensor *c = nb_randn(ctx, NB_SHAPE(5, 1), 0, 1, &rng),
              *r1 = nb_matmul(c, nb_randn(ctx, NB_SHAPE(1, 3), 0, 1, &rng));
    nb_tensor *u = NULL, *vh = NULL, *s = nb_svd(r1, &u, &vh);
    ck_assert(nb_data_f32(s)[1] < 1e-6 && nb_data_f32(s)[2] < 1e-6);
    ck_assert(maxdiff(nb_matmul(nb_transpose(u, -1, -2), u), nb_eye(ctx, 3, 3)) < 1e-5);
    ck_assert(maxdiff(nb_matmul(nb_mul(u, nb_unsqueeze(s, -2)), vh), r1) < 1e-5);
    nb_tensor *z = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3)), *uz = NULL, *vz = NULL, *sz = nb_svd(z, &uz, &vz);
    ck_assert(sz && nb_data_f32(sz)[0] == 0 &&
              maxdiff(nb_matmul(nb_transpose(uz, -1, -2), uz), nb_eye(ctx, 3, 3)) < 1e-6);
    ck_assert(nb_matrix_rank(r1, -1.0) && ((const int32_t *)nb_matrix_rank(r1, -1.0)->storage->data)[0] == 1);
    ck_assert(((const int32_t *)nb_matrix_rank(z, -1.0)->storage->data)[0] == 0);
    /* pinv: the four Penrose conditions, on a tall, a wide and a rank-deficient matrix */
    nb_tensor *ms[3] = {nb_randn(ctx, NB_SHAPE(5, 3), 0, 1, &rng), nb_randn(ctx, NB_SHAPE(2, 4), 0, 1, &rng),
                        r1};
    for (int i = 0; i < 3; i++) {
        nb_tensor *a = ms[i], *p = nb_pinv(a, -1.0);
        ck_assert_msg(p && p->shape[0] == a->shape[1] && p->shape[1] == a->shape[0], "%s", nb_last_error());
        nb_tensor *ap = nb_matmul(a, p), *pa = nb_matmul(p, a);
        ck_assert(maxdiff(nb_matmul(ap, a), a) < 1e-5 && maxdiff(nb_matmul(pa, p), p) < 1e-4);
        ck_assert(maxdiff(ap, nb_transpose(ap, 0, 1)) < 1e-5 && maxdiff(pa, nb_transpose(pa, 0, 1)) < 1e-5);
    }
    /* lstsq: the solve for a square A; the normal equations for a tall one */
    nb_tensor *sq = nb_add(nb_randn(ctx, NB_SHAPE(4, 4), 0, 0.3f, &rng), nb_eye(ctx, 4, 4)),
              *b = nb_randn(ctx, NB_SHAPE(4, 2), 0, 1, &rng);
    ck_assert(maxdiff(nb_lstsq(sq, b), nb_solve(sq, b, true)) < 1e-4);
    nb_tensor *tall = ms[0], *bt = nb_randn(ctx, NB_SHAPE(5, 2), 0, 1, &rng), *x = nb_lstsq(tall, bt);
    nb_tensor *tt = nb_transpose(tall, 0, 1);
    ck_assert(maxdiff(nb_matmul(nb_matmul(tt, tall), x), nb_matmul(tt, bt)) < 1e-4);
    /* matrix norms by their definitions; cond */
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng), *sa = nb_svdvals(a);
    for (int bb = 0; bb < 2; bb++) {
        double fro = 0, col[4] = {0}, row[3] = {0};
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                const double v = nb_get(a, (int64_t[]){bb, i, j});
                fro += v * v, col[j] += fabs(v), row[i] += fabs(v);
            }
        double c1 = col[0], cm = col[0], r1m = row[0], rm = row[0];
        for (int j = 1; j < 4; j++)
            c1 = fmax(c1, col[j]), cm = fmin(cm, col[j]);
        for (int i = 1; i < 3; i++)
            r1m = fmax(r1m, row[i]), rm = fmin(rm, row[i]);
        const double s0 = nb_get(sa, (int64_t[]){bb, 0}), s1 = nb_get(sa, (int64_t[]){bb, 1}),
                     s2 = nb_get(sa, (int64_t[]){bb, 2});
        const struct {
            const char *ord;
            double want;
        } cases[] = {{"fro", sqrt(fro)}, {"nuc", s0 + s1 + s2}, {"2", s0},   {"-2", s2}, {"1", c1},
                     {"-1", cm},         {"inf", r1m},          {"-inf", rm}};
        for (int q = 0; q < 8; q++) {
            nb_tensor *nv = nb_matrix_norm(a, cases[q].ord);
            ck_assert_msg(nv && nv->ndim == 1 && nb_close(nb_data_f32(nv)[bb], cases[q].want, 1e-5, 1e-5),
                          "%s", cases[q].ord);
        }
        ck_assert(nb_close(nb_data_f32(nb_cond(a))[bb], s0 / s2, 1e-5, 1e-5));
    }
    ck_assert(!nb_matrix_norm(a, "3") && strstr(nb_last_error(), "matrix_norm: unknown ord \"3\""));
    nb_tensor *ue = NULL, *ve = NULL, *se = nb_svd(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 0)), &ue, &ve);
    ck_assert(se && se->shape[0] == 0 && ue->shape[0] == 3 && ue->shape[1] == 0 && ve->shape[1] == 0);
    ck_assert(!nb_svd(a, &ue, NULL) && strstr(nb_last_error(), "give both U and Vh"));
    /* review: a zero singular value whose left vector is spread out (every column sums to 0): U
     * completed orthonormal (it was a zero column); wide, the same for Vh; a zero 40 x 40 in
     * milliseconds (the completion was O(r^4)); an inf gives NaN, not a finite value */
    nb_tensor *sp =
        nb_from_data(ctx, NB_F32, NB_SHAPE(5, 5), (const float[]){1, 1, 0, 0, 0, -1, -1, 1, 0, 0, 0, 0, -1,
                                                                  1, 0, 0, 0, 0, -1, 1,  0, 0, 0, 0, -1});
    nb_tensor *us = NULL, *vs = NULL, *ss = nb_svd(sp, &us, &vs);
    ck_assert(ss && nb_data_f32(ss)[4] < 1e-6);
    ck_assert(maxdiff(nb_matmul(nb_transpose(us, 0, 1), us), nb_eye(ctx, 5, 5)) < 1e-5);
    ck_assert(maxdiff(nb_matmul(vs, nb_transpose(vs, 0, 1)), nb_eye(ctx, 5, 5)) < 1e-5);
    nb_tensor *wv = NULL, *wu = NULL, *ws = nb_svd(nb_transpose(sp, 0, 1), &wu, &wv);
    ck_assert(ws && maxdiff(nb_matmul(wv, nb_transpose(wv, 0, 1)), nb_eye(ctx, 5, 5)) < 1e-5);
    nb_tensor *z40 = nb_zeros(ctx, NB_F32, NB_SHAPE(40, 40)), *u40 = NULL, *v40 = NULL;
    ck_assert(nb_svd(z40, &u40, &v40) &&
              maxdiff(nb_matmul(nb_transpose(u40, 0, 1), u40), nb_eye(ctx, 40, 40)) < 1e-6);
    nb_tensor *fin = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){INFINITY, 1, 2, 3});
    ck_assert(isnan(nb_data_f32(nb_svdvals(fin))[1]));
    ck_assert(!nb_pinv(sp, NAN) && strstr(nb_last_error(), "pinv: rtol is NaN"));
    /* subnormal singular values: s_k^2 - s_j^2 and the U and V terms' numerator underflow to 0 in
     * f32; the gradient must not silently drop those terms (it was finite and wrong): NaN, as
     * torch's, or right. U diag(s) Vh is A, its gradient w */
    nb_tensor *tiny = nb_requires_grad_(
        nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){1e-40f, 0, 1e-41f, 2e-40f}), true);
    nb_tensor *tu = NULL, *tv = NULL, *ts = nb_svd(tiny, &tu, &tv);
    nb_tensor *wt =
        nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){1.3462f, -1.0369f, 1.0138f, -0.2314f});
    ck_assert(nb_backward(
                  nb_sum(nb_mul(nb_matmul(nb_mul(tu, nb_unsqueeze(ts, -2)), tv), wt), 0, NULL, false)) == 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(isnan(nb_data_f32(tiny->grad)[i]) ||
                          fabs(nb_data_f32(tiny->grad)[i] - nb_data_f32(wt)[i]) < 1e-5,
                      "%d: %g", i, nb_data_f32(tiny->grad)[i]);
}
END_TEST

/* the Golub-Kahan-Reinsch route (min(m, n) > 4): A = U diag(s) Vh, orthonormal U and Vh, s
 * descending and the square roots of eigvalsh(A^T A), svdvals bit for bit svd's values; on
 * rank-deficient, zero, scaled and non-finite matrices */
static void check_svd(nb_tensor *a, double tol) {
    const int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n;
    nb_tensor *u = NULL, *vh = NULL, *s = nb_contiguous(nb_svd(a, &u, &vh));
    ck_assert_msg(s && u && vh, "%s", nb_last_error());
    u = nb_contiguous(u), vh = nb_contiguous(vh);
    double big = 1e-30;
    for (int64_t i = 0; i < nb_numel(s); i++)
        big = fmax(big, fabs(nb_data_f32(s)[i]));
    ck_assert_msg(maxdiff(nb_matmul(nb_mul(u, nb_unsqueeze(s, -2)), vh), a) <= tol * big, "[%lld,%lld]: A",
                  (long long)m, (long long)n);
    nb_tensor *ik = s->ndim == 2 ? eye_like(k, NB_SHAPE(s->shape[0], k, k)) : nb_eye(ctx, k, k);
    ck_assert(maxdiff(nb_matmul(nb_transpose(u, -1, -2), u), ik) <= 1e-5);
    ck_assert(maxdiff(nb_matmul(vh, nb_transpose(vh, -1, -2)), ik) <= 1e-5);
    ck_assert(maxdiff(nb_svdvals(a), s) == 0);
    for (int64_t i = 0; i < nb_numel(s); i++) {
        ck_assert(nb_data_f32(s)[i] >= 0);
        if (i % k) ck_assert(nb_data_f32(s)[i - 1] >= nb_data_f32(s)[i]);
    }
    for (int64_t j = 0; j < nb_numel(vh) / n; j++) { /* each row of Vh: its leading entry positive */
        double lead = 0;
        for (int64_t i = 0; i < n; i++)
            if (fabs(nb_data_f32(vh)[j * n + i]) > fabs(lead) * (1 + 1e-5)) lead = nb_data_f32(vh)[j * n + i];
        ck_assert(lead > 0 || big == 1e-30);
    }
}

START_TEST(svd_bidiagonal) {
    const int64_t shapes[6][2] = {{9, 6}, {6, 9}, {40, 17}, {17, 40}, {64, 64}, {130, 20}};
    for (int i = 0; i < 6; i++) {
        nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, shapes[i][0], shapes[i][1]), 0, 1, &rng);
        check_svd(a, 2e-5);
        /* s^2 are the eigenvalues of A^T A (or A A^T), in the other order */
        const int64_t m = shapes[i][0], n = shapes[i][1], k = m < n ? m : n;
        nb_tensor *at = nb_transpose(a, -1, -2), *g = m >= n ? nb_matmul(at, a) : nb_matmul(a, at);
        nb_tensor *w = nb_contiguous(nb_eigvalsh(g)), *sv = nb_contiguous(nb_svdvals(a));
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < k; j++) {
                const double s2 = nb_data_f32(sv)[b * k + j], e = nb_data_f32(w)[b * k + k - 1 - j];
                ck_assert_msg(fabs(s2 * s2 - e) <= 1e-4 * nb_data_f32(w)[b * k + k - 1], "%d: %g vs %g", j,
                              s2 * s2, e);
            }
    }
    /* rank 5 of a 20 x 12: s[5..] are 0 to rounding, U still orthonormal */
    nb_tensor *lo =
        nb_matmul(nb_randn(ctx, NB_SHAPE(20, 5), 0, 1, &rng), nb_randn(ctx, NB_SHAPE(5, 12), 0, 1, &rng));
    check_svd(lo, 2e-5);
    nb_tensor *ls = nb_contiguous(nb_svdvals(lo));
    ck_assert(nb_data_f32(ls)[4] > 1e-2 && nb_data_f32(ls)[5] < 1e-5 * nb_data_f32(ls)[0]);
    /* what review found: rank-1 integer matrices gave U and Vh that were not orthonormal (the
     * bidiagonalisation's sums of squares went subnormal) */
    for (int n = 6; n < 40; n += 3) {
        nb_tensor *r = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(n, 1))),
                  *c = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(1, n + 2)));
        for (int i = 0; i < n; i++)
            nb_data_f32(r)[i] = (float)((4 * i) % 7 - 3);
        for (int i = 0; i < n + 2; i++)
            nb_data_f32(c)[i] = (float)((5 * i) % 9 - 4);
        check_svd(nb_matmul(r, c), 2e-5);
        check_svd(nb_full(ctx, NB_F32, NB_SHAPE(n, n), 1.0), 2e-5);
    }
    /* a zero matrix: zeros, orthonormal vectors; a single nonzero entry */
    nb_tensor *z = nb_zeros(ctx, NB_F32, NB_SHAPE(7, 6));
    check_svd(z, 0);
    ck_assert(nb_data_f32(nb_contiguous(nb_svdvals(z)))[0] == 0);
    nb_tensor *one = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(6, 8)));
    nb_data_f32(one)[2 * 8 + 5] = -3;
    check_svd(one, 0);
    ck_assert(nb_data_f32(nb_contiguous(nb_svdvals(one)))[0] == 3);
    /* a zero on the bidiagonal's diagonal, inside and last: rotated out along its row, up its column */
    for (int last = 0; last < 2; last++) {
        nb_tensor *bd = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(7, 7)));
        for (int i = 0; i < 7; i++) {
            nb_data_f32(bd)[i * 8] = (last ? i == 6 : i == 2) ? 0.0f : (float)(i + 1);
            if (i < 6) nb_data_f32(bd)[i * 8 + 1] = 1.0f;
        }
        check_svd(bd, 1e-5);
        ck_assert(nb_data_f32(nb_contiguous(nb_svdvals(bd)))[6] < 1e-6);
    }
    /* scale: 1e30 A and 1e-30 A */
    nb_tensor *s0 = nb_randn(ctx, NB_SHAPE(10, 7), 0, 1, &rng), *ss = nb_svdvals(s0);
    const float sc[2] = {1e30f, 1e-30f};
    for (int i = 0; i < 2; i++) {
        nb_tensor *x = nb_mul_scalar(s0, sc[i]);
        check_svd(x, 2e-5);
        ck_assert(maxdiff(nb_mul_scalar(nb_svdvals(x), 1.0f / sc[i]), ss) < 1e-5);
    }
    /* a NaN or an infinity anywhere: NaN everywhere */
    nb_tensor *bad = nb_contiguous(nb_randn(ctx, NB_SHAPE(8, 6), 0, 1, &rng));
    nb_data_f32(bad)[13] = INFINITY;
    nb_tensor *bu = NULL, *bv = NULL, *bs = nb_contiguous(nb_svd(bad, &bu, &bv));
    ck_assert(isnan(nb_data_f32(bs)[0]) && isnan(nb_data_f32(bs)[5]) &&
              isnan(nb_data_f32(nb_contiguous(bu))[47]) && isnan(nb_data_f32(nb_contiguous(bv))[0]));
}
END_TEST

/* full_matrices: square orthogonal U and Vh whose first k vectors are nb_svd's; the completed
 * ones orthogonal to them and carrying no gradient (torch's rule narrows them away) */
START_TEST(svd_full) {
    const int64_t shapes[5][2] = {{6, 4}, {4, 6}, {9, 6}, {3, 3}, {5, 1}};
    for (int i = 0; i < 5; i++) {
        const int64_t m = shapes[i][0], n = shapes[i][1], k = m < n ? m : n;
        nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, m, n), 0, 1, &rng), *u = NULL, *vh = NULL, *ur = NULL,
                  *vr = NULL;
        nb_tensor *s = nb_svd_full(a, &u, &vh), *sr = nb_svd(a, &ur, &vr);
        ck_assert_msg(s && u && vh && u->shape[1] == m && u->shape[2] == m && vh->shape[1] == n, "%s",
                      nb_last_error());
        ck_assert(maxdiff(s, sr) == 0 && maxdiff(nb_narrow(u, -1, 0, k), ur) == 0 &&
                  maxdiff(nb_narrow(vh, -2, 0, k), vr) == 0);
        ck_assert(maxdiff(nb_matmul(nb_transpose(u, -1, -2), u), eye_like(m, NB_SHAPE(2, m, m))) < 1e-5);
        ck_assert(maxdiff(nb_matmul(vh, nb_transpose(vh, -1, -2)), eye_like(n, NB_SHAPE(2, n, n))) < 1e-5);
    }
    /* the completed columns carry no gradient; the first k carry nb_svd's */
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(5, 3), 0, 1, &rng);
    nb_requires_grad_(a, true);
    nb_tensor *u = NULL, *vh = NULL;
    ck_assert(nb_svd_full(a, &u, &vh));
    ck_assert(nb_backward(nb_sum(nb_narrow(u, -1, 3, 2), 0, NULL, false)) == 0);
    for (int i = 0; i < 15; i++)
        ck_assert(!a->grad || nb_data_f32(a->grad)[i] == 0);
    nb_tensor *b = nb_detach(a), *ub = NULL, *vb = NULL;
    nb_requires_grad_(b, true);
    nb_zero_grad(a);
    ck_assert(nb_svd_full(a, &u, &vh) && nb_backward(nb_sum(nb_narrow(u, -1, 0, 3), 0, NULL, false)) == 0);
    ck_assert(nb_svd(b, &ub, &vb) && nb_backward(nb_sum(ub, 0, NULL, false)) == 0);
    ck_assert(maxdiff(a->grad, b->grad) == 0);
    ck_assert(!nb_svd_full(a, NULL, NULL) && strstr(nb_last_error(), "svd_full: U and Vh are both required"));
    ck_assert(!nb_svd_full(nb_zeros(ctx, NB_F32, NB_SHAPE(3)), &u, &vh) &&
              strstr(nb_last_error(), "svd_full: A [3] has fewer than 2 dims"));
}
END_TEST

START_TEST(matfunc_values) {
    /* e^A: a diagonal, a nilpotent, a rotation generator, e^A e^-A = I, and a large norm (scaled
     * and squared) against V diag(e^w) V^T for a symmetric A */
    nb_tensor *d = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){1, 0, 0, -2}),
              *ed = nb_matrix_exp(d);
    ck_assert(ed && nb_close(nb_data_f32(ed)[0], exp(1.0), 1e-6, 1e-6) &&
              nb_close(nb_data_f32(ed)[3], exp(-2.0), 1e-6, 1e-6) && nb_data_f32(ed)[1] == 0);
    nb_tensor *nil = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){0, 1, 0, 0}),
              *en = nb_matrix_exp(nil);
    ck_assert(en && nb_data_f32(en)[0] == 1 && nb_data_f32(en)[1] == 1 && nb_data_f32(en)[2] == 0);
    nb_tensor *rot = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){0, -0.7f, 0.7f, 0}),
              *er = nb_matrix_exp(rot);
    ck_assert(nb_close(nb_data_f32(er)[0], cos(0.7), 1e-6, 1e-6) &&
              nb_close(nb_data_f32(er)[2], sin(0.7), 1e-6, 1e-6));
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(3, 5, 5), 0, 1, &rng);
    ck_assert(maxdiff(nb_matmul(nb_matrix_exp(a), nb_matrix_exp(nb_neg(a))), eye_like(5, NB_SHAPE(3, 5, 5))) <
              1e-5);
    nb_tensor *sy = nb_mul_scalar(sym(NB_SHAPE(5, 5)), 3.0f), *v = NULL, *w = nb_eigh(sy, &v);
    nb_tensor *want = nb_matmul(nb_mul(v, nb_unsqueeze(nb_exp(w), -2)), nb_transpose(v, 0, 1)),
              *got = nb_matrix_exp(sy);
    double worst = 0;
    for (int i = 0; i < 25; i++)
        worst = fmax(worst, fabs(nb_data_f32(got)[i] - nb_data_f32(nb_contiguous(want))[i]) /
                                fmax(1.0, fabs(nb_data_f32(nb_contiguous(want))[i])));
    ck_assert_msg(worst < 1e-4, "matrix_exp vs eigh: %g", worst);
    ck_assert(nb_numel(nb_matrix_exp(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3, 3)))) == 0);
    /* multi_dot: the same product in any order, 1-d ends dropped, the cheapest order chosen */
    nb_tensor *m1 = nb_randn(ctx, NB_SHAPE(10, 100), 0, 1, &rng),
              *m2 = nb_randn(ctx, NB_SHAPE(100, 5), 0, 1, &rng),
              *m3 = nb_randn(ctx, NB_SHAPE(5, 50), 0, 1, &rng),
              *m4 = nb_randn(ctx, NB_SHAPE(50, 1), 0, 1, &rng);
    nb_tensor *md = nb_multi_dot((nb_tensor *[]){m1, m2, m3, m4}, 4);
    ck_assert(md && maxdiff(md, nb_matmul(nb_matmul(nb_matmul(m1, m2), m3), m4)) < 1e-3);
    nb_tensor *v1 = nb_randn(ctx, NB_SHAPE(10), 0, 1, &rng), *v2 = nb_randn(ctx, NB_SHAPE(50), 0, 1, &rng);
    nb_tensor *sc = nb_multi_dot((nb_tensor *[]){v1, m1, m2, m3, v2}, 5);
    ck_assert(sc && sc->ndim == 0);
    nb_tensor *ref =
        nb_matmul(nb_matmul(nb_matmul(nb_unsqueeze(v1, 0), m1), m2), nb_matmul(m3, nb_unsqueeze(v2, 1)));
    ck_assert(nb_close(nb_data_f32(sc)[0], nb_data_f32(ref)[0], 1e-4, 1e-3));
    ck_assert(!nb_multi_dot((nb_tensor *[]){m1, m3}, 2) &&
              strstr(nb_last_error(), "multi_dot: matrix 0 [10,100] does not chain with matrix 1 [5,50]"));
    ck_assert(!nb_multi_dot((nb_tensor *[]){m1, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 100, 5))}, 2) &&
              strstr(nb_last_error(), "2-d"));
}
END_TEST

/* the first matrix of a [2, 4, 4] batch */
static nb_tensor *first_matrix(nb_tensor *x) { return nb_reshape(nb_narrow(x, 0, 0, 1), NB_SHAPE(4, 4)); }

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *x = in[0], *s = nb_add(x, nb_transpose(x, -1, -2)), *v = NULL, *r = NULL;
    switch (gc_case) {
    case 0: return nb_eigvalsh(s);
    case 1: return nb_eigh(s, &v) ? v : NULL;
    case 2: { /* both results through one node */
        nb_tensor *w = nb_eigh(s, &v);
        return w ? nb_matmul(nb_mul(v, nb_unsqueeze(nb_exp(w), -2)), nb_transpose(v, -1, -2)) : NULL;
    }
    case 3:
        return nb_qr(x, false, &r) ? nb_add(nb_sum(r, 1, (const int[]){-1}, false),
                                            nb_sum(nb_qr(x, false, NULL), 1, (const int[]){-1}, false))
                                   : NULL;
    case 4: return nb_qr(x, false, NULL);
    case 5: return nb_qr(x, false, &r) ? r : NULL;
    case 6: /* wide */ return nb_qr(nb_transpose(nb_narrow(x, -2, 0, 3), -1, -2), false, NULL);
    case 7:
        return nb_qr(nb_narrow(x, -2, 0, 3), false, &r)
                   ? nb_add(nb_sum(r, 1, (const int[]){-1}, false),
                            nb_sum(nb_qr(nb_narrow(x, -2, 0, 3), false, NULL), 1, (const int[]){-2}, false))
                   : NULL;
    case 8: /* complete with m <= n: square */
        return nb_qr(x, true, &r) ? nb_mul(r, nb_qr(x, true, NULL)) : NULL;
    case 9: return nb_svdvals(x);
    case 10:
    case 11:
    case 12: { /* square, tall, wide: U and Vh through U diag(e^s) Vh and directly */
        nb_tensor *y = gc_case == 10   ? x
                       : gc_case == 11 ? nb_narrow(x, -1, 0, 3)
                                       : nb_narrow(x, -2, 0, 2),
                  *vh;
        nb_tensor *s = nb_svd(y, &v, &vh);
        if (!s) return NULL;
        nb_tensor *parts[3] = {
            nb_reshape(nb_matmul(nb_mul(v, nb_unsqueeze(nb_exp(s), -2)), vh), NB_SHAPE(2, -1)),
            nb_reshape(v, NB_SHAPE(2, -1)), nb_reshape(vh, NB_SHAPE(2, -1))};
        return nb_cat(parts, 3, -1);
    }
    case 13: return nb_pinv(nb_narrow(x, -1, 0, 3), -1.0);
    case 14: return nb_pinv(nb_narrow(x, -2, 0, 2), -1.0);
    case 15: return nb_lstsq(nb_narrow(x, -1, 0, 2), nb_narrow(x, -1, 2, 2));
    case 16: {
        const char *ords[6] = {"nuc", "2", "-2", "1", "inf", "fro"};
        nb_tensor *acc = nb_cond(x);
        for (int i = 0; i < 6; i++)
            acc = nb_add(acc, nb_matrix_norm(x, ords[i]));
        return acc;
    }
    case 17: return nb_matrix_exp(x);
    case 18: return nb_matrix_exp(nb_mul_scalar(x, 4.0f)); /* scaled and squared */
    case 19: {                                             /* a row, two matrices and a thin one */
        nb_tensor *m = first_matrix(x);
        return nb_multi_dot((nb_tensor *[]){nb_reshape(nb_narrow(m, 0, 1, 1), NB_SHAPE(4)), m,
                                            nb_transpose(m, 0, 1), nb_narrow(m, 1, 0, 2)},
                            4);
    }
    default: return NULL;
    }
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case <= 19; gc_case++) {
        nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, 4), 0, 1, &rng);
        nb_requires_grad_(x, true);
        nb_gradcheck_opts o = {.eps = 1e-3, .atol = 3e-3, .rtol = 3e-2, .seed = 7};
        int r = nb_gradcheck(gc_fn, &x, 1, NULL, &o);
        ck_assert_msg(r == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

/* what review found: a NaN or inf in the lower triangle gives NaN (it looked converged: the
 * sorted diagonal came back); a -0 leading entry reflects as LAPACK's SIGN(h, -0) does */
START_TEST(review_cases) {
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){1, 0, 0, 0, 2, 3, NAN, 3, 4});
    nb_tensor *v = NULL, *w = nb_eigh(a, &v);
    ck_assert(w && isnan(nb_data_f32(w)[0]) && isnan(nb_data_f32(w)[2]) && isnan(nb_data_f32(v)[4]));
    nb_tensor *b = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){2, 0, INFINITY, 2});
    ck_assert(isnan(nb_data_f32(nb_eigvalsh(b))[1]));
    nb_tensor *z = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){-0.0f, 1, 2, 3, 1, 0, 4, 5, 6}),
              *r = NULL;
    nb_tensor *q = nb_qr(z, false, &r); /* torch: R's diagonal 5, 2.4166, 0.3310 */
    ck_assert(q && nb_close(nb_get(r, (int64_t[]){0, 0}), 5, 1e-6, 1e-6) &&
              nb_close(nb_get(r, (int64_t[]){2, 2}), 0.33104, 1e-4, 1e-4));
    /* a reflection leaves Q's earlier columns alone (as orgqr): an inf in the last column of A
     * does not reach Q's first */
    nb_tensor *fi = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 2), (const float[]){1, 2, 3, 4, 5, INFINITY});
    nb_tensor *qf = nb_qr(fi, false, NULL);
    ck_assert(qf && nb_close(nb_get(qf, (int64_t[]){2, 0}), -5 / sqrt(35.0), 1e-6, 1e-6) &&
              nb_close(nb_get(qf, (int64_t[]){0, 0}), -1 / sqrt(35.0), 1e-6, 1e-6));
    /* the sign rule does not pick between two entries of equal size: the first of them leads */
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){0, 1, 1, 0}), *tv = NULL;
    ck_assert(nb_eigh(t, &tv) && nb_get(tv, (int64_t[]){0, 0}) > 0 && nb_get(tv, (int64_t[]){0, 1}) > 0);
}
END_TEST

/* the tridiagonal route (n > 4): A V = V diag(w) and V^T V = I on random, clustered, decoupled
 * and scaled spectra; eigvalsh is bit for bit eigh's values (they share the QL iteration) */
static void check_eigh(nb_tensor *a, double tol) {
    const int64_t n = a->shape[a->ndim - 1];
    nb_tensor *v = NULL, *w = nb_contiguous(nb_eigh(a, &v));
    ck_assert_msg(w && v, "%s", nb_last_error());
    double scale = 1e-30;
    for (int64_t i = 0; i < nb_numel(w); i++)
        scale = fmax(scale, fabs(nb_data_f32(w)[i]));
    ck_assert_msg(maxdiff(nb_matmul(a, v), nb_mul(v, nb_unsqueeze(w, -2))) <= tol * scale, "n %lld: residual",
                  (long long)n);
    ck_assert(maxdiff(nb_matmul(nb_transpose(v, -1, -2), v), eye_like(n, v->ndim, v->shape)) <= tol);
    ck_assert(maxdiff(nb_eigvalsh(a), w) == 0);
    for (int64_t i = 1; i < nb_numel(w); i++)
        if (i % n)
            ck_assert_msg(nb_data_f32(w)[i - 1] <= nb_data_f32(w)[i], "n %lld, %lld: %g > %g", (long long)n,
                          (long long)i, nb_data_f32(w)[i - 1], nb_data_f32(w)[i]);
}

START_TEST(eigh_tridiagonal) {
    const int64_t sizes[] = {5, 17, 64, 130};
    for (int i = 0; i < 4; i++)
        check_eigh(sym(NB_SHAPE(2, sizes[i], sizes[i])), 2e-5);
    /* I + u u^T: 1 repeated n - 1 times, and 1 + |u|^2 */
    nb_tensor *u = nb_randn(ctx, NB_SHAPE(20, 1), 0, 1, &rng);
    nb_tensor *r1 = nb_add(nb_eye(ctx, 20, 20), nb_matmul(u, nb_transpose(u, 0, 1)));
    check_eigh(r1, 1e-5);
    nb_tensor *w1 = nb_eigvalsh(r1);
    double uu = 0;
    for (int i = 0; i < 20; i++)
        uu += nb_data_f32(u)[i] * nb_data_f32(u)[i];
    ck_assert(nb_close(nb_data_f32(w1)[0], 1, 1e-5, 1e-5) && nb_close(nb_data_f32(w1)[18], 1, 1e-5, 1e-5));
    ck_assert(nb_close(nb_data_f32(w1)[19], 1 + uu, 1e-5, 1e-5));
    /* a diagonal matrix (every reflection skipped) sorts its diagonal exactly, vectors unit */
    float dg[64] = {0};
    for (int i = 0; i < 8; i++)
        dg[i * 9] = (float)((i * 5) % 8) - 3.0f;
    nb_tensor *dm = nb_from_data(ctx, NB_F32, NB_SHAPE(8, 8), dg), *dv = NULL;
    nb_tensor *dw = nb_contiguous(nb_eigh(dm, &dv));
    for (int i = 0; i < 8; i++)
        ck_assert(nb_data_f32(dw)[i] == (float)i - 3.0f);
    check_eigh(dm, 0);
    /* two decoupled blocks and a zero row: the QL splits where the off-diagonal is 0 */
    nb_tensor *blk = nb_contiguous(sym(NB_SHAPE(9, 9)));
    float *bd = nb_data_f32(blk);
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++)
            if ((i < 4) != (j < 4) || i == 6 || j == 6) bd[i * 9 + j] = 0;
    check_eigh(blk, 1e-5);
    /* scale: the spectrum of 1e30 A and 1e-30 A is that of A, scaled */
    nb_tensor *s0 = sym(NB_SHAPE(12, 12)), *ws = nb_eigvalsh(s0);
    const float sc[2] = {1e30f, 1e-30f};
    for (int k = 0; k < 2; k++) {
        nb_tensor *big = nb_mul_scalar(s0, sc[k]);
        check_eigh(big, 2e-5);
        ck_assert(maxdiff(nb_mul_scalar(nb_eigvalsh(big), 1.0f / sc[k]), ws) < 1e-5);
    }
    /* what review found: rank-1 integer matrices (ones, r r^T) left noise near 1e-169 on the
     * off-diagonal that never deflated (NaN after 60 iterations), and subnormal sums of squares
     * gave reflections that were not orthogonal */
    for (int n = 5; n < 40; n += 3) {
        nb_tensor *ones = nb_full(ctx, NB_F32, NB_SHAPE(n, n), 3.0);
        check_eigh(ones, 1e-5);
        ck_assert(nb_close(nb_data_f32(nb_contiguous(nb_eigvalsh(ones)))[n - 1], 3.0 * n, 1e-5, 1e-5));
        nb_tensor *r = nb_contiguous(nb_zeros(ctx, NB_F32, NB_SHAPE(n, 1)));
        for (int i = 0; i < n; i++)
            nb_data_f32(r)[i] = (float)((4 * i) % 7 - 3);
        check_eigh(nb_matmul(r, nb_transpose(r, 0, 1)), 1e-5);
    }
    /* a NaN anywhere in the lower triangle: NaN everywhere */
    nb_tensor *bad = nb_contiguous(sym(NB_SHAPE(6, 6)));
    nb_data_f32(bad)[4 * 6 + 1] = NAN;
    nb_tensor *bv = NULL, *bw = nb_contiguous(nb_eigh(bad, &bv));
    bv = nb_contiguous(bv);
    ck_assert(isnan(nb_data_f32(bw)[0]) && isnan(nb_data_f32(bw)[5]) && isnan(nb_data_f32(bv)[35]));
}
END_TEST

/* repeated eigenvalues: the eigenvalues' gradient stays finite when the vectors go unused */
START_TEST(repeated_eigenvalues) {
    nb_tensor *x = nb_mul_scalar(nb_eye(ctx, 4, 4), 2.0f);
    nb_requires_grad_(x, true);
    nb_tensor *w = nb_eigvalsh(x);
    ck_assert(w && nb_data_f32(w)[0] == 2 && nb_data_f32(w)[3] == 2);
    ck_assert(nb_backward(nb_sum(nb_mul(w, w), 0, NULL, false)) == 0);
    for (int i = 0; i < 16; i++) /* d sum w^2 / dA = 2 V diag(w) V^T = 4 I */
        ck_assert_msg(nb_close(nb_data_f32(x->grad)[i], i % 5 == 0 ? 4.0 : 0.0, 1e-6, 1e-6), "%d: %g", i,
                      nb_data_f32(x->grad)[i]);
}
END_TEST

START_TEST(refusals) {
    ck_assert(!nb_eigh(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4)), NULL) &&
              strstr(nb_last_error(), "eigh: A [3,4] is not square"));
    ck_assert(!nb_eigvalsh(nb_zeros(ctx, NB_I32, NB_SHAPE(2, 2))) && strstr(nb_last_error(), "eigvalsh"));
    ck_assert(!nb_qr(nb_zeros(ctx, NB_F32, NB_SHAPE(3)), false, NULL) &&
              strstr(nb_last_error(), "qr: A [3] has fewer than 2"));
    /* a complete QR of a tall matrix has no gradient: an error, not a number */
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(4, 2), 0, 1, &rng);
    nb_requires_grad_(x, true);
    nb_tensor *q = nb_qr(x, true, NULL);
    ck_assert(q && q->shape[1] == 4);
    ck_assert(nb_backward(nb_sum(q, 0, NULL, false)) != 0 &&
              strstr(nb_last_error(), "complete QR with more rows"));
    nb_clear_error();
    ck_assert(!nb_qr(NULL, false, NULL) && strstr(nb_last_error(), "qr: NULL input 0"));
}
END_TEST

static Suite *make_suite(void) {
    Suite *s = suite_create("ops_decomp");
    TCase *tc = tcase_create("decomp");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, eigh_values);
    tcase_add_test(tc, eigh_tridiagonal);
    tcase_add_test(tc, qr_values);
    tcase_add_test(tc, svd_values);
    tcase_add_test(tc, svd_bidiagonal);
    tcase_add_test(tc, svd_full);
    tcase_add_test(tc, matfunc_values);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, repeated_eigenvalues);
    tcase_add_test(tc, review_cases);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
