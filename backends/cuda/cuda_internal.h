/* backends/cuda/cuda_internal.h - the CUDA backend's shared pieces (internal).
 *
 * Nothing here needs the CUDA headers: the few driver, NVRTC and cuBLAS
 * entry points the backend uses are declared as function-pointer types and
 * looked up with dlsym at run time, so a binary built with CUDA starts on a
 * machine without the driver (or without NVRTC / cuBLAS) and reports why
 * CUDA is unavailable only when asked for it. */
#ifndef NB_CUDA_INTERNAL_H
#define NB_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"
#include "tensor/internal.h"

/* ---- driver API (libcuda.so.1) ------------------------------------------- */
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;

#define NB_CU_SUCCESS 0
#define NB_CU_ERROR_OUT_OF_MEMORY 2
#define NB_CU_ERROR_NO_DEVICE 100
#define NB_CU_ATTR_SM_COUNT 16
#define NB_CU_ATTR_CC_MAJOR 75
#define NB_CU_ATTR_CC_MINOR 76
#define NB_CU_ATTR_SMEM_OPTIN 97
#define NB_CU_FUNC_ATTR_MAX_DYN_SMEM 8

typedef struct {
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDriverGetVersion)(int *);
    CUresult (*cuDeviceGetCount)(int *);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDeviceGetName)(char *, int, CUdevice);
    CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuModuleLoadData)(CUmodule *, const void *);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, unsigned, CUstream, void **, void **);
    CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree)(CUdeviceptr);
    CUresult (*cuMemGetInfo)(size_t *, size_t *);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
    CUresult (*cuMemsetD32)(CUdeviceptr, unsigned, size_t);
    CUresult (*cuGetErrorString)(CUresult, const char **);
} nb_cu_driver;

/* ---- NVRTC (libnvrtc.so.N) ---------------------------------------------------- */
typedef struct _nvrtcProgram *nvrtcProgram;
typedef struct {
    int (*nvrtcVersion)(int *, int *);
    const char *(*nvrtcGetErrorString)(int);
    int (*nvrtcCreateProgram)(nvrtcProgram *, const char *, const char *, int,
                              const char *const *, const char *const *);
    int (*nvrtcDestroyProgram)(nvrtcProgram *);
    int (*nvrtcCompileProgram)(nvrtcProgram, int, const char *const *);
    int (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t *);
    int (*nvrtcGetProgramLog)(nvrtcProgram, char *);
    int (*nvrtcGetPTXSize)(nvrtcProgram, size_t *);
    int (*nvrtcGetPTX)(nvrtcProgram, char *);
    int (*nvrtcGetCUBINSize)(nvrtcProgram, size_t *); /* may be NULL (old NVRTC) */
    int (*nvrtcGetCUBIN)(nvrtcProgram, char *);
    int (*nvrtcGetNumSupportedArchs)(int *); /* may be NULL */
    int (*nvrtcGetSupportedArchs)(int *);
    int major, minor;
} nb_cu_nvrtc;

/* ---- cuBLAS (libcublas.so.N) ------------------------------------------------------ */
typedef struct cublasContext *cublasHandle_t;
typedef struct {
    int (*create)(cublasHandle_t *);
    int (*destroy)(cublasHandle_t);
    int (*set_stream)(cublasHandle_t, CUstream);
    int (*set_math_mode)(cublasHandle_t, int);
    int (*sgemm_strided_batched)(cublasHandle_t, int, int, int, int, int, const float *,
                                 const float *, int, long long, const float *, int, long long,
                                 const float *, float *, int, long long, int);
    const char *(*status_string)(int); /* may be NULL */
} nb_cu_cublas;

/* The initialised backend state (valid once nb_cuda_backend_get succeeded). */
typedef struct {
    nb_cu_driver cu;
    CUdevice dev;
    CUcontext ctx;
    CUstream stream; /* NULL: the legacy default stream, shared with cuBLAS */
    int cc_major, cc_minor, sm_count, smem_optin;
    int arch, cubin; /* what NVRTC compiles for: sm_<arch> cubin, or compute_<arch> PTX */
    size_t total_mem;
    char name[128];
    nb_cu_cublas blas;
    cublasHandle_t blas_handle;
    int blas_tf32; /* math mode currently set on the handle */
} nb_cu_state;

extern nb_cu_state nb_cu;

/* ---- loader (cuda_loader.c) ---------------------------------------------------------- */

