/* backends/cpu/cpu_math.h - helpers shared by the CPU's fused kernels
 * (cpu_nn.c, cpu_attention.c): a vectorisable exp and per-thread scratch. */
#ifndef NB_CPU_MATH_H
#define NB_CPU_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* exp(x) for float, vectorisable: Cephes range reduction and polynomial; 0 below -87, +inf
 * above 88; NaN stays NaN. Relative error about 1e-7. */
static inline float nb_cpu_expf(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    union {
        float f;
        uint32_t u;
    } t, s;
    t.f = xc * 1.44269504088896341f + 12582912.0f; /* round(x / ln 2) in the low bits */
    float n = t.f - 12582912.0f;
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    s.u = (t.u - 0x4B400000u + 127u) << 23; /* 2^n */
    float out = y * s.f;
    out = x > 88.0f ? HUGE_VALF : out;
    return x < -87.0f ? 0.0f : out;
}

/* Scratch users: each has its own per-thread buffer. */
enum {
    NB_SCRATCH_NN = 0,
    NB_SCRATCH_ATTENTION = 1,
    NB_SCRATCH_SORT = 2,
    NB_SCRATCH_WINDOW = 3,
    NB_SCRATCH_CONV = 4,
    NB_SCRATCH_DW_PAD = 5,
    NB_SCRATCH_SLOTS = 6
};

/* This thread's scratch buffer `slot` of at least n floats, 64-byte aligned;
 * it grows only when a bigger size is asked for and stays reachable for the
 * life of the process. NULL when out of memory (no message: it may be called
 * inside a parallel region). */
float *nb_cpu_scratch(int slot, size_t n);
/* How many times the scratch buffers have asked the system for memory since start-up (for tests
 * that check a training loop allocates nothing after its first step). */
uint64_t nb_cpu_scratch_allocs(void);

#endif
