/* backends/cpu/cpu_reduce.c - sum/prod/max/min over any axes, argmax, and cumsum.
 * The input is viewed as [kept..., reduced...]; each output element is
 * reduced by one thread in a fixed order, so results are deterministic.
 * Sums accumulate in double, a contiguous run in interleaved lanes (sum_run). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "ops/elementwise_math.h"

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
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define RED_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define RED_CLONES
#endif
enum { NB_LANES = 32 };
RED_CLONES static double sum_run(const float *p, int64_t n) {
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

static inline float pick(nb_redop op, float a, float b) {
    return op == NB_RED_MAX ? (b > a ? b : a) : (b < a ? b : a);
}

/* Sums and products accumulate in double (acc), max and min in float with a NaN flag. */
static inline bool accumulates(nb_redop op) { return op == NB_RED_SUM || op == NB_RED_PROD; }
static inline double acc_id(nb_redop op) { return op == NB_RED_PROD ? 1.0 : 0.0; }
static inline double acc_add(nb_redop op, double s, double v) { return op == NB_RED_PROD ? s * v : s + v; }

/* The max (min) of p[0..n), NaN if any is: 16 lanes as sum_run's, so the compares vectorise. */
RED_CLONES static float pick_run(nb_redop op, const float *p, int64_t n) {
    enum { L = 16 };
    float m[L];
    bool nan[L] = {false};
    for (int j = 0; j < L; j++)
        m[j] = op == NB_RED_MAX ? -INFINITY : INFINITY;
    int64_t i = 0;
    if (op == NB_RED_MAX)
        for (; i + L <= n; i += L)
            for (int j = 0; j < L; j++) {
                nan[j] |= p[i + j] != p[i + j];
                m[j] = p[i + j] > m[j] ? p[i + j] : m[j];
            }
    else
        for (; i + L <= n; i += L)
            for (int j = 0; j < L; j++) {
                nan[j] |= p[i + j] != p[i + j];
                m[j] = p[i + j] < m[j] ? p[i + j] : m[j];
            }
    for (int j = 0; i < n; i++, j++) {
        nan[j] |= p[i] != p[i];
        m[j] = pick(op, m[j], p[i]);
    }
    float v = m[0];
    bool any = nan[0];
    for (int j = 1; j < L; j++)
        v = pick(op, v, m[j]), any |= nan[j];
    return any ? NAN : v;
}

/* a contiguous and viewed as [Q, R, K]: kept outer dims (Q), then reduced dims (R), then kept
 * inner dims (K), size-1 dims anywhere; each of the Q slices is an [R, K] reduced over its rows
 * (a full sum: Q = K = 1; a bias gradient: Q = 1), streaming through memory once. */
static bool outer_mid_inner(const nb_tensor *out, const nb_tensor *a, int64_t *Q, int64_t *R, int64_t *K) {
    if (!nb_is_contiguous(a) || !nb_is_contiguous(out)) return false;
    int i = 0;
    *Q = *R = *K = 1;
    for (; i < a->ndim && (out->shape[i] == a->shape[i] || a->shape[i] == 1); i++)
        *Q *= a->shape[i];
    for (; i < a->ndim && out->shape[i] == 1; i++)
        *R *= a->shape[i];
    for (; i < a->ndim; i++) {
        if (out->shape[i] != a->shape[i]) return false;
        *K *= a->shape[i];
    }
    return *R > 1;
}

/* The partial reduction of one block of an [R, K] reduce_rows: rows [r0, r1), columns [k0, k0 +
 * w), into acc (sums, double) or m / nan (max, min). */
typedef struct {
    double *acc;
    float *m;
    bool *nan;
} red_part;

/* Few columns (K <= 32): the block is one contiguous run whose element i goes to lane i % L, L
 * a multiple of K of at least 32, so the lanes' chains are independent and vectorise; lane j
 * holds column j % K, and a column's lanes are combined in lane order. */
