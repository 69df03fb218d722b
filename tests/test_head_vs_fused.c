/* test_head_vs_fused.c - the per-head form of attention (nb_multi_head_new:
 * separate Heads with key/query/value Linears, concatenated, then proj)
 * computes the same function as the fused nb_causal_self_attention_new
 * (one qkv Linear C->3C, nb_attention over [B,H,T,D] views, proj) when both
 * hold the same weights: outputs, input gradients and parameter gradients
 * agree to ~1e-5.
 *
 * The weights go from the fused module into the heads: rows
 * [p*C + h*D, p*C + (h+1)*D) of qkv.weight (p = 0 query, 1 key, 2 value) are
 * head h's query/key/value weight. The Head form has no qkv bias, so the
 * fused qkv.bias is zeroed; proj (weight and bias) is copied as is. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;

static void setup(void) {
    ctx = nb_ctx_new(16 << 20);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 7);
}

static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static const char *const part_names[3] = {"query", "key", "value"};

/* The [D,C] block of fused qkv.weight that is head h's part p, as a view. */
static nb_tensor *qkv_rows(nb_tensor *qkv_w, int64_t C, int64_t D, int p, int h) {
    return nb_narrow(qkv_w, 0, p * C + h * D, D);
}

/* Copies the fused module's weights into the multi-head one (see the top). */
static void copy_weights(nb_module *fused, nb_module *mh, int64_t C, int H) {
    int64_t D = C / H;
    nb_tensor *qkv_w = nb_module_param(fused, "qkv.weight");
    ck_assert_ptr_nonnull(qkv_w);
    ck_assert_int_eq(nb_fill_(nb_module_param(fused, "qkv.bias"), 0.0), 0);
    for (int h = 0; h < H; h++)
        for (int p = 0; p < 3; p++) {
            char name[64];
            snprintf(name, sizeof name, "heads.%d.%s.weight", h, part_names[p]);
            nb_tensor *w = nb_module_param(mh, name);
            ck_assert_msg(w != NULL, "%s: %s", name, nb_last_error());
            ck_assert_int_eq(w->shape[0], D);
            ck_assert_int_eq(w->shape[1], C);
            ck_assert_int_eq(nb_copy_(w, qkv_rows(qkv_w, C, D, p, h)), 0);
        }
    ck_assert_int_eq(nb_copy_(nb_module_param(mh, "proj.weight"), nb_module_param(fused, "proj.weight")), 0);
    ck_assert_int_eq(nb_copy_(nb_module_param(mh, "proj.bias"), nb_module_param(fused, "proj.bias")), 0);
}

/* Larger weights than GPT-2's N(0, 0.02), so that attention is far from
 * uniform and a wrong wiring shows; a non-zero proj bias. */
static void sharpen(nb_module *fused) {
    ck_assert_int_eq(nb_randn_(nb_module_param(fused, "qkv.weight"), 0.0f, 0.4f, &rng), 0);
    ck_assert_int_eq(nb_randn_(nb_module_param(fused, "proj.weight"), 0.0f, 0.2f, &rng), 0);
    ck_assert_int_eq(nb_randn_(nb_module_param(fused, "proj.bias"), 0.0f, 0.5f, &rng), 0);
}

/* max |a - b| / (1 + max |b|) over two same-shape tensors (any layout). */
static double max_diff(const nb_tensor *a, const nb_tensor *b) {
    ck_assert_msg(a && b, "%s", nb_last_error());
    ck_assert_int_eq(nb_numel(a), nb_numel(b));
    int64_t n = nb_numel(a);
    float *fa = malloc(sizeof *fa * (size_t)n), *fb = malloc(sizeof *fb * (size_t)n);
    ck_assert_int_eq(nb_to_array(a, NB_F32, fa), 0);
    ck_assert_int_eq(nb_to_array(b, NB_F32, fb), 0);
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(fa[i]) && isfinite(fb[i]), "element %lld is not finite", (long long)i);
        double e = fabs((double)fa[i] - (double)fb[i]);
        if (e > d) d = e;
        if (fabs((double)fb[i]) > m) m = fabs((double)fb[i]);
    }
    free(fa);
    free(fb);
    return d / (1.0 + m);
}

/* Forward of m on a leaf copy of x, then backward of sum(y * g); returns y
 * and sets *xgrad to the input's gradient. */
