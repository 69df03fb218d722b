/* ops/linalg.h - helpers the linear-algebra ops share (ops/linalg.c, ops/decomp.c; internal). */
#ifndef NB_OPS_LINALG_H
#define NB_OPS_LINALG_H

#include "ops/op_util.h"

/* a is f32 with >= 2 dims, the last two equal and at most 2^31 - 1; 0, or -1 with an error
 * naming op and `what` */
int nb_la_check_square(const char *op, const nb_tensor *a, const char *what);
/* A descriptor of contiguous t viewed as [B, ...its last `keep` dims], the others folded into B
 * (for the backends' calls only: it shares t's storage and owns nothing). */
nb_tensor nb_la_folded(const nb_tensor *t, int keep);
/* A new contiguous f32 copy of t's values, not recorded for autograd; NULL with an error. */
nb_tensor *nb_la_dense_copy(const nb_tensor *t);
/* X = op(T)^-1 B for T [..., n, n] triangular (upper or lower; op(T) = T^T when trans; unit:
 * diagonal read as 1) and B [..., n, k] with T's batch dims; recorded (both gradients). */
nb_tensor *nb_la_trisolve(nb_tensor *t, nb_tensor *b, bool upper, bool trans, bool unit);

#endif
