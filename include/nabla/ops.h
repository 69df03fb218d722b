/* nabla/ops.h - every op. Each op returns a tensor owned by the current
 * context (see nb_ctx_use; with none current, by its first input's context):
 * a new one, except where its comment says it may return its input (views,
 * nb_contiguous, nb_dropout). It records itself for autograd when an input
 * requires grad and grad mode is on, and returns NULL on error with a message
 * in nb_last_error() naming the op and the shapes. A NULL input gives NULL,
 * keeping the message of the call that failed before (so a chain of ops
 * reports its first failure), or naming the NULL input when there is none.
 * Binary elementwise ops broadcast as NumPy does. Dimensions may be negative
 * (counted from the end). Arithmetic, comparisons, reductions and the nn
 * functions compute in f32: other dtypes are refused with a message (nb_cast
 * them first; e.g. accuracy is nb_eq(nb_cast(pred, NB_F32), nb_cast(y, NB_F32))).
 * i32 goes in as indices (embedding, index_select, gather, targets) and comes
 * out of nb_argmax. See docs/ops.md for each op's backward rule. */
#ifndef NABLA_OPS_H
#define NABLA_OPS_H

#include "nabla/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Elementwise, binary (broadcasting) ------------------------------------ */
nb_tensor *nb_add(nb_tensor *a, nb_tensor *b);     /* a + b */
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b);     /* a - b */
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b);     /* a * b */
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b);     /* a / b */
nb_tensor *nb_pow(nb_tensor *a, nb_tensor *b);     /* a ^ b (a > 0 where b is not an integer) */
nb_tensor *nb_maximum(nb_tensor *a, nb_tensor *b); /* max(a, b), NaN if either is; ties split g */
nb_tensor *nb_minimum(nb_tensor *a, nb_tensor *b); /* min(a, b), NaN if either is; ties split g */
nb_tensor *nb_atan2(nb_tensor *a, nb_tensor *b);   /* the angle of the point (b, a), in [-pi, pi] */
nb_tensor *nb_fmod(nb_tensor *a, nb_tensor *b);    /* a - b trunc(a / b): a's sign (C's fmodf) */
/* a - b floor(a / b): b's sign (Python's %, torch.remainder); both: NaN where b is 0 */
nb_tensor *nb_remainder(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_hypot(nb_tensor *a, nb_tensor *b);      /* sqrt(a^2 + b^2) without overflow */
nb_tensor *nb_logaddexp(nb_tensor *a, nb_tensor *b);  /* log(e^a + e^b) without overflow */
nb_tensor *nb_logaddexp2(nb_tensor *a, nb_tensor *b); /* log2(2^a + 2^b) without overflow */
nb_tensor *nb_xlogy(nb_tensor *a, nb_tensor *b);      /* a log b; 0 where a is 0, NaN where b is */
/* |a| with b's sign (sign bit included: -0 counts as negative); gradient in a only */
nb_tensor *nb_copysign(nb_tensor *a, nb_tensor *b);
/* Not differentiable (no graph, as torch): floor(a / b) (torch.floor_divide); heaviside, the
 * step with b where a is 0 (0 for NaN); the logical ops, 0/1 masks with any nonzero (NaN too)
 * true. */
nb_tensor *nb_floor_divide(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_heaviside(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_logical_and(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_logical_or(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_logical_xor(nb_tensor *a, nb_tensor *b);

/* Scalar forms: the same ops with a constant right operand. */
nb_tensor *nb_add_scalar(nb_tensor *a, float s);
nb_tensor *nb_sub_scalar(nb_tensor *a, float s);
nb_tensor *nb_mul_scalar(nb_tensor *a, float s);
nb_tensor *nb_div_scalar(nb_tensor *a, float s);
nb_tensor *nb_pow_scalar(nb_tensor *a, float s);
nb_tensor *nb_maximum_scalar(nb_tensor *a, float s);
nb_tensor *nb_minimum_scalar(nb_tensor *a, float s);
nb_tensor *nb_rsub_scalar(nb_tensor *a, float s); /* s - a */

/* ---- Elementwise, unary (f32 in, a new f32 tensor of a's shape out) -------- */
nb_tensor *nb_neg(nb_tensor *a);        /* -a */
nb_tensor *nb_exp(nb_tensor *a);        /* e^a */
nb_tensor *nb_log(nb_tensor *a);        /* natural log (NaN below 0, -inf at 0) */
nb_tensor *nb_sqrt(nb_tensor *a);       /* square root */
nb_tensor *nb_rsqrt(nb_tensor *a);      /* 1 / sqrt(a) */
nb_tensor *nb_tanh(nb_tensor *a);       /* tanh(a) */
nb_tensor *nb_sigmoid(nb_tensor *a);    /* 1 / (1 + e^-a) */
nb_tensor *nb_relu(nb_tensor *a);       /* max(a, 0); gradient 0 at 0 */
nb_tensor *nb_gelu(nb_tensor *a);       /* tanh approximation, as GPT-2 */
nb_tensor *nb_abs(nb_tensor *a);        /* |a|; gradient 0 at 0 */
nb_tensor *nb_sin(nb_tensor *a);        /* sin(a) */
nb_tensor *nb_cos(nb_tensor *a);        /* cos(a) */
nb_tensor *nb_log1p(nb_tensor *a);      /* log(1 + a), accurate near 0 */
nb_tensor *nb_expm1(nb_tensor *a);      /* e^a - 1, accurate near 0 */
nb_tensor *nb_erf(nb_tensor *a);        /* the error function */
nb_tensor *nb_gelu_erf(nb_tensor *a);   /* exact GELU, 0.5 a (1 + erf(a / sqrt 2)): torch's F.gelu default */
nb_tensor *nb_silu(nb_tensor *a);       /* a * sigmoid(a) (swish) */
nb_tensor *nb_softplus(nb_tensor *a);   /* log(1 + e^a); a itself above 20, as torch's default threshold */
nb_tensor *nb_tan(nb_tensor *a);        /* tan(a) */
nb_tensor *nb_asin(nb_tensor *a);       /* arcsine; NaN outside [-1, 1] */
nb_tensor *nb_acos(nb_tensor *a);       /* arccosine; NaN outside [-1, 1] */
nb_tensor *nb_atan(nb_tensor *a);       /* arctangent */
nb_tensor *nb_sinh(nb_tensor *a);       /* hyperbolic sine */
nb_tensor *nb_cosh(nb_tensor *a);       /* hyperbolic cosine */
nb_tensor *nb_asinh(nb_tensor *a);      /* inverse hyperbolic sine */
nb_tensor *nb_acosh(nb_tensor *a);      /* inverse hyperbolic cosine; NaN below 1 */
nb_tensor *nb_atanh(nb_tensor *a);      /* inverse hyperbolic tangent; NaN outside [-1, 1] */
nb_tensor *nb_log2(nb_tensor *a);       /* base-2 log */
nb_tensor *nb_log10(nb_tensor *a);      /* base-10 log */
nb_tensor *nb_exp2(nb_tensor *a);       /* 2^a */
nb_tensor *nb_reciprocal(nb_tensor *a); /* 1 / a */
nb_tensor *nb_square(nb_tensor *a);     /* a * a */
nb_tensor *nb_erfc(nb_tensor *a);       /* 1 - erf(a), accurate where erf is near 1 */
nb_tensor *nb_erfinv(nb_tensor *a);     /* the inverse error function; +-inf at +-1, NaN beyond */
nb_tensor *nb_lgamma(nb_tensor *a);     /* log |Gamma(a)|; its gradient digamma(a) */
nb_tensor *nb_digamma(nb_tensor *a);    /* Gamma'(a) / Gamma(a); NaN at 0, -1, -2, ... below 0 */
nb_tensor *nb_sinc(nb_tensor *a);       /* sin(pi a) / (pi a), 1 at 0 (torch.sinc) */
nb_tensor *nb_frac(nb_tensor *a);       /* a - trunc(a), a's sign; gradient g */
nb_tensor *nb_tanhshrink(nb_tensor *a); /* a - tanh(a) */
/* log(a / (1 - a)), a clamped to [eps, 1 - eps] first when eps >= 0 (torch.logit; eps < 0 for
 * none: NaN outside [0, 1]); NULL with an error for eps NaN or above 0.5. */
nb_tensor *nb_logit(nb_tensor *a, float eps);
/* 0 where |a| <= lambda, else a (hardshrink); else a - lambda sign(a) (softshrink: NULL with an
 * error for lambda < 0); the gradient is g outside [-lambda, lambda], 0 inside. */
nb_tensor *nb_hardshrink(nb_tensor *a, float lambd);
nb_tensor *nb_softshrink(nb_tensor *a, float lambd);
/* value where a <= threshold, else a (torch's F.threshold); gradient 0 where replaced. */
nb_tensor *nb_threshold(nb_tensor *a, float threshold, float value);
/* NaN, +inf and -inf replaced by nan, posinf and neginf (torch.nan_to_num's defaults are 0,
 * FLT_MAX and -FLT_MAX); the gradient is g where a is finite, 0 where replaced. */
nb_tensor *nb_nan_to_num(nb_tensor *a, float nan, float posinf, float neginf);
/* Tests, 0/1 f32 masks with no graph (as torch's bool results): NaN; +-inf; neither; +inf; -inf;
 * logical not (1 where a is 0). */
nb_tensor *nb_isnan(nb_tensor *a);
nb_tensor *nb_isinf(nb_tensor *a);
nb_tensor *nb_isfinite(nb_tensor *a);
nb_tensor *nb_isposinf(nb_tensor *a);
nb_tensor *nb_isneginf(nb_tensor *a);
nb_tensor *nb_logical_not(nb_tensor *a);
/* Steps, each with gradient 0 everywhere (as PyTorch). */
nb_tensor *nb_sign(nb_tensor *a);  /* -1, 0 or 1; 0 for NaN (as torch.sign) */
nb_tensor *nb_floor(nb_tensor *a); /* the largest integer <= a */
nb_tensor *nb_ceil(nb_tensor *a);  /* the smallest integer >= a */
nb_tensor *nb_round(nb_tensor *a); /* the nearest integer, halves to even (as torch.round) */
nb_tensor *nb_trunc(nb_tensor *a); /* a with its fraction dropped, towards 0 */
/* a where a > 0, else slope * a (torch's negative_slope, 0.01 there by default); NULL for a NaN
 * slope. */
nb_tensor *nb_leaky_relu(nb_tensor *a, float slope);
/* a limited to [lo, hi] (gradient 1 inside, bounds included, 0 outside); NULL when lo > hi or
 * either is NaN. */
nb_tensor *nb_clamp(nb_tensor *a, float lo, float hi);

/* More activations, composed (ops/activation.c), with torch's values and gradients at the kinks:
 * ELU (a above 0, alpha (e^a - 1) else), SELU (torch's fixed scale and alpha), hardtanh (clamp
 * to [lo, hi], gradient 0 on the bounds; NULL when lo > hi), ReLU6 (hardtanh to [0, 6]),
 * hardsigmoid (relu6(a + 3) / 6), hardswish (a hardsigmoid(a)), Mish (a tanh(softplus(a))),
 * softsign (a / (1 + |a|)). A new tensor in the current context; NULL with an error. */
nb_tensor *nb_elu(nb_tensor *a, float alpha);
nb_tensor *nb_selu(nb_tensor *a);
nb_tensor *nb_hardtanh(nb_tensor *a, float lo, float hi);
nb_tensor *nb_relu6(nb_tensor *a);
nb_tensor *nb_hardsigmoid(nb_tensor *a);
nb_tensor *nb_hardswish(nb_tensor *a);
nb_tensor *nb_mish(nb_tensor *a);
nb_tensor *nb_softsign(nb_tensor *a);
/* CELU: a above 0, alpha (e^(a / alpha) - 1) else (torch's F.celu); NULL for alpha 0 or NaN. */
nb_tensor *nb_celu(nb_tensor *a, float alpha);
/* PReLU: a above 0, w a below, with w [1] (one slope) or [C] (one per channel, a's dim 1); the
 * slopes get a gradient. NULL with an error for a weight that does not fit. */
nb_tensor *nb_prelu(nb_tensor *a, nb_tensor *w);
/* log(sigmoid(a)), computed without overflow (torch's F.logsigmoid); its slope sigmoid(-a). */
nb_tensor *nb_log_sigmoid(nb_tensor *a);
/* The gated linear unit along dim (torch's F.glu): the first half times the sigmoid of the
 * second. NULL with an error when the dim's size is odd. */
nb_tensor *nb_glu(nb_tensor *a, int dim);

/* ---- Comparisons (f32 masks of 0 and 1; not differentiable) ----------------- */
nb_tensor *nb_eq(nb_tensor *a, nb_tensor *b); /* a == b */
nb_tensor *nb_ne(nb_tensor *a, nb_tensor *b); /* a != b (1 where either is NaN) */
nb_tensor *nb_lt(nb_tensor *a, nb_tensor *b); /* a < b */
nb_tensor *nb_le(nb_tensor *a, nb_tensor *b); /* a <= b */
nb_tensor *nb_gt(nb_tensor *a, nb_tensor *b); /* a > b */
nb_tensor *nb_ge(nb_tensor *a, nb_tensor *b); /* a >= b */
/* cond != 0 ? a : b, all three broadcast together. */
nb_tensor *nb_where(nb_tensor *cond, nb_tensor *a, nb_tensor *b);
/* mask != 0 ? value : a (mask broadcasts to a). */
nb_tensor *nb_masked_fill(nb_tensor *a, nb_tensor *mask, float value);
/* a + w (b - a), all broadcast (torch.lerp: b - (b - a)(1 - w) from w = 1/2, so w = 1 gives b
 * exactly); differentiable in a, b and w. nb_lerp_scalar: with a constant weight. */
nb_tensor *nb_lerp(nb_tensor *a, nb_tensor *b, nb_tensor *w);
nb_tensor *nb_lerp_scalar(nb_tensor *a, nb_tensor *b, float w);
/* a + value t1 t2 and a + value t1 / t2, broadcast (torch.addcmul, torch.addcdiv). */
nb_tensor *nb_addcmul(nb_tensor *a, nb_tensor *t1, nb_tensor *t2, float value);
nb_tensor *nb_addcdiv(nb_tensor *a, nb_tensor *t1, nb_tensor *t2, float value);

/* ---- Reductions over a set of axes (naxes == 0: all axes) ------------------- */
/* keepdim keeps the reduced axes with size 1. NULL for an axis out of range or given twice. */
nb_tensor *nb_sum(nb_tensor *a, int naxes, const int *axes, bool keepdim); /* sum (0 over no elements) */
/* mean; NULL over no elements */
nb_tensor *nb_mean(nb_tensor *a, int naxes, const int *axes, bool keepdim);
/* max / min; a NaN among the elements gives NaN; the gradient is shared equally among tied
 * maxima (minima); NULL when a reduced axis is empty (an empty tensor reduced over non-empty
 * axes gives an empty result) */
nb_tensor *nb_max(nb_tensor *a, int naxes, const int *axes, bool keepdim);
nb_tensor *nb_min(nb_tensor *a, int naxes, const int *axes, bool keepdim);
/* product (1 over no elements), accumulated in double on the CPU; the gradient is the product of
 * the other elements (y / x without zeros; torch's rule with zeros) */
nb_tensor *nb_prod(nb_tensor *a, int naxes, const int *axes, bool keepdim);
/* The sum and the mean of the elements that are not NaN (torch.nansum, torch.nanmean: 0 and NaN
 * over none); gradient 0 at the NaNs. */
nb_tensor *nb_nansum(nb_tensor *a, int naxes, const int *axes, bool keepdim);
nb_tensor *nb_nanmean(nb_tensor *a, int naxes, const int *axes, bool keepdim);
/* Not differentiable (no graph): the count of nonzero elements (f32, exact to 2^24), and 0/1
 * masks of whether any / all of them are nonzero (NaN counts as nonzero; any over none is 0,
 * all over none 1, as torch). */
nb_tensor *nb_count_nonzero(nb_tensor *a, int naxes, const int *axes, bool keepdim);
nb_tensor *nb_any(nb_tensor *a, int naxes, const int *axes, bool keepdim);
nb_tensor *nb_all(nb_tensor *a, int naxes, const int *axes, bool keepdim);
/* Variance with `correction` (0: population, 1: sample/Bessel). */
nb_tensor *nb_var(nb_tensor *a, int naxes, const int *axes, int correction, bool keepdim);
/* Standard deviation: sqrt of nb_var (same arguments and errors); its gradient is 0 over a
 * slice whose deviation is 0, as torch. */
nb_tensor *nb_std(nb_tensor *a, int naxes, const int *axes, int correction, bool keepdim);
/* The vector p-norm over the axes (torch.linalg.vector_norm): (sum |a|^p)^(1/p) for any p,
 * INFINITY the largest |a|, -INFINITY the smallest, 0 the count of non-zeros; its gradient is
 * torch's, 0 where the norm is 0. NULL with an error for a NaN p. */
nb_tensor *nb_norm(nb_tensor *a, float p, int naxes, const int *axes, bool keepdim);
/* a / max(norm_p(a along dim), eps) (torch's F.normalize; p 2 and eps 1e-12 are its defaults). */
nb_tensor *nb_normalize(nb_tensor *a, float p, int dim, float eps);
/* The cosine of the angle between a and b along dim (broadcast to one shape, dim dropped), as
 * torch 1.13's F.cosine_similarity: each divided by its norm, its square clamped below at eps^2
 * (a constant: the gradient is the unclamped one's, as torch's); eps 1e-8 is torch's default. */
nb_tensor *nb_cosine_similarity(nb_tensor *a, nb_tensor *b, int dim, float eps);
/* log(sum(exp(a))) over the axes, computed stably (an all -inf slice, or an empty axis, gives
 * -inf); its gradient is the softmax of each slice. */
nb_tensor *nb_logsumexp(nb_tensor *a, int naxes, const int *axes, bool keepdim);
/* Index (i32) of the largest element along `axis`; first one on ties (a NaN counts as the
 * largest). NULL for an empty axis or a 0-d tensor. */
nb_tensor *nb_argmax(nb_tensor *a, int axis, bool keepdim);
/* Index (i32) of the smallest element along `axis`; first one on ties (a NaN counts as the
 * smallest, as torch). NULL as nb_argmax. */
nb_tensor *nb_argmin(nb_tensor *a, int axis, bool keepdim);
/* Running sum along `dim` (negative counts from the end): out[..., i, ...] is the sum of
 * a[..., j, ...] for j <= i, accumulated in double in index order on every backend. A new f32
 * tensor of a's shape; NULL with an error for a bad dim or dtype. */
nb_tensor *nb_cumsum(nb_tensor *a, int dim);
/* Running product along dim (torch.cumprod), in double on every backend; the gradient is the
 * product of the other elements up to each output, zeros included (a new tensor; NULL with an
 * error for a bad dim or dtype). */
nb_tensor *nb_cumprod(nb_tensor *a, int dim);
/* Running max / min along dim (torch.cummax / cummin): values (a new f32 tensor of a's shape)
 * and, when indices is not NULL, the i32 position each came from (a later tie takes over; a NaN
 * takes over and stays); the gradient goes to that position. NULL with an error for a bad dim
 * or dtype. */
nb_tensor *nb_cummax(nb_tensor *a, int dim, nb_tensor **indices);
nb_tensor *nb_cummin(nb_tensor *a, int dim, nb_tensor **indices);
/* Running log(sum(exp)) along dim (torch.logcumsumexp), in double without overflow (-inf
 * elements are skipped, +inf and NaN propagate); torch's gradient, computed in log space. */
nb_tensor *nb_logcumsumexp(nb_tensor *a, int dim);
/* The positions (i32, a's shape) that sort a along dim, ascending or descending. The order is
 * total, the same on every backend: ties keep their order (stable), a NaN counts as the largest.
 * Not differentiable. NULL with an error for a bad dim or dtype. */
nb_tensor *nb_argsort(nb_tensor *a, int dim, bool descending);
/* a sorted along dim (as nb_argsort orders it); the positions go to *indices when indices is not
 * NULL. The gradient goes back to each value's position (through gather). */
nb_tensor *nb_sort(nb_tensor *a, int dim, bool descending, nb_tensor **indices);
/* The k largest (smallest when !largest) values along dim, in sorted order, ties by position, a
 * NaN the largest (torch.topk); positions to *indices as nb_sort. NULL unless 0 <= k <= size
 * (a 0-d tensor: k 0 or 1 give the tensor itself, as torch). */
nb_tensor *nb_topk(nb_tensor *a, int64_t k, int dim, bool largest, nb_tensor **indices);
/* The k-th smallest value along dim (k from 1; torch.kthvalue), in nb_argsort's order (NaN the
 * largest, ties by position); its position to *indices when not NULL. keepdim keeps dim as size 1.
 * Differentiable (the gradient goes to the element picked). NULL unless 1 <= k <= the dim's size. */
nb_tensor *nb_kthvalue(nb_tensor *a, int64_t k, int dim, bool keepdim, nb_tensor **indices);
/* The lower median along dim (torch.median(a, dim)): the ((n - 1) / 2 + 1)-th smallest, or NaN
 * (at the slice's first NaN) when the slice holds one; positions and gradient as nb_kthvalue. */
nb_tensor *nb_median(nb_tensor *a, int dim, bool keepdim, nb_tensor **indices);
/* How nb_quantile reads between two sorted values (torch.quantile's interpolation). */
typedef enum {
    NB_QUANTILE_LINEAR = 0,
    NB_QUANTILE_LOWER,
    NB_QUANTILE_HIGHER,
    NB_QUANTILE_NEAREST,
    NB_QUANTILE_MIDPOINT
} nb_quantile_interp;
/* The q-quantile along dim (torch.quantile with a scalar q in [0, 1]): rank q (n - 1) in the sorted
 * slice, read as interp says; NaN for a slice holding NaN. Differentiable (the gradient is shared
 * by the one or two elements read). NULL for q outside [0, 1] or an empty dim. */
nb_tensor *nb_quantile(nb_tensor *a, double q, int dim, bool keepdim, nb_quantile_interp interp);
/* Sum of every element, as a 0-d tensor. */
nb_tensor *nb_sum_all(nb_tensor *a);
/* Mean of every element, as a 0-d tensor. */
nb_tensor *nb_mean_all(nb_tensor *a);

/* ---- Matmul --------------------------------------------------------------------
 * 2-D [m,k]@[k,n]; 1-D operands as in NumPy; N-D: batched over the leading
 * dimensions, which broadcast. Transposed operands (views) are read in place. */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);
/* Einstein summation over n f32 operands, as torch.einsum: "bij,bjk->bik", "ii->i" (diagonal),
 * "ii" (trace), "...ij,...jk->...ik" ("..." for the unnamed leading dims, broadcast); without
 * "->", the output is the "..." dims then the letters used once, in ASCII order. Composed of
 * views, sums and batched matmuls (contracted left to right), so it is differentiable in every
 * operand. A new tensor (or a view); NULL with an error naming the subscript or operand at fault. */
nb_tensor *nb_einsum(const char *eq, int n, nb_tensor *const *ops);
/* x @ w^T + b for w [out,in] and optional bias [out] (the Linear layer). */
nb_tensor *nb_linear(nb_tensor *x, nb_tensor *w, nb_tensor *b);

/* ---- Shape (views copy nothing) ------------------------------------------------ */
/* A view with a new shape when the strides allow it, else a contiguous copy.
 * One entry may be -1 (inferred). */
nb_tensor *nb_reshape(nb_tensor *a, int ndim, const int64_t *shape);
/* Like nb_reshape but only as a view: an error when a copy would be needed. */
nb_tensor *nb_view(nb_tensor *a, int ndim, const int64_t *shape);
/* Reorders the dimensions: result dim i is a's dim perm[i]. */
nb_tensor *nb_permute(nb_tensor *a, const int *perm);
/* Swaps two dimensions. */
nb_tensor *nb_transpose(nb_tensor *a, int d0, int d1);
/* Broadcasts size-1 dimensions to `shape` (-1 keeps a size); leading dims may be added. */
nb_tensor *nb_expand(nb_tensor *a, int ndim, const int64_t *shape);
/* Elements start, start+step, ... below end along `dim` (negative start/end
 * count from the end; clamped as in Python). step >= 1. */
nb_tensor *nb_slice(nb_tensor *a, int dim, int64_t start, int64_t end, int64_t step);
/* `length` elements from `start` along `dim` (a negative start counts from the end); a view.
 * NULL when they do not fit. */
nb_tensor *nb_narrow(nb_tensor *a, int dim, int64_t start, int64_t length);
/* Removes dimension `dim` of size 1. */
nb_tensor *nb_squeeze(nb_tensor *a, int dim);
/* Inserts a dimension of size 1 at `dim`. */
nb_tensor *nb_unsqueeze(nb_tensor *a, int dim);
/* Flattens to 1-D (a view when possible). */
nb_tensor *nb_flatten(nb_tensor *a);
/* `a` itself when contiguous, else a contiguous copy (differentiable). */
nb_tensor *nb_contiguous(nb_tensor *a);
/* Concatenates n tensors along `dim` (other dims must match). */
nb_tensor *nb_cat(nb_tensor *const *ts, int n, int dim);
/* Joins n tensors of one shape along a new dimension `dim` (-ndim-1 .. ndim): [n, ...] for dim 0.
 * NULL with an error naming the first tensor whose shape, dtype or device differs. */
nb_tensor *nb_stack(nb_tensor *const *ts, int n, int dim);
/* Splits along `dim` into n views of the given sizes (summing to the size), sharing a's data
 * and owned by the current context (else a's); fills out[0..n-1]. 0, or -1 on error. */
int nb_split(nb_tensor *a, int dim, int n, const int64_t *sizes, nb_tensor **out);
/* torch.chunk: views of ceil(size / chunks) along dim, the last smaller, into out[0..chunks-1]
 * (the rest NULL); returns how many (fewer than chunks when the size runs out), -1 on error. */
int nb_chunk(nb_tensor *a, int chunks, int dim, nb_tensor **out);
/* torch.unbind: the n slices along dim, that dim removed, as views into out[0..n-1]; n must be
 * the dim's size. 0, or -1 on error. */
int nb_unbind(nb_tensor *a, int dim, int n, nb_tensor **out);
/* torch.meshgrid of n 0-d or 1-d tensors: out[i] is ts[i] expanded (a view) over the grid
 * [len0, len1, ...]; xy (torch's indexing="xy") swaps the grid's first two dims. 0 or -1. */
int nb_meshgrid(int n, nb_tensor *const *ts, bool xy, nb_tensor **out);
/* a view with dim src[i] moved to dst[i] for each of the n pairs, the other dims keeping their
 * order (torch.movedim). NULL for a dim out of range or given twice. */
nb_tensor *nb_movedim(nb_tensor *a, int n, const int *src, const int *dst);
/* Copies that move elements (each a new tensor in the current context, differentiable for f32;
 * NULL with an error naming the op and the bad argument): */
/* a reversed along each of the n dims in `dims` (torch.flip). NULL for no dims or a repeated one. */
nb_tensor *nb_flip(nb_tensor *a, int n, const int *dims);
/* a rotated along dim: element i moves to (i + shift) mod size, any shift (torch.roll). */
nb_tensor *nb_roll(nb_tensor *a, int64_t shift, int dim);
/* a tiled reps[i] times along dim i (Tensor.repeat): n >= a's ndim counts, the extra ones adding
 * leading dims; a count of 0 gives an empty dim. NULL for a negative count. */
nb_tensor *nb_repeat(nb_tensor *a, int n, const int64_t *reps);
/* torch.tile: nb_repeat with fewer counts than dims allowed (padded with leading ones). */
nb_tensor *nb_tile(nb_tensor *a, int n, const int64_t *reps);
/* Each element along dim taken repeats[i] times in a row (torch.repeat_interleave): n is 1 (one
 * count for all) or the dim's size; the gradient adds the copies back. NULL for a negative count
 * or a count of counts that fits neither. */
nb_tensor *nb_repeat_interleave(nb_tensor *a, int64_t n, const int64_t *repeats, int dim);
/* Diagonals (composed of index_select and index_add, so differentiable on every backend):
 * nb_diagonal: the diagonal `offset` (> 0 above, < 0 below) of dims dim1 and dim2, as the
 * last dim of a copy (torch.diagonal's values; an empty last dim when the offset is off the
 * matrix). nb_diag_embed: a's last dim put on that diagonal of two new dims of size
 * len + |offset| at dim1 and dim2 of the result, zeros elsewhere (torch.diag_embed: -2, -1 by
 * default). nb_diag: a 1-d a embedded, a 2-d a's diagonal (torch.diag). nb_trace: the sum of a
 * 2-d a's diagonal. NULL with an error for dims out of range or equal, or the wrong rank. */
/* Products (ops/products.c, composed; differentiable): nb_outer, the outer product of two 1-d
 * tensors; nb_kron, the Kronecker product (torch.kron; the fewer dims padded with leading 1s; at
 * most 4 dims, as it works in twice as many);
 * nb_tensordot, the n dims dims_a[i] of a contracted with dims_b[i] of b (torch.tensordot: a's
 * free dims, then b's); nb_cross, the cross product along a dim of size 3 (a and b broadcast);
 * nb_cdist, the p-norm of every pair of rows of x1 [..., P, M] and x2 [..., R, M] ([..., P, R],
 * computed from the differences at every size: torch's matmul shortcut for p = 2 past 25 rows
 * is not taken). NULL with an error for shapes that do not fit. */
nb_tensor *nb_outer(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_kron(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_tensordot(nb_tensor *a, nb_tensor *b, int n, const int *dims_a, const int *dims_b);
nb_tensor *nb_cross(nb_tensor *a, nb_tensor *b, int dim);
nb_tensor *nb_cdist(nb_tensor *x1, nb_tensor *x2, float p);
/* torch.pdist: the p-norm distances of the pairs of rows i < j of x [N, M], row by row: [N (N-1)/2]. */
nb_tensor *nb_pdist(nb_tensor *x, float p);
/* torch's F.bilinear: y[..., o] = x1 W[o] x2 (+ b[o]) for x1 [..., in1], x2 [..., in2] (the same ...),
 * W [out, in1, in2], b [out] or NULL; through nb_einsum. */
nb_tensor *nb_bilinear(nb_tensor *x1, nb_tensor *x2, nb_tensor *w, nb_tensor *b);
/* torch.unique(sorted=True) over all of a's elements: the distinct values ascending (-0 and 0 one
 * value, NaNs last, each NaN its own value as in NumPy; torch 1.13's NaN order is unspecified), and
 * when not NULL the position of each element's value (i32, a's shape) and each value's count (i32).
 * Not differentiable; computed on the host and returned on a's device. NULL with an error. */
nb_tensor *nb_unique(nb_tensor *a, nb_tensor **inverse, nb_tensor **counts);
nb_tensor *nb_diagonal(nb_tensor *a, int64_t offset, int dim1, int dim2);
nb_tensor *nb_diag_embed(nb_tensor *a, int64_t offset, int dim1, int dim2);
nb_tensor *nb_diag(nb_tensor *a, int64_t offset);
nb_tensor *nb_trace(nb_tensor *a);
/* a with pad[2i] elements of `value` before and pad[2i+1] after dim ndim-1-i (the pairs run
 * from the last dim backwards, as torch.nn.functional.pad); a negative size crops. npad even,
 * at most 2 * ndim; NULL when a dim would end with a negative size. */
nb_tensor *nb_pad(nb_tensor *a, int npad, const int64_t *pad, double value);
/* What padding holds (nb_pad_mode, and the convolutions' pad_mode), as torch's padding modes:
 * zeros (constant), the mirror image without the edge (reflect: 1 2 3 -> 3 2 | 1 2 3 | 2 1),
 * the edge repeated (replicate) or the other end (circular, wrapping around). */
typedef enum { NB_PAD_ZEROS = 0, NB_PAD_REFLECT, NB_PAD_REPLICATE, NB_PAD_CIRCULAR } nb_pad_kind;
/* a padded as nb_pad (the same pair order; a negative size crops), the padding copied from a as
 * `mode` says (NB_PAD_ZEROS is nb_pad with 0). reflect needs each size below the dim's, circular
 * at most the dim's, replicate a non-empty dim. The gradient of a padded element goes back to
 * the element it copies. NULL with an error otherwise. */
nb_tensor *nb_pad_mode(nb_tensor *a, int npad, const int64_t *pad, nb_pad_kind mode);
/* torch's pixel_shuffle: [*, C r^2, H, W] -> [*, C, H r, W r] (each group of r^2 channels
 * spread over an r x r block), and its inverse pixel_unshuffle; a copy. NULL with an error when
 * the channels (or the height and width) are not multiples. */
nb_tensor *nb_pixel_shuffle(nb_tensor *x, int64_t r);
nb_tensor *nb_pixel_unshuffle(nb_tensor *x, int64_t r);
/* Picks entries of `a` along `dim` at the i32 indices in 1-D `idx`. */
nb_tensor *nb_index_select(nb_tensor *a, int dim, nb_tensor *idx);
/* out[i][j] = a[i][idx[i][j]] along `dim` (idx i32, same ndim as a). */
nb_tensor *nb_gather(nb_tensor *a, int dim, nb_tensor *idx);
/* a with src added at the index along dim, as torch.index_add(a, dim, idx, src, alpha=alpha):
 * out[.., idx[j], ..] += alpha src[.., j, ..]; idx 1-D i32, src a's shape except idx's length
 * along dim; repeated indices add up, in index order. Differentiable in a (g) and src (alpha
 * times g's rows at idx). A new tensor in the current context; NULL for bad shapes or indices. */
nb_tensor *nb_index_add(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src, float alpha);
/* a with src scattered and added along dim, as torch.scatter_add: out[i][idx[i][j][k]][k] +=
 * src[i][j][k] (dim 1); idx i32 with a's ndim, no larger than src anywhere nor than a outside
 * dim (only src's part idx covers is read). Differentiable in a (g) and src (g gathered at idx).
 * A new tensor in the current context; NULL for bad shapes or indices. */
nb_tensor *nb_scatter_add(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src);
/* Writes (ops/scatter.c; new tensors, differentiable in a where nothing is written and in src at
 * its places). index_fill: value in the slices of dim at the 1-d i32 index. index_copy: src's
 * slices into those places (torch.index_copy). scatter / scatter_value: src[i][j] (or value) at
 * [i][idx[i][j]] along dim (torch.scatter, dim 1). masked_scatter: src's first elements, in
 * order, where the mask (f32, broadcast to a) is nonzero. NULL with an error for bad shapes or
 * indices, for a place written twice by different values (torch leaves that unspecified;
 * counted on the device and read back; scatter_value and index_fill may repeat an index) or, for
 * masked_scatter, a source shorter than the mask's count. index_fill also takes a 0-d or
 * negative index (from the end, as torch). */
nb_tensor *nb_index_fill(nb_tensor *a, int dim, nb_tensor *idx, float value);
nb_tensor *nb_index_copy(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src);
nb_tensor *nb_scatter(nb_tensor *a, int dim, nb_tensor *idx, nb_tensor *src);
nb_tensor *nb_scatter_value(nb_tensor *a, int dim, nb_tensor *idx, float value);
nb_tensor *nb_masked_scatter(nb_tensor *a, nb_tensor *mask, nb_tensor *src);
/* Reads (ops/select.c). masked_select: the elements of a and the mask broadcast together where
 * the mask is nonzero, 1-d in row-major order (its length read back on the host); take: a read
 * as 1-d at the i32 index, the index's shape kept; both differentiable in a. nonzero: the i32
 * coordinates [count, ndim] of the nonzero elements. bincount: the i32 counts (f32 weight sums
 * with weights, differentiable in them) of a 1-d i32 input of values >= 0, length max + 1 or
 * minlength. bucketize / searchsorted: i32
 * positions of the values among sorted boundaries (1-d; searchsorted: also [..., M] with values
 * [..., K]), the count of boundaries < v (with right: <= v); a NaN value goes to the end, as
 * torch's binary search (which also counts NaN boundaries, sorted last, when no finite one is
 * >= v). take wraps negative indices. Memory: values x boundaries comparisons; at most 2^24
 * boundaries. NULL with an error. */
nb_tensor *nb_masked_select(nb_tensor *a, nb_tensor *mask);
nb_tensor *nb_take(nb_tensor *a, nb_tensor *idx);
/* Advanced indexing (ops/advindex.c), torch's a[i0, i1, ...] with index tensors: idx[d] (i32 on
 * a's device, or NULL for a whole ':' dim) for the first n dims of a (the rest whole), the given
 * ones broadcast together to a shape S, negative entries counting from the end. The result has S
 * in place of the indexed dims when they are adjacent, else S first and then a's other dims in
 * order (NumPy's and torch's rule; a 0-d index tensor counts as one, as in NumPy and aten, where
 * torch's Python indexing reads it as an integer); a new tensor. Differentiable in a (repeated
 * places add up).
 * The indices are read back on the host. NULL with an error naming the index for a wrong dtype,
 * shapes that do not broadcast, or an entry out of its dim's range. */
nb_tensor *nb_index(nb_tensor *a, int n, nb_tensor *const *idx);
/* torch's index_put (a[i0, i1, ...] = values, out of place): a copy of a with values, broadcast to
 * the shape nb_index gives (leading 1s dropped), written at those places; accumulate: added instead (repeated
 * places adding up, torch's accumulate=True). Without accumulate, a place given twice is an error (torch
 * leaves it unspecified) unless values is a single value (then each place hit takes it, and its gradient sums
 * g over those places, each once). Differentiable in a (0 where written, unless accumulate) and in values.
 * NULL with an error as nb_index's, or for values that do not broadcast. */
nb_tensor *nb_index_put(nb_tensor *a, int n, nb_tensor *const *idx, nb_tensor *values, bool accumulate);
nb_tensor *nb_nonzero(nb_tensor *a);
nb_tensor *nb_bincount(nb_tensor *idx, nb_tensor *weights, int64_t minlength);
nb_tensor *nb_bucketize(nb_tensor *v, nb_tensor *boundaries, bool right);
nb_tensor *nb_searchsorted(nb_tensor *sorted, nb_tensor *v, bool right);
/* idx (i32, any shape) as one-hot rows: f32 [..., C] with 1 at each index (torch.one_hot, in f32
 * for arithmetic; nb_cast for i32). num_classes < 0 infers C as the largest index + 1. NULL for
 * a negative index, one >= C, or an empty index with C to infer. */
nb_tensor *nb_one_hot(nb_tensor *idx, int64_t num_classes);
/* Zeroes the elements above the k-th diagonal of the last two dims. */
nb_tensor *nb_tril(nb_tensor *a, int64_t k);
/* Zeroes the elements below the k-th diagonal of the last two dims (torch.triu). */
nb_tensor *nb_triu(nb_tensor *a, int64_t k);
/* A [n,n] f32 lower-triangular mask of ones (1 where col <= row) on the CPU, owned by ctx
 * (NULL: the current context). NULL when n < 0 or there is no context. */
nb_tensor *nb_tril_mask(nb_ctx *ctx, int64_t n);
/* A copy of `a` converted to `dt`, owned by the current context (else a's). Floats to i32 go
 * toward zero, saturating at the i32 range (NaN: 0); to f16/bf16 round to nearest even, the
 * same on every backend. Differentiable only f32 -> f32. NULL with an error. */
nb_tensor *nb_cast(nb_tensor *a, nb_dtype dt);
/* A tensor sharing a's data with no autograd history. */
nb_tensor *nb_detach(nb_tensor *a);

/* ---- Neural-network functions -------------------------------------------------- */
/* Softmax along `dim`. */
nb_tensor *nb_softmax(nb_tensor *a, int dim);
/* log(softmax(a)) along `dim`, computed stably. */
nb_tensor *nb_log_softmax(nb_tensor *a, int dim);
/* Layer norm over the last dimension with optional weight and bias ([C]). */
nb_tensor *nb_layer_norm(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, float eps);
/* Batch normalization of x [N, C, ...] (channels at dim 1, as torch.nn.functional.batch_norm).
 * In training each channel is normalized by the mean and biased variance of its values, and
 * running_mean/running_var (f32 [C], both or neither) are updated in place:
 * r = (1 - momentum) r + momentum s, with the unbiased variance. In eval the running statistics
 * normalize (they are required then). weight, bias [C] or NULL. Differentiable through the
 * batch statistics. NULL with an error for a shape mismatch, eval without running statistics,
 * or training over a single value per channel. */
nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var, nb_tensor *weight,
                         nb_tensor *bias, bool training, float momentum, float eps);
/* Group normalization (torch.nn.functional.group_norm): the C channels of x [N, C, ...] in
 * `groups` groups, each (sample, group) normalized by its own mean and biased variance, then
 * weight and bias [C] (or NULL) per channel. NULL for groups that do not divide C. */
nb_tensor *nb_group_norm(nb_tensor *x, int64_t groups, nb_tensor *weight, nb_tensor *bias, float eps);
/* Instance normalization (torch's F.instance_norm without running statistics): each (sample,
 * channel) of x [N, C, L, ...] normalized by its own mean and biased variance, then weight and
 * bias [C] (or NULL): nb_group_norm with one group per channel. */
nb_tensor *nb_instance_norm(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, float eps);
/* RMS normalization over the last dim (LLaMA's; torch 2.4's F.rms_norm): x / sqrt(mean(x^2) + eps)
 * times weight [C] (or NULL). NULL with an error for a weight that does not fit or eps < 0. */
nb_tensor *nb_rms_norm(nb_tensor *x, nb_tensor *weight, float eps);
/* Rows of `weight` [V,C] at the i32 indices `idx` (any shape): [..., C]. */
nb_tensor *nb_embedding(nb_tensor *weight, nb_tensor *idx);
/* torch's F.embedding_bag (ops/embedding_bag.c): the rows of weight [V, D] picked by i32 indices
 * and reduced per bag -> [B, D]: sum, mean or max (each column's first maximum, its gradient to
 * that row). The bags: idx [B, L] (offsets NULL), or idx [L] with offsets [B] (i32, from 0,
 * non-decreasing, at most L), each bag running to the next offset, the last to L, or with
 * include_last_offset offsets [B + 1] and the last bag ending at offsets[B]. per_sample_weights
 * (f32 of idx's shape, sum mode only, may be NULL) scale each row; entries equal to padding_idx
 * (below V; negative: none, where torch's negative values count from the end) are skipped and not
 * counted by mean. Memory: the kept entries' rows (max: at most twice them). An empty bag gives zeros.
 * Differentiable in weight and per_sample_weights. The indices are read on the host. NULL with an error for a
 * wrong shape, dtype, offset or index. */
typedef enum { NB_BAG_SUM = 0, NB_BAG_MEAN, NB_BAG_MAX } nb_bag_mode;
nb_tensor *nb_embedding_bag(nb_tensor *weight, nb_tensor *idx, nb_tensor *offsets, nb_bag_mode mode,
                            nb_tensor *per_sample_weights, bool include_last_offset, int64_t padding_idx);
/* Mean cross-entropy of logits [N,C] (or [...,C]: the classes are the LAST dim, where torch
 * takes dim 1 of an [N,C,d...] input; permute such logits first) against i32 targets [N]
 * (or [...]), ignoring targets equal to ignore_index (every row ignored: 0, with zero gradients);
 * fused with the softmax, the probabilities are never stored. A 0-d tensor in the current
 * context; NULL with an error for a shape mismatch or a target outside [0, C). */
nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *targets, int ignore_index);
/* How a loss reduces its per-element (per-row for nll and cross-entropy) values, as PyTorch's
 * `reduction`: their mean (PyTorch's default), their sum, or none (a tensor of them); batchmean
 * (the sum over the input's dim 0) is kl_div's alone. */
typedef enum nb_reduction {
    NB_REDUCE_MEAN = 0,
    NB_REDUCE_SUM,
    NB_REDUCE_NONE,
    NB_REDUCE_BATCHMEAN
} nb_reduction;
/* Losses composed from the ops above (gradients through them, on any backend), reduced by r:
 * a 0-d tensor (mean, sum) or pred's shape (none; nll_loss and cross_entropy_smooth: the
 * targets' shape, 0 on ignored rows), in the current context; NULL with an error under the
 * loss's name for a dtype, shape or device mismatch, or an unknown r. pred and target must
 * have one shape (no broadcasting). */
nb_tensor *nb_mse_loss(nb_tensor *pred, nb_tensor *target, nb_reduction r); /* (pred - target)^2 */
nb_tensor *nb_l1_loss(nb_tensor *pred, nb_tensor *target, nb_reduction r);  /* |pred - target| */
/* KL divergence as torch's F.kl_div: input holds log-probabilities; target t probabilities
 * (t log t - t input, 0 where t is 0) or, with log_target, log-probabilities (exp(t) (t - input)).
 * NB_REDUCE_BATCHMEAN divides the sum by input's dim 0, the mathematically right mean. */
nb_tensor *nb_kl_div(nb_tensor *input, nb_tensor *target, nb_reduction r, bool log_target);
/* Binary cross-entropy of probabilities p (torch's F.binary_cross_entropy): -(t log p + (1 - t)
 * log(1 - p)), each log clamped at -100, times weight (broadcast to p; NULL: none; it must not
 * require grad, as torch). The gradient in p is torch's, (p - t) / max(p (1 - p), 1e-12). NULL with
 * an error, as torch, when p holds a value outside [0, 1] or a NaN (the check reads one value back
 * from a GPU). */
nb_tensor *nb_bce(nb_tensor *p, nb_tensor *target, nb_tensor *weight, nb_reduction r);
/* torch's F.pairwise_distance: the p-norm of x1 - x2 + eps over the last dim (x1, x2 broadcast). */
nb_tensor *nb_pairwise_distance(nb_tensor *x1, nb_tensor *x2, float p, float eps, bool keepdim);
/* torch's F.triplet_margin_loss: max(0, margin + d(anchor, pos) - d(anchor, neg)), d the
 * pairwise distance (p, eps); with swap, d(anchor, neg) is min'd with d(pos, neg). */
nb_tensor *nb_triplet_margin_loss(nb_tensor *anchor, nb_tensor *pos, nb_tensor *neg, float margin, float p,
                                  float eps, bool swap, nb_reduction r);
/* torch's F.margin_ranking_loss: max(0, -y (x1 - x2) + margin), y (f32) 1 or -1, broadcast. */
nb_tensor *nb_margin_ranking_loss(nb_tensor *x1, nb_tensor *x2, nb_tensor *y, float margin, nb_reduction r);
/* torch 1.13's F.cosine_embedding_loss over rows x1, x2 [N, D] (or [D]) and y [N] (f32, 1 or -1):
 * 1 - cos where y is 1, max(0, cos - margin) where y is -1 (0 for other y), cos with torch's
 * 1e-12 added to each squared norm. */
nb_tensor *nb_cosine_embedding_loss(nb_tensor *x1, nb_tensor *x2, nb_tensor *y, float margin, nb_reduction r);
/* d^2/2 where |d| < delta, delta (|d| - delta/2) elsewhere, d = pred - target (as torch's
 * huber_loss; smooth_l1 with beta is huber / beta). NULL unless 0 < delta < inf. */
nb_tensor *nb_huber_loss(nb_tensor *pred, nb_tensor *target, float delta, nb_reduction r);
/* torch's F.ctc_loss: log_probs [T, N, C] (log-softmaxed over C), i32 targets [N, S] (padded;
 * sample n uses its first target_lengths[n], none of them the blank), host arrays of N input
 * lengths (1 to T) and target lengths (0 to S). Per sample -log p(target | input) summed over its
 * alignments; mean divides each by its target length (at least 1) and averages, as torch's;
 * zero_infinity turns an impossible alignment's inf into 0. Composed of a log-space recursion
 * (one step of elementwise ops per frame), differentiable in log_probs on any backend. NULL with
 * an error for shapes, lengths or labels that do not fit. */
nb_tensor *nb_ctc_loss(nb_tensor *log_probs, nb_tensor *targets, const int64_t *input_lengths,
                       const int64_t *target_lengths, int blank, nb_reduction r, bool zero_infinity);
/* torch's F.smooth_l1_loss: 0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere; the L1 loss
 * for beta 0. NULL unless 0 <= beta < inf. */
nb_tensor *nb_smooth_l1_loss(nb_tensor *pred, nb_tensor *target, float beta, nb_reduction r);
/* torch's F.soft_margin_loss: log(1 + e^(-y x)), y (f32) 1 or -1 of x's shape. */
nb_tensor *nb_soft_margin_loss(nb_tensor *x, nb_tensor *y, nb_reduction r);
/* torch's F.multilabel_soft_margin_loss: x [N, C] (or [C]), y of 0/1 of x's shape; per row the
 * mean over the classes of -(y logsigmoid(x) + (1 - y) logsigmoid(-x)) times weight (broadcast
 * over the classes; NULL: none); reduced over the rows. */
nb_tensor *nb_multilabel_soft_margin_loss(nb_tensor *x, nb_tensor *y, nb_tensor *weight, nb_reduction r);
/* torch's F.hinge_embedding_loss: max(0, margin - x) where y != 1, plus x where y != -1. */
nb_tensor *nb_hinge_embedding_loss(nb_tensor *x, nb_tensor *y, float margin, nb_reduction r);
/* torch's F.poisson_nll_loss: e^x - t x (log_input) or x - t log(x + eps), plus with full
 * Stirling's t log t - t + log(2 pi t) / 2 where t > 1 (torch's defaults: true, false, 1e-8). */
nb_tensor *nb_poisson_nll_loss(nb_tensor *x, nb_tensor *target, bool log_input, bool full, float eps,
                               nb_reduction r);
/* torch's F.gaussian_nll_loss: (log v + (x - t)^2 / v) / 2 (+ log(2 pi) / 2 with full), v = var
 * clamped below at eps as torch's (the clamp not differentiated); var of x's shape, with the
 * last dim 1, or without it. NULL with an error for a var that does not fit or holds a negative
 * entry (read back from the device, as torch). torch's defaults: full false, eps 1e-6. */
nb_tensor *nb_gaussian_nll_loss(nb_tensor *x, nb_tensor *target, nb_tensor *var, bool full, float eps,
                                nb_reduction r);
/* torch's F.multi_margin_loss: x [N, C] (or [C]), i32 targets [N] (or 0-d); per row the sum over
 * the classes i != y of max(0, margin - x_y + x_i)^p (p 1 or 2), times weight[y] (NULL: none),
 * over C. NULL with an error for another p or a target out of range. */
nb_tensor *nb_multi_margin_loss(nb_tensor *x, nb_tensor *targets, int p, float margin, nb_tensor *weight,
                                nb_reduction r);
/* Binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed from the logits
 * as torch's (1 - t) x + softplus(-x) (stable for any logit; gradient sigmoid(x) - t). */
nb_tensor *nb_bce_with_logits(nb_tensor *logits, nb_tensor *target, nb_reduction r);
/* -logp[..., t] for the targets not equal to ignore_index: logp [..., C] (e.g. from
 * nb_log_softmax; C at most 2^24), i32 targets [...] in [0, C); the mean is over the counted
 * rows, and every target ignored gives 0 (as nb_cross_entropy). NULL with an error for a
 * mismatch or a target out of range. */
nb_tensor *nb_nll_loss(nb_tensor *logp, nb_tensor *targets, int ignore_index, nb_reduction r);
/* nb_cross_entropy against targets smoothed as torch's label_smoothing: (1 - s) of the weight on
 * the target and s spread evenly over all C classes, i.e. the cross-entropy plus
 * s (logit[t] - mean logit) over the counted rows. The mean and the sum keep the fused
 * cross-entropy's memory savings; none goes through nb_logsumexp. NULL unless 0 <= s <= 1, or
 * as nb_cross_entropy. */
nb_tensor *nb_cross_entropy_smooth(nb_tensor *logits, nb_tensor *targets, int ignore_index, float smoothing,
                                   nb_reduction r);
/* The losses with torch's weights. weight [C] scales each row by its target's class weight and
 * the mean divides by the sum of those weights over the counted rows (all ignored, or a zero
 * sum: 0). A NULL weight gives the unweighted loss. nb_cross_entropy_weighted also takes
 * label smoothing (torch's weighted formula); it runs over nb_log_softmax, so it stores the
 * probabilities. NULL with an error for a weight that is not an f32 [C] on the logits' device. */
nb_tensor *nb_nll_loss_weighted(nb_tensor *logp, nb_tensor *targets, nb_tensor *weight, int ignore_index,
                                nb_reduction r);
nb_tensor *nb_cross_entropy_weighted(nb_tensor *logits, nb_tensor *targets, nb_tensor *weight,
                                     int ignore_index, float smoothing, nb_reduction r);
/* nb_bce_with_logits with torch's weight (broadcast to the logits, scaling each element) and
 * pos_weight (broadcast, e.g. [C] per class: scales the positive term, pw t softplus(-x)); either
 * may be NULL. */
nb_tensor *nb_bce_with_logits_weighted(nb_tensor *logits, nb_tensor *target, nb_tensor *weight,
                                       nb_tensor *pos_weight, nb_reduction r);
/* Mean cross-entropy of the logits x @ w^T (+ b) against i32 targets, computed in row chunks so
 * that the full [N,V] logits and their gradient are never stored: x [..., C], w [V,C] (row-major
 * or a transposed view), b [V] or NULL, targets x's leading shape (or [N]); rows whose target is
 * ignore_index do not count, and with every row ignored the loss is 0 and the gradients are 0
 * (as nb_cross_entropy). The gradients are computed during this call when one is needed (grad
 * mode on, an input requires grad); the backward only scales them. A 0-d tensor in the current
 * context; NULL on error (bad shapes/dtypes/devices, a target outside [0,V)). */
nb_tensor *nb_linear_cross_entropy(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_tensor *targets,
                                   int ignore_index);
/* Options of the convolutions, pooling, unfold and fold: [0] is the height, [1] the width
 * (the 1-d ops read [0] for the length). A zero field takes the default: stride 1 (for pooling,
 * the window), padding 0, dilation 1, groups 1, zero padding, no output padding, floor; a NULL
 * pointer takes every default. */
typedef struct nb_conv_opts {
    int stride[3];  /* [0] height, [1] width; 1-d ops: [0] the length; 3-d: depth, height, width */
    int padding[3]; /* on each side (pooling: -inf for max, zeros counted by avg, as torch) */
    int dilation[3];
    int groups;            /* channels split into groups, each with its own filters (conv only) */
    int output_padding[3]; /* transposed conv: extra rows/columns at the end, < stride or dilation */
    bool same;             /* conv (stride 1): padding so the output is the input's size, torch's
                              padding='same' (the odd one extra after); `padding` is ignored */
    nb_pad_kind pad_mode;  /* conv: what the padding holds (torch's padding_mode) */
    bool ceil_mode;        /* pooling: count a last, partial window (torch's ceil_mode) */
    bool exclude_pad;      /* avg pooling: divide by the elements inside the input, not the window
                              (torch's count_include_pad=False) */
} nb_conv_opts;
/* The sliding windows of x [N,C,H,W] as columns (im2col, torch.nn.functional.unfold):
 * [N, C*KH*KW, L] with L = OH*OW output positions, zeros where a window leaves the input (the
 * gradient adds each column entry back to its pixel). NULL for a bad shape or window. */
nb_tensor *nb_unfold(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts);
/* The inverse layout (col2im, torch.nn.functional.fold): columns [N, C*KH*KW, L] (or unbatched
 * [C*KH*KW, L]) -> [N, C, out[0], out[1]], each pixel the sum of the column entries that fall
 * on it. L must be the number of windows in that output; NULL with an error otherwise. */
nb_tensor *nb_fold(nb_tensor *cols, const int64_t out[2], const int kernel[2], const nb_conv_opts *opts);
/* 2-D cross-correlation, as torch.nn.functional.conv2d: x [N,C,H,W], w [O,C/groups,KH,KW], b [O]
 * or NULL -> [N,O,OH,OW], OH = (H + 2 pad - dil (KH - 1) - 1) / stride + 1. Composed of im2col
 * (and nb_pad_mode for a non-zero pad_mode or uneven 'same' padding) and one batched matmul.
 * NULL with an error for shapes that do not match, a window larger than the padded input, or
 * bad options. */
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts);
/* 1-D cross-correlation: x [N,C,L], w [O,C/groups,K], b [O] or NULL -> [N,O,OL]; as nb_conv2d.
 * The convolutions, pools and unfold also take one unbatched input ([C,H,W], [C,L]) as torch. */
nb_tensor *nb_conv1d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts);
/* Transposed 2-D convolution (the gradient of conv2d with respect to its input), as torch's
 * conv_transpose2d: x [N,C,H,W], w [C,O/groups,KH,KW], b [O] or NULL -> [N,O,OH,OW] with
 * OH = (H - 1) stride - 2 pad + dil (KH - 1) + output_padding + 1. One batched matmul, then
 * col2im. NULL with an error for shapes that do not match or bad options. */
nb_tensor *nb_conv_transpose2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts);
/* 3-D cross-correlation, as torch's conv3d: x [N,C,D,H,W] (or [C,D,H,W]), w [O,C/groups,KD,KH,KW],
 * b [O] or NULL -> [N,O,OD,OH,OW]; opts' [0] entries apply to the depth, [1] and [2] to the
 * height and width (zero padding given on each side: no 'same', no pad_mode). Composed
 * (ops/conv3d.c): the depth folded into the batch, one nb_conv2d per plane of the window, summed.
 * NULL with an error as nb_conv2d's. */
nb_tensor *nb_conv3d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts);
/* Transposed 3-D convolution, as torch's conv_transpose3d: x [N,C,D,H,W] (or [C,D,H,W]), w
 * [C,O/groups,KD,KH,KW], b [O] or NULL -> [N,O,OD,OH,OW], OD = (D - 1) stride - 2 pad + dil (KD -
 * 1) + output_padding + 1 (the [0] entries), as nb_conv_transpose2d for the height and width.
 * Composed (ops/conv3d.c) of one nb_conv_transpose2d per plane of the window. NULL with an error
 * as nb_conv_transpose2d's. */
