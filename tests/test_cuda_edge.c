/* tests/test_cuda_edge.c - edge cases of the CUDA backend against the CPU backend, beyond
 * tests/test_cuda_ops.c, by the same method (random inputs on the CPU, the same op on CUDA
 * copies, outputs and the gradients of the inputs compared): empty tensors (a 0-sized dim, K = 0)
 * through every op family; 0-d and 1-element tensors; 8-d broadcasting over permuted, sliced and
 * expanded views; rows on both sides of every block width up to 100000 columns (softmax,
 * layer_norm, cross_entropy, also with -inf); reductions over every axis and pair, in parts,
 * with ties and NaN; argmax ties; matmul shapes (1xN, Nx1, K = 1, large K, 1-d, batch broadcast,
 * transposed, sliced, expanded); attention at T = 1 and around the block and tile sizes, D 1 to
 * 128, strided, expanded and stride-0 operands and gradients, and its errors; repeated and bad
 * indices; ignore_index cases; dropout and random streams at odd sizes, bit for bit; copies across
 * layouts, dtypes and devices; AdamW off the block size. Without a GPU (real or emulated) every
 * case is skipped with a SKIP line (never passed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nabla.h"
#include "tests/nb_check.h"

#ifdef NB_WITH_CUDA
#include "nabla/cuda.h"

typedef nb_tensor *(*op_fn)(nb_tensor **in, void *u);

/* Random f32 tensor in [lo, hi) on the CPU. */
static nb_tensor *rnd(nb_ctx *c, int nd, const int64_t *shape, float lo, float hi, uint64_t seed) {
    nb_rng r;
    nb_rng_init(&r, seed);
    return nb_rand(c, nd, shape, lo, hi, &r);
}

/* Random i32 tensor in [0, n) on the CPU. */
static nb_tensor *ids(nb_ctx *c, int nd, const int64_t *shape, int n, uint64_t seed) {
    return nb_cast(rnd(c, nd, shape, 0.0f, (float)n - 0.01f, seed), NB_I32);
}

static float *host(const nb_tensor *t) {
    int64_t n = nb_numel(t);
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(nb_to_array(t, NB_F32, p) == 0, "%s", nb_last_error());
    return p;
}

