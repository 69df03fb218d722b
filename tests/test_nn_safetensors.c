/* test_nn_safetensors.c - the safetensors reader/writer: bit-exact round trips,
 * the on-disk layout, corrupt and truncated files, atomic writes, and module
 * save/load with name/shape checks and tied weights. */
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nabla.h"
#include "tests/nb_check.h"

static char dir[64];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/nb_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static int count_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A file image: 8-byte length + json + `data_len` bytes of data. Caller frees. */
static unsigned char *image(const char *json, size_t data_len, size_t *len) {
    size_t h = strlen(json);
    *len = 8 + h + data_len;
    unsigned char *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, json, h);
    return b;
}

/* Expects open_memory of `json` + data to fail with a message containing `want`. */
static void expect_bad(const char *json, size_t data_len, const char *want) {
    size_t len;
    unsigned char *b = image(json, data_len, &len);
    nb_clear_error();
    nb_safetensors *f = nb_safetensors_open_memory(b, len, "bad.safetensors");
    ck_assert_msg(f == NULL, "accepted: %s", json);
    ck_assert_msg(strstr(nb_last_error(), want) && strstr(nb_last_error(), "bad.safetensors"),
                  "for %s: expected '%s' in '%s'", json, want, nb_last_error());
    free(b);
}

START_TEST(test_roundtrip_bit_exact) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(1 << 20);
    nb_rng r;
    nb_rng_init(&r, 7);
    nb_tensor *a = nb_randn(ctx, NB_SHAPE(3, 4), 0.0f, 1.0f, &r);
    nb_tensor *at = nb_transpose(nb_randn(ctx, NB_SHAPE(5, 2), 0.0f, 1.0f, &r), 0, 1); /* [2,5] view */
    int32_t iv[5] = {1, -2, 2147483647, (int32_t)0x80000000, 0};
    nb_tensor *ints = nb_from_data(ctx, NB_I32, NB_SHAPE(5), iv);
    nb_tensor *sc = nb_scalar(ctx, -3.25f);
    nb_tensor *empty = nb_zeros(ctx, NB_F32, NB_SHAPE(0, 3));
    float special[4] = {NAN, INFINITY, -0.0f, 1e-40f}; /* NaN, Inf, -0, denormal survive */
    nb_tensor *sp = nb_from_data(ctx, NB_F32, NB_SHAPE(4), special);
    nb_tensor *ts[6] = {a, at, ints, sc, empty, sp};
    const char *names[6] = {"layer.weight", "t", "ints", "scalar", "empty", "special"};
    const char *mk[2] = {"config", "note"}, *mv[2] = {"{\"n_layer\": 2}", "h\xc3\xa9llo"};
    char path[128];
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    ck_assert_int_eq(nb_safetensors_save(path, names, ts, 6, mk, mv, 2), 0);
    ck_assert_int_eq(count_files(), 1); /* no temp file left */
    struct stat fst;                    /* readable as the run's other files are, not mkstemp's 0600 */
    ck_assert(stat(path, &fst) == 0 && (fst.st_mode & 0777) == 0644);

    ck_assert_ptr_null(nb_safetensors_open(dir)); /* a folder: said so, not "out of memory" */
    ck_assert_msg(strstr(nb_last_error(), "not a regular file (a directory)"), "%s", nb_last_error());
    nb_safetensors *f = nb_safetensors_open(path);
    ck_assert_msg(f != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_safetensors_count(f), 6);
    ck_assert_int_eq(nb_safetensors_meta_count(f), 2);
    ck_assert_str_eq(nb_safetensors_meta(f, "config"), mv[0]);
    ck_assert_str_eq(nb_safetensors_meta(f, "note"), mv[1]);
    ck_assert_ptr_null(nb_safetensors_meta(f, "absent"));
    for (int i = 0; i < 6; i++) {
        int k = nb_safetensors_find(f, names[i]);
        ck_assert_int_ge(k, 0);
        nb_dtype dt;
        int nd;
        int64_t shape[NB_MAX_DIMS];
        ck_assert_int_eq(nb_safetensors_info(f, k, &dt, &nd, shape), 0);
        ck_assert_int_eq(dt, ts[i]->dtype);
        ck_assert_int_eq(nd, ts[i]->ndim);
        for (int d = 0; d < nd; d++)
            ck_assert_int_eq(shape[d], ts[i]->shape[d]);
        nb_tensor *back = nb_safetensors_read(f, ctx, names[i]);
        ck_assert_ptr_nonnull(back);
        size_t nb = (size_t)nb_numel(ts[i]) * 4;
        unsigned char *want = malloc(nb + 1), *got = malloc(nb + 1);
        ck_assert_int_eq(nb_to_array(ts[i], ts[i]->dtype, want), 0);
        ck_assert_int_eq(nb_to_array(back, back->dtype, got), 0);
        ck_assert_msg(memcmp(want, got, nb) == 0, "tensor %s differs", names[i]);
        free(want);
        free(got);
    }
    /* read_into a non-contiguous destination, and checked mismatches */
    nb_tensor *dst = nb_transpose(nb_zeros(ctx, NB_F32, NB_SHAPE(5, 2)), 0, 1);
    ck_assert_int_eq(nb_safetensors_read_into(f, "t", dst), 0);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++) {
            int64_t ix[2] = {i, j};
            ck_assert_float_eq(nb_get(dst, ix), nb_get(at, ix));
        }
    nb_tensor *wrong = nb_zeros(ctx, NB_F32, NB_SHAPE(4, 3));
    ck_assert_int_eq(nb_safetensors_read_into(f, "layer.weight", wrong), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "[3,4] in the file"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "F32 [4,3] in the destination"));
    nb_tensor *wrong_dt = nb_zeros(ctx, NB_F32, NB_SHAPE(5));
    ck_assert_int_eq(nb_safetensors_read_into(f, "ints", wrong_dt), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "I32"));
    ck_assert_ptr_null(nb_safetensors_read(f, ctx, "nope"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "no tensor 'nope'"));
    nb_safetensors_close(f);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

