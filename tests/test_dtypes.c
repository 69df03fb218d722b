/* Conversions between dtypes: f16 and bf16 against reference roundings computed here from the
 * formats' definitions, saturating float -> i32 casts, and the limits of fills and arange. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"
#include "tests/nb_check.h"

static nb_ctx *ctx;
static void setup(void) {
    ctx = nb_ctx_new(1 << 20);
    nb_clear_error();
}
static void teardown(void) { nb_ctx_free(ctx); }

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The value of f16 bit pattern h, from the format's definition (1 sign, 5 exponent bits with
 * bias 15, 10 mantissa bits). */
static double f16_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Reference f32 -> f16: the nearest f16 value, ties to the even bit pattern. Past 65504 the
 * next step would be 65536 (the encoding of infinity), so 65520 and above round to infinity, as
 * IEEE 754 says. */
static uint16_t f16_ref(float x) {
    if (isnan(x)) return 0x7e00;
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs((double)x);
    if (a >= 65536.0) return sign | 0x7c00;
    unsigned lo = 0, hi = 0x7c00; /* values of 0..0x7bff, with 0x7c00 standing for 65536 */
    while (lo + 1 < hi) {         /* largest b with value(b) <= a */
        unsigned mid = (lo + hi) / 2;
        if (f16_value((uint16_t)mid) <= a)
            lo = mid;
        else
            hi = mid;
    }
    double vlo = f16_value((uint16_t)lo), vhi = lo + 1 == 0x7c00 ? 65536.0 : f16_value((uint16_t)(lo + 1));
    unsigned b = lo;
    if (a - vlo > vhi - a || (a - vlo == vhi - a && (lo & 1))) b = lo + 1;
    if (a == vlo) b = lo;
    return (uint16_t)(sign | b);
}

/* Reference f32 -> bf16: the nearer of the two truncations, ties to even. */
static uint16_t bf16_ref(float x) {
    if (isnan(x)) return (uint16_t)((bits_of(x) >> 16) | 0x40);
    if (isinf(x)) return (uint16_t)(bits_of(x) >> 16);
    uint32_t u = bits_of(x), lo = u & 0xffff0000u, hi = lo + 0x10000u;
    float flo, fhi;
    memcpy(&flo, &lo, 4);
    memcpy(&fhi, &hi, 4);
    double dlo = fabs((double)x - flo), dhi = fabs((double)fhi - x);
    if (isinf(fhi)) dhi = fabs(ldexp(1.0, 128) * (signbit(x) ? -1 : 1) - (double)x);
    uint32_t r = dlo < dhi || (dlo == dhi && !((lo >> 16) & 1)) ? lo : hi;
    return (uint16_t)(r >> 16);
}

