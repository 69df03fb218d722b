/* ops/sort.c - argsort, sort and topk. The backend's argsort gives the positions (a total
 * order: NaN the largest, ties by position, so every backend gives the same answer); the values
 * are nb_gather of those positions, whose gradient sends each value's g back to where it came
 * from. */
#include "ops/op_util.h"

nb_tensor *nb_argsort(nb_tensor *a, int dim, bool descending) {
    NB_NULL_GUARD_NAMED("argsort", a);
    if (nb_check_dtype("argsort", a, NB_F32, "input")) return NULL;
    if (a->ndim == 0) { /* as torch: one element, at position 0 */
        if (nb_norm_dim("argsort", dim, 1) < 0) return NULL;
        nb_tensor *one = nb_argsort(nb_reshape(a, NB_SHAPE(1)), 0, descending);
        return one ? nb_reshape(one, NB_SHAPE0) : NULL;
    }
    const int d = nb_norm_dim("argsort", dim, a->ndim);
    if (d < 0) return NULL;
    if (a->shape[d] > INT32_MAX)
        return nb_set_error("argsort: %lld elements along dim %d do not fit i32 positions",
                            (long long)a->shape[d], d);
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->argsort) return nb_unsupported("argsort", be);
    nb_tensor *idx = nb_new_like_shape(a, NB_I32, a->ndim, a->shape);
    if (!idx || be->argsort(idx, a, d, descending)) return NULL;
    return idx;
}

/* the values at positions idx along dim (differentiable through gather), and the positions */
static nb_tensor *pick(const char *op, nb_tensor *a, int dim, nb_tensor *idx, nb_tensor **indices) {
    nb_tensor *v =
        idx ? (a->ndim ? nb_gather(a, dim, idx)
                       : nb_reshape(nb_gather(nb_reshape(a, NB_SHAPE(1)), 0, nb_reshape(idx, NB_SHAPE(1))),
                                    NB_SHAPE0))
            : NULL;
    if (!v) return nb_as_op(NULL, op);
    if (indices) *indices = idx;
    return v;
}

nb_tensor *nb_sort(nb_tensor *a, int dim, bool descending, nb_tensor **indices) {
    NB_NULL_GUARD_NAMED("sort", a);
    return pick("sort", a, dim, nb_argsort(a, dim, descending), indices);
}

nb_tensor *nb_topk(nb_tensor *a, int64_t k, int dim, bool largest, nb_tensor **indices) {
    NB_NULL_GUARD_NAMED("topk", a);
    const int d = nb_norm_dim("topk", dim, a->ndim ? a->ndim : 1);
    if (d < 0) return NULL;
    const int64_t n = a->ndim ? a->shape[d] : 1;
    if (k < 0 || k > n) /* a 0-d tensor takes k 0 or 1 and gives itself, as torch */
        return nb_set_error("topk: k = %lld is outside [0, %lld], the size of dim %d", (long long)k,
                            (long long)n, d);
    nb_tensor *idx = nb_argsort(a, d, largest);
    if (idx && a->ndim) idx = nb_contiguous(nb_narrow(idx, d, 0, k)); /* the first k, a tensor of their own */
    return pick("topk", a, d, idx, indices);
}
