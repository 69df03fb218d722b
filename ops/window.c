/* ops/window.c - the windows of convolution, pooling, unfold and fold: their geometry, and the
 * backend's im2col (copy each window into a column, padding included) and col2im (add each
 * column entry back to its pixel, in a fixed order) as a pair of differentiable ops, each the
 * other's gradient. */
#include <stdint.h>
#include <string.h>

#include "ops/window.h"
#include "tensor/internal.h"

void nb_win_opts(const nb_conv_opts *o, int64_t s[2], int64_t p[2], int64_t d[2], int64_t *groups) {
    for (int i = 0; i < 2; i++) {
        s[i] = o && o->stride[i] ? o->stride[i] : 1;
        p[i] = o ? o->padding[i] : 0;
        d[i] = o && o->dilation[i] ? o->dilation[i] : 1;
    }
    *groups = o && o->groups ? o->groups : 1;
}

int nb_win_check(const char *op, const int64_t s[2], const int64_t p[2], const int64_t d[2]) {
    for (int i = 0; i < 2; i++)
        if (s[i] < 1 || p[i] < 0 || d[i] < 1 || s[i] > INT32_MAX || p[i] > INT32_MAX || d[i] > INT32_MAX)
            return nb_set_error(
                       "%s: stride %lld, padding %lld and dilation %lld (dim %d) must be >= 1, >= 0, >= 1",
                       op, (long long)s[i], (long long)p[i], (long long)d[i], i),
                   -1;
    return 0;
}

int nb_win_geom_make(const char *op, const int64_t shape[4], int64_t KH, int64_t KW, const int64_t s[2],
                     const int64_t p[2], const int64_t d[2], bool ceil, nb_win_geom *g) {
    if (nb_win_check(op, s, p, d)) return -1;
    *g = (nb_win_geom){.N = shape[0],
                       .C = shape[1],
                       .H = shape[2],
                       .W = shape[3],
                       .KH = KH,
                       .KW = KW,
                       .sh = s[0],
                       .sw = s[1],
                       .ph = p[0],
                       .pw = p[1],
                       .dh = d[0],
                       .dw = d[1]};
    g->Hp = g->H + 2 * g->ph;
    g->Wp = g->W + 2 * g->pw;
    const int64_t in[2] = {g->H, g->W}, padded[2] = {g->Hp, g->Wp}, k[2] = {KH, KW};
    int64_t out[2];
    for (int i = 0; i < 2; i++) {
        /* the dilated window, and the windows that fit; ceil_mode counts a last partial one if
         * it starts inside the input or its left padding (torch's rule) */
        const int64_t e = k[i] < 1 || k[i] > INT32_MAX ? -1 : d[i] * (k[i] - 1) + 1;
        const int64_t room = e < 0 ? -1 : padded[i] - e + (ceil ? s[i] - 1 : 0);
        out[i] = room < 0 ? 0 : room / s[i] + 1;
        if (ceil && out[i] > 0 && (out[i] - 1) * s[i] >= in[i] + p[i]) out[i]--;
        if (out[i] < 1)
            return nb_set_error(
                       "%s: the window %lldx%lld (dilated %lldx%lld) does not fit the input %lldx%lld + "
                       "padding (%lld, %lld)",
                       op, (long long)KH, (long long)KW, (long long)(d[0] * (KH - 1) + 1),
                       (long long)(d[1] * (KW - 1) + 1), (long long)g->H, (long long)g->W, (long long)g->ph,
                       (long long)g->pw),
                   -1;
    }
    g->OH = out[0];
    g->OW = out[1];
    return 0;
}

