/* bench/bench_seq.c - the sequence and decoder layers against PyTorch's on the CPU, same shapes:
 *   lstm      2-layer LSTM, input 128, hidden 256, T 50, batch 32
 *   gru_bi    bidirectional GRU, input 128, hidden 256, T 50, batch 32
 *   mha       self-attention MultiheadAttention, dim 256, 8 heads, L 128, batch 16
 *   encoder   TransformerEncoderLayer, dim 256, 8 heads, ff 1024, L 128, batch 16 (dropout 0)
 *   convT     ConvTranspose2d 64 -> 32, 4x4, stride 2, padding 1, x [16,64,16,16] (a decoder's 2x)
 *   bilinear  interpolate x [16,64,32,32] to 64x64, bilinear
 * For each: forward and forward+backward milliseconds (best of the repetitions after a warm-up;
 * backward of sum(y * r) for a fixed random r), then PyTorch's times for the same work from
 * bench/pytorch_seq.py, which this program runs (same thread count) and reads back, and the
 * ratio PyTorch / nabla (above 1: nabla is faster). Without PyTorch the reference columns say so.
 * usage: bench_seq [repetitions (default 5)] [threads (0: nabla's default)] */
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

static const char *const names[] = {"lstm", "gru_bi", "mha", "encoder", "convT", "bilinear"};
#define NCASES (int)(sizeof names / sizeof *names)

typedef struct {
    nb_module *m;
    nb_tensor *x;
} bench_case;

static int make_case(int k, nb_ctx *ctx, nb_rng *rng, bench_case *c) {
    static const int64_t seq[3] = {50, 32, 128}, att[3] = {128, 16, 256};
    switch (k) {
    case 0: c->m = nb_lstm_new(ctx, 128, 256, &(nb_rnn_opts){.num_layers = 2}, rng); break;
    case 1: c->m = nb_gru_new(ctx, 128, 256, &(nb_rnn_opts){.bidirectional = true}, rng); break;
    case 2: c->m = nb_multihead_attention_new(ctx, 256, 8, 0.0f, true, false, rng); break;
    case 3: c->m = nb_transformer_encoder_layer_new(ctx, 256, 8, 1024, 0.0f, NULL, rng); break;
    case 4:
        c->m = nb_conv_transpose2d_new(ctx, 64, 32, 4, 4,
                                       &(nb_conv_opts){.stride = {2, 2}, .padding = {1, 1}}, true, rng);
        break;
    default: c->m = nb_upsample_new(2, 2, NB_INTERP_LINEAR, false);
    }
    c->x = k < 2    ? nb_randn(ctx, 3, seq, 0, 1, rng)
           : k < 4  ? nb_randn(ctx, 3, att, 0, 1, rng)
           : k == 4 ? nb_randn(ctx, NB_SHAPE(16, 64, 16, 16), 0, 1, rng)
                    : nb_randn(ctx, NB_SHAPE(16, 64, 32, 32), 0, 1, rng);
    return c->m && c->x ? 0 : -1;
}

/* best forward and forward+backward times in ms; -1 on error */
static int time_nabla(int k, int reps, double *fwd, double *both) {
    nb_ctx *ctx = nb_ctx_new(0), *step = nb_ctx_new(0);
    nb_rng rng;
    nb_rng_init(&rng, 1);
    bench_case c = {0};
    int rc = make_case(k, ctx, &rng, &c);
    if (rc == 0) nb_requires_grad_(c.x, true);
    nb_ctx_use(step);
    nb_tensor *y = rc ? NULL : nb_module_forward(c.m, c.x);
    nb_tensor *r = y ? nb_randn(ctx, y->ndim, y->shape, 0, 1, &rng) : NULL;
    rc = y && r ? 0 : -1;
    *fwd = *both = 1e30;
    for (int i = 0; rc == 0 && i < reps + 1; i++) { /* the first round warms up */
        nb_ctx_reset(step);
        double t0 = now();
        bool prev = nb_no_grad_begin();
        y = nb_module_forward(c.m, c.x);
        nb_no_grad_end(prev);
        double t1 = now();
        nb_ctx_reset(step);
        nb_module_zero_grad(c.m);
        nb_zero_grad(c.x);
        double t2 = now();
        y = nb_module_forward(c.m, c.x);
        rc = y ? nb_backward(nb_sum_all(nb_mul(y, r))) : -1;
        double t3 = now();
        if (i > 0 && (t1 - t0) * 1e3 < *fwd) *fwd = (t1 - t0) * 1e3;
        if (i > 0 && (t3 - t2) * 1e3 < *both) *both = (t3 - t2) * 1e3;
    }
    if (rc) fprintf(stderr, "bench_seq: %s: %s\n", names[k], nb_last_error());
    nb_ctx_use(NULL);
    nb_module_free(c.m);
    nb_ctx_free(step);
    nb_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int threads = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1 || threads < 0) {
        fprintf(stderr, "usage: bench_seq [repetitions >= 1] [threads >= 0]\n");
        return 2;
    }
    if (threads) nb_set_num_threads(threads);
    double nf[NCASES], nbw[NCASES], tf[NCASES], tb[NCASES];
    for (int i = 0; i < NCASES; i++) {
        if (time_nabla(i, reps, &nf[i], &nbw[i])) return 1;
    }
    char why[256];
    bench_reference("bench/pytorch_seq.py", reps, nb_get_num_threads(), names, NCASES, tf, tb, why,
                    sizeof why);
    bench_print("case", names, NCASES, nf, nbw, tf, tb, reps, why);
    return 0;
}
