/* nn/safetensors.c - reading and writing the safetensors format:
 *   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data]
 * The header maps each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets relative to the data section) and may hold a
 * "__metadata__" object of string pairs. Everything is validated before any
 * tensor is read: lengths, JSON, dtypes, shape sizes against offsets, bounds,
 * and that the tensors cover the data end to end without overlapping. Writes
 * are atomic: temp file, fsync, rename, fsync folder. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20)

typedef struct {
    char *name;
    nb_dtype dt; /* what nabla reads it as */
    int wide;    /* 0: stored as dt; 1: I64 in the file, read as i32; 2: F64, read as f32 */
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    uint64_t begin, end; /* relative to the data section */
} st_entry;

struct nb_safetensors {
    char *what;
    uint8_t *buf;
    size_t len;
    size_t data_start;
    int n;
    st_entry *e;
    int n_meta;
    char **mkeys, **mvals;
};

static bool little_endian(void) {
    const uint16_t x = 1;
    uint8_t b;
    memcpy(&b, &x, 1);
    return b == 1;
}

static const char *st_dtype_name(nb_dtype dt) {
    switch (dt) {
    case NB_F32: return "F32";
    case NB_I32: return "I32";
    case NB_F16: return "F16";
    case NB_BF16: return "BF16";
    default: return NULL;
    }
}

/* 0 and *dt for a supported dtype (I64 and F64, torch's defaults, are read as i32 and f32: *wide
 * 1 or 2); 1 for a dtype of the format nabla cannot hold; -1 unknown. */
static int st_dtype_parse(const char *s, nb_dtype *dt, int *wide) {
    static const char *const other[] = {"BOOL", "U8", "I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"};
    *wide = strcmp(s, "I64") == 0 ? 1 : strcmp(s, "F64") == 0 ? 2 : 0;
    if (*wide) {
        *dt = *wide == 1 ? NB_I32 : NB_F32;
        return 0;
    }
    for (int d = 0; d < NB_DTYPE_COUNT; d++)
        if (st_dtype_name((nb_dtype)d) && strcmp(s, st_dtype_name((nb_dtype)d)) == 0) {
            *dt = (nb_dtype)d;
            return 0;
        }
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        if (strcmp(s, other[i]) == 0) return 1;
    return -1;
}

void nb_safetensors_close(nb_safetensors *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++)
        free(f->e[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->mkeys[i]);
        free(f->mvals[i]);
    }
    free(f->e);
    free(f->mkeys);
    free(f->mvals);
    free(f->buf);
    free(f->what);
    free(f);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int cmp_begin(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Parses metadata object `md` into f. 0/-1 (message set). */
static int parse_meta(nb_safetensors *f, json_t *md) {
    if (!json_is_object(md))
        return nb_set_error("safetensors %s: __metadata__ is not an object", f->what), -1;
    size_t n = json_object_size(md);
    f->mkeys = calloc(n ? n : 1, sizeof(char *));
    f->mvals = calloc(n ? n : 1, sizeof(char *));
    if (!f->mkeys || !f->mvals) return nb_set_error("safetensors %s: out of memory", f->what), -1;
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v) {
        if (!json_is_string(v))
            return nb_set_error("safetensors %s: metadata value of '%.80s' is not a string", f->what, k), -1;
        f->mkeys[f->n_meta] = dup_str(k);
        f->mvals[f->n_meta] = dup_str(json_string_value(v));
        if (!f->mkeys[f->n_meta] || !f->mvals[f->n_meta]) {
            free(f->mkeys[f->n_meta]);
            free(f->mvals[f->n_meta]);
            return nb_set_error("safetensors %s: out of memory", f->what), -1;
        }
        f->n_meta++;
    }
    return 0;
}

