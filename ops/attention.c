/* ops/attention.c - causal scaled-dot-product attention as one fused op.
 *
 * out = softmax(q k^T / sqrt(D) + causal mask) v for q, k, v [B,H,T,D]. The
 * forward saves only the output and each row's log-sum-exp as the pair (max,
 * log-sum) [B,H,T,2], exact even at huge scores; the backward recomputes the
 * probabilities from them (flash-attention style). Views are read in place
 * when their last dimension has unit stride and their rows do not overlap
 * (as for q, k, v reshaped and transposed out of a [B,T,3C] projection);
 * otherwise they are made contiguous first. */
#include <math.h>

#include "ops/op_util.h"

/* t itself when its D dimension has unit stride and its rows (T) do not overlap (stride along
 * T at least D: the CPU backend reads each head as a GEMM operand of that leading dimension),
 * else a contiguous (differentiable) copy; e.g. the gradient of a sum over T has stride 0
 * there. */
static nb_tensor *unit_last(nb_tensor *t) {
    bool d_ok = t->shape[3] <= 1 || t->stride[3] == 1, t_ok = t->shape[2] <= 1 || t->stride[2] >= t->shape[3];
    return d_ok && t_ok ? t : nb_contiguous(t);
}

/* The same for a [B,T,*] tensor read as heads: unit stride along the last dim, rows apart. */
static bool rows_usable(const nb_tensor *t) {
    return (t->shape[2] <= 1 || t->stride[2] == 1) && (t->shape[1] <= 1 || t->stride[1] >= t->shape[2]);
}

static int attention_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    nb_tensor *gc = unit_last(g);
    if (!gc) return -1;
    nb_tensor *dq = nb_new_like_shape(gc, NB_F32, 4, q->shape);
    nb_tensor *dk = dq ? nb_new_like_shape(gc, NB_F32, 4, q->shape) : NULL;
    nb_tensor *dv = dk ? nb_new_like_shape(gc, NB_F32, 4, q->shape) : NULL;
    if (!dv) return -1;
    if (nb_numel(q) > 0 &&
        nb_be(gc)->attention_backward(dq, dk, dv, gc, q, k, v, n->out, n->saved[0], n->f[0]))
        return -1;
    gin[0] = q->requires_grad ? dq : NULL;
    gin[1] = k->requires_grad ? dk : NULL;
    gin[2] = v->requires_grad ? dv : NULL;
    return 0;
}

nb_tensor *nb_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v) {
    NB_NULL_GUARD(q, k, v);
    const char *op = "attention";
    if (nb_check_dtype(op, q, NB_F32, "q") || nb_check_dtype(op, k, NB_F32, "k") ||
        nb_check_dtype(op, v, NB_F32, "v") || nb_same_device(op, q, k) || nb_same_device(op, q, v))
        return NULL;
    char a[96], b[96], c[96];
    if (q->ndim != 4 || !nb_same_shape(q, k) || !nb_same_shape(q, v))
        return nb_set_error("attention: q, k, v must all be [B,H,T,D], got q %s, k %s, v %s", NB_SHP(q, a),
                            NB_SHP(k, b), NB_SHP(v, c));
    const nb_backend *be = nb_be(q);
    if (!be) return NULL;
    if (!be->attention || !be->attention_backward) return nb_unsupported(op, be);
    nb_tensor *qc = unit_last(q), *kc = unit_last(k), *vc = unit_last(v);
    if (!qc || !kc || !vc) return NULL;
    int64_t D = q->shape[3];
    float scale = D > 0 ? 1.0f / sqrtf((float)D) : 1.0f;
    nb_tensor *out = nb_new_like_shape(qc, NB_F32, 4, q->shape);
    nb_tensor *lse =
        out ? nb_new_like_shape(qc, NB_F32, NB_SHAPE(q->shape[0], q->shape[1], q->shape[2], 2)) : NULL;
    if (!lse) return NULL;
    if (nb_numel(q) > 0 && be->attention(out, lse, qc, kc, vc, scale)) return NULL;
    nb_node *n;
    nb_tensor *in[3] = {qc, kc, vc};
    if (!nb_op_finish(out, op, attention_backward, 3, in, &n)) return NULL;
    if (n) {
        nb_node_save(n, 0, lse);
        n->f[0] = scale;
    }
    return out;
}

