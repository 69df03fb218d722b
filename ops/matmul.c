/* ops/matmul.c - matmul (2-D, 1-D as in NumPy, batched with broadcast leading dims) and linear.
 *
 * Operands go to the backend as 3-D descriptors [B,M,K] @ [B,K,N] that point into the caller's
 * storage: transposed views are read in place and only an operand that is neither row-major
 * nor transposed in its last two dims is copied. Batch dims are merged into one where the
 * strides allow it (else the op loops over the rest), and a batch that sits over a shared 2-D
 * operand is folded into the rows: [B,T,C] @ [C,N] is one GEMM [B*T,C] @ [C,N]. The backward
 * uses transposed views of the same descriptors and folds a batch that is summed away into
 * the contraction: dW of [B,T,C] @ [C,N] is one GEMM [C,B*T] @ [B*T,N]. */
#include <string.h>

#include "ops/op_util.h"

/* The geometry of out = a @ b: operands promoted to >= 2-D (p*) and expanded to the
 * common batch (e*); all descriptors point into usable storage (copied when needed). */
typedef struct {
    nb_tensor pa, pb, ea, eb;
    int nb;      /* number of batch dims of the result */
    bool a1, b1; /* a / b were 1-D */
    int out_nd;  /* the result's ndim (a 1-D operand's dim is dropped) */
    int64_t out_shape[NB_MAX_DIMS];
} mm_geom;

bool nb_mat_usable(const nb_tensor *t) {
    int nd = t->ndim;
    int64_t r = t->shape[nd - 2], c = t->shape[nd - 1], sr = t->stride[nd - 2], sc = t->stride[nd - 1];
    return ((c <= 1 || sc == 1) && (r <= 1 || sr >= c)) || ((r <= 1 || sr == 1) && (c <= 1 || sc >= r));
}

/* Replaces *d by a contiguous copy of its contents when its matrices are not usable in place. */
static int make_usable(nb_tensor *d, const nb_tensor *like) {
    if (nb_mat_usable(d)) return 0;
    const nb_backend *be = nb_be(like);
    nb_tensor *c = be ? nb_new_like_shape(like, NB_F32, d->ndim, d->shape) : NULL;
    if (!c || be->copy(c, d)) return -1;
    *d = *c;
    return 0;
}

/* Swaps the last two dims of a descriptor. */
static nb_tensor transpose_last(const nb_tensor *t) {
    nb_tensor d = *t;
    int n = t->ndim;
    d.shape[n - 2] = t->shape[n - 1];
    d.shape[n - 1] = t->shape[n - 2];
    d.stride[n - 2] = t->stride[n - 1];
    d.stride[n - 1] = t->stride[n - 2];
    return d;
}

/* Merges dims dims[0..n-1] (outermost first) of t into one (size, stride); false when the
 * strides do not allow it. Size-1 dims are ignored; no dims give size 1, stride 0. */
static bool merge(const nb_tensor *t, const int *dims, int n, int64_t *size, int64_t *stride) {
    int64_t sz = 1, st = 0, expect = -1;
    for (int k = n - 1; k >= 0; k--) {
        int64_t s = t->shape[dims[k]], str = t->stride[dims[k]];
        if (s == 1) continue;
        if (expect < 0)
            st = str;
        else if (str != expect)
            return false;
        expect = str * s;
        sz *= s;
    }
    *size = sz;
    *stride = sz == 1 ? 0 : st;
    return true;
}

/* Merges the contiguous range of dims [d0, d1). */
static bool merge_range(const nb_tensor *t, int d0, int d1, int64_t *size, int64_t *stride) {
    int dims[NB_MAX_DIMS];
    for (int i = d0; i < d1; i++)
        dims[i - d0] = i;
    return merge(t, dims, d1 - d0, size, stride);
}

/* A 3-D descriptor [bsize, r, c] of t's last two dims with the given batch and extra offset. */
static nb_tensor desc3(const nb_tensor *t, int64_t bsize, int64_t bstride, int64_t off) {
    nb_tensor d = *t;
    int n = t->ndim;
    d.ndim = 3;
    d.shape[0] = bsize;
    d.stride[0] = bstride;
    d.shape[1] = t->shape[n - 2];
    d.stride[1] = t->stride[n - 2];
    d.shape[2] = t->shape[n - 1];
    d.stride[2] = t->stride[n - 1];
    d.offset = t->offset + off;
    return d;
}

