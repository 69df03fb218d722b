/* tests/test_cuda_emu.c - the CUDA emulator of tests/cuda_emu tested on its own, through
 * its C entry points (see tests/cuda_emu/emu_test.h): its threads, barriers and warps.
 * Small kernels written here compile and run with their GPU meaning (block tree reduction,
 * warp shuffles, 2-D and 3-D grids), and every check the emulator promises here is shown to
 * catch the bug it is for: a reduction without __syncthreads, or a lane reading a
 * neighbour's shared memory without __syncwarp, reads stale/NaN values; a divergent
 * __syncthreads (half a warp there, half at a shuffle) and a shuffle after lanes returned
 * fail the launch with a sticky error (threads that returned before a __syncthreads do not,
 * as in PTX); compile errors and unknown kernel names are reported; a*b+c is contracted into
 * a fused multiply-add as NVRTC's --fmad=true allows, not with --fmad=false nor through the
 * _rn intrinsics. Cases that poison the
 * process (sticky errors) run in a child process of their own. Memory (copies, the guard
 * page, poisoning, shared memory limits, the memory limit) and cuBLAS are in
 * test_cuda_emu_mem.c. Without the emulator library the file is skipped. */
#include "tests/cuda_emu/emu_test.h"

/* 10: does not compile */
static const char SRC_BROKEN[] = KERNEL "broken(float *out) {\n"
                                        "    out[0] = nb_no_such_name;\n"
                                        "}\n";

/* ---- 1: block reduction with and without __syncthreads ----------------------------------- */

START_TEST(test_block_reduction) {
    enum { B = 256, G = 5, N = G * B - 37 };
    float *x = malloc(N * sizeof *x), want[G] = {0}, got[G];
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i % 13 + 1); /* small integers: every sum is exact */
        want[i / B] += x[i];
    }
    CUdeviceptr dx = dalloc(N * sizeof *x), dout = dalloc(sizeof got);
    upload(dx, x, N * sizeof *x);
    int n = N;
    void *f = kernel(SRC, "reduce");
    for (int dyn = 1; dyn >= 0; dyn--) {
        const char *where = dyn ? "dynamic" : "static";
        const unsigned smem = dyn ? B * sizeof(float) : 0;
        int sync = 1;
        void *args[] = {&dout, &dx, &n, &sync, &dyn};
        ck_assert_int_eq(launch(f, G, 1, 1, B, 1, 1, smem, args), CU_OK);
        download(got, dout, sizeof got);
        for (int b = 0; b < G; b++)
            ck_assert_msg(got[b] == want[b], "%s, block %d: %g, want %g", where, b, (double)got[b],
                          (double)want[b]);
        /* without the barriers every block reads partial sums not yet written: wrong in every
         * block (NaN from the poisoned dynamic shared memory, stale values from static) */
        sync = 0;
        ck_assert_int_eq(launch(f, G, 1, 1, B, 1, 1, smem, args), CU_OK);
        download(got, dout, sizeof got);
        for (int b = 0; b < G; b++) {
            ck_assert_msg(got[b] != want[b], "%s, block %d: the race went unseen (%g)", where, b,
                          (double)got[b]);
            if (dyn) ck_assert_msg(isnan(got[b]), "dynamic, block %d: %g, want NaN", b, (double)got[b]);
        }
    }
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK);
    dfree(dx);
    dfree(dout);
    free(x);
}
END_TEST

/* ---- 2: warp shuffles; shared memory between lanes needs __syncwarp ---------------------- */

