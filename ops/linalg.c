/* ops/linalg.c - linear algebra on batches of square f32 matrices [..., n, n]: solve, inverse,
 * det, slogdet, logdet, Cholesky, triangular and Cholesky solves, matrix powers, and LU factors.
 * Three nodes carry gradients of their own (a triangular solve, a general solve through LU, and
 * Cholesky); det and slogdet read the LU factors and take their gradients from an inverse; the
 * rest is composed of these. The backends run four kernels (backends/backend.h: lu, cholesky,
 * trisolve, lu_solve) on contiguous copies viewed as [B, n, n], summing in double. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/linalg.h"

/* ---- shapes and copies ---------------------------------------------------------------------- */

/* a is f32 with >= 2 dims, the last two equal and small enough for i32 pivots; 0 or -1 */
int nb_la_check_square(const char *op, const nb_tensor *a, const char *what) {
    if (nb_check_dtype(op, a, NB_F32, what)) return -1;
    char s[96];
    if (a->ndim < 2) return nb_set_error("%s: %s %s has fewer than 2 dims", op, what, NB_SHP(a, s)), -1;
    if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
        return nb_set_error("%s: %s %s is not square in its last two dims", op, what, NB_SHP(a, s)), -1;
    if (a->shape[a->ndim - 1] > INT32_MAX)
        return nb_set_error("%s: %s %s has more than 2^31 - 1 rows", op, what, NB_SHP(a, s)), -1;
    return 0;
}

/* the product of t's dims before its last `keep` */
static int64_t batch_of(const nb_tensor *t, int keep) {
    int64_t b = 1;
    for (int i = 0; i < t->ndim - keep; i++)
        b *= t->shape[i];
    return b;
}

/* A descriptor of contiguous t viewed as [B, r, c] (r, c its last two dims), [B, r] (its last
 * dim) or [B]: `keep` of its dims kept, the rest folded into B. Only for the backends' calls. */
nb_tensor nb_la_folded(const nb_tensor *t, int keep) {
    nb_tensor v = *t;
    v.ndim = keep + 1;
    v.shape[0] = batch_of(t, keep);
    for (int i = 0; i < keep; i++)
        v.shape[1 + i] = t->shape[t->ndim - keep + i];
    int64_t st = 1;
    for (int i = v.ndim - 1; i >= 0; i--) {
        v.stride[i] = st;
        st *= v.shape[i];
    }
    return v;
}

/* a new contiguous copy of t's values (no autograd record) */
nb_tensor *nb_la_dense_copy(const nb_tensor *t) {
    const nb_backend *be = nb_be(t);
    nb_tensor *c = be ? nb_new_like_shape(t, NB_F32, t->ndim, t->shape) : NULL;
    return c && !be->copy(c, t) ? c : NULL;
}

/* t itself when contiguous (for a kernel that only reads it), else a copy */
static const nb_tensor *dense_read(const nb_tensor *t) {
    return nb_is_contiguous(t) ? t : nb_la_dense_copy(t);
}

/* a [...a, ra, ca] and b [...b, rb, cb] expanded (recorded views) to the broadcast of their batch
 * dims; 0 or -1 with an error naming op */
