/* ops/ctc.c - the connectionist temporal classification loss (torch's F.ctc_loss), composed: the
 * forward (alpha) recursion over time in log space, one step of elementwise ops per frame, so
 * autograd gives the gradient (the backward recursion) and every backend runs it.
 *
 * Each target is extended with blanks, b l1 b l2 ... b (L = 2S + 1 states); alpha_t[s] is the
 * log-probability of the alignments of the first t + 1 frames ending in state s:
 *   alpha_0 = emit_0 on states 0 and 1, -inf elsewhere;
 *   alpha_t[s] = logsumexp(alpha_{t-1}[s], alpha_{t-1}[s-1], alpha_{t-1}[s-2] when l_s is not
 *                blank and differs from l_{s-2}) + log_probs[t, l_s].
 * The loss is -logsumexp(alpha_{T-1}[L-1], alpha_{T-1}[L-2]); a sample's frames past its input
 * length leave its alpha as it was. Unreachable states stay -inf, and the steps are written so
 * that no NaN comes back from them (see lse3). */
#include <math.h>
#include <stdlib.h>

#include "ops/loss_util.h"
#include "ops/op_util.h"

/* log(e^a + e^b + e^c) per element, stable, with -inf (and a zero gradient) where all three are
 * -inf: the max m is a constant, 0 there, and the sum is read as 1 there, so neither log(0) nor
 * 0 / 0 ever meets a gradient */
static nb_tensor *lse3(nb_tensor *a, nb_tensor *b, nb_tensor *c) {
    nb_tensor *m = nb_detach(nb_maximum(nb_maximum(a, b), c));
    nb_tensor *dead = m ? nb_isneginf(m) : NULL;
    nb_tensor *zero = dead ? nb_scalar_like(a, 0.0f) : NULL;
    nb_tensor *m0 = zero ? nb_where(dead, zero, m) : NULL;
    nb_tensor *s =
        m0 ? nb_add(nb_add(nb_exp(nb_sub(a, m0)), nb_exp(nb_sub(b, m0))), nb_exp(nb_sub(c, m0))) : NULL;
    nb_tensor *r = s ? nb_add(nb_log(nb_where(dead, nb_scalar_like(a, 1.0f), s)), m0) : NULL;
    return r ? nb_where(dead, nb_scalar_like(a, -INFINITY), r) : NULL;
}

/* x [N, L] moved k states up: column s holds x[:, s - k], -inf in the first k */
static nb_tensor *shift(nb_tensor *x, int64_t k) {
    const int64_t N = x->shape[0], L = x->shape[1];
    if (k >= L) return nb_full_on(nb_out_ctx(x), NB_F32, x->device, 2, x->shape, -INFINITY);
    nb_tensor *pad = nb_full_on(nb_out_ctx(x), NB_F32, x->device, 2, (const int64_t[]){N, k}, -INFINITY);
    nb_tensor *parts[2] = {pad, nb_narrow(x, 1, 0, L - k)};
    return pad && parts[1] ? nb_cat(parts, 2, 1) : NULL;
}

