/* backends/cuda/cuda_nn.c - launches of the fused neural-network kernels:
 * softmax / log-softmax, layer norm, cross-entropy fused with its softmax
 * (only the per-row log-sum-exp is kept; also forward and backward in one
 * in-place pass for the fused lm_head loss), and causal attention (flash style:
 * output and log-sum-exp forward, recomputed probabilities backward).
 * Row kernels take contiguous operands over the last dimension (the ops layer
 * makes them so); attention reads any [B,H,T,D] strides. Every cross-row
 * sum is a fixed tree or a fixed sequence of parts: no atomics on floats. */
#include <limits.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"

static long long cdiv(long long a, long long b) { return (a + b - 1) / b; }

/* Rows and columns of a contiguous tensor over its last dim; -1 when not contiguous. */
static int rows_cols(const char *op, const nb_tensor *t, long long *rows, long long *cols) {
    if (!nb_is_contiguous(t)) return nb_set_error("%s (cuda): operands must be contiguous", op), -1;
    long long c = t->ndim ? t->shape[t->ndim - 1] : 1;
    *cols = c;
    *rows = c ? nb_numel(t) / c : 0;
    if (*rows > INT_MAX) return nb_set_error("%s (cuda): %lld rows is too many", op, *rows), -1;
    return 0;
}

/* Threads per row block (a multiple of 32). */
static unsigned row_block(long long cols) { return cols <= 64 ? 32 : cols <= 512 ? 128 : 256; }

/* ---- softmax ----------------------------------------------------------------------------------------- */

int nb_cuda_softmax(nb_tensor *out, const nb_tensor *a, bool log) {
    long long rows, C;
    if (rows_cols("softmax", a, &rows, &C) || rows_cols("softmax", out, &rows, &C)) return -1;
    if (rows == 0 || C == 0) return 0;
    int lg = log;
    CUdeviceptr y = nb_cu_ptr(out), x = nb_cu_ptr(a);
    void *args[] = {&y, &x, &C, &lg};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "softmax_fwd"), (unsigned)rows, row_block(C), 0, args);
}

int nb_cuda_softmax_backward(nb_tensor *gin, const nb_tensor *gout, const nb_tensor *y, bool log) {
    long long rows, C;
    if (rows_cols("softmax backward", y, &rows, &C) || rows_cols("softmax backward", gout, &rows, &C) ||
        rows_cols("softmax backward", gin, &rows, &C))
        return -1;
    if (rows == 0 || C == 0) return 0;
    int lg = log;
    CUdeviceptr gi = nb_cu_ptr(gin), g = nb_cu_ptr(gout), yp = nb_cu_ptr(y);
    void *args[] = {&gi, &g, &yp, &C, &lg};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "softmax_bwd"), (unsigned)rows, row_block(C), 0, args);
}

/* ---- layer norm -------------------------------------------------------------------------------------- */

static CUdeviceptr ptr_or_0(const nb_tensor *t) { return t ? nb_cu_ptr(t) : 0; }

int nb_cuda_layer_norm(nb_tensor *y, nb_tensor *mean, nb_tensor *rstd, const nb_tensor *x, const nb_tensor *w,
                       const nb_tensor *b, float eps) {
    long long rows, C;
    if (rows_cols("layer_norm", x, &rows, &C) || rows_cols("layer_norm", y, &rows, &C)) return -1;
    if (rows == 0 || C == 0) return 0;
    float inv_n = 1.0f / (float)C;
    CUdeviceptr yp = nb_cu_ptr(y), mp = ptr_or_0(mean), rp = ptr_or_0(rstd), xp = nb_cu_ptr(x),
                wp = ptr_or_0(w), bp = ptr_or_0(b);
    void *args[] = {&yp, &mp, &rp, &xp, &wp, &bp, &C, &eps, &inv_n};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ln_fwd"), (unsigned)rows, row_block(C), 0, args);
}

