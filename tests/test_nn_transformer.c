/* torch's TransformerEncoderLayer / TransformerDecoderLayer (nn/transformer.c): the children and
 * parameters torch has, the forward against the same blocks composed by hand (post- and pre-LN),
 * causal and padding masks, gradients, dropout in train mode only, errors, and an encoder that
 * learns a task that needs attention. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 25);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 61);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static nb_tensor *rn(int ndim, const int64_t *shape) { return nb_randn(ctx, ndim, shape, 0, 1, &rng); }

static nb_tensor *fwd(nb_module *m, const char *name, nb_tensor *x) {
    return nb_module_forward(nb_module_child(m, name), x);
}

/* linear2(act(linear1(x))), dropouts off */
static nb_tensor *ff_by_hand(nb_module *m, nb_tensor *x, bool gelu) {
    nb_tensor *h = fwd(m, "linear1", x);
    return fwd(m, "linear2", gelu ? nb_gelu_erf(h) : nb_relu(h));
}

START_TEST(torch_names_and_order) {
    nb_module *e = nb_transformer_encoder_layer_new(ctx, 16, 4, 32, 0.1f, NULL, &rng);
    nb_module *d = nb_transformer_decoder_layer_new(ctx, 16, 4, 32, 0.1f, NULL, &rng);
    ck_assert_msg(e && d, "%s", nb_last_error());
    nb_param_list pl;
    ck_assert_int_eq(nb_module_parameters(e, &pl), 0);
    const char *want[12] = {"self_attn.in_proj_weight",
                            "self_attn.in_proj_bias",
                            "self_attn.out_proj.weight",
                            "self_attn.out_proj.bias",
                            "linear1.weight",
                            "linear1.bias",
                            "linear2.weight",
                            "linear2.bias",
                            "norm1.weight",
                            "norm1.bias",
                            "norm2.weight",
                            "norm2.bias"};
    ck_assert_int_eq(pl.n, 12);
    for (int i = 0; i < 12; i++)
        ck_assert_str_eq(pl.names[i], want[i]);
    ck_assert(pl.tensors[4]->shape[0] == 32 && pl.tensors[4]->shape[1] == 16);
    /* torch's Linear initialisation: weight and bias within +-1/sqrt(in) */
    for (int64_t i = 0; i < nb_numel(pl.tensors[7]); i++)
        ck_assert(fabsf(nb_data_f32(pl.tensors[7])[i]) <= 1.0f / sqrtf(32.0f));
    nb_param_list_free(&pl);
    ck_assert_int_eq(nb_module_parameters(d, &pl), 0);
    ck_assert_int_eq(pl.n, 18);
    ck_assert_str_eq(pl.names[4], "multihead_attn.in_proj_weight");
    ck_assert_str_eq(pl.names[17], "norm3.bias");
    nb_param_list_free(&pl);
    nb_module_free(e);
    nb_module_free(d);
}
END_TEST

START_TEST(encoder_against_composition) {
    const bool norm_first = _i & 1, gelu = _i & 2;
    const nb_transformer_opts o = {.norm_first = norm_first, .gelu = gelu};
    nb_module *m = nb_transformer_encoder_layer_new(ctx, 8, 2, 16, 0.0f, &o, &rng);
    ck_assert(m != NULL);
    nb_tensor *x = rn(NB_SHAPE(5, 3, 8));
    int32_t pad[15] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    nb_tensor *kpm = nb_from_data(ctx, NB_I32, NB_SHAPE(3, 5), pad);
    nb_tensor *y = nb_encoder_layer_run(m, x, NULL, kpm, true);
    nb_module *sa = nb_module_child(m, "self_attn");
    nb_tensor *want;
    if (norm_first) {
        nb_tensor *n1 = fwd(m, "norm1", x);
        nb_tensor *h = nb_add(x, nb_mha_run(sa, n1, n1, n1, NULL, kpm, true, NULL));
        want = nb_add(h, ff_by_hand(m, fwd(m, "norm2", h), gelu));
    } else {
        nb_tensor *h = fwd(m, "norm1", nb_add(x, nb_mha_run(sa, x, x, x, NULL, kpm, true, NULL)));
        want = fwd(m, "norm2", nb_add(h, ff_by_hand(m, h, gelu)));
    }
    NB_ASSERT_CLOSE(y, want, 1e-6, "encoder layer");
    /* unmasked, through nb_module_forward */
    NB_ASSERT_CLOSE(nb_module_forward(m, x), nb_encoder_layer_run(m, x, NULL, NULL, false), 0, "forward");
    nb_module_free(m);
}
END_TEST

