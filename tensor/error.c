/* tensor/error.c - per-thread error messages. */
#include <stdarg.h>
#include <stdio.h>

#include "nabla/core.h"

static _Thread_local char nb_err[1024];

const char *nb_last_error(void) { return nb_err; }

void nb_clear_error(void) { nb_err[0] = '\0'; }

void *nb_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nb_err, sizeof nb_err, fmt, ap);
    va_end(ap);
    return NULL;
}
