/* train.c - the Baby GPT training loop. */
#include "examples/babygpt/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "examples/babygpt/model.h"
#include "examples/babygpt/plot.h"
#include "examples/babygpt/run.h"

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* B random windows of T+1 tokens: x = window[0..T), y = window[1..T]. */
static void make_batch(const int32_t *ids, size_t n, int B, int T, nb_rng *r, int32_t *x, int32_t *y) {
    uint64_t range = (uint64_t)(n - (size_t)T - 1);
    for (int b = 0; b < B; b++) {
        uint32_t w[4];
        nb_philox(r->seed, r->offset++, w);
        uint64_t start = (((uint64_t)w[0] << 32) | w[1]) % range;
        memcpy(x + (size_t)b * T, ids + start, (size_t)T * sizeof *x);
        memcpy(y + (size_t)b * T, ids + start + 1, (size_t)T * sizeof *y);
    }
}

typedef struct {
    bg_model *m;
    nb_device dev;
    nb_ctx *step;
    int B, T;
    int32_t *xb, *yb;
} trainer;

/* Loss on one batch in the step context (caller resets it). */
static nb_tensor *batch_loss(trainer *t, const int32_t *ids, size_t n, nb_rng *r) {
    make_batch(ids, n, t->B, t->T, r, t->xb, t->yb);
    nb_tensor *x = nb_from_data(t->step, NB_I32, NB_SHAPE(t->B, t->T), t->xb);
    nb_tensor *y = nb_from_data(t->step, NB_I32, NB_SHAPE(t->B, t->T), t->yb);
    if (t->dev != NB_CPU) {
        x = nb_to_device(t->step, x, t->dev);
        y = nb_to_device(t->step, y, t->dev);
    }
    return bg_model_loss(t->m, x, y);
}

/* Mean loss over n_batches fixed batches (drawn with `seed`), in eval mode, no grad; NAN if a batch
 * fails. With `interruptible` it also stops (NAN) once Ctrl-C was pressed: the first evaluation,
 * before any step, has nothing to save, so an interrupt there ends the run at once. */
/* Whether tokenizer folders a and b hold the same encoder.json and vocab.bpe, byte for byte. */
static bool same_tokenizer(const char *a, const char *b) {
    static const char *const files[] = {"encoder.json", "vocab.bpe"};
    bool same = true;
    for (int i = 0; i < 2 && same; i++) {
        char pa[4300], pb[4300];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
        same = fa && fb;
        for (int ca = 0, cb = 0; same && ca != EOF;) {
            ca = getc(fa);
            cb = getc(fb);
            same = ca == cb;
        }
        if (fa) fclose(fa);
        if (fb) fclose(fb);
    }
    return same;
}

static double evaluate(trainer *t, const int32_t *ids, size_t n, int n_batches, uint64_t seed,
                       bool interruptible) {
    nb_rng r;
    nb_rng_init(&r, seed);
    bool g = nb_no_grad_begin();
    nb_module_train(t->m->root, false);
    double s = 0;
    int ok = 0;
    for (int i = 0; i < n_batches; i++) {
        if (interruptible && g_stop) {
            ok = 0;
            break;
        }
        nb_tensor *l = batch_loss(t, ids, n, &r);
        double v = l ? nb_item(l) : NAN;
        if (!l) fprintf(stderr, "\nbabygpt: evaluation failed: %s\n", nb_last_error());
        nb_ctx_reset(t->step);
        if (isnan(v)) {
            s = NAN;
            break;
        }
        s += v;
        ok++;
    }
    nb_module_train(t->m->root, true);
    nb_no_grad_end(g);
    return ok ? s / ok : NAN;
}

typedef struct {
    int64_t step;
    double train, val, lr, tps;
} eval_row;

static int write_csv(const char *dir, const eval_row *rows, int n) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/loss.csv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "step,train_loss,val_loss,lr,tokens_per_s\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%lld,%.6f,%.6f,%.6g,%.1f\n", (long long)rows[i].step, rows[i].train, rows[i].val, rows[i].lr,
                rows[i].tps);
    int rc = fflush(f) || fsync(fileno(f));
    rc |= fclose(f);
    if (!rc && rename(tmp, path) == 0) return 0;
    int e = errno;
    unlink(tmp); /* no temp file is left behind */
    errno = e;
    return -1;
}

