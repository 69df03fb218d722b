/* backends/cpu/gemm_avx512.c - AVX-512 packing and the 6x64 micro-kernel.
 *
 * The register tile is 6 rows x 64 columns of C: 24 zmm accumulators, 4 zmm of packed B and
 * one broadcast of packed A per row (29 of the 32 zmm registers). Each k step loads 4 vectors
 * and 6 scalars for 24 FMAs, well within the two load ports. Compiled with target attributes
 * so the file builds without -march flags; only called when the CPU has AVX-512F/VL/BW/DQ. */
#include "backends/cpu/gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TGT        __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define TGT_INLINE TGT __attribute__((always_inline)) static inline

#define MR 6
#define NR 64

/* Mask of the first n (0..16) lanes. */
TGT_INLINE __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* ---- packing ----------------------------------------------------------------------------- */

/* In-register transpose of the 8x8 block r[0..7]. */
TGT_INLINE void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int e = 0; e < 4; e++) {
        r[e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x20);
        r[4 + e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x31);
    }
}

/* Prefetches the line holding p[off] into L1 (addresses past the matrix are only hints, and
 * the arithmetic is done on integers so it is defined for them too). */
TGT_INLINE void prefetch_at(const float *p, int64_t off) {
    _mm_prefetch((const char *)((uintptr_t)p + (uintptr_t)(off * (int64_t)sizeof(float))), _MM_HINT_T0);
}

/* Rows of op(X) = X^T ahead of the one being copied whose lines are prefetched: every row of X
 * is its own stream, too many for the hardware prefetcher when X is wide (dlogits^T). */
#define PF_ROWS 16
#define GROUP   (8 * MR)

/* Transposed A, 8 panels (48 columns of op(X)) at a time: each row p of X gives 6 floats to
 * each of the 8 panels; the row PF_ROWS ahead is prefetched. Returns the columns packed. */
TGT static int64_t pack_a_trans_groups(const float *x, int64_t ldx, int64_t m, int64_t k, float *dst) {
    int64_t i0 = 0;
    for (; i0 + GROUP <= m; i0 += GROUP) {
        const float *s = x + i0;
        float *d = dst + i0 * k;
        for (int64_t p = 0; p < k; p++, s += ldx, d += MR) {
            const int64_t ahead = PF_ROWS * ldx;
            prefetch_at(s, ahead);
            prefetch_at(s, ahead + 16);
            prefetch_at(s, ahead + 32);
            prefetch_at(s, ahead + GROUP - 1);
            for (int q = 0; q < 8; q++)
                _mm256_mask_storeu_ps(d + q * MR * k, 0x3F, _mm256_maskz_loadu_ps(0x3F, s + q * MR));
        }
    }
    return i0;
}

TGT static void pack_a_avx512(int trans, const float *x, int64_t ldx, int64_t m, int64_t k, float *dst) {
    const int64_t done = trans ? pack_a_trans_groups(x, ldx, m, k, dst) : 0;
    for (int64_t i0 = done; i0 < m; i0 += MR) {
        const int64_t rows = m - i0 < MR ? m - i0 : MR;
        float *d = dst + i0 * k;
        if (rows < MR) {
            nb_gemm_pack_a_ref(MR, trans, x + (trans ? i0 : i0 * ldx), ldx, rows, k, d);
            continue;
        }
        if (trans) {
            const float *s = x + i0;
            for (int64_t p = 0; p < k; p++, s += ldx, d += MR)
                _mm256_mask_storeu_ps(d, 0x3F, _mm256_maskz_loadu_ps(0x3F, s));
        } else {
            /* Six rows, eight columns at a time: an 8x8 transpose (rows 6, 7 zero) gives one
             * packed column per vector; masked stores write its first six lanes. */
            const float *s0 = x + i0 * ldx;
            int64_t p = 0;
            for (; p + 8 <= k; p += 8, d += 8 * MR) {
                __m256 r[8];
                for (int i = 0; i < MR; i++)
                    r[i] = _mm256_loadu_ps(s0 + i * ldx + p);
                r[6] = r[7] = _mm256_setzero_ps();
                transpose8(r);
                for (int t = 0; t < 8; t++)
                    _mm256_mask_storeu_ps(d + t * MR, 0x3F, r[t]);
            }
            for (; p < k; p++, d += MR)
                for (int i = 0; i < MR; i++)
                    d[i] = s0[i * ldx + p];
        }
    }
}

