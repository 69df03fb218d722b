/* ops/window.h - the sliding windows of convolution and pooling (internal): their geometry and
 * the differentiable im2col / col2im pair over the backend kernels (ops/window.c). */
#ifndef NB_OPS_WINDOW_H
#define NB_OPS_WINDOW_H

#include "ops/op_util.h"

typedef struct {
    int64_t N, C, H, W; /* input */
    int64_t KH, KW;     /* window */
    int64_t sh, sw, ph, pw, dh, dw;
    int64_t Hp, Wp, OH, OW; /* padded input, output */
} nb_win_geom;

/* The options with their defaults filled in (stride and dilation 1, padding 0, groups 1). */
void nb_win_opts(const nb_conv_opts *o, int64_t s[2], int64_t p[2], int64_t d[2], int64_t *groups);
/* 0, or -1 with an error naming op when a stride, padding or dilation is out of range. */
int nb_win_check(const char *op, const int64_t s[2], const int64_t p[2], const int64_t d[2]);
/* The windows of an image of `shape` [N,C,H,W] for a KH x KW window: 0, or -1 with an error
 * naming op when an option is out of range or no window fits the padded input. OH and OW count
 * the windows that fit (floor), or with `ceil` also a last partial one that starts inside the
 * input or its left padding (torch's ceil_mode). */
int nb_win_geom_make(const char *op, const int64_t shape[4], int64_t KH, int64_t KW, const int64_t s[2],
                     const int64_t p[2], const int64_t d[2], bool ceil, nb_win_geom *g);
/* What an op does with nb_conv_opts: which fields apply and how they are checked. */
typedef enum { NB_WIN_CONV, NB_WIN_CONV_T, NB_WIN_UNFOLD, NB_WIN_MAXPOOL, NB_WIN_AVGPOOL } nb_win_kind;
/* Checks the options of an op of `kind` over nd spatial dims (1: the [0] entries are a length's):
 * no field set that does not apply (output_padding, 'same', pad_mode, ceil_mode, exclude_pad,
 * groups, avg pooling's dilation), none negative, 'same' with stride 1, output padding below the
 * stride or dilation, pooling padding at most half the window (kernel, for pooling). 0, or -1
 * with an error naming op and the dim. */
int nb_win_opts_check(const char *op, nb_win_kind kind, const nb_conv_opts *o, int nd, const int kernel[2]);
/* The same for a 3-d op (ops/conv3d.c): [0] the depth's entries (no 'same', no pad_mode, no output
 * padding), [1] and [2] checked as a 2-d op's. */
int nb_win3d_opts_check(const char *op, nb_win_kind kind, const nb_conv_opts *o, const int kernel[3]);
/* x [N,C,H,W] -> columns [N, C, KH*KW, OH*OW], `pad` outside x; its gradient is col2im. */
nb_tensor *nb_win_im2col(nb_tensor *x, const nb_win_geom *g, float pad);
/* columns [N, C, KH*KW, OH*OW] -> [N,C,H,W], each pixel the sum of the entries that read it
 * (the adjoint of im2col); its gradient is im2col. */
nb_tensor *nb_win_col2im(nb_tensor *cols, const nb_win_geom *g);
/* Dense convolution of x [N,C,H,W] by w [O, C/groups, KH, KW] in `groups` groups (zeros outside
 * x), plus b [O] (NULL: none): y [N, O, OH, OW], differentiable in x, w and b. The backend's fused kernel
 * where it has one (columns made block by block, never for the whole batch), else im2col and one batched
 * matmul; the same sums either way. Shapes are the caller's to check. */
nb_tensor *nb_win_conv(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_win_geom *g, int64_t groups);
/* Transposed convolution of x [N,C,H,W] by w [C, O/groups, KH, KW] in `groups` groups: the
 * output image [g->N, g->C = O, g->H, g->W], whose windows (g->OH x g->OW = H x W of them) each
 * input pixel adds its contribution to; differentiable in x and w. The backend's fused kernels
 * where it has them (the convolution's input gradient; no columns for the batch), else one
 * matmul and col2im; the same sums either way. Shapes are the caller's to check. */
nb_tensor *nb_win_conv_transpose(nb_tensor *x, nb_tensor *w, const nb_win_geom *g, int64_t groups);
/* Depthwise convolution of x [N,C,H,W] by w [C*m, 1, KH, KW] (output channel o reads input
 * channel o / m; zeros outside x): y [N, C*m, OH, OW], straight over the image (no columns),
 * differentiable in x and w. Shapes are the caller's to check. */
nb_tensor *nb_win_dwconv(nb_tensor *x, nb_tensor *w, const nb_win_geom *g);
/* Max pooling of x [N,C,H,W]: each window's largest element inside x (padding never picked; a
 * NaN first, the first on ties), which alone gets the gradient: y [N,C,OH,OW]. */
nb_tensor *nb_win_max_pool(nb_tensor *x, const nb_win_geom *g);

#endif
