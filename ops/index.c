/* TEMPORARY: being written; every function reports that it is not implemented yet. */
#include "ops/op_util.h"

nb_tensor *nb_cat(nb_tensor *const *ts, int n, int dim) {
    (void)ts; (void)n; (void)dim;
    return nb_set_error("nb_cat: not implemented yet");
}

int nb_split(nb_tensor *a, int dim, int n, const int64_t *sizes, nb_tensor **out) {
    (void)a; (void)dim; (void)n; (void)sizes; (void)out;
    return nb_set_error("nb_split: not implemented yet"), -1;
}

nb_tensor *nb_index_select(nb_tensor *a, int dim, nb_tensor *idx) {
    (void)a; (void)dim; (void)idx;
    return nb_set_error("nb_index_select: not implemented yet");
}

nb_tensor *nb_gather(nb_tensor *a, int dim, nb_tensor *idx) {
    (void)a; (void)dim; (void)idx;
    return nb_set_error("nb_gather: not implemented yet");
}

nb_tensor *nb_tril(nb_tensor *a, int64_t k) {
    (void)a; (void)k;
    return nb_set_error("nb_tril: not implemented yet");
}

nb_tensor *nb_tril_mask(nb_ctx *ctx, int64_t n) {
    (void)ctx; (void)n;
    return nb_set_error("nb_tril_mask: not implemented yet");
}

nb_tensor *nb_cast(nb_tensor *a, nb_dtype dt) {
    (void)a; (void)dt;
    return nb_set_error("nb_cast: not implemented yet");
}
