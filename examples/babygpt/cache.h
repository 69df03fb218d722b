/* cache.h - on-disk cache of tokenized corpora for Baby GPT.
 *
 * A cache entry holds the token ids of one corpus, keyed by a 64-bit hash of everything
 * the ids depend on (the data and the tokenizer). File: <dir>/tokens-<key as 16 hex>.bin,
 * little-endian:
 *     magic "NBTOKC\0\1" (8 bytes) | version u32 | id size u32 (4) | key u64 | count u64 |
 *     checksum u64 (FNV-1a 64 over the header fields before it and the payload) |
 *     payload: count x int32 ids
 * Entries are written atomically (temp file in dir, fsync, rename). A missing, short,
 * corrupt or mismatching file is a miss, never an error or a crash. */
#ifndef BG_CACHE_H
#define BG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define BG_CACHE_HIT     0
#define BG_CACHE_MISS    1
#define BG_CACHE_VERSION 1u
#define BG_FNV_OFFSET    0xcbf29ce484222325ull /* FNV-1a 64 offset basis: the initial hash */

/* Folds len bytes into a running FNV-1a 64 hash h (start from BG_FNV_OFFSET); returns it. */
uint64_t bg_hash_bytes(uint64_t h, const void *buf, size_t len);

/* Cache key of n buffers (each hashed with its length, so boundaries count). bufs[i] may be
 * NULL only when lens[i] is 0. Returns the 64-bit key. */
uint64_t bg_cache_key(const void *const *bufs, const size_t *lens, size_t n);

/* Folds a file's identity (path, size, mtime in ns) into h; for data files too big to
 * hash whole. Returns 0, or -1 if the file cannot be stat'ed (h unchanged). */
int bg_hash_file_stat(uint64_t *h, const char *path);

/* Folds a file's whole contents (and length) into h. Returns 0, or -1 if unreadable. */
int bg_hash_file_bytes(uint64_t *h, const char *path);

/* Looks up key in dir. On BG_CACHE_HIT, *ids is a malloc'd array of *n ids (caller frees;
 * *ids may be NULL when *n is 0). On BG_CACHE_MISS (no file, or a bad one), *ids = NULL,
 * *n = 0 and, if why is not NULL, why tells the reason. Never fails otherwise. */
int bg_cache_load(const char *dir, uint64_t key, int32_t **ids, size_t *n, char *why, size_t whylen);

/* Stores n ids under key in dir (created with its parents if needed), atomically. Returns 0,
 * or -1 with a message in err (the previous entry, if any, is left intact). */
int bg_cache_save(const char *dir, uint64_t key, const int32_t *ids, size_t n, char *err, size_t errlen);

/* Writes the entry path for key in dir into buf (cap bytes). Returns 0, or -1 if too long. */
int bg_cache_path(const char *dir, uint64_t key, char *buf, size_t cap);

#endif
