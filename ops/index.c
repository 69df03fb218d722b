/* ops/index.c - indexing and joining: cat, stack, split, index_select, gather, index_add,
 * scatter_add, tril, tril_mask, cast.
 * Indices are i32 and bounds-checked here, before any kernel runs, with a message naming the
 * offending index and its position. The backward rules scatter gradients deterministically
 * (index_add / scatter_add kernels never race; see backends/cpu/cpu_index.c). */
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* A view descriptor (no allocation) of `t` narrowed to [start, start+len) along `dim`. */
static nb_tensor narrow_desc(const nb_tensor *t, int dim, int64_t start, int64_t len) {
    nb_tensor d = *t;
    d.shape[dim] = len;
    d.offset = t->offset + start * t->stride[dim];
    return d;
}

/* ---- cat / split ----------------------------------------------------------------------------- */

static int cat_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    int dim = (int)n->i[0];
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        nb_tensor *x = n->in[i];
        if (x->requires_grad) {
            nb_tensor d = narrow_desc(g, dim, off, x->shape[dim]);
            gin[i] = nb_tensor_view(nb_out_ctx(g), g, d.ndim, d.shape, d.stride, d.offset);
            if (!gin[i]) return -1;
        }
        off += x->shape[dim];
    }
    return 0;
}

nb_tensor *nb_cat(nb_tensor *const *ts, int n, int dim) {
    if (n <= 0 || !ts) return nb_set_error("cat: needs at least one tensor (got n=%d)", n);
    for (int i = 0; i < n; i++)
        if (!ts[i]) {
            if (!nb_last_error()[0]) nb_set_error("cat: tensor %d is NULL", i);
            return NULL;
        }
    const nb_tensor *f = ts[0];
    int d = nb_norm_dim("cat", dim, f->ndim);
    if (d < 0) return NULL;
    if (f->ndim == 0) return nb_set_error("cat: cannot concatenate 0-d tensors");
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const nb_tensor *t = ts[i];
        char x[96], y[96];
        if (t->dtype != f->dtype || t->device != f->device)
            return nb_set_error("cat: tensor %d is %s on %s but tensor 0 is %s on %s", i,
                                nb_dtype_name(t->dtype), nb_device_name(t->device), nb_dtype_name(f->dtype),
                                nb_device_name(f->device));
        bool ok = t->ndim == f->ndim;
        for (int k = 0; ok && k < f->ndim; k++)
            ok = k == d || t->shape[k] == f->shape[k];
        if (!ok)
            return nb_set_error("cat: tensor %d has shape %s but tensor 0 has %s (only dim %d may "
                                "differ)",
                                i, NB_SHP(t, x), NB_SHP(f, y), dim);
        total += t->shape[d];
    }
    const nb_backend *be = nb_be(f);
    if (!be) return NULL;
    int64_t s[NB_MAX_DIMS];
    memcpy(s, f->shape, sizeof s);
    s[d] = total;
    nb_tensor *out = nb_new_like_shape(f, f->dtype, f->ndim, s);
    if (!out) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        nb_tensor v = narrow_desc(out, d, off, ts[i]->shape[d]);
        if (nb_numel(&v) && be->copy(&v, ts[i])) return NULL;
        off += ts[i]->shape[d];
    }
    nb_node *node;
    if (!nb_op_finish(out, "cat", f->dtype == NB_F32 ? cat_backward : NULL, n, ts, &node)) return NULL;
    if (node) node->i[0] = d, node->unread = NB_UNREAD_ALL;
    return out;
}

/* stack = cat of the inputs, each with a new size-1 dim at `dim` (views: nothing is copied twice). */
nb_tensor *nb_stack(nb_tensor *const *ts, int n, int dim) {
    if (n <= 0 || !ts) return nb_set_error("stack: needs at least one tensor (got n=%d)", n);
    for (int i = 0; i < n; i++)
        if (!ts[i]) {
            if (!nb_last_error()[0]) nb_set_error("stack: tensor %d is NULL", i);
            return NULL;
        }
    for (int i = 1; i < n; i++)
        if (!nb_same_shape(ts[i], ts[0])) {
            char x[96], y[96];
            return nb_set_error("stack: tensor %d has shape %s but tensor 0 has %s (all must match)", i,
                                NB_SHP(ts[i], x), NB_SHP(ts[0], y));
        }
    if (dim < -(ts[0]->ndim + 1) || dim > ts[0]->ndim)
        return nb_set_error("stack: dim %d out of range for %d-d tensors", dim, ts[0]->ndim);
    nb_tensor **u = nb_ctx_alloc(nb_out_ctx(ts[0]), sizeof *u * (size_t)n, sizeof *u);
    if (!u) return NULL;
    for (int i = 0; i < n; i++)
        if (!(u[i] = nb_unsqueeze(ts[i], dim))) return NULL;
    nb_tensor *out = nb_cat(u, n, dim);
    if (!out) nb_rename_error("cat", "stack");
    return out;
}

