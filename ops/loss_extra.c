/* ops/loss_extra.c - more of torch.nn.functional's losses, each composed of differentiable ops
 * in torch 1.13's arrangement (so values and gradients follow torch's, and every backend runs
 * them): smooth L1, soft margin, multi-label soft margin, hinge embedding, Poisson and Gaussian
 * negative log-likelihood, and the multi-class margin loss. */
#include <math.h>

#include "ops/loss_util.h"
#include "ops/op_util.h"

nb_tensor *nb_smooth_l1_loss(nb_tensor *pred, nb_tensor *target, float beta, nb_reduction r) {
    const char *op = "smooth_l1_loss";
    NB_NULL_GUARD_NAMED(op, pred, target);
    if (nb_loss_check_reduction(op, r)) return NULL;
    if (!(beta >= 0.0f) || beta == INFINITY)
        return nb_set_error("%s: beta %g is not a finite number >= 0", op, (double)beta);
    if (nb_loss_check_pair(op, pred, target)) return NULL;
    /* beta 0 is the L1 loss (torch's rule); else 0.5 d^2 / beta inside beta and |d| - beta / 2
     * outside: with a = |d| and q = min(a, beta), q (a - q / 2) / beta, whose gradient is d /
     * beta inside and sign(d) outside, as torch's smooth_l1_backward */
    nb_tensor *a = nb_abs(nb_sub(pred, target));
    if (beta == 0.0f) return nb_loss_reduced(a, r, op);
    nb_tensor *q = nb_minimum_scalar(a, beta);
    return nb_loss_reduced(nb_div_scalar(nb_mul(q, nb_sub(a, nb_mul_scalar(q, 0.5f))), beta), r, op);
}

nb_tensor *nb_soft_margin_loss(nb_tensor *x, nb_tensor *y, nb_reduction r) {
    const char *op = "soft_margin_loss";
    NB_NULL_GUARD_NAMED(op, x, y);
    if (nb_loss_check_reduction(op, r) || nb_loss_check_pair(op, x, y)) return NULL;
    /* log(1 + e^(-y x)), torch's log1p(exp(-input * target)) */
    return nb_loss_reduced(nb_log1p(nb_exp(nb_mul(nb_neg(x), y))), r, op);
}

nb_tensor *nb_multilabel_soft_margin_loss(nb_tensor *x, nb_tensor *y, nb_tensor *weight, nb_reduction r) {
    const char *op = "multilabel_soft_margin_loss";
    NB_NULL_GUARD_NAMED(op, x, y);
    if (nb_loss_check_reduction(op, r) || nb_loss_check_pair(op, x, y)) return NULL;
    if (x->ndim < 1) return nb_set_error("%s: the input is 0-d (want [C] or [N, C])", op);
    if (weight && (nb_check_dtype(op, weight, NB_F32, "weight") || nb_same_device(op, x, weight)))
        return NULL;
    /* -(y logsigmoid(x) + (1 - y) logsigmoid(-x)), weighted per class, averaged over the classes */
    nb_tensor *each = nb_neg(
        nb_add(nb_mul(y, nb_log_sigmoid(x)), nb_mul(nb_rsub_scalar(y, 1.0f), nb_log_sigmoid(nb_neg(x)))));
    if (each && weight) each = nb_mul(each, weight);
    const int last = x->ndim - 1;
    nb_tensor *rows = each ? nb_div_scalar(nb_sum(each, 1, &last, false), (float)x->shape[last]) : NULL;
    if (rows && !nb_same_shape(each, x)) {
        char a[64], b[64];
        return nb_set_error("%s: weight %s does not broadcast to input %s", op, NB_SHP(weight, a),
                            NB_SHP(x, b));
    }
    return nb_loss_reduced(rows, r, op);
}

