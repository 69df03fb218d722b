/* ops/embedding_bag.c - torch's F.embedding_bag: the embedding rows of each bag of indices
 * reduced (sum, mean or max) without the [L, D] rows of every index kept per bag by the caller.
 * The indices and offsets are read on the host and laid out as a [B, Lmax] table of rows (a bag
 * shorter than the longest, or a padding_idx entry, reads an extra row: zeros for sum and mean,
 * -inf for max); one index_select brings the rows, then the reduction over the bag's dim. The
 * gradients are index_select's (to weight) and the products' (to per_sample_weights). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* the bags' layout: for each of B bags its positions in idx (padding entries dropped) */
typedef struct {
    int64_t B, L, lmax;
    int32_t *row;    /* [B * lmax]: weight rows, V where none */
    int32_t *pos;    /* [B * lmax]: positions in idx, L where none */
    float *inv_cnt;  /* [B]: 1 / the bag's count (1 for an empty bag) */
    float *nonempty; /* [B]: 1 when the bag has a row */
} bag_plan;

static void plan_free(bag_plan *p) { free(p->row), free(p->pos), free(p->inv_cnt), free(p->nonempty); }

static int make_plan(const char *op, nb_tensor *weight, nb_tensor *idx, nb_tensor *offsets, bool last,
                     int64_t padding_idx, bag_plan *p) {
    memset(p, 0, sizeof *p);
    char s1[64], s2[64];
    const int64_t V = weight->shape[0];
    nb_tensor *hi = nb_host_copy(idx), *ho = offsets ? nb_host_copy(offsets) : NULL;
    if (!hi || (offsets && !ho)) return -1;
    const int32_t *iv = (const int32_t *)nb_data(hi), *ov = ho ? (const int32_t *)nb_data(ho) : NULL;
    p->L = nb_numel(idx);
    int64_t *start, B;
    if (idx->ndim == 2) {
        B = idx->shape[0];
        start = malloc((size_t)(B + 1) * sizeof *start);
        if (!start) return nb_set_error("%s: out of memory", op), -1;
        for (int64_t b = 0; b <= B; b++)
            start[b] = b * idx->shape[1];
    } else {
        const int64_t no = nb_numel(offsets);
        B = last ? no - 1 : no;
        if (B < 0) return nb_set_error("%s: include_last_offset needs at least one offset", op), -1;
        start = malloc((size_t)(B + 1) * sizeof *start);
        if (!start) return nb_set_error("%s: out of memory", op), -1;
        for (int64_t b = 0; b < B; b++)
            start[b] = ov[b];
        start[B] = last ? ov[B] : p->L;
        for (int64_t b = 0; b <= B; b++) {
            const bool bad = b == 0 ? B > 0 && start[0] != 0 : start[b] < start[b - 1];
            if (bad || start[b] > p->L) {
                const long long v = (long long)start[b];
                free(start);
                return nb_set_error(
                           "%s: offsets %s must start at 0 and rise to at most the %lld indices (offset %lld "
                           "is %lld)",
                           op, NB_SHP(offsets, s1), (long long)p->L, (long long)b, v),
                       -1;
            }
        }
    }
    p->B = B;
    p->lmax = 1;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t j = start[b]; j < start[b + 1]; j++)
            n += iv[j] != padding_idx;
        if (n > p->lmax) p->lmax = n;
    }
    const size_t cells = (size_t)(B ? B : 1) * (size_t)p->lmax;
    p->row = malloc(cells * sizeof *p->row), p->pos = malloc(cells * sizeof *p->pos);
    p->inv_cnt = malloc((size_t)(B ? B : 1) * sizeof(float)),
    p->nonempty = malloc((size_t)(B ? B : 1) * sizeof(float));
    if (!p->row || !p->pos || !p->inv_cnt || !p->nonempty) {
        free(start), plan_free(p);
        return nb_set_error("%s: out of memory for %lld bag cells", op, (long long)cells), -1;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t j = start[b]; j < start[b + 1]; j++) {
            if (iv[j] < 0 || iv[j] >= V) {
                free(start), plan_free(p);
                return nb_set_error("%s: index %d at position %lld is outside the %lld rows of weight %s", op,
                                    iv[j], (long long)j, (long long)V, NB_SHP(weight, s2)),
                       -1;
            }
            if (iv[j] == padding_idx) continue;
            p->row[b * p->lmax + n] = iv[j], p->pos[b * p->lmax + n] = (int32_t)j;
            n++;
        }
        for (int64_t k = n; k < p->lmax; k++)
            p->row[b * p->lmax + k] = (int32_t)V, p->pos[b * p->lmax + k] = (int32_t)p->L;
        p->inv_cnt[b] = n ? 1.0f / (float)n : 1.0f;
        p->nonempty[b] = n ? 1.0f : 0.0f;
    }
    free(start);
    return 0;
}

