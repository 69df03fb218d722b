/* tests/cuda_emu/emu_driver.c - a CUDA emulator for testing the CUDA backend on a
 * machine without a GPU: one shared library that stands in for the NVIDIA
 * driver (libcuda), NVRTC and cuBLAS, so that the backend's own host code and
 * its own kernel sources run unchanged on the CPU.
 *
 *   NABLA_LIBCUDA=build/libnbcudaemu.so NABLA_NVRTC=... NABLA_CUBLAS=... prog
 *
 * "NVRTC" compiles a kernel module's CUDA C source with the host C++ compiler
 * (g++, or $NB_EMU_CXX) into a shared library, the device side being
 * tests/cuda_emu/emu_device.h; its "PTX" names that library, which "the driver"
 * loads and launches kernels from (threads as fibers, barriers and warp
 * shuffles with their GPU meaning; see emu_device.h). Built libraries are
 * cached under $NB_EMU_CACHE, keyed by a hash of the source, the options and
 * the device header. "Device memory" is host memory, each allocation ending at
 * a guard page (a kernel or copy running past its end faults), filled with NaN
 * bytes when allocated (a read of memory never written shows up), and every
 * copy, memset and cuBLAS operand is checked to lie inside one allocation.
 * Total device memory is $NB_EMU_MEM_MB (default 4096); asking for more is
 * CUDA_ERROR_OUT_OF_MEMORY. The context is current per thread, as with the driver: a thread
 * that has not called cuCtxSetCurrent gets CUDA_ERROR_INVALID_CONTEXT. cuBLAS's strided-batched SGEMM is a
 * plain loop.
 *
 * Only what backends/cuda/ calls is provided. It is a test tool: speed and
 * concurrency are not its business (one launch at a time, in order).
 *
 * This file is the driver (memory, device and context, modules and launches);
 * emu_nvrtc.c is NVRTC, emu_cublas.c cuBLAS, and emu_internal.h what they share. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/cuda_emu/emu_internal.h"

pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int initialised;
CUresult sticky; /* a failed launch poisons the context, as on a GPU */

/* Whether the primary context is current on the calling thread: as with the driver, a thread
 * must make it current (cuCtxSetCurrent) before it allocates, copies or launches. */
static _Thread_local int ctx_cur;

static CUresult no_ctx(const char *what) {
    fprintf(stderr, "cuda-emu: %s on a thread with no current context\n", what);
    return CU_INVALID_CONTEXT;
}
#define NEED_CTX(what)                                                                                       \
    do {                                                                                                     \
        if (!ctx_cur) return no_ctx(what);                                                                   \
    } while (0)

/* ---- device memory ------------------------------------------------------------------------ */

struct alloc {
    unsigned char *p, *map;
    size_t size, maplen;
    struct alloc *next;
};

static alloc *allocs;
static size_t mem_used;

emu_stats stats; /* see emu_internal.h */

static void write_stats(void) {
    const char *path = getenv("NB_EMU_STATS");
    if (!path || !*path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f,
            "allocs %llu\nfrees %llu\nlaunches %llu\ngemms %llu\nhtod %llu\ndtoh %llu\ndtod %llu\npeak_bytes "
            "%llu\n",
            stats.allocs, stats.frees, stats.launches, stats.gemms, stats.htod, stats.dtoh, stats.dtod,
            stats.peak);
    fclose(f);
}

static size_t mem_limit(void) {
    const char *e = getenv("NB_EMU_MEM_MB");
    long long mb = e && *e ? atoll(e) : 4096;
    return (size_t)(mb > 0 ? mb : 4096) << 20;
}

/* The allocation holding [p, p + n), or NULL. */
alloc *find(CUdeviceptr p, size_t n) {
    for (alloc *a = allocs; a; a = a->next) {
        uintptr_t lo = (uintptr_t)a->p, hi = lo + a->size;
        if (p >= lo && p < hi) return n <= hi - p ? a : NULL;
    }
    return NULL;
}

/* The bytes just around an allocation: its slack (from its size up to the 16-byte boundary at the
 * guard page) and up to 64 bytes before it hold CANARY, so that a kernel writing there is
 * caught after its launch (the guard page catches only what goes past the boundary). The
 * value as a float is -1.7e38: a kernel reading it gets absurd numbers. */
#define CANARY 0xfe
#define FRONT  64

static size_t front_len(const alloc *a) {
    size_t before = (size_t)(a->p - a->map);
    return before < FRONT ? before : FRONT;
}