int nb_split(nb_tensor *a, int dim, int n, const int64_t *sizes, nb_tensor **out) {
    if (!out || n <= 0 || !sizes)
        return nb_set_error("split: needs n >= 1 sizes and an output array (n=%d)", n), -1;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (!a) {
        if (!nb_last_error()[0]) nb_set_error("split: NULL tensor");
        return -1;
    }
    int d = nb_norm_dim("split", dim, a->ndim);
    if (d < 0) return -1;
    if (a->ndim == 0) return nb_set_error("split: cannot split a 0-d tensor"), -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return nb_set_error("split: size %d is negative (%lld)", i, (long long)sizes[i]), -1;
        if (__builtin_add_overflow(total, sizes[i], &total))
            return nb_set_error("split: sizes add up to more than 2^63"), -1;
    }
    if (total != a->shape[d]) {
        char x[96];
        return nb_set_error("split: sizes add up to %lld but dim %d of %s has %lld", (long long)total, dim,
                            NB_SHP(a, x), (long long)a->shape[d]),
               -1;
    }
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!(out[i] = nb_narrow(a, d, off, sizes[i]))) {
            for (int k = 0; k < i; k++)
                out[k] = NULL;
            return -1;
        }
        off += sizes[i];
    }
    return 0;
}

/* ---- index checks -------------------------------------------------------------------------- */

/* Checks every index of an i32 tensor lies in [0, size); -1 with a message naming the first
 * bad one (its value and position) otherwise. */
static int check_indices(const char *op, const nb_tensor *idx, int64_t size, const char *what) {
    int64_t n = nb_numel(idx);
    if (n == 0) return 0;
    const int32_t *p = NULL;
    int32_t *buf = NULL;
    bool direct = idx->device == NB_CPU && nb_is_contiguous(idx);
    if (direct) {
        p = (const int32_t *)nb_data(idx);
    } else {
        buf = malloc((size_t)n * sizeof *buf);
        if (!buf) return nb_set_error("%s: out of memory checking %lld indices", op, (long long)n), -1;
        if (nb_to_array(idx, NB_I32, buf)) {
            free(buf);
            return -1;
        }
        p = buf;
    }
    int rc = 0;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= size) {
            char x[96];
            nb_set_error("%s: index %d at position %lld is out of range for %s of size %lld (index "
                         "tensor %s)",
                         op, (int)p[i], (long long)i, what, (long long)size, NB_SHP(idx, x));
            rc = -1;
            break;
        }
    }
    free(buf);
    return rc;
}

/* Checks the input (f32 or i32) and the index (i32) of an indexing op. */
static int check_index_tensor(const char *op, const nb_tensor *a, const nb_tensor *idx) {
    if (a->dtype != NB_F32 && a->dtype != NB_I32)
        return nb_set_error("%s: input must be f32 or i32, got %s", op, nb_dtype_name(a->dtype)), -1;
    if (nb_check_dtype(op, idx, NB_I32, "index") || nb_same_device(op, a, idx)) return -1;
    return 0;
}

/* ---- index_select ----------------------------------------------------------------------------- */

/* Scatters g into a's gradient: straight into the leaf's grad when a is a leaf (no [V,C]
 * temporary), else into a zero-filled gradient. */
static int index_select_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0], *idx = n->in[1];
    const nb_backend *be = nb_be(g);
    if (!be) return -1;
    nb_tensor *lg = nb_node_leaf_grad(n, 0); /* NULL: not a leaf, or recycling off */
    if (lg && nb_is_contiguous(lg)) {
        if (be->index_add(lg, (int)n->i[0], idx, g)) return -1;
        gin[0] = NB_GIN_ACCUMULATED;
        return 0;
    }
    nb_tensor *z = nb_new_like_shape(g, NB_F32, a->ndim, a->shape);
    if (!z || be->fill(z, 0.0) || be->index_add(z, (int)n->i[0], idx, g)) return -1;
    gin[0] = z;
    return 0;
}

