/* backends/cuda/cuda_alloc.c - the device caching allocator.
 *
 * Requests are rounded up to a size class (eight classes per power of two,
 * at least 512 bytes, so at most 12.5% is wasted) and served from that
 * class's free list; the driver (cuMemAlloc) is asked only when the list is
 * empty. Freed blocks go back to their list, not to the driver, so a
 * training loop that frees and re-allocates the same sizes (contexts' chunks,
 * scratch, temporaries) stops calling the driver after its first step. All
 * work runs on one stream, so a block freed while queued kernels still use it
 * can be handed out again at once: later kernels run after those.
 * When the driver is out of memory, the cache is returned to it and the
 * allocation retried once; then the caller gets an error naming the sizes. */
#include <pthread.h>
#include <stdlib.h>

#include "backends/cuda/cuda_internal.h"
#include "nabla/cuda.h"

#define NB_CU_MIN_BLOCK 512
#define NB_CU_NCLASS 360 /* (log2 - 9) * 8 + sub, up to 2^54 bytes */

typedef struct blk {
    CUdeviceptr p;
    size_t size;
    struct blk *next;
} blk;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static blk *free_list[NB_CU_NCLASS];
static blk *used;    /* blocks handed out */
static blk *records; /* spare records */
static size_t bytes_used, bytes_cached, bytes_peak;

/* The class of a request and its rounded size; -1 when absurdly large. */
static int size_class(size_t n, size_t *rounded) {
    if (n <= NB_CU_MIN_BLOCK) {
        *rounded = NB_CU_MIN_BLOCK;
        return 0;
    }
    int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
    size_t step = (size_t)1 << (e - 3);                        /* eight steps from 2^e to 2^(e+1) */
    size_t r = (n + step - 1) / step * step;
    int cls = 1 + (e - 9) * 8 + (int)(r / step) - 9;
    if (cls < 0 || cls >= NB_CU_NCLASS) return -1;
    *rounded = r;
    return cls;
}

static blk *record(void) {
    blk *b = records;
    if (b) {
        records = b->next;
        return b;
    }
    return malloc(sizeof *b);
}

/* Returns every cached block to the driver (lock held). */
static void release_cached(void) {
    int synced = 0;
    for (int c = 0; c < NB_CU_NCLASS; c++) {
        while (free_list[c]) {
            blk *b = free_list[c];
            if (!synced) {
                nb_cu.cu.cuCtxSynchronize();
                synced = 1;
            }
            nb_cu.cu.cuMemFree(b->p);
            bytes_cached -= b->size;
            free_list[c] = b->next;
            b->next = records;
            records = b;
        }
    }
}

/* NABLA_DEBUG_EXACT_ALLOC=1 (nb_debug_exact_alloc): no size classes and no cache, each request
 * goes to the driver at its exact size and back to it when freed. */
static bool exact(void) { return nb_debug_exact_alloc(); }

void *nb_cu_alloc(size_t nbytes) {
    size_t size;
    int cls = size_class(nbytes, &size);
    if (cls >= 0 && exact()) size = nbytes ? nbytes : 1;
    if (cls < 0)
        return nb_set_error("cuda: out of memory: %zu bytes requested (more than any GPU has)",
                            nbytes);
    pthread_mutex_lock(&mu);
    blk *b = exact() ? NULL : free_list[cls];
    if (b) {
        free_list[cls] = b->next;
        bytes_cached -= b->size;
    } else {
        b = record();
        if (!b) {
            pthread_mutex_unlock(&mu);
            return nb_set_error("cuda: out of host memory for an allocation record");
        }
        CUresult rc = nb_cu.cu.cuMemAlloc(&b->p, size);
        if (rc == NB_CU_ERROR_OUT_OF_MEMORY) {
            release_cached();
            rc = nb_cu.cu.cuMemAlloc(&b->p, size);
        }
        if (rc != NB_CU_SUCCESS) {
            b->next = records;
            records = b;
            size_t fr = 0, tot = 0;
            nb_cu.cu.cuMemGetInfo(&fr, &tot);
            size_t u = bytes_used;
            pthread_mutex_unlock(&mu);
            if (rc == NB_CU_ERROR_OUT_OF_MEMORY)
                return nb_set_error("cuda: out of memory allocating %zu bytes (%zu requested): "
                                    "nabla holds %zu bytes in use; the GPU has %zu of %zu bytes "
                                    "free",
                                    size, nbytes, u, fr, tot);
            nb_cu_fail("cuMemAlloc", rc);
            return NULL;
        }
        b->size = size;
    }
    b->next = used;
    used = b;
    bytes_used += b->size;
    if (bytes_used > bytes_peak) bytes_peak = bytes_used;
    pthread_mutex_unlock(&mu);
    return (void *)(uintptr_t)b->p;
}

void nb_cu_free(void *p) {
    if (!p) return;
    pthread_mutex_lock(&mu);
    blk **pp = &used;
    while (*pp && (*pp)->p != (CUdeviceptr)(uintptr_t)p) pp = &(*pp)->next;
    blk *b = *pp;
    if (b && exact()) {
        *pp = b->next;
        bytes_used -= b->size;
        nb_cu.cu.cuMemFree(b->p); /* in stream order after the kernels queued before it */
        b->next = records;
        records = b;
    } else if (b) {
        *pp = b->next;
        bytes_used -= b->size;
        size_t r;
        int cls = size_class(b->size, &r);
        b->next = free_list[cls];
        free_list[cls] = b;
        bytes_cached += b->size;
    }
    pthread_mutex_unlock(&mu);
}

/* ---- scratch -------------------------------------------------------------------------- */

static struct {
    void *p;
    size_t cap;
} scratch[4];

void *nb_cu_scratch(int slot, size_t nbytes) {
    if (slot < 0 || slot >= 4) return nb_set_error("cuda: bad scratch slot %d", slot);
    if (scratch[slot].cap >= nbytes && scratch[slot].p) return scratch[slot].p;
    size_t want = nbytes < 65536 ? 65536 : nbytes + nbytes / 4;
    void *p = nb_cu_alloc(want);
    if (!p) return NULL;
    nb_cu_free(scratch[slot].p); /* stream order keeps queued users safe */
    scratch[slot].p = p;
    scratch[slot].cap = want;
    return p;
}

void nb_cu_release_cached(void) {
    for (int s = 0; s < 4; s++) {
        nb_cu_free(scratch[s].p);
        scratch[s].p = NULL;
        scratch[s].cap = 0;
    }
    pthread_mutex_lock(&mu);
    release_cached();
    pthread_mutex_unlock(&mu);
}

/* ---- public (nabla/cuda.h) ---------------------------------------------------------------- */

void nb_cuda_memory_stats(size_t *in_use, size_t *cached, size_t *peak) {
    pthread_mutex_lock(&mu);
    if (in_use) *in_use = bytes_used;
    if (cached) *cached = bytes_cached;
    if (peak) *peak = bytes_peak;
    pthread_mutex_unlock(&mu);
}

void nb_cuda_empty_cache(void) {
    if (nb_cu_enter()) return; /* also makes the context current on this thread */
    nb_cu_release_cached();
}
