/* tests/tokenizer_ref.h - what the tokenizer test programs share (test_tokenizer.c,
 * test_tokenizer_gpt2.c): a seeded xorshift generator, random text, a round-trip assertion, and
 * an independent reference BPE encoder to check encodings against. Include after nb_check.h and
 * examples/babygpt/tokenizer.h. */
#ifndef NB_TESTS_TOKENIZER_REF_H
#define NB_TESTS_TOKENIZER_REF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* static, without a warning in the programs that leave one unused */
#ifndef NB_TEST_FN
#define NB_TEST_FN static __attribute__((unused))
#endif

static uint64_t rng_state = 0x1234567887654321ull;
NB_TEST_FN uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

NB_TEST_FN void assert_roundtrip(const bg_tokenizer *t, const char *s, size_t n, int special) {
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
NB_TEST_FN size_t random_text(char *buf, size_t max) {
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

NB_TEST_FN uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

NB_TEST_FN token_index index_tokens(const bg_tokenizer *t) {
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

NB_TEST_FN int32_t find_token(const token_index *ix, const char *s, size_t n) {
    for (size_t j = fnv1a(s, n) & ix->mask; ix->slot[j] >= 0; j = (j + 1) & ix->mask) {
        size_t l;
        const char *b = bg_tokenizer_token_bytes(ix->t, ix->slot[j], &l);
        if (l == n && memcmp(b, s, n) == 0) return ix->slot[j];
    }
    return -1;
}

NB_TEST_FN size_t reference_bpe(const token_index *ix, const char *s, size_t n, int32_t *out) {
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

NB_TEST_FN void check_against_reference(const bg_tokenizer *t, const char *alphabet, size_t maxlen,
                                        int cases) {
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

#endif