/* A file written by Python's safetensors 0.8.0 (pip) with numpy:
 *   save({"w": np.array([[1.5, -2.0, 3.25], [0.0, 1e-3, -7.0]], dtype=np.float32),
 *         "idx": np.array([3, -1, 7, 2147483647], dtype=np.int32)},
 *        metadata={"format": "np", "note": "made by python safetensors"})
 * (files written by nabla were checked to load with safetensors.numpy/torch the same way). */
static const unsigned char PY_FILE[] = {
    0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65, 0x74, 0x61, 0x64,
    0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x6e, 0x6f, 0x74, 0x65, 0x22, 0x3a, 0x22, 0x6d,
    0x61, 0x64, 0x65, 0x20, 0x62, 0x79, 0x20, 0x70, 0x79, 0x74, 0x68, 0x6f, 0x6e, 0x20, 0x73, 0x61, 0x66,
    0x65, 0x74, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x73, 0x22, 0x2c, 0x22, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74,
    0x22, 0x3a, 0x22, 0x6e, 0x70, 0x22, 0x7d, 0x2c, 0x22, 0x77, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79,
    0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x32, 0x2c, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73,
    0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x30, 0x2c, 0x32, 0x34, 0x5d, 0x7d, 0x2c, 0x22, 0x69, 0x64, 0x78,
    0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x33, 0x32, 0x22, 0x2c,
    0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x34, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61,
    0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x32, 0x34, 0x2c, 0x34, 0x30, 0x5d,
    0x7d, 0x7d, 0x20, 0x20, 0x20, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x50, 0x40,
    0x00, 0x00, 0x00, 0x00, 0x6f, 0x12, 0x83, 0x3a, 0x00, 0x00, 0xe0, 0xc0, 0x03, 0x00, 0x00, 0x00, 0xff,
    0xff, 0xff, 0xff, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x7f,
};

