/* ops/loss.c - the losses beyond cross-entropy, each composed from differentiable ops so that
 * its gradient (and its CUDA version) comes from theirs: mean squared error, mean absolute
 * error, Huber, binary cross-entropy on logits and on probabilities (whose gradient is torch's
 * own rule), KL divergence, and negative log-likelihood. Each returns the mean as a 0-d tensor,
 * as PyTorch's default reduction; an error of an inner op is reported under the loss's name. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/loss_util.h"
#include "ops/op_util.h"
#include "tensor/internal.h"

/* pred and target: f32, one shape, one device (PyTorch broadcasts them with a warning that the
 * result is probably wrong; here a mismatch is refused). */
int nb_loss_check_pair(const char *op, const nb_tensor *pred, const nb_tensor *target) {
    if (nb_check_dtype(op, pred, NB_F32, "pred") || nb_check_dtype(op, target, NB_F32, "target")) return -1;
    if (!nb_same_shape(pred, target)) {
        char a[64], b[64];
        nb_set_error("%s: pred %s and target %s differ in shape", op, NB_SHP(pred, a), NB_SHP(target, b));
        return -1;
    }
    return nb_same_device(op, pred, target);
}

/* the elementwise losses reduced as asked: their mean, their sum, or themselves */
nb_tensor *nb_loss_reduced(nb_tensor *each, nb_reduction r, const char *op) {
    nb_tensor *out = r == NB_REDUCE_MEAN ? nb_mean_all(each) : r == NB_REDUCE_SUM ? nb_sum_all(each) : each;
    return nb_as_op(out, op);
}

int nb_loss_check_reduction(const char *op, nb_reduction r) {
    if (r == NB_REDUCE_BATCHMEAN) return nb_set_error("%s: reduction batchmean is kl_div's only", op), -1;
    if (r != NB_REDUCE_MEAN && r != NB_REDUCE_SUM && r != NB_REDUCE_NONE)
        return nb_set_error("%s: unknown reduction %d", op, (int)r), -1;
    return 0;
}

nb_tensor *nb_mse_loss(nb_tensor *pred, nb_tensor *target, nb_reduction r) {
    NB_NULL_GUARD_NAMED("mse_loss", pred, target);
    if (nb_loss_check_reduction("mse_loss", r) || nb_loss_check_pair("mse_loss", pred, target)) return NULL;
    nb_tensor *d = nb_sub(pred, target);
    return nb_loss_reduced(nb_mul(d, d), r, "mse_loss");
}

nb_tensor *nb_l1_loss(nb_tensor *pred, nb_tensor *target, nb_reduction r) {
    NB_NULL_GUARD_NAMED("l1_loss", pred, target);
    if (nb_loss_check_reduction("l1_loss", r) || nb_loss_check_pair("l1_loss", pred, target)) return NULL;
    return nb_loss_reduced(nb_abs(nb_sub(pred, target)), r, "l1_loss");
}

/* With a = |pred - target| and q = min(a, delta): q (a - q/2) is a^2/2 inside delta and
 * delta (a - delta/2) outside, and its gradient is the difference inside and delta times its
 * sign outside (0 at a difference of 0), as torch.nn.functional.huber_loss. */
nb_tensor *nb_huber_loss(nb_tensor *pred, nb_tensor *target, float delta, nb_reduction r) {
    NB_NULL_GUARD_NAMED("huber_loss", pred, target);
    if (nb_loss_check_reduction("huber_loss", r)) return NULL;
    if (!(delta > 0.0f) || delta == INFINITY)
        return nb_set_error("huber_loss: delta %g is not a positive finite number", (double)delta);
    if (nb_loss_check_pair("huber_loss", pred, target)) return NULL;
    nb_tensor *a = nb_abs(nb_sub(pred, target));
    nb_tensor *q = nb_minimum_scalar(a, delta);
    return nb_loss_reduced(nb_mul(q, nb_sub(a, nb_mul_scalar(q, 0.5f))), r, "huber_loss");
}

