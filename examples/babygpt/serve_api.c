/* serve_api.c - the JSON side of `babygpt serve`: parsing and checking chat
 * and summarize requests, building the model's prompt, the model card, and
 * keeping streamed text valid UTF-8. */
#include "examples/babygpt/serve.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/babygpt/data.h"
#include "examples/babygpt/strbuf.h"


/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s[0..n): 1..4; 0 when s holds a valid but incomplete
 * start; -1 when the first byte cannot start a valid character. */
static int utf8_char(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -1;
    }
    return len;
}

size_t bg_utf8_sanitize(const char *in, size_t n, bool final, char **out, size_t *olen, size_t *ocap) {
    sbuf b = {*out, *olen, *ocap};
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        int k = utf8_char(s + i, n - i);
        if (k == 0 && !final) break;
        if (k > 0) {
            rc = sb_add(&b, in + i, (size_t)k);
            i += (size_t)k;
        } else {
            rc = sb_add(&b, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        }
    }
    *out = b.s;
    *olen = b.n;
    *ocap = b.cap;
    return rc ? (size_t)-1 : i;
}

/* ---- settings ------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int bg_serve_parse_settings(const json_t *settings, int max_tokens, bg_sample_opts *so, uint64_t *seed,
                            bool *has_seed, char *err, size_t errlen) {
    if (!settings || json_is_null(settings)) return 0;
    if (!json_is_object(settings)) {
        snprintf(err, errlen, "settings: must be an object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)settings, key, v) {
        if (strcmp(key, "temperature") == 0 || strcmp(key, "top_p") == 0) {
            if (!json_is_number(v)) return fail(err, errlen, "settings.%s: must be a number", key);
            double x = json_number_value(v);
            bool temp = key[0] == 't' && key[1] == 'e';
            if (temp && !(x >= 0 && x <= 10))
                return fail(err, errlen, "settings.%s: must be in [0, 10], got %g", key, x);
            if (!temp && !(x > 0 && x <= 1))
                return fail(err, errlen, "settings.%s: must be in (0, 1], got %g", key, x);
            if (temp)
                so->temperature = (float)x;
            else
                so->top_p = (float)x;
        } else if (strcmp(key, "top_k") == 0 || strcmp(key, "max_tokens") == 0 || strcmp(key, "seed") == 0) {
            if (!json_is_integer(v)) return fail(err, errlen, "settings.%s: must be an integer", key);
            json_int_t x = json_integer_value(v);
            if (key[0] == 't' && (x < 0 || x > 1000000))
                return fail(err, errlen, "settings.top_k: must be in [0, 1000000], got %lld", (long long)x);
            if (key[0] == 'm' && (x < 1 || x > max_tokens))
                return fail(err, errlen, "settings.max_tokens: must be in [1, %d], got %lld", max_tokens,
                            (long long)x);
            if (key[0] == 's' && x < 0)
                return fail(err, errlen, "settings.seed: must be >= 0, got %lld", (long long)x);
            if (key[0] == 't')
                so->top_k = (int)x;
            else if (key[0] == 'm')
                so->max_tokens = (int)x;
            else {
                *seed = (uint64_t)x;
                *has_seed = true;
            }
        } else {
            snprintf(err, errlen,
                     "settings: unknown setting '%s' (expected temperature, top_k, top_p, "
                     "max_tokens, seed)",
                     key);
            return -1;
        }
    }
    char e2[256];
    if (bg_sample_opts_check(so, e2, sizeof e2)) {
        snprintf(err, errlen, "settings: %s", e2);
        return -1;
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

static bg_sample_opts chat_defaults(void) {
    bg_sample_opts so = bg_sample_defaults();
    so.max_tokens = 60;
    return so;
}

static bg_sample_opts summarize_defaults(void) {
    bg_sample_opts so = bg_sample_defaults();
    so.temperature = 0;
    so.max_tokens = 80;
    return so;
}

/* Parses the body as a JSON object whose keys are all in `allowed` (NULL-terminated). */
static json_t *parse_body(const char *body, size_t len, const char *const *allowed, char *err,
                          size_t errlen) {
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        /* jansson names its own flag for a \u0000; say what it means instead */
        const char *why =
            strstr(je.text, "JSON_ALLOW_NUL") ? "a \\u0000 (NUL) is not allowed in a string" : je.text;
        snprintf(err, errlen, "request body: invalid JSON at line %d, column %d: %s", je.line, je.column,
                 why);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "request body: must be a JSON object");
        json_decref(root);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0)
            a++;
        if (!*a) {
            snprintf(err, errlen, "request body: unknown field '%s'", key);
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

/* A copy of s on one line: CR, LF and tabs become spaces, the ends trimmed. */
static char *one_line(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *o = malloc(n + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++)
        o[i] = (s[i] == '\r' || s[i] == '\n' || s[i] == '\t') ? ' ' : s[i];
    o[n] = '\0';
    return o;
}

/* Number of tokens of a text (0 on a tokenizer error: it is only a size estimate). */
static size_t n_tokens(const bg_tokenizer *tok, const char *s, size_t n) {
    int32_t *ids = NULL;
    size_t k = 0;
    if (bg_tokenizer_encode(tok, s, n, 1, &ids, &k)) k = 0;
    free(ids);
    return k;
}

int bg_serve_parse_chat(const char *body, size_t len, const bg_run *run, int max_tokens, bg_serve_req *r,
                        char *err, size_t errlen) {
    static const char *const allowed[] = {"history", "message", "settings", NULL};
    memset(r, 0, sizeof *r);
    r->so = chat_defaults();
    json_t *root = parse_body(body, len, allowed, err, errlen);
    if (!root) return -1;
    int rc = -1;
    size_t nt = 0;
    char **lines = NULL;
    sbuf p = {0};
    json_t *msg = json_object_get(root, "message"), *hist = json_object_get(root, "history");
    if (bg_serve_parse_settings(json_object_get(root, "settings"), max_tokens, &r->so, &r->seed, &r->has_seed,
                                err, errlen))
        goto done;
    if (!json_is_string(msg)) {
        snprintf(err, errlen, "message: %s", msg ? "must be a string" : "missing (the user's new message)");
        goto done;
    }
    if (hist && !json_is_null(hist) && !json_is_array(hist)) {
        snprintf(err, errlen, "history: must be an array of {\"role\": \"user\"|\"bot\", \"text\": ...}");
        goto done;
    }
    size_t nh = json_is_array(hist) ? json_array_size(hist) : 0;
    lines = calloc(nh + 2, sizeof *lines);
    if (!lines) goto oom;
    for (size_t i = 0; i < nh; i++) {
        json_t *t = json_array_get(hist, i);
        json_t *role = json_object_get(t, "role"), *text = json_object_get(t, "text");
        const char *rs = json_string_value(role);
        if (!json_is_object(t) || !rs || (strcmp(rs, "user") != 0 && strcmp(rs, "bot") != 0)) {
            snprintf(err, errlen, "history[%zu].role: must be \"user\" or \"bot\"", i);
            goto done;
        }
        if (!json_is_string(text) || json_object_size(t) != 2) {
            snprintf(err, errlen, "history[%zu]: must be {\"role\": ..., \"text\": string} and nothing else",
                     i);
            goto done;
        }
        char *l = one_line(json_string_value(text));
        if (!l) goto oom;
        size_t need = strlen(l) + 16;
        if (!(lines[nt] = malloc(need))) {
            free(l);
            goto oom;
        }
        snprintf(lines[nt++], need, "%s%s\n", rs[0] == 'u' ? BG_TURN_PERSON1 : BG_TURN_PERSON2, l);
        free(l);
    }
    char *m = one_line(json_string_value(msg));
    if (!m) goto oom;
    if (!*m) {
        free(m);
        snprintf(err, errlen, "message: must not be empty");
        goto done;
    }
    size_t need = strlen(m) + 32;
    if (!(lines[nt] = malloc(need))) {
        free(m);
        goto oom;
    }
    snprintf(lines[nt++], need, "%s%s\n%s", BG_TURN_PERSON1, m, BG_TURN_PERSON2_CUE);
    free(m);
    /* keep the newest turns that fit the context with room for the reply */
    int block = run->model->cfg.block_size;
    size_t budget = (size_t)(block - r->so.max_tokens > block / 2 ? block - r->so.max_tokens : block / 2);
    size_t first = nt - 1, used = 1 + n_tokens(run->tok, lines[nt - 1], strlen(lines[nt - 1]));
    while (first > 0) {
        size_t k = n_tokens(run->tok, lines[first - 1], strlen(lines[first - 1]));
        if (used + k > budget) break;
        used += k;
        first--;
    }
    if (sb_str(&p, BG_EOT)) goto oom;
    for (size_t i = first; i < nt; i++)
        if (sb_str(&p, lines[i])) goto oom;
    r->prompt = p.s;
    p.s = NULL;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    for (size_t i = 0; lines && i < nt; i++)
        free(lines[i]);
    free(lines);
    free(p.s);
    json_decref(root);
    return rc;
}

int bg_serve_parse_summarize(const char *body, size_t len, const bg_run *run, int max_tokens, bg_serve_req *r,
                             char *err, size_t errlen) {
    static const char *const allowed[] = {"dialogue", "settings", NULL};
    (void)run;
    memset(r, 0, sizeof *r);
    r->so = summarize_defaults();
    json_t *root = parse_body(body, len, allowed, err, errlen);
    if (!root) return -1;
    int rc = -1;
    json_t *d = json_object_get(root, "dialogue");
    if (bg_serve_parse_settings(json_object_get(root, "settings"), max_tokens, &r->so, &r->seed, &r->has_seed,
                                err, errlen))
        goto done;
    if (!json_is_string(d)) {
        snprintf(err, errlen, "dialogue: %s",
                 d ? "must be a string" : "missing (turns '#Person1#: ...', one per line)");
        goto done;
    }
    bg_example e = {"", (char *)json_string_value(d), NULL, ""};
    char *doc = bg_format_document(&e);
    if (!doc) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (!strstr(doc, "#Person")) {
        free(doc);
        snprintf(err, errlen,
                 "dialogue: holds no turns (lines starting '#PersonN#: ', such as '#Person1#: ')");
        goto done;
    }
    sbuf p = {0};
    if (sb_str(&p, BG_EOT) || sb_str(&p, doc) || sb_str(&p, "\n" BG_SUMMARY_CUE)) {
        free(p.s);
        free(doc);
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    free(doc);
    r->prompt = p.s;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

void bg_serve_req_free(bg_serve_req *r) {
    if (!r) return;
    free(r->prompt);
    r->prompt = NULL;
}

/* ---- the model card ------------------------------------------------------------------------- */

/* A float as the double with the same 6 significant digits (0.8f gives 0.8, not 0.800000011920929). */
static double short_f(float x) {
    char b[32];
    snprintf(b, sizeof b, "%.6g", (double)x);
    return strtod(b, NULL);
}

static json_t *opts_json(bg_sample_opts so) {
    return json_pack("{s:f, s:i, s:f, s:i}", "temperature", short_f(so.temperature), "top_k", so.top_k,
                     "top_p", short_f(so.top_p), "max_tokens", so.max_tokens);
}

static json_t *loss_json(const char *s) {
    char *end = NULL;
    double x = s && *s ? strtod(s, &end) : NAN;
    return end && *end == '\0' && isfinite(x) ? json_real(x) : json_null();
}

json_t *bg_serve_info(const bg_run *run, bool has_loss_png, const bg_serve_opts *o) {
    const bg_config *c = &run->model->cfg;
    const char *base = strrchr(run->path, '/');
    bg_sample_opts chat = chat_defaults(), sum = summarize_defaults();
    if (chat.max_tokens > o->max_tokens) chat.max_tokens = o->max_tokens;
    if (sum.max_tokens > o->max_tokens) sum.max_tokens = o->max_tokens;
    return json_pack("{s:s, s:{s:s, s:i, s:i, s:i, s:i, s:i, s:f}, s:I, s:I, s:o, s:o, s:s, s:o, "
                     "s:{s:i, s:I, s:i, s:i}, s:{s:o, s:o}}",
                     "model", "Baby GPT", "config", "name", c->name, "n_layer", c->n_layer, "n_head",
                     c->n_head, "n_embd", c->n_embd, "block_size", c->block_size, "vocab_size", c->vocab_size,
                     "dropout", short_f(c->dropout), "params",
                     (json_int_t)nb_module_num_params(run->model->root), "step", (json_int_t)run->step,
                     "train_loss", loss_json(run->meta_train_loss), "val_loss", loss_json(run->meta_val_loss),
                     "checkpoint", base ? base + 1 : run->path, "loss_png",
                     has_loss_png ? json_string("/loss.png") : json_null(), "limits", "max_tokens",
                     o->max_tokens, "max_body", (json_int_t)o->max_body, "workers", o->workers, "queue",
                     o->queue, "defaults", "chat", opts_json(chat), "summarize", opts_json(sum));
}