nb_tensor *nb_hinge_embedding_loss(nb_tensor *x, nb_tensor *y, float margin, nb_reduction r) {
    const char *op = "hinge_embedding_loss";
    NB_NULL_GUARD_NAMED(op, x, y);
    if (nb_loss_check_reduction(op, r) || nb_loss_check_pair(op, x, y)) return NULL;
    /* torch's: max(0, margin - x) where y != 1, plus x where y != -1 */
    nb_tensor *zero = nb_scalar_like(x, 0.0f);
    nb_tensor *m =
        nb_where(nb_ne(y, nb_scalar_like(x, 1.0f)), nb_maximum_scalar(nb_rsub_scalar(x, margin), 0.0f), zero);
    nb_tensor *s = nb_where(nb_ne(y, nb_scalar_like(x, -1.0f)), x, zero);
    return nb_loss_reduced(m && s ? nb_add(m, s) : NULL, r, op);
}

nb_tensor *nb_poisson_nll_loss(nb_tensor *x, nb_tensor *target, bool log_input, bool full, float eps,
                               nb_reduction r) {
    const char *op = "poisson_nll_loss";
    NB_NULL_GUARD_NAMED(op, x, target);
    if (nb_loss_check_reduction(op, r) || nb_loss_check_pair(op, x, target)) return NULL;
    /* log_input: e^x - t x; else x - t log(x + eps) */
    nb_tensor *each = log_input ? nb_sub(nb_exp(x), nb_mul(target, x))
                                : nb_sub(x, nb_mul(target, nb_log(nb_add_scalar(x, eps))));
    if (each && full) { /* Stirling's term t log t - t + log(2 pi t) / 2 where t > 1, differentiated
                         * in t as torch's (0 log 0 gives a NaN gradient at t = 0 there too) */
        nb_tensor *t = target;
        nb_tensor *st = nb_add(nb_sub(nb_mul(t, nb_log(t)), t),
                               nb_mul_scalar(nb_log(nb_mul_scalar(t, 6.28318530717958648f)), 0.5f));
        each = st ? nb_add(each, nb_where(nb_gt(t, nb_scalar_like(t, 1.0f)), st, nb_scalar_like(t, 0.0f)))
                  : NULL;
    }
    return nb_loss_reduced(each, r, op);
}

nb_tensor *nb_gaussian_nll_loss(nb_tensor *x, nb_tensor *target, nb_tensor *var, bool full, float eps,
                                nb_reduction r) {
    const char *op = "gaussian_nll_loss";
    NB_NULL_GUARD_NAMED(op, x, target, var);
    if (nb_loss_check_reduction(op, r) || nb_loss_check_pair(op, x, target) ||
        nb_check_dtype(op, var, NB_F32, "var") || nb_same_device(op, x, var))
        return NULL;
    /* var: x's shape, x's with the last dim 1 (one variance per row), or x's without its last dim
     * (unsqueezed), as torch */
    char a[64], b[64];
    if (var->ndim == x->ndim - 1 && x->ndim >= 1) {
        bool prefix = true;
        for (int i = 0; i < var->ndim; i++)
            prefix = prefix && var->shape[i] == x->shape[i];
        if (prefix) var = nb_unsqueeze(var, -1);
        if (!var) return nb_as_op(NULL, op);
    }
    bool ok = var->ndim == x->ndim;
    for (int i = 0; ok && i < x->ndim; i++)
        ok = var->shape[i] == x->shape[i] || (i == x->ndim - 1 && var->shape[i] == 1);
    if (!ok) return nb_set_error("%s: var %s does not fit input %s", op, NB_SHP(var, a), NB_SHP(x, b));
    if (!(eps >= 0.0f)) return nb_set_error("%s: eps %g is negative", op, (double)eps);
    nb_tensor *neg = nb_any(nb_lt(var, nb_scalar_like(var, 0.0f)), 0, NULL, false);
    if (!neg) return nb_as_op(NULL, op);
    if (nb_item(neg) != 0.0f) return nb_set_error("%s: var has a negative entry", op);
    /* var clamped below at eps as a constant step (torch clamps a clone without recording it, so
     * the gradient passes as if unclamped): var + (eps - var where var < eps, else 0) with the
     * step detached (an infinite var stays inf) */
    nb_tensor *lift = nb_detach(
        nb_where(nb_lt(var, nb_scalar_like(var, eps)), nb_rsub_scalar(var, eps), nb_scalar_like(var, 0.0f)));
    nb_tensor *v = lift ? nb_add(var, lift) : NULL;
    nb_tensor *d = v ? nb_sub(x, target) : NULL;
    nb_tensor *each = d ? nb_mul_scalar(nb_add(nb_log(v), nb_div(nb_mul(d, d), v)), 0.5f) : NULL;
    if (each && full) each = nb_add_scalar(each, 0.918938533204672742f); /* log(2 pi) / 2 */
    return nb_loss_reduced(each, r, op);
}

