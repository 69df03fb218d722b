/* backends/cpu/cpu_scratch.c - per-thread growable scratch buffers for the
 * CPU kernels. Every buffer is linked into a global list, so it stays
 * reachable (no leak report) for the life of the process; a thread that exits
 * leaves its buffers to the next new thread (a program that starts a thread per
 * request does not grow a set of buffers per request). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "backends/cpu/cpu_math.h"

typedef struct scratch {
    float *p;
    size_t cap;
    bool busy; /* owned by a live thread */
    struct scratch *next;
} scratch;

static scratch *scratch_list;
static _Atomic uint64_t scratch_allocs; /* buffers taken from the system, ever */
static _Thread_local scratch *mine[NB_SCRATCH_SLOTS];
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* At a thread's exit (its own variables are still readable): its buffers go back to the list. */
static void thread_exit(void *unused) {
    (void)unused;
#pragma omp critical(nb_cpu_scratch_list)
    for (int i = 0; i < NB_SCRATCH_SLOTS; i++)
        if (mine[i]) mine[i]->busy = false, mine[i] = NULL;
}

static void make_exit_key(void) { (void)pthread_key_create(&exit_key, thread_exit); }

float *nb_cpu_scratch(int slot, size_t n) {
    if (slot < 0 || slot >= NB_SCRATCH_SLOTS) return NULL;
    scratch *s = mine[slot];
    if (!s) {
#pragma omp critical(nb_cpu_scratch_list)
        {
            for (s = scratch_list; s && s->busy; s = s->next) /* one an exited thread left */
                ;
            if (!s && (s = calloc(1, sizeof *s)) != NULL) {
                s->next = scratch_list;
                scratch_list = s;
            }
            if (s) s->busy = true;
        }
        if (!s) return NULL;
        mine[slot] = s;
        pthread_once(&exit_once, make_exit_key);
        (void)pthread_setspecific(exit_key, mine); /* any non-NULL value: the destructor runs */
    }
    if (s->cap < n) {
        size_t bytes = (n * sizeof(float) + 4095) & ~(size_t)4095;
        float *p = aligned_alloc(64, bytes);
        if (!p) return NULL;
        scratch_allocs++;
        free(s->p);
        s->p = p;
        s->cap = bytes / sizeof(float);
    }
    return s->p;
}

uint64_t nb_cpu_scratch_allocs(void) { return scratch_allocs; }
