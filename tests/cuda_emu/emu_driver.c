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
 * CUDA_ERROR_OUT_OF_MEMORY. cuBLAS's strided-batched SGEMM is a plain loop.
 *
 * Only what backends/cuda/ calls is provided. It is a test tool: speed and
 * concurrency are not its business (one launch at a time, in order). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    CU_OK = 0,
    CU_INVALID_VALUE = 1,
    CU_OUT_OF_MEMORY = 2,
    CU_NOT_INITIALIZED = 3,
    CU_INVALID_IMAGE = 200,
    CU_INVALID_HANDLE = 400,
    CU_NOT_FOUND = 500,
    CU_LAUNCH_OUT_OF_RESOURCES = 701,
    CU_LAUNCH_FAILED = 719,
};

#ifndef NB_EMU_RT_DIR
#define NB_EMU_RT_DIR "tests/cuda_emu"
#endif
#ifndef NB_EMU_DEFAULT_CACHE
#define NB_EMU_DEFAULT_CACHE "build/cuda_emu"
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int initialised;
static CUresult sticky; /* a failed launch poisons the context, as on a GPU */

/* ---- device memory ------------------------------------------------------------------------ */

typedef struct alloc {
    unsigned char *p, *map;
    size_t size, maplen;
    struct alloc *next;
} alloc;

static alloc *allocs;
static size_t mem_used;

/* What the process asked of the "GPU", written at exit to $NB_EMU_STATS when set (one
 * "name value" line each): tests check with it, e.g., that training steps allocate nothing. */
static struct { unsigned long long allocs, frees, launches, gemms, htod, dtoh, dtod, peak; } stats;

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
static alloc *find(CUdeviceptr p, size_t n) {
    for (alloc *a = allocs; a; a = a->next) {
        uintptr_t lo = (uintptr_t)a->p, hi = lo + a->size;
        if (p >= lo && p < hi) return n <= hi - p ? a : NULL;
    }
    return NULL;
}

static CUresult bad_range(const char *what, CUdeviceptr p, size_t n) {
    fprintf(stderr, "cuda-emu: %s: [0x%llx, +%zu) is not inside one device allocation\n", what, p, n);
    return CU_INVALID_VALUE;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t size) {
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
    pthread_mutex_lock(&mu);
    if (free_b) *free_b = mem_limit() - mem_used;
    if (total) *total = mem_limit();
    pthread_mutex_unlock(&mu);
    return CU_OK;
}

static CUresult copy(const char *what, void *dst, const void *src, size_t n, CUdeviceptr dev1,
                     CUdeviceptr dev2) {
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
    if (n == 0) return CU_OK;
    pthread_mutex_lock(&mu);
    CUresult rc = sticky ? sticky : find(d, n) ? CU_OK : bad_range("cuMemsetD8", d, n);
    if (!rc) memset((void *)(uintptr_t)d, v, n);
    pthread_mutex_unlock(&mu);
    return rc;
}

EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
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
EXPORT CUresult cuCtxSetCurrent(void *ctx) { return ctx == &the_ctx || !ctx ? CU_OK : CU_INVALID_VALUE; }
EXPORT CUresult cuCtxSynchronize(void) { return sticky; }

