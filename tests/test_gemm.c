/* tests/test_gemm.c - the CPU SGEMM (backends/cpu/gemm.h) against a double-precision
 * reference: shapes with edges, all transpose cases, alpha/beta, padded strides, batches,
 * every ISA path the CPU has, determinism, bad arguments and the buffer cache. */
#include "tests/nb_check.h"

#include "backends/cpu/gemm.h"
#include "nabla/core.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>

static const char *const ISAS[] = {"generic", "avx2", "avx512"};
#define N_ISAS 3

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

/* Uniform in [-1, 1). */
static float frand(void) { return (float)((double)rnd() / 4294967296.0 * 2.0 - 1.0); }

/* A stored matrix of `rows` x `cols` with row stride ld; the padding holds NaN so a GEMM that
 * reads past a row shows it. `small_int` fills with integers in [-4, 4] (exact products). */
static float *make_mat(int64_t rows, int64_t cols, int64_t ld, int small_int) {
    size_t n = (size_t)(rows > 0 ? rows : 1) * (size_t)(ld > 0 ? ld : 1);
    float *m = malloc(n * sizeof *m);
    ck_assert_ptr_nonnull(m);
    for (size_t i = 0; i < n; i++)
        m[i] = NAN;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            m[i * ld + j] = small_int ? (float)((int)(rnd() % 9) - 4) : frand();
    return m;
}

static double opv(const float *X, int64_t ld, int trans, int64_t i, int64_t j) {
    return trans ? X[j * ld + i] : X[i * ld + j];
}

/* Checks C (after the GEMM) against alpha*op(A)op(B) + beta*C0 in double for the listed
 * elements (all when `sample` is 0); tolerance scaled by K, or exact when `exact`. */
static void check_result(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, const float *C0,
                         const float *C, int64_t ldc, int exact, int sample) {
    const double u = 1.0 / (1 << 23);
    int64_t total = sample ? sample : M * N;
    for (int64_t s = 0; s < total; s++) {
        int64_t i = sample ? (int64_t)(rnd() % (uint32_t)M) : s / N;
        int64_t j = sample ? (int64_t)(rnd() % (uint32_t)N) : s % N;
        double dot = 0.0, mag = 0.0;
        for (int64_t p = 0; p < K; p++) {
            double t = opv(A, lda, ta, i, p) * opv(B, ldb, tb, p, j);
            dot += t;
            mag += fabs(t);
        }
        double ref = (double)alpha * dot, scale = fabs((double)alpha) * mag;
        if (beta != 0.0f) {
            ref += (double)beta * C0[i * ldc + j];
            scale += fabs((double)beta * C0[i * ldc + j]);
        }
        double got = C[i * ldc + j];
        double tol = exact ? 0.0 : ((double)K / 4.0 + 16.0) * u * scale + 1e-30;
        if (!(fabs(got - ref) <= tol))
            ck_abort_msg("ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g: C[%lld,%lld]=%.9g, "
                         "want %.9g (tol %.3g, isa %s)",
                         ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta, (long long)i,
                         (long long)j, got, ref, tol, nb_cpu_gemm_isa());
    }
}

/* One GEMM with fresh data, padded strides, checked against the reference. */
static void run_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int pad,
                     int exact, int sample) {
    int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
    int64_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    float *A = make_mat(arows, acols, lda, exact), *B = make_mat(brows, bcols, ldb, exact);
    float *C0 = make_mat(M, N, ldc, exact), *C = make_mat(M, N, ldc, exact);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? NAN : C0[i * ldc + j];
    nb_cpu_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    ck_assert_str_eq(nb_cpu_gemm_last_error(), "");
    check_result(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, C, ldc, exact, sample);
    for (int64_t i = 0; i < M; i++) /* the padding of C is untouched */
        for (int64_t j = N; j < ldc; j++)
            ck_assert(isnan(C[i * ldc + j]));
    free(A);
    free(B);
    free(C0);
    free(C);
}

static void force(const char *isa) {
    ck_assert_int_eq(nb_cpu_gemm_force_isa(isa), 0);
    ck_assert_str_eq(nb_cpu_gemm_isa(), isa);
}

/* ---- per-ISA tests (loop index = ISA) ------------------------------------------------------ */

