/* backends/cpu/cpu.h - the CPU backend's shared pieces (internal). */
#ifndef NB_CPU_H
#define NB_CPU_H

#include "backends/backend.h"
#include "tensor/internal.h"

#define NB_LOOP_MAXOP 4

/* A strided loop over up to 4 same-shape operands, with dimensions that are
 * contiguous for every operand merged together. */
typedef struct {
    int ndim, nops;
    int64_t n;
    int64_t shape[NB_MAX_DIMS];
    int64_t stride[NB_LOOP_MAXOP][NB_MAX_DIMS]; /* elements */
    char *base[NB_LOOP_MAXOP];
    int64_t esize[NB_LOOP_MAXOP];
} nb_loop;

/* Called for one run of `len` elements along the innermost dimension; p[k] is
 * operand k's first element, st[k] its stride in elements. */
typedef void (*nb_run_fn)(void *user, int64_t len, char **p, const int64_t *st);

/* Prepares a loop over tensors t[0..nops-1], all of t[0]'s shape. */
void nb_loop_init(nb_loop *L, int nops, const nb_tensor *const *t);
/* Runs fn over every element, split across threads when large. */
void nb_loop_run(const nb_loop *L, nb_run_fn fn, void *user);

/* Pointer to a tensor's first element. */
static inline char *nb_ptr(const nb_tensor *t) {
    return (char *)t->storage->data + t->offset * (int64_t)nb_dtype_size(t->dtype);
}

/* Kernels, one family per file (backends/cpu/cpu_*.c). */
int nb_cpu_unary(nb_unop op, nb_tensor *out, const nb_tensor *a, float p0, float p1);
int nb_cpu_unary_backward(nb_unop op, nb_tensor *gin, const nb_tensor *gout, const nb_tensor *x,
                          const nb_tensor *y, float p0, float p1);
int nb_cpu_binary(nb_binop op, nb_tensor *out, const nb_tensor *a, const nb_tensor *b);
int nb_cpu_binary_backward(nb_binop op, nb_tensor *ga, nb_tensor *gb, const nb_tensor *g,
                           const nb_tensor *a, const nb_tensor *b, const nb_tensor *y);
int nb_cpu_where(nb_tensor *out, const nb_tensor *cond, const nb_tensor *a, const nb_tensor *b);

int nb_cpu_reduce(nb_redop op, nb_tensor *out, const nb_tensor *a);
int nb_cpu_argmax(nb_tensor *out, const nb_tensor *a, int axis);
int nb_cpu_cumsum(nb_tensor *out, const nb_tensor *a, int dim, bool reverse);
int nb_cpu_cumprod(nb_tensor *out, const nb_tensor *a, int dim, bool reverse);
int nb_cpu_logcumsumexp(nb_tensor *out, const nb_tensor *a, int dim);
int nb_cpu_cummax(nb_tensor *out, nb_tensor *idx, const nb_tensor *a, int dim, bool min);
int nb_cpu_lu(nb_tensor *a, nb_tensor *piv, nb_tensor *info);
int nb_cpu_cholesky(nb_tensor *a, nb_tensor *info);
int nb_cpu_trisolve(nb_tensor *b, const nb_tensor *t, bool upper, bool trans, bool unit);
int nb_cpu_lu_solve(nb_tensor *b, const nb_tensor *lu, const nb_tensor *piv, bool trans);
int nb_cpu_eigh(nb_tensor *w, nb_tensor *v, const nb_tensor *a);
int nb_cpu_qr(nb_tensor *q, nb_tensor *r, const nb_tensor *a);
int nb_cpu_svd(nb_tensor *s, nb_tensor *u, nb_tensor *vh, const nb_tensor *a);
int nb_cpu_argsort(nb_tensor *idx, const nb_tensor *a, int dim, bool desc);
int nb_cpu_im2col(nb_tensor *cols, const nb_tensor *x, const nb_im2col_geom *g);
int nb_cpu_col2im(nb_tensor *dx, const nb_tensor *dcols, const nb_im2col_geom *g);
/* [lo, hi): the window positions ow whose input column iw = ow sw + off falls inside [0, W) */
static inline void nb_cpu_col_range(const nb_im2col_geom *g, int64_t off, int64_t *lo, int64_t *hi) {
    *lo = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
    *hi = g->W - off > 0 ? (g->W - off + g->sw - 1) / g->sw : 0;
    if (*hi > g->OW) *hi = g->OW;
    if (*lo > *hi) *lo = *hi;
}
int nb_cpu_conv2d(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_tensor *b,
                  const nb_im2col_geom *g, int64_t G);
