/* ops/elementwise.c - elementwise ops: shape rule, dispatch and backward,
 * all driven by the table in ops/elementwise.def. */
#include <math.h>

#include "ops/op_util.h"

static const char *un_names[] = {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER) #LNAME,
#include "ops/elementwise.def"
#undef NB_UNARY_OP
};
static const char *bin_names[] = {
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF) #LNAME,
#include "ops/elementwise.def"
#undef NB_BINARY_OP
};
/* Each unary derivative's text (ops/elementwise.def), read once to learn which values the
 * backward needs: x, y, both or neither (the rest may change in place after the op). */
static const char *un_ders[] = {
#define NB_UNARY_OP(NAME, LNAME, FWD, DER) #DER,
#include "ops/elementwise.def"
#undef NB_UNARY_OP
};

/* true when `expr` names the variable `v` (a lone identifier, not part of a longer one or of a
 * number such as 1.0f) */
static bool names_var(const char *expr, char v) {
    for (const char *p = expr; *p;) {
        if (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
            const char *q = p;
            while (*q == '_' || *q == '.' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                   (*q >= '0' && *q <= '9'))
                q++;
            if (q - p == 1 && *p == v) return true;
            p = q;
        } else {
            p++;
        }
    }
    return false;
}

static const bool bin_diff[] = {
#define NB_BINARY_OP(NAME, LNAME, FWD, DA, DB, DIFF) DIFF,
#include "ops/elementwise.def"
#undef NB_BINARY_OP
};

/* ---- unary ---------------------------------------------------------------- */

static int unary_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *x = n->in[0];
    const nb_backend *be = nb_be(x);
    nb_tensor *gi = nb_new_like_shape(g, NB_F32, x->ndim, x->shape);
    if (!gi) return -1;
    if (be->unary_backward((nb_unop)n->i[0], gi, g, x, n->out, n->f[0], n->f[1])) return -1;
    gin[0] = gi;
    return 0;
}

/* the tests (isnan, ...) give masks and record no graph, as torch's bool results */
static bool un_differentiable(nb_unop op) {
    return op != NB_UN_ISNAN && op != NB_UN_ISINF && op != NB_UN_ISFINITE && op != NB_UN_ISPOSINF &&
           op != NB_UN_ISNEGINF && op != NB_UN_LOGICAL_NOT;
}

static nb_tensor *unary(nb_unop op, nb_tensor *a, float p0, float p1) {
    NB_NULL_GUARD_NAMED(un_names[op], a);
    if (nb_check_dtype(un_names[op], a, NB_F32, "input")) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    nb_tensor *out = nb_new_like_shape(a, NB_F32, a->ndim, a->shape);
    if (!out || be->unary(op, out, a, p0, p1)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, un_names[op], un_differentiable(op) ? unary_backward : NULL, 1, &a, &n))
        return NULL;
    if (n) {
        n->i[0] = op;
        n->f[0] = p0;
        n->f[1] = p1;
        /* the values the derivative reads: the others may change in place afterwards */
        n->unread = (names_var(un_ders[op], 'x') ? 0u : NB_UNREAD_IN(0)) |
                    (names_var(un_ders[op], 'y') ? 0u : NB_UNREAD_OUT);
    }
    return out;
}

