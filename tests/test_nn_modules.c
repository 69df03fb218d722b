/* test_nn_modules.c - every module's forward against plain-loop references
 * (double precision), its backward through nb_gradcheck, the module tree
 * (names, modes, lookup, errors) and GPT-2 initialisation. */
#include <math.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;

static void setup(void) {
    ctx = nb_ctx_new(8 << 20);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 42);
    nb_module_record_shapes(true); /* the tests below read out_shape */
}

static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

/* A row-major double copy of t (caller frees). */
static double *dbl(const nb_tensor *t) {
    int64_t n = nb_numel(t);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    ck_assert_int_eq(nb_to_array(t, NB_F32, f), 0);
    for (int64_t i = 0; i < n; i++)
        d[i] = f[i];
    free(f);
    return d;
}

static void expect_all_close(const nb_tensor *y, const double *want, int64_t n, double tol) {
    ck_assert_int_eq(nb_numel(y), n);
    double *got = dbl(y);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(nb_close(got[i], want[i], tol, tol), "element %lld: %.8g vs reference %.8g",
                      (long long)i, got[i], want[i]);
    free(got);
}

/* nb_gradcheck through a module: inputs[0] is the module's input. */
static nb_tensor *module_fn(nb_tensor **in, int n, void *user) {
    (void)n;
    return nb_module_forward(user, in[0]);
}

/* Gradchecks m with respect to x and every parameter. */
static void gradcheck_module(nb_module *m, nb_tensor *x) {
    nb_param_list l;
    ck_assert_int_eq(nb_module_parameters(m, &l), 0);
    nb_tensor **in = malloc(sizeof *in * (size_t)(l.n + 1));
    in[0] = x;
    for (int i = 0; i < l.n; i++)
        in[i + 1] = l.tensors[i];
    nb_gradcheck_opts o = {1e-2, 2e-3, 2e-2, 7, false};
    int r = nb_gradcheck(module_fn, in, l.n + 1, m, &o);
    ck_assert_msg(r == 1, "gradcheck %s: %s", m->type, nb_last_error());
    free(in);
    nb_param_list_free(&l);
}

/* y[r][o] = sum_k x[r][k] w[o][k] + b[o] */
static double *ref_linear(const double *x, const double *w, const double *b, int64_t rows, int64_t in,
                          int64_t out) {
    double *y = calloc((size_t)(rows * out), sizeof *y);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0;
            for (int64_t k = 0; k < in; k++)
                s += x[r * in + k] * w[o * in + k];
            y[r * out + o] = s;
        }
    return y;
}

START_TEST(test_linear) {
    for (int bias = 0; bias < 2; bias++) {
        nb_module *m = nb_linear_new(ctx, 4, 5, bias, &rng);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(m->type, "Linear");
        ck_assert_int_eq(m->n_params, bias ? 2 : 1);
        nb_tensor *w = nb_module_param(m, "weight");
        ck_assert_int_eq(w->shape[0], 5);
        ck_assert_int_eq(w->shape[1], 4);
        if (bias) nb_randn_(nb_module_param(m, "bias"), 0.0f, 1.0f, &rng);
        /* a non-contiguous [2,3,4] input (permuted) */
        nb_tensor *x = nb_permute(nb_randn(ctx, NB_SHAPE(3, 2, 4), 0, 1, &rng), (int[]){1, 0, 2});
        nb_tensor *y = nb_module_forward(m, x);
        ck_assert_msg(y != NULL, "%s", nb_last_error());
        ck_assert_int_eq(y->ndim, 3);
        ck_assert_int_eq(y->shape[2], 5);
        ck_assert_int_eq(m->out_ndim, 3);
        /* with recording off (the default) a forward writes nothing to the module */
        bool rec = nb_module_record_shapes(false);
        m->out_ndim = -1;
        ck_assert_ptr_nonnull(nb_module_forward(m, x));
        ck_assert_int_eq(m->out_ndim, -1);
        nb_module_record_shapes(rec);
        double *xd = dbl(x), *wd = dbl(w), *bd = bias ? dbl(nb_module_param(m, "bias")) : NULL;
        double *ref = ref_linear(xd, wd, bd, 6, 4, 5);
        expect_all_close(y, ref, 30, 1e-5);
        free(xd), free(wd), free(bd), free(ref);
        nb_tensor *xs = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 4), 0, 1, &rng), true);
        gradcheck_module(m, xs);
        /* wrong input width: NULL and a message from the op */
        ck_assert_ptr_null(nb_module_forward(m, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3))));
        ck_assert(strlen(nb_last_error()) > 0);
        nb_module_free(m);
    }
    ck_assert_ptr_null(nb_linear_new(ctx, 0, 3, true, &rng));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "linear_new"));
}
END_TEST

