/* ops/vector_norm.c - vector norms (torch.linalg.vector_norm) and what is built on them:
 * F.normalize and F.cosine_similarity, each with torch 1.13's arithmetic. The norm's forward is
 * composed; its backward is its own rule, because the composition's gradient at a zero vector
 * is 0 * inf = NaN where torch's is 0. */
#include <math.h>
#include <string.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

/* |x|^p summed, then the 1/p-th power, without recording: torch's order (no scaling, so it
 * overflows where torch does) */
static nb_tensor *norm_value(nb_tensor *x, float p, int naxes, const int *axes, bool keep) {
    nb_tensor *a = nb_abs(x);
    if (p == INFINITY) return nb_max(a, naxes, axes, keep);
    if (p == -INFINITY) return nb_min(a, naxes, axes, keep);
    if (p == 0.0f) /* the count of non-zero elements */
        return nb_sum(nb_ne(x, nb_full_on(nb_out_ctx(x), NB_F32, x->device, 0, NULL, 0.0)), naxes, axes,
                      keep);
    if (p == 1.0f) return nb_sum(a, naxes, axes, keep);
    if (p == 2.0f) return nb_sqrt(nb_sum(nb_mul(x, x), naxes, axes, keep));
    return nb_pow_scalar(nb_sum(nb_pow_scalar(a, p), naxes, axes, keep), 1.0f / p);
}

/* d norm / dx, torch's: sign(x) for p = 1; x / n for p = 2; sign(x) |x|^(p-1) / n^(p-1)
 * otherwise, 0 where the norm is 0; for p = +-inf the elements whose |x| is the norm, or NaN,
 * share it, with x's sign; 0 for p = 0. g and
 * the saved norm are viewed with the reduced dims kept (size 1); i[0] holds p's bits, i[1] the
 * count of axes, i[2..] the axes. */
static int norm_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *nrm = n->saved[0];
    float p;
    const int32_t bits = (int32_t)n->i[0];
    memcpy(&p, &bits, sizeof p);
    const int naxes = (int)n->i[1];
    int axes[NB_MAX_DIMS];
    for (int k = 0; k < naxes; k++)
        axes[k] = (int)n->i[2 + k];
    int64_t ks[NB_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) { /* the kept shape: reduced dims of size 1 */
        bool red = naxes == 0;
        for (int k = 0; k < naxes; k++)
            red |= (axes[k] < 0 ? axes[k] + x->ndim : axes[k]) == d;
        ks[d] = red ? 1 : x->shape[d];
    }
    nb_tensor *gk = nb_reshape(g, x->ndim, ks), *nk = nb_reshape(nrm, x->ndim, ks);
    nb_tensor *slope, *zero = nb_scalar_like(x, 0.0f);
    if (p == 0.0f) /* a count: zeros, whatever g holds (torch's zeros_like) */
        return (gin[0] = nb_full_on(nb_out_ctx(x), NB_F32, x->device, x->ndim, x->shape, 0.0)) ? 0 : -1;
    if (p == INFINITY || p == -INFINITY) { /* the extreme elements (or NaNs) share g, with x's sign */
        nb_tensor *ax = nb_abs(x), *at = nb_maximum(nb_eq(ax, nk), nb_ne(ax, ax));
        slope = nb_div(nb_mul(nb_sign(x), at), nb_sum(at, naxes, axes, true));
        return (gin[0] = slope ? nb_mul(gk, slope) : NULL) ? 0 : -1;
    }
    if (p == 1.0f) {
        slope = nb_sign(x);
    } else if (p == 2.0f) {
        slope = nb_div(x, nk);
    } else {
        /* |x|^(p - 1) is inf at x = 0 for p < 1: 0 there, as torch's masked_fill (sign(0) inf would
         * be NaN) */
        nb_tensor *pw = nb_pow_scalar(nb_abs(x), p - 1.0f);
        if (pw && p < 1.0f) pw = nb_where(nb_eq(x, zero), zero, pw);
        slope = pw ? nb_div(nb_mul(nb_sign(x), pw), nb_pow_scalar(nk, p - 1.0f)) : NULL;
    }
    /* 0 where the norm is 0 (the quotients above are 0/0 there) */
    slope = slope ? nb_where(nb_eq(nk, zero), zero, slope) : NULL;
    return (gin[0] = slope ? nb_mul(gk, slope) : NULL) ? 0 : -1;
}

