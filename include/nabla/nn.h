/* nabla/nn.h - the nn layer: modules, parameter initialisation, optimisers,
 * learning-rate schedules, safetensors checkpoints and model summaries.
 *
 * Ownership: a module tree is malloc'ed and freed with nb_module_free on its
 * root; its parameters, their gradients and optimiser state are tensors in the
 * long-lived context given to the constructors (freed with that context).
 * Forward passes put activations in the thread's current context. Every
 * function that can fail returns NULL / -1 (or a negative number) and leaves
 * one message in nb_last_error(). See docs/nn.md for a walk-through. */
#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stdio.h>

#include "nabla/autograd.h"
#include "nabla/ops.h"
#include "nabla/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Modules
 * ====================================================================== */

typedef struct nb_module nb_module;

/* A module's forward: one input tensor to one output tensor (NULL on error). */
typedef nb_tensor *(*nb_forward_fn)(nb_module *m, nb_tensor *x);

/* One registered parameter: a local name ("weight") and its tensor. */
typedef struct nb_param {
    char *name;
    nb_tensor *t;
} nb_param;

/* The fields are public for reading; change them through the functions. */
struct nb_module {
    const char *type;     /* "Linear", "LayerNorm", ... (a static string) */
    char *name;           /* name inside its parent ("" for a root) */
    nb_module *parent;    /* NULL for a root */
    nb_module **children; /* owned */
    int n_children, cap_children;
    nb_param *params; /* own parameters (not the children's) */
    int n_params, cap_params;
    bool training;         /* train (true, the default) or eval mode */
    bool residual;         /* a residual projection: GPT-2 init scales its std */
    nb_forward_fn forward; /* NULL for pure containers (ModuleList) */
    void *impl;            /* per-type configuration, owned (free()) */
    nb_ctx *ctx;           /* where its parameters live (may be NULL) */
    nb_rng rng;            /* the tree's generator: only the root's is used */
    int out_ndim; /* output shape of the last recorded forward (see nb_module_record_shapes); -1 before one */
    int64_t out_shape[NB_MAX_DIMS];
};

/* A new module with no parameters or children; impl_size bytes of zeroed
 * per-type configuration in m->impl. NULL on error. Free with nb_module_free. */
nb_module *nb_module_new(const char *type, nb_ctx *ctx, nb_forward_fn forward, size_t impl_size);
/* Frees a module tree (the module, its children, names; not the tensors). */
void nb_module_free(nb_module *m);
/* Attaches `child` under `parent` as `name` (unique among its siblings, no
 * dots). Takes ownership of child, even on error, where it is freed; except when
 * child already has a parent or is parent or one of its ancestors (its tree still
 * owns it then). 0/-1. */
int nb_module_add(nb_module *parent, const char *name, nb_module *child);
/* Registers `t` (f32) as parameter `name` of m: marks it as requiring grad and
 * gives it a zeroed gradient in its context. Returns t, NULL on error. */
nb_tensor *nb_module_add_param(nb_module *m, const char *name, nb_tensor *t);
/* Replaces m's parameter `name` by `t` (same shape), e.g. to tie lm_head's
 * weight to the token embedding; the shared tensor is counted once. t takes the old
 * parameter's requires_grad (a running statistic stays untrained). 0/-1. */
int nb_module_set_param(nb_module *m, const char *name, nb_tensor *t);
/* The direct child called `name` (owned by m's tree), or NULL (no message). */
nb_module *nb_module_child(const nb_module *m, const char *name);
/* The descendant at a dotted path ("blocks.0.attn"), owned by m's tree; NULL with a message. */
nb_module *nb_module_find(const nb_module *m, const char *path);
/* The parameter at a dotted path ("blocks.0.attn.qkv.weight"), owned by its module's
 * context; NULL with a message. */
nb_tensor *nb_module_param(const nb_module *m, const char *path);
/* Runs m's forward on x (recording its output shape when this thread records
 * shapes). NULL on error (a NULL x propagates). Custom forwards should call
 * children through this. */
nb_tensor *nb_module_forward(nb_module *m, nb_tensor *x);
/* Turns the recording of each module's output shape (out_ndim, out_shape) on
 * or off for this thread's forwards; returns the previous setting. Off by
 * default, so that threads sharing a model read-only write nothing to it;
 * nb_module_summary turns it on for its own forward. */
bool nb_module_record_shapes(bool on);
/* Sets train (true) or eval (false) mode on m and every descendant. */
void nb_module_train(nb_module *m, bool on);
/* The generator of m's tree (its root's, owned by the tree), used by Dropout. Never NULL. */
nb_rng *nb_module_rng(nb_module *m);
/* Seeds the generator of m's tree (on its root). */
void nb_module_seed(nb_module *m, uint64_t seed);
/* Full dotted name of m relative to its root, written into buf (caller's) and cut to len - 1
 * characters; "" for the root or a NULL m. Returns buf (NULL buf or len 0: nothing written). */
char *nb_module_path(const nb_module *m, char *buf, size_t len);

/* A list of parameters with full dotted names (malloc'ed; free with
 * nb_param_list_free). Each tensor appears once, under its first name. */
typedef struct nb_param_list {
    int n;
    char **names;
    nb_tensor **tensors;
    int n_shared; /* registrations that were skipped because already listed */
} nb_param_list;

/* Fills `out` with m's parameters, depth-first in registration order, each
 * tensor once (tied weights: first name wins). 0, or -1 (out left empty). */
int nb_module_parameters(const nb_module *m, nb_param_list *out);
/* Frees the arrays and names of a list (not the tensors); NULL-safe. */
void nb_param_list_free(nb_param_list *l);
/* Number of parameter elements, shared tensors counted once; -1 on error. */
int64_t nb_module_num_params(const nb_module *m);
/* Zeroes every parameter's gradient. */
void nb_module_zero_grad(nb_module *m);
/* Moves every parameter and gradient of m to `dev`, in place (the tensor
 * handles stay valid, so ties and optimisers still point at them). 0/-1. */
int nb_module_to(nb_module *m, nb_device dev);

