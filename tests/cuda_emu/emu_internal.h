/* tests/cuda_emu/emu_internal.h - what the parts of the CUDA emulator (emu_driver.c,
 * emu_nvrtc.c, emu_cublas.c: one shared library, see emu_driver.c) share: the CUDA types
 * and status codes, the lock and sticky error of the one context, the statistics, and the
 * check that a range lies inside one device allocation. Internal: hidden from the library's
 * exported symbols. */
#ifndef NB_EMU_INTERNAL_H
#define NB_EMU_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* an entry point of the library (libcuda, NVRTC, cuBLAS); everything else stays inside */
#define EXPORT   __attribute__((visibility("default")))
#define INTERNAL __attribute__((visibility("hidden")))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    CU_OK = 0,
    CU_INVALID_VALUE = 1,
    CU_OUT_OF_MEMORY = 2,
    CU_NOT_INITIALIZED = 3,
    CU_INVALID_IMAGE = 200,
    CU_INVALID_CONTEXT = 201,
    CU_INVALID_HANDLE = 400,
    CU_NOT_FOUND = 500,
    CU_LAUNCH_OUT_OF_RESOURCES = 701,
    CU_LAUNCH_FAILED = 719,
};

/* The first line of the "PTX" NVRTC hands out: this, then the path of the built library. */
#define EMU_PTX_MAGIC "// nabla CUDA emulator module: "

/* Held by every call that touches device memory, statistics or the sticky error. */
extern INTERNAL pthread_mutex_t mu;
/* A failed launch poisons the context, as on a GPU. */
extern INTERNAL CUresult sticky;

/* What the process asked of the "GPU", written at exit to $NB_EMU_STATS when set (one
 * "name value" line each): tests check with it, e.g., that training steps allocate nothing. */
typedef struct {
    unsigned long long allocs, frees, launches, gemms, htod, dtoh, dtod, peak;
} emu_stats;
extern INTERNAL emu_stats stats;

typedef struct alloc alloc;

/* The allocation holding [p, p + n), or NULL. Called with mu held. */
INTERNAL alloc *find(CUdeviceptr p, size_t n);
/* Reports that [p, p + n) is not inside one allocation; CU_INVALID_VALUE. */
INTERNAL CUresult bad_range(const char *what, CUdeviceptr p, size_t n);

#endif
