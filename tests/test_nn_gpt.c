/* test_nn_gpt.c - a tiny GPT composed from the nn modules: weight tying
 * (shared tensor counted once, gradient from both uses), the model summary,
 * training checkpoints (bit-exact round trip; resuming gives exactly the
 * parameters of an uninterrupted run) and checkpoint errors. */
#include <dirent.h>
#include <unistd.h>

#include "nabla.h"
#include "tests/nb_check.h"

typedef struct {
    int64_t vocab, block, dim;
    int n_layer, n_head;
} gpt_cfg;

static nb_tensor *gpt_forward(nb_module *m, nb_tensor *idx) {
    int64_t T = idx->shape[1];
    nb_ctx *c = nb_ctx_current() ? nb_ctx_current() : idx->ctx;
    nb_tensor *pos = nb_arange(c, NB_I32, 0, (double)T, 1);
    nb_tensor *x = nb_add(nb_module_forward(nb_module_child(m, "wte"), idx),
                          nb_module_forward(nb_module_child(m, "wpe"), pos));
    x = nb_module_forward(nb_module_child(m, "drop"), x);
    nb_module *blocks = nb_module_child(m, "blocks");
    for (int i = 0; i < blocks->n_children; i++)
        x = nb_module_forward(blocks->children[i], x);
    x = nb_module_forward(nb_module_child(m, "ln_f"), x);
    return nb_module_forward(nb_module_child(m, "lm_head"), x);
}

static nb_module *gpt_new(nb_ctx *ctx, const gpt_cfg *g, float dropout, uint64_t seed) {
    nb_rng r;
    nb_rng_init(&r, seed);
    nb_module *m = nb_module_new("GPT", ctx, gpt_forward, sizeof(gpt_cfg));
    *(gpt_cfg *)m->impl = *g;
    nb_module *blocks = nb_module_list_new(), *head = NULL;
    int rc = nb_module_add(m, "wte", nb_embedding_new(ctx, g->vocab, g->dim, &r)) ||
             nb_module_add(m, "wpe", nb_embedding_new(ctx, g->block, g->dim, &r)) ||
             nb_module_add(m, "drop", nb_dropout_new(dropout)) || nb_module_add(m, "blocks", blocks);
    for (int i = 0; i < g->n_layer && !rc; i++)
        rc = nb_sequential_append(blocks, nb_transformer_block_new(ctx, g->dim, g->n_head, dropout, &r));
    rc = rc || nb_module_add(m, "ln_f", nb_layernorm_new(ctx, g->dim, 1e-5f, true)) ||
         nb_module_add(m, "lm_head", head = nb_linear_new(ctx, g->dim, g->vocab, false, &r)) ||
         nb_module_set_param(head, "weight", nb_module_param(m, "wte.weight")) ||
         nb_init_gpt2(m, &r, g->n_layer);
    ck_assert_msg(rc == 0, "%s", nb_last_error());
    nb_module_seed(m, seed + 1000);
    return m;
}

static const gpt_cfg CFG = {13, 8, 16, 2, 2};

/* A deterministic batch for step s: tokens and next-token targets. */
static void batch(nb_ctx *c, int64_t s, nb_tensor **x, nb_tensor **y) {
    int32_t tok[2 * 9];
    nb_rng r;
    nb_rng_init(&r, 5000 + (uint64_t)s);
    for (int i = 0; i < 2; i++) { /* a learnable pattern: counting mod 13 from a random start */
        int32_t start = (int32_t)(nb_rng_uniform(&r) * 13) % 13;
        for (int t = 0; t < 9; t++)
            tok[i * 9 + t] = (start + t) % 13;
    }
    int32_t a[16], b[16];
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < 8; t++)
            a[i * 8 + t] = tok[i * 9 + t], b[i * 8 + t] = tok[i * 9 + t + 1];
    *x = nb_from_data(c, NB_I32, NB_SHAPE(2, 8), a);
    *y = nb_from_data(c, NB_I32, NB_SHAPE(2, 8), b);
}

