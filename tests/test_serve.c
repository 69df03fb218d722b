/* `babygpt serve`: a real server on a free port of 127.0.0.1, over a tiny
 * model trained by the test. Each endpoint, each error answer, streaming
 * against the library's own generation, several clients at once, 503 when the
 * queue is full, a client leaving mid-stream, a clean stop, and the
 * subcommand itself under SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "examples/babygpt/chat.h"
#include "examples/babygpt/serve.h"
#include "examples/babygpt/train.h"
#include "nabla.h"
#include "tests/nb_check.h"

static char tmp[256], run_dir[320];

/* ---- a minimal HTTP/1.1 client -------------------------------------------------------------- */

typedef struct {
    int status;
    char *head; /* status line and headers */
    char *body; /* de-chunked */
    size_t len;
} resp;

static void resp_free(resp *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return; /* the server may close early (413) */
        s += k;
        n -= (size_t)k;
    }
}

static int send_request(int port, const char *method, const char *path, const char *body) {
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

static char *read_all(int fd, size_t *len) {
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
static void parse_resp(char *raw, size_t n, resp *r) {
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

static resp http(int port, const char *method, const char *path, const char *body) {
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

static void expect_error(int port, const char *method, const char *path, const char *body, int status,
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

static void parse_events(const char *body, events *e) {
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

static char *trim(char *s) {
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

static void start(int workers, int queue, int delay_ms) {
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

static void stop(void) {
    bg_serve_stop(srv);
    srv = NULL;
    bg_run_free(&run);
}

static bg_serve_stats stats(void) {
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
static void chat_body(char *b, size_t n, const char *msg, int seed, int max_tokens) {
    snprintf(b, n,
             "{\"history\": [], \"message\": \"%s\", \"settings\": {\"seed\": %d, \"temperature\": 1.0, "
             "\"max_tokens\": %d}}",
             msg, seed, max_tokens);
}

/* A seed whose reply to "Hello" is long: the slow-stream tests need a job that runs a while. */
static int long_seed(int *tokens) {
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

/* ---- tests -------------------------------------------------------------------------------------- */

START_TEST(page_info_and_loss_png) {
    start(2, 4, 0);
    resp r = http(port, "GET", "/", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.head, "Content-Type: text/html"));
    ck_assert_ptr_nonnull(strstr(r.body, "<title>Baby GPT</title>"));
    ck_assert_ptr_nonnull(strstr(r.body, "/api/chat"));
    ck_assert_ptr_nonnull(strstr(r.body, "/api/summarize"));
    ck_assert_ptr_null(strstr(r.body, "http://")); /* nothing from elsewhere */
    ck_assert_ptr_null(strstr(r.body, "https://"));
    resp_free(&r);

    r = http(port, "GET", "/api/info", NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *c = json_object_get(j, "config");
    ck_assert_str_eq(json_string_value(json_object_get(c, "name")), "tiny");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "block_size")), run.model->cfg.block_size);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "vocab_size")), bg_tokenizer_vocab_size(run.tok));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "params")), nb_module_num_params(run.model->root));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "step")), run.step);
    ck_assert(json_is_real(json_object_get(j, "val_loss")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "loss_png")), "/loss.png");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "limits"), "max_tokens")), 512);
    json_decref(j);
    resp_free(&r);

    r = http(port, "GET", "/loss.png", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.head, "Content-Type: image/png"));
    char p[400];
    struct stat st;
    snprintf(p, sizeof p, "%s/loss.png", run_dir);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(r.len, (size_t)st.st_size);
    ck_assert_int_eq(memcmp(r.body, "\x89PNG\r\n\x1a\n", 8), 0);
    resp_free(&r);
    r = http(port, "HEAD", "/api/info", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);
    resp_free(&r);
    stop();
}
END_TEST