nb_tensor *nb_neg(nb_tensor *a) { return unary(NB_UN_NEG, a, 0, 0); }
nb_tensor *nb_exp(nb_tensor *a) { return unary(NB_UN_EXP, a, 0, 0); }
nb_tensor *nb_log(nb_tensor *a) { return unary(NB_UN_LOG, a, 0, 0); }
nb_tensor *nb_sqrt(nb_tensor *a) { return unary(NB_UN_SQRT, a, 0, 0); }
nb_tensor *nb_rsqrt(nb_tensor *a) { return unary(NB_UN_RSQRT, a, 0, 0); }
nb_tensor *nb_tanh(nb_tensor *a) { return unary(NB_UN_TANH, a, 0, 0); }
nb_tensor *nb_sigmoid(nb_tensor *a) { return unary(NB_UN_SIGMOID, a, 0, 0); }
nb_tensor *nb_relu(nb_tensor *a) { return unary(NB_UN_RELU, a, 0, 0); }
nb_tensor *nb_gelu(nb_tensor *a) { return unary(NB_UN_GELU, a, 0, 0); }
nb_tensor *nb_abs(nb_tensor *a) { return unary(NB_UN_ABS, a, 0, 0); }
nb_tensor *nb_sin(nb_tensor *a) { return unary(NB_UN_SIN, a, 0, 0); }
nb_tensor *nb_cos(nb_tensor *a) { return unary(NB_UN_COS, a, 0, 0); }
nb_tensor *nb_log1p(nb_tensor *a) { return unary(NB_UN_LOG1P, a, 0, 0); }
nb_tensor *nb_expm1(nb_tensor *a) { return unary(NB_UN_EXPM1, a, 0, 0); }
nb_tensor *nb_erf(nb_tensor *a) { return unary(NB_UN_ERF, a, 0, 0); }
nb_tensor *nb_gelu_erf(nb_tensor *a) { return unary(NB_UN_GELU_ERF, a, 0, 0); }
nb_tensor *nb_silu(nb_tensor *a) { return unary(NB_UN_SILU, a, 0, 0); }
nb_tensor *nb_mish(nb_tensor *a) { return unary(NB_UN_MISH, a, 0, 0); }
nb_tensor *nb_softplus(nb_tensor *a) { return unary(NB_UN_SOFTPLUS, a, 0, 0); }
nb_tensor *nb_tan(nb_tensor *a) { return unary(NB_UN_TAN, a, 0, 0); }
nb_tensor *nb_asin(nb_tensor *a) { return unary(NB_UN_ASIN, a, 0, 0); }
nb_tensor *nb_acos(nb_tensor *a) { return unary(NB_UN_ACOS, a, 0, 0); }
nb_tensor *nb_atan(nb_tensor *a) { return unary(NB_UN_ATAN, a, 0, 0); }
nb_tensor *nb_sinh(nb_tensor *a) { return unary(NB_UN_SINH, a, 0, 0); }
nb_tensor *nb_cosh(nb_tensor *a) { return unary(NB_UN_COSH, a, 0, 0); }
nb_tensor *nb_asinh(nb_tensor *a) { return unary(NB_UN_ASINH, a, 0, 0); }
nb_tensor *nb_acosh(nb_tensor *a) { return unary(NB_UN_ACOSH, a, 0, 0); }
nb_tensor *nb_atanh(nb_tensor *a) { return unary(NB_UN_ATANH, a, 0, 0); }
nb_tensor *nb_log2(nb_tensor *a) { return unary(NB_UN_LOG2, a, 0, 0); }
nb_tensor *nb_log10(nb_tensor *a) { return unary(NB_UN_LOG10, a, 0, 0); }
nb_tensor *nb_exp2(nb_tensor *a) { return unary(NB_UN_EXP2, a, 0, 0); }
nb_tensor *nb_reciprocal(nb_tensor *a) { return unary(NB_UN_RECIPROCAL, a, 0, 0); }
nb_tensor *nb_square(nb_tensor *a) { return unary(NB_UN_SQUARE, a, 0, 0); }
nb_tensor *nb_erfc(nb_tensor *a) { return unary(NB_UN_ERFC, a, 0, 0); }
nb_tensor *nb_erfinv(nb_tensor *a) { return unary(NB_UN_ERFINV, a, 0, 0); }
nb_tensor *nb_lgamma(nb_tensor *a) { return unary(NB_UN_LGAMMA, a, 0, 0); }
nb_tensor *nb_digamma(nb_tensor *a) { return unary(NB_UN_DIGAMMA, a, 0, 0); }
nb_tensor *nb_sinc(nb_tensor *a) { return unary(NB_UN_SINC, a, 0, 0); }
nb_tensor *nb_frac(nb_tensor *a) { return unary(NB_UN_FRAC, a, 0, 0); }
nb_tensor *nb_tanhshrink(nb_tensor *a) { return unary(NB_UN_TANHSHRINK, a, 0, 0); }
nb_tensor *nb_isnan(nb_tensor *a) { return unary(NB_UN_ISNAN, a, 0, 0); }
nb_tensor *nb_isinf(nb_tensor *a) { return unary(NB_UN_ISINF, a, 0, 0); }
nb_tensor *nb_isfinite(nb_tensor *a) { return unary(NB_UN_ISFINITE, a, 0, 0); }
nb_tensor *nb_isposinf(nb_tensor *a) { return unary(NB_UN_ISPOSINF, a, 0, 0); }
nb_tensor *nb_isneginf(nb_tensor *a) { return unary(NB_UN_ISNEGINF, a, 0, 0); }
nb_tensor *nb_logical_not(nb_tensor *a) { return unary(NB_UN_LOGICAL_NOT, a, 0, 0); }

