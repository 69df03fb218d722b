/* tokenizer.c - GPT-2 byte-level BPE: lookup tables, encode and decode.
 * The pre-tokenizer lives in tokenizer_pretok.c, loading and saving in tokenizer_io.c, training in
 * tokenizer_train.c. */
#include "examples/babygpt/tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_RANK         INT32_MAX
#define SMALL_PIECE     64  /* pieces up to this many bytes use the O(n^2) merge loop */
#define CACHE_MAX_KEY   128 /* longer pieces are not cached */
#define CACHE_MAX_SLOTS (1u << 15)

typedef struct {
    uint64_t key; /* (a << 32) | b; UINT64_MAX = empty */
    int32_t rank, id;
} pair_slot;

struct bg_tokenizer {
    int32_t n, eot;
    char *pool;
    uint32_t *off, *len, *hash;
    int32_t *rank; /* per id: merge rank, 0 for byte tokens, -1 if never merged (EOT) */
    int32_t byte_id[256];
    int32_t *smap; /* open addressing: bytes -> id, -1 empty */
    size_t smask;
    pair_slot *pmap;
    size_t pmask;
    int32_t *merges, n_merges;
    bg__pretok *pre;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

uint64_t bg__hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    if (n) memcpy(&v, s, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

/* ---- lookup tables ---- */

static int32_t smap_find(const bg_tokenizer *t, const char *s, size_t n, uint64_t h) {
    for (size_t i = h & t->smask;; i = (i + 1) & t->smask) {
        int32_t id = t->smap[i];
        if (id < 0) return -1;
        if (t->hash[id] == (uint32_t)h && t->len[id] == n && memcmp(t->pool + t->off[id], s, n) == 0)
            return id;
    }
}

static inline size_t pair_hash(uint64_t key) {
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ull;
    return (size_t)(key ^ (key >> 32));
}

static inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

/* The rank and product of merging a then b; rank NO_RANK if they do not merge. */
static inline int32_t pair_get(const bg_tokenizer *t, int32_t a, int32_t b, int32_t *id) {
    uint64_t key = pair_key(a, b);
    for (size_t i = pair_hash(key) & t->pmask;; i = (i + 1) & t->pmask) {
        if (t->pmap[i].key == key) {
            *id = t->pmap[i].id;
            return t->pmap[i].rank;
        }
        if (t->pmap[i].key == UINT64_MAX) return NO_RANK;
    }
}

static void pair_put(bg_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t key = pair_key(a, b);
    size_t i = pair_hash(key) & t->pmask;
    while (t->pmap[i].key != UINT64_MAX && t->pmap[i].key != key)
        i = (i + 1) & t->pmask;
    t->pmap[i] = (pair_slot){key, rank, id};
}

/* Finding every split of every token into two tokens looks up O(len^2) bytes per token, so it uses
 * polynomial hashes (any substring's in O(1) from prefix hashes) in a temporary table. */
#define POLY_B 0x100000001b3ull

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

typedef struct {
    int32_t *slot; /* id or -1 */
    size_t mask;
    uint64_t *poly;     /* per id: polynomial hash of its bytes */
    uint64_t *pre, *pw; /* prefix hashes of one token, powers of POLY_B */
} split_index;

static int32_t split_find(const bg_tokenizer *t, const split_index *x, const char *s, size_t n, uint64_t ph) {
    for (size_t i = mix64(ph + n) & x->mask; x->slot[i] >= 0; i = (i + 1) & x->mask) {
        int32_t id = x->slot[i];
        if (x->poly[id] == ph && t->len[id] == n && memcmp(t->pool + t->off[id], s, n) == 0) return id;
    }
    return -1;
}

/* Counts (fill = 0) or stores (fill = 1) every split of a mergeable multi-byte token into two
 * mergeable tokens as a pair-map entry. */
static size_t for_each_split(bg_tokenizer *t, const split_index *x, int fill) {
    size_t count = 0;
    for (int32_t id = 0; id < t->n; id++) {
        if (t->rank[id] <= 0) continue; /* bytes and the special token */
        const unsigned char *s = (const unsigned char *)t->pool + t->off[id];
        uint32_t n = t->len[id];
        for (uint32_t i = 0; i < n; i++)
            x->pre[i + 1] = x->pre[i] * POLY_B + s[i] + 1;
        for (uint32_t k = 1; k < n; k++) {
            uint64_t hl = x->pre[k], hr = x->pre[n] - x->pre[k] * x->pw[n - k];
            int32_t l = split_find(t, x, (const char *)s, k, hl);
            if (l < 0 || t->rank[l] < 0) continue;
            int32_t r = split_find(t, x, (const char *)s + k, n - k, hr);
            if (r < 0 || t->rank[r] < 0) continue;
            if (fill) pair_put(t, l, r, t->rank[id], id);
            count++;
        }
    }
    return count;
}

/* Builds the pair map: (left id, right id) -> rank and id of the token they concatenate to. */
static int build_pairs(bg_tokenizer *t, size_t maxlen) {
    split_index x = {0};
    x.mask = pow2_at_least((size_t)t->n * 2) - 1;
    x.slot = malloc((x.mask + 1) * sizeof *x.slot);
    x.poly = malloc((size_t)t->n * sizeof *x.poly);
    x.pre = malloc((maxlen + 1) * sizeof *x.pre);
    x.pw = malloc((maxlen + 1) * sizeof *x.pw);
    int rc = -1;
    if (!x.slot || !x.poly || !x.pre || !x.pw) goto done;
    memset(x.slot, 0xff, (x.mask + 1) * sizeof *x.slot);
    x.pre[0] = 0, x.pw[0] = 1;
    for (size_t i = 1; i <= maxlen; i++)
        x.pw[i] = x.pw[i - 1] * POLY_B;
    for (int32_t id = 0; id < t->n; id++) {
        const unsigned char *s = (const unsigned char *)t->pool + t->off[id];
        uint64_t h = 0;
        for (uint32_t i = 0; i < t->len[id]; i++)
            h = h * POLY_B + s[i] + 1;
        x.poly[id] = h;
        size_t i = mix64(h + t->len[id]) & x.mask;
        while (x.slot[i] >= 0)
            i = (i + 1) & x.mask;
        x.slot[i] = id;
    }
    t->pmask = pow2_at_least(for_each_split(t, &x, 0) * 2) - 1;
    if (!(t->pmap = malloc((t->pmask + 1) * sizeof *t->pmap))) goto done;
    for (size_t i = 0; i <= t->pmask; i++)
        t->pmap[i].key = UINT64_MAX;
    for_each_split(t, &x, 1);
    rc = 0;
done:
    free(x.slot), free(x.poly), free(x.pre), free(x.pw);
    return rc;
}

bg_tokenizer *bg__tokenizer_build(char *pool, uint32_t *off, uint32_t *len, int32_t n_tokens, int32_t eot,
                                  int32_t *merges, int32_t n_merges, char *err, size_t errlen) {
    bg_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        free(pool), free(off), free(len), free(merges);
        set_err(err, errlen, "tokenizer: out of memory");
        return NULL;
    }
    t->pool = pool, t->off = off, t->len = len, t->n = n_tokens, t->eot = eot;
    t->merges = merges, t->n_merges = n_merges;
    char *tmp = NULL;
    if (n_tokens < 257 || eot < 0 || eot >= n_tokens) {
        set_err(err, errlen, "tokenizer: %d tokens with end-of-text id %d (need >= 257)", (int)n_tokens,
                (int)eot);
        goto fail;
    }
    t->smask = pow2_at_least((size_t)n_tokens * 2) - 1;
    t->hash = malloc((size_t)n_tokens * sizeof *t->hash);
    t->rank = malloc((size_t)n_tokens * sizeof *t->rank);
    t->smap = malloc((t->smask + 1) * sizeof *t->smap);
    if (!t->hash || !t->rank || !t->smap) goto oom;
    memset(t->smap, 0xff, (t->smask + 1) * sizeof *t->smap);
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    for (int32_t id = 0; id < n_tokens; id++) {
        const char *s = pool + off[id];
        uint64_t h = bg__hash_bytes(s, len[id]);
        if (len[id] == 0) {
            set_err(err, errlen, "tokenizer: token %d is empty", (int)id);
            goto fail;
        }
        int32_t dup = smap_find(t, s, len[id], h);
        if (dup >= 0) {
            set_err(err, errlen, "tokenizer: tokens %d and %d have the same bytes", (int)dup, (int)id);
            goto fail;
        }
        t->hash[id] = (uint32_t)h;
        size_t i = h & t->smask;
        while (t->smap[i] >= 0)
            i = (i + 1) & t->smask;
        t->smap[i] = id;
        t->rank[id] = -1;
        if (len[id] == 1 && id != eot) {
            t->byte_id[(unsigned char)s[0]] = id;
            t->rank[id] = 0;
        }
    }
    for (int b = 0; b < 256; b++) {
        if (t->byte_id[b] < 0) {
            set_err(err, errlen, "tokenizer: no token for byte 0x%02x", b);
            goto fail;
        }
    }
    size_t maxlen = 0;
    for (int32_t id = 0; id < n_tokens; id++)
        maxlen = len[id] > maxlen ? len[id] : maxlen;
    if (!(tmp = malloc(2 * maxlen))) goto oom;
    for (int32_t m = 0; m < n_merges; m++) {
        int32_t a = merges[2 * m], b = merges[2 * m + 1];
        if (a < 0 || b < 0 || a >= n_tokens || b >= n_tokens || a == eot || b == eot) {
            set_err(err, errlen, "tokenizer: merge %d (%d, %d) uses an invalid id", (int)m, (int)a, (int)b);
            goto fail;
        }
        memcpy(tmp, pool + off[a], len[a]);
        memcpy(tmp + len[a], pool + off[b], len[b]);
        size_t n = (size_t)len[a] + len[b];
        int32_t c = smap_find(t, tmp, n, bg__hash_bytes(tmp, n));
        if (c < 0 || c == eot) {
            set_err(err, errlen, "tokenizer: merge %d (%d, %d) makes no ordinary token", (int)m, (int)a,
                    (int)b);
            goto fail;
        }
        if (t->rank[c] < 0) t->rank[c] = 256 + m;
    }
    for (int32_t id = 0; id < n_tokens; id++) {
        if (t->rank[id] < 0 && id != eot) {
            set_err(err, errlen,
                    "tokenizer: token %d is neither a byte nor made by any merge (merges "
                    "missing or truncated?)",
                    (int)id);
            goto fail;
        }
    }
    if (build_pairs(t, maxlen)) goto oom;
    if (!(t->pre = bg__pretok_new(err, errlen))) goto fail;
    free(tmp);
    return t;
oom:
    set_err(err, errlen, "tokenizer: out of memory");
fail:
    free(tmp);
    bg_tokenizer_free(t);
    return NULL;
}

void bg_tokenizer_free(bg_tokenizer *t) {
    if (!t) return;
    bg__pretok_free(t->pre);
    free(t->pool), free(t->off), free(t->len), free(t->hash), free(t->rank);
    free(t->smap), free(t->pmap), free(t->merges);
    free(t);
}

int bg_tokenizer_vocab_size(const bg_tokenizer *t) { return t ? (int)t->n : 0; }

int32_t bg_tokenizer_eot(const bg_tokenizer *t) { return t ? t->eot : -1; }

const int32_t *bg__tokenizer_merges(const bg_tokenizer *t, int32_t *n_merges) {
    *n_merges = t->n_merges;
    return t->merges;
}

const char *bg_tokenizer_token_bytes(const bg_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->len[id];
    return t->pool + t->off[id];
}

const char *bg_tokenizer_strerror(int code) {
    switch (code) {
    case BG_TOK_OK: return "success";
    case BG_TOK_EINVAL: return "tokenizer: invalid argument (NULL tokenizer, output or text)";
    case BG_TOK_ENOMEM: return "tokenizer: out of memory";
    case BG_TOK_EREGEX: return "tokenizer: pre-tokenizer regex match failed";
    default: return "tokenizer: unknown error";
    }
}

/* ---- encode ---- */

typedef struct {
    uint64_t h;
    uint32_t koff, klen, ioff, nid;
} cache_entry;

typedef struct {
    uint64_t key; /* (rank << 32) | position: lowest rank first, leftmost on ties */
    int32_t a, b, id;
} heap_entry;

typedef struct {
    const bg_tokenizer *t;
    int32_t *out;
    size_t n, cap;
    /* scratch for long pieces */
    int32_t *id, *nx, *pv;
    heap_entry *heap;
    size_t scap;
    /* per-call cache of BPE results: pieces that are not tokens themselves */
    uint32_t *slot; /* entry index + 1; 0 empty */
    size_t smask, nent;
    cache_entry *ent;
    char *kb;
    size_t kbn;
    int32_t *ib;
    size_t ibn, ibcap;
    size_t text_len;
} enc_state;

static int emit(enc_state *e, int32_t id) {
    if (e->n == e->cap) {
        size_t nc = e->cap * 2;
        int32_t *p = realloc(e->out, nc * sizeof *p);
        if (!p) return BG_TOK_ENOMEM;
        e->out = p, e->cap = nc;
    }
    e->out[e->n++] = id;
    return 0;
}

static int bpe_small(enc_state *e, const unsigned char *p, size_t len) {
    const bg_tokenizer *t = e->t;
    int32_t id[SMALL_PIECE], rk[SMALL_PIECE], mg[SMALL_PIECE];
    size_t m = len;
    for (size_t i = 0; i < m; i++)
        id[i] = t->byte_id[p[i]];
    for (size_t i = 0; i + 1 < m; i++)
        rk[i] = pair_get(t, id[i], id[i + 1], &mg[i]);
    for (;;) {
        int32_t best = NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (rk[i] < best) best = rk[i], bi = i;
        }
        if (best == NO_RANK) break;
        id[bi] = mg[bi];
        if (m > bi + 2) memmove(&id[bi + 1], &id[bi + 2], (m - bi - 2) * sizeof *id);
        if (m > bi + 3) {
            memmove(&rk[bi + 1], &rk[bi + 2], (m - bi - 3) * sizeof *rk);
            memmove(&mg[bi + 1], &mg[bi + 2], (m - bi - 3) * sizeof *mg);
        }
        m--;
        if (bi + 1 < m) rk[bi] = pair_get(t, id[bi], id[bi + 1], &mg[bi]);
        if (bi > 0) rk[bi - 1] = pair_get(t, id[bi - 1], id[bi], &mg[bi - 1]);
    }
    for (size_t i = 0; i < m; i++) {
        if (emit(e, id[i])) return BG_TOK_ENOMEM;
    }
    return 0;
}