/* Reports a run that diverged at step (what: where the non-finite value showed; x: the loss). */
static void diverged(int64_t step, const char *what, double x, const char *ckpt) {
    char v[32];
    if (isnan(x))
        snprintf(v, sizeof v, "NaN");
    else if (isinf(x))
        snprintf(v, sizeof v, "%sinf", x < 0 ? "-" : "");
    else
        snprintf(v, sizeof v, "%.4f", x);
    fprintf(stderr,
            "\nbabygpt: step %lld: the run diverged (%s is not finite; loss %s); stopping without saving (%s "
            "keeps the last good checkpoint, if any; try a lower --lr)\n",
            (long long)step, what, v, ckpt);
}

/* Whether file lies in folder dir. */
static bool same_folder(const char *file, const char *dir) {
    char d[4096];
    bg_parent_dir(file, d, sizeof d);
    return bg_same_file(d, dir);
}

/* Whether --data a names the data the run recorded as b (the same text, or the same file). */
static bool same_data(const char *a, const char *b) { return strcmp(a, b) == 0 || bg_same_file(a, b); }

/* Reads back loss.csv rows with step <= upto (for --resume). */
static int read_csv(const char *dir, int64_t upto, eval_row *rows, int cap) {
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/loss.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, lineno = 0, bad = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        eval_row r;
        long long st;
        if (++lineno == 1 && strncmp(line, "step,", 5) == 0) continue; /* the header */
        if (sscanf(line, "%lld,%lf,%lf,%lf,%lf", &st, &r.train, &r.val, &r.lr, &r.tps) != 5) {
            if (!bad++)
                fprintf(stderr, "babygpt: warning: %s:%d: not a row of numbers; skipped\n", path, lineno);
            continue;
        }
        if (st <= upto) {
            r.step = st;
            rows[n++] = r;
        }
    }
    fclose(f);
    if (bad > 1) fprintf(stderr, "babygpt: warning: %s: %d malformed rows skipped in all\n", path, bad);
    return n;
}

/* Redraws loss.png; 0, or -1 after printing why. */
static int plot(const char *dir, const bg_config *c, const char *data_name, const eval_row *rows, int n) {
    double *x = malloc(sizeof(double) * (size_t)(n ? n : 1) * 3);
    if (!x) return -1;
    double *yt = x + n, *yv = x + 2 * n;
    for (int i = 0; i < n; i++) x[i] = (double)rows[i].step, yt[i] = rows[i].train, yv[i] = rows[i].val;
    char title[256], path[4200], err[256];
    snprintf(title, sizeof title, "Baby GPT %s (%d layers, %d heads, n_embd %d) on %s", c->name, c->n_layer,
             c->n_head, c->n_embd, data_name);
    snprintf(path, sizeof path, "%s/loss.png", dir);
    bg_series s[2] = {{"train", x, yt, (size_t)n, 0}, {"validation", x, yv, (size_t)n, 0}};
    bg_plot_opts o = {title, "step", "cross-entropy loss", 0, 0, 0};
    int rc = bg_plot_png(path, &o, s, 2, err, sizeof err) < 0 ? -1 : 0;
    if (rc) fprintf(stderr, "babygpt: %s\n", err); /* err names the plot */
    free(x);
    return rc;
}

static void fmt_eta(double s, char *buf, size_t len) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

/* The evaluation and accumulation settings a checkpoint carries, so that a resumed run keeps them. */
typedef struct {
    int every, batches, accum;
} eval_opts;