/* f16 and bf16 tensors are saved as F16 / BF16 and load into f32 (or each other), converted. */
START_TEST(test_half_precision_files) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(1 << 20);
    const float v[6] = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-7f, 3.14159265f};
    nb_tensor *f = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), v);
    nb_tensor *h = nb_cast(f, NB_F16), *b = nb_cast(f, NB_BF16);
    ck_assert(h && b);
    nb_tensor *ts[2] = {h, b};
    const char *names[2] = {"h", "b"};
    char path[128];
    snprintf(path, sizeof path, "%s/half.safetensors", dir);
    ck_assert_int_eq(nb_safetensors_save(path, names, ts, 2, NULL, NULL, 0), 0);
    nb_safetensors *sf = nb_safetensors_open(path);
    ck_assert_msg(sf != NULL, "%s", nb_last_error());
    nb_dtype dt;
    int nd;
    int64_t shape[NB_MAX_DIMS];
    ck_assert_int_eq(nb_safetensors_info(sf, nb_safetensors_find(sf, "h"), &dt, &nd, shape), 0);
    ck_assert_int_eq(dt, NB_F16);
    /* into f32, contiguous and transposed: the values the casts give */
    nb_tensor *want_h = nb_cast(h, NB_F32), *want_b = nb_cast(b, NB_F32);
    nb_tensor *d1 = nb_zeros(ctx, NB_F32, NB_SHAPE(2, 3)),
              *d2 = nb_transpose(nb_zeros(ctx, NB_F32, NB_SHAPE(3, 2)), 0, 1);
    ck_assert_msg(nb_safetensors_read_into(sf, "h", d1) == 0, "%s", nb_last_error());
    ck_assert_msg(nb_safetensors_read_into(sf, "b", d2) == 0, "%s", nb_last_error());
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            int64_t ix[2] = {i, j};
            ck_assert_double_eq(nb_get(d1, ix), nb_get(want_h, ix));
            ck_assert_double_eq(nb_get(d2, ix), nb_get(want_b, ix));
        }
    ck_assert_double_eq(nb_get(d1, (int64_t[]){0, 2}), 0.0999755859375); /* 0.1 in f16 */
    ck_assert_double_eq(nb_get(d2, (int64_t[]){1, 0}), 65536.0);         /* 65504 in bf16 */
    /* f16 into bf16 goes through f32; an integer destination is still an error */
    nb_tensor *d3 = nb_zeros(ctx, NB_BF16, NB_SHAPE(2, 3));
    ck_assert_int_eq(nb_safetensors_read_into(sf, "h", d3), 0);
    ck_assert_double_eq(nb_get(d3, (int64_t[]){0, 1}), -2.5);
    nb_tensor *d4 = nb_zeros(ctx, NB_I32, NB_SHAPE(2, 3));
    ck_assert_int_eq(nb_safetensors_read_into(sf, "h", d4), -1);
    ck_assert_msg(strstr(nb_last_error(), "F16") && strstr(nb_last_error(), "I32"), "%s", nb_last_error());
    nb_safetensors_close(sf);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

