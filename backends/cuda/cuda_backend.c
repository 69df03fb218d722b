/* backends/cuda/cuda_backend.c - the CUDA backend's table and its transfers.
 *
 * Everything runs on one stream (the legacy default stream, shared with
 * cuBLAS), so kernels run in the order they were queued and a download waits
 * for the kernels before it. Launch errors are reported by the call that
 * queued them; a kernel that fails while running is reported by the next
 * transfer or nb_cuda_synchronize. */
#include "backends/cuda/cuda_internal.h"

static void *cu_alloc(size_t n) { return nb_cu_alloc(n); }

static void cu_free(void *p) { nb_cu_free(p); }

static int cu_upload(void *dst, const void *src, size_t n) {
    if (n == 0) return 0;
    CUresult rc = nb_cu.cu.cuMemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, n);
    return rc == NB_CU_SUCCESS ? 0 : nb_cu_fail("copy to the GPU", rc);
}

static int cu_download(void *dst, const void *src, size_t n) {
    if (n == 0) return 0;
    CUresult rc = nb_cu.cu.cuMemcpyDtoH(dst, (CUdeviceptr)(uintptr_t)src, n);
    return rc == NB_CU_SUCCESS ? 0 : nb_cu_fail("copy from the GPU", rc);
}

static void cu_sync(void) { nb_cu.cu.cuCtxSynchronize(); }

const nb_backend nb_cuda_backend = {
    .name = "cuda",
    .device = NB_CUDA,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .synchronize = cu_sync,
    .fill = nb_cuda_fill,
    .copy = nb_cuda_copy,
    .arange = nb_cuda_arange,
    .random = nb_cuda_random,
    .unary = nb_cuda_unary,
    .unary_backward = nb_cuda_unary_backward,
    .binary = nb_cuda_binary,
    .binary_backward = nb_cuda_binary_backward,
    .where = nb_cuda_where,
    .reduce = nb_cuda_reduce,
    .argmax = nb_cuda_argmax,
    .cumsum = nb_cuda_cumsum,
    .cumprod = nb_cuda_cumprod,
    .logcumsumexp = nb_cuda_logcumsumexp,
    .cummax = nb_cuda_cummax,
    .lu = nb_cuda_lu,
    .cholesky = nb_cuda_cholesky,
    .trisolve = nb_cuda_trisolve,
    .lu_solve = nb_cuda_lu_solve,
    .eigh = nb_cuda_eigh,
    .qr = nb_cuda_qr,
    .svd = nb_cuda_svd,
    .argsort = nb_cuda_argsort,
    .matmul = nb_cuda_matmul,
    .index_select = nb_cuda_index_select,
    .index_add = nb_cuda_index_add,
    .gather = nb_cuda_gather,
    .scatter_add = nb_cuda_scatter_add,
    .tril = nb_cuda_tril,
    .im2col = nb_cuda_im2col,
    .col2im = nb_cuda_col2im,
    .dwconv = nb_cuda_dwconv,
    .dwconv_backward = nb_cuda_dwconv_backward,
    .max_pool = nb_cuda_max_pool,
    .max_pool_backward = nb_cuda_max_pool_backward,
    .lerp_dim = nb_cuda_lerp_dim,
    .lerp_dim_backward = nb_cuda_lerp_dim_backward,
    .softmax = nb_cuda_softmax,
    .softmax_backward = nb_cuda_softmax_backward,
    .layer_norm = nb_cuda_layer_norm,
    .layer_norm_backward = nb_cuda_layer_norm_backward,
    .cross_entropy = nb_cuda_cross_entropy,
    .cross_entropy_backward = nb_cuda_cross_entropy_backward,
    .cross_entropy_fused = nb_cuda_cross_entropy_fused,
    .dropout = nb_cuda_dropout,
    .attention = nb_cuda_attention,
    .attention_backward = nb_cuda_attention_backward,
    .adamw = nb_cuda_adamw,
    .axpy = nb_cuda_axpy,
};
