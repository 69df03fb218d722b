/* data.h - DialogSum loaders (CSV and JSON lines) and the document format for Baby GPT.
 *
 * Document format
 * ---------------
 * Every example (one dialogue, its optional summary and topic) becomes one document that
 * serves both chat and summarization:
 *
 *     #Person1#: Hi, Mr. Smith. I'm Doctor Hawkins. Why are you here today?
 *     #Person2#: I found it would be a good idea to get a check-up.
 *     ...
 *     #Summary#: Mr. Smith's getting a check-up, and Doctor Hawkins advises him ...
 *
 * - The dialogue comes first, one turn per line, each line starting with its speaker
 *   prefix `#Person1#: ` / `#Person2#: ` (`#Person3#: ` and so on where DialogSum has more
 *   speakers). Line ends are normalised to `\n` (CRLF and lone CR become LF), spaces and
 *   tabs around each line are trimmed, empty lines are dropped, and a missing space after a
 *   prefix (`#Person1#:Okay`) is added.
 * - If the example has a summary, one last line `#Summary#: <summary>` follows, with the
 *   summary's own line breaks and whitespace runs collapsed to single spaces.
 * - A document has no trailing newline. A corpus is the documents of a split, in order,
 *   joined by `<|endoftext|>` (BG_EOT): `doc1<|endoftext|>doc2<|endoftext|>doc3`.
 *
 * So a summarization prompt is `<dialogue lines>\n#Summary#:` and the model's answer runs
 * up to `<|endoftext|>`; a chat prompt is the turns so far followed by `\n#Person2#:` (no
 * trailing space: see BG_SUMMARY_CUE).
 *
 * Loading
 * -------
 * CSV (RFC 4180; header naming `id`, `dialogue`, `summary`, `topic` in any order, extra
 * columns ignored; `fname` is accepted for `id`) and JSON lines (objects with `fname` or
 * `id`, `dialogue`, `summary` or `summary1`..`summary3`, `topic`). A JSON line holding
 * several of `summary1`..`summary3` gives one example per summary (same id and dialogue),
 * the layout DialogSum's test.csv uses. Malformed rows are reported one per warning,
 * `file:line: what`, and skipped; they never abort the load. */
#ifndef BG_DATA_H
#define BG_DATA_H

#include <stdbool.h>
#include <stddef.h>

#define BG_TURN_PERSON1 "#Person1#: "   /* prefix of the first speaker's turns */
#define BG_TURN_PERSON2 "#Person2#: "   /* prefix of the second speaker's turns */
#define BG_SUMMARY_MARK "#Summary#: "   /* prefix of the summary line */
#define BG_EOT          "<|endoftext|>" /* document separator (GPT-2 id 50256) */
/* Prompts end with these cues, without the trailing space: byte-level BPE puts
 * a word's leading space inside the word's token (" Hello"), so a prompt that
 * ended in a space would ask the model to continue from a split it never saw
 * in training. The generated text then starts with that space. */
#define BG_TURN_PERSON2_CUE "#Person2#:" /* cue for the second speaker's next turn */
#define BG_SUMMARY_CUE      "#Summary#:" /* cue for the summary */

/* One example. id, dialogue and topic are never NULL (possibly ""); summary is NULL when the
 * row has none. All strings are malloc'd and owned by the split holding the example. */
typedef struct {
    char *id, *dialogue, *summary, *topic;
} bg_example;

/* A list of examples; `skipped` counts malformed rows left out while loading.
 * Zero-initialise before use, free with bg_split_free. */
typedef struct {
    bg_example *ex;
    size_t n, cap;
    size_t skipped;
} bg_split;

/* Receives one malformed-row message per call, like "train.csv:123: unterminated quoted
 * field". The message is only valid during the call. */
typedef void (*bg_warn_fn)(void *user, const char *msg);

/* File formats for bg_load_buffer; BG_FMT_AUTO sniffs (first non-blank byte '{' => JSONL). */
typedef enum { BG_FMT_AUTO = 0, BG_FMT_CSV, BG_FMT_JSONL } bg_format;

/* Ready-made warning callback: prints "babygpt: warning: <msg> (row skipped)" to stderr
 * (user unused). */
void bg_warn_stderr(void *user, const char *msg);

/* Frees every example of s and resets it to empty. Safe on NULL and on an empty split. */
void bg_split_free(bg_split *s);

/* Appends a copy of the strings (summary/id/topic may be NULL) to s. Returns 0, or -1 on
 * out-of-memory (s unchanged). The split owns the copies. */
int bg_split_add(bg_split *s, const char *id, const char *dialogue, const char *summary, const char *topic);

/* Parses len bytes of CSV or JSONL text (need not be NUL-terminated) and appends the good
 * rows to out. `name` is used in messages (e.g. "train.csv"). Malformed rows go to warn
 * (NULL: dropped) and are counted in out->skipped. Returns 0 if at least one row was added,
 * else -1 with a message in err (out keeps what it held before). */
int bg_load_buffer(const char *buf, size_t len, bg_format fmt, const char *name, bg_split *out,
                   bg_warn_fn warn, void *user, char *err, size_t errlen);

/* Loads one .csv or .jsonl/.json file (other names: sniffed) into *out (must be empty or
 * zeroed; on error it stays empty). Returns 0, or -1 with err set (missing or unreadable
 * file, bad header, no valid rows). */
int bg_load_file(const char *path, bg_split *out, bg_warn_fn warn, void *user, char *err, size_t errlen);

/* Loads a dataset. A folder must hold train.{csv,jsonl,json} and may hold
 * validation.{csv,jsonl,json} (or dev.*); a single file is one split. When there is no
 * validation file, the last ~10% of the rows (moved forward so that copies of one dialogue
 * stay together) become *val. val may be NULL: then everything goes to *train. Returns 0,
 * or -1 with err set and both splits empty. */
int bg_load_dataset(const char *path, bg_split *train, bg_split *val, bg_warn_fn warn, void *user, char *err,
                    size_t errlen);

/* Moves the last `frac` (0..1) of *all into *val (at least one row when all holds two or
 * more, never all of them), keeping rows with the same id on one side. *all keeps the
 * rest. Returns 0, or -1 on out-of-memory (nothing moved). */
int bg_split_carve(bg_split *all, double frac, bg_split *val);

/* Formats one example as a document (see above). Returns a malloc'd string the caller
 * frees, or NULL on out-of-memory or when e / e->dialogue is NULL. */
char *bg_format_document(const bg_example *e);

/* Formats a whole split: documents joined by BG_EOT. Stores the length in *len if len is
 * not NULL. Returns a malloc'd string ("" for an empty split) or NULL on out-of-memory. */
char *bg_format_corpus(const bg_split *s, size_t *len);
/* Whether s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool bg_utf8_valid(const char *s, size_t n);

#endif
