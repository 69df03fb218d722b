/* data.c - DialogSum CSV / JSONL loaders, splits and the document format (see data.h). */
#include "examples/babygpt/data.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_reserve(sbuf *s, size_t extra) {
    if (s->oom) return;
    if (s->n + extra + 1 <= s->cap) return;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->n + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            s->oom = 1;
            return;
        }
        cap *= 2;
    }
    char *np = realloc(s->p, cap);
    if (!np) {
        s->oom = 1;
        return;
    }
    s->p = np;
    s->cap = cap;
}

static void sb_put(sbuf *s, const char *d, size_t n) {
    sb_reserve(s, n);
    if (s->oom) return;
    memcpy(s->p + s->n, d, n);
    s->n += n;
    s->p[s->n] = '\0';
}

static void sb_putc(sbuf *s, char c) { sb_put(s, &c, 1); }

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void warnf(bg_warn_fn warn, void *user, const char *fmt, ...) {
    if (!warn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(user, msg);
}

static int is_blank(int c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* malloc'd copy of s[0..n) with surrounding whitespace removed; NULL on OOM. */
static char *dup_trim(const char *s, size_t n) {
    while (n && is_blank((unsigned char)*s))
        s++, n--;
    while (n && is_blank((unsigned char)s[n - 1]))
        n--;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int all_blank(const char *s) {
    for (; s && *s; s++)
        if (!is_blank((unsigned char)*s)) return 0;
    return 1;
}

void bg_warn_stderr(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "babygpt: warning: %s (row skipped)\n", msg);
}

/* ---- splits ----------------------------------------------------------------------------- */

void bg_split_free(bg_split *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->ex[i].id);
        free(s->ex[i].dialogue);
        free(s->ex[i].summary);
        free(s->ex[i].topic);
    }
    free(s->ex);
    memset(s, 0, sizeof *s);
}

static int split_grow(bg_split *s, size_t need) {
    if (need <= s->cap) return 0;
    size_t cap = s->cap ? s->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    bg_example *ne = realloc(s->ex, cap * sizeof *ne);
    if (!ne) return -1;
    s->ex = ne;
    s->cap = cap;
    return 0;
}

int bg_split_add(bg_split *s, const char *id, const char *dialogue, const char *summary, const char *topic) {
    if (!s || !dialogue || split_grow(s, s->n + 1)) return -1;
    bg_example e = {strdup(id ? id : ""), strdup(dialogue), summary ? strdup(summary) : NULL,
                    strdup(topic ? topic : "")};
    if (!e.id || !e.dialogue || !e.topic || (summary && !e.summary)) {
        free(e.id), free(e.dialogue), free(e.summary), free(e.topic);
        return -1;
    }
    s->ex[s->n++] = e;
    return 0;
}

/* Adds an example from raw field text: id/topic/summary trimmed, empty summary => NULL. */
static int add_fields(bg_split *s, const char *id, size_t idn, const char *dia, size_t dian, const char *sum,
                      size_t sumn, const char *top, size_t topn) {
    char *i = dup_trim(id ? id : "", id ? idn : 0), *d = dup_trim(dia, dian);
    char *m = dup_trim(sum ? sum : "", sum ? sumn : 0), *t = dup_trim(top ? top : "", top ? topn : 0);
    int rc = -1;
    if (i && d && m && t) rc = bg_split_add(s, i, d, *m ? m : NULL, t);
    free(i), free(d), free(m), free(t);
    return rc;
}

/* Frees the examples from index n on. */
static void split_truncate(bg_split *s, size_t n) {
    for (size_t i = n; i < s->n; i++) {
        free(s->ex[i].id), free(s->ex[i].dialogue);
        free(s->ex[i].summary), free(s->ex[i].topic);
    }
    if (n < s->n) s->n = n;
}

static const char *id_of(const bg_split *s, size_t k) { return s->ex[k].id ? s->ex[k].id : ""; }

static int same_group(const bg_split *s, size_t k) {
    return *id_of(s, k) && strcmp(id_of(s, k), id_of(s, k - 1)) == 0;
}

