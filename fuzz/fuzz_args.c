/* fuzz_args.c - libFuzzer target for babygpt's command-line parser (bg_args_parse).
 *
 * The first input byte picks one of two option tables (the options of `babygpt train`, and the
 * generation options shared by sample/chat/summarize with serve's numbers), the rest is split
 * at NUL bytes into argv[2..] (argv[0] = "babygpt", argv[1] = the subcommand). The parser must
 * return 0, 1 (--help) or -1, never crash; after a 0, every value it stored must have its type's
 * and the table's range, and a string must be a non-empty argument of argv.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *     fuzz/fuzz_args.c examples/babygpt/args.c -o /tmp/fuzz_args
 *   /tmp/fuzz_args -max_total_time=60 -max_len=4096 -close_fd_mask=3
 *
 * (-close_fd_mask=3 silences the parser's messages; crash reports still show.) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/babygpt/args.h"

#define N(a)    (int)(sizeof(a) / sizeof *(a))
#define NORANGE 1, 0

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const char *config, *data, *vocab, *out, *device, *resume, *prompt;
    int bpe_size, steps, batch, eval_every, threads, max_tokens, top_k, port, queue;
    float lr, temperature, top_p;
    uint64_t seed;
    bool overwrite, quiet;
} opts;

static void fail(const char *what, const char *name) {
    fprintf(stderr, "fuzz_args: --%s: %s\n", name, what);
    abort();
}

/* Checks what a successful parse stored against the table (the values it changed from before,
 * `*was`, a copy of `*now`; a default need not be in range). */
static void check(const bg_arg *a, int n, int argc, char **argv, const opts *now, const opts *was) {
    static const size_t size[] = {sizeof(char *), sizeof(int), sizeof(float), sizeof(uint64_t), sizeof(bool)};
    for (int k = 0; k < n; k++) {
        bool ranged = a[k].min <= a[k].max;
        const char *old = (const char *)was + ((const char *)a[k].dst - (const char *)now);
        if (memcmp(old, a[k].dst, size[a[k].type]) == 0) continue;
        switch (a[k].type) {
        case BG_ARG_STR: {
            const char *s = *(const char **)a[k].dst;
            if (!s) break;
            bool found = false;
            for (int i = 2; i < argc && !found; i++)
                found = s >= argv[i] && s <= argv[i] + strlen(argv[i]);
            if (!found || !*s) fail("string value not a non-empty part of argv", a[k].name);
            break;
        }
        case BG_ARG_INT: {
            int v = *(int *)a[k].dst;
            if (ranged && (v < a[k].min || v > a[k].max)) fail("int out of range", a[k].name);
            break;
        }
        case BG_ARG_FLOAT: {
            float v = *(float *)a[k].dst;
            if (!isfinite(v)) fail("float not finite", a[k].name);
            if (ranged && (v < (float)a[k].min || v > (float)a[k].max)) fail("float out of range", a[k].name);
            break;
        }
        default: break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int table = data[0] & 1;
    data++, size--;
    /* argv: "babygpt", the subcommand, then the NUL-separated pieces (a copy, NUL-terminated) */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int argc = 2;
    for (size_t i = 0; i < size; i++)
        argc += buf[i] == '\0';
    argc += 1;
    char **argv = malloc(sizeof *argv * (size_t)(argc + 1));
    if (!argv) {
        free(buf);
        return 0;
    }
    argv[0] = "babygpt";
    argv[1] = table ? "sample" : "train";
    int k = 2;
    for (char *p = buf; k < argc; p += strlen(p) + 1)
        argv[k++] = p;
    argv[argc] = NULL;

    opts o = {.seed = 1, .lr = 0, .temperature = 0.8f, .top_p = 0.95f, .max_tokens = 200, .top_k = 50};
    bg_arg train[] = {
        {"config", BG_ARG_STR, &o.config, NORANGE, "tiny | small | safe-pro"},
        {"data", BG_ARG_STR, &o.data, NORANGE, "DialogSum folder or file"},
        {"vocab", BG_ARG_STR, &o.vocab, NORANGE, "GPT-2 tokenizer folder"},
        {"bpe-size", BG_ARG_INT, &o.bpe_size, 260, 65536, "BPE vocabulary size"},
        {"steps", BG_ARG_INT, &o.steps, 1, 10000000, "training steps"},
        {"batch", BG_ARG_INT, &o.batch, 1, 4096, "batch size"},
        {"lr", BG_ARG_FLOAT, &o.lr, 1e-7, 10, "peak learning rate"},
        {"eval-every", BG_ARG_INT, &o.eval_every, 1, 10000000, "evaluate every N steps"},
        {"out", BG_ARG_STR, &o.out, NORANGE, "output folder"},
        {"seed", BG_ARG_U64, &o.seed, NORANGE, "random seed"},
        {"threads", BG_ARG_INT, &o.threads, 1, 1024, "CPU threads"},
        {"device", BG_ARG_STR, &o.device, NORANGE, "cpu | cuda"},
        {"resume", BG_ARG_STR, &o.resume, NORANGE, "checkpoint to resume"},
        {"overwrite", BG_ARG_FLAG, &o.overwrite, NORANGE, "replace a run"},
        {"quiet", BG_ARG_FLAG, &o.quiet, NORANGE, "plain log lines"},
    };
    bg_arg gen[] = {
        {"checkpoint", BG_ARG_STR, &o.resume, NORANGE, "checkpoint file or run folder"},
        {"vocab", BG_ARG_STR, &o.vocab, NORANGE, "tokenizer folder"},
        {"max-tokens", BG_ARG_INT, &o.max_tokens, 1, 100000, "new tokens at most"},
        {"temperature", BG_ARG_FLOAT, &o.temperature, 0, 10, "sampling temperature"},
        {"top-k", BG_ARG_INT, &o.top_k, 0, 1000000, "top-k"},
        {"top-p", BG_ARG_FLOAT, &o.top_p, 1e-6, 1, "nucleus threshold"},
        {"seed", BG_ARG_U64, &o.seed, NORANGE, "random seed"},
        {"device", BG_ARG_STR, &o.device, NORANGE, "cpu | cuda"},
        {"prompt", BG_ARG_STR, &o.prompt, NORANGE, "text to continue"},
        {"port", BG_ARG_INT, &o.port, 0, 65535, "TCP port"},
        {"queue", BG_ARG_INT, &o.queue, 0, 100000, "queue length"},
        {"quiet", BG_ARG_FLAG, &o.quiet, NORANGE, "no request log"},
    };
    bg_arg *a = table ? gen : train;
    int n = table ? N(gen) : N(train);
    opts before = o;
    int rc = bg_args_parse(argv[1], "fuzzing", a, n, argc, argv, 2);
    if (rc != 0 && rc != 1 && rc != -1) abort();
    if (rc == 0) check(a, n, argc, argv, &o, &before);
    free(argv);
    free(buf);
    return 0;
}
