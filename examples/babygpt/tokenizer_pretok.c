/* tokenizer_pretok.c - the GPT-2 pre-tokenizer: splits text into the pieces that BPE encodes. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "examples/babygpt/tokenizer.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* GPT-2's pattern, as tiktoken runs it (Rust regex, Unicode 16.0).  \s is spelled out as Unicode
 * White_Space (PCRE2's \s also takes U+180E), and XL/XN add the letters and numbers that Unicode
 * 15.0-16.0 assigned, which an older PCRE2 (10.42: Unicode 14) does not know; both lists were
 * derived by checking every code point against tiktoken 0.14. */
#define WS "\\t\\n\\x0B\\f\\r \\x{85}\\p{Z}"
#define XL                                                                                                   \
    "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"                         \
    "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}"                   \
    "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}"                     \
    "\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}"                    \
    "\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}"                              \
    "\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}"                               \
    "\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}"                    \
    "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"
#define XN                                                                                                   \
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"                   \
    "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"                   \
    "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}"
#define PATTERN(XL, XN)                                                                                      \
    "'s|'t|'re|'ve|'m|'ll|'d| ?[\\p{L}" XL "]+| ?[\\p{N}" XN "]+| ?[^" WS "\\p{L}\\p{N}" XL XN "]+|[" WS     \
    "]+(?![^" WS "])|[" WS "]+"

/* Two compilations: `full` (with XL/XN) is exact; `fast` (PCRE2's own tables) gives the same match
 * unless a character it examines is one of the XL/XN code points, all at or above U+1C89 (UTF-8
 * lead byte 0xE1).  A match examines at most two characters past its end (a stop character and a
 * lookahead), so a fast match whose bytes and next 8 bytes are all below 0xE1 is kept, and any
 * other is redone with `full`.  This keeps ASCII/Latin/Cyrillic/Arabic text on the cheaper regex. */
static const char *const PATTERNS[2] = {PATTERN("", ""), PATTERN(XL, XN)};
#define LEAD_MIN 0xE1

struct bg__pretok {
    pcre2_code *re[2]; /* fast, full */
    int jit[2];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bg__pretok *bg__pretok_new(char *err, size_t errlen) {
    bg__pretok *p = calloc(1, sizeof *p);
    if (!p) {
        set_err(err, errlen, "tokenizer: out of memory");
        return NULL;
    }
    for (int k = 0; k < 2; k++) {
        int ec;
        PCRE2_SIZE eo;
        p->re[k] = pcre2_compile((PCRE2_SPTR)PATTERNS[k], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
        if (!p->re[k]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            set_err(err, errlen, "tokenizer: pre-tokenizer regex, offset %zu: %s", (size_t)eo, (char *)msg);
            bg__pretok_free(p);
            return NULL;
        }
        p->jit[k] = pcre2_jit_compile(p->re[k], PCRE2_JIT_COMPLETE) == 0;
    }
    return p;
}

void bg__pretok_free(bg__pretok *p) {
    if (!p) return;
    pcre2_code_free(p->re[0]);
    pcre2_code_free(p->re[1]);
    free(p);
}

static int match(const bg__pretok *p, int k, PCRE2_SPTR s, size_t len, size_t pos, pcre2_match_data *md) {
    return p->jit[k] ? pcre2_jit_match(p->re[k], s, len, pos, 0, md, NULL)
                     : pcre2_match(p->re[k], s, len, pos, 0, md, NULL);
}

int bg__pretok_split(const bg__pretok *p, const char *text, size_t len, bg__piece_fn fn, void *ctx) {
    if (len == 0) return 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return BG_TOK_ENOMEM;
    PCRE2_SPTR s = (PCRE2_SPTR)text;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t pos = 0, hi = 0;
    int ret = 0;
    while (hi < len && s[hi] < LEAD_MIN)
        hi++; /* hi: the next byte >= LEAD_MIN */
    while (pos < len && ret == 0) {
        int rc = match(p, 0, s, len, pos, md);
        if (rc > 0) {
            if (hi < ov[0]) /* moves forward only: O(len) in all */
                for (hi = ov[0]; hi < len && s[hi] < LEAD_MIN;)
                    hi++;
            if (hi < ov[1] + 8) rc = match(p, 1, s, len, pos, md);
        }
        if (rc == PCRE2_ERROR_NOMATCH) { /* only invalid UTF-8 is left */
            ret = fn(ctx, text + pos, len - pos);
            break;
        }
        if (rc < 0 || ov[1] <= ov[0] || ov[0] < pos) {
            ret = BG_TOK_EREGEX;
            break;
        }
        if (ov[0] > pos) ret = fn(ctx, text + pos, ov[0] - pos); /* invalid bytes */
        if (ret == 0) ret = fn(ctx, text + ov[0], ov[1] - ov[0]);
        pos = ov[1];
    }
    pcre2_match_data_free(md);
    return ret;
}
