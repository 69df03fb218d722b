/* corpus.c - the built-in dialogue corpus: template engine, word lists and the public API.
 * The scenario scripts live in corpus_scenes_a.c and corpus_scenes_b.c. */
#include "examples/babygpt/corpus.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/babygpt/corpus_gen.h"

#define GEN_SLOTS 48
#define GEN_KEY   16
#define GEN_VAL   160
#define GEN_TEXT  8192

struct bg_gen {
    uint64_t s;
    int nslots;
    char key[GEN_SLOTS][GEN_KEY];
    char val[GEN_SLOTS][GEN_VAL];
    char dia[GEN_TEXT], sum[GEN_TEXT / 2], topic[96];
    size_t ndia, nsum;
};

/* ---- word lists ------------------------------------------------------------------------- */

const char *const bg_w_names[] = {
    "Tom",   "Mary",   "James", "Linda", "David", "Susan",  "Peter", "Emma",   "Jack",  "Lucy",   "Mike",
    "Sarah", "Bill",   "Kate",  "Frank", "Helen", "Steve",  "Anna",  "Paul",   "Julia", "Bob",    "Nancy",
    "Tony",  "Rachel", "Sam",   "Grace", "Ben",   "Olivia", "Dan",   "Sophie", "Henry", "Monica", "Mark",
    "Amy",   "Adam",   "Laura", "Chris", "Jenny", "Kevin",  "Diana", NULL};
const char *const bg_w_surnames[] = {"Smith",  "Brown", "Wilson", "Taylor", "Johnson", "White", "Green",
                                     "Miller", "Clark", "Lewis",  "Walker", "Hall",    "Young", "King",
                                     "Wright", "Baker", "Turner", "Parker", NULL};
const char *const bg_w_cities[] = {"London", "Paris",   "New York", "Tokyo",   "Rome",   "Berlin",
                                   "Sydney", "Madrid",  "Toronto",  "Chicago", "Boston", "Dublin",
                                   "Vienna", "Seattle", "Shanghai", NULL};
const char *const bg_w_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                 "Friday", "Saturday", "Sunday",    NULL};
const char *const bg_w_times[] = {
    "nine o'clock", "half past nine", "ten thirty", "eleven", "noon",          "two o'clock", "three fifteen",
    "four thirty",  "five o'clock",   "six thirty", "seven",  "eight fifteen", NULL};
const char *const bg_w_colors[] = {"blue",  "black", "red",  "green",  "grey",   "white",
                                   "brown", "navy",  "pink", "yellow", "purple", NULL};
/* ---- engine ----------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int bg_gen_int(bg_gen *g, int lo, int hi) {
    if (hi <= lo) return lo;
    return lo + (int)(splitmix(&g->s) % (uint64_t)(hi - lo + 1));
}

int bg_gen_chance(bg_gen *g, int percent) { return bg_gen_int(g, 0, 99) < percent; }

const char *bg_gen_pick(bg_gen *g, const char *const *alts) {
    int n = 0;
    while (alts[n])
        n++;
    return n ? alts[bg_gen_int(g, 0, n - 1)] : "";
}

static char *slot(bg_gen *g, const char *key, size_t klen, int create) {
    for (int i = 0; i < g->nslots; i++)
        if (strlen(g->key[i]) == klen && strncmp(g->key[i], key, klen) == 0) return g->val[i];
    if (!create || g->nslots == GEN_SLOTS || klen >= GEN_KEY) return NULL;
    memcpy(g->key[g->nslots], key, klen);
    g->key[g->nslots][klen] = '\0';
    g->val[g->nslots][0] = '\0';
    return g->val[g->nslots++];
}

const char *bg_gen_get(bg_gen *g, const char *key) {
    const char *v = slot(g, key, strlen(key), 0);
    return v ? v : "";
}

void bg_gen_set(bg_gen *g, const char *key, const char *fmt, ...) {
    char *v = slot(g, key, strlen(key), 1);
    if (!v) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, GEN_VAL, fmt, ap);
    va_end(ap);
}

/* Expands {key} / {^key} in t into dst (cap bytes, always NUL-terminated); returns length. */
static size_t expand(bg_gen *g, const char *t, char *dst, size_t cap) {
    size_t n = 0;
    while (*t && n + 1 < cap) {
        const char *close = *t == '{' ? strchr(t, '}') : NULL;
        if (close) {
            const char *k = t + 1;
            int up = *k == '^';
            k += up;
            const char *v = slot(g, k, (size_t)(close - k), 0);
            if (v) {
                for (size_t i = 0; v[i] && n + 1 < cap; i++)
                    dst[n++] = (char)(i == 0 && up ? toupper((unsigned char)v[i]) : v[i]);
                t = close + 1;
                continue;
            }
        }
        dst[n++] = *t++;
    }
    dst[n] = '\0';
    return n;
}

void bg_gen_setx(bg_gen *g, const char *key, const char *const *alts) {
    char tmp[GEN_VAL];
    expand(g, bg_gen_pick(g, alts), tmp, sizeof tmp);
    bg_gen_set(g, key, "%s", tmp);
}