nb_tensor *nb_norm(nb_tensor *x, float p, int naxes, const int *axes, bool keepdim) {
    NB_NULL_GUARD_NAMED("norm", x);
    if (nb_check_dtype("norm", x, NB_F32, "input")) return NULL;
    if (p != p) return nb_set_error("norm: order p is NaN");
    if (naxes < 0 || naxes > x->ndim || (naxes > 0 && !axes))
        return nb_set_error("norm: %d axes for a %d-d input", naxes, x->ndim);
    const bool g = nb_no_grad_begin();
    nb_tensor *y = norm_value(x, p, naxes, axes, keepdim);
    nb_no_grad_end(g);
    if (!y) return nb_as_op(NULL, "norm");
    nb_node *n;
    if (!nb_op_finish(y, "norm", norm_backward, 1, &x, &n)) return NULL;
    if (n) {
        int32_t bits;
        memcpy(&bits, &p, sizeof bits);
        n->i[0] = bits;
        n->i[1] = naxes;
        for (int k = 0; k < naxes; k++)
            n->i[2 + k] = axes[k];
        nb_node_save(n, 0, y);
        n->unread = NB_UNREAD_OUT; /* the rule reads x and the saved norm, which is y */
    }
    return y;
}

nb_tensor *nb_normalize(nb_tensor *x, float p, int dim, float eps) {
    NB_NULL_GUARD_NAMED("normalize", x);
    if (nb_check_dtype("normalize", x, NB_F32, "input")) return NULL;
    if (!(eps >= 0.0f)) return nb_set_error("normalize: eps %g must be >= 0", (double)eps);
    /* torch: x / norm(x, p, dim, keepdim).clamp_min(eps), the clamp recorded */
    nb_tensor *n = nb_norm(x, p, 1, &dim, true);
    return nb_as_op(n ? nb_div(x, nb_maximum_scalar(n, eps)) : NULL, "normalize");
}

/* v's squared norm along dim, clamped below at eps^2 as a constant (torch 1.13 clamps it in
 * place without recording: the value is clamped, the gradient is the unclamped one's) */
static nb_tensor *clamped_sq_norm(nb_tensor *v, int dim, float eps2) {
    nb_tensor *s = nb_sum(nb_mul(v, v), 1, &dim, true);
    if (!s) return NULL;
    const bool g = nb_no_grad_begin(); /* eps^2 - s where s is below it, else 0 (an inf s stays) */
    nb_tensor *e2 = nb_scalar_like(v, eps2);
    nb_tensor *lift = e2 ? nb_where(nb_lt(s, e2), nb_rsub_scalar(s, eps2), nb_scalar_like(v, 0.0f)) : NULL;
    nb_no_grad_end(g);
    return lift ? nb_add(s, lift) : NULL;
}

nb_tensor *nb_cosine_similarity(nb_tensor *a, nb_tensor *b, int dim, float eps) {
    NB_NULL_GUARD_NAMED("cosine_similarity", a, b);
    if (nb_check_dtype("cosine_similarity", a, NB_F32, "x1") ||
        nb_check_dtype("cosine_similarity", b, NB_F32, "x2") || nb_same_device("cosine_similarity", a, b))
        return NULL;
    if (!(eps >= 0.0f)) return nb_set_error("cosine_similarity: eps %g must be >= 0", (double)eps);
    /* x1 and x2 broadcast to one shape, then sum((x1 / n1) (x2 / n2)) along dim, n the clamped
     * norms: torch 1.13's order */
    const int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[NB_MAX_DIMS];
    char as[64], bs[64];
    for (int i = 0; i < nd; i++) {
        const int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        const int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return nb_set_error("cosine_similarity: x1 %s and x2 %s do not broadcast", NB_SHP(a, as),
                                NB_SHP(b, bs));
        shape[i] = sa == 1 ? sb : sa;
    }
    if (nd == 0 || dim < -nd || dim >= nd)
        return nb_set_error("cosine_similarity: dim %d out of range for %d-d inputs", dim, nd);
    if (dim < 0) dim += nd;
    nb_tensor *x1 = nb_expand(a, nd, shape), *x2 = nb_expand(b, nd, shape);
    const float eps2 = (float)((double)eps * (double)eps);
    nb_tensor *n1 = x1 ? clamped_sq_norm(x1, dim, eps2) : NULL,
              *n2 = x2 ? clamped_sq_norm(x2, dim, eps2) : NULL;
    nb_tensor *y =
        n1 && n2 ? nb_sum(nb_mul(nb_div(x1, nb_sqrt(n1)), nb_div(x2, nb_sqrt(n2))), 1, &dim, false) : NULL;
    return nb_as_op(y, "cosine_similarity");
}
