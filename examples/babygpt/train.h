/* train.h - training Baby GPT: batches, AdamW with warm-up + cosine decay,
 * clipping, periodic evaluation, loss.csv, loss.png, atomic checkpoints,
 * Ctrl-C handling and exact resume. */
#ifndef BG_TRAIN_H
#define BG_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *config;  /* tiny | small | safe-pro */
    const char *data;    /* DialogSum folder/file; NULL: built-in corpus */
    const char *vocab;   /* GPT-2 folder; NULL: train a BPE of bpe_size */
    int bpe_size;
    int steps, batch;    /* 0: the config's default */
    int accum;           /* micro-batches per step (gradient accumulation); 0: 1, or the resumed run's */
    float lr;            /* 0: the config's default */
    int eval_every, eval_batches;
    const char *out;
    uint64_t seed;
    bool seed_given; /* --seed was on the command line (a resumed run does not use it) */
    int threads;
    const char *device;  /* cpu | cuda */
    const char *resume;  /* checkpoint file or run folder */
    bool progress;       /* progress bar (when stderr is a terminal) */
    int stop_after;      /* stop cleanly (as on Ctrl-C) after this many steps of this run; 0: off */
    bool overwrite;      /* replace a run already in out (else that is an error) */
} bg_train_opts;

/* Runs a training as the options say; prints progress. Returns the process
 * exit status (0 on success or after a clean Ctrl-C stop). */
int bg_train(const bg_train_opts *o);


#endif
