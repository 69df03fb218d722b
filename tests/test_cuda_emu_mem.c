/* tests/test_cuda_emu_mem.c - the CUDA emulator of tests/cuda_emu tested on its own, through
 * its C entry points (see tests/cuda_emu/emu_test.h): its device memory and cuBLAS. Every
 * memory check the emulator promises is shown to catch the bug it is for: copies, memsets,
 * frees and cuBLAS operands outside an allocation are refused; a kernel writing or reading
 * one element past an allocation dies on the guard page, and one writing into the slack before
 * the guard page or just before the allocation fails its launch; fresh memory and dynamic shared
 * memory read as NaN; more than 48 KiB of dynamic shared memory needs the opt-in attribute,
 * and launch shapes a GPU refuses are refused; NB_EMU_MEM_MB limits memory. cuBLAS's
 * strided-batched SGEMM is checked against a host loop. A thread must make the context
 * current before it uses the device, as with the driver. Cases that poison the process
 * (crashes, the memory limit) run in a child process of their own. Threads, barriers and
 * warps are in test_cuda_emu.c. Without the emulator library the file is skipped. */
#include <pthread.h>

#include "tests/cuda_emu/emu_test.h"

static int is_all_ff(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xff) return 0;
    return 1;
}

/* A small deterministic generator: uniform in [-1, 1). */
static float lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

/* ---- 5: copies, memsets and frees outside an allocation ---------------------------------- */

START_TEST(test_copy_bounds) {
    ck_assert_int_eq(emu_init(), CU_OK);
    enum { N = 1000 }; /* not a multiple of 256: the checks use the size asked for */
    unsigned char h[N + 8], back[N + 8];
    for (int i = 0; i < N + 8; i++)
        h[i] = (unsigned char)(i * 31 + 7);
    CUdeviceptr d = dalloc(N), e = dalloc(N);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, N), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d + 1, h, N), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d + N, h, 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d + N - 4, h, 4), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, N), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, d, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, d + 500, 501), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, d - 4, 8), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, (CUdeviceptr)(uintptr_t)h, 8), CU_INVALID_VALUE); /* host */
    ck_assert_int_eq(cu.cuMemcpyDtoD_v2(e, d, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoD_v2(e + 1, d, N), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemcpyDtoD_v2(e, d, N), CU_OK);
    ck_assert_int_eq(cu.cuMemcpyDtoH_v2(back, e, N), CU_OK);
    ck_assert_mem_eq(back, h, N);

    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0x01020304u, N / 4), CU_OK);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0, N / 4 + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d + 4, 0, N / 4), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d + 2, 0, 1), CU_INVALID_VALUE); /* misaligned */
    ck_assert_int_eq(cu.cuMemsetD8_v2(d, 0, N + 1), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuMemsetD8_v2(d + N - 1, 9, 1), CU_OK);
    download(back, d, N);
    for (int i = 0; i < N - 1; i++)
        ck_assert_uint_eq(back[i],
                          (unsigned)(4 - i % 4)); /* little-endian words, untouched by the refusals */
    ck_assert_uint_eq(back[N - 1], 9);

    ck_assert_int_ne(cu.cuMemFree_v2(d + 4), CU_OK);                     /* inside, not the start */
    ck_assert_int_ne(cu.cuMemFree_v2((CUdeviceptr)(uintptr_t)h), CU_OK); /* host memory */
    ck_assert_int_ne(cu.cuMemFree_v2(0x1000), CU_OK);
    dfree(d);
    ck_assert_int_ne(cu.cuMemFree_v2(d), CU_OK);                     /* twice */
    ck_assert_int_eq(cu.cuMemcpyHtoD_v2(d, h, 4), CU_INVALID_VALUE); /* after the free */
    dfree(e);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK); /* none of these is sticky */
}
END_TEST

/* ---- 6: a kernel running off the end of an allocation hits the guard page ---------------- */

typedef struct {
    void *f;
    CUdeviceptr x;
    int i, write;
} poke_case;

static int child_poke(void *arg) {
    poke_case *c = arg;
    void *args[] = {&c->x, &c->i, &c->write};
    CUresult rc = launch(c->f, 1, 1, 1, 32, 1, 1, 0, args);
    fprintf(stderr, "the launch returned %d\n", rc);
    return 0; /* the launch should not come back */
}

