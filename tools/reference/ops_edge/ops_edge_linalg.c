/* ops_edge_linalg.c - the edge cases of the linear-algebra ops (ops/linalg.c): solve, inverse,
 * det, slogdet, logdet, cholesky, solve_triangular, cholesky_solve, matrix_power, lu_factor and
 * lu_solve, on well-conditioned random batches, broadcast batch dims, vector right-hand sides,
 * every side and triangle, 0 x 0 matrices and empty batches, singular, non-positive-definite and
 * pivoting matrices, NaN and infinities, and sizes past one kernel block; and the decompositions
 * (ops/decomp.c): eigh and eigvalsh on symmetric, non-symmetric (the lower triangle is read),
 * diagonal, repeated-eigenvalue, tiny, huge and non-finite matrices, QR reduced and complete on
 * tall, square, wide, rank-deficient, empty and non-finite ones, with their gradients; and the SVD
 * (ops/svd.c): svd and svdvals, pinv, lstsq, matrix_rank, matrix_norm (every ord) and cond on random
 * tall, square, wide and batched matrices, 1 x n, n x 1, 1 x 1 and 0-size ones, exactly
 * rank-deficient, zero, repeated-singular-value, tiny, huge and non-finite ones. Run by
 * ops_edge.c after ops_edge_special.c (its apply() asks oe_linalg_apply for the ops it does not
 * know). Names are referred to by ops_edge_parity.py's lists. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_edge.h"

#define IS(name) (strcmp(c->op, name) == 0)

/* The ops. ip: solve [0] left; cholesky and cholesky_gram [0] upper; solve_triangular [0] upper,
 * [1] left, [2] unitriangular; cholesky_solve [0] upper; matrix_power [0] k; lu_solve [0] trans.
 * slogdet gives logabsdet, slogdet_sign the sign; lu_factor gives LU, lu_factor_piv the pivots
 * (0-based); lu_solve takes (LU, pivots, B); cholesky_gram factors X X^T + I (the gradient of a
 * function of the leaf X, whatever the rule's treatment of the triangle it does not read).
 * eigh gives nb_eigh's eigenvalues (with the eigenvectors asked for too, so the unused view's
 * zero gradient goes through the rule), eigh_vecs the eigenvectors, eigh_fn V diag(exp(w)) V^T
 * (a function of A whatever the eigenvectors' signs), eigvalsh nb_eigvalsh's; qr, qr_r and
 * qr_qr (Q and R flattened and concatenated) take ip[0] complete. svd gives nb_svd's singular
 * values (U and Vh asked for too), svd_u and svd_vh U and Vh, svd_fn U diag(f(s)) Vh with f = exp
 * (ip[0] 0: sign-invariant) or the identity (1: A again, through the whole rule), svd_orth U^T U and
 * Vh Vh^T flattened side by side (I whatever the basis); pinv and matrix_rank take fp[0] rtol (< 0:
 * the default); matrix_norm ip[0] the ord (OE_MATRIX_ORDS). */
/* matrix_norm's ord by ip[0] (the last one unknown to both) */
static const char *const OE_MATRIX_ORDS[] = {"fro", "nuc", "2", "-2", "1", "-1", "inf", "-inf", "3"};

nb_tensor *oe_linalg_apply(const oe_case *c, bool *known) {
    nb_tensor *const *in = c->in;
    const int *ip = c->ip;
    *known = true;
    if (IS("solve")) return nb_solve(in[0], in[1], ip[0] != 0);
    if (IS("inverse")) return nb_inverse(in[0]);
    if (IS("det")) return nb_det(in[0]);
    if (IS("slogdet") || IS("slogdet_sign")) {
        nb_tensor *sign = NULL, *l = nb_slogdet(in[0], &sign);
        return IS("slogdet") ? l : l ? sign : NULL;
    }
    if (IS("logdet")) return nb_logdet(in[0]);
    if (IS("cholesky")) return nb_cholesky(in[0], ip[0] != 0);
    if (IS("cholesky_gram")) {
        nb_tensor *x = in[0];
        const int64_t n = x->ndim >= 2 ? x->shape[x->ndim - 2] : 0;
        float *e = calloc((size_t)(n * n + 1), sizeof *e);
        if (!e) return nb_set_error("cholesky_gram: out of memory");
        for (int64_t i = 0; i < n; i++)
            e[i * n + i] = 1.0f;
        nb_tensor *eye = oe_f32(2, SH(n, n), e);
        free(e);
        return nb_cholesky(nb_add(nb_matmul(x, nb_transpose(x, -1, -2)), eye), ip[0] != 0);
    }
    if (IS("solve_triangular")) return nb_solve_triangular(in[0], in[1], ip[0] != 0, ip[1] != 0, ip[2] != 0);
    if (IS("cholesky_solve")) return nb_cholesky_solve(in[0], in[1], ip[0] != 0);
    if (IS("matrix_power")) return nb_matrix_power(in[0], ip[0]);
    if (IS("lu_factor") || IS("lu_factor_piv")) {
        nb_tensor *piv = NULL, *lu = nb_lu_factor(in[0], &piv);
        return IS("lu_factor") ? lu : lu ? piv : NULL;
    }
    if (IS("lu_solve")) return nb_lu_solve(in[0], in[1], in[2], ip[0] != 0);
    if (IS("eigvalsh")) return nb_eigvalsh(in[0]);
    if (IS("eigh") || IS("eigh_vecs") || IS("eigh_fn")) {
        nb_tensor *v = NULL, *w = nb_eigh(in[0], &v);
        if (!w || IS("eigh")) return w;
        if (IS("eigh_vecs")) return v;
        return nb_matmul(nb_mul(v, nb_unsqueeze(nb_exp(w), -2)), nb_transpose(v, -1, -2));
    }
    if (IS("qr") || IS("qr_r") || IS("qr_qr")) {
        nb_tensor *r = NULL, *q = nb_qr(in[0], ip[0] != 0, &r);
        if (!q || IS("qr")) return q;
        if (IS("qr_r")) return r;
        nb_tensor *flat[2] = {nb_reshape(q, 1, SH(nb_numel(q))), nb_reshape(r, 1, SH(nb_numel(r)))};
        return flat[0] && flat[1] ? nb_cat(flat, 2, 0) : NULL;
    }
    if (IS("svdvals")) return nb_svdvals(in[0]);
    if (IS("svd") || IS("svd_u") || IS("svd_vh") || IS("svd_fn") || IS("svd_orth")) {
        nb_tensor *u = NULL, *vh = NULL, *s = nb_svd(in[0], &u, &vh);
        if (!s || IS("svd")) return s;
        if (IS("svd_u")) return u;
        if (IS("svd_vh")) return vh;
        if (IS("svd_fn")) /* U diag(f(s)) Vh, f = exp (ip[0] 0) or the identity (1: A again) */
            return nb_matmul(nb_mul(u, nb_unsqueeze(ip[0] ? s : nb_exp(s), -2)), vh);
        nb_tensor *g[2] = {nb_matmul(nb_transpose(u, -1, -2), u), nb_matmul(vh, nb_transpose(vh, -1, -2))};
        nb_tensor *flat[2] = {g[0] ? nb_reshape(g[0], 1, SH(nb_numel(g[0]))) : NULL,
                              g[1] ? nb_reshape(g[1], 1, SH(nb_numel(g[1]))) : NULL};
        return flat[0] && flat[1] ? nb_cat(flat, 2, 0) : NULL;
    }
    if (IS("svd_full")) { /* U^T U, Vh Vh^T, and the projectors on the completed columns (any basis) */
        nb_tensor *u = NULL, *vh = NULL, *s = nb_svd_full(in[0], &u, &vh);
        if (!s) return NULL;
        const int64_t k = s->shape[s->ndim - 1], m = u->shape[u->ndim - 1], n = vh->shape[vh->ndim - 1];
        nb_tensor *uc = nb_narrow(u, -1, k, m - k), *vc = nb_narrow(vh, -2, k, n - k);
        nb_tensor *g[4] = {nb_matmul(nb_transpose(u, -1, -2), u), nb_matmul(vh, nb_transpose(vh, -1, -2)),
                           nb_matmul(uc, nb_transpose(uc, -1, -2)), nb_matmul(nb_transpose(vc, -1, -2), vc)};
        nb_tensor *flat[4];
        for (int i = 0; i < 4; i++)
            flat[i] = g[i] ? nb_reshape(g[i], 1, SH(nb_numel(g[i]))) : NULL;
        return flat[0] && flat[1] && flat[2] && flat[3] ? nb_cat(flat, 4, 0) : NULL;
    }
    if (IS("pinv")) return nb_pinv(in[0], (double)c->fp[0]);
    if (IS("lstsq")) return nb_lstsq(in[0], in[1]);
    if (IS("matrix_rank")) return nb_matrix_rank(in[0], (double)c->fp[0]);
    if (IS("matrix_norm")) return nb_matrix_norm(in[0], OE_MATRIX_ORDS[ip[0]]);
    if (IS("cond")) return nb_cond(in[0]);
    *known = false;
    return NULL;
}

/* ---- inputs --------------------------------------------------------------------------------- */

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* N(0,1) values of the shape, in a new buffer */
static float *randn_vals(int ndim, const int64_t *shape, uint64_t seed) {
    const int64_t n = numel_of(ndim, shape);
    float *v = calloc((size_t)(n ? n : 1), sizeof *v);
    if (v && n) nb_to_array(oe_randn(ndim, shape, seed), NB_F32, v);
    return v;
}

static nb_tensor *take(int ndim, const int64_t *shape, float *v) {
    nb_tensor *t = oe_f32(ndim, shape, v);
    free(v);
    return t;
}

/* well-conditioned square matrices [..., n, n]: N(0,1) / sqrt(n) + 2 I */
static nb_tensor *wc(int ndim, const int64_t *shape, uint64_t seed) {
    const int64_t n = shape[ndim - 1], nb = n ? numel_of(ndim, shape) / (n * n) : 0;
    float *v = randn_vals(ndim, shape, seed);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                v[(b * n + i) * n + j] = v[(b * n + i) * n + j] / sqrtf((float)n) + (i == j ? 2.0f : 0.0f);
    return take(ndim, shape, v);
}

/* symmetric positive-definite matrices [..., n, n]: M M^T + I, M N(0,1) (summed in double, so
 * exactly symmetric) */
static nb_tensor *spd(int ndim, const int64_t *shape, uint64_t seed) {
    const int64_t n = shape[ndim - 1], nb = n ? numel_of(ndim, shape) / (n * n) : 0;
    float *m = randn_vals(ndim, shape, seed), *v = calloc((size_t)(nb * n * n + 1), sizeof *v);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = i == j ? 1.0 : 0.0;
                for (int64_t k = 0; k < n; k++)
                    s += (double)m[(b * n + i) * n + k] * m[(b * n + j) * n + k];
                v[(b * n + i) * n + j] = (float)s;
            }
    free(m);
    return take(ndim, shape, v);
}

/* triangular matrices [..., n, n] (upper or lower): N(0,1) / sqrt(n) in the triangle, 2 + that
 * on the diagonal, and 10 N(0,1) (garbage, never to be read) or zeros in the other triangle */
static nb_tensor *tri(int ndim, const int64_t *shape, uint64_t seed, bool upper, bool garbage) {
    const int64_t n = shape[ndim - 1], nb = n ? numel_of(ndim, shape) / (n * n) : 0;
    float *v = randn_vals(ndim, shape, seed);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                float *e = v + (b * n + i) * n + j;
                if (i == j)
                    *e = 2.0f + *e / sqrtf((float)n);
                else if (upper ? j > i : j < i)
                    *e /= sqrtf((float)n);
                else
                    *e = garbage ? 10.0f * *e : 0.0f;
            }
    return take(ndim, shape, v);
}

