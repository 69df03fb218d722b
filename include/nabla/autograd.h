/* nabla/autograd.h - reverse-mode automatic differentiation.
 *
 * Define-by-run: when grad mode is on and an input requires grad, an op
 * records a node (op, inputs, saved values) on its output. nb_backward walks
 * the nodes behind a scalar in reverse topological order and accumulates (+=)
 * into the `grad` of every leaf that requires grad. */
#ifndef NABLA_AUTOGRAD_H
#define NABLA_AUTOGRAD_H

#include <stdio.h>

#include "nabla/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a leaf tensor as requiring grad (or not); returns t. NULL for a NULL t, or with a
 * message when turning it on for a tensor that is not f32, or off for an op's result (not a
 * leaf: nb_detach gives a tensor without history). Turning it on for an op's result changes
 * nothing: it already requires grad, and only leaves get a ->grad (there is no retain_grad). */
nb_tensor *nb_requires_grad_(nb_tensor *t, bool on);
/* Back-propagates from a one-element tensor (seed gradient 1). Leaves' grads
 * are allocated in their own context on first use, then accumulated. 0, or -1
 * with nb_last_error. Intermediate gradients live in the current context and
 * are given back to it once consumed (see nb_set_grad_recycling): only leaf
 * grads, the seed and the forward tensors stay valid after the call. */
int nb_backward(nb_tensor *loss);
/* Back-propagates from `t` with seed gradient `grad` (same shape and device), as nb_backward:
 * 0, or -1 with nb_last_error. */
int nb_backward_with(nb_tensor *t, nb_tensor *grad);
/* The gradients of t with respect to inputs[0..n) (leaves, or intermediate results of t's
 * graph), as torch.autograd.grad: out[i] gets a new tensor of inputs[i]'s shape, in the current
 * context (t's when none), holding d(t . seed)/d inputs[i] (seed NULL: 1, for a one-element t);
 * zeros for an input t does not depend on. No ->grad is read or written. 0, or -1 with
 * nb_last_error (out[] then NULL), e.g. for an input that does not require grad. */
int nb_grad(nb_tensor *t, nb_tensor *seed, int n, nb_tensor *const *inputs, nb_tensor **out);
/* Gradient recycling (on by default; off when the environment has
 * NABLA_NO_RECYCLE=1): the backward pass gives each intermediate gradient's
 * memory back to its context as soon as it is consumed, and weight gradients
 * of matmul/linear/index_select go straight into the leaves' grads. Off, it
 * keeps every gradient to the context's reset (the old way; for debugging).
 * Returns the previous setting; process-wide. */
bool nb_set_grad_recycling(bool on);
/* Whether the backward pass recycles gradients. */
bool nb_grad_recycling(void);
/* Sets every element of t->grad to zero (no-op when it has none). */
void nb_zero_grad(nb_tensor *t);

/* Turns recording on or off for this thread; returns the previous setting. */
bool nb_set_grad_enabled(bool on);
/* Whether ops record for autograd on this thread. */
bool nb_grad_enabled(void);
/* A no-grad scope: bool prev = nb_no_grad_begin(); ... nb_no_grad_end(prev); */
bool nb_no_grad_begin(void);
void nb_no_grad_end(bool prev);

/* A function of n inputs returning a tensor, for nb_gradcheck. It must be
 * deterministic (use a fixed seed for dropout). */
typedef nb_tensor *(*nb_grad_fn)(nb_tensor **inputs, int n, void *user);

typedef struct nb_gradcheck_opts {
    double eps;    /* finite-difference step (default 1e-3) */
    double atol;   /* absolute tolerance (default 1e-3) */
    double rtol;   /* relative tolerance (default 1e-2) */
    uint64_t seed; /* seed of the random projection of non-scalar outputs */
    bool verbose;  /* print each mismatch to stderr */
} nb_gradcheck_opts;

/* Compares the analytic gradient of fn with respect to every f32 input that
 * requires grad against central finite differences (in double precision for
 * the difference, the function itself runs in f32). A non-scalar output is
 * reduced as sum(out * r) with a fixed random r. Returns 1 when every element
 * agrees, 0 when one does not (message in nb_last_error names the input,
 * the index and both values), -1 on error. opts may be NULL. The inputs' .grad
 * are zeroed and then hold the analytic gradient of that reduction. */
int nb_gradcheck(nb_grad_fn fn, nb_tensor **inputs, int n, void *user, const nb_gradcheck_opts *opts);

/* Writes the graph behind `t` as Graphviz DOT to `f`: one box per tensor
 * (name, shape, whether it requires grad) and one ellipse per op. 0 or -1. */
int nb_graph_dot(const nb_tensor *t, FILE *f);

/* Anomaly mode: every op's output is checked for NaN/Inf and the first op
 * that produces one fails with its name and its inputs' shapes. Also on when
 * the environment has NABLA_ANOMALY=1. Returns the previous setting. */
bool nb_set_anomaly(bool on);
/* Whether anomaly mode is on (nb_set_anomaly or NABLA_ANOMALY=1). */
bool nb_anomaly_enabled(void);

#ifdef __cplusplus
}
#endif
#endif
