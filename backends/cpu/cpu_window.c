/* backends/cpu/cpu_window.c - depthwise convolution and max pooling straight over the image,
 * without im2col's copy of every window (which for a 3x3 window is nine times the image, for
 * one multiply-add or compare per element). The weights and windows are walked in a fixed order
 * that the CUDA kernels follow too (backends/cuda/cuda_src_window.c): products rounded before
 * each add, so the forward pass, the input gradient and max pooling agree bit for bit. */
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/cpu_math.h"

/* The per-plane loops compiled for AVX-512, AVX2 and the baseline; the loader picks one for the
 * machine. No FMA in any (products rounded before the add, as the CUDA kernels). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define WIN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WIN_CLONES
#endif

/* x [N,C,H,W] and y [N,O,OH,OW] contiguous f32 with O a multiple of C: 0, or -1 with a message */
static int check(const char *op, const nb_tensor *x, const nb_tensor *y, const nb_im2col_geom *g) {
    if (x->dtype != NB_F32 || y->dtype != NB_F32 || x->ndim != 4 || y->ndim != 4 || !nb_is_contiguous(x) ||
        !nb_is_contiguous(y) || x->shape[0] != g->N || x->shape[1] != g->C || x->shape[2] != g->H ||
        x->shape[3] != g->W || y->shape[0] != g->N || y->shape[2] != g->OH || y->shape[3] != g->OW ||
        g->C < 1 || y->shape[1] % g->C)
        return nb_set_error("%s (cpu): bad operands", op), -1;
    return 0;
}

/* w [O, KH*KW] contiguous f32 */
static int check_w(const char *op, const nb_tensor *w, int64_t O, const nb_im2col_geom *g) {
    if (w->dtype != NB_F32 || w->ndim != 2 || !nb_is_contiguous(w) || w->shape[0] != O ||
        w->shape[1] != g->KH * g->KW)
        return nb_set_error("%s (cpu): bad weight", op), -1;
    return 0;
}

/* Output rows [oh0, oh1) x columns [ow0, ow1) of the plane yp [OH,OW] from its input plane xp
 * and weights wo [KH*KW]: zeroed, then each window position's terms added in turn (those that
 * fall outside x skipped) */
WIN_CLONES static void dwconv_part(float *yp, const float *xp, const float *wo, const nb_im2col_geom *g,
                                   int64_t oh0, int64_t oh1, int64_t ow0, int64_t ow1) {
    for (int64_t oh = oh0; oh < oh1; oh++)
        for (int64_t ow = ow0; ow < ow1; ow++)
            yp[oh * g->OW + ow] = 0.0f;
    for (int64_t k = 0; k < g->KH * g->KW; k++) {
        const int64_t kh = k / g->KW, off = (k % g->KW) * g->dw - g->pw;
        const float wv = wo[k];
        int64_t lo, hi;
        nb_cpu_col_range(g, off, &lo, &hi);
        if (lo < ow0) lo = ow0;
        if (hi > ow1) hi = ow1;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
            if (ih < 0 || ih >= g->H) continue;
            const float *row = xp + ih * g->W;
            float *yr = yp + oh * g->OW;
            if (g->sw == 1)
                for (int64_t ow = lo; ow < hi; ow++)
                    yr[ow] += wv * row[ow + off];
            else if (g->sw == 2)
                for (int64_t ow = lo; ow < hi; ow++)
                    yr[ow] += wv * row[2 * ow + off];
            else
                for (int64_t ow = lo; ow < hi; ow++)
                    yr[ow] += wv * row[ow * g->sw + off];
        }
    }
}

#define DW_LANES 16 /* outputs summed in registers at a time: two vectors of 8 */
#define DW_MAX_K   64 /* windows up to 8x8 take the register path */
#define DW_PAD_MAX (2.0 * 1048576.0) /* floats of dw's padded input planes a thread may keep */
typedef float dw_v8 __attribute__((vector_size(32)));

/* dst [(h + 2 py) x (w + 2 px)] = the plane src [h, w] with py rows and px columns of zeros
 * around it */
