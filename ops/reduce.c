/* ops/reduce.c - reductions over any set of axes: sum, prod, mean, max, min, var, std,
 * logsumexp, argmax, argmin. sum/prod/max/min and argmax are primitives with a kernel; mean, var,
 * std and logsumexp are compositions, so autograd differentiates them for free. */
#include <math.h>
#include <string.h>

#include "ops/op_util.h"

/* Normalises axes into a mask; naxes == 0 means all. */
static int axes_mask(const char *op, const nb_tensor *a, int naxes, const int *axes, bool *mask) {
    memset(mask, 0, sizeof(bool) * NB_MAX_DIMS);
    if (naxes == 0) {
        for (int i = 0; i < a->ndim; i++) mask[i] = true;
        return 0;
    }
    if (naxes < 0 || !axes) return nb_set_error("%s: bad axes list", op), -1;
    if (naxes > a->ndim) /* checked before reading axes[]: it may hold only ndim entries */
        return nb_set_error("%s: %d axes for a %d-d tensor", op, naxes, a->ndim), -1;
    for (int k = 0; k < naxes; k++) {
        int d = axes[k] < 0 ? axes[k] + a->ndim : axes[k];
        if (d < 0 || d >= a->ndim) {
            char x[96];
            return nb_set_error("%s: axis %d out of range for %s", op, axes[k], NB_SHP(a, x)), -1;
        }
        if (mask[d]) return nb_set_error("%s: axis %d repeated", op, axes[k]), -1;
        mask[d] = true;
    }
    return 0;
}

/* The reduced shape with or without the reduced dims. */
static int reduced_shape(const nb_tensor *a, const bool *mask, bool keepdim, int64_t *shape) {
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (!mask[i]) shape[nd++] = a->shape[i];
        else if (keepdim) shape[nd++] = 1;
    }
    return nd;
}

/* The product of each element's slice-mates along the last dim of x ([..., R], R >= 1): the
 * running product before it times the one after it (torch's prod_safe_zeros_backward). */
