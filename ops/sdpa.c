/* ops/sdpa.c - general scaled-dot-product attention (torch's F.scaled_dot_product_attention):
 * any leading dims, queries and keys of different lengths, an additive mask, a causal mask,
 * dropout on the probabilities. Composed of matmul, softmax and dropout, so it runs on every
 * backend with their gradients; the probabilities [..., Tq, Tk] are stored. A causal call
 * without the rest goes to the fused nb_attention, which stores none. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

/* [Tq, Tk]: 0 where key j <= query i, -inf above (torch's is_causal: top-left aligned) */
static nb_tensor *causal_mask(const nb_tensor *q, int64_t Tq, int64_t Tk) {
    float *m = malloc((size_t)(Tq * Tk) * sizeof *m + 1);
    if (!m)
        return nb_set_error("scaled_dot_product_attention: out of memory for a %lldx%lld mask", (long long)Tq,
                            (long long)Tk);
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++)
            m[i * Tk + j] = j <= i ? 0.0f : -INFINITY;
    nb_tensor *t = nb_host_1d(q, NB_F32, Tq * Tk, m);
    free(m);
    return t ? nb_reshape(t, NB_SHAPE(Tq, Tk)) : NULL;
}

nb_tensor *nb_scaled_dot_product_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, const nb_sdpa_opts *opts,
                                           nb_tensor **probs) {
    const char *op = "scaled_dot_product_attention";
    NB_NULL_GUARD_NAMED(op, q, k, v);
    const nb_sdpa_opts o = opts ? *opts : (nb_sdpa_opts){.mask = NULL};
    if (nb_check_dtype(op, q, NB_F32, "query") || nb_check_dtype(op, k, NB_F32, "key") ||
        nb_check_dtype(op, v, NB_F32, "value") || nb_same_device(op, q, k) || nb_same_device(op, q, v) ||
        (o.mask && (nb_check_dtype(op, o.mask, NB_F32, "mask") || nb_same_device(op, q, o.mask))))
        return NULL;
    char qs[64], ks[64], vs[64];
    if (q->ndim < 2 || k->ndim < 2 || v->ndim < 2 || q->shape[q->ndim - 1] != k->shape[k->ndim - 1] ||
        k->shape[k->ndim - 2] != v->shape[v->ndim - 2])
        return nb_set_error(
            "%s: want query [..., Tq, D], key [..., Tk, D] and value [..., Tk, Dv], got %s, %s and %s", op,
            NB_SHP(q, qs), NB_SHP(k, ks), NB_SHP(v, vs));
    if (!(o.dropout >= 0.0f && o.dropout < 1.0f) || !(o.scale >= 0.0f) || isinf(o.scale))
        return nb_set_error("%s: dropout %g must be in [0, 1) and scale %g finite and >= 0 (0: 1/sqrt(D))",
                            op, (double)o.dropout, (double)o.scale);
    const int64_t D = q->shape[q->ndim - 1], Tq = q->shape[q->ndim - 2], Tk = k->shape[k->ndim - 2];
    const float scale = o.scale > 0 ? o.scale : 1.0f / sqrtf((float)(D ? D : 1));
    if (o.causal && !o.mask && o.dropout == 0 && !probs && q->ndim == 4 && nb_same_shape(q, k) &&
        nb_same_shape(q, v) && scale == 1.0f / sqrtf((float)D) && D > 0)
        return nb_attention(q, k, v); /* fused: the probabilities are never stored */
    nb_tensor *s = nb_mul_scalar(nb_matmul(q, nb_transpose(k, k->ndim - 2, k->ndim - 1)), scale);
    if (s && o.causal) s = nb_add(s, causal_mask(q, Tq, Tk));
    if (s && o.mask) { /* the mask may broadcast to the scores, not widen them */
        int nd;
        int64_t shape[NB_MAX_DIMS];
        char ms[64], ss[64];
        if (nb_broadcast_shape(op, s, o.mask, &nd, shape)) return NULL;
        if (nd != s->ndim || memcmp(shape, s->shape, (size_t)nd * sizeof *shape))
            return nb_set_error("%s: mask %s does not broadcast to the scores %s", op, NB_SHP(o.mask, ms),
                                NB_SHP(s, ss));
        s = nb_add(s, o.mask);
    }
    nb_tensor *p = s ? nb_softmax(s, -1) : NULL;
    if (p && o.dropout > 0) p = nb_dropout(p, o.dropout, true, o.rng);
    nb_tensor *out = p ? nb_matmul(p, v) : NULL;
    if (out && probs) *probs = p;
    return nb_as_op(out, op);
}
