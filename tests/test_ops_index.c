/* Indexing and joining ops: cat, split, index_select (+ its index_add backward, at embedding
 * size), gather (+ scatter_add), tril, tril_mask and cast. Forward against plain loops on
 * contiguous and non-contiguous inputs, backward through gradcheck and references, errors. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 99);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static nb_tensor *randn(int nd, const int64_t *shape) { return nb_randn(ctx, nd, shape, 0, 1, &rng); }

static nb_tensor *ints(int n, const int32_t *v) {
    return nb_from_data(ctx, NB_I32, 1, (const int64_t[]){n}, v);
}

/* Row-major float copy of any f32 tensor (malloc'd). */
static float *values(const nb_tensor *t) {
    int64_t n = nb_numel(t);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(nb_to_array(t, NB_F32, f), 0);
    return f;
}

/* Row-major multi-index of flat index i in shape. */
static void unflat(int64_t i, int nd, const int64_t *shape, int64_t *ix) {
    for (int d = nd - 1; d >= 0; d--) {
        ix[d] = i % shape[d];
        i /= shape[d];
    }
}

/* Flat row-major index of multi-index ix in shape. */
static int64_t flat(int nd, const int64_t *shape, const int64_t *ix) {
    int64_t f = 0;
    for (int d = 0; d < nd; d++)
        f = f * shape[d] + ix[d];
    return f;
}

static void expect_error(nb_tensor *r, const char *needle) {
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(nb_last_error(), needle) != NULL, "error '%s' lacks '%s'", nb_last_error(), needle);
}

/* ---- cat / split ---------------------------------------------------------------------------- */

START_TEST(cat_forward) {
    for (int dim = -1; dim < 3; dim++) {
        int d = dim < 0 ? 2 : dim;
        int64_t sz[3] = {2, 5, 3}; /* sizes along dim of the three inputs */
        nb_tensor *ts[3];
        for (int i = 0; i < 3; i++) {
            int64_t s[3] = {3, 4, 2};
            s[d] = sz[i];
            ts[i] = randn(3, s);
        }
        /* make the middle one non-contiguous: a permuted copy viewed back */
        int64_t ps[3] = {ts[1]->shape[2], ts[1]->shape[0], ts[1]->shape[1]};
        nb_tensor *p = randn(3, ps);
        ts[1] = nb_permute(p, (int[]){1, 2, 0});
        nb_tensor *c = nb_cat(ts, 3, dim);
        ck_assert_msg(c != NULL, "%s", nb_last_error());
        ck_assert_int_eq(c->shape[d], 10);
        float *C = values(c), *V[3];
        for (int i = 0; i < 3; i++)
            V[i] = values(ts[i]);
        for (int64_t e = 0; e < nb_numel(c); e++) {
            int64_t ix[3];
            unflat(e, 3, c->shape, ix);
            int src = 0;
            while (ix[d] >= ts[src]->shape[d])
                ix[d] -= ts[src++]->shape[d];
            ck_assert(C[e] == V[src][flat(3, ts[src]->shape, ix)]);
        }
        free(C);
        for (int i = 0; i < 3; i++)
            free(V[i]);
    }
    /* i32 tensors concatenate too */
    nb_tensor *ia = ints(2, (int32_t[]){1, 2}), *ib = ints(3, (int32_t[]){3, 4, 5});
    nb_tensor *ic = nb_cat((nb_tensor *[]){ia, ib}, 2, 0);
    ck_assert(ic && ic->dtype == NB_I32 && ic->shape[0] == 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(((int32_t *)nb_data(ic))[i], i + 1);
}
END_TEST

static nb_tensor *cat_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *ts[3] = {in[0], nb_transpose(in[1], 0, 1), in[0]}; /* in[0] used twice */
    return nb_cat(ts, 3, 1);
}

START_TEST(cat_backward) {
    nb_tensor *in[2] = {nb_requires_grad_(randn(NB_SHAPE(3, 2)), true),
                        nb_requires_grad_(randn(NB_SHAPE(4, 3)), true)};
    ck_assert_msg(nb_gradcheck(cat_fn, in, 2, NULL, NULL) == 1, "%s", nb_last_error());
}
END_TEST

static nb_tensor *split_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *p[3];
    if (nb_split(in[0], -1, 3, (const int64_t[]){1, 3, 2}, p)) return NULL;
    return nb_add(nb_mul(p[1], p[1]), nb_cat((nb_tensor *[]){p[2], p[0]}, 2, -1));
}

