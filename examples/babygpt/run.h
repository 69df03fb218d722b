/* run.h - what the subcommands share: preparing a tokenized corpus (with a
 * disk cache) and loading a trained run (checkpoint + its tokenizer). */
#ifndef BG_RUN_H
#define BG_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "examples/babygpt/model.h"
#include "examples/babygpt/tokenizer.h"

typedef struct {
    bg_tokenizer *tok;
    int32_t *train, *val; /* token ids of each split's corpus (malloc'd) */
    size_t n_train, n_val;
    size_t docs_train, docs_val;
} bg_corpus;

/* Loads the data (`data`: a DialogSum folder or file; NULL: the built-in
 * corpus), gets a tokenizer (`vocab`: a GPT-2 folder; NULL: train a BPE of
 * `bpe_size` tokens on the training text), saves that tokenizer under
 * `tok_out` (may be NULL) and tokenizes both splits, through a disk cache.
 * 0, or -1 with a message. */
int bg_corpus_prepare(const char *data, const char *vocab, int bpe_size, const char *tok_out, bool verbose,
                      bg_corpus *c, char *err, size_t errlen);
/* Frees what bg_corpus_prepare made. */
void bg_corpus_free(bg_corpus *c);

/* The folder for caches: $NABLA_CACHE, else $XDG_CACHE_HOME/nabla, else ~/.cache/nabla. */
const char *bg_cache_dir(void);

/* A loaded run: the model (eval mode) and its tokenizer. */
typedef struct {
    bg_model *model;
    bg_tokenizer *tok;
    int64_t step;
    char path[4096]; /* the checkpoint file used */
    char meta_val_loss[64], meta_train_loss[64];
} bg_run;

/* Loads a checkpoint file, or a training run's folder (its best.safetensors,
 * else ckpt.safetensors), and the tokenizer saved with the run (`vocab`
 * overrides it). 0, or -1 with a message. */
int bg_run_load(const char *path, const char *vocab, bg_run *r, char *err, size_t errlen);
void bg_run_free(bg_run *r);

/* 0 when the checkpoint f (named path) holds, as f32 of the shapes the config c implies, the
 * weights that grow with c's sizes: wte.weight, wpe.weight and each block's attn.qkv.weight and
 * mlp.fc.weight. Else -1 with a message in err. Checked before the model is built, so that a config
 * whose sizes do not match its file (corrupt or hostile: a few KB can ask for a model of any size)
 * is refused at once instead of allocating and initialising that model first. */
int bg_check_config_fits(const nb_safetensors *f, const bg_config *c, const char *path, char *err,
                         size_t errlen);
/* 0 when every parameter of m is finite; else -1 with err naming the file (path), the first
 * parameter that is not and where (a diverged run's weights would only produce garbage). */
int bg_check_params_finite(const nb_module *m, const char *path, char *err, size_t errlen);
/* Creates a folder and its parents. 0, or -1 with errno. */
int bg_mkdirs(const char *path);
/* Whether path is a regular file. */
bool bg_is_file(const char *path);
/* Removes what an interrupted writer left in dir: ckpt/best.safetensors.tmp.XXXXXX and
 * loss.png.tmp.XXXXXX files (a run killed while writing). The number removed. */
int bg_remove_stale_tmp(const char *dir);
/* Whether path is a folder (following links). */
bool bg_is_dir(const char *path);
/* Whether a and b name the same existing file or folder (by device and inode, so "run" and
 * "./run/" agree). */
bool bg_same_file(const char *a, const char *b);
/* The folder holding path, into out ("." when path has no '/'). */
void bg_parent_dir(const char *path, char *out, size_t len);
/* The device named by `name` (NULL or "cpu": the CPU; "cuda": the GPU, checked usable by
 * putting a tensor on it). 0; 2 for an unknown name; 1 when the device cannot be used; the
 * reason goes to err. */
int bg_device_open(const char *name, nb_device *dev, char *err, size_t errlen);

#endif
