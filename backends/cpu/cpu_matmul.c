/* backends/cpu/cpu_matmul.c - the CPU matmul kernel: [B,M,K] @ [B,K,N] (+ beta * out) on top
 * of the packed GEMM in backends/cpu/gemm.h. Operands are read in place whether their last two
 * dims are row-major or transposed; a transposed output is computed as out^T = b^T a^T. When
 * b is shared by the whole batch (batch stride 0) and the rows of a and out stack up evenly,
 * the batch is folded into M: one big GEMM instead of B small ones. */
#include <string.h>

#include "backends/cpu/cpu.h"
#include "backends/matmul_layout.h"
#include "backends/cpu/gemm.h"

#define SHP(t, buf) nb_shape_str((t), (buf), sizeof(buf))


int nb_cpu_matmul(nb_tensor *out, const nb_tensor *a, const nb_tensor *b, float beta) {
    char x[96], y[96], z[96];
    if (out->ndim != 3 || a->ndim != 3 || b->ndim != 3 || a->shape[2] != b->shape[1] ||
        out->shape[1] != a->shape[1] || out->shape[2] != b->shape[2] ||
        (a->shape[0] != out->shape[0] && a->shape[0] != 1) ||
        (b->shape[0] != out->shape[0] && b->shape[0] != 1))
        return nb_set_error("matmul (cpu): bad operands %s @ %s -> %s", SHP(a, x), SHP(b, y), SHP(out, z)),
               -1;
    if (out->dtype != NB_F32 || a->dtype != NB_F32 || b->dtype != NB_F32)
        return nb_set_error("matmul (cpu): operands must be f32"), -1;
    int64_t B = out->shape[0], M = out->shape[1], N = out->shape[2], K = a->shape[2];
    if (B == 0 || M == 0 || N == 0) return 0;

    int ta, tb, tc;
    int64_t lda, ldb, ldc;
    if (nb_mat_layout(a, &ta, &lda) || nb_mat_layout(b, &tb, &ldb) || nb_mat_layout(out, &tc, &ldc))
        return nb_set_error("matmul (cpu): an operand of %s @ %s -> %s is neither row-major nor "
                            "transposed in its last two dims",
                            SHP(a, x), SHP(b, y), SHP(out, z)),
               -1;
    const float *A = (const float *)nb_ptr(a), *Bp = (const float *)nb_ptr(b);
    float *C = (float *)nb_ptr(out);
    int64_t sa = nb_mat_batch_stride(a), sb = nb_mat_batch_stride(b), sc = nb_mat_batch_stride(out);
    if (B > 1 && sc == 0) return nb_set_error("matmul (cpu): output %s has batch stride 0", SHP(out, z)), -1;
    if (tc) { /* out^T[N,M] = b^T[N,K] @ a^T[K,M] */
        const float *tp = A;
        A = Bp;
        Bp = tp;
        int t = ta;
        ta = !tb;
        tb = !t;
        int64_t tl = lda;
        lda = ldb;
        ldb = tl;
        tl = sa;
        sa = sb;
        sb = tl;
        tl = M;
        M = N;
        N = tl;
    }
    /* fold the batch into M when b is shared and the rows of a and C stack up evenly */
    if (B > 1 && sb == 0 && !ta && sa == M * lda && sc == M * ldc) {
        M *= B;
        B = 1;
    }
    if (B == 1)
        nb_cpu_sgemm(ta, tb, M, N, K, 1.0f, A, lda, Bp, ldb, beta, C, ldc);
    else
        nb_cpu_sgemm_batched(ta, tb, B, M, N, K, 1.0f, A, lda, sa, Bp, ldb, sb, beta, C, ldc, sc);
    const char *err = nb_cpu_gemm_last_error();
    if (err[0] && !strstr(err, "unblocked loop")) /* that one is only a slow path, still right */
        return nb_set_error("matmul (cpu): %s", err), -1;
    return 0;
}
