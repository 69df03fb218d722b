/* ops/norm.c - batch, group, instance and RMS normalization (torch.nn.functional.batch_norm,
 * group_norm, instance_norm;
 * RMSNorm as LLaMA's and torch 2.4's nn.RMSNorm),
 * composed: the statistics are nb_mean over the normalized dims, so the gradient, through the
 * composition, is the exact one (the mean and variance depend on x); batch norm's running
 * statistics are updated in place outside autograd. (Layer norm, fused, is in ops/nn.c.) */
#include "ops/op_util.h"

/* v [C] viewed as [1, C, 1, ...] for an nd-dim input */
static nb_tensor *per_channel(nb_tensor *v, int nd) {
    int64_t s[NB_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        s[i] = i == 1 ? v->shape[0] : 1;
    return nb_reshape(v, nd, s);
}

static int check_stat(const char *op, const char *what, const nb_tensor *t, const nb_tensor *x) {
    if (!t) return 0;
    char a[64], b[64];
    if (nb_check_dtype(op, t, NB_F32, what) || nb_same_device(op, x, t)) return -1;
    if (t->ndim != 1 || t->shape[0] != x->shape[1])
        return nb_set_error("%s: %s %s does not match the %lld channels of input %s", op, what, NB_SHP(t, a),
                            (long long)x->shape[1], NB_SHP(x, b)),
               -1;
    return 0;
}

nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var, nb_tensor *weight,
                         nb_tensor *bias, bool training, float momentum, float eps) {
    NB_NULL_GUARD_NAMED("batch_norm", x);
    char xs[64];
    if (nb_check_dtype("batch_norm", x, NB_F32, "input")) return NULL;
    if (x->ndim < 2) return nb_set_error("batch_norm: want input [N, C, ...], got %s", NB_SHP(x, xs));
    if (!((running_mean == NULL) == (running_var == NULL)))
        return nb_set_error("batch_norm: give both running statistics or neither");
    if (check_stat("batch_norm", "running_mean", running_mean, x) ||
        check_stat("batch_norm", "running_var", running_var, x) ||
        check_stat("batch_norm", "weight", weight, x) || check_stat("batch_norm", "bias", bias, x))
        return NULL;
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return nb_set_error("batch_norm: eps %g must be >= 0 and momentum %g in [0, 1]", (double)eps,
                            (double)momentum);
    const int64_t C = x->shape[1], n = C ? nb_numel(x) / C : 0;
    int axes[NB_MAX_DIMS], na = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != 1) axes[na++] = d;
    if (!training && !running_mean)
        return nb_set_error("batch_norm: eval mode needs the running statistics (as torch)");
    const bool batch_stats = training;
    if (nb_numel(x) == 0) return nb_mul_scalar(x, 1.0f); /* an empty batch: an empty copy, stats unchanged */
    if (batch_stats && n <= 1)
        return nb_set_error(
            "batch_norm: %lld value(s) per channel in input %s; batch statistics need more than 1",
            (long long)n, NB_SHP(x, xs));
    nb_tensor *mean, *var;
    if (batch_stats) {
        mean = nb_mean(x, na, axes, true);
        nb_tensor *xc = mean ? nb_sub(x, mean) : NULL;
        var = xc ? nb_mean(nb_mul(xc, xc), na, axes, true) : NULL; /* biased, as torch normalizes */
        if (var && training && running_mean) { /* r = (1 - m) r + m s, the variance unbiased */
            bool g = nb_no_grad_begin();
            nb_tensor *m1 = nb_reshape(nb_detach(mean), NB_SHAPE(C));
            nb_tensor *v1 = nb_mul_scalar(nb_reshape(nb_detach(var), NB_SHAPE(C)), (float)n / (float)(n - 1));
            int rc = !m1 || !v1 || nb_scale_(running_mean, 1.0f - momentum) ||
                     nb_axpy_(running_mean, momentum, m1) || nb_scale_(running_var, 1.0f - momentum) ||
                     nb_axpy_(running_var, momentum, v1);
            nb_no_grad_end(g);
            if (rc) return NULL;
        }
    } else {
        mean = per_channel(running_mean, x->ndim);
        var = per_channel(running_var, x->ndim);
    }
    nb_tensor *y = mean && var ? nb_mul(nb_sub(x, mean), nb_rsqrt(nb_add_scalar(var, eps))) : NULL;
    if (y && weight) y = nb_mul(y, per_channel(weight, x->ndim));
    if (y && bias) y = nb_add(y, per_channel(bias, x->ndim));
    return nb_as_op(y, "batch_norm");
}

