/* backends/cuda/cuda_elementwise.c - elementwise launches: the geometry shared by
 * every elementwise kernel, the op-table kernels (unary, binary and their
 * backwards), and fill, copy, arange, random, where, tril, axpy, dropout and
 * the fused AdamW step. Kernel sources: cuda_sources.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"
#include "tensor/half.h"

#define NB_CU_BLOCK 256

int nb_cu_geom_init(nb_cu_geom *g, int nops, const nb_tensor *const *t) {
    memset(g, 0, sizeof *g);
    const nb_tensor *r = t[0];
    int nd = 0;
    for (int i = 0; i < r->ndim; i++) {
        if (r->shape[i] == 1) continue;
        if (nd > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (g->st[k][nd - 1] != t[k]->stride[i] * r->shape[i]) merge = false;
            if (merge) {
                g->shape[nd - 1] *= r->shape[i];
                for (int k = 0; k < nops; k++) g->st[k][nd - 1] = t[k]->stride[i];
                continue;
            }
        }
        g->shape[nd] = r->shape[i];
        for (int k = 0; k < nops; k++) g->st[k][nd] = t[k]->stride[i];
        nd++;
    }
    if (nd == 0) {
        g->shape[0] = 1;
        nd = 1;
    }
    g->ndim = nd;
    g->n = 1;
    for (int i = 0; i < nd; i++) g->n *= g->shape[i];
    g->contig = 1;
    if (g->shape[0] > 1 || nd > 1)
        for (int k = 0; k < nops; k++)
            if (nd != 1 || g->st[k][0] != 1) g->contig = 0;
    if (g->n == 0) return 1;
    const long long lim = 1LL << 30;
    if (g->n >= lim) return 0;
    for (int k = 0; k < nops; k++) {
        long long span = 0;
        for (int i = 0; i < nd; i++) {
            if (g->st[k][i] < 0) return 0;
            span += (g->shape[i] - 1) * g->st[k][i];
            if (span >= lim) return 0;
        }
    }
    return 1;
}

unsigned nb_cu_blocks(long long n, unsigned block) {
    long long b = (n + block - 1) / block, cap = (long long)nb_cu.sm_count * 16;
    if (b > cap) b = cap;
    return b < 1 ? 1 : (unsigned)b;
}

int nb_cu_elementwise(int mod, const char *base, int nops, const nb_tensor *const *t, void **extra,
                      int nextra) {
    nb_cu_geom g;
    int s32 = nb_cu_geom_init(&g, nops, t);
    if (g.n == 0) return 0;
    char name[48];
    snprintf(name, sizeof name, "%s_%s", base, g.contig ? "c" : s32 ? "s32" : "s");
    CUfunction f = nb_cu_function(mod, name);
    if (!f) return -1;
    CUdeviceptr ptr[NB_CU_MAXOP];
    void *args[NB_CU_MAXOP + 12];
    int na = 0;
    for (int k = 0; k < nops; k++) {
        ptr[k] = nb_cu_ptr(t[k]);
        args[na++] = &ptr[k];
    }
    args[na++] = &g;
    for (int k = 0; k < nextra && na < NB_CU_MAXOP + 12; k++) args[na++] = extra[k];
    return nb_cu_launch(f, nb_cu_blocks(g.n, NB_CU_BLOCK), NB_CU_BLOCK, 0, args);
}

static int f32_only(const char *op, const nb_tensor *t) {
    if (t->dtype != NB_F32)
        return nb_set_error("%s: dtype %s not supported on cuda", op, nb_dtype_name(t->dtype)), -1;
    return 0;
}

/* ---- the op table ---------------------------------------------------------------------------- */

int nb_cuda_unary(nb_unop op, nb_tensor *out, const nb_tensor *a, float p0, float p1) {
    if ((int)op < 0 || op >= NB_UN_COUNT) return nb_set_error("cuda: bad unary op %d", (int)op), -1;
    if (f32_only("unary", out) || f32_only("unary", a)) return -1;
    const nb_tensor *t[2] = {out, a};
    void *extra[2] = {&p0, &p1};
    return nb_cu_elementwise(NB_CU_MOD_UN_NEG + (int)op, "un_fwd", 2, t, extra, 2);
}

int nb_cuda_unary_backward(nb_unop op, nb_tensor *gin, const nb_tensor *gout, const nb_tensor *x,
                           const nb_tensor *y, float p0, float p1) {
    if ((int)op < 0 || op >= NB_UN_COUNT) return nb_set_error("cuda: bad unary op %d", (int)op), -1;
    if (!y) y = x; /* the derivatives that need y always get it from the ops layer */
    const nb_tensor *t[4] = {gin, gout, x, y};
    void *extra[2] = {&p0, &p1};
    return nb_cu_elementwise(NB_CU_MOD_UN_NEG + (int)op, "un_bwd", 4, t, extra, 2);
}

