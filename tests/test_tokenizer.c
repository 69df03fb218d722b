/* test_tokenizer.c - GPT-2 byte-level BPE: vectors, round trips, special token, training,
 * save/load and error handling. */
#include "examples/babygpt/tokenizer.h"
#include "tests/nb_check.h"

#include <jansson.h>
#include <pthread.h>
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

static uint64_t rng_state = 0x1234567887654321ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

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

static void assert_roundtrip(const bg_tokenizer *t, const char *s, size_t n, int special) {
    int32_t *ids;
    size_t n_ids, out_len;
    int rc = bg_tokenizer_encode(t, s, n, special, &ids, &n_ids);
    ck_assert_int_eq(rc, BG_TOK_OK);
    ck_assert(n_ids <= n);
    char *back = bg_tokenizer_decode(t, ids, n_ids, &out_len);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(out_len, n);
    ck_assert(memcmp(back, s, n) == 0);
    ck_assert_int_eq(back[n], '\0');
    free(back);
    free(ids);
}

/* Random bytes: ASCII, any byte, valid multi-byte characters, fragments of the special token. */
static size_t random_text(char *buf, size_t max) {
    static const char *frags[] = {"é",        "日",           "🙂",          "\xe2\x80\x8d", " ",
                                  "\n",       "'s",           "<|endoftext|>", "<|endof",      "\x85",
                                  "\xc2\x85", "\xe2\x80\xa8", "\xf0\x9f"};
    size_t n = 0, want = rnd() % max;
    while (n < want) {
        uint32_t r = rnd() % 10;
        if (r < 4) {
            buf[n++] = (char)(32 + rnd() % 95);
        } else if (r < 7) {
            buf[n++] = (char)(rnd() & 0xff);
        } else {
            const char *f = frags[rnd() % (sizeof frags / sizeof *frags)];
            size_t l = strlen(f);
            if (n + l > max) break;
            memcpy(buf + n, f, l);
            n += l;
        }
    }
    return n;
}

/* Reference BPE (tiktoken semantics, O(n^2), written independently of the library): tokens are
 * looked up by bytes; a pair merges into the token its bytes concatenate to, lowest id first
 * (ids are in rank order), leftmost on ties; a piece that is a token is emitted whole. */
typedef struct {
    const bg_tokenizer *t;
    int32_t *slot;
    size_t mask;
} token_index;

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static token_index index_tokens(const bg_tokenizer *t) {
    token_index ix = {t, NULL, 0};
    size_t cap = 1;
    while (cap < 2 * (size_t)bg_tokenizer_vocab_size(t))
        cap *= 2;
    ix.mask = cap - 1;
    ix.slot = malloc(cap * sizeof *ix.slot);
    memset(ix.slot, 0xff, cap * sizeof *ix.slot);
    for (int32_t id = 0; id < bg_tokenizer_vocab_size(t); id++) {
        if (id == bg_tokenizer_eot(t)) continue;
        size_t l;
        const char *b = bg_tokenizer_token_bytes(t, id, &l);
        size_t j = fnv1a(b, l) & ix.mask;
        while (ix.slot[j] >= 0)
            j = (j + 1) & ix.mask;
        ix.slot[j] = id;
    }
    return ix;
}

static int32_t find_token(const token_index *ix, const char *s, size_t n) {
    for (size_t j = fnv1a(s, n) & ix->mask; ix->slot[j] >= 0; j = (j + 1) & ix->mask) {
        size_t l;
        const char *b = bg_tokenizer_token_bytes(ix->t, ix->slot[j], &l);
        if (l == n && memcmp(b, s, n) == 0) return ix->slot[j];
    }
    return -1;
}

static size_t reference_bpe(const token_index *ix, const char *s, size_t n, int32_t *out) {
    int32_t whole = find_token(ix, s, n);
    if (whole >= 0) {
        out[0] = whole;
        return 1;
    }
    size_t *start = malloc((n + 1) * sizeof *start), m = n;
    for (size_t i = 0; i <= n; i++)
        start[i] = i;
    for (;;) {
        int32_t best = -1;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            int32_t id = find_token(ix, s + start[i], start[i + 2] - start[i]);
            if (id >= 0 && (best < 0 || id < best)) best = id, bi = i;
        }
        if (best < 0) break;
        memmove(&start[bi + 1], &start[bi + 2], (m - bi - 1) * sizeof *start);
        m--;
    }
    for (size_t i = 0; i < m; i++)
        out[i] = find_token(ix, s + start[i], start[i + 1] - start[i]);
    free(start);
    return m;
}

static void check_against_reference(const bg_tokenizer *t, const char *alphabet, size_t maxlen, int cases) {
    size_t na = strlen(alphabet);
    token_index ix = index_tokens(t);
    char *s = malloc(maxlen + 1);
    int32_t *ref = malloc(maxlen * sizeof *ref);
    for (int c = 0; c < cases; c++) {
        size_t n = 1 + rnd() % maxlen;
        for (size_t i = 0; i < n; i++)
            s[i] = alphabet[rnd() % na];
        int32_t *ids;
        size_t n_ids;
        ck_assert_int_eq(bg_tokenizer_encode(t, s, n, 0, &ids, &n_ids), BG_TOK_OK);
        size_t nref = reference_bpe(&ix, s, n, ref);
        ck_assert_msg(n_ids == nref, "length %zu: %zu ids, reference %zu", n, n_ids, nref);
        for (size_t i = 0; i < nref; i++)
            ck_assert_int_eq(ids[i], ref[i]);
        free(ids);
    }
    free(s), free(ref), free(ix.slot);
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

/* ---- tests that need no data ---- */

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
    if (gpt2_dir()) {
        TCase *td = tcase_create("gpt2");
        tcase_set_timeout(td, 300);
        tcase_add_test(td, test_gpt2_vectors);
        tcase_add_test(td, test_gpt2_known_and_special);
        tcase_add_test(td, test_gpt2_random_roundtrip);
        suite_add_tcase(s, td);
    } else {
        nb_test_skip("test_tokenizer gpt2 vectors/round-trips", "no ../shared/data/gpt2");
    }
    return s;
}

NB_CHECK_MAIN()
