/* backends/cpu/cpu_backend.c - the CPU backend's table, memory, fills,
 * copies and random numbers. The kernels live in backends/cpu/cpu_*.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "tensor/half.h"

static void *cpu_alloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) nb_set_error("cpu: out of memory allocating %zu bytes", n);
    return p;
}

static void cpu_free(void *p) { free(p); }

static int cpu_memcpy(void *dst, const void *src, size_t n) {
    memcpy(dst, src, n);
    return 0;
}

static void cpu_sync(void) {}

typedef struct {
    int dtype;
    float f;
    int32_t i;
    uint16_t h; /* the f16 or bf16 bits */
} fill_args;

static void fill_run(void *u, int64_t n, char **p, const int64_t *st) {
    const fill_args *a = u;
    if (a->dtype == NB_I32) {
        int32_t *o = (int32_t *)p[0];
        for (int64_t k = 0; k < n; k++) o[k * st[0]] = a->i;
    } else if (a->dtype == NB_F16 || a->dtype == NB_BF16) {
        uint16_t *o = (uint16_t *)p[0];
        for (int64_t k = 0; k < n; k++)
            o[k * st[0]] = a->h;
    } else {
        float *o = (float *)p[0];
        if (st[0] == 1)
            for (int64_t k = 0; k < n; k++) o[k] = a->f;
        else
            for (int64_t k = 0; k < n; k++) o[k * st[0]] = a->f;
    }
}

static int cpu_fill(nb_tensor *out, double v) {
    nb_loop L;
    const nb_tensor *t[1] = {out};
    nb_loop_init(&L, 1, t);
    fill_args a = {(int)out->dtype, (float)v, 0, 0};
    /* i32: toward zero, clamped to the range, NaN as 0 */
    if (out->dtype == NB_I32)
        a.i = v != v ? 0 : v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN : (int32_t)v;
    if (out->dtype == NB_F16) a.h = nb_f32_to_f16((float)v);
    if (out->dtype == NB_BF16) a.h = nb_f32_to_bf16((float)v);
    nb_loop_run(&L, fill_run, &a);
    return 0;
}

/* f32 -> i32 toward zero, saturating at the i32 range, NaN to 0 (as CUDA's nb_f2i). */
static inline int32_t f32_to_i32(float x) {
    return x != x ? 0 : x >= 2147483648.0f ? INT32_MAX : x < -2147483648.0f ? INT32_MIN : (int32_t)x;
}

static void copy_run(void *u, int64_t n, char **p, const int64_t *st) {
    int mode = *(const int *)u; /* dst dtype * 2 + src dtype */
    switch (mode) {
    case 0: { /* f32 <- f32 */
        float *o = (float *)p[0];
        const float *a = (const float *)p[1];
        if (st[0] == 1 && st[1] == 1) memcpy(o, a, (size_t)n * 4);
        else
            for (int64_t k = 0; k < n; k++) o[k * st[0]] = a[k * st[1]];
        break;
    }
    case 1: { /* f32 <- i32 */
        float *o = (float *)p[0];
        const int32_t *a = (const int32_t *)p[1];
        for (int64_t k = 0; k < n; k++) o[k * st[0]] = (float)a[k * st[1]];
        break;
    }
    case 2: { /* i32 <- f32: toward zero, saturating at the i32 range, NaN to 0 (as CUDA) */
        int32_t *o = (int32_t *)p[0];
        const float *a = (const float *)p[1];
        for (int64_t k = 0; k < n; k++)
            o[k * st[0]] = f32_to_i32(a[k * st[1]]);
        break;
    }
    default: { /* i32 <- i32 */
        int32_t *o = (int32_t *)p[0];
        const int32_t *a = (const int32_t *)p[1];
        for (int64_t k = 0; k < n; k++) o[k * st[0]] = a[k * st[1]];
    }
    }
}

/* Element k of a 32- or 16-bit array of dtype dt, as f32 (i32 values rounded to nearest). */
static inline float load_f32(int dt, const char *p, int64_t k) {
    switch (dt) {
    case NB_F32: return ((const float *)p)[k];
    case NB_I32: return (float)((const int32_t *)p)[k];
    case NB_F16: return nb_f16_to_f32(((const uint16_t *)p)[k]);
    default: return nb_bf16_to_f32(((const uint16_t *)p)[k]);
    }
}

/* Copies that involve f16 or bf16: through f32, one element at a time. */
static void copy_half_run(void *u, int64_t n, char **p, const int64_t *st) {
    const int *dt = u;    /* {dst, src} */
    if (dt[0] == dt[1]) { /* the same 16-bit type: the bits */
        uint16_t *o = (uint16_t *)p[0];
        const uint16_t *a = (const uint16_t *)p[1];
        for (int64_t k = 0; k < n; k++)
            o[k * st[0]] = a[k * st[1]];
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        float x = load_f32(dt[1], p[1], k * st[1]);
        switch (dt[0]) {
        case NB_F32: ((float *)p[0])[k * st[0]] = x; break;
        case NB_I32: ((int32_t *)p[0])[k * st[0]] = f32_to_i32(x); break;
        case NB_F16: ((uint16_t *)p[0])[k * st[0]] = nb_f32_to_f16(x); break;
        default: ((uint16_t *)p[0])[k * st[0]] = nb_f32_to_bf16(x);
        }
    }
}