static void pad_plane(float *dst, const float *src, int64_t h, int64_t w, int64_t py, int64_t px) {
    const int64_t wp = w + 2 * px;
    for (int64_t r = 0; r < h + 2 * py; r++) {
        float *pr = dst + r * wp;
        if (r < py || r >= py + h) {
            memset(pr, 0, (size_t)wp * sizeof *pr);
            continue;
        }
        for (int64_t i = 0; i < px; i++)
            pr[i] = pr[px + w + i] = 0.0f;
        memcpy(pr + px, src + (r - py) * w, (size_t)w * sizeof *pr);
    }
}

/* out[0, DW_LANES) = sum over j < m, then k < K of w[j K + k] base[j plane + koff[k] + i], i the
 * lane, from +0: two 8-float vectors, products rounded before each add */
static inline void dw_sum_lanes(float *out, const float *base, const int64_t *koff, const float *w, int64_t m,
                                int64_t K, int64_t plane) {
    dw_v8 a0 = {0}, a1 = {0};
    for (int64_t j = 0; j < m; j++)
        for (int64_t k = 0; k < K; k++) {
            const dw_v8 wv = (dw_v8){0} + w[j * K + k];
            const float *p = base + j * plane + koff[k];
            dw_v8 x0, x1;
            memcpy(&x0, p, sizeof x0);
            memcpy(&x1, p + 8, sizeof x1);
            a0 += wv * x0;
            a1 += wv * x1;
        }
    memcpy(out, &a0, sizeof a0);
    memcpy(out + 8, &a1, sizeof a1);
}

/* One output plane yp [OH,OW] from its input plane xp and weights wo [KH*KW]; `padded`: scratch
 * for (H + 2 ph) x (W + 2 pw) floats where the caller found the register path applies (stride 1
 * along the rows, rows of at least DW_LANES outputs, every window inside the padded input), else
 * NULL. With finite weights x is copied into `padded` with zeros around it, and each
 * output sums its whole window in registers, DW_LANES at a time (a row's last block shifted back
 * to end at its last output), in window order from 0. A term in the padding adds w 0 = +-0,
 * which changes no sum that starts from +0 (a sum of floats is -0 only when both are), so these
 * are the same operations as dwconv_part's, which skips those terms, and as the CUDA kernel's
 * (products rounded before each add: no FMA under -ffp-contract=off). Else dwconv_part. */
WIN_CLONES static void dwconv_plane(float *yp, const float *xp, const float *wo, const nb_im2col_geom *g,
                                    float *padded) {
    const int64_t K = g->KH * g->KW;
    bool finite = K <= DW_MAX_K;
    for (int64_t k = 0; k < K && finite; k++)
        finite = isfinite(wo[k]);
    if (!padded || !finite) {
        dwconv_part(yp, xp, wo, g, 0, g->OH, 0, g->OW);
        return;
    }
    const int64_t Wp = g->W + 2 * g->pw;
    pad_plane(padded, xp, g->H, g->W, g->ph, g->pw);
    int64_t koff[DW_MAX_K];
    for (int64_t k = 0; k < K; k++)
        koff[k] = (k / g->KW) * g->dh * Wp + (k % g->KW) * g->dw;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *base = padded + oh * g->sh * Wp; /* + ow + koff[k] */
        float *yr = yp + oh * g->OW;
        for (int64_t b = 0; b < g->OW; b += DW_LANES) {
            const int64_t ow = b + DW_LANES <= g->OW ? b : g->OW - DW_LANES; /* the same values again */
            dw_sum_lanes(yr + ow, base + ow, koff, wo, 1, K, 0);
        }
    }
}

