/* matmul and linear: forward against a plain double-precision reference (every transpose
 * combination, 1-D operands, broadcast batches, non-contiguous inputs, a large GEMM), backward
 * through gradcheck and against reference gradients, and the error messages. */
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
    nb_rng_init(&rng, 4242);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

/* ---- reference ------------------------------------------------------------------------------ */

/* Row-major values of t in a malloc'd double array (any strides). */
static double *values(const nb_tensor *t) {
    int64_t n = nb_numel(t);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(nb_to_array(t, NB_F32, f), 0);
    for (int64_t i = 0; i < n; i++)
        d[i] = f[i];
    free(f);
    return d;
}

/* NumPy matmul of a and b in double, written from the definition; fills shape/ndim of the
 * result and returns its row-major values (malloc'd). */
static double *ref_matmul(const nb_tensor *a, const nb_tensor *b, int *ond, int64_t *oshape) {
    double *A = values(a), *B = values(b);
    int64_t as[NB_MAX_DIMS + 1], bs[NB_MAX_DIMS + 1];
    int na = a->ndim, nb = b->ndim;
    memcpy(as, a->shape, sizeof(int64_t) * (size_t)na);
    memcpy(bs, b->shape, sizeof(int64_t) * (size_t)nb);
    bool a1 = na == 1, b1 = nb == 1;
    if (a1) as[1] = as[0], as[0] = 1, na = 2;
    if (b1) bs[1] = 1, nb = 2;
    int64_t M = as[na - 2], K = as[na - 1], N = bs[nb - 1];
    int nbat = (na > nb ? na : nb) - 2;
    int64_t bat[NB_MAX_DIMS], nbatch = 1;
    for (int i = 0; i < nbat; i++) {
        int ia = i - (nbat - (na - 2)), ib = i - (nbat - (nb - 2));
        int64_t sa = ia >= 0 ? as[ia] : 1, sb = ib >= 0 ? bs[ib] : 1;
        bat[i] = sa > sb ? sa : sb;
        nbatch *= bat[i];
    }
    *ond = 0;
    for (int i = 0; i < nbat; i++)
        oshape[(*ond)++] = bat[i];
    if (!a1) oshape[(*ond)++] = M;
    if (!b1) oshape[(*ond)++] = N;
    double *C = calloc((size_t)(nbatch * M * N + 1), sizeof *C);
    for (int64_t q = 0; q < nbatch; q++) {
        int64_t rem = q, ao = 0, bo = 0, amul = M * K, bmul = K * N;
        for (int i = nbat - 1; i >= 0; i--) {
            int64_t ix = rem % bat[i];
            rem /= bat[i];
            int ia = i - (nbat - (na - 2)), ib = i - (nbat - (nb - 2));
            if (ia >= 0) {
                ao += (as[ia] == 1 ? 0 : ix) * amul;
                amul *= as[ia];
            }
            if (ib >= 0) {
                bo += (bs[ib] == 1 ? 0 : ix) * bmul;
                bmul *= bs[ib];
            }
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += A[ao + i * K + k] * B[bo + k * N + j];
                C[(q * M + i) * N + j] = s;
            }
    }
    free(A);
    free(B);
    return C;
}

/* Checks nb_matmul(a, b) against the reference. */
static void check_matmul(nb_tensor *a, nb_tensor *b, const char *what) {
    nb_tensor *c = nb_matmul(a, b);
    ck_assert_msg(c != NULL, "%s: %s", what, nb_last_error());
    int nd;
    int64_t shape[NB_MAX_DIMS];
    double *ref = ref_matmul(a, b, &nd, shape);
    ck_assert_int_eq(c->ndim, nd);
    for (int i = 0; i < nd; i++)
        ck_assert_int_eq(c->shape[i], shape[i]);
    double *got = values(c);
    for (int64_t i = 0; i < nb_numel(c); i++)
        ck_assert_msg(nb_close(got[i], ref[i], 1e-5, 1e-5), "%s: element %lld: %g vs %g", what, (long long)i,
                      got[i], ref[i]);
    free(ref);
    free(got);
}

static nb_tensor *randn(int nd, const int64_t *shape) { return nb_randn(ctx, nd, shape, 0, 1, &rng); }

/* ---- forward -------------------------------------------------------------------------------- */

