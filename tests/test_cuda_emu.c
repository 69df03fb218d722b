/* tests/test_cuda_emu.c - the CUDA emulator of tests/cuda_emu tested on its own, through
 * its C entry points (libcuda, NVRTC and cuBLAS stand-ins, dlopen'd from
 * $NB_BUILD/libnbcudaemu.so): small kernels written here compile and run with their GPU
 * meaning (block tree reduction, warp shuffles, 2-D and 3-D grids, dynamic shared memory
 * up to the opt-in limit, cuBLAS's strided-batched SGEMM against a host loop), and every
 * check the emulator promises is shown to catch the bug it is for: a reduction without
 * __syncthreads, or a lane reading a neighbour's shared memory without __syncwarp, reads
 * stale/NaN values; a divergent __syncthreads (half a warp there, half at a shuffle) and a
 * shuffle after lanes returned fail the launch with a sticky error (threads that returned
 * before a __syncthreads do not, as in PTX); copies, memsets and cuBLAS operands outside an
 * allocation are refused; a kernel writing or reading one element past an allocation dies
 * on the guard page; fresh memory and dynamic shared memory read as NaN; NB_EMU_MEM_MB
 * limits memory; compile errors and unknown kernel names are reported. Cases that poison
 * the process (sticky errors, crashes, the memory limit) run in a child process of their
 * own. Without the emulator library the file is skipped. */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/nb_check.h"

/* ---- the emulator's entry points ---------------------------------------------------------- */

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    CU_OK = 0,
    CU_INVALID_VALUE = 1,
    CU_OUT_OF_MEMORY = 2,
    CU_INVALID_IMAGE = 200,
    CU_NOT_FOUND = 500,
    CU_LAUNCH_FAILED = 719,
    NVRTC_ERROR_COMPILATION = 6,
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

static struct {
    CUresult (*cuInit)(unsigned);
    CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree_v2)(CUdeviceptr);
    CUresult (*cuMemGetInfo_v2)(size_t *, size_t *);
    CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
    CUresult (*cuMemcpyDtoD_v2)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*cuMemsetD8_v2)(CUdeviceptr, unsigned char, size_t);
    CUresult (*cuMemsetD32_v2)(CUdeviceptr, unsigned, size_t);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuModuleLoadData)(void **, const void *);
    CUresult (*cuModuleGetFunction)(void **, void *, const char *);
    CUresult (*cuFuncSetAttribute)(void *, int, int);
    CUresult (*cuLaunchKernel)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                               void *, void **, void **);
    int (*nvrtcCreateProgram)(void **, const char *, const char *, int, const char *const *,
                              const char *const *);
    int (*nvrtcCompileProgram)(void *, int, const char *const *);
    int (*nvrtcGetProgramLogSize)(void *, size_t *);
    int (*nvrtcGetProgramLog)(void *, char *);
    int (*nvrtcGetPTXSize)(void *, size_t *);
    int (*nvrtcGetPTX)(void *, char *);
    int (*nvrtcDestroyProgram)(void **);
    int (*cublasCreate_v2)(void **);
    int (*cublasDestroy_v2)(void *);
    int (*cublasSgemmStridedBatched)(void *, int, int, int, int, int, const float *, const float *, int,
                                     long long, const float *, int, long long, const float *, float *, int,
                                     long long, int);
} cu;

#define EMU_SYMBOLS(X)                                                                                       \
    X(cuInit)                                                                                                \
    X(cuMemAlloc_v2)                                                                                         \
    X(cuMemFree_v2)                                                                                          \
    X(cuMemGetInfo_v2)                                                                                       \
    X(cuMemcpyHtoD_v2)                                                                                       \
    X(cuMemcpyDtoH_v2)                                                                                       \
    X(cuMemcpyDtoD_v2)                                                                                       \
    X(cuMemsetD8_v2)                                                                                         \
    X(cuMemsetD32_v2)                                                                                        \
    X(cuCtxSynchronize)                                                                                      \
    X(cuModuleLoadData)                                                                                      \
    X(cuModuleGetFunction)                                                                                   \
    X(cuFuncSetAttribute)                                                                                    \
    X(cuLaunchKernel)                                                                                        \
    X(nvrtcCreateProgram)                                                                                    \
    X(nvrtcCompileProgram)                                                                                   \
    X(nvrtcGetProgramLogSize)                                                                                \
    X(nvrtcGetProgramLog)                                                                                    \
    X(nvrtcGetPTXSize)                                                                                       \
    X(nvrtcGetPTX)                                                                                           \
    X(nvrtcDestroyProgram)                                                                                   \
    X(cublasCreate_v2)                                                                                       \
    X(cublasDestroy_v2)                                                                                      \
    X(cublasSgemmStridedBatched)

static char lib_path[1024];
static char lib_error[1200]; /* why the library did not load, or "" */
static void *lib;            /* kept open for the whole run */

/* Loads the emulator and every entry point; 0, or -1 with the reason in lib_error. */
static int load_emulator(void) {
    lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(lib_error, sizeof lib_error, "cannot load %s: %s", lib_path, dlerror());
        return -1;
    }
