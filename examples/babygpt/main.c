/* main.c - babygpt: one program, many subcommands.
 *   babygpt train | sample | chat | summarize | eval | tokenize | summary
 * Every subcommand takes --help; unknown flags and bad values are errors. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/babygpt/args.h"
#include "examples/babygpt/chat.h"
#include "examples/babygpt/eval.h"
#include "examples/babygpt/generate.h"
#include "examples/babygpt/run.h"
#include "examples/babygpt/serve.h"
#include "examples/babygpt/train.h"

#define N(a) (int)(sizeof(a) / sizeof *(a))
#define NORANGE 1, 0

static int cmd_train(int argc, char **argv) {
    bg_train_opts o = {.config = NULL, .bpe_size = 2048, .seed = 1337, .device = "cpu", .progress = true};
    bool quiet = false;
    bg_arg a[] = {
        {"config", BG_ARG_STR, &o.config, NORANGE, "tiny | small | safe-pro (default tiny)"},
        {"data", BG_ARG_STR, &o.data, NORANGE,
         "DialogSum folder (train.* + validation.*) or file; default: built-in corpus"},
        {"vocab", BG_ARG_STR, &o.vocab, NORANGE,
         "GPT-2 tokenizer folder (encoder.json + vocab.bpe); default: train a BPE"},
        {"bpe-size", BG_ARG_INT, &o.bpe_size, 260, 65536,
         "vocabulary size of the BPE trained when no --vocab (2048)"},
        {"steps", BG_ARG_INT, &o.steps, 1, 10000000, "training steps (default: the config's)"},
        {"batch", BG_ARG_INT, &o.batch, 1, 4096, "batch size (default: the config's)"},
        {"accum", BG_ARG_INT, &o.accum, 1, 1024,
         "micro-batches of --batch per step, gradients averaged: a batch N times larger in the memory of one "
         "(1)"},
        {"lr", BG_ARG_FLOAT, &o.lr, 1e-7, 10, "peak learning rate (default: the config's)"},
        {"eval-every", BG_ARG_INT, &o.eval_every, 1, 10000000, "evaluate, plot and checkpoint every N steps (default: steps / 10)"},
        {"eval-batches", BG_ARG_INT, &o.eval_batches, 1, 100000, "batches per evaluation (8)"},
        {"out", BG_ARG_STR, &o.out, NORANGE, "output folder (default out, or the resumed run's)"},
        {"seed", BG_ARG_U64, &o.seed, NORANGE, "random seed (1337)"},
        {"threads", BG_ARG_INT, &o.threads, 1, 1024,
         "CPU threads (default: all cores, or NABLA_NUM_THREADS)"},
        {"device", BG_ARG_STR, &o.device, NORANGE, "cpu | cuda"},
        {"resume", BG_ARG_STR, &o.resume, NORANGE, "continue a run from its checkpoint file or folder"},
        {"stop-after", BG_ARG_INT, &o.stop_after, 1, 10000000,
         "stop cleanly after N steps of this run (resume later)"},
        {"overwrite", BG_ARG_FLAG, &o.overwrite, NORANGE, "replace a training run already in --out"},
        {"quiet", BG_ARG_FLAG, &quiet, NORANGE, "plain log lines instead of a progress bar"},
    };
    int rc = bg_args_parse("train", "Trains Baby GPT; writes the checkpoint, loss.csv, loss.png and the tokenizer to --out.",
                           a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    if (quiet) o.progress = false;
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--seed") == 0 || strncmp(argv[i], "--seed=", 7) == 0) o.seed_given = true;
    return bg_train(&o);
}

typedef struct {
    const char *checkpoint, *vocab, *device;
    bg_sample_opts so;
    uint64_t seed;
} gen_args;

/* The generation options; max_tok and temp: their defaults as the help shows them. */
#define GEN_ARGS(g, max_tok, temp)                                                                           \
    {"checkpoint", BG_ARG_STR, &(g).checkpoint, NORANGE,                                                     \
     "checkpoint file or training run folder (required)"},                                                   \
        {"vocab", BG_ARG_STR, &(g).vocab, NORANGE, "tokenizer folder (default: the run's)"},                 \
        {"max-tokens", BG_ARG_INT, &(g).so.max_tokens, 1, 100000, "new tokens at most (" max_tok ")"},       \
        {"temperature",                                                                                      \
         BG_ARG_FLOAT,                                                                                       \
         &(g).so.temperature,                                                                                \
         0,                                                                                                  \
         10,                                                                                                 \
         "sampling temperature, 0 = greedy (" temp ")"},                                                     \
        {"top-k", BG_ARG_INT, &(g).so.top_k, 0, 1000000, "keep the k most likely tokens, 0 = off (50)"},     \
        {"top-p", BG_ARG_FLOAT, &(g).so.top_p, 1e-6, 1, "nucleus sampling threshold (0.95)"},                \
        {"seed", BG_ARG_U64, &(g).seed, NORANGE, "random seed (1)"}, {                                       \
        "device", BG_ARG_STR, &(g).device, NORANGE, "cpu | cuda (default cpu)"                               \
    }