/* ---- Initialisation ---------------------------------------------------- */

/* GPT-2 initialisation of a whole tree, depth-first: Linear and Embedding
 * weights ~ N(0, 0.02), those of modules marked residual ~ N(0, 0.02 /
 * sqrt(2 n_layer)) (n_layer <= 0: no scaling), biases 0, LayerNorm weight 1.
 * Reproducible for a given rng state; tied tensors are initialised once. 0/-1. */
int nb_init_gpt2(nb_module *m, nb_rng *rng, int n_layer);
/* Kaiming (He) initialisation for ReLU networks, over a whole tree as nb_init_gpt2: each
 * weight of two or more dims ~ N(0, sqrt(2 / fan_in)) with fan_in its elements per row
 * (a Linear's in_features), Embedding weights ~ N(0, 1), biases 0, LayerNorm weight 1;
 * other 1-D parameters are left as they are. Reproducible for a given rng state (NULL: the
 * global generator); tied tensors are initialised once. 0/-1. */
int nb_init_kaiming(nb_module *m, nb_rng *rng);

/* Tensor initialisers with torch.nn.init's rules (nn/init.c). Each fills an f32 tensor of any
 * device in place from `rng` (NULL: the global generator) and returns 0 (a tensor with no
 * elements is left as it is), or -1 with an error.
 * The gain torch.nn.init.calculate_gain gives a nonlinearity ("linear", "conv2d", "sigmoid": 1,
 * "tanh": 5/3, "relu": sqrt 2, "leaky_relu": sqrt(2 / (1 + param^2)), param NAN meaning 0.01,
 * "selu": 3/4); NAN with an error for another name. */
double nb_init_gain(const char *nonlinearity, double param);
/* A weight's fan in and fan out (either pointer may be NULL): dims 1 and 0 times the product of
 * the rest (a convolution's window), as torch. -1 with an error below 2 dims. */
int nb_init_fans(const nb_tensor *t, int64_t *fan_in, int64_t *fan_out);
/* Xavier/Glorot: uniform on +-gain sqrt(6 / (fan_in + fan_out)); normal with std gain sqrt(2 /
 * (fan_in + fan_out)). */
int nb_init_xavier_uniform_(nb_tensor *t, double gain, nb_rng *rng);
int nb_init_xavier_normal_(nb_tensor *t, double gain, nb_rng *rng);
/* Kaiming/He: std = gain(nonlinearity, a) / sqrt(fan), fan the mode's ("fan_in", NULL meaning
 * it, or "fan_out"), nonlinearity NULL meaning "leaky_relu" (torch's defaults: a 0, fan_in,
 * leaky_relu); uniform on +-sqrt(3) std, or normal. */
int nb_init_kaiming_uniform_(nb_tensor *t, double a, const char *mode, const char *nonlinearity, nb_rng *rng);
int nb_init_kaiming_normal_(nb_tensor *t, double a, const char *mode, const char *nonlinearity, nb_rng *rng);
/* Normal (mean, std) truncated to [a, b], by torch's inverse-CDF method (drawn on the host). */
int nb_init_trunc_normal_(nb_tensor *t, double mean, double std, double a, double b, nb_rng *rng);
/* gain times a (semi-)orthogonal matrix: t viewed as [dim 0, the rest], with orthonormal rows or
 * columns, whichever are fewer (QR of a normal matrix with R's diagonal positive, as torch;
 * drawn on the host). -1 with an error below 2 dims. */
int nb_init_orthogonal_(nb_tensor *t, double gain, nb_rng *rng);

/* ---- Provided modules (each: NULL on error; ctx holds the parameters;
 *      rng draws the initial weights (NULL: the global generator); the
 *      caller owns the module: free it with nb_module_free, or hand it to a
 *      parent with nb_sequential_append / nb_module_add) ------------------ */

/* Linear: y = x w^T + b, w [out,in] ~ N(0, 0.02), b [out] = 0 (when bias). */
nb_module *nb_linear_new(nb_ctx *ctx, int64_t in, int64_t out, bool bias, nb_rng *rng);
/* Embedding: rows of weight [num, dim] ~ N(0, 0.02) at i32 indices. */
nb_module *nb_embedding_new(nb_ctx *ctx, int64_t num, int64_t dim, nb_rng *rng);
/* Makes row padding_idx of Embedding m torch's padding_idx (negative counts from the end):
 * zeroed now, and its gradient always 0 (its value is read as a constant). 0, or -1 with an
 * error for another module or an index out of range. */
int nb_embedding_padding(nb_module *m, int64_t padding_idx);
/* EmbeddingBag: weight [num, dim] ~ N(0, 1) (torch's init); forward nb_embedding_bag over the
 * rows of a 2-d index [B, L] (one bag per row) with `mode`, entries equal to padding_idx skipped
 * (negative: none). Bags given by offsets: nb_embedding_bag with the module's "weight". */
nb_module *nb_embedding_bag_new(nb_ctx *ctx, int64_t num, int64_t dim, nb_bag_mode mode, int64_t padding_idx,
                                nb_rng *rng);
/* LayerNorm over the last dimension (weight 1, and bias 0 when `bias`). */
nb_module *nb_layernorm_new(nb_ctx *ctx, int64_t dim, float eps, bool bias);
/* RMSNorm over the last dim (torch 2.4's nn.RMSNorm, LLaMA's): x / sqrt(mean(x^2) + eps), times
 * weight [dim] (1) when affine. NULL with a message for dim <= 0 or eps < 0. Free with
 * nb_module_free. */
nb_module *nb_rmsnorm_new(nb_ctx *ctx, int64_t dim, float eps, bool affine);
/* BatchNorm over the channels (dim 1) of [N, C, ...] inputs (torch's BatchNorm1d/2d/3d):
 * weight [C] (1) and bias [C] (0) trained; running_mean [C] (0) and running_var [C] (1) kept as
 * parameters that do not require grad (saved, loaded and moved with the module; optimisers
 * skip them), updated with `momentum` (torch: 0.1) in train mode and used in eval mode. */
