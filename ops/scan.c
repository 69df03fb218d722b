/* ops/scan.c - running sums, products, extremes and log-sum-exps along an axis: nb_cumsum,
 * nb_cumprod, nb_cummax, nb_cummin, nb_logcumsumexp. The backend runs each line as one serial
 * chain (in double for the sums and products; the same order on every backend). The gradient of a
 * running sum is the running sum of the gradient taken from the other end; a running product's
 * is composed (cumprod_backward). */
#include <stdint.h>

#include "ops/op_util.h"

/* The running sum of g from the far end of dim, in a new tensor of x's shape. */
static nb_tensor *rcumsum(nb_tensor *g, const nb_tensor *x, int dim) {
    nb_tensor *gi = nb_new_like_shape(g, NB_F32, x->ndim, x->shape);
    return gi && !nb_be(x)->cumsum(gi, g, dim, true) ? gi : NULL;
}

static int cumsum_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    gin[0] = rcumsum(g, n->in[0], (int)n->i[0]);
    return gin[0] ? 0 : -1;
}

/* d y_j / d x_i is the product of x_0..x_j without x_i (j >= i). Before a line's first zero that
 * is y_j / x_i, so there the gradient is rcumsum(g y) / x_i over the j before the zero (torch's
 * rule; the y_j past it are 0, and an inf or NaN there must not reach the sum as 0 inf); at the
 * first zero it is y'_j, the running product with that zero read as 1, so rcumsum(g y') over the
 * j up to the second zero; past it, 0. A line of one element passes g, as torch. */
static int cumprod_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *y = n->out;
    const int d = (int)n->i[0];
    if (x->shape[d] == 1) {
        gin[0] = g;
        return 0;
    }
    nb_tensor *zero = nb_scalar_like(x, 0.0f), *one = nb_scalar_like(x, 1.0f);
    nb_tensor *isz = zero ? nb_eq(x, zero) : NULL, *seen = isz ? nb_cumsum(isz, d) : NULL;
    nb_tensor *before = seen ? nb_eq(seen, zero) : NULL, *one_seen = seen ? nb_eq(seen, one) : NULL;
    nb_tensor *first = before && one_seen ? nb_mul(isz, one_seen) : NULL;
    nb_tensor *gy = first ? rcumsum(nb_where(before, nb_mul(g, y), zero), x, d) : NULL;
    nb_tensor *y1 = gy ? nb_cumprod(nb_where(first, one, x), d) : NULL;
    nb_tensor *gz = y1 ? rcumsum(nb_where(one_seen, nb_mul(g, y1), zero), x, d) : NULL;
    gin[0] = gz ? nb_where(before, nb_div(gy, x), nb_where(first, gz, zero)) : NULL;
    return gin[0] ? 0 : -1;
}

static nb_tensor *scan_op(const char *op, bool prod, nb_tensor *a, int dim) {
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    if (a->ndim == 0) { /* as torch: a 0-d tensor is its own running sum or product, along 0 or -1 */
        if (nb_norm_dim(op, dim, 1) < 0) return NULL;
        return nb_reshape(scan_op(op, prod, nb_reshape(a, NB_SHAPE(1)), 0), NB_SHAPE0);
    }
    const int d = nb_norm_dim(op, dim, a->ndim);
    if (d < 0) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    int (*kernel)(nb_tensor *, const nb_tensor *, int, bool) = prod ? be->cumprod : be->cumsum;
    if (!kernel || (prod && !be->cumsum)) return nb_unsupported(op, be);
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, a->shape);
    if (!out || kernel(out, a, d, false)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, op, prod ? cumprod_backward : cumsum_backward, 1, &a, &n)) return NULL;
    if (n) {
        n->i[0] = d;
        n->unread = prod ? 0 : NB_UNREAD_ALL; /* a sum's rule reads only shapes */
    }
    return out;
}

/* ---- running extremes and log-sum-exp ---------------------------------------------------- */

/* each gradient goes to the element the running extreme came from (torch's scatter_add of g
 * at the indices) */
static int cummax_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    nb_tensor *z = nb_full_on(nb_out_ctx(g), NB_F32, x->device, x->ndim, x->shape, 0.0);
    gin[0] = z ? nb_scatter_add(z, (int)n->i[0], n->saved[0], g) : NULL;
    return gin[0] ? 0 : -1;
}

