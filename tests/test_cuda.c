/* tests/test_cuda.c - the CUDA backend on any machine: every kernel source the
 * library holds compiles with NVRTC to PTX for sm_80 and sm_90 (so a syntax or
 * type error in a kernel fails `make check` even without a GPU), every kernel
 * the host launches exists with the parameter layout the host passes, the
 * disk cache of compiled kernels works (atomic writes, damaged files), the
 * CUDA copy of the GELU helpers matches the CPU's, and asking for the cuda
 * device without a GPU fails with one clear message. Tests that need a GPU
 * are in tests/test_cuda_ops.c. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/backend.h"
#include "nabla.h"
#include "tests/nb_check.h"

#ifdef NB_WITH_CUDA
#include "backends/cuda/cuda_internal.h"
#include "backends/cuda/cuda_src.h"
#include "nabla/cuda.h"

/* ---- every source compiles, with no warning --------------------------------------------- */

static void compile_all(int arch) {
    int n = 0;
    const nb_cu_source *src = nb_cuda_kernel_sources(&n);
    ck_assert_msg(src != NULL, "%s", nb_last_error());
    ck_assert_int_eq(n, NB_CU_MOD_COUNT);
    ck_assert_msg(nb_cu_nvrtc_get() != NULL, "NVRTC must load where CUDA was built: %s", nb_last_error());
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char *ptx = NULL, *log = NULL;
        size_t len = 0;
        int rc = nb_cu_compile(src[i].text, src[i].name, arch, 0, &ptx, &len, &log);
        bool warned = log && (strstr(log, "warning") || strstr(log, "error"));
        if (rc || warned) {
            failed++;
            fprintf(stderr, "kernel module %s for compute_%d: %s\n%s\n", src[i].name, arch,
                    rc ? "FAILED" : "has warnings", log ? log : nb_last_error());
        } else {
            ck_assert_msg(len > 100 && strstr(ptx, ".entry"), "%s: no kernels in PTX", src[i].name);
        }
        free(ptx);
        free(log);
    }
    ck_assert_msg(failed == 0, "%d kernel module(s) failed to compile cleanly for compute_%d", failed, arch);
}

START_TEST(test_compile_sm80) { compile_all(80); }
END_TEST

START_TEST(test_compile_sm90) { compile_all(90); }
END_TEST

/* ---- kernel ABI: names and parameter sizes as the host launches them ---------------------- */

/* Parameter sizes of kernel `name` in `ptx` into sz[]; the count, or -1 when absent. */
static int ptx_params(const char *ptx, const char *name, int *sz, int max) {
    char key[96];
    snprintf(key, sizeof key, ".entry %s(", name);
    const char *p = strstr(ptx, key);
    if (!p) return -1;
    const char *end = strchr(p, ')');
    int n = 0;
    for (const char *q = strstr(p, ".param"); q && q < end && n < max; q = strstr(q + 1, ".param")) {
        const char *eol = strchr(q, '\n');
        const char *br = strchr(q, '[');
        if (br && eol && br < eol)
            sz[n++] = atoi(br + 1);
        else if (strncmp(q, ".param .u64", 11) == 0 || strncmp(q, ".param .f64", 11) == 0 ||
                 strncmp(q, ".param .b64", 11) == 0 || strncmp(q, ".param .s64", 11) == 0)
            sz[n++] = 8;
        else
            sz[n++] = 4;
    }
    return n;
}

#define G  (int)sizeof(nb_cu_geom)
#define RG (int)sizeof(nb_cu_rgeom)
#define AG (int)sizeof(nb_cu_ageom)
#define WG (int)sizeof(nb_cu_i2c)

typedef struct {
    int mod;
    const char *name;
    int n;
    int sz[12];
} abi;

