/* data.c - DialogSum CSV / JSONL loaders, splits and the document format (see data.h). */
#include "examples/babygpt/data.h"
#include "examples/babygpt/data_internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---------------------------------------------------------------------- */

static void sb_reserve(bg_sbuf *s, size_t extra) {
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

void bg_sb_put(bg_sbuf *s, const char *d, size_t n) {
    sb_reserve(s, n);
    if (s->oom) return;
    memcpy(s->p + s->n, d, n);
    s->n += n;
    s->p[s->n] = '\0';
}

void bg_set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void bg_warnf(bg_warn_fn warn, void *user, const char *fmt, ...) {
    if (!warn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(user, msg);
}

int bg_is_blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* malloc'd copy of s[0..n) with surrounding whitespace removed; NULL on OOM. */
static char *dup_trim(const char *s, size_t n) {
    while (n && bg_is_blank((unsigned char)*s))
        s++, n--;
    while (n && bg_is_blank((unsigned char)s[n - 1]))
        n--;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int bg_all_blank(const char *s) {
    for (; s && *s; s++)
        if (!bg_is_blank((unsigned char)*s)) return 0;
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
int bg_split_add_fields(bg_split *s, const char *id, size_t idn, const char *dia, size_t dian,
                        const char *sum, size_t sumn, const char *top, size_t topn) {
    char *i = dup_trim(id ? id : "", id ? idn : 0), *d = dup_trim(dia, dian);
    char *m = dup_trim(sum ? sum : "", sum ? sumn : 0), *t = dup_trim(top ? top : "", top ? topn : 0);
    int rc = -1;
    if (i && d && m && t) rc = bg_split_add(s, i, d, *m ? m : NULL, t);
    free(i), free(d), free(m), free(t);
    return rc;
}

/* Frees the examples from index n on. */
void bg_split_truncate(bg_split *s, size_t n) {
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
        bg_warnf(warn, user, "%s: not a JSON object", where);
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
        bg_warnf(warn, user, "%s: field '%s' is not a string", where, bad);
        goto done;
    }
    if (!dia || bg_all_blank(dia)) {
        bg_warnf(warn, user, "%s: missing dialogue", where);
        goto done;
    }
    size_t dn = strlen(dia), idn = id ? strlen(id) : 0, tn = top ? strlen(top) : 0;
    int added = 0;
    for (int k = 0; k < 4; k++) {
        if (!sum[k] || bg_all_blank(sum[k])) continue;
        if (bg_split_add_fields(out, id, idn, dia, dn, sum[k], strlen(sum[k]), top, tn)) {
            rc = -1;
            goto done;
        }
        added = 1;
    }
    if (!added && bg_split_add_fields(out, id, idn, dia, dn, NULL, 0, top, tn)) {
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
        bg_warnf(warn, user, "%s:%zu: invalid JSON: %s", name, line, je.text);
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
            bg_set_err(err, errlen, "%s: expected a JSON array of objects", name);
        else
            bg_set_err(err, errlen, "%s:%d:%d: invalid JSON: %s", name, je.line, je.column, je.text);
        json_decref(a);
        return -1;
    }
    size_t before = out->n;
    for (size_t i = 0; i < json_array_size(a); i++) {
        char where[512];
        snprintf(where, sizeof where, "%s: element %zu", name, i);
        int rc = json_row(json_array_get(a, i), where, out, warn, user);
        if (rc < 0) {
            bg_set_err(err, errlen, "%s: out of memory", where);
            bg_split_truncate(out, before);
            json_decref(a);
            return -1;
        }
        if (rc == 0) out->skipped++;
    }
    size_t n = json_array_size(a);
    json_decref(a);
    if (out->n == before) {
        bg_set_err(err, errlen, n ? "%s: no valid elements" : "%s: empty array", name);
        return -1;
    }
    return 0;
}

static int load_jsonl(const char *buf, size_t len, const char *name, bg_split *out, bg_warn_fn warn,
                      void *user, char *err, size_t errlen) {
    size_t before = out->n, line = 0, pos = 0, bom = 0, lead;
    int any_line = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) bom = 3;
    for (lead = bom; lead < len && bg_is_blank((unsigned char)buf[lead]); lead++) {
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
        while (k < n && bg_is_blank((unsigned char)p[k]))
            k++;
        if (k == n) continue;
        any_line = 1;
        int rc = jsonl_row(p, n, name, line, out, warn, user);
        if (rc < 0) {
            bg_set_err(err, errlen, "%s:%zu: out of memory", name, line);
            bg_split_truncate(out, before);
            return -1;
        }
        if (rc == 0) out->skipped++;
    }
    if (out->n == before) {
        bg_set_err(err, errlen, any_line ? "%s: no valid rows" : "%s: empty file", name);
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
    while (i < len && bg_is_blank((unsigned char)buf[i]))
        i++;
    if (i < len && buf[i] == '[') { /* a JSON array of objects, not a CSV cell starting with '[' */
        size_t k = i + 1;
        while (k < len && bg_is_blank((unsigned char)buf[k]))
            k++;
        return k < len && (buf[k] == '{' || buf[k] == ']') ? BG_FMT_JSONL : BG_FMT_CSV;
    }
    return i < len && buf[i] == '{' ? BG_FMT_JSONL : BG_FMT_CSV;
}

int bg_load_buffer(const char *buf, size_t len, bg_format fmt, const char *name, bg_split *out,
                   bg_warn_fn warn, void *user, char *err, size_t errlen) {
    if (!name) name = "<buffer>";
    if (!out || (!buf && len)) {
        bg_set_err(err, errlen, "%s: no buffer or no output split", name);
        return -1;
    }
    if (!buf) buf = "";
    if (fmt == BG_FMT_AUTO) fmt = sniff(buf, len);
    if (fmt == BG_FMT_JSONL) return load_jsonl(buf, len, name, out, warn, user, err, errlen);
    return bg_load_csv(buf, len, name, out, warn, user, err, errlen);
}