nb_tensor *nb_index_select(nb_tensor *a, int dim, nb_tensor *idx) {
    NB_NULL_GUARD(a, idx);
    if (check_index_tensor("index_select", a, idx)) return NULL;
    int d = nb_norm_dim("index_select", dim, a->ndim);
    if (d < 0) return NULL;
    char x[96], y[96];
    if (a->ndim == 0) return nb_set_error("index_select: cannot index a 0-d tensor");
    if (idx->ndim != 1)
        return nb_set_error("index_select: index must be 1-D, got %s (input %s)", NB_SHP(idx, x),
                            NB_SHP(a, y));
    char what[64];
    snprintf(what, sizeof what, "dim %d", d);
    if (check_indices("index_select", idx, a->shape[d], what)) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->index_select) return nb_unsupported("index_select", be);
    int64_t s[NB_MAX_DIMS];
    memcpy(s, a->shape, sizeof s);
    s[d] = idx->shape[0];
    nb_tensor *out = nb_new_like_shape(a, a->dtype, a->ndim, s);
    if (!out || (nb_numel(out) && be->index_select(out, a, d, idx))) return NULL;
    nb_tensor *ins[2] = {a, idx};
    nb_node *node;
    if (!nb_op_finish(out, "index_select", index_select_backward, 2, ins, &node)) return NULL;
    if (node) node->i[0] = d, node->unread = NB_UNREAD_IN(0) | NB_UNREAD_OUT; /* reads idx only */
    return out;
}

/* ---- gather ----------------------------------------------------------------------------------- */

static int gather_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0], *idx = n->in[1];
    const nb_backend *be = nb_be(g);
    nb_tensor *z = be ? nb_new_like_shape(g, NB_F32, a->ndim, a->shape) : NULL;
    if (!z || be->fill(z, 0.0) || be->scatter_add(z, (int)n->i[0], idx, g)) return -1;
    gin[0] = z;
    return 0;
}

nb_tensor *nb_gather(nb_tensor *a, int dim, nb_tensor *idx) {
    NB_NULL_GUARD(a, idx);
    if (check_index_tensor("gather", a, idx)) return NULL;
    int d = nb_norm_dim("gather", dim, a->ndim);
    if (d < 0) return NULL;
    char x[96], y[96];
    if (a->ndim == 0) return nb_set_error("gather: cannot index a 0-d tensor");
    bool ok = idx->ndim == a->ndim;
    for (int k = 0; ok && k < a->ndim; k++)
        ok = k == d || idx->shape[k] <= a->shape[k];
    if (!ok)
        return nb_set_error("gather: index %s must have the input's ndim and no larger sizes "
                            "outside dim %d (input %s)",
                            NB_SHP(idx, x), dim, NB_SHP(a, y));
    char what[64];
    snprintf(what, sizeof what, "dim %d", d);
    if (check_indices("gather", idx, a->shape[d], what)) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->gather) return nb_unsupported("gather", be);
    nb_tensor *out = nb_new_like_shape(a, a->dtype, idx->ndim, idx->shape);
    if (!out || (nb_numel(out) && be->gather(out, a, d, idx))) return NULL;
    nb_tensor *ins[2] = {a, idx};
    nb_node *node;
    if (!nb_op_finish(out, "gather", gather_backward, 2, ins, &node)) return NULL;
    if (node) node->i[0] = d, node->unread = NB_UNREAD_IN(0) | NB_UNREAD_OUT; /* reads idx only */
    return out;
}

/* ---- index_add / scatter_add: gather's and index_select's adjoints as ops ------------------- */

/* a's gradient passes through; src's is the matching read of g (index_select or gather). */
static int scatter_ops_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0], *idx = n->in[1], *src = n->in[2];
    const int d = (int)n->i[0];
    if (a->requires_grad) gin[0] = g;
    if (src->requires_grad)
        if (!(gin[2] = n->i[1] ? nb_gather(g, d, idx) : nb_index_select(g, d, idx))) return -1;
    return 0;
}