/* Loads NVRTC (no driver needed). The table, or NULL with an error set. */
const nb_cu_nvrtc *nb_cu_nvrtc_get(void);
/* Makes the backend's context current on the calling thread; 0 or -1 with error. */
int nb_cu_enter(void);
/* Sets "cuda: <what>: <driver message> (code N)" and returns -1. */
int nb_cu_fail(const char *what, CUresult rc);
/* Loads cuBLAS and creates the handle on first use; 0 or -1 with error. */
int nb_cu_blas_ready(void);
/* True when TF32 tensor-core math is allowed for matmul (opt-in). */
int nb_cu_tf32_allowed(void);

/* ---- kernel sources and modules (cuda_sources.c, cuda_module.c) ------------------------ */

/* One compilation unit of CUDA C held by the library. */
typedef struct {
    const char *name; /* e.g. "unary_gelu" */
    const char *text; /* complete, self-contained CUDA C source */
} nb_cu_source;

/* Module ids: one per elementwise op, then one per kernel family. */
enum {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER) NB_CU_MOD_UN_##NAME,
#include "ops/elementwise.def"
#undef NB_UNARY_OP
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF) NB_CU_MOD_BIN_##NAME,
#include "ops/elementwise.def"
#undef NB_BINARY_OP
    NB_CU_MOD_MISC,   /* fill, copy, arange, random, where, tril, axpy, adamw, dropout */
    NB_CU_MOD_REDUCE, /* sum/max/min, argmax */
    NB_CU_MOD_INDEX,  /* index_select, index_add, gather, scatter_add */
    NB_CU_MOD_NN,     /* softmax, layer norm, cross-entropy */
    NB_CU_MOD_ATTN,   /* fused causal attention */
    NB_CU_MOD_WINDOW, /* im2col, col2im, depthwise convolution, max pooling */
    NB_CU_MOD_LINALG, /* LU, Cholesky, triangular and LU solves, eigh, QR, SVD */
    NB_CU_MOD_COUNT
};

/* Every kernel source the library holds, indexed by module id; sets *n. */
const nb_cu_source *nb_cuda_kernel_sources(int *n);

/* Compiles `src` with NVRTC for `arch` (e.g. 90) into PTX (cubin = 0, for
 * compute_XX) or a cubin (cubin = 1, for sm_XX). On success *out is a
 * malloc'd image of *len bytes (caller frees). On a compile error returns -1
 * with the error set to "cuda: compiling <name> for sm_XX failed: <log>";
 * *log (when log != NULL) receives the malloc'd NVRTC log either way. */
int nb_cu_compile(const char *src, const char *name, int arch, int cubin, char **out, size_t *len,
                  char **log);

/* The compiled image of `src` for `arch`, read from the disk cache or freshly
 * compiled (and then stored there atomically): see cuda_module.c. Returns a
 * malloc'd image of *len bytes (caller frees) and sets *from_disk (may be
 * NULL); NULL with error. `fresh` skips reading the cache. */
char *nb_cu_cached_image(const char *src, const char *name, int arch, int cubin, int fresh,
                         size_t *len, int *from_disk);
/* The cache file name (no folder) for `src` compiled for `arch`; returns buf. */
char *nb_cu_cache_name(const char *src, int arch, int cubin, char *buf, size_t len);
/* The on-disk cache folder ($NABLA_CUDA_CACHE, else $XDG_CACHE_HOME/nabla/cuda,
 * else ~/.cache/nabla/cuda) written into buf; buf, or NULL when none can be named. */
char *nb_cu_cache_dir(char *buf, size_t len);
/* Number of NVRTC compilations this process has run (for tests). */
uint64_t nb_cu_compile_count(void);

/* The kernel `kname` of module `mod`, loading (and compiling) the module on
 * first use; NULL with error. */
CUfunction nb_cu_function(int mod, const char *kname);
/* Launches f on a 1-D (grid, block) with `smem` bytes of dynamic shared
 * memory; 0 or -1 with error. */
int nb_cu_launch(CUfunction f, unsigned grid, unsigned block, unsigned smem, void **args);
/* Same with a 2-D grid. */
int nb_cu_launch2(CUfunction f, unsigned gx, unsigned gy, unsigned block, unsigned smem,
                  void **args);
/* Unloads every module (backend shutdown). */
void nb_cu_modules_release(void);

/* ---- memory (cuda_alloc.c) ----------------------------------------------------------- */

/* Device memory from the caching allocator; NULL with an error naming the
 * sizes when out of memory. */