static const int64_t SHAPES[][3] = {
    {1, 1, 1},       {37, 53, 71},   {64, 65, 1},    {100, 1, 77},  {1, 300, 200}, {7, 130, 9},
    {129, 67, 385},  {13, 200, 800}, {6, 64, 384},   {5, 63, 17},   {3, 70, 1000}, {4, 129, 1000},
    {20, 1000, 390}, {25, 70, 50},   {300, 130, 50}, {2, 50257, 3}, {97, 129, 33}, {6150, 3, 2},
};

START_TEST(test_shapes_all_trans) {
    force(ISAS[_i]);
    for (size_t s = 0; s < sizeof SHAPES / sizeof *SHAPES; s++)
        for (int t = 0; t < 4; t++) {
            run_case(t >> 1, t & 1, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], 1.0f, 0.0f, 0, 0, 0);
            run_case(t >> 1, t & 1, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], 1.0f, 0.0f, 0, 1, 0);
        }
}
END_TEST

START_TEST(test_alpha_beta_strides) {
    force(ISAS[_i]);
    const float alphas[] = {1.0f, -0.5f, 2.0f}, betas[] = {0.0f, 1.0f, -1.5f};
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                run_case(t >> 1, t & 1, 45, 77, 390, alphas[a], betas[b], 5, 0, 0);
                run_case(t >> 1, t & 1, 19, 70, 23, alphas[a], betas[b], 17, 1, 0);
            }
}
END_TEST

/* The Baby GPT forward shape, checked on a sample of entries, in all four transpose cases. */
START_TEST(test_big_sampled) {
    force(ISAS[_i]);
    for (int t = 0; t < 4; t++)
        run_case(t >> 1, t & 1, 1536, 384, 1152, 1.0f, 0.0f, 0, 0, 3000);
    run_case(0, 0, 1536, 1152, 384, 0.5f, 1.0f, 3, 0, 3000);
}
END_TEST

/* A x B^T (M x K times N x K, random) computed twice, after set(0) and after set(1), with the
 * same bits both times; the settings are put back afterwards. */
static void same_bits(int64_t M, int64_t N, int64_t K, void (*set)(int which)) {
    float *A = make_mat(M, K, K, 0), *B = make_mat(N, K, K, 0);
    float *C[2] = {malloc((size_t)(M * N) * sizeof(float)), malloc((size_t)(M * N) * sizeof(float))};
    ck_assert(C[0] && C[1]);
    const int nt = nb_get_num_threads(), was = nb_cpu_gemm_set_balancing(1);
    for (int w = 0; w < 2; w++) {
        set(w);
        nb_cpu_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C[w], N);
    }
    nb_cpu_gemm_set_balancing(was);
    nb_set_num_threads(nt);
    ck_assert_int_eq(memcmp(C[0], C[1], (size_t)(M * N) * sizeof(float)), 0);
    free(A);
    free(B);
    free(C[0]);
    free(C[1]);
}

static void set_nothing(int which) { (void)which; }
/* nabla's thread count is the one the GEMM follows */
static void set_one_or_more_threads(int which) {
    static int more;
    if (!more) more = nb_get_num_threads() > 1 ? nb_get_num_threads() : 2;
    nb_set_num_threads(which ? more : 1);
}
static void set_balanced_or_static(int which) {
    nb_set_num_threads(2);
    nb_cpu_gemm_set_balancing(which == 0);
}

START_TEST(test_determinism) {
    force(ISAS[_i]);
    same_bits(300, 700, 1000, set_nothing); /* run to run */
    /* The summation order does not depend on the thread count either. */
    same_bits(300, 700, 1000, set_one_or_more_threads);
}
END_TEST

/* Tall, narrow C (dW of a vocabulary: rows of C past the row block size, one column block,
 * so B is packed once per K block), K that is one block or several, every transpose case,
 * beta 0 over NaN and beta 1 accumulation; then the same bits for 1 and 3 threads. */
