/* The autograd engine: accumulation, broadcast, views, reuse, no-grad,
 * gradcheck (and that it rejects a wrong gradient), DOT output, anomaly mode, and the check
 * that what an op recorded was not changed in place before its backward. */
#include <math.h>
#include <string.h>

#include "autograd/node.h"
#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 20);
    nb_rng_init(&rng, 99);
    nb_clear_error();
}
static void teardown(void) { nb_ctx_free(ctx); }

static nb_tensor *param(int nd, const int64_t *shape) {
    return nb_requires_grad_(nb_randn(ctx, nd, shape, 0, 1, &rng), true);
}

START_TEST(simple_chain_rule) {
    /* y = sum(a * b + a), dy/da = b + 1, dy/db = a */
    nb_tensor *a = param(NB_SHAPE(3)), *b = param(NB_SHAPE(3));
    nb_tensor *y = nb_sum_all(nb_add(nb_mul(a, b), a));
    ck_assert(y->requires_grad);
    ck_assert_int_eq(nb_backward(y), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq_tol(nb_data_f32(a->grad)[i], nb_data_f32(b)[i] + 1, 1e-6);
        ck_assert_float_eq_tol(nb_data_f32(b->grad)[i], nb_data_f32(a)[i], 1e-6);
    }
    /* a second backward accumulates */
    nb_tensor *y2 = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_backward(y2), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq_tol(nb_data_f32(a->grad)[i], 2 * nb_data_f32(b)[i] + 1, 1e-5);
    nb_zero_grad(a);
    ck_assert_float_eq(nb_data_f32(a->grad)[0], 0.0f);
}
END_TEST

START_TEST(broadcast_reduces_gradient) {
    nb_tensor *x = param(NB_SHAPE(4, 3)), *bias = param(NB_SHAPE(3)), *col = param(NB_SHAPE(4, 1));
    nb_tensor *y = nb_sum_all(nb_mul(nb_add(x, bias), col));
    ck_assert_int_eq(nb_backward(y), 0);
    ck_assert_int_eq(bias->grad->ndim, 1);
    for (int j = 0; j < 3; j++) {
        double s = 0;
        for (int i = 0; i < 4; i++) s += nb_data_f32(col)[i];
        ck_assert_float_eq_tol(nb_data_f32(bias->grad)[j], s, 1e-5);
    }
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += nb_data_f32(x)[i * 3 + j] + nb_data_f32(bias)[j];
        ck_assert_float_eq_tol(nb_data_f32(col->grad)[i], s, 1e-5);
    }
}
END_TEST

START_TEST(tensor_used_twice_and_views) {
    nb_tensor *x = param(NB_SHAPE(2, 3));
    /* y = sum(x * x^T^T) + sum(slice(x)) -> dy/dx = 2x + mask */
    nb_tensor *xt = nb_transpose(nb_transpose(x, 0, 1), 0, 1);
    nb_tensor *y = nb_add(nb_sum_all(nb_mul(x, xt)), nb_sum_all(nb_slice(x, 1, 1, 3, 1)));
    ck_assert_int_eq(nb_backward(y), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(nb_data_f32(x->grad)[i], 2 * nb_data_f32(x)[i] + (i % 3 ? 1 : 0), 1e-5);
}
END_TEST

START_TEST(no_grad_records_nothing) {
    nb_tensor *x = param(NB_SHAPE(3));
    bool prev = nb_no_grad_begin();
    nb_tensor *y = nb_exp(x);
    nb_no_grad_end(prev);
    ck_assert(!y->requires_grad);
    ck_assert_ptr_null(y->node);
    ck_assert_int_eq(nb_backward(nb_sum_all(y)), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "does not require grad"));
    ck_assert(nb_grad_enabled());
    nb_tensor *d = nb_detach(nb_exp(x));
    ck_assert(!d->requires_grad);
}
END_TEST

