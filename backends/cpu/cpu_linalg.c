/* backends/cpu/cpu_linalg.c - dense linear algebra on batches of small to medium matrices: LU
 * with partial pivoting, Cholesky, triangular solves and solves from LU factors. Each matrix (and
 * each block of right-hand-side columns) is one task; every entry is one dot product summed in
 * double in index order, the order the CUDA kernels (backends/cuda/cuda_src_linalg.c) use too.
 * The factorisations run on a double copy of the matrix, rounded to f32 once at the end (an
 * exactly singular matrix of small integers meets its exact zero pivot, as in LAPACK's own
 * precision). They are right-looking: step k finishes column k and subtracts its rank-1 product
 * from the rows below, a row at a time along contiguous memory (vectorised). Each entry still
 * receives its terms one by one with p ascending, so the bits are those of the left-looking dot
 * products the CUDA kernels compute. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu.h"

/* columns of the right-hand side per task in the solves */
#define RHS_BLOCK 64

/* The loops are compiled for AVX2 and for the baseline, the loader picking one for the machine:
 * the rank-1 updates and the solves' row sweeps run 4 doubles wide; no sum changes order. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define LIN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LIN_CLONES
#endif

/* a [n,n] in place; piv[n]; *info as the backend's lu. D: n*n doubles of scratch, a double copy
 * of the matrix factored in place (then rounded to a once). */
LIN_CLONES static void lu_one(float *a, int64_t n, int32_t *piv, int32_t *info, double *D) {
    for (int64_t i = 0; i < n * n; i++)
        D[i] = a[i];
    *info = 0;
    for (int64_t k = 0; k < n; k++) {
        /* the pivot: the first largest, as BLAS's isamax: a NaN only when it comes first (then
         * it stays and the NaNs spread, as torch's) */
        int64_t r = k;
        double best = 0.0;
        for (int64_t i = k; i < n; i++) {
            const double m = D[i * n + k] < 0 ? -D[i * n + k] : D[i * n + k];
            if (i == k ? (best = m, false) : m > best) best = m, r = i;
        }
        piv[k] = (int32_t)r;
        if (r != k)
            for (int64_t j = 0; j < n; j++) {
                const double t = D[k * n + j];
                D[k * n + j] = D[r * n + j];
                D[r * n + j] = t;
            }
        const double d = D[k * n + k], *uk = D + k * n;
        if ((float)d == 0.0f) { /* a zero pivot in f32 (as getrf: L's column k left unscaled) */
            if (!*info) *info = (int32_t)(k + 1);
        } else
            for (int64_t i = k + 1; i < n; i++)
                D[i * n + k] /= d;
        for (int64_t i = k + 1; i < n; i++) { /* the rows below: minus L[i][k] U[k][j] */
            double *di = D + i * n;
            const double l = di[k];
            for (int64_t j = k + 1; j < n; j++)
                di[j] -= l * uk[j];
        }
    }
    for (int64_t i = 0; i < n * n; i++)
        a[i] = (float)D[i];
}

int nb_cpu_lu(nb_tensor *a, nb_tensor *piv, nb_tensor *info) {
    if (!nb_la_operand(a, NB_F32, 3) || a->shape[1] != a->shape[2] || !nb_la_operand(piv, NB_I32, 2) ||
        !nb_la_operand(info, NB_I32, 1) || piv->shape[0] != a->shape[0] || piv->shape[1] != a->shape[1] ||
        info->shape[0] != a->shape[0])
        return nb_set_error("lu (cpu): bad operands"), -1;
    const int64_t B = a->shape[0], n = a->shape[1], per = n * n;
    float *A = (float *)nb_ptr(a);
    int32_t *P = (int32_t *)nb_ptr(piv), *I = (int32_t *)nb_ptr(info);
    const int nt = nb_nthreads(); /* read once: the scratch is per thread */
    double *work = malloc((size_t)(per ? per : 1) * sizeof(double) * (size_t)nt);
    if (!work) return nb_set_error("lu (cpu): out of memory for %lld doubles", (long long)(per * nt)), -1;
#pragma omp parallel for num_threads(nt) if (B > 1 && (double)B * n * n * n > 32768) schedule(dynamic)
    for (int64_t b = 0; b < B; b++)
        lu_one(A + b * n * n, n, P + b * n, I + b, work + (int64_t)omp_get_thread_num() * per);
    free(work);
    return 0;
}

