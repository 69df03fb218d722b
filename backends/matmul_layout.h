/* backends/matmul_layout.h - how a backend reads the operands of the `matmul`
 * entry (internal; shared by the CPU and CUDA backends, so both read the same
 * views the same way). */
#ifndef NB_MATMUL_LAYOUT_H
#define NB_MATMUL_LAYOUT_H

#include <stdbool.h>

#include "nabla/tensor.h"

/* A row-major GEMM call equivalent to out[B,M,N] = a[B,M,K] @ b[B,K,N]:
 * C = op(X) @ op(Y) with X = a, Y = b, or, when `swapped` (a transposed
 * output, computed as out^T = b^T a^T), X = b and Y = a. */
typedef struct {
    bool swapped;
    int trans_x, trans_y;
    int64_t batch, M, N, K;
    int64_t ldx, ldy, ldc;   /* row strides of X, Y, C (column strides when transposed) */
    int64_t sx, sy, sc;      /* batch strides (0: one matrix shared by the batch) */
} nb_mat_plan;

/* Checks the 3-D f32 operands and plans the call: each operand is read in
 * place when its last two dims are row-major or transposed, and when Y is
 * shared by the batch and the rows of X and C stack up evenly the batch is
 * folded into M (one GEMM instead of B). 0, or -1 with a message naming
 * `backend`. A plan with M, N or batch 0 has nothing to compute. */
int nb_mat_plan_make(const char *backend, const nb_tensor *out, const nb_tensor *a, const nb_tensor *b,
                     nb_mat_plan *p);

#endif
