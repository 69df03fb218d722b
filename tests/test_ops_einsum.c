/* Einstein summation (ops/einsum.c): values against loops written out here in double, for a
 * batched matmul, a trace, a diagonal, an outer product, "..." broadcasting, three operands and
 * the implicit output; gradients of every operand through gradcheck; the refusals with their
 * messages. (make parity-ops compares 25 equations with torch.einsum.) */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static nb_rng rng;
static void setup(void) {
    ctx = nb_ctx_new(1 << 22);
    nb_ctx_use(ctx);
    nb_rng_init(&rng, 41);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

static nb_tensor *randn(int nd, const int64_t *shape) { return nb_randn(ctx, nd, shape, 0, 1, &rng); }

static const float *vals(nb_tensor *t) { return nb_data_f32(nb_contiguous(t)); }

static void expect_shape(const nb_tensor *y, int nd, const int64_t *shape, const char *eq) {
    ck_assert_msg(y != NULL, "%s: %s", eq, nb_last_error());
    ck_assert_msg(y->ndim == nd, "%s: %d dims, want %d", eq, y->ndim, nd);
    for (int i = 0; i < nd; i++)
        ck_assert_msg(y->shape[i] == shape[i], "%s: dim %d is %lld, want %lld", eq, i, (long long)y->shape[i],
                      (long long)shape[i]);
}

START_TEST(values_against_loops) {
    /* bij,bjk->bik */
    nb_tensor *a = randn(NB_SHAPE(2, 3, 4)), *b = randn(NB_SHAPE(2, 4, 5));
    nb_tensor *y = nb_einsum("bij,bjk->bik", 2, (nb_tensor *[]){a, b});
    expect_shape(y, NB_SHAPE(2, 3, 5), "bij,bjk->bik");
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 5; k++) {
                double s = 0;
                for (int j = 0; j < 4; j++)
                    s += (double)vals(a)[(n * 3 + i) * 4 + j] * vals(b)[(n * 4 + j) * 5 + k];
                ck_assert(nb_close(vals(y)[(n * 3 + i) * 5 + k], s, 1e-5, 1e-5));
            }
    /* ii (trace), ii->i (diagonal), ij->ji, i,j->ij */
    nb_tensor *m = randn(NB_SHAPE(4, 4));
    nb_tensor *tr = nb_einsum("ii", 1, &m), *dg = nb_einsum("ii->i", 1, &m), *tp = nb_einsum("ij->ji", 1, &m);
    expect_shape(tr, 0, NULL, "ii");
    expect_shape(dg, NB_SHAPE(4), "ii->i");
    double t = 0;
    for (int i = 0; i < 4; i++) {
        t += vals(m)[i * 5];
        ck_assert(vals(dg)[i] == vals(m)[i * 5]);
        for (int j = 0; j < 4; j++)
            ck_assert(vals(tp)[j * 4 + i] == vals(m)[i * 4 + j]);
    }
    ck_assert(nb_close(nb_item(tr), t, 1e-6, 1e-6));
    nb_tensor *u = randn(NB_SHAPE(3)), *v = randn(NB_SHAPE(2));
    nb_tensor *o = nb_einsum("i,j->ij", 2, (nb_tensor *[]){u, v});
    expect_shape(o, NB_SHAPE(3, 2), "i,j->ij");
    for (int i = 0; i < 6; i++)
        ck_assert(vals(o)[i] == vals(u)[i / 2] * vals(v)[i % 2]);
    /* ...ij,...jk->...ik with broadcast batch dims [2,1] and [3] */
    nb_tensor *p = randn(NB_SHAPE(2, 1, 3, 4)), *q = randn(NB_SHAPE(3, 4, 2));
    nb_tensor *pq = nb_einsum("...ij,...jk->...ik", 2, (nb_tensor *[]){p, q});
    expect_shape(pq, NB_SHAPE(2, 3, 3, 2), "...ij,...jk->...ik");
    for (int x = 0; x < 2; x++)
        for (int z = 0; z < 3; z++)
            for (int i = 0; i < 3; i++)
                for (int k = 0; k < 2; k++) {
                    double s = 0;
                    for (int j = 0; j < 4; j++)
                        s += (double)vals(p)[(x * 3 + i) * 4 + j] * vals(q)[(z * 4 + j) * 2 + k];
                    ck_assert(nb_close(vals(pq)[((x * 3 + z) * 3 + i) * 2 + k], s, 1e-5, 1e-5));
                }
    /* three operands: ij,jk,kl->il; and the implicit output of "ba,Ab": A then a */
    nb_tensor *e1 = randn(NB_SHAPE(2, 3)), *e2 = randn(NB_SHAPE(3, 4)), *e3 = randn(NB_SHAPE(4, 2));
    nb_tensor *chain = nb_einsum("ij,jk,kl->il", 3, (nb_tensor *[]){e1, e2, e3});
    expect_shape(chain, NB_SHAPE(2, 2), "ij,jk,kl->il");
    nb_tensor *ref = nb_matmul(nb_matmul(e1, e2), e3);
    for (int i = 0; i < 4; i++)
        ck_assert(nb_close(vals(chain)[i], vals(ref)[i], 1e-5, 1e-5));
    nb_tensor *im = nb_einsum("ba,Ab", 2, (nb_tensor *[]){randn(NB_SHAPE(2, 3)), randn(NB_SHAPE(4, 2))});
    expect_shape(im, NB_SHAPE(4, 3), "ba,Ab");
}
END_TEST

