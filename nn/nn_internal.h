/* nn/nn_internal.h - per-module configurations shared inside nn/ (internal). */
#ifndef NB_NN_INTERNAL_H
#define NB_NN_INTERNAL_H

#include "nabla/nn.h"
#include "tensor/internal.h"

typedef struct {
    int64_t in, out;
} nb_linear_cfg;

typedef struct {
    int64_t num, dim;
    int64_t padding_idx; /* when padded: the row whose gradient is always 0 */
    bool padded;
} nb_embedding_cfg;

typedef struct {
    int64_t dim;
    float eps;
} nb_layernorm_cfg;

typedef struct {
    float p;
} nb_dropout_cfg;

typedef struct {
    int64_t dim, head_size;
    int n_head;
} nb_attn_cfg;

/* Copies the current error message, then sets "<prefix>: <message>". */
void nb_nn_wrap_error(const char *prefix);
/* One step of Adam, RMSprop or Adagrad (nn/optim_rules.c) on parameter i of group g at the
 * group's learning rate lr: 0, or -1 with a message. */
int nb_optim_rule_step(nb_optim *o, nb_param_group *g, int i, float lr);

/* Moves t's data to dev keeping the handle (storage, device, strides replaced). 0/-1. */
int nb_nn_move_tensor(nb_tensor *t, nb_device dev);

/* Like nb_module_parameters but lists every registration (tied tensors under each name). */
int nb_nn_all_params(const nb_module *m, nb_param_list *out);

#endif
