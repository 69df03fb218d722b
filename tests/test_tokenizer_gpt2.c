/* test_tokenizer_gpt2.c - GPT-2 byte-level BPE on the real GPT-2 files (../shared/data/gpt2):
 * the vectors from tiktoken, known ids, the special token, Unicode edge cases, agreement with the
 * reference encoder on long pre-tokens, and random round trips. Skipped without the files. */
#include "examples/babygpt/tokenizer.h"
#include "tests/nb_check.h"
#include "tests/tokenizer_ref.h"

#include <jansson.h>
#include <stdint.h>
#include <unistd.h>

static const char *gpt2_dir(void) {
    static char path[4096];
    const char *d = nb_test_data_dir();
    if (!d) return NULL;
    snprintf(path, sizeof path, "%s/gpt2", d);
    char f[4200];
    snprintf(f, sizeof f, "%s/encoder.json", path);
    return access(f, R_OK) == 0 ? path : NULL;
}

/* ---- tests on the real GPT-2 files ---- */

START_TEST(test_gpt2_vectors) {
    char err[512] = "", path[4200];
    bg_tokenizer *t = bg_tokenizer_load(gpt2_dir(), err, sizeof err);
    ck_assert_msg(t != NULL, "load: %s", err);
    ck_assert_int_eq(bg_tokenizer_vocab_size(t), 50257);
    ck_assert_int_eq(bg_tokenizer_eot(t), 50256);
    snprintf(path, sizeof path, "%s/tokenizer_vectors.jsonl", gpt2_dir());
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(o != NULL, "vectors line %d: %s", lineno, je.text);
        json_t *jt = json_object_get(o, "text"), *ja = json_object_get(o, "ids");
        const char *text = json_string_value(jt);
        size_t tl = json_string_length(jt), ne = json_array_size(ja);
        int32_t *ids, *want = malloc((ne + 1) * sizeof *want);
        size_t n_ids, out_len;
        for (size_t i = 0; i < ne; i++)
            want[i] = (int32_t)json_integer_value(json_array_get(ja, i));
        ck_assert_int_eq(bg_tokenizer_encode(t, text, tl, 1, &ids, &n_ids), BG_TOK_OK);
        ck_assert_msg(n_ids == ne, "line %d: %zu ids, want %zu", lineno, n_ids, ne);
        for (size_t i = 0; i < ne; i++)
            ck_assert_msg(ids[i] == want[i], "line %d id %zu: %d want %d", lineno, i, ids[i], want[i]);
        /* decode of the expected ids, whole and token by token (bytes may split characters) */
        char *back = bg_tokenizer_decode(t, want, ne, &out_len);
        ck_assert_ptr_nonnull(back);
        ck_assert_msg(out_len == tl && memcmp(back, text, tl) == 0, "line %d: decode differs", lineno);
        size_t pos = 0;
        for (size_t i = 0; i < ne; i++) {
            size_t l;
            const char *b = bg_tokenizer_token_bytes(t, want[i], &l);
            ck_assert_ptr_nonnull(b);
            ck_assert(pos + l <= tl && memcmp(text + pos, b, l) == 0);
            pos += l;
        }
        ck_assert_uint_eq(pos, tl);
        free(back), free(ids), free(want);
        json_decref(o);
    }
    free(line);
    fclose(f);
    ck_assert_int_ge(lineno, 100);
    bg_tokenizer_free(t);
}
END_TEST

START_TEST(test_gpt2_known_and_special) {
    char err[512];
    bg_tokenizer *t = bg_tokenizer_load(gpt2_dir(), err, sizeof err);
    ck_assert_msg(t != NULL, "load: %s", err);
    int32_t *ids;
    size_t n;
    const char *s = "Hello<|endoftext|> world";
    ck_assert_int_eq(bg_tokenizer_encode(t, s, strlen(s), 1, &ids, &n), 0);
    ck_assert_uint_eq(n, 3); /* Hello, <|endoftext|>, " world" */
    ck_assert_int_eq(ids[0], 15496);
    ck_assert_int_eq(ids[1], 50256);
    ck_assert_int_eq(ids[2], 995);
    free(ids);
    ck_assert_int_eq(bg_tokenizer_encode(t, s, strlen(s), 0, &ids, &n), 0);
    ck_assert_uint_gt(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], 50256);
    free(ids);
    size_t l;
    const char *b = bg_tokenizer_token_bytes(t, 50256, &l);
    ck_assert(l == 13 && memcmp(b, "<|endoftext|>", 13) == 0);
    /* Unicode 15/16 letters and numbers, U+180E / U+0085 / U+001C-U+001F (not White_Space in
     * tiktoken), Unicode line separators: ids from tiktoken 0.14's gpt2 encoding */
    static const struct {
        const char *text;
        int32_t ids[16];
        size_t n;
    } uni[] = {
        {"\xf0\xb1\x8d\x90'd", {172, 109, 235, 238, 1549}, 5},
        {"a\xe1\xa0\x8e b\xe1\xa0\x8e", {64, 157, 254, 236, 275, 157, 254, 236}, 8},
        {"x\xc2\x85y  \xc2\x85 z", {87, 126, 227, 88, 220, 1587, 227, 1976}, 8},
        {"\xf0\x9e\x93\xb0\xf0\x9e\x93\xb1'll 1\xf0\x9e\x93\xb2",
         {172, 252, 241, 108, 172, 252, 241, 109, 1183, 352, 172, 252, 241, 110},
         14},
        {"\xe1\xb2\x89\xe1\xb2\x8a've", {157, 110, 231, 157, 110, 232, 1053}, 7},
        {"\xe3\x80\x80\xe3\x80\x80x \xe2\x80\xa8\xe2\x80\xa9",
         {5099, 222, 5099, 222, 87, 564, 101, 447, 102},
         9},
        {"\x1c\x1d a\x1f", {216, 217, 257, 219}, 4},
    };
    for (size_t k = 0; k < sizeof uni / sizeof *uni; k++) {
        ck_assert_int_eq(bg_tokenizer_encode(t, uni[k].text, strlen(uni[k].text), 1, &ids, &n), 0);
        ck_assert_msg(n == uni[k].n, "case %zu: %zu ids, want %zu", k, n, uni[k].n);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(ids[i], uni[k].ids[i]);
        free(ids);
    }
    /* long single pre-tokens (heap path) agree with the O(n^2) reference */
    rng_state = 7;
    check_against_reference(t, "abcdeorst", 150, 40);
    check_against_reference(t, "aab", 90, 30);
    bg_tokenizer_free(t);
}
END_TEST

START_TEST(test_gpt2_random_roundtrip) {
    char err[512], buf[600];
    bg_tokenizer *t = bg_tokenizer_load(gpt2_dir(), err, sizeof err);
    ck_assert_msg(t != NULL, "load: %s", err);
    rng_state = 99;
    for (int i = 0; i < 2000; i++) {
        size_t n = random_text(buf, sizeof buf);
        assert_roundtrip(t, buf, n, i & 1);
    }
    bg_tokenizer_free(t);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("tokenizer_gpt2");
    if (gpt2_dir()) {
        TCase *td = tcase_create("gpt2");
        tcase_set_timeout(td, 300);
        tcase_add_test(td, test_gpt2_vectors);
        tcase_add_test(td, test_gpt2_known_and_special);
        tcase_add_test(td, test_gpt2_random_roundtrip);
        suite_add_tcase(s, td);
    } else {
        nb_test_skip("test_tokenizer_gpt2 vectors/round-trips", "no ../shared/data/gpt2");
    }
    return s;
}

NB_CHECK_MAIN()
