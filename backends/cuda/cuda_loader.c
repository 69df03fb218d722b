/* backends/cuda/cuda_loader.c - finding the driver, NVRTC and cuBLAS at run time.
 *
 * libcuda.so.1 (the driver), libnvrtc and libcublas are opened with dlopen on
 * first use, never linked, so a binary built with CUDA runs everywhere; when
 * one is missing, asking for the cuda device gives one clear line saying why.
 * NVRTC alone (no driver, no GPU) is enough to compile the kernel sources,
 * which tests/test_cuda.c does on machines without a GPU. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"
#include "nabla/cuda.h"

#ifndef NB_CUDA_HOME
#define NB_CUDA_HOME "/usr/local/cuda"
#endif

nb_cu_state nb_cu;

/* ---- dlopen helpers ------------------------------------------------------------- */

/* The CUDA major version the driver supports (cuDriverGetVersion / 1000) once the driver has
 * started; 0 before. NVRTC and cuBLAS of a newer major need a newer driver (CUDA 13's PTX,
 * cubins and cuBLAS do not run on a 12.x driver), so open_lib tries the others first. */
static int driver_major;

/* The major version in a name like "libnvrtc.so.12" or "libnvrtc.so.11.2"; 0 when none. */
static int so_major(const char *name) {
    const char *v = strstr(name, ".so.");
    return v ? atoi(v + 4) : 0;
}

/* Opens the first loadable of `names` (plain, then under $CUDA_HOME/lib64 and
 * the build-time toolkit); `env` may name an exact path that overrides them. Names of a
 * newer CUDA than the driver's come last. The last dlerror() text goes into err. */
static void *open_lib(const char *env, const char *const *names, char *err, size_t errlen) {
    const char *over = env ? getenv(env) : NULL;
    if (over && *over) {
        void *h = dlopen(over, RTLD_NOW | RTLD_LOCAL);
        if (!h) snprintf(err, errlen, "%s=%s: %s", env, over, dlerror());
        return h;
    }
    const char *home = getenv("CUDA_HOME");
    const char *dirs[4] = {"", NULL, NB_CUDA_HOME "/lib64/", "/usr/local/cuda/lib64/"};
    char homedir[512];
    if (home && *home) {
        snprintf(homedir, sizeof homedir, "%s/lib64/", home);
        dirs[1] = homedir;
    }
    err[0] = '\0';
    for (int pass = 0; pass < 2; pass++)
        for (int d = 0; d < 4; d++) {
            if (!dirs[d]) continue;
            for (int i = 0; names[i]; i++) {
                const bool newer = driver_major > 0 && so_major(names[i]) > driver_major;
                if (newer != (pass == 1)) continue;
                char path[768];
                snprintf(path, sizeof path, "%s%s", dirs[d], names[i]);
                void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                if (h) return h;
                if (!err[0] || d == 0) snprintf(err, errlen, "%s", dlerror());
            }
        }
    return NULL;
}

/* Looks up every symbol of a table: names[i] goes to slots[i]; the first missing
 * name is returned (NULL when all were found). Optional names start with '?'. */
static const char *bind(void *h, const char *const *names, void **slots) {
    for (int i = 0; names[i]; i++) {
        const char *n = names[i][0] == '?' ? names[i] + 1 : names[i];
        slots[i] = dlsym(h, n);
        if (!slots[i] && names[i][0] != '?') return n;
    }
    return NULL;
}

/* Stores a function pointer obtained as void * (POSIX guarantees this works). */
#define NB_SLOT(field) ((void **)(void *)&(field))

/* ---- NVRTC ------------------------------------------------------------------------- */

static nb_cu_nvrtc nvrtc;
static pthread_once_t nvrtc_once = PTHREAD_ONCE_INIT;
static char nvrtc_msg[512];
static int nvrtc_ok;

