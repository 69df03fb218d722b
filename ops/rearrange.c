/* ops/rearrange.c - copies that move elements around: flip, roll, repeat, tile, repeat_interleave, and pad
 * (constant, reflect, replicate, circular). Each is composed from index_select, narrow and cat, whose
 * gradients (and backend kernels) it uses: the gradient of a flip is the flipped gradient, of a roll the
 * gradient rolled back, of a repeat the sum of the tiles, of a pad the gradient with the padding cut off (or,
 * for the other modes, added back to the elements the padding copies). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"
#include "tensor/internal.h"

/* A differentiable copy of a in a storage of its own (0-d included), for the cases that move
 * nothing: the result never aliases the input, as in torch. */
static nb_tensor *copy_of(nb_tensor *a) {
    if (a->ndim) return nb_cat(&a, 1, 0);
    nb_tensor *one = nb_reshape(a, NB_SHAPE(1));
    return one ? nb_reshape(nb_cat(&one, 1, 0), NB_SHAPE0) : NULL;
}

nb_tensor *nb_flip(nb_tensor *a, int n, const int *dims) {
    NB_NULL_GUARD_NAMED("flip", a);
    if (n < 1 || !dims) return nb_set_error("flip: no dims given (n = %d)", n);
    bool seen[NB_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        const int d = nb_norm_dim("flip", dims[i], a->ndim);
        if (d < 0) return NULL;
        if (seen[d]) return nb_set_error("flip: dim %d is given twice", d);
        seen[d] = true;
    }
    nb_tensor *r = a;
    for (int d = 0; d < a->ndim && r; d++) {
        if (!seen[d]) continue;
        const int64_t s = a->shape[d]; /* s - 1, s - 2, ..., 0 */
        nb_tensor *idx = nb_arange_on(nb_out_ctx(a), NB_I32, a->device, (double)s - 1, -1, -1);
        r = idx ? nb_index_select(r, d, idx) : NULL;
    }
    return nb_as_op(r, "flip");
}

nb_tensor *nb_roll(nb_tensor *a, int64_t shift, int dim) {
    NB_NULL_GUARD_NAMED("roll", a);
    const int d = nb_norm_dim("roll", dim, a->ndim);
    if (d < 0) return NULL;
    const int64_t s = a->shape[d];
    const int64_t k = s ? ((shift % s) + s) % s : 0; /* elements that wrap to the front */
    if (k == 0) return nb_as_op(copy_of(a), "roll");
    nb_tensor *parts[2] = {nb_narrow(a, d, s - k, k), nb_narrow(a, d, 0, s - k)};
    return nb_as_op(parts[0] && parts[1] ? nb_cat(parts, 2, d) : NULL, "roll");
}

nb_tensor *nb_repeat(nb_tensor *a, int n, const int64_t *reps) {
    NB_NULL_GUARD_NAMED("repeat", a);
    if (n < a->ndim || n > NB_MAX_DIMS || (n && !reps))
        return nb_set_error("repeat: %d repeat counts for a %d-d tensor (want %d to %d)", n, a->ndim, a->ndim,
                            NB_MAX_DIMS);
    int64_t shape[NB_MAX_DIMS] = {0}, total = 1;
    for (int i = 0; i < n; i++) { /* each dim's size and the result's, without overflow */
        if (reps[i] < 0)
            return nb_set_error("repeat: count %lld for dim %d is negative", (long long)reps[i], i);
        shape[i] = i < n - a->ndim ? 1 : a->shape[i - (n - a->ndim)];
        if (shape[i] && reps[i] > INT64_MAX / 8 / shape[i])
            return nb_set_error("repeat: %lld copies of dim %d (size %lld) is too many", (long long)reps[i],
                                i, (long long)shape[i]);
        const int64_t d = shape[i] * reps[i];
        if (total && d && total > INT64_MAX / 8 / d)
            return nb_set_error("repeat: the result would have more than 2^60 elements");
        total *= d;
    }
    nb_tensor *r = nb_reshape(a, n, shape); /* leading dims of 1 (a view) */
    for (int i = 0; i < n && r; i++) {
        if (reps[i] == 1) continue;
        if (reps[i] == 0) {
            r = nb_narrow(r, i, 0, 0);
            continue;
        }
        /* dim i as [A, s, B] -> [A, 1, s, B] -> expanded [A, reps, s, B] -> [A, reps * s, B]: the
         * tiles in one copy, whose gradient sums them (at most 4 dims on the way, for any n) */
        int64_t A = 1, B = 1, out[NB_MAX_DIMS];
        for (int k = 0; k < n; k++) {
            if (k < i) A *= r->shape[k];
            if (k > i) B *= r->shape[k];
            out[k] = k == i ? r->shape[k] * reps[i] : r->shape[k];
        }
        nb_tensor *v = nb_unsqueeze(nb_reshape(r, NB_SHAPE(A, r->shape[i], B)), 1);
        v = v ? nb_expand(v, 4, (const int64_t[]){A, reps[i], r->shape[i], B}) : NULL;
        r = v ? nb_reshape(nb_reshape(v, NB_SHAPE(A, reps[i] * r->shape[i], B)), n, out) : NULL;
    }
    /* no count above 1 (or a zero one) leaves a view of a: give back a tensor of its own */
    return nb_as_op(r && r->storage == a->storage ? copy_of(r) : r, "repeat");
}

