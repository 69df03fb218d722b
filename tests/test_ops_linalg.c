/* Linear algebra (ops/linalg.c): solve, inverse, det, slogdet, logdet, Cholesky, triangular and
 * Cholesky solves, matrix powers and LU factors against a Gaussian elimination in double written
 * here, their gradients by finite differences, and the refusals. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

NB_TEST_FIXTURE(1 << 24, 29)

/* a well-conditioned random batch [.., n, n]: randn / sqrt(n) + 2 I */
static nb_tensor *wellcond(int ndim, const int64_t *shape) {
    const int64_t n = shape[ndim - 1];
    nb_tensor *a = nb_randn(ctx, ndim, shape, 0, 1.0f / sqrtf((float)n), &rng);
    return nb_add(a, nb_mul_scalar(nb_eye(ctx, n, n), 2.0f));
}

/* det of m [n*n] (row-major, copied) by elimination with partial pivoting, in double */
static double ref_det(const float *m, int n) {
    double a[64 * 64], d = 1.0;
    for (int i = 0; i < n * n; i++)
        a[i] = m[i];
    for (int k = 0; k < n; k++) {
        int r = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[r * n + k])) r = i;
        if (a[r * n + k] == 0.0) return 0.0;
        if (r != k) {
            for (int j = 0; j < n; j++) {
                const double t = a[k * n + j];
                a[k * n + j] = a[r * n + j], a[r * n + j] = t;
            }
            d = -d;
        }
        d *= a[k * n + k];
        for (int i = k + 1; i < n; i++) {
            const double f = a[i * n + k] / a[k * n + k];
            for (int j = k; j < n; j++)
                a[i * n + j] -= f * a[k * n + j];
        }
    }
    return d;
}

