/* ops_edge_special.c - the edge cases of the special functions and the other table ops added
 * last: erfc, erfinv, lgamma, digamma, sinc, logit, frac, the shrinks, threshold, celu,
 * nan_to_num, the tests (isnan, ...), hypot, logaddexp(2), xlogy, copysign, floor_divide,
 * heaviside and the logical ops; run by ops_edge.c after ops_edge_more.c, which also asks
 * oe_special_apply for the ops it does not know. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ops_edge.h"

#define SV oe_sv
static nb_tensor *f1(int64_t n, const float *d) { return oe_f32(1, SH(n), d); }
static nb_tensor *svt(void) { return f1(NSV, SV); }

static const struct {
    const char *name;
    nb_tensor *(*fn)(nb_tensor *);
} un[] = {{"erfc", nb_erfc},
          {"erfinv", nb_erfinv},
          {"lgamma", nb_lgamma},
          {"digamma", nb_digamma},
          {"sinc", nb_sinc},
          {"frac", nb_frac},
          {"tanhshrink", nb_tanhshrink},
          {"isnan", nb_isnan},
          {"isinf", nb_isinf},
          {"isfinite", nb_isfinite},
          {"isposinf", nb_isposinf},
          {"isneginf", nb_isneginf},
          {"logical_not", nb_logical_not}};
static const struct {
    const char *name;
    nb_tensor *(*fn)(nb_tensor *, nb_tensor *);
} bin[] = {{"hypot", nb_hypot},           {"logaddexp", nb_logaddexp},
           {"logaddexp2", nb_logaddexp2}, {"xlogy", nb_xlogy},
           {"copysign", nb_copysign},     {"floor_divide", nb_floor_divide},
           {"heaviside", nb_heaviside},   {"logical_and", nb_logical_and},
           {"logical_or", nb_logical_or}, {"logical_xor", nb_logical_xor}};

nb_tensor *oe_special_apply(const oe_case *c, bool *known) {
    nb_tensor *const *in = c->in;
    const float *fp = c->fp;
    *known = true;
    for (int i = 0; i < COUNT(un); i++)
        if (strcmp(c->op, un[i].name) == 0) return un[i].fn(in[0]);
    for (int i = 0; i < COUNT(bin); i++)
        if (strcmp(c->op, bin[i].name) == 0) return bin[i].fn(in[0], in[1]);
    if (strcmp(c->op, "logit") == 0) return nb_logit(in[0], fp[0]);
    if (strcmp(c->op, "hardshrink") == 0) return nb_hardshrink(in[0], fp[0]);
    if (strcmp(c->op, "softshrink") == 0) return nb_softshrink(in[0], fp[0]);
    if (strcmp(c->op, "threshold") == 0) return nb_threshold(in[0], fp[0], fp[1]);
    if (strcmp(c->op, "celu") == 0) return nb_celu(in[0], fp[0]);
    if (strcmp(c->op, "nan_to_num") == 0) return nb_nan_to_num(in[0], fp[0], fp[1], fp[2]);
    const int *ip = c->ip;
    if (strcmp(c->op, "diagonal") == 0) return nb_diagonal(in[0], ip[0], ip[1], ip[2]);
    if (strcmp(c->op, "diag_embed") == 0) return nb_diag_embed(in[0], ip[0], ip[1], ip[2]);
    if (strcmp(c->op, "trace") == 0) return nb_trace(in[0]);
    /* the reductions: ip[0] keepdim, ip[1] axis count, ip[2..] axes */
    if (strcmp(c->op, "nansum") == 0) return nb_nansum(in[0], ip[1], ip + 2, ip[0]);
    if (strcmp(c->op, "nanmean") == 0) return nb_nanmean(in[0], ip[1], ip + 2, ip[0]);
    if (strcmp(c->op, "count_nonzero") == 0) return nb_count_nonzero(in[0], ip[1], ip + 2, ip[0]);
    if (strcmp(c->op, "any") == 0) return nb_any(in[0], ip[1], ip + 2, ip[0]);
    if (strcmp(c->op, "all") == 0) return nb_all(in[0], ip[1], ip + 2, ip[0]);
    if (strcmp(c->op, "lerp") == 0) return nb_lerp(in[0], in[1], in[2]);
    if (strcmp(c->op, "addcmul") == 0) return nb_addcmul(in[0], in[1], in[2], fp[0]);
    if (strcmp(c->op, "addcdiv") == 0) return nb_addcdiv(in[0], in[1], in[2], fp[0]);
    if (strcmp(c->op, "repeat_interleave") == 0) { /* ip[0] dim, ip[1] count of counts, ip[2..] */
        int64_t r[8];
        for (int i = 0; i < ip[1] && i < 8; i++)
            r[i] = ip[2 + i];
        return nb_repeat_interleave(in[0], ip[1], r, ip[0]);
    }
    if (strcmp(c->op, "tile") == 0) { /* ip[0] count, ip[1..] */
        int64_t r[8];
        for (int i = 0; i < ip[0] && i < 8; i++)
            r[i] = ip[1 + i];
        return nb_tile(in[0], ip[0], r);
    }
    if (strcmp(c->op, "cummax") == 0 || strcmp(c->op, "cummax_idx") == 0 || strcmp(c->op, "cummin") == 0 ||
        strcmp(c->op, "cummin_idx") == 0) { /* ip[0] dim */
        nb_tensor *idx = NULL;
        nb_tensor *v = c->op[4] == 'a' ? nb_cummax(in[0], ip[0], &idx) : nb_cummin(in[0], ip[0], &idx);
        return strstr(c->op, "_idx") ? idx : v;
    }
    if (strcmp(c->op, "logcumsumexp") == 0) return nb_logcumsumexp(in[0], ip[0]);
    /* the losses: ip[7] the reduction, as ops_edge.c's */
    const nb_reduction red = (nb_reduction)ip[7];
    if (strcmp(c->op, "smooth_l1_loss") == 0) return nb_smooth_l1_loss(in[0], in[1], fp[0], red);
    if (strcmp(c->op, "soft_margin_loss") == 0) return nb_soft_margin_loss(in[0], in[1], red);
    if (strcmp(c->op, "multilabel_soft_margin_loss") == 0)
        return nb_multilabel_soft_margin_loss(in[0], in[1], ip[0] ? in[2] : NULL, red);
    if (strcmp(c->op, "hinge_embedding_loss") == 0) return nb_hinge_embedding_loss(in[0], in[1], fp[0], red);
    if (strcmp(c->op, "poisson_nll_loss") == 0)
        return nb_poisson_nll_loss(in[0], in[1], ip[0], ip[1], fp[0], red);
    if (strcmp(c->op, "gaussian_nll_loss") == 0)
        return nb_gaussian_nll_loss(in[0], in[1], in[2], ip[0], fp[0], red);
    if (strcmp(c->op, "multi_margin_loss") == 0)
        return nb_multi_margin_loss(in[0], in[1], ip[0], fp[0], ip[1] ? in[2] : NULL, red);
    if (strcmp(c->op, "index_fill") == 0) return nb_index_fill(in[0], ip[0], in[1], fp[0]);
    if (strcmp(c->op, "index_copy") == 0) return nb_index_copy(in[0], ip[0], in[1], in[2]);
    if (strcmp(c->op, "scatter") == 0) return nb_scatter(in[0], ip[0], in[1], in[2]);
    if (strcmp(c->op, "scatter_value") == 0) return nb_scatter_value(in[0], ip[0], in[1], fp[0]);
    if (strcmp(c->op, "masked_scatter") == 0) return nb_masked_scatter(in[0], in[1], in[2]);
    if (strcmp(c->op, "masked_select") == 0) return nb_masked_select(in[0], in[1]);
    if (strcmp(c->op, "take") == 0) return nb_take(in[0], in[1]);
    if (strcmp(c->op, "embedding_bag") == 0) /* ip: mode, include_last_offset, padding_idx (< 0: none),
                                              * offsets given, per-sample weights given (after the offsets) */
        return nb_embedding_bag(in[0], in[1], ip[3] ? in[2] : NULL, (nb_bag_mode)ip[0],
                                ip[4] ? in[2 + ip[3]] : NULL, ip[1] != 0, ip[2]);
    if (strcmp(c->op, "conv3d") == 0 || strcmp(c->op, "max_pool3d") == 0 ||
        strcmp(c->op, "avg_pool3d") == 0 || strcmp(c->op, "conv_transpose3d") == 0) {
        /* ip: stride d h w, padding d h w, dilation d h w, groups, bias (conv) or the window d h w
         * (pools: ip[10..12]), ceil_mode, exclude_pad */
        nb_conv_opts o = {.stride = {ip[0], ip[1], ip[2]},
                          .padding = {ip[3], ip[4], ip[5]},
                          .dilation = {ip[6], ip[7], ip[8]},
                          .groups = ip[9],
                          .ceil_mode = ip[13] != 0,
                          .exclude_pad = ip[14] != 0};
        const int k[3] = {ip[10], ip[11], ip[12]};
        if (strcmp(c->op, "conv3d") == 0) return nb_conv3d(in[0], in[1], ip[10] ? in[2] : NULL, &o);
        if (strcmp(c->op, "conv_transpose3d") == 0) { /* ip[11..13]: the output padding */
            o.ceil_mode = o.exclude_pad = false;
            for (int i = 0; i < 3; i++)
                o.output_padding[i] = ip[11 + i];
            return nb_conv_transpose3d(in[0], in[1], ip[10] ? in[2] : NULL, &o);
        }
        return strcmp(c->op, "max_pool3d") == 0 ? nb_max_pool3d(in[0], k, &o) : nb_avg_pool3d(in[0], k, &o);
    }
    if (strcmp(c->op, "index_adv") == 0) { /* ip[0]: the indexed dims (bits) of the first ip[1]; ip[2]: 0
                                            * read, 1 write, 2 add (the values last) */
        nb_tensor *ix[NB_MAX_DIMS] = {0};
        int k = 1;
        for (int d = 0; d < ip[1]; d++)
            if (ip[0] >> d & 1) ix[d] = in[k++];
        return ip[2] ? nb_index_put(in[0], ip[1], ix, in[k], ip[2] == 2) : nb_index(in[0], ip[1], ix);
    }
    if (strcmp(c->op, "nonzero") == 0) return nb_nonzero(in[0]);
    if (strcmp(c->op, "bincount") == 0) return nb_bincount(in[0], ip[0] ? in[1] : NULL, ip[1]);
    if (strcmp(c->op, "bucketize") == 0) return nb_bucketize(in[0], in[1], ip[0]);
    if (strcmp(c->op, "searchsorted") == 0) return nb_searchsorted(in[0], in[1], ip[0]);
    if (strcmp(c->op, "outer") == 0) return nb_outer(in[0], in[1]);
    if (strcmp(c->op, "kron") == 0) return nb_kron(in[0], in[1]);
    if (strcmp(c->op, "tensordot") == 0) return nb_tensordot(in[0], in[1], ip[0], ip + 1, ip + 1 + ip[0]);
    if (strcmp(c->op, "cross") == 0) return nb_cross(in[0], in[1], ip[0]);
    if (strcmp(c->op, "cdist") == 0) return nb_cdist(in[0], in[1], fp[0]);
    if (strcmp(c->op, "ctc_loss_logits") == 0) { /* as ctc_loss, from logits through log_softmax */
        int64_t il[3], tl[3];
        for (int i = 0; i < 3; i++)
            il[i] = ip[8 + i], tl[i] = ip[11 + i];
        return nb_ctc_loss(nb_log_softmax(in[0], -1), in[1], il, tl, ip[0], red, ip[1]);
    }
    if (strcmp(c->op, "ctc_loss") == 0) { /* ip: blank, zero_infinity, .., [7] reduction, [8..10] input
                                           * lengths, [11..13] target lengths (N = 3) */
        int64_t il[3], tl[3];
        for (int i = 0; i < 3; i++)
            il[i] = ip[8 + i], tl[i] = ip[11 + i];
        return nb_ctc_loss(in[0], in[1], il, tl, ip[0], red, ip[1]);
    }
    if (strcmp(c->op, "affine_grid") == 0) /* ip: N, C, H, W, align */
        return nb_affine_grid(in[0], (const int64_t[]){ip[0], ip[1], ip[2], ip[3]}, ip[4]);
    if (strcmp(c->op, "grid_sample") == 0) /* ip: mode, padding, align */
        return nb_grid_sample(in[0], in[1], (nb_interp_mode)ip[0], (nb_grid_padding)ip[1], ip[2]);
    if (strcmp(c->op, "pdist") == 0) return nb_pdist(in[0], fp[0]);
    if (strcmp(c->op, "bilinear") == 0) return nb_bilinear(in[0], in[1], in[2], ip[0] ? in[3] : NULL);
    if (strcmp(c->op, "unique") == 0 || strcmp(c->op, "unique_inverse") == 0 ||
        strcmp(c->op, "unique_counts") == 0) {
        nb_tensor *inv = NULL, *cnt = NULL, *u = nb_unique(in[0], &inv, &cnt);
        return !u ? NULL : c->op[6] != '_' ? u : c->op[7] == 'i' ? inv : cnt;
    }
    if (strncmp(c->op, "adaptive_max_pool", 17) == 0) { /* ip: oh (or ol), ow; _idx: the indices */
        nb_tensor *idx = NULL;
        const bool want = strstr(c->op, "_idx") != NULL;
        nb_tensor *v = c->op[17] == '2' ? nb_adaptive_max_pool2d(in[0], ip[0], ip[1], want ? &idx : NULL)
                                        : nb_adaptive_max_pool1d(in[0], ip[0], want ? &idx : NULL);
        return want ? (v ? idx : NULL) : v;
    }
    if (strcmp(c->op, "movedim") == 0) /* ip[0] pairs, then the sources, then the destinations */
        return nb_movedim(in[0], ip[0], ip + 1, ip + 1 + ip[0]);
    *known = false;
    return NULL;
}