/* The first allocation whose canaries were overwritten, or NULL (lock held). */
static const alloc *overwritten(size_t *offset) {
    for (const alloc *a = allocs; a; a = a->next) {
        size_t len = (a->size + 15) / 16 * 16, fl = front_len(a);
        for (size_t i = a->size; i < len; i++)
            if (a->p[i] != CANARY) return *offset = i, a;
        for (size_t i = 1; i <= fl; i++)
            if (a->p[-(ptrdiff_t)i] != CANARY) return *offset = (size_t)-i, a;
    }
    return NULL;
}

CUresult bad_range(const char *what, CUdeviceptr p, size_t n) {
    fprintf(stderr, "cuda-emu: %s: [0x%llx, +%zu) is not inside one device allocation\n", what, p, n);
    return CU_INVALID_VALUE;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t size) {
    NEED_CTX("cuMemAlloc");
    if (!out || size == 0) return CU_INVALID_VALUE;
    pthread_mutex_lock(&mu);
    CUresult rc = CU_OUT_OF_MEMORY;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (size + 15) / 16 * 16; /* 16-byte aligned (enough for any vector load) */
    if (size <= mem_limit() && mem_used + size <= mem_limit()) {
        size_t maplen = (len + page - 1) / page * page + page;
        unsigned char *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        alloc *a = m != MAP_FAILED ? malloc(sizeof *a) : NULL;
        if (a && mprotect(m + maplen - page, page, PROT_NONE) == 0) {
            /* the end of the allocation (rounded to 16 bytes) touches the guard page; the bytes
             * before its start are NaN too */
            a->map = m;
            a->maplen = maplen;
            a->p = m + maplen - page - len;
            a->size = size;
            a->next = allocs;
            allocs = a;
            mem_used += size;
            stats.allocs++;
            if (mem_used > stats.peak) stats.peak = mem_used;
            memset(m, 0xff, maplen - page);
            memset(a->p + size, CANARY, len - size);
            memset(a->p - front_len(a), CANARY, front_len(a));
            *out = (CUdeviceptr)(uintptr_t)a->p;
            rc = CU_OK;
        } else {
            free(a);
            if (m != MAP_FAILED) munmap(m, maplen);
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    NEED_CTX("cuMemFree");
    pthread_mutex_lock(&mu);
    CUresult rc = CU_INVALID_VALUE;
    for (alloc **pp = &allocs; *pp; pp = &(*pp)->next) {
        alloc *a = *pp;
        if ((uintptr_t)a->p == p) {
            *pp = a->next;
            mem_used -= a->size;
            stats.frees++;
            munmap(a->map, a->maplen);
            free(a);
            rc = CU_OK;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    if (rc) fprintf(stderr, "cuda-emu: cuMemFree of 0x%llx, which is not an allocation\n", p);
    return rc;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total) {
    NEED_CTX("cuMemGetInfo");
    pthread_mutex_lock(&mu);
    if (free_b) *free_b = mem_limit() - mem_used;
    if (total) *total = mem_limit();
    pthread_mutex_unlock(&mu);
    return CU_OK;
}

static CUresult copy(const char *what, void *dst, const void *src, size_t n, CUdeviceptr dev1,
                     CUdeviceptr dev2) {
    NEED_CTX(what);
    if (n == 0) return CU_OK;
    pthread_mutex_lock(&mu);
    if (dev1 && dev2)
        stats.dtod++;
    else if (dst == (void *)(uintptr_t)dev1)
        stats.htod++;
    else
        stats.dtoh++;
    CUresult rc = sticky;
    if (!rc && dev1 && !find(dev1, n)) rc = bad_range(what, dev1, n);
    if (!rc && dev2 && !find(dev2, n)) rc = bad_range(what, dev2, n);
    if (!rc && (!dst || !src)) rc = CU_INVALID_VALUE;
    if (!rc) memmove(dst, src, n);
    pthread_mutex_unlock(&mu);
    return rc;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *h, size_t n) {
    return copy("cuMemcpyHtoD", (void *)(uintptr_t)d, h, n, d, 0);
}
EXPORT CUresult cuMemcpyDtoH_v2(void *h, CUdeviceptr d, size_t n) {
    return copy("cuMemcpyDtoH", h, (const void *)(uintptr_t)d, n, d, 0);
}
EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) {
    return copy("cuMemcpyDtoD", (void *)(uintptr_t)d, (const void *)(uintptr_t)s, n, d, s);
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
    NEED_CTX("cuMemsetD8");
    if (n == 0) return CU_OK;
    pthread_mutex_lock(&mu);
    CUresult rc = sticky ? sticky : find(d, n) ? CU_OK : bad_range("cuMemsetD8", d, n);
    if (!rc) memset((void *)(uintptr_t)d, v, n);
    pthread_mutex_unlock(&mu);
    return rc;
}

EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
    NEED_CTX("cuMemsetD32");
    if (n == 0) return CU_OK;
    pthread_mutex_lock(&mu);
    CUresult rc = sticky           ? sticky
                  : d % 4 != 0     ? CU_INVALID_VALUE
                  : find(d, n * 4) ? CU_OK
                                   : bad_range("cuMemsetD32", d, n * 4);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            memcpy((unsigned char *)(uintptr_t)d + 4 * i, &v, 4);
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- device, context ---------------------------------------------------------------------- */

EXPORT CUresult cuInit(unsigned flags) {
    if (flags) return CU_INVALID_VALUE;
    /* at exit (registered here, after the sanitizers' own handlers, so it runs before them) */
    if (!initialised && getenv("NB_EMU_STATS")) atexit(write_stats);
    initialised = 1;
    return CU_OK;
}
EXPORT CUresult cuDriverGetVersion(int *v) {
    if (!v) return CU_INVALID_VALUE;
    *v = 12080;
    return CU_OK;
}
EXPORT CUresult cuDeviceGetCount(int *n) {
    if (!n) return CU_INVALID_VALUE;
    *n = initialised ? 1 : 0;
    return initialised ? CU_OK : CU_NOT_INITIALIZED;
}
EXPORT CUresult cuDeviceGet(int *d, int ord) {
    if (!d || ord != 0) return CU_INVALID_VALUE;
    *d = 0;
    return CU_OK;
}
EXPORT CUresult cuDeviceGetName(char *name, int len, int dev) {
    if (!name || len <= 0 || dev != 0) return CU_INVALID_VALUE;
    snprintf(name, (size_t)len, "nabla CUDA emulator (CPU)");
    return CU_OK;
}
EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
    if (!v || dev != 0) return CU_INVALID_VALUE;
    switch (attr) {
    case 16: *v = 2; return CU_OK; /* multiprocessors: small grids, quick tests */
    case 75: *v = 9; return CU_OK; /* compute capability 9.0 */
    case 76: *v = 0; return CU_OK;
    case 97: *v = 227 * 1024; return CU_OK; /* opt-in shared memory per block */
    default: *v = 0; return CU_OK;
    }
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t *b, int dev) {
    if (!b || dev != 0) return CU_INVALID_VALUE;
    *b = mem_limit();
    return CU_OK;
}
static int the_ctx;
EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) {
    if (!ctx || dev != 0) return CU_INVALID_VALUE;
    *ctx = &the_ctx;
    return CU_OK;
}
EXPORT CUresult cuCtxSetCurrent(void *ctx) {
    if (ctx && ctx != &the_ctx) return CU_INVALID_VALUE;
    ctx_cur = ctx != NULL;
    return CU_OK;
}
EXPORT CUresult cuCtxSynchronize(void) {
    NEED_CTX("cuCtxSynchronize");
    return sticky;
}

EXPORT CUresult cuGetErrorString(CUresult rc, const char **s) {
    if (!s) return CU_INVALID_VALUE;
    switch (rc) {
    case CU_OK: *s = "no error"; break;
    case CU_INVALID_VALUE: *s = "invalid argument"; break;
    case CU_OUT_OF_MEMORY: *s = "out of memory"; break;
    case CU_NOT_INITIALIZED: *s = "initialization error"; break;
    case CU_INVALID_IMAGE: *s = "device kernel image is invalid"; break;
    case CU_INVALID_CONTEXT: *s = "invalid device context"; break;
    case CU_INVALID_HANDLE: *s = "invalid resource handle"; break;
    case CU_NOT_FOUND: *s = "named symbol not found"; break;
    case CU_LAUNCH_OUT_OF_RESOURCES: *s = "too many resources requested for launch"; break;
    case CU_LAUNCH_FAILED: *s = "unspecified launch failure"; break;
    default: *s = NULL; return CU_INVALID_VALUE;
    }
    return CU_OK;
}

/* ---- modules, functions, launches ------------------------------------------------------------- */

typedef struct function function;

typedef struct {
    void *so;
    function *fn[64]; /* one handle per kernel, as the driver gives */
    int (*index)(const char *);
    int (*launch)(int, const unsigned *, const unsigned *, unsigned, void **, char *, size_t);
} module;

struct function {
    module *mod;
    int k;
    int max_dyn_smem;
};

static const char ptx_magic[] = EMU_PTX_MAGIC;

EXPORT CUresult cuModuleLoadData(module **out, const void *image) {
    const char *img = image;
    NEED_CTX("cuModuleLoadData");
    if (!out || !img) return CU_INVALID_VALUE;
    if (strncmp(img, ptx_magic, sizeof ptx_magic - 1) != 0) return CU_INVALID_IMAGE;
    char path[1024];
    const char *p = img + sizeof ptx_magic - 1, *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    if (n == 0 || n >= sizeof path) return CU_INVALID_IMAGE;
    memcpy(path, p, n);
    path[n] = '\0';
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "cuda-emu: cannot load %s: %s\n", path, dlerror());
        return CU_INVALID_IMAGE;
    }
    module *m = calloc(1, sizeof *m);
    if (!m) return dlclose(so), CU_OUT_OF_MEMORY;
    m->so = so;
    *(void **)&m->index = dlsym(so, "nb_emu_kernel_index");
    *(void **)&m->launch = dlsym(so, "nb_emu_launch");
    if (!m->index || !m->launch) {
        dlclose(so);
        free(m);
        return CU_INVALID_IMAGE;
    }
    *out = m; /* owned by the (never destroyed) primary context */
    return CU_OK;
}

