/* fuzz_dataset.c - libFuzzer target for the dataset file loaders (data_files.c: bg_load_file with
 * its format chosen by extension or sniffed, bg_load_dataset on a file or a folder) and the
 * validation carve (bg_split_carve).
 *
 * The first input byte picks the layout: its low 3 bits the extension (.csv .jsonl .json .ndjson
 * .txt .CSV none .JSONL), bit 3 a folder (train.<ext>) instead of a single file, bit 4 (with bit
 * 3) a validation.<ext> beside it, which gets the bytes after the first NUL. The files are
 * written under a temp folder and loaded. A failure must leave a message and both splits empty;
 * a success must keep every row once: without a validation file, train + carved validation hold
 * what bg_load_file reads, the carve takes at least one row of two or more and never all, and
 * keeps rows of one id together (unless the whole split is one id).
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *     fuzz/fuzz_dataset.c examples/babygpt/data*.c $(pkg-config --cflags --libs jansson) \
 *     -o /tmp/fuzz_dataset
 *   /tmp/fuzz_dataset -max_total_time=60 -max_len=8192  (seed with the CSV/JSONL targets' corpora,
 *   each with a layout byte in front) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/babygpt/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *const exts[8] = {".csv", ".jsonl", ".json", ".ndjson", ".txt", ".CSV", "", ".JSONL"};
static char dir[64];
static char written[4][256]; /* files to remove */
static int n_written;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_dataset: %s (%s)\n", what, detail ? detail : "");
    abort();
}

static void remove_written(void) {
    for (int i = 0; i < n_written; i++)
        unlink(written[i]);
    n_written = 0;
}

static void cleanup(void) {
    remove_written();
    char sub[128];
    snprintf(sub, sizeof sub, "%s/set", dir);
    rmdir(sub);
    rmdir(dir);
}

static void write_file(const char *p, const uint8_t *buf, size_t n) {
    FILE *f = fopen(p, "wb");
    if (!f) fail("cannot write", strerror(errno));
    if (n && fwrite(buf, 1, n, f) != n) fail("short write", p);
    if (fclose(f)) fail("cannot close", strerror(errno));
    snprintf(written[n_written++], sizeof written[0], "%s", p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    snprintf(dir, sizeof dir, "/tmp/fuzz_dataset.XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/set", dir);
    if (mkdir(sub, 0755)) fail("mkdir", strerror(errno));
    atexit(cleanup);
    return 0;
}

static int same_id(const bg_example *a, const bg_example *b) { return a->id[0] && strcmp(a->id, b->id) == 0; }

/* Checks a carve of `all` rows into train (first) and val (last). */
static void check_carve(const bg_split *all, const bg_split *train, const bg_split *val) {
    if (train->n + val->n != all->n) fail("carve lost or added rows", NULL);
    if (all->n >= 2 && (val->n < 1 || train->n < 1)) fail("carve must take >= 1 row and leave >= 1", NULL);
    for (size_t i = 0; i < all->n; i++) {
        const bg_example *e = i < train->n ? &train->ex[i] : &val->ex[i - train->n];
        if (strcmp(e->id, all->ex[i].id) != 0 || strcmp(e->dialogue, all->ex[i].dialogue) != 0)
            fail("carve reordered rows", NULL);
    }
    if (train->n && val->n && same_id(&train->ex[train->n - 1], &val->ex[0])) {
        for (size_t i = 1; i < all->n; i++)
            if (!same_id(&all->ex[i - 1], &all->ex[i])) fail("carve split the rows of one id", NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned layout = data[0];
    data++, size--;
    const char *ext = exts[layout & 7];
    bool folder = layout & 8, with_val = folder && (layout & 16);
    const uint8_t *nul = with_val ? memchr(data, '\0', size) : NULL;
    size_t ntrain = nul ? (size_t)(nul - data) : size;
    char p[256], target[256];
    if (folder) {
        snprintf(target, sizeof target, "%s/set", dir);
        snprintf(p, sizeof p, "%s/train%s", target, ext);
        write_file(p, data, ntrain);
        if (nul) {
            char v[256];
            snprintf(v, sizeof v, "%s/validation%s", target, ext);
            write_file(v, nul + 1, size - ntrain - 1);
        }
    } else {
        snprintf(target, sizeof target, "%s/data%s", dir, ext);
        write_file(target, data, ntrain);
        snprintf(p, sizeof p, "%s", target);
    }

    /* the file alone */
    bg_split all = {0};
    char err[512] = "";
    int rc_all = bg_load_file(p, &all, NULL, NULL, err, sizeof err);
    if (rc_all != 0 && (all.n || !err[0]))
        fail("a failed bg_load_file must leave no rows and a message", err);

    /* the dataset, with a validation split */
    bg_split train = {0}, val = {0};
    err[0] = '\0';
    int rc = bg_load_dataset(target, &train, &val, NULL, NULL, err, sizeof err);
    bool val_file = folder && nul; /* (a folder is only found for .csv, .jsonl and .json) */
    if (rc != 0) {
        if (train.n || val.n || !err[0])
            fail("a failed load must leave both splits empty and a message", err);
    } else {
        if (train.n < 1) fail("a successful load with no training rows", NULL);
        if (!val_file) {
            if (rc_all != 0) fail("the dataset loaded but the file alone did not", err);
            check_carve(&all, &train, &val);
        }
    }
    bg_split_free(&train);
    bg_split_free(&val);

    /* without a validation split: everything goes to train */
    bg_split only = {0};
    err[0] = '\0';
    rc = bg_load_dataset(target, &only, NULL, NULL, NULL, err, sizeof err);
    if (rc == 0 && !folder && only.n != all.n) fail("train alone differs from the file", NULL);
    if (rc != 0 && (only.n || !err[0])) fail("a failed load must leave train empty and a message", err);
    bg_split_free(&only);
    bg_split_free(&all);
    remove_written();
    return 0;
}