int bg_split_carve(bg_split *all, double frac, bg_split *val) {
    if (!all || !val || all->n < 2 || !(frac > 0)) return 0;
    size_t n = all->n, nv = (size_t)((double)n * (frac < 1 ? frac : 1) + 0.5);
    if (nv < 1) nv = 1;
    if (nv > n - 1) nv = n - 1;
    size_t k0 = n - nv, k = k0;
    while (k < n && same_group(all, k))
        k++;
    if (k == n) {
        k = k0;
        while (k > 1 && same_group(all, k))
            k--;
        if (same_group(all, k)) k = k0;
    }
    if (split_grow(val, val->n + (n - k))) return -1;
    memcpy(val->ex + val->n, all->ex + k, (n - k) * sizeof *all->ex);
    val->n += n - k;
    all->n = k;
    return 0;
}

/* ---- CSV -------------------------------------------------------------------------------- */

enum { REC_OK, REC_EOF, REC_ERR };

typedef struct {
    const char *b;
    size_t len, pos, line; /* line: 1-based physical line of b[pos] */
    sbuf buf;              /* field bytes, each field NUL-terminated */
    size_t *off, nf, capf; /* field start offsets into buf */
    size_t *flen;          /* field lengths */
    int nul;               /* a field held a NUL byte */
    const char *why;       /* error message for REC_ERR */
    size_t start_line, err_line;
} csv_rd;

static int csv_push_field(csv_rd *r, size_t start) {
    if (r->nf == r->capf) {
        size_t cap = r->capf ? r->capf * 2 : 8;
        size_t *no = realloc(r->off, cap * sizeof *no);
        if (!no) return -1;
        r->off = no;
        size_t *nl = realloc(r->flen, cap * sizeof *nl);
        if (!nl) return -1;
        r->flen = nl;
        r->capf = cap;
    }
    r->off[r->nf] = start;
    r->flen[r->nf++] = r->buf.n - start;
    sb_putc(&r->buf, '\0');
    return r->buf.oom ? -1 : 0;
}

/* Resumes after the line end that follows position p (a line numbered `line`). */
static void csv_skip_line(csv_rd *r, size_t p, size_t line) {
    while (p < r->len && r->b[p] != '\n' && r->b[p] != '\r')
        p++;
    if (p < r->len) {
        if (r->b[p] == '\r' && p + 1 < r->len && r->b[p + 1] == '\n') p++;
        p++;
    }
    r->pos = p;
    r->line = line + 1;
}

/* Consumes one line end at pos (CRLF, LF or CR). */
static void csv_eol(csv_rd *r) {
    if (r->b[r->pos] == '\r' && r->pos + 1 < r->len && r->b[r->pos + 1] == '\n') r->pos++;
    r->pos++;
    r->line++;
}

/* Reads one record. REC_ERR leaves pos at the place to resume and sets why / err_line. */
static int csv_record(csv_rd *r) {
    r->nf = 0;
    r->buf.n = 0;
    r->nul = 0;
    r->start_line = r->line;
    size_t start_pos = r->pos;
    if (r->pos >= r->len) return REC_EOF;
    for (;;) {
        size_t fstart = r->buf.n;
        if (r->b[r->pos] == '"') {
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) {
                    r->why = "unterminated quoted field";
                    r->err_line = r->start_line;
                    csv_skip_line(r, start_pos, r->start_line);
                    return REC_ERR;
                }
                char c = r->b[r->pos];
                if (c == '"') {
                    if (r->pos + 1 < r->len && r->b[r->pos + 1] == '"') {
                        sb_putc(&r->buf, '"');
                        r->pos += 2;
                        continue;
                    }
                    r->pos++;
                    break;
                }
                if (c == '\r' || c == '\n') {
                    sb_putc(&r->buf, '\n');
                    csv_eol(r);
                    continue;
                }
                if (c == '\0') r->nul = 1;
                sb_putc(&r->buf, c);
                r->pos++;
            }
            if (r->pos < r->len && r->b[r->pos] != ',' && r->b[r->pos] != '\r' && r->b[r->pos] != '\n') {
                r->why = "unexpected text after a closing quote (quotes inside a quoted field "
                         "must be doubled)";
                r->err_line = r->line;
                csv_skip_line(r, r->pos, r->line);
                return REC_ERR;
            }
        } else {
            while (r->pos < r->len) {
                char c = r->b[r->pos];
                if (c == ',' || c == '\r' || c == '\n') break;
                if (c == '\0') r->nul = 1;
                sb_putc(&r->buf, c);
                r->pos++;
            }
        }
        if (csv_push_field(r, fstart)) {
            r->why = "out of memory";
            r->err_line = r->start_line;
            r->pos = r->len;
            return REC_ERR;
        }
        if (r->pos >= r->len) return REC_OK;
        if (r->b[r->pos] == ',') {
            r->pos++;
            if (r->pos >= r->len) { /* trailing comma at EOF: one more empty field */
                if (csv_push_field(r, r->buf.n)) return REC_EOF;
                return REC_OK;
            }
            continue;
        }
        csv_eol(r);
        return REC_OK;
    }
}

