/* backends/cpu/cpu_attention.c - fused causal scaled-dot-product attention on
 * the CPU, forward and backward, flash-attention style: the forward keeps only
 * the output and the per-row log-sum-exp; the backward recomputes the
 * probabilities from it. No [T,T] matrix is ever stored.
 *
 * Operands are [B,H,T,D] descriptors with any strides for B, H and T and a
 * unit stride along D (the ops layer makes D contiguous when it is not), so
 * q, k, v sliced out of a [B,T,3C] projection are read in place. Work is
 * split over the B*H heads, each computed by one thread in a fixed order, so
 * results are bit-identical run to run. Per head, K (and V in the backward)
 * is first transposed into a per-thread scratch [D,T], so the scores of one
 * query against all keys are D axpys over contiguous memory (vectorisable),
 * and the weighted sums over V are axpys over D. Per-thread scratch buffers
 * grow only when needed. */
/* GCC if-converts (and so vectorises) the clamps in the exp below only
 * without trapping math; nothing here reads floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
/* `omp simd` is a hint: clang must not warn when it cannot honour it (e.g. -O0, sanitizers). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/cpu_math.h"

/* One head of a [B,H,T,D] operand: base pointer of (b,h) and the stride of T. */
typedef struct {
    float *p;
    int64_t st;
} head;

static inline head head_of(const nb_tensor *t, int64_t b, int64_t h) {
    head r = {(float *)nb_ptr(t) + b * t->stride[0] + h * t->stride[1], t->stride[2]};
    return r;
}

/* kt[d*ld + j] = k[j][d] for j < T. */
static void transpose_head(float *kt, int64_t ld, head k, int64_t T, int64_t D) {
    for (int64_t j = 0; j < T; j++) {
        const float *kj = k.p + j * k.st;
        for (int64_t d = 0; d < D; d++)
            kt[d * ld + j] = kj[d];
    }
}

/* Queries are processed in blocks of ATT_R rows, so each key, value and
 * gradient row loaded from cache serves ATT_R queries. */
#define ATT_R 4

/* s[r*ld + j] = alpha * sum_d x[r][d] * kt[d*ld + j] for r < ATT_R, j < n. */
static inline void scores4(float *s, const float *const *x, const float *kt, int64_t ld, int64_t n, int64_t D,
                           float alpha) {
    float *s0 = s, *s1 = s + ld, *s2 = s + 2 * ld, *s3 = s + 3 * ld;
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        s0[j] = s1[j] = s2[j] = s3[j] = 0.0f;
    for (int64_t d = 0; d < D; d++) {
        const float x0 = x[0][d], x1 = x[1][d], x2 = x[2][d], x3 = x[3][d], *kd = kt + d * ld;
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            const float kv = kd[j];
            s0[j] += x0 * kv;
            s1[j] += x1 * kv;
            s2[j] += x2 * kv;
            s3[j] += x3 * kv;
        }
    }
    for (int r = 0; r < ATT_R; r++) {
        float *sr = s + r * ld;
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            sr[j] *= alpha;
    }
}

/* Largest of x[0..n-1], in 8 independent lanes so that both compilers vectorise it. */
static inline float row_max(const float *x, int64_t n) {
    float mm[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            mm[l] = x[j + l] > mm[l] ? x[j + l] : mm[l];
    for (; j < n; j++)
        mm[0] = x[j] > mm[0] ? x[j] : mm[0];
    float m = mm[0];
    for (int l = 1; l < 8; l++)
        m = mm[l] > m ? mm[l] : m;
    return m;
}

/* acc[r*D + d] += p[r*ld + j] * x[d] for the ATT_R rows (one row x of V or K). */
static inline void axpy4(float *acc, const float *p, int64_t ld, int64_t j, const float *x, int64_t D) {
    const float a0 = p[j], a1 = p[ld + j], a2 = p[2 * ld + j], a3 = p[3 * ld + j];
    float *c0 = acc, *c1 = acc + D, *c2 = acc + 2 * D, *c3 = acc + 3 * D;
#pragma omp simd
    for (int64_t d = 0; d < D; d++) {
        const float xv = x[d];
        c0[d] += a0 * xv;
        c1[d] += a1 * xv;
        c2[d] += a2 * xv;
        c3[d] += a3 * xv;
    }
}

/* y[d] += sum_r a[r*ld + j] * x[r][d] (one row of dK or dV from the ATT_R rows). */
static inline void gather4(float *y, const float *a, int64_t ld, int64_t j, const float *const *x, int64_t D,
                           float alpha) {
    const float a0 = alpha * a[j], a1 = alpha * a[ld + j], a2 = alpha * a[2 * ld + j],
                a3 = alpha * a[3 * ld + j];
    const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
#pragma omp simd
    for (int64_t d = 0; d < D; d++)
        y[d] += a0 * x0[d] + a1 * x1[d] + a2 * x2[d] + a3 * x3[d];
}

static inline float dot(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t d = 0; d < n; d++)
        s += a[d] * b[d];
    return s;
}