#define LOAD(name)                                                                                           \
    if (!(*(void **)&cu.name = dlsym(lib, #name))) {                                                         \
        snprintf(lib_error, sizeof lib_error, "%s has no %s", lib_path, #name);                              \
        return -1;                                                                                           \
    }
    EMU_SYMBOLS(LOAD)
#undef LOAD
    return 0;
}

/* ---- the kernel cache folder: fresh for this run, removed afterwards ---------------------- */

static char cache_dir[512];

static void cache_setup(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(cache_dir, sizeof cache_dir, "%s/nb_cuda_emu_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(cache_dir)) {
        fprintf(stderr, "test_cuda_emu: mkdtemp %s: %s\n", cache_dir, strerror(errno));
        cache_dir[0] = '\0';
        return;
    }
    setenv("NB_EMU_CACHE", cache_dir, 1);
    /* threads and blocks in their natural order, whatever the caller's environment says: the
     * races below are shown lost in that order (a shuffled one may happen to win them) */
    unsetenv("NB_EMU_SEED");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cache_teardown(void) {
    if (cache_dir[0]) nftw(cache_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    cache_dir[0] = '\0';
}

static void require_emulator(void) {
    ck_assert_msg(lib_error[0] == '\0', "%s", lib_error);
    ck_assert_msg(cache_dir[0] != '\0', "no temporary folder for the kernel cache");
}

/* ---- compiling and launching -------------------------------------------------------------- */

/* NVRTC-compiles src; its "PTX" (NULL on failure) and log, both malloc'd; the NVRTC status. */
static int compile(const char *src, const char *name, char **ptx, char **log) {
    void *prog = NULL;
    *ptx = *log = NULL;
    ck_assert_int_eq(cu.nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL), 0);
    const char *opts[] = {"--std=c++17"};
    int rc = cu.nvrtcCompileProgram(prog, 1, opts);
    size_t n = 0;
    ck_assert_int_eq(cu.nvrtcGetProgramLogSize(prog, &n), 0);
    ck_assert_ptr_nonnull(*log = malloc(n));
    ck_assert_int_eq(cu.nvrtcGetProgramLog(prog, *log), 0);
    if (rc == 0) {
        ck_assert_int_eq(cu.nvrtcGetPTXSize(prog, &n), 0);
        ck_assert_ptr_nonnull(*ptx = malloc(n));
        ck_assert_int_eq(cu.nvrtcGetPTX(prog, *ptx), 0);
    }
    ck_assert_int_eq(cu.nvrtcDestroyProgram(&prog), 0);
    ck_assert_ptr_null(prog);
    return rc;
}

/* Loaded modules and functions, kept (the emulator never unloads them) in reach of these
 * tables, so that a leak checker does not count them. */
static struct {
    const char *src;
    void *mod;
} modules[8];
static struct {
    void *mod;
    const char *name;
    void *fn;
} functions[32];

/* The module of source src (compiled and loaded once per process). */
static void *module(const char *src) {
    size_t m = 0;
    while (m < sizeof modules / sizeof *modules && modules[m].src && modules[m].src != src)
        m++;
    ck_assert_uint_lt(m, sizeof modules / sizeof *modules);
    if (!modules[m].src) {
        ck_assert_int_eq(cu.cuInit(0), 0);
        char *ptx, *log;
        int rc = compile(src, "emu_selftest", &ptx, &log);
        ck_assert_msg(rc == 0, "NVRTC failed (%d): %s", rc, log);
        ck_assert_int_eq(cu.cuModuleLoadData(&modules[m].mod, ptx), CU_OK);
        modules[m].src = src;
        free(ptx);
        free(log);
    }
    return modules[m].mod;
}

/* Kernel kname of source src. */
static void *kernel(const char *src, const char *kname) {
    void *mod = module(src);
    size_t f = 0;
    while (f < sizeof functions / sizeof *functions && functions[f].name &&
           (functions[f].mod != mod || strcmp(functions[f].name, kname) != 0))
        f++;
    ck_assert_uint_lt(f, sizeof functions / sizeof *functions);
    if (!functions[f].name) {
        ck_assert_int_eq(cu.cuModuleGetFunction(&functions[f].fn, mod, kname), CU_OK);
        functions[f].mod = mod;
        functions[f].name = kname;
    }
    return functions[f].fn;
}

static CUresult launch(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned smem, void **args) {
    return cu.cuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, NULL, args, NULL);
}

static CUdeviceptr dalloc(size_t n) {
    CUdeviceptr d = 0;
    ck_assert_int_eq(cu.cuMemAlloc_v2(&d, n), CU_OK);
    ck_assert(d != 0);
    return d;
}
static void dfree(CUdeviceptr d) { ck_assert_int_eq(cu.cuMemFree_v2(d), CU_OK); }
static void upload(CUdeviceptr d, const void *h, size_t n) {
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, n), 0);
}
static void download(void *h, CUdeviceptr d, size_t n) { ck_assert_int_eq(cu.cuMemcpyDtoH_v2(h, d, n), 0); }

/* ---- running a case in a child process of its own ----------------------------------------- */

/* In a child: a failed expectation prints where and returns 1 (the child's exit status). */
#define EXPECT(c)                                                                                            \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fprintf(stderr, "test_cuda_emu.c:%d: expected %s\n", __LINE__, #c);                              \
            return 1;                                                                                        \
        }                                                                                                    \
    } while (0)

/* Runs fn(arg) in a child process (its stderr, where the emulator reports, into out; SIGSEGV
 * and SIGBUS at their default, fatal action; killed after 120 s) and returns its wait status.
 * The sticky error of a failed launch, a crash or a changed environment stays in the child. */
static int in_child(int (*fn)(void *), void *arg, char *out, size_t len) {
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], STDERR_FILENO);
        close(fd[1]);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        alarm(120);
        _exit(fn(arg));
    }
    close(fd[1]);
    size_t n = 0;
    char chunk[512];
    for (ssize_t r; (r = read(fd[0], chunk, sizeof chunk)) != 0;) {
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        size_t k = (size_t)r < len - 1 - n ? (size_t)r : len - 1 - n;
        memcpy(out + n, chunk, k);
        n += k;
    }
    out[n] = '\0';
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return st;
}

/* Asserts that the child exited with status 0 (every EXPECT held). */
#define ASSERT_CHILD_OK(st, out)                                                                             \
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %s %d; its stderr:\n%s",                     \
                  WIFEXITED(st) ? "exited with" : "killed by signal",                                        \
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), out)

/* ---- the kernels -------------------------------------------------------------------------- */

#define KERNEL "extern \"C\" __global__ void "