nb_tensor *nb_tile(nb_tensor *a, int n, const int64_t *reps) {
    NB_NULL_GUARD_NAMED("tile", a);
    if (n < 0 || n > NB_MAX_DIMS || (n && !reps))
        return nb_set_error("tile: %d repeat counts (want 0 to %d)", n, NB_MAX_DIMS);
    /* torch.tile: fewer counts than dims are padded with leading ones */
    int64_t r[NB_MAX_DIMS];
    const int m = n < a->ndim ? a->ndim : n;
    for (int i = 0; i < m; i++)
        r[i] = i < m - n ? 1 : reps[i - (m - n)];
    nb_tensor *t = nb_repeat(a, m, r);
    return nb_as_op(t, "tile");
}

nb_tensor *nb_repeat_interleave(nb_tensor *a, int64_t n, const int64_t *repeats, int dim) {
    const char *op = "repeat_interleave";
    NB_NULL_GUARD_NAMED(op, a);
    nb_tensor *x = a->ndim ? a : nb_reshape(a, NB_SHAPE(1));
    const int d = x ? nb_norm_dim(op, dim, x->ndim) : -1;
    if (d < 0) return NULL;
    const int64_t size = x->shape[d];
    if (!repeats || (n != 1 && n != size)) {
        char s[96];
        return nb_set_error("%s: %lld counts for dim %d of %s (want 1 or %lld)", op, (long long)n, d,
                            NB_SHP(a, s), (long long)size);
    }
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (repeats[i] < 0)
            return nb_set_error("%s: count %lld is negative (%lld)", op, (long long)i, (long long)repeats[i]);
        if (repeats[i] > INT32_MAX || (total += repeats[i] * (n == 1 ? size : 1)) > INT32_MAX)
            return nb_set_error("%s: the result would have more than 2^31 - 1 slices along dim %d", op, d);
    }
    /* element i of dim d taken repeats[i] times in a row: one index_select, whose gradient adds
     * the copies back */
    int32_t *idx = malloc((size_t)(total ? total : 1) * sizeof *idx);
    if (!idx) return nb_set_error("%s: out of memory for %lld indices", op, (long long)total);
    int64_t k = 0;
    for (int64_t i = 0; i < size; i++)
        for (int64_t j = 0; j < repeats[n == 1 ? 0 : i]; j++)
            idx[k++] = (int32_t)i;
    nb_tensor *it = nb_host_1d(x, NB_I32, total, idx);
    free(idx);
    return nb_as_op(it ? nb_index_select(x, d, it) : NULL, op);
}