START_TEST(f16_to_f32_exhaustive) {
    /* every one of the 65536 patterns, through a transposed view */
    uint16_t *h = malloc(65536 * 2);
    for (unsigned i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    nb_tensor *t = nb_from_data(ctx, NB_F16, NB_SHAPE(256, 256), h);
    ck_assert_ptr_nonnull(t);
    nb_tensor *f = nb_cast(nb_transpose(t, 0, 1), NB_F32);
    ck_assert_msg(f != NULL, "%s", nb_last_error());
    const float *p = nb_data_f32(f);
    for (unsigned r = 0; r < 256; r++)
        for (unsigned c = 0; c < 256; c++) {
            uint16_t v = (uint16_t)(c * 256 + r);
            double want = f16_value(v);
            float got = p[r * 256 + c];
            if (isnan(want))
                ck_assert_msg(isnan(got), "f16 %04x: %g, not NaN", v, (double)got);
            else
                ck_assert_msg((double)got == want && !signbit(got) == !signbit(want), "f16 %04x: %g, want %g",
                              v, (double)got, want);
        }
    /* and back: every f16 value survives the trip exactly (NaNs stay NaN) */
    nb_tensor *back = nb_cast(f, NB_F16);
    ck_assert_ptr_nonnull(back);
    const uint16_t *b = nb_data(back);
    for (unsigned r = 0; r < 256; r++)
        for (unsigned c = 0; c < 256; c++) {
            uint16_t v = (uint16_t)(c * 256 + r), g = b[r * 256 + c];
            if (isnan(f16_value(v)))
                ck_assert_msg((g & 0x7c00) == 0x7c00 && (g & 0x3ff), "NaN %04x -> %04x", v, g);
            else
                ck_assert_msg(g == v, "f16 %04x -> f32 -> %04x", v, g);
        }
    free(h);
}
END_TEST

START_TEST(f32_to_16bit_rounding) {
    /* edge cases, then random f32 bit patterns across f16's range and beyond */
    enum { N = 40000 };
    float *x = malloc(sizeof(float) * N);
    const float edge[] = {0.0f,
                          -0.0f,
                          1.0f,
                          1.0f + 0x1p-11f,
                          1.0f + 3 * 0x1p-11f,
                          65504.0f,
                          65519.99f,
                          65520.0f,
                          -65520.0f,
                          1e9f,
                          0x1p-24f,
                          0x1p-25f,
                          0x1.8p-25f,
                          0x1p-26f,
                          0x1.ff8p-15f,
                          0x1.ffcp-15f,
                          INFINITY,
                          -INFINITY,
                          NAN,
                          3.14159265f,
                          0x1.01p0f,
                          0x1.03p0f,
                          -0x1.01p0f};
    int ne = (int)(sizeof edge / sizeof edge[0]);
    memcpy(x, edge, sizeof edge);
    nb_rng r = {7, 0};
    for (int i = ne; i < N; i++) {
        /* exponents from 2^-30 to 2^17, random mantissa and sign, a quarter of them ties */
        uint32_t m = (uint32_t)(nb_rng_uniform(&r) * 8388608.0f) & 0x7fffffu;
        uint32_t e = 97u + (uint32_t)(nb_rng_uniform(&r) * 47.0f);
        uint32_t s = nb_rng_uniform(&r) < 0.5f ? 0x80000000u : 0;
        if (i % 4 == 0) m = (m & ~0x1fffu) | 0x1000u; /* halfway between two f16 normals */
        if (i % 4 == 1) m = (m & ~0xffffu) | 0x8000u; /* halfway between two bf16 values */
        uint32_t u = s | (e << 23) | m;
        memcpy(&x[i], &u, 4);
    }
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(N), x);
    nb_tensor *h = nb_cast(t, NB_F16), *bf = nb_cast(t, NB_BF16);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(bf);
    const uint16_t *ph = nb_data(h), *pb = nb_data(bf);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(ph[i] == f16_ref(x[i]), "f32 %a -> f16 %04x, want %04x", (double)x[i], ph[i],
                      f16_ref(x[i]));
        ck_assert_msg(pb[i] == bf16_ref(x[i]), "f32 %a -> bf16 %04x, want %04x", (double)x[i], pb[i],
                      bf16_ref(x[i]));
    }
    /* bf16 -> f32 is exact: the pattern in the top half */
    nb_tensor *bb = nb_cast(bf, NB_F32);
    for (int i = 0; i < N; i++)
        if (!isnan(x[i])) ck_assert_uint_eq(bits_of(nb_data_f32(bb)[i]), (uint32_t)pb[i] << 16);
    /* f16 <-> bf16 goes through f32 */
    nb_tensor *hb = nb_cast(h, NB_BF16);
    ck_assert_ptr_nonnull(hb);
    for (int i = 0; i < N; i++)
        if (!isnan(x[i])) ck_assert_uint_eq(((uint16_t *)nb_data(hb))[i], bf16_ref((float)f16_value(ph[i])));
    free(x);
}
END_TEST

START_TEST(sixteen_bit_tensors_behave) {
    nb_tensor *z = nb_zeros(ctx, NB_F16, NB_SHAPE(3, 4)), *o = nb_ones(ctx, NB_BF16, NB_SHAPE(5));
    ck_assert_msg(z && o, "%s", nb_last_error());
    ck_assert_double_eq(nb_get(z, (int64_t[]){2, 3}), 0.0);
    ck_assert_double_eq(nb_item(nb_reshape(nb_sum(nb_cast(o, NB_F32), 0, NULL, false), 0, NULL)), 5.0);
    nb_tensor *v = nb_full(ctx, NB_F16, NB_SHAPE(2), 0.1);
    ck_assert_double_eq(nb_get(v, (int64_t[]){1}), f16_value(0x2e66)); /* 0.0999755859375 */
    ck_assert_double_eq(nb_item(nb_full(ctx, NB_BF16, NB_SHAPE(1), -3.0)), -3.0);
    /* copy_ between 16-bit and other dtypes, into a strided destination */
    nb_tensor *f = nb_arange(ctx, NB_F32, 0, 12, 1), *dst = nb_zeros(ctx, NB_F16, NB_SHAPE(4, 3));
    ck_assert_int_eq(nb_copy_(nb_transpose(dst, 0, 1), nb_reshape(f, NB_SHAPE(3, 4))), 0);
    ck_assert_double_eq(nb_get(dst, (int64_t[]){1, 2}), 9.0); /* dst^T[2][1] = f[2*4+1] */
    float out[12];
    ck_assert_int_eq(nb_to_array(dst, NB_F32, out), 0);
    ck_assert_float_eq(out[3], 1.0f);
    int32_t oi[12];
    ck_assert_int_eq(nb_to_array(dst, NB_I32, oi), 0);
    ck_assert_int_eq(oi[11], 11);
    /* printing goes through f32 */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    nb_print(v, m);
    fclose(m);
    ck_assert_msg(strstr(buf, "0.09998") != NULL, "%s", buf);
    free(buf);
}
END_TEST

