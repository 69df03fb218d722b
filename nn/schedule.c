/* nn/schedule.c - learning-rate schedules as values: constant; linear warm-up followed by a
 * cosine (as nanoGPT's get_lr) or a straight line down to a floor; torch's StepLR,
 * ExponentialLR, MultiStepLR, OneCycleLR and CosineAnnealingWarmRestarts. nb_lr_at checks a
 * schedule and evaluates it at a step. ReduceLROnPlateau, which depends on the metrics seen, is
 * a value with its state (nb_plateau). */
#include <math.h>
#include <string.h>

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

nb_lr_schedule nb_lr_multistep(float lr, int n, const int64_t *milestones, float gamma) {
    nb_lr_schedule s = {.kind = NB_LR_MULTISTEP, .lr = lr, .gamma = gamma, .n_milestones = n};
    if (n > 0 && n <= NB_LR_MAX_MILESTONES && milestones)
        memcpy(s.milestones, milestones, (size_t)n * sizeof *milestones);
    else if (n != 0)
        s.n_milestones = -1; /* reported by nb_lr_at */
    return s;
}

nb_lr_schedule nb_lr_one_cycle(float max_lr, int64_t total_steps, float pct_start, float div_factor,
                               float final_div_factor, bool three_phase, bool anneal_linear) {
    return (nb_lr_schedule){.kind = NB_LR_ONE_CYCLE,
                            .lr = max_lr,
                            .total = total_steps,
                            .pct_start = pct_start,
                            .div_factor = div_factor,
                            .final_div_factor = final_div_factor,
                            .three_phase = three_phase,
                            .anneal_linear = anneal_linear};
}

nb_lr_schedule nb_lr_cosine_restarts(float lr, float eta_min, int64_t t_0, int64_t t_mult) {
    return (nb_lr_schedule){
        .kind = NB_LR_COSINE_RESTARTS, .lr = lr, .min_lr = eta_min, .step_size = t_0, .t_mult = t_mult};
}

/* torch's annealing from a to b at fraction pct of the way (double, as Python) */
static double anneal(double a, double b, double pct, bool linear) {
    return linear ? (b - a) * pct + a : b + (a - b) / 2.0 * (cos(M_PI * pct) + 1.0);
}

static float one_cycle_at(const nb_lr_schedule *s, int64_t step) {
    if (s->total < 1 || !(s->pct_start > 0.0f && s->pct_start < 1.0f) || !(s->div_factor > 0.0f) ||
        !(s->final_div_factor > 0.0f) || !isfinite(s->div_factor) || !isfinite(s->final_div_factor))
        return nb_set_error(
                   "lr_at: invalid one-cycle schedule (total_steps %lld, pct_start %g, div_factor %g, "
                   "final_div_factor %g)",
                   (long long)s->total, (double)s->pct_start, (double)s->div_factor,
                   (double)s->final_div_factor),
               NAN;
    if (step > s->total)
        return nb_set_error("lr_at: step %lld is past the one-cycle schedule's %lld steps", (long long)step,
                            (long long)s->total),
               NAN;
    /* torch's phases: (end step, start lr, end lr) */
    const double max = s->lr, initial = max / (double)s->div_factor,
                 floor = initial / (double)s->final_div_factor;
    const double up = (double)s->pct_start * (double)s->total - 1.0;
    const double ends[3] = {
        up, s->three_phase ? 2.0 * (double)s->pct_start * (double)s->total - 2.0 : (double)(s->total - 1),
        (double)(s->total - 1)};
    const double from[3] = {initial, max, s->three_phase ? initial : max},
                 to[3] = {max, s->three_phase ? initial : floor, floor};
    const int phases = s->three_phase ? 3 : 2;
    double start = 0.0;
    for (int i = 0; i < phases; i++) {
        if ((double)step <= ends[i] || i == phases - 1)
            return (float)anneal(from[i], to[i], ((double)step - start) / (ends[i] - start),
                                 s->anneal_linear);
        start = ends[i];
    }
    return NAN; /* not reached */
}

