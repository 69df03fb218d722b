/* Hostile arguments to the public API: each call returns its error value with a message naming
 * what is wrong, and never crashes, overflows or silently computes something wrong. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static void setup(void) {
    ctx = nb_ctx_new(1 << 20);
    nb_ctx_use(ctx);
    nb_clear_error();
}
static void teardown(void) {
    nb_ctx_use(NULL);
    nb_ctx_free(ctx);
}

#define ERR_HAS(s) ck_assert_msg(strstr(nb_last_error(), (s)) != NULL, "error was '%s'", nb_last_error())

/* Writing in place into a broadcast view would write one element several times (and race). */
START_TEST(no_writes_into_broadcast_views) {
    nb_tensor *x = nb_full(ctx, NB_F32, NB_SHAPE(1, 3), 1);
    nb_tensor *e = nb_expand(x, 2, (const int64_t[]){4, 3});
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(nb_scale_(e, 2), -1);
    ERR_HAS("scale_: cannot write into a broadcast (expanded) view [4,3]");
    ck_assert_int_eq(nb_axpy_(e, 1, nb_ones(ctx, NB_F32, NB_SHAPE(4, 3))), -1);
    ERR_HAS("axpy_: cannot write");
    ck_assert_int_eq(nb_copy_(e, nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3))), -1);
    ck_assert_int_eq(nb_fill_(e, 5), -1);
    ck_assert_int_eq(nb_randn_(e, 0, 1, NULL), -1);
    ERR_HAS("randn_: cannot write");
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(nb_data_f32(x)[i], 1.0f); /* untouched */
    /* a size-1 dim with stride 0 writes each element once: allowed */
    nb_tensor *one = nb_expand(nb_zeros(ctx, NB_F32, NB_SHAPE(1)), 2, (const int64_t[]){1, 1});
    ck_assert_int_eq(nb_fill_(one, 2), 0);
    /* NULL destinations say so */
    nb_clear_error();
    ck_assert_int_eq(nb_fill_(NULL, 0), -1);
    ERR_HAS("fill_: NULL tensor");
}
END_TEST

START_TEST(shape_arithmetic_does_not_overflow) {
    nb_tensor *a = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3));
    nb_tensor *s = nb_slice(a, 1, 0, 3, INT64_MAX); /* one element per row, not a negative size */
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->shape[1], 1);
    ck_assert_int_eq(nb_slice(a, 1, 2, 1, 1)->shape[1], 0);
    ck_assert_int_eq(nb_slice(a, 1, 0, 3, 2)->shape[1], 2);
    ck_assert_ptr_null(nb_narrow(a, 1, INT64_MAX, 2));
    ERR_HAS("narrow: start 9223372036854775807, length 2 out of bounds");
    ck_assert_ptr_null(nb_narrow(a, 1, 1, INT64_MAX));
    nb_tensor *one = nb_ones(ctx, NB_F32, NB_SHAPE(1, 1));
    ck_assert_ptr_null(nb_expand(one, 2, (const int64_t[]){(int64_t)1 << 62, 4}));
    ERR_HAS("expand: shape [4611686018427387904,4] is too large");
    /* more axes than dims is refused before the axes are read */
    int ax[2] = {0, 1};
    ck_assert_ptr_null(nb_sum(a, 100, ax, false));
    ERR_HAS("100 axes for a 2-d tensor");
}
END_TEST

static nb_tensor *wrong_grad_fn(nb_tensor **in, int n, void *user) {
    (void)n, (void)user;
    /* sum(x^2) with the gradient cut off: the analytic gradient is 0, the true one 2x */
    return nb_sum_all(nb_mul(in[0], nb_detach(in[0])));
}

START_TEST(autograd_rejects_bad_seeds_and_options) {
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(2, 3), 0, 1, NULL);
    nb_requires_grad_(a, true);
    nb_tensor *y = nb_mul_scalar(a, 2);
    ck_assert_int_eq(nb_backward_with(y, nb_ones(ctx, NB_I32, NB_SHAPE(2, 3))), -1);
    ERR_HAS("seed gradient must be f32");
    ck_assert_ptr_null(a->grad);
    nb_clear_error();
    ck_assert_int_eq(nb_backward(NULL), -1);
    ERR_HAS("backward: NULL tensor");
    /* NaN tolerances or step would make the checker pass anything */
    nb_tensor *in[1] = {a};
    ck_assert_int_eq(nb_gradcheck(wrong_grad_fn, in, 1, NULL, NULL), 0);
    nb_gradcheck_opts o = {NAN, 1e-3, 1e-2, 1, false};
    ck_assert_int_eq(nb_gradcheck(wrong_grad_fn, in, 1, NULL, &o), -1);
    ERR_HAS("must be finite");
    o = (nb_gradcheck_opts){1e-3, NAN, NAN, 1, false};
    ck_assert_int_eq(nb_gradcheck(wrong_grad_fn, in, 1, NULL, &o), -1);
    o = (nb_gradcheck_opts){INFINITY, 1e-3, 1e-2, 1, false};
    ck_assert_int_eq(nb_gradcheck(wrong_grad_fn, in, 1, NULL, &o), -1);
}
END_TEST