/* ---- attention straight from a [B,T,3C] projection ---------------------------------------------- */

/* Columns [col, col + H*D) of a [B,T,*] tensor with unit last stride seen as [B,H,T,D] (head h
 * at columns col + h*D), a descriptor into the same storage (no copy). */
static nb_tensor heads_view(const nb_tensor *t, int64_t H, int64_t D, int64_t col) {
    nb_tensor d = *t;
    d.ndim = 4;
    d.shape[0] = t->shape[0], d.shape[1] = H, d.shape[2] = t->shape[1], d.shape[3] = D;
    d.stride[0] = t->stride[0], d.stride[1] = D, d.stride[2] = t->stride[1], d.stride[3] = 1;
    d.offset = t->offset + col;
    return d;
}

/* Head i (0 q, 1 k, 2 v) of a [B,T,3C] projection as [B,H,T,D]. */
static nb_tensor qkv_part(const nb_tensor *t, int64_t H, int i) {
    int64_t C = t->shape[2] / 3;
    return heads_view(t, H, C / H, (int64_t)i * C);
}

static int attention_qkv_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    nb_tensor *qkv = n->in[0];
    int64_t H = n->i[0];
    nb_tensor *gc = rows_usable(g) ? g : nb_contiguous(g);
    nb_tensor *d = gc ? nb_new_like_shape(gc, NB_F32, 3, qkv->shape) : NULL;
    if (!d) return -1;
    nb_tensor q = qkv_part(qkv, H, 0), k = qkv_part(qkv, H, 1), v = qkv_part(qkv, H, 2);
    nb_tensor dq = qkv_part(d, H, 0), dk = qkv_part(d, H, 1), dv = qkv_part(d, H, 2);
    int64_t D = qkv->shape[2] / 3 / H;
    nb_tensor go = heads_view(gc, H, D, 0), o = heads_view(n->out, H, D, 0);
    if (nb_numel(qkv) > 0 &&
        nb_be(d)->attention_backward(&dq, &dk, &dv, &go, &q, &k, &v, &o, n->saved[0], n->f[0]))
        return -1;
    gin[0] = d;
    return 0;
}

nb_tensor *nb_attention_qkv(nb_tensor *qkv, int n_head) {
    NB_NULL_GUARD(qkv);
    const char *op = "attention_qkv";
    if (nb_check_dtype(op, qkv, NB_F32, "qkv")) return NULL;
    char a[96];
    if (qkv->ndim != 3 || n_head <= 0 || qkv->shape[2] % (3 * (int64_t)n_head))
        return nb_set_error("attention_qkv: expected qkv [B,T,3C] with C a multiple of n_head %d, got %s",
                            n_head, NB_SHP(qkv, a));
    const nb_backend *be = nb_be(qkv);
    if (!be) return NULL;
    if (!be->attention || !be->attention_backward) return nb_unsupported(op, be);
    nb_tensor *x = rows_usable(qkv) ? qkv : nb_contiguous(qkv);
    if (!x) return NULL;
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2] / 3, H = n_head, D = C / H;
    float scale = D > 0 ? 1.0f / sqrtf((float)D) : 1.0f;
    nb_tensor *out = nb_new_like_shape(x, NB_F32, NB_SHAPE(B, T, C));
    nb_tensor *lse = out ? nb_new_like_shape(x, NB_F32, NB_SHAPE(B, H, T, 2)) : NULL;
    if (!lse) return NULL;
    nb_tensor q = qkv_part(x, H, 0), k = qkv_part(x, H, 1), v = qkv_part(x, H, 2);
    nb_tensor o = heads_view(out, H, D, 0);
    if (nb_numel(x) > 0 && be->attention(&o, lse, &q, &k, &v, scale)) return NULL;
    nb_node *n;
    if (!nb_op_finish(out, op, attention_qkv_backward, 1, &x, &n)) return NULL;
    if (n) {
        nb_node_save(n, 0, lse);
        n->i[0] = H;
        n->f[0] = scale;
    }
    return out;
}
