/* ops/resize.c - interpolation (torch.nn.functional.interpolate with `size`): nearest and
 * (bi)linear resizing, one spatial dim at a time. Nearest is an index_select of the rows it
 * reads; linear mixes two input rows per output row with the backend's lerp_dim kernel, whose
 * adjoint sends the gradient of an output row back to those rows with the same weights. The
 * index and weight tables are computed here as torch 1.13's CPU kernels compute them (nearest
 * in float; linear: a float scale, then double). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

/* the gradient of lerp: the backend's adjoint, into x's [A, n_in, B] */
static int lerp_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *gc = nb_contiguous(gout);
    nb_tensor *dx = gc ? nb_new_like_shape(gc, NB_F32, 3, x->shape) : NULL;
    if (!dx || nb_be(x)->lerp_dim_backward(dx, gc, n->saved[0], n->saved[1])) return -1;
    gin[0] = dx;
    return 0;
}

/* x mixed along dim d: out[.., o, ..] = w[0][o] x[.., idx[0][o], ..] + w[1][o] x[.., idx[1][o], ..],
 * one backend kernel over x viewed as [A, n_in, B] */
static nb_tensor *lerp(nb_tensor *x, int d, nb_tensor *idx, nb_tensor *w) {
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->lerp_dim || !be->lerp_dim_backward) return nb_unsupported("lerp_dim", be);
    int64_t A = 1, B = 1, shape[NB_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++) {
        if (k < d) A *= x->shape[k];
        if (k > d) B *= x->shape[k];
        shape[k] = k == d ? idx->shape[1] : x->shape[k];
    }
    nb_tensor *x3 = nb_reshape(nb_contiguous(x), NB_SHAPE(A, x->shape[d], B));
    nb_tensor *out = x3 ? nb_new_like_shape(x3, NB_F32, 3, (const int64_t[]){A, idx->shape[1], B}) : NULL;
    if (!out || be->lerp_dim(out, x3, idx, w)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, "interpolate", lerp_backward, 1, &x3, &n)) return NULL;
    if (n) {
        n->unread = NB_UNREAD_ALL; /* the rule reads only the tables */
        nb_node_save(n, 0, idx);
        nb_node_save(n, 1, w);
    }
    return nb_reshape(out, x->ndim, shape);
}

/* x resized along dim d from `in` to `out` rows */
static nb_tensor *resize_dim(nb_tensor *x, int d, int64_t out, nb_interp_mode mode, bool align_corners) {
    const int64_t in = x->shape[d];
    int32_t *i0 = malloc((size_t)out * 2 * sizeof *i0 + 1);
    float *l1 = malloc((size_t)out * 2 * sizeof *l1 + 1);
    if (!i0 || !l1) {
        free(i0), free(l1);
        return nb_set_error("interpolate: out of memory for %lld output rows", (long long)out);
    }
    int32_t *i1 = i0 + out; /* the tables [2, out]: i0 then i1, l0 then l1 */
    float *l0 = l1;
    l1 = l0 + out;
    if (mode == NB_INTERP_NEAREST) {
        const float scale = (float)in / (float)out;
        for (int64_t o = 0; o < out; o++) {
            const int64_t src = (int64_t)floorf((float)o * scale);
            i0[o] = (int32_t)(src < in - 1 ? src : in - 1);
        }
    } else {
        /* the scale in float, the source position and weight in double, as torch 1.13's CPU
         * kernels: their weights agree exactly */
        const float scale =
            align_corners ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f) : (float)in / (float)out;
        for (int64_t o = 0; o < out; o++) {
            double src = align_corners ? (double)scale * (double)o : (double)scale * ((double)o + 0.5) - 0.5;
            if (src < 0) src = 0;
            int64_t lo = (int64_t)src;
            if (lo > in - 1) lo = in - 1;
            double w = src - (double)lo;
            w = w < 0 ? 0 : w > 1 ? 1 : w;
            i0[o] = (int32_t)lo;
            i1[o] = (int32_t)(lo < in - 1 ? lo + 1 : lo);
            l1[o] = (float)w;
            l0[o] = (float)(1.0 - w);
        }
    }
    nb_tensor *r = NULL;
    if (mode == NB_INTERP_NEAREST) { /* an exact pick: an inf stays inf */
        nb_tensor *idx0 = nb_host_1d(x, NB_I32, out, i0);
        r = idx0 ? nb_index_select(x, d, idx0) : NULL;
    } else {
        nb_tensor *idx = nb_host_1d(x, NB_I32, 2 * out, i0), *w = nb_host_1d(x, NB_F32, 2 * out, l0);
        r = idx && w ? lerp(x, d, nb_reshape(idx, NB_SHAPE(2, out)), nb_reshape(w, NB_SHAPE(2, out))) : NULL;
    }
    free(i0), free(l0);
    return r;
}

nb_tensor *nb_interpolate(nb_tensor *x, const int64_t *size, nb_interp_mode mode, bool align_corners) {
    NB_NULL_GUARD_NAMED("interpolate", x);
    if (nb_check_dtype("interpolate", x, NB_F32, "input")) return NULL;
    char xs[64];
    if (x->ndim != 3 && x->ndim != 4)
        return nb_set_error("interpolate: want input [N,C,L] or [N,C,H,W], got %s", NB_SHP(x, xs));
    if ((unsigned)mode > NB_INTERP_LINEAR) return nb_set_error("interpolate: unknown mode %d", (int)mode);
    if (mode == NB_INTERP_NEAREST && align_corners)
        return nb_set_error("interpolate: align_corners applies to the linear modes only (as torch)");
    if (!size) return nb_set_error("interpolate: NULL size");
    const int ns = x->ndim - 2;
    for (int i = 0; i < ns; i++)
        if (size[i] < 1 || size[i] > INT32_MAX || x->shape[2 + i] < 1 || x->shape[2 + i] > INT32_MAX)
            return nb_set_error(
                "interpolate: size %lld (dim %d) for input %s (want both positive and below 2^31)",
                (long long)size[i], 2 + i, NB_SHP(x, xs));
    nb_tensor *r = x;
    for (int i = 0; i < ns && r; i++)
        r = resize_dim(r, 2 + i, size[i], mode, align_corners);
    return nb_as_op(r, "interpolate");
}
