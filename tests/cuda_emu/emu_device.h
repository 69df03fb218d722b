/* tests/cuda_emu/emu_device.h - the device side of the CUDA emulator: what a kernel
 * source of backends/cuda/ needs to compile as host C++ (g++) and run on the CPU.
 *
 * The emulator (tests/cuda_emu/emu_driver.c) prepends this header to each kernel
 * module's preprocessed source and builds it into a shared library. A launch
 * runs the grid block by block; the threads of a block are fibers (ucontext)
 * scheduled round robin, each running until it finishes or waits at a barrier:
 *   - __syncthreads() waits until every live thread of the block has arrived;
 *   - warp shuffles and __syncwarp() wait for the 32 lanes of the warp.
 * So code that reads another thread's shared memory or register without the
 * barrier a GPU needs reads stale values here and fails its test; a barrier
 * that not every thread reaches (divergent __syncthreads, a shuffle after some
 * lanes of the warp returned) is reported as an error, not silently run.
 * Dynamic shared memory is filled with NaN bytes at every block start, so a
 * kernel reading shared memory it never wrote gets NaN, not a lucky zero. */
#ifndef NB_EMU_DEVICE_H
#define NB_EMU_DEVICE_H

/* the fibers switch stacks with _longjmp, which a fortified build (on by default in some
 * distributions' compilers) refuses as "longjmp causes uninitialized stack frame" */
#undef _FORTIFY_SOURCE

#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...) /* a hint for the register allocator: nothing to do here */
#define __noinline__
#define __restrict__ __restrict
/* static shared memory lives in one section, poisoned (NaN bytes) at every block start */
#define __shared__   static __attribute__((section("nb_emu_shared")))
#define __align__(n) alignas(n)

struct dim3 {
    unsigned x, y, z;
};
static dim3 threadIdx, blockIdx, blockDim, gridDim;
static const int warpSize = 32;
static unsigned char *nb_emu_dsmem; /* the block's dynamic shared memory */

