/* run.c - corpus preparation (load, tokenizer, tokenize, cache) and run loading. */
#include "examples/babygpt/run.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/babygpt/cache.h"
#include "examples/babygpt/corpus.h"
#include "examples/babygpt/data.h"

int bg_mkdirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return errno = ENAMETOOLONG, -1;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST) return -1;
    struct stat st; /* an existing path must be a folder */
    if (stat(buf, &st)) return -1;
    if (!S_ISDIR(st.st_mode)) return errno = ENOTDIR, -1;
    return 0;
}

const char *bg_cache_dir(void) {
    static char buf[4096];
    const char *e = getenv("NABLA_CACHE");
    if (e && *e) return e;
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) snprintf(buf, sizeof buf, "%s/nabla", x);
    else snprintf(buf, sizeof buf, "%s/.cache/nabla", getenv("HOME") ? getenv("HOME") : "/tmp");
    return buf;
}

typedef struct {
    bool verbose;
    int count;
} warn_state;

static void warn_cb(void *user, const char *msg) {
    warn_state *w = user;
    if (w->verbose && w->count < 20) fprintf(stderr, "babygpt: warning: %s (row skipped)\n", msg);
    w->count++;
}

/* Tokenizes `text` through the cache; key = text + tokenizer identity. */
static int tokenize_cached(const bg_tokenizer *tok, uint64_t tok_hash, const char *text, size_t len, int32_t **ids,
                           size_t *n, char *err, size_t errlen) {
    const void *bufs[2] = {text, &tok_hash};
    size_t lens[2] = {len, sizeof tok_hash};
    uint64_t key = bg_cache_key(bufs, lens, 2);
    char why[256];
    const char *dir = bg_cache_dir();
    if (bg_cache_load(dir, key, ids, n, why, sizeof why) == BG_CACHE_HIT) return 0;
    int rc = bg_tokenizer_encode(tok, text, len, 1, ids, n);
    if (rc) {
        snprintf(err, errlen, "tokenizing the corpus: %s", bg_tokenizer_strerror(rc));
        return -1;
    }
    char e2[256];
    if (bg_cache_save(dir, key, *ids, *n, e2, sizeof e2))
        fprintf(stderr, "babygpt: note: token cache not written (%s)\n", e2);
    return 0;
}

/* A hash identifying a tokenizer: every token's bytes. */
static uint64_t tokenizer_hash(const bg_tokenizer *t) {
    uint64_t h = BG_FNV_OFFSET;
    int v = bg_tokenizer_vocab_size(t);
    for (int i = 0; i < v; i++) {
        size_t l;
        const char *b = bg_tokenizer_token_bytes(t, i, &l);
        h = bg_hash_bytes(h, &l, sizeof l);
        if (b) h = bg_hash_bytes(h, b, l);
    }
    int32_t nm;
    const int32_t *mg = bg__tokenizer_merges(t, &nm);
    if (mg) h = bg_hash_bytes(h, mg, (size_t)nm * 2 * sizeof *mg);
    return h;
}