START_TEST(null_inputs_are_named) {
    nb_clear_error();
    ck_assert_ptr_null(nb_add(NULL, nb_zeros(ctx, NB_F32, NB_SHAPE(1))));
    ERR_HAS("NULL input");
    /* in a chain, the first failure's message is kept */
    nb_set_error("matmul: the first failure");
    ck_assert_ptr_null(nb_relu(NULL));
    ERR_HAS("matmul: the first failure");
    ck_assert(!nb_is_contiguous(NULL));
    ck_assert(!nb_same_shape(NULL, nb_zeros(ctx, NB_F32, NB_SHAPE(1))));
    char b[16];
    ck_assert_str_eq(nb_shape_str(NULL, b, sizeof b), "(null)");
    nb_rng_init(NULL, 1);           /* nothing, no crash */
    float u = nb_rng_uniform(NULL); /* the global generator */
    ck_assert(u >= 0.0f && u < 1.0f);
    int ax[1] = {7};
    ck_assert_ptr_null(nb_var(nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3)), 1, ax, 1, false));
    ERR_HAS("var: axis 7 out of range");
}
END_TEST

START_TEST(module_cycles_are_refused) {
    nb_module *s = nb_sequential_new();
    nb_module *inner = nb_sequential_new();
    ck_assert_int_eq(nb_module_add(s, "lin", nb_linear_new(ctx, 3, 3, true, NULL)), 0);
    ck_assert_int_eq(nb_module_add(s, "inner", inner), 0);
    ck_assert_int_eq(nb_module_add(s, "self", s), -1);
    ERR_HAS("would make a cycle");
    ck_assert_int_eq(nb_module_add(inner, "up", s), -1); /* s is inner's parent */
    ERR_HAS("would make a cycle");
    ck_assert_int_eq(nb_module_num_params(s), 12); /* the tree is intact */
    /* append is for Sequential / ModuleList only (it names children "0", "1", ...) */
    nb_module *lin = nb_linear_new(ctx, 2, 2, false, NULL);
    ck_assert_int_eq(nb_sequential_append(lin, nb_gelu_new()), -1);
    ERR_HAS("sequential_append: Linear is not a Sequential or ModuleList");
    ck_assert_int_eq(
        nb_checkpoint_save("/tmp/nb_never_written.safetensors", lin, NULL, -7, NULL, NULL, NULL, 0), -1);
    ERR_HAS("negative step -7");
    nb_module_free(lin);
    nb_module_free(s);
}
END_TEST

/* Saving replaces a file by renaming a temp file over it: never a FIFO or device (as root this
 * replaced /dev/full), and through a symbolic link its target, keeping the link. */