nb_tensor *nb_conv_transpose3d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts);
/* 3-d pooling over kernel[0] x kernel[1] x kernel[2] windows (depth, height, width) of x
 * [N,C,D,H,W] (or [C,D,H,W]), as torch's max_pool3d / avg_pool3d: opts' [0] entries for the depth
 * (stride defaults to the window), ceil_mode and (avg) exclude_pad as the 2-d pools; max: the
 * gradient to the first maximum in (d, h, w) order (a NaN wins), dilation allowed; avg: torch's
 * divisor, the window's part inside the padded input (or the input, with exclude_pad). Composed
 * of the 2-d pools (ops/conv3d.c). */
nb_tensor *nb_max_pool3d(nb_tensor *x, const int kernel[3], const nb_conv_opts *opts);
nb_tensor *nb_avg_pool3d(nb_tensor *x, const int kernel[3], const nb_conv_opts *opts);
/* Transposed 1-D convolution: x [N,C,L], w [C,O/groups,K], b [O] or NULL -> [N,O,OL]. */
nb_tensor *nb_conv_transpose1d(nb_tensor *x, nb_tensor *w, nb_tensor *b, const nb_conv_opts *opts);
/* Max over each kernel[0] x kernel[1] window of x [N,C,H,W] -> [N,C,OH,OW]; padding at most half
 * the window. The gradient goes to one element of each window, its first largest (a NaN if
 * there is one), as torch (which takes the last of several NaNs). */
