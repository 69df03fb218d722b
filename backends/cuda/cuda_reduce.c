/* backends/cuda/cuda_reduce.c - reductions (sum/max/min over any axes), argmax, cumsum,
 * and matmul through cuBLAS.
 *
 * Reductions are deterministic: every output element is reduced by a fixed
 * tree (one block) or a fixed sequence (one thread), optionally split into a
 * fixed number of parts that a second kernel combines in order; no atomics. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"
#include "backends/matmul_layout.h"

typedef nb_cu_rgeom rgeom;

/* Kept dims (size > 1, not reduced) and reduced dims, each merged where the
 * strides allow; reduced[i] marks the reduced dims of a. The caller sets K
 * and R (empty dims are skipped here like size-1 ones). */
static void rgeom_init(rgeom *g, const nb_tensor *out, const nb_tensor *a, const bool *reduced) {
    memset(g, 0, sizeof *g);
    g->K = g->R = 1;
    for (int i = 0; i < a->ndim; i++) {
        long long s = a->shape[i];
        if (s == 1) continue;
        if (reduced[i]) {
            int n = g->nr;
            if (n > 0 && g->ra[n - 1] == a->stride[i] * s) {
                g->rs[n - 1] *= s;
                g->ra[n - 1] = a->stride[i];
            } else {
                g->rs[n] = s;
                g->ra[n] = a->stride[i];
                g->nr++;
            }
            g->R *= s;
        } else {
            int n = g->nk;
            if (n > 0 && g->ka[n - 1] == a->stride[i] * s && g->ko[n - 1] == out->stride[i] * s) {
                g->ks[n - 1] *= s;
                g->ka[n - 1] = a->stride[i];
                g->ko[n - 1] = out->stride[i];
            } else {
                g->ks[n] = s;
                g->ka[n] = a->stride[i];
                g->ko[n] = out->stride[i];
                g->nk++;
            }
            g->K *= s;
        }
    }
}

static long long cdiv(long long a, long long b) { return (a + b - 1) / b; }

int nb_cuda_reduce(nb_redop op, nb_tensor *out, const nb_tensor *a) {
    if (a->dtype != NB_F32 || out->dtype != NB_F32)
        return nb_set_error("reduce: dtype %s not supported on cuda", nb_dtype_name(a->dtype)), -1;
    bool red[NB_MAX_DIMS] = {false};
    for (int i = 0; i < a->ndim; i++)
        red[i] = out->shape[i] == 1 && a->shape[i] != 1;
    rgeom g;
    rgeom_init(&g, out, a, red);
    long long K = 1, R = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (red[i])
            R *= a->shape[i];
        else
            K *= a->shape[i];
    }
    g.K = K;
    g.R = R;
    if (K == 0) return 0;
    int iop = (int)op;
    if (R == 0) /* an empty sum or product (max/min are refused by the op) */
        return nb_cuda_fill(out, op == NB_RED_PROD ? 1.0 : 0.0);
    if (K > INT_MAX) return nb_set_error("reduce (cuda): %lld outputs is too many", K), -1;
    const long long sm = nb_cu.sm_count;
    bool inner = g.nr >= 1 && g.ra[g.nr - 1] == 1;
    long long P, chunk;
    if (inner) {
        P = 1;
        if (K < 2 * sm && R > 8192) P = cdiv(4 * sm, K) < cdiv(R, 4096) ? cdiv(4 * sm, K) : cdiv(R, 4096);
        if (P > 1024) P = 1024;
    } else {
        long long want = cdiv(sm * 2048, K), most = cdiv(R, 32);
        P = want < most ? want : most;
        if (P > 1024) P = 1024;
    }
    if (P < 1) P = 1;
    chunk = cdiv(R, P);
    P = cdiv(R, chunk);
    int direct = P == 1;
    CUdeviceptr o = nb_cu_ptr(out), part = 0, src = nb_cu_ptr(a);
    if (!direct) { /* the partials, in double */
        void *p = nb_cu_scratch(0, (size_t)(K * P) * sizeof(double));
        if (!p) return -1;
        part = (CUdeviceptr)(uintptr_t)p;
    }
    int rc;
    if (inner) {
        void *args[] = {&o, &part, &src, &g, &iop, &chunk, &direct};
        rc = nb_cu_launch2(nb_cu_function(NB_CU_MOD_REDUCE, "red_block"), (unsigned)K, (unsigned)P, 256, 0,
                           args);
    } else {
        void *args[] = {&o, &part, &src, &g, &iop, &chunk, &P, &direct};
        rc = nb_cu_launch(nb_cu_function(NB_CU_MOD_REDUCE, "red_thread"), (unsigned)cdiv(K * P, 256), 256, 0,
                          args);
    }
    if (rc || direct) return rc;
    void *args[] = {&o, &part, &g, &iop, &P};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_REDUCE, "red_final"), (unsigned)cdiv(K, 256), 256, 0, args);
}

int nb_cuda_argmax(nb_tensor *out, const nb_tensor *a, int axis) {
    if (a->dtype != NB_F32 || out->dtype != NB_I32 || axis < 0 || axis >= a->ndim)
        return nb_set_error("argmax (cuda): bad operands"), -1;
    bool red[NB_MAX_DIMS] = {false};
    red[axis] = true;
    rgeom g;
    rgeom_init(&g, out, a, red);
    long long K = nb_numel(out), n = a->shape[axis], st = a->stride[axis];
    g.K = K;
    g.R = n;
    if (K == 0 || n == 0) return 0;
    if (K > INT_MAX) return nb_set_error("argmax (cuda): %lld outputs is too many", K), -1;
    CUdeviceptr o = nb_cu_ptr(out), s = nb_cu_ptr(a);
    void *args[] = {&o, &s, &g, &n, &st};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_REDUCE, "argmax"), (unsigned)K, n <= 64 ? 32 : 256, 0, args);
}

