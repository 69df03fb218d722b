/* ops/select.c - reading chosen elements and counting: nb_masked_select, nb_take, nb_nonzero,
 * nb_bincount, nb_bucketize, nb_searchsorted. Results whose size depends on the values
 * (masked_select, nonzero, bincount) read the mask or the indices back on the host, as torch
 * does; the values then move with index_select / index_add, whose gradients they get. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

nb_tensor *nb_masked_select(nb_tensor *a, nb_tensor *mask) {
    const char *op = "masked_select";
    NB_NULL_GUARD_NAMED(op, a, mask);
    if (nb_check_dtype(op, a, NB_F32, "input") || nb_check_dtype(op, mask, NB_F32, "mask") ||
        nb_same_device(op, a, mask))
        return NULL;
    int nd;
    int64_t shape[NB_MAX_DIMS];
    if (nb_broadcast_shape(op, a, mask, &nd, shape)) return NULL;
    nb_tensor *m = nb_expand(mask, nd, shape), *x = nb_expand(a, nd, shape);
    int64_t k;
    nb_tensor *pos = m && x ? nb_mask_positions(op, m, &k) : NULL;
    nb_tensor *flat = pos ? nb_reshape(x, NB_SHAPE(-1)) : NULL; /* a copy when x is a broadcast view */
    return nb_as_op(flat ? nb_index_select(flat, 0, pos) : NULL, op);
}

nb_tensor *nb_take(nb_tensor *a, nb_tensor *idx) {
    const char *op = "take";
    NB_NULL_GUARD_NAMED(op, a, idx);
    if (nb_check_dtype(op, idx, NB_I32, "index")) return NULL;
    /* a read as 1-d in row-major order (torch.take; negative indices from the end), the index's
     * shape kept */
    nb_tensor *w = nb_wrap_index(idx, nb_numel(a));
    nb_tensor *v = w ? nb_index_select(nb_reshape(a, NB_SHAPE(-1)), 0, nb_reshape(w, NB_SHAPE(-1))) : NULL;
    return nb_as_op(v ? nb_reshape(v, idx->ndim, idx->shape) : NULL, op);
}

nb_tensor *nb_nonzero(nb_tensor *a) {
    const char *op = "nonzero";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    int64_t k;
    nb_tensor *pos = nb_mask_positions(op, a, &k);
    if (!pos) return NULL;
    nb_tensor *hp = pos->device == NB_CPU ? pos : nb_to_device(nb_out_ctx(a), pos, NB_CPU);
    const int nd = a->ndim;
    const int64_t total = k * nd;
    int32_t *co = hp ? malloc((size_t)(total > 0 ? total : 1) * sizeof *co) : NULL;
    if (hp && !co) return nb_set_error("%s: out of memory for %lld coordinates", op, (long long)total);
    if (!co) return NULL;
    /* each flat position as its coordinates, last dim fastest */
    const int32_t *p = (const int32_t *)nb_data(hp);
    for (int64_t r = 0; r < k; r++) {
        int64_t f = p[r];
        for (int d = nd - 1; d >= 0; d--) {
            co[r * nd + d] = (int32_t)(f % a->shape[d]);
            f /= a->shape[d];
        }
    }
    nb_tensor *t = nb_host_like(a, NB_I32, 2, (const int64_t[]){k, nd}, co);
    free(co);
    return t;
}

