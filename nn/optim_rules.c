/* nn/optim_rules.c - the update rules of Adam, RMSprop and Adagrad, composed from tensor ops so
 * that they run on every backend, in the order of operations of PyTorch 1.13's single-tensor
 * loops (torch/optim/adam.py, rmsprop.py, adagrad.py). The state tensors are updated in place
 * (nb_scale_, nb_axpy_, nb_copy_); the temporaries live in the optimiser's own context, reset
 * after each parameter, so that after the first step nothing more is asked of the system. */
#include <math.h>

#include "nn/nn_internal.h"

/* 1 - x for a hyper-parameter, computed in double as Python computes it, then rounded */
static float one_minus(float x) { return (float)(1.0 - (double)x); }

/* t += c * a * b (torch's addcmul_ with value c: (c a) b, rounded in that order) */
static int addcmul_(nb_tensor *t, const nb_tensor *a, const nb_tensor *b, float c) {
    nb_tensor *ab = nb_mul(nb_mul_scalar((nb_tensor *)a, c), (nb_tensor *)b);
    return ab ? nb_axpy_(t, 1.0f, ab) : -1;
}

/* t += c * (a / b) (torch's addcdiv_) */
static int addcdiv_(nb_tensor *t, const nb_tensor *a, const nb_tensor *b, float c) {
    nb_tensor *q = nb_div((nb_tensor *)a, (nb_tensor *)b);
    return q ? nb_axpy_(t, c, q) : -1;
}

/* Adam: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2 (amsgrad: s = max(s, v), read instead of
 * v); p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) */
static int adam(nb_optim *o, nb_tensor *p, nb_tensor *g, nb_tensor *m, nb_tensor *v, nb_tensor *vmax,
                float lr) {
    if (nb_scale_(m, o->beta1) || nb_axpy_(m, one_minus(o->beta1), g) || nb_scale_(v, o->beta2) ||
        addcmul_(v, g, g, one_minus(o->beta2)))
        return -1;
    const double bc1 = 1.0 - pow((double)o->beta1, (double)o->step),
                 bc2 = 1.0 - pow((double)o->beta2, (double)o->step);
    nb_tensor *second = v;
    if (o->amsgrad) {
        nb_tensor *mx = nb_maximum(vmax, v);
        if (!mx || nb_copy_(vmax, mx)) return -1;
        second = vmax;
    }
    nb_tensor *denom = nb_add_scalar(nb_div_scalar(nb_sqrt(second), (float)sqrt(bc2)), o->eps);
    return denom ? addcdiv_(p, m, denom, (float)(-(double)lr / bc1)) : -1;
}

/* RMSprop: v = alpha v + (1 - alpha) g^2; avg = sqrt(v) + eps (centered: sqrt(v - a^2) + eps,
 * a = alpha a + (1 - alpha) g); with momentum buf = momentum buf + g / avg, p -= lr buf; else
 * p -= lr g / avg */
static int rmsprop(nb_optim *o, nb_tensor *p, nb_tensor *g, nb_tensor *buf, nb_tensor *v, nb_tensor *ga,
                   float lr) {
    if (nb_scale_(v, o->alpha) || addcmul_(v, g, g, one_minus(o->alpha))) return -1;
    nb_tensor *avg;
    if (o->centered) {
        if (nb_scale_(ga, o->alpha) || nb_axpy_(ga, one_minus(o->alpha), g)) return -1;
        avg = nb_sqrt(nb_add(v, nb_mul(nb_mul_scalar(ga, -1.0f), ga)));
    } else {
        avg = nb_sqrt(v);
    }
    avg = nb_add_scalar(avg, o->eps);
    if (!avg) return -1;
    if (o->momentum > 0)
        return nb_scale_(buf, o->momentum) || addcdiv_(buf, g, avg, 1.0f) || nb_axpy_(p, -lr, buf) ? -1 : 0;
    return addcdiv_(p, g, avg, -lr);
}

/* Adagrad: sum += g^2; p -= lr / (1 + (step - 1) lr_decay) * g / (sqrt(sum) + eps) */
static int adagrad(nb_optim *o, nb_tensor *p, nb_tensor *g, nb_tensor *sum, float lr) {
    const double clr = (double)lr / (1.0 + (double)(o->step - 1) * (double)o->lr_decay);
    if (addcmul_(sum, g, g, 1.0f)) return -1;
    nb_tensor *std = nb_add_scalar(nb_sqrt(sum), o->eps);
    return std ? addcdiv_(p, g, std, (float)-clr) : -1;
}

int nb_optim_rule_step(nb_optim *o, nb_param_group *grp, int i, float lr) {
    if (!o->tmp && !(o->tmp = nb_ctx_new(0))) return -1;
    nb_ctx *prev = nb_ctx_use(o->tmp);
    nb_tensor *p = grp->params[i];
    /* the gradient with the weight decay added (torch's grad.add(param, alpha=weight_decay)) */
    nb_tensor *g = grp->weight_decay != 0.0f ? nb_add(p->grad, nb_mul_scalar(p, grp->weight_decay)) : p->grad;
    int rc = -1;
    if (g) switch (o->kind) {
        case NB_OPTIM_ADAM: rc = adam(o, p, g, grp->m[i], grp->v[i], grp->s[i], lr); break;
        case NB_OPTIM_RMSPROP: rc = rmsprop(o, p, g, grp->m[i], grp->v[i], grp->s[i], lr); break;
        case NB_OPTIM_ADAGRAD: rc = adagrad(o, p, g, grp->v[i], lr); break;
        default: nb_set_error("optim_step: no composed rule for %s", nb_optim_kind_name(o->kind)); break;
        }
    nb_ctx_use(prev);
    nb_ctx_reset(o->tmp);
    return rc;
}