int nb_win_opts_check(const char *op, nb_win_kind kind, const nb_conv_opts *o, int nd, const int kernel[2]) {
    if (!o) return 0;
    const bool conv = kind == NB_WIN_CONV, convt = kind == NB_WIN_CONV_T, pool = kind >= NB_WIN_MAXPOOL;
    const char *bad = NULL;
    for (int i = 0; i < nd && !bad; i++) {
        if (o->output_padding[i] && !convt) bad = "output_padding (transposed convolutions only)";
        if (o->dilation[i] > 1 && kind == NB_WIN_AVGPOOL)
            bad = "dilation (max pooling and convolutions only)";
    }
    if (!bad && o->same && !conv) bad = "'same' padding (plain convolutions only)";
    if (!bad && o->pad_mode != NB_PAD_ZEROS && !conv) bad = "pad_mode (plain convolutions only)";
    if (!bad && o->ceil_mode && !pool) bad = "ceil_mode (pooling only)";
    if (!bad && o->exclude_pad && kind != NB_WIN_AVGPOOL) bad = "exclude_pad (average pooling only)";
    if (!bad && o->groups > 1 && !conv && !convt) bad = "groups (convolutions only)";
    if (bad) return nb_set_error("%s: %s does not apply", op, bad), -1;
    if ((unsigned)o->pad_mode > NB_PAD_CIRCULAR)
        return nb_set_error("%s: unknown padding mode %d", op, (int)o->pad_mode), -1;
    if (o->groups < 0) return nb_set_error("%s: groups %d must be positive", op, o->groups), -1;
    for (int i = 0; i < nd; i++) {
        const char *dim = nd == 1 ? "the length" : i ? "the width" : "the height";
        const int s = o->stride[i]     ? o->stride[i]
                      : pool && kernel ? kernel[i]
                                       : 1,
                  d = o->dilation[i] ? o->dilation[i] : 1;
        if (o->stride[i] < 0 || o->padding[i] < 0 || o->dilation[i] < 0)
            return nb_set_error("%s: stride %d, padding %d and dilation %d (%s) must be >= 1, >= 0, >= 1", op,
                                o->stride[i], o->padding[i], o->dilation[i], dim),
                   -1;
        if (o->same && s != 1)
            return nb_set_error("%s: 'same' padding needs stride 1, got %d (%s)", op, s, dim), -1;
        if (convt && (o->output_padding[i] < 0 || (o->output_padding[i] >= s && o->output_padding[i] >= d)))
            return nb_set_error(
                       "%s: output padding %d (%s) must be >= 0 and below the stride %d or the dilation %d",
                       op, o->output_padding[i], dim, s, d),
                   -1;
        if (pool && kernel && o->padding[i] > kernel[i] / 2) /* as torch: no window wholly in the padding */
            return nb_set_error("%s: padding %d is more than half the window %d (%s)", op, o->padding[i],
                                kernel[i], dim),
                   -1;
    }
    return 0;
}

/* the backend's geometry for an [N,C,H,W] image */
static nb_im2col_geom backend_geom(const nb_tensor *img, const int64_t v[10], float pad) {
    return (nb_im2col_geom){img->shape[0], img->shape[1], img->shape[2], img->shape[3], v[0],
                            v[1],          v[2],          v[3],          v[4],          v[5],
                            v[6],          v[7],          v[8],          v[9],          pad};
}

static void pack(const nb_win_geom *g, int64_t v[10]) {
    const int64_t p[10] = {g->KH, g->KW, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->OH, g->OW};
    memcpy(v, p, sizeof p);
}

/* img [N,C,H,W] -> cols, or cols -> img (to_cols false), without autograd */
static nb_tensor *move(nb_tensor *src, const int64_t img_shape[4], const int64_t v[10], bool to_cols,
                       float pad) {
    const nb_backend *be = nb_be(src);
    if (!be) return NULL;
    if (!be->im2col || !be->col2im) return nb_unsupported(to_cols ? "im2col" : "col2im", be);
    const int64_t cols_shape[4] = {img_shape[0], img_shape[1], v[0] * v[1], v[8] * v[9]};
    nb_tensor *out = nb_new_like_shape(src, NB_F32, 4, to_cols ? cols_shape : img_shape);
    if (!out) return NULL;
    if (to_cols) {
        const nb_im2col_geom bg = backend_geom(src, v, pad);
        return be->im2col(out, src, &bg) ? NULL : out;
    }
    nb_tensor *c = nb_contiguous(src);
    const nb_im2col_geom bg = backend_geom(out, v, 0.0f);
    return c && !be->col2im(out, c, &bg) ? out : NULL;
}

/* im2col's gradient: the columns' gradient back to the pixels they were read from */
static int im2col_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    return (gin[0] = move(gout, n->in[0]->shape, n->i, false, 0.0f)) ? 0 : -1;
}

/* col2im's gradient: each pixel's gradient to every column entry that was added into it */
static int col2im_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    return (gin[0] = move(gout, gout->shape, n->i, true, 0.0f)) ? 0 : -1;
}