void oe_special_cases(void) {
    float r[81]; /* -20 to 20 by halves: the integers (poles) and the halves between */
    for (int i = 0; i < 81; i++)
        r[i] = -20.0f + 0.5f * (float)i;
    float u[45]; /* -1.1 to 1.1: erfinv's and logit's domains and their ends */
    for (int i = 0; i < 45; i++)
        u[i] = -1.1f + 0.05f * (float)i;
    for (int i = 0; i < COUNT(un); i++) {
        oe_run((oe_case){.op = un[i].name, .in = {svt()}}, "%s(SV)", un[i].name);
        oe_run((oe_case){.op = un[i].name, .in = {f1(81, r)}}, "%s(range)", un[i].name);
        oe_run((oe_case){.op = un[i].name, .in = {f1(45, u)}}, "%s(-1.1..1.1)", un[i].name);
    }
    /* near the poles of lgamma and digamma, large arguments, tiny ones */
    const float poles[] = {-3.0001f, -2.9999f, -1.0e-4f, 1.0e-4f, -0.9999f, -1.0001f, 1e-30f,
                           -1e-30f,  1e10f,    3e38f,    -1e10f,  -2.5f,    10.0f,    9.99f};
    oe_run((oe_case){.op = "lgamma", .in = {f1(COUNT(poles), poles)}}, "lgamma(poles, huge)");
    oe_run((oe_case){.op = "digamma", .in = {f1(COUNT(poles), poles)}}, "digamma(poles, huge)");
    const float ends[] = {0.99999f, -0.99999f, 0.9999999f, 1e-30f, -1e-20f, 0.7f, 0.70001f, 0.69999f};
    oe_run((oe_case){.op = "erfinv", .in = {f1(COUNT(ends), ends)}}, "erfinv(ends)");
    const float sincs[] = {1e-20f, 1e-10f, 1e-5f, 1e7f, 3e38f, 0.5f, 1.0f, -1.0f};
    oe_run((oe_case){.op = "sinc", .in = {f1(COUNT(sincs), sincs)}}, "sinc(tiny, huge)");

    /* the ops with parameters: at and around their edges */
    float p[41]; /* 0 to 1 and a little beyond */
    for (int i = 0; i < 41; i++)
        p[i] = -0.025f + 0.02625f * (float)i;
    const float eps[] = {-1.0f, 0.0f, 1e-6f, 0.2f, 0.5f};
    for (int i = 0; i < COUNT(eps); i++) {
        oe_run((oe_case){.op = "logit", .in = {svt()}, .fp = {eps[i]}}, "logit(SV, eps %g)", (double)eps[i]);
        oe_run((oe_case){.op = "logit", .in = {f1(41, p)}, .fp = {eps[i]}}, "logit(0..1, eps %g)",
               (double)eps[i]);
    }
    oe_run((oe_case){.op = "logit", .in = {svt()}, .fp = {0.7f}}, "logit(eps 0.7, refused)");
    const float lam[] = {0.0f, 0.5f, 2.0f};
    for (int i = 0; i < COUNT(lam); i++) {
        oe_run((oe_case){.op = "hardshrink", .in = {svt()}, .fp = {lam[i]}}, "hardshrink(SV, %g)",
               (double)lam[i]);
        oe_run((oe_case){.op = "softshrink", .in = {svt()}, .fp = {lam[i]}}, "softshrink(SV, %g)",
               (double)lam[i]);
        oe_run((oe_case){.op = "hardshrink", .in = {f1(81, r)}, .fp = {lam[i]}}, "hardshrink(range, %g)",
               (double)lam[i]);
        oe_run((oe_case){.op = "softshrink", .in = {f1(81, r)}, .fp = {lam[i]}}, "softshrink(range, %g)",
               (double)lam[i]);
    }
    oe_run((oe_case){.op = "softshrink", .in = {svt()}, .fp = {-0.5f}}, "softshrink(lambda < 0, refused)");
    oe_run((oe_case){.op = "threshold", .in = {svt()}, .fp = {0.5f, -7.0f}}, "threshold(SV, 0.5, -7)");
    oe_run((oe_case){.op = "threshold", .in = {f1(81, r)}, .fp = {0.0f, 0.0f}}, "threshold(range, 0, 0)");
    oe_run((oe_case){.op = "threshold", .in = {svt()}, .fp = {-INFINITY, 1.0f}}, "threshold(SV, -inf, 1)");
    const float alphas[] = {1.0f, 0.5f, 3.0f, -1.0f};
    for (int i = 0; i < COUNT(alphas); i++)
        oe_run((oe_case){.op = "celu", .in = {svt()}, .fp = {alphas[i]}}, "celu(SV, alpha %g)",
               (double)alphas[i]);
    oe_run((oe_case){.op = "celu", .in = {svt()}, .fp = {0.0f}}, "celu(alpha 0, refused)");
    oe_run((oe_case){.op = "nan_to_num", .in = {svt()}, .fp = {0.0f, FLT_MAX, -FLT_MAX}}, "nan_to_num(SV)");
    oe_run((oe_case){.op = "nan_to_num", .in = {svt()}, .fp = {-1.0f, 5.0f, -5.0f}},
           "nan_to_num(SV, -1, 5, -5)");
    oe_run((oe_case){.op = "nan_to_num", .in = {svt()}, .fp = {NAN, INFINITY, 2.0f}},
           "nan_to_num(SV, nan, inf, 2)");

    /* the binary ops: every pair of special values, and broadcast */
    static float a[NSV * NSV], b[NSV * NSV];
    for (int i = 0; i < NSV; i++)
        for (int j = 0; j < NSV; j++)
            a[i * NSV + j] = SV[i], b[i * NSV + j] = SV[j];
    for (int i = 0; i < COUNT(bin); i++) {
        oe_run((oe_case){.op = bin[i].name, .in = {f1(NSV * NSV, a), f1(NSV * NSV, b)}}, "%s(SVxSV)",
               bin[i].name);
        oe_run(
            (oe_case){.op = bin[i].name, .in = {oe_randn(2, SH(4, 1), 400 + i), oe_randn(1, SH(3), 420 + i)}},
            "%s(bcast [4,1]x[3])", bin[i].name);
    }
    const float qa[] = {5.5f, -5.5f, 5.5f, -5.5f, 7.0f, -7.0f, 0.3f, -0.3f, 1e-30f, 6.0f, 1e30f, -0.0f};
    const float qb[] = {2.0f, 2.0f, -2.0f, -2.0f, 3.5f, 3.5f, 0.1f, 0.1f, 3.0f, 0.2f, 3.0f, 2.0f};
    oe_run((oe_case){.op = "floor_divide", .in = {f1(COUNT(qa), qa), f1(COUNT(qb), qb)}},
           "floor_divide(quotients)");

    /* prod's and cumprod's gradients with zeros beside an infinity or NaN; one-element lines */
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {f1(3, FV(0, INFINITY, 2))}}, "prod(0 inf 2)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {f1(4, FV(0, INFINITY, 2, 0))}},
           "prod(two zeros, inf)");
    oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {f1(4, FV(0, NAN, 2, 0))}}, "prod(two zeros, NaN)");
    oe_run(
        (oe_case){.op = "prod", .ip = {0, 0, 1, 1}, .in = {oe_f32(2, SH(2, 3), FV(0, INFINITY, 2, 1, 2, 3))}},
        "prod(dim 1, a zero beside inf)");
    oe_run((oe_case){.op = "prod",
                     .ip = {0, 0, 2, 0, 2},
                     .in = {oe_f32(3, SH(2, 2, 2), FV(0, 3, 2, 5, 1, 0, 4, 0))}},
           "prod(axes 0 and 2, zeros)");
    oe_run((oe_case){.op = "cumprod", .in = {f1(3, FV(2, 0, INFINITY))}}, "cumprod(2 0 inf)");
    oe_run((oe_case){.op = "cumprod", .in = {f1(5, FV(2, 0, 3, 0, INFINITY))}}, "cumprod(two zeros, inf)");
    oe_run((oe_case){.op = "cumprod", .in = {f1(5, FV(NAN, 0, 3, 2, 0))}}, "cumprod(NaN before a zero)");
    oe_run((oe_case){.op = "cumprod", .in = {f1(1, FV(INFINITY))}}, "cumprod([inf])");
    oe_run((oe_case){.op = "cumprod", .ip = {1}, .in = {oe_f32(2, SH(3, 1), FV(INFINITY, 0, NAN))}},
           "cumprod(dim of size 1)");

    /* quantile's rank in float, as torch's: sizes and q where float and double round apart */
    static float ar[101];
    for (int i = 0; i < 101; i++)
        ar[i] = (float)(i - 7);
    const int64_t ns[] = {26, 51, 101};
    const float qs[] = {0.28f, 0.6f, 0.7f, 0.1f};
    for (int i = 0; i < COUNT(ns); i++)
        for (int j = 0; j < COUNT(qs); j++)
            for (int m = 0; m < 5; m++)
                oe_run((oe_case){.op = "quantile", .ip = {0, 0, m}, .fp = {qs[j]}, .in = {f1(ns[i], ar)}},
                       "quantile(n %lld, q %g, interp %d)", (long long)ns[i], (double)qs[j], m);
    /* the composed ops: diagonals at every offset, NaN-ignoring and logical reductions over
     * special values, lerp around w = 1/2 and at the ends, the copies */
    for (int off = -3; off <= 4; off++) {
        oe_run((oe_case){.op = "diagonal", .ip = {off, 1, 2}, .in = {oe_randn(3, SH(2, 3, 4), 500)}},
               "diagonal(offset %d, dims 1 2)", off);
        oe_run((oe_case){.op = "diag_embed", .ip = {off, -2, -1}, .in = {oe_randn(2, SH(2, 3), 501)}},
               "diag_embed(offset %d)", off);
    }
    oe_run((oe_case){.op = "diagonal", .ip = {1, 2, 0}, .in = {oe_randn(3, SH(2, 3, 4), 502)}},
           "diagonal(dims 2 0)");
    oe_run((oe_case){.op = "diagonal", .ip = {0, 1, 1}, .in = {oe_randn(2, SH(3, 3), 503)}},
           "diagonal(same dims)");
    oe_run((oe_case){.op = "diag_embed", .ip = {1, 0, 2}, .in = {oe_randn(2, SH(2, 3), 504)}},
           "diag_embed(dims 0 2)");
    oe_run((oe_case){.op = "trace", .in = {oe_randn(2, SH(3, 5), 505)}}, "trace([3,5])");
    oe_run((oe_case){.op = "trace", .in = {oe_f32(2, SH(2, 2), FV(1, NAN, INFINITY, 2))}}, "trace(special)");
    nb_tensor *sv2 = oe_f32(2, SH(4, 7), SV); /* the first 28 special values as [4,7] */
    const char *reds[] = {"nansum", "nanmean", "count_nonzero", "any", "all"};
    for (int i = 0; i < COUNT(reds); i++) {
        oe_run((oe_case){.op = reds[i], .ip = {0, 1, 1}, .in = {sv2}}, "%s(SV, dim 1)", reds[i]);
        oe_run((oe_case){.op = reds[i], .ip = {1, 1, 0}, .in = {sv2}}, "%s(SV, dim 0, keep)", reds[i]);
        oe_run((oe_case){.op = reds[i], .ip = {0, 1, 0}, .in = {oe_f32(2, SH(0, 3), NULL)}}, "%s(empty dim)",
               reds[i]);
    }
    oe_run((oe_case){.op = "nansum", .ip = {0, 0}, .in = {sv2}}, "nansum(SV, all)");
    oe_run((oe_case){.op = "nanmean", .ip = {0, 2, 0, 1}, .in = {oe_randn(3, SH(2, 3, 4), 506)}},
           "nanmean(dims 0 1)");
    const float ws[] = {0.0f, 0.25f, 0.4999f, 0.5f, 0.75f, 1.0f, -1.0f, 2.0f};
    oe_run((oe_case){.op = "lerp", .in = {oe_randn(2, SH(2, 8), 507), oe_randn(1, SH(8), 508), f1(8, ws)}},
           "lerp(w around 1/2)");
    oe_run((oe_case){.op = "lerp", .in = {svt(), oe_scalar(1e30f), oe_scalar(0.75f)}}, "lerp(SV, 0.75)");
    oe_run((oe_case){.op = "addcmul",
                     .fp = {0.5f},
                     .in = {oe_randn(2, SH(2, 3), 509), oe_randn(1, SH(3), 510), oe_randn(2, SH(2, 1), 511)}},
           "addcmul(bcast, 0.5)");
    oe_run((oe_case){.op = "addcdiv",
                     .fp = {-2.0f},
                     .in = {oe_randn(2, SH(2, 3), 512), oe_randn(1, SH(3), 513), oe_randn(2, SH(2, 1), 514)}},
           "addcdiv(bcast, -2)");
    oe_run((oe_case){.op = "repeat_interleave", .ip = {1, 3, 2, 0, 3}, .in = {oe_randn(2, SH(2, 3), 515)}},
           "repeat_interleave(counts 2 0 3)");
    oe_run((oe_case){.op = "repeat_interleave", .ip = {0, 1, 3}, .in = {oe_randn(2, SH(2, 3), 516)}},
           "repeat_interleave(3 each, dim 0)");
    oe_run((oe_case){.op = "tile", .ip = {1, 2}, .in = {oe_randn(2, SH(2, 3), 517)}}, "tile((2,))");
    oe_run((oe_case){.op = "tile", .ip = {3, 2, 1, 2}, .in = {oe_randn(2, SH(2, 3), 518)}}, "tile((2,1,2))");
    oe_run((oe_case){.op = "movedim", .ip = {2, 0, 2, 2, 0}, .in = {oe_randn(3, SH(2, 3, 4), 519)}},
           "movedim((0,2),(2,0))");
    oe_run((oe_case){.op = "movedim", .ip = {1, 0, -1}, .in = {oe_randn(3, SH(2, 3, 4), 520)}},
           "movedim(0,-1)");

    /* running extremes and log-sum-exp: special values (ties, NaN, infinities), along either
     * dim of a matrix, 0-d */
    const char *scans[] = {"cummax", "cummax_idx", "cummin", "cummin_idx", "logcumsumexp"};
    for (int i = 0; i < COUNT(scans); i++) {
        oe_run((oe_case){.op = scans[i], .in = {svt()}}, "%s(SV)", scans[i]);
        oe_run((oe_case){.op = scans[i], .ip = {1}, .in = {sv2}}, "%s(SV [4,7], dim 1)", scans[i]);
        oe_run((oe_case){.op = scans[i], .ip = {0}, .in = {oe_randn(2, SH(5, 3), 530 + i)}},
               "%s(randn, dim 0)", scans[i]);
        oe_run((oe_case){.op = scans[i], .ip = {-1}, .in = {oe_scalar(2.5f)}}, "%s(0-d)", scans[i]);
    }
    oe_run((oe_case){.op = "cummax_idx", .in = {f1(6, FV(2, 2, 1, 2, 3, 3))}}, "cummax_idx(ties)");
    oe_run((oe_case){.op = "logcumsumexp", .in = {f1(5, FV(-INFINITY, -INFINITY, 80, 89, 88.7f))}},
           "logcumsumexp(-inf first, large)");

    /* the losses added last: special values, each reduction, the parameters' edges */
    nb_tensor *lx = oe_randn(2, SH(4, 7), 540), *lt = oe_randn(2, SH(4, 7), 541);
    nb_tensor *pm1 = oe_f32(
        2, SH(4, 7),
        FV(1, -1, 1, 1, -1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, -1, 0, 2));
    nb_tensor *b01 =
        oe_f32(2, SH(4, 7),
               FV(1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0.5f, 1));
    for (int rd = 0; rd < 3; rd++) {
        const float betas[] = {1.0f, 0.0f, 0.5f};
        oe_run((oe_case){.op = "smooth_l1_loss", .ip = {[7] = rd}, .fp = {betas[rd]}, .in = {lx, lt}},
               "smooth_l1_loss(beta %g, red %d)", (double)betas[rd], rd);
        oe_run((oe_case){.op = "soft_margin_loss", .ip = {[7] = rd}, .in = {lx, pm1}, .nograd = 2},
               "soft_margin_loss(red %d)", rd);
        oe_run((oe_case){.op = "multilabel_soft_margin_loss",
                         .ip = {rd == 1, [7] = rd},
                         .in = {lx, b01, oe_randn(1, SH(7), 542)},
                         .nograd = 6},
               "multilabel_soft_margin_loss(red %d%s)", rd, rd == 1 ? ", weight" : "");
        oe_run((oe_case){.op = "hinge_embedding_loss",
                         .ip = {[7] = rd},
                         .fp = {rd ? 0.5f : 1.0f},
                         .in = {lx, pm1},
                         .nograd = 2},
               "hinge_embedding_loss(red %d)", rd);
        oe_run((oe_case){.op = "poisson_nll_loss",
                         .ip = {rd != 2, rd == 1, [7] = rd},
                         .fp = {1e-8f},
                         .in = {rd == 2 ? oe_f32(2, SH(2, 3), FV(0.5f, 2, 0, 3, 1e-9f, 7)) : lx,
                                rd == 2 ? oe_f32(2, SH(2, 3), FV(1, 0, 2, 5, 3, 0.5f)) : nb_abs(lt)},
                         .nograd = 2},
               "poisson_nll_loss(red %d)", rd);
        oe_run((oe_case){.op = "gaussian_nll_loss",
                         .ip = {rd == 1, [7] = rd},
                         .fp = {1e-6f},
                         .in = {lx, lt,
                                rd == 2 ? oe_f32(1, SH(4), FV(0.5f, 1e-9f, 2, 0))
                                        : nb_abs(oe_randn(2, SH(4, 7), 543))}},
               "gaussian_nll_loss(red %d%s)", rd, rd == 2 ? ", var [4]" : "");
        oe_run((oe_case){.op = "multi_margin_loss",
                         .ip = {rd == 2 ? 2 : 1, rd == 1, [7] = rd},
                         .fp = {rd ? 0.7f : 1.0f},
                         .in = {lx, oe_i32(1, SH(4), IV(0, 6, 3, 3)), oe_randn(1, SH(7), 544)},
                         .nograd = 6},
               "multi_margin_loss(red %d)", rd);
    }
    oe_run((oe_case){.op = "smooth_l1_loss", .fp = {1.0f}, .in = {svt(), oe_f32(1, SH(NSV), NULL)}},
           "smooth_l1_loss(SV)");
    oe_run(
        (oe_case){
            .op = "soft_margin_loss", .ip = {[7] = 2}, .nograd = 2, .in = {svt(), oe_f32(1, SH(NSV), NULL)}},
        "soft_margin_loss(SV, y 0)");
    oe_run((oe_case){.op = "gaussian_nll_loss",
                     .fp = {1e-6f},
                     .in = {lx, lt, oe_f32(2, SH(4, 1), FV(1, -1, 2, 3))}},
           "gaussian_nll_loss(negative var, refused)");
    oe_run(
        (oe_case){
            .op = "multi_margin_loss", .ip = {1}, .fp = {1.0f}, .in = {lx, oe_i32(1, SH(4), IV(0, 7, 3, 3))}},
        "multi_margin_loss(target 7 of 7, refused)");
    oe_run((oe_case){.op = "multi_margin_loss",
                     .ip = {1},
                     .fp = {1.0f},
                     .in = {oe_f32(1, SH(3), FV(1, 0, 2)), oe_i32(0, SH(0), IV(0))}},
           "multi_margin_loss([C], 0-d target, a tie at z = 0)");

    /* what the second review found: nan_to_num with infinite or NaN replacements, lerp across an
     * infinite difference, quantile's interpolation at weight 0, an all-NaN nanmean, 0-d prod
     * and logcumsumexp of infinities, addcmul / addcdiv near FLT_MAX */
    oe_run((oe_case){.op = "nan_to_num", .in = {svt()}, .fp = {INFINITY, 5.0f, -5.0f}},
           "nan_to_num(SV, inf, 5, -5)");
    oe_run((oe_case){.op = "nan_to_num", .in = {svt()}, .fp = {-1.0f, NAN, 2.0f}},
           "nan_to_num(SV, -1, nan, 2)");
    oe_run((oe_case){.op = "lerp",
                     .in = {f1(4, FV(-INFINITY, 1, 0, INFINITY)), f1(4, FV(1, INFINITY, INFINITY, INFINITY)),
                            f1(4, FV(0.7f, 0.3f, 0.0f, 1.0f))}},
           "lerp(infinite differences)");
    for (int m = 0; m < 5; m++) {
        oe_run((oe_case){.op = "quantile", .ip = {0, 0, m}, .fp = {1.0f}, .in = {f1(2, FV(1, INFINITY))}},
               "quantile([1, inf], q 1, interp %d)", m);
        oe_run((oe_case){.op = "quantile", .ip = {0, 0, m}, .fp = {0.0f}, .in = {f1(2, FV(-INFINITY, 1))}},
               "quantile([-inf, 1], q 0, interp %d)", m);
    }
    oe_run(
        (oe_case){.op = "nanmean", .ip = {0, 1, 1}, .in = {oe_f32(2, SH(2, 3), FV(NAN, NAN, NAN, 1, 2, 3))}},
        "nanmean(an all-NaN row)");
    oe_run(
        (oe_case){.op = "nansum", .ip = {0, 1, 1}, .in = {oe_f32(2, SH(2, 3), FV(NAN, NAN, NAN, 1, 2, 3))}},
        "nansum(an all-NaN row)");
    const float infs[] = {INFINITY, -INFINITY, NAN, -0.0f};
    for (int i = 0; i < COUNT(infs); i++) {
        oe_run((oe_case){.op = "prod", .ip = {0, 0, 0}, .in = {oe_scalar(infs[i])}}, "prod(0-d %g)",
               (double)infs[i]);
        oe_run((oe_case){.op = "logcumsumexp", .in = {oe_scalar(infs[i])}}, "logcumsumexp(0-d %g)",
               (double)infs[i]);
    }
    oe_run((oe_case){.op = "addcmul",
                     .fp = {0.5f},
                     .in = {f1(2, FV(0, 1)), f1(2, FV(3.4e38f, 2)), f1(2, FV(2, 3))}},
           "addcmul(near FLT_MAX)");
    oe_run((oe_case){.op = "addcdiv",
                     .fp = {1e-10f},
                     .in = {f1(2, FV(0, 1)), f1(2, FV(1e30f, 2)), f1(2, FV(1e-10f, 3))}},
           "addcdiv(near FLT_MAX)");

    /* writes and reads at chosen places */
    nb_tensor *w34 = oe_randn(2, SH(3, 4), 550), *m4 = f1(4, FV(1, 0, NAN, 0));
    oe_run(
        (oe_case){.op = "index_fill", .ip = {1}, .fp = {-7.0f}, .in = {w34, oe_i32(1, SH(3), IV(3, 0, 3))}},
        "index_fill(dim 1, a repeat)");
    oe_run((oe_case){.op = "index_fill", .ip = {0}, .fp = {NAN}, .in = {w34, oe_i32(1, SH(0), NULL)}},
           "index_fill(empty index, NaN)");
    oe_run((oe_case){.op = "index_copy",
                     .ip = {0},
                     .in = {w34, oe_i32(1, SH(2), IV(2, 0)), oe_randn(2, SH(2, 4), 551)}},
           "index_copy(dim 0)");
    oe_run((oe_case){.op = "index_copy",
                     .ip = {-1},
                     .in = {w34, oe_i32(1, SH(2), IV(1, 3)), oe_randn(2, SH(3, 2), 552)}},
           "index_copy(dim -1)");
    nb_tensor *sidx = oe_i32(2, SH(3, 2), IV(1, 3, 0, 2, 0, 1));
    oe_run((oe_case){.op = "scatter", .ip = {1}, .in = {w34, sidx, oe_randn(2, SH(3, 2), 553)}},
           "scatter(dim 1)");
    /* torch 1.13's backward refuses a source larger than the index (its gradient comes back at the
     * index's shape): compared without the source's gradient */
    oe_run((oe_case){.op = "scatter",
                     .ip = {0},
                     .nograd = 4,
                     .in = {w34, oe_i32(2, SH(1, 4), IV(2, 0, 1, 2)), oe_randn(2, SH(2, 4), 554)}},
           "scatter(dim 0, a larger source)");
    oe_run((oe_case){.op = "scatter_value", .ip = {1}, .fp = {9.0f}, .in = {w34, sidx}},
           "scatter_value(dim 1)");
    oe_run((oe_case){.op = "masked_scatter", .nograd = 2, .in = {w34, m4, oe_randn(1, SH(10), 555)}},
           "masked_scatter(broadcast mask, NaN is set)");
    oe_run((oe_case){.op = "masked_select", .nograd = 2, .in = {w34, m4}}, "masked_select(broadcast mask)");
    oe_run((oe_case){.op = "masked_select",
                     .nograd = 2,
                     .in = {f1(4, FV(1, 2, 3, 4)), oe_f32(2, SH(2, 1), FV(1, 0))}},
           "masked_select(both broadcast)");
    oe_run((oe_case){.op = "take", .in = {w34, oe_i32(2, SH(2, 2), IV(11, 0, 5, 5))}}, "take([2,2])");
    /* embedding bags: each mode over offsets with an empty bag, include_last_offset, padding_idx,
     * per-sample weights, a 2-d index, an index out of range. include_last_offset only with the
     * last offset at the end of the indices: with one before it, torch 1.13 divides the last bag's
     * mean by the count to the end and writes garbage gradients for the entries past it (the run
     * then died of heap corruption); tests/test_ops_embedding_bag.c checks nabla there */
    nb_tensor *bw = oe_randn(2, SH(8, 3), 565), *bi = oe_i32(1, SH(9), IV(1, 4, 4, 0, 7, 2, 2, 5, 3));
    nb_tensor *bo = oe_i32(1, SH(4), IV(0, 3, 3, 5));
    static const char *bag_modes[3] = {"sum", "mean", "max"};
    for (int m = 0; m < 3; m++) {
        oe_run((oe_case){.op = "embedding_bag", .ip = {m, 0, -1, 1}, .in = {bw, bi, bo}},
               "embedding_bag(%s, offsets, an empty bag)", bag_modes[m]);
        oe_run((oe_case){.op = "embedding_bag", .ip = {m, 0, 4, 1}, .in = {bw, bi, bo}},
               "embedding_bag(%s, padding_idx 4)", bag_modes[m]);
        oe_run((oe_case){.op = "embedding_bag",
                         .ip = {m, 0, -1, 0},
                         .in = {bw, oe_i32(2, SH(3, 3), IV(1, 4, 4, 0, 7, 2, 2, 5, 3))}},
               "embedding_bag(%s, 2-d)", bag_modes[m]);
    }
    oe_run(
        (oe_case){.op = "embedding_bag", .ip = {1, 1, -1, 1}, .in = {bw, bi, oe_i32(1, SH(3), IV(0, 4, 9))}},
        "embedding_bag(mean, include_last_offset)");
    oe_run(
        (oe_case){.op = "embedding_bag", .ip = {0, 0, -1, 1, 1}, .in = {bw, bi, bo, oe_randn(1, SH(9), 566)}},
        "embedding_bag(sum, per_sample_weights)");
    oe_run((oe_case){.op = "embedding_bag",
                     .ip = {0, 0, -1, 1},
                     .in = {bw, oe_i32(1, SH(2), IV(1, 8)), oe_i32(1, SH(1), IV(0))}},
           "embedding_bag(index 8 of 8 rows, refused)");
    /* 3-d convolution and pooling: strides, padding, dilation, groups, ceil_mode, exclude_pad */
    nb_tensor *v5 = oe_randn(5, SH(2, 4, 5, 6, 5), 559), *w5 = oe_randn(5, SH(6, 2, 3, 2, 3), 560);
    oe_run((oe_case){.op = "conv3d",
                     .ip = {2, 1, 2, 1, 0, 1, 1, 2, 1, 2, 1},
                     .in = {v5, w5, oe_randn(1, SH(6), 561)}},
           "conv3d(stride, padding, dilation, groups 2, bias)");
    oe_run((oe_case){.op = "conv3d",
                     .in = {oe_randn(4, SH(2, 4, 4, 4), 562), oe_randn(5, SH(3, 2, 2, 2, 2), 563)}},
           "conv3d(unbatched)");
    oe_run((oe_case){.op = "conv_transpose3d",
                     .ip = {2, 1, 2, 1, 0, 1, 1, 2, 1, 2, 1, 1, 0, 1},
                     .in = {oe_randn(5, SH(2, 4, 3, 4, 3), 567), oe_randn(5, SH(4, 3, 3, 2, 2), 568),
                            oe_randn(1, SH(6), 569)}},
           "conv_transpose3d(stride, padding, dilation, output padding, groups 2, bias)");
    oe_run((oe_case){.op = "conv_transpose3d",
                     .in = {oe_randn(4, SH(2, 3, 3, 3), 570), oe_randn(5, SH(2, 3, 2, 2, 2), 571)}},
           "conv_transpose3d(unbatched)");
    oe_run((oe_case){.op = "conv3d", .in = {v5, oe_randn(5, SH(6, 4, 6, 1, 1), 564)}},
           "conv3d(window deeper than the input, refused)");
    oe_run((oe_case){.op = "max_pool3d", .ip = {[10] = 2, 2, 2}, .in = {v5}}, "max_pool3d(2x2x2)");
    oe_run((oe_case){.op = "max_pool3d", .ip = {2, 1, 2, 1, 1, 1, 2, 1, 1, 0, 3, 2, 3}, .in = {v5}},
           "max_pool3d(stride, padding, dilation)");
    oe_run((oe_case){.op = "max_pool3d", .ip = {2, 2, 3, 1, 0, 1, 0, 0, 0, 0, 2, 2, 2, 1}, .in = {v5}},
           "max_pool3d(ceil_mode)");
    oe_run((oe_case){.op = "avg_pool3d", .ip = {2, 1, 2, 1, 1, 1, 0, 0, 0, 0, 3, 2, 3}, .in = {v5}},
           "avg_pool3d(stride, padding)");
    oe_run((oe_case){.op = "avg_pool3d", .ip = {2, 1, 2, 1, 1, 1, 0, 0, 0, 0, 3, 2, 3, 0, 1}, .in = {v5}},
           "avg_pool3d(exclude_pad)");
    oe_run((oe_case){.op = "avg_pool3d", .ip = {2, 2, 3, 1, 0, 1, 0, 0, 0, 0, 2, 2, 2, 1}, .in = {v5}},
           "avg_pool3d(ceil_mode)");
    oe_run((oe_case){.op = "avg_pool3d", .ip = {2, 2, 3, 1, 0, 1, 0, 0, 0, 0, 2, 2, 2, 1, 1}, .in = {v5}},
           "avg_pool3d(ceil_mode, exclude_pad)");
    oe_run((oe_case){.op = "max_pool3d", .ip = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 2, 2}, .in = {v5}},
           "max_pool3d(padding over half the window, refused)");
    /* advanced indexing: adjacent, separated (S first) and single indices, broadcast, negative,
     * 0-d, empty and out-of-range ones; writes with and without accumulation */
    nb_tensor *a345 = oe_randn(3, SH(3, 4, 5), 556);
    nb_tensor *xa = oe_i32(2, SH(2, 1), IV(2, -3)), *xb = oe_i32(1, SH(3), IV(3, 0, -1));
    nb_tensor *xc = oe_i32(1, SH(3), IV(4, 1, 0));
    oe_run((oe_case){.op = "index_adv", .ip = {3, 2, 0}, .in = {a345, xa, xb}},
           "index_adv(dims 0,1 broadcast)");
    oe_run((oe_case){.op = "index_adv", .ip = {5, 3, 0}, .in = {a345, xb, xc}},
           "index_adv(dims 0,2: S first)");
    oe_run((oe_case){.op = "index_adv", .ip = {6, 3, 0}, .in = {a345, xb, xc}}, "index_adv(dims 1,2)");
    oe_run((oe_case){.op = "index_adv", .ip = {2, 2, 0}, .in = {a345, oe_i32(2, SH(2, 2), IV(1, 1, 3, -4))}},
           "index_adv(dim 1, 2-d, repeated)");
    oe_run((oe_case){.op = "index_adv", .ip = {4, 3, 0}, .in = {a345, oe_i32(0, NULL, IV(-2))}},
           "index_adv(dim 2, 0-d)");
    oe_run((oe_case){.op = "index_adv", .ip = {1, 1, 0}, .in = {a345, oe_i32(1, SH(0), IV(0))}},
           "index_adv(empty index)");
    oe_run((oe_case){.op = "index_adv", .ip = {3, 2, 0}, .in = {a345, xb, xb}},
           "index_adv(3 out of range, refused)");
    oe_run((oe_case){.op = "index_adv",
                     .ip = {5, 3, 2},
                     .in = {a345, oe_i32(1, SH(3), IV(0, 2, 0)), oe_i32(1, SH(3), IV(1, 1, 1)),
                            oe_randn(2, SH(3, 4), 557)}},
           "index_put_adv(accumulate, repeats, S first)");
    oe_run((oe_case){.op = "index_adv",
                     .ip = {3, 2, 1},
                     .in = {a345, xa, oe_i32(1, SH(3), IV(3, 0, 1)), oe_randn(1, SH(5), 558)}},
           "index_put_adv(broadcast values)");
    oe_run((oe_case){.op = "index_adv", .ip = {6, 3, 2}, .in = {a345, xb, xc, oe_f32(0, NULL, FV(2.5f))}},
           "index_put_adv(accumulate a 0-d value)");
    oe_run(
        (oe_case){.op = "nonzero", .nograd = 1, .in = {oe_f32(2, SH(2, 3), FV(0, 1.5f, -0.0f, NAN, 0, -2))}},
        "nonzero(NaN, -0)");
    oe_run((oe_case){.op = "bincount", .ip = {0, 0}, .in = {oe_i32(1, SH(5), IV(1, 3, 1, 0, 1))}},
           "bincount(plain)");
    oe_run((oe_case){.op = "bincount",
                     .ip = {1, 6},
                     .nograd = 2,
                     .in = {oe_i32(1, SH(3), IV(2, 2, 0)), f1(3, FV(0.5f, 2, -1))}},
           "bincount(weights, minlength 6)");
    nb_tensor *bnd = f1(5, FV(-INFINITY, 1, 3, 3, 5)), *vals = svt();
    for (int right = 0; right < 2; right++) {
        oe_run((oe_case){.op = "bucketize", .ip = {right}, .nograd = 3, .in = {vals, bnd}},
               "bucketize(SV, right %d)", right);
        oe_run((oe_case){.op = "searchsorted",
                         .ip = {right},
                         .nograd = 3,
                         .in = {oe_f32(2, SH(2, 3), FV(1, 2, 3, 10, 20, 30)),
                                oe_f32(2, SH(2, 3), FV(2.5f, 0, 3, 20, 31, NAN))}},
               "searchsorted(batched, right %d)", right);
    }

    /* products and distances */
    oe_run((oe_case){.op = "outer", .in = {svt(), f1(3, FV(2, -0.0f, INFINITY))}}, "outer(SV, [2,-0,inf])");
    oe_run((oe_case){.op = "kron", .in = {oe_randn(2, SH(2, 3), 560), oe_randn(2, SH(3, 2), 561)}},
           "kron([2,3],[3,2])");
    oe_run((oe_case){.op = "kron", .in = {oe_randn(1, SH(3), 562), oe_randn(3, SH(2, 2, 2), 563)}},
           "kron([3],[2,2,2])");
    oe_run((oe_case){.op = "tensordot",
                     .ip = {2, 1, 2, 0, 1},
                     .in = {oe_randn(3, SH(2, 3, 4), 564), oe_randn(3, SH(3, 4, 5), 565)}},
           "tensordot(2 dims)");
    oe_run((oe_case){.op = "tensordot",
                     .ip = {1, 0, 1},
                     .in = {oe_randn(2, SH(3, 2), 566), oe_randn(2, SH(4, 3), 567)}},
           "tensordot(a's 0 with b's 1)");
    oe_run((oe_case){.op = "cross", .ip = {1}, .in = {oe_randn(2, SH(4, 3), 568), oe_randn(1, SH(3), 569)}},
           "cross(bcast, dim 1)");
    oe_run((oe_case){.op = "cross",
                     .ip = {0},
                     .in = {oe_f32(2, SH(3, 2), FV(1, INFINITY, 0, 2, 3, NAN)), oe_randn(2, SH(3, 2), 570)}},
           "cross(special, dim 0)");
    const float cps[] = {2.0f, 1.0f, 0.0f, INFINITY, 3.0f};
    for (int i = 0; i < COUNT(cps); i++)
        oe_run((oe_case){.op = "cdist",
                         .fp = {cps[i]},
                         .in = {oe_randn(3, SH(2, 3, 4), 571), oe_randn(3, SH(2, 5, 4), 572)}},
               "cdist(p %g)", (double)cps[i]);
    oe_run((oe_case){.op = "cdist",
                     .fp = {2.0f},
                     .in = {oe_f32(2, SH(2, 2), FV(1, 2, 3, 4)), oe_f32(2, SH(1, 2), FV(1, 2))}},
           "cdist(a zero distance)");
    /* integer points: zero differences (p < 1) and tied largest ones (p = inf) */
    static float ia[12], ib[8];
    for (int i = 0; i < 12; i++)
        ia[i] = (float)((i * 5) % 3);
    for (int i = 0; i < 8; i++)
        ib[i] = (float)((i * 7) % 3);
    const float ip_[] = {0.5f, INFINITY, 1.0f};
    for (int i = 0; i < COUNT(ip_); i++)
        oe_run((oe_case){.op = "cdist",
                         .fp = {ip_[i]},
                         .in = {oe_f32(2, SH(3, 4), ia), oe_f32(2, SH(2, 4), ib)}},
               "cdist(integer points, p %g)", (double)ip_[i]);

    /* CTC: every reduction, a blank other than 0, repeats in the target, an impossible alignment
     * with and without zero_infinity, a sample with an empty target */
    nb_tensor *ctc_lp = nb_log_softmax(oe_randn(3, SH(6, 3, 5), 580), -1);
    nb_tensor *ctc_t = oe_i32(2, SH(3, 4), IV(1, 2, 2, 3, 4, 0, 0, 0, 3, 3, 0, 0));
    for (int rd = 0; rd < 3; rd++)
        oe_run((oe_case){.op = "ctc_loss",
                         .nograd = 2,
                         .ip = {0, 0, [7] = rd, 6, 3, 5, 4, 1, 2},
                         .in = {ctc_lp, ctc_t}},
               "ctc_loss(red %d)", rd);
    nb_tensor *ctc_t4 = oe_i32(2, SH(3, 4), IV(1, 2, 2, 3, 0, 0, 0, 0, 3, 3, 2, 0));
    oe_run(
        (oe_case){
            .op = "ctc_loss", .nograd = 2, .ip = {4, 0, [7] = 2, 5, 2, 6, 4, 0, 3}, .in = {ctc_lp, ctc_t4}},
        "ctc_loss(blank 4, an empty target)");
    for (int zi = 0; zi < 2; zi++)
        oe_run((oe_case){.op = "ctc_loss",
                         .nograd = 2,
                         .ip = {0, zi, [7] = 1, 3, 6, 6, 4, 1, 2},
                         .in = {ctc_lp, ctc_t}},
               "ctc_loss(impossible, zero_infinity %d)", zi);
    /* from logits through log_softmax, where torch's gradient and the exact one agree */
    nb_tensor *ctc_x = oe_randn(3, SH(6, 3, 5), 581);
    for (int rd = 0; rd < 3; rd++)
        oe_run((oe_case){.op = "ctc_loss_logits",
                         .nograd = 2,
                         .ip = {0, 0, [7] = rd, 6, 3, 5, 4, 1, 2},
                         .in = {ctc_x, ctc_t}},
               "ctc_loss_logits(red %d)", rd);
    oe_run((oe_case){.op = "ctc_loss_logits",
                     .nograd = 2,
                     .ip = {4, 0, [7] = 0, 5, 2, 6, 4, 0, 3},
                     .in = {ctc_x, ctc_t4}},
           "ctc_loss_logits(blank 4, an empty target)");
    oe_run((oe_case){.op = "ctc_loss_logits",
                     .nograd = 2,
                     .ip = {0, 1, [7] = 1, 3, 6, 6, 4, 1, 2},
                     .in = {ctc_x, ctc_t}},
           "ctc_loss_logits(impossible, zero_infinity)");

    /* spatial transformers: every mode, padding and alignment, positions inside, on the edges and
     * outside, a grid from affine_grid, single-pixel inputs */
    for (int al = 0; al < 2; al++) {
        oe_run((oe_case){.op = "affine_grid", .ip = {2, 3, 4, 5, al}, .in = {oe_randn(3, SH(2, 2, 3), 590)}},
               "affine_grid(align %d)", al);
        oe_run((oe_case){.op = "affine_grid", .ip = {1, 1, 1, 3, al}, .in = {oe_randn(3, SH(1, 2, 3), 591)}},
               "affine_grid(1 x 3, align %d)", al);
    }
    nb_tensor *gs_x = oe_randn(4, SH(2, 3, 4, 5), 592);
    static float gpos[2 * 3 * 4 * 2];
    const float gv[] = {-1.3f, -1.0f, -0.77f, -0.4f, 0.0f, 0.31f, 0.5f, 0.9f, 1.0f, 1.25f, 2.7f, -2.2f};
    for (int i = 0; i < COUNT(gpos); i++)
        gpos[i] = gv[(i * 7 + 3) % COUNT(gv)];
    nb_tensor *gs_g = oe_f32(4, SH(2, 3, 4, 2), gpos);
    for (int mode = 0; mode < 2; mode++)
        for (int pad = 0; pad < 3; pad++)
            for (int al = 0; al < 2; al++)
                oe_run((oe_case){.op = "grid_sample",
                                 .ip = {mode, pad, al},
                                 .nograd = mode == 0 ? 2 : 0,
                                 .in = {gs_x, gs_g}},
                       "grid_sample(mode %d, padding %d, align %d)", mode, pad, al);
    oe_run(
        (oe_case){.op = "grid_sample",
                  .ip = {1, 0, 0},
                  .in = {oe_randn(4, SH(1, 2, 1, 1), 593), oe_f32(4, SH(1, 1, 2, 2), FV(0, 0, 0.4f, -0.6f))}},
        "grid_sample(a 1x1 input)");

    /* pdist, bilinear, unique (without NaN, whose order torch 1.13 leaves unspecified) */
    const float pps[] = {2.0f, 1.0f, INFINITY, 0.5f};
    for (int i = 0; i < COUNT(pps); i++)
        oe_run((oe_case){.op = "pdist", .fp = {pps[i]}, .in = {oe_randn(2, SH(5, 3), 600)}}, "pdist(p %g)",
               (double)pps[i]);
    oe_run((oe_case){.op = "bilinear",
                     .ip = {1},
                     .in = {oe_randn(2, SH(2, 3), 601), oe_randn(2, SH(2, 4), 602),
                            oe_randn(3, SH(5, 3, 4), 603), oe_randn(1, SH(5), 604)}},
           "bilinear(bias)");
    oe_run((oe_case){.op = "bilinear",
                     .ip = {0},
                     .in = {oe_randn(3, SH(2, 2, 3), 605), oe_randn(3, SH(2, 2, 4), 606),
                            oe_randn(3, SH(2, 3, 4), 607)}},
           "bilinear(3-d, no bias)");
    oe_run((oe_case){.op = "bilinear",
                     .ip = {0},
                     .in = {oe_randn(3, SH(2, 1, 3), 608), oe_randn(2, SH(4, 4), 609),
                            oe_randn(3, SH(2, 3, 4), 610)}},
           "bilinear(leading dims differ, refused)");
    const char *uq[] = {"unique", "unique_inverse", "unique_counts"};
    for (int i = 0; i < COUNT(uq); i++)
        oe_run((oe_case){.op = uq[i],
                         .nograd = 1,
                         .in = {oe_f32(2, SH(3, 4), FV(3, 1, 3, -2, 2, 1, INFINITY, 0, -INFINITY, 2, 7, 1))}},
               "%s([3,4])", uq[i]);

    /* adaptive max pooling: uneven and even windows, ties (integer data), the indices */
    static float tie_img[2 * 3 * 5 * 7];
    for (int i = 0; i < COUNT(tie_img); i++)
        tie_img[i] = (float)((i * 7) % 4);
    nb_tensor *amx = oe_randn(4, SH(2, 3, 5, 7), 620), *amt = oe_f32(4, SH(2, 3, 5, 7), tie_img);
    const int sizes[][2] = {{3, 4}, {5, 7}, {1, 1}, {2, 3}, {7, 9}};
    for (int i = 0; i < COUNT(sizes); i++) {
        oe_run((oe_case){.op = "adaptive_max_pool2d", .ip = {sizes[i][0], sizes[i][1]}, .in = {amx}},
               "adaptive_max_pool2d(%d x %d)", sizes[i][0], sizes[i][1]);
        oe_run((oe_case){.op = "adaptive_max_pool2d", .ip = {sizes[i][0], sizes[i][1]}, .in = {amt}},
               "adaptive_max_pool2d(ties, %d x %d)", sizes[i][0], sizes[i][1]);
        oe_run(
            (oe_case){
                .op = "adaptive_max_pool2d_idx", .nograd = 1, .ip = {sizes[i][0], sizes[i][1]}, .in = {amt}},
            "adaptive_max_pool2d_idx(ties, %d x %d)", sizes[i][0], sizes[i][1]);
    }
    for (int ol = 1; ol <= 6; ol += 5) {
        oe_run((oe_case){.op = "adaptive_max_pool1d", .ip = {ol}, .in = {oe_randn(3, SH(2, 3, 7), 621)}},
               "adaptive_max_pool1d(%d)", ol);
        oe_run((oe_case){.op = "adaptive_max_pool1d_idx",
                         .nograd = 1,
                         .ip = {ol},
                         .in = {oe_randn(3, SH(2, 3, 7), 621)}},
               "adaptive_max_pool1d_idx(%d)", ol);
    }

    /* 0-d inputs with keepdim: 0-d results, as torch's */
    oe_run((oe_case){.op = "kthvalue", .ip = {1, 0, 1}, .in = {oe_scalar(7.0f)}}, "kthvalue(0-d, keep)");
    oe_run((oe_case){.op = "kthvalue_idx", .ip = {1, 0, 1}, .in = {oe_scalar(7.0f)}},
           "kthvalue_idx(0-d, keep)");
    oe_run((oe_case){.op = "median", .ip = {0, 1}, .in = {oe_scalar(7.0f)}}, "median(0-d, keep)");
    oe_run((oe_case){.op = "quantile", .ip = {0, 1, 0}, .fp = {0.5f}, .in = {oe_scalar(7.0f)}},
           "quantile(0-d, keep)");
}