START_TEST(test_tall_accumulate) {
    force(ISAS[_i]);
    const int64_t Ks[] = {300, 500, 700};
    for (int t = 0; t < 4; t++)
        for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
            run_case(t >> 1, t & 1, 3100, 130, Ks[k], 1.0f, 0.0f, 0, 0, 1500);
            run_case(t >> 1, t & 1, 3100, 130, Ks[k], 1.0f, 1.0f, 2, 0, 1500);
        }
    run_case(1, 0, 3100, 70, 40, 1.0f, 1.0f, 0, 1, 0); /* exact, every element */
    const int64_t M = 3100, N = 130, K = 500;
    float *A = make_mat(K, M, M, 0), *B = make_mat(K, N, N, 0), *C0 = make_mat(M, N, N, 0);
    float *C1 = malloc((size_t)(M * N) * sizeof(float)), *C2 = malloc((size_t)(M * N) * sizeof(float));
    ck_assert(C1 && C2);
    memcpy(C1, C0, (size_t)(M * N) * sizeof(float));
    memcpy(C2, C0, (size_t)(M * N) * sizeof(float));
    int nt = nb_get_num_threads();
    nb_set_num_threads(1);
    nb_cpu_sgemm(1, 0, M, N, K, 1.0f, A, M, B, N, 1.0f, C1, N);
    nb_set_num_threads(3);
    nb_cpu_sgemm(1, 0, M, N, K, 1.0f, A, M, B, N, 1.0f, C2, N);
    nb_set_num_threads(nt);
    ck_assert_int_eq(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)), 0);
    check_result(1, 0, M, N, K, 1.0f, A, M, B, N, 1.0f, C0, C1, N, 0, 2000);
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C2);
}
END_TEST

/* One GEMM on 1, 2 and 3 threads: the same bits each time, and the reference's values. */
static void thread_counts_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float beta) {
    const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N + 1;
    float *A = make_mat(ta ? K : M, ta ? M : K, lda, 0), *B = make_mat(tb ? N : K, tb ? K : N, ldb, 0);
    float *C0 = make_mat(M, N, ldc, 0), *C[3];
    const int nt = nb_get_num_threads();
    for (int r = 0; r < 3; r++) {
        C[r] = make_mat(M, N, ldc, 0);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                C[r][i * ldc + j] = beta == 0.0f ? NAN : C0[i * ldc + j];
        nb_set_num_threads(r + 1);
        nb_cpu_sgemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C[r], ldc);
        ck_assert_str_eq(nb_cpu_gemm_last_error(), "");
    }
    nb_set_num_threads(nt);
    for (int r = 1; r < 3; r++)
        for (int64_t i = 0; i < M; i++)
            if (memcmp(C[0] + i * ldc, C[r] + i * ldc, (size_t)N * sizeof(float)) != 0)
                ck_abort_msg("ta=%d tb=%d M=%lld N=%lld K=%lld beta=%g: row %lld differs between 1 and "
                             "%d threads (isa %s)",
                             ta, tb, (long long)M, (long long)N, (long long)K, beta, (long long)i, r + 1,
                             nb_cpu_gemm_isa());
    check_result(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C0, C[1], ldc, 0, 1500);
    for (int64_t i = 0; i < M; i++) /* the padding column is untouched */
        ck_assert(isnan(C[1][i * ldc + N]));
    free(A);
    free(B);
    free(C0);
    for (int r = 0; r < 3; r++)
        free(C[r]);
}

/* Shapes whose threads split the columns (one op(A) block for all: shared when cooperative
 * packing is on), split the rows (one op(B) block), or split the rows and read B in place (NN,
 * few rows each): every transpose case, edge sizes, one or several K blocks, beta 0 over NaN and
 * beta 1, cooperative packing off and on. */
START_TEST(test_thread_splits) {
    force(ISAS[_i]);
    static const int64_t shapes[][3] = {
        {251, 997, 777}, {384, 384, 2000}, {1300, 200, 900}, {5, 3000, 400}, {4, 3000, 400}, {97, 130, 1200},
    };
    const int was = nb_cpu_gemm_set_shared_packing(0);
    for (int share = 0; share < 2; share++) {
        nb_cpu_gemm_set_shared_packing(share);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++)
                for (int bi = 0; bi < 2; bi++)
                    thread_counts_case(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                       bi ? 1.0f : 0.0f);
    }
    nb_cpu_gemm_set_shared_packing(was);
}
END_TEST

/* A C rectangle too big for the caches with several K blocks: one thread keeps each block of C
 * in cache across the K blocks (all of op(A) packed first), two or three threads have smaller
 * rectangles and take the plain order. The bits must not differ. */
START_TEST(test_c_resident_order) {
    force(ISAS[_i]);
    thread_counts_case(1, 0, 32, 66000, 600, 1.0f); /* dW-like: op(A) transposed, beta 1 */
    thread_counts_case(0, 1, 32, 66000, 600, 0.0f);
}
END_TEST

/* Large GEMMs split one way are balanced at run time (a large piece per thread,
 * then small pieces from a shared counter): which thread computes which piece must not change a
 * bit. Columns split (op(A) packed whole per thread, including B read in place for few rows) and
 * rows split (op(B) packed whole), one K block or several, every transpose case, beta 0 over NaN
 * and beta 1. */
