/* nb_check.h - shared helpers for nabla's Check test programs.
 *
 * Every tests/test_*.c file is one standalone program: it defines
 * `Suite *make_suite(void)` and ends with NB_CHECK_MAIN().  `make check`
 * builds and runs each one through tests/run.sh, which adds up the counts.
 *
 * Tests that need ../shared/data call nb_test_data_dir(); when it returns
 * NULL they are not registered and nb_test_skip() prints a "SKIP:" line that
 * tests/run.sh counts.  A skipped test never counts as passed. */
#ifndef NB_CHECK_H
#define NB_CHECK_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nabla.h"

/* The shared data folder: $NABLA_DATA, else ../shared/data; NULL if absent. */
static inline const char *nb_test_data_dir(void) {
    const char *d = getenv("NABLA_DATA");
    static const char *fallback[] = {"../shared/data", "../../shared/data"};
    struct stat st;
    if (d && *d && stat(d, &st) == 0 && S_ISDIR(st.st_mode)) return d;
    for (size_t i = 0; i < sizeof fallback / sizeof *fallback; i++)
        if (stat(fallback[i], &st) == 0 && S_ISDIR(st.st_mode)) return fallback[i];
    return NULL;
}

/* Prints one SKIP line (counted by tests/run.sh) naming the test and why. */
static inline void nb_test_skip(const char *test, const char *why) {
    printf("SKIP: %s: %s\n", test, why);
    fflush(stdout);
}

/* Asserts that tensors a and b (f32, any layout) hold the same number of elements and agree
 * within tol * (1 + |b|) element by element; `what` names the check in the failure message. */
#define NB_ASSERT_CLOSE(a, b, tol, what) nb_assert_close_((a), (b), (tol), (what))
static inline void nb_assert_close_(nb_tensor *a, nb_tensor *b, double tol, const char *what) {
    ck_assert_msg(a && b, "%s: %s", what, nb_last_error());
    ck_assert_msg(nb_numel(a) == nb_numel(b), "%s: %lld vs %lld elements", what, (long long)nb_numel(a),
                  (long long)nb_numel(b));
    a = nb_contiguous(a), b = nb_contiguous(b);
    for (int64_t i = 0; i < nb_numel(a); i++) {
        const double u = nb_data_f32(a)[i], v = nb_data_f32(b)[i];
        ck_assert_msg(fabs(u - v) <= tol * (1 + fabs(v)), "%s, element %lld: %g, want %g", what, (long long)i,
                      u, v);
    }
}

/* Asserts that the last error message starts with s (an op's errors start with its name). */
#define ERR_STARTS(s)                                                                                        \
    ck_assert_msg(strncmp(nb_last_error(), (s), strlen(s)) == 0, "error was '%s', want '%s...'",             \
                  nb_last_error(), (s))

/* Relative closeness with an absolute floor, for float comparisons. */
static inline int nb_close(double a, double b, double rtol, double atol) {
    double d = a > b ? a - b : b - a;
    double m = (a < 0 ? -a : a) > (b < 0 ? -b : b) ? (a < 0 ? -a : a) : (b < 0 ? -b : b);
    return d <= atol + rtol * m;
}

/* The usual fixture of an op test file: a context `ctx` (made current; `arena` bytes to start)
 * and a generator `rng` seeded with `seed`, fresh for every test, the error message cleared. */
#define NB_TEST_FIXTURE(arena, seed)                                                                         \
    static nb_ctx *ctx;                                                                                      \
    static nb_rng rng;                                                                                       \
    static void setup(void) {                                                                                \
        ctx = nb_ctx_new(arena);                                                                             \
        nb_ctx_use(ctx);                                                                                     \
        nb_rng_init(&rng, seed);                                                                             \
        nb_clear_error();                                                                                    \
    }                                                                                                        \
    static void teardown(void) {                                                                             \
        nb_ctx_use(NULL);                                                                                    \
        nb_ctx_free(ctx);                                                                                    \
    }

#define NB_CHECK_MAIN()                                                        \
    int main(void) {                                                           \
        SRunner *sr = srunner_create(make_suite());                            \
        srunner_run_all(sr, CK_NORMAL);                                        \
        int failed = srunner_ntests_failed(sr);                                \
        srunner_free(sr);                                                      \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                      \
    }

#endif
