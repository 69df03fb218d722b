/* tests/serve_client.h - what the `babygpt serve` test programs share (test_serve.c and
 * test_serve_pool.c): a minimal HTTP/1.1 client, the events of an SSE stream, servers started on a
 * free port of 127.0.0.1 over a tiny model, and the fixture that trains that model once per program.
 * Include once, in a test program. */
#ifndef NB_TESTS_SERVE_CLIENT_H
#define NB_TESTS_SERVE_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "examples/babygpt/chat.h"
#include "examples/babygpt/serve.h"
#include "examples/babygpt/train.h"
#include "nabla.h"
#include "tests/nb_check.h"

/* static, without a warning in the programs that leave one unused */
#ifndef NB_TEST_FN
#define NB_TEST_FN static __attribute__((unused))
#endif

static char tmp[256], run_dir[320];

/* ---- a minimal HTTP/1.1 client -------------------------------------------------------------- */

typedef struct {
    int status;
    char *head; /* status line and headers */
    char *body; /* de-chunked */
    size_t len;
} resp;

NB_TEST_FN void resp_free(resp *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

NB_TEST_FN int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    return fd;
}

NB_TEST_FN void send_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return; /* the server may close early (413) */
        s += k;
        n -= (size_t)k;
    }
}

NB_TEST_FN int send_request(int port, const char *method, const char *path, const char *body) {
    int fd = dial(port);
    char head[512];
    size_t n = body ? strlen(body) : 0;
    snprintf(head, sizeof head,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             method, path, n);
    send_all(fd, head, strlen(head));
    if (n) send_all(fd, body, n);
    return fd;
}

NB_TEST_FN char *read_all(int fd, size_t *len) {
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    ssize_t k;
    while ((k = recv(fd, b + n, cap - n - 1, 0)) > 0) {
        n += (size_t)k;
        if (cap - n < 2) b = realloc(b, cap *= 2);
    }
    b[n] = '\0';
    *len = n;
    return b;
}

/* Splits a raw answer into status, head and (de-chunked) body. */
NB_TEST_FN void parse_resp(char *raw, size_t n, resp *r) {
    memset(r, 0, sizeof *r);
    char *sep = strstr(raw, "\r\n\r\n");
    ck_assert_msg(sep != NULL, "no end of headers in: %.200s", raw);
    *sep = '\0';
    r->head = strdup(raw);
    ck_assert_int_eq(sscanf(raw, "HTTP/1.%*d %d", &r->status), 1);
    char *p = sep + 4, *end = raw + n;
    r->body = malloc(n + 1);
    if (strcasestr(r->head, "Transfer-Encoding: chunked")) {
        for (;;) {
            unsigned long k = strtoul(p, &p, 16);
            p = strstr(p, "\r\n") + 2;
            if (k == 0) break;
            ck_assert(p + k <= end);
            memcpy(r->body + r->len, p, k);
            r->len += k;
            p += k + 2;
        }
    } else {
        r->len = (size_t)(end - p);
        memcpy(r->body, p, r->len);
    }
    r->body[r->len] = '\0';
    free(raw);
}

NB_TEST_FN resp http(int port, const char *method, const char *path, const char *body) {
    int fd = send_request(port, method, path, body);
    size_t n;
    char *raw = read_all(fd, &n);
    close(fd);
    resp r;
    parse_resp(raw, n, &r);
    return r;
}

/* A 400-class answer whose body is {"error": "...<want>..."}. */
static int n_client_errors; /* 4xx answers expected so far */

NB_TEST_FN void expect_error(int port, const char *method, const char *path, const char *body, int status,
                             const char *want) {
    resp r = http(port, method, path, body);
    n_client_errors += status >= 400 && status < 500;
    ck_assert_msg(r.status == status, "%s %s %.80s: status %d, expected %d (%s)", method, path,
                  body ? body : "", r.status, status, r.body);
    ck_assert_ptr_nonnull(strcasestr(r.head, "Content-Type: application/json"));
    json_t *j = json_loads(r.body, 0, NULL);
    ck_assert_msg(json_is_string(json_object_get(j, "error")), "not a JSON error: %s", r.body);
    ck_assert_msg(strstr(json_string_value(json_object_get(j, "error")), want), "error '%s' lacks '%s'",
                  json_string_value(json_object_get(j, "error")), want);
    json_decref(j);
    resp_free(&r);
}

/* The events of an SSE body: concatenated tokens and the final event. */
typedef struct {
    char text[8192];
    json_t *last;
    int n_tokens;
} events;