START_TEST(split_views_and_backward) {
    nb_tensor *a = randn(NB_SHAPE(4, 6)), *p[3];
    ck_assert_int_eq(nb_split(a, 1, 3, (const int64_t[]){1, 3, 2}, p), 0);
    ck_assert_int_eq(p[1]->shape[1], 3);
    ck_assert_ptr_eq(p[1]->storage, a->storage); /* a view, nothing copied */
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 3; j++)
            ck_assert(nb_get(p[1], (int64_t[]){i, j}) == nb_get(a, (int64_t[]){i, j + 1}));
    ck_assert_int_eq(nb_split(a, 0, 2, (const int64_t[]){0, 4}, p), 0);
    ck_assert_int_eq(p[0]->shape[0], 0);
    nb_tensor *in[1] = {nb_requires_grad_(randn(NB_SHAPE(3, 6)), true)};
    ck_assert_msg(nb_gradcheck(split_fn, in, 1, NULL, NULL) == 1, "%s", nb_last_error());
}
END_TEST

START_TEST(cat_split_errors) {
    nb_tensor *a = randn(NB_SHAPE(2, 3)), *b = randn(NB_SHAPE(3, 3)), *p[2] = {a, a};
    expect_error(nb_cat((nb_tensor *[]){a, b}, 2, 1), "cat: tensor 1 has shape [3,3] but tensor 0 has [2,3]");
    expect_error(nb_cat((nb_tensor *[]){a, b}, 2, 2), "cat: dim 2 out of range");
    expect_error(nb_cat((nb_tensor *[]){a, nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3))}, 2, 0),
                 "cat: tensor 1 is i32");
    expect_error(nb_cat((nb_tensor *[]){a}, 0, 0), "cat: needs at least one tensor");
    expect_error(nb_cat((nb_tensor *[]){a, randn(NB_SHAPE(2, 3, 1))}, 2, 0), "cat: tensor 1 has shape");
    ck_assert_int_eq(nb_split(a, 1, 2, (const int64_t[]){1, 1}, p), -1);
    ck_assert_ptr_null(p[0]);
    ck_assert_msg(strstr(nb_last_error(), "split: sizes add up to 2 but dim 1 of [2,3] has 3"), "%s",
                  nb_last_error());
    ck_assert_int_eq(nb_split(a, 5, 1, (const int64_t[]){3}, p), -1);
    ck_assert(strstr(nb_last_error(), "split: dim 5 out of range"));
    ck_assert_int_eq(nb_split(a, 1, 2, (const int64_t[]){4, -1}, p), -1);
    ck_assert(strstr(nb_last_error(), "split: size 1 is negative"));
}
END_TEST

/* ---- index_select --------------------------------------------------------------------------- */

START_TEST(index_select_forward) {
    /* every dim of a 3-D tensor, contiguous and permuted, with repeated indices */
    int32_t iv[5] = {2, 0, 2, 1, 0};
    nb_tensor *idx = ints(5, iv);
    for (int perm = 0; perm < 2; perm++) {
        nb_tensor *a =
            perm ? nb_permute(randn(NB_SHAPE(4, 3, 3)), (int[]){1, 2, 0}) : randn(NB_SHAPE(3, 3, 4));
        float *A = values(a);
        for (int dim = 0; dim < 3; dim++) {
            nb_tensor *o = nb_index_select(a, dim - (dim == 2 ? 3 : 0), idx);
            ck_assert_msg(o != NULL, "%s", nb_last_error());
            ck_assert_int_eq(o->shape[dim], 5);
            float *O = values(o);
            for (int64_t e = 0; e < nb_numel(o); e++) {
                int64_t ix[3];
                unflat(e, 3, o->shape, ix);
                ix[dim] = iv[ix[dim]];
                ck_assert(O[e] == A[flat(3, a->shape, ix)]);
            }
            free(O);
        }
        free(A);
    }
    /* a strided index tensor and an i32 source */
    nb_tensor *sidx = nb_slice(ints(4, (int32_t[]){1, 9, 0, 9}), 0, 0, 4, 2);
    nb_tensor *src = ints(3, (int32_t[]){7, 8, 9});
    nb_tensor *o = nb_index_select(src, 0, sidx);
    ck_assert_msg(o != NULL, "%s", nb_last_error());
    ck_assert_int_eq(((int32_t *)nb_data(o))[0], 8);
    ck_assert_int_eq(((int32_t *)nb_data(o))[1], 7);
}
END_TEST