START_TEST(test_warp_shuffles) {
    enum { B = 64, G = 3, N = B * G, W = N / 32 };
    float x[N], down[W], xor32[N], xor16[N], bcast[N], scan[N], xhi[N], bsub[N];
    long long rot[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)((i * 7) % 23) - 11.0f; /* integers: sums exact in any order */
    CUdeviceptr dx = dalloc(sizeof x), ddown = dalloc(sizeof down), dxor32 = dalloc(sizeof xor32),
                dxor16 = dalloc(sizeof xor16), dbcast = dalloc(sizeof bcast), dscan = dalloc(sizeof scan),
                drot = dalloc(sizeof rot), dxhi = dalloc(sizeof xhi), dbsub = dalloc(sizeof bsub);
    upload(dx, x, sizeof x);
    void *args[] = {&ddown, &dxor32, &dxor16, &dbcast, &dscan, &drot, &dxhi, &dbsub, &dx};
    ck_assert_int_eq(launch(kernel(SRC, "warp_ops"), G, 1, 1, B, 1, 1, 0, args), CU_OK);
    download(down, ddown, sizeof down);
    download(xor32, dxor32, sizeof xor32);
    download(xor16, dxor16, sizeof xor16);
    download(bcast, dbcast, sizeof bcast);
    download(scan, dscan, sizeof scan);
    download(rot, drot, sizeof rot);
    download(xhi, dxhi, sizeof xhi);
    download(bsub, dbsub, sizeof bsub);
    for (int w = 0; w < W; w++) {
        float sum = 0.0f, half[2] = {0.0f, 0.0f}, pre = 0.0f;
        for (int l = 0; l < 32; l++) {
            sum += x[w * 32 + l];
            half[l / 16] += x[w * 32 + l];
        }
        ck_assert_msg(down[w] == sum, "warp %d: __shfl_down_sync sum %g, want %g", w, (double)down[w],
                      (double)sum);
        for (int l = 0; l < 32; l++) {
            const int i = w * 32 + l;
            pre += x[i];
            ck_assert_msg(xor32[i] == sum, "thread %d: __shfl_xor_sync sum %g, want %g", i, (double)xor32[i],
                          (double)sum);
            ck_assert_msg(xor16[i] == half[l / 16], "thread %d: width-16 sum %g, want %g", i,
                          (double)xor16[i], (double)half[l / 16]);
            ck_assert_msg(bcast[i] == x[w * 32], "thread %d: broadcast %g, want %g", i, (double)bcast[i],
                          (double)x[w * 32]);
            ck_assert_msg(scan[i] == pre, "thread %d: __shfl_up_sync scan %g, want %g", i, (double)scan[i],
                          (double)pre);
            ck_assert_msg(bsub[i] == x[i - l % 8 + 3], "thread %d: broadcast in groups of 8 %g, want %g", i,
                          (double)bsub[i], (double)x[i - l % 8 + 3]);
            const float hi = x[l < 16 ? i : i - 16];
            ck_assert_msg(xhi[i] == hi, "thread %d: __shfl_xor_sync(16, width 16) %g, want %g", i,
                          (double)xhi[i], (double)hi);
            const long long src = w * 32 + (l + 1) % 32;
            ck_assert_msg(rot[i] == (src << 33) + src, "thread %d: 8-byte shuffle %lld", i, rot[i]);
        }
    }

    /* lanes exchanging through shared memory: right with __syncwarp, NaN reads without */
    float nb[N];
    CUdeviceptr dnb = dalloc(sizeof nb);
    void *f = kernel(SRC, "warp_neighbour");
    for (int sync = 1; sync >= 0; sync--) {
        void *a2[] = {&dnb, &sync};
        ck_assert_int_eq(launch(f, G, 1, 1, B, 1, 1, B * sizeof(float), a2), CU_OK);
        download(nb, dnb, sizeof nb);
        int wrong = 0;
        for (int i = 0; i < N; i++) {
            const float want = (float)((i % B) ^ 1);
            if (sync)
                ck_assert_msg(nb[i] == want, "thread %d: %g, want %g", i, (double)nb[i], (double)want);
            else
                wrong += isnan(nb[i]);
        }
        if (!sync) ck_assert_msg(wrong >= N / 2, "without __syncwarp only %d stale reads seen", wrong);
    }
    dfree(dnb);
    dfree(dx);
    dfree(ddown);
    dfree(dxor32);
    dfree(dxor16);
    dfree(dbcast);
    dfree(dscan);
    dfree(drot);
    dfree(dxhi);
    dfree(dbsub);
}
END_TEST

/* ---- 3, 4: barriers not every thread reaches: the launch fails, the error sticks --------- */

typedef struct {
    void *bad, *good; /* a launch of bad fails; good is a correct kernel (smem_peek) */
    int mode;         /* diverge's mode argument */
    CUdeviceptr out;
} sticky_case;

static int child_sticky(void *arg) {
    sticky_case *c = arg;
    void *args[] = {&c->out, &c->mode};
    EXPECT(launch(c->bad, 1, 1, 1, 32, 1, 1, 0, args) == CU_LAUNCH_FAILED);
    float h[32];
    EXPECT(cu.cuCtxSynchronize() == CU_LAUNCH_FAILED);
    EXPECT(cu.cuMemcpyDtoH_v2(h, c->out, sizeof h) == CU_LAUNCH_FAILED);
    EXPECT(cu.cuMemcpyHtoD_v2(c->out, h, sizeof h) == CU_LAUNCH_FAILED);
    EXPECT(cu.cuMemsetD32_v2(c->out, 0, 32) == CU_LAUNCH_FAILED);
    void *a2[] = {&c->out};
    EXPECT(launch(c->good, 1, 1, 1, 32, 1, 1, 32 * sizeof(float), a2) == CU_LAUNCH_FAILED);
    EXPECT(cu.cuCtxSynchronize() == CU_LAUNCH_FAILED);
    return 0;
}