START_TEST(decoder_against_composition) {
    const bool norm_first = _i;
    nb_module *m = nb_transformer_decoder_layer_new(ctx, 8, 2, 16, 0.0f,
                                                    &(nb_transformer_opts){.norm_first = norm_first}, &rng);
    ck_assert(m != NULL);
    nb_tensor *t = rn(NB_SHAPE(4, 2, 8)), *mem = rn(NB_SHAPE(6, 2, 8));
    nb_tensor *y = nb_decoder_layer_run(m, t, mem, NULL, NULL, NULL, NULL, true);
    nb_module *sa = nb_module_child(m, "self_attn"), *ca = nb_module_child(m, "multihead_attn");
    nb_tensor *want;
    if (norm_first) {
        nb_tensor *n1 = fwd(m, "norm1", t);
        nb_tensor *h = nb_add(t, nb_mha_run(sa, n1, n1, n1, NULL, NULL, true, NULL));
        h = nb_add(h, nb_mha_run(ca, fwd(m, "norm2", h), mem, mem, NULL, NULL, false, NULL));
        want = nb_add(h, ff_by_hand(m, fwd(m, "norm3", h), false));
    } else {
        nb_tensor *h = fwd(m, "norm1", nb_add(t, nb_mha_run(sa, t, t, t, NULL, NULL, true, NULL)));
        h = fwd(m, "norm2", nb_add(h, nb_mha_run(ca, h, mem, mem, NULL, NULL, false, NULL)));
        want = fwd(m, "norm3", nb_add(h, ff_by_hand(m, h, false)));
    }
    NB_ASSERT_CLOSE(y, want, 1e-6, "decoder layer");
    /* causal: a later target position changes nothing before it */
    nb_tensor *t2 = nb_clone(ctx, t);
    for (int64_t e = 0; e < 16; e++)
        nb_data_f32(t2)[3 * 16 + e] += 1; /* position 3, both batch rows */
    nb_tensor *y2 = nb_decoder_layer_run(m, t2, mem, NULL, NULL, NULL, NULL, true);
    NB_ASSERT_CLOSE(nb_narrow(y2, 0, 0, 3), nb_narrow(y, 0, 0, 3), 1e-6, "causal");
    ck_assert_ptr_null(nb_module_forward(m, t));
    ERR_STARTS("TransformerDecoderLayer: a decoder layer needs the memory");
    nb_module_free(m);
}
END_TEST

static nb_module *gc_m;
static nb_tensor *gc_enc(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_encoder_layer_run(gc_m, in[0], NULL, NULL, false);
}
static nb_tensor *gc_dec(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_decoder_layer_run(gc_m, in[0], in[1], NULL, NULL, NULL, NULL, true);
}

START_TEST(gradients) {
    gc_m = nb_transformer_encoder_layer_new(ctx, 4, 2, 8, 0.0f, &(nb_transformer_opts){.norm_first = true},
                                            &rng);
    nb_tensor *x = nb_requires_grad_(rn(NB_SHAPE(3, 2, 4)), true);
    ck_assert_msg(nb_gradcheck(gc_enc, &x, 1, NULL, NULL) == 1, "encoder: %s", nb_last_error());
    nb_module_free(gc_m);
    gc_m = nb_transformer_decoder_layer_new(ctx, 4, 2, 8, 0.0f, &(nb_transformer_opts){.gelu = true}, &rng);
    nb_tensor *in[2] = {nb_requires_grad_(rn(NB_SHAPE(3, 2, 4)), true),
                        nb_requires_grad_(rn(NB_SHAPE(4, 2, 4)), true)};
    ck_assert_msg(nb_gradcheck(gc_dec, in, 2, NULL, NULL) == 1, "decoder: %s", nb_last_error());
    nb_module_free(gc_m);
}
END_TEST