static const abi abis[] = {
    {NB_CU_MOD_UN_GELU, "un_fwd_c", 5, {8, 8, G, 4, 4}},
    {NB_CU_MOD_UN_GELU, "un_fwd_s", 5, {8, 8, G, 4, 4}},
    {NB_CU_MOD_UN_GELU, "un_fwd_s32", 5, {8, 8, G, 4, 4}},
    {NB_CU_MOD_UN_EXP, "un_bwd_s", 7, {8, 8, 8, 8, G, 4, 4}},
    {NB_CU_MOD_BIN_ADD, "bin_fwd_c", 4, {8, 8, 8, G}},
    {NB_CU_MOD_BIN_POW, "bin_bwd_a_s", 5, {8, 8, 8, 8, G}},
    {NB_CU_MOD_BIN_POW, "bin_bwd_b_s32", 5, {8, 8, 8, 8, G}},
    {NB_CU_MOD_BIN_DIV, "bin_bwd_ab_c", 6, {8, 8, 8, 8, 8, G}},
    {NB_CU_MOD_MISC, "fill_f_s", 3, {8, G, 4}},
    {NB_CU_MOD_MISC, "fill_i_s32", 3, {8, G, 4}},
    {NB_CU_MOD_MISC, "copy_ff_s", 3, {8, 8, G}},
    {NB_CU_MOD_MISC, "copy_fi_c", 3, {8, 8, G}},
    {NB_CU_MOD_MISC, "copy_if_s32", 3, {8, 8, G}},
    {NB_CU_MOD_MISC, "copy_ii_s", 3, {8, 8, G}},
    {NB_CU_MOD_MISC, "random_c", 7, {8, G, 4, 4, 4, 8, 8}},
    {NB_CU_MOD_MISC, "where_s", 5, {8, 8, 8, 8, G}},
    {NB_CU_MOD_MISC, "tril_s", 6, {8, 8, G, 8, 8, 8}},
    {NB_CU_MOD_MISC, "axpy_s32", 4, {8, 8, G, 4}},
    {NB_CU_MOD_MISC, "arange_f", 5, {8, 8, 8, 8, 8}},
    {NB_CU_MOD_MISC, "arange_i", 5, {8, 8, 8, 8, 8}},
    {NB_CU_MOD_MISC, "arange_h", 6, {8, 8, 8, 8, 8, 4}},
    {NB_CU_MOD_MISC, "dropout", 7, {8, 8, 8, 4, 4, 8, 8}},
    {NB_CU_MOD_MISC, "adamw", 11, {8, 8, 8, 8, 8, 4, 4, 4, 4, 4, 4}},
    {NB_CU_MOD_REDUCE, "red_block", 7, {8, 8, 8, RG, 4, 8, 4}},
    {NB_CU_MOD_REDUCE, "red_thread", 8, {8, 8, 8, RG, 4, 8, 8, 4}},
    {NB_CU_MOD_REDUCE, "red_final", 5, {8, 8, RG, 4, 8}},
    {NB_CU_MOD_REDUCE, "argmax", 5, {8, 8, RG, 8, 8}},
    {NB_CU_MOD_INDEX, "index_select", 7, {8, 8, 8, G, 4, 8, 8}},
    {NB_CU_MOD_INDEX, "gather", 6, {8, 8, 8, G, 4, 8}},
    {NB_CU_MOD_INDEX, "scatter_add", 6, {8, 8, 8, G, G, 4}},
    {NB_CU_MOD_INDEX, "ia_count", 5, {8, 8, 8, 8, 8}},
    {NB_CU_MOD_INDEX, "ia_scan", 4, {8, 8, 8, 8}},
    {NB_CU_MOD_INDEX, "ia_fill", 6, {8, 8, 8, 8, 8, 8}},
    {NB_CU_MOD_INDEX, "ia_sort", 3, {8, 8, 8}},
    {NB_CU_MOD_INDEX, "ia_apply", 6, {8, 8, 8, 8, G, 4}},
    {NB_CU_MOD_NN, "softmax_fwd", 4, {8, 8, 8, 4}},
    {NB_CU_MOD_NN, "softmax_bwd", 5, {8, 8, 8, 8, 4}},
    {NB_CU_MOD_NN, "ln_fwd", 9, {8, 8, 8, 8, 8, 8, 8, 4, 4}},
    {NB_CU_MOD_NN, "ln_bwd_dx", 8, {8, 8, 8, 8, 8, 8, 8, 4}},
    {NB_CU_MOD_NN, "ln_bwd_part", 9, {8, 8, 8, 8, 8, 8, 8, 8, 8}},
    {NB_CU_MOD_NN, "ln_bwd_final", 6, {8, 8, 8, 8, 8, 8}},
    {NB_CU_MOD_NN, "ce_fwd", 7, {8, 8, 8, 8, 8, 8, 4}},
    {NB_CU_MOD_NN, "ce_final", 7, {8, 8, 8, 8, 8, 8, 4}},
    {NB_CU_MOD_NN, "ce_bwd", 7, {8, 8, 8, 8, 8, 8, 4}},
    {NB_CU_MOD_NN, "ce_fused", 8, {8, 8, 8, 8, 8, 8, 4, 4}},
    {NB_CU_MOD_NN, "ce_fused_final", 4, {8, 8, 8, 4}},
    {NB_CU_MOD_ATTN, "attn_fwd", 7, {8, 8, 8, 8, 8, AG, 4}},
    {NB_CU_MOD_ATTN, "attn_bwd_dq", 10, {8, 8, 8, 8, 8, 8, 8, 8, AG, 4}},
    {NB_CU_MOD_ATTN, "attn_bwd_dkdv", 10, {8, 8, 8, 8, 8, 8, 8, 8, AG, 4}},
    {NB_CU_MOD_WINDOW, "im2col", 3, {8, 8, WG}},
    {NB_CU_MOD_WINDOW, "col2im", 3, {8, 8, WG}},
    {NB_CU_MOD_WINDOW, "dwconv", 5, {8, 8, 8, WG, 8}},
    {NB_CU_MOD_WINDOW, "dwconv_dx", 5, {8, 8, 8, WG, 8}},
    {NB_CU_MOD_WINDOW, "dwconv_dw", 5, {8, 8, 8, WG, 8}},
    {NB_CU_MOD_WINDOW, "max_pool", 4, {8, 8, 8, WG}},
    {NB_CU_MOD_WINDOW, "max_pool_bwd", 4, {8, 8, 8, WG}},
    {NB_CU_MOD_LINALG, "lu_fact", 6, {8, 8, 8, 8, 8, 8}},
    {NB_CU_MOD_LINALG, "chol_fact", 5, {8, 8, 8, 8, 8}},
    {NB_CU_MOD_LINALG, "tri_solve", 8, {8, 8, 8, 8, 8, 4, 4, 4}},
    {NB_CU_MOD_LINALG, "lu_solve", 7, {8, 8, 8, 8, 8, 8, 4}},
    {NB_CU_MOD_LINALG, "eigh_sym", 6, {8, 8, 8, 8, 8, 8}},
    {NB_CU_MOD_LINALG, "qr_householder", 9, {8, 8, 8, 8, 8, 8, 8, 8, 8}},
    {NB_CU_MOD_LINALG, "svd_serial", 8, {8, 8, 8, 8, 8, 8, 8, 8}},
};

