/* backends/cpu/gemm_ws.c - the GEMM's packing-buffer cache: a list of workspaces, each claimed by one thread
 * for the length of one GEMM (or one batch slice). Buffers grow to the largest size seen and are kept, so
 * steady-state loops do not allocate. The list head is static, so unreleased buffers stay reachable
 * (LSan-clean). */
#include "backends/cpu/gemm.h"
#include "backends/cpu/gemm_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static nb_gemm_ws *g_ws_list;
/* Threads' own workspaces (nb_gemm_ws_mine), apart from the shared list so that claiming one
 * never changes which buffers the shared list hands out; busy while their thread lives. */
static nb_gemm_ws *g_mine_list;
static uint64_t g_cache_bytes, g_cache_allocs;
/* Bumped by nb_cpu_gemm_release, which frees every workspace: a thread's own one is then gone
 * and is claimed anew. */
static _Atomic uint64_t g_generation = 1;
static _Thread_local nb_gemm_ws *t_mine;
static _Thread_local uint64_t t_mine_gen;
static pthread_key_t g_exit_key;
static pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;

/* Claims n free workspaces (creating them as needed) in list order, so the same call sequence
 * always gets the same buffers. out[i] is NULL where memory ran out. */
void nb_gemm_ws_acquire(int n, nb_gemm_ws **out) {
#pragma omp critical(nb_cpu_gemm_ws)
    {
        nb_gemm_ws *w = g_ws_list, **tail = &g_ws_list;
        for (int i = 0; i < n; i++) {
            while (w && w->busy) {
                tail = &w->next;
                w = w->next;
            }
            if (!w) {
                w = calloc(1, sizeof *w);
                if (w) {
                    *tail = w; /* appended: earlier workspaces keep their places */
                    g_cache_allocs++;
                }
            }
            out[i] = w;
            if (w) w->busy = 1;
        }
    }
}

void nb_gemm_ws_release(int n, nb_gemm_ws **ws) {
#pragma omp critical(nb_cpu_gemm_ws)
    for (int i = 0; i < n; i++)
        if (ws[i]) ws[i]->busy = 0;
}

/* At a thread's exit: its own workspace is free for the next new thread, unless a release has
 * freed it since (then another thread may own a new workspace at the same address: the
 * generation tells, not the pointer). The thread's own variables are still readable here. */
static void thread_exit(void *mine) {
#pragma omp critical(nb_cpu_gemm_ws)
    if (mine == t_mine && t_mine_gen == atomic_load(&g_generation)) t_mine->busy = 0;
}

static void make_exit_key(void) { (void)pthread_key_create(&g_exit_key, thread_exit); }

nb_gemm_ws *nb_gemm_ws_mine(void) {
    const uint64_t gen = atomic_load(&g_generation);
    if (t_mine && t_mine_gen == gen) return t_mine;
    nb_gemm_ws *w = NULL;
#pragma omp critical(nb_cpu_gemm_ws)
    {
        for (w = g_mine_list; w && w->busy; w = w->next) /* one a finished thread left */
            ;
        if (!w && (w = calloc(1, sizeof *w)) != NULL) {
            w->next = g_mine_list;
            g_mine_list = w;
            g_cache_allocs++;
        }
        if (w) w->busy = 1; /* no other thread is handed it */
    }
    if (!w) return NULL;
    t_mine = w, t_mine_gen = gen;
    pthread_once(&g_exit_once, make_exit_key);
    (void)pthread_setspecific(g_exit_key, w);
    return w;
}

/* Grows *buf to hold at least `need` floats (64-byte aligned); 0 on success. */
int nb_gemm_ws_grow(float **buf, size_t *cap, size_t need) {
    if (*cap >= need) return 0;
    size_t bytes = (need * sizeof(float) + 4095) & ~(size_t)4095;
    float *p = aligned_alloc(64, bytes);
    if (!p) return -1;
#pragma omp critical(nb_cpu_gemm_ws)
    {
        g_cache_bytes += bytes - *cap * sizeof(float);
        g_cache_allocs++;
    }
    free(*buf);
    *buf = p;
    *cap = bytes / sizeof(float);
    return 0;
}

/* Makes every workspace in ws[0..n) hold na + nb floats; one that cannot is released and set
 * to NULL (its part then runs the naive loop). Returns -1 if any failed. */
int nb_gemm_ws_reserve(int n, nb_gemm_ws **ws, size_t na, size_t nb) {
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (ws[i] && (nb_gemm_ws_grow(&ws[i]->a, &ws[i]->acap, na) != 0 ||
                      nb_gemm_ws_grow(&ws[i]->b, &ws[i]->bcap, nb) != 0)) {
            nb_gemm_ws_release(1, &ws[i]);
            ws[i] = NULL;
        }
        if (!ws[i]) rc = -1;
    }
    return rc;
}

void nb_cpu_gemm_release(void) {
#pragma omp critical(nb_cpu_gemm_ws)
    {
        nb_gemm_ws *lists[2] = {g_ws_list, g_mine_list};
        for (int l = 0; l < 2; l++)
            for (nb_gemm_ws *w = lists[l]; w;) {
                nb_gemm_ws *next = w->next;
                free(w->a);
                free(w->b);
                free(w);
                w = next;
            }
        g_ws_list = g_mine_list = NULL;
        g_cache_bytes = 0;
        atomic_fetch_add(&g_generation, 1);
    }
}

uint64_t nb_cpu_gemm_cache_bytes(void) {
    uint64_t v;
#pragma omp critical(nb_cpu_gemm_ws)
    v = g_cache_bytes;
    return v;
}

uint64_t nb_cpu_gemm_cache_allocs(void) {
    uint64_t v;
#pragma omp critical(nb_cpu_gemm_ws)
    v = g_cache_allocs;
    return v;
}