namespace nbemu {

enum { RUN, AT_BLOCK, AT_WARP, DONE };

/* A fiber is a worker started once (makecontext) that then runs thread after thread; switches
 * between fibers and the scheduler are _setjmp/_longjmp, which, unlike swapcontext, make no
 * system call (the signal mask is left alone). */
struct fiber {
    jmp_buf env;
    int state;
};

static const size_t stack_size = 256 * 1024;
static jmp_buf sched;
static fiber *fibers;
static unsigned char *stacks;
static unsigned cap, started, nthreads, cur;
static unsigned char slot[32][32][8]; /* [warp][lane]: values passed by shuffles */
static void (*entry)(void **);
static void **entry_params;
static char errmsg[512];
static int failed;
/* NB_EMU_SEED=n (not 0): blocks, and the threads of each round, run in a random order drawn
 * from n, so that code which is only right in one order (a race between blocks or threads
 * that the natural order happens to win) fails. NB_EMU_SEED=reverse runs them last to first:
 * of a writer and a reader missing the barrier between them, one of the two orders, natural
 * or reversed, runs the reader first. */
static uint64_t seed;
static int reverse;
static unsigned *order; /* the threads' order in the current block */

static uint64_t next_random(void) {
    seed ^= seed >> 12;
    seed ^= seed << 25;
    seed ^= seed >> 27;
    return seed * 0x2545F4914F6CDD1DULL;
}

template <typename T> static void shuffle(T *a, unsigned long long n) {
    for (unsigned long long i = n; i > 1; i--) {
        unsigned long long j = next_random() % i;
        T t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static void fail(const char *msg) {
    if (!failed) snprintf(errmsg, sizeof errmsg, "%s", msg);
    failed = 1;
}

/* Parks the running fiber in state st and returns to the scheduler. */
static void wait_as(int st) {
    fibers[cur].state = st;
    if (!_setjmp(fibers[cur].env)) _longjmp(sched, 1);
}

static void worker(void) {
    for (;;) {
        wait_as(DONE); /* ready; resumed when given a thread to run */
        entry(entry_params);
    }
}

/* Makes sure fibers 0..n-1 exist and are parked, ready for a thread. */
static int start_fibers(unsigned n) {
    if (n > cap) {
        free(fibers);
        free(stacks);
        free(order);
        fibers = (fiber *)calloc(n, sizeof *fibers);
        stacks = (unsigned char *)malloc((size_t)n * stack_size);
        order = (unsigned *)malloc(n * sizeof *order);
        cap = fibers && stacks && order ? n : 0;
        started = 0;
        if (!cap) return -1;
    }
    for (; started < n; started++) {
        static ucontext_t here, fc;
        getcontext(&fc);
        fc.uc_stack.ss_sp = stacks + (size_t)started * stack_size;
        fc.uc_stack.ss_size = stack_size;
        fc.uc_link = NULL;
        makecontext(&fc, worker, 0);
        cur = started;
        if (!_setjmp(sched)) swapcontext(&here, &fc); /* runs to its first park */
    }
    return 0;
}

static void set_thread(unsigned t) {
    cur = t;
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

static void resume(unsigned t) {
    set_thread(t);
    if (!_setjmp(sched)) _longjmp(fibers[t].env, 1);
}

/* Releases the warps and block barriers that can go on; 0 when none can (a deadlock). */
static int release(void) {
    int any = 0;
    for (unsigned w = 0; w * 32 < nthreads; w++) {
        unsigned lo = w * 32, hi = lo + 32 < nthreads ? lo + 32 : nthreads, at = 0, done = 0;
        for (unsigned t = lo; t < hi; t++) {
            at += fibers[t].state == AT_WARP;
            done += fibers[t].state == DONE;
        }
        if (at && done) {
            fail("a warp shuffle or __syncwarp after some lanes of the warp returned");
            return 0;
        }
        if (at && at == hi - lo) {
            for (unsigned t = lo; t < hi; t++)
                fibers[t].state = RUN;
            any = 1;
        }
    }
    if (any) return 1;
    unsigned at = 0, live = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        live += fibers[t].state != DONE;
        at += fibers[t].state == AT_BLOCK;
    }
    if (live && at == live) {
        for (unsigned t = 0; t < nthreads; t++)
            if (fibers[t].state == AT_BLOCK) fibers[t].state = RUN;
        return 1;
    }
    fail("deadlock: some threads wait at __syncthreads while others wait at a warp "
         "shuffle (a barrier not every thread reaches)");
    return 0;
}

/* Runs one block: every thread from its start, then round after round of whoever may go on. */
static int run_block(void) {
    int rc = 0;
    for (unsigned t = 0; t < nthreads; t++)
        order[t] = reverse ? nthreads - 1 - t : t;
    if (seed) shuffle(order, nthreads);
    for (unsigned i = 0; i < nthreads && !failed; i++)
        resume(order[i]);
    for (;;) {
        if (failed) {
            rc = -1;
            break;
        }
        unsigned live = 0;
        for (unsigned t = 0; t < nthreads; t++)
            live += fibers[t].state != DONE;
        if (!live) break;
        if (!release()) {
            rc = -1;
            break;
        }
        if (seed) shuffle(order, nthreads);
        for (unsigned i = 0; i < nthreads && !failed; i++)
            if (fibers[order[i]].state == RUN) resume(order[i]);
    }
    if (rc) started = 0; /* fibers left mid-kernel are started afresh next time */
    return rc;
}

static unsigned lane(void) { return cur & 31; }
static unsigned warp(void) { return cur >> 5; }

template <typename T> static T shfl(T v, int src, bool keep_own) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    const unsigned w = warp(), l = lane();
    memcpy(slot[w][l], &v, sizeof v);
    wait_as(AT_WARP);
    T r = v;
    if (!keep_own) {
        if (src < 0 || src > 31 || w * 32 + (unsigned)src >= nthreads)
            fail("a warp shuffle reads a lane that does not exist");
        else
            memcpy(&r, slot[w][src], sizeof r);
    }
    wait_as(AT_WARP); /* nobody overwrites its slot before everyone has read */
    return r;
}

} /* namespace nbemu */

/* ---- the CUDA built-ins the kernel sources use ---------------------------------------------- */

static inline void __syncthreads(void) { nbemu::wait_as(nbemu::AT_BLOCK); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    (void)mask;
    nbemu::wait_as(nbemu::AT_WARP);
}

template <typename T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    (void)mask;
    const int l = (int)nbemu::lane();
    return nbemu::shfl(v, (l & ~(width - 1)) + (src & (width - 1)), false);
}
template <typename T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    (void)mask;
    const int l = (int)nbemu::lane();
    const bool own = (l & (width - 1)) + (int)d >= width;
    return nbemu::shfl(v, own ? l : l + (int)d, own);
}
template <typename T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) {
    (void)mask;
    const int l = (int)nbemu::lane();
    const bool own = (l & (width - 1)) < (int)d;
    return nbemu::shfl(v, own ? l : l - (int)d, own);
}
template <typename T> static inline T __shfl_xor_sync(unsigned mask, T v, int m, int width = 32) {
    (void)mask;
    const int l = (int)nbemu::lane(), s = l ^ m;
    const bool own = (s & ~(width - 1)) > (l & ~(width - 1)); /* an earlier group may be read */
    return nbemu::shfl(v, own ? l : s, own);
}