/* Runs child_sticky for kernel bad in a child; asserts it held and that the emulator's
 * message contains why; the parent's context stays usable. */
static void check_sticky(const char *bad, int mode, const char *why) {
    sticky_case c = {kernel(SRC, bad), kernel(SRC, "smem_peek"), mode, dalloc(32 * sizeof(float))};
    void *a2[] = {&c.out};
    ck_assert_int_eq(launch(c.good, 1, 1, 1, 32, 1, 1, 32 * sizeof(float), a2), CU_OK);
    char out[4096];
    int st = in_child(child_sticky, &c, out, sizeof out);
    ASSERT_CHILD_OK(st, out);
    ck_assert_msg(strstr(out, why) && strstr(out, bad),
                  "the emulator's message should name %s and say '%s':\n%s", bad, why, out);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK); /* the error stayed in the child */
    ck_assert_int_eq(launch(c.good, 1, 1, 1, 32, 1, 1, 32 * sizeof(float), a2), CU_OK);
    dfree(c.out);
}

START_TEST(test_divergent_syncthreads_vs_shuffle) { check_sticky("diverge", 0, "deadlock"); }
END_TEST

/* Not an error, as in PTX (exit: "if the exiting threads are holding up the barrier, the
 * barrier is released"): threads that returned no longer count at __syncthreads, so a block
 * whose threads past the end return early before a barrier still runs. */
START_TEST(test_syncthreads_after_others_returned) {
    float got[32];
    CUdeviceptr out = dalloc(sizeof got);
    int mode = 1;
    void *args[] = {&out, &mode};
    ck_assert_int_eq(launch(kernel(SRC, "diverge"), 2, 1, 1, 32, 1, 1, 0, args), CU_OK);
    ck_assert_int_eq(cu.cuCtxSynchronize(), CU_OK);
    download(got, out, sizeof got);
    for (int t = 0; t < 32; t++)
        ck_assert_msg(t < 16 ? got[t] == (float)t : isnan(got[t]), "thread %d: %g", t, (double)got[t]);
    dfree(out);
}
END_TEST

START_TEST(test_shuffle_after_return) { check_sticky("shfl_after_return", 0, "returned"); }
END_TEST

/* ---- 10: compile errors and unknown names ----------------------------------------------- */

START_TEST(test_compile_error_and_missing_kernel) {
    ck_assert_int_eq(emu_init(), CU_OK);
    char *ptx, *log;
    int rc = compile(SRC_BROKEN, "emu_broken", &ptx, &log);
    ck_assert_int_eq(rc, NVRTC_ERROR_COMPILATION);
    ck_assert_ptr_null(ptx);
    ck_assert_msg(strstr(log, "error") && strstr(log, "nb_no_such_name"),
                  "the log should hold the compiler's error: %s", log);
    free(log);

    void *mod = NULL, *f = NULL;
    ck_assert_int_eq(cu.cuModuleLoadData(&mod, "// not a module\n"), CU_INVALID_IMAGE);
    ck_assert_int_eq(cu.cuModuleGetFunction(&f, module(SRC), "no_such_kernel"), CU_NOT_FOUND);
    ck_assert_int_eq(cu.cuModuleGetFunction(&f, module(SRC), "pok"), CU_NOT_FOUND);
    ck_assert_ptr_null(f);
}
END_TEST

/* ---- 12: 2-D and 3-D grids and blocks ---------------------------------------------------- */

