/* tokenizer_train.c - byte-level BPE training.
 *
 * The text is split with the GPT-2 pre-tokenizer and the unique pre-tokens ("words") are counted.
 * Each merge takes the most frequent adjacent pair (ties: lowest ids), rewrites only the words
 * that hold it (pair -> word lists) and updates the pair counts of those words incrementally; a
 * max-heap with lazy invalidation finds the next best pair. */
#include "examples/babygpt/tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB (1 << 20)

typedef struct {
    uint64_t h;
    size_t off;   /* into sym[] (one symbol per byte at first) and into the word bytes */
    uint32_t len; /* current number of symbols */
    int64_t count;
} word;

typedef struct {
    int64_t count, before; /* before: count when first touched by the current merge */
    int32_t a, b;
    int32_t *where; /* words that held this pair when it was added (may be stale) */
    uint32_t nwhere, capwhere, stamp;
} pair;

typedef struct {
    int64_t count;
    uint64_t key;
    int32_t idx;
} heap_item;

typedef struct {
    /* words */
    char *wb;
    size_t wbn, wbcap;
    word *w;
    size_t nw, wcap;
    uint32_t *wslot; /* word index + 1; 0 = empty */
    size_t wmask;
    int32_t *sym;
    /* pairs */
    pair *p;
    size_t np, pcap;
    uint64_t *pkey;
    int32_t *pval; /* pair index, -1 = empty */
    size_t pmask;
    int32_t *touched;
    size_t ntouched, touchcap;
    uint32_t stamp;
    heap_item *heap;
    size_t nheap, heapcap;
} trainer;

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Grows *buf (elements of size sz) to hold at least need elements. 0 ok, -1 out of memory. */
static int grow(void *buf, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*(void **)buf, nc * sz);
    if (!p) return -1;
    *(void **)buf = p;
    *cap = nc;
    return 0;
}

static int word_rehash(trainer *tr, size_t slots) {
    uint32_t *s = calloc(slots, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < tr->nw; i++) {
        size_t j = tr->w[i].h & (slots - 1);
        while (s[j])
            j = (j + 1) & (slots - 1);
        s[j] = (uint32_t)(i + 1);
    }
    free(tr->wslot);
    tr->wslot = s, tr->wmask = slots - 1;
    return 0;
}

static int count_word(void *ctx, const char *s, size_t n) {
    trainer *tr = ctx;
    if (n > UINT32_MAX) return BG_TOK_ENOMEM;
    uint64_t h = bg__hash_bytes(s, n);
    size_t i = h & tr->wmask;
    for (; tr->wslot[i]; i = (i + 1) & tr->wmask) {
        word *w = &tr->w[tr->wslot[i] - 1];
        if (w->h == h && w->len == n && memcmp(tr->wb + w->off, s, n) == 0) {
            w->count++;
            return 0;
        }
    }
    if (grow(&tr->w, &tr->wcap, tr->nw + 1, sizeof *tr->w) || grow(&tr->wb, &tr->wbcap, tr->wbn + n, 1))
        return BG_TOK_ENOMEM;
    memcpy(tr->wb + tr->wbn, s, n);
    tr->w[tr->nw] = (word){h, tr->wbn, (uint32_t)n, 1};
    tr->wslot[i] = (uint32_t)++tr->nw;
    tr->wbn += n;
    if (tr->nw * 2 > tr->wmask && word_rehash(tr, (tr->wmask + 1) * 2)) return BG_TOK_ENOMEM;
    return 0;
}

static inline uint64_t key_of(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static inline size_t key_hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k ^ (k >> 29));
}

static int pair_rehash(trainer *tr, size_t slots) {
    uint64_t *k = malloc(slots * sizeof *k);
    int32_t *v = malloc(slots * sizeof *v);
    if (!k || !v) {
        free(k), free(v);
        return -1;
    }
    memset(v, 0xff, slots * sizeof *v);
    for (size_t i = 0; i < tr->np; i++) {
        uint64_t key = key_of(tr->p[i].a, tr->p[i].b);
        size_t j = key_hash(key) & (slots - 1);
        while (v[j] >= 0)
            j = (j + 1) & (slots - 1);
        k[j] = key, v[j] = (int32_t)i;
    }
    free(tr->pkey), free(tr->pval);
    tr->pkey = k, tr->pval = v, tr->pmask = slots - 1;
    return 0;
}