static void nvrtc_load(void) {
    static const char *const libs[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2",
                                       "libnvrtc.so", NULL};
    char err[400];
    void *h = open_lib("NABLA_NVRTC", libs, err, sizeof err);
    if (!h) {
        snprintf(nvrtc_msg, sizeof nvrtc_msg, "cuda: NVRTC not loadable (libnvrtc.so): %s", err);
        return;
    }
    static const char *const names[] = {"nvrtcVersion", "nvrtcGetErrorString", "nvrtcCreateProgram",
                                        "nvrtcDestroyProgram", "nvrtcCompileProgram",
                                        "nvrtcGetProgramLogSize", "nvrtcGetProgramLog",
                                        "nvrtcGetPTXSize", "nvrtcGetPTX", "?nvrtcGetCUBINSize",
                                        "?nvrtcGetCUBIN", "?nvrtcGetNumSupportedArchs",
                                        "?nvrtcGetSupportedArchs", NULL};
    void **slots[] = {NB_SLOT(nvrtc.nvrtcVersion), NB_SLOT(nvrtc.nvrtcGetErrorString),
                      NB_SLOT(nvrtc.nvrtcCreateProgram), NB_SLOT(nvrtc.nvrtcDestroyProgram),
                      NB_SLOT(nvrtc.nvrtcCompileProgram), NB_SLOT(nvrtc.nvrtcGetProgramLogSize),
                      NB_SLOT(nvrtc.nvrtcGetProgramLog), NB_SLOT(nvrtc.nvrtcGetPTXSize),
                      NB_SLOT(nvrtc.nvrtcGetPTX), NB_SLOT(nvrtc.nvrtcGetCUBINSize),
                      NB_SLOT(nvrtc.nvrtcGetCUBIN), NB_SLOT(nvrtc.nvrtcGetNumSupportedArchs),
                      NB_SLOT(nvrtc.nvrtcGetSupportedArchs)};
    void *tmp[16];
    const char *missing = bind(h, names, tmp);
    if (missing) {
        snprintf(nvrtc_msg, sizeof nvrtc_msg, "cuda: the NVRTC library lacks %s", missing);
        return;
    }
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) *slots[i] = tmp[i];
    if (nvrtc.nvrtcVersion(&nvrtc.major, &nvrtc.minor) != 0) {
        snprintf(nvrtc_msg, sizeof nvrtc_msg, "cuda: nvrtcVersion failed");
        return;
    }
    nvrtc_ok = 1;
}

const nb_cu_nvrtc *nb_cu_nvrtc_get(void) {
    pthread_once(&nvrtc_once, nvrtc_load);
    if (!nvrtc_ok) return nb_set_error("%s", nvrtc_msg);
    return &nvrtc;
}

/* ---- the driver ------------------------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;
static char init_msg[640];
static _Thread_local int ctx_current;
static int tf32_allowed = -1; /* -1: not decided yet (NABLA_TF32) */

int nb_cu_fail(const char *what, CUresult rc) {
    const char *s = NULL;
    if (nb_cu.cu.cuGetErrorString) nb_cu.cu.cuGetErrorString(rc, &s);
    nb_set_error("cuda: %s: %s (code %d)", what, s ? s : "unknown error", rc);
    return -1;
}

/* Picks what NVRTC compiles for: the device's own sm_XX as a cubin when NVRTC
 * knows it, else PTX for the newest older architecture it knows (the driver
 * then compiles that PTX for the device). */
static int pick_arch(const nb_cu_nvrtc *rt, int cc) {
    nb_cu.arch = cc;
    nb_cu.cubin = rt->nvrtcGetCUBIN != NULL;
    if (!rt->nvrtcGetNumSupportedArchs || !rt->nvrtcGetSupportedArchs) return 0;
    int n = 0;
    if (rt->nvrtcGetNumSupportedArchs(&n) != 0 || n <= 0 || n > 256) return 0;
    int archs[256], best = -1;
    if (rt->nvrtcGetSupportedArchs(archs) != 0) return 0;
    for (int i = 0; i < n; i++) {
        if (archs[i] == cc) return 0;
        if (archs[i] < cc && archs[i] > best) best = archs[i];
    }
    if (best < 0) {
        snprintf(init_msg, sizeof init_msg,
                 "cuda: NVRTC %d.%d cannot compile for this GPU (sm_%d); use an NVRTC that "
                 "supports it (NABLA_NVRTC=/path/to/libnvrtc.so)",
                 rt->major, rt->minor, cc);
        return -1;
    }
    nb_cu.arch = best;
    nb_cu.cubin = 0;
    return 0;
}

