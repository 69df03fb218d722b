/* tensor/internal.h - helpers shared by the library's own files (not public). */
#ifndef NB_TENSOR_INTERNAL_H
#define NB_TENSOR_INTERNAL_H

#include "nabla/core.h"
#include "nabla/tensor.h"

/* Memory from a context's host arena, aligned to `align` (power of two),
 * zeroed. NULL with an error when out of memory. Lives until reset/free. */
void *nb_ctx_alloc(nb_ctx *ctx, size_t nbytes, size_t align);
/* Host memory for large, long-lived buffers (context chunks, GEMM packing buffers), 64-byte
 * aligned and released with free(). Blocks of 2 MiB or more are 2 MiB aligned and advised as
 * transparent huge pages (fewer TLB misses in the strided reads of big matrices). NULL when out
 * of memory. */
void *nb_host_alloc_big(size_t nbytes);
/* Whether NABLA_DEBUG_EXACT_ALLOC is set (read once): device storages are then each their own
 * allocation of exactly their size, never shared, cached or reused (tensor/ctx.c, the device
 * allocators), so that the CUDA emulator catches a kernel running past a tensor's end. */
bool nb_debug_exact_alloc(void);
/* A storage of `nbytes` on `dev` from the context's arena for that device. */
nb_storage *nb_storage_new(nb_ctx *ctx, nb_device dev, size_t nbytes);
/* Gives a storage's block back to its context before the reset: later storages
 * of that context and device may reuse it (same calls, same addresses). The
 * caller guarantees nothing reads it again. No-op when NULL, already
 * released, or not made by nb_storage_new. */
void nb_storage_release(nb_storage *s);
/* Sets the stamp (storage->pass) this thread's new storages get; returns the
 * previous one. The backward pass sets its own and restores the old one. */
uint64_t nb_storage_set_pass(uint64_t pass);
/* A new contiguous tensor with fresh storage, uninitialised. */
nb_tensor *nb_tensor_new(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape);
/* A descriptor (no allocation) of `a` broadcast to `shape`; 0, or -1 when
 * the shapes are not broadcast-compatible (no message set). */
int nb_expand_desc(const nb_tensor *a, int ndim, const int64_t *shape, nb_tensor *out);
/* A new tensor header sharing `base`'s storage, with the given geometry. */
nb_tensor *nb_tensor_view(nb_ctx *ctx, const nb_tensor *base, int ndim, const int64_t *shape,
                          const int64_t *stride, int64_t offset);
/* The source of an in-place update of dst, safe to read while dst is written: src itself, or,
 * when it overlaps dst's memory in another layout (a shifted or transposed view of the same
 * storage), a copy made in a new context *tmp (the caller frees it; NULL when none was needed).
 * NULL with a message when the copy fails. */
const nb_tensor *nb_unaliased(const nb_tensor *dst, const nb_tensor *src, nb_ctx **tmp);
/* The context an op's result goes in: the current one, else the first input's. */
nb_ctx *nb_out_ctx(const nb_tensor *first);
/* Fills `stride` with row-major strides for `shape`. */
void nb_contig_strides(int ndim, const int64_t *shape, int64_t *stride);
/* Product of a shape. */
int64_t nb_shape_numel(int ndim, const int64_t *shape);
/* 0 when t can be written in place; -1 with an error naming op when t is NULL or a broadcast
 * view (a stride-0 dim of size > 1: one element would be written several times, racing). */
int nb_check_writable(const char *op, const nb_tensor *t);
/* Counts an in-place write to t's storage (storage->version, which autograd checks): call it
 * once the write is sure to be attempted, after every argument check, so that a call refused
 * for a bad argument leaves recorded graphs usable. */
void nb_mark_written(const nb_tensor *t);
/* Formats a shape as "[a,b,c]" into buf. */
char *nb_fmt_shape(int ndim, const int64_t *shape, char *buf, size_t len);
/* Number of CPU threads kernels should use. */
int nb_nthreads(void);
/* A fresh process-unique id. */
uint64_t nb_next_id(void);
/* Ensures the library is initialised (threads from the environment, anomaly). */
void nb_init_once(void);

#endif
