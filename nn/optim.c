/* nn/optim.c - optimisers (SGD with momentum, AdamW, and Adam, RMSprop, Adagrad whose rules
 * are in nn/optim_rules.c) with parameter groups, gradient clipping by global norm, and zeroing
 * gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"
#include "tensor/internal.h"

static nb_optim *optim_new(nb_ctx *ctx, nb_optim_kind kind, float lr) {
    if (!ctx) return nb_set_error("optim: NULL context");
    if (!(lr >= 0.0f) || !isfinite(lr)) return nb_set_error("optim: invalid lr %g", (double)lr);
    nb_optim *o = calloc(1, sizeof *o);
    if (!o) return nb_set_error("optim: out of memory");
    o->kind = kind;
    o->ctx = ctx;
    o->lr = lr;
    return o;
}

nb_optim *nb_adamw_new(nb_ctx *ctx, float lr, float beta1, float beta2, float eps) {
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0))
        return nb_set_error("adamw_new: invalid betas (%g, %g) or eps %g", (double)beta1, (double)beta2,
                            (double)eps);
    nb_optim *o = optim_new(ctx, NB_OPTIM_ADAMW, lr);
    if (!o) return NULL;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    return o;
}

nb_optim *nb_sgd_new(nb_ctx *ctx, float lr, float momentum, float dampening, bool nesterov) {
    if (!(momentum >= 0 && dampening >= 0 && dampening <= 1))
        return nb_set_error("sgd_new: invalid momentum %g or dampening %g", (double)momentum,
                            (double)dampening);
    if (nesterov && (momentum <= 0 || dampening != 0))
        return nb_set_error("sgd_new: Nesterov momentum needs momentum > 0 and dampening 0");
    nb_optim *o = optim_new(ctx, NB_OPTIM_SGD, lr);
    if (!o) return NULL;
    o->momentum = momentum;
    o->dampening = dampening;
    o->nesterov = nesterov;
    return o;
}

nb_optim *nb_adam_new(nb_ctx *ctx, float lr, float beta1, float beta2, float eps, bool amsgrad) {
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0))
        return nb_set_error("adam_new: invalid betas (%g, %g) or eps %g", (double)beta1, (double)beta2,
                            (double)eps);
    nb_optim *o = optim_new(ctx, NB_OPTIM_ADAM, lr);
    if (!o) return NULL;
    o->beta1 = beta1, o->beta2 = beta2, o->eps = eps, o->amsgrad = amsgrad;
    return o;
}

nb_optim *nb_rmsprop_new(nb_ctx *ctx, float lr, float alpha, float eps, float momentum, bool centered) {
    if (!(alpha >= 0 && alpha <= 1 && eps >= 0 && momentum >= 0 && isfinite(momentum)))
        return nb_set_error("rmsprop_new: invalid alpha %g (want 0..1), eps %g or momentum %g", (double)alpha,
                            (double)eps, (double)momentum);
    nb_optim *o = optim_new(ctx, NB_OPTIM_RMSPROP, lr);
    if (!o) return NULL;
    o->alpha = alpha, o->eps = eps, o->momentum = momentum, o->centered = centered;
    return o;
}

nb_optim *nb_adagrad_new(nb_ctx *ctx, float lr, float lr_decay, float eps, float initial_accumulator) {
    if (!(lr_decay >= 0 && eps >= 0 && initial_accumulator >= 0 && isfinite(lr_decay) &&
          isfinite(initial_accumulator)))
        return nb_set_error("adagrad_new: invalid lr_decay %g, eps %g or initial_accumulator %g",
                            (double)lr_decay, (double)eps, (double)initial_accumulator);
    nb_optim *o = optim_new(ctx, NB_OPTIM_ADAGRAD, lr);
    if (!o) return NULL;
    o->lr_decay = lr_decay, o->eps = eps, o->initial_accumulator = initial_accumulator;
    return o;
}

const char *nb_optim_kind_name(nb_optim_kind kind) {
    static const char *names[] = {"sgd", "adamw", "adam", "rmsprop", "adagrad"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "unknown";
}

const char *nb_optim_slot_name(const nb_optim *o, int slot) {
    if (!o || slot < 0 || slot > 2) return NULL;
    switch (o->kind) {
    case NB_OPTIM_SGD: return slot == 0 ? "momentum" : NULL;
    case NB_OPTIM_ADAMW: return slot == 0 ? "m" : slot == 1 ? "v" : NULL;
    case NB_OPTIM_ADAM: return slot == 0 ? "m" : slot == 1 ? "v" : o->amsgrad ? "max_v" : NULL;
    case NB_OPTIM_RMSPROP:
        return slot == 0   ? (o->momentum > 0 ? "momentum" : NULL)
               : slot == 1 ? "square_avg"
                           : (o->centered ? "grad_avg" : NULL);
    case NB_OPTIM_ADAGRAD: return slot == 1 ? "sum" : NULL;
    }
    return NULL;
}

static void group_free(nb_param_group *g) {
    if (g->names)
        for (int i = 0; i < g->n; i++)
            free(g->names[i]);
    free(g->names);
    free(g->params);
    free(g->m);
    free(g->v);
    free(g->s);
}

static void clip_scratch_free(struct nb_clip_scratch *s);

void nb_optim_free(nb_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->n_groups; i++)
        group_free(&o->groups[i]);
    free(o->groups);
    clip_scratch_free(o->scratch);
    nb_ctx_free(o->tmp);
    free(o);
}

static bool has_param(const nb_optim *o, const nb_tensor *t) {
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n; i++)
            if (o->groups[g].params[i] == t) return true;
    return false;
}

static nb_tensor *zeros_like(nb_ctx *ctx, const nb_tensor *p) {
    nb_tensor *t = nb_tensor_new(ctx, NB_F32, p->device, p->ndim, p->shape);
    return t && nb_fill_(t, 0.0) == 0 ? t : NULL;
}

int nb_optim_add_group(nb_optim *o, int n, const char *const *names, nb_tensor *const *params,
                       float weight_decay, float lr_scale) {
    if (!o) return nb_set_error("optim_add_group: NULL optimiser"), -1;
    if (n < 0 || (n > 0 && !params)) return nb_set_error("optim_add_group: no parameters"), -1;
    if (!(weight_decay >= 0) || !(lr_scale >= 0))
        return nb_set_error("optim_add_group: invalid weight_decay %g or lr_scale %g", (double)weight_decay,
                            (double)lr_scale),
               -1;
    for (int i = 0; i < n; i++) {
        const char *nm = names && names[i] ? names[i] : "?";
        if (!params[i]) return nb_set_error("optim_add_group: parameter %d ('%s') is NULL", i, nm), -1;
        if (params[i]->dtype != NB_F32)
            return nb_set_error("optim_add_group: parameter '%s' is not f32", nm), -1;
        if (has_param(o, params[i]))
            return nb_set_error("optim_add_group: parameter '%s' is already in a group", nm), -1;
        for (int j = 0; j < i; j++)
            if (params[j] == params[i])
                return nb_set_error("optim_add_group: parameter '%s' given twice", nm), -1;
    }
    nb_param_group *gs = realloc(o->groups, sizeof *gs * (size_t)(o->n_groups + 1));
    if (!gs) return nb_set_error("optim_add_group: out of memory"), -1;
    o->groups = gs;
    nb_param_group *g = &gs[o->n_groups];
    memset(g, 0, sizeof *g);
    size_t cnt = (size_t)(n ? n : 1);
    g->names = calloc(cnt, sizeof *g->names);
    g->params = calloc(cnt, sizeof *g->params);
    g->m = calloc(cnt, sizeof *g->m);
    g->v = calloc(cnt, sizeof *g->v);
    g->s = calloc(cnt, sizeof *g->s);
    g->weight_decay = weight_decay;
    g->lr_scale = lr_scale;
    if (!g->names || !g->params || !g->m || !g->v || !g->s) {
        group_free(g);
        return nb_set_error("optim_add_group: out of memory"), -1;
    }
    for (int i = 0; i < n; i++, g->n++) {
        char buf[48];
        const char *nm = names && names[i] ? names[i] : buf;
        if (nm == buf) snprintf(buf, sizeof buf, "group%d.%d", o->n_groups, i);
        size_t len = strlen(nm) + 1;
        g->names[i] = malloc(len);
        g->params[i] = params[i];
        nb_tensor **slots[3] = {g->m, g->v, g->s};
        bool bad = false;
        for (int k = 0; k < 3; k++)
            if (nb_optim_slot_name(o, k)) {
                slots[k][i] = zeros_like(o->ctx, params[i]);
                bad |= !slots[k][i];
            }
        if (!bad && o->kind == NB_OPTIM_ADAGRAD && o->initial_accumulator != 0.0f)
            bad = nb_fill_(g->v[i], o->initial_accumulator) != 0;
        if (!g->names[i] || bad) {
            if (!g->names[i]) nb_set_error("optim_add_group: out of memory");
            g->n += g->names[i] != NULL;
            group_free(g);
            return -1;
        }
        memcpy(g->names[i], nm, len);
    }
    return o->n_groups++;
}

int nb_optim_add_module(nb_optim *o, nb_module *m, float weight_decay) {
    nb_param_list l;
    if (!o) return nb_set_error("optim_add_module: NULL optimiser"), -1;
    if (nb_module_parameters(m, &l)) return -1;
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        int k = 0;
        nb_tensor **ts = malloc(sizeof *ts * (size_t)(l.n ? l.n : 1));
        const char **ns = malloc(sizeof *ns * (size_t)(l.n ? l.n : 1));
        if (!ts || !ns) {
            nb_set_error("optim_add_module: out of memory");
            rc = -1;
        }
        for (int i = 0; i < l.n && rc == 0; i++) {
            nb_tensor *t = l.tensors[i];
            if (!t->requires_grad || (pass == 0) != (t->ndim >= 2)) continue;
            ts[k] = t;
            ns[k++] = l.names[i];
        }
        if (rc == 0 && k > 0 && nb_optim_add_group(o, k, ns, ts, pass == 0 ? weight_decay : 0.0f, 1.0f) < 0)
            rc = -1;
        free(ts);
        free(ns);
    }
    nb_param_list_free(&l);
    return rc;
}

/* One SGD step on p as torch.optim.SGD does it. */
static int sgd_param(nb_optim *o, nb_tensor *p, nb_tensor *buf, float lr, float wd) {
    const nb_tensor *g = p->grad;
    float mom = o->momentum;
    if (mom == 0.0f) { /* p = p - lr (g + wd p) */
        if (wd != 0.0f && nb_scale_(p, 1.0f - lr * wd)) return -1;
        return nb_axpy_(p, -lr, g);
    }
    /* buf = mom buf + (1 - damp)(g + wd p); the first step sets buf = g + wd p */
    float a = o->step == 1 ? 1.0f : 1.0f - o->dampening;
    if (o->step == 1 ? nb_fill_(buf, 0.0) : nb_scale_(buf, mom)) return -1;
    if (nb_axpy_(buf, a, g) || (wd != 0.0f && nb_axpy_(buf, a * wd, p))) return -1;
    if (o->nesterov) { /* p -= lr (g + wd p + mom buf) */
        if (wd != 0.0f && nb_scale_(p, 1.0f - lr * wd)) return -1;
        return nb_axpy_(p, -lr, g) || nb_axpy_(p, -lr * mom, buf) ? -1 : 0;
    }
    return nb_axpy_(p, -lr, buf);
}

