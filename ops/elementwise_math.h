/* ops/elementwise_math.h - scalar helpers used by ops/elementwise.def, written once for both
 * backends. NB_EW_MATH_FUNCS(X) holds their text: X = NB_EW_EMIT compiles it here as C (the CPU
 * backend, NB_DEVFN "static inline"), X = NB_CU_CODE stringifies it into the CUDA kernel
 * sources (backends/cuda/cuda_sources.c; NB_DEVFN "__device__ __forceinline__" there). */
#ifndef NB_ELEMENTWISE_MATH_H
#define NB_ELEMENTWISE_MATH_H

#include <math.h>

#define NB_EW_EMIT(...) __VA_ARGS__

/* nb_gelu_f: GELU, tanh approximation (GPT-2), 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
 * nb_gelu_df its derivative. nb_remainder_f: a - b floor(a / b), the sign of the divisor, as
 * torch.remainder (fmod, then b added when the signs differ). nb_floordiv_f: floor(a / b) as
 * torch's div(rounding_mode="floor") computes it, exact where a / b would round up across an
 * integer (remainder's gradient in b is -g times it). */
#define NB_EW_MATH_FUNCS(X)                                                                                  \
    X(                                                                                                       \
        NB_DEVFN float nb_gelu_f(float x) {                                                                  \
            const float k = 0.7978845608028654f;                                                             \
            return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));                               \
        } NB_DEVFN float nb_gelu_df(float x) {                                                               \
            const float k = 0.7978845608028654f;                                                             \
            float t = tanhf(k * (x + 0.044715f * x * x * x));                                                \
            return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);    \
        } NB_DEVFN float nb_remainder_f(float a, float b) {                                                  \
            float m = fmodf(a, b);                                                                           \
            if (m != 0.0f && (b < 0.0f) != (m < 0.0f)) m += b;                                               \
            return m;                                                                                        \
        } NB_DEVFN float nb_floordiv_f(float a, float b) {                                                   \
            if (b == 0.0f) return a / b;                                                                     \
            const float m = fmodf(a, b);                                                                     \
            float d = (a - m) / b;                                                                           \
            if (m != 0.0f && (b < 0.0f) != (m < 0.0f)) d -= 1.0f;                                            \
            if (d == 0.0f) return copysignf(0.0f, a / b);                                                    \
            float f = floorf(d);                                                                             \
            if (d - f > 0.5f) f += 1.0f;                                                                     \
            return f;                                                                                        \
        })

#ifndef NB_EW_MATH_NO_EMIT
#define NB_DEVFN static inline
NB_EW_MATH_FUNCS(NB_EW_EMIT)
#undef NB_DEVFN
#endif

#endif
