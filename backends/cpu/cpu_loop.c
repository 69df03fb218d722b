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

/* Runs elements [start, end) of the flattened loop. */
static void run_range(const nb_loop *L, int64_t start, int64_t end, nb_run_fn fn, void *user) {
    int nd = L->ndim;
    int64_t inner = L->shape[nd - 1], idx[NB_MAX_DIMS];
    int64_t rem = start;
    for (int i = nd - 1; i >= 0; i--) {
        idx[i] = rem % L->shape[i];
        rem /= L->shape[i];
    }
    int64_t st[NB_LOOP_MAXOP];
    for (int k = 0; k < L->nops; k++) st[k] = L->stride[k][nd - 1];
    int64_t pos = start;
    while (pos < end) {
        char *p[NB_LOOP_MAXOP];
        for (int k = 0; k < L->nops; k++) {
            int64_t off = 0;
            for (int i = 0; i < nd; i++) off += idx[i] * L->stride[k][i];
            p[k] = L->base[k] + off * L->esize[k];
        }
        int64_t len = inner - idx[nd - 1];
        if (len > end - pos) len = end - pos;
        fn(user, len, p, st);
        pos += len;
        idx[nd - 1] += len;
        for (int i = nd - 1; i > 0 && idx[i] >= L->shape[i]; i--) {
            idx[i] = 0;
            idx[i - 1]++;
        }
    }
}

void nb_loop_run(const nb_loop *L, nb_run_fn fn, void *user) {
    if (L->n == 0) return;
    int nt = nb_nthreads();
    if (L->n < 32768 || nt <= 1 || omp_in_parallel()) {
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
