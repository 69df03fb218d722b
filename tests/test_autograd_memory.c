/* The backward pass's memory: gradients given back to the context once consumed (recycling),
 * weight gradients added straight into the leaves' grads, and the context's free lists.
 * Every graph's leaf gradients must be bit-identical with recycling on and off (the old way),
 * the peak of live bytes of a deep chain must drop, and everything the caller can still reach
 * after nb_backward (leaf grads, forward tensors, the seed) must stay intact. */
#include <math.h>

#include "nabla.h"
#include "tensor/internal.h"
#include "tests/nb_check.h"

#define MAXP 16

static nb_ctx *pctx, *sctx; /* parameters, step */
static nb_rng rng;

static void setup(void) {
    pctx = nb_ctx_new(1 << 20);
    sctx = nb_ctx_new(1 << 20);
    nb_rng_init(&rng, 7);
    nb_clear_error();
    nb_set_grad_recycling(true);
}
static void teardown(void) {
    nb_set_grad_recycling(true);
    nb_ctx_use(NULL);
    nb_ctx_free(sctx);
    nb_ctx_free(pctx);
}

static nb_tensor *param(int nd, const int64_t *shape, float std) {
    return nb_requires_grad_(nb_randn(pctx, nd, shape, 0, std, &rng), true);
}

/* A graph over params p[0..n-1] built in the step context; returns a scalar loss. */
typedef nb_tensor *(*graph_fn)(nb_tensor **p, int n, void *user);

/* Runs forward + backward with recycling on or off and copies every param's grad (NULL grads
 * are fresh each time) into out[i] (malloc'd, the caller frees). */
static void grads_of(graph_fn f, nb_tensor **p, int n, void *user, bool recycle, float **out) {
    for (int i = 0; i < n; i++)
        p[i]->grad = NULL;
    nb_set_grad_recycling(recycle);
    nb_ctx *prev = nb_ctx_use(sctx);
    nb_tensor *loss = f(p, n, user);
    ck_assert_msg(loss != NULL, "forward: %s", nb_last_error());
    ck_assert_msg(nb_backward(loss) == 0, "backward: %s", nb_last_error());
    for (int i = 0; i < n; i++) {
        ck_assert_msg(p[i]->grad != NULL, "param %d has no grad", i);
        int64_t k = nb_numel(p[i]);
        out[i] = malloc(sizeof(float) * (size_t)k);
        ck_assert_int_eq(nb_to_array(p[i]->grad, NB_F32, out[i]), 0);
    }
    nb_ctx_use(prev);
    nb_ctx_reset(sctx);
    nb_set_grad_recycling(true);
}

/* Checks the grads with recycling on and off are bit-identical (and not all zero). */
static void check_same(graph_fn f, nb_tensor **p, int n, void *user) {
    float *on[MAXP], *off[MAXP];
    grads_of(f, p, n, user, false, off);
    grads_of(f, p, n, user, true, on);
    for (int i = 0; i < n; i++) {
        int64_t k = nb_numel(p[i]);
        bool nonzero = false;
        for (int64_t j = 0; j < k; j++) {
            nonzero |= off[i][j] != 0.0f;
            if (memcmp(&on[i][j], &off[i][j], sizeof(float)) != 0)
                ck_abort_msg("param %d element %lld: %.9g with recycling, %.9g without", i, (long long)j,
                             (double)on[i][j], (double)off[i][j]);
        }
        ck_assert_msg(nonzero, "param %d: gradient is all zero", i);
        free(on[i]);
        free(off[i]);
    }
}

/* ---- graphs --------------------------------------------------------------------------------- */

static nb_tensor *mlp(nb_tensor **p, int n, void *user) {
    (void)n;
    nb_tensor *x = user;
    nb_tensor *h = nb_gelu(nb_linear(x, p[0], p[1]));
    h = nb_tanh(nb_linear(h, p[2], p[3]));
    nb_tensor *o = nb_linear(h, p[4], p[5]);
    int32_t t[12];
    for (int i = 0; i < 12; i++)
        t[i] = (i * 7) % 10;
    nb_tensor *tg = nb_from_data(sctx, NB_I32, NB_SHAPE(12), t);
    return nb_cross_entropy(o, tg, -1);
}