static nb_tensor *exclusive_products(nb_tensor *x) {
    const int L = x->ndim - 1;
    const int64_t R = x->shape[L];
    int64_t s1[NB_MAX_DIMS];
    memcpy(s1, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    s1[L] = 1;
    nb_tensor *ones = nb_full_on(nb_out_ctx(x), NB_F32, x->device, x->ndim, s1, 1.0);
    if (!ones || R == 1) return ones ? nb_expand(ones, x->ndim, x->shape) : NULL;
    nb_tensor *fwd[2] = {ones, nb_narrow(nb_cumprod(x, L), L, 0, R - 1)};
    nb_tensor *xr = nb_flip(x, 1, &L);
    nb_tensor *rev[2] = {ones, xr ? nb_narrow(nb_cumprod(xr, L), L, 0, R - 1) : NULL};
    nb_tensor *before = fwd[1] ? nb_cat(fwd, 2, L) : NULL;
    nb_tensor *after = rev[1] ? nb_cat(rev, 2, L) : NULL;
    return before && after ? nb_mul(before, nb_flip(after, 1, &L)) : NULL;
}

/* prod's gradient (gk: g with the reduced axes of size 1): y / x_i in a slice with no zero
 * (torch's rule); in a slice with a zero, the product of the other elements (exclusive running
 * products, so an inf or NaN elsewhere reaches only the elements whose product holds it, as
 * torch's); reducing every axis of a tensor with two zeros or more, 0 (torch's shortcut). */
static nb_tensor *prod_grad(nb_tensor *a, nb_tensor *y, nb_tensor *gk, const int64_t *ks, int na,
                            const int *axes) {
    if (a->ndim == 0) return gk; /* torch passes g through a 0-d product (inf / inf would be NaN) */
    nb_tensor *yk = nb_reshape(y, a->ndim, ks);
    nb_tensor *zero = nb_scalar_like(a, 0.0f), *one = nb_scalar_like(a, 1.0f);
    nb_tensor *isz = zero ? nb_eq(a, zero) : NULL;
    nb_tensor *nz = isz ? nb_sum(isz, na, axes, true) : NULL;
    nb_tensor *plain = yk && nz ? nb_div(yk, a) : NULL;
    if (!plain) return NULL;
    if (nb_numel(a) == 0) return nb_mul(gk, plain);
    /* the reduced axes last, flattened into one: [kept..., R] */
    int perm[NB_MAX_DIMS], inv[NB_MAX_DIMS], k = 0;
    bool red[NB_MAX_DIMS] = {false};
    for (int i = 0; i < na; i++)
        red[axes[i]] = true;
    int64_t flat[NB_MAX_DIMS], R = 1;
    for (int i = 0; i < a->ndim; i++)
        if (!red[i]) flat[k] = a->shape[i], perm[k++] = i;
    const int kept = k;
    for (int i = 0; i < a->ndim; i++)
        if (red[i]) R *= a->shape[i], perm[k++] = i;
    flat[kept] = R;
    int64_t pshape[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++)
        pshape[i] = a->shape[perm[i]], inv[perm[i]] = i;
    nb_tensor *xf = nb_reshape(nb_contiguous(nb_permute(a, perm)), kept + 1, flat);
    nb_tensor *ex = xf ? exclusive_products(xf) : NULL;
    ex = ex ? nb_permute(nb_reshape(ex, a->ndim, pshape), inv) : NULL;
    if (!ex) return NULL;
    nb_tensor *mult = nb_where(nb_eq(nz, zero), plain, ex);
    if (mult && na == a->ndim) /* every axis: two zeros or more give 0 */
        mult = nb_where(nb_gt(nz, one), zero, mult);
    return mult ? nb_mul(gk, mult) : NULL;
}

static int reduce_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0];
    int64_t ks[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) ks[i] = n->i[i + 1] ? 1 : a->shape[i];
    nb_tensor *gk = nb_reshape(g, a->ndim, ks);
    if (!gk) return -1;
    if (n->i[0] == NB_RED_SUM) {
        gin[0] = nb_expand(gk, a->ndim, a->shape);
        return gin[0] ? 0 : -1;
    }
    int axes[NB_MAX_DIMS], na = 0;
    for (int i = 0; i < a->ndim; i++)
        if (n->i[i + 1]) axes[na++] = i;
    if (n->i[0] == NB_RED_PROD) {
        gin[0] = prod_grad(a, n->out, gk, ks, na, axes);
        return gin[0] ? 0 : -1;
    }
    /* max/min: the gradient is shared equally by the elements equal to the result */
    nb_tensor *yk = nb_reshape(n->out, a->ndim, ks);
    nb_tensor *mask = nb_eq(a, yk);
    nb_tensor *cnt = nb_sum(mask, na, axes, true);
    gin[0] = nb_mul(mask, nb_div(gk, cnt));
    return gin[0] ? 0 : -1;
}

static nb_tensor *reduce(nb_redop op, const char *name, nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD_NAMED(name, a);
    if (nb_check_dtype(name, a, NB_F32, "input")) return NULL;
    bool mask[NB_MAX_DIMS];
    if (axes_mask(name, a, naxes, axes, mask)) return NULL;
    for (int i = 0; i < a->ndim && (op == NB_RED_MAX || op == NB_RED_MIN); i++)
        if (mask[i] && a->shape[i] == 0) { /* no elements to take the max or min of */
            char x[96];
            return nb_set_error("%s: cannot reduce over axis %d of %s: it is empty", name, i, NB_SHP(a, x));
        }
    int64_t ks[NB_MAX_DIMS], s[NB_MAX_DIMS];
    reduced_shape(a, mask, true, ks);
    int nd = reduced_shape(a, mask, keepdim, s);
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, ks);
    if (!out || (nb_numel(out) > 0 && be->reduce(op, out, a))) return NULL;
    if (!keepdim) {
        int64_t st[NB_MAX_DIMS];
        nb_contig_strides(nd, s, st);
        out->ndim = nd;
        memcpy(out->shape, s, sizeof(int64_t) * (size_t)nd);
        memcpy(out->stride, st, sizeof(int64_t) * (size_t)nd);
    }
    nb_node *n;
    if (!nb_op_finish(out, name, reduce_backward, 1, &a, &n)) return NULL;
    if (n) {
        n->i[0] = op;
        for (int i = 0; i < a->ndim; i++) n->i[i + 1] = mask[i];
        n->unread = op == NB_RED_SUM ? NB_UNREAD_ALL : 0; /* a sum's gradient reads no values */
    }
    return out;
}

