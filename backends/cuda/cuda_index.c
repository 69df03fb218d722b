/* backends/cuda/cuda_index.c - index_select, index_add (the embedding and its
 * backward), gather and scatter_add, interpolation (lerp_dim) and argsort on the GPU.
 *
 * The ops layer checks every index before a kernel runs; the kernels still
 * guard against out-of-range ones (they are skipped, never read or written).
 * The scatters are deterministic without float atomics: each output element
 * adds its sources in index order (index_add lists the positions of each row
 * with integer counting, then sorts each list). */
#include <limits.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"

#define SHP(t, buf) nb_shape_str((t), (buf), sizeof(buf))

/* An unmerged geometry: t[0]'s shape, each operand's own strides. */
static void raw_geom(nb_cu_geom *g, int nops, const nb_tensor *const *t) {
    memset(g, 0, sizeof *g);
    const nb_tensor *r = t[0];
    g->ndim = r->ndim;
    g->n = 1;
    for (int i = 0; i < r->ndim; i++) {
        g->shape[i] = r->shape[i];
        g->n *= r->shape[i];
        for (int k = 0; k < nops; k++) g->st[k][i] = t[k]->stride[i];
    }
    if (r->ndim == 0) {
        g->ndim = 1;
        g->shape[0] = 1;
    }
}

int nb_cuda_index_select(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx) {
    if (nb_dtype_size(a->dtype) != 4 || out->dtype != a->dtype || idx->dtype != NB_I32 ||
        idx->ndim != 1 || dim < 0 || dim >= a->ndim)
        return nb_set_error("index_select (cuda): unsupported dtypes or a non 1-D index"), -1;
    nb_cu_geom g;
    const nb_tensor *t[2] = {out, a};
    raw_geom(&g, 2, t);
    if (g.n == 0) return 0;
    long long ist = idx->stride[0], asz = a->shape[dim];
    CUdeviceptr o = nb_cu_ptr(out), ap = nb_cu_ptr(a), ip = nb_cu_ptr(idx);
    void *args[] = {&o, &ap, &ip, &g, &dim, &ist, &asz};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "index_select"), nb_cu_blocks(g.n, 256),
                        256, 0, args);
}

int nb_cuda_gather(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx) {
    char x[96], y[96];
    if (idx->dtype != NB_I32 || idx->ndim != a->ndim || out->ndim != idx->ndim ||
        nb_dtype_size(a->dtype) != 4 || a->dtype != out->dtype || dim < 0 || dim >= a->ndim)
        return nb_set_error("gather (cuda): bad operands %s and index %s", SHP(a, x), SHP(idx, y)),
               -1;
    for (int d = 0; d < idx->ndim; d++)
        if (out->shape[d] != idx->shape[d] || (d != dim && idx->shape[d] > a->shape[d]))
            return nb_set_error("gather (cuda): index %s does not fit %s", SHP(idx, x), SHP(a, y)),
                   -1;
    nb_cu_geom g;
    const nb_tensor *t[3] = {out, idx, a};
    raw_geom(&g, 3, t);
    if (g.n == 0) return 0;
    long long asz = a->shape[dim];
    CUdeviceptr o = nb_cu_ptr(out), ap = nb_cu_ptr(a), ip = nb_cu_ptr(idx);
    void *args[] = {&o, &ap, &ip, &g, &dim, &asz};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "gather"), nb_cu_blocks(g.n, 256), 256, 0,
                        args);
}