START_TEST(mlp_bit_identical) {
    nb_tensor *p[6] = {param(NB_SHAPE(32, 16), 0.3f), param(NB_SHAPE(32), 0.1f),
                       param(NB_SHAPE(24, 32), 0.3f), param(NB_SHAPE(24), 0.1f),
                       param(NB_SHAPE(10, 24), 0.3f), param(NB_SHAPE(10), 0.1f)};
    nb_tensor *x = nb_randn(pctx, NB_SHAPE(12, 16), 0, 1, &rng);
    check_same(mlp, p, 6, x);
}
END_TEST

typedef struct {
    int B, T, V, C, H;
    bool unique; /* token ids all different (tied weight exactly reproducible) */
} gpt_cfg;

/* embedding (tied with lm_head) + position embedding, one pre-LN transformer block, ln_f,
 * lm_head, cross-entropy. p: wte wpe ln1w ln1b qkvw qkvb projw projb ln2w ln2b fcw fcb
 * fc2w fc2b lnfw lnfb */
static nb_tensor *gpt(nb_tensor **p, int n, void *user) {
    (void)n;
    const gpt_cfg *c = user;
    int B = c->B, T = c->T, C = c->C, H = c->H, D = C / H, V = c->V;
    int32_t ids[256], tg[256], pos[64];
    for (int i = 0; i < B * T; i++) {
        ids[i] = c->unique ? (i * 5 + 3) % V : (i * 3) % 7;
        tg[i] = (i * 11 + 1) % V;
    }
    for (int t = 0; t < T; t++)
        pos[t] = t;
    nb_tensor *idx = nb_from_data(sctx, NB_I32, NB_SHAPE(B, T), ids);
    nb_tensor *pi = nb_from_data(sctx, NB_I32, NB_SHAPE(T), pos);
    nb_tensor *x = nb_add(nb_embedding(p[0], idx), nb_index_select(p[1], 0, pi));
    nb_tensor *h = nb_layer_norm(x, p[2], p[3], 1e-5f);
    nb_tensor *qkv = nb_linear(h, p[4], p[5]), *parts[3];
    ck_assert_int_eq(nb_split(qkv, 2, 3, (int64_t[]){C, C, C}, parts), 0);
    nb_tensor *q = nb_transpose(nb_reshape(parts[0], NB_SHAPE(B, T, H, D)), 1, 2);
    nb_tensor *k = nb_transpose(nb_reshape(parts[1], NB_SHAPE(B, T, H, D)), 1, 2);
    nb_tensor *v = nb_transpose(nb_reshape(parts[2], NB_SHAPE(B, T, H, D)), 1, 2);
    nb_tensor *a = nb_attention(nb_contiguous(q), nb_contiguous(k), nb_contiguous(v));
    a = nb_reshape(nb_transpose(a, 1, 2), NB_SHAPE(B, T, C));
    x = nb_add(x, nb_linear(a, p[6], p[7]));
    h = nb_gelu(nb_linear(nb_layer_norm(x, p[8], p[9], 1e-5f), p[10], p[11]));
    x = nb_add(x, nb_linear(h, p[12], p[13]));
    x = nb_layer_norm(x, p[14], p[15], 1e-5f);
    nb_tensor *logits = nb_linear(x, p[0], NULL);
    nb_tensor *t = nb_from_data(sctx, NB_I32, NB_SHAPE(B * T), tg);
    return nb_cross_entropy(nb_reshape(logits, NB_SHAPE(-1, V)), t, -1);
}

static int gpt_params(const gpt_cfg *c, nb_tensor **p) {
    int C = c->C;
    int64_t shapes[16][2] = {{c->V, C},  {c->T, C}, {C, 0}, {C, 0}, {3 * C, C}, {3 * C, 0},
                             {C, C},     {C, 0},    {C, 0}, {C, 0}, {4 * C, C}, {4 * C, 0},
                             {C, 4 * C}, {C, 0},    {C, 0}, {C, 0}};
    for (int i = 0; i < 16; i++) {
        bool vec = shapes[i][1] == 0;
        p[i] = param(vec ? 1 : 2, shapes[i], 0.2f);
        if (vec && (i == 2 || i == 8 || i == 14)) nb_fill_(p[i], 1.0); /* layer-norm weights */
    }
    return 16;
}

