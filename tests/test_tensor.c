/* Tensors, views, contexts, RNG and errors. */
#include <math.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static void setup(void) { ctx = nb_ctx_new(1 << 20); nb_clear_error(); }
static void teardown(void) { nb_ctx_free(ctx); }

START_TEST(creation) {
    nb_tensor *z = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3, 4));
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(nb_numel(z), 24);
    ck_assert_int_eq(z->stride[0], 12);
    ck_assert_int_eq(z->stride[2], 1);
    for (int i = 0; i < 24; i++) ck_assert_float_eq(nb_data_f32(z)[i], 0.0f);
    nb_tensor *o = nb_full(ctx, NB_I32, NB_SHAPE(5), 7);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(((int32_t *)nb_data(o))[i], 7);
    nb_tensor *r = nb_arange(ctx, NB_F32, 1, 2, 0.25);
    ck_assert_int_eq(nb_numel(r), 4);
    ck_assert_float_eq(nb_data_f32(r)[3], 1.75f);
    nb_tensor *rd = nb_arange(ctx, NB_I32, 5, 0, -2);
    ck_assert_int_eq(nb_numel(rd), 3);
    ck_assert_int_eq(((int32_t *)nb_data(rd))[2], 1);
    float d[6] = {1, 2, 3, 4, 5, 6};
    nb_tensor *f = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), d);
    ck_assert_double_eq(nb_get(f, (int64_t[]){1, 2}), 6.0);
    nb_tensor *s = nb_scalar(ctx, 2.5f);
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_double_eq(nb_item(s), 2.5);
    nb_tensor *c = nb_clone(ctx, nb_transpose(f, 0, 1));
    ck_assert(nb_is_contiguous(c));
    ck_assert_float_eq(nb_data_f32(c)[1], 4.0f);
    /* on a named device: the CPU here; a device that cannot be used is an error, not a crash */
    nb_tensor *zc = nb_zeros_on(ctx, NB_I32, NB_CPU, NB_SHAPE(3, 2));
    ck_assert_ptr_nonnull(zc);
    ck_assert_int_eq(zc->device, NB_CPU);
    ck_assert_int_eq(zc->dtype, NB_I32);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(((int32_t *)nb_data(zc))[i], 0);
    ck_assert_ptr_nonnull(nb_empty_on(ctx, NB_F32, NB_CPU, NB_SHAPE(4)));
    nb_tensor *fc = nb_full_on(ctx, NB_I32, NB_CPU, NB_SHAPE(2), -7.9);
    ck_assert(fc && ((int32_t *)nb_data(fc))[1] == -7); /* toward zero, as nb_full */
    ck_assert_ptr_null(nb_full_on(ctx, NB_F32, NB_CPU, NB_SHAPE(-1), 1));
    nb_clear_error();
    nb_tensor *zg = nb_zeros_on(ctx, NB_F32, NB_CUDA, NB_SHAPE(2));
    if (zg)
        ck_assert_int_eq(zg->device, NB_CUDA); /* a GPU (or the CUDA emulator) is there */
    else
        ck_assert_msg(strstr(nb_last_error(), "cuda") != NULL, "message: %s", nb_last_error());
    nb_tensor *ac = nb_arange_on(ctx, NB_BF16, NB_CPU, 0, 3, 0.5);
    ck_assert_ptr_nonnull(ac);
    ck_assert_int_eq(ac->device, NB_CPU);
    ck_assert_int_eq(nb_numel(ac), 6);
    ck_assert_double_eq(nb_get(ac, (int64_t[]){5}), 2.5);
    nb_clear_error();
    nb_tensor *ag = nb_arange_on(ctx, NB_F32, NB_CUDA, 0, 3, 0.5);
    if (ag)
        ck_assert_int_eq(ag->device, NB_CUDA);
    else
        ck_assert_msg(strstr(nb_last_error(), "cuda") != NULL, "message: %s", nb_last_error());
}
END_TEST