nb_tensor *nb_max_pool2d(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts);
/* Average pooling to an oh x ow output whatever the input's size (torch's adaptive_avg_pool2d:
 * output (i, j) averages rows floor(i H / oh) .. ceil((i + 1) H / oh) - 1, and the same for
 * columns); oh = ow = 1 is the global average. x [N,C,H,W] or [C,H,W]. */
nb_tensor *nb_adaptive_avg_pool2d(nb_tensor *x, int64_t oh, int64_t ow);
/* Mean over each window, padding counted as zeros (torch's count_include_pad=True default;
 * opts->exclude_pad counts only the input's elements). With ceil_mode, a last partial window
 * divides by its part inside the padded input, as torch. */
nb_tensor *nb_avg_pool2d(nb_tensor *x, const int kernel[2], const nb_conv_opts *opts);
/* 1-d pooling over x [N,C,L] (or [C,L]) with a window of k: the options' [0] entries apply to the
 * length (stride defaults to k); as the 2-d pools otherwise. Adaptive average pooling to ol. */
nb_tensor *nb_max_pool1d(nb_tensor *x, int k, const nb_conv_opts *opts);
nb_tensor *nb_avg_pool1d(nb_tensor *x, int k, const nb_conv_opts *opts);
nb_tensor *nb_adaptive_avg_pool1d(nb_tensor *x, int64_t ol);
/* Max pooling to an oh x ow (ol) output whatever the input's size (torch's adaptive_max_pool2d /
 * 1d, its windows as the average's): the first maximum in row-major order on ties (a NaN is the
 * maximum), the gradient to it; with indices, its position h W + w in the input (i32, as torch's
 * return_indices). x [N,C,H,W] or [C,H,W] ([N,C,L] or [C,L]); outputs up to 4096 a side, and
 * when the windows are uneven (or indices are asked for) up to 65536 positions in all. */
