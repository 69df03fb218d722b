/* ops/decomp_math.h - the serial matrix decompositions (the SVD's in ops/svd_math.h), written once for both
 * backends as elementwise_math.h's helpers are: NB_DECOMP_FUNCS(X) holds their text, compiled here as C for
 * the CPU (backends/cpu/cpu_decomp.c) and stringified into the CUDA kernel sources
 * (backends/cuda/cuda_sources.c, one thread per matrix there). Everything runs in double.
 *
 * nb_nan_fill: NaN in len floats of x (x may be NULL: nothing); nb_swap: x and y exchanged, len
 * entries `stride` apart.
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
 * sweeps); A and V: n*n doubles of scratch each; v NULL: the eigenvalues only.
 * nb_eigh_tridiag: the same results (v NULL: the eigenvalues only, with the same values) by
 * Householder reduction to tridiagonal form (Golub and Van Loan's 8.3.1, the reflections
 * accumulated backwards into Q) and implicit QL with Wilkinson's shift (an off-diagonal entry is
 * dropped once below 2.2e-16 of its two diagonal neighbours; at most 60 iterations an eigenvalue,
 * NaN everywhere past that): about 9 n^3 flops with the vectors and 4/3 n^3 without, where
 * Jacobi's sweeps take 25 n^3 or more; Z and Q n*n doubles, t 4n.
 * nb_eigh_sym: Jacobi for n <= 4 (as fast there, and small eigenvalues keep their relative
 * accuracy), the tridiagonal route above; s 2n^2 + 4n doubles.
 * nb_qr_householder: A = Q R for a [m,n] by Householder reflections as LAPACK's geqrf and orgqr
 * (beta = -sign(alpha) |(alpha, x)|, the sign bit's sign as Fortran's SIGN, so -0 is negative; tau = (beta -
 * alpha) / beta, no reflection where x is 0: the signs torch's QR has): r [kr,n] the first kr rows of R (0
 * below the diagonal), q [m,kq] the first kq columns of Q (q NULL: not formed); W m*n, tau min(m,n) and Q
 * m*kq + max(n,kq) doubles (the updates run along rows: each reflection's products with the columns summed
 * in one pass down the rows, in the same order as a column at a time). (The SVD: ops/svd_math.h.) */
#ifndef NB_DECOMP_MATH_H
#define NB_DECOMP_MATH_H

#include <math.h>

