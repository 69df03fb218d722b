/* ops/grid.c - spatial transformers: nb_affine_grid and nb_grid_sample (torch's F.affine_grid and
 * F.grid_sample for 4-d inputs), composed: the sampling positions are computed with elementwise
 * ops, the pixels read with gather, and the bilinear weights are differences of the positions,
 * so autograd gives the gradients in the input and in the grid (torch's, floor being a step). */
#include <math.h>
#include <stdlib.h>

#include "ops/op_util.h"

/* torch's linspace_from_neg_one: -1..1 over n steps, shrunk by (n - 1) / n without
 * align_corners (pixel centres); 0 for a single step */
static void base_line(int64_t n, bool align, float *v) {
    for (int64_t i = 0; i < n; i++) {
        double x = n <= 1 ? 0.0 : -1.0 + 2.0 * (double)i / (double)(n - 1);
        if (!align && n > 1) x = x * (double)(n - 1) / (double)n;
        v[i] = (float)x;
    }
}

nb_tensor *nb_affine_grid(nb_tensor *theta, const int64_t size[4], bool align_corners) {
    const char *op = "affine_grid";
    NB_NULL_GUARD_NAMED(op, theta);
    if (nb_check_dtype(op, theta, NB_F32, "theta")) return NULL;
    char s[96];
    if (!size || theta->ndim != 3 || theta->shape[1] != 2 || theta->shape[2] != 3 ||
        size[0] != theta->shape[0] || size[2] < 1 || size[3] < 1)
        return nb_set_error("%s: want theta [N, 2, 3] and a size [N, C, H, W] with H, W >= 1, got %s", op,
                            NB_SHP(theta, s));
    const int64_t H = size[2], W = size[3];
    if (H > ((int64_t)1 << 26) || W > ((int64_t)1 << 26) ||
        H * W > ((int64_t)1 << 26)) /* no overflow: each checked */
        return nb_set_error("%s: a %lld x %lld grid is too large", op, (long long)H, (long long)W);
    /* the base grid [H W, 3] of (x, y, 1), times theta^T: [N, H W, 2] */
    float *base = malloc(sizeof(float) * (size_t)(H * W * 3 + H + W));
    if (!base)
        return nb_set_error("%s: out of memory for a %lld x %lld grid", op, (long long)H, (long long)W);
    float *xs = base + H * W * 3, *ys = xs + W;
    base_line(W, align_corners, xs);
    base_line(H, align_corners, ys);
    for (int64_t i = 0; i < H; i++)
        for (int64_t j = 0; j < W; j++) {
            float *p = base + (i * W + j) * 3;
            p[0] = xs[j], p[1] = ys[i], p[2] = 1.0f;
        }
    nb_tensor *b = nb_host_1d(theta, NB_F32, H * W * 3, base);
    free(base);
    nb_tensor *g = b ? nb_matmul(nb_reshape(b, NB_SHAPE(1, H * W, 3)), nb_transpose(theta, 1, 2)) : NULL;
    return nb_as_op(g ? nb_reshape(g, NB_SHAPE(size[0], H, W, 2)) : NULL, op);
}

/* torch's reflect_coordinates: x reflected into [lo, hi] (given doubled), by |x - lo| folded
 * over the span */
static nb_tensor *reflect(nb_tensor *x, float twice_lo, float twice_hi) {
    if (twice_lo == twice_hi) return nb_mul_scalar(x, 0.0f);
    const float lo = twice_lo / 2.0f, span = (twice_hi - twice_lo) / 2.0f;
    nb_tensor *d = nb_abs(nb_sub_scalar(x, lo));
    nb_tensor *extra = d ? nb_fmod(d, nb_scalar_like(x, span)) : NULL;
    nb_tensor *flips = d ? nb_floor(nb_div_scalar(d, span)) : NULL;
    nb_tensor *even = flips ? nb_eq(nb_fmod(flips, nb_scalar_like(x, 2.0f)), nb_scalar_like(x, 0.0f)) : NULL;
    return even ? nb_where(even, nb_add_scalar(extra, lo), nb_add_scalar(nb_rsub_scalar(extra, span), lo))
                : NULL;
}

/* one grid coordinate [N, Ho, Wo] to pixel units along a dim of n, padded as asked (torch's
 * grid_sampler_compute_source_index) */
static nb_tensor *source_index(nb_tensor *c, int64_t n, nb_grid_padding pad, bool align) {
    /* align: -1 and 1 are the corner pixels' centres; else their outer edges */
    nb_tensor *x =
        align ? nb_mul_scalar(nb_add_scalar(c, 1.0f), (float)(n - 1) / 2.0f)
              : nb_div_scalar(nb_sub_scalar(nb_mul_scalar(nb_add_scalar(c, 1.0f), (float)n), 1.0f), 2.0f);
    if (!x || pad == NB_GRID_ZEROS) return x;
    if (pad == NB_GRID_REFLECTION)
        x = align ? reflect(x, 0.0f, 2.0f * (float)(n - 1)) : reflect(x, -1.0f, 2.0f * (float)n - 1.0f);
    /* clipped into the input, gradient 0 on the bounds as torch's clip_coordinates_set_grad (<= 0,
     * >= n - 1): hardtanh's rule, not clamp's */
    return x ? nb_hardtanh(x, 0.0f, (float)(n - 1)) : NULL;
}

