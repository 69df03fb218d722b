/* ops_edge_cases.c - the edge cases ops_edge.c runs, about 400 of them. A case's name says what
 * it feeds the op; ops_edge_parity.py's list of accepted differences refers to cases by name,
 * so renaming one here may need the same change there. */
#include <float.h>
#include <math.h>

#include "ops_edge.h"

/* The special values: zeros of both signs, ones, halves, NaN, infinities, FLT_MAX, subnormals,
 * FLT_MIN, huge, exp's overflow edge and ordinary values. */
const float oe_sv[NSV] = {0.0f,   -0.0f,   1.0f,     -1.0f,     0.5f,    -0.5f,    2.0f,
                          -2.0f,  NAN,     INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e-45f,
                          1e-39f, -1e-39f, FLT_MIN,  1e30f,     -1e30f,  88.7f,    -88.7f,
                          100.0f, -100.0f, 1e-20f,   3.0f,      10.0f,   -3.0f,    1.5f};
#define SV oe_sv
static nb_tensor *f1(int64_t n, const float *d) { return oe_f32(1, SH(n), d); }
static nb_tensor *svt(void) { return f1(NSV, SV); }

void oe_unary_cases(void) {
    const char *ops[] = {"neg",     "exp",  "log",  "sqrt", "rsqrt", "tanh",
                         "sigmoid", "relu", "gelu", "abs",  "sin",   "cos"};
    for (int i = 0; i < COUNT(ops); i++)
        oe_run((oe_case){.op = ops[i], .in = {svt()}}, "%s(SV)", ops[i]);
    /* a dense range, -20 to 20 by 0.5 */
    float r[81];
    for (int i = 0; i < 81; i++)
        r[i] = -20.0f + 0.5f * (float)i;
    const char *dops[] = {"gelu", "tanh", "sigmoid", "exp"};
    for (int i = 0; i < COUNT(dops); i++)
        oe_run((oe_case){.op = dops[i], .in = {f1(81, r)}}, "%s(range)", dops[i]);
    const float sc[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, NAN, INFINITY, -INFINITY, 2.0f, 1e-39f, FLT_MAX};
    const char *sops[] = {"add_scalar",     "sub_scalar",     "mul_scalar", "div_scalar",
                          "maximum_scalar", "minimum_scalar", "rsub_scalar"};
    for (int i = 0; i < COUNT(sops); i++)
        for (int j = 0; j < COUNT(sc); j++)
            oe_run((oe_case){.op = sops[i], .fp = {sc[j]}, .in = {svt()}}, "%s(SV, %g)", sops[i],
                   (double)sc[j]);
    const float pe[] = {0.0f,  -0.0f, 1.0f, 2.0f,  3.0f, 0.5f,     -0.5f,     -1.0f,
                        -2.0f, 1.5f,  2.5f, -1.5f, NAN,  INFINITY, -INFINITY, 1e-39f};
    for (int j = 0; j < COUNT(pe); j++)
        oe_run((oe_case){.op = "pow_scalar", .fp = {pe[j]}, .in = {svt()}}, "pow_scalar(SV, %g)",
               (double)pe[j]);
    const float cl[][2] = {{-1, 1},
                           {0, 0},
                           {-INFINITY, INFINITY},
                           {0, 1},
                           {-0.0f, 0.0f},
                           {1, -1},
                           {NAN, 1},
                           {0, NAN},
                           {1e-39f, FLT_MAX},
                           {INFINITY, INFINITY}};
    for (int j = 0; j < COUNT(cl); j++)
        oe_run((oe_case){.op = "clamp", .fp = {cl[j][0], cl[j][1]}, .in = {svt()}}, "clamp(SV, %g, %g)",
               (double)cl[j][0], (double)cl[j][1]);
}