static int save_ckpt(const char *path, bg_model *m, nb_optim *opt, int64_t step, const nb_rng *brng,
                     double best_val, double tl, double vl, const char *data, eval_opts ev) {
    char *cfg = bg_config_to_json(&m->cfg);
    char s1[32], s2[32], s3[64], s4[64], s5[64], s6[16], s7[16], s8[16];
    snprintf(s1, sizeof s1, "%llu", (unsigned long long)brng->seed);
    snprintf(s2, sizeof s2, "%llu", (unsigned long long)brng->offset);
    snprintf(s3, sizeof s3, "%.9g", best_val);
    snprintf(s4, sizeof s4, "%.6f", tl);
    snprintf(s5, sizeof s5, "%.6f", vl);
    snprintf(s6, sizeof s6, "%d", ev.every);
    snprintf(s7, sizeof s7, "%d", ev.batches);
    snprintf(s8, sizeof s8, "%d", ev.accum);
    const char *keys[] = {"batch_rng_seed", "batch_rng_offset", "best_val",     "train_loss", "val_loss",
                          "data",           "eval_every",       "eval_batches", "accum"};
    const char *vals[] = {s1, s2, s3, s4, s5, data ? data : "(built-in corpus)", s6, s7, s8};
    int rc = nb_checkpoint_save(path, m->root, opt, step, cfg, keys, vals, 9);
    free(cfg);
    if (rc) fprintf(stderr, "babygpt: saving %s failed: %s\n", path, nb_last_error());
    return rc;
}

