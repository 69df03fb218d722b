/* backends/cpu/cpu_resample.c - interpolation along one dim (ops/resize.c): each output row mixes
 * two input rows with its two weights; the backward adds each output row back to those two
 * rows, in output order. The arithmetic and its order are the CUDA kernels', so the two agree
 * bit for bit. Tensors are [A, n, B]: A the dims before, B the product of the dims after. */
#include <string.h>

#include "backends/cpu/cpu.h"

static int check(const char *op, const nb_tensor *big, const nb_tensor *small, const nb_tensor *idx,
                 const nb_tensor *w, int64_t *A, int64_t *nb, int64_t *ns, int64_t *B) {
    /* big and small: [A, n, B] with the same A and B; idx and w: [2, n_out] */
    if (big->dtype != NB_F32 || small->dtype != NB_F32 || idx->dtype != NB_I32 || w->dtype != NB_F32 ||
        big->ndim != 3 || small->ndim != 3 || idx->ndim != 2 || w->ndim != 2 || !nb_is_contiguous(big) ||
        !nb_is_contiguous(small) || !nb_is_contiguous(idx) || !nb_is_contiguous(w) ||
        big->shape[0] != small->shape[0] || big->shape[2] != small->shape[2] || idx->shape[0] != 2 ||
        w->shape[0] != 2)
        return nb_set_error("%s (cpu): bad operands", op), -1;
    *A = big->shape[0], *nb = big->shape[1], *ns = small->shape[1], *B = big->shape[2];
    return 0;
}

int nb_cpu_lerp_dim(nb_tensor *out, const nb_tensor *x, const nb_tensor *idx, const nb_tensor *w) {
    int64_t A, n_out, n_in, B;
    if (check("lerp_dim", out, x, idx, w, &A, &n_out, &n_in, &B) || idx->shape[1] != n_out ||
        w->shape[1] != n_out)
        return nb_set_error("lerp_dim (cpu): bad operands"), -1;
    const float *X = (const float *)nb_ptr(x), *W0 = (const float *)nb_ptr(w), *W1 = W0 + n_out;
    const int32_t *I0 = (const int32_t *)nb_ptr(idx), *I1 = I0 + n_out;
    float *O = (float *)nb_ptr(out);
#pragma omp parallel for num_threads(nb_nthreads()) if (A * n_out * B > 32768) schedule(static)
    for (int64_t a = 0; a < A; a++) {
        const float *xa = X + a * n_in * B;
        float *y = O + a * n_out * B;
        if (B == 1) { /* the last dim: one element per output */
            for (int64_t o = 0; o < n_out; o++)
                y[o] = W0[o] * xa[I0[o]] + W1[o] * xa[I1[o]];
            continue;
        }
        for (int64_t o = 0; o < n_out; o++, y += B) {
            const float w0 = W0[o], w1 = W1[o], *x0 = xa + (int64_t)I0[o] * B, *x1 = xa + (int64_t)I1[o] * B;
            for (int64_t k = 0; k < B; k++)
                y[k] = w0 * x0[k] + w1 * x1[k];
        }
    }
    return 0;
}

int nb_cpu_lerp_dim_backward(nb_tensor *dx, const nb_tensor *g, const nb_tensor *idx, const nb_tensor *w) {
    int64_t A, n_in, n_out, B;
    if (check("lerp_dim_backward", dx, g, idx, w, &A, &n_in, &n_out, &B) || idx->shape[1] != n_out ||
        w->shape[1] != n_out)
        return nb_set_error("lerp_dim_backward (cpu): bad operands"), -1;
    const float *G = (const float *)nb_ptr(g), *W0 = (const float *)nb_ptr(w), *W1 = W0 + n_out;
    const int32_t *I0 = (const int32_t *)nb_ptr(idx), *I1 = I0 + n_out;
    float *D = (float *)nb_ptr(dx);
    /* each (a, block of B) owns its part of dx: no two threads write one element */
    const int64_t KB = 256, nblk = (B + KB - 1) / KB, work = A * nblk;
#pragma omp parallel for num_threads(nb_nthreads()) if (A * n_out * B > 32768) schedule(static)
    for (int64_t q = 0; q < work; q++) {
        const int64_t a = q / nblk, k0 = (q % nblk) * KB, k1 = k0 + KB < B ? k0 + KB : B;
        float *d = D + a * n_in * B;
        if (k0 == 0 && k1 == B) /* the whole [n_in, B] block at once */
            memset(d, 0, (size_t)(n_in * B) * sizeof *d);
        else
            for (int64_t j = 0; j < n_in; j++)
                memset(d + j * B + k0, 0, (size_t)(k1 - k0) * sizeof *d);
        if (B == 1) { /* the last dim: one element per output */
            for (int64_t o = 0; o < n_out; o++) {
                const float gv = G[a * n_out + o];
                d[I0[o]] += W0[o] * gv;
                d[I1[o]] += W1[o] * gv;
            }
            continue;
        }
        for (int64_t o = 0; o < n_out; o++) {
            const float *gr = G + (a * n_out + o) * B;
            float *d0 = d + (int64_t)I0[o] * B, *d1 = d + (int64_t)I1[o] * B;
            const float w0 = W0[o], w1 = W1[o];
            for (int64_t k = k0; k < k1; k++)
                d0[k] += w0 * gr[k];
            for (int64_t k = k0; k < k1; k++)
                d1[k] += w1 * gr[k];
        }
    }
    return 0;
}
