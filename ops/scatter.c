/* ops/scatter.c - writing into chosen places: nb_index_fill, nb_index_copy, nb_scatter,
 * nb_scatter_value, nb_masked_scatter. Composed: the places are marked by scatter_add /
 * index_add of ones, the values arrive by scatter_add / index_add into zeros, and `where` picks
 * them over the input, so the gradients are those ops' (the input's g where nothing was
 * written, the source's g read back at its places). torch leaves the result of a place written
 * twice unspecified; here that is refused (but for a single value, which any order writes alike),
 * so every backend gives one answer. Values are added into -0, which keeps every x (-0 too). */
#include <stdlib.h>

#include "ops/op_util.h"

/* a shape of `like`'s ndim with dim d of size n and 1 elsewhere */
static void along(const nb_tensor *like, int d, int64_t n, int64_t *s) {
    for (int i = 0; i < like->ndim; i++)
        s[i] = i == d ? n : 1;
}

/* 0, or -1 with an error when a count of writes (f32) exceeds 1 somewhere (read back: a sync on
 * a GPU, as torch's checks) */
static int once_each(const char *op, nb_tensor *count) {
    if (nb_numel(count) == 0) return 0; /* nothing written */
    nb_tensor *m = nb_max(count, 0, NULL, false);
    if (!m) return -1;
    const float most = nb_item(m);
    if (most > 1.0f)
        return nb_set_error("%s: an index repeats, writing one place %g times (torch leaves the result "
                            "unspecified)",
                            op, (double)most),
               -1;
    return 0;
}

/* idx (i32, any shape) with negative entries wrapped into [0, n) as torch's (n + i), read and
 * rebuilt on the host; an entry outside [-n, n) is left for the op's own bounds check to name */
nb_tensor *nb_wrap_index(nb_tensor *idx, int64_t n) {
    nb_tensor *h = nb_host_copy(idx);
    if (!h) return NULL;
    const int32_t *v = (const int32_t *)nb_data(h);
    const int64_t k = nb_numel(h);
    bool any = false;
    for (int64_t i = 0; i < k && !any; i++)
        any = v[i] < 0;
    if (!any) return idx;
    int32_t *w = malloc((size_t)(k ? k : 1) * sizeof *w);
    if (!w) return nb_set_error("out of memory for %lld indices", (long long)k);
    for (int64_t i = 0; i < k; i++)
        w[i] = v[i] < 0 && v[i] >= -n ? (int32_t)(v[i] + n) : v[i];
    nb_tensor *t = nb_host_like(idx, NB_I32, idx->ndim, idx->shape, w);
    free(w);
    return t;
}

/* dim d's places hit by the 1-D index idx, as an f32 count of a's ndim broadcasting along d */
static nb_tensor *index_count(nb_tensor *a, int d, nb_tensor *idx) {
    nb_ctx *c = nb_out_ctx(a);
    nb_tensor *z = nb_full_on(c, NB_F32, a->device, 1, &a->shape[d], 0.0);
    nb_tensor *ones = idx->ndim == 1 ? nb_full_on(c, NB_F32, a->device, 1, idx->shape, 1.0) : NULL;
    if (z && idx->ndim != 1) return nb_set_error("index is %d-d (want 1-d)", idx->ndim);
    nb_tensor *cnt = z && ones ? nb_index_add(z, 0, idx, ones, 1.0f) : NULL;
    int64_t s[NB_MAX_DIMS];
    along(a, d, a->shape[d], s);
    return cnt ? nb_reshape(cnt, a->ndim, s) : NULL;
}

