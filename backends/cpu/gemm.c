/* backends/cpu/gemm.c - the GEMM driver: argument checks, ISA dispatch and the OpenMP split of
 * C. One thread's blocked GEMM of a rectangle lives in gemm_block.c, the per-thread packing
 * buffers in gemm_ws.c, the packing routines and micro-kernels in gemm_generic.c, gemm_avx2.c
 * and gemm_avx512.c. */
#include "backends/cpu/gemm.h"
#include "backends/cpu/gemm_internal.h"
#include "tensor/internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- errors ------------------------------------------------------------------------------ */

static _Thread_local char g_err[256];

#define GEMM_ERR(...) set_err(__FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static void set_err(const char *file, int line, const char *fmt, ...) {
    int n = snprintf(g_err, sizeof g_err, "%s:%d: ", file, line);
    if (n < 0 || (size_t)n >= sizeof g_err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err + n, sizeof g_err - (size_t)n, fmt, ap);
    va_end(ap);
}

const char *nb_cpu_gemm_last_error(void) { return g_err; }

/* ---- ISA dispatch ------------------------------------------------------------------------ */

static _Atomic(const nb_gemm_impl *) g_impl;

static int cpu_has(const char *isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (strcmp(isa, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma");
    if (strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return strcmp(isa, "generic") == 0;
}

static const nb_gemm_impl *impl_named(const char *isa) {
    if (strcmp(isa, "avx512") == 0) return nb_gemm_impl_avx512();
    if (strcmp(isa, "avx2") == 0) return nb_gemm_impl_avx2();
    if (strcmp(isa, "generic") == 0) return nb_gemm_impl_generic();
    return NULL;
}

static const nb_gemm_impl *impl_best(void) {
    static const char *order[] = {"avx512", "avx2"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        const nb_gemm_impl *im = impl_named(order[i]);
        if (im && cpu_has(order[i])) return im;
    }
    return nb_gemm_impl_generic();
}

static const nb_gemm_impl *impl_get(void) {
    const nb_gemm_impl *im = atomic_load(&g_impl);
    if (!im) {
        im = impl_best();
        atomic_store(&g_impl, im);
    }
    return im;
}

int nb_cpu_gemm_force_isa(const char *isa) {
    if (!isa || strcmp(isa, "auto") == 0) {
        atomic_store(&g_impl, impl_best());
        return 0;
    }
    const nb_gemm_impl *im = impl_named(isa);
    if (!im || !cpu_has(isa)) return -1;
    atomic_store(&g_impl, im);
    return 0;
}

const char *nb_cpu_gemm_isa(void) { return impl_get()->name; }

/* ---- threads ------------------------------------------------------------------------------- */

static int max_threads(void) {
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
    int n = nb_nthreads(); /* nb_set_num_threads / NABLA_NUM_THREADS */
    return n < 1 ? 1 : n;
#else
    return 1;
#endif
}

/* Picks a pm x pn grid of rectangles for nt threads: balanced in register tiles and cheapest
 * in packing (splitting M makes every thread pack all of its B columns, splitting N makes every
 * thread pack all of A). Returns the number of rectangles used (<= nt). */
static int split_grid(const nb_gemm_impl *im, const gemm_args *g, int nt, int *pm, int *pn) {
    const int64_t tm = cdiv(g->M, im->mr), tn = cdiv(g->N, im->nr);
    double best = -1.0;
    *pm = *pn = 1;
    for (int n = nt; n >= 1 && best < 0.0; n--) {
        for (int a = 1; a <= n; a++) {
            if (n % a != 0 || a > tm || n / a > tn) continue;
            const int b = n / a;
            const double rows = (double)(cdiv(tm, a) * im->mr);
            const double cols = (double)(cdiv(tn, b) * im->nr);
            const double K = (double)g->K;
            /* B is packed once per block of rows, unless read in place (nb_gemm_rect_kblock), which
             * still streams it once (half the cost of a copy, measured). */
            const double bpack = !g->tb && rows <= DIRECT_B_MAX_M
                                     ? 0.5 * cols * K
                                     : cols * K * (double)cdiv((int64_t)rows, im->mc);
            const double cost = rows * cols * K / 16.0 + rows * K + bpack;
            if (best < 0.0 || cost < best) {
                best = cost;
                *pm = a;
                *pn = b;
            }
        }
    }
    return *pm * *pn;
}

#define MAX_PARTS 256

/* One rectangle with workspace w, or the naive loop when w is NULL (out of memory). */
static void run_rect(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws *w, int64_t i0, int64_t i1,
                     int64_t j0, int64_t j1) {
    if (w)
        nb_gemm_rect(im, g, w, i0, i1, j0, j1);
    else
        nb_gemm_rect_naive(g, i0, i1, j0, j1);
}

/* Largest shared packed block (floats): op(A) of all M rows, or op(B) of all N columns, for one
 * K block (2.4 MB for 1536 x 384). */
#define SHARE_MAX ((int64_t)1 << 20)

/* Cooperative packing (gemm_team) on or off; off by default: on the 2-core Zen 4 VM it measured
 * 3-5% slower than letting each thread pack its own copy (the shared panels then move between
 * the cores' caches), and split_grid already avoids the costly duplicates. */
static atomic_int g_share_pack;

int nb_cpu_gemm_set_shared_packing(int on) { return atomic_exchange(&g_share_pack, on != 0); }

/* Whether nb_gemm_rect takes one of its few-row paths (not blocked) for this GEMM. */
static int small_path(const nb_gemm_impl *im, const gemm_args *g) {
    return g->M <= NB_GEMM_DOT_MAX_M && (g->tb ? im->dot_nt != NULL : im->axpy_nn != NULL);
}

/* The pm x pn rectangles on a team whose threads share one packed operand per K block: op(A) of
 * all rows when share_a (pm == 1: every rectangle has all the rows), else op(B) of all columns
 * (pn == 1). Each thread packs an equal share of the micro-panels into `shared`, a barrier, then
 * every thread computes its rectangles from it; a second barrier before the next K block. Which
 * thread packs a panel changes no value, so C does not depend on the thread count. */
static void gemm_team(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws **ws, int nt, int pm, int pn,
                      int share_a, float *shared) {
    const int64_t tm = cdiv(g->M, im->mr), tn = cdiv(g->N, im->nr);
    const int64_t K = g->K, kc = k_block(im, K);
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num(), step = omp_get_num_threads();
#else
        const int t = 0, step = 1;
#endif
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kb = imin(kc, K - pc);
            if (share_a) {
                const int64_t p0 = tm * t / step * im->mr, p1 = imin(tm * (t + 1) / step * im->mr, g->M);
                if (p0 < p1) im->pack_a(g->ta, a_at(g, p0, pc), g->lda, p1 - p0, kb, shared + p0 * kb);
            } else {
                const int64_t p0 = tn * t / step * im->nr, p1 = imin(tn * (t + 1) / step * im->nr, g->N);
                if (p0 < p1) im->pack_b(g->tb, b_at(g, pc, p0), g->ldb, kb, p1 - p0, shared + p0 * kb);
            }
#pragma omp barrier
            for (int part = t; part < nt; part += step) {
                const int pi = part / pn, pj = part % pn;
                const int64_t i0 = tm * pi / pm * im->mr, i1 = imin(tm * (pi + 1) / pm * im->mr, g->M);
                const int64_t j0 = tn * pj / pn * im->nr, j1 = imin(tn * (pj + 1) / pn * im->nr, g->N);
                if (i0 < i1 && j0 < j1)
                    nb_gemm_rect_kblock(im, g, ws[part], i0, i1, j0, j1, pc, kb,
                                        share_a ? shared + i0 * kb : NULL, share_a ? NULL : shared + j0 * kb);
            }
#pragma omp barrier
        }
    }
}

/* Large GEMMs split only one way (all rows, or all columns, to every thread) whose other operand
 * is small enough to pack whole into each thread's buffer, with at least BAL_MIN_WORK
 * multiply-adds, are balanced at run time (gemm_balanced). The whole operand is at most
 * BAL_SHARED_MAX floats (1 MiB, one core's L2 here): a larger one, packed ahead, has left the L2
 * by the time its blocks are used (1536 x 384 x 1536 measured 2-3% slower with it at 4 MiB). */
#define BAL_SHARED_MAX ((int64_t)1 << 18)
#define BAL_MIN_WORK   5.0e8
/* Share of the split dimension handed out as small pieces at the end, and pieces per thread. */
#define BAL_TAIL_PCT    15
#define BAL_TAIL_PIECES 8
static atomic_int g_balance = 1;

int nb_cpu_gemm_set_balancing(int on) { return atomic_exchange(&g_balance, on != 0); }

/* The pieces of a dimension of `units` register tiles for nt threads: one large first piece per
 * thread (85% of the tiles between them), then up to BAL_TAIL_PIECES small ones per thread;
 * bounds[0..n] in tiles. Returns n. */
static int balanced_pieces(int64_t units, int nt, int64_t *bounds) {
    const int64_t tail = units * BAL_TAIL_PCT / 100, head = units - tail;
    int64_t small = (int64_t)nt * BAL_TAIL_PIECES;
    if (small > tail) small = tail;
    int n = 0;
    bounds[0] = 0;
    for (int t = 0; t < nt; t++)
        bounds[++n] = head * (t + 1) / nt;
    for (int64_t i = 0; i < small; i++)
        bounds[++n] = head + tail * (i + 1) / small;
    return n;
}

/* One GEMM split along rows (split_rows: every piece has all the columns, op(B) packed whole,
 * every K block, once per thread) or along columns (op(A) packed whole once per thread). Every
 * thread takes pieces from a shared counter until none is left: first the nt large ones, then the
 * small ones, so a thread slowed down (by memory, or by the machine) no longer holds the others
 * back at the end, and a team smaller than nt still computes every piece. Which thread computes
 * a piece changes no value: C is the same as nb_gemm_rect's. */
static void gemm_balanced(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws **ws, int nt,
                          int split_rows) {
    const int64_t unit = split_rows ? im->mr : im->nr, kc = k_block(im, g->K);
    const int64_t units = cdiv(split_rows ? g->M : g->N, unit);
    int64_t bounds[MAX_PARTS * (BAL_TAIL_PIECES + 1) + 1];
    const int np = balanced_pieces(units, nt, bounds);
    atomic_int next; /* the next piece to take: the first nt are the large ones */
    atomic_init(&next, 0);
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num();
#else
        const int t = 0;
#endif
        nb_gemm_ws *w = ws[t];
        /* the operand every piece needs, all of its K blocks (span x K floats, as gemm_run grew
         * the buffer): block pc at shared + pc * span */
        float *shared = split_rows ? w->b : w->a;
        const int64_t span = split_rows ? cdiv(g->N, im->nr) * im->nr : cdiv(g->M, im->mr) * im->mr;
        for (int64_t pc = 0; pc < g->K; pc += kc) {
            if (split_rows)
                im->pack_b(g->tb, b_at(g, pc, 0), g->ldb, imin(kc, g->K - pc), g->N, shared + pc * span);
            else
                im->pack_a(g->ta, a_at(g, 0, pc), g->lda, g->M, imin(kc, g->K - pc), shared + pc * span);
        }
        /* with several K blocks a piece goes by blocks of rows (columns), each through all its K
         * blocks while its block of C stays in cache; with one, in one call (which prefetches
         * each next block of B while the current one computes) */
        const int64_t step = g->K <= kc ? INT64_MAX : split_rows ? im->mc : im->nc;
        for (int p = atomic_fetch_add(&next, 1); p < np; p = atomic_fetch_add(&next, 1)) {
            const int64_t end = imin(bounds[p + 1] * unit, split_rows ? g->M : g->N);
            for (int64_t lo = bounds[p] * unit, hi; lo < end; lo = hi) {
                hi = end - lo <= step ? end : lo + step;
                for (int64_t pc = 0; pc < g->K; pc += kc) {
                    const int64_t kb = imin(kc, g->K - pc);
                    if (split_rows)
                        nb_gemm_rect_kblock(im, g, w, lo, hi, 0, g->N, pc, kb, NULL, shared + pc * span);
                    else
                        nb_gemm_rect_kblock(im, g, w, 0, g->M, lo, hi, pc, kb, shared + pc * span, NULL);
                }
            }
        }
    }
}