/* x = m^-1 b for m [n*n], b [n*k], by Gauss-Jordan in double */
static void ref_solve(const float *m, const float *b, int n, int k, double *x) {
    double a[16 * 32];
    const int w = n + k;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            a[i * w + j] = m[i * n + j];
        for (int j = 0; j < k; j++)
            a[i * w + n + j] = b[i * k + j];
    }
    for (int c = 0; c < n; c++) {
        int r = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(a[i * w + c]) > fabs(a[r * w + c])) r = i;
        for (int j = 0; j < w; j++) {
            const double t = a[c * w + j];
            a[c * w + j] = a[r * w + j], a[r * w + j] = t;
        }
        for (int i = 0; i < n; i++) {
            if (i == c) continue;
            const double f = a[i * w + c] / a[c * w + c];
            for (int j = 0; j < w; j++)
                a[i * w + j] -= f * a[c * w + j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            x[i * k + j] = a[i * w + n + j] / a[i * w + i];
}

/* t's entry i along dim, the dim dropped */
static nb_tensor *pick(nb_tensor *t, int dim, int64_t i) { return nb_squeeze(nb_narrow(t, dim, i, 1), dim); }

/* max |a - b| over equal-shaped tensors */
static double maxdiff(nb_tensor *a, nb_tensor *b) {
    ck_assert_msg(a && b, "%s", nb_last_error());
    ck_assert_int_eq(nb_numel(a), nb_numel(b));
    nb_tensor *ac = nb_contiguous(a), *bc = nb_contiguous(b);
    double m = 0;
    for (int64_t i = 0; i < nb_numel(a); i++) {
        const double d = fabs((double)nb_data_f32(ac)[i] - nb_data_f32(bc)[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

START_TEST(solve_values) {
    const int n = 5, k = 3;
    nb_tensor *a = wellcond(NB_SHAPE(4, n, n)), *b = nb_randn(ctx, NB_SHAPE(4, n, k), 0, 1, &rng);
    nb_tensor *x = nb_solve(a, b, true);
    ck_assert_msg(x && x->ndim == 3 && x->shape[0] == 4 && x->shape[1] == n && x->shape[2] == k, "%s",
                  nb_last_error());
    for (int bi = 0; bi < 4; bi++) {
        double ref[5 * 3];
        ref_solve(nb_data_f32(a) + bi * n * n, nb_data_f32(b) + bi * n * k, n, k, ref);
        for (int i = 0; i < n * k; i++)
            ck_assert_msg(nb_close(nb_data_f32(x)[bi * n * k + i], ref[i], 1e-5, 1e-5),
                          "batch %d entry %d: %g vs %g", bi, i, nb_data_f32(x)[bi * n * k + i], ref[i]);
    }
    /* X A = B */
    nb_tensor *br = nb_randn(ctx, NB_SHAPE(4, k, n), 0, 1, &rng), *xr = nb_solve(a, br, false);
    ck_assert(maxdiff(nb_matmul(xr, a), br) < 1e-5);
    /* a vector right-hand side, alone and batched (B's shape A's without the last dim) */
    nb_tensor *v = nb_randn(ctx, NB_SHAPE(n), 0, 1, &rng), *xv = nb_solve(a, v, true);
    ck_assert(xv && xv->ndim == 2 && xv->shape[0] == 4 && xv->shape[1] == n);
    ck_assert(maxdiff(nb_squeeze(nb_matmul(a, nb_unsqueeze(xv, -1)), -1), nb_expand(v, NB_SHAPE(4, n))) <
              1e-5);
    nb_tensor *vb = nb_randn(ctx, NB_SHAPE(4, n), 0, 1, &rng), *xvb = nb_solve(a, vb, true);
    ck_assert(xvb && xvb->ndim == 2 &&
              maxdiff(nb_squeeze(nb_matmul(a, nb_unsqueeze(xvb, -1)), -1), vb) < 1e-5);
    /* batch dims broadcast: A [2,1,n,n] with B [3,n,k] -> [2,3,n,k] */
    nb_tensor *a2 = wellcond(NB_SHAPE(2, 1, n, n)), *b3 = nb_randn(ctx, NB_SHAPE(3, n, k), 0, 1, &rng);
    nb_tensor *x23 = nb_solve(a2, b3, true);
    ck_assert(x23 && x23->ndim == 4 && x23->shape[0] == 2 && x23->shape[1] == 3);
    ck_assert(maxdiff(nb_matmul(a2, x23), nb_expand(b3, NB_SHAPE(2, 3, n, k))) < 1e-5);
    /* a strided (transposed) A reads as its values */
    nb_tensor *at = nb_transpose(a, 1, 2);
    ck_assert(maxdiff(nb_solve(at, b, true), nb_solve(nb_contiguous(at), b, true)) == 0);
    /* a matrix that needs pivoting: [[0, 1], [1, 0]] */
    nb_tensor *p = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){0, 1, 1, 0});
    nb_tensor *xp = nb_solve(p, nb_from_data(ctx, NB_F32, NB_SHAPE(2), (const float[]){3, 7}), true);
    ck_assert(xp && nb_data_f32(xp)[0] == 7 && nb_data_f32(xp)[1] == 3);
}
END_TEST

START_TEST(large_and_empty) {
    /* n = 160 over a batch: the residual stays at f32 rounding */
    const int n = 160;
    nb_tensor *a = wellcond(NB_SHAPE(3, n, n)), *b = nb_randn(ctx, NB_SHAPE(3, n, 70), 0, 1, &rng);
    nb_tensor *x = nb_solve(a, b, true);
    ck_assert(maxdiff(nb_matmul(a, x), b) < 1e-4);
    nb_tensor *inv = nb_inverse(a);
    ck_assert(maxdiff(nb_matmul(inv, a), nb_expand(nb_eye(ctx, n, n), NB_SHAPE(3, n, n))) < 1e-4);
    /* 0 x 0 matrices: det 1, solve gives an empty result; an empty batch gives empty results */
    nb_tensor *e = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0, 0));
    nb_tensor *de = nb_det(e);
    ck_assert(de && de->ndim == 1 && de->shape[0] == 2 && nb_data_f32(de)[0] == 1 && nb_data_f32(de)[1] == 1);
    nb_tensor *xe = nb_solve(e, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 0, 3)), true);
    ck_assert(xe && xe->shape[1] == 0 && xe->shape[2] == 3);
    nb_tensor *z = nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3, 3));
    ck_assert(nb_det(z) && nb_det(z)->shape[0] == 0);
    ck_assert(nb_inverse(z) && nb_numel(nb_inverse(z)) == 0);
    ck_assert(nb_cholesky(z, false) && nb_numel(nb_cholesky(z, false)) == 0);
}
END_TEST

