/* ops/rnn.h - the recurrent cells' steps from a precomputed input projection (internal): gi is
 * x @ w_ih^T + b_ih, so a sequence projects all its steps in one matmul (nn/rnn.c). Each returns
 * the new hidden state (nb_lstm_step also the new cell state in *c_out), or NULL. */
#ifndef NB_OPS_RNN_H
#define NB_OPS_RNN_H

#include "nabla/ops.h"

nb_tensor *nb_lstm_step(nb_tensor *gi, nb_tensor *h, nb_tensor *c, nb_tensor *w_hh, nb_tensor *b_hh,
                        nb_tensor **c_out);
nb_tensor *nb_gru_step(nb_tensor *gi, nb_tensor *h, nb_tensor *w_hh, nb_tensor *b_hh);
nb_tensor *nb_rnn_step(nb_tensor *gi, nb_tensor *h, nb_tensor *w_hh, nb_tensor *b_hh, bool relu);

#endif