static int batch_broadcast(const char *op, nb_tensor **a, nb_tensor **b) {
    const int na = (*a)->ndim - 2, nbd = (*b)->ndim - 2, nd = na > nbd ? na : nbd;
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        const int ia = i - (nd - na), ib = i - (nd - nbd);
        const int64_t x = ia >= 0 ? (*a)->shape[ia] : 1, y = ib >= 0 ? (*b)->shape[ib] : 1;
        if (x != y && x != 1 && y != 1) {
            char s1[96], s2[96];
            return nb_set_error("%s: the batch dims of %s and %s do not broadcast", op, NB_SHP(*a, s1),
                                NB_SHP(*b, s2)),
                   -1;
        }
        sa[i] = sb[i] = x == 1 ? y : x;
    }
    if (nd + 2 > NB_MAX_DIMS) return nb_set_error("%s: more than %d dims", op, NB_MAX_DIMS), -1;
    sa[nd] = (*a)->shape[na], sa[nd + 1] = (*a)->shape[na + 1];
    sb[nd] = (*b)->shape[nbd], sb[nd + 1] = (*b)->shape[nbd + 1];
    /* expanded only where a shape changes (no view, and no copy of a factor, otherwise) */
    if ((*a)->ndim != nd + 2 || memcmp((*a)->shape, sa, sizeof(int64_t) * (size_t)(nd + 2)))
        *a = nb_expand(*a, nd + 2, sa);
    if (*a && ((*b)->ndim != nd + 2 || memcmp((*b)->shape, sb, sizeof(int64_t) * (size_t)(nd + 2))))
        *b = nb_expand(*b, nd + 2, sb);
    return *a && *b ? 0 : -1;
}

/* Reads a factorisation's info (i32 [B]) back: 0 when every entry is 0, else -1 with an error
 * naming the first failing matrix; lu: a zero pivot, else a Cholesky minor. */
static int check_info(const char *op, nb_tensor *info, bool lu) {
    nb_tensor *h = nb_host_copy(info);
    if (!h) return -1;
    const int32_t *v = (const int32_t *)h->storage->data + h->offset;
    const int64_t B = nb_numel(h);
    for (int64_t b = 0; b < B; b++) {
        if (!v[b]) continue;
        char at[64] = "the matrix";
        if (B > 1) snprintf(at, sizeof at, "matrix %lld of the batch", (long long)b);
        if (lu)
            return nb_set_error("%s: %s is singular (U[%d][%d] is exactly zero after pivoting)", op, at,
                                v[b] - 1, v[b] - 1),
                   -1;
        return nb_set_error("%s: %s is not positive-definite (its leading minor of order %d is not)", op, at,
                            v[b]),
               -1;
    }
    return 0;
}

/* LU factors of a (no record): LU of a's shape, *piv i32 [..., n]; *info i32 [B] (unchecked) */
static nb_tensor *lu_factors(nb_tensor *a, nb_tensor **piv, nb_tensor **info) {
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->lu || !be->lu_solve) return nb_unsupported("lu", be);
    nb_tensor *lu = nb_la_dense_copy(a);
    *piv = lu ? nb_new_like_shape(a, NB_I32, a->ndim - 1, a->shape) : NULL;
    const int64_t B = batch_of(a, 2);
    *info = *piv ? nb_new_like_shape(a, NB_I32, 1, &B) : NULL;
    if (!*info) return NULL;
    nb_tensor l3 = nb_la_folded(lu, 2), p2 = nb_la_folded(*piv, 1);
    return be->lu(&l3, &p2, *info) ? NULL : lu;
}

/* ---- triangular solve ----------------------------------------------------------------------- */

/* X = op(T)^-1 B: gB = op(T)^-T g; gT = -gB X^T (-X gB^T when op(T) = T^T), on T's triangle */
static int trisolve_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *t = n->in[0], *x = n->out;
    const bool upper = n->i[0], trans = n->i[1], unit = n->i[2];
    nb_tensor *gb = nb_la_trisolve(t, g, upper, !trans, unit);
    if (!gb) return -1;
    if (n->in[1]->requires_grad) gin[1] = gb;
    if (t->requires_grad) {
        nb_tensor *p =
            trans ? nb_matmul(x, nb_transpose(gb, -1, -2)) : nb_matmul(gb, nb_transpose(x, -1, -2));
        p = p ? nb_neg(p) : NULL;
        gin[0] = !p ? NULL : upper ? nb_triu(p, unit ? 1 : 0) : nb_tril(p, unit ? -1 : 0);
        if (!gin[0]) return -1;
    }
    return 0;
}

