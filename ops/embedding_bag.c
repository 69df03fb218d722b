/* ops/embedding_bag.c - torch's F.embedding_bag: the embedding rows of each bag of indices
 * reduced (sum, mean or max). The indices and offsets are read on the host into the bags' kept
 * entries (padding_idx dropped), in order. Sum and mean: one index_select of those rows (times
 * the per-sample weights), added into [B, D] by bag (index_add), then scaled by 1 / count. Max:
 * the bags grouped by length (1, 2, 3-4, 5-8, ...), each group's rows laid out as [bags, longest,
 * D] (short bags padded with a -inf row) and reduced by argmax + gather, so memory stays within
 * twice the entries whatever the lengths; the groups' results are put back in bag order. The
 * gradients are index_select's and index_add's (to weight), gather's, and the product's (to
 * per_sample_weights). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* the bags' kept entries in order: entry e is row[e] of weight, at pos[e] in idx, in bag[e];
 * bag b's run from first[b] to first[b + 1] */
typedef struct {
    int64_t B, L, n; /* bags, indices, kept entries */
    int32_t *row, *pos, *bag;
    int64_t *first;
    float *inv_cnt; /* [B]: 1 / the bag's count (1 for an empty bag) */
} bag_plan;

static void plan_free(bag_plan *p) {
    free(p->row), free(p->pos), free(p->bag), free(p->first), free(p->inv_cnt);
}

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
    const size_t cap = (size_t)(p->L > 0 ? p->L : 1); /* at most every index kept */
    p->row = malloc(cap * sizeof *p->row), p->pos = malloc(cap * sizeof *p->pos);
    p->bag = malloc(cap * sizeof *p->bag), p->first = malloc((size_t)(B + 1) * sizeof *p->first);
    p->inv_cnt = malloc((size_t)(B ? B : 1) * sizeof *p->inv_cnt);
    if (!p->row || !p->pos || !p->bag || !p->first || !p->inv_cnt) {
        free(start), plan_free(p);
        return nb_set_error("%s: out of memory for %lld entries", op, (long long)cap), -1;
    }
    for (int64_t b = 0; b < B; b++) {
        p->first[b] = p->n;
        for (int64_t j = start[b]; j < start[b + 1]; j++) {
            if (iv[j] < 0 || iv[j] >= V) {
                const int x = iv[j];
                free(start), plan_free(p);
                return nb_set_error("%s: index %d at position %lld is outside the %lld rows of weight %s", op,
                                    x, (long long)j, (long long)V, NB_SHP(weight, s2)),
                       -1;
            }
            if (iv[j] == padding_idx) continue;
            p->row[p->n] = iv[j], p->pos[p->n] = (int32_t)j, p->bag[p->n] = (int32_t)b;
            p->n++;
        }
        const int64_t c = p->n - p->first[b];
        p->inv_cnt[b] = c ? 1.0f / (float)c : 1.0f;
    }
    p->first[B] = p->n;
    free(start);
    return 0;
}

/* sum and mean: the kept rows (times their weights) added into [B, D] by bag */
static nb_tensor *bag_sum(nb_tensor *weight, const bag_plan *p, nb_tensor *psw, nb_bag_mode mode) {
    const int64_t D = weight->shape[1], n = p->n;
    nb_tensor *rows = nb_host_like(weight, NB_I32, 1, &n, p->row),
              *bags = rows ? nb_host_like(weight, NB_I32, 1, &n, p->bag) : NULL;
    nb_tensor *got = bags ? nb_index_select(weight, 0, rows) : NULL; /* [n, D] */
    if (got && psw) {
        nb_tensor *pos = nb_host_like(weight, NB_I32, 1, &n, p->pos);
        nb_tensor *w = pos ? nb_index_select(nb_reshape(psw, 1, (const int64_t[]){p->L}), 0, pos) : NULL;
        got = w ? nb_mul(got, nb_unsqueeze(w, 1)) : NULL;
    }
    nb_tensor *zero =
        got ? nb_full_on(nb_out_ctx(weight), NB_F32, weight->device, 2, (const int64_t[]){p->B, D}, 0.0)
            : NULL;
    nb_tensor *out = zero ? nb_index_add(zero, 0, bags, got, 1.0f) : NULL;
    if (out && mode == NB_BAG_MEAN) {
        nb_tensor *ic = nb_host_like(weight, NB_F32, 2, (const int64_t[]){p->B, 1}, p->inv_cnt);
        out = ic ? nb_mul(out, ic) : NULL;
    }
    return out;
}

