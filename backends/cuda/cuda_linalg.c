/* backends/cuda/cuda_linalg.c - the linear-algebra kernels on the GPU (sources in
 * cuda_src_linalg.c): LU and Cholesky with one block per matrix, the solves with one thread per
 * right-hand-side column, the eigendecomposition and QR one thread per matrix. Operands are contiguous f32
 * batches, as backends/backend.h says. */
#include "backends/cuda/cuda_internal.h"

/* threads per block for a factorisation of n x n: a warp for small matrices, at most 128 */
static unsigned fact_block(long long n) { return n <= 32 ? 32 : n <= 64 ? 64 : 128; }
/* Scratch in double stays under this: fewer blocks (or threads), each taking more matrices in
 * turn, rather than gigabytes for a large batch of large matrices. */
#define SCRATCH_BUDGET ((long long)256 << 20)

/* blocks for B matrices of `per` doubles of scratch each, a block taking B / grid of them */
static unsigned fact_grid(long long B, long long per) {
    long long g = B < 4096 ? B : 4096, fit = SCRATCH_BUDGET / (per * (long long)sizeof(double));
    if (g > fit) g = fit;
    return (unsigned)(g < 1 ? 1 : g);
}

/* blocks of `block` threads, a thread per matrix, for B matrices of `per` doubles of scratch */
static unsigned thread_grid(long long B, long long per, unsigned block) {
    long long g = nb_cu_blocks(B, block), fit = SCRATCH_BUDGET / (per * (long long)sizeof(double) * block);
    if (g > fit) g = fit;
    return (unsigned)(g < 1 ? 1 : g);
}

int nb_cuda_lu(nb_tensor *a, nb_tensor *piv, nb_tensor *info) {
    if (!nb_la_operand(a, NB_F32, 3) || a->shape[1] != a->shape[2] || !nb_la_operand(piv, NB_I32, 2) ||
        !nb_la_operand(info, NB_I32, 1) || piv->shape[0] != a->shape[0] || piv->shape[1] != a->shape[1] ||
        info->shape[0] != a->shape[0])
        return nb_set_error("lu (cuda): bad operands"), -1;
    long long B = a->shape[0], n = a->shape[1];
    if (B == 0) return 0;
    const unsigned grid = fact_grid(B, n * n + n + 1);
    void *work = nb_cu_scratch(0, (size_t)grid * (size_t)(n * n + n + 1) * sizeof(double));
    if (!work) return -1;
    CUdeviceptr ap = nb_cu_ptr(a), pp = nb_cu_ptr(piv), ip = nb_cu_ptr(info),
                wp = (CUdeviceptr)(uintptr_t)work;
    void *args[] = {&ap, &pp, &ip, &B, &n, &wp};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "lu_fact"), grid, fact_block(n), 0, args);
}

int nb_cuda_cholesky(nb_tensor *a, nb_tensor *info) {
    if (!nb_la_operand(a, NB_F32, 3) || a->shape[1] != a->shape[2] || !nb_la_operand(info, NB_I32, 1) ||
        info->shape[0] != a->shape[0])
        return nb_set_error("cholesky (cuda): bad operands"), -1;
    long long B = a->shape[0], n = a->shape[1];
    if (B == 0) return 0;
    const unsigned grid = fact_grid(B, n * n + 1);
    void *work = nb_cu_scratch(0, (size_t)grid * (size_t)(n * n + 1) * sizeof(double));
    if (!work) return -1;
    CUdeviceptr ap = nb_cu_ptr(a), ip = nb_cu_ptr(info), wp = (CUdeviceptr)(uintptr_t)work;
    void *args[] = {&ap, &ip, &B, &n, &wp};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "chol_fact"), grid, fact_block(n), 0, args);
}

/* b [B,n,k] and t [B,n,n] contiguous f32 */
static bool rhs_ok(const nb_tensor *b, const nb_tensor *t) {
    return nb_la_operand(b, NB_F32, 3) && nb_la_operand(t, NB_F32, 3) && t->shape[1] == t->shape[2] &&
           b->shape[0] == t->shape[0] && b->shape[1] == t->shape[1];
}

int nb_cuda_trisolve(nb_tensor *b, const nb_tensor *t, bool upper, bool trans, bool unit) {
    if (!rhs_ok(b, t)) return nb_set_error("trisolve (cuda): bad operands"), -1;
    long long B = b->shape[0], n = b->shape[1], k = b->shape[2];
    int up = upper, tr = trans, un = unit;
    if (B * k == 0 || n == 0) return 0;
    CUdeviceptr xp = nb_cu_ptr(b), tp = nb_cu_ptr(t);
    void *args[] = {&xp, &tp, &B, &n, &k, &up, &tr, &un};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "tri_solve"), nb_cu_blocks(B * k, 128), 128, 0,
                        args);
}

int nb_cuda_lu_solve(nb_tensor *b, const nb_tensor *lu, const nb_tensor *piv, bool trans) {
    if (!rhs_ok(b, lu) || !nb_la_operand(piv, NB_I32, 2) || piv->shape[0] != b->shape[0] ||
        piv->shape[1] != b->shape[1])
        return nb_set_error("lu_solve (cuda): bad operands"), -1;
    long long B = b->shape[0], n = b->shape[1], k = b->shape[2];
    int tr = trans;
    if (B * k == 0 || n == 0) return 0;
    CUdeviceptr xp = nb_cu_ptr(b), lp = nb_cu_ptr(lu), pp = nb_cu_ptr(piv);
    void *args[] = {&xp, &lp, &pp, &B, &n, &k, &tr};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "lu_solve"), nb_cu_blocks(B * k, 128), 128, 0, args);
}