int nb_cuda_binary(nb_binop op, nb_tensor *out, const nb_tensor *a, const nb_tensor *b) {
    if ((int)op < 0 || op >= NB_BIN_COUNT) return nb_set_error("cuda: bad binary op %d", (int)op), -1;
    if (f32_only("binary", out) || f32_only("binary", a) || f32_only("binary", b)) return -1;
    const nb_tensor *t[3] = {out, a, b};
    return nb_cu_elementwise(NB_CU_MOD_BIN_ADD + (int)op, "bin_fwd", 3, t, NULL, 0);
}

int nb_cuda_binary_backward(nb_binop op, nb_tensor *ga, nb_tensor *gb, const nb_tensor *g,
                            const nb_tensor *a, const nb_tensor *b, const nb_tensor *y) {
    (void)y; /* recomputed from a and b, as on the CPU */
    if ((int)op < 0 || op >= NB_BIN_COUNT) return nb_set_error("cuda: bad binary op %d", (int)op), -1;
    int mod = NB_CU_MOD_BIN_ADD + (int)op;
    if (ga && gb) {
        const nb_tensor *t[5] = {ga, gb, g, a, b};
        return nb_cu_elementwise(mod, "bin_bwd_ab", 5, t, NULL, 0);
    }
    if (!ga && !gb) return 0;
    const nb_tensor *t[4] = {ga ? ga : gb, g, a, b};
    return nb_cu_elementwise(mod, ga ? "bin_bwd_a" : "bin_bwd_b", 4, t, NULL, 0);
}

int nb_cuda_where(nb_tensor *out, const nb_tensor *cond, const nb_tensor *a, const nb_tensor *b) {
    if (f32_only("where", out) || f32_only("where", cond) || f32_only("where", a) ||
        f32_only("where", b))
        return -1;
    const nb_tensor *t[4] = {out, cond, a, b};
    return nb_cu_elementwise(NB_CU_MOD_MISC, "where", 4, t, NULL, 0);
}

int nb_cuda_axpy(nb_tensor *y, float alpha, const nb_tensor *x) {
    if (f32_only("axpy", y) || f32_only("axpy", x)) return -1;
    const nb_tensor *t[2] = {y, x};
    void *extra[1] = {&alpha};
    return nb_cu_elementwise(NB_CU_MOD_MISC, "axpy", 2, t, extra, 1);
}

/* ---- creation and copies ------------------------------------------------------------------------- */

int nb_cuda_fill(nb_tensor *out, double value) {
    int64_t n = nb_numel(out);
    if (n == 0) return 0;
    if (out->dtype == NB_F16 || out->dtype == NB_BF16) {
        unsigned short h = out->dtype == NB_F16 ? nb_f32_to_f16((float)value) : nb_f32_to_bf16((float)value);
        const nb_tensor *t[1] = {out};
        void *extra[1] = {&h};
        return nb_cu_elementwise(NB_CU_MOD_MISC, "fill_h", 1, t, extra, 1);
    }
    if (out->dtype != NB_F32 && out->dtype != NB_I32)
        return nb_set_error("fill: dtype %s not supported on cuda", nb_dtype_name(out->dtype)), -1;
    union {
        float f;
        int32_t i;
        unsigned u;
    } v;
    if (out->dtype == NB_F32)
        v.f = (float)value;
    else /* clamped to the int32 range, NaN as 0, as on the CPU */
        v.i = value != value           ? 0
              : value >= 2147483647.0  ? INT32_MAX
              : value <= -2147483648.0 ? INT32_MIN
                                       : (int32_t)value;
    if (nb_is_contiguous(out)) {
        CUresult rc = nb_cu.cu.cuMemsetD32(nb_cu_ptr(out), v.u, (size_t)n);
        return rc == NB_CU_SUCCESS ? 0 : nb_cu_fail("fill", rc);
    }
    const nb_tensor *t[1] = {out};
    void *extra[1] = {&v};
    return nb_cu_elementwise(NB_CU_MOD_MISC, out->dtype == NB_F32 ? "fill_f" : "fill_i", 1, t,
                             extra, 1);
}

int nb_cuda_copy(nb_tensor *out, const nb_tensor *a) {
    if (nb_dtype_size(out->dtype) == 0 || nb_dtype_size(a->dtype) == 0)
        return nb_set_error("copy: dtypes %s <- %s not supported on cuda",
                            nb_dtype_name(out->dtype), nb_dtype_name(a->dtype)),
               -1;
    int64_t n = nb_numel(out);
    if (n == 0) return 0;
    if (out->dtype == a->dtype && nb_is_contiguous(out) && nb_is_contiguous(a)) {
        if (nb_cu_ptr(out) == nb_cu_ptr(a)) return 0;
        CUresult rc =
            nb_cu.cu.cuMemcpyDtoD(nb_cu_ptr(out), nb_cu_ptr(a), (size_t)n * nb_dtype_size(a->dtype));
        return rc == NB_CU_SUCCESS ? 0 : nb_cu_fail("copy", rc);
    }
    if (nb_dtype_size(out->dtype) == 2 || nb_dtype_size(a->dtype) == 2) {
        int dto = (int)out->dtype, dta = (int)a->dtype;
        const nb_tensor *t[2] = {out, a};
        void *extra[2] = {&dto, &dta};
        return nb_cu_elementwise(NB_CU_MOD_MISC, "copy_16", 2, t, extra, 2);
    }
    static const char *const names[2][2] = {{"copy_ff", "copy_fi"}, {"copy_if", "copy_ii"}};
    const nb_tensor *t[2] = {out, a};
    return nb_cu_elementwise(NB_CU_MOD_MISC, names[out->dtype == NB_I32][a->dtype == NB_I32], 2, t,
                             NULL, 0);
}

