/* tests/ops_nn_check.h - what the nn op test programs share (test_ops_nn.c,
 * test_ops_nn_layers.c): host copies of tensors, random inputs, and checks of results and of
 * error messages. Include after nb_check.h and nabla.h. */
#ifndef NB_TESTS_OPS_NN_CHECK_H
#define NB_TESTS_OPS_NN_CHECK_H

#include <stdint.h>
#include <string.h>

/* static, without a warning in the programs that leave one unused */
#ifndef NB_TEST_FN
#define NB_TEST_FN static __attribute__((unused))
#endif

/* A row-major host copy of t's elements, owned by ctx (via a contiguous clone). */
NB_TEST_FN const float *host(nb_ctx *ctx, const nb_tensor *t) {
    ck_assert_ptr_nonnull(t);
    nb_tensor *c = nb_clone(ctx, t);
    ck_assert_ptr_nonnull(c);
    return nb_data_f32(c);
}

NB_TEST_FN nb_tensor *randn(nb_ctx *ctx, nb_rng *r, int nd, const int64_t *shape) {
    nb_tensor *t = nb_randn(ctx, nd, shape, 0.0f, 1.0f, r);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Asserts t is NULL and the last error mentions `what`. */
NB_TEST_FN void expect_error(const nb_tensor *t, const char *what) {
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(nb_last_error(), what) != NULL, "error '%s' lacks '%s'", nb_last_error(), what);
}

/* Compares n floats against doubles. */
NB_TEST_FN void expect_close(const float *got, const double *want, int64_t n, double rtol, double atol) {
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(nb_close(got[i], want[i], rtol, atol), "element %lld: got %.8g want %.8g", (long long)i,
                      (double)got[i], want[i]);
}

#endif
