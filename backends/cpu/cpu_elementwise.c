/* backends/cpu/cpu_elementwise.c - elementwise kernels, expanded from the op
 * table in ops/elementwise.def (one switch case per op, each with a
 * contiguous loop the compiler vectorises and a strided one). */
#include <math.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/cpu_math.h"
#define NB_EW_EXPF nb_cpu_expf /* GELU's exp, vectorisable (see below) */
#include "ops/elementwise_math.h"

/* lgammaf writes the global signgam, a data race between the OpenMP threads: the table's
 * lgammaf runs as the reentrant lgammaf_r here (the same value) */
static inline float nb_lgammaf_r(float x) {
    int sign;
    return lgammaf_r(x, &sign);
}
#define lgammaf nb_lgammaf_r

/* `omp simd` is a hint: clang must not warn when it cannot honour it (e.g. -O0, sanitizers). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Hot loops compiled for AVX-512, AVX2 and the baseline; the loader picks one for the machine
 * (the same choice on every run). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define EW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define EW_CLONES
#endif

/* ---- GELU ---------------------------------------------------------------------------------
 * GELU is the one transcendental op on a transformer's hot path (the MLP's [B,T,4C]
 * activations, forward and backward). Its loops run ops/elementwise_math.h's nb_gelu_f and
 * nb_gelu_df (x sigmoid(2u), which does not cancel in the negative tail as 0.5 x (1 + tanh u)
 * does) with cpu_math.h's vectorisable exp in place of libm's scalar expf (NB_EW_EXPF above):
 * the same formulas as the CUDA kernels. Relative error over [-12, 12] against double: about
 * 1e-6 for |x| < 3, 1.3e-5 in the far negative tail (where the tanh form was off by 100%). */

EW_CLONES static void gelu_run(int64_t n, float *restrict o, int64_t so, const float *restrict in,
                               int64_t si) {
    if (so == 1 && si == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            o[i] = nb_gelu_f(in[i]);
    } else {
        for (int64_t i = 0; i < n; i++)
            o[i * so] = nb_gelu_f(in[i * si]);
    }
}

EW_CLONES static void gelu_bw_run(int64_t n, float *restrict gi, int64_t sgi, const float *restrict go,
                                  int64_t sgo, const float *restrict xs, int64_t sx) {
    if (sgi == 1 && sgo == 1 && sx == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            gi[i] = go[i] * nb_gelu_df(xs[i]);
    } else { /* e.g. g broadcast from a sum (stride 0): gathers, still vectorised */
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            gi[i * sgi] = go[i * sgo] * nb_gelu_df(xs[i * sx]);
    }
}

typedef struct {
    int op;
    float p0, p1;
} un_args;

static void un_run(void *u, int64_t n, char **p, const int64_t *st) {
    const un_args *a = u;
    float *o = (float *)p[0];
    const float *in = (const float *)p[1];
    const float p0 = a->p0, p1 = a->p1;
    (void)p0, (void)p1;
    if (a->op == NB_UN_GELU) {
        gelu_run(n, o, st[0], in, st[1]);
        return;
    }
    switch ((nb_unop)a->op) {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER)                                                   \
    case NB_UN_##NAME:                                                                \
        if (st[0] == 1 && st[1] == 1) {                                               \
            for (int64_t i = 0; i < n; i++) {                                         \
                float x = in[i];                                                      \
                o[i] = (FWD);                                                         \
            }                                                                         \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                         \
                float x = in[i * st[1]];                                              \
                o[i * st[0]] = (FWD);                                                 \
            }                                                                         \
        }                                                                             \
        break;
#include "ops/elementwise.def"
#undef NB_UNARY_OP
    default: break;
    }
}

int nb_cpu_unary(nb_unop op, nb_tensor *out, const nb_tensor *a, float p0, float p1) {
    nb_loop L;
    const nb_tensor *t[2] = {out, a};
    nb_loop_init(&L, 2, t);
    un_args args = {(int)op, p0, p1};
    nb_loop_run(&L, un_run, &args);
    return 0;
}

static void unb_run(void *u, int64_t n, char **p, const int64_t *st) {
    const un_args *a = u;
    float *gi = (float *)p[0];
    const float *go = (const float *)p[1], *xs = (const float *)p[2], *ys = (const float *)p[3];
    const float p0 = a->p0, p1 = a->p1;
    (void)p0, (void)p1;
    if (a->op == NB_UN_GELU) {
        gelu_bw_run(n, gi, st[0], go, st[1], xs, st[2]);
        return;
    }
    switch ((nb_unop)a->op) {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER)                                                                   \
    case NB_UN_##NAME:                                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                                    \
            float g = go[i * st[1]], x = xs[i * st[2]], y = ys[i * st[3]];                                   \
            (void)g, (void)x, (void)y;                                                                       \
            gi[i * st[0]] = (DER);                                                                           \
        }                                                                                                    \
        break;
#include "ops/elementwise.def"
#undef NB_UNARY_OP
    default: break;
    }
}