int nb_cuda_scatter_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src) {
    char x[96], y[96];
    if (idx->dtype != NB_I32 || idx->ndim != out->ndim || src->ndim != idx->ndim ||
        out->dtype != NB_F32 || src->dtype != NB_F32 || dim < 0 || dim >= out->ndim)
        return nb_set_error("scatter_add (cuda): bad operands %s and index %s", SHP(out, x),
                            SHP(idx, y)),
               -1;
    for (int d = 0; d < idx->ndim; d++)
        if (src->shape[d] != idx->shape[d] || (d != dim && idx->shape[d] > out->shape[d]))
            return nb_set_error("scatter_add (cuda): index %s does not fit %s", SHP(idx, x),
                                SHP(out, y)),
                   -1;
    nb_cu_geom g, gi;
    const nb_tensor *to[1] = {out};
    const nb_tensor *ti[2] = {idx, src};
    raw_geom(&g, 1, to);
    raw_geom(&gi, 2, ti);
    if (g.n == 0 || gi.n == 0) return 0;
    CUdeviceptr o = nb_cu_ptr(out), ip = nb_cu_ptr(idx), sp = nb_cu_ptr(src);
    void *args[] = {&o, &ip, &sp, &g, &gi, &dim};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "scatter_add"), nb_cu_blocks(g.n, 256), 256,
                        0, args);
}

int nb_cuda_index_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src) {
    if (out->dtype != NB_F32 || src->dtype != NB_F32 || idx->dtype != NB_I32 || idx->ndim != 1 ||
        dim < 0 || dim >= out->ndim || src->ndim != out->ndim || src->shape[dim] != idx->shape[0])
        return nb_set_error("index_add (cuda): needs f32 out and src and a 1-D i32 index"), -1;
    long long n = idx->shape[0], V = out->shape[dim], ist = idx->stride[0];
    if (n == 0 || nb_numel(out) == 0) return 0;
    if (n >= INT_MAX || V >= INT_MAX)
        return nb_set_error("index_add (cuda): %lld indices into %lld rows is too many", n, V), -1;
    /* scratch: counts (V ints), starts (V+1), cursors (V), lists (n) */
    char *s = nb_cu_scratch(1, (size_t)(3 * V + 1 + n) * sizeof(int));
    if (!s) return -1;
    CUdeviceptr cnt = (CUdeviceptr)(uintptr_t)s, start = cnt + (CUdeviceptr)V * 4,
                cur = start + (CUdeviceptr)(V + 1) * 4, list = cur + (CUdeviceptr)V * 4;
    CUresult rc = nb_cu.cu.cuMemsetD32(cnt, 0, (size_t)V);
    if (rc != NB_CU_SUCCESS) return nb_cu_fail("index_add", rc);
    CUdeviceptr ip = nb_cu_ptr(idx);
    void *a1[] = {&cnt, &ip, &n, &ist, &V};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "ia_count"), nb_cu_blocks(n, 256), 256, 0, a1))
        return -1;
    void *a2[] = {&start, &cur, &cnt, &V};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "ia_scan"), 1, 1024, 0, a2)) return -1;
    void *a3[] = {&list, &cur, &ip, &n, &ist, &V};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "ia_fill"), nb_cu_blocks(n, 256), 256, 0, a3))
        return -1;
    void *a4[] = {&list, &start, &V};
    if (nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "ia_sort"), (unsigned)((V + 255) / 256), 256,
                     0, a4))
        return -1;
    nb_cu_geom g;
    const nb_tensor *t[2] = {out, src};
    raw_geom(&g, 2, t);
    CUdeviceptr o = nb_cu_ptr(out), sp = nb_cu_ptr(src);
    void *a5[] = {&o, &sp, &list, &start, &g, &dim};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "ia_apply"), nb_cu_blocks(g.n, 256), 256, 0,
                        a5);
}

/* [A, n, B] operands of lerp_dim: big and small share A and B; idx and w are [2, n_out] */
static int lerp_args(const char *op, const nb_tensor *big, const nb_tensor *small, const nb_tensor *idx,
                     const nb_tensor *w, long long *A, long long *nb, long long *ns, long long *B) {
    if (big->dtype != NB_F32 || small->dtype != NB_F32 || idx->dtype != NB_I32 || w->dtype != NB_F32 ||
        big->ndim != 3 || small->ndim != 3 || idx->ndim != 2 || w->ndim != 2 || !nb_is_contiguous(big) ||
        !nb_is_contiguous(small) || !nb_is_contiguous(idx) || !nb_is_contiguous(w) ||
        big->shape[0] != small->shape[0] || big->shape[2] != small->shape[2] || idx->shape[0] != 2 ||
        w->shape[0] != 2)
        return nb_set_error("%s (cuda): bad operands", op), -1;
    *A = big->shape[0], *nb = big->shape[1], *ns = small->shape[1], *B = big->shape[2];
    return 0;
}

