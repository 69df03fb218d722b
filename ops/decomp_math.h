/* ops/decomp_math.h - the serial matrix decompositions, written once for both backends as
 * elementwise_math.h's helpers are: NB_DECOMP_FUNCS(X) holds their text, compiled here as C for
 * the CPU (backends/cpu/cpu_decomp.c) and stringified into the CUDA kernel sources
 * (backends/cuda/cuda_sources.c, one thread per matrix there). Everything runs in double.
 *
 * nb_eigh_jacobi: the eigenvalues w [n] (ascending) and eigenvectors v [n,n] (in the columns,
 * each scaled so its entry of largest magnitude is positive) of the symmetric matrix whose lower
 * triangle a [n,n] holds, by cyclic Jacobi rotations (Golub and Van Loan's sym.schur2, row by
 * row), sweeping until the off-diagonal mass is below 1e-30 of the diagonal's (at most 100
 * sweeps); A and V: n*n doubles of scratch each.
 * nb_qr_householder: A = Q R for a [m,n] by Householder reflections as LAPACK's geqrf and orgqr
 * (beta = -sign(alpha) |(alpha, x)|, tau = (beta - alpha) / beta, no reflection where x is 0:
 * the signs torch's QR has): r [kr,n] the first kr rows of R (0 below the diagonal), q [m,kq]
 * the first kq columns of Q (q NULL: not formed); W m*n, tau min(m,n) and Q m*kq doubles. */
#ifndef NB_DECOMP_MATH_H
#define NB_DECOMP_MATH_H

#include <math.h>

