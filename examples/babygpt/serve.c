/* serve.c - the HTTP side of `babygpt serve` (libmicrohttpd, one thread per
 * connection): routing, bounded request bodies, JSON answers, the chat's
 * server-sent events, noticing clients that leave, starting and stopping. The
 * `babygpt serve` subcommand is in serve_cmd.c. */
#include "examples/babygpt/serve.h"

#include <arpa/inet.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define LOSS_PNG_MAX (16u << 20)

struct bg_server {
    bg_serve_opts o;
    bg_run *run;
    bg_pool *pool;
    struct MHD_Daemon *d;
    char *page;
    size_t page_len;
    char *png;
    size_t png_len;
    char *info; /* GET /api/info, built once */
    int port;
    pthread_mutex_t mu;
    uint64_t requests, client_errors, busy;
};

bg_serve_opts bg_serve_defaults(void) {
    return (bg_serve_opts){"127.0.0.1", 8080, 2, 16, 256, 64 * 1024, 512, 0, false};
}

/* Per-connection state: the request body as it arrives; for a streamed reply, its log line,
 * written when the stream ends (with its real duration). */
typedef struct {
    char *body;
    size_t n, cap;
    bool too_big;
    double t0;
    bool streamed;
    char what[256]; /* "POST /api/chat -> 200" */
} conn_state;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void count(bg_server *s, unsigned status) {
    pthread_mutex_lock(&s->mu);
    s->requests++;
    if (status == 503)
        s->busy++;
    else if (status >= 400 && status < 500)
        s->client_errors++;
    pthread_mutex_unlock(&s->mu);
}

static void log_request(bg_server *s, const char *method, const char *url, unsigned status, conn_state *cs) {
    if (s->o.quiet) return;
    fprintf(stderr, "babygpt serve: %s %s -> %u (%.0f ms)\n", method, url, status,
            cs ? (now_s() - cs->t0) * 1e3 : 0.0);
}

/* Queues a response with the usual headers; frees it. */
static enum MHD_Result answer(struct MHD_Connection *c, bg_server *s, unsigned status, struct MHD_Response *r,
                              const char *type) {
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    count(s, status);
    return ret;
}

/* Answers with j (reference taken over) as compact JSON. */
static enum MHD_Result answer_json(struct MHD_Connection *c, bg_server *s, unsigned status, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    if (!text) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) free(text);
    return answer(c, s, status, r, "application/json");
}

