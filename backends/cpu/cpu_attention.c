/* TEMPORARY: being written; every kernel reports that it is not implemented yet. */
#include "backends/cpu/cpu.h"

int nb_cpu_attention(nb_tensor *out, nb_tensor *lse, const nb_tensor *q, const nb_tensor *k, const nb_tensor *v, float scale) {
    (void)out; (void)lse; (void)q; (void)k; (void)v; (void)scale;
    return nb_set_error("nb_cpu_attention: not implemented yet"), -1;
}

int nb_cpu_attention_backward(nb_tensor *dq, nb_tensor *dk, nb_tensor *dv, const nb_tensor *dout, const nb_tensor *q, const nb_tensor *k, const nb_tensor *v, const nb_tensor *out, const nb_tensor *lse, float scale) {
    (void)dq; (void)dk; (void)dv; (void)dout; (void)q; (void)k; (void)v; (void)out; (void)lse; (void)scale;
    return nb_set_error("nb_cpu_attention_backward: not implemented yet"), -1;
}
