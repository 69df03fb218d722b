/* ops/decomp_math.h - the serial matrix decompositions, written once for both backends as
 * elementwise_math.h's helpers are: NB_DECOMP_FUNCS(X) holds their text, compiled here as C for
 * the CPU (backends/cpu/cpu_decomp.c) and stringified into the CUDA kernel sources
 * (backends/cuda/cuda_sources.c, one thread per matrix there). Everything runs in double.
 *
 * nb_rot_tan: tan of the Jacobi rotation angle for cot 2 theta = z (the smaller root; a guarded
 * form for huge z); nb_rot: the rotation (c, s) applied to the pair x, y of len entries `stride`
 * apart (two columns of a row-major matrix, or two rows).
 * nb_lead_sign: the sign that makes x's leading entry positive, the leading entry the first
 * whose magnitude is within 1e-5 of the largest (so that rounding does not pick between two
 * entries of equal size; 1 for a zero vector).
 * nb_eigh_jacobi: the eigenvalues w [n] (ascending) and eigenvectors v [n,n] (in the columns,
 * each with its leading entry (nb_lead_sign) positive; a NaN or an infinity anywhere gives NaN
 * everywhere) of the symmetric matrix whose lower
 * triangle a [n,n] holds, by cyclic Jacobi rotations (Golub and Van Loan's sym.schur2, row by
 * row), sweeping until the off-diagonal mass is below 1e-30 of the diagonal's (at most 100
 * sweeps); A and V: n*n doubles of scratch each.
 * nb_qr_householder: A = Q R for a [m,n] by Householder reflections as LAPACK's geqrf and orgqr
 * (beta = -sign(alpha) |(alpha, x)|, the sign bit's sign as Fortran's SIGN, so -0 is negative; tau = (beta -
 * alpha) / beta, no reflection where x is 0: the signs torch's QR has): r [kr,n] the first kr rows of R (0
 * below the diagonal), q [m,kq] the first kq columns of Q (q NULL: not formed); W m*n, tau min(m,n) and Q
 * m*kq doubles. nb_svd_jacobi: A = U diag(s) Vh for a [m,n], k = min(m,n), by one-sided Jacobi (Hestenes:
 * rotations of the columns of A, or of A^T when m < n, until every pair is orthogonal to 1e-15
 * of their norms; at most 100 sweeps): s [k] descending (a NaN first), u [m,k] and vh [k,n] (u
 * NULL: neither formed), each right singular vector with its leading entry positive,
 * the left ones of zero singular values completed to an orthonormal set (Gram-Schmidt, twice, of
 * the unit vector least in the span of those before: its leftover is at least (r - j) / r); a NaN
 * or an infinity in A gives NaN everywhere; X r*k, V k*k and t r+k doubles, r = max(m,n). */
#ifndef NB_DECOMP_MATH_H
#define NB_DECOMP_MATH_H

#include <math.h>