static nb_tensor *run(nb_module *m, const nb_tensor *x, nb_tensor *g, nb_tensor **xgrad) {
    nb_tensor *xi = nb_requires_grad_(nb_clone(ctx, x), true);
    nb_module_zero_grad(m);
    nb_tensor *y = nb_module_forward(m, xi);
    ck_assert_msg(y != NULL, "%s forward: %s", m->type, nb_last_error());
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, g))), 0);
    *xgrad = xi->grad;
    ck_assert_ptr_nonnull(*xgrad);
    return y;
}

/* One comparison of the two forms for [B,T,C] inputs with H heads. */
static void compare(int64_t B, int64_t T, int64_t C, int H, float dropout) {
    int64_t D = C / H;
    nb_module *fused = nb_causal_self_attention_new(ctx, C, H, dropout, &rng);
    nb_module *mh = nb_multi_head_new(ctx, C, H, dropout, &rng);
    ck_assert_msg(fused && mh, "%s", nb_last_error());
    ck_assert_str_eq(mh->type, "MultiHeadAttention");
    ck_assert_str_eq(nb_module_find(mh, "heads.0")->type, "Head");
    sharpen(fused);
    copy_weights(fused, mh, C, H);
    /* dropout is identity in eval mode for both forms */
    nb_module_train(fused, dropout == 0.0f);
    nb_module_train(mh, dropout == 0.0f);

    nb_tensor *x = nb_randn(ctx, NB_SHAPE(B, T, C), 0.0f, 1.0f, &rng);
    nb_tensor *g = nb_randn(ctx, NB_SHAPE(B, T, C), 0.0f, 1.0f, &rng);
    nb_tensor *gx_f = NULL, *gx_h = NULL;
    nb_tensor *yf = run(fused, x, g, &gx_f);
    nb_tensor *yh = run(mh, x, g, &gx_h);
    ck_assert_int_eq(yh->ndim, 3);
    ck_assert_int_eq(yh->shape[0], B);
    ck_assert_int_eq(yh->shape[1], T);
    ck_assert_int_eq(yh->shape[2], C);
    double e = max_diff(yh, yf);
    ck_assert_msg(e < 1e-5, "B=%lld T=%lld C=%lld H=%d: outputs differ by %.3g", (long long)B, (long long)T,
                  (long long)C, H, e);
    e = max_diff(gx_h, gx_f);
    ck_assert_msg(e < 1e-5, "B=%lld T=%lld C=%lld H=%d: input gradients differ by %.3g", (long long)B,
                  (long long)T, (long long)C, H, e);

    /* parameter gradients: each head's q/k/v weight gradient is its block of
     * the fused qkv.weight gradient; proj's are the same */
    nb_tensor *qkv_g = nb_module_param(fused, "qkv.weight")->grad;
    for (int h = 0; h < H; h++)
        for (int p = 0; p < 3; p++) {
            char name[64];
            snprintf(name, sizeof name, "heads.%d.%s.weight", h, part_names[p]);
            e = max_diff(nb_module_param(mh, name)->grad, qkv_rows(qkv_g, C, D, p, h));
            ck_assert_msg(e < 1e-5, "gradient of %s differs from the qkv rows by %.3g", name, e);
        }
    e = max_diff(nb_module_param(mh, "proj.weight")->grad, nb_module_param(fused, "proj.weight")->grad);
    ck_assert_msg(e < 1e-5, "proj.weight gradients differ by %.3g", e);
    e = max_diff(nb_module_param(mh, "proj.bias")->grad, nb_module_param(fused, "proj.bias")->grad);
    ck_assert_msg(e < 1e-5, "proj.bias gradients differ by %.3g", e);
    nb_module_free(fused);
    nb_module_free(mh);
}

START_TEST(test_same_function_small) { compare(2, 7, 16, 4, 0.0f); }
END_TEST

START_TEST(test_same_function_babygpt_sizes) {
    /* the sizes of `make parity`: n_embd 64, 2 heads, context 32 */
    compare(2, 32, 64, 2, 0.0f);
}
END_TEST

START_TEST(test_same_function_one_head_and_one_position) {
    compare(3, 5, 8, 1, 0.0f);  /* H = 1: the head is the whole width */
    compare(2, 1, 12, 3, 0.0f); /* T = 1: every row attends only to itself */
    compare(1, 9, 32, 8, 0.0f); /* head size 4 */
}
END_TEST