/* Per-head workers are compiled for AVX2 and for the baseline; the loader
 * picks one for the machine (the same on every run). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define ATT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ATT_CLONES
#endif

/* One head's operands and sizes. lst is the stride of lse along T. */
typedef struct {
    head q, k, v, out, dout, dq, dk, dv;
    float *lse;
    int64_t lst, T, D;
    float scale;
} att_head;

/* Row pointers of rows i0.. i0+ATT_R-1 of h (rows past T repeat the last one). */
static inline void rows4(const float **x, head h, int64_t i0, int64_t rb) {
    for (int r = 0; r < ATT_R; r++)
        x[r] = h.p + (i0 + (r < rb ? r : rb - 1)) * h.st;
}

/* Forward of one head; scratch holds D*T + ATT_R*(T + D) floats. A row
 * buffer holds all scores of a query, so the softmax over j <= i is exact in
 * two sweeps (max, then exp and sum): the result an online softmax reaches,
 * with fewer rescalings. */
ATT_CLONES static void att_head_fwd(const att_head *a, float *scratch) {
    const int64_t T = a->T, D = a->D, ld = T;
    float *kt = scratch, *s = kt + D * ld, *acc = s + ATT_R * ld;
    transpose_head(kt, ld, a->k, T, D);
    for (int64_t i0 = 0; i0 < T; i0 += ATT_R) {
        const int64_t rb = T - i0 < ATT_R ? T - i0 : ATT_R, n = i0 + rb;
        const float *x[ATT_R];
        rows4(x, a->q, i0, rb);
        scores4(s, x, kt, ld, n, D, a->scale);
        float m[ATT_R], sum[ATT_R];
        for (int r = 0; r < ATT_R; r++) {
            float *sr = s + r * ld, sr_sum = 0.0f;
            for (int64_t j = i0 + r + 1; j < n; j++)
                sr[j] = -INFINITY; /* causal mask */
            m[r] = row_max(sr, n < i0 + r + 1 ? n : i0 + r + 1);
#pragma omp simd reduction(+ : sr_sum)
            for (int64_t j = 0; j < n; j++) {
                float e = nb_cpu_expf(sr[j] - m[r]);
                sr[j] = e;
                sr_sum += e;
            }
            sum[r] = sr_sum;
        }
        memset(acc, 0, (size_t)(ATT_R * D) * sizeof(float));
        for (int64_t j = 0; j < n; j++)
            axpy4(acc, s, ld, j, a->v.p + j * a->v.st, D);
        for (int64_t r = 0; r < rb; r++) {
            const float inv = 1.0f / sum[r];
            float *o = a->out.p + (i0 + r) * a->out.st;
            const float *c = acc + r * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++)
                o[d] = c[d] * inv;
            a->lse[(i0 + r) * a->lst] = m[r] + logf(sum[r]);
        }
    }
}