/* a [n,n] in place from a double copy D (n*n) of its lower triangle; *info as the backend's
 * cholesky (a is left as it was when it fails). c: n doubles, column j of L, contiguous. */
LIN_CLONES static void cholesky_one(float *a, int64_t n, int32_t *info, double *D, double *c) {
    *info = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++)
            D[i * n + j] = a[i * n + j];
    for (int64_t j = 0; j < n; j++) {
        const double d = D[j * n + j];
        if (!(d > 0.0)) { /* not positive definite (or NaN) */
            *info = (int32_t)(j + 1);
            return;
        }
        const double s = sqrt(d);
        D[j * n + j] = s;
        for (int64_t i = j + 1; i < n; i++)
            c[i] = D[i * n + j] = D[i * n + j] / s;
        for (int64_t i = j + 1; i < n; i++) { /* the lower triangle below: minus L[i][j] L[p][j] */
            double *li = D + i * n;
            const double l = c[i];
            for (int64_t p = j + 1; p <= i; p++)
                li[p] -= l * c[p];
        }
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            a[i * n + j] = j <= i ? (float)D[i * n + j] : 0.0f;
}

int nb_cpu_cholesky(nb_tensor *a, nb_tensor *info) {
    if (!nb_la_operand(a, NB_F32, 3) || a->shape[1] != a->shape[2] || !nb_la_operand(info, NB_I32, 1) ||
        info->shape[0] != a->shape[0])
        return nb_set_error("cholesky (cpu): bad operands"), -1;
    const int64_t B = a->shape[0], n = a->shape[1], per = n * n + n;
    float *A = (float *)nb_ptr(a);
    int32_t *I = (int32_t *)nb_ptr(info);
    const int nt = nb_nthreads();
    double *work = malloc((size_t)(per ? per : 1) * sizeof(double) * (size_t)nt);
    if (!work)
        return nb_set_error("cholesky (cpu): out of memory for %lld doubles", (long long)(per * nt)), -1;
#pragma omp parallel for num_threads(nt) if (B > 1 && (double)B * n * n * n > 32768) schedule(dynamic)
    for (int64_t b = 0; b < B; b++) {
        double *w = work + (int64_t)omp_get_thread_num() * per;
        cholesky_one(A + b * n * n, n, I + b, w, w + n * n);
    }
    free(work);
    return 0;
}

/* Columns [c0, c0 + w) of x [n, k] overwritten with op(t)^-1 x, t [n,n]: the rows in solve
 * order, each entry x[i] - sum_p op(t)[i][p] x[p] over the solved p in ascending order, then
 * divided by the diagonal (unless unit). A lower op(t) solves forward, an upper one backward. */
LIN_CLONES static void tri_block(const float *t, int64_t n, float *x, int64_t k, int64_t c0, int64_t w,
                                 bool upper, bool trans, bool unit) {
    double acc[RHS_BLOCK];
    const bool lower_op = upper == trans; /* op(t) is lower triangular */
    for (int64_t s = 0; s < n; s++) {
        const int64_t i = lower_op ? s : n - 1 - s;
        for (int64_t c = 0; c < w; c++)
            acc[c] = x[i * k + c0 + c];
        const int64_t p0 = lower_op ? 0 : i + 1, p1 = lower_op ? i : n;
        for (int64_t p = p0; p < p1; p++) {
            const double e = trans ? t[p * n + i] : t[i * n + p];
            const float *xp = x + p * k + c0;
            for (int64_t c = 0; c < w; c++)
                acc[c] -= e * (double)xp[c];
        }
        const double d = unit ? 1.0 : (double)t[i * n + i];
        for (int64_t c = 0; c < w; c++)
            x[i * k + c0 + c] = (float)(unit ? acc[c] : acc[c] / d);
    }
}

