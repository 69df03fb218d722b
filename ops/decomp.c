/* ops/decomp.c - matrix decompositions: nb_eigh / nb_eigvalsh (the symmetric eigendecomposition)
 * and nb_qr. Each is one node whose output packs all its results (eigh: [..., n + 1, n], the
 * eigenvalues in row 0 and the eigenvectors below; qr: Q and R flattened side by side), handed
 * to the caller as views: one backward rule then sees the gradients of both results, zeros where
 * one went unused. The backends run ops/decomp_math.h's serial routines, one matrix per task. */
#include <string.h>

#include "ops/linalg.h"

/* ---- eigh ----------------------------------------------------------------------------------- */

/* torch's rule: gA = V (diag(gw) + skew(V^T gV) / E) V^T, E_ij = w_j - w_i (0 on the diagonal):
 * symmetric, infinite where two eigenvalues coincide and gV is not zero there (finite where it
 * is: eigvalsh of the identity has the gradient V diag(gw) V^T) */
static int eigh_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *p = n->out;
    const int64_t m = p->shape[p->ndim - 1];
    nb_tensor *w = nb_narrow(p, -2, 0, 1), *v = nb_narrow(p, -2, 1, m); /* w [..., 1, n] */
    nb_tensor *gw = nb_narrow(g, -2, 0, 1), *gv = nb_narrow(g, -2, 1, m);
    nb_tensor *eye = nb_eye_like(g, m);
    nb_tensor *vtg = eye ? nb_matmul(nb_transpose(v, -1, -2), gv) : NULL;
    nb_tensor *skew = vtg ? nb_mul_scalar(nb_sub(vtg, nb_transpose(vtg, -1, -2)), 0.5f) : NULL;
    nb_tensor *e = skew ? nb_sub(w, nb_transpose(w, -1, -2)) : NULL; /* [..., n, n]: w_j - w_i */
    /* 0 on the diagonal, and wherever skew is 0: eigenvectors unused (gV = 0) give no 0 / 0 at
     * repeated eigenvalues (torch skips the term when gV is undefined) */
    nb_tensor *zero = skew ? nb_scalar_like(g, 0.0f) : NULL;
    nb_tensor *off = e ? nb_where(nb_maximum(eye, nb_eq(skew, zero)), zero, nb_div(skew, e)) : NULL;
    nb_tensor *mid = off ? nb_add(off, nb_mul(eye, gw)) : NULL;
    gin[0] = mid ? nb_matmul(nb_matmul(v, mid), nb_transpose(v, -1, -2)) : NULL;
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_eigh(nb_tensor *a, nb_tensor **eigenvectors) {
    const char *op = "eigh";
    if (eigenvectors) *eigenvectors = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_la_check_square(op, a, "A")) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->eigh) return nb_unsupported(op, be);
    const int nd = a->ndim;
    const int64_t n = a->shape[nd - 1];
    if (!eigenvectors && !nb_any_requires_grad(1, &a)) { /* eigenvalues only: no vectors formed */
        nb_tensor *w = nb_new_like_shape(a, NB_F32, nd - 1, a->shape);
        const nb_tensor *ac = w ? (nb_is_contiguous(a) ? a : nb_la_dense_copy(a)) : NULL;
        if (!ac) return NULL;
        nb_tensor a3 = nb_la_folded(ac, 2), w2 = nb_la_folded(w, 1);
        if (be->eigh(&w2, NULL, &a3)) return NULL;
        return nb_as_op(nb_op_finish(w, op, eigh_backward, 1, &a, NULL), op); /* the anomaly check */
    }
    nb_tensor *v = nb_new_like_shape(a, NB_F32, nd, a->shape);
    nb_tensor *w = v ? nb_new_like_shape(a, NB_F32, nd - 1, a->shape) : NULL;
    const nb_tensor *ac = w ? (nb_is_contiguous(a) ? a : nb_la_dense_copy(a)) : NULL;
    if (!ac) return NULL;
    nb_tensor a3 = nb_la_folded(ac, 2), w2 = nb_la_folded(w, 1), v3 = nb_la_folded(v, 2);
    if (be->eigh(&w2, &v3, &a3)) return NULL;
    nb_tensor *parts[2] = {nb_unsqueeze(w, -2), v};
    nb_tensor *packed = parts[0] ? nb_cat(parts, 2, -2) : NULL;
    nb_node *node;
    if (!packed || !nb_op_finish(packed, op, eigh_backward, 1, &a, &node)) return nb_as_op(NULL, op);
    if (node) node->unread = NB_UNREAD_IN(0); /* the rule reads the results only */
    nb_tensor *vals = nb_squeeze(nb_narrow(packed, -2, 0, 1), -2);
    if (eigenvectors && vals) *eigenvectors = nb_narrow(packed, -2, 1, n);
    return vals;
}