static void expect_close(const char *what, const nb_tensor *c, const nb_tensor *g, double tol) {
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
static void compare(const char *name, op_fn f, nb_tensor **in, int n, void *u, double tol,
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

/* ---- one menu of ops, picked by number ------------------------------------------------------ */

/* clang-format off */
enum {
    M_EXP, M_ADD, M_MUL, M_DIV, M_MAXIMUM, M_SUM_LAST, M_SUM_FIRST, M_SUM_ALL, M_MAX_ALL, M_MM, M_MM_BT,
    M_MM_AT, M_MM_EXPAND, M_MM_SLICED, M_SOFTMAX, M_LOG_SOFTMAX, M_LN, M_LN_NOW, M_XENT, M_EMB, M_EMB_NONLEAF,
    M_ISEL, M_ISEL0, M_ISEL_STEP, M_GATHER, M_GATHER_T, M_ATT, M_ATT_VIEWS, M_ATT_SUMT, M_ARGMAX, M_ARGMAX0,
    M_MAX_LAST, M_MIN_FIRST, M_CAST, M_TRIL
};
/* clang-format on */
#define OP(k) (&(int){k})

static nb_tensor *f_menu(nb_tensor **in, void *u) {
    nb_tensor *a = in[0];
    switch (*(const int *)u) {
    case M_EXP: return nb_exp(a);
    case M_ADD: return nb_add(a, in[1]);
    case M_MUL: return nb_mul(a, in[1]);
    case M_DIV: return nb_div(a, in[1]);
    case M_MAXIMUM: return nb_maximum(a, in[1]);
    case M_SUM_LAST: return nb_sum(a, 1, (const int[]){-1}, false);
    case M_SUM_FIRST: return nb_sum(a, 1, (const int[]){0}, true);
    case M_SUM_ALL: return nb_sum_all(a);
    case M_MAX_ALL: return nb_max(a, 0, NULL, false);
    case M_MM: return nb_matmul(a, in[1]);
    case M_MM_BT: return nb_matmul(a, nb_transpose(in[1], -1, -2));
    case M_MM_AT: return nb_matmul(nb_transpose(a, -1, -2), nb_transpose(in[1], -1, -2));
    case M_MM_EXPAND: /* b [1,K,N] shared by the batch through stride 0 */
        return nb_matmul(a, nb_expand(in[1], 3, (const int64_t[]){a->shape[0], -1, -1}));
    case M_MM_SLICED: /* every other row of a (in place) and every other column (a copy) */
        return nb_matmul(nb_slice(nb_slice(a, 0, 0, a->shape[0], 2), 1, 1, a->shape[1], 2), in[1]);
    case M_SOFTMAX: return nb_softmax(a, -1);
    case M_LOG_SOFTMAX: return nb_log_softmax(a, -1);
    case M_LN: return nb_layer_norm(a, in[1], in[2], 1e-5f);
    case M_LN_NOW: return nb_layer_norm(a, NULL, in[1], 1e-5f);
    case M_XENT: return nb_cross_entropy(a, in[1], -100);
    case M_EMB: return nb_embedding(a, in[1]);
    case M_EMB_NONLEAF: return nb_embedding(nb_mul_scalar(a, 2.0f), in[1]);
    case M_ISEL: return nb_index_select(a, -1, in[1]);
    case M_ISEL0: return nb_index_select(nb_transpose(a, 0, 1), 1, in[1]);
    case M_ISEL_STEP: return nb_index_select(a, 0, nb_slice(in[1], 0, 1, in[1]->shape[0], 3));
    case M_GATHER: return nb_gather(a, -1, in[1]);
    case M_GATHER_T: return nb_gather(a, 1, nb_transpose(in[1], 0, 1));
    case M_ATT: return nb_attention(a, in[1], in[2]);
    case M_ATT_VIEWS: { /* q, v: [B,T,H,D] seen as [B,H,T,D]; k: [B,1,1,D] expanded */
        nb_tensor *q = nb_permute(a, (const int[]){0, 2, 1, 3}),
                  *v = nb_permute(in[2], (const int[]){0, 2, 1, 3});
        return nb_attention(q, nb_expand(in[1], 4, q->shape), v);
    }
    case M_ATT_SUMT: /* its gradient: stride 0 over T, read in place */
        return nb_sum(nb_attention(a, in[1], in[2]), 1, (const int[]){2}, false);
    case M_ARGMAX: return nb_cast(nb_argmax(a, -1, false), NB_F32);
    case M_ARGMAX0: return nb_cast(nb_argmax(a, 0, true), NB_F32);
    case M_MAX_LAST: return nb_max(a, 1, (const int[]){-1}, true);
    case M_MIN_FIRST: return nb_min(a, 1, (const int[]){0}, false);
    case M_CAST: return nb_cast(nb_cast(nb_transpose(a, 0, -1), NB_I32), NB_F32);
    default: return nb_tril(a, 0);
    }
}

/* A case of the menu: its inputs are f32 in [-1, 1) of the given shapes, but those marked in ix
 * are i32 ids in [0, hi); grad: the inputs whose gradients are compared. */
typedef struct {
    const char *name;
    int op, n, grad, ix, hi;
    double tol;
    int nd[3];
    int64_t sh[3][4];
} mcase;

static void run_cases(const mcase *cs, size_t n) {
    nb_ctx *c = nb_ctx_new(0);
    for (size_t k = 0; k < n; k++) {
        nb_tensor *in[3];
        for (int i = 0; i < cs[k].n; i++)
            in[i] = cs[k].ix >> i & 1 ? ids(c, cs[k].nd[i], cs[k].sh[i], cs[k].hi, 3 * k + (uint64_t)i)
                                      : rnd(c, cs[k].nd[i], cs[k].sh[i], -1, 1, 3 * k + (uint64_t)i);
        compare(cs[k].name, f_menu, in, cs[k].n, (void *)&cs[k].op, cs[k].tol, (unsigned)cs[k].grad);
    }
    nb_ctx_free(c);
}
#define RUN_CASES(cs) run_cases(cs, sizeof cs / sizeof *cs)
/* clang-format off */
#define ATT3(b, h, t, d) {4, 4, 4}, {{b, h, t, d}, {b, h, t, d}, {b, h, t, d}}
/* clang-format on */

START_TEST(test_empty) {
    /* clang-format off */
    static const mcase cs[] = {
        {"exp [3,0,5]", M_EXP, 1, 1, 0, 0, 0, {3}, {{3, 0, 5}}},
        {"cast [3,0,5]", M_CAST, 1, 0, 0, 0, 0, {3}, {{3, 0, 5}}},
        {"tril [3,0,5]", M_TRIL, 1, 1, 0, 0, 0, {3}, {{3, 0, 5}}},
        {"[0,4] + [4] (gradient of [4]: a sum over no rows)", M_ADD, 2, 3, 0, 0, 0, {2, 1}, {{0, 4}, {4}}},
        {"[2,0,3] * [2,1,3]", M_MUL, 2, 3, 0, 0, 0, {3, 3}, {{2, 0, 3}, {2, 1, 3}}},
        {"sum over an empty axis", M_SUM_LAST, 1, 1, 0, 0, 0, {2}, {{3, 0}}},
        {"sum of no elements", M_SUM_ALL, 1, 1, 0, 0, 0, {2}, {{3, 0}}},
        {"sum over axis 0 of [3,0]", M_SUM_FIRST, 1, 1, 0, 0, 0, {2}, {{3, 0}}},
        {"matmul [3,0] @ [0,4] (K = 0)", M_MM, 2, 3, 0, 0, 0, {2, 2}, {{3, 0}, {0, 4}}},
        {"matmul [2,3,0]^T @ [2,0,4]^T (K = 0)", M_MM_AT, 2, 3, 0, 0, 0, {3, 3}, {{2, 0, 3}, {2, 4, 0}}},
        {"matmul [0,5] @ [5,4] (its backward has K = 0)", M_MM, 2, 3, 0, 0, 0, {2, 2}, {{0, 5}, {5, 4}}},
        {"matmul [0,3,5] @ [5,4]", M_MM, 2, 3, 0, 0, 0, {3, 2}, {{0, 3, 5}, {5, 4}}},
        {"softmax [0,7]", M_SOFTMAX, 1, 1, 0, 0, 0, {2}, {{0, 7}}},
        {"log_softmax [4,0]", M_LOG_SOFTMAX, 1, 1, 0, 0, 0, {2}, {{4, 0}}},
        {"layer_norm [0,8] (parameter gradients 0)", M_LN, 3, 7, 0, 0, 0, {2, 1, 1}, {{0, 8}, {8}, {8}}},
        {"cross_entropy [0,5]", M_XENT, 2, 1, 2, 5, 0, {2, 1}, {{0, 5}, {0}}},
        {"embedding of no ids", M_EMB, 2, 1, 2, 6, 0, {2, 2}, {{6, 4}, {2, 0}}},
        {"index_select of no indices", M_ISEL, 2, 1, 2, 5, 0, {2, 1}, {{3, 5}, {0}}},
        {"gather of no indices", M_GATHER, 2, 1, 2, 5, 0, {2, 2}, {{3, 5}, {3, 0}}},
        {"attention T = 0", M_ATT, 3, 7, 0, 0, 0, {4, 4, 4}, {{1, 2, 0, 16}, {1, 2, 0, 16}, {1, 2, 0, 16}}},
        {"argmax [0,5]", M_ARGMAX, 1, 0, 0, 0, 0, {2}, {{0, 5}}},
    };
    /* clang-format on */
    RUN_CASES(cs);
}
END_TEST

START_TEST(test_scalars_and_ones) {
    /* clang-format off */
    static const mcase cs[] = {
        {"0-d * [3,4]", M_MUL, 2, 3, 0, 0, 1e-6, {0, 2}, {{0}, {3, 4}}},
        {"[3,4] / 0-d", M_DIV, 2, 3, 0, 0, 1e-6, {2, 0}, {{3, 4}, {0}}},
        {"exp of 0-d", M_EXP, 1, 1, 0, 0, 1e-6, {0}, {{0}}},
        {"sum of 0-d", M_SUM_ALL, 1, 1, 0, 0, 0, {0}, {{0}}},
        {"max of 0-d", M_MAX_ALL, 1, 1, 0, 0, 0, {0}, {{0}}},
        {"softmax [1,1]", M_SOFTMAX, 1, 1, 0, 0, 1e-6, {2}, {{1, 1}}},
        {"softmax of rows of 1", M_SOFTMAX, 1, 1, 0, 0, 1e-6, {2}, {{5, 1}}},
        {"log_softmax of rows of 1", M_LOG_SOFTMAX, 1, 1, 0, 0, 1e-6, {2}, {{5, 1}}},
        {"argmax of rows of 1", M_ARGMAX, 1, 0, 0, 0, 0, {2}, {{5, 1}}},
        {"layer_norm over 1 column", M_LN, 3, 7, 0, 0, 1e-5, {2, 1, 1}, {{5, 1}, {1}, {1}}},
        {"cross_entropy with one class", M_XENT, 2, 1, 2, 1, 1e-6, {2, 1}, {{5, 1}, {5}}},
        {"matmul [1,1] @ [1,1]", M_MM, 2, 3, 0, 0, 1e-6, {2, 2}, {{1, 1}, {1, 1}}},
        {"attention [1,1,1,1]", M_ATT, 3, 7, 0, 0, 1e-6, ATT3(1, 1, 1, 1)},
    };
    /* clang-format on */
    RUN_CASES(cs);
    /* item and get on the device */
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    nb_tensor *x = rnd(c, NB_SHAPE(3, 4), -1, 1, 1), *g = nb_to_device(c, x, NB_CUDA),
              *s = nb_scalar(c, 0.7f);
    ck_assert_double_eq_tol(nb_item(nb_sum_all(g)), nb_item(nb_sum_all(x)), 1e-5);
    ck_assert(nb_get(nb_transpose(g, 0, 1), (const int64_t[]){3, 2}) == nb_get(x, (const int64_t[]){2, 3}));
    ck_assert(nb_item(nb_to_device(c, s, NB_CUDA)) == nb_item(s));
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* 8-d: a permuted, b sliced with steps on two dims, e expanded over six dims (stride 0), then
 * a reduction over three axes */
static nb_tensor *f_views8(nb_tensor **in, void *u) {
    (void)u;
    nb_tensor *a = nb_permute(in[0], (const int[]){7, 6, 5, 4, 3, 2, 1, 0});
    nb_tensor *b = nb_slice(nb_slice(in[1], 0, 0, 6, 2), 1, 1, 4, 2);
    nb_tensor *e = nb_expand(in[2], 8, a->shape);
    nb_tensor *y = nb_add(nb_mul(nb_gelu(a), b), nb_div(e, nb_add_scalar(nb_abs(a), 1.0f)));
    return nb_sum(y, 3, (const int[]){1, 3, 5}, true);
}

typedef struct {
    int kind, naxes, axes[4];
    bool keep, perm;
} red_case;

static nb_tensor *f_reduce(nb_tensor **in, void *u) {
    const red_case *r = u;
    nb_tensor *x = in[0];
    if (r->perm) {
        int p[NB_MAX_DIMS];
        for (int i = 0; i < x->ndim; i++)
            p[i] = x->ndim - 1 - i;
        x = nb_permute(x, p);
    }
    switch (r->kind) {
    case 0: return nb_sum(x, r->naxes, r->axes, r->keep);
    case 1: return nb_max(x, r->naxes, r->axes, r->keep);
    case 2: return nb_min(x, r->naxes, r->axes, r->keep);
    default: return nb_mean(x, r->naxes, r->axes, r->keep);
    }
}

START_TEST(test_many_dims) {
    nb_ctx *c = nb_ctx_new(0);
    nb_tensor *ab[2] = {rnd(c, NB_SHAPE(2, 1, 3, 1, 2, 1, 3, 2), -2, 2, 1),
                        rnd(c, NB_SHAPE(2, 3, 1, 2, 1, 3, 1), 0.5f, 2, 2)};
    int ops[] = {M_ADD, M_MUL, M_DIV, M_MAXIMUM};
    for (int k = 0; k < 4; k++)
        compare("8-d broadcast against 7-d", f_menu, ab, 2, &ops[k], 1e-5, 3);
    nb_tensor *v[3] = {rnd(c, NB_SHAPE(2, 3, 2, 3, 2, 2, 3, 2), -2, 2, 3), rnd(c, NB_SHAPE(6, 4), -1, 1, 4),
                       rnd(c, NB_SHAPE(2, 1, 2), -1, 1, 5)};
    compare("8-d permuted, sliced and expanded views", f_views8, v, 3, NULL, 1e-5, 7);
    nb_ctx_free(c);
}
END_TEST

/* ---- row kernels on both sides of every block width ------------------------------------------ */

START_TEST(test_row_lengths) {
    nb_ctx *c = nb_ctx_new(0);
    const int64_t cols[] = {1,   2,   31,  32,  33,  63,  64,  65,   127,  128,
                            129, 255, 256, 257, 511, 512, 513, 1000, 4097, 100000};
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
        int64_t C = cols[k], R = C > 10000 ? 2 : 3;
        char name[64];
        nb_tensor *x = rnd(c, 2, (const int64_t[]){R, C}, -4, 4, (uint64_t)k);
        snprintf(name, sizeof name, "softmax, %lld columns", (long long)C);
        compare(name, f_menu, &x, 1, OP(M_SOFTMAX), 1e-5, 1);
        snprintf(name, sizeof name, "log_softmax, %lld columns", (long long)C);
        compare(name, f_menu, &x, 1, OP(M_LOG_SOFTMAX), 1e-5, 1);
        nb_tensor *ln[3] = {x, rnd(c, 1, &C, 0.5f, 1.5f, 100 + k), rnd(c, 1, &C, -1, 1, 200 + k)};
        snprintf(name, sizeof name, "layer_norm, %lld columns", (long long)C);
        compare(name, f_menu, ln, 3, OP(M_LN), 1e-4, 7);
        if (C == 33 || C == 513) { /* only the parameters' gradients; no weight */
            compare(name, f_menu, ln, 3, OP(M_LN), 1e-4, 6);
            nb_tensor *nw[2] = {x, ln[2]};
            compare(name, f_menu, nw, 2, OP(M_LN_NOW), 1e-4, 3);
        }
        int32_t t[3] = {(int32_t)C - 1, -100, (int32_t)(C / 2)};
        nb_tensor *ce[2] = {x, nb_from_data(c, NB_I32, 1, &R, t)};
        snprintf(name, sizeof name, "cross_entropy, %lld columns", (long long)C);
        compare(name, f_menu, ce, 2, OP(M_XENT), 1e-5, 1);
    }
    /* many short rows: the loss summed by one block, dw and db summed in parts */
    /* clang-format off */
    static const mcase cs[] = {
        {"softmax, 5000 rows of 3", M_SOFTMAX, 1, 1, 0, 0, 1e-5, {2}, {{5000, 3}}},
        {"layer_norm, 2000 rows of 8", M_LN, 3, 7, 0, 0, 1e-4, {2, 1, 1}, {{2000, 8}, {8}, {8}}},
        {"cross_entropy, 3000 rows of 3", M_XENT, 2, 1, 2, 3, 1e-5, {2, 1}, {{3000, 3}, {3000}}},
    };
    /* clang-format on */
    RUN_CASES(cs);
    /* -inf entries (masks), a row of -inf, a target at -inf */
    nb_tensor *m = rnd(c, NB_SHAPE(4, 70), -4, 4, 7);
    float *mp = nb_data_f32(m);
    for (int j = 0; j < 70; j++) {
        mp[j] = j % 3 ? mp[j] : -INFINITY;
        mp[70 + j] = -INFINITY;
    }
    mp[3 * 70 + 5] = -INFINITY;
    compare("softmax with -inf", f_menu, &m, 1, OP(M_SOFTMAX), 1e-5, 1);
    compare("log_softmax with -inf", f_menu, &m, 1, OP(M_LOG_SOFTMAX), 1e-5, 1);
    int32_t t[4] = {1, -100, 2, 5};
    nb_tensor *ce[2] = {m, nb_from_data(c, NB_I32, NB_SHAPE(4), t)};
    compare("cross_entropy with -inf logits", f_menu, ce, 2, OP(M_XENT), 1e-5, 1);
    nb_ctx_free(c);
}
END_TEST

/* ---- reductions --------------------------------------------------------------------------------- */

static nb_tensor *f_expand_sum(nb_tensor **in, void *u) {
    (void)u;
    return nb_sum(nb_expand(in[0], 2, (const int64_t[]){3, 5000}), 1, (const int[]){1}, false);
}

START_TEST(test_reduce_axes) {
    /* 8-d over several axes; in parts: one long row (blocks), a long outer axis (threads), and
     * both over two reduced dims */
    /* clang-format off */
    static const struct { const char *name; int nd; int64_t sh[8]; red_case r; double tol; } cs[] = {
        {"8-d sum over 3 axes", 8, {2, 3, 2, 3, 2, 2, 3, 2}, {0, 3, {1, 3, 5}, true, false}, 1e-5},
        {"8-d max over 2 axes, permuted", 8, {2, 3, 2, 3, 2, 2, 3, 2}, {1, 2, {0, 7}, false, true}, 1e-5},
        {"8-d min over 4 axes", 8, {2, 3, 2, 3, 2, 2, 3, 2}, {2, 4, {2, 4, 6, 7}, true, false}, 1e-5},
        {"8-d mean over 4 axes, permuted", 8, {2, 3, 2, 3, 2, 2, 3, 2}, {3, 4, {0, 1, 2, 3}, false, true}, 1e-5},
        {"8-d sum of all, permuted", 8, {2, 3, 2, 3, 2, 2, 3, 2}, {0, 0, {0}, false, true}, 1e-5},
        {"sum of 300001 values", 1, {300001}, {0, 0, {0}, false, false}, 1e-4},
        {"max of 300001 values", 1, {300001}, {1, 0, {0}, false, false}, 0},
        {"sum over 20001 rows", 2, {20001, 3}, {0, 1, {0}, false, false}, 1e-4},
        {"min over 20001 rows", 2, {20001, 3}, {2, 1, {0}, true, false}, 0},
        {"sum over two axes in parts (blocks)", 3, {3, 2, 5000}, {0, 2, {0, 2}, false, false}, 1e-4},
        {"sum over two axes in parts (threads)", 4, {40, 3, 30, 2}, {0, 2, {0, 2}, true, false}, 1e-4},
    };
    /* clang-format on */
    nb_ctx *c = nb_ctx_new(0);
    for (size_t k = 0; k < sizeof cs / sizeof *cs; k++) {
        nb_tensor *x = rnd(c, cs[k].nd, cs[k].sh, -3, 3, k);
        compare(cs[k].name, f_reduce, &x, 1, (void *)&cs[k].r, cs[k].tol, 1);
    }
    nb_tensor *x = rnd(c, NB_SHAPE(4, 5, 6, 7), -3, 3, 1);
    for (int kind = 0; kind < 3; kind++)
        for (int a0 = 0; a0 < 4; a0++)
            for (int a1 = a0; a1 < 4; a1++) {
                red_case r = {kind, a0 == a1 ? 1 : 2, {a0, a1}, (a0 + a1) % 2 == 0, kind == 1};
                compare("reduce over one or two axes", f_reduce, &x, 1, &r, 1e-5, 1);
            }
    nb_tensor *e = rnd(c, NB_SHAPE(3, 1), -1, 1, 6);
    compare("sum over an expanded axis", f_expand_sum, &e, 1, NULL, 1e-4, 1);
    nb_ctx_free(c);
}
END_TEST

START_TEST(test_ties_and_nan) {
    nb_ctx *c = nb_ctx_new(0);
    const int64_t ns[] = {5, 64, 65, 1000}; /* argmax: 32 threads up to 64, then 256 */
    for (int k = 0; k < 8; k++) {           /* values in {0, 1, 2}: many ties; then NaN too */
        int64_t n = ns[k / 2];
        nb_tensor *t = nb_cast(nb_cast(rnd(c, 2, (const int64_t[]){3, n}, 0, 2.99f, k), NB_I32), NB_F32);
        float *p = nb_data_f32(t);
        if (k % 2) p[n / 2] = p[2 * n - 1] = p[n + 1] = NAN;
        compare("argmax along rows (ties, NaN)", f_menu, &t, 1, OP(M_ARGMAX), 0, 0);
        compare("argmax down columns (ties, NaN)", f_menu, &t, 1, OP(M_ARGMAX0), 0, 0);
        compare("max along rows (ties share the gradient)", f_menu, &t, 1, OP(M_MAX_LAST), 1e-6, 1);
        compare("min down columns (ties share the gradient)", f_menu, &t, 1, OP(M_MIN_FIRST), 1e-6, 1);
    }
    nb_tensor *z = nb_zeros(c, NB_F32, NB_SHAPE(2, 3000)); /* one value: index 0 */
    compare("argmax of equal values", f_menu, &z, 1, OP(M_ARGMAX), 0, 0);
    nb_ctx_free(c);
}
END_TEST

/* ---- matmul --------------------------------------------------------------------------------------- */

START_TEST(test_matmul_shapes) {
    /* clang-format off */
    static const mcase cs[] = {
        {"[1,300] @ [300,1]", M_MM, 2, 3, 0, 0, 1e-4, {2, 2}, {{1, 300}, {300, 1}}},
        {"[7,1] @ [1,5] (K = 1)", M_MM, 2, 3, 0, 0, 1e-4, {2, 2}, {{7, 1}, {1, 5}}},
        {"[2,20000] @ [20000,3] (large K)", M_MM, 2, 3, 0, 0, 1e-4, {2, 2}, {{2, 20000}, {20000, 3}}},
        {"[5] @ [5,3]", M_MM, 2, 3, 0, 0, 1e-4, {1, 2}, {{5}, {5, 3}}},
        {"[4,5] @ [5]", M_MM, 2, 3, 0, 0, 1e-4, {2, 1}, {{4, 5}, {5}}},
        {"[5] @ [5]", M_MM, 2, 3, 0, 0, 1e-4, {1, 1}, {{5}, {5}}},
        {"[2,4,5] @ [5]", M_MM, 2, 3, 0, 0, 1e-4, {3, 1}, {{2, 4, 5}, {5}}},
        {"[2,1,5,7] @ [3,7,4] (batch broadcast)", M_MM, 2, 3, 0, 0, 1e-4, {4, 3}, {{2, 1, 5, 7}, {3, 7, 4}}},
        {"[3,7] @ [2,3,7,1] (broadcast, N = 1)", M_MM, 2, 3, 0, 0, 1e-4, {2, 4}, {{3, 7}, {2, 3, 7, 1}}},
        {"[3,1,7] @ [3,7,1]", M_MM, 2, 3, 0, 0, 1e-4, {3, 3}, {{3, 1, 7}, {3, 7, 1}}},
        {"[2,5,7] @ [2,4,7]^T", M_MM_BT, 2, 3, 0, 0, 1e-4, {3, 3}, {{2, 5, 7}, {2, 4, 7}}},
        {"[1,6] @ [4,6]^T", M_MM_BT, 2, 3, 0, 0, 1e-4, {2, 2}, {{1, 6}, {4, 6}}},
        {"[2,7,5]^T @ [2,4,7]^T", M_MM_AT, 2, 3, 0, 0, 1e-4, {3, 3}, {{2, 7, 5}, {2, 4, 7}}},
        {"[3,5,7] @ expand([1,7,4])", M_MM_EXPAND, 2, 3, 0, 0, 1e-4, {3, 3}, {{3, 5, 7}, {1, 7, 4}}},
        {"[9,14][::2,1::2] @ [7,3] (sliced)", M_MM_SLICED, 2, 3, 0, 0, 1e-4, {2, 2}, {{9, 14}, {7, 3}}},
    };
    /* clang-format on */
    RUN_CASES(cs);
}
END_TEST

/* ---- attention -------------------------------------------------------------------------------------- */

/* u: the number of heads; negative: the output summed over T (its gradient: stride 0 over T) */
static nb_tensor *f_attention_qkv(nb_tensor **in, void *u) {
    int h = *(int *)u;
    nb_tensor *y = nb_attention_qkv(in[0], h < 0 ? -h : h);
    return h < 0 ? nb_sum(y, 1, (const int[]){1}, false) : y;
}

START_TEST(test_attention_shapes) {
    /* T = 1, T below, at and above the 8 rows a block and the 32-key tiles; D from 1 to 128 */
    /* clang-format off */
    static const mcase cs[] = {
        {"attention T = 1", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 1, 1, 8)},
        {"attention T = 7", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 2, 7, 8)},
        {"attention T = 9, D = 64", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(2, 1, 9, 64)},
        {"attention T = 33, D = 128", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 1, 33, 128)},
        {"attention T = 40, D = 1", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 3, 40, 1)},
        {"attention T = 65, D = 32", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 1, 65, 32)},
        {"attention T = 32, D = 31", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 1, 32, 31)},
        {"attention T = 16, D = 96", M_ATT, 3, 7, 0, 0, 2e-4, ATT3(1, 2, 16, 96)},
        {"attention summed over T (gradient: stride 0)", M_ATT_SUMT, 3, 7, 0, 0, 2e-4, ATT3(2, 2, 13, 8)},
        {"attention, strided q, v, k expanded over H", M_ATT_VIEWS, 3, 7, 0, 0, 2e-4, {4, 4, 4},
         {{2, 11, 3, 16}, {2, 1, 11, 16}, {2, 11, 3, 16}}},
        {"attention, strided q, v, k expanded over H and T", M_ATT_VIEWS, 3, 7, 0, 0, 2e-4, {4, 4, 4},
         {{2, 11, 3, 16}, {2, 1, 1, 16}, {2, 11, 3, 16}}},
    };
    /* clang-format on */
    RUN_CASES(cs);
    nb_ctx *c = nb_ctx_new(0);
    nb_tensor *x = rnd(c, NB_SHAPE(1, 2, 19, 24), -1, 1, 95), *same[3] = {x, x, x};
    compare("attention(x, x, x)", f_menu, same, 3, OP(M_ATT), 2e-4, 7);
    int heads = 2;
    nb_tensor *qkv = rnd(c, NB_SHAPE(2, 1, 3 * 2 * 8), -1, 1, 93);
    compare("attention_qkv, T = 1", f_attention_qkv, &qkv, 1, &heads, 2e-4, 1);
    int sum_heads = -3;
    nb_tensor *qkv2 = rnd(c, NB_SHAPE(2, 9, 3 * 3 * 8), -1, 1, 94);
    compare("attention_qkv summed over T (gradient of stride 0)", f_attention_qkv, &qkv2, 1, &sum_heads, 2e-4,
            1);
    /* a head size above the kernel's 128: a clear error, not a crash */
    nb_ctx_use(c);
    nb_tensor *q = nb_to_device(c, rnd(c, NB_SHAPE(1, 1, 4, 129), -1, 1, 94), NB_CUDA);
    nb_clear_error();
    ck_assert_ptr_null(nb_attention(q, q, q));
    ck_assert_msg(strstr(nb_last_error(), "head size 129") != NULL, "message: %s", nb_last_error());
    nb_tensor *longq = nb_to_device(c, nb_zeros(c, NB_F32, NB_SHAPE(1, 1, 524281, 1)), NB_CUDA);
    ck_assert_ptr_null(nb_attention(longq, longq, longq));
    ck_assert_msg(strstr(nb_last_error(), "positions") != NULL, "message: %s", nb_last_error());
    ck_assert_int_eq(nb_cuda_synchronize(), 0);
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* ---- indices ------------------------------------------------------------------------------------------ */