/* In-register transpose of the 16x16 block r[0..15]. */
TGT_INLINE void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), e = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
    }
    /* u[4g + e] holds, in 128-bit lane L, column 4L + e of rows 4g..4g+3. */
    for (int e = 0; e < 4; e++) {
        __m512 w0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x44);
        __m512 w1 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xEE);
        __m512 w2 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x44);
        __m512 w3 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xEE);
        r[e] = _mm512_shuffle_f32x4(w0, w2, 0x88);
        r[4 + e] = _mm512_shuffle_f32x4(w0, w2, 0xDD);
        r[8 + e] = _mm512_shuffle_f32x4(w1, w3, 0x88);
        r[12 + e] = _mm512_shuffle_f32x4(w1, w3, 0xDD);
    }
}

TGT static void pack_b_avx512(int trans, const float *x, int64_t ldx, int64_t k, int64_t n, float *dst) {
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        const int64_t cols = n - j0 < NR ? n - j0 : NR;
        float *d = dst + j0 * k;
        if (!trans) {
            const __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16), m2 = lanes(cols - 32),
                            m3 = lanes(cols - 48);
            const float *s = x + j0;
            if (cols == NR) {
                for (int64_t p = 0; p < k; p++, s += ldx, d += NR) {
                    __m512 v0 = _mm512_loadu_ps(s), v1 = _mm512_loadu_ps(s + 16);
                    __m512 v2 = _mm512_loadu_ps(s + 32), v3 = _mm512_loadu_ps(s + 48);
                    _mm512_store_ps(d, v0);
                    _mm512_store_ps(d + 16, v1);
                    _mm512_store_ps(d + 32, v2);
                    _mm512_store_ps(d + 48, v3);
                }
            } else {
                for (int64_t p = 0; p < k; p++, s += ldx, d += NR) {
                    _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s));
                    _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
                    _mm512_store_ps(d + 32, _mm512_maskz_loadu_ps(m2, s + 32));
                    _mm512_store_ps(d + 48, _mm512_maskz_loadu_ps(m3, s + 48));
                }
            }
            continue;
        }
        /* Transposed: op(B)(p, j) = x[j * ldx + p]; 16x16 blocks through registers. */
        for (int64_t c0 = 0; c0 < NR; c0 += 16) {
            const int64_t cnt = cols - c0;
            for (int64_t p0 = 0; p0 < k; p0 += 16) {
                const int64_t kk = k - p0 < 16 ? k - p0 : 16;
                const __mmask16 km = lanes(kk);
                __m512 r[16];
                for (int i = 0; i < 16; i++) {
                    const float *row = x + (j0 + c0 + i) * ldx;
                    if (i < cnt) prefetch_at(row, p0 + 4 * 16);
                    r[i] = i < cnt ? _mm512_maskz_loadu_ps(km, row + p0) : _mm512_setzero_ps();
                }
                transpose16(r);
                for (int t = 0; t < kk; t++)
                    _mm512_store_ps(d + (p0 + t) * NR + c0, r[t]);
            }
        }
    }
}

/* ---- the 6x64 micro-kernel ----------------------------------------------------------------- */

/* Writes one row of the tile: C = alpha*acc (+ beta*C), columns masked when `full` is 0. */
TGT_INLINE void store_row(float *cr, __m512 v0, __m512 v1, __m512 v2, __m512 v3, int full,
                          const __mmask16 m[4], __m512 va, __m512 vb, int mode) {
    __m512 v[4] = {v0, v1, v2, v3};
    for (int j = 0; j < 4; j++) {
        __m512 o;
        if (full) {
            if (mode == 0)
                o = _mm512_mul_ps(v[j], va);
            else if (mode == 1)
                o = _mm512_fmadd_ps(v[j], va, _mm512_loadu_ps(cr + 16 * j));
            else
                o = _mm512_fmadd_ps(v[j], va, _mm512_mul_ps(vb, _mm512_loadu_ps(cr + 16 * j)));
            _mm512_storeu_ps(cr + 16 * j, o);
        } else {
            if (!m[j]) break;
            if (mode == 0)
                o = _mm512_mul_ps(v[j], va);
            else if (mode == 1)
                o = _mm512_fmadd_ps(v[j], va, _mm512_maskz_loadu_ps(m[j], cr + 16 * j));
            else
                o = _mm512_fmadd_ps(v[j], va, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m[j], cr + 16 * j)));
            _mm512_mask_storeu_ps(cr + 16 * j, m[j], o);
        }
    }
}

