/* ops/products.c - products and distances built on the other ops: nb_outer, nb_kron,
 * nb_tensordot, nb_cross, nb_cdist, nb_pdist, nb_bilinear. Each is a few views, elementwise products and one
 * matmul or norm, so every backend runs it and autograd differentiates it through those. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

nb_tensor *nb_outer(nb_tensor *a, nb_tensor *b) {
    const char *op = "outer";
    NB_NULL_GUARD_NAMED(op, a, b);
    if (a->ndim != 1 || b->ndim != 1) {
        char x[96], y[96];
        return nb_set_error("%s: want two 1-d tensors, got %s and %s", op, NB_SHP(a, x), NB_SHP(b, y));
    }
    /* a [n, 1] times b [1, m]: an exact product per element, as torch's */
    return nb_as_op(nb_mul(nb_unsqueeze(a, 1), nb_unsqueeze(b, 0)), op);
}

nb_tensor *nb_kron(nb_tensor *a, nb_tensor *b) {
    const char *op = "kron";
    NB_NULL_GUARD_NAMED(op, a, b);
    const int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    if (2 * nd > NB_MAX_DIMS)
        return nb_set_error("%s: %d dims is more than this op handles (%d)", op, nd, NB_MAX_DIMS / 2);
    /* both as nd dims (leading 1s), then a as [a0, 1, a1, 1, ...] times b as [1, b0, 1, b1, ...],
     * each pair merged: [a0 b0, a1 b1, ...] */
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS], out[NB_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        const int64_t ai = i < nd - a->ndim ? 1 : a->shape[i - (nd - a->ndim)];
        const int64_t bi = i < nd - b->ndim ? 1 : b->shape[i - (nd - b->ndim)];
        sa[2 * i] = ai, sa[2 * i + 1] = 1;
        sb[2 * i] = 1, sb[2 * i + 1] = bi;
        out[i] = ai * bi;
    }
    nb_tensor *p = nb_mul(nb_reshape(a, 2 * nd, sa), nb_reshape(b, 2 * nd, sb));
    return nb_as_op(p ? nb_reshape(p, nd, out) : NULL, op);
}

nb_tensor *nb_tensordot(nb_tensor *a, nb_tensor *b, int n, const int *dims_a, const int *dims_b) {
    const char *op = "tensordot";
    NB_NULL_GUARD_NAMED(op, a, b);
    if (n < 0 || n > a->ndim || n > b->ndim || (n && (!dims_a || !dims_b)))
        return nb_set_error("%s: %d dims to contract for %d-d and %d-d tensors", op, n, a->ndim, b->ndim);
    /* a's free dims then its contracted ones, b's contracted ones then its free ones: one matmul
     * [free_a, K] @ [K, free_b] */
    if (a->ndim + b->ndim - 2 * n > NB_MAX_DIMS)
        return nb_set_error("%s: the result would have %d dims (at most %d)", op, a->ndim + b->ndim - 2 * n,
                            NB_MAX_DIMS);
    bool ca[NB_MAX_DIMS] = {false}, cb[NB_MAX_DIMS] = {false};
    int pa[NB_MAX_DIMS], pb[NB_MAX_DIMS], ka = 0, kb = 0;
    int64_t K = 1, Fa = 1, Fb = 1, out[NB_MAX_DIMS];
    int no = 0;
    for (int i = 0; i < n; i++) {
        const int da = nb_norm_dim(op, dims_a[i], a->ndim),
                  db = da < 0 ? -1 : nb_norm_dim(op, dims_b[i], b->ndim);
        if (da < 0 || db < 0) return NULL;
        if (ca[da] || cb[db]) return nb_set_error("%s: dim %d given twice", op, ca[da] ? da : db);
        if (a->shape[da] != b->shape[db])
            return nb_set_error("%s: contracted dims differ in size (dim %d of a: %lld, dim %d of b: %lld)",
                                op, da, (long long)a->shape[da], db, (long long)b->shape[db]);
        ca[da] = cb[db] = true;
        K *= a->shape[da];
    }
    for (int i = 0; i < a->ndim; i++)
        if (!ca[i]) pa[ka++] = i, Fa *= a->shape[i], out[no++] = a->shape[i];
    for (int i = 0; i < n; i++)
        pa[ka++] = nb_norm_dim(op, dims_a[i], a->ndim), pb[kb++] = nb_norm_dim(op, dims_b[i], b->ndim);
    for (int i = 0; i < b->ndim; i++)
        if (!cb[i]) pb[kb++] = i, Fb *= b->shape[i], out[no++] = b->shape[i];
    nb_tensor *am = nb_reshape(nb_permute(a, pa), NB_SHAPE(Fa, K));
    nb_tensor *bm = nb_reshape(nb_permute(b, pb), NB_SHAPE(K, Fb));
    nb_tensor *r = am && bm ? nb_matmul(am, bm) : NULL;
    return nb_as_op(r ? nb_reshape(r, no, out) : NULL, op);
}

