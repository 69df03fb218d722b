/* generate.h - sampling from Baby GPT: temperature, top-k, top-p, a KV cache
 * so each new token costs one position, stop strings, and a sliding window
 * when the text outgrows the context. */
#ifndef BG_GENERATE_H
#define BG_GENERATE_H

#include "examples/babygpt/model.h"
#include "examples/babygpt/tokenizer.h"

typedef struct {
    float temperature; /* 0: greedy (argmax) */
    int top_k;         /* 0: off */
    float top_p;       /* 1: off */
    int max_tokens;    /* new tokens at most */
} bg_sample_opts;

/* Defaults: temperature 0.8, top_k 50, top_p 0.95, max_tokens 200. */
bg_sample_opts bg_sample_defaults(void);
/* Checks the ranges; 0, or -1 with a message naming the bad setting. */
int bg_sample_opts_check(const bg_sample_opts *o, char *err, size_t errlen);

/* Picks a token from logits[V] (modified in place) with o's settings and rng.
 * scratch must hold 2*V floats. Returns the token id. */
int32_t bg_sample_token(float *logits, int V, const bg_sample_opts *o, nb_rng *rng, float *scratch);

/* Receives each generated piece of text (bytes of one token, possibly part of
 * a UTF-8 character); return non-zero to stop generating. */
typedef int (*bg_piece_fn)(void *user, const char *bytes, size_t len);

typedef struct {
    const char *const *stop; /* stop strings (not included in the output), NULL-terminated; may be NULL */
    bool stop_at_eot;        /* stop at <|endoftext|> (default true) */
    bg_piece_fn on_piece;    /* streaming callback, may be NULL */
    void *user;
    bool no_cache;           /* recompute the whole context for each token (for tests) */
    volatile int *cancel;    /* when non-NULL and set, stop */
} bg_gen_opts;

/* Generates a continuation of `prompt` (ids). Returns the generated text
 * (malloc'd, NUL-terminated, stop string cut off) and, when ids/n_ids are
 * given, the generated ids (malloc'd). NULL with a message in err. */
char *bg_generate(bg_model *m, const bg_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                  const bg_sample_opts *so, const bg_gen_opts *go, nb_rng *rng, int32_t **ids, size_t *n_ids,
                  char *err, size_t errlen);

/* Same, from a text prompt. */
char *bg_generate_text(bg_model *m, const bg_tokenizer *tok, const char *prompt, const bg_sample_opts *so,
                       const bg_gen_opts *go, nb_rng *rng, char *err, size_t errlen);

#endif