enum { NB_LANES_MAX = 64 };
RED_CLONES static void part_lanes(nb_redop op, const float *p, int64_t n, int64_t K, red_part o) {
    const int64_t L = K * ((NB_LANES + K - 1) / K);
    double acc[NB_LANES_MAX];
    float m[NB_LANES_MAX];
    bool nan[NB_LANES_MAX] = {false};
    for (int64_t j = 0; j < L; j++)
        m[j] = op == NB_RED_MAX ? -INFINITY : INFINITY, acc[j] = acc_id(op);
    int64_t i = 0;
    if (op == NB_RED_SUM) {
        for (; i + L <= n; i += L)
            for (int64_t j = 0; j < L; j++)
                acc[j] += p[i + j];
        for (int64_t j = 0; i < n; i++, j++)
            acc[j] += p[i];
    } else if (op == NB_RED_PROD) {
        for (; i + L <= n; i += L)
            for (int64_t j = 0; j < L; j++)
                acc[j] *= p[i + j];
        for (int64_t j = 0; i < n; i++, j++)
            acc[j] *= p[i];
    } else {
        for (; i + L <= n; i += L)
            for (int64_t j = 0; j < L; j++) {
                nan[j] |= p[i + j] != p[i + j];
                m[j] = pick(op, m[j], p[i + j]);
            }
        for (int64_t j = 0; i < n; i++, j++) {
            nan[j] |= p[i] != p[i];
            m[j] = pick(op, m[j], p[i]);
        }
    }
    for (int64_t k = 0; k < K; k++) {
        o.acc[k] = acc_id(op), o.m[k] = op == NB_RED_MAX ? -INFINITY : INFINITY, o.nan[k] = false;
        for (int64_t j = k; j < L; j += K) {
            o.acc[k] = acc_add(op, o.acc[k], acc[j]);
            o.nan[k] |= nan[j];
            o.m[k] = pick(op, o.m[k], m[j]);
        }
    }
}

/* Many columns: a chunk of w columns, the rows in order, each column its own chain (w chains
 * side by side vectorise across the row); sums take four rows at a time, ((r0 + r1) + (r2 +
 * r3)) added to the column, so each column's partial is loaded and stored once per four rows. */
RED_CLONES static void part_cols(nb_redop op, const float *A, int64_t K, int64_t r0, int64_t r1, int64_t w,
                                 red_part o) {
    for (int64_t k = 0; k < w; k++)
        o.acc[k] = acc_id(op), o.m[k] = op == NB_RED_MAX ? -INFINITY : INFINITY, o.nan[k] = false;
    int64_t r = r0;
    if (op == NB_RED_PROD) {
        for (; r < r1; r++)
            for (int64_t k = 0; k < w; k++)
                o.acc[k] *= A[r * K + k];
        return;
    }
    if (op == NB_RED_SUM) {
        for (; r + 4 <= r1; r += 4) {
            const float *a = A + r * K, *b = a + K, *c = b + K, *d = c + K;
            for (int64_t k = 0; k < w; k++)
                o.acc[k] += ((double)a[k] + (double)b[k]) + ((double)c[k] + (double)d[k]);
        }
        for (; r < r1; r++)
            for (int64_t k = 0; k < w; k++)
                o.acc[k] += A[r * K + k];
        return;
    }
    for (; r < r1; r++) {
        const float *row = A + r * K;
        for (int64_t k = 0; k < w; k++) {
            o.nan[k] |= row[k] != row[k];
            o.m[k] = pick(op, o.m[k], row[k]);
        }
    }
}

/* [Q, R, K] reduced over R. The rows of a slice are cut into blocks of at least RED_BLOCK
 * elements (at most RED_PARTS partial results in all) and the columns into chunks of RED_CH; the
 * (slice, block, chunk) pieces run in parallel, and each column's block partials are then
 * combined in block order. The cuts depend on the shape alone, so the result is the same on any
 * thread count. */
