/* backends/backend.h - the interface every backend implements (internal).
 *
 * A backend is a table of functions: memory (alloc, free, transfers) and the
 * kernels the ops layer dispatches to. Kernels receive nb_tensor descriptors
 * whose storage is on the backend's device, with shapes already checked and
 * broadcast operands already expanded (stride 0) to the output's shape by
 * the ops layer. Every kernel returns 0, or -1 after nb_set_error().
 * The CPU backend implements every entry; another backend may leave an entry
 * NULL, and the ops layer then reports the op as unsupported there (or, for an entry marked
 * optional, composes it from other entries). */
#ifndef NB_BACKEND_H
#define NB_BACKEND_H

#include "nabla/tensor.h"

/* Elementwise op codes, generated from ops/elementwise.def. */
typedef enum {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER) NB_UN_##NAME,
#include "ops/elementwise.def"
#undef NB_UNARY_OP
    NB_UN_COUNT
} nb_unop;

typedef enum {
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF) NB_BIN_##NAME,
#include "ops/elementwise.def"
#undef NB_BINARY_OP
    NB_BIN_COUNT
} nb_binop;

typedef enum { NB_RED_SUM, NB_RED_MAX, NB_RED_MIN, NB_RED_PROD, NB_RED_COUNT } nb_redop;
typedef enum { NB_RAND_UNIFORM, NB_RAND_NORMAL } nb_randkind;

/* The windows of a convolution or pooling over x [N,C,H,W]: window KHxKW, stride, padding
 * (positions outside x read `pad`), dilation; the output is OHxOW. */
typedef struct nb_im2col_geom {
    int64_t N, C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW;
    float pad;
} nb_im2col_geom;