START_TEST(forward_2d_all_transposes) {
    int64_t M = 37, K = 19, N = 23;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            nb_tensor *a = ta ? nb_transpose(randn(NB_SHAPE(K, M)), 0, 1) : randn(NB_SHAPE(M, K));
            nb_tensor *b = tb ? nb_transpose(randn(NB_SHAPE(N, K)), 0, 1) : randn(NB_SHAPE(K, N));
            ck_assert_int_eq(a->shape[0], M);
            ck_assert_int_eq(b->shape[1], N);
            char what[32];
            snprintf(what, sizeof what, "ta=%d tb=%d", ta, tb);
            check_matmul(a, b, what);
        }
}
END_TEST

START_TEST(forward_1d) {
    nb_tensor *v = randn(NB_SHAPE(7)), *w = randn(NB_SHAPE(7));
    check_matmul(v, randn(NB_SHAPE(7, 5)), "vector @ matrix");
    check_matmul(randn(NB_SHAPE(4, 7)), v, "matrix @ vector");
    check_matmul(v, w, "dot");
    nb_tensor *d = nb_matmul(v, w);
    ck_assert_int_eq(d->ndim, 0);
    check_matmul(v, randn(NB_SHAPE(3, 7, 5)), "vector @ batch");
    check_matmul(randn(NB_SHAPE(2, 3, 4, 7)), w, "batch @ vector");
    /* a strided vector */
    nb_tensor *s = nb_slice(randn(NB_SHAPE(14)), 0, 0, 14, 2);
    check_matmul(s, randn(NB_SHAPE(7, 3)), "strided vector @ matrix");
    check_matmul(randn(NB_SHAPE(2, 7)), s, "matrix @ strided vector");
}
END_TEST

START_TEST(forward_batched_broadcast) {
    check_matmul(randn(NB_SHAPE(2, 3, 5, 7)), randn(NB_SHAPE(2, 3, 7, 4)), "[2,3,5,7]@[2,3,7,4]");
    /* attention scores: q @ k^T with k^T a view */
    nb_tensor *k = randn(NB_SHAPE(2, 3, 6, 8));
    check_matmul(randn(NB_SHAPE(2, 3, 6, 8)), nb_transpose(k, -2, -1), "q @ k^T");
    /* the transformer hot path, folded into one GEMM: [B,T,C] @ [C,N] and with W^T */
    check_matmul(randn(NB_SHAPE(4, 9, 16)), randn(NB_SHAPE(16, 12)), "[B,T,C]@[C,N]");
    check_matmul(randn(NB_SHAPE(4, 9, 16)), nb_transpose(randn(NB_SHAPE(12, 16)), 0, 1), "[B,T,C]@W^T");
    check_matmul(randn(NB_SHAPE(2, 3, 9, 16)), randn(NB_SHAPE(16, 5)), "4-D @ 2-D");
    /* broadcast on both sides */
    check_matmul(randn(NB_SHAPE(1, 3, 4, 5)), randn(NB_SHAPE(2, 1, 5, 6)), "[1,h]@[b,1]");
    check_matmul(randn(NB_SHAPE(4, 5)), randn(NB_SHAPE(3, 5, 6)), "2-D @ batch");
    check_matmul(randn(NB_SHAPE(3, 1, 4, 5)), randn(NB_SHAPE(2, 5, 6)), "[3,1]@[2]");
    /* degenerate sizes */
    check_matmul(randn(NB_SHAPE(1, 5)), randn(NB_SHAPE(5, 1)), "1x1 result");
    nb_tensor *e = nb_matmul(randn(NB_SHAPE(3, 0)), randn(NB_SHAPE(0, 4)));
    ck_assert_msg(e != NULL, "%s", nb_last_error());
    for (int64_t i = 0; i < 12; i++)
        ck_assert(nb_data_f32(e)[i] == 0.0f);
    ck_assert_ptr_nonnull(nb_matmul(randn(NB_SHAPE(0, 3)), randn(NB_SHAPE(3, 4))));
}
END_TEST