static const char SRC[] =
    "#define FULL 0xffffffffu\n"
    /* 1: a tree reduction of each block's 256 values, in dynamic (dyn) or static shared
     * memory; the barriers only when sync is set */
    KERNEL "reduce(float *out, const float *x, int n, int sync, int dyn) {\n"
    "    extern __shared__ float sd[];\n"
    "    __shared__ float ss[256];\n"
    "    float *s = dyn ? sd : ss;\n"
    "    const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;\n"
    "    s[t] = i < (unsigned)n ? x[i] : 0.0f;\n"
    "    if (sync) __syncthreads();\n"
    "    for (unsigned st = blockDim.x / 2; st > 0; st >>= 1) {\n"
    "        if (t < st) s[t] += s[t + st];\n"
    "        if (sync) __syncthreads();\n"
    "    }\n"
    "    if (t == 0) out[blockIdx.x] = s[0];\n"
    "}\n"
    /* 2: warp shuffles (one value per thread in x; blocks of whole warps) */
    KERNEL "warp_ops(float *down, float *xor32, float *xor16, float *bcast, float *scan, long long *rot,\n"
    "                 float *xhi, float *bsub, const float *x) {\n"
    "    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x & 31;\n"
    "    const float v = x[i];\n"
    "    float d = v;\n"
    "    for (int o = 16; o > 0; o >>= 1) d += __shfl_down_sync(FULL, d, o);\n"
    "    if (lane == 0) down[i / 32] = d;\n"
    "    float b = v;\n"
    "    for (int o = 1; o < 32; o <<= 1) b += __shfl_xor_sync(FULL, b, o);\n"
    "    xor32[i] = b;\n"
    "    float h = v;\n"
    "    for (int o = 1; o < 16; o <<= 1) h += __shfl_xor_sync(FULL, h, o, 16);\n"
    "    xor16[i] = h;\n"
    /* laneMask 16 with width 16: lanes 16-31 read the earlier group, lanes 0-15 would read the
     * later one and keep their own value */
    "    xhi[i] = __shfl_xor_sync(FULL, v, 16, 16);\n"
    "    bcast[i] = __shfl_sync(FULL, v, 0);\n"
    "    bsub[i] = __shfl_sync(FULL, v, 3, 8);\n"
    "    float sc = v;\n"
    "    for (unsigned o = 1; o < 32; o <<= 1) {\n"
    "        const float u = __shfl_up_sync(FULL, sc, o);\n"
    "        if (lane >= o) sc += u;\n"
    "    }\n"
    "    scan[i] = sc;\n"
    "    rot[i] = __shfl_sync(FULL, ((long long)i << 33) + i, (lane + 1) & 31);\n"
    "}\n"
    /* 2: each lane reads its neighbour's shared memory, after a __syncwarp only if sync */
    KERNEL "warp_neighbour(float *out, int sync) {\n"
    "    extern __shared__ float s[];\n"
    "    const unsigned t = threadIdx.x;\n"
    "    s[t] = (float)t;\n"
    "    if (sync) __syncwarp();\n"
    "    out[blockIdx.x * blockDim.x + t] = s[t ^ 1];\n"
    "}\n"
    /* 3: threads 0-15 wait at __syncthreads; 16-31 wait at a shuffle (mode 0: a deadlock) or
     * return (mode 1: fine, the barrier waits for live threads only) */
    KERNEL "diverge(float *out, int mode) {\n"
    "    const unsigned t = threadIdx.x;\n"
    "    float v = (float)t;\n"
    "    if (t < 16) {\n"
    "        __syncthreads();\n"
    "    } else if (mode == 0) {\n"
    "        v = __shfl_sync(FULL, v, 0);\n"
    "    } else {\n"
    "        return;\n"
    "    }\n"
    "    out[t] = v;\n"
    "}\n"
    /* 4: a shuffle after lanes 16-31 returned */
    KERNEL "shfl_after_return(float *out) {\n"
    "    const unsigned t = threadIdx.x;\n"
    "    if (t >= 16) return;\n"
    "    float v = (float)t;\n"
    "    v += __shfl_down_sync(FULL, v, 1);\n"
    "    out[t] = v;\n"
    "}\n"
    /* 6: x[i] = 1 (write) or x[0] = x[i] (read), by one thread */
    KERNEL "poke(float *x, int i, int write) {\n"
    "    if (threadIdx.x != 0 || blockIdx.x != 0) return;\n"
    "    if (write)\n"
    "        x[i] = 1.0f;\n"
    "    else\n"
    "        x[0] = x[i];\n"
    "}\n"
    /* 7: each thread reads its dynamic shared memory word before anyone writes it */
    KERNEL "smem_peek(float *out) {\n"
    "    extern __shared__ float s[];\n"
    "    const unsigned t = threadIdx.x;\n"
    "    out[blockIdx.x * blockDim.x + t] = s[t];\n"
    "    __syncthreads();\n"
    "    s[t] = 1.0f;\n"
    "}\n"
    /* 8: fills n floats of dynamic shared memory; out[0] = how many read back wrong, out[1] =
     * the last */
    KERNEL "smem_big(float *out, int n) {\n"
    "    extern __shared__ float s[];\n"
    "    for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = (float)i;\n"
    "    __syncthreads();\n"
    "    if (threadIdx.x == 0) {\n"
    "        int bad = 0;\n"
    "        for (int i = 0; i < n; i++) bad += s[i] != (float)i;\n"
    "        out[0] = (float)bad;\n"
    "        out[1] = s[n - 1];\n"
    "    }\n"
    "}\n"
    /* 12: each thread writes its indices (4 ints, decimal digits x + 10 y + 100 z) at its
     * global position */
    KERNEL "grid_ids(int *out) {\n"
    "    const unsigned x = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    const unsigned y = blockIdx.y * blockDim.y + threadIdx.y;\n"
    "    const unsigned z = blockIdx.z * blockDim.z + threadIdx.z;\n"
    "    const unsigned W = gridDim.x * blockDim.x, H = gridDim.y * blockDim.y;\n"
    "    int *o = out + 4 * ((z * H + y) * W + x);\n"
    "    o[0] = blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z;\n"
    "    o[1] = threadIdx.x + 10 * threadIdx.y + 100 * threadIdx.z;\n"
    "    o[2] = gridDim.x + 10 * gridDim.y + 100 * gridDim.z;\n"
    "    o[3] = blockDim.x + 10 * blockDim.y + 100 * blockDim.z;\n"
    "}\n";

