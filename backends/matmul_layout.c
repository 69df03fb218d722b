/* backends/matmul_layout.c - planning a backend's matmul call from its views. */
#include "backends/matmul_layout.h"

#include "nabla/core.h"

#define SHP(t, buf) nb_shape_str((t), (buf), sizeof(buf))

/* Layout of the matrix in dims 1,2 of a 3-D descriptor: row-major (*trans = 0,
 * row stride *ld) or transposed (*trans = 1, column stride *ld); -1 when neither. */
static int mat_layout(const nb_tensor *t, int *trans, int64_t *ld) {
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

static int64_t batch_stride(const nb_tensor *t) { return t->shape[0] == 1 ? 0 : t->stride[0]; }

int nb_mat_plan_make(const char *backend, const nb_tensor *out, const nb_tensor *a, const nb_tensor *b,
                     nb_mat_plan *p) {
    char x[96], y[96], z[96];
    if (out->ndim != 3 || a->ndim != 3 || b->ndim != 3 || a->shape[2] != b->shape[1] ||
        out->shape[1] != a->shape[1] || out->shape[2] != b->shape[2] ||
        (a->shape[0] != out->shape[0] && a->shape[0] != 1) || (b->shape[0] != out->shape[0] && b->shape[0] != 1))
        return nb_set_error("matmul (%s): bad operands %s @ %s -> %s", backend, SHP(a, x), SHP(b, y),
                            SHP(out, z)),
               -1;
    if (out->dtype != NB_F32 || a->dtype != NB_F32 || b->dtype != NB_F32)
        return nb_set_error("matmul (%s): operands must be f32", backend), -1;
    int ta, tb, tc;
    int64_t lda, ldb, ldc;
    if (mat_layout(a, &ta, &lda) || mat_layout(b, &tb, &ldb) || mat_layout(out, &tc, &ldc))
        return nb_set_error("matmul (%s): an operand of %s @ %s -> %s is neither row-major nor transposed in "
                            "its last two dims",
                            backend, SHP(a, x), SHP(b, y), SHP(out, z)),
               -1;
    int64_t B = out->shape[0];
    p->sc = batch_stride(out);
    if (B > 1 && p->sc == 0)
        return nb_set_error("matmul (%s): output %s has batch stride 0", backend, SHP(out, z)), -1;
    p->batch = B;
    p->K = a->shape[2];
    p->ldc = ldc;
    p->swapped = tc;
    if (!tc) {
        p->trans_x = ta, p->trans_y = tb;
        p->M = out->shape[1], p->N = out->shape[2];
        p->ldx = lda, p->ldy = ldb;
        p->sx = batch_stride(a), p->sy = batch_stride(b);
    } else { /* out^T[N,M] = b^T[N,K] @ a^T[K,M] */
        p->trans_x = !tb, p->trans_y = !ta;
        p->M = out->shape[2], p->N = out->shape[1];
        p->ldx = ldb, p->ldy = lda;
        p->sx = batch_stride(b), p->sy = batch_stride(a);
    }
    if (p->batch > 1 && p->sy == 0 && !p->trans_x && p->sx == p->M * p->ldx && p->sc == p->M * p->ldc) {
        p->M *= p->batch; /* fold the batch into M */
        p->batch = 1;
    }
    return 0;
}
