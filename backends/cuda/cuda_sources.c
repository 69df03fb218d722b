/* backends/cuda/cuda_sources.c - every CUDA kernel the library holds, as CUDA C
 * source text compiled at run time by NVRTC (backends/cuda/cuda_module.c).
 *
 * A module's source is its pieces joined: the common prelude, then
 * module-specific definitions, then a template. Elementwise modules are
 * generated from the op table ops/elementwise.def: one module per op, whose
 * forward/derivative expressions are stringified into #defines in front of one
 * shared template; the template's NB_EW3 macro specialises every kernel for
 * contiguous operands (_c), strided operands with 32-bit index math (_s32)
 * and strided with 64-bit index math (_s). The sources are joined once, on
 * first use, into strings that live for the whole process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"
#include "backends/cuda/cuda_src.h"

/* Kernel sources are long string literals by nature; gcc and clang handle them. */
#pragma GCC diagnostic ignored "-Woverlength-strings"

/* ---- prelude: types, geometry, elementwise driver, reductions, Philox ------------------ */

/* The kernel sources keep their own layout: clang-format would read them as C. */
/* clang-format off */

static const char prelude[] =
    "#define NB_DEVFN __device__ __forceinline__\n"
    "#define NB_EW_EXPF expf\n" /* the exp of ops/elementwise_math.h's GELU */
    "#define NB_FULL 0xffffffffu\n"
    /* one kernel per contiguity: NAME_c (dense), NAME_s (strided, 64-bit), NAME_s32 */
    "#define NB_EW3(NAME, NOPS, PARAMS, ...) "
    "extern \"C\" __global__ void NAME##_c PARAMS "
    "{ nb_ew<NOPS, 1, long long>(nb_g, [&](long long i, const long long *k) __VA_ARGS__); } "
    "extern \"C\" __global__ void NAME##_s PARAMS "
    "{ nb_ew<NOPS, 0, long long>(nb_g, [&](long long i, const long long *k) __VA_ARGS__); } "
    "extern \"C\" __global__ void NAME##_s32 PARAMS "
    "{ nb_ew<NOPS, 0, int>(nb_g, [&](int i, const int *k) __VA_ARGS__); }\n"
    NB_CU_CODE(
    typedef unsigned int u32;
    typedef unsigned long long u64;

    /* merged strided geometry of up to 5 operands (layout = nb_cu_geom on the host) */
    struct nb_geom {
        long long n;
        int ndim, contig;
        long long shape[8];
        long long st[5][8];
    };

    NB_DEVFN float nb_inf(void) { return __int_as_float(0x7f800000); }

    /* offsets of flat element i in each operand */
    template <int NOPS, typename I>
    __device__ __forceinline__ void nb_offs(const nb_geom &g, I i, I *o) {
        for (int k = 0; k < NOPS; k++) o[k] = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            I s = (I)g.shape[d], c = i % s;
            i /= s;
            for (int k = 0; k < NOPS; k++) o[k] += c * (I)g.st[k][d];
        }
    }

    /* grid-stride loop over the geometry, calling f(flat index, operand offsets) */
    template <int NOPS, int CONTIG, typename I, typename F>
    __device__ __forceinline__ void nb_ew(const nb_geom &g, F f) {
        const I n = (I)g.n, step = (I)gridDim.x * (I)blockDim.x;
        for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < n; i += step) {
            I o[NOPS];
            if (CONTIG) {
                for (int k = 0; k < NOPS; k++) o[k] = i;
            } else {
                nb_offs<NOPS, I>(g, i, o);
            }
            f(i, o);
        }
    }

    /* block-wide reduction (blockDim a multiple of 32); every thread gets the
     * result; a fixed tree, so the result is the same run to run */
    template <typename T, typename F>
    __device__ __forceinline__ T nb_block_red(T v, T ident, F f) {
        __shared__ T sh[33];
        const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        for (int o = 16; o > 0; o >>= 1) v = f(v, __shfl_down_sync(NB_FULL, v, o));
        if (lane == 0) sh[w] = v;
        __syncthreads();
        if (w == 0) {
            v = lane < nw ? sh[lane] : ident;
            for (int o = 16; o > 0; o >>= 1) v = f(v, __shfl_down_sync(NB_FULL, v, o));
            if (lane == 0) sh[32] = v;
        }
        __syncthreads();
        v = sh[32];
        __syncthreads();
        return v;
    }

    NB_DEVFN float nb_block_sum(float v) {
        return nb_block_red<float>(v, 0.0f, [](float a, float b) { return a + b; });
    }
    NB_DEVFN float nb_block_max(float v) {
        return nb_block_red<float>(v, -nb_inf(), [](float a, float b) { return fmaxf(a, b); });
    }
    /* all lanes of a warp get the same (bit-identical) sum / max */
    NB_DEVFN float nb_warp_sum(float v) {
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(NB_FULL, v, o);
        return v;
    }
    NB_DEVFN float nb_warp_max(float v) {
        for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(NB_FULL, v, o));
        return v;
    }
    /* f32 to i32 toward zero, saturating, NaN to 0 (as the CPU's copy; written out so that the
     * emulator, where a plain (int) cast out of range is undefined, computes the same) */
    NB_DEVFN int nb_f2i(float x) {
        return x != x ? 0 : x >= 2147483648.0f ? 2147483647 : x < -2147483648.0f ? -2147483647 - 1 : (int)x;
    }
    NB_DEVFN long long nb_min_ll(long long a, long long b) { return a < b ? a : b; }
    NB_DEVFN int nb_min_i(int a, int b) { return a < b ? a : b; }
    NB_DEVFN int nb_max_i(int a, int b) { return a > b ? a : b; }
    );