/* 10: does not compile */
static const char SRC_BROKEN[] = KERNEL "broken(float *out) {\n"
                                        "    out[0] = nb_no_such_name;\n"
                                        "}\n";

static int is_all_ff(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xff) return 0;
    return 1;
}

/* A small deterministic generator: uniform in [-1, 1). */
static float lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

/* ---- 1: block reduction with and without __syncthreads ----------------------------------- */

START_TEST(test_block_reduction) {
    enum { B = 256, G = 5, N = G * B - 37 };
    float *x = malloc(N * sizeof *x), want[G] = {0}, got[G];
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i % 13 + 1); /* small integers: every sum is exact */
        want[i / B] += x[i];
    }
    CUdeviceptr dx = dalloc(N * sizeof *x), dout = dalloc(sizeof got);
    upload(dx, x, N * sizeof *x);
    int n = N;
    void *f = kernel(SRC, "reduce");
    for (int dyn = 1; dyn >= 0; dyn--) {
        const char *where = dyn ? "dynamic" : "static";
        const unsigned smem = dyn ? B * sizeof(float) : 0;
        int sync = 1;
        void *args[] = {&dout, &dx, &n, &sync, &dyn};
        ck_assert_int_eq(launch(f, G, 1, 1, B, 1, 1, smem, args), CU_OK);
        download(got, dout, sizeof got);
        for (int b = 0; b < G; b++)
            ck_assert_msg(got[b] == want[b], "%s, block %d: %g, want %g", where, b, (double)got[b],
                          (double)want[b]);
        /* without the barriers every block reads partial sums not yet written: wrong in every
         * block (NaN from the poisoned dynamic shared memory, stale values from static) */
        sync = 0;
        ck_assert_int_eq(launch(f, G, 1, 1, B, 1, 1, smem, args), CU_OK);
        download(got, dout, sizeof got);
        for (int b = 0; b < G; b++) {
            ck_assert_msg(got[b] != want[b], "%s, block %d: the race went unseen (%g)", where, b,
                          (double)got[b]);
            if (dyn) ck_assert_msg(isnan(got[b]), "dynamic, block %d: %g, want NaN", b, (double)got[b]);
        }
    }
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK);
    dfree(dx);
    dfree(dout);
    free(x);
}
END_TEST

/* ---- 2: warp shuffles; shared memory between lanes needs __syncwarp ---------------------- */

START_TEST(test_warp_shuffles) {
    enum { B = 64, G = 3, N = B * G, W = N / 32 };
    float x[N], down[W], xor32[N], xor16[N], bcast[N], scan[N], xhi[N], bsub[N];
    long long rot[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)((i * 7) % 23) - 11.0f; /* integers: sums exact in any order */
    CUdeviceptr dx = dalloc(sizeof x), ddown = dalloc(sizeof down), dxor32 = dalloc(sizeof xor32),
                dxor16 = dalloc(sizeof xor16), dbcast = dalloc(sizeof bcast), dscan = dalloc(sizeof scan),
                drot = dalloc(sizeof rot), dxhi = dalloc(sizeof xhi), dbsub = dalloc(sizeof bsub);
    upload(dx, x, sizeof x);
    void *args[] = {&ddown, &dxor32, &dxor16, &dbcast, &dscan, &drot, &dxhi, &dbsub, &dx};
    ck_assert_int_eq(launch(kernel(SRC, "warp_ops"), G, 1, 1, B, 1, 1, 0, args), CU_OK);
    download(down, ddown, sizeof down);
    download(xor32, dxor32, sizeof xor32);
    download(xor16, dxor16, sizeof xor16);
    download(bcast, dbcast, sizeof bcast);
    download(scan, dscan, sizeof scan);
    download(rot, drot, sizeof rot);
    download(xhi, dxhi, sizeof xhi);
    download(bsub, dbsub, sizeof bsub);
    for (int w = 0; w < W; w++) {
        float sum = 0.0f, half[2] = {0.0f, 0.0f}, pre = 0.0f;
        for (int l = 0; l < 32; l++) {
            sum += x[w * 32 + l];
            half[l / 16] += x[w * 32 + l];
        }
        ck_assert_msg(down[w] == sum, "warp %d: __shfl_down_sync sum %g, want %g", w, (double)down[w],
                      (double)sum);
        for (int l = 0; l < 32; l++) {
            const int i = w * 32 + l;
            pre += x[i];
            ck_assert_msg(xor32[i] == sum, "thread %d: __shfl_xor_sync sum %g, want %g", i, (double)xor32[i],
                          (double)sum);
            ck_assert_msg(xor16[i] == half[l / 16], "thread %d: width-16 sum %g, want %g", i,
                          (double)xor16[i], (double)half[l / 16]);
            ck_assert_msg(bcast[i] == x[w * 32], "thread %d: broadcast %g, want %g", i, (double)bcast[i],
                          (double)x[w * 32]);
            ck_assert_msg(scan[i] == pre, "thread %d: __shfl_up_sync scan %g, want %g", i, (double)scan[i],
                          (double)pre);
            ck_assert_msg(bsub[i] == x[i - l % 8 + 3], "thread %d: broadcast in groups of 8 %g, want %g", i,
                          (double)bsub[i], (double)x[i - l % 8 + 3]);
            const float hi = x[l < 16 ? i : i - 16];
            ck_assert_msg(xhi[i] == hi, "thread %d: __shfl_xor_sync(16, width 16) %g, want %g", i,
                          (double)xhi[i], (double)hi);
            const long long src = w * 32 + (l + 1) % 32;
            ck_assert_msg(rot[i] == (src << 33) + src, "thread %d: 8-byte shuffle %lld", i, rot[i]);
        }
    }

    /* lanes exchanging through shared memory: right with __syncwarp, NaN reads without */
    float nb[N];
    CUdeviceptr dnb = dalloc(sizeof nb);
    void *f = kernel(SRC, "warp_neighbour");
    for (int sync = 1; sync >= 0; sync--) {
        void *a2[] = {&dnb, &sync};
        ck_assert_int_eq(launch(f, G, 1, 1, B, 1, 1, B * sizeof(float), a2), CU_OK);
        download(nb, dnb, sizeof nb);
        int wrong = 0;
        for (int i = 0; i < N; i++) {
            const float want = (float)((i % B) ^ 1);
            if (sync)
                ck_assert_msg(nb[i] == want, "thread %d: %g, want %g", i, (double)nb[i], (double)want);
            else
                wrong += isnan(nb[i]);
        }
        if (!sync) ck_assert_msg(wrong >= N / 2, "without __syncwarp only %d stale reads seen", wrong);
    }
    dfree(dnb);
    dfree(dx);
    dfree(ddown);
    dfree(dxor32);
    dfree(dxor16);
    dfree(dbcast);
    dfree(dscan);
    dfree(drot);
    dfree(dxhi);
    dfree(dbsub);
}
END_TEST

