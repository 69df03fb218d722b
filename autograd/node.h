/* autograd/node.h - the recorded graph (internal).
 *
 * An op whose output needs a gradient records one node on that output: the
 * op's name, its inputs, the values its backward rule needs, and the rule
 * itself. nb_backward visits nodes in reverse creation order (a valid reverse
 * topological order, since a node's inputs always exist before it). */
#ifndef NB_AUTOGRAD_NODE_H
#define NB_AUTOGRAD_NODE_H

#include "nabla/autograd.h"

typedef struct nb_node nb_node;

/* Bits of nb_node.unread: input i's values (i < 31), the output's, or none of them. An input
 * past the 31st is checked unless the node has NB_UNREAD_ALL. */
#define NB_UNREAD_IN(i) (1u << (i))
#define NB_UNREAD_OUT   (1u << 31)
#define NB_UNREAD_ALL   0xffffffffu

/* Computes gin[i] (the gradient with respect to in[i], at in[i]'s shape or
 * broadcastable to it) for every input that requires grad, from gout (the
 * gradient of the output). gin[] arrives NULL-filled. 0, or -1 with error. A rule may return
 * gout itself or a view of it; it must not keep any gradient tensor after it returns (the
 * engine gives their memory back to the context once they are consumed). */
typedef int (*nb_backward_fn)(nb_node *n, nb_tensor *gout, nb_tensor **gin);

struct nb_node {
    const char *op;
    nb_backward_fn backward;
    int n_in;
    nb_tensor **in;
    nb_tensor *out;
    nb_tensor *saved[4];        /* tensors the backward needs (e.g. statistics) */
    int64_t i[NB_MAX_DIMS + 4]; /* integer arguments (axes, sizes, seeds) */
    float f[4];                 /* float arguments (scalars, eps, p) */
    uint64_t seq;               /* creation order */
    /* the storage versions of in[0..n_in-1] and of out (at [n_in]) when the node was recorded;
     * before the rule runs the engine checks that none changed (an in-place write since), except
     * for those the op marked in `unread` because its rule never reads their values */
    uint32_t *version;
    uint32_t unread;           /* NB_UNREAD_IN(i) | NB_UNREAD_OUT, or NB_UNREAD_ALL */
    uint32_t saved_version[4]; /* of saved[] when saved (nb_node_save); always checked */
    /* used by the engine during nb_backward */
    nb_tensor *gout;
    uint64_t mark;
    nb_node *link;
};

/* True when grad mode is on and one of the inputs requires grad. */
bool nb_any_requires_grad(int n_in, nb_tensor *const *in);

/* Finishes an op: runs the anomaly check (when on), then, when an input
 * requires grad and grad mode is on, records a node on `out` with a copy of
 * the inputs and returns it in *node (else *node = NULL). Returns out, or
 * NULL on error. `node` may be NULL when the op needs to save nothing. */
nb_tensor *nb_op_finish(nb_tensor *out, const char *op, nb_backward_fn bw, int n_in, nb_tensor *const *in,
                        nb_node **node);

/* For a backward rule that can add its gradient for input i straight into a leaf's grad (no
 * temporary): the grad of in[i] when in[i] is a leaf (no node) that requires grad, made zeroed
 * in the leaf's context on first use, during a backward pass with gradient recycling on; NULL
 * otherwise (the rule then returns gin[i] as usual). The rule must add (+=), at the leaf's
 * shape, and then set gin[i] = NB_GIN_ACCUMULATED so that the engine adds nothing more. */
nb_tensor *nb_node_leaf_grad(nb_node *n, int i);
/* The gin[] value of an input whose gradient the rule already added into its leaf's grad. */
extern nb_tensor nb_gin_accumulated_;
#define NB_GIN_ACCUMULATED (&nb_gin_accumulated_)

/* Keeps t in n->saved[i] for the backward rule, noting its storage version: the engine checks
 * it like the inputs' (a saved tensor may be the caller's own, e.g. contiguous indices). */
static inline void nb_node_save(nb_node *n, int i, nb_tensor *t) {
    n->saved[i] = t;
    n->saved_version[i] = t && t->storage ? t->storage->version : 0;
}

/* Reduces a gradient to `shape` by summing over broadcast dimensions. */
nb_tensor *nb_sum_to(nb_tensor *g, int ndim, const int64_t *shape);

#endif