/* t [..., n, n] and b [..., n, k] with the same batch dims (any strides) */
nb_tensor *nb_la_trisolve(nb_tensor *t, nb_tensor *b, bool upper, bool trans, bool unit) {
    const char *op = "solve_triangular";
    const nb_backend *be = nb_be(t);
    if (!be) return NULL;
    if (!be->trisolve) return nb_unsupported(op, be);
    const nb_tensor *tc = dense_read(t);
    nb_tensor *x = tc ? nb_la_dense_copy(b) : NULL;
    if (!x) return NULL;
    nb_tensor t3 = nb_la_folded(tc, 2), x3 = nb_la_folded(x, 2);
    if (be->trisolve(&x3, &t3, upper, trans, unit)) return NULL;
    nb_node *n;
    nb_tensor *in[2] = {t, b};
    if (!nb_op_finish(x, op, trisolve_backward, 2, in, &n)) return NULL;
    if (n) {
        n->i[0] = upper, n->i[1] = trans, n->i[2] = unit;
        n->unread = NB_UNREAD_IN(1); /* the rule reads T and X, not B */
    }
    return x;
}

/* op(t)^-1 b with the batch dims broadcast; b [..., n, k] */
static nb_tensor *tri_solve(const char *op, nb_tensor *t, nb_tensor *b, bool upper, bool trans, bool unit) {
    NB_NULL_GUARD_NAMED(op, t, b);
    if (nb_la_check_square(op, t, "A") || nb_check_dtype(op, b, NB_F32, "B") || nb_same_device(op, t, b))
        return NULL;
    char s1[96], s2[96];
    if (b->ndim < 2 || b->shape[b->ndim - 2] != t->shape[t->ndim - 1])
        return nb_set_error("%s: B %s does not have A %s's %lld rows", op, NB_SHP(b, s1), NB_SHP(t, s2),
                            (long long)t->shape[t->ndim - 1]);
    if (batch_broadcast(op, &t, &b)) return NULL;
    return nb_as_op(nb_la_trisolve(t, b, upper, trans, unit), op);
}

nb_tensor *nb_solve_triangular(nb_tensor *a, nb_tensor *b, bool upper, bool left, bool unitriangular) {
    const char *op = "solve_triangular";
    NB_NULL_GUARD_NAMED(op, a, b);
    if (left) return tri_solve(op, a, b, upper, false, unitriangular);
    /* X A = B is A^T X^T = B^T */
    char s1[96], s2[96];
    if (b->ndim < 2) return nb_set_error("%s: B %s has fewer than 2 dims", op, NB_SHP(b, s1));
    if (a->ndim >= 1 && b->shape[b->ndim - 1] != a->shape[a->ndim - 1])
        return nb_set_error("%s: B %s does not have A %s's %lld columns", op, NB_SHP(b, s1), NB_SHP(a, s2),
                            (long long)a->shape[a->ndim - 1]);
    nb_tensor *xt = tri_solve(op, a, nb_transpose(b, -1, -2), upper, true, unitriangular);
    return xt ? nb_transpose(xt, -1, -2) : NULL;
}

/* ---- Cholesky ------------------------------------------------------------------------------- */

/* torch's rule: with P = tril(L^T gL) and Phi = (P + tril(P, -1)^T) / 2 (symmetric, half P's
 * diagonal), gA = L^-T Phi L^-1 */