/* Trains steps [from, to) with AdamW, warm-up + cosine and clipping; returns the last loss. */
static double train(nb_module *m, nb_optim *o, int64_t from, int64_t to) {
    nb_ctx *step = nb_ctx_new(4 << 20);
    nb_ctx *prev = nb_ctx_use(step);
    nb_lr_schedule s = nb_lr_warmup_cosine(1e-2f, 1e-3f, 2, 10);
    double loss_v = 0;
    for (int64_t i = from; i < to; i++) {
        nb_ctx_reset(step);
        nb_tensor *x, *y;
        batch(step, i, &x, &y);
        nb_tensor *loss = nb_cross_entropy(nb_module_forward(m, x), y, -1);
        ck_assert_msg(loss != NULL, "%s", nb_last_error());
        ck_assert_int_eq(nb_backward(loss), 0);
        loss_v = nb_item(loss);
        ck_assert(nb_optim_clip_grad_norm(o, 1.0) >= 0);
        nb_optim_set_lr(o, nb_lr_at(&s, i));
        ck_assert_int_eq(nb_optim_step(o), 0);
        nb_optim_zero_grad(o);
    }
    nb_ctx_use(prev);
    nb_ctx_free(step);
    return loss_v;
}

static nb_optim *adamw_for(nb_ctx *ctx, nb_module *m) {
    nb_optim *o = nb_adamw_new(ctx, 1e-2f, 0.9f, 0.95f, 1e-8f);
    ck_assert_int_eq(nb_optim_add_module(o, m, 0.1f), 0);
    return o;
}

static char dir[64];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/nb_gpt_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
    rmdir(dir);
}

static void expect_same_params(nb_module *a, nb_module *b, bool same) {
    nb_param_list la, lb;
    ck_assert_int_eq(nb_module_parameters(a, &la), 0);
    ck_assert_int_eq(nb_module_parameters(b, &lb), 0);
    ck_assert_int_eq(la.n, lb.n);
    bool all = true;
    for (int i = 0; i < la.n; i++) {
        ck_assert_str_eq(la.names[i], lb.names[i]);
        all = all && memcmp(nb_data(la.tensors[i]), nb_data(lb.tensors[i]),
                            (size_t)nb_numel(la.tensors[i]) * 4) == 0;
    }
    ck_assert_msg(all == same, same ? "parameters differ" : "parameters are identical");
    nb_param_list_free(&la);
    nb_param_list_free(&lb);
}

START_TEST(test_tying_counts_once) {
    nb_ctx *ctx = nb_ctx_new(4 << 20);
    nb_module *m = gpt_new(ctx, &CFG, 0.0f, 1);
    int64_t C = CFG.dim, block = 12 * C * C + 13 * C;
    int64_t want = CFG.vocab * C + CFG.block * C + CFG.n_layer * block + 2 * C;
    ck_assert_int_eq(nb_module_num_params(m), want);
    nb_param_list l;
    nb_module_parameters(m, &l);
    ck_assert_int_eq(l.n_shared, 1);
    for (int i = 0; i < l.n; i++)
        ck_assert(strcmp(l.names[i], "lm_head.weight") != 0);
    ck_assert_str_eq(l.names[0], "wte.weight");
    ck_assert_ptr_nonnull(nb_module_param(m, "blocks.1.attn.proj.weight"));
    nb_param_list_free(&l);
    ck_assert_ptr_eq(nb_module_param(m, "lm_head.weight"), nb_module_param(m, "wte.weight"));
    nb_module_free(m);
    nb_ctx_free(ctx);
}
END_TEST

typedef struct {
    nb_module *m;
    nb_tensor *x, *y;
} loss_ctx;

static nb_tensor *gpt_loss(nb_tensor **in, int n, void *user) {
    (void)in, (void)n;
    loss_ctx *l = user;
    return nb_cross_entropy(nb_module_forward(l->m, l->x), l->y, -1);
}