START_TEST(test_embedding) {
    nb_module *m = nb_embedding_new(ctx, 7, 3, &rng);
    ck_assert_ptr_nonnull(m);
    int32_t ix[6] = {0, 6, 3, 3, 1, 5};
    nb_tensor *idx = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), ix);
    nb_tensor *y = nb_module_forward(m, idx);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->ndim, 3);
    double *w = dbl(nb_module_param(m, "weight")), ref[18];
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 3; c++)
            ref[i * 3 + c] = w[ix[i] * 3 + c];
    expect_all_close(y, ref, 18, 0);
    free(w);
    nb_param_list l;
    nb_module_parameters(m, &l);
    nb_tensor *in[2] = {idx, l.tensors[0]};
    nb_gradcheck_opts o = {1e-2, 1e-3, 1e-2, 3, false};
    ck_assert_int_eq(nb_gradcheck(module_fn, in, 2, m, &o), 1);
    nb_param_list_free(&l);
    int32_t bad[1] = {7};
    ck_assert_ptr_null(nb_module_forward(m, nb_from_data(ctx, NB_I32, NB_SHAPE(1), bad)));
    /* torch's padding_idx: row 3 zeroed, and no gradient ever reaches it */
    ck_assert_int_eq(nb_embedding_padding(m, -4), 0);
    nb_tensor *wt = nb_module_param(m, "weight");
    for (int c = 0; c < 3; c++)
        ck_assert(nb_data_f32(wt)[9 + c] == 0);
    nb_data_f32(wt)[9] = 0.5f; /* a loaded, non-zero padding row is read as it is */
    nb_zero_grad(wt);
    nb_tensor *yp = nb_module_forward(m, idx);
    ck_assert(yp && nb_data_f32(yp)[6] == 0.5f && nb_data_f32(yp)[9] == 0.5f);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(yp, yp))), 0);
    for (int c = 0; c < 3; c++)
        ck_assert(nb_data_f32(wt->grad)[9 + c] == 0);              /* the padding row */
    ck_assert(nb_data_f32(wt->grad)[0] == 2 * nb_data_f32(wt)[0]); /* row 0, once */
    nb_tensor *one = nb_module_forward(m, nb_from_data(ctx, NB_I32, 0, NULL, (const int32_t[]){3})); /* 0-d */
    ck_assert_msg(one && one->ndim == 1 && one->shape[0] == 3, "a 0-d index gives [dim]");
    ck_assert_int_eq(nb_embedding_padding(m, 7), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "embedding_padding: padding_idx 7 outside [-7, 7)"));
    nb_module *lin = nb_linear_new(ctx, 2, 2, true, &rng);
    ck_assert_int_eq(nb_embedding_padding(lin, 0), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "embedding_padding: not an Embedding module"));
    nb_module_free(lin);
    nb_module_free(m);
}
END_TEST

