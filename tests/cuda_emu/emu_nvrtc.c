/* tests/cuda_emu/emu_nvrtc.c - the CUDA emulator's NVRTC (see emu_driver.c): a kernel
 * module's CUDA C source is preprocessed and translated to host C++ (the device side being
 * emu_device.h) and built with the host compiler ($NB_EMU_CXX, else g++) into a shared
 * library, cached under $NB_EMU_CACHE by a hash of the source, the options, the device
 * header and the compile commands; the "PTX" handed out names that library. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/cuda_emu/emu_internal.h"

#ifndef NB_EMU_RT_DIR
#define NB_EMU_RT_DIR "tests/cuda_emu"
#endif
#ifndef NB_EMU_DEFAULT_CACHE
#define NB_EMU_DEFAULT_CACHE "build/cuda_emu"
#endif

static const char ptx_magic[] = EMU_PTX_MAGIC;

/* ---- NVRTC: CUDA C source -> a host shared library --------------------------------------------- */

typedef struct {
    char *src, *name, *log, *ptx;
} program;

static const char *const nvrtc_errors[] = {"NVRTC_SUCCESS",
                                           "NVRTC_ERROR_OUT_OF_MEMORY",
                                           "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
                                           "NVRTC_ERROR_INVALID_INPUT",
                                           "NVRTC_ERROR_INVALID_PROGRAM",
                                           "NVRTC_ERROR_INVALID_OPTION",
                                           "NVRTC_ERROR_COMPILATION"};

EXPORT int nvrtcVersion(int *major, int *minor) {
    if (!major || !minor) return 3;
    *major = 99; /* not a real NVRTC: its disk-cache entries never mix with real ones */
    *minor = 0;
    return 0;
}

EXPORT const char *nvrtcGetErrorString(int rc) {
    return rc >= 0 && rc < (int)(sizeof nvrtc_errors / sizeof *nvrtc_errors) ? nvrtc_errors[rc]
                                                                             : "NVRTC_ERROR_UNKNOWN";
}

EXPORT int nvrtcCreateProgram(program **out, const char *src, const char *name, int nh,
                              const char *const *headers, const char *const *names) {
    (void)headers;
    (void)names;
    if (!out || !src || nh != 0) return 3;
    program *p = calloc(1, sizeof *p);
    if (!p || !(p->src = strdup(src)) || !(p->name = strdup(name ? name : "module"))) {
        if (p) free(p->src);
        free(p);
        return 1;
    }
    *out = p;
    return 0;
}

EXPORT int nvrtcDestroyProgram(program **pp) {
    if (!pp || !*pp) return 4;
    program *p = *pp;
    free(p->src);
    free(p->name);
    free(p->log);
    free(p->ptx);
    free(p);
    *pp = NULL;
    return 0;
}

static uint64_t fnv(uint64_t h, const void *d, size_t n) {
    const unsigned char *s = d;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* The whole of a file, NUL-terminated, or NULL. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    if (b) b[n] = '\0';
    if (len) *len = n;
    return b;
}

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static int is_id(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The preprocessed kernel source made host C++: `extern __shared__ T name[];` becomes a pointer
 * into the block's dynamic shared memory, and a table of every `__global__ void name(` (or
 * `__global__ void __launch_bounds__(n) name(`) is appended. 0, or -1 with a message in log. */
