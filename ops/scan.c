/* ops/scan.c - running sums along an axis: nb_cumsum. The backend runs each line as one serial
 * sum in double (the same order on every backend); the gradient of a running sum is the
 * running sum of the gradient taken from the other end. */
#include "ops/op_util.h"

static int cumsum_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    nb_tensor *gi = nb_new_like_shape(g, NB_F32, x->ndim, x->shape);
    if (!gi || nb_be(x)->cumsum(gi, g, (int)n->i[0], true)) return -1;
    gin[0] = gi;
    return 0;
}

nb_tensor *nb_cumsum(nb_tensor *a, int dim) {
    NB_NULL_GUARD_NAMED("cumsum", a);
    if (nb_check_dtype("cumsum", a, NB_F32, "input")) return NULL;
    if (a->ndim == 0) { /* as torch: a 0-d tensor is its own running sum, along dim 0 or -1 */
        if (nb_norm_dim("cumsum", dim, 1) < 0) return NULL;
        return nb_reshape(nb_cumsum(nb_reshape(a, NB_SHAPE(1)), 0), NB_SHAPE0);
    }
    const int d = nb_norm_dim("cumsum", dim, a->ndim);
    if (d < 0) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->cumsum) return nb_unsupported("cumsum", be);
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, a->shape);
    if (!out || be->cumsum(out, a, d, false)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, "cumsum", cumsum_backward, 1, &a, &n)) return NULL;
    if (n) {
        n->i[0] = d;
        n->unread = NB_UNREAD_ALL; /* the rule reads only shapes */
    }
    return out;
}
