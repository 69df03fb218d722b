/* tests/nb_test_targets.h - random class targets for the cross-entropy tests (shared by
 * test_xent_fused.c and test_ops_linear_ce.c). Include after nb_check.h and nabla.h. */
#ifndef NB_TEST_TARGETS_H
#define NB_TEST_TARGETS_H

#include <stdint.h>
#include <stdlib.h>

/* Random i32 targets in [0, V) with every `every`-th one (from `first`) set to `ignore`; the
 * tensor is owned by ctx. */
static inline nb_tensor *nb_test_targets(nb_ctx *ctx, nb_rng *r, int nd, const int64_t *shape, int V,
                                         int ignore, int first, int every) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= shape[i];
    int32_t *t = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < n; i++) {
        t[i] = (int32_t)(nb_rng_uniform(r) * (float)V);
        if (t[i] >= V) t[i] = V - 1;
        if (every > 0 && i >= first && (i - first) % every == 0) t[i] = ignore;
    }
    nb_tensor *tt = nb_from_data(ctx, NB_I32, nd, shape, t);
    free(t);
    ck_assert_ptr_nonnull(tt);
    return tt;
}

#endif
