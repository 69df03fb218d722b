/* backends/registry.c - finding the backend for a device. */
#include "backends/backend.h"

#ifdef NB_WITH_CUDA
const nb_backend *nb_cuda_backend_get(void); /* backends/cuda: NULL + message when unavailable */
#endif

const nb_backend *nb_backend_get(nb_device dev) {
    switch (dev) {
    case NB_CPU: return &nb_cpu_backend;
    case NB_CUDA:
#ifdef NB_WITH_CUDA
        return nb_cuda_backend_get();
#else
        nb_set_error("cuda: this build of nabla has no CUDA backend (rebuild with the CUDA toolkit "
                     "under /usr/local/cuda, or CUDA_HOME)");
        return NULL;
#endif
    default: nb_set_error("backend: unknown device %d", (int)dev); return NULL;
    }
}