nb_tensor *nb_adaptive_max_pool2d(nb_tensor *x, int64_t oh, int64_t ow, nb_tensor **indices);
nb_tensor *nb_adaptive_max_pool1d(nb_tensor *x, int64_t ol, nb_tensor **indices);
/* Resizing of x [N,C,L] (size[0]) or [N,C,H,W] (size[0], size[1]) as torch's interpolate with
 * `size`: nearest (the input at floor(o * in / out)), or linear / bilinear (align_corners: the
 * corner pixels' centres meet; else the pixels' areas, as torch's default). Composed of
 * index_select, so the gradient of an output goes to the inputs it was taken from. NULL with an
 * error for a bad shape or size. */
typedef enum { NB_INTERP_NEAREST = 0, NB_INTERP_LINEAR } nb_interp_mode;
nb_tensor *nb_interpolate(nb_tensor *x, const int64_t *size, nb_interp_mode mode, bool align_corners);
/* Spatial transformers (ops/grid.c, composed; torch's F.affine_grid and F.grid_sample, 2-d):
 * nb_affine_grid: the sampling grid [N, H, W, 2] of (x, y) in [-1, 1] for affine matrices theta
 * [N, 2, 3] and an output size [N, C, H, W]. nb_grid_sample: input [N, C, H, W] read at grid [N,
 * Ho, Wo, 2] ((x, y), -1 and 1 the corner pixels' centres with align_corners, their outer edges
 * without), nearest or bilinear, with zeros, border or reflection padding: [N, C, Ho, Wo],
 * differentiable in the input and the grid. NULL with an error for shapes that do not fit or an
 * input past 2^24 pixels. */