START_TEST(test_layernorm) {
    nb_module *m = nb_layernorm_new(ctx, 6, 1e-5f, true);
    ck_assert_ptr_nonnull(m);
    nb_tensor *w = nb_module_param(m, "weight"), *b = nb_module_param(m, "bias");
    ck_assert_float_eq(nb_data_f32(w)[3], 1.0f);
    ck_assert_float_eq(nb_data_f32(b)[3], 0.0f);
    nb_randn_(w, 1.0f, 0.5f, &rng);
    nb_randn_(b, 0.0f, 0.5f, &rng);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 6), 0.5f, 2.0f, &rng);
    nb_tensor *y = nb_module_forward(m, x);
    ck_assert_ptr_nonnull(y);
    double *xd = dbl(x), *wd = dbl(w), *bd = dbl(b), ref[36];
    for (int r = 0; r < 6; r++) {
        double mean = 0, var = 0;
        for (int c = 0; c < 6; c++)
            mean += xd[r * 6 + c] / 6;
        for (int c = 0; c < 6; c++)
            var += pow(xd[r * 6 + c] - mean, 2) / 6;
        for (int c = 0; c < 6; c++)
            ref[r * 6 + c] = (xd[r * 6 + c] - mean) / sqrt(var + 1e-5) * wd[c] + bd[c];
    }
    expect_all_close(y, ref, 36, 1e-4);
    free(xd), free(wd), free(bd);
    gradcheck_module(m, nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 6), 0, 1, &rng), true));
    nb_module *nob = nb_layernorm_new(ctx, 6, 1e-5f, false);
    ck_assert_int_eq(nob->n_params, 1);
    nb_module_free(nob);
    nb_module_free(m);
}
END_TEST

START_TEST(test_activations_and_sequential) {
    nb_module *seq = nb_sequential_new();
    nb_module *l1 = nb_linear_new(ctx, 3, 8, true, &rng), *l2 = nb_linear_new(ctx, 8, 2, true, &rng);
    ck_assert_int_eq(nb_sequential_append(seq, l1), 0);
    ck_assert_int_eq(nb_sequential_append(seq, nb_relu_new()), 0);
    ck_assert_int_eq(nb_sequential_append(seq, l2), 0);
    ck_assert_int_eq(nb_sequential_append(seq, nb_gelu_new()), 0);
    nb_param_list l;
    ck_assert_int_eq(nb_module_parameters(seq, &l), 0);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.names[0], "0.weight");
    ck_assert_str_eq(l.names[3], "2.bias");
    nb_param_list_free(&l);
    ck_assert_int_eq(nb_module_num_params(seq), 3 * 8 + 8 + 8 * 2 + 2);
    nb_randn_(nb_module_param(seq, "0.bias"), 0, 1, &rng);
    nb_randn_(nb_module_param(seq, "0.weight"), 0, 1, &rng);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(4, 3), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(seq, x);
    ck_assert_ptr_nonnull(y);
    double *xd = dbl(x), *w1 = dbl(nb_module_param(seq, "0.weight")),
           *b1 = dbl(nb_module_param(seq, "0.bias"));
    double *w2 = dbl(nb_module_param(seq, "2.weight")), *b2 = dbl(nb_module_param(seq, "2.bias"));
    double *h = ref_linear(xd, w1, b1, 4, 3, 8);
    for (int i = 0; i < 32; i++)
        h[i] = h[i] > 0 ? h[i] : 0;
    double *o = ref_linear(h, w2, b2, 4, 8, 2);
    for (int i = 0; i < 8; i++) {
        double v = o[i];
        o[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    }
    expect_all_close(y, o, 8, 1e-5);
    free(xd), free(w1), free(b1), free(w2), free(b2), free(h), free(o);
    /* every child recorded its output shape */
    ck_assert_int_eq(nb_module_child(seq, "1")->out_shape[1], 8);
    gradcheck_module(seq, nb_requires_grad_(nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, &rng), true));
    /* a ModuleList has no forward */
    nb_module *list = nb_module_list_new();
    ck_assert_ptr_null(nb_module_forward(list, x));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "ModuleList"));
    nb_module_free(list);
    nb_module_free(seq);
    /* the other activation modules are their ops, with their types */
    struct {
        nb_module *m;
        nb_tensor *(*op)(nb_tensor *);
        const char *type;
    } acts[] = {{nb_gelu_erf_new(), nb_gelu_erf, "GELU(erf)"},
                {nb_silu_new(), nb_silu, "SiLU"},
                {nb_sigmoid_new(), nb_sigmoid, "Sigmoid"},
                {nb_tanh_new(), nb_tanh, "Tanh"}};
    for (int k = 0; k < 4; k++) {
        ck_assert_str_eq(acts[k].m->type, acts[k].type);
        nb_tensor *a = nb_module_forward(acts[k].m, x), *b = acts[k].op(x);
        for (int i = 0; i < 12; i++)
            ck_assert_float_eq(nb_data_f32(a)[i], nb_data_f32(b)[i]);
        nb_module_free(acts[k].m);
    }
    nb_module *lr = nb_leaky_relu_new(0.2f), *id = nb_identity_new();
    nb_tensor *ly = nb_module_forward(lr, x);
    for (int i = 0; i < 12; i++) {
        const float v = nb_data_f32(x)[i];
        ck_assert_float_eq(nb_data_f32(ly)[i], v > 0 ? v : 0.2f * v);
    }
    ck_assert_ptr_eq(nb_module_forward(id, x), x);
    nb_module_free(lr), nb_module_free(id);
    ck_assert_ptr_null(nb_leaky_relu_new(NAN));
}
END_TEST

