/* ops/rnn.c - one time step of the recurrent cells (torch's RNNCell, LSTMCell and GRUCell, with
 * their gate order and weight layouts), composed of nb_linear, slices and elementwise ops, so
 * the gradients are theirs and every backend runs them. nn/rnn.c loops them over sequences. */
#include <stdint.h>

#include "ops/op_util.h"
#include "ops/rnn.h"
#include "tensor/internal.h"

/* Checks x [N, in] (or [in]), h [N, H] (or [H]), w_ih [G*H, in], w_hh [G*H, H], biases [G*H] or
 * NULL, all f32 on one device; H in *hidden. 0 or -1 with an error naming op. */
static int check_cell(const char *op, int gates, nb_tensor *x, nb_tensor *h, nb_tensor *c, nb_tensor *w_ih,
                      nb_tensor *w_hh, nb_tensor *b_ih, nb_tensor *b_hh, int64_t *hidden) {
    nb_tensor *all[6] = {x, h, w_ih, w_hh, b_ih, b_hh};
    static const char *what[6] = {"input", "hidden state", "weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int i = 0; i < 6; i++)
        if (all[i] && (nb_check_dtype(op, all[i], NB_F32, what[i]) || nb_same_device(op, x, all[i])))
            return -1;
    if (c && (nb_check_dtype(op, c, NB_F32, "cell state") || nb_same_device(op, x, c))) return -1;
    char xs[64], hs[64], a[64], b[64];
    if (x->ndim < 1 || x->ndim > 2 || h->ndim != x->ndim || (x->ndim == 2 && h->shape[0] != x->shape[0]))
        return nb_set_error("%s: want input [N,in] and hidden state [N,H] (or [in] and [H]), got %s and %s",
                            op, NB_SHP(x, xs), NB_SHP(h, hs)),
               -1;
    const int64_t H = h->shape[h->ndim - 1], in = x->shape[x->ndim - 1];
    if (w_ih->ndim != 2 || w_hh->ndim != 2 || w_ih->shape[0] != gates * H || w_hh->shape[0] != gates * H ||
        w_ih->shape[1] != in || w_hh->shape[1] != H)
        return nb_set_error(
                   "%s: weights %s and %s do not fit input %s and hidden state %s (want [%d*H, in] and "
                   "[%d*H, H])",
                   op, NB_SHP(w_ih, a), NB_SHP(w_hh, b), NB_SHP(x, xs), NB_SHP(h, hs), gates, gates),
               -1;
    for (int i = 0; i < 2; i++) {
        nb_tensor *bias = i ? b_hh : b_ih;
        if (bias && (bias->ndim != 1 || bias->shape[0] != gates * H))
            return nb_set_error("%s: %s %s does not match %d*H = %lld", op, what[4 + i], NB_SHP(bias, a),
                                gates, (long long)(gates * H)),
                   -1;
    }
    if (c && (c->ndim != h->ndim || !nb_same_shape(c, h)))
        return nb_set_error("%s: cell state %s does not match hidden state %s", op, NB_SHP(c, a),
                            NB_SHP(h, hs)),
               -1;
    *hidden = H;
    return 0;
}

/* gate k (of width H) of the gates' last dim */
static nb_tensor *gate(nb_tensor *g, int k, int64_t H) { return nb_narrow(g, g->ndim - 1, k * H, H); }

nb_tensor *nb_lstm_step(nb_tensor *gi, nb_tensor *h, nb_tensor *c, nb_tensor *w_hh, nb_tensor *b_hh,
                        nb_tensor **c_out) {
    const int64_t H = c->shape[c->ndim - 1];             /* the cell's width (h may be projected narrower) */
    nb_tensor *g = nb_add(gi, nb_linear(h, w_hh, b_hh)); /* i, f, g, o */
    if (!g) return NULL;
    nb_tensor *i = nb_sigmoid(gate(g, 0, H)), *f = nb_sigmoid(gate(g, 1, H)), *n = nb_tanh(gate(g, 2, H)),
              *o = nb_sigmoid(gate(g, 3, H));
    nb_tensor *c2 = nb_add(nb_mul(f, c), nb_mul(i, n));
    nb_tensor *h2 = nb_mul(o, nb_tanh(c2));
    if (!h2) return NULL;
    *c_out = c2;
    return h2;
}

nb_tensor *nb_gru_step(nb_tensor *gi, nb_tensor *h, nb_tensor *w_hh, nb_tensor *b_hh) {
    const int64_t H = h->shape[h->ndim - 1];
    nb_tensor *gh = nb_linear(h, w_hh, b_hh); /* r, z, n */
    if (!gh) return NULL;
    nb_tensor *r = nb_sigmoid(nb_add(gate(gi, 0, H), gate(gh, 0, H)));
    nb_tensor *z = nb_sigmoid(nb_add(gate(gi, 1, H), gate(gh, 1, H)));
    nb_tensor *n = nb_tanh(nb_add(gate(gi, 2, H), nb_mul(r, gate(gh, 2, H))));
    return nb_add(n, nb_mul(z, nb_sub(h, n))); /* (1 - z) n + z h */
}

nb_tensor *nb_rnn_step(nb_tensor *gi, nb_tensor *h, nb_tensor *w_hh, nb_tensor *b_hh, bool relu) {
    nb_tensor *a = nb_add(gi, nb_linear(h, w_hh, b_hh));
    return relu ? nb_relu(a) : nb_tanh(a);
}

/* a zero state for x [N, in] (or [in]) and w_hh [G*H, H]: [N, H] (or [H]), as torch's hx=None */
static nb_tensor *zero_state(const char *op, const nb_tensor *x, const nb_tensor *w_hh) {
    if (x->ndim < 1 || x->ndim > 2 || w_hh->ndim != 2) {
        char xs[64], ws[64];
        return nb_set_error("%s: want input [N,in] (or [in]) and weight_hh [G*H, H], got %s and %s", op,
                            NB_SHP(x, xs), NB_SHP(w_hh, ws));
    }
    const int64_t H = w_hh->shape[1];
    return x->ndim == 2 ? nb_zeros_on(nb_out_ctx(x), NB_F32, x->device, NB_SHAPE(x->shape[0], H))
                        : nb_zeros_on(nb_out_ctx(x), NB_F32, x->device, NB_SHAPE(H));
}

nb_tensor *nb_lstm_cell(nb_tensor *x, nb_tensor *h, nb_tensor *c, nb_tensor *w_ih, nb_tensor *w_hh,
                        nb_tensor *b_ih, nb_tensor *b_hh, nb_tensor **c_out) {
    NB_NULL_GUARD_NAMED("lstm_cell", x, w_ih, w_hh, c_out);
    if (!h && !(h = zero_state("lstm_cell", x, w_hh))) return NULL;
    if (!c && !(c = zero_state("lstm_cell", x, w_hh))) return NULL;
    int64_t H;
    if (check_cell("lstm_cell", 4, x, h, c, w_ih, w_hh, b_ih, b_hh, &H)) return NULL;
    nb_tensor *r = nb_lstm_step(nb_linear(x, w_ih, b_ih), h, c, w_hh, b_hh, c_out);
    return nb_as_op(r, "lstm_cell");
}

nb_tensor *nb_gru_cell(nb_tensor *x, nb_tensor *h, nb_tensor *w_ih, nb_tensor *w_hh, nb_tensor *b_ih,
                       nb_tensor *b_hh) {
    NB_NULL_GUARD_NAMED("gru_cell", x, w_ih, w_hh);
    if (!h && !(h = zero_state("gru_cell", x, w_hh))) return NULL;
    int64_t H;
    if (check_cell("gru_cell", 3, x, h, NULL, w_ih, w_hh, b_ih, b_hh, &H)) return NULL;
    return nb_as_op(nb_gru_step(nb_linear(x, w_ih, b_ih), h, w_hh, b_hh), "gru_cell");
}

nb_tensor *nb_rnn_cell(nb_tensor *x, nb_tensor *h, nb_tensor *w_ih, nb_tensor *w_hh, nb_tensor *b_ih,
                       nb_tensor *b_hh, bool relu) {
    NB_NULL_GUARD_NAMED("rnn_cell", x, w_ih, w_hh);
    if (!h && !(h = zero_state("rnn_cell", x, w_hh))) return NULL;
    int64_t H;
    if (check_cell("rnn_cell", 1, x, h, NULL, w_ih, w_hh, b_ih, b_hh, &H)) return NULL;
    return nb_as_op(nb_rnn_step(nb_linear(x, w_ih, b_ih), h, w_hh, b_hh, relu), "rnn_cell");
}
