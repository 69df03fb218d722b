/* Batch and group normalization (ops/norm.c, the BatchNorm and GroupNorm modules): training
 * and eval values against double loops, the running statistics' update, gradients through
 * gradcheck, the module's modes, saving and the optimiser skipping its statistics, errors. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 9);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

/* x [N=3, C=4, L=5]: element (n, c, l) */
static float at(const nb_tensor *t, int n, int c, int l) {
    return nb_data_f32((nb_tensor *)t)[(n * 4 + c) * 5 + l];
}

START_TEST(training_and_eval_against_loops) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(3, 4, 5), 2, 3, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(4), 1, 0.5f, &rng), *b = nb_randn(ctx, NB_SHAPE(4), 0, 1, &rng);
    nb_tensor *rm = nb_zeros(ctx, NB_F32, NB_SHAPE(4)), *rv = nb_ones(ctx, NB_F32, NB_SHAPE(4));
    nb_tensor *y = nb_batch_norm(x, rm, rv, w, b, true, 0.1f, 1e-5f);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    for (int c = 0; c < 4; c++) {
        double m = 0, v = 0;
        for (int n = 0; n < 3; n++)
            for (int l = 0; l < 5; l++)
                m += at(x, n, c, l);
        m /= 15;
        for (int n = 0; n < 3; n++)
            for (int l = 0; l < 5; l++)
                v += (at(x, n, c, l) - m) * (at(x, n, c, l) - m);
        for (int n = 0; n < 3; n++)
            for (int l = 0; l < 5; l++) {
                const double want =
                    (at(x, n, c, l) - m) / sqrt(v / 15 + 1e-5) * nb_data_f32(w)[c] + nb_data_f32(b)[c];
                ck_assert_msg(fabs(at(y, n, c, l) - want) < 1e-5, "(%d,%d,%d): %g, want %g", n, c, l,
                              (double)at(y, n, c, l), want);
            }
        /* the running statistics: 0.9 of the old plus 0.1 of the batch's, the variance unbiased */
        ck_assert_msg(fabs(nb_data_f32(rm)[c] - 0.1 * m) < 1e-6, "running_mean[%d] %g", c,
                      (double)nb_data_f32(rm)[c]);
        ck_assert_msg(fabs(nb_data_f32(rv)[c] - (0.9 + 0.1 * v / 14)) < 1e-5, "running_var[%d] %g", c,
                      (double)nb_data_f32(rv)[c]);
    }
    /* eval: the running statistics, not the batch's */
    nb_tensor *ye = nb_batch_norm(x, rm, rv, NULL, NULL, false, 0.1f, 1e-5f);
    ck_assert_ptr_nonnull(ye);
    for (int c = 0; c < 4; c++) {
        const double want = (at(x, 1, c, 2) - nb_data_f32(rm)[c]) / sqrt(nb_data_f32(rv)[c] + 1e-5);
        ck_assert(fabs(at(ye, 1, c, 2) - want) < 1e-5);
    }
    /* no running statistics: the batch's in training, an error in eval (as torch) */
    nb_tensor *yn = nb_batch_norm(x, NULL, NULL, w, b, true, 0.1f, 1e-5f);
    for (int i = 0; i < 60; i++)
        ck_assert_float_eq(nb_data_f32(yn)[i], nb_data_f32(y)[i]);
    ck_assert_ptr_null(nb_batch_norm(x, NULL, NULL, w, b, false, 0.1f, 1e-5f));
    ck_assert_str_eq(nb_last_error(), "batch_norm: eval mode needs the running statistics (as torch)");
}
END_TEST

static bool gc_train;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *rm = nb_zeros(ctx, NB_F32, NB_SHAPE(3)), *rv = nb_full(ctx, NB_F32, NB_SHAPE(3), 2);
    return nb_batch_norm(nb_transpose(in[0], 0, 2), rm, rv, in[1], in[2], gc_train, 0.1f, 1e-5f);
}

static nb_tensor *gc_group(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_group_norm(nb_transpose(in[0], 1, 2), 2, in[1], in[2], 1e-5f); /* [2,3,4] -> [2,4,3] */
}

START_TEST(gradients) {
    for (int t = 0; t < 2; t++) {
        gc_train = t;
        nb_tensor *in[3] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4, 3, 2), 1, 2, &rng), true),
                            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3), 1, 0.3f, &rng), true),
                            nb_requires_grad_(nb_randn(ctx, NB_SHAPE(3), 0, 1, &rng), true)};
        ck_assert_msg(nb_gradcheck(gc_fn, in, 3, NULL, NULL) == 1, "training %d: %s", t, nb_last_error());
    }
}
END_TEST