START_TEST(det_values) {
    const int n = 6;
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(5, n, n), 0, 1, &rng);
    nb_tensor *d = nb_det(a), *sign = NULL, *ld = nb_slogdet(a, &sign);
    ck_assert(d && ld && sign && d->ndim == 1 && d->shape[0] == 5 && sign->shape[0] == 5);
    for (int bi = 0; bi < 5; bi++) {
        const double r = ref_det(nb_data_f32(a) + bi * n * n, n);
        ck_assert_msg(nb_close(nb_data_f32(d)[bi], r, 1e-5, 1e-6), "det %d: %g vs %g", bi, nb_data_f32(d)[bi],
                      r);
        ck_assert(nb_data_f32(sign)[bi] == (r > 0 ? 1.0f : -1.0f));
        ck_assert(nb_close(nb_data_f32(ld)[bi], log(fabs(r)), 1e-5, 1e-5));
    }
    /* logdet: NaN for a negative determinant, the log for a positive one */
    nb_tensor *lg = nb_logdet(a);
    for (int bi = 0; bi < 5; bi++)
        ck_assert(nb_data_f32(sign)[bi] < 0 ? isnan(nb_data_f32(lg)[bi])
                                            : nb_data_f32(lg)[bi] == nb_data_f32(ld)[bi]);
    /* exact cases: a permutation (-1), a singular matrix (0, sign 0, log -inf), a triangle */
    nb_tensor *perm = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){0, 1, 0, 1, 0, 0, 0, 0, 1});
    ck_assert(nb_data_f32(nb_det(perm))[0] == -1.0f);
    nb_tensor *sing = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){1, 2, 3, 2, 4, 6, 1, 0, 1});
    nb_tensor *s0 = NULL, *l0 = nb_slogdet(sing, &s0);
    ck_assert(nb_data_f32(nb_det(sing))[0] == 0.0f && nb_data_f32(s0)[0] == 0.0f &&
              isinf(nb_data_f32(l0)[0]) && nb_data_f32(l0)[0] < 0);
    ck_assert(isinf(nb_data_f32(nb_logdet(sing))[0]));
    nb_tensor *tri =
        nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){2, 5, 7, 0, -3, 1, 0, 0, 0.5f});
    ck_assert(nb_data_f32(nb_det(tri))[0] == -3.0f);
}
END_TEST

START_TEST(cholesky_values) {
    const int n = 7;
    nb_tensor *m = nb_randn(ctx, NB_SHAPE(3, n, n), 0, 1, &rng);
    nb_tensor *a = nb_add(nb_matmul(m, nb_transpose(m, 1, 2)), nb_mul_scalar(nb_eye(ctx, n, n), 0.5f));
    nb_tensor *l = nb_cholesky(a, false);
    ck_assert_msg(l, "%s", nb_last_error());
    ck_assert(maxdiff(nb_matmul(l, nb_transpose(l, 1, 2)), a) < 1e-4);
    for (int bi = 0; bi < 3; bi++)
        for (int i = 0; i < n; i++) {
            ck_assert(nb_get(l, (int64_t[]){bi, i, i}) > 0);
            for (int j = i + 1; j < n; j++)
                ck_assert(nb_get(l, (int64_t[]){bi, i, j}) == 0);
        }
    /* only the lower triangle is read; upper gives L^T and reads the upper one */
    nb_tensor *junk = nb_add(a, nb_triu(nb_randn(ctx, NB_SHAPE(3, n, n), 0, 5, &rng), 1));
    ck_assert(maxdiff(nb_cholesky(junk, false), l) == 0);
    ck_assert(maxdiff(nb_cholesky(a, true), nb_transpose(l, 1, 2)) < 1e-6);
    nb_tensor *junk_low = nb_add(a, nb_tril(nb_randn(ctx, NB_SHAPE(3, n, n), 0, 5, &rng), -1));
    ck_assert(maxdiff(nb_cholesky(junk_low, true), nb_cholesky(a, true)) == 0);
    /* cholesky_solve agrees with solve, for L and for U */
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(3, n, 2), 0, 1, &rng), *x = nb_solve(a, b, true);
    ck_assert(maxdiff(nb_cholesky_solve(b, l, false), x) < 1e-4);
    ck_assert(maxdiff(nb_cholesky_solve(b, nb_cholesky(a, true), true), x) < 1e-4);
    /* not positive-definite: the matrix is named */
    nb_tensor *bad = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2, 2), (const float[]){4, 0, 0, 1, 1, 2, 2, 1});
    ck_assert(!nb_cholesky(bad, false));
    ck_assert_msg(strstr(nb_last_error(), "cholesky: matrix 1 of the batch is not positive-definite") &&
                      strstr(nb_last_error(), "order 2"),
                  "%s", nb_last_error());
    nb_clear_error();
    nb_tensor *nanm = nb_from_data(ctx, NB_F32, NB_SHAPE(1, 1), (const float[]){NAN});
    ck_assert(!nb_cholesky(nanm, false) && strstr(nb_last_error(), "the matrix is not positive-definite"));
}
END_TEST