/* out = a, then `add` (be->index_add or be->scatter_add) of src at idx along d; recorded. */
static nb_tensor *scatter_into(const char *op, bool scatter, nb_tensor *a, int d, nb_tensor *idx,
                               nb_tensor *src) {
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->copy || !(scatter ? be->scatter_add : be->index_add)) return nb_unsupported(op, be);
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, a->shape);
    if (!out || (nb_numel(out) && be->copy(out, a))) return NULL;
    if (nb_numel(out) && nb_numel(idx) &&
        (scatter ? be->scatter_add(out, d, idx, src) : be->index_add(out, d, idx, src)))
        return NULL;
    nb_tensor *ins[3] = {a, idx, src};
    nb_node *node;
    if (!nb_op_finish(out, op, scatter_ops_backward, 3, ins, &node)) return NULL;
    if (node)
        node->i[0] = d, node->i[1] = scatter,
        node->unread = NB_UNREAD_IN(0) | NB_UNREAD_IN(2) | NB_UNREAD_OUT; /* reads idx only */
    return out;
}

static int check_scatter_operands(const char *op, const nb_tensor *a, const nb_tensor *idx,
                                  const nb_tensor *src) {
    if (nb_check_dtype(op, a, NB_F32, "input") || nb_check_dtype(op, src, NB_F32, "source") ||
        nb_check_dtype(op, idx, NB_I32, "index") || nb_same_device(op, a, idx) || nb_same_device(op, a, src))
        return -1;
    if (a->ndim == 0) return nb_set_error("%s: cannot index a 0-d tensor", op), -1;
    return 0;
}

nb_tensor *nb_index_add(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src, float alpha) {
    NB_NULL_GUARD(a, idx, src);
    const char *op = "index_add";
    if (check_scatter_operands(op, a, idx, src)) return NULL;
    int d = nb_norm_dim(op, dim, a->ndim);
    if (d < 0) return NULL;
    char x[96], y[96], z[96];
    bool ok = idx->ndim == 1 && src->ndim == a->ndim && src->shape[d] == idx->shape[0];
    for (int k = 0; ok && k < a->ndim; k++)
        ok = k == d || src->shape[k] == a->shape[k];
    if (!ok)
        return nb_set_error("%s: source %s must be input %s with dim %d the index's length (index %s, "
                            "1-D)",
                            op, NB_SHP(src, x), NB_SHP(a, y), d, NB_SHP(idx, z));
    char what[64];
    snprintf(what, sizeof what, "dim %d", d);
    if (check_indices(op, idx, a->shape[d], what)) return NULL;
    if (alpha != 1.0f && !(src = nb_mul_scalar(src, alpha))) return nb_as_op(NULL, op);
    return scatter_into(op, false, a, d, idx, src);
}

nb_tensor *nb_scatter_add(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src) {
    NB_NULL_GUARD(a, idx, src);
    const char *op = "scatter_add";
    if (check_scatter_operands(op, a, idx, src)) return NULL;
    int d = nb_norm_dim(op, dim, a->ndim);
    if (d < 0) return NULL;
    char x[96], y[96], z[96];
    bool ok = idx->ndim == a->ndim && src->ndim == a->ndim;
    for (int k = 0; ok && k < a->ndim; k++)
        ok = idx->shape[k] <= src->shape[k] && (k == d || idx->shape[k] <= a->shape[k]);
    if (!ok)
        return nb_set_error("%s: index %s must have the input's ndim, be no larger than the source %s, "
                            "and no larger than the input %s outside dim %d",
                            op, NB_SHP(idx, x), NB_SHP(src, y), NB_SHP(a, z), d);
    char what[64];
    snprintf(what, sizeof what, "dim %d", d);
    if (check_indices(op, idx, a->shape[d], what)) return NULL;
    /* the source's part that the index covers (torch reads only that), as a recorded view */
    for (int k = 0; k < a->ndim && src; k++)
        if (src->shape[k] != idx->shape[k]) src = nb_narrow(src, k, 0, idx->shape[k]);
    if (!src) return nb_as_op(NULL, op);
    return scatter_into(op, true, a, d, idx, src);
}

/* ---- tril ------------------------------------------------------------------------------------- */