START_TEST(forward_noncontiguous) {
    /* sliced rows and columns (neither step 1), permuted batch dims, an expanded operand */
    nb_tensor *a = nb_slice(nb_slice(randn(NB_SHAPE(10, 12)), 0, 1, 10, 2), 1, 0, 12, 3); /* [5,4] */
    nb_tensor *b = nb_slice(randn(NB_SHAPE(4, 14)), 1, 0, 14, 2);                         /* [4,7] */
    check_matmul(a, b, "sliced");
    nb_tensor *p = nb_permute(randn(NB_SHAPE(5, 2, 3, 4)), (int[]){1, 2, 0, 3}); /* [2,3,5,4] */
    check_matmul(p, randn(NB_SHAPE(4, 6)), "permuted batch @ 2-D");
    check_matmul(p, randn(NB_SHAPE(2, 3, 4, 6)), "permuted batch @ batch");
    nb_tensor *col = randn(NB_SHAPE(5, 1));
    check_matmul(nb_expand(col, NB_SHAPE(5, 4)), randn(NB_SHAPE(4, 3)), "expanded columns");
    nb_tensor *bb = nb_expand(randn(NB_SHAPE(1, 4, 3)), NB_SHAPE(6, 4, 3));
    check_matmul(randn(NB_SHAPE(6, 5, 4)), bb, "expanded batch");
    /* the inputs are not modified and views are not copied into the inputs' storage */
    nb_tensor *x = randn(NB_SHAPE(3, 4)), *y = randn(NB_SHAPE(4, 2));
    float before[12];
    memcpy(before, nb_data_f32(x), sizeof before);
    nb_matmul(nb_transpose(nb_transpose(x, 0, 1), 0, 1), y);
    ck_assert(memcmp(before, nb_data_f32(x), sizeof before) == 0);
}
END_TEST

/* [384,1536] @ [1536,384] against double with the rounding bound K * u * sum |a||b| */
START_TEST(forward_large_accuracy) {
    int64_t M = 384, K = 1536, N = 384;
    nb_tensor *a = randn(NB_SHAPE(M, K)), *b = randn(NB_SHAPE(K, N));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nb_tensor *c = nb_matmul(a, b);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(c != NULL, "%s", nb_last_error());
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("matmul [384,1536]@[1536,384]: %.2f ms (%.1f GFLOP/s)\n", ms, 2.0 * M * N * K / ms / 1e6);
    const float *A = nb_data_f32(a), *B = nb_data_f32(b), *C = nb_data_f32(c);
    double *Bt = malloc(sizeof(double) * (size_t)(K * N));
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++)
            Bt[j * K + k] = B[k * N + j];
    double worst = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double t = (double)A[i * K + k] * Bt[j * K + k];
                s += t;
                mag += fabs(t);
            }
            double err = fabs(C[i * N + j] - s), tol = (double)K * 0x1p-24 * mag + 1e-6;
            ck_assert_msg(err <= tol, "C[%lld,%lld] = %.9g, want %.9g (tol %.3g)", (long long)i, (long long)j,
                          (double)C[i * N + j], s, tol);
            if (err / mag > worst) worst = err / mag;
        }
    printf("matmul large: worst relative error %.3g (bound %.3g)\n", worst, (double)K * 0x1p-24);
    free(Bt);
}
END_TEST

/* ---- linear --------------------------------------------------------------------------------- */

START_TEST(linear_forward) {
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        nb_tensor *x = randn(NB_SHAPE(3, 5, 8)), *w = randn(NB_SHAPE(6, 8));
        nb_tensor *bias = with_bias ? randn(NB_SHAPE(6)) : NULL;
        nb_tensor *y = nb_linear(x, w, bias);
        ck_assert_msg(y != NULL, "%s", nb_last_error());
        ck_assert_int_eq(y->ndim, 3);
        ck_assert_int_eq(y->shape[2], 6);
        double *X = values(x), *W = values(w), *Y = values(y);
        for (int64_t r = 0; r < 15; r++)
            for (int64_t o = 0; o < 6; o++) {
                double s = with_bias ? nb_data_f32(bias)[o] : 0;
                for (int64_t i = 0; i < 8; i++)
                    s += X[r * 8 + i] * W[o * 8 + i];
                ck_assert(nb_close(Y[r * 6 + o], s, 1e-5, 1e-5));
            }
        free(X);
        free(W);
        free(Y);
    }
    /* 1-D input and a transposed (non-contiguous) input */
    nb_tensor *w = randn(NB_SHAPE(4, 3)), *b = randn(NB_SHAPE(4));
    nb_tensor *v = nb_linear(randn(NB_SHAPE(3)), w, b);
    ck_assert_msg(v && v->ndim == 1 && v->shape[0] == 4, "%s", nb_last_error());
    nb_tensor *xt = nb_transpose(randn(NB_SHAPE(3, 7)), 0, 1);
    nb_tensor *y1 = nb_linear(xt, w, b), *y2 = nb_add(nb_matmul(xt, nb_transpose(w, 0, 1)), b);
    double *p = values(y1), *q = values(y2);
    for (int i = 0; i < 28; i++)
        ck_assert(nb_close(p[i], q[i], 1e-6, 1e-6));
    free(p);
    free(q);
}
END_TEST