START_TEST(test_balanced) {
    force(ISAS[_i]);
    static const int64_t shapes[][3] = {
        {200, 13001, 300}, {13001, 130, 300}, {150, 17000, 200}, {5000, 130, 900}, {100, 8000, 800}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++)
            thread_counts_case(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], (float)(t & 1));
    same_bits(300, 9000, 250, set_balanced_or_static); /* the same bits as the static split */
}
END_TEST

/* Batched with stride-0 broadcasts, against single GEMMs and the reference. */
START_TEST(test_batched) {
    force(ISAS[_i]);
    const int64_t batch = 6, M = 33, N = 40, K = 24;
    for (int t = 0; t < 4; t++) {
        int ta = t >> 1, tb = t & 1;
        int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
        int64_t sa = (ta ? K : M) * lda, sb = (tb ? N : K) * ldb, sc = M * ldc;
        for (int bc = 0; bc < 3; bc++) { /* 0: none, 1: A broadcast, 2: B broadcast */
            int64_t stride_a = bc == 1 ? 0 : sa, stride_b = bc == 2 ? 0 : sb;
            float *A = make_mat(batch * (ta ? K : M), ta ? M : K, lda, 0);
            float *B = make_mat(batch * (tb ? N : K), tb ? K : N, ldb, 0);
            float *C0 = make_mat(batch * M, N, ldc, 0), *C = make_mat(batch * M, N, ldc, 0);
            float *C1 = make_mat(batch * M, N, ldc, 0);
            memcpy(C, C0, (size_t)(batch * M * ldc) * sizeof(float));
            memcpy(C1, C0, (size_t)(batch * M * ldc) * sizeof(float));
            nb_cpu_sgemm_batched(ta, tb, batch, M, N, K, 1.5f, A, lda, stride_a, B, ldb, stride_b, 0.25f, C,
                                 ldc, sc);
            ck_assert_str_eq(nb_cpu_gemm_last_error(), "");
            for (int64_t b = 0; b < batch; b++) {
                nb_cpu_sgemm(ta, tb, M, N, K, 1.5f, A + b * stride_a, lda, B + b * stride_b, ldb, 0.25f,
                             C1 + b * sc, ldc);
                check_result(ta, tb, M, N, K, 1.5f, A + b * stride_a, lda, B + b * stride_b, ldb, 0.25f,
                             C0 + b * sc, C + b * sc, ldc, 0, 0);
                for (int64_t i = 0; i < M; i++)
                    ck_assert_int_eq(
                        memcmp(C + b * sc + i * ldc, C1 + b * sc + i * ldc, (size_t)N * sizeof(float)), 0);
            }
            free(A);
            free(B);
            free(C0);
            free(C);
            free(C1);
        }
    }
}
END_TEST

/* ---- ISA-independent tests ----------------------------------------------------------------- */

START_TEST(test_bad_args) {
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 2, 3, 4, 5, 6}, C[4] = {7, 7, 7, 7};
    nb_cpu_sgemm(0, 0, -1, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "negative size"));
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "gemm.c:"));
    nb_cpu_sgemm(0, 0, 2, 2, 3, 1.0f, NULL, 3, B, 2, 0.0f, C, 2);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "A is NULL"));
    nb_cpu_sgemm(0, 0, 2, 2, 3, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "lda=2"));
    nb_cpu_sgemm(0, 1, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "ldb=2"));
    nb_cpu_sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 1);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "ldc=1"));
    nb_cpu_sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, NULL, 2);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "C is NULL"));
    nb_cpu_sgemm_batched(0, 0, -2, 2, 2, 3, 1.0f, A, 3, 0, B, 2, 0, 0.0f, C, 2, 4);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "negative batch"));
    nb_cpu_sgemm_batched(0, 0, 2, 2, 2, 3, 1.0f, A, 3, -6, B, 2, 0, 0.0f, C, 2, 4);
    ck_assert_ptr_nonnull(strstr(nb_cpu_gemm_last_error(), "negative stride"));
    for (int i = 0; i < 4; i++)
        ck_assert(C[i] == 7.0f);
    /* A good call clears the message. */
    nb_cpu_sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    ck_assert_str_eq(nb_cpu_gemm_last_error(), "");
    ck_assert(C[0] == 22.0f && C[1] == 28.0f && C[2] == 49.0f && C[3] == 64.0f);
    ck_assert_int_eq(nb_cpu_gemm_force_isa("sse9"), -1);
    ck_assert_int_eq(nb_cpu_gemm_force_isa(NULL), 0);
}
END_TEST