EXPORT CUresult cuGetErrorString(CUresult rc, const char **s) {
    if (!s) return CU_INVALID_VALUE;
    switch (rc) {
    case CU_OK: *s = "no error"; break;
    case CU_INVALID_VALUE: *s = "invalid argument"; break;
    case CU_OUT_OF_MEMORY: *s = "out of memory"; break;
    case CU_NOT_INITIALIZED: *s = "initialization error"; break;
    case CU_INVALID_IMAGE: *s = "device kernel image is invalid"; break;
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

static const char ptx_magic[] = "// nabla CUDA emulator module: ";

EXPORT CUresult cuModuleLoadData(module **out, const void *image) {
    const char *img = image;
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
        if (f->mod->launch(f->k, g, b, smem, params, err, sizeof err)) {
            fprintf(stderr, "cuda-emu: %s\n", err);
            rc = sticky = CU_LAUNCH_FAILED;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- NVRTC: CUDA C source -> a host shared library --------------------------------------------- */

typedef struct {
    char *src, *name, *log, *ptx;
} program;

static const char *const nvrtc_errors[] = {"NVRTC_SUCCESS",
                                           "NVRTC_ERROR_OUT_OF_MEMORY",
                                           "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
                                           "NVRTC_ERROR_INVALID_INPUT",
                                           "NVRTC_ERROR_INVALID_PROGRAM",
                                           "NVRTC_ERROR_INVALID_OPTION",
                                           "NVRTC_ERROR_COMPILATION"};

EXPORT int nvrtcVersion(int *major, int *minor) {
    if (!major || !minor) return 3;
    *major = 99; /* not a real NVRTC: its disk-cache entries never mix with real ones */
    *minor = 0;
    return 0;
}

EXPORT const char *nvrtcGetErrorString(int rc) {
    return rc >= 0 && rc < (int)(sizeof nvrtc_errors / sizeof *nvrtc_errors) ? nvrtc_errors[rc]
                                                                             : "NVRTC_ERROR_UNKNOWN";
}

EXPORT int nvrtcCreateProgram(program **out, const char *src, const char *name, int nh,
                              const char *const *headers, const char *const *names) {
    (void)headers;
    (void)names;
    if (!out || !src || nh != 0) return 3;
    program *p = calloc(1, sizeof *p);
    if (!p || !(p->src = strdup(src)) || !(p->name = strdup(name ? name : "module"))) {
        if (p) free(p->src);
        free(p);
        return 1;
    }
    *out = p;
    return 0;
}

EXPORT int nvrtcDestroyProgram(program **pp) {
    if (!pp || !*pp) return 4;
    program *p = *pp;
    free(p->src);
    free(p->name);
    free(p->log);
    free(p->ptx);
    free(p);
    *pp = NULL;
    return 0;
}

static uint64_t fnv(uint64_t h, const void *d, size_t n) {
    const unsigned char *s = d;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* The whole of a file, NUL-terminated, or NULL. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    if (b) b[n] = '\0';
    if (len) *len = n;
    return b;
}

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static int is_id(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The preprocessed kernel source made host C++: `extern __shared__ T name[];` becomes a pointer
 * into the block's dynamic shared memory, and a table of every `__global__ void name(` is
 * appended. 0, or -1 with a message in log. */
static int translate(const char *ii, buf *out, buf *log) {
    buf names = {0};
    int nk = 0;
    puts_(out, "#include \"emu_device.h\"\n");
    for (const char *p = ii; *p;) {
        const char *ext = strstr(p, "extern __shared__"), *glob = strstr(p, "__global__");
        const char *next = ext && (!glob || ext < glob) ? ext : glob;
        if (!next) {
            puts_(out, p);
            break;
        }
        put(out, p, (size_t)(next - p));
        if (next == ext) {
            const char *semi = strchr(ext, ';');
            char decl[256];
            size_t n = semi ? (size_t)(semi - ext) - 17 : 0;
            if (!semi || n >= sizeof decl)
                return puts_(log, "cuda-emu: unterminated extern __shared__\n"), -1;
            memcpy(decl, ext + 17, n);
            decl[n] = '\0';
            char *br = strchr(decl, '['), *al = strstr(decl, "__align__");
            if (!br) return puts_(log, "cuda-emu: extern __shared__ without []\n"), -1;
            if (al) { /* drop __align__(N): the buffer is 256-byte aligned */
                char *cl = strchr(al, ')');
                if (cl) memset(al, ' ', (size_t)(cl + 1 - al));
            }
            *br = '\0';
            char *e = br;
            while (e > decl && e[-1] == ' ')
                *--e = '\0';
            char *nm = e;
            while (nm > decl && is_id(nm[-1]))
                nm--;
            char line[600];
            snprintf(line, sizeof line, "%.*s *%s = (%.*s *)nb_emu_dsmem", (int)(nm - decl), decl, nm,
                     (int)(nm - decl), decl);
            puts_(out, line);
            p = semi;
        } else {
            const char *q = glob + 10;
            while (*q == ' ' || *q == '\n' || *q == '\t')
                q++;
            if (strncmp(q, "void", 4) == 0) {
                q += 4;
                while (*q == ' ' || *q == '\n' || *q == '\t')
                    q++;
                const char *s = q;
                while (is_id(*q))
                    q++;
                if (q > s) {
                    puts_(&names, "    NB_EMU_KERNEL(");
                    put(&names, s, (size_t)(q - s));
                    puts_(&names, "),\n");
                    nk++;
                }
            }
            puts_(out, "__global__");
            p = glob + 10;
        }
    }
    puts_(out, "\nconst nbemu::kernel nb_emu_table[] = {\n");
    if (names.s) puts_(out, names.s);
    puts_(out, "    {\"\", nullptr}};\n");
    char tail[64];
    snprintf(tail, sizeof tail, "const int nb_emu_table_len = %d;\n", nk);
    puts_(out, tail);
    free(names.s);
    return out->oom ? -1 : 0;
}

static int make_dir(const char *d) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", d);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(s, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Runs a shell command; its stderr (in errfile) goes to the log on failure. */
static int run(const char *cmd, const char *errfile, buf *log) {
    int st = system(cmd);
    if (st == 0) return 0;
    size_t n;
    char *e = slurp(errfile, &n);
    puts_(log, "cuda-emu: ");
    puts_(log, cmd);
    puts_(log, "\n");
    if (e) puts_(log, e);
    free(e);
    return -1;
}

/* Builds (or finds in the cache) the library for p's source; its path goes to so. */
static int build(program *p, int nopt, const char *const *opts, char *so, size_t solen, buf *log) {
    const char *cxx = getenv("NB_EMU_CXX");
    const char *cache = getenv("NB_EMU_CACHE");
    if (!cxx || !*cxx) cxx = "g++";
    if (!cache || !*cache) cache = NB_EMU_DEFAULT_CACHE;
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "%s/emu_device.h", NB_EMU_RT_DIR);
    size_t hl;
    char *h = slurp(hdr, &hl);
    if (!h) return puts_(log, "cuda-emu: cannot read " NB_EMU_RT_DIR "/emu_device.h\n"), -1;
    char defs[512] = "";
    uint64_t key = fnv(fnv(0xcbf29ce484222325ULL, p->src, strlen(p->src)), h, hl);
    free(h);
    /* the emulator's own version and compile commands are part of the key: a change to them
     * rebuilds the cached modules */
    static const char version[] = "nbemu-2 -E -P -x c++ -std=c++17 | -std=c++17 -O1 -g0 -w -fPIC -shared "
                                  "-ffp-contract=off -U_FORTIFY_SOURCE";
    key = fnv(fnv(key, cxx, strlen(cxx)), version, sizeof version);
    for (int i = 0; i < nopt; i++) {
        key = fnv(key, opts[i], strlen(opts[i]) + 1);
        if (strncmp(opts[i], "-D", 2) == 0 && strlen(defs) + strlen(opts[i]) + 4 < sizeof defs &&
            !strpbrk(opts[i], "'\"\\ $`")) {
            strcat(defs, " ");
            strcat(defs, opts[i]);
        }
    }
    if (make_dir(cache)) return puts_(log, "cuda-emu: cannot create the cache folder\n"), -1;
    snprintf(so, solen, "%s/%s-%016llx.so", cache, p->name, (unsigned long long)key);
    if (access(so, R_OK) == 0) return 0;

    char base[1200], path[1300], ii[1300], cpp[1300], err[1300], tmp[1300], cmd[6000];
    snprintf(base, sizeof base, "%s/%s-%016llx.%ld", cache, p->name, (unsigned long long)key, (long)getpid());
    snprintf(path, sizeof path, "%s.cu", base);
    snprintf(ii, sizeof ii, "%s.ii", base);
    snprintf(cpp, sizeof cpp, "%s.cpp", base);
    snprintf(err, sizeof err, "%s.err", base);
    snprintf(tmp, sizeof tmp, "%s.so", base);
    int rc = -1;
    if (write_file(path, p->src, strlen(p->src))) {
        puts_(log, "cuda-emu: cannot write the source\n");
        goto out;
    }
    snprintf(cmd, sizeof cmd, "'%s' -E -P -x c++ -std=c++17%s '%s' -o '%s' 2>'%s'", cxx, defs, path, ii, err);
    if (run(cmd, err, log)) goto out;
    char *text = slurp(ii, NULL);
    buf out = {0};
    int t = text ? translate(text, &out, log) : -1;
    free(text);
    if (t || write_file(cpp, out.s, out.n)) {
        free(out.s);
        puts_(log, "cuda-emu: cannot translate the source\n");
        goto out;
    }
    free(out.s);
    snprintf(cmd, sizeof cmd,
             "'%s' -std=c++17 -O1 -g0 -w -fPIC -shared -ffp-contract=off -U_FORTIFY_SOURCE -I'%s' '%s' -o "
             "'%s' 2>'%s'",
             cxx, NB_EMU_RT_DIR, cpp, tmp, err);
    if (run(cmd, err, log)) goto out;
    if (rename(tmp, so)) {
        puts_(log, "cuda-emu: cannot move the library into the cache\n");
        goto out;
    }
    rc = 0;
out:
    unlink(path);
    unlink(ii);
    unlink(cpp);
    unlink(err);
    unlink(tmp);
    return rc;
}

EXPORT int nvrtcCompileProgram(program *p, int nopt, const char *const *opts) {
    if (!p) return 4;
    free(p->log);
    free(p->ptx);
    p->log = p->ptx = NULL;
    buf log = {0};
    char so[1400];
    int rc = build(p, nopt, opts, so, sizeof so, &log);
    p->log = log.s ? log.s : strdup("");
    if (rc) return 6;
    size_t n = strlen(ptx_magic) + strlen(so) + 2;
    if (!(p->ptx = malloc(n))) return 1;
    snprintf(p->ptx, n, "%s%s\n", ptx_magic, so);
    return 0;
}

EXPORT int nvrtcGetProgramLogSize(program *p, size_t *n) {
    if (!p || !n) return 3;
    *n = (p->log ? strlen(p->log) : 0) + 1;
    return 0;
}
EXPORT int nvrtcGetProgramLog(program *p, char *out) {
    if (!p || !out) return 3;
    strcpy(out, p->log ? p->log : "");
    return 0;
}
EXPORT int nvrtcGetPTXSize(program *p, size_t *n) {
    if (!p || !n || !p->ptx) return 4;
    *n = strlen(p->ptx) + 1;
    return 0;
}
EXPORT int nvrtcGetPTX(program *p, char *out) {
    if (!p || !out || !p->ptx) return 4;
    strcpy(out, p->ptx);
    return 0;
}

/* ---- cuBLAS: strided-batched SGEMM ------------------------------------------------------------ */

typedef struct {
    int math_mode;
} blas_handle;

EXPORT int cublasCreate_v2(blas_handle **h) {
    if (!h) return 7;
    *h = calloc(1, sizeof **h);
    return *h ? 0 : 3;
}
EXPORT int cublasDestroy_v2(blas_handle *h) {
    free(h);
    return 0;
}
EXPORT int cublasSetStream_v2(blas_handle *h, void *s) {
    (void)s;
    return h ? 0 : 1;
}
EXPORT int cublasSetMathMode(blas_handle *h, int mode) {
    if (!h) return 1;
    h->math_mode = mode;
    return 0;
}
EXPORT const char *cublasGetStatusString(int st) {
    switch (st) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

/* Whether the column-major rows x cols matrices at p (leading dimension ld, batch stride
 * stride, batch of them) lie inside one allocation. */
static int operand_ok(const char *what, const float *p, long long rows, long long cols, long long ld,
                      long long stride, int batch) {
    if (rows == 0 || cols == 0) return 1;
    long long last = (rows - 1) + (cols - 1) * ld + (long long)(batch - 1) * stride;
    if (stride < 0 || !find((CUdeviceptr)(uintptr_t)p, (size_t)(last + 1) * 4)) {
        bad_range(what, (CUdeviceptr)(uintptr_t)p, (size_t)(last + 1) * 4);
        return 0;
    }
    return 1;
}

EXPORT int cublasSgemmStridedBatched(blas_handle *h, int ta, int tb, int m, int n, int k, const float *alpha,
                                     const float *A, int lda, long long sA, const float *B, int ldb,
                                     long long sB, const float *beta, float *C, int ldc, long long sC,
                                     int batch) {
    if (!h) return 1;
    if (ta < 0 || ta > 2 || tb < 0 || tb > 2 || m < 0 || n < 0 || k < 0 || batch < 0 || !alpha || !beta ||
        lda < (ta ? (k > 1 ? k : 1) : (m > 1 ? m : 1)) || ldb < (tb ? (n > 1 ? n : 1) : (k > 1 ? k : 1)) ||
        ldc < (m > 1 ? m : 1))
        return 7;
    if (m == 0 || n == 0 || batch == 0) return 0;
    pthread_mutex_lock(&mu);
    stats.gemms++;
    int ok = !sticky && operand_ok("cublasSgemm C", C, m, n, ldc, sC, batch) &&
             (k == 0 || (operand_ok("cublasSgemm A", A, ta ? k : m, ta ? m : k, lda, sA, batch) &&
                         operand_ok("cublasSgemm B", B, tb ? n : k, tb ? k : n, ldb, sB, batch)));
    pthread_mutex_unlock(&mu);
    if (!ok) return 13;
    /* k = 0 writes nothing: real cuBLAS has left C unwritten there (PyTorch issue 31421, for
     * this very call; PyTorch and ONNX Runtime never call cuBLAS with k = 0), so a backend that
     * counts on C = beta * C for k = 0 reads the NaN-poisoned memory here that it would read
     * as garbage on a GPU */
    if (k == 0) return 0;
    const float al = *alpha, be = *beta;
    /* op(A) is packed column-major (m x k) so that the inner loop runs over contiguous memory */
    float *acc = malloc((size_t)m * sizeof *acc), *pa = malloc((size_t)m * (size_t)(k ? k : 1) * sizeof *pa);
    if (!acc || !pa) {
        free(acc);
        free(pa);
        return 3;
    }
    for (int b = 0; b < batch; b++) {
        const float *a = A + (long long)b * sA, *bb = B + (long long)b * sB;
        float *c = C + (long long)b * sC;
        for (int l = 0; l < k; l++)
            for (int i = 0; i < m; i++)
                pa[i + (size_t)l * m] = ta ? a[l + (long long)i * lda] : a[i + (long long)l * lda];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++)
                acc[i] = 0.0f;
            for (int l = 0; l < k; l++) {
                const float bv = tb ? bb[j + (long long)l * ldb] : bb[l + (long long)j * ldb];
                const float *col = pa + (size_t)l * m;
                for (int i = 0; i < m; i++)
                    acc[i] += col[i] * bv;
            }
            float *cj = c + (long long)j * ldc;
            for (int i = 0; i < m; i++)
                cj[i] = be == 0.0f ? al * acc[i] : al * acc[i] + be * cj[i];
        }
    }
    free(pa);
    free(acc);
    return 0;
}