static nb_tensor *is_fn(nb_tensor **in, int n, void *u) {
    (void)n;
    nb_tensor *idx = u;
    return nb_add(nb_index_select(in[0], 1, idx),
                  nb_transpose(nb_index_select(nb_transpose(in[0], 0, 1), 0, idx), 0, 1));
}

START_TEST(index_select_backward) {
    nb_tensor *idx = ints(6, (int32_t[]){3, 1, 3, 3, 0, 1});
    nb_tensor *in[1] = {nb_requires_grad_(randn(NB_SHAPE(4, 4)), true)};
    ck_assert_msg(nb_gradcheck(is_fn, in, 1, idx, NULL) == 1, "%s", nb_last_error());
}
END_TEST

/* The embedding pattern at GPT-2 size: [V=50257, C] weight, N = 8*192 indices with repeats.
 * Forward rows and the index_add gradient against plain loops; bit-identical with 1 and 2
 * threads; timings printed. */
START_TEST(index_select_embedding_size) {
    const int64_t V = 50257, C = 96, N = 8 * 192;
    nb_ctx *big = nb_ctx_new(0);
    nb_tensor *w = nb_requires_grad_(nb_randn(big, NB_SHAPE(V, C), 0, 1, &rng), true);
    int32_t *iv = malloc(sizeof(int32_t) * (size_t)N);
    for (int64_t j = 0; j < N; j++)
        iv[j] = (int32_t)((j * 7919 + (j % 5) * 13) % 600); /* repeats */
    iv[N - 1] = (int32_t)(V - 1);
    nb_tensor *idx = nb_from_data(big, NB_I32, NB_SHAPE(N), iv);
    nb_tensor *g = nb_randn(big, NB_SHAPE(N, C), 0, 1, &rng);
    float *first = malloc(sizeof(float) * (size_t)(600 * C));
    for (int run = 0; run < 4; run++) {
        nb_set_num_threads(run & 1 ? 1 : 2);
        nb_zero_grad(w);
        struct timespec t0, t1, t2;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        nb_tensor *e = nb_index_select(w, 0, idx);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert_msg(e != NULL, "%s", nb_last_error());
        ck_assert_int_eq(nb_backward_with(e, g), 0);
        clock_gettime(CLOCK_MONOTONIC, &t2);
        printf("embedding [%lld,%lld] x %lld, %d thread(s): forward %.3f ms, backward %.3f ms\n",
               (long long)V, (long long)C, (long long)N, run & 1 ? 1 : 2,
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
               (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
        const float *W = nb_data_f32(w), *E = nb_data_f32(e), *G = nb_data_f32(g), *D = nb_data_f32(w->grad);
        for (int64_t j = 0; j < N; j++)
            ck_assert(memcmp(E + j * C, W + iv[j] * C, sizeof(float) * (size_t)C) == 0);
        if (run == 0) {
            double *ref = calloc((size_t)(600 * C), sizeof *ref);
            for (int64_t j = 0; j < N - 1; j++)
                for (int64_t c = 0; c < C; c++)
                    ref[iv[j] * C + c] += G[j * C + c];
            for (int64_t r = 0; r < 600 * C; r++)
                ck_assert(nb_close(D[r], ref[r], 1e-5, 1e-5));
            for (int64_t c = 0; c < C; c++)
                ck_assert(D[(V - 1) * C + c] == G[(N - 1) * C + c]);
            for (int64_t c = 0; c < C; c++)
                ck_assert(D[700 * C + c] == 0.0f); /* untouched row */
            memcpy(first, D, sizeof(float) * (size_t)(600 * C));
            free(ref);
        } else {
            ck_assert(memcmp(first, D, sizeof(float) * (size_t)(600 * C)) == 0);
        }
    }
    nb_set_num_threads(0);
    free(first);
    free(iv);
    nb_ctx_free(big);
}
END_TEST

START_TEST(index_select_errors) {
    nb_tensor *a = randn(NB_SHAPE(5, 3));
    expect_error(nb_index_select(a, 0, ints(3, (int32_t[]){0, 7, 1})),
                 "index_select: index 7 at position 1 is out of range for dim 0 of size 5");
    expect_error(nb_index_select(a, 1, ints(1, (int32_t[]){-1})), "index_select: index -1 at position 0");
    expect_error(nb_index_select(a, 2, ints(1, (int32_t[]){0})), "index_select: dim 2 out of range");
    expect_error(nb_index_select(a, 0, nb_zeros(ctx, NB_I32, NB_SHAPE(1, 2))),
                 "index_select: index must be 1-D");
    expect_error(nb_index_select(a, 0, randn(NB_SHAPE(2))), "index_select: index must be i32");
}
END_TEST

/* ---- gather --------------------------------------------------------------------------------- */

START_TEST(gather_forward_backward) {
    /* a [3,5,4] permuted view; idx [2,3,4] gathers along each dim (smaller than a elsewhere) */
    nb_tensor *a = nb_permute(randn(NB_SHAPE(5, 4, 3)), (int[]){2, 0, 1});
    float *A = values(a);
    for (int dim = 0; dim < 3; dim++) {
        int64_t is[3] = {2, 3, 4};
        int32_t iv[24];
        for (int i = 0; i < 24; i++)
            iv[i] = (int32_t)((i * 7 + 3) % a->shape[dim]);
        nb_tensor *idx = nb_from_data(ctx, NB_I32, 3, is, iv);
        nb_tensor *o = nb_gather(a, dim, idx);
        ck_assert_msg(o != NULL, "%s", nb_last_error());
        for (int d = 0; d < 3; d++)
            ck_assert_int_eq(o->shape[d], is[d]);
        float *O = values(o);
        for (int64_t e = 0; e < 24; e++) {
            int64_t ix[3];
            unflat(e, 3, is, ix);
            ix[dim] = iv[e];
            ck_assert(O[e] == A[flat(3, a->shape, ix)]);
        }
        free(O);
    }
    free(A);
}
END_TEST

static nb_tensor *gather_fn(nb_tensor **in, int n, void *u) {
    (void)n;
    return nb_gather(nb_transpose(in[0], 0, 1), 1, u);
}

START_TEST(gather_gradcheck) {
    /* repeated indices in a row: the gradient adds up */
    int32_t iv[6] = {0, 2, 2, 3, 3, 3};
    nb_tensor *idx = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), iv);
    nb_tensor *in[1] = {nb_requires_grad_(randn(NB_SHAPE(4, 3)), true)};
    ck_assert_msg(nb_gradcheck(gather_fn, in, 1, idx, NULL) == 1, "%s", nb_last_error());
    /* reference gradient of sum(gather) = counts of each index per row */
    nb_tensor *x = nb_requires_grad_(randn(NB_SHAPE(2, 4)), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_gather(x, 1, idx))), 0);
    float want[8] = {1, 0, 2, 0, 0, 0, 0, 3};
    for (int i = 0; i < 8; i++)
        ck_assert(nb_data_f32(x->grad)[i] == want[i]);
}
END_TEST