START_TEST(backward_errors) {
    nb_tensor *x = param(NB_SHAPE(3));
    ck_assert_int_eq(nb_backward(nb_exp(x)), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "one-element"));
    nb_tensor *y = nb_exp(x);
    ck_assert_int_eq(nb_backward_with(y, nb_ones(ctx, NB_F32, NB_SHAPE(4))), -1);
    ck_assert_int_eq(nb_backward_with(y, nb_full(ctx, NB_F32, NB_SHAPE(3), 2.0)), 0);
    ck_assert_float_eq_tol(nb_data_f32(x->grad)[1], 2 * expf(nb_data_f32(x)[1]), 1e-5);
    ck_assert_ptr_null(nb_requires_grad_(nb_zeros(ctx, NB_I32, NB_SHAPE(2)), true));
    /* turning the flag off for an op's result would cut the graph silently: refused, as in
     * PyTorch, and the graph still works; on a leaf, or through nb_detach, it is fine */
    nb_tensor *z = nb_exp(x);
    ck_assert_ptr_null(nb_requires_grad_(z, false));
    ck_assert_msg(strstr(nb_last_error(), "result of exp") && strstr(nb_last_error(), "nb_detach"), "%s",
                  nb_last_error());
    ck_assert(z->requires_grad);
    ck_assert_int_eq(nb_backward(nb_sum_all(z)), 0);
    ck_assert_ptr_eq(nb_requires_grad_(z, true), z);
    ck_assert(!nb_requires_grad_(nb_detach(z), false)->requires_grad);
}
END_TEST

/* a deliberately wrong op: y = x^2 with backward g * x (missing the 2) */
static int wrong_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    gin[0] = nb_mul(g, n->in[0]);
    return gin[0] ? 0 : -1;
}
static nb_tensor *wrong_square(nb_tensor *x) {
    bool prev = nb_no_grad_begin();
    nb_tensor *y = nb_mul(x, x);
    nb_no_grad_end(prev);
    return nb_op_finish(y, "wrong_square", wrong_backward, 1, &x, NULL);
}
static nb_tensor *fn_wrong(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return wrong_square(in[0]);
}
static nb_tensor *fn_right(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_mul(in[0], in[0]);
}

START_TEST(gradcheck_rejects_wrong_gradient) {
    nb_tensor *x = param(NB_SHAPE(2, 3));
    nb_tensor *in[1] = {x};
    ck_assert_int_eq(nb_gradcheck(fn_right, in, 1, NULL, NULL), 1);
    ck_assert_int_eq(nb_gradcheck(fn_wrong, in, 1, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "analytic"));
    /* an output that does not depend on the inputs is an error, not a pass */
    nb_tensor *c = nb_randn(ctx, NB_SHAPE(2), 0, 1, &rng);
    nb_tensor *in2[1] = {c};
    ck_assert_int_eq(nb_gradcheck(fn_right, in2, 1, NULL, NULL), -1);
}
END_TEST

START_TEST(dot_graph) {
    nb_tensor *x = nb_set_name(param(NB_SHAPE(2, 3)), "x");
    nb_tensor *w = nb_set_name(param(NB_SHAPE(3)), "w");
    nb_tensor *loss = nb_set_name(nb_sum_all(nb_tanh(nb_mul(x, w))), "loss");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(nb_graph_dot(loss, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "digraph"));
    ck_assert_ptr_nonnull(strstr(buf, "label=\"tanh\""));
    ck_assert_ptr_nonnull(strstr(buf, "label=\"mul\""));
    ck_assert_ptr_nonnull(strstr(buf, "x [2,3]"));
    ck_assert_ptr_nonnull(strstr(buf, "leaf, requires grad"));
    ck_assert_ptr_nonnull(strstr(buf, "loss []"));
    free(buf);
}
END_TEST

START_TEST(anomaly_mode_names_the_op) {
    nb_tensor *x = nb_full(ctx, NB_F32, NB_SHAPE(2, 2), -1.0);
    bool prev = nb_set_anomaly(true);
    ck_assert_ptr_nonnull(nb_exp(x));
    ck_assert_ptr_null(nb_sqrt(x));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "'sqrt'"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "[2,2]"));
    nb_set_anomaly(prev);
    ck_assert_ptr_nonnull(nb_sqrt(x)); /* off: NaNs flow silently */
}
END_TEST

START_TEST(intermediate_grads_in_current_context) {
    nb_ctx *step = nb_ctx_new(1 << 16);
    nb_tensor *w = param(NB_SHAPE(16));
    size_t before = nb_ctx_used(ctx);
    nb_ctx *prev = nb_ctx_use(step);
    nb_tensor *y = nb_sum_all(nb_exp(nb_mul(w, w)));
    ck_assert_int_eq(nb_backward(y), 0);
    size_t mid = nb_ctx_used(ctx);
    ck_assert(mid > before); /* the leaf's grad, once */
    nb_ctx_reset(step);
    y = nb_sum_all(nb_exp(nb_mul(w, w)));
    ck_assert_int_eq(nb_backward(y), 0);
    ck_assert_uint_eq(nb_ctx_used(ctx), mid); /* nothing more in the long-lived context */
    nb_ctx_use(prev);
    nb_ctx_free(step);
}
END_TEST

