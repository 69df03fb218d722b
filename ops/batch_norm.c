/* ops/batch_norm.c - batch normalization (torch.nn.functional.batch_norm), composed: the
 * statistics are nb_mean over every dim but the channels (dim 1), so the gradient, through the
 * composition, is the exact batch-norm gradient (the batch mean and variance depend on x);
 * the running statistics are updated in place outside autograd. */
#include "ops/op_util.h"

/* v [C] viewed as [1, C, 1, ...] for an nd-dim input */
static nb_tensor *per_channel(nb_tensor *v, int nd) {
    int64_t s[NB_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        s[i] = i == 1 ? v->shape[0] : 1;
    return nb_reshape(v, nd, s);
}

static int check_stat(const char *what, const nb_tensor *t, const nb_tensor *x) {
    if (!t) return 0;
    char a[64], b[64];
    if (nb_check_dtype("batch_norm", t, NB_F32, what) || nb_same_device("batch_norm", x, t)) return -1;
    if (t->ndim != 1 || t->shape[0] != x->shape[1])
        return nb_set_error("batch_norm: %s %s does not match the %lld channels of input %s", what,
                            NB_SHP(t, a), (long long)x->shape[1], NB_SHP(x, b)),
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
    if (check_stat("running_mean", running_mean, x) || check_stat("running_var", running_var, x) ||
        check_stat("weight", weight, x) || check_stat("bias", bias, x))
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
    if (!y) {
        static const char *inner[] = {"mean", "sub", "mul", "rsqrt", "add_scalar", "add", "reshape"};
        for (size_t i = 0; i < sizeof inner / sizeof *inner; i++)
            nb_rename_error(inner[i], "batch_norm");
    }
    return y;
}