int nb_cpu_unary_backward(nb_unop op, nb_tensor *gin, const nb_tensor *gout, const nb_tensor *x,
                          const nb_tensor *y, float p0, float p1) {
    nb_loop L;
    const nb_tensor *t[4] = {gin, gout, x, y};
    nb_loop_init(&L, 4, t);
    un_args args = {(int)op, p0, p1};
    nb_loop_run(&L, unb_run, &args);
    return 0;
}

static void bin_run(void *u, int64_t n, char **p, const int64_t *st) {
    int op = *(const int *)u;
    float *o = (float *)p[0];
    const float *as = (const float *)p[1], *bs = (const float *)p[2];
    switch ((nb_binop)op) {
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF)                                         \
    case NB_BIN_##NAME:                                                               \
        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {                                 \
            for (int64_t i = 0; i < n; i++) {                                         \
                float a = as[i], b = bs[i];                                           \
                o[i] = (FWD);                                                         \
            }                                                                         \
        } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {                          \
            const float b = bs[0];                                                    \
            for (int64_t i = 0; i < n; i++) {                                         \
                float a = as[i];                                                      \
                o[i] = (FWD);                                                         \
            }                                                                         \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                         \
                float a = as[i * st[1]], b = bs[i * st[2]];                           \
                o[i * st[0]] = (FWD);                                                 \
            }                                                                         \
        }                                                                             \
        break;
#include "ops/elementwise.def"
#undef NB_BINARY_OP
    default: break;
    }
}

int nb_cpu_binary(nb_binop op, nb_tensor *out, const nb_tensor *a, const nb_tensor *b) {
    nb_loop L;
    const nb_tensor *t[3] = {out, a, b};
    nb_loop_init(&L, 3, t);
    int o = (int)op;
    nb_loop_run(&L, bin_run, &o);
    return 0;
}

typedef struct {
    int op, which; /* which: 0 -> d/da, 1 -> d/db */
} binb_args;

static void binb_run(void *u, int64_t n, char **p, const int64_t *st) {
    const binb_args *ar = u;
    float *gx = (float *)p[0];
    const float *gs = (const float *)p[1], *as = (const float *)p[2], *bs = (const float *)p[3];
    /* y is recomputed from a and b: cheaper than a fifth operand */
    switch ((nb_binop)ar->op) {
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF)                                                         \
    case NB_BIN_##NAME:                                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                                    \
            float g = gs[i * st[1]], a = as[i * st[2]], b = bs[i * st[3]];                                   \
            float y = (FWD);                                                                                 \
            (void)g, (void)y;                                                                                \
            gx[i * st[0]] = ar->which ? (float)(DB) : (float)(DA);                                           \
        }                                                                                                    \
        break;
#include "ops/elementwise.def"
#undef NB_BINARY_OP
    default: break;
    }
}

int nb_cpu_binary_backward(nb_binop op, nb_tensor *ga, nb_tensor *gb, const nb_tensor *g,
                           const nb_tensor *a, const nb_tensor *b, const nb_tensor *y) {
    (void)y;
    for (int w = 0; w < 2; w++) {
        nb_tensor *gx = w ? gb : ga;
        if (!gx) continue;
        nb_loop L;
        const nb_tensor *t[4] = {gx, g, a, b};
        nb_loop_init(&L, 4, t);
        binb_args args = {(int)op, w};
        nb_loop_run(&L, binb_run, &args);
    }
    return 0;
}

static void where_run(void *u, int64_t n, char **p, const int64_t *st) {
    (void)u;
    float *o = (float *)p[0];
    const float *c = (const float *)p[1], *a = (const float *)p[2], *b = (const float *)p[3];
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = c[i * st[1]] != 0.0f ? a[i * st[2]] : b[i * st[3]];
}

int nb_cpu_where(nb_tensor *out, const nb_tensor *cond, const nb_tensor *a, const nb_tensor *b) {
    nb_loop L;
    const nb_tensor *t[4] = {out, cond, a, b};
    nb_loop_init(&L, 4, t);
    nb_loop_run(&L, where_run, NULL);
    return 0;
}

static void axpy_run(void *u, int64_t n, char **p, const int64_t *st) {
    float alpha = *(const float *)u;
    float *y = (float *)p[0];
    const float *x = (const float *)p[1];
    if (st[0] == 1 && st[1] == 1)
        for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
    else if (st[0] == 1 && st[1] == 0) { /* a broadcast x (a sum's gradient) */
        const float ax = alpha * x[0];
        for (int64_t i = 0; i < n; i++)
            y[i] += ax;
    } else
        for (int64_t i = 0; i < n; i++) y[i * st[0]] += alpha * x[i * st[1]];
}

int nb_cpu_axpy(nb_tensor *y, float alpha, const nb_tensor *x) {
    nb_loop L;
    const nb_tensor *t[2] = {y, x};
    nb_loop_init(&L, 2, t);
    nb_loop_run(&L, axpy_run, &alpha);
    return 0;
}