START_TEST(test_guard_page) {
    enum { N = 64 }; /* 256 bytes: the allocation's end is the guard page's start */
    poke_case c = {kernel(SRC, "poke"), dalloc(N * sizeof(float)), N - 1, 1};
    void *args[] = {&c.x, &c.i, &c.write};
    ck_assert_int_eq(launch(c.f, 1, 1, 1, 32, 1, 1, 0, args), CU_OK); /* the last element: fine */
    float last;
    download(&last, c.x + (N - 1) * sizeof(float), sizeof last);
    ck_assert(last == 1.0f);
    for (c.write = 1; c.write >= 0; c.write--) {
        c.i = N;
        char out[4096];
        int st = in_child(child_poke, &c, out, sizeof out);
        ck_assert_msg(WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS),
                      "%s one past the end: the child should die of SIGSEGV; %s %d\n%s",
                      c.write ? "writing" : "reading", WIFEXITED(st) ? "it exited with" : "signal",
                      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), out);
    }
    dfree(c.x);
}
END_TEST

/* Writes into the few bytes between an allocation's end and the guard page (its size is not a
 * multiple of 16), or just before its start, are found after the launch: a launch failure (719)
 * naming the allocation, sticky as any. Each in a child, the error being sticky. */
static int child_canary(void *arg) {
    poke_case *c = arg;
    void *args[] = {&c->x, &c->i, &c->write};
    CUresult rc = launch(c->f, 1, 1, 1, 32, 1, 1, 0, args);
    fprintf(stderr, "the launch returned %d\n", rc);
    return rc == 719 && cu.cuCtxSynchronize() == 719 ? 0 : 1;
}

START_TEST(test_canaries) {
    enum { N = 5 }; /* 20 bytes: 12 bytes of slack before the guard page */
    poke_case c = {kernel(SRC, "poke"), dalloc(N * sizeof(float)), N - 1, 1};
    void *args[] = {&c.x, &c.i, &c.write};
    ck_assert_int_eq(launch(c.f, 1, 1, 1, 32, 1, 1, 0, args), CU_OK); /* the last element: fine */
    const int past[] = {N, N + 2, -1, -16};
    for (size_t k = 0; k < sizeof past / sizeof *past; k++) {
        c.i = past[k];
        char out[4096];
        int st = in_child(child_canary, &c, out, sizeof out);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writing element %d of %d: %s", c.i, N, out);
        ck_assert_msg(strstr(out, "wrote outside a device allocation") && strstr(out, "20-byte"),
                      "the message names the allocation: %s", out);
    }
    c.i = N; /* reading there is no write: the launch goes well (the value is absurd: -1.7e38) */
    c.write = 0;
    ck_assert_int_eq(launch(c.f, 1, 1, 1, 32, 1, 1, 0, args), CU_OK);
    float v;
    download(&v, c.x, sizeof v);
    ck_assert_msg(v < -1e38f, "read past the end: %g", (double)v);
    dfree(c.x);
}
END_TEST

/* ---- 7: fresh memory and dynamic shared memory read as NaN ------------------------------- */

START_TEST(test_poisoned_memory) {
    ck_assert_int_eq(emu_init(), CU_OK);
    const size_t sizes[] = {1, 13, 1000, 4096, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        const size_t n = sizes[k];
        unsigned char *h = malloc(n);
        ck_assert_ptr_nonnull(h);
        for (int round = 0; round < 2; round++) { /* again after writing, freeing, reallocating */
            CUdeviceptr d = dalloc(n);
            memset(h, 0, n);
            download(h, d, n);
            ck_assert_msg(is_all_ff(h, n), "a fresh allocation of %zu bytes is not all 0xff", n);
            ck_assert_int_eq(cu.cuMemsetD8_v2(d, 0, n), CU_OK);
            dfree(d);
        }
        if (n >= sizeof(float)) {
            float f;
            memcpy(&f, h, sizeof f);
            ck_assert(isnan(f));
        }
        free(h);
    }

    enum { B = 64, G = 3 };
    float got[B * G];
    CUdeviceptr d = dalloc(sizeof got);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0, B * G), CU_OK);
    void *args[] = {&d};
    ck_assert_int_eq(launch(kernel(SRC, "smem_peek"), G, 1, 1, B, 1, 1, B * sizeof(float), args), CU_OK);
    download(got, d, sizeof got);
    for (int i = 0; i < B * G; i++) /* every block: the previous block's 1.0f is gone */
        ck_assert_msg(isnan(got[i]), "thread %d read %g from unwritten shared memory, want NaN", i,
                      (double)got[i]);
    dfree(d);
}
END_TEST

