/* backends/cuda/cuda_src_reduce.c - CUDA C sources of the reduction and indexing
 * kernels (joined after the prelude of cuda_sources.c; launched from
 * cuda_reduce.c and cuda_index.c). */
#include "backends/cuda/cuda_src.h"

/* Kernel sources are long string literals by nature; gcc and clang handle them. */
#pragma GCC diagnostic ignored "-Woverlength-strings"

/* The kernel sources keep their own layout: clang-format would read them as C. */
/* clang-format off */

/* ---- reductions ------------------------------------------------------------------------------ */

const char nb_cu_reduce_src[] = NB_CU_CODE(
    /* kept dims (ks: sizes, ka: strides in a, ko: in out) and reduced dims (rs, ra) */
    struct nb_rgeom {
        long long K, R;
        int nk, nr;
        long long ks[8], ka[8], ko[8], rs[8], ra[8];
    };

    NB_DEVFN long long nb_koff(const nb_rgeom &g, long long k, long long *oo) {
        long long a = 0, o = 0;
        for (int d = g.nk - 1; d >= 0; d--) {
            const long long c = k % g.ks[d];
            k /= g.ks[d];
            a += c * g.ka[d];
            o += c * g.ko[d];
        }
        *oo = o;
        return a;
    }
    NB_DEVFN long long nb_roff(const nb_rgeom &g, long long r) {
        long long a = 0;
        for (int d = g.nr - 1; d >= 0; d--) {
            const long long c = r % g.rs[d];
            r /= g.rs[d];
            a += c * g.ra[d];
        }
        return a;
    }
    /* op 0 sum, 1 max, 2 min, 3 product; max and min propagate NaN, as the CPU. Sums and
     * products accumulate in double, as the CPU's (max and min are exact either way); the
     * kernels are bound by memory, not by the arithmetic. */
    NB_DEVFN double nb_red_id(int op) {
        return op == 0 ? 0.0 : op == 1 ? -(double)nb_inf() : op == 2 ? (double)nb_inf() : 1.0;
    }
    NB_DEVFN double nb_red(int op, double m, double v) {
        if (op == 0) return m + v;
        if (op == 3) return m * v;
        if (op == 1) return (v > m || v != v) ? v : m;
        return (v < m || v != v) ? v : m;
    }

    /* one block per (kept element k, part p of the reduced range): for reductions
     * whose innermost reduced dim is contiguous. The result goes to out when direct, else
     * to part[k * P + p] (double), for red_final. */
    extern "C" __global__ void red_block(float *out, double *part, const float *a, nb_rgeom g, int op,
                                         long long chunk, int direct) {
        const long long k = blockIdx.x, p = blockIdx.y, P = gridDim.y;
        long long oo;
        const long long ao = nb_koff(g, k, &oo);
        const long long r0 = p * chunk, r1 = nb_min_ll(g.R, r0 + chunk);
        double acc = nb_red_id(op);
        if (g.nr == 1) {
            const long long st = g.ra[0];
            for (long long r = r0 + threadIdx.x; r < r1; r += blockDim.x)
                acc = nb_red(op, acc, (double)a[ao + r * st]);
        } else {
            for (long long r = r0 + threadIdx.x; r < r1; r += blockDim.x)
                acc = nb_red(op, acc, (double)a[ao + nb_roff(g, r)]);
        }
        acc = nb_block_red<double>(acc, nb_red_id(op), [&](double x, double y) { return nb_red(op, x, y); });
        if (threadIdx.x == 0) {
            if (direct) out[oo] = (float)acc;
            else part[k * P + p] = acc;
        }
    }

    /* one thread per (k, part): for reductions over outer dims (adjacent threads
     * read adjacent kept elements); out or part as red_block */
    extern "C" __global__ void red_thread(float *out, double *part, const float *a, nb_rgeom g, int op,
                                          long long chunk, long long P, int direct) {
        const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (t >= g.K * P) return;
        const long long k = t % g.K, p = t / g.K;
        long long oo;
        const long long ao = nb_koff(g, k, &oo);
        const long long r0 = p * chunk, r1 = nb_min_ll(g.R, r0 + chunk);
        double acc = nb_red_id(op);
        for (long long r = r0; r < r1; r++) acc = nb_red(op, acc, (double)a[ao + nb_roff(g, r)]);
        if (direct) out[oo] = (float)acc;
        else part[k * P + p] = acc;
    }

    /* combines the P partials of each kept element, in order */
    extern "C" __global__ void red_final(float *out, const double *part, nb_rgeom g, int op,
                                         long long P) {
        const long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (k >= g.K) return;
        long long oo;
        nb_koff(g, k, &oo);
        double acc = nb_red_id(op);
        for (long long p = 0; p < P; p++) acc = nb_red(op, acc, part[k * P + p]);
        out[oo] = (float)acc;
    }

    /* is (v, i) preferred to (bv, bi)? the largest; NaN beats numbers; first on ties */
    NB_DEVFN bool nb_better(float v, long long i, float bv, long long bi) {
        if (bi < 0) return true;
        if (i < 0) return false;
        const bool vn = v != v, bn = bv != bv;
        if (vn || bn) return vn && bn ? i < bi : vn;
        if (v != bv) return v > bv;
        return i < bi;
    }

    /* one block per kept element; n values along the axis with stride st */
    extern "C" __global__ void argmax(int *out, const float *a, nb_rgeom g, long long n,
                                      long long st) {
        __shared__ float sv[32];
        __shared__ long long si[32];
        const long long k = blockIdx.x;
        long long oo;
        const long long ao = nb_koff(g, k, &oo);
        float bv = 0.0f;
        long long bi = -1;
        for (long long i = threadIdx.x; i < n; i += blockDim.x) {
            const float v = a[ao + i * st];
            if (nb_better(v, i, bv, bi)) {
                bv = v;
                bi = i;
            }
        }
        const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_down_sync(NB_FULL, bv, o);
            const long long oi = __shfl_down_sync(NB_FULL, bi, o);
            if (lane + o < 32 && nb_better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        if (lane == 0) {
            sv[w] = bv;
            si[w] = bi;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int q = 1; q < nw; q++)
                if (nb_better(sv[q], si[q], bv, bi)) {
                    bv = sv[q];
                    bi = si[q];
                }
            out[oo] = (int)(bi < 0 ? 0 : bi);
        }
    }

    /* one thread per line along the axis (k: the line's first element, from views with the axis
     * shrunk to 1), a serial running sum in double as on the CPU, so the two agree bit for bit */
    NB_EW3(cumsum, 2, (float *o, const float *a, nb_geom nb_g, long long n, long long so, long long sa, int rev),
           {
               double acc = 0.0;
               for (long long t = 0; t < n; t++) {
                   const long long j = rev ? n - 1 - t : t;
                   acc += (double)a[k[1] + j * sa];
                   o[k[0] + j * so] = (float)acc;
               }
           })
    /* the running product, likewise */
    NB_EW3(cumprod, 2, (float *o, const float *a, nb_geom nb_g, long long n, long long so, long long sa, int rev),
           {
               double acc = 1.0;
               for (long long t = 0; t < n; t++) {
                   const long long j = rev ? n - 1 - t : t;
                   acc *= (double)a[k[1] + j * sa];
                   o[k[0] + j * so] = (float)acc;
               }
           })
    /* the running log-sum-exp, one step of ops/elementwise_math.h's helper per element */
    NB_EW3(logcumsumexp, 2, (float *o, const float *a, nb_geom nb_g, long long n, long long so, long long sa, int rev),
           {
               double acc = -(double)nb_inf_f();
               for (long long t = 0; t < n; t++) {
                   const long long j = rev ? n - 1 - t : t;
                   acc = nb_log_add_exp_d(acc, (double)a[k[1] + j * sa]);
                   o[k[0] + j * so] = (float)acc;
               }
           })
    /* the running max (min when mn) and where it came from, as the CPU's: a later element that
     * ties takes over, and so does a NaN, which then stays */
    NB_EW3(cummax, 3,
           (float *o, int *ix, const float *a, nb_geom nb_g, long long n, long long so, long long si,
            long long sa, int mn),
           {
               float best = a[k[2]];
               int at = 0;
               for (long long j = 0; j < n; j++) {
                   const float x = a[k[2] + j * sa];
                   if (x != x || (best == best && (mn ? x <= best : x >= best))) {
                       best = x;
                       at = (int)j;
                   }
                   o[k[0] + j * so] = best;
                   ix[k[1] + j * si] = at;
               }
           })
    );