void *nb_cu_alloc(size_t nbytes);
/* Returns a block to the cache (NULL is a no-op). */
void nb_cu_free(void *p);
/* A device scratch buffer of at least nbytes for slot `slot` (0..3), kept and
 * reused by later calls (valid until the next call for the same slot). */
void *nb_cu_scratch(int slot, size_t nbytes);
/* Frees every cached (unused) block and the scratch buffers. */
void nb_cu_release_cached(void);

/* ---- kernel families (cuda_*.c) -------------------------------------------------------- */

/* Device address of a tensor's first element. */
static inline CUdeviceptr nb_cu_ptr(const nb_tensor *t) {
    return (CUdeviceptr)(uintptr_t)t->storage->data +
           (CUdeviceptr)(t->offset * (int64_t)nb_dtype_size(t->dtype));
}

/* Merged strided geometry of up to 5 same-shape operands (kernel argument;
 * the layout matches struct nb_geom in the kernel prelude). */
#define NB_CU_MAXOP 5
typedef struct {
    long long n;
    int ndim, contig; /* contig: every operand is dense row-major */
    long long shape[NB_MAX_DIMS];
    long long st[NB_CU_MAXOP][NB_MAX_DIMS];
} nb_cu_geom;

/* Convolution windows (kernel argument; the layout matches struct nb_i2c in the window module). */
typedef struct {
    long long N, C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, xs[4];
    float pad;
} nb_cu_i2c;

/* Reduction geometry (layout = struct nb_rgeom in the reduce kernels): kept
 * dims (sizes ks, strides ka in the input, ko in the output) and reduced dims. */
typedef struct {
    long long K, R;
    int nk, nr;
    long long ks[NB_MAX_DIMS], ka[NB_MAX_DIMS], ko[NB_MAX_DIMS], rs[NB_MAX_DIMS], ra[NB_MAX_DIMS];
} nb_cu_rgeom;

/* Attention geometry (layout = struct nb_ageom): [B,H,T,D] strides of every operand, and of
 * lse [B,H,T,2] along B, H and T (each (max, log-sum) pair is contiguous). */
typedef struct {
    int B, H, T, D;
    long long q[4], k[4], v[4], o[4], dq[4], dk[4], dv[4], g[4], lse[3];
} nb_cu_ageom;

/* Fills g for tensors t[0..nops-1] of t[0]'s shape (size-1 dims dropped,
 * dims contiguous for every operand merged). Returns 1 when 32-bit index
 * math is safe for every operand, else 0. */
int nb_cu_geom_init(nb_cu_geom *g, int nops, const nb_tensor *const *t);
/* Launch size for n elements, one per thread (grid-stride loops). */
unsigned nb_cu_blocks(long long n, unsigned block);
/* Launches an elementwise kernel of module `mod` named base + "_c" (all
 * operands contiguous), "_s32" or "_s" (strided) over the geometry of
 * t[0..nops-1]; `extra` arguments follow the pointers and the geometry. */
int nb_cu_elementwise(int mod, const char *base, int nops, const nb_tensor *const *t, void **extra,
                      int nextra);

int nb_cuda_fill(nb_tensor *out, double value);
int nb_cuda_copy(nb_tensor *out, const nb_tensor *a);
int nb_cuda_arange(nb_tensor *out, double start, double step);
int nb_cuda_random(nb_tensor *out, nb_randkind kind, float a, float b, uint64_t seed,
                   uint64_t offset);
int nb_cuda_unary(nb_unop op, nb_tensor *out, const nb_tensor *a, float p0, float p1);
int nb_cuda_unary_backward(nb_unop op, nb_tensor *gin, const nb_tensor *gout, const nb_tensor *x,
                           const nb_tensor *y, float p0, float p1);
int nb_cuda_binary(nb_binop op, nb_tensor *out, const nb_tensor *a, const nb_tensor *b);
int nb_cuda_binary_backward(nb_binop op, nb_tensor *ga, nb_tensor *gb, const nb_tensor *g,
                            const nb_tensor *a, const nb_tensor *b, const nb_tensor *y);
int nb_cuda_where(nb_tensor *out, const nb_tensor *cond, const nb_tensor *a, const nb_tensor *b);
int nb_cuda_axpy(nb_tensor *y, float alpha, const nb_tensor *x);
int nb_cuda_tril(nb_tensor *out, const nb_tensor *a, int64_t k);
int nb_cuda_dropout(nb_tensor *out, const nb_tensor *x, float p, uint64_t seed, uint64_t offset);
int nb_cuda_adamw(nb_tensor *p, const nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1,
                  float b2, float eps, float wd, float bc1, float bc2);

