/* bench/bench_gemm.c - GFLOP/s of nb_cpu_sgemm on the Baby GPT shapes, against OpenBLAS's
 * cblas_sgemm loaded with dlopen in the same process (skipped when it cannot be loaded).
 *
 * OpenBLAS picks its kernels when it is loaded, from OPENBLAS_CORETYPE among others; the bench
 * unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE first so it compares against OpenBLAS's best
 * kernels for this CPU. Each number is the best of several timed repetitions after a warm-up,
 * over three alternating rounds of nabla and OpenBLAS.
 * NABLA_NUM_THREADS sets the thread count of both libraries (default: every core).
 * Usage: bench_gemm [seconds per measurement (default 0.25)] */
#include "backends/cpu/gemm.h"
#include "nabla/core.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                               float, float *, int);
typedef char *(*corename_fn)(void);
typedef void (*set_threads_fn)(int);

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef struct shape {
    const char *name;
    int ta, tb;
    int64_t batch, M, N, K;
    float beta;
} shape;

/* Baby GPT: 8 sequences x 192 tokens = 1536 rows, n_embd 384, 6 heads of 64, vocab 50257.
 * The ce rows are the fused lm_head + cross-entropy, which works in row chunks (safe-pro: 4 x 384,
 * small: 3 x 352 with n_embd 256; others for other batch sizes): logits = X W^T,
 * dX = dlogits W, and dW += dlogits^T X accumulated with beta = 1. */
static const shape SHAPES[] = {
    {"fwd qkv       NN", 0, 0, 1, 1536, 1152, 384, 0.0f},
    {"fwd attn-proj NN", 0, 0, 1, 1536, 384, 384, 0.0f},
    {"fwd mlp-up    NN", 0, 0, 1, 1536, 1536, 384, 0.0f},
    {"fwd mlp-down  NN", 0, 0, 1, 1536, 384, 1536, 0.0f},
    {"fwd lm-head   NN", 0, 0, 1, 1536, 50257, 384, 0.0f},
    {"fwd qkv       NT", 0, 1, 1, 1536, 1152, 384, 0.0f},
    {"dW qkv        TN", 1, 0, 1, 384, 1152, 1536, 0.0f},
    {"dX qkv        NT", 0, 1, 1, 1536, 384, 1152, 0.0f},
    {"dW mlp-up     TN", 1, 0, 1, 384, 1536, 1536, 0.0f},
    {"dX mlp-up     NT", 0, 1, 1, 1536, 384, 1536, 0.0f},
    {"dW mlp-down   TN", 1, 0, 1, 1536, 384, 1536, 0.0f},
    {"dX mlp-down   NT", 0, 1, 1, 1536, 1536, 384, 0.0f},
    {"dW lm-head    TN", 1, 0, 1, 384, 50257, 1536, 0.0f},
    {"dX lm-head    NT", 0, 1, 1, 1536, 384, 50257, 0.0f},
    {"att q.k^T b48 NT", 0, 1, 48, 192, 192, 64, 0.0f},
    {"att p.v   b48 NN", 0, 0, 48, 192, 64, 192, 0.0f},
    {"ce logits 256 NT", 0, 1, 1, 256, 50257, 384, 0.0f},
    {"ce logits 128 NT", 0, 1, 1, 128, 50257, 384, 0.0f},
    {"ce logits 512 NT", 0, 1, 1, 512, 50257, 384, 0.0f},
    {"ce dX     256 NN", 0, 0, 1, 256, 384, 50257, 0.0f},
    {"ce dX     128 NN", 0, 0, 1, 128, 384, 50257, 0.0f},
    {"ce dW b1  256 TN", 1, 0, 1, 50257, 384, 256, 1.0f},
    {"ce dW b1  128 TN", 1, 0, 1, 50257, 384, 128, 1.0f},
    {"ce dW b1  512 TN", 1, 0, 1, 50257, 384, 512, 1.0f},
    /* safe-pro's chunks of 384 rows (C = 384) and small's of 352 rows (C = 256); dW once with
     * beta = 0 (first chunk) and once accumulating. */
    {"ce logits 384 NT", 0, 1, 1, 384, 50257, 384, 0.0f},
    {"ce dX     384 NN", 0, 0, 1, 384, 384, 50257, 0.0f},
    {"ce dW b0  384 TN", 1, 0, 1, 50257, 384, 384, 0.0f},
    {"ce dW b1  384 TN", 1, 0, 1, 50257, 384, 384, 1.0f},
    {"ce logits 352 NT C256", 0, 1, 1, 352, 50257, 256, 0.0f},
    {"ce dX     352 NN C256", 0, 0, 1, 352, 256, 50257, 0.0f},
    {"ce dW b0  352 TN C256", 1, 0, 1, 50257, 256, 352, 0.0f},
    {"ce dW b1  352 TN C256", 1, 0, 1, 50257, 256, 352, 1.0f},
};
#define N_SHAPES (sizeof SHAPES / sizeof *SHAPES)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct bufs {
    float *A, *B, *C, *C2;
} bufs;

