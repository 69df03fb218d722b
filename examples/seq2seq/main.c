/* examples/seq2seq/main.c - an encoder-decoder Transformer in nabla, built from torch-style
 * layers: it learns to reverse sequences of 8 digits. The encoder (token + position embeddings,
 * two TransformerEncoderLayers) reads the digits; the decoder (two TransformerDecoderLayers,
 * causal over its own prefix, attending to the encoder's output) writes them back reversed,
 * one digit at a time, starting from a BOS token. Trained with teacher forcing, AdamW and
 * cross-entropy on fresh random sequences; then it decodes 256 held-out sequences greedily and
 * reports digit and whole-sequence accuracy. Exits non-zero below 90% of whole sequences right,
 * or when anything fails. No arguments. */
#include <stdio.h>
#include <stdlib.h>

#include "nabla.h"

#define LEN    8  /* digits per sequence */
#define VOCAB  11 /* 0-9 and BOS */
#define BOS    10
#define DIM    64
#define HEADS  4
#define FF     128
#define BATCH  64
#define STEPS  300
#define N_TEST 256

typedef struct {
    nb_module *root, *tok, *pos, *enc[2], *dec[2], *head;
} model;

/* token + position embeddings of idx [N, T] (i32) -> [N, T, DIM] */
static nb_tensor *embed(const model *m, nb_tensor *idx) {
    nb_tensor *pos = nb_arange(nb_ctx_current(), NB_I32, 0, (double)idx->shape[1], 1);
    return nb_add(nb_module_forward(m->tok, idx), nb_module_forward(m->pos, pos));
}

static nb_tensor *encode(const model *m, nb_tensor *src) {
    nb_tensor *x = embed(m, src);
    for (int i = 0; i < 2; i++)
        x = nb_encoder_layer_run(m->enc[i], x, NULL, NULL, false);
    return x;
}

/* logits [N, T, VOCAB] for each prefix of tgt_in [N, T] */
static nb_tensor *decode(const model *m, nb_tensor *tgt_in, nb_tensor *memory) {
    nb_tensor *y = embed(m, tgt_in);
    for (int i = 0; i < 2; i++)
        y = nb_decoder_layer_run(m->dec[i], y, memory, NULL, NULL, NULL, NULL, true);
    return nb_module_forward(m->head, y);
}

static int make_model(nb_ctx *ctx, nb_rng *rng, model *m) {
    const nb_transformer_opts o = {.batch_first = true, .norm_first = true};
    m->root = nb_module_new("Seq2Seq", ctx, NULL, 0);
    if (!m->root) return -1;
    static const char *enc[2] = {"enc0", "enc1"}, *dec[2] = {"dec0", "dec1"};
    int bad = nb_module_add(m->root, "tok", m->tok = nb_embedding_new(ctx, VOCAB, DIM, rng)) ||
              nb_module_add(m->root, "pos", m->pos = nb_embedding_new(ctx, LEN, DIM, rng)) ||
              nb_module_add(m->root, "head", m->head = nb_linear_new(ctx, DIM, VOCAB, true, rng));
    for (int i = 0; i < 2 && !bad; i++)
        bad =
            nb_module_add(m->root, enc[i],
                          m->enc[i] = nb_transformer_encoder_layer_new(ctx, DIM, HEADS, FF, 0.0f, &o, rng)) ||
            nb_module_add(m->root, dec[i],
                          m->dec[i] = nb_transformer_decoder_layer_new(ctx, DIM, HEADS, FF, 0.0f, &o, rng));
    return bad ? -1 : 0;
}

/* n random sequences [n, LEN], their reversal, and the decoder's input (BOS, then the
 * reversal shifted right) */
static int draw(nb_ctx *ctx, int n, nb_rng *rng, nb_tensor **src, nb_tensor **tgt, nb_tensor **tgt_in) {
    *src = nb_empty(ctx, NB_I32, NB_SHAPE(n, LEN));
    *tgt = nb_empty(ctx, NB_I32, NB_SHAPE(n, LEN));
    *tgt_in = nb_empty(ctx, NB_I32, NB_SHAPE(n, LEN));
    if (!*src || !*tgt || !*tgt_in) return -1;
    int32_t *s = nb_data(*src), *t = nb_data(*tgt), *ti = nb_data(*tgt_in);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < LEN; j++)
            s[i * LEN + j] = (int32_t)(nb_rng_uniform(rng) * 10) % 10;
        for (int j = 0; j < LEN; j++) {
            t[i * LEN + j] = s[i * LEN + LEN - 1 - j];
            ti[i * LEN + j] = j ? t[i * LEN + j - 1] : BOS;
        }
    }
    return 0;
}

