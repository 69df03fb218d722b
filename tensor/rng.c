/* tensor/rng.c - Philox4x32-10, the counter-based generator behind every
 * random number in nabla (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011). Value i of a draw uses counter (offset + i/4), lane i%4,
 * so results do not depend on threads or on the backend. */
#include "nabla/core.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void nb_philox(uint64_t seed, uint64_t ctr, uint32_t out[4]) {
    if (!out) return;
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0, k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void nb_rng_init(nb_rng *r, uint64_t seed) {
    if (!r) return;
    r->seed = seed;
    r->offset = 0;
}

static nb_rng nb_global_rng = {0x853c49e6748fea9bULL, 0};

nb_rng *nb_rng_global(void) { return &nb_global_rng; }

void nb_manual_seed(uint64_t seed) { nb_rng_init(&nb_global_rng, seed); }

float nb_rng_uniform(nb_rng *r) {
    if (!r) r = &nb_global_rng; /* as every op given a NULL generator */
    uint32_t o[4];
    nb_philox(r->seed, r->offset++, o);
    return (float)(o[0] >> 8) * (1.0f / 16777216.0f);
}