START_TEST(gather_errors) {
    nb_tensor *a = randn(NB_SHAPE(2, 3));
    nb_tensor *bad = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 1), (int32_t[]){0, 3});
    expect_error(nb_gather(a, 1, bad), "gather: index 3 at position 1 is out of range for dim 1 of size 3");
    expect_error(nb_gather(a, 0, ints(2, (int32_t[]){0, 1})), "gather: index [2] must have the input's ndim");
    expect_error(nb_gather(a, 1, nb_zeros(ctx, NB_I32, NB_SHAPE(3, 1))), "gather: index [3,1]");
    expect_error(nb_gather(a, -3, nb_zeros(ctx, NB_I32, NB_SHAPE(1, 1))), "gather: dim -3 out of range");
    expect_error(nb_gather(a, 0, randn(NB_SHAPE(1, 1))), "gather: index must be i32");
}
END_TEST

/* ---- index_add / scatter_add ------------------------------------------------------------------ */

/* index_add along each dim of a permuted [3,4,5] view, with a repeated index and alpha, against a
 * loop; the gradients in a and src by gradcheck. */
START_TEST(index_add_forward) {
    nb_tensor *a = nb_permute(randn(NB_SHAPE(5, 3, 4)), (int[]){1, 2, 0});
    float *A = values(a);
    const int32_t iv[4] = {2, 0, 2, 1};
    for (int dim = 0; dim < 3; dim++) {
        int64_t ss[3] = {3, 4, 5};
        ss[dim] = 4;
        nb_tensor *src = randn(3, ss), *idx = ints(4, iv);
        nb_tensor *o = nb_index_add(a, dim, idx, src, 0.5f);
        ck_assert_msg(o != NULL, "%s", nb_last_error());
        float *O = values(o), *S = values(src), *W = malloc(60 * sizeof *W);
        memcpy(W, A, 60 * sizeof *W);
        for (int64_t e = 0; e < nb_numel(src); e++) {
            int64_t ix[3];
            unflat(e, 3, ss, ix);
            ix[dim] = iv[ix[dim]];
            W[flat(3, a->shape, ix)] += 0.5f * S[e];
        }
        for (int e = 0; e < 60; e++)
            ck_assert_msg(O[e] == W[e], "dim %d: [%d] = %g, want %g", dim, e, (double)O[e], (double)W[e]);
        free(O), free(S), free(W);
    }
    free(A);
}
END_TEST

