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

/* Positions are i32 from the start (exact for any slice length; an f32 count would round past
 * 2^24). pos_i32: p in every slice, a's shape with dim d of size 1, on a's device. */
static nb_tensor *pos_i32(nb_tensor *a, int d, int64_t p) {
    int64_t s[NB_MAX_DIMS];
    memcpy(s, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    s[d] = 1;
    return nb_full_on(nb_out_ctx(a), NB_I32, a->device, a->ndim, s, (double)p);
}

/* per slice, x where the slice of a holds no NaN and x_nan where it does (both i32 of pos_i32's
 * shape): gathered from the two side by side, with the slice's NaN flag (0/1) as the index */
static nb_tensor *unless_nan(nb_tensor *a, int d, nb_tensor *x, nb_tensor *x_nan) {
    nb_tensor *has = x && x_nan ? nb_max(nb_isnan(a), 1, &d, true) : NULL;
    nb_tensor *two[2] = {x, x_nan};
    return has ? nb_gather(nb_cat(two, 2, d), d, nb_cast(has, NB_I32)) : NULL;
}

/* The values of a at its indices idx (i32, a's shape with dim d of size 1) along d, and those
 * indices; keepdim or not (a 0-d input gives 0-d results either way, as torch). */
static nb_tensor *values_at(const char *op, nb_tensor *a, bool zero_d, int d, nb_tensor *idx, bool keepdim,
                            nb_tensor **indices) {
    nb_tensor *v = idx ? nb_gather(a, d, idx) : NULL;
    if (v && (zero_d || !keepdim)) {
        v = zero_d ? nb_reshape(v, NB_SHAPE0) : nb_squeeze(v, d);
        idx = zero_d ? nb_reshape(idx, NB_SHAPE0) : nb_squeeze(idx, d);
    }
    if (!v || !idx) return nb_as_op(NULL, op);
    if (indices) *indices = idx;
    return v;
}

/* a's indices at sorted position pos (i32), si being nb_argsort(a, d) */
static nb_tensor *sorted_at(nb_tensor *si, int d, nb_tensor *pos) {
    return si && pos ? nb_gather(si, d, pos) : NULL;
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
    return values_at(op, a, zero_d, d, sorted_at(si, d, si ? pos_i32(a, d, k - 1) : NULL), keepdim, indices);
}

nb_tensor *nb_median(nb_tensor *a, int dim, bool keepdim, nb_tensor **indices) {
    const char *op = "median";
    NB_NULL_GUARD_NAMED(op, a);
    const bool zero_d = a->ndim == 0;
    int d;
    int64_t n;
    if (order_args(op, &a, dim, &d, &n)) return NULL;
    /* the lower median, (n - 1) / 2 in sorted order; a slice holding NaN gives its first NaN
     * (argmax takes the first of equal maxima) */
    nb_tensor *si = nb_argsort(a, d, false);
    nb_tensor *med = sorted_at(si, d, si ? pos_i32(a, d, (n - 1) / 2) : NULL);
    nb_tensor *first_nan = med ? nb_argmax(nb_isnan(a), d, true) : NULL;
    return values_at(op, a, zero_d, d, unless_nan(a, d, med, first_nan), keepdim, indices);
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
    /* the rank is a float, as torch's: exact positions need n - 1 < 2^24 (torch refuses inputs
     * past 2^24 elements) */
    if (n > ((int64_t)1 << 24))
        return nb_set_error("%s: dim %d has %lld elements (at most 2^24: the rank is a float, as torch's)",
                            op, d, (long long)n);
    /* torch's rank q (n - 1), in float as torch's (q becomes a tensor of the input's dtype), taken
     * as n - 1 in a slice holding NaN (so the result is NaN) */
    const float rank = (float)q * (float)(n - 1);
    const float r = interp == NB_QUANTILE_LOWER     ? floorf(rank)
                    : interp == NB_QUANTILE_HIGHER  ? ceilf(rank)
                    : interp == NB_QUANTILE_NEAREST ? nearbyintf(rank) /* halves to even, as torch's round */
                                                    : rank;
    nb_tensor *si = nb_argsort(a, d, false);
    nb_tensor *last = si ? pos_i32(a, d, n - 1) : NULL;
    nb_tensor *lo = last ? unless_nan(a, d, pos_i32(a, d, (int64_t)floorf(r)), last) : NULL;
    nb_tensor *vlo = values_at(op, a, zero_d, d, sorted_at(si, d, lo), keepdim, NULL);
    /* lower, higher and nearest read one element; linear and midpoint always interpolate, as
     * torch's (so lerp(inf, inf, 0) is NaN there too) */
    if (!vlo || (interp != NB_QUANTILE_LINEAR && interp != NB_QUANTILE_MIDPOINT)) return vlo;
    const float w = interp == NB_QUANTILE_MIDPOINT ? 0.5f : r - floorf(r);
    nb_tensor *hi = unless_nan(a, d, pos_i32(a, d, (int64_t)ceilf(r)), last);
    nb_tensor *vhi = values_at(op, a, zero_d, d, sorted_at(si, d, hi), keepdim, NULL);
    if (!vhi) return NULL;
    /* torch's lerp: lo + w (hi - lo) below w = 1/2, hi - (hi - lo)(1 - w) from it (w in float) */
    nb_tensor *diff = nb_sub(vhi, vlo);
    nb_tensor *y =
        w < 0.5f ? nb_add(vlo, nb_mul_scalar(diff, w)) : nb_sub(vhi, nb_mul_scalar(diff, 1.0f - w));
    return nb_as_op(y, op);
}