/* ---- backward ------------------------------------------------------------------------------- */

typedef enum {
    G_PLAIN,
    G_TRANSPOSED,
    G_BATCH_BCAST,
    G_FOLD,
    G_VEC_MAT,
    G_MAT_VEC,
    G_DOT,
    G_SELF,
    G_PERMUTED,
    G_VEC_BATCH,
    G_BATCH_VEC,
    G_COUNT
} gcase;

static nb_tensor *mm_fn(nb_tensor **in, int n, void *u) {
    (void)n;
    switch (*(const gcase *)u) {
    case G_TRANSPOSED: return nb_matmul(nb_transpose(in[0], 0, 1), nb_transpose(in[1], 0, 1));
    case G_SELF: return nb_matmul(in[0], in[0]); /* used twice */
    case G_PERMUTED: return nb_matmul(nb_permute(in[0], (int[]){1, 0, 2}), in[1]);
    default: return nb_matmul(in[0], in[1]);
    }
}

START_TEST(matmul_gradcheck) {
    gcase c = (gcase)_i;
    int64_t sa[4], sb[4];
    int na, nb;
    switch (c) {
    case G_TRANSPOSED: na = nb = 2, sa[0] = 4, sa[1] = 3, sb[0] = 5, sb[1] = 4; break;
    case G_BATCH_BCAST:
        na = 4, nb = 3;
        memcpy(sa, (int64_t[]){2, 1, 3, 4}, sizeof(int64_t) * 4);
        memcpy(sb, (int64_t[]){3, 4, 2}, sizeof(int64_t) * 3);
        break;
    case G_FOLD:
        na = 3, nb = 2;
        memcpy(sa, (int64_t[]){2, 3, 4}, sizeof(int64_t) * 3);
        memcpy(sb, (int64_t[]){4, 5}, sizeof(int64_t) * 2);
        break;
    case G_VEC_MAT: na = 1, nb = 2, sa[0] = 4, sb[0] = 4, sb[1] = 3; break;
    case G_MAT_VEC: na = 2, nb = 1, sa[0] = 3, sa[1] = 4, sb[0] = 4; break;
    case G_DOT: na = nb = 1, sa[0] = sb[0] = 5; break;
    case G_VEC_BATCH:
        na = 1, nb = 3, sa[0] = 4;
        memcpy(sb, (int64_t[]){2, 4, 3}, sizeof(int64_t) * 3);
        break;
    case G_BATCH_VEC:
        na = 3, nb = 1, sb[0] = 4;
        memcpy(sa, (int64_t[]){2, 3, 4}, sizeof(int64_t) * 3);
        break;
    case G_SELF: na = nb = 2, sa[0] = sa[1] = sb[0] = sb[1] = 4; break;
    case G_PERMUTED:
        na = 3, nb = 2;
        memcpy(sa, (int64_t[]){3, 2, 4}, sizeof(int64_t) * 3);
        memcpy(sb, (int64_t[]){4, 3}, sizeof(int64_t) * 2);
        break;
    default: na = nb = 2, sa[0] = 3, sa[1] = 4, sb[0] = 4, sb[1] = 5;
    }
    nb_tensor *in[2] = {nb_requires_grad_(randn(na, sa), true), nb_requires_grad_(randn(nb, sb), true)};
    ck_assert_msg(nb_gradcheck(mm_fn, in, c == G_SELF ? 1 : 2, &c, NULL) == 1, "case %d: %s", c,
                  nb_last_error());
}
END_TEST

static nb_tensor *lin_fn(nb_tensor **in, int n, void *u) {
    (void)u;
    return nb_linear(in[0], in[1], n > 2 ? in[2] : NULL);
}

