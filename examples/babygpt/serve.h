/* serve.h - `babygpt serve`: a small web server (libmicrohttpd) with one chat
 * page and a JSON API over a loaded Baby GPT run. See docs/serve.md.
 *
 * Threads: libmicrohttpd runs one thread per connection; generation runs in a
 * pool of `workers` threads fed by a queue of at most `queue` waiting jobs
 * (503 beyond). Each job has its own prompt, KV cache, nabla context and RNG;
 * the model's weights are shared read-only by every worker. */
#ifndef BG_SERVE_H
#define BG_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "examples/babygpt/generate.h"
#include "examples/babygpt/run.h"

typedef struct {
    const char *host;    /* IPv4/IPv6 literal or "localhost" (default 127.0.0.1) */
    int port;            /* 0: any free port (see bg_serve_port) */
    int workers;         /* generation threads (default 2) */
    int queue;           /* waiting jobs at most before 503 (default 16) */
    int max_connections; /* open connections at most (default 256) */
    size_t max_body;     /* request body bytes at most (default 64 KiB) */
    int max_tokens;      /* upper bound of the max_tokens setting (default 512) */
    int token_delay_ms;  /* pause after each streamed piece (demos, tests; default 0) */
    bool quiet;          /* no request log on stderr */
} bg_serve_opts;

/* The defaults above. */
bg_serve_opts bg_serve_defaults(void);

typedef struct bg_server bg_server;

/* Starts serving `run` (borrowed: it must outlive the server) as o says;
 * `run_dir` is where loss.png is looked for (NULL: none). Returns the server,
 * or NULL with a message in err (bad option, address in use, ...). */
bg_server *bg_serve_start(bg_run *run, const char *run_dir, const bg_serve_opts *o, char *err, size_t errlen);
/* The TCP port the server listens on (useful with port 0). */
int bg_serve_port(const bg_server *s);
/* Stops accepting, cancels every generation, waits for the threads and frees
 * the server. NULL-safe. */
void bg_serve_stop(bg_server *s);

/* Counters since start (a consistent snapshot). */
typedef struct {
    uint64_t requests;      /* requests answered (any status) */
    uint64_t client_errors; /* 4xx answers */
    uint64_t busy;          /* 503 answers (queue full) */
    uint64_t jobs_done;     /* generations that ran to their end */
    uint64_t jobs_canceled; /* generations stopped early (client gone, shutdown) */
    uint64_t tokens;        /* tokens generated in all */
    int queued, running;    /* jobs waiting / generating now */
} bg_serve_stats;

/* Fills *st with the server's counters. */
void bg_serve_get_stats(bg_server *s, bg_serve_stats *st);

/* `babygpt serve --checkpoint C [--host H] [--port P] ...` (serve_cmd.c):
 * serves until SIGINT/SIGTERM. Returns the process exit status. */
int bg_cmd_serve(int argc, char **argv);

/* ---- Internals shared by serve*.c (and tested by tests/test_serve.c) ---- */

/* The embedded page (HTML with its CSS and JavaScript), malloc'd; NULL when
 * out of memory. *len gets its length. */
char *bg_serve_page(size_t *len);

/* What a chat or summarize request asks for. */
typedef struct {
    char *prompt; /* the text given to the model (malloc'd) */
    bg_sample_opts so;
    uint64_t seed;
    bool has_seed;
} bg_serve_req;

/* Parses a POST /api/chat body: {"history": [{"role": "user"|"bot", "text": s}],
 * "message": s, "settings": {...}} into r (prompt: <|endoftext|> + turns, the
 * oldest dropped to leave room for the reply). 0, or -1 with a message. */
int bg_serve_parse_chat(const char *body, size_t len, const bg_run *run, int max_tokens, bg_serve_req *r,
                        char *err, size_t errlen);
/* Parses a POST /api/summarize body: {"dialogue": s, "settings": {...}}.
 * 0, or -1 with a message. */
int bg_serve_parse_summarize(const char *body, size_t len, const bg_run *run, int max_tokens, bg_serve_req *r,
                             char *err, size_t errlen);
/* Reads the optional "settings" object onto *so and the seed. Unknown keys,
 * wrong types and out-of-range values are errors. 0, or -1 with a message. */
int bg_serve_parse_settings(const json_t *settings, int max_tokens, bg_sample_opts *so, uint64_t *seed,
                            bool *has_seed, char *err, size_t errlen);
/* Frees what a parse function put in r. */
void bg_serve_req_free(bg_serve_req *r);

/* The model card for GET /api/info (new reference), NULL when out of memory. */
json_t *bg_serve_info(const bg_run *run, bool has_loss_png, const bg_serve_opts *o);

/* Appends the valid UTF-8 of in[0..n) to *out (malloc'd, grown; *olen and *ocap
 * track it), each invalid byte as U+FFFD. An incomplete character at the end
 * is left unread unless `final`. Returns how many bytes were consumed, or
 * (size_t)-1 when out of memory. */
size_t bg_utf8_sanitize(const char *in, size_t n, bool final, char **out, size_t *olen, size_t *ocap);

/* ---- The generation pool (serve_pool.c) ---- */

typedef struct bg_pool bg_pool;
typedef struct bg_job bg_job;

/* A pool of `workers` threads generating from `run` (borrowed), with at most
 * `queue` jobs waiting. NULL with a message in err. */
bg_pool *bg_pool_new(bg_run *run, int workers, int queue, int token_delay_ms, char *err, size_t errlen);
/* Refuses new jobs, cancels queued and running ones and joins the workers;
 * jobs still referenced stay readable (they end as failed). NULL-safe. */
void bg_pool_shutdown(bg_pool *p);
/* Shuts the pool down (if not yet) and frees it. NULL-safe. */
void bg_pool_free(bg_pool *p);

enum { BG_SUBMIT_OK = 0, BG_SUBMIT_BUSY = 1, BG_SUBMIT_STOPPING = 2, BG_SUBMIT_NOMEM = 3 };

/* Queues a generation of req->prompt (taken over: req->prompt becomes NULL).
 * `stream`: keep the text as it comes for bg_job_next. Returns the job (the
 * caller holds one reference) or NULL with *why = BG_SUBMIT_BUSY (queue
 * full), BG_SUBMIT_STOPPING or BG_SUBMIT_NOMEM. */
bg_job *bg_pool_submit(bg_pool *p, bg_serve_req *req, bool stream, int *why);

/* What bg_job_next hands over. text/reply are malloc'd (caller frees). */
typedef struct {
    char *text; /* valid UTF-8 streamed since the last call (may be NULL) */
    size_t len;
    bool done; /* the job has ended: reply or error below */
    bool failed;
    char error[256];
    char *reply;    /* when done and not failed: the whole reply, trimmed */
    int tokens;     /* tokens generated */
    double seconds; /* time spent generating */
} bg_job_update;

/* Waits up to timeout_ms for new text or the end of the job. Returns 1 when
 * u holds something (new text and/or done), 0 on timeout. */
int bg_job_next(bg_job *j, int timeout_ms, bg_job_update *u);
/* Asks the job to stop (its client is gone); a waiting job leaves the queue at once. */
void bg_job_cancel(bg_job *j);
/* Drops one reference; the job is freed with the last one. NULL-safe. */
void bg_job_release(bg_job *j);
/* Adds the pool's job counters to st (queued, running, jobs_done, jobs_canceled, tokens). */
void bg_pool_stats(bg_pool *p, bg_serve_stats *st);

#endif