static void init(void) {
    char err[400];
    static const char *const libs[] = {"libcuda.so.1", NULL};
    void *h = open_lib("NABLA_LIBCUDA", libs, err, sizeof err);
    if (!h) {
        snprintf(init_msg, sizeof init_msg,
                 "cuda: no NVIDIA driver found (libcuda.so.1 not loadable): %s", err);
        return;
    }
    nb_cu_driver *d = &nb_cu.cu;
    static const char *const names[] = {
        "cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName",
        "cuDeviceGetAttribute", "cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRetain",
        "cuCtxSetCurrent", "cuCtxSynchronize", "cuModuleLoadData", "cuModuleGetFunction",
        "cuFuncSetAttribute", "cuLaunchKernel", "cuMemAlloc_v2", "cuMemFree_v2",
        "cuMemGetInfo_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2",
        "cuMemsetD8_v2", "cuMemsetD32_v2", "cuGetErrorString", NULL};
    void **slots[] = {
        NB_SLOT(d->cuInit), NB_SLOT(d->cuDriverGetVersion), NB_SLOT(d->cuDeviceGetCount),
        NB_SLOT(d->cuDeviceGet), NB_SLOT(d->cuDeviceGetName), NB_SLOT(d->cuDeviceGetAttribute),
        NB_SLOT(d->cuDeviceTotalMem), NB_SLOT(d->cuDevicePrimaryCtxRetain),
        NB_SLOT(d->cuCtxSetCurrent), NB_SLOT(d->cuCtxSynchronize), NB_SLOT(d->cuModuleLoadData),
        NB_SLOT(d->cuModuleGetFunction), NB_SLOT(d->cuFuncSetAttribute),
        NB_SLOT(d->cuLaunchKernel), NB_SLOT(d->cuMemAlloc), NB_SLOT(d->cuMemFree),
        NB_SLOT(d->cuMemGetInfo), NB_SLOT(d->cuMemcpyHtoD), NB_SLOT(d->cuMemcpyDtoH),
        NB_SLOT(d->cuMemcpyDtoD), NB_SLOT(d->cuMemsetD8), NB_SLOT(d->cuMemsetD32),
        NB_SLOT(d->cuGetErrorString)};
    void *tmp[32];
    const char *missing = bind(h, names, tmp);
    if (missing) {
        snprintf(init_msg, sizeof init_msg, "cuda: the NVIDIA driver library lacks %s (too old?)",
                 missing);
        return;
    }
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) *slots[i] = tmp[i];

    CUresult rc = d->cuInit(0);
    if (rc == NB_CU_ERROR_NO_DEVICE) {
        snprintf(init_msg, sizeof init_msg, "cuda: no GPU present (the driver found no device)");
        return;
    }
    if (rc != NB_CU_SUCCESS) {
        const char *s = NULL;
        d->cuGetErrorString(rc, &s);
        snprintf(init_msg, sizeof init_msg, "cuda: the NVIDIA driver failed to start: %s (code %d)",
                 s ? s : "unknown error", rc);
        return;
    }
    int drv = 0;
    if (d->cuDriverGetVersion(&drv) == NB_CU_SUCCESS && drv >= 1000) driver_major = drv / 1000;
    int count = 0;
    if (d->cuDeviceGetCount(&count) != NB_CU_SUCCESS || count <= 0) {
        snprintf(init_msg, sizeof init_msg, "cuda: no GPU present");
        return;
    }
    const char *e = getenv("NABLA_CUDA_DEVICE");
    int ord = e && *e ? atoi(e) : 0;
    if (ord < 0 || ord >= count) {
        snprintf(init_msg, sizeof init_msg,
                 "cuda: NABLA_CUDA_DEVICE=%d but there %s %d GPU%s (0..%d)", ord,
                 count == 1 ? "is" : "are", count, count == 1 ? "" : "s", count - 1);
        return;
    }
    if ((rc = d->cuDeviceGet(&nb_cu.dev, ord)) != NB_CU_SUCCESS ||
        (rc = d->cuDevicePrimaryCtxRetain(&nb_cu.ctx, nb_cu.dev)) != NB_CU_SUCCESS ||
        (rc = d->cuCtxSetCurrent(nb_cu.ctx)) != NB_CU_SUCCESS) {
        const char *s = NULL;
        d->cuGetErrorString(rc, &s);
        snprintf(init_msg, sizeof init_msg, "cuda: cannot open GPU %d: %s (code %d)", ord,
                 s ? s : "unknown error", rc);
        return;
    }
    d->cuDeviceGetName(nb_cu.name, (int)sizeof nb_cu.name, nb_cu.dev);
    d->cuDeviceGetAttribute(&nb_cu.cc_major, NB_CU_ATTR_CC_MAJOR, nb_cu.dev);
    d->cuDeviceGetAttribute(&nb_cu.cc_minor, NB_CU_ATTR_CC_MINOR, nb_cu.dev);
    d->cuDeviceGetAttribute(&nb_cu.sm_count, NB_CU_ATTR_SM_COUNT, nb_cu.dev);
    d->cuDeviceGetAttribute(&nb_cu.smem_optin, NB_CU_ATTR_SMEM_OPTIN, nb_cu.dev);
    d->cuDeviceTotalMem(&nb_cu.total_mem, nb_cu.dev);
    if (nb_cu.sm_count <= 0) nb_cu.sm_count = 1;

    const nb_cu_nvrtc *rt = nb_cu_nvrtc_get();
    if (!rt) {
        snprintf(init_msg, sizeof init_msg, "%s (needed to compile the CUDA kernels)",
                 nb_last_error());
        return;
    }
    if (pick_arch(rt, nb_cu.cc_major * 10 + nb_cu.cc_minor)) return;
    ctx_current = 1;
    init_ok = 1;
}