int nb_cpu_conv2d_backward(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                           const nb_tensor *w, const nb_im2col_geom *g, int64_t G);
int nb_cpu_dwconv(nb_tensor *y, const nb_tensor *x, const nb_tensor *w, const nb_im2col_geom *g);
int nb_cpu_dwconv_backward(nb_tensor *dx, nb_tensor *dw, const nb_tensor *dy, const nb_tensor *x,
                           const nb_tensor *w, const nb_im2col_geom *g);
int nb_cpu_max_pool(nb_tensor *y, nb_tensor *idx, const nb_tensor *x, const nb_im2col_geom *g);
int nb_cpu_max_pool_backward(nb_tensor *dx, const nb_tensor *dy, const nb_tensor *idx,
                             const nb_im2col_geom *g);
int nb_cpu_lerp_dim(nb_tensor *out, const nb_tensor *x, const nb_tensor *idx, const nb_tensor *w);
int nb_cpu_lerp_dim_backward(nb_tensor *dx, const nb_tensor *g, const nb_tensor *idx, const nb_tensor *w);
int nb_cpu_matmul(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta);

int nb_cpu_index_select(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx);
int nb_cpu_index_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src);
int nb_cpu_gather(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx);
int nb_cpu_scatter_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src);
int nb_cpu_tril(nb_tensor *out, const nb_tensor *a, int64_t k);

int nb_cpu_softmax(nb_tensor *out, const nb_tensor *a, bool log);
int nb_cpu_softmax_backward(nb_tensor *gin, const nb_tensor *gout, const nb_tensor *y, bool log);
int nb_cpu_layer_norm(nb_tensor *y, nb_tensor *mean, nb_tensor *rstd, const nb_tensor *x,
                      const nb_tensor *w, const nb_tensor *b, float eps);
int nb_cpu_layer_norm_backward(nb_tensor *dx, nb_tensor *dw, nb_tensor *db, const nb_tensor *dy,
                               const nb_tensor *x, const nb_tensor *mean, const nb_tensor *rstd,
                               const nb_tensor *w);
int nb_cpu_cross_entropy(nb_tensor *loss, nb_tensor *lse, const nb_tensor *logits,
                         const nb_tensor *targets, int ignore_index);
int nb_cpu_cross_entropy_backward(nb_tensor *dlogits, const nb_tensor *g, const nb_tensor *logits,
                                  const nb_tensor *targets, const nb_tensor *lse, int ignore_index);
int nb_cpu_cross_entropy_fused(nb_tensor *loss, nb_tensor *lse, nb_tensor *logits,
                               const nb_tensor *targets, int ignore_index, float k);
int nb_cpu_dropout(nb_tensor *out, const nb_tensor *x, float p, uint64_t seed, uint64_t offset);
int nb_cpu_attention(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k,
                     const nb_tensor *v, float scale);
int nb_cpu_attention_backward(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout,
                              const nb_tensor *q, const nb_tensor *k, const nb_tensor *v,
                              const nb_tensor *out, const nb_tensor *lse, float scale);
int nb_cpu_adamw(nb_tensor *p, const nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1,
                 float b2, float eps, float wd, float bc1, float bc2);
int nb_cpu_axpy(nb_tensor *y, float alpha, const nb_tensor *x);

#endif