static nb_tensor *mat(int64_t r, int64_t c, const float *d) { return oe_f32(2, SH(r, c), d); }

/* Rank 2, with multipliers that are powers of 2 whichever way it is eliminated (A or A^T), so a
 * pivot is exactly 0 in any float arithmetic: singular for nabla and torch alike. */
#define SING_EXACT FV(4, 2, 2, 2, 1, 1, 1, 3, 5)
/* Rank 2 too, but A^T's elimination needs the multipliers 1/3 and 2/3: LAPACK's float32 (and
 * float64) products round them back to an exact 0 pivot, and so does nabla's factorisation of a
 * double copy (float32 multipliers summed in double once left a residue of ~1e-8 here). */
#define SING_THIRDS  FV(1, 2, 3, 2, 4, 6, 1, 0, 1)
#define SING_THIRDST FV(1, 2, 1, 2, 4, 0, 3, 6, 1)

/* ---- the cases ------------------------------------------------------------------------------ */

static void solve_cases(void) {
    /* ordinary and batched, with broadcast batch dims */
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(3, 3), 700), oe_randn(2, SH(3, 2), 701)}},
           "solve(A [3,3], B [3,2])");
    oe_run(
        (oe_case){.op = "solve", .ip = {1}, .in = {wc(3, SH(2, 4, 4), 702), oe_randn(3, SH(2, 4, 3), 703)}},
        "solve(A [2,4,4], B [2,4,3])");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {wc(4, SH(2, 1, 3, 3), 704), oe_randn(3, SH(4, 3, 2), 705)}},
           "solve(broadcast A [2,1,3,3], B [4,3,2])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(3, 3), 706), oe_randn(3, SH(2, 3, 2), 707)}},
           "solve(broadcast A [3,3], B [2,3,2])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(3, SH(2, 3, 3), 708), oe_randn(2, SH(3, 2), 709)}},
           "solve(broadcast A [2,3,3], B [3,2])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(8, 8), 710), oe_randn(2, SH(8, 5), 711)}},
           "solve(A [8,8], B [8,5])");
    /* vector right-hand sides */
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(3, 3), 712), oe_randn(1, SH(3), 713)}},
           "solve(A [3,3], vector b [3])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(3, SH(2, 3, 3), 714), oe_randn(2, SH(2, 3), 715)}},
           "solve(A [2,3,3], batched vector b [2,3])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(3, SH(2, 3, 3), 716), oe_randn(1, SH(3), 717)}},
           "solve(A [2,3,3], vector b [3] broadcast)");
    /* X A = B */
    oe_run((oe_case){.op = "solve", .ip = {0}, .in = {wc(2, SH(3, 3), 718), oe_randn(2, SH(2, 3), 719)}},
           "solve(left=False, A [3,3], B [2,3])");
    oe_run((oe_case){.op = "solve", .ip = {0}, .in = {wc(3, SH(2, 3, 3), 720), oe_randn(2, SH(4, 3), 721)}},
           "solve(left=False, broadcast A [2,3,3], B [4,3])");
    oe_run((oe_case){.op = "solve", .ip = {0}, .in = {wc(2, SH(3, 3), 722), oe_randn(1, SH(3), 723)}},
           "solve(left=False, vector b [3])");
    oe_run((oe_case){.op = "solve", .ip = {0}, .in = {wc(3, SH(2, 3, 3), 724), oe_randn(2, SH(2, 3), 725)}},
           "solve(left=False, batched vector b [2,3])");
    /* empty */
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {oe_f32(2, SH(0, 0), NULL), oe_f32(2, SH(0, 2), NULL)}},
           "solve(A [0,0], B [0,2])");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {oe_f32(3, SH(0, 3, 3), NULL), oe_f32(3, SH(0, 3, 2), NULL)}},
           "solve(empty batch A [0,3,3], B [0,3,2])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(3, 3), 726), oe_f32(2, SH(3, 0), NULL)}},
           "solve(A [3,3], B [3,0])");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(3, SH(0, 3, 3), 727), oe_randn(2, SH(3, 2), 728)}},
           "solve(empty batch A [0,3,3], B [3,2] broadcast)");
    /* singular: an error in both */
    const float *sing = SING_EXACT;
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {mat(3, 3, sing), oe_randn(2, SH(3, 2), 729)}},
           "solve(singular A, refused)");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {oe_f32(2, SH(3, 3), NULL), oe_randn(1, SH(3), 730)}},
           "solve(zero A, refused)");
    static float bs[18];
    memcpy(bs, (const float[]){2, 0, 0, 0, 2, 0, 0, 0, 2}, sizeof(float) * 9);
    memcpy(bs + 9, sing, sizeof(float) * 9);
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {oe_f32(3, SH(2, 3, 3), bs), oe_randn(3, SH(2, 3, 1), 731)}},
           "solve(second matrix of the batch singular, refused)");
    oe_run((oe_case){.op = "solve", .ip = {0}, .in = {mat(3, 3, sing), oe_randn(2, SH(2, 3), 732)}},
           "solve(left=False, singular A, refused)");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {mat(3, 3, SING_THIRDS), oe_randn(2, SH(3, 2), 746)}},
           "solve(rank 2 with 1/3 multipliers in A, refused)");
    oe_run((oe_case){.op = "solve", .ip = {0}, .in = {mat(3, 3, SING_THIRDS), oe_randn(2, SH(2, 3), 747)}},
           "solve(left=False, rank 2 with 1/3 multipliers in A^T)");
    /* pivoting: a zero on the diagonal, a tiny leading entry, ties in the pivot column */
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {mat(3, 3, FV(0, 1, 2, 1, 0, 3, 4, 5, 0)), oe_randn(2, SH(3, 2), 733)}},
           "solve(pivoting: zero diagonal)");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {mat(2, 2, FV(1e-7f, 1, 1, 1)), oe_randn(2, SH(2, 2), 734)}},
           "solve(pivoting: tiny leading entry)");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {mat(3, 3, FV(1, 2, 0, -1, 3, 1, 1, 0, 2)), oe_randn(2, SH(3, 1), 735)}},
           "solve(pivoting: tied pivot candidates)");
    /* non-finite entries */
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {mat(3, 3, FV(2, 1, 0, 1, 3, NAN, 0, 1, 4)), oe_randn(2, SH(3, 2), 736)}},
           "solve(NaN in A)");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {mat(3, 3, FV(2, 1, 0, 1, 3, INFINITY, 0, 1, 4)), oe_randn(2, SH(3, 2), 737)}},
           "solve(inf in A)");
    oe_run(
        (oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(3, 3), 738), mat(3, 2, FV(1, NAN, 2, 0, 3, 1))}},
        "solve(NaN in B)");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {wc(2, SH(3, 3), 739), mat(3, 2, FV(1, INFINITY, 2, 0, 3, 1))}},
           "solve(inf in B)");
    /* bad shapes: an error in both */
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(3, 3), 740), oe_randn(2, SH(4, 2), 741)}},
           "solve(B [4,2] for A [3,3], refused)");
    oe_run(
        (oe_case){.op = "solve", .ip = {1}, .in = {oe_randn(2, SH(3, 4), 742), oe_randn(2, SH(3, 2), 743)}},
        "solve(A [3,4] not square, refused)");
    oe_run(
        (oe_case){.op = "solve", .ip = {1}, .in = {wc(3, SH(2, 3, 3), 744), oe_randn(3, SH(3, 3, 2), 745)}},
        "solve(batch dims 2 and 3, refused)");
}

static void inverse_cases(void) {
    oe_run((oe_case){.op = "inverse", .in = {wc(2, SH(4, 4), 750)}}, "inverse([4,4])");
    oe_run((oe_case){.op = "inverse", .in = {wc(3, SH(2, 3, 3), 751)}}, "inverse([2,3,3])");
    oe_run((oe_case){.op = "inverse", .in = {wc(4, SH(2, 2, 3, 3), 752)}}, "inverse([2,2,3,3])");
    oe_run((oe_case){.op = "inverse", .in = {wc(2, SH(8, 8), 753)}}, "inverse([8,8])");
    oe_run((oe_case){.op = "inverse", .in = {mat(1, 1, FV(-4))}}, "inverse([1,1])");
    oe_run((oe_case){.op = "inverse", .in = {oe_f32(2, SH(0, 0), NULL)}}, "inverse([0,0])");
    oe_run((oe_case){.op = "inverse", .in = {oe_f32(3, SH(0, 3, 3), NULL)}}, "inverse(empty batch [0,3,3])");
    oe_run((oe_case){.op = "inverse", .in = {oe_f32(3, SH(2, 0, 0), NULL)}}, "inverse([2,0,0])");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, FV(0, 1, 0, 0, 0, 1, 1, 0, 0))}},
           "inverse(permutation)");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, FV(0, 1, 2, 1, 0, 3, 4, 5, 0))}},
           "inverse(pivoting: zero diagonal)");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, SING_EXACT)}}, "inverse(singular, refused)");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, SING_THIRDS)}},
           "inverse(rank 2 with 1/3 multipliers in A^T, refused)");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, SING_THIRDST)}},
           "inverse(rank 2 with 1/3 multipliers)");
    oe_run((oe_case){.op = "inverse", .in = {oe_f32(2, SH(2, 2), NULL)}}, "inverse(zero, refused)");
    oe_run((oe_case){.op = "inverse", .in = {oe_f32(3, SH(2, 2, 2), FV(1, 0, 0, 1, 1, 1, 1, 1))}},
           "inverse(second of the batch singular, refused)");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, FV(2, 1, 0, 1, 3, NAN, 0, 1, 4))}}, "inverse(NaN)");
    oe_run((oe_case){.op = "inverse", .in = {mat(3, 3, FV(2, 1, 0, 1, 3, INFINITY, 0, 1, 4))}},
           "inverse(inf)");
    oe_run((oe_case){.op = "inverse", .in = {oe_randn(2, SH(2, 3), 754)}}, "inverse(not square, refused)");
    oe_run((oe_case){.op = "inverse", .in = {oe_randn(1, SH(3), 755)}}, "inverse(1-d, refused)");
}

