/* `babygpt serve` under load: the generation pool behind a real server on a
 * free port of 127.0.0.1, over a tiny model trained by the test. Six
 * concurrent clients each getting their own (seeded) answer, 503 when the
 * queue is full, a client leaving mid-stream (its generation is cancelled
 * before its end), and a clean stop during a stream. The endpoints themselves
 * are tested in test_serve.c. */
#include <pthread.h>
#include <time.h>

#include "tests/serve_client.h"

/* ---- tests -------------------------------------------------------------------------------------- */

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

Suite *make_suite(void) {
    Suite *s = suite_create("serve_pool");
    TCase *tc = tcase_create("serve_pool");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_clients_each_get_their_own_answer);
    tcase_add_test(tc, full_queue_answers_503);
    tcase_add_test(tc, client_leaving_mid_stream_stops_its_generation);
    tcase_add_test(tc, stop_while_streaming_is_clean);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
