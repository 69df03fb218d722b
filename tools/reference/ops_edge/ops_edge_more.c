/* ops_edge_more.c - the edge cases of the ops added after the layers: vector norms, normalize,
 * cosine similarity, RMS and instance norm, KL divergence, binary cross-entropy on probabilities,
 * log-sigmoid, GLU and triu, the trigonometric, hyperbolic and other elementwise functions, atan2,
 * fmod and remainder, run by ops_edge.c after ops_edge_layers.c. Names are referred to by
 * ops_edge_parity.py's lists, as in ops_edge_cases.c. */
#include <float.h>
#include <math.h>

#include "ops_edge.h"

#define SV oe_sv
static nb_tensor *f1(int64_t n, const float *d) { return oe_f32(1, SH(n), d); }
static nb_tensor *svt(void) { return f1(NSV, SV); }

const char *const oe_einsum_eqs[OE_NEINSUM] = {
    "bij,bjk->bik",  "ij,jk",           "ii->i",      "ii",         "ij->ji",    "ij->",    "i,j->ij",
    "...j,jk->...k", "bhqd,bhkd->bhqk", "ij,ij->i",   "iij->ji",    "Ba,ab",     "...,...", "i,i,i->",
    "ij,jk,kl->il",  "bi,bi->b",        "...j,jk->k", "ij,jk->ik ", "i j , j k", "ab,cd->"};

