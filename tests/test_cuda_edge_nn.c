/* tests/test_cuda_edge_nn.c - edge cases of the CUDA backend's network kernels against the CPU
 * backend, beyond tests/test_cuda_ops.c, by the same method (tests/cuda_compare.h): attention at
 * T = 1 and around the block and tile sizes, D 1 to 128, strided, expanded and stride-0 operands
 * and gradients, and its errors; repeated and bad indices; ignore_index cases; dropout and random
 * streams at odd sizes, bit for bit; copies across layouts, dtypes and devices; AdamW off the
 * block size; the backend used from a second thread; a module's summary on the GPU; f16 and bf16
 * conversions, bit for bit. Without a GPU (real or emulated) every case is skipped
 * with a SKIP line. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

#ifdef NB_WITH_CUDA
#include "tests/cuda_compare.h"
#include "tests/cuda_edge_menu.h"

/* ---- attention -------------------------------------------------------------------------------------- */

/* u: the number of heads; negative: the output summed over T (its gradient: stride 0 over T) */
static nb_tensor *f_attention_qkv(nb_tensor **in, void *u) {
    int h = *(int *)u;
    nb_tensor *y = nb_attention_qkv(in[0], h < 0 ? -h : h);
    return h < 0 ? nb_sum(y, 1, (const int[]){1}, false) : y;
}

/* q or k [1,H,T,4] whose scores (scale 1/2) lie near 65536 and are exact in float: rows
 * (256, 256, a, b) with small integers a, b (seed picks the pattern). */