/* ---- elementwise templates (one module per op of ops/elementwise.def) ---------------------- */

static const char math_funcs[] = NB_CU_MATH_FUNCS(NB_CU_CODE);
/* the serial decompositions of ops/decomp_math.h, for the linalg module */
static const char decomp_funcs[] = NB_DECOMP_FUNCS(NB_CU_CODE);
/* the serial SVD of ops/svd_math.h, after them */
static const char svd_funcs[] = NB_SVD_FUNCS(NB_CU_CODE);

static const char unary_tmpl[] = NB_CU_CODE(
    NB_DEVFN float nb_fwd(float x, float p0, float p1) { return (NB_FWD); }
    NB_DEVFN float nb_der(float g, float x, float y, float p0, float p1) { return (float)(NB_DER); }

    NB_EW3(un_fwd, 2, (float *o, const float *a, nb_geom nb_g, float p0, float p1),
           { o[k[0]] = nb_fwd(a[k[1]], p0, p1); })
    /* gin = dL/dx from g = gout, where y = op(x) (g times the derivative, or a select) */
    NB_EW3(un_bwd, 4,
           (float *gi, const float *go, const float *x, const float *y, nb_geom nb_g, float p0,
            float p1),
           { gi[k[0]] = nb_der(go[k[1]], x[k[2]], y[k[3]], p0, p1); })
    );

static const char binary_tmpl[] = NB_CU_CODE(
    NB_DEVFN float nb_fwd(float a, float b) { return (NB_FWD); }
    NB_DEVFN float nb_da(float g, float a, float b, float y) { return (float)(NB_DA); }
    NB_DEVFN float nb_db(float g, float a, float b, float y) { return (float)(NB_DB); }

    NB_EW3(bin_fwd, 3, (float *o, const float *a, const float *b, nb_geom nb_g),
           { o[k[0]] = nb_fwd(a[k[1]], b[k[2]]); })
    /* y is recomputed from a and b, as on the CPU */
    NB_EW3(bin_bwd_a, 4, (float *ga, const float *g, const float *a, const float *b, nb_geom nb_g),
           {
               const float av = a[k[2]], bv = b[k[3]];
               ga[k[0]] = nb_da(g[k[1]], av, bv, nb_fwd(av, bv));
           })
    NB_EW3(bin_bwd_b, 4, (float *gb, const float *g, const float *a, const float *b, nb_geom nb_g),
           {
               const float av = a[k[2]], bv = b[k[3]];
               gb[k[0]] = nb_db(g[k[1]], av, bv, nb_fwd(av, bv));
           })
    NB_EW3(bin_bwd_ab, 5,
           (float *ga, float *gb, const float *g, const float *a, const float *b, nb_geom nb_g),
           {
               const float av = a[k[3]], bv = b[k[4]], gv = g[k[2]], y = nb_fwd(av, bv);
               ga[k[0]] = nb_da(gv, av, bv, y);
               gb[k[1]] = nb_db(gv, av, bv, y);
           })
    );

