/* TEMPORARY: being written; every function reports that it is not implemented yet. */
#include "ops/op_util.h"

nb_tensor *nb_softmax(nb_tensor *a, int dim) {
    (void)a; (void)dim;
    return nb_set_error("nb_softmax: not implemented yet");
}

nb_tensor *nb_log_softmax(nb_tensor *a, int dim) {
    (void)a; (void)dim;
    return nb_set_error("nb_log_softmax: not implemented yet");
}

nb_tensor *nb_layer_norm(nb_tensor *x, nb_tensor *weight, nb_tensor *bias, float eps) {
    (void)x; (void)weight; (void)bias; (void)eps;
    return nb_set_error("nb_layer_norm: not implemented yet");
}

nb_tensor *nb_embedding(nb_tensor *weight, nb_tensor *idx) {
    (void)weight; (void)idx;
    return nb_set_error("nb_embedding: not implemented yet");
}

nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *targets, int ignore_index) {
    (void)logits; (void)targets; (void)ignore_index;
    return nb_set_error("nb_cross_entropy: not implemented yet");
}

nb_tensor *nb_dropout(nb_tensor *x, float p, bool training, nb_rng *rng) {
    (void)x; (void)p; (void)training; (void)rng;
    return nb_set_error("nb_dropout: not implemented yet");
}