START_TEST(chat_streams_what_the_library_generates) {
    start(2, 4, 0);
    const char *body =
        "{\"history\": [{\"role\": \"user\", \"text\": \"Hi.\"}, {\"role\": \"bot\", \"text\": "
        "\"Hello.\"}], \"message\": \"How are you?\", \"settings\": {\"seed\": 7, "
        "\"temperature\": 0.9, \"top_k\": 40, \"top_p\": 0.9, \"max_tokens\": 20}}";
    resp r = http(port, "POST", "/api/chat", body);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.head, "Content-Type: text/event-stream"));
    events e;
    parse_events(r.body, &e);
    ck_assert(json_is_true(json_object_get(e.last, "done")));
    char *reply = strdup(json_string_value(json_object_get(e.last, "reply")));
    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(trim(e.text), reply); /* the streamed pieces add up to the reply */
    int tokens = (int)json_integer_value(json_object_get(e.last, "tokens"));
    ck_assert(tokens >= 1 && tokens <= 20);
    /* the same prompt and seed through the library */
    const char *prompt =
        "<|endoftext|>#Person1#: Hi.\n#Person2#: Hello.\n#Person1#: How are you?\n#Person2#:";
    const char *stops[] = {"\n", "#Person1#", "#Summary#", NULL};
    bg_sample_opts so = {0.9f, 40, 0.9f, 20};
    bg_gen_opts go = {stops, true, NULL, NULL, false, NULL};
    nb_rng rng;
    nb_rng_init(&rng, 7);
    char err[256], *want = bg_generate_text(run.model, run.tok, prompt, &so, &go, &rng, err, sizeof err);
    ck_assert_msg(want != NULL, "%s", err);
    char *clean = NULL; /* the server sends the reply as valid UTF-8 */
    size_t cn = 0, cc = 0;
    bg_utf8_sanitize(trim(want), strlen(trim(want)), true, &clean, &cn, &cc);
    ck_assert_str_eq(reply, clean ? clean : "");
    free(clean);
    free(want);
    json_decref(e.last);
    resp_free(&r);
    /* the same request again: the same answer */
    r = http(port, "POST", "/api/chat", body);
    events e2;
    parse_events(r.body, &e2);
    ck_assert_str_eq(json_string_value(json_object_get(e2.last, "reply")), reply);
    json_decref(e2.last);
    free(reply);
    resp_free(&r);
    stop();
}
END_TEST

START_TEST(summarize_matches_bg_summarize) {
    start(2, 4, 0);
    const char *dlg = "#Person1#: Hi, I would like to book a table.\n#Person2#: For how many people?";
    json_t *b = json_pack("{s:s, s:{s:i}}", "dialogue", dlg, "settings", "max_tokens", 30);
    char *body = json_dumps(b, 0);
    resp r = http(port, "POST", "/api/summarize", body);
    ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    const char *got = json_string_value(json_object_get(j, "summary"));
    ck_assert_ptr_nonnull(got);
    bg_sample_opts so = bg_sample_defaults();
    so.temperature = 0;
    so.max_tokens = 30;
    char err[256], *want = bg_summarize(&run, dlg, &so, 1, err, sizeof err);
    ck_assert_msg(want != NULL, "%s", err);
    char *clean = NULL;
    size_t cn = 0, cc = 0;
    bg_utf8_sanitize(trim(want), strlen(trim(want)), true, &clean, &cn, &cc);
    ck_assert_str_eq(got, clean ? clean : "");
    free(clean);
    free(want);
    json_decref(j);
    json_decref(b);
    free(body);
    resp_free(&r);
    stop();
}
END_TEST

