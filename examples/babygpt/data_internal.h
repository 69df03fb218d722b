/* data_internal.h - helpers shared by the DialogSum loaders, data.c and data_csv.c (internal). */
#ifndef BG_DATA_INTERNAL_H
#define BG_DATA_INTERNAL_H

#include <stddef.h>

#include "examples/babygpt/data.h"

/* A growing byte buffer, kept NUL-terminated; oom is set (and stays set) when it cannot grow. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} bg_sbuf;

/* Appends n bytes of d to s. */
void bg_sb_put(bg_sbuf *s, const char *d, size_t n);
/* Appends one byte to s. */
static inline void bg_sb_putc(bg_sbuf *s, char c) { bg_sb_put(s, &c, 1); }
/* printf into err (no-op when err is NULL or errlen 0). */
void bg_set_err(char *err, size_t errlen, const char *fmt, ...);
/* Formats one malformed-row message and hands it to warn (no-op when warn is NULL). */
void bg_warnf(bg_warn_fn warn, void *user, const char *fmt, ...);
/* Whether c is ASCII white space. */
int bg_is_blank(int c);
/* Whether s is NULL, empty or all white space. */
int bg_all_blank(const char *s);
/* Adds an example from raw field text (id, topic and summary trimmed; an empty summary becomes
 * NULL); NULL id/summary/topic are empty. 0, or -1 when out of memory. */
int bg_split_add_fields(bg_split *s, const char *id, size_t idn, const char *dia, size_t dian,
                        const char *sum, size_t sumn, const char *top, size_t topn);
/* Frees the examples of s from index n on (s->n becomes n). */
void bg_split_truncate(bg_split *s, size_t n);
/* Loads the CSV in buf[0..len) (named `name` in messages) into out, reporting skipped rows
 * through warn. 0, or -1 with err for a file that cannot be read as DialogSum CSV at all. */
int bg_load_csv(const char *buf, size_t len, const char *name, bg_split *out, bg_warn_fn warn, void *user,
                char *err, size_t errlen);

#endif
