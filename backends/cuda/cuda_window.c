/* backends/cuda/cuda_window.c - the sliding-window kernels on the GPU: im2col and col2im (the
 * data movement of convolution as a GEMM), depthwise convolution with its gradients, and max
 * pooling with its gradient (sources in cuda_src_window.c). Every kernel writes each output from
 * one thread (or one block, for the depthwise weight gradient) in a fixed order: deterministic,
 * no atomics. */
#include <limits.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"

static int i2c_args(const char *op, const nb_tensor *img, const nb_tensor *cols, const nb_im2col_geom *g,
                    nb_cu_i2c *a) {
    if (img->dtype != NB_F32 || cols->dtype != NB_F32 || img->ndim != 4 || cols->ndim != 4 ||
        img->shape[0] != g->N || img->shape[1] != g->C || img->shape[2] != g->H || img->shape[3] != g->W ||
        cols->shape[2] != g->KH * g->KW || cols->shape[3] != g->OH * g->OW || !nb_is_contiguous(cols))
        return nb_set_error("%s (cuda): bad operands", op), -1;
    *a = (nb_cu_i2c){
        g->N,  g->C,  g->H,  g->W,  g->KH,
        g->KW, g->sh, g->sw, g->ph, g->pw,
        g->dh, g->dw, g->OH, g->OW, {img->stride[0], img->stride[1], img->stride[2], img->stride[3]},
        g->pad};
    return 0;
}

int nb_cuda_im2col(nb_tensor *cols, const nb_tensor *x, const nb_im2col_geom *g) {
    nb_cu_i2c a;
    if (i2c_args("im2col", x, cols, g, &a)) return -1;
    const long long n = nb_numel(cols);
    if (n == 0) return 0;
    CUdeviceptr o = nb_cu_ptr(cols), xp = nb_cu_ptr(x);
    void *args[] = {&o, &xp, &a};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "im2col"), nb_cu_blocks(n, 256), 256, 0, args);
}

int nb_cuda_col2im(nb_tensor *dx, const nb_tensor *dcols, const nb_im2col_geom *g) {
    nb_cu_i2c a;
    if (i2c_args("col2im", dx, dcols, g, &a)) return -1;
    if (!nb_is_contiguous(dx)) return nb_set_error("col2im (cuda): bad operands"), -1;
    const long long n = nb_numel(dx);
    if (n == 0) return 0;
    CUdeviceptr d = nb_cu_ptr(dx), c = nb_cu_ptr(dcols);
    void *args[] = {&d, &c, &a};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "col2im"), nb_cu_blocks(n, 256), 256, 0, args);
}

/* the kernel's geometry for contiguous x [N,C,H,W] */
static nb_cu_i2c win_geom(const nb_im2col_geom *g) {
    return (nb_cu_i2c){g->N,  g->C,  g->H,  g->W,  g->KH,
                       g->KW, g->sh, g->sw, g->ph, g->pw,
                       g->dh, g->dw, g->OH, g->OW, {g->C * g->H * g->W, g->H * g->W, g->W, 1},
                       0.0f};
}

/* x [N,C,H,W] and y [N,O,OH,OW] contiguous f32 with O a multiple of C; w, when given, [O, KH*KW] */
static int win_check(const char *op, const nb_tensor *x, const nb_tensor *y, const nb_tensor *w,
                     const nb_im2col_geom *g) {
    if (x->dtype != NB_F32 || y->dtype != NB_F32 || x->ndim != 4 || y->ndim != 4 || !nb_is_contiguous(x) ||
        !nb_is_contiguous(y) || x->shape[0] != g->N || x->shape[1] != g->C || x->shape[2] != g->H ||
        x->shape[3] != g->W || y->shape[0] != g->N || y->shape[2] != g->OH || y->shape[3] != g->OW ||
        g->C < 1 || y->shape[1] % g->C ||
        (w && (w->dtype != NB_F32 || w->ndim != 2 || !nb_is_contiguous(w) || w->shape[0] != y->shape[1] ||
               w->shape[1] != g->KH * g->KW)))
        return nb_set_error("%s (cuda): bad operands", op), -1;
    return 0;
}

