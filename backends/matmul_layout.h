/* backends/matmul_layout.h - how a backend reads the 3-D operands of the
 * `matmul` entry (internal; shared by the CPU and CUDA backends). */
#ifndef NB_MATMUL_LAYOUT_H
#define NB_MATMUL_LAYOUT_H

#include "nabla/tensor.h"

/* Layout of the matrix in dims 1,2 of a 3-D descriptor: row-major (*trans = 0,
 * row stride *ld) or transposed (*trans = 1, column stride *ld). -1 when it is
 * neither (the ops layer then makes it contiguous). */
static inline int nb_mat_layout(const nb_tensor *t, int *trans, int64_t *ld) {
    int64_t r = t->shape[1], c = t->shape[2], sr = t->stride[1], sc = t->stride[2];
    if ((c <= 1 || sc == 1) && (r <= 1 || sr >= c)) {
        *trans = 0;
        *ld = r <= 1 ? c : sr;
    } else if ((r <= 1 || sr == 1) && (c <= 1 || sc >= r)) {
        *trans = 1;
        *ld = c <= 1 ? r : sc;
    } else {
        return -1;
    }
    if (*ld < 1) *ld = 1;
    return 0;
}

/* Batch stride of a 3-D descriptor (0 when its batch has one matrix). */
static inline int64_t nb_mat_batch_stride(const nb_tensor *t) { return t->shape[0] == 1 ? 0 : t->stride[0]; }

#endif
