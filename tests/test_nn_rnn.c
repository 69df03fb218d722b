/* Recurrent cells (ops/rnn.c) and layers (nn/rnn.c): the cells against their equations in double,
 * gradients through gradcheck, the layers against a loop of cells (layers, directions,
 * batch_first, unbatched), torch's parameter names, dropout, errors, and an LSTM that learns. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 25);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 41);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static nb_tensor *rn(int ndim, const int64_t *shape) { return nb_randn(ctx, ndim, shape, 0, 0.7f, &rng); }
static float F(const nb_tensor *t, int64_t i) { return nb_data_f32((nb_tensor *)t)[i]; }
static double sig(double v) { return 1 / (1 + exp(-v)); }

/* gate pre-activations of row n, gate unit j: x w_ih^T + b_ih (+ h w_hh^T + b_hh when both) */
static double pre(nb_tensor *x, nb_tensor *w, nb_tensor *b, int64_t n, int64_t j) {
    const int64_t in = x->shape[1];
    double s = b ? F(b, j) : 0;
    for (int64_t k = 0; k < in; k++)
        s += (double)F(x, n * in + k) * F(w, j * in + k);
    return s;
}

START_TEST(cells_against_equations) {
    const int64_t N = 3, I = 5, H = 4;
    nb_tensor *x = rn(NB_SHAPE(N, I)), *h = rn(NB_SHAPE(N, H)), *c = rn(NB_SHAPE(N, H));
    /* LSTM: gates i, f, g, o */
    nb_tensor *wi = rn(NB_SHAPE(4 * H, I)), *wh = rn(NB_SHAPE(4 * H, H)), *bi = rn(NB_SHAPE(4 * H)),
              *bh = rn(NB_SHAPE(4 * H));
    nb_tensor *c2 = NULL, *h2 = nb_lstm_cell(x, h, c, wi, wh, bi, bh, &c2);
    ck_assert_msg(h2 && c2, "%s", nb_last_error());
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++) {
            double g[4];
            for (int k = 0; k < 4; k++)
                g[k] = pre(x, wi, bi, n, k * H + j) + pre(h, wh, bh, n, k * H + j);
            const double cw = sig(g[1]) * F(c, n * H + j) + sig(g[0]) * tanh(g[2]), hw = sig(g[3]) * tanh(cw);
            ck_assert_msg(fabs(F(c2, n * H + j) - cw) < 1e-5 && fabs(F(h2, n * H + j) - hw) < 1e-5,
                          "lstm (%lld,%lld): h %g c %g, want %g %g", (long long)n, (long long)j,
                          (double)F(h2, n * H + j), (double)F(c2, n * H + j), hw, cw);
        }
    /* GRU: gates r, z, n; b_hh's n part inside the reset product */
    nb_tensor *gi = rn(NB_SHAPE(3 * H, I)), *gh = rn(NB_SHAPE(3 * H, H)), *gbi = rn(NB_SHAPE(3 * H)),
              *gbh = rn(NB_SHAPE(3 * H));
    nb_tensor *g2 = nb_gru_cell(x, h, gi, gh, gbi, gbh);
    ck_assert_msg(g2 != NULL, "%s", nb_last_error());
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++) {
            const double r = sig(pre(x, gi, gbi, n, j) + pre(h, gh, gbh, n, j)),
                         z = sig(pre(x, gi, gbi, n, H + j) + pre(h, gh, gbh, n, H + j)),
                         nn = tanh(pre(x, gi, gbi, n, 2 * H + j) + r * pre(h, gh, gbh, n, 2 * H + j)),
                         want = (1 - z) * nn + z * F(h, n * H + j);
            ck_assert_msg(fabs(F(g2, n * H + j) - want) < 1e-5, "gru (%lld,%lld): %g, want %g", (long long)n,
                          (long long)j, (double)F(g2, n * H + j), want);
        }
    /* Elman, tanh and relu, without biases */
    nb_tensor *ri = rn(NB_SHAPE(H, I)), *rh = rn(NB_SHAPE(H, H));
    for (int relu = 0; relu < 2; relu++) {
        nb_tensor *r2 = nb_rnn_cell(x, h, ri, rh, NULL, NULL, relu);
        ck_assert_msg(r2 != NULL, "%s", nb_last_error());
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < H; j++) {
                const double a = pre(x, ri, NULL, n, j) + pre(h, rh, NULL, n, j),
                             want = relu ? fmax(a, 0) : tanh(a);
                ck_assert(fabs(F(r2, n * H + j) - want) < 1e-5);
            }
    }
    /* unbatched: [in] and [H] */
    nb_tensor *u = nb_gru_cell(nb_reshape(nb_narrow(x, 0, 1, 1), NB_SHAPE(I)),
                               nb_reshape(nb_narrow(h, 0, 1, 1), NB_SHAPE(H)), gi, gh, gbi, gbh);
    ck_assert_msg(u && u->ndim == 1 && u->shape[0] == H, "%s", nb_last_error());
    NB_ASSERT_CLOSE(u, nb_narrow(g2, 0, 1, 1), 1e-6, "unbatched gru_cell");
}
END_TEST

