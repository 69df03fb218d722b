/* generate.c - sampling and KV-cached generation for Baby GPT. */
#include "examples/babygpt/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bg_sample_opts bg_sample_defaults(void) { return (bg_sample_opts){0.8f, 50, 0.95f, 200}; }

int bg_sample_opts_check(const bg_sample_opts *o, char *err, size_t errlen) {
    if (!(o->temperature >= 0 && o->temperature <= 10)) {
        snprintf(err, errlen, "temperature must be in [0, 10], got %g", (double)o->temperature);
        return -1;
    }
    if (o->top_k < 0) {
        snprintf(err, errlen, "top-k must be >= 0, got %d", o->top_k);
        return -1;
    }
    if (!(o->top_p > 0 && o->top_p <= 1)) {
        snprintf(err, errlen, "top-p must be in (0, 1], got %g", (double)o->top_p);
        return -1;
    }
    if (o->max_tokens < 1 || o->max_tokens > 100000) {
        snprintf(err, errlen, "max-tokens must be in [1, 100000], got %d", o->max_tokens);
        return -1;
    }
    return 0;
}

static int cmp_desc(const void *a, const void *b) {
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    if (x != y) return x < y ? 1 : -1;
    float i = ((const float *)a)[1], j = ((const float *)b)[1];
    return i < j ? -1 : i > j;
}

int32_t bg_sample_token(float *logits, int V, const bg_sample_opts *o, nb_rng *rng, float *scratch) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (o->temperature <= 0) return best;
    /* (probability, id) pairs sorted by probability */
    float *pairs = scratch;
    float mx = logits[best];
    double sum = 0;
    for (int i = 0; i < V; i++) {
        float p = expf((logits[i] - mx) / o->temperature);
        pairs[2 * i] = p;
        pairs[2 * i + 1] = (float)i;
        sum += p;
    }
    qsort(pairs, (size_t)V, 2 * sizeof(float), cmp_desc);
    int keep = V;
    if (o->top_k > 0 && o->top_k < keep) keep = o->top_k;
    double kept = 0;
    for (int i = 0; i < keep; i++) kept += pairs[2 * i];
    if (o->top_p < 1) {
        double c = 0;
        for (int i = 0; i < keep; i++) {
            c += pairs[2 * i] / kept;
            if (c >= o->top_p) {
                keep = i + 1;
                break;
            }
        }
        kept = 0;
        for (int i = 0; i < keep; i++) kept += pairs[2 * i];
    }
    (void)sum;
    double u = (double)nb_rng_uniform(rng) * kept, c = 0;
    for (int i = 0; i < keep; i++) {
        c += pairs[2 * i];
        if (u < c) return (int32_t)pairs[2 * i + 1];
    }
    return (int32_t)pairs[2 * (keep - 1) + 1];
}

/* Logits of the next token after ids[0..n) using (and updating) the cache,
 * sliding the window when it is full. Returns logits [V] in the current ctx. */
static nb_tensor *next_logits(bg_model *m, bg_kv *kv, const int32_t *ids, size_t n, size_t *fed, bool no_cache) {
    int block = m->cfg.block_size;
    if (no_cache) {
        size_t start = n > (size_t)block ? n - (size_t)block : 0;
        nb_tensor *idx = nb_from_data(nb_ctx_current(), NB_I32, NB_SHAPE(1, (int64_t)(n - start)), ids + start);
        if (idx && idx->device != m->pos->device) idx = nb_to_device(nb_ctx_current(), idx, m->pos->device);
        nb_tensor *lg = bg_model_forward(m, idx);
        if (!lg) return NULL;
        return nb_reshape(nb_narrow(lg, 1, (int64_t)(n - start) - 1, 1), NB_SHAPE(-1));
    }
    if ((size_t)kv->len + (n - *fed) > (size_t)block) {
        /* the new tokens do not fit: restart the cache on the last half of the window */
        size_t keep = (size_t)block / 2;
        if (keep > n) keep = n;
        kv->len = 0;
        *fed = n - keep;
    }
    const int32_t *p = ids + *fed;
    size_t todo = n - *fed;
    nb_tensor *lg = bg_model_step(m, kv, p, (int)todo);
    *fed = n;
    return lg;
}

