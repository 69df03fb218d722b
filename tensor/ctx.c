/* tensor/ctx.c - contexts: arenas that own every tensor's memory.
 *
 * A context keeps, per device, a list of chunks. Allocation bumps a pointer
 * in the current chunk and moves to the next chunk (or asks the system for a
 * new one) when it is full. A reset rewinds every chunk but keeps them, so a
 * loop that makes the same tensors each step reuses the same memory and asks
 * the system for nothing after its first step.
 *
 * Headers (tensors, storages, nodes: nb_ctx_alloc) live in a host arena of
 * their own, so that tensor data of one device lies back to back. A storage
 * can be given back before the reset (nb_storage_release, used by the backward
 * pass for gradients it has consumed): its block goes on the device's free
 * list (sorted by address, merged with free neighbours, or given back to the
 * bump pointer when it ends at the top of the current chunk) and later
 * storages take an exact fit, else the smallest block that fits, split. The
 * same sequence of calls after a reset gives the same addresses. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/backend.h"
#include "tensor/internal.h"

/* Under AddressSanitizer, released host blocks are poisoned: any read of a gradient after the
 * backward pass gave it back is reported where it happens. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NB_ASAN 1
#endif
#ifdef NB_ASAN
#include <sanitizer/asan_interface.h>
#define NB_POISON(dev, p, n)                                                                                 \
    do {                                                                                                     \
        if ((int)(dev) == NB_CPU || (int)(dev) == NB_META) ASAN_POISON_MEMORY_REGION((p), (n));              \
    } while (0)
#define NB_UNPOISON(dev, p, n)                                                                               \
    do {                                                                                                     \
        if ((int)(dev) == NB_CPU || (int)(dev) == NB_META) ASAN_UNPOISON_MEMORY_REGION((p), (n));            \
    } while (0)
#else
#define NB_POISON(dev, p, n)   ((void)(dev), (void)(p), (void)(n))
#define NB_UNPOISON(dev, p, n) ((void)(dev), (void)(p), (void)(n))
#endif

#define NB_META       NB_DEVICE_COUNT /* the arena of headers (host) */
#define NB_DATA_ALIGN 64

typedef struct nb_chunk {
    struct nb_chunk *next;
    char *base;
    size_t size, used;
} nb_chunk;

/* A free block of a data arena. */
typedef struct nb_free {
    struct nb_free *next;
    nb_chunk *chunk;
    char *data;
    size_t cap;
} nb_free;

typedef struct {
    nb_chunk *head, *cur;
    size_t reserved;
    nb_free *free; /* free blocks, by address */
} nb_arena;

struct nb_ctx {
    size_t chunk_bytes;
    nb_arena arena[NB_DEVICE_COUNT + 1];
    nb_free *spare; /* free-list nodes to reuse */
    size_t used, peak;
    uint64_t os_allocs;
};

/* NABLA_DEBUG_EXACT_ALLOC=1: every storage on a device (not the CPU) is its own allocation of
 * exactly its size, freed at the reset, never shared or reused; the device allocator does the
 * same. Slow; it is for tests on the CUDA emulator, whose guard pages and NaN fill then catch
 * a kernel that reads or writes past the end of its tensor, not only past the end of a chunk. */
bool nb_debug_exact_alloc(void) {
    static int mode = -1;
    if (mode < 0) {
        const char *e = getenv("NABLA_DEBUG_EXACT_ALLOC");
        mode = e && *e && *e != '0';
    }
    return mode;
}

static bool exact_device(int dev) { return dev != NB_CPU && dev != NB_META && nb_debug_exact_alloc(); }

static _Thread_local nb_ctx *nb_current;
static _Thread_local uint64_t nb_pass_stamp;

/* The largest chunk, and so the largest single request: 1 EiB, far past any machine, and far
 * enough below SIZE_MAX that rounding up to pages or huge pages cannot wrap around. */
#define NB_CTX_MAX_CHUNK ((size_t)1 << 60)

