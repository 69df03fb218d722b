/* tests/cuda_emu/emu_test.h - what the test programs of the CUDA emulator share
 * (tests/test_cuda_emu.c, tests/test_cuda_emu_mem.c): the emulator's C entry points
 * (libcuda, NVRTC and cuBLAS stand-ins, dlopen'd from $NB_BUILD/libnbcudaemu.so), a fresh
 * kernel cache folder per run, compiling and loading kernels, device memory helpers, running
 * a case that poisons the process (sticky errors, crashes, the memory limit) in a child
 * process of its own, the kernels the tests launch, and the suite's test case (NULL, with a
 * SKIP line, without the emulator library). It includes nb_check.h. */
#ifndef NB_TESTS_EMU_TEST_H
#define NB_TESTS_EMU_TEST_H

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

#include "tests/cuda_emu/emu_internal.h"
#include "tests/nb_check.h"

/* static, without a warning in the programs that leave one unused */
#ifndef NB_TEST_FN
#define NB_TEST_FN static __attribute__((unused))
#endif

/* ---- the emulator's entry points ---------------------------------------------------------- */

/* CUresult, CUdeviceptr and the result codes are the emulator's own (emu_internal.h) */
enum {
    NVRTC_ERROR_COMPILATION = 6,
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

static struct {
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDevicePrimaryCtxRetain)(void **, int);
    CUresult (*cuCtxSetCurrent)(void *);
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
    X(cuDevicePrimaryCtxRetain)                                                                              \
    X(cuCtxSetCurrent)                                                                                       \
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
NB_TEST_FN int load_emulator(void) {
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

/* cuInit, then the primary context made current on the calling thread, as the backend does;
 * the driver's result (CU_OK). */
NB_TEST_FN CUresult emu_init(void) {
    void *ctx = NULL;
    CUresult rc = cu.cuInit(0);
    if (rc == CU_OK) rc = cu.cuDevicePrimaryCtxRetain(&ctx, 0);
    if (rc == CU_OK) rc = cu.cuCtxSetCurrent(ctx);
    return rc;
}

/* ---- the kernel cache folder: fresh for this run, removed afterwards ---------------------- */

static char cache_dir[512];

NB_TEST_FN void cache_setup(void) {
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

NB_TEST_FN int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

NB_TEST_FN void cache_teardown(void) {
    if (cache_dir[0]) nftw(cache_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    cache_dir[0] = '\0';
}

NB_TEST_FN void require_emulator(void) {
    ck_assert_msg(lib_error[0] == '\0', "%s", lib_error);
    ck_assert_msg(cache_dir[0] != '\0', "no temporary folder for the kernel cache");
    ck_assert_int_eq(emu_init(), CU_OK); /* the context current on the test's thread */
}

/* ---- compiling and launching -------------------------------------------------------------- */

/* NVRTC-compiles src; its "PTX" (NULL on failure) and log, both malloc'd; the NVRTC status. */
NB_TEST_FN int compile_with(const char *src, const char *name, const char *opt, char **ptx, char **log) {
    void *prog = NULL;
    *ptx = *log = NULL;
    ck_assert_int_eq(cu.nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL), 0);
    const char *opts[] = {"--std=c++17", opt};
    int rc = cu.nvrtcCompileProgram(prog, opt ? 2 : 1, opts);
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

/* src compiled with NVRTC's default options (--std=c++17 only). */
NB_TEST_FN int compile(const char *src, const char *name, char **ptx, char **log) {
    return compile_with(src, name, NULL, ptx, log);
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
NB_TEST_FN void *module(const char *src) {
    size_t m = 0;
    while (m < sizeof modules / sizeof *modules && modules[m].src && modules[m].src != src)
        m++;
    ck_assert_uint_lt(m, sizeof modules / sizeof *modules);
    if (!modules[m].src) {
        ck_assert_int_eq(emu_init(), CU_OK);
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
NB_TEST_FN void *kernel(const char *src, const char *kname) {
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

NB_TEST_FN CUresult launch(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                           unsigned bz, unsigned smem, void **args) {
    return cu.cuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, NULL, args, NULL);
}

NB_TEST_FN CUdeviceptr dalloc(size_t n) {
    CUdeviceptr d = 0;
    ck_assert_int_eq(cu.cuMemAlloc_v2(&d, n), CU_OK);
    ck_assert(d != 0);
    return d;
}
NB_TEST_FN void dfree(CUdeviceptr d) { ck_assert_int_eq(cu.cuMemFree_v2(d), CU_OK); }
NB_TEST_FN void upload(CUdeviceptr d, const void *h, size_t n) {
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, n), 0);
}
NB_TEST_FN void download(void *h, CUdeviceptr d, size_t n) {
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(h, d, n), 0);
}

/* ---- running a case in a child process of its own ----------------------------------------- */

/* In a child: a failed expectation prints where and returns 1 (the child's exit status). */
#define EXPECT(c)                                                                                            \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #c);                                 \
            return 1;                                                                                        \
        }                                                                                                    \
    } while (0)

/* Runs fn(arg) in a child process (its stderr, where the emulator reports, into out; SIGSEGV
 * and SIGBUS at their default, fatal action; killed after 120 s) and returns its wait status.
 * The sticky error of a failed launch, a crash or a changed environment stays in the child. */
NB_TEST_FN int in_child(int (*fn)(void *), void *arg, char *out, size_t len) {
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

/* ---- the suite ---------------------------------------------------------------------------- */

/* A test case "emulator" with the emulator loaded (present but unusable: every test fails,
 * with the reason) and a fresh kernel cache; the caller adds its tests and the case to its
 * suite. NULL, with a SKIP line naming what (the tests left out), without the library. */
NB_TEST_FN TCase *emu_tcase(const char *what) {
    const char *b = getenv("NB_BUILD");
    snprintf(lib_path, sizeof lib_path, "%s/libnbcudaemu.so", b && *b ? b : "build");
    if (access(lib_path, F_OK) != 0) {
        char why[2100];
        snprintf(why, sizeof why, "no %s (make %s)", lib_path, lib_path);
        nb_test_skip(what, why);
        return NULL;
    }
    load_emulator();
    TCase *tc = tcase_create("emulator");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, cache_setup, cache_teardown);
    tcase_add_checked_fixture(tc, require_emulator, NULL);
    return tc;
}

#endif
