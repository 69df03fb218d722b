/* backends/cpu/gemm_internal.h - the contract between the GEMM driver (gemm.c) and its
 * per-ISA packing routines and micro-kernels (gemm_generic.c, gemm_avx2.c, gemm_avx512.c). */
#ifndef NB_BACKENDS_CPU_GEMM_INTERNAL_H
#define NB_BACKENDS_CPU_GEMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Packs rows [0, m) x columns [0, k) of op(X) into ceil(m/mr) micro-panels of k*mr floats
 * (column p of a panel is mr consecutive floats), zero-padding the rows past m. `x` points at
 * op(X)(0, 0): X + i0*ldx + p0 when not transposed, X + p0*ldx + i0 when transposed. */
typedef void (*nb_gemm_pack_a_fn)(int trans, const float *x, int64_t ldx, int64_t m, int64_t k, float *dst);

/* Packs rows [0, k) x columns [0, n) of op(X) into ceil(n/nr) micro-panels of k*nr floats
 * (row p of a panel is nr consecutive floats), zero-padding the columns past n. `x` points at
 * op(X)(0, 0). */
typedef void (*nb_gemm_pack_b_fn)(int trans, const float *x, int64_t ldx, int64_t k, int64_t n, float *dst);

/* C[0:mr, 0:nr] = alpha * (a-panel x b-panel) + beta * C (beta == 0: C not read), where
 * mr <= MR and nr <= NR say how much of the full MR x NR register tile is really in C. Row p of
 * the b-panel is b + p*ldb: ldb == NR for a packed panel, or the row stride of an unpacked
 * op(B) = B whose NR columns all exist. */
typedef void (*nb_gemm_kernel_fn)(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                                  int64_t ldc, int mr, int nr, float alpha, float beta);

/* As nb_gemm_kernel_fn, with op(A) = A read in place: row r of the tile at a + r*lda (only rows
 * r < mr are read). The same operations in the same order as the packed kernel. */
typedef void (*nb_gemm_kernel_ad_fn)(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                                     float *c, int64_t ldc, int mr, int nr, float alpha, float beta);

/* For a few rows (m <= NB_GEMM_DOT_MAX_M) times op(B) = B^T: C[i, j] = alpha * dot(a row i,
 * b row j) + beta * C[i, j] over k, rows of a and b contiguous (strides lda, ldb). */
typedef void (*nb_gemm_dot_fn)(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                               int64_t ldb, float *c, int64_t ldc, float alpha, float beta);
#define NB_GEMM_DOT_MAX_M 4

/* For a few rows (m <= NB_GEMM_DOT_MAX_M) times op(B) = B: C[i, :n] = beta * C[i, :n] +
 * sum over p of (alpha * opA(i, p)) * b[p, :n], with opA(i, p) = a[i*sai + p*sap] and rows of b
 * contiguous (stride ldb). Streams B once, row by row. */
typedef void (*nb_gemm_axpy_fn)(int64_t m, int64_t n, int64_t k, const float *a, int64_t sai, int64_t sap,
                                const float *b, int64_t ldb, float *c, int64_t ldc, float alpha, float beta);

/* One ISA path: register tile, cache blocking, and its routines. */
typedef struct nb_gemm_impl {
    const char *name;
    int mr, nr; /* register tile of C: mr rows x nr columns */
    int64_t kc; /* K block: depth of packed panels */
    int64_t nc; /* columns of the packed B block kept in L2 */
    int64_t mc; /* rows of the packed A block kept in L3 */
    nb_gemm_pack_a_fn pack_a;
    nb_gemm_pack_b_fn pack_b;
    nb_gemm_kernel_fn kernel;
    nb_gemm_kernel_ad_fn kernel_ad; /* NULL: op(A) is always packed */
    nb_gemm_dot_fn dot_nt;          /* NULL: small-M products with B^T use the packed path */
    nb_gemm_axpy_fn axpy_nn;        /* NULL: small-M products with B use the packed path */
} nb_gemm_impl;

/* A thread's packing buffers for one GEMM (gemm_ws.c): claimed from a shared list, grown to the
 * largest size asked for and kept, so steady-state loops allocate nothing. */
typedef struct nb_gemm_ws {
    struct nb_gemm_ws *next;
    int busy;
    float *a, *b;
    size_t acap, bcap; /* floats */
} nb_gemm_ws;

/* Claims n free workspaces (creating them as needed) in list order, so the same call sequence
 * always gets the same buffers; out[i] is NULL where memory ran out. */
void nb_gemm_ws_acquire(int n, nb_gemm_ws **out);
/* Gives the n workspaces back (NULL entries are skipped). */
void nb_gemm_ws_release(int n, nb_gemm_ws **ws);
/* Grows *buf to hold at least `need` floats (64-byte aligned); 0, or -1 when out of memory. */
int nb_gemm_ws_grow(float **buf, size_t *cap, size_t need);
/* Makes every workspace in ws[0..n) hold na + nb floats; one that cannot is released and set to
 * NULL. Returns -1 if any failed, else 0. */
int nb_gemm_ws_reserve(int n, nb_gemm_ws **ws, size_t na, size_t nb);

/* The paths; the avx ones return NULL when not compiled in (non-x86 compilers). */
const nb_gemm_impl *nb_gemm_impl_generic(void);
const nb_gemm_impl *nb_gemm_impl_avx2(void);
const nb_gemm_impl *nb_gemm_impl_avx512(void);

/* Portable packing for any mr / nr (used by the generic path and for odd cases). */
void nb_gemm_pack_a_ref(int mr, int trans, const float *x, int64_t ldx, int64_t m, int64_t k, float *dst);
void nb_gemm_pack_b_ref(int nr, int trans, const float *x, int64_t ldx, int64_t k, int64_t n, float *dst);

#endif