nb_tensor *nb_sum(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    return reduce(NB_RED_SUM, "sum", a, naxes, axes, keepdim);
}
nb_tensor *nb_max(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    return reduce(NB_RED_MAX, "max", a, naxes, axes, keepdim);
}
nb_tensor *nb_min(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    return reduce(NB_RED_MIN, "min", a, naxes, axes, keepdim);
}
nb_tensor *nb_prod(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    return reduce(NB_RED_PROD, "prod", a, naxes, axes, keepdim);
}
nb_tensor *nb_sum_all(nb_tensor *a) { return nb_sum(a, 0, NULL, false); }

/* Number of elements reduced over. */
static int64_t reduced_count(const char *op, const nb_tensor *a, int naxes, const int *axes) {
    bool mask[NB_MAX_DIMS];
    if (axes_mask(op, a, naxes, axes, mask)) return -1;
    int64_t c = 1;
    for (int i = 0; i < a->ndim; i++)
        if (mask[i]) c *= a->shape[i];
    return c;
}

nb_tensor *nb_mean(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD(a);
    int64_t c = reduced_count("mean", a, naxes, axes);
    if (c < 0) return NULL;
    if (c == 0) return nb_set_error("mean: cannot average over zero elements");
    return nb_mul_scalar(nb_sum(a, naxes, axes, keepdim), 1.0f / (float)c);
}

nb_tensor *nb_mean_all(nb_tensor *a) { return nb_mean(a, 0, NULL, false); }

nb_tensor *nb_var(nb_tensor *a, int naxes, const int *axes, int correction, bool keepdim) {
    NB_NULL_GUARD(a);
    int64_t c = reduced_count("var", a, naxes, axes);
    if (c < 0) return NULL;
    if (correction < 0 || c - correction <= 0)
        return nb_set_error("var: %lld elements with correction %d", (long long)c, correction);
    nb_tensor *d = nb_sub(a, nb_mean(a, naxes, axes, true));
    return nb_mul_scalar(nb_sum(nb_mul(d, d), naxes, axes, keepdim), 1.0f / (float)(c - correction));
}

/* ---- NaN-ignoring and logical reductions, composed ---------------------------------------- */

/* torch's rule: g times the mask of the numbers (so a NaN or inf g still reaches a NaN element
 * as NaN, where a select would give 0) */
static int nansum_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0];
    int64_t ks[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++)
        ks[i] = n->i[i] ? 1 : a->shape[i];
    nb_tensor *gk = nb_reshape(g, a->ndim, ks);
    nb_tensor *num = gk ? nb_logical_not(nb_isnan(a)) : NULL;
    gin[0] = num ? nb_mul(nb_expand(gk, a->ndim, a->shape), num) : NULL;
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_nansum(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    const char *op = "nansum";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    bool mask[NB_MAX_DIMS];
    if (axes_mask(op, a, naxes, axes, mask)) return NULL;
    /* the sum with NaN read as 0, computed without a graph; the node is nansum's own */
    const bool was = nb_set_grad_enabled(false);
    nb_tensor *out = nb_sum(nb_where(nb_isnan(a), nb_scalar_like(a, 0.0f), a), naxes, axes, keepdim);
    nb_set_grad_enabled(was);
    if (!out) return nb_as_op(NULL, op);
    nb_node *n;
    if (!nb_op_finish(out, op, nansum_backward, 1, &a, &n)) return NULL;
    if (n) {
        for (int i = 0; i < a->ndim; i++)
            n->i[i] = mask[i];
        n->unread = NB_UNREAD_OUT; /* reads a's NaNs */
    }
    return out;
}

nb_tensor *nb_nanmean(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD_NAMED("nanmean", a);
    if (nb_check_dtype("nanmean", a, NB_F32, "input")) return NULL;
    /* the sum of the numbers over their count (NaN where there are none, as torch's 0 / 0) */
    nb_tensor *cnt = nb_sum(nb_logical_not(nb_isnan(a)), naxes, axes, keepdim);
    return nb_as_op(cnt ? nb_div(nb_nansum(a, naxes, axes, keepdim), cnt) : NULL, "nanmean");
}

