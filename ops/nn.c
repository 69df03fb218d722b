/* ops/nn.c - neural-network ops: softmax, log_softmax, layer_norm, embedding,
 * cross_entropy and dropout. Each checks its inputs, makes them contiguous
 * where the fused kernel needs it (nb_contiguous is differentiable, so
 * autograd flows through the copy), dispatches to the backend, and records a
 * node whose backward calls the matching fused backward kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* ---- softmax / log_softmax ----------------------------------------------------------- */

static int softmax_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *gc = nb_contiguous(g);
    nb_tensor *gi = gc ? nb_new_like_shape(gc, NB_F32, gc->ndim, gc->shape) : NULL;
    if (!gi || nb_be(gi)->softmax_backward(gi, gc, n->out, n->i[0] != 0)) return -1;
    gin[0] = gi;
    return 0;
}

static nb_tensor *softmax_impl(const char *name, nb_tensor *a, int dim, bool log) {
    NB_NULL_GUARD_NAMED(name, a);
    if (nb_check_dtype(name, a, NB_F32, "input")) return NULL;
    int d = nb_norm_dim(name, dim, a->ndim);
    if (d < 0) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    if (!be->softmax || !be->softmax_backward) return nb_unsupported(name, be);
    int last = a->ndim - 1;
    bool moved = a->ndim > 1 && d != last;
    nb_tensor *x = nb_contiguous(moved ? nb_transpose(a, d, last) : a);
    if (!x) return NULL;
    nb_tensor *y = nb_new_like_shape(x, NB_F32, x->ndim, x->shape);
    if (!y || be->softmax(y, x, log)) return NULL;
    nb_node *n;
    if (!nb_op_finish(y, name, softmax_backward, 1, &x, &n)) return NULL;
    if (n) n->i[0] = log, n->unread = NB_UNREAD_IN(0); /* the rule reads y, not x */
    return moved ? nb_transpose(y, d, last) : y;
}

nb_tensor *nb_softmax(nb_tensor *a, int dim) { return softmax_impl("softmax", a, dim, false); }
nb_tensor *nb_log_softmax(nb_tensor *a, int dim) { return softmax_impl("log_softmax", a, dim, true); }

/* ---- layer norm ----------------------------------------------------------------------------- */

static int layer_norm_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    int64_t C = x->shape[x->ndim - 1];
    nb_tensor *gc = nb_contiguous(g);
    if (!gc) return -1;
    nb_tensor *dx = x->requires_grad ? nb_new_like_shape(gc, NB_F32, x->ndim, x->shape) : NULL;
    nb_tensor *dw = w && w->requires_grad ? nb_new_like_shape(gc, NB_F32, 1, &C) : NULL;
    nb_tensor *db = b && b->requires_grad ? nb_new_like_shape(gc, NB_F32, 1, &C) : NULL;
    if ((x->requires_grad && !dx) || (w && w->requires_grad && !dw) || (b && b->requires_grad && !db))
        return -1;
    if (nb_be(gc)->layer_norm_backward(dx, dw, db, gc, x, n->saved[0], n->saved[1], w)) return -1;
    gin[0] = dx;
    gin[1] = dw;
    gin[2] = db;
    return 0;
}

/* Checks an optional [C] parameter of layer_norm. */
static int ln_param(const nb_tensor *x, const nb_tensor *p, const char *what, int64_t C) {
    if (!p) return 0;
    if (nb_check_dtype("layer_norm", p, NB_F32, what) || nb_same_device("layer_norm", x, p)) return -1;
    if (p->ndim != 1 || p->shape[0] != C) {
        char a[96], b[96];
        nb_set_error("layer_norm: %s %s does not match the last dimension (%lld) of input %s", what,
                     NB_SHP(p, a), (long long)C, NB_SHP(x, b));
        return -1;
    }
    return 0;
}