void oe_more_cases(void) {
    /* norms: ip[0] keepdim, ip[2] axes count, ip[3..] axes (as the reductions); fp[0] p */
    nb_tensor *m = oe_randn(3, SH(3, 4, 5), 300);
    nb_tensor *z = oe_f32(2, SH(2, 3), FV(0, 0, 0, 1, -2, 2)); /* a zero row */
    const float ps[] = {2.0f, 1.0f, INFINITY, 3.0f, 0.5f};
    for (int i = 0; i < COUNT(ps); i++) {
        oe_run((oe_case){.op = "norm", .ip = {0, 0, 1, 2}, .fp = {ps[i]}, .in = {m}}, "norm(p %g, dim 2)",
               (double)ps[i]);
        oe_run((oe_case){.op = "norm", .ip = {1, 0, 1, 1}, .fp = {ps[i]}, .in = {z}},
               "norm(p %g, a zero row, keepdim)", (double)ps[i]);
    }
    oe_run((oe_case){.op = "norm", .ip = {0, 0, 2, 0, 2}, .fp = {2.0f}, .in = {m}}, "norm(2, dims 0 and 2)");
    oe_run((oe_case){.op = "norm", .ip = {0, 0, 0}, .fp = {2.0f}, .in = {svt()}}, "norm(2, SV, all)");
    oe_run((oe_case){.op = "norm", .ip = {0, 0, 0}, .fp = {INFINITY}, .in = {svt()}}, "norm(inf, SV, all)");
    oe_run(
        (oe_case){.op = "norm", .ip = {0, 0, 0}, .fp = {2.0f}, .in = {oe_f32(1, SH(3), FV(1e20f, 1e20f, 0))}},
        "norm(2, overflowing squares)");
    oe_run(
        (oe_case){
            .op = "norm", .ip = {0, 0, 1, 2}, .fp = {4.0f}, .in = {oe_f32(2, SH(2, 2), FV(3, 3, -1, 1))}},
        "norm(4, ties)");
    oe_run((oe_case){.op = "norm",
                     .ip = {0, 0, 1, 1},
                     .fp = {INFINITY},
                     .in = {oe_f32(2, SH(2, 3), FV(3, -3, 1, 2, 2, 2))}},
           "norm(inf, tied maxima)");
    oe_run((oe_case){.op = "norm", .ip = {0, 0, 1, 0}, .fp = {-1.0f}, .in = {m}}, "norm(p -1)");
    oe_run((oe_case){.op = "norm", .ip = {0, 0, 1, 1}, .fp = {0.0f}, .in = {z}}, "norm(p 0: non-zeros)");
    oe_run((oe_case){.op = "norm", .ip = {0, 0, 1, 2}, .fp = {-INFINITY}, .in = {m}}, "norm(p -inf)");

    /* normalize: ip[0] dim, fp[0] p, fp[1] eps */
    oe_run((oe_case){.op = "normalize", .ip = {1}, .fp = {2.0f, 1e-12f}, .in = {m}}, "normalize(2, dim 1)");
    oe_run((oe_case){.op = "normalize", .ip = {-1}, .fp = {1.0f, 1e-12f}, .in = {z}},
           "normalize(1, a zero row)");
    oe_run((oe_case){.op = "normalize",
                     .ip = {1},
                     .fp = {2.0f, 0.5f},
                     .in = {oe_f32(2, SH(2, 2), FV(0.1f, 0.2f, 3, 4))}},
           "normalize(2, a norm under eps)");

    /* cosine similarity: ip[0] dim, fp[0] eps */
    oe_run(
        (oe_case){
            .op = "cosine_similarity", .ip = {1}, .fp = {1e-8f}, .in = {m, oe_randn(3, SH(3, 4, 5), 301)}},
        "cosine_similarity(dim 1)");
    oe_run(
        (oe_case){
            .op = "cosine_similarity", .ip = {-1}, .fp = {1e-8f}, .in = {m, oe_randn(2, SH(4, 5), 302)}},
        "cosine_similarity(broadcast)");
    oe_run((oe_case){.op = "cosine_similarity",
                     .ip = {1},
                     .fp = {1e-8f},
                     .in = {oe_f32(2, SH(3, 2), FV(3e-9f, 4e-9f, 0, 0, 1e20f, 1e20f)),
                            oe_f32(2, SH(3, 2), FV(1, 2, 1, 1, 1e20f, 0))}},
           "cosine_similarity(tiny, zero and overflowing norms)");
    oe_run(
        (oe_case){.op = "cosine_similarity", .ip = {1}, .fp = {1e-8f}, .in = {m, oe_randn(2, SH(3, 5), 303)}},
        "cosine_similarity(shapes that do not broadcast)");

    /* rms_norm: ip[0] has a weight (in[1]); fp[0] eps */
    oe_run((oe_case){.op = "rms_norm", .ip = {1}, .fp = {1e-6f}, .in = {m, oe_randn(1, SH(5), 304)}},
           "rms_norm(weight)");
    oe_run((oe_case){.op = "rms_norm",
                     .fp = {1e-5f},
                     .in = {oe_f32(2, SH(2, 3), FV(0, 0, 0, 1e-3f, -2e-3f, 5e-4f))}},
           "rms_norm(a zero row, no weight)");
    oe_run((oe_case){.op = "rms_norm", .ip = {1}, .fp = {1e-6f}, .in = {m, oe_randn(1, SH(4), 305)}},
           "rms_norm(weight of the wrong size)");

    /* instance_norm: ip[0] has weight and bias (in[1], in[2]); fp[0] eps */
    oe_run((oe_case){.op = "instance_norm", .fp = {1e-5f}, .in = {oe_randn(4, SH(2, 3, 4, 5), 312)}},
           "instance_norm(2-d, no affine)");
    oe_run((oe_case){.op = "instance_norm",
                     .ip = {1},
                     .fp = {1e-3f},
                     .in = {oe_randn(3, SH(2, 3, 7), 313), oe_randn(1, SH(3), 314), oe_randn(1, SH(3), 315)}},
           "instance_norm(1-d, affine)");
    oe_run((oe_case){.op = "instance_norm", .fp = {1e-5f}, .in = {oe_randn(2, SH(3, 4), 316)}},
           "instance_norm(2-d input, refused)");

    /* kl_div: ip[7] reduction (3 batchmean), ip[0] log_target */
    nb_tensor *lp = oe_randn(2, SH(4, 6), 306), *pt = oe_f32(2, SH(2, 3), FV(0, 0.25f, 0.75f, 1, 0, 0));
    nb_tensor *lq = oe_f32(2, SH(2, 3), FV(-1.0f, -2.0f, -0.5f, -0.1f, -3.0f, -INFINITY));
    for (int r = 0; r < 4; r++)
        oe_run((oe_case){.op = "kl_div", .ip = {0, [7] = r}, .in = {lp, oe_randn(2, SH(4, 6), 307)}},
               "kl_div(reduction %d, targets of both signs)", r);
    oe_run((oe_case){.op = "kl_div", .ip = {0, [7] = 3}, .in = {lq, pt}, .nograd = 2},
           "kl_div(zero targets)");
    oe_run((oe_case){.op = "kl_div", .ip = {1, [7] = 0}, .in = {lp, oe_randn(2, SH(4, 6), 308)}},
           "kl_div(log targets)");

    /* bce on probabilities: ip[7] reduction, ip[1] has a weight (in[2]) */
    nb_tensor *pp = oe_f32(1, SH(8), FV(0, 1, 0.5f, 1e-30f, 0.999999f, 0.2f, 0.7f, 1e-45f));
    nb_tensor *tt = oe_f32(1, SH(8), FV(1, 0, 0.5f, 1, 0, 0, 1, 0));
    oe_run((oe_case){.op = "bce", .in = {pp, tt}}, "bce(extremes)");
    oe_run(
        (oe_case){
            .op = "bce", .ip = {0, 1, [7] = 2}, .in = {pp, tt, oe_f32(1, SH(1), FV(2.5f))}, .nograd = 4},
        "bce(weight, reduction none)");
    oe_run((oe_case){.op = "bce",
                     .ip = {[7] = 1},
                     .in = {oe_f32(1, SH(3), FV(1.5f, -0.5f, NAN)), oe_f32(1, SH(3), FV(1, 0, 1))}},
           "bce(probabilities outside [0, 1])");

    /* distances and margin losses: ip[7] reduction; fp: p, eps, margin (ip[0] swap) */
    nb_tensor *da = oe_randn(2, SH(4, 6), 317), *db = oe_randn(2, SH(4, 6), 318),
              *dn = oe_randn(2, SH(4, 6), 319);
    oe_run((oe_case){.op = "pairwise_distance", .fp = {2.0f, 1e-6f}, .in = {da, db}}, "pairwise_distance(2)");
    oe_run((oe_case){.op = "pairwise_distance", .fp = {1.0f, 1e-6f}, .in = {da, oe_randn(1, SH(6), 320)}},
           "pairwise_distance(1, broadcast)");
    oe_run((oe_case){.op = "pairwise_distance", .fp = {2.0f, 0.0f}, .in = {da, da}},
           "pairwise_distance(equal rows, eps 0)");
    for (int r = 0; r < 3; r++)
        oe_run((oe_case){.op = "triplet_margin_loss",
                         .ip = {r == 2, [7] = r},
                         .fp = {2.0f, 1e-6f, 1.0f},
                         .in = {da, db, dn}},
               "triplet_margin_loss(reduction %d, swap %d)", r, r == 2);
    nb_tensor *x1 = oe_randn(1, SH(8), 321), *x2 = oe_randn(1, SH(8), 322);
    nb_tensor *yy = oe_f32(1, SH(8), FV(1, -1, 1, 1, -1, -1, 1, -1));
    oe_run((oe_case){.op = "margin_ranking_loss", .fp = {0, 0, 0.5f}, .in = {x1, x2, yy}, .nograd = 4},
           "margin_ranking_loss(margin 0.5)");
    oe_run((oe_case){.op = "margin_ranking_loss", .ip = {[7] = 2}, .in = {x1, x1, yy}, .nograd = 4},
           "margin_ranking_loss(ties, none)");
    oe_run((oe_case){.op = "cosine_embedding_loss",
                     .fp = {0, 0, 0.2f},
                     .in = {da, db, oe_f32(1, SH(4), FV(1, -1, -1, 1))},
                     .nograd = 4},
           "cosine_embedding_loss(margin 0.2)");
    oe_run((oe_case){.op = "cosine_embedding_loss",
                     .ip = {[7] = 2},
                     .in = {oe_f32(2, SH(2, 3), FV(0, 0, 0, 1, 2, 3)),
                            oe_f32(2, SH(2, 3), FV(1, 1, 1, 0, 0, 0)), oe_f32(1, SH(2), FV(1, -1))},
                     .nograd = 4},
           "cosine_embedding_loss(zero rows)");

    /* log_sigmoid, glu (ip[0] dim), triu (ip[0] k) */
    oe_run((oe_case){.op = "log_sigmoid", .in = {svt()}}, "log_sigmoid(SV)");
    oe_run((oe_case){.op = "glu", .ip = {-1}, .in = {oe_randn(3, SH(2, 3, 8), 309)}}, "glu(last dim)");
    oe_run((oe_case){.op = "glu", .ip = {0}, .in = {oe_randn(2, SH(3, 2), 310)}}, "glu(odd dim, refused)");
    for (int k = -2; k <= 2; k += 2)
        oe_run((oe_case){.op = "triu", .ip = {k}, .in = {oe_randn(3, SH(2, 4, 5), 311)}}, "triu(k %d)", k);

    /* the elementwise functions: special values, a dense range, the domains' edges */
    const char *fn[] = {"tan",   "asin",  "acos", "atan",  "sinh", "cosh",       "asinh",
                        "acosh", "atanh", "log2", "log10", "exp2", "reciprocal", "square"};
    float r[81];
    for (int i = 0; i < 81; i++)
        r[i] = -20.0f + 0.5f * (float)i;
    float u[41]; /* -1.05 to 1.05: the inverse functions' domains and their ends */
    for (int i = 0; i < 41; i++)
        u[i] = -1.05f + 0.0525f * (float)i;
    for (int i = 0; i < COUNT(fn); i++) {
        oe_run((oe_case){.op = fn[i], .in = {svt()}}, "%s(SV)", fn[i]);
        oe_run((oe_case){.op = fn[i], .in = {f1(81, r)}}, "%s(range)", fn[i]);
        oe_run((oe_case){.op = fn[i], .in = {f1(41, u)}}, "%s(-1.05..1.05)", fn[i]);
    }
    oe_run((oe_case){.op = "acosh", .in = {f1(6, FV(1.0f, 1.0000001f, 1.5f, 1e10f, 0.999f, 3e38f))}},
           "acosh(near 1, huge)");
    oe_run((oe_case){.op = "tan", .in = {f1(5, FV(1.5707963f, -1.5707963f, 1.5707964f, 3.1415927f, 1e7f))}},
           "tan(near the poles)");

    /* atan2, fmod, remainder: every pair of special values, signs of both, and the quotients
     * near integers where floor and trunc part */
    static float a[NSV * NSV], b[NSV * NSV];
    for (int i = 0; i < NSV; i++)
        for (int j = 0; j < NSV; j++)
            a[i * NSV + j] = SV[i], b[i * NSV + j] = SV[j];
    const char *bn[] = {"atan2", "fmod", "remainder"};
    const float qa[] = {5.5f, -5.5f, 5.5f, -5.5f, 7.0f, -7.0f, 0.3f, -0.3f, 1e-30f, 6.0f, 1e30f, -0.0f};
    const float qb[] = {2.0f, 2.0f, -2.0f, -2.0f, 3.5f, 3.5f, 0.1f, 0.1f, 3.0f, 0.2f, 3.0f, 2.0f};
    for (int i = 0; i < COUNT(bn); i++) {
        oe_run((oe_case){.op = bn[i], .in = {f1(NSV * NSV, a), f1(NSV * NSV, b)}}, "%s(SVxSV)", bn[i]);
        oe_run((oe_case){.op = bn[i], .in = {f1(COUNT(qa), qa), f1(COUNT(qb), qb)}}, "%s(quotients)", bn[i]);
        oe_run((oe_case){.op = bn[i], .in = {oe_randn(2, SH(4, 1), 330 + i), oe_randn(1, SH(3), 340 + i)}},
               "%s(bcast [4,1]x[3])", bn[i]);
    }

    /* prod: ip[0] keepdim, ip[2] axes count, ip[3..] axes (as the reductions); NaN, infinities,
     * overflow, signed zeros, slices with one and two zeros (the gradient's special rule) */
    static const float PR[6][5] = {{1, 2, 3, 4, 5},       {NAN, 1, 2, 3, 4},       {INFINITY, -2, 1, 2, 3},
                                   {FLT_MAX, 2, 1, 1, 1}, {0.0f, -0.0f, 2, 3, -1}, {0, 2, 3, -4, 0.5f}};
    nb_tensor *pm = oe_f32(2, SH(6, 5), &PR[0][0]);
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 1, 1}, .in = {pm}}, "prod(PR, dim 1)");
    oe_run((oe_case){.op = "prod", .ip = {1, 0, 1, 0}, .in = {pm}}, "prod(PR, dim 0, keep)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {oe_randn(2, SH(3, 4), 360)}}, "prod(all)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 2, 0, 2}, .in = {oe_randn(3, SH(2, 3, 4), 361)}},
           "prod(dims 0, 2)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 1, 1}, .in = {oe_f32(2, SH(2, 0), NULL)}}, "prod(empty dim)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {oe_f32(2, SH(2, 2), FV(0, 3, 0, 2))}},
           "prod(all, two zeros)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {oe_f32(2, SH(2, 2), FV(4, 3, 0, 2))}},
           "prod(all, one zero)");

    /* einsum: ip[0] the equation (oe_einsum_eqs); broadcasting, diagonals, traces, three operands,
     * spaces, special values, and refusals */
    struct {
        int eq;
        int n;
        int nd[3];
        int64_t sh[3][4];
    } es[] = {{0, 2, {3, 3}, {{2, 3, 4}, {2, 4, 5}}},
              {1, 2, {2, 2}, {{3, 4}, {4, 2}}},
              {2, 1, {2}, {{4, 4}}},
              {3, 1, {2}, {{5, 5}}},
              {4, 1, {2}, {{3, 4}}},
              {5, 1, {2}, {{3, 4}}},
              {6, 2, {1, 1}, {{3}, {4}}},
              {7, 2, {3, 2}, {{2, 3, 4}, {4, 5}}},
              {8, 2, {4, 4}, {{2, 3, 5, 4}, {2, 3, 6, 4}}},
              {9, 2, {2, 2}, {{3, 4}, {3, 4}}},
              {10, 1, {3}, {{3, 3, 2}}},
              {11, 2, {2, 2}, {{2, 3}, {3, 4}}},
              {12, 2, {2, 1}, {{2, 3}, {3}}},
              {13, 3, {1, 1, 1}, {{4}, {4}, {4}}},
              {14, 3, {2, 2, 2}, {{2, 3}, {3, 4}, {4, 5}}},
              {15, 2, {2, 2}, {{1, 3}, {4, 3}}},
              {16, 2, {3, 2}, {{2, 3, 4}, {4, 5}}},
              {17, 2, {2, 2}, {{2, 3}, {3, 4}}},
              {18, 2, {2, 2}, {{2, 3}, {3, 4}}},
              {1, 2, {2, 2}, {{2, 1}, {3, 5}}},
              {19, 2, {2, 2}, {{2, 3}, {4, 5}}},
              {1, 2, {2, 2}, {{2, 3}, {4, 5}}},
              {2, 1, {2}, {{3, 4}}},
              {0, 2, {3, 2}, {{2, 3, 4}, {4, 5}}}};
    for (int i = 0; i < COUNT(es); i++) {
        oe_case c = {.op = "einsum", .ip = {es[i].eq}};
        for (int j = 0; j < es[i].n; j++)
            c.in[j] = oe_randn(es[i].nd[j], es[i].sh[j], (uint64_t)(370 + 3 * i + j));
        oe_run(c, "einsum[%s] #%d", oe_einsum_eqs[es[i].eq], i);
    }
    oe_run((oe_case){.op = "einsum",
                     .ip = {1},
                     .in = {oe_f32(2, SH(2, 2), FV(INFINITY, 1, NAN, 0)),
                            oe_f32(2, SH(2, 2), FV(0, 1, 2, -INFINITY))}},
           "einsum[%s] special values", oe_einsum_eqs[1]);

    /* cumprod (ip[0] dim): lines with no zero, one, two, a zero first and last; special values;
     * overflow; 0-d and empty */
    nb_tensor *cz = oe_f32(2, SH(4, 5),
                           FV(1.5f, -0.5f, 2, 0.8f, 1.2f, 0.7f, 0, 1.3f, 2, -1.1f, 0, 1.4f, 0, 0.9f, 1.1f,
                              -1.2f, 0.6f, 1.7f, 0.5f, 0));
    for (int dim = 0; dim < 2; dim++)
        oe_run((oe_case){.op = "cumprod", .ip = {dim}, .in = {cz}}, "cumprod(zeros, dim %d)", dim);
    oe_run((oe_case){.op = "cumprod", .in = {oe_f32(1, SH(6), FV(2, INFINITY, 0.5f, NAN, 3, -1))}},
           "cumprod(inf, NaN)");
    oe_run((oe_case){.op = "cumprod", .in = {oe_f32(1, SH(4), FV(1e30f, 1e30f, 1e-30f, 2))}},
           "cumprod(overflow)");
    oe_run((oe_case){.op = "cumprod", .in = {oe_randn(3, SH(2, 3, 4), 362)}, .ip = {-1}},
           "cumprod(randn, -1)");
    oe_run((oe_case){.op = "cumprod", .in = {oe_scalar(3.0f)}}, "cumprod(0-d)");
    oe_run((oe_case){.op = "cumprod", .ip = {1}, .in = {oe_f32(2, SH(0, 3), NULL)}},
           "cumprod(empty[0,3], 1)");

    /* order statistics: distinct values (torch's median and kthvalue use a selection that does not
     * promise which of tied elements it returns), NaN, infinities, 0-d, odd and even lengths */
    nb_tensor *os = oe_f32(
        2, SH(3, 6), FV(3, -1, 7, 0.5f, 2, 9, 4, NAN, 1, -2, 8, 6, INFINITY, 5, -INFINITY, 0, 1.5f, -3));
    nb_tensor *oe = oe_f32(2, SH(2, 5), FV(3, -1, 7, 0.5f, 2, 4, 6, 1, -2, 8));
    for (int k = 1; k <= 6; k += 2) {
        oe_run((oe_case){.op = "kthvalue", .ip = {k, 1, 0}, .in = {os}}, "kthvalue(k %d, dim 1)", k);
        oe_run((oe_case){.op = "kthvalue_idx", .ip = {k, 1, 0}, .in = {os}}, "kthvalue_idx(k %d, dim 1)", k);
    }
    oe_run((oe_case){.op = "kthvalue", .ip = {2, 0, 1}, .in = {os}}, "kthvalue(k 2, dim 0, keep)");
    oe_run((oe_case){.op = "kthvalue", .ip = {7, 1, 0}, .in = {os}}, "kthvalue(k past the size)");
    for (int keep = 0; keep < 2; keep++) {
        oe_run((oe_case){.op = "median", .ip = {1, keep}, .in = {os}}, "median(dim 1, even, NaN, keep %d)",
               keep);
        oe_run((oe_case){.op = "median_idx", .ip = {1, keep}, .in = {os}}, "median_idx(dim 1, keep %d)",
               keep);
        oe_run((oe_case){.op = "median", .ip = {-1, keep}, .in = {oe}}, "median(odd, keep %d)", keep);
    }
    oe_run((oe_case){.op = "median", .ip = {0, 0}, .in = {oe_scalar(2.5f)}}, "median(0-d)");
    const float qs[] = {0.0f, 0.3f, 0.5f, 0.75f, 1.0f};
    for (int i = 0; i < COUNT(qs); i++)
        for (int m = 0; m < 5; m++)
            oe_run((oe_case){.op = "quantile", .ip = {1, 0, m}, .fp = {qs[i]}, .in = {oe}},
                   "quantile(q %g, interp %d)", (double)qs[i], m);
    oe_run((oe_case){.op = "quantile", .ip = {1, 1, 0}, .fp = {0.4f}, .in = {os}},
           "quantile(NaN, inf, keep)");
    oe_run((oe_case){.op = "quantile", .ip = {0, 0, 0}, .fp = {1.5f}, .in = {oe}},
           "quantile(q 1.5, refused)");

    /* index_add (ip[0] dim, fp[0] alpha) and scatter_add (ip[0] dim): repeated indices, special
     * values in the source, a source larger than scatter_add's index, bad indices */
    nb_tensor *ia = oe_randn(2, SH(4, 3), 350), *ix = oe_i32(1, SH(5), IV(3, 0, 3, 3, 1));
    nb_tensor *isrc = oe_f32(
        2, SH(5, 3), FV(1, NAN, 3, INFINITY, 5, -6, -INFINITY, 8, 9, FLT_MAX, FLT_MAX, 0, 1e-39f, -0.0f, 2));
    oe_run((oe_case){.op = "index_add", .ip = {0}, .fp = {1.0f}, .in = {ia, ix, isrc}},
           "index_add(dim 0, SV)");
    oe_run((oe_case){.op = "index_add",
                     .ip = {1},
                     .fp = {-2.5f},
                     .in = {ia, oe_i32(1, SH(2), IV(2, 2)), oe_randn(2, SH(4, 2), 351)}},
           "index_add(dim 1, alpha -2.5)");
    oe_run((oe_case){.op = "index_add",
                     .ip = {0},
                     .fp = {1.0f},
                     .in = {ia, oe_i32(1, SH(1), IV(4)), oe_randn(2, SH(1, 3), 352)}},
           "index_add(index out of range)");
    nb_tensor *sidx = oe_i32(2, SH(2, 3), IV(0, 2, 2, 1, 1, 1));
    for (int dim = 0; dim < 2; dim++)
        oe_run((oe_case){.op = "scatter_add",
                         .ip = {dim},
                         .in = {oe_randn(2, SH(3, 4), 353), sidx, oe_randn(2, SH(3, 5), 354)},
                         .nograd = 4}, /* torch's backward refuses a larger source's gradient */
               "scatter_add(dim %d, larger source)", dim);
    oe_run((oe_case){.op = "scatter_add",
                     .ip = {1},
                     .in = {oe_randn(2, SH(3, 4), 358), sidx, oe_randn(2, SH(2, 3), 359)}},
           "scatter_add(dim 1, source as the index)");
    oe_run((oe_case){.op = "scatter_add",
                     .ip = {1},
                     .in = {oe_randn(2, SH(2, 3), 355), sidx,
                            oe_f32(2, SH(2, 3), FV(INFINITY, -INFINITY, NAN, 1e30f, 1e30f, -1e30f))}},
           "scatter_add(special values)");
    oe_run((oe_case){.op = "scatter_add",
                     .ip = {0},
                     .in = {oe_randn(2, SH(2, 3), 356), sidx, oe_randn(2, SH(2, 3), 357)}},
           "scatter_add(index out of range)");
}