/* The per-op definitions, stringified from the table. */
#define NB_UNARY_OP(NAME, LNAME, FWD, DER) \
    static const char un_def_##NAME[] = "#define NB_FWD (" #FWD ")\n#define NB_DER (" #DER ")\n";
#include "ops/elementwise.def"
#undef NB_UNARY_OP
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF)                                  \
    static const char bin_def_##NAME[] = "#define NB_FWD (" #FWD ")\n#define NB_DA (" #DA \
                                         ")\n#define NB_DB (" #DB ")\n";
#include "ops/elementwise.def"
#undef NB_BINARY_OP

/* ---- misc: fill, copy, arange, random, where, tril, axpy, dropout, adamw ------------------- */

static const char misc_src[] = NB_CU_CODE(
    /* Philox4x32-10, exactly as nb_philox in tensor/rng.c */
    NB_DEVFN void nb_philox(u64 seed, u64 ctr, u32 *out) {
        u32 c0 = (u32)ctr, c1 = (u32)(ctr >> 32), c2 = 0, c3 = 0;
        u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
        for (int r = 0; r < 10; r++) {
            u64 p0 = (u64)0xD2511F53u * c0, p1 = (u64)0xCD9E8D57u * c2;
            u32 n0 = (u32)(p1 >> 32) ^ c1 ^ k0, n1 = (u32)p1;
            u32 n2 = (u32)(p0 >> 32) ^ c3 ^ k1, n3 = (u32)p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /* value i of a stream, as philox_value in backends/cpu/cpu_backend.c */
    NB_DEVFN float nb_philox_value(u64 seed, u64 offset, u64 i, int normal) {
        u32 w[4];
        nb_philox(seed, offset + i / 4, w);
        const int lane = (int)(i % 4);
        if (!normal) return (float)(w[lane] >> 8) * (1.0f / 16777216.0f);
        const int pair = lane & ~1;
        const float u1 = ((float)(w[pair] >> 8) + 1.0f) * (1.0f / 16777216.0f);
        const float u2 = (float)(w[pair + 1] >> 8) * (1.0f / 16777216.0f);
        const float r = sqrtf(-2.0f * logf(u1));
        const float th = 6.283185307179586f * u2;
        return lane & 1 ? r * sinf(th) : r * cosf(th);
    }

    NB_EW3(fill_f, 1, (float *o, nb_geom nb_g, float v), { o[k[0]] = v; })
    NB_EW3(fill_i, 1, (int *o, nb_geom nb_g, int v), { o[k[0]] = v; })
    NB_EW3(copy_ff, 2, (float *o, const float *a, nb_geom nb_g), { o[k[0]] = a[k[1]]; })
    NB_EW3(copy_fi, 2, (float *o, const int *a, nb_geom nb_g), { o[k[0]] = (float)a[k[1]]; })
    NB_EW3(copy_if, 2, (int *o, const float *a, nb_geom nb_g), { o[k[0]] = nb_f2i(a[k[1]]); })
    NB_EW3(copy_ii, 2, (int *o, const int *a, nb_geom nb_g), { o[k[0]] = a[k[1]]; })

    /* f16 and bf16, as tensor/half.h on the CPU: through f32, rounding to nearest even */
    NB_DEVFN unsigned short nb_f32_to_f16(float f) {
        unsigned u = __float_as_uint(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
        if (a >= 0x7f800000u) return (unsigned short)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
        if (a >= 0x47800000u) return (unsigned short)(sign | 0x7c00u);
        if (a < 0x38800000u) {
            const float r = __fadd_rn(__uint_as_float(a), 0.5f);
            return (unsigned short)(sign | (__float_as_uint(r) - 0x3f000000u));
        }
        const unsigned odd = (a >> 13) & 1u;
        a += 0xc8000fffu + odd;
        return (unsigned short)(sign | (a >> 13));
    }
    NB_DEVFN float nb_f16_to_f32(unsigned short h) {
        const unsigned sign = (unsigned)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
        if (e == 0x1f) return __uint_as_float(sign | 0x7f800000u | (m << 13));
        if (e) return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
        const float v = __fmul_rn((float)m, 5.9604644775390625e-8f); /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    NB_DEVFN unsigned short nb_f32_to_bf16(float f) {
        unsigned u = __float_as_uint(f);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (unsigned short)(u >> 16);
    }
    NB_DEVFN float nb_bf16_to_f32(unsigned short b) { return __uint_as_float((unsigned)b << 16); }

    /* dtype codes: 0 f32, 1 i32, 2 f16, 3 bf16 (nb_dtype) */
    NB_DEVFN float nb_load_any(const void *p, long long k, int dt) {
        return dt == 0   ? ((const float *)p)[k]
               : dt == 1 ? (float)((const int *)p)[k]
               : dt == 2 ? nb_f16_to_f32(((const unsigned short *)p)[k])
                         : nb_bf16_to_f32(((const unsigned short *)p)[k]);
    }
    NB_EW3(fill_h, 1, (unsigned short *o, nb_geom nb_g, unsigned short v), { o[k[0]] = v; })
    /* copies that involve a 16-bit type (the same one: its bits) */
    NB_EW3(copy_16, 2, (void *o, const void *a, nb_geom nb_g, int dto, int dta), {
        if (dto == dta) {
            ((unsigned short *)o)[k[0]] = ((const unsigned short *)a)[k[1]];
        } else {
            const float x = nb_load_any(a, k[1], dta);
            if (dto == 0) ((float *)o)[k[0]] = x;
            else if (dto == 1) ((int *)o)[k[0]] = nb_f2i(x);
            else if (dto == 2) ((unsigned short *)o)[k[0]] = nb_f32_to_f16(x);
            else ((unsigned short *)o)[k[0]] = nb_f32_to_bf16(x);
        }
    })

    NB_EW3(random, 1,
           (float *o, nb_geom nb_g, int normal, float a, float b, u64 seed, u64 offset),
           {
               const float v = nb_philox_value(seed, offset, (u64)i, normal);
               /* no contraction into fma, so the values match the CPU's bit for bit */
               o[k[0]] = normal ? __fadd_rn(a, __fmul_rn(b, v))
                                : __fadd_rn(a, __fmul_rn(__fsub_rn(b, a), v));
           })

    NB_EW3(where, 4, (float *o, const float *c, const float *a, const float *b, nb_geom nb_g),
           { o[k[0]] = c[k[1]] != 0.0f ? a[k[2]] : b[k[3]]; })

    /* i is the row-major index over the full shape, whose last two dims are R x C */
    NB_EW3(tril, 2,
           (u32 *o, const u32 *a, nb_geom nb_g, long long R, long long C, long long kd),
           {
               const long long col = (long long)i % C, row = ((long long)i / C) % R;
               o[k[0]] = col - row <= kd ? a[k[1]] : 0u;
           })

    NB_EW3(axpy, 2, (float *y, const float *x, nb_geom nb_g, float alpha),
           { y[k[0]] += alpha * x[k[1]]; })

    extern "C" __global__ void arange_f(float *o, long long n, long long st, double start,
                                        double step) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x)
            o[i * st] = (float)__dadd_rn(start, __dmul_rn((double)i, step));
    }
    extern "C" __global__ void arange_i(int *o, long long n, long long st, double start,
                                        double step) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x)
            o[i * st] = (int)__dadd_rn(start, __dmul_rn((double)i, step));
    }
    extern "C" __global__ void arange_h(unsigned short *o, long long n, long long st, double start,
                                        double step, int bf16) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const float v = (float)__dadd_rn(start, __dmul_rn((double)i, step));
            o[i * st] = bf16 ? nb_f32_to_bf16(v) : nb_f32_to_f16(v);
        }
    }

    /* element i keeps when lane i%4 of Philox(seed, offset + i/4) is >= p (as the CPU) */
    extern "C" __global__ void dropout(float *o, const float *x, long long n, float p,
                                       float scale, u64 seed, u64 offset) {
        const long long nblk = (n + 3) / 4;
        for (long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x; b < nblk;
             b += (long long)gridDim.x * blockDim.x) {
            u32 w[4];
            nb_philox(seed, offset + (u64)b, w);
            for (int l = 0; l < 4; l++) {
                const long long i = b * 4 + l;
                if (i >= n) break;
                const float u = (float)(w[l] >> 8) * (1.0f / 16777216.0f);
                o[i] = u >= p ? __fmul_rn(x[i], scale) : 0.0f;
            }
        }
    }

    /* the fused AdamW step of backends/cpu/cpu_optim.c */
    extern "C" __global__ void adamw(float *P, const float *G, float *M, float *V, long long n,
                                     float b1, float b2, float eps, float step, float sbc2,
                                     float decay) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const float gi = G[i];
            const float mi = b1 * M[i] + (1.0f - b1) * gi;
            const float vi = b2 * V[i] + (1.0f - b2) * gi * gi;
            M[i] = mi;
            V[i] = vi;
            P[i] = P[i] * decay - step * mi / (sqrtf(vi) / sbc2 + eps);
        }
    }
    );

