/* backends/cpu/cpu_scratch.c - per-thread growable scratch buffers for the
 * CPU kernels. Every buffer is linked into a global list, so it stays
 * reachable (no leak report) for the life of the process. */
#include <stdint.h>
#include <stdlib.h>

#include "backends/cpu/cpu_math.h"

typedef struct scratch {
    float *p;
    size_t cap;
    struct scratch *next;
} scratch;

static scratch *scratch_list;
static _Atomic uint64_t scratch_allocs; /* buffers taken from the system, ever */
static _Thread_local scratch *mine[NB_SCRATCH_SLOTS];

float *nb_cpu_scratch(int slot, size_t n) {
    if (slot < 0 || slot >= NB_SCRATCH_SLOTS) return NULL;
    scratch *s = mine[slot];
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
#pragma omp critical(nb_cpu_scratch_list)
        {
            s->next = scratch_list;
            scratch_list = s;
        }
        mine[slot] = s;
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