/* ---- 3, 4: barriers not every thread reaches: the launch fails, the error sticks --------- */

typedef struct {
    void *bad, *good; /* a launch of bad fails; good is a correct kernel (smem_peek) */
    int mode;         /* diverge's mode argument */
    CUdeviceptr out;
} sticky_case;

static int child_sticky(void *arg) {
    sticky_case *c = arg;
    void *args[] = {&c->out, &c->mode};
    EXPECT(launch(c->bad, 1, 1, 1, 32, 1, 1, 0, args) == CU_LAUNCH_FAILED);
    float h[32];
    EXPECT(cu.cuCtxSynchronize() == CU_LAUNCH_FAILED);
    EXPECT(cu.cuMemcpyDtoH_v2(h, c->out, sizeof h) == CU_LAUNCH_FAILED);
    EXPECT(cu.cuMemcpyHtoD_v2(c->out, h, sizeof h) == CU_LAUNCH_FAILED);
    EXPECT(cu.cuMemsetD32_v2(c->out, 0, 32) == CU_LAUNCH_FAILED);
    void *a2[] = {&c->out};
    EXPECT(launch(c->good, 1, 1, 1, 32, 1, 1, 32 * sizeof(float), a2) == CU_LAUNCH_FAILED);
    EXPECT(cu.cuCtxSynchronize() == CU_LAUNCH_FAILED);
    return 0;
}

/* Runs child_sticky for kernel bad in a child; asserts it held and that the emulator's
 * message contains why; the parent's context stays usable. */
static void check_sticky(const char *bad, int mode, const char *why) {
    sticky_case c = {kernel(SRC, bad), kernel(SRC, "smem_peek"), mode, dalloc(32 * sizeof(float))};
    void *a2[] = {&c.out};
    ck_assert_int_eq(launch(c.good, 1, 1, 1, 32, 1, 1, 32 * sizeof(float), a2), CU_OK);
    char out[4096];
    int st = in_child(child_sticky, &c, out, sizeof out);
    ASSERT_CHILD_OK(st, out);
    ck_assert_msg(strstr(out, why) && strstr(out, bad),
                  "the emulator's message should name %s and say '%s':\n%s", bad, why, out);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK); /* the error stayed in the child */
    ck_assert_int_eq(launch(c.good, 1, 1, 1, 32, 1, 1, 32 * sizeof(float), a2), CU_OK);
    dfree(c.out);
}

START_TEST(test_divergent_syncthreads_vs_shuffle) { check_sticky("diverge", 0, "deadlock"); }
END_TEST

/* Not an error, as in PTX (exit: "if the exiting threads are holding up the barrier, the
 * barrier is released"): threads that returned no longer count at __syncthreads, so a block
 * whose threads past the end return early before a barrier still runs. */
START_TEST(test_syncthreads_after_others_returned) {
    float got[32];
    CUdeviceptr out = dalloc(sizeof got);
    int mode = 1;
    void *args[] = {&out, &mode};
    ck_assert_int_eq(launch(kernel(SRC, "diverge"), 2, 1, 1, 32, 1, 1, 0, args), CU_OK);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK);
    download(got, out, sizeof got);
    for (int t = 0; t < 32; t++)
        ck_assert_msg(t < 16 ? got[t] == (float)t : isnan(got[t]), "thread %d: %g", t, (double)got[t]);
    dfree(out);
}
END_TEST

START_TEST(test_shuffle_after_return) { check_sticky("shfl_after_return", 0, "returned"); }
END_TEST

/* ---- 5: copies, memsets and frees outside an allocation ---------------------------------- */

START_TEST(test_copy_bounds) {
    ck_assert_int_eq(cu.cuInit(0), CU_OK);
    enum { N = 1000 }; /* not a multiple of 256: the checks use the size asked for */
    unsigned char h[N + 8], back[N + 8];
    for (int i = 0; i < N + 8; i++)
        h[i] = (unsigned char)(i * 31 + 7);
    CUdeviceptr d = dalloc(N), e = dalloc(N);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, N), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d + 1, h, N), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d + N, h, 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d + N - 4, h, 4), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, N), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, d, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, d + 500, 501), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, d - 4, 8), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, (CUdeviceptr)(uintptr_t)h, 8), CU_INVALID_VALUE); /* host */
    ck_assert_int_eq(cu.cuMemcpyDtoD_v2(e, d, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoD_v2(e + 1, d, N), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoD_v2(e, d, N), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, e, N), CU_OK);
    ck_assert_mem_eq(back, h, N);

    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0x01020304u, N / 4), CU_OK);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0, N / 4 + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d + 4, 0, N / 4), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d + 2, 0, 1), CU_INVALID_VALUE); /* misaligned */
    ck_assert_int_eq(cu.cuMemsetD8_v2(d, 0, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemsetD8_v2(d + N - 1, 9, 1), CU_OK);
    download(back, d, N);
    for (int i = 0; i < N - 1; i++)
        ck_assert_uint_eq(back[i],
                          (unsigned)(4 - i % 4)); /* little-endian words, untouched by the refusals */
    ck_assert_uint_eq(back[N - 1], 9);

    ck_assert_int_ne(cu.cuMemFree_v2(d + 4), CU_OK);                     /* inside, not the start */
    ck_assert_int_ne(cu.cuMemFree_v2((CUdeviceptr)(uintptr_t)h), CU_OK); /* host memory */
    ck_assert_int_ne(cu.cuMemFree_v2(0x1000), CU_OK);
    dfree(d);
    ck_assert_int_ne(cu.cuMemFree_v2(d), CU_OK);                     /* twice */
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, 4), CU_INVALID_VALUE); /* after the free */
    dfree(e);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK); /* none of these is sticky */
}
END_TEST