int nb_cuda_layer_norm_backward(nb_tensor *dx, nb_tensor *dw, nb_tensor *db, const nb_tensor *dy,
                                const nb_tensor *x, const nb_tensor *mean, const nb_tensor *rstd,
                                const nb_tensor *w) {
    long long rows, C;
    if (rows_cols("layer_norm backward", x, &rows, &C) || rows_cols("layer_norm backward", dy, &rows, &C))
        return -1;
    if (C == 0) return 0;
    if (rows == 0) {
        if (dw && nb_cuda_fill(dw, 0.0)) return -1;
        if (db && nb_cuda_fill(db, 0.0)) return -1;
        return 0;
    }
    float inv_n = 1.0f / (float)C;
    CUdeviceptr dyp = nb_cu_ptr(dy), xp = nb_cu_ptr(x), mp = nb_cu_ptr(mean), rp = nb_cu_ptr(rstd);
    if (dx) {
        CUdeviceptr dxp = nb_cu_ptr(dx), wp = ptr_or_0(w);
        void *args[] = {&dxp, &dyp, &xp, &mp, &rp, &wp, &C, &inv_n};
        if (nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ln_bwd_dx"), (unsigned)rows, row_block(C), 0, args))
            return -1;
    }
    if (!dw && !db) return 0;
    long long P = cdiv((long long)nb_cu.sm_count * 1024, C), most = cdiv(rows, 16);
    if (P > most) P = most;
    if (P > 65535) P = 65535;
    if (P < 1) P = 1;
    long long chunk = cdiv(rows, P);
    P = cdiv(rows, chunk);
    char *part = nb_cu_scratch(0, (size_t)(2 * P * C) * sizeof(float));
    if (!part) return -1;
    CUdeviceptr pw = (CUdeviceptr)(uintptr_t)part, pb = pw + (CUdeviceptr)(P * C) * 4;
    void *a1[] = {&pw, &pb, &dyp, &xp, &mp, &rp, &rows, &C, &chunk};
    if (nb_cu_launch2(nb_cu_function(NB_CU_MOD_NN, "ln_bwd_part"), (unsigned)cdiv(C, 256), (unsigned)P, 256,
                      0, a1))
        return -1;
    CUdeviceptr dwp = ptr_or_0(dw), dbp = ptr_or_0(db);
    void *a2[] = {&dwp, &dbp, &pw, &pb, &C, &P};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ln_bwd_final"), (unsigned)cdiv(C, 256), 256, 0, a2);
}

/* ---- cross-entropy ------------------------------------------------------------------------------------ */

/* Checks the shapes, then takes scratch for the "first bad row" flag (set to INT_MAX) and the
 * per-row losses. 0, or -1 with error. */
static int ce_begin(const char *op, const nb_tensor *logits, const nb_tensor *targets, const nb_tensor *lse,
                    long long *rows, long long *C, CUdeviceptr *bad, CUdeviceptr *rowloss) {
    if (rows_cols(op, logits, rows, C)) return -1;
    if (targets->dtype != NB_I32 || !nb_is_contiguous(targets) || nb_numel(targets) != *rows ||
        !nb_is_contiguous(lse) || nb_numel(lse) != 2 * *rows)
        return nb_set_error("%s (cuda): bad targets, or lse not [%lld, 2]", op, *rows), -1;
    if (*rows == 0) return 0;
    char *s = nb_cu_scratch(2, (size_t)*rows * sizeof(float) + 64);
    if (!s) return -1;
    *bad = (CUdeviceptr)(uintptr_t)s, *rowloss = *bad + 64;
    CUresult rc = nb_cu.cu.cuMemsetD32(*bad, 0x7fffffffu, 1);
    return rc != NB_CU_SUCCESS ? nb_cu_fail(op, rc) : 0;
}

/* Reports a target out of range as the CPU does (reading the flag waits for the kernels). */
static int ce_end(const char *op, CUdeviceptr bad, CUdeviceptr tp, long long C, int ignore_index) {
    int32_t first = INT_MAX, tv = 0;
    CUresult rc = nb_cu.cu.cuMemcpyDtoH(&first, bad, 4);
    if (rc != NB_CU_SUCCESS) return nb_cu_fail(op, rc);
    if (first == INT_MAX) return 0;
    nb_cu.cu.cuMemcpyDtoH(&tv, tp + (CUdeviceptr)first * 4, 4);
    return nb_set_error("cross_entropy: target %d at row %d is out of range [0, %lld) (and is "
                        "not ignore_index %d)",
                        (int)tv, (int)first, C, ignore_index),
           -1;
}

int nb_cuda_cross_entropy(nb_tensor *loss, nb_tensor *lse, const nb_tensor *logits, const nb_tensor *targets,
                          int ignore_index) {
    long long rows, C;
    CUdeviceptr bad = 0, rowloss = 0, lp = nb_cu_ptr(loss), tp = nb_cu_ptr(targets);
    if (ce_begin("cross_entropy", logits, targets, lse, &rows, &C, &bad, &rowloss)) return -1;
    if (rows == 0) return nb_cuda_fill(loss, 0.0);
    CUdeviceptr xp = nb_cu_ptr(logits), lsep = nb_cu_ptr(lse);
    void *a1[] = {&rowloss, &lsep, &bad, &xp, &tp, &C, &ignore_index};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ce_fwd"), (unsigned)rows, row_block(C), 0, a1)) return -1;
    CUdeviceptr none = 0;
    void *a2[] = {&lp, &none, &none, &rowloss, &tp, &rows, &ignore_index};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ce_final"), 1, 1024, 0, a2)) return -1;
    return ce_end("cross_entropy", bad, tp, C, ignore_index);
}

int nb_cuda_cross_entropy_backward(nb_tensor *dlogits, const nb_tensor *g, const nb_tensor *logits,
                                   const nb_tensor *targets, const nb_tensor *lse, int ignore_index) {
    long long rows, C;
    if (rows_cols("cross_entropy backward", logits, &rows, &C) ||
        rows_cols("cross_entropy backward", dlogits, &rows, &C))
        return -1;
    if (!nb_is_contiguous(lse) || nb_numel(lse) != 2 * rows)
        return nb_set_error("cross_entropy backward (cuda): lse not [%lld, 2]", rows), -1;
    if (rows == 0 || C == 0) return 0;
    char *s = nb_cu_scratch(3, 64);
    if (!s) return -1;
    CUdeviceptr kp = (CUdeviceptr)(uintptr_t)s, none = 0, gp = nb_cu_ptr(g), tp = nb_cu_ptr(targets);
    void *a1[] = {&none, &kp, &gp, &none, &tp, &rows, &ignore_index};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ce_final"), 1, 1024, 0, a1)) return -1;
    CUdeviceptr dp = nb_cu_ptr(dlogits), xp = nb_cu_ptr(logits), lp = nb_cu_ptr(lse);
    void *a2[] = {&dp, &kp, &xp, &tp, &lp, &C, &ignore_index};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ce_bwd"), (unsigned)rows, row_block(C), 0, a2);
}

/* One kernel per row (ce_fused) then one block summing the rows' losses (ce_fused_final). */
int nb_cuda_cross_entropy_fused(nb_tensor *loss, nb_tensor *lse, nb_tensor *logits, const nb_tensor *targets,
                                int ignore_index, float k) {
    long long rows, C;
    CUdeviceptr bad = 0, rowloss = 0, lp = nb_cu_ptr(loss), tp = nb_cu_ptr(targets);
    if (ce_begin("cross_entropy (fused)", logits, targets, lse, &rows, &C, &bad, &rowloss)) return -1;
    if (rows == 0) return nb_cuda_fill(loss, 0.0);
    CUdeviceptr xp = nb_cu_ptr(logits), lsep = nb_cu_ptr(lse);
    void *a1[] = {&rowloss, &lsep, &bad, &xp, &tp, &C, &ignore_index, &k};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ce_fused"), (unsigned)rows, row_block(C), 0, a1))
        return -1;
    void *a2[] = {&lp, &rowloss, &rows, &k};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_NN, "ce_fused_final"), 1, 1024, 0, a2)) return -1;
    return ce_end("cross_entropy (fused)", bad, tp, C, ignore_index);
}