nb_tensor *nb_index_fill(nb_tensor *a, int dim, nb_tensor *idx, float value) {
    const char *op = "index_fill";
    NB_NULL_GUARD_NAMED(op, a, idx);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    const int d = nb_norm_dim(op, dim, a->ndim ? a->ndim : 1);
    if (d < 0) return NULL;
    if (a->ndim == 0)
        return nb_as_op(nb_reshape(nb_index_fill(nb_reshape(a, NB_SHAPE(1)), 0, idx, value), NB_SHAPE0), op);
    /* a 0-d index is one place; negative ones count from the end (torch); a repeated index fills
     * the same value twice: allowed, as torch */
    if (nb_check_dtype(op, idx, NB_I32, "index")) return NULL;
    if (idx->ndim == 0 && !(idx = nb_reshape(idx, NB_SHAPE(1)))) return nb_as_op(NULL, op);
    if (!(idx = nb_wrap_index(idx, a->shape[d]))) return nb_as_op(NULL, op);
    nb_tensor *cnt = index_count(a, d, idx);
    nb_tensor *hit = cnt ? nb_gt(cnt, nb_scalar_like(a, 0.0f)) : NULL;
    return nb_as_op(hit ? nb_where(hit, nb_scalar_like(a, value), a) : NULL, op);
}

nb_tensor *nb_index_copy(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src) {
    const char *op = "index_copy";
    NB_NULL_GUARD_NAMED(op, a, idx, src);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    const int d = nb_norm_dim(op, dim, a->ndim ? a->ndim : 1);
    if (d < 0) return NULL;
    if (a->ndim == 0) { /* as a [1] and back (torch takes a 0-d input and source) */
        nb_tensor *s1 = src->ndim == 0 ? nb_reshape(src, NB_SHAPE(1)) : src;
        return nb_as_op(nb_reshape(nb_index_copy(nb_reshape(a, NB_SHAPE(1)), 0, idx, s1), NB_SHAPE0), op);
    }
    if (nb_check_dtype(op, idx, NB_I32, "index")) return NULL;
    if (idx->ndim == 0 && !(idx = nb_reshape(idx, NB_SHAPE(1)))) return nb_as_op(NULL, op);
    nb_tensor *cnt = index_count(a, d, idx);
    if (!cnt || once_each(op, cnt)) return nb_as_op(NULL, op);
    /* written into -0 (x + -0 is x, signed zeros included), picked over a where written */
    nb_tensor *z = nb_full_on(nb_out_ctx(a), NB_F32, a->device, a->ndim, a->shape, -0.0);
    nb_tensor *put = z ? nb_index_add(z, d, idx, src, 1.0f) : NULL;
    return nb_as_op(put ? nb_where(nb_gt(cnt, nb_scalar_like(a, 0.0f)), put, a) : NULL, op);
}

static nb_tensor *scatter_impl(const char *op, nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src,
                               float value) {
    if (nb_check_dtype(op, a, NB_F32, "input") || nb_check_dtype(op, idx, NB_I32, "index")) return NULL;
    const int d = nb_norm_dim(op, dim, a->ndim ? a->ndim : 1);
    if (d < 0) return NULL;
    if (a->ndim == 0) { /* as [1]s and back (torch takes 0-d tensors) */
        nb_tensor *i1 = nb_reshape(idx, NB_SHAPE(1)), *s1 = src ? nb_reshape(src, NB_SHAPE(1)) : NULL;
        nb_tensor *r =
            i1 && (s1 || !src) ? scatter_impl(op, nb_reshape(a, NB_SHAPE(1)), 0, i1, s1, value) : NULL;
        return nb_as_op(r ? nb_reshape(r, NB_SHAPE0) : NULL, op);
    }
    nb_ctx *c = nb_out_ctx(a);
    nb_tensor *ones = nb_full_on(c, NB_F32, a->device, idx->ndim, idx->shape, 1.0);
    nb_tensor *z = ones ? nb_full_on(c, NB_F32, a->device, a->ndim, a->shape, 0.0) : NULL;
    nb_tensor *cnt = z ? nb_scatter_add(z, d, idx, ones) : NULL;
    if (!cnt) return nb_as_op(NULL, op);
    nb_tensor *hit = nb_gt(cnt, nb_scalar_like(a, 0.0f));
    if (!src) /* one value everywhere: a repeated index writes it again, allowed (the one-hot idiom) */
        return nb_as_op(hit ? nb_where(hit, nb_scalar_like(a, value), a) : NULL, op);
    if (once_each(op, cnt)) return nb_as_op(NULL, op);
    /* written into -0 (x + -0 is x, signed zeros included) */
    nb_tensor *mz = nb_full_on(c, NB_F32, a->device, a->ndim, a->shape, -0.0);
    nb_tensor *put = mz ? nb_scatter_add(mz, d, idx, src) : NULL;
    return nb_as_op(put && hit ? nb_where(hit, put, a) : NULL, op);
}