static const char *csv_field(const csv_rd *r, size_t i) { return r->buf.p + r->off[i]; }

static int col_is(const char *f, const char *name) {
    const char *s = f;
    if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
        s += 3; /* UTF-8 byte order mark */
    while (is_blank((unsigned char)*s))
        s++;
    size_t n = strlen(name);
    if (strncasecmp(s, name, n) != 0) return 0;
    for (s += n; *s; s++)
        if (!is_blank((unsigned char)*s)) return 0;
    return 1;
}

static int load_csv(const char *buf, size_t len, const char *name, bg_split *out, bg_warn_fn warn, void *user,
                    char *err, size_t errlen) {
    csv_rd r = {.b = buf, .len = len, .line = 1};
    long col[4] = {-1, -1, -1, -1}; /* id, dialogue, summary, topic */
    static const char *names[4] = {"id", "dialogue", "summary", "topic"};
    size_t nhead = 0, before = out->n;
    int rc = -1, st;
    /* header: the first non-blank record */
    while ((st = csv_record(&r)) == REC_OK && r.nf == 1 && all_blank(csv_field(&r, 0))) {
    }
    if (st == REC_EOF) {
        set_err(err, errlen, "%s: empty file (no CSV header)", name);
        goto done;
    }
    if (st == REC_ERR) {
        set_err(err, errlen, "%s:%zu: bad CSV header: %s", name, r.err_line, r.why);
        goto done;
    }
    nhead = r.nf;
    long fname = -1; /* DialogSum's other name for the id, used when there is no 'id' */
    for (size_t i = 0; i < r.nf; i++)
        for (int c = 0; c < 5; c++) {
            const char *want = c < 4 ? names[c] : "fname";
            long *slot = c < 4 ? &col[c] : &fname;
            if (!col_is(csv_field(&r, i), want)) continue;
            if (*slot >= 0) { /* which one holds the data would be a guess */
                set_err(err, errlen, "%s:%zu: CSV header has two '%s' columns (%ld and %zu)", name,
                        r.start_line, want, *slot + 1, i + 1);
                goto done;
            }
            *slot = (long)i;
        }
    if (col[0] < 0) col[0] = fname;
    if (col[1] < 0) {
        set_err(err, errlen, "%s:%zu: CSV header has no 'dialogue' column", name, r.start_line);
        goto done;
    }
    while ((st = csv_record(&r)) != REC_EOF) {
        if (st == REC_ERR) {
            warnf(warn, user, "%s:%zu: %s", name, r.err_line, r.why);
            out->skipped++;
            continue;
        }
        if (r.nf == 1 && r.flen[0] == 0) continue; /* blank line */
        const char *why = NULL;
        if (r.nf != nhead) {
            warnf(warn, user, "%s:%zu: wrong number of fields: expected %zu, got %zu", name, r.start_line,
                  nhead, r.nf);
            out->skipped++;
            continue;
        }
        if (r.nul)
            why = "NUL byte inside a field";
        for (int c = 0; c < 4 && !why; c++)
            if (col[c] >= 0 && !bg_utf8_valid(csv_field(&r, (size_t)col[c]), r.flen[col[c]]))
                why = "invalid UTF-8 in a field";
            else if (all_blank(csv_field(&r, (size_t)col[1])))
                why = "missing dialogue";
        if (why) {
            warnf(warn, user, "%s:%zu: %s", name, r.start_line, why);
            out->skipped++;
            continue;
        }
        const char *f[4] = {NULL, NULL, NULL, NULL};
        size_t fl[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++)
            if (col[c] >= 0) f[c] = csv_field(&r, (size_t)col[c]), fl[c] = r.flen[col[c]];
        if (add_fields(out, f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3], fl[3])) {
            set_err(err, errlen, "%s:%zu: out of memory", name, r.start_line);
            goto done;
        }
    }
    if (out->n == before) {
        set_err(err, errlen, "%s: no valid rows", name);
        goto done;
    }
    rc = 0;