nb_module *nb_batchnorm_new(nb_ctx *ctx, int64_t channels, float eps, float momentum);
/* Dropout with probability p in [0, 1) in train mode, drawing from the tree's rng. */
nb_module *nb_dropout_new(float p);
/* Channel dropout (torch's Dropout1d/2d/3d) with probability p in [0, 1) in train mode: whole
 * channels of [N, C, ...] inputs zeroed (nb_dropout_channels), drawing from the tree's rng. */
nb_module *nb_dropout_channels_new(float p);
/* GELU (the tanh approximation, as GPT-2) and ReLU activations. */
nb_module *nb_gelu_new(void);
nb_module *nb_relu_new(void);
/* The exact GELU: torch.nn.GELU()'s default (nb_gelu_erf); use it when porting torch code. */
nb_module *nb_gelu_erf_new(void);
/* SiLU, Sigmoid, Tanh and Identity (returns its input) activations. */
nb_module *nb_silu_new(void);
nb_module *nb_sigmoid_new(void);
nb_module *nb_tanh_new(void);
nb_module *nb_identity_new(void);
/* More activation modules, each its op (ops.h): SELU, ReLU6, Hardsigmoid, Hardswish, Mish,
 * Softsign; ELU(alpha) (torch's default 1.0), Hardtanh(lo, hi) (torch's default -1, 1),
 * Softmax and LogSoftmax over `dim`; NULL with an error for a bad setting. */
nb_module *nb_selu_new(void);
nb_module *nb_relu6_new(void);
nb_module *nb_hardsigmoid_new(void);
nb_module *nb_hardswish_new(void);
nb_module *nb_mish_new(void);
nb_module *nb_softsign_new(void);
nb_module *nb_elu_new(float alpha);
nb_module *nb_hardtanh_new(float lo, float hi);
nb_module *nb_softmax_new(int dim);
nb_module *nb_log_softmax_new(int dim);
/* Tanhshrink, LogSigmoid; CELU(alpha) (torch's default 1.0), Hardshrink and Softshrink(lambda)
 * (torch's default 0.5), Threshold(threshold, value): each its op; NULL with an error for a
 * setting the op refuses. The caller owns the module (nb_module_free). */
nb_module *nb_tanhshrink_new(void);
nb_module *nb_log_sigmoid_new(void);
nb_module *nb_celu_new(float alpha);
nb_module *nb_hardshrink_new(float lambd);
nb_module *nb_softshrink_new(float lambd);
nb_module *nb_threshold_new(float threshold, float value);
/* PReLU: parameter weight [n] (n = 1, or the channels) filled with init (torch's 0.25). */
nb_module *nb_prelu_new(nb_ctx *ctx, int64_t n, float init);
/* LeakyReLU with the given negative slope (torch's default is 0.01); NULL for a NaN slope. */
nb_module *nb_leaky_relu_new(float slope);
/* Conv2d: weight [out, in/groups, kh, kw] and bias [out] (when bias) in ctx, both uniform in
 * +-1/sqrt(in/groups * kh * kw) as torch's; forward nb_conv2d with a copy of opts (NULL: the
 * defaults). NULL with an error for a non-positive size or groups that do not divide in and out. */
nb_module *nb_conv2d_new(nb_ctx *ctx, int64_t in, int64_t out, int kh, int kw, const nb_conv_opts *opts,
                         bool bias, nb_rng *rng);
/* Conv3d: weight [out, in/groups, k[0], k[1], k[2]] (depth, height, width), bias [out], as
 * nb_conv2d_new; forward nb_conv3d. NULL with an error for bad sizes or options. */
nb_module *nb_conv3d_new(nb_ctx *ctx, int64_t in, int64_t out, const int k[3], const nb_conv_opts *opts,
                         bool bias, nb_rng *rng);
/* ConvTranspose3d: weight [in, out/groups, k[0], k[1], k[2]], bias [out]; forward
 * nb_conv_transpose3d (opts.output_padding allowed). */
nb_module *nb_conv_transpose3d_new(nb_ctx *ctx, int64_t in, int64_t out, const int k[3],
                                   const nb_conv_opts *opts, bool bias, nb_rng *rng);
/* Pooling layers over k[0] x k[1] x k[2] windows of [N,C,D,H,W] (nb_max_pool3d, nb_avg_pool3d); no
 * parameters. NULL with an error for a bad window or options. */
nb_module *nb_max_pool3d_new(const int k[3], const nb_conv_opts *opts);
nb_module *nb_avg_pool3d_new(const int k[3], const nb_conv_opts *opts);
/* Conv1d: weight [out, in/groups, k], as nb_conv2d_new (opts' [0] entries apply to the length). */
nb_module *nb_conv1d_new(nb_ctx *ctx, int64_t in, int64_t out, int k, const nb_conv_opts *opts, bool bias,
                         nb_rng *rng);
/* ConvTranspose2d / ConvTranspose1d (nb_conv_transpose2d, 1d): weight [in, out/groups, kh, kw]
 * ([in, out/groups, k]) and bias [out], uniform in +-1/sqrt(out/groups * window) as torch's.
 * opts->output_padding picks among the output sizes a strided layer can give (U-Nets,
 * decoders). NULL with an error for bad sizes or a non-zero padding mode. */
nb_module *nb_conv_transpose2d_new(nb_ctx *ctx, int64_t in, int64_t out, int kh, int kw,
                                   const nb_conv_opts *opts, bool bias, nb_rng *rng);
nb_module *nb_conv_transpose1d_new(nb_ctx *ctx, int64_t in, int64_t out, int k, const nb_conv_opts *opts,
                                   bool bias, nb_rng *rng);
/* Pooling layers over kh x kw windows (nb_max_pool2d, nb_avg_pool2d); no parameters. */
nb_module *nb_max_pool2d_new(int kh, int kw, const nb_conv_opts *opts);
nb_module *nb_avg_pool2d_new(int kh, int kw, const nb_conv_opts *opts);
/* 1-d pooling layers over [N,C,L] (nb_max_pool1d, nb_avg_pool1d, nb_adaptive_avg_pool1d). */
nb_module *nb_max_pool1d_new(int k, const nb_conv_opts *opts);
nb_module *nb_avg_pool1d_new(int k, const nb_conv_opts *opts);
nb_module *nb_adaptive_avg_pool1d_new(int ol);
/* Upsample by whole factors (torch.nn.Upsample with an integer scale_factor): [N,C,H,W] ->
 * [N,C,H*sh,W*sw] ([N,C,L] -> [N,C,L*sh]) through nb_interpolate; no parameters. */
