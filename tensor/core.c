/* tensor/core.c - dtypes, devices, threads, ids and library initialisation. */
#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "nabla/autograd.h"
#include "tensor/internal.h"

size_t nb_dtype_size(nb_dtype dt) {
    switch (dt) {
    case NB_F32:
    case NB_I32: return 4;
    case NB_F16:
    case NB_BF16: return 2;
    default: return 0;
    }
}

const char *nb_dtype_name(nb_dtype dt) {
    static const char *names[] = {"f32", "i32", "f16", "bf16"};
    return (unsigned)dt < NB_DTYPE_COUNT ? names[dt] : "?";
}

const char *nb_device_name(nb_device dev) {
    return dev == NB_CPU ? "cpu" : dev == NB_CUDA ? "cuda" : "?";
}

const char *nb_version(void) { return "0.1.0"; }

static int nb_threads = 0;
static pthread_once_t nb_once = PTHREAD_ONCE_INIT;

/* At most this many threads (OpenMP's stacks for 100000 threads overflow the process). */
#define NB_MAX_THREADS 1024

static void init(void) {
    const char *e = getenv("NABLA_NUM_THREADS");
    int n = 0;
    if (e && *e) {
        char *end;
        errno = 0;
        long v = strtol(e, &end, 10);
        if (errno || end == e || *end || v < 1 || v > NB_MAX_THREADS)
            fprintf(stderr,
                    "nabla: NABLA_NUM_THREADS='%s' is not a whole number from 1 to %d; using all %d cores\n",
                    e, NB_MAX_THREADS, omp_get_num_procs());
        else
            n = (int)v;
    }
    nb_threads = n > 0 ? n : omp_get_num_procs();
    /* OpenMP's own default (used by the GEMM and any omp region without num_threads) follows
     * nabla's setting, so that NABLA_NUM_THREADS / nb_set_num_threads bound every kernel. */
    omp_set_num_threads(nb_threads);
    const char *a = getenv("NABLA_ANOMALY");
    if (a && *a && *a != '0') nb_set_anomaly(true);
}

void nb_init_once(void) { pthread_once(&nb_once, init); }

void nb_set_num_threads(int n) {
    nb_init_once();
    nb_threads = n > NB_MAX_THREADS ? NB_MAX_THREADS : n > 0 ? n : omp_get_num_procs();
    omp_set_num_threads(nb_threads);
}

int nb_get_num_threads(void) {
    nb_init_once();
    return nb_threads;
}

int nb_nthreads(void) { return nb_get_num_threads(); }

static atomic_uint_fast64_t nb_ids = 1;

uint64_t nb_next_id(void) { return atomic_fetch_add(&nb_ids, 1); }