nb_tensor *nb_eigvalsh(nb_tensor *a) {
    nb_tensor *w = nb_eigh(a, NULL);
    return nb_as_op(w, "eigvalsh");
}

/* ---- QR ------------------------------------------------------------------------------------- */

/* X R^-T for R [..., k, k] upper triangular: (R^-1 X^T)^T */
static nb_tensor *times_rinv_t(nb_tensor *x, nb_tensor *r) {
    nb_tensor *s = nb_la_trisolve(r, nb_transpose(x, -1, -2), true, false, false);
    return s ? nb_transpose(s, -1, -2) : NULL;
}

/* A = Q R with m >= n columns of Q (R square): with qdq = Q^T gQ and rdr = R gR^T, their skew
 * parts summed in L = tril(qdq - qdq^T + rdr - rdr^T), gA = Q (gR + L R^-T) + (gQ - Q qdq) R^-T
 * (Walter and Lehmann's rule, as TensorFlow's QrGrad). The last term is exactly 0 for a square Q
 * (Q Q^T = I): left out there, since in f32 it is rounding times R^-1. */
static nb_tensor *qr_grad_tall(nb_tensor *q, nb_tensor *r, nb_tensor *gq, nb_tensor *gr, bool square) {
    nb_tensor *qdq = nb_matmul(nb_transpose(q, -1, -2), gq), *rdr = nb_matmul(r, nb_transpose(gr, -1, -2));
    nb_tensor *skew =
        qdq && rdr ? nb_add(nb_sub(qdq, nb_transpose(qdq, -1, -2)), nb_sub(rdr, nb_transpose(rdr, -1, -2)))
                   : NULL;
    nb_tensor *l = skew ? nb_tril(skew, 0) : NULL;
    nb_tensor *ga = l ? nb_matmul(q, nb_add(gr, times_rinv_t(l, r))) : NULL;
    if (square || !ga) return ga;
    nb_tensor *gb = times_rinv_t(nb_sub(gq, nb_matmul(q, qdq)), r);
    return gb ? nb_add(ga, gb) : NULL;
}