START_TEST(triangular_values) {
    const int n = 6, k = 4;
    nb_tensor *raw = nb_randn(ctx, NB_SHAPE(2, n, n), 0, 1, &rng);
    nb_tensor *a = nb_add(raw, nb_mul_scalar(nb_eye(ctx, n, n), 4.0f));
    for (int c = 0; c < 8; c++) {
        const bool upper = c & 1, left = c & 2, unit = c & 4;
        nb_tensor *t = upper ? nb_triu(a, 0) : nb_tril(a, 0);
        if (unit) t = nb_add(nb_sub(t, nb_mul(t, nb_eye(ctx, n, n))), nb_eye(ctx, n, n));
        nb_tensor *b = left ? nb_randn(ctx, NB_SHAPE(2, n, k), 0, 1, &rng)
                            : nb_randn(ctx, NB_SHAPE(2, k, n), 0, 1, &rng);
        nb_tensor *x = nb_solve_triangular(a, b, upper, left, unit); /* a's other triangle is junk */
        ck_assert_msg(x, "%s", nb_last_error());
        nb_tensor *back = left ? nb_matmul(t, x) : nb_matmul(x, t);
        ck_assert_msg(maxdiff(back, b) < 1e-5, "case %d: %g", c, maxdiff(back, b));
    }
}
END_TEST

