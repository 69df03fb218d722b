/* TEMPORARY: being written; every function reports that it is not implemented yet. */
#include "ops/op_util.h"

nb_tensor *nb_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v) {
    (void)q; (void)k; (void)v;
    return nb_set_error("nb_attention: not implemented yet");
}