static float *rand_buf(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) return NULL;
    uint32_t s = 12345u + (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static int make_bufs(const shape *s, bufs *b) {
    size_t na = (size_t)(s->batch * s->M * s->K), nb = (size_t)(s->batch * s->K * s->N);
    size_t nc = (size_t)(s->batch * s->M * s->N);
    b->A = rand_buf(na);
    b->B = rand_buf(nb);
    b->C = calloc(nc, sizeof(float));
    b->C2 = calloc(nc, sizeof(float));
    return b->A && b->B && b->C && b->C2 ? 0 : -1;
}

static void free_bufs(bufs *b) {
    free(b->A);
    free(b->B);
    free(b->C);
    free(b->C2);
}

static void run_nabla(const shape *s, const bufs *b) {
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (s->batch == 1)
        nb_cpu_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, lda, b->B, ldb, s->beta, b->C, s->N);
    else
        nb_cpu_sgemm_batched(s->ta, s->tb, s->batch, s->M, s->N, s->K, 1.0f, b->A, lda, s->M * s->K, b->B,
                             ldb, s->K * s->N, s->beta, b->C, s->N, s->M * s->N);
}

static cblas_sgemm_fn g_blas;

/* dlsym's object pointer turned into a function pointer without a cast ISO C forbids. */
static void load_sym(void *lib, const char *name, void *fnptr, size_t size) {
    void *sym = dlsym(lib, name);
    if (sym && size == sizeof sym) memcpy(fnptr, &sym, size);
}

static void run_blas(const shape *s, const bufs *b) {
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N);
    for (int64_t i = 0; i < s->batch; i++)
        g_blas(ROW_MAJOR, s->ta ? TRANS : NO_TRANS, s->tb ? TRANS : NO_TRANS, (int)s->M, (int)s->N, (int)s->K,
               1.0f, b->A + i * s->M * s->K, lda, b->B + i * s->K * s->N, ldb, s->beta,
               b->C2 + i * s->M * s->N, (int)s->N);
}

/* Best GFLOP/s over repetitions filling about `secs` seconds, after one warm-up call. */
static double measure(void (*fn)(const shape *, const bufs *), const shape *s, const bufs *b, double secs) {
    const double flops = 2.0 * (double)s->batch * (double)s->M * (double)s->N * (double)s->K;
    fn(s, b);
    double best = 1e30, start = now();
    int reps = 0;
    while (reps < 3 || (now() - start < secs && reps < 1000)) {
        double t = now();
        fn(s, b);
        t = now() - t;
        if (t < best) best = t;
        reps++;
    }
    return flops / best * 1e-9;
}

static double max_rel_diff(const float *x, const float *y, size_t n) {
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)y[i]));
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)x[i] - (double)y[i]));
    return worst / scale;
}

/* One alternating round for each side, best of each; returns the sides in *gn and *gb. */
static void round_pair(const shape *s, const bufs *b, double secs, double *gn, double *gb) {
    *gn = measure(run_nabla, s, b, secs);
    *gb = 0.0;
    if (!g_blas) return;
    usleep(100000);
    *gb = measure(run_blas, s, b, secs);
    usleep(300000); /* let OpenBLAS's spinning threads go to sleep */
}