void oe_binary_cases(void) {
    static float a[NSV * NSV], b[NSV * NSV];
    for (int i = 0; i < NSV; i++)
        for (int j = 0; j < NSV; j++)
            a[i * NSV + j] = SV[i], b[i * NSV + j] = SV[j];
    const char *ops[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                         "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
    for (int i = 0; i < COUNT(ops); i++)
        oe_run((oe_case){.op = ops[i], .in = {f1(NSV * NSV, a), f1(NSV * NSV, b)}}, "%s(SVxSV)", ops[i]);
    /* broadcasting, the gradients summed back */
    const char *bops[] = {"add", "mul", "div", "pow", "maximum"};
    for (int i = 0; i < COUNT(bops); i++)
        oe_run((oe_case){.op = bops[i],
                         .in = {oe_f32(2, SH(4, 1), FV(1, NAN, INFINITY, 0)), f1(3, FV(2, 0, -INFINITY))}},
               "%s(bcast [4,1]x[3])", bops[i]);
    /* tiny denominators: b * b underflows */
    oe_run((oe_case){.op = "div",
                     .in = {f1(5, FV(1e-20f, 1.0f, 1e-30f, 3e-20f, 1e20f)),
                            f1(5, FV(1e-20f, 1e-20f, 1e-30f, 1e-25f, 1e20f))}},
           "div(tiny)");
    /* where / masked_fill: conditions that are NaN, -0, inf */
    float cond[NSV], other[NSV];
    const float cv[] = {0, 1, NAN, -0.0f, 2, -1, INFINITY};
    for (int i = 0; i < NSV; i++)
        cond[i] = cv[i % 7], other[i] = SV[NSV - 1 - i];
    oe_run((oe_case){.op = "where", .nograd = 1, .in = {f1(NSV, cond), svt(), f1(NSV, other)}},
           "where(cond special, SV, revSV)");
    oe_run((oe_case){.op = "where",
                     .nograd = 1,
                     .in = {oe_f32(2, SH(4, 1), FV(1, 0, NAN, 1)), f1(3, FV(1, NAN, INFINITY)),
                            oe_randn(2, SH(4, 3), 5)}},
           "where(bcast cond [4,1], a [3], b [4,3])");
    const float fills[] = {0.0f, NAN, -INFINITY, 5.0f};
    for (int j = 0; j < COUNT(fills); j++)
        oe_run((oe_case){.op = "masked_fill", .fp = {fills[j]}, .nograd = 2, .in = {svt(), f1(NSV, cond)}},
               "masked_fill(SV, cond special, %g)", (double)fills[j]);
    oe_run((oe_case){.op = "masked_fill",
                     .fp = {-INFINITY},
                     .nograd = 2,
                     .in = {oe_randn(2, SH(4, 3), 6), f1(3, FV(1, 0, 1))}},
           "masked_fill(bcast mask [3])");
}

/* A [8,5] matrix to reduce: plain, NaN, both infinities, ties, all -inf, FLT_MAX, signed zeros, 1e30. */
static const float RED[8][5] = {{1, 2, 3, 4, 5},
                                {NAN, 1, 2, 3, 4},
                                {INFINITY, -INFINITY, 1, 2, 3},
                                {3, 3, 1, 3, 2},
                                {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
                                {FLT_MAX, FLT_MAX, -FLT_MAX, 1, 0},
                                {0.0f, -0.0f, 0.0f, -0.0f, -1},
                                {1e30f, 1e30f, 1e30f, 1e30f, 1e30f}};

static void red(const char *op, int keep, int corr, int naxes, const int *axes, nb_tensor *x,
                const char *tag) {
    oe_case c = {.op = op, .ip = {keep, corr, naxes}, .in = {x}};
    for (int i = 0; i < naxes; i++)
        c.ip[3 + i] = axes[i];
    oe_run(c, "%s(%s, axes[%d]=%d%s%d, keep=%d, corr=%d)", op, tag, naxes, naxes ? axes[0] : 0,
           naxes > 1 ? "," : "", naxes > 1 ? axes[1] : 0, keep, corr);
}

void oe_reduce_cases(void) {
    nb_tensor *M = oe_f32(2, SH(8, 5), &RED[0][0]);
    const char *ops[] = {"sum", "mean", "max", "min", "var"};
    const int a0[] = {0}, a1[] = {1}, an[] = {-1}, a01[] = {0, 1}, dup[] = {1, 1}, bad[] = {2}, neg[] = {-3};
    for (int i = 0; i < COUNT(ops); i++) {
        for (int corr = 0; corr <= (i == 4 ? 1 : 0); corr++) {
            red(ops[i], 0, corr, 1, a1, M, "RED");
            red(ops[i], 1, corr, 1, a0, M, "RED");
            red(ops[i], 0, corr, 1, an, M, "RED");
            red(ops[i], 0, corr, 2, a01, M, "RED");
            red(ops[i], 0, corr, 0, NULL, M, "RED");
        }
        /* one element, nothing, bad axes, 0-d */
        red(ops[i], 0, i == 4 ? 1 : 0, 1, a0, f1(1, FV(2.5f)), "[1]");
        red(ops[i], 0, 0, 1, a0, f1(0, NULL), "empty[0]");
        red(ops[i], 0, 0, 1, a0, oe_f32(2, SH(0, 3), NULL), "empty[0,3] ax0");
        red(ops[i], 0, 0, 1, a1, oe_f32(2, SH(0, 3), NULL), "empty[0,3] ax1");
        red(ops[i], 0, 0, 2, dup, M, "RED dup");
        red(ops[i], 0, 0, 1, bad, M, "RED bad");
        red(ops[i], 0, 0, 1, neg, M, "RED neg");
        red(ops[i], 0, 0, 0, NULL, oe_scalar(3.0f), "0-d");
    }
    /* var: correction 2 and 3 on rows of 2, correction -1; precision at large offsets */
    const int corrs[] = {2, 3, -1};
    for (int i = 0; i < COUNT(corrs); i++)
        red("var", 0, corrs[i], 1, a1, oe_f32(2, SH(2, 2), FV(1, 2, 3, 3)), "[2,2]");
    red("var", 0, 1, 1, a1, oe_f32(2, SH(1, 4), FV(1e4f + 1, 1e4f + 2, 1e4f + 3, 1e4f + 4)), "offset 1e4");
    red("var", 0, 1, 1, a1, oe_f32(2, SH(1, 4), FV(1e7f + 1, 1e7f + 2, 1e7f + 3, 1e7f + 4)), "offset 1e7");
    red("sum", 0, 0, 1, a1, oe_f32(2, SH(1, 3), FV(FLT_MAX, FLT_MAX, -FLT_MAX)), "overflow-order");
    red("mean", 0, 0, 1, a1, oe_f32(2, SH(1, 2), FV(FLT_MAX, FLT_MAX)), "mean overflow");
    /* argmax: the input is a constant (the output is an index) */
    for (int ax = -2; ax <= 1; ax++)
        for (int k = 0; k <= 1; k++)
            oe_run((oe_case){.op = "argmax", .ip = {ax, k}, .nograd = 1, .in = {M}},
                   "argmax(RED, %d, keep=%d)", ax, k);
    oe_run((oe_case){.op = "argmax", .ip = {2}, .nograd = 1, .in = {M}}, "argmax(RED, 2)");
    for (int ax = 0; ax <= 1; ax++)
        oe_run((oe_case){.op = "argmax", .ip = {ax}, .nograd = 1, .in = {oe_f32(2, SH(0, 3), NULL)}},
               "argmax(empty[0,3], %d)", ax);
    oe_run((oe_case){.op = "argmax", .nograd = 1, .in = {oe_scalar(1)}}, "argmax(0-d)");
    oe_run((oe_case){.op = "argmax", .nograd = 1, .in = {f1(4, FV(1, 5, NAN, NAN))}}, "argmax(NaN later)");
    oe_run((oe_case){.op = "sum_all", .in = {M}}, "sum_all(RED)");
    oe_run((oe_case){.op = "mean_all", .in = {M}}, "mean_all(RED)");
    oe_run((oe_case){.op = "mean_all", .in = {f1(0, NULL)}}, "mean_all(empty)");
    oe_run((oe_case){.op = "sum_all", .in = {f1(0, NULL)}}, "sum_all(empty)");
}

/* Rows for softmax: all -inf, +inf among finite, two +inf, +-1e30, NaN, FLT_MAX twice, all
 * -FLT_MAX, zeros, -inf on both sides, subnormals. */
static const float SM[10][4] = {{-INFINITY, -INFINITY, -INFINITY, -INFINITY},
                                {INFINITY, 0, 1, 2},
                                {INFINITY, INFINITY, 0, 0},
                                {1e30f, -1e30f, 0, 1},
                                {NAN, 1, 2, 3},
                                {FLT_MAX, FLT_MAX, 0, 0},
                                {-FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX},
                                {0, 0, 0, 0},
                                {-INFINITY, 0, 1, -INFINITY},
                                {1e-45f, 0, -1e-45f, 100}};

static void layer_norm_cases(void) {
    const float ln[6][4] = {{1, 1, 1, 1},   {1, 2, 3, 4},        {1e30f, -1e30f, 1e30f, -1e30f},
                            {NAN, 1, 2, 3}, {INFINITY, 1, 2, 3}, {1e4f, 1e4f + 1, 1e4f + 2, 1e4f + 3}};
    const float eps[] = {1e-5f, 0.0f, 1.0f};
    nb_tensor *w = f1(4, FV(1.5f, -1, 0, 2)), *b = f1(4, FV(0.1f, 0.2f, -0.3f, 0));
    for (int e = 0; e < COUNT(eps); e++)
        for (int wb = 0; wb < 3; wb++)
            oe_run((oe_case){.op = "layer_norm",
                             .fp = {eps[e]},
                             .ip = {wb >= 1, wb >= 2},
                             .in = {oe_f32(2, SH(6, 4), &ln[0][0]), wb >= 1 ? w : NULL, wb >= 2 ? b : NULL}},
                   "layer_norm(LN, eps=%g, w=%d b=%d)", (double)eps[e], wb >= 1, wb >= 2);
    oe_run((oe_case){.op = "layer_norm",
                     .fp = {1e-5f},
                     .ip = {1, 1},
                     .in = {oe_f32(2, SH(3, 1), FV(1, -2, NAN)), f1(1, FV(2)), f1(1, FV(0.5f))}},
           "layer_norm(C=1)");
    oe_run((oe_case){.op = "layer_norm", .fp = {-1.0f}, .in = {oe_f32(2, SH(6, 4), &ln[0][0])}},
           "layer_norm(eps<0)");
    oe_run((oe_case){.op = "layer_norm", .fp = {NAN}, .in = {oe_f32(2, SH(6, 4), &ln[0][0])}},
           "layer_norm(eps NaN)");
    oe_run((oe_case){.op = "layer_norm",
                     .fp = {1e-5f},
                     .ip = {1},
                     .in = {oe_f32(2, SH(6, 4), &ln[0][0]), f1(3, FV(1, 1, 1))}},
           "layer_norm(wrong w shape)");
}

static void cross_entropy_cases(void) {
    /* logits rows: plain, -inf, -inf, +inf, +-1e30, NaN */
    const float lg[6][4] = {{1, 2, 3, 4},        {-INFINITY, 0, 1, 2},  {0, 1, -INFINITY, 2},
                            {INFINITY, 0, 0, 0}, {1e30f, -1e30f, 0, 0}, {NAN, 0, 0, 0}};
    const struct {
        int32_t t[6];
        int ign;
        const char *tag;
    } ce[] = {
        {{0, 1, 3, 0, 0, 1}, -100, "basic"},
        {{0, 0, 3, 1, 1, 1}, -100, "-inf at target row1"},
        {{0, 1, 2, 1, 0, 1}, -100, "-inf at target row2"},
        {{-100, 1, 3, -100, -100, -100}, -100, "ignored -100 rows 0,3,4,5"},
        {{2, 2, 2, 2, 2, 2}, 2, "all ignored (ign=2)"},
        {{-100, -100, -100, -100, -100, -100}, -100, "all ignored -100"},
        {{0, 1, 4, 0, 0, 1}, -100, "target 4 out of range"},
        {{0, -1, 3, 0, 0, 1}, -100, "target -1"},
        {{0, -5, 3, 0, 0, 1}, -5, "ignore_index -5"},
        {{0, 1, 3, 3, 0, 2}, 3, "ignore 3 (in range)"},
    };
    nb_tensor *L = oe_f32(2, SH(6, 4), &lg[0][0]);
    for (int i = 0; i < COUNT(ce); i++)
        oe_run((oe_case){.op = "cross_entropy", .ip = {ce[i].ign}, .in = {L, oe_i32(1, SH(6), ce[i].t)}},
               "cross_entropy(LG, %s)", ce[i].tag);
    oe_run((oe_case){.op = "cross_entropy",
                     .ip = {-100},
                     .in = {oe_f32(2, SH(3, 4), &lg[0][0]), oe_i32(1, SH(3), IV(3, 2, 1))}},
           "cross_entropy(finite, ignore rows 3-5)");
    oe_run((oe_case){.op = "cross_entropy",
                     .ip = {-100},
                     .in = {oe_f32(3, SH(2, 3, 4), &lg[0][0]), oe_i32(2, SH(2, 3), IV(0, 1, 3, -100, 0, 1))}},
           "cross_entropy(3d logits [2,3,4])");
    oe_run(
        (oe_case){.op = "cross_entropy", .ip = {-100}, .nograd = 2, .in = {L, f1(6, FV(0, 1, 2, 3, 0, 1))}},
        "cross_entropy(f32 targets)");
    oe_run((oe_case){.op = "cross_entropy", .ip = {-100}, .in = {L, oe_i32(1, SH(5), IV(0, 1, 2, 3, 0))}},
           "cross_entropy(targets shape mismatch)");
    oe_run((oe_case){.op = "cross_entropy",
                     .ip = {-100},
                     .in = {oe_f32(2, SH(0, 4), NULL), oe_i32(1, SH(0), NULL)}},
           "cross_entropy(N=0)");
    oe_run((oe_case){.op = "cross_entropy", .ip = {-100}, .in = {f1(4, &lg[0][0]), oe_i32(0, NULL, IV(2))}},
           "cross_entropy(1-d logits)");
    /* the fused linear cross-entropy: x [5,3] (rows with inf and 1e20), w [4,3], b [4] */
    const float lx[5][3] = {{1, 2, 3}, {0.5f, -1, 0}, {INFINITY, 0, 0}, {1e20f, 1e20f, 0}, {0, 0, 0}};
    const float lw[4][3] = {{0.1f, 0.2f, 0.3f}, {-0.5f, 0, 1}, {1, 1, 1}, {0, -1, 0.5f}};
    const struct {
        int32_t t[5];
        int rows;
        const char *tag;
    } lce[] = {
        {{0, 1, 2, 3, 1}, 2, "finite rows"},
        {{0, -100, 2, 3, 1}, 2, "one ignored"},
        {{-100, -100, 2, 3, 1}, 2, "all ignored"},
        {{0, 1, 2, 3, 1}, 5, "inf/1e20 rows"},
        {{0, 1, -100, -100, 1}, 5, "inf rows ignored"},
        {{0, 4, 2, 3, 1}, 2, "target 4 oor"},
        {{0, -2, 2, 3, 1}, 2, "target -2"},
    };
    for (int i = 0; i < COUNT(lce); i++)
        for (int hb = 0; hb <= 1; hb++) {
            nb_tensor *x = oe_f32(2, SH(lce[i].rows, 3), &lx[0][0]), *w = oe_f32(2, SH(4, 3), &lw[0][0]);
            nb_tensor *t = oe_i32(1, SH(lce[i].rows), lce[i].t);
            oe_case c = {.op = "linear_cross_entropy", .ip = {-100, hb}, .in = {x, w, t}};
            if (hb) c.in[2] = f1(4, FV(0, 1, -1, 0.5f)), c.in[3] = t;
            oe_run(c, "linear_cross_entropy(%s, bias=%d)", lce[i].tag, hb);
        }
}

void oe_nn_cases(void) {
    nb_tensor *S = oe_f32(2, SH(10, 4), &SM[0][0]);
    for (int d = -2; d <= 1; d++) {
        oe_run((oe_case){.op = "softmax", .ip = {d}, .in = {S}}, "softmax(SM, %d)", d);
        oe_run((oe_case){.op = "log_softmax", .ip = {d}, .in = {S}}, "log_softmax(SM, %d)", d);
    }
    oe_run((oe_case){.op = "softmax", .ip = {2}, .in = {S}}, "softmax(SM, 2) bad dim");
    oe_run((oe_case){.op = "softmax", .in = {oe_scalar(3)}}, "softmax(0-d)");
    oe_run((oe_case){.op = "log_softmax", .in = {oe_scalar(3)}}, "log_softmax(0-d)");
    oe_run((oe_case){.op = "softmax", .ip = {1}, .in = {oe_f32(2, SH(0, 4), NULL)}}, "softmax(empty [0,4])");
    oe_run((oe_case){.op = "softmax", .ip = {1}, .in = {oe_f32(3, SH(2, 5, 4), &SM[0][0])}},
           "softmax(3d, 1)");
    oe_run((oe_case){.op = "log_softmax", .ip = {1}, .in = {oe_f32(3, SH(2, 5, 4), &SM[0][0])}},
           "log_softmax(3d, 1)");
    /* wide rows (the vector paths): an inf, a NaN, a row of -inf */
    static float wide[3 * 37];
    for (int i = 0; i < 3 * 37; i++)
        wide[i] = i >= 74 ? -INFINITY : (float)((i * 7) % 11) - 5.0f;
    wide[5] = INFINITY, wide[37 + 20] = NAN;
    oe_run((oe_case){.op = "softmax", .ip = {-1}, .in = {oe_f32(2, SH(3, 37), wide)}}, "softmax(wide37)");
    oe_run((oe_case){.op = "log_softmax", .ip = {-1}, .in = {oe_f32(2, SH(3, 37), wide)}},
           "log_softmax(wide37)");
    layer_norm_cases();
    cross_entropy_cases();
}

static void gather_cases(void) {
    nb_tensor *W = oe_f32(2, SH(4, 3), FV(1, 2, 3, 4, NAN, 6, 7, 8, INFINITY, 10, 11, 12));
    const struct {
        const char *tag;
        int ndim;
        int64_t shape[2];
        int32_t idx[6];
    } emb[] = {{"repeated", 2, {2, 3}, {1, 1, 3, 0, 1, 2}},
               {"oor 4", 1, {2}, {1, 4}},
               {"neg -1", 1, {2}, {1, -1}},
               {"empty idx", 1, {0}, {0}},
               {"0-d idx", 0, {0}, {2}}};
    for (int i = 0; i < COUNT(emb); i++)
        oe_run((oe_case){.op = "embedding", .in = {W, oe_i32(emb[i].ndim, emb[i].shape, emb[i].idx)}},
               "embedding(%s)", emb[i].tag);
    oe_run((oe_case){.op = "embedding", .nograd = 2, .in = {W, f1(2, FV(1, 2))}}, "embedding(f32 idx)");
    for (int d = -1; d <= 1; d++)
        oe_run((oe_case){.op = "index_select", .ip = {d}, .in = {W, oe_i32(1, SH(4), IV(2, 0, 2, 2))}},
               "index_select(W, %d, repeated)", d);
    oe_run((oe_case){.op = "index_select", .in = {W, oe_i32(1, SH(2), IV(0, 4))}}, "index_select(W, 0, oor)");
    oe_run((oe_case){.op = "index_select", .in = {W, oe_i32(1, SH(2), IV(0, -1))}}, "index_select(W, 0, -1)");
    oe_run((oe_case){.op = "index_select", .in = {W, oe_i32(2, SH(1, 2), IV(0, 1))}},
           "index_select(W, 0, 2-d idx)");
    oe_run((oe_case){.op = "index_select", .in = {W, oe_i32(1, SH(0), NULL)}}, "index_select(W, 0, empty)");
    const struct {
        const char *tag;
        int dim, ndim;
        int64_t shape[2];
        int32_t idx[16];
    } ga[] = {{"1, repeated", 1, 2, {4, 4}, {0, 0, 0, 2, 1, 1, 2, 1, 2, 2, 2, 2, 0, 1, 2, 0}},
              {"0, repeated, smaller idx", 0, 2, {2, 2}, {3, 3, 3, 1}},
              {"-1, smaller idx", -1, 2, {2, 2}, {2, 2, 0, 1}},
              {"1, oor", 1, 2, {1, 1}, {3}},
              {"1, neg", 1, 2, {1, 1}, {-1}},
              {"1, idx larger dim0", 1, 2, {5, 1}, {0, 1, 2, 0, 1}},
              {"1, idx 1-d", 1, 1, {2}, {0, 1}}};
    for (int i = 0; i < COUNT(ga); i++)
        oe_run((oe_case){.op = "gather",
                         .ip = {ga[i].dim},
                         .in = {W, oe_i32(ga[i].ndim, ga[i].shape, ga[i].idx)}},
               "gather(W, %s)", ga[i].tag);
}

static void shape_cases(void) {
    nb_tensor *A = oe_f32(2, SH(2, 3), FV(1, NAN, 3, 4, 5, INFINITY)),
              *B = oe_f32(2, SH(2, 2), FV(7, 8, 9, 10));
    oe_run((oe_case){.op = "cat", .ip = {1}, .in = {A, B, oe_f32(2, SH(2, 0), NULL)}}, "cat(A,B,E dim1)");
    oe_run((oe_case){.op = "cat", .ip = {-1}, .in = {A, B}}, "cat(A,B dim -1)");
    oe_run((oe_case){.op = "cat", .ip = {0}, .in = {A, B}}, "cat(A,B dim0 mismatch)");
    oe_run((oe_case){.op = "cat", .ip = {0}, .in = {A, A}}, "cat(A,A dim0)");
    oe_run((oe_case){.op = "cat", .ip = {0}, .in = {A, f1(0, NULL)}}, "cat(A, empty1d)");
    oe_run((oe_case){.op = "cat", .ip = {2}, .in = {A}}, "cat(A) dim 2");
    oe_run((oe_case){.op = "cat", .ip = {0}, .in = {oe_scalar(1), oe_scalar(2)}}, "cat(0-d)");
    oe_run((oe_case){.op = "split", .ip = {1, 3, 1, 0, 2}, .in = {A}}, "split(A, 1, [1,0,2])");
    oe_run((oe_case){.op = "split", .ip = {-1, 1, 3}, .in = {A}}, "split(A, -1, [3])");
    oe_run((oe_case){.op = "split", .ip = {1, 2, 1, 1}, .in = {A}}, "split(A, 1, [1,1]) bad sum");
    oe_run((oe_case){.op = "split", .ip = {1, 2, 4, -1}, .in = {A}}, "split(A, 1, [4,-1]) neg size");
    float tr[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        tr[i] = (i % 5 == 2) ? NAN : (i % 7 == 3 ? INFINITY : (float)i);
    const int ks[] = {0, -1, 1, -5, 5, 2, -2, 100, -100};
    for (int i = 0; i < COUNT(ks); i++)
        oe_run((oe_case){.op = "tril", .ip = {ks[i]}, .in = {oe_f32(3, SH(2, 3, 4), tr)}}, "tril(3d NaN, %d)",
               ks[i]);
    oe_run((oe_case){.op = "tril", .in = {f1(3, tr)}}, "tril(1-d)");
    /* dropout: p in and out of range, in training and not; x has NaN, inf and a 0 */
    const float dp[] = {0.0f, 0.5f, 0.999999f, 1.0f, -0.1f, 1.1f, NAN};
    float dx[64];
    for (int i = 0; i < 64; i++)
        dx[i] = (i % 9 == 0) ? NAN : (i % 13 == 0 ? INFINITY : (float)i - 30);
    for (int i = 0; i < COUNT(dp); i++)
        for (int train = 0; train <= 1; train++)
            if (train || i == 0 || i >= 4)
                oe_run(
                    (oe_case){.op = "dropout", .fp = {dp[i]}, .ip = {train}, .in = {oe_f32(2, SH(8, 8), dx)}},
                    "dropout(p=%g, train=%d)", (double)dp[i], train);
}

static void matmul_cases(void) {
    nb_tensor *MA = oe_f32(2, SH(2, 3), FV(INFINITY, 1, 0, NAN, 0, 1));
    nb_tensor *MB = oe_f32(2, SH(3, 2), FV(0, 1, 2, 3, 0, -INFINITY));
    oe_run((oe_case){.op = "matmul", .in = {MA, MB}}, "matmul(inf/nan 2x3 @ 3x2)");
    oe_run((oe_case){.op = "matmul",
                     .in = {oe_f32(2, SH(1, 2), FV(0, 1)), oe_f32(2, SH(2, 2), FV(INFINITY, NAN, 1, 1))}},
           "matmul(0 @ inf)");
    oe_run((oe_case){.op = "matmul",
                     .in = {oe_f32(2, SH(1, 2), FV(FLT_MAX, FLT_MAX)), oe_f32(2, SH(2, 1), FV(1, -1))}},
           "matmul(FLT_MAX overflow)");
    /* the GEMM kernel's path: 40x33 @ 33x20, a zero row meeting inf and NaN, a NaN in a */
    static float ga[40 * 33], gb[33 * 20];
    for (int i = 0; i < 40 * 33; i++)
        ga[i] = (i / 33 == 5) ? 0.0f : (float)((i * 37) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < 33 * 20; i++)
        gb[i] = (float)((i * 11) % 13) / 6.0f - 1.0f;
    gb[7 * 20 + 3] = INFINITY, gb[2 * 20 + 9] = NAN, ga[11 * 33 + 4] = NAN;
    oe_run((oe_case){.op = "matmul", .in = {oe_f32(2, SH(40, 33), ga), oe_f32(2, SH(33, 20), gb)}},
           "matmul(40x33 @ 33x20 specials)");
    oe_run((oe_case){.op = "matmul", .in = {f1(3, FV(1, 0, INFINITY)), f1(3, FV(0, NAN, 1))}},
           "matmul(1d@1d)");
    oe_run((oe_case){.op = "matmul", .in = {f1(3, FV(1, 0, 2)), MB}}, "matmul(1d@2d)");
    oe_run((oe_case){.op = "matmul", .in = {MA, f1(3, FV(1, 0, 2))}}, "matmul(2d@1d)");
    oe_run((oe_case){.op = "matmul", .in = {oe_randn(4, SH(2, 1, 2, 3), 11), oe_randn(3, SH(3, 3, 2), 12)}},
           "matmul(batched bcast [2,1,2,3]@[3,3,2])");
    oe_run((oe_case){.op = "matmul", .in = {oe_f32(2, SH(2, 0), NULL), oe_f32(2, SH(0, 3), NULL)}},
           "matmul(k=0)");
    oe_run((oe_case){.op = "matmul", .in = {MA, MA}}, "matmul(shape mismatch)");
    oe_run((oe_case){.op = "matmul", .in = {oe_scalar(2), MA}}, "matmul(0-d)");
    oe_run((oe_case){.op = "linear",
                     .in = {MA, oe_f32(2, SH(2, 3), FV(1, 2, 3, 0, 0, 0)), f1(2, FV(NAN, -INFINITY))}},
           "linear(inf x, bias)");
}

static void attention_cases(void) {
    const int64_t *s1 = SH(1, 2, 1, 3), *s4 = SH(1, 1, 4, 2), *sb = SH(2, 3, 17, 8), *s0 = SH(1, 1, 0, 2);
    oe_run(
        (oe_case){.op = "attention", .in = {oe_randn(4, s1, 21), oe_randn(4, s1, 22), oe_randn(4, s1, 23)}},
        "attention(T=1)");
    oe_run((oe_case){.op = "attention",
                     .in = {oe_f32(4, s4, FV(1, 2, 1e30f, 0, NAN, 0, 0.5f, -1)),
                            oe_f32(4, s4, FV(1, 0, -INFINITY, 0, 0, 1, 2, 2)),
                            oe_f32(4, s4, FV(1, 2, 3, 4, 5, 6, INFINITY, 8))}},
           "attention(specials T=4)");
    oe_run(
        (oe_case){.op = "attention",
                  .in = {oe_f32(4, s4, FV(1e20f, 1e20f, 1, 1, 2, 2, 3, 3)),
                         oe_f32(4, s4, FV(1e20f, 1e20f, -1e20f, 1e20f, 1, -1, 0, 0)), oe_randn(4, s4, 24)}},
        "attention(huge T=4)");
    oe_run(
        (oe_case){.op = "attention", .in = {oe_randn(4, sb, 25), oe_randn(4, sb, 26), oe_randn(4, sb, 27)}},
        "attention(random 2x3x17x8)");
    oe_run(
        (oe_case){.op = "attention", .in = {oe_randn(4, sb, 25), oe_randn(4, s4, 26), oe_randn(4, sb, 27)}},
        "attention(shape mismatch)");
    oe_run(
        (oe_case){.op = "attention", .in = {oe_f32(4, s0, NULL), oe_f32(4, s0, NULL), oe_f32(4, s0, NULL)}},
        "attention(T=0)");
    nb_tensor *qkv = oe_randn(3, SH(2, 5, 12), 28);
    oe_run((oe_case){.op = "attention_qkv", .ip = {2}, .in = {qkv}}, "attention_qkv(2x5x12, 2 heads)");
    oe_run((oe_case){.op = "attention_qkv", .ip = {3}, .in = {qkv}}, "attention_qkv(n_head 3 bad)");
    oe_run((oe_case){.op = "attention_qkv", .ip = {0}, .in = {qkv}}, "attention_qkv(n_head 0)");
    oe_run((oe_case){.op = "attention_qkv", .ip = {1}, .in = {oe_randn(3, SH(1, 1, 6), 29)}},
           "attention_qkv(T=1)");
}

void oe_index_cases(void) {
    gather_cases();
    shape_cases();
    matmul_cases();
    attention_cases();
    /* casts: NaN, infinities, out of i32 range, f16 overflow and rounding edges, subnormals */
    const float cv[] = {NAN,    INFINITY, -INFINITY, 1e10f,         -1e10f,        -0.5f,         2.7f,
                        -2.7f,  65504.0f, 65520.0f,  65519.0f,      1e-8f,         6e-8f,         3e-8f,
                        1e-39f, -0.0f,    3.0e38f,   2147483520.0f, 2147483648.0f, -2147483648.0f};
    const nb_dtype dts[] = {NB_I32, NB_F16, NB_BF16, NB_F32};
    for (int i = 0; i < COUNT(dts); i++)
        oe_run((oe_case){.op = "cast", .ip = {dts[i]}, .in = {f1(COUNT(cv), cv)}}, "cast(specials -> %s)",
               nb_dtype_name(dts[i]));
    oe_run(
        (oe_case){.op = "cast", .ip = {NB_F32}, .in = {oe_i32(1, SH(3), IV(INT32_MAX, INT32_MIN, 16777217))}},
        "cast(i32 -> f32)");
}

/* Precision far from 0: softmax and cross-entropy rows around offsets up to 1e8, a bias offset
 * in the fused linear cross-entropy, attention scores around a large common offset, gelu's tail. */
void oe_offset_cases(void) {
    const float offs[] = {1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, -1e4f, -1e6f, -1e8f};
    enum { NO = COUNT(offs) };
    float X[NO][6];
    int32_t tg[NO];
    for (int i = 0; i < NO; i++) {
        for (int j = 0; j < 6; j++)
            X[i][j] = offs[i] + (float)((j * 5) % 6) * 0.75f;
        tg[i] = i % 6;
    }
    oe_run((oe_case){.op = "log_softmax", .ip = {-1}, .in = {oe_f32(2, SH(NO, 6), &X[0][0])}},
           "log_softmax(offset rows)");
    oe_run((oe_case){.op = "softmax", .ip = {-1}, .in = {oe_f32(2, SH(NO, 6), &X[0][0])}},
           "softmax(offset rows)");
    oe_run((oe_case){.op = "log_softmax", .ip = {0}, .in = {oe_f32(2, SH(6, NO), &X[0][0])}},
           "log_softmax(offset rows, dim0)");
    for (int i = 0; i < NO; i++)
        oe_run((oe_case){.op = "cross_entropy",
                         .ip = {-100},
                         .in = {oe_f32(2, SH(1, 6), X[i]), oe_i32(1, SH(1), &tg[i])}},
               "cross_entropy(offset row %g)", (double)offs[i]);
    const float lo[] = {1e3f, 1e4f, 1e6f};
    for (int k = 0; k < COUNT(lo); k++) {
        float b[6];
        for (int j = 0; j < 6; j++)
            b[j] = lo[k] + 0.5f * (float)j;
        oe_run((oe_case){.op = "linear_cross_entropy",
                         .ip = {-100, 1},
                         .in = {oe_randn(2, SH(4, 3), 40 + k), oe_randn(2, SH(6, 3), 50 + k), f1(6, b),
                                oe_i32(1, SH(4), IV(0, 5, 2, 3))}},
               "linear_cross_entropy(bias offset %g)", (double)lo[k]);
    }
    const float so[] = {30.0f, 100.0f, 300.0f};
    for (int k = 0; k < COUNT(so); k++) {
        float q[10], kk[10];
        for (int t = 0; t < 5; t++)
            q[2 * t] = kk[2 * t] = so[k], q[2 * t + 1] = 1.0f + (float)t,
                  kk[2 * t + 1] = 0.3f * (float)t - 0.5f;
        const int64_t *sh = SH(1, 1, 5, 2);
        oe_run((oe_case){.op = "attention",
                         .in = {oe_f32(4, sh, q), oe_f32(4, sh, kk), oe_randn(4, sh, 60 + k)}},
               "attention(score offset %g^2/sqrt2)", (double)so[k]);
    }
    oe_run((oe_case){.op = "gelu",
                     .in = {f1(11, FV(-3.0f, -3.5f, -4.0f, -4.5f, -5.0f, -5.5f, -6.0f, -7.0f, -8.0f, -9.0f,
                                      -10.0f))}},
           "gelu(neg tail)");
    /* torch's float32 derivative is 0 or 1e-6 off in [-5.067, -5.061]; below -1.2e13 x u'
     * overflows (nabla clamps); above 1.8e19 torch's formula gives NaN, the true value is 1 */
    oe_run((oe_case){.op = "gelu",
                     .in = {f1(10, FV(-5.0671f, -5.065f, -5.0614f, -16.5f, -1.2e13f, -1e15f, 1e13f, 20.0f,
                                      3e19f, -3e19f))}},
           "gelu(tail window, huge)");
    oe_run((oe_case){.op = "gelu_erf",
                     .in = {f1(8, FV(-5.0f, -6.0f, -7.0f, -8.0f, -9.0f, -1e15f, 1e15f, 3e19f))}},
           "gelu_erf(neg tail, huge)");
}

/* Ops added after the cases above (their order no longer matters: each case's gradient weights
 * are seeded by its name). */
void oe_newer_cases(void) {
    const char *ops[] = {"log1p", "expm1", "erf", "gelu_erf", "silu", "softplus"};
    for (int i = 0; i < COUNT(ops); i++)
        oe_run((oe_case){.op = ops[i], .in = {svt()}}, "%s(SV)", ops[i]);
    float r[81];
    for (int i = 0; i < 81; i++)
        r[i] = -20.0f + 0.5f * (float)i;
    const char *dops[] = {"gelu_erf", "silu", "softplus", "erf", "expm1"};
    for (int i = 0; i < COUNT(dops); i++)
        oe_run((oe_case){.op = dops[i], .in = {f1(81, r)}}, "%s(range)", dops[i]);
    const float ls[] = {0.01f, 0.2f, 0.0f, -0.5f, 1.0f, INFINITY};
    for (int j = 0; j < COUNT(ls); j++)
        oe_run((oe_case){.op = "leaky_relu", .fp = {ls[j]}, .in = {svt()}}, "leaky_relu(SV, %g)",
               (double)ls[j]);

    nb_tensor *M = oe_f32(2, SH(8, 5), &RED[0][0]);
    const int a0[] = {0}, a1[] = {1}, an[] = {-1}, a01[] = {0, 1};
    const char *rops[] = {"std", "logsumexp"};
    for (int i = 0; i < COUNT(rops); i++) {
        for (int corr = 0; corr <= (i == 0); corr++) {
            red(rops[i], 0, corr, 1, a1, M, "RED");
            red(rops[i], 1, corr, 1, a0, M, "RED");
            red(rops[i], 0, corr, 1, an, M, "RED");
            red(rops[i], 0, corr, 2, a01, M, "RED");
            red(rops[i], 0, corr, 0, NULL, M, "RED");
        }
        red(rops[i], 0, i == 0, 1, a0, f1(1, FV(2.5f)), "[1]");
        red(rops[i], 0, 0, 1, a0, f1(0, NULL), "empty[0]");
        red(rops[i], 0, 0, 1, a0, oe_f32(2, SH(0, 3), NULL), "empty[0,3] ax0");
        red(rops[i], 0, 0, 1, a1, oe_f32(2, SH(0, 3), NULL), "empty[0,3] ax1");
        red(rops[i], 0, 0, 0, NULL, oe_scalar(3.0f), "0-d");
    }
    red("std", 0, 0, 1, a1, oe_f32(2, SH(2, 3), FV(2, 2, 2, 1, 2, 3)), "a constant row");
    /* logsumexp where exp overflows or every term is -inf */
    red("logsumexp", 0, 0, 1, a1, oe_f32(2, SH(2, 3), FV(100, 100, 99, -INFINITY, -INFINITY, -INFINITY)),
        "big, -inf");
    red("logsumexp", 0, 0, 1, a1, oe_f32(2, SH(2, 3), FV(INFINITY, 1, 2, NAN, 0, 1)), "inf, NaN");
    for (int ax = -2; ax <= 1; ax++)
        oe_run((oe_case){.op = "argmin", .ip = {ax, ax & 1}, .nograd = 1, .in = {M}}, "argmin(RED, %d)", ax);
    oe_run((oe_case){.op = "argmin", .nograd = 1, .in = {f1(4, FV(1, -5, NAN, -5))}}, "argmin(NaN later)");
    oe_run((oe_case){.op = "argmin", .nograd = 1, .in = {oe_scalar(1)}}, "argmin(0-d)");

    /* the steps: special values, and halves and near-integers either side of each jump */
    const char *steps[] = {"sign", "floor", "ceil", "round", "trunc"};
    float h[24];
    for (int i = 0; i < 12; i++) {
        h[i] = -3.0f + 0.5f * (float)i;
        h[12 + i] = nextafterf((float)(i - 6), (i & 1) ? INFINITY : -INFINITY);
    }
    for (int i = 0; i < COUNT(steps); i++) {
        oe_run((oe_case){.op = steps[i], .in = {svt()}}, "%s(SV)", steps[i]);
        oe_run((oe_case){.op = steps[i], .in = {f1(24, h)}}, "%s(halves)", steps[i]);
    }

    /* the losses: special values against their reverse, the kinks, extreme logits */
    float rev[NSV];
    for (int i = 0; i < NSV; i++)
        rev[i] = SV[NSV - 1 - i];
    const char *pl[] = {"mse_loss", "l1_loss", "bce_with_logits"};
    for (int i = 0; i < COUNT(pl); i++)
        oe_run((oe_case){.op = pl[i], .in = {svt(), f1(NSV, rev)}}, "%s(SV, reversed)", pl[i]);
    const float deltas[] = {1.0f, 0.5f, 1e-3f};
    for (int j = 0; j < COUNT(deltas); j++)
        oe_run((oe_case){.op = "huber_loss", .fp = {deltas[j]}, .in = {svt(), f1(NSV, rev)}},
               "huber_loss(SV, reversed, %g)", (double)deltas[j]);
    const float kp[] = {0.5f, -0.5f, 1.5f, 0.0f, 0.25f, -2.0f}, kt[] = {0, 0, 0, 0, 0, 0};
    const char *kl[] = {"mse_loss", "l1_loss", "huber_loss"};
    for (int i = 0; i < COUNT(kl); i++)
        oe_run((oe_case){.op = kl[i], .fp = {0.5f}, .in = {f1(6, kp), f1(6, kt)}}, "%s(kinks)", kl[i]);
    oe_run((oe_case){.op = "bce_with_logits",
                     .in = {f1(8, FV(100, -100, 1e30f, -1e30f, 100, -100, 30, -30)),
                            f1(8, FV(1, 0, 1, 0, 0, 1, 0.3f, 0.7f))}},
           "bce_with_logits(extreme logits)");
    oe_run((oe_case){.op = "mse_loss", .in = {f1(3, FV(1, 2, 3)), oe_f32(2, SH(2, 3), FV(1, 2, 3, 4, 5, 6))}},
           "mse_loss(broadcast [3] to [2,3])");

    const float lp[6][4] = {{-1, -2, -3, -0.5f}, {-INFINITY, -1, -2, -3}, {-1, -2, -INFINITY, -3},
                            {NAN, -1, -1, -1},   {-1e30f, -1, -2, -3},    {0, -1, -2, -3}};
    const struct {
        int32_t t[6];
        int ign;
        const char *tag;
    } nl[] = {
        {{0, 1, 3, 1, 1, 0}, -100, "basic"},
        {{0, 0, 3, 1, 1, 0}, -100, "-inf at target row1"},
        {{0, -100, 3, -100, 1, 0}, -100, "ignored rows with -inf, NaN at entry 0"},
        {{2, 2, 2, 2, 2, 2}, 2, "all ignored"},
        {{0, 1, 4, 0, 0, 1}, -100, "target 4 out of range"},
        {{0, -1, 3, 0, 0, 1}, -100, "target -1"},
    };
    nb_tensor *LP = oe_f32(2, SH(6, 4), &lp[0][0]);
    for (int i = 0; i < COUNT(nl); i++)
        oe_run((oe_case){.op = "nll_loss", .ip = {nl[i].ign}, .in = {LP, oe_i32(1, SH(6), nl[i].t)}},
               "nll_loss(LP, %s)", nl[i].tag);
    oe_run((oe_case){.op = "nll_loss",
                     .ip = {-100},
                     .in = {oe_f32(3, SH(2, 3, 4), &lp[0][0]), oe_i32(2, SH(2, 3), IV(0, 1, 3, -100, 0, 1))}},
           "nll_loss(3d [2,3,4])");

    /* cumsum: special values (inf - inf, NaN onwards), overflow past FLT_MAX and back, each axis */
    oe_run((oe_case){.op = "cumsum", .in = {svt()}}, "cumsum(SV)");
    oe_run((oe_case){.op = "cumsum", .in = {f1(4, FV(FLT_MAX, FLT_MAX, -FLT_MAX, -FLT_MAX))}},
           "cumsum(past FLT_MAX and back)");
    oe_run((oe_case){.op = "cumsum", .in = {f1(5, FV(1e8f, 1, 1, 1, -1e8f))}}, "cumsum(1e8 + ones)");
    for (int ax = -2; ax < 2; ax++)
        oe_run((oe_case){.op = "cumsum", .ip = {ax}, .in = {M}}, "cumsum(RED, %d)", ax);
    oe_run((oe_case){.op = "cumsum", .in = {oe_scalar(3.0f)}}, "cumsum(0-d)");
    oe_run((oe_case){.op = "cumsum", .ip = {1}, .in = {oe_f32(2, SH(0, 3), NULL)}}, "cumsum(empty[0,3], 1)");
    oe_run((oe_case){.op = "cumsum", .ip = {2}, .in = {M}}, "cumsum(RED, 2)");

    /* flip, roll, repeat, pad: ip[0] counts the dims, shifts or sizes that follow */
    oe_run((oe_case){.op = "flip", .ip = {1, 0}, .in = {M}}, "flip(RED, 0)");
    oe_run((oe_case){.op = "flip", .ip = {2, 1, -2}, .in = {M}}, "flip(RED, 1, -2)");
    oe_run((oe_case){.op = "flip", .ip = {1, 0}, .in = {svt()}}, "flip(SV)");
    oe_run((oe_case){.op = "flip", .ip = {2, 0, -2}, .in = {M}}, "flip(RED, 0, -2 repeated)");
    oe_run((oe_case){.op = "roll", .ip = {3, 0}, .in = {M}}, "roll(RED, 3, 0)");
    oe_run((oe_case){.op = "roll", .ip = {-7, 1}, .in = {M}}, "roll(RED, -7, 1)");
    oe_run((oe_case){.op = "roll", .ip = {100, 0}, .in = {svt()}}, "roll(SV, 100)");
    oe_run((oe_case){.op = "roll", .ip = {2, 0}, .in = {f1(0, NULL)}}, "roll(empty, 2)");
    oe_run((oe_case){.op = "repeat", .ip = {3, 2, 1, 3}, .in = {M}}, "repeat(RED, 2, 1, 3)");
    oe_run((oe_case){.op = "repeat", .ip = {2, 1, 0}, .in = {M}}, "repeat(RED, 1, 0)");
    oe_run((oe_case){.op = "repeat", .ip = {2, 2, 2}, .in = {svt()}}, "repeat(SV, 2, 2)");
    oe_run((oe_case){.op = "repeat", .ip = {1, 3}, .in = {oe_scalar(2.0f)}}, "repeat(0-d, 3)");
    oe_run((oe_case){.op = "repeat", .ip = {1, 3}, .in = {M}}, "repeat(RED, too few)");
    oe_run((oe_case){.op = "pad", .ip = {2, 1, 2}, .fp = {NAN}, .in = {M}}, "pad(RED, 1, 2, NaN)");
    oe_run((oe_case){.op = "pad", .ip = {4, 1, -2, 0, 3}, .fp = {INFINITY}, .in = {M}},
           "pad(RED, crop, inf)");
    oe_run((oe_case){.op = "pad", .ip = {2, -3, 2}, .fp = {0}, .in = {svt()}}, "pad(SV, -3, 2)");
    oe_run((oe_case){.op = "pad", .ip = {2, -4, -4}, .fp = {0}, .in = {f1(5, FV(1, 2, 3, 4, 5))}},
           "pad(negative size)");

    /* conv and pools: ip = stride h w, padding h w, dilation h w, groups, bias or kernel h w */
    nb_tensor *img = oe_randn(4, SH(2, 4, 6, 7), 90), *img_sv = oe_randn(4, SH(1, 2, 4, 5), 91);
    float *sv = nb_data_f32(img_sv); /* special values inside an image */
    sv[0] = NAN, sv[7] = INFINITY, sv[13] = -INFINITY, sv[22] = 1e30f, sv[31] = -0.0f;
    oe_run((oe_case){.op = "conv2d",
                     .ip = {1, 1, 0, 0, 1, 1, 1, 1},
                     .in = {img, oe_randn(4, SH(3, 4, 3, 3), 92), oe_randn(1, SH(3), 93)}},
           "conv2d(3x3, bias)");
    oe_run((oe_case){.op = "conv2d",
                     .ip = {2, 1, 1, 2, 1, 2, 2, 0},
                     .in = {img, oe_randn(4, SH(6, 2, 2, 3), 94)}},
           "conv2d(stride 2,1 pad 1,2 dil 1,2 groups 2)");
    oe_run((oe_case){.op = "conv2d",
                     .ip = {1, 1, 1, 1, 1, 1, 4, 1},
                     .in = {img, oe_randn(4, SH(4, 1, 3, 3), 95), oe_randn(1, SH(4), 96)}},
           "conv2d(depthwise)");
    oe_run((oe_case){.op = "conv2d",
                     .ip = {1, 1, 1, 1, 1, 1, 1, 0},
                     .in = {img_sv, oe_randn(4, SH(2, 2, 2, 2), 97)}},
           "conv2d(special values)");
    oe_run((oe_case){.op = "conv2d",
                     .ip = {1, 1, 0, 0, 1, 1, 1, 0},
                     .in = {img, oe_randn(4, SH(2, 4, 7, 3), 98)}},
           "conv2d(window too large)");
    oe_run((oe_case){.op = "conv1d",
                     .ip = {2, 0, 3, 0, 2, 0, 1, 1},
                     .in = {oe_randn(3, SH(2, 3, 11), 99), oe_randn(3, SH(4, 3, 4), 100),
                            oe_randn(1, SH(4), 101)}},
           "conv1d(stride 2 pad 3 dil 2)");
    oe_run((oe_case){.op = "max_pool2d", .ip = {0, 0, 0, 0, 0, 0, 0, 2, 2}, .in = {img}}, "max_pool2d(2x2)");
    oe_run((oe_case){.op = "max_pool2d", .ip = {2, 1, 1, 1, 1, 2, 0, 3, 2}, .in = {img}},
           "max_pool2d(3x2 stride 2,1 pad 1 dil 1,2)");
    oe_run((oe_case){.op = "max_pool2d", .ip = {1, 1, 1, 1, 0, 0, 0, 3, 3}, .in = {img_sv}},
           "max_pool2d(special values)");
    oe_run((oe_case){.op = "max_pool2d",
                     .ip = {1, 1, 0, 0, 0, 0, 0, 2, 2},
                     .in = {oe_f32(4, SH(1, 1, 3, 3), NULL)}},
           "max_pool2d(zeros: ties)");
    float ninf[9];
    for (int i = 0; i < 9; i++)
        ninf[i] = -INFINITY;
    ninf[8] = 2.0f;
    oe_run((oe_case){.op = "max_pool2d",
                     .ip = {1, 1, 1, 1, 0, 0, 0, 3, 3},
                     .in = {oe_f32(4, SH(1, 1, 3, 3), ninf)}},
           "max_pool2d(-inf windows and padding)");
    oe_run((oe_case){.op = "avg_pool2d", .ip = {0, 0, 1, 1, 0, 0, 0, 3, 2}, .in = {img}},
           "avg_pool2d(3x2 pad 1)");
    oe_run((oe_case){.op = "avg_pool2d", .ip = {1, 1, 0, 0, 0, 0, 0, 2, 2}, .in = {img_sv}},
           "avg_pool2d(special values)");
    oe_run((oe_case){.op = "unfold", .ip = {2, 1, 1, 2, 1, 2, 0, 3, 2}, .in = {img}},
           "unfold(3x2 stride 2,1 pad 1,2 dil 1,2)");
    oe_run((oe_case){.op = "unfold", .ip = {1, 1, 1, 1, 0, 0, 0, 2, 2}, .in = {img_sv}},
           "unfold(special values)");

    /* sort (torch's stable sort), argsort, topk (without ties: torch leaves their order open) */
    for (int desc = 0; desc < 2; desc++) {
        oe_run((oe_case){.op = "sort", .ip = {0, desc}, .in = {svt()}}, "sort(SV, desc %d)", desc);
        oe_run((oe_case){.op = "argsort", .ip = {0, desc}, .nograd = 1, .in = {svt()}},
               "argsort(SV, desc %d)", desc);
        for (int ax = -2; ax < 2; ax++) {
            oe_run((oe_case){.op = "sort", .ip = {ax, desc}, .in = {M}}, "sort(RED, %d, desc %d)", ax, desc);
            oe_run((oe_case){.op = "argsort", .ip = {ax, desc}, .nograd = 1, .in = {M}},
                   "argsort(RED, %d, desc %d)", ax, desc);
        }
    }
    nb_tensor *distinct = oe_randn(2, SH(6, 9), 120);
    for (int largest = 0; largest < 2; largest++)
        for (int k = 0; k <= 9; k += 3) {
            oe_run((oe_case){.op = "topk", .ip = {k, 1, largest}, .in = {distinct}}, "topk(%d, largest %d)",
                   k, largest);
            oe_run((oe_case){.op = "topk_idx", .ip = {k, 1, largest}, .nograd = 1, .in = {distinct}},
                   "topk indices(%d, largest %d)", k, largest);
        }
    oe_run((oe_case){.op = "topk", .ip = {10, 1, 1}, .in = {distinct}}, "topk(k past the size)");
    oe_run((oe_case){.op = "sort", .ip = {0, 0}, .in = {oe_scalar(1.5f)}}, "sort(0-d)");

    /* label smoothing: finite logits with ignored rows, the LP rows (-inf, NaN), all ignored */
    const float sm[] = {0.0f, 0.1f, 0.5f, 1.0f};
    for (int i = 0; i < COUNT(sm); i++)
        oe_run((oe_case){.op = "cross_entropy_smooth",
                         .ip = {-100},
                         .fp = {sm[i]},
                         .in = {oe_randn(3, SH(2, 3, 7), 130), oe_i32(2, SH(2, 3), IV(0, 6, -100, 3, 2, 1))}},
               "cross_entropy_smooth(%g)", (double)sm[i]);
    oe_run((oe_case){.op = "cross_entropy_smooth",
                     .ip = {-100},
                     .fp = {0.2f},
                     .in = {LP, oe_i32(1, SH(6), IV(0, -100, 3, -100, 1, 0))}},
           "cross_entropy_smooth(LP, ignored -inf/NaN rows)");
    oe_run((oe_case){.op = "cross_entropy_smooth",
                     .ip = {2},
                     .fp = {0.2f},
                     .in = {LP, oe_i32(1, SH(6), IV(2, 2, 2, 2, 2, 2))}},
           "cross_entropy_smooth(all ignored)");

    /* one_hot: C given, inferred, too small; a negative index; an empty index */
    nb_tensor *oh = oe_i32(2, SH(2, 3), IV(2, 0, 4, 4, 1, 0));
    const int ohc[] = {7, -1, 4};
    for (int i = 0; i < COUNT(ohc); i++)
        oe_run((oe_case){.op = "one_hot", .ip = {ohc[i]}, .nograd = 1, .in = {oh}}, "one_hot(C %d)", ohc[i]);
    oe_run((oe_case){.op = "one_hot", .ip = {5}, .nograd = 1, .in = {oe_i32(1, SH(2), IV(1, -3))}},
           "one_hot(-3)");
    oe_run((oe_case){.op = "one_hot", .ip = {3}, .nograd = 1, .in = {oe_i32(1, SH(0), NULL)}},
           "one_hot(empty)");
    /* batch_norm: training and eval, with and without running statistics and affine; a large
     * offset; special values; one value per channel */
    nb_tensor *bx = oe_randn(4, SH(4, 3, 2, 5), 140), *bm = oe_randn(1, SH(3), 141);
    nb_tensor *bv = oe_f32(1, SH(3), FV(0.5f, 1.0f, 2.0f)), *bw = oe_randn(1, SH(3), 142),
              *bb = oe_randn(1, SH(3), 143);
    for (int tr = 0; tr < 2; tr++)
        for (int st = 0; st < 2; st++)
            for (int af = 0; af < 2; af++)
                oe_run((oe_case){.op = "batch_norm",
                                 .ip = {tr, st, af},
                                 .fp = {0.1f, 1e-5f},
                                 .nograd = 6,
                                 .in = {bx, bm, bv, bw, bb}},
                       "batch_norm(training %d, stats %d, affine %d)", tr, st, af);
    float off[24];
    for (int i = 0; i < 24; i++)
        off[i] = 1e4f + (float)(i % 7) * 0.25f;
    oe_run((oe_case){.op = "batch_norm",
                     .ip = {1, 1, 1},
                     .fp = {0.1f, 1e-5f},
                     .nograd = 6,
                     .in = {oe_f32(3, SH(4, 3, 2), off), bm, bv, bw, bb}},
           "batch_norm(offset 1e4)");
    oe_run(
        (oe_case){
            .op = "batch_norm", .ip = {1, 0, 0}, .fp = {0.1f, 1e-5f}, .in = {oe_f32(2, SH(NSV / 2, 2), SV)}},
        "batch_norm(SV)");
    oe_run((oe_case){.op = "batch_norm",
                     .ip = {1, 1, 0},
                     .fp = {0.1f, 1e-5f},
                     .nograd = 6,
                     .in = {oe_f32(2, SH(1, 3), FV(1, 2, 3)), bm, bv}},
           "batch_norm(one value per channel)");

    /* group_norm: affine or not, one group or one per channel, an offset; adaptive pooling */
    const int gg[] = {1, 3, 6};
    nb_tensor *gx = oe_randn(3, SH(2, 6, 5), 150), *gw = oe_randn(1, SH(6), 151),
              *gb2 = oe_randn(1, SH(6), 152);
    for (int i = 0; i < COUNT(gg); i++)
        for (int af = 0; af < 2; af++)
            oe_run((oe_case){.op = "group_norm", .ip = {gg[i], af}, .fp = {1e-5f}, .in = {gx, gw, gb2}},
                   "group_norm(%d groups, affine %d)", gg[i], af);
    oe_run((oe_case){.op = "group_norm", .ip = {4, 0}, .fp = {1e-5f}, .in = {gx}},
           "group_norm(4 groups of 6)");
    const int64_t aps[][2] = {{3, 2}, {1, 1}, {7, 5}, {4, 3}, {9, 6}};
    for (int i = 0; i < COUNT(aps); i++)
        oe_run((oe_case){.op = "adaptive_avg_pool2d",
                         .ip = {(int)aps[i][0], (int)aps[i][1]},
                         .in = {oe_randn(4, SH(2, 3, 7, 5), 153)}},
               "adaptive_avg_pool2d(7x5 -> %lldx%lld)", (long long)aps[i][0], (long long)aps[i][1]);
    oe_run((oe_case){.op = "adaptive_avg_pool2d", .ip = {2, 2}, .in = {img_sv}},
           "adaptive_avg_pool2d(special values)");

    /* the losses' sum and none reductions (ip[7]: nb_reduction) */
    for (int red = 1; red <= 2; red++) {
        for (int i = 0; i < COUNT(pl); i++)
            oe_run((oe_case){.op = pl[i], .ip = {[7] = red}, .in = {svt(), f1(NSV, rev)}},
                   "%s(SV, reversed, red %d)", pl[i], red);
        oe_run((oe_case){.op = "huber_loss", .ip = {[7] = red}, .fp = {0.5f}, .in = {svt(), f1(NSV, rev)}},
               "huber_loss(SV, reversed, 0.5, red %d)", red);
        oe_run((oe_case){.op = "nll_loss",
                         .ip = {-100, [7] = red},
                         .in = {LP, oe_i32(1, SH(6), IV(0, -100, 3, -100, 1, 0))}},
               "nll_loss(LP, ignored -inf/NaN rows, red %d)", red);
        oe_run((oe_case){.op = "nll_loss",
                         .ip = {-100, [7] = red},
                         .in = {oe_f32(3, SH(2, 3, 4), &lp[0][0]),
                                oe_i32(2, SH(2, 3), IV(0, 1, 3, -100, 0, 1))}},
               "nll_loss(3d, red %d)", red);
        oe_run((oe_case){.op = "cross_entropy_smooth",
                         .ip = {-100, [7] = red},
                         .fp = {0.2f},
                         .in = {oe_randn(3, SH(2, 3, 7), 130), oe_i32(2, SH(2, 3), IV(0, 6, -100, 3, 2, 1))}},
               "cross_entropy_smooth(0.2, red %d)", red);
    }
}