START_TEST(test_dropout_and_modes) {
    nb_module *seq = nb_sequential_new();
    nb_module *d = nb_dropout_new(0.25f);
    nb_sequential_append(seq, nb_gelu_new());
    nb_sequential_append(seq, d);
    nb_module_seed(d, 1234); /* seeds the root's generator */
    ck_assert_uint_eq(nb_module_rng(seq)->seed, 1234);
    ck_assert_ptr_eq(nb_module_rng(d), nb_module_rng(seq));
    nb_tensor *x = nb_ones(ctx, NB_F32, NB_SHAPE(100, 100));
    uint64_t off0 = nb_module_rng(seq)->offset;
    nb_tensor *y = nb_module_forward(d, x);
    ck_assert_ptr_nonnull(y);
    ck_assert(nb_module_rng(seq)->offset > off0); /* drew from the tree's generator */
    float *p = nb_data_f32(y);
    int zeros = 0;
    for (int i = 0; i < 10000; i++) {
        ck_assert(p[i] == 0.0f || fabsf(p[i] - 1.0f / 0.75f) < 1e-6f);
        zeros += p[i] == 0.0f;
    }
    ck_assert_msg(zeros > 2300 && zeros < 2700, "dropped %d of 10000", zeros);
    /* the same generator state gives the same mask */
    nb_module_seed(seq, 1234);
    nb_tensor *y2 = nb_module_forward(d, x);
    ck_assert(memcmp(nb_data(y), nb_data(y2), 40000) == 0);
    /* eval mode reaches every child and makes dropout the identity */
    nb_module_train(seq, false);
    ck_assert(!d->training);
    ck_assert_ptr_eq(nb_module_forward(d, x), x);
    nb_module_train(seq, true);
    ck_assert(d->training);
    ck_assert_ptr_null(nb_dropout_new(1.0f));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "dropout_new"));
    nb_module_free(seq);
}
END_TEST

START_TEST(test_mlp) {
    nb_module *m = nb_mlp_new(ctx, 4, 16, 0.0f, &rng);
    ck_assert_ptr_nonnull(m);
    nb_param_list l;
    nb_module_parameters(m, &l);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.names[0], "fc.weight");
    ck_assert_str_eq(l.names[2], "proj.weight");
    nb_param_list_free(&l);
    ck_assert(nb_module_find(m, "proj")->residual);
    ck_assert(!nb_module_find(m, "fc")->residual);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 3, 4), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(m, x);
    ck_assert_ptr_nonnull(y);
    double *xd = dbl(x), *w1 = dbl(nb_module_param(m, "fc.weight")),
           *w2 = dbl(nb_module_param(m, "proj.weight"));
    double *h = ref_linear(xd, w1, NULL, 6, 4, 16); /* biases are zero */
    for (int i = 0; i < 96; i++)
        h[i] = 0.5 * h[i] * (1 + tanh(sqrt(2 / M_PI) * (h[i] + 0.044715 * pow(h[i], 3))));
    double *o = ref_linear(h, w2, NULL, 6, 16, 4);
    expect_all_close(y, o, 24, 1e-5);
    free(xd), free(w1), free(w2), free(h), free(o);
    nb_init_gpt2(m, &rng, 0);
    nb_randn_(nb_module_param(m, "fc.weight"), 0, 0.5f, &rng);
    nb_randn_(nb_module_param(m, "proj.weight"), 0, 0.5f, &rng);
    gradcheck_module(m, nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 2, 4), 0, 1, &rng), true));
    nb_module_free(m);
}
END_TEST