START_TEST(gpt_block_bit_identical) {
    gpt_cfg c = {.B = 2, .T = 8, .V = 97, .C = 16, .H = 2, .unique = true};
    nb_tensor *p[MAXP];
    int n = gpt_params(&c, p);
    check_same(gpt, p, n, &c);
}
END_TEST

/* Repeated token ids: the embedding adds its rows straight into the tied weight's grad, which
 * may change the last bits of that one gradient (the order of two sums); all else identical. */
START_TEST(gpt_block_repeated_ids) {
    gpt_cfg c = {.B = 2, .T = 8, .V = 97, .C = 16, .H = 2, .unique = false};
    nb_tensor *p[MAXP];
    int n = gpt_params(&c, p);
    float *on[MAXP], *off[MAXP];
    grads_of(gpt, p, n, &c, false, off);
    grads_of(gpt, p, n, &c, true, on);
    for (int i = 0; i < n; i++) {
        for (int64_t j = 0; j < nb_numel(p[i]); j++) {
            if (i == 0)
                ck_assert_msg(nb_close(on[i][j], off[i][j], 1e-5, 1e-7), "wte[%lld]: %g vs %g", (long long)j,
                              (double)on[i][j], (double)off[i][j]);
            else
                ck_assert_msg(memcmp(&on[i][j], &off[i][j], 4) == 0, "param %d [%lld]: %.9g vs %.9g", i,
                              (long long)j, (double)on[i][j], (double)off[i][j]);
        }
        free(on[i]);
        free(off[i]);
    }
}
END_TEST

/* Gradients that are views (reshape, transpose, expand, narrow, cat/split, slice). */
static nb_tensor *views(nb_tensor **p, int n, void *user) {
    (void)n;
    (void)user;
    nb_tensor *a = p[0], *b = p[1], *c = p[2];                        /* a [4,6], b [1,6], c [6] */
    nb_tensor *t = nb_transpose(nb_reshape(a, NB_SHAPE(6, 4)), 0, 1); /* [4,6] */
    nb_tensor *e = nb_expand(b, NB_SHAPE(4, 6));
    nb_tensor *m = nb_mul(nb_add(t, e), nb_reshape(a, NB_SHAPE(4, 6)));
    nb_tensor *parts[2];
    ck_assert_int_eq(nb_split(m, 1, 2, (int64_t[]){2, 4}, parts), 0);
    nb_tensor *cat = nb_cat((nb_tensor *[]){parts[1], parts[0]}, 2, 1);
    nb_tensor *s = nb_slice(cat, 1, 1, 6, 2);
    nb_tensor *u = nb_add(nb_sum(cat, 1, (int[]){0}, false), c); /* c broadcast from [6] */
    nb_tensor *w = nb_matmul(nb_transpose(cat, 0, 1), nb_narrow(nb_unsqueeze(c, 1), 0, 0, 4));
    return nb_add(nb_add(nb_sum_all(nb_mul(s, s)), nb_sum_all(nb_mul(u, u))), nb_sum_all(w));
}

START_TEST(views_bit_identical) {
    nb_tensor *p[3] = {param(NB_SHAPE(4, 6), 1), param(NB_SHAPE(1, 6), 1), param(NB_SHAPE(6), 1)};
    check_same(views, p, 3, NULL);
}
END_TEST

/* x * x and x + x: one rule returns two gradients for the same input. */
static nb_tensor *square(nb_tensor **p, int n, void *user) {
    (void)n;
    (void)user;
    nb_tensor *x = p[0];
    nb_tensor *y = nb_add(nb_mul(x, x), nb_add(x, x));
    return nb_sum_all(nb_mul(y, nb_exp(x)));
}

START_TEST(input_used_twice) {
    nb_tensor *p[1] = {param(NB_SHAPE(5, 3), 1)};
    check_same(square, p, 1, NULL);
    /* and the gradient is right: d/dx sum((x^2 + 2x) e^x) = (x^2 + 4x + 2) e^x */
    float *g[1];
    grads_of(square, p, 1, NULL, true, g);
    const float *x = nb_data_f32(p[0]);
    for (int i = 0; i < 15; i++) {
        double v = x[i], want = (v * v + 4 * v + 2) * exp(v);
        ck_assert_msg(nb_close(g[0][i], want, 1e-4, 1e-5), "[%d] %g vs %g", i, (double)g[0][i], want);
    }
    free(g[0]);
}
END_TEST