START_TEST(test_indices) {
    nb_ctx *c = nb_ctx_new(0);
    int32_t same[300];
    for (int i = 0; i < 300; i++)
        same[i] = i % 50 == 49 ? i % 7 : 7; /* mostly one id, a few others */
    nb_tensor *em[2] = {rnd(c, NB_SHAPE(10, 24), -1, 1, 1), nb_from_data(c, NB_I32, NB_SHAPE(3, 100), same)};
    compare("embedding, one id repeated 294 times", f_menu, em, 2, OP(M_EMB), 1e-5, 1);
    compare("embedding of a non-leaf weight", f_menu, em, 2, OP(M_EMB_NONLEAF), 1e-5, 1);
    /* clang-format off */
    static const mcase cs[] = {
        {"embedding, V and C off the block size", M_EMB, 2, 1, 2, 1029, 1e-5, {2, 2}, {{1029, 33}, {2, 777}}},
        {"index_select, repeats, transposed input", M_ISEL0, 2, 1, 2, 5, 1e-6, {2, 1}, {{5, 33}, {70}}},
        {"index_select along the last dim", M_ISEL, 2, 1, 2, 50, 1e-6, {2, 1}, {{4, 50}, {130}}},
        {"index_select of a strided index", M_ISEL_STEP, 2, 1, 2, 6, 1e-6, {2, 1}, {{6, 7}, {40}}},
        {"gather, repeated indices", M_GATHER, 2, 1, 2, 50, 1e-6, {2, 2}, {{4, 50}, {4, 160}}},
        {"gather of a transposed index", M_GATHER_T, 2, 1, 2, 50, 1e-6, {2, 2}, {{4, 50}, {160, 3}}},
    };
    /* clang-format on */
    RUN_CASES(cs);
    /* two backward passes: the second adds into the existing gradient of the leaf */
    nb_ctx_use(c);
    nb_tensor *w = rnd(c, NB_SHAPE(10, 24), -1, 1, 9), *wg = nb_to_device(c, w, NB_CUDA);
    nb_tensor *ig = nb_to_device(c, em[1], NB_CUDA);
    nb_requires_grad_(w, true);
    nb_requires_grad_(wg, true);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul_scalar(nb_embedding(w, em[1]), 1.5f + pass))), 0);
        ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul_scalar(nb_embedding(wg, ig), 1.5f + pass))), 0);
    }
    expect_close("embedding gradient after two passes", w->grad, wg->grad, 1e-5);
    /* ids out of range: the CPU's messages */
    nb_tensor *bad = nb_to_device(c, nb_from_data(c, NB_I32, NB_SHAPE(3), ((int32_t[]){1, 10, -1})), NB_CUDA);
    ck_assert_ptr_null(nb_embedding(wg, bad));
    ck_assert_msg(strstr(nb_last_error(), "id 10 at position 1 is out of range"), "%s", nb_last_error());
    ck_assert_ptr_null(nb_index_select(wg, 0, nb_slice(bad, 0, 2, 3, 1)));
    ck_assert_msg(strstr(nb_last_error(), "index -1 at position 0 is out of range"), "%s", nb_last_error());
    ck_assert_ptr_null(nb_gather(wg, 1, nb_to_device(c, nb_full(c, NB_I32, NB_SHAPE(2, 2), 24), NB_CUDA)));
    ck_assert_msg(strstr(nb_last_error(), "index 24 at position 0 is out of range"), "%s", nb_last_error());
    ck_assert_int_eq(nb_cuda_synchronize(), 0);
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* ---- cross-entropy ---------------------------------------------------------------------------------- */

