/* ops/linear_ce.c - fused lm_head + cross-entropy: mean CE of x @ w^T (+ b) against targets.
 *
 * The [N,V] logits are never stored whole: rows go through one reused chunk buffer of R x V
 * (R chosen so the buffer is about NB_LCE_CHUNK_BYTES). For each chunk the op computes the
 * logits with the backend matmul, the per-row log-sum-exp and the chunk's loss with the backend
 * cross-entropy kernel, and, when a gradient will be needed, turns the chunk into dlogits in
 * place right away (softmax - onehot, scaled so that the sum over chunks is the mean over every
 * counted row) and folds it into dx (its rows), dw and db (accumulated over chunks). With a
 * gradient and a backend that has cross_entropy_fused, loss, lse and dlogits come from that one
 * in-place pass over the chunk (each logit read from memory once, one exp per logit); otherwise
 * from cross_entropy then cross_entropy_backward. The node's
 * backward then only scales these by the incoming gradient. Only backend-table calls on
 * descriptors of the chunk buffers are used, so the same code runs on every backend. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/linear_ce.h"
#include "ops/op_util.h"

static const char *const OP = "linear_cross_entropy";
static atomic_int forced_rows;

int nb_linear_ce_set_chunk_rows(int rows) { return atomic_exchange(&forced_rows, rows > 0 ? rows : 0); }

/* Rows per chunk for N rows of V logits: the forced value, else NABLA_LCE_CHUNK, else the fewest
 * equal chunks that each hold at most about NB_LCE_CHUNK_BYTES of logits, rounded up to a multiple
 * of 16 rows (whole GEMM row panels; at least 64); at most N, at least 1. Every chunk streams w
 * twice and dw once from memory, so fewer, larger chunks are faster: 1536 x 50257 goes in 4
 * chunks of 384 rows (74 MiB). */
static int64_t chunk_rows(int64_t N, int64_t V) {
    int64_t r = atomic_load(&forced_rows);
    const char *env = r > 0 ? NULL : getenv("NABLA_LCE_CHUNK");
    if (env && *env) r = strtoll(env, NULL, 10);
    if (r <= 0) {
        int64_t row_bytes = (V > 0 ? V : 1) * (int64_t)sizeof(float);
        int64_t per = NB_LCE_CHUNK_BYTES / row_bytes, n = N > 0 ? N : 1;
        int64_t chunks = per > 0 ? (n + per - 1) / per : n;
        r = (n + chunks - 1) / chunks;
        r = (r + 15) / 16 * 16;
        if (r < 64) r = 64;
    }
    if (r > N) r = N;
    return r < 1 ? 1 : r;
}

/* Whether to use the backend's one-pass cross_entropy_fused: when it has one, unless the
 * environment sets NABLA_LCE_UNFUSED to a value other than 0 (read at each call; for tests and
 * benchmarks of the two-kernel path). */
static bool use_fused(const nb_backend *be) {
    const char *env = getenv("NABLA_LCE_UNFUSED");
    return be->cross_entropy_fused && !(env && *env && strcmp(env, "0") != 0);
}

/* A 3-D descriptor [1, r, c] with strides (sr, sc) at element offset `off` of base's view. */
static nb_tensor mat3(const nb_tensor *base, int64_t r, int64_t c, int64_t sr, int64_t sc, int64_t off) {
    nb_tensor d = *base;
    d.ndim = 3;
    d.shape[0] = 1, d.shape[1] = r, d.shape[2] = c;
    d.stride[0] = 0, d.stride[1] = sr, d.stride[2] = sc;
    d.offset = base->offset + off;
    return d;
}

/* A 2-D contiguous descriptor [r, c] (r rows from row r0 of a contiguous [., c] tensor). */
static nb_tensor rows2(const nb_tensor *base, int64_t r0, int64_t r, int64_t c) {
    nb_tensor d = *base;
    d.ndim = 2;
    d.shape[0] = r, d.shape[1] = c;
    d.stride[0] = c, d.stride[1] = 1;
    d.offset = base->offset + r0 * c;
    return d;
}

/* ---- checks -------------------------------------------------------------------------------- */

