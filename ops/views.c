/* ops/views.c - more views, composed of the primitive ones (narrow, squeeze, permute, reshape,
 * expand), so they copy nothing and their gradients are those ops' rules: nb_movedim, nb_chunk,
 * nb_unbind, nb_meshgrid. */
#include <string.h>

#include "ops/op_util.h"

nb_tensor *nb_movedim(nb_tensor *a, int n, const int *src, const int *dst) {
    const char *op = "movedim";
    NB_NULL_GUARD_NAMED(op, a);
    if (n < 0 || n > a->ndim || (n && (!src || !dst)))
        return nb_set_error("%s: %d dims to move in a %d-d tensor", op, n, a->ndim);
    int perm[NB_MAX_DIMS];
    bool src_used[NB_MAX_DIMS] = {false}, dst_used[NB_MAX_DIMS] = {false};
    for (int i = 0; i < a->ndim; i++)
        perm[i] = -1;
    for (int i = 0; i < n; i++) {
        const int s = nb_norm_dim(op, src[i], a->ndim), d = s < 0 ? -1 : nb_norm_dim(op, dst[i], a->ndim);
        if (s < 0 || d < 0) return NULL;
        if (src_used[s] || dst_used[d])
            return nb_set_error("%s: dim %d given twice as a %s", op, src_used[s] ? s : d,
                                src_used[s] ? "source" : "destination");
        src_used[s] = dst_used[d] = true;
        perm[d] = s;
    }
    /* the dims not moved fill the free places in their order */
    for (int i = 0, s = 0; i < a->ndim; i++) {
        if (perm[i] >= 0) continue;
        while (src_used[s])
            s++;
        perm[i] = s++;
    }
    return nb_as_op(nb_permute(a, perm), op);
}

int nb_chunk(nb_tensor *a, int chunks, int dim, nb_tensor **out) {
    if (!out || chunks < 1)
        return nb_set_error("chunk: needs chunks >= 1 and an output array (chunks=%d)", chunks), -1;
    for (int i = 0; i < chunks; i++)
        out[i] = NULL;
    if (!a) {
        if (!nb_last_error()[0]) nb_set_error("chunk: NULL tensor");
        return -1;
    }
    if (a->ndim == 0) return nb_set_error("chunk: cannot chunk a 0-d tensor"), -1;
    const int d = nb_norm_dim("chunk", dim, a->ndim);
    if (d < 0) return -1;
    /* torch's rule: chunks of ceil(size / chunks), the last smaller, so there may be fewer than
     * asked for (an empty dim gives `chunks` empty ones) */
    const int64_t size = a->shape[d], each = size ? (size + chunks - 1) / chunks : 0;
    const int count = size ? (int)((size + each - 1) / each) : chunks;
    for (int i = 0; i < count; i++) {
        const int64_t start = (int64_t)i * each, len = size - start < each ? size - start : each;
        if (!(out[i] = nb_narrow(a, d, start, len))) {
            for (int k = 0; k <= i; k++)
                out[k] = NULL;
            return -1;
        }
    }
    return count;
}

int nb_unbind(nb_tensor *a, int dim, int n, nb_tensor **out) {
    if (!out || n < 0) return nb_set_error("unbind: needs an output array for n >= 0 tensors (n=%d)", n), -1;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (!a) {
        if (!nb_last_error()[0]) nb_set_error("unbind: NULL tensor");
        return -1;
    }
    if (a->ndim == 0) return nb_set_error("unbind: cannot unbind a 0-d tensor"), -1;
    const int d = nb_norm_dim("unbind", dim, a->ndim);
    if (d < 0) return -1;
    if (a->shape[d] != n) {
        char s[96];
        return nb_set_error("unbind: dim %d of %s has %lld slices, not %d", d, NB_SHP(a, s),
                            (long long)a->shape[d], n),
               -1;
    }
    for (int i = 0; i < n; i++)
        if (!(out[i] = nb_squeeze(nb_narrow(a, d, i, 1), d))) {
            for (int k = 0; k <= i; k++)
                out[k] = NULL;
            return -1;
        }
    return 0;
}

int nb_meshgrid(int n, nb_tensor *const *ts, bool xy, nb_tensor **out) {
    if (!out || !ts || n < 1 || n > NB_MAX_DIMS)
        return nb_set_error("meshgrid: needs 1 to %d tensors and an output array (n=%d)", NB_MAX_DIMS, n), -1;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    int64_t shape[NB_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        if (!ts[i]) {
            if (!nb_last_error()[0]) nb_set_error("meshgrid: NULL input %d", i);
            return -1;
        }
        if (ts[i]->ndim > 1) {
            char s[96];
            return nb_set_error("meshgrid: input %d is %s, not 0-d or 1-d", i, NB_SHP(ts[i], s)), -1;
        }
        if (i && (ts[i]->dtype != ts[0]->dtype || ts[i]->device != ts[0]->device))
            return nb_set_error("meshgrid: input %d is %s on %s, input 0 %s on %s", i,
                                nb_dtype_name(ts[i]->dtype), nb_device_name(ts[i]->device),
                                nb_dtype_name(ts[0]->dtype), nb_device_name(ts[0]->device)),
                   -1;
        shape[i] = ts[i]->ndim ? ts[i]->shape[0] : 1;
    }
    /* "xy" (Cartesian) indexing swaps the first two dims of the grid, as torch's */
    int pos[NB_MAX_DIMS];
    for (int i = 0; i < n; i++)
        pos[i] = i;
    if (xy && n >= 2) {
        pos[0] = 1, pos[1] = 0;
        const int64_t t = shape[0];
        shape[0] = shape[1], shape[1] = t;
    }
    for (int i = 0; i < n; i++) {
        int64_t s[NB_MAX_DIMS];
        for (int k = 0; k < n; k++)
            s[k] = 1;
        s[pos[i]] = ts[i]->ndim ? ts[i]->shape[0] : 1;
        if (!(out[i] = nb_expand(nb_reshape(ts[i], n, s), n, shape))) {
            for (int k = 0; k <= i; k++)
                out[k] = NULL;
            return -1;
        }
    }
    return 0;
}