static nb_tensor *finish(nb_tensor *out, nb_tensor *in, const char *op, nb_backward_fn rule,
                         const int64_t v[10]) {
    nb_node *n;
    if (!out || !nb_op_finish(out, op, rule, 1, &in, &n)) return NULL;
    if (n) {
        n->unread = NB_UNREAD_ALL; /* the rules read only shapes */
        memcpy(n->i, v, 10 * sizeof *v);
    }
    return out;
}

nb_tensor *nb_win_im2col(nb_tensor *x, const nb_win_geom *g, float pad) {
    int64_t v[10];
    pack(g, v);
    return finish(move(x, x->shape, v, true, pad), x, "im2col", im2col_backward, v);
}

nb_tensor *nb_win_col2im(nb_tensor *cols, const nb_win_geom *g) {
    int64_t v[10];
    pack(g, v);
    const int64_t img[4] = {g->N, g->C, g->H, g->W};
    return finish(move(cols, img, v, false, 0.0f), cols, "col2im", col2im_backward, v);
}

/* Records y's node (inputs ins[0..k)), whose rule reads the inputs but never y, with the integer
 * arguments v[0..nv): y, or NULL with the error */
static nb_tensor *finish_reading_inputs(nb_tensor *y, const char *op, nb_backward_fn rule, int k,
                                        nb_tensor **ins, const int64_t *v, int nv) {
    nb_node *n;
    if (!nb_op_finish(y, op, rule, k, ins, &n)) return NULL;
    if (n) {
        n->unread = NB_UNREAD_OUT;
        memcpy(n->i, v, (size_t)nv * sizeof *v);
    }
    return y;
}

/* a [rows, cols] view of contiguous t (a weight [O,1,KH,KW] as [O, KH*KW]) */
static nb_tensor as_2d(const nb_tensor *t, int64_t rows, int64_t cols) {
    nb_tensor d = *t;
    d.ndim = 2;
    d.shape[0] = rows, d.shape[1] = cols;
    d.stride[0] = cols, d.stride[1] = 1;
    return d;
}

static int dwconv_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *w = n->in[1], *dy = nb_contiguous(gout);
    const nb_backend *be = dy ? nb_be(dy) : NULL;
    if (!be) return -1;
    const int64_t O = w->shape[0], K = n->i[0] * n->i[1];
    nb_tensor *dx = x->requires_grad ? nb_new_like_shape(dy, NB_F32, 4, x->shape) : NULL;
    nb_tensor *dw = w->requires_grad ? nb_new_like_shape(dy, NB_F32, w->ndim, w->shape) : NULL;
    if ((x->requires_grad && !dx) || (w->requires_grad && !dw)) return -1;
    const nb_tensor w2 = as_2d(w, O, K);
    nb_tensor dw2 = dw ? as_2d(dw, O, K) : w2;
    const nb_im2col_geom bg = backend_geom(x, n->i, 0.0f);
    if (be->dwconv_backward(dx, dw ? &dw2 : NULL, dy, x, &w2, &bg)) return -1;
    gin[0] = dx;
    gin[1] = dw;
    return 0;
}

nb_tensor *nb_win_dwconv(nb_tensor *x, nb_tensor *w, const nb_win_geom *g) {
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->dwconv || !be->dwconv_backward) return nb_unsupported("dwconv", be);
    nb_tensor *xc = nb_contiguous(x), *wc = nb_contiguous(w);
    if (!xc || !wc) return NULL;
    int64_t v[10];
    pack(g, v);
    const int64_t O = w->shape[0], ys[4] = {g->N, O, g->OH, g->OW};
    nb_tensor *y = nb_new_like_shape(xc, NB_F32, 4, ys);
    if (!y) return NULL;
    const nb_tensor w2 = as_2d(wc, O, g->KH * g->KW);
    const nb_im2col_geom bg = backend_geom(xc, v, 0.0f);
    if (be->dwconv(y, xc, &w2, &bg)) return NULL;
    return finish_reading_inputs(y, "dwconv2d", dwconv_backward, 2, (nb_tensor *[]){xc, wc}, v, 10);
}

