/* tensor/sampling.c - identity matrices and evenly spaced values (eye, linspace), and random
 * integers drawn on the host from the generator's Philox stream: uniform integers (randint), a
 * random permutation (randperm: Fisher-Yates) and draws from rows of category weights
 * (multinomial, with or without replacement). Word i of a call is lane i % 4 of counter
 * offset + i / 4, as every draw in nabla, so results depend on the seed alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

nb_tensor *nb_eye(nb_ctx *ctx, int64_t n, int64_t m) {
    if (m < 0) m = n;
    if (n < 0 || (n > 0 && m > INT64_MAX / n))
        return nb_set_error("eye: invalid size %lld x %lld", (long long)n, (long long)m);
    nb_tensor *t = nb_zeros(ctx, NB_F32, NB_SHAPE(n, m));
    if (!t) return NULL;
    float *d = nb_data_f32(t);
    for (int64_t i = 0; i < n && i < m; i++)
        d[i * m + i] = 1.0f;
    return t;
}

nb_tensor *nb_linspace(nb_ctx *ctx, double start, double end, int64_t steps) {
    if (steps < 0) return nb_set_error("linspace: negative number of steps %lld", (long long)steps);
    if (!isfinite(start) || !isfinite(end))
        return nb_set_error("linspace: start %g and end %g must be finite", start, end);
    nb_tensor *t = nb_empty(ctx, NB_F32, NB_SHAPE(steps));
    if (!t) return NULL;
    float *d = nb_data_f32(t);
    /* torch's: from start in the first half, from end in the second, so both ends are exact */
    const double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0.0;
    for (int64_t i = 0; i < steps; i++) /* one step: start alone, as torch */
        d[i] = (float)(steps == 1 || i < steps / 2 ? start + step * (double)i
                                                   : end - step * (double)(steps - 1 - i));
    return t;
}

/* n 64-bit words from the stream: two Philox lanes each; the generator moves past them */
typedef struct {
    nb_rng *r;
    uint64_t base, used; /* counter of the first block; words taken so far */
} stream;

static uint64_t next_u64(stream *s) {
    uint32_t o[4];
    const uint64_t w = 2 * s->used++; /* lanes w, w + 1 (never across a block: w is even) */
    nb_philox(s->r->seed, s->base + w / 4, o);
    return (uint64_t)o[w % 4] << 32 | o[w % 4 + 1];
}

static stream stream_begin(nb_rng *r) {
    return (stream){r ? r : nb_rng_global(), (r ? r : nb_rng_global())->offset, 0};
}
static void stream_end(stream *s) { s->r->offset = s->base + (2 * s->used + 3) / 4; }

/* a uniform double in [0, 1), 53 bits */
static double next_unit(stream *s) { return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

nb_tensor *nb_randint(nb_ctx *ctx, int ndim, const int64_t *shape, int64_t lo, int64_t hi, nb_rng *rng) {
    if (lo >= hi || lo < INT32_MIN || hi - 1 > INT32_MAX)
        return nb_set_error("randint: want lo < hi within the i32 range, got [%lld, %lld)", (long long)lo,
                            (long long)hi);
    nb_tensor *t = nb_empty(ctx, NB_I32, ndim, shape);
    if (!t) return NULL;
    int32_t *d = (int32_t *)nb_data(t);
    const uint64_t range = (uint64_t)(hi - lo);
    stream s = stream_begin(rng);
    for (int64_t i = 0; i < nb_numel(t); i++) /* 64 random bits modulo a range below 2^33: bias < 2^-31 */
        d[i] = (int32_t)(lo + (int64_t)(next_u64(&s) % range));
    stream_end(&s);
    return t;
}

nb_tensor *nb_randperm(nb_ctx *ctx, int64_t n, nb_rng *rng) {
    if (n < 0 || n > INT32_MAX) return nb_set_error("randperm: n %lld must be in [0, 2^31)", (long long)n);
    nb_tensor *t = nb_empty(ctx, NB_I32, NB_SHAPE(n));
    if (!t) return NULL;
    int32_t *d = (int32_t *)nb_data(t);
    for (int64_t i = 0; i < n; i++)
        d[i] = (int32_t)i;
    stream s = stream_begin(rng);
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates: position i takes one of 0..i */
        const int64_t j = (int64_t)(next_u64(&s) % (uint64_t)(i + 1));
        const int32_t tmp = d[i];
        d[i] = d[j], d[j] = tmp;
    }
    stream_end(&s);
    return t;
}