static int check_args(const nb_tensor *x, const nb_tensor *w, const nb_tensor *b, const nb_tensor *t) {
    char s1[96], s2[96], s3[96];
    if (nb_check_dtype(OP, x, NB_F32, "input") || nb_check_dtype(OP, w, NB_F32, "weight") ||
        nb_check_dtype(OP, t, NB_I32, "targets") || nb_same_device(OP, x, w) || nb_same_device(OP, x, t))
        return -1;
    if (w->ndim != 2 || w->shape[0] == 0)
        return nb_set_error("%s: weight must be 2-D [V,C] with V >= 1, got %s", OP, NB_SHP(w, s1)), -1;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1])
        return nb_set_error("%s: input %s does not end in the weight's in-features (weight %s [V,C])", OP,
                            NB_SHP(x, s1), NB_SHP(w, s2)),
               -1;
    if (x->ndim >= NB_MAX_DIMS) return nb_set_error("%s: input has too many dims (%d)", OP, x->ndim), -1;
    if (b) {
        if (nb_check_dtype(OP, b, NB_F32, "bias") || nb_same_device(OP, x, b)) return -1;
        if (b->ndim != 1 || b->shape[0] != w->shape[0])
            return nb_set_error("%s: bias %s does not match weight %s (want [%lld])", OP, NB_SHP(b, s1),
                                NB_SHP(w, s2), (long long)w->shape[0]),
                   -1;
    }
    int64_t rows = nb_shape_numel(x->ndim - 1, x->shape);
    bool lead = t->ndim == x->ndim - 1 && memcmp(t->shape, x->shape, sizeof(int64_t) * (size_t)t->ndim) == 0;
    if (!lead && !(t->ndim == 1 && t->shape[0] == rows)) {
        nb_fmt_shape(x->ndim - 1, x->shape, s3, sizeof s3);
        return nb_set_error("%s: targets %s do not match input %s (expected %s or [%lld])", OP, NB_SHP(t, s1),
                            NB_SHP(x, s2), s3, (long long)rows),
               -1;
    }
    return 0;
}

/* Downloads the N targets, checks each is in [0, V) or ignored, and counts the kept ones.
 * The host copy (malloc'd, caller frees) in *host; the count, or -1 with a message. */
static int64_t host_targets(const nb_tensor *tc, int64_t N, int64_t V, int ignore, int32_t **host) {
    int32_t *h = malloc((size_t)(N ? N : 1) * sizeof(int32_t));
    *host = h;
    if (!h) return nb_set_error("%s: out of memory reading %lld targets", OP, (long long)N), -1;
    if (N && nb_to_array(tc, NB_I32, h)) return -1;
    int64_t count = 0;
    for (int64_t r = 0; r < N; r++) {
        if (h[r] == ignore) continue;
        if (h[r] < 0 || h[r] >= V)
            return nb_set_error("%s: target %d at row %lld is out of range [0, %lld) (and is not "
                                "ignore_index %d)",
                                OP, (int)h[r], (long long)r, (long long)V, ignore),
                   -1;
        count++;
    }
    return count;
}

/* ---- the chunked computation ------------------------------------------------------------- */

typedef struct {
    const nb_backend *be;
    nb_tensor *x, *w, *b, *t;       /* x [N,C] contiguous (2-D view), t [N] contiguous */
    nb_tensor *loss, *dx, *dw, *db; /* dx/dw/db NULL when not needed */
    int64_t N, C, V, count;
    int ignore;
    bool fused; /* use the backend's one-pass cross_entropy_fused */
    const int32_t *host;
} lce_job;

/* The chunk buffers: logits [R,V] (turned into dlogits in place), lse [R,2], the chunk's loss and
 * gradient scale (0-d; the scale only for the two-kernel path), ones [1,R] for db. */
typedef struct {
    int64_t R;
    nb_tensor *logits, *lse, *lc, *gs, *ones;
} lce_bufs;

