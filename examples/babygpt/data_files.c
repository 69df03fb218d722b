/* data_files.c - loading DialogSum files and dataset folders (see data.h). */
#include "examples/babygpt/data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* Reads a whole regular file; returns malloc'd bytes (NUL-terminated) or NULL with err. */
static char *read_all(const char *path, size_t *len, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "%s: is a folder, not a data file", path);
        return NULL;
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode)) { /* /dev/zero has no end */
        set_err(err, errlen, "%s: a device or socket, not a data file", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *nb = cap < SIZE_MAX / 4 ? realloc(buf, cap * 2 + 1) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || !buf) {
        set_err(err, errlen, "%s: %s", path, bad ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int bg_load_file(const char *path, bg_split *out, bg_warn_fn warn, void *user, char *err, size_t errlen) {
    if (!path || !out) {
        set_err(err, errlen, "bg_load_file: no path or no output split");
        return -1;
    }
    size_t len = 0;
    char *buf = read_all(path, &len, err, errlen);
    if (!buf) return -1;
    bg_format fmt = BG_FMT_AUTO;
    if (has_ext(path, ".csv"))
        fmt = BG_FMT_CSV;
    else if (has_ext(path, ".jsonl") || has_ext(path, ".json") || has_ext(path, ".ndjson"))
        fmt = BG_FMT_JSONL;
    int rc = bg_load_buffer(buf, len, fmt, path, out, warn, user, err, errlen);
    free(buf);
    return rc;
}

/* Finds <dir>/<stem>.{csv,jsonl,json}; returns a malloc'd path or NULL. A link that leads
 * nowhere counts as found, so that reading it reports the broken link by name. */
static char *find_split(const char *dir, const char *stem) {
    static const char *exts[] = {"csv", "jsonl", "json"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(dir) + strlen(stem) + 8;
        char *p = malloc(n);
        if (!p) return NULL;
        snprintf(p, n, "%s/%s.%s", dir, stem, exts[i]);
        struct stat st;
        if (stat(p, &st) == 0 ? !S_ISDIR(st.st_mode) : lstat(p, &st) == 0) return p;
        free(p);
    }
    return NULL;
}

int bg_load_dataset(const char *path, bg_split *train, bg_split *val, bg_warn_fn warn, void *user, char *err,
                    size_t errlen) {
    struct stat st;
    if (!path || !train) {
        set_err(err, errlen, "bg_load_dataset: no path or no train split");
        return -1;
    }
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *tp = NULL, *vp = NULL;
    int rc = -1;
    if (S_ISDIR(st.st_mode)) {
        tp = find_split(path, "train");
        if (!tp) {
            set_err(err, errlen, "%s: no train.csv, train.jsonl or train.json in this folder", path);
            return -1;
        }
        if (val && !(vp = find_split(path, "validation"))) vp = find_split(path, "dev");
    }
    if (bg_load_file(tp ? tp : path, train, warn, user, err, errlen)) goto done;
    if (vp) {
        if (bg_load_file(vp, val, warn, user, err, errlen)) {
            bg_split_free(train);
            goto done;
        }
    } else if (val && bg_split_carve(train, 0.1, val)) {
        set_err(err, errlen, "%s: out of memory", path);
        bg_split_free(train);
        bg_split_free(val);
        goto done;
    }
    rc = 0;
done:
    free(tp);
    free(vp);
    return rc;
}
