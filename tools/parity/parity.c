/* parity.c - writes what tools/reference/babygpt_parity.py checks Baby GPT
 * against PyTorch with.
 *
 * Usage: parity [OUT_DIR]   (default build/parity; the folder must exist)
 *
 * Builds a small Baby GPT (2 layers, 2 heads, n_embd 64, context 32, vocab
 * 300, dropout 0) from a fixed seed, moves its 1-D parameters (biases,
 * LayerNorm weights) away from 0 / 1 so that every gradient path is
 * exercised, and writes into OUT_DIR:
 *   init.safetensors   the initial weights (nb_module_save; the tied lm_head
 *                      weight is stored once, as wte.weight), config in metadata
 *   step1.safetensors  the batches x, y (i32 [STEPS,B,T]); for batch 0: the
 *                      logits [B,T,V], the loss [1] and every parameter's
 *                      gradient after one forward/backward ("grad.<name>")
 *   adamw.safetensors  STEPS AdamW steps exactly as train.c takes them (AdamW
 *                      0.9/0.95/1e-8, weight decay 0.1 on >= 2-D tensors via
 *                      nb_optim_add_module, clipping at global norm 1.0, the
 *                      warm-up + cosine schedule): "losses", "grad_norms"
 *                      (before clipping) and "lrs" [STEPS], and the final
 *                      weights ("final.<name>")
 * Uses only <nabla.h> and the Baby GPT model (examples/babygpt/model.h).
 * Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <nabla.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/babygpt/model.h"

enum { B = 4, T = 32, V = 300, STEPS = 10, STREAM = 4096 };
#define SEED 20240531ULL
#define LR   3e-3f

/* A token stream with structure to learn: mostly t' = (7 t + 3) mod V, with
 * a random token one time in five; batches are random windows of T+1 tokens. */
static void make_batches(int32_t *x, int32_t *y) {
    static int32_t stream[STREAM];
    nb_rng r;
    nb_rng_init(&r, SEED ^ 0xda7aULL);
    stream[0] = 1;
    for (int i = 1; i < STREAM; i++) {
        if (nb_rng_uniform(&r) < 0.2f)
            stream[i] = (int32_t)(nb_rng_uniform(&r) * V) % V;
        else
            stream[i] = (7 * stream[i - 1] + 3) % V;
    }
    for (int b = 0; b < STEPS * B; b++) {
        int start = (int)(nb_rng_uniform(&r) * (STREAM - T - 1));
        memcpy(x + (size_t)b * T, stream + start, sizeof *x * T);
        memcpy(y + (size_t)b * T, stream + start + 1, sizeof *y * T);
    }
}

/* Adds uniform noise in [-0.1, 0.1) to every 1-D parameter (biases, LayerNorm). */
static void perturb_vectors(const nb_param_list *pl) {
    nb_rng r;
    nb_rng_init(&r, SEED ^ 0xb1a5ULL);
    for (int i = 0; i < pl->n; i++) {
        nb_tensor *t = pl->tensors[i];
        if (t->ndim != 1) continue;
        float *p = nb_data_f32(t);
        for (int64_t j = 0; j < nb_numel(t); j++)
            p[j] += 0.2f * (nb_rng_uniform(&r) - 0.5f);
    }
}

/* A list of n names "<prefix><pl name>" (malloc'd; free with free_names). */
static char **prefixed(const nb_param_list *pl, const char *prefix) {
    char **names = calloc((size_t)pl->n, sizeof *names);
    for (int i = 0; names && i < pl->n; i++) {
        size_t len = strlen(prefix) + strlen(pl->names[i]) + 1;
        names[i] = malloc(len);
        if (!names[i]) return names; /* caller checks each entry */
        snprintf(names[i], len, "%s%s", prefix, pl->names[i]);
    }
    return names;
}

static void free_names(char **names, int n) {
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

typedef struct {
    const char **names;
    nb_tensor **ts;
    int n, cap;
} entries;

static int push(entries *e, const char *name, nb_tensor *t) {
    if (!name || !t || e->n == e->cap) {
        fprintf(stderr, "parity: cannot store '%s': %s\n", name ? name : "(out of memory)",
                t ? "too many tensors" : nb_last_error());
        return -1;
    }
    e->names[e->n] = name;
    e->ts[e->n++] = t;
    return 0;
}

static int save(const char *dir, const char *file, entries *e, const char *cfg_json) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    const char *k[] = {"config"}, *v[] = {cfg_json ? cfg_json : "{}"};
    if (nb_safetensors_save(path, e->names, e->ts, e->n, k, v, 1)) {
        fprintf(stderr, "parity: writing %s: %s\n", path, nb_last_error());
        return -1;
    }
    return 0;
}

