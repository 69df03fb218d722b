/* serve_load.c - load test of `babygpt serve`: many concurrent clients for a
 * bounded time against 127.0.0.1, each looping over chat (streamed), summarize
 * and info requests. Prints requests served, failures (must be 0: the exit
 * status is 1 otherwise) and latency percentiles per kind.
 *
 *   serve_load [--clients 16] [--seconds 10] [--workers 2] [--queue N]
 *              [--max-tokens 24] [--checkpoint RUN | --port P]
 *
 * Without --port it serves in-process: --checkpoint, or else a tiny model it
 * trains first (a few seconds), with a queue deep enough for every client
 * (--queue defaults to --clients), so no request may be refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "examples/babygpt/serve.h"
#include "examples/babygpt/train.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { K_CHAT, K_SUM, K_INFO, K_N };
static const char *kind_name[K_N] = {"chat", "summarize", "info"};

typedef struct {
    int port, id, max_tokens;
    double until;
    double *lat[K_N];
    size_t n[K_N], cap[K_N];
    size_t fail[K_N];
    char why[256]; /* the first failure */
} client;

/* One request; returns 0 when the answer is complete and right. */
static int request(client *c, int kind, int seq) {
    char body[512], req[1024];
    const char *path = kind == K_CHAT ? "/api/chat" : kind == K_SUM ? "/api/summarize" : "/api/info";
    if (kind == K_CHAT)
        snprintf(body, sizeof body,
                 "{\"message\": \"Hi, how are you today? (%d)\", \"settings\": "
                 "{\"max_tokens\": %d, \"seed\": %d}}",
                 seq, c->max_tokens, c->id * 100000 + seq);
    else if (kind == K_SUM)
        snprintf(body, sizeof body,
                 "{\"dialogue\": \"#Person1#: Can I book a table?\\n#Person2#: Sure, for "
                 "how many?\", \"settings\": {\"max_tokens\": %d}}",
                 c->max_tokens);
    else
        body[0] = '\0';
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\n\r\n%s",
             kind == K_INFO ? "GET" : "POST", path, strlen(body), body);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(c->why, sizeof c->why, "%s: connect: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0) break;
        off += (size_t)k;
    }
    size_t cap = 8192, n = 0;
    char *b = malloc(cap);
    ssize_t k;
    while (b && (k = recv(fd, b + n, cap - n - 1, 0)) > 0) {
        n += (size_t)k;
        if (cap - n < 2) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    close(fd);
    if (!b) return -1;
    b[n] = '\0';
    int status = 0;
    sscanf(b, "HTTP/1.%*d %d", &status);
    const char *want = kind == K_CHAT ? "\"done\":true" : kind == K_SUM ? "\"summary\":" : "\"config\":";
    int ok = status == 200 && strstr(b, want) != NULL;
    if (!ok && !c->why[0]) snprintf(c->why, sizeof c->why, "%s: status %d: %.160s", path, status, b);
    free(b);
    return ok ? 0 : -1;
}