nb_tensor *nb_ctc_loss(nb_tensor *log_probs, nb_tensor *targets, const int64_t *input_lengths,
                       const int64_t *target_lengths, int blank, nb_reduction r, bool zero_infinity) {
    const char *op = "ctc_loss";
    NB_NULL_GUARD_NAMED(op, log_probs, targets);
    if (nb_loss_check_reduction(op, r) || nb_check_dtype(op, log_probs, NB_F32, "log_probs") ||
        nb_check_dtype(op, targets, NB_I32, "targets") || nb_same_device(op, log_probs, targets))
        return NULL;
    char a[96], b[96];
    if (log_probs->ndim != 3 || targets->ndim != 2 || targets->shape[0] != log_probs->shape[1])
        return nb_set_error("%s: want log_probs [T, N, C] and targets [N, S], got %s and %s", op,
                            NB_SHP(log_probs, a), NB_SHP(targets, b));
    if (!input_lengths || !target_lengths) return nb_set_error("%s: NULL lengths", op);
    const int64_t T = log_probs->shape[0], N = log_probs->shape[1], C = log_probs->shape[2],
                  S = targets->shape[1];
    if (blank < 0 || blank >= C)
        return nb_set_error("%s: blank %d is not a class of [0, %lld)", op, blank, (long long)C);
    if (N == 0 || T == 0) return nb_set_error("%s: no samples or no frames in %s", op, NB_SHP(log_probs, a));
    const int64_t L = 2 * S + 1;
    if ((double)T * (double)N * (double)L > INT32_MAX)
        return nb_set_error("%s: T N (2S + 1) is past 2^31", op);
    /* the targets on the host, checked, then the extended labels and the masks */
    nb_tensor *ht = nb_host_copy(targets);
    if (!ht) return nb_as_op(NULL, op);
    const int32_t *tv = (const int32_t *)nb_data(ht);
    int32_t *ext = malloc(sizeof(int32_t) * (size_t)(N * L));
    float *skip = malloc(sizeof(float) * (size_t)(N * L)), *init = malloc(sizeof(float) * (size_t)(N * L));
    int32_t *gidx = malloc(sizeof(int32_t) * (size_t)(T * N * L)),
            *fin = malloc(sizeof(int32_t) * (size_t)(N * 2));
    float *fin_ok = malloc(sizeof(float) * (size_t)(N * 2)),
          *active = malloc(sizeof(float) * (size_t)(T * N));
    float *scale = malloc(sizeof(float) * (size_t)N);
    nb_tensor *out = NULL;
    if (!ext || !skip || !init || !gidx || !fin || !fin_ok || !active || !scale) {
        nb_set_error("%s: out of memory for the extended labels of %lld x %lld", op, (long long)N,
                     (long long)L);
        goto done;
    }
    for (int64_t n = 0; n < N; n++) {
        const int64_t Tn = input_lengths[n], Sn = target_lengths[n];
        if (Tn < 1 || Tn > T || Sn < 0 || Sn > S) {
            nb_set_error(
                "%s: sample %lld has input length %lld (want 1 to %lld) and target length %lld (want 0 to "
                "%lld)",
                op, (long long)n, (long long)Tn, (long long)T, (long long)Sn, (long long)S);
            goto done;
        }
        for (int64_t s = 0; s < L; s++) {
            const int64_t k = (s - 1) / 2;
            int32_t lab = blank;
            if (s % 2 == 1 && k < Sn) {
                lab = tv[n * S + k];
                if (lab < 0 || lab >= C || lab == blank) {
                    nb_set_error(
                        "%s: target %d at sample %lld, position %lld is not a class other than the blank", op,
                        (int)lab, (long long)n, (long long)k);
                    goto done;
                }
            }
            ext[n * L + s] = lab;
            skip[n * L + s] = s >= 2 && lab != blank && lab != ext[n * L + s - 2] ? 1.0f : 0.0f;
            init[n * L + s] = s == 0 || (s == 1 && Sn > 0) ? 0.0f : -INFINITY;
        }
        for (int64_t t = 0; t < T; t++)
            active[t * N + n] = t < Tn ? 1.0f : 0.0f;
        fin[n * 2] = (int32_t)(2 * Sn), fin[n * 2 + 1] = (int32_t)(Sn > 0 ? 2 * Sn - 1 : 0);
        fin_ok[n * 2] = 0.0f, fin_ok[n * 2 + 1] = Sn > 0 ? 0.0f : -INFINITY;
        scale[n] = 1.0f / (float)(Sn > 1 ? Sn : 1); /* torch's mean: each loss over its target length */
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < N * L; i++)
            gidx[t * N * L + i] = ext[i];
    {
        nb_tensor *gi = nb_host_like(log_probs, NB_I32, 3, (const int64_t[]){T, N, L}, gidx);
        nb_tensor *emit = gi ? nb_gather(log_probs, 2, gi) : NULL; /* [T, N, L] */
        nb_tensor *skipm = emit ? nb_host_like(log_probs, NB_F32, 2, (const int64_t[]){N, L}, skip) : NULL;
        nb_tensor *alpha = skipm ? nb_add(nb_squeeze(nb_narrow(emit, 0, 0, 1), 0),
                                          nb_host_like(log_probs, NB_F32, 2, (const int64_t[]){N, L}, init))
                                 : NULL;
        nb_tensor *act =
            alpha ? nb_host_like(log_probs, NB_F32, 3, (const int64_t[]){T, N, 1}, active) : NULL;
        nb_tensor *ninf = act ? nb_scalar_like(log_probs, -INFINITY) : NULL;
        for (int64_t t = 1; t < T && ninf && alpha; t++) {
            nb_tensor *a2 = nb_where(skipm, shift(alpha, 2), ninf);
            nb_tensor *next =
                a2 ? nb_add(lse3(alpha, shift(alpha, 1), a2), nb_squeeze(nb_narrow(emit, 0, t, 1), 0)) : NULL;
            alpha = next ? nb_where(nb_squeeze(nb_narrow(act, 0, t, 1), 0), next, alpha) : NULL;
        }
        /* the last two states of each sample's own extended target */
        nb_tensor *fi = alpha ? nb_host_like(log_probs, NB_I32, 2, (const int64_t[]){N, 2}, fin) : NULL;
        nb_tensor *ends = fi ? nb_add(nb_gather(alpha, 1, fi),
                                      nb_host_like(log_probs, NB_F32, 2, (const int64_t[]){N, 2}, fin_ok))
                             : NULL;
        nb_tensor *e0 = ends ? nb_squeeze(nb_narrow(ends, 1, 0, 1), 1) : NULL;
        nb_tensor *e1 = e0 ? nb_squeeze(nb_narrow(ends, 1, 1, 1), 1) : NULL;
        nb_tensor *loss = e1 ? nb_neg(lse3(e0, e1, nb_expand(ninf, 1, (const int64_t[]){N}))) : NULL;
        if (loss && zero_infinity) /* an impossible alignment counts 0, with no gradient */
            loss = nb_where(nb_isinf(loss), nb_scalar_like(loss, 0.0f), loss);
        if (loss && r == NB_REDUCE_MEAN)
            out = nb_mean_all(nb_mul(loss, nb_host_like(log_probs, NB_F32, 1, (const int64_t[]){N}, scale)));
        else
            out = loss ? nb_loss_reduced(loss, r, op) : NULL;
    }
done:
    free(ext), free(skip), free(init), free(gidx), free(fin), free(fin_ok), free(active), free(scale);
    return nb_as_op(out, op);
}