START_TEST(bad_requests_get_clear_errors) {
    start(1, 2, 0);
    const char *chat = "/api/chat", *sum = "/api/summarize";
    expect_error(port, "POST", chat, "{\"message\": \"hi\"", 400, "invalid JSON");
    expect_error(port, "POST", chat, "", 400, "invalid JSON");
    expect_error(port, "POST", chat, "[1, 2]", 400, "must be a JSON object");
    expect_error(port, "POST", chat, "{}", 400, "message: missing");
    expect_error(port, "POST", chat, "{\"message\": 5}", 400, "message: must be a string");
    expect_error(port, "POST", chat, "{\"message\": \"  \"}", 400, "must not be empty");
    expect_error(port, "POST", chat, "{\"message\": \"hi\", \"mesage\": 1}", 400, "unknown field 'mesage'");
    expect_error(port, "POST", chat, "{\"message\": \"hi\", \"history\": 3}", 400,
                 "history: must be an array");
    expect_error(port, "POST", chat,
                 "{\"message\": \"hi\", \"history\": [{\"role\": \"me\", \"text\": \"x\"}]}", 400,
                 "history[0].role");
    expect_error(port, "POST", chat, "{\"message\": \"hi\", \"history\": [{\"role\": \"bot\"}]}", 400,
                 "history[0]");
    expect_error(port, "POST", chat, "{\"message\": \"\xff\xfe\"}", 400, "invalid JSON");
    struct {
        const char *settings, *want;
    } bad[] = {
        {"3", "settings: must be an object"},
        {"{\"temperature\": 11}", "settings.temperature: must be in [0, 10]"},
        {"{\"temperature\": -0.5}", "settings.temperature"},
        {"{\"temperature\": \"hot\"}", "settings.temperature: must be a number"},
        {"{\"top_p\": 0}", "settings.top_p: must be in (0, 1]"},
        {"{\"top_p\": 1.5}", "settings.top_p"},
        {"{\"top_k\": -1}", "settings.top_k"},
        {"{\"top_k\": 2.5}", "settings.top_k: must be an integer"},
        {"{\"max_tokens\": 0}", "settings.max_tokens: must be in [1, 512]"},
        {"{\"max_tokens\": 513}", "settings.max_tokens: must be in [1, 512]"},
        {"{\"seed\": -3}", "settings.seed"},
        {"{\"temp\": 1}", "unknown setting 'temp'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"message\": \"hi\", \"settings\": %s}", bad[i].settings);
        expect_error(port, "POST", chat, b, 400, bad[i].want);
        snprintf(b, sizeof b, "{\"dialogue\": \"#Person1#: hi\", \"settings\": %s}", bad[i].settings);
        expect_error(port, "POST", sum, b, 400, bad[i].want);
    }
    expect_error(port, "POST", sum, "{}", 400, "dialogue: missing");
    expect_error(port, "POST", sum, "{\"dialogue\": \"no turns here\"}", 400, "holds no turns");
    /* bodies over the limit (4096 here): announced, and sent chunked without a length */
    char *big = malloc(10000);
    memset(big, ' ', 9999);
    big[9999] = '\0';
    big[0] = '{', big[9998] = '}';
    expect_error(port, "POST", chat, big, 413, "larger than the limit");
    int fd = dial(port);
    const char *h =
        "POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, h, strlen(h));
    for (int i = 0; i < 3; i++) {
        send_all(fd, "7d0\r\n", 5);
        send_all(fd, big, 2000);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    size_t n;
    resp r;
    char *raw = read_all(fd, &n);
    parse_resp(raw, n, &r);
    close(fd);
    ck_assert_int_eq(r.status, 413);
    n_client_errors++;
    resp_free(&r);
    free(big);
    /* paths and methods */
    expect_error(port, "GET", "/nope", NULL, 404, "no such page");
    expect_error(port, "GET", "/api/chat/x", NULL, 404, "no such page");
    expect_error(port, "GET", chat, NULL, 405, "use POST");
    expect_error(port, "DELETE", "/api/info", NULL, 405, "use GET");
    r = http(port, "GET", "/api/info", NULL); /* still fine */
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    bg_serve_stats st = stats();
    ck_assert_uint_eq(st.client_errors, (uint64_t)n_client_errors);
    ck_assert_uint_eq(st.jobs_done, 0); /* no bad request reached the model */
    stop();
}
END_TEST

typedef struct {
    int port, seed;
    char reply[4096];
} client_arg;

static void *client(void *arg) {
    client_arg *a = arg;
    char b[256];
    chat_body(b, sizeof b, "Tell me about your day", a->seed, 30);
    resp r = http(a->port, "POST", "/api/chat", b);
    events e;
    parse_events(r.body, &e);
    snprintf(a->reply, sizeof a->reply, "%s", json_string_value(json_object_get(e.last, "reply")));
    json_decref(e.last);
    resp_free(&r);
    return NULL;
}

START_TEST(concurrent_clients_each_get_their_own_answer) {
    start(3, 16, 0);
    enum { N = 6 };
    client_arg seq[N], par[N];
    for (int i = 0; i < N; i++) {
        seq[i] = (client_arg){port, 100 + i, ""};
        client(&seq[i]);
        par[i] = (client_arg){port, 100 + i, ""};
    }
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, client, &par[i]);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_str_eq(par[i].reply, seq[i].reply);
        distinct += i > 0 && strcmp(seq[i].reply, seq[0].reply) != 0;
    }
    ck_assert_int_gt(distinct, 0); /* different seeds, different answers */
    ck_assert_uint_eq(stats().jobs_done, 2 * N);
    stop();
}
END_TEST