nb_module *nb_upsample_new(int sh, int sw, nb_interp_mode mode, bool align_corners);
/* PixelShuffle / PixelUnshuffle by a factor r (nb_pixel_shuffle, nb_pixel_unshuffle). */
nb_module *nb_pixel_shuffle_new(int r);
nb_module *nb_pixel_unshuffle_new(int r);
/* AdaptiveAvgPool2d to oh x ow (nb_adaptive_avg_pool2d); (1, 1) is global average pooling. */
nb_module *nb_adaptive_avg_pool2d_new(int oh, int ow);
/* AdaptiveMaxPool2d / 1d (nb_adaptive_max_pool2d / 1d, without the indices). */
nb_module *nb_adaptive_max_pool2d_new(int oh, int ow);
nb_module *nb_adaptive_max_pool1d_new(int ol);
/* Options of the recurrent layers (torch's nn.RNN / LSTM / GRU arguments); zero fields are torch's
 * defaults, a NULL pointer all of them. */
typedef struct nb_rnn_opts {
    int num_layers;     /* stacked layers (0: 1) */
    bool no_bias;       /* torch's bias=False: no bias_ih / bias_hh */
    bool batch_first;   /* input [N,T,in] and output [N,T,D*H] instead of [T,N,...] */
    bool bidirectional; /* a second pass from the last step back, its outputs beside the first's */
    bool relu;          /* nb_rnn_new only: ReLU instead of tanh (torch's nonlinearity) */
    float dropout;      /* on each layer's outputs but the last's, in train mode */
    int64_t proj_size;  /* nb_lstm_new only: h projected to this width by weight_hr_l{k} [proj, hidden]
                         * (torch's proj_size; h0, h_n and the outputs are proj_size wide) */
} nb_rnn_opts;
/* Recurrent layers: weight_ih_l{k}[_reverse] [G*hidden, in (k > 0: D*hidden)], weight_hh_l{k}
 * [G*hidden, hidden], bias_ih_l{k} and bias_hh_l{k} [G*hidden], all uniform in
 * +-1/sqrt(hidden) as torch (G = 1 for RNN, 4 for LSTM, 3 for GRU; gates as nb_lstm_cell).
 * nb_module_forward gives the outputs from zero states; nb_rnn_run the states too. NULL with an
 * error for a non-positive size or a dropout outside [0, 1). */
nb_module *nb_rnn_new(nb_ctx *ctx, int64_t in, int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng);
nb_module *nb_lstm_new(nb_ctx *ctx, int64_t in, int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng);
nb_module *nb_gru_new(nb_ctx *ctx, int64_t in, int64_t hidden, const nb_rnn_opts *opts, nb_rng *rng);
/* Runs an RNN, LSTM or GRU module m over x [T,N,in] ([N,T,in] batch_first; unbatched [T,in]) from
 * the states h0 (and, LSTM only, c0) [layers*directions, N, hidden] (NULL: zeros). Returns the
 * last layer's outputs [T,N,D*hidden] (both directions side by side); the last states go to
 * *h_n and *c_n when those are not NULL (*c_n NULL but for an LSTM). All in the current context;
 * NULL with an error for a shape that does not fit or a module of another type. */
nb_tensor *nb_rnn_run(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor *c0, nb_tensor **h_n,
                      nb_tensor **c_n);
/* nb_rnn_run over padded sequences of different lengths (torch's pack_padded_sequence, then
 * pad_packed_sequence): lengths (i32 [N], each in [1, T]; unbatched: [1]) ends each sequence; the
 * steps after it output 0 and leave its states as they are, so h_n / c_n hold each sequence's
 * state at its last step and the reverse direction starts there. lengths NULL: nb_rnn_run. */
nb_tensor *nb_rnn_run_lengths(nb_module *m, nb_tensor *x, const nb_tensor *lengths, nb_tensor *h0,
                              nb_tensor *c0, nb_tensor **h_n, nb_tensor **c_n);
/* MultiheadAttention, as torch's: in_proj_weight [3*dim, dim] (xavier uniform), in_proj_bias
 * [3*dim] (0), out_proj (a Linear: weight uniform in +-1/sqrt(dim), bias 0); `bias` false drops
 * both biases. dropout applies to the attention probabilities in train mode. batch_first reads
 * [N, L, dim] instead of torch's default [L, N, dim]. nb_module_forward is self-attention. NULL
 * with an error when heads does not divide dim. */
nb_module *nb_multihead_attention_new(nb_ctx *ctx, int64_t dim, int heads, float dropout, bool bias,
                                      bool batch_first, nb_rng *rng);
/* torch's further MultiheadAttention arguments; zero fields are its defaults. */
typedef struct nb_mha_opts {
    int64_t kdim, vdim;    /* key and value widths (0: dim); either differing from dim gives torch's
                            * q_proj_weight [dim,dim], k_proj_weight [dim,kdim], v_proj_weight [dim,vdim] */
    bool add_bias_kv;      /* bias_k, bias_v [1,1,dim] (xavier normal) appended to every key/value sequence */
    bool add_zero_attn;    /* a zero key and value appended after the projections */
    bool per_head_weights; /* nb_mha_run's weights per head, [N, heads, L, S] (torch's
                            * average_attn_weights=False), instead of their mean [N, L, S] */
} nb_mha_opts;
/* nb_multihead_attention_new with those arguments (opts NULL: the defaults). */
nb_module *nb_multihead_attention_new_ex(nb_ctx *ctx, int64_t dim, int heads, float dropout, bool bias,
                                         bool batch_first, const nb_mha_opts *opts, nb_rng *rng);