/* out = a @ b (+ beta * out) for (nb+2)-D descriptors with the same batch dims. */
static int mm_batched(const nb_backend *be, const nb_tensor *out, const nb_tensor *a, const nb_tensor *b,
                      float beta) {
    if (!be->matmul) return nb_unsupported("matmul", be), -1;
    int nb = out->ndim - 2;
    if (nb_numel(out) == 0) return 0;
    int64_t sz = 0, sa = 0, sb = 0, so = 0, m = 0;
    /* b shared by the whole batch: stack the batch into the rows of a and out */
    if (nb > 0 && merge_range(b, 0, nb, &sz, &sb) && sb == 0 && merge_range(a, 0, nb + 1, &m, &sa) &&
        merge_range(out, 0, nb + 1, &m, &so)) {
        nb_tensor a3 = desc3(a, 1, 0, 0), o3 = desc3(out, 1, 0, 0), b3 = desc3(b, 1, 0, 0);
        a3.shape[1] = o3.shape[1] = m;
        a3.stride[1] = m == 1 ? a->stride[nb] : sa;
        o3.stride[1] = m == 1 ? out->stride[nb] : so;
        if (nb_mat_usable(&a3) && nb_mat_usable(&o3)) return be->matmul(&o3, &a3, &b3, beta);
    }
    /* merge as many trailing batch dims as all three allow; loop over the others */
    int k = nb;
    while (k > 0 && !(merge_range(a, nb - k, nb, &sz, &sa) && merge_range(b, nb - k, nb, &sz, &sb) &&
                      merge_range(out, nb - k, nb, &sz, &so)))
        k--;
    if (k == 0) sz = 1, sa = sb = so = 0;
    int64_t outer = 1, idx[NB_MAX_DIMS] = {0};
    for (int d = 0; d < nb - k; d++)
        outer *= out->shape[d];
    for (int64_t o = 0; o < outer; o++) {
        int64_t oa = 0, ob = 0, oo = 0;
        for (int d = 0; d < nb - k; d++) {
            oa += idx[d] * a->stride[d];
            ob += idx[d] * b->stride[d];
            oo += idx[d] * out->stride[d];
        }
        nb_tensor a3 = desc3(a, sz, sa, oa), b3 = desc3(b, sz, sb, ob), o3 = desc3(out, sz, so, oo);
        if (be->matmul(&o3, &a3, &b3, beta)) return -1;
        for (int d = nb - k - 1; d >= 0 && ++idx[d] == out->shape[d]; d--)
            idx[d] = 0;
    }
    return 0;
}

/* out[P,Q] = sum over the batch of L[b] @ R[b] (L [Bs..,P,J], R [Bs..,J,Q]) as one GEMM with
 * the batch folded into the contraction (+ beta * out). 1 when the strides do not allow it, 0, or
 * -1; with out NULL, only whether it can (0 or 1). */
static int mm_reduce(const nb_backend *be, const nb_tensor *out, const nb_tensor *L, const nb_tensor *R,
                     float beta) {
    int nb = L->ndim - 2, dims[NB_MAX_DIMS];
    int64_t jl, sl, jr, sr;
    for (int i = 0; i < nb; i++)
        dims[i] = i;
    dims[nb] = nb + 1;
    if (!merge(L, dims, nb + 1, &jl, &sl)) return 1;
    dims[nb] = nb;
    if (!merge(R, dims, nb + 1, &jr, &sr) || jl != jr) return 1;
    nb_tensor l3 = desc3(L, 1, 0, 0), r3 = desc3(R, 1, 0, 0);
    l3.shape[2] = r3.shape[1] = jl;
    l3.stride[2] = jl == 1 ? 1 : sl;
    r3.stride[1] = jl == 1 ? r3.shape[2] : sr;
    if (!nb_mat_usable(&l3) || !nb_mat_usable(&r3)) return 1;
    if (!out) return 0;
    nb_tensor o3 = desc3(out, 1, 0, 0);
    if (!be->matmul) return nb_unsupported("matmul", be), -1;
    return be->matmul(&o3, &l3, &r3, beta) ? -1 : 0;
}

/* Promotes a 1-D operand to a matrix: [K] -> [1,K] on the left, [K,1] on the right. */
static void promote(const nb_tensor *t, bool left, nb_tensor *d) {
    *d = *t;
    if (t->ndim != 1) return;
    d->ndim = 2;
    if (left) {
        d->shape[0] = 1;
        d->stride[0] = t->shape[0] * t->stride[0];
        d->shape[1] = t->shape[0];
        d->stride[1] = t->stride[0];
    } else {
        d->shape[1] = 1;
        d->stride[1] = 1;
    }
}

