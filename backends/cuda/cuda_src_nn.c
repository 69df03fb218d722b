/* backends/cuda/cuda_src_nn.c - CUDA C sources of the fused neural-network
 * kernels: softmax, layer norm, cross-entropy and causal attention (joined after
 * the prelude of cuda_sources.c; launched from cuda_nn.c). */
#include "backends/cuda/cuda_src.h"

/* Kernel sources are long string literals by nature; gcc and clang handle them. */
#pragma GCC diagnostic ignored "-Woverlength-strings"

/* The kernel sources keep their own layout: clang-format would read them as C. */
/* clang-format off */

/* ---- neural-network kernels: softmax, layer norm, cross-entropy (one block per row) ------------ */

const char nb_cu_nn_src[] = NB_CU_CODE(
    extern "C" __global__ void softmax_fwd(float *y, const float *x, long long C, int lg) {
        const float *xr = x + blockIdx.x * C;
        float *yr = y + blockIdx.x * C;
        float m = -nb_inf();
        for (long long j = threadIdx.x; j < C; j += blockDim.x)
            m = xr[j] > m ? xr[j] : m;
        m = nb_block_max(m);
        if (m == -nb_inf()) m = 0.0f; /* a row of -inf: exp gives 0 */
        float s = 0.0f;
        for (long long j = threadIdx.x; j < C; j += blockDim.x)
            s += expf(xr[j] - m);
        s = nb_block_sum(s);
        if (lg) {
            const float ls = logf(s); /* (x - m) - log s, as the CPU */
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                yr[j] = (xr[j] - m) - ls;
        } else {
            const float inv = 1.0f / s;
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                yr[j] = expf(xr[j] - m) * inv;
        }
    }

    extern "C" __global__ void softmax_bwd(float *gi, const float *g, const float *y, long long C, int lg) {
        const long long base = blockIdx.x * C;
        float s = 0.0f;
        if (lg) { /* gin = g - exp(y) * sum(g) */
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                s += g[base + j];
            s = nb_block_sum(s);
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                gi[base + j] = g[base + j] - expf(y[base + j]) * s;
        } else { /* gin = y * (g - sum(g * y)) */
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                s += g[base + j] * y[base + j];
            s = nb_block_sum(s);
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                gi[base + j] = y[base + j] * (g[base + j] - s);
        }
    }

    extern "C" __global__ void ln_fwd(float *y, float *mean, float *rstd, const float *x, const float *w,
                                      const float *b, long long C, float eps, float inv_n) {
        const long long base = blockIdx.x * C;
        const float *xr = x + base;
        float *yr = y + base;
        float s = 0.0f;
        for (long long j = threadIdx.x; j < C; j += blockDim.x)
            s += xr[j];
        const float mu = nb_block_sum(s) * inv_n;
        float v = 0.0f;
        for (long long j = threadIdx.x; j < C; j += blockDim.x)
            v += (xr[j] - mu) * (xr[j] - mu);
        const float rs = 1.0f / sqrtf(nb_block_sum(v) * inv_n + eps);
        if (threadIdx.x == 0) {
            if (mean) mean[blockIdx.x] = mu;
            if (rstd) rstd[blockIdx.x] = rs;
        }
        for (long long j = threadIdx.x; j < C; j += blockDim.x) {
            float t = (xr[j] - mu) * rs;
            if (w) t *= w[j];
            if (b) t += b[j];
            yr[j] = t;
        }
    }

    /* dx of one row: rs * (wg - mean(wg) - xhat * mean(wg * xhat)), wg = dy * w */
    extern "C" __global__ void ln_bwd_dx(float *dx, const float *dy, const float *x, const float *mean,
                                         const float *rstd, const float *w, long long C, float inv_n) {
        const long long base = blockIdx.x * C;
        const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
        float a = 0.0f, bs = 0.0f;
        for (long long j = threadIdx.x; j < C; j += blockDim.x) {
            const float wg = w ? dy[base + j] * w[j] : dy[base + j];
            a += wg;
            bs += wg * (x[base + j] - mu) * rs;
        }
        a = nb_block_sum(a) * inv_n;
        bs = nb_block_sum(bs) * inv_n;
        for (long long j = threadIdx.x; j < C; j += blockDim.x) {
            const float wg = w ? dy[base + j] * w[j] : dy[base + j];
            dx[base + j] = rs * (wg - a - (x[base + j] - mu) * rs * bs);
        }
    }

    /* partial column sums of dy * xhat and dy over row chunk blockIdx.y */
    extern "C" __global__ void ln_bwd_part(float *pw, float *pb, const float *dy, const float *x,
                                           const float *mean, const float *rstd, long long N, long long C,
                                           long long chunk) {
        const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x, p = blockIdx.y;
        if (c >= C) return;
        const long long r0 = p * chunk, r1 = nb_min_ll(N, r0 + chunk);
        float sw = 0.0f, sb = 0.0f;
        for (long long r = r0; r < r1; r++) {
            const float g = dy[r * C + c];
            sw += g * (x[r * C + c] - mean[r]) * rstd[r];
            sb += g;
        }
        pw[p * C + c] = sw;
        pb[p * C + c] = sb;
    } extern "C" __global__ void ln_bwd_final(float *dw, float *db, const float *pw, const float *pb,
                                              long long C, long long P) {
        const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (c >= C) return;
        float sw = 0.0f, sb = 0.0f;
        for (long long p = 0; p < P; p++) {
            sw += pw[p * C + c];
            sb += pb[p * C + c];
        }
        if (dw) dw[c] = sw;
        if (db) db[c] = sb;
    }

    /* per row: lse as the pair (max, log-sum) (lse[2 row], lse[2 row + 1]; their sum would
     * round to the max's ulp) and the loss log-sum - (x[target] - max), as the CPU; ignored
     * rows give (0, 0) and 0; a target out of range records its row in *bad (the host reports
     * it) */
    extern "C" __global__ void ce_fwd(float *rowloss, float *lse, int *bad, const float *x, const int *t,
                                      long long C, int ignore) {
        const long long row = blockIdx.x;
        const int tr = t[row];
        if (tr == ignore || tr < 0 || tr >= C) {
            if (threadIdx.x == 0) {
                lse[2 * row] = lse[2 * row + 1] = 0.0f;
                rowloss[row] = 0.0f;
                if (tr != ignore) atomicMin(bad, (int)row);
            }
            return;
        }
        const float *xr = x + row * C;
        float m = -nb_inf();
        for (long long j = threadIdx.x; j < C; j += blockDim.x)
            m = xr[j] > m ? xr[j] : m;
        m = nb_block_max(m);
        float ls = 0.0f;
        if (m != -nb_inf() && m != nb_inf()) {
            float s = 0.0f;
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                s += expf(xr[j] - m);
            ls = logf(nb_block_sum(s));
        }
        if (threadIdx.x == 0) {
            lse[2 * row] = m;
            lse[2 * row + 1] = ls;
            rowloss[row] = ls - (xr[tr] - m);
        }
    }

    /* loss = mean of the kept rows' losses (summed in double, as the CPU); 0 when none.
     * Also leaves g / count in *k for the backward when g != NULL. One block. */
    extern "C" __global__ void ce_final(float *loss, float *k, const float *g, const float *rowloss,
                                        const int *t, long long N, int ignore) {
        double s = 0.0;
        double cnt = 0.0;
        for (long long r = threadIdx.x; r < N; r += blockDim.x) {
            if (rowloss) s += (double)rowloss[r];
            cnt += t[r] != ignore ? 1.0 : 0.0;
        }
        s = nb_block_red<double>(s, 0.0, [](double a, double b) { return a + b; });
        cnt = nb_block_red<double>(cnt, 0.0, [](double a, double b) { return a + b; });
        if (threadIdx.x == 0) {
            if (loss) *loss = cnt > 0.0 ? (float)(s / cnt) : 0.0f;
            if (k) *k = cnt > 0.0 ? *g / (float)cnt : 0.0f;
        }
    }

    /* dlogits = k * (softmax - onehot) on kept rows, 0 elsewhere (k = g / count) */
    extern "C" __global__ void ce_bwd(float *dx, const float *kp, const float *x, const int *t,
                                      const float *lse, long long C, int ignore) {
        const long long row = blockIdx.x, base = row * C;
        const int tr = t[row];
        const float k = *kp;
        if (tr == ignore || tr < 0 || tr >= C || k == 0.0f) {
            for (long long j = threadIdx.x; j < C; j += blockDim.x)
                dx[base + j] = 0.0f;
            return;
        }
        const float m = lse[2 * row], ls = lse[2 * row + 1];
        for (long long j = threadIdx.x; j < C; j += blockDim.x) {
            float d = k * expf((x[base + j] - m) - ls);
            if (j == tr) d -= k;
            dx[base + j] = d;
        }
    }

    /* forward and backward in one pass, in place: per kept row, x[target] is read first, then
     * the max, then e = exp(x - max) is stored over x while it is summed, then x = e * k / sum
     * (- k at the target); lse and rowloss as ce_fwd. Ignored rows: 0, lse (0, 0),
     * rowloss 0. A target out of range records its row in *bad (the row is left as it was). */
    extern "C" __global__ void ce_fused(float *rowloss, float *lse, int *bad, float *x, const int *t,
                                        long long C, int ignore, float k) {
        const long long row = blockIdx.x;
        const int tr = t[row];
        float *xr = x + row * C;
        if (tr == ignore || tr < 0 || tr >= C) {
            if (tr == ignore)
                for (long long j = threadIdx.x; j < C; j += blockDim.x)
                    xr[j] = 0.0f;
            if (threadIdx.x == 0) {
                lse[2 * row] = lse[2 * row + 1] = 0.0f;
                rowloss[row] = 0.0f;
                if (tr != ignore) atomicMin(bad, (int)row);
            }
            return;
        }
        const float xt = xr[tr]; /* read by every thread before any write (the max syncs) */
        float m = -nb_inf();
        for (long long j = threadIdx.x; j < C; j += blockDim.x)
            m = xr[j] > m ? xr[j] : m;
        m = nb_block_max(m);
        float ls = 0.0f;
        if (m != -nb_inf() && m != nb_inf()) {
            float s = 0.0f;
            for (long long j = threadIdx.x; j < C; j += blockDim.x) {
                const float e = expf(xr[j] - m);
                xr[j] = e;
                s += e;
            }
            s = nb_block_sum(s);
            ls = logf(s);
            const float ks = k / s;
            for (long long j = threadIdx.x; j < C; j += blockDim.x) {
                float d = xr[j] * ks; /* this thread's own e from above */
                if (j == tr) d -= k;
                xr[j] = d;
            }
        } else { /* as ce_fwd + ce_bwd: lse (m, 0) */
            for (long long j = threadIdx.x; j < C; j += blockDim.x) {
                float d = k * expf(xr[j] - m);
                if (j == tr) d -= k;
                xr[j] = d;
            }
        }
        if (threadIdx.x == 0) {
            lse[2 * row] = m;
            lse[2 * row + 1] = ls;
            rowloss[row] = ls - (xt - m);
        }
    }

    /* loss = k * the sum of the rows' losses (in double, in a fixed tree). One block. */
    extern "C" __global__ void ce_fused_final(float *loss, const float *rowloss, long long N, float k) {
        double s = 0.0;
        for (long long r = threadIdx.x; r < N; r += blockDim.x)
            s += (double)rowloss[r];
        s = nb_block_red<double>(s, 0.0, [](double a, double b) { return a + b; });
        if (threadIdx.x == 0) *loss = (float)(s * (double)k);
    });

