/* backends/cpu/cpu_sort.c - argsort along one dim: each line is sorted by one thread with a
 * bottom-up merge sort of (value, position) keys in a per-thread scratch buffer. The order is
 * total (a tie is broken by position, a NaN counts as the largest), so the result is unique
 * and the same as the CUDA backend's bitonic sort. */
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/cpu_math.h"

typedef struct {
    float v;
    int32_t i;
} key;

/* whether x goes before y: ascending (descending when desc) by value, NaN the largest, ties by
 * position */
static inline bool before(key x, key y, bool desc) {
    const bool xn = x.v != x.v, yn = y.v != y.v;
    if (xn || yn) return xn && yn ? x.i < y.i : desc ? xn : yn;
    if (x.v != y.v) return desc ? x.v > y.v : x.v < y.v;
    return x.i < y.i;
}

/* sorts k[0..n) using tmp[0..n); the result is in k */
static void merge_sort(key *k, key *tmp, int64_t n, bool desc) {
    key *src = k, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            const int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = before(src[b], src[a], desc) ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        key *t = src;
        src = dst;
        dst = t;
    }
    if (src != k) memcpy(k, src, (size_t)n * sizeof *k);
}

int nb_cpu_argsort(nb_tensor *idx, const nb_tensor *a, int dim, bool desc) {
    if (a->dtype != NB_F32 || idx->dtype != NB_I32 || !nb_same_shape(idx, a) || dim < 0 || dim >= a->ndim ||
        a->shape[dim] > INT32_MAX)
        return nb_set_error("argsort (cpu): bad operands"), -1;
    const int64_t n = a->shape[dim], lines = n ? nb_numel(a) / n : 0;
    if (lines == 0) return 0;
    const float *A = (const float *)nb_ptr(a);
    int32_t *I = (int32_t *)nb_ptr(idx);
    const int64_t sa = a->stride[dim], si = idx->stride[dim];
    int rc = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (lines * n > 16384) schedule(static)
    for (int64_t line = 0; line < lines; line++) {
        key *k = (key *)nb_cpu_scratch(NB_SCRATCH_SORT, (size_t)(2 * n) * sizeof(key) / sizeof(float));
        if (!k) {
#pragma omp atomic write
            rc = -1;
            continue;
        }
        int64_t oa = 0, oi = 0, r = line; /* the line's first element: every dim but `dim` */
        for (int d = a->ndim - 1; d >= 0; d--) {
            if (d == dim) continue;
            const int64_t c = r % a->shape[d];
            r /= a->shape[d];
            oa += c * a->stride[d];
            oi += c * idx->stride[d];
        }
        for (int64_t j = 0; j < n; j++)
            k[j] = (key){A[oa + j * sa], (int32_t)j};
        merge_sort(k, k + n, n, desc);
        for (int64_t j = 0; j < n; j++)
            I[oi + j * si] = k[j].i;
    }
    if (rc)
        return nb_set_error("argsort (cpu): out of memory for a %lld-element scratch buffer", (long long)n),
               -1;
    return 0;
}
