/* bench/bench_fused.c - each fused kernel of nabla against the same computation composed from
 * nabla's own elementwise/reduction/matmul ops, on the Baby GPT safe-pro shapes (batch 8,
 * context 192, n_embd 384, 6 heads, vocab 50257):
 *   attention      nb_attention            vs  matmul(q,k^T)*scale, masked_fill, softmax, matmul(.,v)
 *   layer_norm     nb_layer_norm           vs  mean, x-mean, mean of squares, rsqrt, *w, +b
 *   cross_entropy  nb_cross_entropy        vs  log_softmax, gather, mean, neg
 *   linear_ce      nb_linear_cross_entropy vs  nb_linear (the lm_head, no bias) then nb_cross_entropy
 *                  (the fused op never stores the [1536,50257] logits; the step context each
 *                  variant needed for forward+backward is printed below its line)
 *   gelu(+bias)    nb_gelu(x + b)          vs  0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   ce one-pass    the CPU backend's cross_entropy_fused on one [384,50257] chunk (loss, lse and
 *                  dlogits in place, one pass) vs cross_entropy then cross_entropy_backward
 *   linear_ce 1p   nb_linear_cross_entropy forward+backward with that kernel vs with the two
 *                  kernels (NABLA_LCE_UNFUSED=1)
 *   adamw          nb_adamw_update_        vs  the update written with elementwise ops
 * For each: forward time, forward+backward time (backward seeded with a fixed random
 * gradient), the ratio composed/fused, and the largest difference between the two results
 * (a check that both compute the same thing). Times are the best of several repetitions after a
 * warm-up, in milliseconds.
 * usage: bench_fused [repetitions (default 5)] [threads (0: nabla's default)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nabla.h>

#include "backends/backend.h" /* the cross-entropy kernels, called directly */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { B = 8, T = 192, C = 384, H = 6, D = 64, V = 50257 };

typedef struct {
    int n_in;
    nb_tensor *in[4]; /* inputs that get gradients (leaves) */
    nb_tensor *extra; /* an integer input (targets), or NULL */
} inputs;

/* Builds the output of one variant (fused or composed) from the inputs; NULL on error. */
typedef nb_tensor *(*build_fn)(const inputs *in, bool fused);

static nb_tensor *attention_fn(const inputs *in, bool fused) {
    nb_tensor *q = in->in[0], *k = in->in[1], *v = in->in[2];
    if (fused) return nb_attention(q, k, v);
    nb_tensor *att = nb_mul_scalar(nb_matmul(q, nb_transpose(k, -1, -2)), 1.0f / sqrtf((float)D));
    nb_tensor *mask = in->extra; /* [T,T] f32 ones above the diagonal */
    att = nb_softmax(nb_masked_fill(att, mask, -INFINITY), -1);
    return nb_matmul(att, v);
}

static nb_tensor *layer_norm_fn(const inputs *in, bool fused) {
    nb_tensor *x = in->in[0], *w = in->in[1], *b = in->in[2];
    if (fused) return nb_layer_norm(x, w, b, 1e-5f);
    int ax = -1;
    nb_tensor *xc = nb_sub(x, nb_mean(x, 1, &ax, true));
    nb_tensor *var = nb_mean(nb_mul(xc, xc), 1, &ax, true);
    return nb_add(nb_mul(nb_mul(xc, nb_rsqrt(nb_add_scalar(var, 1e-5f))), w), b);
}

static nb_tensor *xent_fn(const inputs *in, bool fused) {
    nb_tensor *logits = in->in[0], *tg = in->extra;
    if (fused) return nb_cross_entropy(logits, tg, -1);
    nb_tensor *idx = nb_reshape(tg, NB_SHAPE(-1, 1));
    return nb_neg(nb_mean_all(nb_gather(nb_log_softmax(logits, -1), 1, idx)));
}

static nb_tensor *linear_ce_fn(const inputs *in, bool fused) {
    nb_tensor *x = in->in[0], *w = in->in[1], *tg = in->extra;
    if (fused) return nb_linear_cross_entropy(x, w, NULL, tg, -1);
    return nb_cross_entropy(nb_linear(x, w, NULL), tg, -1);
}

