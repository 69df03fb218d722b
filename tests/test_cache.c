/* test_cache.c - the token cache: save and load, misses on a changed key and on damaged files
 * (checksum, truncation, a huge count, a bad magic), an empty list, an unwritable folder; cache
 * keys and the FNV-1a file hashes. */
#include <stdint.h>
#include <unistd.h>

#include "examples/babygpt/cache.h"
#include "tests/nb_check.h"
#include "tests/tmp_files.h"

START_TEST(cache_round_trip_and_corruption) {
    make_tmpdir();
    char dir[128], path[256], why[512];
    snprintf(dir, sizeof dir, "%s/sub/nabla", tmpdir); /* created on save */
    int32_t ids[1000];
    for (int i = 0; i < 1000; i++)
        ids[i] = (i * 7919) % 50257 - (i == 3 ? 100 : 0);
    const char *parts[] = {"train.csv", "encoder.json"};
    size_t lens[] = {9, 12};
    uint64_t key = bg_cache_key((const void *const *)parts, lens, 2);
    int32_t *got = NULL;
    size_t n = 99;
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_MISS);
    ck_assert_ptr_null(got);
    ck_assert_uint_eq(n, 0);
    char err[256] = "";
    ck_assert_msg(bg_cache_save(dir, key, ids, 1000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_HIT);
    ck_assert_uint_eq(n, 1000);
    ck_assert_mem_eq(got, ids, sizeof ids);
    free(got);
    ck_assert_int_eq(bg_cache_load(dir, key ^ 1, &got, &n, NULL, 0), BG_CACHE_MISS);

    /* flip one payload byte: checksum mismatch */
    ck_assert_int_eq(bg_cache_path(dir, key, path, sizeof path), 0);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 40 + 123, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 40 + 123, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_MISS);
    ck_assert_ptr_nonnull(strstr(why, "checksum"));
    ck_assert_ptr_null(got);

    /* truncated file */
    ck_assert_int_eq(bg_cache_save(dir, key, ids, 1000, err, sizeof err), 0);
    ck_assert_int_eq(truncate(path, 40 + 4 * 500), 0);
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_MISS);
    ck_assert_int_eq(truncate(path, 10), 0);
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_MISS);

    /* a huge count in a short file must not allocate or crash */
    unsigned char hdr[40] = {'N', 'B', 'T', 'O', 'K', 'C', 0, 1, 1, 0, 0, 0, 4, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        hdr[16 + i] = (unsigned char)(key >> (8 * i));
    memset(hdr + 24, 0xff, 8);
    write_file(path, (const char *)hdr, sizeof hdr);
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_MISS);
    write_file(path, "garbage garbage garbage garbage garbage garbage", 47);
    ck_assert_int_eq(bg_cache_load(dir, key, &got, &n, why, sizeof why), BG_CACHE_MISS);
    ck_assert_ptr_nonnull(strstr(why, "magic"));

    /* empty token list round-trips; save into a path that is a file fails cleanly */
    ck_assert_int_eq(bg_cache_save(dir, 7, NULL, 0, err, sizeof err), 0);
    ck_assert_int_eq(bg_cache_load(dir, 7, &got, &n, NULL, 0), BG_CACHE_HIT);
    ck_assert_uint_eq(n, 0);
    free(got);
    ck_assert_int_eq(bg_cache_save(path, 7, ids, 3, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    rm_dir(dir);
    snprintf(dir, sizeof dir, "%s/sub", tmpdir);
    rm_dir(dir);
    rm_dir(tmpdir);
}
END_TEST

START_TEST(cache_keys) {
    const char *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
    size_t l21[] = {2, 1}, l12[] = {1, 2};
    uint64_t k1 = bg_cache_key((const void *const *)ab_c, l21, 2);
    uint64_t k2 = bg_cache_key((const void *const *)a_bc, l12, 2);
    ck_assert_uint_ne(k1, k2);
    ck_assert_uint_eq(k1, bg_cache_key((const void *const *)ab_c, l21, 2));
    /* FNV-1a 64 of "a" is a published test vector */
    ck_assert_uint_eq(bg_hash_bytes(BG_FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cull);
    const char *p = temp_file(".txt", "one");
    uint64_t h1 = BG_FNV_OFFSET, h2 = BG_FNV_OFFSET, b1 = BG_FNV_OFFSET, b2 = BG_FNV_OFFSET;
    ck_assert_int_eq(bg_hash_file_stat(&h1, p), 0);
    ck_assert_int_eq(bg_hash_file_bytes(&b1, p), 0);
    write_file(p, "two!", 4);
    ck_assert_int_eq(bg_hash_file_stat(&h2, p), 0);
    ck_assert_int_eq(bg_hash_file_bytes(&b2, p), 0);
    ck_assert_uint_ne(h1, h2);
    ck_assert_uint_ne(b1, b2);
    unlink(p);
    ck_assert_int_eq(bg_hash_file_stat(&h1, p), -1);
    ck_assert_int_eq(bg_hash_file_bytes(&h1, p), -1);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cache_round_trip_and_corruption);
    tcase_add_test(tc, cache_keys);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
