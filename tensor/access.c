/* tensor/access.c - copies between tensors and devices, element access, printing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "tensor/half.h"
#include "tensor/internal.h"

/* Copies a device tensor's elements (row-major) into a malloc'd host buffer of dtype dt. */
static void *host_copy(const nb_tensor *t, nb_dtype dt) {
    int64_t n = nb_numel(t);
    size_t es = nb_dtype_size(dt);
    void *buf = malloc((size_t)(n ? n : 1) * es);
    if (!buf) return nb_set_error("to_array: out of host memory (%lld elements)", (long long)n);
    if (nb_to_array(t, dt, buf)) {
        free(buf);
        return NULL;
    }
    return buf;
}

int nb_to_array(const nb_tensor *t, nb_dtype dt, void *dst) {
    if (!t || !dst) return nb_set_error("to_array: NULL argument"), -1;
    if (nb_dtype_size(dt) == 0) return nb_set_error("to_array: invalid dtype %d", (int)dt), -1;
    int64_t n = nb_numel(t);
    if (t->device == NB_CPU) {
        nb_tensor d = {0};
        d.dtype = dt;
        d.device = NB_CPU;
        d.ndim = t->ndim;
        memcpy(d.shape, t->shape, sizeof d.shape);
        nb_contig_strides(d.ndim, d.shape, d.stride);
        nb_storage s = {.data = dst, .nbytes = (size_t)n * nb_dtype_size(dt), .device = NB_CPU};
        d.storage = &s;
        return nb_cpu_backend.copy(&d, t);
    }
    const nb_backend *be = nb_backend_get(t->device);
    if (!be) return -1;
    /* make a contiguous device copy of the right dtype, then download it */
    nb_ctx *tmp = nb_ctx_new(((size_t)n * 4 + 4096 + 65535) & ~(size_t)65535);
    if (!tmp) return -1;
    int rc = -1;
    nb_tensor *c = nb_tensor_new(tmp, dt, t->device, t->ndim, t->shape);
    if (c && be->copy(c, t) == 0) rc = be->download(dst, c->storage->data, (size_t)n * nb_dtype_size(dt));
    nb_ctx_free(tmp);
    return rc;
}

/* The lowest and highest element offsets a view reaches (an empty view reaches none: lo > hi). */
static void view_span(const nb_tensor *t, int64_t *lo, int64_t *hi) {
    *lo = *hi = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 0) {
            *lo = 1, *hi = 0;
            return;
        }
        int64_t r = (t->shape[i] - 1) * t->stride[i];
        if (r < 0)
            *lo += r;
        else
            *hi += r;
    }
}

static int copy_into(nb_tensor *dst, const nb_tensor *src);

const nb_tensor *nb_unaliased(const nb_tensor *dst, const nb_tensor *src, nb_ctx **tmp) {
    *tmp = NULL;
    if (!dst->storage || dst->storage != src->storage) return src;
    bool same = dst->offset == src->offset && dst->ndim == src->ndim &&
                memcmp(dst->shape, src->shape, sizeof(int64_t) * (size_t)dst->ndim) == 0 &&
                memcmp(dst->stride, src->stride, sizeof(int64_t) * (size_t)dst->ndim) == 0;
    int64_t dl, dh, sl, sh;
    view_span(dst, &dl, &dh);
    view_span(src, &sl, &sh);
    if (same || dl > dh || sl > sh || dh < sl || sh < dl) return src; /* elementwise in place, or apart */
    const nb_backend *be = nb_backend_get(src->device);
    nb_tensor *c = NULL;
    if (be && (*tmp = nb_ctx_new(0)) &&
        (c = nb_tensor_new(*tmp, src->dtype, src->device, src->ndim, src->shape)) && be->copy(c, src) == 0)
        return c;
    nb_ctx_free(*tmp);
    *tmp = NULL;
    return NULL;
}

int nb_copy_(nb_tensor *dst, const nb_tensor *src) {
    if (nb_check_writable("copy_", dst)) return -1;
    if (!src) return nb_set_error("copy_: NULL source"), -1;
    nb_ctx *tmp;
    if (!(src = nb_unaliased(dst, src, &tmp))) return -1;
    int rc = copy_into(dst, src);
    nb_ctx_free(tmp);
    return rc;
}

/* nb_copy_ from a source that does not overlap dst in another layout. */
static int copy_into(nb_tensor *dst, const nb_tensor *src) {
    nb_tensor s;
    if (nb_expand_desc(src, dst->ndim, dst->shape, &s)) {
        char a[96], b[96];
        nb_set_error("copy_: cannot broadcast %s to %s", nb_shape_str(src, a, sizeof a),
                     nb_shape_str(dst, b, sizeof b));
        return -1;
    }
    nb_mark_written(dst);
    if (dst->device == src->device) {
        const nb_backend *be = nb_backend_get(dst->device);
        return be ? be->copy(dst, &s) : -1;
    }
    /* across devices: through a contiguous host buffer */
    const nb_backend *be = nb_backend_get(dst->device == NB_CPU ? src->device : dst->device);
    if (!be) return -1;
    int64_t n = nb_numel(dst);
    void *buf = host_copy(&s, dst->dtype);
    if (!buf) return -1;
    int rc;
    if (dst->device == NB_CPU) {
        nb_tensor h = *dst;
        nb_storage hs = {.data = buf, .nbytes = (size_t)n * nb_dtype_size(dst->dtype), .device = NB_CPU};
        h.storage = &hs;
        h.offset = 0;
        nb_contig_strides(h.ndim, h.shape, h.stride);
        rc = nb_cpu_backend.copy(dst, &h);
    } else if (nb_is_contiguous(dst)) {
        rc = be->upload((char *)dst->storage->data + dst->offset * (int64_t)nb_dtype_size(dst->dtype), buf,
                        (size_t)n * nb_dtype_size(dst->dtype));
    } else {
        nb_ctx *tmp = nb_ctx_new(((size_t)n * 4 + 4096 + 65535) & ~(size_t)65535);
        nb_tensor *c = tmp ? nb_tensor_new(tmp, dst->dtype, dst->device, dst->ndim, dst->shape) : NULL;
        rc = c ? be->upload(c->storage->data, buf, c->storage->nbytes) : -1;
        if (rc == 0) rc = be->copy(dst, c);
        nb_ctx_free(tmp);
    }
    free(buf);
    return rc;
}

