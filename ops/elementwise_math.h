/* ops/elementwise_math.h - scalar helpers used by ops/elementwise.def.
 * Written so that the same text compiles as C (CPU) and as CUDA C (NVRTC);
 * the CUDA backend embeds this file's functions in its kernel sources. */
#ifndef NB_ELEMENTWISE_MATH_H
#define NB_ELEMENTWISE_MATH_H

#ifndef __CUDACC_RTC__
#include <math.h>
#define NB_DEVFN static inline
#else
#define NB_DEVFN static __device__ __forceinline__
#endif

/* GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
NB_DEVFN float nb_gelu_f(float x) {
    const float k = 0.7978845608028654f;
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

/* d/dx of nb_gelu_f */
NB_DEVFN float nb_gelu_df(float x) {
    const float k = 0.7978845608028654f;
    float t = tanhf(k * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);
}

#endif
