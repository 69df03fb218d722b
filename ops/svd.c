/* ops/svd.c - the singular-value decomposition and what rests on it: nb_svd, nb_svdvals,
 * nb_pinv, nb_lstsq, nb_matrix_rank, nb_matrix_norm, nb_cond. nb_svd is one node whose output
 * packs U, S and Vh side by side (as ops/decomp.c's results), handed out as views; the backends
 * run ops/decomp_math.h's one-sided Jacobi, one matrix per task. The pseudo-inverse is a node of
 * its own with torch's rule, which holds where the rank is constant, zero singular values
 * included. */
#include <float.h>
#include <string.h>

#include "ops/linalg.h"

/* t's shape with its last two dims replaced by (r, c), in shape; returns t->ndim */
static int mat_shape(const nb_tensor *t, int64_t r, int64_t c, int64_t *shape) {
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[t->ndim - 2] = r, shape[t->ndim - 1] = c;
    return t->ndim;
}

/* where(x == 0, 0, x / y): a zero gradient contributes zero even where y is 0 */
static nb_tensor *safe_div(nb_tensor *x, nb_tensor *y) {
    nb_tensor *zero = nb_scalar_like(x, 0.0f);
    return zero ? nb_where(nb_eq(x, zero), zero, nb_div(x, y)) : NULL;
}

/* the three views of a packed [..., m k + k + k n] */
static int svd_unpack(nb_tensor *p, const nb_tensor *a, nb_tensor **u, nb_tensor **s, nb_tensor **vh) {
    const int nd = a->ndim;
    const int64_t m = a->shape[nd - 2], n = a->shape[nd - 1], k = m < n ? m : n;
    int64_t su[NB_MAX_DIMS], sv[NB_MAX_DIMS];
    mat_shape(a, m, k, su);
    mat_shape(a, k, n, sv);
    *u = nb_reshape(nb_narrow(p, -1, 0, m * k), nd, su);
    *s = nb_narrow(p, -1, m * k, k);
    *vh = nb_reshape(nb_narrow(p, -1, m * k + k, k * n), nd, sv);
    return *u && *s && *vh ? 0 : -1;
}

/* torch's rule (svd_backward): with skew(X) = X - X^T and E_jk = S_k^2 - S_j^2,
 * R = (skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS); gA = U R Vh, plus, when m > n,
 * (gU - U U^T gU) S^-1 Vh, and when m < n, U S^-1 gV^T (I - V Vh). Only S returned: U diag(gS) Vh. */