static nb_tensor *f_xent(nb_tensor **in, void *u) { return nb_cross_entropy(in[0], in[1], *(int *)u); }

static nb_tensor *f_lce(nb_tensor **in, void *u) {
    return nb_linear_cross_entropy(in[0], in[1], in[2], in[3], *(int *)u);
}

START_TEST(test_cross_entropy_cases) {
    nb_ctx *c = nb_ctx_new(0);
    int32_t t[6] = {2, 0, 2, 4, 1, 2}, none[6] = {-100, -100, -100, -100, -100, -100};
    int two = 2, ign = -100;
    nb_tensor *x[2] = {rnd(c, NB_SHAPE(6, 5), -3, 3, 1), nb_from_data(c, NB_I32, NB_SHAPE(6), t)};
    compare("cross_entropy, ignore_index a real class", f_xent, x, 2, &two, 1e-5, 1);
    nb_tensor *all2[2] = {x[0], nb_full(c, NB_I32, NB_SHAPE(6), 2)};
    compare("cross_entropy, every row ignored (class 2)", f_xent, all2, 2, &two, 1e-6, 1);
    nb_tensor *all[2] = {x[0], nb_from_data(c, NB_I32, NB_SHAPE(6), none)};
    compare("cross_entropy, every row ignored", f_xent, all, 2, &ign, 1e-6, 1);
    nb_tensor *d3[2] = {rnd(c, NB_SHAPE(2, 3, 7), -3, 3, 2), nb_from_data(c, NB_I32, NB_SHAPE(2, 3), t)};
    compare("cross_entropy, [2,3,7] logits, [2,3] targets", f_xent, d3, 2, &ign, 1e-5, 1);
    nb_tensor *big[2] = {rnd(c, NB_SHAPE(6, 300), -90, 90, 3), nb_from_data(c, NB_I32, NB_SHAPE(6), t)};
    compare("cross_entropy, logits up to 90", f_xent, big, 2, &ign, 1e-5, 1);
    /* linear_cross_entropy: no rows; one class; rows ignored chunk by chunk (chunks of 2) */
    int32_t lt[5] = {-100, -100, 0, -100, 0};
    nb_tensor *l0[4] = {rnd(c, NB_SHAPE(0, 8), -1, 1, 4), rnd(c, NB_SHAPE(5, 8), -1, 1, 5),
                        rnd(c, NB_SHAPE(5), -1, 1, 6), nb_zeros(c, NB_I32, NB_SHAPE(0))};
    compare("linear_cross_entropy of no rows", f_lce, l0, 4, &ign, 1e-6, 7);
    nb_tensor *l1[4] = {rnd(c, NB_SHAPE(5, 8), -1, 1, 7), rnd(c, NB_SHAPE(1, 8), -1, 1, 8),
                        rnd(c, NB_SHAPE(1), -1, 1, 9), nb_from_data(c, NB_I32, NB_SHAPE(5), lt)};
    setenv("NABLA_LCE_CHUNK", "2", 1);
    compare("linear_cross_entropy, one class, an all-ignored chunk", f_lce, l1, 4, &ign, 1e-6, 7);
    unsetenv("NABLA_LCE_CHUNK");
    nb_ctx_free(c);
}
END_TEST

