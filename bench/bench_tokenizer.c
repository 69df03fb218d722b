/* bench_tokenizer.c - GPT-2 BPE encode/decode throughput on the DialogSum text.
 *
 * Reads $NABLA_DATA/dialogsum/train.csv raw and the GPT-2 files from $NABLA_DATA/gpt2 (or, when
 * they are absent, trains a 2000-token BPE on the text first).  Prints
 *   tokenizer encode: X MB/s (N bytes, M tokens)
 *   tokenizer decode: X MB/s (N bytes, M tokens)
 * Without NABLA_DATA (or the file) it prints a SKIP line and exits 0. */
#include "examples/babygpt/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb, cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(void) {
    const char *dir = getenv("NABLA_DATA");
    if (!dir || !*dir) {
        printf("SKIP: bench_tokenizer: NABLA_DATA is not set\n");
        return 0;
    }
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/dialogsum/train.csv", dir);
    size_t len;
    char *text = read_all(path, &len);
    if (!text) {
        printf("SKIP: bench_tokenizer: cannot read %s\n", path);
        return 0;
    }
    snprintf(path, sizeof path, "%s/gpt2", dir);
    const char *which = "gpt2";
    double t0 = now();
    bg_tokenizer *tok = bg_tokenizer_load(path, err, sizeof err);
    if (!tok) {
        printf("note: %s; training a 2000-token BPE instead\n", err);
        which = "trained-2000";
        t0 = now();
        tok = bg_tokenizer_train(text, len, 2000, err, sizeof err);
        if (!tok) {
            fprintf(stderr, "bench_tokenizer: %s\n", err);
            free(text);
            return 1;
        }
    }
    printf("tokenizer %s: ready in %.3f s (vocab %d)\n", which, now() - t0, bg_tokenizer_vocab_size(tok));

    int32_t *ids = NULL;
    size_t n_ids = 0, out_len = 0;
    double best_enc = 1e30, best_dec = 1e30;
    int rc = 0;
    for (int rep = 0; rep < 5 && rc == 0; rep++) {
        free(ids);
        t0 = now();
        rc = bg_tokenizer_encode(tok, text, len, 1, &ids, &n_ids);
        double dt = now() - t0;
        best_enc = dt < best_enc ? dt : best_enc;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_tokenizer: encode: %s\n", bg_tokenizer_strerror(rc));
        bg_tokenizer_free(tok);
        free(text);
        return 1;
    }
    char *back = NULL;
    for (int rep = 0; rep < 20; rep++) {
        free(back);
        t0 = now();
        back = bg_tokenizer_decode(tok, ids, n_ids, &out_len);
        double dt = now() - t0;
        best_dec = dt < best_dec ? dt : best_dec;
    }
    int ok = back && out_len == len && memcmp(back, text, len) == 0;
    printf("tokenizer encode: %.1f MB/s (%zu bytes, %zu tokens)\n", (double)len / 1e6 / best_enc, len, n_ids);
    printf("tokenizer decode: %.1f MB/s (%zu bytes, %zu tokens)\n", (double)len / 1e6 / best_dec, len, n_ids);

    /* Training speed on the same text (what Baby GPT does without the GPT-2 files). */
    t0 = now();
    bg_tokenizer *trained = bg_tokenizer_train(text, len, 2000, err, sizeof err);
    double dt = now() - t0;
    if (trained)
        printf("tokenizer train: %.3f s to vocab %d (%zu bytes)\n", dt, bg_tokenizer_vocab_size(trained),
               len);
    else
        printf("tokenizer train: failed: %s\n", err);
    bg_tokenizer_free(trained);
    free(back), free(ids), free(text);
    bg_tokenizer_free(tok);
    if (!ok) {
        fprintf(stderr, "bench_tokenizer: decode(encode(text)) != text\n");
        return 1;
    }
    return 0;
}
