/* backends/cpu/cpu_optim.c - the fused AdamW update, one sweep over the
 * parameter, its gradient and both moments. */
#include <math.h>

#include "backends/cpu/cpu.h"

int nb_cpu_adamw(nb_tensor *p, const nb_tensor *g, nb_tensor *m, nb_tensor *v, float lr, float b1,
                 float b2, float eps, float wd, float bc1, float bc2) {
    int64_t n = nb_numel(p);
    float *P = (float *)nb_ptr(p), *M = (float *)nb_ptr(m), *V = (float *)nb_ptr(v);
    const float *G = (const float *)nb_ptr(g);
    const float step = lr / bc1, sbc2 = sqrtf(bc2), decay = 1.0f - lr * wd;
#pragma omp parallel for num_threads(nb_nthreads()) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float gi = G[i];
        float mi = b1 * M[i] + (1.0f - b1) * gi;
        float vi = b2 * V[i] + (1.0f - b2) * gi * gi;
        M[i] = mi;
        V[i] = vi;
        P[i] = P[i] * decay - step * mi / (sqrtf(vi) / sbc2 + eps);
    }
    return 0;
}