/* ---- attention --------------------------------------------------------------------------------------- */

typedef nb_cu_ageom ageom;

#define NB_ATT_WARPS 8

static void strides4(long long *dst, const nb_tensor *t) {
    for (int i = 0; i < 4; i++)
        dst[i] = t ? t->stride[i] : 0;
}

static int att_check(const char *op, const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                     const nb_tensor *lse, ageom *g) {
    if (q->ndim != 4 || !nb_same_shape(q, k) || !nb_same_shape(q, v))
        return nb_set_error("%s (cuda): q, k, v must be [B,H,T,D] of one shape", op), -1;
    if (lse->dtype != NB_F32 || lse->ndim != 4 || lse->shape[3] != 2 || lse->stride[3] != 1 ||
        lse->shape[0] != q->shape[0] || lse->shape[1] != q->shape[1] || lse->shape[2] != q->shape[2])
        return nb_set_error("%s (cuda): lse must be an f32 [B,H,T,2] (max, log-sum per row)", op), -1;
    int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    if (D > 128)
        return nb_set_error("%s (cuda): head size %lld is above the 128 the fused kernel supports", op,
                            (long long)D),
               -1;
    if (B * H > INT_MAX || T > (int64_t)65535 * NB_ATT_WARPS) /* the grid's y: T / NB_ATT_WARPS <= 65535 */
        return nb_set_error(
                   "%s (cuda): too many heads or positions (%lld x %lld heads, %lld positions; at most "
                   "%d positions)",
                   op, (long long)B, (long long)H, (long long)T, 65535 * NB_ATT_WARPS),
               -1;
    memset(g, 0, sizeof *g);
    g->B = (int)B, g->H = (int)H, g->T = (int)T, g->D = (int)D;
    strides4(g->q, q);
    strides4(g->k, k);
    strides4(g->v, v);
    for (int i = 0; i < 3; i++)
        g->lse[i] = lse->stride[i];
    return 0;
}