/* Reference causal multi-head attention over a [T,C] sequence (one batch item),
 * from qkv [T,3C] and the projection. */
static void ref_attention(const double *qkv, int64_t T, int64_t C, int H, const double *pw, const double *pb,
                          double *out) {
    int64_t D = C / H;
    double *y = calloc((size_t)(T * C), sizeof *y);
    for (int h = 0; h < H; h++)
        for (int64_t i = 0; i < T; i++) {
            double s[64], mx = -1e300, sum = 0;
            for (int64_t j = 0; j <= i; j++) {
                double d = 0;
                for (int64_t k = 0; k < D; k++)
                    d += qkv[i * 3 * C + h * D + k] * qkv[j * 3 * C + C + h * D + k];
                s[j] = d / sqrt((double)D);
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int64_t j = 0; j <= i; j++)
                sum += (s[j] = exp(s[j] - mx));
            for (int64_t k = 0; k < D; k++) {
                double a = 0;
                for (int64_t j = 0; j <= i; j++)
                    a += s[j] / sum * qkv[j * 3 * C + 2 * C + h * D + k];
                y[i * C + h * D + k] = a;
            }
        }
    double *o = ref_linear(y, pw, pb, T, C, C);
    memcpy(out, o, sizeof(double) * (size_t)(T * C));
    free(o);
    free(y);
}

START_TEST(test_causal_self_attention) {
    int64_t B = 2, T = 5, C = 8;
    int H = 2;
    nb_module *m = nb_causal_self_attention_new(ctx, C, H, 0.0f, &rng);
    ck_assert_msg(m != NULL, "%s", nb_last_error());
    nb_param_list l;
    nb_module_parameters(m, &l);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.names[0], "qkv.weight");
    ck_assert_int_eq(l.tensors[0]->shape[0], 3 * C);
    ck_assert_str_eq(l.names[2], "proj.weight");
    for (int i = 0; i < l.n; i++)
        nb_randn_(l.tensors[i], 0, 0.4f, &rng);
    nb_param_list_free(&l);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(B, T, C), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(m, x);
    ck_assert_msg(y != NULL, "%s", nb_last_error());
    ck_assert_int_eq(y->shape[0], B);
    ck_assert_int_eq(y->shape[1], T);
    ck_assert_int_eq(y->shape[2], C);
    double *xd = dbl(x), *qw = dbl(nb_module_param(m, "qkv.weight")),
           *qb = dbl(nb_module_param(m, "qkv.bias"));
    double *pw = dbl(nb_module_param(m, "proj.weight")), *pb = dbl(nb_module_param(m, "proj.bias"));
    double *ref = malloc(sizeof(double) * (size_t)(B * T * C));
    for (int64_t b = 0; b < B; b++) {
        double *qkv = ref_linear(xd + b * T * C, qw, qb, T, C, 3 * C);
        ref_attention(qkv, T, C, H, pw, pb, ref + b * T * C);
        free(qkv);
    }
    expect_all_close(y, ref, B * T * C, 1e-4);
    /* causality: changing the last position leaves earlier outputs alone */
    nb_tensor *x2 = nb_clone(ctx, x);
    nb_data_f32(x2)[(T - 1) * C] += 3.0f;
    nb_tensor *y2 = nb_module_forward(m, x2);
    for (int64_t i = 0; i < (T - 1) * C; i++)
        ck_assert_float_eq(nb_data_f32(y2)[i], nb_data_f32(y)[i]);
    free(xd), free(qw), free(qb), free(pw), free(pb), free(ref);
    gradcheck_module(m, nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 3, C), 0, 1, &rng), true));
    ck_assert_ptr_null(nb_module_forward(m, nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3, 4))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "CausalSelfAttention: expected input [B,T,8]"));
    ck_assert_ptr_null(nb_causal_self_attention_new(ctx, 10, 3, 0.0f, &rng));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "n_head"));
    nb_module_free(m);
}
END_TEST

/* Multi-head attention from separate Heads equals the fused module with the
 * same weights stacked into qkv. */
