/* nn/schedule.c - learning-rate schedules as values: constant; linear warm-up followed by a
 * cosine (as nanoGPT's get_lr) or a straight line down to a floor; torch's StepLR and
 * ExponentialLR. nb_lr_at checks a schedule and evaluates it at a step. */
#include <math.h>

#include "nabla/nn.h"

nb_lr_schedule nb_lr_constant(float lr) {
    return (nb_lr_schedule){.kind = NB_LR_CONSTANT, .lr = lr, .min_lr = lr};
}

nb_lr_schedule nb_lr_warmup_cosine(float lr, float min_lr, int64_t warmup, int64_t total) {
    return (nb_lr_schedule){
        .kind = NB_LR_WARMUP_COSINE, .lr = lr, .min_lr = min_lr, .warmup = warmup, .total = total};
}

nb_lr_schedule nb_lr_warmup_linear(float lr, float min_lr, int64_t warmup, int64_t total) {
    return (nb_lr_schedule){
        .kind = NB_LR_WARMUP_LINEAR, .lr = lr, .min_lr = min_lr, .warmup = warmup, .total = total};
}

nb_lr_schedule nb_lr_step(float lr, int64_t step_size, float gamma) {
    return (nb_lr_schedule){.kind = NB_LR_STEP, .lr = lr, .gamma = gamma, .step_size = step_size};
}

nb_lr_schedule nb_lr_exponential(float lr, float gamma) {
    return (nb_lr_schedule){.kind = NB_LR_EXPONENTIAL, .lr = lr, .gamma = gamma};
}

float nb_lr_at(const nb_lr_schedule *s, int64_t step) {
    if (!s) return nb_set_error("lr_at: NULL schedule"), NAN;
    if (!isfinite(s->lr) || s->lr < 0) return nb_set_error("lr_at: invalid lr %g", (double)s->lr), NAN;
    if (step < 0) return nb_set_error("lr_at: negative step %lld", (long long)step), NAN;
    switch (s->kind) {
    case NB_LR_CONSTANT: return s->lr;
    case NB_LR_STEP:
    case NB_LR_EXPONENTIAL:
        if (!(s->gamma >= 0.0f) || !isfinite(s->gamma))
            return nb_set_error("lr_at: gamma %g must be finite and >= 0", (double)s->gamma), NAN;
        if (s->kind == NB_LR_STEP && s->step_size < 1)
            return nb_set_error("lr_at: step_size %lld must be >= 1", (long long)s->step_size), NAN;
        return (float)((double)s->lr *
                       pow((double)s->gamma, (double)(s->kind == NB_LR_STEP ? step / s->step_size : step)));
    case NB_LR_WARMUP_COSINE:
    case NB_LR_WARMUP_LINEAR: break;
    default: return nb_set_error("lr_at: unknown schedule kind %d", (int)s->kind), NAN;
    }
    if (s->warmup < 0 || s->total < s->warmup || !isfinite(s->min_lr) || s->min_lr < 0 || s->min_lr > s->lr)
        return nb_set_error("lr_at: invalid warm-up/%s schedule (warmup %lld, total %lld, lr %g, min_lr %g)",
                            s->kind == NB_LR_WARMUP_COSINE ? "cosine" : "linear", (long long)s->warmup,
                            (long long)s->total, (double)s->lr, (double)s->min_lr),
               NAN;
    if (step < s->warmup) return (float)((double)s->lr * (double)(step + 1) / (double)s->warmup);
    if (step >= s->total) return s->min_lr;
    const double ratio = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    const double coeff = s->kind == NB_LR_WARMUP_COSINE ? 0.5 * (1.0 + cos(M_PI * ratio)) : 1.0 - ratio;
    return (float)((double)s->min_lr + coeff * ((double)s->lr - (double)s->min_lr));
}