/* Step 1: logits, loss and gradients on batch 0; the batches. */
static int write_step1(const char *dir, bg_model *m, const nb_param_list *pl, nb_tensor *xs, nb_tensor *ys,
                       const char *cfg_json) {
    nb_tensor *x = nb_reshape(nb_narrow(xs, 0, 0, 1), NB_SHAPE(B, T));
    nb_tensor *y = nb_reshape(nb_narrow(ys, 0, 0, 1), NB_SHAPE(B, T));
    bool g = nb_no_grad_begin();
    nb_tensor *logits = bg_model_forward(m, x);
    nb_no_grad_end(g);
    nb_tensor *loss = bg_model_loss(m, x, y);
    if (!logits || !loss || nb_backward(loss)) {
        fprintf(stderr, "parity: forward/backward: %s\n", nb_last_error());
        return -1;
    }
    char **gnames = prefixed(pl, "grad.");
    int cap = pl->n + 4, rc = -1;
    entries e = {calloc((size_t)cap, sizeof(char *)), calloc((size_t)cap, sizeof(nb_tensor *)), 0, cap};
    if (!gnames || !e.names || !e.ts) {
        fprintf(stderr, "parity: out of memory\n");
        goto out;
    }
    if (push(&e, "x", xs) || push(&e, "y", ys) || push(&e, "logits", logits) ||
        push(&e, "loss", nb_reshape(loss, NB_SHAPE(1))))
        goto out;
    for (int i = 0; i < pl->n; i++)
        if (push(&e, gnames[i], pl->tensors[i]->grad)) goto out;
    rc = save(dir, "step1.safetensors", &e, cfg_json);
    printf("parity: step 1: loss %.6f on batch 0 (B=%d, T=%d), %d gradients\n", nb_item(loss), B, T, pl->n);
out:
    free(e.names);
    free(e.ts);
    free_names(gnames, pl->n);
    return rc;
}