static int gc_which;
static nb_tensor *gc_cell(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    if (gc_which == 0) {
        nb_tensor *c2 = NULL, *h2 = nb_lstm_cell(in[0], in[1], in[2], in[3], in[4], in[5], in[6], &c2);
        return h2 ? nb_cat((nb_tensor *[]){h2, c2}, 2, 1) : NULL; /* both outputs checked */
    }
    if (gc_which == 1) return nb_gru_cell(in[0], in[1], in[3], in[4], in[5], in[6]);
    return nb_rnn_cell(in[0], in[1], in[3], in[4], in[5], in[6], false);
}

START_TEST(cell_gradients) {
    for (gc_which = 0; gc_which < 3; gc_which++) {
        const int64_t G = gc_which == 0 ? 4 : gc_which == 1 ? 3 : 1, H = 3, I = 4;
        nb_tensor *in[7] = {rn(NB_SHAPE(2, I)),     rn(NB_SHAPE(2, H)),     rn(NB_SHAPE(2, H)),
                            rn(NB_SHAPE(G * H, I)), rn(NB_SHAPE(G * H, H)), rn(NB_SHAPE(G * H)),
                            rn(NB_SHAPE(G * H))};
        for (int i = 0; i < 7; i++)
            nb_requires_grad_(in[i], true);
        ck_assert_msg(nb_gradcheck(gc_cell, in, 7, NULL, NULL) == 1, "cell %d: %s", gc_which,
                      nb_last_error());
    }
}
END_TEST

/* a layer stack run by hand: each layer and direction a loop of cells with the module's weights */
static nb_tensor *by_hand(nb_module *m, int kind, nb_tensor *x, int layers, int dirs, int64_t H,
                          nb_tensor **hn) {
    const int64_t T = x->shape[0], N = x->shape[1];
    nb_tensor *seq = x, *last[8];
    int p = 0;
    for (int l = 0; l < layers; l++) {
        nb_tensor *outs[2];
        for (int d = 0; d < dirs; d++) {
            nb_tensor *wi = m->params[p].t, *wh = m->params[p + 1].t, *bi = m->params[p + 2].t,
                      *bh = m->params[p + 3].t;
            p += 4;
            nb_tensor *h = nb_zeros(ctx, NB_F32, NB_SHAPE(N, H)), *c = nb_zeros(ctx, NB_F32, NB_SHAPE(N, H)),
                      *st[16];
            for (int64_t s = 0; s < T; s++) {
                const int64_t t = d ? T - 1 - s : s;
                nb_tensor *xt = nb_squeeze(nb_narrow(seq, 0, t, 1), 0);
                h = kind == 2   ? nb_lstm_cell(xt, h, c, wi, wh, bi, bh, &c)
                    : kind == 3 ? nb_gru_cell(xt, h, wi, wh, bi, bh)
                                : nb_rnn_cell(xt, h, wi, wh, bi, bh, false);
                st[t] = h;
            }
            outs[d] = nb_stack(st, (int)T, 0);
            last[l * dirs + d] = h;
        }
        seq = dirs == 2 ? nb_cat(outs, 2, 2) : outs[0];
    }
    *hn = nb_stack(last, layers * dirs, 0);
    return seq;
}

