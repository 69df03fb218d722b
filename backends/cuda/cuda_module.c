/* backends/cuda/cuda_module.c - compiling kernel sources with NVRTC, caching the
 * results in memory and on disk, and launching kernels.
 *
 * A module (one kernel source of cuda_sources.c) is compiled on first use for
 * the GPU present. The image is cached on disk under $NABLA_CUDA_CACHE (else
 * $XDG_CACHE_HOME/nabla/cuda, else ~/.cache/nabla/cuda; an empty
 * NABLA_CUDA_CACHE turns the disk cache off), in a file named by a 128-bit
 * hash of the source and compile options, the architecture and the NVRTC
 * version. Files are written to a unique temporary name and renamed into
 * place, so processes sharing the folder never see a partial file; each file
 * carries a checksum, and a bad one is simply recompiled and replaced. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/cuda/cuda_internal.h"

static atomic_uint_fast64_t compiles;

uint64_t nb_cu_compile_count(void) { return atomic_load(&compiles); }

/* ---- NVRTC ---------------------------------------------------------------------------- */

/* Options every compile uses (part of the cache key). */
static const char *const base_opts[] = {"--std=c++17", "--fmad=true", "-DNB_CUDA_RTC=1"};
#define NB_NBASE (int)(sizeof base_opts / sizeof *base_opts)

int nb_cu_compile(const char *src, const char *name, int arch, int cubin, char **out, size_t *len,
                  char **log) {
    *out = NULL;
    *len = 0;
    if (log) *log = NULL;
    const nb_cu_nvrtc *rt = nb_cu_nvrtc_get();
    if (!rt) return -1;
    if (cubin && !rt->nvrtcGetCUBIN) cubin = 0;
    atomic_fetch_add(&compiles, 1);
    nvrtcProgram prog;
    int rc = rt->nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
    if (rc != 0)
        return nb_set_error("cuda: nvrtcCreateProgram(%s): %s", name, rt->nvrtcGetErrorString(rc)),
               -1;
    char archopt[64];
    snprintf(archopt, sizeof archopt, "--gpu-architecture=%s_%d", cubin ? "sm" : "compute", arch);
    const char *opts[NB_NBASE + 1];
    for (int i = 0; i < NB_NBASE; i++) opts[i] = base_opts[i];
    opts[NB_NBASE] = archopt;
    int crc = rt->nvrtcCompileProgram(prog, NB_NBASE + 1, opts);
    size_t lsz = 0;
    char *lg = NULL;
    if (rt->nvrtcGetProgramLogSize(prog, &lsz) == 0 && lsz > 0 && (lg = malloc(lsz + 1))) {
        if (rt->nvrtcGetProgramLog(prog, lg) != 0) lg[0] = '\0';
        lg[lsz] = '\0';
    }
    int ret = -1;
    if (crc != 0) {
        nb_set_error("cuda: compiling %s for %s_%d failed (%s): %.700s", name,
                     cubin ? "sm" : "compute", arch, rt->nvrtcGetErrorString(crc),
                     lg ? lg : "(no log)");
    } else {
        size_t n = 0;
        int g = cubin ? rt->nvrtcGetCUBINSize(prog, &n) : rt->nvrtcGetPTXSize(prog, &n);
        char *img = g == 0 && n > 0 ? malloc(n) : NULL;
        if (!img) {
            nb_set_error("cuda: compiling %s: no output from NVRTC (%zu bytes)", name, n);
        } else if ((cubin ? rt->nvrtcGetCUBIN(prog, img) : rt->nvrtcGetPTX(prog, img)) != 0) {
            free(img);
            nb_set_error("cuda: compiling %s: cannot read NVRTC's output", name);
        } else {
            *out = img;
            *len = n;
            ret = 0;
        }
    }
    rt->nvrtcDestroyProgram(&prog);
    if (log) *log = lg;
    else free(lg);
    return ret;
}

/* ---- disk cache -------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A second, independent 64-bit hash (murmur-style mixing of 8-byte words). */
static uint64_t mix64(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        size_t m = n - i < 8 ? n - i : 8;
        memcpy(&w, s + i, m);
        w *= 0xff51afd7ed558ccdULL;
        w ^= w >> 33;
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 29;
    }
    return h;
}