static int translate(const char *ii, buf *out, buf *log) {
    buf names = {0};
    int nk = 0;
    puts_(out, "#include \"emu_device.h\"\n");
    for (const char *p = ii; *p;) {
        const char *ext = strstr(p, "extern __shared__"), *glob = strstr(p, "__global__");
        const char *next = ext && (!glob || ext < glob) ? ext : glob;
        if (!next) {
            puts_(out, p);
            break;
        }
        put(out, p, (size_t)(next - p));
        if (next == ext) {
            const char *semi = strchr(ext, ';');
            char decl[256];
            size_t n = semi ? (size_t)(semi - ext) - 17 : 0;
            if (!semi || n >= sizeof decl)
                return puts_(log, "cuda-emu: unterminated extern __shared__\n"), -1;
            memcpy(decl, ext + 17, n);
            decl[n] = '\0';
            char *br = strchr(decl, '['), *al = strstr(decl, "__align__");
            if (!br) return puts_(log, "cuda-emu: extern __shared__ without []\n"), -1;
            if (al) { /* drop __align__(N): the buffer is 256-byte aligned */
                char *cl = strchr(al, ')');
                if (cl) memset(al, ' ', (size_t)(cl + 1 - al));
            }
            *br = '\0';
            char *e = br;
            while (e > decl && e[-1] == ' ')
                *--e = '\0';
            char *nm = e;
            while (nm > decl && is_id(nm[-1]))
                nm--;
            char line[600];
            snprintf(line, sizeof line, "%.*s *%s = (%.*s *)nb_emu_dsmem", (int)(nm - decl), decl, nm,
                     (int)(nm - decl), decl);
            puts_(out, line);
            p = semi;
        } else {
            const char *q = glob + 10;
            while (*q == ' ' || *q == '\n' || *q == '\t')
                q++;
            if (strncmp(q, "void", 4) == 0) {
                q += 4;
                while (*q == ' ' || *q == '\n' || *q == '\t')
                    q++;
                if (strncmp(q, "__launch_bounds__", 17) == 0) { /* void __launch_bounds__(n) name( */
                    const char *cl = strchr(q, ')');
                    q = cl ? cl + 1 : q + 17;
                    while (*q == ' ' || *q == '\n' || *q == '\t')
                        q++;
                }
                const char *s = q;
                while (is_id(*q))
                    q++;
                if (q > s) {
                    puts_(&names, "    NB_EMU_KERNEL(");
                    put(&names, s, (size_t)(q - s));
                    puts_(&names, "),\n");
                    nk++;
                }
            }
            puts_(out, "__global__");
            p = glob + 10;
        }
    }
    puts_(out, "\nconst nbemu::kernel nb_emu_table[] = {\n");
    if (names.s) puts_(out, names.s);
    puts_(out, "    {\"\", nullptr}};\n");
    char tail[64];
    snprintf(tail, sizeof tail, "const int nb_emu_table_len = %d;\n", nk);
    puts_(out, tail);
    free(names.s);
    return out->oom ? -1 : 0;
}

static int make_dir(const char *d) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", d);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(s, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Runs a shell command; its stderr (in errfile) goes to the log on failure. */
static int run(const char *cmd, const char *errfile, buf *log) {
    int st = system(cmd);
    if (st == 0) return 0;
    size_t n;
    char *e = slurp(errfile, &n);
    puts_(log, "cuda-emu: ");
    puts_(log, cmd);
    puts_(log, "\n");
    if (e) puts_(log, e);
    free(e);
    return -1;
}

/* The host compiler's flags for NVRTC's --fmad (default true: a*b+c may be contracted into one
 * fused multiply-add, as the GPU does): contraction with the host's FMA instructions, so results
 * round as they may on a GPU, not as on the CPU backend. Off with --fmad=false, with
 * NB_EMU_FMAD=0, or where the host has no FMA. */
static const char *fp_contract(int nopt, const char *const *opts) {
    int fmad = 1;
    for (int i = 0; i < nopt; i++)
        if (strcmp(opts[i], "--fmad=false") == 0 || strcmp(opts[i], "-fmad=false") == 0)
            fmad = 0;
        else if (strcmp(opts[i], "--fmad=true") == 0 || strcmp(opts[i], "-fmad=true") == 0)
            fmad = 1;
    const char *env = getenv("NB_EMU_FMAD");
    if (env && strcmp(env, "0") == 0) fmad = 0;
    if (!fmad) return "-ffp-contract=off";
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma") ? "-ffp-contract=fast -fexpensive-optimizations -mfma"
                                         : "-ffp-contract=off";
#elif defined(__aarch64__)
    return "-ffp-contract=fast -fexpensive-optimizations";
#else
    return "-ffp-contract=off";
#endif
}