START_TEST(test_heads_match_fused) {
    int64_t C = 8;
    int H = 2;
    int64_t D = C / H;
    nb_module *mh = nb_multi_head_new(ctx, C, H, 0.0f, &rng);
    nb_module *fused = nb_causal_self_attention_new(ctx, C, H, 0.0f, &rng);
    ck_assert_ptr_nonnull(mh);
    ck_assert_ptr_nonnull(nb_module_param(mh, "heads.1.query.weight"));
    float *qkv = nb_data_f32(nb_module_param(fused, "qkv.weight"));
    nb_fill_(nb_module_param(fused, "qkv.bias"), 0.0);
    const char *parts[3] = {"query", "key", "value"};
    for (int h = 0; h < H; h++)
        for (int p = 0; p < 3; p++) {
            char name[64];
            snprintf(name, sizeof name, "heads.%d.%s.weight", h, parts[p]);
            nb_tensor *w = nb_module_param(mh, name);
            ck_assert_int_eq(w->shape[0], D);
            memcpy(qkv + (p * C + h * D) * C, nb_data_f32(w), sizeof(float) * (size_t)(D * C));
        }
    nb_copy_(nb_module_param(fused, "proj.weight"), nb_module_param(mh, "proj.weight"));
    nb_randn_(nb_module_param(mh, "proj.bias"), 0, 1, &rng);
    nb_copy_(nb_module_param(fused, "proj.bias"), nb_module_param(mh, "proj.bias"));
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 6, C), 0, 1, &rng);
    nb_tensor *a = nb_module_forward(mh, x), *b = nb_module_forward(fused, x);
    ck_assert_msg(a && b, "%s", nb_last_error());
    double *bd = dbl(b);
    expect_all_close(a, bd, 2 * 6 * C, 1e-5);
    free(bd);
    nb_module *head = nb_module_find(mh, "heads.0");
    ck_assert_str_eq(head->type, "Head");
    ck_assert_int_eq(head->out_shape[2], D);
    gradcheck_module(head, nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 3, C), 0, 1, &rng), true));
    nb_module_free(mh);
    nb_module_free(fused);
}
END_TEST

START_TEST(test_transformer_block) {
    int64_t C = 8;
    nb_module *m = nb_transformer_block_new(ctx, C, 2, 0.0f, &rng);
    ck_assert_ptr_nonnull(m);
    const char *want[] = {"ln1.weight",       "ln1.bias",       "attn.qkv.weight", "attn.qkv.bias",
                          "attn.proj.weight", "attn.proj.bias", "ln2.weight",      "ln2.bias",
                          "mlp.fc.weight",    "mlp.fc.bias",    "mlp.proj.weight", "mlp.proj.bias"};
    nb_param_list l;
    nb_module_parameters(m, &l);
    ck_assert_int_eq(l.n, 12);
    for (int i = 0; i < 12; i++)
        ck_assert_str_eq(l.names[i], want[i]);
    for (int i = 0; i < l.n; i++)
        nb_randn_(l.tensors[i], 0.1f, 0.3f, &rng);
    nb_param_list_free(&l);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(2, 4, C), 0, 1, &rng);
    nb_tensor *y = nb_module_forward(m, x);
    ck_assert_ptr_nonnull(y);
    /* the same composition by hand from the children */
    nb_tensor *h = nb_add(
        x, nb_module_forward(nb_module_find(m, "attn"), nb_module_forward(nb_module_find(m, "ln1"), x)));
    nb_tensor *r = nb_add(
        h, nb_module_forward(nb_module_find(m, "mlp"), nb_module_forward(nb_module_find(m, "ln2"), h)));
    double *rd = dbl(r);
    expect_all_close(y, rd, 2 * 4 * C, 1e-6);
    free(rd);
    gradcheck_module(m, nb_requires_grad_(nb_randn(ctx, NB_SHAPE(1, 3, C), 0, 1, &rng), true));
    nb_module_free(m);
}
END_TEST

static double stddev(const nb_tensor *t) {
    double *d = dbl(t), s = 0, ss = 0;
    int64_t n = nb_numel(t);
    for (int64_t i = 0; i < n; i++)
        s += d[i], ss += d[i] * d[i];
    free(d);
    return sqrt(ss / n - (s / n) * (s / n));
}

