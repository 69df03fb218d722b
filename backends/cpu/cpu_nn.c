/* backends/cpu/cpu_nn.c - fused neural-network kernels on the CPU: softmax and
 * log-softmax (forward and backward), layer norm (forward, and a backward that
 * computes dx, dw and db in one pass over the rows), cross-entropy fused with
 * log-softmax (forward, backward, and both in one in-place pass), and Philox dropout.
 *
 * Every kernel works on the last dimension of contiguous tensors (the ops
 * layer makes them contiguous), is parallel over rows with OpenMP, and is
 * bit-identical run to run: each row is computed by one thread in a fixed
 * order, and reductions across rows use fixed chunks summed in fixed order.
 * The exponential is a vectorisable Cephes-style polynomial (about 1 ulp),
 * so the inner loops compile to SIMD code. */
/* GCC if-converts (and so vectorises) the clamps in the exp below only
 * without trapping math; nothing here reads floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
/* `omp simd` is a hint: clang must not warn when it cannot honour it (e.g. -O0, sanitizers). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/cpu_math.h"

/* Rows * columns above which a kernel runs its rows in parallel. */
#define NN_PAR_WORK 32768
/* Fixed number of row chunks for cross-row reductions (independent of threads). */
#define NN_CHUNKS 32

/* The per-row workers are compiled twice, for AVX2 and for the baseline, and
 * the loader picks one for the machine (same choice on every run). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define NN_CLONES __attribute__((target_clones("avx2", "default")))
/* With an AVX-512 clone too, where it measured faster (the one-pass cross-entropy: 1.4x). */
#define NN_CLONES_512 __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_CLONES
#define NN_CLONES_512
#endif

/* ---- helpers ------------------------------------------------------------------------ */

/* Splits a contiguous tensor into rows of its last dimension. */
static void rows_cols(const nb_tensor *t, int64_t *rows, int64_t *cols) {
    int64_t c = t->ndim ? t->shape[t->ndim - 1] : 1;
    *cols = c;
    *rows = c ? nb_numel(t) / c : 0;
}

/* Largest of x[0..n-1] (-inf for n = 0), in 8 independent lanes so that both
 * compilers vectorise it (the order does not change a maximum). */
static inline float row_max(const float *x, int64_t n) {
    float mm[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            mm[l] = x[j + l] > mm[l] ? x[j + l] : mm[l];
    for (; j < n; j++)
        mm[0] = x[j] > mm[0] ? x[j] : mm[0];
    float m = mm[0];
    for (int l = 1; l < 8; l++)
        m = mm[l] > m ? mm[l] : m;
    return m;
}

/* ---- softmax --------------------------------------------------------------------------- */

NN_CLONES static void softmax_row(float *y, const float *x, int64_t n, bool log) {
    float m = row_max(x, n), s = 0.0f;
    if (m == -INFINITY) m = 0.0f; /* a row of -inf: exp gives 0, the sum 0 */
    if (log) {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++)
            s += nb_cpu_expf(x[j] - m);
        float ls = logf(s); /* (x - m) - log s: m + log s would round to m's ulp */
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            y[j] = (x[j] - m) - ls;
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++) {
            float e = nb_cpu_expf(x[j] - m);
            y[j] = e;
            s += e;
        }
        float inv = 1.0f / s;
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            y[j] *= inv;
    }
}

int nb_cpu_softmax(nb_tensor *out, const nb_tensor *a, bool log) {
    int64_t rows, n;
    rows_cols(a, &rows, &n);
    float *Y = (float *)nb_ptr(out);
    const float *X = (const float *)nb_ptr(a);
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * n > NN_PAR_WORK) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        softmax_row(Y + r * n, X + r * n, n, log);
    return 0;
}

NN_CLONES static void softmax_bw_row(float *gi, const float *g, const float *yr, int64_t n, bool log) {
    float s = 0.0f;
    if (log) { /* gin = g - exp(y) * sum(g) */
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++)
            s += g[j];
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            gi[j] = g[j] - nb_cpu_expf(yr[j]) * s;
    } else { /* gin = y * (g - sum(g * y)) */
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++)
            s += g[j] * yr[j];
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            gi[j] = yr[j] * (g[j] - s);
    }
}