static nb_tensor *far_qk(nb_ctx *c, int64_t H, int64_t T, int seed) {
    float *d = malloc(sizeof(float) * (size_t)(H * T * 4));
    for (int64_t i = 0; i < H * T; i++) {
        d[4 * i] = d[4 * i + 1] = 256.0f;
        d[4 * i + 2] = (float)((i * (seed + 1)) % 7) - 3.0f;
        d[4 * i + 3] = (float)((i * (2 * seed + 3) + seed) % 7) - 3.0f;
    }
    nb_tensor *t = nb_from_data(c, NB_F32, NB_SHAPE(1, H, T, 4), d);
    free(d);
    ck_assert_ptr_nonnull(t);
    return t;
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
    /* scores near 65536: both backends recompute the backward's probabilities from the saved
     * (max, log-sum) pairs (the CPU's are checked against double in test_ops_attention), where a
     * one-float log-sum-exp would put the gradients 0.4% apart */
    nb_tensor *far[3] = {far_qk(c, 2, 40, 0), far_qk(c, 2, 40, 1), rnd(c, NB_SHAPE(1, 2, 40, 4), -1, 1, 96)};
    compare("attention, scores around 65536", f_menu, far, 3, OP(M_ATT), 1e-4, 7);
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

static nb_tensor *f_log_softmax_far(nb_tensor **in, void *u) {
    (void)u;
    return nb_log_softmax(in[0], -1);
}

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
    /* far from 0: the same (max, log-sum) pairs on both (the CPU's are checked against double
     * references in test_ops_nn and test_xent_fused); linear_cross_entropy in chunks of 2 */
    nb_tensor *far[2] = {nb_add_scalar(rnd(c, NB_SHAPE(6, 300), -3, 3, 10), 1e6f),
                         nb_from_data(c, NB_I32, NB_SHAPE(6), t)};
    compare("cross_entropy, logits around 1e6", f_xent, far, 2, &ign, 1e-5, 1);
    nb_tensor *l_far[4] = {rnd(c, NB_SHAPE(6, 8), -1, 1, 11), rnd(c, NB_SHAPE(5, 8), -1, 1, 12),
                           nb_add_scalar(rnd(c, NB_SHAPE(5), -1, 1, 13), -1e6f),
                           nb_from_data(c, NB_I32, NB_SHAPE(6), t)};
    setenv("NABLA_LCE_CHUNK", "2", 1);
    compare("linear_cross_entropy, bias around -1e6", f_lce, l_far, 4, &ign, 1e-5, 7);
    unsetenv("NABLA_LCE_CHUNK");
    nb_tensor *ls_far = nb_add_scalar(rnd(c, NB_SHAPE(4, 300), -3, 3, 14), 1e6f);
    compare("log_softmax, logits around 1e6", f_log_softmax_far, &ls_far, 1, NULL, 1e-5, 1);
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
    /* a second draw, further on, of a transform the GPU rounds as the CPU does (one IEEE multiply:
     * CUDA's expf is not correctly rounded, glibc's nearly always is, so exp(x) is not bit for bit) */
    return nb_mul(a, nb_dropout(nb_mul_scalar(x, 3.0f), pv[0], true, &r));
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

/* ---- another thread ------------------------------------------------------------------------------------ */

/* The driver's context is current per thread: a thread that did not start the backend must still
 * be able to use it (serve's workers do), also on tensors made by another thread. */
static const mcase thread_cases[] = {
    {"attention on a second thread", M_ATT, 3, 7, 0, 0, 1e-4, ATT3(2, 2, 9, 8)},
    {"layer_norm on a second thread", M_LN, 3, 7, 0, 0, 1e-4, {2, 1, 1}, {{6, 40}, {40}, {40}}},
    {"cross_entropy on a second thread", M_XENT, 2, 1, 2, 7, 1e-5, {2, 1}, {{6, 7}, {6}}},
    {"matmul on a second thread", M_MM, 2, 3, 0, 0, 1e-4, {2, 2}, {{5, 6}, {6, 3}}},
};

static void *second_thread(void *arg) {
    nb_tensor *g = arg; /* made on the GPU by the main thread */
    RUN_CASES(thread_cases);
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    nb_tensor *e = nb_to_device(c, nb_exp(g), NB_CPU);
    void *ok = e && nb_cuda_synchronize() == 0 ? e : NULL;
    if (!ok) fprintf(stderr, "second thread: %s\n", nb_last_error());
    float v = ok ? nb_data_f32(e)[3] : 0.0f;
    nb_ctx_use(NULL);
    nb_ctx_free(c);
    return ok && v == expf(3.0f) ? g : NULL;
}

START_TEST(test_other_thread) {
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    const float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    nb_tensor *g = nb_to_device(c, nb_from_data(c, NB_F32, 1, (const int64_t[]){8}, v),
                                NB_CUDA); /* starts the backend here */
    ck_assert_msg(g != NULL, "%s", nb_last_error());
    pthread_t th;
    void *res = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, second_thread, g), 0);
    ck_assert_int_eq(pthread_join(th, &res), 0);
    ck_assert_msg(res == g, "exp of the main thread's tensor on the second thread failed");
    nb_tensor *back = nb_to_device(c, g, NB_CPU); /* and the main thread still can */
    ck_assert_msg(back && nb_data_f32(back)[7] == 7.0f, "%s", nb_last_error());
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* ---- f16 and bf16 ---------------------------------------------------------------------------- */

/* The bytes of t (any device, any layout), row-major. */
static void bytes_of(nb_ctx *c, const nb_tensor *t, void *out) {
    nb_tensor *h = nb_to_device(c, t, NB_CPU);
    ck_assert_msg(h != NULL, "%s", nb_last_error());
    nb_tensor *k = nb_contiguous(h);
    ck_assert_msg(k != NULL, "%s", nb_last_error());
    memcpy(out, nb_data(k), (size_t)nb_numel(k) * nb_dtype_size(k->dtype));
}