START_TEST(test_same_function_eval_mode_with_dropout) {
    /* with dropout > 0 both forms are deterministic and equal in eval mode */
    compare(2, 6, 16, 2, 0.3f);
}
END_TEST

/* The comparison is sharp: wiring one head's key and query the wrong way
 * round (or leaving the fused qkv bias in) changes the output. */
START_TEST(test_wrong_wiring_is_detected) {
    int64_t B = 2, T = 6, C = 16;
    int H = 2;
    nb_module *fused = nb_causal_self_attention_new(ctx, C, H, 0.0f, &rng);
    nb_module *mh = nb_multi_head_new(ctx, C, H, 0.0f, &rng);
    ck_assert_msg(fused && mh, "%s", nb_last_error());
    sharpen(fused);
    copy_weights(fused, mh, C, H);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(B, T, C), 0.0f, 1.0f, &rng);
    nb_tensor *yf = nb_module_forward(fused, x);
    ck_assert_double_lt(max_diff(nb_module_forward(mh, x), yf), 1e-5);
    /* swap head 1's query and key */
    nb_tensor *qw = nb_module_param(mh, "heads.1.query.weight");
    nb_tensor *kw = nb_module_param(mh, "heads.1.key.weight");
    nb_tensor *tmp = nb_clone(ctx, qw);
    ck_assert_int_eq(nb_copy_(qw, kw), 0);
    ck_assert_int_eq(nb_copy_(kw, tmp), 0);
    ck_assert_double_gt(max_diff(nb_module_forward(mh, x), yf), 1e-3);
    /* put them back, then give the fused form a qkv bias the heads lack */
    ck_assert_int_eq(nb_copy_(kw, qw), 0);
    ck_assert_int_eq(nb_copy_(qw, tmp), 0);
    ck_assert_double_lt(max_diff(nb_module_forward(mh, x), yf), 1e-5);
    nb_randn_(nb_module_param(fused, "qkv.bias"), 0.0f, 0.5f, &rng);
    ck_assert_double_gt(max_diff(nb_module_forward(mh, x), nb_module_forward(fused, x)), 1e-3);
    nb_module_free(fused);
    nb_module_free(mh);
}
END_TEST

/* Both forms are causal: output t does not depend on inputs after t. */
START_TEST(test_both_forms_are_causal) {
    int64_t B = 1, T = 5, C = 8;
    nb_module *fused = nb_causal_self_attention_new(ctx, C, 2, 0.0f, &rng);
    nb_module *mh = nb_multi_head_new(ctx, C, 2, 0.0f, &rng);
    ck_assert_msg(fused && mh, "%s", nb_last_error());
    nb_module *forms[2] = {fused, mh};
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(B, T, C), 0.0f, 1.0f, &rng);
    nb_tensor *x2 = nb_clone(ctx, x);
    for (int64_t c = 0; c < C; c++)
        nb_data_f32(x2)[(T - 1) * C + c] += 5.0f;
    for (int f = 0; f < 2; f++) {
        nb_tensor *y = nb_module_forward(forms[f], x), *y2 = nb_module_forward(forms[f], x2);
        ck_assert_msg(y && y2, "%s", nb_last_error());
        float a[40], b[40];
        ck_assert_int_eq(nb_to_array(y, NB_F32, a), 0);
        ck_assert_int_eq(nb_to_array(y2, NB_F32, b), 0);
        for (int64_t i = 0; i < (T - 1) * C; i++)
            ck_assert_msg(a[i] == b[i], "%s: output %lld changed with a later input", forms[f]->type,
                          (long long)i);
        double last = 0;
        for (int64_t c = 0; c < C; c++)
            last += fabs((double)a[(T - 1) * C + c] - b[(T - 1) * C + c]);
        ck_assert_double_gt(last, 1e-4);
    }
    nb_module_free(fused);
    nb_module_free(mh);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("head_vs_fused");
    TCase *tc = tcase_create("equivalence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_function_small);
    tcase_add_test(tc, test_same_function_babygpt_sizes);
    tcase_add_test(tc, test_same_function_one_head_and_one_position);
    tcase_add_test(tc, test_same_function_eval_mode_with_dropout);
    tcase_add_test(tc, test_wrong_wiring_is_detected);
    tcase_add_test(tc, test_both_forms_are_causal);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