/* Runs a MultiheadAttention module: query [L, N, dim] attends to key [S, N, kdim] and value [S, N, vdim]
 * ([N, ...] batch_first; unbatched [L, dim]). attn_mask (f32, [L, S] or [N*heads, L, S]) is added
 * to the scores (0 keeps, -inf drops); key_padding_mask [N, S] drops the keys where it is
 * non-zero when it is i32 (torch's bool True) and is added to the scores when f32 (as torch 1.13); causal
 * drops the keys after each query. The head-averaged probabilities [N, L, S] go to *weights when it is not
 * NULL (torch's need_weights). Returns [L, N, dim] in the current context; NULL with an error for shapes that
 * do not fit. */
nb_tensor *nb_mha_run(nb_module *m, nb_tensor *query, nb_tensor *key, nb_tensor *value, nb_tensor *attn_mask,
                      nb_tensor *key_padding_mask, bool causal, nb_tensor **weights);
/* Options of the Transformer layers; zero fields are torch's defaults, NULL all of them. */
typedef struct nb_transformer_opts {
    bool gelu;        /* activation: exact GELU (torch's activation="gelu"); else ReLU */
    bool norm_first;  /* LayerNorm before each block (pre-LN); else after the residual add */
    bool batch_first; /* [N, L, dim] instead of [L, N, dim] */
    float eps;        /* the LayerNorms' eps; 0: 1e-5 */
} nb_transformer_opts;
/* torch's nn.TransformerEncoderLayer: children self_attn (MultiheadAttention), linear1 [ff, dim],
 * dropout, linear2 [dim, ff], norm1, norm2, dropout1, dropout2, with torch's initialisation;
 * nb_module_forward runs it unmasked. NULL with an error when heads does not divide dim. */
nb_module *nb_transformer_encoder_layer_new(nb_ctx *ctx, int64_t dim, int heads, int64_t ff, float dropout,
                                            const nb_transformer_opts *opts, nb_rng *rng);
/* torch's nn.TransformerDecoderLayer: self_attn, multihead_attn (over the memory), linear1,
 * dropout, linear2, norm1..3, dropout1..3. Run it with nb_decoder_layer_run. */
nb_module *nb_transformer_decoder_layer_new(nb_ctx *ctx, int64_t dim, int heads, int64_t ff, float dropout,
                                            const nb_transformer_opts *opts, nb_rng *rng);
/* One encoder layer over src [L, N, dim] ([N, L, dim] batch_first; unbatched [L, dim]) with the
 * masks of nb_mha_run. The output has src's shape, in the current context; NULL with an error. */
nb_tensor *nb_encoder_layer_run(nb_module *m, nb_tensor *src, nb_tensor *mask, nb_tensor *key_padding_mask,
                                bool causal);
/* One decoder layer: tgt [T, N, dim] attends to itself (tgt_mask, tgt_key_padding_mask,
 * tgt_causal: a generating decoder wants it true), then to memory [S, N, dim] (memory_mask,
 * memory_key_padding_mask). tgt's shape, in the current context; NULL with an error. */
nb_tensor *nb_decoder_layer_run(nb_module *m, nb_tensor *tgt, nb_tensor *memory, nb_tensor *tgt_mask,
                                nb_tensor *memory_mask, nb_tensor *tgt_key_padding_mask,
                                nb_tensor *memory_key_padding_mask, bool tgt_causal);
/* GroupNorm: weight [C] (1) and bias [C] (0), nb_group_norm over `groups` groups. */
nb_module *nb_groupnorm_new(nb_ctx *ctx, int64_t groups, int64_t channels, float eps);
/* InstanceNorm1d/2d/3d (torch's, without running statistics): nb_instance_norm over [N, C, ...];
 * weight [C] (1) and bias [C] (0) when affine (torch's default is not affine). NULL with a
 * message for channels < 1 or eps < 0. Free with nb_module_free. */
nb_module *nb_instancenorm_new(nb_ctx *ctx, int64_t channels, float eps, bool affine);
/* Flatten: [N, ...] -> [N, the product of the rest], e.g. between convolutions and a Linear. */
nb_module *nb_flatten_new(void);
/* Unflatten: dim split into the n sizes given (one may be -1, inferred), as torch.nn.Unflatten;
 * the forward refuses a dim whose size the sizes do not multiply to. */
nb_module *nb_unflatten_new(int dim, int n, const int64_t *sizes);
/* Padding as torch's ConstantPadNd / ZeroPadNd (NB_PAD_ZEROS with `value`), ReflectionPadNd,
 * ReplicationPadNd and CircularPadNd: pad[] pairs from the last dim backwards, as nb_pad. */
nb_module *nb_pad_new(int npad, const int64_t *pad, nb_pad_kind mode, double value);
/* Unfold and Fold (torch.nn.Unfold / Fold): nb_unfold / nb_fold with the settings given (opts
 * NULL: stride 1, no padding, dilation 1). */
nb_module *nb_unfold_new(const int kernel[2], const nb_conv_opts *opts);
nb_module *nb_fold_new(const int64_t out[2], const int kernel[2], const nb_conv_opts *opts);
/* Sequential: applies its children in order. ModuleList: holds children only. */
nb_module *nb_sequential_new(void);
nb_module *nb_module_list_new(void);
/* Appends child to a Sequential/ModuleList under the next index ("0", "1"...);
 * takes ownership of child (freed on error). 0/-1. */
int nb_sequential_append(nb_module *seq, nb_module *child);
/* Feed-forward MLP: fc (Linear dim->hidden), act (GELU), proj (Linear
 * hidden->dim, residual), drop (Dropout p). */
nb_module *nb_mlp_new(nb_ctx *ctx, int64_t dim, int64_t hidden, float dropout, nb_rng *rng);
/* Multi-head causal self-attention on [B,T,C]: qkv (Linear C->3C), the fused
 * nb_attention_qkv on its [B,T,3C] output, proj (Linear C->C, residual), drop. */
