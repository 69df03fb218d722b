/* bench/bench_peak.c - the machine's measured single-precision FMA peak: the ceiling every GEMM
 * number in docs/performance.md is read against.
 *
 * Each thread runs 12 independent chains of fused multiply-adds on registers only (no memory
 * traffic), enough to cover the FMA latency on two pipes, for about `secs` seconds; GFLOP/s =
 * 2 x lanes x FMAs / time. Printed for 1 thread and for all threads (OpenMP), with the best of
 * several repetitions, for each vector width the CPU has: AVX-512 and AVX2 on x86-64, NEON on
 * aarch64, scalar fmaf elsewhere.
 *
 * usage: bench_peak [secs per measurement, default 0.3] */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NB_PEAK_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define NB_PEAK_NEON 1
#endif
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHAINS 12
#define INNER 1000

/* The 12 chains as separate variables (an array would not stay in registers at -O2). */
#define CH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#ifdef NB_PEAK_X86
/* Runs `iters` x INNER x CHAINS FMAs of 16 lanes; returns a value the compiler cannot drop. */
__attribute__((target("avx512f"), noinline)) static float fma512(long iters, float seed) {
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define DECL(j) __m512 c##j = _mm512_set1_ps(seed + (float)j);
#define STEP(j) c##j = _mm512_fmadd_ps(c##j, a, b);
#define SUM(j) s = _mm512_add_ps(s, c##j);
    CH(DECL)
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < INNER; k++) {
            CH(STEP)
        }
    __m512 s = _mm512_setzero_ps();
    CH(SUM)
    return _mm512_reduce_add_ps(s);
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"), noinline)) static float fma256(long iters, float seed) {
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define DECL(j) __m256 c##j = _mm256_set1_ps(seed + (float)j);
#define STEP(j) c##j = _mm256_fmadd_ps(c##j, a, b);
#define SUM(j) s = _mm256_add_ps(s, c##j);
    CH(DECL)
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < INNER; k++) {
            CH(STEP)
        }
    __m256 s = _mm256_setzero_ps();
    CH(SUM)
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
#undef DECL
#undef STEP
#undef SUM
}
#endif

#ifdef NB_PEAK_NEON
/* The same with NEON's 4 lanes (vfmaq_f32(b, c, a) = b + c * a, fused). */
__attribute__((noinline)) static float fma_neon(long iters, float seed) {
    const float32x4_t a = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-7f);
#define DECL(j) float32x4_t c##j = vdupq_n_f32(seed + (float)j);
#define STEP(j) c##j = vfmaq_f32(b, c##j, a);
#define SUM(j)  s = vaddq_f32(s, c##j);
    CH(DECL)
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < INNER; k++) {
            CH(STEP)
        }
    float32x4_t s = vdupq_n_f32(0.0f);
    CH(SUM)
    return vaddvq_f32(s);
#undef DECL
#undef STEP
#undef SUM
}
#endif

/* Scalar fmaf, one lane: the fallback of other architectures. */
__attribute__((noinline)) static float fma_scalar(long iters, float seed) {
#define DECL(j) float c##j = seed + (float)j;
#define STEP(j) c##j = fmaf(c##j, 0.999999f, 1e-7f);
#define SUM(j)  s += c##j;
    CH(DECL)
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < INNER; k++) {
            CH(STEP)
        }
    float s = 0.0f;
    CH(SUM)
    return s;
#undef DECL
#undef STEP
#undef SUM
}

/* The kernels of this build: name, function, lanes, and whether this CPU runs it. */
typedef struct {
    const char *isa;
    float (*fn)(long, float);
    int lanes;
} kernel;

static int kernels(kernel *k) {
    int n = 0;
#ifdef NB_PEAK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        k[n++] = (kernel){"avx512f", fma512, 16};
    else
        printf("%-8s not supported by this CPU\n", "avx512f");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        k[n++] = (kernel){"avx2", fma256, 8};
    else
        printf("%-8s not supported by this CPU\n", "avx2");
#elif defined(NB_PEAK_NEON)
    k[n++] = (kernel){"neon", fma_neon, 4};
#endif
    if (n == 0) k[n++] = (kernel){"scalar", fma_scalar, 1};
    return n;
}

/* GFLOP/s of `threads` threads each running the kernel for about secs; best of 3. */
static double measure(const kernel *k, int threads, double secs, float *sink) {
    float (*fn)(long, float) = k->fn;
    const int lanes = k->lanes;
    long iters = 10;
    double t0 = now();
    *sink += fn(iters, 1.0f);
    double dt = now() - t0;
    iters = (long)(iters * secs / (dt > 1e-6 ? dt : 1e-6)) + 1;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        float s = 0;
        double t = now();
#pragma omp parallel num_threads(threads) reduction(+ : s)
        s += fn(iters, (float)omp_get_thread_num());
        double el = now() - t;
        *sink += s;
        double gf = 2.0 * lanes * CHAINS * (double)INNER * (double)iters * threads / el / 1e9;
        if (gf > best) best = gf;
    }
    return best;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    if (!(secs > 0 && secs < 60)) {
        fprintf(stderr, "bench_peak: secs must be in (0, 60), got '%s'\n", argv[1]);
        return 2;
    }
    int nt = omp_get_max_threads();
    float sink = 0;
    printf("bench_peak: FP32 FMA throughput from registers (%d chains, best of 3, %.2f s each)\n",
           CHAINS, secs);
    kernel ks[4];
    const int nk = kernels(ks);
    for (int i = 0; i < nk; i++) {
        const char *isa = ks[i].isa;
        double one = measure(&ks[i], 1, secs, &sink), all = measure(&ks[i], nt, secs, &sink);
        printf("%-8s 1 thread %7.1f GFLOP/s   %d threads %7.1f GFLOP/s\n", isa, one, nt, all);
        printf("RESULT peak %s threads=1 gflops=%.1f\nRESULT peak %s threads=%d gflops=%.1f\n", isa, one,
               isa, nt, all);
    }
    return sink == 12345.0f ? 1 : 0; /* keeps the results live */
}