START_TEST(layers_against_cells) {
    const int kind = _i; /* 0 RNN, 2 LSTM, 3 GRU */
    if (kind == 1) return;
    const int64_t T = 6, N = 2, I = 5, H = 3;
    const nb_rnn_opts o = {.num_layers = 2, .bidirectional = true};
    nb_module *m = kind == 2   ? nb_lstm_new(ctx, I, H, &o, &rng)
                   : kind == 3 ? nb_gru_new(ctx, I, H, &o, &rng)
                               : nb_rnn_new(ctx, I, H, &o, &rng);
    ck_assert_msg(m != NULL, "%s", nb_last_error());
    ck_assert_int_eq(m->n_params, 16);
    nb_tensor *x = rn(NB_SHAPE(T, N, I)), *hn = NULL, *cn = NULL, *hn_ref = NULL;
    nb_tensor *y = nb_rnn_run(m, x, NULL, NULL, &hn, &cn);
    ck_assert_msg(y && y->shape[0] == T && y->shape[1] == N && y->shape[2] == 2 * H, "%s", nb_last_error());
    ck_assert(hn && hn->shape[0] == 4 && hn->shape[1] == N && hn->shape[2] == H);
    ck_assert(kind == 2 ? cn != NULL : cn == NULL);
    nb_tensor *ref = by_hand(m, kind, x, 2, 2, H, &hn_ref);
    NB_ASSERT_CLOSE(y, ref, 1e-6, "outputs");
    NB_ASSERT_CLOSE(hn, hn_ref, 1e-6, "h_n");
    /* the forward of the module is the run from zero states */
    NB_ASSERT_CLOSE(nb_module_forward(m, x), y, 0, "forward");
    /* batch_first reads and writes [N,T,...]; unbatched [T,in] is one sequence */
    nb_rnn_opts ob = o;
    ob.batch_first = true;
    nb_module *mb = kind == 2   ? nb_lstm_new(ctx, I, H, &ob, &rng)
                    : kind == 3 ? nb_gru_new(ctx, I, H, &ob, &rng)
                                : nb_rnn_new(ctx, I, H, &ob, &rng);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(nb_module_set_param(mb, m->params[i].name, m->params[i].t), 0);
    NB_ASSERT_CLOSE(nb_rnn_run(mb, nb_transpose(x, 0, 1), NULL, NULL, NULL, NULL), nb_transpose(y, 0, 1),
                    1e-6, "batch_first");
    nb_tensor *hu = NULL, *yu = nb_rnn_run(m, nb_squeeze(nb_narrow(x, 1, 1, 1), 1), NULL, NULL, &hu, NULL);
    ck_assert_msg(yu && yu->ndim == 2 && hu && hu->ndim == 2, "%s", nb_last_error());
    NB_ASSERT_CLOSE(yu, nb_narrow(y, 1, 1, 1), 1e-6, "unbatched");
    nb_module_free(m);
    nb_module_free(mb);
}
END_TEST