START_TEST(views_share_storage) {
    float d[24];
    for (int i = 0; i < 24; i++) d[i] = (float)i;
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3, 4), d);
    nb_tensor *v = nb_reshape(a, NB_SHAPE(6, 4));
    ck_assert_ptr_eq(v->storage, a->storage);
    nb_tensor *p = nb_permute(a, (int[]){2, 0, 1});
    ck_assert_ptr_eq(p->storage, a->storage);
    ck_assert_int_eq(p->shape[0], 4);
    ck_assert_double_eq(nb_get(p, (int64_t[]){3, 1, 2}), 23.0);
    ck_assert(!nb_is_contiguous(p));
    nb_tensor *s = nb_slice(a, 2, 1, 4, 2);
    ck_assert_ptr_eq(s->storage, a->storage);
    ck_assert_int_eq(s->shape[2], 2);
    ck_assert_double_eq(nb_get(s, (int64_t[]){1, 2, 1}), 23.0);
    nb_tensor *e = nb_expand(nb_slice(a, 0, 0, 1, 1), NB_SHAPE(5, 3, 4));
    ck_assert_ptr_eq(e->storage, a->storage);
    ck_assert_int_eq(e->stride[0], 0);
    ck_assert_double_eq(nb_get(e, (int64_t[]){4, 2, 3}), 11.0);
    nb_tensor *u = nb_unsqueeze(a, 1);
    ck_assert_int_eq(u->ndim, 4);
    ck_assert_ptr_eq(u->storage, a->storage);
    nb_tensor *q = nb_squeeze(u, 1);
    ck_assert(nb_same_shape(q, a));
    nb_tensor *n = nb_narrow(a, 1, 1, 2);
    ck_assert_double_eq(nb_get(n, (int64_t[]){0, 0, 0}), 4.0);
    nb_tensor *nn = nb_narrow(a, 1, -2, 2); /* a negative start counts from the end, as torch */
    ck_assert(nn && nn->shape[1] == 2);
    ck_assert_double_eq(nb_get(nn, (int64_t[]){0, 0, 0}), 4.0);
    ck_assert_ptr_null(nb_narrow(a, 1, -4, 1));
    /* a view of a transposed tensor that re-splits a contiguous run needs no copy */
    nb_tensor *t = nb_transpose(nb_reshape(a, NB_SHAPE(2, 12)), 0, 1); /* [12,2] */
    nb_tensor *tv = nb_view(t, NB_SHAPE(3, 4, 2));
    ck_assert_ptr_nonnull(tv);
    ck_assert_ptr_eq(tv->storage, a->storage);
    ck_assert_double_eq(nb_get(tv, (int64_t[]){2, 3, 1}), 23.0);
    /* a permuted tensor cannot be flattened as a view; reshape copies */
    ck_assert_ptr_null(nb_view(p, NB_SHAPE(24)));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "view"));
    nb_tensor *fl = nb_reshape(p, NB_SHAPE(-1));
    ck_assert_ptr_ne(fl->storage, a->storage);
    ck_assert_double_eq(nb_get(fl, (int64_t[]){1}), 4.0); /* p[0,0,1] = a[0,1,0] */
    ck_assert_double_eq(nb_get(fl, (int64_t[]){6}), 1.0);  /* p[1,0,0] = a[0,0,1] */
    ck_assert_ptr_eq(nb_contiguous(a), a);
}
END_TEST

START_TEST(copy_and_fill) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(3, 4));
    nb_tensor *row = nb_arange(ctx, NB_F32, 0, 4, 1);
    ck_assert_int_eq(nb_copy_(a, row), 0); /* broadcast copy */
    ck_assert_double_eq(nb_get(a, (int64_t[]){2, 3}), 3.0);
    nb_tensor *col = nb_slice(a, 1, 1, 2, 1);
    ck_assert_int_eq(nb_fill_(col, -1), 0);
    ck_assert_double_eq(nb_get(a, (int64_t[]){1, 1}), -1.0);
    ck_assert_double_eq(nb_get(a, (int64_t[]){1, 2}), 2.0);
    nb_tensor *i = nb_zeros(ctx, NB_I32, NB_SHAPE(3, 4));
    ck_assert_int_eq(nb_copy_(i, a), 0);
    ck_assert_double_eq(nb_get(i, (int64_t[]){0, 3}), 3.0);
    float out[12];
    ck_assert_int_eq(nb_to_array(nb_transpose(a, 0, 1), NB_F32, out), 0);
    ck_assert_float_eq(out[1], 0.0f);
    ck_assert_float_eq(out[3 * 3 + 2], 3.0f);
    ck_assert_int_eq(nb_copy_(a, nb_zeros(ctx, NB_F32, NB_SHAPE(5))), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "copy_"));
}
END_TEST