int nb_cpu_softmax_backward(nb_tensor *gin, const nb_tensor *gout, const nb_tensor *y, bool log) {
    int64_t rows, n;
    rows_cols(y, &rows, &n);
    float *GI = (float *)nb_ptr(gin);
    const float *G = (const float *)nb_ptr(gout), *Y = (const float *)nb_ptr(y);
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * n > NN_PAR_WORK) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        softmax_bw_row(GI + r * n, G + r * n, Y + r * n, n, log);
    return 0;
}

/* ---- layer norm ---------------------------------------------------------------------------- */

int nb_cpu_layer_norm(nb_tensor *y, nb_tensor *mean, nb_tensor *rstd, const nb_tensor *x, const nb_tensor *w,
                      const nb_tensor *b, float eps) {
    int64_t rows, n;
    rows_cols(x, &rows, &n);
    if (n == 0) return 0;
    float *Y = (float *)nb_ptr(y), *M = (float *)nb_ptr(mean), *R = (float *)nb_ptr(rstd);
    const float *X = (const float *)nb_ptr(x);
    const float *W = w ? (const float *)nb_ptr(w) : NULL, *B = b ? (const float *)nb_ptr(b) : NULL;
    const float inv_n = 1.0f / (float)n;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * n > NN_PAR_WORK) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = X + r * n;
        float *yr = Y + r * n;
        float s = 0.0f, v = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++)
            s += xr[j];
        float mu = s * inv_n;
#pragma omp simd reduction(+ : v)
        for (int64_t j = 0; j < n; j++)
            v += (xr[j] - mu) * (xr[j] - mu);
        float rs = 1.0f / sqrtf(v * inv_n + eps);
        M[r] = mu;
        R[r] = rs;
        if (W && B) {
#pragma omp simd
            for (int64_t j = 0; j < n; j++)
                yr[j] = (xr[j] - mu) * rs * W[j] + B[j];
        } else if (W) {
#pragma omp simd
            for (int64_t j = 0; j < n; j++)
                yr[j] = (xr[j] - mu) * rs * W[j];
        } else if (B) {
#pragma omp simd
            for (int64_t j = 0; j < n; j++)
                yr[j] = (xr[j] - mu) * rs + B[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < n; j++)
                yr[j] = (xr[j] - mu) * rs;
        }
    }
    return 0;
}

/* dx, dw and db may each be NULL (not wanted); w NULL means a weight of ones.
 * dw and db are overwritten (not accumulated): each of NN_CHUNKS fixed row
 * chunks sums into its own partial row, and the partials are added in chunk
 * order, so the result does not depend on the thread count. */