int nb_cpu_dwconv(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_im2col_geom *g) {
    if (check("dwconv", x, y, g) || check_w("dwconv", w, y->shape[1], g)) return -1;
    const int64_t O = y->shape[1], m = O / g->C, K = g->KH * g->KW, L = g->OH * g->OW, HW = g->H * g->W;
    const float *X = (const float *)nb_ptr(x), *Wt = (const float *)nb_ptr(w);
    float *Y = (float *)nb_ptr(y);
    /* the register path: rows of stride 1 and at least DW_LANES outputs, every window inside
     * the padded input (a ceil_mode pooling window may end past it: those take the loops) */
    const bool regs = g->sw == 1 && g->OW >= DW_LANES && K <= DW_MAX_K &&
                      (g->OH - 1) * g->sh + (g->KH - 1) * g->dh < g->H + 2 * g->ph &&
                      g->OW - 1 + (g->KW - 1) * g->dw < g->W + 2 * g->pw;
    const size_t padded = (size_t)((g->H + 2 * g->ph) * (g->W + 2 * g->pw));
#pragma omp parallel for num_threads(nb_nthreads()) if (g->N * O * L * K > 32768) schedule(static)
    for (int64_t p = 0; p < g->N * O; p++) /* one output plane (NULL scratch: the plain loops) */
        dwconv_plane(Y + p * L, X + ((p / O) * g->C + (p % O) / m) * HW, Wt + (p % O) * K, g,
                     regs ? nb_cpu_scratch(NB_SCRATCH_WINDOW, padded) : NULL);
    return 0;
}

/* dx: one input plane dxp [H,W] from its m output planes dyp [m, OH, OW] and their weights
 * wo [m, KH*KW], window positions in order */
WIN_CLONES static void dwconv_dx_plane(float *dxp, const float *dyp, const float *wo, int64_t m,
                                       const nb_im2col_geom *g) {
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW;
    memset(dxp, 0, (size_t)(g->H * g->W) * sizeof *dxp);
    for (int64_t j = 0; j < m; j++)
        for (int64_t k = 0; k < K; k++) { /* each pixel gets at most one term per (j, k) */
            const int64_t kh = k / g->KW, off = (k % g->KW) * g->dw - g->pw;
            const float wv = wo[j * K + k];
            int64_t lo, hi;
            nb_cpu_col_range(g, off, &lo, &hi);
            for (int64_t oh = 0; oh < g->OH; oh++) {
                const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                float *row = dxp + ih * g->W;
                const float *dyr = dyp + j * L + oh * g->OW;
                if (g->sw == 1)
                    for (int64_t ow = lo; ow < hi; ow++)
                        row[ow + off] += wv * dyr[ow];
                else
                    for (int64_t ow = lo; ow < hi; ow++)
                        row[ow * g->sw + off] += wv * dyr[ow];
            }
        }
}

/* dx as a gather, for strides 1 and 1: each pixel's terms w[j][k] dy[j][ih + ph - kh dh][iw +
 * pw - kw dw] over j then k, read from zero-padded copies of its m output planes (`padded`: m
 * (OH + 2 (KH-1) dh) (OW + 2 (KW-1) dw) floats) and summed in registers, DW_LANES pixels at a time
 * (a row's last block shifted back). With finite weights these are dwconv_dx_plane's operations:
 * a padded term adds w 0 = +-0 to a sum that started from +0. */
WIN_CLONES static void dwconv_dx_gather(float *dxp, const float *dyp, const float *wo, int64_t m,
                                        const nb_im2col_geom *g, float *padded) {
    const int64_t K = g->KH * g->KW, PH = (g->KH - 1) * g->dh, PW = (g->KW - 1) * g->dw;
    const int64_t Hq = g->OH + 2 * PH, Wq = g->OW + 2 * PW, plane = Hq * Wq;
    for (int64_t j = 0; j < m; j++)
        pad_plane(padded + j * plane, dyp + j * g->OH * g->OW, g->OH, g->OW, PH, PW);
    int64_t koff[DW_MAX_K]; /* from (ih + ph + PH, iw + pw + PW) */
    for (int64_t k = 0; k < K; k++)
        koff[k] = -(k / g->KW) * g->dh * Wq - (k % g->KW) * g->dw;
    for (int64_t ih = 0; ih < g->H; ih++) {
        const float *base = padded + (ih + g->ph + PH) * Wq + g->pw + PW; /* + iw + koff[k] + j plane */
        float *xr = dxp + ih * g->W;
        for (int64_t b = 0; b < g->W; b += DW_LANES) {
            const int64_t iw = b + DW_LANES <= g->W ? b : g->W - DW_LANES; /* the same values again */
            dw_sum_lanes(xr + iw, base + iw, koff, wo, m, K, plane);
        }
    }
}