EXPORT CUresult cuModuleGetFunction(function **out, module *m, const char *name) {
    if (!out || !m || !name) return CU_INVALID_VALUE;
    int k = m->index(name);
    if (k < 0) return CU_NOT_FOUND;
    function *f = k < 64 ? m->fn[k] : NULL;
    if (!f) {
        if (!(f = malloc(sizeof *f))) return CU_OUT_OF_MEMORY;
        f->mod = m;
        f->k = k;
        f->max_dyn_smem = 48 * 1024; /* the default without cuFuncSetAttribute */
        if (k < 64) m->fn[k] = f;
    }
    *out = f;
    return CU_OK;
}

EXPORT CUresult cuFuncSetAttribute(function *f, int attr, int v) {
    if (!f) return CU_INVALID_HANDLE;
    if (attr == 8) { /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
        if (v < 0 || v > 227 * 1024) return CU_INVALID_VALUE;
        f->max_dyn_smem = v;
    }
    return CU_OK;
}

EXPORT CUresult cuLaunchKernel(function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned smem, void *stream, void **params, void **extra) {
    (void)stream;
    NEED_CTX("cuLaunchKernel");
    if (!f) return CU_INVALID_HANDLE;
    if (extra) return CU_INVALID_VALUE;
    if (!gx || !gy || !gz || !bx || !by || !bz || gx > 0x7fffffffu || gy > 65535 || gz > 65535 || bx > 1024 ||
        by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024) {
        fprintf(stderr, "cuda-emu: launch with grid (%u,%u,%u), block (%u,%u,%u) is invalid\n", gx, gy, gz,
                bx, by, bz);
        return CU_INVALID_VALUE;
    }
    /* dynamic shared memory within its limit (the static part is not counted: the emulator
     * knows it per module, not per kernel, and an upper bound would refuse good launches) */
    if (smem > (unsigned)f->max_dyn_smem) {
        fprintf(stderr,
                "cuda-emu: launch asks %u bytes of dynamic shared memory, over the %d allowed "
                "(more than 48 KiB needs cuFuncSetAttribute)\n",
                smem, f->max_dyn_smem);
        return CU_INVALID_VALUE;
    }
    pthread_mutex_lock(&mu);
    CUresult rc = sticky;
    stats.launches++;
    if (!rc) {
        const unsigned g[3] = {gx, gy, gz}, b[3] = {bx, by, bz};
        char err[600];
        size_t off = 0;
        const alloc *bad = NULL;
        if (f->mod->launch(f->k, g, b, smem, params, err, sizeof err)) {
            fprintf(stderr, "cuda-emu: %s\n", err);
            rc = sticky = CU_LAUNCH_FAILED;
        } else if ((bad = overwritten(&off))) {
            fprintf(stderr,
                    "cuda-emu: a kernel wrote outside a device allocation: byte %lld of the %zu-byte "
                    "allocation at 0x%llx\n",
                    (long long)(ptrdiff_t)off, bad->size, (unsigned long long)(uintptr_t)bad->p);
            rc = sticky = CU_LAUNCH_FAILED;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}
