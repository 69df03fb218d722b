/* tensor/ctx.c - contexts: arenas that own every tensor's memory.
 *
 * A context keeps, per device, a list of chunks. Allocation bumps a pointer
 * in the current chunk and moves to the next chunk (or asks the system for a
 * new one) when it is full. A reset rewinds every chunk but keeps them, so a
 * loop that makes the same tensors each step reuses the same memory and asks
 * the system for nothing after its first step. */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "tensor/internal.h"

typedef struct nb_chunk {
    struct nb_chunk *next;
    char *base;
    size_t size, used;
} nb_chunk;

typedef struct {
    nb_chunk *head, *cur;
    size_t reserved;
} nb_arena;

struct nb_ctx {
    size_t chunk_bytes;
    nb_arena arena[NB_DEVICE_COUNT];
    size_t used;
    uint64_t os_allocs;
};

static _Thread_local nb_ctx *nb_current;

nb_ctx *nb_ctx_new(size_t chunk_bytes) {
    nb_init_once();
    nb_ctx *c = calloc(1, sizeof *c);
    if (!c) return nb_set_error("ctx_new: out of memory");
    c->chunk_bytes = chunk_bytes ? chunk_bytes : (size_t)64 << 20;
    return c;
}

static void chunk_release(nb_device dev, nb_chunk *ch) {
    if (dev == NB_CPU) {
        free(ch->base);
    } else {
        const nb_backend *be = nb_backend_get(dev);
        if (be) be->free(ch->base);
    }
    free(ch);
}

void nb_ctx_free(nb_ctx *c) {
    if (!c) return;
    for (int d = 0; d < NB_DEVICE_COUNT; d++) {
        nb_chunk *ch = c->arena[d].head;
        while (ch) {
            nb_chunk *n = ch->next;
            chunk_release((nb_device)d, ch);
            ch = n;
        }
    }
    if (nb_current == c) nb_current = NULL;
    free(c);
}

void nb_ctx_reset(nb_ctx *c) {
    if (!c) return;
    for (int d = 0; d < NB_DEVICE_COUNT; d++) {
        for (nb_chunk *ch = c->arena[d].head; ch; ch = ch->next) ch->used = 0;
        c->arena[d].cur = c->arena[d].head;
    }
    c->used = 0;
}

size_t nb_ctx_used(const nb_ctx *c) { return c ? c->used : 0; }

size_t nb_ctx_reserved(const nb_ctx *c) {
    size_t r = 0;
    if (c)
        for (int d = 0; d < NB_DEVICE_COUNT; d++) r += c->arena[d].reserved;
    return r;
}

uint64_t nb_ctx_os_allocs(const nb_ctx *c) { return c ? c->os_allocs : 0; }

nb_ctx *nb_ctx_use(nb_ctx *c) {
    nb_ctx *prev = nb_current;
    nb_current = c;
    return prev;
}

nb_ctx *nb_ctx_current(void) { return nb_current; }

static size_t align_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

static nb_chunk *chunk_new(nb_ctx *c, nb_device dev, size_t need) {
    size_t size = align_up(need > c->chunk_bytes ? need : c->chunk_bytes, 4096);
    nb_chunk *ch = calloc(1, sizeof *ch);
    if (!ch) return nb_set_error("ctx: out of memory allocating a chunk header");
    if (dev == NB_CPU) {
        ch->base = aligned_alloc(64, size);
        if (!ch->base) {
            free(ch);
            return nb_set_error("ctx: out of host memory: a chunk of %zu bytes (context holds %zu)",
                                size, c->arena[dev].reserved);
        }
    } else {
        const nb_backend *be = nb_backend_get(dev);
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

static void *arena_alloc(nb_ctx *c, nb_device dev, size_t nbytes, size_t align) {
    nb_arena *a = &c->arena[dev];
    if (nbytes == 0) nbytes = 1;
    nb_chunk *prev = NULL;
    for (nb_chunk *ch = a->cur; ch; prev = ch, ch = ch->next) {
        size_t off = align_up(ch->used, align);
        if (off + nbytes <= ch->size) {
            ch->used = off + nbytes;
            a->cur = ch;
            c->used += nbytes;
            return ch->base + off;
        }
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
    c->used += nbytes;
    return ch->base;
}

void *nb_ctx_alloc(nb_ctx *c, size_t nbytes, size_t align) {
    if (!c) return nb_set_error("ctx: no context (pass one, or call nb_ctx_use)");
    void *p = arena_alloc(c, NB_CPU, nbytes, align);
    if (p) memset(p, 0, nbytes);
    return p;
}

nb_storage *nb_storage_new(nb_ctx *c, nb_device dev, size_t nbytes) {
    if (!c) return nb_set_error("ctx: no context (pass one, or call nb_ctx_use)");
    if ((int)dev < 0 || dev >= NB_DEVICE_COUNT) return nb_set_error("ctx: invalid device %d", (int)dev);
    if (dev != NB_CPU && !nb_backend_get(dev)) return NULL;
    nb_storage *s = nb_ctx_alloc(c, sizeof *s, 8);
    if (!s) return NULL;
    s->data = arena_alloc(c, dev, nbytes, 64);
    if (!s->data) return NULL;
    s->nbytes = nbytes;
    s->device = dev;
    s->ctx = c;
    return s;
}