nb_tensor *nb_bincount(nb_tensor *idx, nb_tensor *weights, int64_t minlength) {
    const char *op = "bincount";
    NB_NULL_GUARD_NAMED(op, idx);
    if (nb_check_dtype(op, idx, NB_I32, "input")) return NULL;
    if (idx->ndim != 1) {
        char s[96];
        return nb_set_error("%s: input %s is not 1-d", op, NB_SHP(idx, s));
    }
    if (minlength < 0) return nb_set_error("%s: minlength %lld is negative", op, (long long)minlength);
    if (weights && (nb_check_dtype(op, weights, NB_F32, "weights") || nb_same_device(op, idx, weights)))
        return NULL;
    if (weights && !nb_same_shape(idx, weights)) {
        char s[96], t[96];
        return nb_set_error("%s: weights %s must match input %s", op, NB_SHP(weights, s), NB_SHP(idx, t));
    }
    /* the largest value, read back, sets the length (torch: max + 1, at least minlength) */
    nb_tensor *h = nb_host_copy(idx);
    if (!h) return nb_as_op(NULL, op);
    int64_t len = minlength;
    const int32_t *v = (const int32_t *)nb_data(h);
    for (int64_t i = 0; i < nb_numel(h); i++) {
        if (v[i] < 0)
            return nb_set_error("%s: input holds a negative value (%d at %lld)", op, (int)v[i], (long long)i);
        if (v[i] + (int64_t)1 > len) len = v[i] + (int64_t)1;
    }
    if (len > INT32_MAX) return nb_set_error("%s: %lld bins is too many", op, (long long)len);
    if (!weights) { /* plain counts: exact integers, counted here (torch: int64) */
        int32_t *cnt = calloc((size_t)(len ? len : 1), sizeof *cnt);
        if (!cnt) return nb_set_error("%s: out of memory for %lld bins", op, (long long)len);
        for (int64_t i = 0; i < nb_numel(h); i++)
            cnt[v[i]]++;
        nb_tensor *t = nb_host_1d(idx, NB_I32, len, cnt);
        free(cnt);
        return nb_as_op(t, op);
    }
    /* weight sums: index_add into zeros, differentiable in the weights */
    nb_tensor *z = nb_full_on(nb_out_ctx(idx), NB_F32, idx->device, 1, &len, 0.0);
    return nb_as_op(z ? nb_index_add(z, 0, idx, weights, 1.0f) : NULL, op);
}

/* per value, how many of the sorted boundaries lie before it: with `right`, those <= v, else
 * those < v; counted as the boundaries that are not >= v (not > v), so a NaN value counts them
 * all (the end, as torch's binary search). sorted [..., M] against v [..., K] (the leading dims
 * broadcast), or a 1-d sorted against v of any shape. */
static nb_tensor *count_before(const char *op, nb_tensor *sorted, nb_tensor *v, bool right) {
    if (nb_check_dtype(op, sorted, NB_F32, "sorted sequence") || nb_check_dtype(op, v, NB_F32, "values") ||
        nb_same_device(op, sorted, v))
        return NULL;
    if (sorted->ndim < 1) return nb_set_error("%s: the sorted sequence is 0-d", op);
    const bool one = sorted->ndim == 1;
    char s[96], t[96];
    bool fits = one || v->ndim == sorted->ndim;
    for (int i = 0; fits && !one && i < v->ndim - 1; i++)
        fits = v->shape[i] == sorted->shape[i];
    if (!fits)
        return nb_set_error("%s: a sorted sequence %s needs values with its leading dims, got %s", op,
                            NB_SHP(sorted, s), NB_SHP(v, t));
    const int64_t M = sorted->shape[sorted->ndim - 1];
    if (M > ((int64_t)1 << 24)) /* the counts are f32 sums */
        return nb_set_error("%s: %lld boundaries (at most 2^24)", op, (long long)M);
    /* torch's binary search, for a sequence sorted with its NaNs last (torch.sort's order): the
     * count of boundaries < v (with right: <= v), but the end M when no boundary is >= v (> v),
     * a NaN value included; computed as M - F - (the NaN boundaries) when F, the count of
     * boundaries >= v (> v), is above 0. Values [..., K, 1] against [..., 1, M] (1-d: [M]). */
    nb_tensor *vv = nb_unsqueeze(v, v->ndim);
    nb_tensor *ss = one ? sorted : nb_unsqueeze(sorted, sorted->ndim - 1);
    nb_tensor *after = vv && ss ? (right ? nb_gt(ss, vv) : nb_ge(ss, vv)) : NULL;
    const int last = vv ? vv->ndim - 1 : 0, slast = sorted->ndim - 1;
    nb_tensor *F = after ? nb_sum(after, 1, &last, false) : NULL;
    nb_tensor *nan = F ? nb_sum(nb_isnan(sorted), 1, &slast, !one) : NULL; /* [] or [..., 1] */
    nb_tensor *mM = nan ? nb_scalar_like(v, (float)M) : NULL;
    nb_tensor *pos =
        mM ? nb_where(nb_gt(F, nb_scalar_like(v, 0.0f)), nb_sub(nb_rsub_scalar(F, (float)M), nan), mM) : NULL;
    return pos ? nb_cast(pos, NB_I32) : NULL;
}