START_TEST(test_sixteen_bit) {
    nb_ctx *c = nb_ctx_new(0);
    nb_ctx_use(c);
    /* every f16 pattern, and as many bf16 ones, to f32 and i32 on both, through a transposed view */
    uint16_t *pat = malloc(65536 * 2);
    for (unsigned i = 0; i < 65536; i++)
        pat[i] = (uint16_t)i;
    static uint32_t a[65536], b[65536];
    for (int dt = NB_F16; dt <= NB_BF16; dt++) {
        nb_tensor *h = nb_transpose(nb_from_data(c, (nb_dtype)dt, NB_SHAPE(256, 256), pat), 0, 1);
        nb_tensor *g = nb_to_device(c, h, NB_CUDA);
        for (int to = NB_F32; to <= NB_I32; to++) {
            bytes_of(c, nb_cast(h, (nb_dtype)to), a);
            bytes_of(c, nb_cast(g, (nb_dtype)to), b);
            for (int i = 0; i < 65536; i++)
                ck_assert_msg(a[i] == b[i], "%s %04x -> %s: cpu %08x, cuda %08x", nb_dtype_name((nb_dtype)dt),
                              pat[(i % 256) * 256 + i / 256], nb_dtype_name((nb_dtype)to), a[i], b[i]);
        }
    }
    /* f32 values from 2^-28 to 2^19 (f16's subnormals, normals and overflow) and of every
     * exponent, to f16 and bf16 (and between them), bit for bit; a quarter of them halfway
     * between two f16 values and a quarter halfway between two bf16 values */
    nb_rng r = {11, 0};
    for (int i = 0; i < 65536; i++) {
        uint32_t m = (uint32_t)(nb_rng_uniform(&r) * 8388608.0f) & 0x7fffffu;
        uint32_t e = i < 49152 ? 99u + (uint32_t)(i % 48) : (uint32_t)(i % 256);
        if (i % 4 == 0) m = (m & ~0x1fffu) | 0x1000u;
        if (i % 4 == 1) m = (m & ~0xffffu) | 0x8000u;
        a[i] = (i & 1024 ? 0x80000000u : 0) | (e << 23) | m;
    }
    nb_tensor *f = nb_transpose(nb_from_data(c, NB_F32, NB_SHAPE(256, 256), a), 0, 1);
    nb_tensor *fg = nb_to_device(c, f, NB_CUDA);
    uint16_t *hc = malloc(65536 * 2), *hg = malloc(65536 * 2);
    for (int dt = NB_F16; dt <= NB_BF16; dt++) {
        nb_tensor *tc = nb_cast(f, (nb_dtype)dt), *tg = nb_cast(fg, (nb_dtype)dt);
        nb_dtype other = dt == NB_F16 ? NB_BF16 : NB_F16;
        for (int pass = 0; pass < 2; pass++) {
            bytes_of(c, tc, hc);
            bytes_of(c, tg, hg);
            for (int i = 0; i < 65536; i++)
                ck_assert_msg(hc[i] == hg[i], "pass %d, f32 %08x -> %s: cpu %04x, cuda %04x", pass,
                              a[(i % 256) * 256 + i / 256], nb_dtype_name(tc->dtype), hc[i], hg[i]);
            tc = nb_cast(tc, other), tg = nb_cast(tg, other);
        }
    }
    /* fills of a strided view, and copies between 16-bit views on the GPU */
    nb_tensor *z = nb_zeros_on(c, NB_BF16, NB_CUDA, NB_SHAPE(4, 6));
    ck_assert_int_eq(nb_fill_(nb_slice(z, 1, 1, 4, 2), -2.5), 0);
    ck_assert_int_eq(nb_copy_(nb_slice(z, 0, 2, 4, 1), nb_slice(z, 0, 0, 2, 1)), 0);
    ck_assert_double_eq(nb_get(z, (int64_t[]){3, 3}), -2.5);
    ck_assert_double_eq(nb_get(z, (int64_t[]){3, 2}), 0.0);
    free(pat);
    free(hc);
    free(hg);
    nb_ctx_use(NULL);
    nb_ctx_free(c);
}
END_TEST

/* nb_arange_on the GPU: bit for bit the CPU's values in every dtype, including a range whose
 * step is not exact in binary and values past f16's range (inf) and bf16's precision. */