START_TEST(test_reads_python_file) {
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    nb_safetensors *f = nb_safetensors_open_memory(PY_FILE, sizeof PY_FILE, "python.safetensors");
    ck_assert_msg(f != NULL, "%s", nb_last_error());
    ck_assert_int_eq(nb_safetensors_count(f), 2);
    ck_assert_str_eq(nb_safetensors_meta(f, "note"), "made by python safetensors");
    ck_assert_str_eq(nb_safetensors_meta(f, "format"), "np");
    nb_tensor *w = nb_safetensors_read(f, ctx, "w"), *idx = nb_safetensors_read(f, ctx, "idx");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(idx);
    ck_assert_int_eq(w->ndim, 2);
    ck_assert_int_eq(w->shape[1], 3);
    const float wv[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(nb_data_f32(w)[i], wv[i]);
    const int32_t iv[4] = {3, -1, 7, 2147483647};
    ck_assert_int_eq(idx->dtype, NB_I32);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(((int32_t *)nb_data(idx))[i], iv[i]);
    nb_safetensors_close(f);
    nb_ctx_free(ctx);
}
END_TEST

/* torch's default dtypes: I64 read as i32 (each value must fit), F64 as f32 (rounded, inf
 * beyond the f32 range); a torch BatchNorm's num_batches_tracked (I64) is ignored by
 * nb_module_load. */
START_TEST(test_reads_torch_wide_dtypes) {
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    const char *json = "{\"t\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                       "\"x\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[24,48]}}";
    size_t len;
    unsigned char *b = image(json, 48, &len);
    const int64_t tv[3] = {5, -2, 2147483647};
    const double xv[3] = {0.1, -1e300, 3.0};
    memcpy(b + 8 + strlen(json), tv, 24);
    memcpy(b + 8 + strlen(json) + 24, xv, 24);
    nb_safetensors *f = nb_safetensors_open_memory(b, len, "torch.safetensors");
    ck_assert_msg(f != NULL, "%s", nb_last_error());
    nb_dtype dt;
    ck_assert_int_eq(nb_safetensors_info(f, 0, &dt, NULL, NULL), 0);
    ck_assert_int_eq(dt, NB_I32);
    nb_tensor *t = nb_safetensors_read(f, ctx, "t"), *x = nb_safetensors_read(f, ctx, "x");
    ck_assert(t && t->dtype == NB_I32 && x && x->dtype == NB_F32);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(((int32_t *)nb_data(t))[i], (int32_t)tv[i]);
    ck_assert(nb_data_f32(x)[0] == 0.1f && nb_data_f32(x)[1] == -INFINITY && nb_data_f32(x)[2] == 3.0f);
    nb_tensor *dst = nb_zeros(ctx, NB_F32, NB_SHAPE(3));
    ck_assert_int_eq(nb_safetensors_read_into(f, "x", dst), 0);
    ck_assert(nb_data_f32(dst)[0] == 0.1f);
    nb_safetensors_close(f);
    /* an I64 value beyond i32 */
    const int64_t big = 1LL << 40;
    memcpy(b + 8 + strlen(json) + 8, &big, 8);
    f = nb_safetensors_open_memory(b, len, "torch.safetensors");
    ck_assert_ptr_null(nb_safetensors_read(f, ctx, "t"));
    ck_assert_ptr_nonnull(
        strstr(nb_last_error(), "holds the I64 value 1099511627776 at 1, outside the i32 range"));
    nb_safetensors_close(f);
    free(b);
    /* a torch BatchNorm state: its counter is skipped, the rest loads */
    make_dir();
    char path[160];
    snprintf(path, sizeof path, "%s/bn.safetensors", dir);
    const char *bj = "{\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
                     "\"running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                     "\"running_var\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                     "\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}";
    unsigned char *bb = image(bj, 40, &len);
    const float vals[10] = {0.5f, -0.5f, 0, 0, 1.0f, 2.0f, 3.0f, 4.0f, 1.5f, 2.5f};
    memcpy(bb + 8 + strlen(bj), vals, 40);
    const int64_t seven = 7;
    memcpy(bb + 8 + strlen(bj) + 8, &seven, 8);
    FILE *fp = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(bb, 1, len, fp), len);
    fclose(fp);
    free(bb);
    nb_module *bn = nb_batchnorm_new(ctx, 2, 1e-5f, 0.1f);
    ck_assert_msg(nb_module_load(bn, path) == 0, "%s", nb_last_error());
    ck_assert_float_eq(nb_data_f32(nb_module_param(bn, "running_var"))[1], 4.0f);
    ck_assert_float_eq(nb_data_f32(nb_module_param(bn, "weight"))[0], 1.5f);
    nb_module_free(bn);
    remove_dir();
    nb_ctx_free(ctx);
}
END_TEST

/* The bytes on disk follow the format, checked independently with jansson. */
START_TEST(test_layout) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    float v[6] = {1, 2, 3, 4, 5, 6};
    nb_tensor *a = nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), v);
    int32_t iv[2] = {7, 8};
    nb_tensor *b = nb_from_data(ctx, NB_I32, NB_SHAPE(2), iv);
    nb_tensor *ts[2] = {a, b};
    const char *names[2] = {"a", "b"}, *mk[1] = {"k"}, *mv[1] = {"v"};
    char path[128];
    snprintf(path, sizeof path, "%s/l.safetensors", dir);
    ck_assert_int_eq(nb_safetensors_save(path, names, ts, 2, mk, mv, 1), 0);
    size_t len;
    unsigned char *buf = read_all(path, &len);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | buf[i];
    ck_assert_uint_eq(h % 8, 0); /* padded so the data is aligned */
    ck_assert_uint_eq(len, 8 + h + 24 + 8);
    json_error_t e;
    json_t *root = json_loadb((const char *)buf + 8, h, 0, &e);
    ck_assert_ptr_nonnull(root);
    json_t *ja = json_object_get(root, "a");
    ck_assert_str_eq(json_string_value(json_object_get(ja, "dtype")), "F32");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(ja, "shape"), 1)), 3);
    json_t *off = json_object_get(json_object_get(root, "b"), "data_offsets");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "b"), "dtype")), "I32");
    int64_t b0 = json_integer_value(json_array_get(off, 0)), b1 = json_integer_value(json_array_get(off, 1));
    ck_assert_int_eq(b1 - b0, 8);
    int32_t got[2];
    memcpy(got, buf + 8 + h + b0, 8);
    ck_assert_int_eq(got[0], 7);
    ck_assert_int_eq(got[1], 8);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "__metadata__"), "k")), "v");
    json_decref(root);
    free(buf);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