/* A leaf used by three ops (linear, matmul, elementwise) and a weight used by two linears. */
static nb_tensor *three_uses(nb_tensor **p, int n, void *user) {
    (void)n;
    nb_tensor *x = user, *w = p[0], *b = p[1];
    nb_tensor *h1 = nb_linear(x, w, b);                  /* [5,8] */
    nb_tensor *h2 = nb_matmul(x, nb_transpose(w, 0, 1)); /* [5,8] */
    nb_tensor *h3 = nb_mul(h1, nb_sum(w, 1, (int[]){1}, false));
    nb_tensor *h4 = nb_linear(nb_relu(h3), p[2], b);
    return nb_mean_all(nb_mul(nb_add(h2, h4), h1));
}

START_TEST(leaf_used_three_times) {
    nb_tensor *p[3] = {param(NB_SHAPE(8, 8), 0.5f), param(NB_SHAPE(8), 0.5f), param(NB_SHAPE(8, 8), 0.5f)};
    nb_tensor *x = nb_randn(pctx, NB_SHAPE(5, 8), 0, 1, &rng);
    check_same(three_uses, p, 3, x);
}
END_TEST

/* ---- peak memory ---------------------------------------------------------------------------- */

enum { DEPTH = 20, WIDTH = 256, ROWS = 128 };

static nb_tensor *deep(nb_tensor **p, int n, void *user) {
    nb_tensor *x = user;
    for (int i = 0; i < n; i += 2)
        x = nb_tanh(nb_linear(x, p[i], p[i + 1]));
    return nb_mean_all(x);
}

/* Peak live bytes of the step context during the backward of a 20-layer chain. */
static size_t backward_peak(nb_tensor **p, int n, nb_tensor *x, bool recycle) {
    for (int i = 0; i < n; i++)
        nb_zero_grad(p[i]);
    nb_set_grad_recycling(recycle);
    nb_ctx *prev = nb_ctx_use(sctx);
    nb_tensor *loss = deep(p, n, x);
    ck_assert_ptr_nonnull(loss);
    size_t before = nb_ctx_used(sctx);
    nb_ctx_reset_peak(sctx);
    ck_assert_int_eq(nb_backward(loss), 0);
    size_t peak = nb_ctx_peak(sctx) - before;
    nb_ctx_use(prev);
    nb_ctx_reset(sctx);
    nb_set_grad_recycling(true);
    return peak;
}

START_TEST(deep_chain_peak_lower) {
    nb_tensor *p[2 * DEPTH];
    for (int i = 0; i < DEPTH; i++) {
        p[2 * i] = param(NB_SHAPE(WIDTH, WIDTH), 1.0f / 16);
        p[2 * i + 1] = param(NB_SHAPE(WIDTH), 0.1f);
    }
    nb_tensor *x = nb_randn(pctx, NB_SHAPE(ROWS, WIDTH), 0, 1, &rng);
    size_t off = backward_peak(p, 2 * DEPTH, x, false);
    size_t on = backward_peak(p, 2 * DEPTH, x, true);
    size_t act = (size_t)ROWS * WIDTH * sizeof(float);
    if (getenv("NB_TEST_VERBOSE"))
        printf("deep chain: backward peak %zu bytes without recycling, %zu with\n", off, on);
    /* without recycling every layer's activation gradient (and more) stays: > DEPTH of them;
     * with it, a handful live at once */
    ck_assert_msg(off > (size_t)DEPTH * act, "peak without recycling %zu", off);
    ck_assert_msg(on * 10 < off, "peak with recycling %zu, without %zu", on, off);
    ck_assert_msg(on < 8 * act, "peak with recycling %zu (activation %zu)", on, act);
}
END_TEST

/* ---- what stays valid ------------------------------------------------------------------------- */

