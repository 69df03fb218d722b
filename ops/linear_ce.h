/* ops/linear_ce.h - tuning knob of nb_linear_cross_entropy (internal, for tests and benchmarks). */
#ifndef NB_OPS_LINEAR_CE_H
#define NB_OPS_LINEAR_CE_H

/* Forces the number of logit rows per chunk of nb_linear_cross_entropy (rows <= 0: back to the
 * default: equal chunks of at most about NB_LCE_CHUNK_BYTES of logits; the environment variable
 * NABLA_LCE_CHUNK, read at each call, overrides the default too). Returns the previous setting. */
int nb_linear_ce_set_chunk_rows(int rows);

/* The default size of the reused chunk of logits, in bytes. */
#define NB_LCE_CHUNK_BYTES ((int64_t)80 << 20)

#endif
