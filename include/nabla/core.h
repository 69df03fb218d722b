/* nabla/core.h - dtypes, devices, errors, memory contexts, threads and RNG. */
#ifndef NABLA_CORE_H
#define NABLA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_MAX_DIMS 8

/* Element types. Every tensor carries one. f16 and bf16 are storage types: tensors of them can
 * be made, filled, copied, cast to and from f32 and i32, moved between devices, saved and loaded;
 * ops compute in f32 (cast first). */
typedef enum { NB_F32 = 0, NB_I32 = 1, NB_F16 = 2, NB_BF16 = 3, NB_DTYPE_COUNT } nb_dtype;

/* Where a tensor's storage lives. */
typedef enum { NB_CPU = 0, NB_CUDA = 1, NB_DEVICE_COUNT } nb_device;

/* Size in bytes of one element of `dt`; 0 for an invalid dtype. */
size_t nb_dtype_size(nb_dtype dt);
/* Short name of a dtype ("f32", "i32", ...; "?" when invalid); a static string. */
const char *nb_dtype_name(nb_dtype dt);
/* Name of a device ("cpu", "cuda"; "?" when invalid); a static string. */
const char *nb_device_name(nb_device dev);

/* ---- Errors ------------------------------------------------------------
 * Library calls never abort on user error: they return NULL (or -1) and
 * leave one message, per thread, naming the op and the shapes involved. */

/* The last error message of this thread, or "" when none. Owned by nabla. A call that
 * succeeds leaves it as it was (as errno): read it only after a call reported failure, or
 * nb_clear_error() first. */
const char *nb_last_error(void);
/* Clears this thread's last error. */
void nb_clear_error(void);
/* Sets this thread's error message (printf-style); returns NULL for chaining. */
void *nb_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Contexts (arenas) ---------------------------------------------------
 * Every tensor lives in a context, which owns its memory. Long-lived tensors
 * (parameters, optimiser state) go in one context; everything a training
 * step makes goes in a step context that is reset after the step. A reset
 * keeps the context's chunks, so once a loop's first step has run, later
 * steps of the same shape allocate nothing from the operating system. */
typedef struct nb_ctx nb_ctx;

/* A new empty context whose chunks are at least `chunk_bytes` (0: 32 MiB), owned by the
 * caller: free it with nb_ctx_free. NULL with an error when out of memory or for a chunk
 * size above 2^60. */
nb_ctx *nb_ctx_new(size_t chunk_bytes);
/* Frees a context and every tensor in it (NULL is a no-op). */
void nb_ctx_free(nb_ctx *ctx);
/* Forgets every tensor in `ctx` but keeps its memory for reuse. Tensors made
 * in it before the reset must not be used afterwards. */
void nb_ctx_reset(nb_ctx *ctx);
/* Bytes handed out since the last reset (all devices); 0 for NULL. */
size_t nb_ctx_used(const nb_ctx *ctx);
/* Bytes reserved from the system (all devices); 0 for NULL. */
size_t nb_ctx_reserved(const nb_ctx *ctx);
/* How many times this context has asked the system for memory, in total; 0 for NULL. */
uint64_t nb_ctx_os_allocs(const nb_ctx *ctx);

/* Makes `ctx` the current context of this thread, where ops put their
 * results; returns the previous one (may be NULL). With no current context,
 * an op puts its result in the context of its first input. */
nb_ctx *nb_ctx_use(nb_ctx *ctx);
/* This thread's current context, or NULL. */
nb_ctx *nb_ctx_current(void);

/* ---- Threads -------------------------------------------------------------- */

/* Sets the number of CPU threads kernels use (n <= 0: all cores; at most 1024). The
 * default comes from NABLA_NUM_THREADS (1..1024; anything else is reported on stderr
 * once and ignored), else the number of cores. On a machine other busy processes share,
 * start the program with OMP_WAIT_POLICY=passive (or use fewer threads): spinning OpenMP
 * threads can make a small model many times slower there (docs/performance.md). */
void nb_set_num_threads(int n);
/* The number of CPU threads kernels use. */
int nb_get_num_threads(void);

/* ---- Random numbers ---------------------------------------------------------
 * A counter-based generator (Philox4x32-10): value i of a draw depends only on
 * (seed, offset + i), so the same seed gives bit-identical numbers on every
 * run, with any thread count, and on every backend. */
typedef struct nb_rng {
    uint64_t seed;   /* the key */
    uint64_t offset; /* the next unused counter (in blocks of 4 values) */
} nb_rng;

/* Initialises `r` with `seed` and offset 0 (NULL: nothing). */
void nb_rng_init(nb_rng *r, uint64_t seed);
/* The global generator used when an op is given a NULL generator: process-wide, owned by
 * nabla (never freed by the caller); never NULL. */
nb_rng *nb_rng_global(void);
/* Reseeds the global generator. */
void nb_manual_seed(uint64_t seed);
/* Philox4x32-10 of counter `ctr` under key `seed`: four uniform 32-bit words
 * (out NULL: nothing). */
void nb_philox(uint64_t seed, uint64_t ctr, uint32_t out[4]);
/* One uniform float in [0, 1) from the generator (advances it; NULL: the
 * global generator). */
float nb_rng_uniform(nb_rng *r);

/* Library version string ("major.minor.patch"); a static string. */
const char *nb_version(void);

#ifdef __cplusplus
}
#endif
#endif