static void det_cases(void) {
    const char *ops[] = {"det", "slogdet", "slogdet_sign", "logdet"};
    for (int o = 0; o < COUNT(ops); o++) {
        const char *op = ops[o];
        const uint64_t s = 760 + 20 * (uint64_t)o;
        oe_run((oe_case){.op = op, .in = {wc(2, SH(4, 4), s)}}, "%s([4,4])", op);
        oe_run((oe_case){.op = op, .in = {wc(3, SH(3, 3, 3), s + 1)}}, "%s([3,3,3])", op);
        oe_run((oe_case){.op = op, .in = {wc(4, SH(2, 1, 2, 2), s + 2)}}, "%s([2,1,2,2])", op);
        oe_run((oe_case){.op = op, .in = {oe_randn(2, SH(6, 6), s + 3)}}, "%s(randn [6,6])", op);
        oe_run((oe_case){.op = op, .in = {mat(1, 1, FV(-3))}}, "%s([1,1] negative)", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(2, SH(0, 0), NULL)}}, "%s([0,0])", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(3, SH(3, 0, 0), NULL)}}, "%s([3,0,0])", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(3, SH(0, 3, 3), NULL)}}, "%s(empty batch [0,3,3])", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(0, 1, 0, 0, 0, 1, 1, 0, 0))}}, "%s(even permutation)",
               op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(0, 1, 0, 1, 0, 0, 0, 0, 1))}}, "%s(odd permutation)",
               op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(0, 1, 2, 1, 0, 3, 4, 5, 0))}},
               "%s(pivoting: zero diagonal)", op);
        oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(1, 2, 3, 4))}}, "%s(negative det)", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, SING_EXACT)}}, "%s(singular rank 2)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, SING_EXACT)}},
               "%s(singular rank 2, no grad)", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, SING_THIRDS)}}, "%s(rank 2 with 1/3 multipliers in A^T)",
               op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, SING_THIRDST)}}, "%s(rank 2 with 1/3 multipliers)", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(2, SH(2, 2), NULL)}}, "%s(zero matrix)", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(3, SH(2, 2, 2), FV(2, 1, 1, 2, 1, 1, 1, 1))}},
               "%s(second of the batch singular)", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(2, 1, 0, 1, 3, NAN, 0, 1, 4))}}, "%s(NaN)", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(2, 1, 0, 1, 3, INFINITY, 0, 1, 4))}}, "%s(inf)", op);
        oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(1e20f, 0, 0, 1e20f))}}, "%s(det past FLT_MAX)", op);
        oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(1e-25f, 0, 0, 1e-25f))}}, "%s(det below FLT_MIN)", op);
        oe_run((oe_case){.op = op, .in = {oe_randn(2, SH(2, 3), s + 4)}}, "%s(not square, refused)", op);
    }
}

static void cholesky_cases(void) {
    for (int up = 0; up < 2; up++) {
        oe_run((oe_case){.op = "cholesky", .ip = {up}, .in = {spd(2, SH(4, 4), 800)}},
               "cholesky(upper %d, [4,4])", up);
        oe_run((oe_case){.op = "cholesky", .ip = {up}, .in = {spd(3, SH(2, 3, 3), 801)}},
               "cholesky(upper %d, [2,3,3])", up);
        oe_run((oe_case){.op = "cholesky", .ip = {up}, .in = {spd(4, SH(2, 2, 2, 2), 802)}},
               "cholesky(upper %d, [2,2,2,2])", up);
        oe_run((oe_case){.op = "cholesky_gram", .ip = {up}, .in = {oe_randn(2, SH(4, 4), 803)}},
               "cholesky_gram(upper %d, X [4,4])", up);
        oe_run((oe_case){.op = "cholesky_gram", .ip = {up}, .in = {oe_randn(3, SH(2, 3, 2), 804)}},
               "cholesky_gram(upper %d, X [2,3,2])", up);
        oe_run((oe_case){.op = "cholesky", .ip = {up}, .in = {oe_f32(2, SH(0, 0), NULL)}},
               "cholesky(upper %d, [0,0])", up);
        oe_run((oe_case){.op = "cholesky", .ip = {up}, .in = {oe_f32(3, SH(0, 3, 3), NULL)}},
               "cholesky(upper %d, empty batch [0,3,3])", up);
    }
    oe_run((oe_case){.op = "cholesky", .in = {spd(2, SH(8, 8), 805)}}, "cholesky([8,8])");
    oe_run((oe_case){.op = "cholesky", .in = {mat(1, 1, FV(9))}}, "cholesky([1,1])");
    oe_run((oe_case){.op = "cholesky", .in = {oe_f32(3, SH(2, 0, 0), NULL)}}, "cholesky([2,0,0])");
    /* the upper triangle is never read: garbage there changes nothing */
    oe_run((oe_case){.op = "cholesky", .in = {mat(3, 3, FV(4, 100, -7, 2, 5, 1e30f, 1, 1, 6))}},
           "cholesky(garbage above the diagonal)");
    /* upper reads the upper triangle (torch's UPLO 'U'): garbage below is never read, above it is */
    oe_run((oe_case){.op = "cholesky", .ip = {1}, .in = {mat(3, 3, FV(4, 2, 1, 100, 5, 1, -7, 1e30f, 6))}},
           "cholesky(upper 1, garbage below the diagonal)");
    oe_run((oe_case){.op = "cholesky", .ip = {1}, .in = {mat(3, 3, FV(4, 100, -7, 2, 5, 1e30f, 1, 1, 6))}},
           "cholesky(upper 1, garbage above the diagonal, refused)");
    /* not positive-definite: an error in both */
    oe_run((oe_case){.op = "cholesky", .in = {mat(2, 2, FV(-1, 0, 0, -1))}}, "cholesky(-I, refused)");
    oe_run((oe_case){.op = "cholesky", .in = {mat(2, 2, FV(1, 2, 2, 1))}}, "cholesky(indefinite, refused)");
    oe_run((oe_case){.op = "cholesky", .in = {mat(2, 2, FV(1, 1, 1, 1))}},
           "cholesky(semi-definite, refused)");
    oe_run((oe_case){.op = "cholesky", .in = {oe_f32(2, SH(2, 2), NULL)}}, "cholesky(zero, refused)");
    oe_run((oe_case){.op = "cholesky", .ip = {1}, .in = {oe_f32(3, SH(2, 2, 2), FV(2, 1, 1, 2, 1, 3, 3, 1))}},
           "cholesky(second of the batch indefinite, refused)");
    /* non-finite entries */
    oe_run((oe_case){.op = "cholesky", .in = {mat(3, 3, FV(4, 2, 1, 2, NAN, 1, 1, 1, 6))}},
           "cholesky(NaN on the diagonal)");
    oe_run((oe_case){.op = "cholesky", .in = {mat(3, 3, FV(4, 2, 1, NAN, 5, 1, 1, 1, 6))}},
           "cholesky(NaN below the diagonal)");
    oe_run((oe_case){.op = "cholesky", .in = {mat(3, 3, FV(4, 2, 1, 2, 5, 1, 1, 1, INFINITY))}},
           "cholesky(inf on the diagonal)");
    oe_run((oe_case){.op = "cholesky", .in = {oe_randn(2, SH(2, 3), 806)}}, "cholesky(not square, refused)");
}

static void triangular_cases(void) {
    for (int up = 0; up < 2; up++)
        for (int left = 0; left < 2; left++)
            for (int unit = 0; unit < 2; unit++) {
                const uint64_t s = 820 + 10 * (uint64_t)(up * 4 + left * 2 + unit);
                nb_tensor *a = tri(2, SH(4, 4), s, up, true);
                nb_tensor *b = left ? oe_randn(2, SH(4, 3), s + 1) : oe_randn(2, SH(3, 4), s + 1);
                oe_run((oe_case){.op = "solve_triangular", .ip = {up, left, unit}, .in = {a, b}},
                       "solve_triangular(upper %d, left %d, unit %d)", up, left, unit);
                oe_run((oe_case){.op = "solve_triangular",
                                 .ip = {up, left, unit},
                                 .in = {tri(4, SH(2, 1, 3, 3), s + 2, up, false),
                                        left ? oe_randn(3, SH(4, 3, 2), s + 3)
                                             : oe_randn(3, SH(4, 2, 3), s + 3)}},
                       "solve_triangular(upper %d, left %d, unit %d, broadcast [2,1,3,3])", up, left, unit);
            }
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {tri(3, SH(2, 3, 3), 900, false, false), oe_randn(2, SH(3, 2), 901)}},
           "solve_triangular(broadcast B [3,2])");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {1, 1, 0},
                     .in = {tri(2, SH(8, 8), 902, true, false), oe_randn(2, SH(8, 3), 903)}},
           "solve_triangular(upper [8,8])");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {oe_f32(2, SH(0, 0), NULL), oe_f32(2, SH(0, 3), NULL)}},
           "solve_triangular([0,0], B [0,3])");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {1, 0, 1},
                     .in = {oe_f32(3, SH(0, 3, 3), NULL), oe_f32(3, SH(0, 2, 3), NULL)}},
           "solve_triangular(empty batch, left 0, unit 1)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {tri(2, SH(3, 3), 904, false, false), oe_f32(2, SH(3, 0), NULL)}},
           "solve_triangular(B [3,0])");
    /* no check for a zero on the diagonal: inf and NaN, as torch's; unitriangular ignores it */
    const float z[] = {2, 0, 0, 1, 0, 0, 1, 1, 3};
    oe_run((oe_case){.op = "solve_triangular", .ip = {0, 1, 0}, .in = {mat(3, 3, z), mat(3, 1, FV(1, 2, 3))}},
           "solve_triangular(zero on the diagonal)");
    oe_run((oe_case){.op = "solve_triangular", .ip = {0, 1, 1}, .in = {mat(3, 3, z), mat(3, 1, FV(1, 2, 3))}},
           "solve_triangular(zero on the diagonal, unit)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {1, 1, 0},
                     .in = {mat(3, 3, FV(2, 1, NAN, 0, 3, 1, 0, 0, 4)), oe_randn(2, SH(3, 2), 905)}},
           "solve_triangular(NaN in the triangle)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {1, 1, 0},
                     .in = {mat(3, 3, FV(2, 1, 1, NAN, 3, 1, INFINITY, 0, 4)), oe_randn(2, SH(3, 2), 906)}},
           "solve_triangular(NaN and inf off the triangle)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {tri(2, SH(3, 3), 907, false, false), mat(3, 2, FV(1, INFINITY, 2, 0, 3, 1))}},
           "solve_triangular(inf in B)");
    /* bad shapes */
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {tri(2, SH(3, 3), 908, false, false), oe_randn(1, SH(3), 909)}},
           "solve_triangular(vector B, refused)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {tri(2, SH(3, 3), 910, false, false), oe_randn(2, SH(4, 2), 911)}},
           "solve_triangular(B [4,2] for A [3,3], refused)");
}

static void cholesky_solve_cases(void) {
    for (int up = 0; up < 2; up++) {
        oe_run((oe_case){.op = "cholesky_solve",
                         .ip = {up},
                         .in = {oe_randn(2, SH(3, 2), 920), tri(2, SH(3, 3), 921, up, false)}},
               "cholesky_solve(upper %d, [3,3])", up);
        oe_run((oe_case){.op = "cholesky_solve",
                         .ip = {up},
                         .in = {oe_randn(3, SH(2, 4, 3), 922), tri(3, SH(2, 4, 4), 923, up, false)}},
               "cholesky_solve(upper %d, [2,4,4])", up);
        oe_run((oe_case){.op = "cholesky_solve",
                         .ip = {up},
                         .in = {oe_randn(3, SH(2, 3, 2), 924), tri(2, SH(3, 3), 925, up, false)}},
               "cholesky_solve(upper %d, broadcast factor [3,3])", up);
        oe_run((oe_case){.op = "cholesky_solve",
                         .ip = {up},
                         .in = {oe_randn(2, SH(3, 2), 926), tri(4, SH(2, 2, 3, 3), 927, up, false)}},
               "cholesky_solve(upper %d, broadcast B [3,2])", up);
        /* garbage off the factor's triangle is never read (compared without the factor's gradient,
         * which torch takes for the full matrix L L^T) */
        oe_run((oe_case){.op = "cholesky_solve",
                         .ip = {up},
                         .nograd = 2,
                         .in = {oe_randn(2, SH(3, 2), 928), tri(2, SH(3, 3), 929, up, true)}},
               "cholesky_solve(upper %d, garbage off the triangle)", up);
    }
    oe_run((oe_case){.op = "cholesky_solve", .in = {oe_f32(2, SH(0, 2), NULL), oe_f32(2, SH(0, 0), NULL)}},
           "cholesky_solve([0,0])");
    oe_run(
        (oe_case){.op = "cholesky_solve", .in = {oe_f32(3, SH(0, 3, 1), NULL), oe_f32(3, SH(0, 3, 3), NULL)}},
        "cholesky_solve(empty batch)");
    oe_run((oe_case){.op = "cholesky_solve",
                     .in = {oe_randn(2, SH(3, 1), 930), mat(3, 3, FV(2, 0, 0, 1, NAN, 0, 1, 1, 3))}},
           "cholesky_solve(NaN in the factor)");
    oe_run((oe_case){.op = "cholesky_solve",
                     .in = {oe_randn(2, SH(4, 1), 931), tri(2, SH(3, 3), 932, false, false)}},
           "cholesky_solve(B [4,1] for [3,3], refused)");
}