/* torch's state_dict names and shapes, so a torch checkpoint loads by name */
START_TEST(torch_names) {
    nb_module *m = nb_lstm_new(ctx, 10, 20, &(nb_rnn_opts){.num_layers = 2, .bidirectional = true}, &rng);
    ck_assert(m != NULL);
    const char *want[] = {"weight_ih_l0",       "weight_hh_l0",         "bias_ih_l0",
                          "bias_hh_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                          "bias_ih_l0_reverse", "bias_hh_l0_reverse",   "weight_ih_l1",
                          "weight_hh_l1",       "bias_ih_l1",           "bias_hh_l1"};
    for (int i = 0; i < 12; i++)
        ck_assert_str_eq(m->params[i].name, want[i]);
    ck_assert(m->params[0].t->shape[0] == 80 && m->params[0].t->shape[1] == 10);
    ck_assert(m->params[8].t->shape[0] == 80 && m->params[8].t->shape[1] == 40); /* both directions in */
    const float bound = 1.0f / sqrtf(20.0f);
    for (int i = 0; i < m->n_params; i++)
        for (int64_t k = 0; k < nb_numel(m->params[i].t); k++)
            ck_assert(fabsf(F(m->params[i].t, k)) <= bound);
    nb_module_free(m);
    nb_module *g = nb_gru_new(ctx, 3, 4, &(nb_rnn_opts){.no_bias = true}, &rng);
    ck_assert(g && g->n_params == 2 && g->params[1].t->shape[0] == 12);
    nb_module_free(g);
    /* proj_size: weight_hr_l{k} [proj, hidden] after the biases, weight_hh [4 hidden, proj], the
     * next layer reads both directions' projections */
    nb_module *p =
        nb_lstm_new(ctx, 3, 6, &(nb_rnn_opts){.num_layers = 2, .bidirectional = true, .proj_size = 2}, &rng);
    ck_assert_msg(p && p->n_params == 20, "%s", nb_last_error());
    ck_assert_str_eq(p->params[4].name, "weight_hr_l0");
    ck_assert_str_eq(p->params[9].name, "weight_hr_l0_reverse");
    ck_assert(p->params[4].t->shape[0] == 2 && p->params[4].t->shape[1] == 6);
    ck_assert(p->params[1].t->shape[0] == 24 && p->params[1].t->shape[1] == 2);
    ck_assert(p->params[10].t->shape[1] == 4); /* weight_ih_l1: 2 directions x 2 */
    nb_tensor *hn = NULL, *cn = NULL, *y = nb_rnn_run(p, rn(NB_SHAPE(5, 3, 3)), NULL, NULL, &hn, &cn);
    ck_assert_msg(y && y->shape[2] == 4 && hn->shape[2] == 2 && cn->shape[2] == 6, "%s", nb_last_error());
    ck_assert_ptr_null(nb_rnn_run(p, rn(NB_SHAPE(5, 3, 3)), rn(NB_SHAPE(4, 3, 6)), NULL, NULL, NULL));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "h0 [4,3,6] does not match"));
    nb_module_free(p);
    ck_assert_ptr_null(nb_lstm_new(ctx, 3, 6, &(nb_rnn_opts){.proj_size = 6}, &rng));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "proj_size 6 must be in [0, hidden 6)"));
    ck_assert_ptr_null(nb_gru_new(ctx, 3, 6, &(nb_rnn_opts){.proj_size = 2}, &rng));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "proj_size applies to nb_lstm_new only"));
}
END_TEST

static nb_module *gc_mod;
static nb_tensor *gc_run(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *hn = NULL, *cn = NULL;
    nb_tensor *y = nb_rnn_run(gc_mod, in[0], in[1], in[2], &hn, &cn);
    return y ? nb_cat((nb_tensor *[]){nb_reshape(y, NB_SHAPE(-1)), nb_reshape(hn, NB_SHAPE(-1)),
                                      nb_reshape(cn, NB_SHAPE(-1))},
                      3, 0)
             : NULL;
}

static nb_tensor *gc_x;
static nb_tensor *gc_weights(nb_tensor **in, int n, void *u) {
    (void)in, (void)n, (void)u; /* in[] are the module's parameters */
    return nb_module_forward(gc_mod, gc_x);
}

