/* The babygpt program guards what it must not lose and refuses bad input with one clear
 * message: an existing run is not overwritten (nor touched by a mistyped option, a failing
 * --overwrite or another tokenizer on resume), what an interrupted write left is cleaned up, a
 * diverged run stops before saving, and non-files, out-of-range ids, unwritable output, a
 * checkpoint's impossible config, more memory than the machine has and a bad NABLA_NUM_THREADS
 * are errors (or a warning), never a crash or a silent success. */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/babygpt_prog.h"
#include "tests/nb_check.h"

static char tmp[256];
static char bin[512];

static void suite_setup(void) {
    bgp_setup("bgguard", tmp, sizeof tmp, bin, sizeof bin);
    setenv("NABLA_NUM_THREADS", "2", 1);
}

static void suite_teardown(void) { bgp_teardown(tmp); }

/* Runs `cd tmp && <cmd>` in a shell; its exit status, its output in out. */
static int sh(char *out, size_t cap, const char *fmt, ...) {
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd %s && ", tmp);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, cap - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The bytes of a file (malloc'd), or NULL. */
static char *slurp(const char *dir, const char *name, size_t *len) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s", tmp, dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static int same_file(const char *dir, const char *name, const char *bytes, size_t len) {
    size_t n;
    char *b = slurp(dir, name, &n);
    int same = b && n == len && memcmp(b, bytes, len) == 0;
    free(b);
    return same;
}

/* A small trained run in tmp/<dir> (4 steps of tiny, BPE of 300 tokens). */
static void make_run(const char *dir) {
    char buf[8192];
    int rc = sh(buf, sizeof buf,
                "%s train --steps 4 --batch 2 --eval-every 2 --eval-batches 1 --bpe-size 300 "
                "--out %s --quiet 2>&1",
                bin, dir);
    ck_assert_msg(rc == 0, "%s", buf);
}