/* ---- matmul (cuBLAS) ------------------------------------------------------------------------------ */

#define SHP(t, buf) nb_shape_str((t), (buf), sizeof(buf))

int nb_cuda_matmul(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta) {
    char x[96], y[96];
    nb_mat_plan p;
    if (nb_mat_plan_make("cuda", out, a, b, &p)) return -1;
    if (p.batch == 0 || p.M == 0 || p.N == 0) return 0;
    if (p.K == 0) /* out = beta * out here: cuBLAS has left C unwritten for k = 0 */
        return beta == 0.0f   ? nb_cuda_fill(out, 0.0)
               : beta == 1.0f ? 0
                              : nb_cuda_unary(NB_UN_MUL_S, out, out, beta, 0.0f);
    CUdeviceptr A = nb_cu_ptr(p.swapped ? b : a), Bp = nb_cu_ptr(p.swapped ? a : b), C = nb_cu_ptr(out);
    int ta = p.trans_x, tb = p.trans_y;
    long long B = p.batch, M = p.M, N = p.N, K = p.K, lda = p.ldx, ldb = p.ldy, ldc = p.ldc;
    long long sa = p.sx, sb = p.sy, sc = p.sc;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX ||
        B > INT_MAX)
        return nb_set_error("matmul (cuda): %s @ %s is too large for cuBLAS (32-bit sizes)", SHP(a, x),
                            SHP(b, y)),
               -1;
    if (nb_cu_blas_ready()) return -1;
    int tf32 = nb_cu_tf32_allowed();
    if (tf32 != nb_cu.blas_tf32) {
        int ms = nb_cu.blas.set_math_mode(nb_cu.blas_handle, tf32 ? 3 : 0); /* CUBLAS_TF32_TENSOR_OP_MATH */
        if (ms != 0)
            return nb_set_error("matmul (cuda): cublasSetMathMode(%s) failed (status %d)",
                                tf32 ? "TF32" : "default", ms),
                   -1;
        nb_cu.blas_tf32 = tf32;
    }
    /* cuBLAS is column-major: C^T[N,M] = op(B)^T-view @ op(A)^T-view */
    const float alpha = 1.0f;
    int st = nb_cu.blas.sgemm_strided_batched(nb_cu.blas_handle, tb ? 1 : 0, ta ? 1 : 0, (int)N, (int)M,
                                              (int)K, &alpha, (const float *)(uintptr_t)Bp, (int)ldb, sb,
                                              (const float *)(uintptr_t)A, (int)lda, sa, &beta,
                                              (float *)(uintptr_t)C, (int)ldc, sc, (int)B);
    if (st != 0) {
        const char *s = nb_cu.blas.status_string ? nb_cu.blas.status_string(st) : "";
        return nb_set_error("matmul (cuda): cublasSgemmStridedBatched failed for %s @ %s: %s "
                            "(status %d)",
                            SHP(a, x), SHP(b, y), s, st),
               -1;
    }
    return 0;
}

static int scan(const char *op, nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    if (a->dtype != NB_F32 || out->dtype != NB_F32 || !nb_same_shape(out, a) || dim < 0 || dim >= a->ndim)
        return nb_set_error("%s (cuda): bad operands", op), -1;
    long long n = a->shape[dim], so = out->stride[dim], sa = a->stride[dim];
    int rev = reverse;
    if (n == 0) return 0;
    nb_tensor o1 = *out, a1 = *a; /* the lines' first elements */
    o1.shape[dim] = a1.shape[dim] = 1;
    const nb_tensor *t[2] = {&o1, &a1};
    void *extra[4] = {&n, &so, &sa, &rev};
    return nb_cu_elementwise(NB_CU_MOD_REDUCE, op, 2, t, extra, 4);
}

int nb_cuda_cumsum(nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    return scan("cumsum", out, a, dim, reverse);
}

int nb_cuda_cumprod(nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    return scan("cumprod", out, a, dim, reverse);
}

int nb_cuda_logcumsumexp(nb_tensor *out, const nb_tensor *a, int dim) {
    return scan("logcumsumexp", out, a, dim, false);
}

int nb_cuda_cummax(nb_tensor *out, nb_tensor *idx, const nb_tensor *a, int dim, bool min) {
    if (a->dtype != NB_F32 || out->dtype != NB_F32 || idx->dtype != NB_I32 || !nb_same_shape(out, a) ||
        !nb_same_shape(idx, a) || dim < 0 || dim >= a->ndim)
        return nb_set_error("%s (cuda): bad operands", min ? "cummin" : "cummax"), -1;
    long long n = a->shape[dim], so = out->stride[dim], si = idx->stride[dim], sa = a->stride[dim];
    int mn = min;
    if (n == 0) return 0;
    nb_tensor o1 = *out, i1 = *idx, a1 = *a; /* the lines' first elements */
    o1.shape[dim] = i1.shape[dim] = a1.shape[dim] = 1;
    const nb_tensor *t[3] = {&o1, &i1, &a1};
    void *extra[5] = {&n, &so, &si, &sa, &mn};
    return nb_cu_elementwise(NB_CU_MOD_REDUCE, "cummax", 3, t, extra, 5);
}