nb_tensor *nb_pad(nb_tensor *a, int npad, const int64_t *pad, double value) {
    NB_NULL_GUARD_NAMED("pad", a);
    if (npad < 0 || npad % 2 || npad / 2 > a->ndim || (npad && !pad))
        return nb_set_error("pad: %d pad sizes for a %d-d tensor (want an even count, at most %d)", npad,
                            a->ndim, 2 * a->ndim);
    nb_tensor *r = a;
    for (int p = 0; p < npad / 2 && r; p++) {
        const int d = a->ndim - 1 - p; /* the pairs run from the last dim backwards, as torch */
        int64_t before = pad[2 * p], after = pad[2 * p + 1];
        const int64_t s = r->shape[d];
        if (before > INT64_MAX / 4 || after > INT64_MAX / 4) /* then s + before + after cannot overflow */
            return nb_set_error("pad: (%lld, %lld) on dim %d is too large", (long long)before,
                                (long long)after, d);
        if (before < -s || after < -s || s + before + after < 0)
            return nb_set_error("pad: (%lld, %lld) on dim %d of size %lld leaves a negative size",
                                (long long)before, (long long)after, d, (long long)s);
        if (before < 0 || after < 0) { /* negative pads crop */
            const int64_t b = before < 0 ? -before : 0, e = after < 0 ? -after : 0;
            r = nb_narrow(r, d, b, s - b - e);
            before = before < 0 ? 0 : before;
            after = after < 0 ? 0 : after;
        }
        if (!r || (before == 0 && after == 0)) continue;
        nb_tensor *parts[3];
        int np = 0;
        for (int side = 0; side < 2; side++) {
            const int64_t w = side ? after : before;
            if (side) parts[np++] = r;
            if (w == 0) continue;
            int64_t sh[NB_MAX_DIMS];
            memcpy(sh, r->shape, sizeof sh);
            sh[d] = w;
            nb_tensor *f = nb_zeros_on(nb_out_ctx(r), r->dtype, r->device, r->ndim, sh);
            if (f && (value != 0 || signbit(value)) && nb_fill_(f, value)) f = NULL; /* -0 too */
            if (!f) return nb_as_op(NULL, "pad");
            parts[np++] = f;
        }
        r = nb_cat(parts, np, d);
    }
    /* nothing padded, or only cropped: still a copy, as torch */
    return nb_as_op(r && r->storage == a->storage ? copy_of(r) : r, "pad");
}

/* where padded position q (q < 0 before the dim, q >= s after it) copies from */
static int64_t pad_source(int64_t q, int64_t s, nb_pad_kind mode) {
    if (q >= 0 && q < s) return q;
    switch (mode) {
    case NB_PAD_REFLECT: return q < 0 ? -q : 2 * (s - 1) - q;
    case NB_PAD_REPLICATE: return q < 0 ? 0 : s - 1;
    default: return ((q % s) + s) % s; /* circular */
    }
}

nb_tensor *nb_pad_mode(nb_tensor *a, int npad, const int64_t *pad, nb_pad_kind mode) {
    NB_NULL_GUARD_NAMED("pad_mode", a);
    static const char *names[] = {"zeros", "reflect", "replicate", "circular"};
    if ((unsigned)mode > NB_PAD_CIRCULAR) return nb_set_error("pad_mode: unknown padding mode %d", (int)mode);
    if (mode == NB_PAD_ZEROS) return nb_as_op(nb_pad(a, npad, pad, 0.0), "pad_mode");
    if (npad < 0 || npad % 2 || npad / 2 > a->ndim || (npad && !pad))
        return nb_set_error("pad_mode: %d pad sizes for a %d-d tensor (want an even count, at most %d)", npad,
                            a->ndim, 2 * a->ndim);
    nb_tensor *r = a;
    for (int p = 0; p < npad / 2 && r; p++) {
        const int d = a->ndim - 1 - p; /* the pairs run from the last dim backwards, as torch */
        const int64_t before = pad[2 * p], after = pad[2 * p + 1], s0 = a->shape[d];
        if (before == 0 && after == 0) continue;
        /* negative sizes crop first, and the padding copies from what is left (as torch) */
        if (before < -s0 || after < -s0 || s0 + (before < 0 ? before : 0) + (after < 0 ? after : 0) < 0)
            return nb_set_error(
                "pad_mode: cropping (%lld, %lld) from dim %d of size %lld leaves a negative size",
                (long long)before, (long long)after, d, (long long)s0);
        const int64_t cb = before < 0 ? -before : 0, ca = after < 0 ? -after : 0, s = s0 - cb - ca;
        const int64_t pb = before > 0 ? before : 0, pa = after > 0 ? after : 0;
        if (cb || ca) r = nb_narrow(r, d, cb, s);
        if (!r || (pb == 0 && pa == 0)) continue;
        /* reflect reaches at most s - 1 past an end, circular s, replicate any distance */
        const int64_t most = mode == NB_PAD_REFLECT ? s - 1 : mode == NB_PAD_CIRCULAR ? s : INT64_MAX;
        if (s < 1)
            return nb_set_error("pad_mode: %s padding (%lld, %lld) of dim %d, which is empty%s", names[mode],
                                (long long)before, (long long)after, d, cb || ca ? " once cropped" : "");
        if (pb > most || pa > most)
            return nb_set_error("pad_mode: %s padding (%lld, %lld) on dim %d of size %lld (want %s)",
                                names[mode], (long long)before, (long long)after, d, (long long)s,
                                mode == NB_PAD_REFLECT ? "each below the size" : "each at most the size");
        if (s + pb + pa > INT32_MAX)
            return nb_set_error(
                "pad_mode: %s padding (%lld, %lld) of dim %d of size %lld: more than 2^31 - 1 "
                "positions",
                names[mode], (long long)before, (long long)after, d, (long long)s);
        const int64_t n = s + pb + pa;
        int32_t *src = malloc((size_t)n * sizeof *src + 1);
        if (!src) return nb_set_error("pad_mode: out of memory for %lld indices", (long long)n);
        for (int64_t j = 0; j < n; j++)
            src[j] = (int32_t)pad_source(j - pb, s, mode);
        nb_tensor *idx = nb_host_1d(r, NB_I32, n, src);
        free(src);
        r = idx ? nb_index_select(r, d, idx) : NULL;
    }
    return nb_as_op(r && r->storage == a->storage ? copy_of(r) : r, "pad_mode");
}

