/* tests/babygpt_prog.h - for tests that run the babygpt program: a private temp folder (also
 * the token cache) and the program's absolute path (NB_BUILD/babygpt, default build/). */
#ifndef NB_TESTS_BABYGPT_PROG_H
#define NB_TESTS_BABYGPT_PROG_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes /tmp/nabla_<tag>_<pid> in tmp, finds the program in bin, points NABLA_CACHE at tmp. */
static inline void bgp_setup(const char *tag, char *tmp, size_t tmp_len, char *bin, size_t bin_len) {
    snprintf(tmp, tmp_len, "/tmp/nabla_%s_%d", tag, (int)getpid());
    mkdir(tmp, 0755);
    const char *b = getenv("NB_BUILD");
    char rel[512], *abs;
    snprintf(rel, sizeof rel, "%s/babygpt", b ? b : "build");
    abs = realpath(rel, NULL);
    snprintf(bin, bin_len, "%s", abs ? abs : rel);
    free(abs);
    setenv("NABLA_CACHE", tmp, 1);
}

/* Removes the temp folder (best effort). */
static inline void bgp_teardown(const char *tmp) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) { /* best effort */
    }
}

#endif