int nb_cuda_dwconv(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_im2col_geom *g) {
    if (win_check("dwconv", x, y, w, g)) return -1;
    long long n = nb_numel(y), O = y->shape[1];
    if (n == 0) return 0;
    nb_cu_i2c a = win_geom(g);
    CUdeviceptr yp = nb_cu_ptr(y), xp = nb_cu_ptr(x), wp = nb_cu_ptr(w);
    void *args[] = {&yp, &xp, &wp, &a, &O};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "dwconv"), nb_cu_blocks(n, 256), 256, 0, args);
}

int nb_cuda_dwconv_backward(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                            const nb_tensor *w, const nb_im2col_geom *g) {
    if (win_check("dwconv_backward", x, dy, w, g) || (dx && win_check("dwconv_backward", dx, dy, NULL, g)) ||
        (dw && win_check("dwconv_backward", x, dy, dw, g)))
        return -1;
    long long O = dy->shape[1];
    nb_cu_i2c a = win_geom(g);
    CUdeviceptr dyp = nb_cu_ptr(dy), xp = nb_cu_ptr(x), wp = nb_cu_ptr(w);
    const long long nx = nb_numel(x), nw = nb_numel(w);
    if (dx && nx > 0) {
        CUdeviceptr dxp = nb_cu_ptr(dx);
        void *args[] = {&dxp, &dyp, &wp, &a, &O};
        if (nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "dwconv_dx"), nb_cu_blocks(nx, 256), 256, 0, args))
            return -1;
    }
    if (dw && nw > 0) {
        if (nw > INT_MAX) return nb_set_error("dwconv_backward (cuda): %lld weights is over 2^31", nw), -1;
        CUdeviceptr dwp = nb_cu_ptr(dw);
        void *args[] = {&dwp, &dyp, &xp, &a, &O};
        if (nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "dwconv_dw"), (unsigned)nw, 256, 0, args))
            return -1;
    }
    return 0;
}

int nb_cuda_max_pool(nb_tensor *y, nb_tensor *idx, const nb_tensor *x, const nb_im2col_geom *g) {
    if (win_check("max_pool", x, y, NULL, g) || y->shape[1] != g->C || idx->dtype != NB_I32 ||
        !nb_same_shape(idx, y) || !nb_is_contiguous(idx))
        return nb_set_error("max_pool (cuda): bad operands"), -1;
    const long long n = nb_numel(y);
    if (n == 0) return 0;
    nb_cu_i2c a = win_geom(g);
    CUdeviceptr yp = nb_cu_ptr(y), ip = nb_cu_ptr(idx), xp = nb_cu_ptr(x);
    void *args[] = {&yp, &ip, &xp, &a};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "max_pool"), nb_cu_blocks(n, 256), 256, 0, args);
}

int nb_cuda_max_pool_backward(nb_tensor *dx, const nb_tensor *dy, const nb_tensor *idx,
                              const nb_im2col_geom *g) {
    if (win_check("max_pool_backward", dx, dy, NULL, g) || dy->shape[1] != g->C || idx->dtype != NB_I32 ||
        !nb_same_shape(idx, dy) || !nb_is_contiguous(idx))
        return nb_set_error("max_pool_backward (cuda): bad operands"), -1;
    const long long n = nb_numel(dx);
    if (n == 0) return 0;
    nb_cu_i2c a = win_geom(g);
    CUdeviceptr dxp = nb_cu_ptr(dx), dyp = nb_cu_ptr(dy), ip = nb_cu_ptr(idx);
    void *args[] = {&dxp, &dyp, &ip, &a};
    return nb_cu_launch(nb_cu_function(NB_CU_MOD_WINDOW, "max_pool_bwd"), nb_cu_blocks(n, 256), 256, 0, args);
}
