/* nn/summary.c - a torchinfo-style summary of a module tree: one row per
 * module with its output shape (from a no-grad forward in a scratch context)
 * and parameter count, then totals and memory. */
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"

/* Writes n with thousands separators. */
static char *fmt_count(int64_t n, char *buf, size_t len) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)(n < 0 ? -n : n));
    size_t r = strlen(raw), o = 0;
    if (n < 0 && o + 1 < len) buf[o++] = '-';
    for (size_t i = 0; i < r && o + 2 < len; i++) {
        buf[o++] = raw[i];
        if ((r - i - 1) % 3 == 0 && i + 1 < r) buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

static void clear_shapes(nb_module *m) {
    m->out_ndim = -1;
    for (int i = 0; i < m->n_children; i++)
        clear_shapes(m->children[i]);
}

/* Unique parameter elements in m's subtree; -1 on error. */
/* each module's train/eval flag, depth first: saved, then put back after the summary's forward */
static int count_modules(const nb_module *m) {
    int n = 1;
    for (int i = 0; i < m->n_children; i++)
        n += count_modules(m->children[i]);
    return n;
}
static void modes(nb_module *m, bool *flags, int *k, bool restore) {
    if (restore)
        m->training = flags[(*k)++];
    else
        flags[(*k)++] = m->training;
    for (int i = 0; i < m->n_children; i++)
        modes(m->children[i], flags, k, restore);
}

static int64_t subtree_params(const nb_module *m) { return nb_module_num_params(m); }

typedef struct {
    FILE *f;
    int name_w;
} printer;

static int name_width(const nb_module *m, int depth) {
    int w = 2 * depth + (int)strlen(m->name) + (int)strlen(m->type) + 3;
    for (int i = 0; i < m->n_children; i++) {
        int c = name_width(m->children[i], depth + 1);
        if (c > w) w = c;
    }
    return w;
}

static int print_rows(printer *p, const nb_module *m, int depth) {
    char label[512], shape[128], cnt[40];
    if (depth == 0)
        snprintf(label, sizeof label, "%s", m->type);
    else
        snprintf(label, sizeof label, "%*s%s (%s)", 2 * depth, "", m->name, m->type);
    if (m->out_ndim >= 0)
        nb_fmt_shape(m->out_ndim, m->out_shape, shape, sizeof shape);
    else
        snprintf(shape, sizeof shape, "--");
    int64_t np = subtree_params(m);
    if (np < 0) return -1;
    fprintf(p->f, "%-*s  %-20s  %14s\n", p->name_w, label, shape, np ? fmt_count(np, cnt, sizeof cnt) : "--");
    for (int i = 0; i < m->n_children; i++)
        if (print_rows(p, m->children[i], depth + 1)) return -1;
    return 0;
}

static void rule(FILE *f, int w, char c) {
    for (int i = 0; i < w; i++)
        fputc(c, f);
    fputc('\n', f);
}

int nb_module_summary(nb_module *m, nb_dtype dtype, int ndim, const int64_t *shape, FILE *f) {
    if (!m || !f) return nb_set_error("module_summary: NULL module or stream"), -1;
    if (dtype != NB_F32 && dtype != NB_I32)
        return nb_set_error("module_summary: input dtype must be f32 or i32"), -1;
    nb_param_list l;
    if (nb_module_parameters(m, &l)) return -1;

    /* forward pass in a scratch context, leaving every RNG as it was */
    nb_ctx *scratch = nb_ctx_new(0);
    if (!scratch) {
        nb_param_list_free(&l);
        return -1;
    }
    nb_rng saved = *nb_module_rng(m), saved_global = *nb_rng_global();
    /* in eval mode, so that nothing the forward keeps (BatchNorm's running statistics) changes and
     * nothing random runs; each module's own mode is put back after */
    bool *flags = malloc((size_t)count_modules(m) * sizeof *flags);
    if (!flags) {
        nb_ctx_free(scratch);
        nb_param_list_free(&l);
        return nb_set_error("module_summary: out of memory"), -1;
    }
    int k = 0;
    modes(m, flags, &k, false);
    nb_module_train(m, false);
    clear_shapes(m);
    nb_ctx *prev = nb_ctx_use(scratch);
    bool g = nb_no_grad_begin();
    nb_tensor *x =
        dtype == NB_I32 ? nb_zeros(scratch, NB_I32, ndim, shape) : nb_ones(scratch, NB_F32, ndim, shape);
    /* the example input goes where the module's parameters are */
    if (x && l.n > 0 && l.tensors[0]->device != NB_CPU) x = nb_to_device(scratch, x, l.tensors[0]->device);
    bool rec = nb_module_record_shapes(true);
    nb_tensor *y = nb_module_forward(m, x);
    nb_module_record_shapes(rec);
    nb_no_grad_end(g);
    nb_ctx_use(prev);
    *nb_module_rng(m) = saved;
    *nb_rng_global() = saved_global;
    k = 0;
    modes(m, flags, &k, true);
    free(flags);
    if (!y) {
        nb_nn_wrap_error("module_summary: forward failed");
        nb_ctx_free(scratch);
        nb_param_list_free(&l);
        return -1;
    }

    int64_t total = 0, trainable = 0, bytes = 0, tbytes = 0;
    for (int i = 0; i < l.n; i++) {
        int64_t n = nb_numel(l.tensors[i]), b = n * (int64_t)nb_dtype_size(l.tensors[i]->dtype);
        total += n;
        bytes += b;
        if (l.tensors[i]->requires_grad) trainable += n, tbytes += b;
    }
    /* shared: tensors registered under more than one name */
    nb_param_list all;
    int64_t shared = 0, shared_t = 0;
    if (nb_nn_all_params(m, &all) == 0) {
        for (int i = 0; i < l.n; i++) {
            int uses = 0;
            for (int j = 0; j < all.n; j++)
                uses += all.tensors[j] == l.tensors[i];
            if (uses > 1) shared += nb_numel(l.tensors[i]), shared_t++;
        }
        nb_param_list_free(&all);
    }

    printer p = {f, name_width(m, 0)};
    if (p.name_w < 24) p.name_w = 24;
    int w = p.name_w + 2 + 20 + 2 + 14;
    char a[40], in_shape[128];
    rule(f, w, '=');
    fprintf(f, "%-*s  %-20s  %14s\n", p.name_w, "Layer (type)", "Output shape", "Param #");
    rule(f, w, '=');
    int rc = print_rows(&p, m, 0);
    rule(f, w, '=');
    fprintf(f, "Total params: %s\n", fmt_count(total, a, sizeof a));
    fprintf(f, "Trainable params: %s\n", fmt_count(trainable, a, sizeof a));
    fprintf(f, "Non-trainable params: %s\n", fmt_count(total - trainable, a, sizeof a));
    fprintf(f, "Shared params: %s in %lld tensor%s (counted once)\n", fmt_count(shared, a, sizeof a),
            (long long)shared_t, shared_t == 1 ? "" : "s");
    rule(f, w, '-');
    const double mb = 1024.0 * 1024.0;
    fprintf(f, "Input: %s %s\n", nb_dtype_name(dtype), nb_fmt_shape(ndim, shape, in_shape, sizeof in_shape));
    fprintf(f, "Params size (MB): %.2f\n", (double)bytes / mb);
    fprintf(f, "Grads size (MB): %.2f\n", (double)tbytes / mb);
    fprintf(f, "AdamW state size (MB): %.2f\n", 2.0 * (double)tbytes / mb);
    fprintf(f, "Params + grads + AdamW (MB): %.2f\n", ((double)bytes + 3.0 * (double)tbytes) / mb);
    rule(f, w, '=');
    nb_ctx_free(scratch);
    nb_param_list_free(&l);
    return rc;
}
