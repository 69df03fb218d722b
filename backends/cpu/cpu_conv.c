/* backends/cpu/cpu_conv.c - im2col and col2im: the data movement of convolution and pooling
 * (ops/conv.c), so that the arithmetic is one GEMM. im2col writes each row of windows (one
 * channel, one window position) with its padding; col2im gives each (image, channel) plane to
 * one thread, which adds the windows' contributions in a fixed order: deterministic, and in the
 * same order as the CUDA kernel's per-pixel sum. */
#include <string.h>

#include "backends/cpu/cpu.h"

static int check(const char *op, const nb_tensor *img, const nb_tensor *cols, const nb_im2col_geom *g) {
    if (img->dtype != NB_F32 || cols->dtype != NB_F32 || img->ndim != 4 || cols->ndim != 4 ||
        img->shape[0] != g->N || img->shape[1] != g->C || img->shape[2] != g->H || img->shape[3] != g->W ||
        cols->shape[2] != g->KH * g->KW || cols->shape[3] != g->OH * g->OW || !nb_is_contiguous(cols))
        return nb_set_error("%s (cpu): bad operands", op), -1;
    return 0;
}

int nb_cpu_im2col(nb_tensor *cols, const nb_tensor *x, const nb_im2col_geom *g) {
    if (check("im2col", x, cols, g)) return -1;
    const float *X = (const float *)nb_ptr(x);
    float *O = (float *)nb_ptr(cols);
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, rows = g->N * g->C * K;
    const int64_t *xs = x->stride;
    const float pad = g->pad;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * L > 32768) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t k = r % K, c = (r / K) % g->C, n = r / K / g->C, kh = k / g->KW, kw = k % g->KW;
        const float *xp = X + n * xs[0] + c * xs[1];
        float *o = O + r * L;
        const int64_t off = kw * g->dw - g->pw;
        int64_t lo, hi;
        nb_cpu_col_range(g, off, &lo, &hi);
        for (int64_t oh = 0; oh < g->OH; oh++, o += g->OW) {
            const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
            if (ih < 0 || ih >= g->H) {
                for (int64_t ow = 0; ow < g->OW; ow++)
                    o[ow] = pad;
                continue;
            }
            const float *row = xp + ih * xs[2];
            for (int64_t ow = 0; ow < lo; ow++)
                o[ow] = pad;
            if (g->sw == 1 && xs[3] == 1)
                memcpy(o + lo, row + lo + off, (size_t)(hi - lo) * sizeof *o);
            else if (g->sw == 2 && xs[3] == 1) /* a constant stride: vectorised with shuffles */
                for (int64_t ow = lo; ow < hi; ow++)
                    o[ow] = row[2 * ow + off];
            else
                for (int64_t ow = lo; ow < hi; ow++)
                    o[ow] = row[(ow * g->sw + off) * xs[3]];
            for (int64_t ow = hi; ow < g->OW; ow++)
                o[ow] = pad;
        }
    }
    return 0;
}

int nb_cpu_col2im(nb_tensor *dx, const nb_tensor *dcols, const nb_im2col_geom *g) {
    if (check("col2im", dx, dcols, g) || !nb_is_contiguous(dx))
        return nb_set_error("col2im (cpu): bad operands"), -1;
    const float *D = (const float *)nb_ptr(dcols);
    float *X = (float *)nb_ptr(dx);
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, planes = g->N * g->C, HW = g->H * g->W;
#pragma omp parallel for num_threads(nb_nthreads()) if (planes * K * L > 32768) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        float *d = X + p * HW;
        memset(d, 0, (size_t)HW * sizeof *d);
        for (int64_t k = 0; k < K; k++) { /* window order: each pixel gets at most one entry per k */
            const int64_t kh = k / g->KW, kw = k % g->KW, off = kw * g->dw - g->pw;
            const float *src = D + (p * K + k) * L;
            int64_t lo, hi;
            nb_cpu_col_range(g, off, &lo, &hi);
            for (int64_t oh = 0; oh < g->OH; oh++) {
                const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                float *row = d + ih * g->W;
                const float *s = src + oh * g->OW;
                if (g->sw == 1) /* a straight run: vectorised */
                    for (int64_t ow = lo; ow < hi; ow++)
                        row[ow + off] += s[ow];
                else
                    for (int64_t ow = lo; ow < hi; ow++)
                        row[ow * g->sw + off] += s[ow];
            }
        }
    }
    return 0;
}