START_TEST(power_and_lu) {
    const int n = 4;
    nb_tensor *a = wellcond(NB_SHAPE(2, n, n));
    ck_assert(maxdiff(nb_matrix_power(a, 3), nb_matmul(nb_matmul(a, a), a)) < 1e-5);
    ck_assert(maxdiff(nb_matrix_power(a, 6),
                      nb_matmul(nb_matmul(nb_matmul(a, a), a), nb_matmul(nb_matmul(a, a), a))) < 1e-4);
    nb_tensor *inv = nb_inverse(a);
    ck_assert(maxdiff(nb_matrix_power(a, -2), nb_matmul(inv, inv)) < 1e-5);
    ck_assert(maxdiff(nb_matrix_power(a, 0), nb_expand(nb_eye(ctx, n, n), NB_SHAPE(2, n, n))) == 0);
    nb_tensor *p1 = nb_matrix_power(a, 1);
    ck_assert(p1 && p1 != a && maxdiff(p1, a) == 0);
    /* LU: P A = L U rebuilt from the packed factors and the pivots */
    nb_tensor *piv = NULL, *lu = nb_lu_factor(a, &piv);
    ck_assert_msg(lu && piv && piv->dtype == NB_I32 && piv->ndim == 2 && piv->shape[1] == n, "%s",
                  nb_last_error());
    nb_tensor *l = nb_add(nb_tril(lu, -1), nb_eye(ctx, n, n)), *u = nb_triu(lu, 0),
              *lu_prod = nb_matmul(l, u);
    for (int bi = 0; bi < 2; bi++) {
        float pa[4][4];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                pa[i][j] = (float)nb_get(a, (int64_t[]){bi, i, j});
        for (int kk = 0; kk < n; kk++) {
            const int r = (int)nb_get(piv, (int64_t[]){bi, kk});
            ck_assert(r >= kk && r < n);
            for (int j = 0; j < n; j++) {
                const float t = pa[kk][j];
                pa[kk][j] = pa[r][j], pa[r][j] = t;
            }
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                ck_assert(fabs(pa[i][j] - nb_get(lu_prod, (int64_t[]){bi, i, j})) < 1e-5);
    }
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(2, n, 3), 0, 1, &rng);
    ck_assert(maxdiff(nb_lu_solve(lu, piv, b, false), nb_solve(a, b, true)) < 1e-5);
    ck_assert(maxdiff(nb_lu_solve(lu, piv, b, true), nb_solve(nb_transpose(a, 1, 2), b, true)) < 1e-5);
    /* the batch dims broadcast: one factorisation against a batch of B, a batch against one B */
    nb_tensor *lu0 = pick(lu, 0, 0), *piv0 = pick(piv, 0, 0),
              *b3 = nb_randn(ctx, NB_SHAPE(3, 1, n, 2), 0, 1, &rng);
    nb_tensor *x3 = nb_lu_solve(lu0, piv0, b3, false);
    ck_assert_msg(x3 && x3->ndim == 4 && x3->shape[0] == 3 && x3->shape[1] == 1, "%s", nb_last_error());
    ck_assert(maxdiff(x3, nb_solve(pick(a, 0, 0), b3, true)) < 1e-5);
    nb_tensor *xb = nb_lu_solve(lu, piv, b3, true); /* [2] against [3, 1]: [3, 2] */
    ck_assert(xb && xb->shape[0] == 3 && xb->shape[1] == 2);
    ck_assert(maxdiff(xb, nb_solve(nb_transpose(a, 1, 2), b3, true)) < 1e-5);
}
END_TEST

static int gc_case;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *a = in[0], *b = in[1];
    nb_tensor *spd = nb_add(nb_matmul(a, nb_transpose(a, -1, -2)), nb_mul_scalar(nb_eye(ctx, 4, 4), 1.0f));
    switch (gc_case) {
    case 0: return nb_solve(a, b, true);
    case 1: return nb_solve(a, nb_transpose(b, -1, -2), false);
    case 2: return nb_inverse(a);
    case 3: return nb_det(a);
    case 4: return nb_slogdet(a, NULL);
    case 5: return nb_logdet(spd);
    case 6: return nb_cholesky(spd, false);
    case 7: return nb_cholesky(spd, true);
    case 8: return nb_solve_triangular(a, b, false, true, false);
    case 9: return nb_solve_triangular(a, b, true, true, true);
    case 10: return nb_solve_triangular(a, nb_transpose(b, -1, -2), true, false, false);
    case 11: return nb_solve_triangular(a, nb_transpose(b, -1, -2), false, false, true);
    case 12: return nb_cholesky_solve(b, nb_cholesky(spd, false), false);
    case 13: return nb_cholesky_solve(b, nb_cholesky(spd, true), true);
    case 14: return nb_matrix_power(a, -3);
    case 15: return nb_matrix_power(a, 5);
    case 16: return nb_solve(a, pick(b, -1, 0), true); /* a vector right-hand side */
    case 21: return nb_det(a);                         /* at a singular matrix (refusals) */
    case 19: { /* one factorisation, a batch of B: B's gradient summed back over nothing, x over B */
        nb_tensor *piv, *lu = nb_lu_factor(nb_detach(pick(a, 0, 0)), &piv);
        return nb_lu_solve(lu, piv, b, true);
    }
    case 20: { /* the factors' batch against one B: B's gradient summed over the batch */
        nb_tensor *piv, *lu = nb_lu_factor(nb_detach(a), &piv);
        return nb_lu_solve(lu, piv, pick(b, 0, 0), false);
    }
    default: {
        nb_tensor *piv, *lu = nb_lu_factor(nb_detach(a), &piv);
        return nb_lu_solve(lu, piv, b, gc_case == 18);
    }
    }
}

