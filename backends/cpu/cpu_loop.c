/* backends/cpu/cpu_loop.c - strided N-d loops over several operands. */
#include <omp.h>
#include <string.h>

#include "backends/cpu/cpu.h"

void nb_loop_init(nb_loop *L, int nops, const nb_tensor *const *t) {
    memset(L, 0, sizeof *L);
    L->nops = nops;
    const nb_tensor *r = t[0];
    for (int k = 0; k < nops; k++) {
        L->base[k] = nb_ptr(t[k]);
        L->esize[k] = (int64_t)nb_dtype_size(t[k]->dtype);
    }
    /* drop size-1 dims, merge dims contiguous for every operand */
    int nd = 0;
    for (int i = 0; i < r->ndim; i++) {
        if (r->shape[i] == 0) {
            L->ndim = 1, L->shape[0] = 0, L->n = 0;
            return;
        }
        if (r->shape[i] == 1) continue;
        if (nd > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (L->stride[k][nd - 1] != t[k]->stride[i] * r->shape[i]) merge = false;
            if (merge) {
                L->shape[nd - 1] *= r->shape[i];
                for (int k = 0; k < nops; k++) L->stride[k][nd - 1] = t[k]->stride[i];
                continue;
            }
        }
        L->shape[nd] = r->shape[i];
        for (int k = 0; k < nops; k++) L->stride[k][nd] = t[k]->stride[i];
        nd++;
    }
    if (nd == 0) {
        L->shape[0] = 1;
        nd = 1;
    }
    L->ndim = nd;
    L->n = 1;
    for (int i = 0; i < nd; i++) L->n *= L->shape[i];
}

/* Runs elements [start, end) of the flattened loop: fn once per run along the innermost dim.
 * The operands' pointers are computed once and then stepped by the dims' strides as the index
 * advances (an odometer), so short runs cost a call each and no index arithmetic. */
static void run_range(const nb_loop *L, int64_t start, int64_t end, nb_run_fn fn, void *user) {
    const int nd = L->ndim, nops = L->nops;
    const int64_t inner = L->shape[nd - 1];
    int64_t idx[NB_MAX_DIMS], rem = start;
    for (int i = nd - 1; i >= 0; i--) {
        idx[i] = rem % L->shape[i];
        rem /= L->shape[i];
    }
    int64_t st[NB_LOOP_MAXOP], step[NB_LOOP_MAXOP][NB_MAX_DIMS];
    char *p[NB_LOOP_MAXOP];
    for (int k = 0; k < nops; k++) {
        st[k] = L->stride[k][nd - 1];
        int64_t off = 0;
        for (int i = 0; i < nd; i++) {
            off += idx[i] * L->stride[k][i];
            step[k][i] = L->stride[k][i] * L->esize[k];
        }
        p[k] = L->base[k] + off * L->esize[k];
    }
    int64_t pos = start;
    while (pos < end) {
        int64_t len = inner - idx[nd - 1];
        if (len > end - pos) len = end - pos;
        fn(user, len, p, st);
        pos += len;
        idx[nd - 1] += len;
        if (idx[nd - 1] < inner) break; /* the range ended inside a run */
        /* back to the run's start, then carry into the outer dims */
        for (int k = 0; k < nops; k++)
            p[k] += (len - idx[nd - 1]) * step[k][nd - 1];
        idx[nd - 1] = 0;
        for (int i = nd - 2; i >= 0; i--) {
            idx[i]++;
            for (int k = 0; k < nops; k++)
                p[k] += step[k][i];
            if (idx[i] < L->shape[i]) break;
            for (int k = 0; k < nops; k++)
                p[k] -= L->shape[i] * step[k][i];
            idx[i] = 0;
        }
    }
}

/* Short innermost runs (a [rows, 2] operand, a broadcast along a short last dim) would cost one
 * call per couple of elements. Instead, rows [r0, r1) are walked in tiles of up to ROW_TILE rows
 * along the second-innermost dim: for each of the `inner` columns, one call runs down the tile
 * with that dim's strides, and the tile's few kilobytes stay in cache across the columns. */
enum { SHORT_RUN = 16, ROW_TILE = 512 };
static bool rows_tiled(const nb_loop *L) {
    return L->ndim >= 2 && L->shape[L->ndim - 1] < SHORT_RUN && L->shape[L->ndim - 2] >= 4 * SHORT_RUN;
}

static void run_rows(const nb_loop *L, int64_t r0, int64_t r1, nb_run_fn fn, void *user) {
    const int nd = L->ndim, nops = L->nops, d = nd - 2; /* d: the rows' dim within the loop */
    const int64_t inner = L->shape[nd - 1];
    int64_t idx[NB_MAX_DIMS], rem = r0;
    for (int i = d; i >= 0; i--) {
        idx[i] = rem % L->shape[i];
        rem /= L->shape[i];
    }
    int64_t st[NB_LOOP_MAXOP];
    for (int k = 0; k < nops; k++)
        st[k] = L->stride[k][d];
    for (int64_t r = r0; r < r1;) {
        int64_t m = L->shape[d] - idx[d];
        if (m > r1 - r) m = r1 - r;
        if (m > ROW_TILE) m = ROW_TILE;
        char *p[NB_LOOP_MAXOP];
        for (int k = 0; k < nops; k++) {
            int64_t off = 0;
            for (int i = 0; i <= d; i++)
                off += idx[i] * L->stride[k][i];
            p[k] = L->base[k] + off * L->esize[k];
        }
        for (int64_t j = 0; j < inner; j++) {
            char *q[NB_LOOP_MAXOP];
            for (int k = 0; k < nops; k++)
                q[k] = p[k] + j * L->stride[k][nd - 1] * L->esize[k];
            fn(user, m, q, st);
        }
        r += m;
        idx[d] += m;
        for (int i = d; i > 0 && idx[i] >= L->shape[i]; i--) {
            idx[i] = 0;
            idx[i - 1]++;
        }
    }
}

void nb_loop_run(const nb_loop *L, nb_run_fn fn, void *user) {
    if (L->n == 0) return;
    int nt = nb_nthreads();
    const bool serial = L->n < 32768 || nt <= 1 || omp_in_parallel();
    if (rows_tiled(L)) {
        const int64_t rows = L->n / L->shape[L->ndim - 1];
        if (serial) {
            run_rows(L, 0, rows, fn, user);
            return;
        }
        int64_t chunks = (rows + ROW_TILE - 1) / ROW_TILE;
        if (chunks > 4 * nt) chunks = 4 * nt;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t c = 0; c < chunks; c++)
            run_rows(L, rows * c / chunks, rows * (c + 1) / chunks, fn, user);
        return;
    }
    if (serial) {
        run_range(L, 0, L->n, fn, user);
        return;
    }
    int64_t chunks = (L->n + 16383) / 16384;
    if (chunks > 4 * nt) chunks = 4 * nt;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t s = L->n * c / chunks, e = L->n * (c + 1) / chunks;
        run_range(L, s, e, fn, user);
    }
}