/* Adds delta to the count of pair (a, b); with w >= 0 also notes that word w holds it. */
static int pair_add(trainer *tr, int32_t a, int32_t b, int64_t delta, int32_t w) {
    uint64_t key = key_of(a, b);
    size_t j = key_hash(key) & tr->pmask;
    while (tr->pval[j] >= 0 && tr->pkey[j] != key)
        j = (j + 1) & tr->pmask;
    int32_t idx = tr->pval[j];
    if (idx < 0) {
        if (tr->np >= INT32_MAX || grow(&tr->p, &tr->pcap, tr->np + 1, sizeof *tr->p)) return -1;
        idx = (int32_t)tr->np++;
        tr->p[idx] = (pair){.a = a, .b = b};
        tr->pkey[j] = key, tr->pval[j] = idx;
        if (tr->np * 2 > tr->pmask && pair_rehash(tr, (tr->pmask + 1) * 2)) return -1;
    }
    pair *p = &tr->p[idx];
    if (p->stamp != tr->stamp) {
        if (grow(&tr->touched, &tr->touchcap, tr->ntouched + 1, sizeof *tr->touched)) return -1;
        tr->touched[tr->ntouched++] = idx;
        p->stamp = tr->stamp;
        p->before = p->count;
    }
    p->count += delta;
    if (w >= 0 && (p->nwhere == 0 || p->where[p->nwhere - 1] != w)) {
        size_t cap = p->capwhere;
        if (grow(&p->where, &cap, (size_t)p->nwhere + 1, sizeof *p->where)) return -1;
        p->capwhere = (uint32_t)cap;
        p->where[p->nwhere++] = w;
    }
    return 0;
}

static inline int heap_before(const heap_item *x, const heap_item *y) {
    return x->count > y->count || (x->count == y->count && x->key < y->key);
}

static int heap_push(trainer *tr, int32_t idx) {
    if (grow(&tr->heap, &tr->heapcap, tr->nheap + 1, sizeof *tr->heap)) return -1;
    heap_item x = {tr->p[idx].count, key_of(tr->p[idx].a, tr->p[idx].b), idx};
    size_t i = tr->nheap++;
    while (i > 0 && heap_before(&x, &tr->heap[(i - 1) / 2])) {
        tr->heap[i] = tr->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    tr->heap[i] = x;
    return 0;
}

static heap_item heap_pop(trainer *tr) {
    heap_item top = tr->heap[0], x = tr->heap[--tr->nheap];
    size_t i = 0, n = tr->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(&tr->heap[c + 1], &tr->heap[c])) c++;
        if (!heap_before(&tr->heap[c], &x)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n) tr->heap[i] = x;
    return top;
}

/* Pushes every pair whose count rose during the current merge, then starts a new one. */
static int flush_touched(trainer *tr) {
    for (size_t i = 0; i < tr->ntouched; i++) {
        pair *p = &tr->p[tr->touched[i]];
        if (p->count > p->before && heap_push(tr, tr->touched[i])) return -1;
    }
    tr->ntouched = 0;
    tr->stamp++;
    return 0;
}

/* Replaces every (a, b) in word wi by c, left to right, updating only the pair counts around each
 * occurrence (so a long word costs one scan, not a recount). */
static int merge_word(trainer *tr, int32_t wi, int32_t a, int32_t b, int32_t c) {
    word *w = &tr->w[wi];
    int32_t *s = tr->sym + w->off;
    int64_t cnt = w->count;
    uint32_t n = w->len, i, o;
    for (i = 0; i + 1 < n; i++)
        if (s[i] == a && s[i + 1] == b) break;
    if (i + 1 >= n) return 0; /* stale entry: the word no longer holds the pair */
    int rc = 0;
    for (o = i; i < n && rc == 0;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            rc = pair_add(tr, a, b, -cnt, -1);
            if (rc == 0 && o > 0)
                rc = pair_add(tr, s[o - 1], a, -cnt, -1) || pair_add(tr, s[o - 1], c, cnt, wi);
            if (rc == 0 && i + 2 < n)
                rc = pair_add(tr, b, s[i + 2], -cnt, -1) || pair_add(tr, c, s[i + 2], cnt, wi);
            s[o++] = c, i += 2;
        } else {
            s[o++] = s[i++];
        }
    }
    w->len = o;
    return rc ? -1 : 0;
}

typedef struct {
    char *pool;
    size_t n, cap;
    uint32_t *off, *len;
    int32_t ntok;
    int32_t *slot; /* id + 1; 0 = empty */
    size_t mask;
} vocab;

/* Finds token bytes s[0..n) in the vocabulary, adding them if new.  Returns the id or -1. */
static int32_t vocab_intern(vocab *v, const char *s, size_t n) {
    uint64_t h = bg__hash_bytes(s, n);
    size_t j = h & v->mask;
    for (; v->slot[j]; j = (j + 1) & v->mask) {
        int32_t id = v->slot[j] - 1;
        if (v->len[id] == n && memcmp(v->pool + v->off[id], s, n) == 0) return id;
    }
    if (grow(&v->pool, &v->cap, v->n + n, 1)) return -1;
    memcpy(v->pool + v->n, s, n);
    v->off[v->ntok] = (uint32_t)v->n, v->len[v->ntok] = (uint32_t)n;
    v->n += n;
    v->slot[j] = ++v->ntok;
    return v->ntok - 1;
}

static void trainer_free(trainer *tr) {
    for (size_t i = 0; i < tr->np; i++)
        free(tr->p[i].where);
    free(tr->wb), free(tr->w), free(tr->wslot), free(tr->sym), free(tr->p);
    free(tr->pkey), free(tr->pval), free(tr->touched), free(tr->heap);
}