static void dwconv_dx(float *DX, const float *DY, const float *Wt, const nb_im2col_geom *g, int64_t O) {
    const int64_t m = O / g->C, K = g->KH * g->KW, L = g->OH * g->OW, HW = g->H * g->W;
    bool gather = g->sh == 1 && g->sw == 1 && g->W >= DW_LANES && K <= DW_MAX_K;
    for (int64_t i = 0; i < O * K && gather; i++)
        gather = isfinite(Wt[i]);
    const size_t padded =
        gather ? (size_t)(m * (g->OH + 2 * (g->KH - 1) * g->dh) * (g->OW + 2 * (g->KW - 1) * g->dw)) : 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (g->N * O * L * K > 32768) schedule(static)
    for (int64_t p = 0; p < g->N * g->C; p++) { /* output channels c m .. c m + m - 1 read channel c */
        const int64_t n = p / g->C, c = p % g->C;
        float *scratch = gather ? nb_cpu_scratch(NB_SCRATCH_WINDOW, padded) : NULL;
        if (scratch)
            dwconv_dx_gather(DX + p * HW, DY + (n * O + c * m) * L, Wt + c * m * K, m, g, scratch);
        else
            dwconv_dx_plane(DX + p * HW, DY + (n * O + c * m) * L, Wt + c * m * K, m, g);
    }
}

/* the gradient of one output channel's weights dwo [KH*KW]: per weight and window column a float
 * running sum over (n, oh) in acc [KH*KW, OW], then each weight's row summed in double. dy0 and
 * x0 are the first image's planes of the output channel and its input channel; images are dys
 * and xs apart. Every weight's sum runs in the same order whatever the thread count. */
WIN_CLONES static void dwconv_dw_channel(float *dwo, float *acc, const float *dy0, const float *x0,
                                         int64_t dys, int64_t xs, const nb_im2col_geom *g) {
    const int64_t K = g->KH * g->KW;
    memset(acc, 0, (size_t)(K * g->OW) * sizeof *acc);
    for (int64_t n = 0; n < g->N; n++) {
        const float *xp = x0 + n * xs, *dyp = dy0 + n * dys;
        for (int64_t k = 0; k < K; k++) { /* the image's two planes stay in cache across k */
            const int64_t kh = k / g->KW, off = (k % g->KW) * g->dw - g->pw;
            float *ak = acc + k * g->OW;
            int64_t lo, hi;
            nb_cpu_col_range(g, off, &lo, &hi);
            for (int64_t oh = 0; oh < g->OH; oh++) {
                const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                const float *row = xp + ih * g->W, *dyr = dyp + oh * g->OW;
                if (g->sw == 1)
                    for (int64_t ow = lo; ow < hi; ow++)
                        ak[ow] += dyr[ow] * row[ow + off];
                else
                    for (int64_t ow = lo; ow < hi; ow++)
                        ak[ow] += dyr[ow] * row[ow * g->sw + off];
            }
        }
    }
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t ow = 0; ow < g->OW; ow++) /* columns never reached hold 0 */
            s += acc[k * g->OW + ow];
        dwo[k] = (float)s;
    }
}

/* dwconv_dw_channel's acc [KH*KW, OW] with stride 1 along the rows (OW >= DW_LANES, finite dy):
 * the N input planes copied with zeros around them into `padded` (N (H + 2 ph) (W + 2 pw)
 * floats), then for each weight and block of DW_LANES window columns the running sums over (n,
 * oh) kept in registers (a row's last block shifted back). A column or row of the window that
 * falls in the padding adds dy 0 = +-0, which changes no sum that started from +0: the same
 * operations, in the same order, as dwconv_dw_channel's. */
