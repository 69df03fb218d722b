/* tests/cuda_compare.h - what the CUDA test programs share (test_cuda_ops.c, test_cuda_edge.c,
 * test_cuda_edge_nn.c): random inputs on the CPU, the same op run on the CPU and on CUDA copies,
 * outputs and the gradients of the inputs compared; and asking, without spoiling Check's forked
 * children, whether a GPU (real or emulated) can be used. Include after nabla.h and nb_check.h, in
 * builds with NB_WITH_CUDA. */
#ifndef NB_TESTS_CUDA_COMPARE_H
#define NB_TESTS_CUDA_COMPARE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nabla/cuda.h"

/* static, without a warning in the programs that leave one unused */
#define NB_TEST_FN static __attribute__((unused))

typedef nb_tensor *(*op_fn)(nb_tensor **in, void *u);

/* Random f32 tensor in [lo, hi) on the CPU. */
NB_TEST_FN nb_tensor *rnd(nb_ctx *c, int nd, const int64_t *shape, float lo, float hi, uint64_t seed) {
    nb_rng r;
    nb_rng_init(&r, seed);
    return nb_rand(c, nd, shape, lo, hi, &r);
}

/* Random i32 tensor in [0, n) on the CPU. */
NB_TEST_FN nb_tensor *ids(nb_ctx *c, int nd, const int64_t *shape, int n, uint64_t seed) {
    return nb_cast(rnd(c, nd, shape, 0.0f, (float)n - 0.01f, seed), NB_I32);
}

NB_TEST_FN float *host(const nb_tensor *t) {
    int64_t n = nb_numel(t);
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(nb_to_array(t, NB_F32, p) == 0, "%s", nb_last_error());
    return p;
}

NB_TEST_FN void expect_close(const char *what, const nb_tensor *c, const nb_tensor *g, double tol) {
    ck_assert_msg(c && g, "%s: missing result: %s", what, nb_last_error());
    ck_assert_msg(nb_same_shape(c, g), "%s: shapes differ", what);
    ck_assert_int_eq(g->device, NB_CUDA);
    float *a = host(c), *b = host(g);
    int64_t n = nb_numel(c);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(a[i] == b[i] || nb_close(a[i], b[i], tol, tol) || (isnan(a[i]) && isnan(b[i])),
                      "%s: element %lld: cpu %.8g, cuda %.8g", what, (long long)i, (double)a[i],
                      (double)b[i]);
    free(a);
    free(b);
}

/* Runs f on CPU inputs and on copies of them on the GPU; compares the outputs and, when
 * grad_mask has bits, the gradients of those inputs of sum(out * w) for a random w. */
NB_TEST_FN void compare(const char *name, op_fn f, nb_tensor **in, int n, void *u, double tol,
                        unsigned grad_mask) {
    nb_ctx *gc = nb_ctx_new(0);
    nb_tensor *gin[8];
    for (int i = 0; i < n; i++) {
        gin[i] = NULL; /* an input given twice is one tensor on the GPU too */
        for (int j = 0; j < i; j++)
            if (in[j] == in[i]) gin[i] = gin[j];
        if (!gin[i]) gin[i] = nb_to_device(gc, in[i], NB_CUDA);
        ck_assert_msg(gin[i] != NULL, "%s: to cuda: %s", name, nb_last_error());
        if (grad_mask & (1u << i)) {
            nb_zero_grad(in[i]); /* inputs are reused across cases */
            nb_requires_grad_(in[i], true);
            nb_requires_grad_(gin[i], true);
        }
    }
    nb_ctx *prev = nb_ctx_use(in[0]->ctx);
    nb_tensor *oc = f(in, u);
    ck_assert_msg(oc != NULL, "%s (cpu): %s", name, nb_last_error());
    nb_ctx_use(gc);
    nb_tensor *og = f(gin, u);
    ck_assert_msg(og != NULL, "%s (cuda): %s", name, nb_last_error());
    expect_close(name, oc, og, tol);
    if (grad_mask) {
        nb_ctx_use(in[0]->ctx);
        nb_tensor *w = rnd(in[0]->ctx, oc->ndim, oc->shape, -1.0f, 1.0f, 99);
        ck_assert_msg(nb_backward(nb_sum_all(nb_mul(oc, w))) == 0, "%s backward (cpu): %s", name,
                      nb_last_error());
        nb_ctx_use(gc);
        nb_tensor *wg = nb_to_device(gc, w, NB_CUDA);
        ck_assert_msg(nb_backward(nb_sum_all(nb_mul(og, wg))) == 0, "%s backward (cuda): %s", name,
                      nb_last_error());
        for (int i = 0; i < n; i++) {
            if (!(grad_mask & (1u << i))) continue;
            char what[128];
            snprintf(what, sizeof what, "%s: gradient of input %d", name, i);
            expect_close(what, in[i]->grad, gin[i]->grad, tol * 4);
            nb_requires_grad_(in[i], false);
        }
    }
    ck_assert_msg(nb_cuda_synchronize() == 0, "%s: %s", name, nb_last_error());
    nb_ctx_use(prev);
    nb_ctx_free(gc);
}

/* Whether a GPU can be used, asked in a child process: Check runs each test in a process forked
 * from this one, and a CUDA driver started here before the fork cannot be used in those children
 * (every call there would fail). With CK_FORK=no the tests run here, so this process asks. */
NB_TEST_FN bool cuda_usable(char *why, size_t len) {
    const char *fork_env = getenv("CK_FORK");
    const char *w = NULL;
    if (fork_env && strcmp(fork_env, "no") == 0) {
        bool ok = nb_cuda_available(&w);
        snprintf(why, len, "%s", w ? w : "");
        return ok;
    }
    int fd[2];
    if (pipe(fd) != 0) return snprintf(why, len, "cannot ask: pipe failed"), false;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return snprintf(why, len, "cannot ask: fork failed"), false;
    }
    if (pid == 0) {
        close(fd[0]);
        bool ok = nb_cuda_available(&w);
        if (!ok && w && write(fd[1], w, strlen(w)) < 0) _exit(2);
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fd[0], why + n, len - 1 - n)) > 0)
        n += (size_t)r;
    why[n] = '\0';
    close(fd[0]);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The suite `name` of the given tests, in one case with a generous timeout (the emulator is
 * slow); when no GPU, real or emulated, can be used, no tests but one SKIP line saying what
 * and why. */
NB_TEST_FN Suite *cuda_suite(const char *name, const char *what, const TTest *const *tests, size_t n) {
    Suite *s = suite_create(name);
    char why[512];
    if (!cuda_usable(why, sizeof why)) {
        nb_test_skip(what, why);
        return s;
    }
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 900);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}

#endif