static int cpu_copy(nb_tensor *out, const nb_tensor *a) {
    nb_loop L;
    const nb_tensor *t[2] = {out, a};
    nb_loop_init(&L, 2, t);
    if (nb_dtype_size(out->dtype) == 2 || nb_dtype_size(a->dtype) == 2) {
        int dt[2] = {(int)out->dtype, (int)a->dtype};
        nb_loop_run(&L, copy_half_run, dt);
        return 0;
    }
    int mode = (int)out->dtype * 2 + (int)a->dtype;
    nb_loop_run(&L, copy_run, &mode);
    return 0;
}

static int cpu_arange(nb_tensor *out, double start, double step) {
    int64_t n = out->shape[0];
    for (int64_t i = 0; i < n; i++) {
        double v = start + (double)i * step;
        switch (out->dtype) {
        case NB_I32: ((int32_t *)nb_ptr(out))[i * out->stride[0]] = (int32_t)v; break;
        case NB_F16: ((uint16_t *)nb_ptr(out))[i * out->stride[0]] = nb_f32_to_f16((float)v); break;
        case NB_BF16: ((uint16_t *)nb_ptr(out))[i * out->stride[0]] = nb_f32_to_bf16((float)v); break;
        default: ((float *)nb_ptr(out))[i * out->stride[0]] = (float)v;
        }
    }
    return 0;
}

/* Value i of a Philox stream: uniform in [0,1) or standard normal (Box-Muller on lane pairs). */
static inline float philox_value(uint64_t seed, uint64_t offset, int64_t i, int normal) {
    uint32_t w[4];
    nb_philox(seed, offset + (uint64_t)i / 4, w);
    int lane = (int)(i % 4);
    if (!normal) return (float)(w[lane] >> 8) * (1.0f / 16777216.0f);
    int pair = lane & ~1;
    float u1 = ((float)(w[pair] >> 8) + 1.0f) * (1.0f / 16777216.0f); /* (0, 1] */
    float u2 = (float)(w[pair + 1] >> 8) * (1.0f / 16777216.0f);
    float r = sqrtf(-2.0f * logf(u1));
    float th = 6.283185307179586f * u2;
    return lane & 1 ? r * sinf(th) : r * cosf(th);
}

static int cpu_random(nb_tensor *out, nb_randkind kind, float a, float b, uint64_t seed, uint64_t offset) {
    int64_t n = nb_numel(out);
    float *base = (float *)nb_ptr(out);
    bool contig = nb_is_contiguous(out);
#pragma omp parallel for num_threads(nb_nthreads()) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = philox_value(seed, offset, i, kind == NB_RAND_NORMAL);
        v = kind == NB_RAND_NORMAL ? a + b * v : a + (b - a) * v;
        if (contig) {
            base[i] = v;
        } else {
            int64_t off = 0, j = i;
            for (int d = out->ndim - 1; d >= 0; d--) {
                off += (j % out->shape[d]) * out->stride[d];
                j /= out->shape[d];
            }
            base[off] = v;
        }
    }
    return 0;
}

const nb_backend nb_cpu_backend = {
    .name = "cpu",
    .device = NB_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .synchronize = cpu_sync,
    .fill = cpu_fill,
    .copy = cpu_copy,
    .arange = cpu_arange,
    .random = cpu_random,
    .unary = nb_cpu_unary,
    .unary_backward = nb_cpu_unary_backward,
    .binary = nb_cpu_binary,
    .binary_backward = nb_cpu_binary_backward,
    .where = nb_cpu_where,
    .reduce = nb_cpu_reduce,
    .argmax = nb_cpu_argmax,
    .cumsum = nb_cpu_cumsum,
    .cumprod = nb_cpu_cumprod,
    .logcumsumexp = nb_cpu_logcumsumexp,
    .cummax = nb_cpu_cummax,
    .lu = nb_cpu_lu,
    .cholesky = nb_cpu_cholesky,
    .trisolve = nb_cpu_trisolve,
    .lu_solve = nb_cpu_lu_solve,
    .eigh = nb_cpu_eigh,
    .qr = nb_cpu_qr,
    .svd = nb_cpu_svd,
    .argsort = nb_cpu_argsort,
    .matmul = nb_cpu_matmul,
    .index_select = nb_cpu_index_select,
    .index_add = nb_cpu_index_add,
    .gather = nb_cpu_gather,
    .scatter_add = nb_cpu_scatter_add,
    .tril = nb_cpu_tril,
    .im2col = nb_cpu_im2col,
    .col2im = nb_cpu_col2im,
    .conv2d = nb_cpu_conv2d,
    .conv2d_backward = nb_cpu_conv2d_backward,
    .dwconv = nb_cpu_dwconv,
    .dwconv_backward = nb_cpu_dwconv_backward,
    .max_pool = nb_cpu_max_pool,
    .max_pool_backward = nb_cpu_max_pool_backward,
    .lerp_dim = nb_cpu_lerp_dim,
    .lerp_dim_backward = nb_cpu_lerp_dim_backward,
    .softmax = nb_cpu_softmax,
    .softmax_backward = nb_cpu_softmax_backward,
    .layer_norm = nb_cpu_layer_norm,
    .layer_norm_backward = nb_cpu_layer_norm_backward,
    .cross_entropy = nb_cpu_cross_entropy,
    .cross_entropy_backward = nb_cpu_cross_entropy_backward,
    .cross_entropy_fused = nb_cpu_cross_entropy_fused,
    .dropout = nb_cpu_dropout,
    .attention = nb_cpu_attention,
    .attention_backward = nb_cpu_attention_backward,
    .adamw = nb_cpu_adamw,
    .axpy = nb_cpu_axpy,
};