done:
    if (rc) split_truncate(out, before);
    free(r.buf.p);
    free(r.off);
    free(r.flen);
    return rc;
}

/* ---- JSON lines ------------------------------------------------------------------------- */

/* Reads an optional string member: 0 ok (*s NULL if absent/null), -1 wrong type. Integers
 * are accepted for ids and printed into numbuf. */
static int json_str(json_t *o, const char *key, const char **s, char *numbuf, size_t numlen) {
    json_t *v = json_object_get(o, key);
    *s = NULL;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        *s = json_string_value(v);
        return 0;
    }
    if (numbuf && json_is_integer(v)) {
        snprintf(numbuf, numlen, "%lld", (long long)json_integer_value(v));
        *s = numbuf;
        return 0;
    }
    return -1;
}

/* Adds one example from a JSON value (where: "file:line" or "file: element i", for warnings);
 * 1 = added, 0 = skipped (warned), -1 = out of memory. Does not take o. */
static int json_row(json_t *o, const char *where, bg_split *out, bg_warn_fn warn, void *user) {
    int rc = 0;
    const char *id = NULL, *dia = NULL, *top = NULL, *sum[4] = {NULL, NULL, NULL, NULL};
    static const char *skeys[4] = {"summary", "summary1", "summary2", "summary3"};
    char num[32];
    const char *bad = NULL;
    if (!json_is_object(o)) {
        warnf(warn, user, "%s: not a JSON object", where);
        goto done;
    }
    if (json_str(o, "dialogue", &dia, NULL, 0))
        bad = "dialogue";
    else if (json_str(o, "fname", &id, num, sizeof num))
        bad = "fname";
    else if (!id && json_str(o, "id", &id, num, sizeof num))
        bad = "id";
    else if (json_str(o, "topic", &top, NULL, 0))
        bad = "topic";
    for (int k = 0; k < 4 && !bad; k++)
        if (json_str(o, skeys[k], &sum[k], NULL, 0)) bad = skeys[k];
    if (bad) {
        warnf(warn, user, "%s: field '%s' is not a string", where, bad);
        goto done;
    }
    if (!dia || all_blank(dia)) {
        warnf(warn, user, "%s: missing dialogue", where);
        goto done;
    }
    size_t dn = strlen(dia), idn = id ? strlen(id) : 0, tn = top ? strlen(top) : 0;
    int added = 0;
    for (int k = 0; k < 4; k++) {
        if (!sum[k] || all_blank(sum[k])) continue;
        if (add_fields(out, id, idn, dia, dn, sum[k], strlen(sum[k]), top, tn)) {
            rc = -1;
            goto done;
        }
        added = 1;
    }
    if (!added && add_fields(out, id, idn, dia, dn, NULL, 0, top, tn)) {
        rc = -1;
        goto done;
    }
    rc = 1;
done:
    return rc;
}

