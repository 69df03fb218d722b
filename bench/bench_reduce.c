/* bench/bench_reduce.c - nabla's reductions (backends/cpu/cpu_reduce.c) against PyTorch's on the
 * same shapes, on the CPU:
 *   sum_all   sum of x [4194304]                  (a loss)
 *   cols2     sum over dim 0 of x [1048576, 2]    (a two-class head's bias gradient)
 *   cols8     sum over dim 0 of x [262144, 8]
 *   bias384   sum over dim 0 of x [6144, 384]     (Baby GPT's bias gradient, batch 32 x 192)
 *   rows1024  sum over dim 1 of x [4096, 1024]    (row sums)
 *   mid       sum over dim 1 of x [64, 512, 64]   (a strided middle dim)
 *   bn_mean   mean over dims 0, 2 of [32, 64, 1024] (batch norm's statistics)
 *   max_cols4 max over dim 0 of x [1048576, 4]
 *   max_rows  max over dim 1 of x [4096, 1024]
 * For each: forward and forward+backward milliseconds (best of the repetitions after a warm-up;
 * backward of sum(y * r) for a fixed random r), PyTorch's times for the same work from
 * bench/pytorch_reduce.py (run by this program with the same thread count), and the ratio
 * PyTorch / nabla (above 1: nabla is faster).
 * usage: bench_reduce [repetitions (default 5)] [threads (0: nabla's default)] */
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

typedef enum { SUM, MEAN, MAX } red;

typedef struct {
    const char *name;
    int nd;
    int64_t shape[3];
    red op;
    int naxes, axes[2]; /* naxes 0: all */
} reduction;

static const reduction cases[] = {
    {"sum_all", 1, {4194304}, SUM, 0, {0}},          {"cols2", 2, {1048576, 2}, SUM, 1, {0}},
    {"cols8", 2, {262144, 8}, SUM, 1, {0}},          {"bias384", 2, {6144, 384}, SUM, 1, {0}},
    {"rows1024", 2, {4096, 1024}, SUM, 1, {1}},      {"mid", 3, {64, 512, 64}, SUM, 1, {1}},
    {"bn_mean", 3, {32, 64, 1024}, MEAN, 2, {0, 2}}, {"max_cols4", 2, {1048576, 4}, MAX, 1, {0}},
    {"max_rows", 2, {4096, 1024}, MAX, 1, {1}},
};
#define NCASES (int)(sizeof cases / sizeof *cases)

static nb_tensor *run(const reduction *c, nb_tensor *x) {
    if (c->op == MAX) return nb_max(x, c->naxes, c->axes, false);
    if (c->op == MEAN) return nb_mean(x, c->naxes, c->axes, false);
    return nb_sum(x, c->naxes, c->axes, false);
}

/* best forward and forward+backward times of one case, in ms; -1 on error */
static int time_nabla(const reduction *c, int reps, double *fwd, double *both) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng rng;
    nb_rng_init(&rng, 1);
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, c->nd, c->shape, 0, 1, &rng), true);
    nb_ctx *step = nb_ctx_new(0);
    nb_ctx_use(step);
    nb_tensor *y = run(c, x);
    nb_tensor *r = y ? nb_randn(ctx, y->ndim, y->shape, 0, 1, &rng) : NULL;
    int rc = y && r ? 0 : -1;
    *fwd = *both = 1e30;
    for (int i = 0; rc == 0 && i < reps + 1; i++) { /* the first round warms up */
        nb_ctx_reset(step);
        double t0 = now();
        bool prev = nb_no_grad_begin();
        y = run(c, x);
        nb_no_grad_end(prev);
        double t1 = now();
        nb_ctx_reset(step);
        nb_zero_grad(x);
        double t2 = now();
        y = run(c, x);
        rc = y ? nb_backward(nb_sum_all(nb_mul(y, r))) : -1;
        double t3 = now();
        if (i > 0 && (t1 - t0) * 1e3 < *fwd) *fwd = (t1 - t0) * 1e3;
        if (i > 0 && (t3 - t2) * 1e3 < *both) *both = (t3 - t2) * 1e3;
    }
    if (rc) fprintf(stderr, "bench_reduce: %s: %s\n", c->name, nb_last_error());
    nb_ctx_use(NULL);
    nb_ctx_free(step);
    nb_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int threads = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1 || threads < 0) {
        fprintf(stderr, "usage: bench_reduce [repetitions >= 1] [threads >= 0]\n");
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
    bench_reference("bench/pytorch_reduce.py", reps, nb_get_num_threads(), names, NCASES, tf, tb, why,
                    sizeof why);
    bench_print("case", names, NCASES, nf, nb, tf, tb, reps, why);
    return 0;
}