nb_ctx *nb_ctx_new(size_t chunk_bytes) {
    nb_init_once();
    if (chunk_bytes > NB_CTX_MAX_CHUNK)
        return nb_set_error("ctx_new: chunk size of %zu bytes is too large (at most 2^60)", chunk_bytes);
    nb_ctx *c = calloc(1, sizeof *c);
    if (!c) return nb_set_error("ctx_new: out of memory");
    /* 32 MiB by default: a step context's last, partly used chunk and the tails the bump pointer
     * leaves behind are the memory it holds beyond its peak of live bytes (safe-pro's training
     * step: 437 MB held for a 376 MB peak, against 471 MB with 64 MiB chunks; same speed) */
    c->chunk_bytes = chunk_bytes ? chunk_bytes : (size_t)32 << 20;
    return c;
}

/* Host memory held by every context's chunks, and the most it may reach: the machine's
 * physical memory or its container's memory limit, whichever is less, or NABLA_HOST_MEMORY_MB. Past it a
 * chunk is refused with a message, where the kernel would otherwise let the allocation succeed and kill the
 * process when it touches the memory. */
static atomic_size_t host_held;

/* The memory limit of this process's control group (a container's), or SIZE_MAX: cgroup v2's
 * memory.max, else v1's memory.limit_in_bytes, as a container sees them at the root. */
static size_t cgroup_limit(void) {
    static const char *const files[] = {"/sys/fs/cgroup/memory.max",
                                        "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) continue;
        char line[64] = "";
        char *got = fgets(line, sizeof line, f);
        fclose(f);
        char *end = NULL;
        unsigned long long v = got ? strtoull(line, &end, 10) : 0;
        if (got && end != line && v > 0 && v < (unsigned long long)SIZE_MAX) return (size_t)v; /* not "max" */
    }
    return SIZE_MAX;
}

static size_t host_limit(void) {
    static atomic_size_t lim; /* 0: not read yet; SIZE_MAX: no limit */
    size_t l = atomic_load(&lim);
    if (l) return l;
    const char *e = getenv("NABLA_HOST_MEMORY_MB");
    char *end = NULL;
    unsigned long long mb = e && *e && *e != '-' ? strtoull(e, &end, 10) : 0;
    bool valid = e && *e && end && end != e && !*end && mb > 0 && mb < ((unsigned long long)SIZE_MAX >> 20);
    if (e && *e && !valid) { /* said once, as for NABLA_NUM_THREADS */
        static atomic_flag said = ATOMIC_FLAG_INIT;
        if (!atomic_flag_test_and_set(&said))
            fprintf(stderr,
                    "nabla: NABLA_HOST_MEMORY_MB='%s' is not a positive whole number of MB; using "
                    "the machine's memory\n",
                    e);
    }
    if (valid)
        l = (size_t)mb << 20;
    else {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        l = pages > 0 && page > 0 && (unsigned long long)pages < SIZE_MAX / (size_t)page
                ? (size_t)pages * (size_t)page
                : SIZE_MAX;
        const size_t cg = cgroup_limit();
        if (cg < l) l = cg;
    }
    atomic_store(&lim, l);
    return l;
}

static void chunk_release(int dev, nb_chunk *ch) {
    NB_UNPOISON(dev, ch->base, ch->size);
    if (dev == NB_CPU || dev == NB_META) {
        atomic_fetch_sub(&host_held, ch->size);
        free(ch->base);
    } else {
        const nb_backend *be = nb_backend_get((nb_device)dev);
        if (be) be->free(ch->base);
    }
    free(ch);
}

void nb_ctx_free(nb_ctx *c) {
    if (!c) return;
    for (int d = 0; d <= NB_META; d++) {
        nb_chunk *ch = c->arena[d].head;
        while (ch) {
            nb_chunk *n = ch->next;
            chunk_release(d, ch);
            ch = n;
        }
    }
    if (nb_current == c) nb_current = NULL;
    free(c);
}