START_TEST(test_kernel_abi) {
    int n;
    const nb_cu_source *src = nb_cuda_kernel_sources(&n);
    ck_assert_ptr_nonnull(src);
    char *ptx[NB_CU_MOD_COUNT] = {NULL};
    for (size_t i = 0; i < sizeof abis / sizeof *abis; i++) {
        const abi *a = &abis[i];
        if (!ptx[a->mod]) {
            size_t len;
            ck_assert_msg(
                nb_cu_compile(src[a->mod].text, src[a->mod].name, 80, 0, &ptx[a->mod], &len, NULL) == 0, "%s",
                nb_last_error());
        }
        int sz[16];
        int got = ptx_params(ptx[a->mod], a->name, sz, 16);
        ck_assert_msg(got >= 0, "kernel %s missing from module %s", a->name, src[a->mod].name);
        ck_assert_msg(got == a->n, "kernel %s: %d parameters, the host passes %d", a->name, got, a->n);
        for (int k = 0; k < got; k++)
            ck_assert_msg(sz[k] == a->sz[k], "kernel %s parameter %d: %d bytes, host passes %d", a->name, k,
                          sz[k], a->sz[k]);
    }
    /* every elementwise module has the same kernels (the template) */
    for (int m = 0; m < NB_CU_MOD_MISC; m++) {
        char *p = NULL;
        size_t len;
        ck_assert_int_eq(nb_cu_compile(src[m].text, src[m].name, 80, 0, &p, &len, NULL), 0);
        const char *names[] = {"un_fwd_c", "un_fwd_s", "un_fwd_s32", "un_bwd_c", "un_bwd_s", "un_bwd_s32"};
        const char *bnames[] = {"bin_fwd_c",   "bin_fwd_s32",  "bin_bwd_a_s",
                                "bin_bwd_b_c", "bin_bwd_ab_s", "bin_bwd_ab_s32"};
        bool unary = m < NB_CU_MOD_BIN_ADD;
        int sz[16];
        for (int k = 0; k < 6; k++)
            ck_assert_msg(ptx_params(p, unary ? names[k] : bnames[k], sz, 16) > 0, "module %s lacks %s",
                          src[m].name, unary ? names[k] : bnames[k]);
        free(p);
    }
    for (int m = 0; m < NB_CU_MOD_COUNT; m++)
        free(ptx[m]);
}
END_TEST

