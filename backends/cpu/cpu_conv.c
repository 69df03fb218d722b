/* backends/cpu/cpu_conv.c - im2col and col2im: the data movement of convolution and pooling
 * (ops/conv.c), so that the arithmetic is one GEMM. im2col writes each row of windows (one
 * channel, one window position) with its padding; col2im gives each (image, channel) plane to
 * one thread, which adds the windows' contributions in a fixed order: deterministic, and in the
 * same order as the CUDA kernel's per-pixel sum. The dense convolution's forward and backward
 * (nb_cpu_conv2d*) run the same im2col, GEMM and col2im a block of output rows (or of input
 * channels) of one image at a time, in per-thread buffers that stay in cache instead of one
 * column tensor for the batch. */
#include <omp.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/cpu_math.h"
#include "backends/cpu/gemm.h"

static int check(const char *op, const nb_tensor *img, const nb_tensor *cols, const nb_im2col_geom *g) {
    if (img->dtype != NB_F32 || cols->dtype != NB_F32 || img->ndim != 4 || cols->ndim != 4 ||
        img->shape[0] != g->N || img->shape[1] != g->C || img->shape[2] != g->H || img->shape[3] != g->W ||
        cols->shape[2] != g->KH * g->KW || cols->shape[3] != g->OH * g->OW || !nb_is_contiguous(cols))
        return nb_set_error("%s (cpu): bad operands", op), -1;
    return 0;
}