START_TEST(module) {
    nb_module *bn = nb_batchnorm_new(ctx, 4, 1e-5f, 0.1f);
    ck_assert_msg(bn != NULL, "%s", nb_last_error());
    ck_assert(nb_module_param(bn, "weight")->requires_grad &&
              !nb_module_param(bn, "running_mean")->requires_grad);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(8, 4, 3, 3), 5, 2, &rng);
    nb_tensor *rm = nb_module_param(bn, "running_mean");
    /* a summary runs the forward in eval mode: the running statistics stay, the mode comes back */
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(nb_module_summary(bn, NB_F32, NB_SHAPE(2, 4, 3, 3), devnull), 0);
    fclose(devnull);
    ck_assert(nb_data_f32(rm)[0] == 0 && nb_data_f32(nb_module_param(bn, "running_var"))[0] == 1 &&
              bn->training);
    /* a replaced running statistic stays untrained */
    ck_assert_int_eq(nb_module_set_param(bn, "running_mean", nb_zeros(ctx, NB_F32, NB_SHAPE(4))), 0);
    rm = nb_module_param(bn, "running_mean");
    ck_assert(!rm->requires_grad);
    ck_assert_ptr_nonnull(nb_module_forward(bn, x));
    const float after_one = nb_data_f32(rm)[0];
    ck_assert(after_one > 0.2f && after_one < 0.8f); /* 0.1 of a mean near 5 */
    nb_module_train(bn, false);
    ck_assert_ptr_nonnull(nb_module_forward(bn, x));
    ck_assert_float_eq(nb_data_f32(rm)[0], after_one); /* eval does not update */
    /* the optimiser trains weight and bias only */
    nb_optim *opt = nb_adamw_new(ctx, 0.1f, 0.9f, 0.999f, 1e-8f);
    ck_assert_int_eq(nb_optim_add_module(opt, bn, 0.1f), 0);
    nb_module_train(bn, true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(nb_module_forward(bn, x), x))), 0);
    const float rm_before = nb_data_f32(rm)[1], w_before = nb_data_f32(nb_module_param(bn, "weight"))[1];
    ck_assert_int_eq(nb_optim_step(opt), 0);
    ck_assert_float_eq(nb_data_f32(rm)[1], rm_before);
    ck_assert(nb_data_f32(nb_module_param(bn, "weight"))[1] != w_before);
    nb_optim_free(opt);
    /* saved and loaded with the module */
    char path[] = "/tmp/nabla_bn_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(nb_module_save(bn, path, NULL, NULL, 0), 0);
    nb_module *bn2 = nb_batchnorm_new(ctx, 4, 1e-5f, 0.1f);
    ck_assert_int_eq(nb_module_load(bn2, path), 0);
    ck_assert_float_eq(nb_data_f32(nb_module_param(bn2, "running_mean"))[1], nb_data_f32(rm)[1]);
    ck_assert(!nb_module_param(bn2, "running_var")->requires_grad);
    unlink(path);
    nb_module_free(bn2);
    nb_module_free(bn);
    ck_assert_ptr_null(nb_batchnorm_new(ctx, 0, 1e-5f, 0.1f));
}
END_TEST