START_TEST(linear_gradcheck) {
    /* _i: 0 3-D x without bias, 1 with bias, 2 2-D x with bias, 3 1-D x with bias */
    nb_tensor *x = _i == 3 ? randn(NB_SHAPE(4)) : _i == 2 ? randn(NB_SHAPE(5, 4)) : randn(NB_SHAPE(2, 3, 4));
    nb_tensor *in[3] = {nb_requires_grad_(x, true), nb_requires_grad_(randn(NB_SHAPE(3, 4)), true),
                        nb_requires_grad_(randn(NB_SHAPE(3)), true)};
    ck_assert_msg(nb_gradcheck(lin_fn, in, _i == 0 ? 2 : 3, NULL, NULL) == 1, "case %d: %s", _i,
                  nb_last_error());
}
END_TEST

/* Reference gradients of a bigger linear layer (the folded dW path) with a random seed
 * gradient, and of sum(a @ b), whose gradient arrives expanded (stride 0 everywhere). */
START_TEST(backward_reference) {
    int64_t B = 3, T = 17, C = 24, O = 20;
    nb_tensor *x = nb_requires_grad_(randn(NB_SHAPE(B, T, C)), true);
    nb_tensor *w = nb_requires_grad_(randn(NB_SHAPE(O, C)), true);
    nb_tensor *b = nb_requires_grad_(randn(NB_SHAPE(O)), true);
    nb_tensor *y = nb_linear(x, w, b), *g = randn(NB_SHAPE(B, T, O));
    ck_assert_int_eq(nb_backward_with(y, g), 0);
    double *X = values(x), *W = values(w), *G = values(g);
    for (int64_t o = 0; o < O; o++) {
        double db = 0;
        for (int64_t r = 0; r < B * T; r++)
            db += G[r * O + o];
        ck_assert(nb_close(nb_data_f32(b->grad)[o], db, 1e-5, 1e-5));
        for (int64_t i = 0; i < C; i++) {
            double s = 0;
            for (int64_t r = 0; r < B * T; r++)
                s += G[r * O + o] * X[r * C + i];
            ck_assert_msg(nb_close(nb_data_f32(w->grad)[o * C + i], s, 1e-5, 1e-5), "dW[%lld,%lld]",
                          (long long)o, (long long)i);
        }
    }
    for (int64_t r = 0; r < B * T; r++)
        for (int64_t i = 0; i < C; i++) {
            double s = 0;
            for (int64_t o = 0; o < O; o++)
                s += G[r * O + o] * W[o * C + i];
            ck_assert(nb_close(nb_data_f32(x->grad)[r * C + i], s, 1e-5, 1e-5));
        }
    free(X);
    free(W);
    free(G);

    /* an expanded gradient (sum of the output): db counts the rows, dx sums W's rows */
    nb_zero_grad(b);
    nb_zero_grad(x);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_linear(x, w, b))), 0);
    for (int64_t o = 0; o < O; o++)
        ck_assert(nb_data_f32(b->grad)[o] == (float)(B * T));
    for (int64_t i = 0; i < C; i++) {
        double s = 0;
        for (int64_t o = 0; o < O; o++)
            s += nb_data_f32(w)[o * C + i];
        ck_assert(nb_close(nb_data_f32(x->grad)[i], s, 1e-5, 1e-5));
        ck_assert(nb_close(nb_data_f32(x->grad)[(B * T - 1) * C + i], s, 1e-5, 1e-5));
    }

    /* sum(a @ b^T-view): dA[i,k] = sum_j B[k,j], dB[k,j] = sum_i A[i,k] */
    nb_tensor *a = nb_requires_grad_(randn(NB_SHAPE(2, 5, 6)), true);
    nb_tensor *bt = nb_requires_grad_(randn(NB_SHAPE(7, 6)), true);
    ck_assert_int_eq(nb_backward(nb_sum_all(nb_matmul(a, nb_transpose(bt, 0, 1)))), 0);
    double *A = values(a), *Bv = values(bt);
    for (int64_t k = 0; k < 6; k++) {
        double rs = 0, cs = 0;
        for (int64_t j = 0; j < 7; j++)
            rs += Bv[j * 6 + k];
        for (int64_t r = 0; r < 10; r++)
            cs += A[r * 6 + k];
        for (int64_t r = 0; r < 10; r++)
            ck_assert(nb_close(nb_data_f32(a->grad)[r * 6 + k], rs, 1e-5, 1e-5));
        for (int64_t j = 0; j < 7; j++)
            ck_assert(nb_close(nb_data_f32(bt->grad)[j * 6 + k], cs, 1e-5, 1e-5));
    }
    free(A);
    free(Bv);
}
END_TEST

