/* backends/cpu/cpu_reduce.c - sum/max/min over any axes, argmax, and cumsum.
 * The input is viewed as [kept..., reduced...]; each output element is
 * reduced by one thread in a fixed order, so results are deterministic.
 * Sums accumulate in double, a contiguous run in interleaved lanes (sum_run). */
#include <math.h>
#include <omp.h>

#include "backends/cpu/cpu.h"

typedef struct {
    int nk, nr;
    int64_t kshape[NB_MAX_DIMS], kstride[NB_MAX_DIMS], ostride[NB_MAX_DIMS];
    int64_t rshape[NB_MAX_DIMS], rstride[NB_MAX_DIMS];
    int64_t K, R;
} red_geom;

/* Kept and reduced dims of a (size-1 dims dropped). A reduced dim that continues the one before
 * it in memory (stride[prev] == stride * size) is merged into it: the index order, and so the
 * order of a sum, stays the same. */
static void geom(const nb_tensor *out, const nb_tensor *a, red_geom *g) {
    g->nk = g->nr = 0;
    g->K = g->R = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (out->shape[i] == 1 && a->shape[i] != 1) {
            const int n = g->nr;
            if (n > 0 && g->rstride[n - 1] == a->stride[i] * a->shape[i]) {
                g->rshape[n - 1] *= a->shape[i];
                g->rstride[n - 1] = a->stride[i];
            } else {
                g->rshape[g->nr] = a->shape[i];
                g->rstride[g->nr++] = a->stride[i];
            }
            g->R *= a->shape[i];
        } else if (a->shape[i] != 1) {
            g->kshape[g->nk] = a->shape[i];
            g->kstride[g->nk] = a->stride[i];
            g->ostride[g->nk++] = out->stride[i];
            g->K *= a->shape[i];
        }
    }
}

static inline void offsets(const red_geom *g, int64_t k, int64_t *ao, int64_t *oo) {
    int64_t a = 0, o = 0;
    for (int i = g->nk - 1; i >= 0; i--) {
        int64_t ix = k % g->kshape[i];
        k /= g->kshape[i];
        a += ix * g->kstride[i];
        o += ix * g->ostride[i];
    }
    *ao = a;
    *oo = o;
}

/* The sum of p[0..n) in double: NB_LANES interleaved partial sums (element i goes to lane
 * i % NB_LANES, so the adds vectorise and do not wait on each other), then the lanes in order.
 * The order depends on n alone: the same on any thread count. */
enum { NB_LANES = 32 };
static double sum_run(const float *p, int64_t n) {
    double acc[NB_LANES] = {0};
    int64_t i = 0;
    for (; i + NB_LANES <= n; i += NB_LANES)
        for (int j = 0; j < NB_LANES; j++)
            acc[j] += p[i + j];
    for (int j = 0; i < n; i++, j++)
        acc[j] += p[i];
    double s = 0;
    for (int j = 0; j < NB_LANES; j++)
        s += acc[j];
    return s;
}

/* a contiguous, reduced over its leading dims only: [R, K] rows summed column-wise,
 * streaming through memory once (the bias-gradient pattern). */
static bool leading_only(const nb_tensor *out, const nb_tensor *a, int64_t *R, int64_t *K) {
    if (!nb_is_contiguous(a)) return false;
    int i = 0;
    *R = 1;
    *K = 1;
    while (i < a->ndim && (out->shape[i] == 1 || a->shape[i] == 1)) *R *= a->shape[i++];
    for (; i < a->ndim; i++) {
        if (out->shape[i] != a->shape[i]) return false;
        *K *= a->shape[i];
    }
    /* a few columns: the generic path's contiguous runs (sum_run) beat so few chains */
    return nb_is_contiguous(out) && *R > 1 && *K >= 8;
}

static void reduce_rows(nb_redop op, float *O, const float *A, int64_t R, int64_t K) {
    enum { CH = 256 };
    int64_t chunks = (K + CH - 1) / CH;
#pragma omp parallel for num_threads(nb_nthreads()) if (R * K > 65536 && chunks > 1) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t k0 = c * CH, k1 = k0 + CH < K ? k0 + CH : K, w = k1 - k0;
        double acc[CH];
        float m[CH];
        bool nan[CH];
        for (int64_t k = 0; k < w; k++) acc[k] = 0, m[k] = A[k0 + k], nan[k] = false;
        for (int64_t r = 0; r < R; r++) {
            const float *row = A + r * K + k0;
            if (op == NB_RED_SUM)
                for (int64_t k = 0; k < w; k++) acc[k] += row[k];
            else
                for (int64_t k = 0; k < w; k++) {
                    float v = row[k];
                    nan[k] |= v != v;
                    m[k] = op == NB_RED_MAX ? (v > m[k] ? v : m[k]) : (v < m[k] ? v : m[k]);
                }
        }
        for (int64_t k = 0; k < w; k++) O[k0 + k] = op == NB_RED_SUM ? (float)acc[k] : nan[k] ? NAN : m[k];
    }
}

