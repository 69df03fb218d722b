/* eval.h - scoring a trained Baby GPT on a data file. */
#ifndef BG_EVAL_H
#define BG_EVAL_H

#include "examples/babygpt/run.h"

typedef struct {
    double loss, ppl;
    int64_t tokens;
    size_t docs;
} bg_eval_result;

/* Mean per-token cross-entropy (and perplexity) over every document of a
 * DialogSum file (.csv or .jsonl), each scored as trained: after
 * <|endoftext|>, followed by one, in windows of the context. 0 or -1. */
int bg_eval_file(bg_run *r, const char *path, bg_eval_result *res, char *err, size_t errlen);

#endif
