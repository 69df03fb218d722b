/* tools/cuda_precompile.c - fills the CUDA kernel disk cache for a GPU architecture without a GPU:
 * every kernel module the library holds is compiled by NVRTC (cubin for sm_ARCH, as the backend
 * asks for on a GPU of that compute capability) into $NABLA_CUDA_CACHE, under the same names the
 * backend looks up (source, options, architecture and NVRTC version in the key). bench/gpu-prepare.sh
 * uses it so that a lent GPU machine with the same NVRTC starts with warm kernels; with another
 * NVRTC version the names simply do not match and the kernels are compiled there as usual.
 *
 * build (from the repository root, after make):
 *   cc -std=c11 -D_GNU_SOURCE -DNB_WITH_CUDA=1 -I. -Iinclude -I/usr/local/cuda/include \
 *      tools/cuda_precompile.c build/libnabla.a -fopenmp -lm -ldl -lpthread -o build/cuda_precompile
 * usage: NABLA_CUDA_CACHE=DIR build/cuda_precompile [ARCH ...]   (default 90: H100 and H200) */
#include <stdio.h>
#include <stdlib.h>

#include "backends/cuda/cuda_internal.h"
#include "nabla.h"

int main(int argc, char **argv) {
    const char *dir = getenv("NABLA_CUDA_CACHE");
    if (!dir || !*dir) {
        fprintf(stderr, "cuda_precompile: set NABLA_CUDA_CACHE to the folder to fill\n");
        return 2;
    }
    int n = 0;
    const nb_cu_source *srcs = nb_cuda_kernel_sources(&n);
    if (!srcs || n <= 0) {
        fprintf(stderr, "cuda_precompile: this library holds no kernel sources\n");
        return 1;
    }
    int failed = 0;
    for (int a = 1; a < (argc > 1 ? argc : 2); a++) {
        char *end;
        long arch = argc > 1 ? strtol(argv[a], &end, 10) : 90;
        if (argc > 1 && (*end || arch < 50 || arch > 200)) {
            fprintf(stderr, "cuda_precompile: '%s' is not an architecture such as 90\n", argv[a]);
            return 2;
        }
        for (int m = 0; m < n; m++) {
            size_t len = 0;
            int disk = 0;
            char *img = nb_cu_cached_image(srcs[m].text, srcs[m].name, (int)arch, 1, 0, &len, &disk);
            if (!img) {
                fprintf(stderr, "cuda_precompile: %s for sm_%ld: %s\n", srcs[m].name, arch, nb_last_error());
                failed = 1;
                continue;
            }
            free(img);
        }
        printf("cuda_precompile: %d kernel modules for sm_%ld in %s\n", n, arch, dir);
    }
    return failed;
}
