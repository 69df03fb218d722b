/* nn/rnn.c - recurrent layers over sequences (torch's nn.RNN, nn.LSTM, nn.GRU): layers stacked,
 * optionally bidirectional, with dropout between layers in training. Each layer and direction
 * projects every step's input in one matmul, then runs the cell's recurrent part step by step
 * (ops/rnn.c); with lengths, the padded steps of each sequence leave its states alone and output
 * 0 (torch's packed sequences). Parameters have torch's names and layouts (weight_ih_l0,
 * weight_hh_l0_reverse,
 * ...), so a torch state_dict loads as it is; they start uniform in +-1/sqrt(hidden), as torch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "ops/op_util.h"
#include "ops/rnn.h"

typedef enum { KIND_RNN, KIND_LSTM, KIND_GRU } rnn_kind;

typedef struct {
    rnn_kind kind;
    int64_t in, hidden, out; /* out: the hidden state's width (proj_size, else hidden) */
    nb_rnn_opts o;
    int layers, dirs, per; /* per: parameters per layer and direction (4, or 2 without biases; +1 w_hr) */
} rnn_cfg;

static nb_tensor *rnn_fwd(nb_module *m, nb_tensor *x) { return nb_rnn_run(m, x, NULL, NULL, NULL, NULL); }

static int gates_of(rnn_kind k) { return k == KIND_LSTM ? 4 : k == KIND_GRU ? 3 : 1; }

