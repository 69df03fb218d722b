/* ops/op_util.h - checks and helpers shared by the ops (internal). */
#ifndef NB_OP_UTIL_H
#define NB_OP_UTIL_H

#include "autograd/node.h"
#include "backends/backend.h"
#include "nabla/ops.h"
#include "tensor/internal.h"

/* The broadcast shape of a and b into (ndim, shape); 0 or -1 with a message naming op. */
int nb_broadcast_shape(const char *op, const nb_tensor *a, const nb_tensor *b, int *ndim, int64_t *shape);
/* Normalises a possibly negative dim for an ndim-D tensor; -1 with message when out of range. */
int nb_norm_dim(const char *op, int dim, int ndim);
/* Checks a and b are on the same device; -1 with message otherwise. */
int nb_same_device(const char *op, const nb_tensor *a, const nb_tensor *b);
/* Checks dtype; -1 with message otherwise. */
int nb_check_dtype(const char *op, const nb_tensor *t, nb_dtype dt, const char *what);
/* The backend for t's device; NULL with message. */
const nb_backend *nb_be(const nb_tensor *t);
/* A new contiguous output on a's device in the output context. */
nb_tensor *nb_new_like_shape(const nb_tensor *a, nb_dtype dt, int ndim, const int64_t *shape);
/* True when t's last two dims (t has >= 2) are row-major or transposed: the layouts the
 * backends' matmul reads in place (backends/matmul_layout.c); others need a copy. */
bool nb_mat_usable(const nb_tensor *t);
/* Reports that the backend lacks an op. */
void *nb_unsupported(const char *op, const nb_backend *be);
/* Rewrites a last error "from: ..." as "to: ..." (an op composed of another reports as itself). */
void nb_rename_error(const char *from, const char *to);
/* For an op composed of others: when r is NULL, the error of whichever inner op failed is said of
 * `op` ("mean: cannot average over zero elements" -> "batch_norm: cannot average ..."). Returns r. */
nb_tensor *nb_as_op(nb_tensor *r, const char *op);
/* A tensor of dt and the given shape copied from host `data` onto like's device, in the context
 * of an op on `like` (nb_out_ctx): the index, mask and weight tables that composed ops build on
 * the host. NULL with an error. nb_host_1d: the same for n values in one dim. */
nb_tensor *nb_host_like(const nb_tensor *like, nb_dtype dt, int ndim, const int64_t *shape, const void *data);
nb_tensor *nb_host_1d(const nb_tensor *like, nb_dtype dt, int64_t n, const void *data);
/* The n x n identity (f32) on like's device, in like's output context; NULL with an error. */
nb_tensor *nb_eye_like(const nb_tensor *like, int64_t n);
/* t's values contiguous on the host, for the ops that read them back (t itself when it already
 * is; else a copy in t's output context). NULL with an error. */
nb_tensor *nb_host_copy(nb_tensor *t);
/* The flat row-major positions (i32, on m's device) where the f32 mask m is nonzero, read back
 * on the host (ops/scatter.c), and their count; NULL with an error under op. */
nb_tensor *nb_mask_positions(const char *op, nb_tensor *m, int64_t *count);
/* idx (i32) with its negative entries wrapped to n + i, as torch's (read back on the host;
 * idx itself when none is negative). NULL with an error. */
nb_tensor *nb_wrap_index(nb_tensor *idx, int64_t n);
/* A 0-d f32 constant v on like's device, in the context ops write to (nb_out_ctx); NULL on error. */
nb_tensor *nb_scalar_like(const nb_tensor *like, float v);
/* sqrt whose gradient is 0 where the result is 0 (nb_std's; ops/elementwise.c). */
nb_tensor *nb_std_sqrt(nb_tensor *a);
/* Shape string helper for messages: up to 4 per call site. */
#define NB_SHP(t, buf) nb_shape_str((t), (buf), sizeof(buf))

/* Propagates NULL inputs without touching the error message; with none set, says which input
 * of `name` was NULL. NB_NULL_GUARD names the enclosing function. */
#define NB_NULL_GUARD_NAMED(name, ...)                                                                       \
    do {                                                                                                     \
        const void *nb_guard_[] = {__VA_ARGS__};                                                             \
        for (size_t nb_gi_ = 0; nb_gi_ < sizeof nb_guard_ / sizeof *nb_guard_; nb_gi_++)                     \
            if (!nb_guard_[nb_gi_]) {                                                                        \
                /* an earlier failed call's message stays; otherwise say what was NULL */                    \
                if (!nb_last_error()[0]) nb_set_error("%s: NULL input %zu", (name), nb_gi_);                 \
                return NULL;                                                                                 \
            }                                                                                                \
    } while (0)
#define NB_NULL_GUARD(...) NB_NULL_GUARD_NAMED(__func__, __VA_ARGS__)

#endif
