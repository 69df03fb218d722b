/* tensor/tensor.c - creating tensors and reading facts about them. */
#include <math.h>
#include <string.h>

#include "backends/backend.h"
#include "tensor/internal.h"

void nb_contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i];
    }
}

int64_t nb_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

char *nb_fmt_shape(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}

nb_ctx *nb_out_ctx(const nb_tensor *first) {
    nb_ctx *c = nb_ctx_current();
    return c ? c : first ? first->ctx : NULL;
}

static int check_shape(const char *op, nb_dtype dt, int ndim, const int64_t *shape) {
    if (nb_dtype_size(dt) == 0) {
        nb_set_error("%s: invalid dtype %d", op, (int)dt);
        return -1;
    }
    if (ndim < 0 || ndim > NB_MAX_DIMS) {
        nb_set_error("%s: %d dimensions (at most %d)", op, ndim, NB_MAX_DIMS);
        return -1;
    }
    if (ndim > 0 && !shape) {
        nb_set_error("%s: NULL shape", op);
        return -1;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            char b[128];
            nb_set_error("%s: negative size in shape %s", op, nb_fmt_shape(ndim, shape, b, sizeof b));
            return -1;
        }
        if (shape[i] > 0 && n > INT64_MAX / 8 / shape[i]) {
            nb_set_error("%s: shape too large", op);
            return -1;
        }
        n *= shape[i] ? shape[i] : 1; /* a 0 dim still has strides: the others' product must fit */
    }
    return 0;
}

nb_tensor *nb_tensor_new(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape) {
    if (!ctx) ctx = nb_ctx_current();
    if (!ctx) return nb_set_error("tensor: no context (pass one, or make one current with nb_ctx_use)");
    if (check_shape("tensor", dt, ndim, shape)) return NULL;
    nb_tensor *t = nb_ctx_alloc(ctx, sizeof *t, 8);
    if (!t) return NULL;
    int64_t n = nb_shape_numel(ndim, shape);
    t->storage = nb_storage_new(ctx, dev, (size_t)n * nb_dtype_size(dt));
    if (!t->storage) return NULL;
    t->dtype = dt;
    t->device = dev;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    nb_contig_strides(ndim, shape, t->stride);
    t->ctx = ctx;
    t->id = nb_next_id();
    return t;
}

nb_tensor *nb_tensor_view(nb_ctx *ctx, const nb_tensor *base, int ndim, const int64_t *shape,
                          const int64_t *stride, int64_t offset) {
    if (!ctx) return nb_set_error("view: no context");
    nb_tensor *t = nb_ctx_alloc(ctx, sizeof *t, 8);
    if (!t) return NULL;
    t->dtype = base->dtype;
    t->device = base->device;
    t->ndim = ndim;
    if (ndim) {
        memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
        memcpy(t->stride, stride, sizeof(int64_t) * (size_t)ndim);
    }
    t->offset = offset;
    t->storage = base->storage;
    t->ctx = ctx;
    t->id = nb_next_id();
    return t;
}

nb_tensor *nb_empty(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape) {
    return nb_tensor_new(ctx, dt, NB_CPU, ndim, shape);
}

nb_tensor *nb_full(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape, double value) {
    nb_tensor *t = nb_empty(ctx, dt, ndim, shape);
    if (!t || nb_fill_(t, value)) return NULL;
    return t;
}

nb_tensor *nb_zeros(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape) {
    return nb_full(ctx, dt, ndim, shape, 0.0);
}

nb_tensor *nb_empty_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape) {
    return nb_tensor_new(ctx, dt, dev, ndim, shape);
}

nb_tensor *nb_zeros_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape) {
    nb_tensor *t = nb_empty_on(ctx, dt, dev, ndim, shape);
    return t && !nb_fill_(t, 0.0) ? t : NULL;
}

nb_tensor *nb_full_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, int ndim, const int64_t *shape, double value) {
    nb_tensor *t = nb_empty_on(ctx, dt, dev, ndim, shape);
    return t && !nb_fill_(t, value) ? t : NULL;
}

nb_tensor *nb_ones(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape) {
    return nb_full(ctx, dt, ndim, shape, 1.0);
}

nb_tensor *nb_scalar(nb_ctx *ctx, float value) { return nb_full(ctx, NB_F32, 0, NULL, value); }

nb_tensor *nb_arange_on(nb_ctx *ctx, nb_dtype dt, nb_device dev, double start, double end, double step) {
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step))
        return nb_set_error("arange: invalid range start=%g end=%g step=%g", start, end, step);
    double n = ceil((end - start) / step);
    if (!(n < 0x1p62))
        return nb_set_error("arange: %g values from %g to %g by %g; too many", n, start, end, step);
    if (dt == NB_I32 && n > 0) {
        double last = start + (n - 1) * step;
        if (fmin(start, last) < -2147483648.0 || fmax(start, last) > 2147483647.0)
            return nb_set_error("arange: i32 values from %g to %g are outside the i32 range", start, last);
    }
    int64_t len = n > 0 ? (int64_t)n : 0;
    nb_tensor *t = nb_empty_on(ctx, dt, dev, 1, &len);
    if (!t) return NULL;
    const nb_backend *be = nb_backend_get(dev);
    if (!be || be->arange(t, start, step)) return NULL;
    return t;
}

nb_tensor *nb_arange(nb_ctx *ctx, nb_dtype dt, double start, double end, double step) {
    return nb_arange_on(ctx, dt, NB_CPU, start, end, step);
}