int nb_optim_step(nb_optim *o) {
    if (!o) return nb_set_error("optim_step: NULL optimiser"), -1;
    o->step++;
    bool prev = nb_no_grad_begin();
    int rc = 0;
    for (int gi = 0; gi < o->n_groups && rc == 0; gi++) {
        nb_param_group *g = &o->groups[gi];
        float lr = o->lr * g->lr_scale;
        for (int i = 0; i < g->n && rc == 0; i++) {
            nb_tensor *p = g->params[i];
            if (!p->requires_grad || !p->grad) continue;
            if (o->kind == NB_OPTIM_ADAMW)
                rc = nb_adamw_update_(p, p->grad, g->m[i], g->v[i], lr, o->beta1, o->beta2, o->eps,
                                      g->weight_decay, o->step);
            else if (o->kind == NB_OPTIM_SGD)
                rc = sgd_param(o, p, g->m[i], lr, g->weight_decay);
            else
                rc = nb_optim_rule_step(o, g, i, lr);
            if (rc) {
                char pre[300];
                snprintf(pre, sizeof pre, "optim_step %lld: parameter '%s'", (long long)o->step, g->names[i]);
                nb_nn_wrap_error(pre);
            }
        }
    }
    nb_no_grad_end(prev);
    if (rc) o->step--;
    return rc;
}