/* the dim normalised (a 0-d tensor is its own scan along 0 or -1), or -1 with an error */
static int scan_dim(const char *op, nb_tensor *a, int dim) {
    if (nb_check_dtype(op, a, NB_F32, "input")) return -1;
    return nb_norm_dim(op, dim, a->ndim ? a->ndim : 1);
}

static nb_tensor *cum_extreme(const char *op, bool min, nb_tensor *a, int dim, nb_tensor **indices) {
    if (indices) *indices = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    const int d = scan_dim(op, a, dim);
    if (d < 0) return NULL;
    if (a->ndim == 0) { /* as a [1] along 0, then 0-d again */
        nb_tensor *i1 = NULL, *v = cum_extreme(op, min, nb_reshape(a, NB_SHAPE(1)), 0, &i1);
        if (indices && v) *indices = nb_reshape(i1, NB_SHAPE0);
        return v ? nb_reshape(v, NB_SHAPE0) : NULL;
    }
    if (a->shape[d] > INT32_MAX) {
        char s[96];
        return nb_set_error("%s: dim %d of %s is longer than i32 positions reach", op, d, NB_SHP(a, s));
    }
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->cummax) return nb_unsupported(op, be);
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, a->shape);
    nb_tensor *idx = out ? nb_new_like_shape(a, NB_I32, a->ndim, a->shape) : NULL;
    if (!idx || be->cummax(out, idx, a, d, min)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, op, cummax_backward, 1, &a, &n)) return NULL;
    if (n) {
        n->i[0] = d;
        nb_node_save(n, 0, idx);
        n->unread = NB_UNREAD_ALL; /* the rule reads the saved indices only */
    }
    if (indices) *indices = idx;
    return out;
}

nb_tensor *nb_cummax(nb_tensor *a, int dim, nb_tensor **indices) {
    return cum_extreme("cummax", false, a, dim, indices);
}
nb_tensor *nb_cummin(nb_tensor *a, int dim, nb_tensor **indices) {
    return cum_extreme("cummin", true, a, dim, indices);
}

/* torch's rule (logcumsumexp_backward): with y the output, the gradient at x_i is
 * sum_{j >= i} g_j e^(x_i - y_j), taken for the positive and the negative g separately in log
 * space, each a reversed logcumsumexp of log|g| - y (g's sign elsewhere read as the lowest
 * float), plus x, exponentiated: so no e^x or e^-y is formed on its own to overflow */
static int logcumsumexp_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *y = n->out;
    const int d = (int)n->i[0];
    nb_tensor *zero = nb_scalar_like(x, 0.0f), *lowest = nb_scalar_like(x, -3.40282347e38f);
    nb_tensor *lg = zero && lowest ? nb_log(nb_abs(g)) : NULL;
    nb_tensor *side[2];
    for (int s = 0; s < 2; s++) {
        nb_tensor *keep = lg ? (s == 0 ? nb_gt(g, zero) : nb_lt(g, zero)) : NULL;
        nb_tensor *t = keep ? nb_sub(nb_where(keep, lg, lowest), y) : NULL;
        nb_tensor *r = t ? nb_flip(nb_logcumsumexp(nb_flip(t, 1, &d), d), 1, &d) : NULL;
        side[s] = r ? nb_exp(nb_add(r, x)) : NULL;
    }
    gin[0] = side[0] && side[1] ? nb_sub(side[0], side[1]) : NULL;
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_logcumsumexp(nb_tensor *a, int dim) {
    const char *op = "logcumsumexp";
    NB_NULL_GUARD_NAMED(op, a);
    const int d = scan_dim(op, a, dim);
    if (d < 0) return NULL;
    /* 0-d: log(e^-inf + e^a) = a (+0 for -0, as torch's step), and torch passes g through */
    if (a->ndim == 0) return nb_as_op(nb_add_scalar(a, 0.0f), op);
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->logcumsumexp) return nb_unsupported(op, be);
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, a->shape);
    if (!out || be->logcumsumexp(out, a, d)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, op, logcumsumexp_backward, 1, &a, &n)) return NULL;
    if (n) n->i[0] = d;
    return out;
}

nb_tensor *nb_cumsum(nb_tensor *a, int dim) { return scan_op("cumsum", false, a, dim); }

nb_tensor *nb_cumprod(nb_tensor *a, int dim) { return scan_op("cumprod", true, a, dim); }