void nb_ctx_reset(nb_ctx *c) {
    if (!c) return;
    for (int d = 0; d <= NB_META; d++) {
        if (exact_device(d)) { /* one chunk per storage: all go */
            for (nb_chunk *ch = c->arena[d].head, *n; ch; ch = n) {
                n = ch->next;
                chunk_release(d, ch);
            }
            c->arena[d].head = NULL;
            c->arena[d].reserved = 0;
        }
        for (nb_chunk *ch = c->arena[d].head; ch; ch = ch->next) {
            /* under ASan, a tensor, header or block used after the reset is reported until the
             * memory is handed out again */
            NB_POISON(d, ch->base, ch->size);
            ch->used = 0;
        }
        c->arena[d].cur = c->arena[d].head;
        c->arena[d].free = NULL;
    }
    c->spare = NULL; /* the nodes lived in the header arena */
    c->used = 0;
}

size_t nb_ctx_used(const nb_ctx *c) { return c ? c->used : 0; }

size_t nb_ctx_peak(const nb_ctx *c) { return c ? c->peak : 0; }

size_t nb_ctx_reset_peak(nb_ctx *c) {
    if (!c) return 0;
    size_t p = c->peak;
    c->peak = c->used;
    return p;
}

size_t nb_ctx_reserved(const nb_ctx *c) {
    size_t r = 0;
    if (c)
        for (int d = 0; d <= NB_META; d++)
            r += c->arena[d].reserved;
    return r;
}

uint64_t nb_ctx_os_allocs(const nb_ctx *c) { return c ? c->os_allocs : 0; }

nb_ctx *nb_ctx_use(nb_ctx *c) {
    nb_ctx *prev = nb_current;
    nb_current = c;
    return prev;
}

nb_ctx *nb_ctx_current(void) { return nb_current; }

uint64_t nb_storage_set_pass(uint64_t pass) {
    uint64_t prev = nb_pass_stamp;
    nb_pass_stamp = pass;
    return prev;
}

static size_t align_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

void *nb_host_alloc_big(size_t nbytes) {
    const size_t huge = (size_t)2 << 20;
    if (nbytes < huge) return aligned_alloc(64, align_up(nbytes ? nbytes : 1, 64));
    void *p = aligned_alloc(huge, align_up(nbytes, huge));
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, align_up(nbytes, huge), MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
    return p;
}

static void count_used(nb_ctx *c, size_t n) {
    c->used += n;
    if (c->used > c->peak) c->peak = c->used;
}

static nb_chunk *chunk_new(nb_ctx *c, int dev, size_t need) {
    if (need > NB_CTX_MAX_CHUNK) /* so that rounding the size up cannot wrap around */
        return nb_set_error("ctx: a request of %zu bytes is too large (at most 2^60)", need);
    size_t base = c->chunk_bytes;
    size_t lo = (size_t)64 << 10, hi = (size_t)2 << 20;
    if (dev == NB_META) /* headers are small: chunks of 1/16, 64 KiB (or the whole) to 2 MiB */
        base = base / 16 > hi ? hi : base / 16 >= lo ? base / 16 : base < lo ? base : lo;
    size_t size = exact_device(dev) ? need : align_up(need > base ? need : base, 4096);
    nb_chunk *ch = calloc(1, sizeof *ch);
    if (!ch) return nb_set_error("ctx: out of memory allocating a chunk header");
    if (dev == NB_CPU || dev == NB_META) {
        const size_t lim = host_limit(), held = atomic_fetch_add(&host_held, size) + size;
        if (held > lim || held < size) {
            atomic_fetch_sub(&host_held, size);
            free(ch);
            return nb_set_error(
                "ctx: out of host memory: a chunk of %zu bytes would bring what nabla holds to "
                "%zu MB, over its limit of %zu MB (the machine's or container's memory, unless "
                "NABLA_HOST_MEMORY_MB sets "
                "it)",
                size, held >> 20, lim >> 20);
        }
        ch->base = nb_host_alloc_big(size);
        if (!ch->base) {
            atomic_fetch_sub(&host_held, size);
            free(ch);
            return nb_set_error("ctx: out of host memory: a chunk of %zu bytes (context holds %zu)", size,
                                nb_ctx_reserved(c));
        }
    } else {
        const nb_backend *be = nb_backend_get((nb_device)dev);
        ch->base = be ? be->alloc(size) : NULL;
        if (!ch->base) {
            free(ch);
            return NULL; /* the backend set the message */
        }
    }
    ch->size = size;
    c->arena[dev].reserved += size;
    c->os_allocs++;
    return ch;
}