START_TEST(float_to_i32_saturates) {
    const float x[] = {NAN,           INFINITY,       -INFINITY, 3e9f,  -3e9f,
                       2147483520.0f, -2147483648.0f, 2.9f,      -2.9f, -0.5f};
    const int32_t want[] = {0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 2147483520, INT32_MIN, 2, -2, 0};
    nb_tensor *t = nb_from_data(ctx, NB_F32, NB_SHAPE(10), x);
    nb_tensor *i = nb_cast(t, NB_I32), *ih = nb_cast(nb_cast(t, NB_F16), NB_I32);
    ck_assert_ptr_nonnull(i);
    ck_assert_ptr_nonnull(ih);
    for (int k = 0; k < 10; k++)
        ck_assert_msg(((int32_t *)nb_data(i))[k] == want[k], "%g -> %d, want %d", (double)x[k],
                      ((int32_t *)nb_data(i))[k], want[k]);
    /* through f16: 3e9 is infinity there, 2147483520 too; both saturate */
    ck_assert_int_eq(((int32_t *)nb_data(ih))[5], INT32_MAX);
    ck_assert_int_eq(((int32_t *)nb_data(ih))[0], 0);
    /* fills clamp the same way */
    ck_assert_double_eq(nb_item(nb_full(ctx, NB_I32, NB_SHAPE(1), 1e30)), INT32_MAX);
    ck_assert_double_eq(nb_item(nb_full(ctx, NB_I32, NB_SHAPE(1), -1e30)), INT32_MIN);
    ck_assert_double_eq(nb_item(nb_full(ctx, NB_I32, NB_SHAPE(1), NAN)), 0);
}
END_TEST

START_TEST(arange_limits) {
    nb_tensor *a = nb_arange(ctx, NB_F32, 0, 1e30, 1);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(nb_last_error(), "too many") != NULL, "%s", nb_last_error());
    a = nb_arange(ctx, NB_I32, 0, 1e10, 1e9);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(nb_last_error(), "outside the i32 range") != NULL, "%s", nb_last_error());
    a = nb_arange(ctx, NB_I32, 2147483640.0, 2147483648.0, 1); /* the last value fits */
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(((int32_t *)nb_data(a))[7], INT32_MAX);
    a = nb_arange(ctx, NB_I32, -2147483648.0, -2147483646.0, 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(((int32_t *)nb_data(a))[0], INT32_MIN);
    ck_assert_ptr_null(nb_arange(ctx, NB_F32, 0, 1, NAN));
    /* 16-bit ranges: each value rounded from f32 (0.1 steps are not exact in either) */
    for (int dt = NB_F16; dt <= NB_BF16; dt++) {
        nb_tensor *h = nb_arange(ctx, (nb_dtype)dt, 0, 2, 0.1);
        ck_assert_ptr_nonnull(h);
        ck_assert_int_eq(nb_numel(h), 20);
        for (int i = 0; i < 20; i++) {
            float want = (float)(0.1 * i);
            uint16_t bits = ((uint16_t *)nb_data(h))[i];
            ck_assert_uint_eq(bits, dt == NB_F16 ? f16_ref(want) : bf16_ref(want));
        }
    }
    ck_assert_ptr_null(nb_cast(nb_zeros(ctx, NB_F32, NB_SHAPE(1)), (nb_dtype)9));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("dtypes");
    TCase *tc = tcase_create("dtypes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, f16_to_f32_exhaustive);
    tcase_add_test(tc, f32_to_16bit_rounding);
    tcase_add_test(tc, sixteen_bit_tensors_behave);
    tcase_add_test(tc, float_to_i32_saturates);
    tcase_add_test(tc, arange_limits);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