START_TEST(rng_philox_and_determinism) {
    uint32_t o[4];
    nb_philox(0, 0, o); /* the Random123 known-answer test for Philox4x32-10 */
    ck_assert_uint_eq(o[0], 0x6627e8d5u);
    ck_assert_uint_eq(o[1], 0xe169c58du);
    ck_assert_uint_eq(o[2], 0xbc57ac4cu);
    ck_assert_uint_eq(o[3], 0x9b00dbd8u);
    nb_rng r1, r2;
    nb_rng_init(&r1, 42);
    nb_rng_init(&r2, 42);
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(1000), 0, 1, &r1);
    nb_tensor *b = nb_randn(ctx, NB_SHAPE(1000), 0, 1, &r2);
    ck_assert_mem_eq(nb_data(a), nb_data(b), 4000);
    nb_tensor *c = nb_randn(ctx, NB_SHAPE(1000), 0, 1, &r1);
    ck_assert(memcmp(nb_data(a), nb_data(c), 4000) != 0);
    double m = 0, v = 0;
    nb_rng_init(&r1, 7);
    nb_tensor *big = nb_randn(ctx, NB_SHAPE(200000), 1.0f, 2.0f, &r1);
    for (int i = 0; i < 200000; i++) m += nb_data_f32(big)[i];
    m /= 200000;
    for (int i = 0; i < 200000; i++) v += pow(nb_data_f32(big)[i] - m, 2);
    v /= 200000;
    ck_assert(fabs(m - 1.0) < 0.02);
    ck_assert(fabs(sqrt(v) - 2.0) < 0.02);
    nb_tensor *u = nb_rand(ctx, NB_SHAPE(100000), -1, 3, &r1);
    float lo = 9, hi = -9;
    for (int i = 0; i < 100000; i++) {
        lo = fminf(lo, nb_data_f32(u)[i]);
        hi = fmaxf(hi, nb_data_f32(u)[i]);
    }
    ck_assert(lo >= -1 && lo < -0.99 && hi < 3 && hi > 2.99);
    /* thread count does not change the stream */
    nb_set_num_threads(1);
    nb_rng_init(&r1, 5);
    nb_tensor *t1 = nb_randn(ctx, NB_SHAPE(100000), 0, 1, &r1);
    nb_set_num_threads(2);
    nb_rng_init(&r1, 5);
    nb_tensor *t2 = nb_randn(ctx, NB_SHAPE(100000), 0, 1, &r1);
    ck_assert_mem_eq(nb_data(t1), nb_data(t2), 400000);
    nb_set_num_threads(0);
}
END_TEST

START_TEST(context_reuse_allocates_nothing) {
    nb_ctx *step = nb_ctx_new(1 << 16);
    nb_ctx *prev = nb_ctx_use(step);
    nb_rng r;
    nb_rng_init(&r, 1);
    nb_tensor *w = nb_requires_grad_(nb_randn(ctx, NB_SHAPE(64, 64), 0, 1, &r), true);
    uint64_t after_first = 0;
    for (int it = 0; it < 5; it++) {
        nb_tensor *x = nb_randn(step, NB_SHAPE(64, 64), 0, 1, &r);
        nb_tensor *big = nb_zeros(step, NB_F32, NB_SHAPE(300, 300)); /* larger than a chunk */
        nb_tensor *loss = nb_sum_all(nb_add(nb_tanh(nb_mul(x, w)), nb_sum_all(big)));
        ck_assert_int_eq(nb_backward(loss), 0);
        if (it == 0) after_first = nb_ctx_os_allocs(step);
        else ck_assert_uint_eq(nb_ctx_os_allocs(step), after_first);
        nb_ctx_reset(step);
        ck_assert_uint_eq(nb_ctx_used(step), 0);
    }
    ck_assert(nb_ctx_reserved(step) > 0);
    nb_ctx_use(prev);
    nb_ctx_free(step);
}
END_TEST