/* ---- 6: a kernel running off the end of an allocation hits the guard page ---------------- */

typedef struct {
    void *f;
    CUdeviceptr x;
    int i, write;
} poke_case;

static int child_poke(void *arg) {
    poke_case *c = arg;
    void *args[] = {&c->x, &c->i, &c->write};
    CUresult rc = launch(c->f, 1, 1, 1, 32, 1, 1, 0, args);
    fprintf(stderr, "the launch returned %d\n", rc);
    return 0; /* the launch should not come back */
}

START_TEST(test_guard_page) {
    enum { N = 64 }; /* 256 bytes: the allocation's end is the guard page's start */
    poke_case c = {kernel(SRC, "poke"), dalloc(N * sizeof(float)), N - 1, 1};
    void *args[] = {&c.x, &c.i, &c.write};
    ck_assert_int_eq(launch(c.f, 1, 1, 1, 32, 1, 1, 0, args), CU_OK); /* the last element: fine */
    float last;
    download(&last, c.x + (N - 1) * sizeof(float), sizeof last);
    ck_assert(last == 1.0f);
    for (c.write = 1; c.write >= 0; c.write--) {
        c.i = N;
        char out[4096];
        int st = in_child(child_poke, &c, out, sizeof out);
        ck_assert_msg(WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS),
                      "%s one past the end: the child should die of SIGSEGV; %s %d\n%s",
                      c.write ? "writing" : "reading", WIFEXITED(st) ? "it exited with" : "signal",
                      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), out);
    }
    dfree(c.x);
}
END_TEST

/* ---- 7: fresh memory and dynamic shared memory read as NaN ------------------------------- */

START_TEST(test_poisoned_memory) {
    ck_assert_int_eq(cu.cuInit(0), CU_OK);
    const size_t sizes[] = {1, 13, 1000, 4096, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        const size_t n = sizes[k];
        unsigned char *h = malloc(n);
        ck_assert_ptr_nonnull(h);
        for (int round = 0; round < 2; round++) { /* again after writing, freeing, reallocating */
            CUdeviceptr d = dalloc(n);
            memset(h, 0, n);
            download(h, d, n);
            ck_assert_msg(is_all_ff(h, n), "a fresh allocation of %zu bytes is not all 0xff", n);
            ck_assert_int_eq(cu.cuMemsetD8_v2(d, 0, n), CU_OK);
            dfree(d);
        }
        if (n >= sizeof(float)) {
            float f;
            memcpy(&f, h, sizeof f);
            ck_assert(isnan(f));
        }
        free(h);
    }

    enum { B = 64, G = 3 };
    float got[B * G];
    CUdeviceptr d = dalloc(sizeof got);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0, B * G), CU_OK);
    void *args[] = {&d};
    ck_assert_int_eq(launch(kernel(SRC, "smem_peek"), G, 1, 1, B, 1, 1, B * sizeof(float), args), CU_OK);
    download(got, d, sizeof got);
    for (int i = 0; i < B * G; i++) /* every block: the previous block's 1.0f is gone */
        ck_assert_msg(isnan(got[i]), "thread %d read %g from unwritten shared memory, want NaN", i,
                      (double)got[i]);
    dfree(d);
}
END_TEST

/* ---- 8: more than 48 KiB of dynamic shared memory needs the attribute -------------------- */

START_TEST(test_big_shared_memory) {
    void *f = kernel(SRC, "smem_big");
    float got[2];
    CUdeviceptr d = dalloc(sizeof got);
    int n;
    void *args[] = {&d, &n};
    const unsigned k48 = 48 * 1024, k64 = 64 * 1024;

    n = (int)(k48 / sizeof(float)); /* 48 KiB: allowed by default */
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k48, args), CU_OK);
    download(got, d, sizeof got);
    ck_assert(got[0] == 0.0f && got[1] == (float)(n - 1));

    n = (int)(k64 / sizeof(float));
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k48 + 4, args), CU_INVALID_VALUE);
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k64, args), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK); /* a refused launch is not sticky */
    ck_assert_int_ne(cu.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 300 * 1024),
                     0);
    ck_assert_int_eq(cu.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)k64), 0);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0, 2), CU_OK);
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k64, args), CU_OK);
    download(got, d, sizeof got);
    ck_assert_msg(got[0] == 0.0f && got[1] == (float)(n - 1), "64 KiB: %g wrong, last %g", (double)got[0],
                  (double)got[1]);
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k64 + 4, args), CU_INVALID_VALUE); /* over the new limit */

    /* launch shapes a GPU refuses are refused too */
    ck_assert_int_eq(launch(f, 1, 1, 1, 1025, 1, 1, 0, args), CU_INVALID_VALUE);
    ck_assert_int_eq(launch(f, 1, 1, 1, 32, 32, 2, 0, args), CU_INVALID_VALUE);
    ck_assert_int_eq(launch(f, 0, 1, 1, 32, 1, 1, 0, args), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK);
    dfree(d);
}
END_TEST