void nb_optim_zero_grad(nb_optim *o) {
    if (!o) return;
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n; i++)
            nb_zero_grad(o->groups[g].params[i]);
}

void nb_optim_set_lr(nb_optim *o, float lr) {
    if (o) o->lr = lr;
}

int nb_optim_to(nb_optim *o, nb_device dev) {
    if (!o) return nb_set_error("optim_to: NULL optimiser"), -1;
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n; i++) {
            nb_tensor *st[3] = {o->groups[g].m[i], o->groups[g].v[i], o->groups[g].s[i]};
            for (int k = 0; k < 3; k++)
                if (st[k] && nb_nn_move_tensor(st[k], dev)) {
                    nb_nn_wrap_error("optim_to");
                    return -1;
                }
        }
    return 0;
}

size_t nb_optim_state_bytes(const nb_optim *o) {
    size_t b = 0;
    if (!o) return 0;
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n; i++)
            for (int k = 0; k < 3; k++)
                if (nb_optim_slot_name(o, k)) b += (size_t)nb_numel(o->groups[g].params[i]) * sizeof(float);
    return b;
}

/* ---- clipping ---------------------------------------------------------------- */

/* Sum of squares of n floats in double, 8 independent lanes (vectorised per ISA on x86-64). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define SUMSQ_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SUMSQ_CLONES
#endif
SUMSQ_CLONES static double sumsq_block(const float *p, int64_t n) {
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += (double)p[i + j] * (double)p[i + j];
    for (; i < n; i++)
        acc[0] += (double)p[i] * (double)p[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* Sum of squares of a gradient in double. Contiguous CPU data: fixed blocks of 64 Ki elements
 * summed in parallel and their partial sums added in block order, so the result does not depend
 * on the thread count. Otherwise nb_sumsq in a scratch context. NAN on error. */
