/* backends/cpu/cpu_index.c - index_select, index_add, gather, scatter_add and tril on the CPU.
 *
 * Contiguous index_select (the embedding lookup) copies whole rows with memcpy. The scatters
 * never race and are deterministic: index_add splits the work over the non-indexed dims (the
 * outer dims and chunks of the inner ones) and adds the indexed rows in index order inside
 * each piece; scatter_add gives each line along `dim` to one thread. Every kernel checks its
 * indices again (cheaply) so that a caller that skipped the op's checks cannot write out of
 * bounds. Gathers and tril copy 4-byte elements bit for bit (f32 or i32). */
#include <string.h>

#include "backends/cpu/cpu.h"

#define SHP(t, buf) nb_shape_str((t), (buf), sizeof(buf))

/* Product of shape[d0..d1). */
static int64_t span(const int64_t *shape, int d0, int d1) {
    int64_t n = 1;
    for (int i = d0; i < d1; i++)
        n *= shape[i];
    return n;
}

/* Checks a 1-D i32 index against [0, size); -1 with a message naming the first bad one. */
static int check_1d(const char *op, const nb_tensor *idx, int64_t size) {
    const int32_t *ip = (const int32_t *)nb_ptr(idx);
    int64_t n = idx->shape[0], is = idx->stride[0];
    for (int64_t j = 0; j < n; j++) {
        int32_t v = ip[j * is];
        if (v < 0 || v >= size)
            return nb_set_error("%s (cpu): index %d at position %lld is out of range [0, %lld)", op, (int)v,
                                (long long)j, (long long)size),
                   -1;
    }
    return 0;
}

/* A descriptor of `t` at position `pos` of dimension `dim` (that dim kept with size 1). */
static nb_tensor at_desc(const nb_tensor *t, int dim, int64_t pos) {
    nb_tensor d = *t;
    d.shape[dim] = 1;
    d.offset = t->offset + pos * t->stride[dim];
    return d;
}

int nb_cpu_index_select(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx) {
    if (nb_dtype_size(a->dtype) != 4 || out->dtype != a->dtype || idx->dtype != NB_I32 || idx->ndim != 1)
        return nb_set_error("index_select (cpu): unsupported dtypes or a non 1-D index"), -1;
    if (check_1d("index_select", idx, a->shape[dim])) return -1;
    const int32_t *ip = (const int32_t *)nb_ptr(idx);
    int64_t n = idx->shape[0], is = idx->stride[0];
    if (nb_is_contiguous(a) && nb_is_contiguous(out)) {
        int64_t outer = span(a->shape, 0, dim), inner = span(a->shape, dim + 1, a->ndim);
        int64_t S = a->shape[dim], rows = outer * n;
        size_t rb = (size_t)inner * 4;
        const char *A = nb_ptr(a);
        char *O = nb_ptr(out);
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * inner > (1 << 18)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            int64_t o = r / n, j = r % n;
            memcpy(O + (size_t)r * rb, A + (size_t)(o * S + ip[j * is]) * rb, rb);
        }
        return 0;
    }
    for (int64_t j = 0; j < n; j++) { /* strided: one slice copy per index */
        nb_tensor ov = at_desc(out, dim, j), av = at_desc(a, dim, ip[j * is]);
        if (nb_cpu_backend.copy(&ov, &av)) return -1;
    }
    return 0;
}

int nb_cpu_index_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src) {
    if (out->dtype != NB_F32 || src->dtype != NB_F32 || idx->dtype != NB_I32 || idx->ndim != 1)
        return nb_set_error("index_add (cpu): needs f32 out and src and a 1-D i32 index"), -1;
    if (check_1d("index_add", idx, out->shape[dim])) return -1;
    const int32_t *ip = (const int32_t *)nb_ptr(idx);
    int64_t n = idx->shape[0], is = idx->stride[0];
    if (nb_is_contiguous(out) && nb_is_contiguous(src)) {
        int64_t outer = span(out->shape, 0, dim), inner = span(out->shape, dim + 1, out->ndim);
        int64_t S = out->shape[dim];
        int nt = nb_nthreads();
        /* chunks of the inner dims: at least 64 floats, a multiple of 16 (no false sharing) */
        int64_t cw = (inner + nt - 1) / nt;
        cw = cw < 64 ? 64 : (cw + 15) / 16 * 16;
        int64_t nch = (inner + cw - 1) / cw, tasks = outer * nch;
        float *O = (float *)nb_ptr(out);
        const float *Sr = (const float *)nb_ptr(src);
#pragma omp parallel for num_threads(nt) if (outer * n * inner > (1 << 17) && tasks > 1) schedule(static)
        for (int64_t t = 0; t < tasks; t++) {
            int64_t o = t / nch, c0 = (t % nch) * cw, c1 = c0 + cw < inner ? c0 + cw : inner;
            float *ob = O + o * S * inner;
            const float *sb = Sr + o * n * inner;
            for (int64_t j = 0; j < n; j++) {
                float *d = ob + (int64_t)ip[j * is] * inner;
                const float *s = sb + j * inner;
                for (int64_t c = c0; c < c1; c++)
                    d[c] += s[c];
            }
        }
        return 0;
    }
    for (int64_t j = 0; j < n; j++) { /* strided: indices in order, each slice split by threads */
        nb_tensor ov = at_desc(out, dim, ip[j * is]), sv = at_desc(src, dim, j);
        if (nb_cpu_axpy(&ov, 1.0f, &sv)) return -1;
    }
    return 0;
}

