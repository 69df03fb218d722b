/* backends/cpu/gemm_avx2.c - AVX2+FMA packing and the 6x16 micro-kernel.
 *
 * The register tile is 6 rows x 16 columns of C: 12 ymm accumulators, 2 ymm of packed B and
 * one broadcast (15 of the 16 ymm registers), the classic Haswell shape. Compiled with target
 * attributes so the file builds without -march flags; only called when the CPU has AVX2+FMA. */
#include "backends/cpu/gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TGT __attribute__((target("avx2,fma")))
#define TGT_INLINE TGT __attribute__((always_inline)) static inline

#define MR 6
#define NR 16

TGT static void pack_a_avx2(int trans, const float *x, int64_t ldx, int64_t m, int64_t k,
                            float *dst) {
    nb_gemm_pack_a_ref(MR, trans, x, ldx, m, k, dst);
}

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

TGT static void pack_b_avx2(int trans, const float *x, int64_t ldx, int64_t k, int64_t n,
                            float *dst) {
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        const int64_t cols = n - j0 < NR ? n - j0 : NR;
        float *d = dst + j0 * k;
        if (cols < NR || (trans && k % 8 != 0)) {
            nb_gemm_pack_b_ref(NR, trans, x + (trans ? j0 * ldx : j0), ldx, k, cols, d);
            continue;
        }
        if (!trans) {
            const float *s = x + j0;
            for (int64_t p = 0; p < k; p++, s += ldx, d += NR) {
                _mm256_store_ps(d, _mm256_loadu_ps(s));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(s + 8));
            }
            continue;
        }
        for (int64_t c0 = 0; c0 < NR; c0 += 8) {
            for (int64_t p0 = 0; p0 < k; p0 += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(x + (j0 + c0 + i) * ldx + p0);
                transpose8(r);
                for (int t = 0; t < 8; t++) _mm256_store_ps(d + (p0 + t) * NR + c0, r[t]);
            }
        }
    }
}

#define ROW_FMA(r)                                                                                 \
    do {                                                                                           \
        __m256 ar = _mm256_broadcast_ss(a + r);                                                    \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                                                \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);                                                \
    } while (0)

#define STEP()                                                                                     \
    do {                                                                                           \
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);                               \
        ROW_FMA(0);                                                                                \
        ROW_FMA(1);                                                                                \
        ROW_FMA(2);                                                                                \
        ROW_FMA(3);                                                                                \
        ROW_FMA(4);                                                                                \
        ROW_FMA(5);                                                                                \
        a += MR;                                                                                   \
        b += ldb;                                                                                  \
    } while (0)

#define ZERO_ROW(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps()

#define SAVE_ROW(r)                                                                                \
    do {                                                                                           \
        _mm256_storeu_ps(tile[r], c##r##0);                                                        \
        _mm256_storeu_ps(tile[r] + 8, c##r##1);                                                    \
    } while (0)

TGT static void kernel_avx2(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                            int64_t ldc, int mr, int nr, float alpha, float beta) {
    ZERO_ROW(0);
    ZERO_ROW(1);
    ZERO_ROW(2);
    ZERO_ROW(3);
    ZERO_ROW(4);
    ZERO_ROW(5);
    for (int r = 0; r < mr; r++) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
        STEP();
        STEP();
        STEP();
        STEP();
    }
    for (; p < k; p++) STEP();

    float tile[MR][NR];
    SAVE_ROW(0);
    SAVE_ROW(1);
    SAVE_ROW(2);
    SAVE_ROW(3);
    SAVE_ROW(4);
    SAVE_ROW(5);
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        if (nr == NR) {
            for (int j = 0; j < NR; j += 8) {
                __m256 v = _mm256_loadu_ps(tile[r] + j), o;
                if (beta == 0.0f)
                    o = _mm256_mul_ps(v, va);
                else if (beta == 1.0f)
                    o = _mm256_fmadd_ps(v, va, _mm256_loadu_ps(cr + j));
                else
                    o = _mm256_fmadd_ps(v, va, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + j)));
                _mm256_storeu_ps(cr + j, o);
            }
        } else {
            for (int j = 0; j < nr; j++) {
                if (beta == 0.0f)
                    cr[j] = tile[r][j] * alpha;
                else if (beta == 1.0f)
                    cr[j] = fmaf(tile[r][j], alpha, cr[j]);
                else
                    cr[j] = fmaf(tile[r][j], alpha, beta * cr[j]);
            }
        }
    }
}

static const nb_gemm_impl g_avx2 = {
    .name = "avx2",
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .nc = 768,
    .mc = 1536,
    .pack_a = pack_a_avx2,
    .pack_b = pack_b_avx2,
    .kernel = kernel_avx2,
    .dot_nt = NULL,
    .axpy_nn = NULL,
};

const nb_gemm_impl *nb_gemm_impl_avx2(void) { return &g_avx2; }

#else

const nb_gemm_impl *nb_gemm_impl_avx2(void) { return 0; }

#endif