char *nb_cu_cache_name(const char *src, int arch, int cubin, char *buf, size_t len) {
    uint64_t h1 = fnv1a(0xcbf29ce484222325ULL, src, strlen(src));
    uint64_t h2 = mix64(src, strlen(src));
    for (int i = 0; i < NB_NBASE; i++) {
        h1 = fnv1a(h1, base_opts[i], strlen(base_opts[i]) + 1);
        h2 ^= mix64(base_opts[i], strlen(base_opts[i])) + (uint64_t)i;
    }
    const nb_cu_nvrtc *rt = nb_cu_nvrtc_get();
    int maj = rt ? rt->major : 0, min = rt ? rt->minor : 0;
    snprintf(buf, len, "%016llx%016llx-%s_%d-nvrtc%d.%d.%s", (unsigned long long)h1,
             (unsigned long long)h2, cubin ? "sm" : "compute", arch, maj, min,
             cubin ? "cubin" : "ptx");
    return buf;
}

char *nb_cu_cache_dir(char *buf, size_t len) {
    const char *e = getenv("NABLA_CUDA_CACHE");
    if (e) {
        if (!*e) return NULL; /* disabled */
        snprintf(buf, len, "%s", e);
        return buf;
    }
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) {
        snprintf(buf, len, "%s/nabla/cuda", x);
        return buf;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) return NULL;
    snprintf(buf, len, "%s/.cache/nabla/cuda", home);
    return buf;
}

