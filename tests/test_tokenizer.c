/* test_tokenizer.c - GPT-2 byte-level BPE on tokenizers trained here (no data needed): round
 * trips, special token, training against a reference trainer, save/load, threads and error
 * handling. The real GPT-2 files are tested in test_tokenizer_gpt2.c. */
#include "examples/babygpt/tokenizer.h"
#include "tests/nb_check.h"
#include "tests/tokenizer_ref.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

/* A small English-ish corpus built from a fixed word list, deterministic. */
static char *make_corpus(size_t target, size_t *len) {
    static const char *words[] = {
        "the",      "person",  "said",       "hello",      "how",  "are",   "you",      "today",
        "I'm",      "fine",    "thanks",     "we'll",      "meet", "at",    "noon",     "2024",
        "dialogue", "summary", "#Person1#:", "#Person2#:", "café", "naïve", "日本語",   "привет",
        "!!",       "?",       "...",        "\n",         "  ",   "\t",    "emoji🙂"};
    size_t nw = sizeof words / sizeof *words, n = 0;
    char *buf = malloc(target + 64);
    rng_state = 42;
    while (n < target) {
        const char *w = words[rnd() % nw];
        if (n && rnd() % 4) buf[n++] = ' ';
        size_t l = strlen(w);
        memcpy(buf + n, w, l);
        n += l;
        if (rnd() % 97 == 0) {
            memcpy(buf + n, "<|endoftext|>", 13);
            n += 13;
        }
    }
    *len = n;
    return buf;
}

static bg_tokenizer *train_small(int vocab) {
    size_t len;
    char *text = make_corpus(60000, &len);
    char err[256] = "";
    bg_tokenizer *t = bg_tokenizer_train(text, len, vocab, err, sizeof err);
    free(text);
    ck_assert_msg(t != NULL, "train failed: %s", err);
    return t;
}

/* ---- tests ---- */

START_TEST(test_random_bytes_roundtrip) {
    bg_tokenizer *t = train_small(600);
    char buf[2000];
    rng_state = 5;
    for (int i = 0; i < 3000; i++) {
        size_t n = random_text(buf, i % 10 == 0 ? sizeof buf : 64);
        assert_roundtrip(t, buf, n, i & 1);
    }
    /* every single byte, and long runs (one huge pre-token, long whitespace) */
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        assert_roundtrip(t, &c, 1, 0);
    }
    size_t big = 200000;
    char *s = malloc(big);
    const char fills[] = {'a', ' ', '\n', '\xff', '7', '!'};
    for (size_t k = 0; k < sizeof fills; k++) {
        memset(s, fills[k], big);
        assert_roundtrip(t, s, big, 0);
    }
    assert_roundtrip(t, "", 0, 1);
    int32_t *ids = (int32_t *)1;
    size_t n = 7;
    ck_assert_int_eq(bg_tokenizer_encode(t, NULL, 0, 0, &ids, &n), BG_TOK_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(ids);
    free(ids);
    free(s);
    bg_tokenizer_free(t);
}
END_TEST

START_TEST(test_special_token) {
    bg_tokenizer *t = train_small(500);
    int32_t eot = bg_tokenizer_eot(t), *ids;
    ck_assert_int_eq(eot, bg_tokenizer_vocab_size(t) - 1);
    const char *s = "<|endoftext|>hi<|endoftext|><|endoftext|> there<|endoftext";
    size_t n;
    ck_assert_int_eq(bg_tokenizer_encode(t, s, strlen(s), 1, &ids, &n), 0);
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += ids[i] == eot;
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(ids[0], eot);
    free(ids);
    ck_assert_int_eq(bg_tokenizer_encode(t, s, strlen(s), 0, &ids, &n), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], eot);
    free(ids);
    assert_roundtrip(t, s, strlen(s), 1);
    assert_roundtrip(t, s, strlen(s), 0);
    bg_tokenizer_free(t);
}
END_TEST

