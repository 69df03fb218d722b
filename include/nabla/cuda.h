/* nabla/cuda.h - CUDA-specific controls and facts.
 *
 * Tensors move to the GPU with nb_to_device(ctx, t, NB_CUDA) and back with
 * nb_to_device(ctx, t, NB_CPU); every op runs on the device of its inputs,
 * and inputs on different devices are an error. These functions exist only in
 * builds with the CUDA backend (the Makefile defines NB_WITH_CUDA=1 for
 * them); a binary built with it still starts on a machine without a GPU or a
 * driver, and nb_cuda_available then says why CUDA cannot be used. */
#ifndef NABLA_CUDA_H
#define NABLA_CUDA_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when a GPU is usable; else false, with *why (when why != NULL) set to
 * one line saying why (owned by nabla, valid for the life of the process). */
bool nb_cuda_available(const char **why);

/* Allows (true) or forbids (false, the default unless NABLA_TF32=1 is set)
 * TF32 tensor-core math in CUDA matmuls: faster, with a 10-bit mantissa. */
void nb_cuda_allow_tf32(bool allow);
/* Whether TF32 math is currently allowed for CUDA matmuls. */
bool nb_cuda_tf32_allowed(void);

/* Facts about the GPU in use: name (into name[len]), compute capability and
 * memory in bytes (any pointer may be NULL). 0, or -1 with nb_last_error(). */
int nb_cuda_device_info(char *name, size_t len, int *cc_major, int *cc_minor, size_t *total_mem);

/* Device memory held by nabla's caching allocator: in use, cached for reuse,
 * and the peak in use so far (any pointer may be NULL; zeros without a GPU). */
void nb_cuda_memory_stats(size_t *in_use, size_t *cached, size_t *peak);
/* Returns the cached (unused) device memory to the driver. */
void nb_cuda_empty_cache(void);

/* Waits until every queued GPU operation has finished (for timing). 0, or -1
 * with nb_last_error() when a kernel failed or no GPU is usable. */
int nb_cuda_synchronize(void);

#ifdef __cplusplus
}
#endif
#endif