/* One GEMM on up to nt threads; 0, or -1 when some part ran out of memory (and was computed by
 * the naive loop instead). */
static int gemm_run(const nb_gemm_impl *im, const gemm_args *g, int nt) {
    if (g->K == 0 || g->alpha == 0.0f) {
        nb_gemm_scale_c(g);
        return 0;
    }
    const double work = (double)g->M * (double)g->N * (double)g->K;
    if (work < 65536.0 * 16.0) nt = 1;
    if (nt > MAX_PARTS) nt = MAX_PARTS;
    int pm = 1, pn = 1;
    if (nt > 1) nt = split_grid(im, g, nt, &pm, &pn);
    const int64_t tm = cdiv(g->M, im->mr), tn = cdiv(g->N, im->nr);
    const int64_t max_rows = cdiv(tm, pm) * im->mr, max_cols = cdiv(tn, pn) * im->nr;
    const int64_t kb = k_block(im, g->K);
    /* Threads that would each pack the same block of A (columns split) or of B (rows split, B
     * not read in place) pack it once, together. */
    int share_a = 0, share_b = 0;
    if (nt > 1 && atomic_load(&g_share_pack) && !small_path(im, g)) {
        share_a = pm == 1 && tm * im->mr * kb <= SHARE_MAX;
        share_b = pn == 1 && !(!g->tb && max_rows <= DIRECT_B_MAX_M) && tn * im->nr * kb <= SHARE_MAX;
    }
#ifdef _OPENMP
    if (nt == 1 && omp_in_parallel()) { /* a serial GEMM in the caller's team: this thread's buffers */
        nb_gemm_ws *w = nb_gemm_ws_mine();
        const int ok = w && nb_gemm_ws_grow(&w->a, &w->acap, need_a(im, g, max_rows)) == 0 &&
                       nb_gemm_ws_grow(&w->b, &w->bcap, need_b(im, g, max_cols)) == 0;
        run_rect(im, g, ok ? w : NULL, 0, g->M, 0, g->N);
        return ok ? 0 : -1;
    }
#endif
    nb_gemm_ws *ws[MAX_PARTS];
    nb_gemm_ws_acquire(nt, ws);
    int rc = nb_gemm_ws_reserve(nt, ws, need_a(im, g, max_rows), need_b(im, g, max_cols));
    /* run-time balancing: the operand every thread packs whole, in floats */
    const int64_t whole = pn == 1 ? tn * im->nr * g->K : tm * im->mr * g->K;
    if (rc == 0 && nt > 1 && !share_a && !share_b && (pm == 1 || pn == 1) && whole <= BAL_SHARED_MAX &&
        work >= BAL_MIN_WORK && !small_path(im, g) && atomic_load(&g_balance)) {
        int ok = 1;
        for (int t = 0; t < nt && ok; t++)
            ok = pn == 1 ? nb_gemm_ws_grow(&ws[t]->b, &ws[t]->bcap, (size_t)whole) == 0
                         : nb_gemm_ws_grow(&ws[t]->a, &ws[t]->acap, (size_t)whole) == 0;
        if (ok) {
            gemm_balanced(im, g, ws, nt, pn == 1);
            nb_gemm_ws_release(nt, ws);
            return 0;
        }
    }
    if ((share_a || share_b) && rc == 0) {
        /* The shared block lives in part 0's buffer for that operand, which part 0 then does not
         * use for itself. */
        const int ok = share_a ? nb_gemm_ws_grow(&ws[0]->a, &ws[0]->acap, (size_t)(tm * im->mr * kb)) == 0
                               : nb_gemm_ws_grow(&ws[0]->b, &ws[0]->bcap, (size_t)(tn * im->nr * kb)) == 0;
        if (ok) {
            gemm_team(im, g, ws, nt, pm, pn, share_a, share_a ? ws[0]->a : ws[0]->b);
            nb_gemm_ws_release(nt, ws);
            return 0;
        }
    }
    if (nt == 1) {
        run_rect(im, g, ws[0], 0, g->M, 0, g->N);
    } else {
#pragma omp parallel num_threads(nt)
        {
#ifdef _OPENMP
            int t = omp_get_thread_num(), step = omp_get_num_threads();
#else
            int t = 0, step = 1;
#endif
            for (int part = t; part < nt; part += step) {
                const int pi = part / pn, pj = part % pn;
                const int64_t i0 = tm * pi / pm * im->mr;
                const int64_t i1 = imin(tm * (pi + 1) / pm * im->mr, g->M);
                const int64_t j0 = tn * pj / pn * im->nr;
                const int64_t j1 = imin(tn * (pj + 1) / pn * im->nr, g->N);
                if (i0 < i1 && j0 < j1) run_rect(im, g, ws[part], i0, i1, j0, j1);
            }
        }
    }
    nb_gemm_ws_release(nt, ws);
    return rc;
}