char *bg_generate(bg_model *m, const bg_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                  const bg_sample_opts *so, const bg_gen_opts *go, nb_rng *rng, int32_t **out_ids,
                  size_t *n_out, char *err, size_t errlen) {
    bg_gen_opts defaults = {NULL, true, NULL, NULL, false, NULL};
    if (!go) go = &defaults;
    if (bg_sample_opts_check(so, err, errlen)) return NULL;
    if (n_prompt == 0) {
        snprintf(err, errlen, "generate: empty prompt");
        return NULL;
    }
    int V = m->cfg.vocab_size;
    size_t cap = n_prompt + (size_t)so->max_tokens;
    int32_t *ids = malloc(cap * sizeof *ids);
    float *logits = malloc((size_t)V * 3 * sizeof(float));
    size_t tcap = 256, tlen = 0;
    char *text = malloc(tcap);
    bg_kv *kv = go->no_cache ? NULL : bg_kv_new(m);
    nb_ctx *step = nb_ctx_new(0);
    if (!ids || !logits || !text || (!go->no_cache && !kv) || !step) {
        snprintf(err, errlen, "generate: out of memory");
        goto fail;
    }
    memcpy(ids, prompt, n_prompt * sizeof *ids);
    size_t n = n_prompt, fed = 0, n_new = 0, emitted = 0;
    text[0] = '\0';
    nb_ctx *prev = nb_ctx_use(step);
    bool grad = nb_no_grad_begin();
    bool training = m->root->training;
    if (training) nb_module_train(m->root, false); /* an eval-mode model is never written to */
    int32_t eot = bg_tokenizer_eot(tok);
    int failed = 0;
    size_t max_stop = 0;
    for (const char *const *s = go->stop; s && *s; s++)
        if (strlen(*s) > max_stop) max_stop = strlen(*s);
    while (n_new < (size_t)so->max_tokens) {
        if (go->cancel && *go->cancel) break;
        nb_tensor *lg = next_logits(m, kv, ids, n, &fed, go->no_cache);
        if (!lg || nb_to_array(lg, NB_F32, logits)) {
            snprintf(err, errlen, "generate: %s", nb_last_error());
            failed = 1;
            break;
        }
        nb_ctx_reset(step);
        int32_t t = bg_sample_token(logits, V, so, rng, logits + V);
        if (t == eot && go->stop_at_eot) break;
        ids[n++] = t;
        n_new++;
        size_t bl;
        const char *b = bg_tokenizer_token_bytes(tok, t, &bl);
        if (!b) bl = 0;
        if (tlen + bl + 1 > tcap) {
            while (tlen + bl + 1 > tcap) tcap *= 2;
            char *nt = realloc(text, tcap);
            if (!nt) {
                snprintf(err, errlen, "generate: out of memory");
                failed = 1;
                break;
            }
            text = nt;
        }
        memcpy(text + tlen, b, bl);
        tlen += bl;
        text[tlen] = '\0';
        /* a stop string ends the text; cut it off */
        bool stopped = false;
        for (const char *const *s = go->stop; s && *s && !stopped; s++) {
            char *hit = strstr(text + (emitted > max_stop ? emitted - max_stop : 0), *s);
            if (hit) {
                tlen = (size_t)(hit - text);
                text[tlen] = '\0';
                stopped = true;
            }
        }
        /* stream what can no longer be the start of a stop string */
        size_t safe = stopped ? tlen : (tlen > max_stop ? tlen - max_stop : 0);
        if (max_stop == 0) safe = tlen;
        if (go->on_piece && safe > emitted) {
            if (go->on_piece(go->user, text + emitted, safe - emitted)) stopped = true;
            emitted = safe;
        }
        if (stopped) break;
    }
    if (!failed && go->on_piece && tlen > emitted) go->on_piece(go->user, text + emitted, tlen - emitted);
    if (training) nb_module_train(m->root, true);
    nb_no_grad_end(grad);
    nb_ctx_use(prev);
    nb_ctx_free(step);
    bg_kv_free(kv);
    free(logits);
    if (failed) {
        free(ids);
        free(text);
        return NULL;
    }
    if (out_ids) {
        memmove(ids, ids + n_prompt, (n - n_prompt) * sizeof *ids);
        *out_ids = ids;
        *n_out = n - n_prompt;
    } else {
        free(ids);
    }
    return text;
fail:
    free(ids);
    free(logits);
    free(text);
    bg_kv_free(kv);
    nb_ctx_free(step);
    return NULL;
}

char *bg_generate_text(bg_model *m, const bg_tokenizer *tok, const char *prompt, const bg_sample_opts *so,
                       const bg_gen_opts *go, nb_rng *rng, char *err, size_t errlen) {
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = bg_tokenizer_encode(tok, prompt, strlen(prompt), 1, &ids, &n);
    if (rc) {
        snprintf(err, errlen, "tokenizing the prompt: %s", bg_tokenizer_strerror(rc));
        return NULL;
    }
    char *out = bg_generate(m, tok, ids, n, so, go, rng, NULL, NULL, err, errlen);
    free(ids);
    return out;
}