/* ---- 8: more than 48 KiB of dynamic shared memory needs the attribute -------------------- */

START_TEST(test_big_shared_memory) {
    void *f = kernel(SRC, "smem_big");
    float got[2];
    CUdeviceptr d = dalloc(sizeof got);
    int n;
    void *args[] = {&d, &n};
    const unsigned k48 = 48 * 1024, k64 = 64 * 1024;

    n = (int)(k48 / sizeof(float)); /* 48 KiB: allowed by default */
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k48, args), CU_OK);
    download(got, d, sizeof got);
    ck_assert(got[0] == 0.0f && got[1] == (float)(n - 1));

    n = (int)(k64 / sizeof(float));
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k48 + 4, args), CU_INVALID_VALUE);
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k64, args), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK); /* a refused launch is not sticky */
    ck_assert_int_ne(cu.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 300 * 1024),
                     0);
    ck_assert_int_eq(cu.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)k64), 0);
    ck_assert_int_eq(cu.cuMemsetD32_v2(d, 0, 2), CU_OK);
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k64, args), CU_OK);
    download(got, d, sizeof got);
    ck_assert_msg(got[0] == 0.0f && got[1] == (float)(n - 1), "64 KiB: %g wrong, last %g", (double)got[0],
                  (double)got[1]);
    ck_assert_int_eq(launch(f, 2, 1, 1, 256, 1, 1, k64 + 4, args), CU_INVALID_VALUE); /* over the new limit */

    /* launch shapes a GPU refuses are refused too */
    ck_assert_int_eq(launch(f, 1, 1, 1, 1025, 1, 1, 0, args), CU_INVALID_VALUE);
    ck_assert_int_eq(launch(f, 1, 1, 1, 32, 32, 2, 0, args), CU_INVALID_VALUE);
    ck_assert_int_eq(launch(f, 0, 1, 1, 32, 1, 1, 0, args), CU_INVALID_VALUE);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK);
    dfree(d);
}
END_TEST

/* ---- 9: NB_EMU_MEM_MB limits device memory ----------------------------------------------- */

static int child_mem_limit(void *arg) {
    (void)arg;
    const size_t MiB = (size_t)1 << 20;
    size_t fr = 0, tot = 0;
    unsetenv("NB_EMU_MEM_MB");
    EXPECT(emu_init() == CU_OK);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK);
    EXPECT(tot == 4096 * MiB); /* the default */
    setenv("NB_EMU_MEM_MB", "16", 1);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK);
    EXPECT(tot == 16 * MiB && fr == 16 * MiB);
    CUdeviceptr a = 0, b = 0, c = 0;
    EXPECT(cu.cuMemAlloc_v2(&a, 32 * MiB) == CU_OUT_OF_MEMORY);
    EXPECT(cu.cuMemAlloc_v2(&a, 16 * MiB + 1) == CU_OUT_OF_MEMORY);
    EXPECT(cu.cuMemAlloc_v2(&a, 10 * MiB) == CU_OK);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK && fr == 6 * MiB && tot == 16 * MiB);
    EXPECT(cu.cuMemAlloc_v2(&b, 7 * MiB) == CU_OUT_OF_MEMORY); /* 17 MiB in all */
    EXPECT(cu.cuMemAlloc_v2(&b, 6 * MiB) == CU_OK);            /* exactly 16 */
    EXPECT(cu.cuMemAlloc_v2(&c, 1) == CU_OUT_OF_MEMORY);
    EXPECT(cu.cuMemFree_v2(a) == CU_OK);
    EXPECT(cu.cuMemAlloc_v2(&c, 10 * MiB) == CU_OK); /* freed memory counts again */
    EXPECT(cu.cuMemFree_v2(b) == CU_OK && cu.cuMemFree_v2(c) == CU_OK);
    EXPECT(cu.cuMemGetInfo_v2(&fr, &tot) == CU_OK && fr == 16 * MiB);
    EXPECT(cu.cuCtxSynchronize() == CU_OK); /* out of memory is not sticky */
    return 0;
}

START_TEST(test_memory_limit) {
    char out[4096];
    int st = in_child(child_mem_limit, NULL, out, sizeof out);
    ASSERT_CHILD_OK(st, out);
}
END_TEST

/* ---- 11: cuBLAS strided-batched SGEMM against a host loop ------------------------------- */