/* bce_logits_each's gradient, torch's: g (s(x) - t) to the logits, -g x to the targets (exact;
 * differentiating the arrangement below would give (1 - t) - s(-x), which cancels for x << 0) */
static int bce_logits_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *t = n->in[1];
    if (x->requires_grad && !(gin[0] = nb_mul(g, nb_sub(nb_sigmoid(x), t)))) return -1;
    if (t->requires_grad && !(gin[1] = nb_neg(nb_mul(g, x)))) return -1;
    return 0;
}

/* -(t log s(x) + (1 - t) log(1 - s(x))) = (1 - t) x + softplus(-x), torch's arrangement: no log
 * of a rounded probability, finite for any finite logit, special values as torch's (a +inf logit
 * with target 0 is inf); computed without recording, the gradient is bce_logits_backward's. */
static nb_tensor *bce_logits_each(nb_tensor *logits, nb_tensor *target) {
    const bool g = nb_no_grad_begin();
    nb_tensor *each = nb_add(nb_mul(nb_rsub_scalar(target, 1.0f), logits), nb_softplus(nb_neg(logits)));
    nb_no_grad_end(g);
    if (!each) return NULL;
    nb_tensor *ins[2] = {logits, target};
    nb_node *n;
    if (!nb_op_finish(each, "bce_with_logits", bce_logits_backward, 2, ins, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_OUT;
    return each;
}

nb_tensor *nb_bce_with_logits(nb_tensor *logits, nb_tensor *target, nb_reduction r) {
    NB_NULL_GUARD_NAMED("bce_with_logits", logits, target);
    if (nb_loss_check_reduction("bce_with_logits", r) ||
        nb_loss_check_pair("bce_with_logits", logits, target))
        return NULL;
    return nb_loss_reduced(bce_logits_each(logits, target), r, "bce_with_logits");
}

/* -logp[..., t] averaged over the rows whose target is not ignore_index: kept = |sign(t - i)|
 * is 1 for a counted row and 0 for an ignored one, whose target becomes 0 for the gather and
 * whose pick is then replaced by 0, so that its row, whatever it holds, adds nothing. */
nb_tensor *nb_nll_loss(nb_tensor *logp, nb_tensor *targets, int ignore_index, nb_reduction r) {
    NB_NULL_GUARD_NAMED("nll_loss", logp, targets);
    if (nb_loss_check_reduction("nll_loss", r)) return NULL;
    if (nb_check_dtype("nll_loss", logp, NB_F32, "log-probabilities") ||
        nb_check_dtype("nll_loss", targets, NB_I32, "targets") || nb_same_device("nll_loss", logp, targets))
        return NULL;
    bool ok = logp->ndim == targets->ndim + 1 && logp->shape[logp->ndim - 1] > 0;
    for (int i = 0; ok && i < targets->ndim; i++)
        ok = logp->shape[i] == targets->shape[i];
    if (ok && logp->shape[logp->ndim - 1] > (1 << 24)) /* the targets pass through f32 below */
        return nb_set_error("nll_loss: %lld classes is more than f32 can index exactly (2^24)",
                            (long long)logp->shape[logp->ndim - 1]);
    if (!ok) {
        char a[64], b[64];
        return nb_set_error(
            "nll_loss: log-probabilities %s do not match targets %s (want [..., C] with C > 0 "
            "against [...])",
            NB_SHP(logp, a), NB_SHP(targets, b));
    }
    nb_tensor *t = nb_cast(targets, NB_F32);
    nb_tensor *kept = nb_abs(nb_sign(nb_sub_scalar(t, (float)ignore_index)));
    nb_tensor *safe = nb_cast(nb_mul(t, kept), NB_I32);
    nb_tensor *picked = nb_squeeze(nb_gather(logp, -1, nb_unsqueeze(safe, -1)), -1);
    if (!picked) { /* gather's "index 7 at position 2 is out of range ...", said of the targets */
        char e[256];
        snprintf(e, sizeof e, "%s", nb_last_error());
        const char *tail = strstr(e, " (index tensor");
        if (strncmp(e, "gather: index ", 14) == 0 && tail)
            return nb_set_error("nll_loss: target %.*s", (int)(tail - e - 14), e + 14);
    }
    /* masked, not multiplied: an ignored row's pick (its entry 0) may be -inf or NaN */
    nb_tensor *counted = nb_masked_fill(picked, nb_rsub_scalar(kept, 1.0f), 0.0f);
    if (r == NB_REDUCE_NONE)
        return nb_as_op(nb_rsub_scalar(counted, 0.0f), "nll_loss"); /* 0 - x: +0 when ignored */
    nb_tensor *sum = nb_sum_all(counted);
    if (r == NB_REDUCE_SUM) return nb_as_op(nb_rsub_scalar(sum, 0.0f), "nll_loss");
    nb_tensor *count = nb_maximum_scalar(nb_sum_all(kept), 1.0f); /* all ignored: 0, as cross-entropy */
    return nb_as_op(nb_rsub_scalar(nb_div(sum, count), 0.0f), "nll_loss");
}

/* With q = (1 - e) onehot + e / C as the target distribution: -sum q log p = (1 - e)(lse - x_t)
 * + e (lse - mean x) = cross_entropy + e (x_t - mean x), each averaged over the counted rows.
 * The mean keeps the fused cross-entropy's memory savings, the extra terms reading the logits
 * once more (nll_loss picks x_t, the row means are masked as nll_loss masks its picks); the sum
 * is that mean times the count; per row ('none') it is lse - (1 - e) x_t - e mean x from
 * nb_logsumexp, 0 on ignored rows. */
nb_tensor *nb_cross_entropy_smooth(nb_tensor *logits, nb_tensor *targets, int ignore_index, float smoothing,
                                   nb_reduction r) {
    NB_NULL_GUARD_NAMED("cross_entropy_smooth", logits, targets);
    if (nb_loss_check_reduction("cross_entropy_smooth", r)) return NULL;
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return nb_set_error("cross_entropy_smooth: label smoothing %g is outside [0, 1]", (double)smoothing);
    nb_tensor *ce = nb_cross_entropy(logits, targets, ignore_index); /* checks shapes and targets */
    if (!ce) return nb_as_op(NULL, "cross_entropy_smooth");
    nb_tensor *t = nb_cast(targets, NB_F32);
    nb_tensor *kept = nb_abs(nb_sign(nb_sub_scalar(t, (float)ignore_index)));
    nb_tensor *ignored = nb_rsub_scalar(kept, 1.0f);
    nb_tensor *rowmean = nb_mean(logits, 1, (const int[]){-1}, false);
    if (r == NB_REDUCE_NONE) {
        nb_tensor *lse = nb_logsumexp(logits, 1, (const int[]){-1}, false);
        nb_tensor *rest = nb_masked_fill(nb_sub(lse, nb_mul_scalar(rowmean, smoothing)), ignored, 0.0f);
        nb_tensor *neg_xt = nb_nll_loss(logits, targets, ignore_index, NB_REDUCE_NONE); /* -x_t, 0 ignored */
        return nb_as_op(nb_add(rest, nb_mul_scalar(neg_xt, 1.0f - smoothing)), "cross_entropy_smooth");
    }
    nb_tensor *count = nb_maximum_scalar(nb_sum_all(kept), 1.0f);
    nb_tensor *mean = ce;
    if (smoothing != 0.0f) {
        nb_tensor *picked = nb_nll_loss(logits, targets, ignore_index, NB_REDUCE_MEAN); /* -mean x_t */
        nb_tensor *counted = nb_masked_fill(rowmean, ignored, 0.0f);
        nb_tensor *mean_of_means = nb_div(nb_sum_all(counted), count);
        mean = nb_add(ce, nb_mul_scalar(nb_add(picked, mean_of_means), -smoothing)); /* + e (x_t - mean x) */
    }
    return nb_as_op(r == NB_REDUCE_SUM ? nb_mul(mean, count) : mean, "cross_entropy_smooth");
}

/* checks a per-class weight [C] (f32, on like's device); 0 or -1 */
static int check_class_weight(const char *op, const nb_tensor *w, const nb_tensor *like, int64_t C) {
    if (nb_check_dtype(op, w, NB_F32, "class weight") || nb_same_device(op, like, w)) return -1;
    if (w->ndim == 1 && w->shape[0] == C) return 0;
    char a[64];
    return nb_set_error("%s: class weight %s does not match %lld classes (want [C])", op, NB_SHP(w, a),
                        (long long)C),
           -1;
}

/* each row's loss times its target's class weight (0 on ignored rows), reduced as torch: the
 * mean divides by the sum of the counted rows' weights (all ignored, or weights summing to 0:
 * 0, as the unweighted losses) */
static nb_tensor *class_weighted(const char *op, nb_tensor *rows, nb_tensor *targets, nb_tensor *weight,
                                 int ignore_index, nb_reduction r) {
    nb_tensor *t = nb_cast(targets, NB_F32);
    nb_tensor *kept = nb_abs(nb_sign(nb_sub_scalar(t, (float)ignore_index)));
    nb_tensor *safe = nb_cast(nb_mul(t, kept), NB_I32);
    nb_tensor *flat = safe ? nb_reshape(safe, NB_SHAPE(nb_numel(safe))) : NULL;
    nb_tensor *wt = flat ? nb_reshape(nb_index_select(weight, 0, flat), safe->ndim, safe->shape) : NULL;
    /* masked, not multiplied: an ignored row reads weight[0], which may be inf or NaN */
    wt = wt ? nb_masked_fill(wt, nb_rsub_scalar(kept, 1.0f), 0.0f) : NULL;
    nb_tensor *each = wt ? nb_mul(rows, wt) : NULL;
    if (r == NB_REDUCE_NONE || !each) return nb_as_op(each, op);
    nb_tensor *sum = nb_sum_all(each);
    if (r == NB_REDUCE_SUM) return nb_as_op(sum, op);
    nb_tensor *den = nb_sum_all(wt);
    nb_tensor *zero = den ? nb_eq(den, nb_zeros_on(nb_out_ctx(den), NB_F32, den->device, 0, NULL)) : NULL;
    return nb_as_op(zero ? nb_div(sum, nb_add(den, zero)) : NULL, op); /* den + (den == 0) */
}

nb_tensor *nb_nll_loss_weighted(nb_tensor *logp, nb_tensor *targets, nb_tensor *weight, int ignore_index,
                                nb_reduction r) {
    const char *op = "nll_loss";
    NB_NULL_GUARD_NAMED(op, logp, targets);
    if (!weight) return nb_nll_loss(logp, targets, ignore_index, r);
    if (nb_loss_check_reduction(op, r)) return NULL;
    nb_tensor *rows = nb_nll_loss(logp, targets, ignore_index, NB_REDUCE_NONE); /* checks the rest */
    if (!rows || check_class_weight(op, weight, logp, logp->shape[logp->ndim - 1])) return NULL;
    return class_weighted(op, rows, targets, weight, ignore_index, r);
}

/* With weights w and smoothing e over C classes, as torch: row i costs
 * (1 - e) w[t_i] (-logp[i, t_i]) + (e / C) sum_c w[c] (-logp[i, c]), 0 when ignored; the mean
 * divides by the sum of w[t_i] over the counted rows. Composed over nb_log_softmax (the
 * probabilities are stored, unlike nb_cross_entropy's fused kernel). */
nb_tensor *nb_cross_entropy_weighted(nb_tensor *logits, nb_tensor *targets, nb_tensor *weight,
                                     int ignore_index, float smoothing, nb_reduction r) {
    const char *op = "cross_entropy";
    NB_NULL_GUARD_NAMED(op, logits, targets);
    if (!weight) {
        if (r == NB_REDUCE_MEAN && smoothing == 0.0f) return nb_cross_entropy(logits, targets, ignore_index);
        return nb_as_op(nb_cross_entropy_smooth(logits, targets, ignore_index, smoothing, r), op);
    }
    if (nb_loss_check_reduction(op, r)) return NULL;
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return nb_set_error("%s: label smoothing %g is outside [0, 1]", op, (double)smoothing);
    if (nb_check_dtype(op, logits, NB_F32, "logits")) return NULL;
    nb_tensor *logp = nb_log_softmax(logits, -1);
    nb_tensor *rows = logp ? nb_nll_loss(logp, targets, ignore_index, NB_REDUCE_NONE) : NULL; /* checks */
    if (!rows) return nb_as_op(NULL, op);
    const int64_t C = logits->shape[logits->ndim - 1];
    if (check_class_weight(op, weight, logits, C)) return NULL;
    if (smoothing == 0.0f) return class_weighted(op, rows, targets, weight, ignore_index, r);
    /* the smoothed part of each row, 0 on ignored rows; the target part through class_weighted,
     * whose mean denominator (the sum of the target weights) torch uses for both parts */
    nb_tensor *t = nb_cast(targets, NB_F32);
    nb_tensor *kept = nb_abs(nb_sign(nb_sub_scalar(t, (float)ignore_index)));
    nb_tensor *spread = nb_sum(nb_mul(logp, weight), 1, (const int[]){-1}, false); /* sum_c w[c] logp[c] */
    /* masked, not multiplied: an ignored row may hold -inf or NaN */
    spread = spread ? nb_masked_fill(nb_mul_scalar(spread, -smoothing / (float)C), nb_rsub_scalar(kept, 1.0f),
                                     0.0f)
                    : NULL;
    nb_tensor *target_part = nb_mul_scalar(rows, 1.0f - smoothing);
    if (r == NB_REDUCE_NONE)
        return nb_as_op(nb_add(class_weighted(op, target_part, targets, weight, ignore_index, r), spread),
                        op);
    nb_tensor *sum = nb_add(class_weighted(op, target_part, targets, weight, ignore_index, NB_REDUCE_SUM),
                            nb_sum_all(spread));
    if (r == NB_REDUCE_SUM) return nb_as_op(sum, op);
    /* the mean: both parts over the target weights' sum, as the target part alone is divided */
    nb_tensor *ones =
        nb_full_on(nb_out_ctx(logits), NB_F32, logits->device, targets->ndim, targets->shape, 1.0);
    nb_tensor *den = class_weighted(op, ones, targets, weight, ignore_index, NB_REDUCE_SUM);
    nb_tensor *zero = den ? nb_eq(den, nb_zeros_on(nb_out_ctx(den), NB_F32, den->device, 0, NULL)) : NULL;
    return nb_as_op(zero ? nb_div(sum, nb_add(den, zero)) : NULL, op);
}

/* -w [pw t log s(x) + (1 - t) log(1 - s(x))] = w [pw t softplus(-x) + (1 - t) softplus(x)], as
 * torch's binary_cross_entropy_with_logits with weight and pos_weight, computed in torch's
 * arrangement so that special values come out as torch's. */
nb_tensor *nb_bce_with_logits_weighted(nb_tensor *logits, nb_tensor *target, nb_tensor *weight,
                                       nb_tensor *pos_weight, nb_reduction r) {
    const char *op = "bce_with_logits";
    NB_NULL_GUARD_NAMED(op, logits, target);
    if (nb_loss_check_reduction(op, r) || nb_loss_check_pair(op, logits, target)) return NULL;
    char a[64], b[64];
    nb_tensor *extra[2] = {weight, pos_weight};
    static const char *what[2] = {"weight", "pos_weight"};
    for (int i = 0; i < 2; i++) {
        if (!extra[i]) continue;
        if (nb_check_dtype(op, extra[i], NB_F32, what[i]) || nb_same_device(op, logits, extra[i]))
            return NULL;
        int nd;
        int64_t shape[NB_MAX_DIMS];
        if (nb_broadcast_shape(op, logits, extra[i], &nd, shape)) return NULL;
        if (nd != logits->ndim || memcmp(shape, logits->shape, (size_t)nd * sizeof *shape))
            return nb_set_error("%s: %s %s does not broadcast to the logits %s", op, what[i],
                                NB_SHP(extra[i], a), NB_SHP(logits, b));
    }
    /* with pos_weight, torch's arrangement (1 - t) x + (1 + (pw - 1) t) softplus(-x); without, the
     * unweighted loss's (1 - t) x + softplus(-x) */
    nb_tensor *each =
        pos_weight ? nb_add(nb_mul(nb_rsub_scalar(target, 1.0f), logits),
                            nb_mul(nb_add_scalar(nb_mul(nb_sub_scalar(pos_weight, 1.0f), target), 1.0f),
                                   nb_softplus(nb_neg(logits))))
                   : bce_logits_each(logits, target);
    if (weight) each = nb_mul(each, weight);
    return nb_loss_reduced(each, r, op);
}

/* t log t, 0 where t is 0 (torch's xlogy(t, t)), differentiable: the log reads 1 where t is 0, so
 * its gradient there is log(1) + 0 = 0, never 0 * inf */
static nb_tensor *xlogx(nb_tensor *t) {
    nb_tensor *zero = nb_full_on(nb_out_ctx(t), NB_F32, t->device, 0, NULL, 0.0), *one = NULL;
    nb_tensor *is0 = zero ? nb_eq(t, zero) : NULL;
    one = is0 ? nb_full_on(nb_out_ctx(t), NB_F32, t->device, 0, NULL, 1.0) : NULL;
    return one ? nb_mul(t, nb_log(nb_where(is0, one, t))) : NULL;
}

nb_tensor *nb_kl_div(nb_tensor *input, nb_tensor *target, nb_reduction r, bool log_target) {
    NB_NULL_GUARD_NAMED("kl_div", input, target);
    if (r != NB_REDUCE_BATCHMEAN && nb_loss_check_reduction("kl_div", r)) return NULL;
    if (nb_loss_check_pair("kl_div", input, target)) return NULL;
    /* torch 1.13: exp(t) (t - x) with log targets, else xlogy(t, t) - t x */
    nb_tensor *each = log_target ? nb_mul(nb_exp(target), nb_sub(target, input))
                                 : nb_sub(xlogx(target), nb_mul(target, input));
    if (r != NB_REDUCE_BATCHMEAN) return nb_loss_reduced(each, r, "kl_div");
    /* the sum over the batch's size (input's dim 0; a 0-d input counts as one) */
    const float batch = input->ndim ? (float)input->shape[0] : 1.0f;
    return nb_as_op(nb_div_scalar(nb_sum_all(each), batch), "kl_div");
}

/* binary cross-entropy's gradient in p, torch's: g (p - t) / max((1 - p) p, 1e-12) (weighted by
 * w when given); in t (when asked): g (log(1 - p) - log p) */
static int bce_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *p = n->in[0], *t = n->in[1], *w = n->n_in > 2 ? n->in[2] : NULL;
    nb_tensor *gw = w ? nb_mul(g, w) : g;
    if (p->requires_grad) {
        nb_tensor *den = nb_maximum_scalar(nb_mul(nb_rsub_scalar(p, 1.0f), p), 1e-12f);
        if (!(gin[0] = nb_div(nb_mul(gw, nb_sub(p, t)), den))) return -1;
    }
    if (t->requires_grad) /* torch's logs here are not clamped */
        if (!(gin[1] = nb_mul(gw, nb_sub(nb_log(nb_rsub_scalar(p, 1.0f)), nb_log(p))))) return -1;
    return 0;
}

nb_tensor *nb_bce(nb_tensor *p, nb_tensor *target, nb_tensor *weight, nb_reduction r) {
    NB_NULL_GUARD_NAMED("bce", p, target);
    if (nb_loss_check_reduction("bce", r) || nb_loss_check_pair("bce", p, target)) return NULL;
    char ws[64], ps[64];
    if (weight && (nb_check_dtype("bce", weight, NB_F32, "weight") || nb_same_device("bce", p, weight)))
        return NULL;
    if (weight && weight->requires_grad && nb_grad_enabled())
        return nb_set_error("bce: the weight must not require grad (the loss is not differentiable in it)");
    nb_tensor *we = NULL;
    if (weight && !(we = nb_expand(weight, p->ndim, p->shape)))
        return nb_set_error("bce: weight %s does not broadcast to input %s", NB_SHP(weight, ws),
                            NB_SHP(p, ps));
    /* every p in [0, 1], as torch checks (NaN fails too): one pass and a read-back of one value */
    const bool ng = nb_no_grad_begin();
    nb_tensor *in01 =
        nb_all(nb_mul(nb_ge(p, nb_scalar_like(p, 0.0f)), nb_le(p, nb_scalar_like(p, 1.0f))), 0, NULL, false);
    nb_no_grad_end(ng);
    if (!in01) return nb_as_op(NULL, "bce");
    if (nb_item(in01) != 1.0)
        return nb_set_error("bce: input %s holds a value outside [0, 1] (or NaN): it must be probabilities "
                            "(use nb_bce_with_logits for logits)",
                            NB_SHP(p, ps));
    /* -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)), torch's clamped logs, computed without
     * recording; the gradient is torch's rule (bce_backward) */
    const bool g = nb_no_grad_begin();
    nb_tensor *l0 = nb_maximum_scalar(nb_log(p), -100.0f),
              *l1 = nb_maximum_scalar(nb_log(nb_rsub_scalar(p, 1.0f)), -100.0f);
    nb_tensor *each = nb_neg(nb_add(nb_mul(target, l0), nb_mul(nb_rsub_scalar(target, 1.0f), l1)));
    if (each && we) each = nb_mul(each, we);
    nb_no_grad_end(g);
    if (!each) return nb_as_op(NULL, "bce");
    nb_tensor *ins[3] = {p, target, we};
    nb_node *n;
    if (!nb_op_finish(each, "bce", bce_backward, we ? 3 : 2, ins, &n)) return NULL;
    return nb_loss_reduced(each, r, "bce");
}

nb_tensor *nb_pairwise_distance(nb_tensor *a, nb_tensor *b, float p, float eps, bool keepdim) {
    NB_NULL_GUARD_NAMED("pairwise_distance", a, b);
    if (nb_check_dtype("pairwise_distance", a, NB_F32, "x1") ||
        nb_check_dtype("pairwise_distance", b, NB_F32, "x2"))
        return NULL;
    /* torch: norm(x1 - x2 + eps, p) over the last dim (of the broadcast shape) */
    nb_tensor *d = nb_add_scalar(nb_sub(a, b), eps);
    const int last = -1;
    return nb_as_op(d ? nb_norm(d, p, 1, &last, keepdim) : NULL, "pairwise_distance");
}

nb_tensor *nb_triplet_margin_loss(nb_tensor *anchor, nb_tensor *pos, nb_tensor *neg, float margin, float p,
                                  float eps, bool swap, nb_reduction r) {
    NB_NULL_GUARD_NAMED("triplet_margin_loss", anchor, pos, neg);
    if (nb_loss_check_reduction("triplet_margin_loss", r)) return NULL;
    nb_tensor *d_ap = nb_pairwise_distance(anchor, pos, p, eps, false);
    nb_tensor *d_an = nb_pairwise_distance(anchor, neg, p, eps, false);
    if (swap && d_an) d_an = nb_minimum(d_an, nb_pairwise_distance(pos, neg, p, eps, false));
    nb_tensor *each =
        d_ap && d_an ? nb_maximum_scalar(nb_sub(nb_add_scalar(d_ap, margin), d_an), 0.0f) : NULL;
    return nb_loss_reduced(each, r, "triplet_margin_loss");
}

/* y is -1 or 1 (f32, broadcast to the losses' shape) */
nb_tensor *nb_margin_ranking_loss(nb_tensor *x1, nb_tensor *x2, nb_tensor *y, float margin, nb_reduction r) {
    NB_NULL_GUARD_NAMED("margin_ranking_loss", x1, x2, y);
    if (nb_loss_check_reduction("margin_ranking_loss", r)) return NULL;
    /* max(0, -y (x1 - x2) + margin), torch's order */
    nb_tensor *each = nb_maximum_scalar(nb_add_scalar(nb_mul(nb_neg(y), nb_sub(x1, x2)), margin), 0.0f);
    return nb_loss_reduced(each, r, "margin_ranking_loss");
}

nb_tensor *nb_cosine_embedding_loss(nb_tensor *x1, nb_tensor *x2, nb_tensor *y, float margin,
                                    nb_reduction r) {
    NB_NULL_GUARD_NAMED("cosine_embedding_loss", x1, x2, y);
    if (nb_loss_check_reduction("cosine_embedding_loss", r)) return NULL;
    char as[64], bs[64];
    if (nb_check_dtype("cosine_embedding_loss", x1, NB_F32, "x1") ||
        nb_check_dtype("cosine_embedding_loss", x2, NB_F32, "x2") ||
        nb_check_dtype("cosine_embedding_loss", y, NB_F32, "target"))
        return NULL;
    if (x1->ndim < 1 || x1->ndim > 2 || !nb_same_shape(x1, x2))
        return nb_set_error("cosine_embedding_loss: want x1 and x2 of one shape [N, D] or [D], got %s and %s",
                            NB_SHP(x1, as), NB_SHP(x2, bs));
    /* torch 1.13: cos = sum(x1 x2) / sqrt((sum(x1^2) + 1e-12) (sum(x2^2) + 1e-12)); 1 - cos where
     * y is 1, max(0, cos - margin) where y is -1, 0 elsewhere */
    const int last = -1;
    nb_tensor *prod = nb_sum(nb_mul(x1, x2), 1, &last, false);
    nb_tensor *m1 = nb_add_scalar(nb_sum(nb_mul(x1, x1), 1, &last, false), 1e-12f);
    nb_tensor *m2 = nb_add_scalar(nb_sum(nb_mul(x2, x2), 1, &last, false), 1e-12f);
    nb_tensor *cs = prod && m1 && m2 ? nb_div(prod, nb_sqrt(nb_mul(m1, m2))) : NULL;
    if (!cs) return nb_as_op(NULL, "cosine_embedding_loss");
    nb_tensor *zero = nb_scalar_like(cs, 0.0f), *one = nb_scalar_like(cs, 1.0f),
              *minus = nb_scalar_like(cs, -1.0f);
    nb_tensor *each =
        nb_add(nb_where(nb_eq(y, one), nb_rsub_scalar(cs, 1.0f), zero),
               nb_where(nb_eq(y, minus), nb_maximum_scalar(nb_sub_scalar(cs, margin), 0.0f), zero));
    return nb_loss_reduced(each, r, "cosine_embedding_loss");
}