/* Parses one tensor entry. 0/-1 (message set). */
static int parse_entry(nb_safetensors *f, const char *name, json_t *v, st_entry *e, uint64_t data_len) {
    const char *w = f->what;
    if (!json_is_object(v))
        return nb_set_error("safetensors %s: entry '%.80s' is not an object", w, name), -1;
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off))
        return nb_set_error("safetensors %s: tensor '%.80s' lacks dtype, shape or data_offsets", w, name), -1;
    int k = st_dtype_parse(json_string_value(dt), &e->dt, &e->wide);
    if (k != 0)
        return nb_set_error("safetensors %s: tensor '%.80s' has %s dtype '%.20s'", w, name,
                            k > 0 ? "unsupported" : "unknown", json_string_value(dt)),
               -1;
    size_t nd = json_array_size(sh);
    if (nd > NB_MAX_DIMS)
        return nb_set_error("safetensors %s: tensor '%.80s' has %zu dimensions (at most %d)", w, name, nd,
                            NB_MAX_DIMS),
               -1;
    e->ndim = (int)nd;
    uint64_t numel = 1;
    bool big = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return nb_set_error("safetensors %s: tensor '%.80s' has an invalid shape entry %zu", w, name, i),
                   -1;
        uint64_t s = (uint64_t)json_integer_value(d);
        e->shape[i] = (int64_t)s;
        if (s != 0 && numel > UINT64_MAX / 16 / s)
            big = true;
        else
            numel *= s;
    }
    if (json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)) || json_integer_value(json_array_get(off, 0)) < 0 ||
        json_integer_value(json_array_get(off, 1)) < 0)
        return nb_set_error("safetensors %s: tensor '%.80s' has invalid data_offsets", w, name), -1;
    e->begin = (uint64_t)json_integer_value(json_array_get(off, 0));
    e->end = (uint64_t)json_integer_value(json_array_get(off, 1));
    if (e->begin > e->end || e->end > data_len)
        return nb_set_error("safetensors %s: tensor '%.80s' data_offsets [%llu,%llu] out of range "
                            "(data section is %llu bytes)",
                            w, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                            (unsigned long long)data_len),
               -1;
    bool zero = false;
    for (int i = 0; i < e->ndim; i++)
        zero = zero || e->shape[i] == 0;
    uint64_t nbytes = zero ? 0 : numel * (e->wide ? 8 : nb_dtype_size(e->dt));
    if ((big && !zero) || nbytes != e->end - e->begin)
        return nb_set_error("safetensors %s: tensor '%.80s' shape needs %s%llu bytes but "
                            "data_offsets span %llu",
                            w, name, big && !zero ? "over " : "", (unsigned long long)nbytes,
                            (unsigned long long)(e->end - e->begin)),
               -1;
    e->name = dup_str(name);
    if (!e->name) return nb_set_error("safetensors %s: out of memory", w), -1;
    return 0;
}

