/* TEMPORARY: being written; every kernel reports that it is not implemented yet. */
#include "backends/cpu/cpu.h"

int nb_cpu_matmul(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta) {
    (void)out; (void)a; (void)b; (void)beta;
    return nb_set_error("nb_cpu_matmul: not implemented yet"), -1;
}