/* A batch of small GEMMs, split evenly across nt threads (each with its own workspace). */
static int gemm_run_batch(const nb_gemm_impl *im, const gemm_args *g, int64_t batch, int nt, int64_t stride_a,
                          int64_t stride_b, int64_t stride_c) {
    if (nt > MAX_PARTS) nt = MAX_PARTS;
    nb_gemm_ws *ws[MAX_PARTS];
    nb_gemm_ws_acquire(nt, ws);
    int rc = nb_gemm_ws_reserve(nt, ws, need_a(im, g, g->M), need_b(im, g, g->N));
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), step = omp_get_num_threads();
#else
        int t = 0, step = 1;
#endif
        for (int part = t; part < nt; part += step) {
            for (int64_t i = batch * part / nt; i < batch * (part + 1) / nt; i++) {
                gemm_args gi = *g;
                gi.A = g->A ? g->A + i * stride_a : NULL;
                gi.B = g->B ? g->B + i * stride_b : NULL;
                gi.C = g->C + i * stride_c;
                if (gi.K == 0 || gi.alpha == 0.0f)
                    nb_gemm_scale_c(&gi);
                else
                    run_rect(im, &gi, ws[part], 0, gi.M, 0, gi.N);
            }
        }
    }
    nb_gemm_ws_release(nt, ws);
    return rc;
}