int nb_cpu_reduce(nb_redop op, nb_tensor *out, const nb_tensor *a) {
    int64_t R, K;
    if (nb_numel(a) > 0 && leading_only(out, a, &R, &K)) {
        reduce_rows(op, (float *)nb_ptr(out), (const float *)nb_ptr(a), R, K);
        return 0;
    }
    red_geom g;
    geom(out, a, &g);
    const float *A = (const float *)nb_ptr(a);
    float *O = (float *)nb_ptr(out);
    int nt = nb_nthreads();
    bool inner_contig = g.nr == 1 && g.rstride[0] == 1;
#pragma omp parallel for num_threads(nt) if (g.K * g.R > 65536 && g.K >= nt) schedule(static)
    for (int64_t k = 0; k < g.K; k++) {
        int64_t ao, oo;
        offsets(&g, k, &ao, &oo);
        const float *p = A + ao;
        double s = 0;
        float m = op == NB_RED_MAX ? -INFINITY : INFINITY;
        bool nan = false;
        if (op == NB_RED_SUM && g.nr > 0 && g.rstride[g.nr - 1] == 1) {
            /* runs along the contiguous innermost reduced dim, in index order */
            const int64_t run = g.rshape[g.nr - 1], outer = run ? g.R / run : 0;
            int64_t idx[NB_MAX_DIMS] = {0};
            for (int64_t r = 0; r < outer; r++) {
                int64_t off = 0;
                for (int i = 0; i < g.nr - 1; i++)
                    off += idx[i] * g.rstride[i];
                s += sum_run(p + off, run);
                for (int i = g.nr - 2; i >= 0; i--) {
                    if (++idx[i] < g.rshape[i]) break;
                    idx[i] = 0;
                }
            }
        } else if (inner_contig) { /* max or min */
            for (int64_t r = 0; r < g.R; r++) {
                float v = p[r];
                nan |= v != v;
                m = op == NB_RED_MAX ? (v > m ? v : m) : (v < m ? v : m);
            }
        } else {
            int64_t idx[NB_MAX_DIMS] = {0};
            for (int64_t r = 0; r < g.R; r++) {
                int64_t off = 0;
                for (int i = 0; i < g.nr; i++) off += idx[i] * g.rstride[i];
                float v = p[off];
                if (op == NB_RED_SUM) s += v;
                else {
                    nan |= v != v;
                    m = op == NB_RED_MAX ? (v > m ? v : m) : (v < m ? v : m);
                }
                for (int i = g.nr - 1; i >= 0; i--) {
                    if (++idx[i] < g.rshape[i]) break;
                    idx[i] = 0;
                }
            }
        }
        O[oo] = op == NB_RED_SUM ? (float)s : nan ? NAN : m;
    }
    return 0;
}

int nb_cpu_argmax(nb_tensor *out, const nb_tensor *a, int axis) {
    red_geom g;
    geom(out, a, &g);
    const float *A = (const float *)nb_ptr(a);
    int32_t *O = (int32_t *)nb_ptr(out);
    int64_t n = a->shape[axis], st = a->stride[axis];
#pragma omp parallel for num_threads(nb_nthreads()) if (g.K * n > 65536) schedule(static)
    for (int64_t k = 0; k < g.K; k++) {
        int64_t ao, oo;
        offsets(&g, k, &ao, &oo);
        const float *p = A + ao;
        int64_t best = 0;
        float bv = p[0];
        for (int64_t i = 1; i < n; i++) {
            float v = p[i * st];
            if (v > bv || (v != v && bv == bv)) {
                bv = v;
                best = i;
            }
        }
        O[oo] = (int32_t)best;
    }
    return 0;
}

/* Each line along dim is one serial running sum in double, in index order (from the end when
 * reverse); the lines are split across threads. The line starts come from geom() on views of
 * out and a with dim shrunk to 1. */
int nb_cpu_cumsum(nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    if (a->dtype != NB_F32 || out->dtype != NB_F32 || !nb_same_shape(out, a) || dim < 0 || dim >= a->ndim)
        return nb_set_error("cumsum (cpu): bad operands"), -1;
    const int64_t n = a->shape[dim], sa = a->stride[dim], so = out->stride[dim];
    if (n == 0 || nb_numel(a) == 0) return 0;
    nb_tensor o1 = *out, a1 = *a;
    o1.shape[dim] = a1.shape[dim] = 1;
    red_geom g;
    geom(&o1, &a1, &g);
    const float *A = (const float *)nb_ptr(a);
    float *O = (float *)nb_ptr(out);
    const int64_t first = reverse ? n - 1 : 0, step = reverse ? -1 : 1;
#pragma omp parallel for num_threads(nb_nthreads()) if (g.K * n > 65536) schedule(static)
    for (int64_t k = 0; k < g.K; k++) {
        int64_t ao, oo;
        offsets(&g, k, &ao, &oo);
        double acc = 0.0;
        for (int64_t i = 0, j = first; i < n; i++, j += step) {
            acc += (double)A[ao + j * sa];
            O[oo + j * so] = (float)acc;
        }
    }
    return 0;
}