int main(void) {
    int rc = EXIT_FAILURE;
    nb_ctx *params = nb_ctx_new(8 << 20), *data = nb_ctx_new(1 << 20), *step = nb_ctx_new(64 << 20);
    model m = {0};
    nb_optim *opt = NULL;
    nb_rng rng;
    nb_rng_init(&rng, 2027);
    if (!params || !data || !step || make_model(params, &rng, &m)) goto fail;
    opt = nb_adamw_new(params, 2e-3f, 0.9f, 0.98f, 1e-9f);
    if (!opt || nb_optim_add_module(opt, m.root, 0.01f)) goto fail;
    printf("seq2seq: reverse %d digits; %lld parameters\n", LEN, (long long)nb_module_num_params(m.root));

    nb_ctx_use(step);
    const nb_lr_schedule sched = nb_lr_warmup_linear(2e-3f, 1e-4f, 30, STEPS);
    for (int it = 0; it < STEPS; it++) {
        nb_ctx_reset(step);
        nb_tensor *src, *tgt, *tgt_in;
        if (draw(step, BATCH, &rng, &src, &tgt, &tgt_in)) goto fail;
        nb_tensor *logits = decode(&m, tgt_in, encode(&m, src));
        nb_tensor *l = nb_cross_entropy(logits, tgt, -100);
        if (!l || nb_backward(l)) goto fail;
        const double loss = nb_item(l);
        nb_optim_set_lr(opt, nb_lr_at(&sched, it));
        if (nb_optim_step(opt)) goto fail;
        nb_optim_zero_grad(opt);
        if (it % 50 == 0 || it == STEPS - 1) printf("step %3d  loss %.4f\n", it, loss);
    }

    /* greedy decoding of held-out sequences: the decoder reads BOS and the digits it chose so
     * far (in[i] = BOS, out[0], ..., out[t-1]) and picks digit t from its last position */
    nb_ctx_reset(step);
    nb_module_train(m.root, false);
    nb_tensor *src, *tgt, *unused;
    if (draw(data, N_TEST, &rng, &src, &tgt, &unused)) goto fail;
    const bool g = nb_no_grad_begin();
    nb_tensor *memory = encode(&m, src), *in = nb_full(data, NB_I32, NB_SHAPE(N_TEST, LEN), BOS);
    int32_t out[N_TEST * LEN];
    for (int t = 0; t < LEN; t++) {
        nb_tensor *logits =
            memory && in ? decode(&m, nb_narrow(in, 1, 0, t + 1), memory) : NULL; /* [N,t+1,V] */
        nb_tensor *next = logits ? nb_contiguous(nb_argmax(nb_narrow(logits, 1, t, 1), 2, false)) : NULL;
        if (!next) break;
        for (int i = 0; i < N_TEST; i++) {
            out[i * LEN + t] = ((const int32_t *)nb_data(next))[i];
            if (t + 1 < LEN) ((int32_t *)nb_data(in))[i * LEN + t + 1] = out[i * LEN + t];
        }
        if (t + 1 < LEN) continue;
        int right = 0, seq_right = 0;
        const int32_t *want = nb_data(tgt);
        for (int i = 0; i < N_TEST; i++) {
            int ok = 1;
            for (int j = 0; j < LEN; j++) {
                right += out[i * LEN + j] == want[i * LEN + j];
                ok &= out[i * LEN + j] == want[i * LEN + j];
            }
            seq_right += ok;
        }
        printf("held out: %.1f%% of digits, %.1f%% of whole sequences reversed right\n",
               100.0 * right / (N_TEST * LEN), 100.0 * seq_right / N_TEST);
        if (seq_right < N_TEST * 9 / 10) {
            fprintf(stderr, "seq2seq: fewer than 90%% of the sequences reversed right\n");
            break;
        }
        rc = EXIT_SUCCESS;
    }
    nb_no_grad_end(g);
    if (rc != EXIT_SUCCESS) goto fail;
    nb_ctx_use(NULL);
    goto done;
fail:
    if (rc != EXIT_SUCCESS && nb_last_error()[0]) fprintf(stderr, "seq2seq: %s\n", nb_last_error());
    nb_ctx_use(NULL);
done:
    nb_optim_free(opt);
    nb_module_free(m.root);
    nb_ctx_free(step);
    nb_ctx_free(data);
    nb_ctx_free(params);
    return rc;
}