/* ---- 9: NB_EMU_MEM_MB limits device memory ----------------------------------------------- */

static int child_mem_limit(void *arg) {
    (void)arg;
    const size_t MiB = (size_t)1 << 20;
    size_t fr = 0, tot = 0;
    unsetenv("NB_EMU_MEM_MB");
    EXPECT(cu.cuInit(0) == CU_OK);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK);
    EXPECT(tot == 4096 * MiB); /* the default */
    setenv("NB_EMU_MEM_MB", "16", 1);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK);
    EXPECT(tot == 16 * MiB && fr == 16 * MiB);
    CUdeviceptr a = 0, b = 0, c = 0;
    EXPECT(cu.cuMemAlloc_v2(&a, 32 * MiB) == CU_OUT_OF_MEMORY);
    EXPECT(cu.cuMemAlloc_v2(&a, 16 * MiB + 1) == CU_OUT_OF_MEMORY);
    EXPECT(cu.cuMemAlloc_v2(&a, 10 * MiB) == CU_OK);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK && fr == 6 * MiB && tot == 16 * MiB);
    EXPECT(cu.cuMemAlloc_v2(&b, 7 * MiB) == CU_OUT_OF_MEMORY); /* 17 MiB in all */
    EXPECT(cu.cuMemAlloc_v2(&b, 6 * MiB) == CU_OK);            /* exactly 16 */
    EXPECT(cu.cuMemAlloc_v2(&c, 1) == CU_OUT_OF_MEMORY);
    EXPECT(cu.cuMemFree_v2(a) == CU_OK);
    EXPECT(cu.cuMemAlloc_v2(&c, 10 * MiB) == CU_OK); /* freed memory counts again */
    EXPECT(cu.cuMemFree_v2(b) == CU_OK && cu.cuMemFree_v2(c) == CU_OK);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK && fr == 16 * MiB);
    EXPECT(cu.cuCtxSynchronize() == CU_OK); /* out of memory is not sticky */
    return 0;
}

START_TEST(test_memory_limit) {
    char out[4096];
    int st = in_child(child_mem_limit, NULL, out, sizeof out);
    ASSERT_CHILD_OK(st, out);
}
END_TEST

/* ---- 10: compile errors and unknown names ----------------------------------------------- */

START_TEST(test_compile_error_and_missing_kernel) {
    ck_assert_int_eq(cu.cuInit(0), CU_OK);
    char *ptx, *log;
    int rc = compile(SRC_BROKEN, "emu_broken", &ptx, &log);
    ck_assert_int_eq(rc, NVRTC_ERROR_COMPILATION);
    ck_assert_ptr_null(ptx);
    ck_assert_msg(strstr(log, "error") && strstr(log, "nb_no_such_name"),
                  "the log should hold the compiler's error: %s", log);
    free(log);

    void *mod = NULL, *f = NULL;
    ck_assert_int_eq(cu.cuModuleLoadData(&mod, "// not a module\n"), CU_INVALID_IMAGE);
    ck_assert_int_eq(cu.cuModuleGetFunction(&f, module(SRC), "no_such_kernel"), CU_NOT_FOUND);
    ck_assert_int_eq(cu.cuModuleGetFunction(&f, module(SRC), "pok"), CU_NOT_FOUND);
    ck_assert_ptr_null(f);
}
END_TEST

/* ---- 11: cuBLAS strided-batched SGEMM against a host loop ------------------------------- */

/* op(X)[r][c] of column-major X with leading dimension ld; trans: X is stored transposed. */
static double at(const float *x, int trans, int r, int c, int ld) {
    return trans ? x[c + (long long)r * ld] : x[r + (long long)c * ld];
}