/* That test asks for 1 PiB, which libc refuses with NULL; under AddressSanitizer the allocator must
 * do the same instead of aborting (ASAN_OPTIONS set by the caller still override this). */
#if defined(__SANITIZE_ADDRESS__)
#define NB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_TEST_ASAN 1
#endif
#endif
#ifdef NB_TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

/* A context asked for huge chunks keeps its tensor-header chunks small (at most 2 MiB): out of
 * memory is then reported for the data chunk that really cannot be had, with its size (it was a
 * 1/16-sized header chunk, 64 TiB here, that failed first or, worse, was reserved). */
START_TEST(huge_context_fails_on_its_data_chunk) {
    nb_ctx *huge = nb_ctx_new((size_t)1 << 50);
    ck_assert_ptr_nonnull(huge);
    nb_clear_error();
    ck_assert_ptr_null(nb_empty(huge, NB_F32, NB_SHAPE(2)));
    const char *e = nb_last_error();
    ck_assert_msg(strstr(e, "out of host memory") && strstr(e, "1125899906842624 bytes"), "message: %s", e);
    ck_assert_uint_le(nb_ctx_reserved(huge), (size_t)2 << 20);
    nb_ctx_free(huge);
}
END_TEST

#ifdef NB_TEST_ASAN
#include <sanitizer/asan_interface.h>
/* Under AddressSanitizer a reset poisons the context's memory, so that a tensor kept past
 * nb_ctx_reset (a use after free in all but name) is reported where it is read; what is handed
 * out afterwards is usable again. Built into the sanitizer run of make check only. */
START_TEST(reset_poisons_under_asan) {
    nb_ctx *c = nb_ctx_new(1 << 16);
    ck_assert_ptr_nonnull(c);
    nb_tensor *t = nb_ones(c, NB_F32, NB_SHAPE(4, 5));
    ck_assert_ptr_nonnull(t);
    float *d = nb_data_f32(t);
    ck_assert(!__asan_address_is_poisoned(t) && !__asan_address_is_poisoned(d));
    nb_ctx_reset(c);
    ck_assert_msg(__asan_address_is_poisoned(t), "the header of a tensor is readable after the reset");
    ck_assert_msg(__asan_address_is_poisoned(d + 19), "the data of a tensor is readable after the reset");
    nb_tensor *u = nb_ones(c, NB_F32, NB_SHAPE(4, 5));
    ck_assert_ptr_nonnull(u);
    ck_assert_float_eq(nb_sum_all(u) ? nb_item(nb_sum_all(u)) : -1.0f, 20.0f);
    nb_ctx_free(c);
}
END_TEST
#endif

