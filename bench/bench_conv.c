/* bench/bench_conv.c - nabla's convolution and pooling (ops/conv.c: im2col and one batched
 * matmul; depthwise convolutions and pooling: the window kernels of backends/cpu/cpu_window.c)
 * against PyTorch's on the same shapes, on the CPU:
 *   conv3x3   x [16,32,32,32], w [64,32,3,3], b [64], padding 1 (a ResNet-style layer)
 *   conv5x5s2 x [16,16,64,64], w [32,16,5,5], stride 2, padding 2 (a downsampling stem)
 *   depthwise x [16,64,32,32], w [64,1,3,3], padding 1, groups 64
 *   conv1d    x [32,64,256],   w [64,64,5], padding 2
 *   maxpool   x [16,64,32,32], 2x2 windows
 * For each: forward and forward+backward milliseconds (best of the repetitions after a warm-up;
 * backward of sum(y * r) for a fixed random r), then PyTorch's times for the same work, measured
 * by bench/pytorch_conv.py, which this program runs (with the same thread count) and reads back,
 * and the ratio PyTorch / nabla (above 1: nabla is faster). Without PyTorch the reference
 * columns say so and the nabla numbers stand alone.
 * usage: bench_conv [repetitions (default 5)] [threads (0: nabla's default)] */
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

typedef struct {
    const char *name;
    int64_t x[4], w[4]; /* w[0] 0: pooling */
    int xd, wd;         /* dims: 4 (2-D) or 3 (1-D) */
    nb_conv_opts o;
    bool bias;
} shape;

static const shape shapes[] = {
    {"conv3x3", {16, 32, 32, 32}, {64, 32, 3, 3}, 4, 4, {.padding = {1, 1}}, true},
    {"conv5x5s2", {16, 16, 64, 64}, {32, 16, 5, 5}, 4, 4, {.stride = {2, 2}, .padding = {2, 2}}, false},
    {"depthwise", {16, 64, 32, 32}, {64, 1, 3, 3}, 4, 4, {.padding = {1, 1}, .groups = 64}, true},
    {"conv1d", {32, 64, 256}, {64, 64, 5}, 3, 3, {.padding = {2}}, true},
    {"maxpool", {16, 64, 32, 32}, {0}, 4, 0, {.groups = 0}, false},
};
#define NSHAPES (int)(sizeof shapes / sizeof *shapes)

static nb_tensor *run(const shape *s, nb_tensor *x, nb_tensor *w, nb_tensor *b) {
    if (!s->w[0]) return nb_max_pool2d(x, (const int[]){2, 2}, NULL);
    if (s->xd == 3) return nb_conv1d(x, w, b, &s->o);
    return nb_conv2d(x, w, b, &s->o);
}

/* best forward and forward+backward times of one shape, in ms; -1 on error */
static int time_nabla(const shape *s, int reps, double *fwd, double *both) {
    nb_ctx *ctx = nb_ctx_new(0);
    nb_rng rng;
    nb_rng_init(&rng, 1);
    nb_tensor *x = nb_requires_grad_(nb_randn(ctx, s->xd, s->x, 0, 1, &rng), true);
    nb_tensor *w = s->w[0] ? nb_requires_grad_(nb_randn(ctx, s->wd, s->w, 0, 0.1f, &rng), true) : NULL;
    nb_tensor *b = s->bias ? nb_requires_grad_(nb_randn(ctx, NB_SHAPE(s->w[0]), 0, 0.1f, &rng), true) : NULL;
    nb_ctx *step = nb_ctx_new(0);
    nb_ctx_use(step);
    nb_tensor *y = run(s, x, w, b);
    nb_tensor *r = y ? nb_randn(ctx, y->ndim, y->shape, 0, 1, &rng) : NULL;
    int rc = y && r ? 0 : -1;
    *fwd = *both = 1e30;
    for (int i = 0; rc == 0 && i < reps + 1; i++) { /* the first round warms up */
        nb_ctx_reset(step);
        double t0 = now();
        bool prev = nb_no_grad_begin();
        y = run(s, x, w, b);
        nb_no_grad_end(prev);
        double t1 = now();
        nb_ctx_reset(step);
        nb_zero_grad(x);
        if (w) nb_zero_grad(w);
        if (b) nb_zero_grad(b);
        double t2 = now();
        y = run(s, x, w, b);
        rc = y ? nb_backward(nb_sum_all(nb_mul(y, r))) : -1;
        double t3 = now();
        if (i > 0 && (t1 - t0) * 1e3 < *fwd) *fwd = (t1 - t0) * 1e3;
        if (i > 0 && (t3 - t2) * 1e3 < *both) *both = (t3 - t2) * 1e3;
    }
    if (rc) fprintf(stderr, "bench_conv: %s: %s\n", s->name, nb_last_error());
    nb_ctx_use(NULL);
    nb_ctx_free(step);
    nb_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int threads = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1 || threads < 0) {
        fprintf(stderr, "usage: bench_conv [repetitions >= 1] [threads >= 0]\n");
        return 2;
    }
    if (threads) nb_set_num_threads(threads);
    double nf[NSHAPES], nb[NSHAPES], tf[NSHAPES], tb[NSHAPES];
    for (int i = 0; i < NSHAPES; i++) {
        if (time_nabla(&shapes[i], reps, &nf[i], &nb[i])) return 1;
    }
    /* PyTorch, on the same shapes and thread count, from the same program */
    const char *names[NSHAPES];
    for (int i = 0; i < NSHAPES; i++)
        names[i] = shapes[i].name;
    char why[256];
    bench_reference("bench/pytorch_conv.py", reps, nb_get_num_threads(), names, NSHAPES, tf, tb, why,
                    sizeof why);
    bench_print("shape", names, NSHAPES, nf, nb, tf, tb, reps, why);
    return 0;
}
