/* backends/cpu/cpu_optim.c - the fused AdamW update, one sweep over the
 * parameter, its gradient and both moments.
 *
 * The sweep is memory-bound (4 arrays read, 3 written), so it must run at full vector width:
 * with errno semantics for sqrtf (the build does not pass -fno-math-errno) compilers keep the
 * scalar loop, so x86-64 with AVX-512 gets an explicit 16-lane version. Both versions do the
 * same IEEE operations in the same order (products, sums, a correctly rounded square root and
 * a division, no fused multiply-add), so they give bit-identical results. */
#include <math.h>
#include <omp.h>

#include "backends/cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define OPT_HAVE_AVX512 1
#endif

typedef struct {
    float b1, b2, eps, step, sbc2, decay;
} adamw_k;

/* Elements [i0, i1) of one AdamW step (the portable version). */
static void adamw_range(float *restrict P, const float *restrict G, float *restrict M, float *restrict V,
                        int64_t i0, int64_t i1, const adamw_k *k) {
    const float b1 = k->b1, b2 = k->b2, c1 = 1.0f - k->b1, c2 = 1.0f - k->b2;
    for (int64_t i = i0; i < i1; i++) {
        float gi = G[i];
        float mi = b1 * M[i] + c1 * gi;
        float vi = b2 * V[i] + c2 * gi * gi;
        M[i] = mi;
        V[i] = vi;
        P[i] = P[i] * k->decay - k->step * mi / (sqrtf(vi) / k->sbc2 + k->eps);
    }
}

#ifdef OPT_HAVE_AVX512
/* The same, 16 lanes at a time, the tail through the portable loop. */
__attribute__((target("avx512f"))) static void adamw_range_avx512(float *restrict P, const float *restrict G,
                                                                  float *restrict M, float *restrict V,
                                                                  int64_t i0, int64_t i1, const adamw_k *k) {
    const __m512 b1 = _mm512_set1_ps(k->b1), b2 = _mm512_set1_ps(k->b2);
    const __m512 c1 = _mm512_set1_ps(1.0f - k->b1), c2 = _mm512_set1_ps(1.0f - k->b2);
    const __m512 decay = _mm512_set1_ps(k->decay), step = _mm512_set1_ps(k->step);
    const __m512 sbc2 = _mm512_set1_ps(k->sbc2), eps = _mm512_set1_ps(k->eps);
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
        __m512 g = _mm512_loadu_ps(G + i);
        __m512 m = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(M + i)), _mm512_mul_ps(c1, g));
        __m512 v =
            _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(V + i)), _mm512_mul_ps(_mm512_mul_ps(c2, g), g));
        _mm512_storeu_ps(M + i, m);
        _mm512_storeu_ps(V + i, v);
        __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v), sbc2), eps);
        __m512 p = _mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(P + i), decay),
                                 _mm512_div_ps(_mm512_mul_ps(step, m), den));
        _mm512_storeu_ps(P + i, p);
    }
    adamw_range(P, G, M, V, i, i1, k);
}
#endif

int nb_cpu_adamw(nb_tensor *p, const nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1, float b2,
                 float eps, float wd, float bc1, float bc2) {
    int64_t n = nb_numel(p);
    float *P = (float *)nb_ptr(p), *M = (float *)nb_ptr(m), *V = (float *)nb_ptr(v);
    const float *G = (const float *)nb_ptr(g);
    const adamw_k k = {b1, b2, eps, lr / bc1, sqrtf(bc2), 1.0f - lr * wd};
    void (*run)(float *restrict, const float *restrict, float *restrict, float *restrict, int64_t, int64_t,
                const adamw_k *) = adamw_range;
#ifdef OPT_HAVE_AVX512
    if (__builtin_cpu_supports("avx512f")) run = adamw_range_avx512;
#endif
    int nt = n > 65536 ? nb_nthreads() : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), c = omp_get_num_threads();
        run(P, G, M, V, n * t / c, n * (t + 1) / c, &k);
    }
    return 0;
}