int nb_cuda_lerp_dim(nb_tensor *out, const nb_tensor *x, const nb_tensor *idx, const nb_tensor *w) {
    long long A, n_out, n_in, B;
    if (lerp_args("lerp_dim", out, x, idx, w, &A, &n_out, &n_in, &B) || idx->shape[1] != n_out ||
        w->shape[1] != n_out)
        return nb_set_error("lerp_dim (cuda): bad operands"), -1;
    const long long n = A * n_out * B;
    if (n == 0) return 0;
    CUdeviceptr o = nb_cu_ptr(out), xp = nb_cu_ptr(x), ip = nb_cu_ptr(idx), wp = nb_cu_ptr(w);
    void *args[] = {&o, &xp, &ip, &wp, &A, &n_in, &n_out, &B};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "lerp_dim"), nb_cu_blocks(n, 256), 256, 0, args);
}

int nb_cuda_lerp_dim_backward(nb_tensor *dx, const nb_tensor *g, const nb_tensor *idx, const nb_tensor *w) {
    long long A, n_in, n_out, B;
    if (lerp_args("lerp_dim_backward", dx, g, idx, w, &A, &n_in, &n_out, &B) || idx->shape[1] != n_out ||
        w->shape[1] != n_out)
        return nb_set_error("lerp_dim_backward (cuda): bad operands"), -1;
    const long long n = A * B;
    if (n == 0 || n_in == 0) return 0;
    CUdeviceptr d = nb_cu_ptr(dx), gp = nb_cu_ptr(g), ip = nb_cu_ptr(idx), wp = nb_cu_ptr(w);
    void *args[] = {&d, &gp, &ip, &wp, &A, &n_in, &n_out, &B};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "lerp_dim_bwd"), nb_cu_blocks(n, 256), 256, 0, args);
}

int nb_cuda_argsort(nb_tensor *idx, const nb_tensor *a, int dim, bool desc) {
    if (a->dtype != NB_F32 || idx->dtype != NB_I32 || !nb_same_shape(idx, a) || dim < 0 || dim >= a->ndim)
        return nb_set_error("argsort (cuda): bad operands"), -1;
    if (a->shape[dim] > (1LL << 28)) /* the bitonic sort's scratch: 8 bytes a key, up to 2^29 keys */
        return nb_set_error("argsort (cuda): lines of %lld elements are longer than 2^28",
                            (long long)a->shape[dim]),
               -1;
    long long n = a->shape[dim], P = 1, ist = idx->stride[dim], ast = a->stride[dim];
    int dsc = desc;
    if (n == 0 || nb_numel(a) == 0) return 0;
    while (P < n)
        P <<= 1;
    nb_tensor i1 = *idx, a1 = *a; /* the lines' first elements */
    i1.shape[dim] = a1.shape[dim] = 1;
    nb_cu_geom g;
    const nb_tensor *t[2] = {&i1, &a1};
    nb_cu_geom_init(&g, 2, t);
    const long long blocks = g.n < 1024 ? g.n : 1024;
    char *s = nb_cu_scratch(1, (size_t)(blocks * P) * (sizeof(float) + sizeof(int)));
    if (!s) return -1;
    CUdeviceptr ip = nb_cu_ptr(idx), ap = nb_cu_ptr(a), sv = (CUdeviceptr)(uintptr_t)s,
                si = sv + (CUdeviceptr)(blocks * P) * sizeof(float);
    void *args[] = {&ip, &ap, &sv, &si, &g, &n, &P, &ist, &ast, &dsc};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_INDEX, "argsort"), (unsigned)blocks, P < 256 ? 32 : 256, 0,
                        args);
}