#define NB_DECOMP_FUNCS(X)                                                                                   \
    X(                                                                                                       \
        NB_DEVFN void nb_eigh_jacobi(const float *a, long long n, float *w, float *v, double *A,             \
                                     double *V) {                                                            \
            for (long long i = 0; i < n; i++)                                                                \
                for (long long j = 0; j < n; j++) {                                                          \
                    A[i * n + j] = i >= j ? (double)a[i * n + j] : (double)a[j * n + i];                     \
                    V[i * n + j] = i == j ? 1.0 : 0.0;                                                       \
                }                                                                                            \
            for (int sweep = 0; sweep < 100; sweep++) {                                                      \
                double off = 0.0, dg = 0.0;                                                                  \
                for (long long p = 0; p < n; p++) {                                                          \
                    dg += A[p * n + p] * A[p * n + p];                                                       \
                    for (long long q = p + 1; q < n; q++)                                                    \
                        off += A[p * n + q] * A[p * n + q];                                                  \
                }                                                                                            \
                if (!(off > 1e-30 * dg)) break;                                                              \
                for (long long p = 0; p < n; p++)                                                            \
                    for (long long q = p + 1; q < n; q++) {                                                  \
                        const double apq = A[p * n + q];                                                     \
                        if (apq == 0.0) continue;                                                            \
                        const double tau = (A[q * n + q] - A[p * n + p]) / (2.0 * apq),                      \
                                     at = tau < 0 ? -tau : tau;                                              \
                        double t = at > 1e150 ? 0.5 / at : 1.0 / (at + sqrt(1.0 + tau * tau));               \
                        if (tau < 0) t = -t;                                                                 \
                        const double c = 1.0 / sqrt(1.0 + t * t), s = t * c;                                 \
                        for (long long k = 0; k < n; k++) {                                                  \
                            const double x = A[k * n + p], y = A[k * n + q];                                 \
                            A[k * n + p] = c * x - s * y;                                                    \
                            A[k * n + q] = s * x + c * y;                                                    \
                        }                                                                                    \
                        for (long long k = 0; k < n; k++) {                                                  \
                            const double x = A[p * n + k], y = A[q * n + k];                                 \
                            A[p * n + k] = c * x - s * y;                                                    \
                            A[q * n + k] = s * x + c * y;                                                    \
                        }                                                                                    \
                        for (long long k = 0; k < n; k++) {                                                  \
                            const double x = V[k * n + p], y = V[k * n + q];                                 \
                            V[k * n + p] = c * x - s * y;                                                    \
                            V[k * n + q] = s * x + c * y;                                                    \
                        }                                                                                    \
                    }                                                                                        \
            }                                                                                                \
            for (long long i = 0; i < n; i++) {                                                              \
                long long m = i;                                                                             \
                for (long long j = i + 1; j < n; j++) {                                                      \
                    const double d = A[j * n + j], b = A[m * n + m];                                         \
                    if (d < b || (b != b && d == d)) m = j;                                                  \
                }                                                                                            \
                if (m != i) {                                                                                \
                    const double t = A[i * n + i];                                                           \
                    A[i * n + i] = A[m * n + m], A[m * n + m] = t;                                           \
                    for (long long k = 0; k < n; k++) {                                                      \
                        const double x = V[k * n + i];                                                       \
                        V[k * n + i] = V[k * n + m], V[k * n + m] = x;                                       \
                    }                                                                                        \
                }                                                                                            \
                long long big = 0;                                                                           \
                for (long long k = 1; k < n; k++)                                                            \
                    if ((V[k * n + i] < 0 ? -V[k * n + i] : V[k * n + i]) >                                  \
                        (V[big * n + i] < 0 ? -V[big * n + i] : V[big * n + i]))                             \
                        big = k;                                                                             \
                const double sg = V[big * n + i] < 0 ? -1.0 : 1.0;                                           \
                w[i] = (float)A[i * n + i];                                                                  \
                for (long long k = 0; k < n; k++)                                                            \
                    v[k * n + i] = (float)(sg * V[k * n + i]);                                               \
            }                                                                                                \
        } NB_DEVFN void nb_qr_householder(const float *a, long long m, long long n, float *q, long long kq,  \
                                          float *r, long long kr, double *W, double *tau, double *Q) {       \
            const long long k = m < n ? m : n;                                                               \
            for (long long i = 0; i < m * n; i++)                                                            \
                W[i] = a[i];                                                                                 \
            for (long long j = 0; j < k; j++) {                                                              \
                double xn = 0.0;                                                                             \
                for (long long i = j + 1; i < m; i++)                                                        \
                    xn += W[i * n + j] * W[i * n + j];                                                       \
                tau[j] = 0.0;                                                                                \
                if (xn == 0.0) continue;                                                                     \
                const double alpha = W[j * n + j], h = sqrt(alpha * alpha + xn), beta = alpha < 0 ? h : -h;  \
                tau[j] = (beta - alpha) / beta;                                                              \
                const double sc = 1.0 / (alpha - beta);                                                      \
                for (long long i = j + 1; i < m; i++)                                                        \
                    W[i * n + j] *= sc;                                                                      \
                W[j * n + j] = beta;                                                                         \
                for (long long c = j + 1; c < n; c++) {                                                      \
                    double s = W[j * n + c];                                                                 \
                    for (long long i = j + 1; i < m; i++)                                                    \
                        s += W[i * n + j] * W[i * n + c];                                                    \
                    s *= tau[j];                                                                             \
                    W[j * n + c] -= s;                                                                       \
                    for (long long i = j + 1; i < m; i++)                                                    \
                        W[i * n + c] -= s * W[i * n + j];                                                    \
                }                                                                                            \
            }                                                                                                \
            for (long long i = 0; i < kr; i++)                                                               \
                for (long long c = 0; c < n; c++)                                                            \
                    r[i * n + c] = i <= c ? (float)W[i * n + c] : 0.0f;                                      \
            if (!q) return;                                                                                  \
            for (long long i = 0; i < m; i++)                                                                \
                for (long long c = 0; c < kq; c++)                                                           \
                    Q[i * kq + c] = i == c ? 1.0 : 0.0;                                                      \
            for (long long j = k - 1; j >= 0; j--) {                                                         \
                if (tau[j] == 0.0) continue;                                                                 \
                for (long long c = 0; c < kq; c++) {                                                         \
                    double s = Q[j * kq + c];                                                                \
                    for (long long i = j + 1; i < m; i++)                                                    \
                        s += W[i * n + j] * Q[i * kq + c];                                                   \
                    s *= tau[j];                                                                             \
                    Q[j * kq + c] -= s;                                                                      \
                    for (long long i = j + 1; i < m; i++)                                                    \
                        Q[i * kq + c] -= s * W[i * n + j];                                                   \
                }                                                                                            \
            }                                                                                                \
            for (long long i = 0; i < m * kq; i++)                                                           \
                q[i] = (float)Q[i];                                                                          \
        })

#ifndef NB_DECOMP_NO_EMIT
#define NB_DEVFN            static inline
#define NB_DECOMP_EMIT(...) __VA_ARGS__
NB_DECOMP_FUNCS(NB_DECOMP_EMIT)
#undef NB_DECOMP_EMIT
#undef NB_DEVFN
#endif

#endif