enum { RED_BLOCK = 1 << 15, RED_PARTS = 2048, RED_CH = 256 };
static void reduce_rows(nb_redop op, float *O, const float *A, int64_t Q, int64_t R, int64_t K) {
    const int64_t slots = Q * K, max_blocks = slots < RED_PARTS ? RED_PARTS / slots : 1;
    int64_t rb = (RED_BLOCK + K - 1) / K;
    if (rb * max_blocks < R) rb = (R + max_blocks - 1) / max_blocks;
    if (rb > R) rb = R;
    const int64_t nblk = (R + rb - 1) / rb, ch = K <= 32 ? K : RED_CH, nch = (K + ch - 1) / ch;
    const bool parts = nblk > 1; /* with one block, each piece writes its result directly */
    double acc[RED_PARTS];
    float m[RED_PARTS];
    bool nan[RED_PARTS];
    const int64_t tasks = Q * nblk * nch;
#pragma omp parallel for num_threads(nb_nthreads()) if (Q * R * K > 65536 && tasks > 1) schedule(static)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t q = t / (nblk * nch), b = t / nch % nblk, c = t % nch;
        const int64_t r0 = b * rb, r1 = r0 + rb < R ? r0 + rb : R, k0 = c * ch, w = k0 + ch < K ? ch : K - k0;
        const float *S = A + q * R * K;
        double lacc[RED_CH];
        float lm[RED_CH];
        bool lnan[RED_CH];
        const int64_t at = (q * nblk + b) * K + k0;
        red_part o = parts ? (red_part){acc + at, m + at, nan + at} : (red_part){lacc, lm, lnan};
        if (K <= 32)
            part_lanes(op, S + r0 * K, (r1 - r0) * K, K, o);
        else
            part_cols(op, S + k0, K, r0, r1, w, o);
        if (!parts)
            for (int64_t k = 0; k < w; k++)
                O[q * K + k0 + k] = accumulates(op) ? (float)o.acc[k] : o.nan[k] ? NAN : o.m[k];
    }
    if (!parts) return;
    for (int64_t q = 0; q < Q; q++)
        for (int64_t k = 0; k < K; k++) {
            double s = acc_id(op);
            float v = op == NB_RED_MAX ? -INFINITY : INFINITY;
            bool n = false;
            for (int64_t b = 0; b < nblk; b++) {
                const int64_t at = (q * nblk + b) * K + k;
                s = acc_add(op, s, acc[at]);
                n |= nan[at];
                v = pick(op, v, m[at]);
            }
            O[q * K + k] = accumulates(op) ? (float)s : n ? NAN : v;
        }
}