/* [*, C r^2, H, W] <-> [*, C, H r, W r]: a reshape, a permute and a reshape (one copy) */
static nb_tensor *pixel_shuffle(const char *op, nb_tensor *x, int64_t r, bool down) {
    NB_NULL_GUARD_NAMED(op, x);
    char xs[64];
    if (x->ndim < 3 || x->ndim > NB_MAX_DIMS - 2 || r < 1 || r > INT32_MAX)
        return nb_set_error("%s: want [*, C, H, W] and a factor >= 1, got %s and %lld", op, NB_SHP(x, xs),
                            (long long)r);
    const int lead = x->ndim - 3;
    const int64_t C = x->shape[lead], H = x->shape[lead + 1], W = x->shape[lead + 2];
    if (down ? (H % r || W % r) : C % (r * r))
        return nb_set_error("%s: %s: %s is not a multiple of %lld", op, NB_SHP(x, xs),
                            down ? "the height or width" : "the channel count",
                            (long long)(down ? r : r * r));
    int64_t s6[NB_MAX_DIMS], out[NB_MAX_DIMS];
    int perm[NB_MAX_DIMS];
    for (int k = 0; k < lead; k++)
        s6[k] = out[k] = x->shape[k], perm[k] = k;
    const int64_t c = down ? C : C / (r * r), h = down ? H / r : H, w = down ? W / r : W;
    /* shuffle: [c, r, r, h, w] -> [c, h, r, w, r]; unshuffle: [c, h, r, w, r] -> [c, r, r, h, w] */
    const int64_t up6[5] = {c, r, r, h, w}, dn6[5] = {c, h, r, w, r};
    const int up_p[5] = {0, 3, 1, 4, 2}, dn_p[5] = {0, 2, 4, 1, 3};
    for (int k = 0; k < 5; k++) {
        s6[lead + k] = down ? dn6[k] : up6[k];
        perm[lead + k] = lead + (down ? dn_p[k] : up_p[k]);
    }
    out[lead] = down ? c * r * r : c;
    out[lead + 1] = down ? h : h * r;
    out[lead + 2] = down ? w : w * r;
    nb_tensor *v = nb_reshape(x, lead + 5, s6);
    v = v ? nb_permute(v, perm) : NULL;
    return nb_as_op(v ? nb_reshape(nb_contiguous(v), lead + 3, out) : NULL, op);
}

nb_tensor *nb_pixel_shuffle(nb_tensor *x, int64_t r) { return pixel_shuffle("pixel_shuffle", x, r, false); }

nb_tensor *nb_pixel_unshuffle(nb_tensor *x, int64_t r) {
    return pixel_shuffle("pixel_unshuffle", x, r, true);
}