NB_TEST_FN void parse_events(const char *body, events *e) {
    memset(e, 0, sizeof *e);
    for (const char *p = body; (p = strstr(p, "data: ")); p++) {
        const char *eol = strstr(p, "\n\n");
        ck_assert_ptr_nonnull(eol);
        json_error_t je;
        json_t *j = json_loadb(p + 6, (size_t)(eol - p - 6), 0, &je);
        ck_assert_msg(j != NULL, "bad event JSON: %s", je.text);
        const char *t = json_string_value(json_object_get(j, "token"));
        if (t) {
            strncat(e->text, t, sizeof e->text - strlen(e->text) - 1);
            e->n_tokens++;
            json_decref(j);
        } else {
            json_decref(e->last);
            e->last = j;
        }
    }
    ck_assert_msg(e->last != NULL, "no final event in: %s", body);
}

NB_TEST_FN char *trim(char *s) {
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* ---- the model and servers -------------------------------------------------------------------- */

static bg_run run;
static bg_server *srv;
static int port;

NB_TEST_FN void start(int workers, int queue, int delay_ms) {
    char err[512];
    ck_assert_int_eq(bg_run_load(run_dir, NULL, &run, err, sizeof err), 0);
    bg_serve_opts o = bg_serve_defaults();
    o.port = 0;
    o.workers = workers;
    o.queue = queue;
    o.token_delay_ms = delay_ms;
    o.quiet = true;
    o.max_body = 4096;
    srv = bg_serve_start(&run, run_dir, &o, err, sizeof err);
    ck_assert_msg(srv != NULL, "start: %s", err);
    port = bg_serve_port(srv);
    ck_assert_int_gt(port, 0);
}

NB_TEST_FN void stop(void) {
    bg_serve_stop(srv);
    srv = NULL;
    bg_run_free(&run);
}

NB_TEST_FN bg_serve_stats stats(void) {
    bg_serve_stats st;
    bg_serve_get_stats(srv, &st);
    return st;
}

/* Waits (up to 10 s) until cond holds. */
#define WAIT_FOR(cond)                                                                                       \
    do {                                                                                                     \
        for (int w_ = 0; w_ < 1000 && !(cond); w_++)                                                         \
            usleep(10000);                                                                                   \
        ck_assert_msg((cond), "timed out waiting for " #cond);                                               \
    } while (0)

/* The chat body for a message and seed, with room for 40 tokens. */
NB_TEST_FN void chat_body(char *b, size_t n, const char *msg, int seed, int max_tokens) {
    snprintf(b, n,
             "{\"history\": [], \"message\": \"%s\", \"settings\": {\"seed\": %d, \"temperature\": 1.0, "
             "\"max_tokens\": %d}}",
             msg, seed, max_tokens);
}

/* A seed whose reply to "Hello" is long: the slow-stream tests need a job that runs a while. */
NB_TEST_FN int long_seed(int *tokens) {
    int best = 1, most = -1;
    for (int seed = 1; seed <= 40 && most < 40; seed++) {
        char b[256];
        chat_body(b, sizeof b, "Hello", seed, 60);
        resp r = http(port, "POST", "/api/chat", b);
        events e;
        parse_events(r.body, &e);
        int n = (int)json_integer_value(json_object_get(e.last, "tokens"));
        if (n > most) most = n, best = seed;
        json_decref(e.last);
        resp_free(&r);
    }
    ck_assert_msg(most >= 12, "no seed gives a reply of 12+ tokens (best %d)", most);
    *tokens = most;
    return best;
}

/* ---- the fixture: a tiny model trained once per program ------------------------------------- */

NB_TEST_FN void suite_setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/nabla_serve_%d", (int)getpid());
    snprintf(run_dir, sizeof run_dir, "%s/run", tmp);
    mkdir(tmp, 0755);
    setenv("NABLA_CACHE", tmp, 1);
    /* train in a child, so that this process starts no OpenMP threads before Check forks */
    pid_t pid = fork();
    if (pid == 0) {
        nb_set_num_threads(2);
        bg_train_opts o = {.config = "tiny",
                           .bpe_size = 300,
                           .steps = 2,
                           .batch = 2,
                           .eval_every = 2,
                           .eval_batches = 1,
                           .out = run_dir,
                           .seed = 5,
                           .threads = 2,
                           .device = "cpu"};
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        _exit(bg_train(&o) == 0 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "%s: training the tiny model failed\n", program_invocation_short_name);
}

NB_TEST_FN void suite_teardown(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) { /* best effort */
    }
}

#endif
