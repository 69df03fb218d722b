/* backends/cpu/cpu_attention.c - fused causal scaled-dot-product attention on
 * the CPU, forward and backward, flash-attention style: the forward keeps only
 * the output and each row's log-sum-exp as the pair (max, log of the sum of
 * exps), which loses nothing at large scores; the backward recomputes the
 * probabilities from it. No [T,T] matrix is ever stored: a thread holds the
 * scores of one block of ATT_QB queries at a time.
 *
 * Operands are [B,H,T,D] descriptors with any strides for B, H and T and a
 * unit stride along D (the ops layer makes D contiguous when it is not), so
 * q, k, v sliced out of a [B,T,3C] projection are read in place. Work is
 * split over the B*H heads, each computed by one thread in a fixed order, so
 * results are bit-identical run to run. Per block of queries the products
 * (scores, the weighted sum over V, and in the backward dq, dk, dv) are
 * nabla's GEMM run on the calling thread (nb_cpu_sgemm_serial), reading
 * q, k, v and the gradients in place; only the softmax sweeps are here. */
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
#include "backends/cpu/gemm.h"

/* One head of a [B,H,T,D] operand: base pointer of (b,h) and the stride of T. */
typedef struct {
    float *p;
    int64_t st;
} head;

static inline head head_of(const nb_tensor *t, int64_t b, int64_t h) {
    head r = {(float *)nb_ptr(t) + b * t->stride[0] + h * t->stride[1], t->stride[2]};
    return r;
}

/* Queries are processed in blocks of ATT_QB rows: each block's scores against the keys it can
 * see (j < i0 + rows) are one GEMM, its softmax a sweep over that [rows, n] block, and its
 * products with V (and in the backward with K, Q and dout) GEMMs again. A multiple of the
 * AVX-512 and AVX2 register tiles' 6 rows; with T = 192 the masked half of the diagonal blocks
 * costs 17% more score products than the causal triangle. */
#define ATT_QB 36

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

static inline float dot(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t d = 0; d < n; d++)
        s += a[d] * b[d];
    return s;
}

/* The row sweeps (exp, masks) are compiled for AVX2 and for the baseline; the loader picks one
 * for the machine (the same on every run). The products are nabla's GEMM, on this thread. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define ATT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ATT_CLONES
#endif

/* One head's operands and sizes. lse holds (max, log-sum) pairs, lst apart along T. */
typedef struct {
    head q, k, v, out, dout, dq, dk, dv;
    float *lse;
    int64_t lst, T, D;
    float scale;
} att_head;

/* Row r of a score block (query i = i0 + r, keys j < n): exp((s_j - m) - ls) in place for
 * j <= i, 0 past it (the causal mask); returns the sum of the exps. The forward passes the
 * row's max and ls = 0, the backward the saved (max, log-sum) pair, whose sum is then unused.
 * Subtracting m first keeps s_j - m exact near the max even when the scores are huge. */
ATT_CLONES static float exp_row(float *s, int64_t keep, int64_t n, float m, float ls) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < keep; j++) {
        const float e = nb_cpu_expf((s[j] - m) - ls);
        s[j] = e;
        sum += e;
    }
    for (int64_t j = keep; j < n; j++)
        s[j] = 0.0f;
    return sum;
}

/* ds_j = p_j * (ds_j - di) for j < n (p is 0 past the mask, so ds is too). */
ATT_CLONES static void dsoftmax_row(float *ds, const float *p, int64_t n, float di) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        ds[j] = p[j] * (ds[j] - di);
}

/* Forward of one head; scratch holds ATT_QB * T floats (one block of scores). */
static int att_head_fwd(const att_head *a, float *s) {
    const int64_t T = a->T, D = a->D, ld = T;
    int rc = 0;
    for (int64_t i0 = 0; i0 < T; i0 += ATT_QB) {
        const int64_t rb = T - i0 < ATT_QB ? T - i0 : ATT_QB, n = i0 + rb;
        float inv[ATT_QB];
        /* s = scale * q[i0:i0+rb] k[0:n]^T */
        rc |= nb_cpu_sgemm_serial(0, 1, rb, n, D, a->scale, a->q.p + i0 * a->q.st, a->q.st, a->k.p, a->k.st,
                                  0.0f, s, ld);
        for (int64_t r = 0; r < rb; r++) {
            float *sr = s + r * ld;
            const int64_t keep = i0 + r + 1;
            const float m = row_max(sr, keep), sum = exp_row(sr, keep, n, m, 0.0f);
            inv[r] = 1.0f / sum;
            a->lse[(i0 + r) * a->lst] = m;
            a->lse[(i0 + r) * a->lst + 1] = logf(sum);
        }
        /* out[i0:i0+rb] = (exp block) v[0:n], then each row divided by its sum */
        float *o = a->out.p + i0 * a->out.st;
        rc |= nb_cpu_sgemm_serial(0, 0, rb, D, n, 1.0f, s, ld, a->v.p, a->v.st, 0.0f, o, a->out.st);
        for (int64_t r = 0; r < rb; r++) {
            float *orow = o + r * a->out.st;
#pragma omp simd
            for (int64_t d = 0; d < D; d++)
                orow[d] *= inv[r];
        }
    }
    return rc;
}