/* Runs every chunk through the buffers; 0 or -1. */
static int lce_chunks(lce_job *J, const lce_bufs *B) {
    const nb_backend *be = J->be;
    int64_t N = J->N, C = J->C, V = J->V, R = B->R;
    bool grad = J->dx || J->dw || J->db;
    nb_tensor *logits = B->logits, *lse = B->lse, *lc = B->lc, *gs = B->gs, *ones = B->ones;
    if (be->fill(J->loss, 0.0) || (ones && be->fill(ones, 1.0))) return -1;
    /* w^T [C,V] and w [V,C] as 3-D operands, read in place */
    const nb_tensor *w = J->w;
    nb_tensor wt = mat3(w, C, V, w->stride[1], w->stride[0], 0);
    nb_tensor w3 = mat3(w, V, C, w->stride[0], w->stride[1], 0);
    bool acc = false; /* dw / db hold a partial sum */
    for (int64_t r0 = 0; r0 < N; r0 += R) {
        int64_t rc = N - r0 < R ? N - r0 : R, cnt = 0;
        for (int64_t r = r0; r < r0 + rc; r++)
            cnt += J->host[r] != J->ignore;
        if (cnt == 0) { /* nothing counted: no loss, dx rows 0, nothing for dw/db */
            if (J->dx) {
                nb_tensor dxr = rows2(J->dx, r0, rc, C);
                if (be->fill(&dxr, 0.0)) return -1;
            }
            continue;
        }
        nb_tensor L2 = rows2(logits, 0, rc, V), L3 = mat3(logits, rc, V, V, 1, 0);
        nb_tensor X3 = mat3(J->x, rc, C, C, 1, r0 * C);
        nb_tensor T1 = *J->t, lse1 = *lse;
        T1.shape[0] = rc, T1.offset += r0;
        lse1.shape[0] = rc;
        if (J->b) { /* logits = bias, then += x @ w^T */
            nb_tensor eb;
            nb_expand_desc(J->b, 2, L2.shape, &eb);
            if (be->copy(&L2, &eb)) return -1;
        } else if (C == 0 && be->fill(&L2, 0.0)) {
            return -1;
        }
        if (C > 0 && be->matmul(&L3, &X3, &wt, J->b ? 1.0f : 0.0f)) return -1;
        if (grad && J->fused) {
            /* one pass: the chunk's loss sum / count, and dlogits = (softmax - onehot) / count in
             * place over the logits */
            float k = (float)(1.0 / (double)J->count);
            if (be->cross_entropy_fused(lc, &lse1, &L2, &T1, J->ignore, k) || be->axpy(J->loss, 1.0f, lc))
                return -1;
        } else {
            if (be->cross_entropy(lc, &lse1, &L2, &T1, J->ignore)) return -1;
            float share = (float)((double)cnt / (double)J->count); /* chunk mean -> share of the mean */
            if (be->axpy(J->loss, share, lc)) return -1;
            if (!grad) continue;
            /* dlogits over the logits: (softmax - onehot) * share / cnt = ... / count */
            if (be->fill(gs, (double)share) ||
                be->cross_entropy_backward(&L2, gs, &L2, &T1, &lse1, J->ignore))
                return -1;
        }
        if (J->dx) {
            nb_tensor D3 = mat3(J->dx, rc, C, C, 1, r0 * C);
            if (C > 0 && be->matmul(&D3, &L3, &w3, 0.0f)) return -1;
        }
        if (J->dw) { /* dw (+)= dlogits^T @ x */
            nb_tensor Lt = mat3(logits, V, rc, 1, V, 0), W3 = mat3(J->dw, V, C, C, 1, 0);
            if (C > 0 && be->matmul(&W3, &Lt, &X3, acc ? 1.0f : 0.0f)) return -1;
        }
        if (J->db) { /* db (+)= ones[1,rc] @ dlogits */
            nb_tensor O3 = mat3(ones, 1, rc, rc, 1, 0), B3 = mat3(J->db, 1, V, V, 1, 0);
            if (be->matmul(&B3, &O3, &L3, acc ? 1.0f : 0.0f)) return -1;
        }
        acc = true;
    }
    if (!acc && ((J->dw && be->fill(J->dw, 0.0)) || (J->db && be->fill(J->db, 0.0)))) return -1;
    return 0;
}

/* Makes the chunk buffers, runs the chunks, and gives the buffers back to the context right away
 * (nothing refers to them after the loop), so that the memory serves the rest of the step, e.g.
 * the backward pass. 0 or -1. */
