/* backends/cpu/cpu_matmul.c - the CPU matmul kernel: [B,M,K] @ [B,K,N] (+ beta * out) on top
 * of the packed GEMM in backends/cpu/gemm.h. Operands are read in place whether their last two
 * dims are row-major or transposed; a transposed output is computed as out^T = b^T a^T. When
 * b is shared by the whole batch (batch stride 0) and the rows of a and out stack up evenly,
 * the batch is folded into M: one big GEMM instead of B small ones. */
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/matmul_layout.h"
#include "backends/cpu/gemm.h"

int nb_cpu_matmul(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta) {
    nb_mat_plan p;
    if (nb_mat_plan_make("cpu", out, a, b, &p)) return -1;
    if (p.batch == 0 || p.M == 0 || p.N == 0) return 0;
    const float *X = (const float *)nb_ptr(p.swapped ? b : a), *Y = (const float *)nb_ptr(p.swapped ? a : b);
    float *C = (float *)nb_ptr(out);
    if (p.batch == 1)
        nb_cpu_sgemm(p.trans_x, p.trans_y, p.M, p.N, p.K, 1.0f, X, p.ldx, Y, p.ldy, beta, C, p.ldc);
    else
        nb_cpu_sgemm_batched(p.trans_x, p.trans_y, p.batch, p.M, p.N, p.K, 1.0f, X, p.ldx, p.sx, Y, p.ldy, p.sy,
                             beta, C, p.ldc, p.sc);
    const char *err = nb_cpu_gemm_last_error();
    if (err[0] && !strstr(err, "unblocked loop")) /* that one is only a slow path, still right */
        return nb_set_error("matmul (cpu): %s", err), -1;
    return 0;
}