static nb_module *rnn_new(const char *op, const char *type, rnn_kind kind, nb_ctx *ctx, int64_t in,
                          int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng) {
    if (!ctx) return nb_set_error("%s: NULL context", op);
    const nb_rnn_opts o = opts ? *opts : (nb_rnn_opts){.num_layers = 0};
    const int layers = o.num_layers ? o.num_layers : 1;
    /* sizes below 2^31 / 8, so that the gates of both directions (8 hidden) fit in 32 bits */
    const int64_t most = INT32_MAX / 8;
    if (in < 1 || in > most)
        return nb_set_error("%s: input size %lld must be in [1, %lld]", op, (long long)in, (long long)most);
    if (hidden < 1 || hidden > most)
        return nb_set_error("%s: hidden size %lld must be in [1, %lld]", op, (long long)hidden,
                            (long long)most);
    if (layers < 1) return nb_set_error("%s: %d layers (want at least 1)", op, layers);
    if (!(o.dropout >= 0.0f && o.dropout < 1.0f))
        return nb_set_error("%s: dropout %g must be in [0, 1)", op, (double)o.dropout);
    if (o.relu && kind != KIND_RNN) return nb_set_error("%s: relu applies to nb_rnn_new only", op);
    if (o.proj_size && kind != KIND_LSTM)
        return nb_set_error("%s: proj_size applies to nb_lstm_new only", op);
    if (o.proj_size < 0 || o.proj_size >= hidden)
        return nb_set_error("%s: proj_size %lld must be in [0, hidden %lld)", op, (long long)o.proj_size,
                            (long long)hidden);
    nb_module *m = nb_module_new(type, ctx, rnn_fwd, sizeof(rnn_cfg));
    if (!m) return NULL;
    rnn_cfg *c = m->impl;
    const int64_t P = o.proj_size ? o.proj_size : hidden;
    *c = (rnn_cfg){
        kind, in, hidden, P, o, layers, o.bidirectional ? 2 : 1, (o.no_bias ? 2 : 4) + (o.proj_size ? 1 : 0)};
    const int64_t G = gates_of(kind);
    const float bound = 1.0f / sqrtf((float)hidden);
    for (int l = 0; l < layers; l++)
        for (int d = 0; d < c->dirs; d++) {
            const int64_t lin = l ? P * c->dirs : in;
            const char *sfx = d ? "_reverse" : "";
            char name[64];
            for (int j = 0; j < c->per; j++) {
                /* torch's order: weight_ih, weight_hh, (bias_ih, bias_hh), (weight_hr) */
                static const char *base[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
                const bool hr = o.proj_size && j == c->per - 1;
                snprintf(name, sizeof name, "%s_l%d%s", hr ? "weight_hr" : base[j], l, sfx);
                nb_tensor *t = hr       ? nb_rand(ctx, NB_SHAPE(P, hidden), -bound, bound, rng)
                               : j == 0 ? nb_rand(ctx, NB_SHAPE(G * hidden, lin), -bound, bound, rng)
                               : j == 1 ? nb_rand(ctx, NB_SHAPE(G * hidden, P), -bound, bound, rng)
                                        : nb_rand(ctx, NB_SHAPE(G * hidden), -bound, bound, rng);
                if (!nb_module_add_param(m, name, t)) {
                    nb_module_free(m);
                    return NULL;
                }
            }
        }
    return m;
}

nb_module *nb_rnn_new(nb_ctx *ctx, int64_t in, int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng) {
    return rnn_new("rnn_new", "RNN", KIND_RNN, ctx, in, hidden, opts, rng);
}

nb_module *nb_lstm_new(nb_ctx *ctx, int64_t in, int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng) {
    return rnn_new("lstm_new", "LSTM", KIND_LSTM, ctx, in, hidden, opts, rng);
}

nb_module *nb_gru_new(nb_ctx *ctx, int64_t in, int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng) {
    return rnn_new("gru_new", "GRU", KIND_GRU, ctx, in, hidden, opts, rng);
}

/* state k ([N,H]) of an initial state [L*D, N, H], or zeros */
static nb_tensor *initial(nb_tensor *s0, int k, const nb_tensor *x, int64_t N, int64_t H) {
    return s0 ? nb_squeeze(nb_narrow(s0, 0, k, 1), 0)
              : nb_zeros_on(nb_out_ctx(x), NB_F32, x->device, NB_SHAPE(N, H));
}

/* checks an initial state against [L*D, N, H]; 0 or -1 */
static int check_state(const char *op, const char *what, nb_tensor *s, const nb_tensor *x, int64_t LD,
                       int64_t N, int64_t H) {
    if (!s) return 0;
    if (nb_check_dtype(op, s, NB_F32, what) || nb_same_device(op, x, s)) return -1;
    if (s->ndim == 3 && s->shape[0] == LD && s->shape[1] == N && s->shape[2] == H) return 0;
    char ss[64];
    return nb_set_error("%s: %s %s does not match [layers*directions, N, hidden] = [%lld,%lld,%lld]", op,
                        what, NB_SHP(s, ss), (long long)LD, (long long)N, (long long)H),
           -1;
}

/* one layer in one direction over seq [T,N,in]: the outputs [T,N,H]; the last states in *h, *c.
 * With keep ([T,N,1], 1 inside each sequence's length, 0 after it), the states pass unchanged
 * through the padded steps and those steps' outputs are 0: the forward direction ends at each
 * sequence's last step, and the reverse one starts there (torch's packed sequences). */
static nb_tensor *run_dir(const rnn_cfg *c, nb_param *p, nb_tensor *seq, nb_tensor *keep, bool reverse,
                          nb_tensor **h, nb_tensor **cs) {
    const int64_t T = seq->shape[0];
    const bool biased = !c->o.no_bias;
    nb_tensor *b_ih = biased ? p[2].t : NULL, *b_hh = biased ? p[3].t : NULL;
    nb_tensor *w_hr = c->o.proj_size ? p[c->per - 1].t : NULL; /* LSTM's projection of h */
    nb_tensor *gi = nb_linear(seq, p[0].t, b_ih); /* every step's input projection at once */
    nb_tensor **outs = nb_ctx_alloc(nb_out_ctx(seq), (size_t)T * sizeof *outs, sizeof *outs);
    if (!gi || !outs) return NULL;
    for (int64_t s = 0; s < T; s++) {
        const int64_t t = reverse ? T - 1 - s : s;
        nb_tensor *g = nb_squeeze(nb_narrow(gi, 0, t, 1), 0);
        if (!g) return NULL;
        nb_tensor *h1, *c1 = NULL;
        switch (c->kind) {
        case KIND_LSTM:
            h1 = nb_lstm_step(g, *h, *cs, p[1].t, b_hh, &c1);
            if (h1 && w_hr) h1 = nb_linear(h1, w_hr, NULL);
            break;
        case KIND_GRU: h1 = nb_gru_step(g, *h, p[1].t, b_hh); break;
        default: h1 = nb_rnn_step(g, *h, p[1].t, b_hh, c->o.relu);
        }
        if (!h1) return NULL;
        if (keep) { /* a padded step: the states stay, the output is 0 */
            nb_tensor *k = nb_squeeze(nb_narrow(keep, 0, t, 1), 0);
            nb_tensor *zero = nb_full_on(nb_out_ctx(seq), NB_F32, seq->device, 0, NULL, 0.0);
            outs[t] = k && zero ? nb_where(k, h1, zero) : NULL;
            h1 = outs[t] ? nb_where(k, h1, *h) : NULL;
            if (c1) c1 = h1 ? nb_where(k, c1, *cs) : NULL;
        } else {
            outs[t] = h1;
        }
        *h = h1;
        if (c->kind == KIND_LSTM) *cs = c1;
        if (!outs[t] || !*h || (c->kind == KIND_LSTM && !*cs)) return NULL;
    }
    return nb_stack(outs, (int)T, 0);
}

/* keep [T,N,1] on x's device from lengths (i32 [N], each in [1, T]); NULL with an error */
static nb_tensor *keep_mask(const char *op, const nb_tensor *lengths, const nb_tensor *x, int64_t T,
                            int64_t N) {
    char ls[64];
    if (lengths->dtype != NB_I32 || lengths->ndim != 1 || lengths->shape[0] != N)
        return nb_set_error("%s: lengths %s %s: want i32 [N] = [%lld]", op, nb_dtype_name(lengths->dtype),
                            NB_SHP(lengths, ls), (long long)N);
    int32_t *len = nb_ctx_alloc(nb_out_ctx(x), (size_t)N * sizeof *len, sizeof *len);
    nb_tensor *keep = len ? nb_zeros(nb_out_ctx(x), NB_F32, NB_SHAPE(T, N, 1)) : NULL;
    if (!keep || nb_to_array(lengths, NB_I32, len)) return NULL;
    float *k = nb_data_f32(keep);
    for (int64_t b = 0; b < N; b++) {
        if (len[b] < 1 || len[b] > T)
            return nb_set_error("%s: length %d of sequence %lld is outside [1, %lld] (the time steps)", op,
                                len[b], (long long)b, (long long)T);
        for (int64_t t = 0; t < len[b]; t++)
            k[t * N + b] = 1.0f;
    }
    return x->device == NB_CPU ? keep : nb_to_device(nb_out_ctx(x), keep, x->device);
}

nb_tensor *nb_rnn_run(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor *c0, nb_tensor **h_n,
                      nb_tensor **c_n) {
    return nb_rnn_run_lengths(m, x, NULL, h0, c0, h_n, c_n);
}

nb_tensor *nb_rnn_run_lengths(nb_module *m, nb_tensor *x, const nb_tensor *lengths, nb_tensor *h0,
                              nb_tensor *c0, nb_tensor **h_n, nb_tensor **c_n) {
    if (!m || m->forward != rnn_fwd) return nb_set_error("rnn_run: not an RNN, LSTM or GRU module");
    const rnn_cfg *c = m->impl;
    const char *op = m->type;
    if (!x) return nb_last_error()[0] ? NULL : nb_set_error("%s: NULL input", op);
    if (nb_check_dtype(op, x, NB_F32, "input")) return NULL;
    if (c->kind != KIND_LSTM && c0) return nb_set_error("%s: only an LSTM has a cell state", op);
    char xs[64];
    if (x->ndim == 2) { /* unbatched [T,in] and states [L*D, H], as torch */
        nb_tensor *hn = NULL, *cn = NULL, *h1 = h0 ? nb_unsqueeze(h0, 1) : NULL,
                  *c1 = c0 ? nb_unsqueeze(c0, 1) : NULL;
        const int64_t LD = (int64_t)c->layers * c->dirs;
        if (x->shape[1] != c->in)
            return nb_set_error("%s: want input [T,N,%lld] (batch_first: [N,T,%lld]) or [T,%lld], got %s", op,
                                (long long)c->in, (long long)c->in, (long long)c->in, NB_SHP(x, xs));
        nb_tensor *st[2] = {h0, c0};
        for (int i = 0; i < 2; i++) {
            const int64_t w = i ? c->hidden : c->out;
            if (st[i] && (st[i]->ndim != 2 || st[i]->shape[0] != LD || st[i]->shape[1] != w)) {
                char ss[64];
                return nb_set_error(
                    "%s: %s %s: an unbatched input [T,in] wants states [layers*directions, %s] "
                    "= [%lld,%lld]",
                    op, i ? "c0" : "h0", NB_SHP(st[i], ss), i || !c->o.proj_size ? "hidden" : "proj_size",
                    (long long)LD, (long long)w);
            }
        }
        nb_tensor *l1 = lengths ? nb_reshape((nb_tensor *)lengths, NB_SHAPE(1)) : NULL;
        if (lengths && !l1) return NULL;
        nb_tensor *y = nb_rnn_run_lengths(m, nb_unsqueeze(x, c->o.batch_first ? 0 : 1), l1, h1, c1,
                                          h_n ? &hn : NULL, c_n ? &cn : NULL);
        if (!y) return NULL;
        if (h_n) *h_n = nb_squeeze(hn, 1);
        if (c_n) *c_n = cn ? nb_squeeze(cn, 1) : NULL;
        return nb_squeeze(y, c->o.batch_first ? 0 : 1);
    }
    if (x->ndim != 3 || x->shape[2] != c->in)
        return nb_set_error("%s: want input [T,N,%lld] (batch_first: [N,T,%lld]) or [T,%lld], got %s", op,
                            (long long)c->in, (long long)c->in, (long long)c->in, NB_SHP(x, xs));
    nb_tensor *seq = c->o.batch_first ? nb_transpose(x, 0, 1) : x;
    if (!seq) return NULL;
    const int64_t T = seq->shape[0], N = seq->shape[1], H = c->hidden, P = c->out,
                  LD = (int64_t)c->layers * c->dirs;
    if (T < 1) return nb_set_error("%s: the input %s has no time steps", op, NB_SHP(x, xs));
    if (check_state(op, "h0", h0, x, LD, N, P) || check_state(op, "c0", c0, x, LD, N, H)) return NULL;
    nb_tensor *keep = lengths ? keep_mask(op, lengths, x, T, N) : NULL;
    if (lengths && !keep) return NULL;
    nb_tensor **hs = nb_ctx_alloc(nb_out_ctx(x), (size_t)(2 * LD) * sizeof *hs, sizeof *hs);
    if (!hs) return NULL;
    nb_tensor **cs = hs + LD;
    for (int l = 0; l < c->layers && seq; l++) {
        nb_tensor *out[2] = {NULL, NULL};
        for (int d = 0; d < c->dirs; d++) {
            const int k = l * c->dirs + d;
            hs[k] = initial(h0, k, x, N, P);
            cs[k] = c->kind == KIND_LSTM ? initial(c0, k, x, N, H) : NULL;
            if (!hs[k] || (c->kind == KIND_LSTM && !cs[k])) return NULL;
            out[d] = run_dir(c, m->params + k * c->per, seq, keep, d == 1, &hs[k], &cs[k]);
            if (!out[d]) return nb_as_op(NULL, op);
        }
        seq = c->dirs == 2 ? nb_cat(out, 2, 2) : out[0];
        if (seq && l + 1 < c->layers && c->o.dropout > 0 && m->training)
            seq = nb_dropout(seq, c->o.dropout, true, nb_module_rng(m));
    }
    if (seq && c->o.batch_first) seq = nb_transpose(seq, 0, 1);
    if (seq && h_n && !(*h_n = nb_stack(hs, (int)LD, 0))) seq = NULL;
    if (seq && c_n) *c_n = c->kind == KIND_LSTM ? nb_stack(cs, (int)LD, 0) : NULL;
    if (seq && c_n && c->kind == KIND_LSTM && !*c_n) seq = NULL;
    return nb_as_op(seq, op);
}