nb_tensor *nb_multi_margin_loss(nb_tensor *x, nb_tensor *targets, int p, float margin, nb_tensor *weight,
                                nb_reduction r) {
    const char *op = "multi_margin_loss";
    NB_NULL_GUARD_NAMED(op, x, targets);
    if (nb_loss_check_reduction(op, r) || nb_check_dtype(op, x, NB_F32, "input") ||
        nb_check_dtype(op, targets, NB_I32, "targets") || nb_same_device(op, x, targets))
        return NULL;
    if (p != 1 && p != 2) return nb_set_error("%s: p = %d (only 1 and 2 are supported, as torch)", op, p);
    char a[64], b[64];
    const bool one = x->ndim == 1;
    if ((x->ndim != 1 && x->ndim != 2) || targets->ndim != (one ? 0 : 1) ||
        (!one && targets->shape[0] != x->shape[0]))
        return nb_set_error(
            "%s: want input [N, C] with targets [N] (or [C] with a 0-d target), got %s and %s", op,
            NB_SHP(x, a), NB_SHP(targets, b));
    const int64_t C = x->shape[x->ndim - 1];
    if (weight && (nb_check_dtype(op, weight, NB_F32, "weight") || nb_same_device(op, x, weight) ||
                   weight->ndim != 1 || weight->shape[0] != C))
        return nb_set_error("%s: weight %s is not [%lld] (one per class)", op,
                            weight ? NB_SHP(weight, a) : "?", (long long)C);
    nb_tensor *x2 = one ? nb_unsqueeze(x, 0) : x,
              *t2 = one ? nb_reshape(targets, NB_SHAPE(1, 1)) : nb_unsqueeze(targets, 1);
    if (!x2 || !t2) return nb_as_op(NULL, op);
    /* per row: sum over i != y of max(0, margin - x_y + x_i)^p (times w_y), over C */
    nb_tensor *xy = nb_gather(x2, 1, t2); /* [N, 1]; refuses an index outside [0, C) */
    nb_tensor *h =
        xy ? nb_relu(nb_add(nb_rsub_scalar(xy, margin), x2)) : NULL; /* 0 at z = 0, as torch's z > 0 */
    if (h && p == 2) h = nb_mul(h, h);
    nb_tensor *is_y = h ? nb_one_hot(nb_reshape(t2, NB_SHAPE(-1)), C) : NULL;
    nb_tensor *hm = is_y ? nb_where(is_y, nb_scalar_like(x, 0.0f), h) : NULL;
    if (hm && weight)
        hm = nb_mul(hm, nb_unsqueeze(nb_index_select(weight, 0, nb_reshape(t2, NB_SHAPE(-1))), 1));
    const int last = 1;
    nb_tensor *rows = hm ? nb_div_scalar(nb_sum(hm, 1, &last, false), (float)C) : NULL;
    if (rows && one) rows = nb_reshape(rows, NB_SHAPE0);
    return nb_loss_reduced(rows, r, op);
}