/* Independent reference trainer on a corpus whose pre-tokens are obvious (lowercase words
 * separated by single spaces: "w", " w"): counts every pair naively at each step. */
START_TEST(test_train_matches_reference) {
    enum { NW = 400, MAXT = 16, VOCAB = 330 };
    static const char *base[] = {"low",    "lower", "newest", "widest",  "slow",    "show",   "snow",
                                 "lowest", "news",  "wide",   "aaaaaaa", "abababa", "banana", "aabaab"};
    const int NB = (int)(sizeof base / sizeof *base);
    char text[NW * 10];
    size_t len = 0;
    rng_state = 3;
    int32_t words[NW][MAXT], wl[NW];
    for (int w = 0; w < NW; w++) {
        const char *b = base[rnd() % (uint32_t)NB];
        wl[w] = 0;
        if (w) text[len++] = ' ', words[w][wl[w]++] = ' ';
        for (const char *c = b; *c; c++)
            text[len++] = *c, words[w][wl[w]++] = (unsigned char)*c;
    }
    char tok[VOCAB][64];
    size_t tl[VOCAB];
    for (int i = 0; i < 256; i++)
        tok[i][0] = (char)i, tl[i] = 1;
    int ntok = 256;
    while (ntok < VOCAB - 1) {
        static long cnt[VOCAB][VOCAB];
        memset(cnt, 0, sizeof cnt);
        for (int w = 0; w < NW; w++)
            for (int i = 0; i + 1 < wl[w]; i++)
                cnt[words[w][i]][words[w][i + 1]]++;
        long best = 1;
        int ba = -1, bb = -1;
        for (int a = 0; a < ntok; a++)
            for (int b = 0; b < ntok; b++)
                if (cnt[a][b] > best) best = cnt[a][b], ba = a, bb = b;
        if (ba < 0) break;
        memcpy(tok[ntok], tok[ba], tl[ba]);
        memcpy(tok[ntok] + tl[ba], tok[bb], tl[bb]);
        tl[ntok] = tl[ba] + tl[bb];
        int c = ntok;
        for (int k = 256; k < ntok; k++)
            if (tl[k] == tl[ntok] && memcmp(tok[k], tok[ntok], tl[k]) == 0) c = k;
        if (c == ntok) ntok++;
        for (int w = 0; w < NW; w++) {
            int o = 0;
            for (int i = 0; i < wl[w]; o++) {
                if (i + 1 < wl[w] && words[w][i] == ba && words[w][i + 1] == bb)
                    words[w][o] = c, i += 2;
                else
                    words[w][o] = words[w][i++];
            }
            wl[w] = o;
        }
    }
    char err[256];
    bg_tokenizer *t = bg_tokenizer_train(text, len, VOCAB, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_int_eq(bg_tokenizer_vocab_size(t), ntok + 1);
    for (int id = 0; id < ntok; id++) {
        size_t l;
        const char *b = bg_tokenizer_token_bytes(t, id, &l);
        ck_assert_msg(l == tl[id] && memcmp(b, tok[id], l) == 0, "token %d differs", id);
    }
    bg_tokenizer_free(t);
}
END_TEST

static char *make_tmpdir(void) {
    char *d = strdup("/tmp/nb_tok_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rm_tree(const char *d) {
    char p[640];
    const char *names[] = {"encoder.json", "vocab.bpe"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", d, names[i]);
        unlink(p);
    }
    rmdir(d);
}

START_TEST(test_train_save_load) {
    size_t len;
    char *text = make_corpus(200000, &len), err[512] = "";
    bg_tokenizer *t = bg_tokenizer_train(text, len, 1000, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    int nv = bg_tokenizer_vocab_size(t);
    ck_assert_int_gt(nv, 300);
    ck_assert_int_le(nv, 1000);
    char *dir = make_tmpdir(), sub[600];
    snprintf(sub, sizeof sub, "%s/tok", dir); /* save creates the folder */
    ck_assert_msg(bg_tokenizer_save(t, sub, err, sizeof err) == 0, "save: %s", err);
    bg_tokenizer *u = bg_tokenizer_load(sub, err, sizeof err);
    ck_assert_msg(u != NULL, "load: %s", err);
    ck_assert_int_eq(bg_tokenizer_vocab_size(u), nv);
    ck_assert_int_eq(bg_tokenizer_eot(u), bg_tokenizer_eot(t));
    for (int id = 0; id < nv; id++) {
        size_t la, lb;
        const char *a = bg_tokenizer_token_bytes(t, id, &la), *b = bg_tokenizer_token_bytes(u, id, &lb);
        ck_assert(la == lb && memcmp(a, b, la) == 0);
    }
    int32_t *i1, *i2;
    size_t n1, n2;
    ck_assert_int_eq(bg_tokenizer_encode(t, text, len, 1, &i1, &n1), 0);
    ck_assert_int_eq(bg_tokenizer_encode(u, text, len, 1, &i2, &n2), 0);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(i1, i2, n1 * sizeof *i1) == 0);
    ck_assert_uint_lt(n1, len / 2); /* merges actually compress the text */
    assert_roundtrip(u, text, len, 1);
    rng_state = 11;
    check_against_reference(u, "abcdefghijklmnopqrstuvwxyz", 100, 20);
    check_against_reference(u, "pers", 300, 10);
    /* saving again over the existing files works and leaves no temp files */
    ck_assert_msg(bg_tokenizer_save(u, sub, err, sizeof err) == 0, "save: %s", err);
    free(i1), free(i2), free(text);
    bg_tokenizer_free(t), bg_tokenizer_free(u);
    rm_tree(sub);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

typedef struct {
    const bg_tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} job;

static void *encode_job(void *arg) {
    job *j = arg;
    for (int r = 0; r < 3; r++) {
        free(j->ids);
        if (bg_tokenizer_encode(j->t, j->text, j->len, 1, &j->ids, &j->n) != 0) j->n = SIZE_MAX;
    }
    return NULL;
}

START_TEST(test_threads) {
    bg_tokenizer *t = train_small(800);
    size_t len;
    char *text = make_corpus(100000, &len);
    int32_t *ref;
    size_t nref;
    ck_assert_int_eq(bg_tokenizer_encode(t, text, len, 1, &ref, &nref), 0);
    pthread_t th[4];
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){t, text, len, NULL, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, encode_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_uint_eq(jobs[i].n, nref);
        ck_assert(memcmp(jobs[i].ids, ref, nref * sizeof *ref) == 0);
        free(jobs[i].ids);
    }
    free(ref), free(text);
    bg_tokenizer_free(t);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *data, size_t n) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_back(const char *dir, const char *name, size_t *n) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    rewind(f);
    char *b = malloc((size_t)l + 1);
    *n = fread(b, 1, (size_t)l, f);
    b[*n] = '\0';
    fclose(f);
    return b;
}

static void expect_load_error(const char *dir, const char *must_contain) {
    char err[512] = "";
    bg_tokenizer *t = bg_tokenizer_load(dir, err, sizeof err);
    ck_assert_msg(t == NULL, "load of a broken folder succeeded (want '%s')", must_contain);
    ck_assert_msg(strstr(err, must_contain) != NULL, "error '%s' lacks '%s'", err, must_contain);
}

START_TEST(test_errors) {
    char err[512] = "";
    expect_load_error("/nonexistent/nb_tokenizer", "/nonexistent/nb_tokenizer");
    ck_assert_ptr_null(bg_tokenizer_load(NULL, err, sizeof err));
    bg_tokenizer *t = train_small(400);
    char *dir = make_tmpdir();
    expect_load_error(dir, "encoder.json"); /* empty folder */
    ck_assert_int_eq(bg_tokenizer_save(t, dir, err, sizeof err), 0);
    size_t ne, nb;
    char *enc = read_back(dir, "encoder.json", &ne), *bpe = read_back(dir, "vocab.bpe", &nb);

    write_file(dir, "encoder.json", enc, ne / 2); /* truncated encoder.json */
    expect_load_error(dir, "encoder.json:1:");
    write_file(dir, "encoder.json", "[1, 2]", 6);
    expect_load_error(dir, "encoder.json");
    write_file(dir, "encoder.json", "{\"a\": 0, \"b\": 0}", 16);
    expect_load_error(dir, "used twice");
    write_file(dir, "encoder.json", "{\"a\": 0, \"b\": 2}", 16); /* id 1 missing */
    expect_load_error(dir, "token 'b' has id 2, but the file holds 2 tokens");
    write_file(dir, "encoder.json", "{\"a\": 0, \"b\": -1}", 17);
    expect_load_error(dir, "token 'b': id must be an integer in [0, 2)");
    write_file(dir, "encoder.json", enc, ne);

    /* malformed third line of vocab.bpe: three fields */
    char *nl2 = strchr(strchr(bpe, '\n') + 1, '\n');
    size_t cut = (size_t)(nl2 + 1 - bpe);
    char *bad = malloc(nb + 16);
    memcpy(bad, bpe, cut);
    memcpy(bad + cut, "a b c\n", 6);
    memcpy(bad + cut + 6, bpe + cut, nb - cut);
    write_file(dir, "vocab.bpe", bad, nb + 6);
    expect_load_error(dir, "vocab.bpe:3:");
    memcpy(bad + cut, "zz q\n", 5);
    memcpy(bad + cut + 5, bpe + cut, nb - cut);
    write_file(dir, "vocab.bpe", bad, nb + 5);
    expect_load_error(dir, "vocab.bpe:3: token 'zz'");
    write_file(dir, "vocab.bpe", bpe + 14, nb - 14); /* no #version header */
    expect_load_error(dir, "vocab.bpe:1:");
    write_file(dir, "vocab.bpe", bpe, nb / 2 > 14 ? nb / 2 : 14); /* truncated merges */
    expect_load_error(dir, "vocab.bpe");
    write_file(dir, "vocab.bpe", bpe, nb);
    bg_tokenizer *u = bg_tokenizer_load(dir, err, sizeof err);
    ck_assert_msg(u != NULL, "restored files fail: %s", err);
    bg_tokenizer_free(u);

    /* decode / check_ids / encode argument errors */
    int32_t ids[3] = {1, bg_tokenizer_vocab_size(t), 2};
    size_t out_len = 99;
    ck_assert_ptr_null(bg_tokenizer_decode(t, ids, 3, &out_len));
    ck_assert_uint_eq(out_len, 0);
    ids[1] = -1;
    ck_assert_ptr_null(bg_tokenizer_decode(t, ids, 3, NULL));
    ck_assert_int_eq(bg_tokenizer_check_ids(t, ids, 3, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "position 1"));
    ck_assert_ptr_null(bg_tokenizer_token_bytes(t, -5, &out_len));
    int32_t *out;
    size_t n;
    ck_assert_int_eq(bg_tokenizer_encode(NULL, "a", 1, 0, &out, &n), BG_TOK_EINVAL);
    ck_assert_int_eq(bg_tokenizer_encode(t, NULL, 3, 0, &out, &n), BG_TOK_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(bg_tokenizer_strerror(BG_TOK_EINVAL), "invalid"));
    ck_assert_ptr_null(bg_tokenizer_train("abc", 3, 256, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "vocab_size"));
    ck_assert_int_eq(bg_tokenizer_save(t, "/proc/nb_no_such/x", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/proc/nb_no_such/x"));
    ck_assert_int_eq(bg_tokenizer_vocab_size(NULL), 0);
    bg_tokenizer_free(NULL);

    free(enc), free(bpe), free(bad);
    rm_tree(dir);
    free(dir);
    bg_tokenizer_free(t);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_random_bytes_roundtrip);
    tcase_add_test(tc, test_special_token);
    tcase_add_test(tc, test_train_matches_reference);
    tcase_add_test(tc, test_train_save_load);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