/* Backward of one head; scratch holds 2 * ATT_QB * T floats (probabilities and their
 * gradient for one block). dq is overwritten; dk and dv are zeroed, then accumulated block by
 * block in a fixed order. */
static int att_head_bwd(const att_head *a, float *p) {
    const int64_t T = a->T, D = a->D, ld = T;
    const float scale = a->scale;
    float *ds = p + ATT_QB * ld;
    int rc = 0;
    for (int64_t j = 0; j < T; j++) {
        memset(a->dk.p + j * a->dk.st, 0, (size_t)D * sizeof(float));
        memset(a->dv.p + j * a->dv.st, 0, (size_t)D * sizeof(float));
    }
    for (int64_t i0 = 0; i0 < T; i0 += ATT_QB) {
        const int64_t rb = T - i0 < ATT_QB ? T - i0 : ATT_QB, n = i0 + rb;
        const float *qb = a->q.p + i0 * a->q.st, *gb = a->dout.p + i0 * a->dout.st;
        /* p = exp((scale * q k^T - m) - ls), recomputed; ds = dout v^T */
        rc |= nb_cpu_sgemm_serial(0, 1, rb, n, D, scale, qb, a->q.st, a->k.p, a->k.st, 0.0f, p, ld);
        rc |= nb_cpu_sgemm_serial(0, 1, rb, n, D, 1.0f, gb, a->dout.st, a->v.p, a->v.st, 0.0f, ds, ld);
        for (int64_t r = 0; r < rb; r++) {
            const int64_t i = i0 + r;
            exp_row(p + r * ld, i + 1, n, a->lse[i * a->lst], a->lse[i * a->lst + 1]);
            const float di = dot(gb + r * a->dout.st, a->out.p + i * a->out.st, D);
            dsoftmax_row(ds + r * ld, p + r * ld, n, di);
        }
        /* dq = scale * ds k; dk += scale * ds^T q; dv += p^T dout */
        rc |= nb_cpu_sgemm_serial(0, 0, rb, D, n, scale, ds, ld, a->k.p, a->k.st, 0.0f,
                                  a->dq.p + i0 * a->dq.st, a->dq.st);
        rc |= nb_cpu_sgemm_serial(1, 0, n, D, rb, scale, ds, ld, qb, a->q.st, 1.0f, a->dk.p, a->dk.st);
        rc |= nb_cpu_sgemm_serial(1, 0, n, D, rb, 1.0f, p, ld, gb, a->dout.st, 1.0f, a->dv.p, a->dv.st);
    }
    return rc;
}

/* 0 when lse is an f32 [B,H,T,2] (the (max, log-sum) pair of each of q's rows) with each pair
 * contiguous, else -1 with the error set. */
static int check_lse(const char *op, const nb_tensor *lse, const nb_tensor *q) {
    if (lse->dtype == NB_F32 && lse->ndim == 4 && lse->shape[3] == 2 && lse->stride[3] == 1 &&
        lse->shape[0] == q->shape[0] && lse->shape[1] == q->shape[1] && lse->shape[2] == q->shape[2])
        return 0;
    char a[96];
    nb_shape_str(lse, a, sizeof a);
    return nb_set_error("%s: lse must be an f32 [B,H,T,2] (max, log-sum per row), got %s", op, a), -1;
}

int nb_cpu_attention(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k,
                     const nb_tensor *v, float scale) {
    const int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    const int64_t BH = B * H;
    if (check_lse("attention", lse, q)) return -1;
    if (BH == 0 || T == 0) return 0;
    int failed = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (BH > 1 && BH * T * T * D > 65536) schedule(static)   \
    reduction(|                                                                                              \
              : failed)
    for (int64_t bh = 0; bh < BH; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *scratch = nb_cpu_scratch(NB_SCRATCH_ATTENTION, (size_t)(ATT_QB * T));
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
        if (att_head_fwd(&a, scratch)) failed = 1;
    }
    if (failed) return nb_set_error("attention: out of memory for scratch or GEMM packing buffers"), -1;
    return 0;
}

/* dq, dk and dv are overwritten. Per head, row i: p_j = exp((s_ij - m_i) - ls_i),
 * D_i = dout_i . out_i, ds_j = p_j (dout_i . v_j - D_i); dq_i = scale sum_j ds_j k_j,
 * dk_j += scale ds_j q_i, dv_j += p_j dout_i. */
int nb_cpu_attention_backward(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout,
                              const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                              const nb_tensor *out, const nb_tensor *lse, float scale) {
    const int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    const int64_t BH = B * H;
    if (check_lse("attention backward", lse, q)) return -1;
    if (BH == 0 || T == 0) return 0;
    int failed = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (BH > 1 && BH * T * T * D > 32768) schedule(static)   \
    reduction(|                                                                                              \
              : failed)
    for (int64_t bh = 0; bh < BH; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *scratch = nb_cpu_scratch(NB_SCRATCH_ATTENTION, (size_t)(2 * ATT_QB * T));
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
        if (att_head_bwd(&a, scratch)) failed = 1;
    }
    if (failed)
        return nb_set_error("attention backward: out of memory for scratch or GEMM packing buffers"), -1;
    return 0;
}