/* ---- the disk cache ---------------------------------------------------------------------------- */

static char cache_dir[256];

static int count_files(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && (!needle || strstr(e->d_name, needle))) n++;
    closedir(d);
    return n;
}

static void rm_dir(const char *dir) { /* one level of plain files */
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

START_TEST(test_disk_cache) {
    snprintf(cache_dir, sizeof cache_dir, "/tmp/nb_cuda_cache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cache_dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/a/b", cache_dir); /* created on demand */
    setenv("NABLA_CUDA_CACHE", sub, 1);
    char dir[512];
    ck_assert_str_eq(nb_cu_cache_dir(dir, sizeof dir), sub);

    int n;
    const nb_cu_source *src = nb_cuda_kernel_sources(&n);
    const char *text = src[NB_CU_MOD_UN_NEG].text;
    uint64_t c0 = nb_cu_compile_count();
    size_t l1, l2, l3;
    int disk = -1;
    char *a = nb_cu_cached_image(text, "neg", 80, 0, 0, &l1, &disk);
    ck_assert_msg(a != NULL, "%s", nb_last_error());
    ck_assert_int_eq(disk, 0);
    ck_assert_uint_eq(nb_cu_compile_count(), c0 + 1);
    char name[160], path[600];
    nb_cu_cache_name(text, 80, 0, name, sizeof name);
    ck_assert_msg(strstr(name, "compute_80") && strstr(name, "nvrtc") && strstr(name, ".ptx"),
                  "cache name %s", name);
    snprintf(path, sizeof path, "%s/%s", sub, name);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);

    /* a second request is served from disk, byte for byte */
    char *b = nb_cu_cached_image(text, "neg", 80, 0, 0, &l2, &disk);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(disk, 1);
    ck_assert_uint_eq(nb_cu_compile_count(), c0 + 1);
    ck_assert_uint_eq(l1, l2);
    ck_assert_int_eq(memcmp(a, b, l1), 0);
    free(b);

    /* a damaged file is recompiled and replaced */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 40, SEEK_SET);
    fputs("garbage", f);
    fclose(f);
    char *c = nb_cu_cached_image(text, "neg", 80, 0, 0, &l3, &disk);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(disk, 0);
    ck_assert_uint_eq(nb_cu_compile_count(), c0 + 2);
    ck_assert_int_eq(memcmp(a, c, l1), 0);
    free(c);
    c = nb_cu_cached_image(text, "neg", 80, 0, 0, &l3, &disk);
    ck_assert_int_eq(disk, 1);
    free(c);

    /* other architectures and sources get other files */
    char name2[160];
    ck_assert_str_ne(nb_cu_cache_name(text, 90, 0, name2, sizeof name2), name);
    ck_assert_str_ne(nb_cu_cache_name(src[NB_CU_MOD_UN_EXP].text, 80, 0, name2, sizeof name2), name);

    /* two processes filling an empty cache at once both succeed; no temporary is left */
    unlink(path);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            size_t l;
            char *img = nb_cu_cached_image(text, "neg", 80, 0, 0, &l, NULL);
            int ok = img && l == l1 && memcmp(img, a, l) == 0;
            free(img);
            _exit(ok ? 0 : 1);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = -1;
        waitpid(kids[k], &status, 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", k);
    }
    ck_assert_int_eq(count_files(sub, ".tmp."), 0);
    ck_assert_int_eq(count_files(sub, NULL), 1);
    char *d = nb_cu_cached_image(text, "neg", 80, 0, 0, &l3, &disk);
    ck_assert_int_eq(disk, 1);
    ck_assert_int_eq(memcmp(a, d, l1), 0);
    free(d);
    free(a);

    /* an empty NABLA_CUDA_CACHE turns the disk cache off */
    setenv("NABLA_CUDA_CACHE", "", 1);
    ck_assert_ptr_null(nb_cu_cache_dir(dir, sizeof dir));
    unsetenv("NABLA_CUDA_CACHE");
    rm_dir(sub);
    snprintf(sub, sizeof sub, "%s/a", cache_dir);
    rmdir(sub);
    rmdir(cache_dir);
}
END_TEST