/* max: the bags grouped by length class (0, 1, 2, 3-4, 5-8, ...); each group's rows as [bags,
 * longest, D], short bags padded with an extra -inf row (after their entries, so a bag's first
 * maximum is its own), reduced by argmax + gather; empty bags 0; the groups put back in bag order */
static nb_tensor *bag_max(nb_tensor *weight, const bag_plan *p) {
    const int64_t B = p->B, D = weight->shape[1], V = weight->shape[0];
    nb_ctx *c = nb_out_ctx(weight);
    nb_tensor *extra = nb_full_on(c, NB_F32, weight->device, 2, (const int64_t[]){1, D}, -INFINITY);
    nb_tensor *table = extra ? nb_cat((nb_tensor *[]){weight, extra}, 2, 0) : NULL;
    nb_tensor *parts[66];
    int np = 0;
    int32_t *order = malloc((size_t)(B ? B : 1) * sizeof *order), *cells = NULL;
    int64_t placed = 0;
    nb_tensor *out = NULL;
    if (!order) nb_set_error("embedding_bag: out of memory for %lld bags", (long long)B);
    if (!order || !table) goto done;
    for (int cls = 0; cls < 64 && placed < B; cls++) {
        /* class 0: empty bags; class k >= 1: lengths in (2^(k-2), 2^(k-1)] (1; 2; 3-4; ...) */
        const int64_t lo = cls <= 1 ? cls : ((int64_t)1 << (cls - 2)) + 1,
                      hi = cls <= 1 ? cls : (int64_t)1 << (cls - 1);
        int64_t nb = 0, longest = 0;
        for (int64_t b = 0; b < B; b++) {
            const int64_t len = p->first[b + 1] - p->first[b];
            if (len >= lo && len <= hi) nb++, longest = len > longest ? len : longest;
        }
        if (!nb) continue;
        if (cls == 0) { /* empty bags: zeros */
            parts[np++] = nb_full_on(c, NB_F32, weight->device, 2, (const int64_t[]){nb, D}, 0.0);
        } else {
            free(cells);
            cells = malloc((size_t)(nb * longest) * sizeof *cells);
            if (!cells) {
                nb_set_error("embedding_bag: out of memory for %lld cells", (long long)(nb * longest));
                goto done;
            }
            int64_t k = 0;
            for (int64_t b = 0; b < B; b++) {
                const int64_t len = p->first[b + 1] - p->first[b];
                if (len < lo || len > hi) continue;
                for (int64_t e = 0; e < longest; e++)
                    cells[k * longest + e] = e < len ? p->row[p->first[b] + e] : (int32_t)V;
                k++;
            }
            const int64_t nc = nb * longest;
            nb_tensor *rows = nb_host_like(weight, NB_I32, 1, &nc, cells);
            nb_tensor *got =
                rows ? nb_reshape(nb_index_select(table, 0, rows), 3, (const int64_t[]){nb, longest, D})
                     : NULL;
            nb_tensor *firstmax = got ? nb_argmax(got, 1, true) : NULL; /* a NaN counts as the largest */
            parts[np++] = firstmax ? nb_squeeze(nb_gather(got, 1, firstmax), 1) : NULL;
        }
        if (!parts[np - 1]) goto done;
        for (int64_t b = 0; b < B; b++) {
            const int64_t len = p->first[b + 1] - p->first[b];
            if (len >= lo && len <= hi) order[b] = (int32_t)placed++;
        }
    }
    nb_tensor *all = np == 1 ? parts[0]
                     : np    ? nb_cat(parts, np, 0)
                             : nb_full_on(c, NB_F32, weight->device, 2, (const int64_t[]){0, D}, 0.0);
    nb_tensor *ord = all ? nb_host_like(weight, NB_I32, 1, &B, order) : NULL;
    out = ord ? nb_index_select(all, 0, ord) : NULL;
done:
    free(order), free(cells);
    return out;
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
    if (padding_idx >= weight->shape[0])
        return nb_set_error("%s: padding_idx %lld is not below the %lld rows of weight", op,
                            (long long)padding_idx, (long long)weight->shape[0]);
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
    nb_tensor *out = mode == NB_BAG_MAX ? bag_max(weight, &p) : bag_sum(weight, &p, per_sample_weights, mode);
    plan_free(&p);
    return nb_as_op(out, op);
}