/* Learns the merges; fills v (bytes first) and merges.  0 ok, -1 out of memory. */
static int learn(trainer *tr, vocab *v, int32_t *merges, int32_t *n_merges, int vocab_size) {
    char buf[1];
    for (int b = 0; b < 256; b++) {
        buf[0] = (char)b;
        if (vocab_intern(v, buf, 1) < 0) return -1;
    }
    if (!(tr->sym = malloc((tr->wbn ? tr->wbn : 1) * sizeof *tr->sym))) return -1;
    for (size_t i = 0; i < tr->wbn; i++)
        tr->sym[i] = (unsigned char)tr->wb[i];
    if (pair_rehash(tr, 1024)) return -1;
    for (size_t w = 0; w < tr->nw; w++) {
        const int32_t *s = tr->sym + tr->w[w].off;
        for (uint32_t i = 0; i + 1 < tr->w[w].len; i++) {
            if (pair_add(tr, s[i], s[i + 1], tr->w[w].count, (int32_t)w)) return -1;
        }
    }
    if (flush_touched(tr)) return -1;
    char *cat = NULL;
    size_t catcap = 0;
    int rc = 0;
    while (v->ntok < vocab_size - 1 && *n_merges < vocab_size && tr->nheap > 0) {
        heap_item top = heap_pop(tr);
        pair *p = &tr->p[top.idx];
        if (top.count != p->count) { /* stale: requeue with the current count */
            if (p->count > 0 && heap_push(tr, top.idx)) goto oom;
            continue;
        }
        if (p->count < 2) break;
        int32_t a = p->a, b = p->b;
        size_t la = v->len[a], lb = v->len[b];
        if (grow(&cat, &catcap, la + lb, 1)) goto oom;
        memcpy(cat, v->pool + v->off[a], la);
        memcpy(cat + la, v->pool + v->off[b], lb);
        int32_t c = vocab_intern(v, cat, la + lb);
        if (c < 0) goto oom;
        merges[2 * *n_merges] = a, merges[2 * *n_merges + 1] = b;
        ++*n_merges;
        int32_t *where = p->where;
        uint32_t nwhere = p->nwhere;
        p->where = NULL, p->nwhere = p->capwhere = 0;
        for (uint32_t k = 0; k < nwhere && rc == 0; k++)
            rc = merge_word(tr, where[k], a, b, c);
        free(where);
        if (rc || flush_touched(tr)) goto oom;
    }
    free(cat);
    return 0;
oom:
    free(cat);
    return -1;
}

bg_tokenizer *bg_tokenizer_train(const char *text, size_t len, int vocab_size, char *err, size_t errlen) {
    if (!text && len > 0) {
        set_err(err, errlen, "tokenizer train: NULL text");
        return NULL;
    }
    if (vocab_size < 257 || vocab_size > MAX_VOCAB) {
        set_err(err, errlen, "tokenizer train: vocab_size %d is outside [257, %d]", vocab_size, MAX_VOCAB);
        return NULL;
    }
    trainer tr = {.stamp = 1};
    vocab v = {0};
    int32_t *merges = NULL, n_merges = 0;
    bg__pretok *pre = bg__pretok_new(err, errlen);
    if (!pre) return NULL;
    size_t slots = 16;
    while (slots < 2 * (size_t)vocab_size)
        slots *= 2;
    v.mask = slots - 1;
    v.slot = calloc(slots, sizeof *v.slot);
    v.off = malloc((size_t)vocab_size * sizeof *v.off);
    v.len = malloc((size_t)vocab_size * sizeof *v.len);
    merges = malloc((size_t)vocab_size * 2 * sizeof *merges);
    int rc = (!v.slot || !v.off || !v.len || !merges || word_rehash(&tr, 1024)) ? -1 : 0;
    static const char eot[] = BG_TOK_EOT_TEXT;
    for (size_t pos = 0; rc == 0 && pos < len;) {
        const char *hit = memmem(text + pos, len - pos, eot, sizeof eot - 1);
        size_t end = hit ? (size_t)(hit - text) : len;
        rc = bg__pretok_split(pre, text + pos, end - pos, count_word, &tr);
        pos = hit ? end + sizeof eot - 1 : len;
    }
    bg__pretok_free(pre);
    if (rc == 0) rc = learn(&tr, &v, merges, &n_merges, vocab_size);
    if (rc == 0 && vocab_intern(&v, eot, sizeof eot - 1) != v.ntok - 1) rc = -1;
    trainer_free(&tr);
    free(v.slot);
    if (rc != 0) {
        set_err(err, errlen, "tokenizer train: %s",
                rc == BG_TOK_EREGEX ? "pre-tokenizer regex failed" : "out of memory");
        free(v.pool), free(v.off), free(v.len), free(merges);
        return NULL;
    }
    if (!v.pool) v.pool = malloc(1);
    return bg__tokenizer_build(v.pool, v.off, v.len, v.ntok, v.ntok - 1, merges, n_merges, err, errlen);
}
