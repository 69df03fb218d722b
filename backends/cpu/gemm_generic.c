/* backends/cpu/gemm_generic.c - portable C packing and micro-kernel for the GEMM driver. */
#include "backends/cpu/gemm_internal.h"

#include <string.h>

#define GEN_MR 4
#define GEN_NR 16

void nb_gemm_pack_a_ref(int mr, int trans, const float *x, int64_t ldx, int64_t m, int64_t k,
                        float *dst) {
    for (int64_t i0 = 0; i0 < m; i0 += mr) {
        int64_t rows = m - i0 < mr ? m - i0 : mr;
        float *d = dst + i0 * k;
        if (!trans) {
            for (int64_t r = 0; r < rows; r++) {
                const float *src = x + (i0 + r) * ldx;
                for (int64_t p = 0; p < k; p++) d[p * mr + r] = src[p];
            }
        } else {
            for (int64_t p = 0; p < k; p++) {
                const float *src = x + p * ldx + i0;
                for (int64_t r = 0; r < rows; r++) d[p * mr + r] = src[r];
            }
        }
        for (int64_t r = rows; r < mr; r++)
            for (int64_t p = 0; p < k; p++) d[p * mr + r] = 0.0f;
    }
}

void nb_gemm_pack_b_ref(int nr, int trans, const float *x, int64_t ldx, int64_t k, int64_t n,
                        float *dst) {
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
        int64_t cols = n - j0 < nr ? n - j0 : nr;
        float *d = dst + j0 * k;
        if (!trans) {
            for (int64_t p = 0; p < k; p++) {
                memcpy(d + p * nr, x + p * ldx + j0, (size_t)cols * sizeof(float));
                for (int64_t c = cols; c < nr; c++) d[p * nr + c] = 0.0f;
            }
        } else {
            for (int64_t c = 0; c < cols; c++) {
                const float *src = x + (j0 + c) * ldx;
                for (int64_t p = 0; p < k; p++) d[p * nr + c] = src[p];
            }
            for (int64_t p = 0; p < k; p++)
                for (int64_t c = cols; c < nr; c++) d[p * nr + c] = 0.0f;
        }
    }
}

static void pack_a_generic(int trans, const float *x, int64_t ldx, int64_t m, int64_t k,
                           float *dst) {
    nb_gemm_pack_a_ref(GEN_MR, trans, x, ldx, m, k, dst);
}

static void pack_b_generic(int trans, const float *x, int64_t ldx, int64_t k, int64_t n,
                           float *dst) {
    nb_gemm_pack_b_ref(GEN_NR, trans, x, ldx, k, n, dst);
}

static void kernel_generic(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                           int64_t ldc, int mr, int nr, float alpha, float beta) {
    float acc[GEN_MR][GEN_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < k; p++) {
        const float *ap = a + p * GEN_MR, *bp = b + p * ldb;
        for (int r = 0; r < GEN_MR; r++) {
            float ar = ap[r];
            for (int j = 0; j < GEN_NR; j++) acc[r][j] += ar * bp[j];
        }
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < nr; j++) cr[j] = alpha * acc[r][j];
        } else if (beta == 1.0f) {
            for (int j = 0; j < nr; j++) cr[j] += alpha * acc[r][j];
        } else {
            for (int j = 0; j < nr; j++) cr[j] = alpha * acc[r][j] + beta * cr[j];
        }
    }
}

static void dot_nt_generic(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                           float beta) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            const float *ai = a + i * lda, *bj = b + j * ldb;
            float acc[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= k; p += 8)
                for (int l = 0; l < 8; l++) acc[l] += ai[p + l] * bj[p + l];
            for (int l = 0; p < k; p++, l++) acc[l] += ai[p] * bj[p];
            float dot =
                ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? alpha * dot : alpha * dot + beta * *cij;
        }
    }
}

static const nb_gemm_impl g_generic = {
    .name = "generic",
    .mr = GEN_MR,
    .nr = GEN_NR,
    .kc = 256,
    .nc = 512,
    .mc = 1024,
    .pack_a = pack_a_generic,
    .pack_b = pack_b_generic,
    .kernel = kernel_generic,
    .dot_nt = dot_nt_generic,
    .axpy_nn = NULL,
};

const nb_gemm_impl *nb_gemm_impl_generic(void) { return &g_generic; }
