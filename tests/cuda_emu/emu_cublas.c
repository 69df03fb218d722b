/* tests/cuda_emu/emu_cublas.c - the CUDA emulator's cuBLAS (see emu_driver.c): handles,
 * and strided-batched SGEMM as a plain loop, each operand checked to lie inside one device
 * allocation. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/cuda_emu/emu_internal.h"

/* ---- cuBLAS: strided-batched SGEMM ------------------------------------------------------------ */

typedef struct {
    int math_mode;
} blas_handle;

EXPORT int cublasCreate_v2(blas_handle **h) {
    if (!h) return 7;
    *h = calloc(1, sizeof **h);
    return *h ? 0 : 3;
}
EXPORT int cublasDestroy_v2(blas_handle *h) {
    free(h);
    return 0;
}
EXPORT int cublasSetStream_v2(blas_handle *h, void *s) {
    (void)s;
    return h ? 0 : 1;
}
EXPORT int cublasSetMathMode(blas_handle *h, int mode) {
    if (!h) return 1;
    h->math_mode = mode;
    return 0;
}
EXPORT const char *cublasGetStatusString(int st) {
    switch (st) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

/* Whether the column-major rows x cols matrices at p (leading dimension ld, batch stride
 * stride, batch of them) lie inside one allocation. */
static int operand_ok(const char *what, const float *p, long long rows, long long cols, long long ld,
                      long long stride, int batch) {
    if (rows == 0 || cols == 0) return 1;
    long long last = (rows - 1) + (cols - 1) * ld + (long long)(batch - 1) * stride;
    if (stride < 0 || !find((CUdeviceptr)(uintptr_t)p, (size_t)(last + 1) * 4)) {
        bad_range(what, (CUdeviceptr)(uintptr_t)p, (size_t)(last + 1) * 4);
        return 0;
    }
    return 1;
}

EXPORT int cublasSgemmStridedBatched(blas_handle *h, int ta, int tb, int m, int n, int k, const float *alpha,
                                     const float *A, int lda, long long sA, const float *B, int ldb,
                                     long long sB, const float *beta, float *C, int ldc, long long sC,
                                     int batch) {
    if (!h) return 1;
    if (ta < 0 || ta > 2 || tb < 0 || tb > 2 || m < 0 || n < 0 || k < 0 || batch < 0 || !alpha || !beta ||
        lda < (ta ? (k > 1 ? k : 1) : (m > 1 ? m : 1)) || ldb < (tb ? (n > 1 ? n : 1) : (k > 1 ? k : 1)) ||
        ldc < (m > 1 ? m : 1))
        return 7;
    if (m == 0 || n == 0 || batch == 0) return 0;
    pthread_mutex_lock(&mu);
    stats.gemms++;
    int ok = !sticky && operand_ok("cublasSgemm C", C, m, n, ldc, sC, batch) &&
             (k == 0 || (operand_ok("cublasSgemm A", A, ta ? k : m, ta ? m : k, lda, sA, batch) &&
                         operand_ok("cublasSgemm B", B, tb ? n : k, tb ? k : n, ldb, sB, batch)));
    pthread_mutex_unlock(&mu);
    if (!ok) return 13;
    /* k = 0 writes nothing: real cuBLAS has left C unwritten there (PyTorch issue 31421, for
     * this very call; PyTorch and ONNX Runtime never call cuBLAS with k = 0), so a backend that
     * counts on C = beta * C for k = 0 reads the NaN-poisoned memory here that it would read
     * as garbage on a GPU */
    if (k == 0) return 0;
    const float al = *alpha, be = *beta;
    /* op(A) is packed column-major (m x k) so that the inner loop runs over contiguous memory */
    float *acc = malloc((size_t)m * sizeof *acc), *pa = malloc((size_t)m * (size_t)(k ? k : 1) * sizeof *pa);
    if (!acc || !pa) {
        free(acc);
        free(pa);
        return 3;
    }
    for (int b = 0; b < batch; b++) {
        const float *a = A + (long long)b * sA, *bb = B + (long long)b * sB;
        float *c = C + (long long)b * sC;
        for (int l = 0; l < k; l++)
            for (int i = 0; i < m; i++)
                pa[i + (size_t)l * m] = ta ? a[l + (long long)i * lda] : a[i + (long long)l * lda];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++)
                acc[i] = 0.0f;
            for (int l = 0; l < k; l++) {
                const float bv = tb ? bb[j + (long long)l * ldb] : bb[l + (long long)j * ldb];
                const float *col = pa + (size_t)l * m;
                for (int i = 0; i < m; i++)
                    acc[i] += col[i] * bv;
            }
            float *cj = c + (long long)j * ldc;
            for (int i = 0; i < m; i++)
                cj[i] = be == 0.0f ? al * acc[i] : al * acc[i] + be * cj[i];
        }
    }
    free(pa);
    free(acc);
    return 0;
}