nb_tensor *nb_layer_norm(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, float eps) {
    NB_NULL_GUARD(x);
    if (nb_check_dtype("layer_norm", x, NB_F32, "input")) return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0) {
        char a[96];
        return nb_set_error("layer_norm: input %s has no last dimension to normalise", NB_SHP(x, a));
    }
    if (!(eps >= 0.0f) || isinf(eps))
        return nb_set_error("layer_norm: eps must be finite and >= 0, got %g", (double)eps);
    int64_t C = x->shape[x->ndim - 1], rows = nb_numel(x) / C;
    if (ln_param(x, weight, "weight", C) || ln_param(x, bias, "bias", C)) return NULL;
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->layer_norm || !be->layer_norm_backward) return nb_unsupported("layer_norm", be);
    nb_tensor *xc = nb_contiguous(x);
    nb_tensor *wc = weight ? nb_contiguous(weight) : NULL, *bc = bias ? nb_contiguous(bias) : NULL;
    if (!xc || (weight && !wc) || (bias && !bc)) return NULL;
    nb_tensor *y = nb_new_like_shape(xc, NB_F32, xc->ndim, xc->shape);
    nb_tensor *mean = y ? nb_new_like_shape(xc, NB_F32, 1, &rows) : NULL;
    nb_tensor *rstd = mean ? nb_new_like_shape(xc, NB_F32, 1, &rows) : NULL;
    if (!rstd || be->layer_norm(y, mean, rstd, xc, wc, bc, eps)) return NULL;
    nb_node *n;
    nb_tensor *in[3] = {xc, wc, bc};
    if (!nb_op_finish(y, "layer_norm", layer_norm_backward, 3, in, &n)) return NULL;
    if (n) {
        nb_node_save(n, 0, mean);
        nb_node_save(n, 1, rstd);
        n->f[0] = eps;
        n->unread = NB_UNREAD_IN(2) | NB_UNREAD_OUT; /* reads x and w (and mean, rstd) */
    }
    return y;
}

/* ---- embedding -------------------------------------------------------------------------------- */

static int embedding_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *w = n->in[0], *idx = n->saved[0];
    int64_t shape2[2] = {idx->shape[0], w->shape[1]};
    nb_tensor *g2 = nb_reshape(nb_contiguous(g), 2, shape2);
    if (!g2) return -1;
    /* a leaf weight (the usual case): add the rows straight into its grad, no [V,C] temporary */
    nb_tensor *lg = nb_node_leaf_grad(n, 0);
    if (lg && nb_is_contiguous(lg)) {
        if (nb_be(lg)->index_add(lg, 0, idx, g2)) return -1;
        gin[0] = NB_GIN_ACCUMULATED;
        return 0;
    }
    nb_tensor *gw = nb_new_like_shape(g2, NB_F32, 2, w->shape);
    if (!gw || nb_fill_(gw, 0.0) || nb_be(gw)->index_add(gw, 0, idx, g2)) return -1;
    gin[0] = gw;
    return 0;
}

/* Checks every id in the flat i32 tensor is in [0, V). */
static int embedding_bounds(const nb_tensor *flat, const nb_tensor *w) {
    int64_t n = flat->shape[0], V = w->shape[0];
    const int32_t *ids = NULL;
    int32_t *buf = NULL;
    if (flat->device == NB_CPU) {
        ids = (const int32_t *)nb_data(flat);
    } else {
        buf = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
        if (!buf) return nb_set_error("embedding: out of memory checking %lld ids", (long long)n), -1;
        if (nb_to_array(flat, NB_I32, buf)) {
            free(buf);
            return -1;
        }
        ids = buf;
    }
    int rc = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= V) {
            char a[96];
            nb_set_error("embedding: id %d at position %lld is out of range [0, %lld) for weight %s",
                         (int)ids[i], (long long)i, (long long)V, NB_SHP(w, a));
            rc = -1;
            break;
        }
    }
    free(buf);
    return rc;
}