static void matrix_power_cases(void) {
    const int ks[] = {-3, -1, 0, 1, 2, 5};
    for (int i = 0; i < COUNT(ks); i++) {
        oe_run((oe_case){.op = "matrix_power", .ip = {ks[i]}, .in = {wc(2, SH(3, 3), 940)}},
               "matrix_power([3,3], %d)", ks[i]);
        oe_run((oe_case){.op = "matrix_power", .ip = {ks[i]}, .in = {wc(4, SH(2, 2, 3, 3), 941)}},
               "matrix_power([2,2,3,3], %d)", ks[i]);
        oe_run((oe_case){.op = "matrix_power", .ip = {ks[i]}, .in = {oe_f32(2, SH(0, 0), NULL)}},
               "matrix_power([0,0], %d)", ks[i]);
        oe_run((oe_case){.op = "matrix_power", .ip = {ks[i]}, .in = {oe_f32(3, SH(0, 2, 2), NULL)}},
               "matrix_power(empty batch, %d)", ks[i]);
        oe_run((oe_case){.op = "matrix_power", .ip = {ks[i]}, .in = {mat(2, 2, FV(1, 2, 2, 4))}},
               "matrix_power(singular, %d)", ks[i]);
    }
    oe_run((oe_case){.op = "matrix_power", .ip = {4}, .in = {mat(3, 3, FV(0, 1, 2, 1, 0, 3, 4, 5, 0))}},
           "matrix_power(pivoting, 4)");
    oe_run((oe_case){.op = "matrix_power", .ip = {-2}, .in = {mat(3, 3, FV(0, 1, 2, 1, 0, 3, 4, 5, 0))}},
           "matrix_power(pivoting, -2)");
    oe_run((oe_case){.op = "matrix_power", .ip = {3}, .in = {mat(2, 2, FV(1, NAN, 0, 1))}},
           "matrix_power(NaN, 3)");
    oe_run((oe_case){.op = "matrix_power", .ip = {-1}, .in = {mat(2, 2, FV(2, INFINITY, 0, 1))}},
           "matrix_power(inf, -1)");
    oe_run((oe_case){.op = "matrix_power", .ip = {2}, .in = {oe_randn(2, SH(2, 3), 942)}},
           "matrix_power(not square, refused)");
}

static void lu_cases(void) {
    const char *ops[] = {"lu_factor", "lu_factor_piv"};
    for (int o = 0; o < 2; o++) {
        const char *op = ops[o];
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_randn(2, SH(4, 4), 950)}}, "%s(randn [4,4])", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_randn(3, SH(3, 3, 3), 951)}}, "%s(randn [3,3,3])",
               op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {wc(4, SH(2, 1, 2, 2), 952)}}, "%s([2,1,2,2])", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_randn(2, SH(8, 8), 953)}}, "%s(randn [8,8])", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(0, 1, 0, 0, 0, 1, 1, 0, 0))}},
               "%s(permutation)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, SING_THIRDST)}},
               "%s(rank 2 with 1/3 multipliers)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(1, 2, 0, -1, 3, 1, 1, 0, 2))}},
               "%s(tied pivot candidates)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, SING_EXACT)}}, "%s(singular rank 2)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_f32(2, SH(3, 3), NULL)}}, "%s(zero matrix)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(1, 2, 3, 2, 4, 7, 3, 6, 8))}},
               "%s(rank 2 with 2/3 multipliers)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_f32(2, SH(0, 0), NULL)}}, "%s([0,0])", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_f32(3, SH(0, 3, 3), NULL)}}, "%s(empty batch)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(1, 1, FV(-2))}}, "%s([1,1])", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 1, 0, 1, 3, NAN, 0, 1, 4))}},
               "%s(NaN off the pivot column)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(1, 2, 0, NAN, 3, 1, 2, 0, 2))}},
               "%s(NaN in the pivot column)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 1, 0, 1, 3, INFINITY, 0, 1, 4))}},
               "%s(inf)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_randn(2, SH(2, 3), 954)}},
               "%s(not square, refused)", op);
    }
    /* not differentiable: nabla refuses an A that requires grad */
    oe_run((oe_case){.op = "lu_factor", .in = {oe_randn(2, SH(3, 3), 955)}},
           "lu_factor(A requires grad, refused)");

    /* lu_solve from nabla's own factors (the pivots 0-based; torch's side adds 1) */
    nb_tensor *piv = NULL, *lu = nb_lu_factor(oe_randn(2, SH(4, 4), 960), &piv);
    nb_tensor *pivb = NULL, *lub = nb_lu_factor(wc(3, SH(2, 3, 3), 961), &pivb);
    nb_tensor *pivp = NULL, *lup = nb_lu_factor(oe_f32(2, SH(3, 3), FV(0, 1, 2, 1, 0, 3, 4, 5, 0)), &pivp);
    nb_tensor *piv0 = NULL, *lu0 = nb_lu_factor(oe_f32(2, SH(0, 0), NULL), &piv0);
    for (int tr = 0; tr < 2; tr++) {
        oe_run(
            (oe_case){.op = "lu_solve", .ip = {tr}, .nograd = 1, .in = {lu, piv, oe_randn(2, SH(4, 2), 962)}},
            "lu_solve(trans %d, [4,4])", tr);
        oe_run(
            (oe_case){
                .op = "lu_solve", .ip = {tr}, .nograd = 1, .in = {lub, pivb, oe_randn(3, SH(2, 3, 3), 963)}},
            "lu_solve(trans %d, [2,3,3])", tr);
        oe_run(
            (oe_case){
                .op = "lu_solve", .ip = {tr}, .nograd = 1, .in = {lup, pivp, oe_randn(2, SH(3, 1), 964)}},
            "lu_solve(trans %d, pivoting)", tr);
        oe_run(
            (oe_case){
                .op = "lu_solve", .ip = {tr}, .nograd = 1, .in = {lu0, piv0, oe_f32(2, SH(0, 2), NULL)}},
            "lu_solve(trans %d, [0,0])", tr);
    }
    oe_run((oe_case){.op = "lu_solve", .nograd = 1, .in = {lu, piv, oe_f32(2, SH(4, 0), NULL)}},
           "lu_solve(B [4,0])");
    /* the batch dims broadcast: one factorisation against a batch of B, [2] against [4, 1] */
    oe_run((oe_case){.op = "lu_solve", .nograd = 1, .in = {lu, piv, oe_randn(3, SH(3, 4, 2), 967)}},
           "lu_solve(LU [4,4], B [3,4,2])");
    oe_run(
        (oe_case){
            .op = "lu_solve", .ip = {1}, .nograd = 1, .in = {lub, pivb, oe_randn(4, SH(4, 1, 3, 2), 968)}},
        "lu_solve(trans 1, LU [2,3,3], B [4,1,3,2])");
    oe_run((oe_case){.op = "lu_solve", .nograd = 1, .in = {lub, pivb, oe_randn(3, SH(3, 3, 2), 969)}},
           "lu_solve(LU [2,3,3], B [3,3,2], refused)");
    oe_run((oe_case){.op = "lu_solve", .nograd = 1, .in = {lu, piv, mat(4, 1, FV(1, NAN, 2, 3))}},
           "lu_solve(NaN in B)");
    oe_run((oe_case){.op = "lu_solve", .in = {lu, piv, oe_randn(2, SH(4, 2), 965)}},
           "lu_solve(LU requires grad, refused)");
    oe_run((oe_case){.op = "lu_solve",
                     .nograd = 1,
                     .in = {lu, oe_i32(1, SH(4), IV(3, 3, 4, 3)), oe_randn(2, SH(4, 1), 966)}},
           "lu_solve(pivot n, refused)");
    oe_run((oe_case){.op = "lu_solve",
                     .nograd = 1,
                     .in = {lu, oe_i32(1, SH(4), IV(-1, 1, 2, 3)), oe_randn(2, SH(4, 1), 967)}},
           "lu_solve(pivot -1, refused)");
    oe_run((oe_case){.op = "lu_solve",
                     .nograd = 1,
                     .in = {lu, oe_i32(1, SH(4), IV(1, 0, 2, 3)), oe_randn(2, SH(4, 1), 968)}},
           "lu_solve(pivot below its step, refused)");
    oe_run((oe_case){.op = "lu_solve", .nograd = 1, .in = {lub, pivb, oe_randn(2, SH(3, 2), 969)}},
           "lu_solve(B without LU's batch dims, refused)");
    oe_run((oe_case){.op = "lu_solve", .nograd = 1, .in = {lu, piv, oe_randn(2, SH(3, 2), 970)}},
           "lu_solve(B [3,2] for [4,4], refused)");
}

/* larger sizes: more than one 64-column block of right-hand sides, batches large enough for the
 * kernels' parallel loops, 16 x 16 matrices */
static void size_cases(void) {
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(4, 4), 980), oe_randn(2, SH(4, 70), 981)}},
           "solve(B [4,70]: two column blocks)");
    oe_run((oe_case){.op = "solve",
                     .ip = {1},
                     .in = {wc(3, SH(40, 10, 10), 982), oe_randn(3, SH(40, 10, 20), 983)}},
           "solve(A [40,10,10], B [40,10,20]: parallel)");
    oe_run((oe_case){.op = "solve", .ip = {1}, .in = {wc(2, SH(16, 16), 984), oe_randn(2, SH(16, 3), 985)}},
           "solve(A [16,16])");
    oe_run((oe_case){.op = "inverse", .in = {wc(2, SH(16, 16), 986)}}, "inverse([16,16])");
    oe_run((oe_case){.op = "inverse", .in = {wc(3, SH(40, 10, 10), 987)}}, "inverse([40,10,10]: parallel)");
    oe_run((oe_case){.op = "det", .in = {wc(2, SH(16, 16), 988)}}, "det([16,16])");
    oe_run((oe_case){.op = "slogdet", .in = {oe_randn(3, SH(40, 10, 10), 989)}},
           "slogdet(randn [40,10,10]: parallel)");
    oe_run((oe_case){.op = "cholesky", .in = {spd(2, SH(16, 16), 990)}}, "cholesky([16,16])");
    oe_run((oe_case){.op = "cholesky", .ip = {1}, .in = {spd(3, SH(40, 10, 10), 991)}},
           "cholesky(upper 1, [40,10,10]: parallel)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {0, 1, 0},
                     .in = {tri(2, SH(16, 16), 992, false, true), oe_randn(2, SH(16, 70), 993)}},
           "solve_triangular(A [16,16], B [16,70]: two column blocks)");
    oe_run((oe_case){.op = "solve_triangular",
                     .ip = {1, 0, 0},
                     .in = {tri(3, SH(40, 10, 10), 994, true, true), oe_randn(3, SH(40, 20, 10), 995)}},
           "solve_triangular(upper 1, left 0, [40,10,10]: parallel)");
    oe_run((oe_case){.op = "cholesky_solve",
                     .in = {oe_randn(2, SH(16, 70), 996), tri(2, SH(16, 16), 997, false, false)}},
           "cholesky_solve(B [16,70])");
    oe_run((oe_case){.op = "matrix_power", .ip = {-2}, .in = {wc(2, SH(16, 16), 998)}},
           "matrix_power([16,16], -2)");
    oe_run((oe_case){.op = "lu_factor", .nograd = 1, .in = {oe_randn(3, SH(40, 10, 10), 999)}},
           "lu_factor(randn [40,10,10]: parallel)");
    oe_run((oe_case){.op = "lu_factor_piv", .nograd = 1, .in = {oe_randn(3, SH(40, 10, 10), 999)}},
           "lu_factor_piv(randn [40,10,10]: parallel)");
}