/* One k step of the 6 x 64 tile: B's row loaded once, each row r of A broadcast (A_AT(r) is
 * that row's element at this step) into four FMAs. */
#define ROW_FMA(r, A_AT)                                                                                     \
    do {                                                                                                     \
        __m512 ar = _mm512_set1_ps(A_AT(r));                                                                 \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                                          \
        c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                                                          \
        c##r##2 = _mm512_fmadd_ps(ar, b2, c##r##2);                                                          \
        c##r##3 = _mm512_fmadd_ps(ar, b3, c##r##3);                                                          \
    } while (0)

#define STEP(A_AT, ADVANCE_A)                                                                                \
    do {                                                                                                     \
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);                                        \
        __m512 b2 = _mm512_loadu_ps(b + 32), b3 = _mm512_loadu_ps(b + 48);                                   \
        ROW_FMA(0, A_AT);                                                                                    \
        ROW_FMA(1, A_AT);                                                                                    \
        ROW_FMA(2, A_AT);                                                                                    \
        ROW_FMA(3, A_AT);                                                                                    \
        ROW_FMA(4, A_AT);                                                                                    \
        ROW_FMA(5, A_AT);                                                                                    \
        ADVANCE_A;                                                                                           \
        b += ldb;                                                                                            \
    } while (0)

#define ZERO_ROW(r)                                                                                          \
    __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps(), c##r##2 = _mm512_setzero_ps(),      \
           c##r##3 = _mm512_setzero_ps()

#define STORE(r)                                                                                             \
    do {                                                                                                     \
        if (r < mr) store_row(c + r * ldc, c##r##0, c##r##1, c##r##2, c##r##3, full, m, va, vb, mode);       \
    } while (0)

/* The accumulators at zero and the C tile prefetched. */
#define TILE_BEGIN()                                                                                         \
    ZERO_ROW(0);                                                                                             \
    ZERO_ROW(1);                                                                                             \
    ZERO_ROW(2);                                                                                             \
    ZERO_ROW(3);                                                                                             \
    ZERO_ROW(4);                                                                                             \
    ZERO_ROW(5);                                                                                             \
    for (int r = 0; r < mr; r++)                                                                             \
        for (int j = 0; j < nr; j += 16)                                                                     \
    _mm_prefetch((const char *)(c + r * ldc + j), _MM_HINT_T0)

/* k steps, two at a time: unrolled four deep, gcc keeps the next steps' B rows live and spills
 * two of the 32 zmm registers inside the loop (measured 1-3% slower on a training step). */
#define TILE_LOOP(A_AT, ADVANCE_A)                                                                           \
    do {                                                                                                     \
        int64_t p = 0;                                                                                       \
        for (; p + 2 <= k; p += 2) {                                                                         \
            STEP(A_AT, ADVANCE_A);                                                                           \
            STEP(A_AT, ADVANCE_A);                                                                           \
        }                                                                                                    \
        for (; p < k; p++)                                                                                   \
            STEP(A_AT, ADVANCE_A);                                                                           \
    } while (0)

/* C = alpha * tile + beta * C for the mr x nr part of the tile. */
#define TILE_END()                                                                                           \
    do {                                                                                                     \
        const int full = nr == NR;                                                                           \
        const __mmask16 m[4] = {lanes(nr), lanes(nr - 16), lanes(nr - 32), lanes(nr - 48)};                  \
        const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                                  \
        const int mode = beta == 0.0f ? 0 : beta == 1.0f ? 1 : 2;                                            \
        STORE(0);                                                                                            \
        STORE(1);                                                                                            \
        STORE(2);                                                                                            \
        STORE(3);                                                                                            \
        STORE(4);                                                                                            \
        STORE(5);                                                                                            \
    } while (0)

/* A packed: MR values per k step, contiguous. */
#define A_PACKED(r) a[r]
TGT static void kernel_avx512(int64_t k, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc,
                              int mr, int nr, float alpha, float beta) {
    TILE_BEGIN();
    TILE_LOOP(A_PACKED, a += MR);
    TILE_END();
}

/* The same tile with op(A) = A read in place: rows r of the a-tile at a + r*lda (rows past mr
 * repeat row 0 and are not stored). Same FMAs in the same order as the packed kernel. */
#define A_DIRECT(r)   (*a##r)
#define A_DIRECT_NEXT (a0++, a1++, a2++, a3++, a4++, a5++)
TGT static void kernel_ad_avx512(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                                 float *c, int64_t ldc, int mr, int nr, float alpha, float beta) {
    const float *a0 = a, *a1 = mr > 1 ? a + lda : a, *a2 = mr > 2 ? a + 2 * lda : a;
    const float *a3 = mr > 3 ? a + 3 * lda : a, *a4 = mr > 4 ? a + 4 * lda : a;
    const float *a5 = mr > 5 ? a + 5 * lda : a;
    TILE_BEGIN();
    TILE_LOOP(A_DIRECT, A_DIRECT_NEXT);
    TILE_END();
}

/* ---- few rows times B^T: dot products ------------------------------------------------------ */

TGT static void dot_nt_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                              int64_t ldb, float *c, int64_t ldc, float alpha, float beta) {
    for (int64_t j = 0; j < n; j += 4) {
        const int64_t nj = n - j < 4 ? n - j : 4;
        /* Columns past n repeat the last one and are not stored. */
        const float *b0 = b + j * ldb, *b1 = b + (j + (nj > 1)) * ldb;
        const float *b2 = b + (j + (nj > 2 ? 2 : nj - 1)) * ldb;
        const float *b3 = b + (j + nj - 1) * ldb;
        for (int64_t i = 0; i < m; i++) {
            const float *ai = a + i * lda;
            __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
            __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
            for (int64_t p = 0; p < k; p += 16) {
                const __mmask16 km = lanes(k - p);
                const __m512 av = _mm512_maskz_loadu_ps(km, ai + p);
                s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(km, b0 + p), s0);
                s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(km, b1 + p), s1);
                s2 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(km, b2 + p), s2);
                s3 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(km, b3 + p), s3);
            }
            const float d[4] = {_mm512_reduce_add_ps(s0), _mm512_reduce_add_ps(s1), _mm512_reduce_add_ps(s2),
                                _mm512_reduce_add_ps(s3)};
            float *ci = c + i * ldc + j;
            for (int64_t jj = 0; jj < nj; jj++)
                ci[jj] = beta == 0.0f ? alpha * d[jj] : fmaf(alpha, d[jj], beta * ci[jj]);
        }
    }
}