/* Offsets, in elements, of line `line` (row-major over every dim of `shape` but `skip`) in
 * each of the n tensors t[]. */
static void line_offsets(int nd, const int64_t *shape, int skip, int64_t line, int n,
                         const nb_tensor *const *t, int64_t *off) {
    for (int k = 0; k < n; k++)
        off[k] = 0;
    for (int d = nd - 1; d >= 0; d--) {
        if (d == skip) continue;
        int64_t i = line % shape[d];
        line /= shape[d];
        for (int k = 0; k < n; k++)
            off[k] += i * t[k]->stride[d];
    }
}

/* Shared by gather (scatter = 0: small[line][t] = big[line][idx[line][t]]) and scatter_add
 * (scatter = 1: big[line][idx[line][t]] += small[line][t]); `big` is the indexed tensor. */
static int gather_scatter(const char *op, int scatter, nb_tensor *big, nb_tensor *small, int dim,
                          const nb_tensor *idx) {
    char x[96], y[96];
    if (idx->dtype != NB_I32 || idx->ndim != big->ndim || small->ndim != idx->ndim ||
        nb_dtype_size(big->dtype) != 4 || big->dtype != small->dtype || (scatter && big->dtype != NB_F32))
        return nb_set_error("%s (cpu): bad operands %s and index %s", op, SHP(big, x), SHP(idx, y)), -1;
    for (int d = 0; d < idx->ndim; d++)
        if (small->shape[d] != idx->shape[d] || (d != dim && idx->shape[d] > big->shape[d]))
            return nb_set_error("%s (cpu): index %s does not fit %s", op, SHP(idx, x), SHP(big, y)), -1;
    int64_t len = idx->shape[dim], lines = len ? nb_numel(idx) / len : 0, S = big->shape[dim];
    int64_t ist = idx->stride[dim], bst = big->stride[dim] * 4, sst = small->stride[dim] * 4;
    const int32_t *I = (const int32_t *)nb_ptr(idx);
    char *Bg = nb_ptr(big), *Sm = nb_ptr(small);
    const nb_tensor *ts[3] = {idx, big, small};
    int bad = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (lines * len > 32768) schedule(static)                \
    reduction(|                                                                                              \
              : bad)
    for (int64_t l = 0; l < lines; l++) {
        int64_t off[3];
        line_offsets(idx->ndim, idx->shape, dim, l, 3, ts, off);
        const int32_t *ip = I + off[0];
        char *bp = Bg + off[1] * 4, *sp = Sm + off[2] * 4;
        for (int64_t t = 0; t < len; t++) {
            int32_t v = ip[t * ist];
            if (v < 0 || v >= S) {
                bad = 1;
                continue;
            }
            if (scatter)
                *(float *)(bp + v * bst) += *(const float *)(sp + t * sst);
            else
                memcpy(sp + t * sst, bp + v * bst, 4);
        }
    }
    if (bad)
        return nb_set_error("%s (cpu): an index is out of range [0, %lld) for dim %d", op, (long long)S, dim),
               -1;
    return 0;
}

int nb_cpu_gather(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx) {
    return gather_scatter("gather", 0, (nb_tensor *)a, out, dim, idx);
}

int nb_cpu_scatter_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src) {
    return gather_scatter("scatter_add", 1, out, (nb_tensor *)src, dim, idx);
}

int nb_cpu_tril(nb_tensor *out, const nb_tensor *a, int64_t k) {
    if (nb_dtype_size(a->dtype) != 4 || out->dtype != a->dtype || out->ndim < 2 || !nb_same_shape(out, a))
        return nb_set_error("tril (cpu): bad operands"), -1;
    int nd = a->ndim;
    int64_t R = a->shape[nd - 2], C = a->shape[nd - 1], rows = nb_numel(a) / (C ? C : 1);
    if (C == 0 || R == 0) return 0;
    int64_t ars = a->stride[nd - 2], acs = a->stride[nd - 1];
    int64_t ors = out->stride[nd - 2], ocs = out->stride[nd - 1];
    const char *A = nb_ptr(a);
    char *O = nb_ptr(out);
    const uint32_t zero = 0;
    const nb_tensor *ts[2] = {a, out};
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * C > 32768) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t off[2], i = r % R;
        line_offsets(nd - 2, a->shape, -1, r / R, 2, ts, off); /* batch offsets */
        const char *ap = A + (off[0] + i * ars) * 4;
        char *op = O + (off[1] + i * ors) * 4;
        for (int64_t j = 0; j < C; j++) /* memmove: tril_mask runs in place */
            memmove(op + j * ocs * 4, j - i <= k ? ap + j * acs * 4 : (const char *)&zero, 4);
    }
    return 0;
}