static bool free_insert(nb_ctx *c, nb_arena *a, nb_chunk *ch, char *data, size_t cap, bool allow_top);

/* A data chunk the bump pointer leaves behind keeps its free tail on the free list, for later
 * storages that fit (the same in every step). */
static void retire_tail(nb_ctx *c, int dev, nb_chunk *ch) {
    size_t off = align_up(ch->used, NB_DATA_ALIGN);
    if (dev == NB_META || off >= ch->size || ch->size - off < ((size_t)16 << 10)) return;
    size_t cap = (ch->size - off) & ~(size_t)(NB_DATA_ALIGN - 1);
    if (free_insert(c, &c->arena[dev], ch, ch->base + off, cap, false))
        ch->used = off + cap;
    else
        nb_clear_error();
}

/* Bumps `nbytes` (aligned to `align`) from arena `dev`; *chunk_out gets the chunk. */
static void *arena_alloc(nb_ctx *c, int dev, size_t nbytes, size_t align, nb_chunk **chunk_out) {
    nb_arena *a = &c->arena[dev];
    if (nbytes == 0) nbytes = 1;
    nb_chunk *prev = NULL;
    for (nb_chunk *ch = a->cur; ch; prev = ch, ch = ch->next) {
        size_t off = align_up(ch->used, align);
        if (off + nbytes <= ch->size) {
            ch->used = off + nbytes;
            a->cur = ch;
            if (chunk_out) *chunk_out = ch;
            NB_UNPOISON(dev, ch->base + off, nbytes); /* poisoned by the last reset */
            return ch->base + off;
        }
        retire_tail(c, dev, ch);
        if (ch->next == NULL) break;
    }
    nb_chunk *ch = chunk_new(c, dev, nbytes + align);
    if (!ch) return NULL;
    /* insert after the current chunk so that later steps meet chunks in the same order */
    nb_chunk *after = a->cur ? a->cur : prev;
    if (!a->head) {
        a->head = ch;
    } else if (after) {
        ch->next = after->next;
        after->next = ch;
    } else {
        ch->next = a->head;
        a->head = ch;
    }
    a->cur = ch;
    ch->used = nbytes;
    if (chunk_out) *chunk_out = ch;
    return ch->base;
}

void *nb_ctx_alloc(nb_ctx *c, size_t nbytes, size_t align) {
    if (!c) return nb_set_error("ctx: no context (pass one, or call nb_ctx_use)");
    void *p = arena_alloc(c, NB_META, nbytes, align, NULL);
    if (!p) return NULL;
    count_used(c, nbytes ? nbytes : 1);
    memset(p, 0, nbytes);
    return p;
}

/* Takes `cap` bytes from the free list of `a`: an exact fit, else the smallest block that is
 * larger, split (the rest stays free). NULL when no block fits. */
static char *free_take(nb_ctx *c, nb_arena *a, size_t cap, nb_chunk **chunk_out) {
    nb_free **best = NULL;
    for (nb_free **pp = &a->free; *pp; pp = &(*pp)->next) {
        size_t fc = (*pp)->cap;
        if (fc == cap) {
            best = pp;
            break;
        }
        if (fc > cap && (!best || fc < (*best)->cap)) best = pp;
    }
    if (!best) return NULL;
    nb_free *f = *best;
    char *p = f->data;
    *chunk_out = f->chunk;
    if (f->cap == cap) {
        *best = f->next;
        f->next = c->spare;
        c->spare = f;
    } else {
        f->data += cap;
        f->cap -= cap;
    }
    return p;
}

