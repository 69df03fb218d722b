/* ops/loss_util.h - what the loss files share (internal): the argument checks and the
 * reduction, so that every loss refuses and reduces alike. */
#ifndef NB_LOSS_UTIL_H
#define NB_LOSS_UTIL_H

#include "nabla.h"

/* pred and target: f32, one shape, one device (PyTorch broadcasts them with a warning that the
 * result is probably wrong; here a mismatch is refused). 0, or -1 with an error under op. */
int nb_loss_check_pair(const char *op, const nb_tensor *pred, const nb_tensor *target);
/* mean, sum or none; -1 with an error for batchmean (kl_div's only) or an unknown value */
int nb_loss_check_reduction(const char *op, nb_reduction r);
/* the elementwise losses reduced as asked (their mean, their sum, or themselves), an inner
 * error reported under op */
nb_tensor *nb_loss_reduced(nb_tensor *each, nb_reduction r, const char *op);

#endif