int bg_corpus_prepare(const char *data, const char *vocab, int bpe_size, const char *tok_out, bool verbose,
                      bg_corpus *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    bg_split train = {0}, val = {0};
    warn_state ws = {verbose, 0};
    int rc = -1;
    char *ttext = NULL, *vtext = NULL;
    if (data) {
        if (bg_load_dataset(data, &train, &val, warn_cb, &ws, err, errlen)) goto done;
        if (ws.count && verbose) fprintf(stderr, "babygpt: %d malformed rows skipped in %s\n", ws.count, data);
    } else if (bg_corpus_default(1, BG_CORPUS_TRAIN, BG_CORPUS_VAL, &train, &val)) {
        snprintf(err, errlen, "generating the built-in corpus failed");
        goto done;
    }
    if (train.n == 0 || val.n == 0) {
        snprintf(err, errlen, "%s: no usable %s examples", data ? data : "built-in corpus",
                 train.n == 0 ? "training" : "validation");
        goto done;
    }
    size_t tlen = 0, vlen = 0;
    ttext = bg_format_corpus(&train, &tlen);
    vtext = bg_format_corpus(&val, &vlen);
    if (!ttext || !vtext) {
        snprintf(err, errlen, "out of memory formatting the corpus");
        goto done;
    }
    if (vocab) {
        c->tok = bg_tokenizer_load(vocab, err, errlen);
        if (!c->tok) goto done;
    } else {
        if (verbose) fprintf(stderr, "babygpt: training a %d-token byte-level BPE on %zu bytes of text\n", bpe_size, tlen);
        c->tok = bg_tokenizer_train(ttext, tlen, bpe_size, err, errlen);
        if (!c->tok) goto done;
        int got = bg_tokenizer_vocab_size(c->tok);
        if (verbose && got < bpe_size)
            fprintf(stderr,
                    "babygpt: note: the BPE has %d tokens, not %d: past that no pair of tokens occurs twice "
                    "in the training text\n",
                    got, bpe_size);
    }
    if (tok_out) {
        if (bg_mkdirs(tok_out)) {
            snprintf(err, errlen, "%s: cannot create folder: %s", tok_out, strerror(errno));
            goto done;
        }
        if (bg_tokenizer_save(c->tok, tok_out, err, errlen)) goto done;
    }
    uint64_t th = tokenizer_hash(c->tok);
    if (tokenize_cached(c->tok, th, ttext, tlen, &c->train, &c->n_train, err, errlen) ||
        tokenize_cached(c->tok, th, vtext, vlen, &c->val, &c->n_val, err, errlen))
        goto done;
    c->docs_train = train.n;
    c->docs_val = val.n;
    rc = 0;
done:
    free(ttext);
    free(vtext);
    bg_split_free(&train);
    bg_split_free(&val);
    if (rc) bg_corpus_free(c);
    return rc;
}

void bg_corpus_free(bg_corpus *c) {
    bg_tokenizer_free(c->tok);
    free(c->train);
    free(c->val);
    memset(c, 0, sizeof *c);
}

bool bg_is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int bg_remove_stale_tmp(const char *dir) {
    static const char *const bases[] = {"ckpt.safetensors", "best.safetensors", "loss.png"};
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
            size_t bl = strlen(bases[b]);
            const char *tail = e->d_name + bl;
            if (strncmp(e->d_name, bases[b], bl) != 0 || strncmp(tail, ".tmp.", 5) != 0 ||
                strlen(tail + 5) != 6) /* mkstemp's XXXXXX */
                continue;
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (bg_is_file(p) && unlink(p) == 0) n++;
        }
    }
    closedir(d);
    return n;
}

bool bg_is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool bg_same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

void bg_parent_dir(const char *path, char *out, size_t len) {
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(out, len, ".");
}

int bg_check_params_finite(const nb_module *m, const char *path, char *err, size_t errlen) {
    nb_param_list l;
    if (nb_module_parameters(m, &l)) {
        snprintf(err, errlen, "%s", nb_last_error());
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < l.n && !rc; i++) {
        const nb_tensor *t = l.tensors[i];
        const float *p = nb_is_contiguous(t) ? nb_data_f32(t) : NULL;
        int64_t n = nb_numel(t);
        for (int64_t k = 0; p && k < n; k++)
            if (!isfinite(p[k])) {
                snprintf(err, errlen,
                         "%s: parameter '%s' holds a non-finite value (%g at element %lld): the run diverged",
                         path, l.names[i], (double)p[k], (long long)k);
                rc = -1;
                break;
            }
    }
    nb_param_list_free(&l);
    return rc;
}

/* Whether f holds tensor `name` as f32 [rows, cols]. */
static bool has_matrix(const nb_safetensors *f, const char *name, int64_t rows, int64_t cols) {
    nb_dtype dt;
    int nd;
    int64_t sh[NB_MAX_DIMS];
    int i = nb_safetensors_find(f, name);
    return i >= 0 && nb_safetensors_info(f, i, &dt, &nd, sh) == 0 && dt == NB_F32 && nd == 2 &&
           sh[0] == rows && sh[1] == cols;
}

int bg_check_config_fits(const nb_safetensors *f, const bg_config *c, const char *path, char *err,
                         size_t errlen) {
    int64_t C = c->n_embd;
    char name[64];
    const char *bad = !has_matrix(f, "wte.weight", c->vocab_size, C)   ? "wte.weight"
                      : !has_matrix(f, "wpe.weight", c->block_size, C) ? "wpe.weight"
                                                                       : NULL;
    for (int l = 0; !bad && l < c->n_layer; l++) {
        snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", l);
        if (!has_matrix(f, name, 3 * C, C))
            bad = name;
        else {
            snprintf(name, sizeof name, "blocks.%d.mlp.fc.weight", l);
            if (!has_matrix(f, name, 4 * C, C)) bad = name;
        }
    }
    if (!bad) return 0;
    snprintf(err, errlen,
             "%s: its model config (%d layers, n_embd %d, context %d, vocabulary %d) does not match its "
             "weights: tensor '%s' is missing or not f32 of that shape",
             path, c->n_layer, c->n_embd, c->block_size, c->vocab_size, bad);
    return -1;
}