START_TEST(test_truncated_everywhere) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    nb_tensor *a = nb_ones(ctx, NB_F32, NB_SHAPE(3, 5));
    nb_tensor *b = nb_full(ctx, NB_I32, NB_SHAPE(4), 3);
    nb_tensor *ts[2] = {a, b};
    const char *names[2] = {"a", "b"};
    char path[128];
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    ck_assert_int_eq(nb_safetensors_save(path, names, ts, 2, NULL, NULL, 0), 0);
    size_t len;
    unsigned char *buf = read_all(path, &len);
    for (size_t k = 0; k < len; k++) {
        unsigned char *cut = malloc(k + 1); /* exact size: ASan catches any over-read */
        memcpy(cut, buf, k);
        nb_clear_error();
        nb_safetensors *f = nb_safetensors_open_memory(cut, k, "cut");
        ck_assert_msg(f == NULL, "truncated at %zu of %zu was accepted", k, len);
        ck_assert_msg(strstr(nb_last_error(), "safetensors cut:") != NULL, "at %zu: '%s'", k,
                      nb_last_error());
        free(cut);
    }
    /* the same on disk, through nb_safetensors_open and nb_module_load */
    FILE *fp = fopen(path, "wb");
    fwrite(buf, 1, len - 3, fp);
    fclose(fp);
    ck_assert_ptr_null(nb_safetensors_open(path));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "out of range"));
    nb_safetensors *ok = nb_safetensors_open_memory(buf, len, "whole");
    ck_assert_ptr_nonnull(ok);
    nb_safetensors_close(ok);
    /* bytes past the last tensor, or before one, belong to no tensor: refused, as the format's
     * reference reader refuses them */
    unsigned char *more = malloc(len + 4);
    memcpy(more, buf, len);
    memset(more + len, 0, 4);
    ck_assert_ptr_null(nb_safetensors_open_memory(more, len + 4, "longer"));
    ck_assert_msg(strstr(nb_last_error(), "4 bytes after the last tensor belong to no tensor"), "%s",
                  nb_last_error());
    free(more);
    static const char gap_hdr[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    unsigned char gap[8 + sizeof gap_hdr - 1 + 8] = {(unsigned char)(sizeof gap_hdr - 1)};
    memcpy(gap + 8, gap_hdr, sizeof gap_hdr - 1);
    ck_assert_ptr_null(nb_safetensors_open_memory(gap, sizeof gap, "gap"));
    ck_assert_msg(strstr(nb_last_error(), "4 bytes before tensor 'a' belong to no tensor"), "%s",
                  nb_last_error());
    free(buf);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

START_TEST(test_corrupt_headers) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 16, "out of range");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 16, "out of range");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, "needs 12 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
               "\"data_offsets\":[0,16]}}",
               16, "span 16");
    expect_bad("{\"a\":{\"dtype\":\"X99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
    expect_bad("{\"a\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "unsupported dtype");
    expect_bad("{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs 16 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "invalid shape");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
               "9 dimensions");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "invalid data_offsets");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks");
    expect_bad("{\"a\":3}", 0, "not an object");
    expect_bad("[1,2,3]", 0, "not a JSON object");
    expect_bad("{\"a\": ", 0, "invalid JSON");
    expect_bad("{\"a\":{},\"a\":{}}", 0, "invalid JSON"); /* duplicate names */
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    /* header length field too large for the file, and a file too short */
    size_t len;
    unsigned char *b = image("{}", 0, &len);
    b[0] = 200;
    nb_safetensors *f = nb_safetensors_open_memory(b, len, "big.safetensors");
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "exceeds the file size"));
    memset(b, 0xff, 8);
    ck_assert_ptr_null(nb_safetensors_open_memory(b, len, "huge.safetensors"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "exceeds the file size"));
    free(b);
    ck_assert_ptr_null(nb_safetensors_open_memory("abc", 3, "short"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "too short"));
    ck_assert_ptr_null(nb_safetensors_open("/nonexistent/dir/x.safetensors"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cannot open"));
    /* an empty header object is a valid (empty) file */
    b = image("{}      ", 0, &len);
    f = nb_safetensors_open_memory(b, len, "empty");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(nb_safetensors_count(f), 0);
    nb_safetensors_close(f);
    free(b);
}
END_TEST

/* The 100 MB limit on the header, on a sparse file. */
START_TEST(test_header_limit) {
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    FILE *fp = fopen(path, "wb");
    uint64_t h = ((uint64_t)100 << 20) + 8;
    unsigned char l8[8];
    for (int i = 0; i < 8; i++)
        l8[i] = (unsigned char)(h >> (8 * i));
    fwrite(l8, 1, 8, fp);
    ck_assert_int_eq(ftruncate(fileno(fp), (off_t)(h + 8)), 0);
    fclose(fp);
    ck_assert_ptr_null(nb_safetensors_open(path));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "100 MB"));
    /* reading from the failed open keeps its message (as the ops' NULL guards do) */
    ck_assert_ptr_null(nb_safetensors_read(nb_safetensors_open(path), NULL, "x"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "100 MB"));
    nb_clear_error();
    ck_assert_ptr_null(nb_safetensors_read(NULL, NULL, "x"));
    ck_assert_str_eq(nb_last_error(), "safetensors_read: NULL file");
    remove_dir();
}
END_TEST

