/* nn/reshape_layers.c - modules with no parameters that only move elements: Unflatten, the
 * padding layers (torch's ConstantPadNd, ZeroPadNd, ReflectionPadNd, ReplicationPadNd,
 * CircularPadNd as one Pad module), Unfold and Fold. Each forward is its op. */
#include <string.h>

#include "nabla.h"

/* ---- Unflatten ------------------------------------------------------------------------------- */

typedef struct {
    int dim, n;
    int64_t sizes[NB_MAX_DIMS];
} unflatten_cfg;

static nb_tensor *unflatten_fwd(nb_module *m, nb_tensor *x) {
    const unflatten_cfg *c = m->impl;
    if (!x) return NULL;
    const int d = c->dim < 0 ? c->dim + x->ndim : c->dim;
    if (d < 0 || d >= x->ndim)
        return nb_set_error("Unflatten: dim %d out of range for a %d-d input", c->dim, x->ndim);
    if (x->ndim - 1 + c->n > NB_MAX_DIMS)
        return nb_set_error("Unflatten: the result would have more than %d dims", NB_MAX_DIMS);
    /* the sizes must multiply to the dim's size (one -1 takes what is left), as torch checks */
    int64_t prod = 1;
    int infer = -1;
    for (int j = 0; j < c->n; j++) {
        if (c->sizes[j] == -1)
            infer = infer < 0 ? j : -2;
        else
            prod *= c->sizes[j];
    }
    const int64_t have = x->shape[d];
    if (infer == -2 || (infer < 0 && prod != have) ||
        (infer >= 0 && (prod == 0 ? have != 0 : have % prod != 0))) {
        char a[96];
        return nb_set_error("Unflatten: the sizes given do not multiply to the size of dim %d of %s (%lld)",
                            d, nb_shape_str(x, a, sizeof a), (long long)have);
    }
    int64_t s[NB_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != d) {
            s[k++] = x->shape[i];
            continue;
        }
        for (int j = 0; j < c->n; j++)
            s[k++] = c->sizes[j] == -1 ? (prod ? have / prod : 0) : c->sizes[j];
    }
    return nb_reshape(x, k, s);
}

nb_module *nb_unflatten_new(int dim, int n, const int64_t *sizes) {
    if (n < 1 || n > NB_MAX_DIMS || !sizes)
        return nb_set_error("unflatten_new: %d sizes (want 1 to %d)", n, NB_MAX_DIMS);
    for (int i = 0; i < n; i++)
        if (sizes[i] < 0 && sizes[i] != -1)
            return nb_set_error("unflatten_new: size %d is %lld (want >= 0, or -1 to infer)", i,
                                (long long)sizes[i]);
    nb_module *m = nb_module_new("Unflatten", NULL, unflatten_fwd, sizeof(unflatten_cfg));
    if (!m) return NULL;
    unflatten_cfg *c = m->impl;
    c->dim = dim, c->n = n;
    memcpy(c->sizes, sizes, sizeof(int64_t) * (size_t)n);
    return m;
}

/* ---- Pad ------------------------------------------------------------------------------------- */

typedef struct {
    int npad;
    int64_t pad[2 * NB_MAX_DIMS];
    nb_pad_kind mode;
    double value;
} pad_cfg;

static nb_tensor *pad_fwd(nb_module *m, nb_tensor *x) {
    const pad_cfg *c = m->impl;
    if (c->mode == NB_PAD_ZEROS) return nb_pad(x, c->npad, c->pad, c->value);
    return nb_pad_mode(x, c->npad, c->pad, c->mode);
}

nb_module *nb_pad_new(int npad, const int64_t *pad, nb_pad_kind mode, double value) {
    if (npad < 2 || npad > 2 * NB_MAX_DIMS || npad % 2 || !pad)
        return nb_set_error("pad_new: %d pad sizes (want an even count from 2 to %d)", npad, 2 * NB_MAX_DIMS);
    if ((unsigned)mode > NB_PAD_CIRCULAR) return nb_set_error("pad_new: unknown padding mode %d", (int)mode);
    if (mode != NB_PAD_ZEROS && value != 0.0)
        return nb_set_error("pad_new: a fill value (%g) goes with constant padding only", value);
    nb_module *m = nb_module_new("Pad", NULL, pad_fwd, sizeof(pad_cfg));
    if (!m) return NULL;
    pad_cfg *c = m->impl;
    c->npad = npad, c->mode = mode, c->value = value;
    memcpy(c->pad, pad, sizeof(int64_t) * (size_t)npad);
    return m;
}

/* ---- Unfold / Fold ----------------------------------------------------------------------------- */

typedef struct {
    int kernel[2];
    int64_t out[2];
    nb_conv_opts opts;
} fold_cfg;

static nb_tensor *unfold_fwd(nb_module *m, nb_tensor *x) {
    const fold_cfg *c = m->impl;
    return nb_unfold(x, c->kernel, &c->opts);
}

static nb_tensor *fold_fwd(nb_module *m, nb_tensor *x) {
    const fold_cfg *c = m->impl;
    return nb_fold(x, c->out, c->kernel, &c->opts);
}

static nb_module *fold_module(const char *op, const char *type, nb_forward_fn fwd, const int64_t out[2],
                              const int kernel[2], const nb_conv_opts *opts) {
    if (!kernel || kernel[0] < 1 || kernel[1] < 1)
        return nb_set_error("%s: the kernel must be at least 1x1", op);
    nb_module *m = nb_module_new(type, NULL, fwd, sizeof(fold_cfg));
    if (!m) return NULL;
    fold_cfg *c = m->impl;
    c->kernel[0] = kernel[0], c->kernel[1] = kernel[1];
    if (out) c->out[0] = out[0], c->out[1] = out[1];
    if (opts) c->opts = *opts;
    return m;
}

nb_module *nb_unfold_new(const int kernel[2], const nb_conv_opts *opts) {
    return fold_module("unfold_new", "Unfold", unfold_fwd, NULL, kernel, opts);
}

nb_module *nb_fold_new(const int64_t out[2], const int kernel[2], const nb_conv_opts *opts) {
    if (!out || out[0] < 1 || out[1] < 1)
        return nb_set_error("fold_new: the output size must be at least 1x1");
    return fold_module("fold_new", "Fold", fold_fwd, out, kernel, opts);
}