WIN_CLONES static void dwconv_dw_acc(float *acc, float *padded, const float *dy0, const float *x0,
                                     int64_t dys, int64_t xs, const nb_im2col_geom *g) {
    const int64_t K = g->KH * g->KW, Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph, plane = Hp * Wp;
    for (int64_t n = 0; n < g->N; n++)
        pad_plane(padded + n * plane, x0 + n * xs, g->H, g->W, g->ph, g->pw);
    for (int64_t k = 0; k < K; k++) {
        const int64_t kh = k / g->KW, kw = k % g->KW;
        int64_t oh0 = 0, oh1 = g->OH; /* the rows whose input row is inside x: the others are skipped */
        while (oh0 < oh1 && oh0 * g->sh - g->ph + kh * g->dh < 0)
            oh0++;
        while (oh1 > oh0 && (oh1 - 1) * g->sh - g->ph + kh * g->dh >= g->H)
            oh1--;
        for (int64_t b = 0; b < g->OW; b += DW_LANES) {
            const int64_t ow = b + DW_LANES <= g->OW ? b : g->OW - DW_LANES; /* the same values again */
            dw_v8 a0 = {0}, a1 = {0};
            for (int64_t n = 0; n < g->N; n++)
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    const float *dyr = dy0 + n * dys + oh * g->OW + ow;
                    const float *xr = padded + n * plane + (oh * g->sh + kh * g->dh) * Wp + kw * g->dw + ow;
                    dw_v8 d0, d1, v0, v1;
                    memcpy(&d0, dyr, sizeof d0);
                    memcpy(&d1, dyr + 8, sizeof d1);
                    memcpy(&v0, xr, sizeof v0);
                    memcpy(&v1, xr + 8, sizeof v1);
                    a0 += d0 * v0;
                    a1 += d1 * v1;
                }
            memcpy(acc + k * g->OW + ow, &a0, sizeof a0);
            memcpy(acc + k * g->OW + ow + 8, &a1, sizeof a1);
        }
    }
}

/* dw: one output channel per task; 0, or -1 when out of memory for the scratch rows */
static int dwconv_dw(float *DW, const float *DY, const float *X, const nb_im2col_geom *g, int64_t O) {
    const int64_t m = O / g->C, K = g->KH * g->KW, L = g->OH * g->OW, HW = g->H * g->W;
    int oom = 0;
#pragma omp parallel for num_threads(nb_nthreads()) if (g->N * O * L * K > 32768) schedule(static)
    for (int64_t o = 0; o < O; o++) {
        float *acc = nb_cpu_scratch(NB_SCRATCH_WINDOW, (size_t)(K * g->OW));
        if (!acc) {
#pragma omp atomic write
            oom = 1;
            continue;
        }
        /* N padded planes, at most DW_PAD_MAX floats a thread */
        bool fast = g->sw == 1 && g->OW >= DW_LANES &&
                    (double)g->N * (double)((g->H + 2 * g->ph) * (g->W + 2 * g->pw)) <= DW_PAD_MAX;
        for (int64_t n = 0; n < g->N && fast; n++) /* a padded term must add +-0: dy finite */
            for (int64_t l = 0; l < L && fast; l++)
                fast = isfinite(DY[(n * O + o) * L + l]);
        float *padded =
            fast ? nb_cpu_scratch(NB_SCRATCH_DW_PAD, (size_t)(g->N * (g->H + 2 * g->ph) * (g->W + 2 * g->pw)))
                 : NULL;
        if (padded) {
            dwconv_dw_acc(acc, padded, DY + o * L, X + (o / m) * HW, O * L, g->C * HW, g);
            for (int64_t k = 0; k < K; k++) { /* as dwconv_dw_channel's end */
                double s = 0;
                for (int64_t ow = 0; ow < g->OW; ow++)
                    s += acc[k * g->OW + ow];
                DW[o * K + k] = (float)s;
            }
        } else
            dwconv_dw_channel(DW + o * K, acc, DY + o * L, X + (o / m) * HW, O * L, g->C * HW, g);
    }
    return oom ? nb_set_error("dwconv_backward (cpu): out of memory for %lld scratch floats",
                              (long long)(K * g->OW)),
           -1  : 0;
}

int nb_cpu_dwconv_backward(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                           const nb_tensor *w, const nb_im2col_geom *g) {
    if (check("dwconv_backward", x, dy, g) || (dx && check("dwconv_backward", dx, dy, g)) ||
        check_w("dwconv_backward", w, dy->shape[1], g) ||
        (dw && check_w("dwconv_backward", dw, dy->shape[1], g)))
        return -1;
    const int64_t O = dy->shape[1];
    const float *DY = (const float *)nb_ptr(dy);
    if (dx) dwconv_dx((float *)nb_ptr(dx), DY, (const float *)nb_ptr(w), g, O);
    return dw ? dwconv_dw((float *)nb_ptr(dw), DY, (const float *)nb_ptr(x), g, O) : 0;
}

