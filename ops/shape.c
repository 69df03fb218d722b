/* ops/shape.c - views: reshape, permute, transpose, expand, slice, squeeze,
 * unsqueeze, and contiguous/detach. Views share storage and copy nothing; the
 * backward of each maps the gradient back to the input's geometry. */
#include <string.h>

#include "ops/op_util.h"

/* Strides for viewing (shape, stride) as new_shape without a copy, PyTorch's
 * rule: each run of dims that is contiguous in memory may be re-split. */
static int view_strides(int nd, const int64_t *shape, const int64_t *stride, int new_nd,
                        const int64_t *new_shape, int64_t *new_stride) {
    if (nb_shape_numel(nd, shape) == 0 || nd == 0) {
        nb_contig_strides(new_nd, new_shape, new_stride);
        return 0;
    }
    int view_d = new_nd - 1;
    int64_t chunk = stride[nd - 1], tn = 1, vn = 1;
    for (int d = nd - 1; d >= 0; d--) {
        tn *= shape[d];
        if (d == 0 || (shape[d - 1] != 1 && stride[d - 1] != tn * chunk)) {
            while (view_d >= 0 && (vn < tn || new_shape[view_d] == 1)) {
                new_stride[view_d] = vn * chunk;
                vn *= new_shape[view_d];
                view_d--;
            }
            if (vn != tn) return -1;
            if (d > 0) {
                chunk = stride[d - 1];
                tn = 1;
                vn = 1;
            }
        }
    }
    return view_d == -1 ? 0 : -1;
}

/* Resolves a -1 entry and checks the element count. */
static int infer_shape(const char *op, const nb_tensor *a, int nd, const int64_t *in, int64_t *out) {
    if (nd < 0 || nd > NB_MAX_DIMS || (nd && !in)) return nb_set_error("%s: bad number of dims %d", op, nd), -1;
    int infer = -1;
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        out[i] = in[i];
        if (in[i] == -1) {
            if (infer >= 0) return nb_set_error("%s: more than one -1 in the shape", op), -1;
            infer = i;
        } else if (in[i] < 0) {
            return nb_set_error("%s: negative size %lld", op, (long long)in[i]), -1;
        } else if (__builtin_mul_overflow(n, in[i], &n)) {
            char y[96];
            nb_set_error("%s: shape %s is too large", op, nb_fmt_shape(nd, in, y, sizeof y));
            return -1;
        }
    }
    int64_t total = nb_numel(a);
    if (infer >= 0) {
        if (n == 0 || total % n) goto bad;
        out[infer] = total / n;
        n *= out[infer];
    }
    if (n != total) goto bad;
    return 0;
bad: {
    char x[96], y[96];
    nb_set_error("%s: cannot reshape %s (%lld elements) to %s", op, NB_SHP(a, x), (long long)total,
                 nb_fmt_shape(nd, in, y, sizeof y));
    return -1;
}
}

static int reshape_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    gin[0] = nb_reshape(g, n->in[0]->ndim, n->in[0]->shape);
    return gin[0] ? 0 : -1;
}