/* one thread per matrix for the serial decompositions: 64-thread blocks */
int nb_cuda_eigh(nb_tensor *w, nb_tensor *v, const nb_tensor *a) {
    if (!nb_la_operand(a, NB_F32, 3) || a->shape[1] != a->shape[2] || !nb_la_operand(w, NB_F32, 2) ||
        (v && (!nb_la_operand(v, NB_F32, 3) || !nb_same_shape(v, a))) || w->shape[0] != a->shape[0] ||
        w->shape[1] != a->shape[1])
        return nb_set_error("eigh (cuda): bad operands"), -1;
    long long B = a->shape[0], n = a->shape[1];
    if (B == 0 || n == 0) return 0;
    const long long per_t = 2 * n * n + 4 * n; /* the scratch is per working thread */
    const unsigned grid = thread_grid(B, per_t, 64);
    const long long nt = B < (long long)grid * 64 ? B : (long long)grid * 64;
    void *work = nb_cu_scratch(0, (size_t)nt * (size_t)per_t * sizeof(double));
    if (!work) return -1;
    CUdeviceptr ap = nb_cu_ptr(a), wp = nb_cu_ptr(w), vp = v ? nb_cu_ptr(v) : 0,
                sp = (CUdeviceptr)(uintptr_t)work;
    void *args[] = {&ap, &wp, &vp, &B, &n, &sp};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "eigh_sym"), grid, 64, 0, args);
}

int nb_cuda_qr(nb_tensor *q, nb_tensor *r, const nb_tensor *a) {
    if (!nb_la_operand(a, NB_F32, 3) || !nb_la_operand(r, NB_F32, 3) || (q && !nb_la_operand(q, NB_F32, 3)) ||
        r->shape[0] != a->shape[0] || r->shape[2] != a->shape[2] || r->shape[1] > a->shape[1] ||
        (q && (q->shape[0] != a->shape[0] || q->shape[1] != a->shape[1] || q->shape[2] > a->shape[1])))
        return nb_set_error("qr (cuda): bad operands"), -1;
    long long B = a->shape[0], m = a->shape[1], n = a->shape[2], kr = r->shape[1], kq = q ? q->shape[2] : 0;
    const long long per = m * n + (m < n ? m : n) + m * kq + (n > kq ? n : kq);
    if (B == 0 || nb_numel(r) + (q ? nb_numel(q) : 0) == 0) return 0;
    const long long per_t = per ? per : 1; /* the scratch is per working thread */
    const unsigned grid = thread_grid(B, per_t, 64);
    const long long nt = B < (long long)grid * 64 ? B : (long long)grid * 64;
    void *work = nb_cu_scratch(0, (size_t)nt * (size_t)per_t * sizeof(double));
    if (!work) return -1;
    CUdeviceptr ap = nb_cu_ptr(a), qp = q ? nb_cu_ptr(q) : 0, rp = nb_cu_ptr(r),
                sp = (CUdeviceptr)(uintptr_t)work;
    void *args[] = {&ap, &qp, &rp, &B, &m, &n, &kq, &kr, &sp};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "qr_householder"), grid, 64, 0, args);
}

int nb_cuda_svd(nb_tensor *s, nb_tensor *u, nb_tensor *vh, const nb_tensor *a) {
    if (!nb_la_operand(a, NB_F32, 3) || !nb_la_operand(s, NB_F32, 2) || (!u) != (!vh))
        return nb_set_error("svd (cuda): bad operands"), -1;
    long long B = a->shape[0], m = a->shape[1], n = a->shape[2];
    const long long k = m < n ? m : n, r = m < n ? n : m;
    if (s->shape[0] != B || s->shape[1] != k ||
        (u && (!nb_la_operand(u, NB_F32, 3) || !nb_la_operand(vh, NB_F32, 3) || u->shape[0] != B ||
               u->shape[1] != m || u->shape[2] != k || vh->shape[0] != B || vh->shape[1] != k ||
               vh->shape[2] != n)))
        return nb_set_error("svd (cuda): bad operands"), -1;
    if (B == 0 || k == 0) return 0;
    const long long per_t = r * k + k * k + r + 4 * k; /* the scratch is per working thread */
    const unsigned grid = thread_grid(B, per_t, 64);
    const long long nt = B < (long long)grid * 64 ? B : (long long)grid * 64;
    void *work = nb_cu_scratch(0, (size_t)nt * (size_t)per_t * sizeof(double));
    if (!work) return -1;
    CUdeviceptr ap = nb_cu_ptr(a), sp = nb_cu_ptr(s), up = u ? nb_cu_ptr(u) : 0, vp = vh ? nb_cu_ptr(vh) : 0,
                wp = (CUdeviceptr)(uintptr_t)work;
    void *args[] = {&ap, &sp, &up, &vp, &B, &m, &n, &wp};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_LINALG, "svd_serial"), grid, 64, 0, args);
}