/* one plane: a row of outputs at a time, the window positions in order, each one a pass of
 * compare-and-select over the outputs that read it (branch-free: vectorised) */
WIN_CLONES static void max_pool_plane(float *yp, int32_t *ip, const float *xp, const nb_im2col_geom *g) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *yr = yp + oh * g->OW;
        int32_t *ir = ip + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow++)
            yr[ow] = -INFINITY, ir[ow] = -1;
        for (int64_t k = 0; k < g->KH * g->KW; k++) {
            const int64_t ih = oh * g->sh - g->ph + (k / g->KW) * g->dh, off = (k % g->KW) * g->dw - g->pw;
            if (ih < 0 || ih >= g->H) continue;
            int64_t lo, hi;
            nb_cpu_col_range(g, off, &lo, &hi);
            const float *row = xp + ih * g->W;
            const int32_t base = (int32_t)(ih * g->W + off);
            if (g->sw == 2)
                for (int64_t ow = lo; ow < hi; ow++) {
                    const float v = row[2 * ow + off], b = yr[ow];
                    const bool take = ir[ow] < 0 || v > b || (v != v && b == b);
                    yr[ow] = take ? v : b;
                    ir[ow] = take ? base + 2 * (int32_t)ow : ir[ow];
                }
            else
                for (int64_t ow = lo; ow < hi; ow++) {
                    const float v = row[ow * g->sw + off], b = yr[ow];
                    const bool take = ir[ow] < 0 || v > b || (v != v && b == b);
                    yr[ow] = take ? v : b;
                    ir[ow] = take ? base + (int32_t)(ow * g->sw) : ir[ow];
                }
        }
    }
}

int nb_cpu_max_pool(nb_tensor *y, nb_tensor *idx, const nb_tensor *x, const nb_im2col_geom *g) {
    if (check("max_pool", x, y, g) || y->shape[1] != g->C || idx->dtype != NB_I32 || !nb_same_shape(idx, y) ||
        !nb_is_contiguous(idx))
        return nb_set_error("max_pool (cpu): bad operands"), -1;
    const int64_t L = g->OH * g->OW, HW = g->H * g->W;
    const float *X = (const float *)nb_ptr(x);
    float *Y = (float *)nb_ptr(y);
    int32_t *I = (int32_t *)nb_ptr(idx);
#pragma omp parallel for num_threads(nb_nthreads()) if (g->N * g->C * L * g->KH * g->KW > 32768)             \
    schedule(static)
    for (int64_t p = 0; p < g->N * g->C; p++)
        max_pool_plane(Y + p * L, I + p * L, X + p * HW, g);
    return 0;
}

int nb_cpu_max_pool_backward(nb_tensor *dx, const nb_tensor *dy, const nb_tensor *idx,
                             const nb_im2col_geom *g) {
    if (check("max_pool_backward", dx, dy, g) || dy->shape[1] != g->C || idx->dtype != NB_I32 ||
        !nb_same_shape(idx, dy) || !nb_is_contiguous(idx))
        return nb_set_error("max_pool_backward (cpu): bad operands"), -1;
    const int64_t L = g->OH * g->OW, HW = g->H * g->W;
    const float *DY = (const float *)nb_ptr(dy);
    const int32_t *I = (const int32_t *)nb_ptr(idx);
    float *DX = (float *)nb_ptr(dx);
#pragma omp parallel for num_threads(nb_nthreads()) if (g->N * g->C * (L + HW) > 32768) schedule(static)
    for (int64_t p = 0; p < g->N * g->C; p++) {
        float *d = DX + p * HW;
        const float *gy = DY + p * L;
        const int32_t *ip = I + p * L;
        memset(d, 0, (size_t)HW * sizeof *d);
        for (int64_t l = 0; l < L; l++)
            if (ip[l] >= 0 && ip[l] < HW) d[ip[l]] += gy[l];
    }
    return 0;
}
