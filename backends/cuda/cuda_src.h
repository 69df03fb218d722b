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

/* The scalar helpers of ops/elementwise_math.h, stringified into the kernel sources. */
#define NB_EW_MATH_NO_EMIT
#include "ops/elementwise_math.h"
#define NB_CU_MATH_FUNCS(X) NB_EW_MATH_FUNCS(X)
#define NB_DECOMP_NO_EMIT
#include "ops/decomp_math.h"
#define NB_SVD_NO_EMIT
#include "ops/svd_math.h"

/* Module sources defined in cuda_src_reduce.c and cuda_src_nn.c. */
extern const char nb_cu_reduce_src[], nb_cu_index_src[], nb_cu_nn_src[], nb_cu_attn_src[], nb_cu_window_src[],
    nb_cu_linalg_src[];

#endif