int nb_cpu_layer_norm_backward(nb_tensor *dx, nb_tensor *dw, nb_tensor *db, const nb_tensor *dy,
                               const nb_tensor *x, const nb_tensor *mean, const nb_tensor *rstd,
                               const nb_tensor *w) {
    int64_t rows, n;
    rows_cols(x, &rows, &n);
    float *DW = dw ? (float *)nb_ptr(dw) : NULL, *DB = db ? (float *)nb_ptr(db) : NULL;
    if (n == 0) return 0;
    if (rows == 0) {
        if (DW) memset(DW, 0, (size_t)n * sizeof(float));
        if (DB) memset(DB, 0, (size_t)n * sizeof(float));
        return 0;
    }
    float *DX = dx ? (float *)nb_ptr(dx) : NULL;
    const float *DY = (const float *)nb_ptr(dy), *X = (const float *)nb_ptr(x);
    const float *M = (const float *)nb_ptr(mean), *R = (const float *)nb_ptr(rstd);
    const float *W = w ? (const float *)nb_ptr(w) : NULL;
    int64_t nch = rows < NN_CHUNKS ? rows : NN_CHUNKS;
    float *part = NULL;
    if (DW || DB) {
        part = nb_cpu_scratch(NB_SCRATCH_NN, (size_t)(nch * 2 * n));
        if (!part) return nb_set_error("layer_norm backward: out of memory for scratch"), -1;
        memset(part, 0, (size_t)(nch * 2 * n) * sizeof(float));
    }
    const float inv_n = 1.0f / (float)n;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * n > NN_PAR_WORK) schedule(static)
    for (int64_t c = 0; c < nch; c++) {
        float *pw = part ? part + c * 2 * n : NULL, *pb = part ? pw + n : NULL;
        for (int64_t r = rows * c / nch; r < rows * (c + 1) / nch; r++) {
            const float *xr = X + r * n, *g = DY + r * n;
            const float mu = M[r], rs = R[r];
            if (part) {
#pragma omp simd
                for (int64_t j = 0; j < n; j++) {
                    pw[j] += g[j] * (xr[j] - mu) * rs;
                    pb[j] += g[j];
                }
            }
            if (!DX) continue;
            float a = 0.0f, bsum = 0.0f;
#pragma omp simd reduction(+ : a, bsum)
            for (int64_t j = 0; j < n; j++) {
                float wg = W ? g[j] * W[j] : g[j];
                a += wg;
                bsum += wg * (xr[j] - mu) * rs;
            }
            a *= inv_n;
            bsum *= inv_n;
            float *dxr = DX + r * n;
#pragma omp simd
            for (int64_t j = 0; j < n; j++) {
                float wg = W ? g[j] * W[j] : g[j];
                dxr[j] = rs * (wg - a - (xr[j] - mu) * rs * bsum);
            }
        }
    }
    if (part) {
        for (int64_t j = 0; j < n; j++) {
            float sw = 0.0f, sb = 0.0f;
            for (int64_t c = 0; c < nch; c++) {
                sw += part[c * 2 * n + j];
                sb += part[c * 2 * n + n + j];
            }
            if (DW) DW[j] = sw;
            if (DB) DB[j] = sb;
        }
    }
    return 0;
}

/* ---- cross-entropy --------------------------------------------------------------------------- */

/* Checks every target is in [0, C) or ignore_index; counts the kept rows. */
static int64_t xent_count(const int32_t *T, int64_t rows, int64_t C, int ignore_index, bool check) {
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (T[r] == ignore_index) continue;
        if (check && (T[r] < 0 || T[r] >= C)) {
            nb_set_error("cross_entropy: target %d at row %lld is out of range [0, %lld) "
                         "(and is not ignore_index %d)",
                         (int)T[r], (long long)r, (long long)C, ignore_index);
            return -1;
        }
        count++;
    }
    return count;
}

/* One row's log-sum-exp as the pair (m, log sum exp(x - m)), m the row's max: kept apart, because
 * their sum rounds to m's ulp (8 at m = 1e8) and x - lse then loses every digit. A row whose
 * max is infinite gives (m, 0). The row (C floats) is read twice, but the second read comes
 * from cache: for C = 50257 the row is 200 KB, well inside L2. */
NN_CLONES static float row_lse(const float *x, int64_t n, float *mp) {
    float m = row_max(x, n), s = 0.0f;
    *mp = m;
    if (m == -INFINITY || m == INFINITY) return 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++)
        s += nb_cpu_expf(x[j] - m);
    return logf(s);
}

/* 0 when lse is a contiguous f32 [rows, 2] (the pairs); -1 with an error otherwise. */
static int check_lse(const char *op, const nb_tensor *lse, int64_t rows) {
    if (lse->dtype != NB_F32 || !nb_is_contiguous(lse) || nb_numel(lse) != 2 * rows)
        return nb_set_error("%s: lse must be a contiguous f32 [%lld, 2] (max, log-sum per row)", op,
                            (long long)rows),
               -1;
    return 0;
}

/* lse [rows, 2]: (max, log-sum) per row, as row_lse. Rows whose target is ignored get (0, 0)
 * and add nothing. With every row ignored the loss is 0 (not NaN). */