static int svd_backward(nb_node *nd, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = nd->in[0], *u, *s, *vh, *gu, *gs, *gvh;
    if (svd_unpack(nd->out, a, &u, &s, &vh) || svd_unpack(g, a, &gu, &gs, &gvh)) return -1;
    const int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n;
    if (k == 0) { /* an empty A: nothing flows */
        gin[0] = nb_full_on(nb_out_ctx(g), NB_F32, a->device, a->ndim, a->shape, 0.0);
        return gin[0] ? 0 : -1;
    }
    nb_tensor *srow = nb_unsqueeze(s, -2);
    nb_tensor *eye = nb_eye_like(g, k);
    if (!srow || !eye) return -1;
    nb_tensor *gsd = nb_mul(eye, nb_unsqueeze(gs, -2)); /* diag(gS) */
    if (!nd->i[0]) {                                    /* only S was returned */
        gin[0] = gsd ? nb_matmul(nb_matmul(u, gsd), vh) : NULL;
        return gin[0] ? 0 : -1;
    }
    nb_tensor *v = nb_transpose(vh, -1, -2), *gv = nb_transpose(gvh, -1, -2);
    nb_tensor *utgu = nb_matmul(nb_transpose(u, -1, -2), gu), *vtgv = nb_matmul(nb_transpose(v, -1, -2), gv);
    nb_tensor *sku = utgu ? nb_sub(utgu, nb_transpose(utgu, -1, -2)) : NULL;
    nb_tensor *skv = vtgv ? nb_sub(vtgv, nb_transpose(vtgv, -1, -2)) : NULL;
    nb_tensor *s2 = nb_mul(s, s), *scol = nb_unsqueeze(s, -1);
    nb_tensor *e = s2 ? nb_sub(nb_unsqueeze(s2, -2), nb_unsqueeze(s2, -1)) : NULL;
    nb_tensor *num = sku && skv && scol ? nb_add(nb_mul(sku, srow), nb_mul(scol, skv)) : NULL;
    nb_tensor *zero = nb_scalar_like(g, 0.0f);
    /* 0 where U's and V's terms are both 0 (unused U and Vh give no 0 / 0 at repeated singular
     * values); elsewhere num / E, NaN where both underflowed to 0 (as torch's), never a silent 0 */
    nb_tensor *unused = num && zero ? nb_mul(nb_eq(sku, zero), nb_eq(skv, zero)) : NULL;
    nb_tensor *off = unused ? nb_where(unused, zero, nb_div(num, e)) : NULL;
    nb_tensor *r = off && e && gsd ? nb_add(nb_where(eye, zero, off), gsd) : NULL;
    if (!r) return -1;
    if (m > n) {
        nb_tensor *gus = safe_div(gu, srow);
        nb_tensor *t =
            gus ? nb_add(nb_matmul(u, r), nb_sub(gus, nb_matmul(u, nb_matmul(nb_transpose(u, -1, -2), gus))))
                : NULL;
        gin[0] = t ? nb_matmul(t, vh) : NULL;
    } else if (m < n) {
        nb_tensor *gvs = safe_div(gv, srow), *gvst = gvs ? nb_transpose(gvs, -1, -2) : NULL;
        nb_tensor *t =
            gvst ? nb_add(nb_matmul(r, vh), nb_sub(gvst, nb_matmul(nb_matmul(gvst, v), vh))) : NULL;
        gin[0] = t ? nb_matmul(u, t) : NULL;
    } else {
        gin[0] = nb_matmul(nb_matmul(u, r), vh);
    }
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_svd(nb_tensor *a, nb_tensor **u, nb_tensor **vh) {
    const char *op = "svd";
    if (u) *u = NULL;
    if (vh) *vh = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_check_dtype(op, a, NB_F32, "A")) return NULL;
    char sh[96];
    if (a->ndim < 2) return nb_set_error("%s: A %s has fewer than 2 dims", op, NB_SHP(a, sh));
    if ((!u) != (!vh)) return nb_set_error("%s: give both U and Vh, or neither", op);
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->svd) return nb_unsupported(op, be);
    const int nd = a->ndim;
    const int64_t m = a->shape[nd - 2], n = a->shape[nd - 1], k = m < n ? m : n;
    if (m > INT32_MAX || n > INT32_MAX) return nb_set_error("%s: A %s is too large", op, NB_SHP(a, sh));
    int64_t su[NB_MAX_DIMS], sv[NB_MAX_DIMS], ss[NB_MAX_DIMS];
    mat_shape(a, m, k, su);
    mat_shape(a, k, n, sv);
    memcpy(ss, a->shape, sizeof(int64_t) * (size_t)(nd - 1));
    ss[nd - 2] = k;
    nb_tensor *ut = nb_new_like_shape(a, NB_F32, nd, su),
              *vt = ut ? nb_new_like_shape(a, NB_F32, nd, sv) : NULL;
    nb_tensor *st = vt ? nb_new_like_shape(a, NB_F32, nd - 1, ss) : NULL;
    const nb_tensor *ac = st ? (nb_is_contiguous(a) ? a : nb_la_dense_copy(a)) : NULL;
    if (!ac) return NULL;
    nb_tensor a3 = nb_la_folded(ac, 2), u3 = nb_la_folded(ut, 2), v3 = nb_la_folded(vt, 2),
              s2 = nb_la_folded(st, 1);
    /* U and Vh when asked for or when the gradient will need them; else the values alone */
    if (!u && !(nb_grad_enabled() && a->requires_grad)) return be->svd(&s2, NULL, NULL, &a3) ? NULL : st;
    if (be->svd(&s2, &u3, &v3, &a3)) return NULL;
    int64_t fu[NB_MAX_DIMS], fv[NB_MAX_DIMS];
    memcpy(fu, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    memcpy(fv, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
    fu[nd - 2] = m * k, fv[nd - 2] = k * n;
    nb_tensor *parts[3] = {nb_reshape(ut, nd - 1, fu), st, nb_reshape(vt, nd - 1, fv)};
    nb_tensor *packed = parts[0] && parts[2] ? nb_cat(parts, 3, -1) : NULL;
    nb_node *node;
    if (!packed || !nb_op_finish(packed, op, svd_backward, 1, &a, &node)) return nb_as_op(NULL, op);
    if (node) {
        node->i[0] = u != NULL;
        node->unread = NB_UNREAD_IN(0); /* the rule reads the results only */
    }
    nb_tensor *uu, *s, *vv;
    if (svd_unpack(packed, a, &uu, &s, &vv)) return NULL;
    if (u) *u = uu, *vh = vv;
    return s;
}

nb_tensor *nb_svdvals(nb_tensor *a) { return nb_as_op(nb_svd(a, NULL, NULL), "svdvals"); }

/* q [..., r, k] with orthonormal columns, completed to [..., r, r]: its columns, then the last
 * r - k of a complete QR of q (orthogonal to them), detached */
static nb_tensor *complete_basis(nb_tensor *q) {
    const int64_t r = q->shape[q->ndim - 2], k = q->shape[q->ndim - 1];
    if (r == k) return q;
    nb_tensor *full = nb_qr(nb_detach(q), true, NULL);
    nb_tensor *parts[2] = {q, full ? nb_narrow(full, -1, k, r - k) : NULL};
    return parts[1] ? nb_cat(parts, 2, -1) : NULL;
}

nb_tensor *nb_svd_full(nb_tensor *a, nb_tensor **u, nb_tensor **vh) {
    const char *op = "svd_full";
    if (u) *u = NULL;
    if (vh) *vh = NULL;
    if (!u || !vh) return nb_set_error("%s: U and Vh are both required (nb_svdvals gives S alone)", op);
    nb_tensor *ur, *vr, *s = nb_svd(a, &ur, &vr);
    if (!s) return nb_as_op(NULL, op);
    nb_tensor *uf = complete_basis(ur), *vt = uf ? complete_basis(nb_transpose(vr, -1, -2)) : NULL;
    nb_tensor *vf = vt ? nb_transpose(vt, -1, -2) : NULL;
    if (!vf) return nb_as_op(NULL, op);
    *u = uf, *vh = vf;
    return s;
}

/* ---- what rests on it ----------------------------------------------------------------------- */

/* rtol's default (torch's): max(m, n) eps when none is given (negative); NaN stays NaN */
static double default_rtol(const nb_tensor *a, double rtol) {
    const int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1];
    return rtol >= 0 ? rtol : (double)(m > n ? m : n) * FLT_EPSILON;
}