/* ---- random streams and dropout ------------------------------------------------------------------- */

/* dropout with its own generator, seeded afresh on each call (so the CPU and CUDA runs draw
 * the same stream); u: {p, view}: view 1 drops out of a transposed input */
static nb_tensor *f_dropout(nb_tensor **in, void *u) {
    const float *pv = u;
    nb_rng r;
    nb_rng_init(&r, 11);
    r.offset = 3; /* not a multiple of anything in particular */
    nb_tensor *x = pv[1] != 0.0f ? nb_transpose(in[0], 0, 1) : in[0];
    nb_tensor *a = nb_dropout(x, pv[0], true, &r);
    return nb_mul(a, nb_dropout(nb_exp(x), pv[0], true, &r)); /* a second draw, further on */
}

START_TEST(test_random_streams) {
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    nb_rng r1, r2;
    nb_rng_init(&r1, 5);
    nb_rng_init(&r2, 5);
    const int64_t sizes[] = {1, 2, 3, 5, 7, 1001, 6};
    for (int k = 0; k < 7; k++) { /* the offsets after odd sizes carry over identically */
        nb_tensor *u = nb_rand(c, 1, &sizes[k], -1, 2, &r1);
        nb_tensor *ug = nb_to_device(c, nb_empty(c, NB_F32, 1, &sizes[k]), NB_CUDA);
        ck_assert_int_eq(nb_rand_(ug, -1, 2, &r2), 0);
        expect_close("rand, odd sizes in a row", u, ug, 0);
        nb_tensor *n = nb_randn(c, 1, &sizes[k], 0, 1, &r1);
        ck_assert_int_eq(nb_randn_(ug, 0, 1, &r2), 0);
        expect_close("randn, odd sizes in a row", n, ug, 1e-5);
    }
    /* into a transposed view: value i goes to element i of the view, on both devices */
    nb_tensor *h = nb_zeros(c, NB_F32, NB_SHAPE(5, 7)), *hg = nb_to_device(c, h, NB_CUDA);
    ck_assert_int_eq(nb_rand_(nb_transpose(h, 0, 1), 0, 1, &r1), 0);
    ck_assert_int_eq(nb_rand_(nb_transpose(hg, 0, 1), 0, 1, &r2), 0);
    expect_close("rand into a transposed view", h, hg, 0);
    nb_ctx_use(NULL);
    float cases[][2] = {{0.0f, 0}, {0.5f, 0}, {0.5f, 1}, {0.999f, 0}, {1e-7f, 0}};
    const int64_t shapes[][2] = {{1, 1}, {1, 3}, {5, 1}, {3, 5}, {37, 111}};
    for (int s = 0; s < 5; s++)
        for (int k = 0; k < 5; k++) {
            nb_tensor *x = rnd(c, 2, shapes[s], -1, 1, (uint64_t)(s * 5 + k));
            compare("dropout (bit for bit)", f_dropout, &x, 1, cases[k], 0, 1);
        }
    nb_ctx_free(c);
}
END_TEST