/* op(X)[r][c] of column-major X with leading dimension ld; trans: X is stored transposed. */
static double at(const float *x, int trans, int r, int c, int ld) {
    return trans ? x[c + (long long)r * ld] : x[r + (long long)c * ld];
}

START_TEST(test_sgemm) {
    ck_assert_int_eq(emu_init(), CU_OK);
    void *h = NULL;
    ck_assert_int_eq(cu.cublasCreate_v2(&h), 0);
    enum { M = 5, N = 7, K = 3, BATCH = 2 };
    unsigned seed = 12345;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int ra = ta ? K : M, ca = ta ? M : K, rb = tb ? N : K, cb = tb ? K : N;
            const int lda = ra + 2, ldb = rb + 1, ldc = M + 3;
            const long long sA = (long long)lda * ca + 3, sB = (long long)ldb * cb + 4,
                            sC = (long long)ldc * N + 2;
            /* exactly as many elements as the last matrix of the batch reaches */
            const size_t na = (size_t)(sA * (BATCH - 1) + (long long)lda * (ca - 1) + ra),
                         nb = (size_t)(sB * (BATCH - 1) + (long long)ldb * (cb - 1) + rb),
                         nc = (size_t)(sC * (BATCH - 1) + (long long)ldc * (N - 1) + M);
            float *A = malloc(na * 4), *B = malloc(nb * 4), *C0 = malloc(nc * 4), *C = malloc(nc * 4);
            ck_assert(A && B && C0 && C);
            for (size_t i = 0; i < na; i++)
                A[i] = lcg(&seed);
            for (size_t i = 0; i < nb; i++)
                B[i] = lcg(&seed);
            for (size_t i = 0; i < nc; i++)
                C0[i] = lcg(&seed);
            CUdeviceptr dA = dalloc(na * 4), dB = dalloc(nb * 4), dC = dalloc(nc * 4);
            upload(dA, A, na * 4);
            upload(dB, B, nb * 4);
            const float *pa = (const float *)(uintptr_t)dA, *pb = (const float *)(uintptr_t)dB;
            float *pc = (float *)(uintptr_t)dC;
            for (int zero = 0; zero < 2; zero++) {
                const float alpha = 1.5f, beta = zero ? 0.0f : 0.5f;
                if (zero) { /* C is NaN: beta 0 must not read it */
                    ck_assert_int_eq(cu.cuMemsetD8_v2(dC, 0xff, nc * 4), CU_OK);
                } else {
                    upload(dC, C0, nc * 4);
                }
                int st = cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &alpha, pa, lda, sA, pb, ldb, sB,
                                                      &beta, pc, ldc, sC, BATCH);
                ck_assert_int_eq(st, 0);
                download(C, dC, nc * 4);
                for (int b = 0; b < BATCH; b++)
                    for (int j = 0; j < N; j++)
                        for (int i = 0; i < ldc && (size_t)(b * sC + (long long)j * ldc + i) < nc; i++) {
                            const size_t o = (size_t)(b * sC + (long long)j * ldc + i);
                            if (i >= M) { /* the gap between columns: untouched */
                                if (zero)
                                    ck_assert_msg(isnan(C[o]), "gap %zu written", o);
                                else
                                    ck_assert_msg(C[o] == C0[o], "gap %zu written", o);
                                continue;
                            }
                            double want = 0.0;
                            for (int l = 0; l < K; l++)
                                want += at(A + b * sA, ta, i, l, lda) * at(B + b * sB, tb, l, j, ldb);
                            want = alpha * want + (zero ? 0.0 : beta * C0[o]);
                            ck_assert_msg(nb_close(C[o], want, 1e-5, 1e-6),
                                          "ta %d tb %d beta %g batch %d C(%d,%d) = %.8g, want %.8g", ta, tb,
                                          (double)beta, b, i, j, (double)C[o], want);
                        }
            }

            /* an operand one element short of what the batch reaches: refused, C untouched */
            const float one = 1.0f, half = 0.5f;
            upload(dC, C0, nc * 4);
            CUdeviceptr sa = dalloc(na * 4 - 4), sb = dalloc(nb * 4 - 4), sc = dalloc(nc * 4 - 4);
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one,
                                                          (const float *)(uintptr_t)sa, lda, sA, pb, ldb, sB,
                                                          &half, pc, ldc, sC, BATCH),
                             0);
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one, pa, lda, sA,
                                                          (const float *)(uintptr_t)sb, ldb, sB, &half, pc,
                                                          ldc, sC, BATCH),
                             0);
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one, pa, lda, sA, pb, ldb, sB,
                                                          &half, (float *)(uintptr_t)sc, ldc, sC, BATCH),
                             0);
            /* a leading dimension under the minimum */
            ck_assert_int_ne(cu.cublasSgemmStridedBatched(h, ta, tb, M, N, K, &one, pa, ra - 1, sA, pb, ldb,
                                                          sB, &half, pc, ldc, sC, BATCH),
                             0);
            download(C, dC, nc * 4);
            ck_assert_mem_eq(C, C0, nc * 4);
            dfree(sa);
            dfree(sb);
            dfree(sc);
            dfree(dA);
            dfree(dB);
            dfree(dC);
            free(A);
            free(B);
            free(C0);
            free(C);
        }
    ck_assert_int_eq(cu.cublasDestroy_v2(h), 0);
}
END_TEST