nb_storage *nb_storage_new(nb_ctx *c, nb_device dev, size_t nbytes) {
    if (!c) return nb_set_error("ctx: no context (pass one, or call nb_ctx_use)");
    if ((int)dev < 0 || dev >= NB_DEVICE_COUNT) return nb_set_error("ctx: invalid device %d", (int)dev);
    if (dev != NB_CPU && !nb_backend_get(dev)) return NULL;
    nb_storage *s = nb_ctx_alloc(c, sizeof *s, 8);
    if (!s) return NULL;
    size_t cap = align_up(nbytes ? nbytes : 1, NB_DATA_ALIGN);
    nb_chunk *ch = NULL;
    if (exact_device(dev)) {
        nb_arena *a = &c->arena[dev];
        if (!(ch = chunk_new(c, dev, nbytes ? nbytes : 1))) return NULL;
        ch->next = a->head;
        a->head = ch;
        ch->used = cap = ch->size;
        s->data = ch->base;
    } else {
        s->data = free_take(c, &c->arena[dev], cap, &ch);
        if (!s->data) s->data = arena_alloc(c, dev, cap, NB_DATA_ALIGN, &ch);
    }
    if (!s->data) return NULL;
    NB_UNPOISON(dev, s->data, cap);
    count_used(c, cap);
    s->nbytes = nbytes;
    s->device = dev;
    s->ctx = c;
    s->cap = cap;
    s->chunk = ch;
    s->pass = nb_pass_stamp;
    return s;
}

/* Gives a free block at the top of the arena's current chunk back to the bump pointer. */
static bool free_to_top(nb_arena *a, nb_free *f) {
    nb_chunk *ch = f->chunk;
    if (ch != a->cur || f->data + f->cap != ch->base + align_up(ch->used, NB_DATA_ALIGN)) return false;
    ch->used = (size_t)(f->data - ch->base);
    return true;
}

/* Unlinks free block f (at *pp) and keeps its node for reuse. */
static void free_unlink(nb_ctx *c, nb_free **pp, nb_free *f) {
    *pp = f->next;
    f->next = c->spare;
    c->spare = f;
}

/* Puts [data, data + cap) of chunk ch on the free list of `a`, merged with free neighbours;
 * when allow_top and the block ends at the top of the current chunk, gives it back to the bump
 * pointer instead. False when no list node could be made (the block stays used). */
static bool free_insert(nb_ctx *c, nb_arena *a, nb_chunk *ch, char *data, size_t cap, bool allow_top) {
    nb_free **pp = &a->free, **prevp = NULL, *prev = NULL;
    while (*pp && (*pp)->data < data) {
        prevp = pp;
        prev = *pp;
        pp = &(*pp)->next;
    }
    nb_free *next = *pp;
    if (prev && prev->chunk == ch && prev->data + prev->cap == data) { /* grow the previous block */
        prev->cap += cap;
        if (next && next->chunk == ch && prev->data + prev->cap == next->data) {
            prev->cap += next->cap;
            free_unlink(c, &prev->next, next);
        }
        if (allow_top && free_to_top(a, prev)) free_unlink(c, prevp, prev);
        return true;
    }
    if (next && next->chunk == ch && data + cap == next->data) { /* grow the next block down */
        next->data = data;
        next->cap += cap;
        if (allow_top && free_to_top(a, next)) free_unlink(c, pp, next);
        return true;
    }
    nb_free tmp = {.chunk = ch, .data = data, .cap = cap};
    if (allow_top && free_to_top(a, &tmp)) return true;
    nb_free *f = c->spare;
    if (f) {
        c->spare = f->next;
    } else {
        f = arena_alloc(c, NB_META, sizeof *f, 8, NULL);
        if (!f) return false;
        count_used(c, sizeof *f);
    }
    *f = tmp;
    f->next = next;
    *pp = f;
    return true;
}

void nb_storage_release(nb_storage *s) {
    if (!s || !s->ctx || s->released || !s->chunk || (int)s->device < 0 || s->device >= NB_DEVICE_COUNT)
        return;
    nb_ctx *c = s->ctx;
    if (exact_device(s->device)) { /* its chunk goes at the reset; never reused before */
        c->used -= s->cap;
        s->released = true;
        return;
    }
    c->used -= s->cap;
    if (!free_insert(c, &c->arena[s->device], s->chunk, s->data, s->cap, true)) {
        c->used += s->cap; /* out of memory for a list node: the block stays used until the reset */
        nb_clear_error();
        return;
    }
    s->released = true;
    NB_POISON(s->device, s->data, s->cap);
}