nb_tensor *nb_embedding(nb_tensor *weight, nb_tensor *idx) {
    NB_NULL_GUARD(weight, idx);
    if (nb_check_dtype("embedding", weight, NB_F32, "weight") ||
        nb_check_dtype("embedding", idx, NB_I32, "indices") || nb_same_device("embedding", weight, idx))
        return NULL;
    if (weight->ndim != 2) {
        char a[96];
        return nb_set_error("embedding: weight must be 2-D [V,C], got %s", NB_SHP(weight, a));
    }
    if (idx->ndim >= NB_MAX_DIMS)
        return nb_set_error("embedding: indices have too many dims (%d)", idx->ndim);
    const nb_backend *be = nb_be(weight);
    if (!be) return NULL;
    if (!be->index_select || !be->index_add) return nb_unsupported("embedding", be);
    int64_t n = nb_numel(idx), C = weight->shape[1];
    nb_tensor *flat = nb_reshape(nb_contiguous(idx), 1, &n);
    if (!flat || embedding_bounds(flat, weight)) return NULL;
    int64_t shape[NB_MAX_DIMS];
    memcpy(shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    shape[idx->ndim] = C;
    nb_tensor *out = nb_new_like_shape(weight, NB_F32, idx->ndim + 1, shape);
    if (!out) return NULL;
    nb_tensor out2 = *out; /* the same storage seen as [n, C] */
    out2.ndim = 2;
    out2.shape[0] = n;
    out2.shape[1] = C;
    out2.stride[0] = C;
    out2.stride[1] = 1;
    if (n > 0 && C > 0 && be->index_select(&out2, weight, 0, flat)) return NULL;
    nb_node *node;
    if (!nb_op_finish(out, "embedding", embedding_backward, 1, &weight, &node)) return NULL;
    if (node) {
        nb_node_save(node, 0, flat);
        node->unread = NB_UNREAD_IN(0) | NB_UNREAD_OUT; /* reads the indices only */
    }
    return out;
}

/* ---- cross-entropy ----------------------------------------------------------------------------- */

static int cross_entropy_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    nb_tensor *d = nb_new_like_shape(g, NB_F32, x->ndim, x->shape);
    if (!d || nb_be(d)->cross_entropy_backward(d, g, x, n->saved[1], n->saved[0], (int)n->i[0])) return -1;
    gin[0] = d;
    return 0;
}

/* Targets match when they have the logits' leading shape, or are 1-D with one id per row. */
static int xent_targets_ok(const nb_tensor *logits, const nb_tensor *t, int64_t rows) {
    if (t->ndim == logits->ndim - 1 &&
        memcmp(t->shape, logits->shape, sizeof(int64_t) * (size_t)t->ndim) == 0)
        return 1;
    return t->ndim == 1 && t->shape[0] == rows;
}

nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *targets, int ignore_index) {
    NB_NULL_GUARD(logits, targets);
    const char *op = "cross_entropy";
    if (nb_check_dtype(op, logits, NB_F32, "logits") || nb_check_dtype(op, targets, NB_I32, "targets") ||
        nb_same_device(op, logits, targets))
        return NULL;
    char a[96], b[96];
    if (logits->ndim < 1 || logits->shape[logits->ndim - 1] == 0)
        return nb_set_error("cross_entropy: logits %s have no class dimension", NB_SHP(logits, a));
    int64_t C = logits->shape[logits->ndim - 1], rows = nb_numel(logits) / C;
    if (!xent_targets_ok(logits, targets, rows)) {
        char c[96];
        nb_fmt_shape(logits->ndim - 1, logits->shape, c, sizeof c);
        if (logits->ndim <= 2)
            return nb_set_error("cross_entropy: targets %s do not match logits %s (expected %s)",
                                NB_SHP(targets, a), NB_SHP(logits, b), c);
        return nb_set_error("cross_entropy: targets %s do not match logits %s (expected %s or [%lld])",
                            NB_SHP(targets, a), NB_SHP(logits, b), c, (long long)rows);
    }
    const nb_backend *be = nb_be(logits);
    if (!be) return NULL;
    if (!be->cross_entropy || !be->cross_entropy_backward) return nb_unsupported(op, be);
    nb_tensor *xc = nb_contiguous(logits), *tc = nb_contiguous(targets);
    if (!xc || !tc) return NULL;
    nb_tensor *loss = nb_new_like_shape(xc, NB_F32, 0, NULL);
    int64_t ls_shape[2] = {rows, 2}; /* (max, log-sum) per row (backends/backend.h) */
    nb_tensor *lse = loss ? nb_new_like_shape(xc, NB_F32, 2, ls_shape) : NULL;
    if (!lse || be->cross_entropy(loss, lse, xc, tc, ignore_index)) return NULL;
    nb_node *n;
    if (!nb_op_finish(loss, op, cross_entropy_backward, 1, &xc, &n)) return NULL;
    if (n) {
        nb_node_save(n, 0, lse);
        nb_node_save(n, 1, tc);
        n->i[0] = ignore_index;
        n->unread = NB_UNREAD_OUT; /* reads the logits, lse and targets, not the loss */
    }
    return loss;
}