nb_module *nb_causal_self_attention_new(nb_ctx *ctx, int64_t dim, int n_head, float dropout, nb_rng *rng);
/* One attention head, as in the classic tutorial: key/query/value (Linear
 * C->head_size, no bias), softmax(q k^T / sqrt(hs) + causal mask), drop, @ v. */
nb_module *nb_head_new(nb_ctx *ctx, int64_t dim, int64_t head_size, float dropout, nb_rng *rng);
/* Multi-head attention made of separate Heads: heads.i, concatenated, proj, drop. */
nb_module *nb_multi_head_new(nb_ctx *ctx, int64_t dim, int n_head, float dropout, nb_rng *rng);
/* A pre-LN GPT block: x + attn(ln1(x)), then + mlp(ln2(x)); mlp hidden = 4 dim. */
nb_module *nb_transformer_block_new(nb_ctx *ctx, int64_t dim, int n_head, float dropout, nb_rng *rng);

/* ======================================================================
 * Optimisers
 * ====================================================================== */

typedef enum {
    NB_OPTIM_SGD = 0,
    NB_OPTIM_ADAMW = 1,
    NB_OPTIM_ADAM = 2,
    NB_OPTIM_RMSPROP = 3,
    NB_OPTIM_ADAGRAD = 4
} nb_optim_kind;

/* A parameter group: its own weight decay and learning-rate multiplier. The state arrays hold
 * one tensor per parameter (in opt->ctx), or NULL entries where the optimiser keeps none. */
typedef struct nb_param_group {
    int n;
    char **names;       /* owned copies */
    nb_tensor **params; /* not owned */
    nb_tensor **m;      /* first moment (Adam, AdamW), momentum buffer (SGD, RMSprop with momentum) */
    nb_tensor **v;      /* second moment (Adam, AdamW), square average (RMSprop), sum of squares (Adagrad) */
    nb_tensor **s; /* the running maximum of v (Adam with amsgrad), the mean gradient (centered RMSprop) */
    float weight_decay;
    float lr_scale; /* the group's lr is opt->lr * lr_scale */
} nb_param_group;

typedef struct nb_optim {
    nb_optim_kind kind;
    float lr, beta1, beta2, eps;         /* Adam, AdamW (eps also RMSprop's and Adagrad's) */
    float momentum, dampening;           /* SGD (momentum also RMSprop's) */
    bool nesterov;                       /* SGD */
    bool amsgrad;                        /* Adam */
    float alpha;                         /* RMSprop's smoothing constant */
    bool centered;                       /* RMSprop */
    float lr_decay, initial_accumulator; /* Adagrad */
    int64_t step;                        /* steps taken so far */
    nb_ctx *ctx;                         /* holds the state tensors */
    int n_groups;
    nb_param_group *groups;
    struct nb_clip_scratch *scratch; /* internal: clip_grad_norm's contexts for GPU gradients */
    nb_ctx *tmp;                     /* internal: the composed update rules' temporaries */
} nb_optim;

/* AdamW as PyTorch defines it (decoupled decay, bias correction). Add
 * parameters with nb_optim_add_group/_module. NULL with a message for invalid
 * betas or eps. The caller owns it: free with nb_optim_free. */
nb_optim *nb_adamw_new(nb_ctx *ctx, float lr, float beta1, float beta2, float eps);
/* SGD with momentum/dampening/Nesterov and (coupled) weight decay, as PyTorch. NULL with a
 * message for an invalid combination. The caller owns it: free with nb_optim_free. */
nb_optim *nb_sgd_new(nb_ctx *ctx, float lr, float momentum, float dampening, bool nesterov);
/* Adam as PyTorch's torch.optim.Adam: the group's weight decay is added to the gradient (L2,
 * coupled; AdamW decouples it), bias correction, and with amsgrad the running maximum of the
 * second moment in the denominator. NULL with a message for invalid betas or eps. The caller
 * owns it: free with nb_optim_free. */
nb_optim *nb_adam_new(nb_ctx *ctx, float lr, float beta1, float beta2, float eps, bool amsgrad);
/* RMSprop as PyTorch's: v = alpha v + (1 - alpha) g^2, the step g / (sqrt(v) + eps), with
 * `centered` sqrt(v - mean(g)^2) instead, with momentum through a buffer; coupled weight decay.
 * NULL with a message for invalid values. The caller owns it: free with nb_optim_free. */
nb_optim *nb_rmsprop_new(nb_ctx *ctx, float lr, float alpha, float eps, float momentum, bool centered);
/* Adagrad as PyTorch's: the sum of squared gradients (from initial_accumulator), the step
 * g / (sqrt(sum) + eps) at lr / (1 + (step - 1) lr_decay); coupled weight decay. NULL with a
 * message for invalid values. The caller owns it: free with nb_optim_free. */
nb_optim *nb_adagrad_new(nb_ctx *ctx, float lr, float lr_decay, float eps, float initial_accumulator);
/* Adds a group of n parameters (names may be NULL) with its weight decay and
 * lr multiplier; allocates their zeroed state. A tensor already in another
 * group is an error. Returns the group index, -1 on error. */
int nb_optim_add_group(nb_optim *o, int n, const char *const *names, nb_tensor *const *params,
                       float weight_decay, float lr_scale);
/* Adds m's trainable parameters as two groups, as GPT-2/nanoGPT does: tensors
 * with >= 2 dims (matmul weights, embeddings) get `weight_decay`; biases and
 * LayerNorm weights get none. 0/-1. */
int nb_optim_add_module(nb_optim *o, nb_module *m, float weight_decay);
/* One step on every parameter that requires grad and has a gradient. 0/-1. A module's
 * parameters always have one (zeroed, not absent as PyTorch's None), so a parameter the
 * loss did not use is still stepped: weight decay shrinks it. Freeze it with
 * nb_requires_grad_(t, false) to leave it alone. */
int nb_optim_step(nb_optim *o);
/* Zeroes every gradient of o's parameters. */
void nb_optim_zero_grad(nb_optim *o);
/* Sets the base learning rate (groups scale it by lr_scale). */
void nb_optim_set_lr(nb_optim *o, float lr);
/* Moves the optimiser state to `dev` in place. 0/-1. */
int nb_optim_to(nb_optim *o, nb_device dev);
/* The name of state slot `slot` (0: m, 1: v, 2: s) as checkpoints store it ("m", "momentum",
 * "square_avg", ...), or NULL when o keeps nothing there. Not owned. */