static int cholesky_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *l = n->out;
    nb_tensor *p = nb_tril(nb_matmul(nb_transpose(l, -1, -2), g), 0);
    nb_tensor *phi = p ? nb_mul_scalar(nb_add(p, nb_transpose(nb_tril(p, -1), -1, -2)), 0.5f) : NULL;
    nb_tensor *y = phi ? nb_la_trisolve(l, phi, false, true, false) : NULL; /* L^-T Phi */
    nb_tensor *z = y ? nb_la_trisolve(l, nb_transpose(y, -1, -2), false, true, false) : NULL;
    gin[0] = z ? nb_transpose(z, -1, -2) : NULL; /* (L^-T Y^T)^T = Y L^-1 */
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_cholesky(nb_tensor *a, bool upper) {
    const char *op = "cholesky";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_la_check_square(op, a, "A")) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->cholesky) return nb_unsupported(op, be);
    /* upper: the upper triangle read, as LAPACK's 'U' (torch's): the lower one of A^T */
    nb_tensor *l = nb_la_dense_copy(upper ? nb_transpose(a, -1, -2) : a);
    const int64_t B = batch_of(a, 2);
    nb_tensor *info = l ? nb_new_like_shape(a, NB_I32, 1, &B) : NULL;
    if (!info) return NULL;
    nb_tensor l3 = nb_la_folded(l, 2);
    if (be->cholesky(&l3, info) || check_info(op, info, false)) return NULL;
    nb_node *n;
    nb_tensor *in = upper ? nb_transpose(a, -1, -2) : a;
    if (!in || !nb_op_finish(l, op, cholesky_backward, 1, &in, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_IN(0); /* the rule reads L only */
    return upper ? nb_transpose(l, -1, -2) : l;
}

nb_tensor *nb_cholesky_solve(nb_tensor *b, nb_tensor *l, bool upper) {
    const char *op = "cholesky_solve";
    NB_NULL_GUARD_NAMED(op, b, l);
    if (nb_la_check_square(op, l, "the factor")) return NULL;
    /* A = L L^T: X = L^-T (L^-1 B); A = U^T U: X = U^-1 (U^-T B) */
    nb_tensor *y = tri_solve(op, l, b, upper, upper, false);
    return y ? tri_solve(op, l, y, upper, !upper, false) : NULL;
}

/* ---- solve and inverse through LU ----------------------------------------------------------- */

/* X = A^-1 B: gB = A^-T g (from the saved factors); gA = -gB X^T */
static int solve_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0], *x = n->out;
    const nb_backend *be = nb_be(a);
    nb_tensor *gb = be ? nb_la_dense_copy(g) : NULL;
    if (!gb) return -1;
    nb_tensor b3 = nb_la_folded(gb, 2), l3 = nb_la_folded(n->saved[0], 2), p2 = nb_la_folded(n->saved[1], 1);
    if (be->lu_solve(&b3, &l3, &p2, true)) return -1;
    if (n->in[1]->requires_grad) gin[1] = gb;
    if (a->requires_grad && !(gin[0] = nb_neg(nb_matmul(gb, nb_transpose(x, -1, -2))))) return -1;
    return 0;
}

/* X = A^-1 B for a [..., n, n] and b [..., n, k]: A factored at its own batch dims (the error
 * names the matrix there), the factors then broadcast with the batch dims of B */
static nb_tensor *solve_core(const char *op, nb_tensor *a, nb_tensor *b) {
    nb_tensor *ae = a, *be = b;
    if (batch_broadcast(op, &ae, &be)) return NULL;
    nb_tensor *piv, *info, *lu = lu_factors(a, &piv, &info), *le = lu;
    if (!lu || check_info(op, info, true) || batch_broadcast(op, &le, &b)) return NULL;
    int64_t pshape[NB_MAX_DIMS];
    memcpy(pshape, le->shape, sizeof(int64_t) * (size_t)(le->ndim - 1));
    nb_tensor *lc = le == lu ? lu : nb_la_dense_copy(le);
    nb_tensor *pe = lc ? nb_expand(piv, le->ndim - 1, pshape) : NULL;
    nb_tensor *pc = !pe ? NULL : pe == piv ? piv : nb_new_like_shape(piv, NB_I32, pe->ndim, pe->shape);
    if (!pc || (pc != piv && nb_be(a)->copy(pc, pe))) return NULL;
    nb_tensor *x = nb_la_dense_copy(be);
    if (!x) return NULL;
    nb_tensor x3 = nb_la_folded(x, 2), l3 = nb_la_folded(lc, 2), p2 = nb_la_folded(pc, 1);
    if (nb_be(a)->lu_solve(&x3, &l3, &p2, false)) return NULL;
    nb_node *n;
    nb_tensor *in[2] = {ae, be};
    if (!nb_op_finish(x, op, solve_backward, 2, in, &n)) return NULL;
    if (n) {
        nb_node_save(n, 0, lc);
        nb_node_save(n, 1, pc);
        n->unread = NB_UNREAD_IN(0) | NB_UNREAD_IN(1); /* the rule reads the factors and X */
    }
    return x;
}