static nb_tensor *gelu_fn(const inputs *in, bool fused) {
    nb_tensor *x = nb_add(in->in[0], in->in[1]); /* the MLP's fc output plus its bias */
    if (fused) return nb_gelu(x);
    nb_tensor *x3 = nb_mul(nb_mul(x, x), x);
    nb_tensor *u = nb_mul_scalar(nb_add(x, nb_mul_scalar(x3, 0.044715f)), 0.7978845608028654f);
    return nb_mul(nb_mul_scalar(x, 0.5f), nb_add_scalar(nb_tanh(u), 1.0f));
}

typedef struct {
    const char *name, *shape;
    build_fn fn;
} kernel;

/* Largest |a - b| over two same-shape tensors (NAN on error). */
static double max_diff(const nb_tensor *a, const nb_tensor *b) {
    int64_t n = nb_numel(a);
    if (!b || nb_numel(b) != n) return NAN;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    double m = NAN;
    if (x && y && !nb_to_array(a, NB_F32, x) && !nb_to_array(b, NB_F32, y)) {
        m = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)x[i] - (double)y[i]);
            if (d > m || d != d) m = d;
        }
    }
    free(x);
    free(y);
    return m;
}

/* Times one variant: best forward and best forward+backward over reps. Leaves the last output
 * and (when grads) the input gradients' max difference material in *out. 0/-1. */
static size_t last_step_used; /* bytes of the step context after the last forward+backward */

static int time_variant(const kernel *k, inputs *in, bool fused, nb_tensor *gout_src, nb_ctx *step, int reps,
                        double *fwd, double *fwdbwd, nb_ctx *keep, nb_tensor **out_copy,
                        nb_tensor **grad_copy) {
    *fwd = *fwdbwd = INFINITY;
    for (int r = 0; r < reps + 1; r++) { /* the first is a warm-up */
        nb_ctx_reset(step);
        for (int i = 0; i < in->n_in; i++)
            nb_zero_grad(in->in[i]);
        bool g = nb_no_grad_begin();
        double t0 = now();
        nb_tensor *y = k->fn(in, fused);
        double t1 = now();
        nb_no_grad_end(g);
        if (!y) return -1;
        nb_ctx_reset(step);
        double t2 = now();
        y = k->fn(in, fused);
        if (!y) return -1;
        nb_tensor *seed = nb_numel(y) == 1 ? nb_scalar(step, 1.0f) : gout_src;
        if (nb_numel(y) == 1) seed = nb_reshape(seed, y->ndim, y->shape);
        if (!seed || nb_backward_with(y, seed)) return -1;
        double t3 = now();
        last_step_used = nb_ctx_used(step);
        if (r > 0) {
            if (t1 - t0 < *fwd) *fwd = t1 - t0;
            if (t3 - t2 < *fwdbwd) *fwdbwd = t3 - t2;
        }
        if (r == reps) {
            *out_copy = nb_clone(keep, y);
            *grad_copy = in->in[0]->grad ? nb_clone(keep, in->in[0]->grad) : NULL;
        }
    }
    return 0;
}

/* The AdamW update written with elementwise ops (no autograd), as a user would without the
 * fused kernel; the result is copied into the parameter and moments. */
static int adamw_composed(nb_tensor *p, nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1,
                          float b2, float eps, float wd, int64_t step) {
    float bc1 = 1.0f - powf(b1, (float)step), bc2 = 1.0f - powf(b2, (float)step);
    nb_tensor *m2 = nb_add(nb_mul_scalar(m, b1), nb_mul_scalar(g, 1.0f - b1));
    nb_tensor *v2 = nb_add(nb_mul_scalar(v, b2), nb_mul_scalar(nb_mul(g, g), 1.0f - b2));
    nb_tensor *den = nb_add_scalar(nb_div_scalar(nb_sqrt(v2), sqrtf(bc2)), eps);
    nb_tensor *p2 = nb_sub(nb_mul_scalar(p, 1.0f - lr * wd), nb_div(nb_mul_scalar(m2, lr / bc1), den));
    if (!p2) return -1;
    return nb_copy_(m, m2) || nb_copy_(v, v2) || nb_copy_(p, p2) ? -1 : 0;
}