static nb_tensor *index_add_fn(nb_tensor **in, int n, void *u) {
    (void)n;
    return nb_index_add(nb_transpose(in[0], 0, 1), 1, u, in[1], -1.5f);
}

static nb_tensor *scatter_add_fn(nb_tensor **in, int n, void *u) {
    (void)n;
    return nb_scatter_add(in[0], 0, u, nb_transpose(in[1], 0, 1));
}

START_TEST(index_add_scatter_add_gradcheck) {
    nb_tensor *in[2] = {nb_requires_grad_(randn(NB_SHAPE(4, 3)), true),
                        nb_requires_grad_(randn(NB_SHAPE(3, 5)), true)};
    ck_assert_msg(nb_gradcheck(index_add_fn, in, 2, ints(5, (int32_t[]){3, 0, 3, 3, 1}), NULL) == 1, "%s",
                  nb_last_error());
    /* scatter_add: a [3,4], src [5,3] transposed to [3,5] (larger than the index [2,4] in dim 1) */
    int32_t sv[8] = {0, 2, 2, 1, 1, 1, 0, 2};
    nb_tensor *sidx = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 4), sv);
    nb_tensor *sin[2] = {nb_requires_grad_(randn(NB_SHAPE(3, 4)), true),
                         nb_requires_grad_(randn(NB_SHAPE(5, 3)), true)};
    ck_assert_msg(nb_gradcheck(scatter_add_fn, sin, 2, sidx, NULL) == 1, "%s", nb_last_error());
}
END_TEST

/* scatter_add along each dim, src larger than the index (only the covered part is read), against
 * a loop; the gradient of src is 0 outside the index's part. */
START_TEST(scatter_add_forward) {
    nb_tensor *a = randn(NB_SHAPE(3, 4, 5));
    float *A = values(a);
    for (int dim = 0; dim < 3; dim++) {
        int64_t is[3] = {2, 3, 4};
        int32_t iv[24];
        for (int i = 0; i < 24; i++)
            iv[i] = (int32_t)((i * 5 + 1) % a->shape[dim]);
        nb_tensor *idx = nb_from_data(ctx, NB_I32, 3, is, iv);
        nb_tensor *src = nb_requires_grad_(randn(NB_SHAPE(3, 4, 5)), true);
        nb_tensor *o = nb_scatter_add(a, dim, idx, src);
        ck_assert_msg(o != NULL, "%s", nb_last_error());
        float *O = values(o), *S = values(src), W[60];
        memcpy(W, A, sizeof W);
        for (int64_t e = 0; e < 24; e++) {
            int64_t ix[3], sx[3];
            unflat(e, 3, is, ix);
            memcpy(sx, ix, sizeof sx);
            ix[dim] = iv[e];
            W[flat(3, a->shape, ix)] += S[flat(3, src->shape, sx)];
        }
        for (int e = 0; e < 60; e++)
            ck_assert_msg(O[e] == W[e], "dim %d: [%d] = %g, want %g", dim, e, (double)O[e], (double)W[e]);
        ck_assert_int_eq(nb_backward(nb_sum_all(o)), 0);
        float *G = values(src->grad);
        for (int64_t e = 0; e < 60; e++) {
            int64_t sx[3];
            unflat(e, 3, src->shape, sx);
            const bool in = sx[0] < 2 && sx[1] < 3 && sx[2] < 4;
            ck_assert_msg(G[e] == (in ? 1.0f : 0.0f), "dim %d: dsrc[%lld] = %g", dim, (long long)e,
                          (double)G[e]);
        }
        free(O), free(S), free(G);
    }
    free(A);
}
END_TEST