START_TEST(test_save_errors_keep_old_file) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    nb_tensor *a = nb_ones(ctx, NB_F32, NB_SHAPE(4));
    nb_tensor *ts[2] = {a, a};
    const char *names[2] = {"a", "a"};
    char path[128];
    snprintf(path, sizeof path, "%s/keep.safetensors", dir);
    ck_assert_int_eq(nb_safetensors_save(path, names, ts, 1, NULL, NULL, 0), 0);
    size_t l0, l1;
    unsigned char *before = read_all(path, &l0);
    ck_assert_int_eq(nb_safetensors_save(path, names, ts, 2, NULL, NULL, 0), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "duplicate tensor name"));
    nb_tensor *f16 = nb_empty(ctx, NB_I32, NB_SHAPE(2));
    f16->dtype = (nb_dtype)99;
    ck_assert_int_eq(nb_safetensors_save(path, names, &f16, 1, NULL, NULL, 0), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "unsupported dtype"));
    const char *bad_utf8[1] = {"\xff\xfe"};
    ck_assert_int_eq(nb_safetensors_save(path, bad_utf8, ts, 1, NULL, NULL, 0), -1);
    ck_assert_int_eq(nb_safetensors_save("/nonexistent/dir/x.safetensors", names, ts, 1, NULL, NULL, 0), -1);
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "/nonexistent/dir/x.safetensors"));
    unsigned char *after = read_all(path, &l1);
    ck_assert_uint_eq(l0, l1);
    ck_assert(memcmp(before, after, l0) == 0);
    ck_assert_int_eq(count_files(), 1);
    free(before);
    free(after);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

/* A process killed while saving over and over leaves a complete file: either
 * the old contents or the new ones, never a mix. */
START_TEST(test_crash_during_save) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(16 << 20);
    nb_tensor *old = nb_full(ctx, NB_F32, NB_SHAPE(1 << 20), 1.0);
    nb_tensor *nw = nb_full(ctx, NB_F32, NB_SHAPE(1 << 20), 2.0);
    const char *names[1] = {"w"};
    char path[128];
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    ck_assert_int_eq(nb_safetensors_save(path, names, &old, 1, NULL, NULL, 0), 0);
    for (int trial = 0; trial < 3; trial++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            for (;;)
                nb_safetensors_save(path, names, &nw, 1, NULL, NULL, 0);
        }
        struct timespec ts = {0, 20000000L * (trial + 1)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        nb_safetensors *f = nb_safetensors_open(path);
        ck_assert_msg(f != NULL, "after a crash: %s", nb_last_error());
        nb_tensor *w = nb_safetensors_read(f, ctx, "w");
        float first = nb_data_f32(w)[0];
        ck_assert(first == 1.0f || first == 2.0f);
        for (int64_t i = 0; i < nb_numel(w); i += 4097)
            ck_assert_float_eq(nb_data_f32(w)[i], first);
        nb_safetensors_close(f);
    }
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

