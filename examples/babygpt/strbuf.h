/* strbuf.h - a growing NUL-terminated string, for building prompts. */
#ifndef BG_STRBUF_H
#define BG_STRBUF_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *s; /* malloc'd, NUL-terminated (NULL while empty); the owner frees it */
    size_t n, cap;
} sbuf;

/* Appends n bytes; 0, or -1 when out of memory (the buffer is unchanged). */
static inline int sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        char *p = realloc(b->s, c);
        if (!p) return -1;
        b->s = p;
        b->cap = c;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}

/* Appends a C string; 0 or -1. */
static inline int sb_str(sbuf *b, const char *s) { return sb_add(b, s, strlen(s)); }

#endif