static int conv_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *w = n->in[1], *dy = nb_contiguous(gout);
    const nb_backend *be = dy ? nb_be(dy) : NULL;
    if (!be) return -1;
    const int64_t O = w->shape[0], cols = w->shape[1] * w->shape[2] * w->shape[3];
    nb_tensor *dx = x->requires_grad ? nb_new_like_shape(dy, NB_F32, 4, x->shape) : NULL;
    nb_tensor *dw = w->requires_grad ? nb_new_like_shape(dy, NB_F32, w->ndim, w->shape) : NULL;
    if ((x->requires_grad && !dx) || (w->requires_grad && !dw)) return -1;
    const nb_tensor w2 = as_2d(w, O, cols);
    nb_tensor dw2 = dw ? as_2d(dw, O, cols) : w2;
    const nb_im2col_geom bg = backend_geom(x, n->i, 0.0f);
    if (be->conv2d_backward(dx, dw ? &dw2 : NULL, dy, x, &w2, &bg, n->i[10])) return -1;
    gin[0] = dx;
    gin[1] = dw;
    if (n->n_in > 2 && n->in[2]->requires_grad) /* the bias: g summed over images and pixels */
        if (!(gin[2] = nb_sum(dy, 3, (const int[]){0, 2, 3}, false))) return -1;
    return 0;
}

nb_tensor *nb_win_conv(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_win_geom *g, int64_t groups) {
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->conv2d || !be->conv2d_backward) { /* composed: the columns of the batch, one matmul */
        const int64_t G = groups, O = w->shape[0], Cg = g->C / G, K = g->KH * g->KW, L = g->OH * g->OW;
        nb_tensor *cols = nb_win_im2col(x, g, 0.0f);
        /* [G, O/G, Cg*K] @ [N, G, Cg*K, L] -> [N, G, O/G, L] */
        cols = cols ? nb_reshape(cols, NB_SHAPE(g->N, G, Cg * K, L)) : NULL;
        nb_tensor *wm = nb_reshape(w, NB_SHAPE(G, O / G, Cg * K));
        nb_tensor *y = cols && wm ? nb_matmul(wm, cols) : NULL;
        y = y ? nb_reshape(y, NB_SHAPE(g->N, O, g->OH, g->OW)) : NULL;
        return y && b ? nb_add(y, nb_reshape(b, NB_SHAPE(O, 1, 1))) : y;
    }
    nb_tensor *wc = nb_contiguous(w), *bc = b ? nb_contiguous(b) : NULL;
    if (!wc || (b && !bc)) return NULL;
    int64_t v[11];
    pack(g, v);
    v[10] = groups;
    const int64_t O = w->shape[0], ys[4] = {g->N, O, g->OH, g->OW};
    nb_tensor *y = nb_new_like_shape(x, NB_F32, 4, ys);
    if (!y) return NULL;
    const nb_tensor w2 = as_2d(wc, O, w->shape[1] * w->shape[2] * w->shape[3]);
    const nb_im2col_geom bg = backend_geom(x, v, 0.0f);
    if (be->conv2d(y, x, &w2, bc, &bg, groups)) return NULL;
    return finish_reading_inputs(y, "conv2d", conv_backward, bc ? 3 : 2, (nb_tensor *[]){x, wc, bc}, v, 11);
}

/* conv_transpose's gradients: dx is the convolution of g by w (conv2d's forward), dw the
 * convolution's weight gradient with x in the place of dy and g in the place of its input */
static int conv_transpose_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *w = n->in[1];
    gout = nb_contiguous(gout); /* its windows are copied twice: with vector moves, not gathers */
    const nb_backend *be = gout ? nb_be(gout) : NULL;
    if (!be) return -1;
    const int64_t C = w->shape[0], cols = w->shape[1] * w->shape[2] * w->shape[3];
    nb_tensor *dx = x->requires_grad ? nb_new_like_shape(gout, NB_F32, 4, x->shape) : NULL;
    nb_tensor *dw = w->requires_grad ? nb_new_like_shape(gout, NB_F32, w->ndim, w->shape) : NULL;
    if ((x->requires_grad && !dx) || (w->requires_grad && !dw)) return -1;
    const nb_tensor w2 = as_2d(w, C, cols);
    const nb_im2col_geom bg = backend_geom(gout, n->i, 0.0f);
    if (dx && be->conv2d(dx, gout, &w2, NULL, &bg, n->i[10])) return -1;
    nb_tensor dw2 = dw ? as_2d(dw, C, cols) : w2;
    if (dw && be->conv2d_backward(NULL, &dw2, x, gout, &w2, &bg, n->i[10])) return -1;
    gin[0] = dx;
    gin[1] = dw;
    return 0;
}