static nb_tensor *make_view(const char *op, nb_tensor *a, int nd, const int64_t *shape, const int64_t *stride,
                            int64_t offset, nb_backward_fn bw, nb_node **node) {
    if (node) *node = NULL;
    nb_tensor *v = nb_tensor_view(nb_out_ctx(a), a, nd, shape, stride, offset);
    nb_node *n;
    if (!nb_op_finish(v, op, bw, 1, &a, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_ALL; /* a view's gradient reads no values */
    if (node) *node = n;
    return v;
}

static nb_tensor *reshape_impl(const char *op, nb_tensor *a, int nd, const int64_t *shape, bool allow_copy) {
    NB_NULL_GUARD_NAMED(op, a);
    int64_t s[NB_MAX_DIMS], st[NB_MAX_DIMS];
    if (infer_shape(op, a, nd, shape, s)) return NULL;
    if (view_strides(a->ndim, a->shape, a->stride, nd, s, st) == 0)
        return make_view(op, a, nd, s, st, a->offset, reshape_backward, NULL);
    if (!allow_copy) {
        char x[96];
        return nb_set_error("%s: tensor %s is not contiguous enough for a view; use nb_reshape", op,
                            NB_SHP(a, x));
    }
    nb_tensor *c = nb_contiguous(a);
    if (!c) return NULL;
    nb_contig_strides(nd, s, st);
    return make_view(op, c, nd, s, st, c->offset, reshape_backward, NULL);
}

nb_tensor *nb_reshape(nb_tensor *a, int nd, const int64_t *shape) { return reshape_impl("reshape", a, nd, shape, true); }
nb_tensor *nb_view(nb_tensor *a, int nd, const int64_t *shape) { return reshape_impl("view", a, nd, shape, false); }

nb_tensor *nb_flatten(nb_tensor *a) {
    int64_t n = -1;
    return nb_reshape(a, 1, &n);
}

static int permute_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    int inv[NB_MAX_DIMS];
    for (int i = 0; i < g->ndim; i++) inv[n->i[i]] = i;
    gin[0] = nb_permute(g, inv);
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_permute(nb_tensor *a, const int *perm) {
    NB_NULL_GUARD(a);
    if (!perm && a->ndim) return nb_set_error("permute: NULL permutation");
    int seen[NB_MAX_DIMS] = {0}, p[NB_MAX_DIMS];
    int64_t s[NB_MAX_DIMS], st[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) {
        int d = perm[i] < 0 ? perm[i] + a->ndim : perm[i];
        if (d < 0 || d >= a->ndim || seen[d]++) {
            char x[96];
            return nb_set_error("permute: entry %d (%d) is not a permutation of the %d dims of %s", i, perm[i],
                                a->ndim, NB_SHP(a, x));
        }
        p[i] = d;
        s[i] = a->shape[d];
        st[i] = a->stride[d];
    }
    nb_node *n;
    nb_tensor *v = make_view("permute", a, a->ndim, s, st, a->offset, permute_backward, &n);
    if (n)
        for (int i = 0; i < a->ndim; i++) n->i[i] = p[i];
    return v;
}

nb_tensor *nb_transpose(nb_tensor *a, int d0, int d1) {
    NB_NULL_GUARD(a);
    int x = nb_norm_dim("transpose", d0, a->ndim), y = x < 0 ? -1 : nb_norm_dim("transpose", d1, a->ndim);
    if (x < 0 || y < 0) return NULL;
    int p[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) p[i] = i;
    p[x] = y;
    p[y] = x;
    return nb_permute(a, p);
}

static int expand_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    (void)n;
    gin[0] = g; /* the engine sums it back to the input's shape */
    return 0;
}

nb_tensor *nb_expand(nb_tensor *a, int nd, const int64_t *shape) {
    NB_NULL_GUARD(a);
    if (nd < a->ndim || nd > NB_MAX_DIMS || (nd && !shape))
        return nb_set_error("expand: cannot expand a %d-d tensor to %d dims", a->ndim, nd);
    int64_t s[NB_MAX_DIMS] = {0};
    for (int i = 0; i < nd; i++) {
        int j = i - (nd - a->ndim);
        s[i] = shape[i] == -1 && j >= 0 ? a->shape[j] : shape[i];
        if (s[i] < 0) {
            char y[96];
            return nb_set_error("expand: negative size %lld in %s (-1 keeps a dim)", (long long)shape[i],
                                nb_fmt_shape(nd, shape, y, sizeof y));
        }
    }
    nb_tensor e;
    if (nb_expand_desc(a, nd, s, &e)) {
        char x[96], y[96];
        return nb_set_error("expand: cannot expand %s to %s", NB_SHP(a, x), nb_fmt_shape(nd, s, y, sizeof y));
    }
    int64_t total = 1;
    for (int i = 0; i < nd; i++)
        if (__builtin_mul_overflow(total, e.shape[i], &total)) {
            char y[96];
            return nb_set_error("expand: shape %s is too large", nb_fmt_shape(nd, e.shape, y, sizeof y));
        }
    return make_view("expand", a, nd, e.shape, e.stride, a->offset, expand_backward, NULL);
}

static int slice_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0];
    nb_tensor *z = nb_tensor_new(nb_out_ctx(g), NB_F32, g->device, a->ndim, a->shape);
    if (!z || nb_fill_(z, 0.0)) return -1;
    int dim = (int)n->i[0];
    int64_t st[NB_MAX_DIMS];
    memcpy(st, z->stride, sizeof st);
    st[dim] *= n->i[2];
    nb_tensor *v = nb_tensor_view(z->ctx, z, g->ndim, g->shape, st, n->i[1] * z->stride[dim]);
    if (!v || nb_copy_(v, g)) return -1;
    gin[0] = z;
    return 0;
}