START_TEST(full_queue_answers_503) {
    start(1, 1, 0);
    int most, seed = long_seed(&most);
    stop();
    start(1, 1, 150); /* one worker, one waiting job, slow tokens */
    char b[256];
    chat_body(b, sizeof b, "Hello", seed, 60);
    int busy1 = send_request(port, "POST", "/api/chat", b);
    WAIT_FOR(stats().running == 1);
    int busy2 = send_request(port, "POST", "/api/chat", b);
    WAIT_FOR(stats().queued == 1);
    expect_error(port, "POST", "/api/chat", b, 503, "busy");
    expect_error(port, "POST", "/api/summarize", "{\"dialogue\": \"#Person1#: hi\"}", 503, "busy");
    ck_assert_uint_eq(stats().busy, 2);
    close(busy2); /* a waiting client leaves: its place is free at once */
    WAIT_FOR(stats().queued == 0);
    ck_assert_int_eq(stats().running, 1);
    int busy3 = send_request(port, "POST", "/api/chat", b);
    WAIT_FOR(stats().queued == 1);
    ck_assert_uint_eq(stats().busy, 2);
    close(busy1);
    close(busy3);
    WAIT_FOR(stats().running == 0 && stats().queued == 0);
    ck_assert_uint_eq(stats().jobs_canceled, 3);
    resp r = http(port, "GET", "/api/info", NULL);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    stop();
}
END_TEST

START_TEST(client_leaving_mid_stream_stops_its_generation) {
    start(1, 4, 0);
    int full, seed = long_seed(&full);
    stop();
    start(1, 4, 60);
    char b[256];
    chat_body(b, sizeof b, "Hello", seed, 60);
    int fd = send_request(port, "POST", "/api/chat", b);
    char buf[8192];
    size_t n = 0;
    while (n < sizeof buf - 1 && !strstr(buf, "{\"token\"")) {
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
        buf[n] = '\0';
    }
    close(fd); /* gone after the first token */
    WAIT_FOR(stats().running == 0);
    bg_serve_stats st = stats();
    ck_assert_uint_eq(st.jobs_canceled, 1);
    ck_assert_uint_eq(st.jobs_done, 0);
    ck_assert_msg(st.tokens < (uint64_t)full, "generated %llu of %d tokens after the client left",
                  (unsigned long long)st.tokens, full);
    resp r = http(port, "GET", "/api/info", NULL);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    stop();
}
END_TEST