/* gradients through time: the input sequence, the initial states and (as leaves) the weights */
START_TEST(layer_gradients) {
    gc_mod = nb_lstm_new(ctx, 3, 2, &(nb_rnn_opts){.num_layers = 2, .bidirectional = true}, &rng);
    ck_assert(gc_mod != NULL);
    nb_tensor *in[3] = {rn(NB_SHAPE(4, 2, 3)), rn(NB_SHAPE(4, 2, 2)), rn(NB_SHAPE(4, 2, 2))};
    for (int i = 0; i < 3; i++)
        nb_requires_grad_(in[i], true);
    ck_assert_msg(nb_gradcheck(gc_run, in, 3, NULL, NULL) == 1, "%s", nb_last_error());
    /* the weights' gradients: gradcheck perturbs the module's own parameter tensors in place */
    gc_x = in[0];
    nb_tensor *w[3] = {gc_mod->params[1].t, gc_mod->params[6].t, gc_mod->params[8].t}; /* weight_hh_l0,
                                                                  bias_ih_l0_reverse, weight_ih_l1 */
    ck_assert_msg(nb_gradcheck(gc_weights, w, 3, NULL, NULL) == 1, "%s", nb_last_error());
    nb_module_free(gc_mod);
    /* with proj_size: through the projection, its weight included */
    gc_mod = nb_lstm_new(ctx, 3, 3, &(nb_rnn_opts){.bidirectional = true, .proj_size = 2}, &rng);
    nb_tensor *pin[3] = {rn(NB_SHAPE(4, 2, 3)), rn(NB_SHAPE(2, 2, 2)), rn(NB_SHAPE(2, 2, 3))};
    for (int i = 0; i < 3; i++)
        nb_requires_grad_(pin[i], true);
    ck_assert_msg(nb_gradcheck(gc_run, pin, 3, NULL, NULL) == 1, "proj: %s", nb_last_error());
    gc_x = pin[0];
    nb_tensor *pw[2] = {gc_mod->params[4].t, gc_mod->params[1].t}; /* weight_hr_l0, weight_hh_l0 */
    ck_assert_msg(nb_gradcheck(gc_weights, pw, 2, NULL, NULL) == 1, "proj weights: %s", nb_last_error());
    nb_module_free(gc_mod);
}
END_TEST

START_TEST(dropout_between_layers) {
    nb_module *m = nb_gru_new(ctx, 4, 8, &(nb_rnn_opts){.num_layers = 3, .dropout = 0.5f}, &rng);
    ck_assert(m != NULL);
    nb_module_seed(m, 3);
    nb_tensor *x = rn(NB_SHAPE(5, 2, 4));
    nb_tensor *a = nb_module_forward(m, x), *b = nb_module_forward(m, x);
    nb_module_train(m, false);
    nb_tensor *e1 = nb_module_forward(m, x), *e2 = nb_module_forward(m, x);
    ck_assert(a && b && e1 && e2);
    double da = 0, de = 0;
    for (int64_t i = 0; i < nb_numel(a); i++)
        da += fabs(F(a, i) - F(b, i)), de += fabs(F(e1, i) - F(e2, i));
    ck_assert_msg(da > 1e-3, "training runs draw different masks (difference %g)", da);
    ck_assert_msg(de == 0, "eval runs are deterministic (difference %g)", de);
    nb_module_free(m);
}
END_TEST

