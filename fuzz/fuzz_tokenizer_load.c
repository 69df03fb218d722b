/* fuzz_tokenizer_load.c - libFuzzer target for the tokenizer file loader (bg_tokenizer_load:
 * GPT-2's encoder.json + vocab.bpe, which is also the format bg_tokenizer_save writes).
 *
 * The input is split at its first NUL byte: the bytes before it are encoder.json, those after it
 * vocab.bpe (no NUL: vocab.bpe is empty). Both are written to a temp folder and loaded. A
 * rejection must leave a message; an accepted tokenizer must round-trip a fixed text through
 * encode/decode, and save + load back to the same tokens and merges. Seed the corpus with small
 * valid folders (a valid encoder.json has >= 257 tokens, so give -max_len=16384 or more):
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude \
 *     $(pkg-config --cflags libpcre2-8 jansson) fuzz/fuzz_tokenizer_load.c \
 *     examples/babygpt/tokenizer*.c $(pkg-config --libs libpcre2-8 jansson) -o /tmp/fuzz_tokenizer_load
 *   mkdir -p /tmp/tokload_corpus
 *   NB_FUZZ_SEED_DIR=/tmp/tokload_corpus /tmp/fuzz_tokenizer_load -max_len=16384 /tmp/tokload_corpus
 *
 * With NB_FUZZ_SEED_DIR set, the target first writes there a trained tokenizer of 300 tokens and,
 * when ../shared/data/gpt2 is present, GPT-2's first 256 + 100 tokens with their merges. */
#include "examples/babygpt/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64], enc_path[128], bpe_path[128], save_dir[128];

static const char TEXT[] = "#Person1#: Hello, how are you doing today? I'm fine.\n#Person2#: 10:30 "
                           "caf\xc3\xa9 \xf0\x9f\x99\x82<|endoftext|> \xff\xfe trailing   ";

static void rm_save_dir(void) {
    char p[256];
    snprintf(p, sizeof p, "%s/encoder.json", save_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/vocab.bpe", save_dir);
    unlink(p);
    rmdir(save_dir);
}

static void cleanup(void) {
    unlink(enc_path);
    unlink(bpe_path);
    rm_save_dir();
    rmdir(dir);
}

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_tokenizer_load: %s (%s)\n", what, detail ? detail : "");
    abort();
}

static void write_file(const char *p, const void *buf, size_t n) {
    FILE *f = fopen(p, "wb");
    if (!f) fail("cannot write", strerror(errno));
    if (n && fwrite(buf, 1, n, f) != n) fail("short write", p);
    if (fclose(f)) fail("cannot close", strerror(errno));
}

/* Reads a whole file; NULL when it cannot. */
static char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) free(buf), buf = NULL;
    fclose(f);
    if (buf) buf[len] = '\0', *n = (size_t)len;
    return buf;
}

/* seed = encoder.json + NUL + vocab.bpe */
static void write_seed(const char *seed_dir, const char *name, const char *enc, size_t ne, const char *bpe,
                       size_t nb) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", seed_dir, name);
    char *buf = malloc(ne + 1 + nb);
    if (!buf) return;
    memcpy(buf, enc, ne);
    buf[ne] = '\0';
    memcpy(buf + ne + 1, bpe, nb);
    write_file(p, buf, ne + 1 + nb);
    free(buf);
}

/* GPT-2's byte tokens (ids 0..255), its first k merges (token 256 + i is made by merge i) and
 * <|endoftext|> as id 256 + k: a valid excerpt of the real files. */
