/* test_data.c - DialogSum loaders, document format and splits, on small inputs and on the real
 * DialogSum files. The built-in corpus is tested in test_corpus.c, the token cache in test_cache.c. */
#include <stdint.h>
#include <unistd.h>

#include "examples/babygpt/data.h"
#include "tests/nb_check.h"
#include "tests/tmp_files.h"

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct {
    char msg[32][256];
    int n;
} warns;

static void collect(void *user, const char *msg) {
    warns *w = user;
    if (w->n < 32) snprintf(w->msg[w->n++], sizeof w->msg[0], "%s", msg);
}

static int has_warn(const warns *w, const char *needle) {
    for (int i = 0; i < w->n; i++)
        if (strstr(w->msg[i], needle)) return 1;
    return 0;
}

static size_t count_sub(const char *s, const char *sub) {
    size_t n = 0, k = strlen(sub);
    for (const char *p = strstr(s, sub); p; p = strstr(p + k, sub))
        n++;
    return n;
}

/* ---- CSV -------------------------------------------------------------------------------- */

START_TEST(csv_quotes_newlines_crlf_reordered) {
    const char *csv = "\xEF\xBB\xBFtopic,summary,extra,dialogue,id\r\n"
                      "shopping,\"#Person1# buys a \"\"blue\"\" hat.\",x,\"#Person1#: Hi, I want a hat.\r\n"
                      "#Person2#: Sure, \"\"blue\"\"?\",t_1\r\n"
                      "\r\n"
                      "weather,,y,\"#Person1#: Rain, again.\n#Person2#: Yes.\",t_2\n"
                      "plain,A plain summary,z,#Person1#: unquoted turn,t_3";
    bg_split s = {0};
    warns w = {0};
    char err[256] = "";
    ck_assert_int_eq(
        bg_load_buffer(csv, strlen(csv), BG_FMT_CSV, "mem.csv", &s, collect, &w, err, sizeof err), 0);
    ck_assert_int_eq(w.n, 0);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(s.skipped, 0);
    ck_assert_str_eq(s.ex[0].id, "t_1");
    ck_assert_str_eq(s.ex[0].topic, "shopping");
    ck_assert_str_eq(s.ex[0].summary, "#Person1# buys a \"blue\" hat.");
    ck_assert_str_eq(s.ex[0].dialogue, "#Person1#: Hi, I want a hat.\n#Person2#: Sure, \"blue\"?");
    ck_assert_ptr_null(s.ex[1].summary); /* empty summary field */
    ck_assert_str_eq(s.ex[1].dialogue, "#Person1#: Rain, again.\n#Person2#: Yes.");
    ck_assert_str_eq(s.ex[2].dialogue, "#Person1#: unquoted turn");
    ck_assert_str_eq(s.ex[2].summary, "A plain summary");
    bg_split_free(&s);
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

/* Asserts that w holds the warning "<base>:<line>: <what>..." */
static void expect_warn(const warns *w, const char *base, int line, const char *what) {
    char want[256];
    snprintf(want, sizeof want, "%s:%d: %s", base, line, what);
    ck_assert_msg(has_warn(w, want), "no warning %s (first: %s)", want, w->n ? w->msg[0] : "none");
}

START_TEST(csv_malformed_rows_reported_and_skipped) {
    const char *csv = "id,dialogue,summary,topic\n"                   /* line 1 */
                      "a,\"#Person1#: ok\",s,t\n"                     /* 2 good */
                      "b,#Person1#: two fields\n"                     /* 3 wrong count */
                      "c,\"#Person1#: x\"oops,s,t\n"                  /* 4 text after quote */
                      "d,\"\",s,t\n"                                  /* 5 missing dialogue */
                      "e,\"#Person1#: multi\n#Person2#: line\",s,t\n" /* 6-7 good */
                      "f,#Person1#: too,many,fields,here\n"           /* 8 wrong count */
                      "i,#Person1#: caf\xe9,s,t\n"                    /* 9 Latin-1, not UTF-8 */
                      "j,#Person1#: caf\xc3\xa9,\xed\xa0\x80,t\n"     /* 10 UTF-8; a surrogate */
                      "h,#Person1#: fine,s,t\n"                       /* 11 good */
                      "g,\"#Person1#: never closed,s,t\n"             /* 12 unterminated: the */
                      "k,#Person2#: inside the quote,s,t\n";          /* 13 file ends inside it */
    const char *path = temp_file(".csv", csv);
    const char *base = strrchr(path, '/') + 1;
    bg_split s = {0};
    warns w = {0};
    char err[256] = "";
    ck_assert_int_eq(bg_load_file(path, &s, collect, &w, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_str_eq(s.ex[0].id, "a");
    ck_assert_str_eq(s.ex[1].id, "e");
    ck_assert_str_eq(s.ex[2].id, "h");
    ck_assert_uint_eq(s.skipped, 7);
    ck_assert_int_eq(w.n, 7);
    expect_warn(&w, base, 3, "wrong number of fields");
    expect_warn(&w, base, 4, "unexpected text after a closing quote");
    expect_warn(&w, base, 5, "missing dialogue");
    expect_warn(&w, base, 8, "wrong number of fields: expected 4, got 5");
    expect_warn(&w, base, 9, "invalid UTF-8 in a field");
    expect_warn(&w, base, 10, "invalid UTF-8 in a field");
    /* as RFC 4180, Python's csv and pandas read it: the rest of the file is inside the quote (a
     * file cut short), so line 13 is not a row, and the warning says which lines went */
    expect_warn(&w, base, 12, "unterminated quoted field: the file ends inside it (lines 12-13)");
    bg_split_free(&s);
    unlink(path);
}
END_TEST

START_TEST(csv_broken_multiline_record_skipped_whole) {
    /* undoubled quotes inside a field that goes on over lines: the whole record is skipped, and
     * its later lines (one of which has the header's four fields) are not read as a row */
    const char *csv = "id,dialogue,summary,topic\n"                                  /* 1 */
                      "a,\"#Person1#: He said \"hi\" to me\n"                        /* 2 broken */
                      "#Person2#: well, I think, maybe, yes\n"                       /* 3 (4 fields) */
                      "#Person1#: ok.\",s,t\n"                                       /* 4 */
                      "b,\"#Person1#: fine\",s,t\n"                                  /* 5 good */
                      "c,\"#Person1#: x\"y\"z,s,t\n"                                 /* 6 odd stray quote */
                      "d,\"#Person1#: good\",s,t\n"                                  /* 7 good */
                      "e,\"#Person1#: say \"so\"\r\n#Person2#: no, no, no\",s,t\r\n" /* 8-9 broken, CRLF */
                      "f,#Person1#: last,s,t\n";                                     /* 10 good */
    const char *path = temp_file(".csv", csv);
    const char *base = strrchr(path, '/') + 1;
    bg_split s = {0};
    warns w = {0};
    char err[256] = "";
    ck_assert_int_eq(bg_load_file(path, &s, collect, &w, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_str_eq(s.ex[0].id, "b");
    ck_assert_str_eq(s.ex[1].id, "d");
    ck_assert_str_eq(s.ex[2].id, "f");
    ck_assert_uint_eq(s.skipped, 3);
    ck_assert_int_eq(w.n, 3);
    expect_warn(&w, base, 2, "unexpected text after a closing quote");
    expect_warn(&w, base, 6, "unexpected text after a closing quote");
    expect_warn(&w, base, 8, "unexpected text after a closing quote");
    bg_split_free(&s);
    unlink(path);
}
END_TEST

START_TEST(csv_bad_files_are_errors) {
    bg_split s = {0};
    char err[256] = "";
    const char *p = temp_file(".csv", "");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty file"));
    unlink(p);
    p = temp_file(".csv", "id,text,summary\n1,hello,world\n");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no 'dialogue' column"));
    unlink(p);
    p = temp_file(".csv", "id,dialogue\n1,\"open\n");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no valid rows"));
    ck_assert_uint_eq(s.n, 0);
    unlink(p);
    p = temp_file(".csv", "id,dialogue,summary,Dialogue\n1,a,b,c\n"); /* which is the data? */
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, ":1: CSV header has two 'dialogue' columns (2 and 4)"), "%s", err);
    unlink(p);
    p = temp_file(".csv", "fname,id,dialogue\nf1,i1,#Person1#: Hi\n"); /* both names: 'id' is the id */
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), 0);
    ck_assert_str_eq(s.ex[0].id, "i1");
    bg_split_free(&s);
    unlink(p);
    ck_assert_int_eq(bg_load_file("/nonexistent/nb/train.csv", &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/nb/train.csv"));
    ck_assert_int_eq(bg_load_file("/tmp", &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_int_eq(bg_load_buffer(NULL, 0, BG_FMT_AUTO, "x", &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

/* ---- JSONL ------------------------------------------------------------------------------ */

START_TEST(jsonl_good_and_malformed) {
    const char *j = "{\"fname\": \"dev_0\", \"dialogue\": \"#Person1#: Hi\\n#Person2#: Yo\", "
                    "\"summary\": \"They greet.\", \"topic\": \"greeting\"}\n" /* 1 */
                    "\n"                                                       /* 2 */
                    "{\"id\": 7, \"dialogue\": \"#Person1#: A\", \"summary1\": \"one\", "
                    "\"summary2\": \"two\", \"summary3\": \"three\", \"topic\": \"t\"}\r\n"   /* 3 */
                    "{\"fname\": \"x\", \"dialogue\": \"#Person1#: broken\"\n"                /* 4 */
                    "[1, 2, 3]\n"                                                             /* 5 */
                    "{\"fname\": \"y\", \"dialogue\": 42}\n"                                  /* 6 */
                    "{\"fname\": \"z\", \"summary\": \"no dialogue\"}\n"                      /* 7 */
                    "{\"fname\": \"w\", \"dialogue\": \"#Person1#: B\", \"summary\": null}\n" /* 8 */
                    "{\"fname\": \"v\", \"dialogue\": \"#Person1#: C\", \"topic\": [\"t\"]}"; /* 9 */
    bg_split s = {0};
    warns w = {0};
    char err[256] = "";
    ck_assert_int_eq(bg_load_buffer(j, strlen(j), BG_FMT_AUTO, "v.jsonl", &s, collect, &w, err, sizeof err),
                     0);
    ck_assert_uint_eq(s.n, 5);
    ck_assert_str_eq(s.ex[0].id, "dev_0");
    ck_assert_str_eq(s.ex[0].dialogue, "#Person1#: Hi\n#Person2#: Yo");
    ck_assert_str_eq(s.ex[0].summary, "They greet.");
    ck_assert_str_eq(s.ex[0].topic, "greeting");
    for (int k = 1; k <= 3; k++)
        ck_assert_str_eq(s.ex[k].id, "7");
    ck_assert_str_eq(s.ex[1].summary, "one");
    ck_assert_str_eq(s.ex[2].summary, "two");
    ck_assert_str_eq(s.ex[3].summary, "three");
    ck_assert_str_eq(s.ex[4].id, "w");
    ck_assert_ptr_null(s.ex[4].summary);
    ck_assert_uint_eq(s.skipped, 5);
    ck_assert_int_eq(w.n, 5);
    ck_assert(has_warn(&w, "v.jsonl:4: invalid JSON"));
    ck_assert(has_warn(&w, "v.jsonl:5: not a JSON object"));
    ck_assert(has_warn(&w, "v.jsonl:6: field 'dialogue' is not a string"));
    ck_assert(has_warn(&w, "v.jsonl:7: missing dialogue"));
    ck_assert(has_warn(&w, "v.jsonl:9: field 'topic' is not a string"));
    bg_split_free(&s);
}
END_TEST

START_TEST(jsonl_errors_and_sniffing) {
    bg_split s = {0};
    char err[256] = "";
    const char *p = temp_file(".jsonl", "\n  \n");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty file"));
    unlink(p);
    p = temp_file(".jsonl", "not json\n{\"dialogue\": 1}\n");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no valid rows"));
    unlink(p);
    /* unknown extension: JSON content is sniffed */
    p = temp_file(".txt", "{\"fname\": \"a\", \"dialogue\": \"#Person1#: sniffed\"}\n");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(s.ex[0].dialogue, "#Person1#: sniffed");
    bg_split_free(&s);
    unlink(p);
}
END_TEST

/* A .json file holding one array of example objects (an export, not JSON lines). */
START_TEST(json_array_file) {
    const char *j =
        "\xEF\xBB\xBF [{\"fname\": \"a\", \"dialogue\": \"#Person1#: Hi\", \"summary\": \"hi\"},\n"
        "  {\"fname\": \"b\", \"dialogue\": 3},\n"
        "  7,\n"
        "  {\"id\": 9, \"dialogue\": \"#Person1#: Bye\"}]\n";
    bg_split s = {0};
    warns w = {0};
    char err[256] = "";
    ck_assert_int_eq(bg_load_buffer(j, strlen(j), BG_FMT_AUTO, "x.json", &s, collect, &w, err, sizeof err),
                     0);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_str_eq(s.ex[0].id, "a");
    ck_assert_str_eq(s.ex[0].summary, "hi");
    ck_assert_str_eq(s.ex[1].id, "9");
    ck_assert_str_eq(s.ex[1].dialogue, "#Person1#: Bye");
    ck_assert_uint_eq(s.skipped, 2);
    ck_assert(has_warn(&w, "x.json: element 1: field 'dialogue' is not a string"));
    ck_assert(has_warn(&w, "x.json: element 2: not a JSON object"));
    bg_split_free(&s);
    /* a broken array is one error with its line and column; an empty one is an error too */
    const char *p = temp_file(".json", "[{\"dialogue\": \"#Person1#: x\"},\n {\"a\": 1");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, ".json:2:") && strstr(err, "invalid JSON"), "%s", err);
    unlink(p);
    p = temp_file(".json", " [ ] ");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty array"));
    unlink(p);
    /* JSON lines whose first row happens to be an array stay JSON lines */
    p = temp_file(".jsonl", "[1, 2]\n{\"dialogue\": \"#Person1#: second line\"}\n");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_eq(s.skipped, 1);
    bg_split_free(&s);
    unlink(p);
    p = temp_file(".json", "{\"dialogue\": \"#Person1#: one object is one line\"}");
    ck_assert_int_eq(bg_load_file(p, &s, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(s.n, 1);
    bg_split_free(&s);
    unlink(p);
}
END_TEST

/* ---- datasets and splits ---------------------------------------------------------------- */

START_TEST(dataset_folder_and_single_file) {
    make_tmpdir();
    char p[256], err[256] = "";
    bg_split tr = {0}, va = {0};
    ck_assert_int_eq(bg_load_dataset(tmpdir, &tr, &va, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no train.csv"));
    snprintf(p, sizeof p, "%s/train.csv", tmpdir);
    ck_assert_int_eq(symlink("/nonexistent/nb_train.csv", p), 0); /* a broken link is named as such */
    ck_assert_int_eq(bg_load_dataset(tmpdir, &tr, &va, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "train.csv: cannot open"), "%s", err);
    unlink(p);
    const char *csv = "id,dialogue,summary,topic\n1,#Person1#: a,s,t\n2,#Person1#: b,s,t\n";
    write_file(p, csv, strlen(csv));
    snprintf(p, sizeof p, "%s/validation.jsonl", tmpdir);
    const char *jl = "{\"fname\": \"v1\", \"dialogue\": \"#Person1#: v\"}\n";
    write_file(p, jl, strlen(jl));
    ck_assert_int_eq(bg_load_dataset(tmpdir, &tr, &va, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(tr.n, 2);
    ck_assert_uint_eq(va.n, 1);
    ck_assert_str_eq(va.ex[0].id, "v1");
    bg_split_free(&tr);
    bg_split_free(&va);
    /* one file of 20 rows: the last 10% (2 rows) become validation */
    char big[4096] = "id,dialogue,summary,topic\n";
    for (int i = 0; i < 20; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "r%d,#Person1#: row %d,s,t\n", i, i);
    snprintf(p, sizeof p, "%s/all.csv", tmpdir);
    write_file(p, big, strlen(big));
    ck_assert_int_eq(bg_load_dataset(p, &tr, &va, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(tr.n, 18);
    ck_assert_uint_eq(va.n, 2);
    ck_assert_str_eq(va.ex[0].id, "r18");
    bg_split_free(&tr);
    bg_split_free(&va);
    ck_assert_int_eq(bg_load_dataset(p, &tr, NULL, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(tr.n, 20);
    bg_split_free(&tr);
    rm_dir(tmpdir);
}
END_TEST

START_TEST(carve_keeps_same_id_together) {
    bg_split all = {0}, val = {0};
    const char *ids[] = {"a", "a", "b", "b", "b", "c", "c", "d", "d", "d"};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(bg_split_add(&all, ids[i], "#Person1#: x", NULL, NULL), 0);
    ck_assert_int_eq(bg_split_carve(&all, 0.2, &val), 0); /* 2 rows wanted: d's copies are 3 */
    ck_assert_uint_eq(all.n + val.n, 10);
    for (size_t i = 0; i < val.n; i++)
        for (size_t k = 0; k < all.n; k++)
            ck_assert_str_ne(val.ex[i].id, all.ex[k].id);
    ck_assert_uint_ge(val.n, 1);
    bg_split_free(&all);
    bg_split_free(&val);
}
END_TEST

/* ---- document format -------------------------------------------------------------------- */

START_TEST(format_document_and_corpus) {
    bg_example e = {"x", "  #Person1#: Hi there.  \r\n\r\n#Person2#:Hello!\r#Person1#: Bye.\n\n",
                    "  #Person1# greets\n#Person2#.  ", "t"};
    char *d = bg_format_document(&e);
    ck_assert_str_eq(d, "#Person1#: Hi there.\n#Person2#: Hello!\n#Person1#: Bye.\n"
                        "#Summary#: #Person1# greets #Person2#.");
    free(d);
    bg_example nosum = {"y", "#Person1#: Only me.", NULL, ""};
    d = bg_format_document(&nosum);
    ck_assert_str_eq(d, "#Person1#: Only me.");
    free(d);
    bg_example blank = {"z", "#Person1#: Q", " \n ", ""};
    d = bg_format_document(&blank);
    ck_assert_str_eq(d, "#Person1#: Q");
    free(d);
    ck_assert_ptr_null(bg_format_document(NULL));

    bg_split s = {0};
    ck_assert_int_eq(bg_split_add(&s, "1", "#Person1#: A", "S1", ""), 0);
    ck_assert_int_eq(bg_split_add(&s, "2", "#Person1#: B", NULL, ""), 0);
    ck_assert_int_eq(bg_split_add(&s, "3", "#Person2#: C", "S3", ""), 0);
    size_t len = 0;
    char *c = bg_format_corpus(&s, &len);
    ck_assert_str_eq(c, "#Person1#: A\n" BG_SUMMARY_MARK "S1" BG_EOT "#Person1#: B" BG_EOT
                        "#Person2#: C\n#Summary#: S3");
    ck_assert_uint_eq(len, strlen(c));
    free(c);
    bg_split_free(&s);
    c = bg_format_corpus(&s, &len);
    ck_assert_str_eq(c, "");
    ck_assert_uint_eq(len, 0);
    free(c);
    ck_assert_str_eq(BG_TURN_PERSON1, "#Person1#: ");
    ck_assert_str_eq(BG_TURN_PERSON2, "#Person2#: ");
}
END_TEST

/* ---- real DialogSum --------------------------------------------------------------------- */

static void load_real(const char *name, bg_split *s) {
    char p[512], err[256] = "";
    warns w = {0};
    snprintf(p, sizeof p, "%s/dialogsum/%s", nb_test_data_dir(), name);
    ck_assert_msg(bg_load_file(p, s, collect, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(w.n == 0, "%s: unexpected warning %s", name, w.msg[0]);
    ck_assert_uint_eq(s->skipped, 0);
}

START_TEST(real_dialogsum_counts) {
    static const struct {
        const char *file;
        size_t n;
    } want[] = {{"train.csv", 601}, {"validation.csv", 500}, {"test.csv", 1500}, {"validation.jsonl", 500}};
    for (size_t i = 0; i < 4; i++) {
        bg_split s = {0};
        load_real(want[i].file, &s);
        ck_assert_msg(s.n == want[i].n, "%s: %zu rows, want %zu", want[i].file, s.n, want[i].n);
        for (size_t k = 0; k < s.n; k++) {
            ck_assert_msg(strncmp(s.ex[k].dialogue, "#Person", 7) == 0, "%s row %zu", want[i].file, k);
            ck_assert_ptr_nonnull(s.ex[k].summary);
            ck_assert_ptr_null(strchr(s.ex[k].dialogue, '\r'));
        }
        size_t len = 0;
        char *c = bg_format_corpus(&s, &len);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(count_sub(c, BG_EOT), s.n - 1);
        ck_assert_uint_eq(count_sub(c, "\n" BG_SUMMARY_MARK), s.n);
        free(c);
        bg_split_free(&s);
    }
}
END_TEST

START_TEST(real_csv_and_jsonl_agree) {
    bg_split c = {0}, j = {0};
    load_real("validation.csv", &c);
    load_real("validation.jsonl", &j);
    ck_assert_uint_eq(c.n, j.n);
    for (size_t i = 0; i < c.n; i++) {
        ck_assert_str_eq(c.ex[i].id, j.ex[i].id);
        ck_assert_str_eq(c.ex[i].dialogue, j.ex[i].dialogue);
        ck_assert_str_eq(c.ex[i].summary, j.ex[i].summary);
        ck_assert_str_eq(c.ex[i].topic, j.ex[i].topic);
    }
    bg_split_free(&c);
    bg_split_free(&j);
}
END_TEST

START_TEST(real_dataset_folder) {
    char p[512], err[256] = "";
    bg_split tr = {0}, va = {0};
    snprintf(p, sizeof p, "%s/dialogsum", nb_test_data_dir());
    ck_assert_msg(bg_load_dataset(p, &tr, &va, NULL, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(tr.n, 601);
    ck_assert_uint_eq(va.n, 500);
    bg_split_free(&tr);
    bg_split_free(&va);
    /* test.csv holds each dialogue three times: the carve must not split a dialogue */
    snprintf(p, sizeof p, "%s/dialogsum/test.csv", nb_test_data_dir());
    ck_assert_int_eq(bg_load_dataset(p, &tr, &va, NULL, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(tr.n + va.n, 1500);
    ck_assert_uint_ge(va.n, 140);
    ck_assert_str_ne(tr.ex[tr.n - 1].id, va.ex[0].id);
    bg_split_free(&tr);
    bg_split_free(&va);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, csv_quotes_newlines_crlf_reordered);
    tcase_add_test(tc, csv_malformed_rows_reported_and_skipped);
    tcase_add_test(tc, csv_broken_multiline_record_skipped_whole);
    tcase_add_test(tc, csv_bad_files_are_errors);
    tcase_add_test(tc, jsonl_good_and_malformed);
    tcase_add_test(tc, jsonl_errors_and_sniffing);
    tcase_add_test(tc, json_array_file);
    tcase_add_test(tc, dataset_folder_and_single_file);
    tcase_add_test(tc, carve_keeps_same_id_together);
    tcase_add_test(tc, format_document_and_corpus);
    suite_add_tcase(s, tc);
    if (nb_test_data_dir()) {
        TCase *real = tcase_create("dialogsum");
        tcase_set_timeout(real, 60);
        tcase_add_test(real, real_dialogsum_counts);
        tcase_add_test(real, real_csv_and_jsonl_agree);
        tcase_add_test(real, real_dataset_folder);
        suite_add_tcase(s, real);
    } else {
        nb_test_skip("data/real_dialogsum", "no shared data folder (set NABLA_DATA)");
    }
    return s;
}

NB_CHECK_MAIN()
