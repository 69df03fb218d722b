/* fuzz_tokenizer.c - libFuzzer target: encode/decode round trip of arbitrary bytes.
 *
 * A byte-level BPE is trained at start-up on a small built-in text (no data files needed).  Each
 * input is encoded with and without the special token, and decoded back; any difference aborts,
 * as do ids out of range or an EOT id when the special token is not allowed.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude \
 *     $(pkg-config --cflags libpcre2-8 jansson) fuzz/fuzz_tokenizer.c \
 *     examples/babygpt/tokenizer*.c $(pkg-config --libs libpcre2-8 jansson) -o /tmp/fuzz_tokenizer
 *   /tmp/fuzz_tokenizer -max_total_time=60 -max_len=4096
 */
#include "examples/babygpt/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CORPUS[] =
    "#Person1#: Hello, how are you doing today? I'm fine, thanks. You've been great;\n"
    "#Person2#: We'll meet at 10:30 tomorrow, they'd said. It's 2024 and the café is naïve.\n"
    "#Person1#: Привет! 日本語のテキスト。 مرحبا بالعالم 🙂👍🏽 👨‍👩‍👧 e\xcc\x81 \t\t "
    " "
    "\n\n"
    "<|endoftext|>The summary: Person1 and Person2 talk about the meeting and the weather.\n"
    "   indented lines    with   spaces, numbers 3.14159 and 1,000,000; 'quoted' \"double\"\n";

static bg_tokenizer *tok;

static void cleanup(void) { bg_tokenizer_free(tok); }

static void fail(const char *what, size_t size) {
    fprintf(stderr, "fuzz_tokenizer: %s (input of %zu bytes)\n", what, size);
    abort();
}

static void roundtrip(const uint8_t *data, size_t size, int special) {
    int32_t *ids;
    size_t n;
    int rc = bg_tokenizer_encode(tok, (const char *)data, size, special, &ids, &n);
    if (rc != BG_TOK_OK) fail(bg_tokenizer_strerror(rc), size);
    if (n > size) fail("more ids than bytes", size);
    if (bg_tokenizer_check_ids(tok, ids, n, NULL, 0) != 0) fail("id out of range", size);
    size_t len;
    char *back = bg_tokenizer_decode(tok, ids, n, &len);
    if (!back) fail("decode returned NULL", size);
    if (len != size || (size && memcmp(back, data, size) != 0)) fail("round trip differs", size);
    if (back[len] != '\0') fail("decode output not NUL-terminated", size);
    /* without specials, the EOT id must never appear */
    for (size_t i = 0; !special && i < n; i++) {
        if (ids[i] == bg_tokenizer_eot(tok)) fail("EOT id without allow_special", size);
    }
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) {
        char err[256];
        tok = bg_tokenizer_train(CORPUS, sizeof CORPUS - 1, 420, err, sizeof err);
        if (!tok) {
            fprintf(stderr, "fuzz_tokenizer: training failed: %s\n", err);
            abort();
        }
        atexit(cleanup);
    }
    roundtrip(data, size, 0);
    roundtrip(data, size, 1);
    return 0;
}