/* ---- 12: the context is current per thread ---------------------------------------------- */

/* On a thread that has not made the context current, as on a GPU: allocations, copies, memsets,
 * launches and synchronisation are CUDA_ERROR_INVALID_CONTEXT, and work once it has. */
typedef struct {
    CUdeviceptr d;
    void *k;
} thread_arg;

static void *other_thread(void *arg) {
    CUdeviceptr d = ((thread_arg *)arg)->d, e = 0;
    void *k = ((thread_arg *)arg)->k;
    float x = 1.0f;
    size_t fr, tot;
    void *args[] = {&d};
    long bad = cu.cuMemAlloc_v2(&e, 64) == CU_INVALID_CONTEXT && cu.cuMemFree_v2(d) == CU_INVALID_CONTEXT &&
               cu.cuMemGetInfo_v2(&fr, &tot) == CU_INVALID_CONTEXT &&
               cu.cuMemcpyHtoD_v2(d, &x, 4) == CU_INVALID_CONTEXT &&
               cu.cuMemcpyDtoH_v2(&x, d, 4) == CU_INVALID_CONTEXT &&
               cu.cuMemsetD32_v2(d, 0, 1) == CU_INVALID_CONTEXT &&
               launch(k, 1, 1, 1, 1, 1, 1, 0, args) == CU_INVALID_CONTEXT &&
               cu.cuCtxSynchronize() == CU_INVALID_CONTEXT;
    if (!bad) return (void *)1;
    void *ctx = NULL;
    if (cu.cuDevicePrimaryCtxRetain(&ctx, 0) || cu.cuCtxSetCurrent(ctx)) return (void *)2;
    x = 3.0f;
    if (cu.cuMemAlloc_v2(&e, 64) || cu.cuMemcpyHtoD_v2(d, &x, 4) || launch(k, 1, 1, 1, 1, 1, 1, 0, args) ||
        cu.cuCtxSynchronize() || cu.cuMemFree_v2(e))
        return (void *)3;
    return NULL;
}

START_TEST(test_context_per_thread) {
    ck_assert_int_eq(emu_init(), CU_OK);
    static const char src[] = "extern \"C\" __global__ void nop(float *p) { (void)p; }\n";
    thread_arg a = {dalloc(4), kernel(src, "nop")}; /* loaded here, where the context is current */
    CUdeviceptr d = a.d;
    pthread_t th;
    void *res = (void *)-1;
    ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &a), 0);
    ck_assert_int_eq(pthread_join(th, &res), 0);
    ck_assert_msg(res == NULL, "second thread: step %ld failed", (long)(intptr_t)res);
    float x = 0.0f;
    download(&x, d, 4);
    ck_assert(x == 3.0f); /* the second thread's copy landed */
    dfree(d);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_emu_mem");
    TCase *tc = emu_tcase("cuda emulator memory (copies, guard page, poisoning, shared memory, memory "
                          "limit, cuBLAS, context per thread)");
    if (!tc) return s;
    tcase_add_test(tc, test_copy_bounds);
    tcase_add_test(tc, test_guard_page);
    tcase_add_test(tc, test_canaries);
    tcase_add_test(tc, test_poisoned_memory);
    tcase_add_test(tc, test_big_shared_memory);
    tcase_add_test(tc, test_memory_limit);
    tcase_add_test(tc, test_sgemm);
    tcase_add_test(tc, test_context_per_thread);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