/* The pixels at (cy, cx) (float integers, [N, Ho, Wo]) of flat [N, C, H W], times the weight w
 * ([N, Ho, Wo], NULL for 1), 0 where the position lies outside the input: [N, C, Ho Wo]. A
 * position outside reads a clamped pixel, and `where` (not a product) drops it and its weight, so
 * an inf or NaN pixel there gives neither NaN nor a gradient. */
static nb_tensor *corner(nb_tensor *flat, nb_tensor *cx, nb_tensor *cy, nb_tensor *w, int64_t H, int64_t W) {
    const int64_t N = flat->shape[0], C = flat->shape[1], P = cx->shape[1] * cx->shape[2];
    nb_tensor *zero = nb_scalar_like(flat, 0.0f);
    nb_tensor *in_x = nb_mul(nb_ge(cx, zero), nb_le(cx, nb_scalar_like(flat, (float)(W - 1))));
    nb_tensor *in_y = nb_mul(nb_ge(cy, zero), nb_le(cy, nb_scalar_like(flat, (float)(H - 1))));
    nb_tensor *inside = in_x && in_y ? nb_reshape(nb_mul(in_x, in_y), NB_SHAPE(N, 1, P)) : NULL;
    nb_tensor *px = inside ? nb_clamp(cx, 0.0f, (float)(W - 1)) : NULL;
    nb_tensor *py = px ? nb_clamp(cy, 0.0f, (float)(H - 1)) : NULL;
    nb_tensor *fi = py ? nb_add(nb_mul_scalar(py, (float)W), px) : NULL; /* exact: H W <= 2^24 */
    nb_tensor *ii = fi ? nb_cast(nb_reshape(fi, NB_SHAPE(N, 1, P)), NB_I32) : NULL;
    ii = ii ? nb_contiguous(nb_expand(ii, 3, (const int64_t[]){N, C, P})) : NULL;
    /* masked before the weight multiplies it: a pixel read outside (clamped) must not meet the
     * weight's gradient as 0 * inf */
    nb_tensor *v = ii ? nb_where(inside, nb_gather(flat, 2, ii), zero) : NULL;
    if (v && w) v = nb_mul(v, nb_where(inside, nb_reshape(w, NB_SHAPE(N, 1, P)), zero));
    return v;
}

nb_tensor *nb_grid_sample(nb_tensor *x, nb_tensor *grid, nb_interp_mode mode, nb_grid_padding pad,
                          bool align_corners) {
    const char *op = "grid_sample";
    NB_NULL_GUARD_NAMED(op, x, grid);
    if (nb_check_dtype(op, x, NB_F32, "input") || nb_check_dtype(op, grid, NB_F32, "grid") ||
        nb_same_device(op, x, grid))
        return NULL;
    char a[96], b[96];
    if (x->ndim != 4 || grid->ndim != 4 || grid->shape[3] != 2 || grid->shape[0] != x->shape[0])
        return nb_set_error("%s: want input [N, C, H, W] and grid [N, Ho, Wo, 2], got %s and %s", op,
                            NB_SHP(x, a), NB_SHP(grid, b));
    if ((unsigned)mode > NB_INTERP_LINEAR || (unsigned)pad > NB_GRID_REFLECTION)
        return nb_set_error("%s: unknown mode %d or padding %d", op, (int)mode, (int)pad);
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t Ho = grid->shape[1], Wo = grid->shape[2];
    if (H * W > ((int64_t)1 << 24))
        return nb_set_error("%s: an input of %lld x %lld pixels is too large (2^24 at most)", op,
                            (long long)H, (long long)W);
    /* the positions in pixel units, [N, Ho, Wo] each */
    nb_tensor *gx = nb_squeeze(nb_narrow(grid, 3, 0, 1), 3), *gy = nb_squeeze(nb_narrow(grid, 3, 1, 1), 3);
    nb_tensor *ix = gx ? source_index(gx, W, pad, align_corners) : NULL;
    nb_tensor *iy = gy ? source_index(gy, H, pad, align_corners) : NULL;
    nb_tensor *flat = ix && iy ? nb_reshape(x, NB_SHAPE(N, C, H * W)) : NULL;
    if (!flat) return nb_as_op(NULL, op);
    nb_tensor *out;
    if (mode == NB_INTERP_NEAREST) { /* the nearest pixel, halves to even (torch's nearbyint) */
        out = corner(flat, nb_round(ix), nb_round(iy), NULL, H, W);
    } else { /* the four around it, each weighted by the area of the opposite one (torch's order) */
        nb_tensor *x0 = nb_floor(ix), *y0 = nb_floor(iy);
        nb_tensor *x1 = nb_add_scalar(x0, 1.0f), *y1 = nb_add_scalar(y0, 1.0f);
        nb_tensor *wx1 = nb_sub(ix, x0), *wy1 = nb_sub(iy, y0), *wx0 = nb_sub(x1, ix), *wy0 = nb_sub(y1, iy);
        nb_tensor *cx[4] = {x0, x1, x0, x1}, *cy[4] = {y0, y0, y1, y1};
        nb_tensor *w[4] = {nb_mul(wx0, wy0), nb_mul(wx1, wy0), nb_mul(wx0, wy1), nb_mul(wx1, wy1)};
        out = NULL;
        for (int k = 0; k < 4; k++) {
            nb_tensor *t = cx[k] && cy[k] && w[k] ? corner(flat, cx[k], cy[k], w[k], H, W) : NULL;
            out = !t ? NULL : out ? nb_add(out, t) : t;
            if (!out) break;
        }
    }
    return nb_as_op(out ? nb_reshape(out, NB_SHAPE(N, C, Ho, Wo)) : NULL, op);
}