typedef enum { NB_GRID_ZEROS = 0, NB_GRID_BORDER, NB_GRID_REFLECTION } nb_grid_padding;
nb_tensor *nb_affine_grid(nb_tensor *theta, const int64_t size[4], bool align_corners);
nb_tensor *nb_grid_sample(nb_tensor *x, nb_tensor *grid, nb_interp_mode mode, nb_grid_padding pad,
                          bool align_corners);
/* One step of torch's recurrent cells (nn.LSTMCell, GRUCell, RNNCell), with their layouts:
 * x [N,in] (or unbatched [in]), h and c [N,H] ([H]); w_ih [G*H, in] and w_hh [G*H, H] hold the
 * G gates side by side (LSTM: input, forget, cell, output; GRU: reset, update, new), b_ih and
 * b_hh [G*H] or NULL. A NULL h or c is zeros (torch's hx=None). Composed, so the gradients
 * reach every input. Each returns the new hidden state in the current context, NULL with an
 * error for shapes that do not fit. */
/* LSTM (G = 4): c' = f c + i g, h' = o tanh(c'); the new cell state goes to *c_out. */
nb_tensor *nb_lstm_cell(nb_tensor *x, nb_tensor *h, nb_tensor *c, nb_tensor *w_ih, nb_tensor *w_hh,
                        nb_tensor *b_ih, nb_tensor *b_hh, nb_tensor **c_out);