/* ---- public entry points ------------------------------------------------------------------- */

static int check_args(const char *fn, const gemm_args *g) {
    if (g->M < 0 || g->N < 0 || g->K < 0) {
        GEMM_ERR("%s: negative size M=%lld N=%lld K=%lld", fn, (long long)g->M, (long long)g->N,
                 (long long)g->K);
        return -1;
    }
    if (g->M == 0 || g->N == 0) return 0;
    if (!g->C) {
        GEMM_ERR("%s: C is NULL (M=%lld N=%lld)", fn, (long long)g->M, (long long)g->N);
        return -1;
    }
    if (g->ldc < g->N) {
        GEMM_ERR("%s: ldc=%lld is less than N=%lld", fn, (long long)g->ldc, (long long)g->N);
        return -1;
    }
    if (g->K == 0 || g->alpha == 0.0f) return 0;
    const int64_t arow = g->ta ? g->M : g->K, brow = g->tb ? g->K : g->N;
    if (!g->A || !g->B) {
        GEMM_ERR("%s: %s is NULL (M=%lld N=%lld K=%lld)", fn, !g->A ? "A" : "B", (long long)g->M,
                 (long long)g->N, (long long)g->K);
        return -1;
    }
    if (g->lda < arow) {
        GEMM_ERR("%s: lda=%lld is less than the row length %lld of %s", fn, (long long)g->lda,
                 (long long)arow, g->ta ? "A (transposed, K x M)" : "A (M x K)");
        return -1;
    }
    if (g->ldb < brow) {
        GEMM_ERR("%s: ldb=%lld is less than the row length %lld of %s", fn, (long long)g->ldb,
                 (long long)brow, g->tb ? "B (transposed, N x K)" : "B (K x N)");
        return -1;
    }
    return 0;
}

