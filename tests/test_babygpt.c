/* Baby GPT end to end: training makes the loss fall, resume is exact,
 * sampling is reproducible, the KV cache gives the same tokens as full
 * recomputation, and the program's subcommands work through pipes and fail
 * clearly on bad input. */
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "examples/babygpt/chat.h"
#include "examples/babygpt/generate.h"
#include "examples/babygpt/run.h"
#include "examples/babygpt/train.h"
#include "nabla.h"
#include "tests/babygpt_prog.h"
#include "tests/nb_check.h"
#ifdef NB_WITH_CUDA
#include "nabla/cuda.h"
#endif

static char tmp[256];
static char bin[512];

static void quiet_train(const char *out, int steps, int eval_every, const char *resume) {
    bg_train_opts o = {.config = "tiny", .bpe_size = 400, .steps = steps, .batch = 4, .eval_every = eval_every,
                       .eval_batches = 2, .out = out, .seed = 11, .threads = 2, .device = "cpu", .resume = resume};
    ck_assert_int_eq(bg_train(&o), 0);
}

/* reads loss.csv's rows */
static int read_losses(const char *dir, double *train, double *val, int cap) {
    char p[512], line[256];
    snprintf(p, sizeof p, "%s/loss.csv", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        long long s;
        double lr, tps;
        if (sscanf(line, "%lld,%lf,%lf,%lf,%lf", &s, &train[n], &val[n], &lr, &tps) == 5) n++;
    }
    fclose(f);
    return n;
}

static void suite_setup(void) {
    bgp_setup("bgtest", tmp, sizeof tmp, bin, sizeof bin);
    nb_set_num_threads(2);
}

static void suite_teardown(void) { bgp_teardown(tmp); }

START_TEST(training_loss_falls_and_files_exist) {
    char out[400];
    snprintf(out, sizeof out, "%s/run", tmp);
    quiet_train(out, 40, 20, NULL);
    double tr[8], va[8];
    int n = read_losses(out, tr, va, 8);
    ck_assert_int_eq(n, 3); /* steps 0, 20, 40 */
    ck_assert_msg(tr[2] < tr[0] - 0.5, "train loss %g -> %g", tr[0], tr[2]);
    ck_assert_msg(va[2] < va[0] - 0.5, "val loss %g -> %g", va[0], va[2]);
    const char *files[] = {"loss.png", "loss.csv", "ckpt.safetensors", "best.safetensors", "tokenizer/encoder.json",
                           "tokenizer/vocab.bpe"};
    for (int i = 0; i < 6; i++) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        ck_assert_msg(stat(p, &st) == 0 && st.st_size > 0, "missing %s", p);
    }
}
END_TEST

/* every parameter and optimiser tensor of two checkpoints, bit for bit */
static void same_checkpoints(const char *a, const char *b) {
    nb_safetensors *fa = nb_safetensors_open(a), *fb = nb_safetensors_open(b);
    ck_assert_ptr_nonnull(fa);
    ck_assert_ptr_nonnull(fb);
    ck_assert_int_eq(nb_safetensors_count(fa), nb_safetensors_count(fb));
    nb_ctx *c = nb_ctx_new(0);
    for (int i = 0; i < nb_safetensors_count(fa); i++) {
        const char *name = nb_safetensors_name(fa, i);
        nb_tensor *x = nb_safetensors_read(fa, c, name), *y = nb_safetensors_read(fb, c, name);
        ck_assert_msg(x && y, "%s: %s", name, nb_last_error());
        ck_assert_int_eq(nb_numel(x), nb_numel(y));
        ck_assert_msg(memcmp(nb_data(x), nb_data(y), (size_t)nb_numel(x) * 4) == 0, "%s differs", name);
    }
    nb_ctx_free(c);
    nb_safetensors_close(fa);
    nb_safetensors_close(fb);
}

START_TEST(resume_is_exact) {
    char full[400], part[400], f1[500], f2[500];
    snprintf(full, sizeof full, "%s/full", tmp);
    snprintf(part, sizeof part, "%s/part", tmp);
    quiet_train(full, 12, 6, NULL);
    /* the same run, stopped after 6 steps (as by Ctrl-C) */
    bg_train_opts s = {.config = "tiny", .bpe_size = 400, .steps = 12, .batch = 4, .eval_every = 6,
                       .eval_batches = 2, .out = part, .seed = 11, .threads = 2, .device = "cpu", .stop_after = 6};
    ck_assert_int_eq(bg_train(&s), 0);
    /* continue the 6-step run to 12 steps */
    bg_train_opts o = {.config = "tiny", .bpe_size = 400, .steps = 12, .batch = 4, .eval_every = 6,
                       .eval_batches = 2, .seed = 11, .threads = 2, .device = "cpu", .resume = part};
    ck_assert_int_eq(bg_train(&o), 0);
    snprintf(f1, sizeof f1, "%s/ckpt.safetensors", full);
    snprintf(f2, sizeof f2, "%s/ckpt.safetensors", part);
    same_checkpoints(f1, f2);
    double t1[8], v1[8], t2[8], v2[8];
    int n1 = read_losses(full, t1, v1, 8), n2 = read_losses(part, t2, v2, 8);
    ck_assert_int_eq(n1, n2);
    for (int i = 0; i < n1; i++) ck_assert(t1[i] == t2[i] && v1[i] == v2[i]);
}
END_TEST