START_TEST(gradients) {
    for (gc_case = 0; gc_case <= 20; gc_case++) {
        nb_tensor *a = wellcond(NB_SHAPE(2, 4, 4)), *b = nb_randn(ctx, NB_SHAPE(2, 4, 3), 0, 1, &rng);
        if (gc_case == 14 || gc_case == 15) a = nb_mul_scalar(a, 0.5f); /* keep the powers near 1 */
        nb_requires_grad_(a, gc_case < 17), nb_requires_grad_(b, true); /* LU factors carry none */
        nb_gradcheck_opts o = {.eps = 1e-3, .atol = 2e-3, .rtol = 2e-2, .seed = 5};
        nb_tensor *in[2] = {a, b};
        int r = nb_gradcheck(gc_fn, in, 2, NULL, &o);
        ck_assert_msg(r == 1, "case %d: %s", gc_case, nb_last_error());
    }
}
END_TEST

/* batch broadcasting sums A's gradient over the batch it was broadcast to */
START_TEST(broadcast_gradient) {
    nb_tensor *a = wellcond(NB_SHAPE(3, 3)), *b = nb_randn(ctx, NB_SHAPE(4, 3, 2), 0, 1, &rng);
    nb_requires_grad_(a, true);
    ck_assert(nb_backward(nb_sum(nb_solve(a, b, true), 0, NULL, false)) == 0);
    nb_tensor *ga = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 3));
    for (int i = 0; i < 4; i++) { /* the same through 4 separate solves */
        nb_tensor *a1 = nb_detach(a);
        nb_requires_grad_(a1, true);
        ck_assert(nb_backward(nb_sum(nb_solve(a1, pick(b, 0, i), true), 0, NULL, false)) == 0);
        ga = nb_add(ga, a1->grad);
    }
    ck_assert(maxdiff(a->grad, ga) < 1e-5);
}
END_TEST

/* what review found: a vector of one entry, a leading NaN pivot, empty batches of large
 * matrices, the identity power's gradient, messages in the caller's terms */
START_TEST(review_cases) {
    nb_tensor *a1 = nb_full(ctx, NB_F32, NB_SHAPE(1, 1, 1), 2.0),
              *b1 = nb_full(ctx, NB_F32, NB_SHAPE(1), 3.0);
    nb_tensor *x1 = nb_solve(a1, b1, true);
    ck_assert(x1 && x1->ndim == 2 && x1->shape[0] == 1 && x1->shape[1] == 1 && nb_data_f32(x1)[0] == 1.5f);
    /* a NaN met first is the pivot and spreads (torch's NaNs), no "singular" error */
    nb_tensor *an = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){NAN, 1, 0, 1});
    nb_tensor *xn = nb_solve(an, nb_full(ctx, NB_F32, NB_SHAPE(2), 1.0), true);
    ck_assert_msg(xn && isnan(nb_data_f32(xn)[0]), "%s", nb_last_error());
    ck_assert(nb_inverse(an) && isnan(nb_data_f32(nb_inverse(an))[0]));
    /* an empty batch of 8192 x 8192 matrices allocates no identity (the arena is 16 MiB) */
    nb_tensor *e = nb_zeros(ctx, NB_F32, NB_SHAPE(0, 8192, 8192));
    ck_assert_msg(nb_inverse(e) && nb_numel(nb_inverse(e)) == 0, "%s", nb_last_error());
    ck_assert(nb_matrix_power(e, 0) && nb_matrix_power(e, 0)->shape[1] == 8192);
    /* A^0 is the identity and still part of the graph, with a zero gradient */
    nb_tensor *g = wellcond(NB_SHAPE(3, 3));
    nb_requires_grad_(g, true);
    nb_tensor *p0 = nb_matrix_power(g, 0);
    ck_assert(p0 && p0->requires_grad && nb_get(p0, (int64_t[]){1, 1}) == 1 &&
              nb_get(p0, (int64_t[]){0, 1}) == 0);
    ck_assert(nb_backward(nb_sum(p0, 0, NULL, false)) == 0);
    for (int i = 0; i < 9; i++)
        ck_assert(nb_data_f32(g->grad)[i] == 0);
    /* messages name B as the caller gave it, and A's own batch */
    nb_tensor *sq = wellcond(NB_SHAPE(3, 3)), *b42 = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 2));
    ck_assert(!nb_solve(sq, b42, false));
    ck_assert_msg(strstr(nb_last_error(), "solve: B [4,2] does not have A [3,3]'s 3 columns"), "%s",
                  nb_last_error());
    ck_assert(!nb_solve_triangular(sq, b42, false, false, false));
    ck_assert_msg(strstr(nb_last_error(), "B [4,2] does not have A [3,3]'s 3 columns"), "%s",
                  nb_last_error());
    nb_tensor *s2 = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 1, 2, 2), (const float[]){1, 0, 0, 1, 1, 2, 2, 4});
    ck_assert(!nb_solve(s2, nb_zeros(ctx, NB_F32, NB_SHAPE(3, 2, 1)), true));
    ck_assert_msg(strstr(nb_last_error(), "matrix 1 of the batch is singular"), "%s", nb_last_error());
    nb_clear_error();
    ck_assert(!nb_cholesky_solve(NULL, sq, false) && strstr(nb_last_error(), "cholesky_solve: NULL input 0"));
    /* exactly singular matrices of small integers meet their exact zero pivot (the factorisation
     * runs on a double copy; f32 multipliers such as fl(2/3) left a residue of 1e-7) */
    nb_tensor *r2 = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){1, 2, 1, 2, 4, 0, 3, 6, 1});
    ck_assert(!nb_inverse(r2) && strstr(nb_last_error(), "inverse: the matrix is singular"));
    nb_tensor *sg = NULL, *la = nb_slogdet(r2, &sg);
    ck_assert(nb_data_f32(nb_det(r2))[0] == 0 && nb_data_f32(sg)[0] == 0 && isinf(nb_data_f32(la)[0]));
    nb_tensor *piv,
        *lu = nb_lu_factor(
            nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), (const float[]){1, 2, 3, 2, 4, 7, 3, 6, 8}), &piv);
    ck_assert(lu && nb_get(lu, (int64_t[]){1, 1}) == 0);
}
END_TEST

