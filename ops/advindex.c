/* ops/advindex.c - advanced indexing with index tensors in several dims, as torch's a[i0, i1]
 * (nb_index) and a[i0, i1] = v (nb_index_put). The index tensors are read back on the host
 * (broadcast together, negative entries wrapped, each checked against its dim) and folded into
 * one flat i32 index over the indexed dims; a is viewed with those dims first and merged, and the
 * values move with index_select / index_add / index_copy, whose gradients they get. */
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* What one indexing does: the dims indexed (in order), the broadcast shape S of their index
 * tensors, the flat index (i32 [numel S] on a's device), the permutation that puts the indexed
 * dims first, and where S lands in the result. */
typedef struct {
    int nidx, dims[NB_MAX_DIMS]; /* the indexed dims of a, ascending */
    int ns;                      /* S's ndim */
    int64_t s[NB_MAX_DIMS];
    int perm[NB_MAX_DIMS]; /* indexed dims first, then the rest in order */
    int at;                /* S's first dim in the result: the first indexed dim if they are
                            * adjacent, else 0 (NumPy's rule) */
    nb_tensor *flat;       /* the flat index */
} plan;

/* element j of S (row-major) read from an index of shape t broadcast to S */
static int64_t bcast_at(const nb_tensor *t, const plan *p, int64_t j) {
    int64_t pos = 0, stride = 1;
    for (int d = p->ns - 1, e = t->ndim - 1; d >= 0; d--, e--) {
        const int64_t c = j % p->s[d];
        j /= p->s[d];
        if (e < 0) continue;
        if (t->shape[e] != 1) pos += c * stride;
        stride *= t->shape[e];
    }
    return pos;
}

static int make_plan(const char *op, nb_tensor *a, int n, nb_tensor *const *idx, plan *p) {
    char sh[96], s2[96];
    memset(p, 0, sizeof *p);
    if (!idx) return nb_set_error("%s: the index list is NULL", op), -1;
    if (n < 1 || n > a->ndim)
        return nb_set_error("%s: %d indices for a %s (want 1 to %d)", op, n, NB_SHP(a, sh), a->ndim), -1;
    int64_t count = 1;
    for (int d = 0; d < n; d++) {
        if (!idx[d]) continue;
        if (nb_check_dtype(op, idx[d], NB_I32, "index") || nb_same_device(op, a, idx[d])) return -1;
        p->dims[p->nidx++] = d;
        count *= a->shape[d];
        /* broadcast this index's shape into S, from the right */
        const nb_tensor *t = idx[d];
        const int nd = t->ndim > p->ns ? t->ndim : p->ns;
        int64_t out[NB_MAX_DIMS];
        for (int i = 0; i < nd; i++) {
            const int it = i - (nd - t->ndim), is = i - (nd - p->ns);
            const int64_t x = it >= 0 ? t->shape[it] : 1, y = is >= 0 ? p->s[is] : 1;
            if (x != y && x != 1 && y != 1)
                return nb_set_error("%s: index %d %s does not broadcast with the indices before it %s", op, d,
                                    NB_SHP(t, sh), nb_fmt_shape(p->ns, p->s, s2, sizeof s2)),
                       -1;
            out[i] = x == 1 ? y : x;
        }
        p->ns = nd;
        memcpy(p->s, out, sizeof(int64_t) * (size_t)nd);
    }
    if (!p->nidx) return nb_set_error("%s: every index is NULL (give at least one)", op), -1;
    if (count > INT32_MAX)
        return nb_set_error("%s: the indexed dims of %s hold more than 2^31 places", op, NB_SHP(a, sh)), -1;
    const int rest = a->ndim - p->nidx;
    if (p->ns + rest > NB_MAX_DIMS)
        return nb_set_error("%s: the result would have more than %d dims", op, NB_MAX_DIMS), -1;
    bool adjacent = true;
    for (int i = 1; i < p->nidx; i++)
        adjacent = adjacent && p->dims[i] == p->dims[i - 1] + 1;
    p->at = adjacent ? p->dims[0] : 0;
    int k = 0;
    for (int i = 0; i < p->nidx; i++)
        p->perm[k++] = p->dims[i];
    for (int d = 0; d < a->ndim; d++) {
        bool indexed = false;
        for (int i = 0; i < p->nidx; i++)
            indexed = indexed || p->dims[i] == d;
        if (!indexed) p->perm[k++] = d;
    }
    /* the flat index, on the host */
    int64_t total = 1;
    for (int i = 0; i < p->ns; i++)
        total *= p->s[i];
    int32_t *flat = malloc((size_t)(total ? total : 1) * sizeof *flat);
    if (!flat) return nb_set_error("%s: out of memory for %lld indices", op, (long long)total), -1;
    for (int64_t j = 0; j < total; j++)
        flat[j] = 0;
    for (int i = 0; i < p->nidx; i++) {
        const int d = p->dims[i];
        nb_tensor *h = nb_host_copy(idx[d]);
        if (!h) return free(flat), -1;
        const int32_t *v = (const int32_t *)nb_data(h);
        const int64_t size = a->shape[d];
        for (int64_t j = 0; j < total; j++) {
            const int64_t e = bcast_at(idx[d], p, j), x = v[e];
            if (x < -size || x >= size) {
                free(flat);
                return nb_set_error(
                           "%s: index %d holds %lld at position %lld, outside [-%lld, %lld) for dim %d "
                           "of %s",
                           op, d, (long long)x, (long long)e, (long long)size, (long long)size, d,
                           NB_SHP(a, sh)),
                       -1;
            }
            flat[j] = (int32_t)(flat[j] * size + (x < 0 ? x + size : x));
        }
    }
    p->flat = nb_host_1d(a, NB_I32, total, flat);
    free(flat);
    return p->flat ? 0 : -1;
}

/* a with its indexed dims first and merged: [P, rest...] (a copy where the permutation needs
 * one) */
static nb_tensor *merged(nb_tensor *a, const plan *p) {
    int64_t shape[NB_MAX_DIMS];
    int64_t pl = 1;
    for (int i = 0; i < p->nidx; i++)
        pl *= a->shape[p->dims[i]];
    shape[0] = pl;
    for (int i = p->nidx; i < a->ndim; i++)
        shape[i - p->nidx + 1] = a->shape[p->perm[i]];
    nb_tensor *t = nb_permute(a, p->perm);
    return t ? nb_reshape(t, a->ndim - p->nidx + 1, shape) : NULL;
}

/* the result's shape: S at p->at among a's other dims; *ord: the permutation from [S, rest...]
 * to it */
static int result_shape(const nb_tensor *a, const plan *p, int64_t *shape, int *ord) {
    const int rest = a->ndim - p->nidx, nd = p->ns + rest;
    int64_t grouped[NB_MAX_DIMS];
    memcpy(grouped, p->s, sizeof(int64_t) * (size_t)p->ns);
    for (int i = 0; i < rest; i++)
        grouped[p->ns + i] = a->shape[p->perm[p->nidx + i]];
    /* the first p->at rest dims, then S, then the remaining rest dims */
    int k = 0;
    for (int i = 0; i < p->at; i++)
        ord[k++] = p->ns + i;
    for (int i = 0; i < p->ns; i++)
        ord[k++] = i;
    for (int i = p->at; i < rest; i++)
        ord[k++] = p->ns + i;
    for (int i = 0; i < nd; i++)
        shape[i] = grouped[ord[i]];
    return nd;
}

nb_tensor *nb_index(nb_tensor *a, int n, nb_tensor *const *idx) {
    const char *op = "index";
    NB_NULL_GUARD_NAMED(op, a);
    plan p;
    if (make_plan(op, a, n, idx, &p)) return NULL;
    nb_tensor *m = merged(a, &p);
    nb_tensor *sel = m ? nb_index_select(m, 0, p.flat) : NULL;
    if (!sel) return nb_as_op(NULL, op);
    int64_t grouped[NB_MAX_DIMS], shape[NB_MAX_DIMS];
    int ord[NB_MAX_DIMS];
    memcpy(grouped, p.s, sizeof(int64_t) * (size_t)p.ns);
    memcpy(grouped + p.ns, sel->shape + 1, sizeof(int64_t) * (size_t)(sel->ndim - 1));
    const int nd = result_shape(a, &p, shape, ord);
    nb_tensor *g = nb_reshape(sel, nd, grouped);
    return nb_as_op(g && p.at ? nb_contiguous(nb_permute(g, ord)) : g, op);
}

nb_tensor *nb_index_put(nb_tensor *a, int n, nb_tensor *const *idx, nb_tensor *values, bool accumulate) {
    const char *op = "index_put";
    NB_NULL_GUARD_NAMED(op, a, values);
    if (nb_same_device(op, a, values)) return NULL;
    plan p;
    if (make_plan(op, a, n, idx, &p)) return NULL;
    int64_t shape[NB_MAX_DIMS];
    int ord[NB_MAX_DIMS], inv[NB_MAX_DIMS];
    const int nd = result_shape(a, &p, shape, ord);
    /* values broadcast to what nb_index gives, then laid out as [S..., rest...] and merged */
    char s1[96], s2[96];
    while (values->ndim > nd && values->shape[0] == 1) /* leading 1s dropped, as torch's a[i] = v */
        if (!(values = nb_squeeze(values, 0))) return nb_as_op(NULL, op);
    bool fits = values->ndim <= nd;
    for (int i = 0; fits && i < values->ndim; i++) {
        const int64_t v = values->shape[values->ndim - 1 - i];
        fits = v == 1 || v == shape[nd - 1 - i];
    }
    if (!fits)
        return nb_set_error("%s: values %s do not broadcast to the indexed shape %s", op, NB_SHP(values, s1),
                            nb_fmt_shape(nd, shape, s2, sizeof s2));
    for (int i = 0; i < nd; i++)
        inv[ord[i]] = i;
    nb_tensor *v = nb_expand(values, nd, shape);
    v = v && p.at ? nb_permute(v, inv) : v;
    int64_t vs[NB_MAX_DIMS];
    int64_t total = 1;
    for (int i = 0; i < p.ns; i++)
        total *= p.s[i];
    vs[0] = total;
    for (int i = p.ns; i < nd; i++)
        vs[i - p.ns + 1] = v ? v->shape[i] : 0;
    nb_tensor *vm = v ? nb_reshape(v, nd - p.ns + 1, vs) : NULL;
    nb_tensor *m = vm ? merged(a, &p) : NULL, *w = NULL;
    if (m && !accumulate && nb_numel(values) == 1) {
        /* one value: every place hit (repeats allowed) takes it; its gradient sums g over them */
        nb_ctx *c = nb_out_ctx(a);
        int64_t hs[NB_MAX_DIMS];
        hs[0] = m->shape[0];
        for (int i = 1; i < m->ndim; i++)
            hs[i] = 1;
        nb_tensor *one = nb_full_on(c, NB_F32, a->device, 1, p.flat->shape, 1.0);
        nb_tensor *zero = one ? nb_full_on(c, NB_F32, a->device, 1, hs, 0.0) : NULL;
        nb_tensor *hits = zero ? nb_index_add(zero, 0, p.flat, one, 1.0f) : NULL;
        nb_tensor *hit = hits ? nb_reshape(nb_gt(hits, nb_scalar_like(a, 0.0f)), m->ndim, hs) : NULL;
        w = hit ? nb_where(hit, nb_reshape(values, 0, NULL), m) : NULL;
    } else if (m)
        w = accumulate ? nb_index_add(m, 0, p.flat, vm, 1.0f) : nb_index_copy(m, 0, p.flat, vm);
    if (!w) return nb_as_op(NULL, op);
    /* back to a's layout: unmerge to the permuted shape, then the inverse permutation */
    int64_t ps[NB_MAX_DIMS];
    int back[NB_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) {
        ps[i] = a->shape[p.perm[i]];
        back[p.perm[i]] = i;
    }
    nb_tensor *u = nb_reshape(w, a->ndim, ps);
    return nb_as_op(u ? nb_contiguous(nb_permute(u, back)) : NULL, op);
}
