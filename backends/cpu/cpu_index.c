/* TEMPORARY: being written; every kernel reports that it is not implemented yet. */
#include "backends/cpu/cpu.h"

int nb_cpu_index_select(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx) {
    (void)out; (void)a; (void)dim; (void)idx;
    return nb_set_error("nb_cpu_index_select: not implemented yet"), -1;
}

int nb_cpu_index_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src) {
    (void)out; (void)dim; (void)idx; (void)src;
    return nb_set_error("nb_cpu_index_add: not implemented yet"), -1;
}

int nb_cpu_gather(nb_tensor *out, const nb_tensor *a, int dim, const nb_tensor *idx) {
    (void)out; (void)a; (void)dim; (void)idx;
    return nb_set_error("nb_cpu_gather: not implemented yet"), -1;
}

int nb_cpu_scatter_add(nb_tensor *out, int dim, const nb_tensor *idx, const nb_tensor *src) {
    (void)out; (void)dim; (void)idx; (void)src;
    return nb_set_error("nb_cpu_scatter_add: not implemented yet"), -1;
}

int nb_cpu_tril(nb_tensor *out, const nb_tensor *a, int64_t k) {
    (void)out; (void)a; (void)k;
    return nb_set_error("nb_cpu_tril: not implemented yet"), -1;
}