/* GRU (G = 3): n = tanh(x_n + r (h_n)), h' = (1 - z) n + z h, b_hh's n part inside r's product. */
nb_tensor *nb_gru_cell(nb_tensor *x, nb_tensor *h, nb_tensor *w_ih, nb_tensor *w_hh, nb_tensor *b_ih,
                       nb_tensor *b_hh);
/* Elman RNN (G = 1): h' = tanh (or relu) of x w_ih^T + b_ih + h w_hh^T + b_hh. */
nb_tensor *nb_rnn_cell(nb_tensor *x, nb_tensor *h, nb_tensor *w_ih, nb_tensor *w_hh, nb_tensor *b_ih,
                       nb_tensor *b_hh, bool relu);
/* Dropout: in training, zeroes each element with probability p and scales
 * the rest by 1/(1-p), drawing from `rng` (NULL: global); identity otherwise (x itself).
 * p must be in [0, 1) (p = 1 would scale by infinity): NULL with an error otherwise. */
nb_tensor *nb_dropout(nb_tensor *x, float p, bool training, nb_rng *rng);
/* Channel dropout (torch's dropout1d/2d/3d): in training each channel of each sample of x
 * [N, C, ...] is zeroed with probability p as a whole, the rest scaled by 1 / (1 - p); one draw
 * per channel from rng (NULL: the global generator). x itself when not training or p is 0. */
