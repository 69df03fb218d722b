/* eval.c - mean per-token cross-entropy of a trained run over a data file. */
#include "examples/babygpt/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/babygpt/data.h"

int bg_eval_file(bg_run *r, const char *path, bg_eval_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    bg_split s = {0};
    if (bg_load_file(path, &s, bg_warn_stderr, NULL, err, errlen)) return -1;
    bg_model *m = r->model;
    int block = m->cfg.block_size;
    int32_t eot = bg_tokenizer_eot(r->tok);
    nb_ctx *ctx = nb_ctx_new(0);
    nb_ctx *prev = nb_ctx_use(ctx);
    bool g = nb_no_grad_begin();
    nb_module_train(m->root, false);
    double total = 0;
    int64_t count = 0;
    int rc = 0;
    int32_t *buf = malloc(sizeof(int32_t) * (size_t)(block + 1));
    for (size_t i = 0; i < s.n && rc == 0 && buf; i++) {
        char *doc = bg_format_document(&s.ex[i]);
        int32_t *ids = NULL;
        size_t n = 0;
        if (!doc || bg_tokenizer_encode(r->tok, doc, strlen(doc), 0, &ids, &n)) {
            free(doc);
            snprintf(err, errlen, "%s: row %zu: tokenizing failed", path, i + 1);
            rc = -1;
            break;
        }
        free(doc);
        /* the document as trained: after <|endoftext|>, and followed by one */
        int32_t *all = malloc(sizeof(int32_t) * (n + 2));
        if (!all) {
            free(ids);
            rc = -1;
            break;
        }
        all[0] = eot;
        memcpy(all + 1, ids, n * sizeof *ids);
        all[n + 1] = eot;
        free(ids);
        size_t len = n + 2;
        for (size_t st = 0; st + 1 < len; st += (size_t)block) {
            size_t w = len - st - 1 < (size_t)block ? len - st - 1 : (size_t)block;
            nb_tensor *x = nb_from_data(ctx, NB_I32, NB_SHAPE(1, (int64_t)w), all + st);
            nb_tensor *y = nb_from_data(ctx, NB_I32, NB_SHAPE(1, (int64_t)w), all + st + 1);
            if (m->pos->device != NB_CPU) { /* the model was moved (babygpt eval --device) */
                x = nb_to_device(ctx, x, m->pos->device);
                y = nb_to_device(ctx, y, m->pos->device);
            }
            nb_tensor *l = bg_model_loss(m, x, y);
            double v = l ? nb_item(l) : NAN;
            nb_ctx_reset(ctx);
            if (!isfinite(v)) {
                snprintf(err, errlen, "%s: row %zu: %s", path, i + 1, l ? "non-finite loss" : nb_last_error());
                rc = -1;
                break;
            }
            total += v * (double)w;
            count += (int64_t)w;
        }
        free(all);
        res->docs++;
    }
    free(buf);
    nb_no_grad_end(g);
    nb_ctx_use(prev);
    nb_ctx_free(ctx);
    bg_split_free(&s);
    if (rc) return -1;
    if (count == 0) {
        snprintf(err, errlen, "%s: no tokens to score", path);
        return -1;
    }
    res->loss = total / (double)count;
    res->ppl = exp(res->loss);
    res->tokens = count;
    return 0;
}