nb_tensor *nb_searchsorted(nb_tensor *sorted, nb_tensor *v, bool right) {
    NB_NULL_GUARD_NAMED("searchsorted", sorted, v);
    return nb_as_op(count_before("searchsorted", sorted, v, right), "searchsorted");
}

nb_tensor *nb_bucketize(nb_tensor *v, nb_tensor *boundaries, bool right) {
    NB_NULL_GUARD_NAMED("bucketize", v, boundaries);
    if (boundaries->ndim != 1) {
        char s[96];
        return nb_set_error("bucketize: boundaries %s are not 1-d", NB_SHP(boundaries, s));
    }
    return nb_as_op(count_before("bucketize", boundaries, v, right), "bucketize");
}

static int cmp_total(const void *pa, const void *pb) {
    const float a = *(const float *)pa, b = *(const float *)pb;
    if (a != a || b != b) return (a != a) - (b != b); /* NaN last */
    return (a > b) - (a < b);
}

/* the first position in the sorted distinct values u[0..n) holding v (NaN: none, handled apart) */
static int64_t find_value(const float *u, int64_t n, float v) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (u[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

nb_tensor *nb_unique(nb_tensor *a, nb_tensor **inverse, nb_tensor **counts) {
    const char *op = "unique";
    if (inverse) *inverse = NULL;
    if (counts) *counts = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "input")) return NULL;
    nb_tensor *h = nb_host_copy(a);
    if (!h) return nb_as_op(NULL, op);
    const int64_t n = nb_numel(h);
    if (n > INT32_MAX)
        return nb_set_error("%s: %lld elements is more than i32 positions reach", op, (long long)n);
    const float *v = nb_data_f32(h);
    float *u = malloc(sizeof(float) * (size_t)(n ? n : 1));
    int32_t *cnt = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    int32_t *inv = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    nb_tensor *out = NULL;
    if (!u || !cnt || !inv) {
        nb_set_error("%s: out of memory for %lld elements", op, (long long)n);
        goto done;
    }
    memcpy(u, v, sizeof(float) * (size_t)n);
    qsort(u, (size_t)n, sizeof *u, cmp_total);
    /* the distinct values: equal neighbours merged (-0 and 0 are one value; which sign it keeps is
     * not specified); NaNs kept apart */
    int64_t m = 0, nan_at;
    for (int64_t i = 0; i < n; i++)
        if (m == 0 || u[i] != u[m - 1] || u[i] != u[i]) u[m++] = u[i];
    nan_at = m;
    while (nan_at > 0 && u[nan_at - 1] != u[nan_at - 1])
        nan_at--;
    for (int64_t k = 0; k < m; k++)
        cnt[k] = 0;
    int64_t next_nan = nan_at;
    for (int64_t i = 0; i < n; i++) {
        const int64_t k = v[i] != v[i] ? next_nan++ : find_value(u, nan_at, v[i]);
        inv[i] = (int32_t)k;
        cnt[k]++;
    }
    out = nb_host_1d(a, NB_F32, m, u);
    if (out && inverse) {
        *inverse = nb_host_like(a, NB_I32, a->ndim, a->shape, inv);
        if (!*inverse) out = NULL;
    }
    if (out && counts && !(*counts = nb_host_1d(a, NB_I32, m, cnt))) out = NULL;
done:
    free(u), free(cnt), free(inv);
    return nb_as_op(out, op);
}