nb_tensor *nb_count_nonzero(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD_NAMED("count_nonzero", a);
    if (nb_check_dtype("count_nonzero", a, NB_F32, "input")) return NULL;
    return nb_as_op(nb_sum(nb_ne(a, nb_scalar_like(a, 0.0f)), naxes, axes, keepdim), "count_nonzero");
}

nb_tensor *nb_any(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    nb_tensor *c = nb_count_nonzero(a, naxes, axes, keepdim);
    return nb_as_op(c ? nb_gt(c, nb_scalar_like(a, 0.0f)) : NULL, "any");
}

nb_tensor *nb_all(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD_NAMED("all", a);
    if (nb_check_dtype("all", a, NB_F32, "input")) return NULL;
    /* no zero among the elements (true over none) */
    nb_tensor *zeros = nb_sum(nb_eq(a, nb_scalar_like(a, 0.0f)), naxes, axes, keepdim);
    return nb_as_op(zeros ? nb_eq(zeros, nb_scalar_like(a, 0.0f)) : NULL, "all");
}

nb_tensor *nb_argmax(nb_tensor *a, int axis, bool keepdim) {
    NB_NULL_GUARD(a);
    if (nb_check_dtype("argmax", a, NB_F32, "input")) return NULL;
    int d = nb_norm_dim("argmax", axis, a->ndim);
    if (d < 0) return NULL;
    if (a->ndim == 0 || a->shape[d] == 0) return nb_set_error("argmax: empty or 0-d input");
    int64_t s[NB_MAX_DIMS];
    memcpy(s, a->shape, sizeof s);
    s[d] = 1;
    nb_tensor *out = nb_new_like_shape(a, NB_I32, a->ndim, s);
    const nb_backend *be = nb_be(a);
    if (!out || !be || be->argmax(out, a, d)) return NULL;
    return keepdim ? out : nb_squeeze(out, d);
}

nb_tensor *nb_std(nb_tensor *a, int naxes, const int *axes, int correction, bool keepdim) {
    NB_NULL_GUARD(a);
    nb_tensor *v = nb_var(a, naxes, axes, correction, keepdim);
    if (!v) nb_rename_error("var", "std");
    return v ? nb_std_sqrt(v) : NULL;
}

/* log(sum(exp(a))) = m + log(sum(exp(a - m))) with m the (constant) max of each slice, replaced
 * by 0 where it is infinite or NaN so that an all -inf slice gives -inf, a +inf one +inf, and NaN
 * propagates; the gradient, through the composition, is the softmax of each slice (exactly: it
 * is exp(a - m) / sum, never exp(a - result), whose result rounds m + log(k) to m for huge m).
 * Over an empty axis: -inf. */
nb_tensor *nb_logsumexp(nb_tensor *a, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD(a);
    if (nb_check_dtype("logsumexp", a, NB_F32, "input")) return NULL;
    bool mask[NB_MAX_DIMS];
    if (axes_mask("logsumexp", a, naxes, axes, mask)) return NULL;
    for (int i = 0; i < a->ndim; i++)
        if (mask[i] && a->shape[i] == 0) /* a sum of nothing: log(0) = -inf, as torch */
            return nb_log(nb_sum(nb_exp(a), naxes, axes, keepdim));
    nb_tensor *m = nb_detach(nb_max(a, naxes, axes, true));
    nb_tensor *z = nb_sub(m, m); /* 0, or NaN where m is not finite */
    m = nb_masked_fill(m, nb_ne(z, z), 0.0f);
    nb_tensor *r = nb_add(nb_log(nb_sum(nb_exp(nb_sub(a, m)), naxes, axes, true)), m);
    if (!r || keepdim) return r;
    int64_t s[NB_MAX_DIMS];
    int nd = reduced_shape(a, mask, false, s);
    return nb_reshape(r, nd, s);
}

nb_tensor *nb_argmin(nb_tensor *a, int axis, bool keepdim) {
    NB_NULL_GUARD(a);
    if (nb_check_dtype("argmin", a, NB_F32, "input")) return NULL;
    bool was = nb_set_grad_enabled(false);              /* an index has no gradient: record nothing */
    nb_tensor *r = nb_argmax(nb_neg(a), axis, keepdim); /* NaN stays NaN: its first index wins, as torch */
    nb_set_grad_enabled(was);
    if (!r) nb_rename_error("argmax", "argmin");
    return r;
}
