/* model.h - the Baby GPT model: a decoder-only transformer built from
 * nabla's nn modules (token + learned position embeddings, pre-LayerNorm
 * blocks of causal self-attention and a 4x GELU MLP, final LayerNorm, and an
 * lm_head tied to the token embedding). */
#ifndef BG_MODEL_H
#define BG_MODEL_H

#include <nabla.h>

/* A fixed configuration (see docs/babygpt.md for each with its size). */
typedef struct {
    char name[32];
    int n_layer, n_head, n_embd, block_size;
    int vocab_size;
    float dropout;
    int batch;  /* default batch size */
    float lr;   /* default peak learning rate */
    int steps;  /* default number of steps */
} bg_config;

/* The named config ("tiny", "small", "safe-pro") for a vocabulary size.
 * 0, or -1 with a message in err for an unknown name. */
int bg_config_get(const char *name, int vocab_size, bg_config *out, char *err, size_t errlen);
/* The configuration as one line of JSON (malloc'd; caller frees). */
char *bg_config_to_json(const bg_config *c);
/* Parses what bg_config_to_json wrote. 0, or -1 with a message. */
int bg_config_from_json(const char *json, bg_config *out, char *err, size_t errlen);

typedef struct bg_model {
    bg_config cfg;
    nb_ctx *ctx;      /* parameters, gradients, optimiser state */
    nb_module *root;  /* "GPT": wte, wpe, drop, blocks.N, ln_f, lm_head (tied) */
    nb_tensor *pos;   /* i32 [block_size] = 0..block_size-1, in ctx */
} bg_model;

/* A new model with GPT-2 initialisation from `seed`. NULL + message in err. */
bg_model *bg_model_new(const bg_config *cfg, uint64_t seed, char *err, size_t errlen);
/* Moves the model's parameters and its position table to dev; 0, or -1 with nb_last_error. */
int bg_model_to(bg_model *m, nb_device dev);
/* Frees the model and its parameters. NULL-safe. */
void bg_model_free(bg_model *m);
/* Logits [B,T,V] for i32 tokens [B,T] (T <= block_size), in the current
 * context. NULL with nb_last_error() on error. */
nb_tensor *bg_model_forward(bg_model *m, nb_tensor *idx);
/* Mean cross-entropy of the model on (x, y), both i32 [B,T]. */
nb_tensor *bg_model_loss(bg_model *m, nb_tensor *x, nb_tensor *y);

/* ---- Generation with a key/value cache -------------------------------- */

/* Keys and values of every layer for one sequence, so that each new token
 * costs one position of compute. */
typedef struct bg_kv {
    nb_ctx *ctx;
    nb_tensor **k, **v; /* per layer [1,H,block,D] */
    int len;            /* positions filled */
} bg_kv;

/* A cache for m (one sequence). NULL on error. */
bg_kv *bg_kv_new(const bg_model *m);
/* Frees a cache. NULL-safe. */
void bg_kv_free(bg_kv *kv);
/* Feeds n tokens after the kv->len cached ones (kv->len + n <= block_size)
 * and returns the logits of the last one, [V], in the current context. */
nb_tensor *bg_model_step(bg_model *m, bg_kv *kv, const int32_t *tokens, int n);

#endif