START_TEST(errors) {
    nb_module *m = nb_lstm_new(ctx, 4, 3, &(nb_rnn_opts){.num_layers = 2}, &rng);
    ck_assert(m != NULL);
    nb_tensor *x = rn(NB_SHAPE(5, 2, 4));
    ck_assert_ptr_null(nb_rnn_run(m, rn(NB_SHAPE(5, 2, 6)), NULL, NULL, NULL, NULL));
    ERR_STARTS("LSTM: want input [T,N,4] (batch_first: [N,T,4]) or [T,4], got [5,2,6]");
    ck_assert_ptr_null(nb_rnn_run(m, x, rn(NB_SHAPE(1, 2, 3)), NULL, NULL, NULL));
    ERR_STARTS("LSTM: h0 [1,2,3] does not match [layers*directions, N, hidden] = [2,2,3]");
    ck_assert_ptr_null(nb_rnn_run(m, x, NULL, rn(NB_SHAPE(2, 3, 3)), NULL, NULL));
    ERR_STARTS("LSTM: c0 [2,3,3] does not match");
    ck_assert_ptr_null(nb_rnn_run(m, nb_zeros(ctx, NB_F32, NB_SHAPE(0, 2, 4)), NULL, NULL, NULL, NULL));
    ERR_STARTS("LSTM: the input [0,2,4] has no time steps");
    nb_module *lin = nb_linear_new(ctx, 2, 2, true, &rng);
    ck_assert_ptr_null(nb_rnn_run(lin, x, NULL, NULL, NULL, NULL));
    ERR_STARTS("rnn_run: not an RNN, LSTM or GRU module");
    nb_module_free(lin);
    nb_module *g = nb_gru_new(ctx, 4, 3, NULL, &rng);
    ck_assert_ptr_null(nb_rnn_run(g, x, NULL, rn(NB_SHAPE(1, 2, 3)), NULL, NULL));
    ERR_STARTS("GRU: only an LSTM has a cell state");
    ck_assert_ptr_null(nb_gru_new(ctx, 4, 0, NULL, &rng));
    ERR_STARTS("gru_new: hidden size 0 must be in [1, 268435455]");
    ck_assert_ptr_null(nb_lstm_new(ctx, 4, (int64_t)1 << 62, NULL, &rng)); /* no overflow on the way */
    ERR_STARTS("lstm_new: hidden size 4611686018427387904 must be in [1, 268435455]");
    ck_assert_ptr_null(nb_lstm_new(ctx, 4, 3, &(nb_rnn_opts){.dropout = 1.0f}, &rng));
    ERR_STARTS("lstm_new: dropout 1 must be in [0, 1)");
    ck_assert_ptr_null(nb_lstm_new(ctx, 4, 3, &(nb_rnn_opts){.num_layers = -2}, &rng));
    ERR_STARTS("lstm_new: -2 layers (want at least 1)");
    /* unbatched inputs: the messages show the caller's shapes */
    ck_assert_ptr_null(nb_rnn_run(m, rn(NB_SHAPE(6, 3)), NULL, NULL, NULL, NULL));
    ERR_STARTS("LSTM: want input [T,N,4] (batch_first: [N,T,4]) or [T,4], got [6,3]");
    ck_assert_ptr_null(nb_rnn_run(m, rn(NB_SHAPE(6, 4)), rn(NB_SHAPE(2, 5)), NULL, NULL, NULL));
    ERR_STARTS("LSTM: h0 [2,5]: an unbatched input [T,in] wants states [layers*directions, hidden] = [2,3]");
    /* a NULL state in a cell is zeros, as torch's hx=None */
    nb_tensor *cx = rn(NB_SHAPE(2, 4)), *cw = rn(NB_SHAPE(9, 4)), *ch = rn(NB_SHAPE(9, 3));
    nb_tensor *g0 = nb_gru_cell(cx, NULL, cw, ch, NULL, NULL),
              *g1 = nb_gru_cell(cx, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3)), cw, ch, NULL, NULL);
    NB_ASSERT_CLOSE(g0, g1, 0, "gru_cell with a NULL state");
    ck_assert_ptr_null(nb_lstm_new(ctx, 4, 3, &(nb_rnn_opts){.relu = true}, &rng));
    ERR_STARTS("lstm_new: relu applies to nb_rnn_new only");
    nb_tensor *h = rn(NB_SHAPE(2, 3)), *c2 = NULL;
    ck_assert_ptr_null(
        nb_lstm_cell(rn(NB_SHAPE(2, 4)), h, h, rn(NB_SHAPE(10, 4)), rn(NB_SHAPE(10, 3)), NULL, NULL, &c2));
    ERR_STARTS(
        "lstm_cell: weights [10,4] and [10,3] do not fit input [2,4] and hidden state [2,3] (want [4*H, in]");
    ck_assert_ptr_null(
        nb_gru_cell(rn(NB_SHAPE(3, 4)), h, rn(NB_SHAPE(9, 4)), rn(NB_SHAPE(9, 3)), NULL, NULL));
    ERR_STARTS("gru_cell: want input [N,in] and hidden state [N,H] (or [in] and [H]), got [3,4] and [2,3]");
    ck_assert_ptr_null(nb_rnn_cell(rn(NB_SHAPE(2, 4)), h, rn(NB_SHAPE(3, 4)), rn(NB_SHAPE(3, 3)),
                                   rn(NB_SHAPE(4)), NULL, false));
    ERR_STARTS("rnn_cell: bias_ih [4] does not match 1*H = 3");
    nb_module_free(m);
    nb_module_free(g);
}
END_TEST

