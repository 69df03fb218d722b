/* ops_edge_layers.c - the edge cases of the layers' ops, run by ops_edge.c after those of
 * ops_edge_cases.c: transposed convolution and fold, padding modes, pooling options,
 * interpolation, recurrent cells and sequences, attention and MultiheadAttention, the
 * Transformer layers, the weighted losses, the activations and pixel shuffle. Names are
 * referred to by ops_edge_parity.py's lists, as in ops_edge_cases.c. */
#include <float.h>
#include <math.h>

#include "ops_edge.h"

#define SV oe_sv
static nb_tensor *f1(int64_t n, const float *d) { return oe_f32(1, SH(n), d); }
static nb_tensor *svt(void) { return f1(NSV, SV); }

void oe_layer_cases(void) {
    /* the images of ops_edge_cases.c's convolution cases (the same seeds, the same values) */
    nb_tensor *img = oe_randn(4, SH(2, 4, 6, 7), 90), *img_sv = oe_randn(4, SH(1, 2, 4, 5), 91);
    float *sv = nb_data_f32(img_sv); /* special values inside an image */
    sv[0] = NAN, sv[7] = INFINITY, sv[13] = -INFINITY, sv[22] = 1e30f, sv[31] = -0.0f;
    float rev[NSV];
    for (int i = 0; i < NSV; i++)
        rev[i] = SV[NSV - 1 - i];

    /* transposed convolutions, fold; ip as conv2d, output padding in ip[9..10] */
    nb_tensor *timg = oe_randn(4, SH(2, 4, 5, 6), 160);
    oe_run((oe_case){.op = "conv_transpose2d",
                     .ip = {1, 1, 0, 0, 1, 1, 1, 1},
                     .in = {timg, oe_randn(4, SH(4, 3, 3, 3), 161), oe_randn(1, SH(3), 162)}},
           "conv_transpose2d(3x3, bias)");
    oe_run((oe_case){.op = "conv_transpose2d",
                     .ip = {2, 3, 1, 2, 1, 2, 2, 0, [9] = 1, [10] = 1},
                     .in = {timg, oe_randn(4, SH(4, 3, 3, 2), 163)}},
           "conv_transpose2d(stride 2,3 pad 1,2 dil 1,2 groups 2 outpad 1,1)");
    oe_run((oe_case){.op = "conv_transpose2d",
                     .ip = {2, 2, 0, 0, 1, 1, 4, 1},
                     .in = {timg, oe_randn(4, SH(4, 1, 2, 2), 164), oe_randn(1, SH(4), 165)}},
           "conv_transpose2d(depthwise 2x2 stride 2)");
    oe_run((oe_case){.op = "conv_transpose2d",
                     .ip = {1, 1, 1, 1, 1, 1, 1, 0},
                     .in = {img_sv, oe_randn(4, SH(2, 2, 3, 3), 166)}},
           "conv_transpose2d(special values)");
    oe_run((oe_case){.op = "conv_transpose2d",
                     .ip = {1, 1, 0, 0, 1, 1, 1, 0, [9] = 1},
                     .in = {timg, oe_randn(4, SH(4, 3, 3, 3), 167)}},
           "conv_transpose2d(output padding not below the stride)");
    oe_run((oe_case){.op = "conv_transpose1d",
                     .ip = {3, 0, 2, 0, 2, 0, 1, 1, [9] = 2},
                     .in = {oe_randn(3, SH(2, 3, 7), 168), oe_randn(3, SH(3, 5, 3), 169),
                            oe_randn(1, SH(5), 170)}},
           "conv_transpose1d(stride 3 pad 2 dil 2 outpad 2)");
    oe_run((oe_case){.op = "fold",
                     .ip = {2, 1, 1, 2, 1, 2, 0, 3, 2, 6, 7},
                     .in = {oe_randn(3, SH(2, 4 * 6, 3 * 9), 171)}},
           "fold(6x7, 3x2 stride 2,1 pad 1,2 dil 1,2)");
    oe_run((oe_case){.op = "fold",
                     .ip = {1, 1, 0, 0, 1, 1, 0, 2, 2, 4, 4},
                     .in = {oe_randn(3, SH(1, 8, 9), 172)}},
           "fold(4x4, 2x2 overlapping)");
    oe_run((oe_case){.op = "fold",
                     .ip = {1, 1, 0, 0, 1, 1, 0, 2, 2, 4, 5},
                     .in = {oe_randn(3, SH(1, 8, 9), 173)}},
           "fold(wrong block count)");

    /* conv2d's padding modes and 'same' (ip[11] same, ip[12] pad_mode) */
    static const char *pm[] = {"zeros", "reflect", "replicate", "circular"};
    for (int m = 0; m < 4; m++) {
        oe_run((oe_case){.op = "conv2d",
                         .ip = {1, 2, 2, 1, 1, 1, 1, 1, [12] = m},
                         .in = {img, oe_randn(4, SH(3, 4, 3, 3), 174), oe_randn(1, SH(3), 175)}},
               "conv2d(pad 2,1 stride 1,2 %s)", pm[m]);
        oe_run((oe_case){.op = "conv2d",
                         .ip = {1, 1, 0, 0, 2, 1, 2, 0, [11] = 1, [12] = m},
                         .in = {img, oe_randn(4, SH(4, 2, 2, 4), 176)}},
               "conv2d(same, even window, dil 2,1, groups 2, %s)", pm[m]);
        oe_run((oe_case){.op = "conv1d",
                         .ip = {1, 0, 0, 0, 1, 0, 1, 1, [11] = 1, [12] = m},
                         .in = {oe_randn(3, SH(2, 3, 9), 177), oe_randn(3, SH(2, 3, 4), 178),
                                oe_randn(1, SH(2), 179)}},
               "conv1d(same, window 4, %s)", pm[m]);
    }
    oe_run((oe_case){.op = "conv2d",
                     .ip = {2, 1, 0, 0, 1, 1, 1, 0, [11] = 1},
                     .in = {img, oe_randn(4, SH(3, 4, 3, 3), 180)}},
           "conv2d(same with stride 2)");
    oe_run((oe_case){.op = "conv2d",
                     .ip = {1, 1, 6, 1, 1, 1, 1, 0, [12] = 1},
                     .in = {img, oe_randn(4, SH(3, 4, 3, 3), 181)}},
           "conv2d(reflect padding as large as the input)");

    /* pad modes (ip: mode, count, sizes) */
    for (int m = 1; m < 4; m++) {
        oe_run((oe_case){.op = "pad_mode", .ip = {m, 4, 2, 1, 0, 3}, .in = {img}}, "pad_mode(%s, 2 1 0 3)",
               pm[m]);
        oe_run((oe_case){.op = "pad_mode", .ip = {m, 2, 3, 4}, .in = {oe_randn(3, SH(2, 3, 5), 182)}},
               "pad_mode(%s, 1-d 3 4)", pm[m]);
        oe_run((oe_case){.op = "pad_mode", .ip = {m, 4, 1, 1, 2, 1}, .in = {img_sv}},
               "pad_mode(%s, special values)", pm[m]);
        oe_run((oe_case){.op = "pad_mode", .ip = {m, 4, 7, 0, 0, 0}, .in = {img}},
               "pad_mode(%s, beyond the size)", pm[m]);
    }

    /* pooling's ceil_mode (ip[13]) and exclude_pad (ip[14]) */
    nb_tensor *odd = oe_randn(4, SH(2, 3, 7, 8), 183);
    for (int ex = 0; ex < 2; ex++)
        for (int ce = 0; ce < 2; ce++) {
            oe_run((oe_case){.op = "avg_pool2d",
                             .ip = {2, 3, 1, 1, 0, 0, 0, 3, 3, [13] = ce, [14] = ex},
                             .in = {odd}},
                   "avg_pool2d(3x3 stride 2,3 pad 1 ceil %d exclude_pad %d)", ce, ex);
            oe_run((oe_case){.op = "avg_pool2d",
                             .ip = {0, 0, 0, 0, 0, 0, 0, 2, 3, [13] = ce, [14] = ex},
                             .in = {odd}},
                   "avg_pool2d(2x3 ceil %d exclude_pad %d)", ce, ex);
        }
    oe_run((oe_case){.op = "max_pool2d", .ip = {2, 2, 0, 0, 0, 0, 0, 2, 2, [13] = 1}, .in = {odd}},
           "max_pool2d(2x2 ceil)");
    oe_run((oe_case){.op = "max_pool2d", .ip = {2, 3, 1, 1, 1, 2, 0, 3, 2, [13] = 1}, .in = {odd}},
           "max_pool2d(3x2 stride 2,3 pad 1 dil 1,2 ceil)");
    oe_run((oe_case){.op = "max_pool2d", .ip = {2, 2, 0, 0, 0, 0, 0, 2, 2, [13] = 1}, .in = {img_sv}},
           "max_pool2d(special values, ceil)");

    /* interpolate (ip: mode, align_corners, sizes) */
    const int64_t sz[][2] = {{10, 14}, {3, 4}, {6, 7}, {1, 1}, {13, 2}};
    for (int i = 0; i < COUNT(sz); i++) {
        oe_run((oe_case){.op = "interpolate", .ip = {0, 0, (int)sz[i][0], (int)sz[i][1]}, .in = {img}},
               "interpolate(nearest, 6x7 -> %lldx%lld)", (long long)sz[i][0], (long long)sz[i][1]);
        for (int ac = 0; ac < 2; ac++)
            oe_run((oe_case){.op = "interpolate", .ip = {1, ac, (int)sz[i][0], (int)sz[i][1]}, .in = {img}},
                   "interpolate(bilinear, align_corners %d, 6x7 -> %lldx%lld)", ac, (long long)sz[i][0],
                   (long long)sz[i][1]);
    }
    for (int ac = 0; ac < 2; ac++)
        oe_run((oe_case){.op = "interpolate", .ip = {1, ac, 11}, .in = {oe_randn(3, SH(2, 3, 5), 184)}},
               "interpolate(linear, align_corners %d, 5 -> 11)", ac);
    oe_run((oe_case){.op = "interpolate", .ip = {0, 0, 2}, .in = {oe_randn(3, SH(2, 3, 5), 185)}},
           "interpolate(nearest, 5 -> 2)");
    oe_run((oe_case){.op = "interpolate", .ip = {1, 0, 4, 4}, .in = {img_sv}},
           "interpolate(bilinear, special values)");

    /* recurrent cells (torch.lstm_cell, gru_cell, rnn_tanh_cell / rnn_relu_cell) */
    nb_tensor *rx = oe_randn(2, SH(3, 5), 190), *rh = oe_randn(2, SH(3, 4), 191),
              *rc = oe_randn(2, SH(3, 4), 192);
    oe_run((oe_case){.op = "lstm_cell",
                     .in = {rx, rh, rc, oe_randn(2, SH(16, 5), 193), oe_randn(2, SH(16, 4), 194),
                            oe_randn(1, SH(16), 195), oe_randn(1, SH(16), 196)}},
           "lstm_cell");
    oe_run((oe_case){.op = "gru_cell",
                     .in = {rx, rh, oe_randn(2, SH(12, 5), 197), oe_randn(2, SH(12, 4), 198),
                            oe_randn(1, SH(12), 199), oe_randn(1, SH(12), 200)}},
           "gru_cell");
    for (int relu = 0; relu < 2; relu++)
        oe_run((oe_case){.op = "rnn_cell",
                         .ip = {relu},
                         .in = {rx, rh, oe_randn(2, SH(4, 5), 201), oe_randn(2, SH(4, 4), 202),
                                oe_randn(1, SH(4), 203), oe_randn(1, SH(4), 204)}},
               "rnn_cell(relu %d)", relu);
    oe_run((oe_case){.op = "lstm_cell",
                     .in = {rx, rh, rc, oe_randn(2, SH(16, 4), 193), oe_randn(2, SH(16, 4), 194),
                            oe_randn(1, SH(16), 195), oe_randn(1, SH(16), 196)}},
           "lstm_cell(weight_ih too narrow)");

    /* whole sequences: ip = kind, layers, bidirectional, batch_first, bias, hidden; in = x, the
     * parameters flat in torch's order, h0, c0 */
    static const char *kinds[] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};
    for (int kind = 0; kind < 4; kind++) {
        const int64_t G = kind == 2 ? 4 : kind == 3 ? 3 : 1, H = 3, I = 4;
        for (int cfg = 0; cfg < 3; cfg++) {
            const int layers = cfg == 2 ? 2 : 1, bidir = cfg >= 1, bf = cfg == 1, bias = cfg != 1;
            const int64_t D = bidir ? 2 : 1;
            int64_t np = 0;
            for (int l = 0; l < layers; l++)
                np += D * (G * H * (l ? H * D : I) + G * H * H + (bias ? 2 * G * H : 0));
            nb_tensor *seq = bf ? oe_randn(3, SH(2, 5, I), 210 + cfg) : oe_randn(3, SH(5, 2, I), 210 + cfg);
            nb_tensor *h0 = oe_randn(3, SH(layers * D, 2, H), 214),
                      *c0 = oe_randn(3, SH(layers * D, 2, H), 215);
            oe_run((oe_case){.op = "rnn_seq",
                             .ip = {kind, layers, bidir, bf, bias, (int)H},
                             .in = {seq, oe_randn(1, SH(np), 220 + kind), h0, kind == 2 ? c0 : NULL}},
                   "rnn_seq(%s, %d layers, bidir %d, batch_first %d, bias %d)", kinds[kind], layers, bidir,
                   bf, bias);
            if (cfg == 0) continue;
            /* sequences of lengths 5 and 3 (torch: packed, then padded back): ip[6], lengths in[2] */
            nb_tensor *len = oe_i32(1, SH(2), IV(3, 5));
            oe_run((oe_case){.op = "rnn_seq",
                             .ip = {kind, layers, bidir, bf, bias, (int)H, 1},
                             .nograd = 4,
                             .in = {seq, oe_randn(1, SH(np), 220 + kind), len, h0, kind == 2 ? c0 : NULL}},
                   "rnn_seq(%s, %d layers, bidir %d, batch_first %d, lengths 3 and 5)", kinds[kind], layers,
                   bidir, bf);
        }
    }
    /* LSTM's proj_size (ip[7]): 2 layers, both directions, hidden 4 projected to 2, with states */
    const int64_t pnp = 2 * (16 * 3 + 16 * 2 + 32 + 8) + 2 * (16 * 4 + 16 * 2 + 32 + 8);
    oe_run((oe_case){.op = "rnn_seq",
                     .ip = {2, 2, 1, 0, 1, 4, 0, 2},
                     .in = {oe_randn(3, SH(5, 2, 3), 218), oe_randn(1, SH(pnp), 219),
                            oe_randn(3, SH(4, 2, 2), 225), oe_randn(3, SH(4, 2, 4), 226)}},
           "rnn_seq(lstm, proj_size 2, 2 layers, bidir)");
    oe_run((oe_case){.op = "rnn_seq",
                     .ip = {2, 1, 0, 1, 0, 4, 1, 3},
                     .nograd = 4,
                     .in = {oe_randn(3, SH(2, 5, 3), 227), oe_randn(1, SH(16 * 3 + 16 * 3 + 12), 228),
                            oe_i32(1, SH(2), IV(2, 5))}},
           "rnn_seq(lstm, proj_size 3, no bias, batch_first, lengths)");
    oe_run((oe_case){.op = "rnn_seq",
                     .ip = {2, 1, 0, 0, 1, 4, 0, 4},
                     .in = {oe_randn(3, SH(5, 2, 3), 229), oe_randn(1, SH(200), 236)}},
           "rnn_seq(lstm, proj_size not below hidden)");
    oe_run((oe_case){.op = "rnn_seq",
                     .ip = {2, 1, 0, 0, 1, 3, 1},
                     .nograd = 4,
                     .in = {oe_randn(3, SH(5, 2, 4), 216), oe_randn(1, SH(4 * 3 * 4 + 4 * 3 * 3 + 24), 217),
                            oe_i32(1, SH(2), IV(0, 5))}},
           "rnn_seq(lstm, a length of 0)");

    /* scaled-dot-product attention: ip = causal, has mask, probabilities too; fp = scale */
    nb_tensor *aq = oe_randn(4, SH(2, 3, 5, 4), 230), *ak = oe_randn(4, SH(2, 3, 7, 4), 231),
              *av = oe_randn(4, SH(2, 3, 7, 6), 232);
    float am[5 * 7];
    for (int i = 0; i < 5 * 7; i++)
        am[i] = i % 4 == 3 ? -INFINITY : 0.25f * (float)(i % 3);
    nb_tensor *amask = oe_f32(2, SH(5, 7), am);
    for (int causal = 0; causal < 2; causal++)
        for (int masked = 0; masked < 2; masked++)
            oe_run((oe_case){.op = "sdpa", .ip = {causal, masked, 1}, .in = {aq, ak, av, amask}},
                   "sdpa(5 queries, 7 keys, causal %d, mask %d)", causal, masked);
    nb_tensor *sq = oe_randn(4, SH(2, 2, 6, 8), 233);
    oe_run((oe_case){.op = "sdpa",
                     .ip = {1, 0, 0},
                     .in = {sq, oe_randn(4, SH(2, 2, 6, 8), 234), oe_randn(4, SH(2, 2, 6, 8), 235)}},
           "sdpa(causal, fused path)");
    oe_run((oe_case){.op = "sdpa",
                     .ip = {0, 0, 1},
                     .fp = {0.7f},
                     .in = {oe_randn(3, SH(3, 5, 4), 236), oe_randn(3, SH(3, 7, 4), 237),
                            oe_randn(3, SH(3, 7, 2), 238)}},
           "sdpa(3-d, scale 0.7)");
    oe_run((oe_case){.op = "sdpa", .ip = {0, 0, 0}, .in = {aq, av, av}}, "sdpa(D of q and k differ)");

    /* MultiheadAttention: ip = heads, batch_first, causal, has attn_mask, has key_padding_mask, bias */
    const int64_t E = 8;
    nb_tensor *mq = oe_randn(3, SH(5, 2, E), 240), *mk = oe_randn(3, SH(7, 2, E), 241),
              *mv = oe_randn(3, SH(7, 2, E), 242);
    nb_tensor *mqb = oe_randn(3, SH(2, 5, E), 243), *mkb = oe_randn(3, SH(2, 7, E), 244);
    nb_tensor *flat_b = oe_randn(1, SH(4 * E * E + 4 * E), 245), *flat_nb = oe_randn(1, SH(4 * E * E), 246);
    nb_tensor *kpm = oe_i32(2, SH(2, 7), IV(0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1));
    oe_run((oe_case){.op = "mha", .ip = {2, 0, 0, 0, 0, 1}, .nograd = 1u << 5, .in = {mq, mk, mv, flat_b}},
           "mha(cross, 2 heads)");
    oe_run(
        (oe_case){
            .op = "mha", .ip = {4, 0, 0, 1, 1, 1}, .nograd = 1u << 5, .in = {mq, mk, mv, flat_b, amask, kpm}},
        "mha(cross, 4 heads, attn_mask, key_padding_mask)");
    oe_run((oe_case){.op = "mha", .ip = {2, 0, 1, 0, 0, 0}, .in = {mq, mq, mq, flat_nb}},
           "mha(self, causal, no bias)");
    oe_run(
        (oe_case){
            .op = "mha", .ip = {1, 1, 0, 0, 1, 1}, .nograd = 1u << 4, .in = {mqb, mkb, mkb, flat_b, kpm}},
        "mha(batch_first, key_padding_mask)");
    oe_run((oe_case){.op = "mha", .ip = {3, 0, 0, 0, 0, 1}, .in = {mq, mk, mv, flat_b}},
           "mha(3 heads do not divide 8)");
    float kf[14];
    for (int i = 0; i < 14; i++)
        kf[i] = i == 5 ? -INFINITY : 0.5f * (float)(i % 3) - 0.5f;
    oe_run((oe_case){.op = "mha",
                     .ip = {2, 0, 0, 0, 1, 1},
                     .nograd = 1u << 4,
                     .in = {mq, mk, mv, flat_b, oe_f32(2, SH(2, 7), kf)}},
           "mha(f32 key_padding_mask, added)");

    /* kdim / vdim (q/k/v_proj_weight), bias_k / bias_v and a zero key: ip[6..9] */
    nb_tensor *mk5 = oe_randn(3, SH(7, 2, 5), 247), *mv3 = oe_randn(3, SH(7, 2, 3), 248);
    const int64_t sep = E * E + E * 5 + E * 3 + 3 * E + E * E + E;
    oe_run((oe_case){.op = "mha",
                     .ip = {2, 0, 0, 0, 0, 1, 5, 3},
                     .in = {mq, mk5, mv3, oe_randn(1, SH(sep), 249)}},
           "mha(kdim 5, vdim 3)");
    oe_run((oe_case){.op = "mha",
                     .ip = {2, 0, 0, 1, 1, 1, 5, 3, 1, 1},
                     .nograd = 1u << 5,
                     .in = {mq, mk5, mv3, oe_randn(1, SH(sep + 2 * E), 250), amask, kpm}},
           "mha(kdim 5, vdim 3, bias_kv, zero_attn, masks)");
    oe_run((oe_case){.op = "mha",
                     .ip = {4, 0, 1, 0, 0, 0, 0, 0, 1, 1},
                     .in = {mq, mq, mq, oe_randn(1, SH(4 * E * E + 2 * E), 251)}},
           "mha(self, causal, bias_kv, zero_attn, no bias)");
    oe_run((oe_case){.op = "mha",
                     .ip = {2, 0, 0, 0, 0, 1, 5, 3},
                     .in = {mq, mk, mv3, oe_randn(1, SH(sep), 252)}},
           "mha(key of the wrong width)");
    oe_run((oe_case){.op = "mha",
                     .ip = {4, 1, 0, 0, 1, 1, [10] = 1},
                     .nograd = 1u << 4,
                     .in = {mqb, mkb, mkb, flat_b, kpm}},
           "mha(batch_first, key_padding_mask, per-head weights)");

    /* Transformer layers: ip = decoder, heads, dim_feedforward, norm_first, gelu, batch_first,
     * causal, key padding mask; parameters flat in torch's named_parameters order */
    const int64_t enc_np = 4 * E * E + 4 * E + 2 * 16 * E + 16 + E + 4 * E,
                  dec_np = enc_np + 4 * E * E + 4 * E + 2 * E;
    nb_tensor *src = oe_randn(3, SH(5, 2, E), 250), *srcb = oe_randn(3, SH(2, 5, E), 251);
    /* parameters at about xavier's scale: N(0, 1) weights make scores of ~10, a saturated softmax
     * whose gradient is ill-conditioned (there the fused causal kernel's D = dout . out term,
     * flash attention's, rounds to 2e-4 relative, where the composed softmax gets 3e-5) */
    nb_tensor *pe[4], *pd[2];
    for (int i = 0; i < 4; i++)
        nb_scale_(pe[i] = oe_randn(1, SH(enc_np), 252 + i), 0.4f);
    for (int i = 0; i < 2; i++)
        nb_scale_(pd[i] = oe_randn(1, SH(dec_np), 256 + i), 0.4f);
    nb_tensor *kpm5 = oe_i32(2, SH(2, 5), IV(0, 0, 0, 1, 1, 0, 0, 0, 0, 1));
    for (int nf = 0; nf < 2; nf++)
        for (int gelu = 0; gelu < 2; gelu++)
            oe_run((oe_case){.op = "encoder_layer",
                             .ip = {0, 2, 16, nf, gelu, 0, gelu, 0},
                             .in = {src, pe[2 * nf + gelu]}},
                   "encoder_layer(norm_first %d, gelu %d, causal %d)", nf, gelu, gelu);
    oe_run((oe_case){.op = "encoder_layer",
                     .ip = {0, 4, 16, 0, 0, 1, 0, 1},
                     .nograd = 1u << 2,
                     .in = {srcb, pe[0], kpm5}},
           "encoder_layer(batch_first, key padding mask)");
    nb_tensor *mem = oe_randn(3, SH(7, 2, E), 254);
    for (int nf = 0; nf < 2; nf++)
        oe_run((oe_case){.op = "decoder_layer",
                         .ip = {1, 2, 16, nf, 0, 0, 1, 1},
                         .nograd = 1u << 3,
                         .in = {src, mem, pd[nf], kpm}},
               "decoder_layer(norm_first %d, causal, memory key padding mask)", nf);

    /* weighted losses: ip[0] ignore_index, ip[7] reduction; fp[0] smoothing */
    nb_tensor *wl = oe_randn(2, SH(6, 5), 260), *wt = oe_i32(1, SH(6), IV(0, 4, -100, 2, 4, 1));
    float cwv[5] = {0.5f, 2.0f, 1.0f, 0.0f, 3.0f};
    nb_tensor *cw = oe_f32(1, SH(5), cwv);
    for (int red = 0; red < 3; red++) {
        oe_run(
            (oe_case){.op = "nll_loss_weighted", .ip = {-100, [7] = red}, .nograd = 6u, .in = {wl, wt, cw}},
            "nll_loss_weighted(red %d)", red);
        for (int sm = 0; sm < 2; sm++)
            oe_run((oe_case){.op = "cross_entropy_weighted",
                             .ip = {-100, [7] = red},
                             .fp = {sm ? 0.2f : 0.0f},
                             .nograd = 6u,
                             .in = {wl, wt, cw}},
                   "cross_entropy_weighted(smoothing %g, red %d)", sm ? 0.2 : 0.0, red);
    }
    oe_run((oe_case){.op = "cross_entropy_weighted",
                     .ip = {-100},
                     .nograd = 6u,
                     .in = {wl, oe_i32(1, SH(6), IV(-100, -100, -100, -100, -100, -100)), cw}},
           "cross_entropy_weighted(all ignored)");
    oe_run((oe_case){.op = "cross_entropy_weighted",
                     .ip = {-100},
                     .nograd = 6u,
                     .in = {wl, wt, oe_f32(1, SH(4), cwv)}},
           "cross_entropy_weighted(weight of 4 for 5 classes)");
    float tv[12];
    for (int i = 0; i < 12; i++)
        tv[i] = (float)(i % 5) / 4.0f; /* targets in [0, 1], soft ones included */
    nb_tensor *bl = oe_randn(2, SH(4, 3), 261), *bt = oe_f32(2, SH(4, 3), tv);
    float pwv[3] = {0.5f, 1.0f, 4.0f};
    for (int red = 0; red < 3; red++) {
        oe_run((oe_case){.op = "bce_with_logits_weighted",
                         .ip = {0, 1, 1, [7] = red},
                         .nograd = 12u,
                         .in = {bl, bt, oe_randn(2, SH(4, 1), 263), oe_f32(1, SH(3), pwv)}},
               "bce_with_logits_weighted(weight, pos_weight, red %d)", red);
        oe_run((oe_case){.op = "bce_with_logits_weighted",
                         .ip = {0, 0, 1, [7] = red},
                         .nograd = 4u,
                         .in = {svt(), f1(NSV, rev), oe_scalar(3.0f)}},
               "bce_with_logits_weighted(SV, pos_weight 3, red %d)", red);
    }

    /* more activations, on special values and on a range through their kinks (-3, 0, 3, 6) */
    float kr[61];
    for (int i = 0; i < 61; i++)
        kr[i] = -7.5f + 0.25f * (float)i; /* -7.5 .. 7.5 in quarters: every kink exactly */
    const char *acts[] = {"selu", "relu6", "hardsigmoid", "hardswish", "mish", "softsign"};
    for (int i = 0; i < COUNT(acts); i++) {
        oe_run((oe_case){.op = acts[i], .in = {svt()}}, "%s(SV)", acts[i]);
        oe_run((oe_case){.op = acts[i], .in = {f1(61, kr)}}, "%s(kinks)", acts[i]);
    }
    const float alphas[] = {1.0f, 0.3f, 2.5f};
    for (int i = 0; i < COUNT(alphas); i++) {
        oe_run((oe_case){.op = "elu", .fp = {alphas[i]}, .in = {svt()}}, "elu(SV, %g)", (double)alphas[i]);
        oe_run((oe_case){.op = "elu", .fp = {alphas[i]}, .in = {f1(61, kr)}}, "elu(kinks, %g)",
               (double)alphas[i]);
    }
    oe_run((oe_case){.op = "hardtanh", .fp = {-1.0f, 1.0f}, .in = {f1(61, kr)}}, "hardtanh(kinks, -1, 1)");
    oe_run((oe_case){.op = "hardtanh", .fp = {-2.0f, 4.5f}, .in = {svt()}}, "hardtanh(SV, -2, 4.5)");
    oe_run((oe_case){.op = "hardtanh", .fp = {2.0f, 1.0f}, .in = {svt()}}, "hardtanh(min above max)");
    nb_tensor *px = oe_randn(4, SH(2, 3, 4, 5), 270);
    nb_data_f32(px)[0] = 0.0f, nb_data_f32(px)[7] = -0.0f;
    oe_run((oe_case){.op = "prelu", .in = {px, oe_f32(1, SH(3), FV(0.25f, -0.5f, 2.0f))}},
           "prelu(per channel)");
    oe_run((oe_case){.op = "prelu", .in = {svt(), oe_f32(1, SH(1), FV(0.1f))}}, "prelu(SV, one slope)");
    oe_run((oe_case){.op = "prelu", .in = {px, oe_f32(1, SH(4), FV(0.1f, 0.2f, 0.3f, 0.4f))}},
           "prelu(4 slopes for 3 channels)");

    /* pixel shuffle: ip[0] the factor */
    oe_run((oe_case){.op = "pixel_shuffle", .ip = {2}, .in = {oe_randn(4, SH(2, 12, 3, 4), 280)}},
           "pixel_shuffle(2)");
    oe_run((oe_case){.op = "pixel_shuffle", .ip = {3}, .in = {oe_randn(3, SH(9, 2, 2), 281)}},
           "pixel_shuffle(3, unbatched)");
    oe_run((oe_case){.op = "pixel_unshuffle", .ip = {2}, .in = {oe_randn(4, SH(2, 3, 4, 6), 282)}},
           "pixel_unshuffle(2)");
    oe_run((oe_case){.op = "pixel_shuffle", .ip = {2}, .in = {oe_randn(4, SH(2, 6, 3, 4), 283)}},
           "pixel_shuffle(channels not a multiple of 4)");

    /* 1-d pooling: ip = window, stride, padding, dilation, ceil_mode, exclude_pad */
    nb_tensor *seq = oe_randn(3, SH(2, 3, 11), 290);
    oe_run((oe_case){.op = "max_pool1d", .ip = {3}, .in = {seq}}, "max_pool1d(3)");
    oe_run((oe_case){.op = "max_pool1d", .ip = {3, 2, 1, 2, 1}, .in = {seq}},
           "max_pool1d(3 stride 2 pad 1 dil 2 ceil)");
    oe_run((oe_case){.op = "avg_pool1d", .ip = {4, 3, 2, 0, 1, 1}, .in = {seq}},
           "avg_pool1d(4 stride 3 pad 2 ceil exclude_pad)");
    oe_run((oe_case){.op = "avg_pool1d", .ip = {2}, .in = {oe_randn(2, SH(3, 9), 291)}},
           "avg_pool1d(2, unbatched)");
    oe_run((oe_case){.op = "max_pool1d", .ip = {2}, .in = {f1(NSV, SV)}},
           "max_pool1d(SV as [28], refused: 1-d)");
    oe_run((oe_case){.op = "adaptive_avg_pool1d", .ip = {4}, .in = {seq}}, "adaptive_avg_pool1d(11 -> 4)");
    oe_run((oe_case){.op = "max_pool1d", .ip = {2, 0, 2}, .in = {seq}},
           "max_pool1d(padding above half the window)");
}