/* torch's rule: B is a (batch of) vector(s) when it is 1-d, or when its shape is A's without the
 * last dim */
static bool is_vector_rhs(const nb_tensor *a, const nb_tensor *b) {
    if (b->ndim == 1) return true;
    return b->ndim == a->ndim - 1 && !memcmp(b->shape, a->shape, sizeof(int64_t) * (size_t)b->ndim);
}

nb_tensor *nb_solve(nb_tensor *a, nb_tensor *b, bool left) {
    const char *op = "solve";
    NB_NULL_GUARD_NAMED(op, a, b);
    if (nb_la_check_square(op, a, "A") || nb_check_dtype(op, b, NB_F32, "B") || nb_same_device(op, a, b))
        return NULL;
    char s1[96], s2[96];
    if (b->ndim == 0) return nb_set_error("%s: B is 0-d", op);
    const int64_t n = a->shape[a->ndim - 1];
    const bool vec = is_vector_rhs(a, b);
    /* B's rows (its columns when !left; a vector's only dim) must be n */
    const int64_t have = vec ? b->shape[b->ndim - 1] : b->ndim < 2 ? -1 : b->shape[b->ndim - (left ? 2 : 1)];
    if (have != n)
        return nb_set_error("%s: B %s does not have A %s's %lld %s", op, NB_SHP(b, s1), NB_SHP(a, s2),
                            (long long)n,
                            vec    ? "entries"
                            : left ? "rows"
                                   : "columns");
    /* X A = B is A^T X^T = B^T; a vector is a column either way */
    nb_tensor *at = left ? a : nb_transpose(a, -1, -2);
    nb_tensor *bm = vec ? nb_unsqueeze(b, -1) : left ? b : nb_transpose(b, -1, -2);
    nb_tensor *x = at && bm ? nb_as_op(solve_core(op, at, bm), op) : NULL;
    if (!x) return NULL;
    return vec ? nb_squeeze(x, -1) : left ? x : nb_transpose(x, -1, -2);
}

/* the identity at a's shape (expanded from one n x n; an empty tensor when a is empty) */
static nb_tensor *identity_like(nb_tensor *a) {
    if (nb_numel(a) == 0) return nb_zeros_on(nb_out_ctx(a), NB_F32, a->device, a->ndim, a->shape);
    const int64_t n = a->shape[a->ndim - 1];
    nb_tensor *eye = nb_eye_like(a, n);
    return eye ? nb_expand(eye, a->ndim, a->shape) : NULL;
}

nb_tensor *nb_inverse(nb_tensor *a) {
    const char *op = "inverse";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_la_check_square(op, a, "A")) return NULL;
    nb_tensor *b = identity_like(a);
    return nb_as_op(b ? solve_core(op, a, b) : NULL, op);
}

/* ---- determinants --------------------------------------------------------------------------- */

