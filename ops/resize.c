/* ops/resize.c - interpolation (torch.nn.functional.interpolate with `size`): nearest and
 * (bi)linear resizing, one spatial dim at a time. Each dim is one or two index_selects of the
 * input rows it reads, mixed by per-row weights, so the gradient of an output row goes back to
 * those rows with the same weights. The index and weight tables are computed here as torch
 * 1.13's CPU kernels compute them (nearest in float; linear: a float scale, then double). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

/* x resized along dim d from `in` to `out` rows */
static nb_tensor *resize_dim(nb_tensor *x, int d, int64_t out, nb_interp_mode mode, bool align_corners) {
    const int64_t in = x->shape[d];
    int32_t *i0 = malloc((size_t)out * 2 * sizeof *i0 + 1);
    float *l1 = malloc((size_t)out * 2 * sizeof *l1 + 1);
    if (!i0 || !l1) {
        free(i0), free(l1);
        return nb_set_error("interpolate: out of memory for %lld output rows", (long long)out);
    }
    int32_t *i1 = i0 + out;
    float *l0 = l1 + out;
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
    nb_tensor *idx0 = nb_host_1d(x, NB_I32, out, i0), *r = NULL;
    if (mode == NB_INTERP_NEAREST) {
        r = idx0 ? nb_index_select(x, d, idx0) : NULL;
    } else if (idx0) {
        /* the weights [out, 1, ...], broadcast over the dims after d */
        int64_t ws[NB_MAX_DIMS];
        const int wn = x->ndim - d;
        ws[0] = out;
        for (int k = 1; k < wn; k++)
            ws[k] = 1;
        nb_tensor *idx1 = nb_host_1d(x, NB_I32, out, i1);
        nb_tensor *w0 = nb_reshape(nb_host_1d(x, NB_F32, out, l0), wn, ws);
        nb_tensor *w1 = nb_reshape(nb_host_1d(x, NB_F32, out, l1), wn, ws);
        r = idx1 && w0 && w1
                ? nb_add(nb_mul(nb_index_select(x, d, idx0), w0), nb_mul(nb_index_select(x, d, idx1), w1))
                : NULL;
    }
    free(i0), free(l1);
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
