/* backends/cpu/cpu_decomp.c - the symmetric eigendecomposition, the QR decomposition and the
 * SVD on the CPU: ops/decomp_math.h's and ops/svd_math.h's serial routines (the ones the CUDA kernels run),
 * one matrix per task under OpenMP, each thread with its own double scratch. */
#include <omp.h>
#include <stdlib.h>

#include "backends/cpu/cpu.h"
#include "ops/decomp_math.h"
#include "ops/svd_math.h"

/* Each routine is compiled for AVX2 and for the baseline, the loader picking one for the machine:
 * the row updates run 4 doubles wide (2-2.5x faster), and no sum changes order, so both give the
 * same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_NO_TARGET_CLONES)
#define DEC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DEC_CLONES
#endif

DEC_CLONES static void eigh_one(const float *a, int64_t n, float *w, float *v, double *s) {
    nb_eigh_sym(a, n, w, v, s);
}

DEC_CLONES static void qr_one(const float *a, int64_t m, int64_t n, float *q, int64_t kq, float *r,
                              int64_t kr, double *s) {
    const int64_t k = m < n ? m : n;
    nb_qr_householder(a, m, n, q, kq, r, kr, s, s + m * n, s + m * n + k);
}

DEC_CLONES static void svd_one(const float *a, int64_t m, int64_t n, float *u, float *s, float *vh,
                               double *w) {
    nb_svd_serial(a, m, n, u, s, vh, w);
}

int nb_cpu_eigh(nb_tensor *w, nb_tensor *v, const nb_tensor *a) {
    if (!nb_la_operand(a, NB_F32, 3) || a->shape[1] != a->shape[2] || !nb_la_operand(w, NB_F32, 2) ||
        (v && (!nb_la_operand(v, NB_F32, 3) || !nb_same_shape(v, a))) || w->shape[0] != a->shape[0] ||
        w->shape[1] != a->shape[1])
        return nb_set_error("eigh (cpu): bad operands"), -1;
    const int64_t B = a->shape[0], n = a->shape[1], per = 2 * n * n + 4 * n;
    if (B == 0 || n == 0) return 0;
    const int nt = nb_nthreads();
    double *work = malloc((size_t)per * (size_t)nt * sizeof(double));
    if (!work) return nb_set_error("eigh (cpu): out of memory for %lld doubles", (long long)(per * nt)), -1;
    const float *A = (const float *)nb_ptr(a);
    float *W = (float *)nb_ptr(w), *V = v ? (float *)nb_ptr(v) : NULL;
#pragma omp parallel for num_threads(nt) if (B > 1 && (double)B * n * n * n > 4096) schedule(dynamic)
    for (int64_t b = 0; b < B; b++) {
        double *s = work + (int64_t)omp_get_thread_num() * per;
        eigh_one(A + b * n * n, n, W + b * n, V ? V + b * n * n : NULL, s);
    }
    free(work);
    return 0;
}

int nb_cpu_qr(nb_tensor *q, nb_tensor *r, const nb_tensor *a) {
    if (!nb_la_operand(a, NB_F32, 3) || !nb_la_operand(r, NB_F32, 3) || (q && !nb_la_operand(q, NB_F32, 3)) ||
        r->shape[0] != a->shape[0] || r->shape[2] != a->shape[2] || r->shape[1] > a->shape[1] ||
        (q && (q->shape[0] != a->shape[0] || q->shape[1] != a->shape[1] || q->shape[2] > a->shape[1])))
        return nb_set_error("qr (cpu): bad operands"), -1;
    const int64_t B = a->shape[0], m = a->shape[1], n = a->shape[2], kr = r->shape[1],
                  kq = q ? q->shape[2] : 0;
    const int64_t per = m * n + (m < n ? m : n) + m * kq + (n > kq ? n : kq);
    if (B == 0 || nb_numel(r) + (q ? nb_numel(q) : 0) == 0) return 0;
    const int nt = nb_nthreads();
    double *work = malloc((size_t)(per ? per : 1) * (size_t)nt * sizeof(double));
    if (!work) return nb_set_error("qr (cpu): out of memory for %lld doubles", (long long)(per * nt)), -1;
    const float *A = (const float *)nb_ptr(a);
    float *Q = q ? (float *)nb_ptr(q) : NULL, *R = (float *)nb_ptr(r);
#pragma omp parallel for num_threads(nt) if (B > 1 && (double)B * m * n * n > 4096) schedule(dynamic)
    for (int64_t b = 0; b < B; b++) {
        double *s = work + (int64_t)omp_get_thread_num() * per;
        qr_one(A + b * m * n, m, n, Q ? Q + b * m * kq : NULL, kq, R + b * kr * n, kr, s);
    }
    free(work);
    return 0;
}

int nb_cpu_svd(nb_tensor *s, nb_tensor *u, nb_tensor *vh, const nb_tensor *a) {
    if (!nb_la_operand(a, NB_F32, 3) || !nb_la_operand(s, NB_F32, 2) || (!u) != (!vh))
        return nb_set_error("svd (cpu): bad operands"), -1;
    const int64_t B = a->shape[0], m = a->shape[1], n = a->shape[2], k = m < n ? m : n, r = m < n ? n : m;
    if (s->shape[0] != B || s->shape[1] != k ||
        (u && (!nb_la_operand(u, NB_F32, 3) || !nb_la_operand(vh, NB_F32, 3) || u->shape[0] != B ||
               u->shape[1] != m || u->shape[2] != k || vh->shape[0] != B || vh->shape[1] != k ||
               vh->shape[2] != n)))
        return nb_set_error("svd (cpu): bad operands"), -1;
    const int64_t per = r * k + k * k + r + 4 * k;
    if (B == 0 || k == 0) return 0;
    const int nt = nb_nthreads();
    double *work = malloc((size_t)per * (size_t)nt * sizeof(double));
    if (!work) return nb_set_error("svd (cpu): out of memory for %lld doubles", (long long)(per * nt)), -1;
    const float *A = (const float *)nb_ptr(a);
    float *S = (float *)nb_ptr(s), *U = u ? (float *)nb_ptr(u) : NULL, *VH = vh ? (float *)nb_ptr(vh) : NULL;
#pragma omp parallel for num_threads(nt) if (B > 1 && (double)B * r * k * k > 4096) schedule(dynamic)
    for (int64_t b = 0; b < B; b++) {
        double *w = work + (int64_t)omp_get_thread_num() * per;
        svd_one(A + b * m * n, m, n, U ? U + b * m * k : NULL, S + b * k, VH ? VH + b * k * n : NULL, w);
    }
    free(work);
    return 0;
}