/* x [N, C, ...] as [N, G, C/G * ...]: mean and biased variance over the last dim per (n, g) */
nb_tensor *nb_group_norm(nb_tensor *x, int64_t groups, nb_tensor *weight, nb_tensor *bias, float eps) {
    NB_NULL_GUARD_NAMED("group_norm", x);
    char xs[64];
    if (nb_check_dtype("group_norm", x, NB_F32, "input")) return NULL;
    if (x->ndim < 2) return nb_set_error("group_norm: want input [N, C, ...], got %s", NB_SHP(x, xs));
    if (groups < 1 || x->shape[1] % groups)
        return nb_set_error("group_norm: %lld groups do not divide the %lld channels of %s",
                            (long long)groups, (long long)x->shape[1], NB_SHP(x, xs));
    if (check_stat("group_norm", "weight", weight, x) || check_stat("group_norm", "bias", bias, x))
        return NULL;
    if (!(eps >= 0.0f)) return nb_set_error("group_norm: eps %g must be >= 0", (double)eps);
    int64_t per = 1; /* the elements of one (sample, group) */
    for (int i = 1; i < x->ndim; i++)
        per *= x->shape[i];
    per /= groups;
    const int64_t N = x->shape[0];
    if (N == 0 || per == 0) return nb_mul_scalar(x, 1.0f); /* nothing to normalize: an empty copy, as torch */
    nb_tensor *v = nb_reshape(x, NB_SHAPE(N, groups, per));
    nb_tensor *mean = v ? nb_mean(v, 1, (const int[]){2}, true) : NULL;
    nb_tensor *xc = mean ? nb_sub(v, mean) : NULL;
    nb_tensor *var = xc ? nb_mean(nb_mul(xc, xc), 1, (const int[]){2}, true) : NULL;
    nb_tensor *y = var ? nb_reshape(nb_mul(xc, nb_rsqrt(nb_add_scalar(var, eps))), x->ndim, x->shape) : NULL;
    if (y && weight) y = nb_mul(y, per_channel(weight, x->ndim));
    if (y && bias) y = nb_add(y, per_channel(bias, x->ndim));
    return nb_as_op(y, "group_norm");
}

nb_tensor *nb_instance_norm(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, float eps) {
    NB_NULL_GUARD_NAMED("instance_norm", x);
    char xs[64];
    if (x->ndim < 3)
        return nb_set_error("instance_norm: want input [N, C, L, ...] (3 to 5 dims), got %s", NB_SHP(x, xs));
    /* each (sample, channel) over its own elements: group norm with a group per channel */
    nb_tensor *y = nb_group_norm(x, x->shape[1] ? x->shape[1] : 1, weight, bias, eps);
    if (!y) nb_rename_error("group_norm", "instance_norm");
    return nb_as_op(y, "instance_norm");
}

nb_tensor *nb_rms_norm(nb_tensor *x, nb_tensor *weight, float eps) {
    NB_NULL_GUARD_NAMED("rms_norm", x);
    char xs[64], ws[64];
    if (nb_check_dtype("rms_norm", x, NB_F32, "input")) return NULL;
    if (x->ndim < 1) return nb_set_error("rms_norm: want an input of at least 1 dim, got %s", NB_SHP(x, xs));
    if (!(eps >= 0.0f)) return nb_set_error("rms_norm: eps %g must be >= 0", (double)eps);
    const int64_t C = x->shape[x->ndim - 1];
    if (weight &&
        (nb_check_dtype("rms_norm", weight, NB_F32, "weight") || nb_same_device("rms_norm", x, weight)))
        return NULL;
    if (weight && (weight->ndim != 1 || weight->shape[0] != C))
        return nb_set_error("rms_norm: weight %s does not match the last dim of input %s", NB_SHP(weight, ws),
                            NB_SHP(x, xs));
    /* x rsqrt(mean(x^2) + eps), then the weight: the composition's gradient is the exact one */
    const int last = -1;
    nb_tensor *ms = nb_mean(nb_mul(x, x), 1, &last, true);
    nb_tensor *y = ms ? nb_mul(x, nb_rsqrt(nb_add_scalar(ms, eps))) : NULL;
    if (y && weight) y = nb_mul(y, weight);
    return nb_as_op(y, "rms_norm");
}