static void heap_push(heap_entry *h, size_t *n, heap_entry x) {
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2].key > x.key) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static heap_entry heap_pop(heap_entry *h, size_t *n) {
    heap_entry top = h[0], x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1].key < h[c].key) c++;
        if (h[c].key >= x.key) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = x;
    return top;
}

static void push_pair(const bg_tokenizer *t, heap_entry *h, size_t *nh, const int32_t *id, int32_t i,
                      int32_t j) {
    int32_t m;
    int32_t r = pair_get(t, id[i], id[j], &m);
    if (r != NO_RANK) heap_push(h, nh, (heap_entry){((uint64_t)r << 32) | (uint32_t)i, id[i], id[j], m});
}

/* O(n log n) BPE for long pieces: linked list of parts + heap of candidate merges. */
static int bpe_large(enc_state *e, const unsigned char *p, size_t len) {
    const bg_tokenizer *t = e->t;
    if (len > (size_t)INT32_MAX / 4) return BG_TOK_ENOMEM;
    if (len > e->scap) {
        free(e->id), free(e->nx), free(e->pv), free(e->heap);
        e->id = malloc(len * sizeof *e->id);
        e->nx = malloc(len * sizeof *e->nx);
        e->pv = malloc(len * sizeof *e->pv);
        e->heap = malloc(3 * len * sizeof *e->heap);
        e->scap = len;
        if (!e->id || !e->nx || !e->pv || !e->heap) {
            e->scap = 0;
            return BG_TOK_ENOMEM;
        }
    }
    int32_t n = (int32_t)len, *id = e->id, *nx = e->nx, *pv = e->pv;
    size_t nh = 0;
    for (int32_t i = 0; i < n; i++)
        id[i] = t->byte_id[p[i]], nx[i] = i + 1, pv[i] = i - 1;
    for (int32_t i = 0; i + 1 < n; i++)
        push_pair(t, e->heap, &nh, id, i, i + 1);
    while (nh) {
        heap_entry x = heap_pop(e->heap, &nh);
        int32_t i = (int32_t)(uint32_t)x.key, j = nx[i];
        if (id[i] != x.a || j >= n || id[j] != x.b) continue; /* stale */
        id[i] = x.id, id[j] = -1, nx[i] = nx[j];
        if (nx[j] < n) pv[nx[j]] = i;
        if (pv[i] >= 0) push_pair(t, e->heap, &nh, id, pv[i], i);
        if (nx[i] < n) push_pair(t, e->heap, &nh, id, i, nx[i]);
    }
    for (int32_t i = 0; i < n; i = nx[i]) {
        if (emit(e, id[i])) return BG_TOK_ENOMEM;
    }
    return 0;
}