/* Same inputs give bit-identical results with 1 and 2 threads and on repeated runs. */
START_TEST(deterministic) {
    nb_tensor *x = nb_requires_grad_(randn(NB_SHAPE(4, 64, 96)), true);
    nb_tensor *w = nb_requires_grad_(randn(NB_SHAPE(80, 96)), true);
    float *first = NULL, *firstg = NULL;
    for (int run = 0; run < 3; run++) {
        nb_set_num_threads(run == 1 ? 1 : 2);
        nb_zero_grad(w);
        nb_tensor *y = nb_linear(x, w, NULL);
        ck_assert_int_eq(nb_backward(nb_sum_all(nb_mul(y, y))), 0);
        if (!first) {
            first = nb_data_f32(y);
            firstg = malloc(sizeof(float) * 80 * 96);
            memcpy(firstg, nb_data_f32(w->grad), sizeof(float) * 80 * 96);
        } else {
            ck_assert(memcmp(first, nb_data_f32(y), sizeof(float) * 4 * 64 * 80) == 0);
            ck_assert(memcmp(firstg, nb_data_f32(w->grad), sizeof(float) * 80 * 96) == 0);
        }
    }
    free(firstg);
    nb_set_num_threads(0);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------------- */

static void expect_error(nb_tensor *r, const char *needle) {
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(nb_last_error(), needle) != NULL, "error '%s' lacks '%s'", nb_last_error(), needle);
}

START_TEST(errors) {
    expect_error(nb_matmul(randn(NB_SHAPE(32, 384)), randn(NB_SHAPE(512, 384))),
                 "matmul: inner dimensions differ: [32,384] @ [512,384]");
    expect_error(nb_matmul(randn(NB_SHAPE(5)), randn(NB_SHAPE(4))), "matmul: inner dimensions differ");
    expect_error(nb_matmul(randn(NB_SHAPE(2, 3, 4)), randn(NB_SHAPE(3, 4, 5))), "batch dimensions");
    expect_error(nb_matmul(nb_scalar(ctx, 2), randn(NB_SHAPE(3))), "matmul: 0-d");
    nb_tensor *i32 = nb_zeros(ctx, NB_I32, NB_SHAPE(3, 4));
    expect_error(nb_matmul(i32, randn(NB_SHAPE(4, 2))), "matmul: left operand must be f32");
    expect_error(nb_matmul(randn(NB_SHAPE(2, 3)), i32), "matmul: right operand must be f32");
    nb_clear_error();
    ck_assert_ptr_null(nb_matmul(NULL, randn(NB_SHAPE(2, 2))));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "NULL input")); /* NULL propagates, and is named */
    expect_error(nb_linear(randn(NB_SHAPE(2, 5)), randn(NB_SHAPE(3, 4)), NULL), "linear: in-features differ");
    expect_error(nb_linear(randn(NB_SHAPE(2, 4)), randn(NB_SHAPE(3, 4)), randn(NB_SHAPE(4))),
                 "linear: bias [4]");
    expect_error(nb_linear(randn(NB_SHAPE(2, 4)), randn(NB_SHAPE(4)), NULL), "linear: weight must be 2-D");
    expect_error(nb_linear(randn(NB_SHAPE(2, 4)), randn(NB_SHAPE(3, 4)), i32), "linear: bias must be f32");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_matmul");
    TCase *tc = tcase_create("matmul");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, forward_2d_all_transposes);
    tcase_add_test(tc, forward_1d);
    tcase_add_test(tc, forward_batched_broadcast);
    tcase_add_test(tc, forward_noncontiguous);
    tcase_add_test(tc, forward_large_accuracy);
    tcase_add_test(tc, linear_forward);
    tcase_add_loop_test(tc, matmul_gradcheck, 0, G_COUNT);
    tcase_add_loop_test(tc, linear_gradcheck, 0, 4);
    tcase_add_test(tc, backward_reference);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