/* Checks a @ b (b may be a descriptor standing for `borig`) and fills the geometry. */
static int mm_prepare(const char *op, const nb_tensor *a, const nb_tensor *b, const nb_tensor *borig,
                      mm_geom *G) {
    char x[96], y[96];
    if (nb_check_dtype(op, a, NB_F32, "left operand") || nb_check_dtype(op, borig, NB_F32, "right operand") ||
        nb_same_device(op, a, borig))
        return -1;
    if (a->ndim == 0 || b->ndim == 0)
        return nb_set_error("%s: 0-d operand in %s @ %s (use nb_mul for scalars)", op, NB_SHP(a, x),
                            NB_SHP(b, y)),
               -1;
    G->a1 = a->ndim == 1;
    G->b1 = b->ndim == 1;
    promote(a, true, &G->pa);
    promote(b, false, &G->pb);
    nb_tensor *pa = &G->pa, *pb = &G->pb;
    int64_t M = pa->shape[pa->ndim - 2], K = pa->shape[pa->ndim - 1];
    int64_t K2 = pb->shape[pb->ndim - 2], N = pb->shape[pb->ndim - 1];
    if (K != K2)
        return nb_set_error("%s: inner dimensions differ: %s @ %s", op, NB_SHP(a, x), NB_SHP(b, y)), -1;
    int na = pa->ndim - 2, nbb = pb->ndim - 2, nb = na > nbb ? na : nbb;
    int64_t full[NB_MAX_DIMS];
    for (int i = 0; i < nb; i++) {
        int ia = i - (nb - na), ib = i - (nb - nbb);
        int64_t sa = ia >= 0 ? pa->shape[ia] : 1, sb = ib >= 0 ? pb->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return nb_set_error("%s: batch dimensions do not broadcast: %s @ %s (batch dim %d: %lld "
                                "vs %lld)",
                                op, NB_SHP(a, x), NB_SHP(b, y), i, (long long)sa, (long long)sb),
                   -1;
        full[i] = sa == 1 ? sb : sa;
    }
    G->nb = nb;
    G->out_nd = 0;
    for (int i = 0; i < nb; i++)
        G->out_shape[G->out_nd++] = full[i];
    if (!G->a1) G->out_shape[G->out_nd++] = M;
    if (!G->b1) G->out_shape[G->out_nd++] = N;
    if (make_usable(pa, a) || make_usable(pb, borig)) return -1;
    full[nb] = M;
    full[nb + 1] = K;
    nb_expand_desc(pa, nb + 2, full, &G->ea);
    full[nb] = K;
    full[nb + 1] = N;
    nb_expand_desc(pb, nb + 2, full, &G->eb);
    return 0;
}

/* The promoted (nb+2)-D descriptor [batch.., M, N] of a tensor of the result's shape. */
static nb_tensor promote_out(const nb_tensor *t, const mm_geom *G) {
    nb_tensor d = *t;
    int k = 0, nb = G->nb;
    d.ndim = nb + 2;
    for (int i = 0; i < nb; i++, k++)
        d.shape[i] = t->shape[k], d.stride[i] = t->stride[k];
    if (G->a1)
        d.shape[nb] = 1, d.stride[nb] = 0;
    else
        d.shape[nb] = t->shape[k], d.stride[nb] = t->stride[k], k++;
    if (G->b1)
        d.shape[nb + 1] = 1, d.stride[nb + 1] = 1;
    else
        d.shape[nb + 1] = t->shape[k], d.stride[nb + 1] = t->stride[k];
    return d;
}

/* The shape [Bs..,P,Q] of the batched product L @ R (L [Bs..,P,J], R [Bs..,J,Q]) into full. */
static void mm_full_shape(const nb_tensor *L, const nb_tensor *R, int64_t *full) {
    int nb = L->ndim - 2;
    memcpy(full, L->shape, sizeof(int64_t) * (size_t)nb);
    full[nb] = L->shape[nb];
    full[nb + 1] = R->shape[nb + 1];
}