/* 2 (a usage error) when --checkpoint is missing. */
static int need_checkpoint(const char *cmd, const gen_args *g) {
    if (g->checkpoint) return 0;
    fprintf(stderr, "babygpt %s: --checkpoint is required (a checkpoint file or a training run folder)\n",
            cmd);
    return 2;
}

/* Loads the run; the exit status on failure: 2 without --checkpoint, else 1. */
static int load_run(const char *cmd, gen_args *g, bg_run *r) {
    char err[1024];
    if (need_checkpoint(cmd, g)) return 2;
    nb_device dev;
    int rc = bg_device_open(g->device, &dev, err, sizeof err);
    if (rc) {
        fprintf(stderr, "babygpt %s: --device %s: %s\n", cmd, g->device, err);
        return rc;
    }
    if (bg_run_load(g->checkpoint, g->vocab, r, err, sizeof err)) {
        fprintf(stderr, "babygpt %s: %s\n", cmd, err);
        return 1;
    }
    if (dev != NB_CPU && bg_model_to(r->model, dev)) {
        fprintf(stderr, "babygpt %s: moving the model to %s: %s\n", cmd, nb_device_name(dev),
                nb_last_error());
        bg_run_free(r);
        return 1;
    }
    return 0;
}

static int cmd_sample(int argc, char **argv) {
    gen_args g = {.so = bg_sample_defaults(), .seed = 1};
    const char *prompt = "#Person1#:";
    bg_arg a[] = {GEN_ARGS(g, "200", "0.8"),
                  {"prompt", BG_ARG_STR, &prompt, NORANGE, "text to continue (default '#Person1#:')"}};
    int rc = bg_args_parse("sample", "Samples a continuation of a prompt.", a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    bg_run r;
    if ((rc = load_run("sample", &g, &r))) return rc;
    char err[1024], *full = malloc(strlen(prompt) + 16);
    sprintf(full, "<|endoftext|>%s", prompt);
    nb_rng rng;
    nb_rng_init(&rng, g.seed);
    char *out = bg_generate_text(r.model, r.tok, full, &g.so, NULL, &rng, err, sizeof err);
    free(full);
    if (out) printf("%s%s\n", prompt, out);
    else fprintf(stderr, "babygpt sample: %s\n", err);
    free(out);
    bg_run_free(&r);
    return out ? 0 : 1;
}

static int cmd_chat(int argc, char **argv) {
    gen_args g = {.so = bg_sample_defaults(), .seed = 1};
    g.so.max_tokens = 60;
    bg_arg a[] = {GEN_ARGS(g, "60", "0.8")};
    int rc = bg_args_parse("chat", "Chats in the terminal: you are #Person1#, the model #Person2#. Piped input: one "
                                   "turn per line. /reset, /quit.",
                           a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    bg_run r;
    if ((rc = load_run("chat", &g, &r))) return rc;
    int st = bg_chat(&r, &g.so, g.seed);
    bg_run_free(&r);
    return st;
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (!b) return NULL;
    size_t k;
    while ((k = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
        }
    }
    if (ferror(f)) { /* a read error (stdin a folder, closed, ...) is not an empty input */
        free(b);
        return NULL;
    }
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

static int cmd_summarize(int argc, char **argv) {
    gen_args g = {.so = bg_sample_defaults(), .seed = 1};
    g.so.max_tokens = 80;
    g.so.temperature = 0;
    const char *input = NULL;
    bg_arg a[] = {GEN_ARGS(g, "80", "0"),
                  {"input", BG_ARG_STR, &input, NORANGE, "file holding the dialogue (default: stdin)"}};
    int rc = bg_args_parse("summarize", "Reads a dialogue ('#Person1#: ...' turns, one per line) and prints a summary "
                                        "(greedy by default).",
                           a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    if ((rc = need_checkpoint("summarize", &g))) return rc; /* before waiting on stdin */
    struct stat st;
    if (input && (stat(input, &st) != 0 || !S_ISREG(st.st_mode))) {
        fprintf(stderr, "babygpt summarize: --input %s: %s\n", input,
                stat(input, &st) != 0 ? strerror(errno) : "not a regular file");
        return 1;
    }
    FILE *f = input ? fopen(input, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "babygpt summarize: --input %s: cannot open\n", input);
        return 1;
    }
    size_t len;
    errno = 0;
    char *text = read_all(f, &len);
    int read_errno = errno; /* before fclose can change it */
    if (input) fclose(f);
    if (!text || len == 0 || strlen(text) != len) {
        fprintf(stderr, "babygpt summarize: %s: %s\n", input ? input : "stdin",
                !text      ? (read_errno ? strerror(read_errno) : "cannot read")
                : len == 0 ? "empty input"
                           : "input holds a NUL byte");
        free(text);
        return 1;
    }
    bg_run r;
    if ((rc = load_run("summarize", &g, &r))) {
        free(text);
        return rc;
    }
    char err[1024];
    char *s = bg_summarize(&r, text, &g.so, g.seed, err, sizeof err);
    free(text);
    if (s) printf("%s\n", s);
    else fprintf(stderr, "babygpt summarize: %s\n", err);
    free(s);
    bg_run_free(&r);
    return s ? 0 : 1;
}

static int cmd_eval(int argc, char **argv) {
    gen_args g = {.so = bg_sample_defaults(), .seed = 1};
    const char *data = NULL;
    bg_arg a[] = {
        {"checkpoint", BG_ARG_STR, &g.checkpoint, NORANGE, "checkpoint file or run folder (required)"},
        {"vocab", BG_ARG_STR, &g.vocab, NORANGE, "tokenizer folder (default: the run's)"},
        {"data", BG_ARG_STR, &data, NORANGE, "DialogSum .csv or .jsonl file to score (required)"},
        {"device", BG_ARG_STR, &g.device, NORANGE, "cpu | cuda (default cpu)"}};
    int rc = bg_args_parse("eval", "Prints the mean per-token cross-entropy and perplexity over every document of a "
                                   "file: 'loss <x> ppl <y> tokens <n>'.",
                           a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    if (!data) {
        fprintf(stderr, "babygpt eval: --data is required\n");
        return 2;
    }
    bg_run r;
    if ((rc = load_run("eval", &g, &r))) return rc;
    char err[1024];
    bg_eval_result res;
    int st = bg_eval_file(&r, data, &res, err, sizeof err);
    if (st) fprintf(stderr, "babygpt eval: %s\n", err);
    else
        printf("documents %zu\nloss %.4f ppl %.3f tokens %lld\n", res.docs, res.loss, res.ppl, (long long)res.tokens);
    bg_run_free(&r);
    return st ? 1 : 0;
}

static int cmd_tokenize(int argc, char **argv) {
    const char *vocab = NULL;
    bool decode = false;
    bg_arg a[] = {{"vocab", BG_ARG_STR, &vocab, NORANGE, "tokenizer folder: encoder.json + vocab.bpe (required)"},
                  {"decode", BG_ARG_FLAG, &decode, NORANGE, "read a JSON array of ids, write the text"}};
    int rc = bg_args_parse("tokenize", "Text on stdin to a JSON array of ids on stdout (<|endoftext|> allowed); "
                                       "--decode does the reverse.",
                           a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    if (!vocab) {
        fprintf(stderr, "babygpt tokenize: --vocab is required\n");
        return 2;
    }
    char err[1024];
    bg_tokenizer *t = bg_tokenizer_load(vocab, err, sizeof err);
    if (!t) {
        fprintf(stderr, "babygpt tokenize: %s\n", err);
        return 1;
    }
    size_t len;
    errno = 0;
    char *in = read_all(stdin, &len);
    int st = 0;
    if (!in) {
        fprintf(stderr, "babygpt tokenize: stdin: %s\n", errno ? strerror(errno) : "cannot read");
        st = 1;
    } else if (decode && strlen(in) != len) {
        fprintf(stderr, "babygpt tokenize: stdin: a NUL byte at offset %zu (expected a JSON array of ids)\n",
                strlen(in));
        st = 1;
    } else if (!decode) {
        int32_t *ids = NULL;
        size_t n = 0;
        int e = bg_tokenizer_encode(t, in, len, 1, &ids, &n);
        if (e) {
            fprintf(stderr, "babygpt tokenize: %s\n", bg_tokenizer_strerror(e));
            st = 1;
        } else {
            putchar('[');
            for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
            printf("]\n");
        }
        free(ids);
    } else {
        json_error_t je;
        json_t *arr = json_loadb(in, len, 0, &je);
        size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
        int32_t *ids = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!arr || !json_is_array(arr)) {
            if (arr) fprintf(stderr, "babygpt tokenize: stdin: expected a JSON array of ids, got another JSON value\n");
            else fprintf(stderr, "babygpt tokenize: stdin: expected a JSON array of ids (line %d: %s)\n", je.line, je.text);
            st = 1;
        }
        for (size_t i = 0; i < n && !st; i++) {
            json_t *v = json_array_get(arr, i);
            if (!json_is_integer(v)) {
                fprintf(stderr, "babygpt tokenize: stdin: element %zu is not an integer\n", i);
                st = 1;
            } else if (json_integer_value(v) < 0 || json_integer_value(v) >= bg_tokenizer_vocab_size(t)) {
                fprintf(stderr, "babygpt tokenize: stdin: element %zu: id %lld is out of range [0, %d)\n", i,
                        (long long)json_integer_value(v), bg_tokenizer_vocab_size(t));
                st = 1;
            } else
                ids[i] = (int32_t)json_integer_value(v);
        }
        if (!st && bg_tokenizer_check_ids(t, ids, n, err, sizeof err)) {
            fprintf(stderr, "babygpt tokenize: %s\n", err);
            st = 1;
        }
        if (!st) {
            size_t ol;
            char *text = bg_tokenizer_decode(t, ids, n, &ol);
            if (text) fwrite(text, 1, ol, stdout);
            free(text);
        }
        free(ids);
        json_decref(arr);
    }
    free(in);
    bg_tokenizer_free(t);
    return st;
}

static int cmd_summary(int argc, char **argv) {
    const char *config = "safe-pro";
    int vocab = 50257, batch = 1;
    bg_arg a[] = {{"config", BG_ARG_STR, &config, NORANGE, "tiny | small | safe-pro (default safe-pro)"},
                  {"vocab-size", BG_ARG_INT, &vocab, 2, 1000000, "vocabulary size (default 50257, GPT-2's)"},
                  {"batch", BG_ARG_INT, &batch, 1, 1024, "batch size of the example input (1)"}};
    int rc = bg_args_parse("summary", "Prints the model summary table of a config.", a, N(a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    bg_config cfg;
    char err[512];
    if (bg_config_get(config, vocab, &cfg, err, sizeof err)) {
        fprintf(stderr, "babygpt summary: --config: %s\n", err);
        return 2;
    }
    bg_model *m = bg_model_new(&cfg, 1, err, sizeof err);
    if (!m) {
        fprintf(stderr, "babygpt summary: %s\n", err);
        return 1;
    }
    int st = nb_module_summary(m->root, NB_I32, NB_SHAPE(batch, cfg.block_size), stdout);
    if (st) fprintf(stderr, "babygpt summary: %s\n", nb_last_error());
    bg_model_free(m);
    return st ? 1 : 0;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"train", cmd_train, "train a model (built-in corpus or DialogSum), with loss.csv, loss.png, checkpoints"},
    {"sample", cmd_sample, "continue a prompt"},
    {"chat", cmd_chat, "chat in the terminal (or through a pipe)"},
    {"summarize", cmd_summarize, "summarize a dialogue"},
    {"eval", cmd_eval, "loss and perplexity over a data file"},
    {"tokenize", cmd_tokenize, "text to token ids and back"},
    {"summary", cmd_summary, "the model summary table of a config"},
    {"serve", bg_cmd_serve, "serve the chat page and its JSON API (docs/serve.md)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: babygpt <command> [options]   (babygpt <command> --help for its options)\n\ncommands:\n");
    for (int i = 0; i < N(cmds); i++) fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

/* OpenMP threads that spin after each parallel region (libgomp's default) compete with any other
 * busy process for the core their partner needs: with one other job running, training took 1.7x
 * as long as with OMP_WAIT_POLICY=passive (docs/performance.md, "Under load"); on a quiet machine
 * the two are alike. libgomp reads the variable before main, so when the user has not set it the
 * program runs itself again, once, with passive; if that exec fails it carries on as it is. The
 * program is exec'd by its real path (so it keeps its process name, for ps and pkill), and not
 * at all under valgrind (whose /proc/self/exe is valgrind's own launcher). */
static void prefer_passive_wait(char **argv) {
    const char *pre = getenv("LD_PRELOAD");
    if (getenv("OMP_WAIT_POLICY") || (pre && strstr(pre, "vgpreload"))) return;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) return;
    self[n] = '\0';
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv(self, argv);
    unsetenv("OMP_WAIT_POLICY");
}

int main(int argc, char **argv) {
    prefer_passive_wait(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        errno = 0;
        if (fflush(stdout) || ferror(stdout)) {
            fprintf(stderr, "babygpt: writing the help failed: %s\n",
                    errno ? strerror(errno) : "write error");
            return 1;
        }
        return 0;
    }
    for (int i = 0; i < N(cmds); i++)
        if (strcmp(argv[1], cmds[i].name) == 0) {
            int rc = cmds[i].fn(argc, argv);
            /* output that never arrived (a full disk, a closed pipe) is a failure, not success */
            errno = 0;
            int fe = fflush(stdout), e = errno;
            if ((fe || ferror(stdout)) && rc == 0) {
                fprintf(stderr, "babygpt %s: writing the output failed: %s\n", argv[1],
                        fe && e ? strerror(e) : "write error");
                rc = 1;
            }
            return rc;
        }
    fprintf(stderr, "babygpt: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