const nb_backend *nb_cuda_backend_get(void);
extern const nb_backend nb_cuda_backend;

const nb_backend *nb_cuda_backend_get(void) {
    pthread_once(&init_once, init);
    if (!init_ok) return nb_set_error("%s", init_msg);
    if (!ctx_current) {
        CUresult rc = nb_cu.cu.cuCtxSetCurrent(nb_cu.ctx);
        if (rc != NB_CU_SUCCESS) return nb_cu_fail("making the context current", rc), NULL;
        ctx_current = 1;
    }
    return &nb_cuda_backend;
}

int nb_cu_enter(void) { return nb_cuda_backend_get() ? 0 : -1; }

/* ---- cuBLAS ---------------------------------------------------------------------------- */

static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static int blas_state; /* 0 not tried, 1 ready, -1 failed */
static char blas_msg[512];

int nb_cu_blas_ready(void) {
    pthread_mutex_lock(&blas_mu);
    if (blas_state == 0) {
        blas_state = -1;
        static const char *const libs[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
                                           "libcublas.so", NULL};
        char err[400];
        void *h = open_lib("NABLA_CUBLAS", libs, err, sizeof err);
        nb_cu_cublas *b = &nb_cu.blas;
        static const char *const names[] = {"cublasCreate_v2", "cublasDestroy_v2",
                                            "cublasSetStream_v2", "cublasSetMathMode",
                                            "cublasSgemmStridedBatched", "?cublasGetStatusString",
                                            NULL};
        void **slots[] = {NB_SLOT(b->create), NB_SLOT(b->destroy), NB_SLOT(b->set_stream),
                          NB_SLOT(b->set_math_mode), NB_SLOT(b->sgemm_strided_batched),
                          NB_SLOT(b->status_string)};
        void *tmp[8];
        const char *missing = h ? bind(h, names, tmp) : NULL;
        if (!h) {
            snprintf(blas_msg, sizeof blas_msg, "cuda: cuBLAS not loadable (libcublas.so): %s", err);
        } else if (missing) {
            snprintf(blas_msg, sizeof blas_msg, "cuda: the cuBLAS library lacks %s", missing);
        } else {
            for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) *slots[i] = tmp[i];
            int st = b->create(&nb_cu.blas_handle);
            if (st != 0) {
                snprintf(blas_msg, sizeof blas_msg, "cuda: cublasCreate failed (status %d)", st);
            } else if ((st = b->set_stream(nb_cu.blas_handle, nb_cu.stream)) != 0 ||
                       (st = b->set_math_mode(nb_cu.blas_handle, 0)) != 0) {
                snprintf(blas_msg, sizeof blas_msg,
                         "cuda: cuBLAS refused its stream or math mode (status %d)", st);
                b->destroy(nb_cu.blas_handle);
                nb_cu.blas_handle = NULL;
            } else {
                nb_cu.blas_tf32 = 0;
                blas_state = 1;
            }
        }
    }
    int ok = blas_state == 1;
    pthread_mutex_unlock(&blas_mu);
    if (!ok) nb_set_error("%s", blas_msg);
    return ok ? 0 : -1;
}

int nb_cu_tf32_allowed(void) {
    if (tf32_allowed < 0) {
        const char *e = getenv("NABLA_TF32");
        tf32_allowed = e && *e && *e != '0';
    }
    return tf32_allowed;
}

/* ---- public controls (nabla/cuda.h) ------------------------------------------------------ */

bool nb_cuda_available(const char **why) {
    pthread_once(&init_once, init);
    if (why) *why = init_ok ? "" : init_msg;
    return init_ok != 0;
}

void nb_cuda_allow_tf32(bool allow) { tf32_allowed = allow ? 1 : 0; }

bool nb_cuda_tf32_allowed(void) { return nb_cu_tf32_allowed() != 0; }

int nb_cuda_device_info(char *name, size_t len, int *cc_major, int *cc_minor, size_t *total_mem) {
    if (!nb_cuda_backend_get()) return -1;
    if (name && len) snprintf(name, len, "%s", nb_cu.name);
    if (cc_major) *cc_major = nb_cu.cc_major;
    if (cc_minor) *cc_minor = nb_cu.cc_minor;
    if (total_mem) *total_mem = nb_cu.total_mem;
    return 0;
}

int nb_cuda_synchronize(void) {
    if (!nb_cuda_backend_get()) return -1;
    CUresult rc = nb_cu.cu.cuCtxSynchronize();
    return rc == NB_CU_SUCCESS ? 0 : nb_cu_fail("synchronize (a kernel failed)", rc);
}