const char *nb_optim_slot_name(const nb_optim *o, int slot);
/* The optimiser's name as checkpoints store it ("sgd", "adamw", "adam", "rmsprop", "adagrad"). */
const char *nb_optim_kind_name(nb_optim_kind kind);
/* Bytes of optimiser state (the moments); 0 for a NULL optimiser. */
size_t nb_optim_state_bytes(const nb_optim *o);
/* Frees the optimiser (its state tensors live in its context). NULL-safe. */
void nb_optim_free(nb_optim *o);

/* Clips the gradients of n parameters by their global L2 norm as PyTorch's
 * clip_grad_norm_ (scale max_norm / (norm + 1e-6) when norm > max_norm; max_norm 0 zeroes
 * them). Returns the norm before clipping, or -1 on error (a negative or NaN max_norm). When a
 * gradient holds inf or NaN the norm is inf or NaN and nothing is scaled (PyTorch would scale
 * by 0 or NaN): check the result before stepping. */
double nb_clip_grad_norm(nb_tensor *const *params, int n, double max_norm);
/* The same over every parameter of an optimiser. */
double nb_optim_clip_grad_norm(nb_optim *o, double max_norm);
/* Clamps every gradient of n parameters to [-clip_value, clip_value] in place (torch's
 * clip_grad_value_; a NaN stays NaN). 0, or -1 with an error for a negative or non-finite
 * clip_value. */
int nb_clip_grad_value(nb_tensor *const *params, int n, double clip_value);
/* The same over every parameter of an optimiser. */
int nb_optim_clip_grad_value(nb_optim *o, double clip_value);

/* ======================================================================
 * Learning-rate schedules
 * ====================================================================== */

typedef enum {
    NB_LR_CONSTANT = 0,
    NB_LR_WARMUP_COSINE = 1,
    NB_LR_WARMUP_LINEAR = 2,
    NB_LR_STEP = 3,
    NB_LR_EXPONENTIAL = 4,
    NB_LR_MULTISTEP = 5,
    NB_LR_ONE_CYCLE = 6,
    NB_LR_COSINE_RESTARTS = 7
} nb_lr_kind;

enum { NB_LR_MAX_MILESTONES = 16 };

typedef struct nb_lr_schedule {
    nb_lr_kind kind;
    float lr;          /* peak / constant / initial learning rate (one-cycle: max_lr) */
    float min_lr;      /* floor of the cosine or linear decay (restarts: eta_min) */
    int64_t warmup;    /* steps of linear warm-up */
    int64_t total;     /* step at which the decay reaches min_lr (one-cycle: total_steps) */
    float gamma;       /* the factor of the step, multi-step and exponential decays */
    int64_t step_size; /* steps between two step decays (restarts: the first period T_0) */
    int n_milestones;  /* multi-step: the steps at which the rate is multiplied by gamma */
    int64_t milestones[NB_LR_MAX_MILESTONES];
    float pct_start, div_factor, final_div_factor; /* one-cycle */
    bool three_phase, anneal_linear;               /* one-cycle */
    int64_t t_mult;                                /* restarts: each period's factor over the last */
} nb_lr_schedule;

/* A constant schedule (a value: nothing to free). Arguments are checked by nb_lr_at, which
 * gives NAN with an error for an invalid schedule. */
nb_lr_schedule nb_lr_constant(float lr);
/* Linear warm-up lr*(step+1)/warmup for step < warmup, then cosine decay from
 * lr to min_lr at step `total`, then min_lr. Checked by nb_lr_at, as nb_lr_constant. */
nb_lr_schedule nb_lr_warmup_cosine(float lr, float min_lr, int64_t warmup, int64_t total);
/* Linear warm-up as nb_lr_warmup_cosine (lr (step + 1) / warmup, so the peak comes one step
 * before transformers' get_linear_schedule_with_warmup, whose warm-up is lr step / warmup),
 * then a straight line from lr to min_lr at `total`. */
nb_lr_schedule nb_lr_warmup_linear(float lr, float min_lr, int64_t warmup, int64_t total);
/* torch's StepLR: lr gamma^(step / step_size) (integer division); any finite gamma >= 0. */
nb_lr_schedule nb_lr_step(float lr, int64_t step_size, float gamma);
/* torch's ExponentialLR: lr gamma^step. */
nb_lr_schedule nb_lr_exponential(float lr, float gamma);
/* torch's MultiStepLR: lr gamma^(the number of milestones <= step); up to NB_LR_MAX_MILESTONES
 * milestones, increasing (checked by nb_lr_at). */
nb_lr_schedule nb_lr_multistep(float lr, int n, const int64_t *milestones, float gamma);
/* torch's OneCycleLR over total_steps: from max_lr / div_factor up to max_lr over the first
 * pct_start of the steps, then down to max_lr / div_factor / final_div_factor (three_phase:
 * back to the start, then down), cosine or (anneal_linear) straight; torch's defaults are
 * pct_start 0.3, div_factor 25, final_div_factor 1e4. A step past total_steps is an error. */
nb_lr_schedule nb_lr_one_cycle(float max_lr, int64_t total_steps, float pct_start, float div_factor,
                               float final_div_factor, bool three_phase, bool anneal_linear);
/* torch's CosineAnnealingWarmRestarts: cosine from lr to eta_min over periods of t_0 steps, each
 * period t_mult (an integer >= 1) times the last, restarting at lr. */
nb_lr_schedule nb_lr_cosine_restarts(float lr, float eta_min, int64_t t_0, int64_t t_mult);
/* The learning rate at 0-based `step`; NAN for an invalid schedule (message set). */
float nb_lr_at(const nb_lr_schedule *s, int64_t step);