START_TEST(test_gpt2_init) {
    int n_layer = 4;
    nb_module *a = nb_transformer_block_new(ctx, 64, 4, 0.1f, &rng);
    nb_module *b = nb_transformer_block_new(ctx, 64, 4, 0.1f, &rng);
    nb_rng r1, r2;
    nb_rng_init(&r1, 5);
    nb_rng_init(&r2, 5);
    nb_fill_(nb_module_param(a, "ln1.weight"), 3.0);
    nb_fill_(nb_module_param(a, "mlp.fc.bias"), 3.0);
    ck_assert_int_eq(nb_init_gpt2(a, &r1, n_layer), 0);
    ck_assert_int_eq(nb_init_gpt2(b, &r2, n_layer), 0);
    nb_param_list la, lb;
    nb_module_parameters(a, &la);
    nb_module_parameters(b, &lb);
    for (int i = 0; i < la.n; i++) /* same seed: bit-identical */
        ck_assert(
            memcmp(nb_data(la.tensors[i]), nb_data(lb.tensors[i]), (size_t)nb_numel(la.tensors[i]) * 4) == 0);
    nb_param_list_free(&la);
    nb_param_list_free(&lb);
    double s_fc = stddev(nb_module_param(a, "mlp.fc.weight"));
    double s_proj = stddev(nb_module_param(a, "mlp.proj.weight"));
    double s_aproj = stddev(nb_module_param(a, "attn.proj.weight"));
    double want = 0.02 / sqrt(2.0 * n_layer);
    ck_assert_msg(fabs(s_fc - 0.02) < 0.001, "fc std %g", s_fc);
    ck_assert_msg(fabs(s_proj - want) < 0.0005, "mlp proj std %g, want %g", s_proj, want);
    ck_assert_msg(fabs(s_aproj - want) < 0.001, "attn proj std %g, want %g", s_aproj, want);
    ck_assert_float_eq(nb_data_f32(nb_module_param(a, "ln1.weight"))[5], 1.0f);
    ck_assert_float_eq(nb_data_f32(nb_module_param(a, "mlp.fc.bias"))[5], 0.0f);
    /* another seed: different weights */
    nb_rng_init(&r2, 6);
    nb_init_gpt2(b, &r2, n_layer);
    ck_assert(memcmp(nb_data(nb_module_param(a, "attn.qkv.weight")),
                     nb_data(nb_module_param(b, "attn.qkv.weight")), 64) != 0);
    nb_module_free(a);
    nb_module_free(b);
}
END_TEST

/* Kaiming: std sqrt(2 / in) for Linear weights whatever their size, N(0, 1) embeddings, zero
 * biases, LayerNorm weight 1; reproducible; a ReLU MLP's activations keep their scale through
 * depth (GPT-2's fixed 0.02 shrinks them by about 10x a layer at width 256). */
