/* ops/sort.c - argsort, sort and topk, and the order statistics kthvalue, median and quantile. The backend's
 * argsort gives the positions (a total order: NaN the largest, ties by position, so every backend gives the
 * same answer); the values are nb_gather of those positions, whose gradient sends each value's g back to
 * where it came from. */
#include <math.h>
#include <string.h>

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

/* ---- order statistics: kthvalue, median, quantile -------------------------------------------------
 * Each sorts along dim (nb_argsort's total order, NaN the largest), reads the positions it wants
 * from the sorted order with gather, and takes the values at those positions with gather too, so
 * the gradient goes back to the elements picked (and, for quantile, shared by the two it mixes). */

/* dim normalised, the slice length along it (>= 1), a as at least 1-d; -1 with an error */
static int order_args(const char *op, nb_tensor **a, int dim, int *d, int64_t *n) {
    if (nb_check_dtype(op, *a, NB_F32, "input")) return -1;
    if ((*d = nb_norm_dim(op, dim, (*a)->ndim ? (*a)->ndim : 1)) < 0) return -1;
    if ((*a)->ndim == 0 && !(*a = nb_reshape(*a, NB_SHAPE(1)))) return -1;
    *n = (*a)->shape[*d];
    if (*n == 0) {
        char s[96];
        return nb_set_error("%s: dim %d of %s is empty", op, *d, NB_SHP(*a, s)), -1;
    }
    return 0;
}

/* The values of a at sorted position pos (f32 counts, a's shape with dim of size 1) along d, and
 * their positions in a; keepdim or not. */
static nb_tensor *at_rank(const char *op, nb_tensor *a, bool zero_d, int d, nb_tensor *sorted_idx,
                          nb_tensor *pos, bool keepdim, nb_tensor **indices) {
    nb_tensor *idx = pos ? nb_gather(sorted_idx, d, nb_cast(pos, NB_I32)) : NULL;
    nb_tensor *v = idx ? nb_gather(a, d, idx) : NULL;
    if (v && !keepdim) {
        v = zero_d ? nb_reshape(v, NB_SHAPE0) : nb_squeeze(v, d);
        idx = zero_d ? nb_reshape(idx, NB_SHAPE0) : nb_squeeze(idx, d);
    }
    if (!v || !idx) return nb_as_op(NULL, op);
    if (indices) *indices = idx;
    return v;
}

/* per slice along d: the number of NaNs, a's shape with dim d of size 1 */
static nb_tensor *nan_count(nb_tensor *a, int d) { return nb_sum(nb_ne(a, a), 1, &d, true); }

/* a tensor of a's shape with dim d of size 1 holding v (f32), on a's device */
static nb_tensor *per_slice(nb_tensor *a, int d, float v) {
    int64_t s[NB_MAX_DIMS];
    memcpy(s, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    s[d] = 1;
    return nb_expand(nb_scalar_like(a, v), a->ndim, s);
}

nb_tensor *nb_kthvalue(nb_tensor *a, int64_t k, int dim, bool keepdim, nb_tensor **indices) {
    const char *op = "kthvalue";
    NB_NULL_GUARD_NAMED(op, a);
    const bool zero_d = a->ndim == 0;
    int d;
    int64_t n;
    if (order_args(op, &a, dim, &d, &n)) return NULL;
    if (k < 1 || k > n)
        return nb_set_error("%s: k = %lld is outside [1, %lld], the size of dim %d", op, (long long)k,
                            (long long)n, d);
    nb_tensor *si = nb_argsort(a, d, false);
    return at_rank(op, a, zero_d, d, si, si ? per_slice(a, d, (float)(k - 1)) : NULL, keepdim, indices);
}

nb_tensor *nb_median(nb_tensor *a, int dim, bool keepdim, nb_tensor **indices) {
    const char *op = "median";
    NB_NULL_GUARD_NAMED(op, a);
    const bool zero_d = a->ndim == 0;
    int d;
    int64_t n;
    if (order_args(op, &a, dim, &d, &n)) return NULL;
    /* the lower median, (n - 1) / 2 in sorted order; a slice holding NaN gives its first NaN,
     * which sorts to position n - (its NaN count) */
    nb_tensor *si = nb_argsort(a, d, false), *cnt = si ? nan_count(a, d) : NULL;
    nb_tensor *pos =
        cnt ? nb_where(cnt, nb_rsub_scalar(cnt, (float)n), per_slice(a, d, (float)((n - 1) / 2))) : NULL;
    return at_rank(op, a, zero_d, d, si, pos, keepdim, indices);
}

nb_tensor *nb_quantile(nb_tensor *a, double q, int dim, bool keepdim, nb_quantile_interp interp) {
    const char *op = "quantile";
    NB_NULL_GUARD_NAMED(op, a);
    if (!(q >= 0.0 && q <= 1.0)) return nb_set_error("%s: q = %g is outside [0, 1]", op, q);
    if (interp < NB_QUANTILE_LINEAR || interp > NB_QUANTILE_MIDPOINT)
        return nb_set_error("%s: unknown interpolation %d", op, (int)interp);
    const bool zero_d = a->ndim == 0;
    int d;
    int64_t n;
    if (order_args(op, &a, dim, &d, &n)) return NULL;
    /* torch's rank q (n - 1), taken as n - 1 in a slice holding NaN (so the result is NaN) */
    const double rank = q * (double)(n - 1);
    double r = interp == NB_QUANTILE_LOWER     ? floor(rank)
               : interp == NB_QUANTILE_HIGHER  ? ceil(rank)
               : interp == NB_QUANTILE_NEAREST ? nearbyint(rank) /* halves to even, as torch's round */
                                               : rank;
    nb_tensor *si = nb_argsort(a, d, false), *cnt = si ? nan_count(a, d) : NULL;
    nb_tensor *last = cnt ? per_slice(a, d, (float)(n - 1)) : NULL;
    nb_tensor *lo = last ? nb_where(cnt, last, per_slice(a, d, (float)floor(r))) : NULL;
    nb_tensor *vlo = at_rank(op, a, zero_d, d, si, lo, keepdim, NULL);
    const double w = interp == NB_QUANTILE_MIDPOINT ? (rank > floor(rank) ? 0.5 : 0.0) : r - floor(r);
    if (!vlo || w == 0.0) return vlo;
    nb_tensor *hi = nb_where(cnt, last, per_slice(a, d, (float)ceil(r)));
    nb_tensor *vhi = at_rank(op, a, zero_d, d, si, hi, keepdim, NULL);
    if (!vhi) return NULL;
    /* torch's lerp: lo + w (hi - lo) below w = 1/2, hi - (hi - lo)(1 - w) from it */
    nb_tensor *diff = nb_sub(vhi, vlo);
    nb_tensor *y = w < 0.5 ? nb_add(vlo, nb_mul_scalar(diff, (float)w))
                           : nb_sub(vhi, nb_mul_scalar(diff, (float)(1.0 - w)));
    return nb_as_op(y, op);
}
