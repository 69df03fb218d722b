/* data_csv.c - the DialogSum CSV reader (RFC 4180 with CRLF, LF or CR line ends, quoted fields
 * over several lines, a byte order mark, blank lines): one row per record, malformed records
 * reported and skipped (see data.h). A quoted field the file ends inside takes the rest of the
 * file with it, as RFC 4180 (and Python's csv, and pandas) read it: a file cut short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "examples/babygpt/data.h"
#include "examples/babygpt/data_internal.h"

enum { REC_OK, REC_EOF, REC_ERR };

typedef struct {
    const char *b;
    size_t len, pos, line; /* line: 1-based physical line of b[pos] */
    bg_sbuf buf;           /* field bytes, each field NUL-terminated */
    size_t *off, nf, capf; /* field start offsets into buf */
    size_t *flen;          /* field lengths */
    int nul;               /* a field held a NUL byte */
    const char *why;       /* error message for REC_ERR */
    char whybuf[96];       /* room for a why with numbers in it */
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
    bg_sb_putc(&r->buf, '\0');
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

/* After a quoting error at pos, skips the rest of the broken record. Its quotes are taken in
 * pairs (an undoubled "word" inside a quoted field is the usual cause), so that a field that goes
 * on over later lines is skipped whole instead of being read back as fragments, which could pass
 * for rows. When that reading does not hold up (a quote that would close the field stands where a
 * new field would open, after a comma or at a line start, or the file ends inside it), only the
 * rest of the line is skipped. */
static void csv_skip_record(csv_rd *r) {
    size_t p = r->pos, line = r->line;
    int inq = 0;
    while (p < r->len) {
        char c = r->b[p];
        if (c == '"') {
            if (inq && p + 1 < r->len && r->b[p + 1] == '"') {
                p += 2;
                continue;
            }
            if (inq && (r->b[p - 1] == ',' || r->b[p - 1] == '\n' || r->b[p - 1] == '\r')) break;
            inq = !inq;
            p++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (c == '\r' && p + 1 < r->len && r->b[p + 1] == '\n') p++;
            p++;
            line++;
            if (!inq) {
                r->pos = p;
                r->line = line;
                return;
            }
            continue;
        }
        p++;
    }
    if (p >= r->len && !inq) {
        r->pos = p;
        r->line = line;
        return;
    }
    csv_skip_line(r, r->pos, r->line);
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
    if (r->pos >= r->len) return REC_EOF;
    for (;;) {
        size_t fstart = r->buf.n;
        if (r->b[r->pos] == '"') {
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) { /* the rest of the file is inside the quote: a file cut short */
                    size_t last =
                        r->line - (r->len > 0 && (r->b[r->len - 1] == '\n' || r->b[r->len - 1] == '\r'));
                    snprintf(r->whybuf, sizeof r->whybuf,
                             "unterminated quoted field: the file ends inside it (lines %zu-%zu)",
                             r->start_line, last > r->start_line ? last : r->start_line);
                    r->why = r->whybuf;
                    r->err_line = r->start_line;
                    return REC_ERR;
                }
                char c = r->b[r->pos];
                if (c == '"') {
                    if (r->pos + 1 < r->len && r->b[r->pos + 1] == '"') {
                        bg_sb_putc(&r->buf, '"');
                        r->pos += 2;
                        continue;
                    }
                    r->pos++;
                    break;
                }
                if (c == '\r' || c == '\n') {
                    bg_sb_putc(&r->buf, '\n');
                    csv_eol(r);
                    continue;
                }
                if (c == '\0') r->nul = 1;
                bg_sb_putc(&r->buf, c);
                r->pos++;
            }
            if (r->pos < r->len && r->b[r->pos] != ',' && r->b[r->pos] != '\r' && r->b[r->pos] != '\n') {
                r->why = "unexpected text after a closing quote (quotes inside a quoted field "
                         "must be doubled)";
                r->err_line = r->line;
                csv_skip_record(r);
                return REC_ERR;
            }
        } else {
            while (r->pos < r->len) {
                char c = r->b[r->pos];
                if (c == ',' || c == '\r' || c == '\n') break;
                if (c == '\0') r->nul = 1;
                bg_sb_putc(&r->buf, c);
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
    while (bg_is_blank((unsigned char)*s))
        s++;
    size_t n = strlen(name);
    if (strncasecmp(s, name, n) != 0) return 0;
    for (s += n; *s; s++)
        if (!bg_is_blank((unsigned char)*s)) return 0;
    return 1;
}

int bg_load_csv(const char *buf, size_t len, const char *name, bg_split *out, bg_warn_fn warn, void *user,
                char *err, size_t errlen) {
    csv_rd r = {.b = buf, .len = len, .line = 1};
    long col[4] = {-1, -1, -1, -1}; /* id, dialogue, summary, topic */
    static const char *names[4] = {"id", "dialogue", "summary", "topic"};
    size_t nhead = 0, before = out->n;
    int rc = -1, st;
    /* header: the first non-blank record */
    while ((st = csv_record(&r)) == REC_OK && r.nf == 1 && bg_all_blank(csv_field(&r, 0))) {
    }
    if (st == REC_EOF) {
        bg_set_err(err, errlen, "%s: empty file (no CSV header)", name);
        goto done;
    }
    if (st == REC_ERR) {
        bg_set_err(err, errlen, "%s:%zu: bad CSV header: %s", name, r.err_line, r.why);
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
                bg_set_err(err, errlen, "%s:%zu: CSV header has two '%s' columns (%ld and %zu)", name,
                           r.start_line, want, *slot + 1, i + 1);
                goto done;
            }
            *slot = (long)i;
        }
    if (col[0] < 0) col[0] = fname;
    if (col[1] < 0) {
        bg_set_err(err, errlen, "%s:%zu: CSV header has no 'dialogue' column", name, r.start_line);
        goto done;
    }
    while ((st = csv_record(&r)) != REC_EOF) {
        if (st == REC_ERR) {
            bg_warnf(warn, user, "%s:%zu: %s", name, r.err_line, r.why);
            out->skipped++;
            continue;
        }
        if (r.nf == 1 && r.flen[0] == 0) continue; /* blank line */
        const char *why = NULL;
        if (r.nf != nhead) {
            bg_warnf(warn, user, "%s:%zu: wrong number of fields: expected %zu, got %zu", name, r.start_line,
                     nhead, r.nf);
            out->skipped++;
            continue;
        }
        if (r.nul) why = "NUL byte inside a field";
        for (int c = 0; c < 4 && !why; c++)
            if (col[c] >= 0 && !bg_utf8_valid(csv_field(&r, (size_t)col[c]), r.flen[col[c]]))
                why = "invalid UTF-8 in a field";
            else if (bg_all_blank(csv_field(&r, (size_t)col[1])))
                why = "missing dialogue";
        if (why) {
            bg_warnf(warn, user, "%s:%zu: %s", name, r.start_line, why);
            out->skipped++;
            continue;
        }
        const char *f[4] = {NULL, NULL, NULL, NULL};
        size_t fl[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++)
            if (col[c] >= 0) f[c] = csv_field(&r, (size_t)col[c]), fl[c] = r.flen[col[c]];
        if (bg_split_add_fields(out, f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3], fl[3])) {
            bg_set_err(err, errlen, "%s:%zu: out of memory", name, r.start_line);
            goto done;
        }
    }
    if (out->n == before) {
        bg_set_err(err, errlen, "%s: no valid rows", name);
        goto done;
    }
    rc = 0;
done:
    if (rc) bg_split_truncate(out, before);
    free(r.buf.p);
    free(r.off);
    free(r.flen);
    return rc;
}
