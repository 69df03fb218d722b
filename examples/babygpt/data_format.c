/* data_format.c - the Baby GPT document format (see the comment at the top of data.h). */
#include "examples/babygpt/data.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool bg_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (len == 0 || i + len > n) return false;
        uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000}; /* shortest form of each length */
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

static int blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* Length of a "#PersonN#:" prefix at s[0..n), or 0. */
static size_t turn_prefix(const char *s, size_t n) {
    if (n < 10 || strncmp(s, "#Person", 7) != 0) return 0;
    size_t i = 7;
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    if (i == 7 || i + 1 >= n || s[i] != '#' || s[i + 1] != ':') return 0;
    return i + 2;
}

/* Writes bytes at o + *at when o is not NULL; always advances *at (so a NULL pass measures). */
static void put(char *o, size_t *at, const char *s, size_t n) {
    if (o) memcpy(o + *at, s, n);
    *at += n;
}

/* Formats e into o (NULL: only measure); returns the length in bytes. */
static size_t format_into(char *o, const bg_example *e) {
    size_t at = 0;
    int first = 1;
    for (const char *p = e->dialogue; *p;) {
        size_t n = strcspn(p, "\r\n"), m = n;
        const char *q = p;
        while (m && blank((unsigned char)*q))
            q++, m--;
        while (m && blank((unsigned char)q[m - 1]))
            m--;
        if (m) {
            if (!first) put(o, &at, "\n", 1);
            first = 0;
            size_t pre = turn_prefix(q, m);
            if (pre && pre < m && q[pre] != ' ') { /* "#Person1#:Okay" -> "#Person1#: Okay" */
                put(o, &at, q, pre);
                put(o, &at, " ", 1);
                put(o, &at, q + pre, m - pre);
            } else {
                put(o, &at, q, m);
            }
        }
        p += n;
        if (*p) p++;
    }
    const char *s = e->summary;
    while (s && blank((unsigned char)*s))
        s++;
    if (s && *s) {
        if (!first) put(o, &at, "\n", 1);
        put(o, &at, BG_SUMMARY_MARK, strlen(BG_SUMMARY_MARK));
        while (*s) {
            if (blank((unsigned char)*s)) { /* collapse whitespace runs, drop trailing ones */
                while (blank((unsigned char)*s))
                    s++;
                if (*s) put(o, &at, " ", 1);
                continue;
            }
            put(o, &at, s++, 1);
        }
    }
    return at;
}

char *bg_format_document(const bg_example *e) {
    if (!e || !e->dialogue) return NULL;
    size_t n = format_into(NULL, e);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    format_into(o, e);
    o[n] = '\0';
    return o;
}

char *bg_format_corpus(const bg_split *s, size_t *len) {
    size_t total = 0, docs = 0, eot = strlen(BG_EOT);
    for (size_t i = 0; s && i < s->n; i++) {
        if (!s->ex[i].dialogue) continue;
        total += (docs++ ? eot : 0) + format_into(NULL, &s->ex[i]);
    }
    char *o = malloc(total + 1);
    if (!o) return NULL;
    size_t at = 0;
    docs = 0;
    for (size_t i = 0; s && i < s->n; i++) {
        if (!s->ex[i].dialogue) continue;
        if (docs++) put(o, &at, BG_EOT, eot);
        at += format_into(o + at, &s->ex[i]);
    }
    o[at] = '\0';
    if (len) *len = at;
    return o;
}
