/* ops/scan.c - running sums and products along an axis: nb_cumsum, nb_cumprod. The backend runs
 * each line as one serial chain in double (the same order on every backend). The gradient of a
 * running sum is the running sum of the gradient taken from the other end; a running product's
 * is composed (cumprod_backward). */
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

nb_tensor *nb_cumsum(nb_tensor *a, int dim) { return scan_op("cumsum", false, a, dim); }

nb_tensor *nb_cumprod(nb_tensor *a, int dim) { return scan_op("cumprod", true, a, dim); }