/* clang-format on */

/* ---- the table ---------------------------------------------------------------------------------- */

#define NB_CU_MAXPARTS 4

typedef struct {
    const char *name;
    const char *parts[NB_CU_MAXPARTS];
} src_parts;

static const src_parts table[NB_CU_MOD_COUNT] = {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER) \
    {"unary_" #LNAME, {prelude, math_funcs, un_def_##NAME, unary_tmpl}},
#include "ops/elementwise.def"
#undef NB_UNARY_OP
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF) \
    {"binary_" #LNAME, {prelude, math_funcs, bin_def_##NAME, binary_tmpl}},
#include "ops/elementwise.def"
#undef NB_BINARY_OP
    [NB_CU_MOD_MISC] = {"misc", {prelude, misc_src}},
    [NB_CU_MOD_REDUCE] = {"reduce", {prelude, math_funcs, nb_cu_reduce_src}},
    [NB_CU_MOD_INDEX] = {"index", {prelude, nb_cu_index_src}},
    [NB_CU_MOD_NN] = {"nn", {prelude, nb_cu_nn_src}},
    [NB_CU_MOD_ATTN] = {"attention", {prelude, nb_cu_attn_src}},
    [NB_CU_MOD_WINDOW] = {"window", {prelude, nb_cu_window_src}},
    [NB_CU_MOD_LINALG] = {"linalg", {prelude, decomp_funcs, svd_funcs, nb_cu_linalg_src}},
};

static nb_cu_source joined[NB_CU_MOD_COUNT];
static pthread_once_t join_once = PTHREAD_ONCE_INIT;
static int join_failed;

static void join_all(void) {
    for (int m = 0; m < NB_CU_MOD_COUNT; m++) {
        size_t len = 1;
        for (int p = 0; p < NB_CU_MAXPARTS && table[m].parts[p]; p++) len += strlen(table[m].parts[p]);
        char *s = malloc(len);
        if (!s) {
            join_failed = 1;
            return;
        }
        s[0] = '\0';
        size_t at = 0;
        for (int p = 0; p < NB_CU_MAXPARTS && table[m].parts[p]; p++) {
            size_t l = strlen(table[m].parts[p]);
            memcpy(s + at, table[m].parts[p], l + 1);
            at += l;
        }
        joined[m].name = table[m].name;
        joined[m].text = s;
    }
}

const nb_cu_source *nb_cuda_kernel_sources(int *n) {
    pthread_once(&join_once, join_all);
    if (join_failed) {
        if (n) *n = 0;
        return nb_set_error("cuda: out of memory assembling the kernel sources");
    }
    if (n) *n = NB_CU_MOD_COUNT;
    return joined;
}
