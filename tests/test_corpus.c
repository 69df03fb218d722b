/* test_corpus.c - the built-in corpus: deterministic and seeded, every scenario used, turns and
 * summaries well formed (each number a summary states appears in its dialogue), the default
 * train/validation splits. */
#include <ctype.h>

#include "examples/babygpt/corpus.h"
#include "examples/babygpt/data.h"
#include "tests/nb_check.h"

static int same_split(const bg_split *a, const bg_split *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->ex[i].dialogue, b->ex[i].dialogue) || strcmp(a->ex[i].summary, b->ex[i].summary) ||
            strcmp(a->ex[i].topic, b->ex[i].topic) || strcmp(a->ex[i].id, b->ex[i].id))
            return 0;
    return 1;
}

START_TEST(corpus_deterministic_and_seeded) {
    bg_split a = {0}, b = {0}, c = {0}, pre = {0};
    ck_assert_int_eq(bg_corpus_generate(300, 42, &a), 0);
    ck_assert_int_eq(bg_corpus_generate(300, 42, &b), 0);
    ck_assert_int_eq(bg_corpus_generate(300, 43, &c), 0);
    ck_assert_int_eq(bg_corpus_generate(100, 42, &pre), 0);
    ck_assert_uint_eq(a.n, 300);
    ck_assert(same_split(&a, &b));
    size_t differ = 0;
    for (size_t i = 0; i < a.n; i++)
        differ += strcmp(a.ex[i].dialogue, c.ex[i].dialogue) != 0;
    ck_assert_uint_gt(differ, 250);
    for (size_t i = 0; i < pre.n; i++)
        ck_assert_str_eq(pre.ex[i].dialogue, a.ex[i].dialogue);
    /* dialogues within one corpus are varied, not copies */
    size_t dup = 0;
    for (size_t i = 1; i < a.n; i++)
        dup += strcmp(a.ex[i].dialogue, a.ex[i - 1].dialogue) == 0;
    ck_assert_uint_lt(dup, 3);
    bg_split_free(&a);
    bg_split_free(&b);
    bg_split_free(&c);
    bg_split_free(&pre);
}
END_TEST

/* Every number in the summary appears in the dialogue (the summary states its facts). */
static void check_facts(const bg_example *e) {
    for (const char *p = e->summary; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > e->summary && isdigit((unsigned char)p[-1]))) continue;
        char num[32];
        size_t k = 0;
        while (isdigit((unsigned char)p[k]) || (p[k] == '.' && isdigit((unsigned char)p[k + 1])) ||
               (p[k] == ':' && isdigit((unsigned char)p[k + 1])))
            k++;
        ck_assert_uint_lt(k, sizeof num);
        memcpy(num, p, k);
        num[k] = '\0';
        ck_assert_msg(strstr(e->dialogue, num), "%s: summary number %s not in dialogue", e->id, num);
    }
}

START_TEST(corpus_shape_and_scenarios) {
    size_t ns = bg_corpus_scenarios();
    ck_assert_uint_ge(ns, 25);
    ck_assert_ptr_null(bg_corpus_scenario_name(ns));
    bg_split s = {0};
    ck_assert_int_eq(bg_corpus_generate(2000, 1, &s), 0);
    ck_assert_uint_eq(s.n, 2000);
    size_t *seen = calloc(ns, sizeof *seen);
    for (size_t i = 0; i < s.n; i++) {
        const bg_example *e = &s.ex[i];
        ck_assert_ptr_nonnull(e->summary);
        ck_assert_uint_gt(strlen(e->summary), 20);
        ck_assert_msg(!strchr(e->dialogue, '{') && !strchr(e->summary, '{'), "unexpanded slot in %s", e->id);
        size_t turns = 0;
        for (const char *l = e->dialogue; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            ck_assert_msg(!strncmp(l, BG_TURN_PERSON1, 11) || !strncmp(l, BG_TURN_PERSON2, 11),
                          "%s: bad turn line", e->id);
            turns++;
        }
        ck_assert_uint_ge(turns, 4);
        check_facts(e);
        for (size_t k = 0; k < ns; k++)
            if (!strcmp(e->topic, bg_corpus_scenario_name(k))) seen[k]++;
        if (i > 0) ck_assert_str_ne(e->id, s.ex[i - 1].id);
    }
    for (size_t k = 0; k < ns; k++)
        ck_assert_msg(seen[k] > 20, "scenario %s used %zu times", bg_corpus_scenario_name(k), seen[k]);
    free(seen);
    bg_split_free(&s);
    for (size_t k = 0; k < ns; k++) {
        ck_assert_int_eq(bg_corpus_generate_scene(k, 9, &s), 0);
        ck_assert_str_eq(s.ex[k].topic, bg_corpus_scenario_name(k));
    }
    ck_assert_int_eq(bg_corpus_generate_scene(ns, 9, &s), -1);
    bg_split_free(&s);
    bg_split tr = {0}, va = {0};
    ck_assert_int_eq(bg_corpus_default(5, BG_CORPUS_TRAIN, BG_CORPUS_VAL, &tr, &va), 0);
    ck_assert_uint_eq(tr.n, 2000);
    ck_assert_uint_eq(va.n, 200);
    ck_assert_str_ne(tr.ex[0].dialogue, va.ex[0].dialogue);
    bg_split_free(&tr);
    bg_split_free(&va);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("corpus");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, corpus_deterministic_and_seeded);
    tcase_add_test(tc, corpus_shape_and_scenarios);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