nb_tensor *nb_win_conv_transpose(nb_tensor *x, nb_tensor *w, const nb_win_geom *g, int64_t groups) {
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    const int64_t G = groups, C = w->shape[0], Cg = C / G, O = g->C, Og = O / G, K = g->KH * g->KW;
    if (!be->conv2d || !be->conv2d_backward) { /* composed: one matmul, then col2im */
        /* [G, Og*K, Cg] @ [N, G, Cg, H*W] -> [N, G, Og*K, H*W]: each pixel's contribution to its window */
        nb_tensor *wm = nb_transpose(nb_reshape(w, NB_SHAPE(G, Cg, Og * K)), 1, 2);
        nb_tensor *xm = nb_reshape(x, NB_SHAPE(g->N, G, Cg, g->OH * g->OW));
        nb_tensor *cols = wm && xm ? nb_matmul(wm, xm) : NULL;
        cols = cols ? nb_reshape(cols, NB_SHAPE(g->N, O, K, g->OH * g->OW)) : NULL;
        return cols ? nb_win_col2im(cols, g) : NULL;
    }
    nb_tensor *xc = nb_contiguous(x), *wc = nb_contiguous(w);
    if (!xc || !wc) return NULL;
    int64_t v[11];
    pack(g, v);
    v[10] = groups;
    const int64_t ys[4] = {g->N, O, g->H, g->W};
    nb_tensor *y = nb_new_like_shape(xc, NB_F32, 4, ys);
    if (!y) return NULL;
    const nb_tensor w2 = as_2d(wc, C, w->shape[1] * w->shape[2] * w->shape[3]);
    const nb_im2col_geom bg = backend_geom(y, v, 0.0f);
    /* the convolution's input gradient with x as its output gradient (y: the shape only) */
    if (be->conv2d_backward(y, NULL, xc, y, &w2, &bg, groups)) return NULL;
    return finish_reading_inputs(y, "conv_transpose2d", conv_transpose_backward, 2, (nb_tensor *[]){xc, wc},
                                 v, 11);
}

static int max_pool_backward(nb_node *n, nb_tensor *gout, nb_tensor **gin) {
    nb_tensor *x = n->in[0], *dy = nb_contiguous(gout);
    const nb_backend *be = dy ? nb_be(dy) : NULL;
    nb_tensor *dx = be ? nb_new_like_shape(dy, NB_F32, 4, x->shape) : NULL;
    if (!dx) return -1;
    const nb_im2col_geom bg = backend_geom(x, n->i, 0.0f);
    if (be->max_pool_backward(dx, dy, n->saved[0], &bg)) return -1;
    gin[0] = dx;
    return 0;
}

nb_tensor *nb_win_max_pool(nb_tensor *x, const nb_win_geom *g) {
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->max_pool || !be->max_pool_backward) return nb_unsupported("max_pool", be);
    if (g->H * g->W > INT32_MAX) /* the positions are i32 */
        return nb_set_error("max_pool: a plane of %lldx%lld is over 2^31 elements", (long long)g->H,
                            (long long)g->W);
    nb_tensor *xc = nb_contiguous(x);
    if (!xc) return NULL;
    int64_t v[10];
    pack(g, v);
    const int64_t ys[4] = {g->N, g->C, g->OH, g->OW};
    nb_tensor *y = nb_new_like_shape(xc, NB_F32, 4, ys),
              *idx = y ? nb_new_like_shape(xc, NB_I32, 4, ys) : NULL;
    if (!idx) return NULL;
    const nb_im2col_geom bg = backend_geom(xc, v, 0.0f);
    if (be->max_pool(y, idx, xc, &bg)) return NULL;
    nb_node *n;
    if (!nb_op_finish(y, "max_pool", max_pool_backward, 1, &xc, &n)) return NULL;
    if (n) {
        n->unread = NB_UNREAD_ALL; /* the rule reads the saved positions and shapes only */
        memcpy(n->i, v, sizeof v);
        nb_node_save(n, 0, idx);
    }
    return y;
}