static double grad_sumsq(const nb_tensor *g) {
    if (g->device == NB_CPU && nb_is_contiguous(g)) {
        enum { BLOCK = 1 << 16, GROUP = 256 };
        const float *p = nb_data_f32(g);
        int64_t n = nb_numel(g), nblocks = (n + BLOCK - 1) / BLOCK;
        double s = 0;
        for (int64_t g0 = 0; g0 < nblocks; g0 += GROUP) {
            double part[GROUP];
            int64_t nb = nblocks - g0 < GROUP ? nblocks - g0 : GROUP;
#pragma omp parallel for schedule(static) if (nb > 1 && n > 4 * BLOCK)
            for (int64_t b = 0; b < nb; b++) {
                int64_t lo = (g0 + b) * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
                part[b] = sumsq_block(p + lo, hi - lo);
            }
            for (int64_t b = 0; b < nb; b++)
                s += part[b];
        }
        return s;
    }
    nb_ctx *scratch = nb_ctx_new(1 << 16);
    if (!scratch) return NAN;
    nb_ctx *prev = nb_ctx_use(scratch);
    double s = nb_sumsq(g);
    nb_ctx_use(prev);
    nb_ctx_free(scratch);
    return s;
}

/* Where the squares of the gradients are added up: CPU gradients in double into total; those
 * on a device into dev, a 0-d tensor on that device (in acc_ctx), so that a GPU is waited for
 * once per clip, not once per parameter. Each parameter's temporaries go in tmp_ctx, reset
 * after it: they take the memory of one gradient at most, not of all. */
struct nb_clip_scratch {
    nb_ctx *acc_ctx, *tmp_ctx;
};

typedef struct {
    double total;
    struct nb_clip_scratch *scratch; /* given (an optimiser's), or made on first use */
    bool own_scratch;
    nb_tensor *dev;
} sumsq_acc;

static void clip_scratch_free(struct nb_clip_scratch *s) {
    if (!s) return;
    nb_ctx_free(s->acc_ctx);
    nb_ctx_free(s->tmp_ctx);
    free(s);
}

/* Adds the squared gradients of n parameters to the accumulator; 0, or -1 on error. */
static int grads_sumsq(nb_tensor *const *params, int n, sumsq_acc *a) {
    for (int i = 0; i < n; i++) {
        if (!params[i]) return nb_set_error("clip_grad_norm: parameter %d is NULL", i), -1;
        nb_tensor *g = params[i]->grad;
        if (!g) continue;
        if (g->dtype != NB_F32) return nb_set_error("clip_grad_norm: gradient %d is not f32", i), -1;
        if (g->device == NB_CPU || (a->dev && a->dev->device != g->device)) {
            double s = grad_sumsq(g);
            if (isnan(s) && nb_last_error()[0]) return -1;
            a->total += s;
            continue;
        }
        if (!a->scratch) {
            struct nb_clip_scratch *cs = calloc(1, sizeof *cs);
            if (!cs || !(cs->acc_ctx = nb_ctx_new(1 << 12)) || !(cs->tmp_ctx = nb_ctx_new(0))) {
                clip_scratch_free(cs);
                return nb_set_error("clip_grad_norm: out of memory"), -1;
            }
            a->scratch = cs;
            a->own_scratch = true;
        }
        if (!a->dev && !(a->dev = nb_zeros_on(a->scratch->acc_ctx, NB_F32, g->device, 0, NULL))) return -1;
        nb_ctx *prev = nb_ctx_use(a->scratch->tmp_ctx);
        bool ng = nb_no_grad_begin();
        nb_tensor *s = nb_sum_all(nb_mul(g, g));
        int rc = s ? nb_axpy_(a->dev, 1.0f, s) : -1;
        nb_no_grad_end(ng);
        nb_ctx_use(prev);
        nb_ctx_reset(a->scratch->tmp_ctx);
        if (rc) return -1;
    }
    return 0;
}