nb_tensor *nb_slice(nb_tensor *a, int dim, int64_t start, int64_t end, int64_t step) {
    NB_NULL_GUARD(a);
    int d = nb_norm_dim("slice", dim, a->ndim);
    if (d < 0) return NULL;
    if (a->ndim == 0) return nb_set_error("slice: cannot slice a 0-d tensor");
    if (step < 1) return nb_set_error("slice: step must be >= 1, got %lld", (long long)step);
    int64_t n = a->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (start > n) start = n;
    if (end > n) end = n;
    if (end < start) end = start;
    int64_t s[NB_MAX_DIMS], st[NB_MAX_DIMS];
    memcpy(s, a->shape, sizeof s);
    memcpy(st, a->stride, sizeof st);
    s[d] = end > start ? 1 + (end - start - 1) / step : 0; /* no overflow for any step */
    st[d] = s[d] > 1 ? a->stride[d] * step : a->stride[d];
    nb_node *node;
    nb_tensor *v = make_view("slice", a, a->ndim, s, st, a->offset + start * a->stride[d], slice_backward, &node);
    if (node) {
        node->i[0] = d;
        node->i[1] = start;
        node->i[2] = step;
    }
    return v;
}

nb_tensor *nb_narrow(nb_tensor *a, int dim, int64_t start, int64_t length) {
    NB_NULL_GUARD(a);
    int d = nb_norm_dim("narrow", dim, a->ndim);
    if (d < 0) return NULL;
    const int64_t s0 = start < 0 && start >= -a->shape[d] ? start + a->shape[d] : start; /* from the end */
    if (s0 < 0 || length < 0 || s0 > a->shape[d] || length > a->shape[d] - s0) {
        char x[96];
        return nb_set_error("narrow: start %lld, length %lld out of bounds for dim %d of %s",
                            (long long)start, (long long)length, dim, NB_SHP(a, x));
    }
    return nb_slice(a, d, s0, s0 + length, 1);
}

nb_tensor *nb_squeeze(nb_tensor *a, int dim) {
    NB_NULL_GUARD(a);
    int d = nb_norm_dim("squeeze", dim, a->ndim);
    if (d < 0) return NULL;
    if (a->ndim == 0) return nb_set_error("squeeze: a 0-d tensor has no dimension to remove");
    if (a->shape[d] != 1) {
        char x[96];
        return nb_set_error("squeeze: dim %d of %s has size %lld, not 1", dim, NB_SHP(a, x),
                            (long long)a->shape[d]);
    }
    int64_t s[NB_MAX_DIMS], st[NB_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < a->ndim; i++)
        if (i != d) s[k] = a->shape[i], st[k++] = a->stride[i];
    return make_view("squeeze", a, k, s, st, a->offset, reshape_backward, NULL);
}

nb_tensor *nb_unsqueeze(nb_tensor *a, int dim) {
    NB_NULL_GUARD(a);
    if (a->ndim >= NB_MAX_DIMS) return nb_set_error("unsqueeze: already %d dims", a->ndim);
    int d = dim < 0 ? dim + a->ndim + 1 : dim;
    if (d < 0 || d > a->ndim) return nb_set_error("unsqueeze: dim %d out of range for %d-d", dim, a->ndim);
    int64_t s[NB_MAX_DIMS], st[NB_MAX_DIMS];
    for (int i = 0, k = 0; i <= a->ndim; i++) {
        if (i == d) {
            s[i] = 1;
            st[i] = i < a->ndim ? a->stride[k] * a->shape[k] : 1;
        } else {
            s[i] = a->shape[k];
            st[i] = a->stride[k++];
        }
    }
    return make_view("unsqueeze", a, a->ndim + 1, s, st, a->offset, reshape_backward, NULL);
}

static int identity_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    (void)n;
    gin[0] = g;
    return 0;
}

nb_tensor *nb_contiguous(nb_tensor *a) {
    NB_NULL_GUARD(a);
    if (nb_is_contiguous(a)) return a;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    nb_tensor *out = nb_new_like_shape(a, a->dtype, a->ndim, a->shape);
    if (!out || be->copy(out, a)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, "contiguous", identity_backward, 1, &a, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_ALL;
    return out;
}

nb_tensor *nb_detach(nb_tensor *a) {
    NB_NULL_GUARD(a);
    return nb_tensor_view(nb_out_ctx(a), a, a->ndim, a->shape, a->stride, a->offset);
}
