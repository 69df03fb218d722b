/* ops/matfunc.c - functions of matrices composed of matmul and solve: nb_matrix_exp (scaling and
 * squaring with the degree-13 Pade approximant) and nb_multi_dot (a chain of matmuls in the
 * cheapest order). Composed of differentiable ops, so autograd differentiates them as they are
 * computed, on every backend. */
#include <math.h>
#include <stdlib.h>

#include "ops/linalg.h"

/* Higham's degree-13 Pade coefficients for e^x ("The scaling and squaring method for the matrix
 * exponential revisited", 2005) and the 1-norm up to which they need no scaling */
static const double pade13[14] = {64764752532480000.0,
                                  32382376266240000.0,
                                  7771770303897600.0,
                                  1187353796428800.0,
                                  129060195264000.0,
                                  10559470521600.0,
                                  670442572800.0,
                                  33522128640.0,
                                  1323241920.0,
                                  40840800.0,
                                  960960.0,
                                  16380.0,
                                  182.0,
                                  1.0};
#define THETA13 5.371920351148152

/* sum of c_i x_i over the non-NULL terms */
static nb_tensor *lincomb(int n, nb_tensor *const *x, const double *c) {
    nb_tensor *acc = NULL;
    for (int i = 0; i < n; i++) {
        nb_tensor *t = nb_mul_scalar(x[i], (float)c[i]);
        acc = acc ? nb_add(acc, t) : t;
        if (!acc) return NULL;
    }
    return acc;
}

nb_tensor *nb_matrix_exp(nb_tensor *a) {
    const char *op = "matrix_exp";
    NB_NULL_GUARD_NAMED(op, a);
    if (nb_la_check_square(op, a, "A")) return NULL;
    const int64_t n = a->shape[a->ndim - 1];
    if (nb_numel(a) == 0) return nb_as_op(nb_mul_scalar(a, 1.0f), op);
    /* s squarings: the largest 1-norm of the batch brought under theta_13 (read on the host) */
    const bool prev = nb_no_grad_begin();
    nb_tensor *norm = nb_max(nb_matrix_norm(a, "1"), 0, NULL, false);
    nb_tensor *hn = norm ? nb_host_copy(norm) : NULL;
    nb_no_grad_end(prev);
    if (!hn) return nb_as_op(NULL, op);
    const double nrm = ((const float *)hn->storage->data)[hn->offset];
    int s = 0;
    if (nrm > THETA13 && isfinite(nrm)) s = (int)ceil(log2(nrm / THETA13));
    if (s > 200) s = 200; /* beyond, every entry has overflowed long before */
    nb_tensor *x = s ? nb_mul_scalar(a, (float)ldexp(1.0, -s)) : a;
    nb_tensor *eye = nb_eye_like(a, n);
    nb_tensor *x2 = eye ? nb_matmul(x, x) : NULL, *x4 = x2 ? nb_matmul(x2, x2) : NULL;
    nb_tensor *x6 = x4 ? nb_matmul(x4, x2) : NULL;
    if (!x6) return nb_as_op(NULL, op);
    const double *b = pade13;
    /* U = X [X6 (b13 X6 + b11 X4 + b9 X2) + b7 X6 + b5 X4 + b3 X2 + b1 I] */
    nb_tensor *uh =
        nb_matmul(x6, lincomb(3, (nb_tensor *[]){x6, x4, x2}, (const double[]){b[13], b[11], b[9]}));
    nb_tensor *ut = lincomb(4, (nb_tensor *[]){x6, x4, x2, eye}, (const double[]){b[7], b[5], b[3], b[1]});
    nb_tensor *u = uh && ut ? nb_matmul(x, nb_add(uh, ut)) : NULL;
    /* V = X6 (b12 X6 + b10 X4 + b8 X2) + b6 X6 + b4 X4 + b2 X2 + b0 I */
    nb_tensor *vh =
        u ? nb_matmul(x6, lincomb(3, (nb_tensor *[]){x6, x4, x2}, (const double[]){b[12], b[10], b[8]}))
          : NULL;
    nb_tensor *vt =
        vh ? lincomb(4, (nb_tensor *[]){x6, x4, x2, eye}, (const double[]){b[6], b[4], b[2], b[0]}) : NULL;
    nb_tensor *v = vt ? nb_add(vh, vt) : NULL;
    /* r = (V - U)^-1 (V + U), squared s times */
    nb_tensor *r = v ? nb_solve(nb_sub(v, u), nb_add(v, u), true) : NULL;
    for (int i = 0; r && i < s; i++)
        r = nb_matmul(r, r);
    if (!r) nb_rename_error("solve", op);
    return nb_as_op(r, op);
}