/* The sum of squares so far (the device part read once); NAN with an error on failure. The
 * scratch context is reset (or freed when it was made here). */
static double sumsq_total(sumsq_acc *a) {
    double t = a->total;
    if (a->dev) {
        double d = nb_item(a->dev);
        t = isnan(d) && nb_last_error()[0] ? NAN : t + d;
    }
    if (a->own_scratch)
        clip_scratch_free(a->scratch);
    else if (a->scratch)
        nb_ctx_reset(a->scratch->acc_ctx);
    a->scratch = NULL;
    a->dev = NULL;
    return t;
}

/* Scales the gradients of n parameters by coef; 0 or -1. */
static int grads_scale(nb_tensor *const *params, int n, double coef) {
    for (int i = 0; i < n; i++)
        if (params[i]->grad && nb_scale_(params[i]->grad, (float)coef)) return -1;
    return 0;
}

double nb_clip_grad_norm(nb_tensor *const *params, int n, double max_norm) {
    if (n < 0 || (n > 0 && !params)) return nb_set_error("clip_grad_norm: no parameters"), -1.0;
    if (!(max_norm >= 0))
        return nb_set_error("clip_grad_norm: max_norm must be >= 0, got %g", max_norm), -1.0;
    sumsq_acc acc = {0};
    nb_clear_error(); /* a NaN sum with an error set is a failure; with none, NaN gradients */
    int rc = grads_sumsq(params, n, &acc);
    double total = sumsq_total(&acc);
    if (rc || (isnan(total) && nb_last_error()[0])) return -1.0;
    double norm = sqrt(total), coef = max_norm / (norm + 1e-6);
    if (isfinite(norm) && coef < 1.0 && grads_scale(params, n, coef)) return -1.0;
    return norm;
}

int nb_clip_grad_value(nb_tensor *const *params, int n, double clip_value) {
    if (n < 0 || (n > 0 && !params)) return nb_set_error("clip_grad_value: no parameters"), -1;
    if (!(clip_value >= 0) || !isfinite(clip_value))
        return nb_set_error("clip_grad_value: clip_value must be finite and >= 0, got %g", clip_value), -1;
    for (int i = 0; i < n; i++)
        if (params[i] && params[i]->grad && nb_clamp_(params[i]->grad, (float)-clip_value, (float)clip_value))
            return -1;
    return 0;
}

int nb_optim_clip_grad_value(nb_optim *o, double clip_value) {
    if (!o) return nb_set_error("clip_grad_value: NULL optimiser"), -1;
    for (int g = 0; g < o->n_groups; g++)
        if (nb_clip_grad_value(o->groups[g].params, o->groups[g].n, clip_value)) return -1;
    return 0;
}

/* The same, group by group (no array of every parameter is built, so a step allocates nothing). */
double nb_optim_clip_grad_norm(nb_optim *o, double max_norm) {
    if (!o) return nb_set_error("clip_grad_norm: NULL optimiser"), -1.0;
    if (!(max_norm >= 0))
        return nb_set_error("clip_grad_norm: max_norm must be >= 0, got %g", max_norm), -1.0;
    sumsq_acc acc = {.scratch = o->scratch};
    nb_clear_error();
    int rc = 0;
    for (int g = 0; g < o->n_groups && !rc; g++)
        rc = grads_sumsq(o->groups[g].params, o->groups[g].n, &acc);
    if (acc.own_scratch) { /* the optimiser keeps it: reset, not freed, so later steps allocate nothing */
        o->scratch = acc.scratch;
        acc.own_scratch = false;
    }
    double total = sumsq_total(&acc);
    if (rc || (isnan(total) && nb_last_error()[0])) return -1.0;
    double norm = sqrt(total), coef = max_norm / (norm + 1e-6);
    for (int g = 0; g < o->n_groups && isfinite(norm) && coef < 1.0; g++)
        if (grads_scale(o->groups[g].params, o->groups[g].n, coef)) return -1.0;
    return norm;
}