START_TEST(an_existing_run_is_not_overwritten) {
    char buf[8192];
    make_run("keep");
    size_t nt, nc;
    char *tok = slurp("keep", "tokenizer/vocab.bpe", &nt), *ck = slurp("keep", "ckpt.safetensors", &nc);
    ck_assert(tok && ck);
    /* a mistyped config is refused before anything is written */
    int rc = sh(buf, sizeof buf, "%s train --config smal --bpe-size 400 --out keep 2>&1", bin);
    ck_assert_msg(rc == 2 && strstr(buf, "unknown config 'smal'"), "rc %d: %s", rc, buf);
    /* a fresh run into the folder is refused, naming the ways out */
    rc = sh(buf, sizeof buf, "%s train --steps 2 --bpe-size 260 --out keep --quiet 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "already holds a training run") && strstr(buf, "--overwrite"),
                  "rc %d: %s", rc, buf);
    /* a forgotten value does not swallow the next option */
    rc = sh(buf, sizeof buf, "%s train --out --quiet --steps 2 2>&1", bin);
    ck_assert_msg(rc == 2 && strstr(buf, "--out needs a value, got the option '--quiet'"), "rc %d: %s", rc,
                  buf);
    /* a resumed run keeps its tokenizer: another --vocab is refused before anything is written */
    rc = sh(buf, sizeof buf,
            "rm -rf tok2 && cp -r keep/tokenizer tok2 && echo >> tok2/vocab.bpe && "
            "%s train --resume keep --vocab tok2 --out elsewhere --quiet 2>&1",
            bin);
    ck_assert_msg(rc == 2 && strstr(buf, "keeps the tokenizer it was trained with"), "rc %d: %s", rc, buf);
    char elsewhere[600];
    struct stat est;
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", tmp);
    ck_assert_msg(stat(elsewhere, &est) != 0, "a refused run created its --out folder");
    /* other data than the run's is named before it is read */
    rc = sh(buf, sizeof buf, "%s train --resume keep --data /dev/null --steps 6 --quiet 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "training on /dev/null, not on the run's (built-in corpus)"),
                  "rc %d: %s", rc, buf);
    /* --overwrite with inputs that fail: the old run is still there */
    rc = sh(buf, sizeof buf, "%s train --steps 2 --out keep --overwrite --data /dev/null --quiet 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "/dev/null") && !strstr(buf, "removed"), "rc %d: %s", rc, buf);
    ck_assert(same_file("keep", "tokenizer/vocab.bpe", tok, nt));
    ck_assert(same_file("keep", "ckpt.safetensors", ck, nc));
    /* what a run killed while writing left behind goes when the run goes on */
    rc = sh(buf, sizeof buf,
            "echo partial > keep/ckpt.safetensors.tmp.Ab12Cd && echo x > keep/loss.png.tmp.zz99zz");
    ck_assert_int_eq(rc, 0);
    /* --resume continues the run in place (a malformed row of its loss.csv is reported, not
     * silently dropped); --overwrite replaces it */
    rc = sh(buf, sizeof buf,
            "echo garbage >> keep/loss.csv && %s train --resume keep --vocab keep/tokenizer --steps 6 "
            "--seed 5 --quiet 2>&1",
            bin); /* its own tokenizer may be named */
    ck_assert_msg(rc == 0, "resume: %s", buf);
    ck_assert_msg(strstr(buf, "--seed is not used"), "%s", buf);
    ck_assert_msg(strstr(buf, "loss.csv:5: not a row of numbers; skipped"), "%s", buf);
    ck_assert_msg(strstr(buf, "removed 2 temporary file(s)"), "%s", buf);
    size_t nl;
    char *csv = slurp("keep", "loss.csv", &nl); /* the run's --eval-every 2 was kept: rows 4 and 6, no 5 */
    ck_assert_ptr_nonnull(csv);
    csv[nl] = '\0';
    ck_assert_msg(strstr(csv, "\n4,") && strstr(csv, "\n6,") && !strstr(csv, "\n5,"), "%s", csv);
    free(csv);
    ck_assert(!slurp("keep", "ckpt.safetensors.tmp.Ab12Cd", &nc) &&
              !slurp("keep", "loss.png.tmp.zz99zz", &nc));
    /* resuming from best.safetensors would replace the newer ckpt.safetensors beside it */
    rc = sh(buf, sizeof buf, "%s train --resume keep/best.safetensors --steps 8 --quiet 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "already holds a training run (ckpt.safetensors)"), "rc %d: %s", rc,
                  buf);
    rc = sh(buf, sizeof buf,
            "%s train --steps 2 --batch 2 --bpe-size 260 --out keep --overwrite --quiet 2>&1", bin);
    ck_assert_msg(rc == 0 && strstr(buf, "--overwrite: removed the previous run in keep"), "overwrite: %s",
                  buf);
    size_t n2;
    char *tok2 = slurp("keep", "tokenizer/vocab.bpe", &n2);
    ck_assert_ptr_nonnull(tok2);
    ck_assert(n2 != nt || memcmp(tok, tok2, nt) != 0);
    free(tok2);
    free(tok);
    free(ck);
}
END_TEST

/* Sets every float of tensor `name` in a safetensors file to NaN (parsing its header). */
static void poison(const char *path, const char *name) {
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    unsigned char h8[8];
    ck_assert_int_eq(fread(h8, 1, 8, f), 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | h8[i];
    char *hdr = malloc(hl);
    ck_assert_int_eq(fread(hdr, 1, hl, f), hl);
    json_t *j = json_loadb(hdr, hl, 0, NULL);
    free(hdr);
    json_t *offs = json_object_get(json_object_get(j, name), "data_offsets");
    ck_assert_msg(json_array_size(offs) == 2, "no tensor %s in %s", name, path);
    long a = (long)json_integer_value(json_array_get(offs, 0)),
         b = (long)json_integer_value(json_array_get(offs, 1));
    json_decref(j);
    const uint32_t nan_bits = 0x7fc00000u;
    fseek(f, 8 + (long)hl + a, SEEK_SET);
    for (long p = a; p < b; p += 4)
        ck_assert_int_eq(fwrite(&nan_bits, 4, 1, f), 1);
    fclose(f);
}

START_TEST(a_diverged_run_stops_before_saving) {
    char buf[8192], path[600];
    make_run("nan");
    snprintf(path, sizeof path, "%s/nan/ckpt.safetensors", tmp);
    /* finite weights, a spoiled optimiser state: the first update spoils the weights, and the
     * run stops at the next step without saving */
    poison(path, "optim.wte.weight.m");
    size_t n;
    char *ck = slurp("nan", "ckpt.safetensors", &n);
    int rc = sh(buf, sizeof buf, "%s train --resume nan --steps 8 --quiet 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "the run diverged") &&
                      strstr(buf, "loss NaN); stopping without saving"),
                  "rc %d: %s", rc, buf);
    ck_assert(same_file("nan", "ckpt.safetensors", ck, n));
    free(ck);
    /* non-finite weights are refused up front, resuming too (not blamed on the learning rate) */
    poison(path, "wte.weight");
    rc = sh(buf, sizeof buf, "%s train --resume nan --steps 8 --quiet 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "parameter 'wte.weight' holds a non-finite value") &&
                      strstr(buf, "resume from an earlier checkpoint") && !strstr(buf, "--lr"),
                  "rc %d: %s", rc, buf);
    rc = sh(buf, sizeof buf, "%s sample --checkpoint nan/ckpt.safetensors --max-tokens 3 2>&1", bin);
    ck_assert_msg(rc == 1 && strstr(buf, "parameter 'wte.weight' holds a non-finite value"), "rc %d: %s", rc,
                  buf);
}
END_TEST

START_TEST(bad_input_and_output_are_errors) {
    char buf[8192];
    make_run("io");
    struct {
        const char *args, *expect;
        int code;
    } cases[] = {
        {"eval --checkpoint io --data /dev/zero 2>&1", "/dev/zero: a device or socket, not a data file", 1},
        /* a pipe is a legitimate data file: it ends */
        {"rm -f p.jsonl && mkfifo p.jsonl && (printf '{\"dialogue\": \"#Person1#: Hello there.\"}\\n' > "
         "p.jsonl &) "
         "&& %s eval --checkpoint io --data p.jsonl 2>&1",
         "documents 1", 0},
        {"echo '[4294982792]' | %s tokenize --vocab io/tokenizer --decode 2>&1",
         "id 4294982792 is out of range", 1},
        {"printf '[1\\0, 2]' | %s tokenize --vocab io/tokenizer --decode 2>&1", "a NUL byte at offset 2", 1},
        {"%s tokenize --vocab io/tokenizer < . 2>&1", "stdin: Is a directory", 1},
        {"sample --checkpoint io --max-tokens 99999999999999999999 2>&1",
         "--max-tokens: integer out of range", 2},
        /* strtoull would read " -1" as 2^64 - 1 */
        {"sample --checkpoint io --seed ' -1' 2>&1", "--seed: expected a number without leading spaces", 2},
        {"NABLA_NUM_THREADS=100000 %s summary --config tiny 2>&1",
         "NABLA_NUM_THREADS='100000' is not a whole number", 0},
        {"NABLA_HOST_MEMORY_MB=-5 %s summary --config tiny 2>&1",
         "NABLA_HOST_MEMORY_MB='-5' is not a positive whole number of MB", 0},
        {"%s chat --checkpoint io < . 2>&1", "reading stdin: Is a directory", 1},
        /* an --out that is a file is refused before the data and a BPE are prepared */
        {"touch afile && %s train --steps 2 --out afile 2>&1", "--out afile: not a folder", 2},
        /* more memory than allowed: a message, not the kernel's out-of-memory killer */
        {"NABLA_HOST_MEMORY_MB=64 %s train --steps 2 --batch 64 --bpe-size 300 --out big 2>&1",
         "over its limit of 64 MB", 1},
        /* a checkpoint whose config holds a batch no option allows */
        {"LC_ALL=C sed 's/\\(batch..\\):2,/\\1:0,/' io/ckpt.safetensors > bad.safetensors && "
         "%s train --resume bad.safetensors --out badrun --quiet 2>&1",
         "implausible sizes", 1},
        /* a config whose sizes its weights do not have (a few bytes can ask for a model of any size):
         * refused before that model is built, for generation and for --resume */
        {"LC_ALL=C sed 's/\\(n_embd..\\):128,/\\1:960,/' io/ckpt.safetensors > wide.safetensors && "
         "%s sample --checkpoint wide.safetensors --vocab io/tokenizer 2>&1",
         "does not match its weights: tensor 'wte.weight'", 1},
        {"%s train --resume wide.safetensors --out widerun --quiet 2>&1", "does not match its weights", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char line[1024];
        if (strstr(cases[i].args, "%s"))
            snprintf(line, sizeof line, cases[i].args, bin);
        else
            snprintf(line, sizeof line, "%s %s", bin, cases[i].args);
        int rc = sh(buf, sizeof buf, "%s", line);
        ck_assert_msg(rc == cases[i].code && strstr(buf, cases[i].expect), "'%s' exited %d: %s",
                      cases[i].args, rc, buf);
    }
    struct stat st;
    if (stat("/dev/full", &st) == 0) { /* output that cannot be written is a failure */
        int rc = sh(buf, sizeof buf, "%s summary --config tiny 2>&1 >/dev/full", bin);
        ck_assert_msg(rc == 1 && strstr(buf, "writing the output failed"), "rc %d: %s", rc, buf);
    }
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("babygpt_guard");
    TCase *tc = tcase_create("guard");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, an_existing_run_is_not_overwritten);
    tcase_add_test(tc, a_diverged_run_stops_before_saving);
    tcase_add_test(tc, bad_input_and_output_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