/* Both libraries once on the same C (beta = 1 accumulates into it), then their difference. */
static double compare_once(const shape *s, bufs *b) {
    const size_t nc = (size_t)(s->batch * s->M * s->N);
    for (size_t i = 0; i < nc; i++)
        b->C[i] = b->C2[i] = (float)(i % 7) * 0.25f;
    run_nabla(s, b);
    run_blas(s, b);
    return max_rel_diff(b->C, b->C2, nc);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.25;
    if (!(secs > 0.0)) secs = 0.25;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (rounds < 1) rounds = 3;
    const char *filter = argc > 3 ? argv[3] : "";
    /* nabla's thread count (NABLA_NUM_THREADS, else every core); OpenBLAS gets the same. */
    const int nt = nb_get_num_threads();

    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("OPENBLAS_L2_SIZE");
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    set_threads_fn blas_threads = NULL;
    if (lib) {
        corename_fn corename = NULL;
        load_sym(lib, "cblas_sgemm", &g_blas, sizeof g_blas);
        load_sym(lib, "openblas_get_corename", &corename, sizeof corename);
        load_sym(lib, "openblas_set_num_threads", &blas_threads, sizeof blas_threads);
        if (blas_threads) blas_threads(nt);
        printf("OpenBLAS: libopenblas.so.0 loaded with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE "
               "unset; core %s\n",
               corename ? corename() : "(openblas_get_corename not found)");
    }
    if (!g_blas)
        printf("OpenBLAS: not available (%s); comparison skipped\n", lib ? "no cblas_sgemm" : dlerror());
    printf("nabla: isa %s, %d threads; best of repetitions over %.2f s, %d rounds\n\n", nb_cpu_gemm_isa(), nt,
           secs, rounds);
    printf("%-21s %5s %5s %6s %6s %6s %4s | %7s %8s %6s %11s | %s\n", "shape", "batch", "M", "N", "K", "beta",
           "", "nabla", "openblas", "ratio", "round range", "max rel diff");

    double geo = 0.0, worst = 1e30;
    int ngeo = 0;
    for (size_t i = 0; i < N_SHAPES; i++) {
        const shape *s = &SHAPES[i];
        if (!strstr(s->name, filter)) continue;
        bufs b;
        if (make_bufs(s, &b) != 0) {
            printf("%-21s out of memory\n", s->name);
            free_bufs(&b);
            continue;
        }
        /* Alternating rounds, best of each, so a busy moment hurts neither side alone. */
        double gn = 0.0, gb = 0.0, lo = 1e30, hi = 0.0, diff = 0.0;
        for (int round = 0; round < rounds; round++) {
            double rn, rb;
            round_pair(s, &b, secs, &rn, &rb);
            gn = fmax(gn, rn);
            gb = fmax(gb, rb);
            if (rb > 0.0) {
                lo = fmin(lo, rn / rb);
                hi = fmax(hi, rn / rb);
            }
        }
        if (g_blas) {
            diff = compare_once(s, &b);
            geo += log(gn / gb);
            worst = fmin(worst, gn / gb);
            ngeo++;
        }
        printf("%-21s %5lld %5lld %6lld %6lld %6.1f %4s | %7.1f %8.1f %6.2f %5.2f-%5.2f | %.1e\n", s->name,
               (long long)s->batch, (long long)s->M, (long long)s->N, (long long)s->K, (double)s->beta, "",
               gn, gb, g_blas ? gn / gb : 0.0, g_blas ? lo : 0.0, g_blas ? hi : 0.0, diff);
        fflush(stdout);
        free_bufs(&b);
    }
    if (ngeo)
        printf("geometric mean ratio nabla/openblas: %.3f, lowest %.3f (%d shapes)\n", exp(geo / ngeo), worst,
               ngeo);

    /* Single core, main shape. */
    const shape *s = &SHAPES[0];
    bufs b;
    if (!*filter && make_bufs(s, &b) == 0) {
        nb_set_num_threads(1);
        if (blas_threads) blas_threads(1);
        double gn = 0.0, gb = 0.0;
        for (int round = 0; round < rounds; round++) {
            double rn, rb;
            round_pair(s, &b, secs, &rn, &rb);
            gn = fmax(gn, rn);
            gb = fmax(gb, rb);
        }
        printf("\nsingle core %-14s %lldx%lldx%lld: nabla %.1f GFLOP/s, openblas %.1f GFLOP/s, "
               "ratio %.2f\n",
               s->name, (long long)s->M, (long long)s->N, (long long)s->K, gn, gb, g_blas ? gn / gb : 0.0);
        free_bufs(&b);
    }
    nb_cpu_gemm_release();
    if (lib) dlclose(lib);
    return 0;
}
