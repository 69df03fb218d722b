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
/* The calling thread's own workspace (claimed on its first call, kept until the thread exits or
 * nb_cpu_gemm_release), for serial GEMMs run inside a parallel region: the same buffers every
 * call, so which thread runs which GEMM cannot make a later call grow one. NULL when out of
 * memory. Never released by the caller. */
nb_gemm_ws *nb_gemm_ws_mine(void);
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

/* ---- the driver's shared pieces (gemm.c: dispatch and threads; gemm_block.c: one thread's
 * blocked GEMM) ------------------------------------------------------------------------------ */

/* One GEMM's arguments, as nb_cpu_sgemm takes them. */
typedef struct gemm_args {
    int ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int64_t lda, ldb, ldc;
} gemm_args;

static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

/* Splits n into equal blocks of at most `blk`, rounded up to a multiple of `mult`. */
static inline int64_t even_block(int64_t n, int64_t blk, int64_t mult) {
    int64_t b = cdiv(n, cdiv(n, blk));
    return cdiv(b, mult) * mult;
}

/* Depth of the K blocks: depends only on K and the path, so every thread (and every thread
 * count) sums each element of C in the same order. K up to 4/3 of the path's kc stays one
 * block: C is then read and written once (beta == 1 accumulation with a small K, such as
 * dW += X^T dY over a 512-row chunk, costs no second pass over a large C). */
static inline int64_t k_block(const nb_gemm_impl *im, int64_t K) {
    if (K <= im->kc + im->kc / 3) return cdiv(K, 8) * 8;
    return even_block(K, im->kc, 8);
}

/* Buffer sizes (floats) that any rectangle of at most `rows` x `cols` needs: even_block(n, blk,
 * mult) never exceeds roundup(min(n, blk), mult). */
static inline size_t need_a(const nb_gemm_impl *im, const gemm_args *g, int64_t rows) {
    return (size_t)(cdiv(imin(rows, im->mc), im->mr) * im->mr * k_block(im, g->K));
}

static inline size_t need_b(const nb_gemm_impl *im, const gemm_args *g, int64_t cols) {
    return (size_t)(cdiv(imin(cols, im->nc), im->nr) * im->nr * k_block(im, g->K));
}

/* Addresses of op(A)(i, p) and op(B)(p, j). */
static inline const float *a_at(const gemm_args *g, int64_t i, int64_t p) {
    return g->ta ? g->A + p * g->lda + i : g->A + i * g->lda + p;
}

static inline const float *b_at(const gemm_args *g, int64_t p, int64_t j) {
    return g->tb ? g->B + j * g->ldb + p : g->B + p * g->ldb + j;
}

/* Rectangles at most this many rows high use op(B) = B in place, without packing it: each
 * B panel is used by few register tiles, and the copy costs more than the strided reads. */
#define DIRECT_B_MAX_M 192

/* Rows [i0, i1) x columns [j0, j1) of C on the calling thread with workspace w (grown by the
 * caller to need_a / need_b of the rectangle). */
void nb_gemm_rect(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws *w, int64_t i0, int64_t i1,
                  int64_t j0, int64_t j1);
/* One K block (depth kb from pc) of that rectangle; `apk` / `bpk`, when not NULL, hold op(A) rows
 * [i0, i1) / op(B) columns [j0, j1) of this K block already packed. The same values either way. */
void nb_gemm_rect_kblock(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws *w, int64_t i0, int64_t i1,
                         int64_t j0, int64_t j1, int64_t pc, int64_t kb, const float *apk, const float *bpk);
/* The plain triple loop over the rectangle: the last resort when a packing buffer cannot be
 * allocated. */
void nb_gemm_rect_naive(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
/* C = beta * C, for K == 0 or alpha == 0 (A and B are not read). */
void nb_gemm_scale_c(const gemm_args *g);

#endif