/* ---- fused causal attention (flash style, no [T,T] matrix stored) -------------------------------- */

const char nb_cu_attn_src[] = NB_CU_CODE(
    /* [B,H,T,D] strides of every operand; lse [B,H,T,2] (max, log-sum pairs), strides of B, H, T */
    struct nb_ageom {
        int B, H, T, D;
        long long q[4], k[4], v[4], o[4], dq[4], dk[4], dv[4], g[4], lse[3];
    };

    /* Grid (B*H, row tiles). One warp per query row, blockDim/32 consecutive rows per block; keys in tiles
     * of 32 through shared memory (lane j scores key j of the tile), with an
     * online softmax. Each lane owns output dims lane + 32 t (D <= 128). A score is rounded by
     * __fmul_rn, never fused with what follows, so the backward kernels recompute it bit for bit
     * and their exp((s - max) - log-sum) is the forward's probability even at huge scores. */
    extern "C" __global__ void attn_fwd(float *o, float *lse, const float *q, const float *k, const float *v,
                                        nb_ageom g, float scale) {
        extern __shared__ float sm[];
        const int D = g.D, T = g.T, DP = D + 1;
        float *Ks = sm, *Vs = Ks + 32 * DP, *Qs = Vs + 32 * DP;
        const int bh = blockIdx.x, b = bh / g.H, h = bh % g.H;
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
        const int row0 = blockIdx.y * nw, i = row0 + warp;
        const float *qb = q + b * g.q[0] + h * g.q[1];
        const float *kb = k + b * g.k[0] + h * g.k[1], *vb = v + b * g.v[0] + h * g.v[1];
        float *qs = Qs + warp * D;
        if (i < T)
            for (int d = lane; d < D; d += 32)
                qs[d] = qb[i * g.q[2] + d * g.q[3]];
        float m = -nb_inf(), l = 0.0f, acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const int last = nb_min_i(T - 1, row0 + nw - 1);
        for (int j0 = 0; j0 <= last; j0 += 32) {
            __syncthreads();
            for (int e = threadIdx.x; e < 32 * D; e += blockDim.x) {
                const int jj = e / D, d = e - jj * D, j = j0 + jj;
                Ks[jj * DP + d] = j < T ? kb[j * g.k[2] + d * g.k[3]] : 0.0f;
                Vs[jj * DP + d] = j < T ? vb[j * g.v[2] + d * g.v[3]] : 0.0f;
            }
            __syncthreads();
            if (i < T && j0 <= i) {
                const int j = j0 + lane;
                float s = -nb_inf();
                if (j <= i) {
                    float dot = 0.0f;
                    for (int d = 0; d < D; d++)
                        dot += qs[d] * Ks[lane * DP + d];
                    s = __fmul_rn(dot, scale); /* never fused: the backward rounds it alike */
                }
                const float mn = fmaxf(m, nb_warp_max(s));
                const float p = j <= i ? expf(s - mn) : 0.0f;
                const float corr = expf(m - mn);
                l = l * corr + nb_warp_sum(p);
                for (int t = 0; t < 4; t++)
                    acc[t] *= corr;
                const int jmax = nb_min_i(31, i - j0);
                for (int jj = 0; jj <= jmax; jj++) {
                    const float pj = __shfl_sync(NB_FULL, p, jj);
                    for (int t = 0; t < 4; t++) {
                        const int d = lane + 32 * t;
                        if (d < D) acc[t] += pj * Vs[jj * DP + d];
                    }
                }
                m = mn;
            }
        }
        if (i < T) {
            const float inv = 1.0f / l;
            float *ob = o + b * g.o[0] + h * g.o[1] + i * g.o[2];
            for (int t = 0; t < 4; t++) {
                const int d = lane + 32 * t;
                if (d < D) ob[d * g.o[3]] = acc[t] * inv;
            }
            if (lane == 0) {
                float *li = lse + b * g.lse[0] + h * g.lse[1] + i * g.lse[2];
                li[0] = m;
                li[1] = logf(l);
            }
        }
    }

    /* Backward, part 1: one warp per query row i computes dq_i, and leaves
     * Dd_i = dout_i . out_i in Dd [B*H*T] for part 2. */
    extern "C" __global__ void attn_bwd_dq(float *dq, float *Dd, const float *dout, const float *q,
                                           const float *k, const float *v, const float *o, const float *lse,
                                           nb_ageom g, float scale) {
        extern __shared__ float sm[];
        const int D = g.D, T = g.T, DP = D + 1;
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
        float *Ks = sm, *Vs = Ks + 32 * DP, *Qs = Vs + 32 * DP, *Gs = Qs + nw * D;
        const int bh = blockIdx.x, b = bh / g.H, h = bh % g.H;
        const int row0 = blockIdx.y * nw, i = row0 + warp;
        const float *kb = k + b * g.k[0] + h * g.k[1], *vb = v + b * g.v[0] + h * g.v[1];
        float *qs = Qs + warp * D, *gs = Gs + warp * D;
        float Di = 0.0f, mi = 0.0f, li = 0.0f;
        if (i < T) {
            const float *qi = q + b * g.q[0] + h * g.q[1] + i * g.q[2];
            const float *gi = dout + b * g.g[0] + h * g.g[1] + i * g.g[2];
            const float *oi = o + b * g.o[0] + h * g.o[1] + i * g.o[2];
            for (int d = lane; d < D; d += 32) {
                qs[d] = qi[d * g.q[3]];
                gs[d] = gi[d * g.g[3]];
                Di += gs[d] * oi[d * g.o[3]];
            }
            Di = nb_warp_sum(Di);
            const float *lsi = lse + b * g.lse[0] + h * g.lse[1] + i * g.lse[2];
            mi = lsi[0];
            li = lsi[1];
            if (lane == 0) Dd[(long long)bh * T + i] = Di;
        }
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const int last = nb_min_i(T - 1, row0 + nw - 1);
        for (int j0 = 0; j0 <= last; j0 += 32) {
            __syncthreads();
            for (int e = threadIdx.x; e < 32 * D; e += blockDim.x) {
                const int jj = e / D, d = e - jj * D, j = j0 + jj;
                Ks[jj * DP + d] = j < T ? kb[j * g.k[2] + d * g.k[3]] : 0.0f;
                Vs[jj * DP + d] = j < T ? vb[j * g.v[2] + d * g.v[3]] : 0.0f;
            }
            __syncthreads();
            if (i < T && j0 <= i) {
                const int j = j0 + lane;
                float ds = 0.0f;
                if (j <= i) {
                    float sd = 0.0f, pd = 0.0f;
                    for (int d = 0; d < D; d++) {
                        sd += qs[d] * Ks[lane * DP + d];
                        pd += gs[d] * Vs[lane * DP + d];
                    }
                    const float p = expf((__fmul_rn(sd, scale) - mi) - li);
                    ds = p * (pd - Di);
                }
                const int jmax = nb_min_i(31, i - j0);
                for (int jj = 0; jj <= jmax; jj++) {
                    const float dsj = __shfl_sync(NB_FULL, ds, jj);
                    for (int t = 0; t < 4; t++) {
                        const int d = lane + 32 * t;
                        if (d < D) acc[t] += dsj * Ks[jj * DP + d];
                    }
                }
            }
        }
        if (i < T) {
            float *dqi = dq + b * g.dq[0] + h * g.dq[1] + i * g.dq[2];
            for (int t = 0; t < 4; t++) {
                const int d = lane + 32 * t;
                if (d < D) dqi[d * g.dq[3]] = acc[t] * scale;
            }
        }
    }

    /* Backward, part 2: one warp per key row j computes dk_j and dv_j over the
     * query tiles i >= j (no atomics: each row is owned by one warp). */
    extern "C" __global__ void attn_bwd_dkdv(float *dk, float *dv, const float *Dd, const float *dout,
                                             const float *q, const float *k, const float *v, const float *lse,
                                             nb_ageom g, float scale) {
        extern __shared__ float sm[];
        const int D = g.D, T = g.T, DP = D + 1;
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
        float *Qs = sm, *Gs = Qs + 32 * DP, *Ls = Gs + 32 * DP, *Ds = Ls + 64;
        float *Kr = Ds + 32, *Vr = Kr + nw * D;
        const int bh = blockIdx.x, b = bh / g.H, h = bh % g.H;
        const int row0 = blockIdx.y * nw, j = row0 + warp;
        const float *qb = q + b * g.q[0] + h * g.q[1], *gb = dout + b * g.g[0] + h * g.g[1];
        const float *lb = lse + b * g.lse[0] + h * g.lse[1];
        float *kr = Kr + warp * D, *vr = Vr + warp * D;
        if (j < T) {
            const float *kj = k + b * g.k[0] + h * g.k[1] + j * g.k[2];
            const float *vj = v + b * g.v[0] + h * g.v[1] + j * g.v[2];
            for (int d = lane; d < D; d += 32) {
                kr[d] = kj[d * g.k[3]];
                vr[d] = vj[d * g.v[3]];
            }
        }
        float ak[4] = {0.0f, 0.0f, 0.0f, 0.0f}, av[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int i0 = (row0 / 32) * 32; i0 < T; i0 += 32) {
            __syncthreads();
            for (int e = threadIdx.x; e < 32 * D; e += blockDim.x) {
                const int ii = e / D, d = e - ii * D, i = i0 + ii;
                Qs[ii * DP + d] = i < T ? qb[i * g.q[2] + d * g.q[3]] : 0.0f;
                Gs[ii * DP + d] = i < T ? gb[i * g.g[2] + d * g.g[3]] : 0.0f;
            }
            if (threadIdx.x < 32) {
                const int i = i0 + threadIdx.x;
                Ls[2 * threadIdx.x] = i < T ? lb[i * g.lse[2]] : 0.0f;
                Ls[2 * threadIdx.x + 1] = i < T ? lb[i * g.lse[2] + 1] : 0.0f;
                Ds[threadIdx.x] = i < T ? Dd[(long long)bh * T + i] : 0.0f;
            }
            __syncthreads();
            if (j < T && i0 + 31 >= j) {
                const int i = i0 + lane;
                float p = 0.0f, ds = 0.0f;
                if (i < T && i >= j) {
                    float sd = 0.0f, pd = 0.0f;
                    for (int d = 0; d < D; d++) {
                        sd += Qs[lane * DP + d] * kr[d];
                        pd += Gs[lane * DP + d] * vr[d];
                    }
                    p = expf((__fmul_rn(sd, scale) - Ls[2 * lane]) - Ls[2 * lane + 1]);
                    ds = p * (pd - Ds[lane]);
                }
                const int t0 = nb_max_i(0, j - i0), t1 = nb_min_i(31, T - 1 - i0);
                for (int tt = t0; tt <= t1; tt++) {
                    const float pt = __shfl_sync(NB_FULL, p, tt), dst = __shfl_sync(NB_FULL, ds, tt);
                    for (int t = 0; t < 4; t++) {
                        const int d = lane + 32 * t;
                        if (d < D) {
                            av[t] += pt * Gs[tt * DP + d];
                            ak[t] += dst * Qs[tt * DP + d];
                        }
                    }
                }
            }
        }
        if (j < T) {
            float *dkj = dk + b * g.dk[0] + h * g.dk[1] + j * g.dk[2];
            float *dvj = dv + b * g.dv[0] + h * g.dv[1] + j * g.dv[2];
            for (int t = 0; t < 4; t++) {
                const int d = lane + 32 * t;
                if (d < D) {
                    dkj[d * g.dk[3]] = ak[t] * scale;
                    dvj[d * g.dv[3]] = av[t];
                }
            }
        }
    });
/* clang-format on */