/* ---- copies across layouts, dtypes and devices ------------------------------------------------------ */

/* View k of a [4,6,5] tensor: permuted, sliced with steps, expanded, narrowed, transposed. */
static nb_tensor *view_of(nb_tensor *t, int k) {
    switch (k) {
    case 0: return nb_permute(t, (const int[]){2, 0, 1});
    case 1: return nb_slice(nb_slice(t, 1, 1, 6, 2), 2, 0, 5, 3);
    case 2: return nb_expand(nb_slice(t, 1, 2, 3, 1), 4, (const int64_t[]){3, 4, 6, 5});
    case 3: return nb_narrow(t, 0, 1, 2);
    default: return nb_transpose(t, 0, 2);
    }
}

START_TEST(test_copies) {
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    nb_tensor *x = rnd(c, NB_SHAPE(4, 6, 5), -50, 50, 1), *g = nb_to_device(c, x, NB_CUDA);
    nb_tensor *xi = nb_cast(x, NB_I32), *gi = nb_to_device(c, xi, NB_CUDA);
    /* views read back, and views sent */
    for (int k = 0; k < 5; k++) {
        nb_tensor *vx = view_of(x, k), *vg = view_of(g, k), *vxi = view_of(xi, k), *vgi = view_of(gi, k);
        expect_close("f32 view of a cuda tensor", vx, vg, 0);
        expect_close("f32 view sent to cuda", vx, nb_to_device(c, vx, NB_CUDA), 0);
        expect_close("i32 view of a cuda tensor", vxi, vgi, 0);
        expect_close("i32 view sent to cuda", vxi, nb_to_device(c, vxi, NB_CUDA), 0);
        expect_close("f32 -> i32 -> f32 of a view", nb_cast(nb_cast(vx, NB_I32), NB_F32),
                     nb_cast(nb_cast(vg, NB_I32), NB_F32), 0);
    }
    /* the same copies and fills on both devices, each leaving some elements as it wrote them:
     * between views of other layouts and dtypes, with broadcast, from the cpu, fills of views */
    nb_tensor *y = rnd(c, NB_SHAPE(10, 6), -50, 50, 2), *src = nb_slice(nb_slice(y, 0, 1, 10, 2), 1, 0, 6, 2);
    nb_tensor *Y[2] = {y, nb_to_device(c, y, NB_CUDA)}, *D[2], *DI[2];
    for (int k = 0; k < 2; k++) {
        D[k] = nb_to_device(c, nb_zeros(c, NB_F32, NB_SHAPE(6, 5)), k ? NB_CUDA : NB_CPU);
        DI[k] = nb_to_device(c, nb_zeros(c, NB_I32, NB_SHAPE(5, 6)), k ? NB_CUDA : NB_CPU);
        nb_tensor *dt = nb_transpose(D[k], 0, 1);
        ck_assert_int_eq(nb_copy_(dt, nb_slice(Y[k], 0, 0, 10, 2)), 0);
        ck_assert_int_eq(nb_copy_(nb_slice(DI[k], 0, 1, 5, 3), nb_squeeze(nb_narrow(Y[k], 0, 3, 1), 0)), 0);
        ck_assert_int_eq(nb_copy_(nb_slice(dt, 0, 0, 5, 2), nb_slice(DI[k], 0, 0, 5, 2)), 0);
        ck_assert_int_eq(nb_copy_(nb_slice(dt, 1, 1, 6, 2), src), 0);
        ck_assert_int_eq(nb_fill_(nb_slice(nb_slice(dt, 0, 1, 5, 2), 1, 1, 6, 4), -3.5), 0);
        ck_assert_int_eq(nb_fill_(nb_narrow(DI[k], 0, 2, 2), 3e10), 0); /* contiguous at an offset; clamped */
        ck_assert_int_eq(nb_fill_(nb_slice(DI[k], 1, 0, 6, 5), -7), 0);
    }
    expect_close("copies and fills into f32 views", D[0], D[1], 0);
    expect_close("copies and fills into i32 views", DI[0], DI[1], 0);
    nb_tensor *hd = nb_zeros(c, NB_F32, NB_SHAPE(3, 5)); /* a strided cuda view into a cpu view */
    ck_assert_int_eq(nb_copy_(nb_transpose(hd, 0, 1), nb_slice(nb_slice(Y[1], 0, 1, 10, 2), 1, 0, 6, 2)), 0);
    expect_close("copy_ cuda view -> cpu view", nb_transpose(hd, 0, 1), nb_to_device(c, src, NB_CUDA), 0);
    ck_assert_int_eq(nb_cuda_synchronize(), 0);
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* ---- AdamW at sizes off the block size ----------------------------------------------------------------- */

START_TEST(test_adamw_sizes) {
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    const int64_t sizes[] = {1, 255, 257, 20001};
    for (int s = 0; s < 4; s++) {
        nb_tensor *t[4], *g[4];
        for (int i = 0; i < 4; i++) {
            t[i] = rnd(c, 1, &sizes[s], i == 3 ? 0.0f : -1.0f, 1.0f, (uint64_t)(4 * s + i));
            g[i] = nb_to_device(c, t[i], NB_CUDA);
        }
        for (int step = 1; step <= 6; step++) { /* CPU on odd steps, CUDA on even ones: the same 3 steps */
            nb_tensor **u = step % 2 ? t : g;
            ck_assert_int_eq(
                nb_adamw_update_(u[0], u[1], u[2], u[3], 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, (step + 1) / 2), 0);
        }
        for (int i = 0; i < 4; i++)
            expect_close("adamw", t[i], g[i], 1e-5);
    }
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* Whether a GPU can be used, asked in a child process: Check runs each test in a process forked
 * from this one, and a CUDA driver started here before the fork cannot be used in those children
 * (every call there would fail). With CK_FORK=no the tests run here, so this process asks. */
static bool cuda_usable(char *why, size_t len) {
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

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_edge");
    char why[512];
    if (!cuda_usable(why, sizeof why)) {
        nb_test_skip("cuda edge cases vs cpu (empty, 0-d, 8-d views, long rows, reductions, matmul, "
                     "attention, indices, random streams, copies, adamw)",
                     why);
        return s;
    }
    TCase *tc = tcase_create("edge");
    tcase_set_timeout(tc, 900);
    const TTest *tests[] = {
        test_empty,       test_scalars_and_ones,    test_many_dims,      test_row_lengths,
        test_reduce_axes, test_ties_and_nan,        test_matmul_shapes,  test_attention_shapes,
        test_indices,     test_cross_entropy_cases, test_random_streams, test_copies,
        test_adamw_sizes};
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}

#else

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_edge");
    nb_test_skip("cuda edge cases vs cpu", "this build has no CUDA backend");
    return s;
}

#endif

NB_CHECK_MAIN()