/* the sign (+-1, f32 [...]) of the permutation of LU pivots piv (i32 [..., n]) */
static nb_tensor *perm_sign(nb_tensor *piv) {
    const int64_t n = piv->shape[piv->ndim - 1];
    nb_tensor *ar = nb_arange_on(nb_out_ctx(piv), NB_F32, piv->device, 0, (double)n, 1);
    nb_tensor *moved = ar ? nb_ne(nb_cast(piv, NB_F32), ar) : NULL;
    nb_tensor *odd =
        moved ? nb_fmod(nb_sum(moved, 1, (const int[]){-1}, false), nb_scalar_like(piv, 2.0f)) : NULL;
    return odd ? nb_sub(nb_scalar_like(piv, 1.0f), nb_mul_scalar(odd, 2.0f)) : NULL;
}

/* d det / dA, the cofactor matrix, through the SVD A = U diag(s) Vh (torch's rule for a singular
 * A): det(U) det(Vh) U diag(prod_{j != i} s_j) Vh, the products of the others taken without a
 * division (exclusive running products from both ends) */
static nb_tensor *det_grad_svd(nb_tensor *a, nb_tensor *g) {
    nb_tensor *u, *vh, *s = nb_svd(a, &u, &vh);
    if (!s) return NULL;
    const int64_t n = s->shape[s->ndim - 1];
    const int last = -1;
    const int64_t one_before[2] = {1, 0};
    nb_tensor *alpha = nb_mul(nb_det(u), nb_det(vh)); /* +-1 */
    nb_tensor *left = nb_pad(nb_narrow(nb_cumprod(s, -1), -1, 0, n - 1), 2, one_before, 1.0);
    nb_tensor *rs = nb_flip(s, 1, &last);
    nb_tensor *right =
        nb_flip(nb_pad(nb_narrow(nb_cumprod(rs, -1), -1, 0, n - 1), 2, one_before, 1.0), 1, &last);
    nb_tensor *d = nb_mul(nb_mul(left, right), nb_unsqueeze(nb_mul(alpha, g), -1));
    return nb_matmul(nb_mul(u, nb_unsqueeze(d, -2)), vh);
}

/* the factorisation's info (i32 [B]) read back: 1 when a matrix is singular, 0 when none, -1 */
static int any_singular(nb_tensor *info) {
    nb_tensor *h = nb_host_copy(info);
    if (!h) return -1;
    const int32_t *v = (const int32_t *)h->storage->data + h->offset;
    for (int64_t b = 0; b < nb_numel(h); b++)
        if (v[b]) return 1;
    return 0;
}

/* d det / dA = det A^-T; d log|det| / dA = A^-T, A^-T solved from the forward's LU factors. A
 * singular A has no inverse: det's gradient then comes from the SVD (the whole batch), log|det|'s
 * is an error naming the matrix (it is infinite) */
static int det_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *a = n->in[0];
    const bool log = n->i[0];
    if (!log) {
        const int sing = any_singular(n->saved[2]);
        if (sing) {
            gin[0] = sing > 0 ? det_grad_svd(a, g) : NULL;
            return gin[0] ? 0 : -1;
        }
    } else if (check_info("the gradient of log|det| needs A invertible", n->saved[2], true))
        return -1;
    nb_tensor *id = identity_like(a), *inv = id ? nb_la_dense_copy(id) : NULL;
    if (!inv) return -1;
    nb_tensor x3 = nb_la_folded(inv, 2), l3 = nb_la_folded(n->saved[0], 2), p2 = nb_la_folded(n->saved[1], 1);
    if (nb_be(a)->lu_solve(&x3, &l3, &p2, true)) return -1;
    nb_tensor *s = log ? g : nb_mul(g, n->out);
    s = s ? nb_unsqueeze(nb_unsqueeze(s, -1), -1) : NULL;
    gin[0] = s ? nb_mul(s, inv) : NULL;
    return gin[0] ? 0 : -1;
}