static void *run_client(void *arg) {
    client *c = arg;
    for (int seq = 0; now() < c->until; seq++) {
        int kind = seq % 5 < 3 ? K_CHAT : seq % 5 == 3 ? K_SUM : K_INFO; /* 3 chats : 1 summary : 1 info */
        double t0 = now();
        int rc = request(c, kind, seq);
        double dt = now() - t0;
        if (rc) {
            c->fail[kind]++;
            continue;
        }
        if (c->n[kind] == c->cap[kind]) {
            size_t nc = c->cap[kind] ? 2 * c->cap[kind] : 256;
            double *p = realloc(c->lat[kind], nc * sizeof *p);
            if (!p) continue;
            c->lat[kind] = p;
            c->cap[kind] = nc;
        }
        c->lat[kind][c->n[kind]++] = dt;
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)(p / 100 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int train_tiny(const char *dir) {
    pid_t pid = fork();
    if (pid == 0) {
        bg_train_opts o = {.config = "tiny",
                           .bpe_size = 400,
                           .steps = 20,
                           .batch = 4,
                           .eval_every = 20,
                           .eval_batches = 1,
                           .out = dir,
                           .seed = 3,
                           .device = "cpu"};
        if (!freopen("/dev/null", "w", stderr)) { /* keep the log quiet */
        }
        _exit(bg_train(&o) == 0 ? 0 : 1);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    int clients = 16, seconds = 10, workers = 2, queue = -1, max_tokens = 24, port = 0;
    const char *ckpt = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *dst = !strcmp(argv[i], "--clients")      ? &clients
                   : !strcmp(argv[i], "--seconds")    ? &seconds
                   : !strcmp(argv[i], "--workers")    ? &workers
                   : !strcmp(argv[i], "--queue")      ? &queue
                   : !strcmp(argv[i], "--max-tokens") ? &max_tokens
                   : !strcmp(argv[i], "--port")       ? &port
                                                      : NULL;
        if (v && !strcmp(argv[i], "--checkpoint"))
            ckpt = v;
        else if (!v || !dst || (*dst = atoi(v)) < 0 || (*dst == 0 && strcmp(v, "0") != 0)) {
            fprintf(stderr, "usage: serve_load [--clients N] [--seconds N] [--workers N] [--queue N] "
                            "[--max-tokens N] [--checkpoint RUN | --port P]\n");
            return 2;
        }
    }
    if (clients < 1 || seconds < 1 || workers < 1 || max_tokens < 1) {
        fprintf(stderr, "serve_load: --clients, --seconds, --workers and --max-tokens must be >= 1\n");
        return 2;
    }
    if (queue < 0) queue = clients;
    char tmp[128] = "", err[1024];
    bg_run run = {0};
    bg_server *srv = NULL;
    if (!port) {
        if (!ckpt) {
            snprintf(tmp, sizeof tmp, "/tmp/nabla_serve_load_%d", (int)getpid());
            mkdir(tmp, 0755);
            setenv("NABLA_CACHE", tmp, 1);
            static char dir[200];
            snprintf(dir, sizeof dir, "%s/run", tmp);
            printf("serve_load: training a tiny model in %s\n", dir);
            fflush(stdout);
            if (train_tiny(dir)) {
                fprintf(stderr, "serve_load: training the tiny model failed\n");
                return 1;
            }
            ckpt = dir;
        }
        if (bg_run_load(ckpt, NULL, &run, err, sizeof err)) {
            fprintf(stderr, "serve_load: %s\n", err);
            return 1;
        }
        bg_serve_opts o = bg_serve_defaults();
        o.port = 0;
        o.workers = workers;
        o.queue = queue;
        o.quiet = true;
        o.max_connections = clients + 64;
        int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
        nb_set_num_threads(cores / workers > 0 ? cores / workers : 1);
        if (!(srv = bg_serve_start(&run, NULL, &o, err, sizeof err))) {
            fprintf(stderr, "serve_load: %s\n", err);
            bg_run_free(&run);
            return 1;
        }
        port = bg_serve_port(srv);
    }
    printf("serve_load: %d clients for %d s against 127.0.0.1:%d (%s; max_tokens %d)\n", clients, seconds,
           port, srv ? "in-process server" : "external server", max_tokens);
    fflush(stdout);
    client *cs = calloc((size_t)clients, sizeof *cs);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    double t0 = now();
    for (int i = 0; i < clients; i++) {
        cs[i] = (client){.port = port, .id = i, .max_tokens = max_tokens, .until = t0 + seconds};
        pthread_create(&th[i], NULL, run_client, &cs[i]);
    }
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    double wall = now() - t0;
    size_t served = 0, failed = 0;
    printf("%-10s %8s %8s %9s %9s %9s %9s\n", "request", "served", "failed", "p50 ms", "p90 ms", "p99 ms",
           "max ms");
    for (int k = 0; k < K_N; k++) {
        size_t n = 0, f = 0;
        for (int i = 0; i < clients; i++)
            n += cs[i].n[k], f += cs[i].fail[k];
        double *all = malloc((n ? n : 1) * sizeof *all);
        size_t at = 0;
        for (int i = 0; i < clients; i++) {
            if (cs[i].n[k]) memcpy(all + at, cs[i].lat[k], cs[i].n[k] * sizeof *all);
            at += cs[i].n[k];
        }
        qsort(all, n, sizeof *all, cmp_d);
        printf("%-10s %8zu %8zu %9.1f %9.1f %9.1f %9.1f\n", kind_name[k], n, f, pct(all, n, 50) * 1e3,
               pct(all, n, 90) * 1e3, pct(all, n, 99) * 1e3, n ? all[n - 1] * 1e3 : 0.0);
        free(all);
        served += n;
        failed += f;
    }
    printf("serve_load: %zu requests served in %.1f s (%.1f/s), %zu failures\n", served, wall,
           (double)served / wall, failed);
    for (int i = 0; i < clients; i++) {
        if (cs[i].why[0] && failed) printf("  client %d: %s\n", i, cs[i].why);
        for (int k = 0; k < K_N; k++)
            free(cs[i].lat[k]);
    }
    if (srv) {
        bg_serve_stats st;
        bg_serve_get_stats(srv, &st);
        printf("serve_load: server: %llu requests, %llu busy (503), %llu generations, %llu tokens (%.0f "
               "tokens/s)\n",
               (unsigned long long)st.requests, (unsigned long long)st.busy, (unsigned long long)st.jobs_done,
               (unsigned long long)st.tokens, (double)st.tokens / wall);
        bg_serve_stop(srv);
        bg_run_free(&run);
    }
    free(cs);
    free(th);
    if (tmp[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
        if (system(cmd)) { /* best effort */
        }
    }
    return failed ? 1 : 0;
}