nb_tensor *nb_from_data(nb_ctx *ctx, nb_dtype dt, int ndim, const int64_t *shape, const void *data) {
    if (!data) return nb_set_error("from_data: NULL data");
    nb_tensor *t = nb_empty(ctx, dt, ndim, shape);
    if (!t) return NULL;
    memcpy(t->storage->data, data, t->storage->nbytes);
    return t;
}

static nb_rng *rng_or_global(nb_rng *r) { return r ? r : nb_rng_global(); }

int nb_rand_(nb_tensor *t, float lo, float hi, nb_rng *rng) {
    if (nb_check_writable("rand_", t)) return -1;
    if (t->dtype != NB_F32) return nb_set_error("rand: needs an f32 tensor"), -1;
    const nb_backend *be = nb_backend_get(t->device);
    rng = rng_or_global(rng);
    if (be) nb_mark_written(t);
    if (!be || be->random(t, NB_RAND_UNIFORM, lo, hi, rng->seed, rng->offset)) return -1;
    rng->offset += (uint64_t)(nb_numel(t) + 3) / 4;
    return 0;
}

int nb_randn_(nb_tensor *t, float mean, float std, nb_rng *rng) {
    if (nb_check_writable("randn_", t)) return -1;
    if (t->dtype != NB_F32) return nb_set_error("randn: needs an f32 tensor"), -1;
    const nb_backend *be = nb_backend_get(t->device);
    rng = rng_or_global(rng);
    if (be) nb_mark_written(t);
    if (!be || be->random(t, NB_RAND_NORMAL, mean, std, rng->seed, rng->offset)) return -1;
    rng->offset += (uint64_t)(nb_numel(t) + 3) / 4;
    return 0;
}

nb_tensor *nb_rand(nb_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi, nb_rng *rng) {
    nb_tensor *t = nb_empty(ctx, NB_F32, ndim, shape);
    return t && nb_rand_(t, lo, hi, rng) == 0 ? t : NULL;
}

nb_tensor *nb_randn(nb_ctx *ctx, int ndim, const int64_t *shape, float mean, float std, nb_rng *rng) {
    nb_tensor *t = nb_empty(ctx, NB_F32, ndim, shape);
    return t && nb_randn_(t, mean, std, rng) == 0 ? t : NULL;
}

int nb_check_writable(const char *op, const nb_tensor *t) {
    if (!t) return nb_set_error("%s: NULL tensor", op), -1;
    if (nb_numel(t) == 0) return 0; /* nothing is written */
    for (int d = 0; d < t->ndim; d++)
        if (t->stride[d] == 0 && t->shape[d] > 1) {
            char s[96];
            return nb_set_error(
                       "%s: cannot write into a broadcast (expanded) view %s: dim %d repeats one element "
                       "%lld times (write into the tensor it expands, or a contiguous copy)",
                       op, nb_shape_str(t, s, sizeof s), d, (long long)t->shape[d]),
                   -1;
        }
    return 0;
}

void nb_mark_written(const nb_tensor *t) {
    if (t && t->storage) t->storage->version++;
}

int nb_fill_(nb_tensor *t, double value) {
    if (nb_check_writable("fill_", t)) return -1;
    const nb_backend *be = nb_backend_get(t->device);
    if (!be) return -1;
    nb_mark_written(t);
    return be->fill(t, value);
}

int64_t nb_numel(const nb_tensor *t) { return t ? nb_shape_numel(t->ndim, t->shape) : 0; }

int64_t nb_size(const nb_tensor *t, int dim) {
    if (!t) return -1;
    if (dim < 0) dim += t->ndim;
    return dim >= 0 && dim < t->ndim ? t->shape[dim] : -1;
}

bool nb_is_contiguous(const nb_tensor *t) {
    if (!t) return false;
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool nb_same_shape(const nb_tensor *a, const nb_tensor *b) {
    if (!a || !b) return a == b;
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *nb_shape_str(const nb_tensor *t, char *buf, size_t len) {
    if (!buf || !len) return buf;
    if (!t) {
        if (buf && len) snprintf(buf, len, "(null)");
        return buf;
    }
    return nb_fmt_shape(t->ndim, t->shape, buf, len);
}

nb_tensor *nb_set_name(nb_tensor *t, const char *name) {
    if (t) t->name = name;
    return t;
}

void *nb_data(const nb_tensor *t) {
    if (!t || t->device != NB_CPU) return NULL;
    return (char *)t->storage->data + t->offset * (int64_t)nb_dtype_size(t->dtype);
}

float *nb_data_f32(const nb_tensor *t) {
    return t && t->dtype == NB_F32 ? (float *)nb_data(t) : NULL;
}

int nb_expand_desc(const nb_tensor *a, int ndim, const int64_t *shape, nb_tensor *out) {
    if (ndim < a->ndim) return -1;
    *out = *a;
    out->ndim = ndim;
    int off = ndim - a->ndim;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - off;
        int64_t sz = j >= 0 ? a->shape[j] : 1, st = j >= 0 ? a->stride[j] : 0;
        if (sz == shape[i]) {
            out->shape[i] = sz;
            out->stride[i] = sz == 1 ? 0 : st;
        } else if (sz == 1) {
            out->shape[i] = shape[i];
            out->stride[i] = 0;
        } else {
            return -1;
        }
    }
    return 0;
}