/* symmetric matrices [..., n, n]: (M + M^T) / 2 times scale, M N(0,1) (exactly symmetric) */
static nb_tensor *sym(int ndim, const int64_t *shape, uint64_t seed, float scale) {
    const int64_t n = shape[ndim - 1], nb = n ? numel_of(ndim, shape) / (n * n) : 0;
    float *v = randn_vals(ndim, shape, seed);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < i; j++) {
                float *lo = v + (b * n + i) * n + j, *up = v + (b * n + j) * n + i;
                *lo = *up = (*lo + *up) * 0.5f;
            }
    if (scale != 1.0f)
        for (int64_t i = 0; i < nb * n * n; i++)
            v[i] *= scale;
    return take(ndim, shape, v);
}

static void eigh_cases(void) {
    /* eigvalsh and eigh's eigenvalues, eigh's eigenvectors (torch's scaled to nabla's signs on
     * its side), and V diag(exp(w)) V^T (sign-invariant: the eigenvectors' gradient through a
     * function of A) */
    const char *ops[] = {"eigvalsh", "eigh", "eigh_vecs", "eigh_fn"};
    for (int o = 0; o < COUNT(ops); o++) {
        const char *op = ops[o];
        const uint64_t s = 1000 + 20 * (uint64_t)o;
        oe_run((oe_case){.op = op, .in = {sym(2, SH(3, 3), s, 1)}}, "%s(sym [3,3])", op);
        oe_run((oe_case){.op = op, .in = {sym(3, SH(2, 4, 4), s + 1, 1)}}, "%s(sym [2,4,4])", op);
        oe_run((oe_case){.op = op, .in = {sym(4, SH(2, 2, 3, 3), s + 2, 1)}}, "%s(sym [2,2,3,3])", op);
        oe_run((oe_case){.op = op, .in = {sym(2, SH(8, 8), s + 3, 1)}}, "%s(sym [8,8])", op);
        oe_run((oe_case){.op = op, .in = {sym(2, SH(2, 2), s + 4, 1)}}, "%s(sym [2,2])", op);
        /* only the lower triangle is read (torch's UPLO 'L'): the gradient is the rule's,
         * symmetric in both */
        oe_run((oe_case){.op = op, .in = {oe_randn(2, SH(4, 4), s + 5)}}, "%s(not symmetric [4,4])", op);
        oe_run((oe_case){.op = op, .in = {oe_randn(3, SH(2, 3, 3), s + 6)}}, "%s(not symmetric [2,3,3])", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(2, NAN, 1e30f, 1, 3, INFINITY, -1, 0.5f, 4))}},
               "%s(NaN, inf and 1e30 above the diagonal)", op);
        /* diagonal: sorted, unsorted, negative */
        oe_run((oe_case){.op = op, .in = {mat(4, 4, FV(1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4))}},
               "%s(diagonal sorted)", op);
        oe_run((oe_case){.op = op, .in = {mat(4, 4, FV(3, 0, 0, 0, 0, -1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0.5f))}},
               "%s(diagonal unsorted)", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(-1, 0, 0, 0, -3, 0, 0, 0, -2))}},
               "%s(diagonal negative)", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(3, 5, -7, 0, 1, 9, 0, 0, 2))}},
               "%s(diagonal with garbage above)", op);
        oe_run((oe_case){.op = op, .in = {mat(1, 1, FV(-2.5f))}}, "%s([1,1])", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(3, SH(3, 1, 1), FV(4, -1, 0))}}, "%s([3,1,1])", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(2, SH(0, 0), NULL)}}, "%s([0,0])", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(3, SH(0, 3, 3), NULL)}}, "%s(empty batch [0,3,3])", op);
        oe_run((oe_case){.op = op, .in = {oe_f32(3, SH(2, 0, 0), NULL)}}, "%s([2,0,0])", op);
        /* near-degenerate but distinct: the gradient's 1 / (w_j - w_i) is large */
        oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(1, 0, 1e-3f, 1.001f))}}, "%s(close eigenvalues)", op);
        /* values far from 1 (not for eigh_fn: exp overflows at 1e20, and at 1e-20 exp(w) rounds to 1
         * in float32, leaving V V^T = I, whose gradient is rounding noise) */
        if (o != 3) {
            oe_run((oe_case){.op = op, .in = {sym(2, SH(4, 4), s + 7, 1e20f)}}, "%s(sym [4,4] times 1e20)",
                   op);
            oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(3e38f, 0, 1e38f, -3e38f))}}, "%s(near FLT_MAX)",
                   op);
            oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(3e38f, 0, 3e38f, 3e38f))}},
                   "%s(eigenvalue past FLT_MAX)", op);
        }
        if (o != 3) {
            oe_run((oe_case){.op = op, .in = {sym(2, SH(4, 4), s + 8, 1e-20f)}}, "%s(sym [4,4] times 1e-20)",
                   op);
            oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(1e-40f, 0, 1e-41f, 2e-40f))}}, "%s(subnormal)",
                   op);
        }
        /* larger: 16 x 16, and a batch for the parallel loop */
        oe_run((oe_case){.op = op, .in = {sym(2, SH(16, 16), s + 9, 1)}}, "%s(sym [16,16])", op);
        oe_run((oe_case){.op = op, .in = {sym(3, SH(40, 5, 5), s + 10, 1)}}, "%s(sym [40,5,5]: parallel)",
               op);
        /* bad shapes: an error in both */
        oe_run((oe_case){.op = op, .in = {oe_randn(2, SH(2, 3), s + 11)}}, "%s(not square, refused)", op);
        oe_run((oe_case){.op = op, .in = {oe_randn(1, SH(3), s + 12)}}, "%s(1-d, refused)", op);
    }
    /* repeated eigenvalues: the eigenvalues alone (the eigenvectors of a repeated eigenvalue are
     * any basis of its space, and the gradient through them is infinite) */
    const char *vops[] = {"eigvalsh", "eigh"};
    for (int o = 0; o < COUNT(vops); o++) {
        const char *op = vops[o];
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_f32(2, SH(3, 3), NULL)}}, "%s(zero matrix)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(1, 0, 0, 0, 1, 0, 0, 0, 1))}},
               "%s(identity)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 0, 0, 0, 5, 0, 0, 0, 2))}},
               "%s(diagonal with a repeat)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 1, 1, 1, 2, 1, 1, 1, 2))}},
               "%s(repeated eigenvalue 1, 1, 4)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(1, 1, 1, 1, 1, 1, 1, 1, 1))}},
               "%s(ones: 0, 0, 3)", op);
        oe_run((oe_case){.op = op,
                         .nograd = 1,
                         .in = {mat(4, 4, FV(2, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0, 0, 0, 1, 2))}},
               "%s(two repeated pairs 1, 1, 3, 3)", op);
        /* non-finite entries in the lower triangle */
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 0, 0, NAN, 3, 0, 0, 0, 4))}},
               "%s(NaN below the diagonal)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(NAN, 0, 0, 1, 3, 0, 0, 0, 4))}},
               "%s(NaN on the diagonal)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 0, 0, INFINITY, 3, 0, 0, 0, 4))}},
               "%s(inf below the diagonal)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(-INFINITY, 0, 0, 0, 3, 0, 0, 0, 4))}},
               "%s(-inf on a diagonal)", op);
        oe_run((oe_case){.op = op, .nograd = 1, .in = {mat(3, 3, FV(2, 0, 0, 1, INFINITY, 0, 0, 0, 4))}},
               "%s(inf on the diagonal, coupled)", op);
    }
    /* a NaN in one matrix of a batch leaves the others alone */
    for (int o = 0; o < 3; o++) {
        const char *op = (const char *[]){"eigvalsh", "eigh", "eigh_vecs"}[o];
        oe_run((oe_case){.op = op, .nograd = 1, .in = {oe_f32(3, SH(2, 2, 2), FV(2, 0, 1, 3, 2, 0, NAN, 3))}},
               "%s(NaN in the second of the batch)", op);
    }
    /* eigenvectors (1, -+1) / sqrt 2 and (1, 1, 0) / sqrt 2: two entries of largest magnitude, the
     * first made positive */
    oe_run((oe_case){.op = "eigh_vecs", .in = {mat(2, 2, FV(2, 0, 1, 2))}},
           "eigh_vecs(tied largest entries [2,2])");
    oe_run((oe_case){.op = "eigh_vecs", .in = {mat(3, 3, FV(2, 0, 0, -1, 2, 0, 0, 0, 5))}},
           "eigh_vecs(tied largest entries [3,3])");
    oe_run((oe_case){.op = "eigh_vecs", .nograd = 1, .in = {mat(3, 3, FV(2, 0, 0, NAN, 3, 0, 0, 0, 4))}},
           "eigh_vecs(NaN below the diagonal)");
    oe_run((oe_case){.op = "eigh_vecs", .nograd = 1, .in = {mat(3, 3, FV(2, 0, 0, INFINITY, 3, 0, 0, 0, 4))}},
           "eigh_vecs(inf below the diagonal)");
}