/* Validates f->buf/len and fills the entries. 0/-1. */
static int parse(nb_safetensors *f) {
    const char *w = f->what;
    if (!little_endian()) return nb_set_error("safetensors %s: big-endian hosts are not supported", w), -1;
    if (f->len < 8)
        return nb_set_error("safetensors %s: file is %zu bytes, too short for the 8-byte header "
                            "length",
                            w, f->len),
               -1;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->buf[i];
    if (hlen > f->len - 8)
        return nb_set_error("safetensors %s: header length %llu exceeds the file size (%zu bytes): "
                            "truncated or corrupt",
                            w, (unsigned long long)hlen, f->len),
               -1;
    if (hlen > ST_MAX_HEADER)
        return nb_set_error("safetensors %s: header length %llu exceeds the 100 MB limit", w,
                            (unsigned long long)hlen),
               -1;
    if (hlen < 2)
        return nb_set_error("safetensors %s: header of %llu bytes is too short", w, (unsigned long long)hlen),
               -1;
    f->data_start = 8 + (size_t)hlen;
    uint64_t data_len = f->len - f->data_start;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return nb_set_error("safetensors %s: invalid JSON header at byte %d: %.200s", w, jerr.position,
                            jerr.text),
               -1;
    int rc = -1;
    if (!json_is_object(root)) {
        nb_set_error("safetensors %s: the header is not a JSON object", w);
        goto done;
    }
    size_t n = json_object_size(root);
    f->e = calloc(n ? n : 1, sizeof *f->e);
    if (!f->e) {
        nb_set_error("safetensors %s: out of memory", w);
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "__metadata__") == 0) {
            if (parse_meta(f, v)) goto done;
            continue;
        }
        if (parse_entry(f, k, v, &f->e[f->n], data_len)) goto done;
        f->n++;
    }
    qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_begin);
    /* as the format's reference reader: in order of their offsets, the tensors cover the data
     * exactly, end to end (no overlap, no gap, nothing after the last) */
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->e[i].begin < at) {
            nb_set_error("safetensors %s: tensors '%.80s' and '%.80s' overlap", w, f->e[i - 1].name,
                         f->e[i].name);
            goto done;
        }
        if (f->e[i].begin > at) {
            nb_set_error("safetensors %s: %llu bytes before tensor '%.80s' belong to no tensor", w,
                         (unsigned long long)(f->e[i].begin - at), f->e[i].name);
            goto done;
        }
        at = f->e[i].end;
    }
    if (at != data_len) {
        nb_set_error(
            "safetensors %s: %llu bytes after the last tensor belong to no tensor (extra bytes at the "
            "end of the file?)",
            w, (unsigned long long)(data_len - at));
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

nb_safetensors *nb_safetensors_open_memory(const void *buf, size_t len, const char *what) {
    if (!buf && len) return nb_set_error("safetensors: NULL buffer");
    nb_safetensors *f = calloc(1, sizeof *f);
    if (!f) return nb_set_error("safetensors: out of memory");
    f->what = dup_str(what ? what : "<memory>");
    f->buf = malloc(len ? len : 1);
    if (!f->what || !f->buf) {
        nb_safetensors_close(f);
        return nb_set_error("safetensors: out of memory");
    }
    if (len) memcpy(f->buf, buf, len);
    f->len = len;
    if (parse(f)) {
        nb_safetensors_close(f);
        return NULL;
    }
    return f;
}

nb_safetensors *nb_safetensors_open(const char *path) {
    if (!path) return nb_set_error("safetensors_open: NULL path");
    FILE *fp = fopen(path, "rb");
    if (!fp) return nb_set_error("safetensors %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return nb_set_error("safetensors %s: cannot read its size: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return nb_set_error("safetensors %s: not a regular file%s", path,
                            S_ISDIR(st.st_mode) ? " (a directory)" : "");
    }
    nb_safetensors *f = calloc(1, sizeof *f);
    if (!f) {
        fclose(fp);
        return nb_set_error("safetensors %s: out of memory", path);
    }
    f->what = dup_str(path);
    f->len = (size_t)st.st_size;
    f->buf = malloc(f->len ? f->len : 1);
    if (!f->what || !f->buf) {
        fclose(fp);
        nb_safetensors_close(f);
        return nb_set_error("safetensors %s: out of memory reading %zu bytes", path, (size_t)st.st_size);
    }
    size_t got = fread(f->buf, 1, f->len, fp);
    fclose(fp);
    if (got != f->len) {
        nb_safetensors_close(f);
        return nb_set_error("safetensors %s: read %zu of %zu bytes", path, got, (size_t)st.st_size);
    }
    if (parse(f)) {
        nb_safetensors_close(f);
        return NULL;
    }
    return f;
}

int nb_safetensors_count(const nb_safetensors *f) { return f ? f->n : 0; }

const char *nb_safetensors_name(const nb_safetensors *f, int i) {
    return f && i >= 0 && i < f->n ? f->e[i].name : NULL;
}

int nb_safetensors_find(const nb_safetensors *f, const char *name) {
    if (!f || !name) return -1;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0) return i;
    return -1;
}

int nb_safetensors_info(const nb_safetensors *f, int i, nb_dtype *dt, int *ndim, int64_t *shape) {
    if (!f || i < 0 || i >= f->n) return nb_set_error("safetensors_info: no tensor %d", i), -1;
    if (dt) *dt = f->e[i].dt;
    if (ndim) *ndim = f->e[i].ndim;
    if (shape) memcpy(shape, f->e[i].shape, sizeof(int64_t) * (size_t)f->e[i].ndim);
    return 0;
}

static const st_entry *lookup(const nb_safetensors *f, const char *name, const char *op) {
    if (!f && nb_last_error()[0]) return NULL; /* the failed open's message stays, as the ops' NULL guards */
    if (!f || !name) return nb_set_error("%s: NULL %s", op, f ? "name" : "file");
    int i = nb_safetensors_find(f, name);
    if (i < 0) return nb_set_error("%s %s: no tensor '%.120s'", op, f->what, name);
    return &f->e[i];
}

static const char *file_dtype_name(const st_entry *e) {
    return e->wide == 1 ? "I64" : e->wide == 2 ? "F64" : st_dtype_name(e->dt);
}