nb_tensor *nb_to_device(nb_ctx *ctx, const nb_tensor *t, nb_device dev) {
    if (!t) { /* a failed call's message stays; otherwise say what was NULL */
        if (!nb_last_error()[0]) nb_set_error("to_device: NULL tensor");
        return NULL;
    }
    if (!ctx) ctx = nb_out_ctx(t);
    nb_tensor *o = nb_tensor_new(ctx, t->dtype, dev, t->ndim, t->shape);
    if (!o || nb_copy_(o, t)) return NULL;
    return o;
}

nb_tensor *nb_clone(nb_ctx *ctx, const nb_tensor *t) {
    if (!t && !nb_last_error()[0]) nb_set_error("clone: NULL tensor");
    return t ? nb_to_device(ctx, t, t->device) : NULL;
}

double nb_get(const nb_tensor *t, const int64_t *index) {
    if (!t || (t->ndim && !index)) return NAN;
    int64_t off = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (index[i] < 0 || index[i] >= t->shape[i]) {
            nb_set_error("get: index %lld out of range for dim %d of size %lld", (long long)index[i], i,
                         (long long)t->shape[i]);
            return NAN;
        }
        off += index[i] * t->stride[i];
    }
    size_t es = nb_dtype_size(t->dtype);
    const char *p = (const char *)t->storage->data + off * (int64_t)es;
    union {
        float f;
        int32_t i;
        uint16_t h;
    } v;
    if (t->device == NB_CPU) {
        memcpy(&v, p, es);
    } else {
        const nb_backend *be = nb_backend_get(t->device);
        if (!be || be->download(&v, p, es)) return NAN;
    }
    switch (t->dtype) {
    case NB_F32: return (double)v.f;
    case NB_I32: return (double)v.i;
    case NB_F16: return (double)nb_f16_to_f32(v.h);
    default: return (double)nb_bf16_to_f32(v.h);
    }
}

double nb_item(const nb_tensor *t) {
    if (!t) return NAN;
    if (nb_numel(t) != 1) {
        char b[96];
        nb_set_error("item: tensor of shape %s has %lld elements, not 1", nb_shape_str(t, b, sizeof b),
                     (long long)nb_numel(t));
        return NAN;
    }
    int64_t zero[NB_MAX_DIMS] = {0};
    return nb_get(t, zero);
}

/* Element o of a host copy: i32 values exactly, f32 with 6 significant digits, f16 and bf16
 * (3 or fewer digits of their own) with 4. */
static void print_elem(FILE *f, const nb_tensor *t, const void *v, int64_t o) {
    if (t->dtype == NB_I32)
        fprintf(f, "%d", ((const int32_t *)v)[o]);
    else
        fprintf(f, t->dtype == NB_F32 ? "%.6g" : "%.4g", (double)((const float *)v)[o]);
}

static void print_rec(FILE *f, const nb_tensor *t, const void *v, int dim, int64_t *pos, int64_t off) {
    const int64_t edge = 3;
    int64_t n = t->shape[dim];
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (n > 2 * edge + 1 && i == edge) {
            fputs(dim == t->ndim - 1 ? "..., " : "...,\n ", f);
            i = n - edge - 1;
            continue;
        }
        int64_t o = off * 1;
        int64_t stride = 1;
        for (int d = t->ndim - 1; d > dim; d--) stride *= t->shape[d];
        o = off + i * stride;
        if (dim == t->ndim - 1) {
            print_elem(f, t, v, o);
        } else {
            print_rec(f, t, v, dim + 1, pos, o);
        }
        if (i + 1 < n) fputs(dim == t->ndim - 1 ? ", " : ",\n ", f);
    }
    fputc(']', f);
}

void nb_print(const nb_tensor *t, FILE *f) {
    if (!f) f = stdout;
    if (!t) {
        fprintf(f, "tensor(NULL)\n");
        return;
    }
    char b[128];
    fprintf(f, "tensor(shape=%s, dtype=%s, device=%s%s%s%s)\n", nb_shape_str(t, b, sizeof b),
            nb_dtype_name(t->dtype), nb_device_name(t->device), t->requires_grad ? ", requires_grad" : "",
            t->name ? ", name=" : "", t->name ? t->name : "");
    void *v = host_copy(t, t->dtype == NB_I32 ? NB_I32 : NB_F32);
    if (!v) {
        fprintf(f, "  <unreadable: %s>\n", nb_last_error());
        return;
    }
    if (t->ndim == 0)
        print_elem(f, t, v, 0);
    else {
        int64_t pos[NB_MAX_DIMS] = {0};
        print_rec(f, t, v, 0, pos, 0);
    }
    fputc('\n', f);
    free(v);
}