/* the singular values above rtol times the largest, as a mask [..., k] (f32 0/1) */
static nb_tensor *kept(nb_tensor *s, double rtol) {
    if (s->shape[s->ndim - 1] == 0) return nb_gt(s, s);
    nb_tensor *cut = nb_mul_scalar(nb_narrow(s, -1, 0, 1), (float)rtol); /* descending: the first */
    return cut ? nb_gt(s, cut) : NULL;
}

/* torch's rule (pinv_backward), with P = pinv(A) and g its gradient */
static int pinv_backward(nb_node *nd, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = nd->in[0], *p = nd->out;
    const int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1];
    nb_tensor *ph = nb_transpose(p, -1, -2), *gh = nb_transpose(g, -1, -2);
    if (m <= n) {
        nb_tensor *kk = nb_matmul(gh, p), *kph = kk ? nb_matmul(kk, ph) : NULL;
        nb_tensor *t1 = kph ? nb_neg(nb_transpose(nb_matmul(p, kk), -1, -2)) : NULL;
        nb_tensor *t2 = t1 ? nb_sub(kph, nb_matmul(nb_matmul(a, p), kph)) : NULL;
        nb_tensor *t3 = t2 ? nb_matmul(nb_matmul(ph, p), nb_sub(gh, nb_matmul(kk, a))) : NULL;
        gin[0] = t3 ? nb_add(nb_add(t1, t2), t3) : NULL;
    } else {
        nb_tensor *kk = nb_matmul(p, gh), *phk = kk ? nb_matmul(ph, kk) : NULL;
        nb_tensor *t1 = phk ? nb_neg(nb_transpose(nb_matmul(kk, p), -1, -2)) : NULL;
        nb_tensor *t2 = t1 ? nb_matmul(nb_matmul(nb_sub(gh, nb_matmul(a, kk)), p), ph) : NULL;
        nb_tensor *t3 = t2 ? nb_sub(phk, nb_matmul(nb_matmul(phk, p), a)) : NULL;
        gin[0] = t3 ? nb_add(nb_add(t1, t2), t3) : NULL;
    }
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_pinv(nb_tensor *a, double rtol) {
    const char *op = "pinv";
    NB_NULL_GUARD_NAMED(op, a);
    if (rtol != rtol) return nb_set_error("%s: rtol is NaN", op);
    if (nb_check_dtype(op, a, NB_F32, "A")) return NULL;
    char sh[96];
    if (a->ndim < 2) return nb_set_error("%s: A %s has fewer than 2 dims", op, NB_SHP(a, sh));
    /* P = V diag(1/s on the kept values, 0 elsewhere) U^T, computed unrecorded */
    const bool prev = nb_no_grad_begin();
    nb_tensor *u, *vh, *s = nb_svd(a, &u, &vh), *keep = s ? kept(s, default_rtol(a, rtol)) : NULL;
    nb_tensor *sinv = keep ? nb_where(keep, nb_reciprocal(s), nb_scalar_like(a, 0.0f)) : NULL;
    nb_tensor *p =
        sinv ? nb_matmul(nb_mul(nb_transpose(vh, -1, -2), nb_unsqueeze(sinv, -2)), nb_transpose(u, -1, -2))
             : NULL;
    nb_no_grad_end(prev);
    if (!p) return nb_as_op(NULL, op);
    nb_node *nd;
    return nb_op_finish(p, op, pinv_backward, 1, &a, &nd) ? p : NULL;
}

