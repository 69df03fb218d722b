/* backends/cuda/cuda_src_linalg.c - CUDA C sources of the linear-algebra kernels (joined after
 * the prelude of cuda_sources.c; launched from cuda_linalg.c): LU with partial pivoting and
 * Cholesky, one block per matrix, and the triangular and LU solves, one thread per column of the
 * right-hand side; the factorisations on a double copy of each matrix; the eigendecomposition and QR
 * (ops/decomp_math.h's routines) one thread per matrix. Every entry is the dot product the CPU
 * (backends/cpu/cpu_linalg.c) forms, in double and in the same order, so the two agree to rounding. */
#include "backends/cuda/cuda_src.h"

/* Kernel sources are long string literals by nature; gcc and clang handle them. */
#pragma GCC diagnostic ignored "-Woverlength-strings"

/* The kernel sources keep their own layout: clang-format would read them as C. */
/* clang-format off */

const char nb_cu_linalg_src[] = NB_CU_CODE(
    /* LU of a [B,n,n] in place, left-looking on a double copy (the CPU's lu_one): block b takes
     * matrices b, b + gridDim.x, ...; work holds n*n + n doubles per block (the copy D, then U's
     * column k). At step k the threads form column k's candidates, pick the first largest
     * |candidate| (a NaN only at k, as the CPU), swap the rows, form row k of U and scale column
     * k of L; D is rounded into a at the end. blockDim.x <= 128. */
    extern "C" __global__ void lu_fact(float *A, int *P, int *I, long long B, long long n, double *work) {
        __shared__ double sbest[128];
        __shared__ long long sidx[128];
        __shared__ long long srow;
        __shared__ int sinfo;
        const int tid = threadIdx.x, bd = blockDim.x;
        double *D = work + (long long)blockIdx.x * (n * n + n), *ucol = D + n * n;
        for (long long b = blockIdx.x; b < B; b += gridDim.x) {
            float *a = A + b * n * n;
            for (long long q = tid; q < n * n; q += bd) D[q] = a[q];
            if (tid == 0) sinfo = 0;
            __syncthreads();
            for (long long k = 0; k < n; k++) {
                for (long long p = tid; p < k; p += bd) ucol[p] = D[p * n + k];
                __syncthreads();
                double best = -1.0;
                long long r = n;
                for (long long i = k + tid; i < n; i += bd) {
                    double s = D[i * n + k];
                    for (long long p = 0; p < k; p++) s -= D[i * n + p] * ucol[p];
                    D[i * n + k] = s;
                    const double m = s < 0 ? -s : s;
                    if (m > best) best = m, r = i;
                }
                sbest[tid] = best;
                sidx[tid] = r;
                __syncthreads();
                if (tid == 0) {
                    double bb = -1.0;
                    long long rr = n;
                    for (int t = 0; t < bd; t++)
                        if (sbest[t] > bb || (sbest[t] == bb && sidx[t] < rr)) bb = sbest[t], rr = sidx[t];
                    const double dk = D[k * n + k];
                    srow = bb < 0 || dk != dk ? k : rr; /* a leading NaN stays (isamax) */
                    P[b * n + k] = (int)srow;
                }
                __syncthreads();
                const long long rk = srow;
                if (rk != k)
                    for (long long j = tid; j < n; j += bd) {
                        const double t = D[k * n + j];
                        D[k * n + j] = D[rk * n + j];
                        D[rk * n + j] = t;
                    }
                __syncthreads();
                for (long long j = k + 1 + tid; j < n; j += bd) {
                    double s = D[k * n + j];
                    for (long long p = 0; p < k; p++) s -= D[k * n + p] * D[p * n + j];
                    D[k * n + j] = s;
                }
                const double d = D[k * n + k];
                const int zero = (float)d == 0.0f; /* a zero pivot in f32: L's column k unscaled */
                if (!zero)
                    for (long long i = k + 1 + tid; i < n; i += bd) D[i * n + k] /= d;
                if (tid == 0 && zero && !sinfo) sinfo = (int)(k + 1);
                __syncthreads();
            }
            for (long long q = tid; q < n * n; q += bd) a[q] = (float)D[q];
            if (tid == 0) I[b] = sinfo;
            __syncthreads();
        }
    }

    /* Cholesky of a [B,n,n] in place on a double copy of its lower triangle (the CPU's
     * cholesky_one; work: n*n doubles per block): at column j thread 0 forms the pivot, then the
     * threads the entries below it; on a pivot not > 0 the matrix stops there, a unchanged */
    extern "C" __global__ void chol_fact(float *A, int *I, long long B, long long n, double *work) {
        __shared__ double sdiag;
        __shared__ int sfail;
        const int tid = threadIdx.x, bd = blockDim.x;
        double *D = work + (long long)blockIdx.x * n * n;
        for (long long b = blockIdx.x; b < B; b += gridDim.x) {
            float *a = A + b * n * n;
            for (long long q = tid; q < n * n; q += bd)
                if (q % n <= q / n) D[q] = a[q];
            if (tid == 0) sfail = 0;
            __syncthreads();
            for (long long j = 0; j < n; j++) {
                if (tid == 0) {
                    double d = D[j * n + j];
                    for (long long p = 0; p < j; p++) d -= D[j * n + p] * D[j * n + p];
                    if (!(d > 0.0)) sfail = (int)(j + 1);
                    else sdiag = sqrt(d), D[j * n + j] = sdiag;
                }
                __syncthreads();
                if (sfail) break;
                for (long long i = j + 1 + tid; i < n; i += bd) {
                    double t = D[i * n + j];
                    for (long long p = 0; p < j; p++) t -= D[i * n + p] * D[j * n + p];
                    D[i * n + j] = t / sdiag;
                }
                __syncthreads();
            }
            if (!sfail)
                for (long long q = tid; q < n * n; q += bd) a[q] = q % n <= q / n ? (float)D[q] : 0.0f;
            if (tid == 0) I[b] = sfail;
            __syncthreads();
        }
    }

    /* column c of x [n, k] overwritten with op(t)^-1 x (the CPU's tri_block, one column) */
    __device__ void tri_col(const float *t, float *x, long long n, long long k, int upper, int trans, int unit) {
        const int lower_op = upper == trans;
        for (long long s = 0; s < n; s++) {
            const long long i = lower_op ? s : n - 1 - s;
            double acc = x[i * k];
            const long long p0 = lower_op ? 0 : i + 1, p1 = lower_op ? i : n;
            for (long long p = p0; p < p1; p++) {
                const double e = trans ? t[p * n + i] : t[i * n + p];
                acc -= e * (double)x[p * k];
            }
            x[i * k] = (float)(unit ? acc : acc / (double)t[i * n + i]);
        }
    }
    /* rows i and piv[i] of column c of x swapped, i ascending (descending when undo) */
    __device__ void swap_col(float *x, long long n, long long k, const int *piv, int undo) {
        for (long long s = 0; s < n; s++) {
            const long long i = undo ? n - 1 - s : s, r = piv[i];
            if (r == i || r < 0 || r >= n) continue;
            const float v = x[i * k];
            x[i * k] = x[r * k];
            x[r * k] = v;
        }
    }
    /* one thread per column (b, c) of X [B,n,k]: op(T)^-1 X */
    extern "C" __global__ void tri_solve(float *X, const float *T, long long B, long long n, long long k,
                                         int upper, int trans, int unit) {
        for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < B * k;
             q += (long long)gridDim.x * blockDim.x) {
            const long long b = q / k, c = q % k;
            tri_col(T + b * n * n, X + b * n * k + c, n, k, upper, trans, unit);
        }
    }
    /* one thread per column of X [B,n,k]: A^-1 X (A^-T X when trans) from LU [B,n,n], P [B,n] */
    extern "C" __global__ void lu_solve(float *X, const float *LU, const int *P, long long B, long long n,
                                        long long k, int trans) {
        for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < B * k;
             q += (long long)gridDim.x * blockDim.x) {
            const long long b = q / k, c = q % k;
            const float *f = LU + b * n * n;
            float *x = X + b * n * k + c;
            if (!trans) {
                swap_col(x, n, k, P + b * n, 0);
                tri_col(f, x, n, k, 0, 0, 1);
                tri_col(f, x, n, k, 1, 0, 0);
            } else {
                tri_col(f, x, n, k, 1, 1, 0);
                tri_col(f, x, n, k, 0, 1, 1);
                swap_col(x, n, k, P + b * n, 1);
            }
        }
    }
    /* one thread per matrix: ops/decomp_math.h's serial routines, `work` holding each thread's
     * scratch (a thread takes matrices t, t + all threads, ...); launched with 64 threads a block (their doubles need more than the
     * 64 registers a 1024-thread block allows) */
    extern "C" __global__ void __launch_bounds__(64) eigh_sym(const float *A, float *W, float *V, long long B, long long n,
                                           double *work) {
        const long long t0 = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (t0 >= B) return; /* the scratch holds min(B, threads) slots */
        double *s = work + t0 * (2 * n * n + 4 * n);
        for (long long b = t0; b < B; b += (long long)gridDim.x * blockDim.x) {
            nb_eigh_sym(A + b * n * n, n, W + b * n, V ? V + b * n * n : 0, s);
        }
    }
    extern "C" __global__ void __launch_bounds__(64) qr_householder(const float *A, float *Q, float *R, long long B, long long m,
                                              long long n, long long kq, long long kr, double *work) {
        const long long k = m < n ? m : n, per = m * n + k + m * kq + (n > kq ? n : kq);
        const long long t0 = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (t0 >= B) return; /* the scratch holds min(B, threads) slots */
        double *s = work + t0 * per;
        for (long long b = t0; b < B; b += (long long)gridDim.x * blockDim.x) {
            nb_qr_householder(A + b * m * n, m, n, Q ? Q + b * m * kq : 0, kq, R + b * kr * n, kr, s, s + m * n,
                              s + m * n + k);
        }
    }
    extern "C" __global__ void __launch_bounds__(64) svd_serial(const float *A, float *S, float *U, float *VH, long long B, long long m,
                                          long long n, double *work) {
        const long long k = m < n ? m : n, r = m < n ? n : m, per = r * k + k * k + r + 4 * k;
        const long long t0 = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (t0 >= B) return; /* the scratch holds min(B, threads) slots */
        double *w = work + t0 * per;
        for (long long b = t0; b < B; b += (long long)gridDim.x * blockDim.x) {
            nb_svd_serial(A + b * m * n, m, n, U ? U + b * m * k : 0, S + b * k, VH ? VH + b * k * n : 0, w);
        }
    }
);