int bg_train(const bg_train_opts *o) {
    char err[1024];
    int status = 1;
    bg_corpus corpus = {0};
    bg_model *m = NULL;
    nb_optim *opt = NULL;
    trainer t = {0};
    eval_row *rows = NULL;
    char out[4096], tokdir[4200], ckpt[4200], best[4200], resume_file[4096] = "";
    const char *data = o->data, *vocab = o->vocab;
    bg_config cfg;
    nb_safetensors *rf = NULL;
    if (o->threads > 0) nb_set_num_threads(o->threads);

    /* device */
    nb_device dev;
    char derr[512];
    int drc = bg_device_open(o->device, &dev, derr, sizeof derr);
    if (drc) {
        fprintf(stderr, "babygpt: --device %s: %s\n", o->device, derr);
        return drc;
    }

    /* resume: the checkpoint says the config, the data and the tokenizer */
    if (o->resume) {
        struct stat st;
        if (stat(o->resume, &st)) {
            fprintf(stderr, "babygpt: --resume: %s: %s\n", o->resume, strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) snprintf(resume_file, sizeof resume_file, "%s/ckpt.safetensors", o->resume);
        else snprintf(resume_file, sizeof resume_file, "%s", o->resume);
        rf = nb_safetensors_open(resume_file);
        if (!rf) {
            fprintf(stderr, "babygpt: --resume: %s\n", nb_last_error());
            return 1;
        }
        const char *cj = nb_safetensors_meta(rf, "config");
        if (!cj || bg_config_from_json(cj, &cfg, err, sizeof err)) {
            fprintf(stderr, "babygpt: --resume: %s: %s\n", resume_file, cj ? err : "no model config in metadata");
            goto done;
        }
        if (bg_check_config_fits(rf, &cfg, resume_file, err, sizeof err)) {
            fprintf(stderr, "babygpt: --resume: %s\n", err);
            goto done;
        }
        const char *d = nb_safetensors_meta(rf, "data");
        if (!data && d && strcmp(d, "(built-in corpus)") != 0) data = d;
        else if (data && d && !same_data(data, d))
            fprintf(stderr,
                    "babygpt: --resume: training on %s, not on the run's %s (the losses will differ from an "
                    "uninterrupted run's)\n",
                    data, d);
        if (o->seed_given)
            fprintf(stderr,
                    "babygpt: --resume: --seed is not used: the run goes on with the random streams its "
                    "checkpoint saved\n");
    }
    /* every option is checked before anything is written */
    if (o->resume && o->config && strcmp(o->config, cfg.name) != 0) {
        fprintf(stderr, "babygpt: --resume: the checkpoint is config '%s', not '%s'\n", cfg.name, o->config);
        status = 2;
        goto done;
    }
    if (!o->resume && bg_config_get(o->config ? o->config : "tiny", 256, &cfg, err, sizeof err)) {
        fprintf(stderr, "babygpt: --config: %s\n", err);
        status = 2;
        goto done;
    }
    if (o->out) snprintf(out, sizeof out, "%s", o->out);
    else if (o->resume) {
        bg_parent_dir(resume_file, out, sizeof out);
    } else
        snprintf(out, sizeof out, "out");
    snprintf(tokdir, sizeof tokdir, "%s/tokenizer", out);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", out);
    snprintf(best, sizeof best, "%s/best.safetensors", out);
    /* an --out that exists but is no folder fails now, not after the data and a BPE are ready */
    struct stat ost;
    if (stat(out, &ost) == 0 && !S_ISDIR(ost.st_mode)) {
        fprintf(stderr, "babygpt: --out %s: not a folder\n", out);
        status = 2;
        goto done;
    }
    /* a run already in --out is not overwritten by accident (a resumed run continues its own) */
    const char *held = bg_is_file(ckpt) ? "ckpt.safetensors" : bg_is_file(best) ? "best.safetensors" : NULL;
    /* resuming continues the folder's own run: its ckpt, or its best when it has no ckpt (resuming
     * from best beside a newer ckpt would replace that ckpt) */
    bool own =
        o->resume && (bg_is_file(ckpt) ? bg_same_file(resume_file, ckpt) : same_folder(resume_file, out));
    if (held && !o->overwrite && !own) {
        fprintf(stderr,
                "babygpt: --out %s already holds a training run (%s); continue it with --resume %s/%s, "
                "choose another --out, or pass --overwrite to replace it\n",
                out, held, out, held);
        goto done;
    }
    if (o->resume) { /* the run's tokenizer is part of the run: another would silently give its ids
                      * new meanings */
        static char rtok[4200];
        char rdir[4096];
        bg_parent_dir(resume_file, rdir, sizeof rdir);
        snprintf(rtok, sizeof rtok, "%s/tokenizer", rdir);
        if (vocab && bg_is_dir(rtok) && !same_tokenizer(vocab, rtok)) {
            fprintf(stderr,
                    "babygpt: --vocab %s: a resumed run keeps the tokenizer it was trained with (%s), and "
                    "this one differs; leave --vocab out\n",
                    vocab, rtok);
            status = 2;
            goto done;
        }
        if (!vocab) vocab = rtok;
    }

    /* data and tokenizer, all checked before anything in --out is replaced */
    if (bg_corpus_prepare(data, vocab, o->bpe_size, NULL, true, &corpus, err, sizeof err)) {
        fprintf(stderr, "babygpt: %s\n", err);
        goto done;
    }
    int V = bg_tokenizer_vocab_size(corpus.tok);
    if (o->resume) {
        if (cfg.vocab_size != V) {
            fprintf(stderr, "babygpt: --resume: tokenizer has %d tokens, the checkpoint %d\n", V, cfg.vocab_size);
            goto done;
        }
    } else if (bg_config_get(o->config ? o->config : "tiny", V, &cfg, err, sizeof err)) {
        fprintf(stderr, "babygpt: --config: %s\n", err);
        goto done;
    }
    if (o->resume && ((o->batch > 0 && o->batch != cfg.batch) || (o->lr > 0 && o->lr != cfg.lr)))
        fprintf(
            stderr,
            "babygpt: --resume: batch %d and lr %g instead of the run's %d and %g (the losses will differ "
            "from an uninterrupted run's)\n",
            o->batch > 0 ? o->batch : cfg.batch, (double)(o->lr > 0 ? o->lr : cfg.lr), cfg.batch,
            (double)cfg.lr);
    if (o->batch > 0) cfg.batch = o->batch;
    if (o->lr > 0) cfg.lr = o->lr;
    if (o->steps > 0) cfg.steps = o->steps;
    int T = cfg.block_size, B = cfg.batch;
    if (corpus.n_train < (size_t)T + 2 || corpus.n_val < (size_t)T + 2) {
        fprintf(stderr, "babygpt: the corpus is too small for context %d (%zu train, %zu validation tokens)\n", T,
                corpus.n_train, corpus.n_val);
        goto done;
    }
    if (held && o->overwrite && !own) { /* the old run's files go now, not mixed with the new tokenizer */
        const char *old[] = {"ckpt.safetensors", "best.safetensors", "loss.csv", "loss.png"};
        for (int i = 0; i < 4; i++) {
            char p[4300];
            snprintf(p, sizeof p, "%s/%s", out, old[i]);
            if (bg_is_file(p) && !(o->resume && bg_same_file(p, resume_file)) && unlink(p) != 0) {
                fprintf(stderr, "babygpt: --overwrite: cannot remove %s: %s\n", p, strerror(errno));
                goto done;
            }
        }
        fprintf(stderr, "babygpt: --overwrite: removed the previous run in %s\n", out);
    }
    if (bg_mkdirs(out)) {
        fprintf(stderr, "babygpt: --out %s: cannot create folder: %s\n", out, strerror(errno));
        goto done;
    }
    int stale = bg_remove_stale_tmp(out);
    if (stale)
        fprintf(stderr, "babygpt: removed %d temporary file(s) an interrupted run left in %s\n", stale, out);
    if (bg_mkdirs(tokdir)) {
        fprintf(stderr, "babygpt: --out %s: cannot create folder: %s\n", tokdir, strerror(errno));
        goto done;
    }
    if (bg_tokenizer_save(corpus.tok, tokdir, err, sizeof err)) {
        fprintf(stderr, "babygpt: %s\n", err);
        goto done;
    }
    m = bg_model_new(&cfg, o->seed, err, sizeof err);
    if (!m) {
        fprintf(stderr, "babygpt: %s\n", err);
        goto done;
    }
    if (dev != NB_CPU && bg_model_to(m, dev)) {
        fprintf(stderr, "babygpt: moving the model to %s: %s\n", nb_device_name(dev), nb_last_error());
        goto done;
    }
    opt = nb_adamw_new(m->ctx, cfg.lr, 0.9f, 0.95f, 1e-8f);
    if (!opt || nb_optim_add_module(opt, m->root, 0.1f)) {
        fprintf(stderr, "babygpt: optimiser: %s\n", nb_last_error());
        goto done;
    }
    int64_t start = 0;
    nb_rng brng;
    nb_rng_init(&brng, o->seed ^ 0xba7c4e5ULL);
    double best_val = INFINITY;
    int n_rows = 0, cap_rows = cfg.steps + 16;
    rows = calloc((size_t)cap_rows, sizeof *rows);
    if (!rows) goto done;
    if (o->resume) {
        if (nb_checkpoint_load(resume_file, m->root, opt, &start)) {
            fprintf(stderr, "babygpt: --resume: %s\n", nb_last_error());
            goto done;
        }
        if (bg_check_params_finite(m->root, resume_file, err,
                                   sizeof err)) { /* not the learning rate's fault */
            fprintf(stderr, "babygpt: --resume: %s; resume from an earlier checkpoint\n", err);
            goto done;
        }
        const char *s = nb_safetensors_meta(rf, "batch_rng_seed"), *f = nb_safetensors_meta(rf, "batch_rng_offset");
        const char *bv = nb_safetensors_meta(rf, "best_val");
        if (s && f) brng.seed = strtoull(s, NULL, 10), brng.offset = strtoull(f, NULL, 10);
        if (bv) best_val = strtod(bv, NULL);
        n_rows = read_csv(out, start, rows, cap_rows);
        if (start >= cfg.steps) {
            fprintf(stderr, "babygpt: --resume: the run already has %lld of %d steps (raise --steps)\n",
                    (long long)start, cfg.steps);
            goto done;
        }
        fprintf(stderr, "babygpt: resuming %s at step %lld\n", resume_file, (long long)start);
    }
    nb_lr_schedule sched = nb_lr_warmup_cosine(cfg.lr, cfg.lr / 10, cfg.steps / 10 < 100 ? cfg.steps / 10 : 100,
                                               cfg.steps);
    t.m = m;
    t.dev = dev;
    t.B = B;
    t.T = T;
    t.step = nb_ctx_new(0);
    t.xb = malloc(sizeof(int32_t) * (size_t)B * T);
    t.yb = malloc(sizeof(int32_t) * (size_t)B * T);
    if (!t.step || !t.xb || !t.yb) {
        fprintf(stderr, "babygpt: out of memory for a batch of %d x %d tokens\n", B, T);
        goto done;
    }
    nb_ctx *prev_ctx = nb_ctx_use(t.step);
    int eval_every = o->eval_every > 0 ? o->eval_every : (cfg.steps >= 20 ? cfg.steps / 10 : 1);
    int eval_batches = o->eval_batches > 0 ? o->eval_batches : 8, accum = o->accum > 0 ? o->accum : 1;
    if (o->resume) { /* unless given again, the run's own evaluation and accumulation settings */
        const char *ee = nb_safetensors_meta(rf, "eval_every"), *eb = nb_safetensors_meta(rf, "eval_batches");
        const char *ea = nb_safetensors_meta(rf, "accum");
        long v;
        if (o->eval_every <= 0 && ee && (v = strtol(ee, NULL, 10)) >= 1 && v <= 10000000) eval_every = (int)v;
        if (o->eval_batches <= 0 && eb && (v = strtol(eb, NULL, 10)) >= 1 && v <= 100000)
            eval_batches = (int)v;
        if (o->accum <= 0 && ea && (v = strtol(ea, NULL, 10)) >= 1 && v <= 1024) accum = (int)v;
    }
    const eval_opts ev = {eval_every, eval_batches, accum};
    char accum_note[64] = "";
    if (accum > 1) snprintf(accum_note, sizeof accum_note, " (%d micro-batches of %d)", accum, B);
    const char *data_name = data ? strrchr(data, '/') ? strrchr(data, '/') + 1 : data : "built-in corpus";
    if (data_name && !*data_name) data_name = data;
    fprintf(
        stderr,
        "babygpt: config %s: %d layers, %d heads, n_embd %d, context %d, vocab %d, %lld parameters\n"
        "babygpt: %zu training tokens (%zu documents), %zu validation tokens; batch %d%s, %d steps, lr %g, "
        "%d threads, %s\n",
        cfg.name, cfg.n_layer, cfg.n_head, cfg.n_embd, T, V, (long long)nb_module_num_params(m->root),
        corpus.n_train, corpus.docs_train, corpus.n_val, B * accum, accum_note, cfg.steps, (double)cfg.lr,
        nb_get_num_threads(), nb_device_name(dev));
    struct sigaction sa = {0}, old_sa;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    g_stop = 0;
    bool tty = o->progress && isatty(2);
    double t0 = now(), ema = 0, last_loss = NAN, tl = NAN, vl = NAN;
    int failed = 0, write_failed = 0;
    if (start == 0) {
        tl = evaluate(&t, corpus.train, corpus.n_train, eval_batches * accum, 1337, true);
        vl = evaluate(&t, corpus.val, corpus.n_val, eval_batches * accum, 7331, true);
        rows[n_rows++] = (eval_row){0, tl, vl, 0, 0};
        if (!g_stop && (!isfinite(tl) || !isfinite(vl))) { /* it said why; no training on a broken start */
            fprintf(stderr, "babygpt: the evaluation before the first step failed; not training\n");
            failed = 1;
        } else if (!g_stop)
            fprintf(stderr, "babygpt: step 0: train loss %.4f, validation loss %.4f\n", tl, vl);
    }
    int64_t step = start;
    while (step < cfg.steps && !g_stop && !failed) {
        double ts = now();
        float lr = nb_lr_at(&sched, step);
        nb_optim_set_lr(opt, lr);
        /* accum micro-batches, each loss divided by accum, their gradients summed into the grads:
         * the gradient of the mean loss over accum * B rows (the same rows, in the same order, as
         * one batch of accum * B would draw) */
        double step_loss = 0.0;
        bool ok = true;
        for (int a = 0; a < accum && ok; a++) {
            if (a) nb_ctx_reset(t.step);
            nb_tensor *loss = batch_loss(&t, corpus.train, corpus.n_train, &brng);
            if (loss && accum > 1) loss = nb_mul_scalar(loss, 1.0f / (float)accum);
            ok = loss && !nb_backward(loss);
            if (ok) step_loss += nb_item(loss);
        }
        double gnorm = ok ? nb_optim_clip_grad_norm(opt, 1.0) : -1.0;
        if (gnorm < 0) {
            fprintf(stderr, "\nbabygpt: step %lld failed: %s\n", (long long)step, nb_last_error());
            failed = 1;
            break;
        }
        if (!isfinite(gnorm)) { /* a NaN/inf loss or gradient: stop before the weights are spoiled */
            diverged(step, "its gradient", step_loss, ckpt);
            failed = 1;
            break;
        }
        if (nb_optim_step(opt)) {
            fprintf(stderr, "\nbabygpt: step %lld failed: %s\n", (long long)step, nb_last_error());
            failed = 1;
            break;
        }
        last_loss = step_loss;
        nb_optim_zero_grad(opt);
        nb_ctx_reset(t.step);
        step++;
        if (o->stop_after > 0 && step - start >= o->stop_after) g_stop = 1;
        double dt = now() - ts;
        ema = ema == 0 ? dt : 0.9 * ema + 0.1 * dt;
        double tps = (double)B * T * accum / ema;
        char eta[32];
        fmt_eta(ema * (double)(cfg.steps - step), eta, sizeof eta);
        if (tty) {
            int w = 24, fill = (int)((double)w * (double)step / cfg.steps);
            fprintf(stderr, "\r[%.*s%*s] step %lld/%d  loss %.4f  %.0f tok/s  ETA %s ", fill,
                    "########################", w - fill, "", (long long)step, cfg.steps, last_loss, tps, eta);
        } else if (step % (eval_every < 10 ? 1 : eval_every / 5) == 0) {
            fprintf(stderr, "step %lld/%d loss %.4f lr %.2e %.0f tok/s ETA %s\n", (long long)step, cfg.steps,
                    last_loss, (double)lr, tps, eta);
        }
        if (step % eval_every == 0 || step == cfg.steps || g_stop) {
            tl = evaluate(&t, corpus.train, corpus.n_train, eval_batches * accum, 1337, false);
            vl = evaluate(&t, corpus.val, corpus.n_val, eval_batches * accum, 7331, false);
            if (n_rows < cap_rows) rows[n_rows++] = (eval_row){step, tl, vl, lr, tps};
            if (tty) fputc('\n', stderr);
            fprintf(stderr, "babygpt: step %lld: train loss %.4f, validation loss %.4f (%.0f tok/s)\n",
                    (long long)step, tl, vl, tps);
            if (!isfinite(tl) || !isfinite(vl)) {
                diverged(step, "the evaluation", !isfinite(tl) ? tl : vl, ckpt);
                failed = 1;
                break;
            }
            if (write_csv(out, rows, n_rows)) {
                fprintf(stderr, "babygpt: writing %s/loss.csv failed: %s\n", out, strerror(errno));
                write_failed = 1;
            }
            if (plot(out, &cfg, data_name, rows, n_rows)) write_failed = 1;
            if (vl < best_val) {
                best_val = vl;
                if (save_ckpt(best, m, opt, step, &brng, best_val, tl, vl, data, ev)) write_failed = 1;
            }
            if (save_ckpt(ckpt, m, opt, step, &brng, best_val, tl, vl, data, ev)) {
                failed = 1;
                break;
            }
        }
    }
    sigaction(SIGINT, &old_sa, NULL);
    nb_ctx_use(prev_ctx);
    double wall = now() - t0;
    if (failed) goto done;
    if (g_stop && step == start) { /* interrupted before the first step ended: nothing new */
        if (start > 0)
            fprintf(stderr,
                    "babygpt: interrupted before step %lld ended; no checkpoint written (%s still holds step "
                    "%lld)\n",
                    (long long)start + 1, ckpt, (long long)start);
        else
            fprintf(stderr, "babygpt: interrupted before the first step ended; no checkpoint written to %s\n",
                    out);
        goto done;
    }
    if (g_stop && step < cfg.steps)
        fprintf(stderr, "babygpt: stopped at step %lld; checkpoint saved to %s (continue with --resume %s)\n",
                (long long)step, ckpt, out);
    fprintf(stderr, "babygpt: done: %lld steps in %.1f s (%.0f tokens/s); train loss %.4f, validation loss %.4f\n",
            (long long)(step - start), wall, (double)(step - start) * B * T / (wall > 0 ? wall : 1), tl, vl);
    if (write_failed) {
        fprintf(stderr, "babygpt: some outputs in %s could not be written (see above); %s is up to date\n", out,
                ckpt);
        goto done;
    }
    fprintf(stderr, "babygpt: wrote %s/loss.csv, %s/loss.png, %s, %s\n", out, out, ckpt, best);
    status = 0;
done:
    nb_safetensors_close(rf);
    free(rows);
    free(t.xb);
    free(t.yb);
    nb_ctx_free(t.step);
    nb_optim_free(opt);
    bg_model_free(m);
    bg_corpus_free(&corpus);
    return status;
}