/* mkdir -p; 0 when the folder exists afterwards. */
static int make_dirs(const char *path) {
    char tmp[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            tmp[i] = c;
        }
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static const char cache_magic[8] = {'N', 'B', 'C', 'U', 'D', 'A', '1', '\n'};

/* The payload of a cache file, or NULL when absent or damaged. */
static char *cache_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char hdr[24];
    char *img = NULL;
    if (fread(hdr, 1, sizeof hdr, f) == sizeof hdr && memcmp(hdr, cache_magic, 8) == 0) {
        uint64_t n, sum;
        memcpy(&n, hdr + 8, 8);
        memcpy(&sum, hdr + 16, 8);
        if (n > 0 && n < ((uint64_t)1 << 31) && (img = malloc((size_t)n + 1))) {
            int extra = 0;
            if (fread(img, 1, (size_t)n, f) != (size_t)n || fread(&extra, 1, 1, f) != 0 ||
                fnv1a(0xcbf29ce484222325ULL, img, (size_t)n) != sum) {
                free(img);
                img = NULL;
            } else {
                img[n] = '\0';
                *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return img;
}

/* Writes via a unique temporary file and rename; failures only lose the cache. */
static void cache_write(const char *dir, const char *path, const char *img, size_t len) {
    if (make_dirs(dir)) return;
    static atomic_uint counter;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return;
    unsigned char hdr[24];
    uint64_t n = len, sum = fnv1a(0xcbf29ce484222325ULL, img, len);
    memcpy(hdr, cache_magic, 8);
    memcpy(hdr + 8, &n, 8);
    memcpy(hdr + 16, &sum, 8);
    int ok = write(fd, hdr, sizeof hdr) == (ssize_t)sizeof hdr;
    for (size_t at = 0; ok && at < len;) {
        ssize_t w = write(fd, img + at, len - at);
        if (w <= 0) ok = 0;
        else at += (size_t)w;
    }
    if (close(fd) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

char *nb_cu_cached_image(const char *src, const char *name, int arch, int cubin, int fresh,
                         size_t *len, int *from_disk) {
    const nb_cu_nvrtc *rt = nb_cu_nvrtc_get();
    if (!rt) return NULL;
    if (cubin && !rt->nvrtcGetCUBIN) cubin = 0;
    if (from_disk) *from_disk = 0;
    char dir[900], file[160], path[1100];
    int use_disk = nb_cu_cache_dir(dir, sizeof dir) != NULL;
    if (use_disk) {
        nb_cu_cache_name(src, arch, cubin, file, sizeof file);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!fresh) {
            char *img = cache_read(path, len);
            if (img) {
                if (from_disk) *from_disk = 1;
                return img;
            }
        }
    }
    char *img;
    if (nb_cu_compile(src, name, arch, cubin, &img, len, NULL)) return NULL;
    if (use_disk) cache_write(dir, path, img, *len);
    return img;
}

/* ---- modules and launches ---------------------------------------------------------------------- */

#define NB_CU_MAXFN 24

typedef struct {
    CUmodule mod;
    int nfn;
    char fname[NB_CU_MAXFN][40];
    CUfunction fn[NB_CU_MAXFN];
} module;

static module mods[NB_CU_MOD_COUNT];
static pthread_mutex_t mod_mu = PTHREAD_MUTEX_INITIALIZER;

/* Loads module m (lock held); 0 or -1 with error. */
static int load_module(int m) {
    int n;
    const nb_cu_source *srcs = nb_cuda_kernel_sources(&n);
    if (!srcs || m < 0 || m >= n) return nb_set_error("cuda: no kernel module %d", m), -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t len;
        int disk;
        char *img = nb_cu_cached_image(srcs[m].text, srcs[m].name, nb_cu.arch, nb_cu.cubin,
                                       attempt, &len, &disk);
        if (!img) return -1;
        CUresult rc = nb_cu.cu.cuModuleLoadData(&mods[m].mod, img);
        free(img);
        if (rc == NB_CU_SUCCESS) return 0;
        if (disk) continue; /* a stale or damaged cache file: compile afresh */
        char what[256];
        snprintf(what, sizeof what,
                 "loading kernel module %s (compiled by NVRTC for %s_%d; is the driver older "
                 "than the NVRTC library?)",
                 srcs[m].name, nb_cu.cubin ? "sm" : "compute", nb_cu.arch);
        return nb_cu_fail(what, rc);
    }
    return -1;
}

CUfunction nb_cu_function(int m, const char *kname) {
    if (m < 0 || m >= NB_CU_MOD_COUNT) return nb_set_error("cuda: no kernel module %d", m);
    pthread_mutex_lock(&mod_mu);
    CUfunction f = NULL;
    module *md = &mods[m];
    if (!md->mod && load_module(m)) goto out;
    for (int i = 0; i < md->nfn; i++)
        if (strcmp(md->fname[i], kname) == 0) {
            f = md->fn[i];
            goto out;
        }
    CUresult rc = nb_cu.cu.cuModuleGetFunction(&f, md->mod, kname);
    if (rc != NB_CU_SUCCESS) {
        char what[128];
        snprintf(what, sizeof what, "kernel %s not found", kname);
        nb_cu_fail(what, rc);
        f = NULL;
        goto out;
    }
    if (md->nfn < NB_CU_MAXFN && strlen(kname) < sizeof md->fname[0]) {
        snprintf(md->fname[md->nfn], sizeof md->fname[0], "%s", kname);
        md->fn[md->nfn++] = f;
    }
out:
    pthread_mutex_unlock(&mod_mu);
    return f;
}

int nb_cu_launch2(CUfunction f, unsigned gx, unsigned gy, unsigned block, unsigned smem,
                  void **args) {
    if (!f) return -1;
    if (gx == 0 || gy == 0) return 0;
    CUresult rc = nb_cu.cu.cuLaunchKernel(f, gx, gy, 1, block, 1, 1, smem, nb_cu.stream, args, NULL);
    return rc == NB_CU_SUCCESS ? 0 : nb_cu_fail("launching a kernel", rc);
}

int nb_cu_launch(CUfunction f, unsigned grid, unsigned block, unsigned smem, void **args) {
    return nb_cu_launch2(f, grid, 1, block, smem, args);
}

void nb_cu_modules_release(void) {
    pthread_mutex_lock(&mod_mu);
    memset(mods, 0, sizeof mods); /* the primary context owns the modules */
    pthread_mutex_unlock(&mod_mu);
}