/* det (log: log|det|, and *sign) from the LU factors */
static nb_tensor *det_op(const char *op, nb_tensor *a, bool log, nb_tensor **sign) {
    if (sign) *sign = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_la_check_square(op, a, "A")) return NULL;
    nb_tensor *piv, *info, *lu = lu_factors(a, &piv, &info);
    nb_tensor *d = lu ? nb_diagonal(lu, 0, -2, -1) : NULL, *ps = d ? perm_sign(piv) : NULL;
    if (!ps) return nb_as_op(NULL, op);
    const int last = -1;
    nb_tensor *out;
    if (log) {
        out = nb_sum(nb_log(nb_abs(d)), 1, &last, false);
        if (sign) *sign = out ? nb_mul(ps, nb_prod(nb_sign(d), 1, &last, false)) : NULL;
        if (sign && !*sign) return nb_as_op(NULL, op);
    } else {
        out = nb_mul(ps, nb_prod(d, 1, &last, false));
    }
    nb_node *n;
    if (!out || !nb_op_finish(out, op, det_backward, 1, &a, &n)) return nb_as_op(NULL, op);
    if (n) {
        n->i[0] = log;
        nb_node_save(n, 0, lu);
        nb_node_save(n, 1, piv);
        nb_node_save(n, 2, info);
        /* the rule reads the factors and det itself (A too, for a singular one's SVD); log|det|'s
         * reads the factors only, A for its shape */
        n->unread = log ? NB_UNREAD_IN(0) | NB_UNREAD_OUT : 0;
    }
    return out;
}

nb_tensor *nb_det(nb_tensor *a) { return det_op("det", a, false, NULL); }

nb_tensor *nb_slogdet(nb_tensor *a, nb_tensor **sign) { return det_op("slogdet", a, true, sign); }

nb_tensor *nb_logdet(nb_tensor *a) {
    nb_tensor *sign, *l = det_op("logdet", a, true, &sign);
    nb_tensor *nan = l ? nb_scalar_like(a, NAN) : NULL;
    return nan ? nb_where(nb_lt(sign, nb_scalar_like(a, 0.0f)), nan, l) : NULL;
}

/* ---- powers and LU factors ------------------------------------------------------------------ */

static int zero_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    gin[0] = nb_full_on(nb_out_ctx(g), NB_F32, x->device, x->ndim, x->shape, 0.0);
    return gin[0] ? 0 : -1;
}

nb_tensor *nb_matrix_power(nb_tensor *a, int64_t k) {
    const char *op = "matrix_power";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_la_check_square(op, a, "A")) return NULL;
    if (k == 0) { /* the identity, at a's shape, with a zero gradient (as torch's) */
        nb_tensor *id = identity_like(a), *out = id ? nb_la_dense_copy(id) : NULL;
        return nb_as_op(out ? nb_op_finish(out, op, zero_backward, 1, &a, NULL) : NULL, op);
    }
    nb_tensor *base = k < 0 ? nb_as_op(nb_inverse(a), op) : a, *r = NULL;
    uint64_t e = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
    for (;;) { /* square and multiply, low bits first */
        if (!base) return NULL;
        if ((e & 1) && !(r = r ? nb_matmul(r, base) : base)) return NULL;
        if (!(e >>= 1)) break;
        base = nb_matmul(base, base);
    }
    return r == a ? nb_mul_scalar(a, 1.0f) : r; /* a new tensor, as torch's */
}

nb_tensor *nb_lu_factor(nb_tensor *a, nb_tensor **pivots) {
    const char *op = "lu_factor";
    if (pivots) *pivots = NULL;
    NB_NULL_GUARD_NAMED(op, a);
    if (!pivots) return nb_set_error("%s: pivots is NULL", op);
    if (nb_la_check_square(op, a, "A")) return NULL;
    if (nb_grad_enabled() && a->requires_grad)
        return nb_set_error("%s: not differentiable (A requires grad): use nb_solve, nb_inverse or nb_det, "
                            "or nb_detach(A)",
                            op);
    nb_tensor *info, *lu = lu_factors(a, pivots, &info);
    if (!lu) *pivots = NULL;
    return nb_as_op(lu, op);
}

