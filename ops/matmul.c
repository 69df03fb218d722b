/* TEMPORARY: being written; every function reports that it is not implemented yet. */
#include "ops/op_util.h"

nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b) {
    (void)a; (void)b;
    return nb_set_error("nb_matmul: not implemented yet");
}

nb_tensor *nb_linear(nb_tensor *x, nb_tensor *w, nb_tensor *b) {
    (void)x; (void)w; (void)b;
    return nb_set_error("nb_linear: not implemented yet");
}