static void qr_cases(void) {
    /* Q, R, and both (the gradient through both), reduced and complete */
    const char *ops[] = {"qr", "qr_r", "qr_qr"};
    for (int o = 0; o < COUNT(ops); o++)
        for (int cm = 0; cm < 2; cm++) {
            const char *op = ops[o];
            const uint64_t s = 1100 + 40 * (uint64_t)(o * 2 + cm);
            /* a complete QR with m > n has no gradient (Q's last columns are not unique): an error
             * in the backward in both */
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(2, SH(5, 3), s)}},
                   "%s(complete %d, tall [5,3])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(2, SH(4, 4), s + 1)}},
                   "%s(complete %d, square [4,4])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(2, SH(3, 5), s + 2)}},
                   "%s(complete %d, wide [3,5])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(3, SH(2, 4, 3), s + 3)}},
                   "%s(complete %d, batched tall [2,4,3])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(4, SH(2, 2, 2, 4), s + 4)}},
                   "%s(complete %d, batched wide [2,2,2,4])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(3, SH(3, 3, 3), s + 5)}},
                   "%s(complete %d, batched square [3,3,3])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(2, SH(1, 4), s + 6)}},
                   "%s(complete %d, [1,4])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(2, SH(4, 1), s + 7)}},
                   "%s(complete %d, [4,1])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {mat(1, 1, FV(-3))}},
                   "%s(complete %d, [1,1] negative)", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_f32(2, SH(0, 3), NULL)}},
                   "%s(complete %d, [0,3])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_f32(2, SH(3, 0), NULL)}},
                   "%s(complete %d, [3,0])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_f32(2, SH(0, 0), NULL)}},
                   "%s(complete %d, [0,0])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_f32(3, SH(0, 4, 3), NULL)}},
                   "%s(complete %d, empty batch [0,4,3])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_f32(3, SH(2, 3, 0), NULL)}},
                   "%s(complete %d, [2,3,0])", op, cm);
            /* already triangular, with negative and positive diagonals (no reflection where the
             * column below is 0: R keeps the signs) */
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {mat(3, 3, FV(-2, 1, 3, 0, 4, -1, 0, 0, -5))}},
                   "%s(complete %d, upper triangular)", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(2, SH(16, 10), s + 8)}},
                   "%s(complete %d, [16,10])", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(3, SH(40, 4, 3), s + 9)}},
                   "%s(complete %d, [40,4,3]: parallel)", op, cm);
            /* an ill-conditioned leading block (condition 400, 970): R^-1 amplifies the rounding in
             * the gradient */
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {mat(2, 4, FV(1, 1, 0.5f, -1, 1, 1.01f, 2, 0.3f))}},
                   "%s(complete %d, wide, ill-conditioned leading block)", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {mat(3, 3, FV(1, 1, 0.5f, 1, 1.01f, 2, -1, -1, 1))}},
                   "%s(complete %d, square, ill-conditioned)", op, cm);
            /* values far from 1 */
            oe_run((oe_case){.op = op,
                             .ip = {cm},
                             .in = {mat(3, 2, FV(1e20f, -3e20f, 2e20f, 1e20f, -2e20f, 5e19f))}},
                   "%s(complete %d, entries near 1e20)", op, cm);
            oe_run((oe_case){.op = op,
                             .ip = {cm},
                             .in = {mat(3, 2, FV(1e-20f, -3e-20f, 2e-20f, 1e-20f, -2e-20f, 5e-21f))}},
                   "%s(complete %d, entries near 1e-20)", op, cm);
            /* rank-deficient (no gradient: R is singular): a zero column, two equal columns whose
             * elimination is exact (with float's rounding a column of noise below the diagonal
             * would pick Q's column arbitrarily, differently in float32 and float64) */
            oe_run(
                (oe_case){
                    .op = op, .ip = {cm}, .nograd = 1, .in = {mat(3, 3, FV(1, 0, 2, 3, 0, 4, 5, 0, 6))}},
                "%s(complete %d, zero column)", op, cm);
            oe_run((oe_case){.op = op,
                             .ip = {cm},
                             .nograd = 1,
                             .in = {mat(4, 3, FV(1, 0, 2, 3, 0, 4, 5, 0, 6, 7, 0, -8))}},
                   "%s(complete %d, tall with a zero column)", op, cm);
            oe_run(
                (oe_case){
                    .op = op, .ip = {cm}, .nograd = 1, .in = {mat(3, 3, FV(1, 2, 2, 3, -1, -1, 5, 4, 4))}},
                "%s(complete %d, last two columns equal)", op, cm);
            oe_run((oe_case){.op = op,
                             .ip = {cm},
                             .nograd = 1,
                             .in = {mat(4, 3, FV(3, 3, 1, 4, 4, -2, 0, 0, 2, 0, 0, 1))}},
                   "%s(complete %d, first two columns equal)", op, cm);
            oe_run((oe_case){.op = op, .ip = {cm}, .nograd = 1, .in = {oe_f32(2, SH(3, 2), NULL)}},
                   "%s(complete %d, zero matrix)", op, cm);
            /* non-finite entries */
            oe_run((oe_case){.op = op, .ip = {cm}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, NAN, 3, 4, 5))}},
                   "%s(complete %d, NaN)", op, cm);
            oe_run(
                (oe_case){.op = op, .ip = {cm}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, 3, 4, 5, INFINITY))}},
                "%s(complete %d, inf in the last column)", op, cm);
            oe_run(
                (oe_case){.op = op, .ip = {cm}, .nograd = 1, .in = {mat(3, 2, FV(INFINITY, 2, 3, 4, 5, 6))}},
                "%s(complete %d, inf leading)", op, cm);
            /* a -0 leading entry: LAPACK's beta = -sign(alpha) |x| takes the zero's sign */
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {mat(3, 2, FV(-0.0f, 1, 3, 2, 4, 5))}},
                   "%s(complete %d, -0 leading entry)", op, cm);
            /* bad shapes */
            oe_run((oe_case){.op = op, .ip = {cm}, .in = {oe_randn(1, SH(3), s + 10)}},
                   "%s(complete %d, 1-d, refused)", op, cm);
        }
}

/* ---- the SVD and what rests on it (ops/svd.c) ------------------------------------------------ */

/* Rank-deficient matrices whose deficiency is exact: a zero column, two equal columns, the
 * integer rank-2 SING_EXACT, a wide one with two equal rows, and the rank-1 ones matrix. */
#define RD_ZERO_COL FV(1, 0, 2, 3, 0, 4, 5, 0, 6)
#define RD_EQ_COLS  FV(1, 1, 2, 3, 3, -1, 5, 5, 0, -2, -2, 4)
#define RD_EQ_ROWS  FV(1, 2, 0, -1, 3, 2, 1, 1, 0, 4, 1, 2, 0, -1, 3)
#define ONES_3      FV(1, 1, 1, 1, 1, 1, 1, 1, 1)
/* repeated singular values: the identity, diag(2, 5, 2), (4, 1, 1), a Hadamard matrix (2 four times) */
#define EYE_3      FV(1, 0, 0, 0, 1, 0, 0, 0, 1)
#define DIAG_REP   FV(2, 0, 0, 0, 5, 0, 0, 0, 2)
#define SYM_411    FV(2, 1, 1, 1, 2, 1, 1, 1, 2)
#define HADAMARD_4 FV(1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1)

/* The random shapes every SVD op meets (full rank, distinct singular values): tall, square,
 * wide, batched, 1 x n, n x 1, 1 x 1, larger, a parallel batch, and the 0-size ones. */
static void svd_random(const char *op, int ip0, const char *pre, unsigned ng, uint64_t s, bool values_far) {
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(5, 3), s)}},
           "%s(%stall [5,3])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(4, 4), s + 1)}},
           "%s(%ssquare [4,4])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(3, 5), s + 2)}},
           "%s(%swide [3,5])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(3, SH(2, 4, 3), s + 3)}},
           "%s(%sbatched tall [2,4,3])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(4, SH(2, 2, 2, 4), s + 4)}},
           "%s(%sbatched wide [2,2,2,4])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(3, SH(3, 3, 3), s + 5)}},
           "%s(%sbatched square [3,3,3])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(1, 4), s + 6)}},
           "%s(%s[1,4])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(4, 1), s + 7)}},
           "%s(%s[4,1])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {mat(1, 1, FV(-3))}}, "%s(%s[1,1] negative)",
           op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_f32(3, SH(3, 1, 1), FV(2, -0.5f, 4))}},
           "%s(%s[3,1,1])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(16, 10), s + 8)}},
           "%s(%s[16,10])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(2, SH(7, 12), s + 9)}},
           "%s(%s[7,12])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_randn(3, SH(40, 4, 3), s + 10)}},
           "%s(%s[40,4,3]: parallel)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_f32(2, SH(0, 3), NULL)}}, "%s(%s[0,3])",
           op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_f32(2, SH(3, 0), NULL)}}, "%s(%s[3,0])",
           op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_f32(2, SH(0, 0), NULL)}}, "%s(%s[0,0])",
           op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_f32(3, SH(0, 4, 3), NULL)}},
           "%s(%sempty batch [0,4,3])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {oe_f32(3, SH(2, 3, 0), NULL)}},
           "%s(%s[2,3,0])", op, pre);
    /* close but distinct singular values (1, 1.001): U's and V's gradient holds 1 / (s_j^2 - s_k^2) */
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {mat(2, 2, FV(1, 0, 0, 1.001f))}},
           "%s(%sclose singular values)", op, pre);
    oe_run(
        (oe_case){
            .op = op, .ip = {ip0}, .nograd = ng, .in = {mat(3, 3, FV(1, 1, 0.5f, 1, 1.01f, 2, -1, -1, 1))}},
        "%s(%sill-conditioned [3,3])", op, pre);
    if (!values_far) return;
    oe_run((oe_case){.op = op,
                     .ip = {ip0},
                     .nograd = ng,
                     .in = {mat(3, 2, FV(1e20f, -3e20f, 2e20f, 1e20f, -2e20f, 5e19f))}},
           "%s(%sentries near 1e20)", op, pre);
    oe_run((oe_case){.op = op,
                     .ip = {ip0},
                     .nograd = ng,
                     .in = {mat(3, 2, FV(1e-20f, -3e-20f, 2e-20f, 1e-20f, -2e-20f, 5e-21f))}},
           "%s(%sentries near 1e-20)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {mat(2, 2, FV(1e38f, 2e38f, -1e38f, 1e38f))}},
           "%s(%sentries near FLT_MAX)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = ng, .in = {mat(2, 2, FV(1e-40f, 0, 1e-41f, 2e-40f))}},
           "%s(%ssubnormal)", op, pre);
}

/* rank-deficient, zero and repeated-singular-value matrices, and non-finite entries: the values
 * (no gradient: the singular vectors of a repeated or zero singular value are any basis of their
 * space) */
static void svd_degenerate(const char *op, int ip0, const char *pre) {
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 3, RD_ZERO_COL)}}, "%s(%szero column)",
           op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(4, 3, RD_EQ_COLS)}},
           "%s(%sequal columns [4,3])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 3, SING_EXACT)}},
           "%s(%sinteger rank 2)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 5, RD_EQ_ROWS)}},
           "%s(%sequal rows [3,5])", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 3, ONES_3)}}, "%s(%sones: rank 1)", op,
           pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {oe_f32(2, SH(3, 2), NULL)}},
           "%s(%szero matrix)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(1, 1, FV(0))}}, "%s(%s[1,1] zero)", op,
           pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 3, EYE_3)}}, "%s(%sidentity)", op,
           pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 3, DIAG_REP)}},
           "%s(%sdiagonal with a repeat)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 3, SYM_411)}},
           "%s(%srepeated singular value 4, 1, 1)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(4, 4, HADAMARD_4)}},
           "%s(%sHadamard: 2, 2, 2, 2)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, NAN, 3, 4, 5))}},
           "%s(%sNaN)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, 3, 4, 5, INFINITY))}},
           "%s(%sinf)", op, pre);
    oe_run((oe_case){.op = op, .ip = {ip0}, .nograd = 1, .in = {mat(2, 3, FV(-INFINITY, 2, 3, 4, 5, 6))}},
           "%s(%s-inf, wide)", op, pre);
    oe_run(
        (oe_case){
            .op = op, .ip = {ip0}, .nograd = 1, .in = {oe_f32(3, SH(2, 2, 2), FV(2, 1, 0, 3, 2, 0, NAN, 3))}},
        "%s(%sNaN in the second of the batch)", op, pre);
}