/* an i32 or f32 host array as a tensor on like's device */
static nb_tensor *upload(nb_tensor *like, nb_dtype dt, int nd, const int64_t *shape, const void *v) {
    nb_tensor *t = nb_from_data(nb_out_ctx(like), dt, nd, shape, v);
    return t && like->device != NB_CPU ? nb_to_device(nb_out_ctx(like), t, like->device) : t;
}

nb_tensor *nb_embedding_bag(nb_tensor *weight, nb_tensor *idx, nb_tensor *offsets, nb_bag_mode mode,
                            nb_tensor *per_sample_weights, bool include_last_offset, int64_t padding_idx) {
    const char *op = "embedding_bag";
    NB_NULL_GUARD_NAMED(op, weight, idx);
    char s1[64], s2[64];
    if (nb_check_dtype(op, weight, NB_F32, "weight") || nb_check_dtype(op, idx, NB_I32, "indices") ||
        nb_same_device(op, weight, idx))
        return NULL;
    if (weight->ndim != 2) return nb_set_error("%s: weight %s is not [V, D]", op, NB_SHP(weight, s1));
    if ((unsigned)mode > NB_BAG_MAX) return nb_set_error("%s: unknown mode %d", op, (int)mode);
    if (idx->ndim == 2 ? offsets != NULL : idx->ndim != 1 || !offsets)
        return nb_set_error("%s: want indices [B, L] without offsets, or [L] with offsets, got %s%s", op,
                            NB_SHP(idx, s1), offsets ? " with offsets" : " without offsets");
    if (offsets && (nb_check_dtype(op, offsets, NB_I32, "offsets") || nb_same_device(op, weight, offsets)))
        return NULL;
    if (offsets && offsets->ndim != 1)
        return nb_set_error("%s: offsets %s are not 1-d", op, NB_SHP(offsets, s1));
    if (per_sample_weights) {
        if (mode != NB_BAG_SUM)
            return nb_set_error("%s: per_sample_weights need the sum mode (as torch)", op);
        if (nb_check_dtype(op, per_sample_weights, NB_F32, "per_sample_weights") ||
            nb_same_device(op, weight, per_sample_weights))
            return NULL;
        if (per_sample_weights->ndim != idx->ndim ||
            memcmp(per_sample_weights->shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim))
            return nb_set_error("%s: per_sample_weights %s do not have the indices' shape %s", op,
                                NB_SHP(per_sample_weights, s1), NB_SHP(idx, s2));
    }
    bag_plan p;
    if (make_plan(op, weight, idx, offsets, include_last_offset, padding_idx, &p)) return nb_as_op(NULL, op);
    const int64_t B = p.B, D = weight->shape[1], cells = B * p.lmax;
    nb_tensor *rows = upload(weight, NB_I32, 1, &cells, p.row);
    nb_tensor *extra = rows ? nb_full_on(nb_out_ctx(weight), NB_F32, weight->device, 2,
                                         (const int64_t[]){1, D}, mode == NB_BAG_MAX ? -INFINITY : 0.0)
                            : NULL;
    nb_tensor *table = extra ? nb_cat((nb_tensor *[]){weight, extra}, 2, 0) : NULL;
    nb_tensor *got =
        table ? nb_reshape(nb_index_select(table, 0, rows), 3, (const int64_t[]){B, p.lmax, D}) : NULL;
    nb_tensor *out = NULL;
    if (got && mode == NB_BAG_MAX) {
        /* the first maximum of each bag (argmax + gather: the gradient to that row alone); an empty
         * bag, all -inf, gives 0 as torch's */
        nb_tensor *first = nb_argmax(got, 1, true);
        nb_tensor *m = first ? nb_squeeze(nb_gather(got, 1, first), 1) : NULL;
        nb_tensor *ne = m ? upload(weight, NB_F32, 2, (const int64_t[]){B, 1}, p.nonempty) : NULL;
        out = ne ? nb_where(ne, m, nb_scalar_like(weight, 0.0f)) : NULL;
    } else if (got) {
        if (per_sample_weights) {
            nb_tensor *pos = upload(weight, NB_I32, 1, &cells, p.pos);
            nb_tensor *flat = pos ? nb_reshape(per_sample_weights, 1, (const int64_t[]){p.L}) : NULL;
            nb_tensor *zero =
                flat ? nb_full_on(nb_out_ctx(weight), NB_F32, weight->device, 1, (const int64_t[]){1}, 0.0)
                     : NULL;
            nb_tensor *ext = zero ? nb_cat((nb_tensor *[]){flat, zero}, 2, 0) : NULL;
            nb_tensor *ps =
                ext ? nb_reshape(nb_index_select(ext, 0, pos), 3, (const int64_t[]){B, p.lmax, 1}) : NULL;
            got = ps ? nb_mul(got, ps) : NULL;
        }
        out = got ? nb_sum(got, 1, (const int[]){1}, false) : NULL;
        if (out && mode == NB_BAG_MEAN) {
            nb_tensor *ic = upload(weight, NB_F32, 2, (const int64_t[]){B, 1}, p.inv_cnt);
            out = ic ? nb_mul(out, ic) : NULL;
        }
    }
    plan_free(&p);
    return nb_as_op(out, op);
}