nb_tensor *nb_scatter(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src) {
    NB_NULL_GUARD_NAMED("scatter", a, idx, src);
    return scatter_impl("scatter", a, dim, idx, src, 0.0f);
}

nb_tensor *nb_scatter_value(nb_tensor *a, int dim, nb_tensor *idx, float value) {
    NB_NULL_GUARD_NAMED("scatter", a, idx);
    return scatter_impl("scatter", a, dim, idx, NULL, value);
}

/* ---- masks: the positions read back on the host ------------------------------------------- */

/* the flat positions (i32, on t's device) where the f32 mask m (contiguous or not) is nonzero,
 * and their count; NULL with an error */
nb_tensor *nb_mask_positions(const char *op, nb_tensor *m, int64_t *count) {
    nb_tensor *h = nb_host_copy(m);
    if (!h) return nb_as_op(NULL, op);
    const int64_t n = nb_numel(h);
    if (n > INT32_MAX)
        return nb_set_error("%s: %lld elements is more than i32 positions reach", op, (long long)n);
    const float *v = nb_data_f32(h);
    int32_t *pos = malloc((size_t)(n ? n : 1) * sizeof *pos);
    if (!pos) return nb_set_error("%s: out of memory for %lld positions", op, (long long)n);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (v[i] != 0.0f) pos[k++] = (int32_t)i;
    nb_tensor *t = nb_host_1d(m, NB_I32, k, pos);
    free(pos);
    *count = k;
    return t;
}

nb_tensor *nb_masked_scatter(nb_tensor *a, nb_tensor *mask, nb_tensor *src) {
    const char *op = "masked_scatter";
    NB_NULL_GUARD_NAMED(op, a, mask, src);
    if (nb_check_dtype(op, a, NB_F32, "input") || nb_check_dtype(op, mask, NB_F32, "mask") ||
        nb_check_dtype(op, src, NB_F32, "source") || nb_same_device(op, a, mask) ||
        nb_same_device(op, a, src))
        return NULL;
    nb_tensor *m = nb_expand(mask, a->ndim, a->shape);
    if (!m) {
        char x[96], y[96];
        return nb_set_error("%s: mask %s does not broadcast to input %s", op, NB_SHP(mask, x), NB_SHP(a, y));
    }
    int64_t k;
    nb_tensor *pos = nb_mask_positions(op, m, &k);
    if (!pos) return NULL;
    if (k > nb_numel(src))
        return nb_set_error("%s: the mask selects %lld places but the source has %lld elements", op,
                            (long long)k, (long long)nb_numel(src));
    /* the source's first k elements, in order, into the selected places */
    const int64_t numel = nb_numel(a);
    nb_tensor *flat_src = nb_narrow(nb_reshape(src, NB_SHAPE(-1)), 0, 0, k);
    nb_tensor *z = flat_src ? nb_full_on(nb_out_ctx(a), NB_F32, a->device, 1, &numel, -0.0) : NULL;
    nb_tensor *put = z ? nb_index_add(z, 0, pos, flat_src, 1.0f) : NULL;
    nb_tensor *r =
        put ? nb_where(nb_reshape(nb_contiguous(m), NB_SHAPE(-1)), put, nb_reshape(a, NB_SHAPE(-1))) : NULL;
    return nb_as_op(r ? nb_reshape(r, a->ndim, a->shape) : NULL, op);
}