/* STEPS AdamW steps as train.c takes them. */
static int write_adamw(const char *dir, bg_model *m, const nb_param_list *pl, nb_tensor *xs, nb_tensor *ys,
                       nb_ctx *step_ctx, const char *cfg_json) {
    float losses[STEPS], norms[STEPS], lrs[STEPS];
    int rc = -1;
    char **fnames = NULL;
    entries e = {0};
    nb_module_zero_grad(m->root);
    nb_optim *opt = nb_adamw_new(m->ctx, LR, 0.9f, 0.95f, 1e-8f);
    if (!opt || nb_optim_add_module(opt, m->root, 0.1f)) {
        fprintf(stderr, "parity: optimiser: %s\n", nb_last_error());
        goto out;
    }
    /* train.c: warm-up of steps/10 (at most 100), cosine to lr/10 at the last step */
    nb_lr_schedule sched = nb_lr_warmup_cosine(LR, LR / 10, STEPS / 10 < 100 ? STEPS / 10 : 100, STEPS);
    for (int s = 0; s < STEPS; s++) {
        lrs[s] = nb_lr_at(&sched, s);
        nb_optim_set_lr(opt, lrs[s]);
        nb_tensor *x = nb_reshape(nb_narrow(xs, 0, s, 1), NB_SHAPE(B, T));
        nb_tensor *y = nb_reshape(nb_narrow(ys, 0, s, 1), NB_SHAPE(B, T));
        nb_tensor *loss = bg_model_loss(m, x, y);
        double norm = -1;
        if (!loss || nb_backward(loss) || (norm = nb_optim_clip_grad_norm(opt, 1.0)) < 0 ||
            nb_optim_step(opt)) {
            fprintf(stderr, "parity: AdamW step %d: %s\n", s, nb_last_error());
            goto out;
        }
        losses[s] = (float)nb_item(loss);
        norms[s] = (float)norm;
        nb_optim_zero_grad(opt);
        nb_ctx_reset(step_ctx);
        printf("parity: step %2d: lr %.3e  loss %.6f  grad norm %.4f%s\n", s, (double)lrs[s],
               (double)losses[s], (double)norms[s], norm > 1.0 ? " (clipped)" : "");
    }
    int cap = pl->n + 3;
    e = (entries){calloc((size_t)cap, sizeof(char *)), calloc((size_t)cap, sizeof(nb_tensor *)), 0, cap};
    fnames = prefixed(pl, "final.");
    if (!e.names || !e.ts || !fnames) {
        fprintf(stderr, "parity: out of memory\n");
        goto out;
    }
    if (push(&e, "losses", nb_from_data(step_ctx, NB_F32, NB_SHAPE(STEPS), losses)) ||
        push(&e, "grad_norms", nb_from_data(step_ctx, NB_F32, NB_SHAPE(STEPS), norms)) ||
        push(&e, "lrs", nb_from_data(step_ctx, NB_F32, NB_SHAPE(STEPS), lrs)))
        goto out;
    for (int i = 0; i < pl->n; i++)
        if (push(&e, fnames[i], pl->tensors[i])) goto out;
    rc = save(dir, "adamw.safetensors", &e, cfg_json);
out:
    free(e.names);
    free(e.ts);
    free_names(fnames, pl->n);
    nb_optim_free(opt);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/parity";
    if (argc > 2) {
        fprintf(stderr, "usage: parity [OUT_DIR]\n");
        return 2;
    }
    char err[512], path[4096];
    int status = 1;
    bg_config cfg = {.name = "parity",
                     .n_layer = 2,
                     .n_head = 2,
                     .n_embd = 64,
                     .block_size = T,
                     .vocab_size = V,
                     .dropout = 0.0f,
                     .batch = B,
                     .lr = LR,
                     .steps = STEPS};
    nb_param_list pl = {0};
    nb_ctx *step_ctx = NULL, *prev = NULL;
    char *cfg_json = bg_config_to_json(&cfg);
    bg_model *m = bg_model_new(&cfg, SEED, err, sizeof err);
    if (!m || !cfg_json) {
        fprintf(stderr, "parity: %s\n", m ? "out of memory" : err);
        goto out;
    }
    if (nb_module_parameters(m->root, &pl)) {
        fprintf(stderr, "parity: parameters: %s\n", nb_last_error());
        goto out;
    }
    perturb_vectors(&pl);
    snprintf(path, sizeof path, "%s/init.safetensors", dir);
    const char *mk[] = {"config"}, *mv[] = {cfg_json};
    if (nb_module_save(m->root, path, mk, mv, 1)) {
        fprintf(stderr, "parity: %s\n", nb_last_error());
        goto out;
    }
    printf("parity: model %s: %d layers, %d heads, n_embd %d, context %d, vocab %d, %lld "
           "parameters in %d tensors -> %s\n",
           cfg.name, cfg.n_layer, cfg.n_head, cfg.n_embd, T, V, (long long)nb_module_num_params(m->root),
           pl.n, path);
    step_ctx = nb_ctx_new(0);
    int32_t *xb = malloc(sizeof(int32_t) * STEPS * B * T), *yb = malloc(sizeof(int32_t) * STEPS * B * T);
    if (!step_ctx || !xb || !yb) {
        fprintf(stderr, "parity: out of memory\n");
        free(xb);
        free(yb);
        goto out;
    }
    make_batches(xb, yb);
    prev = nb_ctx_use(step_ctx);
    nb_tensor *xs = nb_from_data(m->ctx, NB_I32, NB_SHAPE(STEPS, B, T), xb);
    nb_tensor *ys = nb_from_data(m->ctx, NB_I32, NB_SHAPE(STEPS, B, T), yb);
    free(xb);
    free(yb);
    if (!xs || !ys) {
        fprintf(stderr, "parity: batches: %s\n", nb_last_error());
        goto out;
    }
    if (write_step1(dir, m, &pl, xs, ys, cfg_json)) goto out;
    nb_ctx_reset(step_ctx);
    if (write_adamw(dir, m, &pl, xs, ys, step_ctx, cfg_json)) goto out;
    printf("parity: wrote %s/{init,step1,adamw}.safetensors\n", dir);
    status = 0;
out:
    nb_ctx_use(prev);
    nb_ctx_free(step_ctx);
    nb_param_list_free(&pl);
    bg_model_free(m);
    free(cfg_json);
    return status;
}