/* ---- a compile error is reported with the NVRTC log ---------------------------------------------- */

START_TEST(test_compile_error_reported) {
    char *out = (char *)1, *log = NULL;
    size_t len = 1;
    int rc = nb_cu_compile("extern \"C\" __global__ void k(float *x) { x[0] = undefined_name; }", "broken",
                           80, 0, &out, &len, &log);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(strstr(log, "undefined_name"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cuda: compiling broken for compute_80 failed"));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "undefined_name"));
    free(log);
}
END_TEST

/* ---- every kernel can be launched with 1024 threads a block ---------------------------------------- */

/* The host launches some kernels with 1024 threads a block (ce_final, the reductions' last
 * pass, rows of up to 256 by default), and a GPU refuses such a launch ("too many resources
 * requested") when a kernel needs more than 65536 / 1024 = 64 registers a thread; a kernel
 * declaring __launch_bounds__(n) (and launched with at most n) may use 65536 / n. ptxas, from the
 * toolkit, tells how many each kernel needs on sm_90; NVRTC does not. */
#define NB_PTXAS NB_CUDA_HOME "/bin/ptxas"

/* The most threads a block of kernel `fn` may have: its __launch_bounds__ (PTX's .maxntid after
 * the entry's parameters), else 1024. */
static int max_threads(const char *ptx, const char *fn) {
    char pat[160];
    snprintf(pat, sizeof pat, ".entry %s(", fn);
    const char *e = strstr(ptx, pat), *close = e ? strchr(e, ')') : NULL;
    if (!close) return 1024;
    close++;
    while (*close == ' ' || *close == '\n' || *close == '\t' || *close == '\r')
        close++;
    int n = 0;
    return strncmp(close, ".maxntid", 8) == 0 && sscanf(close + 8, "%d", &n) == 1 && n > 0 ? n : 1024;
}

START_TEST(test_registers_fit_1024_threads) {
    int n = 0;
    const nb_cu_source *src = nb_cuda_kernel_sources(&n);
    ck_assert_ptr_nonnull(src);
    char dir[] = "/tmp/nb_ptxas_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int kernels = 0, worst = 0;
    for (int i = 0; i < n; i++) {
        char *ptx = NULL, path[96], cmd[512], line[512], fn[128] = "?";
        size_t len = 0;
        ck_assert_msg(nb_cu_compile(src[i].text, src[i].name, 90, 0, &ptx, &len, NULL) == 0, "%s",
                      nb_last_error());
        snprintf(path, sizeof path, "%s/%s.ptx", dir, src[i].name);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(ptx, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "'%s' -arch=sm_90 -v '%s' -o /dev/null 2>&1", NB_PTXAS, path);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        while (fgets(line, sizeof line, p)) {
            const char *e = strstr(line, "Compiling entry function '"), *u = strstr(line, "Used ");
            if (e) sscanf(e + 26, "%127[^']", fn);
            if (u) {
                const int regs = atoi(u + 5), threads = max_threads(ptx, fn);
                kernels++;
                if (threads == 1024 && regs > worst) worst = regs;
                ck_assert_msg(regs * threads <= 65536,
                              "kernel %s of module %s needs %d registers a thread: a launch of %d threads "
                              "would fail on a GPU (65536 a block)",
                              fn, src[i].name, regs, threads);
            }
        }
        free(ptx);
        ck_assert_msg(pclose(p) == 0, "ptxas failed on module %s", src[i].name);
        unlink(path);
    }
    rmdir(dir);
    ck_assert_msg(kernels >= 100, "ptxas reported on %d kernels only", kernels);
    printf("test_registers_fit_1024_threads: %d kernels, at most %d registers a thread (those without launch "
           "bounds)\n",
           kernels, worst);
    /* the check reads the bounds: a kernel declaring 64 threads */
    ck_assert_int_eq(max_threads(".visible .entry k(\n\t.param .u64 k_0\n)\n.maxntid 64, 1, 1\n{", "k"), 64);
    ck_assert_int_eq(max_threads(".visible .entry k(\n\t.param .u64 k_0\n)\n{", "k"), 1024);
}
END_TEST

/* ---- without a GPU: one clear line ------------------------------------------------------------------ */

START_TEST(test_unavailable_message) {
    const char *why = NULL;
    bool ok = nb_cuda_available(&why);
    ck_assert_ptr_nonnull(why);
    nb_clear_error();
    const nb_backend *be = nb_backend_get(NB_CUDA);
    if (ok) {
        ck_assert_ptr_nonnull(be);
        ck_assert_str_eq(be->name, "cuda");
        return;
    }
    ck_assert_ptr_null(be);
    const char *e = nb_last_error();
    ck_assert_msg(strncmp(e, "cuda: ", 6) == 0, "message: %s", e);
    ck_assert_msg(strstr(e, "no NVIDIA driver found (libcuda.so.1 not loadable)") ||
                      strstr(e, "no GPU present") || strstr(e, "driver"),
                  "message: %s", e);
    ck_assert_ptr_null(strchr(e, '\n'));
    ck_assert_str_eq(e, why);
    /* the same line from an op that needs the device */
    nb_ctx *ctx = nb_ctx_new(0);
    nb_tensor *t = nb_ones(ctx, NB_F32, NB_SHAPE(2, 3));
    ck_assert_ptr_nonnull(t);
    nb_clear_error();
    ck_assert_ptr_null(nb_to_device(ctx, t, NB_CUDA));
    ck_assert_str_eq(nb_last_error(), why);
    ck_assert_int_eq(nb_cuda_synchronize(), -1);
    size_t u = 1, c = 1, p = 1;
    nb_cuda_memory_stats(&u, &c, &p);
    ck_assert_uint_eq(u + c + p, 0);
    nb_ctx_free(ctx);
}
END_TEST

START_TEST(test_tf32_switch) {
    bool before = nb_cuda_tf32_allowed();
    nb_cuda_allow_tf32(true);
    ck_assert(nb_cuda_tf32_allowed());
    nb_cuda_allow_tf32(false);
    ck_assert(!nb_cuda_tf32_allowed());
    nb_cuda_allow_tf32(before);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("nvrtc");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_compile_sm80);
    tcase_add_test(tc, test_compile_sm90);
    tcase_add_test(tc, test_kernel_abi);
    tcase_add_test(tc, test_compile_error_reported);
    tcase_add_test(tc, test_disk_cache);
    if (access(NB_PTXAS, X_OK) == 0)
        tcase_add_test(tc, test_registers_fit_1024_threads);
    else
        nb_test_skip("registers a thread (ptxas -v)", "no " NB_PTXAS " (the toolkit's assembler)");
    suite_add_tcase(s, tc);
    TCase *t2 = tcase_create("host");
    tcase_add_test(t2, test_unavailable_message);
    tcase_add_test(t2, test_tf32_switch);
    suite_add_tcase(s, t2);
    return s;
}

#else /* built without CUDA */

START_TEST(test_no_cuda_build) {
    ck_assert_ptr_null(nb_backend_get(NB_CUDA));
    ck_assert_ptr_nonnull(strstr(nb_last_error(), "cuda: this build of nabla has no CUDA backend"));
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("nocuda");
    tcase_add_test(tc, test_no_cuda_build);
    suite_add_tcase(s, tc);
    nb_test_skip("cuda kernel compile", "this build has no CUDA backend (make CUDA=0 or no toolkit)");
    return s;
}

#endif

NB_CHECK_MAIN()