nb_tensor *nb_logit(nb_tensor *a, float eps) {
    if (eps != eps || eps > 0.5f)
        return nb_set_error("logit: eps %g is not in [0, 0.5] (or < 0 for none)", (double)eps);
    return unary(NB_UN_LOGIT, a, eps < 0.0f ? -1.0f : eps, 0);
}
nb_tensor *nb_hardshrink(nb_tensor *a, float lambd) {
    if (lambd != lambd) return nb_set_error("hardshrink: lambda is NaN");
    return unary(NB_UN_HARDSHRINK, a, lambd, 0);
}
nb_tensor *nb_softshrink(nb_tensor *a, float lambd) {
    if (!(lambd >= 0.0f)) return nb_set_error("softshrink: lambda %g must be >= 0", (double)lambd);
    return unary(NB_UN_SOFTSHRINK, a, lambd, 0);
}
nb_tensor *nb_threshold(nb_tensor *a, float threshold, float value) {
    if (threshold != threshold) return nb_set_error("threshold: the threshold is NaN");
    return unary(NB_UN_THRESHOLD, a, threshold, value);
}
nb_tensor *nb_nan_to_num(nb_tensor *a, float nan, float posinf, float neginf) {
    /* the infinities replaced, then the NaNs chosen from a itself (so a NaN made +-inf, or an
     * infinity made NaN, is not replaced twice) */
    nb_tensor *r = unary(NB_UN_INF_TO, a, posinf, neginf);
    return nb_as_op(r ? nb_where(nb_isnan(a), nb_scalar_like(a, nan), r) : NULL, "nan_to_num");
}

nb_tensor *nb_sign(nb_tensor *a) { return unary(NB_UN_SIGN, a, 0, 0); }
nb_tensor *nb_floor(nb_tensor *a) { return unary(NB_UN_FLOOR, a, 0, 0); }
nb_tensor *nb_ceil(nb_tensor *a) { return unary(NB_UN_CEIL, a, 0, 0); }
nb_tensor *nb_round(nb_tensor *a) { return unary(NB_UN_ROUND, a, 0, 0); }
nb_tensor *nb_trunc(nb_tensor *a) { return unary(NB_UN_TRUNC, a, 0, 0); }

/* std's square root: gradient 0 where the result is 0 (a constant slice), as torch's std. */
nb_tensor *nb_std_sqrt(nb_tensor *a) { return unary(NB_UN_STD_SQRT, a, 0, 0); }

nb_tensor *nb_leaky_relu(nb_tensor *a, float slope) {
    if (slope != slope) return nb_set_error("leaky_relu: the slope is NaN");
    return unary(NB_UN_LEAKY_RELU, a, slope, 0);
}

nb_tensor *nb_clamp(nb_tensor *a, float lo, float hi) {
    if (!(lo <= hi)) return nb_set_error("clamp: lo %g is greater than hi %g", (double)lo, (double)hi);
    return unary(NB_UN_CLAMP, a, lo, hi);
}

nb_tensor *nb_add_scalar(nb_tensor *a, float s) { return unary(NB_UN_ADD_S, a, s, 0); }
nb_tensor *nb_sub_scalar(nb_tensor *a, float s) { return unary(NB_UN_ADD_S, a, -s, 0); }
nb_tensor *nb_mul_scalar(nb_tensor *a, float s) { return unary(NB_UN_MUL_S, a, s, 0); }
nb_tensor *nb_div_scalar(nb_tensor *a, float s) { return unary(NB_UN_DIV_S, a, s, 0); }
nb_tensor *nb_rsub_scalar(nb_tensor *a, float s) { return unary(NB_UN_RSUB_S, a, s, 0); }
nb_tensor *nb_pow_scalar(nb_tensor *a, float s) { return unary(NB_UN_POW_S, a, s, 0); }
nb_tensor *nb_maximum_scalar(nb_tensor *a, float s) { return unary(NB_UN_MAX_S, a, s, 0); }
nb_tensor *nb_minimum_scalar(nb_tensor *a, float s) { return unary(NB_UN_MIN_S, a, s, 0); }

/* ---- binary ------------------------------------------------------------------ */

static int binary_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_binop op = (nb_binop)n->i[0];
    nb_tensor *a = n->in[0], *b = n->in[1];
    if (op == NB_BIN_ADD) {
        gin[0] = g;
        gin[1] = g;
        return 0;
    }
    if (op == NB_BIN_SUB) {
        gin[0] = g;
        gin[1] = b->requires_grad ? nb_neg(g) : NULL;
        return b->requires_grad && !gin[1] ? -1 : 0;
    }
    nb_tensor ea, eb;
    nb_expand_desc(a, g->ndim, g->shape, &ea);
    nb_expand_desc(b, g->ndim, g->shape, &eb);
    nb_tensor *ga = a->requires_grad ? nb_new_like_shape(g, NB_F32, g->ndim, g->shape) : NULL;
    nb_tensor *gb = b->requires_grad ? nb_new_like_shape(g, NB_F32, g->ndim, g->shape) : NULL;
    if ((a->requires_grad && !ga) || (b->requires_grad && !gb)) return -1;
    if (nb_be(g)->binary_backward(op, ga, gb, g, &ea, &eb, n->out)) return -1;
    gin[0] = ga;
    gin[1] = gb;
    return 0;
}