/* Fills dst (host memory of e's numel elements of e->dt) from the file: a copy, or I64 -> i32
 * (every value must fit) and F64 -> f32 (rounded; beyond the f32 range, +-inf). 0/-1. */
static int load(const nb_safetensors *f, const st_entry *e, void *dst, const char *op) {
    const uint8_t *src = f->buf + f->data_start + e->begin;
    const uint64_t nbytes = e->end - e->begin;
    if (!e->wide) {
        if (nbytes) memcpy(dst, src, nbytes);
        return 0;
    }
    for (uint64_t i = 0; i < nbytes / 8; i++) {
        if (e->wide == 1) {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return nb_set_error(
                           "%s %s: tensor '%.120s' holds the I64 value %lld at %llu, outside the i32 range "
                           "nabla reads I64 into",
                           op, f->what, e->name, (long long)v, (unsigned long long)i),
                       -1;
            ((int32_t *)dst)[i] = (int32_t)v;
        } else {
            double v;
            memcpy(&v, src + 8 * i, 8);
            /* 0x1.ffffffp127 is halfway between FLT_MAX and 2^128: it and beyond round to inf */
            ((float *)dst)[i] = v >= 0x1.ffffffp127 ? INFINITY : v <= -0x1.ffffffp127 ? -INFINITY : (float)v;
        }
    }
    return 0;
}

nb_tensor *nb_safetensors_read(const nb_safetensors *f, nb_ctx *ctx, const char *name) {
    const st_entry *e = lookup(f, name, "safetensors_read");
    if (!e) return NULL;
    nb_tensor *t = nb_empty(ctx ? ctx : nb_ctx_current(), e->dt, e->ndim, e->shape);
    if (!t) return NULL;
    return load(f, e, nb_data(t), "safetensors_read") ? NULL : t;
}

int nb_safetensors_read_into(const nb_safetensors *f, const char *name, nb_tensor *dst) {
    const st_entry *e = lookup(f, name, "safetensors_read_into");
    if (!e) return -1;
    if (!dst) return nb_set_error("safetensors_read_into %s: NULL destination for '%s'", f->what, name), -1;
    if (nb_check_writable("safetensors_read_into", dst)) return -1;
    bool fl_e = e->dt == NB_F32 || e->dt == NB_F16 || e->dt == NB_BF16;
    bool fl_d = dst->dtype == NB_F32 || dst->dtype == NB_F16 || dst->dtype == NB_BF16;
    if ((e->dt != dst->dtype && !(fl_e && fl_d)) || e->ndim != dst->ndim ||
        memcmp(e->shape, dst->shape, sizeof(int64_t) * (size_t)e->ndim) != 0) {
        char a[128], b[128];
        return nb_set_error("safetensors_read_into %s: tensor '%.120s' is %s %s in the file, %s %s in "
                            "the destination",
                            f->what, name, file_dtype_name(e), nb_fmt_shape(e->ndim, e->shape, a, sizeof a),
                            st_dtype_name(dst->dtype), nb_shape_str(dst, b, sizeof b)),
               -1;
    }
    if (dst->device == NB_CPU && nb_is_contiguous(dst) && e->dt == dst->dtype && !e->wide) {
        nb_mark_written(dst);
        return load(f, e, nb_data(dst), "safetensors_read_into");
    }
    nb_ctx *tmp = nb_ctx_new(((size_t)(e->end - e->begin) + 8191) & ~(size_t)4095);
    if (!tmp) return -1;
    nb_tensor *t = nb_empty(tmp, e->dt, e->ndim, e->shape);
    int rc = -1;
    if (t && !load(f, e, nb_data(t), "safetensors_read_into")) rc = nb_copy_(dst, t);
    nb_ctx_free(tmp);
    return rc;
}

const char *nb_safetensors_meta(const nb_safetensors *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->mkeys[i], key) == 0) return f->mvals[i];
    return NULL;
}

int nb_safetensors_meta_count(const nb_safetensors *f) { return f ? f->n_meta : 0; }

const char *nb_safetensors_meta_key(const nb_safetensors *f, int i) {
    return f && i >= 0 && i < f->n_meta ? f->mkeys[i] : NULL;
}

const char *nb_safetensors_meta_value(const nb_safetensors *f, int i) {
    return f && i >= 0 && i < f->n_meta ? f->mvals[i] : NULL;
}
