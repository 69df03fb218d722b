/* fuzz_serve_api.c - libFuzzer target for the JSON request parsing of `babygpt serve`
 * (serve_api.c: bg_serve_parse_chat, bg_serve_parse_summarize, bg_serve_parse_settings) and
 * the streaming UTF-8 sanitizer (bg_utf8_sanitize).
 *
 * serve_api.c needs no libmicrohttpd but the library build leaves every serve*.c out, so this
 * file includes it. The run it parses against has a byte-level BPE trained at start-up and a
 * model of which only the configuration is read (block_size 64). Each input is parsed as a chat
 * body and as a summarize body. A rejection must leave a message and no prompt; an accepted
 * request must give settings that bg_sample_opts_check accepts and a prompt of the documented
 * shape. The input is also sanitized whole and in pieces (cut where its bytes say): both must
 * give the same valid UTF-8.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined -I. -Iinclude \
 *     $(pkg-config --cflags libpcre2-8 jansson) fuzz/fuzz_serve_api.c build/libbabygpt.a build/libnabla.a \
 *     $(pkg-config --libs libpcre2-8 jansson) -lm -o /tmp/fuzz_serve_api
 *   /tmp/fuzz_serve_api -max_total_time=60 -max_len=4096
 */
#include "examples/babygpt/serve_api.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOKENS 512

static const char CORPUS[] =
    "#Person1#: Hello, how are you doing today? I'm fine, thanks.\n"
    "#Person2#: We'll meet at 10:30 tomorrow. It's 2024 and the caf\xc3\xa9 is open.\n"
    "#Summary#: Person1 and Person2 talk about the meeting.<|endoftext|>";

static bg_tokenizer *tok;
static bg_model fake_model; /* only cfg is read */
static bg_run run;

static void cleanup(void) { bg_tokenizer_free(tok); }

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_serve_api: %s (%s)\n", what, detail ? detail : "");
    abort();
}

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static bool ends_with(const char *s, const char *p) {
    size_t n = strlen(s), m = strlen(p);
    return n >= m && strcmp(s + n - m, p) == 0;
}

static void check_request(int rc, bg_serve_req *r, const char *err, const char *tail) {
    if (rc != 0) {
        if (rc != -1 || r->prompt || !err[0]) die("a rejection must give -1, no prompt and a message", err);
        return;
    }
    char e2[256];
    if (!r->prompt) die("an accepted request without a prompt", NULL);
    if (bg_sample_opts_check(&r->so, e2, sizeof e2)) die("accepted settings fail the check", e2);
    if (r->so.max_tokens > MAX_TOKENS) die("max_tokens above the server's limit", NULL);
    if (!starts_with(r->prompt, BG_EOT) || !ends_with(r->prompt, tail))
        die("prompt of the wrong shape", NULL);
    bg_serve_req_free(r);
    if (r->prompt) die("bg_serve_req_free left the prompt", NULL);
}

/* Sanitizes the input whole and in pieces; both must give the same valid UTF-8. */
static void check_sanitize(const uint8_t *data, size_t size) {
    char *whole = NULL, *parts = NULL;
    size_t wl = 0, wc = 0, pl = 0, pc = 0;
    if (bg_utf8_sanitize((const char *)data, size, true, &whole, &wl, &wc) != size)
        die("sanitize whole", NULL);
    /* streaming: pieces of 1 + data[i] % 7 bytes; the unread tail of a piece is fed again */
    size_t at = 0, pending = 0;
    while (at < size || pending) {
        size_t take = at < size ? 1 + data[at] % 7 : 0;
        if (take > size - at) take = size - at;
        bool final = at + take == size;
        size_t n = pending + take;
        size_t used = bg_utf8_sanitize((const char *)data + at - pending, n, final, &parts, &pl, &pc);
        if (used == (size_t)-1 || used > n) die("sanitize piece", NULL);
        if (final && used != n) die("a final piece left bytes unread", NULL);
        if (n - used > 3) die("more than 3 bytes held back", NULL);
        at += take;
        pending = n - used;
        if (final) break;
    }
    if (wl != pl || (wl && memcmp(whole, parts, wl) != 0)) die("streamed and whole sanitizing differ", NULL);
    if (!bg_utf8_valid(whole ? whole : "", wl)) die("sanitized text is not valid UTF-8", NULL);
    free(whole);
    free(parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) {
        char err[256];
        tok = bg_tokenizer_train(CORPUS, sizeof CORPUS - 1, 300, err, sizeof err);
        if (!tok) die("training failed", err);
        atexit(cleanup);
        fake_model.cfg.block_size = 64;
        fake_model.cfg.vocab_size = bg_tokenizer_vocab_size(tok);
        run.model = &fake_model;
        run.tok = tok;
    }
    bg_serve_req r;
    char err[512] = "";
    int rc = bg_serve_parse_chat((const char *)data, size, &run, MAX_TOKENS, &r, err, sizeof err);
    check_request(rc, &r, err, "\n" BG_TURN_PERSON2_CUE);
    err[0] = '\0';
    rc = bg_serve_parse_summarize((const char *)data, size, &run, MAX_TOKENS, &r, err, sizeof err);
    check_request(rc, &r, err, "\n" BG_SUMMARY_CUE);
    check_sanitize(data, size);
    return 0;
}