static int lce_run(lce_job *J) {
    bool grad = J->dx || J->dw || J->db;
    lce_bufs B = {.R = chunk_rows(J->N, J->V)};
    B.logits = nb_new_like_shape(J->x, NB_F32, 2, (const int64_t[]){B.R, J->V});
    B.lse = B.logits ? nb_new_like_shape(J->x, NB_F32, 2, (const int64_t[]){B.R, 2}) : NULL;
    B.lc = B.lse ? nb_new_like_shape(J->x, NB_F32, 0, NULL) : NULL;
    bool need_gs = grad && !J->fused; /* the two-kernel path's gradient scale */
    B.gs = B.lc && need_gs ? nb_new_like_shape(J->x, NB_F32, 0, NULL) : NULL;
    B.ones = B.lc && J->db ? nb_new_like_shape(J->x, NB_F32, 2, (const int64_t[]){1, B.R}) : NULL;
    int rc = B.lc && (!need_gs || B.gs) && (!J->db || B.ones) ? lce_chunks(J, &B) : -1;
    nb_tensor *made[5] = {B.ones, B.gs, B.lc, B.lse, B.logits};
    for (int i = 0; i < 5; i++)
        if (made[i]) nb_storage_release(made[i]->storage);
    return rc;
}

/* ---- autograd ------------------------------------------------------------------------------ */

/* The gradients were made in the forward; scale them by g (or hand them over when g is 1). */
static int lce_backward(nb_node *n, nb_tensor *g, nb_tensor **gin) {
    double gv = nb_item(g);
    for (int i = 0; i < n->n_in; i++) {
        nb_tensor *d = n->saved[i];
        if (!d || !n->in[i] || !n->in[i]->requires_grad) continue;
        gin[i] = gv == 1.0 ? d : nb_mul_scalar(d, (float)gv);
        if (!gin[i]) return -1;
    }
    return 0;
}

nb_tensor *nb_linear_cross_entropy(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_tensor *targets,
                                   int ignore_index) {
    NB_NULL_GUARD(x, w, targets);
    if (check_args(x, w, b, targets)) return NULL;
    const nb_backend *be = nb_be(x);
    if (!be) return NULL;
    if (!be->matmul || !be->cross_entropy || !be->cross_entropy_backward || !be->axpy || !be->fill ||
        !be->copy)
        return nb_unsupported(OP, be);
    int64_t C = w->shape[1], V = w->shape[0], N = nb_shape_numel(x->ndim - 1, x->shape);
    nb_tensor *xc = nb_contiguous(x), *wc = nb_mat_usable(w) ? w : nb_contiguous(w);
    nb_tensor *tc = nb_reshape(nb_contiguous(targets), 1, &N);
    if (!xc || !wc || !tc) return NULL;
    nb_tensor x2 = rows2(xc, 0, N, C); /* xc seen as [N,C] */
    int32_t *host = NULL;
    int64_t count = host_targets(tc, N, V, ignore_index, &host);
    if (count < 0) {
        free(host);
        return NULL;
    }
    nb_tensor *ins[3] = {xc, wc, b};
    int n_in = b ? 3 : 2;
    bool need = nb_any_requires_grad(n_in, ins);
    lce_job J = {.be = be,
                 .x = &x2,
                 .w = wc,
                 .b = b,
                 .t = tc,
                 .N = N,
                 .C = C,
                 .V = V,
                 .count = count,
                 .ignore = ignore_index,
                 .fused = use_fused(be),
                 .host = host};
    J.loss = nb_new_like_shape(xc, NB_F32, 0, NULL);
    bool ok = J.loss != NULL;
    if (ok && need && xc->requires_grad) ok = (J.dx = nb_new_like_shape(xc, NB_F32, xc->ndim, xc->shape));
    if (ok && need && wc->requires_grad) ok = (J.dw = nb_new_like_shape(xc, NB_F32, 2, wc->shape));
    if (ok && need && b && b->requires_grad) ok = (J.db = nb_new_like_shape(xc, NB_F32, 1, b->shape));
    ok = ok && lce_run(&J) == 0;
    free(host);
    if (!ok) return NULL;
    nb_node *n;
    if (!nb_op_finish(J.loss, OP, lce_backward, n_in, ins, &n)) return NULL;
    if (n) {
        nb_node_save(n, 0, J.dx);
        nb_node_save(n, 1, J.dw);
        nb_node_save(n, 2, J.db);
        n->unread = NB_UNREAD_ALL; /* the gradients were made in the forward: the rule reads no input */
    }
    return J.loss;
}
