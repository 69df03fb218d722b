/* ops/diag.c - diagonals: nb_diagonal, nb_diag_embed, nb_diag, nb_trace. Composed: a diagonal is
 * the pair of dims flattened and every (n2 + 1)-th element selected (index_select, whose
 * gradient scatters back), and an embedded diagonal is index_add into zeros; so every backend
 * runs them and autograd differentiates them with the rules it already has. */
#include <stdlib.h>

#include "ops/op_util.h"

/* the flat positions row * n2 + col of the diagonal `offset` of an [n1, n2] matrix, as an i32
 * tensor on t's device; *len its length (0 when the offset is off the matrix) */
static nb_tensor *diag_positions(const char *op, nb_tensor *t, int64_t n1, int64_t n2, int64_t offset,
                                 int64_t *len) {
    if (offset > INT32_MAX || offset < -INT32_MAX)
        return nb_set_error("%s: offset %lld is too large", op, (long long)offset);
    const int64_t r0 = offset < 0 ? -offset : 0, c0 = offset > 0 ? offset : 0;
    int64_t L = n1 - r0 < n2 - c0 ? n1 - r0 : n2 - c0;
    if (L < 0) L = 0;
    if (n1 && n2 > INT32_MAX / n1) {
        char s[96];
        return nb_set_error("%s: %s has more than 2^31 - 1 elements in the two dims", op, NB_SHP(t, s));
    }
    int32_t *idx = malloc((size_t)(L ? L : 1) * sizeof *idx);
    if (!idx) return nb_set_error("%s: out of memory for a diagonal of %lld", op, (long long)L);
    for (int64_t i = 0; i < L; i++)
        idx[i] = (int32_t)((r0 + i) * n2 + c0 + i);
    nb_tensor *it = nb_host_1d(t, NB_I32, L, idx);
    free(idx);
    *len = L;
    return it;
}

nb_tensor *nb_diagonal(nb_tensor *a, int64_t offset, int dim1, int dim2) {
    const char *op = "diagonal";
    NB_NULL_GUARD_NAMED(op, a);
    if (a->ndim < 2) {
        char s[96];
        return nb_set_error("%s: %s has fewer than 2 dims", op, NB_SHP(a, s));
    }
    const int p = nb_norm_dim(op, dim1, a->ndim), q = p < 0 ? -1 : nb_norm_dim(op, dim2, a->ndim);
    if (p < 0 || q < 0) return NULL;
    if (p == q) return nb_set_error("%s: dim1 and dim2 are both %d", op, p);
    const int nd = a->ndim;
    int perm[NB_MAX_DIMS], k = 0;
    for (int i = 0; i < nd; i++)
        if (i != p && i != q) perm[k++] = i;
    perm[k++] = p, perm[k++] = q;
    int64_t shape[NB_MAX_DIMS];
    for (int i = 0; i < nd - 2; i++)
        shape[i] = a->shape[perm[i]];
    const int64_t n1 = a->shape[p], n2 = a->shape[q];
    int64_t L;
    nb_tensor *it = diag_positions(op, a, n1, n2, offset, &L);
    if (it) shape[nd - 2] = n1 * n2; /* no overflow: checked to fit i32 */
    nb_tensor *t = it ? nb_reshape(nb_permute(a, perm), nd - 1, shape) : NULL;
    return nb_as_op(t ? nb_index_select(t, nd - 2, it) : NULL, op); /* the diagonal is the last dim */
}

nb_tensor *nb_diag_embed(nb_tensor *a, int64_t offset, int dim1, int dim2) {
    const char *op = "diag_embed";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    if (a->ndim < 1) return nb_set_error("%s: the input is 0-d (want at least 1 dim)", op);
    const int nd = a->ndim + 1;
    if (nd > NB_MAX_DIMS) return nb_set_error("%s: the result would have more than %d dims", op, NB_MAX_DIMS);
    const int p = nb_norm_dim(op, dim1, nd), q = p < 0 ? -1 : nb_norm_dim(op, dim2, nd);
    if (p < 0 || q < 0) return NULL;
    if (p == q) return nb_set_error("%s: dim1 and dim2 are both %d", op, p);
    if (offset > INT32_MAX || offset < -INT32_MAX)
        return nb_set_error("%s: offset %lld is too large", op, (long long)offset);
    const int64_t len = a->shape[a->ndim - 1], n = len + (offset < 0 ? -offset : offset);
    if (n > 46340) /* the n x n positions are i32 */
        return nb_set_error("%s: a diagonal of %lld needs more than 2^31 - 1 positions", op, (long long)n);
    /* zeros [others..., n * n] with a's last dim added at the diagonal's positions */
    int64_t flat[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim - 1; i++)
        flat[i] = a->shape[i];
    flat[a->ndim - 1] = n * n;
    int64_t L;
    nb_tensor *it = diag_positions(op, a, n, n, offset, &L);
    nb_tensor *z = it ? nb_full_on(nb_out_ctx(a), NB_F32, a->device, a->ndim, flat, 0.0) : NULL;
    nb_tensor *e = z ? nb_index_add(z, a->ndim - 1, it, a, 1.0f) : NULL;
    /* [others..., n, n], then the two put at p and q */
    int64_t sq[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim - 1; i++)
        sq[i] = a->shape[i];
    sq[nd - 2] = n, sq[nd - 1] = n;
    e = e ? nb_reshape(e, nd, sq) : NULL;
    int perm[NB_MAX_DIMS], other = 0;
    for (int i = 0; i < nd; i++)
        perm[i] = i == p ? nd - 2 : i == q ? nd - 1 : other++;
    return nb_as_op(e ? nb_permute(e, perm) : NULL, op);
}

nb_tensor *nb_diag(nb_tensor *a, int64_t offset) {
    NB_NULL_GUARD_NAMED("diag", a);
    if (a->ndim == 1) return nb_as_op(nb_diag_embed(a, offset, 0, 1), "diag");
    if (a->ndim == 2) return nb_as_op(nb_diagonal(a, offset, 0, 1), "diag");
    char s[96];
    return nb_set_error("diag: %s is neither 1-D nor 2-D", NB_SHP(a, s));
}

nb_tensor *nb_trace(nb_tensor *a) {
    NB_NULL_GUARD_NAMED("trace", a);
    if (a->ndim != 2) {
        char s[96];
        return nb_set_error("trace: %s is not 2-D", NB_SHP(a, s));
    }
    return nb_as_op(nb_sum_all(nb_diagonal(a, 0, 0, 1)), "trace");
}