/* --accum: 2 micro-batches of 4 per step are the same rows as one batch of 8 (drawn in the same
 * order), so the losses match the batch-8 run's to rounding, evaluations included (those run
 * eval_batches x accum micro-batches); a resumed run keeps the run's accum. */
START_TEST(accumulation_matches_a_larger_batch) {
    char big[400], acc[400];
    snprintf(big, sizeof big, "%s/big", tmp);
    snprintf(acc, sizeof acc, "%s/acc", tmp);
    bg_train_opts b = {.config = "tiny",
                       .bpe_size = 400,
                       .steps = 6,
                       .batch = 8,
                       .eval_every = 3,
                       .eval_batches = 2,
                       .out = big,
                       .seed = 11,
                       .threads = 2,
                       .device = "cpu"};
    ck_assert_int_eq(bg_train(&b), 0);
    bg_train_opts a = b;
    a.out = acc, a.batch = 4, a.accum = 2, a.stop_after = 3;
    ck_assert_int_eq(bg_train(&a), 0);
    bg_train_opts r = {.config = "tiny",
                       .bpe_size = 400,
                       .steps = 6,
                       .batch = 4,
                       .eval_every = 3,
                       .eval_batches = 2,
                       .seed = 11,
                       .threads = 2,
                       .device = "cpu",
                       .resume = acc};
    ck_assert_int_eq(bg_train(&r), 0); /* no --accum: the run's 2 */
    double t1[8], v1[8], t2[8], v2[8];
    int n1 = read_losses(big, t1, v1, 8), n2 = read_losses(acc, t2, v2, 8);
    ck_assert_int_eq(n1, 3);
    ck_assert_int_eq(n2, 3);
    for (int i = 0; i < n1; i++)
        ck_assert_msg(fabs(t1[i] - t2[i]) < 2e-4 && fabs(v1[i] - v2[i]) < 2e-4, "row %d: %g %g vs %g %g", i,
                      t1[i], v1[i], t2[i], v2[i]);
    ck_assert(t1[0] == t2[0] && v1[0] == v2[0]); /* before any step: the same rows, the same model */
}
END_TEST

static bg_run run;
static void load_run(void) {
    char out[400], err[512];
    snprintf(out, sizeof out, "%s/gen", tmp);
    struct stat st;
    char ck[500];
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", out);
    if (stat(ck, &st) != 0) quiet_train(out, 30, 30, NULL);
    ck_assert_msg(bg_run_load(out, NULL, &run, err, sizeof err) == 0, "%s", err);
}

START_TEST(sampling_is_reproducible_and_kv_cache_matches) {
    load_run();
    bg_sample_opts so = bg_sample_defaults();
    so.max_tokens = 40;
    char err[512];
    const char *prompt = "<|endoftext|>#Person1#: Hello";
    char *outs[4];
    for (int i = 0; i < 4; i++) {
        nb_rng r;
        nb_rng_init(&r, 5);
        bg_gen_opts go = {NULL, false, NULL, NULL, i >= 2, NULL};
        outs[i] = bg_generate_text(run.model, run.tok, prompt, &so, &go, &r, err, sizeof err);
        ck_assert_msg(outs[i] != NULL, "%s", err);
    }
    ck_assert_str_eq(outs[0], outs[1]); /* same seed, same text */
    ck_assert_str_eq(outs[0], outs[2]); /* the KV cache gives the full recomputation's tokens */
    for (int i = 0; i < 4; i++) free(outs[i]);
    /* greedy, and longer than the context: the cache slides */
    so.temperature = 0;
    so.max_tokens = run.model->cfg.block_size + 30;
    nb_rng r;
    nb_rng_init(&r, 1);
    bg_gen_opts a = {NULL, false, NULL, NULL, false, NULL}, b = {NULL, false, NULL, NULL, true, NULL};
    int32_t *ia, *ib;
    size_t na, nb;
    int32_t p[2] = {bg_tokenizer_eot(run.tok), 5};
    char *x = bg_generate(run.model, run.tok, p, 2, &so, &a, &r, &ia, &na, err, sizeof err);
    char *y = bg_generate(run.model, run.tok, p, 2, &so, &b, &r, &ib, &nb, err, sizeof err);
    ck_assert(x && y);
    ck_assert_uint_eq(na, (size_t)so.max_tokens);
    /* identical up to the first slide of the window; after it the cache keeps half the context */
    size_t same = 0;
    while (same < na && same < nb && ia[same] == ib[same]) same++;
    ck_assert_msg(same >= (size_t)run.model->cfg.block_size - 2, "diverged at %zu", same);
    free(x), free(y), free(ia), free(ib);
    bg_run_free(&run);
}
END_TEST

