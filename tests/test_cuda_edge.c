/* tests/test_cuda_edge.c - edge cases of the CUDA backend's elementwise, row, reduction and
 * matmul kernels against the CPU backend, beyond tests/test_cuda_ops.c, by the same method
 * (tests/cuda_compare.h): empty tensors (a 0-sized dim, K = 0) through every op family; 0-d and
 * 1-element tensors; 8-d broadcasting over permuted, sliced and expanded views; rows on both sides
 * of every block width up to 100000 columns (softmax, layer_norm, cross_entropy, also with -inf);
 * reductions over every axis and pair, in parts, with ties and NaN; argmax ties; matmul shapes
 * (1xN, Nx1, K = 1, large K, 1-d, batch broadcast, transposed, sliced, expanded). The attention,
 * index, loss, random and optimiser kernels are in test_cuda_edge_nn.c. Without a GPU (real or
 * emulated) every case is skipped with a SKIP line (never passed). */
#include "nabla.h"
#include "tests/nb_check.h"

#ifdef NB_WITH_CUDA
#include "tests/cuda_compare.h"
#include "tests/cuda_edge_menu.h"

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
    /* long sums accumulate in double on both backends, so they agree to the float's last bits
     * (in float, each thread's running sum over thousands of values was off by 1e-6 and more) */
    static const struct {
        const char *name;
        int nd;
        int64_t sh[2];
        red_case r;
    } ds[] = {
        {"sum of 2^22 values, in double (blocks)", 1, {1 << 22}, {0, 0, {0}, false, false}},
        {"sum over 2^20 rows, in double (threads)", 2, {1 << 20, 3}, {0, 1, {0}, false, false}},
        {"mean over 2^13 rows of 64, in double", 2, {1 << 13, 64}, {3, 1, {0}, false, false}},
    };
    for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) {
        nb_tensor *x = rnd(c, ds[k].nd, ds[k].sh, 0.5f, 1.5f, 40 + k);
        compare(ds[k].name, f_reduce, &x, 1, (void *)&ds[k].r, 2.5e-7, 1);
    }
    nb_ctx_free(c);
}
END_TEST

/* maximum/minimum (ties split the gradient) and NaN through them, relu, clamp, max/min with a
 * scalar: the generated kernels against the CPU's */
static nb_tensor *f_maxmin(nb_tensor **in, void *u) {
    (void)u;
    nb_tensor *a = in[0], *b = in[1];
    nb_tensor *y = nb_add(nb_maximum(a, b), nb_mul_scalar(nb_minimum(a, b), 3.0f));
    y = nb_add(y, nb_add(nb_relu(a), nb_clamp(b, 0.5f, 1.5f)));
    return nb_add(y, nb_add(nb_maximum_scalar(a, 1.0f), nb_minimum_scalar(b, 1.0f)));
}

/* sqrt at 0 sends an infinite gradient back: relu, clamp, the scalar max and maximum must pass 0
 * (a select), not inf * 0 = NaN, where they are flat, as on the CPU */
static nb_tensor *f_sqrt_masks(nb_tensor **in, void *u) {
    (void)u;
    nb_tensor *a = in[0], *b = in[1];
    nb_tensor *y = nb_add(nb_sqrt(nb_relu(a)), nb_sqrt(nb_clamp(b, 0.0f, 1.5f)));
    return nb_add(y, nb_add(nb_sqrt(nb_maximum_scalar(a, 0.0f)), nb_sqrt(nb_maximum(a, b))));
}

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
    for (int k = 0; k < 2; k++) { /* values in {0, 1, 2}: ties between a and b, with each other */
        nb_tensor *ab[2];
        for (int i = 0; i < 2; i++) {
            ab[i] = nb_cast(nb_cast(rnd(c, 2, (const int64_t[]){4, 33}, 0, 2.99f, 10 + 2 * k + i), NB_I32),
                            NB_F32);
            if (k) nb_data_f32(ab[i])[7 + 40 * i] = NAN;
        }
        compare(k ? "maximum, minimum, relu, clamp (NaN)" : "maximum, minimum, relu, clamp (ties)", f_maxmin,
                ab, 2, NULL, 0, 3);
    }
    nb_tensor *ab[2]; /* values in {-1, 0, 1, 2}: zeros under each sqrt */
    for (int i = 0; i < 2; i++)
        ab[i] = nb_cast(nb_cast(rnd(c, 2, (const int64_t[]){4, 33}, -1.99f, 2.99f, 20 + i), NB_I32), NB_F32);
    compare("sqrt of relu, clamp, maximum at 0 (infinite gradients masked)", f_sqrt_masks, ab, 2, NULL, 0, 3);
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

Suite *make_suite(void) {
    const TTest *tests[] = {test_empty,       test_scalars_and_ones, test_many_dims,    test_row_lengths,
                            test_reduce_axes, test_ties_and_nan,     test_matmul_shapes};
    return cuda_suite("cuda_edge",
                      "cuda edge cases vs cpu (empty, 0-d, 8-d views, long rows, reductions, matmul)", tests,
                      sizeof tests / sizeof *tests);
}

#else

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_edge");
    nb_test_skip("cuda edge cases vs cpu (empty, 0-d, 8-d views, long rows, reductions, matmul)",
                 "this build has no CUDA backend");
    return s;
}

#endif

NB_CHECK_MAIN()
