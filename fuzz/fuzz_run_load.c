/* fuzz_run_load.c - libFuzzer target for loading a trained Baby GPT run (run.c: bg_run_load), the
 * path of `babygpt sample/chat/summarize/eval/serve --checkpoint`: the checkpoint's metadata
 * (model config as JSON, losses), the tokenizer beside it, the model built from that config, the
 * weights (nb_checkpoint_load) and the check that they are finite.
 *
 * A run folder is made at start-up with a trained tokenizer in run/tokenizer; each input becomes
 * run/best.safetensors and the folder is loaded. The input is the file without its 8-byte header
 * length: the JSON header, a NUL byte, then the tensor data (no NUL: all header). The target
 * writes the length, so that mutations of the header (the model config in its metadata above
 * all) are not all lost to a length that no longer matches; fuzz_checkpoint and fuzz_safetensors
 * cover the length itself. A failure must leave a message and nothing loaded; a success must give
 * a model whose configuration matches the tokenizer. Seed the corpus with real checkpoints
 * (NB_FUZZ_SEED_DIR, below; ~7 and ~21 KB, so give -max_len=32768):
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined -I. -Iinclude \
 *     $(pkg-config --cflags libpcre2-8 jansson) fuzz/fuzz_run_load.c build/libbabygpt.a build/libnabla.a \
 *     $(pkg-config --libs libpcre2-8 jansson) -lm -o /tmp/fuzz_run_load
 *   mkdir -p /tmp/run_corpus
 *   NB_FUZZ_SEED_DIR=/tmp/run_corpus /tmp/fuzz_run_load -max_len=16384 -rss_limit_mb=2048 /tmp/run_corpus
 *
 * With NB_FUZZ_SEED_DIR set, the target first writes there two checkpoints of a tiny model for
 * that tokenizer (with and without the optimiser state), as babygpt train writes them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/babygpt/model.h"
#include "examples/babygpt/run.h"
#include "examples/babygpt/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char TEXT[] = "#Person1#: Hello, how are you doing today? I'm fine, thanks.\n"
                           "#Person2#: We'll meet at 10:30 tomorrow. It's 2024.\n"
                           "#Summary#: Person1 and Person2 talk about the meeting.<|endoftext|>";

static char dir[64], run_dir[128], tok_dir[160], ckpt[192];
static int vocab;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_run_load: %s (%s)\n", what, detail ? detail : "");
    abort();
}

static void cleanup(void) {
    char p[256];
    unlink(ckpt);
    snprintf(p, sizeof p, "%s/encoder.json", tok_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/vocab.bpe", tok_dir);
    unlink(p);
    rmdir(tok_dir);
    rmdir(run_dir);
    rmdir(dir);
}

/* Writes safetensors file `from` as an input to `to`: header, NUL, data. */
static void unframe(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    uint8_t len[8];
    if (!in || !out || fread(len, 1, 8, in) != 8) fail("cannot write a seed", to);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | len[i];
    int c;
    for (uint64_t i = 0; (c = fgetc(in)) != EOF; i++) {
        if (i == hlen) fputc(0, out);
        fputc(c, out);
    }
    fclose(in);
    if (fclose(out)) fail("cannot write a seed", to);
}

static void write_seeds(const char *seed_dir) {
    char err[512], p[1024];
    bg_config cfg = {"tiny", 1, 1, 4, 2, vocab, 0.0f, 1, 1e-3f, 10};
    bg_model *m = bg_model_new(&cfg, 1, err, sizeof err);
    if (!m) fail("model", err);
    nb_optim *opt = nb_adamw_new(m->ctx, 1e-3f, 0.9f, 0.95f, 1e-8f);
    if (!opt || nb_optim_add_module(opt, m->root, 0.1f)) fail("optimiser", nb_last_error());
    char *cj = bg_config_to_json(&cfg);
    const char *keys[] = {"batch_rng_seed", "batch_rng_offset", "best_val",    "train_loss", "val_loss",
                          "data",           "eval_every",       "eval_batches"};
    const char *vals[] = {"1337", "42", "5.5", "5.600000", "5.500000", "(built-in corpus)", "10", "8"};
    snprintf(p, sizeof p, "%s/run_adamw", seed_dir);
    if (nb_checkpoint_save(ckpt, m->root, opt, 7, cj, keys, vals, 8) == 0) unframe(ckpt, p);
    snprintf(p, sizeof p, "%s/run_noopt", seed_dir);
    if (nb_checkpoint_save(ckpt, m->root, NULL, 3, cj, keys, vals, 5) == 0) unframe(ckpt, p);
    unlink(ckpt);
    free(cj);
    nb_optim_free(opt);
    bg_model_free(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[512];
    snprintf(dir, sizeof dir, "/tmp/fuzz_run_load.XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    snprintf(tok_dir, sizeof tok_dir, "%s/tokenizer", run_dir);
    snprintf(ckpt, sizeof ckpt, "%s/best.safetensors", run_dir);
    if (mkdir(run_dir, 0755)) fail("mkdir", strerror(errno));
    atexit(cleanup);
    bg_tokenizer *t = bg_tokenizer_train(TEXT, sizeof TEXT - 1, 300, err, sizeof err);
    if (!t || bg_tokenizer_save(t, tok_dir, err, sizeof err)) fail("tokenizer", err);
    vocab = bg_tokenizer_vocab_size(t);
    bg_tokenizer_free(t);
    const char *d = getenv("NB_FUZZ_SEED_DIR");
    if (d && *d) write_seeds(d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, '\0', size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    FILE *fp = fopen(ckpt, "wb");
    if (!fp) fail("cannot write", strerror(errno));
    if (fwrite(len, 1, 8, fp) != 8 || (hlen && fwrite(data, 1, hlen, fp) != hlen) ||
        (nul && size - hlen - 1 && fwrite(nul + 1, 1, size - hlen - 1, fp) != size - hlen - 1))
        fail("short write", ckpt);
    if (fclose(fp)) fail("cannot close", strerror(errno));
    bg_run r;
    char err[1024] = "";
    if (bg_run_load(run_dir, NULL, &r, err, sizeof err)) {
        if (r.model || r.tok || !err[0]) fail("a failed load must leave nothing loaded and a message", err);
        return 0;
    }
    if (!r.model || !r.tok || r.model->cfg.vocab_size != bg_tokenizer_vocab_size(r.tok) || r.step < 0)
        fail("a loaded run that does not hold together", NULL);
    bg_run_free(&r);
    return 0;
}
