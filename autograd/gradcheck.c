/* autograd/gradcheck.c - analytic gradients against central finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* sum(out * r) in double, where r is a fixed random projection (NULL: plain sum). */
static int project(const nb_tensor *out, const float *r, double *val) {
    int64_t n = nb_numel(out);
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf) return nb_set_error("gradcheck: out of memory"), -1;
    if (nb_to_array(out, NB_F32, buf)) {
        free(buf);
        return -1;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)buf[i] * (r ? (double)r[i] : 1.0);
    free(buf);
    *val = s;
    return 0;
}

/* Pointer to the j-th element (row-major order) of a CPU f32 tensor. */
static float *elem_ptr(nb_tensor *t, int64_t j) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (j % t->shape[d]) * t->stride[d];
        j /= t->shape[d];
    }
    return (float *)t->storage->data + off;
}

int nb_gradcheck(nb_grad_fn fn, nb_tensor **inputs, int n, void *user, const nb_gradcheck_opts *opts) {
    nb_gradcheck_opts o = {1e-3, 1e-3, 1e-2, 1234, false};
    if (opts) {
        o = *opts;
        if (!isfinite(o.eps) || !isfinite(o.atol) || !isfinite(o.rtol)) /* NaN would make every test pass */
            return nb_set_error("gradcheck: eps, atol and rtol must be finite (got %g, %g, %g)", o.eps,
                                o.atol, o.rtol),
                   -1;
        if (o.eps <= 0) o.eps = 1e-3;
        if (o.atol <= 0) o.atol = 1e-3;
        if (o.rtol <= 0) o.rtol = 1e-2;
    }
    if (!fn || !inputs || n <= 0) return nb_set_error("gradcheck: no function or inputs"), -1;
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) return nb_set_error("gradcheck: input %d is NULL", i), -1;
        if (inputs[i]->requires_grad && (inputs[i]->device != NB_CPU || inputs[i]->node))
            return nb_set_error("gradcheck: input %d must be a CPU leaf tensor", i), -1;
    }
    nb_ctx *eval = nb_ctx_new(0);
    if (!eval) return -1;
    nb_ctx *prev = nb_ctx_use(eval);
    bool prev_grad = nb_set_grad_enabled(true);
    int result = -1;
    float *r = NULL, **analytic = calloc((size_t)n, sizeof(float *));
    if (!analytic) goto done;

    /* analytic gradients */
    nb_tensor *out = fn(inputs, n, user);
    if (!out) {
        if (!nb_last_error()[0]) nb_set_error("gradcheck: the function returned NULL");
        goto done;
    }
    if (out->dtype != NB_F32) {
        nb_set_error("gradcheck: the function must return an f32 tensor");
        goto done;
    }
    int64_t nout = nb_numel(out);
    nb_tensor *loss = out;
    if (nout != 1) {
        nb_rng g;
        nb_rng_init(&g, o.seed);
        nb_tensor *rt = nb_randn(eval, out->ndim, out->shape, 0.0f, 1.0f, &g);
        if (!rt) goto done;
        r = malloc((size_t)nout * sizeof(float));
        if (!r || nb_to_array(rt, NB_F32, r)) goto done;
        loss = nb_sum_all(nb_mul(out, rt));
    }
    for (int i = 0; i < n; i++) nb_zero_grad(inputs[i]);
    if (!loss) goto done;
    if (!loss->requires_grad) {
        nb_set_error("gradcheck: the output does not depend on any input that requires grad");
        goto done;
    }
    if (nb_backward(loss)) goto done;
    for (int i = 0; i < n; i++) {
        if (!inputs[i]->requires_grad) continue;
        int64_t m = nb_numel(inputs[i]);
        analytic[i] = malloc((size_t)(m ? m : 1) * sizeof(float));
        if (!analytic[i]) goto done;
        if (inputs[i]->grad) {
            if (nb_to_array(inputs[i]->grad, NB_F32, analytic[i])) goto done;
        } else {
            memset(analytic[i], 0, (size_t)m * sizeof(float));
        }
    }

    /* numeric gradients, one element at a time */
    nb_set_grad_enabled(false);
    result = 1;
    for (int i = 0; i < n && result == 1; i++) {
        if (!inputs[i]->requires_grad) continue;
        int64_t m = nb_numel(inputs[i]);
        for (int64_t j = 0; j < m; j++) {
            float *p = elem_ptr(inputs[i], j), x0 = *p;
            double fp, fm;
            *p = (float)(x0 + o.eps);
            nb_ctx_reset(eval);
            nb_tensor *yp = fn(inputs, n, user);
            int bad = !yp || project(yp, r, &fp);
            *p = (float)(x0 - o.eps);
            nb_ctx_reset(eval);
            nb_tensor *ym = bad ? NULL : fn(inputs, n, user);
            bad = bad || !ym || project(ym, r, &fm);
            *p = x0;
            if (bad) {
                if (!nb_last_error()[0]) nb_set_error("gradcheck: the function failed at a perturbed input");
                result = -1;
                break;
            }
            double num = (fp - fm) / (2 * o.eps), ana = analytic[i][j];
            if (fabs(num - ana) > o.atol + o.rtol * fabs(num) || isnan(ana)) {
                nb_set_error("gradcheck: input %d element %lld: analytic %.6g vs numeric %.6g", i,
                             (long long)j, ana, num);
                if (o.verbose) fprintf(stderr, "%s\n", nb_last_error());
                result = 0;
                break;
            }
        }
    }
done:
    nb_set_grad_enabled(prev_grad);
    nb_ctx_use(prev);
    nb_ctx_free(eval);
    if (analytic)
        for (int i = 0; i < n; i++) free(analytic[i]);
    free(analytic);
    free(r);
    return result;
}