START_TEST(saving_keeps_special_files_and_links) {
    char dir[] = "/tmp/nb_guard_XXXXXX", fifo[64], link[64], target[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(target, sizeof target, "%s/target.safetensors", dir);
    nb_tensor *t = nb_ones(ctx, NB_F32, NB_SHAPE(3));
    const char *names[] = {"t"};
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(nb_safetensors_save(fifo, names, &t, 1, NULL, NULL, 0), -1);
    ERR_HAS("not a regular file");
    struct stat st;
    ck_assert(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    ck_assert_int_eq(symlink("target.safetensors", link), 0);
    ck_assert_int_eq(nb_safetensors_save(link, names, &t, 1, NULL, NULL, 0), -1); /* to nothing yet */
    ERR_HAS("a symbolic link to nothing usable");
    ck_assert_int_eq(nb_safetensors_save(target, names, &t, 1, NULL, NULL, 0), 0);
    ck_assert_int_eq(nb_safetensors_save(link, names, &t, 1, NULL, NULL, 0), 0);
    ck_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    ck_assert(stat(target, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0);
    nb_safetensors *f = nb_safetensors_open(link);
    ck_assert_ptr_nonnull(f);
    nb_safetensors_close(f);
    unlink(fifo);
    unlink(link);
    unlink(target);
    rmdir(dir);
}
END_TEST

/* Found by a review that called every public function with hostile arguments. */
START_TEST(hostile_sizes_and_aliases) {
    /* expand to a negative size used to succeed, and nb_cat then wrote outside its output */
    nb_tensor *one = nb_ones(ctx, NB_F32, NB_SHAPE(1, 3));
    ck_assert_ptr_null(nb_expand(one, 2, (const int64_t[]){-40, 3}));
    ERR_HAS("expand: negative size -40");
    ck_assert_ptr_nonnull(nb_expand(one, 2, (const int64_t[]){-1, 3})); /* -1 keeps a dim */
    /* sizes whose sum, or whose strides, overflow int64 */
    nb_tensor *f = nb_zeros(ctx, NB_F32, NB_SHAPE(6));
    nb_tensor *out[3];
    ck_assert_int_eq(nb_split(f, 0, 3, (const int64_t[]){INT64_MAX, INT64_MAX, 4}, out), -1);
    ERR_HAS("split: sizes add up to more than 2^63");
    ck_assert_ptr_null(nb_zeros(ctx, NB_F32, NB_SHAPE(0, INT64_MAX, INT64_MAX)));
    ERR_HAS("shape too large");
    /* a NULL buffer */
    ck_assert_ptr_null(nb_shape_str(f, NULL, 10));
    /* in-place updates whose source is a shifted or transposed view of the destination read the
     * source as it was */
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(6), (const float[]){0, 1, 2, 3, 4, 5});
    ck_assert_int_eq(nb_copy_(nb_narrow(a, 0, 0, 5), nb_narrow(a, 0, 1, 5)), 0);
    const float want_a[6] = {1, 2, 3, 4, 5, 5};
    ck_assert_mem_eq(nb_data_f32(a), want_a, sizeof want_a);
    nb_tensor *b = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){0, 1, 2, 3});
    ck_assert_int_eq(nb_copy_(b, nb_transpose(b, 0, 1)), 0);
    const float want_b[4] = {0, 2, 1, 3};
    ck_assert_mem_eq(nb_data_f32(b), want_b, sizeof want_b);
    nb_tensor *y = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 2), (const float[]){0, 1, 2, 3});
    ck_assert_int_eq(nb_axpy_(y, 1.0f, nb_transpose(y, 0, 1)), 0);
    const float want_y[4] = {0, 3, 3, 6};
    ck_assert_mem_eq(nb_data_f32(y), want_y, sizeof want_y);
    ck_assert_int_eq(nb_axpy_(y, 1.0f, y), 0); /* the same view: elementwise, in place */
    const float want_y2[4] = {0, 6, 6, 12};
    ck_assert_mem_eq(nb_data_f32(y), want_y2, sizeof want_y2);
    /* a NULL with no earlier error is named */
    nb_clear_error();
    ck_assert_ptr_null(nb_clone(ctx, NULL));
    ERR_HAS("clone: NULL tensor");
    nb_clear_error();
    ck_assert_ptr_null(nb_cat((nb_tensor *[]){f, NULL}, 2, 0));
    ERR_HAS("cat: tensor 1 is NULL");
    nb_clear_error();
    ck_assert_int_eq(nb_split(NULL, 0, 1, (const int64_t[]){1}, out), -1);
    ERR_HAS("split: NULL tensor");
    /* a Linear whose weight cannot be made does not make its bias (16 GiB here) */
    nb_ctx *big = nb_ctx_new(0);
    ck_assert_ptr_null(nb_linear_new(big, (int64_t)1 << 32, (int64_t)1 << 32, true, NULL));
    ck_assert_uint_lt(nb_ctx_reserved(big), (size_t)1 << 30);
    nb_ctx_free(big);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("api_guards");
    TCase *tc = tcase_create("guards");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, no_writes_into_broadcast_views);
    tcase_add_test(tc, shape_arithmetic_does_not_overflow);
    tcase_add_test(tc, autograd_rejects_bad_seeds_and_options);
    tcase_add_test(tc, null_inputs_are_named);
    tcase_add_test(tc, module_cycles_are_refused);
    tcase_add_test(tc, hostile_sizes_and_aliases);
    tcase_add_test(tc, saving_keeps_special_files_and_links);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
