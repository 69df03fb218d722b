/* tokenizer_io.c - reading and writing the GPT-2 tokenizer files (encoder.json + vocab.bpe). */
#include "examples/babygpt/tokenizer.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void bg__byte_unicode(uint16_t b2u[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        b2u[b] = (uint16_t)(printable ? b : 256 + n++);
    }
}

/* Converts a GPT-2 token string (UTF-8 of byte-to-unicode code points) to raw bytes in out.
 * Returns the byte count, or -1 for a character outside the byte alphabet. */
static long unmap_token(const char *key, const int16_t u2b[324], char *out) {
    const unsigned char *s = (const unsigned char *)key;
    long n = 0;
    while (*s) {
        unsigned cp;
        if (s[0] < 0x80) {
            cp = s[0], s += 1;
        } else if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
            cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu), s += 2;
        } else {
            return -1; /* 3- and 4-byte characters are all >= 0x800 */
        }
        if (cp >= 324 || u2b[cp] < 0) return -1;
        out[n++] = (char)u2b[cp];
    }
    return n;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = cap > SIZE_MAX / 4 ? NULL : realloc(buf, cap * 2 + 1);
        if (!nb) free(buf);
        buf = nb, cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        errno = bad ? EIO : ENOMEM;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parses vocab.bpe into merges (ids looked up in the encoder.json object). */