template <typename T> static inline T atomicAdd(T *p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
template <typename T> static inline T atomicMin(T *p, T v) {
    T old = *p;
    if (v < old) *p = v;
    return old;
}
template <typename T> static inline T atomicMax(T *p, T v) {
    T old = *p;
    if (v > old) *p = v;
    return old;
}
template <typename T> static inline T atomicExch(T *p, T v) {
    T old = *p;
    *p = v;
    return old;
}
template <typename T> static inline T atomicCAS(T *p, T cmp, T v) {
    T old = *p;
    if (old == cmp) *p = v;
    return old;
}

static inline float __int_as_float(int v) {
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}
static inline int __float_as_int(float f) {
    int v;
    memcpy(&v, &f, sizeof v);
    return v;
}
static inline float __uint_as_float(unsigned v) {
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}
static inline unsigned __float_as_uint(float f) {
    unsigned v;
    memcpy(&v, &f, sizeof v);
    return v;
}
/* The modules are built with FMA contraction where NVRTC would contract (--fmad=true, its
 * default): a*b+c may become one fused operation, as on the GPU. These intrinsics round each
 * operation on its own, as on the GPU: the empty asm hides their operands and result from the
 * optimiser, so none can be fused with the operation before or after. */
#if defined(__x86_64__) || defined(__i386__)
#define NBEMU_ROUNDED(r) __asm__("" : "+x"(r))
#elif defined(__aarch64__)
#define NBEMU_ROUNDED(r) __asm__("" : "+w"(r))
#else
#define NBEMU_ROUNDED(r) __asm__("" : "+m"(r))
#endif
static inline float __fadd_rn(float a, float b) {
    NBEMU_ROUNDED(a); /* an operand computed by a plain a*b cannot be fused in either */
    NBEMU_ROUNDED(b);
    float r = a + b;
    NBEMU_ROUNDED(r);
    return r;
}
static inline float __fsub_rn(float a, float b) {
    NBEMU_ROUNDED(a); /* an operand computed by a plain a*b cannot be fused in either */
    NBEMU_ROUNDED(b);
    float r = a - b;
    NBEMU_ROUNDED(r);
    return r;
}
static inline float __fmul_rn(float a, float b) {
    NBEMU_ROUNDED(a); /* an operand computed by a plain a*b cannot be fused in either */
    NBEMU_ROUNDED(b);
    float r = a * b;
    NBEMU_ROUNDED(r);
    return r;
}
static inline double __dadd_rn(double a, double b) {
    NBEMU_ROUNDED(a); /* an operand computed by a plain a*b cannot be fused in either */
    NBEMU_ROUNDED(b);
    double r = a + b;
    NBEMU_ROUNDED(r);
    return r;
}
static inline double __dmul_rn(double a, double b) {
    NBEMU_ROUNDED(a); /* an operand computed by a plain a*b cannot be fused in either */
    NBEMU_ROUNDED(b);
    double r = a * b;
    NBEMU_ROUNDED(r);
    return r;
}
static inline float __fdividef(float a, float b) { return a / b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
template <typename T> static inline T __ldg(const T *p) { return *p; }

/* ---- launching: the table of kernels and the entry point the driver calls ------------------- */

namespace nbemu {

struct kernel {
    const char *name;
    void (*call)(void **params);
};

template <typename... A, std::size_t... I>
static void call_with(void (*f)(A...), void **p, std::index_sequence<I...>) {
    f(*static_cast<std::remove_cv_t<A> *>(p[I])...);
}
template <typename... A> static void call(void (*f)(A...), void **p) {
    call_with(f, p, std::index_sequence_for<A...>{});
}

} /* namespace nbemu */

#define NB_EMU_KERNEL(name)                                                                                  \
    {                                                                                                        \
#name, [](void **p) { nbemu::call(name, p); }                                                        \
    }

/* Defined after the kernels by the generated part of the module. */
extern const nbemu::kernel nb_emu_table[];
extern const int nb_emu_table_len;

extern "C" int nb_emu_kernel_index(const char *name) {
    for (int i = 0; i < nb_emu_table_len; i++)
        if (strcmp(nb_emu_table[i].name, name) == 0) return i;
    return -1;
}

/* the bounds of the static shared memory section (the linker defines them; weak: a module may
 * have none) */
extern "C" unsigned char __start_nb_emu_shared __attribute__((weak));
extern "C" unsigned char __stop_nb_emu_shared __attribute__((weak));

/* Runs kernel k on grid g with blocks b; 0, or -1 with the reason in err. */
extern "C" int nb_emu_launch(int k, const unsigned *g, const unsigned *b, unsigned smem, void **params,
                             char *err, size_t errlen) {
    using namespace nbemu;
    const unsigned nt = b[0] * b[1] * b[2];
    if (k < 0 || k >= nb_emu_table_len || nt == 0 || nt > 1024) {
        snprintf(err, errlen, "bad launch (kernel %d, %u threads a block)", k, nt);
        return -1;
    }
    if (start_fibers(nt)) {
        snprintf(err, errlen, "out of host memory for %u fibers", nt);
        return -1;
    }
    unsigned char *dsm = NULL;
    if (smem && !(dsm = (unsigned char *)aligned_alloc(256, (smem + 255) / 256 * 256))) {
        snprintf(err, errlen, "out of host memory for %u bytes of shared memory", smem);
        return -1;
    }
    nb_emu_dsmem = dsm;
    nthreads = nt;
    failed = 0;
    entry = nb_emu_table[k].call;
    entry_params = params;
    blockDim = {b[0], b[1], b[2]};
    gridDim = {g[0], g[1], g[2]};
    static int seeded;
    if (!seeded) {
        const char *e = getenv("NB_EMU_SEED");
        reverse = e && strcmp(e, "reverse") == 0;
        seed = e && *e && !reverse ? strtoull(e, NULL, 10) : 0;
        seeded = 1;
    }
    const unsigned long long nb = (unsigned long long)g[0] * g[1] * g[2];
    unsigned long long *blocks = NULL;
    if (seed && (blocks = (unsigned long long *)malloc(nb * sizeof *blocks))) {
        for (unsigned long long i = 0; i < nb; i++)
            blocks[i] = i;
        shuffle(blocks, nb);
    }
    int rc = 0;
    for (unsigned long long i = 0; i < nb && !rc; i++) {
        const unsigned long long id = blocks ? blocks[i] : reverse ? nb - 1 - i : i;
        blockIdx = {(unsigned)(id % g[0]), (unsigned)(id / g[0] % g[1]), (unsigned)(id / g[0] / g[1])};
        if (dsm) memset(dsm, 0xff, smem);
        if (&__stop_nb_emu_shared > &__start_nb_emu_shared)
            memset(&__start_nb_emu_shared, 0xff, (size_t)(&__stop_nb_emu_shared - &__start_nb_emu_shared));
        rc = run_block();
    }
    free(blocks);
    free(dsm);
    nb_emu_dsmem = NULL;
    if (rc)
        snprintf(err, errlen, "kernel %s, block (%u,%u,%u), thread %u: %s", nb_emu_table[k].name, blockIdx.x,
                 blockIdx.y, blockIdx.z, cur, errmsg);
    return rc;
}

#endif