START_TEST(test_kaiming_init) {
    nb_module *mlp = nb_sequential_new(), *emb = nb_embedding_new(ctx, 50, 16, &rng);
    const int64_t w[5] = {16, 256, 256, 256, 64};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(nb_sequential_append(mlp, nb_linear_new(ctx, w[i], w[i + 1], true, &rng)), 0);
        ck_assert_int_eq(nb_sequential_append(mlp, nb_relu_new()), 0);
    }
    ck_assert_int_eq(nb_sequential_append(mlp, nb_layernorm_new(ctx, 64, 1e-5f, true)), 0);
    nb_fill_(nb_module_param(mlp, "0.bias"), 3.0);
    nb_fill_(nb_module_param(mlp, "8.weight"), 3.0);
    nb_rng r1;
    nb_rng_init(&r1, 7);
    ck_assert_int_eq(nb_init_kaiming(mlp, &r1), 0);
    ck_assert_int_eq(nb_init_kaiming(emb, &r1), 0);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "%d.weight", 2 * i);
        double s = stddev(nb_module_param(mlp, name)), want = sqrt(2.0 / (double)w[i]);
        ck_assert_msg(fabs(s - want) < 0.05 * want, "%s std %g, want %g", name, s, want);
    }
    double se = stddev(nb_module_param(emb, "weight"));
    ck_assert_msg(fabs(se - 1.0) < 0.05, "embedding std %g", se);
    ck_assert_float_eq(nb_data_f32(nb_module_param(mlp, "0.bias"))[3], 0.0f);
    ck_assert_float_eq(nb_data_f32(nb_module_param(mlp, "8.weight"))[3], 1.0f);
    /* the same seed gives the same weights */
    nb_module *again = nb_linear_new(ctx, 16, 256, true, &rng);
    nb_rng_init(&r1, 7);
    ck_assert_int_eq(nb_init_kaiming(again, &r1), 0);
    ck_assert(memcmp(nb_data(nb_module_param(again, "weight")), nb_data(nb_module_param(mlp, "0.weight")),
                     16 * 256 * 4) == 0);
    /* activations keep their scale through four ReLU layers */
    nb_rng xr;
    nb_rng_init(&xr, 8);
    nb_tensor *x = nb_randn(ctx, NB_SHAPE(512, 16), 0, 1, &xr);
    nb_tensor *h = x;
    for (int i = 0; i < 6; i++) /* 3 Linear + ReLU pairs */
        h = nb_module_forward(nb_module_child(mlp, (char[2]){(char)('0' + i), 0}), h);
    double rms = sqrt(nb_item(nb_mean(nb_mul(h, h), 0, NULL, false)));
    ck_assert_msg(rms > 0.5 && rms < 2.0, "rms after three ReLU layers %g", rms);
    ck_assert_int_eq(nb_init_kaiming(NULL, &r1), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "init_kaiming"));
    nb_module_free(mlp);
    nb_module_free(emb);
    nb_module_free(again);
}
END_TEST

START_TEST(test_tree_errors_and_lookup) {
    nb_module *root = nb_module_new("Root", ctx, NULL, 0);
    nb_module *lin = nb_linear_new(ctx, 2, 2, true, &rng);
    ck_assert_int_eq(nb_module_add(root, "fc", lin), 0);
    ck_assert_int_eq(nb_module_add(root, "fc", nb_relu_new()), -1); /* freed on error */
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "'fc'"));
    ck_assert_int_eq(nb_module_add(root, "a.b", nb_relu_new()), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "dot"));
    ck_assert_int_eq(nb_module_add(root, "again", lin), -1); /* already has a parent */
    ck_assert_ptr_null(nb_module_add_param(root, "w", nb_zeros(ctx, NB_I32, NB_SHAPE(2))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "f32"));
    ck_assert_ptr_null(nb_module_find(root, "fc.nope"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "no module 'fc.nope'"));
    ck_assert_ptr_null(nb_module_param(root, "fc.nope"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "no parameter 'fc.nope'"));
    ck_assert_ptr_eq(nb_module_find(root, "fc"), lin);
    char path[64];
    ck_assert_str_eq(nb_module_path(lin, path, sizeof path), "fc");
    ck_assert_int_eq(nb_module_set_param(lin, "weight", nb_zeros(ctx, NB_F32, NB_SHAPE(3, 2))), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "module_set_param"));
    /* moving to the CPU keeps the handles; grads were allocated on registration */
    nb_tensor *w = nb_module_param(root, "fc.weight");
    ck_assert_ptr_nonnull(w->grad);
    ck_assert(w->requires_grad);
    ck_assert_int_eq(nb_module_to(root, NB_CPU), 0);
    ck_assert_ptr_eq(nb_module_param(root, "fc.weight"), w);
    ck_assert_ptr_null(nb_module_forward(root, NULL));
    nb_module_free(root);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_modules");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_activations_and_sequential);
    tcase_add_test(tc, test_dropout_and_modes);
    tcase_add_test(tc, test_mlp);
    tcase_add_test(tc, test_causal_self_attention);
    tcase_add_test(tc, test_heads_match_fused);
    tcase_add_test(tc, test_transformer_block);
    tcase_add_test(tc, test_gpt2_init);
    tcase_add_test(tc, test_kaiming_init);
    tcase_add_test(tc, test_tree_errors_and_lookup);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