nb_tensor *nb_dropout_channels(nb_tensor *x, float p, bool training, nb_rng *rng);
/* Causal scaled-dot-product attention, fused: q, k, v [B,H,T,D] ->
 * softmax(q k^T / sqrt(D) + causal mask) v, [B,H,T,D]. */
nb_tensor *nb_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v);
/* The same attention read straight from a [B,T,3C] projection (q, k, v side by side, each C
 * = n_head x D wide, as GPT-2's c_attn makes them) and written as [B,T,C], heads side by side:
 * no head-split views, no copies, and the backward writes one [B,T,3C] gradient. A new
 * tensor in the current context; NULL on error (not [B,T,3C], C not a multiple of n_head). */
nb_tensor *nb_attention_qkv(nb_tensor *qkv, int n_head);

/* Options of nb_scaled_dot_product_attention; zero fields are the defaults, NULL all of them. */
typedef struct nb_sdpa_opts {
    nb_tensor *mask; /* f32 added to the scores (broadcast to [..., Tq, Tk]): 0 keeps, -inf drops */
    bool causal;     /* query i sees keys j <= i (torch's is_causal, aligned at the top left) */
    float scale;     /* the scores' factor; 0: 1/sqrt(D) */
    float dropout;   /* dropped probabilities, in [0, 1), drawn from rng (NULL: the global one) */
    nb_rng *rng;
} nb_sdpa_opts;
/* softmax(q k^T scale + mask) v, as torch's F.scaled_dot_product_attention: q [..., Tq, D],
 * k [..., Tk, D], v [..., Tk, Dv] (leading dims broadcast) -> [..., Tq, Dv]. The probabilities
 * [..., Tq, Tk] (after dropout) go to *probs when probs is not NULL. A row whose keys are all
 * masked is NaN, as torch. A causal call with no mask, dropout, probs or scale on [B,H,T,D]
 * runs the fused nb_attention. NULL with an error for shapes that do not fit. */
nb_tensor *nb_scaled_dot_product_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, const nb_sdpa_opts *opts,
                                           nb_tensor **probs);