int bg_run_load(const char *path, const char *vocab, bg_run *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no such checkpoint file or run folder", path ? path : "(none)");
        return -1;
    }
    char dir[4096];
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(r->path, sizeof r->path, "%s/best.safetensors", path);
        if (!bg_is_file(r->path)) snprintf(r->path, sizeof r->path, "%s/ckpt.safetensors", path);
        if (!bg_is_file(r->path)) {
            snprintf(err, errlen, "%s: folder holds no best.safetensors or ckpt.safetensors", path);
            return -1;
        }
    } else {
        snprintf(r->path, sizeof r->path, "%s", path);
        bg_parent_dir(path, dir, sizeof dir);
    }
    nb_safetensors *f = nb_safetensors_open(r->path);
    if (!f) {
        snprintf(err, errlen, "%s", nb_last_error());
        return -1;
    }
    const char *cj = nb_safetensors_meta(f, "config");
    bg_config cfg;
    if (!cj) {
        snprintf(err, errlen, "%s: not a Baby GPT checkpoint (no 'config' in its metadata)", r->path);
        nb_safetensors_close(f);
        return -1;
    }
    if (bg_config_from_json(cj, &cfg, err, errlen)) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "%s: %s", r->path, why);
        nb_safetensors_close(f);
        return -1;
    }
    if (bg_check_config_fits(f, &cfg, r->path, err, errlen)) {
        nb_safetensors_close(f);
        return -1;
    }
    const char *tl = nb_safetensors_meta(f, "train_loss"), *vl = nb_safetensors_meta(f, "val_loss");
    snprintf(r->meta_train_loss, sizeof r->meta_train_loss, "%s", tl ? tl : "");
    snprintf(r->meta_val_loss, sizeof r->meta_val_loss, "%s", vl ? vl : "");
    nb_safetensors_close(f);
    char tdir[4200];
    snprintf(tdir, sizeof tdir, "%s/tokenizer", dir);
    r->tok = bg_tokenizer_load(vocab ? vocab : tdir, err, errlen);
    if (!r->tok) return -1;
    if (bg_tokenizer_vocab_size(r->tok) != cfg.vocab_size) {
        snprintf(err, errlen, "%s: tokenizer has %d tokens but the model expects %d", vocab ? vocab : tdir,
                 bg_tokenizer_vocab_size(r->tok), cfg.vocab_size);
        bg_run_free(r);
        return -1;
    }
    r->model = bg_model_new(&cfg, 0, err, errlen);
    if (!r->model) {
        bg_run_free(r);
        return -1;
    }
    if (nb_checkpoint_load(r->path, r->model->root, NULL, &r->step)) {
        snprintf(err, errlen, "%s", nb_last_error());
        bg_run_free(r);
        return -1;
    }
    if (bg_check_params_finite(r->model->root, r->path, err, errlen)) {
        bg_run_free(r);
        return -1;
    }
    nb_module_train(r->model->root, false);
    return 0;
}

void bg_run_free(bg_run *r) {
    bg_model_free(r->model);
    bg_tokenizer_free(r->tok);
    r->model = NULL;
    r->tok = NULL;
}

int bg_device_open(const char *name, nb_device *dev, char *err, size_t errlen) {
    *dev = NB_CPU;
    if (!name || strcmp(name, "cpu") == 0) return 0;
    if (strcmp(name, "cuda") != 0) {
        snprintf(err, errlen, "unknown device '%s' (expected cpu or cuda)", name);
        return 2;
    }
    nb_ctx *probe = nb_ctx_new(4096);
    nb_tensor *p = probe ? nb_to_device(probe, nb_zeros(probe, NB_F32, NB_SHAPE(1)), NB_CUDA) : NULL;
    nb_ctx_free(probe);
    if (!p) {
        snprintf(err, errlen, "%s", nb_last_error());
        return 1;
    }
    *dev = NB_CUDA;
    return 0;
}