void bg_gen_setk(bg_gen *g, const char *key, int k, const char *const *alts) {
    char tmp[GEN_VAL];
    int n = 0;
    while (alts[n])
        n++;
    expand(g, n ? alts[(k % n + n) % n] : "", tmp, sizeof tmp);
    bg_gen_set(g, key, "%s", tmp);
}

void bg_gen_say(bg_gen *g, int who, const char *const *alts) {
    char line[1024];
    expand(g, bg_gen_pick(g, alts), line, sizeof line);
    int n = snprintf(g->dia + g->ndia, sizeof g->dia - g->ndia, "%s#Person%d#: %s", g->ndia ? "\n" : "", who,
                     line);
    if (n > 0) g->ndia += (size_t)n < sizeof g->dia - g->ndia ? (size_t)n : 0;
}

void bg_gen_sum(bg_gen *g, const char *const *alts) {
    char line[1024];
    expand(g, bg_gen_pick(g, alts), line, sizeof line);
    int n = snprintf(g->sum + g->nsum, sizeof g->sum - g->nsum, "%s%s", g->nsum ? " " : "", line);
    if (n > 0) g->nsum += (size_t)n < sizeof g->sum - g->nsum ? (size_t)n : 0;
}

void bg_gen_topic(bg_gen *g, const char *topic) { snprintf(g->topic, sizeof g->topic, "%s", topic); }

/* ---- public API ------------------------------------------------------------------------- */

size_t bg_corpus_scenarios(void) { return bg_nscenes_a + bg_nscenes_b; }

static const bg_scene *scene(size_t i) {
    if (i < bg_nscenes_a) return &bg_scenes_a[i];
    if (i - bg_nscenes_a < bg_nscenes_b) return &bg_scenes_b[i - bg_nscenes_a];
    return NULL;
}

const char *bg_corpus_scenario_name(size_t i) {
    const bg_scene *s = scene(i);
    return s ? s->name : NULL;
}

/* Runs scenario sc with RNG state s and appends the result as example `id`. */
static int run_scene(const bg_scene *sc, uint64_t s, const char *id, bg_split *out) {
    bg_gen *g = calloc(1, sizeof *g);
    if (!g) return -1;
    g->s = s;
    bg_gen_set(g, "A", "#Person1#");
    bg_gen_set(g, "B", "#Person2#");
    SETL(g, "p1", bg_w_names);
    do {
        SETL(g, "p2", bg_w_names);
    } while (strcmp(bg_gen_get(g, "p1"), bg_gen_get(g, "p2")) == 0);
    SETL(g, "sur", bg_w_surnames);
    bg_gen_topic(g, sc->name);
    sc->run(g);
    int rc = bg_split_add(out, id, g->dia, g->nsum ? g->sum : NULL, g->topic);
    free(g);
    return rc;
}

/* The RNG state of dialogue i of a seed's stream: hashed, so that streams do not overlap. */
static uint64_t stream_state(uint64_t seed, uint64_t stream, size_t i) {
    uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ull);
    uint64_t a = splitmix(&s);
    uint64_t t = (uint64_t)i;
    uint64_t b = splitmix(&t);
    uint64_t u = a ^ b;
    return splitmix(&u);
}

static int generate(size_t n, uint64_t seed, uint64_t stream, bg_split *out) {
    if (!out) return -1;
    size_t before = out->n, ns = bg_corpus_scenarios();
    for (size_t i = 0; i < n; i++) {
        uint64_t s = stream_state(seed, stream, i);
        uint64_t pick = s;
        size_t k = (size_t)(splitmix(&pick) % ns);
        char id[64];
        snprintf(id, sizeof id, "gen%llu%s_%zu", (unsigned long long)seed, stream ? "v" : "", i);
        if (run_scene(scene(k), pick, id, out)) {
            while (out->n > before) { /* roll back */
                bg_example *e = &out->ex[--out->n];
                free(e->id), free(e->dialogue), free(e->summary), free(e->topic);
            }
            return -1;
        }
    }
    return 0;
}

int bg_corpus_generate(size_t n, uint64_t seed, bg_split *out) { return generate(n, seed, 0, out); }

int bg_corpus_default(uint64_t seed, size_t ntrain, size_t nval, bg_split *train, bg_split *val) {
    if (!train || !val) return -1;
    if (generate(ntrain, seed, 0, train) || generate(nval, seed, 1, val)) {
        bg_split_free(train);
        bg_split_free(val);
        return -1;
    }
    return 0;
}

int bg_corpus_generate_scene(size_t i, uint64_t seed, bg_split *out) {
    const bg_scene *sc = scene(i);
    if (!sc || !out) return -1;
    char id[64];
    snprintf(id, sizeof id, "scene%zu_%llu", i, (unsigned long long)seed);
    return run_scene(sc, stream_state(seed, 2, i), id, out);
}