/* The error of a backward that must fail, naming `what`. */
static void expect_backward_error(nb_tensor *loss, const char *what) {
    ck_assert_int_eq(nb_backward(loss), -1);
    ck_assert_msg(strstr(nb_last_error(), "changed in place") != NULL &&
                      strstr(nb_last_error(), what) != NULL,
                  "error '%s' lacks '%s'", nb_last_error(), what);
}

START_TEST(in_place_changes_are_caught) {
    int64_t s[1] = {4};
    /* an input that mul's gradient reads, changed after mul: the grads would use the new values */
    nb_tensor *a = param(1, s), *b = param(1, s);
    nb_tensor *y = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_fill_(a, 0.0), 0);
    expect_backward_error(y, "backward of mul: its input 0 (f32 [4])");
    /* through a view of the input, or a detached alias of it: the same storage */
    y = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_fill_(nb_slice(b, 0, 1, 3, 1), 2.0), 0);
    expect_backward_error(y, "input 1");
    y = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_scale_(nb_detach(b), 0.5f), 0);
    expect_backward_error(y, "input 1");
    /* an output whose value the rule reads (exp: dy/dx = y) */
    nb_tensor *e = nb_exp(a);
    y = nb_sum_all(e);
    ck_assert_int_eq(nb_scale_(e, 2.0f), 0);
    expect_backward_error(y, "backward of exp: its output");
    /* an optimiser step between the forward and the backward */
    nb_tensor *w = param(1, s);
    y = nb_sum_all(nb_mul(w, w));
    w->grad = nb_ones(ctx, NB_F32, 1, s);
    nb_optim *o = nb_sgd_new(ctx, 0.1f, 0.0f, 0.0f, false);
    ck_assert_int_eq(nb_optim_add_group(o, 1, NULL, &w, 0.0f, 1.0f), 0);
    ck_assert_int_eq(nb_optim_step(o), 0);
    expect_backward_error(y, "mul");
    nb_optim_free(o);
    y = nb_sum_all(nb_mul(w, w));
    nb_tensor *m1 = nb_zeros(ctx, NB_F32, 1, s), *m2 = nb_zeros(ctx, NB_F32, 1, s);
    ck_assert_int_eq(nb_adamw_update_(w, w->grad, m1, m2, 0.1f, 0.9f, 0.99f, 1e-8f, 0.0f, 1), 0);
    expect_backward_error(y, "mul");
    /* indices and targets an op kept for its backward (the caller's own, when contiguous) */
    nb_tensor *idx = nb_from_data(ctx, NB_I32, 1, (const int64_t[]){2}, (const int32_t[]){0, 1});
    nb_tensor *emb = param(2, (const int64_t[]){4, 3});
    y = nb_sum_all(nb_mul(nb_embedding(emb, idx), nb_embedding(emb, idx)));
    ck_assert_int_eq(
        nb_copy_(idx, nb_from_data(ctx, NB_I32, 1, (const int64_t[]){2}, (const int32_t[]){3, 3})), 0);
    expect_backward_error(y, "backward of embedding: its saved tensor 0 (i32 [2])");
    nb_tensor *logits = param(2, (const int64_t[]){2, 4});
    y = nb_cross_entropy(logits, idx, -100);
    ck_assert_int_eq(nb_fill_(idx, 1.0), 0);
    expect_backward_error(y, "saved tensor 1 (i32 [2])");
    /* in-place calls refused for a bad argument write nothing, and count as no change */
    y = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_fill_(nb_expand(nb_slice(a, 0, 0, 1, 1), 1, s), 1.0), -1);
    ck_assert_int_eq(nb_copy_(a, nb_zeros(ctx, NB_F32, 1, (const int64_t[]){3})), -1);
    ck_assert_int_eq(nb_axpy_(b, 1.0f, nb_zeros(ctx, NB_F32, 1, (const int64_t[]){3})), -1);
    ck_assert_msg(nb_backward(y) == 0, "%s", nb_last_error());
}
END_TEST

