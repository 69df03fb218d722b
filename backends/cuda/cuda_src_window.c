/* backends/cuda/cuda_src_window.c - CUDA C sources of the sliding-window kernels: im2col and
 * col2im (convolution as a GEMM), depthwise convolution and max pooling straight over the image
 * (joined after the prelude of cuda_sources.c; launched from cuda_window.c). Each follows the
 * order of the CPU's loops (backends/cpu/cpu_conv.c, cpu_window.c), so that all but the
 * depthwise weight gradient agree with the CPU bit for bit. */
#include "backends/cuda/cuda_src.h"

/* Kernel sources are long string literals by nature; gcc and clang handle them. */
#pragma GCC diagnostic ignored "-Woverlength-strings"

/* The kernel sources keep their own layout: clang-format would read them as C. */
/* clang-format off */

const char nb_cu_window_src[] = NB_CU_CODE(
    /* convolution windows (layout = nb_cu_i2c on the host): x [N,C,H,W] with strides xs */
    struct nb_i2c {
        long long N, C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, xs[4];
        float pad;
    };
    /* one thread per column entry: cols [N,C,KH*KW,OH*OW] */
    extern "C" __global__ void im2col(float *o, const float *x, nb_i2c g) {
        const long long K = g.KH * g.KW, L = g.OH * g.OW, n = g.N * g.C * K * L;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long l = i % L, r = i / L, k = r % K, nc = r / K;
            const long long ih = (l / g.OW) * g.sh - g.ph + (k / g.KW) * g.dh;
            const long long iw = (l % g.OW) * g.sw - g.pw + (k % g.KW) * g.dw;
            o[i] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W
                       ? x[(nc / g.C) * g.xs[0] + (nc % g.C) * g.xs[1] + ih * g.xs[2] + iw * g.xs[3]]
                       : g.pad;
        }
    }
    /* one thread per pixel of dx [N,C,H,W] (contiguous): the entries of dcols that read it, in
     * window order (kh, kw), as the CPU's col2im adds them */
    extern "C" __global__ void col2im(float *dx, const float *dc, nb_i2c g) {
        const long long K = g.KH * g.KW, L = g.OH * g.OW, n = g.N * g.C * g.H * g.W;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long w = i % g.W, h = (i / g.W) % g.H, nc = i / (g.W * g.H);
            const float *src = dc + nc * K * L;
            float acc = 0.0f;
            for (long long kh = 0; kh < g.KH; kh++) {
                const long long t = h + g.ph - kh * g.dh;
                if (t < 0 || t % g.sh) continue;
                const long long oh = t / g.sh;
                if (oh >= g.OH) continue;
                for (long long kw = 0; kw < g.KW; kw++) {
                    const long long u = w + g.pw - kw * g.dw;
                    if (u < 0 || u % g.sw) continue;
                    const long long ow = u / g.sw;
                    if (ow < g.OW) acc += src[(kh * g.KW + kw) * L + oh * g.OW + ow];
                }
            }
            dx[i] = acc;
        }
    }

    /* depthwise convolution: one thread per element of y [N, O, OH, OW] (x, w [O, KH*KW] and y
     * contiguous; output channel o reads input channel o / (O / C)): the window in order (kh, kw)
     * from 0, each product rounded before its add, as the CPU's loops, so the two agree bit for
     * bit */
    extern "C" __global__ void dwconv(float *y, const float *x, const float *w, nb_i2c g, long long O) {
        const long long K = g.KH * g.KW, L = g.OH * g.OW, n = g.N * O * L, m = O / g.C;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long ow = i % g.OW, oh = (i / g.OW) % g.OH, p = i / L, o = p % O, b = p / O;
            const float *xp = x + (b * g.C + o / m) * g.H * g.W, *wo = w + o * K;
            float acc = 0.0f;
            for (long long kh = 0; kh < g.KH; kh++) {
                const long long ih = oh * g.sh - g.ph + kh * g.dh;
                if (ih < 0 || ih >= g.H) continue;
                for (long long kw = 0; kw < g.KW; kw++) {
                    const long long iw = ow * g.sw - g.pw + kw * g.dw;
                    if (iw >= 0 && iw < g.W)
                        acc = __fadd_rn(acc, __fmul_rn(wo[kh * g.KW + kw], xp[ih * g.W + iw]));
                }
            }
            y[i] = acc;
        }
    }
    /* its input gradient: one thread per pixel of dx [N,C,H,W], the outputs that read it in the
     * CPU's order (multiplier j, then window position) */
    extern "C" __global__ void dwconv_dx(float *dx, const float *dy, const float *w, nb_i2c g, long long O) {
        const long long K = g.KH * g.KW, L = g.OH * g.OW, n = g.N * g.C * g.H * g.W, m = O / g.C;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long x_ = i % g.W, h = (i / g.W) % g.H, p = i / (g.W * g.H), c = p % g.C, b = p / g.C;
            float acc = 0.0f;
            for (long long j = 0; j < m; j++) {
                const long long o = c * m + j;
                const float *dyp = dy + (b * O + o) * L, *wo = w + o * K;
                for (long long kh = 0; kh < g.KH; kh++) {
                    const long long t = h + g.ph - kh * g.dh;
                    if (t < 0 || t % g.sh || t / g.sh >= g.OH) continue;
                    for (long long kw = 0; kw < g.KW; kw++) {
                        const long long u = x_ + g.pw - kw * g.dw;
                        if (u < 0 || u % g.sw || u / g.sw >= g.OW) continue;
                        acc = __fadd_rn(acc, __fmul_rn(wo[kh * g.KW + kw], dyp[(t / g.sh) * g.OW + u / g.sw]));
                    }
                }
            }
            dx[i] = acc;
        }
    }
    /* its weight gradient: one block per weight (o, k), a fixed tree over (n, oh, ow) */
    extern "C" __global__ void dwconv_dw(float *dw, const float *dy, const float *x, nb_i2c g, long long O) {
        const long long K = g.KH * g.KW, L = g.OH * g.OW, m = O / g.C, q = blockIdx.x, o = q / K, k = q % K;
        const long long kh = k / g.KW, kw = k % g.KW;
        float acc = 0.0f;
        for (long long r = threadIdx.x; r < g.N * L; r += blockDim.x) {
            const long long b = r / L, l = r % L, oh = l / g.OW, ow = l % g.OW;
            const long long ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                acc += dy[(b * O + o) * L + l] * x[(b * g.C + o / m) * g.H * g.W + ih * g.W + iw];
        }
        acc = nb_block_sum(acc);
        if (threadIdx.x == 0) dw[q] = acc;
    }

    /* max pooling: one thread per output, the window's elements inside x in order; a NaN beats
     * any number, the first one on ties (as the CPU) */
    extern "C" __global__ void max_pool(float *y, int *idx, const float *x, nb_i2c g) {
        const long long L = g.OH * g.OW, n = g.N * g.C * L;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long ow = i % g.OW, oh = (i / g.OW) % g.OH, p = i / L;
            const float *xp = x + p * g.H * g.W;
            long long best = -1;
            float bv = -nb_inf();
            for (long long kh = 0; kh < g.KH; kh++) {
                const long long ih = oh * g.sh - g.ph + kh * g.dh;
                if (ih < 0 || ih >= g.H) continue;
                for (long long kw = 0; kw < g.KW; kw++) {
                    const long long iw = ow * g.sw - g.pw + kw * g.dw;
                    if (iw < 0 || iw >= g.W) continue;
                    const float v = xp[ih * g.W + iw];
                    if (best < 0 || v > bv || (v != v && bv == bv)) {
                        bv = v;
                        best = ih * g.W + iw;
                    }
                }
            }
            y[i] = bv;
            idx[i] = (int)best;
        }
    }
    /* its gradient: one thread per pixel of dx, the outputs whose window holds it in output order
     * (window positions from the last), adding dy where the output picked this pixel */
    extern "C" __global__ void max_pool_bwd(float *dx, const float *dy, const int *idx, nb_i2c g) {
        const long long L = g.OH * g.OW, n = g.N * g.C * g.H * g.W;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long x_ = i % g.W, h = (i / g.W) % g.H, p = i / (g.W * g.H), at = h * g.W + x_;
            float acc = 0.0f;
            for (long long kh = g.KH - 1; kh >= 0; kh--) {
                const long long t = h + g.ph - kh * g.dh;
                if (t < 0 || t % g.sh || t / g.sh >= g.OH) continue;
                for (long long kw = g.KW - 1; kw >= 0; kw--) {
                    const long long u = x_ + g.pw - kw * g.dw;
                    if (u < 0 || u % g.sw || u / g.sw >= g.OW) continue;
                    const long long l = p * L + (t / g.sh) * g.OW + u / g.sw;
                    if (idx[l] == at) acc += dy[l];
                }
            }
            dx[i] = acc;
        }
    }
    );

/* clang-format on */
