/* fuzz_checkpoint.c - libFuzzer target for the checkpoint readers: nb_checkpoint_load (with and
 * without an optimiser), nb_module_load, and what babygpt reads from a checkpoint's metadata when
 * it loads a run or resumes one (bg_config_from_json on "config", the numbers of train.c).
 *
 * The model is a Baby GPT of the smallest shape (so its lm_head.weight is tied to wte.weight and
 * the alias path of the loader runs) with an AdamW optimiser. Each input is written to a temp
 * file (the loaders take a path) and loaded three ways. A failed load must leave a message and
 * leave the model and the step unchanged; a successful one must give a step >= 0. Seed the corpus
 * with real checkpoints (the file holds ~8 KB, so give -max_len=16384 or more):
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined -I. -Iinclude \
 *     fuzz/fuzz_checkpoint.c tensor/[a-z]*.c autograd/[a-z]*.c ops/[a-z]*.c backends/[a-z]*.c \
 *     backends/cpu/[a-z]*.c nn/[a-z]*.c examples/babygpt/model.c \
 *     $(pkg-config --cflags --libs jansson) -lm -o /tmp/fuzz_checkpoint
 *   mkdir -p /tmp/ckpt_corpus
 *   NB_FUZZ_SEED_DIR=/tmp/ckpt_corpus /tmp/fuzz_checkpoint -max_len=16384 /tmp/ckpt_corpus
 *
 * With NB_FUZZ_SEED_DIR set, the target first writes three valid files there (a checkpoint with
 * the optimiser state, one without, and a plain module file). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples/babygpt/model.h"
#include "examples/babygpt/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static bg_model *model;
static nb_optim *opt;
static char dir[64], path[128];
static float *snapshot; /* the parameters before each load */
static size_t n_snapshot;

static void cleanup(void) {
    unlink(path);
    rmdir(dir);
    nb_optim_free(opt);
    bg_model_free(model);
    free(snapshot);
}

static void fail(const char *what) {
    fprintf(stderr, "fuzz_checkpoint: %s (%s)\n", what, nb_last_error());
    abort();
}

/* Copies (save) or compares (!save) every parameter of the model with the snapshot. */
static int params_snapshot(bool save) {
    nb_param_list l;
    if (nb_module_parameters(model->root, &l)) fail("nb_module_parameters");
    size_t at = 0, diff = 0;
    for (int i = 0; i < l.n; i++) {
        size_t n = (size_t)nb_numel(l.tensors[i]);
        if (save) {
            float *s = realloc(snapshot, (at + n) * sizeof *s);
            if (!s) fail("out of memory");
            snapshot = s;
            memcpy(snapshot + at, nb_data(l.tensors[i]), n * sizeof *s);
        } else {
            diff += memcmp(snapshot + at, nb_data(l.tensors[i]), n * sizeof *snapshot) != 0;
        }
        at += n;
    }
    if (save) n_snapshot = at;
    nb_param_list_free(&l);
    return diff != 0;
}

static void write_seeds(const char *seed_dir) {
    char *cfg = bg_config_to_json(&model->cfg), p[1024];
    const char *keys[] = {"batch_rng_seed", "batch_rng_offset", "best_val",    "train_loss", "val_loss",
                          "data",           "eval_every",       "eval_batches"};
    const char *vals[] = {"1337", "42", "2.5", "2.600000", "2.500000", "(built-in corpus)", "10", "8"};
    snprintf(p, sizeof p, "%s/ckpt_adamw.safetensors", seed_dir);
    nb_checkpoint_save(p, model->root, opt, 7, cfg, keys, vals, 8);
    snprintf(p, sizeof p, "%s/ckpt_noopt.safetensors", seed_dir);
    nb_checkpoint_save(p, model->root, NULL, 3, cfg, NULL, NULL, 0);
    snprintf(p, sizeof p, "%s/module.safetensors", seed_dir);
    const char *mk[] = {"config"}, *mv[] = {cfg};
    nb_module_save(model->root, p, mk, mv, 1);
    free(cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[512];
    bg_config cfg = {"tiny", 1, 1, 4, 2, 4, 0.0f, 1, 1e-3f, 10};
    if (!(model = bg_model_new(&cfg, 1, err, sizeof err))) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err);
        abort();
    }
    opt = nb_adamw_new(model->ctx, 1e-3f, 0.9f, 0.95f, 1e-8f);
    if (!opt || nb_optim_add_module(opt, model->root, 0.1f)) fail("optimiser");
    snprintf(dir, sizeof dir, "/tmp/fuzz_checkpoint.XXXXXX");
    if (!mkdtemp(dir)) fail(strerror(errno));
    snprintf(path, sizeof path, "%s/in.safetensors", dir);
    atexit(cleanup);
    const char *d = getenv("NB_FUZZ_SEED_DIR");
    if (d && *d) write_seeds(d);
    return 0;
}

/* What babygpt reads from the metadata (run.c: bg_run_load, train.c: the resume path). */
static void babygpt_meta(void) {
    nb_safetensors *f = nb_safetensors_open(path);
    if (!f) return;
    const char *cj = nb_safetensors_meta(f, "config");
    bg_config c;
    char err[1024];
    if (cj && bg_config_from_json(cj, &c, err, sizeof err) == 0) {
        if (c.n_layer < 1 || c.n_head < 1 || c.n_embd % c.n_head || c.block_size < 1 || c.vocab_size < 2)
            fail("bg_config_from_json accepted an impossible config");
        if (!memchr(c.name, '\0', sizeof c.name)) fail("config name not terminated");
    } else if (cj && !err[0]) {
        fail("bg_config_from_json failed without a message");
    }
    const char *s = nb_safetensors_meta(f, "batch_rng_seed"), *o = nb_safetensors_meta(f, "batch_rng_offset");
    const char *bv = nb_safetensors_meta(f, "best_val"), *ee = nb_safetensors_meta(f, "eval_every");
    volatile uint64_t sink = 0;
    if (s && o) sink ^= strtoull(s, NULL, 10) ^ strtoull(o, NULL, 10);
    if (bv) sink ^= (uint64_t)(strtod(bv, NULL) != 0);
    if (ee) sink ^= (uint64_t)strtol(ee, NULL, 10);
    (void)sink;
    nb_safetensors_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *fp = fopen(path, "wb");
    if (!fp) fail(strerror(errno));
    if (size && fwrite(data, 1, size, fp) != size) fail("short write");
    if (fclose(fp)) fail(strerror(errno));
    for (int mode = 0; mode < 3; mode++) {
        params_snapshot(true);
        int64_t step = -1, ostep = opt->step;
        nb_clear_error();
        int rc = mode == 0   ? nb_checkpoint_load(path, model->root, opt, &step)
                 : mode == 1 ? nb_checkpoint_load(path, model->root, NULL, &step)
                             : nb_module_load(model->root, path);
        if (rc != 0) {
            if (rc != -1) fail("unexpected return code");
            if (!nb_last_error()[0]) fail("a failed load left no message");
            if (step != -1 || opt->step != ostep) fail("a failed load changed the step");
            if (params_snapshot(false)) fail("a failed load changed the model");
        } else {
            if (mode < 2 && step < 0) fail("a negative step");
            if (mode == 0 && opt->step < 0) fail("a negative optimiser step");
            char err[512];
            (void)bg_check_params_finite(model->root, path, err, sizeof err);
        }
    }
    babygpt_meta();
    return 0;
}