START_TEST(in_place_changes_that_are_allowed) {
    int64_t s[1] = {4};
    nb_tensor *a = param(1, s), *b = param(1, s);
    /* a change before the op */
    ck_assert_int_eq(nb_fill_(a, 3.0), 0);
    nb_tensor *y = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_backward(y), 0);
    ck_assert_float_eq(nb_data_f32(b->grad)[2], 3.0f);
    /* ops whose gradients read no values: add, views, sums, scalar scaling */
    nb_zero_grad(a);
    nb_tensor *v = nb_reshape(a, 2, (const int64_t[]){2, 2});
    y = nb_add(nb_sum_all(nb_mul_scalar(nb_add(a, b), 2.0f)), nb_sum_all(v));
    ck_assert_int_eq(nb_fill_(a, -1.0), 0);
    ck_assert_int_eq(nb_copy_(b, a), 0);
    ck_assert_msg(nb_backward(y) == 0, "%s", nb_last_error());
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(nb_data_f32(a->grad)[i], 3.0f);
    /* values a rule does not read (linear's bias and output, softmax's input, embedding's table)
     * may change: the gradients are those of an unchanged run */
    float ref[3][12];
    for (int pass = 0; pass < 2; pass++) {
        nb_rng_init(&rng, 5);
        nb_tensor *x = param(2, (const int64_t[]){2, 4}), *w = param(2, (const int64_t[]){3, 4});
        nb_tensor *bias = param(1, (const int64_t[]){3}), *table = param(2, (const int64_t[]){3, 4});
        nb_tensor *idx = nb_from_data(ctx, NB_I32, 1, (const int64_t[]){2}, (const int32_t[]){1, 2});
        nb_tensor *lin = nb_linear(x, w, bias), *sm_in = nb_mul_scalar(x, 2.0f);
        nb_tensor *sm = nb_softmax(sm_in, -1), *emb = nb_embedding(table, idx);
        nb_tensor *loss = nb_add(nb_add(nb_sum_all(nb_mul(lin, lin)), nb_sum_all(nb_mul(sm, sm))),
                                 nb_sum_all(nb_mul(emb, emb)));
        if (pass == 1) {
            ck_assert_int_eq(nb_fill_(bias, 5.0), 0);
            ck_assert_int_eq(nb_fill_(sm_in, 0.0), 0);
            ck_assert_int_eq(nb_fill_(table, -3.0), 0);
        }
        ck_assert_msg(nb_backward(loss) == 0, "pass %d: %s", pass, nb_last_error());
        nb_tensor *gs[3] = {x->grad, w->grad, table->grad};
        for (int k = 0; k < 3; k++)
            for (int e = 0; e < nb_numel(gs[k]); e++)
                if (pass == 0)
                    ref[k][e] = nb_data_f32(gs[k])[e];
                else
                    ck_assert_float_eq(nb_data_f32(gs[k])[e], ref[k][e]);
        /* the values the rules read: linear's weight, softmax's output */
        if (pass == 1) {
            nb_tensor *l2 = nb_linear(x, w, bias);
            loss = nb_sum_all(nb_mul(l2, l2));
            ck_assert_int_eq(nb_scale_(w, 2.0f), 0);
            expect_backward_error(loss, "backward of linear: its input 1 (f32 [3,4])");
            nb_tensor *y2 = nb_softmax(x, -1);
            loss = nb_sum_all(nb_mul_scalar(y2, 3.0f)); /* mul_scalar reads nothing */
            ck_assert_int_eq(nb_fill_(y2, 0.25), 0);
            expect_backward_error(loss, "backward of softmax: its output");
        }
    }
    /* the grads themselves may be changed in place between passes */
    ck_assert_int_eq(nb_scale_(a->grad, 0.0f), 0);
    y = nb_sum_all(nb_mul(a, b));
    ck_assert_int_eq(nb_backward(y), 0);
    ck_assert_float_eq(nb_data_f32(a->grad)[0], -1.0f);
}
END_TEST

/* nb_grad: the same gradients as nb_backward for leaves (including the weight of a linear layer
 * and an embedding table, whose backward usually writes straight into ->grad), the gradient of
 * an intermediate result, zeros for an unused input, no ->grad touched; and its refusals. */
