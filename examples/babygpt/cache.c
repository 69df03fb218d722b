/* cache.c - atomic on-disk cache of token ids (see cache.h for the file layout). */
#include "examples/babygpt/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR 40 /* magic 8 + version 4 + id size 4 + key 8 + count 8 + checksum 8 */
static const unsigned char magic[8] = {'N', 'B', 'T', 'O', 'K', 'C', 0, 1};

static void set_msg(char *buf, size_t len, const char *fmt, ...) {
    if (!buf || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

uint64_t bg_hash_bytes(uint64_t h, const void *buf, size_t len) {
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t hash_len(uint64_t h, uint64_t len) {
    unsigned char b[8];
    put_u64(b, len);
    return bg_hash_bytes(h, b, 8);
}

uint64_t bg_cache_key(const void *const *bufs, const size_t *lens, size_t n) {
    uint64_t h = BG_FNV_OFFSET;
    for (size_t i = 0; bufs && lens && i < n; i++) {
        h = hash_len(h, lens[i]);
        if (bufs[i]) h = bg_hash_bytes(h, bufs[i], lens[i]);
    }
    return h;
}

int bg_hash_file_stat(uint64_t *h, const char *path) {
    struct stat st;
    if (!h || !path || stat(path, &st) != 0) return -1;
    uint64_t x = hash_len(*h, strlen(path));
    x = bg_hash_bytes(x, path, strlen(path));
    x = hash_len(x, (uint64_t)st.st_size);
    x = hash_len(x, (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec);
    *h = x;
    return 0;
}

int bg_hash_file_bytes(uint64_t *h, const char *path) {
    if (!h || !path) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char buf[65536];
    uint64_t x = *h, total = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        x = bg_hash_bytes(x, buf, got);
        total += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1;
    *h = hash_len(x, total);
    return 0;
}

int bg_cache_path(const char *dir, uint64_t key, char *buf, size_t cap) {
    if (!dir || !buf) return -1;
    int n = snprintf(buf, cap, "%s/tokens-%016llx.bin", dir, (unsigned long long)key);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Checksum over header bytes [0, 32) and the payload. */
static uint64_t checksum(const unsigned char *hdr, const unsigned char *payload, size_t plen) {
    return bg_hash_bytes(bg_hash_bytes(BG_FNV_OFFSET, hdr, 32), payload, plen);
}

int bg_cache_load(const char *dir, uint64_t key, int32_t **ids, size_t *n, char *why, size_t whylen) {
    char path[4096];
    unsigned char hdr[HDR], *payload = NULL;
    FILE *f = NULL;
    if (ids) *ids = NULL;
    if (n) *n = 0;
    if (!ids || !n || bg_cache_path(dir, key, path, sizeof path)) {
        set_msg(why, whylen, "bad arguments or cache path too long");
        return BG_CACHE_MISS;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb"))) {
        set_msg(why, whylen, "%s: no cache entry", path);
        return BG_CACHE_MISS;
    }
    const char *bad = NULL;
    uint64_t count = 0;
    if (fread(hdr, 1, HDR, f) != HDR)
        bad = "truncated header";
    else if (memcmp(hdr, magic, 8) != 0)
        bad = "bad magic";
    else if (get_u32(hdr + 8) != BG_CACHE_VERSION)
        bad = "other format version";
    else if (get_u32(hdr + 12) != 4)
        bad = "bad id size";
    else if (get_u64(hdr + 16) != key)
        bad = "key mismatch";
    else if ((count = get_u64(hdr + 24)) > ((uint64_t)st.st_size - HDR) / 4 ||
             (uint64_t)st.st_size != HDR + count * 4)
        bad = "size does not match the count (truncated or padded)";
    size_t plen = (size_t)count * 4;
    if (!bad && plen && !(payload = malloc(plen))) bad = "out of memory";
    if (!bad && plen && fread(payload, 1, plen, f) != plen) bad = "truncated payload";
    if (!bad && checksum(hdr, payload, plen) != get_u64(hdr + 32)) bad = "checksum mismatch";
    int32_t *out = NULL;
    if (!bad && count && !(out = malloc(plen))) bad = "out of memory";
    fclose(f);
    if (bad) {
        free(payload);
        set_msg(why, whylen, "%s: %s", path, bad);
        return BG_CACHE_MISS;
    }
    for (size_t i = 0; i < count; i++)
        out[i] = (int32_t)get_u32(payload + 4 * i);
    free(payload);
    *ids = out;
    *n = (size_t)count;
    if (why && whylen) why[0] = '\0';
    return BG_CACHE_HIT;
}

/* mkdir -p; returns 0 or -1 with errno set. */
static int mkdirs(const char *dir) {
    char p[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(p, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
        p[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int bg_cache_save(const char *dir, uint64_t key, const int32_t *ids, size_t n, char *err, size_t errlen) {
    char path[4096], tmp[4200];
    if (!dir || (!ids && n) || bg_cache_path(dir, key, path, sizeof path)) {
        set_msg(err, errlen, "bg_cache_save: bad arguments or cache path too long");
        return -1;
    }
    if (n > (SIZE_MAX - HDR) / 4) {
        set_msg(err, errlen, "bg_cache_save: too many ids (%zu)", n);
        return -1;
    }
    if (mkdirs(dir)) {
        set_msg(err, errlen, "%s: cannot create cache folder: %s", dir, strerror(errno));
        return -1;
    }
    unsigned char *buf = malloc(HDR + n * 4);
    if (!buf) {
        set_msg(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(buf, magic, 8);
    put_u32(buf + 8, BG_CACHE_VERSION);
    put_u32(buf + 12, 4);
    put_u64(buf + 16, key);
    put_u64(buf + 24, n);
    for (size_t i = 0; i < n; i++)
        put_u32(buf + HDR + 4 * i, (uint32_t)ids[i]);
    put_u64(buf + 32, checksum(buf, buf + HDR, n * 4));
    snprintf(tmp, sizeof tmp, "%s/.tokens-%016llx.tmp.XXXXXX", dir, (unsigned long long)key);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_msg(err, errlen, "%s: cannot create a temp file: %s", dir, strerror(errno));
        free(buf);
        return -1;
    }
    int rc = write_all(fd, buf, HDR + n * 4);
    if (rc == 0) rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, e = errno;
    free(buf);
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, e = errno;
    if (rc != 0) {
        unlink(tmp);
        set_msg(err, errlen, "%s: cannot write cache entry: %s", path, strerror(e));
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* make the rename durable; failure here is not fatal */
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}