/* One GEMM on nt threads for the entry point `fn`: 0, or -1 on bad arguments or when a packing
 * buffer could not be allocated (the unblocked loop then computed C); the message is set. */
static int sgemm_on(const char *fn, int nt, const gemm_args *g) {
    g_err[0] = '\0';
    if (check_args(fn, g) != 0) return -1;
    if (g->M == 0 || g->N == 0 || gemm_run(impl_get(), g, nt) == 0) return 0;
    GEMM_ERR("%s: out of memory for packing buffers (M=%lld N=%lld K=%lld); used the unblocked loop", fn,
             (long long)g->M, (long long)g->N, (long long)g->K);
    return -1;
}

void nb_cpu_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    gemm_args g = {trans_a != 0, trans_b != 0, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    (void)sgemm_on("nb_cpu_sgemm", max_threads(), &g);
}

int nb_cpu_sgemm_serial(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc) {
    gemm_args g = {trans_a != 0, trans_b != 0, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    return sgemm_on("nb_cpu_sgemm_serial", 1, &g);
}

void nb_cpu_sgemm_batched(int trans_a, int trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, int64_t stride_a, const float *B,
                          int64_t ldb, int64_t stride_b, float beta, float *C, int64_t ldc,
                          int64_t stride_c) {
    gemm_args g = {trans_a != 0, trans_b != 0, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    g_err[0] = '\0';
    if (batch < 0) {
        GEMM_ERR("nb_cpu_sgemm_batched: negative batch %lld", (long long)batch);
        return;
    }
    if (check_args("nb_cpu_sgemm_batched", &g) != 0 || batch == 0 || M == 0 || N == 0) return;
    if (stride_a < 0 || stride_b < 0 || stride_c < 0) {
        GEMM_ERR("nb_cpu_sgemm_batched: negative stride (a=%lld b=%lld c=%lld)", (long long)stride_a,
                 (long long)stride_b, (long long)stride_c);
        return;
    }
    const nb_gemm_impl *im = impl_get();
    int nt = max_threads();
    const double work = (double)M * (double)N * (double)K;
    /* Matrices of C that do not overlap can be computed by different threads: each thread whole
     * products of its own (no split of one product, no barrier between them) when they are small,
     * or when the batch shares out evenly (a convolution's images); else one product at a time,
     * split across the threads. */
    const int disjoint = stride_c >= (M - 1) * ldc + N;
    const int even = batch % nt == 0 || batch >= 4 * (int64_t)nt;
    int rc = 0;
    if (nt > 1 && batch > 1 && disjoint && (work < 4.0e6 || even)) {
        rc = gemm_run_batch(im, &g, batch, batch < nt ? (int)batch : nt, stride_a, stride_b, stride_c);
    } else {
        for (int64_t i = 0; i < batch; i++) {
            gemm_args gi = g;
            gi.A = A ? A + i * stride_a : NULL;
            gi.B = B ? B + i * stride_b : NULL;
            gi.C = C + i * stride_c;
            rc |= gemm_run(im, &gi, nt) != 0;
        }
    }
    if (rc)
        GEMM_ERR("nb_cpu_sgemm_batched: out of memory for packing buffers (M=%lld N=%lld "
                 "K=%lld); used the unblocked loop",
                 (long long)M, (long long)N, (long long)K);
}
