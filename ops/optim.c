/* ops/optim.c - in-place updates used by optimisers (no autograd). */
#include <math.h>

#include "ops/op_util.h"

static int same_f32(const char *op, const nb_tensor *a, const nb_tensor *b, const char *what) {
    if (!a || !b) return nb_set_error("%s: NULL %s", op, what), -1;
    if (nb_check_dtype(op, b, NB_F32, what) || nb_same_device(op, a, b)) return -1;
    if (!nb_same_shape(a, b)) {
        char x[96], y[96];
        return nb_set_error("%s: %s %s does not match parameter %s", op, what, NB_SHP(b, y), NB_SHP(a, x)), -1;
    }
    if (!nb_is_contiguous(b)) return nb_set_error("%s: %s must be contiguous", op, what), -1;
    return 0;
}

int nb_adamw_update_(nb_tensor *param, const nb_tensor *grad, nb_tensor *m, nb_tensor *v, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int64_t step) {
    const char *op = "adamw";
    if (!param) return nb_set_error("adamw: NULL parameter"), -1;
    if (nb_check_dtype(op, param, NB_F32, "parameter")) return -1;
    if (!nb_is_contiguous(param)) return nb_set_error("adamw: parameter must be contiguous"), -1;
    if (same_f32(op, param, grad, "gradient") || same_f32(op, param, m, "first moment") ||
        same_f32(op, param, v, "second moment"))
        return -1;
    if (step < 1) return nb_set_error("adamw: step must be >= 1, got %lld", (long long)step), -1;
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0 && lr >= 0))
        return nb_set_error("adamw: invalid hyper-parameters lr=%g beta1=%g beta2=%g eps=%g", (double)lr,
                            (double)beta1, (double)beta2, (double)eps), -1;
    float bc1 = 1.0f - powf(beta1, (float)step), bc2 = 1.0f - powf(beta2, (float)step);
    const nb_backend *be = nb_be(param);
    if (!be) return -1;
    if (!be->adamw) return nb_unsupported(op, be), -1;
    nb_mark_written(param), nb_mark_written(m), nb_mark_written(v);
    return be->adamw(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, bc1, bc2);
}

int nb_axpy_(nb_tensor *y, float alpha, const nb_tensor *x) {
    if (nb_check_writable("axpy_", y)) return -1;
    if (!x) return nb_set_error("axpy_: NULL x"), -1;
    if (nb_check_dtype("axpy", y, NB_F32, "y") || nb_check_dtype("axpy", x, NB_F32, "x") ||
        nb_same_device("axpy", y, x))
        return -1;
    nb_tensor e;
    if (nb_expand_desc(x, y->ndim, y->shape, &e)) {
        char a[96], b[96];
        return nb_set_error("axpy: x %s does not broadcast to y %s", NB_SHP(x, a), NB_SHP(y, b)), -1;
    }
    const nb_backend *be = nb_be(y);
    if (!be) return -1;
    nb_mark_written(y);
    nb_ctx *tmp;
    const nb_tensor *u = nb_unaliased(y, &e, &tmp); /* x a shifted or transposed view of y */
    int rc = u ? be->axpy(y, alpha, u) : -1;
    nb_ctx_free(tmp);
    return rc;
}

int nb_scale_(nb_tensor *t, float s) {
    if (nb_check_writable("scale_", t)) return -1;
    if (nb_check_dtype("scale", t, NB_F32, "tensor")) return -1;
    const nb_backend *be = nb_be(t);
    if (!be) return -1;
    nb_mark_written(t);
    return be->unary(NB_UN_MUL_S, t, t, s, 0);
}

int nb_clamp_(nb_tensor *t, float lo, float hi) {
    if (nb_check_writable("clamp_", t)) return -1;
    if (nb_check_dtype("clamp_", t, NB_F32, "tensor")) return -1;
    if (!(lo <= hi)) return nb_set_error("clamp_: min %g above max %g (or NaN)", (double)lo, (double)hi), -1;
    const nb_backend *be = nb_be(t);
    if (!be) return -1;
    nb_mark_written(t);
    return be->unary(NB_UN_CLAMP, t, t, lo, hi);
}

double nb_sumsq(const nb_tensor *t) {
    if (!t) return NAN;
    if (nb_check_dtype("sumsq", t, NB_F32, "tensor")) return NAN;
    bool g = nb_no_grad_begin();
    nb_tensor *x = (nb_tensor *)t;
    double r = nb_item(nb_sum_all(nb_mul(x, x)));
    nb_no_grad_end(g);
    return r;
}