static int parse_merges(const char *path, json_t *enc, int32_t eot, int32_t **out, int32_t *nout, char *err,
                        size_t errlen) {
    size_t flen;
    char *buf = read_file(path, &flen);
    if (!buf) {
        set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1024, n = 0;
    int32_t *m = malloc(cap * 2 * sizeof *m);
    char *key = malloc(flen + 2);
    int rc = -1;
    if (!m || !key) {
        set_err(err, errlen, "%s: out of memory", path);
        goto done;
    }
    char *line = buf;
    for (long lineno = 1; line < buf + flen; lineno++) {
        char *nl = memchr(line, '\n', (size_t)(buf + flen - line));
        char *end = nl ? nl : buf + flen;
        size_t ll = (size_t)(end - line);
        if (ll && line[ll - 1] == '\r') ll--;
        if (memchr(line, '\0', ll)) {
            set_err(err, errlen, "%s:%ld: NUL byte in line", path, lineno);
            goto done;
        }
        if (lineno == 1) {
            if (ll < 8 || memcmp(line, "#version", 8) != 0) {
                set_err(err, errlen, "%s:1: expected a '#version: 0.2' header", path);
                goto done;
            }
        } else if (ll > 0) {
            char *sp = memchr(line, ' ', ll);
            if (!sp || sp == line || sp == line + ll - 1 ||
                memchr(sp + 1, ' ', ll - (size_t)(sp - line) - 1)) {
                set_err(err, errlen, "%s:%ld: expected two tokens separated by one space", path, lineno);
                goto done;
            }
            size_t la = (size_t)(sp - line), lb = ll - la - 1;
            json_t *ja, *jb, *jc;
            memcpy(key, line, la), key[la] = '\0';
            ja = json_object_get(enc, key);
            memcpy(key, sp + 1, lb), key[lb] = '\0';
            jb = json_object_get(enc, key);
            memcpy(key, line, la), memcpy(key + la, sp + 1, lb), key[la + lb] = '\0';
            jc = json_object_get(enc, key);
            if (!ja || !jb) {
                set_err(err, errlen, "%s:%ld: token '%.*s' is not in encoder.json", path, lineno,
                        (int)(ja ? lb : la), ja ? sp + 1 : line);
                goto done;
            }
            if (!jc || json_integer_value(jc) == eot) {
                set_err(err, errlen, "%s:%ld: merged token '%.60s' is not in encoder.json", path, lineno,
                        key);
                goto done;
            }
            if (n == cap) {
                int32_t *nm = cap > (size_t)INT32_MAX / 4 ? NULL : realloc(m, cap * 4 * sizeof *m);
                if (!nm) {
                    set_err(err, errlen, "%s: out of memory", path);
                    goto done;
                }
                m = nm, cap *= 2;
            }
            m[2 * n] = (int32_t)json_integer_value(ja);
            m[2 * n + 1] = (int32_t)json_integer_value(jb);
            n++;
        }
        line = end + 1;
    }
    if (flen == 0) {
        set_err(err, errlen, "%s:1: empty file, expected a '#version: 0.2' header", path);
        goto done;
    }
    rc = 0;
    *out = m, *nout = (int32_t)n;
    m = NULL;
done:
    free(m), free(key), free(buf);
    return rc;
}

bg_tokenizer *bg_tokenizer_load(const char *dir, char *err, size_t errlen) {
    struct stat st;
    if (!dir) {
        set_err(err, errlen, "tokenizer: no folder given");
        return NULL;
    }
    if (stat(dir, &st) != 0) {
        set_err(err, errlen, "tokenizer folder '%s': %s", dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "tokenizer folder '%s': not a folder", dir);
        return NULL;
    }
    size_t dl = strlen(dir);
    char *path = malloc(dl + 32);
    if (!path) {
        set_err(err, errlen, "tokenizer: out of memory");
        return NULL;
    }
    snprintf(path, dl + 32, "%s/encoder.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    char *pool = NULL;
    uint32_t *off = NULL, *len = NULL;
    int32_t *merges = NULL, n_merges = 0, eot = -1;
    bg_tokenizer *t = NULL;
    if (!root) {
        if (je.line > 0)
            set_err(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else
            set_err(err, errlen, "%s: %s", path, je.text);
        goto done;
    }
    size_t n = json_is_object(root) ? json_object_size(root) : 0;
    if (n == 0 || n > (1u << 24)) {
        set_err(err, errlen, "%s: expected a non-empty object of token -> id", path);
        goto done;
    }
    size_t pool_len = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) pool_len += strlen(key);
    int16_t u2b[324];
    uint16_t b2u[256];
    bg__byte_unicode(b2u);
    memset(u2b, 0xff, sizeof u2b);
    for (int b = 0; b < 256; b++)
        u2b[b2u[b]] = (int16_t)b;
    pool = malloc(pool_len + 1);
    off = malloc(n * sizeof *off);
    len = malloc(n * sizeof *len);
    if (!pool || !off || !len) {
        set_err(err, errlen, "%s: out of memory", path);
        goto done;
    }
    memset(len, 0xff, n * sizeof *len);
    size_t used = 0;
    json_object_foreach(root, key, val) {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        if (id < 0 || (size_t)id >= n) {
            if (json_is_integer(val) && id >= 0)
                set_err(err, errlen,
                        "%s: token '%.60s' has id %lld, but the file holds %zu tokens (ids must be 0..%zu, "
                        "each once: is a token missing?)",
                        path, key, (long long)id, n, n - 1);
            else
                set_err(err, errlen, "%s: token '%.60s': id must be an integer in [0, %zu)", path, key, n);
            goto done;
        }
        if (len[id] != UINT32_MAX) {
            set_err(err, errlen, "%s: token '%.60s': id %ld is used twice", path, key, (long)id);
            goto done;
        }
        long bl = unmap_token(key, u2b, pool + used);
        if (bl <= 0) {
            set_err(err, errlen, "%s: token '%.60s' is empty or not in GPT-2's byte alphabet", path, key);
            goto done;
        }
        if (strcmp(key, BG_TOK_EOT_TEXT) == 0) eot = (int32_t)id;
        off[id] = (uint32_t)used, len[id] = (uint32_t)bl;
        used += (size_t)bl;
    }
    if (eot < 0) {
        set_err(err, errlen, "%s: no %s token", path, BG_TOK_EOT_TEXT);
        goto done;
    }
    snprintf(path, dl + 32, "%s/vocab.bpe", dir);
    if (parse_merges(path, root, eot, &merges, &n_merges, err, errlen)) goto done;
    char msg[256] = "";
    t = bg__tokenizer_build(pool, off, len, (int32_t)n, eot, merges, n_merges, msg, sizeof msg);
    pool = NULL, off = NULL, len = NULL, merges = NULL;
    if (!t) set_err(err, errlen, "%s: %s", dir, msg);
done:
    json_decref(root);
    free(pool), free(off), free(len), free(merges), free(path);
    return t;
}

/* ---- save ---- */

/* Writes data to dir/name through a temp file in dir: write, fsync, rename, fsync dir. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t n, char *err,
                        size_t errlen) {
    size_t dl = strlen(dir), pl = dl + strlen(name) + 16;
    char *tmp = malloc(pl), *dst = malloc(pl);
    int fd = -1, rc = -1;
    if (!tmp || !dst) {
        set_err(err, errlen, "%s/%s: out of memory", dir, name);
        goto done;
    }
    snprintf(dst, pl, "%s/%s", dir, name);
    snprintf(tmp, pl, "%s/.%s.XXXXXX", dir, name);
    if ((fd = mkstemp(tmp)) < 0) {
        set_err(err, errlen, "%s: cannot create a temp file: %s", dst, strerror(errno));
        goto done;
    }
    for (size_t w = 0; w < n;) {
        ssize_t k = write(fd, data + w, n - w);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            set_err(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
            goto done;
        }
        w += (size_t)k;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        set_err(err, errlen, "%s: fsync failed: %s", tmp, strerror(errno));
        goto done;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0 || rename(tmp, dst) != 0) {
        set_err(err, errlen, "%s: cannot rename into place: %s", dst, strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
done:
    if (fd >= 0) close(fd);
    if (tmp && tmp[0]) unlink(tmp);
    free(tmp), free(dst);
    return rc;
}

/* Writes a token's bytes in GPT-2's byte-to-unicode form (UTF-8, NUL-terminated) into out,
 * which holds 2 * len + 1 bytes.  Returns the length written. */
static size_t map_token(const char *s, size_t len, const uint16_t b2u[256], char *out) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned cp = b2u[(unsigned char)s[i]];
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else {
            out[n++] = (char)(0xC0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[n] = '\0';
    return n;
}

int bg_tokenizer_save(const bg_tokenizer *t, const char *dir, char *err, size_t errlen) {
    if (!t || !dir) {
        set_err(err, errlen, "tokenizer save: NULL tokenizer or folder");
        return -1;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        set_err(err, errlen, "tokenizer folder '%s': cannot create: %s", dir, strerror(errno));
        return -1;
    }
    uint16_t b2u[256];
    bg__byte_unicode(b2u);
    int32_t n = bg_tokenizer_vocab_size(t), n_merges;
    const int32_t *merges = bg__tokenizer_merges(t, &n_merges);
    size_t maxlen = 0, total = 32;
    for (int32_t id = 0; id < n; id++) {
        size_t l;
        bg_tokenizer_token_bytes(t, id, &l);
        maxlen = l > maxlen ? l : maxlen;
    }
    for (int32_t m = 0; m < n_merges; m++) {
        size_t la, lb;
        bg_tokenizer_token_bytes(t, merges[2 * m], &la);
        bg_tokenizer_token_bytes(t, merges[2 * m + 1], &lb);
        total += 2 * (la + lb) + 2;
    }
    char *key = malloc(2 * maxlen + 1), *bpe = malloc(total), *js = NULL;
    json_t *obj = json_object();
    int rc = -1;
    if (!key || !bpe || !obj) goto oom;
    for (int32_t id = 0; id < n; id++) {
        size_t l;
        const char *s = bg_tokenizer_token_bytes(t, id, &l);
        map_token(s, l, b2u, key);
        if (json_object_set_new(obj, key, json_integer(id)) != 0) goto oom;
    }
    size_t w = (size_t)snprintf(bpe, total, "#version: 0.2\n");
    for (int32_t m = 0; m < n_merges; m++) {
        for (int k = 0; k < 2; k++) {
            size_t l;
            const char *s = bg_tokenizer_token_bytes(t, merges[2 * m + k], &l);
            w += map_token(s, l, b2u, bpe + w);
            bpe[w++] = k ? '\n' : ' ';
        }
    }
    if (!(js = json_dumps(obj, JSON_COMPACT))) goto oom;
    if (write_atomic(dir, "encoder.json", js, strlen(js), err, errlen) == 0 &&
        write_atomic(dir, "vocab.bpe", bpe, w, err, errlen) == 0)
        rc = 0;
    goto done;
oom:
    set_err(err, errlen, "tokenizer folder '%s': out of memory while saving", dir);
done:
    json_decref(obj);
    free(key), free(bpe), free(js);
    return rc;
}