/* The tied tensor's gradient sums both uses (embedding and lm_head). */
START_TEST(test_tied_gradient) {
    nb_ctx *ctx = nb_ctx_new(4 << 20);
    gpt_cfg g = {7, 4, 8, 1, 2};
    nb_module *m = gpt_new(ctx, &g, 0.0f, 3);
    nb_randn_(nb_module_param(m, "wte.weight"), 0.0f, 0.5f, NULL);
    int32_t a[4] = {1, 2, 3, 6}, b[4] = {2, 3, 6, 0};
    loss_ctx l = {m, nb_from_data(ctx, NB_I32, NB_SHAPE(1, 4), a),
                  nb_from_data(ctx, NB_I32, NB_SHAPE(1, 4), b)};
    nb_tensor *in[1] = {nb_module_param(m, "wte.weight")};
    nb_gradcheck_opts o = {1e-2, 1e-3, 2e-2, 1, false};
    ck_assert_msg(nb_gradcheck(gpt_loss, in, 1, &l, &o) == 1, "%s", nb_last_error());
    nb_module_free(m);
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_summary) {
    nb_ctx *ctx = nb_ctx_new(4 << 20);
    nb_module *m = gpt_new(ctx, &CFG, 0.1f, 1);
    nb_rng before = *nb_module_rng(m);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(nb_module_summary(m, NB_I32, NB_SHAPE(2, 8), f), 0);
    fclose(f);
    int64_t C = CFG.dim, total = CFG.vocab * C + CFG.block * C + CFG.n_layer * (12 * C * C + 13 * C) + 2 * C;
    char want[128];
    ck_assert_msg(strstr(text, "wte (Embedding)") && strstr(text, "[2,8,16]"), "%s", text);
    ck_assert_msg(strstr(text, "lm_head (Linear)") && strstr(text, "[2,8,13]"), "%s", text);
    ck_assert_msg(strstr(text, "      attn (CausalSelfAttention)"), "%s", text); /* nested */
    snprintf(want, sizeof want, "Total params: %lld,%03lld\n", (long long)total / 1000,
             (long long)total % 1000);
    ck_assert_msg(strstr(text, want), "want '%s' in\n%s", want, text);
    ck_assert_msg(strstr(text, "Non-trainable params: 0\n"), "%s", text);
    snprintf(want, sizeof want, "Shared params: %lld in 1 tensor", (long long)(CFG.vocab * C));
    ck_assert_msg(strstr(text, want), "%s", text);
    snprintf(want, sizeof want, "Params size (MB): %.2f", total * 4.0 / 1048576);
    ck_assert_msg(strstr(text, want), "%s", text);
    ck_assert_msg(strstr(text, "AdamW state size (MB)"), "%s", text);
    /* the summary's forward left the dropout generator untouched */
    ck_assert_uint_eq(nb_module_rng(m)->offset, before.offset);
    free(text);
    /* a bad input shape is an error, not a crash */
    f = open_memstream(&text, &len);
    ck_assert_int_eq(nb_module_summary(m, NB_F32, NB_SHAPE(2, 8, 3), f), -1);
    fclose(f);
    free(text);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "module_summary"));
    nb_module_free(m);
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_checkpoint_resume_exact) {
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    /* uninterrupted: 6 steps */
    nb_ctx *ca = nb_ctx_new(4 << 20);
    nb_module *a = gpt_new(ca, &CFG, 0.1f, 1);
    nb_optim *oa = adamw_for(ca, a);
    double first = train(a, oa, 0, 1);
    double last = train(a, oa, 1, 6);
    ck_assert_msg(last < first, "loss did not fall: %g -> %g", first, last);
    /* interrupted: 3 steps, checkpoint, a fresh process-like rebuild, 3 more */
    nb_ctx *cb = nb_ctx_new(4 << 20);
    nb_module *b = gpt_new(cb, &CFG, 0.1f, 1);
    nb_optim *ob = adamw_for(cb, b);
    train(b, ob, 0, 3);
    const char *ek[1] = {"data.position"}, *ev[1] = {"3"};
    ck_assert_int_eq(nb_checkpoint_save(path, b, ob, 3, "{\"n_layer\":2}", ek, ev, 1), 0);
    nb_safetensors *f = nb_safetensors_open(path);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(nb_safetensors_meta(f, "config"), "{\"n_layer\":2}");
    ck_assert_str_eq(nb_safetensors_meta(f, "data.position"), "3");
    ck_assert_str_eq(nb_safetensors_meta(f, "step"), "3");
    ck_assert_int_ge(nb_safetensors_find(f, "optim.blocks.0.attn.qkv.weight.m"), 0);
    ck_assert_int_ge(nb_safetensors_find(f, "optim.wte.weight.v"), 0);
    nb_safetensors_close(f);
    nb_module_free(b);
    nb_optim_free(ob);
    nb_ctx_free(cb);

    nb_manual_seed(999); /* disturb the global generator too */
    nb_ctx *cc = nb_ctx_new(4 << 20);
    nb_module *c = gpt_new(cc, &CFG, 0.1f, 77); /* other weights, other dropout seed */
    nb_optim *oc = adamw_for(cc, c);
    int64_t step = -1;
    ck_assert_msg(nb_checkpoint_load(path, c, oc, &step) == 0, "%s", nb_last_error());
    ck_assert_int_eq(step, 3);
    ck_assert_int_eq(oc->step, 3);
    train(c, oc, step, 6);
    expect_same_params(a, c, true);
    for (int g = 0; g < oa->n_groups; g++)
        for (int i = 0; i < oa->groups[g].n; i++) {
            size_t nb = (size_t)nb_numel(oa->groups[g].params[i]) * 4;
            ck_assert(memcmp(nb_data(oa->groups[g].m[i]), nb_data(oc->groups[g].m[i]), nb) == 0);
            ck_assert(memcmp(nb_data(oa->groups[g].v[i]), nb_data(oc->groups[g].v[i]), nb) == 0);
        }

    /* control: resuming with another dropout state diverges */
    nb_ctx *cd = nb_ctx_new(4 << 20);
    nb_module *d = gpt_new(cd, &CFG, 0.1f, 77);
    nb_optim *od = adamw_for(cd, d);
    ck_assert_int_eq(nb_checkpoint_load(path, d, od, &step), 0);
    nb_module_seed(d, 4242);
    train(d, od, step, 6);
    expect_same_params(a, d, false);

    /* round trip: saving c and loading into d is bit-exact, state included */
    ck_assert_int_eq(nb_checkpoint_save(path, c, oc, 6, NULL, NULL, NULL, 0), 0);
    ck_assert_int_eq(nb_checkpoint_load(path, d, od, &step), 0);
    ck_assert_int_eq(step, 6);
    expect_same_params(c, d, true);
    ck_assert_uint_eq(nb_module_rng(d)->offset, nb_module_rng(c)->offset);
    ck_assert_uint_eq(nb_module_rng(d)->seed, nb_module_rng(c)->seed);
    /* a checkpoint also loads as a plain model (optimiser tensors skipped) */
    ck_assert_int_eq(nb_module_load(d, path), 0);

    nb_module_free(a), nb_optim_free(oa), nb_ctx_free(ca);
    nb_module_free(c), nb_optim_free(oc), nb_ctx_free(cc);
    nb_module_free(d), nb_optim_free(od), nb_ctx_free(cd);
    remove_dir();
}
END_TEST

