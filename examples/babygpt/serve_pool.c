/* serve_pool.c - the generation workers of `babygpt serve`: a bounded FIFO of
 * jobs, N threads running bg_generate on the shared (read-only) model, each
 * job with its own prompt, RNG, KV cache and nabla context, text streamed to
 * the connection through the job's buffer, cancellation through on_piece.
 *
 * What the workers share: the model's parameters and module tree, only read
 * (the run is loaded in eval mode, so bg_generate changes no mode, and
 * nb_module_forward records no output shapes unless nb_module_summary asks),
 * and the tokenizer (its encoder keeps all state per call). */
#include "examples/babygpt/serve.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct bg_job {
    bg_pool *pool; /* alive as long as any connection may hold the job */
    char *prompt;
    bg_sample_opts so;
    uint64_t seed;
    bool stream;
    int delay_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *raw; /* streamed bytes not yet valid UTF-8 (an incomplete character) */
    size_t raw_n, raw_cap;
    char *out; /* streamed text not yet handed to the connection */
    size_t out_n, out_cap;
    char *reply;
    int tokens;
    double seconds;
    int state;
    bool cancel;
    char err[256];
    int refs;
    bg_job *next;
};

struct bg_pool {
    bg_run *run;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bg_job *head, *tail;
    int queued, queue_cap, running;
    int n_workers;
    pthread_t *threads;
    bg_job **current; /* the job each worker runs, NULL when idle */
    bool stopping, joined;
    int delay_ms;
    uint64_t seed_counter;
    uint64_t done, canceled, tokens;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- jobs ----------------------------------------------------------------------------------- */

void bg_job_release(bg_job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left > 0) return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->prompt);
    free(j->raw);
    free(j->out);
    free(j->reply);
    free(j);
}

static void mark_cancel(bg_job *j) {
    pthread_mutex_lock(&j->mu);
    j->cancel = true;
    pthread_mutex_unlock(&j->mu);
}

