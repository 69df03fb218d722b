/* fuzz_safetensors.c - libFuzzer target for the safetensors loader.
 *
 * Every input is parsed with nb_safetensors_open_memory. A rejected input
 * must leave a message naming the file; an accepted one must have entries
 * whose reported shapes fit in the input, and every tensor and metadata value
 * is read (ASan catches any out-of-bounds read). Inputs that start with a
 * valid 8-byte length are most interesting; seed the corpus with a real file:
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined \
 *     -Iinclude -I. fuzz/fuzz_safetensors.c \
 *     tensor/[a-z]*.c autograd/[a-z]*.c ops/[a-z]*.c backends/[a-z]*.c \
 *     backends/cpu/[a-z]*.c nn/[a-z]*.c \
 *     $(pkg-config --cflags --libs jansson) -lm -o /tmp/fuzz_safetensors
 *   mkdir -p /tmp/st_corpus
 *   NB_FUZZ_SEED_DIR=/tmp/st_corpus /tmp/fuzz_safetensors -max_total_time=60 -max_len=4096 \
 *     /tmp/st_corpus                                             # CI: a short run
 *   /tmp/fuzz_safetensors -max_total_time=3600 -max_len=65536 /tmp/st_corpus   # a longer one
 *
 * With NB_FUZZ_SEED_DIR set, the target first writes one valid file there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Writes a small valid file into $NB_FUZZ_SEED_DIR, so that the fuzzer starts
 * from the real format rather than from nothing. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *d = getenv("NB_FUZZ_SEED_DIR");
    if (!d || !*d) return 0;
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    float f[6] = {1, 2, 3, 4, 5, 6};
    int32_t i[2] = {7, -8};
    nb_tensor *ts[2] = {nb_from_data(ctx, NB_F32, NB_SHAPE(2, 3), f),
                        nb_from_data(ctx, NB_I32, NB_SHAPE(2), i)};
    const char *names[2] = {"w", "idx"}, *mk[1] = {"step"}, *mv[1] = {"3"};
    char path[1024];
    snprintf(path, sizeof path, "%s/seed.safetensors", d);
    nb_safetensors_save(path, names, ts, 2, mk, mv, 1);
    nb_ctx_free(ctx);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nb_clear_error();
    nb_safetensors *f = nb_safetensors_open_memory(data, size, "fuzz");
    if (!f) {
        if (!strstr(nb_last_error(), "fuzz")) abort(); /* every rejection names the file */
        return 0;
    }
    nb_ctx *ctx = nb_ctx_new(1 << 16);
    for (int k = 0; k < nb_safetensors_count(f); k++) {
        nb_dtype dt;
        int nd;
        int64_t shape[NB_MAX_DIMS];
        if (nb_safetensors_info(f, k, &dt, &nd, shape)) abort();
        uint64_t bytes = nb_dtype_size(dt);
        for (int d = 0; d < nd; d++)
            bytes *= (uint64_t)shape[d];
        if (bytes > size) abort(); /* an accepted shape always fits in the input */
        nb_tensor *t = nb_safetensors_read(f, ctx, nb_safetensors_name(f, k));
        if (!t) { /* an accepted file always reads, but for an I64 value beyond i32 (read as i32) */
            if (!strstr(nb_last_error(), "outside the i32 range")) abort();
            nb_clear_error();
            continue;
        }
        volatile uint8_t sink = 0;
        const uint8_t *p = nb_data(t);
        for (uint64_t b = 0; b < bytes; b++)
            sink ^= p[b];
        (void)sink;
        nb_ctx_reset(ctx);
    }
    for (int k = 0; k < nb_safetensors_meta_count(f); k++)
        if (!nb_safetensors_meta_key(f, k) || !nb_safetensors_meta_value(f, k)) abort();
    nb_ctx_free(ctx);
    nb_safetensors_close(f);
    return 0;
}