int nb_cpu_reduce(nb_redop op, nb_tensor *out, const nb_tensor *a) {
    int64_t Q, R, K;
    if (nb_numel(a) > 0 && outer_mid_inner(out, a, &Q, &R, &K) && (K > 1 || Q == 1)) {
        reduce_rows(op, (float *)nb_ptr(out), (const float *)nb_ptr(a), Q, R, K);
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
        double s = acc_id(op);
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
        } else if (inner_contig && !accumulates(op)) { /* max or min */
            m = pick_run(op, p, g.R);
        } else {
            int64_t idx[NB_MAX_DIMS] = {0};
            for (int64_t r = 0; r < g.R; r++) {
                int64_t off = 0;
                for (int i = 0; i < g.nr; i++) off += idx[i] * g.rstride[i];
                float v = p[off];
                if (accumulates(op))
                    s = acc_add(op, s, v);
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
        O[oo] = accumulates(op) ? (float)s : nan ? NAN : m;
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

/* The starts of the lines along dim, in out and a: geom() on views of both with dim shrunk to 1. */
static void line_geom(const nb_tensor *out, const nb_tensor *a, int dim, red_geom *g) {
    nb_tensor o1 = *out, a1 = *a;
    o1.shape[dim] = a1.shape[dim] = 1;
    geom(&o1, &a1, g);
}

/* Running sums, products or log-sum-exps along dim: each line one serial chain in double, in index
 * order (from the end when reverse); the lines are split across threads. */
enum { SCAN_SUM, SCAN_PROD, SCAN_LSE };
static int scan(const char *op, int kind, nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    if (a->dtype != NB_F32 || out->dtype != NB_F32 || !nb_same_shape(out, a) || dim < 0 || dim >= a->ndim)
        return nb_set_error("%s (cpu): bad operands", op), -1;
    const int64_t n = a->shape[dim], sa = a->stride[dim], so = out->stride[dim];
    if (n == 0 || nb_numel(a) == 0) return 0;
    red_geom g;
    line_geom(out, a, dim, &g);
    const float *A = (const float *)nb_ptr(a);
    float *O = (float *)nb_ptr(out);
    const int64_t first = reverse ? n - 1 : 0, step = reverse ? -1 : 1;
#pragma omp parallel for num_threads(nb_nthreads()) if (g.K * n > 65536) schedule(static)
    for (int64_t k = 0; k < g.K; k++) {
        int64_t ao, oo;
        offsets(&g, k, &ao, &oo);
        double acc = kind == SCAN_PROD ? 1.0 : kind == SCAN_LSE ? -INFINITY : 0.0;
        for (int64_t i = 0, j = first; i < n; i++, j += step) {
            const double x = (double)A[ao + j * sa];
            acc = kind == SCAN_PROD ? acc * x : kind == SCAN_LSE ? nb_log_add_exp_d(acc, x) : acc + x;
            O[oo + j * so] = (float)acc;
        }
    }
    return 0;
}

int nb_cpu_cumsum(nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    return scan("cumsum", SCAN_SUM, out, a, dim, reverse);
}

int nb_cpu_cumprod(nb_tensor *out, const nb_tensor *a, int dim, bool reverse) {
    return scan("cumprod", SCAN_PROD, out, a, dim, reverse);
}

int nb_cpu_logcumsumexp(nb_tensor *out, const nb_tensor *a, int dim) {
    return scan("logcumsumexp", SCAN_LSE, out, a, dim, false);
}

/* The running max (min) with its position, torch's rule: a later element that ties takes over
 * (>=), and a NaN takes over and stays. idx has out's strides (both new tensors of a's shape). */
int nb_cpu_cummax(nb_tensor *out, nb_tensor *idx, const nb_tensor *a, int dim, bool min) {
    if (a->dtype != NB_F32 || out->dtype != NB_F32 || idx->dtype != NB_I32 || !nb_same_shape(out, a) ||
        !nb_same_shape(idx, a) || dim < 0 || dim >= a->ndim ||
        memcmp(idx->stride, out->stride, sizeof(int64_t) * (size_t)a->ndim) != 0)
        return nb_set_error("%s (cpu): bad operands", min ? "cummin" : "cummax"), -1;
    const int64_t n = a->shape[dim], sa = a->stride[dim], so = out->stride[dim];
    if (n == 0 || nb_numel(a) == 0) return 0;
    red_geom g;
    line_geom(out, a, dim, &g);
    const float *A = (const float *)nb_ptr(a);
    float *O = (float *)nb_ptr(out);
    int32_t *I = (int32_t *)nb_ptr(idx);
#pragma omp parallel for num_threads(nb_nthreads()) if (g.K * n > 65536) schedule(static)
    for (int64_t k = 0; k < g.K; k++) {
        int64_t ao, oo;
        offsets(&g, k, &ao, &oo);
        float best = A[ao];
        int32_t at = 0;
        for (int64_t j = 0; j < n; j++) {
            const float x = A[ao + j * sa];
            if (x != x || (best == best && (min ? x <= best : x >= best))) {
                best = x;
                at = (int32_t)j;
            }
            O[oo + j * so] = best;
            I[oo + j * so] = at;
        }
    }
    return 0;
}