/* Writes sum_batch(L @ R) (+ beta * dst) into dst (the promoted target shape (nd, shape)) as one
 * batched product per position of the summed batch dims, each added into dst (beta 1 after the
 * first): no temporary of the whole batch and no separate sum (a convolution's weight gradient,
 * whose batch cannot fold into the contraction: the temporary would be batch times the weight). Only when
 * each product is big enough to be worth a GEMM call: 1 when it is not (nothing written), 0, or -1; with dst
 * NULL, only whether it would run (0 or 1). */
static int mm_sum_loop(const nb_backend *be, const nb_tensor *dst, const nb_tensor *L, const nb_tensor *R,
                       int nd, const int64_t *shape, float beta) {
    const int nb = L->ndim - 2, lead = nb - (nd - 2);
    if (lead < 0) return 1;
    nb_tensor o = dst ? *dst : *L, l = *L, r = *R; /* o: dst at the batch rank of L and R */
    o.ndim = nb + 2;
    int sd[NB_MAX_DIMS], ns = 0;
    int64_t kept = 1, positions = 1;
    for (int i = 0; i < nb; i++) {
        const int ti = i - lead;
        if (ti >= 0 && shape[ti] == L->shape[i]) {
            o.shape[i] = L->shape[i];
            o.stride[i] = dst ? dst->stride[ti] : 0;
            kept *= L->shape[i];
            continue;
        }
        o.shape[i] = l.shape[i] = r.shape[i] = 1;
        o.stride[i] = 0;
        if (L->shape[i] > 1) sd[ns++] = i, positions *= L->shape[i];
    }
    const int64_t macs = kept * L->shape[nb] * L->shape[nb + 1] * R->shape[nb + 1];
    if (ns == 0 || positions < 2 || macs < ((int64_t)1 << 20)) return 1;
    if (!dst) return 0;
    o.shape[nb] = L->shape[nb], o.stride[nb] = dst->stride[nd - 2];
    o.shape[nb + 1] = R->shape[nb + 1], o.stride[nb + 1] = dst->stride[nd - 1];
    int64_t idx[NB_MAX_DIMS] = {0};
    for (int64_t p = 0; p < positions; p++) {
        l.offset = L->offset, r.offset = R->offset;
        for (int k = 0; k < ns; k++) {
            l.offset += idx[k] * L->stride[sd[k]];
            r.offset += idx[k] * R->stride[sd[k]];
        }
        if (mm_batched(be, &o, &l, &r, p ? 1.0f : beta)) return -1;
        for (int k = ns - 1; k >= 0 && ++idx[k] == L->shape[sd[k]]; k--)
            idx[k] = 0;
    }
    return 0;
}

/* Writes sum_batch(L @ R) (+ beta * dst) into the contiguous dst of the (promoted) target shape
 * (nd, shape): batch dims the target lacks (or has as 1) are summed, folded into one GEMM or
 * added up by a loop of them. 1 when neither applies (nothing written), 0, or -1; with dst
 * NULL, only whether one applies (0 or 1). */
static int mm_grad_into(const nb_backend *be, const nb_tensor *dst, const nb_tensor *L, const nb_tensor *R,
                        int nd, const int64_t *shape, float beta) {
    int nb = L->ndim - 2;
    int64_t full[NB_MAX_DIMS], tb = 1;
    mm_full_shape(L, R, full);
    for (int i = 0; i < nd - 2; i++)
        tb *= shape[i];
    if (nd == nb + 2 && memcmp(shape, full, sizeof(int64_t) * (size_t)nd) == 0)
        return !dst ? 0 : mm_batched(be, dst, L, R, beta) ? -1 : 0;
    if (tb == 1 && nb > 0) {
        nb_tensor d2;
        if (dst) d2 = desc3(dst, 1, 0, 0);
        const int rc = mm_reduce(be, dst ? &d2 : NULL, L, R, beta);
        if (rc <= 0) return rc;
    }
    return mm_sum_loop(be, dst, L, R, nd, shape, beta);
}

/* The gradient at the (promoted) target shape of sum_batch(L @ R): L [Bs..,P,J], R [Bs..,J,Q].
 * Batch dims the target lacks (or has as 1) are summed, folded into one GEMM when possible. */
