/* tokenizer.h - GPT-2 byte-level BPE tokenizer for Baby GPT.
 *
 * Identical to tiktoken's `gpt2` encoding: the GPT-2 pre-tokenizer regex (PCRE2, full Unicode
 * classes, \s meaning Unicode White_Space), merges applied by rank (the rank of a pair is the
 * rank of the token its bytes concatenate to, lowest first, leftmost on ties; a pre-token that is
 * itself a token is emitted whole), and `<|endoftext|>` as a special token.  Any byte string
 * encodes, invalid UTF-8 included: bytes the regex cannot match (invalid sequences) form
 * pre-tokens of their own, so decode(encode(x)) == x for every x.
 *
 * Letters/numbers of Unicode 15-16 that the system PCRE2 may not know are added explicitly, so the
 * split matches tiktoken's (Unicode 16 tables).  Sources: tokenizer.c (tables, encode,
 * decode), tokenizer_pretok.c (regex), tokenizer_io.c (load/save), tokenizer_train.c (training).
 *
 * Files: a folder with `encoder.json` (token string -> id, strings in GPT-2's byte-to-unicode
 * form) and `vocab.bpe` (first line `#version: ...`, then one merge "A B" a line, in rank order).
 *
 * Thread safety: a bg_tokenizer is immutable once loaded or trained.  Every function taking a
 * `const bg_tokenizer *` may be called from several threads at once; encode keeps its cache of
 * already-encoded pre-tokens per call (bounded), so no lock is needed.
 */
#ifndef BG_TOKENIZER_H
#define BG_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct bg_tokenizer bg_tokenizer;

/* Return codes of bg_tokenizer_encode (0 = success). */
enum {
    BG_TOK_OK = 0,
    BG_TOK_EINVAL = -1, /* NULL tokenizer/output pointer, or NULL text with len > 0 */
    BG_TOK_ENOMEM = -2, /* out of memory */
    BG_TOK_EREGEX = -3  /* the pre-tokenizer regex failed to match (PCRE2 error) */
};

/* The text of the special end-of-text token. */
#define BG_TOK_EOT_TEXT "<|endoftext|>"

/* Loads `dir`/encoder.json and `dir`/vocab.bpe.  Returns NULL on error and writes one message
 * naming the file (and line) into err.  The caller owns the result: bg_tokenizer_free. */
bg_tokenizer *bg_tokenizer_load(const char *dir, char *err, size_t errlen);

/* Frees a tokenizer; NULL is a no-op. */
void bg_tokenizer_free(bg_tokenizer *t);

/* Encodes len bytes of text (any bytes).  With allow_special, each `<|endoftext|>` in the text
 * becomes the EOT id; otherwise it is encoded as ordinary text.  Returns BG_TOK_OK and sets
 * *ids (malloc'd, never NULL on success, caller frees) and *n_ids; on error returns a negative
 * BG_TOK_* code (see bg_tokenizer_strerror) and sets *ids = NULL, *n_ids = 0. */
int bg_tokenizer_encode(const bg_tokenizer *t, const char *text, size_t len, int allow_special, int32_t **ids,
                        size_t *n_ids);

/* A static description of a BG_TOK_* code. */
const char *bg_tokenizer_strerror(int code);

/* Decodes n ids into their bytes, concatenated and NUL-terminated (the bytes themselves may hold
 * NULs or be invalid UTF-8: use *out_len, which may be NULL).  Returns a malloc'd buffer the
 * caller frees, or NULL if an id is out of range or memory runs out (see
 * bg_tokenizer_check_ids for a message). */
char *bg_tokenizer_decode(const bg_tokenizer *t, const int32_t *ids, size_t n, size_t *out_len);

/* Checks that every id is in [0, vocab size).  Returns 0, or -1 with a message naming the first
 * bad id and its position in err. */
int bg_tokenizer_check_ids(const bg_tokenizer *t, const int32_t *ids, size_t n, char *err, size_t errlen);

/* Number of ids (byte tokens + merges + <|endoftext|>); 0 for NULL. */
int bg_tokenizer_vocab_size(const bg_tokenizer *t);

/* The id of <|endoftext|> (50256 for GPT-2; the last id for a trained tokenizer); -1 for NULL. */
int32_t bg_tokenizer_eot(const bg_tokenizer *t);

/* The raw bytes of one token (not NUL-terminated) and their count in *len, for streaming output.
 * The pointer is owned by the tokenizer.  Returns NULL (and *len = 0) for an out-of-range id. */
const char *bg_tokenizer_token_bytes(const bg_tokenizer *t, int32_t id, size_t *len);

/* Trains a byte-level BPE on len bytes of text: 256 byte tokens (id = byte value), then merges
 * learned on the counts of the text's unique pre-tokens (same regex; `<|endoftext|>` in the text
 * separates documents), then `<|endoftext|>` as the last id.  Stops at vocab_size ids or when no
 * pair occurs twice, so the vocabulary may be smaller.  vocab_size must be in [257, 1048576].
 * Returns NULL + message on error; the caller owns the result: bg_tokenizer_free. */
bg_tokenizer *bg_tokenizer_train(const char *text, size_t len, int vocab_size, char *err, size_t errlen);

/* Writes `dir`/encoder.json and `dir`/vocab.bpe (creating dir if missing), each atomically
 * (temp file + fsync + rename), so that bg_tokenizer_load reads back the same tokenizer.
 * Returns 0, or -1 with a message naming the file in err. */
int bg_tokenizer_save(const bg_tokenizer *t, const char *dir, char *err, size_t errlen);

/* ---- Internal: shared by tokenizer.c and tokenizer_train.c, not for callers. ---- */

/* The compiled pre-tokenizer regex. */
typedef struct bg__pretok bg__pretok;
/* Compiles the GPT-2 pre-tokenizer; NULL + message on error.  Free with bg__pretok_free. */
bg__pretok *bg__pretok_new(char *err, size_t errlen);
void bg__pretok_free(bg__pretok *p);
/* Called once per pre-token, in order; a nonzero return stops the split and is returned. */
typedef int (*bg__piece_fn)(void *ctx, const char *piece, size_t len);
/* Splits text into pre-tokens (covering every byte).  Returns 0, the callback's nonzero value,
 * BG_TOK_ENOMEM or BG_TOK_EREGEX. */
int bg__pretok_split(const bg__pretok *p, const char *text, size_t len, bg__piece_fn fn, void *ctx);
/* Builds a tokenizer from token bytes (token i = pool[off[i]..off[i]+len[i]]) and merges
 * (pairs of ids, rank order).  Takes ownership of pool, off, len and merges, even on error.
 * Returns NULL + message on error. */
bg_tokenizer *bg__tokenizer_build(char *pool, uint32_t *off, uint32_t *len, int32_t n_tokens, int32_t eot,
                                  int32_t *merges, int32_t n_merges, char *err, size_t errlen);
/* The merges (2 ids each) and their count; owned by the tokenizer. */
const int32_t *bg__tokenizer_merges(const bg_tokenizer *t, int32_t *n_merges);
/* 64-bit hash of bytes. */
uint64_t bg__hash_bytes(const void *p, size_t n);
/* GPT-2's byte-to-unicode map: the code point that stands for each byte in the files. */
void bg__byte_unicode(uint16_t b2u[256]);

#endif