static void cache_reset(enc_state *e) {
    memset(e->slot, 0, (e->smask + 1) * sizeof *e->slot);
    e->nent = e->kbn = e->ibn = 0;
}

/* Allocates the cache on first use, sized to the text. 0 ok, nonzero: run without cache. */
static int cache_init(enc_state *e) {
    size_t slots = pow2_at_least(e->text_len / 16);
    if (slots > CACHE_MAX_SLOTS) slots = CACHE_MAX_SLOTS;
    e->smask = slots - 1;
    e->slot = calloc(slots, sizeof *e->slot);
    e->ent = malloc(slots / 2 * sizeof *e->ent);
    e->kb = malloc(slots / 2 * CACHE_MAX_KEY);
    e->ibcap = slots * 4;
    e->ib = malloc(e->ibcap * sizeof *e->ib);
    return !e->slot || !e->ent || !e->kb || !e->ib;
}

static int encode_piece(void *ctx, const char *s, size_t n) {
    enc_state *e = ctx;
    const bg_tokenizer *t = e->t;
    uint64_t h = bg__hash_bytes(s, n);
    int32_t id = smap_find(t, s, n, h);
    if (id >= 0 && t->rank[id] >= 0) return emit(e, id);
    const unsigned char *p = (const unsigned char *)s;
    if (n > CACHE_MAX_KEY) return bpe_large(e, p, n);
    if (!e->slot && cache_init(e)) return BG_TOK_ENOMEM;
    size_t i = h & e->smask;
    for (; e->slot[i]; i = (i + 1) & e->smask) {
        const cache_entry *c = &e->ent[e->slot[i] - 1];
        if (c->h == h && c->klen == n && memcmp(e->kb + c->koff, s, n) == 0) {
            for (uint32_t k = 0; k < c->nid; k++) {
                if (emit(e, e->ib[c->ioff + k])) return BG_TOK_ENOMEM;
            }
            return 0;
        }
    }
    size_t start = e->n;
    int rc = n <= SMALL_PIECE ? bpe_small(e, p, n) : bpe_large(e, p, n);
    if (rc) return rc;
    size_t nid = e->n - start;
    if (nid > e->ibcap / 4) return 0; /* too long to be worth caching */
    if (e->nent + 1 > (e->smask + 1) / 2 || e->ibn + nid > e->ibcap) {
        cache_reset(e);
        i = h & e->smask;
    }
    memcpy(e->kb + e->kbn, s, n);
    memcpy(e->ib + e->ibn, e->out + start, nid * sizeof *e->ib);
    e->ent[e->nent] = (cache_entry){h, (uint32_t)e->kbn, (uint32_t)n, (uint32_t)e->ibn, (uint32_t)nid};
    e->slot[i] = (uint32_t)++e->nent;
    e->kbn += n, e->ibn += nid;
    return 0;
}