START_TEST(sampler_settings) {
    float logits[6] = {1, 5, 2, 4.9f, -1, 0};
    float scratch[12], l2[6];
    nb_rng r;
    nb_rng_init(&r, 3);
    bg_sample_opts g = {0, 0, 1, 10};
    memcpy(l2, logits, sizeof l2);
    ck_assert_int_eq(bg_sample_token(l2, 6, &g, &r, scratch), 1);
    bg_sample_opts k2 = {1.0f, 2, 1, 10};
    int seen[6] = {0};
    for (int i = 0; i < 400; i++) {
        memcpy(l2, logits, sizeof l2);
        seen[bg_sample_token(l2, 6, &k2, &r, scratch)]++;
    }
    ck_assert(seen[1] > 100 && seen[3] > 100);
    ck_assert_int_eq(seen[0] + seen[2] + seen[4] + seen[5], 0);
    bg_sample_opts p = {1.0f, 0, 0.3f, 10};
    for (int i = 0; i < 100; i++) {
        memcpy(l2, logits, sizeof l2);
        ck_assert_int_eq(bg_sample_token(l2, 6, &p, &r, scratch), 1);
    }
    char err[128];
    bg_sample_opts bad = {-1, 0, 1, 10};
    ck_assert_int_eq(bg_sample_opts_check(&bad, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "temperature"));
}
END_TEST

