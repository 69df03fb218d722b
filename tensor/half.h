/* tensor/half.h - conversions between f32 and the 16-bit storage types f16 (IEEE half) and
 * bf16 (the top half of an f32), rounding to nearest even (internal).
 *
 * f16 and bf16 are storage types in nabla: tensors of them can be made, filled, copied, saved
 * and loaded, and cast to and from f32 and i32 on the CPU and on CUDA (whose kernels in
 * backends/cuda/cuda_sources.c compute exactly these); arithmetic runs in f32. A double (a fill
 * value, an arange step) is rounded to f32 first, as PyTorch does. */
#ifndef NB_TENSOR_HALF_H
#define NB_TENSOR_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t nb_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float nb_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* f32 -> f16, nearest even; past 65504 (from 65520 on) gives infinity, NaN a quiet NaN. */
static inline uint16_t nb_f32_to_f16(float f) {
    uint32_t u = nb_f32_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (a >= 0x47800000u) return (uint16_t)(sign | 0x7c00u); /* 65536 and above */
    if (a < 0x38800000u) {
        /* below 2^-14, f16's smallest normal: adding 0.5 puts the f16 subnormal's bits at the
         * bottom of the f32 mantissa, rounded to nearest even by the addition itself */
        float r = nb_bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (nb_f32_bits(r) - 0x3f000000u));
    }
    uint32_t odd = (a >> 13) & 1u;
    a += 0xc8000fffu + odd; /* rebias the exponent (-112 << 23) and round; may carry to inf */
    return (uint16_t)(sign | (a >> 13));
}

/* f16 -> f32, exact. */
static inline float nb_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return nb_bits_f32(sign | 0x7f800000u | (m << 13));
    if (e) return nb_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
    float v = (float)m * 0x1p-24f; /* zero or subnormal: exact */
    return sign ? -v : v;
}

/* f32 -> bf16, nearest even; NaN stays a (quiet) NaN. */
static inline uint16_t nb_f32_to_bf16(float f) {
    uint32_t u = nb_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* bf16 -> f32, exact. */
static inline float nb_bf16_to_f32(uint16_t b) { return nb_bits_f32((uint32_t)b << 16); }

#endif