static void svd_cases(void) {
    /* the singular values (nb_svdvals, and nb_svd's with U and Vh asked for), U and Vh (torch's
     * scaled on its side to nabla's sign rule: each row of Vh with its leading entry positive, U's
     * columns flipped alike), U diag(exp(s)) Vh (sign-invariant) and U diag(s) Vh (A again: the
     * whole rule at once) */
    const char *ops[] = {"svdvals", "svd", "svd_u", "svd_vh", "svd_fn", "svd_fn"};
    for (int o = 0; o < COUNT(ops); o++) {
        const int ip0 = o == 5; /* svd_fn: 0 exp, 1 the identity */
        const char *op = ops[o], *pre = o == 4 ? "exp, " : o == 5 ? "id, " : "";
        svd_random(op, ip0, pre, 0, 1300 + 30 * (uint64_t)o, o != 4);
        oe_run((oe_case){.op = op, .ip = {ip0}, .in = {mat(2, 3, FV(1, 1, 0.5f, -1, 1.01f, 2))}},
               "%s(%swide, ill-conditioned)", op, pre);
    }
    svd_degenerate("svdvals", 0, "");
    svd_degenerate("svd", 0, "");
    svd_degenerate("svd_fn", 1, "id, ");
    svd_degenerate("svd_orth", 0, "");
    /* U^T U and Vh Vh^T (I, whatever the basis): the completed singular vectors are orthonormal */
    svd_random("svd_orth", 0, "", 1, 1500, true);
    /* full_matrices: the square U and Vh orthogonal, the projectors on their completed columns;
     * values only: a gradient through U^T U mixes in the completed columns (another basis in
     * torch), and both rules narrow their own gradient away (tests/test_ops_decomp.c checks that) */
    svd_random("svd_full", 0, "", 1, 1600, true);
    /* svdvals' gradient U diag(g) Vh at repeated or zero singular values: finite, and the same up
     * to the basis of their space (ops_edge_parity.py's svd-repeated-basis) */
    oe_run((oe_case){.op = "svdvals", .in = {mat(3, 3, EYE_3)}}, "svdvals(grad, identity)");
    oe_run((oe_case){.op = "svdvals", .in = {mat(3, 3, DIAG_REP)}}, "svdvals(grad, diagonal with a repeat)");
    oe_run((oe_case){.op = "svdvals", .in = {mat(3, 3, SYM_411)}}, "svdvals(grad, repeated 4, 1, 1)");
    oe_run((oe_case){.op = "svdvals", .in = {mat(4, 4, HADAMARD_4)}}, "svdvals(grad, Hadamard)");
    oe_run((oe_case){.op = "svdvals", .in = {oe_f32(2, SH(3, 2), NULL)}}, "svdvals(grad, zero matrix)");
    oe_run((oe_case){.op = "svdvals", .in = {mat(3, 3, RD_ZERO_COL)}}, "svdvals(grad, zero column)");
    oe_run((oe_case){.op = "svdvals", .in = {mat(3, 3, ONES_3)}}, "svdvals(grad, ones: rank 1)");
    oe_run((oe_case){.op = "svdvals", .in = {mat(4, 3, RD_EQ_COLS)}}, "svdvals(grad, equal columns [4,3])");
    /* right singular vectors (1, +-1) / sqrt 2 and (1, +-1, 0) / sqrt 2: two entries of largest
     * magnitude, the first made positive (U's columns follow) */
    for (int o = 0; o < 2; o++) {
        const char *op = o ? "svd_vh" : "svd_u";
        oe_run((oe_case){.op = op, .in = {mat(2, 2, FV(2, 2, 1, -1))}}, "%s(tied largest entries [2,2])", op);
        oe_run((oe_case){.op = op, .in = {mat(3, 3, FV(3, 3, 0, 1, -1, 0, 0, 0, 0.5f))}},
               "%s(tied largest entries [3,3])", op);
        oe_run((oe_case){.op = op, .in = {mat(2, 3, FV(-3, 3, 0, 1, 1, 0.5f))}},
               "%s(tied largest entries, wide)", op);
    }
    /* the singular value past FLT_MAX: inf in both */
    oe_run((oe_case){.op = "svdvals", .nograd = 1, .in = {mat(2, 2, FV(3e38f, 3e38f, 3e38f, 3e38f))}},
           "svdvals(singular value past FLT_MAX)");
    /* bad shapes */
    oe_run((oe_case){.op = "svdvals", .in = {oe_randn(1, SH(3), 1510)}}, "svdvals(1-d, refused)");
    oe_run((oe_case){.op = "svd", .in = {oe_randn(1, SH(3), 1511)}}, "svd(1-d, refused)");
}

static void pinv_cases(void) {
    /* default rtol (fp[0] < 0): full rank tall, square, wide, batched, with gradients */
    const float def = -1.0f;
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(2, SH(5, 3), 1520)}}, "pinv(tall [5,3])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {wc(2, SH(4, 4), 1521)}}, "pinv(square [4,4])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(2, SH(3, 5), 1522)}}, "pinv(wide [3,5])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(3, SH(2, 4, 3), 1523)}},
           "pinv(batched tall [2,4,3])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(4, SH(2, 2, 2, 4), 1524)}},
           "pinv(batched wide [2,2,2,4])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(2, SH(1, 4), 1525)}}, "pinv([1,4])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(2, SH(4, 1), 1526)}}, "pinv([4,1])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(1, 1, FV(-4))}}, "pinv([1,1])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(2, SH(16, 10), 1527)}}, "pinv([16,10])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(3, SH(40, 3, 4), 1528)}},
           "pinv([40,3,4]: parallel)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(3, 3, FV(1, 1, 0.5f, 1, 1.01f, 2, -1, -1, 1))}},
           "pinv(ill-conditioned [3,3])");
    oe_run((oe_case){.op = "pinv",
                     .fp = {def},
                     .in = {mat(3, 2, FV(1e20f, -3e20f, 2e20f, 1e20f, -2e20f, 5e19f))}},
           "pinv(entries near 1e20)");
    oe_run((oe_case){.op = "pinv",
                     .fp = {def},
                     .in = {mat(3, 2, FV(1e-10f, -3e-10f, 2e-10f, 1e-10f, -2e-10f, 5e-11f))}},
           "pinv(entries near 1e-10)");
    /* 0-size */
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_f32(2, SH(0, 3), NULL)}}, "pinv([0,3])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_f32(2, SH(3, 0), NULL)}}, "pinv([3,0])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_f32(2, SH(0, 0), NULL)}}, "pinv([0,0])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_f32(3, SH(2, 3, 0), NULL)}}, "pinv([2,3,0])");
    /* rank-deficient and zero (the gradient where the rank stays: both use torch's rule) */
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(3, 3, RD_ZERO_COL)}}, "pinv(zero column)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(4, 3, RD_EQ_COLS)}}, "pinv(equal columns [4,3])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(3, 3, SING_EXACT)}}, "pinv(integer rank 2)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(3, 5, RD_EQ_ROWS)}}, "pinv(equal rows [3,5])");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(3, 3, ONES_3)}}, "pinv(ones: rank 1)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_f32(2, SH(3, 2), NULL)}}, "pinv(zero matrix)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(1, 1, FV(0))}}, "pinv([1,1] zero)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {mat(4, 4, HADAMARD_4)}}, "pinv(Hadamard)");
    /* rtol given: 0 keeps every nonzero value; 0.2 drops 0.1 of diag(4, 1, 0.1) (and a small one of
     * a random matrix) */
    oe_run((oe_case){.op = "pinv", .fp = {0.0f}, .in = {oe_randn(2, SH(4, 3), 1529)}}, "pinv(rtol 0)");
    oe_run((oe_case){.op = "pinv", .fp = {0.0f}, .in = {mat(3, 3, RD_ZERO_COL)}},
           "pinv(rtol 0, zero column)");
    oe_run(
        (oe_case){
            .op = "pinv", .fp = {0.2f}, .nograd = 1, .in = {mat(3, 3, FV(4, 0, 0, 0, 1, 0, 0, 0, 0.1f))}},
        "pinv(rtol 0.2, diag(4, 1, 0.1))");
    oe_run((oe_case){.op = "pinv",
                     .fp = {0.5f},
                     .nograd = 1,
                     .in = {mat(3, 3, FV(3, 1, 0, 1, 3, 0.5f, 0, 0.5f, 0.4f))}},
           "pinv(rtol 0.5 drops the smallest)");
    oe_run((oe_case){.op = "pinv", .fp = {2.0f}, .in = {oe_randn(2, SH(3, 3), 1530)}},
           "pinv(rtol 2: all dropped)");
    /* non-finite */
    oe_run((oe_case){.op = "pinv", .fp = {def}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, NAN, 3, 4, 5))}},
           "pinv(NaN)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, 3, 4, 5, INFINITY))}},
           "pinv(inf)");
    oe_run((oe_case){.op = "pinv", .fp = {NAN}, .in = {oe_randn(2, SH(3, 3), 1531)}},
           "pinv(rtol NaN, refused)");
    oe_run((oe_case){.op = "pinv", .fp = {def}, .in = {oe_randn(1, SH(3), 1532)}}, "pinv(1-d, refused)");
}

static void lstsq_cases(void) {
    /* ip[0]: torch's driver, 0 its CPU default gelsy, 1 gelsd (both give the minimum-norm solution) */
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(5, 3), 1540), oe_randn(2, SH(5, 2), 1541)}},
           "lstsq(tall A [5,3], B [5,2])");
    oe_run((oe_case){.op = "lstsq", .in = {wc(2, SH(4, 4), 1542), oe_randn(2, SH(4, 3), 1543)}},
           "lstsq(square A [4,4], B [4,3])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(3, 5), 1544), oe_randn(2, SH(3, 2), 1545)}},
           "lstsq(wide A [3,5], B [3,2]: minimum norm)");
    oe_run(
        (oe_case){.op = "lstsq", .ip = {1}, .in = {oe_randn(2, SH(3, 5), 1546), oe_randn(2, SH(3, 2), 1547)}},
        "lstsq(gelsd, wide A [3,5], B [3,2])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(3, SH(2, 4, 3), 1548), oe_randn(3, SH(2, 4, 2), 1549)}},
           "lstsq(batched A [2,4,3], B [2,4,2])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(3, SH(2, 4, 3), 1550), oe_randn(3, SH(1, 4, 2), 1551)}},
           "lstsq(broadcast A [2,4,3], B [1,4,2])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(6, 2), 1552), oe_randn(2, SH(6, 1), 1553)}},
           "lstsq(line fit [6,2], B [6,1])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(4, 1), 1554), oe_randn(2, SH(4, 3), 1555)}},
           "lstsq(A [4,1])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(1, 4), 1556), oe_randn(2, SH(1, 2), 1557)}},
           "lstsq(A [1,4])");
    oe_run((oe_case){.op = "lstsq", .in = {mat(1, 1, FV(2)), mat(1, 1, FV(-3))}}, "lstsq([1,1])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(16, 10), 1558), oe_randn(2, SH(16, 3), 1559)}},
           "lstsq(A [16,10])");
    /* an exact fit (B = A X for an integer X) */
    oe_run((oe_case){.op = "lstsq", .in = {mat(4, 2, FV(1, 0, 1, 1, 1, 2, 1, 3)), mat(4, 1, FV(1, 3, 5, 7))}},
           "lstsq(exact fit)");
    /* 0-size */
    oe_run((oe_case){.op = "lstsq", .in = {oe_f32(2, SH(3, 0), NULL), oe_randn(2, SH(3, 2), 1560)}},
           "lstsq(A [3,0])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_f32(2, SH(0, 3), NULL), oe_f32(2, SH(0, 2), NULL)}},
           "lstsq(A [0,3], B [0,2])");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(4, 3), 1561), oe_f32(2, SH(4, 0), NULL)}},
           "lstsq(B [4,0])");
    /* rank-deficient (gelsd on torch's side: the minimum-norm solution) */
    oe_run((oe_case){.op = "lstsq", .ip = {1}, .in = {mat(3, 3, RD_ZERO_COL), oe_randn(2, SH(3, 2), 1562)}},
           "lstsq(gelsd, zero column)");
    oe_run((oe_case){.op = "lstsq", .ip = {1}, .in = {mat(4, 3, RD_EQ_COLS), oe_randn(2, SH(4, 2), 1563)}},
           "lstsq(gelsd, equal columns [4,3])");
    oe_run((oe_case){.op = "lstsq", .ip = {1}, .in = {mat(3, 3, SING_EXACT), oe_randn(2, SH(3, 1), 1564)}},
           "lstsq(gelsd, integer rank 2)");
    oe_run((oe_case){.op = "lstsq", .ip = {1}, .in = {mat(3, 5, RD_EQ_ROWS), oe_randn(2, SH(3, 2), 1565)}},
           "lstsq(gelsd, equal rows [3,5])");
    oe_run(
        (oe_case){.op = "lstsq", .ip = {1}, .in = {oe_f32(2, SH(3, 2), NULL), oe_randn(2, SH(3, 2), 1566)}},
        "lstsq(gelsd, zero A)");
    oe_run((oe_case){.op = "lstsq", .ip = {0}, .in = {mat(3, 3, RD_ZERO_COL), oe_randn(2, SH(3, 2), 1567)}},
           "lstsq(gelsy, zero column)");
    /* non-finite: in B (propagates), in A (NaN throughout in nabla) */
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(3, 2), 1568), mat(3, 1, FV(1, NAN, 2))}},
           "lstsq(NaN in B)");
    oe_run((oe_case){.op = "lstsq",
                     .nograd = 3,
                     .in = {mat(3, 2, FV(1, 2, NAN, 3, 4, 5)), mat(3, 1, FV(1, 1, 1))}},
           "lstsq(NaN in A)");
    /* bad shapes */
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(4, 3), 1569), oe_randn(2, SH(3, 2), 1570)}},
           "lstsq(B rows differ, refused)");
    oe_run((oe_case){.op = "lstsq", .in = {oe_randn(2, SH(4, 3), 1571), oe_randn(1, SH(4), 1572)}},
           "lstsq(vector b, refused)");
}