/* ---- few rows times B: row updates ------------------------------------------------------- */

TGT static void axpy_nn_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t sai, int64_t sap,
                               const float *b, int64_t ldb, float *c, int64_t ldc, float alpha, float beta) {
    /* Columns per block: the m rows of C (128 KiB) stay in L2 while B streams by row. */
    const int64_t W = 32768 / (m > 0 ? m : 1);
    const __m512 vb = _mm512_set1_ps(beta);
    for (int64_t j0 = 0; j0 < n; j0 += W) {
        const int64_t w = n - j0 < W ? n - j0 : W;
        for (int64_t i = 0; i < m; i++) {
            float *ci = c + i * ldc + j0;
            for (int64_t j = 0; j < w; j += 16) {
                const __mmask16 jm = lanes(w - j);
                const __m512 v =
                    beta == 0.0f ? _mm512_setzero_ps() : _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(jm, ci + j));
                _mm512_mask_storeu_ps(ci + j, jm, v);
            }
        }
        for (int64_t p = 0; p < k; p++) {
            const float *bp = b + p * ldb + j0;
            __m512 s[NB_GEMM_DOT_MAX_M];
            for (int64_t i = 0; i < m; i++)
                s[i] = _mm512_set1_ps(alpha * a[i * sai + p * sap]);
            for (int64_t j = 0; j < w; j += 16) {
                const __mmask16 jm = lanes(w - j);
                const __m512 bv = _mm512_maskz_loadu_ps(jm, bp + j);
                for (int64_t i = 0; i < m; i++) {
                    float *cij = c + i * ldc + j0 + j;
                    _mm512_mask_storeu_ps(cij, jm, _mm512_fmadd_ps(s[i], bv, _mm512_maskz_loadu_ps(jm, cij)));
                }
            }
        }
    }
}

static const nb_gemm_impl g_avx512 = {
    .name = "avx512",
    .mr = MR,
    .nr = NR,
    .kc = 384,
    .nc = 384,
    .mc = 1536,
    .pack_a = pack_a_avx512,
    .pack_b = pack_b_avx512,
    .kernel = kernel_avx512,
    .kernel_ad = kernel_ad_avx512,
    .dot_nt = dot_nt_avx512,
    .axpy_nn = axpy_nn_avx512,
};

const nb_gemm_impl *nb_gemm_impl_avx512(void) { return &g_avx512; }

#else

const nb_gemm_impl *nb_gemm_impl_avx512(void) { return 0; }

#endif