START_TEST(index_add_scatter_add_errors) {
    nb_tensor *a = randn(NB_SHAPE(2, 3));
    expect_error(nb_index_add(a, 1, ints(2, (int32_t[]){0, 3}), randn(NB_SHAPE(2, 2)), 1.0f),
                 "index_add: index 3 at position 1 is out of range for dim 1 of size 3");
    expect_error(nb_index_add(a, 1, ints(2, (int32_t[]){0, 1}), randn(NB_SHAPE(2, 3)), 1.0f),
                 "index_add: source [2,3] must be input [2,3] with dim 1 the index's length");
    expect_error(nb_index_add(a, 2, ints(1, (int32_t[]){0}), randn(NB_SHAPE(2, 1)), 1.0f),
                 "index_add: dim 2 out of range");
    expect_error(nb_index_add(a, 0, randn(NB_SHAPE(2)), randn(NB_SHAPE(2, 3)), 1.0f),
                 "index_add: index must be i32");
    expect_error(
        nb_scatter_add(a, 0, nb_zeros(ctx, NB_I32, NB_SHAPE(2, 4)), randn(NB_SHAPE(2, 4))),
        "scatter_add: index [2,4] must have the input's ndim, be no larger than the source [2,4], and no "
        "larger than the input [2,3] outside dim 0");
    expect_error(nb_scatter_add(a, 0, nb_full(ctx, NB_I32, NB_SHAPE(1, 2), 2.0), randn(NB_SHAPE(1, 2))),
                 "scatter_add: index 2 at position 0 is out of range for dim 0 of size 2");
    expect_error(
        nb_scatter_add(a, 0, nb_zeros(ctx, NB_I32, NB_SHAPE(1, 2)), nb_zeros(ctx, NB_I32, NB_SHAPE(1, 2))),
        "scatter_add: source must be f32");
    expect_error(nb_scatter_add(NULL, 0, NULL, NULL), "scatter_add");
}
END_TEST

/* ---- tril / tril_mask ------------------------------------------------------------------------ */

START_TEST(tril_forward_backward) {
    nb_tensor *a = nb_transpose(randn(NB_SHAPE(2, 6, 4)), 1, 2); /* [2,4,6], non-contiguous */
    float *A = values(a);
    for (int64_t k = -2; k <= 3; k++) {
        nb_tensor *t = nb_tril(a, k);
        ck_assert_msg(t != NULL, "%s", nb_last_error());
        float *T = values(t);
        for (int64_t e = 0; e < 48; e++) {
            int64_t ix[3];
            unflat(e, 3, a->shape, ix);
            ck_assert(T[e] == (ix[2] - ix[1] <= k ? A[e] : 0.0f));
        }
        free(T);
    }
    free(A);
    nb_tensor *m = nb_tril_mask(ctx, 5);
    ck_assert(m && m->ndim == 2 && m->shape[0] == 5 && m->dtype == NB_F32);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 5; j++)
            ck_assert(nb_get(m, (int64_t[]){i, j}) == (j <= i ? 1.0 : 0.0));
    nb_tensor *ti = nb_tril(nb_full(ctx, NB_I32, NB_SHAPE(3, 3), 7), 0);
    ck_assert(ti && ti->dtype == NB_I32);
    ck_assert_int_eq(((int32_t *)nb_data(ti))[1], 0);
    ck_assert_int_eq(((int32_t *)nb_data(ti))[3], 7);
    expect_error(nb_tril(randn(NB_SHAPE(4)), 0), "tril: needs at least 2 dims");
    expect_error(nb_tril_mask(ctx, -1), "tril_mask: negative size");
}
END_TEST

static nb_tensor *tril_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_tril(nb_transpose(in[0], 0, 1), -1);
}

START_TEST(tril_gradcheck) {
    nb_tensor *in[1] = {nb_requires_grad_(randn(NB_SHAPE(5, 4)), true)};
    ck_assert_msg(nb_gradcheck(tril_fn, in, 1, NULL, NULL) == 1, "%s", nb_last_error());
}
END_TEST

/* ---- cast ------------------------------------------------------------------------------------ */

static nb_tensor *cast_gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    nb_tensor *c = nb_cast(nb_transpose(in[0], 0, 1), NB_F32);
    return nb_mul(c, c);
}