START_TEST(errors_are_reported) {
    ck_assert_ptr_null(nb_zeros(ctx, NB_F32, NB_SHAPE(2, -3)));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "negative"));
    ck_assert_ptr_null(nb_zeros(NULL, NB_F32, NB_SHAPE(2))); /* no context given, none current */
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "no context"));
    nb_ctx_use(ctx); /* NULL: the current one */
    nb_tensor *cur = nb_arange(NULL, NB_F32, 0, 3, 1);
    ck_assert_ptr_nonnull(cur);
    ck_assert_ptr_eq(cur->ctx, ctx);
    nb_ctx_use(NULL);
    ck_assert_ptr_null(nb_ctx_new(SIZE_MAX)); /* its chunks' size would wrap around */
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "too large"));
    ck_assert_ptr_null(nb_zeros(ctx, (nb_dtype)99, NB_SHAPE(2)));
    ck_assert_ptr_null(nb_arange(ctx, NB_F32, 0, 1, 0));
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert(isnan(nb_item(a)));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "item"));
    ck_assert_ptr_null(nb_reshape(a, NB_SHAPE(4, 2)));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "[2,3]"));
    ck_assert_ptr_null(nb_reshape(a, NB_SHAPE(4294967297LL, 4294967295LL, -1))); /* the product overflows */
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "too large"));
    ck_assert_ptr_null(nb_reshape(a, NB_SHAPE(INT64_MAX, 2)));
    ck_assert_ptr_null(nb_squeeze(nb_scalar(ctx, 1.0f), 0));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "0-d"));
    ck_assert_ptr_null(nb_permute(a, (int[]){0, 0}));
    ck_assert_ptr_null(nb_transpose(a, 0, 2));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "dim 2"));
    ck_assert_ptr_null(nb_squeeze(a, 0));
    ck_assert_ptr_null(nb_expand(a, NB_SHAPE(4, 3)));
    ck_assert_ptr_null(nb_slice(a, 0, 0, 1, 0));
    ck_assert_ptr_null(nb_narrow(a, 1, 2, 5));
    /* NULL propagates without replacing the first message */
    nb_tensor *bad = nb_reshape(a, NB_SHAPE(7));
    char first[256];
    snprintf(first, sizeof first, "%s", nb_last_error());
    ck_assert_ptr_null(nb_exp(nb_add(bad, a)));
    ck_assert_str_eq(nb_last_error(), first);
    /* a device that may be absent: the tensor there (and back, the same), or NULL with one line
     * saying why ("cuda: no NVIDIA driver found ...", "cuda: this build ... has no CUDA backend") */
    nb_clear_error();
    nb_tensor *dev = nb_to_device(ctx, a, NB_CUDA);
    if (dev) {
        float back[6];
        ck_assert_int_eq(nb_to_array(nb_to_device(ctx, dev, NB_CPU), NB_F32, back), 0);
        for (int i = 0; i < 6; i++)
            ck_assert_float_eq(back[i], 0.0f);
    } else {
        ck_assert_msg(strncmp(nb_last_error(), "cuda: ", 6) == 0, "message: %s", nb_last_error());
        ck_assert_ptr_null(strchr(nb_last_error(), '\n'));
    }
}
END_TEST

START_TEST(printing) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nb_tensor *a = nb_arange(ctx, NB_F32, 0, 6, 1);
    nb_print(nb_reshape(a, NB_SHAPE(2, 3)), f);
    nb_print(nb_arange(ctx, NB_I32, 0, 100, 1), f);
    /* i32 exactly (not through float), floats to 6 digits */
    nb_print(nb_from_data(ctx, NB_I32, NB_SHAPE(3), (int32_t[]){2147483647, 16777217, -2147483647}), f);
    nb_print(nb_arange(ctx, NB_F32, 99998, 100001, 1), f);
    nb_print(nb_from_data(ctx, NB_I32, NB_SHAPE0, (int32_t[]){16777217}), f);
    fclose(f);
    ck_assert_msg(strstr(buf, "[2147483647, 16777217, -2147483647]") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "[99998, 99999, 100000]") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "device=cpu)\n16777217\n") != NULL, "%s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "shape=[2,3]"));
    ck_assert_ptr_nonnull(strstr(buf, "[[0, 1, 2],"));
    ck_assert_ptr_nonnull(strstr(buf, "..."));
    ck_assert_ptr_nonnull(strstr(buf, "99]"));
    free(buf);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, creation);
    tcase_add_test(tc, views_share_storage);
    tcase_add_test(tc, copy_and_fill);
    tcase_add_test(tc, rng_philox_and_determinism);
    tcase_add_test(tc, context_reuse_allocates_nothing);
    tcase_add_test(tc, huge_context_fails_on_its_data_chunk);
#ifdef NB_TEST_ASAN
    tcase_add_test(tc, reset_poisons_under_asan);
#endif
    tcase_add_test(tc, errors_are_reported);
    tcase_add_test(tc, printing);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