int nb_cpu_cross_entropy(nb_tensor *loss, nb_tensor *lse, const nb_tensor *logits, const nb_tensor *targets,
                         int ignore_index) {
    int64_t rows, C;
    rows_cols(logits, &rows, &C);
    if (check_lse("cross_entropy", lse, rows)) return -1;
    const float *X = (const float *)nb_ptr(logits);
    const int32_t *T = (const int32_t *)nb_ptr(targets);
    float *L = (float *)nb_ptr(lse);
    int64_t count = xent_count(T, rows, C, ignore_index, true);
    if (count < 0) return -1;
    float *per_row = nb_cpu_scratch(NB_SCRATCH_NN, (size_t)(rows ? rows : 1));
    if (!per_row) return nb_set_error("cross_entropy: out of memory for scratch"), -1;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * C > NN_PAR_WORK) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        if (T[r] == ignore_index) {
            L[2 * r] = L[2 * r + 1] = 0.0f;
            per_row[r] = 0.0f;
            continue;
        }
        const float *x = X + r * C;
        float m, ls = row_lse(x, C, &m);
        L[2 * r] = m;
        L[2 * r + 1] = ls;
        per_row[r] = ls - (x[T[r]] - m);
    }
    double sum = 0.0;
    for (int64_t r = 0; r < rows; r++)
        sum += per_row[r];
    *(float *)nb_ptr(loss) = count ? (float)(sum / (double)count) : 0.0f;
    return 0;
}

/* d[j] = k * exp((x[j] - m) - ls): k times the softmax of the row. d may be x (in place: each
 * element is read before it is written, so no restrict). */
NN_CLONES static void xent_grad_row(float *d, const float *x, float m, float ls, float k, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        d[j] = k * nb_cpu_expf((x[j] - m) - ls);
}

int nb_cpu_cross_entropy_backward(nb_tensor *dlogits, const nb_tensor *g, const nb_tensor *logits,
                                  const nb_tensor *targets, const nb_tensor *lse, int ignore_index) {
    int64_t rows, C;
    rows_cols(logits, &rows, &C);
    if (check_lse("cross_entropy backward", lse, rows)) return -1;
    const float *X = (const float *)nb_ptr(logits), *L = (const float *)nb_ptr(lse);
    const int32_t *T = (const int32_t *)nb_ptr(targets);
    float *D = (float *)nb_ptr(dlogits);
    int64_t count = xent_count(T, rows, C, ignore_index, true);
    if (count < 0) return -1;
    const float k = count ? *(const float *)nb_ptr(g) / (float)count : 0.0f;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * C > NN_PAR_WORK) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *d = D + r * C;
        if (T[r] == ignore_index || k == 0.0f) {
            memset(d, 0, (size_t)C * sizeof(float));
            continue;
        }
        xent_grad_row(d, X + r * C, L[2 * r], L[2 * r + 1], k, C);
        d[T[r]] -= k;
    }
    return 0;
}

/* One row of the fused forward + backward, in place: x becomes k * (softmax(x) - onehot(t)).
 * The row is read once from memory (the max); exp(x - max) is computed once per element and
 * stored over x while it is summed, then scaled by k / sum while the row is still in cache.
 * Returns the row's log-sum and *mp its max (row_lse's pair); *xt gets x[t] as it was. */
NN_CLONES_512 static float xent_fused_row(float *x, int64_t n, int32_t t, float k, float *xt, float *mp) {
    *xt = x[t];
    float m = row_max(x, n);
    *mp = m;
    if (m == -INFINITY || m == INFINITY) { /* as the two kernels: (m, 0) */
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            x[j] = k * nb_cpu_expf(x[j] - m);
        x[t] -= k;
        return 0.0f;
    }
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++) {
        float e = nb_cpu_expf(x[j] - m);
        x[j] = e;
        s += e;
    }
    const float ks = k / s;
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        x[j] *= ks;
    x[t] -= k;
    return logf(s);
}

/* Targets are checked before anything is written. Deterministic: each row is one thread's,
 * and the per-row losses are summed in row order in double. */