static int tril_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    gin[0] = nb_tril(g, n->i[0]);
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_tril(nb_tensor *a, int64_t k) {
    NB_NULL_GUARD(a);
    if (a->ndim < 2) {
        char x[96];
        return nb_set_error("tril: needs at least 2 dims, got %s", NB_SHP(a, x));
    }
    if (a->dtype != NB_F32 && a->dtype != NB_I32)
        return nb_set_error("tril: dtype %s not supported (f32 or i32)", nb_dtype_name(a->dtype));
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->tril) return nb_unsupported("tril", be);
    nb_tensor *out = nb_new_like_shape(a, a->dtype, a->ndim, a->shape);
    if (!out || (nb_numel(out) && be->tril(out, a, k))) return NULL;
    nb_node *node;
    if (!nb_op_finish(out, "tril", a->dtype == NB_F32 ? tril_backward : NULL, 1, &a, &node)) return NULL;
    if (node) node->i[0] = k, node->unread = NB_UNREAD_ALL;
    return out;
}

nb_tensor *nb_triu(nb_tensor *a, int64_t k) {
    NB_NULL_GUARD_NAMED("triu", a);
    char as[64];
    if (a->ndim < 2) return nb_set_error("triu: want at least 2 dims, got %s", NB_SHP(a, as));
    if (k <= INT64_MIN + 1 || k == INT64_MAX)
        return nb_set_error("triu: diagonal %lld out of range", (long long)k);
    /* the lower triangle at -k of the transposed view, transposed back: a[i][j] kept where j - i >= k */
    const int d = a->ndim;
    nb_tensor *t = nb_tril(nb_transpose(a, d - 2, d - 1), -k);
    return nb_as_op(t ? nb_transpose(t, d - 2, d - 1) : NULL, "triu");
}

nb_tensor *nb_tril_mask(nb_ctx *ctx, int64_t n) {
    if (!ctx) ctx = nb_ctx_current();
    if (!ctx) return nb_set_error("tril_mask: no context given and none current");
    if (n < 0) return nb_set_error("tril_mask: negative size %lld", (long long)n);
    nb_tensor *m = nb_tensor_new(ctx, NB_F32, NB_CPU, 2, (const int64_t[]){n, n});
    const nb_backend *be = nb_backend_get(NB_CPU);
    if (!m || !be || be->fill(m, 1.0) || (n && be->tril(m, m, 0))) return NULL;
    return m;
}

/* ---- cast ------------------------------------------------------------------------------------- */

static int cast_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    (void)n;
    gin[0] = g;
    return 0;
}

nb_tensor *nb_cast(nb_tensor *a, nb_dtype dt) {
    NB_NULL_GUARD(a);
    if (nb_dtype_size(dt) == 0) return nb_set_error("cast: invalid dtype %d", (int)dt);
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    nb_tensor *out = nb_new_like_shape(a, dt, a->ndim, a->shape);
    if (!out || (nb_numel(out) && be->copy(out, a))) return NULL;
    bool diff = a->dtype == NB_F32 && dt == NB_F32;
    nb_node *n;
    if (!nb_op_finish(out, "cast", diff ? cast_backward : NULL, 1, &a, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_ALL;
    return out;
}

/* eq(idx as f32 with a trailing dim of 1, arange(C)): the classes are checked first (one
 * read-back of the min and max on a GPU), as torch. */
nb_tensor *nb_one_hot(nb_tensor *idx, int64_t num_classes) {
    NB_NULL_GUARD_NAMED("one_hot", idx);
    if (nb_check_dtype("one_hot", idx, NB_I32, "index")) return NULL;
    if (num_classes > (1 << 24))
        return nb_set_error("one_hot: %lld classes is more than f32 can count exactly",
                            (long long)num_classes);
    nb_tensor *t = nb_cast(idx, NB_F32);
    if (!t) return NULL;
    double lo = 0, hi = -1;
    if (nb_numel(idx) > 0) {
        bool g = nb_no_grad_begin();
        lo = nb_item(nb_min(t, 0, NULL, false));
        hi = nb_item(nb_max(t, 0, NULL, false));
        nb_no_grad_end(g);
        if (lo < 0) return nb_set_error("one_hot: index %lld is negative", (long long)lo);
    } else if (num_classes < 0) {
        return nb_set_error("one_hot: cannot infer the number of classes from an empty index");
    }
    const int64_t C = num_classes < 0 ? (int64_t)hi + 1 : num_classes;
    if (hi >= (double)C)
        return nb_set_error("one_hot: index %lld is out of range for %lld classes", (long long)hi,
                            (long long)C);
    nb_tensor *classes = nb_arange_on(nb_out_ctx(idx), NB_F32, idx->device, 0, (double)C, 1);
    return classes ? nb_eq(nb_unsqueeze(t, -1), classes) : NULL;
}