static nb_tensor *binary(nb_binop op, nb_tensor *a, nb_tensor *b) {
    NB_NULL_GUARD_NAMED(bin_names[op], a, b);
    const char *name = bin_names[op];
    if (nb_check_dtype(name, a, NB_F32, "left operand") || nb_check_dtype(name, b, NB_F32, "right operand") ||
        nb_same_device(name, a, b))
        return NULL;
    int nd;
    int64_t shape[NB_MAX_DIMS];
    if (nb_broadcast_shape(name, a, b, &nd, shape)) return NULL;
    const nb_backend *be = nb_be(a);
    if (!be) return NULL;
    nb_tensor *out = nb_new_like_shape(a, NB_F32, nd, shape);
    if (!out) return NULL;
    nb_tensor ea, eb;
    nb_expand_desc(a, nd, shape, &ea);
    nb_expand_desc(b, nd, shape, &eb);
    if (be->binary(op, out, &ea, &eb)) return NULL;
    nb_node *n;
    nb_tensor *ins[2] = {a, b};
    if (!nb_op_finish(out, name, bin_diff[op] ? binary_backward : NULL, 2, ins, &n)) return NULL;
    if (n) {
        n->i[0] = op;
        /* add and sub: derivatives 1 and -1; the others read a and b (never y) */
        n->unread = op == NB_BIN_ADD || op == NB_BIN_SUB ? NB_UNREAD_ALL : NB_UNREAD_OUT;
    }
    return out;
}

nb_tensor *nb_add(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_ADD, a, b); }
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_SUB, a, b); }
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_MUL, a, b); }
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_DIV, a, b); }
nb_tensor *nb_pow(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_POW, a, b); }
nb_tensor *nb_maximum(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_MAX, a, b); }
nb_tensor *nb_atan2(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_ATAN2, a, b); }
nb_tensor *nb_fmod(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_FMOD, a, b); }
nb_tensor *nb_remainder(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_REMAINDER, a, b); }
nb_tensor *nb_minimum(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_MIN, a, b); }
nb_tensor *nb_hypot(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_HYPOT, a, b); }
nb_tensor *nb_logaddexp(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LOGADDEXP, a, b); }
nb_tensor *nb_logaddexp2(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LOGADDEXP2, a, b); }
nb_tensor *nb_xlogy(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_XLOGY, a, b); }
nb_tensor *nb_copysign(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_COPYSIGN, a, b); }
nb_tensor *nb_floor_divide(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_FLOOR_DIVIDE, a, b); }
nb_tensor *nb_heaviside(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_HEAVISIDE, a, b); }
nb_tensor *nb_logical_and(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LOGICAL_AND, a, b); }
nb_tensor *nb_logical_or(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LOGICAL_OR, a, b); }
nb_tensor *nb_logical_xor(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LOGICAL_XOR, a, b); }
nb_tensor *nb_eq(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_EQ, a, b); }
nb_tensor *nb_ne(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_NE, a, b); }
nb_tensor *nb_lt(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LT, a, b); }
nb_tensor *nb_le(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_LE, a, b); }
nb_tensor *nb_gt(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_GT, a, b); }
nb_tensor *nb_ge(nb_tensor *a, nb_tensor *b) { return binary(NB_BIN_GE, a, b); }

/* ---- compositions: lerp, addcmul, addcdiv ------------------------------------------------ */

nb_tensor *nb_lerp(nb_tensor *a, nb_tensor *b, nb_tensor *w) {
    NB_NULL_GUARD_NAMED("lerp", a, b, w);
    /* torch's two arrangements, a + w (b - a) below w = 1/2 and b - (b - a)(1 - w) from it (so
     * that w = 1 gives b exactly), as one formula: where(w < 1/2, a, b) + where(w < 1/2, w, w - 1)
     * (b - a), the same values; its gradients g (1 - w), g w and g (b - a) never meet the branch
     * not taken (no 0 inf where b - a is infinite) */
    nb_tensor *c = nb_lt(w, nb_scalar_like(w, 0.5f));
    nb_tensor *d = c ? nb_sub(b, a) : NULL;
    nb_tensor *f = d ? nb_where(c, w, nb_sub_scalar(w, 1.0f)) : NULL;
    return nb_as_op(f ? nb_add(nb_where(c, a, b), nb_mul(f, d)) : NULL, "lerp");
}