/* ---- dropout --------------------------------------------------------------------------------------- */

static int dropout_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *gc = nb_contiguous(g);
    nb_tensor *gi = gc ? nb_new_like_shape(gc, NB_F32, gc->ndim, gc->shape) : NULL;
    if (!gi || nb_be(gi)->dropout(gi, gc, n->f[0], (uint64_t)n->i[0], (uint64_t)n->i[1])) return -1;
    gin[0] = gi;
    return 0;
}

nb_tensor *nb_dropout(nb_tensor *x, float p, bool training, nb_rng *rng) {
    NB_NULL_GUARD(x);
    if (nb_check_dtype("dropout", x, NB_F32, "input")) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) return nb_set_error("dropout: p must be in [0, 1), got %g", (double)p);
    if (!training || p == 0.0f) return x;
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->dropout) return nb_unsupported("dropout", be);
    if (!rng) rng = nb_rng_global();
    nb_tensor *xc = nb_contiguous(x);
    nb_tensor *out = xc ? nb_new_like_shape(xc, NB_F32, xc->ndim, xc->shape) : NULL;
    uint64_t seed = rng->seed, offset = rng->offset;
    if (!out || be->dropout(out, xc, p, seed, offset)) return NULL;
    rng->offset += (uint64_t)(nb_numel(xc) + 3) / 4;
    nb_node *n;
    if (!nb_op_finish(out, "dropout", dropout_backward, 1, &xc, &n)) return NULL;
    if (n) {
        n->i[0] = (int64_t)seed;
        n->i[1] = (int64_t)offset;
        n->f[0] = p;
        n->unread = NB_UNREAD_ALL; /* the mask is drawn again from (seed, offset) */
    }
    return out;
}

nb_tensor *nb_dropout_channels(nb_tensor *x, float p, bool training, nb_rng *rng) {
    NB_NULL_GUARD_NAMED("dropout_channels", x);
    char xs[64];
    if (nb_check_dtype("dropout_channels", x, NB_F32, "input")) return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return nb_set_error("dropout_channels: p must be in [0, 1), got %g", (double)p);
    if (x->ndim < 3)
        return nb_set_error("dropout_channels: want input [N, C, ...] (3 to 5 dims), got %s", NB_SHP(x, xs));
    if (!training || p == 0.0f) return x;
    /* one uniform draw per (sample, channel): the channel is kept below 1 - p, then scaled by
     * 1 / (1 - p) (torch's dropout1d/2d/3d), as a broadcast product so the gradient is the mask */
    int64_t ms[NB_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        ms[i] = i < 2 ? x->shape[i] : 1;
    nb_ctx *ctx = nb_out_ctx(x);
    nb_tensor *u = nb_empty_on(ctx, NB_F32, x->device, x->ndim, ms);
    if (!u || nb_rand_(u, 0.0f, 1.0f, rng)) return NULL;
    const bool g = nb_no_grad_begin();
    nb_tensor *keep = nb_lt(u, nb_full_on(ctx, NB_F32, x->device, 0, NULL, 1.0 - (double)p));
    nb_tensor *scale = keep ? nb_mul_scalar(keep, (float)(1.0 / (1.0 - (double)p))) : NULL;
    nb_no_grad_end(g);
    return nb_as_op(scale ? nb_mul(x, scale) : NULL, "dropout_channels");
}
