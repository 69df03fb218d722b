/* corpus.h - the built-in dialogue corpus: Baby GPT's default training data.
 *
 * Dialogues are generated from templates of everyday scenarios (shopping, restaurant,
 * doctor, travel, job interview, renting, bank, gym, ...). Each scenario has several
 * phrasings per turn and slots filled from lists of names, items, places, times and
 * prices; each dialogue comes with its topic and a summary stating its facts, in the same
 * bg_example layout as loaded DialogSum rows (turns "#Person1#: ..." / "#Person2#: ...").
 * Output depends only on the seed and the index: dialogue i of a seed is the same whatever
 * n is, so a longer corpus extends a shorter one. */
#ifndef BG_CORPUS_H
#define BG_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "examples/babygpt/data.h"

#define BG_CORPUS_TRAIN 2000 /* default number of training dialogues */
#define BG_CORPUS_VAL   200  /* default number of validation dialogues */

/* Appends n generated dialogues (ids "gen<seed>_<i>") to *out (zeroed or holding rows).
 * Returns 0, or -1 on out-of-memory or a NULL out (out then holds what it held before). */
int bg_corpus_generate(size_t n, uint64_t seed, bg_split *out);

/* Fills *train with ntrain and *val with nval dialogues from two independent streams of
 * one seed (pass BG_CORPUS_TRAIN / BG_CORPUS_VAL for the defaults). Returns 0, or -1 on
 * out-of-memory with both splits freed. */
int bg_corpus_default(uint64_t seed, size_t ntrain, size_t nval, bg_split *train, bg_split *val);

/* Number of scenario templates the generator draws from. */
size_t bg_corpus_scenarios(void);

/* Name of scenario i ("shopping for clothes", ...) or NULL when i is out of range. The
 * string is static. */
const char *bg_corpus_scenario_name(size_t i);

/* Appends one dialogue of scenario i, seeded by seed, to *out. Returns 0, or -1 on a bad
 * index or out-of-memory. For tests and demos. */
int bg_corpus_generate_scene(size_t i, uint64_t seed, bg_split *out);

#endif