/* Builds (or finds in the cache) the library for p's source; its path goes to so. */
static int build(program *p, int nopt, const char *const *opts, char *so, size_t solen, buf *log) {
    const char *cxx = getenv("NB_EMU_CXX");
    const char *cache = getenv("NB_EMU_CACHE");
    if (!cxx || !*cxx) cxx = "g++";
    if (!cache || !*cache) cache = NB_EMU_DEFAULT_CACHE;
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "%s/emu_device.h", NB_EMU_RT_DIR);
    size_t hl;
    char *h = slurp(hdr, &hl);
    if (!h) return puts_(log, "cuda-emu: cannot read " NB_EMU_RT_DIR "/emu_device.h\n"), -1;
    char defs[512] = "";
    uint64_t key = fnv(fnv(0xcbf29ce484222325ULL, p->src, strlen(p->src)), h, hl);
    free(h);
    /* the emulator's own version and compile commands are part of the key: a change to them
     * rebuilds the cached modules */
    static const char version[] = "nbemu-3 -E -P -x c++ -std=c++17 | -std=c++17 -O1 -g0 -w -fPIC -shared "
                                  "-U_FORTIFY_SOURCE";
    const char *contract = fp_contract(nopt, opts);
    key = fnv(fnv(fnv(key, cxx, strlen(cxx)), version, sizeof version), contract, strlen(contract));
    for (int i = 0; i < nopt; i++) {
        key = fnv(key, opts[i], strlen(opts[i]) + 1);
        if (strncmp(opts[i], "-D", 2) == 0 && strlen(defs) + strlen(opts[i]) + 4 < sizeof defs &&
            !strpbrk(opts[i], "'\"\\ $`")) {
            strcat(defs, " ");
            strcat(defs, opts[i]);
        }
    }
    if (make_dir(cache)) return puts_(log, "cuda-emu: cannot create the cache folder\n"), -1;
    snprintf(so, solen, "%s/%s-%016llx.so", cache, p->name, (unsigned long long)key);
    if (access(so, R_OK) == 0) return 0;

    char base[1200], path[1300], ii[1300], cpp[1300], err[1300], tmp[1300], cmd[6000];
    snprintf(base, sizeof base, "%s/%s-%016llx.%ld", cache, p->name, (unsigned long long)key, (long)getpid());
    snprintf(path, sizeof path, "%s.cu", base);
    snprintf(ii, sizeof ii, "%s.ii", base);
    snprintf(cpp, sizeof cpp, "%s.cpp", base);
    snprintf(err, sizeof err, "%s.err", base);
    snprintf(tmp, sizeof tmp, "%s.so", base);
    int rc = -1;
    if (write_file(path, p->src, strlen(p->src))) {
        puts_(log, "cuda-emu: cannot write the source\n");
        goto out;
    }
    snprintf(cmd, sizeof cmd, "'%s' -E -P -x c++ -std=c++17%s '%s' -o '%s' 2>'%s'", cxx, defs, path, ii, err);
    if (run(cmd, err, log)) goto out;
    char *text = slurp(ii, NULL);
    buf out = {0};
    int t = text ? translate(text, &out, log) : -1;
    free(text);
    if (t || write_file(cpp, out.s, out.n)) {
        free(out.s);
        puts_(log, "cuda-emu: cannot translate the source\n");
        goto out;
    }
    free(out.s);
    snprintf(cmd, sizeof cmd,
             "'%s' -std=c++17 -O1 -g0 -w -fPIC -shared %s -U_FORTIFY_SOURCE -I'%s' '%s' -o "
             "'%s' 2>'%s'",
             cxx, contract, NB_EMU_RT_DIR, cpp, tmp, err);
    if (run(cmd, err, log)) goto out;
    if (rename(tmp, so)) {
        puts_(log, "cuda-emu: cannot move the library into the cache\n");
        goto out;
    }
    rc = 0;
out:
    unlink(path);
    unlink(ii);
    unlink(cpp);
    unlink(err);
    unlink(tmp);
    return rc;
}

EXPORT int nvrtcCompileProgram(program *p, int nopt, const char *const *opts) {
    if (!p) return 4;
    free(p->log);
    free(p->ptx);
    p->log = p->ptx = NULL;
    buf log = {0};
    char so[1400];
    int rc = build(p, nopt, opts, so, sizeof so, &log);
    p->log = log.s ? log.s : strdup("");
    if (rc) return 6;
    size_t n = strlen(ptx_magic) + strlen(so) + 2;
    if (!(p->ptx = malloc(n))) return 1;
    snprintf(p->ptx, n, "%s%s\n", ptx_magic, so);
    return 0;
}

EXPORT int nvrtcGetProgramLogSize(program *p, size_t *n) {
    if (!p || !n) return 3;
    *n = (p->log ? strlen(p->log) : 0) + 1;
    return 0;
}
EXPORT int nvrtcGetProgramLog(program *p, char *out) {
    if (!p || !out) return 3;
    strcpy(out, p->log ? p->log : "");
    return 0;
}
EXPORT int nvrtcGetPTXSize(program *p, size_t *n) {
    if (!p || !n || !p->ptx) return 4;
    *n = strlen(p->ptx) + 1;
    return 0;
}
EXPORT int nvrtcGetPTX(program *p, char *out) {
    if (!p || !out || !p->ptx) return 4;
    strcpy(out, p->ptx);
    return 0;
}