/* The copy loops compiled for AVX-512, AVX2 and the baseline (the loader picks one). A row of a
 * small image is a few dozen floats: inline vector moves, not a call to memcpy per row. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES) && defined(__clang__)
#define CONV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define CONV_CLONES                                                                                          \
    __attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-tree-loop-distribute-"          \
                                                                         "patterns")))
#else
#define CONV_CLONES
#endif

/* Row (c, k) of image n's columns, output rows [oh0, oh1): o[0, (oh1 - oh0) OW) */
CONV_CLONES static void im2col_row(float *o, const float *X, const int64_t *xs, const nb_im2col_geom *g,
                                   int64_t n, int64_t c, int64_t k, int64_t oh0, int64_t oh1) {
    const int64_t kh = k / g->KW, kw = k % g->KW;
    const float *xp = X + n * xs[0] + c * xs[1];
    const int64_t off = kw * g->dw - g->pw;
    const float pad = g->pad;
    int64_t lo, hi;
    nb_cpu_col_range(g, off, &lo, &hi);
    if (g->sh == 1 && g->sw == 1 && g->OW == g->W && xs[3] == 1 && xs[2] == g->W) {
        /* 'same'-shaped rows: output rows [a, b), whose input rows are inside the image, read
         * one contiguous run of the plane, shifted by off; one long copy, then the entries that
         * fall in the left and right padding set to pad. The other rows are all padding. */
        const int64_t top = g->ph - kh * g->dh; /* the first output row whose input row is 0 */
        int64_t a = top > oh0 ? top : oh0, b = top + g->H < oh1 ? top + g->H : oh1;
        if (a > oh1) a = oh1; /* the block wholly above the image (or below it, next line) */
        if (b < a) b = a;
        for (int64_t i = 0; i < (a - oh0) * g->OW; i++)
            o[i] = pad;
        float *run = o + (a - oh0) * g->OW;
        const int64_t len = (b - a) * g->W, p0 = off < 0 ? -off : 0, p1 = off > 0 ? len - off : len;
        if (a < b) {
            const float *src = xp + (a - top) * g->W + off;
            for (int64_t i = p0; i < p1; i++) /* never outside rows a - top .. b - 1 - top of the plane */
                run[i] = src[i];
        }
        for (int64_t r = 0; r < b - a; r++) {
            for (int64_t ow = 0; ow < lo; ow++)
                run[r * g->OW + ow] = pad;
            for (int64_t ow = hi; ow < g->OW; ow++)
                run[r * g->OW + ow] = pad;
        }
        for (int64_t i = (b - oh0) * g->OW; i < (oh1 - oh0) * g->OW; i++)
            o[i] = pad;
        return;
    }
    for (int64_t oh = oh0; oh < oh1; oh++, o += g->OW) {
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
            for (int64_t ow = lo; ow < hi; ow++)
                o[ow] = row[ow + off];
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

int nb_cpu_im2col(nb_tensor *cols, const nb_tensor *x, const nb_im2col_geom *g) {
    if (check("im2col", x, cols, g)) return -1;
    const float *X = (const float *)nb_ptr(x);
    float *O = (float *)nb_ptr(cols);
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, rows = g->N * g->C * K;
#pragma omp parallel for num_threads(nb_nthreads()) if (rows * L > 32768) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        im2col_row(O + r * L, X, x->stride, g, r / K / g->C, (r / K) % g->C, r % K, 0, g->OH);
    return 0;
}

/* One (image, channel) plane d [H, W] (overwritten) from its K rows of columns at src */
CONV_CLONES static void col2im_plane(float *restrict d, const float *restrict src, const nb_im2col_geom *g) {
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW;
    memset(d, 0, (size_t)(g->H * g->W) * sizeof *d);
    for (int64_t k = 0; k < K; k++, src += L) { /* window order: each pixel gets at most one entry per k */
        const int64_t kh = k / g->KW, kw = k % g->KW, off = kw * g->dw - g->pw;
        int64_t lo, hi;
        nb_cpu_col_range(g, off, &lo, &hi);
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
            if (ih < 0 || ih >= g->H) continue;
            float *restrict row = d + ih * g->W;
            const float *restrict s = src + oh * g->OW;
            if (g->sw == 1) /* a straight run: vectorised */
                for (int64_t ow = lo; ow < hi; ow++)
                    row[ow + off] += s[ow];
            else if (g->sw == 2) /* a constant stride: vectorised with shuffles */
                for (int64_t ow = lo; ow < hi; ow++)
                    row[2 * ow + off] += s[ow];
            else
                for (int64_t ow = lo; ow < hi; ow++)
                    row[ow * g->sw + off] += s[ow];
        }
    }
}

int nb_cpu_col2im(nb_tensor *dx, const nb_tensor *dcols, const nb_im2col_geom *g) {
    if (check("col2im", dx, dcols, g) || !nb_is_contiguous(dx))
        return nb_set_error("col2im (cpu): bad operands"), -1;
    const float *D = (const float *)nb_ptr(dcols);
    float *X = (float *)nb_ptr(dx);
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, planes = g->N * g->C, HW = g->H * g->W;
#pragma omp parallel for num_threads(nb_nthreads()) if (planes * K * L > 32768) schedule(static)
    for (int64_t p = 0; p < planes; p++)
        col2im_plane(X + p * HW, D + p * K * L, g);
    return 0;
}

/* ---- dense convolution, image by image ------------------------------------------------------ */

/* Bytes of columns one task keeps (a block of output rows of one image): one core's L2 on the
 * machine measured (1 MB; 512 KB blocks, smaller GEMMs, were slower there, whole images no
 * faster). */
#define CONV_BLOCK_BYTES (1024 * 1024)

/* The operands of nb_cpu_conv2d / its backward; 0 or -1 with an error naming op. */
static int conv_check(const char *op, const nb_tensor *x, const nb_tensor *w, const nb_tensor *y,
                      const nb_im2col_geom *g, int64_t G) {
    const int64_t K = g->KH * g->KW;
    if (x->dtype != NB_F32 || w->dtype != NB_F32 || y->dtype != NB_F32 || x->ndim != 4 || w->ndim != 2 ||
        y->ndim != 4 || G < 1 || g->C % G || x->shape[0] != g->N || x->shape[1] != g->C ||
        x->shape[2] != g->H || x->shape[3] != g->W || w->shape[0] % G || w->shape[1] != g->C / G * K ||
        y->shape[0] != g->N || y->shape[1] != w->shape[0] || y->shape[2] != g->OH || y->shape[3] != g->OW ||
        !nb_is_contiguous(w) || !nb_is_contiguous(y))
        return nb_set_error("%s (cpu): bad operands", op), -1;
    return 0;
}

/* Output rows per block: the columns of a block fit CONV_BLOCK_BYTES (at least one row); the
 * rows are split evenly. Depends on the shape only, so the dw sums are the same for any number
 * of threads. */
static int64_t conv_rows_per_block(const nb_im2col_geom *g) {
    const int64_t CK = g->C * g->KH * g->KW, row = CK * g->OW * (int64_t)sizeof(float);
    int64_t rows = CONV_BLOCK_BYTES / (row > 0 ? row : 1);
    if (rows < 1) rows = 1;
    if (rows >= g->OH) return g->OH;
    const int64_t blocks = (g->OH + rows - 1) / rows;
    return (g->OH + blocks - 1) / blocks;
}

/* One forward task: the columns of output rows [oh0, oh1) of image n into `cols`, then the G
 * products. `team`: the GEMMs split between the threads (a caller outside any parallel region
 * with fewer tasks than threads), else each on the calling thread. Either way each output is
 * summed over the same K blocks in the same order as one GEMM over all the columns would, so the
 * result is the composed im2col + matmul's, bit for bit. */
static void conv_task(float *Y, const float *X, const int64_t *xs, const float *Wt, const float *B,
                      float *cols, const nb_im2col_geom *g, int64_t G, int64_t O, int64_t n, int64_t oh0,
                      int64_t oh1, bool team) {
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, CK = g->C * K, CgK = CK / G, Og = O / G;
    const int64_t lb = (oh1 - oh0) * g->OW;
#pragma omp parallel for num_threads(nb_nthreads()) if (team && CK * lb > 32768) schedule(static)
    for (int64_t r = 0; r < CK; r++)
        im2col_row(cols + r * lb, X, xs, g, n, r / K, r % K, oh0, oh1);
    for (int64_t gi = 0; gi < G; gi++) { /* a failed packing buffer still computes C (unblocked) */
        const float *a = Wt + gi * Og * CgK, *b = cols + gi * CgK * lb;
        float *c = Y + (n * O + gi * Og) * L + oh0 * g->OW;
        if (team)
            nb_cpu_sgemm(0, 0, Og, lb, CgK, 1.0f, a, CgK, b, lb, 0.0f, c, L);
        else
            (void)nb_cpu_sgemm_serial(0, 0, Og, lb, CgK, 1.0f, a, CgK, b, lb, 0.0f, c, L);
    }
    for (int64_t o = 0; B && o < O; o++) { /* the bias, while the block is in cache */
        float *c = Y + (n * O + o) * L + oh0 * g->OW;
        for (int64_t j = 0; j < lb; j++)
            c[j] += B[o];
    }
}

int nb_cpu_conv2d(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_tensor *b,
                  const nb_im2col_geom *g, int64_t G) {
    if (conv_check("conv2d", x, w, y, g, G)) return -1;
    if (b && (b->dtype != NB_F32 || nb_numel(b) != w->shape[0] || !nb_is_contiguous(b)))
        return nb_set_error("conv2d (cpu): bad bias"), -1;
    const float *X = (const float *)nb_ptr(x), *Wt = (const float *)nb_ptr(w);
    const float *B = b ? (const float *)nb_ptr(b) : NULL;
    float *Y = (float *)nb_ptr(y);
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, CK = g->C * K, O = w->shape[0];
    const int64_t rb = conv_rows_per_block(g), nblk = (g->OH + rb - 1) / rb, tasks = g->N * nblk;
    if (CK == 0) { /* no input channels: a sum of nothing, plus the bias */
        for (int64_t i = 0; i < g->N * O * L; i++)
            Y[i] = B ? 0.0f + B[i / L % O] : 0.0f;
        return 0;
    }
    const int nt = nb_nthreads();
    int oom = 0;
    if (tasks >= nt) { /* a task per thread at a time */
#pragma omp parallel for num_threads(nt) if (tasks > 1) schedule(static) reduction(| : oom)
        for (int64_t t = 0; t < tasks; t++) {
            const int64_t oh0 = t % nblk * rb, oh1 = oh0 + rb < g->OH ? oh0 + rb : g->OH;
            float *cols = nb_cpu_scratch(NB_SCRATCH_CONV, (size_t)(CK * (oh1 - oh0) * g->OW));
            if (cols) conv_task(Y, X, x->stride, Wt, B, cols, g, G, O, t / nblk, oh0, oh1, false);
            oom |= !cols;
        }
    } else { /* fewer tasks than threads (one small image): each task's copy and GEMMs split */
        float *cols = nb_cpu_scratch(NB_SCRATCH_CONV, (size_t)(CK * rb * g->OW));
        oom = !cols;
        for (int64_t t = 0; t < tasks && cols; t++) {
            const int64_t oh0 = t % nblk * rb, oh1 = oh0 + rb < g->OH ? oh0 + rb : g->OH;
            conv_task(Y, X, x->stride, Wt, B, cols, g, G, O, t / nblk, oh0, oh1, true);
        }
    }
    return oom ? nb_set_error("conv2d (cpu): out of memory for a block of %lld x %lld columns", (long long)CK,
                              (long long)(rb * g->OW)),
           -1  : 0;
}

/* Input channels per dx task: their columns' gradient fits CONV_BLOCK_BYTES (at least one
 * channel, at most a group's). */
static int64_t conv_channels_per_block(const nb_im2col_geom *g, int64_t Cg) {
    const int64_t plane = g->KH * g->KW * g->OH * g->OW * (int64_t)sizeof(float);
    int64_t cb = CONV_BLOCK_BYTES / (plane > 0 ? plane : 1);
    if (cb < 1) cb = 1;
    if (cb >= Cg) return Cg;
    const int64_t blocks = (Cg + cb - 1) / cb;
    return (Cg + blocks - 1) / blocks;
}

/* One dx task: image n, input channels [c0, c1) of group gi: their columns' gradient w^T dy (as
 * the composed matmul's backward computes those rows) into `dcols`, then col2im of each of their
 * planes in its order; `team` as conv_task's. Bit for bit the composition's. */
static void conv_dx_task(float *DX, const float *DY, const float *Wt, float *dcols, const nb_im2col_geom *g,
                         int64_t G, int64_t O, int64_t n, int64_t gi, int64_t c0, int64_t c1, bool team) {
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, CgK = g->C / G * K, Og = O / G, HW = g->H * g->W;
    const int64_t rows = (c1 - c0) * K;
    const float *a = Wt + gi * Og * CgK + (c0 - gi * (g->C / G)) * K, *b = DY + (n * O + gi * Og) * L;
    if (team)
        nb_cpu_sgemm(1, 0, rows, L, Og, 1.0f, a, CgK, b, L, 0.0f, dcols, L);
    else
        (void)nb_cpu_sgemm_serial(1, 0, rows, L, Og, 1.0f, a, CgK, b, L, 0.0f, dcols, L);
#pragma omp parallel for num_threads(nb_nthreads()) if (team && rows * L > 32768) schedule(static)
    for (int64_t c = c0; c < c1; c++)
        col2im_plane(DX + (n * g->C + c) * HW, dcols + (c - c0) * K * L, g);
}

/* dx [N,C,H,W] (contiguous, overwritten): tasks of one image and a block of input channels, so
 * the columns' gradient is never more than a block (about 1 MB, or one channel's) per thread. */
static int conv_dx(float *DX, const float *DY, const float *Wt, const nb_im2col_geom *g, int64_t G,
                   int64_t O) {
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, CK = g->C * K, Cg = g->C / G, HW = g->H * g->W;
    if (CK == 0 || O == 0) { /* no pixels, or none that any output read */
        memset(DX, 0, (size_t)(g->N * g->C * HW) * sizeof *DX);
        return 0;
    }
    const int64_t cb = conv_channels_per_block(g, Cg), per_group = (Cg + cb - 1) / cb;
    const int64_t tasks = g->N * G * per_group;
    const int nt = nb_nthreads();
    int oom = 0;
    if (tasks >= nt) {
#pragma omp parallel for num_threads(nt) if (tasks > 1) schedule(static) reduction(| : oom)
        for (int64_t t = 0; t < tasks; t++) {
            const int64_t n = t / (G * per_group), gi = t / per_group % G, c0 = gi * Cg + t % per_group * cb;
            const int64_t c1 = c0 + cb < (gi + 1) * Cg ? c0 + cb : (gi + 1) * Cg;
            float *dcols = nb_cpu_scratch(NB_SCRATCH_CONV, (size_t)((c1 - c0) * K * L));
            if (dcols) conv_dx_task(DX, DY, Wt, dcols, g, G, O, n, gi, c0, c1, false);
            oom |= !dcols;
        }
    } else {
        float *dcols = nb_cpu_scratch(NB_SCRATCH_CONV, (size_t)(cb * K * L));
        oom = !dcols;
        for (int64_t t = 0; t < tasks && dcols; t++) {
            const int64_t n = t / (G * per_group), gi = t / per_group % G, c0 = gi * Cg + t % per_group * cb;
            const int64_t c1 = c0 + cb < (gi + 1) * Cg ? c0 + cb : (gi + 1) * Cg;
            conv_dx_task(DX, DY, Wt, dcols, g, G, O, n, gi, c0, c1, true);
        }
    }
    return oom ? nb_set_error("conv2d backward (cpu): out of memory for %lld x %lld columns",
                              (long long)(cb * K), (long long)L),
           -1  : 0;
}

/* dw [O, Cg*K] (overwritten) = per group the sum over images, then blocks of output rows, of
 * dy x columns^T. Each thread owns a range of column rows (input channel, window position) and
 * makes just those rows of each block's columns; every entry of dw is summed in the same order
 * whatever the number of threads. */
static int conv_dw(float *DW, const float *DY, const float *X, const int64_t *xs, const nb_im2col_geom *g,
                   int64_t G, int64_t O) {
    const int64_t K = g->KH * g->KW, L = g->OH * g->OW, CK = g->C * K, CgK = CK / G, Og = O / G;
    const int64_t rb = conv_rows_per_block(g), nblk = (g->OH + rb - 1) / rb;
    if (g->N == 0 || CK == 0 || O == 0) { /* an empty sum (or no weights) */
        memset(DW, 0, (size_t)(O * CgK) * sizeof *DW);
        return 0;
    }
    const int nt = (int)(CK < nb_nthreads() ? CK : nb_nthreads());
    int oom = 0;
#pragma omp parallel num_threads(nt) if (nt > 1 && CK * L * g->N > 32768) reduction(| : oom)
    {
        const int64_t parts = omp_get_num_threads(), me = omp_get_thread_num();
        const int64_t r0 = CK * me / parts, r1 = CK * (me + 1) / parts;
        float *cols = r1 > r0 ? nb_cpu_scratch(NB_SCRATCH_CONV, (size_t)((r1 - r0) * rb * g->OW)) : NULL;
        oom = r1 > r0 && !cols;
        for (int64_t n = 0; n < g->N && cols; n++)
            for (int64_t b = 0; b < nblk; b++) {
                const int64_t oh0 = b * rb, oh1 = oh0 + rb < g->OH ? oh0 + rb : g->OH,
                              lb = (oh1 - oh0) * g->OW;
                for (int64_t r = r0; r < r1; r++)
                    im2col_row(cols + (r - r0) * lb, X, xs, g, n, r / K, r % K, oh0, oh1);
                const float beta = n == 0 && b == 0 ? 0.0f : 1.0f;
                for (int64_t r = r0; r < r1;) { /* the rows of each group in the range */
                    const int64_t gi = r / CgK, re = (gi + 1) * CgK < r1 ? (gi + 1) * CgK : r1;
                    (void)nb_cpu_sgemm_serial(
                        0, 1, Og, re - r, lb, 1.0f, DY + (n * O + gi * Og) * L + oh0 * g->OW, L,
                        cols + (r - r0) * lb, lb, beta, DW + gi * Og * CgK + (r - gi * CgK), CgK);
                    r = re;
                }
            }
    }
    return oom ? nb_set_error("conv2d backward (cpu): out of memory for a block of columns"), -1 : 0;
}

int nb_cpu_conv2d_backward(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                           const nb_tensor *w, const nb_im2col_geom *g, int64_t G) {
    if (conv_check("conv2d_backward", x, w, dy, g, G) ||
        (dx && (dx->dtype != NB_F32 || !nb_is_contiguous(dx) || dx->ndim != 4 ||
                memcmp(dx->shape, x->shape, 4 * sizeof *dx->shape))) ||
        (dw && (dw->dtype != NB_F32 || !nb_is_contiguous(dw) || nb_numel(dw) != nb_numel(w))))
        return nb_set_error("conv2d_backward (cpu): bad operands"), -1;
    const float *DY = (const float *)nb_ptr(dy), *Wt = (const float *)nb_ptr(w);
    const int64_t O = w->shape[0];
    if (dx && conv_dx((float *)nb_ptr(dx), DY, Wt, g, G, O)) return -1;
    if (dw && conv_dw((float *)nb_ptr(dw), DY, (const float *)nb_ptr(x), x->stride, g, G, O)) return -1;
    return 0;
}