/* torch's ReduceLROnPlateau: the rate is multiplied by factor (to no less than min_lr) once the
 * metric has not improved by more than threshold (relative: best (1 -+ threshold)) for more
 * than patience calls, then rests for cooldown calls. A value with its state: make it with
 * nb_plateau_new (torch's defaults: factor 0.1, patience 10, threshold 1e-4, cooldown 0, min_lr
 * 0), then call nb_plateau_step once per evaluation. Nothing to free. */
typedef struct nb_plateau {
    float lr, factor, threshold, min_lr;
    bool maximize; /* mode 'max': larger metrics are better */
    int patience, cooldown;
    double best;
    int bad, cooldown_left;
    int64_t calls;
} nb_plateau;
nb_plateau nb_plateau_new(float lr, bool maximize, float factor, int patience, float threshold, int cooldown,
                          float min_lr);
/* Records one metric and returns the learning rate to use from now on; NAN with an error for an
 * invalid plateau (factor outside [0, 1), negative patience or cooldown) or a NaN metric. */
float nb_plateau_step(nb_plateau *p, double metric);

/* ======================================================================
 * safetensors files
 * ====================================================================== */

typedef struct nb_safetensors nb_safetensors;

/* Writes n tensors (any device/strides; f32/i32/f16/bf16) with their names and
 * n_meta string metadata pairs as a safetensors file, atomically (temp file in
 * the same folder, fsync, rename, fsync folder). 0/-1; on error the previous
 * file at `path` is untouched. */
int nb_safetensors_save(const char *path, const char *const *names, nb_tensor *const *tensors, int n,
                        const char *const *meta_keys, const char *const *meta_vals, int n_meta);
/* Opens and validates a file (read into memory). NULL with a message naming
 * the file and the problem. Close with nb_safetensors_close. Tensors stored as F32, I32, F16,
 * BF16, and torch's defaults I64 and F64, which are read as i32 (each value must fit: an error
 * naming the first that does not) and f32 (rounded). */
nb_safetensors *nb_safetensors_open(const char *path);
/* Validates an in-memory file image; `buf` is copied. `what` names it in messages. NULL with
 * a message when invalid. Close with nb_safetensors_close. */
nb_safetensors *nb_safetensors_open_memory(const void *buf, size_t len, const char *what);
/* Frees an opened file. NULL-safe. */
void nb_safetensors_close(nb_safetensors *f);
/* Number of tensors in the file (0 for NULL). */
int nb_safetensors_count(const nb_safetensors *f);
/* Name of tensor i (in file order of data offsets), or NULL. Owned by f. */
const char *nb_safetensors_name(const nb_safetensors *f, int i);
/* Index of tensor `name`, or -1 (no message). */
int nb_safetensors_find(const nb_safetensors *f, const char *name);
/* dtype (as read: I64 gives i32, F64 f32), ndim and shape (NB_MAX_DIMS entries) of tensor i. 0/-1. */
int nb_safetensors_info(const nb_safetensors *f, int i, nb_dtype *dt, int *ndim, int64_t *shape);
/* A new CPU tensor in ctx holding tensor `name`. NULL with message. */
nb_tensor *nb_safetensors_read(const nb_safetensors *f, nb_ctx *ctx, const char *name);
/* Copies tensor `name` into dst (any device, any layout) after checking its shape. The dtypes
 * must match, except among f32, f16 and bf16, which convert (as PyTorch's load_state_dict
 * does): an f16 file loads into an f32 model. 0, or -1 with a message. */
int nb_safetensors_read_into(const nb_safetensors *f, const char *name, nb_tensor *dst);
/* Metadata value for `key`, or NULL. Owned by f. */
const char *nb_safetensors_meta(const nb_safetensors *f, const char *key);
/* Number of metadata entries (0 for NULL), and entry i's key/value (NULL when out of range;
 * owned by f). */
int nb_safetensors_meta_count(const nb_safetensors *f);
const char *nb_safetensors_meta_key(const nb_safetensors *f, int i);
const char *nb_safetensors_meta_value(const nb_safetensors *f, int i);

/* ---- Module / training checkpoints ------------------------------------- */

/* Saves m's parameters (each shared tensor once, under its first name) with
 * optional metadata pairs. 0/-1. */
int nb_module_save(nb_module *m, const char *path, const char *const *meta_keys, const char *const *meta_vals,
                   int n_meta);
/* Loads m's parameters from a file (torch's BatchNorm num_batches_tracked entries are ignored),
 * checking every name, dtype and shape first; reports every mismatch (missing, unexpected,
 * wrong shape/dtype) in
 * one message and changes nothing then. 0/-1. */
int nb_module_load(nb_module *m, const char *path);

/* Saves a training checkpoint: parameters, optimiser state (optim.<name>.m /
 * .v, or .momentum for SGD), and in metadata the step, the optimiser's
 * hyper-parameters, the module tree's and the global RNG states, `config`
 * (any string, e.g. the model's JSON configuration; may be NULL) and n_extra
 * extra key/value pairs. Atomic. 0/-1. */
int nb_checkpoint_save(const char *path, nb_module *m, const nb_optim *opt, int64_t step, const char *config,
                       const char *const *extra_keys, const char *const *extra_vals, int n_extra);
/* Restores what nb_checkpoint_save wrote into m and opt (opt may be NULL),
 * checking every name/dtype/shape before changing anything; sets *step
 * (may be NULL) and both RNG states. 0/-1. */
int nb_checkpoint_load(const char *path, nb_module *m, nb_optim *opt, int64_t *step);

/* ======================================================================
 * Model summary
 * ====================================================================== */

/* Prints a torchinfo-style table of m to f: one row per module (name, type,
 * output shape for an input of `dtype` and shape, parameter count), then the
 * totals (total / trainable / non-trainable, shared counted once) and the MB
 * taken by parameters, gradients and AdamW state. The forward runs under
 * no-grad in eval mode (each module's mode is put back after, so BatchNorm's running statistics
 * and every generator are left as they were) in a scratch context on the device of m's
 * parameters (i32 inputs are zeros, f32 inputs ones). 0, or -1 with an error. */
int nb_module_summary(nb_module *m, nb_dtype dtype, int ndim, const int64_t *shape, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