/* an LSTM learns to output its input from 3 steps back: impossible without memory */
/* sequences of different lengths in one padded batch give what each gives alone (cut to its
 * length): the outputs inside each length, zeros after it, and h_n / c_n at its last step, for
 * a 2-layer bidirectional LSTM and GRU, time-major and batch_first; the gradient flows only
 * through the steps inside the lengths */
START_TEST(lengths_match_each_sequence_alone) {
    const int32_t lens[3] = {4, 7, 1};
    for (int kind = 0; kind < 2; kind++)
        for (int bf = 0; bf < 2; bf++) {
            const nb_rnn_opts o = {.num_layers = 2, .bidirectional = true, .batch_first = bf != 0};
            nb_module *m = kind ? nb_gru_new(ctx, 3, 4, &o, &rng) : nb_lstm_new(ctx, 3, 4, &o, &rng);
            nb_tensor *x = nb_requires_grad_(bf ? rn(NB_SHAPE(3, 7, 3)) : rn(NB_SHAPE(7, 3, 3)), true);
            nb_tensor *len = nb_from_data(ctx, NB_I32, NB_SHAPE(3), lens), *hn = NULL, *cn = NULL;
            nb_tensor *y = nb_rnn_run_lengths(m, x, len, NULL, NULL, &hn, kind ? NULL : &cn);
            ck_assert_msg(y && hn, "%s", nb_last_error());
            ck_assert_int_eq(nb_backward(nb_sum_all(y)), 0);
            for (int b = 0; b < 3; b++) {
                nb_tensor *xb = bf ? nb_narrow(nb_narrow(x, 0, b, 1), 1, 0, lens[b])
                                   : nb_narrow(nb_narrow(x, 1, b, 1), 0, 0, lens[b]);
                nb_tensor *hb = NULL, *cb = NULL,
                          *yb = nb_rnn_run(m, nb_detach(xb), NULL, NULL, &hb, kind ? NULL : &cb);
                ck_assert_msg(yb != NULL, "%s", nb_last_error());
                for (int t = 0; t < 7; t++)
                    for (int j = 0; j < 8; j++) {
                        const float got = nb_get(y, bf ? (int64_t[]){b, t, j} : (int64_t[]){t, b, j});
                        const float want =
                            t < lens[b] ? nb_get(yb, bf ? (int64_t[]){0, t, j} : (int64_t[]){t, 0, j}) : 0;
                        ck_assert_msg(fabsf(got - want) < 1e-6f, "kind %d bf %d seq %d step %d: %g, want %g",
                                      kind, bf, b, t, (double)got, (double)want);
                    }
                for (int k = 0; k < 4; k++)
                    for (int j = 0; j < 4; j++) {
                        ck_assert(fabs(nb_get(hn, (int64_t[]){k, b, j}) - nb_get(hb, (int64_t[]){k, 0, j})) <
                                  1e-6f);
                        if (!kind)
                            ck_assert(fabs(nb_get(cn, (int64_t[]){k, b, j}) -
                                           nb_get(cb, (int64_t[]){k, 0, j})) < 1e-6f);
                    }
                for (int t = lens[b]; t < 7; t++) /* padded inputs get no gradient */
                    for (int j = 0; j < 3; j++)
                        ck_assert_float_eq(nb_get(x->grad, bf ? (int64_t[]){b, t, j} : (int64_t[]){t, b, j}),
                                           0.0f);
            }
            ck_assert_ptr_null(
                nb_rnn_run_lengths(m, x, nb_from_data(ctx, NB_I32, NB_SHAPE(3), (const int32_t[]){4, 8, 1}),
                                   NULL, NULL, NULL, NULL));
            ck_assert_ptr_nonnull(strstr(nb_last_error(), "length 8 of sequence 1 is outside [1, 7]"));
            ck_assert_ptr_null(
                nb_rnn_run_lengths(m, x, nb_zeros(ctx, NB_I32, NB_SHAPE(2)), NULL, NULL, NULL, NULL));
            ck_assert_ptr_nonnull(strstr(nb_last_error(), "want i32 [N] = [3]"));
            nb_module_free(m);
        }
}
END_TEST