int bg_tokenizer_encode(const bg_tokenizer *t, const char *text, size_t len, int allow_special, int32_t **ids,
                        size_t *n_ids) {
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!t || !ids || !n_ids || (!text && len > 0)) return BG_TOK_EINVAL;
    enc_state e = {.t = t, .cap = len / 3 + 16, .text_len = len};
    if (!(e.out = malloc(e.cap * sizeof *e.out))) return BG_TOK_ENOMEM;
    static const char eot[] = BG_TOK_EOT_TEXT;
    const size_t eot_len = sizeof eot - 1;
    size_t pos = 0;
    int rc = 0;
    while (rc == 0 && pos < len) {
        const char *hit = allow_special ? memmem(text + pos, len - pos, eot, eot_len) : NULL;
        size_t end = hit ? (size_t)(hit - text) : len;
        rc = bg__pretok_split(t->pre, text + pos, end - pos, encode_piece, &e);
        if (rc == 0 && hit) rc = emit(&e, t->eot);
        pos = hit ? end + eot_len : len;
    }
    free(e.id), free(e.nx), free(e.pv), free(e.heap);
    free(e.slot), free(e.ent), free(e.kb), free(e.ib);
    if (rc) {
        free(e.out);
        return rc < 0 ? rc : BG_TOK_EREGEX;
    }
    *ids = e.out;
    *n_ids = e.n;
    return BG_TOK_OK;
}

/* ---- decode ---- */

int bg_tokenizer_check_ids(const bg_tokenizer *t, const int32_t *ids, size_t n, char *err, size_t errlen) {
    if (!t || (!ids && n > 0)) {
        set_err(err, errlen, "tokenizer: NULL tokenizer or ids");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n) {
            set_err(err, errlen, "tokenizer: id %ld at position %zu is outside [0, %d)", (long)ids[i], i,
                    (int)t->n);
            return -1;
        }
    }
    return 0;
}

char *bg_tokenizer_decode(const bg_tokenizer *t, const int32_t *ids, size_t n, size_t *out_len) {
    if (out_len) *out_len = 0;
    if (bg_tokenizer_check_ids(t, ids, n, NULL, 0)) return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += t->len[ids[i]];
    char *out = malloc(total + 1), *w = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, t->pool + t->off[ids[i]], t->len[ids[i]]);
        w += t->len[ids[i]];
    }
    *w = '\0';
    if (out_len) *out_len = total;
    return out;
}
