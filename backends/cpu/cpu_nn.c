/* TEMPORARY: being written; every kernel reports that it is not implemented yet. */
#include "backends/cpu/cpu.h"

int nb_cpu_softmax(nb_tensor *out, const nb_tensor *a, bool log) {
    (void)out; (void)a; (void)log;
    return nb_set_error("nb_cpu_softmax: not implemented yet"), -1;
}

int nb_cpu_softmax_backward(nb_tensor *gin, const nb_tensor *gout, const nb_tensor *y, bool log) {
    (void)gin; (void)gout; (void)y; (void)log;
    return nb_set_error("nb_cpu_softmax_backward: not implemented yet"), -1;
}

int nb_cpu_layer_norm(nb_tensor *y, nb_tensor *mean, nb_tensor *rstd, const nb_tensor *x, const nb_tensor *w, const nb_tensor *b, float eps) {
    (void)y; (void)mean; (void)rstd; (void)x; (void)w; (void)b; (void)eps;
    return nb_set_error("nb_cpu_layer_norm: not implemented yet"), -1;
}

int nb_cpu_layer_norm_backward(nb_tensor *dx, nb_tensor *dw, nb_tensor *db, const nb_tensor *dy, const nb_tensor *x, const nb_tensor *mean, const nb_tensor *rstd, const nb_tensor *w) {
    (void)dx; (void)dw; (void)db; (void)dy; (void)x; (void)mean; (void)rstd; (void)w;
    return nb_set_error("nb_cpu_layer_norm_backward: not implemented yet"), -1;
}

int nb_cpu_cross_entropy(nb_tensor *loss, nb_tensor *lse, const nb_tensor *logits, const nb_tensor *targets, int ignore_index) {
    (void)loss; (void)lse; (void)logits; (void)targets; (void)ignore_index;
    return nb_set_error("nb_cpu_cross_entropy: not implemented yet"), -1;
}

int nb_cpu_cross_entropy_backward(nb_tensor *dlogits, const nb_tensor *g, const nb_tensor *logits, const nb_tensor *targets, const nb_tensor *lse, int ignore_index) {
    (void)dlogits; (void)g; (void)logits; (void)targets; (void)lse; (void)ignore_index;
    return nb_set_error("nb_cpu_cross_entropy_backward: not implemented yet"), -1;
}

int nb_cpu_dropout(nb_tensor *out, const nb_tensor *x, float p, uint64_t seed, uint64_t offset) {
    (void)out; (void)x; (void)p; (void)seed; (void)offset;
    return nb_set_error("nb_cpu_dropout: not implemented yet"), -1;
}
