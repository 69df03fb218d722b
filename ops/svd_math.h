/* ops/svd_math.h - the serial SVD, written once for both backends as ops/decomp_math.h's routines
 * are: NB_SVD_FUNCS(X) holds its text, compiled here as C for the CPU (backends/cpu/cpu_decomp.c)
 * and stringified into the CUDA linalg module after decomp_math.h's (one thread per matrix there).
 * Everything runs in double. All three give s [k] descending, k = min(m,n), u [m,k] and vh [k,n]
 * (u NULL: neither formed), each right singular vector with its leading entry (nb_lead_sign)
 * positive, and NaN everywhere for a NaN or an infinity in A.
 *
 * nb_svd_jacobi: one-sided Jacobi (Hestenes: rotations of the columns of A, or of A^T when m < n,
 * until every pair is orthogonal to 1e-15 of their norms; at most 100 sweeps; a NaN singular
 * value first), the left vectors of zero singular values completed to an orthonormal set
 * (Gram-Schmidt, twice, of the unit vector least in the span of those before: its leftover is at
 * least (r - j) / r); X r*k, V k*k and t r+k doubles, r = max(m,n).
 *
 * nb_svd_gk: Golub, Kahan and Reinsch (Golub and Van Loan 8.6): Householder reduction of X (A, or
 * A^T when m < n; r = max(m,n) rows, k columns) to upper bidiagonal form B = Q^T X P (X kept
 * transposed, so that both reflections run along rows), then implicit-shift QR sweeps on B
 * (Wilkinson's shift from the trailing 2x2, the bulge chased downwards; an entry e[i] is dropped
 * once below 2.2e-16 of |d[i]| + |d[i+1]| or of the largest entry of B, a d[i] that small is set
 * to 0 and its row or column rotated out; at most 30 k sweeps, NaN everywhere past that). Without
 * u no vector work is done, and the sweeps take the same steps either way, so s is the same bit
 * for bit. Q's first k columns and P are formed in place (as LAPACK's orgbr), held as rows (Ut
 * [k,r], Vt [k,k]) so that the sweeps' rotations combine contiguous rows. W: r*k + k*k + r + 4k
 * doubles. nb_gk_givens: the rotation with cs f + sn g = r, -sn f + cs g = 0 (squares scaled when
 * out of range); nb_gk_dot: a dot product in four partial sums.
 *
 * nb_svd_serial: Jacobi for k <= 4 (as fast there, exact zeros for exactly dependent columns, and
 * small singular values keep their relative accuracy), Golub-Kahan-Reinsch beyond (5 to 40 times
 * faster from 64 x 32 up); W: r*k + k*k + r + 4k doubles, enough for both. */
#ifndef NB_SVD_MATH_H
#define NB_SVD_MATH_H

#include "ops/decomp_math.h"