/* Backward of one head; scratch holds 2*D*T + ATT_R*(2*T + D) floats. */
ATT_CLONES static void att_head_bwd(const att_head *a, float *scratch) {
    const int64_t T = a->T, D = a->D, ld = T;
    const float scale = a->scale;
    float *kt = scratch, *vt = kt + D * ld, *p = vt + D * ld, *ds = p + ATT_R * ld;
    float *dqa = ds + ATT_R * ld;
    transpose_head(kt, ld, a->k, T, D);
    transpose_head(vt, ld, a->v, T, D);
    for (int64_t j = 0; j < T; j++) {
        memset(a->dk.p + j * a->dk.st, 0, (size_t)D * sizeof(float));
        memset(a->dv.p + j * a->dv.st, 0, (size_t)D * sizeof(float));
    }
    for (int64_t i0 = 0; i0 < T; i0 += ATT_R) {
        const int64_t rb = T - i0 < ATT_R ? T - i0 : ATT_R, n = i0 + rb;
        const float *xq[ATT_R], *xg[ATT_R];
        rows4(xq, a->q, i0, rb);
        rows4(xg, a->dout, i0, rb);
        scores4(p, xq, kt, ld, n, D, scale);
        scores4(ds, xg, vt, ld, n, D, 1.0f); /* dout_i . v_j */
        for (int r = 0; r < ATT_R; r++) {
            float *pr = p + r * ld, *dr = ds + r * ld;
            if (r >= rb) { /* padding rows contribute nothing */
                memset(pr, 0, (size_t)n * sizeof(float));
                memset(dr, 0, (size_t)n * sizeof(float));
                continue;
            }
            const float li = a->lse[(i0 + r) * a->lst];
            const float Di = dot(xg[r], a->out.p + (i0 + r) * a->out.st, D);
            const int64_t nr = i0 + r + 1;
#pragma omp simd
            for (int64_t j = 0; j < nr; j++) {
                pr[j] = nb_cpu_expf(pr[j] - li);
                dr[j] = pr[j] * (dr[j] - Di);
            }
            for (int64_t j = nr; j < n; j++)
                pr[j] = dr[j] = 0.0f; /* causal mask */
        }
        memset(dqa, 0, (size_t)(ATT_R * D) * sizeof(float));
        for (int64_t j = 0; j < n; j++) {
            axpy4(dqa, ds, ld, j, a->k.p + j * a->k.st, D);
            gather4(a->dk.p + j * a->dk.st, ds, ld, j, xq, D, scale);
            gather4(a->dv.p + j * a->dv.st, p, ld, j, xg, D, 1.0f);
        }
        for (int64_t r = 0; r < rb; r++) {
            float *dqi = a->dq.p + (i0 + r) * a->dq.st;
            const float *c = dqa + r * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++)
                dqi[d] = c[d] * scale;
        }
    }
}

int nb_cpu_attention(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k,
                     const nb_tensor *v, float scale) {
    const int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    const int64_t BH = B * H;
    if (BH == 0 || T == 0) return 0;
    int failed = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (BH > 1 && BH * T * T * D > 65536) schedule(static)   \
    reduction(|                                                                                              \
              : failed)
    for (int64_t bh = 0; bh < BH; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *scratch = nb_cpu_scratch(NB_SCRATCH_ATTENTION, (size_t)(D * T + ATT_R * (T + D)));
        if (!scratch) {
            failed = 1;
            continue;
        }
        att_head a = {.q = head_of(q, b, h),
                      .k = head_of(k, b, h),
                      .v = head_of(v, b, h),
                      .out = head_of(out, b, h),
                      .lse = (float *)nb_ptr(lse) + b * lse->stride[0] + h * lse->stride[1],
                      .lst = lse->stride[2],
                      .T = T,
                      .D = D,
                      .scale = scale};
        att_head_fwd(&a, scratch);
    }
    if (failed) return nb_set_error("attention: out of memory for scratch"), -1;
    return 0;
}

/* dq, dk and dv are overwritten. Per head, row i: p_j = exp(s_ij - lse_i),
 * D_i = dout_i . out_i, ds_j = p_j (dout_i . v_j - D_i); dq_i = scale sum_j ds_j k_j,
 * dk_j += scale ds_j q_i, dv_j += p_j dout_i. */
int nb_cpu_attention_backward(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout,
                              const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                              const nb_tensor *out, const nb_tensor *lse, float scale) {
    const int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    const int64_t BH = B * H;
    if (BH == 0 || T == 0) return 0;
    int failed = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (BH > 1 && BH * T * T * D > 32768) schedule(static)   \
    reduction(|                                                                                              \
              : failed)
    for (int64_t bh = 0; bh < BH; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *scratch = nb_cpu_scratch(NB_SCRATCH_ATTENTION, (size_t)(2 * D * T + ATT_R * (2 * T + D)));
        if (!scratch) {
            failed = 1;
            continue;
        }
        att_head a = {.q = head_of(q, b, h),
                      .k = head_of(k, b, h),
                      .v = head_of(v, b, h),
                      .out = head_of(out, b, h),
                      .dout = head_of(dout, b, h),
                      .dq = head_of(dq, b, h),
                      .dk = head_of(dk, b, h),
                      .dv = head_of(dv, b, h),
                      .lse = (float *)nb_ptr(lse) + b * lse->stride[0] + h * lse->stride[1],
                      .lst = lse->stride[2],
                      .T = T,
                      .D = D,
                      .scale = scale};
        att_head_bwd(&a, scratch);
    }
    if (failed) return nb_set_error("attention backward: out of memory for scratch"), -1;
    return 0;
}
