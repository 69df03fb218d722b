/* ops/op_util.c - checks and helpers shared by the ops. */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

int nb_broadcast_shape(const char *op, const nb_tensor *a, const nb_tensor *b, int *ndim, int64_t *shape) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char x[96], y[96];
            nb_set_error("%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op, NB_SHP(a, x),
                         NB_SHP(b, y), i, (long long)sa, (long long)sb);
            return -1;
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return 0;
}

int nb_norm_dim(const char *op, int dim, int ndim) {
    if (ndim == 0 && (dim == 0 || dim == -1)) return 0; /* a 0-d tensor acts as one dim, as in PyTorch */
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= (ndim ? ndim : 1)) {
        nb_set_error("%s: dim %d out of range for a %d-d tensor", op, dim, ndim);
        return -1;
    }
    return d;
}

int nb_same_device(const char *op, const nb_tensor *a, const nb_tensor *b) {
    if (a->device != b->device) {
        nb_set_error("%s: tensors on different devices (%s and %s); move one with nb_to_device", op,
                     nb_device_name(a->device), nb_device_name(b->device));
        return -1;
    }
    return 0;
}

int nb_check_dtype(const char *op, const nb_tensor *t, nb_dtype dt, const char *what) {
    if (t->dtype != dt) {
        nb_set_error("%s: %s must be %s, got %s", op, what, nb_dtype_name(dt), nb_dtype_name(t->dtype));
        return -1;
    }
    return 0;
}

const nb_backend *nb_be(const nb_tensor *t) { return nb_backend_get(t->device); }

nb_tensor *nb_new_like_shape(const nb_tensor *a, nb_dtype dt, int ndim, const int64_t *shape) {
    return nb_tensor_new(nb_out_ctx(a), dt, a->device, ndim, shape);
}

void nb_rename_error(const char *from, const char *to) {
    const char *e = nb_last_error();
    size_t n = strlen(from);
    if (strncmp(e, from, n) != 0 || e[n] != ':') return;
    char m[512];
    snprintf(m, sizeof m, "%s", e + n);
    nb_set_error("%s%s", to, m);
}

nb_tensor *nb_as_op(nb_tensor *r, const char *op) {
    const char *e = nb_last_error();
    const size_t n = strlen(op);
    if (r || !e[0] || (strncmp(e, op, n) == 0 && (e[n] == ':' || e[n] == ' '))) return r;
    const char *colon = strstr(e, ": ");
    char m[512];
    snprintf(m, sizeof m, "%s", colon ? colon + 2 : e);
    nb_set_error("%s: %s", op, m);
    return NULL;
}

void *nb_unsupported(const char *op, const nb_backend *be) {
    return nb_set_error("%s: not supported by the %s backend", op, be ? be->name : "?");
}

nb_tensor *nb_host_copy(nb_tensor *t) {
    nb_tensor *h = t->device == NB_CPU ? t : nb_to_device(nb_out_ctx(t), t, NB_CPU);
    return h ? nb_contiguous(h) : NULL;
}

nb_tensor *nb_host_like(const nb_tensor *like, nb_dtype dt, int ndim, const int64_t *shape,
                        const void *data) {
    nb_ctx *ctx = nb_out_ctx(like);
    nb_tensor *t = nb_from_data(ctx, dt, ndim, shape, data);
    return t && like->device != NB_CPU ? nb_to_device(ctx, t, like->device) : t;
}

nb_tensor *nb_host_1d(const nb_tensor *like, nb_dtype dt, int64_t n, const void *data) {
    return nb_host_like(like, dt, 1, &n, data);
}

nb_tensor *nb_eye_like(const nb_tensor *like, int64_t n) {
    nb_ctx *ctx = nb_out_ctx(like);
    nb_tensor *eye = nb_eye(ctx, n, n);
    return eye && like->device != NB_CPU ? nb_to_device(ctx, eye, like->device) : eye;
}

nb_tensor *nb_scalar_like(const nb_tensor *like, float v) {
    return nb_full_on(nb_out_ctx(like), NB_F32, like->device, 0, NULL, v);
}