static nb_tensor *mm_grad(const nb_tensor *like, const nb_tensor *L, const nb_tensor *R, int nd,
                          const int64_t *shape) {
    const nb_backend *be = nb_be(like);
    if (!be) return NULL;
    int nb = L->ndim - 2;
    int64_t full[NB_MAX_DIMS];
    mm_full_shape(L, R, full);
    if (mm_grad_into(be, NULL, L, R, nd, shape, 0.0f) == 0) {
        nb_tensor *d = nb_new_like_shape(like, NB_F32, nd, shape);
        if (!d) return NULL;
        int rc = mm_grad_into(be, d, L, R, nd, shape, 0.0f);
        if (rc <= 0) return rc ? NULL : d;
    }
    nb_tensor *t = nb_new_like_shape(like, NB_F32, nb + 2, full);
    if (!t || mm_batched(be, t, L, R, 0.0f)) return NULL;
    return nb_sum_to(t, nd, shape);
}

/* A weight's gradient sum_batch(L @ R), added straight into the grad of input i when it is a
 * leaf of the target's (unpromoted) shape: gin[i] = NB_GIN_ACCUMULATED. 1 when that is not
 * possible (nothing written), 0, or -1. */
static int mm_grad_leaf(nb_node *n, int i, const nb_tensor *L, const nb_tensor *R, int nd,
                        const int64_t *shape, nb_tensor **gin) {
    nb_tensor *x = n->in[i];
    if (x->ndim != nd || memcmp(x->shape, shape, sizeof(int64_t) * (size_t)nd) != 0) return 1;
    nb_tensor *lg = nb_node_leaf_grad(n, i); /* NULL: not a leaf, or recycling off */
    const nb_backend *be = lg ? nb_be(lg) : NULL;
    if (!be || !nb_is_contiguous(lg)) return 1;
    int rc = mm_grad_into(be, lg, L, R, nd, shape, 1.0f);
    if (rc == 0) gin[i] = NB_GIN_ACCUMULATED;
    return rc;
}

/* The gradient of the result, promoted and expanded like the result, usable in place. */
static int grad_desc(nb_tensor *g, const mm_geom *G, nb_tensor *pg) {
    *pg = promote_out(g, G);
    return make_usable(pg, g);
}

/* Reshapes a gradient computed at the promoted shape back to the input's shape. */
static nb_tensor *unpromote(nb_tensor *d, const nb_tensor *in) {
    if (!d || d->ndim == in->ndim) return d;
    return nb_reshape(d, in->ndim, in->shape);
}

static int matmul_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0], *b = n->in[1], pg;
    mm_geom G;
    if (mm_prepare("matmul", a, b, b, &G) || grad_desc(g, &G, &pg)) return -1;
    if (a->requires_grad) { /* dA = g @ B^T */
        nb_tensor bt = transpose_last(&G.eb);
        if (!(gin[0] = unpromote(mm_grad(g, &pg, &bt, G.pa.ndim, G.pa.shape), a))) return -1;
    }
    if (b->requires_grad) { /* dB = A^T @ g, straight into a leaf's grad when it can */
        nb_tensor at = transpose_last(&G.ea);
        int rc = mm_grad_leaf(n, 1, &at, &pg, G.pb.ndim, G.pb.shape, gin);
        if (rc < 0) return -1;
        if (rc > 0 && !(gin[1] = unpromote(mm_grad(g, &at, &pg, G.pb.ndim, G.pb.shape), b))) return -1;
    }
    return 0;
}

nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b) {
    NB_NULL_GUARD(a, b);
    mm_geom G;
    if (mm_prepare("matmul", a, b, b, &G)) return NULL;
    const nb_backend *be = nb_be(a);
    nb_tensor *out = be ? nb_new_like_shape(a, NB_F32, G.out_nd, G.out_shape) : NULL;
    if (!out) return NULL;
    nb_tensor po = promote_out(out, &G);
    if (mm_batched(be, &po, &G.ea, &G.eb, 0.0f)) return NULL;
    nb_tensor *ins[2] = {a, b};
    nb_node *n;
    if (!nb_op_finish(out, "matmul", matmul_backward, 2, ins, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_OUT;
    return out;
}

/* ---- linear ------------------------------------------------------------------------------- */

static int linear_check(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b) {
    char s[96], t[96];
    if (nb_check_dtype("linear", w, NB_F32, "weight") || nb_check_dtype("linear", x, NB_F32, "input") ||
        nb_same_device("linear", x, w))
        return -1;
    if (w->ndim != 2) return nb_set_error("linear: weight must be 2-D [out,in], got %s", NB_SHP(w, s)), -1;
    if (x->ndim == 0 || x->shape[x->ndim - 1] != w->shape[1])
        return nb_set_error("linear: in-features differ: input %s, weight %s [out,in]", NB_SHP(x, s),
                            NB_SHP(w, t)),
               -1;
    if (!b) return 0;
    if (nb_check_dtype("linear", b, NB_F32, "bias") || nb_same_device("linear", x, b)) return -1;
    if (b->ndim != 1 || b->shape[0] != w->shape[0])
        return nb_set_error("linear: bias %s does not match weight %s (want [%lld])", NB_SHP(b, s),
                            NB_SHP(w, t), (long long)w->shape[0]),
               -1;
    return 0;
}

/* db = g summed over every row: ones[1,R] @ g[R,out] as one GEMM when g's rows merge (much
 * faster than a strided column reduction), else nb_sum. (The bias is small: its gradient goes
 * through the engine, which keeps the old summation order.) */
static nb_tensor *bias_grad(nb_tensor *g) {
    int nd = g->ndim, axes[NB_MAX_DIMS];
    if (nd == 1) return g;
    const nb_backend *be = nb_be(g);
    int64_t R, sr, O = g->shape[nd - 1];
    if (be && be->matmul && merge_range(g, 0, nd - 1, &R, &sr)) {
        nb_tensor gm = desc3(g, 1, 0, 0);
        gm.shape[1] = R;
        gm.stride[1] = R == 1 ? O : sr;
        if (nb_mat_usable(&gm)) {
            nb_tensor *ones = nb_new_like_shape(g, NB_F32, 2, (const int64_t[]){1, R});
            nb_tensor *db = nb_new_like_shape(g, NB_F32, 1, &O);
            if (!ones || !db || be->fill(ones, 1.0)) return NULL;
            nb_tensor a3 = desc3(ones, 1, 0, 0), o3 = *db; /* db as [1,1,O] */
            o3.ndim = 3;
            memcpy(o3.shape, (const int64_t[]){1, 1, O}, sizeof(int64_t) * 3);
            memcpy(o3.stride, (const int64_t[]){0, O, 1}, sizeof(int64_t) * 3);
            return be->matmul(&o3, &a3, &gm, 0.0f) ? NULL : db;
        }
    }
    for (int i = 0; i < nd - 1; i++)
        axes[i] = i;
    return nb_sum(g, nd - 1, axes, false);
}

static int linear_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL, pg;
    nb_tensor wt = transpose_last(w);
    mm_geom G;
    if (mm_prepare("linear", x, &wt, w, &G) || grad_desc(g, &G, &pg)) return -1;
    if (x->requires_grad) { /* dx = g @ W */
        nb_tensor we = transpose_last(&G.eb);
        if (!(gin[0] = unpromote(mm_grad(g, &pg, &we, G.pa.ndim, G.pa.shape), x))) return -1;
    }
    if (w->requires_grad) { /* dW = g^T @ x, the batch folded into the contraction */
        nb_tensor gt = transpose_last(&pg);
        int rc = mm_grad_leaf(n, 1, &gt, &G.ea, 2, w->shape, gin);
        if (rc < 0) return -1;
        if (rc > 0 && !(gin[1] = mm_grad(g, &gt, &G.ea, 2, w->shape))) return -1;
    }
    if (b && b->requires_grad && !(gin[2] = bias_grad(g))) return -1;
    return 0;
}

nb_tensor *nb_linear(nb_tensor *x, nb_tensor *w, nb_tensor *b) {
    NB_NULL_GUARD(x, w);
    if (linear_check(x, w, b)) return NULL;
    nb_tensor wt = transpose_last(w);
    mm_geom G;
    if (mm_prepare("linear", x, &wt, w, &G)) return NULL;
    const nb_backend *be = nb_be(x);
    nb_tensor *out = be ? nb_new_like_shape(x, NB_F32, G.out_nd, G.out_shape) : NULL;
    if (!out) return NULL;
    nb_tensor po = promote_out(out, &G);
    if (b) { /* out = bias, then out += x @ W^T */
        nb_tensor eb;
        nb_expand_desc(b, po.ndim, po.shape, &eb);
        if (be->copy(&po, &eb)) return NULL;
    }
    if (mm_batched(be, &po, &G.ea, &G.eb, b ? 1.0f : 0.0f)) return NULL;
    nb_tensor *ins[3] = {x, w, b};
    nb_node *n;
    if (!nb_op_finish(out, "linear", linear_backward, b ? 3 : 2, ins, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_IN(2) | NB_UNREAD_OUT; /* reads x and w, not b or y */
    return out;
}
