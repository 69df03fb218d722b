/* `babygpt serve`: a real server on a free port of 127.0.0.1, over a tiny
 * model trained by the test. Each endpoint, each error answer, streaming
 * against the library's own generation, the request parsing units, and the
 * subcommand itself under SIGTERM. The generation pool under load (several
 * clients at once, a full queue, clients leaving, a stop) is in
 * test_serve_pool.c. */
#include <signal.h>

#include "tests/serve_client.h"

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
    expect_error(port, "POST", chat, "{\"message\": \"a\\u0000b\"}", 400, "(NUL) is not allowed in a string");
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
    tcase_add_test(tc, subcommand_serves_until_sigterm);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