/* Ends a job (under its lock): failed with msg, or done with reply (taken over). */
static void job_finish(bg_job *j, char *reply, const char *msg) {
    pthread_mutex_lock(&j->mu);
    if (reply) {
        j->reply = reply;
        j->state = JOB_DONE;
    } else {
        snprintf(j->err, sizeof j->err, "%s", msg);
        j->state = JOB_FAILED;
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void bg_job_cancel(bg_job *j) {
    if (!j) return;
    /* a waiting job leaves the queue now, freeing its place */
    bg_pool *p = j->pool;
    bool unlinked = false;
    pthread_mutex_lock(&p->mu);
    for (bg_job *q = p->head, *prev = NULL; q; prev = q, q = q->next)
        if (q == j) {
            if (prev)
                prev->next = q->next;
            else
                p->head = q->next;
            if (p->tail == q) p->tail = prev;
            q->next = NULL;
            p->queued--;
            p->canceled++;
            unlinked = true;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    mark_cancel(j);
    if (unlinked) {
        job_finish(j, NULL, "canceled");
        bg_job_release(j); /* the queue's reference */
    }
}

int bg_job_next(bg_job *j, int timeout_ms, bg_job_update *u) {
    memset(u, 0, sizeof *u);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    while (j->out_n == 0 && j->state != JOB_DONE && j->state != JOB_FAILED)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT) break;
    int got = 0;
    if (j->out_n) {
        u->text = j->out;
        u->len = j->out_n;
        j->out = NULL;
        j->out_n = j->out_cap = 0;
        got = 1;
    }
    if (j->state == JOB_DONE || j->state == JOB_FAILED) {
        u->done = true;
        u->failed = j->state == JOB_FAILED;
        u->tokens = j->tokens;
        u->seconds = j->seconds;
        if (u->failed)
            snprintf(u->error, sizeof u->error, "%s", j->err);
        else {
            u->reply = j->reply;
            j->reply = NULL;
        }
        got = 1;
    }
    pthread_mutex_unlock(&j->mu);
    return got;
}

/* bg_generate's streaming callback: keeps the text for the connection, stops when asked. */
static int on_piece(void *user, const char *bytes, size_t len) {
    bg_job *j = user;
    pthread_mutex_lock(&j->mu);
    bool stop = j->cancel;
    if (!stop && j->stream) {
        size_t need = j->raw_n + len;
        if (need > j->raw_cap) {
            size_t c = j->raw_cap ? j->raw_cap : 64;
            while (c < need)
                c *= 2;
            char *p = realloc(j->raw, c);
            if (!p)
                stop = true;
            else {
                j->raw = p;
                j->raw_cap = c;
            }
        }
        if (!stop) {
            memcpy(j->raw + j->raw_n, bytes, len);
            j->raw_n += len;
            size_t used = bg_utf8_sanitize(j->raw, j->raw_n, false, &j->out, &j->out_n, &j->out_cap);
            if (used == (size_t)-1)
                stop = true;
            else {
                memmove(j->raw, j->raw + used, j->raw_n - used);
                j->raw_n -= used;
                pthread_cond_broadcast(&j->cv);
            }
        }
    }
    pthread_mutex_unlock(&j->mu);
    if (!stop && j->delay_ms > 0) {
        struct timespec d = {j->delay_ms / 1000, (long)(j->delay_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    return stop;
}

/* Runs one job on this thread. */
static void job_run(bg_pool *p, bg_job *j) {
    static const char *const chat_stops[] = {"\n", "#Person1#", "#Summary#", NULL};
    static const char *const sum_stops[] = {"\n", NULL};
    nb_rng rng;
    nb_rng_init(&rng, j->seed);
    bg_gen_opts go = {j->stream ? chat_stops : sum_stops, true, on_piece, j, false, NULL};
    char err[256];
    int32_t *ids = NULL;
    size_t n_ids = 0;
    double t0 = now_s();
    char *text = NULL;
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    int rc = bg_tokenizer_encode(p->run->tok, j->prompt, strlen(j->prompt), 1, &prompt, &n_prompt);
    if (rc)
        snprintf(err, sizeof err, "tokenizing the prompt: %s", bg_tokenizer_strerror(rc));
    else {
        /* keep the end of a prompt longer than the context, with room for the reply */
        int block = p->run->model->cfg.block_size;
        size_t room = (size_t)(block - j->so.max_tokens > block / 2 ? block - j->so.max_tokens : block / 2);
        size_t start = n_prompt > room ? n_prompt - room : 0;
        text = bg_generate(p->run->model, p->run->tok, prompt + start, n_prompt - start, &j->so, &go, &rng,
                           &ids, &n_ids, err, sizeof err);
    }
    free(prompt);
    free(ids);
    double secs = now_s() - t0;
    char *reply = NULL;
    size_t rl = 0, rc_ = 0;
    if (text) {
        /* the whole reply as valid UTF-8, without surrounding spaces */
        const char *s = text;
        while (*s == ' ')
            s++;
        if (bg_utf8_sanitize(s, strlen(s), true, &reply, &rl, &rc_) == (size_t)-1 || !reply) {
            free(reply);
            reply = strdup("");
        }
        while (reply && rl && (reply[rl - 1] == ' ' || reply[rl - 1] == '\t'))
            reply[--rl] = '\0';
    }
    free(text);
    pthread_mutex_lock(&j->mu);
    bool canceled = j->cancel;
    j->tokens = (int)n_ids;
    j->seconds = secs;
    if (j->stream && j->raw_n && !canceled) /* an incomplete character at the very end */
        bg_utf8_sanitize(j->raw, j->raw_n, true, &j->out, &j->out_n, &j->out_cap);
    j->raw_n = 0;
    pthread_mutex_unlock(&j->mu);
    if (canceled) {
        free(reply);
        reply = NULL;
        snprintf(err, sizeof err, "canceled");
    } else if (text && !reply)
        snprintf(err, sizeof err, "out of memory");
    pthread_mutex_lock(&p->mu); /* counted before the client can see the end */
    p->tokens += n_ids;
    if (canceled)
        p->canceled++;
    else
        p->done++;
    pthread_mutex_unlock(&p->mu);
    job_finish(j, reply, err);
}

typedef struct {
    bg_pool *p;
    int id;
} worker_arg;

static void *worker(void *arg) {
    bg_pool *p = ((worker_arg *)arg)->p;
    int id = ((worker_arg *)arg)->id;
    free(arg);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping) break;
        bg_job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        p->running++;
        p->current[id] = j;
        pthread_mutex_unlock(&p->mu);
        pthread_mutex_lock(&j->mu);
        bool skip = j->cancel;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&j->mu);
        if (skip) {
            pthread_mutex_lock(&p->mu);
            p->canceled++;
            pthread_mutex_unlock(&p->mu);
            job_finish(j, NULL, "canceled");
        } else
            job_run(p, j);
        pthread_mutex_lock(&p->mu);
        p->current[id] = NULL;
        p->running--;
        pthread_mutex_unlock(&p->mu);
        bg_job_release(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the pool ------------------------------------------------------------------------------- */

bg_pool *bg_pool_new(bg_run *run, int workers, int queue, int token_delay_ms, char *err, size_t errlen) {
    if (!run || !run->model || !run->tok || workers < 1 || queue < 0) {
        snprintf(err, errlen, "generation pool: needs a loaded run, workers >= 1 and queue >= 0");
        return NULL;
    }
    bg_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->threads = calloc((size_t)workers, sizeof *p->threads)) ||
        !(p->current = calloc((size_t)workers, sizeof *p->current))) {
        if (p) free(p->threads);
        free(p);
        snprintf(err, errlen, "generation pool: out of memory");
        return NULL;
    }
    p->run = run;
    p->queue_cap = queue;
    p->delay_ms = token_delay_ms;
    p->seed_counter = mix64((uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < workers; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) *a = (worker_arg){p, i};
        int rc = a ? pthread_create(&p->threads[i], NULL, worker, a) : ENOMEM;
        if (rc) {
            free(a);
            snprintf(err, errlen, "generation pool: cannot start worker %d: %s", i, strerror(rc));
            bg_pool_free(p);
            return NULL;
        }
        p->n_workers = i + 1;
    }
    return p;
}

bg_job *bg_pool_submit(bg_pool *p, bg_serve_req *req, bool stream, int *why) {
    bg_job *j = calloc(1, sizeof *j);
    if (!j) {
        *why = BG_SUBMIT_NOMEM;
        return NULL;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->so = req->so;
    j->stream = stream;
    j->delay_ms = p->delay_ms;
    j->pool = p;
    j->refs = 2; /* the caller's and the queue's (then the worker's) */
    pthread_mutex_lock(&p->mu);
    *why = p->stopping                                               ? BG_SUBMIT_STOPPING
           : p->queued >= p->queue_cap + (p->n_workers - p->running) ? BG_SUBMIT_BUSY
                                                                     : BG_SUBMIT_OK;
    if (*why == BG_SUBMIT_OK) {
        j->seed = req->has_seed ? req->seed : mix64(++p->seed_counter);
        j->prompt = req->prompt;
        req->prompt = NULL;
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (*why != BG_SUBMIT_OK) {
        j->refs = 1;
        bg_job_release(j);
        return NULL;
    }
    return j;
}

void bg_pool_shutdown(bg_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (p->joined) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->stopping = true;
    bg_job *q = p->head;
    p->head = p->tail = NULL;
    p->canceled += (uint64_t)p->queued;
    p->queued = 0;
    for (int i = 0; i < p->n_workers; i++)
        if (p->current[i]) mark_cancel(p->current[i]);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (q) {
        bg_job *next = q->next;
        job_finish(q, NULL, "the server is shutting down");
        bg_job_release(q);
        q = next;
    }
    for (int i = 0; i < p->n_workers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_lock(&p->mu);
    p->joined = true;
    pthread_mutex_unlock(&p->mu);
}

void bg_pool_free(bg_pool *p) {
    if (!p) return;
    bg_pool_shutdown(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->current);
    free(p);
}

void bg_pool_stats(bg_pool *p, bg_serve_stats *st) {
    pthread_mutex_lock(&p->mu);
    st->queued = p->queued;
    st->running = p->running;
    st->jobs_done = p->done;
    st->jobs_canceled = p->canceled;
    st->tokens = p->tokens;
    pthread_mutex_unlock(&p->mu);
}
