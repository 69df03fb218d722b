/* nabla.h - the public API of nabla, a small tensor library with reverse-mode
 * autograd, pluggable CPU and CUDA backends and an nn layer.
 *
 * Include this one header; it pulls in the parts:
 *   nabla/core.h      dtypes, devices, errors, contexts (arenas), threads, RNG
 *   nabla/tensor.h    tensors: creation, views, data access, printing
 *   nabla/ops.h       every op (elementwise, reductions, matmul, shape, nn)
 *   nabla/autograd.h  backward, no-grad scopes, gradcheck, DOT graphs, anomaly mode
 *   nabla/nn.h        modules, optimisers, schedules, checkpoints, summaries
 */
#ifndef NABLA_H
#define NABLA_H

#include "nabla/core.h"
#include "nabla/tensor.h"
#include "nabla/ops.h"
#include "nabla/autograd.h"
#if __has_include("nabla/nn.h")
#include "nabla/nn.h"
#endif

#endif