/* the draws of one row of C weights w (checked): each draw is the first category whose running
 * sum passes u * total, u uniform in [0, 1); without replacement a drawn category's weight is
 * set to 0 and the sums are made again (exact: it can never be drawn twice). cum holds 2 C
 * doubles: the running sums, then the weights left. 0, or -1 with an error. */
static int draw_row(stream *s, const float *w, int64_t C, int64_t n, bool replacement, double *cum,
                    int32_t *out, int64_t row) {
    double *left = cum + C;
    int64_t positive = 0;
    for (int64_t c = 0; c < C; c++) {
        if (!(w[c] >= 0.0f) || !isfinite(w[c]))
            return nb_set_error(
                       "multinomial: row %lld: weight %g of category %lld is not a finite number >= 0",
                       (long long)row, (double)w[c], (long long)c),
                   -1;
        left[c] = w[c];
        positive += w[c] > 0;
    }
    if (positive == 0) return nb_set_error("multinomial: row %lld: the weights sum to 0", (long long)row), -1;
    if (!replacement && n > positive)
        return nb_set_error(
                   "multinomial: row %lld: %lld draws without replacement from %lld categories of non-zero "
                   "weight",
                   (long long)row, (long long)n, (long long)positive),
               -1;
    double total = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k == 0 || !replacement) {
            total = 0;
            for (int64_t c = 0; c < C; c++)
                cum[c] = (total += left[c]);
        }
        const double u = next_unit(s) * total;
        int64_t lo = 0, hi = C - 1; /* the first c with cum[c] > u: its weight is > 0 */
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        while (left[lo] <= 0 && lo > 0) /* u rounded up to the total: the last category still there */
            lo--;
        out[k] = (int32_t)lo;
        if (!replacement) left[lo] = 0;
    }
    return 0;
}

nb_tensor *nb_multinomial(const nb_tensor *probs, int64_t n, bool replacement, nb_rng *rng) {
    if (!probs) return nb_set_error("multinomial: NULL weights");
    char ps[64];
    if (probs->dtype != NB_F32 || (probs->ndim != 1 && probs->ndim != 2))
        return nb_set_error("multinomial: want f32 weights [C] or [N,C], got %s %s",
                            nb_dtype_name(probs->dtype), nb_shape_str(probs, ps, sizeof ps));
    const int64_t C = probs->shape[probs->ndim - 1], N = probs->ndim == 2 ? probs->shape[0] : 1;
    if (C < 1 || C > INT32_MAX)
        return nb_set_error("multinomial: %lld categories (want 1 to 2^31 - 1)", (long long)C);
    if (n < 1 || (!replacement && n > C))
        return nb_set_error("multinomial: %lld draws %s from %lld categories", (long long)n,
                            replacement ? "with replacement" : "without replacement", (long long)C);
    nb_ctx *ctx = nb_out_ctx(probs);
    float *w = malloc((size_t)(N * C) * sizeof *w);
    double *cum = malloc((size_t)(2 * C) * sizeof *cum);
    int32_t *out = malloc((size_t)(N * n) * sizeof *out);
    int rc =
        w && cum && out ? nb_to_array(probs, NB_F32, w) : (nb_set_error("multinomial: out of memory"), -1);
    stream s = stream_begin(rng);
    for (int64_t r = 0; r < N && rc == 0; r++)
        rc = draw_row(&s, w + r * C, C, n, replacement, cum, out + r * n, r);
    stream_end(&s);
    const int64_t shape[2] = {N, n};
    nb_tensor *t =
        rc == 0 ? nb_from_data(ctx, NB_I32, probs->ndim, probs->ndim == 2 ? shape : shape + 1, out) : NULL;
    if (t && probs->device != NB_CPU) t = nb_to_device(ctx, t, probs->device);
    free(w), free(cum), free(out);
    return t;
}
