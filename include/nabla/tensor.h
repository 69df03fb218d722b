/* nabla/tensor.h - N-dimensional tensors: creation, views, data access.
 *
 * A tensor is a view (shape, strides and offset, in elements) over a storage.
 * Views (reshape of a contiguous tensor, permute, transpose, slice, expand,
 * squeeze, unsqueeze) share the storage and copy nothing. Tensors are owned
 * by their context (see nb_ctx) and are never freed one by one. The fields
 * of nb_tensor are public for reading; change them only through the API. */
#ifndef NABLA_TENSOR_H
#define NABLA_TENSOR_H

#include <stdio.h>

#include "nabla/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_storage {
    void *data;       /* first byte (host or device pointer) */
    size_t nbytes;    /* size in bytes */
    nb_device device; /* where it lives */
    nb_ctx *ctx;      /* owner */
    /* bookkeeping of the context and the backward pass (internal: read-only) */
    size_t cap;    /* bytes of the block in the context's arena (>= nbytes) */
    void *chunk;   /* the arena chunk that holds the block */
    uint64_t pass; /* the backward pass that made it (0: made outside one) */
    int32_t refs;  /* holders during that pass */
    bool released; /* given back to the context: its data is no longer valid */
    uint32_t version; /* counts in-place writes (nb_fill_, nb_copy_, ...): autograd checks that
                         what an op recorded was not changed before its backward ran */
} nb_storage;

struct nb_node;

typedef struct nb_tensor {
    nb_dtype dtype;
    nb_device device;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    int64_t stride[NB_MAX_DIMS]; /* in elements; 0 for broadcast dimensions */
    int64_t offset;              /* in elements from storage->data */
    nb_storage *storage;
    nb_ctx *ctx;            /* the context that owns this tensor */
    struct nb_tensor *grad; /* accumulated gradient of a leaf, or NULL */
    struct nb_node *node;   /* the op that made it (autograd), or NULL */
    bool requires_grad;
    const char *name; /* optional, for printing and DOT graphs */
    uint64_t id;      /* unique per process, for graphs */
} nb_tensor;

/* The (ndim, shape) pair of a 0-d tensor, which NB_SHAPE cannot spell: nb_zeros(ctx, NB_F32,
 * NB_SHAPE0). */
#define NB_SHAPE0 0, (const int64_t *)NULL
/* Builds an (ndim, shape) argument pair: nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3)). */
#define NB_SHAPE(...)                                                                                        \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) { __VA_ARGS__ }

/* ---- Creation: each returns a new tensor owned by `ctx` (NULL: the current context, see
 * nb_ctx_use), NULL on error. ---- */

/* A contiguous tensor with uninitialised contents. */
nb_tensor *nb_empty(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape);
/* A tensor filled with zeros. */
nb_tensor *nb_zeros(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape);
/* nb_empty and nb_zeros on device `dev`, owned by `ctx` (freed with it); NULL with an error
 * when that device cannot be used or has no memory left. */
nb_tensor *nb_empty_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape);
nb_tensor *nb_zeros_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape);
/* A tensor filled with ones. */
nb_tensor *nb_ones(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape);
/* A tensor filled with `value` converted to the dtype (for i32: toward zero, clamped to the
 * i32 range, NaN as 0). */
nb_tensor *nb_full(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape, double value);
/* nb_full on device `dev` (nb_full_on(ctx, dt, NB_CUDA, ..., 1) for ones on the GPU); NULL with
 * an error as nb_empty_on. */
nb_tensor *nb_full_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape, double value);
/* A 1-D tensor start, start+step, ... below `end` (above, for step < 0). NULL with an error
 * for a zero or non-finite step, 2^62 or more values, or i32 values outside the i32 range. */
nb_tensor *nb_arange(nb_ctx *ctx, nb_dtype dt, double start, double end, double step);
/* nb_arange on device `dev` (the same values on every device), owned by `ctx`; NULL with an
 * error as nb_arange, or when that device cannot be used. */
nb_tensor *nb_arange_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, double start, double end, double step);
/* A tensor holding a copy of `data` (numel elements of `dt`, row-major). */
nb_tensor *nb_from_data(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape, const void *data);
/* A 0-d f32 tensor holding `value`. */
nb_tensor *nb_scalar(nb_ctx *ctx, float value);
/* Uniform values in [lo, hi) from `rng` (NULL: the global generator). */
nb_tensor *nb_rand(nb_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi, nb_rng *rng);
/* Normal values with `mean` and `std` from `rng` (NULL: the global generator). */
nb_tensor *nb_randn(nb_ctx *ctx, int ndim, const int64_t *shape, float mean, float std, nb_rng *rng);
/* The n x m f32 identity (m < 0: n x n), on the CPU. */
nb_tensor *nb_eye(nb_ctx *ctx, int64_t n, int64_t m);
/* `steps` f32 values from start to end, evenly spaced (torch.linspace's two halves, so both ends
 * are exact; computed in double, then rounded), on the CPU. NULL with an error for negative steps
 * or a non-finite end. */