/* ---- Linear algebra (ops/linalg.c) ----------------------------------------------- */
/* Square matrices are the last two dims of an f32 tensor [..., n, n]; batch dims broadcast.
 * The factorisations and solves sum in double (products, logs and the gradients' matmuls run
 * in f32). A singular or non-positive-definite matrix gives NULL with an error
 * naming it in the batch (the check reads a flag per matrix back from the device). */

/* X with A X = B (torch.linalg.solve): B [..., n, k], or a vector [n] (or A's shape without its
 * last dim) giving [..., n]; left = false solves X A = B. Through LU with partial pivoting.
 * Differentiable in A and B. NULL with an error for a singular A or shapes that do not fit. */
nb_tensor *nb_solve(nb_tensor *a, nb_tensor *b, bool left);
/* A^-1 (torch.linalg.inv), differentiable. NULL with an error for a singular matrix. */
nb_tensor *nb_inverse(nb_tensor *a);
/* det A over the last two dims [...] (torch.linalg.det). Its gradient is det A^-T, and at a
 * singular matrix the cofactor matrix, through the SVD (torch 1.13 gives 0 there). */
nb_tensor *nb_det(nb_tensor *a);
/* log|det A| [...] (torch.linalg.slogdet's logabsdet; -inf for a singular matrix), with *sign
 * (may be NULL; -1, 0 or 1, not differentiable). Gradient A^-T (the backward pass fails with
 * an error at a singular matrix, where it is infinite). */
nb_tensor *nb_slogdet(nb_tensor *a, nb_tensor **sign);
/* log det A (torch.logdet): NaN where det A < 0, -inf where it is 0. */
nb_tensor *nb_logdet(nb_tensor *a);
/* The Cholesky factor (torch.linalg.cholesky): lower L with A = L L^T, read from A's lower
 * triangle (the upper one never read); upper: U = L^T with A = U^T U, read from A's upper
 * triangle (as LAPACK's and torch's). Differentiable (torch's rule, symmetric in
 * A). NULL with an error naming the first matrix that is not positive-definite. */
nb_tensor *nb_cholesky(nb_tensor *a, bool upper);
/* X with A X = B for a triangular A (torch.linalg.solve_triangular): its upper or lower triangle
 * (the other never read), the diagonal read as 1 when unitriangular; B [..., n, k]; left = false
 * solves X A = B (B [..., k, n]). No check for a zero on the diagonal (inf or NaN, as torch's).
 * Differentiable in A (on its triangle) and B. */
nb_tensor *nb_solve_triangular(nb_tensor *a, nb_tensor *b, bool upper, bool left, bool unitriangular);
/* X with A X = B from a Cholesky factor (torch.cholesky_solve): A = L L^T for lower L, or
 * A = U^T U when upper. Differentiable in B and the factor. */
nb_tensor *nb_cholesky_solve(nb_tensor *b, nb_tensor *l, bool upper);
/* A^k for any integer k (torch.linalg.matrix_power): by squaring; k < 0 inverts A first, k = 0
 * gives the identity. A new tensor. NULL with an error as nb_inverse's. */
nb_tensor *nb_matrix_power(nb_tensor *a, int64_t k);
/* LU with partial pivoting (torch.linalg.lu_factor): P A = L U, returned packed in one tensor of
 * A's shape (L unit lower below the diagonal, U on and above it), and *pivots (i32 [..., n]):
 * row k was swapped with row pivots[k] at step k, counted from 0 (torch's from 1). A singular
 * matrix is no error (a zero on U's diagonal). Not differentiable: NULL with an error when A
 * requires grad under grad mode (nb_detach it, or use nb_solve / nb_inverse / nb_det). */
nb_tensor *nb_lu_factor(nb_tensor *a, nb_tensor **pivots);
/* X with A X = B (A^T X = B when trans) from nb_lu_factor's results (torch.linalg.lu_solve):
 * B [..., n, k], the batch dims of LU (and its pivots) and B broadcast. Differentiable in B only
 * (LU requiring grad is an error).
 * NULL with an error for pivots out of range. */
nb_tensor *nb_lu_solve(nb_tensor *lu, nb_tensor *pivots, nb_tensor *b, bool trans);
/* The eigenvalues [..., n] in ascending order of the symmetric matrices whose lower triangles A
 * holds (torch.linalg.eigh, UPLO 'L'), and in *eigenvectors (may be NULL) the orthonormal
 * eigenvectors [..., n, n] in its columns, each with its leading entry positive (the first
 * within 1e-5 of the largest magnitude; torch's signs are LAPACK's); a NaN or an infinity in
 * the triangle gives NaN. In double (ops/decomp_math.h): Jacobi up to 4 x 4, Householder
 * tridiagonalisation and implicit QL beyond; one matrix per task. Differentiable (torch's rule;
 * infinite where eigenvalues coincide). Both results are views of one tensor. */
nb_tensor *nb_eigh(nb_tensor *a, nb_tensor **eigenvectors);
/* nb_eigh's eigenvalues alone (torch.linalg.eigvalsh). */
nb_tensor *nb_eigvalsh(nb_tensor *a);
/* A = Q R (torch.linalg.qr) for A [..., m, n], by Householder reflections in double with
 * LAPACK's signs (torch's): returns Q [..., m, k] with orthonormal columns and sets *r (may be
 * NULL) to the upper-triangular R [..., k, n], k = min(m, n); complete: k = m (Q square).
 * Differentiable except a complete QR with m > n (its gradient is an error, as torch's). Q and
 * R are views of one tensor. */
nb_tensor *nb_qr(nb_tensor *a, bool complete, nb_tensor **r);
/* The singular values S [..., k] (descending) of A [..., m, n], k = min(m, n), and, when u and
 * vh are both given, U [..., m, k] and Vh [..., k, n] with A = U diag(S) Vh (torch.linalg.svd
 * with full_matrices=False). In double (ops/svd_math.h): one-sided Jacobi up to k = 4,
 * Golub-Kahan-Reinsch beyond; each right singular vector has its leading entry positive, as
 * nb_eigh's (torch's signs are LAPACK's). Differentiable (torch's rule; only S returned: U
 * diag(gS) Vh). Views of one tensor. */
nb_tensor *nb_svd(nb_tensor *a, nb_tensor **u, nb_tensor **vh);
/* torch.linalg.svd with full_matrices=True: nb_svd's S, and U [..., m, m] and Vh [..., n, n]
 * (both required), nb_svd's k vectors first and then an orthonormal basis of the rest (from a
 * complete QR of those k: any such basis is one, torch's is LAPACK's). The gradient flows through
 * S and the first k vectors only; the rest carry none (as torch's rule, which narrows them). */
nb_tensor *nb_svd_full(nb_tensor *a, nb_tensor **u, nb_tensor **vh);
/* nb_svd's singular values alone (torch.linalg.svdvals). */
nb_tensor *nb_svdvals(nb_tensor *a);
/* The pseudo-inverse [..., n, m] (torch.linalg.pinv): V diag(1/s) U^T over the singular values
 * above rtol times the largest (rtol < 0: torch's default max(m, n) eps; NaN: an error).
 * Differentiable where the rank does not change (torch's rule). */
nb_tensor *nb_pinv(nb_tensor *a, double rtol);
/* The least-squares solution of minimum norm, pinv(A) B (torch.linalg.lstsq's solution):
 * A [..., m, n], B [..., m, k], batch dims broadcast. Differentiable as nb_pinv. */
nb_tensor *nb_lstsq(nb_tensor *a, nb_tensor *b);
/* The number of singular values above rtol times the largest (torch.linalg.matrix_rank; rtol < 0
 * the default of nb_pinv), i32 [...]. Not differentiable. */
nb_tensor *nb_matrix_rank(nb_tensor *a, double rtol);
/* A matrix norm over the last two dims (torch.linalg.matrix_norm): ord "fro", "nuc" (the sum of
 * the singular values), "2" / "-2" (the largest / smallest), "1" / "-1" (the largest / smallest
 * column sum of |a|), "inf" / "-inf" (row sums). NULL with an error for another ord. */
nb_tensor *nb_matrix_norm(nb_tensor *a, const char *ord);
/* The condition number in the 2-norm, largest over smallest singular value (torch.linalg.cond);
 * inf for an exactly singular matrix; an error for an empty dim (torch gives 0 there). */
nb_tensor *nb_cond(nb_tensor *a);
/* e^A [..., n, n] (torch.linalg.matrix_exp): A scaled by 2^-s so that the batch's largest 1-norm
 * is under 5.37 (s read back on the host), the degree-13 Pade approximant (Higham 2005) by one
 * solve, then s squarings. Composed of matmul and solve: differentiable. */
nb_tensor *nb_matrix_exp(nb_tensor *a);
/* ts[0] @ ts[1] @ ... @ ts[n-1] in the order of fewest flops (torch.linalg.multi_dot): 2-d
 * matrices, the first and the last may be 1-d (a row, a column; their dim is dropped from the
 * result). NULL with an error naming the pair that does not chain. */
nb_tensor *nb_multi_dot(nb_tensor *const *ts, int n);

/* ---- Optimiser kernels (in place, no autograd; 0 or -1) -------------------------- */
/* One AdamW step on `param` as PyTorch defines it (decoupled weight decay,
 * bias correction for step t >= 1), updating the moments m and v in place. */
int nb_adamw_update_(nb_tensor *param, const nb_tensor *grad, nb_tensor *m, nb_tensor *v, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int64_t step);
/* y += alpha * x (same shape; x may broadcast). */
int nb_axpy_(nb_tensor *y, float alpha, const nb_tensor *x);
/* t *= s. */
int nb_scale_(nb_tensor *t, float s);
/* t = min(max(t, lo), hi) in place (NaN stays NaN); 0, or -1 with an error (lo > hi). */
int nb_clamp_(nb_tensor *t, float lo, float hi);
/* Sum of squares of every element, as a double (any device); NAN on error. */
double nb_sumsq(const nb_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