nb_tensor *nb_lstsq(nb_tensor *a, nb_tensor *b) {
    const char *op = "lstsq";
    NB_NULL_GUARD_NAMED(op, a, b);
    char s1[96], s2[96];
    if (a->ndim < 2 || b->ndim < 2 || b->shape[b->ndim - 2] != a->shape[a->ndim - 2])
        return nb_set_error("%s: B %s does not have A %s's rows (both at least 2-d)", op, NB_SHP(b, s1),
                            NB_SHP(a, s2));
    return nb_as_op(nb_matmul(nb_pinv(a, -1.0), b), op);
}

nb_tensor *nb_matrix_rank(nb_tensor *a, double rtol) {
    const char *op = "matrix_rank";
    NB_NULL_GUARD_NAMED(op, a);
    if (rtol != rtol) return nb_set_error("%s: rtol is NaN", op);
    const bool prev = nb_no_grad_begin();
    nb_tensor *s = nb_svdvals(a), *keep = s ? kept(s, default_rtol(a, rtol)) : NULL;
    nb_tensor *r = keep ? nb_cast(nb_sum(keep, 1, (const int[]){-1}, false), NB_I32) : NULL;
    nb_no_grad_end(prev);
    if (!r) nb_rename_error("svdvals", op);
    return nb_as_op(r, op);
}

nb_tensor *nb_matrix_norm(nb_tensor *a, const char *ord) {
    const char *op = "matrix_norm";
    NB_NULL_GUARD_NAMED(op, a);
    if (!ord) return nb_set_error("%s: ord is NULL", op);
    if (nb_check_dtype(op, a, NB_F32, "A")) return NULL;
    char sh[96];
    if (a->ndim < 2) return nb_set_error("%s: A %s has fewer than 2 dims", op, NB_SHP(a, sh));
    const int rows = -2, cols = -1, both[2] = {-2, -1};
    nb_tensor *r;
    if (!strcmp(ord, "fro")) {
        r = nb_norm(a, 2.0f, 2, both, false);
    } else if (!strcmp(ord, "nuc")) {
        r = nb_sum(nb_svdvals(a), 1, &cols, false);
    } else if (!strcmp(ord, "2") || !strcmp(ord, "-2")) {
        nb_tensor *s = nb_svdvals(a);
        r = s ? (ord[0] == '-' ? nb_min(s, 1, &cols, false) : nb_max(s, 1, &cols, false)) : NULL;
    } else if (!strcmp(ord, "1") || !strcmp(ord, "-1")) { /* the largest (smallest) column sum */
        nb_tensor *c = nb_sum(nb_abs(a), 1, &rows, false);
        r = c ? (ord[0] == '-' ? nb_min(c, 1, &cols, false) : nb_max(c, 1, &cols, false)) : NULL;
    } else if (!strcmp(ord, "inf") || !strcmp(ord, "-inf")) { /* the largest (smallest) row sum */
        nb_tensor *c = nb_sum(nb_abs(a), 1, &cols, false);
        r = c ? (ord[0] == '-' ? nb_min(c, 1, &cols, false) : nb_max(c, 1, &cols, false)) : NULL;
    } else {
        return nb_set_error("%s: unknown ord \"%s\" (fro, nuc, 1, -1, 2, -2, inf, -inf)", op, ord);
    }
    return nb_as_op(r, op);
}

nb_tensor *nb_cond(nb_tensor *a) {
    const char *op = "cond";
    nb_tensor *s = nb_svdvals(a);
    const int cols = -1;
    if (s && s->shape[s->ndim - 1] == 0)
        return nb_set_error("%s: A has no singular values (an empty dim)", op);
    nb_tensor *r = s ? nb_div(nb_max(s, 1, &cols, false), nb_min(s, 1, &cols, false)) : NULL;
    return nb_as_op(r, op);
}