typedef struct nb_backend {
    const char *name;
    nb_device device;

    /* memory */
    void *(*alloc)(size_t nbytes); /* NULL when out of memory (error set) */
    void (*free)(void *p);
    int (*upload)(void *dst, const void *src, size_t nbytes);   /* host -> device */
    int (*download)(void *dst, const void *src, size_t nbytes); /* device -> host */
    void (*synchronize)(void);

    /* creation and copies */
    int (*fill)(nb_tensor *out, double value);
    int (*copy)(nb_tensor *out, const nb_tensor *a); /* same shape, any strides, f32<->i32 */
    int (*arange)(nb_tensor *out, double start, double step);
    int (*random)(nb_tensor *out, nb_randkind kind, float a, float b, uint64_t seed, uint64_t offset);

    /* elementwise */
    int (*unary)(nb_unop op, nb_tensor *out, const nb_tensor *a, float p0, float p1);
    /* gin = gout * d op(x)/dx, where y = op(x) */
    int (*unary_backward)(nb_unop op, nb_tensor *gin, const nb_tensor *gout, const nb_tensor *x,
                          const nb_tensor *y, float p0, float p1);
    int (*binary)(nb_binop op, nb_tensor *out, const nb_tensor *a, const nb_tensor *b);
    /* ga = g * dy/da, gb = g * dy/db at the output's shape (either may be NULL) */
    int (*binary_backward)(nb_binop op, nb_tensor *ga, nb_tensor *gb, const nb_tensor *g, const nb_tensor *a,
                           const nb_tensor *b, const nb_tensor *y);
    int (*where)(nb_tensor *out, const nb_tensor *cond, const nb_tensor *a, const nb_tensor *b);

    /* reductions: `out` has a's ndim with size 1 on the reduced axes */
    int (*reduce)(nb_redop op, nb_tensor *out, const nb_tensor *a);
    int (*argmax)(nb_tensor *out, const nb_tensor *a, int axis); /* out keeps axis with size 1 */
    /* out[..., i, ...] = the sum of a[..., j, ...] over j <= i along dim (j >= i when reverse),
     * accumulated in double in index order; f32, one shape, any strides (0 included) */
    int (*cumsum)(nb_tensor *out, const nb_tensor *a, int dim, bool reverse);
    /* running product along dim, as cumsum (in double, one serial chain per line) */
    int (*cumprod)(nb_tensor *out, const nb_tensor *a, int dim, bool reverse);
    /* running log-sum-exp along dim (torch.logcumsumexp), in double, one serial chain per line */
    int (*logcumsumexp)(nb_tensor *out, const nb_tensor *a, int dim);
    /* running max (min when `min`) along dim and, in idx (i32), the position it came from: a
     * later tie takes over, and so does a NaN, which then stays (torch.cummax / cummin) */
    int (*cummax)(nb_tensor *out, nb_tensor *idx, const nb_tensor *a, int dim, bool min);
    /* idx (i32, a's shape) = the positions that sort each line of a (f32) along dim, ascending
     * (descending when desc); a total order: NaN counts as the largest, ties go by position */
    int (*argsort)(nb_tensor *idx, const nb_tensor *a, int dim, bool desc);

    /* out[b] = a[b] @ b[b] + beta * out[b]; all 3-D [B,M,K]@[B,K,N]; a and b
     * are row-major or transposed in their last two dims; batch strides may be 0 */
    int (*matmul)(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta);

    /* indexing */
    int (*index_select)(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx);
    int (*index_add)(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src);
    int (*gather)(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx);
    int (*scatter_add)(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src);
    int (*tril)(nb_tensor *out, const nb_tensor *a, int64_t k);
    /* cols [N,C,KH*KW,OH*OW] (contiguous) = the windows of x (f32 [N,C,H,W], any strides) */
    int (*im2col)(nb_tensor *cols, const nb_tensor *x, const nb_im2col_geom *g);
    /* out [A, n_out, B] = w[0][o] x[A, idx[0][o], B] + w[1][o] x[A, idx[1][o], B] for each o
     * (interpolation along one dim): x [A, n_in, B] and out contiguous f32, idx i32 and w f32
     * [2, n_out] contiguous, on the device */
    int (*lerp_dim)(nb_tensor *out, const nb_tensor *x, const nb_tensor *idx, const nb_tensor *w);
    /* its adjoint: dx [A, n_in, B] (overwritten) gets, for o in order, w[0][o] g[A, o, B] at
     * idx[0][o] then w[1][o] g[A, o, B] at idx[1][o]: the same order on every backend */
    int (*lerp_dim_backward)(nb_tensor *dx, const nb_tensor *g, const nb_tensor *idx, const nb_tensor *w);
    /* dx [N,C,H,W] (contiguous, overwritten) = for each pixel, the sum of the entries of dcols
     * (contiguous, as cols) that read it, in window order (kh, kw), then output order */
    int (*col2im)(nb_tensor *dx, const nb_tensor *dcols, const nb_im2col_geom *g);
    /* Optional (NULL: the ops layer composes im2col and matmul, with the same sums). A dense
     * convolution in `groups` groups: y [N, O, OH, OW] (contiguous) = per group the weights w
     * [O, C/groups*KH*KW] (contiguous) times the columns of x (f32 [N,C,H,W], any strides, zeros
     * outside), each output summed as one GEMM over the columns would, then b[o] (f32 [O],
     * contiguous; NULL: none) added (so the composed result, bit for bit), without keeping the
     * columns of the whole batch */
    int (*conv2d)(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_tensor *b,
                  const nb_im2col_geom *g, int64_t groups);
    /* Its gradients, either may be NULL: dx [N,C,H,W] (contiguous, overwritten) = col2im of w^T dy,
     * as the composition's; dw (w's shape, contiguous, overwritten) = per group the sum of dy
     * times the columns^T, in an order fixed by the shape. x is read for dw only (for dx, only
     * its shape: a transposed convolution passes its output as both) */
    int (*conv2d_backward)(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                           const nb_tensor *w, const nb_im2col_geom *g, int64_t groups);
    /* Depthwise convolution, all operands contiguous f32: y [N, C*m, OH, OW] = for output channel
     * o, the windows of input channel o / m of x [N,C,H,W] (zeros outside) weighted by w[o]
     * [C*m, KH*KW], summed in window order (kh, kw) from 0, each term rounded (no FMA) */
    int (*dwconv)(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_im2col_geom *g);
    /* Its gradients, either may be NULL: dx [N,C,H,W] (overwritten) = per pixel the sum, over the
     * multiplier j then the window position (kh, kw), of w[o][k] dy at the output that read it;
     * dw [C*m, KH*KW] (overwritten) = per weight the sum over (n, oh, ow) of dy x (any fixed order) */
    int (*dwconv_backward)(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                           const nb_tensor *w, const nb_im2col_geom *g);
    /* Max pooling of x [N,C,H,W] (contiguous): y [N,C,OH,OW] = each window's largest element
     * inside x (padding is never picked; a NaN beats any number, the first one on ties), idx (i32,
     * y's shape) its position h W + w in the plane */
    int (*max_pool)(nb_tensor *y, nb_tensor *idx, const nb_tensor *x, const nb_im2col_geom *g);
    /* dx [N,C,H,W] (contiguous, overwritten) = per pixel the sum of dy over the outputs whose idx
     * picked it, in output order */
    int (*max_pool_backward)(nb_tensor *dx, const nb_tensor *dy, const nb_tensor *idx,
                             const nb_im2col_geom *g);

    /* fused neural-network kernels (inputs contiguous, over the last dim) */
    int (*softmax)(nb_tensor *out, const nb_tensor *a, bool log);
    int (*softmax_backward)(nb_tensor *gin, const nb_tensor *gout, const nb_tensor *y, bool log);
    int (*layer_norm)(nb_tensor *y, nb_tensor *mean, nb_tensor *rstd, const nb_tensor *x, const nb_tensor *w,
                      const nb_tensor *b, float eps);
    int (*layer_norm_backward)(nb_tensor *dx, nb_tensor *dw, nb_tensor *db, const nb_tensor *dy,
                               const nb_tensor *x, const nb_tensor *mean, const nb_tensor *rstd,
                               const nb_tensor *w);
    /* loss: 0-d mean over non-ignored rows; lse: [N, 2], per row the log-sum-exp as the pair
     * (m, log sum exp(x - m)), m the row's max ((0, 0) on ignored rows): kept apart because
     * m + log(...) rounds to m's ulp, and the backward's exp((x - m) - ls) would lose it */
    int (*cross_entropy)(nb_tensor *loss, nb_tensor *lse, const nb_tensor *logits, const nb_tensor *targets,
                         int ignore_index);
    /* dlogits = g * (softmax - onehot) / count, rows with ignored targets 0 */
    int (*cross_entropy_backward)(nb_tensor *dlogits, const nb_tensor *g, const nb_tensor *logits,
                                  const nb_tensor *targets, const nb_tensor *lse, int ignore_index);
    /* Cross-entropy forward and backward in one pass over each row, in place (optional: NULL
     * makes the ops layer call cross_entropy then cross_entropy_backward). For logits [N,C] and
     * targets [N]: loss (0-d) = k * sum over kept rows of (ls - (logits[target] - m)), summed
     * in double; lse [N, 2] the pairs (m, ls) as for cross_entropy; logits overwritten with
     * k * (softmax - onehot(target)) on kept rows and 0 on ignored rows. A target outside
     * [0, C) that is not ignore_index gives -1 (the logits are then unspecified). */
    int (*cross_entropy_fused)(nb_tensor *loss, nb_tensor *lse, nb_tensor *logits, const nb_tensor *targets,
                               int ignore_index, float k);
    /* out = x * keep / (1-p), keep drawn from Philox(seed, offset + i/4, lane i%4) */
    int (*dropout)(nb_tensor *out, const nb_tensor *x, float p, uint64_t seed, uint64_t offset);
    /* causal attention over [B,H,T,D]; lse [B,H,T,2], each row's log-sum-exp as the pair (max,
     * log of the sum of exps), saved for the backward */
    int (*attention)(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k,
                     const nb_tensor *v, float scale);
    int (*attention_backward)(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout,
                              const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                              const nb_tensor *out, const nb_tensor *lse, float scale);

    /* linear algebra, on contiguous f32 batches (B leading, row-major): every sum in double, in
     * index order, so the backends agree to rounding; the factorisations run on a double copy of
     * each matrix, rounded to f32 once */
    /* LU with partial pivoting in place (LAPACK's getrf, left-looking): a [B,n,n] becomes L
     * (unit, below the diagonal) and U; piv [B,n] (i32) the row swapped with row k at step k (from
     * 0, the first largest |a|, a NaN only when first); info [B] (i32) 0, or k + 1 for the first exactly zero
     * pivot U[k][k] (the factorisation goes on past it, L's column k left unscaled) */
    int (*lu)(nb_tensor *a, nb_tensor *piv, nb_tensor *info);
    /* Cholesky in place: a [B,n,n] becomes L (A = L L^T, from A's lower triangle; 0 above the
     * diagonal); info [B] (i32) 0, or k + 1 for the first pivot A[k][k] - sum L[k][p]^2 not > 0
     * (that matrix is then left as it was) */
    int (*cholesky)(nb_tensor *a, nb_tensor *info);
    /* b [B,n,k] overwritten with op(t)^-1 b for t [B,n,n] triangular (upper, else lower; its other
     * triangle never read); op(t) = t^T when trans; unit: the diagonal read as 1 */
    int (*trisolve)(nb_tensor *b, const nb_tensor *t, bool upper, bool trans, bool unit);
    /* b [B,n,k] overwritten with A^-1 b (A^-T b when trans) from lu's factors and pivots */
    int (*lu_solve)(nb_tensor *b, const nb_tensor *lu, const nb_tensor *piv, bool trans);
    /* symmetric eigendecomposition (ops/decomp_math.h's nb_eigh_sym per matrix): a [B,n,n]
     * (its lower triangle) -> w [B,n] ascending, v [B,n,n] the eigenvectors in its columns (v
     * NULL: eigenvalues only) */
    int (*eigh)(nb_tensor *w, nb_tensor *v, const nb_tensor *a);
    /* Householder QR (nb_qr_householder per matrix): a [B,m,n] -> q [B,m,kq] (NULL: not formed)
     * and r [B,kr,n], kq and kr <= m */
    int (*qr)(nb_tensor *q, nb_tensor *r, const nb_tensor *a);
    /* singular values (ops/svd_math.h's nb_svd_serial per matrix): a [B,m,n] -> s [B,k] descending, and when
     * u is not NULL u [B,m,k] and vh [B,k,n], k = min(m,n) */
    int (*svd)(nb_tensor *s, nb_tensor *u, nb_tensor *vh, const nb_tensor *a);

    /* optimiser */
    int (*adamw)(nb_tensor *p, const nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1, float b2,
                 float eps, float wd, float bc1, float bc2);
    int (*axpy)(nb_tensor *y, float alpha, const nb_tensor *x);
} nb_backend;

/* Whether t is a contiguous batch of dtype dt with ndim dims: the operands of the linear-algebra
 * kernels (both backends check them with it). */
static inline bool nb_la_operand(const nb_tensor *t, nb_dtype dt, int ndim) {
    return t->dtype == dt && t->ndim == ndim && nb_is_contiguous(t);
}

/* The backend for `dev`, or NULL with a message (e.g. no GPU present). */
const nb_backend *nb_backend_get(nb_device dev);
/* The CPU backend (always present). */
extern const nb_backend nb_cpu_backend;

#endif
