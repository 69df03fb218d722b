/* ops/activation.c - the activations beyond the elementwise table, composed (so they run on
 * every backend with the gradients of the ops they use): ELU and SELU, hardtanh and ReLU6,
 * hardsigmoid and hardswish, Mish, softsign, PReLU, log-sigmoid, GLU. Each matches torch 1.13's
 * values and its gradient at the kinks: hardtanh's and hardsigmoid's gradients are 0 on their
 * bounds (torch's rule, unlike clamp's); hardswish's value is torch's expression and its slope
 * torch's own backward rule (the middle piece from -3 up to 3, 1 from 3 on). */
#include <math.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

/* x where lo < x < hi, else `outside` computed without recording (a constant): the gradient
 * passes only strictly inside */
static nb_tensor *inside_only(nb_tensor *x, nb_tensor *inside_value, float lo, float hi, nb_tensor *outside) {
    nb_tensor *in = nb_mul(nb_gt(x, nb_scalar_like(x, lo)), nb_lt(x, nb_scalar_like(x, hi)));
    return in && outside ? nb_where(in, inside_value, outside) : NULL;
}

nb_tensor *nb_elu(nb_tensor *x, float alpha) {
    NB_NULL_GUARD_NAMED("elu", x);
    if (nb_check_dtype("elu", x, NB_F32, "input")) return NULL;
    if (!isfinite(alpha)) return nb_set_error("elu: alpha %g must be finite", (double)alpha);
    /* the negative branch reads 0 where x > 0, so it never overflows (no inf * 0 in its
     * gradient), and x elsewhere, NaN included (whose gradient is NaN, as torch's) */
    nb_tensor *pos = nb_gt(x, nb_scalar_like(x, 0.0f));
    nb_tensor *neg = nb_mul_scalar(nb_expm1(nb_where(pos, nb_scalar_like(x, 0.0f), x)), alpha);
    return nb_as_op(neg ? nb_where(pos, x, neg) : NULL, "elu");
}

nb_tensor *nb_celu(nb_tensor *x, float alpha) {
    NB_NULL_GUARD_NAMED("celu", x);
    if (nb_check_dtype("celu", x, NB_F32, "input")) return NULL;
    if (!isfinite(alpha) || alpha == 0.0f)
        return nb_set_error("celu: alpha %g must be finite and nonzero", (double)alpha);
    /* as elu's branch, with the input scaled by 1 / alpha (torch: elu(x, alpha, 1, 1 / alpha)) */
    nb_tensor *pos = nb_gt(x, nb_scalar_like(x, 0.0f));
    nb_tensor *z = nb_mul_scalar(nb_where(pos, nb_scalar_like(x, 0.0f), x), (float)(1.0 / (double)alpha));
    nb_tensor *neg = nb_mul_scalar(nb_expm1(z), alpha);
    return nb_as_op(neg ? nb_where(pos, x, neg) : NULL, "celu");
}

nb_tensor *nb_selu(nb_tensor *x) {
    const float alpha = 1.6732632423543772f, scale = 1.0507009873554805f;
    return nb_as_op(nb_mul_scalar(nb_elu(x, alpha), scale), "selu");
}

nb_tensor *nb_hardtanh(nb_tensor *x, float lo, float hi) {
    NB_NULL_GUARD_NAMED("hardtanh", x);
    if (nb_check_dtype("hardtanh", x, NB_F32, "input")) return NULL;
    if (!(lo <= hi)) return nb_set_error("hardtanh: min %g must not exceed max %g", (double)lo, (double)hi);
    const bool g = nb_no_grad_begin();
    nb_tensor *clamped = nb_clamp(x, lo, hi);
    nb_no_grad_end(g);
    return nb_as_op(inside_only(x, x, lo, hi, clamped), "hardtanh");
}

nb_tensor *nb_relu6(nb_tensor *x) { return nb_as_op(nb_hardtanh(x, 0.0f, 6.0f), "relu6"); }

nb_tensor *nb_hardsigmoid(nb_tensor *x) {
    NB_NULL_GUARD_NAMED("hardsigmoid", x);
    if (nb_check_dtype("hardsigmoid", x, NB_F32, "input")) return NULL;
    nb_tensor *mid = nb_mul_scalar(nb_add_scalar(x, 3.0f), 1.0f / 6.0f);
    const bool g = nb_no_grad_begin();
    nb_tensor *clamped = mid ? nb_clamp(mid, 0.0f, 1.0f) : NULL;
    nb_no_grad_end(g);
    return nb_as_op(mid ? inside_only(x, mid, -3.0f, 3.0f, clamped) : NULL, "hardsigmoid");
}

/* hardswish's slope, torch 1.13's: 0 below -3, x / 3 + 1/2 from -3 up to 3, 1 from 3 on (and at
 * NaN) */