/* Parses one JSON line; as json_row. */
static int jsonl_row(const char *p, size_t n, const char *name, size_t line, bg_split *out, bg_warn_fn warn,
                     void *user) {
    json_error_t je;
    json_t *o = json_loadb(p, n, 0, &je);
    if (!o) {
        warnf(warn, user, "%s:%zu: invalid JSON: %s", name, line, je.text);
        return 0;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:%zu", name, line);
    int rc = json_row(o, where, out, warn, user);
    json_decref(o);
    return rc;
}

/* Whether the first line of buf is complete JSON by itself (then a file starting with '[' that
 * does not parse whole is JSON lines whose first row is an array, not a broken array). */
static int json_array_line_ok(const char *buf, size_t len) {
    const char *nl = memchr(buf, '\n', len);
    if (!nl) return 0;
    json_t *v = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
    json_decref(v);
    return v != NULL;
}

/* A whole-file JSON array of example objects (a .json export); 0, -1 with err, or 1 when the
 * file is JSON lines after all. */
static int load_json_array(const char *buf, size_t len, const char *name, bg_split *out, bg_warn_fn warn,
                           void *user, char *err, size_t errlen) {
    json_error_t je;
    json_t *a = json_loadb(buf, len, 0, &je);
    if (!a && je.line > 1 && json_array_line_ok(buf, len)) return 1; /* JSON lines after all */
    if (!json_is_array(a)) {
        if (a)
            set_err(err, errlen, "%s: expected a JSON array of objects", name);
        else
            set_err(err, errlen, "%s:%d:%d: invalid JSON: %s", name, je.line, je.column, je.text);
        json_decref(a);
        return -1;
    }
    size_t before = out->n;
    for (size_t i = 0; i < json_array_size(a); i++) {
        char where[512];
        snprintf(where, sizeof where, "%s: element %zu", name, i);
        int rc = json_row(json_array_get(a, i), where, out, warn, user);
        if (rc < 0) {
            set_err(err, errlen, "%s: out of memory", where);
            split_truncate(out, before);
            json_decref(a);
            return -1;
        }
        if (rc == 0) out->skipped++;
    }
    size_t n = json_array_size(a);
    json_decref(a);
    if (out->n == before) {
        set_err(err, errlen, n ? "%s: no valid elements" : "%s: empty array", name);
        return -1;
    }
    return 0;
}

static int load_jsonl(const char *buf, size_t len, const char *name, bg_split *out, bg_warn_fn warn,
                      void *user, char *err, size_t errlen) {
    size_t before = out->n, line = 0, pos = 0, bom = 0, lead;
    int any_line = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) bom = 3;
    for (lead = bom; lead < len && is_blank((unsigned char)buf[lead]); lead++) {
    }
    if (lead < len && buf[lead] == '[') { /* past the BOM only, so that jansson's line numbers hold */
        int rc = load_json_array(buf + bom, len - bom, name, out, warn, user, err, errlen);
        if (rc <= 0) return rc;
    }
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, n = end - pos;
        const char *p = buf + pos;
        line++;
        pos = nl ? end + 1 : len;
        size_t k = 0;
        while (k < n && is_blank((unsigned char)p[k]))
            k++;
        if (k == n) continue;
        any_line = 1;
        int rc = jsonl_row(p, n, name, line, out, warn, user);
        if (rc < 0) {
            set_err(err, errlen, "%s:%zu: out of memory", name, line);
            split_truncate(out, before);
            return -1;
        }
        if (rc == 0) out->skipped++;
    }
    if (out->n == before) {
        set_err(err, errlen, any_line ? "%s: no valid rows" : "%s: empty file", name);
        return -1;
    }
    return 0;
}

/* ---- entry point ----------------------------------------------------------------------- */

static bg_format sniff(const char *buf, size_t len) {
    size_t i = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        i = 3;
    while (i < len && is_blank((unsigned char)buf[i]))
        i++;
    if (i < len && buf[i] == '[') { /* a JSON array of objects, not a CSV cell starting with '[' */
        size_t k = i + 1;
        while (k < len && is_blank((unsigned char)buf[k]))
            k++;
        return k < len && (buf[k] == '{' || buf[k] == ']') ? BG_FMT_JSONL : BG_FMT_CSV;
    }
    return i < len && buf[i] == '{' ? BG_FMT_JSONL : BG_FMT_CSV;
}

int bg_load_buffer(const char *buf, size_t len, bg_format fmt, const char *name, bg_split *out,
                   bg_warn_fn warn, void *user, char *err, size_t errlen) {
    if (!name) name = "<buffer>";
    if (!out || (!buf && len)) {
        set_err(err, errlen, "%s: no buffer or no output split", name);
        return -1;
    }
    if (!buf) buf = "";
    if (fmt == BG_FMT_AUTO) fmt = sniff(buf, len);
    if (fmt == BG_FMT_JSONL) return load_jsonl(buf, len, name, out, warn, user, err, errlen);
    return load_csv(buf, len, name, out, warn, user, err, errlen);
}
