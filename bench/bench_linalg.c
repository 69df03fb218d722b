/* bench/bench_linalg.c - nabla's linear algebra (ops/linalg.c, ops/decomp.c, ops/svd.c; the CPU
 * kernels of backends/cpu/cpu_linalg.c and cpu_decomp.c) against PyTorch's (LAPACK through
 * OpenBLAS) on the same shapes, on the CPU:
 *   solve_b256    solve of [256, 8, 8] with B [256, 8, 4]  (many small systems)
 *   solve_64      solve of [64, 64] with B [64, 16]
 *   solve_256     solve of [256, 256] with B [256, 16]
 *   inv_128       inverse of [128, 128]
 *   det_b1024     det of [1024, 4, 4]
 *   chol_256      Cholesky of a [256, 256] SPD matrix
 *   eigh_b512     eigvalsh of [512, 6, 6]
 *   eigh_64       eigvalsh of [64, 64]
 *   eigh_v128     eigh of [128, 128], eigenvalues and vectors used
 *   qr_128x64     reduced QR of [128, 64] (Q used)
 *   svd_64x32     svdvals of [64, 32]
 *   pinv_64x32    pinv of [64, 32]
 * For each: forward and forward+backward milliseconds (best of the repetitions after a warm-up;
 * backward of sum(y * r) for a fixed random r), PyTorch's times for the same work from
 * bench/pytorch_linalg.py (run by this program with the same thread count), and the ratio
 * PyTorch / nabla (above 1: nabla is faster).
 * usage: bench_linalg [repetitions (default 5)] [threads (0: nabla's default)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nabla.h>

#include "bench/bench_ref.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef enum { SOLVE, INV, DET, CHOL, EIGH, EIGHV, QR, SVD, PINV } kind;

typedef struct {
    const char *name;
    kind op;
    int nd;
    int64_t shape[3]; /* A's */
    int64_t k;        /* right-hand-side columns (solve) */
} lcase;

static const lcase cases[] = {
    {"solve_b256", SOLVE, 3, {256, 8, 8}, 4}, {"solve_64", SOLVE, 2, {64, 64}, 16},
    {"solve_256", SOLVE, 2, {256, 256}, 16},  {"inv_128", INV, 2, {128, 128}, 0},
    {"det_b1024", DET, 3, {1024, 4, 4}, 0},   {"chol_256", CHOL, 2, {256, 256}, 0},
    {"eigh_b512", EIGH, 3, {512, 6, 6}, 0},   {"eigh_64", EIGH, 2, {64, 64}, 0},
    {"eigh_v128", EIGHV, 2, {128, 128}, 0},   {"qr_128x64", QR, 2, {128, 64}, 0},
    {"svd_64x32", SVD, 2, {64, 32}, 0},       {"pinv_64x32", PINV, 2, {64, 32}, 0},
};
#define NCASES (int)(sizeof cases / sizeof *cases)

/* the op on x (b: the right-hand side) */
static nb_tensor *run(const lcase *c, nb_tensor *x, nb_tensor *b) {
    switch (c->op) {
    case SOLVE: return nb_solve(x, b, true);
    case INV: return nb_inverse(x);
    case DET: return nb_det(x);
    case CHOL: /* SPD: x x^T / n + I, built inside so its gradient flows to x */
    case EIGH:
    case EIGHV: {
        const int64_t n = x->shape[x->ndim - 1];
        nb_tensor *eye = nb_eye(nb_ctx_current(), n, n);
        nb_tensor *s = nb_add(nb_mul_scalar(nb_matmul(x, nb_transpose(x, -1, -2)), 1.0f / (float)n), eye);
        if (c->op == CHOL) return nb_cholesky(s, false);
        if (c->op == EIGH) return nb_eigvalsh(s);
        nb_tensor *v, *w = nb_eigh(s, &v);
        return w ? nb_add(v, nb_unsqueeze(w, -2)) : NULL;
    }
    case QR: return nb_qr(x, false, NULL);
    case SVD: return nb_svdvals(x);
    default: return nb_pinv(x, -1.0);
    }
}

/* best forward and forward+backward times of one case, in ms; -1 on error */
static int time_nabla(const lcase *c, int reps, double *fwd, double *both) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng rng;
    nb_rng_init(&rng, 1);
    const int64_t n = c->shape[c->nd - 1];
    /* well conditioned: randn / sqrt(n) + 2 I for the square systems */
    nb_tensor *x = nb_randn(ctx, c->nd, c->shape, 0, 1.0f / sqrtf((float)n), &rng);
    if (c->op == SOLVE || c->op == INV || c->op == DET) x = nb_add(x, nb_mul_scalar(nb_eye(ctx, n, n), 2.0f));
    x = nb_requires_grad_(nb_contiguous(x), true);
    int64_t bs[3];
    memcpy(bs, c->shape, sizeof bs);
    bs[c->nd - 1] = c->k;
    nb_tensor *b = c->k ? nb_requires_grad_(nb_randn(ctx, c->nd, bs, 0, 1, &rng), true) : NULL;
    nb_ctx *step = nb_ctx_new(0);
    nb_ctx_use(step);
    nb_tensor *y = run(c, x, b);
    nb_tensor *r = y ? nb_randn(ctx, y->ndim, y->shape, 0, 1, &rng) : NULL;
    int rc = y && r ? 0 : -1;
    *fwd = *both = 1e30;
    for (int i = 0; rc == 0 && i < reps + 1; i++) { /* the first round warms up */
        nb_ctx_reset(step);
        double t0 = now();
        bool prev = nb_no_grad_begin();
        y = run(c, x, b);
        nb_no_grad_end(prev);
        double t1 = now();
        nb_ctx_reset(step);
        nb_zero_grad(x);
        if (b) nb_zero_grad(b);
        double t2 = now();
        y = run(c, x, b);
        rc = y ? nb_backward(nb_sum_all(nb_mul(y, r))) : -1;
        double t3 = now();
        if (i > 0 && (t1 - t0) * 1e3 < *fwd) *fwd = (t1 - t0) * 1e3;
        if (i > 0 && (t3 - t2) * 1e3 < *both) *both = (t3 - t2) * 1e3;
    }
    if (rc) fprintf(stderr, "bench_linalg: %s: %s\n", c->name, nb_last_error());
    nb_ctx_use(NULL);
    nb_ctx_free(step);
    nb_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int threads = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1 || threads < 0) {
        fprintf(stderr, "usage: bench_linalg [repetitions >= 1] [threads >= 0]\n");
        return 2;
    }
    if (threads) nb_set_num_threads(threads);
    double nf[NCASES], nb[NCASES], tf[NCASES], tb[NCASES];
    for (int i = 0; i < NCASES; i++)
        if (time_nabla(&cases[i], reps, &nf[i], &nb[i])) return 1;
    const char *names[NCASES];
    for (int i = 0; i < NCASES; i++)
        names[i] = cases[i].name;
    char why[256];
    bench_reference("bench/pytorch_linalg.py", reps, nb_get_num_threads(), names, NCASES, tf, tb, why,
                    sizeof why);
    bench_print("case", names, NCASES, nf, nb, tf, tb, reps, why);
    return 0;
}