START_TEST(test_checkpoint_errors) {
    make_dir();
    char path[128], mpath[128];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    snprintf(mpath, sizeof mpath, "%s/model.safetensors", dir);
    nb_ctx *ctx = nb_ctx_new(8 << 20);
    nb_module *m = gpt_new(ctx, &CFG, 0.0f, 1);
    nb_optim *o = adamw_for(ctx, m);
    ck_assert_int_eq(nb_checkpoint_save(path, m, o, 10, NULL, NULL, NULL, 0), 0);
    ck_assert_int_eq(nb_module_save(m, mpath, NULL, NULL, 0), 0);
    /* a model-only file is not a training checkpoint */
    ck_assert_int_eq(nb_checkpoint_load(mpath, m, o, NULL), -1);
    ck_assert_msg(strstr(nb_last_error(), "not a nabla training checkpoint"), "%s", nb_last_error());
    /* another optimiser kind */
    nb_optim *sgd = nb_sgd_new(ctx, 0.1f, 0.9f, 0.0f, false);
    nb_optim_add_module(sgd, m, 0.0f);
    ck_assert_int_eq(nb_checkpoint_load(path, m, sgd, NULL), -1);
    ck_assert_msg(strstr(nb_last_error(), "optimiser is 'adamw' in the file but 'sgd' here"), "%s",
                  nb_last_error());
    ck_assert_msg(strstr(nb_last_error(), "missing tensor 'optim.wte.weight.momentum'"), "%s",
                  nb_last_error());
    /* another configuration: every mismatch named */
    gpt_cfg g2 = CFG;
    g2.dim = 8;
    g2.n_layer = 3;
    nb_module *m2 = gpt_new(ctx, &g2, 0.0f, 1);
    nb_optim *o2 = adamw_for(ctx, m2);
    ck_assert_int_eq(nb_checkpoint_load(path, m2, o2, NULL), -1);
    const char *e = nb_last_error();
    ck_assert_msg(strstr(e, "checkpoint_load") && strstr(e, "problems") &&
                      strstr(e, "'wte.weight' is f32 [13,16] in the file but f32 [13,8] in the model"),
                  "%s", e);
    /* truncated checkpoint */
    FILE *fp = fopen(path, "r+");
    ck_assert_int_eq(ftruncate(fileno(fp), 100), 0);
    fclose(fp);
    ck_assert_int_eq(nb_checkpoint_load(path, m, o, NULL), -1);
    ck_assert_msg(strstr(nb_last_error(), "truncated or corrupt"), "%s", nb_last_error());
    nb_module_free(m), nb_module_free(m2);
    nb_optim_free(o), nb_optim_free(o2), nb_optim_free(sgd);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_gpt");
    TCase *tc = tcase_create("gpt");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tying_counts_once);
    tcase_add_test(tc, test_tied_gradient);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_checkpoint_resume_exact);
    tcase_add_test(tc, test_checkpoint_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