static void rank_cases(void) {
    const float def = -1.0f;
    struct {
        float rtol;
        int ndim;
        const int64_t *shape;
        const float *v;
        uint64_t seed;
        const char *name;
    } cs[] = {
        {def, 2, SH(5, 3), NULL, 1580, "tall [5,3]"},
        {def, 2, SH(3, 5), NULL, 1581, "wide [3,5]"},
        {def, 3, SH(4, 3, 3), NULL, 1582, "batched [4,3,3]"},
        {def, 2, SH(0, 3), NULL, 0, "[0,3]"},
        {def, 2, SH(0, 0), NULL, 0, "[0,0]"},
        {def, 3, SH(2, 3, 0), NULL, 0, "[2,3,0]"},
        {def, 2, SH(3, 3), RD_ZERO_COL, 0, "zero column"},
        {def, 2, SH(4, 3), RD_EQ_COLS, 0, "equal columns [4,3]"},
        {def, 2, SH(3, 3), SING_EXACT, 0, "integer rank 2"},
        {def, 2, SH(3, 3), SING_THIRDS, 0, "rank 2 with thirds"},
        {def, 2, SH(3, 5), RD_EQ_ROWS, 0, "equal rows [3,5]"},
        {def, 2, SH(3, 3), ONES_3, 0, "ones: rank 1"},
        {def, 2, SH(3, 2), FV(0, 0, 0, 0, 0, 0), 0, "zero matrix"},
        {def, 2, SH(1, 1), FV(0), 0, "[1,1] zero"},
        {def, 2, SH(1, 1), FV(-2), 0, "[1,1]"},
        {def, 2, SH(4, 4), HADAMARD_4, 0, "Hadamard"},
        {def, 2, SH(3, 3), FV(1e-30f, 0, 0, 0, 2e-30f, 0, 0, 0, 3e-30f), 0, "tiny diagonal"},
        {def, 2, SH(2, 2), FV(1e-40f, 0, 1e-41f, 2e-40f), 0, "subnormal"},
        {def, 2, SH(3, 3), FV(1, 0, 0, 0, 1e-6f, 0, 0, 0, 1e-8f), 0, "diag(1, 1e-6, 1e-8)"},
        {0.0f, 2, SH(3, 3), RD_ZERO_COL, 0, "rtol 0, zero column"},
        {0.0f, 2, SH(3, 3), FV(1, 0, 0, 0, 1e-6f, 0, 0, 0, 1e-8f), 0, "rtol 0, diag(1, 1e-6, 1e-8)"},
        {0.2f, 2, SH(3, 3), FV(4, 0, 0, 0, 1, 0, 0, 0, 0.1f), 0, "rtol 0.2, diag(4, 1, 0.1)"},
        {0.5f, 3, SH(2, 3, 3), NULL, 1583, "rtol 0.5, batched [2,3,3]"},
        {def, 2, SH(3, 2), FV(1, 2, NAN, 3, 4, 5), 0, "NaN"},
        {def, 2, SH(3, 2), FV(1, 2, 3, 4, 5, INFINITY), 0, "inf"},
        {NAN, 2, SH(3, 3), NULL, 1584, "rtol NaN, refused"},
        {def, 1, SH(3), NULL, 1585, "1-d, refused"},
    };
    for (int i = 0; i < COUNT(cs); i++) {
        nb_tensor *x = cs[i].v      ? oe_f32(cs[i].ndim, cs[i].shape, cs[i].v)
                       : cs[i].seed ? oe_randn(cs[i].ndim, cs[i].shape, cs[i].seed)
                                    : oe_f32(cs[i].ndim, cs[i].shape, NULL);
        oe_run((oe_case){.op = "matrix_rank", .fp = {cs[i].rtol}, .in = {x}}, "matrix_rank(%s)", cs[i].name);
    }
}

static void norm_cond_cases(void) {
    /* every ord of matrix_norm (ip[0]: fro, nuc, 2, -2, 1, -1, inf, -inf) */
    for (int o = 0; o < 8; o++) {
        const char *ord = OE_MATRIX_ORDS[o];
        const uint64_t s = 1600 + 20 * (uint64_t)o;
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_randn(2, SH(3, 4), s)}},
               "matrix_norm(%s, [3,4])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_randn(2, SH(5, 3), s + 1)}},
               "matrix_norm(%s, [5,3])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_randn(3, SH(2, 3, 3), s + 2)}},
               "matrix_norm(%s, batched [2,3,3])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_randn(2, SH(1, 4), s + 3)}},
               "matrix_norm(%s, [1,4])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_randn(2, SH(4, 1), s + 4)}},
               "matrix_norm(%s, [4,1])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {mat(1, 1, FV(-3))}}, "matrix_norm(%s, [1,1])",
               ord);
        /* ties: the identity (every column and row sum 1, every singular value 1) */
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {mat(3, 3, EYE_3)}},
               "matrix_norm(%s, identity)", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .nograd = 1, .in = {mat(3, 3, SING_EXACT)}},
               "matrix_norm(%s, integer rank 2)", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .nograd = 1, .in = {oe_f32(2, SH(3, 2), NULL)}},
               "matrix_norm(%s, zero matrix)", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_f32(2, SH(0, 3), NULL)}},
               "matrix_norm(%s, [0,3])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_f32(2, SH(3, 0), NULL)}},
               "matrix_norm(%s, [3,0])", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {oe_f32(3, SH(2, 0, 0), NULL)}},
               "matrix_norm(%s, [2,0,0])", ord);
        oe_run((oe_case){.op = "matrix_norm",
                         .ip = {o},
                         .in = {mat(3, 2, FV(1e20f, -3e20f, 2e20f, 1e20f, -2e20f, 5e19f))}},
               "matrix_norm(%s, entries near 1e20)", ord);
        oe_run((oe_case){.op = "matrix_norm",
                         .ip = {o},
                         .in = {mat(3, 2, FV(1e-20f, -3e-20f, 2e-20f, 1e-20f, -2e-20f, 5e-21f))}},
               "matrix_norm(%s, entries near 1e-20)", ord);
        oe_run((oe_case){.op = "matrix_norm", .ip = {o}, .in = {mat(2, 2, FV(1e38f, 2e38f, -1e38f, 1e38f))}},
               "matrix_norm(%s, entries near FLT_MAX)", ord);
        oe_run(
            (oe_case){.op = "matrix_norm", .ip = {o}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, NAN, 3, 4, 5))}},
            "matrix_norm(%s, NaN)", ord);
        oe_run(
            (oe_case){
                .op = "matrix_norm", .ip = {o}, .nograd = 1, .in = {mat(3, 2, FV(1, 2, 3, 4, 5, INFINITY))}},
            "matrix_norm(%s, inf)", ord);
    }
    oe_run((oe_case){.op = "matrix_norm", .ip = {8}, .in = {oe_randn(2, SH(3, 3), 1790)}},
           "matrix_norm(unknown ord, refused)");
    oe_run((oe_case){.op = "matrix_norm", .ip = {0}, .in = {oe_randn(1, SH(3), 1791)}},
           "matrix_norm(fro, 1-d, refused)");
    /* cond: largest over smallest singular value */
    oe_run((oe_case){.op = "cond", .in = {wc(2, SH(4, 4), 1800)}}, "cond(square [4,4])");
    oe_run((oe_case){.op = "cond", .in = {oe_randn(2, SH(5, 3), 1801)}}, "cond(tall [5,3])");
    oe_run((oe_case){.op = "cond", .in = {oe_randn(2, SH(3, 5), 1802)}}, "cond(wide [3,5])");
    oe_run((oe_case){.op = "cond", .in = {oe_randn(3, SH(3, 3, 3), 1803)}}, "cond(batched [3,3,3])");
    oe_run((oe_case){.op = "cond", .in = {oe_randn(2, SH(1, 4), 1804)}}, "cond([1,4])");
    oe_run((oe_case){.op = "cond", .in = {mat(1, 1, FV(-3))}}, "cond([1,1])");
    oe_run((oe_case){.op = "cond", .in = {mat(3, 3, FV(1, 1, 0.5f, 1, 1.01f, 2, -1, -1, 1))}},
           "cond(ill-conditioned)");
    oe_run((oe_case){.op = "cond", .in = {mat(3, 2, FV(1e20f, -3e20f, 2e20f, 1e20f, -2e20f, 5e19f))}},
           "cond(entries near 1e20)");
    oe_run((oe_case){.op = "cond", .in = {mat(3, 2, FV(1e-20f, -3e-20f, 2e-20f, 1e-20f, -2e-20f, 5e-21f))}},
           "cond(entries near 1e-20)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {mat(3, 3, EYE_3)}}, "cond(identity)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {mat(4, 4, HADAMARD_4)}}, "cond(Hadamard)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {mat(3, 3, RD_ZERO_COL)}}, "cond(zero column: inf)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {mat(3, 3, ONES_3)}}, "cond(ones: rank 1)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {oe_f32(2, SH(3, 2), NULL)}}, "cond(zero matrix)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {mat(3, 2, FV(1, 2, NAN, 3, 4, 5))}}, "cond(NaN)");
    oe_run((oe_case){.op = "cond", .nograd = 1, .in = {mat(3, 2, FV(1, 2, 3, 4, 5, INFINITY))}}, "cond(inf)");
    oe_run((oe_case){.op = "cond", .in = {oe_f32(2, SH(0, 0), NULL)}}, "cond([0,0], refused)");
    oe_run((oe_case){.op = "cond", .in = {oe_f32(3, SH(2, 3, 0), NULL)}}, "cond([2,3,0], refused)");
}

void oe_linalg_cases(void) {
    solve_cases();
    inverse_cases();
    det_cases();
    cholesky_cases();
    triangular_cases();
    cholesky_solve_cases();
    matrix_power_cases();
    lu_cases();
    size_cases();
    eigh_cases();
    qr_cases();
    svd_cases();
    pinv_cases();
    lstsq_cases();
    rank_cases();
    norm_cond_cases();
}