nb_tensor *nb_cross(nb_tensor *a, nb_tensor *b, int dim) {
    const char *op = "cross";
    NB_NULL_GUARD_NAMED(op, a, b);
    int nd;
    int64_t shape[NB_MAX_DIMS];
    if (nb_broadcast_shape(op, a, b, &nd, shape)) return NULL;
    const int d = nb_norm_dim(op, dim, nd);
    if (d < 0) return NULL;
    if (shape[d] != 3) return nb_set_error("%s: dim %d has size %lld (want 3)", op, d, (long long)shape[d]);
    nb_tensor *x = nb_expand(a, nd, shape), *y = nb_expand(b, nd, shape);
    /* (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0): the components rolled by 1 and 2 */
    nb_tensor *x1 = x ? nb_roll(x, -1, d) : NULL, *x2 = x ? nb_roll(x, -2, d) : NULL;
    nb_tensor *y1 = y ? nb_roll(y, -1, d) : NULL, *y2 = y ? nb_roll(y, -2, d) : NULL;
    return nb_as_op(x1 && x2 && y1 && y2 ? nb_sub(nb_mul(x1, y2), nb_mul(x2, y1)) : NULL, op);
}

nb_tensor *nb_cdist(nb_tensor *x1, nb_tensor *x2, float p) {
    const char *op = "cdist";
    NB_NULL_GUARD_NAMED(op, x1, x2);
    char a[96], b[96];
    if (x1->ndim < 2 || x2->ndim < 2 || x1->shape[x1->ndim - 1] != x2->shape[x2->ndim - 1])
        return nb_set_error("%s: want x1 [..., P, M] and x2 [..., R, M], got %s and %s", op, NB_SHP(x1, a),
                            NB_SHP(x2, b));
    if (!(p >= 0.0f)) return nb_set_error("%s: p = %g (want p >= 0)", op, (double)p);
    /* every pair's difference [..., P, R, M], its p-norm over M: exact at any size (torch switches
     * to a matmul form past 25 rows for p = 2, which loses digits for close points) */
    nb_tensor *d = nb_sub(nb_unsqueeze(x1, x1->ndim - 1), nb_unsqueeze(x2, x2->ndim - 2));
    const int last = d ? d->ndim - 1 : 0;
    if (!d || p != INFINITY) return nb_as_op(d ? nb_norm(d, p, 1, &last, false) : NULL, op);
    /* p = inf: the largest |difference|, whose gradient torch's cdist gives in full to every tied
     * coordinate (vector_norm's shares it): max + sum over the tied of (|d| - |d|), the second
     * term 0 in value and the ties' full slope in gradient (none through an infinite one) */
    nb_tensor *ad = nb_abs(d);
    nb_tensor *m = ad ? nb_max(nb_detach(ad), 1, &last, true) : NULL;
    nb_tensor *tied = m ? nb_maximum(nb_eq(ad, m), nb_ne(ad, ad)) : NULL; /* NaN counts as the max */
    nb_tensor *zero = tied ? nb_scalar_like(ad, 0.0f) : NULL;             /* (inf - inf would be NaN) */
    nb_tensor *st = zero ? nb_where(nb_isinf(ad), zero, nb_sub(ad, nb_detach(ad))) : NULL;
    nb_tensor *ex = st ? nb_sum(nb_mul(tied, st), 1, &last, false) : NULL;
    return nb_as_op(ex ? nb_add(nb_squeeze(m, last), ex) : NULL, op);
}

nb_tensor *nb_pdist(nb_tensor *x, float p) {
    const char *op = "pdist";
    NB_NULL_GUARD_NAMED(op, x);
    char a[96];
    if (x->ndim != 2) return nb_set_error("%s: want x [N, M], got %s", op, NB_SHP(x, a));
    const int64_t N = x->shape[0];
    if (N * N > INT32_MAX) return nb_set_error("%s: %lld rows is too many", op, (long long)N);
    /* the pairs i < j of cdist(x, x), row by row (torch's order) */
    const int64_t K = N * (N - 1) / 2;
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)(K ? K : 1));
    if (!pos) return nb_set_error("%s: out of memory for %lld pairs", op, (long long)K);
    int64_t k = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = i + 1; j < N; j++)
            pos[k++] = (int32_t)(i * N + j);
    nb_tensor *pi = nb_host_1d(x, NB_I32, K, pos);
    free(pos);
    nb_tensor *d = pi ? nb_cdist(x, x, p) : NULL;
    return nb_as_op(d ? nb_index_select(nb_reshape(d, NB_SHAPE(N * N)), 0, pi) : NULL, op);
}

nb_tensor *nb_bilinear(nb_tensor *x1, nb_tensor *x2, nb_tensor *w, nb_tensor *b) {
    const char *op = "bilinear";
    NB_NULL_GUARD_NAMED(op, x1, x2, w);
    char a[96], c[96], e[96];
    if (w->ndim != 3 || x1->ndim < 1 || x2->ndim < 1 || x1->shape[x1->ndim - 1] != w->shape[1] ||
        x2->shape[x2->ndim - 1] != w->shape[2] || (b && (b->ndim != 1 || b->shape[0] != w->shape[0])))
        return nb_set_error(
            "%s: want x1 [..., in1], x2 [..., in2], weight [out, in1, in2] and bias [out], got %s, %s "
            "and %s",
            op, NB_SHP(x1, a), NB_SHP(x2, c), NB_SHP(w, e));
    bool same = x1->ndim == x2->ndim;
    for (int i = 0; same && i < x1->ndim - 1; i++)
        same = x1->shape[i] == x2->shape[i];
    if (!same)
        return nb_set_error("%s: x1 %s and x2 %s differ before the last dim (torch does not broadcast them)",
                            op, NB_SHP(x1, a), NB_SHP(x2, c));
    /* y_o = x1 W_o x2 (+ b_o), torch.nn.functional.bilinear */
    nb_tensor *ops3[3] = {x1, w, x2};
    nb_tensor *y = nb_einsum("...i,oij,...j->...o", 3, ops3);
    return nb_as_op(y && b ? nb_add(y, b) : y, op);
}