START_TEST(forward_and_seed_intact) {
    nb_tensor *p[6] = {param(NB_SHAPE(32, 16), 0.3f), param(NB_SHAPE(32), 0.1f),
                       param(NB_SHAPE(24, 32), 0.3f), param(NB_SHAPE(24), 0.1f),
                       param(NB_SHAPE(10, 24), 0.3f), param(NB_SHAPE(10), 0.1f)};
    nb_tensor *x = nb_randn(pctx, NB_SHAPE(12, 16), 0, 1, &rng);
    nb_ctx_use(sctx);
    nb_tensor *h1 = nb_gelu(nb_linear(x, p[0], p[1]));
    nb_tensor *h2 = nb_tanh(nb_linear(h1, p[2], p[3]));
    nb_tensor *o = nb_linear(h2, p[4], p[5]);
    nb_tensor *seed = nb_randn(sctx, NB_SHAPE(12, 10), 0, 1, &rng);
    float c1[12 * 32], c2[12 * 24], co[12 * 10], cs[12 * 10];
    memcpy(c1, nb_data_f32(h1), sizeof c1);
    memcpy(c2, nb_data_f32(h2), sizeof c2);
    memcpy(co, nb_data_f32(o), sizeof co);
    memcpy(cs, nb_data_f32(seed), sizeof cs);
    ck_assert_int_eq(nb_backward_with(o, seed), 0);
    ck_assert_mem_eq(nb_data_f32(h1), c1, sizeof c1);
    ck_assert_mem_eq(nb_data_f32(h2), c2, sizeof c2);
    ck_assert_mem_eq(nb_data_f32(o), co, sizeof co);
    ck_assert_mem_eq(nb_data_f32(seed), cs, sizeof cs);
    /* new tensors made after the backward do not overwrite the leaf grads */
    float g0[32 * 16], g5[10];
    memcpy(g0, nb_data_f32(p[0]->grad), sizeof g0);
    memcpy(g5, nb_data_f32(p[5]->grad), sizeof g5);
    for (int i = 0; i < 8; i++)
        nb_fill_(nb_empty(sctx, NB_F32, NB_SHAPE(12, 32)), 123.0);
    ck_assert_mem_eq(nb_data_f32(p[0]->grad), g0, sizeof g0);
    ck_assert_mem_eq(nb_data_f32(p[5]->grad), g5, sizeof g5);
    /* the bias grad of the last layer is the seed summed over rows */
    for (int j = 0; j < 10; j++) {
        double s = 0;
        for (int r = 0; r < 12; r++)
            s += cs[r * 10 + j];
        ck_assert_msg(nb_close(g5[j], s, 1e-5, 1e-5), "db[%d] %g vs %g", j, (double)g5[j], s);
    }
    /* a second backward over the same graph accumulates: twice (a weight's GEMM adds into its
     * grad, which may round differently from adding a separate product: not bit for bit) */
    ck_assert_int_eq(nb_backward_with(o, seed), 0);
    for (int i = 0; i < 32 * 16; i++)
        ck_assert_msg(nb_close(nb_data_f32(p[0]->grad)[i], 2.0 * g0[i], 1e-6, 1e-7), "dw[%d]", i);
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(nb_data_f32(p[5]->grad)[i], 2 * g5[i]);
    nb_ctx_use(NULL);
}
END_TEST

START_TEST(steps_allocate_nothing_new) {
    gpt_cfg c = {.B = 2, .T = 8, .V = 97, .C = 16, .H = 2, .unique = false};
    nb_tensor *p[MAXP];
    int n = gpt_params(&c, p);
    uint64_t after_first = 0;
    float first[16];
    void *addr = NULL;
    for (int step = 0; step < 4; step++) {
        for (int i = 0; i < n; i++)
            nb_zero_grad(p[i]);
        nb_ctx_use(sctx);
        nb_tensor *loss = gpt(p, n, &c);
        ck_assert_int_eq(nb_backward(loss), 0);
        nb_tensor *probe = nb_empty(sctx, NB_F32, NB_SHAPE(64)); /* same sequence: same address */
        if (step == 0) {
            after_first = nb_ctx_os_allocs(sctx) + nb_ctx_os_allocs(pctx);
            memcpy(first, nb_data_f32(p[4]->grad), sizeof first);
            addr = probe->storage->data;
        } else {
            ck_assert_uint_eq(nb_ctx_os_allocs(sctx) + nb_ctx_os_allocs(pctx), after_first);
            ck_assert_mem_eq(nb_data_f32(p[4]->grad), first, sizeof first);
            ck_assert_ptr_eq(probe->storage->data, addr);
        }
        nb_ctx_use(NULL);
        nb_ctx_reset(sctx);
        ck_assert_uint_eq(nb_ctx_used(sctx), 0);
    }
}
END_TEST