nb_tensor *nb_lerp_scalar(nb_tensor *a, nb_tensor *b, float w) {
    NB_NULL_GUARD_NAMED("lerp", a, b);
    nb_tensor *d = nb_sub(b, a);
    nb_tensor *r = !d         ? NULL
                   : w < 0.5f ? nb_add(a, nb_mul_scalar(d, w))
                              : nb_sub(b, nb_mul_scalar(d, 1.0f - w));
    return nb_as_op(r, "lerp");
}

nb_tensor *nb_addcmul(nb_tensor *a, nb_tensor *t1, nb_tensor *t2, float value) {
    NB_NULL_GUARD_NAMED("addcmul", a, t1, t2);
    /* torch's order, (value t1) t2 */
    nb_tensor *p = nb_mul(value == 1.0f ? t1 : nb_mul_scalar(t1, value), t2);
    nb_tensor *r = p ? nb_add(a, p) : NULL;
    return nb_as_op(r, "addcmul");
}

nb_tensor *nb_addcdiv(nb_tensor *a, nb_tensor *t1, nb_tensor *t2, float value) {
    NB_NULL_GUARD_NAMED("addcdiv", a, t1, t2);
    /* torch's order, (value t1) / t2 */
    nb_tensor *q = nb_div(value == 1.0f ? t1 : nb_mul_scalar(t1, value), t2);
    nb_tensor *r = q ? nb_add(a, q) : NULL;
    return nb_as_op(r, "addcdiv");
}

/* ---- where / masked_fill -------------------------------------------------------- */

static int where_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *cond = n->in[0];
    nb_tensor *zero = nb_scalar_like(g, 0.0f);
    if (!zero) return -1;
    if (n->in[1]->requires_grad && !(gin[1] = nb_where(cond, g, zero))) return -1;
    if (n->in[2]->requires_grad && !(gin[2] = nb_where(cond, zero, g))) return -1;
    return 0;
}

nb_tensor *nb_where(nb_tensor *cond, nb_tensor *a, nb_tensor *b) {
    NB_NULL_GUARD(cond, a, b);
    if (nb_check_dtype("where", cond, NB_F32, "condition") || nb_check_dtype("where", a, NB_F32, "a") ||
        nb_check_dtype("where", b, NB_F32, "b") || nb_same_device("where", cond, a) ||
        nb_same_device("where", a, b))
        return NULL;
    int nd, nd2;
    int64_t s1[NB_MAX_DIMS], s2[NB_MAX_DIMS];
    if (nb_broadcast_shape("where", a, b, &nd, s1)) return NULL;
    nb_tensor tmp = *a;
    tmp.ndim = nd;
    for (int i = 0; i < nd; i++) tmp.shape[i] = s1[i];
    if (nb_broadcast_shape("where", cond, &tmp, &nd2, s2)) return NULL;
    nb_tensor *out = nb_new_like_shape(a, NB_F32, nd2, s2);
    if (!out) return NULL;
    nb_tensor ec, ea, eb;
    nb_expand_desc(cond, nd2, s2, &ec);
    nb_expand_desc(a, nd2, s2, &ea);
    nb_expand_desc(b, nd2, s2, &eb);
    if (nb_be(a)->where(out, &ec, &ea, &eb)) return NULL;
    nb_tensor *ins[3] = {cond, a, b};
    nb_node *n;
    if (!nb_op_finish(out, "where", where_backward, 3, ins, &n)) return NULL;
    if (n) n->unread = NB_UNREAD_IN(1) | NB_UNREAD_IN(2) | NB_UNREAD_OUT; /* reads cond only */
    return out;
}

nb_tensor *nb_masked_fill(nb_tensor *a, nb_tensor *mask, float value) {
    NB_NULL_GUARD(a, mask);
    if (mask->dtype != NB_F32) return nb_set_error("masked_fill: mask must be f32 (0/1), got %s", nb_dtype_name(mask->dtype));
    nb_tensor *v = nb_scalar_like(a, value);
    if (!v) return NULL;
    nb_tensor e;
    if (nb_expand_desc(mask, a->ndim, a->shape, &e)) {
        char x[96], y[96];
        return nb_set_error("masked_fill: mask %s does not broadcast to %s", NB_SHP(mask, x), NB_SHP(a, y));
    }
    return nb_where(mask, v, a);
}