#define NB_DECOMP_FUNCS(X)                                                                                   \
    X(                                                                                                       \
        NB_DEVFN double nb_rot_tan(double z) {                                                               \
            const double az = z < 0 ? -z : z, t = az > 1e150 ? 0.5 / az : 1.0 / (az + sqrt(1.0 + z * z));    \
            return z < 0 ? -t : t;                                                                           \
        } NB_DEVFN void nb_rot(double *x, double *y, long long len, long long stride, double c, double s) {  \
            for (long long k = 0; k < len; k++) {                                                            \
                const double a = x[k * stride], b = y[k * stride];                                           \
                x[k * stride] = c * a - s * b;                                                               \
                y[k * stride] = s * a + c * b;                                                               \
            }                                                                                                \
        } NB_DEVFN double nb_lead_sign(const double *x, long long len, long long stride) {                   \
            double big = 0.0;                                                                                \
            for (long long i = 0; i < len; i++) {                                                            \
                const double m = x[i * stride] < 0 ? -x[i * stride] : x[i * stride];                         \
                if (m > big) big = m;                                                                        \
            }                                                                                                \
            for (long long i = 0; i < len; i++) {                                                            \
                const double m = x[i * stride] < 0 ? -x[i * stride] : x[i * stride];                         \
                if (m >= big * (1.0 - 1e-5)) return x[i * stride] < 0 ? -1.0 : 1.0;                          \
            }                                                                                                \
            return 1.0;                                                                                      \
        } NB_DEVFN void nb_eigh_jacobi(const float *a, long long n, float *w, float *v, double *A,           \
                                       double *V) {                                                          \
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
                if (off != off || dg != dg || off - off != 0.0 || dg - dg != 0.0) {                          \
                    double zz = 0.0;                                                                         \
                    for (long long i = 0; i < n; i++)                                                        \
                        w[i] = (float)(zz / zz);                                                             \
                    for (long long i = 0; i < n * n; i++)                                                    \
                        v[i] = (float)(zz / zz);                                                             \
                    return;                                                                                  \
                }                                                                                            \
                if (!(off > 1e-30 * dg)) break;                                                              \
                for (long long p = 0; p < n; p++)                                                            \
                    for (long long q = p + 1; q < n; q++) {                                                  \
                        const double apq = A[p * n + q];                                                     \
                        if (apq == 0.0) continue;                                                            \
                        const double t = nb_rot_tan((A[q * n + q] - A[p * n + p]) / (2.0 * apq));            \
                        const double c = 1.0 / sqrt(1.0 + t * t), s = t * c;                                 \
                        nb_rot(A + p, A + q, n, n, c, s);                                                    \
                        nb_rot(A + p * n, A + q * n, n, 1, c, s);                                            \
                        nb_rot(V + p, V + q, n, n, c, s);                                                    \
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
                const double sg = nb_lead_sign(V + i, n, n);                                                 \
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
                const double alpha = W[j * n + j], h = sqrt(alpha * alpha + xn),                             \
                             beta = signbit(alpha) ? h : -h;                                                 \
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
                for (long long c = j; c < kq; c++) {                                                         \
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
        } NB_DEVFN void nb_svd_jacobi(const float *a, long long m, long long n, float *u, float *s,          \
                                      float *vh, double *X, double *V, double *t) {                          \
            const int tr = m < n;                                                                            \
            const long long r = tr ? n : m, c = tr ? m : n;                                                  \
            double *sg = t, *tmp = t + c;                                                                    \
            for (long long i = 0; i < r; i++)                                                                \
                for (long long j = 0; j < c; j++)                                                            \
                    X[i * c + j] = tr ? (double)a[j * n + i] : (double)a[i * n + j];                         \
            {                                                                                                \
                double chk = 0.0;                                                                            \
                for (long long i = 0; i < r * c; i++)                                                        \
                    chk += X[i] - X[i];                                                                      \
                if (chk != chk) {                                                                            \
                    double zz = 0.0;                                                                         \
                    for (long long j = 0; j < c; j++)                                                        \
                        s[j] = (float)(zz / zz);                                                             \
                    if (!u) return;                                                                          \
                    for (long long i = 0; i < m * c; i++)                                                    \
                        u[i] = (float)(zz / zz);                                                             \
                    for (long long i = 0; i < c * n; i++)                                                    \
                        vh[i] = (float)(zz / zz);                                                            \
                    return;                                                                                  \
                }                                                                                            \
            }                                                                                                \
            for (long long i = 0; i < c * c; i++)                                                            \
                V[i] = i % (c + 1) == 0 ? 1.0 : 0.0;                                                         \
            for (int sweep = 0; sweep < 100; sweep++) {                                                      \
                int rotated = 0;                                                                             \
                for (long long p = 0; p < c; p++)                                                            \
                    for (long long q = p + 1; q < c; q++) {                                                  \
                        double al = 0.0, be = 0.0, ga = 0.0;                                                 \
                        for (long long i = 0; i < r; i++) {                                                  \
                            const double x = X[i * c + p], y = X[i * c + q];                                 \
                            al += x * x, be += y * y, ga += x * y;                                           \
                        }                                                                                    \
                        if (!(ga != 0.0) || !(al > 0.0 && be > 0.0) ||                                       \
                            (ga < 0 ? -ga : ga) <= 1e-15 * sqrt(al) * sqrt(be))                              \
                            continue;                                                                        \
                        rotated = 1;                                                                         \
                        const double tn = nb_rot_tan((be - al) / (2.0 * ga));                                \
                        const double cs = 1.0 / sqrt(1.0 + tn * tn), sn = tn * cs;                           \
                        nb_rot(X + p, X + q, r, c, cs, sn);                                                  \
                        nb_rot(V + p, V + q, c, c, cs, sn);                                                  \
                    }                                                                                        \
                if (!rotated) break;                                                                         \
            }                                                                                                \
            for (long long j = 0; j < c; j++) {                                                              \
                double nn = 0.0;                                                                             \
                for (long long i = 0; i < r; i++)                                                            \
                    nn += X[i * c + j] * X[i * c + j];                                                       \
                sg[j] = sqrt(nn);                                                                            \
            }                                                                                                \
            for (long long j = 0; j < c; j++) {                                                              \
                long long mx = j;                                                                            \
                for (long long q = j + 1; q < c; q++)                                                        \
                    if (sg[q] > sg[mx] || (sg[q] != sg[q] && sg[mx] == sg[mx])) mx = q;                      \
                if (mx != j) {                                                                               \
                    const double tt = sg[j];                                                                 \
                    sg[j] = sg[mx], sg[mx] = tt;                                                             \
                    for (long long i = 0; i < r; i++) {                                                      \
                        const double x = X[i * c + j];                                                       \
                        X[i * c + j] = X[i * c + mx], X[i * c + mx] = x;                                     \
                    }                                                                                        \
                    for (long long i = 0; i < c; i++) {                                                      \
                        const double x = V[i * c + j];                                                       \
                        V[i * c + j] = V[i * c + mx], V[i * c + mx] = x;                                     \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
            for (long long j = 0; j < c; j++) {                                                              \
                if (sg[j] > 0.0) {                                                                           \
                    for (long long i = 0; i < r; i++)                                                        \
                        X[i * c + j] /= sg[j];                                                               \
                    continue;                                                                                \
                }                                                                                            \
                if (sg[j] != sg[j]) continue;                                                                \
                {                                                                                            \
                    long long e = 0;                                                                         \
                    double we = -1.0;                                                                        \
                    for (long long i = 0; i < r; i++) {                                                      \
                        double w = 1.0;                                                                      \
                        for (long long q = 0; q < j; q++)                                                    \
                            w -= X[i * c + q] * X[i * c + q];                                                \
                        if (w > we) we = w, e = i;                                                           \
                    }                                                                                        \
                    for (long long i = 0; i < r; i++)                                                        \
                        tmp[i] = i == e ? 1.0 : 0.0;                                                         \
                    for (int pass = 0; pass < 2; pass++)                                                     \
                        for (long long q = 0; q < j; q++) {                                                  \
                            double d = 0.0;                                                                  \
                            for (long long i = 0; i < r; i++)                                                \
                                d += X[i * c + q] * tmp[i];                                                  \
                            for (long long i = 0; i < r; i++)                                                \
                                tmp[i] -= d * X[i * c + q];                                                  \
                        }                                                                                    \
                    double nn = 0.0;                                                                         \
                    for (long long i = 0; i < r; i++)                                                        \
                        nn += tmp[i] * tmp[i];                                                               \
                    nn = sqrt(nn);                                                                           \
                    for (long long i = 0; i < r; i++)                                                        \
                        X[i * c + j] = tmp[i] / nn;                                                          \
                }                                                                                            \
            }                                                                                                \
            for (long long j = 0; j < c; j++) {                                                              \
                const double *rv = tr ? X + j : V + j;                                                       \
                const long long len = tr ? r : c;                                                            \
                if (nb_lead_sign(rv, len, c) < 0) {                                                          \
                    for (long long i = 0; i < r; i++)                                                        \
                        X[i * c + j] = -X[i * c + j];                                                        \
                    for (long long i = 0; i < c; i++)                                                        \
                        V[i * c + j] = -V[i * c + j];                                                        \
                }                                                                                            \
                s[j] = (float)sg[j];                                                                         \
            }                                                                                                \
            if (!u) return;                                                                                  \
            for (long long i = 0; i < m; i++)                                                                \
                for (long long j = 0; j < c; j++)                                                            \
                    u[i * c + j] = (float)(tr ? V[i * c + j] : X[i * c + j]);                                \
            for (long long j = 0; j < c; j++)                                                                \
                for (long long i = 0; i < n; i++)                                                            \
                    vh[j * n + i] = (float)(tr ? X[i * c + j] : V[i * c + j]);                               \
        })

#ifndef NB_DECOMP_NO_EMIT
#define NB_DEVFN            static inline
#define NB_DECOMP_EMIT(...) __VA_ARGS__
NB_DECOMP_FUNCS(NB_DECOMP_EMIT)
#undef NB_DECOMP_EMIT
#undef NB_DEVFN
#endif

#endif