#define NB_DECOMP_FUNCS(X)                                                                                   \
    X(                                                                                                       \
        NB_DEVFN void nb_nan_fill(float *x, long long len) {                                                 \
            const double zz = 0.0;                                                                           \
            for (long long i = 0; x && i < len; i++)                                                         \
                x[i] = (float)(zz / zz);                                                                     \
        } NB_DEVFN void nb_swap(double *x, double *y, long long len, long long stride) {                     \
            for (long long k = 0; k < len; k++) {                                                            \
                const double t = x[k * stride];                                                              \
                x[k * stride] = y[k * stride], y[k * stride] = t;                                            \
            }                                                                                                \
        } NB_DEVFN double nb_rot_tan(double z) {                                                             \
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
                    nb_nan_fill(w, n), nb_nan_fill(v, n *n);                                                 \
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
                    nb_swap(V + i, V + m, n, n);                                                             \
                }                                                                                            \
                const double sg = nb_lead_sign(V + i, n, n);                                                 \
                w[i] = (float)A[i * n + i];                                                                  \
                for (long long k = 0; v && k < n; k++)                                                       \
                    v[k * n + i] = (float)(sg * V[k * n + i]);                                               \
            }                                                                                                \
        } NB_DEVFN void nb_eigh_tridiag(const float *a, long long n, float *w, float *v, double *Z,          \
                                        double *Q, double *t) {                                              \
            double *d = t, *e = t + n, *tau = t + 2 * n, *ws = t + 3 * n;                                    \
            double chk = 0.0;                                                                                \
            for (long long i = 0; i < n; i++)                                                                \
                for (long long j = 0; j < n; j++) {                                                          \
                    Z[i * n + j] = i >= j ? (double)a[i * n + j] : (double)a[j * n + i];                     \
                    chk += Z[i * n + j] - Z[i * n + j];                                                      \
                }                                                                                            \
            if (chk != chk) {                                                                                \
                nb_nan_fill(w, n), nb_nan_fill(v, n *n);                                                     \
                return;                                                                                      \
            }                                                                                                \
            for (long long k = 0; k + 2 < n; k++) {                                                          \
                double *x = Z + k * n + k + 1, *B = Z + (k + 1) * n + k + 1;                                 \
                const long long L = n - k - 1;                                                               \
                double xm = 0.0, sig = 0.0;                                                                  \
                for (long long i = 0; i < L; i++)                                                            \
                    xm = (x[i] < 0 ? -x[i] : x[i]) > xm ? (x[i] < 0 ? -x[i] : x[i]) : xm;                    \
                for (long long i = 1; i < L; i++)                                                            \
                    sig += (x[i] / xm) * (x[i] / xm);                                                        \
                d[k] = Z[k * n + k];                                                                         \
                tau[k] = 0.0;                                                                                \
                e[k] = x[0];                                                                                 \
                if (!(xm > 0.0) || sig == 0.0) continue;                                                     \
                const double x0 = x[0] / xm, mu = sqrt(x0 * x0 + sig),                                       \
                             v0 = x0 <= 0.0 ? x0 - mu : -sig / (x0 + mu);                                    \
                tau[k] = 2.0 * v0 * v0 / (sig + v0 * v0);                                                    \
                e[k] = mu * xm;                                                                              \
                for (long long i = 1; i < L; i++)                                                            \
                    x[i] = x[i] / xm / v0;                                                                   \
                x[0] = 1.0;                                                                                  \
                for (long long j = 0; j < L; j++)                                                            \
                    ws[j] = 0.0;                                                                             \
                for (long long i = 0; i < L; i++) {                                                          \
                    const double f = tau[k] * x[i];                                                          \
                    for (long long j = 0; j < L; j++)                                                        \
                        ws[j] += f * B[i * n + j];                                                           \
                }                                                                                            \
                double pv = 0.0;                                                                             \
                for (long long i = 0; i < L; i++)                                                            \
                    pv += ws[i] * x[i];                                                                      \
                for (long long i = 0; i < L; i++)                                                            \
                    ws[i] -= 0.5 * tau[k] * pv * x[i];                                                       \
                for (long long i = 0; i < L; i++)                                                            \
                    for (long long j = 0; j < L; j++)                                                        \
                        B[i * n + j] -= x[i] * ws[j] + ws[i] * x[j];                                         \
            }                                                                                                \
            if (n >= 2) {                                                                                    \
                d[n - 2] = Z[(n - 2) * n + n - 2];                                                           \
                e[n - 2] = Z[(n - 2) * n + n - 1];                                                           \
                tau[n - 2] = 0.0;                                                                            \
            }                                                                                                \
            d[n - 1] = Z[n * n - 1];                                                                         \
            e[n - 1] = 0.0;                                                                                  \
            if (v) {                                                                                         \
                for (long long i = 0; i < n * n; i++)                                                        \
                    Q[i] = i % (n + 1) == 0 ? 1.0 : 0.0;                                                     \
                for (long long k = n - 3; k >= 0; k--) {                                                     \
                    if (tau[k] == 0.0) continue;                                                             \
                    const double *x = Z + k * n + k + 1;                                                     \
                    double *R = Q + (k + 1) * n + k + 1;                                                     \
                    const long long L = n - k - 1;                                                           \
                    for (long long j = 0; j < L; j++)                                                        \
                        ws[j] = 0.0;                                                                         \
                    for (long long i = 0; i < L; i++)                                                        \
                        for (long long j = 0; j < L; j++)                                                    \
                            ws[j] += x[i] * R[i * n + j];                                                    \
                    for (long long i = 0; i < L; i++) {                                                      \
                        const double f = tau[k] * x[i];                                                      \
                        for (long long j = 0; j < L; j++)                                                    \
                            R[i * n + j] -= f * ws[j];                                                       \
                    }                                                                                        \
                }                                                                                            \
                for (long long i = 0; i < n; i++)                                                            \
                    for (long long j = 0; j < n; j++)                                                        \
                        Z[i * n + j] = Q[j * n + i];                                                         \
            }                                                                                                \
            double tn = 0.0;                                                                                 \
            for (long long i = 0; i < n; i++) {                                                              \
                const double x = (d[i] < 0 ? -d[i] : d[i]) + (e[i] < 0 ? -e[i] : e[i]);                      \
                tn = x > tn ? x : tn;                                                                        \
            }                                                                                                \
            for (long long l = 0; l < n; l++)                                                                \
                for (int iter = 0;; iter++) {                                                                \
                    long long m = l;                                                                         \
                    while (m + 1 < n && !((e[m] < 0 ? -e[m] : e[m]) <= 2.2e-16 * tn) &&                      \
                           !((e[m] < 0 ? -e[m] : e[m]) <=                                                    \
                             2.2e-16 * ((d[m] < 0 ? -d[m] : d[m]) + (d[m + 1] < 0 ? -d[m + 1] : d[m + 1])))) \
                        m++;                                                                                 \
                    if (m == l) break;                                                                       \
                    if (iter == 60) {                                                                        \
                        nb_nan_fill(w, n), nb_nan_fill(v, n *n);                                             \
                        return;                                                                              \
                    }                                                                                        \
                    double g = (d[l + 1] - d[l]) / (2.0 * e[l]), r = sqrt(g * g + 1.0);                      \
                    g = d[m] - d[l] + e[l] / (g + (g < 0 ? -r : r));                                         \
                    double s = 1.0, c = 1.0, p = 0.0;                                                        \
                    int under = 0;                                                                           \
                    for (long long i = m - 1; i >= l; i--) {                                                 \
                        const double f = s * e[i], b = c * e[i];                                             \
                        r = sqrt(f * f + g * g);                                                             \
                        e[i + 1] = r;                                                                        \
                        if (r == 0.0) {                                                                      \
                            d[i + 1] -= p;                                                                   \
                            e[m] = 0.0;                                                                      \
                            under = 1;                                                                       \
                            break;                                                                           \
                        }                                                                                    \
                        s = f / r;                                                                           \
                        c = g / r;                                                                           \
                        g = d[i + 1] - p;                                                                    \
                        r = (d[i] - g) * s + 2.0 * c * b;                                                    \
                        p = s * r;                                                                           \
                        d[i + 1] = g + p;                                                                    \
                        g = c * r - b;                                                                       \
                        if (v) nb_rot(Z + i * n, Z + (i + 1) * n, n, 1, c, s);                               \
                    }                                                                                        \
                    if (under) continue;                                                                     \
                    d[l] -= p;                                                                               \
                    e[l] = g;                                                                                \
                    e[m] = 0.0;                                                                              \
                }                                                                                            \
            for (long long i = 0; i < n; i++) {                                                              \
                long long m = i;                                                                             \
                for (long long j = i + 1; j < n; j++)                                                        \
                    if (d[j] < d[m]) m = j;                                                                  \
                if (m != i) {                                                                                \
                    const double x = d[i];                                                                   \
                    d[i] = d[m], d[m] = x;                                                                   \
                    if (v) nb_swap(Z + i * n, Z + m * n, n, 1);                                              \
                }                                                                                            \
                w[i] = (float)d[i];                                                                          \
                if (!v) continue;                                                                            \
                const double sg = nb_lead_sign(Z + i * n, n, 1);                                             \
                for (long long k = 0; k < n; k++)                                                            \
                    v[k * n + i] = (float)(sg * Z[i * n + k]);                                               \
            }                                                                                                \
        } NB_DEVFN void nb_eigh_sym(const float *a, long long n, float *w, float *v, double *s) {            \
            if (n <= 4)                                                                                      \
                nb_eigh_jacobi(a, n, w, v, s, s + n * n);                                                    \
            else                                                                                             \
                nb_eigh_tridiag(a, n, w, v, s, s + n * n, s + 2 * n * n);                                    \
        } NB_DEVFN void nb_qr_householder(const float *a, long long m, long long n, float *q, long long kq,  \
                                          float *r, long long kr, double *W, double *tau, double *Q) {       \
            const long long k = m < n ? m : n;                                                               \
            double *ws = Q + m * kq;                                                                         \
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
                for (long long c = j + 1; c < n; c++)                                                        \
                    ws[c] = W[j * n + c];                                                                    \
                for (long long i = j + 1; i < m; i++)                                                        \
                    for (long long c = j + 1; c < n; c++)                                                    \
                        ws[c] += W[i * n + j] * W[i * n + c];                                                \
                for (long long c = j + 1; c < n; c++) {                                                      \
                    ws[c] *= tau[j];                                                                         \
                    W[j * n + c] -= ws[c];                                                                   \
                }                                                                                            \
                for (long long i = j + 1; i < m; i++)                                                        \
                    for (long long c = j + 1; c < n; c++)                                                    \
                        W[i * n + c] -= ws[c] * W[i * n + j];                                                \
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
                for (long long c = j; c < kq; c++)                                                           \
                    ws[c] = Q[j * kq + c];                                                                   \
                for (long long i = j + 1; i < m; i++)                                                        \
                    for (long long c = j; c < kq; c++)                                                       \
                        ws[c] += W[i * n + j] * Q[i * kq + c];                                               \
                for (long long c = j; c < kq; c++) {                                                         \
                    ws[c] *= tau[j];                                                                         \
                    Q[j * kq + c] -= ws[c];                                                                  \
                }                                                                                            \
                for (long long i = j + 1; i < m; i++)                                                        \
                    for (long long c = j; c < kq; c++)                                                       \
                        Q[i * kq + c] -= ws[c] * W[i * n + j];                                               \
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