START_TEST(cast) {
    float fv[4] = {1.7f, -2.9f, 0.2f, 41.0f};
    nb_tensor *f = nb_requires_grad_(nb_from_data(ctx, NB_F32, NB_SHAPE(4), fv), true);
    nb_tensor *i = nb_cast(f, NB_I32);
    ck_assert(i && i->dtype == NB_I32 && !i->requires_grad);
    int32_t want[4] = {1, -2, 0, 41}; /* truncation toward zero */
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(((int32_t *)nb_data(i))[k], want[k]);
    nb_tensor *back = nb_cast(i, NB_F32);
    ck_assert(back && back->dtype == NB_F32 && !back->requires_grad);
    for (int k = 0; k < 4; k++)
        ck_assert(nb_data_f32(back)[k] == (float)want[k]);
    nb_tensor *same = nb_cast(f, NB_F32);
    ck_assert(same && same->requires_grad && nb_data_f32(same) != nb_data_f32(f));
    nb_tensor *in[1] = {nb_requires_grad_(randn(NB_SHAPE(3, 2)), true)};
    ck_assert_msg(nb_gradcheck(cast_gc_fn, in, 1, NULL, NULL) == 1, "%s", nb_last_error());
    nb_tensor *h = nb_cast(f, NB_F16); /* a storage type: no gradient flows through it */
    ck_assert(h && h->dtype == NB_F16 && !h->requires_grad);
    expect_error(nb_cast(f, (nb_dtype)7), "cast: invalid dtype 7");
}
END_TEST

/* one_hot: rows of the identity at each index, any index shape, C given or inferred; errors */
START_TEST(one_hot) {
    const int iv[6] = {2, 0, 4, 4, 1, 0};
    nb_tensor *idx = nb_from_data(ctx, NB_I32, NB_SHAPE(2, 3), iv);
    for (int k = 0; k < 2; k++) {
        nb_tensor *h = nb_one_hot(idx, k ? -1 : 7);
        const int64_t C = k ? 5 : 7;
        ck_assert_msg(h && h->dtype == NB_F32 && h->ndim == 3 && h->shape[2] == C, "%s", nb_last_error());
        for (int r = 0; r < 6; r++)
            for (int64_t c = 0; c < C; c++)
                ck_assert_float_eq(nb_data_f32(h)[r * C + c], c == iv[r] ? 1.0f : 0.0f);
    }
    nb_tensor *e = nb_one_hot(nb_zeros(ctx, NB_I32, NB_SHAPE(0)), 3);
    ck_assert(e && e->shape[0] == 0 && e->shape[1] == 3);
    ck_assert_ptr_null(nb_one_hot(idx, 4));
    ck_assert_str_eq(nb_last_error(), "one_hot: index 4 is out of range for 4 classes");
    ck_assert_ptr_null(nb_one_hot(nb_from_data(ctx, NB_I32, NB_SHAPE(2), (const int[]){1, -3}), 5));
    ck_assert_str_eq(nb_last_error(), "one_hot: index -3 is negative");
    ck_assert_ptr_null(nb_one_hot(nb_zeros(ctx, NB_I32, NB_SHAPE(0)), -1));
    ck_assert_ptr_null(nb_one_hot(nb_zeros(ctx, NB_F32, NB_SHAPE(2)), 3));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_index");
    TCase *tc = tcase_create("index");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cat_forward);
    tcase_add_test(tc, cat_backward);
    tcase_add_test(tc, split_views_and_backward);
    tcase_add_test(tc, cat_split_errors);
    tcase_add_test(tc, index_select_forward);
    tcase_add_test(tc, index_select_backward);
    tcase_add_test(tc, index_select_embedding_size);
    tcase_add_test(tc, index_select_errors);
    tcase_add_test(tc, gather_forward_backward);
    tcase_add_test(tc, gather_gradcheck);
    tcase_add_test(tc, gather_errors);
    tcase_add_test(tc, index_add_forward);
    tcase_add_test(tc, index_add_scatter_add_gradcheck);
    tcase_add_test(tc, scatter_add_forward);
    tcase_add_test(tc, index_add_scatter_add_errors);
    tcase_add_test(tc, tril_forward_backward);
    tcase_add_test(tc, tril_gradcheck);
    tcase_add_test(tc, cast);
    tcase_add_test(tc, one_hot);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