static float restarts_at(const nb_lr_schedule *s, int64_t step) {
    if (s->step_size < 1 || s->t_mult < 1 || !isfinite(s->min_lr) || s->min_lr < 0)
        return nb_set_error("lr_at: invalid cosine restarts (t_0 %lld, t_mult %lld, eta_min %g)",
                            (long long)s->step_size, (long long)s->t_mult, (double)s->min_lr),
               NAN;
    int64_t t_cur = step, t_i = s->step_size;
    if (s->t_mult == 1)
        t_cur = step % t_i;
    else
        while (t_cur >= t_i) { /* the period holding step: O(log step) of them */
            t_cur -= t_i;
            if (t_i > INT64_MAX / s->t_mult) break;
            t_i *= s->t_mult;
        }
    const double eta = s->min_lr;
    return (float)(eta + ((double)s->lr - eta) * (1.0 + cos(M_PI * (double)t_cur / (double)t_i)) / 2.0);
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
    case NB_LR_MULTISTEP: {
        if (!(s->gamma >= 0.0f) || !isfinite(s->gamma))
            return nb_set_error("lr_at: gamma %g must be finite and >= 0", (double)s->gamma), NAN;
        if (s->n_milestones < 0 || s->n_milestones > NB_LR_MAX_MILESTONES)
            return nb_set_error("lr_at: a multi-step schedule holds 0 to %d milestones",
                                NB_LR_MAX_MILESTONES),
                   NAN;
        int passed = 0;
        for (int i = 0; i < s->n_milestones; i++) {
            if (s->milestones[i] < 0 || (i && s->milestones[i] < s->milestones[i - 1]))
                return nb_set_error(
                           "lr_at: milestones must be >= 0 and in increasing order (milestone %d is %lld)", i,
                           (long long)s->milestones[i]),
                       NAN;
            passed += s->milestones[i] <= step;
        }
        return (float)((double)s->lr * pow((double)s->gamma, passed));
    }
    case NB_LR_ONE_CYCLE: return one_cycle_at(s, step);
    case NB_LR_COSINE_RESTARTS: return restarts_at(s, step);
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

nb_plateau nb_plateau_new(float lr, bool maximize, float factor, int patience, float threshold, int cooldown,
                          float min_lr) {
    return (nb_plateau){.lr = lr,
                        .factor = factor,
                        .threshold = threshold,
                        .min_lr = min_lr,
                        .maximize = maximize,
                        .patience = patience,
                        .cooldown = cooldown,
                        .best = maximize ? -INFINITY : INFINITY};
}

float nb_plateau_step(nb_plateau *p, double metric) {
    if (!p) return nb_set_error("plateau_step: NULL plateau"), NAN;
    if (!(p->factor >= 0.0f && p->factor < 1.0f) || p->patience < 0 || p->cooldown < 0 ||
        !(p->threshold >= 0.0f) || !isfinite(p->lr) || p->lr < 0 || !(p->min_lr >= 0.0f))
        return nb_set_error(
                   "plateau_step: invalid plateau (lr %g, factor %g, patience %d, threshold %g, cooldown "
                   "%d, min_lr %g)",
                   (double)p->lr, (double)p->factor, p->patience, (double)p->threshold, p->cooldown,
                   (double)p->min_lr),
               NAN;
    if (metric != metric) return nb_set_error("plateau_step: the metric is NaN"), NAN;
    p->calls++;
    /* torch's relative threshold: better than best (1 - threshold), or (1 + threshold) for max */
    const bool better = p->maximize ? metric > p->best * ((double)p->threshold + 1.0)
                                    : metric < p->best * (1.0 - (double)p->threshold);
    if (better) {
        p->best = metric;
        p->bad = 0;
    } else {
        p->bad++;
    }
    if (p->cooldown_left > 0) { /* bad calls in the cooldown do not count */
        p->cooldown_left--;
        p->bad = 0;
    }
    if (p->bad > p->patience) {
        const double old = p->lr, lower = fmax(old * (double)p->factor, (double)p->min_lr);
        if (old - lower > 1e-8) p->lr = (float)lower; /* torch's eps */
        p->cooldown_left = p->cooldown;
        p->bad = 0;
    }
    return p->lr;
}
