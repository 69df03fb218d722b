/* nn/schedule.c - learning-rate schedules: constant, and linear warm-up
 * followed by cosine decay to a floor (as nanoGPT's get_lr). */
#include <math.h>

#include "nabla/nn.h"

nb_lr_schedule nb_lr_constant(float lr) {
    nb_lr_schedule s = {NB_LR_CONSTANT, lr, lr, 0, 0};
    return s;
}

nb_lr_schedule nb_lr_warmup_cosine(float lr, float min_lr, int64_t warmup, int64_t total) {
    nb_lr_schedule s = {NB_LR_WARMUP_COSINE, lr, min_lr, warmup, total};
    return s;
}

float nb_lr_at(const nb_lr_schedule *s, int64_t step) {
    if (!s) return nb_set_error("lr_at: NULL schedule"), NAN;
    if (!isfinite(s->lr) || s->lr < 0) return nb_set_error("lr_at: invalid lr %g", (double)s->lr), NAN;
    if (step < 0) return nb_set_error("lr_at: negative step %lld", (long long)step), NAN;
    if (s->kind == NB_LR_CONSTANT) return s->lr;
    if (s->kind != NB_LR_WARMUP_COSINE)
        return nb_set_error("lr_at: unknown schedule kind %d", (int)s->kind), NAN;
    if (s->warmup < 0 || s->total < s->warmup || !isfinite(s->min_lr) || s->min_lr < 0 || s->min_lr > s->lr)
        return nb_set_error("lr_at: invalid warm-up/cosine schedule (warmup %lld, total %lld, "
                            "lr %g, min_lr %g)",
                            (long long)s->warmup, (long long)s->total, (double)s->lr, (double)s->min_lr),
               NAN;
    if (step < s->warmup) return (float)((double)s->lr * (double)(step + 1) / (double)s->warmup);
    if (step >= s->total) return s->min_lr;
    double ratio = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    double coeff = 0.5 * (1.0 + cos(M_PI * ratio));
    return (float)((double)s->min_lr + coeff * ((double)s->lr - (double)s->min_lr));
}