static void check_grid(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
    const unsigned W = gx * bx, H = gy * by, D = gz * bz, n = W * H * D * 4;
    int *got = malloc(n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    CUdeviceptr d = dalloc(n * sizeof *got);
    void *args[] = {&d};
    ck_assert_int_eq(launch(kernel(SRC, "grid_ids"), gx, gy, gz, bx, by, bz, 0, args), CU_OK);
    download(got, d, n * sizeof *got);
    for (unsigned z = 0; z < D; z++)
        for (unsigned y = 0; y < H; y++)
            for (unsigned x = 0; x < W; x++) {
                const int *o = got + 4 * ((z * H + y) * W + x);
                const int blk = (int)(x / bx + 10 * (y / by) + 100 * (z / bz)),
                          thr = (int)(x % bx + 10 * (y % by) + 100 * (z % bz));
                ck_assert_msg(o[0] == blk && o[1] == thr && o[2] == (int)(gx + 10 * gy + 100 * gz) &&
                                  o[3] == (int)(bx + 10 * by + 100 * bz),
                              "grid (%u,%u,%u) block (%u,%u,%u), cell (%u,%u,%u): %d %d %d %d", gx, gy, gz,
                              bx, by, bz, x, y, z, o[0], o[1], o[2], o[3]);
            }
    dfree(d);
    free(got);
}

START_TEST(test_grid_2d_3d) {
    /* grid sides with a common factor: a blockIdx taken apart wrongly misses blocks */
    check_grid(4, 2, 1, 8, 4, 1); /* 2-D */
    check_grid(2, 4, 1, 5, 7, 1); /* 2-D, a block of 35 threads: a partial warp */
    check_grid(2, 2, 3, 5, 3, 2); /* 3-D */
}
END_TEST

/* ---- 13: FMA contraction, as NVRTC's --fmad ------------------------------------------------ */

/* a*b+c where a = b = 1 + 2^-12 and c = -(1 + 2^-11): rounded after the product it is 0 (the
 * product's 2^-24 is a tie, rounded to even), fused it is 2^-24 */
static const char SRC_FMA[] = KERNEL "madd(float *o, const float *x) {\n"
                                     "    o[0] = x[0] * x[1] + x[2];\n"
                                     "    o[1] = __fadd_rn(__fmul_rn(x[0], x[1]), x[2]);\n"
                                     "    o[2] = __fadd_rn(x[0] * x[1], x[2]);\n"
                                     "}\n";

static void *fma_modules[2]; /* kept in reach: the emulator never unloads modules */

static void run_madd(const char *opt, int which, float out[3]) {
    char *ptx, *log;
    ck_assert_int_eq(compile_with(SRC_FMA, "emu_fma", opt, &ptx, &log), 0);
    void *f = NULL;
    ck_assert_int_eq(cu.cuModuleLoadData(&fma_modules[which], ptx), CU_OK);
    ck_assert_int_eq(cu.cuModuleGetFunction(&f, fma_modules[which], "madd"), CU_OK);
    free(ptx);
    free(log);
    const float x[3] = {1.0f + 0x1p-12f, 1.0f + 0x1p-12f, -(1.0f + 0x1p-11f)};
    CUdeviceptr o = dalloc(3 * sizeof(float)), dx = dalloc(sizeof x);
    upload(dx, x, sizeof x);
    void *args[] = {&o, &dx};
    ck_assert_int_eq(launch(f, 1, 1, 1, 1, 1, 1, 0, args), CU_OK);
    download(out, o, 3 * sizeof(float));
    dfree(o);
    dfree(dx);
}

START_TEST(test_fma_contraction) {
    ck_assert_int_eq(emu_init(), CU_OK);
    unsetenv("NB_EMU_FMAD");
    float on[3], off[3];
    run_madd(NULL, 0, on); /* NVRTC's default, --fmad=true */
    run_madd("--fmad=false", 1, off);
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int host_fma = __builtin_cpu_supports("fma");
#else
    const int host_fma = 1;
#endif
    if (host_fma) /* fused, as a GPU may */
        ck_assert_msg(on[0] == 0x1p-24f, "a*b+c by default: %g, want 2^-24 (fused)", (double)on[0]);
    ck_assert_msg(off[0] == 0.0f, "a*b+c with --fmad=false: %g, want 0", (double)off[0]);
    /* the _rn intrinsics round every operation on its own either way */
    ck_assert_msg(on[1] == 0.0f && off[1] == 0.0f, "__fadd_rn(__fmul_rn()): %g / %g, want 0", (double)on[1],
                  (double)off[1]);
    /* and take no part in a fusion with a plain product given to them */
    ck_assert_msg(on[2] == 0.0f && off[2] == 0.0f, "__fadd_rn(a * b, c): %g / %g, want 0", (double)on[2],
                  (double)off[2]);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("cuda_emu");
    TCase *tc = emu_tcase("cuda emulator (barriers, shuffles, sticky errors, grids, compile errors)");
    if (!tc) return s;
    tcase_add_test(tc, test_block_reduction);
    tcase_add_test(tc, test_warp_shuffles);
    tcase_add_test(tc, test_divergent_syncthreads_vs_shuffle);
    tcase_add_test(tc, test_syncthreads_after_others_returned);
    tcase_add_test(tc, test_shuffle_after_return);
    tcase_add_test(tc, test_compile_error_and_missing_kernel);
    tcase_add_test(tc, test_grid_2d_3d);
    tcase_add_test(tc, test_fma_contraction);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