static const char *gc_eq;
static int gc_n;
static nb_tensor *gc_fn(nb_tensor **in, int n, void *u) {
    (void)n, (void)u;
    return nb_einsum(gc_eq, gc_n, in);
}

START_TEST(gradients) {
    static const struct {
        const char *eq;
        int n, nd[3];
        int64_t sh[3][3];
    } cases[] = {{"bij,bjk->bik", 2, {3, 3}, {{2, 3, 4}, {2, 4, 2}}},
                 {"ii->i", 1, {2}, {{3, 3}}},
                 {"iij->j", 1, {3}, {{3, 3, 2}}},
                 {"...j,jk->k", 2, {3, 2}, {{2, 2, 3}, {3, 2}}},
                 {"bi,bi->b", 2, {2, 2}, {{1, 3}, {4, 3}}},
                 {"ij,jk,kl->il", 3, {2, 2, 2}, {{2, 3}, {3, 2}, {2, 2}}}};
    for (int c = 0; c < (int)(sizeof cases / sizeof *cases); c++) {
        nb_tensor *in[3];
        for (int i = 0; i < cases[c].n; i++)
            in[i] = nb_requires_grad_(randn(cases[c].nd[i], cases[c].sh[i]), true);
        gc_eq = cases[c].eq, gc_n = cases[c].n;
        ck_assert_msg(nb_gradcheck(gc_fn, in, cases[c].n, NULL, NULL) == 1, "%s: %s", cases[c].eq,
                      nb_last_error());
    }
}
END_TEST

static void refused(const char *eq, int n, nb_tensor **ops, const char *needle) {
    nb_clear_error();
    ck_assert_ptr_null(nb_einsum(eq, n, ops));
    ck_assert_msg(strstr(nb_last_error(), needle) != NULL, "%s: error '%s' lacks '%s'", eq, nb_last_error(),
                  needle);
}

START_TEST(refusals) {
    nb_tensor *a = randn(NB_SHAPE(2, 3)), *b = randn(NB_SHAPE(4, 5)), *ab[2] = {a, b};
    refused("ij,jk", 2, ab, "einsum: subscript 'j' is 4 in operand 1 but 3 before");
    refused("ij", 1, (nb_tensor *[]){randn(NB_SHAPE(2, 3, 4))},
            "einsum: operand 0 has 3 dims but 2 subscripts and no");
    refused("ij,jk", 1, ab, "einsum: \"ij,jk\" has subscripts for more than the 1 operand(s) given");
    refused("ij", 2, ab, "einsum: \"ij\" has subscripts for 1 operand(s), 2 given");
    refused("i1", 1, (nb_tensor *[]){a}, "einsum: '1' in operand 0 is not a letter");
    refused("ij->ii", 1, (nb_tensor *[]){a}, "einsum: output subscript 'i' appears more than once");
    refused("ij->k", 1, (nb_tensor *[]){a}, "einsum: output subscript 'k' is in no operand");
    refused("ii", 1, (nb_tensor *[]){a}, "einsum: subscript 'i' repeats in operand 0 over sizes 2 and 3");
    refused("....ij", 1, (nb_tensor *[]){a}, "einsum: a '.' in operand 0 that is not part of");
    refused("...i...", 1, (nb_tensor *[]){a}, "einsum: more than one \"...\" in operand 0");
    refused("...ij,...ij", 2, (nb_tensor *[]){randn(NB_SHAPE(2, 2, 3)), randn(NB_SHAPE(3, 2, 3))},
            "einsum: the \"...\" dims of operand 1 do not broadcast");
    refused("ij", 1, (nb_tensor *[]){nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3))}, "einsum: operand must be f32");
    refused(NULL, 1, (nb_tensor *[]){a}, "einsum: NULL equation");
    refused("ij", 0, (nb_tensor *[]){a}, "einsum: 0 operands");
    /* "..." after seven letters in the output: 7 + 2 dims is one too many (no write past the list) */
    nb_tensor *seven = nb_zeros(ctx, NB_F32, 7, (const int64_t[]){1, 1, 1, 1, 1, 1, 1});
    refused("abcdefg,...->abcdefg...", 2, (nb_tensor *[]){seven, randn(NB_SHAPE(2, 2))},
            "einsum: more than 8 output dims");
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("ops_einsum");
    TCase *tc = tcase_create("einsum");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, values_against_loops);
    tcase_add_test(tc, gradients);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