static int bench_adamw(nb_ctx *keep, nb_ctx *step, int reps) {
    int64_t n = 30019968; /* safe-pro's parameters */
    nb_rng r;
    nb_rng_init(&r, 7);
    nb_tensor *p[2], *g = nb_randn(keep, 1, &n, 0, 1e-3f, &r), *m[2], *v[2];
    for (int i = 0; i < 2; i++) {
        p[i] = nb_randn(keep, 1, &n, 0, 0.02f, &r);
        m[i] = nb_zeros(keep, NB_F32, 1, &n);
        v[i] = nb_zeros(keep, NB_F32, 1, &n);
    }
    if (!g || !p[1] || !v[1] || nb_copy_(p[1], p[0])) return -1;
    double best[2] = {INFINITY, INFINITY};
    for (int it = 1; it <= reps + 1; it++) {
        nb_ctx_reset(step);
        double t0 = now();
        if (nb_adamw_update_(p[0], g, m[0], v[0], 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, it)) return -1;
        double t1 = now();
        if (adamw_composed(p[1], g, m[1], v[1], 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, it)) return -1;
        double t2 = now();
        if (it > 1) {
            if (t1 - t0 < best[0]) best[0] = t1 - t0;
            if (t2 - t1 < best[1]) best[1] = t2 - t1;
        }
    }
    double d = max_diff(p[0], p[1]);
    printf("%-14s %-22s %9.2f %9s %9.2f %9s %6.2fx  %9.2e\n", "adamw", "[30019968] step", best[0] * 1e3, "-",
           best[1] * 1e3, "-", best[1] / best[0], d);
    return 0;
}

/* The lm_head loss's cross-entropy on one chunk of R x V logits (what nb_linear_cross_entropy
 * does per chunk when a gradient is wanted): the backend's one-pass cross_entropy_fused against
 * cross_entropy then cross_entropy_backward in place (two passes over the chunk from memory, two
 * exps per logit). The logits are restored from a copy before each run (not timed). Then the
 * whole op with each path (NABLA_LCE_UNFUSED=1 selects the two kernels). */
