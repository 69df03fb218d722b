/* fuzz_cache.c - libFuzzer target for the token cache reader (bg_cache_load).
 *
 * Each input is written as the cache entry of a fixed key and looked up twice: as it is, and
 * with its key and checksum fields patched to match (when it holds a full header), so that the
 * checks after the checksum (count against the file size, the payload) are reached too. A miss
 * must leave *ids NULL, *n 0 and a reason; a hit must give exactly the payload's ids, and saving
 * them (bg_cache_save) must give back a file that loads to the same ids.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *     fuzz/fuzz_cache.c examples/babygpt/cache.c -o /tmp/fuzz_cache
 *   mkdir -p /tmp/cache_corpus
 *   NB_FUZZ_SEED_DIR=/tmp/cache_corpus /tmp/fuzz_cache -max_len=4096 /tmp/cache_corpus
 *
 * With NB_FUZZ_SEED_DIR set, the target first writes two valid entries there (0 and 5 ids). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples/babygpt/cache.h"

#define KEY 0x0123456789abcdefull
#define HDR 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64], path[256];

static void cleanup(void) {
    unlink(path);
    rmdir(dir);
}

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_cache: %s (%s)\n", what, detail ? detail : "");
    abort();
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void write_file(const uint8_t *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) fail("cannot write", strerror(errno));
    if (n && fwrite(buf, 1, n, f) != n) fail("short write", path);
    if (fclose(f)) fail("cannot close", strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    snprintf(dir, sizeof dir, "/tmp/fuzz_cache.XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
    if (bg_cache_path(dir, KEY, path, sizeof path)) fail("bg_cache_path", dir);
    atexit(cleanup);
    const char *d = getenv("NB_FUZZ_SEED_DIR");
    if (!d || !*d) return 0;
    char err[256], p[1024], q[1024];
    const int32_t ids[5] = {0, 1, -1, 50256, INT32_MAX};
    for (size_t n = 0; n <= 5; n += 5) {
        if (bg_cache_save(dir, KEY, ids, n, err, sizeof err)) fail("seed", err);
        snprintf(q, sizeof q, "%s/entry%zu", d, n);
        snprintf(p, sizeof p, "%s", path);
        if (rename(p, q) != 0) { /* another file system: copy it */
            FILE *in = fopen(p, "rb"), *out = fopen(q, "wb");
            int c;
            while (in && out && (c = fgetc(in)) != EOF)
                fputc(c, out);
            if (in) fclose(in);
            if (out) fclose(out);
            unlink(p);
        }
    }
    return 0;
}

/* Loads the entry and checks the result against the file's bytes. */
static void load_and_check(const uint8_t *buf, size_t size) {
    write_file(buf, size);
    int32_t *ids = (int32_t *)1;
    size_t n = 7;
    char why[512] = "";
    int rc = bg_cache_load(dir, KEY, &ids, &n, why, sizeof why);
    if (rc == BG_CACHE_MISS) {
        if (ids || n || !why[0]) fail("a miss must give no ids and a reason", why);
        return;
    }
    if (rc != BG_CACHE_HIT) fail("unexpected return code", NULL);
    if (size < HDR || n != (size - HDR) / 4 || size != HDR + 4 * n) fail("hit with a wrong count", NULL);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = buf + HDR + 4 * i;
        uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if ((uint32_t)ids[i] != v) fail("hit with ids that differ from the payload", NULL);
    }
    /* save what was read: the file must come back byte for byte */
    char err[256];
    if (bg_cache_save(dir, KEY, ids, n, err, sizeof err)) fail("save failed", err);
    int32_t *again = NULL;
    size_t m = 0;
    if (bg_cache_load(dir, KEY, &again, &m, why, sizeof why) != BG_CACHE_HIT) fail("reload missed", why);
    if (m != n || (n && memcmp(again, ids, n * sizeof *ids) != 0)) fail("reload differs", NULL);
    free(again);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_and_check(data, size);
    if (size < HDR) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    put_u64(fixed + 16, KEY);
    uint64_t h = bg_hash_bytes(BG_FNV_OFFSET, fixed, 32);
    put_u64(fixed + 32, bg_hash_bytes(h, fixed + HDR, size - HDR));
    load_and_check(fixed, size);
    free(fixed);
    return 0;
}