/* group norm of x [3, 6, 5] in 2 groups: each (n, g) normalized over its 3 channels x 5 */
START_TEST(group_norm) {
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(3, 6, 5), 1, 2, &rng);
    nb_tensor *w = nb_randn(ctx, NB_SHAPE(6), 1, 0.5f, &rng), *b = nb_randn(ctx, NB_SHAPE(6), 0, 1, &rng);
    nb_tensor *y = nb_group_norm(x, 2, w, b, 1e-5f);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    const float *X = nb_data_f32(x), *Y = nb_data_f32(y);
    for (int n = 0; n < 3; n++)
        for (int g = 0; g < 2; g++) {
            double m = 0, v = 0;
            for (int i = 0; i < 15; i++)
                m += X[n * 30 + g * 15 + i];
            m /= 15;
            for (int i = 0; i < 15; i++)
                v += (X[n * 30 + g * 15 + i] - m) * (X[n * 30 + g * 15 + i] - m);
            for (int i = 0; i < 15; i++) {
                const int c = g * 3 + i / 5;
                const double want = (X[n * 30 + g * 15 + i] - m) / sqrt(v / 15 + 1e-5) * nb_data_f32(w)[c] +
                                    nb_data_f32(b)[c];
                ck_assert_msg(fabs(Y[n * 30 + g * 15 + i] - want) < 1e-5, "(%d,%d,%d): %g, want %g", n, g, i,
                              (double)Y[n * 30 + g * 15 + i], want);
            }
        }
    nb_tensor *in[3] = {nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng), true),
                        nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4), 1, 0.3f, &rng), true),
                        nb_requires_grad_(nb_randn(ctx, NB_SHAPE(4), 0, 1, &rng), true)};
    ck_assert_msg(nb_gradcheck(gc_group, in, 3, NULL, NULL) == 1, "%s", nb_last_error());
    nb_module *gn = nb_groupnorm_new(ctx, 2, 6, 1e-5f);
    nb_tensor *ym = nb_module_forward(gn, x), *y0 = nb_group_norm(x, 2, NULL, NULL, 1e-5f);
    for (int i = 0; i < 90; i++)
        ck_assert_float_eq(nb_data_f32(ym)[i], nb_data_f32(y0)[i]);
    nb_module_free(gn);
    /* empty inputs give empty outputs, as torch */
    const int64_t empties[3][3] = {{0, 6, 4}, {2, 6, 0}, {2, 0, 3}};
    for (int k = 0; k < 3; k++) {
        nb_tensor *e = nb_group_norm(nb_zeros(ctx, NB_F32, 3, empties[k]), k == 2 ? 1 : 2, NULL, NULL, 1e-5f);
        ck_assert_msg(e && nb_numel(e) == 0 && e->shape[1] == empties[k][1], "empty %d: %s", k,
                      nb_last_error());
    }
    ck_assert_ptr_null(nb_group_norm(x, 4, NULL, NULL, 1e-5f));
    ck_assert_str_eq(nb_last_error(), "group_norm: 4 groups do not divide the 6 channels of [3,6,5]");
    ck_assert_ptr_null(nb_groupnorm_new(ctx, 4, 6, 1e-5f));
}
END_TEST

START_TEST(errors) {
    nb_tensor *x = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3, 4)), *s3 = nb_zeros(ctx, NB_F32, NB_SHAPE(3));
    ck_assert_ptr_null(nb_batch_norm(x, s3, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ck_assert_str_eq(nb_last_error(), "batch_norm: give both running statistics or neither");
    ck_assert_ptr_null(
        nb_batch_norm(x, NULL, NULL, nb_zeros(ctx, NB_F32, NB_SHAPE(4)), NULL, true, 0.1f, 1e-5f));
    ck_assert_str_eq(nb_last_error(),
                     "batch_norm: weight [4] does not match the 3 channels of input [2,3,4]");
    /* an empty batch: an empty output, the running statistics unchanged (as torch) */
    nb_tensor *r3 = nb_zeros(ctx, NB_F32, NB_SHAPE(3)), *v3 = nb_ones(ctx, NB_F32, NB_SHAPE(3));
    nb_tensor *e =
        nb_batch_norm(nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3, 4)), r3, v3, NULL, NULL, true, 0.1f, 1e-5f);
    ck_assert_msg(e && nb_numel(e) == 0 && nb_data_f32(v3)[0] == 1, "%s", nb_last_error());
    ck_assert_ptr_null(
        nb_batch_norm(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 3)), s3, s3, NULL, NULL, true, 0.1f, 1e-5f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "1 value(s) per channel"));
    /* one value per channel is fine with the running statistics (eval) */
    ck_assert_ptr_nonnull(nb_batch_norm(nb_zeros(ctx, NB_F32, NB_SHAPE(1, 3)), s3,
                                        nb_ones(ctx, NB_F32, NB_SHAPE(3)), NULL, NULL, false, 0.1f, 1e-5f));
    ck_assert_ptr_null(
        nb_batch_norm(nb_zeros(ctx, NB_F32, NB_SHAPE(3)), NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ck_assert_ptr_null(nb_batch_norm(x, NULL, NULL, NULL, NULL, true, 1.5f, 1e-5f));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_norm");
    TCase *tc = tcase_create("norm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, training_and_eval_against_loops);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, module);
    tcase_add_test(tc, group_norm);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