static enum MHD_Result answer_error(struct MHD_Connection *c, bg_server *s, unsigned status, const char *fmt,
                                    ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result answer_error(struct MHD_Connection *c, bg_server *s, unsigned status, const char *fmt,
                                    ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* keep the message valid UTF-8 for jansson (it may quote client input) */
    char *clean = NULL;
    size_t n = 0, cap = 0;
    bg_utf8_sanitize(msg, strlen(msg), true, &clean, &n, &cap);
    json_t *j = json_pack("{s:s}", "error", clean ? clean : "error");
    free(clean);
    return answer_json(c, s, status, j);
}

/* True when the client has closed its side of the connection. */
static bool client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd pf = {ci->connect_fd, POLLRDHUP, 0};
    return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static const char *submit_error(int why) {
    return why == BG_SUBMIT_BUSY ? "the server is busy: every worker is generating and the queue is full; "
                                   "try again shortly"
           : why == BG_SUBMIT_STOPPING ? "the server is shutting down"
                                       : "out of memory";
}

/* ---- POST /api/chat: server-sent events --------------------------------------------------- */

typedef struct {
    bg_job *job;
    struct MHD_Connection *c;
    char *buf; /* formatted events not yet handed to MHD */
    size_t n, off, cap;
    bool finished;
} sse_state;

static int sse_add(sse_state *st, const char *s, size_t n) {
    if (st->n + n > st->cap) {
        size_t c = st->cap ? st->cap : 1024;
        while (c < st->n + n)
            c *= 2;
        char *p = realloc(st->buf, c);
        if (!p) return -1;
        st->buf = p;
        st->cap = c;
    }
    memcpy(st->buf + st->n, s, n);
    st->n += n;
    return 0;
}

/* Appends "data: <json>\n\n" (j taken over). */
static int sse_event(sse_state *st, json_t *j) {
    char *t = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    int rc = !t || sse_add(st, "data: ", 6) || sse_add(st, t, strlen(t)) || sse_add(st, "\n\n", 2);
    free(t);
    return rc ? -1 : 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max) {
    sse_state *st = cls;
    (void)pos;
    while (st->off == st->n) {
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        st->n = st->off = 0;
        if (client_gone(st->c)) {
            bg_job_cancel(st->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        bg_job_update u;
        if (!bg_job_next(st->job, 250, &u)) continue;
        int rc = 0;
        if (u.len) rc = sse_event(st, json_pack("{s:s%}", "token", u.text, u.len));
        if (u.done && !rc) {
            if (u.failed)
                rc = sse_event(st, json_pack("{s:s}", "error", u.error));
            else
                rc = sse_event(st, json_pack("{s:b, s:s, s:i, s:f}", "done", 1, "reply", u.reply, "tokens",
                                             u.tokens, "seconds", round(u.seconds * 1e3) / 1e3));
            st->finished = true;
        }
        free(u.text);
        free(u.reply);
        if (rc) {
            bg_job_cancel(st->job);
            fprintf(stderr, "babygpt serve: a chat stream ended early: out of memory for its next event\n");
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t k = st->n - st->off < max ? st->n - st->off : max;
    memcpy(out, st->buf + st->off, k);
    st->off += k;
    return (ssize_t)k;
}

static void sse_free(void *cls) {
    sse_state *st = cls;
    bg_job_cancel(st->job); /* no-op when it has ended; else its client is gone */
    bg_job_release(st->job);
    free(st->buf);
    free(st);
}

static enum MHD_Result do_chat(struct MHD_Connection *c, bg_server *s, conn_state *cs, unsigned *status) {
    bg_serve_req req;
    char err[512];
    if (bg_serve_parse_chat(cs->body, cs->n, s->run, s->o.max_tokens, &req, err, sizeof err)) {
        *status = 400;
        return answer_error(c, s, 400, "%s", err);
    }
    int why;
    bg_job *job = bg_pool_submit(s->pool, &req, true, &why);
    bg_serve_req_free(&req);
    if (!job) {
        *status = why == BG_SUBMIT_NOMEM ? 500 : 503;
        return answer_error(c, s, *status, "%s", submit_error(why));
    }
    sse_state *st = calloc(1, sizeof *st);
    struct MHD_Response *r =
        st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, st, sse_free) : NULL;
    if (!r) {
        free(st);
        bg_job_cancel(job);
        bg_job_release(job);
        *status = 500;
        return answer_error(c, s, 500, "out of memory");
    }
    st->job = job;
    st->c = c;
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    *status = 200;
    return answer(c, s, 200, r, "text/event-stream; charset=utf-8");
}

/* ---- POST /api/summarize -------------------------------------------------------------------- */

static enum MHD_Result do_summarize(struct MHD_Connection *c, bg_server *s, conn_state *cs,
                                    unsigned *status) {
    bg_serve_req req;
    char err[512];
    if (bg_serve_parse_summarize(cs->body, cs->n, s->run, s->o.max_tokens, &req, err, sizeof err)) {
        *status = 400;
        return answer_error(c, s, 400, "%s", err);
    }
    int why;
    bg_job *job = bg_pool_submit(s->pool, &req, false, &why);
    bg_serve_req_free(&req);
    if (!job) {
        *status = why == BG_SUBMIT_NOMEM ? 500 : 503;
        return answer_error(c, s, *status, "%s", submit_error(why));
    }
    bg_job_update u;
    for (;;) {
        if (bg_job_next(job, 250, &u) && u.done) break;
        free(u.text);
        if (client_gone(c)) bg_job_cancel(job);
    }
    bg_job_release(job);
    enum MHD_Result ret;
    if (u.failed) {
        *status = strcmp(u.error, "canceled") == 0 ? 503 : 500;
        ret = answer_error(c, s, *status, "%s", u.error);
    } else {
        *status = 200;
        ret = answer_json(c, s, 200,
                          json_pack("{s:s, s:i, s:f}", "summary", u.reply, "tokens", u.tokens, "seconds",
                                    round(u.seconds * 1e3) / 1e3));
    }
    free(u.reply);
    return ret;
}

/* ---- routing -------------------------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls) {
    bg_server *s = cls;
    (void)version;
    conn_state *cs = *con_cls;
    if (!cs) {
        if (!(cs = calloc(1, sizeof *cs))) return MHD_NO;
        cs->t0 = now_s();
        *con_cls = cs;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
            log_request(s, method, url, 413, cs);
            return answer_error(c, s, 413, "request body: larger than the limit of %zu bytes", s->o.max_body);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cs->too_big && cs->n + *upload_size <= s->o.max_body) {
            if (cs->n + *upload_size + 1 > cs->cap) {
                size_t cap = cs->cap ? cs->cap : 1024;
                while (cap < cs->n + *upload_size + 1)
                    cap *= 2;
                char *p = realloc(cs->body, cap);
                if (!p) return MHD_NO;
                cs->body = p;
                cs->cap = cap;
            }
            memcpy(cs->body + cs->n, upload, *upload_size);
            cs->n += *upload_size;
            cs->body[cs->n] = '\0';
        } else
            cs->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0, post = strcmp(method, "POST") == 0;
    unsigned status;
    enum MHD_Result ret;
    bool is_page = strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0;
    bool is_get = is_page || strcmp(url, "/api/info") == 0 || strcmp(url, "/loss.png") == 0;
    bool is_post = strcmp(url, "/api/chat") == 0 || strcmp(url, "/api/summarize") == 0;
    if (cs->too_big) {
        status = 413;
        ret = answer_error(c, s, 413, "request body: larger than the limit of %zu bytes", s->o.max_body);
    } else if (!is_get && !is_post) {
        status = 404;
        ret = answer_error(c, s, 404, "no such page: %s %s", method, url);
    } else if ((is_get && !get) || (is_post && !post)) {
        status = 405;
        struct MHD_Response *r = NULL;
        json_t *j = json_pack("{s:s}", "error",
                              is_get ? "method not allowed: use GET" : "method not allowed: use POST");
        char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (t && !(r = MHD_create_response_from_buffer(strlen(t), t, MHD_RESPMEM_MUST_FREE))) free(t);
        if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, is_get ? "GET, HEAD" : "POST");
        ret = answer(c, s, 405, r, "application/json");
    } else if (is_page) {
        status = 200;
        struct MHD_Response *r =
            MHD_create_response_from_buffer(s->page_len, s->page, MHD_RESPMEM_PERSISTENT);
        if (r)
            MHD_add_response_header(
                r, "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'");
        ret = answer(c, s, 200, r, "text/html; charset=utf-8");
    } else if (strcmp(url, "/api/info") == 0) {
        status = 200;
        ret = answer(c, s, 200,
                     MHD_create_response_from_buffer(strlen(s->info), s->info, MHD_RESPMEM_PERSISTENT),
                     "application/json");
    } else if (strcmp(url, "/loss.png") == 0) {
        status = s->png ? 200 : 404;
        if (s->png)
            ret =
                answer(c, s, 200, MHD_create_response_from_buffer(s->png_len, s->png, MHD_RESPMEM_PERSISTENT),
                       "image/png");
        else
            ret = answer_error(c, s, 404, "this run has no loss.png");
    } else if (strcmp(url, "/api/chat") == 0) {
        ret = do_chat(c, s, cs, &status);
        if (status == 200 && cs) { /* a stream: logged when it ends (on_completed) */
            cs->streamed = true;
            snprintf(cs->what, sizeof cs->what, "%s %s -> %u", method, url, status);
            return ret;
        }
    } else
        ret = do_summarize(c, s, cs, &status);
    log_request(s, method, url, status, cs);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    bg_server *s = cls;
    conn_state *cs = *con_cls;
    if (!cs) return;
    if (cs->streamed && !s->o.quiet)
        fprintf(stderr, "babygpt serve: %s (%.0f ms%s)\n", cs->what, (now_s() - cs->t0) * 1e3,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ", the client left before the end");
    free(cs->body);
    free(cs);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    bg_server *s = cls;
    if (s->o.quiet) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* a chat stream whose client left ends this way; on_completed says so in its own words */
    if (strstr(msg, "application error generating response")) return;
    fprintf(stderr, "babygpt serve: %s", msg);
}

/* ---- start / stop --------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(max + 1);
    size_t n = b ? fread(b, 1, max + 1, f) : 0;
    fclose(f);
    if (!b || n == 0 || n > max) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

static int parse_host(const char *host, int port, struct sockaddr_storage *ss, bool *v6) {
    memset(ss, 0, sizeof *ss);
    char h[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof h) {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
    } else
        snprintf(h, sizeof h, "%s", strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    return -1;
}

bg_server *bg_serve_start(bg_run *run, const char *run_dir, const bg_serve_opts *o, char *err,
                          size_t errlen) {
    bg_serve_opts d = bg_serve_defaults();
    if (!o) o = &d;
    if (!run || !run->model || !run->tok) {
        snprintf(err, errlen, "serve: no loaded model");
        return NULL;
    }
    if (o->port < 0 || o->port > 65535 || o->workers < 1 || o->queue < 0 || o->max_connections < 1 ||
        o->max_body < 16 || o->max_tokens < 1 || o->token_delay_ms < 0) {
        snprintf(err, errlen,
                 "serve: bad options (port %d, workers %d, queue %d, connections %d, body %zu, "
                 "max_tokens %d, delay %d)",
                 o->port, o->workers, o->queue, o->max_connections, o->max_body, o->max_tokens,
                 o->token_delay_ms);
        return NULL;
    }
    struct sockaddr_storage ss;
    bool v6;
    if (!o->host || parse_host(o->host, o->port, &ss, &v6)) {
        snprintf(err, errlen, "serve: --host '%s': expected an IP address such as 127.0.0.1 or ::1",
                 o->host ? o->host : "(null)");
        return NULL;
    }
    bg_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "serve: out of memory");
        return NULL;
    }
    s->o = *o;
    s->run = run;
    pthread_mutex_init(&s->mu, NULL);
    if (run_dir) {
        char p[4200];
        snprintf(p, sizeof p, "%s/loss.png", run_dir);
        s->png = read_file(p, LOSS_PNG_MAX, &s->png_len);
    }
    json_t *info = bg_serve_info(run, s->png != NULL, o);
    s->info = info ? json_dumps(info, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(info);
    s->page = bg_serve_page(&s->page_len);
    if (!s->info || !s->page) {
        snprintf(err, errlen, "serve: out of memory");
        bg_serve_stop(s);
        return NULL;
    }
    if (!(s->pool = bg_pool_new(run, o->workers, o->queue, o->token_delay_ms, err, errlen))) {
        bg_serve_stop(s);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                            on_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)o->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen,
                 "serve: cannot listen on %s port %d (in use, or not an address of this machine)", o->host,
                 o->port);
        bg_serve_stop(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    return s;
}

int bg_serve_port(const bg_server *s) { return s ? s->port : -1; }

void bg_serve_stop(bg_server *s) {
    if (!s) return;
    bg_pool_shutdown(s->pool); /* ends every job, so no connection waits any longer */
    if (s->d) MHD_stop_daemon(s->d);
    bg_pool_free(s->pool);
    pthread_mutex_destroy(&s->mu);
    free(s->page);
    free(s->png);
    free(s->info);
    free(s);
}

void bg_serve_get_stats(bg_server *s, bg_serve_stats *st) {
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&s->mu);
    st->requests = s->requests;
    st->client_errors = s->client_errors;
    st->busy = s->busy;
    pthread_mutex_unlock(&s->mu);
    bg_pool_stats(s->pool, st);
}