static int bench_xent_pass(nb_ctx *keep, nb_ctx *step, int reps, const inputs *lce) {
    enum { R = 384 }; /* safe-pro's chunk: 1536 rows in 4 chunks */
    const nb_backend *be = nb_backend_get(NB_CPU);
    if (!be || !be->cross_entropy_fused) return nb_set_error("no cross_entropy_fused on the cpu"), -1;
    nb_rng r;
    nb_rng_init(&r, 5);
    nb_tensor *src = nb_randn(keep, NB_SHAPE(R, V), 0, 2, &r), *x = nb_zeros(keep, NB_F32, NB_SHAPE(R, V));
    nb_tensor *lse = nb_zeros(keep, NB_F32, NB_SHAPE(R, 2)), *loss = nb_zeros(keep, NB_F32, 0, NULL);
    nb_tensor *g = nb_scalar(keep, 1.0f), *d1 = nb_zeros(keep, NB_F32, NB_SHAPE(R, V));
    int32_t tg[R];
    for (int i = 0; i < R; i++)
        tg[i] = i % 17 == 3 ? -1 : (int32_t)((uint32_t)(i * 2654435761u) % V);
    nb_tensor *t = nb_from_data(keep, NB_I32, NB_SHAPE(R), tg);
    if (!src || !x || !lse || !loss || !g || !d1 || !t) return -1;
    int64_t count = 0;
    for (int i = 0; i < R; i++)
        count += tg[i] != -1;
    const float k = 1.0f / (float)count;
    double best[2] = {INFINITY, INFINITY}, l1 = 0, l2 = 0;
    for (int it = 0; it <= reps; it++) {
        if (nb_copy_(x, src)) return -1;
        double t0 = now();
        if (be->cross_entropy_fused(loss, lse, x, t, -1, k)) return -1;
        double t1 = now();
        l1 = nb_item(loss);
        if (nb_copy_(d1, x) || nb_copy_(x, src)) return -1;
        double t2 = now();
        if (be->cross_entropy(loss, lse, x, t, -1) || be->cross_entropy_backward(x, g, x, t, lse, -1))
            return -1;
        double t3 = now();
        l2 = nb_item(loss);
        if (it > 0) {
            best[0] = fmin(best[0], t1 - t0);
            best[1] = fmin(best[1], t3 - t2);
        }
    }
    double d = fmax(max_diff(d1, x), fabs(l1 - l2));
    printf("%-14s %-22s %9s %9.2f %9s %9.2f %6.2fx  %9.2e\n", "ce one-pass", "[384,50257] chunk", "-",
           best[0] * 1e3, "-", best[1] * 1e3, best[1] / best[0], d);
    printf("%-14s (cpu kernels: cross_entropy_fused vs cross_entropy + cross_entropy_backward)\n", "");
    /* the op, forward+backward, with each path */
    double op[2] = {INFINITY, INFINITY};
    nb_tensor *gx[2] = {NULL, NULL};
    for (int it = 0; it <= reps; it++)
        for (int u = 0; u < 2; u++) {
            if (u) setenv("NABLA_LCE_UNFUSED", "1", 1);
            nb_ctx_reset(step);
            nb_zero_grad(lce->in[0]);
            nb_zero_grad(lce->in[1]);
            double t0 = now();
            nb_tensor *y = nb_linear_cross_entropy(lce->in[0], lce->in[1], NULL, lce->extra, -1);
            int rc = y ? nb_backward(y) : -1;
            double t1 = now();
            unsetenv("NABLA_LCE_UNFUSED");
            if (rc) return -1;
            if (it > 0) op[u] = fmin(op[u], t1 - t0);
            if (it == reps && !(gx[u] = nb_clone(keep, lce->in[0]->grad))) return -1;
        }
    printf("%-14s %-22s %9s %9.2f %9s %9.2f %6.2fx  %9.2e\n", "linear_ce 1p", "[1536,384]x[50257,384]", "-",
           op[0] * 1e3, "-", op[1] * 1e3, op[1] / op[0], max_diff(gx[0], gx[1]));
    printf("%-14s (nb_linear_cross_entropy f+b: one-pass kernel vs NABLA_LCE_UNFUSED=1)\n", "");
    return 0;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5, threads = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1 || reps > 1000 || threads < 0) {
        fprintf(stderr, "usage: bench_fused [repetitions 1..1000] [threads >= 0]\n");
        return 2;
    }
    if (threads > 0) nb_set_num_threads(threads);
    nb_ctx *keep = nb_ctx_new(0), *step = nb_ctx_new(0);
    if (!keep || !step) return 1;
    nb_ctx *prev = nb_ctx_use(step);
    nb_rng r;
    nb_rng_init(&r, 42);
    int status = 0;
    printf("bench_fused: %d threads, best of %d repetitions, milliseconds; ratio = composed / fused "
           "(forward+backward)\n",
           nb_get_num_threads(), reps);
    printf("%-14s %-22s %9s %9s %9s %9s %7s  %9s\n", "kernel", "shape", "fused fw", "fused f+b", "comp fw",
           "comp f+b", "ratio", "max diff");

    /* inputs */
    inputs att = {3, {0}, NULL}, ln = {3, {0}, NULL}, xe = {1, {0}, NULL}, ge = {2, {0}, NULL};
    inputs lce = {2, {0}, NULL};
    for (int i = 0; i < 3; i++)
        att.in[i] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(B, H, T, D), 0, 1, &r), true);
    att.extra = nb_zeros(keep, NB_F32, NB_SHAPE(T, T));
    if (att.extra)
        for (int i = 0; i < T; i++)
            for (int j = i + 1; j < T; j++)
                nb_data_f32(att.extra)[i * T + j] = 1.0f;
    ln.in[0] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(B * T, C), 0, 1, &r), true);
    ln.in[1] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(C), 1, 0.1f, &r), true);
    ln.in[2] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(C), 0, 0.1f, &r), true);
    xe.in[0] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(B * T, V), 0, 1, &r), true);
    int32_t *tg = malloc(sizeof(int32_t) * B * T);
    for (int i = 0; tg && i < B * T; i++)
        tg[i] = (int32_t)((uint32_t)(i * 2654435761u) % V);
    xe.extra = tg ? nb_from_data(keep, NB_I32, NB_SHAPE(B * T), tg) : NULL;
    free(tg);
    lce.in[0] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(B * T, C), 0, 1, &r), true);
    lce.in[1] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(V, C), 0, 0.02f, &r), true);
    lce.extra = xe.extra;
    ge.in[0] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(B * T, 4 * C), 0, 1, &r), true);
    ge.in[1] = nb_requires_grad_(nb_randn(keep, NB_SHAPE(4 * C), 0, 0.1f, &r), true);
    nb_tensor *g_att = nb_randn(keep, NB_SHAPE(B, H, T, D), 0, 1, &r);
    nb_tensor *g_ln = nb_randn(keep, NB_SHAPE(B * T, C), 0, 1, &r);
    nb_tensor *g_ge = nb_randn(keep, NB_SHAPE(B * T, 4 * C), 0, 1, &r);
    if (!att.extra || !ln.in[2] || !xe.extra || !lce.in[1] || !ge.in[1] || !g_att || !g_ln || !g_ge) {
        fprintf(stderr, "bench_fused: setup: %s\n", nb_last_error());
        status = 1;
        goto done;
    }
    const kernel ks[] = {
        {"attention", "[8,6,192,64] causal", attention_fn},
        {"layer_norm", "[1536,384]", layer_norm_fn},
        {"cross_entropy", "[1536,50257]", xent_fn},
        {"linear_ce", "[1536,384]x[50257,384]", linear_ce_fn},
        {"gelu(+bias)", "[1536,1536]+[1536]", gelu_fn},
    };
    inputs *ins[] = {&att, &ln, &xe, &lce, &ge};
    nb_tensor *gouts[] = {g_att, g_ln, NULL, NULL, g_ge};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        double ff, ffb, cf, cfb;
        nb_tensor *yo_f = NULL, *go_f = NULL, *yo_c = NULL, *go_c = NULL;
        size_t used_f = 0;
        if (time_variant(&ks[i], ins[i], true, gouts[i], step, reps, &ff, &ffb, keep, &yo_f, &go_f) ||
            (used_f = last_step_used, 0) ||
            time_variant(&ks[i], ins[i], false, gouts[i], step, reps, &cf, &cfb, keep, &yo_c, &go_c)) {
            fprintf(stderr, "bench_fused: %s: %s\n", ks[i].name, nb_last_error());
            status = 1;
            continue;
        }
        double d = max_diff(yo_f, yo_c), dg = go_f ? max_diff(go_f, go_c) : 0;
        printf("%-14s %-22s %9.2f %9.2f %9.2f %9.2f %6.2fx  %9.2e\n", ks[i].name, ks[i].shape, ff * 1e3,
               ffb * 1e3, cf * 1e3, cfb * 1e3, cfb / ffb, d > dg ? d : dg);
        if (ks[i].fn == linear_ce_fn)
            printf("%-14s step context in use after forward+backward: fused %.0f MB, composed %.0f MB\n", "",
                   (double)used_f / 1e6, (double)last_step_used / 1e6);
        fflush(stdout);
    }
    nb_ctx_reset(step);
    if (bench_xent_pass(keep, step, reps, &lce)) {
        fprintf(stderr, "bench_fused: ce one-pass: %s\n", nb_last_error());
        status = 1;
    }
    nb_ctx_reset(step);
    if (bench_adamw(keep, step, reps)) {
        fprintf(stderr, "bench_fused: adamw: %s\n", nb_last_error());
        status = 1;
    }
done:
    nb_ctx_use(prev);
    nb_ctx_free(step);
    nb_ctx_free(keep);
    return status;
}