START_TEST(dropout_and_errors) {
    nb_module *m = nb_transformer_encoder_layer_new(ctx, 8, 2, 16, 0.3f,
                                                    &(nb_transformer_opts){.batch_first = true}, &rng);
    nb_module_seed(m, 5);
    nb_tensor *x = rn(NB_SHAPE(2, 5, 8));
    nb_tensor *a = nb_module_forward(m, x), *b = nb_module_forward(m, x);
    nb_module_train(m, false);
    nb_tensor *e1 = nb_module_forward(m, x), *e2 = nb_module_forward(m, x);
    double da = 0, de = 0;
    for (int64_t i = 0; i < nb_numel(x); i++)
        da += fabs(nb_data_f32(a)[i] - nb_data_f32(b)[i]),
            de += fabs(nb_data_f32(e1)[i] - nb_data_f32(e2)[i]);
    ck_assert(da > 1e-3 && de == 0);
    ck_assert_ptr_null(nb_encoder_layer_run(m, rn(NB_SHAPE(2, 5, 6)), NULL, NULL, false));
    ERR_STARTS("MultiheadAttention: want query");
    nb_module *lin = nb_linear_new(ctx, 2, 2, true, &rng);
    ck_assert_ptr_null(nb_encoder_layer_run(lin, x, NULL, NULL, false));
    ERR_STARTS("encoder_layer_run: not a TransformerEncoderLayer");
    ck_assert_ptr_null(nb_decoder_layer_run(m, x, x, NULL, NULL, NULL, NULL, false));
    ERR_STARTS("decoder_layer_run: not a TransformerDecoderLayer");
    ck_assert_ptr_null(nb_transformer_encoder_layer_new(ctx, 8, 3, 16, 0.1f, NULL, &rng));
    ERR_STARTS("transformer_encoder_layer_new: d_model 8 must be a positive multiple of the 3 heads");
    ck_assert_ptr_null(
        nb_transformer_encoder_layer_new(ctx, 8, 2, 16, 0.1f, &(nb_transformer_opts){.eps = INFINITY}, &rng));
    ERR_STARTS("transformer_encoder_layer_new: eps inf must be finite and >= 0");
    nb_module_free(lin);
    nb_module_free(m);
}
END_TEST

/* two encoder layers learn to output, at each position, the mean of the whole sequence: each
 * position alone knows nothing of it, so the loss falls only through attention */
START_TEST(encoder_learns_the_sequence_mean) {
    nb_ctx *params = nb_ctx_new(1 << 22), *step = nb_ctx_new(16 << 20);
    const nb_transformer_opts o = {.batch_first = true, .norm_first = true};
    nb_module *l1 = nb_transformer_encoder_layer_new(params, 16, 4, 32, 0.0f, &o, &rng);
    nb_module *l2 = nb_transformer_encoder_layer_new(params, 16, 4, 32, 0.0f, &o, &rng);
    nb_module *in = nb_linear_new(params, 1, 16, true, &rng), *out = nb_linear_new(params, 16, 1, true, &rng);
    nb_optim *opt = nb_adamw_new(params, 3e-3f, 0.9f, 0.999f, 1e-8f);
    ck_assert(l1 && l2 && in && out && opt);
    nb_module *all[4] = {in, l1, l2, out};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(nb_optim_add_module(opt, all[i], 0), 0);
    double first = 0, last = 0;
    nb_ctx_use(step);
    for (int it = 0; it < 200; it++) {
        nb_ctx_reset(step);
        nb_tensor *x = nb_randn(step, NB_SHAPE(16, 8, 1), 0, 1, &rng);
        nb_tensor *target = nb_expand(nb_mean(x, 1, (const int[]){1}, true), 3, x->shape);
        nb_tensor *h = nb_module_forward(in, x);
        h = nb_module_forward(out, nb_module_forward(l2, nb_module_forward(l1, h)));
        nb_tensor *l = nb_mse_loss(h, target, NB_REDUCE_MEAN);
        ck_assert_msg(l && nb_backward(l) == 0, "%s", nb_last_error());
        if (it < 10) first += nb_item(l) / 10;
        if (it >= 190) last += nb_item(l) / 10;
        ck_assert_int_eq(nb_optim_step(opt), 0);
        nb_optim_zero_grad(opt);
    }
    nb_ctx_use(ctx);
    ck_assert_msg(last < first / 10, "loss %.4f -> %.4f: want a tenfold drop", first, last);
    nb_optim_free(opt);
    for (int i = 0; i < 4; i++)
        nb_module_free(all[i]);
    nb_ctx_free(step);
    nb_ctx_free(params);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_transformer");
    TCase *tc = tcase_create("transformer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, torch_names_and_order);
    tcase_add_loop_test(tc, encoder_against_composition, 0, 4);
    tcase_add_loop_test(tc, decoder_against_composition, 0, 2);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, dropout_and_errors);
    tcase_add_test(tc, encoder_learns_the_sequence_mean);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