static int qr_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0], *p = n->out;
    const int nd = a->ndim;
    const int64_t m = a->shape[nd - 2], nc = a->shape[nd - 1], kq = n->i[0], kr = n->i[1];
    if (kq > nc && m > nc) {
        nb_set_error("the gradient of a complete QR with more rows than columns is not defined (Q's last "
                     "columns are not unique)");
        return -1;
    }
    int64_t sq[NB_MAX_DIMS], sr[NB_MAX_DIMS];
    memcpy(sq, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    memcpy(sr, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    sq[nd - 2] = m, sq[nd - 1] = kq, sr[nd - 2] = kr, sr[nd - 1] = nc;
    nb_tensor *q = nb_reshape(nb_narrow(p, -1, 0, m * kq), nd, sq),
              *r = nb_reshape(nb_narrow(p, -1, m * kq, kr * nc), nd, sr);
    nb_tensor *gq = nb_reshape(nb_narrow(g, -1, 0, m * kq), nd, sq),
              *gr = nb_reshape(nb_narrow(g, -1, m * kq, kr * nc), nd, sr);
    if (!q || !r || !gq || !gr) return -1;
    if (m >= nc) {
        gin[0] = qr_grad_tall(q, r, gq, gr, m == nc);
        return gin[0] ? 0 : -1;
    }
    /* wide (Roberts and Roberts): A = [X | Y], R = [U | V], X = Q U square; gY = Q gV and X's
     * gradient is the square rule's with gQ + Y gV^T */
    nb_tensor *u = nb_narrow(r, -1, 0, m), *gu = nb_narrow(gr, -1, 0, m), *gv = nb_narrow(gr, -1, m, nc - m);
    nb_tensor *y = nb_narrow(a, -1, m, nc - m);
    nb_tensor *gx = u && gu && gv && y
                        ? qr_grad_tall(q, u, nb_add(gq, nb_matmul(y, nb_transpose(gv, -1, -2))), gu, true)
                        : NULL;
    nb_tensor *parts[2] = {gx, gx ? nb_matmul(q, gv) : NULL};
    gin[0] = parts[1] ? nb_cat(parts, 2, -1) : NULL;
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_qr(nb_tensor *a, bool complete, nb_tensor **r) {
    const char *op = "qr";
    if (r) *r = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "A")) return NULL;
    char s[96];
    if (a->ndim < 2) return nb_set_error("%s: A %s has fewer than 2 dims", op, NB_SHP(a, s));
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->qr) return nb_unsupported(op, be);
    const int nd = a->ndim;
    const int64_t m = a->shape[nd - 2], n = a->shape[nd - 1], k = m < n ? m : n;
    const int64_t kq = complete ? m : k, kr = complete ? m : k;
    if (m > INT32_MAX || n > INT32_MAX || (m && kq > INT64_MAX / m) || (kr && n > INT64_MAX / kr - m * kq))
        return nb_set_error("%s: A %s is too large", op, NB_SHP(a, s));
    int64_t sq[NB_MAX_DIMS], sr[NB_MAX_DIMS];
    memcpy(sq, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    memcpy(sr, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    sq[nd - 2] = m, sq[nd - 1] = kq, sr[nd - 2] = kr, sr[nd - 1] = n;
    nb_tensor *qt = nb_new_like_shape(a, NB_F32, nd, sq),
              *rt = qt ? nb_new_like_shape(a, NB_F32, nd, sr) : NULL;
    const nb_tensor *ac = rt ? (nb_is_contiguous(a) ? a : nb_la_dense_copy(a)) : NULL;
    if (!ac) return NULL;
    nb_tensor a3 = nb_la_folded(ac, 2), q3 = nb_la_folded(qt, 2), r3 = nb_la_folded(rt, 2);
    if (be->qr(&q3, &r3, &a3)) return NULL;
    /* packed [..., m kq + kr n]: Q's entries, then R's */
    int64_t fq[NB_MAX_DIMS], fr[NB_MAX_DIMS];
    memcpy(fq, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    memcpy(fr, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    fq[nd - 2] = m * kq, fr[nd - 2] = kr * n;
    nb_tensor *parts[2] = {nb_reshape(qt, nd - 1, fq), nb_reshape(rt, nd - 1, fr)};
    nb_tensor *packed = parts[0] && parts[1] ? nb_cat(parts, 2, -1) : NULL;
    nb_node *node;
    if (!packed || !nb_op_finish(packed, op, qr_backward, 1, &a, &node)) return nb_as_op(NULL, op);
    if (node) {
        node->i[0] = kq, node->i[1] = kr;
        if (m >= n) node->unread = NB_UNREAD_IN(0); /* the wide rule alone reads A */
    }
    nb_tensor *q = nb_reshape(nb_narrow(packed, -1, 0, m * kq), nd, sq);
    if (r && q) *r = nb_reshape(nb_narrow(packed, -1, m * kq, kr * n), nd, sr);
    return q && (!r || *r) ? q : NULL;
}