int nb_cuda_reduce(nb_redop op, nb_tensor *out, const nb_tensor *a);
int nb_cuda_argmax(nb_tensor *out, const nb_tensor *a, int axis);
int nb_cuda_cumsum(nb_tensor *out, const nb_tensor *a, int dim, bool reverse);
int nb_cuda_cumprod(nb_tensor *out, const nb_tensor *a, int dim, bool reverse);
int nb_cuda_logcumsumexp(nb_tensor *out, const nb_tensor *a, int dim);
int nb_cuda_cummax(nb_tensor *out, nb_tensor *idx, const nb_tensor *a, int dim, bool min);
int nb_cuda_lu(nb_tensor *a, nb_tensor *piv, nb_tensor *info);
int nb_cuda_cholesky(nb_tensor *a, nb_tensor *info);
int nb_cuda_trisolve(nb_tensor *b, const nb_tensor *t, bool upper, bool trans, bool unit);
int nb_cuda_lu_solve(nb_tensor *b, const nb_tensor *lu, const nb_tensor *piv, bool trans);
int nb_cuda_eigh(nb_tensor *w, nb_tensor *v, const nb_tensor *a);
int nb_cuda_qr(nb_tensor *q, nb_tensor *r, const nb_tensor *a);
int nb_cuda_svd(nb_tensor *s, nb_tensor *u, nb_tensor *vh, const nb_tensor *a);
int nb_cuda_argsort(nb_tensor *idx, const nb_tensor *a, int dim, bool desc);
int nb_cuda_im2col(nb_tensor *cols, const nb_tensor *x, const nb_im2col_geom *g);
int nb_cuda_col2im(nb_tensor *dx, const nb_tensor *dcols, const nb_im2col_geom *g);
int nb_cuda_dwconv(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_im2col_geom *g);
int nb_cuda_dwconv_backward(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                            const nb_tensor *w, const nb_im2col_geom *g);
int nb_cuda_max_pool(nb_tensor *y, nb_tensor *idx, const nb_tensor *x, const nb_im2col_geom *g);
int nb_cuda_max_pool_backward(nb_tensor *dx, const nb_tensor *dy, const nb_tensor *idx,
                              const nb_im2col_geom *g);
int nb_cuda_lerp_dim(nb_tensor *out, const nb_tensor *x, const nb_tensor *idx, const nb_tensor *w);
int nb_cuda_lerp_dim_backward(nb_tensor *dx, const nb_tensor *g, const nb_tensor *idx, const nb_tensor *w);
int nb_cuda_matmul(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta);

int nb_cuda_index_select(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx);
int nb_cuda_index_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src);
int nb_cuda_gather(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx);
int nb_cuda_scatter_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src);

int nb_cuda_softmax(nb_tensor *out, const nb_tensor *a, bool log);
int nb_cuda_softmax_backward(nb_tensor *gin, const nb_tensor *gout, const nb_tensor *y, bool log);
int nb_cuda_layer_norm(nb_tensor *y, nb_tensor *mean, nb_tensor *rstd, const nb_tensor *x,
                       const nb_tensor *w, const nb_tensor *b, float eps);
int nb_cuda_layer_norm_backward(nb_tensor *dx, nb_tensor *dw, nb_tensor *db, const nb_tensor *dy,
                                const nb_tensor *x, const nb_tensor *mean, const nb_tensor *rstd,
                                const nb_tensor *w);
int nb_cuda_cross_entropy(nb_tensor *loss, nb_tensor *lse, const nb_tensor *logits,
                          const nb_tensor *targets, int ignore_index);
int nb_cuda_cross_entropy_backward(nb_tensor *dlogits, const nb_tensor *g, const nb_tensor *logits,
                                   const nb_tensor *targets, const nb_tensor *lse,
                                   int ignore_index);
int nb_cuda_cross_entropy_fused(nb_tensor *loss, nb_tensor *lse, nb_tensor *logits,
                                const nb_tensor *targets, int ignore_index, float k);
int nb_cuda_attention(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k,
                      const nb_tensor *v, float scale);
int nb_cuda_attention_backward(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout,
                               const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                               const nb_tensor *out, const nb_tensor *lse, float scale);

#endif
