/* backends/cuda/cuda_src.h - helpers for writing CUDA C kernel sources inside C files
 * (internal).
 *
 * Kernel code is written as the argument of NB_CU_CODE(...), which the C
 * preprocessor turns into one string literal: the code stays readable (and is
 * checked for balanced brackets by the C compiler) without quoting every line.
 * Comments inside are dropped by the preprocessor; preprocessor directives cannot
 * appear inside (put them in plain string pieces instead). The strings are
 * compiled at run time by NVRTC (backends/cuda/cuda_module.c). */
#ifndef NB_CUDA_SRC_H
#define NB_CUDA_SRC_H

#define NB_CU_CODE(...) #__VA_ARGS__ "\n"
#define NB_CU_EMIT(...) __VA_ARGS__

/* The scalar helpers of ops/elementwise_math.h, in a form that can be both
 * stringified into kernel sources (X = NB_CU_CODE) and compiled as C on the
 * host (X = NB_CU_EMIT), so that tests/test_cuda.c can check on any machine
 * that they compute exactly what the CPU backend's copy computes. NB_DEVFN is
 * "static inline" in C and "__device__ __forceinline__" in CUDA. */
#define NB_CU_MATH_FUNCS(X)                                                                      \
    X(NB_DEVFN float nb_gelu_f(float x) {                                                       \
        const float k = 0.7978845608028654f;                                                    \
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));                      \
    } NB_DEVFN float nb_gelu_df(float x) {                                                      \
        const float k = 0.7978845608028654f;                                                    \
        float t = tanhf(k * (x + 0.044715f * x * x * x));                                       \
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x); \
    })

/* Module sources defined in cuda_src_reduce.c and cuda_src_nn.c. */
extern const char nb_cu_reduce_src[], nb_cu_index_src[], nb_cu_nn_src[], nb_cu_attn_src[], nb_cu_window_src[];

#endif