nb_tensor *nb_linspace(nb_ctx *ctx, double start, double end, int64_t steps);
/* i32 values uniform in [lo, hi) from `rng` (NULL: the global generator), on the CPU (move with
 * nb_to_device). NULL with an error unless lo < hi within the i32 range. */
nb_tensor *nb_randint(nb_ctx *ctx, int ndim, const int64_t *shape, int64_t lo, int64_t hi, nb_rng *rng);
/* A random permutation of 0 .. n-1 (i32 [n]) from `rng` (NULL: the global generator), on the CPU:
 * to shuffle a dataset. */
nb_tensor *nb_randperm(nb_ctx *ctx, int64_t n, nb_rng *rng);
/* n category indices (i32 [n], or [N, n] for rows [N, C]) drawn from each row of `probs` as
 * weights (torch.multinomial: finite, >= 0, not all 0; need not sum to 1), with or without
 * replacement, from `rng` (NULL: the global generator); on probs' device (a GPU's weights are
 * read back), in the current context (else probs'). NULL with an error naming the row and the
 * weight for a bad row, or too many draws without replacement. */
nb_tensor *nb_multinomial(const nb_tensor *probs, int64_t n, bool replacement, nb_rng *rng);
/* A contiguous copy of `t` in `ctx` (NULL ctx: the current context, else t's), on the
 * same device, detached from autograd. */
nb_tensor *nb_clone(nb_ctx *ctx, const nb_tensor *t);
/* A contiguous copy of `t` on `dev` in `ctx` (NULL ctx: the current context, else t's),
 * detached. NULL with an error when `dev` cannot be used or has no memory left. */
nb_tensor *nb_to_device(nb_ctx *ctx, const nb_tensor *t, nb_device dev);

/* ---- In-place updates (no autograd; return 0, or -1 with nb_last_error) ---- */

/* Sets every element of `t` to `value`. */
int nb_fill_(nb_tensor *t, double value);
/* Copies `src` into `dst` (same shape, or broadcastable to it; any strides, devices and dtypes,
 * converting as nb_cast does). 0, or -1 with an error (dst and any graph that recorded it are
 * then unchanged). */
int nb_copy_(nb_tensor *dst, const nb_tensor *src);
/* Fills `t` with normal (mean, std) values drawn from `rng` (NULL: global). */
int nb_randn_(nb_tensor *t, float mean, float std, nb_rng *rng);
/* Fills `t` with uniform [lo, hi) values drawn from `rng` (NULL: global). */
int nb_rand_(nb_tensor *t, float lo, float hi, nb_rng *rng);

/* ---- Facts about a tensor ------------------------------------------------ */

/* Number of elements (1 for a 0-d tensor; 0 for NULL). */
int64_t nb_numel(const nb_tensor *t);
/* Size of dimension `dim` (negative counts from the end); -1 if out of range or t is NULL. */
int64_t nb_size(const nb_tensor *t, int dim);
/* True when the elements are laid out row-major with no gaps (false for NULL). */
bool nb_is_contiguous(const nb_tensor *t);
/* True when a and b have the same shape (two NULLs count as the same). */
bool nb_same_shape(const nb_tensor *a, const nb_tensor *b);
/* Writes the shape as "[2,3,4]" into buf ("(null)" for NULL, truncated to len); returns buf. */
char *nb_shape_str(const nb_tensor *t, char *buf, size_t len);
/* Names a tensor (the string must outlive it; not copied); returns t (NULL-safe). */
nb_tensor *nb_set_name(nb_tensor *t, const char *name);

/* ---- Data access ----------------------------------------------------------- */

/* Pointer to element 0 of a CPU tensor (honours offset; strides apply), or
 * NULL for a device tensor. Owned by the tensor's context. */
void *nb_data(const nb_tensor *t);
/* Same as nb_data, typed as float (f32 tensors only, else NULL). */
float *nb_data_f32(const nb_tensor *t);
/* The value of a one-element tensor as a double (any device); NAN on error. */
double nb_item(const nb_tensor *t);
/* Element at a multi-index (ndim indices) as a double; NAN on error. */
double nb_get(const nb_tensor *t, const int64_t *index);
/* Copies all elements row-major into `dst` (numel * dtype size bytes),
 * converting to `dt`; any device and strides. 0, or -1 on error. */
int nb_to_array(const nb_tensor *t, nb_dtype dt, void *dst);

/* ---- Context memory statistics -------------------------------------------- */

/* High-water mark of nb_ctx_used (live bytes: headers and data, minus storages
 * given back by the backward pass) since the context was made or the last
 * nb_ctx_reset_peak; 0 for NULL. */
size_t nb_ctx_peak(const nb_ctx *ctx);
/* Restarts the high-water mark at the bytes live now; returns the old mark (0 for NULL). */
size_t nb_ctx_reset_peak(nb_ctx *ctx);

/* ---- Printing ------------------------------------------------------------- */

/* Prints shape, dtype, device and values (summarised when large) to `f` (NULL: stdout);
 * "tensor(NULL)" for a NULL t. */
void nb_print(const nb_tensor *t, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