/* K == 0 and alpha == 0 only scale C (A and B are not read, may be NULL). */
START_TEST(test_degenerate) {
    float C[6] = {1, 2, NAN, 4, 5, NAN};
    nb_cpu_sgemm(0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 2.0f, C, 3);
    ck_assert(C[0] == 2.0f && C[1] == 4.0f && C[3] == 8.0f && C[4] == 10.0f);
    ck_assert(isnan(C[2]) && isnan(C[5]));
    C[1] = NAN; /* beta == 0: C is not read */
    nb_cpu_sgemm(1, 1, 2, 2, 5, 0.0f, NULL, 1, NULL, 1, 0.0f, C, 3);
    ck_assert(C[0] == 0.0f && C[1] == 0.0f && C[3] == 0.0f && C[4] == 0.0f);
    ck_assert(isnan(C[2]) && isnan(C[5]));
    nb_cpu_sgemm(0, 0, 0, 5, 5, 1.0f, NULL, 5, NULL, 5, 0.0f, NULL, 5);
    ck_assert_str_eq(nb_cpu_gemm_last_error(), "");
}
END_TEST

/* Called from inside a parallel region: each thread runs its own GEMM single-threaded. */
START_TEST(test_inside_parallel) {
    const int64_t M = 70, N = 90, K = 130;
    float *A = make_mat(M, K, K, 1), *B = make_mat(K, N, N, 1);
    float *C = malloc(4 * (size_t)(M * N) * sizeof(float));
    ck_assert_ptr_nonnull(C);
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < 4; t++)
        nb_cpu_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C + t * M * N, N);
    for (int t = 0; t < 4; t++)
        check_result(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, NULL, C + t * M * N, N, 1, 0);
    free(A);
    free(B);
    free(C);
}
END_TEST

/* After the first call of a shape, repeated calls allocate nothing; release frees the cache. */
START_TEST(test_cache_no_alloc) {
    const int64_t M = 400, N = 500, K = 600;
    float *A = make_mat(M, K, K, 0), *B = make_mat(K, N, N, 0), *C = make_mat(M, N, N, 0);
    nb_cpu_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    uint64_t allocs = nb_cpu_gemm_cache_allocs();
    ck_assert_uint_gt(nb_cpu_gemm_cache_bytes(), 0);
    for (int r = 0; r < 5; r++) {
        nb_cpu_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        nb_cpu_sgemm(1, 1, 50, 60, 70, 1.0f, A, 50, B, 70, 0.0f, C, 60);
    }
    ck_assert_uint_eq(nb_cpu_gemm_cache_allocs(), allocs);
    nb_cpu_gemm_release();
    ck_assert_uint_eq(nb_cpu_gemm_cache_bytes(), 0);
    nb_cpu_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N); /* works again after release */
    check_result(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, NULL, C, N, 0, 500);
    nb_cpu_gemm_release();
    free(A);
    free(B);
    free(C);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_degenerate);
    tcase_add_test(tc, test_inside_parallel);
    tcase_add_test(tc, test_cache_no_alloc);
    suite_add_tcase(s, tc);
    for (int i = 0; i < N_ISAS; i++) {
        if (nb_cpu_gemm_force_isa(ISAS[i]) != 0) {
            char name[64];
            snprintf(name, sizeof name, "gemm %s path", ISAS[i]);
            nb_test_skip(name, "this CPU lacks the instructions");
            continue;
        }
        TCase *ti = tcase_create(ISAS[i]);
        tcase_set_timeout(ti, 300);
        tcase_add_loop_test(ti, test_shapes_all_trans, i, i + 1);
        tcase_add_loop_test(ti, test_alpha_beta_strides, i, i + 1);
        tcase_add_loop_test(ti, test_big_sampled, i, i + 1);
        tcase_add_loop_test(ti, test_determinism, i, i + 1);
        tcase_add_loop_test(ti, test_batched, i, i + 1);
        tcase_add_loop_test(ti, test_tall_accumulate, i, i + 1);
        tcase_add_loop_test(ti, test_thread_splits, i, i + 1);
        tcase_add_loop_test(ti, test_c_resident_order, i, i + 1);
        tcase_add_loop_test(ti, test_balanced, i, i + 1);
        suite_add_tcase(s, ti);
    }
    nb_cpu_gemm_force_isa(NULL);
    return s;
}

NB_CHECK_MAIN()