int nb_cpu_cross_entropy_fused(nb_tensor *loss, nb_tensor *lse, nb_tensor *logits, const nb_tensor *targets,
                               int ignore_index, float k) {
    int64_t rows, C;
    rows_cols(logits, &rows, &C);
    if (check_lse("cross_entropy (fused)", lse, rows)) return -1;
    float *X = (float *)nb_ptr(logits), *L = (float *)nb_ptr(lse);
    const int32_t *T = (const int32_t *)nb_ptr(targets);
    if (xent_count(T, rows, C, ignore_index, true) < 0) return -1;
    float *per_row = nb_cpu_scratch(NB_SCRATCH_NN, (size_t)(rows ? rows : 1));
    if (!per_row) return nb_set_error("cross_entropy (fused): out of memory for scratch"), -1;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * C > NN_PAR_WORK) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *x = X + r * C;
        if (T[r] == ignore_index) {
            memset(x, 0, (size_t)C * sizeof(float));
            L[2 * r] = L[2 * r + 1] = 0.0f;
            per_row[r] = 0.0f;
            continue;
        }
        float xt, m, ls = xent_fused_row(x, C, T[r], k, &xt, &m);
        L[2 * r] = m;
        L[2 * r + 1] = ls;
        per_row[r] = ls - (xt - m);
    }
    double sum = 0.0;
    for (int64_t r = 0; r < rows; r++)
        sum += per_row[r];
    *(float *)nb_ptr(loss) = (float)(sum * (double)k);
    return 0;
}

/* ---- dropout ----------------------------------------------------------------------------------- */

/* Philox4x32-10 exactly as nb_philox (tensor/rng.c), inlined so that a loop over consecutive
 * counters vectorises (the 32x32->64-bit products map to vpmuludq). Must stay bit-identical
 * to nb_philox: dropout masks are part of the reproducible results. */
static inline void nn_philox(uint64_t seed, uint64_t ctr, uint32_t *o0, uint32_t *o1, uint32_t *o2,
                             uint32_t *o3) {
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    /* the ten rounds written out: a loop here would stop the vectoriser */
#define NN_PHILOX_ROUND                                                                                      \
    do {                                                                                                     \
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;                           \
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;                                     \
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;                                     \
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;                                                                  \
        k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;                                                                \
    } while (0)
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
    NN_PHILOX_ROUND;
#undef NN_PHILOX_ROUND
    *o0 = c0, *o1 = c1, *o2 = c2, *o3 = c3;
}

/* Philox blocks [b0, b1) (4 elements each, all in range): out = keep ? x * scale : +0, where
 * keep <=> (w >> 8) * 2^-24 >= p <=> (w >> 8) >= thr = ceil(p * 2^24) (exact: w >> 8 has 24
 * bits). The portable path. */