/* b [B,n,k] and t (or lu) [B,n,n] contiguous f32 */
static bool rhs_ok(const nb_tensor *b, const nb_tensor *t) {
    return nb_la_operand(b, NB_F32, 3) && nb_la_operand(t, NB_F32, 3) && t->shape[1] == t->shape[2] &&
           b->shape[0] == t->shape[0] && b->shape[1] == t->shape[1];
}

int nb_cpu_trisolve(nb_tensor *b, const nb_tensor *t, bool upper, bool trans, bool unit) {
    if (!rhs_ok(b, t)) return nb_set_error("trisolve (cpu): bad operands"), -1;
    const int64_t B = b->shape[0], n = b->shape[1], k = b->shape[2], nblk = (k + RHS_BLOCK - 1) / RHS_BLOCK;
    const float *T = (const float *)nb_ptr(t);
    float *X = (float *)nb_ptr(b);
#pragma omp parallel for num_threads(nb_nthreads()) if (B * nblk > 1 && (double)B * n * n * k > 65536)       \
    schedule(dynamic)
    for (int64_t q = 0; q < B * nblk; q++) {
        const int64_t bi = q / nblk, c0 = (q % nblk) * RHS_BLOCK, w = k - c0 < RHS_BLOCK ? k - c0 : RHS_BLOCK;
        tri_block(T + bi * n * n, n, X + bi * n * k, k, c0, w, upper, trans, unit);
    }
    return 0;
}

/* rows k and piv[k] of columns [c0, c0 + w) of x swapped for k in order (backward when undo) */
static void swap_rows(float *x, int64_t n, int64_t k, int64_t c0, int64_t w, const int32_t *piv, bool undo) {
    for (int64_t s = 0; s < n; s++) {
        const int64_t i = undo ? n - 1 - s : s, r = piv[i];
        if (r == i || r < 0 || r >= n) continue;
        for (int64_t c = c0; c < c0 + w; c++) {
            const float v = x[i * k + c];
            x[i * k + c] = x[r * k + c];
            x[r * k + c] = v;
        }
    }
}

/* P A = L U, so A x = b is L U x = P b; A^T x = b is U^T L^T (P x) = b */
int nb_cpu_lu_solve(nb_tensor *b, const nb_tensor *lu, const nb_tensor *piv, bool trans) {
    if (!rhs_ok(b, lu) || !nb_la_operand(piv, NB_I32, 2) || piv->shape[0] != b->shape[0] ||
        piv->shape[1] != b->shape[1])
        return nb_set_error("lu_solve (cpu): bad operands"), -1;
    const int64_t B = b->shape[0], n = b->shape[1], k = b->shape[2], nblk = (k + RHS_BLOCK - 1) / RHS_BLOCK;
    const float *LU = (const float *)nb_ptr(lu);
    const int32_t *P = (const int32_t *)nb_ptr(piv);
    float *X = (float *)nb_ptr(b);
#pragma omp parallel for num_threads(nb_nthreads()) if (B * nblk > 1 && (double)B * n * n * k > 65536)       \
    schedule(dynamic)
    for (int64_t q = 0; q < B * nblk; q++) {
        const int64_t bi = q / nblk, c0 = (q % nblk) * RHS_BLOCK, w = k - c0 < RHS_BLOCK ? k - c0 : RHS_BLOCK;
        const float *f = LU + bi * n * n;
        float *x = X + bi * n * k;
        if (!trans) {
            swap_rows(x, n, k, c0, w, P + bi * n, false);
            tri_block(f, n, x, k, c0, w, false, false, true);
            tri_block(f, n, x, k, c0, w, true, false, false);
        } else {
            tri_block(f, n, x, k, c0, w, true, true, false);
            tri_block(f, n, x, k, c0, w, false, true, true);
            swap_rows(x, n, k, c0, w, P + bi * n, true);
        }
    }
    return 0;
}
