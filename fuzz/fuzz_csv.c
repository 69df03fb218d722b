/* fuzz_csv.c - libFuzzer target for the DialogSum CSV loader (bg_load_buffer) and the document
 * formatter. Build and run (from the repository root):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *       fuzz/fuzz_csv.c examples/babygpt/data.c examples/babygpt/data_format.c \
 *       $(pkg-config --cflags --libs jansson) -o /tmp/fuzz_csv
 *   /tmp/fuzz_csv -max_total_time=60 -max_len=4096 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "examples/babygpt/data.h"

static void count_warning(void *user, const char *msg) {
    size_t *n = user;
    *n += msg[0] != '\0'; /* every warning is a non-empty message */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bg_split s = {0};
    size_t warnings = 0;
    char err[256];
    int rc = bg_load_buffer((const char *)data, size, BG_FMT_CSV, "fuzz.csv", &s, count_warning, &warnings,
                            err, sizeof err);
    if (rc != 0 && s.n != 0) abort(); /* an error leaves the split empty */
    if (warnings != s.skipped) abort();
    size_t len = 0;
    char *corpus = bg_format_corpus(&s, &len);
    if (!corpus || strlen(corpus) != len) abort();
    free(corpus);
    for (size_t i = 0; i < s.n; i++) {
        if (!s.ex[i].id || !s.ex[i].dialogue || !s.ex[i].topic) abort();
        free(bg_format_document(&s.ex[i]));
    }
    bg_split_free(&s);
    return 0;
}