START_TEST(test_arange) {
    nb_ctx *c = nb_ctx_new(0);
    static const double r[][3] = {{0, 10, 0.5}, {-3.3, 9e4, 0.77}, {7, -7, -1.1}, {-5, 1e5, 3}, {2, 2, 1}};
    for (int dt = 0; dt < NB_DTYPE_COUNT; dt++)
        for (size_t k = 0; k < sizeof r / sizeof *r; k++) {
            nb_tensor *h = nb_arange(c, (nb_dtype)dt, r[k][0], r[k][1], r[k][2]);
            nb_tensor *g = nb_arange_on(c, (nb_dtype)dt, NB_CUDA, r[k][0], r[k][1], r[k][2]);
            ck_assert_msg(h && g, "arange %s %g..%g: %s", nb_dtype_name((nb_dtype)dt), r[k][0], r[k][1],
                          nb_last_error());
            ck_assert_int_eq(g->device, NB_CUDA);
            ck_assert_int_eq(nb_numel(h), nb_numel(g));
            size_t n = (size_t)nb_numel(h) * nb_dtype_size(h->dtype);
            char *a = malloc(n + 1), *b = malloc(n + 1);
            bytes_of(c, h, a);
            bytes_of(c, g, b);
            ck_assert_msg(memcmp(a, b, n) == 0, "arange %s %g..%g by %g: cpu and cuda differ",
                          nb_dtype_name((nb_dtype)dt), r[k][0], r[k][1], r[k][2]);
            free(a);
            free(b);
        }
    /* the CPU's checks come first on every device */
    ck_assert_ptr_null(nb_arange_on(c, NB_I32, NB_CUDA, 0, 3e9, 1));
    ck_assert_msg(strstr(nb_last_error(), "i32 range") != NULL, "%s", nb_last_error());
    nb_ctx_free(c);
}
END_TEST

/* A module's summary: the same table after the module moved to the GPU. */
static char *summary_text(nb_module *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = nb_module_summary(m, NB_F32, 2, (const int64_t[]){3, 8}, f);
    fclose(f);
    ck_assert_msg(rc == 0, "module_summary: %s", nb_last_error());
    return buf;
}

START_TEST(test_module_summary) {
    nb_ctx *c = nb_ctx_new(0);
    nb_rng r = {3, 0};
    nb_module *seq = nb_sequential_new();
    ck_assert_int_eq(nb_sequential_append(seq, nb_linear_new(c, 8, 16, true, &r)), 0);
    ck_assert_int_eq(nb_sequential_append(seq, nb_gelu_new()), 0);
    ck_assert_int_eq(nb_sequential_append(seq, nb_linear_new(c, 16, 4, false, &r)), 0);
    char *cpu = summary_text(seq);
    ck_assert_msg(nb_module_to(seq, NB_CUDA) == 0, "%s", nb_last_error());
    char *gpu = summary_text(seq);
    ck_assert_msg(strstr(cpu, "[3,4]") != NULL, "%s", cpu);
    ck_assert_str_eq(cpu, gpu);
    free(cpu);
    free(gpu);
    nb_module_free(seq);
    nb_ctx_free(c);
}
END_TEST

Suite *make_suite(void) {
    const TTest *tests[] = {
        test_attention_shapes, test_indices,      test_cross_entropy_cases, test_random_streams, test_copies,
        test_adamw_sizes,      test_other_thread, test_module_summary,      test_sixteen_bit,    test_arange};
    return cuda_suite("cuda_edge_nn",
                      "cuda edge cases vs cpu (attention, indices, losses, random streams, copies, adamw)",
                      tests, sizeof tests / sizeof *tests);
}

#else

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_edge_nn");
    nb_test_skip("cuda edge cases vs cpu (attention, indices, losses, random streams, copies, adamw)",
                 "this build has no CUDA backend");
    return s;
}

#endif

NB_CHECK_MAIN()