static int hardswish_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    nb_tensor *mid = nb_add_scalar(nb_mul_scalar(x, 1.0f / 3.0f), 0.5f);
    nb_tensor *upper = mid ? nb_where(nb_lt(x, nb_scalar_like(x, 3.0f)), mid, nb_scalar_like(x, 1.0f)) : NULL;
    nb_tensor *slope =
        upper ? nb_where(nb_lt(x, nb_scalar_like(x, -3.0f)), nb_scalar_like(x, 0.0f), upper) : NULL;
    return (gin[0] = slope ? nb_mul(g, slope) : NULL) ? 0 : -1;
}

nb_tensor *nb_hardswish(nb_tensor *x) {
    NB_NULL_GUARD_NAMED("hardswish", x);
    if (nb_check_dtype("hardswish", x, NB_F32, "input")) return NULL;
    /* the value as torch computes it, x min(max(x + 3, 0), 6) / 6 (-inf gives NaN, a huge x inf),
     * and the slope above as its own backward rule */
    const bool g = nb_no_grad_begin();
    nb_tensor *y = nb_div_scalar(nb_mul(x, nb_clamp(nb_add_scalar(x, 3.0f), 0.0f, 6.0f)), 6.0f);
    nb_no_grad_end(g);
    if (!y) return nb_as_op(NULL, "hardswish");
    nb_node *n;
    return nb_op_finish(y, "hardswish", hardswish_backward, 1, &x, &n);
}

nb_tensor *nb_softsign(nb_tensor *x) {
    NB_NULL_GUARD_NAMED("softsign", x);
    if (nb_check_dtype("softsign", x, NB_F32, "input")) return NULL;
    return nb_as_op(nb_div(x, nb_add_scalar(nb_abs(x), 1.0f)), "softsign");
}

nb_tensor *nb_prelu(nb_tensor *x, nb_tensor *w) {
    NB_NULL_GUARD_NAMED("prelu", x, w);
    if (nb_check_dtype("prelu", x, NB_F32, "input") || nb_check_dtype("prelu", w, NB_F32, "weight") ||
        nb_same_device("prelu", x, w))
        return NULL;
    char xs[64], ws[64];
    nb_tensor *wb = w;
    if (w->ndim != 1 || w->shape[0] < 1)
        return nb_set_error("prelu: weight %s must be [1] or [C]", NB_SHP(w, ws));
    if (w->shape[0] > 1) { /* one slope per channel, the input's dim 1 */
        if (x->ndim < 2 || x->shape[1] != w->shape[0])
            return nb_set_error("prelu: weight %s does not match the channels (dim 1) of input %s",
                                NB_SHP(w, ws), NB_SHP(x, xs));
        int64_t shape[NB_MAX_DIMS];
        shape[0] = w->shape[0];
        for (int k = 1; k < x->ndim - 1; k++)
            shape[k] = 1;
        wb = nb_reshape(w, x->ndim - 1, shape);
    }
    /* x where x > 0, else w x (at 0 and NaN too: the slope w, as torch's); the w x branch reads 0
     * where x > 0, so an inf there gives w no inf * 0 */
    nb_tensor *pos = nb_gt(x, nb_scalar_like(x, 0.0f));
    nb_tensor *neg = wb && pos ? nb_mul(wb, nb_where(pos, nb_scalar_like(x, 0.0f), x)) : NULL;
    return nb_as_op(neg ? nb_where(pos, x, neg) : NULL, "prelu");
}

/* log-sigmoid's slope, torch's: sigmoid(-x) (1/2 at 0, where the composition's pieces tie) */
static int log_sigmoid_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    return (gin[0] = nb_mul(g, nb_sigmoid(nb_neg(n->in[0])))) ? 0 : -1;
}

nb_tensor *nb_log_sigmoid(nb_tensor *x) {
    NB_NULL_GUARD_NAMED("log_sigmoid", x);
    if (nb_check_dtype("log_sigmoid", x, NB_F32, "input")) return NULL;
    /* min(x, 0) - log1p(exp(-|x|)): no overflow either way (torch's form) */
    const bool g = nb_no_grad_begin();
    nb_tensor *y = nb_sub(nb_minimum_scalar(x, 0.0f), nb_log1p(nb_exp(nb_neg(nb_abs(x)))));
    nb_no_grad_end(g);
    if (!y) return nb_as_op(NULL, "log_sigmoid");
    nb_node *n;
    return nb_op_finish(y, "log_sigmoid", log_sigmoid_backward, 1, &x, &n);
}

nb_tensor *nb_glu(nb_tensor *x, int dim) {
    NB_NULL_GUARD_NAMED("glu", x);
    char xs[64];
    if (nb_check_dtype("glu", x, NB_F32, "input")) return NULL;
    if (x->ndim < 1 || dim < -x->ndim || dim >= x->ndim)
        return nb_set_error("glu: dim %d out of range for input %s", dim, NB_SHP(x, xs));
    if (dim < 0) dim += x->ndim;
    const int64_t h = x->shape[dim] / 2;
    if (x->shape[dim] % 2)
        return nb_set_error("glu: dim %d of input %s has an odd size (it is split in halves)", dim,
                            NB_SHP(x, xs));
    /* the first half times the sigmoid of the second */
    return nb_as_op(nb_mul(nb_narrow(x, dim, 0, h), nb_sigmoid(nb_narrow(x, dim, h, h))), "glu");
}