static void dropout_blocks(float *restrict O, const float *restrict X, int64_t b0, int64_t b1, uint32_t thr,
                           float scale, uint64_t seed, uint64_t offset) {
    for (int64_t b = b0; b < b1; b++) {
        uint32_t w[4];
        nn_philox(seed, offset + (uint64_t)b, &w[0], &w[1], &w[2], &w[3]);
        for (int l = 0; l < 4; l++)
            O[4 * b + l] = (w[l] >> 8) >= thr ? X[4 * b + l] * scale : 0.0f;
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#include <immintrin.h>
#define NN_HAVE_AVX512_DROPOUT 1

/* High and low 32 bits of the 32x32 products a[i] * m, for 16 lanes. */
__attribute__((target("avx512f"))) static inline void mul_hilo(__m512i a, __m512i m, __m512i *hi,
                                                               __m512i *lo) {
    __m512i pe = _mm512_mul_epu32(a, m);                        /* even lanes, 64-bit */
    __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m); /* odd lanes, 64-bit */
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
    *lo = _mm512_mullo_epi32(a, m);
}

/* The same as dropout_blocks, 16 Philox blocks (64 elements) at a time: the keep bits of the
 * four output words are interleaved into one 64-bit mask with pdep, and each group of 16
 * elements is a masked multiply (dropped elements are +0, as in the portable path). */
__attribute__((target("avx512f,bmi2"))) static void
dropout_blocks_avx512(float *restrict O, const float *restrict X, int64_t b0, int64_t b1, uint32_t thr,
                      float scale, uint64_t seed, uint64_t offset) {
    const __m512i M0 = _mm512_set1_epi32((int)0xD2511F53u), M1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    const __m512i T = _mm512_set1_epi32((int)thr),
                  lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 S = _mm512_set1_ps(scale);
    int64_t b = b0;
    for (; b + 16 <= b1; b += 16) {
        uint64_t c = offset + (uint64_t)b;
        /* 16 consecutive counters; the high word steps up where the low one wraps */
        __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)c), lane);
        __mmask16 wrap = _mm512_cmplt_epu32_mask(c0, _mm512_set1_epi32((int)(uint32_t)c));
        __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(c >> 32)), wrap,
                                           _mm512_set1_epi32((int)(uint32_t)(c >> 32)), _mm512_set1_epi32(1));
        __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        for (int r = 0; r < 10; r++) {
            __m512i h0, l0, h1, l1;
            mul_hilo(c0, M0, &h0, &l0);
            mul_hilo(c2, M1, &h1, &l1);
            c0 = _mm512_xor_si512(_mm512_xor_si512(h1, c1), _mm512_set1_epi32((int)k0));
            c2 = _mm512_xor_si512(_mm512_xor_si512(h0, c3), _mm512_set1_epi32((int)k1));
            c1 = l1;
            c3 = l0;
            k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
        }
        /* words 0..3 of block j are c0, c1, c2, c3 lane j; element 4j + l keeps on word l */
        uint64_t m0 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c0, 8), T);
        uint64_t m1 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c1, 8), T);
        uint64_t m2 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c2, 8), T);
        uint64_t m3 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c3, 8), T);
        uint64_t keep = _pdep_u64(m0, 0x1111111111111111ULL) | _pdep_u64(m1, 0x2222222222222222ULL) |
                        _pdep_u64(m2, 0x4444444444444444ULL) | _pdep_u64(m3, 0x8888888888888888ULL);
        for (int q = 0; q < 4; q++) {
            const float *x = X + 4 * b + 16 * q;
            __m512 v = _mm512_maskz_mul_ps((__mmask16)(keep >> (16 * q)), _mm512_loadu_ps(x), S);
            _mm512_storeu_ps(O + 4 * b + 16 * q, v);
        }
    }
    dropout_blocks(O, X, b, b1, thr, scale, seed, offset);
}
#endif

/* Element i keeps when lane i%4 of Philox(seed, offset + i/4), as (w >> 8) * 2^-24, is >= p. */
int nb_cpu_dropout(nb_tensor *out, const nb_tensor *x, float p, uint64_t seed, uint64_t offset) {
    int64_t n = nb_numel(x), full = n / 4;
    float *O = (float *)nb_ptr(out);
    const float *X = (const float *)nb_ptr(x);
    const float scale = 1.0f / (1.0f - p);
    const uint32_t thr = (uint32_t)ceil((double)p * 16777216.0); /* p < 1: thr <= 2^24 */
    int nt = n > NN_PAR_WORK ? nb_nthreads() : 1;
    void (*run)(float *restrict, const float *restrict, int64_t, int64_t, uint32_t, float, uint64_t,
                uint64_t) = dropout_blocks;
#ifdef NN_HAVE_AVX512_DROPOUT
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2")) run = dropout_blocks_avx512;
#endif
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        run(O, X, full * t / k, full * (t + 1) / k, thr, scale, seed, offset);
    }
    if (full * 4 < n) { /* the last, partial block */
        uint32_t w[4];
        nb_philox(seed, offset + (uint64_t)full, w);
        for (int64_t i = full * 4; i < n; i++) {
            float u = (float)(w[i - full * 4] >> 8) * (1.0f / 16777216.0f);
            O[i] = u >= p ? X[i] * scale : 0.0f;
        }
    }
    return 0;
}