START_TEST(stop_while_streaming_is_clean) {
    start(1, 4, 0);
    int full, seed = long_seed(&full);
    stop();
    start(1, 4, 200);
    char b[256];
    chat_body(b, sizeof b, "Hello", seed, 60);
    int fd = send_request(port, "POST", "/api/chat", b);
    WAIT_FOR(stats().running == 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    stop();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ck_assert_msg(secs < 5, "stopping took %.2f s", secs);
    size_t n;
    char *raw = read_all(fd, &n); /* the stream ended with an error event, or was cut */
    close(fd);
    ck_assert_ptr_null(strstr(raw, "\"done\""));
    free(raw);
}
END_TEST

START_TEST(utf8_and_settings_units) {
    char *o = NULL;
    size_t n = 0, cap = 0;
    /* "é" split across two pieces, then an invalid byte, then a 4-byte character */
    ck_assert_uint_eq(bg_utf8_sanitize("a\xC3", 2, false, &o, &n, &cap), 1);
    ck_assert_uint_eq(bg_utf8_sanitize("\xC3\xA9\xFF\xF0\x9F\x98\x80", 7, false, &o, &n, &cap), 7);
    ck_assert_str_eq(o, "a\xC3\xA9\xEF\xBF\xBD\xF0\x9F\x98\x80");
    ck_assert_uint_eq(bg_utf8_sanitize("\xED\xA0\x80", 3, true, &o, &n, &cap), 3); /* a surrogate */
    ck_assert_uint_eq(bg_utf8_sanitize("\xE2\x82", 2, true, &o, &n, &cap), 2);     /* cut at the end */
    json_t *js = json_stringn(o, n); /* jansson accepts only valid UTF-8 */
    ck_assert(strlen(o) == n && js != NULL);
    json_decref(js);
    free(o);
    bg_sample_opts so = bg_sample_defaults();
    uint64_t seed = 0;
    bool has = false;
    char err[256];
    json_t *s = json_pack("{s:f, s:i, s:f, s:i, s:i}", "temperature", 0.0, "top_k", 0, "top_p", 1.0,
                          "max_tokens", 100, "seed", 42);
    ck_assert_int_eq(bg_serve_parse_settings(s, 100, &so, &seed, &has, err, sizeof err), 0);
    ck_assert(so.temperature == 0 && so.top_k == 0 && so.top_p == 1 && so.max_tokens == 100 && has &&
              seed == 42);
    json_object_set_new(s, "max_tokens", json_integer(101));
    ck_assert_int_eq(bg_serve_parse_settings(s, 100, &so, &seed, &has, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "max_tokens"));
    json_decref(s);
}
END_TEST

START_TEST(subcommand_serves_until_sigterm) {
    const char *b = getenv("NB_BUILD");
    char bin[512];
    snprintf(bin, sizeof bin, "%s/babygpt", b ? b : "build");
    if (access(bin, X_OK) != 0) {
        nb_test_skip("subcommand_serves_until_sigterm", "no babygpt program built");
        return;
    }
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(bin, bin, "serve", "--checkpoint", run_dir, "--port", "0", "--quiet", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[1024] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int p = 0;
    const char *at = strstr(line, "http://127.0.0.1:");
    ck_assert_msg(at && sscanf(at, "http://127.0.0.1:%d/", &p) == 1, "first line: %s", line);
    resp r = http(p, "GET", "/api/info", NULL);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    kill(pid, SIGTERM);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fclose(f);
    snprintf(line, sizeof line, "%s serve --port 80 >/dev/null 2>&1", bin); /* no --checkpoint */
    st = system(line);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

/* ---- setup -------------------------------------------------------------------------------------- */

static void suite_setup(void) {
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
        fprintf(stderr, "test_serve: training the tiny model failed\n");
}

static void suite_teardown(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) { /* best effort */
    }
}

Suite *make_suite(void) {
    Suite *s = suite_create("serve");
    TCase *tc = tcase_create("serve");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, utf8_and_settings_units);
    tcase_add_test(tc, page_info_and_loss_png);
    tcase_add_test(tc, chat_streams_what_the_library_generates);
    tcase_add_test(tc, summarize_matches_bg_summarize);
    tcase_add_test(tc, bad_requests_get_clear_errors);
    tcase_add_test(tc, concurrent_clients_each_get_their_own_answer);
    tcase_add_test(tc, full_queue_answers_503);
    tcase_add_test(tc, client_leaving_mid_stream_stops_its_generation);
    tcase_add_test(tc, stop_while_streaming_is_clean);
    tcase_add_test(tc, subcommand_serves_until_sigterm);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