/* ---- indexing ----------------------------------------------------------------------------------- */

const char nb_cu_index_src[] = NB_CU_CODE(
    /* out = a with dim `dim` picked at idx; g: unmerged shape of out, st[0] out, st[1] a.
     * 4-byte elements are copied bit for bit (f32 or i32). Indices out of range
     * (the ops layer checks them first) give 0 instead of a wild read. */
    extern "C" __global__ void index_select(u32 *o, const u32 *a, const int *idx, nb_geom g,
                                            int dim, long long ist, long long asz) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < g.n;
             i += (long long)gridDim.x * blockDim.x) {
            long long r = i, oo = 0, ao = 0;
            bool ok = true;
            for (int d = g.ndim - 1; d >= 0; d--) {
                const long long c = r % g.shape[d];
                r /= g.shape[d];
                oo += c * g.st[0][d];
                if (d == dim) {
                    const long long j = idx[c * ist];
                    if (j < 0 || j >= asz) ok = false;
                    else ao += j * g.st[1][d];
                } else {
                    ao += c * g.st[1][d];
                }
            }
            o[oo] = ok ? a[ao] : 0u;
        }
    }

    /* out[..] = a[.. idx[..] ..]; g: shape of out (= idx), st[0] out, st[1] idx, st[2] a */
    extern "C" __global__ void gather(u32 *o, const u32 *a, const int *idx, nb_geom g, int dim,
                                      long long asz) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < g.n;
             i += (long long)gridDim.x * blockDim.x) {
            long long r = i, oo = 0, io = 0, ao = 0;
            for (int d = g.ndim - 1; d >= 0; d--) {
                const long long c = r % g.shape[d];
                r /= g.shape[d];
                oo += c * g.st[0][d];
                io += c * g.st[1][d];
                if (d != dim) ao += c * g.st[2][d];
            }
            const long long j = idx[io];
            o[oo] = j >= 0 && j < asz ? a[ao + j * g.st[2][dim]] : 0u;
        }
    }

    /* out[.. idx[..j..] ..] += src[..j..], each output element summing its
     * matches in order of j (deterministic, no atomics). g: out's shape, st[0]
     * out; gi: idx's shape, st[0] idx, st[1] src */
    extern "C" __global__ void scatter_add(float *o, const int *idx, const float *src, nb_geom g,
                                           nb_geom gi, int dim) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < g.n;
             i += (long long)gridDim.x * blockDim.x) {
            long long r = i, oo = 0, io = 0, so = 0, pos = 0;
            bool inside = true;
            for (int d = g.ndim - 1; d >= 0; d--) {
                const long long c = r % g.shape[d];
                r /= g.shape[d];
                oo += c * g.st[0][d];
                if (d == dim) {
                    pos = c;
                } else if (c >= gi.shape[d]) {
                    inside = false;
                } else {
                    io += c * gi.st[0][d];
                    so += c * gi.st[1][d];
                }
            }
            if (!inside) continue;
            const long long len = gi.shape[dim], ist = gi.st[0][dim], sst = gi.st[1][dim];
            float acc = o[oo];
            bool any = false;
            for (long long j = 0; j < len; j++)
                if (idx[io + j * ist] == pos) {
                    acc += src[so + j * sst];
                    any = true;
                }
            if (any) o[oo] = acc;
        }
    }

    /* index_add in five steps: count the uses of each row, scan the counts, list the
     * positions of each row, sort each list (so additions follow index order), add. */
    extern "C" __global__ void ia_count(int *cnt, const int *idx, long long n, long long ist,
                                        long long V) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long j = idx[i * ist];
            if (j >= 0 && j < V) atomicAdd(&cnt[j], 1);
        }
    }
    extern "C" __global__ void ia_scan(int *start, int *cur, const int *cnt, long long V) {
        __shared__ int sh[1024];
        const int t = threadIdx.x, nt = blockDim.x;
        const long long per = (V + nt - 1) / nt, b = t * per, e = nb_min_ll(V, b + per);
        int s = 0;
        for (long long x = b; x < e; x++) s += cnt[x];
        sh[t] = s;
        __syncthreads();
        if (t == 0) {
            int run = 0;
            for (int q = 0; q < nt; q++) {
                const int v = sh[q];
                sh[q] = run;
                run += v;
            }
            start[V] = run;
        }
        __syncthreads();
        int run = sh[t];
        for (long long x = b; x < e; x++) {
            start[x] = run;
            cur[x] = run;
            run += cnt[x];
        }
    }
    extern "C" __global__ void ia_fill(int *list, int *cur, const int *idx, long long n,
                                       long long ist, long long V) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long j = idx[i * ist];
            if (j >= 0 && j < V) list[atomicAdd(&cur[j], 1)] = (int)i;
        }
    }
    extern "C" __global__ void ia_sort(int *list, const int *start, long long V) {
        const long long v = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (v >= V) return;
        const int b = start[v], e = start[v + 1];
        for (int x = b + 1; x < e; x++) {
            const int key = list[x];
            int y = x - 1;
            while (y >= b && list[y] > key) {
                list[y + 1] = list[y];
                y--;
            }
            list[y + 1] = key;
        }
    }
    /* g: unmerged shape of out, st[0] out, st[1] src */
    extern "C" __global__ void ia_apply(float *o, const float *src, const int *list,
                                        const int *start, nb_geom g, int dim) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < g.n;
             i += (long long)gridDim.x * blockDim.x) {
            long long r = i, oo = 0, so = 0, pos = 0;
            for (int d = g.ndim - 1; d >= 0; d--) {
                const long long c = r % g.shape[d];
                r /= g.shape[d];
                oo += c * g.st[0][d];
                if (d == dim) pos = c;
                else so += c * g.st[1][d];
            }
            const int b = start[pos], e = start[pos + 1];
            if (b == e) continue;
            const long long sst = g.st[1][dim];
            float acc = o[oo];
            for (int q = b; q < e; q++) acc += src[so + (long long)list[q] * sst];
            o[oo] = acc;
        }
    }

    /* interpolation along one dim of [A, n, B] tensors: one thread per output element, the CPU's
     * expression w0 x0 + w1 x1, rounded as the CPU rounds it (no fused multiply-add), so the two
     * agree bit for bit */
    extern "C" __global__ void lerp_dim(float *o, const float *x, const int *idx, const float *w, long long A,
                                        long long n_in, long long n_out, long long B) {
        const long long n = A * n_out * B;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long k = i % B, r = i / B, oo = r % n_out, a = r / n_out;
            const float *xa = x + a * n_in * B + k;
            o[i] = __fadd_rn(__fmul_rn(w[oo], xa[(long long)idx[oo] * B]),
                             __fmul_rn(w[n_out + oo], xa[(long long)idx[n_out + oo] * B]));
        }
    }
    /* its adjoint: one thread per column (a, k) of dx, zeroed, then every output row added back in
     * output order (w0 term, then w1 term), as the CPU adds them */
    extern "C" __global__ void lerp_dim_bwd(float *dx, const float *g, const int *idx, const float *w, long long A,
                                            long long n_in, long long n_out, long long B) {
        const long long n = A * B;
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x) {
            const long long k = i % B, a = i / B;
            float *d = dx + a * n_in * B + k;
            const float *ga = g + a * n_out * B + k;
            for (long long j = 0; j < n_in; j++) d[j * B] = 0.0f;
            for (long long oo = 0; oo < n_out; oo++) {
                const float gv = ga[oo * B];
                float *d0 = d + (long long)idx[oo] * B, *d1 = d + (long long)idx[n_out + oo] * B;
                *d0 = __fadd_rn(*d0, __fmul_rn(w[oo], gv));
                *d1 = __fadd_rn(*d1, __fmul_rn(w[n_out + oo], gv));
            }
        }
    }

    /* argsort: whether (x, i) goes before (y, j), as the CPU's merge sort orders them; positions
     * at or past n are the padding up to a power of two, and go last */
    NB_DEVFN bool nb_before(float x, int i, float y, int j, long long n, int desc) {
        if (j >= n) return i < n || i < j;
        if (i >= n) return false;
        const bool xn = x != x, yn = y != y;
        if (xn || yn) return xn && yn ? i < j : desc ? xn : yn;
        if (x != y) return desc ? x > y : x < y;
        return i < j;
    }
    /* one block per line (g: the lines' first elements in idx and a): a bitonic sort of
     * (value, position) keys over P = 2^k >= n slots of global scratch, so the result is the
     * unique order the CPU's merge sort gives */
    extern "C" __global__ void argsort(int *idx, const float *a, float *sv, int *si, nb_geom g, long long n,
                                       long long P, long long ist, long long ast, int desc) {
        float *kv = sv + blockIdx.x * P;
        int *ki = si + blockIdx.x * P;
        for (long long line = blockIdx.x; line < g.n; line += gridDim.x) {
            long long o[2];
            nb_offs<2, long long>(g, line, o);
            for (long long t = threadIdx.x; t < P; t += blockDim.x) {
                kv[t] = t < n ? a[o[1] + t * ast] : 0.0f;
                ki[t] = (int)t;
            }
            __syncthreads();
            for (long long size = 2; size <= P; size <<= 1)
                for (long long stride = size >> 1; stride > 0; stride >>= 1) {
                    for (long long t = threadIdx.x; t < P; t += blockDim.x) {
                        const long long u = t ^ stride;
                        if (u <= t) continue;
                        const bool up = (t & size) == 0;
                        const float vt = kv[t], vu = kv[u];
                        const int it = ki[t], iu = ki[u];
                        if (up ? nb_before(vu, iu, vt, it, n, desc) : nb_before(vt, it, vu, iu, n, desc)) {
                            kv[t] = vu, kv[u] = vt;
                            ki[t] = iu, ki[u] = it;
                        }
                    }
                    __syncthreads();
                }
            for (long long t = threadIdx.x; t < n; t += blockDim.x) idx[o[0] + t * ist] = ki[t];
            __syncthreads();
        }
    }
    );
/* clang-format on */