nb_tensor *nb_multi_dot(nb_tensor *const *ts, int n) {
    const char *op = "multi_dot";
    if (!ts || n < 1) return nb_set_error("%s: no matrices (n = %d)", op, n);
    for (int i = 0; i < n; i++) {
        if (!ts[i]) {
            if (!nb_last_error()[0]) nb_set_error("%s: NULL input %d", op, i);
            return NULL;
        }
        char s[96];
        const bool end = i == 0 || i == n - 1;
        if (ts[i]->ndim != 2 && !(end && n > 1 && ts[i]->ndim == 1))
            return nb_set_error("%s: matrix %d is %s (2-d, or 1-d at either end)", op, i, NB_SHP(ts[i], s));
    }
    if (n == 1) return nb_as_op(nb_mul_scalar(ts[0], 1.0f), op);
    /* the dims d0 .. dn of the chain (a 1-d first operand is a row, a 1-d last one a column) */
    int64_t *d = malloc(sizeof(int64_t) * (size_t)(n + 1));
    double *cost = malloc(sizeof(double) * (size_t)(n * n));
    int *split = malloc(sizeof(int) * (size_t)(n * n));
    nb_tensor **part = malloc(sizeof(nb_tensor *) * (size_t)(n * n));
    if (!d || !cost || !split || !part) {
        free(d), free(cost), free(split), free(part);
        return nb_set_error("%s: out of memory for a chain of %d", op, n);
    }
    nb_tensor *r = NULL;
    for (int i = 0; i < n; i++) {
        const nb_tensor *t = ts[i];
        d[i] = t->ndim == 1 ? (i == 0 ? 1 : t->shape[0]) : t->shape[0];
        if (i == n - 1) d[n] = t->ndim == 1 ? 1 : t->shape[1];
        if (i > 0) {
            const int64_t prev_cols = ts[i - 1]->ndim == 1 ? ts[i - 1]->shape[0] : ts[i - 1]->shape[1];
            if (prev_cols != d[i]) {
                char s1[96], s2[96];
                nb_set_error("%s: matrix %d %s does not chain with matrix %d %s", op, i - 1,
                             NB_SHP(ts[i - 1], s1), i, NB_SHP(t, s2));
                goto done;
            }
        }
    }
    /* the textbook dynamic programme over the split points, in flops */
    for (int len = 1; len <= n; len++)
        for (int i = 0; i + len - 1 < n; i++) {
            const int j = i + len - 1;
            cost[i * n + j] = 0;
            split[i * n + j] = i;
            for (int k = i; k < j; k++) {
                const double c = cost[i * n + k] + cost[(k + 1) * n + j] +
                                 (double)d[i] * (double)d[k + 1] * (double)d[j + 1];
                if (k == i || c < cost[i * n + j]) cost[i * n + j] = c, split[i * n + j] = k;
            }
        }
    /* products bottom-up: part[i][j] from part[i][k] and part[k+1][j] */
    for (int i = 0; i < n; i++)
        part[i * n + i] = ts[i]->ndim == 1
                              ? nb_reshape(ts[i], 2, i == 0 ? (int64_t[]){1, d[1]} : (int64_t[]){d[i], 1})
                              : ts[i];
    for (int len = 2; len <= n; len++)
        for (int i = 0; i + len - 1 < n; i++) {
            const int j = i + len - 1, k = split[i * n + j];
            part[i * n + j] = nb_matmul(part[i * n + k], part[(k + 1) * n + j]);
        }
    r = part[n - 1];
    /* a 1-d end takes its dim away again, as torch's */
    if (r && ts[n - 1]->ndim == 1) r = nb_squeeze(r, -1);
    if (r && ts[0]->ndim == 1) r = nb_squeeze(r, 0);
    r = nb_as_op(r, op);
done:
    free(d), free(cost), free(split), free(part);
    return r;
}
