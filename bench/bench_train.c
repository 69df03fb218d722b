/* bench/bench_train.c - end-to-end Baby GPT training step on the CPU: tokens/s, s/step, peak RSS.
 *
 * Builds the model of examples/babygpt/model.h for a named config, feeds it synthetic random
 * tokens (Philox, fixed seed: every run sees the same batches) and takes the step exactly as
 * examples/babygpt/train.c does: loss -> nb_backward -> clip_grad_norm(1.0) -> AdamW step
 * (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on >= 2-D tensors) -> zero_grad -> reset of the
 * step context. A few warm-up steps are taken first, then the timed ones.
 *
 * usage: bench_train [config [batch [steps [threads [vocab [warmup]]]]]]
 *   config  tiny | small | safe-pro (default tiny)     batch   default 8
 *   steps   timed steps (default 10)                  threads 0: nabla's default (all cores)
 *   vocab   default 50257 (GPT-2's)                   warmup  untimed steps first (default 2)
 * environment: BENCH_LOSSES=1 prints every step's loss with 9 digits (to compare runs bit for
 *   bit); BENCH_MEM=1 prints the step context's live bytes after each forward and its peak
 *   during the backward; NABLA_NO_RECYCLE=1 keeps every gradient to the end of the step (the old way).
 * The summary gives the step context's size and its peak of live bytes (nb_ctx_peak).
 * The last line is machine-readable (bench/run.sh reads it):
 *   RESULT nabla <config> batch=<B> threads=<n> tokens_per_s=<x> step_s=<x> peak_rss_mb=<x> */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "examples/babygpt/model.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Peak resident set in MB: VmHWM from /proc/self/status, else getrusage's ru_maxrss. */
static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        kb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
    }
    return (double)kb / 1024.0;
}

/* Fills n tokens in [0, V) from Philox(seed, *ctr...). */
static void random_tokens(int32_t *out, int64_t n, int V, uint64_t seed, uint64_t *ctr) {
    for (int64_t i = 0; i < n; i += 4) {
        uint32_t w[4];
        nb_philox(seed, (*ctr)++, w);
        for (int j = 0; j < 4 && i + j < n; j++)
            out[i + j] = (int32_t)(w[j] % (uint32_t)V);
    }
}