START_TEST(test_module_save_load) {
    make_dir();
    nb_ctx *ctx = nb_ctx_new(1 << 20);
    nb_rng r;
    nb_rng_init(&r, 3);
    /* a tiny "GPT-ish" tree with a tied head */
    nb_module *m = nb_module_new("Model", ctx, NULL, 0);
    nb_module *wte = nb_embedding_new(ctx, 10, 4, &r), *head = nb_linear_new(ctx, 4, 10, false, &r);
    ck_assert_int_eq(nb_module_add(m, "wte", wte), 0);
    ck_assert_int_eq(nb_module_add(m, "ln_f", nb_layernorm_new(ctx, 4, 1e-5f, true)), 0);
    ck_assert_int_eq(nb_module_add(m, "lm_head", head), 0);
    ck_assert_int_eq(nb_module_set_param(head, "weight", nb_module_param(m, "wte.weight")), 0);
    ck_assert_int_eq(nb_module_num_params(m), 40 + 8);
    char path[128];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ck_assert_int_eq(nb_module_save(m, path, NULL, NULL, 0), 0);
    nb_safetensors *f = nb_safetensors_open(path);
    ck_assert_int_eq(nb_safetensors_count(f), 3); /* the tied tensor once */
    ck_assert_int_ge(nb_safetensors_find(f, "wte.weight"), 0);
    ck_assert_int_lt(nb_safetensors_find(f, "lm_head.weight"), 0);
    nb_safetensors_close(f);

    /* a fresh model with other weights loads back bit-exactly, tie kept */
    nb_rng_init(&r, 99);
    nb_module *m2 = nb_module_new("Model", ctx, NULL, 0);
    nb_module *head2 = nb_linear_new(ctx, 4, 10, false, &r);
    nb_module_add(m2, "wte", nb_embedding_new(ctx, 10, 4, &r));
    nb_module_add(m2, "ln_f", nb_layernorm_new(ctx, 4, 1e-5f, true));
    nb_module_add(m2, "lm_head", head2);
    nb_module_set_param(head2, "weight", nb_module_param(m2, "wte.weight"));
    nb_fill_(nb_module_param(m2, "ln_f.bias"), 5.0);
    ck_assert_int_eq(nb_module_load(m2, path), 0);
    const char *pn[3] = {"wte.weight", "ln_f.weight", "ln_f.bias"};
    for (int i = 0; i < 3; i++) {
        nb_tensor *x = nb_module_param(m, pn[i]), *y = nb_module_param(m2, pn[i]);
        ck_assert(memcmp(nb_data(x), nb_data(y), (size_t)nb_numel(x) * 4) == 0);
    }
    ck_assert_ptr_eq(nb_module_param(m2, "lm_head.weight"), nb_module_param(m2, "wte.weight"));

    /* mismatches: every one is reported, nothing is changed */
    nb_module *m3 = nb_module_new("Model", ctx, NULL, 0);
    nb_module_add(m3, "wte", nb_embedding_new(ctx, 12, 4, &r));
    nb_module_add(m3, "ln_f", nb_layernorm_new(ctx, 4, 1e-5f, false));
    nb_module_add(m3, "extra", nb_linear_new(ctx, 2, 2, true, &r));
    float before = nb_data_f32(nb_module_param(m3, "wte.weight"))[0];
    ck_assert_int_eq(nb_module_load(m3, path), -1);
    const char *err = nb_last_error();
    ck_assert_msg(strstr(err, "4 problems"), "%s", err);
    ck_assert_msg(strstr(err, "'wte.weight' is f32 [10,4] in the file but f32 [12,4] in the model"), "%s",
                  err);
    ck_assert_msg(strstr(err, "missing tensor 'extra.weight'"), "%s", err);
    ck_assert_msg(strstr(err, "missing tensor 'extra.bias'"), "%s", err);
    ck_assert_msg(strstr(err, "unexpected tensor 'ln_f.bias'"), "%s", err);
    ck_assert_float_eq(nb_data_f32(nb_module_param(m3, "wte.weight"))[0], before);
    nb_module_free(m);
    nb_module_free(m2);
    nb_module_free(m3);
    nb_ctx_free(ctx);
    remove_dir();
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("nn_safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip_bit_exact);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_reads_python_file);
    tcase_add_test(tc, test_reads_torch_wide_dtypes);
    tcase_add_test(tc, test_half_precision_files);
    tcase_add_test(tc, test_truncated_everywhere);
    tcase_add_test(tc, test_corrupt_headers);
    tcase_add_test(tc, test_header_limit);
    tcase_add_test(tc, test_save_errors_keep_old_file);
    tcase_add_test(tc, test_crash_during_save);
    tcase_add_test(tc, test_module_save_load);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