START_TEST(refusals) {
    nb_tensor *sq = wellcond(NB_SHAPE(3, 3)), *rect = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4));
    ck_assert(!nb_solve(rect, sq, true) && strstr(nb_last_error(), "solve: A [3,4] is not square"));
    ck_assert(!nb_det(nb_zeros(ctx, NB_F32, NB_SHAPE(3))) &&
              strstr(nb_last_error(), "det: A [3] has fewer than 2"));
    ck_assert(!nb_inverse(nb_zeros(ctx, NB_I32, NB_SHAPE(2, 2))) && strstr(nb_last_error(), "inverse"));
    ck_assert(!nb_solve(sq, nb_zeros(ctx, NB_F32, NB_SHAPE(4, 2)), true) &&
              strstr(nb_last_error(), "solve: B [4,2] does not have A [3,3]'s 3 rows"));
    ck_assert(
        !nb_solve(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3, 3)), nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3, 1)), true) &&
        strstr(nb_last_error(), "do not broadcast"));
    /* singular: named, in a batch too */
    nb_tensor *s = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2, 2), (const float[]){1, 0, 0, 1, 1, 2, 2, 4});
    ck_assert(!nb_solve(s, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 2, 1)), true));
    ck_assert_msg(strstr(nb_last_error(), "solve: matrix 1 of the batch is singular (U[1][1]"), "%s",
                  nb_last_error());
    ck_assert(!nb_inverse(pick(s, 0, 1)) && strstr(nb_last_error(), "inverse: the matrix is singular"));
    ck_assert(!nb_matrix_power(pick(s, 0, 1), -1) && strstr(nb_last_error(), "matrix_power: the matrix is"));
    /* det's gradient at a singular matrix is the cofactor matrix (through the SVD, as torch's):
     * [[4, -2], [-2, 1]] for [[1, 2], [2, 4]]; in a batch with the identity, I there */
    nb_tensor *s1 = nb_contiguous(nb_detach(s));
    nb_requires_grad_(s1, true);
    nb_tensor *d = nb_det(s1);
    ck_assert(d && nb_data_f32(d)[1] == 0);
    ck_assert_msg(nb_backward(nb_sum(d, 0, NULL, false)) == 0, "%s", nb_last_error());
    const float cof[8] = {1, 0, 0, 1, 4, -2, -2, 1};
    for (int i = 0; i < 8; i++)
        ck_assert_msg(nb_close(nb_data_f32(s1->grad)[i], cof[i], 1e-5, 1e-5), "%d: %g", i,
                      nb_data_f32(s1->grad)[i]);
    /* rank n - 1 and rank n - 2 (a zero gradient) against finite differences (det is smooth) */
    const float r2[9] = {1, 2, 3, 2, 4, 6, 1, 1, 1}, r1[9] = {1, 2, 3, 2, 4, 6, 3, 6, 9};
    for (int k = 0; k < 2; k++) {
        nb_tensor *x = nb_from_data(ctx, NB_F32, NB_SHAPE(3, 3), k ? r1 : r2);
        nb_requires_grad_(x, true);
        gc_case = 21;
        nb_gradcheck_opts o = {.eps = 1e-2, .atol = 1e-3, .rtol = 1e-3, .seed = 3};
        nb_tensor *in[2] = {x, nb_zeros(ctx, NB_F32, NB_SHAPE(3, 1))}; /* gc_fn reads two */
        ck_assert_msg(nb_gradcheck(gc_fn, in, 2, NULL, &o) == 1, "rank %d: %s", 2 - k, nb_last_error());
    }
    /* log|det|'s gradient there is infinite: an error naming the matrix */
    nb_tensor *l = nb_slogdet(s1, NULL);
    ck_assert(l && nb_backward(nb_sum(l, 0, NULL, false)) != 0 &&
              strstr(nb_last_error(), "the gradient of log|det| needs A invertible: matrix 1 of the batch is "
                                      "singular"));
    /* LU factors are not differentiable; pivots are checked */
    nb_tensor *g = nb_detach(sq), *piv;
    nb_requires_grad_(g, true);
    ck_assert(!nb_lu_factor(g, &piv) && !piv && strstr(nb_last_error(), "lu_factor: not differentiable"));
    nb_tensor *lu = nb_lu_factor(sq, &piv);
    ck_assert(lu && piv);
    nb_tensor *badp = nb_from_data(ctx, NB_I32, NB_SHAPE(3), (const int32_t[]){0, 0, 2});
    ck_assert(!nb_lu_solve(lu, badp, nb_zeros(ctx, NB_F32, NB_SHAPE(3, 1)), false) &&
              strstr(nb_last_error(), "lu_solve: pivot 1 is 0, outside [1, 3)"));
    ck_assert(!nb_lu_solve(lu, nb_cast(piv, NB_F32), nb_zeros(ctx, NB_F32, NB_SHAPE(3, 1)), false) &&
              strstr(nb_last_error(), "lu_solve: pivots"));
    ck_assert(!nb_lu_solve(nb_expand(lu, NB_SHAPE(2, 3, 3)), nb_expand(piv, NB_SHAPE(2, 3)),
                           nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3, 1)), false) &&
              strstr(nb_last_error(), "lu_solve: the batch dims of [2,3,3] and [4,3,1] do not broadcast"));
    ck_assert(!nb_lu_factor(sq, NULL) && strstr(nb_last_error(), "pivots is NULL"));
    nb_clear_error();
    ck_assert(!nb_solve(NULL, sq, true) && strstr(nb_last_error(), "solve: NULL input 0"));
    ck_assert(!nb_solve_triangular(sq, nb_zeros(ctx, NB_F32, NB_SHAPE(3)), false, false, false) &&
              strstr(nb_last_error(), "fewer than 2 dims"));
}
END_TEST

static Suite *make_suite(void) {
    Suite *s = suite_create("ops_linalg");
    TCase *tc = tcase_create("linalg");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, solve_values);
    tcase_add_test(tc, large_and_empty);
    tcase_add_test(tc, det_values);
    tcase_add_test(tc, cholesky_values);
    tcase_add_test(tc, triangular_values);
    tcase_add_test(tc, power_and_lu);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, broadcast_gradient);
    tcase_add_test(tc, review_cases);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