/* ---- the context's free lists ----------------------------------------------------------------- */

START_TEST(release_reuses_blocks) {
    nb_ctx *c = nb_ctx_new(1 << 16);
    nb_tensor *a = nb_empty(c, NB_F32, NB_SHAPE(256)); /* 1 KiB each */
    nb_tensor *b = nb_empty(c, NB_F32, NB_SHAPE(256));
    nb_tensor *d = nb_empty(c, NB_F32, NB_SHAPE(256));
    nb_tensor *top = nb_empty(c, NB_F32, NB_SHAPE(16));
    size_t used = nb_ctx_used(c), peak = nb_ctx_peak(c);
    ck_assert_uint_ge(peak, used);
    char *pa = a->storage->data, *pb = b->storage->data, *pd = d->storage->data;
    nb_storage_release(b->storage); /* (a free-list node of a few bytes is made) */
    size_t after = nb_ctx_used(c);
    ck_assert(after <= used - 1024 + 64);
    ck_assert_uint_eq(nb_ctx_peak(c), peak);
    nb_storage_release(b->storage); /* twice: no-op */
    ck_assert_uint_eq(nb_ctx_used(c), after);
    /* an exact fit takes the freed block */
    nb_tensor *e = nb_empty(c, NB_F32, NB_SHAPE(256));
    ck_assert_ptr_eq(e->storage->data, pb);
    /* neighbours merge: a + e become one 2 KiB block, taken whole by a 2 KiB request */
    nb_storage_release(a->storage);
    nb_storage_release(e->storage);
    nb_tensor *f = nb_empty(c, NB_F32, NB_SHAPE(512));
    ck_assert_ptr_eq(f->storage->data, pa);
    /* a smaller request splits a larger block */
    nb_storage_release(d->storage);
    nb_tensor *g = nb_empty(c, NB_F32, NB_SHAPE(100));
    ck_assert_ptr_eq(g->storage->data, pd);
    /* the block at the top of the chunk goes back to the bump pointer, with the free rest of
     * d's block below it: the next bump starts right after g (400 bytes, rounded to 448) */
    ck_assert_ptr_eq(top->storage->data, pd + 1024);
    nb_storage_release(top->storage);
    nb_tensor *h = nb_empty(c, NB_F32, NB_SHAPE(1024));
    ck_assert_ptr_eq(h->storage->data, pd + 448);
    /* a reset forgets the free lists and the used bytes, not the peak */
    size_t pk = nb_ctx_peak(c);
    nb_ctx_reset(c);
    ck_assert_uint_eq(nb_ctx_used(c), 0);
    ck_assert_uint_eq(nb_ctx_peak(c), pk);
    ck_assert_uint_eq(nb_ctx_reset_peak(c), pk);
    ck_assert_uint_eq(nb_ctx_peak(c), 0);
    nb_tensor *z = nb_empty(c, NB_F32, NB_SHAPE(256));
    ck_assert_ptr_eq(z->storage->data, pa);
    nb_storage_release(NULL);
    ck_assert_uint_eq(nb_ctx_peak(NULL), 0);
    nb_ctx_free(c);
}
END_TEST

START_TEST(recycling_switch) {
    ck_assert(nb_grad_recycling());
    ck_assert(nb_set_grad_recycling(false));
    ck_assert(!nb_grad_recycling());
    ck_assert(!nb_set_grad_recycling(true));
    ck_assert(nb_grad_recycling());
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("autograd_memory");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mlp_bit_identical);
    tcase_add_test(tc, gpt_block_bit_identical);
    tcase_add_test(tc, gpt_block_repeated_ids);
    tcase_add_test(tc, views_bit_identical);
    tcase_add_test(tc, input_used_twice);
    tcase_add_test(tc, leaf_used_three_times);
    tcase_add_test(tc, deep_chain_peak_lower);
    tcase_add_test(tc, forward_and_seed_intact);
    tcase_add_test(tc, steps_allocate_nothing_new);
    tcase_add_test(tc, release_reuses_blocks);
    tcase_add_test(tc, recycling_switch);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
