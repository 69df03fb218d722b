/* serve_cmd.c - `babygpt serve`, the command line of the server in serve.c:
 * its options, the device the model runs on, and serving until SIGINT or
 * SIGTERM. */
#include "examples/babygpt/serve.h"

#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "examples/babygpt/args.h"

/* ---- babygpt serve -------------------------------------------------------------------------- */

int bg_cmd_serve(int argc, char **argv) {
    bg_serve_opts o = bg_serve_defaults();
    const char *checkpoint = NULL, *vocab = NULL, *device = "cpu";
    int threads = 0, max_body_kib = (int)(o.max_body / 1024);
    o.workers = 0; /* not given: 2 on the CPU, 1 on the GPU */
    bool quiet = false;
#define NORANGE 1, 0
    bg_arg a[] = {
        {"checkpoint", BG_ARG_STR, &checkpoint, NORANGE, "checkpoint file or training run folder (required)"},
        {"vocab", BG_ARG_STR, &vocab, NORANGE, "tokenizer folder (default: the run's)"},
        {"host", BG_ARG_STR, &o.host, NORANGE, "address to listen on (default 127.0.0.1: this machine only)"},
        {"port", BG_ARG_INT, &o.port, 0, 65535, "TCP port (8080; 0: any free port)"},
        {"workers", BG_ARG_INT, &o.workers, 1, 256, "generations at once (2; 1 with --device cuda)"},
        {"queue", BG_ARG_INT, &o.queue, 0, 100000, "requests waiting for a worker before 503 Busy (16)"},
        {"threads", BG_ARG_INT, &threads, 1, 1024, "CPU threads per generation (default: cores / workers)"},
        {"max-tokens", BG_ARG_INT, &o.max_tokens, 1, 100000, "largest max_tokens a request may ask (512)"},
        {"max-body", BG_ARG_INT, &max_body_kib, 1, 65536, "largest request body, KiB (64)"},
        {"max-connections", BG_ARG_INT, &o.max_connections, 1, 100000, "open connections at most (256)"},
        {"token-delay-ms", BG_ARG_INT, &o.token_delay_ms, 0, 10000, "pause after each streamed piece (0)"},
        {"quiet", BG_ARG_FLAG, &quiet, NORANGE, "do not log requests"},
        {"device", BG_ARG_STR, &device, NORANGE, "cpu | cuda (the GPU runs one generation at a time)"},
    };
#undef NORANGE
    int rc = bg_args_parse("serve",
                           "Serves a web page to chat with and summarize by a trained Baby GPT, and its "
                           "JSON API (see docs/serve.md).",
                           a, (int)(sizeof a / sizeof *a), argc, argv, 2);
    if (rc) return rc > 0 ? 0 : 2;
    if (!checkpoint) {
        fprintf(stderr,
                "babygpt serve: --checkpoint is required (a checkpoint file or a training run folder)\n");
        return 2;
    }
    o.quiet = quiet;
    o.max_body = (size_t)max_body_kib * 1024;
    char err[1024];
    nb_device dev;
    if ((rc = bg_device_open(device, &dev, err, sizeof err))) {
        fprintf(stderr, "babygpt serve: --device %s: %s\n", device, err);
        return rc;
    }
    if (dev != NB_CPU && o.workers > 1) {
        fprintf(stderr, "babygpt serve: --device %s runs one generation at a time: --workers must be 1\n",
                device);
        return 2;
    }
    if (o.workers == 0) o.workers = dev == NB_CPU ? 2 : 1;
    int cores = omp_get_num_procs();
    nb_set_num_threads(threads ? threads : (cores / o.workers > 0 ? cores / o.workers : 1));
    bg_run run;
    if (bg_run_load(checkpoint, vocab, &run, err, sizeof err)) {
        fprintf(stderr, "babygpt serve: %s\n", err);
        return 1;
    }
    if (dev != NB_CPU && bg_model_to(run.model, dev)) {
        fprintf(stderr, "babygpt serve: moving the model to %s: %s\n", nb_device_name(dev), nb_last_error());
        bg_run_free(&run);
        return 1;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", run.path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    /* SIGINT/SIGTERM are taken by sigwait below, in every thread started from here */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    bg_server *s = bg_serve_start(&run, dir, &o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "babygpt %s\n", err); /* err starts "serve: " */
        bg_run_free(&run);
        return 1;
    }
    bool v6 = strchr(o.host, ':') != NULL && o.host[0] != '[';
    printf("Baby GPT is serving at http://%s%s%s:%d/  (%s, step %lld; Ctrl-C to stop)\n", v6 ? "[" : "",
           strcmp(o.host, "localhost") == 0 ? "127.0.0.1" : o.host, v6 ? "]" : "", bg_serve_port(s),
           run.model->cfg.name, (long long)run.step);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "babygpt serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    bg_serve_stop(s);
    bg_run_free(&run);
    return 0;
}