START_TEST(functional_grad) {
    nb_ctx_use(ctx);
    nb_tensor *x = param(NB_SHAPE(4, 3)), *w = param(NB_SHAPE(5, 3)), *b = param(NB_SHAPE(5));
    nb_tensor *tab = param(NB_SHAPE(7, 5)), *unused = param(NB_SHAPE(2));
    int32_t ids[4] = {1, 6, 1, 0};
    nb_tensor *idx = nb_from_data(ctx, NB_I32, NB_SHAPE(4), ids);
    /* loss = sum(tanh(x w^T + b + tab[ids])^2) */
    nb_tensor *h = nb_tanh(nb_add(nb_linear(x, w, b), nb_embedding(tab, idx)));
    nb_tensor *loss = nb_sum_all(nb_mul(h, h));
    nb_tensor *in[6] = {x, w, b, tab, unused, h}, *g[6];
    ck_assert_msg(nb_grad(loss, NULL, 6, in, g) == 0, "%s", nb_last_error());
    for (int i = 0; i < 5; i++)
        ck_assert_msg(in[i]->grad == NULL, "input %d got a ->grad", i);
    /* d loss / d h = 2 h */
    for (int i = 0; i < 20; i++)
        ck_assert(nb_close(nb_data_f32(g[5])[i], 2.0 * nb_data_f32(h)[i], 1e-6, 1e-6));
    for (int i = 0; i < 2; i++)
        ck_assert(nb_data_f32(g[4])[i] == 0.0f);
    /* the leaves' against nb_backward on the same graph */
    ck_assert_int_eq(nb_backward(loss), 0);
    for (int i = 0; i < 4; i++)
        for (int64_t e = 0; e < nb_numel(in[i]); e++)
            ck_assert_msg(nb_close(nb_data_f32(g[i])[e], nb_data_f32(in[i]->grad)[e], 1e-6, 1e-6),
                          "input %d element %lld: %g vs %g", i, (long long)e, (double)nb_data_f32(g[i])[e],
                          (double)nb_data_f32(in[i]->grad)[e]);
    /* a seed for a non-scalar output: d(h . s)/dx */
    nb_tensor *s2 = nb_full(ctx, NB_F32, NB_SHAPE(4, 5), 0.5), *gx;
    ck_assert_int_eq(nb_grad(h, s2, 1, &x, &gx), 0);
    nb_tensor *gx2;
    ck_assert_int_eq(nb_grad(nb_mul_scalar(nb_sum_all(h), 0.5f), NULL, 1, &x, &gx2), 0);
    for (int i = 0; i < 12; i++)
        ck_assert(nb_close(nb_data_f32(gx)[i], nb_data_f32(gx2)[i], 1e-6, 1e-6));
    /* the same leaf asked for twice gets its gradient in both slots */
    nb_tensor *twice[2] = {x, x}, *gt[2];
    ck_assert_int_eq(nb_grad(loss, NULL, 2, twice, gt), 0);
    for (int i = 0; i < 12; i++)
        ck_assert(nb_data_f32(gt[0])[i] == nb_data_f32(g[0])[i] &&
                  nb_data_f32(gt[1])[i] == nb_data_f32(g[0])[i]);
    /* refusals */
    nb_tensor *c = nb_randn(ctx, NB_SHAPE(2), 0, 1, &rng), *out[1];
    ck_assert_int_eq(nb_grad(loss, NULL, 1, &c, out), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "grad: input 0 does not require grad"));
    ck_assert_int_eq(nb_grad(h, NULL, 1, &x, out), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "grad: needs a one-element tensor without a seed"));
    ck_assert_int_eq(nb_grad(loss, nb_full(ctx, NB_F32, NB_SHAPE(3), 1.0), 1, &x, out), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "does not match"));
    ck_assert_ptr_null(out[0]);
    nb_ctx_use(NULL);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("autograd");
    TCase *tc = tcase_create("autograd");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, simple_chain_rule);
    tcase_add_test(tc, broadcast_reduces_gradient);
    tcase_add_test(tc, tensor_used_twice_and_views);
    tcase_add_test(tc, no_grad_records_nothing);
    tcase_add_test(tc, backward_errors);
    tcase_add_test(tc, gradcheck_rejects_wrong_gradient);
    tcase_add_test(tc, dot_graph);
    tcase_add_test(tc, anomaly_mode_names_the_op);
    tcase_add_test(tc, intermediate_grads_in_current_context);
    tcase_add_test(tc, in_place_changes_are_caught);
    tcase_add_test(tc, in_place_changes_that_are_allowed);
    tcase_add_test(tc, functional_grad);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