static int parse_int(const char *s, const char *what, int lo, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > 1000000) {
        fprintf(stderr, "bench_train: %s must be an integer >= %d, got '%s'\n", what, lo, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "tiny";
    int B = 8, steps = 10, threads = 0, V = 50257, warmup = 2;
    if ((argc > 2 && parse_int(argv[2], "batch", 1, &B)) ||
        (argc > 3 && parse_int(argv[3], "steps", 1, &steps)) ||
        (argc > 4 && parse_int(argv[4], "threads", 0, &threads)) ||
        (argc > 5 && parse_int(argv[5], "vocab", 2, &V)) ||
        (argc > 6 && parse_int(argv[6], "warmup", 0, &warmup)))
        return 2;
    const char *pl = getenv("BENCH_LOSSES");
    bool print_losses = pl && *pl && *pl != '0';
    const char *pm = getenv("BENCH_MEM");
    bool print_mem = pm && *pm && *pm != '0';
    size_t step_peak = 0; /* the step context's peak of live bytes, over every step */
    char err[512];
    bg_config cfg;
    if (bg_config_get(name, V, &cfg, err, sizeof err)) {
        fprintf(stderr, "bench_train: %s\n", err);
        return 2;
    }
    if (threads > 0) nb_set_num_threads(threads);
    int T = cfg.block_size;
    int status = 1;
    bg_model *m = bg_model_new(&cfg, 1234, err, sizeof err);
    nb_optim *opt = m ? nb_adamw_new(m->ctx, cfg.lr, 0.9f, 0.95f, 1e-8f) : NULL;
    nb_ctx *step_ctx = nb_ctx_new(0);
    int32_t *xb = malloc(sizeof(int32_t) * (size_t)B * (size_t)T);
    int32_t *yb = malloc(sizeof(int32_t) * (size_t)B * (size_t)T);
    double *times = calloc((size_t)steps, sizeof(double));
    if (!m || !opt || !step_ctx || !xb || !yb || !times || nb_optim_add_module(opt, m->root, 0.1f)) {
        fprintf(stderr, "bench_train: setup: %s\n", m ? nb_last_error() : err);
        goto done;
    }
    printf("bench_train: config %s: %d layers, %d heads, n_embd %d, context %d, vocab %d, %lld "
           "parameters; batch %d (%d tokens/step), %d threads, %d warm-up + %d timed steps\n",
           cfg.name, cfg.n_layer, cfg.n_head, cfg.n_embd, T, V, (long long)nb_module_num_params(m->root), B,
           B * T, nb_get_num_threads(), warmup, steps);
    fflush(stdout);
    nb_ctx *prev = nb_ctx_use(step_ctx);
    uint64_t ctr = 0, allocs_after_warmup = 0;
    double first_loss = NAN, last_loss = NAN;
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) allocs_after_warmup = nb_ctx_os_allocs(step_ctx) + nb_ctx_os_allocs(m->ctx);
        random_tokens(xb, (int64_t)B * T, V, 0xbe7c4ULL, &ctr);
        random_tokens(yb, (int64_t)B * T, V, 0xbe7c4ULL, &ctr);
        double t0 = now();
        nb_tensor *x = nb_from_data(step_ctx, NB_I32, NB_SHAPE(B, T), xb);
        nb_tensor *y = nb_from_data(step_ctx, NB_I32, NB_SHAPE(B, T), yb);
        nb_tensor *loss = bg_model_loss(m, x, y);
        size_t fwd_live = nb_ctx_used(step_ctx);
        nb_ctx_reset_peak(step_ctx);
        if (!loss || nb_backward(loss) || nb_optim_clip_grad_norm(opt, 1.0) < 0 || nb_optim_step(opt)) {
            fprintf(stderr, "bench_train: step %d failed: %s\n", s, nb_last_error());
            nb_ctx_use(prev);
            goto done;
        }
        size_t bwd_peak = nb_ctx_peak(step_ctx), bwd_live = nb_ctx_used(step_ctx);
        double l = nb_item(loss);
        nb_optim_zero_grad(opt);
        if (step_peak < nb_ctx_peak(step_ctx)) step_peak = nb_ctx_peak(step_ctx);
        nb_ctx_reset(step_ctx);
        double dt = now() - t0;
        if (s >= warmup) times[s - warmup] = dt;
        if (s == 0) first_loss = l;
        last_loss = l;
        if (print_losses) printf("step %d loss %.9g (%.4f s)\n", s, l, dt);
        if (print_mem)
            printf("step %d: step context live after the forward %.1f MB, peak during the backward "
                   "%.1f MB, live after it %.1f MB\n",
                   s, (double)fwd_live / 1048576.0, (double)bwd_peak / 1048576.0,
                   (double)bwd_live / 1048576.0);
    }
    nb_ctx_use(prev);
    uint64_t new_allocs = nb_ctx_os_allocs(step_ctx) + nb_ctx_os_allocs(m->ctx) - allocs_after_warmup;
    double sum = 0, best = INFINITY;
    for (int i = 0; i < steps; i++) {
        sum += times[i];
        if (times[i] < best) best = times[i];
    }
    double mean = sum / steps, tps = (double)B * T / mean, rss = peak_rss_mb();
    printf("bench_train: %s batch %d: %.0f tokens/s, %.4f s/step (best %.4f s), peak RSS %.0f MB; "
           "loss %.6f -> %.6f; step context %.0f MB (peak live %.0f MB), %llu system allocations "
           "after warm-up\n",
           cfg.name, B, tps, mean, best, rss, first_loss, last_loss,
           (double)nb_ctx_reserved(step_ctx) / 1048576.0, (double)step_peak / 1048576.0,
           (unsigned long long)new_allocs);
    printf("RESULT nabla %s batch=%d threads=%d tokens_per_s=%.1f step_s=%.4f peak_rss_mb=%.0f\n", cfg.name,
           B, nb_get_num_threads(), tps, mean, rss);
    status = 0;
done:
    free(times);
    free(xb);
    free(yb);
    nb_ctx_free(step_ctx);
    nb_optim_free(opt);
    bg_model_free(m);
    return status;
}