/* runs a shell command, returns its exit status and its output */
static int sh(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(program_through_pipes) {
    char out[400], cmd[2048], buf[16384];
    snprintf(out, sizeof out, "%s/gen", tmp);
    struct stat st;
    char ck[500];
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", out);
    if (stat(ck, &st) != 0) quiet_train(out, 30, 30, NULL);
    snprintf(cmd, sizeof cmd, "printf 'Hello there\\n/reset\\nHow much is it?\\n/quit\\nignored\\n' | %s chat --checkpoint %s --max-tokens 12 2>&1", bin, out);
    ck_assert_int_eq(sh(cmd, buf, sizeof buf), 0);
    ck_assert_msg(strstr(buf, "#Person2#: ") == buf, "%s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "\n/reset\n#Person2#: "));
    int lines = 0;
    for (char *c = buf; *c; c++) lines += *c == '\n';
    ck_assert_int_eq(lines, 3); /* two replies and the reset echo: /quit stops */
    snprintf(cmd, sizeof cmd, "printf '#Person1#: Hi, can I help you?\\n#Person2#: Yes, I need a room.\\n' | %s summarize --checkpoint %s/ckpt.safetensors --max-tokens 20 2>&1", bin, out);
    ck_assert_int_eq(sh(cmd, buf, sizeof buf), 0);
    ck_assert(strlen(buf) > 0);
    snprintf(cmd, sizeof cmd, "printf 'Hello <|endoftext|> world' | %s tokenize --vocab %s/tokenizer | %s tokenize --vocab %s/tokenizer --decode", bin, out, bin, out);
    ck_assert_int_eq(sh(cmd, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "Hello <|endoftext|> world");
    snprintf(cmd, sizeof cmd, "%s sample --checkpoint %s --max-tokens 10 --seed 4 2>&1; %s sample --checkpoint %s --max-tokens 10 --seed 4 2>&1", bin, out, bin, out);
    ck_assert_int_eq(sh(cmd, buf, sizeof buf), 0);
    size_t half = strlen(buf) / 2;
    ck_assert(strncmp(buf, buf + half, half) == 0);
}
END_TEST

START_TEST(program_errors_are_clear) {
    char cmd[2048], buf[4096];
    struct {
        const char *args, *expect;
        int code;
    } cases[] = {
        {"train --bogus 2>&1", "unknown option '--bogus'", 2},
        {"train --steps -5 2>&1", "--steps: must be between", 2},
        {"train --lr abc 2>&1", "--lr: expected a number", 2},
        {"train --config huge --steps 1 2>&1", "unknown config 'huge'", 2},
        {"train --device cuda --steps 1 2>&1", "--device cuda:", 1},
        {"train --data /nonexistent/dialogsum --steps 1 2>&1", "/nonexistent/dialogsum", 1},
        {"sample --checkpoint /nonexistent.safetensors 2>&1", "/nonexistent.safetensors", 1},
        {"chat 2>&1", "--checkpoint is required", 2},
        {"summarize 2>&1", "--checkpoint is required", 2},
        {"eval --checkpoint /tmp 2>&1", "--data is required", 2},
        {"tokenize --vocab /nonexistent 2>&1 </dev/null", "/nonexistent", 1},
        {"frobnicate 2>&1", "unknown command 'frobnicate'", 2},
        {"summary --config tiny --vocab-size 1 2>&1", "--vocab-size: must be between", 2},
    };
#ifdef NB_WITH_CUDA
    const bool gpu = nb_cuda_available(NULL);
#else
    const bool gpu = false;
#endif
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (gpu && strstr(cases[i].args, "--device cuda")) continue; /* with a GPU that run is legal */
        snprintf(cmd, sizeof cmd, "cd %s && %s %s", tmp, bin, cases[i].args);
        int rc = sh(cmd, buf, sizeof buf);
        ck_assert_msg(rc == cases[i].code, "'%s' exited %d: %s", cases[i].args, rc, buf);
        ck_assert_msg(strstr(buf, cases[i].expect) != NULL, "'%s' said: %s", cases[i].args, buf);
    }
    /* an output that cannot be written makes the run fail, after saving what it could */
    snprintf(cmd, sizeof cmd, "cd %s && mkdir -p wf/best.safetensors && %s train --steps 2 --batch 2 --bpe-size 300 --out wf --quiet 2>&1", tmp, bin);
    ck_assert_int_eq(sh(cmd, buf, sizeof buf), 1);
    ck_assert_ptr_nonnull(strstr(buf, "best.safetensors"));
    ck_assert_ptr_nonnull(strstr(buf, "could not be written"));
    /* a truncated checkpoint is an error, not a crash */
    char out[400];
    snprintf(out, sizeof out, "%s/gen", tmp);
    snprintf(cmd, sizeof cmd, "head -c 3000 %s/ckpt.safetensors > %s/trunc.safetensors && %s sample --checkpoint %s/trunc.safetensors --vocab %s/tokenizer 2>&1", out, tmp, bin, tmp, out);
    int rc = sh(cmd, buf, sizeof buf);
    ck_assert_msg(rc == 1, "truncated checkpoint: exit %d: %s", rc, buf);
    ck_assert_ptr_nonnull(strstr(buf, "trunc.safetensors"));
}
END_TEST

/* Ctrl-C during the first evaluation, before any step: the run ends at once, says that no
 * checkpoint was written, writes none, and exits 1 (nothing was trained). */
START_TEST(interrupt_before_first_step) {
    char cmd[2048], buf[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -rf intr && (%s train --steps 5 --batch 2 --bpe-size 300 --eval-batches 100000 "
             "--out intr --quiet 2>intr.err & p=$!; i=0; "
             "while ! grep -q 'training tokens' intr.err 2>/dev/null && kill -0 $p 2>/dev/null && [ $i -lt "
             "600 ]; do sleep 0.1; i=$((i+1)); done; "
             "sleep 0.3; kill -INT $p; wait $p; echo \"rc=$?\"; cat intr.err; ls intr 2>/dev/null; true)",
             tmp, bin);
    ck_assert_int_eq(sh(cmd, buf, sizeof buf), 0);
    ck_assert_msg(strstr(buf, "rc=1\n") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "interrupted before the first step ended; no checkpoint written") != NULL, "%s",
                  buf);
    char ck[512];
    struct stat st;
    snprintf(ck, sizeof ck, "%s/intr/ckpt.safetensors", tmp);
    ck_assert_int_ne(stat(ck, &st), 0);
    ck_assert_ptr_null(strstr(buf, "step 0: train loss"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("babygpt");
    TCase *tc = tcase_create("babygpt");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, training_loss_falls_and_files_exist);
    tcase_add_test(tc, resume_is_exact);
    tcase_add_test(tc, accumulation_matches_a_larger_batch);
    tcase_add_test(tc, sampler_settings);
    tcase_add_test(tc, sampling_is_reproducible_and_kv_cache_matches);
    tcase_add_test(tc, program_through_pipes);
    tcase_add_test(tc, program_errors_are_clear);
    tcase_add_test(tc, interrupt_before_first_step);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