/* lu_solve's gradient in B: A^-T g (A^-1 g when trans) */
static int lu_solve_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    const nb_backend *be = nb_be(g);
    nb_tensor *gb = be ? nb_la_dense_copy(g) : NULL;
    if (!gb) return -1;
    nb_tensor b3 = nb_la_folded(gb, 2), l3 = nb_la_folded(n->saved[0], 2), p2 = nb_la_folded(n->saved[1], 1);
    if (be->lu_solve(&b3, &l3, &p2, !n->i[0])) return -1;
    gin[0] = gb;
    return 0;
}

nb_tensor *nb_lu_solve(nb_tensor *lu, nb_tensor *pivots, nb_tensor *b, bool trans) {
    const char *op = "lu_solve";
    NB_NULL_GUARD_NAMED(op, lu, pivots, b);
    if (nb_la_check_square(op, lu, "LU") || nb_check_dtype(op, b, NB_F32, "B") || nb_same_device(op, lu, b) ||
        nb_same_device(op, lu, pivots))
        return NULL;
    if (nb_grad_enabled() && lu->requires_grad)
        return nb_set_error("%s: not differentiable in LU (it requires grad): nb_detach it, or use nb_solve",
                            op);
    char s1[96], s2[96];
    const int64_t n = lu->shape[lu->ndim - 1];
    if (pivots->dtype != NB_I32 || pivots->ndim != lu->ndim - 1 ||
        memcmp(pivots->shape, lu->shape, sizeof(int64_t) * (size_t)pivots->ndim))
        return nb_set_error("%s: pivots %s are not i32 of LU %s's shape without its last dim", op,
                            NB_SHP(pivots, s1), NB_SHP(lu, s2));
    if (b->ndim < 2 || b->shape[b->ndim - 2] != n)
        return nb_set_error("%s: B %s does not have LU %s's %lld rows", op, NB_SHP(b, s1), NB_SHP(lu, s2),
                            (long long)n);
    nb_tensor *le = lu, *bb = b; /* the batch dims broadcast (recorded views of B: its gradient sums back) */
    if (batch_broadcast(op, &le, &bb)) return NULL;
    nb_tensor *hp = nb_host_copy(pivots); /* the kernels trust the pivots: check them here */
    if (!hp) return NULL;
    const int32_t *pv = (const int32_t *)hp->storage->data + hp->offset;
    for (int64_t i = 0; i < nb_numel(hp); i++)
        if (pv[i] < i % n || pv[i] >= n)
            return nb_set_error("%s: pivot %lld is %d, outside [%lld, %lld)", op, (long long)i, pv[i],
                                (long long)(i % n), (long long)n);
    const nb_backend *be = nb_be(lu);
    if (!be) return NULL;
    if (!be->lu_solve) return nb_unsupported(op, be);
    nb_tensor *lc = nb_la_dense_copy(le), *pe = lc ? nb_expand(pivots, le->ndim - 1, le->shape) : NULL;
    nb_tensor *pc = pe ? nb_new_like_shape(pivots, NB_I32, pe->ndim, pe->shape) : NULL;
    nb_tensor *x = pc && !be->copy(pc, pe) ? nb_la_dense_copy(bb) : NULL;
    if (!x) return NULL;
    nb_tensor x3 = nb_la_folded(x, 2), l3 = nb_la_folded(lc, 2), p2 = nb_la_folded(pc, 1);
    if (be->lu_solve(&x3, &l3, &p2, trans)) return NULL;
    nb_node *nd;
    if (!nb_op_finish(x, op, lu_solve_backward, 1, &bb, &nd)) return NULL;
    if (nd) {
        nd->i[0] = trans;
        nb_node_save(nd, 0, lc);
        nb_node_save(nd, 1, pc);
        nd->unread = NB_UNREAD_ALL;
    }
    return x;
}