START_TEST(test_sgemm) {
    ck_assert_int_eq(cu.cuInit(0), CU_OK);
    void *h = NULL;
    ck_assert_int_eq(cu.cublasCreate_v2(&h), 0);
    enum { M = 5, N = 7, K = 3, BATCH = 2 };
    unsigned seed = 12345;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int ra = ta ? K : M, ca = ta ? M : K, rb = tb ? N : K, cb = tb ? K : N;
            const int lda = ra + 2, ldb = rb + 1, ldc = M + 3;
            const long long sA = (long long)lda * ca + 3, sB = (long long)ldb * cb + 4,
                            sC = (long long)ldc * N + 2;
            /* exactly as many elements as the last matrix of the batch reaches */
            const size_t na = (size_t)(sA * (BATCH - 1) + (long long)lda * (ca - 1) + ra),
                         nb = (size_t)(sB * (BATCH - 1) + (long long)ldb * (cb - 1) + rb),
                         nc = (size_t)(sC * (BATCH - 1) + (long long)ldc * (N - 1) + M);
            float *A = malloc(na * 4), *B = malloc(nb * 4), *C0 = malloc(nc * 4), *C = malloc(nc * 4);
            ck_assert(A && B && C0 && C);
            for (size_t i = 0; i < na; i++)
                A[i] = lcg(&seed);
            for (size_t i = 0; i < nb; i++)
                B[i] = lcg(&seed);
            for (size_t i = 0; i < nc; i++)
                C0[i] = lcg(&seed);
            CUdeviceptr dA = dalloc(na * 4), dB = dalloc(nb * 4), dC = dalloc(nc * 4);
            upload(dA, A, na * 4);
            upload(dB, B, nb * 4);
            const float *pa = (const float *)(uintptr_t)dA, *pb = (const float *)(uintptr_t)dB;
            float *pc = (float *)(uintptr_t)dC;
            for (int zero = 0; zero < 2; zero++) {
                const float alpha = 1.5f, beta = zero ? 0.0f : 0.5f;
                if (zero) { /* C is NaN: beta 0 must not read it */
                    ck_assert_int_eq(cu.cuMemsetD8_v2(dC, 0xff, nc * 4), CU_OK);
                } else {
                    upload(dC, C0, nc * 4);
                }
                int st = cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &alpha, pa, lda, sA, pb, ldb, sB,
                                                      &beta, pc, ldc, sC, BATCH);
                ck_assert_int_eq(st, 0);
                download(C, dC, nc * 4);
                for (int b = 0; b < BATCH; b++)
                    for (int j = 0; j < N; j++)
                        for (int i = 0; i < ldc && (size_t)(b * sC + (long long)j * ldc + i) < nc; i++) {
                            const size_t o = (size_t)(b * sC + (long long)j * ldc + i);
                            if (i >= M) { /* the gap between columns: untouched */
                                if (zero)
                                    ck_assert_msg(isnan(C[o]), "gap %zu written", o);
                                else
                                    ck_assert_msg(C[o] == C0[o], "gap %zu written", o);
                                continue;
                            }
                            double want = 0.0;
                            for (int l = 0; l < K; l++)
                                want += at(A + b * sA, ta, i, l, lda) * at(B + b * sB, tb, l, j, ldb);
                            want = alpha * want + (zero ? 0.0 : beta * C0[o]);
                            ck_assert_msg(nb_close(C[o], want, 1e-5, 1e-6),
                                          "ta %d tb %d beta %g batch %d C(%d,%d) = %.8g, want %.8g", ta, tb,
                                          (double)beta, b, i, j, (double)C[o], want);
                        }
            }

            /* an operand one element short of what the batch reaches: refused, C untouched */
            const float one = 1.0f, half = 0.5f;
            upload(dC, C0, nc * 4);
            CUdeviceptr sa = dalloc(na * 4 - 4), sb = dalloc(nb * 4 - 4), sc = dalloc(nc * 4 - 4);
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one,
                                                          (const float *)(uintptr_t)sa, lda, sA, pb, ldb, sB,
                                                          &half, pc, ldc, sC, BATCH),
                             0);
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one, pa, lda, sA,
                                                          (const float *)(uintptr_t)sb, ldb, sB, &half, pc,
                                                          ldc, sC, BATCH),
                             0);
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one, pa, lda, sA, pb, ldb, sB,
                                                          &half, (float *)(uintptr_t)sc, ldc, sC, BATCH),
                             0);
            /* a leading dimension under the minimum */
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one, pa, ra - 1, sA, pb, ldb,
                                                          sB, &half, pc, ldc, sC, BATCH),
                             0);
            download(C, dC, nc * 4);
            ck_assert_mem_eq(C, C0, nc * 4);
            dfree(sa);
            dfree(sb);
            dfree(sc);
            dfree(dA);
            dfree(dB);
            dfree(dC);
            free(A);
            free(B);
            free(C0);
            free(C);
        }
    ck_assert_int_eq(cu.cublasDestroy_v2(h), 0);
}
END_TEST

/* ---- 12: 2-D and 3-D grids and blocks ---------------------------------------------------- */

static void check_grid(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
    const unsigned W = gx * bx, H = gy * by, D = gz * bz, n = W * H * D * 4;
    int *got = malloc(n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    CUdeviceptr d = dalloc(n * sizeof *got);
    void *args[] = {&d};
    ck_assert_int_eq(launch(kernel(SRC, "grid_ids"), gx, gy, gz, bx, by, bz, 0, args), CU_OK);
    download(got, d, n * sizeof *got);
    for (unsigned z = 0; z < D; z++)
        for (unsigned y = 0; y < H; y++)
            for (unsigned x = 0; x < W; x++) {
                const int *o = got + 4 * ((z * H + y) * W + x);
                const int blk = (int)(x / bx + 10 * (y / by) + 100 * (z / bz)),
                          thr = (int)(x % bx + 10 * (y % by) + 100 * (z % bz));
                ck_assert_msg(o[0] == blk && o[1] == thr && o[2] == (int)(gx + 10 * gy + 100 * gz) &&
                                  o[3] == (int)(bx + 10 * by + 100 * bz),
                              "grid (%u,%u,%u) block (%u,%u,%u), cell (%u,%u,%u): %d %d %d %d", gx, gy, gz,
                              bx, by, bz, x, y, z, o[0], o[1], o[2], o[3]);
            }
    dfree(d);
    free(got);
}

START_TEST(test_grid_2d_3d) {
    /* grid sides with a common factor: a blockIdx taken apart wrongly misses blocks */
    check_grid(4, 2, 1, 8, 4, 1); /* 2-D */
    check_grid(2, 4, 1, 5, 7, 1); /* 2-D, a block of 35 threads: a partial warp */
    check_grid(2, 2, 3, 5, 3, 2); /* 3-D */
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_emu");
    const char *b = getenv("NB_BUILD");
    snprintf(lib_path, sizeof lib_path, "%s/libnbcudaemu.so", b && *b ? b : "build");
    if (access(lib_path, F_OK) != 0) {
        char why[2100];
        snprintf(why, sizeof why, "no %s (make %s)", lib_path, lib_path);
        nb_test_skip("cuda emulator (barriers, shuffles, memory checks, cuBLAS)", why);
        return s;
    }
    load_emulator(); /* present but unusable: every test fails, with the reason */
    TCase *tc = tcase_create("emulator");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, cache_setup, cache_teardown);
    tcase_add_checked_fixture(tc, require_emulator, NULL);
    tcase_add_test(tc, test_block_reduction);
    tcase_add_test(tc, test_warp_shuffles);
    tcase_add_test(tc, test_divergent_syncthreads_vs_shuffle);
    tcase_add_test(tc, test_syncthreads_after_others_returned);
    tcase_add_test(tc, test_shuffle_after_return);
    tcase_add_test(tc, test_copy_bounds);
    tcase_add_test(tc, test_guard_page);
    tcase_add_test(tc, test_poisoned_memory);
    tcase_add_test(tc, test_big_shared_memory);
    tcase_add_test(tc, test_memory_limit);
    tcase_add_test(tc, test_compile_error_and_missing_kernel);
    tcase_add_test(tc, test_sgemm);
    tcase_add_test(tc, test_grid_2d_3d);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
