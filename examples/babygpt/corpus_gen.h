/* corpus_gen.h - internal: the template engine behind corpus.c and the scenario scripts.
 *
 * A scenario is a function that sets slots (bg_gen_set / SETP / SETL) and emits turns
 * (SAY) and summary sentences (SUM). Text templates may name slots as {key}; {^key}
 * capitalises the value's first letter. Slots A and B start as "#Person1#" / "#Person2#",
 * the way DialogSum summaries name the speakers; p1 and p2 are the speakers' first names. */
#ifndef BG_CORPUS_GEN_H
#define BG_CORPUS_GEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct bg_gen bg_gen;

/* A scenario: its name and the script that writes one dialogue. */
typedef struct {
    const char *name;
    void (*run)(bg_gen *g);
} bg_scene;

extern const bg_scene bg_scenes_a[], bg_scenes_b[];
extern const size_t bg_nscenes_a, bg_nscenes_b;

/* Shared word lists (NULL-terminated). */
extern const char *const bg_w_names[];
extern const char *const bg_w_surnames[];
extern const char *const bg_w_cities[];
extern const char *const bg_w_days[];
extern const char *const bg_w_times[];
extern const char *const bg_w_colors[];

/* Uniform integer in [lo, hi]. */
int bg_gen_int(bg_gen *g, int lo, int hi);
/* 1 with probability percent/100. */
int bg_gen_chance(bg_gen *g, int percent);
/* One entry of a NULL-terminated list, uniformly. */
const char *bg_gen_pick(bg_gen *g, const char *const *alts);
/* Sets slot key to a printf-formatted value (no slot expansion). */
void bg_gen_set(bg_gen *g, const char *key, const char *fmt, ...);
/* Sets slot key to one of alts with its slots expanded. */
void bg_gen_setx(bg_gen *g, const char *key, const char *const *alts);
/* Sets slot key to alts[k] (k taken modulo the list length) with its slots expanded; with
 * one shared k, several SETK calls pick matching entries of parallel lists. */
void bg_gen_setk(bg_gen *g, const char *key, int k, const char *const *alts);
/* The value of slot key, or "" if unset. */
const char *bg_gen_get(bg_gen *g, const char *key);
/* Adds a turn by speaker who (1 or 2): one of alts, slots expanded. */
void bg_gen_say(bg_gen *g, int who, const char *const *alts);
/* Adds a sentence to the summary: one of alts, slots expanded. */
void bg_gen_sum(bg_gen *g, const char *const *alts);
/* Sets the topic. */
void bg_gen_topic(bg_gen *g, const char *topic);

#define BG_ALTS(...)         ((const char *const[]){__VA_ARGS__, NULL})
#define SAY(g, who, ...)     bg_gen_say(g, who, BG_ALTS(__VA_ARGS__))
#define SUM(g, ...)          bg_gen_sum(g, BG_ALTS(__VA_ARGS__))
#define PICK(g, ...)         bg_gen_pick(g, BG_ALTS(__VA_ARGS__))
#define SETP(g, key, ...)    bg_gen_setx(g, key, BG_ALTS(__VA_ARGS__))
#define SETK(g, key, k, ...) bg_gen_setk(g, key, k, BG_ALTS(__VA_ARGS__))
#define SETL(g, key, list)   bg_gen_set(g, key, "%s", bg_gen_pick(g, list))
#define CHANCE(g, pct)       bg_gen_chance(g, pct)

#endif