int nb_cuda_arange(nb_tensor *out, double start, double step) {
    if (out->ndim != 1) return nb_set_error("arange: output must be 1-D"), -1;
    long long n = out->shape[0], st = out->stride[0];
    if (n == 0) return 0;
    CUdeviceptr o = nb_cu_ptr(out);
    if (out->dtype == NB_F16 || out->dtype == NB_BF16) {
        int bf16 = out->dtype == NB_BF16;
        void *args[] = {&o, &n, &st, &start, &step, &bf16};
        return nb_cu_launch(nb_cu_function(NB_CU_MOD_MISC, "arange_h"), nb_cu_blocks(n, NB_CU_BLOCK),
                            NB_CU_BLOCK, 0, args);
    }
    CUfunction f = nb_cu_function(NB_CU_MOD_MISC, out->dtype == NB_F32 ? "arange_f" : "arange_i");
    void *args[] = {&o, &n, &st, &start, &step};
    return nb_cu_launch(f, nb_cu_blocks(n, NB_CU_BLOCK), NB_CU_BLOCK, 0, args);
}

int nb_cuda_random(nb_tensor *out, nb_randkind kind, float a, float b, uint64_t seed,
                   uint64_t offset) {
    if (f32_only("random", out)) return -1;
    int normal = kind == NB_RAND_NORMAL;
    unsigned long long s = seed, off = offset;
    const nb_tensor *t[1] = {out};
    void *extra[5] = {&normal, &a, &b, &s, &off};
    return nb_cu_elementwise(NB_CU_MOD_MISC, "random", 1, t, extra, 5);
}

int nb_cuda_tril(nb_tensor *out, const nb_tensor *a, int64_t k) {
    if (nb_dtype_size(a->dtype) != 4 || out->dtype != a->dtype || out->ndim < 2 ||
        !nb_same_shape(out, a))
        return nb_set_error("tril (cuda): bad operands"), -1;
    long long R = a->shape[a->ndim - 2], C = a->shape[a->ndim - 1], kd = k;
    if (R == 0 || C == 0) return 0;
    const nb_tensor *t[2] = {out, a};
    void *extra[3] = {&R, &C, &kd};
    return nb_cu_elementwise(NB_CU_MOD_MISC, "tril", 2, t, extra, 3);
}

/* ---- dropout and AdamW (contiguous operands) ------------------------------------------------------ */

int nb_cuda_dropout(nb_tensor *out, const nb_tensor *x, float p, uint64_t seed, uint64_t offset) {
    if (f32_only("dropout", out) || f32_only("dropout", x)) return -1;
    if (!nb_is_contiguous(out) || !nb_is_contiguous(x) || nb_numel(out) != nb_numel(x))
        return nb_set_error("dropout (cuda): operands must be contiguous and the same size"), -1;
    long long n = nb_numel(x);
    if (n == 0) return 0;
    float scale = 1.0f / (1.0f - p);
    unsigned long long s = seed, off = offset;
    CUdeviceptr o = nb_cu_ptr(out), xi = nb_cu_ptr(x);
    void *args[] = {&o, &xi, &n, &p, &scale, &s, &off};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_MISC, "dropout"),
                        nb_cu_blocks((n + 3) / 4, NB_CU_BLOCK), NB_CU_BLOCK, 0, args);
}

int nb_cuda_adamw(nb_tensor *p, const nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1,
                  float b2, float eps, float wd, float bc1, float bc2) {
    const nb_tensor *all[4] = {p, g, m, v};
    for (int i = 0; i < 4; i++)
        if (all[i]->dtype != NB_F32 || !nb_is_contiguous(all[i]) || nb_numel(all[i]) != nb_numel(p))
            return nb_set_error("adamw (cuda): operands must be contiguous f32 of one size"), -1;
    long long n = nb_numel(p);
    if (n == 0) return 0;
    /* the same host-side constants as backends/cpu/cpu_optim.c */
    float step = lr / bc1, sbc2 = sqrtf(bc2), decay = 1.0f - lr * wd;
    CUdeviceptr P = nb_cu_ptr(p), G = nb_cu_ptr(g), M = nb_cu_ptr(m), V = nb_cu_ptr(v);
    void *args[] = {&P, &G, &M, &V, &n, &b1, &b2, &eps, &step, &sbc2, &decay};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_MISC, "adamw"), nb_cu_blocks(n, NB_CU_BLOCK),
                        NB_CU_BLOCK, 0, args);
}