#define NB_SVD_FUNCS(X)                                                                                      \
    X(                                                                                                       \
        NB_DEVFN void nb_svd_jacobi(const float *a, long long m, long long n, float *u, float *s, float *vh, \
                                    double *X, double *V, double *t) {                                       \
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
                    nb_nan_fill(s, c), nb_nan_fill(u, m *c), nb_nan_fill(vh, u ? c *n : 0);                  \
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
                    nb_swap(X + j, X + mx, r, c), nb_swap(V + j, V + mx, c, c);                              \
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
        }                                                                                                    \
                                                                                                             \
        /* a Givens rotation: cs f + sn g = the returned r, -sn f + cs g = 0 (squares scaled when out of     \
           range) */                                                                                         \
        NB_DEVFN double nb_gk_givens(double f, double g, double *cs, double *sn) {                           \
            if (g == 0.0) {                                                                                  \
                *cs = 1.0, *sn = 0.0;                                                                        \
                return f;                                                                                    \
            }                                                                                                \
            if (f == 0.0) {                                                                                  \
                *cs = 0.0, *sn = 1.0;                                                                        \
                return g;                                                                                    \
            }                                                                                                \
            double r = f * f + g * g;                                                                        \
            if (r > 1e-290 && r < 1e290)                                                                     \
                r = sqrt(r);                                                                                 \
            else {                                                                                           \
                const double af = f < 0 ? -f : f, ag = g < 0 ? -g : g, h = af > ag ? af : ag, fs = f / h,    \
                             gs = g / h;                                                                     \
                r = h * sqrt(fs * fs + gs * gs);                                                             \
            }                                                                                                \
            *cs = f / r, *sn = g / r;                                                                        \
            return r;                                                                                        \
        }                                                                                                    \
                                                                                                             \
        /* x . y over len entries, four partial sums (the same order on every path) */                       \
        NB_DEVFN double nb_gk_dot(const double *x, const double *y, long long len) {                         \
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                                                   \
            long long i = 0;                                                                                 \
            for (; i + 4 <= len; i += 4) {                                                                   \
                s0 += x[i] * y[i];                                                                           \
                s1 += x[i + 1] * y[i + 1];                                                                   \
                s2 += x[i + 2] * y[i + 2];                                                                   \
                s3 += x[i + 3] * y[i + 3];                                                                   \
            }                                                                                                \
            for (; i < len; i++)                                                                             \
                s0 += x[i] * y[i];                                                                           \
            return (s0 + s1) + (s2 + s3);                                                                    \
        }                                                                                                    \
                                                                                                             \
        NB_DEVFN void nb_svd_gk(const float *a, long long m, long long n, float *u, float *s, float *vh,     \
                                double *W) {                                                                 \
            const int tr = m < n;                                                                            \
            const long long r = tr ? n : m, c = tr ? m : n;                                                  \
            double *Xt = W, *Vt = W + r * c, *w = Vt + c * c, *tl = w + r, *tp = tl + c, *d = tp + c,        \
                   *e = d + c;                                                                               \
            const double eps = 2.2e-16;                                                                      \
            if (c <= 0) return;                                                                              \
            /* Xt [c,r] = X^T: row j is column j of X */                                                     \
            {                                                                                                \
                double chk = 0.0;                                                                            \
                if (tr)                                                                                      \
                    for (long long i = 0; i < r * c; i++)                                                    \
                        Xt[i] = (double)a[i], chk += Xt[i] - Xt[i];                                          \
                else                                                                                         \
                    for (long long i = 0; i < r; i++)                                                        \
                        for (long long j = 0; j < c; j++)                                                    \
                            Xt[j * r + i] = (double)a[i * n + j], chk += Xt[j * r + i] - Xt[j * r + i];      \
                if (chk != chk) goto fail;                                                                   \
            }                                                                                                \
            /* bidiagonalisation: step j zeroes X[j+1:, j] (left reflection, vector in Xt[j, j+1:] with its  \
             * 1 implied at Xt[j, j]) and then X[j, j+2:] (right reflection, vector in Vt[j+1, j+2:]) */     \
            for (long long j = 0; j < c; j++) {                                                              \
                double *x = Xt + j * r;                                                                      \
                {                                                                                            \
                    double xm = 0.0;                                                                         \
                    for (long long i = j; i < r; i++)                                                        \
                        xm = fabs(x[i]) > xm ? fabs(x[i]) : xm;                                              \
                    if (xm > 0.0)                                                                            \
                        for (long long i = j; i < r; i++)                                                    \
                            x[i] /= xm;                                                                      \
                    const double al = x[j], sig = nb_gk_dot(x + j + 1, x + j + 1, r - j - 1);                \
                    tl[j] = 0.0;                                                                             \
                    d[j] = al * xm;                                                                          \
                    if (sig != 0.0) {                                                                        \
                        const double mu = sqrt(al * al + sig), be = al < 0 ? mu : -mu, v0 = al - be,         \
                                     iv = 1.0 / v0;                                                          \
                        const double tau = (be - al) / be;                                                   \
                        for (long long i = j + 1; i < r; i++)                                                \
                            x[i] *= iv;                                                                      \
                        tl[j] = tau;                                                                         \
                        d[j] = be * xm;                                                                      \
                        for (long long q = j + 1; q < c; q++) {                                              \
                            double *y = Xt + q * r;                                                          \
                            const double f = tau * (y[j] + nb_gk_dot(y + j + 1, x + j + 1, r - j - 1));      \
                            y[j] -= f;                                                                       \
                            for (long long i = j + 1; i < r; i++)                                            \
                                y[i] -= f * x[i];                                                            \
                        }                                                                                    \
                    }                                                                                        \
                }                                                                                            \
                if (j + 1 >= c) break;                                                                       \
                tp[j] = 0.0;                                                                                 \
                e[j] = Xt[(j + 1) * r + j];                                                                  \
                if (j + 2 >= c) continue;                                                                    \
                {                                                                                            \
                    double ym = 0.0;                                                                         \
                    for (long long q = j + 1; q < c; q++)                                                    \
                        ym = fabs(Xt[q * r + j]) > ym ? fabs(Xt[q * r + j]) : ym;                            \
                    if (!(ym > 0.0)) continue;                                                               \
                    const double al = e[j] / ym;                                                             \
                    double sig = 0.0, *v = Vt + (j + 1) * c;                                                 \
                    for (long long q = j + 2; q < c; q++)                                                    \
                        sig += (Xt[q * r + j] / ym) * (Xt[q * r + j] / ym);                                  \
                    if (sig == 0.0) continue;                                                                \
                    const double mu = sqrt(al * al + sig), be = al < 0 ? mu : -mu, v0 = al - be,             \
                                 iv = 1.0 / v0;                                                              \
                    const double tau = (be - al) / be;                                                       \
                    for (long long q = j + 2; q < c; q++)                                                    \
                        v[q] = Xt[q * r + j] / ym * iv;                                                      \
                    tp[j] = tau;                                                                             \
                    e[j] = be * ym;                                                                          \
                    /* rows j+1.. of Xt (columns j+1.. of X) times (I - tau v v^T), v[j+1] = 1 */            \
                    double *y1 = Xt + (j + 1) * r;                                                           \
                    for (long long i = j + 1; i < r; i++)                                                    \
                        w[i] = y1[i];                                                                        \
                    for (long long q = j + 2; q < c; q++) {                                                  \
                        const double vq = v[q], *y = Xt + q * r;                                             \
                        for (long long i = j + 1; i < r; i++)                                                \
                            w[i] += vq * y[i];                                                               \
                    }                                                                                        \
                    for (long long i = j + 1; i < r; i++)                                                    \
                        w[i] *= tau;                                                                         \
                    for (long long i = j + 1; i < r; i++)                                                    \
                        y1[i] -= w[i];                                                                       \
                    for (long long q = j + 2; q < c; q++) {                                                  \
                        const double vq = v[q];                                                              \
                        double *y = Xt + q * r;                                                              \
                        for (long long i = j + 1; i < r; i++)                                                \
                            y[i] -= vq * w[i];                                                               \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
            if (u) {                                                                                         \
                /* Vt = P^T in place: row 0 is e_0, row j+1 from the reflection of step j (backwards) */     \
                for (long long j = c - 2; j >= 0; j--) {                                                     \
                    double *v = Vt + (j + 1) * c;                                                            \
                    const double tau = tp[j];                                                                \
                    for (long long i = 0; i <= j + 1; i++)                                                   \
                        v[i] = 0.0;                                                                          \
                    if (tau == 0.0) {                                                                        \
                        v[j + 1] = 1.0;                                                                      \
                        for (long long i = j + 2; i < c; i++)                                                \
                            v[i] = 0.0;                                                                      \
                        continue;                                                                            \
                    }                                                                                        \
                    for (long long q = j + 2; q < c; q++) {                                                  \
                        double *y = Vt + q * c;                                                              \
                        const double f = tau * nb_gk_dot(y + j + 2, v + j + 2, c - j - 2);                   \
                        y[j + 1] = -f;                                                                       \
                        for (long long i = j + 2; i < c; i++)                                                \
                            y[i] -= f * v[i];                                                                \
                    }                                                                                        \
                    v[j + 1] = 1.0 - tau;                                                                    \
                    for (long long i = j + 2; i < c; i++)                                                    \
                        v[i] *= -tau;                                                                        \
                }                                                                                            \
                for (long long i = 0; i < c; i++)                                                            \
                    Vt[i] = i == 0 ? 1.0 : 0.0;                                                              \
                /* Ut = Q[:, :c]^T in place of Xt (backwards) */                                             \
                for (long long j = c - 1; j >= 0; j--) {                                                     \
                    double *x = Xt + j * r;                                                                  \
                    const double tau = tl[j];                                                                \
                    for (long long i = 0; i < j; i++)                                                        \
                        x[i] = 0.0;                                                                          \
                    if (tau == 0.0) {                                                                        \
                        x[j] = 1.0;                                                                          \
                        for (long long i = j + 1; i < r; i++)                                                \
                            x[i] = 0.0;                                                                      \
                        continue;                                                                            \
                    }                                                                                        \
                    for (long long q = j + 1; q < c; q++) {                                                  \
                        double *y = Xt + q * r;                                                              \
                        const double f = tau * nb_gk_dot(y + j + 1, x + j + 1, r - j - 1);                   \
                        y[j] = -f;                                                                           \
                        for (long long i = j + 1; i < r; i++)                                                \
                            y[i] -= f * x[i];                                                                \
                    }                                                                                        \
                    x[j] = 1.0 - tau;                                                                        \
                    for (long long i = j + 1; i < r; i++)                                                    \
                        x[i] *= -tau;                                                                        \
                }                                                                                            \
            }                                                                                                \
            /* QR sweeps on B (d [c], e [c-1]): B = Ut B' Vt^T, rotations of B's rows combine Ut's rows and  \
             * those of its columns Vt's rows */                                                             \
            {                                                                                                \
                double bn = 0.0;                                                                             \
                for (long long i = 0; i < c; i++) {                                                          \
                    const double ad = d[i] < 0 ? -d[i] : d[i],                                               \
                                 ae = i + 1 < c ? (e[i] < 0 ? -e[i] : e[i]) : 0.0;                           \
                    bn = ad > bn ? ad : bn;                                                                  \
                    bn = ae > bn ? ae : bn;                                                                  \
                }                                                                                            \
                const double thr = eps * bn;                                                                 \
                long long hi = c - 1, sweeps = 0;                                                            \
                while (hi > 0) {                                                                             \
                    {                                                                                        \
                        const double ae = e[hi - 1] < 0 ? -e[hi - 1] : e[hi - 1];                            \
                        const double a0 = d[hi - 1] < 0 ? -d[hi - 1] : d[hi - 1],                            \
                                     a1 = d[hi] < 0 ? -d[hi] : d[hi];                                        \
                        if (ae <= thr || ae <= eps * (a0 + a1)) {                                            \
                            e[hi - 1] = 0.0;                                                                 \
                            hi--;                                                                            \
                            continue;                                                                        \
                        }                                                                                    \
                    }                                                                                        \
                    long long lo = hi - 1;                                                                   \
                    while (lo > 0) {                                                                         \
                        const double ae = e[lo - 1] < 0 ? -e[lo - 1] : e[lo - 1];                            \
                        const double a0 = d[lo - 1] < 0 ? -d[lo - 1] : d[lo - 1],                            \
                                     a1 = d[lo] < 0 ? -d[lo] : d[lo];                                        \
                        if (ae <= thr || ae <= eps * (a0 + a1)) {                                            \
                            e[lo - 1] = 0.0;                                                                 \
                            break;                                                                           \
                        }                                                                                    \
                        lo--;                                                                                \
                    }                                                                                        \
                    /* a negligible d[z] in the block: set it to 0 and rotate its row's e[z] out to the      \
                     * right (rows z, z+1.., from the left), or at the block's end its column's e[z-1] out   \
                     * upwards */                                                                            \
                    long long z = -1;                                                                        \
                    for (long long i = hi; i >= lo; i--)                                                     \
                        if ((d[i] < 0 ? -d[i] : d[i]) <= thr) {                                              \
                            z = i;                                                                           \
                            break;                                                                           \
                        }                                                                                    \
                    if (z >= 0) {                                                                            \
                        d[z] = 0.0;                                                                          \
                        if (z < hi) {                                                                        \
                            double f = e[z], cs, sn;                                                         \
                            e[z] = 0.0;                                                                      \
                            for (long long i = z + 1; i <= hi; i++) {                                        \
                                d[i] = nb_gk_givens(d[i], f, &cs, &sn);                                      \
                                if (i < hi) f = -sn * e[i], e[i] *= cs;                                      \
                                if (u) nb_rot(Xt + i * r, Xt + z * r, r, 1, cs, -sn);                        \
                            }                                                                                \
                        } else {                                                                             \
                            double f = e[hi - 1], cs, sn;                                                    \
                            e[hi - 1] = 0.0;                                                                 \
                            for (long long i = hi - 1; i >= lo; i--) {                                       \
                                d[i] = nb_gk_givens(d[i], f, &cs, &sn);                                      \
                                if (i > lo) f = -sn * e[i - 1], e[i - 1] *= cs;                              \
                                if (u) nb_rot(Vt + i * c, Vt + hi * c, c, 1, cs, -sn);                       \
                            }                                                                                \
                        }                                                                                    \
                        continue;                                                                            \
                    }                                                                                        \
                    if (++sweeps > 30 * c) goto fail;                                                        \
                    /* the shift: the eigenvalue of the trailing 2x2 of B^T B nearer its last (scaled) */    \
                    double f, g;                                                                             \
                    {                                                                                        \
                        double sc = d[hi] < 0 ? -d[hi] : d[hi];                                              \
                        for (int i = 0; i < 4; i++) {                                                        \
                            const double t = i == 0   ? d[hi - 1]                                            \
                                             : i == 1 ? e[hi - 1]                                            \
                                             : i == 2 ? d[lo]                                                \
                                                      : e[lo];                                               \
                            sc = (t < 0 ? -t : t) > sc ? (t < 0 ? -t : t) : sc;                              \
                        }                                                                                    \
                        const double dn = d[hi] / sc, dm = d[hi - 1] / sc, em = e[hi - 1] / sc,              \
                                     dl = d[lo] / sc, el = e[lo] / sc;                                       \
                        const double b = ((dm + dn) * (dm - dn) + em * em) * 0.5,                            \
                                     cc = (dn * em) * (dn * em);                                             \
                        double sh = 0.0;                                                                     \
                        if (b != 0.0 || cc != 0.0) {                                                         \
                            const double q = sqrt(b * b + cc);                                               \
                            sh = cc / (b < 0 ? b - q : b + q);                                               \
                        }                                                                                    \
                        f = (dl + dn) * (dl - dn) + sh;                                                      \
                        g = dl * el;                                                                         \
                    }                                                                                        \
                    for (long long i = lo; i < hi; i++) {                                                    \
                        double cs, sn, rr;                                                                   \
                        rr = nb_gk_givens(f, g, &cs, &sn);                                                   \
                        if (i > lo) e[i - 1] = rr;                                                           \
                        f = cs * d[i] + sn * e[i];                                                           \
                        e[i] = cs * e[i] - sn * d[i];                                                        \
                        g = sn * d[i + 1];                                                                   \
                        d[i + 1] *= cs;                                                                      \
                        if (u) nb_rot(Vt + i * c, Vt + (i + 1) * c, c, 1, cs, -sn);                          \
                        rr = nb_gk_givens(f, g, &cs, &sn);                                                   \
                        d[i] = rr;                                                                           \
                        f = cs * e[i] + sn * d[i + 1];                                                       \
                        d[i + 1] = cs * d[i + 1] - sn * e[i];                                                \
                        if (i + 1 < hi) g = sn * e[i + 1], e[i + 1] *= cs;                                   \
                        if (u) nb_rot(Xt + i * r, Xt + (i + 1) * r, r, 1, cs, -sn);                          \
                    }                                                                                        \
                    e[hi - 1] = f;                                                                           \
                }                                                                                            \
            }                                                                                                \
            /* singular values made positive (the sign moved into V), sorted descending with their vectors   \
             */                                                                                              \
            for (long long i = 0; i < c; i++) {                                                              \
                if (d[i] < 0) {                                                                              \
                    d[i] = -d[i];                                                                            \
                    for (long long q = 0; u && q < c; q++)                                                   \
                        Vt[i * c + q] = -Vt[i * c + q];                                                      \
                } else                                                                                       \
                    d[i] = d[i] + 0.0;                                                                       \
            }                                                                                                \
            for (long long i = 0; i < c; i++) {                                                              \
                long long mx = i;                                                                            \
                for (long long q = i + 1; q < c; q++)                                                        \
                    if (d[q] > d[mx]) mx = q;                                                                \
                if (mx == i) continue;                                                                       \
                const double t = d[i];                                                                       \
                d[i] = d[mx], d[mx] = t;                                                                     \
                if (!u) continue;                                                                            \
                nb_swap(Xt + i * r, Xt + mx * r, r, 1), nb_swap(Vt + i * c, Vt + mx * c, c, 1);              \
            }                                                                                                \
            for (long long j = 0; j < c; j++)                                                                \
                s[j] = (float)d[j];                                                                          \
            if (!u) return;                                                                                  \
            for (long long j = 0; j < c; j++) {                                                              \
                double *x = Xt + j * r, *v = Vt + j * c;                                                     \
                if ((tr ? nb_lead_sign(x, r, 1) : nb_lead_sign(v, c, 1)) < 0) {                              \
                    for (long long i = 0; i < r; i++)                                                        \
                        x[i] = -x[i];                                                                        \
                    for (long long i = 0; i < c; i++)                                                        \
                        v[i] = -v[i];                                                                        \
                }                                                                                            \
            }                                                                                                \
            /* X = Ut^T B Vt: A = X (u = Ut^T, vh = Vt), or A = X^T (u = Vt^T, vh = Ut) */                   \
            {                                                                                                \
                const double *L = tr ? Vt : Xt, *R = tr ? Xt : Vt;                                           \
                const long long lm = tr ? c : r;                                                             \
                for (long long i = 0; i < m; i++)                                                            \
                    for (long long j = 0; j < c; j++)                                                        \
                        u[i * c + j] = (float)L[j * lm + i];                                                 \
                for (long long i = 0; i < c * n; i++)                                                        \
                    vh[i] = (float)R[i];                                                                     \
            }                                                                                                \
            return;                                                                                          \
        fail:                                                                                                \
            nb_nan_fill(s, c), nb_nan_fill(u, m *c), nb_nan_fill(vh, u ? c *n : 0);                          \
        }                                                                                                    \
                                                                                                             \
        NB_DEVFN void nb_svd_serial(const float *a, long long m, long long n, float *u, float *s, float *vh, \
                                    double *W) {                                                             \
            const long long k = m < n ? m : n, r = m < n ? n : m;                                            \
            if (k <= 4)                                                                                      \
                nb_svd_jacobi(a, m, n, u, s, vh, W, W + r * k, W + r * k + k * k);                           \
            else                                                                                             \
                nb_svd_gk(a, m, n, u, s, vh, W);                                                             \
        })

#ifndef NB_SVD_NO_EMIT
#define NB_DEVFN         static inline
#define NB_SVD_EMIT(...) __VA_ARGS__
NB_SVD_FUNCS(NB_SVD_EMIT)
#undef NB_SVD_EMIT
#undef NB_DEVFN
#endif

#endif
