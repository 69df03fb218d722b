/* backends/cpu/gemm.h - nabla's CPU single-precision GEMM (internal to the library).
 *
 * Row-major, BLIS/GotoBLAS style: op(A) and op(B) are packed into cache-sized panels
 * (per-thread buffers that only grow), then an AVX-512, AVX2+FMA or portable C micro-kernel
 * chosen at run time computes register tiles of C. OpenMP splits C into one rectangle per
 * thread. Every element of C is summed in a fixed order (K blocks in order, k ascending inside
 * a block) that does not depend on the thread count, so results are bit-identical run to run.
 *
 * Bad arguments (negative sizes, NULL pointers, leading dimensions shorter than a row) never
 * crash: the call does nothing to C and leaves a message in nb_cpu_gemm_last_error(). */
#ifndef NB_BACKENDS_CPU_GEMM_H
#define NB_BACKENDS_CPU_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major with row strides lda/ldb/ldc;
 * op(X) = X^T when trans_x is non-zero. beta == 0 means C is not read (may hold NaN).
 * On bad arguments C is left untouched and nb_cpu_gemm_last_error() says why. */
void nb_cpu_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* `batch` independent GEMMs; matrix i uses A + i*stride_a, B + i*stride_b, C + i*stride_c
 * (element strides; 0 broadcasts one A or B). Parallelises across the batch when the matrices
 * are small. On bad arguments nothing is written and nb_cpu_gemm_last_error() says why. */
void nb_cpu_sgemm_batched(int trans_a, int trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, int64_t stride_a, const float *B,
                          int64_t ldb, int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c);

/* As nb_cpu_sgemm, computed on the calling thread alone (no OpenMP region is opened): for
 * kernels that already run one task per thread, such as attention's per-head blocks. Same
 * results, bit for bit, as nb_cpu_sgemm. Returns 0, or -1 on bad arguments or when a packing
 * buffer could not be allocated (then C holds the unblocked loop's result, or is untouched on
 * bad arguments); nb_cpu_gemm_last_error() says why. */
int nb_cpu_sgemm_serial(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc);

/* For tests: forces an ISA path ("avx512", "avx2", "generic"), or NULL / "auto" for the best
 * one. Returns 0 on success, -1 if that path is unknown or this CPU lacks it (path unchanged). */
int nb_cpu_gemm_force_isa(const char *isa);

/* Turns cooperative packing on (non-zero) or off (0, the default): threads that split C's
 * columns (or rows) pack the shared op(A) (or op(B)) block once, each a share, instead of a copy
 * each. Results are bit-identical either way. Returns the previous setting. Off because it
 * measured slower on the 2-core VM (docs/performance.md); for tests and benchmarks. */
int nb_cpu_gemm_set_shared_packing(int on);

/* Turns run-time balancing on (non-zero, the default) or off (0): a large GEMM
 * split one way gives each thread a large piece, then small pieces from a shared counter, so a
 * thread slowed down by another process does not hold the others back (+13-17% on the fused
 * loss's GEMMs with a 30% load on one of two cores; within +-2% on a quiet machine). Results
 * are bit-identical either way. Returns the previous setting; for tests and benchmarks. */
int nb_cpu_gemm_set_balancing(int on);

/* Name of the path in use ("avx512", "avx2" or "generic"); a static string. */
const char *nb_cpu_gemm_isa(void);

/* This thread's last GEMM error message ("file:line: what"), or "" when the last call on this
 * thread succeeded. The string is owned by the library (thread-local storage). */
const char *nb_cpu_gemm_last_error(void);

/* Frees the cached packing buffers (for tests and benchmarks; the library never calls it). Must
 * not run while another thread is inside a GEMM. Later GEMM calls simply allocate again. */
void nb_cpu_gemm_release(void);

/* Bytes currently held by the packing-buffer cache, and how many times the cache has asked
 * the system for memory since start-up (for tests that check a loop allocates nothing). */
uint64_t nb_cpu_gemm_cache_bytes(void);
uint64_t nb_cpu_gemm_cache_allocs(void);

#ifdef __cplusplus
}
#endif
#endif