static void write_gpt2_seed(const char *seed_dir, int k) {
    static const char *const dirs[] = {"../shared/data/gpt2", "/work/shared/data/gpt2"};
    char p[256];
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        size_t ne, nb;
        snprintf(p, sizeof p, "%s/encoder.json", dirs[d]);
        char *enc = slurp(p, &ne);
        snprintf(p, sizeof p, "%s/vocab.bpe", dirs[d]);
        char *bpe = enc ? slurp(p, &nb) : NULL;
        if (!bpe) {
            free(enc);
            continue;
        }
        /* encoder.json lists ids in order: keep entries with id < 256 + k, then add EOT */
        char *out = malloc(ne + 64), *cut = NULL;
        size_t at = 0;
        char needle[32];
        snprintf(needle, sizeof needle, "\": %d, ", 256 + k);
        if (out && (cut = strstr(enc, needle))) {
            while (cut - enc > 2 && !(cut[0] == '"' && cut[-1] == ' ' && cut[-2] == ','))
                cut--; /* back to the opening quote of that key */
            at = (size_t)(cut - enc);
            memcpy(out, enc, at);
            at += (size_t)sprintf(out + at, "\"<|endoftext|>\": %d}", 256 + k);
            /* vocab.bpe: the header and k merges */
            char *e = bpe;
            for (int line = 0; line <= k && e; line++)
                if ((e = strchr(e, '\n'))) e++;
            if (e) write_seed(seed_dir, "gpt2_excerpt", out, at, bpe, (size_t)(e - bpe));
        }
        free(out);
        free(enc);
        free(bpe);
        return;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    snprintf(dir, sizeof dir, "/tmp/fuzz_tokenizer_load.XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
    snprintf(enc_path, sizeof enc_path, "%s/encoder.json", dir);
    snprintf(bpe_path, sizeof bpe_path, "%s/vocab.bpe", dir);
    snprintf(save_dir, sizeof save_dir, "%s/saved", dir);
    atexit(cleanup);
    const char *d = getenv("NB_FUZZ_SEED_DIR");
    if (!d || !*d) return 0;
    char err[256];
    bg_tokenizer *t = bg_tokenizer_train(TEXT, sizeof TEXT - 1, 300, err, sizeof err);
    if (t && bg_tokenizer_save(t, save_dir, err, sizeof err) == 0) {
        char p[256];
        size_t ne, nb;
        snprintf(p, sizeof p, "%s/encoder.json", save_dir);
        char *enc = slurp(p, &ne);
        snprintf(p, sizeof p, "%s/vocab.bpe", save_dir);
        char *bpe = slurp(p, &nb);
        if (enc && bpe) write_seed(d, "trained", enc, ne, bpe, nb);
        free(enc);
        free(bpe);
        rm_save_dir();
    }
    bg_tokenizer_free(t);
    write_gpt2_seed(d, 100);
    return 0;
}

/* The checks on a tokenizer the loader accepted. */
static void check(const bg_tokenizer *t) {
    int32_t *ids;
    size_t n, len;
    int v = bg_tokenizer_vocab_size(t);
    if (v < 257 || bg_tokenizer_eot(t) < 0 || bg_tokenizer_eot(t) >= v) fail("bad vocabulary size/eot", NULL);
    for (int special = 0; special < 2; special++) {
        if (bg_tokenizer_encode(t, TEXT, sizeof TEXT - 1, special, &ids, &n) != BG_TOK_OK)
            fail("encode failed", NULL);
        if (bg_tokenizer_check_ids(t, ids, n, NULL, 0)) fail("id out of range", NULL);
        char *back = bg_tokenizer_decode(t, ids, n, &len);
        if (!back || len != sizeof TEXT - 1 || memcmp(back, TEXT, len) != 0) fail("round trip differs", NULL);
        free(back);
        free(ids);
    }
    /* save + load gives the same tokenizer */
    char err[512];
    if (bg_tokenizer_save(t, save_dir, err, sizeof err)) fail("save failed", err);
    bg_tokenizer *u = bg_tokenizer_load(save_dir, err, sizeof err);
    if (!u) fail("reload of a saved tokenizer failed", err);
    if (bg_tokenizer_vocab_size(u) != v || bg_tokenizer_eot(u) != bg_tokenizer_eot(t))
        fail("reload differs in size", NULL);
    for (int32_t id = 0; id < v; id++) {
        size_t la, lb;
        const char *a = bg_tokenizer_token_bytes(t, id, &la), *b = bg_tokenizer_token_bytes(u, id, &lb);
        if (!a || !b || la != lb || memcmp(a, b, la) != 0) fail("reload differs in a token", NULL);
    }
    int32_t ma, mb;
    const int32_t *a = bg__tokenizer_merges(t, &ma), *b = bg__tokenizer_merges(u, &mb);
    if (ma != mb || (ma && memcmp(a, b, sizeof *a * 2 * (size_t)ma) != 0))
        fail("reload differs in merges", NULL);
    bg_tokenizer_free(u);
    rm_save_dir();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, '\0', size);
    size_t ne = nul ? (size_t)(nul - data) : size;
    write_file(enc_path, data, ne);
    write_file(bpe_path, nul ? nul + 1 : data, nul ? size - ne - 1 : 0);
    char err[512] = "";
    bg_tokenizer *t = bg_tokenizer_load(dir, err, sizeof err);
    if (!t) {
        if (!err[0]) fail("a rejection left no message", NULL);
        return 0;
    }
    check(t);
    bg_tokenizer_free(t);
    return 0;
}