START_TEST(lstm_learns_a_delay) {
    nb_ctx *params = nb_ctx_new(1 << 20), *step = nb_ctx_new(8 << 20);
    nb_module *lstm = nb_lstm_new(params, 1, 16, &(nb_rnn_opts){.batch_first = true}, &rng);
    nb_module *head = nb_linear_new(params, 16, 1, true, &rng);
    nb_optim *opt = nb_adamw_new(params, 1e-2f, 0.9f, 0.999f, 1e-8f);
    ck_assert(lstm && head && opt && !nb_optim_add_module(opt, lstm, 0) &&
              !nb_optim_add_module(opt, head, 0));
    const int64_t B = 16, T = 12;
    double first = 0, last = 0;
    nb_ctx_use(step);
    for (int it = 0; it < 300; it++) {
        nb_ctx_reset(step);
        nb_tensor *x = nb_randn(step, NB_SHAPE(B, T, 1), 0, 1, &rng);
        /* target[t] = x[t - 3], 0 before */
        nb_tensor *y = nb_pad(nb_narrow(x, 1, 0, T - 3), 4, (const int64_t[]){0, 0, 3, 0}, 0.0);
        nb_tensor *l = nb_mse_loss(nb_module_forward(head, nb_module_forward(lstm, x)), y, NB_REDUCE_MEAN);
        ck_assert_msg(l && nb_backward(l) == 0, "%s", nb_last_error());
        if (it < 10) first += nb_item(l) / 10;
        if (it >= 290) last += nb_item(l) / 10;
        ck_assert_int_eq(nb_optim_step(opt), 0);
        nb_optim_zero_grad(opt);
    }
    nb_ctx_use(ctx);
    ck_assert_msg(last < first / 10, "loss %.4f -> %.4f: want a tenfold drop", first, last);
    nb_optim_free(opt);
    nb_module_free(lstm);
    nb_module_free(head);
    nb_ctx_free(step);
    nb_ctx_free(params);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_rnn");
    TCase *tc = tcase_create("rnn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cells_against_equations);
    tcase_add_test(tc, cell_gradients);
    tcase_add_loop_test(tc, layers_against_cells, 0, 4);
    tcase_add_test(tc, torch_names);
    tcase_add_test(tc, layer_gradients);
    tcase_add_test(tc, dropout_between_layers);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, lengths_match_each_sequence_alone);
    tcase_add_test(tc, lstm_learns_a_delay);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