int nb_cuda_attention(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k,
                      const nb_tensor *v, float scale) {
    ageom g;
    if (att_check("attention", q, k, v, lse, &g)) return -1;
    strides4(g.o, out);
    if ((long long)g.B * g.H == 0 || g.T == 0 || g.D == 0) return 0;
    unsigned smem = (unsigned)(2 * 32 * (g.D + 1) + NB_ATT_WARPS * g.D) * 4;
    CUdeviceptr o = nb_cu_ptr(out), l = nb_cu_ptr(lse), qp = nb_cu_ptr(q), kp = nb_cu_ptr(k),
                vp = nb_cu_ptr(v);
    void *args[] = {&o, &l, &qp, &kp, &vp, &g, &scale};
    return nb_cu_launch2(nb_cu_function(NB_CU_MOD_ATTN, "attn_fwd"), (unsigned)(g.B * g.H),
                         (unsigned)cdiv(g.T, NB_ATT_WARPS), 32 * NB_ATT_WARPS, smem, args);
}

int nb_cuda_attention_backward(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout,
                               const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                               const nb_tensor *out, const nb_tensor *lse, float scale) {
    ageom g;
    if (att_check("attention backward", q, k, v, lse, &g)) return -1;
    if (!dq || !dk || !dv) return nb_set_error("attention backward (cuda): dq, dk and dv are all needed"), -1;
    strides4(g.o, out);
    strides4(g.dq, dq);
    strides4(g.dk, dk);
    strides4(g.dv, dv);
    strides4(g.g, dout);
    if ((long long)g.B * g.H == 0 || g.T == 0 || g.D == 0) return 0;
    char *s = nb_cu_scratch(2, (size_t)((long long)g.B * g.H * g.T) * sizeof(float));
    if (!s) return -1;
    CUdeviceptr Dd = (CUdeviceptr)(uintptr_t)s, dqp = nb_cu_ptr(dq), dkp = nb_cu_ptr(dk), dvp = nb_cu_ptr(dv),
                gp = nb_cu_ptr(dout), qp = nb_cu_ptr(q), kp = nb_cu_ptr(k), vp = nb_cu_ptr(v),
                op = nb_cu_ptr(out), lp = nb_cu_ptr(lse);
    unsigned gx = (unsigned)(g.B * g.H), gy = (unsigned)cdiv(g.T, NB_ATT_WARPS);
    unsigned smem1 = (unsigned)(2 * 32 * (g.D + 1) + 2 * NB_ATT_WARPS * g.D) * 4;
    void *a1[] = {&dqp, &Dd, &gp, &qp, &kp, &vp, &op, &lp, &g, &scale};
    if (nb_cu_launch2(nb_cu_function(NB_CU_MOD_ATTN, "attn_bwd_dq"), gx, gy, 32 * NB_ATT_WARPS, smem1, a1))
        return -1;
    unsigned smem2 = (unsigned)(2 * 32 * (g.D + 1) + 96 + 2 * NB_ATT_WARPS * g.D) * 4;
    void *a2[] = {&dkp, &dvp, &Dd, &gp, &qp, &kp, &vp, &lp, &g, &scale};
    return nb_cu_launch2(nb_cu_function(NB_CU_MOD_ATTN, "attn_bwd_dkdv"), gx, gy, 32 * NB_ATT_WARPS, smem2,
                         a2);
}
